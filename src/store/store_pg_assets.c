/* store_pg_assets.c: the asset catalog on PostgreSQL: reads of the summary
 * tables the events trigger keeps (schema version 6); SQL in store_pg.h. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/store_pg.h"
#include "util/clock.h"

#define P(s) ((struct weft__pg_store *)(s))

static int nomem(struct weft__pg_store *p, weft_error *err, const char *op) {
  return weft_error_set(err, WEFT_ENOMEM, "%s: %s: out of memory", p->where, op);
}

static int read_asset(const PGresult *res, int i, struct weft_asset_row *r) {
  r->last_id = weft__pg_get_i64(res, i, 1);
  r->ts_ms = weft__pg_get_i64(res, i, 2);
  r->materializations = weft__pg_get_i64(res, i, 9);
  return weft__pg_get_dup(res, i, 0, &r->asset) || weft__pg_get_dup(res, i, 3, &r->run_id) ||
         weft__pg_get_dup(res, i, 4, &r->job) || weft__pg_get_dup(res, i, 5, &r->step) ||
         weft__pg_get_dup(res, i, 6, &r->partition_key) ||
         weft__pg_get_dup(res, i, 7, &r->code_version) || weft__pg_get_dup(res, i, 8, &r->payload);
}

int weft__pg_asset_list(struct weft_store *s, const char *q, const char *after, int limit,
                        struct weft_asset_list *out, weft_error *err) {
  char lim[24];
  const char *params[3] = {q, after, weft__pg_i64(lim, limit)};
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s), WEFT__PG_ASSET_LIST, 3, params, &res, "asset list", err);
  if (rc) return rc;
  int n = PQntuples(res);
  if (n > 0 && !(out->v = calloc((size_t)n, sizeof *out->v))) rc = nomem(P(s), err, "asset list");
  for (int i = 0; !rc && i < n; i++) {
    out->n++;
    if (read_asset(res, i, &out->v[i])) rc = nomem(P(s), err, "asset list");
  }
  PQclear(res);
  if (rc) weft_asset_list_release(out);
  return rc;
}

int weft__pg_asset_get(struct weft_store *s, const char *asset, struct weft_asset_row *out,
                       weft_error *err) {
  const char *params[1] = {asset};
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s), WEFT__PG_ASSET_GET, 1, params, &res, "asset get", err);
  if (rc) return rc;
  if (PQntuples(res) < 1)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "asset %s was never materialized", asset);
  else if (read_asset(res, 0, out))
    rc = nomem(P(s), err, "asset get");
  PQclear(res);
  if (rc) weft_asset_row_release(out);
  return rc;
}

int weft__pg_asset_history(struct weft_store *s, const char *asset, const char *kind,
                           int64_t before_id, int limit, struct weft_asset_event_list *out,
                           weft_error *err) {
  char before[24], lim[24];
  const char *params[4] = {asset, kind, weft__pg_i64(before, before_id),
                           weft__pg_i64(lim, limit)};
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s), WEFT__PG_ASSET_HISTORY, 4, params, &res, "asset history", err);
  if (rc) return rc;
  int n = PQntuples(res);
  if (n > 0 && !(out->v = calloc((size_t)n, sizeof *out->v)))
    rc = nomem(P(s), err, "asset history");
  for (int i = 0; !rc && i < n; i++) {
    struct weft_asset_event_row *e = &out->v[i];
    out->n++;
    if (weft__pg_get_dup(res, i, 2, &e->asset) || weft__pg_get_dup(res, i, 3, &e->kind) ||
        weft__pg_get_dup(res, i, 4, &e->name) || weft__pg_get_dup(res, i, 6, &e->run_id) ||
        weft__pg_get_dup(res, i, 7, &e->job) || weft__pg_get_dup(res, i, 8, &e->step) ||
        weft__pg_get_dup(res, i, 9, &e->partition_key) ||
        weft__pg_get_dup(res, i, 10, &e->code_version) ||
        weft__pg_get_dup(res, i, 12, &e->payload)) {
      rc = nomem(P(s), err, "asset history");
      break;
    }
    e->id = weft__pg_get_i64(res, i, 0);
    e->event_id = weft__pg_get_i64(res, i, 1);
    e->passed = PQgetisnull(res, i, 5) ? -1 : weft__pg_get_i64(res, i, 5) != 0;
    e->ts_ms = weft__pg_get_i64(res, i, 11);
  }
  PQclear(res);
  if (rc) weft_asset_event_list_release(out);
  return rc;
}

int weft__pg_asset_partitions(struct weft_store *s, const char *asset, struct weft_kv_list *out,
                              weft_error *err) {
  const char *params[1] = {asset};
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s), WEFT__PG_ASSET_PARTITIONS, 1, params, &res, "asset partitions",
                         err);
  if (rc) return rc;
  int n = PQntuples(res);
  if (n > 0 && !(out->v = calloc((size_t)n, sizeof *out->v)))
    rc = nomem(P(s), err, "asset partitions");
  for (int i = 0; !rc && i < n; i++) {
    struct weft_kv_row *r = &out->v[i];
    out->n++;
    if (weft__pg_get_dup(res, i, 0, &r->key) || weft__pg_get_dup(res, i, 1, &r->value))
      rc = nomem(P(s), err, "asset partitions");
    r->updated_ms = weft__pg_get_i64(res, i, 2);
  }
  PQclear(res);
  if (rc) weft_kv_list_release(out);
  return rc;
}

int weft__pg_asset_event_add(struct weft_store *s, struct weft_asset_event_row *ev,
                             weft_error *err) {
  char ts[24];
  const char *params[6] = {ev->asset, ev->kind, ev->name, ev->job,
                           weft__pg_i64(ts, ev->ts_ms ? ev->ts_ms : weft_clock_wall_ms()),
                           ev->payload ? ev->payload : "{}"};
  PGresult *res = NULL;
  int implicit, rc = weft__pg_write_begin(P(s), &implicit, err);
  if (rc) return rc;
  rc = weft__pg_exec(P(s), WEFT__PG_ASSET_EVENT_ADD, 6, params, &res, "asset event", err);
  rc = weft__pg_write_end(P(s), implicit, rc, &res, err);
  if (!rc) ev->id = weft__pg_get_i64(res, 0, 0);
  PQclear(res);
  return rc;
}
