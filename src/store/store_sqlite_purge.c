/* store_sqlite_purge.c: the SQLite side of runs search and retention: a
 * search built per call, the scan for purge candidates, run marks (pins),
 * event purges in bounded batches and run deletion. Statements are
 * prepared per call: these are maintenance paths, not the hot ones. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/store_sqlite.h"
#include "util/buf.h"
#include "util/clock.h"

#define Q(s) ((struct weft__sq_store *)(s))

static int prepare(struct weft_store *s, const char *sql, sqlite3_stmt **st, const char *op,
                   weft_error *err) {
  int src = sqlite3_prepare_v2(Q(s)->db, sql, -1, st, NULL);
  return src == SQLITE_OK ? WEFT_OK : weft__sq_error(Q(s), err, src, "%s: prepare", op);
}

/* Runs a write statement bound to run_id (?1) and, when limit > 0, limit
 * (?2); *changes (may be NULL) gets the rows it changed. */
static int exec_run(struct weft_store *s, const char *sql, const char *run_id, int limit,
                    int64_t *changes, const char *op, weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s, sql, &st, op, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  if (limit > 0) sqlite3_bind_int(st, 2, limit);
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "%s", op);
  else if (changes) *changes = sqlite3_changes64(Q(s)->db);
  sqlite3_finalize(st);
  return rc;
}

/* ---- search ---------------------------------------------------------------- */

int weft__sq_run_search(struct weft_store *s, const struct weft_run_search *q,
                        struct weft_run_list *out, weft_error *err) {
  struct weft_buf sql = WEFT_BUF_INIT;
  sqlite3_stmt *st = NULL;
  int rc = WEFT_OK, src, n = 0;
  weft_buf_adds(&sql, "SELECT " WEFT__SQ_RUN_COLUMNS " FROM runs WHERE 1");
  if (q->job) weft_buf_adds(&sql, " AND job = ?");
  if (q->location) weft_buf_adds(&sql, " AND location = ?");
  if (q->status_mask) {
    weft_buf_adds(&sql, " AND status IN (''");
    for (int i = 0; i < WEFT_RUN__COUNT; i++)
      if (q->status_mask & (1 << i)) weft_buf_adds(&sql, ", ?");
    weft_buf_adds(&sql, ")");
  }
  if (q->id_prefix && *q->id_prefix) weft_buf_adds(&sql, " AND substr(id, 1, length(?)) = ?");
  /* The path is bound as a parameter, '$."KEY"', so a key needs no quoting
   * beyond its own double quotes (the wrapper refuses keys holding one). */
  for (size_t i = 0; i < q->n_tags; i++)
    weft_buf_adds(&sql, " AND json_valid(tags) AND json_extract(tags, ?) = ?");
  if (q->since_ms) weft_buf_adds(&sql, " AND created_ms >= ?");
  if (q->until_ms) weft_buf_adds(&sql, " AND created_ms < ?");
  if (q->before_id) weft_buf_adds(&sql, " AND (created_ms, id) < (?, ?)");
  if (weft_buf_adds(&sql, " ORDER BY created_ms DESC, id DESC LIMIT ?")) {
    rc = weft_error_set(err, WEFT_ENOMEM, "run search: out of memory");
    goto done;
  }
  if ((rc = prepare(s, sql.ptr, &st, "run search", err))) goto done;
  if (q->job) sqlite3_bind_text(st, ++n, q->job, -1, SQLITE_STATIC);
  if (q->location) sqlite3_bind_text(st, ++n, q->location, -1, SQLITE_STATIC);
  for (int i = 0; q->status_mask && i < WEFT_RUN__COUNT; i++)
    if (q->status_mask & (1 << i))
      sqlite3_bind_text(st, ++n, weft_run_status_name((enum weft_run_status)i), -1,
                        SQLITE_STATIC);
  if (q->id_prefix && *q->id_prefix) {
    sqlite3_bind_text(st, ++n, q->id_prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, ++n, q->id_prefix, -1, SQLITE_STATIC);
  }
  for (size_t i = 0; i < q->n_tags; i++) {
    char *path = NULL;
    size_t len = strlen(q->tag_keys[i]);
    if (!(path = malloc(len + 5))) {
      rc = weft_error_set(err, WEFT_ENOMEM, "run search: out of memory");
      goto done;
    }
    memcpy(path, "$.\"", 3);
    memcpy(path + 3, q->tag_keys[i], len);
    memcpy(path + 3 + len, "\"", 2);
    sqlite3_bind_text(st, ++n, path, -1, free);
    sqlite3_bind_text(st, ++n, q->tag_values[i], -1, SQLITE_STATIC);
  }
  if (q->since_ms) sqlite3_bind_int64(st, ++n, q->since_ms);
  if (q->until_ms) sqlite3_bind_int64(st, ++n, q->until_ms);
  if (q->before_id) {
    sqlite3_bind_int64(st, ++n, q->before_created_ms);
    sqlite3_bind_text(st, ++n, q->before_id, -1, SQLITE_STATIC);
  }
  sqlite3_bind_int(st, ++n, q->limit > 0 ? q->limit : 50);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_run_row *r = weft__store_list_push((void **)&out->v, &out->n, sizeof *r);
    if (!r) {
      rc = weft_error_set(err, WEFT_ENOMEM, "run search: out of memory");
      goto done;
    }
    if ((rc = weft__sq_read_run(Q(s), st, r, err))) goto done;
  }
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "run search");
done:
  sqlite3_finalize(st);
  weft_buf_release(&sql);
  if (rc) weft_run_list_release(out);
  return rc;
}

/* ---- retention ------------------------------------------------------------- */

int weft__sq_retention_scan(struct weft_store *s, int64_t ended_before, int64_t after_ended_ms,
                            const char *after_id, int limit,
                            struct weft_retention_cand_list *out, weft_error *err) {
  static const char sql[] =
      "SELECT r.id, r.job, r.status, r.created_ms, r.ended_ms, coalesce(m.pinned, 0), "
      "coalesce(m.purged, 0), (SELECT count(*) FROM runs c WHERE c.parent_run_id = r.id), "
      "r.parent_run_id FROM runs r LEFT JOIN run_marks m ON m.run_id = r.id "
      "WHERE r.status IN ('success', 'failure', 'canceled') AND r.ended_ms > 0 "
      "AND r.ended_ms < ?1 AND (r.ended_ms, r.id) > (?2, ?3) "
      "ORDER BY r.ended_ms, r.id LIMIT ?4";
  sqlite3_stmt *st = NULL;
  int rc = prepare(s, sql, &st, "retention scan", err), src;
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, ended_before);
  sqlite3_bind_int64(st, 2, after_id ? after_ended_ms : -1);
  sqlite3_bind_text(st, 3, after_id ? after_id : "", -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, limit);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_retention_cand *c = weft__store_list_push((void **)&out->v, &out->n, sizeof *c);
    if (!c || weft__sq_column_dup(st, 0, &c->id) || weft__sq_column_dup(st, 1, &c->job) ||
        weft__sq_column_dup(st, 8, &c->parent_run_id)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "retention scan: out of memory");
      goto done;
    }
    if (weft_run_status_parse((const char *)sqlite3_column_text(st, 2), &c->status)) {
      rc = weft_error_set(err, WEFT_ESTORE, "retention scan: run %s has an unknown status",
                          c->id);
      goto done;
    }
    c->created_ms = sqlite3_column_int64(st, 3);
    c->ended_ms = sqlite3_column_int64(st, 4);
    c->pinned = sqlite3_column_int(st, 5) != 0;
    c->purged = (unsigned)sqlite3_column_int(st, 6);
    c->children = sqlite3_column_int64(st, 7);
  }
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "retention scan");
done:
  sqlite3_finalize(st);
  if (rc) weft_retention_cand_list_release(out);
  return rc;
}

int weft__sq_run_mark_get(struct weft_store *s, const char *run_id, int *pinned,
                          unsigned *purged, weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s, "SELECT pinned, purged FROM run_marks WHERE run_id = ?1", &st,
                   "run marks", err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    *pinned = sqlite3_column_int(st, 0) != 0;
    *purged = (unsigned)sqlite3_column_int(st, 1);
  } else if (src != SQLITE_DONE) {
    rc = weft__sq_error(Q(s), err, src, "run marks of %s", run_id);
  }
  sqlite3_finalize(st);
  return rc;
}

int weft__sq_run_mark_set(struct weft_store *s, const char *run_id, int pinned,
                          unsigned purged_add, weft_error *err) {
  static const char sql[] =
      "INSERT INTO run_marks (run_id, pinned, purged, updated_ms) "
      "SELECT id, max(?2, 0), ?3, ?4 FROM runs WHERE id = ?1 "
      "ON CONFLICT (run_id) DO UPDATE SET "
      "pinned = CASE WHEN ?2 < 0 THEN pinned ELSE ?2 END, "
      "purged = purged | ?3, updated_ms = ?4";
  sqlite3_stmt *st = NULL;
  int rc = prepare(s, sql, &st, "run marks", err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, pinned < 0 ? -1 : pinned != 0);
  sqlite3_bind_int(st, 3, (int)purged_add);
  sqlite3_bind_int64(st, 4, weft_clock_wall_ms());
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE)
    rc = weft__sq_error(Q(s), err, src, "run marks of %s", run_id);
  else if (sqlite3_changes(Q(s)->db) == 0)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "no run %s", run_id);
  sqlite3_finalize(st);
  return rc;
}

/* The summary rows of a set of a run's events (SEL: ids of events). */
#define MAT_COPY(SEL)                                                            \
  "INSERT OR IGNORE INTO materializations (id, asset, run_id, job, step, ts_ms, " \
  "payload) SELECT e.id, json_extract(e.payload, '$.asset'), e.run_id, "         \
  "(SELECT job FROM runs WHERE id = e.run_id), e.step, e.ts_ms, e.payload "      \
  "FROM events e WHERE e.id IN (" SEL ") AND e.type = 'materialization' "         \
  "AND json_valid(e.payload) AND json_type(e.payload, '$.asset') = 'text'"
#define SEL_ALL "SELECT id FROM events WHERE run_id = ?1 ORDER BY id LIMIT ?2"
#define SEL_DEBUG                                                           \
  "SELECT id FROM events WHERE run_id = ?1 AND type = 'log' AND "           \
  "CASE WHEN json_valid(payload) THEN json_extract(payload, '$.level') END " \
  "= 'debug' ORDER BY id LIMIT ?2"

int weft__sq_event_purge(struct weft_store *s, const char *run_id,
                         enum weft_event_purge_kind kind, int limit, int64_t *n,
                         weft_error *err) {
  int rc = WEFT_OK;
  if (kind == WEFT_EVENTS_ALL)
    rc = exec_run(s, MAT_COPY(SEL_ALL), run_id, limit, NULL, "event purge", err);
  if (!rc)
    rc = exec_run(s,
                  kind == WEFT_EVENTS_ALL ? "DELETE FROM events WHERE id IN (" SEL_ALL ")"
                                          : "DELETE FROM events WHERE id IN (" SEL_DEBUG ")",
                  run_id, limit, n, "event purge", err);
  return rc;
}

int weft__sq_event_count(struct weft_store *s, const char *run_id,
                         enum weft_event_purge_kind kind, int64_t *n, weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s,
                   kind == WEFT_EVENTS_ALL
                       ? "SELECT count(*) FROM events WHERE run_id = ?1"
                       : "SELECT count(*) FROM events WHERE run_id = ?1 AND type = 'log' AND "
                         "CASE WHEN json_valid(payload) THEN json_extract(payload, "
                         "'$.level') END = 'debug'",
                   &st, "event count", err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
  else rc = weft__sq_error(Q(s), err, src, "event count of %s", run_id);
  sqlite3_finalize(st);
  return rc;
}

int weft__sq_run_delete(struct weft_store *s, const char *run_id, int64_t *n_steps,
                        weft_error *err) {
  static const char check[] =
      "SELECT r.status, coalesce(m.pinned, 0), "
      "(SELECT count(*) FROM runs c WHERE c.parent_run_id = r.id) "
      "FROM runs r LEFT JOIN run_marks m ON m.run_id = r.id WHERE r.id = ?1";
  sqlite3_stmt *st = NULL;
  enum weft_run_status status = WEFT_RUN_QUEUED;
  int pinned = 0, rc = prepare(s, check, &st, "run delete", err), src;
  int64_t children = 0;
  *n_steps = 0;
  if (rc) return rc;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    weft_run_status_parse((const char *)sqlite3_column_text(st, 0), &status);
    pinned = sqlite3_column_int(st, 1);
    children = sqlite3_column_int64(st, 2);
  }
  sqlite3_finalize(st);
  if (src == SQLITE_DONE) return weft_error_set(err, WEFT_ENOTFOUND, "no run %s", run_id);
  if (src != SQLITE_ROW) return weft__sq_error(Q(s), err, src, "run delete %s", run_id);
  if (!weft_run_status_is_final(status))
    return weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, not finished", run_id,
                          weft_run_status_name(status));
  if (pinned) return weft_error_set(err, WEFT_ECONFLICT, "run %s is pinned", run_id);
  if (children)
    return weft_error_set(err, WEFT_ECONFLICT, "run %s has %lld re-execution%s", run_id,
                          (long long)children, children == 1 ? "" : "s");
  if ((rc = exec_run(s, MAT_COPY("SELECT id FROM events WHERE run_id = ?1"), run_id, 0, NULL,
                     "run delete", err)) ||
      (rc = exec_run(s, "DELETE FROM events WHERE run_id = ?1", run_id, 0, NULL, "run delete",
                     err)) ||
      (rc = exec_run(s, "DELETE FROM steps WHERE run_id = ?1", run_id, 0, n_steps,
                     "run delete", err)) ||
      (rc = exec_run(s, "DELETE FROM run_marks WHERE run_id = ?1", run_id, 0, NULL,
                     "run delete", err)) ||
      /* a range of the key index: 'hooks/RUN0' is where 'hooks/RUN/' ends */
      (rc = exec_run(s, "DELETE FROM kv WHERE key >= 'hooks/' || ?1 || '/' "
                        "AND key < 'hooks/' || ?1 || '0' "
                        "AND substr(key, 1, length('hooks/' || ?1 || '/')) = 'hooks/' || ?1 || '/'",
                     run_id, 0, NULL, "run delete", err)) ||
      (rc = exec_run(s, "DELETE FROM runs WHERE id = ?1", run_id, 0, NULL, "run delete", err)))
    return rc;
  return WEFT_OK;
}

int weft__sq_materialization_list(struct weft_store *s, const char *asset, int64_t after_id,
                                  int limit, struct weft_event_list *out, weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(s,
                   "SELECT id, run_id, step, ts_ms, payload FROM materializations "
                   "WHERE (?1 IS NULL OR asset = ?1) AND id > ?2 ORDER BY id "
                   "LIMIT CASE WHEN ?3 > 0 THEN ?3 ELSE -1 END",
                   &st, "materialization list", err),
      src;
  if (rc) return rc;
  if (asset) sqlite3_bind_text(st, 1, asset, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, after_id);
  sqlite3_bind_int(st, 3, limit);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_event_row *e = weft__store_list_push((void **)&out->v, &out->n, sizeof *e);
    if (!e || weft__sq_column_dup(st, 1, &e->run_id) || weft__sq_column_dup(st, 2, &e->step) ||
        weft__sq_column_dup(st, 4, &e->payload) || !(e->type = strdup("materialization"))) {
      rc = weft_error_set(err, WEFT_ENOMEM, "materialization list: out of memory");
      goto done;
    }
    e->id = sqlite3_column_int64(st, 0);
    e->ts_ms = sqlite3_column_int64(st, 3);
  }
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "materialization list");
done:
  sqlite3_finalize(st);
  if (rc) weft_event_list_release(out);
  return rc;
}
