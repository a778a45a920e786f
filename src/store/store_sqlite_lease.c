/* store_sqlite_lease.c: the SQLite side of run leases: a claim is one
 * conditional upsert, a renewal one UPDATE over every lease of an owner.
 * Their statements are the connection's cached ones: parsing the claim
 * each time cost as much as running it, once a run. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/store_sqlite.h"
#include "util/str.h"

#define Q(s) ((struct weft__sq_store *)(s))


static char *col_dup(sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  return weft_str_dup(t ? (const char *)t : "");
}

int weft__sq_lease_claim(struct weft_store *s, const char *run_id, const char *owner,
                         const char *steal_from, int64_t now_ms, int64_t ttl_ms,
                         weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_LEASE_CLAIM, &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, now_ms);
  sqlite3_bind_int64(st, 4, ttl_ms);
  if (steal_from) sqlite3_bind_text(st, 5, steal_from, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 5);
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE)
    rc = weft__sq_error(Q(s), err, src, "run lease of %s", run_id);
  else if (sqlite3_changes(Q(s)->db) == 0)
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is held by another coordinator", run_id);
  weft__sq_done(st);
  return rc;
}

int weft__sq_lease_renew(struct weft_store *s, const char *owner, int64_t now_ms,
                         int64_t ttl_ms, struct weft_run_lease_list *held, weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_LEASE_RENEW, &st, err), src;
  if (rc) return rc;
  sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now_ms);
  sqlite3_bind_int64(st, 3, ttl_ms);
  while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_run_lease *l =
        weft__store_list_push((void **)&held->v, &held->n, sizeof *held->v);
    if (!l || !(l->run_id = col_dup(st, 0)) || !(l->owner = col_dup(st, 1))) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    l->expires_ms = sqlite3_column_int64(st, 2);
    l->acquired_ms = sqlite3_column_int64(st, 3);
  }
  if (!rc && src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "run lease renewal");
  weft__sq_done(st);
  if (rc) weft_run_lease_list_release(held);
  return rc;
}

int weft__sq_lease_release(struct weft_store *s, const char *run_id, const char *owner,
                           weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_LEASE_RELEASE, &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "run lease of %s", run_id);
  weft__sq_done(st);
  return rc;
}

int weft__sq_lease_get(struct weft_store *s, const char *run_id, struct weft_run_lease *out,
                       weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_LEASE_GET, &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    out->run_id = col_dup(st, 0);
    out->owner = col_dup(st, 1);
    out->expires_ms = sqlite3_column_int64(st, 2);
    out->acquired_ms = sqlite3_column_int64(st, 3);
    if (!out->run_id || !out->owner) {
      weft_run_lease_release(out);
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
  } else if (src == SQLITE_DONE) {
    rc = weft_error_set(err, WEFT_ENOTFOUND, "run %s has no lease", run_id);
  } else {
    rc = weft__sq_error(Q(s), err, src, "run lease of %s", run_id);
  }
  weft__sq_done(st);
  return rc;
}
