/* store_sqlite_lease.c: the SQLite side of run leases: a claim is one
 * conditional upsert, a renewal one UPDATE over every lease of an owner. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/store_sqlite.h"
#include "util/str.h"

#define Q(s) ((struct weft__sq_store *)(s))

static int prepare(struct weft_store *s, const char *sql, sqlite3_stmt **st,
                   weft_error *err) {
  int src = sqlite3_prepare_v2(Q(s)->db, sql, -1, st, NULL);
  return src == SQLITE_OK ? WEFT_OK : weft__sq_error(Q(s), err, src, "run lease: prepare");
}

static char *col_dup(sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  return weft_str_dup(t ? (const char *)t : "");
}

int weft__sq_lease_claim(struct weft_store *s, const char *run_id, const char *owner,
                         const char *steal_from, int64_t now_ms, int64_t ttl_ms,
                         weft_error *err) {
  /* The WHERE of the upsert is the whole test: SQLite runs the statement
   * under the write lock, so two claimers never both change the row. */
  static const char sql[] =
      "INSERT INTO run_leases (run_id, owner, expires_ms, acquired_ms) "
      "VALUES (?1, ?2, ?3 + ?4, ?3) ON CONFLICT (run_id) DO UPDATE SET "
      "owner = excluded.owner, expires_ms = excluded.expires_ms, "
      "acquired_ms = CASE WHEN run_leases.owner = excluded.owner "
      "THEN run_leases.acquired_ms ELSE excluded.acquired_ms END "
      "WHERE run_leases.owner = excluded.owner OR (?5 IS NULL AND run_leases.expires_ms <= ?3) "
      "OR run_leases.owner = ?5";
  sqlite3_stmt *st = NULL;
  int rc = prepare(s, sql, &st, err);
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
  sqlite3_finalize(st);
  return rc;
}

int weft__sq_lease_renew(struct weft_store *s, const char *owner, int64_t now_ms,
                         int64_t ttl_ms, struct weft_run_lease_list *held, weft_error *err) {
  static const char sql[] =
      "UPDATE run_leases SET expires_ms = ?2 + ?3 WHERE owner = ?1 "
      "RETURNING run_id, owner, expires_ms, acquired_ms";
  sqlite3_stmt *st = NULL;
  int rc = prepare(s, sql, &st, err), src;
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
  sqlite3_finalize(st);
  if (rc) weft_run_lease_list_release(held);
  return rc;
}

int weft__sq_lease_release(struct weft_store *s, const char *run_id, const char *owner,
                           weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s, "DELETE FROM run_leases WHERE run_id = ?1 AND owner = ?2", &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "run lease of %s", run_id);
  sqlite3_finalize(st);
  return rc;
}

int weft__sq_lease_get(struct weft_store *s, const char *run_id, struct weft_run_lease *out,
                       weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s,
                   "SELECT run_id, owner, expires_ms, acquired_ms FROM run_leases "
                   "WHERE run_id = ?1",
                   &st, err);
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
  sqlite3_finalize(st);
  return rc;
}
