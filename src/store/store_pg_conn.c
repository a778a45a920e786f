/* store_pg_conn.c: the PostgreSQL backend's connection: prepared statements,
 * write transactions, reconnection and exactly-once replay (waiting for
 * notifications is store_pg_notify.c).
 *
 * Write transactions are serialized, as SQLite's BEGIN IMMEDIATE does it:
 * every write transaction, explicit (xBegin) or the implicit one a lone data
 * call gets, first takes one transaction-level advisory lock (WRITE_LOCK) and
 * holds it until COMMIT or ROLLBACK. This gives the two properties the
 * engine relies on:
 *  - a read-then-write inside a transaction is atomic (the coordinator
 *    re-reads its run inside the transaction so a cancel is not overwritten;
 *    READ COMMITTED alone would let a writer slip in between);
 *  - event ids become visible in id order. An identity column hands out ids
 *    when rows are inserted, not when they commit, so without the lock a
 *    reader could see id 11 committed while id 10 is still in flight and move
 *    its cursor past 10 for ever. Under the lock the next appender draws its
 *    ids only after the previous one has committed (postgres releases
 *    transaction locks after the commit is visible), so a cursor never skips.
 *
 * Exactly once across lost connections. Every write transaction has a number
 * (tx_seq) and writes it into this handle's row of tx_tokens, inside the
 * transaction. Every statement run in the transaction is kept in a journal:
 * the statement, its parameters and a digest of the result the caller saw.
 * When the link breaks (the server restarted, the socket died) the store
 * reconnects with bounded exponential backoff and, holding the write lock,
 * reads its tx_tokens row:
 *  - seq == tx_seq: the COMMIT went through before the link broke (its answer
 *    was lost): nothing to do, the transaction is done;
 *  - else the server rolled it back: the journal is run again in a new
 *    transaction, and each statement must give the same result as before
 *    (same rows read, same rows changed), or the replay is abandoned and the
 *    caller gets WEFT_ECONFLICT: it acted on data that has since changed.
 * Since the lock is held from BEGIN on, at most one transaction (with its
 * journal) is in flight at any time, and the token check cannot race with
 * the lost transaction itself: if its backend were still alive it would
 * still hold the lock. A replayed event append reuses the ids it handed out
 * when no later id has been committed meanwhile (the common case), so the
 * caller's ids stay true; otherwise it gets new, higher ids (order is kept)
 * and ids that an explicit transaction returned before the reconnect are
 * stale (a lone append returns its ids only once committed: always true).
 * Reads outside a transaction are simply run again after reconnecting.
 * Connecting and the retry policy are in store_pg_connect.c. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/buf.h"
#include "util/clock.h"

/* pg_advisory_xact_lock keys: "weft" and "weftmigr" in ASCII. */
#define WRITE_LOCK 0x77656674LL
#define LOST WEFT__PG_LOST

#define EVENT_VALUES \
  "unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[]"
#define EVENT_CHECK                                                            \
  "missing AS (SELECT v.run_id FROM v WHERE NOT EXISTS "                       \
  "(SELECT 1 FROM runs r WHERE r.id = v.run_id) LIMIT 1), "
#define EVENT_RESULT \
  " SELECT id, NULL::text FROM ins UNION ALL SELECT NULL, run_id FROM missing"

static const char *const stmt_sql[WEFT__PG_RUN_LIST] = {
    [WEFT__PG_RUN_INSERT] =
        "INSERT INTO runs (" WEFT__PG_RUN_COLUMNS ") VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11::int8, $12::int8, $13::int8, $14, $15::int8) "
        "ON CONFLICT (id) DO NOTHING",
    [WEFT__PG_RUN_UPDATE] =
        "UPDATE runs SET status = $2, message = $3, started_ms = $4::int8, "
        "ended_ms = $5::int8, coordinator = $6, heartbeat_ms = $7::int8 WHERE id = $1",
    [WEFT__PG_RUN_GET] = "SELECT " WEFT__PG_RUN_COLUMNS " FROM runs WHERE id = $1",
    [WEFT__PG_RUN_CREATED] = "SELECT created_ms FROM runs WHERE id = $1",
    [WEFT__PG_RUN_COUNT] = "SELECT status, count(*) FROM runs GROUP BY status",
    /* The EXISTS turns "no such run" into zero rows instead of a foreign key
     * error, which would abort the whole transaction (sqlite's would not). */
    /* Rows as column arrays, one statement for a batch; a row of a missing
     * run is not inserted, so fewer rows come back. */
    [WEFT__PG_STEP_PUT] =
        "INSERT INTO steps (run_id, step, attempt, status, started_ms, ended_ms, "
        "pid, message, worker) SELECT v.* FROM unnest($1::text[], $2::text[], "
        "$3::int[], $4::text[], $5::int8[], $6::int8[], $7::int[], $8::text[], "
        "$9::text[]) AS v (run_id, step, attempt, status, started_ms, ended_ms, pid, "
        "message, worker) WHERE EXISTS (SELECT 1 FROM runs WHERE id = v.run_id) "
        "ON CONFLICT (run_id, step, attempt) DO UPDATE SET "
        "status = excluded.status, started_ms = excluded.started_ms, "
        "ended_ms = excluded.ended_ms, pid = excluded.pid, "
        "message = excluded.message, worker = excluded.worker RETURNING run_id",
    [WEFT__PG_STEP_LIST] =
        "SELECT run_id, step, attempt, status, started_ms, ended_ms, pid, "
        "message, worker FROM steps WHERE run_id = $1 ORDER BY step, attempt",
    /* A batch in one statement: the arrays are unnested in order and ids are
     * drawn in that order (ORDER BY ord). A batch naming a missing run
     * inserts nothing and returns that run id instead. */
    [WEFT__PG_EVENT_APPEND] =
        "WITH v AS (SELECT * FROM " EVENT_VALUES ") WITH ORDINALITY AS "
        "v (run_id, step, type, ts_ms, payload, ord)), " EVENT_CHECK
        "ins AS (INSERT INTO events (run_id, step, type, ts_ms, payload) "
        "SELECT run_id, step, type, ts_ms, payload FROM v "
        "WHERE NOT EXISTS (SELECT 1 FROM missing) ORDER BY ord RETURNING id)" EVENT_RESULT,
    [WEFT__PG_EVENT_APPEND_IDS] =
        "WITH v AS (SELECT * FROM " EVENT_VALUES ", $6::int8[]) WITH ORDINALITY AS "
        "v (run_id, step, type, ts_ms, payload, id, ord)), " EVENT_CHECK
        "ins AS (INSERT INTO events (id, run_id, step, type, ts_ms, payload) "
        "SELECT id, run_id, step, type, ts_ms, payload FROM v "
        "WHERE NOT EXISTS (SELECT 1 FROM missing) ORDER BY ord RETURNING id)" EVENT_RESULT,
    [WEFT__PG_EVENT_SEQ_RAISE] =
        "SELECT setval(q.s, greatest(coalesce(pg_sequence_last_value(q.s), 0), "
        "$1::int8)) FROM (SELECT pg_get_serial_sequence('events', 'id')::regclass "
        "AS s) q",
    [WEFT__PG_EVENT_READ_ALL] =
        "SELECT id, run_id, step, type, ts_ms, payload FROM events "
        "WHERE id > $1::int8 ORDER BY id LIMIT $2::int8",
    [WEFT__PG_EVENT_READ_RUN] =
        "SELECT id, run_id, step, type, ts_ms, payload FROM events "
        "WHERE run_id = $3 AND id > $1::int8 ORDER BY id LIMIT $2::int8",
    [WEFT__PG_EVENT_READ_STEP] =
        "SELECT id, run_id, step, type, ts_ms, payload FROM events "
        "WHERE step = $3 AND id > $1::int8 ORDER BY id LIMIT $2::int8",
    [WEFT__PG_EVENT_READ_RUN_STEP] =
        "SELECT id, run_id, step, type, ts_ms, payload FROM events "
        "WHERE run_id = $3 AND step = $4 AND id > $1::int8 ORDER BY id LIMIT $2::int8",
    [WEFT__PG_EVENT_MAX] = "SELECT coalesce(max(id), 0) FROM events",
    [WEFT__PG_KV_GET] = "SELECT value FROM kv WHERE key = $1",
    [WEFT__PG_KV_SET] =
        "INSERT INTO kv (key, value, updated_ms) VALUES ($1, $2, $3::int8) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
        "updated_ms = excluded.updated_ms",
    [WEFT__PG_KV_DELETE] = "DELETE FROM kv WHERE key = $1",
    [WEFT__PG_KV_DELETE_PREFIX] =
        "DELETE FROM kv WHERE key COLLATE \"C\" >= $1 COLLATE \"C\" "
        "AND key COLLATE \"C\" < $2 COLLATE \"C\" AND left(key, length($1)) = $1",
    [WEFT__PG_KV_INSERT_NEW] =
        "INSERT INTO kv (key, value, updated_ms) VALUES ($1, $2, $3::int8) "
        "ON CONFLICT (key) DO NOTHING",
    [WEFT__PG_KV_DELETE_MANY] = "DELETE FROM kv WHERE key = ANY ($1::text[])",
    [WEFT__PG_KV_INSERT_MANY] =
        "INSERT INTO kv (key, value, updated_ms) SELECT k, v, $3::int8 FROM "
        "unnest($1::text[], $2::text[]) AS t (k, v) ON CONFLICT (key) DO NOTHING "
        "RETURNING key",
    [WEFT__PG_KV_SWAP] =
        "UPDATE kv SET value = $2, updated_ms = $3::int8 WHERE key = $1 AND value = $4",
    /* COLLATE "C": bytewise order whatever the database's locale, so keys
     * page the same way on every backend. */
    /* [$1, $4) (weft__store_prefix_end) is a range of the key index: with
     * the prefix test alone every poll of the coordinator's inbox read the
     * whole table (65 ms with 250,000 queue results and ticks stored). */
    [WEFT__PG_KV_LIST] =
        "SELECT key, value, updated_ms FROM kv WHERE key COLLATE \"C\" >= $1 COLLATE \"C\" "
        "AND key COLLATE \"C\" < $4 COLLATE \"C\" AND left(key, length($1)) = $1 "
        "AND key COLLATE \"C\" > $2 COLLATE \"C\" ORDER BY key COLLATE \"C\" "
        "LIMIT nullif($3::int8, 0)",
    /* A prefix whose end would not be ASCII (a database in another encoding
     * than UTF-8 may not hold U+10FFFF): from the prefix on, unbounded. */
    [WEFT__PG_KV_LIST_ANY] =
        "SELECT key, value, updated_ms FROM kv WHERE key COLLATE \"C\" >= $1 COLLATE \"C\" "
        "AND left(key, length($1)) = $1 "
        "AND key COLLATE \"C\" > $2 COLLATE \"C\" ORDER BY key COLLATE \"C\" "
        "LIMIT nullif($3::int8, 0)",
    [WEFT__PG_KV_DELETE_PREFIX_ANY] =
        "DELETE FROM kv WHERE key COLLATE \"C\" >= $1 COLLATE \"C\" "
        "AND left(key, length($1)) = $1",
    [WEFT__PG_TOKEN_GET] = "SELECT seq FROM tx_tokens WHERE client = $1",
    [WEFT__PG_TOKEN_PUT] =
        "INSERT INTO tx_tokens (client, seq, updated_ms) VALUES ($1, $2::int8, "
        "$3::int8) ON CONFLICT (client) DO UPDATE SET seq = excluded.seq, "
        "updated_ms = excluded.updated_ms",
};

/* ---- errors --------------------------------------------------------------- */

/* The link is gone: the server closed it, is shutting down or starting up,
 * or libpq could not even produce a result (weft__pg_transient). */
#define is_lost weft__pg_transient

int weft__pg_result_ok(const PGresult *r) {
  ExecStatusType t = PQresultStatus(r);
  return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

/* ---- statements ----------------------------------------------------------------- */

static const char *run_list_sql(struct weft__pg_store *p, int mask) {
  if (p->run_list_sql[mask]) return p->run_list_sql[mask];
  struct weft_buf b = WEFT_BUF_INIT;
  int n = 0;
  weft_buf_adds(&b, "SELECT " WEFT__PG_RUN_COLUMNS " FROM runs WHERE true");
  if (mask & WEFT__PG_RL_JOB) weft_buf_addf(&b, " AND job = $%d", ++n);
  if (mask & WEFT__PG_RL_LOCATION) weft_buf_addf(&b, " AND location = $%d", ++n);
  if (mask & WEFT__PG_RL_STATUS) weft_buf_addf(&b, " AND status = ANY ($%d::text[])", ++n);
  if (mask & WEFT__PG_RL_BEFORE) {
    weft_buf_addf(&b, " AND (created_ms, id) < ($%d::int8, $%d)", n + 1, n + 2);
    n += 2;
  }
  weft_buf_addf(&b, " ORDER BY created_ms DESC, id DESC LIMIT $%d::int", n + 1);
  p->run_list_sql[mask] = weft_buf_detach(&b, NULL);
  return p->run_list_sql[mask];
}

/* One attempt at statement id on the current connection, preparing it
 * first if this connection has not. Returns the result (maybe an error, or
 * NULL); the caller classifies it. */
PGresult *weft__pg_run_stmt(struct weft__pg_store *p, int id, int n, const char *const *params) {
  char name[24];
  snprintf(name, sizeof name, "weft_%d", id);
  if (!p->prepared[id]) {
    const char *sql = id >= WEFT__PG_EXTRA_FIRST ? weft__pg_extra_sql[id - WEFT__PG_EXTRA_FIRST]
                      : id >= WEFT__PG_RUN_LIST ? run_list_sql(p, id - WEFT__PG_RUN_LIST)
                                                : stmt_sql[id];
    if (!sql) return NULL;
    PGresult *r = PQprepare(p->conn, name, sql, 0, NULL);
    if (!r || !weft__pg_result_ok(r)) return r;
    PQclear(r);
    p->prepared[id] = 1;
  }
  return PQexecPrepared(p->conn, name, n, params, NULL, NULL, 0);
}

/* ---- the journal ------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *d = data;
  for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 1099511628211ULL;
  return h;
}

/* What the caller could have seen of a result: rows changed, rows and
 * values. An event append's ids (column 0) are left out: a replay may draw
 * new ones. */
static uint64_t result_digest(const PGresult *r, int stmt) {
  uint64_t h = 1469598103934665603ULL;
  int rows = PQntuples(r), cols = PQnfields(r);
  int first = stmt == WEFT__PG_EVENT_APPEND || stmt == WEFT__PG_EVENT_APPEND_IDS;
  const char *changed = PQcmdTuples((PGresult *)r);
  h = fnv(h, &rows, sizeof rows);
  h = fnv(h, changed, strlen(changed) + 1);
  for (int i = 0; i < rows; i++) {
    for (int j = first; j < cols; j++) {
      int len = PQgetisnull(r, i, j) ? -1 : PQgetlength(r, i, j);
      h = fnv(h, &len, sizeof len);
      if (len > 0) h = fnv(h, PQgetvalue(r, i, j), (size_t)len);
    }
  }
  return h;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The ids an append result holds, ascending; 0 ids when it found a missing run. */
static int result_ids(const PGresult *r, int64_t **ids, size_t *n) {
  size_t rows = (size_t)PQntuples(r), k = 0;
  int64_t *v = malloc((rows ? rows : 1) * sizeof *v);
  if (!v) return WEFT_ENOMEM;
  for (size_t i = 0; i < rows; i++)
    if (!PQgetisnull(r, (int)i, 0)) v[k++] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
  qsort(v, k, sizeof *v, cmp_i64);
  free(*ids);
  *ids = v;
  *n = k;
  return WEFT_OK;
}

static void op_release(struct weft__pg_op *op) {
  for (int i = 0; i < op->n_params; i++) free(op->params[i]);
  free(op->params);
  free(op->ids);
  memset(op, 0, sizeof *op);
}

void weft__pg_journal_clear(struct weft__pg_store *p) {
  for (size_t i = 0; i < p->n_journal; i++) op_release(&p->journal[i]);
  p->n_journal = 0;
}

static int journal_add(struct weft__pg_store *p, int id, int n, const char *const *params,
                       const PGresult *r) {
  if (p->n_journal == p->cap_journal) {
    size_t cap = p->cap_journal ? 2 * p->cap_journal : 16;
    struct weft__pg_op *g = realloc(p->journal, cap * sizeof *g);
    if (!g) return WEFT_ENOMEM;
    p->journal = g;
    p->cap_journal = cap;
  }
  struct weft__pg_op *op = &p->journal[p->n_journal];
  memset(op, 0, sizeof *op);
  op->stmt = id;
  op->digest = result_digest(r, id);
  if (n && !(op->params = calloc((size_t)n, sizeof *op->params))) return WEFT_ENOMEM;
  op->n_params = n;
  for (int i = 0; i < n; i++) {
    if (params[i] && !(op->params[i] = strdup(params[i]))) goto nomem;
  }
  if (id == WEFT__PG_EVENT_APPEND && result_ids(r, &op->ids, &op->n_ids)) goto nomem;
  p->n_journal++;
  return WEFT_OK;
nomem:
  op_release(op);
  return WEFT_ENOMEM;
}

/* Runs an event append again. When no id above the ones it handed out has
 * been committed since, it inserts the events under those same ids (and
 * raises the id sequence past them, in case the server's crash recovery
 * rewound it); else it draws new ids. */
static PGresult *replay_append(struct weft__pg_store *p, struct weft__pg_op *op) {
  const char *const *sent = (const char *const *)op->params;
  if (!op->n_ids) return weft__pg_run_stmt(p, WEFT__PG_EVENT_APPEND, op->n_params, sent);
  PGresult *r = weft__pg_run_stmt(p, WEFT__PG_EVENT_MAX, 0, NULL);
  if (!r || !weft__pg_result_ok(r)) return r;
  int64_t max = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  if (max >= op->ids[0]) return weft__pg_run_stmt(p, WEFT__PG_EVENT_APPEND, op->n_params, sent);
  char last[24];
  snprintf(last, sizeof last, "%lld", (long long)op->ids[op->n_ids - 1]);
  const char *lp[1] = {last};
  if (!(r = weft__pg_run_stmt(p, WEFT__PG_EVENT_SEQ_RAISE, 1, lp)) || !weft__pg_result_ok(r))
    return r;
  PQclear(r);
  char **strs = calloc(op->n_ids, sizeof *strs), *ids = NULL;
  char(*num)[24] = malloc(op->n_ids * sizeof *num);
  if (strs && num) {
    for (size_t i = 0; i < op->n_ids; i++) {
      snprintf(num[i], sizeof num[i], "%lld", (long long)op->ids[i]);
      strs[i] = num[i];
    }
    ids = weft__pg_text_array((const char *const *)strs, op->n_ids);
  }
  free(strs);
  free(num);
  if (!ids) return NULL;
  const char *params[6] = {op->params[0], op->params[1], op->params[2],
                           op->params[3], op->params[4], ids};
  r = weft__pg_run_stmt(p, WEFT__PG_EVENT_APPEND_IDS, 6, params);
  free(ids);
  return r;
}

/* Re-runs the journal on a fresh transaction; LOST when the link broke
 * again, WEFT_ECONFLICT when a statement's result differs from the first
 * time. Keeps the last result in p->replayed_last (implicit transactions
 * hand it to their caller). */
static int replay(struct weft__pg_store *p, weft_error *err) {
  PQclear(p->replayed_last);
  p->replayed_last = NULL;
  for (size_t i = 0; i < p->n_journal; i++) {
    struct weft__pg_op *op = &p->journal[i];
    PGresult *r = op->stmt == WEFT__PG_EVENT_APPEND
                      ? replay_append(p, op)
                      : weft__pg_run_stmt(p, op->stmt, op->n_params,
                                          (const char *const *)op->params);
    if (is_lost(p->conn, r)) {
      PQclear(r);
      return LOST;
    }
    if (!weft__pg_result_ok(r)) {
      int rc = weft__pg_error(p, err, r, "replaying a transaction after reconnecting");
      PQclear(r);
      return rc;
    }
    if (result_digest(r, op->stmt) != op->digest) {
      PQclear(r);
      return weft_error_set(err, WEFT_ECONFLICT,
                            "%s: the connection was lost during a transaction and the "
                            "data it read changed before it could be replayed; it was "
                            "rolled back",
                            p->where);
    }
    if (op->stmt == WEFT__PG_EVENT_APPEND && result_ids(r, &op->ids, &op->n_ids)) {
      PQclear(r);
      return weft_error_set(err, WEFT_ENOMEM, "%s: replay: out of memory", p->where);
    }
    if (i + 1 == p->n_journal)
      p->replayed_last = r;
    else
      PQclear(r);
  }
  return WEFT_OK;
}

/* ---- recovery ---------------------------------------------------------------------- */

int weft__pg_simple(struct weft__pg_store *p, const char *sql, PGresult **out) {
  PGresult *r = PQexec(p->conn, sql);
  if (is_lost(p->conn, r)) {
    PQclear(r);
    return LOST;
  }
  *out = r;
  return WEFT_OK;
}

/* This handle's own lock: the two-key form, a key space apart from
 * WRITE_LOCK's one bigint, keyed by a hash of the client id. */
static int32_t own_lock_key(const struct weft__pg_store *p) {
  uint32_t h = 2166136261u;
  for (const char *c = p->client; *c; c++) h = (h ^ (unsigned char)*c) * 16777619u;
  return (int32_t)h;
}

static int begin_locked(struct weft__pg_store *p, int with_token, weft_error *err) {
  char sql[512];
  int n = p->tx_own_lock ? snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%d, %d)",
                                    (int)(WRITE_LOCK & 0x7fffffff), (int)own_lock_key(p))
                         : snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)",
                                    WRITE_LOCK);
  if (with_token) {
    snprintf(sql + n, sizeof sql - (size_t)n,
             "; INSERT INTO tx_tokens (client, seq, updated_ms) VALUES ('%s', %lld, "
             "%lld) ON CONFLICT (client) DO UPDATE SET seq = excluded.seq, "
             "updated_ms = excluded.updated_ms",
             p->client, (long long)p->tx_seq, (long long)weft_clock_wall_ms());
  }
  PGresult *r = NULL;
  if (weft__pg_simple(p, sql, &r) == LOST) return LOST;
  int rc = WEFT_OK;
  if (!weft__pg_result_ok(r)) {
    rc = weft__pg_error(p, err, r, "begin");
    PQclear(r);
    r = NULL;
    if (weft__pg_simple(p, "ROLLBACK", &r) == LOST) return LOST;
  }
  PQclear(r);
  return rc;
}

/* On a fresh connection, puts the open transaction back (see the top of
 * this file). *committed = 1 when it turns out to have committed already. */
static int resume_tx(struct weft__pg_store *p, int *committed, weft_error *err) {
  char seq[24], now[24];
  const char *params[3] = {p->client, seq, now};
  int rc = begin_locked(p, 0, err);
  if (rc) return rc;
  PGresult *r = weft__pg_run_stmt(p, WEFT__PG_TOKEN_GET, 1, params);
  if (is_lost(p->conn, r)) {
    PQclear(r);
    return LOST;
  }
  if (!weft__pg_result_ok(r)) {
    rc = weft__pg_error(p, err, r, "reading the transaction token");
    goto fail;
  }
  int64_t done = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
  PQclear(r);
  r = NULL;
  if (done >= p->tx_seq) {
    *committed = 1;
    goto fail; /* nothing to redo: release the lock */
  }
  snprintf(seq, sizeof seq, "%lld", (long long)p->tx_seq);
  snprintf(now, sizeof now, "%lld", (long long)weft_clock_wall_ms());
  r = weft__pg_run_stmt(p, WEFT__PG_TOKEN_PUT, 3, params);
  if (is_lost(p->conn, r)) {
    PQclear(r);
    return LOST;
  }
  if (!weft__pg_result_ok(r)) {
    rc = weft__pg_error(p, err, r, "writing the transaction token");
    goto fail;
  }
  PQclear(r);
  r = NULL;
  rc = replay(p, err);
  if (rc == WEFT_OK || rc == LOST) return rc;
fail:
  PQclear(r);
  r = NULL;
  if (weft__pg_simple(p, "ROLLBACK", &r) == LOST) return rc ? rc : LOST;
  PQclear(r);
  return rc;
}

/* Reconnects within rt's budget and resumes the open transaction, if any.
 * A permanent refusal (the password changed, the database was dropped)
 * fails at once; so does a schema too new. */
int weft__pg_recover(struct weft__pg_store *p, struct weft__pg_retry *rt, int *committed,
                     const char *op, weft_error *err) {
  weft_error last = WEFT_ERROR_INIT;
  int dummy = 0, retry = 1;
  if (!committed) committed = &dummy;
  snprintf(last.msg, sizeof last.msg, "the connection broke again at once");
  for (;;) {
    if (!weft__pg_retry_next(rt, weft__pg_reconnect_budget_ms())) {
      const char *why = last.msg;
      size_t n = strlen(p->where);
      if (!strncmp(why, p->where, n) && !strncmp(why + n, ": ", 2)) why += n + 2;
      if (!strncmp(why, "cannot connect: ", 16)) why += 16;
      return weft_error_set(err, WEFT_EIO,
                            "%s: %s: the connection was lost; cannot connect after %d "
                            "attempt%s over %.1f s: %s",
                            p->where, op, rt->attempts, rt->attempts == 1 ? "" : "s",
                            (double)(weft_clock_mono_ms() - rt->started) / 1000.0, why);
    }
    int rc = weft__pg_connect(p, &retry, &last);
    if (rc && !retry) return weft_error_set(err, rc, "%s", last.msg);
    if (rc) continue;
    if (!p->tx_open) return WEFT_OK;
    rc = resume_tx(p, committed, err);
    if (rc != LOST) return rc;
    weft__pg_disconnect(p);
    snprintf(last.msg, sizeof last.msg, "the connection broke again while resuming");
  }
}

/* ---- statements and transactions ----------------------------------------------------- */

int weft__pg_exec(struct weft__pg_store *p, int id, int n, const char *const *params,
                  PGresult **out, const char *op, weft_error *err) {
  struct weft__pg_retry rt = WEFT__PG_RETRY_INIT;
  int rc;
  *out = NULL;
  if (p->tx_open && p->tx_failed) {
    return weft_error_set(err, WEFT_ESTORE,
                          "%s: %s: the transaction was aborted by an earlier error",
                          p->where, op);
  }
  for (;;) {
    if (!p->conn) {
      int committed = 0;
      rc = weft__pg_recover(p, &rt, &committed, op, err);
      if (!rc && committed) /* cannot be: COMMIT was never sent */
        rc = weft_error_set(err, WEFT_ESTORE, "%s: %s: transaction state lost", p->where, op);
      if (rc) {
        if (p->tx_open) p->tx_failed = 1;
        return rc;
      }
    }
    PGresult *r = weft__pg_run_stmt(p, id, n, params);
    if (is_lost(p->conn, r)) {
      PQclear(r);
      weft__pg_disconnect(p);
      continue;
    }
    if (!weft__pg_result_ok(r)) {
      rc = weft__pg_error(p, err, r, "%s", op);
      PQclear(r);
      if (p->tx_open) p->tx_failed = 1;
      return rc;
    }
    if (p->tx_open && journal_add(p, id, n, params, r)) {
      PQclear(r);
      p->tx_failed = 1;
      return weft_error_set(err, WEFT_ENOMEM, "%s: %s: out of memory", p->where, op);
    }
    *out = r;
    return WEFT_OK;
  }
}

static int tx_begin(struct weft__pg_store *p, int own_lock, weft_error *err) {
  struct weft__pg_retry rt = WEFT__PG_RETRY_INIT;
  int rc;
  p->tx_own_lock = own_lock;
  weft__pg_journal_clear(p);
  p->tx_failed = p->tx_notify = 0;
  p->tx_seq++;
  for (;;) {
    if (!p->conn && (rc = weft__pg_recover(p, &rt, NULL, "begin", err))) return rc;
    rc = begin_locked(p, 1, err);
    if (rc == LOST) {
      weft__pg_disconnect(p);
      continue;
    }
    if (rc) {
      p->tx_own_lock = 0;
      return rc;
    }
    p->tx_open = 1;
    return WEFT_OK;
  }
}

int weft__pg_tx_begin(struct weft__pg_store *p, weft_error *err) {
  return tx_begin(p, 0, err);
}

int weft__pg_tx_commit(struct weft__pg_store *p, weft_error *err) {
  struct weft__pg_retry rt = WEFT__PG_RETRY_INIT;
  int rc;
  if (p->tx_failed) {
    return weft_error_set(err, WEFT_ESTORE,
                          "%s: commit: the transaction was aborted by an earlier error",
                          p->where);
  }
  for (;;) {
    if (!p->conn) {
      int committed = 0;
      if ((rc = weft__pg_recover(p, &rt, &committed, "commit", err))) {
        p->tx_failed = 1;
        return rc;
      }
      if (committed) break;
    }
    if (p->commit_hook == WEFT__PG_HOOK_DROP_BEFORE_COMMIT) {
      p->commit_hook = 0;
      weft__pg_disconnect(p);
      continue;
    }
    PGresult *r = NULL;
    /* NOTIFY inside the transaction: postgres delivers it at commit, and
     * only if the commit happens. */
    char sql[256];
    if (weft__pg_simple(p, weft__pg_commit_sql(p, p->tx_notify, sql, sizeof sql), &r) == LOST) {
      weft__pg_disconnect(p);
      continue; /* outcome unknown: the token tells */
    }
    if (!weft__pg_result_ok(r) || strcmp(PQcmdStatus(r), "COMMIT")) {
      rc = weft__pg_result_ok(r)
               ? weft_error_set(err, WEFT_ESTORE,
                                "%s: commit: the server rolled the transaction back", p->where)
               : weft__pg_error(p, err, r, "commit");
      PQclear(r);
      p->tx_failed = 1;
      return rc;
    }
    PQclear(r);
    if (p->commit_hook == WEFT__PG_HOOK_DROP_AFTER_COMMIT) {
      p->commit_hook = 0;
      weft__pg_disconnect(p);
      continue; /* as if the answer had been lost */
    }
    break;
  }
  p->tx_open = p->tx_own_lock = 0;
  weft__pg_journal_clear(p);
  return WEFT_OK;
}

void weft__pg_tx_rollback(struct weft__pg_store *p) {
  if (p->tx_open && p->conn) {
    PGresult *r = NULL;
    if (weft__pg_simple(p, "ROLLBACK", &r) == LOST)
      weft__pg_disconnect(p); /* the server rolls back a lost session itself */
    PQclear(r);
  }
  p->tx_open = p->tx_failed = p->tx_notify = p->tx_own_lock = 0;
  weft__pg_journal_clear(p);
}

int weft__pg_write_begin(struct weft__pg_store *p, int *implicit, weft_error *err) {
  *implicit = !p->tx_open;
  return *implicit ? weft__pg_tx_begin(p, err) : WEFT_OK;
}

int weft__pg_write_begin_kv_insert(struct weft__pg_store *p, int *implicit, weft_error *err) {
  *implicit = !p->tx_open;
  return *implicit ? tx_begin(p, 1, err) : WEFT_OK;
}

int weft__pg_write_end(struct weft__pg_store *p, int implicit, int rc, PGresult **res,
                       weft_error *err) {
  if (!implicit) return rc;
  if (rc) {
    weft__pg_tx_rollback(p);
    return rc;
  }
  PQclear(p->replayed_last);
  p->replayed_last = NULL;
  if ((rc = weft__pg_tx_commit(p, err))) {
    weft__pg_tx_rollback(p);
    return rc;
  }
  if (p->replayed_last && res) {
    PQclear(*res);
    *res = p->replayed_last;
    p->replayed_last = NULL;
  }
  return WEFT_OK;
}
