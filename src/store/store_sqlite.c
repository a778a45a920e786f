/* store_sqlite.c: the SQLite storage backend: connection setup, schema
 * migrations, transactions and the per-connection statement cache.
 *
 * Several processes may use one database at once, each with its own
 * connection. What makes that safe:
 *  - WAL journal: readers never block the writer nor each other;
 *  - busy_timeout 60 s: a writer waits for the write lock instead of failing;
 *    a burst of runs (1,000 schedules due at once with no run_queue limit)
 *    queues hundreds of coordinators on the lock, and a run that waits a
 *    while is better than one that fails;
 *  - every explicit transaction is BEGIN IMMEDIATE, which takes the write lock
 *    up front: a deferred transaction that reads and then writes can fail with
 *    SQLITE_BUSY_SNAPSHOT without the busy handler ever being asked to retry;
 *  - synchronous=FULL: every commit is fsynced, so a run's events survive
 *    an OS crash or power loss too, not only the kill of a process. The
 *    coordinator commits once per loop turn (a batch of step changes), which
 *    keeps the fsyncs to about one per finished step: bench/dag measures it;
 *  - statements are reset right after use so no connection keeps an old read
 *    snapshot open;
 *  - threads of one process that open transactions on one file queue on a
 *    lock first (store_sqlite_wlock.c), and the next is woken the moment
 *    the one before commits.
 *    Left to SQLite's busy handler, they slept 1 to 100 ms between tries
 *    (21,000 sleeps for 300 launches through the server, its loop's commits
 *    among them); the handler now serves other processes only. A thread
 *    that commits hands the lock to a waiting one rather than taking it
 *    straight back. */
#include "store/store_sqlite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/fs.h"
#include "util/str.h"

static const char *const stmt_sql[WEFT__SQ__COUNT] = {
    [WEFT__SQ_BEGIN] = "BEGIN IMMEDIATE",
    [WEFT__SQ_COMMIT] = "COMMIT",
    [WEFT__SQ_ROLLBACK] = "ROLLBACK",
    [WEFT__SQ_RUN_INSERT] =
        "INSERT INTO runs (" WEFT__SQ_RUN_COLUMNS ") VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [WEFT__SQ_RUN_UPDATE] =
        "UPDATE runs SET status = ?2, message = ?3, started_ms = ?4, "
        "ended_ms = ?5, coordinator = ?6, heartbeat_ms = ?7 WHERE id = ?1",
    [WEFT__SQ_RUN_GET] = "SELECT " WEFT__SQ_RUN_COLUMNS " FROM runs WHERE id = ?1",
    [WEFT__SQ_RUN_CREATED] = "SELECT created_ms FROM runs WHERE id = ?1",
    [WEFT__SQ_RUN_COUNT] = "SELECT status, count(*) FROM runs GROUP BY status",
    [WEFT__SQ_STEP_PUT] =
        "INSERT INTO steps (run_id, step, attempt, status, started_ms, ended_ms, "
        "pid, message, worker) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT (run_id, step, attempt) DO UPDATE SET "
        "status = excluded.status, started_ms = excluded.started_ms, "
        "ended_ms = excluded.ended_ms, pid = excluded.pid, "
        "message = excluded.message, worker = excluded.worker",
    [WEFT__SQ_STEP_LIST] =
        "SELECT run_id, step, attempt, status, started_ms, ended_ms, pid, "
        "message, worker FROM steps WHERE run_id = ?1 ORDER BY step, attempt",
    [WEFT__SQ_EVENT_INSERT] =
        "INSERT INTO events (run_id, step, type, ts_ms, payload) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [WEFT__SQ_EVENT_READ_ALL] =
        "SELECT id, run_id, step, type, ts_ms, payload FROM events "
        "WHERE id > ?1 ORDER BY id LIMIT ?4",
    [WEFT__SQ_EVENT_READ_RUN] =
        "SELECT id, run_id, step, type, ts_ms, payload FROM events "
        "WHERE run_id = ?2 AND id > ?1 ORDER BY id LIMIT ?4",
    [WEFT__SQ_EVENT_READ_STEP] =
        "SELECT id, run_id, step, type, ts_ms, payload FROM events "
        "WHERE step = ?3 AND id > ?1 ORDER BY id LIMIT ?4",
    [WEFT__SQ_EVENT_READ_RUN_STEP] =
        "SELECT id, run_id, step, type, ts_ms, payload FROM events "
        "WHERE run_id = ?2 AND step = ?3 AND id > ?1 ORDER BY id LIMIT ?4",
    [WEFT__SQ_EVENT_MAX] = "SELECT coalesce(max(id), 0) FROM events",
    [WEFT__SQ_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
    [WEFT__SQ_KV_SET] =
        "INSERT INTO kv (key, value, updated_ms) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
        "updated_ms = excluded.updated_ms",
    [WEFT__SQ_KV_DELETE] = "DELETE FROM kv WHERE key = ?1",
    [WEFT__SQ_KV_DELETE_PREFIX] =
        "DELETE FROM kv WHERE key >= ?1 AND key < ?2 AND substr(key, 1, length(?1)) = ?1",
    [WEFT__SQ_KV_INSERT_NEW] =
        "INSERT INTO kv (key, value, updated_ms) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (key) DO NOTHING",
    [WEFT__SQ_KV_SWAP] =
        "UPDATE kv SET value = ?2, updated_ms = ?3 WHERE key = ?1 AND value = ?4",
    /* substr() compares the prefix bytewise whatever the key holds; the
     * range on key (BINARY collation, ?4 the prefix's end) keeps it on the
     * primary key index and reads only the prefix's keys: without the end
     * an empty prefix read every key after it (the coordinator's inbox,
     * read every 5 ms, read all of a server's queue results and ticks). */
    [WEFT__SQ_KV_LIST] =
        "SELECT key, value, updated_ms FROM kv WHERE key >= ?1 AND key < ?4 AND key > ?2 "
        "AND substr(key, 1, length(?1)) = ?1 ORDER BY key LIMIT ?3",
    /* The WHERE of the claim's upsert is the whole test: SQLite runs the
     * statement under the write lock, so two claimers never both change
     * the row (store_sqlite_lease.c). */
    [WEFT__SQ_LEASE_CLAIM] =
        "INSERT INTO run_leases (run_id, owner, expires_ms, acquired_ms) "
        "VALUES (?1, ?2, ?3 + ?4, ?3) ON CONFLICT (run_id) DO UPDATE SET "
        "owner = excluded.owner, expires_ms = excluded.expires_ms, "
        "acquired_ms = CASE WHEN run_leases.owner = excluded.owner "
        "THEN run_leases.acquired_ms ELSE excluded.acquired_ms END "
        "WHERE run_leases.owner = excluded.owner OR (?5 IS NULL AND run_leases.expires_ms <= ?3) "
        "OR run_leases.owner = ?5",
    [WEFT__SQ_LEASE_RENEW] = "UPDATE run_leases SET expires_ms = ?2 + ?3 WHERE owner = ?1 "
                             "RETURNING run_id, owner, expires_ms, acquired_ms",
    [WEFT__SQ_LEASE_RELEASE] = "DELETE FROM run_leases WHERE run_id = ?1 AND owner = ?2",
    [WEFT__SQ_LEASE_GET] =
        "SELECT run_id, owner, expires_ms, acquired_ms FROM run_leases WHERE run_id = ?1",
};

/* ---- errors and statements ------------------------------------------------ */

static int weft_code_for(int sqlite_rc) {
  switch (sqlite_rc & 0xff) {
    case SQLITE_NOMEM:
      return WEFT_ENOMEM;
    case SQLITE_CONSTRAINT:
      return WEFT_ECONFLICT;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return WEFT_EIO;
    default:
      return WEFT_ESTORE;
  }
}

int weft__sq_error(struct weft__sq_store *q, weft_error *err, int sqlite_rc,
                   const char *op_fmt, ...) {
  int code = weft_code_for(sqlite_rc);
  if (!err) return code;
  char op[256];
  va_list ap;
  va_start(ap, op_fmt);
  vsnprintf(op, sizeof op, op_fmt, ap);
  va_end(ap);
  /* sqlite3_errmsg describes the last failed call on this connection; when
   * the failure came from elsewhere, fall back to the code's own text. */
  int same = q->db && (sqlite3_extended_errcode(q->db) & 0xff) == (sqlite_rc & 0xff);
  const char *why = same ? sqlite3_errmsg(q->db) : sqlite3_errstr(sqlite_rc);
  return weft_error_set(err, code, "sqlite %s: %s: %s", q->path ? q->path : "?", op,
                        why);
}

int weft__sq_stmt(struct weft__sq_store *q, enum weft__sq_stmt id, sqlite3_stmt **out,
                  weft_error *err) {
  *out = NULL;
  if (!q->stmt[id]) {
    int rc = sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                &q->stmt[id], NULL);
    if (rc != SQLITE_OK) {
      q->stmt[id] = NULL;
      return weft__sq_error(q, err, rc, "prepare \"%s\"", stmt_sql[id]);
    }
  }
  *out = q->stmt[id];
  return WEFT_OK;
}

int weft__sq_stmt_text(struct weft__sq_store *q, const char *sql, sqlite3_stmt **out,
                       weft_error *err) {
  struct weft__sq_built *slot = &q->built[0];
  *out = NULL;
  for (int i = 0; i < WEFT__SQ_BUILT_MAX; i++) {
    struct weft__sq_built *b = &q->built[i];
    if (b->sql && !strcmp(b->sql, sql)) {
      b->used = ++q->built_clock;
      *out = b->st;
      return WEFT_OK;
    }
    if (!b->sql || (slot->sql && b->used < slot->used)) slot = b;
  }
  char *copy = strdup(sql);
  if (!copy) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  if (rc != SQLITE_OK) {
    free(copy);
    return weft__sq_error(q, err, rc, "prepare \"%s\"", sql);
  }
  sqlite3_finalize(slot->st);
  free(slot->sql);
  *slot = (struct weft__sq_built){.sql = copy, .st = st, .used = ++q->built_clock};
  *out = st;
  return WEFT_OK;
}

void weft__sq_done(sqlite3_stmt *st) {
  if (!st) return;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

int weft__sq_exec_cached(struct weft__sq_store *q, enum weft__sq_stmt id,
                         const char *op, weft_error *err) {
  sqlite3_stmt *st;
  int rc = id == WEFT__SQ_BEGIN ? weft__sq_wlock_take(q, op, err) : WEFT_OK;
  if (!rc) rc = weft__sq_stmt(q, id, &st, err);
  if (!rc) {
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) rc = weft__sq_error(q, err, src, "%s", op);
    weft__sq_done(st);
  }
  weft__sq_wlock_settle(q); /* a BEGIN that failed, a COMMIT or ROLLBACK that ended it */
  return rc;
}

int weft__sq_column_dup(sqlite3_stmt *st, int col, char **out) {
  *out = NULL;
  if (sqlite3_column_type(st, col) == SQLITE_NULL) return WEFT_OK;
  const unsigned char *text = sqlite3_column_text(st, col);
  if (!text) return WEFT_ENOMEM;
  *out = strdup((const char *)text);
  return *out ? WEFT_OK : WEFT_ENOMEM;
}

int weft__sq_read_run(struct weft__sq_store *q, sqlite3_stmt *st, struct weft_run_row *r,
                      weft_error *err) {
  memset(r, 0, sizeof *r);
  char *status = NULL;
  int rc = WEFT_OK;
  if (weft__sq_column_dup(st, 0, &r->id) || weft__sq_column_dup(st, 1, &r->job) ||
      weft__sq_column_dup(st, 2, &r->location) || weft__sq_column_dup(st, 3, &status) ||
      weft__sq_column_dup(st, 4, &r->run_config) ||
      weft__sq_column_dup(st, 5, &r->tags) ||
      weft__sq_column_dup(st, 6, &r->parent_run_id) ||
      weft__sq_column_dup(st, 7, &r->root_run_id) ||
      weft__sq_column_dup(st, 8, &r->code_version) ||
      weft__sq_column_dup(st, 9, &r->message) ||
      weft__sq_column_dup(st, 13, &r->coordinator)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "sqlite %s: reading a run: out of memory",
                        q->path);
    goto done;
  }
  r->created_ms = sqlite3_column_int64(st, 10);
  r->started_ms = sqlite3_column_int64(st, 11);
  r->ended_ms = sqlite3_column_int64(st, 12);
  r->heartbeat_ms = sqlite3_column_int64(st, 14);
  if (weft_run_status_parse(status, &r->status)) {
    rc = weft_error_set(err, WEFT_ESTORE, "sqlite %s: run %s has unknown status '%s'",
                        q->path, r->id ? r->id : "?", status ? status : "(null)");
  }
done:
  free(status);
  if (rc) weft_run_row_release(r);
  return rc;
}

/* ---- schema ------------------------------------------------------------------- */

/* The schema version of the database: 0 for an empty database. A database
 * holding tables but no schema_version was not made by weft: refused. */
static int schema_version_read(struct weft__sq_store *q, int *version, weft_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = WEFT_OK, src, has_table = 0, n_tables = 0;
  *version = 0;
  src = sqlite3_prepare_v2(q->db,
                           "SELECT count(*), count(*) FILTER (WHERE name = "
                           "'schema_version') FROM sqlite_master WHERE type = 'table'",
                           -1, &st, NULL);
  if (src != SQLITE_OK) {
    rc = weft__sq_error(q, err, src, "reading the schema");
    goto done;
  }
  if ((src = sqlite3_step(st)) != SQLITE_ROW) {
    rc = weft__sq_error(q, err, src, "reading the schema");
    goto done;
  }
  n_tables = sqlite3_column_int(st, 0);
  has_table = sqlite3_column_int(st, 1);
  sqlite3_finalize(st);
  st = NULL;
  if (!has_table) {
    if (n_tables > 0) {
      rc = weft_error_set(err, WEFT_EVERSION,
                          "sqlite %s: not a weft database (it has tables but no "
                          "schema_version)",
                          q->path);
    }
    goto done;
  }
  src = sqlite3_prepare_v2(q->db, "SELECT max(version) FROM schema_version", -1, &st,
                           NULL);
  if (src == SQLITE_OK) src = sqlite3_step(st);
  if (src != SQLITE_ROW) {
    rc = weft__sq_error(q, err, src, "reading schema_version");
    goto done;
  }
  if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
    rc = weft_error_set(err, WEFT_ESTORE, "sqlite %s: schema_version is empty", q->path);
    goto done;
  }
  *version = sqlite3_column_int(st, 0);
done:
  sqlite3_finalize(st);
  return rc;
}

static int schema_too_new(struct weft__sq_store *q, int version, weft_error *err) {
  return weft_error_set(err, WEFT_EVERSION,
                        "sqlite %s: the database has schema version %d but this weft "
                        "knows only up to version %d; use a newer weft",
                        q->path, version, weft__sqlite_migration_count);
}

/* Brings the schema to the version this binary writes, in one transaction.
 * The version is read again under the write lock, so when several processes
 * open a new database at once exactly one of them migrates it. */
static int schema_migrate(struct weft__sq_store *q, weft_error *err) {
  const int latest = weft__sqlite_migration_count;
  int version = 0, rc, src;
  char *sql = NULL;
  if ((rc = schema_version_read(q, &version, err))) return rc;
  if (version == latest) return WEFT_OK;
  if (version > latest) return schema_too_new(q, version, err);
  if ((rc = weft__sq_exec_cached(q, WEFT__SQ_BEGIN, "begin schema migration", err)))
    return rc;
  if ((rc = schema_version_read(q, &version, err))) goto fail;
  if (version > latest) {
    rc = schema_too_new(q, version, err);
    goto fail;
  }
  for (int v = version; v < latest; v++) {
    src = sqlite3_exec(q->db, weft__sqlite_migrations[v], NULL, NULL, NULL);
    if (src != SQLITE_OK) {
      rc = weft__sq_error(q, err, src, "migrating the schema from version %d to %d", v,
                          v + 1);
      goto fail;
    }
  }
  if (version < latest) {
    sql = sqlite3_mprintf("DELETE FROM schema_version; "
                          "INSERT INTO schema_version (version) VALUES (%d)",
                          latest);
    src = sql ? sqlite3_exec(q->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    if (src != SQLITE_OK) {
      rc = weft__sq_error(q, err, src, "recording schema version %d", latest);
      goto fail;
    }
  }
  rc = weft__sq_exec_cached(q, WEFT__SQ_COMMIT, "commit schema migration", err);
  if (rc) goto fail;
  sqlite3_free(sql);
  return WEFT_OK;
fail:
  sqlite3_free(sql);
  weft__sq_exec_cached(q, WEFT__SQ_ROLLBACK, "rollback schema migration", NULL);
  return rc;
}

/* ---- open / close -------------------------------------------------------------- */

/* "sqlite:PATH", "sqlite://PATH" or a plain path; returns a borrowed pointer. */
static const char *path_of_url(const char *url) {
  if (weft_str_has_prefix(url, "sqlite:")) {
    url += strlen("sqlite:");
    if (weft_str_has_prefix(url, "//")) url += 2;
  }
  return url;
}

/* Creates the folder that will hold the database, like $WEFT_HOME. */
static int make_parent_dir(const char *path, weft_error *err) {
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path) return WEFT_OK;
  char *dir = strndup(path, (size_t)(slash - path));
  if (!dir) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_fs_is_dir(dir) ? WEFT_OK : weft_fs_mkdirs(dir, err);
  free(dir);
  return rc;
}

/* The database holds everything runs said: its files are closed to others.
 * By path only: opening and closing the file here would drop the POSIX
 * locks this process's other connections hold on it. */
static void make_private(const char *path) {
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  char buf[4096];
  struct stat st;
  if (!strcmp(path, ":memory:")) return;
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    if ((size_t)snprintf(buf, sizeof buf, "%s%s", path, suffixes[i]) >= sizeof buf) return;
    if (!stat(buf, &st) && S_ISREG(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 077))
      (void)chmod(buf, st.st_mode & 0700);
  }
}

static void sq_close(struct weft_store *s) {
  struct weft__sq_store *q = (struct weft__sq_store *)s;
  for (int i = 0; i < WEFT__SQ__COUNT; i++) {
    sqlite3_finalize(q->stmt[i]);
    q->stmt[i] = NULL;
  }
  for (int i = 0; i < WEFT__SQ_BUILT_MAX; i++) {
    sqlite3_finalize(q->built[i].st);
    free(q->built[i].sql);
    q->built[i] = (struct weft__sq_built){0};
  }
  sqlite3_close(q->db);
  q->db = NULL;
  weft__sq_wlock_settle(q); /* closing ends a transaction left open */
  free(q->path);
  q->path = NULL;
}

static int sq_open(struct weft_store *s, const char *url, weft_error *err) {
  struct weft__sq_store *q = (struct weft__sq_store *)s;
  const char *path = path_of_url(url);
  int rc, src;
  if (!*path)
    return weft_error_set(err, WEFT_EINVALID, "storage URL %s names no file", url);
  if (!(q->path = strdup(path))) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if ((rc = make_parent_dir(path, err))) goto fail;
  src = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (src != SQLITE_OK) {
    rc = weft__sq_error(q, err, src, "open");
    goto fail;
  }
  sqlite3_extended_result_codes(q->db, 1);
  sqlite3_busy_timeout(q->db, WEFT__SQ_BUSY_TIMEOUT_MS);
  q->wlock = weft__sq_wlock_of(path);
  /* The first statement reads the file header: a file that is not a
   * database fails here with SQLITE_NOTADB. */
  src = sqlite3_exec(q->db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                     "PRAGMA foreign_keys = ON",
                     NULL, NULL, NULL);
  if (src != SQLITE_OK) {
    rc = weft__sq_error(q, err, src, "open");
    goto fail;
  }
  make_private(path);
  if ((rc = schema_migrate(q, err))) goto fail;
  return WEFT_OK;
fail:
  sq_close(s);
  return rc;
}

/* ---- transactions ---------------------------------------------------------------- */

static int sq_begin(struct weft_store *s, weft_error *err) {
  return weft__sq_exec_cached((struct weft__sq_store *)s, WEFT__SQ_BEGIN, "begin", err);
}

static int sq_commit(struct weft_store *s, weft_error *err) {
  struct weft__sq_store *q = (struct weft__sq_store *)s;
  /* Some errors (disk full, I/O) make sqlite roll back by itself; a commit
   * must not then report success for work that is gone. */
  if (sqlite3_get_autocommit(q->db)) {
    weft__sq_wlock_settle(q);
    return weft_error_set(err, WEFT_ESTORE,
                          "sqlite %s: commit: the transaction was already rolled "
                          "back after an earlier error",
                          q->path);
  }
  return weft__sq_exec_cached(q, WEFT__SQ_COMMIT, "commit", err);
}

static void sq_rollback(struct weft_store *s) {
  struct weft__sq_store *q = (struct weft__sq_store *)s;
  if (!sqlite3_get_autocommit(q->db))
    weft__sq_exec_cached(q, WEFT__SQ_ROLLBACK, "rollback", NULL);
  weft__sq_wlock_settle(q);
}

const struct weft_store_methods weft__store_sqlite_methods = {
    .version = 1,
    .name = "sqlite",
    .instance_size = sizeof(struct weft__sq_store),
    .xOpen = sq_open,
    .xClose = sq_close,
    .xBegin = sq_begin,
    .xCommit = sq_commit,
    .xRollback = sq_rollback,
    .xRunCreate = weft__sq_run_create,
    .xRunUpdate = weft__sq_run_update,
    .xRunGet = weft__sq_run_get,
    .xRunList = weft__sq_run_list,
    .xRunCount = weft__sq_run_count,
    .xStepPut = weft__sq_step_put,
    .xStepList = weft__sq_step_list,
    .xEventAppend = weft__sq_event_append,
    .xEventRead = weft__sq_event_read,
    .xEventWait = weft__sq_event_wait,
    .xKvGet = weft__sq_kv_get,
    .xKvSet = weft__sq_kv_set,
    .xKvDelete = weft__sq_kv_delete,
    .xKvDeletePrefix = weft__sq_kv_delete_prefix,
    .xKvInsertMany = weft__sq_kv_insert_many,
    .xKvDeleteMany = weft__sq_kv_delete_many,
    .xKvCompareSet = weft__sq_kv_compare_set,
    .xKvList = weft__sq_kv_list,
    .xRunSearch = weft__sq_run_search,
    .xRetentionScan = weft__sq_retention_scan,
    .xRunMarkGet = weft__sq_run_mark_get,
    .xRunMarkSet = weft__sq_run_mark_set,
    .xEventPurge = weft__sq_event_purge,
    .xEventCount = weft__sq_event_count,
    .xRunDelete = weft__sq_run_delete,
    .xMaterializationList = weft__sq_materialization_list,
    .xAssetList = weft__sq_asset_list,
    .xAssetGet = weft__sq_asset_get,
    .xAssetHistory = weft__sq_asset_history,
    .xAssetPartitions = weft__sq_asset_partitions,
    .xAssetEventAdd = weft__sq_asset_event_add,
    .xLeaseClaim = weft__sq_lease_claim,
    .xLeaseRenew = weft__sq_lease_renew,
    .xLeaseRelease = weft__sq_lease_release,
    .xLeaseGet = weft__sq_lease_get,
};
