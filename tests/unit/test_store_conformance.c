/* test_store_conformance.c: one table of storage cases run against every
 * backend: sqlite always, postgres when WEFT_TEST_PG_URL names a database.
 *
 * Cases receive only a URL and open their own stores (forked children open
 * their own connections). Every case gets a database of its own (a new
 * sqlite file; a new postgres schema): the suite's postgres server is
 * shared with tests running meanwhile, whose events would otherwise show
 * up in a case that reads every run's events or waits for a new one. The
 * migration cases ask the backend for one more, at a chosen version. */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"
/* Under ASan on a machine at load 35 a case took over the default 60 s. */
#define TEST_TIMEOUT_S 180
#include "test.h"
#include "util/clock.h"
#include "util/fs.h"

/* ---- backends ---------------------------------------------------------------- */

#define SKIP 2

struct backend {
  const char *name;
  int (*setup)(char *url, size_t len); /* 0, SKIP, or 1 on failure */
  void (*teardown)(void);
  /* A database of the case's own at schema version (0: empty) holding,
   * from version 1 on, the finished run "old000000001"; 0 or 1. */
  int (*fresh_db)(int version, char *url, size_t len);
  const int *latest; /* the schema version this weft writes */
  /* The database's recorded schema version(s): max and row count. */
  int (*schema_version)(const char *url, int *max, int *rows);
};

#define OLD_RUN "old000000001"

static char sqlite_dir[64];

static int sqlite_setup(char *url, size_t len) {
  strcpy(sqlite_dir, "/tmp/weft-store-XXXXXX");
  if (!mkdtemp(sqlite_dir)) return 1;
  snprintf(url, len, "sqlite:%s/weft.db", sqlite_dir);
  return 0;
}

static void sqlite_teardown(void) { weft_fs_remove_tree(sqlite_dir, NULL); }

static int sqlite_exec(const char *path, const char *sql) {
  sqlite3 *h = NULL;
  int rc = sqlite3_open(path, &h);
  if (rc == SQLITE_OK) rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK) fprintf(stderr, "# sqlite: %s\n", sqlite3_errmsg(h));
  sqlite3_close(h);
  return rc != SQLITE_OK;
}

static int sqlite_fresh_db(int version, char *url, size_t len) {
  static int n;
  char path[128];
  snprintf(path, sizeof path, "%s/fresh%d.db", sqlite_dir, ++n);
  snprintf(url, len, "sqlite:%s", path);
  for (int v = 0; v < version; v++)
    if (sqlite_exec(path, weft__sqlite_migrations[v])) return 1;
  char sql[256];
  snprintf(sql, sizeof sql,
           "INSERT INTO schema_version VALUES (%d); INSERT INTO runs (id, job, status, "
           "created_ms) VALUES ('" OLD_RUN "', 'etl', 'success', 5)",
           version);
  return version ? sqlite_exec(path, sql) : 0;
}

static int sqlite_schema_version(const char *url, int *max, int *rows) {
  sqlite3 *h = NULL;
  sqlite3_stmt *st = NULL;
  int ok = sqlite3_open(url + strlen("sqlite:"), &h) == SQLITE_OK &&
           sqlite3_prepare_v2(h, "SELECT max(version), count(*) FROM schema_version", -1,
                              &st, NULL) == SQLITE_OK &&
           sqlite3_step(st) == SQLITE_ROW;
  if (ok) {
    *max = sqlite3_column_int(st, 0);
    *rows = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return !ok;
}

/* The schemas of the running case: [0] made by pg_setup, [1] by
 * pg_fresh_db; dropped by teardown. */
static char pg_schemas[2][32];
static int pg_new_schema(char schema[32], int version, char *url, size_t len);

static int pg_setup(char *url, size_t len) {
  const char *env = getenv("WEFT_TEST_PG_URL");
  if (!env || !*env) return SKIP;
  return pg_new_schema(pg_schemas[0], 0, url, len);
}

/* Runs sql on url with libpq; the first value of the first row into
 * first (when given). Non-zero on failure. */
static int pg_exec(const char *url, const char *sql, char *first, size_t len) {
  PGconn *c = PQconnectdb(url);
  PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
  ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  int failed = t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK;
  if (failed)
    fprintf(stderr, "# postgres: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
  else if (first)
    snprintf(first, len, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
  PQclear(r);
  PQfinish(c);
  return failed;
}

static void pg_teardown(void) {
  char sql[128];
  for (int i = 0; i < 2; i++) {
    if (!pg_schemas[i][0]) continue;
    snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA %s CASCADE",
             pg_schemas[i]);
    pg_exec(getenv("WEFT_TEST_PG_URL"), sql, NULL, 0);
    pg_schemas[i][0] = 0;
  }
}

static int pg_fresh_db(int version, char *url, size_t len) {
  return pg_new_schema(pg_schemas[1], version, url, len);
}

/* A new schema named into schema, made the URL's search_path: an empty
 * database to weft, then at the given schema version. */
static int pg_new_schema(char schema[32], int version, char *url, size_t len) {
  const char *base = getenv("WEFT_TEST_PG_URL");
  char *id = weft_store_new_run_id(), sql[256];
  if (!id) return 1;
  snprintf(schema, 32, "wc_%s", id);
  free(id);
  snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
  if (pg_exec(base, sql, NULL, 0)) return 1;
  snprintf(url, len, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
           schema);
  for (int v = 0; v < version; v++)
    if (pg_exec(url, weft__pg_migrations[v], NULL, 0)) return 1;
  snprintf(sql, sizeof sql,
           "INSERT INTO schema_version VALUES (%d); INSERT INTO runs (id, job, status, "
           "created_ms) VALUES ('" OLD_RUN "', 'etl', 'success', 5)",
           version);
  return version ? pg_exec(url, sql, NULL, 0) : 0;
}

static int pg_schema_version(const char *url, int *max, int *rows) {
  char v[32];
  if (pg_exec(url, "SELECT max(version) FROM schema_version", v, sizeof v)) return 1;
  *max = atoi(v);
  if (pg_exec(url, "SELECT count(*) FROM schema_version", v, sizeof v)) return 1;
  *rows = atoi(v);
  return 0;
}

static const struct backend sqlite_backend = {
    "sqlite",        sqlite_setup, sqlite_teardown, sqlite_fresh_db,
    &weft__sqlite_migration_count, sqlite_schema_version};
static const struct backend pg_backend = {
    "postgres", pg_setup, pg_teardown, pg_fresh_db, &weft__pg_migration_count,
    pg_schema_version};

/* The backend of the case running now (each case runs in its own process). */
static const struct backend *current;

/* ---- helpers ------------------------------------------------------------------- */

static struct weft_store *open_store(const char *url) {
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_open(url, &s, &err)) fprintf(stderr, "# open %s: %s\n", url, err.msg);
  return s;
}

/* A unique name with a readable prefix, so cases never see each other's rows. */
static char *unique(const char *prefix) {
  char *id = weft_store_new_run_id(), *out = NULL;
  if (id && asprintf(&out, "%s-%s", prefix, id) < 0) out = NULL;
  free(id);
  return out;
}

/* Creates a queued run of job with the given creation time; returns its id. */
static char *make_run(struct weft_store *s, const char *job, const char *location,
                      enum weft_run_status status, int64_t created_ms) {
  struct weft_run_row r = {0};
  r.id = weft_store_new_run_id();
  r.job = (char *)job;
  r.location = (char *)location;
  r.status = status;
  r.created_ms = created_ms;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_run_create(s, &r, &err)) {
    fprintf(stderr, "# run create: %s\n", err.msg);
    free(r.id);
    return NULL;
  }
  return r.id;
}

static int append_one(struct weft_store *s, const char *run_id, const char *step,
                      const char *type, const char *payload, int64_t *id) {
  struct weft_event_row e = {0};
  e.run_id = (char *)run_id;
  e.step = (char *)step;
  e.type = (char *)type;
  e.payload = (char *)payload;
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_store_event_append(s, &e, 1, &err);
  if (rc) fprintf(stderr, "# event append: %s\n", err.msg);
  if (id) *id = e.id;
  return rc;
}

/* Waits for every child; non-zero when any failed. */
static int wait_children(pid_t *pids, int n) {
  int failed = 0;
  for (int i = 0; i < n; i++) {
    int st = 0;
    if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) failed = 1;
  }
  return failed;
}

/* ---- cases ------------------------------------------------------------------------ */

static int case_run_crud(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *id = weft_store_new_run_id();
  struct weft_run_row r = {0}, got = {0};
  r.id = id;
  r.job = "etl";
  r.location = "loc";
  r.status = WEFT_RUN_QUEUED;
  r.run_config = "{\"ops\":{}}";
  r.tags = "{\"team\":\"data\"}";
  r.parent_run_id = "parent0000aa";
  r.root_run_id = "root000000bb";
  r.code_version = "sha256:abc";
  r.created_ms = 1700000000123;
  ASSERT_EQ(weft_store_run_create(s, &r, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_get(s, id, &got, &err), WEFT_OK);
  ASSERT_STR_EQ(got.id, id);
  ASSERT_STR_EQ(got.job, "etl");
  ASSERT_STR_EQ(got.location, "loc");
  ASSERT_EQ(got.status, WEFT_RUN_QUEUED);
  ASSERT_STR_EQ(got.run_config, "{\"ops\":{}}");
  ASSERT_STR_EQ(got.tags, "{\"team\":\"data\"}");
  ASSERT_STR_EQ(got.parent_run_id, "parent0000aa");
  ASSERT_STR_EQ(got.root_run_id, "root000000bb");
  ASSERT_STR_EQ(got.code_version, "sha256:abc");
  ASSERT(got.message == NULL && got.coordinator == NULL);
  ASSERT_EQ(got.created_ms, 1700000000123);
  ASSERT_EQ(got.started_ms, 0);
  weft_run_row_release(&got);

  r.status = WEFT_RUN_FAILURE;
  r.message = "op b failed";
  r.started_ms = 1700000001000;
  r.ended_ms = 1700000002000;
  r.coordinator = "host:42";
  r.heartbeat_ms = 1700000001500;
  r.job = "changed"; /* immutable: must not be written */
  ASSERT_EQ(weft_store_run_update(s, &r, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_get(s, id, &got, &err), WEFT_OK);
  ASSERT_EQ(got.status, WEFT_RUN_FAILURE);
  ASSERT_STR_EQ(got.message, "op b failed");
  ASSERT_EQ(got.started_ms, 1700000001000);
  ASSERT_EQ(got.ended_ms, 1700000002000);
  ASSERT_STR_EQ(got.coordinator, "host:42");
  ASSERT_EQ(got.heartbeat_ms, 1700000001500);
  ASSERT_STR_EQ(got.job, "etl");
  weft_run_row_release(&got);

  /* the same id twice is a conflict; a missing id is not found */
  r.job = "etl";
  ASSERT_EQ(weft_store_run_create(s, &r, &err), WEFT_ECONFLICT);
  ASSERT_CONTAINS(err.msg, id);
  ASSERT_EQ(weft_store_run_get(s, "nosuchrun000", &got, &err), WEFT_ENOTFOUND);
  ASSERT(got.id == NULL);

  /* defaults: tags and config "{}", root is the run itself, created now */
  struct weft_run_row bare = {0};
  char *bare_id = weft_store_new_run_id();
  bare.id = bare_id;
  bare.job = "etl";
  int64_t before = weft_clock_wall_ms();
  ASSERT_EQ(weft_store_run_create(s, &bare, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_get(s, bare_id, &got, &err), WEFT_OK);
  ASSERT_STR_EQ(got.tags, "{}");
  ASSERT_STR_EQ(got.run_config, "{}");
  ASSERT_STR_EQ(got.root_run_id, bare_id);
  ASSERT(got.location == NULL && got.parent_run_id == NULL);
  ASSERT(got.created_ms >= before && got.created_ms <= weft_clock_wall_ms());
  weft_run_row_release(&got);

  /* a run without id or job is refused before reaching the backend */
  bare.id = NULL;
  ASSERT_EQ(weft_store_run_create(s, &bare, &err), WEFT_EINVALID);
  free(bare_id);
  free(id);
  weft_store_close(s);
  return 0;
}

static int case_run_update_missing(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_run_row r = {0};
  r.id = "missing00001";
  r.job = "j";
  r.status = WEFT_RUN_STARTED;
  ASSERT_EQ(weft_store_run_update(s, &r, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "missing00001");
  weft_store_close(s);
  return 0;
}

static int case_run_list_pages(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *job = unique("pages"), *other = unique("other");
  enum { N = 120 };
  const enum weft_run_status cycle[3] = {WEFT_RUN_QUEUED, WEFT_RUN_STARTED,
                                         WEFT_RUN_SUCCESS};
  int64_t base = 1700000000000;
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  for (int i = 0; i < N; i++) {
    /* three runs share each timestamp: the id must break the ties */
    char *id = make_run(s, job, i % 2 ? "east" : "west", cycle[i % 3], base + i / 3);
    ASSERT(id);
    free(id);
  }
  char *noise = make_run(s, other, "east", WEFT_RUN_QUEUED, base + 1000);
  ASSERT(noise);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_OK);

  /* page through everything, newest first, 50 at a time */
  struct weft_run_filter f = {.job = job, .limit = 50};
  char *seen[N];
  size_t n_seen = 0, pages = 0;
  char *cursor = NULL;
  int64_t prev_created = INT64_MAX;
  char prev_id[64] = "";
  for (;;) {
    struct weft_run_list l = {0};
    f.before_id = cursor;
    ASSERT_EQ(weft_store_run_list(s, &f, &l, &err), WEFT_OK);
    if (l.n == 0) break;
    pages++;
    ASSERT(l.n <= 50);
    for (size_t i = 0; i < l.n; i++) {
      ASSERT_STR_EQ(l.v[i].job, job);
      /* strictly descending by (created_ms, id) */
      ASSERT(l.v[i].created_ms < prev_created ||
             (l.v[i].created_ms == prev_created && strcmp(l.v[i].id, prev_id) < 0));
      prev_created = l.v[i].created_ms;
      snprintf(prev_id, sizeof prev_id, "%s", l.v[i].id);
      ASSERT(n_seen < N);
      seen[n_seen++] = strdup(l.v[i].id);
    }
    free(cursor);
    cursor = strdup(l.v[l.n - 1].id);
    weft_run_list_release(&l);
  }
  ASSERT_EQ(pages, 3);
  ASSERT_EQ(n_seen, N);
  for (size_t i = 0; i < n_seen; i++)
    for (size_t j = i + 1; j < n_seen; j++) ASSERT(strcmp(seen[i], seen[j]));
  for (size_t i = 0; i < n_seen; i++) free(seen[i]);
  free(cursor);

  /* filters: status mask, location, both; limit 0 means 50 */
  struct weft_run_list l = {0};
  f.before_id = NULL;
  f.limit = 200;
  f.status_mask = 1 << WEFT_RUN_SUCCESS;
  ASSERT_EQ(weft_store_run_list(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, N / 3);
  for (size_t i = 0; i < l.n; i++) ASSERT_EQ(l.v[i].status, WEFT_RUN_SUCCESS);
  weft_run_list_release(&l);
  f.status_mask = (1 << WEFT_RUN_QUEUED) | (1 << WEFT_RUN_STARTED);
  f.location = "east";
  ASSERT_EQ(weft_store_run_list(s, &f, &l, &err), WEFT_OK);
  size_t expect = 0;
  for (int i = 0; i < N; i++) expect += i % 2 && i % 3 != 2;
  ASSERT_EQ(l.n, expect);
  for (size_t i = 0; i < l.n; i++) {
    ASSERT_STR_EQ(l.v[i].location, "east");
    ASSERT(l.v[i].status != WEFT_RUN_SUCCESS);
  }
  weft_run_list_release(&l);
  struct weft_run_filter dflt = {.job = job};
  ASSERT_EQ(weft_store_run_list(s, &dflt, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 50);
  weft_run_list_release(&l);
  dflt.job = other;
  ASSERT_EQ(weft_store_run_list(s, &dflt, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  ASSERT_STR_EQ(l.v[0].id, noise);
  weft_run_list_release(&l);

  /* an unknown cursor is an error, not an empty page */
  dflt.before_id = "nosuchrun000";
  ASSERT_EQ(weft_store_run_list(s, &dflt, &l, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "nosuchrun000");
  ASSERT(l.v == NULL && l.n == 0);
  free(noise);
  free(job);
  free(other);
  weft_store_close(s);
  return 0;
}

/* Counts are of the whole store: in a database of its own, so that other
 * tests writing runs to the shared server meanwhile are not counted. */
static int case_run_count(const char *url) {
  char fresh[512];
  (void)url;
  ASSERT_EQ(current->fresh_db(0, fresh, sizeof fresh), 0);
  struct weft_store *s = open_store(fresh);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  int64_t before[WEFT_RUN__COUNT], after[WEFT_RUN__COUNT];
  ASSERT_EQ(weft_store_run_count(s, before, &err), WEFT_OK);
  char *job = unique("count");
  int added[WEFT_RUN__COUNT] = {0};
  for (int i = 0; i < 17; i++) {
    enum weft_run_status st = (enum weft_run_status)(i % WEFT_RUN__COUNT);
    char *id = make_run(s, job, NULL, st, 0);
    ASSERT(id);
    free(id);
    added[st]++;
  }
  ASSERT_EQ(weft_store_run_count(s, after, &err), WEFT_OK);
  for (int i = 0; i < WEFT_RUN__COUNT; i++) ASSERT_EQ(after[i] - before[i], added[i]);
  free(job);
  weft_store_close(s);
  return 0;
}

static int case_steps(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s, "steps", NULL, WEFT_RUN_STARTED, 0);
  ASSERT(run);
  struct weft_step_row st = {0};
  st.run_id = run;
  st.step = "b";
  st.attempt = 1;
  st.status = WEFT_STEP_SUCCEEDED;
  ASSERT_EQ(weft_store_step_put(s, &st, &err), WEFT_OK);
  st.step = "a";
  st.status = WEFT_STEP_QUEUED;
  ASSERT_EQ(weft_store_step_put(s, &st, &err), WEFT_OK);
  /* replace a#1 */
  st.status = WEFT_STEP_UP_FOR_RETRY;
  st.started_ms = 100;
  st.ended_ms = 200;
  st.pid = 4242;
  st.message = "exit 3";
  st.worker = "host:1";
  ASSERT_EQ(weft_store_step_put(s, &st, &err), WEFT_OK);
  st.attempt = 2;
  st.status = WEFT_STEP_RUNNING;
  st.message = NULL;
  ASSERT_EQ(weft_store_step_put(s, &st, &err), WEFT_OK);

  struct weft_step_list l = {0};
  ASSERT_EQ(weft_store_step_list(s, run, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 3);
  ASSERT_STR_EQ(l.v[0].step, "a");
  ASSERT_EQ(l.v[0].attempt, 1);
  ASSERT_EQ(l.v[0].status, WEFT_STEP_UP_FOR_RETRY);
  ASSERT_EQ(l.v[0].pid, 4242);
  ASSERT_EQ(l.v[0].started_ms, 100);
  ASSERT_EQ(l.v[0].ended_ms, 200);
  ASSERT_STR_EQ(l.v[0].message, "exit 3");
  ASSERT_STR_EQ(l.v[0].worker, "host:1");
  ASSERT_STR_EQ(l.v[0].run_id, run);
  ASSERT_STR_EQ(l.v[1].step, "a");
  ASSERT_EQ(l.v[1].attempt, 2);
  ASSERT_EQ(l.v[1].status, WEFT_STEP_RUNNING);
  ASSERT(l.v[1].message == NULL);
  ASSERT_STR_EQ(l.v[2].step, "b");
  ASSERT_EQ(l.v[2].status, WEFT_STEP_SUCCEEDED);
  weft_step_list_release(&l);

  /* a step of no run; the list of a run without steps is empty */
  st.run_id = "nosuchrun000";
  ASSERT_EQ(weft_store_step_put(s, &st, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "nosuchrun000");
  ASSERT_EQ(weft_store_step_list(s, "nosuchrun000", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 0);
  st.attempt = 0;
  ASSERT_EQ(weft_store_step_put(s, &st, &err), WEFT_EINVALID);
  free(run);
  weft_store_close(s);
  return 0;
}

static int case_event_append_batch(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s, "events", NULL, WEFT_RUN_STARTED, 0);
  ASSERT(run);
  struct weft_event_row ev[5] = {{0}};
  for (int i = 0; i < 5; i++) {
    ev[i].run_id = run;
    ev[i].type = "log";
    ev[i].step = i % 2 ? "a" : NULL;
  }
  ev[0].payload = "{\"msg\":\"hi\"}";
  ev[1].ts_ms = 1234;
  int64_t before = weft_clock_wall_ms();
  ASSERT_EQ(weft_store_event_append(s, ev, 5, &err), WEFT_OK);
  for (int i = 1; i < 5; i++) ASSERT(ev[i].id > ev[i - 1].id);
  int64_t last = ev[4].id;
  ASSERT_EQ(weft_store_event_append(s, ev, 3, &err), WEFT_OK);
  ASSERT(ev[0].id > last && ev[1].id > ev[0].id && ev[2].id > ev[1].id);

  struct weft_event_list l = {0};
  struct weft_event_filter f = {.run_id = run};
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 8);
  ASSERT_STR_EQ(l.v[0].payload, "{\"msg\":\"hi\"}");
  ASSERT_STR_EQ(l.v[2].payload, "{}"); /* default payload */
  ASSERT_EQ(l.v[1].ts_ms, 1234);
  ASSERT(l.v[0].ts_ms >= before); /* 0 means now */
  ASSERT(l.v[0].step == NULL);
  ASSERT_STR_EQ(l.v[1].step, "a");
  ASSERT_STR_EQ(l.v[1].type, "log");
  ASSERT_STR_EQ(l.v[1].run_id, run);
  weft_event_list_release(&l);

  /* a batch with an event of no run appends nothing at all */
  ev[1].run_id = "nosuchrun000";
  ASSERT(weft_store_event_append(s, ev, 3, &err) < 0);
  ASSERT_CONTAINS(err.msg, "nosuchrun000");
  ASSERT(ev[0].id == 0 && ev[1].id == 0);
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 8);
  weft_event_list_release(&l);
  ev[1].type = NULL;
  ASSERT_EQ(weft_store_event_append(s, ev, 3, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_store_event_append(s, ev, 0, &err), WEFT_OK);
  free(run);
  weft_store_close(s);
  return 0;
}

static int case_event_read_cursor(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *ra = make_run(s, "cursor", NULL, WEFT_RUN_STARTED, 0);
  char *rb = make_run(s, "cursor", NULL, WEFT_RUN_STARTED, 0);
  ASSERT(ra && rb);
  int64_t first = 0, id = 0;
  /* interleave: a/x a/y b/x a/- ... 20 events */
  for (int i = 0; i < 20; i++) {
    const char *run = i % 4 == 2 ? rb : ra;
    const char *step = i % 4 == 3 ? NULL : (i % 2 ? "y" : "x");
    ASSERT_EQ(append_one(s, run, step, "log", NULL, &id), WEFT_OK);
    if (i == 0) first = id;
  }
  struct weft_event_list l = {0};
  struct weft_event_filter f = {.run_id = ra, .after_id = first - 1};
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 15);
  for (size_t i = 1; i < l.n; i++) ASSERT(l.v[i].id > l.v[i - 1].id);
  for (size_t i = 0; i < l.n; i++) ASSERT_STR_EQ(l.v[i].run_id, ra);
  /* resume after the 5th event: the rest, nothing twice */
  int64_t cursor = l.v[4].id;
  weft_event_list_release(&l);
  f.after_id = cursor;
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 10);
  ASSERT(l.v[0].id > cursor);
  weft_event_list_release(&l);
  /* run + step filter, with a limit */
  f.after_id = first - 1;
  f.step = "x";
  f.limit = 3;
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 3);
  for (size_t i = 0; i < l.n; i++) ASSERT_STR_EQ(l.v[i].step, "x");
  weft_event_list_release(&l);
  f.limit = 0;
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 5);
  weft_event_list_release(&l);
  /* every run: both runs' events after the cursor, ascending, with a limit */
  struct weft_event_filter all = {.after_id = first - 1, .limit = 7};
  ASSERT_EQ(weft_store_event_read(s, &all, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 7);
  ASSERT_EQ(l.v[0].id, first);
  ASSERT_STR_EQ(l.v[2].run_id, rb);
  weft_event_list_release(&l);
  f.run_id = rb;
  f.step = NULL;
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 5);
  weft_event_list_release(&l);
  free(ra);
  free(rb);
  weft_store_close(s);
  return 0;
}

static int case_event_wait(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s, "wait", NULL, WEFT_RUN_STARTED, 0);
  ASSERT(run);
  int64_t last = 0;
  ASSERT_EQ(append_one(s, run, NULL, "run_started", NULL, &last), WEFT_OK);
  /* already there: returns at once */
  ASSERT_EQ(weft_store_event_wait(s, last - 1, 5000, &err), 1);
  /* nothing new: times out */
  int64_t t0 = weft_clock_mono_ms();
  ASSERT_EQ(weft_store_event_wait(s, last, 150, &err), 0);
  int64_t waited = weft_clock_mono_ms() - t0;
  ASSERT(waited >= 140 && waited < 2000);

  /* another process appends while we wait */
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    weft_clock_sleep_ms(200);
    struct weft_store *c = open_store(url);
    int rc = c ? append_one(c, run, "a", "from_child", NULL, NULL) : 1;
    weft_store_close(c);
    _exit(rc ? 1 : 0);
  }
  t0 = weft_clock_mono_ms();
  ASSERT_EQ(weft_store_event_wait(s, last, 10000, &err), 1);
  waited = weft_clock_mono_ms() - t0;
  ASSERT(waited < 5000);
  ASSERT_EQ(wait_children(&pid, 1), 0);
  struct weft_event_list l = {0};
  struct weft_event_filter f = {.run_id = run, .after_id = last};
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  ASSERT_STR_EQ(l.v[0].type, "from_child");
  weft_event_list_release(&l);

  /* waiting inside a transaction would deadlock against every writer */
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_event_wait(s, last, 10, &err), WEFT_EUSAGE);
  weft_store_rollback(s);
  free(run);
  weft_store_close(s);
  return 0;
}

/* A ring reaches a waiter on another handle when the transaction that
 * rang commits, and only then; a backend without notifications says so,
 * rings nothing and refuses a wait (its waiters poll). */
static int case_notify(const char *url) {
  struct weft_store *w = open_store(url), *n = open_store(url);
  ASSERT(w && n);
  weft_error err = WEFT_ERROR_INIT;
  const enum weft_store_channel ch = WEFT_STORE_CHANNEL_INBOX;
  ASSERT_EQ(weft_store_can_notify(w), !strcmp(current->name, "postgres"));
  if (!weft_store_can_notify(w)) {
    ASSERT_EQ(weft_store_notify(n, ch, &err), WEFT_OK);
    ASSERT_EQ(weft_store_notify_wait(w, ch, 10, &err), WEFT_EUSAGE);
    ASSERT_CONTAINS(err.msg, "no notifications");
    goto done;
  }
  /* the first wait subscribes: what rang before is unknown */
  ASSERT_EQ(weft_store_notify_wait(w, ch, 5000, &err), 1);
  ASSERT_EQ(weft_store_notify_wait(w, ch, 100, &err), 0);
  /* rung in a transaction: nothing before its commit, once after */
  ASSERT_EQ(weft_store_begin(n, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(n, "notify/a", "1", &err), WEFT_OK);
  ASSERT_EQ(weft_store_notify(n, ch, &err), WEFT_OK);
  ASSERT_EQ(weft_store_notify_wait(w, ch, 150, &err), 0);
  ASSERT_EQ(weft_store_commit(n, &err), WEFT_OK);
  int64_t t0 = weft_clock_mono_ms();
  ASSERT_EQ(weft_store_notify_wait(w, ch, 10000, &err), 1);
  ASSERT(weft_clock_mono_ms() - t0 < 5000);
  ASSERT_EQ(weft_store_notify_wait(w, ch, 100, &err), 0);
  /* rolled back: never */
  ASSERT_EQ(weft_store_begin(n, &err), WEFT_OK);
  ASSERT_EQ(weft_store_notify(n, ch, &err), WEFT_OK);
  weft_store_rollback(n);
  ASSERT_EQ(weft_store_notify_wait(w, ch, 300, &err), 0);
  /* outside a transaction: at once */
  ASSERT_EQ(weft_store_notify(n, ch, &err), WEFT_OK);
  ASSERT_EQ(weft_store_notify_wait(w, ch, 10000, &err), 1);
  /* a waiter inside a transaction would hold off the writers it waits for */
  ASSERT_EQ(weft_store_begin(w, &err), WEFT_OK);
  ASSERT_EQ(weft_store_notify_wait(w, ch, 10, &err), WEFT_EUSAGE);
  weft_store_rollback(w);
done:
  weft_store_close(n);
  weft_store_close(w);
  return 0;
}

static int case_kv(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *key = unique("kv"), *v = NULL;
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_ENOTFOUND);
  ASSERT(v == NULL);
  ASSERT_EQ(weft_store_kv_set(s, key, "one", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "one");
  free(v);
  ASSERT_EQ(weft_store_kv_set(s, key, "two", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "two");
  free(v);
  ASSERT_EQ(weft_store_kv_set(s, key, "", &err), WEFT_OK); /* empty is a value */
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "");
  free(v);
  ASSERT_EQ(weft_store_kv_delete(s, key, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_kv_delete(s, key, &err), WEFT_OK); /* absent: fine */

  /* compare-and-set */
  ASSERT_EQ(weft_store_kv_compare_set(s, key, "x", "1", &err), WEFT_ECONFLICT);
  ASSERT_EQ(weft_store_kv_compare_set(s, key, NULL, "1", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_compare_set(s, key, NULL, "2", &err), WEFT_ECONFLICT);
  ASSERT_CONTAINS(err.msg, key);
  ASSERT_EQ(weft_store_kv_compare_set(s, key, "9", "2", &err), WEFT_ECONFLICT);
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "1");
  free(v);
  ASSERT_EQ(weft_store_kv_compare_set(s, key, "1", "2", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "2");
  free(v);
  free(key);
  weft_store_close(s);
  return 0;
}

/* Listed keys go, absent ones are no error, others stay; none is none. */
static int case_kv_delete_many(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *base = unique("kvd");
  char k[4][300];
  for (int i = 0; i < 4; i++) {
    snprintf(k[i], sizeof k[i], "%s/%d \"q\", {a}", base, i);
    ASSERT_EQ(weft_store_kv_set(s, k[i], "v", &err), WEFT_OK);
  }
  char absent[300];
  snprintf(absent, sizeof absent, "%s/absent", base);
  const char *gone[4] = {k[0], absent, k[2], k[0]};
  ASSERT_EQ(weft_store_kv_delete_many(s, gone, 4, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_delete_many(s, gone, 0, &err), WEFT_OK);
  for (int i = 0; i < 4; i++) {
    char *v = NULL;
    int rc = weft_store_kv_get(s, k[i], &v, &err);
    ASSERT_EQ(rc, i % 2 ? WEFT_OK : WEFT_ENOTFOUND);
    free(v);
  }
  /* Inside a transaction: rolled back with it. */
  const char *rest[2] = {k[1], k[3]};
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_delete_many(s, rest, 2, &err), WEFT_OK);
  weft_store_rollback(s);
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(s, k[3], &v, &err), WEFT_OK);
  free(v);
  free(base);
  weft_store_close(s);
  return 0;
}

/* kv_list pages through one prefix in bytewise order, and only it. */
static int case_kv_list(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *base = unique("kvl"), *other = unique("kvl"), *v0 = NULL;
  char prefix[256], key[300];
  snprintf(prefix, sizeof prefix, "%s/", base);
  /* inserted out of order; "B" < "a" < "b" bytewise whatever the locale */
  const char *names[] = {"b", "a", "B", "a/2", "a/10", "z"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(key, sizeof key, "%s%s", prefix, names[i]);
    ASSERT_EQ(weft_store_kv_set(s, key, names[i], &err), WEFT_OK);
  }
  snprintf(key, sizeof key, "%s/x", other); /* another prefix: never listed */
  ASSERT_EQ(weft_store_kv_set(s, key, "other", &err), WEFT_OK);
  snprintf(key, sizeof key, "%s", base); /* the prefix minus its slash */
  ASSERT_EQ(weft_store_kv_set(s, key, "bare", &err), WEFT_OK);
  /* where the prefix's range of the key index ends: '0' follows '/' */
  snprintf(key, sizeof key, "%s0", base);
  ASSERT_EQ(weft_store_kv_set(s, key, "past", &err), WEFT_OK);

  struct weft_kv_list l = {0};
  ASSERT_EQ(weft_store_kv_list(s, prefix, NULL, 0, &l, &err), WEFT_OK);
  const char *want[] = {"B", "a", "a/10", "a/2", "b", "z"};
  ASSERT_EQ(l.n, 6);
  for (size_t i = 0; i < 6; i++) {
    ASSERT_STR_EQ(l.v[i].value, want[i]);
    ASSERT(strncmp(l.v[i].key, prefix, strlen(prefix)) == 0);
    ASSERT(l.v[i].updated_ms > 0);
  }
  weft_kv_list_release(&l);

  /* pages of two, each after the last key seen */
  char *after = NULL;
  size_t seen = 0;
  for (int page = 0; page < 4; page++) {
    ASSERT_EQ(weft_store_kv_list(s, prefix, after, 2, &l, &err), WEFT_OK);
    ASSERT(l.n <= 2);
    for (size_t i = 0; i < l.n; i++) ASSERT_STR_EQ(l.v[i].value, want[seen + i]);
    seen += l.n;
    free(after);
    after = l.n ? strdup(l.v[l.n - 1].key) : NULL;
    weft_kv_list_release(&l);
    if (!after) break;
  }
  free(after);
  ASSERT_EQ(seen, 6);

  /* nothing under an unknown prefix; "" lists everything */
  snprintf(key, sizeof key, "%s/none/", base);
  ASSERT_EQ(weft_store_kv_list(s, key, NULL, 0, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 0);
  ASSERT_EQ(weft_store_kv_list(s, "", NULL, 0, &l, &err), WEFT_OK);
  ASSERT(l.n >= 9);
  weft_kv_list_release(&l);

  /* a prefix ending in a letter beyond ASCII ("é"): its keys, up to the
   * last code point, and not the next letter's ("ê") */
  char uprefix[300];
  snprintf(uprefix, sizeof uprefix, "%s/\xc3\xa9", other);
  const char *tails[] = {"1", "\xf4\x8f\xbf\xbe", ""};
  for (size_t i = 0; i < 3; i++) {
    snprintf(key, sizeof key, "%s%s", uprefix, tails[i]);
    ASSERT_EQ(weft_store_kv_set(s, key, "u", &err), WEFT_OK);
  }
  snprintf(key, sizeof key, "%s/\xc3\xaa", other);
  ASSERT_EQ(weft_store_kv_set(s, key, "next", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_list(s, uprefix, NULL, 0, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 3);
  weft_kv_list_release(&l);
  ASSERT_EQ(weft_store_kv_delete_prefix(s, uprefix, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_list(s, uprefix, NULL, 0, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 0);
  ASSERT_EQ(weft_store_kv_get(s, key, &v0, &err), WEFT_OK); /* ê stays */
  ASSERT_STR_EQ(v0, "next");
  free(v0);

  /* delete-prefix takes exactly the keys under it: not the bare prefix, not
   * another prefix; "" is refused */
  snprintf(key, sizeof key, "%sa", prefix);
  ASSERT_EQ(weft_store_kv_delete_prefix(s, key, &err), WEFT_OK); /* a, a/10, a/2 */
  ASSERT_EQ(weft_store_kv_list(s, prefix, NULL, 0, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 3);
  weft_kv_list_release(&l);
  ASSERT_EQ(weft_store_kv_delete_prefix(s, prefix, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_list(s, prefix, NULL, 0, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 0);
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(s, base, &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "bare");
  free(v);
  snprintf(key, sizeof key, "%s0", base);
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "past");
  free(v);
  snprintf(key, sizeof key, "%s/x", other);
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_OK);
  free(v);
  ASSERT_EQ(weft_store_kv_delete_prefix(s, "", &err), WEFT_EINVALID);
  ASSERT_EQ(weft_store_kv_delete_prefix(s, prefix, &err), WEFT_OK); /* none left: fine */
  free(base);
  free(other);
  weft_store_close(s);
  return 0;
}

/* Several processes increment one counter by compare-and-set: every
 * increment must land exactly once. */
static int case_kv_compare_set_race(const char *url) {
  char *key = unique("counter");
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_store_kv_set(s, key, "0", &err), WEFT_OK);
  enum { PROCS = 4, INCREMENTS = 50 };
  pid_t pids[PROCS];
  fflush(NULL);
  for (int p = 0; p < PROCS; p++) {
    pids[p] = fork();
    ASSERT(pids[p] >= 0);
    if (pids[p] == 0) {
      struct weft_store *c = open_store(url);
      int done = 0, failed = !c;
      while (!failed && done < INCREMENTS) {
        char *cur = NULL, next[32];
        if (weft_store_kv_get(c, key, &cur, NULL)) {
          failed = 1;
          break;
        }
        snprintf(next, sizeof next, "%d", atoi(cur) + 1);
        int rc = weft_store_kv_compare_set(c, key, cur, next, NULL);
        free(cur);
        if (rc == WEFT_OK)
          done++;
        else if (rc != WEFT_ECONFLICT)
          failed = 1;
      }
      weft_store_close(c);
      _exit(failed);
    }
  }
  ASSERT_EQ(wait_children(pids, PROCS), 0);
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_OK);
  ASSERT_EQ(atoi(v), PROCS * INCREMENTS);
  free(v);
  free(key);
  weft_store_close(s);
  return 0;
}

static int case_transactions(const char *url) {
  struct weft_store *s = open_store(url), *other = open_store(url);
  ASSERT(s && other);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_run_row got = {0};
  char *job = unique("tx");

  /* nested commit: nothing is visible to another connection until the
   * outermost commit */
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  char *r1 = make_run(s, job, NULL, WEFT_RUN_QUEUED, 0);
  ASSERT(r1);
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(s->tx_depth, 2);
  ASSERT_EQ(append_one(s, r1, NULL, "run_enqueued", NULL, NULL), WEFT_OK);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_get(s, r1, &got, &err), WEFT_OK); /* own writes */
  weft_run_row_release(&got);
  ASSERT_EQ(weft_store_run_get(other, r1, &got, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_OK);
  ASSERT_EQ(s->tx_depth, 0);
  ASSERT_EQ(weft_store_run_get(other, r1, &got, &err), WEFT_OK);
  weft_run_row_release(&got);
  struct weft_event_list l = {0};
  struct weft_event_filter f = {.run_id = r1};
  ASSERT_EQ(weft_store_event_read(other, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  weft_event_list_release(&l);

  /* plain rollback: gone */
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  char *r2 = make_run(s, job, NULL, WEFT_RUN_QUEUED, 0);
  ASSERT(r2);
  weft_store_rollback(s);
  ASSERT_EQ(weft_store_run_get(s, r2, &got, &err), WEFT_ENOTFOUND);

  /* an inner rollback dooms the outer transaction */
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  char *r3 = make_run(s, job, NULL, WEFT_RUN_QUEUED, 0);
  ASSERT(r3);
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(append_one(s, r3, NULL, "run_enqueued", NULL, NULL), WEFT_OK);
  weft_store_rollback(s);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_ECONFLICT);
  ASSERT_EQ(s->tx_depth, 0);
  ASSERT_EQ(weft_store_run_get(s, r3, &got, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_run_get(other, r3, &got, &err), WEFT_ENOTFOUND);

  /* misuse is reported, and the store still works afterwards */
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_EUSAGE);
  weft_store_rollback(s); /* no-op at depth 0 */
  char *r4 = make_run(s, job, NULL, WEFT_RUN_QUEUED, 0);
  ASSERT(r4);
  ASSERT_EQ(weft_store_run_get(other, r4, &got, &err), WEFT_OK);
  weft_run_row_release(&got);

  /* closing with an open transaction rolls it back */
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  char *r5 = make_run(s, job, NULL, WEFT_RUN_QUEUED, 0);
  ASSERT(r5);
  weft_store_close(s);
  ASSERT_EQ(weft_store_run_get(other, r5, &got, &err), WEFT_ENOTFOUND);
  free(r1);
  free(r2);
  free(r3);
  free(r4);
  free(r5);
  free(job);
  weft_store_close(other);
  return 0;
}

/* Several processes append 500 events each at the same time: every event
 * lands once, ids are unique and increasing, each writer's order is kept. */
static int case_concurrent_append(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s, "concurrent", NULL, WEFT_RUN_STARTED, 0);
  ASSERT(run);
  enum { PROCS = 4, EACH = 500 };
  pid_t pids[PROCS];
  fflush(NULL);
  for (int p = 0; p < PROCS; p++) {
    pids[p] = fork();
    ASSERT(pids[p] >= 0);
    if (pids[p] == 0) {
      struct weft_store *c = open_store(url);
      int failed = !c;
      char step[16], payload[64];
      snprintf(step, sizeof step, "w%d", p);
      for (int i = 0; i < EACH && !failed; i++) {
        snprintf(payload, sizeof payload, "{\"i\":%d}", i);
        failed = append_one(c, run, step, "log", payload, NULL) != WEFT_OK;
      }
      weft_store_close(c);
      _exit(failed);
    }
  }
  ASSERT_EQ(wait_children(pids, PROCS), 0);
  struct weft_event_list l = {0};
  struct weft_event_filter f = {.run_id = run};
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, PROCS * EACH);
  int next[PROCS] = {0};
  for (size_t i = 0; i < l.n; i++) {
    if (i) ASSERT(l.v[i].id > l.v[i - 1].id);
    int p = atoi(l.v[i].step + 1), seq = -1;
    ASSERT(p >= 0 && p < PROCS);
    ASSERT_EQ(sscanf(l.v[i].payload, "{\"i\":%d}", &seq), 1);
    ASSERT_EQ(seq, next[p]);
    next[p]++;
  }
  for (int p = 0; p < PROCS; p++) ASSERT_EQ(next[p], EACH);
  weft_event_list_release(&l);
  free(run);
  weft_store_close(s);
  return 0;
}

/* A new database: opening creates the whole schema, once; a second open
 * changes nothing. */
static int case_migrate_empty(const char *url) {
  char fresh[1024];
  int max = 0, rows = 0;
  ASSERT_EQ(current->fresh_db(0, fresh, sizeof fresh), 0);
  struct weft_store *s = open_store(fresh);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s, "fresh", NULL, WEFT_RUN_QUEUED, 0);
  ASSERT(run);
  ASSERT_EQ(append_one(s, run, NULL, "run_queued", NULL, NULL), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "k", "v", &err), WEFT_OK);
  weft_store_close(s);
  ASSERT_EQ(current->schema_version(fresh, &max, &rows), 0);
  ASSERT_EQ(max, *current->latest);
  ASSERT_EQ(rows, 1);
  ASSERT((s = open_store(fresh)));
  struct weft_run_row r = {0};
  ASSERT_EQ(weft_store_run_get(s, run, &r, &err), WEFT_OK);
  weft_run_row_release(&r);
  weft_store_close(s);
  ASSERT_EQ(current->schema_version(fresh, &max, &rows), 0);
  ASSERT_EQ(rows, 1);
  free(run);
  return 0;
}

/* A database of the previous schema version, with a run in it: opening
 * migrates it forward and keeps the run, which then takes new events. */
static int case_migrate_previous(const char *url) {
  char fresh[1024];
  int max = 0, rows = 0;
  ASSERT(*current->latest >= 2);
  ASSERT_EQ(current->fresh_db(*current->latest - 1, fresh, sizeof fresh), 0);
  struct weft_store *s = open_store(fresh);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_run_row r = {0};
  ASSERT_EQ(weft_store_run_get(s, OLD_RUN, &r, &err), WEFT_OK);
  ASSERT_STR_EQ(r.job, "etl");
  ASSERT_EQ(r.status, WEFT_RUN_SUCCESS);
  ASSERT_EQ(r.created_ms, 5);
  weft_run_row_release(&r);
  int64_t id = 0;
  ASSERT_EQ(append_one(s, OLD_RUN, NULL, "log", NULL, &id), WEFT_OK);
  ASSERT(id > 0);
  weft_store_close(s);
  ASSERT_EQ(current->schema_version(fresh, &max, &rows), 0);
  ASSERT_EQ(max, *current->latest);
  ASSERT_EQ(rows, 1);
  return 0;
}

/* Read-modify-write inside begin/commit from several processes: a write
 * transaction holds off every other writer from its begin (SQLite's BEGIN
 * IMMEDIATE, postgres's write lock), so no increment is lost, none fails. */
static int case_transactions_serialize(const char *url) {
  char *key = unique("rmw");
  struct weft_store *s = open_store(url);
  ASSERT(s && key);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_store_kv_set(s, key, "0", &err), WEFT_OK);
  enum { PROCS = 4, EACH = 50 };
  pid_t pids[PROCS];
  fflush(NULL);
  for (int p = 0; p < PROCS; p++) {
    pids[p] = fork();
    ASSERT(pids[p] >= 0);
    if (pids[p] == 0) {
      struct weft_store *c = open_store(url);
      weft_error cerr = WEFT_ERROR_INIT;
      int failed = !c;
      for (int i = 0; i < EACH && !failed; i++) {
        char *cur = NULL, next[32];
        failed = weft_store_begin(c, &cerr) || weft_store_kv_get(c, key, &cur, &cerr);
        if (!failed) {
          snprintf(next, sizeof next, "%d", atoi(cur) + 1);
          failed = weft_store_kv_set(c, key, next, &cerr) || weft_store_commit(c, &cerr);
        }
        free(cur);
      }
      if (failed) fprintf(stderr, "# child %d: %s\n", p, cerr.msg);
      weft_store_close(c);
      _exit(failed);
    }
  }
  ASSERT_EQ(wait_children(pids, PROCS), 0);
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(s, key, &v, &err), WEFT_OK);
  ASSERT_EQ(atoi(v), PROCS * EACH);
  free(v);
  free(key);
  weft_store_close(s);
  return 0;
}

#include "test_store_many_cases.h"
#include "test_store_purge_cases.h"
#include "test_store_asset_cases.h"
#include "test_store_lease_cases.h"

/* ---- the table --------------------------------------------------------------------- */

#define CASES(X)            \
  X(run_crud)               \
  X(run_update_missing)     \
  X(run_update_many)        \
  X(run_create_many)        \
  X(run_list_pages)         \
  X(run_count)              \
  X(steps)                  \
  X(step_put_many)          \
  X(kv_insert_many)         \
  X(kv_compare_set_many)    \
  X(kv_delete_many)         \
  X(event_append_batch)     \
  X(event_read_cursor)      \
  X(event_wait)             \
  X(notify)                 \
  X(kv)                     \
  X(kv_compare_set_race)    \
  X(kv_list)                \
  X(transactions)           \
  X(transactions_serialize) \
  X(concurrent_append)      \
  X(migrate_empty)          \
  X(migrate_previous)       \
  X(retention_exact)        \
  X(retention_concurrent)   \
  X(run_search)             \
  X(assets)                \
  X(lease_claim)            \
  X(lease_claim_many)       \
  X(lease_release_many)     \
  X(lease_race)

static int run_case(const struct backend *b, const char *name,
                    int (*fn)(const char *url)) {
  char url[1024];
  int rc = b->setup(url, sizeof url);
  if (rc == SKIP) {
    fprintf(stderr, "# %s/%s skipped: WEFT_TEST_PG_URL is not set\n", b->name, name);
    return 0;
  }
  if (rc) {
    fprintf(stderr, "# %s/%s: backend setup failed\n", b->name, name);
    return 1;
  }
  current = b;
  rc = fn(url);
  b->teardown();
  return rc;
}

#define DEFINE_TESTS(name)                                               \
  TEST(sqlite_##name) { return run_case(&sqlite_backend, #name, case_##name); } \
  TEST(postgres_##name) { return run_case(&pg_backend, #name, case_##name); }
CASES(DEFINE_TESTS)

#define ENTRIES(name) TEST_ENTRY(sqlite_##name) TEST_ENTRY(postgres_##name)
TEST_MAIN(CASES(ENTRIES))
