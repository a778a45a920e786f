/* store_pg_purge.c: the PostgreSQL side of runs search and retention, with
 * the same results and error codes as SQLite's (store_sqlite_purge.c).
 * Writes go through weft__pg_write_begin/end like every other write, so
 * each batch is one short transaction under the store's write lock: a
 * purge holds it for one batch at a time, never for a whole run. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/clock.h"

#define P(s) ((struct weft__pg_store *)(s))

/* Copies the materialization events among the ids of D (a CTE) to the
 * summary table. */
#define MAT_COPY                                                                 \
  "m AS (INSERT INTO materializations (id, asset, run_id, job, step, ts_ms, "     \
  "payload) SELECT e.id, e.payload::jsonb ->> 'asset', e.run_id, "               \
  "(SELECT job FROM runs WHERE id = e.run_id), e.step, e.ts_ms, e.payload "      \
  "FROM events e WHERE e.id IN (SELECT id FROM d) AND e.type = 'materialization' " \
  "AND jsonb_typeof(e.payload::jsonb -> 'asset') = 'string' "                     \
  "ON CONFLICT (id) DO NOTHING) "
#define IS_DEBUG "type = 'log' AND payload::jsonb ->> 'level' = 'debug'"

const char *const weft__pg_extra_sql[WEFT__PG__COUNT - WEFT__PG_EXTRA_FIRST] = {
    /* One statement whatever the filters: a search is rare next to the
     * run list, and the NULL tests keep it one prepared plan. */
    [WEFT__PG_RUN_SEARCH - WEFT__PG_EXTRA_FIRST] =
        "SELECT " WEFT__PG_RUN_COLUMNS " FROM runs WHERE ($1::text IS NULL OR job = $1) "
        "AND ($2::text IS NULL OR location = $2) "
        "AND ($3::text[] IS NULL OR status = ANY ($3::text[])) "
        "AND ($4::text IS NULL OR left(id, length($4)) = $4) "
        "AND ($5::jsonb IS NULL OR tags::jsonb @> $5::jsonb) "
        "AND ($6::int8 IS NULL OR created_ms >= $6::int8) "
        "AND ($7::int8 IS NULL OR created_ms < $7::int8) "
        "AND ($9::text IS NULL OR (created_ms, id) < ($8::int8, $9)) "
        "ORDER BY created_ms DESC, id DESC LIMIT $10::int",
    [WEFT__PG_RETENTION_SCAN - WEFT__PG_EXTRA_FIRST] =
        "SELECT r.id, r.job, r.status, r.created_ms, r.ended_ms, coalesce(m.pinned, 0), "
        "coalesce(m.purged, 0), (SELECT count(*) FROM runs c WHERE c.parent_run_id = r.id), "
        "r.parent_run_id FROM runs r LEFT JOIN run_marks m ON m.run_id = r.id "
        "WHERE r.status IN ('success', 'failure', 'canceled') AND r.ended_ms > 0 "
        "AND r.ended_ms < $1::int8 AND (r.ended_ms, r.id) > ($2::int8, $3) "
        "ORDER BY r.ended_ms, r.id LIMIT $4::int",
    [WEFT__PG_MARK_GET - WEFT__PG_EXTRA_FIRST] =
        "SELECT pinned, purged FROM run_marks WHERE run_id = $1",
    [WEFT__PG_MARK_SET - WEFT__PG_EXTRA_FIRST] =
        "INSERT INTO run_marks (run_id, pinned, purged, updated_ms) "
        "SELECT id, greatest($2::int, 0), $3::int, $4::int8 FROM runs WHERE id = $1 "
        "ON CONFLICT (run_id) DO UPDATE SET pinned = CASE WHEN $2::int < 0 "
        "THEN run_marks.pinned ELSE $2::int END, purged = run_marks.purged | $3::int, "
        "updated_ms = $4::int8",
    [WEFT__PG_EVENT_PURGE_ALL - WEFT__PG_EXTRA_FIRST] =
        "WITH d AS (SELECT id FROM events WHERE run_id = $1 ORDER BY id LIMIT $2::int), " MAT_COPY
        "DELETE FROM events WHERE id IN (SELECT id FROM d)",
    [WEFT__PG_EVENT_PURGE_DEBUG - WEFT__PG_EXTRA_FIRST] =
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE run_id = $1 AND " IS_DEBUG
        " ORDER BY id LIMIT $2::int)",
    [WEFT__PG_EVENT_COUNT_ALL - WEFT__PG_EXTRA_FIRST] =
        "SELECT count(*) FROM events WHERE run_id = $1",
    [WEFT__PG_EVENT_COUNT_DEBUG - WEFT__PG_EXTRA_FIRST] =
        "SELECT count(*) FROM events WHERE run_id = $1 AND " IS_DEBUG,
    [WEFT__PG_RUN_DELETE_CHECK - WEFT__PG_EXTRA_FIRST] =
        "SELECT r.status, coalesce(m.pinned, 0), "
        "(SELECT count(*) FROM runs c WHERE c.parent_run_id = r.id) "
        "FROM runs r LEFT JOIN run_marks m ON m.run_id = r.id WHERE r.id = $1",
    [WEFT__PG_RUN_DELETE_EVENTS - WEFT__PG_EXTRA_FIRST] =
        "WITH d AS (SELECT id FROM events WHERE run_id = $1), " MAT_COPY
        "DELETE FROM events WHERE id IN (SELECT id FROM d)",
    [WEFT__PG_RUN_DELETE_STEPS - WEFT__PG_EXTRA_FIRST] = "DELETE FROM steps WHERE run_id = $1",
    [WEFT__PG_RUN_DELETE_REST - WEFT__PG_EXTRA_FIRST] =
        "WITH a AS (DELETE FROM run_marks WHERE run_id = $1), "
        /* a range of the key index: 'hooks/RUN0' is where 'hooks/RUN/' ends */
        "b AS (DELETE FROM kv WHERE key >= 'hooks/' || $1 || '/' "
        "AND key < 'hooks/' || $1 || '0' "
        "AND left(key, length('hooks/' || $1 || '/')) = 'hooks/' || $1 || '/') "
        "DELETE FROM runs WHERE id = $1",
    [WEFT__PG_MAT_LIST - WEFT__PG_EXTRA_FIRST] =
        "SELECT id, run_id, step, ts_ms, payload FROM materializations "
        "WHERE ($1::text IS NULL OR asset = $1) AND id > $2::int8 ORDER BY id "
        "LIMIT nullif($3::int8, 0)",
    [WEFT__PG_ASSET_LIST - WEFT__PG_EXTRA_FIRST] = WEFT__PG_ASSET_SQL_LIST,
    [WEFT__PG_ASSET_GET - WEFT__PG_EXTRA_FIRST] = WEFT__PG_ASSET_SQL_GET,
    [WEFT__PG_ASSET_HISTORY - WEFT__PG_EXTRA_FIRST] = WEFT__PG_ASSET_SQL_HISTORY,
    [WEFT__PG_ASSET_PARTITIONS - WEFT__PG_EXTRA_FIRST] = WEFT__PG_ASSET_SQL_PARTITIONS,
    [WEFT__PG_ASSET_EVENT_ADD - WEFT__PG_EXTRA_FIRST] = WEFT__PG_ASSET_SQL_EVENT_ADD,
    [WEFT__PG_LEASE_CLAIM - WEFT__PG_EXTRA_FIRST] =
        "INSERT INTO run_leases (run_id, owner, expires_ms, acquired_ms) "
        "VALUES ($1, $2, $3::int8 + $4::int8, $3::int8) ON CONFLICT (run_id) DO UPDATE SET "
        "owner = excluded.owner, expires_ms = excluded.expires_ms, "
        "acquired_ms = CASE WHEN run_leases.owner = excluded.owner "
        "THEN run_leases.acquired_ms ELSE excluded.acquired_ms END "
        "WHERE run_leases.owner = excluded.owner "
        "OR ($5::text IS NULL AND run_leases.expires_ms <= $3::int8) "
        "OR run_leases.owner = $5::text",
    [WEFT__PG_LEASE_RENEW - WEFT__PG_EXTRA_FIRST] =
        "UPDATE run_leases SET expires_ms = $2::int8 + $3::int8 WHERE owner = $1 "
        "RETURNING run_id, owner, expires_ms, acquired_ms",
    [WEFT__PG_LEASE_RELEASE - WEFT__PG_EXTRA_FIRST] =
        "DELETE FROM run_leases WHERE run_id = $1 AND owner = $2",
    [WEFT__PG_LEASE_GET - WEFT__PG_EXTRA_FIRST] =
        "SELECT run_id, owner, expires_ms, acquired_ms FROM run_leases WHERE run_id = $1",
    /* WEFT__PG_LEASE_CLAIM's rule with no steal_from, for the runs of $1
     * still queued: rows (id, 'q') for each of those, (id, 'c') for each
     * it claimed. */
    [WEFT__PG_LEASE_CLAIM_MANY - WEFT__PG_EXTRA_FIRST] =
        "WITH q AS (SELECT r.id FROM runs r WHERE r.id = ANY ($1::text[]) "
        "AND r.status = 'queued'), "
        "c AS (INSERT INTO run_leases (run_id, owner, expires_ms, acquired_ms) "
        "SELECT id, $2, $3::int8 + $4::int8, $3::int8 FROM q ON CONFLICT (run_id) DO UPDATE SET "
        "owner = excluded.owner, expires_ms = excluded.expires_ms, "
        "acquired_ms = CASE WHEN run_leases.owner = excluded.owner "
        "THEN run_leases.acquired_ms ELSE excluded.acquired_ms END "
        "WHERE run_leases.owner = excluded.owner OR run_leases.expires_ms <= $3::int8 "
        "RETURNING run_id) "
        "SELECT id, 'q' FROM q UNION ALL SELECT run_id, 'c' FROM c",
    [WEFT__PG_LEASE_RELEASE_MANY - WEFT__PG_EXTRA_FIRST] =
        "DELETE FROM run_leases WHERE run_id = ANY ($1::text[]) AND owner = $2",
    /* As WEFT__PG_RUN_UPDATE, a row per element; the ids it returns tell
     * which runs were missing. */
    [WEFT__PG_RUN_UPDATE_MANY - WEFT__PG_EXTRA_FIRST] =
        "UPDATE runs AS r SET status = v.status, message = v.message, "
        "started_ms = v.started_ms, ended_ms = v.ended_ms, coordinator = v.coordinator, "
        "heartbeat_ms = v.heartbeat_ms FROM unnest($1::text[], $2::text[], $3::text[], "
        "$4::int8[], $5::int8[], $6::text[], $7::int8[]) AS v (id, status, message, "
        "started_ms, ended_ms, coordinator, heartbeat_ms) WHERE r.id = v.id RETURNING r.id",
    [WEFT__PG_RUN_INSERT_MANY - WEFT__PG_EXTRA_FIRST] =
        "INSERT INTO runs (" WEFT__PG_RUN_COLUMNS ") SELECT * FROM unnest($1::text[], "
        "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
        "$9::text[], $10::text[], $11::int8[], $12::int8[], $13::int8[], $14::text[], "
        "$15::int8[]) ON CONFLICT (id) DO NOTHING RETURNING id",
    [WEFT__PG_KV_SWAP_MANY - WEFT__PG_EXTRA_FIRST] =
        "UPDATE kv SET value = v.val, updated_ms = $4::int8 FROM unnest($1::text[], "
        "$2::text[], $3::text[]) AS v (k, old, val) WHERE kv.key = v.k AND kv.value = v.old "
        "RETURNING kv.key",
};

static int nomem(struct weft__pg_store *p, weft_error *err, const char *op) {
  return weft_error_set(err, WEFT_ENOMEM, "%s: %s: out of memory", p->where, op);
}

/* One write statement in a write transaction of its own or the caller's;
 * *changed (may be NULL) gets the rows it changed. */
static int write1(struct weft__pg_store *p, int stmt, int n, const char *const *params,
                  int64_t *changed, const char *op, weft_error *err) {
  PGresult *res = NULL;
  int implicit, rc = weft__pg_write_begin(p, &implicit, err);
  if (rc) return rc;
  rc = weft__pg_exec(p, stmt, n, params, &res, op, err);
  rc = weft__pg_write_end(p, implicit, rc, &res, err);
  if (!rc && changed) *changed = strtoll(PQcmdTuples(res), NULL, 10);
  PQclear(res);
  return rc;
}

int weft__pg_run_search(struct weft_store *s, const struct weft_run_search *q,
                        struct weft_run_list *out, weft_error *err) {
  char since[24], until[24], before[24], limit[24], *statuses = NULL, *tags = NULL;
  const char *names[WEFT_RUN__COUNT];
  PGresult *res = NULL;
  json_t *t = NULL;
  int rc = WEFT_OK;
  if (q->status_mask) {
    size_t k = 0;
    for (int i = 0; i < WEFT_RUN__COUNT; i++)
      if (q->status_mask & (1 << i)) names[k++] = weft_run_status_name((enum weft_run_status)i);
    if (!(statuses = weft__pg_text_array(names, k))) goto oom;
  }
  if (q->n_tags) {
    if (!(t = json_object())) goto oom;
    for (size_t i = 0; i < q->n_tags; i++)
      if (json_object_set_new(t, q->tag_keys[i], json_string(q->tag_values[i]))) goto oom;
    if (!(tags = json_dumps(t, JSON_COMPACT))) goto oom;
  }
  const char *params[10] = {
      q->job,
      q->location,
      statuses,
      q->id_prefix && *q->id_prefix ? q->id_prefix : NULL,
      tags,
      q->since_ms ? weft__pg_i64(since, q->since_ms) : NULL,
      q->until_ms ? weft__pg_i64(until, q->until_ms) : NULL,
      weft__pg_i64(before, q->before_created_ms),
      q->before_id,
      weft__pg_i64(limit, q->limit > 0 ? q->limit : 50)};
  if ((rc = weft__pg_exec(P(s), WEFT__PG_RUN_SEARCH, 10, params, &res, "run search", err)))
    goto done;
  int n = PQntuples(res);
  if (n > 0 && !(out->v = calloc((size_t)n, sizeof *out->v))) goto oom;
  for (int i = 0; i < n; i++) {
    if ((rc = weft__pg_read_run(P(s), res, i, &out->v[i], err))) goto done;
    out->n++;
  }
  goto done;
oom:
  rc = nomem(P(s), err, "run search");
done:
  PQclear(res);
  json_decref(t);
  free(tags);
  free(statuses);
  if (rc) weft_run_list_release(out);
  return rc;
}

int weft__pg_retention_scan(struct weft_store *s, int64_t ended_before, int64_t after_ended_ms,
                            const char *after_id, int limit,
                            struct weft_retention_cand_list *out, weft_error *err) {
  char before[24], after[24], lim[24];
  const char *params[4] = {weft__pg_i64(before, ended_before), weft__pg_i64(after, after_id ? after_ended_ms : -1),
                           after_id ? after_id : "", weft__pg_i64(lim, limit)};
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s), WEFT__PG_RETENTION_SCAN, 4, params, &res, "retention scan", err);
  if (rc) return rc;
  int n = PQntuples(res);
  if (n > 0 && !(out->v = calloc((size_t)n, sizeof *out->v))) {
    rc = nomem(P(s), err, "retention scan");
    goto done;
  }
  for (int i = 0; i < n; i++) {
    struct weft_retention_cand *c = &out->v[i];
    out->n++;
    if (weft__pg_get_dup(res, i, 0, &c->id) || weft__pg_get_dup(res, i, 1, &c->job) ||
        weft__pg_get_dup(res, i, 8, &c->parent_run_id)) {
      rc = nomem(P(s), err, "retention scan");
      goto done;
    }
    if (weft_run_status_parse(PQgetvalue(res, i, 2), &c->status)) {
      rc = weft_error_set(err, WEFT_ESTORE, "%s: run %s has an unknown status", P(s)->where,
                          c->id);
      goto done;
    }
    c->created_ms = weft__pg_get_i64(res, i, 3);
    c->ended_ms = weft__pg_get_i64(res, i, 4);
    c->pinned = weft__pg_get_i64(res, i, 5) != 0;
    c->purged = (unsigned)weft__pg_get_i64(res, i, 6);
    c->children = weft__pg_get_i64(res, i, 7);
  }
done:
  PQclear(res);
  if (rc) weft_retention_cand_list_release(out);
  return rc;
}

int weft__pg_run_mark_get(struct weft_store *s, const char *run_id, int *pinned,
                          unsigned *purged, weft_error *err) {
  const char *params[1] = {run_id};
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s), WEFT__PG_MARK_GET, 1, params, &res, "run marks", err);
  if (!rc && PQntuples(res) > 0) {
    *pinned = weft__pg_get_i64(res, 0, 0) != 0;
    *purged = (unsigned)weft__pg_get_i64(res, 0, 1);
  }
  PQclear(res);
  return rc;
}

int weft__pg_run_mark_set(struct weft_store *s, const char *run_id, int pinned,
                          unsigned purged_add, weft_error *err) {
  char pin[24], add[24], now[24];
  const char *params[4] = {run_id, weft__pg_i64(pin, pinned < 0 ? -1 : pinned != 0),
                           weft__pg_i64(add, purged_add), weft__pg_i64(now, weft_clock_wall_ms())};
  int64_t changed = 0;
  int rc = write1(P(s), WEFT__PG_MARK_SET, 4, params, &changed, "run marks", err);
  if (!rc && changed == 0) rc = weft_error_set(err, WEFT_ENOTFOUND, "no run %s", run_id);
  return rc;
}

int weft__pg_event_purge(struct weft_store *s, const char *run_id,
                         enum weft_event_purge_kind kind, int limit, int64_t *n,
                         weft_error *err) {
  char lim[24];
  const char *params[2] = {run_id, weft__pg_i64(lim, limit)};
  return write1(P(s),
                kind == WEFT_EVENTS_ALL ? WEFT__PG_EVENT_PURGE_ALL : WEFT__PG_EVENT_PURGE_DEBUG,
                2, params, n, "event purge", err);
}

int weft__pg_event_count(struct weft_store *s, const char *run_id,
                         enum weft_event_purge_kind kind, int64_t *n, weft_error *err) {
  const char *params[1] = {run_id};
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s),
                         kind == WEFT_EVENTS_ALL ? WEFT__PG_EVENT_COUNT_ALL
                                                 : WEFT__PG_EVENT_COUNT_DEBUG,
                         1, params, &res, "event count", err);
  if (!rc) *n = weft__pg_get_i64(res, 0, 0);
  PQclear(res);
  return rc;
}

int weft__pg_run_delete(struct weft_store *s, const char *run_id, int64_t *n_steps,
                        weft_error *err) {
  const char *params[1] = {run_id};
  PGresult *res = NULL;
  int implicit, rc = weft__pg_write_begin(P(s), &implicit, err);
  *n_steps = 0;
  if (rc) return rc;
  /* Under the write lock, so nothing changes the run between the check
   * and the deletes. */
  if ((rc = weft__pg_exec(P(s), WEFT__PG_RUN_DELETE_CHECK, 1, params, &res, "run delete", err)))
    goto done;
  if (PQntuples(res) == 0) {
    rc = weft_error_set(err, WEFT_ENOTFOUND, "no run %s", run_id);
    goto done;
  }
  enum weft_run_status status = WEFT_RUN_QUEUED;
  weft_run_status_parse(PQgetvalue(res, 0, 0), &status);
  int64_t pinned = weft__pg_get_i64(res, 0, 1), children = weft__pg_get_i64(res, 0, 2);
  PQclear(res);
  res = NULL;
  if (!weft_run_status_is_final(status)) {
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, not finished", run_id,
                        weft_run_status_name(status));
    goto done;
  }
  if (pinned) {
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is pinned", run_id);
    goto done;
  }
  if (children) {
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s has %lld re-execution%s", run_id,
                        (long long)children, children == 1 ? "" : "s");
    goto done;
  }
  if ((rc = weft__pg_exec(P(s), WEFT__PG_RUN_DELETE_EVENTS, 1, params, &res, "run delete",
                          err)))
    goto done;
  PQclear(res);
  res = NULL;
  if ((rc = weft__pg_exec(P(s), WEFT__PG_RUN_DELETE_STEPS, 1, params, &res, "run delete", err)))
    goto done;
  *n_steps = strtoll(PQcmdTuples(res), NULL, 10);
  PQclear(res);
  res = NULL;
  rc = weft__pg_exec(P(s), WEFT__PG_RUN_DELETE_REST, 1, params, &res, "run delete", err);
done:
  rc = weft__pg_write_end(P(s), implicit, rc, &res, err);
  PQclear(res);
  return rc;
}

int weft__pg_materialization_list(struct weft_store *s, const char *asset, int64_t after_id,
                                  int limit, struct weft_event_list *out, weft_error *err) {
  char after[24], lim[24];
  const char *params[3] = {asset, weft__pg_i64(after, after_id), weft__pg_i64(lim, limit)};
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s), WEFT__PG_MAT_LIST, 3, params, &res, "materialization list", err);
  if (rc) return rc;
  int n = PQntuples(res);
  if (n > 0 && !(out->v = calloc((size_t)n, sizeof *out->v))) {
    rc = nomem(P(s), err, "materialization list");
    goto done;
  }
  for (int i = 0; i < n; i++) {
    struct weft_event_row *e = &out->v[i];
    out->n++;
    if (weft__pg_get_dup(res, i, 1, &e->run_id) || weft__pg_get_dup(res, i, 2, &e->step) ||
        weft__pg_get_dup(res, i, 4, &e->payload) || !(e->type = strdup("materialization"))) {
      rc = nomem(P(s), err, "materialization list");
      goto done;
    }
    e->id = weft__pg_get_i64(res, i, 0);
    e->ts_ms = weft__pg_get_i64(res, i, 3);
  }
done:
  PQclear(res);
  if (rc) weft_event_list_release(out);
  return rc;
}
