/* test_engine_run.c: the run coordinator through the embedding API: C ops
 * in process, cancellation, store failures and the sweep of orphaned runs. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine.h"
#include "test.h"
#include "test_dsl_fixture.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/clock.h"

/* ---- a scratch location and instance ------------------------------------- */

static int c_double(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  const char *in = weft_op_ctx_input_json(ctx, "n");
  long n = in ? strtol(in, NULL, 10) : 0;
  if (n < 0) return weft_error_set(err, WEFT_EINVALID, "n must not be negative, got %ld", n);
  char out[32];
  snprintf(out, sizeof out, "%ld", n * 2);
  weft_op_ctx_log(ctx, "info", "doubled");
  return weft_op_ctx_set_output(ctx, "result", out);
}

static int c_seed(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  (void)err;
  const char *cfg = weft_op_ctx_config_json(ctx);
  const char *p = cfg ? strstr(cfg, "\"start\":") : NULL;
  char out[32];
  snprintf(out, sizeof out, "%ld", p ? strtol(p + 8, NULL, 10) : 1);
  return weft_op_ctx_set_output(ctx, "result", out);
}

/* Declares no outputs and sets none: its lone `result` stays unwritten. */
static int c_quiet(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)ctx;
  (void)userdata;
  (void)err;
  return 0;
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
               "seed: {c_function: test_seed, config: {start: {type: int, default: 1}},"
               " outputs: {result: int}}\n"
               "double: {c_function: test_double, inputs: {n: int}, outputs: {result: int}}\n"
               "nap: {run: sleep 30}\n"
               "quiet: {c_function: test_quiet}\n"
               "shh: {run: 'true'}\n"
               "echo_n: {inputs: {n: int}, outputs: {result: int},"
               " run: 'cat \"$WEFT_INPUTS/n\" > \"$WEFT_OUTPUTS/result\"'}\n") ||
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

static char *read_artifact(struct fixture *f, const char *run, const char *key_tail) {
  struct weft_buf path = WEFT_BUF_INIT, text = WEFT_BUF_INIT;
  weft_error err = WEFT_ERROR_INIT;
  weft_buf_addf(&path, "%s/artifacts/%s/%s", f->inst->home, run, key_tail);
  int rc = weft_fs_read_file(path.ptr, &text, &err);
  weft_buf_release(&path);
  if (rc) {
    weft_buf_release(&text);
    return NULL;
  }
  while (text.len && text.ptr[text.len - 1] == '\n') text.ptr[--text.len] = '\0';
  return weft_buf_detach(&text, NULL);
}

/* Creates a run of the fixture's job and executes it to its end. */
static int run_job(struct fixture *f, char **id, enum weft_run_status *st) {
  weft_error err = WEFT_ERROR_INIT;
  struct weft_launch l = {.job = &f->loc->jobs[0], .rc = &f->rc};
  int rc = weft_run_create(f->inst, &l, id, &err);
  if (!rc) rc = weft_run_execute(f->inst, *id, &l, st, &err);
  if (rc) fprintf(stderr, "# %s\n", err.msg);
  return rc;
}

/* Prints the run's events, to see why an assertion on it failed. */
static void dump_events(struct fixture *f, const char *run) {
  struct weft_event_filter ef = {0};
  struct weft_event_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  ef.run_id = run;
  if (weft_store_event_read(f->inst->store, &ef, &l, &err)) return;
  for (size_t i = 0; i < l.n; i++)
    fprintf(stderr, "#   %s %s %s\n", l.v[i].step ? l.v[i].step : "-", l.v[i].type, l.v[i].payload);
  weft_event_list_release(&l);
}

static int count_events(struct fixture *f, const char *run, const char *type) {
  struct weft_event_filter ef = {0};
  struct weft_event_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  ef.run_id = run;
  if (weft_store_event_read(f->inst->store, &ef, &l, &err)) return -1;
  int n = 0;
  for (size_t i = 0; i < l.n; i++) n += !strcmp(l.v[i].type, type);
  weft_event_list_release(&l);
  return n;
}

/* ---- tests ------------------------------------------------------------------ */

TEST(c_ops_run_in_process) {
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("test_seed", c_seed, NULL), WEFT_OK);
  ASSERT_EQ(weft_register_c_op("test_double", c_double, NULL), WEFT_OK);
  ASSERT_EQ(fixture_open(&f,
                         "ops:\n  s: seed\n  d1: {uses: double, inputs: {n: s}}\n"
                         "  d2: {uses: double, inputs: {n: d1}}\n"
                         "  shell: {uses: echo_n, inputs: {n: d2}}\n",
                         "ops: {s: {config: {start: 5}}}\nexecution: {in_process: {}}\n"),
            0);
  char *id = NULL;
  weft_error err = WEFT_ERROR_INIT;
  enum weft_run_status st;
  ASSERT_EQ(run_job(&f, &id, &st), WEFT_OK);
  if (st != WEFT_RUN_SUCCESS) dump_events(&f, id);
  ASSERT_EQ(st, WEFT_RUN_SUCCESS);
  char *v = read_artifact(&f, id, "d2/result");
  ASSERT_STR_EQ(v, "20"); /* 5 -> 10 -> 20 */
  free(v);
  /* A process op downstream of C ops reads their persisted outputs. */
  v = read_artifact(&f, id, "shell/result");
  ASSERT_STR_EQ(v, "20");
  free(v);
  /* C ops store their outputs from a scratch file, removed after: the
   * first, which has no inputs either, has no attempt folder, and no file
   * is left in the runs folder. */
  char *s_dir = weft_str_printf("%s/%s/s", f.inst->runs_dir, id);
  ASSERT(s_dir && !weft_fs_exists(s_dir));
  free(s_dir);
  /* The C ops downstream take their JSON inputs in memory (the upstream's
   * value, inline in its record): no inputs folder, no attempt folder. */
  for (const char *const *name = (const char *const[]){"d1", "d2", NULL}; *name; name++) {
    char *d = weft_str_printf("%s/%s/%s", f.inst->runs_dir, id, *name);
    ASSERT(d && !weft_fs_exists(d));
    free(d);
  }
  DIR *runs = opendir(f.inst->runs_dir);
  ASSERT(runs);
  int scratch_left = 0;
  for (struct dirent *de; (de = readdir(runs));) scratch_left += !strncmp(de->d_name, ".c-output", 9);
  closedir(runs);
  ASSERT_EQ(scratch_left, 0);
  ASSERT_EQ(count_events(&f, id, "log"), 2);
  ASSERT_EQ(count_events(&f, id, "step_succeeded"), 4);
  ASSERT_EQ(count_events(&f, id, "run_success"), 1);
  struct weft_run_row r = {0};
  ASSERT_EQ(weft_store_run_get(f.inst->store, id, &r, &err), WEFT_OK);
  ASSERT(r.ended_ms >= r.started_ms && r.started_ms >= r.created_ms);
  weft_run_row_release(&r);
  free(id);
  fixture_close(&f);
  return 0;
}

/* The payload of step's first event of type, or NULL (caller frees). */
static char *event_payload(struct fixture *f, const char *run, const char *step,
                           const char *type) {
  struct weft_event_filter ef = {0};
  struct weft_event_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  ef.run_id = run;
  if (weft_store_event_read(f->inst->store, &ef, &l, &err)) return NULL;
  char *p = NULL;
  for (size_t i = 0; !p && i < l.n; i++)
    if (l.v[i].step && !strcmp(l.v[i].step, step) && !strcmp(l.v[i].type, type))
      p = weft_str_dup(l.v[i].payload);
  weft_event_list_release(&l);
  return p;
}

/* A C op that leaves its lone implicit `result` unwritten ends like a
 * process op that does: the value null, no artifact (exec.h), and no
 * folder or file made for it. The C op's used to be stored as an artifact
 * holding null: two folders and a file a run. */
TEST(unwritten_result_of_a_c_op_is_null_with_no_artifact) {
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("test_quiet", c_quiet, NULL), WEFT_OK);
  ASSERT_EQ(fixture_open(&f, "ops:\n  q: quiet\n  p: shh\n",
                         "execution: {in_process: {}}\n"),
            0);
  char *id = NULL;
  enum weft_run_status st;
  ASSERT_EQ(run_job(&f, &id, &st), WEFT_OK);
  if (st != WEFT_RUN_SUCCESS) dump_events(&f, id);
  ASSERT_EQ(st, WEFT_RUN_SUCCESS);
  for (const char *const *step = (const char *const[]){"q", "p", NULL}; *step; step++) {
    char *out = event_payload(&f, id, *step, "step_output");
    ASSERT(out);
    json_t *o = json_loads(out, 0, NULL);
    ASSERT(o);
    ASSERT(json_is_null(json_object_get(o, "key")));
    ASSERT(json_is_null(json_object_get(o, "value")));
    ASSERT_EQ(json_integer_value(json_object_get(o, "bytes")), 0);
    json_decref(o);
    free(out);
  }
  char *art = weft_str_printf("%s/artifacts/%s", f.inst->home, id);
  ASSERT(art && !weft_fs_exists(art));
  free(art);
  free(id);
  fixture_close(&f);
  return 0;
}

TEST(c_op_error_message_fails_the_step) {
  struct fixture f;
  ASSERT_EQ(weft_register_c_op("test_seed", c_seed, NULL), WEFT_OK);
  ASSERT_EQ(weft_register_c_op("test_double", c_double, NULL), WEFT_OK);
  ASSERT_EQ(fixture_open(&f, "ops:\n  s: seed\n  d: {uses: double, inputs: {n: s}}\n",
                         "ops: {s: {config: {start: -3}}}\nexecution: {in_process: {}}\n"),
            0);
  char *id = NULL;
  weft_error err = WEFT_ERROR_INIT;
  enum weft_run_status st;
  ASSERT_EQ(run_job(&f, &id, &st), WEFT_OK);
  if (st != WEFT_RUN_FAILURE) dump_events(&f, id);
  ASSERT_EQ(st, WEFT_RUN_FAILURE);
  struct weft_step_list steps = {0};
  ASSERT_EQ(weft_store_step_list(f.inst->store, id, &steps, &err), WEFT_OK);
  int seen = 0;
  for (size_t i = 0; i < steps.n; i++)
    if (!strcmp(steps.v[i].step, "d")) {
      ASSERT_EQ(steps.v[i].status, WEFT_STEP_FAILED);
      ASSERT_CONTAINS(steps.v[i].message, "n must not be negative, got -3");
      seen = 1;
    }
  ASSERT(seen);
  weft_step_list_release(&steps);
  free(id);
  fixture_close(&f);
  return 0;
}

/* The interrupt flag cancels: the sleeping step's process group is killed
 * and the pending one never starts. */
static volatile sig_atomic_t stop_flag;
static void stop_on_start(void *data, const struct weft_event_row *ev) {
  (void)data;
  if (!strcmp(ev->type, "step_started")) stop_flag = 1;
}

TEST(interrupt_cancels_the_run) {
  struct fixture f;
  ASSERT_EQ(fixture_open(&f, "ops:\n  a: nap\n  b: {uses: nap, after: [a]}\n", NULL), 0);
  char *id = NULL;
  weft_error err = WEFT_ERROR_INIT;
  stop_flag = 0;
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc, .on_event = stop_on_start,
                          .interrupt = &stop_flag};
  ASSERT_EQ(weft_run_create(f.inst, &l, &id, &err), WEFT_OK);
  int64_t t0 = weft_clock_mono_ms();
  enum weft_run_status st;
  ASSERT_EQ(weft_run_execute(f.inst, id, &l, &st, &err), WEFT_OK);
  ASSERT_EQ(st, WEFT_RUN_CANCELED);
  ASSERT(weft_clock_mono_ms() - t0 < 10000); /* SIGTERM, not the 30 s sleep */
  struct weft_step_list steps = {0};
  ASSERT_EQ(weft_store_step_list(f.inst->store, id, &steps, &err), WEFT_OK);
  ASSERT_EQ(steps.n, 2);
  for (size_t i = 0; i < steps.n; i++) ASSERT_EQ(steps.v[i].status, WEFT_STEP_CANCELED);
  /* The step's pid was recorded while it ran; its group is gone now. */
  weft_step_list_release(&steps);
  ASSERT_EQ(count_events(&f, id, "run_canceled"), 1);
  free(id);
  fixture_close(&f);
  return 0;
}

/* A store that fails mid-run: execute reports it and the run does not stay
 * "started" (the final write is retried once the fault has passed). */
TEST(store_failure_fails_the_run) {
  struct fixture f;
  ASSERT_EQ(fixture_open(&f, "ops:\n  a: {uses: echo_n}\n  b: {uses: echo_n, inputs: {n: a}}\n",
                         "ops: {a: {inputs: {n: 4}}}\n"),
            0);
  char *id = NULL;
  weft_error err = WEFT_ERROR_INIT;
  struct weft_launch l = {.job = &f.loc->jobs[0], .rc = &f.rc};
  ASSERT_EQ(weft_run_create(f.inst, &l, &id, &err), WEFT_OK);
  weft_store_fault_inject(6, WEFT_EIO);
  enum weft_run_status st;
  int rc = weft_run_execute(f.inst, id, &l, &st, &err);
  weft_store_fault_inject(0, 0);
  ASSERT_EQ(rc, WEFT_EIO);
  ASSERT_CONTAINS(err.msg, "injected store fault");
  struct weft_run_row r = {0};
  ASSERT_EQ(weft_store_run_get(f.inst->store, id, &r, &err), WEFT_OK);
  ASSERT_EQ(r.status, WEFT_RUN_FAILURE);
  ASSERT_CONTAINS(r.message, "run storage failed");
  weft_run_row_release(&r);
  free(id);
  fixture_close(&f);
  return 0;
}

/* A run whose coordinator is dead is failed by the next open, and the
 * process group of its running step is killed. */
/* Creates run id in status st, claimed by a coordinator that has exited
 * (and been reaped): coord (n bytes) gets its id, naming a dead pid. */
static int create_run_of_dead_coordinator(struct fixture *f, const char *id,
                                          enum weft_run_status st, char *coord, size_t n) {
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  if (dead < 0) return -1;
  waitpid(dead, NULL, 0);
  char host[100];
  gethostname(host, sizeof host);
  snprintf(coord, n, "%s:%ld:12345", host, (long)dead);
  struct weft_run_row r = {0};
  weft_error err = WEFT_ERROR_INIT;
  r.id = (char *)id;
  r.job = "j";
  r.location = "loc";
  r.status = st;
  r.tags = "{}";
  r.root_run_id = r.id;
  r.created_ms = r.heartbeat_ms = weft_clock_wall_ms();
  if (st != WEFT_RUN_QUEUED) r.started_ms = r.created_ms;
  r.coordinator = coord;
  return weft_store_run_create(f->inst->store, &r, &err) ? -1 : 0;
}

TEST(sweep_kills_orphaned_steps) {
  struct fixture f;
  ASSERT_EQ(fixture_open(&f, "ops:\n  a: nap\n", NULL), 0);
  weft_error err = WEFT_ERROR_INIT;
  /* An orphaned step: its own process group, sleeping. */
  pid_t step = fork();
  if (step == 0) {
    setpgid(0, 0);
    execlp("sleep", "sleep", "30", (char *)NULL);
    _exit(127);
  }
  ASSERT(step > 0);
  setpgid(step, step);
  char coord[128];
  const char *id = "0rphan0rphan0";
  ASSERT_EQ(create_run_of_dead_coordinator(&f, id, WEFT_RUN_STARTED, coord, sizeof coord), 0);
  struct weft_step_row s = {0};
  s.run_id = (char *)id;
  s.step = "a";
  s.attempt = 1;
  s.status = WEFT_STEP_RUNNING;
  s.pid = (int)step;
  s.started_ms = weft_clock_wall_ms();
  ASSERT_EQ(weft_store_step_put(f.inst->store, &s, &err), WEFT_OK);
  ASSERT_EQ(weft_coordinator_alive(coord), 0);

  size_t swept = 0;
  ASSERT_EQ(weft_instance_sweep_orphans(f.inst, &swept, &err), WEFT_OK);
  ASSERT_EQ(swept, 1);
  int status = 0;
  ASSERT_EQ(waitpid(step, &status, 0), step);
  ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  struct weft_run_row got = {0};
  ASSERT_EQ(weft_store_run_get(f.inst->store, id, &got, &err), WEFT_OK);
  ASSERT_EQ(got.status, WEFT_RUN_FAILURE);
  ASSERT_CONTAINS(got.message, "orphaned: its coordinator");
  weft_run_row_release(&got);
  ASSERT_EQ(count_events(&f, id, "run_failure"), 1);
  /* A second sweep finds nothing; our own live id is never an orphan. */
  ASSERT_EQ(weft_instance_sweep_orphans(f.inst, &swept, &err), WEFT_OK);
  ASSERT_EQ(swept, 0);
  char *me = weft_coordinator_id();
  ASSERT_EQ(weft_coordinator_alive(me), 1);
  ASSERT_EQ(weft_coordinator_alive("elsewhere:1:1"), -1);
  free(me);
  fixture_close(&f);
  return 0;
}

/* A queued run whose launcher died before handing it over (killed
 * mid-launch) never started: the sweep puts it back in the run queue,
 * unowned, for a dequeuer to start; it does not fail it. */
TEST(sweep_requeues_a_run_whose_launcher_died) {
  struct fixture f;
  ASSERT_EQ(fixture_open(&f, "ops:\n  a: nap\n", NULL), 0);
  weft_error err = WEFT_ERROR_INIT;
  char coord[128];
  const char *id = "qu3u3dqu3u3d0";
  ASSERT_EQ(create_run_of_dead_coordinator(&f, id, WEFT_RUN_QUEUED, coord, sizeof coord), 0);
  size_t swept = 0;
  ASSERT_EQ(weft_instance_sweep_orphans(f.inst, &swept, &err), WEFT_OK);
  ASSERT_EQ(swept, 1);
  struct weft_run_row got = {0};
  ASSERT_EQ(weft_store_run_get(f.inst->store, id, &got, &err), WEFT_OK);
  ASSERT_EQ(got.status, WEFT_RUN_QUEUED);
  ASSERT(got.coordinator == NULL);
  weft_run_row_release(&got);
  ASSERT_EQ(count_events(&f, id, "run_failure"), 0);
  /* Unowned, it is nobody's orphan: the next sweep leaves it alone, and
   * no lease of the sweep's is left behind for its coordinator to meet. */
  ASSERT_EQ(weft_instance_sweep_orphans(f.inst, &swept, &err), WEFT_OK);
  ASSERT_EQ(swept, 0);
  struct weft_run_lease lease = {0};
  ASSERT_EQ(weft_store_lease_get(f.inst->store, id, &lease, &err), WEFT_ENOTFOUND);
  fixture_close(&f);
  return 0;
}

TEST_MAIN(TEST_ENTRY(c_ops_run_in_process)
              TEST_ENTRY(unwritten_result_of_a_c_op_is_null_with_no_artifact)
              TEST_ENTRY(c_op_error_message_fails_the_step)
              TEST_ENTRY(interrupt_cancels_the_run) TEST_ENTRY(store_failure_fails_the_run)
                  TEST_ENTRY(sweep_kills_orphaned_steps)
                      TEST_ENTRY(sweep_requeues_a_run_whose_launcher_died))
