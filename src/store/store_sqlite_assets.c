/* store_sqlite_assets.c: the asset catalog on SQLite: reads of the summary
 * tables the events trigger keeps (schema version 5), prepared per call. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/store_sqlite.h"
#include "util/clock.h"

#define Q(s) ((struct weft__sq_store *)(s))

#define ASSET_COLUMNS \
  "asset, last_id, ts_ms, run_id, job, step, partition_key, code_version, payload, " \
  "materializations"
#define EVENT_COLUMNS \
  "id, event_id, asset, kind, name, passed, run_id, job, step, partition_key, " \
  "code_version, ts_ms, payload"

static int prepare(struct weft_store *s, const char *sql, sqlite3_stmt **st, const char *op,
                   weft_error *err) {
  int src = sqlite3_prepare_v2(Q(s)->db, sql, -1, st, NULL);
  return src == SQLITE_OK ? WEFT_OK : weft__sq_error(Q(s), err, src, "%s: prepare", op);
}

static int read_asset(sqlite3_stmt *st, struct weft_asset_row *r) {
  r->last_id = sqlite3_column_int64(st, 1);
  r->ts_ms = sqlite3_column_int64(st, 2);
  r->materializations = sqlite3_column_int64(st, 9);
  return weft__sq_column_dup(st, 0, &r->asset) || weft__sq_column_dup(st, 3, &r->run_id) ||
         weft__sq_column_dup(st, 4, &r->job) || weft__sq_column_dup(st, 5, &r->step) ||
         weft__sq_column_dup(st, 6, &r->partition_key) ||
         weft__sq_column_dup(st, 7, &r->code_version) || weft__sq_column_dup(st, 8, &r->payload);
}

int weft__sq_asset_list(struct weft_store *s, const char *q, const char *after, int limit,
                        struct weft_asset_list *out, weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s,
                   "SELECT " ASSET_COLUMNS " FROM assets WHERE (?1 IS NULL OR "
                   "instr(asset, ?1) > 0) AND (?2 IS NULL OR asset > ?2) ORDER BY asset "
                   "LIMIT ?3",
                   &st, "asset list", err),
      src;
  if (rc) return rc;
  if (q) sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
  if (after) sqlite3_bind_text(st, 2, after, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, limit);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_asset_row *r = weft__store_list_push((void **)&out->v, &out->n, sizeof *r);
    if (!r || read_asset(st, r)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "asset list: out of memory");
      goto done;
    }
  }
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "asset list");
done:
  sqlite3_finalize(st);
  if (rc) weft_asset_list_release(out);
  return rc;
}

int weft__sq_asset_get(struct weft_store *s, const char *asset, struct weft_asset_row *out,
                       weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s, "SELECT " ASSET_COLUMNS " FROM assets WHERE asset = ?1", &st,
                   "asset get", err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, asset, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    if (read_asset(st, out)) rc = weft_error_set(err, WEFT_ENOMEM, "asset get: out of memory");
  } else if (src == SQLITE_DONE) {
    rc = weft_error_set(err, WEFT_ENOTFOUND, "asset %s was never materialized", asset);
  } else {
    rc = weft__sq_error(Q(s), err, src, "asset get %s", asset);
  }
  sqlite3_finalize(st);
  if (rc) weft_asset_row_release(out);
  return rc;
}

int weft__sq_asset_history(struct weft_store *s, const char *asset, const char *kind,
                           int64_t before_id, int limit, struct weft_asset_event_list *out,
                           weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s,
                   "SELECT " EVENT_COLUMNS " FROM asset_events WHERE asset = ?1 AND "
                   "(?2 IS NULL OR kind = ?2) AND (?3 <= 0 OR id < ?3) ORDER BY id DESC "
                   "LIMIT ?4",
                   &st, "asset history", err),
      src;
  if (rc) return rc;
  sqlite3_bind_text(st, 1, asset, -1, SQLITE_STATIC);
  if (kind) sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, before_id);
  sqlite3_bind_int(st, 4, limit);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_asset_event_row *e = weft__store_list_push((void **)&out->v, &out->n, sizeof *e);
    if (!e || weft__sq_column_dup(st, 2, &e->asset) || weft__sq_column_dup(st, 3, &e->kind) ||
        weft__sq_column_dup(st, 4, &e->name) || weft__sq_column_dup(st, 6, &e->run_id) ||
        weft__sq_column_dup(st, 7, &e->job) || weft__sq_column_dup(st, 8, &e->step) ||
        weft__sq_column_dup(st, 9, &e->partition_key) ||
        weft__sq_column_dup(st, 10, &e->code_version) || weft__sq_column_dup(st, 12, &e->payload)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "asset history: out of memory");
      goto done;
    }
    e->id = sqlite3_column_int64(st, 0);
    e->event_id = sqlite3_column_int64(st, 1);
    e->passed = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5) != 0;
    e->ts_ms = sqlite3_column_int64(st, 11);
  }
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "asset history");
done:
  sqlite3_finalize(st);
  if (rc) weft_asset_event_list_release(out);
  return rc;
}

int weft__sq_asset_partitions(struct weft_store *s, const char *asset, struct weft_kv_list *out,
                              weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s,
                   "SELECT partition_key, CAST(last_id AS TEXT), ts_ms FROM asset_partitions "
                   "WHERE asset = ?1 ORDER BY partition_key",
                   &st, "asset partitions", err),
      src;
  if (rc) return rc;
  sqlite3_bind_text(st, 1, asset, -1, SQLITE_STATIC);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_kv_row *r = weft__store_list_push((void **)&out->v, &out->n, sizeof *r);
    if (!r || weft__sq_column_dup(st, 0, &r->key) || weft__sq_column_dup(st, 1, &r->value)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "asset partitions: out of memory");
      goto done;
    }
    r->updated_ms = sqlite3_column_int64(st, 2);
  }
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "asset partitions");
done:
  sqlite3_finalize(st);
  if (rc) weft_kv_list_release(out);
  return rc;
}

int weft__sq_asset_event_add(struct weft_store *s, struct weft_asset_event_row *ev,
                             weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s,
                   "INSERT INTO asset_events (asset, kind, name, job, ts_ms, payload) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                   &st, "asset event", err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, ev->asset, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, ev->kind, -1, SQLITE_STATIC);
  if (ev->name) sqlite3_bind_text(st, 3, ev->name, -1, SQLITE_STATIC);
  if (ev->job) sqlite3_bind_text(st, 4, ev->job, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, ev->ts_ms ? ev->ts_ms : weft_clock_wall_ms());
  sqlite3_bind_text(st, 6, ev->payload ? ev->payload : "{}", -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE)
    rc = weft__sq_error(Q(s), err, src, "asset event %s", ev->asset);
  else
    ev->id = sqlite3_last_insert_rowid(Q(s)->db);
  sqlite3_finalize(st);
  return rc;
}
