/* artifacts_s3_http.c: the S3 store's plumbing: its URL settings, AWS
 * credentials, request URLs, one signed request with retries, and the XML.
 *
 * Signing is libcurl's (CURLOPT_AWS_SIGV4, "aws:amz:REGION:s3"): no crypto
 * here. Every request carries x-amz-content-sha256: UNSIGNED-PAYLOAD, which
 * S3 requires and which lets libcurl sign a streamed body it never holds.
 * XML is read with libxml2 (network and entity loading off). */
#include <curl/curl.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/artifacts_s3.h"
#include "util/fs.h"
#include "util/str.h"

/* error bodies are small; a 1,000-key list page of long keys is ~1.5 MB */
#define RESP_CAP (4 * 1024 * 1024)
#define MIB (1024 * 1024)

/* ---- the store URL ------------------------------------------------------------ */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..len) into a new string; NULL when malformed. */
static char *pct_decode(const char *s, size_t len) {
  char *out = malloc(len + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%') {
      int a = i + 1 < len ? hexval(s[i + 1]) : -1;
      int b = i + 2 < len ? hexval(s[i + 2]) : -1;
      int h = a < 0 || b < 0 ? -1 : a * 16 + b;
      if (h <= 0) { /* malformed, or a NUL that would cut the string */
        free(out);
        return NULL;
      }
      *o++ = (char)h;
      i += 2;
    } else {
      *o++ = s[i];
    }
  }
  *o = 0;
  return out;
}

static int parse_int(const char *v, int64_t lo, int64_t hi, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) return -1;
  *out = x;
  return 0;
}

/* One k=v setting of the query part. */
static int conf_setting(struct weft__s3_conf *c, const char *url, const char *k,
                        const char *v, weft_error *err) {
  int64_t n = 0;
  if (!strcmp(k, "endpoint")) {
    size_t len = strlen(v);
    while (len && v[len - 1] == '/') len--;
    if (!weft_str_has_prefix(v, "http://") && !weft_str_has_prefix(v, "https://"))
      goto bad;
    free(c->endpoint);
    if (!(c->endpoint = strndup(v, len))) goto nomem;
    return WEFT_OK;
  }
  if (!strcmp(k, "region")) {
    if (!*v) goto bad;
    free(c->region);
    if (!(c->region = strdup(v))) goto nomem;
    return WEFT_OK;
  }
  if (!strcmp(k, "path_style")) {
    if (strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "true") && strcmp(v, "false"))
      goto bad;
    c->path_style = !strcmp(v, "1") || !strcmp(v, "true");
    return WEFT_OK;
  }
  if (!strcmp(k, "retries")) {
    if (parse_int(v, 0, 20, &n)) goto bad;
    c->retries = (int)n;
    return WEFT_OK;
  }
  if (!strcmp(k, "timeout")) {
    if (parse_int(v, 1, 3600, &n)) goto bad;
    c->connect_timeout_s = (long)n;
    return WEFT_OK;
  }
  if (!strcmp(k, "part_size")) {
    /* S3's floor for every part but the last */
    if (parse_int(v, 5 * MIB, (int64_t)5 << 30, &n)) goto bad;
    c->part_size = n;
    return WEFT_OK;
  }
  if (!strcmp(k, "multipart_threshold")) {
    if (parse_int(v, 5 * MIB, (int64_t)5 << 30, &n)) goto bad;
    c->multipart_threshold = n;
    return WEFT_OK;
  }
  return weft_error_set(err, WEFT_EINVALID,
                        "artifact store URL %s: unknown setting '%s' (endpoint, region, "
                        "path_style, retries, timeout, part_size, multipart_threshold)",
                        url, k);
bad:
  return weft_error_set(err, WEFT_EINVALID, "artifact store URL %s: bad %s '%s'", url, k,
                        v);
nomem:
  return weft_error_set(err, WEFT_ENOMEM, "out of memory");
}

int weft__s3_conf_parse(const char *url, struct weft__s3_conf *c, weft_error *err) {
  int rc = WEFT_OK;
  char *k = NULL, *v = NULL, *path = NULL;
  memset(c, 0, sizeof *c);
  c->path_style = -1;
  c->retries = 4;
  c->connect_timeout_s = 10;
  c->part_size = 16 * MIB;
  c->multipart_threshold = 64 * MIB;
  if (!weft_str_has_prefix(url, "s3://")) {
    rc = weft_error_set(err, WEFT_EINVALID, "%s is not an s3:// URL", url);
    goto done;
  }
  const char *p = url + 5, *q = strchr(p, '?');
  size_t plen = q ? (size_t)(q - p) : strlen(p);
  const char *slash = memchr(p, '/', plen);
  size_t blen = slash ? (size_t)(slash - p) : plen;
  if (!(c->bucket = strndup(p, blen))) goto nomem;
  if (!weft_str_is_s3_bucket(c->bucket)) {
    rc = weft_error_set(err, WEFT_EINVALID,
                        "artifact store URL %s: bad bucket name '%s' (3-63 of a-z 0-9 . -)",
                        url, c->bucket);
    goto done;
  }
  if (!(path = slash ? pct_decode(slash + 1, plen - blen - 1) : strdup(""))) {
    rc = weft_error_set(err, WEFT_EINVALID, "artifact store URL %s: bad prefix", url);
    goto done;
  }
  size_t len = strlen(path);
  while (len && path[len - 1] == '/') path[--len] = 0;
  if (len && (rc = weft_artifacts_key_check(path, err))) goto done;
  if (!(c->prefix = len ? weft_str_printf("%s/", path) : strdup(""))) goto nomem;
  for (const char *s = q ? q + 1 : NULL; s && *s;) {
    const char *amp = strchr(s, '&'), *end = amp ? amp : s + strlen(s);
    const char *eq = memchr(s, '=', (size_t)(end - s));
    if (!eq) {
      rc = weft_error_set(err, WEFT_EINVALID, "artifact store URL %s: '%.*s' is not k=v",
                          url, (int)(end - s), s);
      goto done;
    }
    free(k);
    free(v);
    k = strndup(s, (size_t)(eq - s));
    v = pct_decode(eq + 1, (size_t)(end - eq - 1));
    if (!k || !v) {
      rc = weft_error_set(err, WEFT_EINVALID, "artifact store URL %s: bad value", url);
      goto done;
    }
    if ((rc = conf_setting(c, url, k, v, err))) goto done;
    s = amp ? amp + 1 : NULL;
  }
  if (!c->region) {
    const char *r = getenv("AWS_REGION");
    if (!r || !*r) r = getenv("AWS_DEFAULT_REGION");
    if (!(c->region = strdup(r && *r ? r : "us-east-1"))) goto nomem;
  }
  if (c->path_style < 0) c->path_style = c->endpoint != NULL;
  if (!c->endpoint && !(c->endpoint = weft_str_printf("https://s3.%s.amazonaws.com", c->region)))
    goto nomem;
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
done:
  free(k);
  free(v);
  free(path);
  if (rc) weft__s3_conf_release(c);
  return rc;
}

void weft__s3_conf_release(struct weft__s3_conf *c) {
  free(c->bucket);
  free(c->prefix);
  free(c->endpoint);
  free(c->region);
  memset(c, 0, sizeof *c);
}

/* ---- credentials ---------------------------------------------------------------- */

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
    s[--n] = 0;
  return s;
}

/* Reads [profile] of an INI credentials file; 0 when the file is absent. */
static int creds_from_file(struct weft__s3_creds *cr, const char *path, const char *profile,
                           weft_error *err) {
  FILE *f = fopen(path, "r");
  if (!f) return WEFT_OK;
  char line[4096];
  int in = 0, rc = WEFT_OK;
  while (fgets(line, sizeof line, f)) {
    char *s = trim(line);
    if (*s == '[') {
      char *e = strchr(s, ']');
      if (e) *e = 0;
      in = !strcmp(trim(s + 1), profile);
      continue;
    }
    char *eq = strchr(s, '=');
    if (!in || !eq || *s == '#' || *s == ';') continue;
    *eq = 0;
    char *k = trim(s), *v = trim(eq + 1), **slot = NULL;
    if (!strcmp(k, "aws_access_key_id")) slot = &cr->access_key;
    else if (!strcmp(k, "aws_secret_access_key")) slot = &cr->secret;
    else if (!strcmp(k, "aws_session_token")) slot = &cr->token;
    if (!slot) continue;
    free(*slot);
    if (!(*slot = strdup(v))) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
  }
  fclose(f);
  return rc;
}

int weft__s3_creds_load(struct weft__s3_creds *cr, weft_error *err) {
  int rc = WEFT_OK;
  char *path = NULL;
  memset(cr, 0, sizeof *cr);
  const char *id = getenv("AWS_ACCESS_KEY_ID"), *sec = getenv("AWS_SECRET_ACCESS_KEY");
  if (id && *id && sec && *sec) {
    const char *tok = getenv("AWS_SESSION_TOKEN");
    cr->access_key = strdup(id);
    cr->secret = strdup(sec);
    cr->token = tok && *tok ? strdup(tok) : NULL;
    if (!cr->access_key || !cr->secret || (tok && *tok && !cr->token)) goto nomem;
    return WEFT_OK;
  }
  const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
  const char *profile = getenv("AWS_PROFILE");
  if (!profile || !*profile) profile = "default";
  if (file && *file) path = strdup(file);
  else if (home && *home) path = weft_str_printf("%s/.aws/credentials", home);
  if (path && (rc = creds_from_file(cr, path, profile, err))) goto done;
  if (!cr->access_key || !cr->secret) {
    rc = weft_error_set(err, WEFT_EUSAGE,
                        "no AWS credentials for the S3 artifact store: set "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add "
                        "aws_access_key_id and aws_secret_access_key to [%s] in %s",
                        profile, path ? path : "~/.aws/credentials");
  }
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
done:
  free(path);
  if (rc) weft__s3_creds_release(cr);
  return rc;
}

void weft__s3_creds_release(struct weft__s3_creds *cr) {
  free(cr->access_key);
  if (cr->secret) { /* wiped: a core dump should not carry it */
    memset(cr->secret, 0, strlen(cr->secret));
    free(cr->secret);
  }
  free(cr->token);
  memset(cr, 0, sizeof *cr);
}

/* ---- URLs -------------------------------------------------------------------------- */

int weft__s3_uri_encode(struct weft_buf *b, const char *s, int keep_slash) {
  static const char hex[] = "0123456789ABCDEF";
  int rc = WEFT_OK;
  for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
    int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
                *p == '~' || (keep_slash && *p == '/');
    if (plain) rc = weft_buf_addc(b, (char)*p);
    else rc = weft_buf_addf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
  }
  return rc;
}

char *weft__s3_url(const struct weft__s3_conf *c, const char *key, const char *query) {
  struct weft_buf b = WEFT_BUF_INIT;
  int rc;
  if (c->path_style) {
    rc = weft_buf_addf(&b, "%s/%s", c->endpoint, c->bucket);
  } else {
    const char *host = strstr(c->endpoint, "://") + 3;
    rc = weft_buf_addf(&b, "%.*s%s.%s", (int)(host - c->endpoint), c->endpoint, c->bucket,
                       host);
  }
  if (!rc && key) {
    rc = weft_buf_addc(&b, '/');
    if (!rc) rc = weft__s3_uri_encode(&b, c->prefix, 1);
    if (!rc) rc = weft__s3_uri_encode(&b, key, 1);
  } else if (!rc && !c->path_style) {
    rc = weft_buf_addc(&b, '/');
  }
  if (!rc && query && *query) rc = weft_buf_addf(&b, "?%s", query);
  if (rc) {
    weft_buf_release(&b);
    return NULL;
  }
  return weft_buf_detach(&b, NULL);
}

/* ---- one request --------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  xmlInitParser();
}

struct xfer {
  struct weft__s3_req *r;
  CURL *h;
  int64_t sent;
  int write_errno;
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud) {
  struct xfer *x = ud;
  struct weft__s3_req *r = x->r;
  size_t want = size * nitems;
  int64_t left = (r->body ? (int64_t)r->body_len : r->upload_len) - x->sent;
  if (left <= 0) return 0;
  if ((int64_t)want > left) want = (size_t)left;
  if (r->body) {
    memcpy(buf, r->body + x->sent, want);
    x->sent += (int64_t)want;
    return want;
  }
  /* pread: the same range is read again, from its start, when retried */
  ssize_t n;
  do n = pread(r->upload_fd, buf, want, (off_t)(r->upload_off + x->sent));
  while (n < 0 && errno == EINTR);
  if (n <= 0) return CURL_READFUNC_ABORT; /* the file shrank or failed under us */
  x->sent += n;
  return (size_t)n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud) {
  struct xfer *x = ud;
  size_t len = size * nmemb;
  long code = 0;
  curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
  if (x->r->download_fd >= 0 && code >= 200 && code < 300) {
    for (size_t off = 0; off < len;) {
      ssize_t n = write(x->r->download_fd, data + off, len - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        x->write_errno = errno;
        return 0;
      }
      off += (size_t)n;
    }
    return len;
  }
  size_t room = RESP_CAP - x->r->resp.len;
  if (len > room) len = room; /* keep the head; the rest is dropped */
  if (len && weft_buf_add(&x->r->resp, data, len)) return 0;
  return size * nmemb;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
  struct xfer *x = ud;
  size_t len = size * n;
  if (len > 5 && !strncasecmp(data, "etag:", 5)) {
    const char *v = data + 5;
    while (*v == ' ') v++;
    size_t vl = len - (size_t)(v - data);
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) vl--;
    if (vl < sizeof x->r->etag) {
      memcpy(x->r->etag, v, vl);
      x->r->etag[vl] = 0;
    }
  }
  return len;
}

/* Resets r's outputs and its download file for a new attempt. */
static int reset_attempt(struct weft__s3_req *r) {
  r->status = 0;
  r->etag[0] = 0;
  r->content_length = -1;
  weft_buf_reset(&r->resp);
  if (r->download_fd >= 0 && (ftruncate(r->download_fd, 0) || lseek(r->download_fd, 0, SEEK_SET)))
    return -1;
  return 0;
}

/* Worth another attempt: the server was not there or the link broke at any
 * stage (connecting, the TLS handshake, sending, an HTTP/2 stream, before
 * or during the answer), or it asked us to slow down (5xx, 429, 408,
 * SlowDown). A refusal (403, 404, a bad certificate) is not. */
static int transient(CURLcode cc, long status, const struct weft__s3_req *r) {
  if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
      cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
      cc == CURLE_PARTIAL_FILE || cc == CURLE_COULDNT_RESOLVE_HOST ||
      cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM)
    return 1;
  if (cc != CURLE_OK) return 0;
  return status >= 500 || status == 429 || status == 408 ||
         (r->resp.len && strstr(r->resp.ptr, "<Code>SlowDown</Code>"));
}

static void backoff(int attempt) {
  /* 100 ms doubling to a 3.2 s cap, with up to half again of jitter */
  long ms = 100L << (attempt < 5 ? attempt : 5);
  ms += rand() % (ms / 2 + 1);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) && errno == EINTR) {
  }
}

static int setup(struct weft__s3 *s, struct weft__s3_req *r, struct xfer *x,
                 struct curl_slist **hdrs, char *sigv4, size_t sigv4_len) {
  CURL *h = s->curl;
  char *url = weft__s3_url(&s->conf, r->key, r->query);
  if (!url) return -1;
  curl_easy_reset(h);
  snprintf(sigv4, sigv4_len, "aws:amz:%s:s3", s->conf.region);
  int bad = curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK;
  free(url); /* libcurl keeps its own copy */
  bad |= curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4) != CURLE_OK;
  bad |= curl_easy_setopt(h, CURLOPT_USERNAME, s->creds.access_key) != CURLE_OK;
  bad |= curl_easy_setopt(h, CURLOPT_PASSWORD, s->creds.secret) != CURLE_OK;
  bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
  bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s->conf.connect_timeout_s) != CURLE_OK;
  /* a stalled transfer (under 1 KiB/s for 60 s) is a network error */
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
  *hdrs = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  if (s->creds.token) {
    char *t = weft_str_printf("x-amz-security-token: %s", s->creds.token);
    struct curl_slist *n = t ? curl_slist_append(*hdrs, t) : NULL;
    free(t);
    if (!n) return -1;
    *hdrs = n;
  }
  if (!*hdrs) return -1;
  int has_body = r->body || r->upload_fd >= 0;
  if (!strcmp(r->method, "HEAD")) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    int64_t len = r->body ? (int64_t)r->body_len : r->upload_len;
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, x);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    if (strcmp(r->method, "PUT")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
  } else if (strcmp(r->method, "GET")) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
  }
  bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs) != CURLE_OK;
  return bad ? -1 : 0;
}

int weft__s3_perform(struct weft__s3 *s, struct weft__s3_req *r, weft_error *err) {
  pthread_once(&curl_once, curl_global);
  CURLcode cc = CURLE_OK;
  char sigv4[128], cerr[CURL_ERROR_SIZE];
  int rc = WEFT_OK, attempt;
  for (attempt = 0;; attempt++) {
    struct xfer x = {r, s->curl, 0, 0};
    struct curl_slist *hdrs = NULL;
    cerr[0] = 0;
    if (reset_attempt(r) || setup(s, r, &x, &hdrs, sigv4, sizeof sigv4)) {
      curl_slist_free_all(hdrs);
      return weft_error_set(err, WEFT_ENOMEM, "s3 %s: cannot set up the request", r->method);
    }
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, cerr);
    cc = curl_easy_perform(s->curl);
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    if (x.write_errno) {
      return weft_error_set(err, WEFT_EIO, "s3 %s %s: writing the local file: %s",
                            r->method, r->key ? r->key : s->conf.bucket,
                            strerror(x.write_errno));
    }
    if (cc == CURLE_OK) {
      curl_off_t cl = -1;
      curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->status);
      curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
      r->content_length = cl;
    }
    if (!transient(cc, r->status, r) || attempt >= s->conf.retries) break;
    backoff(attempt);
  }
  if (cc != CURLE_OK) {
    rc = weft_error_set(err, WEFT_EIO, "s3 %s %s/%s%s at %s: %s%s%s (after %d attempts)",
                        r->method, s->conf.bucket, s->conf.prefix, r->key ? r->key : "",
                        s->conf.endpoint, curl_easy_strerror(cc), cerr[0] ? ": " : "",
                        cerr, attempt + 1);
  }
  return rc;
}

void weft__s3_req_release(struct weft__s3_req *r) { weft_buf_release(&r->resp); }

/* ---- XML ------------------------------------------------------------------------------- */

static xmlDocPtr xml_parse(const char *xml, size_t len) {
  if (!xml || !len || len > INT32_MAX) return NULL;
  pthread_once(&curl_once, curl_global);
  /* no network, no DTD loading, no entity substitution: untrusted input */
  return xmlReadMemory(xml, (int)len, "s3.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlNodePtr find_elem(xmlNodePtr n, const char *name) {
  for (; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (!strcmp((const char *)n->name, name)) return n;
    xmlNodePtr c = find_elem(n->children, name);
    if (c) return c;
  }
  return NULL;
}

static char *node_text(xmlNodePtr n) {
  xmlChar *t = xmlNodeGetContent(n);
  char *out = t ? strdup((const char *)t) : NULL;
  xmlFree(t);
  return out;
}

char *weft__s3_xml_text(const char *xml, size_t len, const char *name) {
  xmlDocPtr d = xml_parse(xml, len);
  if (!d) return NULL;
  xmlNodePtr n = find_elem(xmlDocGetRootElement(d), name);
  char *out = n ? node_text(n) : NULL;
  xmlFreeDoc(d);
  return out;
}

int weft__s3_xml_list(const char *xml, size_t len, size_t strip_len, char ***keys,
                      size_t *n, size_t *cap, int *truncated, char **next) {
  int rc = WEFT_OK;
  *truncated = 0;
  *next = NULL;
  xmlDocPtr d = xml_parse(xml, len);
  xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
  if (!root || strcmp((const char *)root->name, "ListBucketResult")) {
    rc = WEFT_EINVALID;
    goto done;
  }
  for (xmlNodePtr c = root->children; c && !rc; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    const char *name = (const char *)c->name;
    if (!strcmp(name, "IsTruncated")) {
      char *t = node_text(c);
      *truncated = t && !strcmp(t, "true");
      free(t);
    } else if (!strcmp(name, "NextContinuationToken")) {
      free(*next);
      if (!(*next = node_text(c))) rc = WEFT_ENOMEM;
    } else if (!strcmp(name, "Contents")) {
      xmlNodePtr k = find_elem(c->children, "Key");
      char *key = k ? node_text(k) : NULL;
      if (!key || strlen(key) < strip_len) {
        free(key);
        continue; /* not ours: outside the prefix we asked for */
      }
      if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **v = realloc(*keys, nc * sizeof *v);
        if (!v) {
          free(key);
          rc = WEFT_ENOMEM;
          break;
        }
        *keys = v;
        *cap = nc;
      }
      memmove(key, key + strip_len, strlen(key) - strip_len + 1);
      (*keys)[(*n)++] = key;
    }
  }
done:
  if (rc) {
    free(*next);
    *next = NULL;
  }
  xmlFreeDoc(d);
  return rc;
}

/* ---- errors ------------------------------------------------------------------------------ */

int weft__s3_fail(struct weft__s3 *s, const char *what, const struct weft__s3_req *r,
                  weft_error *err) {
  char *code = weft__s3_xml_text(r->resp.ptr, r->resp.len, "Code");
  char *msg = weft__s3_xml_text(r->resp.ptr, r->resp.len, "Message");
  const char *hint = "";
  int rc = WEFT_ESTORE;
  if (code && !strcmp(code, "NoSuchKey")) rc = WEFT_ENOTFOUND;
  if ((code && !strcmp(code, "NoSuchBucket")) || (!code && r->status == 404 && !r->key)) {
    hint = " (the bucket does not exist: create it, or fix the bucket name)";
  } else if (r->status == 403 || (code && (!strcmp(code, "InvalidAccessKeyId") ||
                                           !strcmp(code, "SignatureDoesNotMatch")))) {
    hint = " (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the credentials "
           "file, and the region)";
  } else if (r->status == 301 || (code && !strcmp(code, "PermanentRedirect"))) {
    hint = " (the bucket is in another region, or needs virtual-host addressing)";
  }
  if (!code && r->status == 404) rc = r->key ? WEFT_ENOTFOUND : WEFT_ESTORE;
  rc = weft_error_set(err, rc, "s3 %s s3://%s/%s%s: HTTP %ld%s%s%s%s%s", what,
                      s->conf.bucket, s->conf.prefix, r->key ? r->key : "", r->status,
                      code ? " " : "", code ? code : "", msg ? ": " : "", msg ? msg : "",
                      hint);
  free(code);
  free(msg);
  return rc;
}
