/* test_store_pg.c: what only the PostgreSQL backend does: migrations in a
 * schema of their own, refusal of newer or foreign schemas, URL errors,
 * and exactly-once transactions across lost connections (the link cut
 * mid-transaction, the COMMIT answer lost, a replay that must give up).
 * Every test is skipped (passes with a note) unless WEFT_TEST_PG_URL is set. */
#include <libpq-fe.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"
#include "store/store_pg.h"
#include "test.h"

#define SKIP_WITHOUT_PG()                                              \
  do {                                                                 \
    if (!getenv("WEFT_TEST_PG_URL") || !*getenv("WEFT_TEST_PG_URL")) { \
      fprintf(stderr, "# skipped: WEFT_TEST_PG_URL is not set\n");     \
      return 0;                                                        \
    }                                                                  \
  } while (0)

/* ---- helpers ------------------------------------------------------------------- */

static void no_notices(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

/* Runs sql on url with libpq directly; the first value of the first row
 * (malloc'ed, "" when none) or NULL on error (printed unless quiet). */
static char *raw_q(const char *url, const char *sql, int quiet) {
  PGconn *c = PQconnectdb(url);
  char *out = NULL;
  PQsetNoticeProcessor(c, no_notices, NULL);
  PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
  ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (t == PGRES_TUPLES_OK || t == PGRES_COMMAND_OK)
    out = strdup(t == PGRES_TUPLES_OK && PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
  else if (!quiet)
    fprintf(stderr, "# raw sql: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  return out;
}

static int raw_ok(const char *url, const char *sql) {
  char *v = raw_q(url, sql, 0);
  free(v);
  return v != NULL;
}

static long long raw_int(const char *url, const char *sql) {
  char *v = raw_q(url, sql, 0);
  long long n = v && *v ? atoll(v) : -1;
  free(v);
  return n;
}

/* A new empty schema; *url receives the test URL with it as search_path,
 * so the store sees an empty database. Returns the schema name. */
static char *fresh_schema(char **url) {
  const char *base = getenv("WEFT_TEST_PG_URL");
  char *id = weft_store_new_run_id(), *name = NULL, *sql = NULL;
  *url = NULL;
  if (!id || asprintf(&name, "wt_%s", id) < 0) name = NULL;
  free(id);
  if (!name || asprintf(&sql, "CREATE SCHEMA %s", name) < 0 || !raw_ok(base, sql) ||
      asprintf(url, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
               name) < 0) {
    free(sql);
    free(name);
    return NULL;
  }
  free(sql);
  return name;
}

static void drop_schema(char *name, char *url) {
  char *sql = NULL;
  if (name && asprintf(&sql, "DROP SCHEMA %s CASCADE", name) > 0)
    free(raw_q(getenv("WEFT_TEST_PG_URL"), sql, 1));
  free(sql);
  free(name);
  free(url);
}

static struct weft_store *open_store(const char *url) {
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_open(url, &s, &err)) fprintf(stderr, "# open: %s\n", err.msg);
  return s;
}

static char *make_run(struct weft_store *s) {
  struct weft_run_row r = {0};
  r.id = weft_store_new_run_id();
  r.job = "pg";
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_run_create(s, &r, &err)) {
    fprintf(stderr, "# run create: %s\n", err.msg);
    free(r.id);
    return NULL;
  }
  return r.id;
}

/* Appends n events "e<first>".."e<first+n-1>" in one call; ids into ids[]. */
static int append_n(struct weft_store *s, const char *run, int first, int n, int64_t *ids) {
  struct weft_event_row ev[16] = {{0}};
  char types[16][16];
  weft_error err = WEFT_ERROR_INIT;
  for (int i = 0; i < n; i++) {
    snprintf(types[i], sizeof types[i], "e%d", first + i);
    ev[i].run_id = (char *)run;
    ev[i].type = types[i];
  }
  int rc = weft_store_event_append(s, ev, (size_t)n, &err);
  if (rc) fprintf(stderr, "# append: %s\n", err.msg);
  for (int i = 0; i < n && ids; i++) ids[i] = ev[i].id;
  return rc;
}

/* The run's events as "e0,e1,..." with their ids in ids[] (up to 64). */
static char *event_types(struct weft_store *s, const char *run, int64_t *ids) {
  struct weft_event_list l = {0};
  struct weft_event_filter f = {.run_id = run};
  weft_error err = WEFT_ERROR_INIT;
  char buf[1024] = "";
  if (weft_store_event_read(s, &f, &l, &err)) return NULL;
  for (size_t i = 0; i < l.n; i++) {
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "", l.v[i].type);
    if (ids && i < 64) ids[i] = l.v[i].id;
  }
  weft_event_list_release(&l);
  return strdup(buf);
}

/* ---- schema -------------------------------------------------------------------------- */

TEST(migrate_empty_schema) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_store_close(s);
  ASSERT_EQ(raw_int(url, "SELECT max(version) FROM schema_version"), weft__pg_migration_count);
  ASSERT_EQ(raw_int(url, "SELECT count(*) FROM schema_version"), 1);
  ASSERT_EQ(raw_int(url, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                         " AND tablename IN ('runs', 'steps', 'events', 'kv', 'schedules', "
                         "'ticks', 'sensor_cursors', 'workers', 'schema_version', "
                         "'tx_tokens')"),
            10);
  /* opening again changes nothing */
  ASSERT((s = open_store(url)));
  weft_store_close(s);
  ASSERT_EQ(raw_int(url, "SELECT count(*) FROM schema_version"), 1);
  drop_schema(schema, url);
  return 0;
}

TEST(migrate_from_version_1) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  ASSERT(raw_ok(url, weft__pg_migrations[0]));
  ASSERT(raw_ok(url, "INSERT INTO schema_version VALUES (1); INSERT INTO runs (id, job, "
                     "status, created_ms) VALUES ('old000000001', 'etl', 'success', 5)"));
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_run_row r = {0};
  ASSERT_EQ(weft_store_run_get(s, "old000000001", &r, &err), WEFT_OK);
  ASSERT_EQ(r.status, WEFT_RUN_SUCCESS);
  weft_run_row_release(&r);
  weft_store_close(s);
  ASSERT_EQ(raw_int(url, "SELECT max(version) FROM schema_version"), weft__pg_migration_count);
  ASSERT_EQ(raw_int(url, "SELECT count(*) FROM workers"), 0);
  drop_schema(schema, url);
  return 0;
}

TEST(refuse_newer_schema) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url), sql[128];
  ASSERT(schema);
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_store_close(s);
  snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d",
           weft__pg_migration_count + 1);
  ASSERT(raw_ok(url, sql));
  weft_error err = WEFT_ERROR_INIT;
  s = NULL;
  ASSERT_EQ(weft_store_open(url, &s, &err), WEFT_EVERSION);
  ASSERT(s == NULL);
  ASSERT_CONTAINS(err.msg, "use a newer weft");
  snprintf(sql, sizeof sql, "schema version %d", weft__pg_migration_count + 1);
  ASSERT_CONTAINS(err.msg, sql);
  drop_schema(schema, url);
  return 0;
}

TEST(refuse_foreign_tables) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  ASSERT(raw_ok(url, "CREATE TABLE runs (x int)"));
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *s = NULL;
  ASSERT_EQ(weft_store_open(url, &s, &err), WEFT_EVERSION);
  ASSERT_CONTAINS(err.msg, "not a weft database");
  drop_schema(schema, url);
  return 0;
}

/* Several processes open a new database at once: one migrates, none fails. */
TEST(concurrent_first_open) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  enum { PROCS = 4 };
  pid_t pids[PROCS];
  fflush(NULL);
  for (int i = 0; i < PROCS; i++) {
    if ((pids[i] = fork()) == 0) {
      struct weft_store *c = open_store(url);
      int ok = c != NULL;
      weft_store_close(c);
      _exit(ok ? 0 : 1);
    }
  }
  for (int i = 0; i < PROCS; i++) {
    int st = 0;
    waitpid(pids[i], &st, 0);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  ASSERT_EQ(raw_int(url, "SELECT count(*) FROM schema_version"), 1);
  drop_schema(schema, url);
  return 0;
}

TEST(url_errors) {
  SKIP_WITHOUT_PG();
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *s = NULL;
  ASSERT_EQ(weft_store_open("postgresql://h/db?nosuchoption=1", &s, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "not a valid postgres URL");
  ASSERT_CONTAINS(err.msg, "nosuchoption");
  /* nothing listens on port 1; the message names the server, never the password */
  ASSERT_EQ(weft_store_open("postgres://weft:s3cret@127.0.0.1:1/x", &s, &err), WEFT_EIO);
  ASSERT_CONTAINS(err.msg, "postgres weft@127.0.0.1:1/x");
  ASSERT_CONTAINS(err.msg, "cannot connect");
  ASSERT(!strstr(err.msg, "s3cret"));
  ASSERT(s == NULL);
  return 0;
}

/* ---- faults and lost connections ---------------------------------------------------------- */

TEST(fault_injection) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url), *v = NULL;
  ASSERT(schema);
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  weft_store_fault_inject(2, WEFT_EIO);
  ASSERT_EQ(weft_store_kv_set(s, "a", "1", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "b", "2", &err), WEFT_EIO);
  ASSERT_CONTAINS(err.msg, "injected");
  ASSERT_EQ(weft_store_kv_get(s, "b", &v, &err), WEFT_ENOTFOUND);
  /* an injected commit failure leaves no transaction open, nothing written */
  weft_store_fault_inject(3, 0);
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "c", "3", &err), WEFT_OK);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_ESTORE);
  ASSERT_EQ(s->tx_depth, 0);
  ASSERT_EQ(weft_store_kv_get(s, "c", &v, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_kv_get(s, "a", &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "1");
  free(v);
  /* the write lock was released: another handle can write at once */
  struct weft_store *o = open_store(url);
  ASSERT(o);
  ASSERT_EQ(weft_store_kv_set(o, "d", "4", &err), WEFT_OK);
  weft_store_close(o);
  weft_store_close(s);
  drop_schema(schema, url);
  return 0;
}

/* The link breaks in the middle of a transaction: the store reconnects and
 * replays what the transaction did, and the events keep the ids they were
 * given. Everything lands once. */
TEST(lost_mid_transaction) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url), *v = NULL;
  ASSERT(schema);
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s);
  ASSERT(run);
  int64_t ids[8], got[64];
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(append_n(s, run, 0, 3, ids), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "k", "v1", &err), WEFT_OK);
  weft__pg_test_drop_connection(s);
  ASSERT_EQ(append_n(s, run, 3, 2, ids + 3), WEFT_OK);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_OK);
  char *types = event_types(s, run, got);
  ASSERT_STR_EQ(types, "e0,e1,e2,e3,e4");
  for (int i = 0; i < 5; i++) ASSERT_EQ(got[i], ids[i]);
  ASSERT_EQ(weft_store_kv_get(s, "k", &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "v1");
  free(v);
  free(types);
  /* and the id sequence continues above them */
  ASSERT_EQ(append_n(s, run, 5, 1, ids + 5), WEFT_OK);
  ASSERT(ids[5] > ids[4]);
  free(run);
  weft_store_close(s);
  drop_schema(schema, url);
  return 0;
}

/* COMMIT reached the server but its answer was lost: the token says it
 * committed, so nothing is replayed (it would duplicate the events). */
TEST(commit_answer_lost) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s);
  ASSERT(run);
  int64_t ids[8], got[64];
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(append_n(s, run, 0, 3, ids), WEFT_OK);
  weft__pg_test_commit_hook(s, WEFT__PG_HOOK_DROP_AFTER_COMMIT);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_OK);
  /* a lone call (its own transaction) too */
  weft__pg_test_commit_hook(s, WEFT__PG_HOOK_DROP_AFTER_COMMIT);
  ASSERT_EQ(append_n(s, run, 3, 1, ids + 3), WEFT_OK);
  char *types = event_types(s, run, got);
  ASSERT_STR_EQ(types, "e0,e1,e2,e3");
  for (int i = 0; i < 4; i++) ASSERT_EQ(got[i], ids[i]);
  free(types);
  free(run);
  weft_store_close(s);
  drop_schema(schema, url);
  return 0;
}

/* The link broke before COMMIT got through: the token says it did not
 * commit, so the transaction is replayed and committed, once. */
TEST(commit_never_arrived) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s);
  ASSERT(run);
  int64_t ids[8], got[64];
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(append_n(s, run, 0, 3, ids), WEFT_OK);
  weft__pg_test_commit_hook(s, WEFT__PG_HOOK_DROP_BEFORE_COMMIT);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_OK);
  weft__pg_test_commit_hook(s, WEFT__PG_HOOK_DROP_BEFORE_COMMIT);
  ASSERT_EQ(append_n(s, run, 3, 2, ids + 3), WEFT_OK);
  char *types = event_types(s, run, got);
  ASSERT_STR_EQ(types, "e0,e1,e2,e3,e4");
  for (int i = 0; i < 5; i++) ASSERT_EQ(got[i], ids[i]);
  free(types);
  free(run);
  weft_store_close(s);
  drop_schema(schema, url);
  return 0;
}

/* A lone kv insert (a queue worker recording results) takes its handle's
 * own lock, not the store-wide one: another handle's open write
 * transaction does not hold it up. The insert runs in a child with its own
 * handle while this one holds its transaction open; before, it waited for
 * that commit (here: forever, the lock timeout being 30 s). */
TEST(lone_kv_insert_does_not_wait_for_a_writer) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  const char *mine = "test/held", *theirs = "test/lone";
  const char *v = "1";
  unsigned char in[1] = {0};
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_insert_many(s, &mine, &v, 1, in, &err), WEFT_OK);
  pid_t child = fork();
  ASSERT(child >= 0);
  if (child == 0) {
    struct weft_store *o = open_store(url);
    unsigned char oin[1] = {0};
    weft_error e = WEFT_ERROR_INIT;
    int ok = o && !weft_store_kv_insert_many(o, &theirs, &v, 1, oin, &e) && oin[0];
    if (o) weft_store_close(o);
    _exit(ok ? 0 : 1);
  }
  int status = -1, waited = 0;
  for (int i = 0; i < 200 && !waited; i++) { /* 10 s */
    waited = waitpid(child, &status, WNOHANG) == child;
    if (!waited) usleep(50000);
  }
  if (!waited) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  ASSERT(waited);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* Committed while this transaction is still open (read committed). */
  char *got = NULL;
  ASSERT_EQ(weft_store_kv_get(s, theirs, &got, &err), WEFT_OK);
  ASSERT_STR_EQ(got, "1");
  free(got);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_OK);
  weft_store_close(s);
  drop_schema(schema, url);
  return 0;
}

/* A lone kv insert whose link broke around its COMMIT (answer lost, or the
 * COMMIT never arrived) reports each key inserted once, as it went in: the
 * handle's own lock and token settle it as the store-wide one does. */
TEST(lone_kv_insert_survives_a_lost_commit) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  const int hooks[2] = {WEFT__PG_HOOK_DROP_AFTER_COMMIT, WEFT__PG_HOOK_DROP_BEFORE_COMMIT};
  for (int h = 0; h < 2; h++) {
    const char *keys[2] = {h ? "test/b1" : "test/a1", h ? "test/b2" : "test/a2"};
    const char *vals[2] = {"x", "y"};
    unsigned char in[2] = {0, 0};
    weft__pg_test_commit_hook(s, hooks[h]);
    ASSERT_EQ(weft_store_kv_insert_many(s, keys, vals, 2, in, &err), WEFT_OK);
    ASSERT(in[0] && in[1]);
    for (int k = 0; k < 2; k++) {
      char *got = NULL;
      ASSERT_EQ(weft_store_kv_get(s, keys[k], &got, &err), WEFT_OK);
      ASSERT_STR_EQ(got, vals[k]);
      free(got);
    }
    /* In: a second insert of the same keys inserts nothing. */
    ASSERT_EQ(weft_store_kv_insert_many(s, keys, vals, 2, in, &err), WEFT_OK);
    ASSERT(!in[0] && !in[1]);
  }
  weft_store_close(s);
  drop_schema(schema, url);
  return 0;
}

/* Another writer commits events while our transaction is cut off: the
 * replay cannot reuse its ids below theirs (a cursor may have passed them)
 * and draws new ones; still each event once, in commit order. */
TEST(replay_after_other_writer) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  struct weft_store *s = open_store(url), *o = open_store(url);
  ASSERT(s && o);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s);
  ASSERT(run);
  int64_t ids[8], other[2], got[64];
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(append_n(s, run, 0, 2, ids), WEFT_OK);
  weft__pg_test_drop_connection(s);
  /* waits until the server has noticed and released our write lock */
  ASSERT_EQ(append_n(o, run, 10, 1, other), WEFT_OK);
  ASSERT(other[0] > ids[1]);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_OK);
  char *types = event_types(o, run, got);
  ASSERT_STR_EQ(types, "e10,e0,e1");
  ASSERT(got[1] > other[0] && got[2] > got[1]);
  free(types);
  free(run);
  weft_store_close(o);
  weft_store_close(s);
  drop_schema(schema, url);
  return 0;
}

/* What the transaction read changed while it was cut off: replaying it
 * would act on stale data, so it fails with a conflict and writes nothing. */
TEST(replay_refuses_changed_reads) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url), *v = NULL;
  ASSERT(schema);
  struct weft_store *s = open_store(url), *o = open_store(url);
  ASSERT(s && o);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_store_kv_set(s, "n", "1", &err), WEFT_OK);
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_get(s, "n", &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "1");
  free(v);
  weft__pg_test_drop_connection(s);
  ASSERT_EQ(weft_store_kv_set(o, "n", "5", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "n", "2", &err), WEFT_ECONFLICT);
  ASSERT_CONTAINS(err.msg, "changed");
  weft_store_rollback(s);
  ASSERT_EQ(weft_store_kv_get(o, "n", &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "5");
  free(v);
  /* the handle works again afterwards */
  ASSERT_EQ(weft_store_kv_set(s, "n", "6", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_get(o, "n", &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "6");
  free(v);
  weft_store_close(o);
  weft_store_close(s);
  drop_schema(schema, url);
  return 0;
}

/* Reads outside a transaction and event waits reconnect on their own. */
TEST(reads_and_waits_reconnect) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url);
  ASSERT(schema);
  struct weft_store *s = open_store(url), *o = open_store(url);
  ASSERT(s && o);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s);
  ASSERT(run);
  struct weft_run_row r = {0};
  weft__pg_test_drop_connection(s);
  ASSERT_EQ(weft_store_run_get(s, run, &r, &err), WEFT_OK);
  weft_run_row_release(&r);
  int64_t id[1];
  ASSERT_EQ(append_n(o, run, 0, 1, id), WEFT_OK);
  weft__pg_test_drop_connection(s);
  ASSERT_EQ(weft_store_event_wait(s, id[0] - 1, 5000, &err), 1);
  weft__pg_test_drop_connection(s);
  ASSERT_EQ(weft_store_event_wait(s, id[0], 100, &err), 0);
  free(run);
  weft_store_close(o);
  weft_store_close(s);
  drop_schema(schema, url);
  return 0;
}

/* A notification wait outlives a lost connection (it subscribes again and
 * says "look", as a ring may have been missed), and a ring in another
 * schema of the same database (another instance) does not wake it. */
TEST(notify_reconnects_and_stays_in_its_schema) {
  SKIP_WITHOUT_PG();
  char *url, *schema = fresh_schema(&url), *url2, *schema2 = fresh_schema(&url2);
  ASSERT(schema && schema2);
  struct weft_store *w = open_store(url), *n = open_store(url), *other = open_store(url2);
  ASSERT(w && n && other);
  weft_error err = WEFT_ERROR_INIT;
  const enum weft_store_channel ch = WEFT_STORE_CHANNEL_INBOX;
  ASSERT_EQ(weft_store_notify_wait(w, ch, 5000, &err), 1); /* subscribed */
  ASSERT_EQ(weft_store_notify(other, ch, &err), WEFT_OK);
  ASSERT_EQ(weft_store_notify_wait(w, ch, 300, &err), 0);
  weft__pg_test_drop_connection(w);
  ASSERT_EQ(weft_store_notify_wait(w, ch, 5000, &err), 1); /* subscribed again */
  ASSERT_EQ(weft_store_notify_wait(w, ch, 100, &err), 0);
  ASSERT_EQ(weft_store_notify(n, ch, &err), WEFT_OK);
  ASSERT_EQ(weft_store_notify_wait(w, ch, 5000, &err), 1);
  /* a schema name that needs quoting makes a channel too */
  struct weft__pg_store probe = {0};
  weft__pg_inbox_channel_set(&probe, "we\"ird");
  ASSERT_STR_EQ(probe.inbox_channel, "\"weft_inbox/we\"\"ird\"");
  char sql[256];
  ASSERT_STR_EQ(weft__pg_commit_sql(&probe, WEFT__PG_NOTE_EVENTS | WEFT__PG_NOTE_INBOX, sql,
                                    sizeof sql),
                "NOTIFY weft_events; NOTIFY \"weft_inbox/we\"\"ird\"; COMMIT");
  ASSERT_STR_EQ(weft__pg_commit_sql(&probe, 0, sql, sizeof sql), "COMMIT");
  weft_store_close(other);
  weft_store_close(n);
  weft_store_close(w);
  drop_schema(schema2, url2);
  drop_schema(schema, url);
  return 0;
}

/* Key prefixes in a database that is not UTF-8: the end of a prefix's
 * range is U+10FFFF only where the prefix ends beyond ASCII, which LATIN1
 * cannot hold; such a prefix (and "") is read unbounded instead. */
TEST(kv_prefixes_in_a_latin1_database) {
  SKIP_WITHOUT_PG();
  const char *base = getenv("WEFT_TEST_PG_URL");
  char *id = weft_store_new_run_id(), *db = NULL, *sql = NULL, *url = NULL;
  ASSERT(id && asprintf(&db, "wt_latin1_%s", id) > 0);
  ASSERT(asprintf(&sql, "CREATE DATABASE %s ENCODING 'LATIN1' TEMPLATE template0 "
                        "LC_COLLATE 'C' LC_CTYPE 'C'", db) > 0);
  ASSERT(raw_ok(base, sql));
  const char *slash = strrchr(base, '/'), *q = strchr(base, '?');
  ASSERT(slash && asprintf(&url, "%.*s/%s%s", (int)(slash - base), base, db, q ? q : "") > 0);
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_store_kv_set(s, "k/\xc3\xa9x", "1", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "k/b", "2", &err), WEFT_OK);
  struct weft_kv_list l = {0};
  ASSERT_EQ(weft_store_kv_list(s, "", NULL, 0, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 2);
  weft_kv_list_release(&l);
  ASSERT_EQ(weft_store_kv_list(s, "k/\xc3\xa9", NULL, 0, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  weft_kv_list_release(&l);
  ASSERT_EQ(weft_store_kv_list(s, "k/", NULL, 0, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 2);
  weft_kv_list_release(&l);
  ASSERT_EQ(weft_store_kv_delete_prefix(s, "k/\xc3\xa9", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_list(s, "k/", NULL, 0, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  weft_kv_list_release(&l);
  weft_store_close(s);
  free(sql);
  ASSERT(asprintf(&sql, "DROP DATABASE %s WITH (FORCE)", db) > 0);
  ASSERT(raw_ok(base, sql));
  free(sql);
  free(url);
  free(db);
  free(id);
  return 0;
}

TEST_MAIN(TEST_ENTRY(migrate_empty_schema) TEST_ENTRY(migrate_from_version_1)
              TEST_ENTRY(refuse_newer_schema) TEST_ENTRY(refuse_foreign_tables)
                  TEST_ENTRY(concurrent_first_open) TEST_ENTRY(url_errors)
                      TEST_ENTRY(fault_injection) TEST_ENTRY(lost_mid_transaction)
                          TEST_ENTRY(commit_answer_lost) TEST_ENTRY(commit_never_arrived)
                              TEST_ENTRY(lone_kv_insert_does_not_wait_for_a_writer)
                              TEST_ENTRY(lone_kv_insert_survives_a_lost_commit)
                              TEST_ENTRY(replay_after_other_writer)
                                  TEST_ENTRY(replay_refuses_changed_reads)
                                      TEST_ENTRY(reads_and_waits_reconnect)
                                          TEST_ENTRY(notify_reconnects_and_stays_in_its_schema)
                                              TEST_ENTRY(kv_prefixes_in_a_latin1_database))
