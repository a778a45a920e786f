/* api_audit.c: the audit log over HTTP: every state-changing request and
 * every rejected login is written when it completes (who, what, the
 * answer, from where), and GET /api/v1/audit shows the newest (admin). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "engine/audit.h"
#include "http/http_int.h"
#include "util/buf.h"
#include "util/log.h"

void http_audit_mark(struct http_req *r, const char *detail) {
  r->audit = 1;
  if (detail) snprintf(r->detail, sizeof r->detail, "%s", detail);
  http_req_source(r);
}

void http_req_source(struct http_req *r) {
  if (r->source[0]) return;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *a = ci ? ci->client_addr : NULL;
  if (a && a->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, r->source, sizeof r->source);
  else if (a && a->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, r->source,
              sizeof r->source);
  else
    snprintf(r->source, sizeof r->source, "?");
}

/* One entry waiting to be written with those of other requests that end
 * meanwhile: one commit for them all, not an fsync each (util/group.h). */
struct audit_entry {
  struct weft_group_item item; /* first: the group's view of it */
  const struct http_req *r;
  const char *action;
};

static int write_entry(struct weft_store *st, const struct audit_entry *a, weft_error *err) {
  const struct http_req *r = a->r;
  return weft_audit_record(st, r->who, a->action, (int)r->status, r->source,
                           r->detail[0] ? r->detail : NULL, err);
}

static void audit_failed(const weft_error *err) {
  weft_log(WEFT_LOG_ERROR, WEFT_LOG_PREFIX("weft server: "), "cannot write the audit log: %s",
           err->msg);
}

/* A round: every entry in one transaction; when it fails, each alone, so
 * one bad entry costs no other. */
static void write_entries(void *ctx, struct weft_group_item **items, size_t n) {
  struct weft_store *st = ctx;
  struct audit_entry **v = (struct audit_entry **)items;
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_store_begin(st, &err);
  for (size_t i = 0; !rc && i < n; i++) rc = write_entry(st, v[i], &err);
  if (rc) weft_store_rollback(st);
  else if (!weft_store_commit(st, &err)) return;
  for (size_t i = 0; i < n; i++) {
    err = (weft_error)WEFT_ERROR_INIT;
    if (write_entry(st, v[i], &err)) audit_failed(&err);
  }
}

/* "METHOD /seg/seg": what the entry says was done; NULL out of memory. */
static char *action_of(const struct http_req *r) {
  struct weft_buf action = WEFT_BUF_INIT;
  weft_buf_addf(&action, "%s ", r->method);
  for (size_t i = 0; i < r->n_segs; i++) weft_buf_addf(&action, "/%s", r->segs[i]);
  return action.ptr;
}

int http_audit_write_in_tx(struct http_req *r, unsigned status, struct weft_store *st,
                           weft_error *err) {
  if (!r->audit) return WEFT_OK;
  char *action = action_of(r);
  if (!action) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_audit_record(st, r->who, action, (int)status, r->source,
                             r->detail[0] ? r->detail : NULL, err);
  free(action);
  return rc;
}

void http_audit_write(struct http_req *r) {
  struct weft_store *st = r->store;
  weft_error err = WEFT_ERROR_INIT;
  int borrowed = 0;
  char *action = action_of(r);
  if (!st && !http_pool_get(&r->srv->pool, &st, &err)) borrowed = 1;
  if (st && action) {
    struct audit_entry a = {.r = r, .action = action};
    weft_group_run(&r->srv->audits, &a.item, write_entries, st);
  } else {
    if (st) err = (weft_error){WEFT_ENOMEM, "out of memory"};
    audit_failed(&err);
  }
  if (borrowed) http_pool_put(&r->srv->pool, st);
  free(action);
}

/* GET /api/v1/audit?limit=N: {"entries": [...]}, newest first. */
enum MHD_Result http_api_audit(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  long long limit;
  if (http_arg_int(r, "limit", 1, 10000, 100, &limit, &res)) return res;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  struct weft_audit_entry *v = NULL;
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_audit_list(inst->store, (size_t)limit, &v, &n, &err))
    return http_send_weft_error(r, &err);
  json_t *arr = json_array();
  for (size_t i = n; arr && i-- > 0;) {
    json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s?}", "ms", (json_int_t)v[i].ms, "who",
                          v[i].who, "action", v[i].action, "status", v[i].status, "source",
                          v[i].source, "detail", v[i].detail);
    if (!o || json_array_append_new(arr, o)) {
      json_decref(arr);
      arr = NULL;
    }
  }
  weft_audit_entries_release(v, n);
  return http_send_json(r, 200, arr ? json_pack("{s:o}", "entries", arr) : NULL);
}
