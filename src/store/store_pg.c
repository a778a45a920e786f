/* store_pg.c: the PostgreSQL storage backend ("postgres", for postgresql://
 * and postgres:// URLs): opening, schema migrations and the method table.
 *
 * One store handle is one connection and is used by one thread at a time;
 * every process (and thread) opens its own, as with SQLite. The statements,
 * write serialization, reconnection and exactly-once replay are in
 * store_pg_conn.c, connecting and its retry policy in store_pg_connect.c,
 * the data methods in store_pg_rows.c. */
#include "store/store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/clock.h"
#include "util/redact.h"

/* pg_advisory_xact_lock key taken while migrating ("weftmigr"): several
 * processes opening a new database at once migrate it exactly once. */
#define MIGRATE_LOCK 0x776566746d696772LL
/* A token row older than this belongs to a handle long gone. */
#define TOKEN_MAX_AGE_MS (7LL * 24 * 3600 * 1000)

/* ---- url -------------------------------------------------------------------- */

/* Checks the URL with libpq's own parser and builds "postgres HOST:PORT/DB"
 * for messages: the URL itself may hold a password. */
static int describe_url(struct weft__pg_store *p, const char *url, weft_error *err) {
  char *why = NULL;
  PQconninfoOption *opts = PQconninfoParse(url, &why);
  if (!opts) {
    /* libpq's message may quote the URL, password and all */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", why ? why : "out of memory");
    size_t n = strlen(msg);
    if (n && msg[n - 1] == '\n') msg[n - 1] = 0;
    weft_redact_secrets_of(url, msg, sizeof msg);
    int rc = weft_error_set(err, why ? WEFT_EINVALID : WEFT_ENOMEM,
                            "storage URL is not a valid postgres URL: %s", msg);
    PQfreemem(why);
    return rc;
  }
  const char *host = NULL, *port = NULL, *db = NULL, *user = NULL;
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    if (!o->val || !*o->val) continue;
    if (!strcmp(o->keyword, "host") || (!host && !strcmp(o->keyword, "hostaddr")))
      host = o->val;
    else if (!strcmp(o->keyword, "port"))
      port = o->val;
    else if (!strcmp(o->keyword, "dbname"))
      db = o->val;
    else if (!strcmp(o->keyword, "user"))
      user = o->val;
  }
  int n = asprintf(&p->where, "postgres %s%s%s%s%s/%s", user ? user : "", user ? "@" : "",
                   host ? host : "localhost", port ? ":" : "", port ? port : "",
                   db ? db : (user ? user : ""));
  PQconninfoFree(opts);
  if (n < 0) {
    p->where = NULL;
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return WEFT_OK;
}

/* ---- schema -------------------------------------------------------------------- */

static int exec_simple(struct weft__pg_store *p, const char *sql, PGresult **out,
                       const char *op, weft_error *err) {
  PGresult *r = PQexec(p->conn, sql);
  ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
    int rc = weft__pg_error(p, err, r, "%s", op);
    PQclear(r);
    return rc;
  }
  if (out)
    *out = r;
  else
    PQclear(r);
  return WEFT_OK;
}

/* The schema version of the database: 0 when it has no weft tables. Weft's
 * table names without a schema_version: not made by weft, refused. */
static int schema_version_read(struct weft__pg_store *p, int *version, weft_error *err) {
  PGresult *r = NULL;
  *version = 0;
  int rc = exec_simple(p,
                       "SELECT to_regclass('schema_version') IS NOT NULL, "
                       "(SELECT count(*) FROM pg_tables WHERE schemaname = "
                       "current_schema() AND tablename IN ('runs', 'steps', 'events', "
                       "'kv')), coalesce(current_schema(), '')",
                       &r, "reading the schema", err);
  if (rc) return rc;
  int has_version = !strcmp(PQgetvalue(r, 0, 0), "t");
  long n_tables = strtol(PQgetvalue(r, 0, 1), NULL, 10);
  weft__pg_inbox_channel_set(p, PQgetvalue(r, 0, 2));
  PQclear(r);
  r = NULL;
  if (!has_version) {
    if (n_tables > 0) {
      return weft_error_set(err, WEFT_EVERSION,
                            "%s: not a weft database (it has weft's tables but no "
                            "schema_version)",
                            p->where);
    }
    return WEFT_OK;
  }
  if ((rc = exec_simple(p, "SELECT max(version) FROM schema_version", &r,
                        "reading schema_version", err)))
    return rc;
  if (PQgetisnull(r, 0, 0))
    rc = weft_error_set(err, WEFT_ESTORE, "%s: schema_version is empty", p->where);
  else
    *version = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  return rc;
}

static int schema_too_new(struct weft__pg_store *p, int version, weft_error *err) {
  return weft_error_set(err, WEFT_EVERSION,
                        "%s: the database has schema version %d but this weft knows "
                        "only up to version %d; use a newer weft",
                        p->where, version, weft__pg_migration_count);
}

/* Brings the schema to the version this binary writes, in one transaction
 * (postgres DDL is transactional) under the migration lock, reading the
 * version again once the lock is held. */
static int schema_migrate(struct weft__pg_store *p, weft_error *err) {
  const int latest = weft__pg_migration_count;
  int version = 0, rc;
  char sql[160];
  if ((rc = schema_version_read(p, &version, err))) return rc;
  if (version == latest) return WEFT_OK;
  if (version > latest) return schema_too_new(p, version, err);
  snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", MIGRATE_LOCK);
  if ((rc = exec_simple(p, sql, NULL, "begin schema migration", err))) goto fail;
  if ((rc = schema_version_read(p, &version, err))) goto fail;
  if (version > latest) {
    rc = schema_too_new(p, version, err);
    goto fail;
  }
  for (int v = version; v < latest; v++) {
    char op[80];
    snprintf(op, sizeof op, "migrating the schema from version %d to %d", v, v + 1);
    if ((rc = exec_simple(p, weft__pg_migrations[v], NULL, op, err))) goto fail;
  }
  if (version < latest) {
    snprintf(sql, sizeof sql,
             "DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (%d)",
             latest);
    if ((rc = exec_simple(p, sql, NULL, "recording the schema version", err))) goto fail;
  }
  if ((rc = exec_simple(p, "COMMIT", NULL, "commit schema migration", err))) goto fail;
  return WEFT_OK;
fail: {
  int transient = p->last_transient; /* of the failure, not of the rollback */
  exec_simple(p, "ROLLBACK", NULL, "rollback schema migration", NULL);
  p->last_transient = transient;
  return rc;
}
}

/* ---- open / close ------------------------------------------------------------------ */

static void pg_close(struct weft_store *s) {
  struct weft__pg_store *p = (struct weft__pg_store *)s;
  if (p->tx_open) weft__pg_tx_rollback(p);
  if (p->conn && p->tx_seq) {
    /* Every outcome is known now: this handle's token row has served. Not
     * worth waiting for a disk flush; a row left behind is pruned later. */
    char sql[200];
    snprintf(sql, sizeof sql,
             "BEGIN; SET LOCAL synchronous_commit = off; DELETE FROM tx_tokens WHERE "
             "client = '%s'; COMMIT",
             p->client);
    PQclear(PQexec(p->conn, sql));
  }
  weft__pg_disconnect(p);
  weft__pg_journal_clear(p);
  free(p->journal);
  p->journal = NULL;
  p->cap_journal = 0;
  PQclear(p->replayed_last);
  p->replayed_last = NULL;
  for (int i = 0; i < 16; i++) {
    free(p->run_list_sql[i]);
    p->run_list_sql[i] = NULL;
  }
  free(p->url);
  free(p->where);
  p->url = p->where = NULL;
}

/* A random id for this handle's tx_tokens row. */
static int make_client_id(struct weft__pg_store *p, weft_error *err) {
  char *a = weft_store_new_run_id(), *b = weft_store_new_run_id();
  int rc = WEFT_OK;
  if (!a || !b)
    rc = weft_error_set(err, WEFT_EIO, "%s: no random bytes for a client id", p->where);
  else
    snprintf(p->client, sizeof p->client, "%s%s", a, b);
  free(a);
  free(b);
  return rc;
}

/* What opening does once connected: the schema, then old tokens. Each
 * step is safe to run again on a new connection when the link breaks
 * half-way (the migration is one transaction). */
static int open_setup(struct weft__pg_store *p, weft_error *err) {
  char sql[160];
  int rc = schema_migrate(p, err);
  if (rc) return rc;
  snprintf(sql, sizeof sql, "DELETE FROM tx_tokens WHERE updated_ms < %lld",
           (long long)(weft_clock_wall_ms() - TOKEN_MAX_AGE_MS));
  return exec_simple(p, sql, NULL, "pruning old transaction tokens", err);
}

static int pg_open(struct weft_store *s, const char *url, weft_error *err) {
  struct weft__pg_store *p = (struct weft__pg_store *)s;
  int rc;
  if ((rc = describe_url(p, url, err))) goto fail;
  if (!(p->url = strdup(url))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = make_client_id(p, err))) goto fail;
  /* A server that is not up yet (services often start before their
   * database), or that restarts while we read the schema, is waited for,
   * within a bound; a refusal fails at once. */
  if ((rc = weft__pg_connect_open(p, open_setup, err))) goto fail;
  return WEFT_OK;
fail:
  pg_close(s);
  return rc;
}

/* ---- transactions ---------------------------------------------------------------------- */

static int pg_begin(struct weft_store *s, weft_error *err) {
  return weft__pg_tx_begin((struct weft__pg_store *)s, err);
}

static int pg_commit(struct weft_store *s, weft_error *err) {
  return weft__pg_tx_commit((struct weft__pg_store *)s, err);
}

static void pg_rollback(struct weft_store *s) {
  weft__pg_tx_rollback((struct weft__pg_store *)s);
}

const struct weft_store_methods weft__store_pg_methods = {
    .version = 1,
    .name = "postgres",
    .instance_size = sizeof(struct weft__pg_store),
    .xOpen = pg_open,
    .xClose = pg_close,
    .xBegin = pg_begin,
    .xCommit = pg_commit,
    .xRollback = pg_rollback,
    .xRunCreate = weft__pg_run_create,
    .xRunUpdate = weft__pg_run_update,
    .xRunUpdateMany = weft__pg_run_update_many,
    .xRunCreateMany = weft__pg_run_create_many,
    .xRunGet = weft__pg_run_get,
    .xRunList = weft__pg_run_list,
    .xRunCount = weft__pg_run_count,
    .xStepPut = weft__pg_step_put,
    .xStepList = weft__pg_step_list,
    .xEventAppend = weft__pg_event_append,
    .xEventRead = weft__pg_event_read,
    .xEventWait = weft__pg_event_wait,
    .xKvGet = weft__pg_kv_get,
    .xKvSet = weft__pg_kv_set,
    .xKvDelete = weft__pg_kv_delete,
    .xKvDeletePrefix = weft__pg_kv_delete_prefix,
    .xKvInsertMany = weft__pg_kv_insert_many,
    .xKvDeleteMany = weft__pg_kv_delete_many,
    .xKvCompareSet = weft__pg_kv_compare_set,
    .xKvCompareSetMany = weft__pg_kv_compare_set_many,
    .xKvList = weft__pg_kv_list,
    .xRunSearch = weft__pg_run_search,
    .xRetentionScan = weft__pg_retention_scan,
    .xRunMarkGet = weft__pg_run_mark_get,
    .xRunMarkSet = weft__pg_run_mark_set,
    .xEventPurge = weft__pg_event_purge,
    .xEventCount = weft__pg_event_count,
    .xRunDelete = weft__pg_run_delete,
    .xMaterializationList = weft__pg_materialization_list,
    .xAssetList = weft__pg_asset_list,
    .xAssetGet = weft__pg_asset_get,
    .xAssetHistory = weft__pg_asset_history,
    .xAssetPartitions = weft__pg_asset_partitions,
    .xAssetEventAdd = weft__pg_asset_event_add,
    .xLeaseClaim = weft__pg_lease_claim,
    .xLeaseRenew = weft__pg_lease_renew,
    .xLeaseRelease = weft__pg_lease_release,
    .xLeaseReleaseMany = weft__pg_lease_release_many,
    .xLeaseClaimMany = weft__pg_lease_claim_many,
    .xLeaseGet = weft__pg_lease_get,
    .xNotify = weft__pg_notify,
    .xNotifyWait = weft__pg_notify_wait,
};
