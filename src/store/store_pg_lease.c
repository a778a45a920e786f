/* store_pg_lease.c: the PostgreSQL side of run leases: a claim is one
 * conditional upsert (the row lock decides between two claimers), a
 * renewal one UPDATE over every lease of an owner. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/store_pg.h"
#include "util/map.h"

#define P(s) ((struct weft__pg_store *)(s))

/* A write statement in the open transaction or an implicit one; *res kept
 * for the caller (PQclear). */
static int write_stmt(struct weft__pg_store *p, int stmt, int n, const char *const *params,
                      PGresult **res, const char *op, weft_error *err) {
  int implicit, rc = weft__pg_write_begin(p, &implicit, err);
  if (rc) return rc;
  rc = weft__pg_exec(p, stmt, n, params, res, op, err);
  return weft__pg_write_end(p, implicit, rc, res, err);
}

int weft__pg_lease_claim(struct weft_store *s, const char *run_id, const char *owner,
                         const char *steal_from, int64_t now_ms, int64_t ttl_ms,
                         weft_error *err) {
  char now[24], ttl[24];
  const char *params[5] = {run_id, owner, weft__pg_i64(now, now_ms), weft__pg_i64(ttl, ttl_ms),
                           steal_from};
  PGresult *res = NULL;
  int rc = write_stmt(P(s), WEFT__PG_LEASE_CLAIM, 5, params, &res, "run lease", err);
  if (!rc && strtoll(PQcmdTuples(res), NULL, 10) == 0)
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is held by another coordinator", run_id);
  PQclear(res);
  return rc;
}

static int read_leases(PGresult *res, struct weft_run_lease_list *out, weft_error *err) {
  for (int r = 0; r < PQntuples(res); r++) {
    struct weft_run_lease *l = weft__store_list_push((void **)&out->v, &out->n, sizeof *out->v);
    if (!l || weft__pg_get_dup(res, r, 0, &l->run_id) || weft__pg_get_dup(res, r, 1, &l->owner)) {
      weft_run_lease_list_release(out);
      return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
    l->expires_ms = weft__pg_get_i64(res, r, 2);
    l->acquired_ms = weft__pg_get_i64(res, r, 3);
  }
  return WEFT_OK;
}

int weft__pg_lease_renew(struct weft_store *s, const char *owner, int64_t now_ms,
                         int64_t ttl_ms, struct weft_run_lease_list *held, weft_error *err) {
  char now[24], ttl[24];
  const char *params[3] = {owner, weft__pg_i64(now, now_ms), weft__pg_i64(ttl, ttl_ms)};
  PGresult *res = NULL;
  int rc = write_stmt(P(s), WEFT__PG_LEASE_RENEW, 3, params, &res, "run lease renewal", err);
  if (!rc) rc = read_leases(res, held, err);
  PQclear(res);
  return rc;
}

int weft__pg_lease_release(struct weft_store *s, const char *run_id, const char *owner,
                           weft_error *err) {
  const char *params[2] = {run_id, owner};
  PGresult *res = NULL;
  int rc = write_stmt(P(s), WEFT__PG_LEASE_RELEASE, 2, params, &res, "run lease", err);
  PQclear(res);
  return rc;
}

int weft__pg_lease_claim_many(struct weft_store *s, const char *const *run_ids, size_t n,
                             const char *owner, int64_t now_ms, int64_t ttl_ms,
                             unsigned char *outcome, weft_error *err) {
  char now[24], ttl[24];
  char *ids = weft__pg_text_array(run_ids, n);
  if (!ids) return weft_error_set(err, WEFT_ENOMEM, "run lease: out of memory");
  const char *params[4] = {ids, owner, weft__pg_i64(now, now_ms), weft__pg_i64(ttl, ttl_ms)};
  PGresult *res = NULL;
  int rc = write_stmt(P(s), WEFT__PG_LEASE_CLAIM_MANY, 4, params, &res, "run leases", err);
  free(ids);
  struct weft_map kind = WEFT_MAP_INIT; /* run id -> its row's kind, 'c' over 'q' */
  for (int r = 0; !rc && r < PQntuples(res); r++) {
    char *k = PQgetvalue(res, r, 1);
    if (*k == 'c' || !weft_map_get(&kind, PQgetvalue(res, r, 0)))
      if (weft_map_set(&kind, PQgetvalue(res, r, 0), k))
        rc = weft_error_set(err, WEFT_ENOMEM, "run lease: out of memory");
  }
  for (size_t i = 0; !rc && i < n; i++) {
    const char *k = weft_map_get(&kind, run_ids[i]);
    outcome[i] = !k ? WEFT_LEASE_NOT_QUEUED : *k == 'c' ? WEFT_LEASE_CLAIMED : WEFT_LEASE_HELD;
  }
  weft_map_release(&kind);
  PQclear(res);
  return rc;
}

int weft__pg_lease_release_many(struct weft_store *s, const char *const *run_ids, size_t n,
                               const char *owner, weft_error *err) {
  char *ids = weft__pg_text_array(run_ids, n);
  if (!ids) return weft_error_set(err, WEFT_ENOMEM, "run lease: out of memory");
  const char *params[2] = {ids, owner};
  PGresult *res = NULL;
  int rc = write_stmt(P(s), WEFT__PG_LEASE_RELEASE_MANY, 2, params, &res, "run leases", err);
  PQclear(res);
  free(ids);
  return rc;
}

int weft__pg_lease_get(struct weft_store *s, const char *run_id, struct weft_run_lease *out,
                       weft_error *err) {
  const char *params[1] = {run_id};
  PGresult *res = NULL;
  struct weft_run_lease_list l = {0};
  int rc = weft__pg_exec(P(s), WEFT__PG_LEASE_GET, 1, params, &res, "run lease", err);
  if (!rc) rc = read_leases(res, &l, err);
  PQclear(res);
  if (!rc && !l.n) rc = weft_error_set(err, WEFT_ENOTFOUND, "run %s has no lease", run_id);
  if (!rc) {
    *out = l.v[0];
    l.v[0].run_id = l.v[0].owner = NULL;
  }
  weft_run_lease_list_release(&l);
  return rc;
}
