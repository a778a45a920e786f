/* test_sched_run_queue.c: the run queue: admission order and limits (the pure
 * plan), claiming through the store, stale claims, two dequeuers at once,
 * and the reap of the coordinator service's taken entries. */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "sched/coord_service.h"
#include "sched/coordinator_spawn.h"
#include "sched/run_queue.h"
#include "test.h"
#include "test_dsl_fixture.h"
#include "util/clock.h"

/* ---- the plan ------------------------------------------------------------------- */

static struct weft_run_row row(const char *id, int64_t created, const char *tags) {
  struct weft_run_row r = {0};
  r.id = (char *)id;
  r.job = (char *)"j";
  r.location = (char *)"loc";
  r.status = WEFT_RUN_QUEUED;
  r.run_config = (char *)"{}";
  r.tags = (char *)tags;
  r.root_run_id = (char *)id;
  r.created_ms = created;
  return r;
}

static struct weft_tag_limit tl(const char *key, const char *value, int limit) {
  return (struct weft_tag_limit){(char *)key, (char *)value, limit};
}

TEST(global_limit_admits_oldest_first) {
  struct weft_run_queue_config cfg = {.max_concurrent_runs = 2};
  struct weft_run_row ip[] = {row("a", 1, "{}")};
  struct weft_run_row q[] = {row("q3", 30, "{}"), row("q1", 10, "{}"), row("q2", 20, "{}")};
  struct weft_run_queue_decision d[3];
  ASSERT_EQ(weft_run_queue_plan(&cfg, ip, 1, q, 3, d, NULL), WEFT_OK);
  ASSERT_STR_EQ(d[0].run->id, "q1");
  ASSERT_EQ(d[0].admit, 1);
  ASSERT_STR_EQ(d[0].reason, "next in line");
  ASSERT_STR_EQ(d[1].run->id, "q2");
  ASSERT_EQ(d[1].admit, 0);
  ASSERT_STR_EQ(d[1].reason, "waiting: 2/2 runs in progress (max_concurrent_runs)");
  ASSERT_EQ(d[2].admit, 0);
  /* No limit: everything goes. */
  struct weft_run_queue_config none = {0};
  ASSERT_EQ(weft_run_queue_plan(&none, ip, 1, q, 3, d, NULL), WEFT_OK);
  ASSERT(d[0].admit && d[1].admit && d[2].admit);
  return 0;
}

TEST(tag_limit_with_value) {
  struct weft_tag_limit lim[] = {tl("database", "prod", 1)};
  struct weft_run_queue_config cfg = {.tag_limits = lim, .n_tag_limits = 1};
  struct weft_run_row ip[] = {row("a", 1, "{\"database\":\"prod\"}")};
  struct weft_run_row q[] = {row("p", 10, "{\"database\":\"prod\"}"),
                             row("d", 20, "{\"database\":\"dev\"}"), row("n", 30, "{}")};
  struct weft_run_queue_decision d[3];
  ASSERT_EQ(weft_run_queue_plan(&cfg, ip, 1, q, 3, d, NULL), WEFT_OK);
  ASSERT_STR_EQ(d[0].run->id, "p");
  ASSERT_EQ(d[0].admit, 0);
  ASSERT_EQ(d[0].tag_limit, 0);
  ASSERT_STR_EQ(d[0].reason, "waiting: 1/1 runs with tag database=prod in progress");
  ASSERT(d[1].admit && d[2].admit);
  /* Nothing in progress: one prod run at a time, even among the queued. */
  struct weft_run_row q2[] = {row("p1", 10, "{\"database\":\"prod\"}"),
                              row("p2", 20, "{\"database\":\"prod\"}")};
  ASSERT_EQ(weft_run_queue_plan(&cfg, NULL, 0, q2, 2, d, NULL), WEFT_OK);
  ASSERT_EQ(d[0].admit, 1);
  ASSERT_EQ(d[1].admit, 0);
  return 0;
}

TEST(tag_limit_per_distinct_value) {
  struct weft_tag_limit lim[] = {tl("team", NULL, 2)};
  struct weft_run_queue_config cfg = {.tag_limits = lim, .n_tag_limits = 1};
  struct weft_run_row ip[] = {row("a1", 1, "{\"team\":\"a\"}"), row("a2", 2, "{\"team\":\"a\"}")};
  struct weft_run_row q[] = {row("qa", 10, "{\"team\":\"a\"}"), row("b1", 11, "{\"team\":\"b\"}"),
                             row("b2", 12, "{\"team\":\"b\"}"), row("b3", 13, "{\"team\":\"b\"}")};
  struct weft_run_queue_decision d[4];
  ASSERT_EQ(weft_run_queue_plan(&cfg, ip, 2, q, 4, d, NULL), WEFT_OK);
  ASSERT_EQ(d[0].admit, 0);
  ASSERT_STR_EQ(d[0].reason, "waiting: 2/2 runs with tag team=a in progress");
  ASSERT(d[1].admit && d[2].admit);
  ASSERT_EQ(d[3].admit, 0);
  ASSERT_STR_EQ(d[3].reason, "waiting: 2/2 runs with tag team=b in progress");
  return 0;
}

TEST(priority_first_then_age) {
  struct weft_run_queue_config cfg = {.max_concurrent_runs = 1};
  struct weft_run_row q[] = {row("old", 10, "{}"),
                             row("urgent", 30, "{\"weft/priority\":\"5\"}"),
                             row("low", 5, "{\"weft/priority\":\"-1\"}"),
                             row("bad", 1, "{\"weft/priority\":\"high\"}")};
  struct weft_run_queue_decision d[4];
  ASSERT_EQ(weft_run_queue_plan(&cfg, NULL, 0, q, 4, d, NULL), WEFT_OK);
  ASSERT_STR_EQ(d[0].run->id, "urgent");
  ASSERT_EQ(d[0].admit, 1);
  ASSERT_STR_EQ(d[1].run->id, "bad"); /* not an integer: priority 0 */
  ASSERT_STR_EQ(d[2].run->id, "old");
  ASSERT_STR_EQ(d[3].run->id, "low");
  ASSERT(!d[1].admit && !d[2].admit && !d[3].admit);
  return 0;
}

TEST(blocked_high_priority_does_not_block_others) {
  struct weft_tag_limit lim[] = {tl("database", "prod", 1)};
  struct weft_run_queue_config cfg = {.max_concurrent_runs = 3, .tag_limits = lim,
                                      .n_tag_limits = 1};
  struct weft_run_row ip[] = {row("a", 1, "{\"database\":\"prod\"}")};
  struct weft_run_row q[] = {row("hi", 10, "{\"database\":\"prod\",\"weft/priority\":\"10\"}"),
                             row("x", 20, "{}"), row("y", 30, "{}"), row("z", 40, "{}")};
  struct weft_run_queue_decision d[4];
  ASSERT_EQ(weft_run_queue_plan(&cfg, ip, 1, q, 4, d, NULL), WEFT_OK);
  ASSERT_STR_EQ(d[0].run->id, "hi");
  ASSERT_EQ(d[0].admit, 0);
  ASSERT(d[1].admit && d[2].admit); /* x and y fill the 3 slots with a */
  ASSERT_EQ(d[3].admit, 0);
  ASSERT_STR_EQ(d[3].reason, "waiting: 3/3 runs in progress (max_concurrent_runs)");
  return 0;
}

/* ---- weft.yaml ------------------------------------------------------------------ */

TEST(config_parses_and_reports_positions) {
  const char *ok = "run_queue:\n  max_concurrent_runs: 10\n  tag_limits:\n"
                   "    - {key: database, value: prod, limit: 1}\n    - {key: team, limit: 2}\n";
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  ASSERT_EQ(weft_instance_config_parse("/h", "weft.yaml", ok, strlen(ok), &c, &d), WEFT_OK);
  ASSERT_EQ(c.run_queue.max_concurrent_runs, 10);
  ASSERT_EQ(c.run_queue.n_tag_limits, 2);
  ASSERT_STR_EQ(c.run_queue.tag_limits[0].value, "prod");
  ASSERT(c.run_queue.tag_limits[1].value == NULL);
  ASSERT_EQ(c.run_queue.tag_limits[1].limit, 2);
  ASSERT(weft_run_queue_config_limited(&c.run_queue));
  weft_instance_config_release(&c);
  const char *bad = "run_queue:\n  max_concurrent_runs: -1\n  tag_limits:\n"
                    "    - {key: team}\n    - {key: a, limit: x, colour: red}\n";
  ASSERT_EQ(weft_instance_config_parse("/h", "weft.yaml", bad, strlen(bad), &c, &d),
            WEFT_EINVALID);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  weft_diags_sort(&d);
  weft_diags_print(&d, f);
  fclose(f);
  ASSERT_CONTAINS(text, "weft.yaml:2:24: error: run_queue.max_concurrent_runs must be a "
                        "non-negative integer");
  ASSERT_CONTAINS(text, "weft.yaml:4:7: error: run_queue.tag_limits[0] needs a 'limit'");
  ASSERT_CONTAINS(text, "unknown key 'colour' in run_queue.tag_limits[1]");
  ASSERT_CONTAINS(text, "the tag limit's limit must be a non-negative integer");
  free(text);
  weft_diags_release(&d);
  return 0;
}

/* ---- through the store -------------------------------------------------------------- */

/* The temp folder open_home made, removed when the test's process ends
 * (each test has its own; the children it forks leave with _exit) or
 * when the test opens another. */
static char home_tmp[64];
static void remove_home_tmp(void) {
  if (*home_tmp) fx_leave_tmp(home_tmp);
}

/* A fresh instance in a temp folder; on PostgreSQL (pg set) in a schema of
 * its own. */
static struct weft_instance *open_home(int pg) {
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = NULL;
  if (*home_tmp) remove_home_tmp(); /* a test's second instance: the first is closed */
  else atexit(remove_home_tmp);
  const char *tmp = fx_enter_tmp();
  if (!tmp) return NULL;
  snprintf(home_tmp, sizeof home_tmp, "%s", tmp);
  if (pg) {
    const char *base = getenv("WEFT_TEST_PG_URL");
    char *id = weft_store_new_run_id(), yaml[1024], sql[64];
    snprintf(sql, sizeof sql, "CREATE SCHEMA rq_%s", id);
    PGconn *c = PQconnectdb(base);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    snprintf(yaml, sizeof yaml, "storage: {postgres: {url: '%s%coptions=-csearch_path%%3Drq_%s'}}\n",
             base, strchr(base, '?') ? '&' : '?', id);
    free(id);
    if (!ok || fx_write("home/weft.yaml", yaml)) return NULL;
  }
  if (weft_instance_open("home", &inst, &err)) fprintf(stderr, "# %s\n", err.msg);
  return inst;
}

static int add_run(struct weft_instance *inst, const char *id, int64_t created, const char *tags) {
  struct weft_run_row r = row(id, created, tags);
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_store_run_create(inst->store, &r, &err);
  if (rc) fprintf(stderr, "# %s\n", err.msg);
  return rc;
}

static int set_status(struct weft_instance *inst, const char *id, enum weft_run_status st) {
  struct weft_run_row r = {0};
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_store_run_get(inst->store, id, &r, &err);
  r.status = st;
  if (!rc) rc = weft_store_run_update(inst->store, &r, &err);
  weft_run_row_release(&r);
  return rc;
}

struct spawned {
  char ids[64][16];
  size_t n;
  FILE *log; /* two dequeuers: one line per admitted run */
};

static int fake_spawn(void *data, struct weft_instance *inst, const struct weft_run_row *run,
                      const char *in_run, weft_error *err) {
  (void)inst;
  (void)in_run;
  (void)err;
  struct spawned *s = data;
  if (s->n < 64) snprintf(s->ids[s->n++], 16, "%s", run->id);
  if (s->log) {
    fprintf(s->log, "%s\n", run->id);
    fflush(s->log);
  }
  return WEFT_OK;
}

/* Hands r2 over; fails with WEFT_EIO for r4. */
static int fake_hand(void *data, struct weft_instance *inst, const struct weft_run_row *run,
                     const char *in_run, weft_error *err) {
  (void)data;
  (void)inst;
  (void)in_run;
  if (!strcmp(run->id, "r4")) return weft_error_set(err, WEFT_EIO, "no hand-off for r4");
  return !strcmp(run->id, "r2");
}

/* A turn hands runs to a coordinator service inside its own transaction:
 * a handed run is counted and not spawned; a failed hand-off rolls the
 * whole turn back, nothing admitted. Then the real hand-off, with a
 * service's heartbeat in the store: the run lands in its inbox. */
TEST(a_turn_hands_runs_over_in_its_commit) {
  struct weft_instance *inst = open_home(0);
  ASSERT(inst);
  struct weft_run_queue_config cfg = {0};
  struct spawned sp = {0};
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  int64_t now = weft_clock_wall_ms();
  ASSERT_EQ(add_run(inst, "r1", now - 30, "{}"), 0);
  ASSERT_EQ(add_run(inst, "r2", now - 20, "{}"), 0);
  ASSERT_EQ(add_run(inst, "r3", now - 10, "{}"), 0);
  struct weft_run_queue_starter start = {fake_spawn, fake_hand, &sp};
  ASSERT_EQ(weft_run_queue_dequeue_with(inst, &cfg, now, &start, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 3);
  ASSERT_EQ(sp.n, 2);
  ASSERT_STR_EQ(sp.ids[0], "r1");
  ASSERT_STR_EQ(sp.ids[1], "r3");
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(inst->store, "claim/r2", &v, NULL), WEFT_OK);
  free(v);
  /* r4's hand-off fails: the turn admits nothing, r5 included. */
  ASSERT_EQ(add_run(inst, "r4", now - 5, "{}"), 0);
  struct weft_run_row r5 = row("r5", now - 4, "{}");
  r5.code_version = (char *)"cv1"; /* services load jobs from snapshots only */
  ASSERT_EQ(weft_store_run_create(inst->store, &r5, &err), WEFT_OK);
  ASSERT_EQ(weft_run_queue_dequeue_with(inst, &cfg, now, &start, &n, &err), WEFT_EIO);
  ASSERT_EQ(sp.n, 2);
  ASSERT_EQ(weft_store_kv_get(inst->store, "claim/r4", &v, NULL), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_kv_get(inst->store, "claim/r5", &v, NULL), WEFT_ENOTFOUND);
  ASSERT_EQ(set_status(inst, "r4", WEFT_RUN_CANCELED), 0);
  /* The real hand-off: a service heartbeats, r5 has a code version. */
  ASSERT_EQ(weft_store_kv_set(inst->store, WEFT_COORD_SERVICE_PREFIX "svc", "{}", &err), WEFT_OK);
  struct weft_run_queue_starter real = {fake_spawn, weft_coord_hand_fn, &sp};
  ASSERT_EQ(weft_run_queue_dequeue_with(inst, &cfg, now, &real, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(sp.n, 2); /* handed, not spawned */
  ASSERT_EQ(weft_store_kv_get(inst->store, WEFT_COORD_INBOX_PREFIX "r5", &v, &err), WEFT_OK);
  free(v);
  weft_instance_close(inst);
  return 0;
}

static int reason_of(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                     const char *id, const char *want) {
  struct weft_run_row r = {0};
  struct weft_run_queue_waits w = {0};
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_store_run_get(inst->store, id, &r, &err), WEFT_OK);
  ASSERT_EQ(weft_run_queue_explain_run(inst->store, cfg, &r, &w, &err), WEFT_OK);
  ASSERT_STR_EQ(weft_run_queue_waits_find(&w, id), want);
  weft_run_queue_waits_release(&w);
  weft_run_row_release(&r);
  return 0;
}

/* Without limits, a run recorded while a coordinator service is up is
 * claimed and handed over in the recording transaction, with no turn;
 * with limits, or without a code version, nothing is written and a turn
 * decides. Its queue reason, read for it alone, follows. */
TEST(a_launch_admits_its_run_in_its_own_commit) {
  struct weft_instance *inst = open_home(0);
  ASSERT(inst);
  struct weft_run_queue_config none = {0}, lim = {.max_concurrent_runs = 1};
  struct spawned sp = {0};
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  int64_t now = weft_clock_wall_ms();
  struct weft_run_row r1 = row("r1", now, "{}");
  r1.code_version = (char *)"cv1";
  ASSERT_EQ(weft_store_run_create(inst->store, &r1, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(inst->store, WEFT_COORD_SERVICE_PREFIX "svc", "{}", &err), WEFT_OK);
  ASSERT_EQ(weft_store_begin(inst->store, &err), WEFT_OK);
  ASSERT_EQ(weft_coord_admit_in_tx(inst, &lim, "r1", "cv1", NULL, &err), 0);
  ASSERT_EQ(weft_coord_admit_in_tx(inst, &none, "r1", NULL, NULL, &err), 0);
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(inst->store, "claim/r1", &v, NULL), WEFT_ENOTFOUND);
  ASSERT_EQ(reason_of(inst, &none, "r1", "next in line"), 0);
  ASSERT_EQ(weft_coord_admit_in_tx(inst, &none, "r1", "cv1", "a,b", &err), 1);
  ASSERT_EQ(weft_store_commit(inst->store, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_get(inst->store, "claim/r1", &v, &err), WEFT_OK);
  free(v);
  ASSERT_EQ(weft_store_kv_get(inst->store, WEFT_COORD_INBOX_PREFIX "r1", &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "a,b");
  free(v);
  ASSERT_EQ(reason_of(inst, &none, "r1", "starting"), 0);
  ASSERT_EQ(reason_of(inst, &lim, "r1", "starting"), 0); /* the whole queue's answer */
  /* Claimed once only; a turn has nothing left to admit. */
  ASSERT_EQ(weft_store_begin(inst->store, &err), WEFT_OK);
  ASSERT_EQ(weft_coord_admit_in_tx(inst, &none, "r1", "cv1", NULL, &err), WEFT_ECONFLICT);
  weft_store_rollback(inst->store);
  ASSERT_EQ(weft_run_queue_dequeue(inst, &none, now, fake_spawn, &sp, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 0);
  ASSERT_EQ(sp.n, 0);
  weft_instance_close(inst);
  return 0;
}

/* A dequeuer's reap drops the coordinator/taken/RUN entries of runs a
 * service started or ended, all in one commit (not one each), and keeps
 * those of queued runs whose service is alive. */
TEST(reap_drops_taken_entries_of_started_runs_in_one_commit) {
  struct weft_instance *inst = open_home(0);
  ASSERT(inst);
  struct spawned sp = {0};
  weft_error err = WEFT_ERROR_INIT;
  int64_t now = weft_clock_wall_ms();
  char *me = weft_coordinator_id(), value[256], *v = NULL;
  ASSERT(me);
  snprintf(value, sizeof value, "%s\n", me);
  free(me);
  const char *ids[] = {"t1", "t2", "t3"};
  for (int i = 0; i < 3; i++) {
    char key[64];
    ASSERT_EQ(add_run(inst, ids[i], now - 10 + i, "{}"), 0);
    snprintf(key, sizeof key, "%s%s", WEFT_COORD_TAKEN_PREFIX, ids[i]);
    ASSERT_EQ(weft_store_kv_set(inst->store, key, value, &err), WEFT_OK);
  }
  ASSERT_EQ(set_status(inst, "t1", WEFT_RUN_STARTED), 0);
  ASSERT_EQ(set_status(inst, "t2", WEFT_RUN_SUCCESS), 0);
  struct weft_store_commit_stats before, after;
  weft_store_commit_stats_get(&before);
  ASSERT_EQ(weft_coord_inbox_reclaim(inst, fake_spawn, &sp), 0);
  weft_store_commit_stats_get(&after);
  ASSERT_EQ(after.count - before.count, 1);
  ASSERT_EQ(weft_store_kv_get(inst->store, WEFT_COORD_TAKEN_PREFIX "t1", &v, NULL), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_kv_get(inst->store, WEFT_COORD_TAKEN_PREFIX "t2", &v, NULL), WEFT_ENOTFOUND);
  /* Still queued, its service (this process) alive: left as it is. */
  ASSERT_EQ(weft_store_kv_get(inst->store, WEFT_COORD_TAKEN_PREFIX "t3", &v, NULL), WEFT_OK);
  free(v);
  ASSERT_EQ(sp.n, 0);
  weft_instance_close(inst);
  return 0;
}

TEST(dequeue_claims_and_explains) {
  struct weft_instance *inst = open_home(0);
  ASSERT(inst);
  struct weft_run_queue_config cfg = {.max_concurrent_runs = 2};
  struct spawned sp = {0};
  size_t n = 0;
  int64_t now = weft_clock_wall_ms();
  ASSERT_EQ(add_run(inst, "r1", now - 30, "{}"), 0);
  ASSERT_EQ(add_run(inst, "r2", now - 20, "{}"), 0);
  ASSERT_EQ(add_run(inst, "r3", now - 10, "{}"), 0);
  ASSERT_EQ(weft_run_queue_dequeue(inst, &cfg, now, fake_spawn, &sp, &n, NULL), WEFT_OK);
  ASSERT_EQ(n, 2);
  ASSERT_STR_EQ(sp.ids[0], "r1");
  ASSERT_STR_EQ(sp.ids[1], "r2");
  /* Claimed but not started yet: they hold their slots. */
  ASSERT_EQ(weft_run_queue_dequeue(inst, &cfg, now, fake_spawn, &sp, &n, NULL), WEFT_OK);
  ASSERT_EQ(n, 0);
  struct weft_run_queue_waits w = {0};
  ASSERT_EQ(weft_run_queue_explain(inst->store, &cfg, &w, NULL), WEFT_OK);
  ASSERT_EQ(w.n, 3);
  ASSERT_STR_EQ(weft_run_queue_waits_find(&w, "r1"), "starting");
  ASSERT_STR_EQ(weft_run_queue_waits_find(&w, "r3"),
                "waiting: 2/2 runs in progress (max_concurrent_runs)");
  weft_run_queue_waits_release(&w);
  /* r1 starts and ends: its claim goes, r3 gets the slot. */
  ASSERT_EQ(set_status(inst, "r1", WEFT_RUN_STARTED), 0);
  ASSERT_EQ(weft_run_queue_dequeue(inst, &cfg, now, fake_spawn, &sp, &n, NULL), WEFT_OK);
  ASSERT_EQ(n, 0);
  ASSERT_EQ(set_status(inst, "r1", WEFT_RUN_SUCCESS), 0);
  ASSERT_EQ(weft_run_queue_dequeue(inst, &cfg, now, fake_spawn, &sp, &n, NULL), WEFT_OK);
  ASSERT_EQ(n, 1);
  ASSERT_STR_EQ(sp.ids[2], "r3");
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(inst->store, "claim/r1", &v, NULL), WEFT_ENOTFOUND);
  /* A claim by a launcher for itself. */
  ASSERT_EQ(add_run(inst, "r4", now, "{}"), 0);
  ASSERT_EQ(weft_run_queue_claim(inst, "r4", now, NULL), WEFT_OK);
  ASSERT_EQ(weft_run_queue_claim(inst, "r4", now, NULL), WEFT_ECONFLICT);
  weft_instance_close(inst);
  return 0;
}

TEST(stale_claim_of_a_dead_dequeuer_is_released) {
  struct weft_instance *inst = open_home(0);
  ASSERT(inst);
  struct weft_run_queue_config cfg = {.max_concurrent_runs = 1};
  struct spawned sp = {0};
  size_t n = 0;
  int64_t now = weft_clock_wall_ms();
  ASSERT_EQ(add_run(inst, "r1", now, "{}"), 0);
  /* Claimed 10 s ago by a process that is gone (pid 1 with a wrong start
   * time): still counts; 31 s later it is released and admitted again. */
  char host[256], claim[512];
  gethostname(host, sizeof host);
  snprintf(claim, sizeof claim, "{\"by\":\"%s:1:1\",\"at_ms\":%lld}", host,
           (long long)(now - 10000));
  ASSERT_EQ(weft_store_kv_set(inst->store, "claim/r1", claim, NULL), WEFT_OK);
  ASSERT_EQ(weft_run_queue_dequeue(inst, &cfg, now, fake_spawn, &sp, &n, NULL), WEFT_OK);
  ASSERT_EQ(n, 0);
  ASSERT_EQ(weft_run_queue_dequeue(inst, &cfg, now + 21000, fake_spawn, &sp, &n, NULL),
            WEFT_OK);
  ASSERT_EQ(n, 1);
  ASSERT_STR_EQ(sp.ids[0], "r1");
  weft_instance_close(inst);
  return 0;
}

static void note_reason(void *data, const char *reason) {
  struct spawned *s = data;
  if (s->n < 64) snprintf(s->ids[s->n++], 16, "%.15s", reason);
}

TEST(launcher_waits_its_turn_and_others_respect_it) {
  struct weft_instance *inst = open_home(0);
  ASSERT(inst);
  struct weft_run_queue_config cfg = {.max_concurrent_runs = 1};
  struct spawned sp = {0}, reasons = {0};
  size_t n = 0;
  int64_t now = weft_clock_wall_ms();
  ASSERT_EQ(add_run(inst, "busy", now - 10, "{}"), 0);
  ASSERT_EQ(set_status(inst, "busy", WEFT_RUN_STARTED), 0);
  ASSERT_EQ(add_run(inst, "mine", now, "{}"), 0);
  int wait = 0;
  ASSERT_EQ(weft_run_queue_launched(inst, &cfg, "mine", 0, &wait, NULL), WEFT_OK);
  ASSERT_EQ(wait, 1);
  /* Another dequeuer may not start it: the launcher coordinates it. */
  ASSERT_EQ(set_status(inst, "busy", WEFT_RUN_SUCCESS), 0);
  ASSERT_EQ(weft_run_queue_dequeue(inst, &cfg, now, fake_spawn, &sp, &n, NULL), WEFT_OK);
  ASSERT_EQ(n, 0);
  /* ... but it counts: the launcher finds it claimed in its name. */
  ASSERT_EQ(weft_run_queue_wait_turn(inst, &cfg, "mine", fake_spawn, &sp, note_reason, &reasons,
                                     NULL, NULL),
            WEFT_OK);
  ASSERT_EQ(sp.n, 0);
  /* A second launch waits behind it, says why, and Ctrl-C cancels it. */
  ASSERT_EQ(add_run(inst, "next", now + 1, "{}"), 0);
  ASSERT_EQ(weft_run_queue_launched(inst, &cfg, "next", 0, &wait, NULL), WEFT_OK);
  volatile sig_atomic_t stop = 1; /* as if Ctrl-C came while it waits */
  struct weft_run_row r = {0};
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_run_queue_wait_turn(inst, &cfg, "next", fake_spawn, &sp, note_reason, &reasons,
                                     &stop, &err),
            WEFT_ECANCELED);
  ASSERT_EQ(weft_store_run_get(inst->store, "next", &r, NULL), WEFT_OK);
  ASSERT_EQ(r.status, WEFT_RUN_CANCELED);
  weft_run_row_release(&r);
  /* Detached with limits: unowned, for any dequeuer. */
  ASSERT_EQ(add_run(inst, "det", now + 2, "{}"), 0);
  ASSERT_EQ(weft_run_queue_launched(inst, &cfg, "det", 1, &wait, NULL), WEFT_OK);
  ASSERT_EQ(wait, 0);
  ASSERT_EQ(weft_store_run_get(inst->store, "det", &r, NULL), WEFT_OK);
  ASSERT(r.coordinator == NULL);
  weft_run_row_release(&r);
  weft_instance_close(inst);
  return 0;
}

TEST(wait_turn_reports_why_until_a_slot_frees) {
  struct weft_instance *inst = open_home(0);
  ASSERT(inst);
  struct weft_run_queue_config cfg = {.max_concurrent_runs = 1};
  struct spawned sp = {0}, reasons = {0};
  int64_t now = weft_clock_wall_ms();
  ASSERT_EQ(add_run(inst, "busy", now - 10, "{}"), 0);
  ASSERT_EQ(set_status(inst, "busy", WEFT_RUN_STARTED), 0);
  ASSERT_EQ(add_run(inst, "mine", now, "{}"), 0);
  char *home = strdup(inst->home);
  pid_t kid = fork();
  if (kid == 0) { /* ends "busy" a little later, from another connection */
    struct weft_instance *other = NULL;
    weft_clock_sleep_ms(400);
    if (weft_instance_open(home, &other, NULL)) _exit(1);
    int rc = set_status(other, "busy", WEFT_RUN_SUCCESS);
    weft_instance_close(other);
    _exit(rc ? 1 : 0);
  }
  int wait = 0;
  ASSERT_EQ(weft_run_queue_launched(inst, &cfg, "mine", 0, &wait, NULL), WEFT_OK);
  ASSERT_EQ(weft_run_queue_wait_turn(inst, &cfg, "mine", fake_spawn, &sp, note_reason, &reasons,
                                     NULL, NULL),
            WEFT_OK);
  int st = 0;
  waitpid(kid, &st, 0);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ASSERT(reasons.n >= 1);
  ASSERT_STR_EQ(reasons.ids[0], "waiting: 1/1 ru"); /* cut at 15 characters */
  free(home);
  weft_instance_close(inst);
  return 0;
}

/* Two processes dequeue 40 runs at once, max_concurrent_runs 5 (max 0:
 * none): every run is admitted exactly once and never more than the limit. */
static int two_dequeuers(int pg, int max) {
  if (pg && (!getenv("WEFT_TEST_PG_URL") || !*getenv("WEFT_TEST_PG_URL"))) {
    fprintf(stderr, "# skipped: WEFT_TEST_PG_URL is not set\n");
    return 0;
  }
  struct weft_instance *inst = open_home(pg);
  ASSERT(inst);
  char id[16];
  int64_t now = weft_clock_wall_ms();
  for (int i = 0; i < 40; i++) {
    snprintf(id, sizeof id, "r%02d", i);
    ASSERT_EQ(add_run(inst, id, now + i, "{}"), 0);
  }
  char *home = strdup(inst->home);
  weft_instance_close(inst);
  struct weft_run_queue_config cfg = {.max_concurrent_runs = max};
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    if ((kids[k] = fork()) == 0) {
      struct weft_instance *mine = NULL;
      weft_error err = WEFT_ERROR_INIT;
      char name[32];
      snprintf(name, sizeof name, "admitted.%d", k);
      struct spawned sp = {.log = fopen(name, "w")};
      if (!sp.log || weft_instance_open(home, &mine, &err)) _exit(3);
      for (int turn = 0; turn < 30; turn++)
        if (weft_run_queue_dequeue(mine, &cfg, weft_clock_wall_ms(), fake_spawn, &sp, NULL,
                                   &err)) {
          fprintf(stderr, "# dequeuer %d: %s\n", k, err.msg);
          _exit(4);
        }
      fclose(sp.log);
      weft_instance_close(mine);
      _exit(0);
    }
  }
  for (int k = 0; k < 2; k++) {
    int st = 0;
    waitpid(kids[k], &st, 0);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  free(home);
  int seen[40] = {0}, total = 0;
  for (int k = 0; k < 2; k++) {
    char name[32], line[64];
    snprintf(name, sizeof name, "admitted.%d", k);
    FILE *f = fopen(name, "r");
    ASSERT(f);
    while (fgets(line, sizeof line, f)) {
      int i = atoi(line + 1);
      ASSERT(i >= 0 && i < 40);
      seen[i]++;
      total++;
    }
    fclose(f);
  }
  ASSERT_EQ(total, max ? max : 40);
  for (int i = 0; i < 40; i++) ASSERT(seen[i] <= 1);
  if (max)
    for (int i = 0; i < max; i++) ASSERT_EQ(seen[i], 1); /* the oldest ones */
  return 0;
}

TEST(two_dequeuers_sqlite) { return two_dequeuers(0, 0) || two_dequeuers(0, 5); }
TEST(two_dequeuers_postgres) { return two_dequeuers(1, 0) || two_dequeuers(1, 5); }

TEST_MAIN(TEST_ENTRY(global_limit_admits_oldest_first) TEST_ENTRY(tag_limit_with_value)
              TEST_ENTRY(tag_limit_per_distinct_value) TEST_ENTRY(priority_first_then_age)
                  TEST_ENTRY(blocked_high_priority_does_not_block_others)
                      TEST_ENTRY(config_parses_and_reports_positions)
                          TEST_ENTRY(dequeue_claims_and_explains)
                          TEST_ENTRY(a_turn_hands_runs_over_in_its_commit)
                          TEST_ENTRY(a_launch_admits_its_run_in_its_own_commit)
                          TEST_ENTRY(reap_drops_taken_entries_of_started_runs_in_one_commit)
                          TEST_ENTRY(launcher_waits_its_turn_and_others_respect_it)
                          TEST_ENTRY(wait_turn_reports_why_until_a_slot_frees)
                              TEST_ENTRY(stale_claim_of_a_dead_dequeuer_is_released)
                                  TEST_ENTRY(two_dequeuers_sqlite)
                                      TEST_ENTRY(two_dequeuers_postgres))
