/* test_engine_coord_loop.c: one loop driving many runs (engine/coord_loop.h):
 * runs advancing together, one commit per tick across runs, cancel read
 * for all runs on the loop's (fake) clock, step timeouts, C ops on the
 * loop's threads, idle runs not turned, leases renewed once per tick. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A case creates a thousand runs, one commit each: slow under ASan on a
 * loaded machine. */
#define TEST_TIMEOUT_S 180

#include "engine/coord_loop.h"
#include "engine/engine.h"
#include "util/clock.h"
#include "test.h"
#include "test_dsl_fixture.h"

static int c_seed(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  (void)err;
  return weft_op_ctx_set_output(ctx, "result", "21");
}

static int c_double(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  const char *in = weft_op_ctx_input_json(ctx, "n");
  long n = in ? strtol(in, NULL, 10) : 0;
  if (n < 0) return weft_error_set(err, WEFT_EINVALID, "n must not be negative");
  char out[32];
  snprintf(out, sizeof out, "%ld", n * 2);
  return weft_op_ctx_set_output(ctx, "result", out);
}

/* Blocks until the test lets it go: a slow C op on the loop's pool. */
static atomic_int gate_open, gate_entered;
static int c_gate(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  (void)err;
  atomic_fetch_add(&gate_entered, 1);
  while (!atomic_load(&gate_open)) usleep(1000);
  return weft_op_ctx_set_output(ctx, "result", "1");
}

struct fixture {
  const char *dir;
  struct weft_location *loc;
  struct weft_instance *inst;
  struct weft_run_config rc;
  int have_rc;
};

static int fixture_open(struct fixture *f, const char *job_yaml, const char *run_config) {
  memset(f, 0, sizeof *f);
  weft_error err = WEFT_ERROR_INIT;
  if (!(f->dir = fx_enter_tmp())) return -1;
  if (fx_write("loc/ops/c.yaml",
               "seed: {c_function: loop_seed, outputs: {result: int}}\n"
               "double: {c_function: loop_double, inputs: {n: int}, outputs: {result: int}}\n"
               "nap: {run: sleep 30}\n"
               "quick: {run: \"true\"}\n"
               "short: {run: sleep 30, timeout: 200ms}\n"
               "gate: {c_function: loop_gate, outputs: {result: int}}\n"
               "gate_short: {c_function: loop_gate, outputs: {result: int}, timeout: 200ms}\n") ||
      fx_write("loc/jobs/j.yaml", job_yaml))
    return -1;
  if (weft_location_load("loc", "loc", &f->loc, &err) || f->loc->diags.n) {
    if (f->loc) weft_diags_print(&f->loc->diags, stderr);
    return -1;
  }
  struct weft_diags d = WEFT_DIAGS_INIT;
  int rc = weft_run_config_build(&f->loc->jobs[0], "run.yaml", run_config,
                                 run_config ? strlen(run_config) : 0, NULL, 0, &f->rc, &d);
  if (d.n) weft_diags_print(&d, stderr);
  weft_diags_release(&d);
  if (rc) return -1;
  f->have_rc = 1;
  if (weft_instance_open("home", &f->inst, &err)) {
    fprintf(stderr, "# %s\n", err.msg);
    return -1;
  }
  return 0;
}

static void fixture_close(struct fixture *f) {
  weft_instance_close(f->inst);
  if (f->have_rc) weft_run_config_release(&f->rc);
  weft_location_free(f->loc);
  fx_leave_tmp(f->dir);
}

/* The loop's clock: moved by the test only. */
static int64_t fake_now;
static int64_t fake_clock(void *data) {
  (void)data;
  return fake_now;
}

struct ended {
  size_t n;
  int rc_seen;
};

/* A run that ended in error says why on stderr (TAP comment): an
 * unexpected one names its cause in the test's log. */
static void on_done(void *data, const char *run_id, enum weft_run_status final, int rc,
                    const char *msg) {
  (void)final;
  struct ended *e = data;
  e->n++;
  if (rc) {
    e->rc_seen = 1;
    fprintf(stderr, "# run %s: %s\n", run_id, msg ? msg : "");
  }
}

/* How many events of type the run has. */
static size_t events_of(struct fixture *f, const char *id, const char *type) {
  struct weft_event_list ev = {0};
  struct weft_event_filter ef = {.run_id = id};
  weft_error err = WEFT_ERROR_INIT;
  size_t n = 0;
  if (weft_store_event_read(f->inst->store, &ef, &ev, &err)) return 0;
  for (size_t i = 0; i < ev.n; i++) n += !strcmp(ev.v[i].type, type);
  weft_event_list_release(&ev);
  return n;
}

static enum weft_run_status status_of(struct fixture *f, const char *id) {
  struct weft_run_row r = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_run_get(f->inst->store, id, &r, &err)) return WEFT_RUN_QUEUED;
  enum weft_run_status st = r.status;
  weft_run_row_release(&r);
  return st;
}

/* Creates n runs and adds them to lp. */
static int add_runs(struct fixture *f, struct weft_coord_loop *lp, const struct weft_launch *l,
                    char **ids, size_t n, struct ended *e) {
  weft_error err = WEFT_ERROR_INIT;
  for (size_t i = 0; i < n; i++) {
    if (weft_run_create(f->inst, l, &ids[i], &err) ||
        weft_coord_loop_add(lp, ids[i], l, on_done, e, &err)) {
      fprintf(stderr, "# %s\n", err.msg);
      return -1;
    }
  }
  return 0;
}

/* A new loop (with the fixture's job and run config in *l) driving one
 * new run *id. */
static struct weft_coord_loop *loop_of_one_run(struct fixture *f, struct weft_launch *l,
                                               char **id, struct ended *e) {
  struct weft_coord_loop *lp = NULL;
  weft_error err = WEFT_ERROR_INIT;
  *l = (struct weft_launch){.job = &f->loc->jobs[0], .rc = &f->rc};
  if (weft_coord_loop_new(f->inst, &lp, &err)) return NULL;
  if (add_runs(f, lp, l, id, 1, e)) {
    weft_coord_loop_free(lp);
    return NULL;
  }
  return lp;
}

/* ---- tests ------------------------------------------------------------------ */

TEST(many_runs_advance_with_one_commit_per_tick) {
  enum { N = 60 };
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("loop_seed", c_seed, NULL), WEFT_OK);
  ASSERT_EQ(weft_register_c_op("loop_double", c_double, NULL), WEFT_OK);
  /* C ops run in the coordinator's process: the in_process executor. */
  ASSERT_EQ(fixture_open(&f, "ops:\n  s: seed\n  d: {uses: double, inputs: {n: s}}\n",
                         "execution: {in_process: {}}\n"),
            0);
  struct weft_coord_loop *lp = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  weft_coord_loop_set_clock(lp, fake_clock, NULL);
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  char *ids[N] = {0};
  struct ended e = {0};
  ASSERT_EQ(add_runs(&f, lp, &l, ids, N, &e), 0);
  ASSERT_EQ(weft_coord_loop_count(lp), N);
  /* Nothing is committed until the loop ticks: the runs are still queued. */
  ASSERT_EQ(status_of(&f, ids[0]), WEFT_RUN_QUEUED);
  /* The first tick claims every run in one commit and, once that
   * committed, starts their first steps, recorded in a second commit:
   * not a tick later. */
  weft_coord_loop_tick(lp, 0);
  ASSERT_EQ(weft_coord_loop_commits(lp), 2);
  for (size_t i = 0; i < N; i++) {
    ASSERT(status_of(&f, ids[i]) != WEFT_RUN_QUEUED);
    ASSERT_EQ(events_of(&f, ids[i], "step_started"), 1);
  }
  size_t ticks = 1;
  /* Waiting up to 1 ms a tick for the pool's threads to end the C ops. */
  while (weft_coord_loop_count(lp) && ticks < 20000) {
    weft_coord_loop_tick(lp, 1);
    ticks++;
  }
  ASSERT_EQ(weft_coord_loop_count(lp), 0);
  ASSERT_EQ(e.n, N);
  ASSERT_EQ(e.rc_seen, 0);
  for (size_t i = 0; i < N; i++) ASSERT_EQ(status_of(&f, ids[i]), WEFT_RUN_SUCCESS);
  /* Every run needs a commit to start and one to end: alone, 2 * N at
   * least; here one per tick whatever the number of runs (how many ticks
   * the C ops' ends are spread over is the pool's timing), and the first
   * tick's second. */
  ASSERT(weft_coord_loop_commits(lp) <= ticks + 1);
  weft_coord_loop_free(lp);
  for (size_t i = 0; i < N; i++) free(ids[i]);
  fixture_close(&f);
  return 0;
}

/* More runs turned in one tick than one commit takes: committed in
 * chunks (the loop's memory), each run still started and ended once. */
TEST(a_tick_of_many_runs_commits_in_chunks) {
  enum { N = WEFT_COORD_LOOP_COMMIT_CHUNK + 40 };
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("loop_seed", c_seed, NULL), WEFT_OK);
  ASSERT_EQ(fixture_open(&f, "ops:\n  s: seed\n", "execution: {in_process: {}}\n"), 0);
  /* Leases renewed every 33 ms: in most chunks of a tick, also after an
   * earlier chunk of it committed some runs' ends (and dropped their
   * leases), which the renewal must not take for runs adopted elsewhere. */
  setenv("WEFT_RUN_LEASE_MS", "100", 1);
  struct weft_coord_loop *lp = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  char **ids = calloc(N, sizeof *ids);
  struct ended e = {0};
  ASSERT(ids != NULL);
  ASSERT_EQ(add_runs(&f, lp, &l, ids, N, &e), 0);
  /* The first tick turns every run (each was just added): two commits
   * claim them, and two more record their steps' starts; every run is
   * written. A run whose C op ended on the pool while its turn still ran
   * may already be a success, so the check is "no longer queued", not
   * "started". */
  weft_coord_loop_tick(lp, 0);
  ASSERT_EQ(weft_coord_loop_commits(lp), 4);
  for (size_t i = 0; i < N; i++) ASSERT(status_of(&f, ids[i]) != WEFT_RUN_QUEUED);
  for (int i = 0; i < 20000 && weft_coord_loop_count(lp); i++) weft_coord_loop_tick(lp, 1);
  ASSERT_EQ(weft_coord_loop_count(lp), 0);
  ASSERT_EQ(e.n, N);
  ASSERT_EQ(e.rc_seen, 0);
  for (size_t i = 0; i < N; i++) ASSERT_EQ(status_of(&f, ids[i]), WEFT_RUN_SUCCESS);
  /* One run_started and one run_success a run, in the first chunk and
   * in the last: nothing written twice. */
  for (size_t j = 0; j < 2; j++) {
    struct weft_event_list ev = {0};
    struct weft_event_filter ef = {.run_id = ids[j ? N - 1 : 0]};
    ASSERT_EQ(weft_store_event_read(f.inst->store, &ef, &ev, &err), WEFT_OK);
    size_t started = 0, success = 0;
    for (size_t k = 0; k < ev.n; k++) {
      started += !strcmp(ev.v[k].type, "run_started");
      success += !strcmp(ev.v[k].type, "run_success");
    }
    weft_event_list_release(&ev);
    ASSERT_EQ(started, 1);
    ASSERT_EQ(success, 1);
  }
  weft_coord_loop_free(lp);
  for (size_t i = 0; i < N; i++) free(ids[i]);
  free(ids);
  unsetenv("WEFT_RUN_LEASE_MS");
  fixture_close(&f);
  return 0;
}

TEST(cancel_reaches_one_run_on_the_loops_clock) {
  struct fixture f;
  ASSERT_EQ(fixture_open(&f, "ops:\n  a: nap\n", NULL), 0);
  struct weft_coord_loop *lp = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  fake_now = 1000;
  weft_coord_loop_set_clock(lp, fake_clock, NULL);
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  char *ids[3] = {0};
  struct ended e = {0};
  ASSERT_EQ(add_runs(&f, lp, &l, ids, 3, &e), 0);
  for (int i = 0; i < 5; i++) weft_coord_loop_tick(lp, 0);
  for (size_t i = 0; i < 3; i++) ASSERT_EQ(status_of(&f, ids[i]), WEFT_RUN_STARTED);
  /* `weft run cancel` from another process: the row turns CANCELING. */
  ASSERT_EQ(weft_run_request_cancel(f.inst, ids[1], "stop that one", &err), WEFT_OK);
  /* The loop reads cancel requests every 100 ms of its clock: not yet. */
  for (int i = 0; i < 5; i++) weft_coord_loop_tick(lp, 0);
  ASSERT_EQ(weft_coord_loop_count(lp), 3);
  fake_now += 100;
  for (int i = 0; i < 400 && weft_coord_loop_count(lp) == 3; i++) weft_coord_loop_tick(lp, 5);
  ASSERT_EQ(weft_coord_loop_count(lp), 2);
  ASSERT_EQ(status_of(&f, ids[1]), WEFT_RUN_CANCELED);
  ASSERT_EQ(status_of(&f, ids[0]), WEFT_RUN_STARTED);
  ASSERT_EQ(status_of(&f, ids[2]), WEFT_RUN_STARTED);
  /* Freeing the loop cancels and ends what it still drives. */
  weft_coord_loop_free(lp);
  ASSERT_EQ(e.n, 3);
  ASSERT_EQ(status_of(&f, ids[0]), WEFT_RUN_CANCELED);
  ASSERT_EQ(status_of(&f, ids[2]), WEFT_RUN_CANCELED);
  for (size_t i = 0; i < 3; i++) free(ids[i]);
  fixture_close(&f);
  return 0;
}

/* Runs written in one commit learn of cancel requests from one read inside
 * that commit's transaction, not from a read of each row: a request that
 * came while their C ops ran is honoured at that commit, before the
 * loop's own 100 ms read, and the others are untouched. */
TEST(a_cancel_before_a_shared_commit_is_not_overwritten) {
  enum { N = 3 };
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("loop_gate", c_gate, NULL), WEFT_OK);
  ASSERT_EQ(weft_register_c_op("loop_double", c_double, NULL), WEFT_OK);
  /* b would start in the turn after a's end is committed: the cancel
   * read in that commit stops it. */
  ASSERT_EQ(fixture_open(&f, "ops:\n  a: gate\n  b: {uses: double, inputs: {n: a}}\n",
                         "execution: {in_process: {}}\n"),
            0);
  atomic_store(&gate_open, 0);
  atomic_store(&gate_entered, 0);
  struct weft_coord_loop *lp = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  fake_now = 5000; /* never moved: the loop's periodic cancel read stays off */
  weft_coord_loop_set_clock(lp, fake_clock, NULL);
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  char *ids[N] = {0};
  struct ended e = {0};
  ASSERT_EQ(add_runs(&f, lp, &l, ids, N, &e), 0);
  /* Started, their C ops in the gate or waiting for a pool thread. */
  for (int i = 0; i < 2000 && atomic_load(&gate_entered) < 1; i++) weft_coord_loop_tick(lp, 1);
  ASSERT(atomic_load(&gate_entered) >= 1);
  for (size_t i = 0; i < N; i++) ASSERT_EQ(status_of(&f, ids[i]), WEFT_RUN_STARTED);
  ASSERT_EQ(weft_run_request_cancel(f.inst, ids[1], "stop that one", &err), WEFT_OK);
  /* Every C op ends before the next tick: their runs are turned and
   * written together. */
  atomic_store(&gate_open, 1);
  usleep(100 * 1000);
  for (int i = 0; i < 2000 && weft_coord_loop_count(lp); i++) weft_coord_loop_tick(lp, 1);
  ASSERT_EQ(weft_coord_loop_count(lp), 0);
  ASSERT_EQ(status_of(&f, ids[1]), WEFT_RUN_CANCELED);
  ASSERT_EQ(status_of(&f, ids[0]), WEFT_RUN_SUCCESS);
  ASSERT_EQ(status_of(&f, ids[2]), WEFT_RUN_SUCCESS);
  weft_coord_loop_free(lp);
  ASSERT_EQ(e.n, N);
  for (size_t i = 0; i < N; i++) free(ids[i]);
  fixture_close(&f);
  return 0;
}

TEST(a_step_timeout_fails_its_run_only) {
  struct fixture f;
  ASSERT_EQ(fixture_open(&f, "ops:\n  a: short\n", NULL), 0);
  struct weft_coord_loop *lp = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  char *ids[4] = {0};
  struct ended e = {0};
  ASSERT_EQ(add_runs(&f, lp, &l, ids, 4, &e), 0);
  for (int i = 0; i < 2000 && weft_coord_loop_count(lp); i++) weft_coord_loop_tick(lp, 5);
  ASSERT_EQ(weft_coord_loop_count(lp), 0);
  for (size_t i = 0; i < 4; i++) ASSERT_EQ(status_of(&f, ids[i]), WEFT_RUN_FAILURE);
  weft_coord_loop_free(lp);
  for (size_t i = 0; i < 4; i++) free(ids[i]);
  fixture_close(&f);
  return 0;
}

TEST(a_run_that_cannot_start_is_over_at_once) {
  struct fixture f;
  ASSERT_EQ(fixture_open(&f, "ops:\n  a: nap\n", NULL), 0);
  struct weft_coord_loop *lp = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  char *id = NULL;
  struct ended e = {0};
  ASSERT_EQ(weft_run_create(f.inst, &l, &id, &err), WEFT_OK);
  ASSERT_EQ(weft_run_request_cancel(f.inst, id, "before it started", &err), WEFT_OK);
  /* Canceled while queued: not queued any more, so not driven. */
  ASSERT(weft_coord_loop_add(lp, id, &l, on_done, &e, &err) != WEFT_OK);
  ASSERT_EQ(e.n, 1);
  ASSERT_EQ(weft_coord_loop_count(lp), 0);
  ASSERT_EQ(status_of(&f, id), WEFT_RUN_CANCELED);
  weft_coord_loop_free(lp);
  free(id);
  fixture_close(&f);
  return 0;
}

/* An in_process run makes its process slot at its first process step, in
 * a turn: the loop then watches that slot's fd, so the step's end wakes
 * the run (else it would wait for nothing, forever). */
TEST(a_process_step_after_a_c_op_wakes_its_run) {
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("loop_seed", c_seed, NULL), WEFT_OK);
  ASSERT_EQ(fixture_open(&f, "ops:\n  s: seed\n  q: {uses: quick, after: [s]}\n",
                         "execution: {in_process: {}}\n"),
            0);
  struct weft_launch l;
  char *id = NULL;
  struct ended e = {0};
  struct weft_coord_loop *lp = loop_of_one_run(&f, &l, &id, &e);
  ASSERT(lp != NULL);
  int64_t t0 = weft_clock_mono_ms();
  while (weft_coord_loop_count(lp) && weft_clock_mono_ms() - t0 < 20000)
    weft_coord_loop_tick(lp, 100);
  ASSERT_EQ(weft_coord_loop_count(lp), 0);
  ASSERT_EQ(e.rc_seen, 0);
  ASSERT_EQ(status_of(&f, id), WEFT_RUN_SUCCESS);
  weft_coord_loop_free(lp);
  free(id);
  fixture_close(&f);
  return 0;
}

/* A loop started a run in memory, but its commit came late (a slow tick):
 * meanwhile another coordinator ran the run to its end and dropped its
 * lease. The late commit must find the run no longer queued, write
 * nothing and start no step (tests/chaos seed 306: steps completed twice). */
TEST(a_run_another_coordinator_ran_meanwhile_is_left_alone) {
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("loop_gate", c_gate, NULL), WEFT_OK);
  ASSERT_EQ(fixture_open(&f, "ops:\n  g: gate\n", "execution: {in_process: {}}\n"), 0);
  atomic_store(&gate_open, 1);
  atomic_store(&gate_entered, 0);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_launch l;
  char *id = NULL;
  struct ended e = {0};
  struct weft_coord_loop *lp = loop_of_one_run(&f, &l, &id, &e);
  ASSERT(lp != NULL);
  /* The other coordinator's whole run, as its commits left the row. */
  struct weft_run_row r = {0};
  ASSERT_EQ(weft_store_begin(f.inst->store, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_get(f.inst->store, id, &r, &err), WEFT_OK);
  ASSERT_EQ(r.status, WEFT_RUN_QUEUED);
  r.status = WEFT_RUN_SUCCESS;
  r.started_ms = r.ended_ms = weft_clock_wall_ms();
  ASSERT_EQ(weft_store_run_update(f.inst->store, &r, &err), WEFT_OK);
  ASSERT_EQ(weft_store_commit(f.inst->store, &err), WEFT_OK);
  weft_run_row_release(&r);
  for (int i = 0; i < 1000 && weft_coord_loop_count(lp); i++) weft_coord_loop_tick(lp, 1);
  ASSERT_EQ(weft_coord_loop_count(lp), 0);
  ASSERT_EQ(e.n, 1);
  ASSERT_EQ(e.rc_seen, 1); /* over, as not this loop's to drive */
  ASSERT_EQ(atomic_load(&gate_entered), 0); /* its step never started */
  ASSERT_EQ(status_of(&f, id), WEFT_RUN_SUCCESS);
  struct weft_event_list ev = {0};
  struct weft_event_filter ef = {.run_id = id};
  ASSERT_EQ(weft_store_event_read(f.inst->store, &ef, &ev, &err), WEFT_OK);
  for (size_t k = 0; k < ev.n; k++) ASSERT(strcmp(ev.v[k].type, "run_started") != 0);
  weft_event_list_release(&ev);
  /* Nor does it keep the lease it claimed on the way: a new run of the
   * same id would be anyone's. */
  struct weft_run_lease_list held = {0};
  char *me = weft_coordinator_id(); /* the loop's and its runs' owner */
  ASSERT(me != NULL);
  ASSERT_EQ(weft_store_lease_renew(f.inst->store, me, weft_clock_wall_ms(), 60000, &held, &err),
            WEFT_OK);
  free(me);
  ASSERT_EQ(held.n, 0);
  weft_run_lease_list_release(&held);
  weft_coord_loop_free(lp);
  free(id);
  fixture_close(&f);
  return 0;
}

/* Two coordinator services can read one inbox entry: the second opens the
 * run after the first has started it. It must leave the run alone: not
 * fail it (it did: "run X is started, not queued" over a running run,
 * tests/chaos seed 4242), not write a single event. */
TEST(a_run_another_coordinator_started_is_not_touched) {
  struct fixture f;
  ASSERT_EQ(fixture_open(&f, "ops:\n  s: seed\n", "execution: {in_process: {}}\n"), 0);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  char *id = NULL;
  struct ended e = {0};
  ASSERT_EQ(weft_run_create(f.inst, &l, &id, &err), WEFT_OK);
  struct weft_run_row r = {0};
  ASSERT_EQ(weft_store_run_get(f.inst->store, id, &r, &err), WEFT_OK);
  r.status = WEFT_RUN_STARTED;
  free(r.coordinator);
  r.coordinator = strdup("elsewhere:1:1");
  r.started_ms = weft_clock_wall_ms();
  ASSERT_EQ(weft_store_run_update(f.inst->store, &r, &err), WEFT_OK);
  weft_run_row_release(&r);
  struct weft_event_list ev = {0};
  struct weft_event_filter ef = {.run_id = id};
  ASSERT_EQ(weft_store_event_read(f.inst->store, &ef, &ev, &err), WEFT_OK);
  size_t before = ev.n;
  weft_event_list_release(&ev);
  struct weft_coord_loop *lp = NULL;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  ASSERT_EQ(weft_coord_loop_add(lp, id, &l, on_done, &e, &err), WEFT_ECONFLICT);
  ASSERT_EQ(e.n, 1); /* over at once */
  for (int i = 0; i < 10; i++) weft_coord_loop_tick(lp, 1);
  ASSERT_EQ(status_of(&f, id), WEFT_RUN_STARTED);
  ASSERT_EQ(weft_store_event_read(f.inst->store, &ef, &ev, &err), WEFT_OK);
  ASSERT_EQ(ev.n, before);
  weft_event_list_release(&ev);
  weft_coord_loop_free(lp);
  free(id);
  fixture_close(&f);
  return 0;
}

/* The leases of a tick's new runs are claimed together (one statement on
 * PostgreSQL): a run another coordinator started meanwhile, and one whose
 * lease another holds, are given up and left as they are; the others run
 * on as usual. */
TEST(runs_claimed_together_leave_the_ones_taken_elsewhere) {
  enum { N = 4 };
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("loop_seed", c_seed, NULL), WEFT_OK);
  ASSERT_EQ(fixture_open(&f, "ops:\n  s: seed\n", "execution: {in_process: {}}\n"), 0);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_coord_loop *lp = NULL;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  char *ids[N] = {0};
  struct ended e = {0};
  ASSERT_EQ(add_runs(&f, lp, &l, ids, N, &e), 0);
  /* After the loop opened them, before its first commit: run 1 started
   * by another coordinator, run 2's lease held by another. */
  struct weft_run_row r = {0};
  ASSERT_EQ(weft_store_run_get(f.inst->store, ids[1], &r, &err), WEFT_OK);
  r.status = WEFT_RUN_STARTED;
  free(r.coordinator);
  r.coordinator = strdup("elsewhere:1:1");
  ASSERT_EQ(weft_store_run_update(f.inst->store, &r, &err), WEFT_OK);
  weft_run_row_release(&r);
  ASSERT_EQ(weft_store_lease_claim(f.inst->store, ids[2], "other:2:2", NULL,
                                   weft_clock_wall_ms(), 600000, &err),
            WEFT_OK);
  size_t before[N];
  for (size_t i = 0; i < N; i++) before[i] = events_of(&f, ids[i], "run_queued") +
                                              events_of(&f, ids[i], "run_started");
  for (int t = 0; t < 20000 && weft_coord_loop_count(lp); t++) weft_coord_loop_tick(lp, 1);
  ASSERT_EQ(weft_coord_loop_count(lp), 0);
  ASSERT_EQ(e.n, N);
  ASSERT_EQ(status_of(&f, ids[0]), WEFT_RUN_SUCCESS);
  ASSERT_EQ(status_of(&f, ids[3]), WEFT_RUN_SUCCESS);
  ASSERT_EQ(status_of(&f, ids[1]), WEFT_RUN_STARTED);
  ASSERT_EQ(status_of(&f, ids[2]), WEFT_RUN_QUEUED);
  for (size_t i = 1; i < 3; i++) {
    ASSERT_EQ(events_of(&f, ids[i], "run_queued") + events_of(&f, ids[i], "run_started"),
              before[i]);
    ASSERT_EQ(events_of(&f, ids[i], "step_started"), 0);
  }
  struct weft_run_lease held = {0};
  ASSERT_EQ(weft_store_lease_get(f.inst->store, ids[1], &held, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_lease_get(f.inst->store, ids[2], &held, &err), WEFT_OK);
  ASSERT_STR_EQ(held.owner, "other:2:2");
  weft_run_lease_release(&held);
  weft_coord_loop_free(lp);
  for (size_t i = 0; i < N; i++) free(ids[i]);
  fixture_close(&f);
  return 0;
}

/* A C op that does not return holds one pool thread, not the loop: the
 * other runs (C ops too) go on and end meanwhile. */
TEST(a_slow_c_op_does_not_stop_the_other_runs) {
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("loop_seed", c_seed, NULL), WEFT_OK);
  ASSERT_EQ(weft_register_c_op("loop_gate", c_gate, NULL), WEFT_OK);
  ASSERT_EQ(fixture_open(&f, "ops:\n  g: gate\n", "execution: {in_process: {}}\n"), 0);
  /* The same location's other job: one C op that returns at once. */
  struct weft_location *loc2 = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(fx_write("loc2/ops/c.yaml", "seed: {c_function: loop_seed, outputs: {result: int}}\n"),
            0);
  ASSERT_EQ(fx_write("loc2/jobs/j.yaml", "ops:\n  s: seed\n"), 0);
  ASSERT_EQ(weft_location_load("loc2", "loc2", &loc2, &err), WEFT_OK);
  struct weft_run_config rc2;
  struct weft_diags d = WEFT_DIAGS_INIT;
  const char *inproc = "execution: {in_process: {}}\n";
  ASSERT_EQ(weft_run_config_build(&loc2->jobs[0], "run.yaml", inproc, strlen(inproc), NULL, 0,
                                  &rc2, &d),
            WEFT_OK);
  struct weft_coord_loop *lp = NULL;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  atomic_store(&gate_open, 0);
  atomic_store(&gate_entered, 0);
  struct weft_launch lg = {.job = &f.loc->jobs[0], .rc = &f.rc};
  struct weft_launch ls = {.job = &loc2->jobs[0], .rc = &rc2};
  char *gid = NULL, *ids[5] = {0};
  struct ended eg = {0}, es = {0};
  ASSERT_EQ(add_runs(&f, lp, &lg, &gid, 1, &eg), 0);
  ASSERT_EQ(add_runs(&f, lp, &ls, ids, 5, &es), 0);
  for (int i = 0; i < 2000 && es.n < 5; i++) weft_coord_loop_tick(lp, 2);
  ASSERT_EQ(es.n, 5);
  ASSERT_EQ(atomic_load(&gate_entered), 1);
  ASSERT_EQ(weft_coord_loop_count(lp), 1);
  ASSERT_EQ(status_of(&f, gid), WEFT_RUN_STARTED);
  for (size_t i = 0; i < 5; i++) ASSERT_EQ(status_of(&f, ids[i]), WEFT_RUN_SUCCESS);
  atomic_store(&gate_open, 1);
  for (int i = 0; i < 2000 && weft_coord_loop_count(lp); i++) weft_coord_loop_tick(lp, 2);
  ASSERT_EQ(eg.n, 1);
  ASSERT_EQ(status_of(&f, gid), WEFT_RUN_SUCCESS);
  weft_coord_loop_free(lp);
  free(gid);
  for (size_t i = 0; i < 5; i++) free(ids[i]);
  weft_run_config_release(&rc2);
  weft_location_free(loc2);
  fixture_close(&f);
  return 0;
}

/* A C op cannot be killed: canceled (or past its timeout) while it runs,
 * its step is reported at once and the run ends; the function runs on to
 * its end on its thread, unheard. */
TEST(a_running_c_op_is_canceled_or_timed_out_at_once) {
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("loop_gate", c_gate, NULL), WEFT_OK);
  ASSERT_EQ(fixture_open(&f, "ops:\n  t: gate_short\n", "execution: {in_process: {}}\n"), 0);
  struct weft_coord_loop *lp = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  atomic_store(&gate_open, 0);
  atomic_store(&gate_entered, 0);
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  /* Past its 200 ms timeout: failed, though the function still runs. */
  char *a = NULL, *b = NULL;
  struct ended ea = {0}, eb = {0};
  ASSERT_EQ(add_runs(&f, lp, &l, &a, 1, &ea), 0);
  int64_t t0 = weft_clock_mono_ms();
  for (int i = 0; i < 2000 && weft_coord_loop_count(lp); i++) weft_coord_loop_tick(lp, 5);
  ASSERT_EQ(ea.n, 1);
  ASSERT(weft_clock_mono_ms() - t0 >= 200);
  ASSERT_EQ(status_of(&f, a), WEFT_RUN_FAILURE);
  ASSERT_EQ(atomic_load(&gate_entered), 1);
  /* Canceled while it runs (before its timeout): canceled at once. */
  ASSERT_EQ(add_runs(&f, lp, &l, &b, 1, &eb), 0);
  for (int i = 0; i < 2000 && atomic_load(&gate_entered) < 2; i++) weft_coord_loop_tick(lp, 2);
  ASSERT_EQ(atomic_load(&gate_entered), 2);
  ASSERT_EQ(weft_coord_loop_cancel(lp, b, "stop it"), WEFT_OK);
  for (int i = 0; i < 50 && weft_coord_loop_count(lp); i++) weft_coord_loop_tick(lp, 2);
  ASSERT_EQ(eb.n, 1);
  ASSERT_EQ(status_of(&f, b), WEFT_RUN_CANCELED);
  /* The functions are still held; freeing the loop waits for them. */
  atomic_store(&gate_open, 1);
  weft_coord_loop_free(lp);
  free(a);
  free(b);
  fixture_close(&f);
  return 0;
}

/* Runs waiting on a process are not turned while nothing is due; every
 * lease of the loop is renewed by one statement per renewal, whatever the
 * number of runs. */
TEST(idle_runs_are_not_turned_and_leases_renew_once_per_tick) {
  enum { N = 20 };
  struct fixture f;
  setenv("WEFT_RUN_LEASE_MS", "300", 1); /* renewed every 100 ms */
  ASSERT_EQ(fixture_open(&f, "ops:\n  a: nap\n", NULL), 0);
  struct weft_coord_loop *lp = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_coord_loop_new(f.inst, &lp, &err), WEFT_OK);
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  char *ids[N] = {0};
  struct ended e = {0};
  ASSERT_EQ(add_runs(&f, lp, &l, ids, N, &e), 0);
  for (int i = 0; i < 10; i++) weft_coord_loop_tick(lp, 5);
  for (size_t i = 0; i < N; i++) ASSERT_EQ(status_of(&f, ids[i]), WEFT_RUN_STARTED);
  uint64_t turns = weft_coord_loop_turns(lp), renewals = weft_coord_loop_lease_renewals(lp);
  uint64_t commits = weft_coord_loop_commits(lp);
  int64_t t0 = weft_clock_mono_ms();
  for (int i = 0; i < 100; i++) weft_coord_loop_tick(lp, 5); /* >= 500 ms */
  int64_t ms = weft_clock_mono_ms() - t0;
  /* Idle: a few turns at most (nothing is due for a run sleeping 30 s). */
  ASSERT(weft_coord_loop_turns(lp) - turns < N);
  /* A 300 ms lease is renewed every 100 ms, one statement for all runs,
   * in one of the loop's commits (not one per run). */
  uint64_t r = weft_coord_loop_lease_renewals(lp) - renewals;
  ASSERT(r >= 2 && r <= (uint64_t)(ms / 100 + 1));
  ASSERT(weft_coord_loop_commits(lp) - commits <= r + 2);
  /* Still held by this coordinator, each of them. */
  for (size_t i = 0; i < N; i++) {
    struct weft_run_lease lease = {0};
    ASSERT_EQ(weft_store_lease_get(f.inst->store, ids[i], &lease, &err), WEFT_OK);
    ASSERT(lease.expires_ms > weft_clock_wall_ms());
    weft_run_lease_release(&lease);
  }
  weft_coord_loop_free(lp);
  ASSERT_EQ(e.n, N);
  /* Ended: their leases are gone. */
  struct weft_run_lease lease = {0};
  ASSERT_EQ(weft_store_lease_get(f.inst->store, ids[0], &lease, &err), WEFT_ENOTFOUND);
  for (size_t i = 0; i < N; i++) free(ids[i]);
  unsetenv("WEFT_RUN_LEASE_MS");
  fixture_close(&f);
  return 0;
}

TEST_MAIN(TEST_ENTRY(many_runs_advance_with_one_commit_per_tick)
              TEST_ENTRY(a_run_another_coordinator_started_is_not_touched)
              TEST_ENTRY(runs_claimed_together_leave_the_ones_taken_elsewhere)
              TEST_ENTRY(a_tick_of_many_runs_commits_in_chunks)
                  TEST_ENTRY(cancel_reaches_one_run_on_the_loops_clock)
                  TEST_ENTRY(a_cancel_before_a_shared_commit_is_not_overwritten)
                      TEST_ENTRY(a_step_timeout_fails_its_run_only)
                          TEST_ENTRY(a_run_that_cannot_start_is_over_at_once)
                              TEST_ENTRY(a_run_another_coordinator_ran_meanwhile_is_left_alone)
                                  TEST_ENTRY(a_process_step_after_a_c_op_wakes_its_run)
                              TEST_ENTRY(a_slow_c_op_does_not_stop_the_other_runs)
                                  TEST_ENTRY(a_running_c_op_is_canceled_or_timed_out_at_once)
                                      TEST_ENTRY(idle_runs_are_not_turned_and_leases_renew_once_per_tick))
