/* loop_bench.c: bench/runs' timer of the coordinator loop itself
 * (engine/coord_loop.h), no HTTP and no launcher processes:
 *   loop_bench throughput N c|proc [INFLIGHT]  N one-step runs created, then
 *       driven by one loop keeping INFLIGHT (default 64) at once: runs/min,
 *       commits, CPU ms per run
 *   loop_bench inflight N   N runs in flight at once (their step waits for
 *       a retry in 10 minutes): the loop's RSS, bytes per run
 *   loop_bench bigrun STEPS  one run of STEPS independent C-op steps,
 *       planned and driven alone: bytes per step, us per step
 * It works in the current folder (a location in ./loc, the instance in
 * ./home); C-op steps are the registered no-op `noop`. One line of
 * key=value figures on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "engine/code_snapshot.h"
#include "engine/coord_loop.h"
#include "engine/engine.h"
#include "util/clock.h"
#include "util/malloc_tune.h"

static int noop(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)ctx;
  (void)userdata;
  (void)err;
  return 0;
}

static int fail_op(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)ctx;
  (void)userdata;
  return weft_error_set(err, WEFT_EINVALID, "fails, to wait for its retry");
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return kb;
}

static double cpu_ms(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

struct setup {
  struct weft_location *loc;
  struct weft_instance *inst;
  struct weft_run_config rc;
  const struct weft_job *job;
};

static int setup(struct setup *s, const char *job_yaml, const char *job, const char *rc_text) {
  weft_error err = WEFT_ERROR_INIT;
  struct weft_diags d = WEFT_DIAGS_INIT;
  mkdir("loc", 0755);
  mkdir("loc/ops", 0755);
  mkdir("loc/jobs", 0755);
  if (write_file("loc/ops/o.yaml",
                 "noop: {c_function: noop}\n"
                 "waits: {c_function: fail_op, retries: {max: 1, delay: 10m}}\n"
                 "proc: {run: \"true\"}\n") ||
      write_file("loc/jobs/j.yaml", job_yaml))
    return -1;
  if (weft_location_load("loc", "loc", &s->loc, &err) || s->loc->diags.n) {
    if (s->loc) weft_diags_print(&s->loc->diags, stderr);
    fprintf(stderr, "%s\n", err.msg);
    return -1;
  }
  s->job = weft_location_find_job(s->loc, job);
  if (!s->job ||
      weft_run_config_build(s->job, "run.yaml", rc_text, rc_text ? strlen(rc_text) : 0, NULL, 0,
                            &s->rc, &d)) {
    weft_diags_print(&d, stderr);
    return -1;
  }
  if (weft_instance_open("home", &s->inst, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return -1;
  }
  return 0;
}

/* The job as the runs' code snapshot holds it, loaded once, as `weft
 * coordinator` does (coord_service.c): else each run would load its
 * location again (weft_run_code_prepare). */
static int snapshot_job(struct setup *s, const char *run_id, struct weft_launch *l) {
  struct weft_run_row row = {0};
  struct weft_location *loc = NULL;
  const struct weft_job *job = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_run_get(s->inst->store, run_id, &row, &err) ||
      weft_code_load_run_job(s->inst, &row, 0, &loc, &job, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return -1;
  }
  weft_run_row_release(&row);
  l->job = job; /* loc lives as long as the process */
  return 0;
}

static void on_done(void *data, const char *run_id, enum weft_run_status final, int rc,
                    const char *msg) {
  (void)run_id;
  (void)msg;
  size_t *ok = data;
  if (!rc && final == WEFT_RUN_SUCCESS) (*ok)++;
}

static int throughput(int n, int proc, int inflight) {
  struct setup s;
  weft_error err = WEFT_ERROR_INIT;
  if (setup(&s, proc ? "name: one\nops:\n  x: proc\n" : "name: one\nops:\n  x: noop\n", "one",
            proc ? NULL : "execution: {in_process: {}}\n"))
    return 1;
  struct weft_launch l = {.job = s.job, .rc = &s.rc};
  char **ids = calloc((size_t)n, sizeof *ids);
  double t0 = weft_clock_mono_s(), c0 = cpu_ms();
  for (int i = 0; i < n; i++)
    if (weft_run_create(s.inst, &l, &ids[i], &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
  if (snapshot_job(&s, ids[0], &l)) return 1;
  double t1 = weft_clock_mono_s(), c1 = cpu_ms();
  struct weft_coord_loop *lp;
  if (weft_coord_loop_new(s.inst, &lp, &err)) return 1;
  size_t ok = 0, ticks = 0;
  int next = 0;
  while (next < n || weft_coord_loop_count(lp)) {
    while (next < n && weft_coord_loop_count(lp) < (size_t)inflight)
      weft_coord_loop_add(lp, ids[next++], &l, on_done, &ok, &err);
    weft_coord_loop_tick(lp, 1);
    ticks++;
  }
  double t2 = weft_clock_mono_s(), c2 = cpu_ms();
  printf("kind=%s runs=%d ok=%zu create_s=%.2f drive_s=%.2f runs_per_min=%.0f "
         "runs_per_min_with_create=%.0f ticks=%zu commits=%llu cpu_ms_per_run=%.3f "
         "create_cpu_ms_per_run=%.3f\n",
         proc ? "proc" : "c", n, ok, t1 - t0, t2 - t1, n / (t2 - t1) * 60, n / (t2 - t0) * 60,
         ticks, (unsigned long long)weft_coord_loop_commits(lp), (c2 - c1) / n, (c1 - c0) / n);
  weft_coord_loop_free(lp);
  for (int i = 0; i < n; i++) free(ids[i]);
  free(ids);
  return ok == (size_t)n ? 0 : 1;
}

static int inflight(int n) {
  struct setup s;
  weft_error err = WEFT_ERROR_INIT;
  if (setup(&s, "name: wait\nops:\n  x: waits\n", "wait", "execution: {in_process: {}}\n"))
    return 1;
  struct weft_launch l = {.job = s.job, .rc = &s.rc};
  char **ids = calloc((size_t)n, sizeof *ids);
  for (int i = 0; i < n; i++)
    if (weft_run_create(s.inst, &l, &ids[i], &err)) return 1;
  if (snapshot_job(&s, ids[0], &l)) return 1;
  struct weft_coord_loop *lp;
  if (weft_coord_loop_new(s.inst, &lp, &err)) return 1;
  size_t ok = 0;
  long before = rss_kb();
  double c0 = cpu_ms(), t0 = weft_clock_mono_s();
  for (int i = 0; i < n; i++) weft_coord_loop_add(lp, ids[i], &l, on_done, &ok, &err);
  /* Until every run waits for its retry (nothing turned in a tick). */
  uint64_t turns = weft_coord_loop_turns(lp);
  for (int i = 0; i < 1000; i++) {
    weft_coord_loop_tick(lp, 0);
    if (weft_coord_loop_turns(lp) == turns) break;
    turns = weft_coord_loop_turns(lp);
  }
  double t1 = weft_clock_mono_s(), c1 = cpu_ms();
  /* Idle ticks over every run in flight: what the loop costs per tick
   * (runs turned then: those with something due). */
  uint64_t renewals = weft_coord_loop_lease_renewals(lp);
  for (int i = 0; i < 5; i++) weft_coord_loop_tick(lp, 0);
  double t2 = weft_clock_mono_s();
  long after = rss_kb();
  printf("runs_in_flight=%zu rss_before_kb=%ld rss_kb=%ld bytes_per_run=%.0f start_s=%.2f "
         "start_cpu_ms_per_run=%.3f idle_tick_ms=%.2f idle_turns=%llu lease_renewals=%llu\n",
         weft_coord_loop_count(lp), before, after, (after - before) * 1024.0 / n, t1 - t0,
         (c1 - c0) / n, (t2 - t1) * 1e3 / 5,
         (unsigned long long)(weft_coord_loop_turns(lp) - turns),
         (unsigned long long)(weft_coord_loop_lease_renewals(lp) - renewals));
  weft_coord_loop_free(lp);
  return 0;
}

static int bigrun(int steps) {
  struct setup s;
  weft_error err = WEFT_ERROR_INIT;
  size_t cap = (size_t)steps * 24 + 64;
  char *yaml = malloc(cap), *p = yaml;
  p += sprintf(p, "name: big\nops:\n");
  for (int i = 0; i < steps; i++) p += sprintf(p, "  s%06d: noop\n", i);
  long r0 = rss_kb();
  double t0 = weft_clock_mono_s();
  if (setup(&s, yaml, "big", "execution: {in_process: {}}\n")) return 1;
  free(yaml);
  long r1 = rss_kb();
  double t1 = weft_clock_mono_s(), c1 = cpu_ms();
  struct weft_launch l = {.job = s.job, .rc = &s.rc};
  char *id = NULL;
  enum weft_run_status final;
  if (weft_run_create(s.inst, &l, &id, &err)) return 1;
  /* Planned and driven alone (weft_run_execute: a group commit every
   * 50 ms); the peak RSS of the process covers the plan and the drive. */
  int rc = weft_run_execute(s.inst, id, &l, &final, &err);
  double t2 = weft_clock_mono_s(), c2 = cpu_ms();
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  printf("steps=%d status=%s load_s=%.2f load_kb=%ld drive_s=%.2f us_per_step=%.1f "
         "cpu_us_per_step=%.1f peak_rss_kb=%ld peak_bytes_per_step=%.0f\n",
         steps, weft_run_status_name(final), t1 - t0, r1 - r0, t2 - t1, (t2 - t1) * 1e6 / steps,
         (c2 - c1) * 1e3 / steps, u.ru_maxrss, (u.ru_maxrss - r0) * 1024.0 / steps);
  return rc || final != WEFT_RUN_SUCCESS;
}

int main(int argc, char **argv) {
  weft_malloc_tune(); /* as weft_main: the loop as weft runs it */
  if (argc < 3) {
    fprintf(stderr, "usage: loop_bench throughput N c|proc [INFLIGHT] | inflight N | bigrun STEPS\n");
    return 2;
  }
  if (weft_register_c_op("noop", noop, NULL) || weft_register_c_op("fail_op", fail_op, NULL))
    return 2;
  int n = atoi(argv[2]);
  if (!strcmp(argv[1], "throughput"))
    return throughput(n, argc > 3 && !strcmp(argv[3], "proc"), argc > 4 ? atoi(argv[4]) : 64);
  if (!strcmp(argv[1], "inflight")) return inflight(n);
  if (!strcmp(argv[1], "bigrun")) return bigrun(n);
  return 2;
}
