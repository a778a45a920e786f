/* test_store_sqlite.c: what only the SQLite backend and the wrappers do:
 * schema migrations, refusal of newer or foreign files, URL forms, status
 * names, run ids, fault injection, transactional counters and speed. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"
#include "store/store_sqlite.h"
#include "test.h"
#include "util/clock.h"
#include "util/fs.h"

/* A fresh folder under /tmp; *db receives DIR/weft.db. Caller frees both. */
static char *scratch(char **db) {
  char *dir = strdup("/tmp/weft-sqlite-XXXXXX");
  if (!dir || !mkdtemp(dir)) return NULL;
  *db = weft_fs_join(dir, "weft.db");
  return dir;
}

/* Runs sql on the file directly, as a user with the sqlite3 shell would;
 * prints why it failed unless the failure is expected (quiet). */
static int raw_exec_q(const char *db, const char *sql, int quiet) {
  sqlite3 *h = NULL;
  char *msg = NULL;
  int rc = sqlite3_open(db, &h);
  if (rc == SQLITE_OK) rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK && !quiet)
    fprintf(stderr, "# raw sql: %s\n", msg ? msg : sqlite3_errmsg(h));
  sqlite3_free(msg);
  sqlite3_close(h);
  return rc;
}

static int raw_exec(const char *db, const char *sql) { return raw_exec_q(db, sql, 0); }

/* The first column of the first row of sql, as an integer (-1 on error). */
static long long raw_int(const char *db, const char *sql) {
  sqlite3 *h = NULL;
  sqlite3_stmt *st = NULL;
  long long v = -1;
  if (sqlite3_open(db, &h) == SQLITE_OK &&
      sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

static const char *const all_tables[] = {"runs",     "steps",          "events",
                                         "kv",       "schedules",      "ticks",
                                         "sensor_cursors", "workers", "schema_version"};

static int has_table(const char *db, const char *name) {
  char sql[200];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
           name);
  return raw_int(db, sql) == 1;
}

TEST(migrate_empty_database) {
  char *db, *dir = scratch(&db);
  ASSERT(dir);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *s = NULL;
  char *url = NULL;
  ASSERT(asprintf(&url, "sqlite:%s", db) > 0);
  ASSERT_EQ(weft_store_open(url, &s, &err), WEFT_OK);
  weft_store_close(s);
  ASSERT_EQ(raw_int(db, "SELECT version FROM schema_version"),
            weft__sqlite_migration_count);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM schema_version"), 1);
  for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++)
    ASSERT(has_table(db, all_tables[i]));
  /* WAL is a property of the file: it stays set for the next opener */
  sqlite3 *h = NULL;
  sqlite3_stmt *st = NULL;
  ASSERT_EQ(sqlite3_open(db, &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(h);
  /* opening again is a no-op */
  ASSERT_EQ(weft_store_open(url, &s, &err), WEFT_OK);
  weft_store_close(s);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM schema_version"), 1);
  weft_fs_remove_tree(dir, NULL);
  free(url);
  free(db);
  free(dir);
  return 0;
}

TEST(migrate_from_version_1) {
  char *db, *dir = scratch(&db);
  ASSERT(dir);
  /* a database as the first release left it, with a run in it */
  ASSERT_EQ(raw_exec(db, weft__sqlite_migrations[0]), SQLITE_OK);
  ASSERT_EQ(raw_exec(db,
                     "INSERT INTO schema_version VALUES (1);"
                     "INSERT INTO runs (id, job, status, created_ms) "
                     "VALUES ('old000000001', 'legacy', 'success', 42);"
                     "INSERT INTO events (run_id, type, ts_ms) "
                     "VALUES ('old000000001', 'run_success', 43);"),
            SQLITE_OK);
  ASSERT(!has_table(db, "ticks"));
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *s = NULL;
  ASSERT_EQ(weft_store_open(db, &s, &err), WEFT_OK);
  struct weft_run_row r = {0};
  ASSERT_EQ(weft_store_run_get(s, "old000000001", &r, &err), WEFT_OK);
  ASSERT_STR_EQ(r.job, "legacy");
  ASSERT_EQ(r.status, WEFT_RUN_SUCCESS);
  ASSERT_EQ(r.created_ms, 42);
  weft_run_row_release(&r);
  weft_store_close(s);
  ASSERT_EQ(raw_int(db, "SELECT version FROM schema_version"),
            weft__sqlite_migration_count);
  for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++)
    ASSERT(has_table(db, all_tables[i]));
  /* the tick idempotency key is in place */
  ASSERT_EQ(raw_exec(db, "INSERT INTO ticks (schedule, tick_ms, status) "
                         "VALUES ('nightly', 1000, 'started')"),
            SQLITE_OK);
  ASSERT(raw_exec_q(db,
                    "INSERT INTO ticks (schedule, tick_ms, status) "
                    "VALUES ('nightly', 1000, 'started')",
                    1) == SQLITE_CONSTRAINT);
  weft_fs_remove_tree(dir, NULL);
  free(db);
  free(dir);
  return 0;
}

TEST(refuse_newer_schema) {
  char *db, *dir = scratch(&db);
  ASSERT(dir);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *s = NULL;
  ASSERT_EQ(weft_store_open(db, &s, &err), WEFT_OK);
  weft_store_close(s);
  ASSERT_EQ(raw_exec(db, "UPDATE schema_version SET version = 999"), SQLITE_OK);
  s = (struct weft_store *)1;
  ASSERT_EQ(weft_store_open(db, &s, &err), WEFT_EVERSION);
  ASSERT(s == NULL);
  char known[16];
  snprintf(known, sizeof known, "%d", weft__sqlite_migration_count);
  ASSERT_CONTAINS(err.msg, "999");
  ASSERT_CONTAINS(err.msg, known);
  ASSERT_CONTAINS(err.msg, db);
  /* nothing was touched */
  ASSERT_EQ(raw_int(db, "SELECT version FROM schema_version"), 999);
  weft_fs_remove_tree(dir, NULL);
  free(db);
  free(dir);
  return 0;
}

TEST(refuse_corrupt_and_foreign_files) {
  char *db, *dir = scratch(&db);
  ASSERT(dir);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *s = NULL;
  char junk[8192];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 7 + 3);
  ASSERT_EQ(weft_fs_write_atomic(db, junk, sizeof junk, 0, &err), WEFT_OK);
  ASSERT_EQ(weft_store_open(db, &s, &err), WEFT_ESTORE);
  ASSERT(s == NULL);
  ASSERT_CONTAINS(err.msg, db);
  ASSERT_CONTAINS(err.msg, "not a database");

  /* a valid sqlite file written by something else */
  char *other = weft_fs_join(dir, "other.db");
  ASSERT_EQ(raw_exec(other, "CREATE TABLE customers (id INTEGER)"), SQLITE_OK);
  ASSERT_EQ(weft_store_open(other, &s, &err), WEFT_EVERSION);
  ASSERT_CONTAINS(err.msg, "not a weft database");

  /* a path that cannot be created */
  ASSERT(weft_store_open("/proc/weft-cannot/x.db", &s, &err) < 0);
  ASSERT_CONTAINS(err.msg, "/proc/weft-cannot");
  weft_fs_remove_tree(dir, NULL);
  free(other);
  free(db);
  free(dir);
  return 0;
}

TEST(url_forms) {
  char *db, *dir = scratch(&db);
  ASSERT(dir);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *s = NULL;
  char *url = NULL;
  /* sqlite:// with an absolute path; the parent folder is created */
  ASSERT(asprintf(&url, "sqlite://%s/home/sub/weft.db", dir) > 0);
  ASSERT_EQ(weft_store_open(url, &s, &err), WEFT_OK);
  weft_store_close(s);
  free(url);
  url = weft_fs_join(dir, "home/sub/weft.db");
  ASSERT(weft_fs_exists(url));
  ASSERT_EQ(weft_store_open(url, &s, &err), WEFT_OK); /* plain path */
  weft_store_close(s);
  free(url);

  /* postgres URLs go to the postgres backend (nothing listens on port 1) */
  ASSERT_EQ(weft_store_open("postgresql://127.0.0.1:1/weft", &s, &err), WEFT_EIO);
  ASSERT(s == NULL);
  ASSERT_CONTAINS(err.msg, "postgres 127.0.0.1:1/weft: cannot connect");
  ASSERT_EQ(weft_store_open("postgres://127.0.0.1:1/weft", &s, &err), WEFT_EIO);
  ASSERT_CONTAINS(err.msg, "cannot connect");
  ASSERT_EQ(weft_store_open("mysql://db.example/weft", &s, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "unknown scheme 'mysql'");
  ASSERT_EQ(weft_store_open("", &s, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_store_open("sqlite:", &s, &err), WEFT_EINVALID);
  ASSERT(weft_store_find("sqlite") != NULL);
  ASSERT(weft_store_find("postgres") != NULL);
  weft_fs_remove_tree(dir, NULL);
  free(db);
  free(dir);
  return 0;
}

TEST(status_names) {
  for (int i = 0; i < WEFT_RUN__COUNT; i++) {
    enum weft_run_status back;
    ASSERT_EQ(weft_run_status_parse(weft_run_status_name(i), &back), WEFT_OK);
    ASSERT_EQ(back, i);
  }
  for (int i = 0; i < WEFT_STEP__COUNT; i++) {
    enum weft_step_status back;
    ASSERT_EQ(weft_step_status_parse(weft_step_status_name(i), &back), WEFT_OK);
    ASSERT_EQ(back, i);
  }
  enum weft_run_status rs = WEFT_RUN_QUEUED;
  ASSERT_EQ(weft_run_status_parse("done", &rs), WEFT_EINVALID);
  ASSERT_EQ(weft_run_status_parse(NULL, &rs), WEFT_EINVALID);
  ASSERT_EQ(rs, WEFT_RUN_QUEUED);
  ASSERT_STR_EQ(weft_run_status_name(WEFT_RUN_CANCELING), "canceling");
  ASSERT_STR_EQ(weft_step_status_name(WEFT_STEP_UP_FOR_RETRY), "up_for_retry");
  ASSERT_STR_EQ(weft_run_status_name((enum weft_run_status)77), "unknown");
  ASSERT(weft_run_status_is_final(WEFT_RUN_SUCCESS));
  ASSERT(weft_run_status_is_final(WEFT_RUN_CANCELED));
  ASSERT(!weft_run_status_is_final(WEFT_RUN_CANCELING));
  ASSERT(weft_step_status_is_final(WEFT_STEP_SKIPPED));
  ASSERT(!weft_step_status_is_final(WEFT_STEP_UP_FOR_RETRY));
  return 0;
}

TEST(run_ids) {
  enum { N = 2000 };
  static char ids[N][13];
  for (int i = 0; i < N; i++) {
    char *id = weft_store_new_run_id();
    ASSERT(id);
    ASSERT_EQ(strlen(id), 12);
    ASSERT_EQ(strspn(id, "0123456789abcdef"), 12);
    memcpy(ids[i], id, 13);
    free(id);
  }
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++) ASSERT(strcmp(ids[i], ids[j]));
  return 0;
}

TEST(fault_injection) {
  char *db, *dir = scratch(&db);
  ASSERT(dir);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *s = NULL;
  ASSERT_EQ(weft_store_open(db, &s, &err), WEFT_OK);
  char *v = NULL;
  weft_store_fault_inject(2, WEFT_EIO);
  ASSERT_EQ(weft_store_kv_set(s, "a", "1", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "b", "2", &err), WEFT_EIO);
  ASSERT_CONTAINS(err.msg, "injected");
  ASSERT_EQ(weft_store_kv_get(s, "b", &v, &err), WEFT_ENOTFOUND); /* never reached */
  /* an injected commit failure leaves no transaction open */
  weft_store_fault_inject(3, 0);
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "c", "3", &err), WEFT_OK);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_ESTORE);
  ASSERT_EQ(s->tx_depth, 0);
  ASSERT_EQ(weft_store_kv_get(s, "c", &v, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_kv_get(s, "a", &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "1");
  free(v);
  weft_store_close(s);
  weft_fs_remove_tree(dir, NULL);
  free(db);
  free(dir);
  return 0;
}

/* Threads of one process writing one file: a second connection's begin
 * waits for the first's commit and goes on at once (a mutex, not SQLite's
 * sleeping busy handler); and every way a transaction ends (commit,
 * rollback, a begin that failed, closing with it open) lets the next
 * writer in, or this test would wait out the 60 s bound. */
struct second_writer {
  const char *db;
  atomic_int *committed; /* set by the first writer just before its commit */
  int saw_commit, rc;
  int64_t done_ms;
};

static void *second_writer(void *arg) {
  struct second_writer *w = arg;
  struct weft_store *c = NULL;
  weft_error err = WEFT_ERROR_INIT;
  w->rc = weft_store_open(w->db, &c, &err);
  if (!w->rc) w->rc = weft_store_begin(c, &err);
  w->saw_commit = atomic_load(w->committed);
  w->done_ms = weft_clock_mono_ms();
  if (!w->rc) w->rc = weft_store_kv_set(c, "w", "2", &err);
  if (!w->rc) w->rc = weft_store_commit(c, &err);
  if (w->rc) fprintf(stderr, "# second writer: %s\n", err.msg);
  weft_store_close(c);
  return NULL;
}

TEST(threads_queue_for_the_write_lock) {
  char *db, *dir = scratch(&db);
  ASSERT(dir);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *a = NULL, *b = NULL;
  ASSERT_EQ(weft_store_open(db, &a, &err), WEFT_OK);
  ASSERT_EQ(weft_store_open(db, &b, &err), WEFT_OK);
  /* Rolled back, then left open by a connection that closes. */
  ASSERT_EQ(weft_store_begin(a, &err), WEFT_OK);
  weft_store_rollback(a);
  ASSERT_EQ(weft_store_begin(b, &err), WEFT_OK);
  ASSERT_EQ(weft_store_commit(b, &err), WEFT_OK);
  struct weft_store *gone = NULL;
  ASSERT_EQ(weft_store_open(db, &gone, &err), WEFT_OK);
  ASSERT_EQ(weft_store_begin(gone, &err), WEFT_OK);
  weft_store_close(gone);
  ASSERT_EQ(weft_store_begin(b, &err), WEFT_OK);
  ASSERT_EQ(weft_store_commit(b, &err), WEFT_OK);
  /* A commit that fails (an inner rollback dooms it) ends it too. */
  ASSERT_EQ(weft_store_begin(a, &err), WEFT_OK);
  ASSERT_EQ(weft_store_begin(a, &err), WEFT_OK);
  weft_store_rollback(a);
  ASSERT(weft_store_commit(a, &err) != WEFT_OK);
  ASSERT_EQ(weft_store_begin(b, &err), WEFT_OK);
  ASSERT_EQ(weft_store_commit(b, &err), WEFT_OK);
  /* A writer behind another waits for its commit, no longer. */
  atomic_int committed = 0;
  struct second_writer w = {.db = db, .committed = &committed};
  pthread_t t;
  ASSERT_EQ(weft_store_begin(a, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(a, "w", "1", &err), WEFT_OK);
  ASSERT(pthread_create(&t, NULL, second_writer, &w) == 0);
  weft_clock_sleep_ms(300);
  atomic_store(&committed, 1);
  int64_t commit_ms = weft_clock_mono_ms();
  ASSERT_EQ(weft_store_commit(a, &err), WEFT_OK);
  pthread_join(t, NULL);
  ASSERT_EQ(w.rc, WEFT_OK);
  ASSERT_EQ(w.saw_commit, 1);
  fprintf(stderr, "# the second writer went on %lld ms after the commit\n",
          (long long)(w.done_ms - commit_ms));
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(a, "w", &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "2");
  free(v);
  weft_store_close(a);
  weft_store_close(b);
  weft_fs_remove_tree(dir, NULL);
  free(db);
  free(dir);
  return 0;
}

/* A thread that commits and begins again at once (the scheduler creating
 * due runs a chunk a commit) goes after a thread that was already waiting:
 * with a plain mutex it took the lock straight back, and the coordinator's
 * commit waited for every chunk. */
struct hand_over_writer {
  struct weft_store *s;
  int rc;
};

static void *hand_over_writer(void *arg) {
  struct hand_over_writer *w = arg;
  weft_error err = WEFT_ERROR_INIT;
  w->rc = weft_store_begin(w->s, &err);
  if (!w->rc) w->rc = weft_store_kv_set(w->s, "w", "waiter", &err);
  if (!w->rc) w->rc = weft_store_commit(w->s, &err);
  if (w->rc) fprintf(stderr, "# waiting writer: %s\n", err.msg);
  return NULL;
}

TEST(a_commit_hands_the_write_lock_to_a_waiting_thread) {
  char *db, *dir = scratch(&db);
  ASSERT(dir);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *a = NULL;
  struct hand_over_writer w = {0};
  ASSERT_EQ(weft_store_open(db, &a, &err), WEFT_OK);
  ASSERT_EQ(weft_store_open(db, &w.s, &err), WEFT_OK);
  for (int round = 0; round < 3; round++) {
    ASSERT_EQ(weft_store_begin(a, &err), WEFT_OK);
    ASSERT_EQ(weft_store_kv_set(a, "w", "committer", &err), WEFT_OK);
    pthread_t t;
    ASSERT(pthread_create(&t, NULL, hand_over_writer, &w) == 0);
    int64_t until = weft_clock_mono_ms() + 10000;
    while (weft__sq_wlock_waiting((struct weft__sq_store *)a) == 0 &&
           weft_clock_mono_ms() < until)
      weft_clock_sleep_ms(1);
    ASSERT_EQ(weft__sq_wlock_waiting((struct weft__sq_store *)a), 1);
    ASSERT_EQ(weft_store_commit(a, &err), WEFT_OK);
    /* Begun again at once: it waits for the waiter's whole transaction. */
    ASSERT_EQ(weft_store_begin(a, &err), WEFT_OK);
    char *v = NULL;
    ASSERT_EQ(weft_store_kv_get(a, "w", &v, &err), WEFT_OK);
    ASSERT_STR_EQ(v, "waiter");
    free(v);
    ASSERT_EQ(weft_store_commit(a, &err), WEFT_OK);
    pthread_join(t, NULL);
    ASSERT_EQ(w.rc, WEFT_OK);
  }
  /* Nobody waiting: the lock is free again, a begin takes it at once. */
  ASSERT_EQ(weft__sq_wlock_waiting((struct weft__sq_store *)a), 0);
  ASSERT_EQ(weft_store_begin(w.s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_commit(w.s, &err), WEFT_OK);
  weft_store_close(a);
  weft_store_close(w.s);
  weft_fs_remove_tree(dir, NULL);
  free(db);
  free(dir);
  return 0;
}

/* Read-modify-write inside begin/commit from several processes: BEGIN
 * IMMEDIATE serializes them, so no increment is lost and none fails busy. */
TEST(transactions_serialize_processes) {
  char *db, *dir = scratch(&db);
  ASSERT(dir);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_store *s = NULL;
  ASSERT_EQ(weft_store_open(db, &s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "n", "0", &err), WEFT_OK);
  enum { PROCS = 4, EACH = 100 };
  pid_t pids[PROCS];
  fflush(NULL);
  for (int p = 0; p < PROCS; p++) {
    pids[p] = fork();
    ASSERT(pids[p] >= 0);
    if (pids[p] == 0) {
      struct weft_store *c = NULL;
      weft_error cerr = WEFT_ERROR_INIT;
      int failed = weft_store_open(db, &c, &cerr) != WEFT_OK;
      for (int i = 0; i < EACH && !failed; i++) {
        char *cur = NULL, next[32];
        failed = weft_store_begin(c, &cerr) || weft_store_kv_get(c, "n", &cur, &cerr);
        if (!failed) {
          snprintf(next, sizeof next, "%d", atoi(cur) + 1);
          failed = weft_store_kv_set(c, "n", next, &cerr) || weft_store_commit(c, &cerr);
        }
        free(cur);
      }
      if (failed) fprintf(stderr, "# child %d: %s\n", p, cerr.msg);
      weft_store_close(c);
      _exit(failed);
    }
  }
  int failed = 0;
  for (int p = 0; p < PROCS; p++) {
    int st = 0;
    waitpid(pids[p], &st, 0);
    failed |= !WIFEXITED(st) || WEXITSTATUS(st);
  }
  ASSERT_EQ(failed, 0);
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(s, "n", &v, &err), WEFT_OK);
  ASSERT_EQ(atoi(v), PROCS * EACH);
  free(v);
  weft_store_close(s);
  weft_fs_remove_tree(dir, NULL);
  free(db);
  free(dir);
  return 0;
}


TEST_MAIN(TEST_ENTRY(migrate_empty_database) TEST_ENTRY(migrate_from_version_1)
              TEST_ENTRY(refuse_newer_schema) TEST_ENTRY(refuse_corrupt_and_foreign_files)
                  TEST_ENTRY(url_forms) TEST_ENTRY(status_names) TEST_ENTRY(run_ids)
                      TEST_ENTRY(fault_injection)
                          TEST_ENTRY(transactions_serialize_processes) TEST_ENTRY(threads_queue_for_the_write_lock)
              TEST_ENTRY(a_commit_hands_the_write_lock_to_a_waiting_thread)
                             )
