/* respond.c: what every handler uses to read a request (decoded path and
 * query, the JSON body) and to answer it (JSON documents, errors as API.md
 * shapes them), and what a request holds until it completes. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "util/buf.h"

/* ---- answering -------------------------------------------------------------- */

enum MHD_Result http_queue(struct http_req *r, unsigned status, struct MHD_Response *resp) {
  if (!resp) return MHD_NO;
  http_security_headers(resp, r->srv->tls);
  enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
  MHD_destroy_response(resp);
  if (rc == MHD_YES) {
    r->answered = 1;
    r->status = status;
    if (status < 600) atomic_fetch_add(&r->srv->metrics.codes[status], 1);
  }
  return rc;
}

enum MHD_Result http_send_bytes(struct http_req *r, unsigned status, const char *content_type,
                                const void *data, size_t len, int copy) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      len, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  return http_queue(r, status, resp);
}

enum MHD_Result http_send_json(struct http_req *r, unsigned status, json_t *doc) {
  char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
  json_decref(doc);
  return http_send_json_text(r, status, text, text ? strlen(text) : 0);
}

enum MHD_Result http_send_json_text(struct http_req *r, unsigned status, char *text, size_t len) {
  if (!text) {
    static const char oom[] = "{\"error\":\"out of memory\",\"details\":[]}";
    return http_send_bytes(r, 500, "application/json", oom, sizeof oom - 1, 0);
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return http_queue(r, status, resp);
}

/* UTF-8 as RFC 3629 has it (http_int.h). */
int http_utf8_lead_len(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

size_t http_utf8_seq(const unsigned char *s, size_t n) {
  size_t len = n ? (size_t)http_utf8_lead_len(s[0]) : 0;
  if (!len || len > n) return 0;
  for (size_t k = 1; k < len; k++)
    if ((s[k] & 0xC0) != 0x80) return 0;
  /* Overlong three-byte forms, UTF-16 surrogates and code points past
   * U+10FFFF are not UTF-8. */
  if ((len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F))) ||
      (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))))
    return 0;
  return len;
}

enum MHD_Result http_send_error(struct http_req *r, unsigned status, json_t *details,
                                const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Messages quote what the client sent, which JSON needs as UTF-8. */
  size_t left = strlen(msg);
  for (unsigned char *p = (unsigned char *)msg; left;) {
    size_t n = http_utf8_seq(p, left);
    if (n) {
      p += n;
      left -= n;
    } else {
      *p++ = '?';
      left--;
    }
  }
  json_t *doc = json_pack("{s:s, s:o}", "error", msg, "details",
                          details ? details : json_array());
  return http_send_json(r, status, doc);
}

enum MHD_Result http_send_weft_error(struct http_req *r, const weft_error *err) {
  unsigned status = 500;
  switch (err->code) {
    case WEFT_ENOTFOUND: status = 404; break;
    case WEFT_ECONFLICT: status = 409; break;
    case WEFT_EINVALID:
    case WEFT_EUSAGE: status = 400; break;
    default: break;
  }
  return http_send_error(r, status, NULL, "%s", err->msg[0] ? err->msg : weft_strerror(err->code));
}

json_t *http_diags_json(const struct weft_diags *d) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < d->n; i++) {
    const struct weft_diag *g = &d->v[i];
    json_t *o = json_pack("{s:o, s:i, s:i, s:s}", "file",
                          g->file ? json_string(g->file) : json_null(), "line", g->line,
                          "col", g->col, "message", g->msg ? g->msg : "");
    if (!o || json_array_append_new(arr, o)) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

json_t *http_env_names(const struct weft_kvs *env) {
  json_t *o = json_object();
  for (size_t i = 0; o && i < env->n; i++)
    if (json_object_set_new(o, env->v[i].key, json_null())) {
      json_decref(o);
      return NULL;
    }
  return o;
}

void http_hide_env_values(json_t *job_doc) {
  size_t i;
  json_t *op, *env, *v;
  const char *k;
  json_array_foreach(json_object_get(job_doc, "ops"), i, op) {
    env = json_object_get(op, "env");
    json_object_foreach(env, k, v) json_object_set_new_nocheck(env, k, json_null());
  }
}

/* ---- reading ----------------------------------------------------------------------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *http_decode(const char *in, size_t len, int plus) {
  char *out = malloc(len + 1);
  size_t k = 0;
  if (!out) return NULL;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)in[i];
    if (c == '%') {
      if (i + 2 >= len) goto bad; /* "%" or "%X" at the end */
      int hi = hexval((unsigned char)in[i + 1]), lo = hexval((unsigned char)in[i + 2]);
      if (hi < 0 || lo < 0) goto bad;
      c = hi * 16 + lo;
      i += 2;
    } else if (c == '+' && plus) {
      c = ' ';
    }
    if (!c) goto bad; /* a NUL would cut the string short */
    out[k++] = (char)c;
  }
  out[k] = '\0';
  /* Names and values are text: JSON answers may quote them. */
  for (size_t i = 0; i < k;) {
    size_t n = http_utf8_seq((const unsigned char *)out + i, k - i);
    if (!n) goto bad;
    i += n;
  }
  return out;
bad:
  free(out);
  return NULL;
}

const char *http_arg(const struct http_req *r, const char *key) {
  for (size_t i = 0; i < r->n_args; i++)
    if (!strcmp(r->args[i].key, key)) return r->args[i].value;
  return NULL;
}

int http_arg_int(struct http_req *r, const char *key, long long lo, long long hi,
                 long long dflt, long long *out, enum MHD_Result *res) {
  const char *v = http_arg(r, key);
  *out = dflt;
  if (!v) return WEFT_OK;
  char *end;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (!*v || *end || errno || n < lo || n > hi || isspace((unsigned char)v[0])) {
    *res = http_send_error(r, 400, NULL, "%s wants an integer from %lld to %lld, got '%.100s'",
                           key, lo, hi, v);
    return WEFT_EINVALID;
  }
  *out = n;
  return WEFT_OK;
}

int http_arg_names(struct http_req *r, const char *key, const char *const *names,
                   unsigned long *mask, enum MHD_Result *res) {
  *mask = 0;
  for (size_t a = 0; a < r->n_args; a++) {
    if (strcmp(r->args[a].key, key)) continue;
    const char *p = r->args[a].value;
    while (*p) {
      size_t n = strcspn(p, ",");
      int found = -1;
      for (int i = 0; n && names[i] && found < 0; i++)
        if (strlen(names[i]) == n && !strncmp(p, names[i], n)) found = i;
      if (n && found < 0) {
        struct weft_buf all = WEFT_BUF_INIT;
        for (int i = 0; names[i]; i++) weft_buf_addf(&all, "%s%s", i ? ", " : "", names[i]);
        *res = http_send_error(r, 400, NULL, "unknown %s '%.*s' (expected one of: %s)", key,
                               (int)(n > 100 ? 100 : n), p, all.ptr);
        weft_buf_release(&all);
        return WEFT_EINVALID;
      }
      if (found >= 0) *mask |= 1UL << found;
      p += n;
      if (*p == ',') p++;
    }
  }
  return WEFT_OK;
}

json_t *http_body_object(struct http_req *r, enum MHD_Result *res) {
  json_error_t jerr;
  if (!r->body.len) {
    json_t *empty = json_object();
    if (!empty) *res = http_send_error(r, 500, NULL, "out of memory");
    return empty;
  }
  json_t *doc = json_loadb(r->body.ptr, r->body.len, 0, &jerr);
  if (!doc) {
    json_t *d = json_pack("[{s:s, s:i, s:i, s:s}]", "file", "<request body>", "line",
                          jerr.line, "col", jerr.column, "message", jerr.text);
    *res = http_send_error(r, 400, d, "the request body is not valid JSON: %s", jerr.text);
    return NULL;
  }
  if (!json_is_object(doc)) {
    json_decref(doc);
    *res = http_send_error(r, 400, NULL, "the request body must be a JSON object");
    return NULL;
  }
  return doc;
}

struct weft_instance *http_instance(struct http_req *r, enum MHD_Result *res) {
  if (r->store) return &r->inst;
  weft_error err = WEFT_ERROR_INIT;
  if (http_pool_get(&r->srv->pool, &r->store, &err)) {
    *res = http_send_error(r, 500, NULL, "cannot open the run storage: %s", err.msg);
    return NULL;
  }
  r->inst = *r->srv->inst;
  r->inst.store = r->store;
  return &r->inst;
}

const struct weft_workspace *http_workspace(struct http_req *r) {
  if (!r->ws) r->ws = http_ws_acquire(r->srv);
  return r->ws->ws;
}

void http_req_free(struct http_req *r) {
  if (!r) return;
  if (r->audit) http_audit_write(r);
  if (r->store) http_pool_put(&r->srv->pool, r->store);
  if (r->ws) http_ws_release(r->srv, r->ws);
  for (size_t i = 0; i < r->n_segs; i++) free(r->segs[i]);
  for (size_t i = 0; i < r->n_args; i++) {
    free(r->args[i].key);
    free(r->args[i].value);
  }
  free(r->args);
  weft_buf_release(&r->body);
  free(r);
}
