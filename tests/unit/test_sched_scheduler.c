/* test_sched_scheduler.c: the scheduler with a fake clock: due ticks, catch-up
 * policies, on/off, exactly-once with two schedulers on one store (SQLite, and
 * PostgreSQL when WEFT_TEST_PG_URL is set), templates, and every sensor kind. */
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "engine/code_version.h"
#include "util/clock.h"
#include "sched/sched.h"
#include "sched/sched_int.h"
#include "test.h"
#include "test_dsl_fixture.h"
#include "util/str.h"
#include "util/tz.h"

static int64_t fake_now_ms;
static int64_t fake_now(void *data) {
  (void)data;
  return __atomic_load_n(&fake_now_ms, __ATOMIC_SEQ_CST);
}
static const struct weft_sched_clock fake_clock = {fake_now, NULL};

static int64_t at(int y, int m, int d, int h, int mi, int s) {
  return (weft_tz_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s) * 1000;
}

/* A unique suffix, so a shared PostgreSQL database never sees old keys. */
static char uniq[16];

/* s with every "SFX" replaced by the unique suffix; caller frees. */
static char *sfx(const char *s) {
  char *out = malloc(strlen(s) * 3 + 1), *o = out;
  if (!out) return NULL;
  while (*s) {
    if (!strncmp(s, "SFX", 3)) {
      o += sprintf(o, "%s", uniq);
      s += 3;
    } else {
      *o++ = *s++;
    }
  }
  *o = 0;
  return out;
}

/* "base" + the unique suffix. */
static const char *nm(const char *base) {
  static char buf[4][48];
  static int k;
  char *b = buf[k++ % 4];
  snprintf(b, 48, "%s%s", base, uniq);
  return b;
}

/* Runs created since the newest fixture opened: a shared PostgreSQL
 * database keeps the runs of earlier tests and earlier suite passes. */
static int64_t runs_since_ms;

struct fx {
  const char *dir;
  struct weft_workspace *ws;
  struct weft_instance *inst;
  struct weft_scheduler *s;
};

/* Writes loc/ with ops, job files and extra files (path, text pairs,
 * NULL-terminated), opens the instance and a scheduler. */
static int fx_open(struct fx *f, const char *const *files) {
  memset(f, 0, sizeof *f);
  runs_since_ms = weft_clock_wall_ms();
  weft_error err = WEFT_ERROR_INIT;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(uniq, sizeof uniq, "%06x",
           (unsigned)(getpid() * 2654435761u ^ (unsigned)ts.tv_nsec) & 0xffffff);
  if (!(f->dir = fx_enter_tmp())) return -1;
  if (fx_write("loc/ops/o.yaml",
               "noop: {run: 'true', config: {day: {type: string, default: x}}}\n"))
    return -1;
  for (size_t i = 0; files[i]; i += 2) {
    char *path = sfx(files[i]), *text = sfx(files[i + 1]);
    int rc = !path || !text || fx_write(path, text);
    free(path);
    free(text);
    if (rc) return -1;
  }
  const char *pg = getenv("WEFT_SCHED_TEST_PG");
  if (pg && *pg) {
    char *y = weft_str_printf("storage: {postgres: {url: '%s'}}\n", pg);
    fx_write("home/weft.yaml", y);
    free(y);
  }
  const char *paths[] = {"loc"};
  if (weft_workspace_from_paths(paths, 1, &f->ws, &err)) return -1;
  if (weft_workspace_error_count(f->ws)) {
    weft_diags_print(&f->ws->locations[0]->diags, stderr);
    return -1;
  }
  if (weft_instance_open("home", &f->inst, &err)) {
    fprintf(stderr, "# %s\n", err.msg);
    return -1;
  }
  struct weft_sched_options o = {.clock = &fake_clock};
  if (weft_scheduler_new(f->inst, f->ws, &o, &f->s, &err)) {
    fprintf(stderr, "# %s\n", err.msg);
    return -1;
  }
  return 0;
}

static void fx_close(struct fx *f) {
  weft_scheduler_free(f->s);
  weft_instance_close(f->inst);
  weft_workspace_free(f->ws);
  fx_leave_tmp(f->dir);
}

static int turn(struct fx *f, int64_t now, struct weft_sched_turn *t) {
  weft_error err = WEFT_ERROR_INIT;
  fake_now_ms = now;
  int rc = weft_scheduler_turn(f->s, t, &err);
  if (rc) fprintf(stderr, "# turn: %s\n", err.msg);
  return rc;
}

/* Runs of job with tag key=value (value NULL: any) */
static size_t count_runs(struct weft_instance *inst, const char *key, const char *value) {
  struct weft_run_filter flt = {.limit = 100000};
  struct weft_run_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  size_t n = 0;
  if (weft_store_run_list(inst->store, &flt, &l, &err)) return (size_t)-1;
  for (size_t i = 0; i < l.n; i++) {
    if (l.v[i].created_ms < runs_since_ms) continue;
    json_t *tags = json_loads(l.v[i].tags, 0, NULL);
    const char *v = json_string_value(json_object_get(tags, key));
    if (v && (!value || !strcmp(v, value))) n++;
    json_decref(tags);
  }
  weft_run_list_release(&l);
  return n;
}

static const char job_every10[] =
    "graph: {a: noop}\n"
    "schedules:\n"
    "  - {name: tenSFX, cron: '*/10 * * * *', default: on,\n"
    "     config: {ops: {a: {config: {day: '{{scheduled_date}}'}}}},\n"
    "     tags: {when: '{{scheduled_time}}'}}\n";

TEST(due_ticks_advance_cursor) {
  struct fx f;
  const char *files[] = {"loc/jobs/j.yaml", job_every10, NULL};
  ASSERT(!fx_open(&f, files));
  struct weft_sched_turn t;
  const char *name = nm("ten");
  /* first sight at 00:00:30: starts now, the 00:00 tick is past */
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 0, 30), &t));
  ASSERT_EQ(t.runs_created, 0);
  ASSERT(t.next_wake_ms <= at(2026, 1, 1, 0, 10, 0));
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 9, 59), &t));
  ASSERT_EQ(t.runs_created, 0);
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 10, 0), &t));
  ASSERT_EQ(t.runs_created, 1);
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 10, 0), &t)); /* same time again: nothing */
  ASSERT_EQ(t.runs_created, 0);
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 20, 5), &t));
  ASSERT_EQ(t.runs_created, 1);
  ASSERT_EQ(count_runs(f.inst, "weft/schedule", name), 2);
  ASSERT_EQ(count_runs(f.inst, "when", "2026-01-01T00:20:00Z"), 1);
  /* the history, newest first, pages */
  struct weft_sched_tick_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(!weft_sched_ticks(f.inst->store, name, 0, 1, &l, &err));
  ASSERT_EQ(l.n, 1);
  ASSERT_EQ(l.v[0].tick_ms, at(2026, 1, 1, 0, 20, 0));
  ASSERT_STR_EQ(l.v[0].status, "success");
  ASSERT_EQ(l.v[0].n_run_ids, 1);
  int64_t before = l.v[0].tick_ms;
  weft_sched_tick_list_release(&l);
  ASSERT(!weft_sched_ticks(f.inst->store, name, before, 10, &l, &err));
  ASSERT_EQ(l.n, 1);
  ASSERT_EQ(l.v[0].tick_ms, at(2026, 1, 1, 0, 10, 0));
  weft_sched_tick_list_release(&l);
  /* the rendered run config */
  struct weft_run_filter flt = {.limit = 1};
  struct weft_run_list runs = {0};
  ASSERT(!weft_store_run_list(f.inst->store, &flt, &runs, &err));
  ASSERT_CONTAINS(runs.v[0].run_config, "2026-01-01");
  weft_run_list_release(&runs);
  fx_close(&f);
  return 0;
}

/* The code version of each run created by a turn's launches of the same
 * location (a turn snapshots the folder once), newest first. */
static size_t code_versions(struct fx *f, char out[][WEFT_CODE_VERSION_LEN + 1], size_t max) {
  struct weft_run_filter flt = {.limit = (int)max};
  struct weft_run_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_run_list(f->inst->store, &flt, &l, &err)) return 0;
  size_t n = 0;
  for (; n < l.n; n++)
    snprintf(out[n], WEFT_CODE_VERSION_LEN + 1, "%s", l.v[n].code_version ? l.v[n].code_version : "");
  weft_run_list_release(&l);
  return n;
}

/* Three schedules due at once share one snapshot of their location; a
 * change to the folder is in the next turn's runs. */
TEST(a_turn_snapshots_its_code_once) {
  struct fx f;
  const char *files[] = {"loc/jobs/j.yaml",
                         "graph: {a: noop}\n"
                         "schedules:\n"
                         "  - {name: s1SFX, cron: '*/10 * * * *', default: on}\n"
                         "  - {name: s2SFX, cron: '*/10 * * * *', default: on}\n"
                         "  - {name: s3SFX, cron: '*/10 * * * *', default: on}\n",
                         NULL};
  ASSERT(!fx_open(&f, files));
  struct weft_sched_turn t;
  char v[4][WEFT_CODE_VERSION_LEN + 1];
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 0, 30), &t)); /* first sight */
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 10, 0), &t));
  ASSERT_EQ(t.runs_created, 3);
  ASSERT_EQ(code_versions(&f, v, 3), 3);
  ASSERT(v[0][0]);
  ASSERT_STR_EQ(v[1], v[0]);
  ASSERT_STR_EQ(v[2], v[0]);
  ASSERT(!fx_write("loc/ops/o.yaml",
                   "# changed\nnoop: {run: 'true', config: {day: {type: string, default: x}}}\n"));
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 20, 0), &t));
  ASSERT_EQ(t.runs_created, 3);
  char w[4][WEFT_CODE_VERSION_LEN + 1];
  ASSERT_EQ(code_versions(&f, w, 3), 3);
  ASSERT(strcmp(w[0], v[0]) != 0);
  ASSERT_STR_EQ(w[1], w[0]);
  ASSERT_STR_EQ(w[2], w[0]);
  fx_close(&f);
  return 0;
}

static int catch_up_case(const char *policy, size_t want_runs, size_t want_skipped) {
  char job[512];
  snprintf(job, sizeof job,
           "graph: {a: noop}\n"
           "schedules: [{name: cuSFX, cron: '*/10 * * * *', default: on, %s}]\n",
           policy);
  struct fx f;
  const char *files[] = {"loc/jobs/j.yaml", job, NULL};
  ASSERT(!fx_open(&f, files));
  struct weft_sched_turn t;
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 0, 0), &t)); /* the 00:00 tick */
  ASSERT_EQ(t.runs_created, 1);
  /* down for an hour: 00:10 .. 01:00 are due */
  ASSERT(!turn(&f, at(2026, 1, 1, 1, 0, 30), &t));
  ASSERT_EQ(t.runs_created, want_runs);
  ASSERT_EQ(t.ticks_skipped, want_skipped);
  const char *name = nm("cu");
  struct weft_sched_tick_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(!weft_sched_ticks(f.inst->store, name, 0, 0, &l, &err));
  ASSERT_EQ(l.n, 7);
  ASSERT_STR_EQ(l.v[0].status, "success"); /* 01:00 */
  ASSERT_STR_EQ(l.v[5].status, "skipped"); /* 00:10 */
  ASSERT_CONTAINS(l.v[5].reason, "missed");
  weft_sched_tick_list_release(&l);
  fx_close(&f);
  return 0;
}

TEST(catch_up_latest) { return catch_up_case("catch_up: latest", 1, 5); }
TEST(catch_up_all_bounded) { return catch_up_case("catch_up: all, max_catch_up: 3", 3, 3); }

TEST(off_and_on) {
  struct fx f;
  const char *files[] = {"loc/jobs/j.yaml",
                         "graph: {a: noop}\nschedules: [{name: offSFX, cron: '* * * * *'}]\n",
                         NULL};
  ASSERT(!fx_open(&f, files));
  const char *name = nm("off");
  struct weft_sched_turn t;
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 0, 0), &t));
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 5, 0), &t));
  ASSERT_EQ(t.runs_created, 0); /* off by default */
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_sched_set_state(f.inst->store, f.ws, "nosuch", 1, 0, &err), WEFT_ENOTFOUND);
  ASSERT(!weft_sched_set_state(f.inst->store, f.ws, name, 1, at(2026, 1, 1, 0, 5, 0), &err));
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 7, 0), &t));
  ASSERT_EQ(t.runs_created, 1); /* 00:06 and 00:07: the latest only */
  ASSERT_EQ(t.ticks_skipped, 1);
  struct weft_sched_item_list l = {0};
  ASSERT(!weft_sched_list(f.inst->store, f.ws, 0, at(2026, 1, 1, 0, 7, 0), &l, &err));
  ASSERT_EQ(l.n, 1);
  ASSERT_EQ(l.v[0].on, 1);
  ASSERT_EQ(l.v[0].next_tick_ms, at(2026, 1, 1, 0, 8, 0));
  ASSERT_STR_EQ(l.v[0].last_status, "success");
  json_t *j = weft_sched_item_to_json(&l.v[0]);
  ASSERT_STR_EQ(json_string_value(json_object_get(j, "state")), "on");
  json_decref(j);
  weft_sched_item_list_release(&l);
  ASSERT(!weft_sched_set_state(f.inst->store, f.ws, name, 0, 0, &err));
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 30, 0), &t));
  ASSERT_EQ(t.runs_created, 0);
  fx_close(&f);
  return 0;
}

TEST(failure_ticks_and_partitions) {
  struct fx f;
  const char *files[] = {
      "loc/jobs/j.yaml",
      "graph: {a: noop}\n"
      "partitions: {daily: {start: 2026-01-01, timezone: America/New_York}}\n"
      "schedules:\n"
      "  - {name: goodSFX, cron: '5 0 * * *', timezone: America/New_York, default: on,\n"
      "     config: {ops: {a: {config: {day: '{{partition_key}}'}}}}}\n"
      "  - {name: badSFX, cron: '5 0 * * *', default: on, config: {ops: {zz: {}}}}\n",
      NULL};
  ASSERT(!fx_open(&f, files));
  struct weft_sched_turn t;
  /* 2026-03-09 00:05 New York (EDT since 03-08) = 04:05 UTC */
  ASSERT(!turn(&f, at(2026, 3, 9, 4, 5, 0), &t));
  ASSERT_EQ(t.runs_created, 1);
  ASSERT_EQ(count_runs(f.inst, "weft/partition", "2026-03-08"), 1);
  ASSERT(!turn(&f, at(2026, 3, 10, 0, 5, 0), &t)); /* bad: 00:05 UTC */
  ASSERT_EQ(t.ticks_failure, 1);
  const char *name = nm("bad");
  struct weft_sched_tick_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(!weft_sched_ticks(f.inst->store, name, 0, 1, &l, &err));
  ASSERT_STR_EQ(l.v[0].status, "failure");
  ASSERT_CONTAINS(l.v[0].reason, "invalid run config");
  ASSERT_CONTAINS(l.v[0].reason, "zz");
  weft_sched_tick_list_release(&l);
  /* preview: offsets change with DST, keys follow */
  name = nm("good");
  int64_t *times = NULL;
  char **keys = NULL;
  const struct weft_schedule *sc = weft_workspace_find_schedule(f.ws, name);
  ASSERT(!weft_sched_preview(sc, &f.ws->locations[0]->jobs[0], at(2026, 3, 7, 12, 0, 0), 3,
                             &times, &keys, &err));
  char *s0 = weft_sched_format_time(times[0], sc->timezone);
  char *s2 = weft_sched_format_time(times[2], sc->timezone);
  ASSERT_STR_EQ(s0, "2026-03-08T00:05:00-05:00");
  ASSERT_STR_EQ(s2, "2026-03-10T00:05:00-04:00");
  ASSERT_STR_EQ(keys[2], "2026-03-09");
  free(s0);
  free(s2);
  for (int i = 0; i < 3; i++) free(keys[i]);
  free(keys);
  free(times);
  fx_close(&f);
  return 0;
}

/* ---- exactly once with two schedulers ------------------------------------------- */

struct racer {
  struct fx *f;
  struct weft_instance *inst;
  struct weft_scheduler *s;
  int64_t start;
  int minutes;
  int failed;
};

static void *race(void *data) {
  struct racer *r = data;
  for (int m = 0; m < r->minutes; m++) {
    /* one shared fake clock, moved by both: each turn sees some minute
     * that one of them reached */
    weft_error err = WEFT_ERROR_INIT;
    struct weft_sched_turn t;
    __atomic_store_n(&fake_now_ms, r->start + (int64_t)m * 60000, __ATOMIC_SEQ_CST);
    if (weft_scheduler_turn(r->s, &t, &err)) {
      fprintf(stderr, "# racer: %s\n", err.msg);
      r->failed = 1;
    }
  }
  return NULL;
}

static int64_t pinned(void *data) { return *(const int64_t *)data; }

TEST(exactly_once_two_schedulers) {
  struct fx f;
  const char *files[] = {"loc/jobs/j.yaml",
                         "graph: {a: noop}\nschedules: [{name: minSFX, cron: '* * * * *', "
                         "default: on, catch_up: all, max_catch_up: 1000}]\n",
                         NULL};
  ASSERT(!fx_open(&f, files));
  const char *name = nm("min");
  weft_error err = WEFT_ERROR_INIT;
  /* a second instance: its own connection to the same storage */
  struct weft_instance *inst2 = NULL;
  ASSERT(!weft_instance_open("home", &inst2, &err));
  int64_t start = at(2026, 1, 1, 0, 0, 0);
  /* alternately: A and B both evaluate every minute, in turn */
  int64_t clock_a = start, clock_b = start;
  struct weft_sched_clock ca = {pinned, &clock_a}, cb = {pinned, &clock_b};
  struct weft_scheduler *a = NULL, *b = NULL;
  struct weft_sched_options oa = {.clock = &ca}, ob = {.clock = &cb};
  ASSERT(!weft_scheduler_new(f.inst, f.ws, &oa, &a, &err));
  ASSERT(!weft_scheduler_new(inst2, f.ws, &ob, &b, &err));
  for (int m = 0; m < 30; m++) {
    clock_a = clock_b = start + (int64_t)m * 60000;
    ASSERT(!weft_scheduler_turn(m % 2 ? a : b, NULL, &err));
    ASSERT(!weft_scheduler_turn(m % 2 ? b : a, NULL, &err));
  }
  ASSERT_EQ(count_runs(f.inst, "weft/schedule", name), 30);
  /* concurrently: two threads, each its own connection, same minutes */
  int64_t start2 = start + 30 * 60000;
  pthread_t ta, tb;
  struct racer ra = {&f, f.inst, NULL, start2, 60, 0}, rb = {&f, inst2, NULL, start2, 60, 0};
  weft_scheduler_free(a);
  weft_scheduler_free(b);
  struct weft_sched_options o = {.clock = &fake_clock};
  ASSERT(!weft_scheduler_new(f.inst, f.ws, &o, &ra.s, &err));
  ASSERT(!weft_scheduler_new(inst2, f.ws, &o, &rb.s, &err));
  pthread_create(&ta, NULL, race, &ra);
  pthread_create(&tb, NULL, race, &rb);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  ASSERT(!ra.failed && !rb.failed);
  /* whatever the interleaving: at most one run per tick, and every tick up
   * to the last minute either racer reached ran once */
  size_t total = count_runs(f.inst, "weft/schedule", name);
  struct weft_run_filter flt = {.limit = 100000};
  struct weft_run_list l = {0};
  ASSERT(!weft_store_run_list(f.inst->store, &flt, &l, &err));
  json_t *seen = json_object();
  for (size_t i = 0; i < l.n; i++) {
    json_t *tags = json_loads(l.v[i].tags, 0, NULL);
    const char *tick = json_string_value(json_object_get(tags, "weft/tick"));
    const char *sched = json_string_value(json_object_get(tags, "weft/schedule"));
    if (tick && sched && !strcmp(sched, name)) {
      ASSERT(!json_object_get(seen, tick)); /* one run per tick */
      json_object_set_new(seen, tick, json_true());
    }
    json_decref(tags);
  }
  ASSERT_EQ(json_object_size(seen), total);
  ASSERT_EQ(total, 90);
  json_decref(seen);
  weft_run_list_release(&l);
  weft_scheduler_free(ra.s);
  weft_scheduler_free(rb.s);
  weft_instance_close(inst2);
  fx_close(&f);
  return 0;
}

/* Schedules seen for the first time write their cursors in one commit. A
 * chunk of ticks written together fails as a whole when any of its ticks
 * was taken (here: s2's tick record is there, its cursor behind, as if
 * another scheduler were writing it); the turn is then redone a tick at a
 * time: s1 and s3 launch once each, s2's tick is lost, none launches
 * twice, and the next turn finds nothing more to do for s1 and s3. */
TEST(chunk_lost_is_redone_tick_by_tick) {
  struct fx f;
  const char *files[] = {"loc/jobs/j.yaml",
                         "graph: {a: noop}\nschedules:\n"
                         "  - {name: s1SFX, cron: '* * * * *', default: on}\n"
                         "  - {name: s2SFX, cron: '* * * * *', default: on}\n"
                         "  - {name: s3SFX, cron: '* * * * *', default: on}\n",
                         NULL};
  ASSERT(!fx_open(&f, files));
  struct weft_sched_turn t;
  weft_error err = WEFT_ERROR_INIT;
  char s2[64];
  snprintf(s2, sizeof s2, "%s", nm("s2"));
  struct weft_store_commit_stats c0, c1;
  weft_store_commit_stats_get(&c0);
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 0, 30), &t)); /* first sight of all three */
  weft_store_commit_stats_get(&c1);
  ASSERT_EQ(c1.count - c0.count, 1); /* their three cursors in one commit */
  ASSERT_EQ(t.runs_created, 0);
  char *key = weft__sched_tick_key(s2, at(2026, 1, 1, 0, 1, 0));
  ASSERT(key);
  ASSERT_EQ(weft_store_kv_set(f.inst->store, key, "{\"status\":\"pending\"}", &err), WEFT_OK);
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 1, 0), &t));
  ASSERT_EQ(t.runs_created, 2);
  ASSERT_EQ(t.ticks_success, 2);
  ASSERT_EQ(t.ticks_lost, 1);
  ASSERT_EQ(count_runs(f.inst, "weft/schedule", nm("s1")), 1);
  ASSERT_EQ(count_runs(f.inst, "weft/schedule", s2), 0);
  ASSERT_EQ(count_runs(f.inst, "weft/schedule", nm("s3")), 1);
  char *doc = NULL;
  ASSERT_EQ(weft_store_kv_get(f.inst->store, key, &doc, &err), WEFT_OK);
  ASSERT_STR_EQ(doc, "{\"status\":\"pending\"}"); /* the other's, untouched */
  free(doc);
  struct weft_sched_tick_list l = {0};
  ASSERT(!weft_sched_ticks(f.inst->store, nm("s3"), 0, 10, &l, &err));
  ASSERT_EQ(l.n, 1);
  ASSERT_STR_EQ(l.v[0].status, "success");
  ASSERT_EQ(l.v[0].n_run_ids, 1);
  weft_sched_tick_list_release(&l);
  ASSERT(!turn(&f, at(2026, 1, 1, 0, 1, 0), &t));
  ASSERT_EQ(t.runs_created, 0);
  ASSERT_EQ(count_runs(f.inst, "weft/schedule", nm("s1")), 1);
  ASSERT_EQ(count_runs(f.inst, "weft/schedule", nm("s3")), 1);
  free(key);
  fx_close(&f);
  return 0;
}

/* ---- sensors ------------------------------------------------------------------------ */

static int sensor_on(struct fx *f, const char *base, int64_t now) {
  const char *name = nm(base);
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_sched_set_state(f->inst->store, f->ws, name, 1, now, &err);
  if (rc) fprintf(stderr, "# %s\n", err.msg);
  return rc;
}

static const char *last_status(struct fx *f, const char *base, char *reason, size_t len) {
  static char status[32];
  const char *name = nm(base);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_sched_tick_list l = {0};
  status[0] = 0;
  if (!weft_sched_ticks(f->inst->store, name, 0, 1, &l, &err) && l.n) {
    snprintf(status, sizeof status, "%s", l.v[0].status);
    if (reason) snprintf(reason, len, "%s", l.v[0].reason ? l.v[0].reason : "");
  }
  weft_sched_tick_list_release(&l);
  return status;
}

static void set_mtime(const char *path, time_t t) {
  struct timeval tv[2] = {{t, 0}, {t, 0}};
  utimes(path, tv);
}

TEST(file_sensor) {
  struct fx f;
  const char *files[] = {"loc/jobs/j.yaml", "graph: {a: noop}\n", "loc/sensors/fSFX.yaml",
                         "kind: file\njob: j\nglob: 'in/*.csv'\ninterval: 10s\n"
                         "tags: {path: '{{file}}'}\n",
                         NULL};
  ASSERT(!fx_open(&f, files));
  int64_t t0 = at(2026, 1, 1, 0, 0, 0);
  ASSERT(!sensor_on(&f, "f", t0));
  struct weft_sched_turn t;
  ASSERT(!turn(&f, t0, &t));
  ASSERT_EQ(t.sensors_evaluated, 1);
  ASSERT_STR_EQ(last_status(&f, "f", NULL, 0), "skipped");
  ASSERT(!fx_write("loc/in/a.csv", "1\n"));
  ASSERT(!fx_write("loc/in/b.txt", "1\n"));
  set_mtime("loc/in/a.csv", 1000);
  ASSERT(!turn(&f, t0 + 5000, &t)); /* not due yet */
  ASSERT_EQ(t.sensors_evaluated, 0);
  ASSERT(!turn(&f, t0 + 10000, &t));
  ASSERT_EQ(t.runs_created, 1);
  ASSERT_STR_EQ(last_status(&f, "f", NULL, 0), "success");
  ASSERT_EQ(count_runs(f.inst, "weft/run_key", "in/a.csv@1000000"), 1);
  /* a new scheduler (a restart): the cursor is stored, nothing new */
  weft_scheduler_free(f.s);
  struct weft_sched_options o = {.clock = &fake_clock};
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(!weft_scheduler_new(f.inst, f.ws, &o, &f.s, &err));
  ASSERT(!turn(&f, t0 + 20000, &t));
  ASSERT_EQ(t.sensors_evaluated, 1);
  ASSERT_EQ(t.runs_created, 0);
  /* changed: one more run; a new file: one more */
  ASSERT(!fx_write("loc/in/a.csv", "1\n2\n"));
  set_mtime("loc/in/a.csv", 2000);
  ASSERT(!fx_write("loc/in/c.csv", "3\n"));
  ASSERT(!turn(&f, t0 + 30000, &t));
  ASSERT_EQ(t.runs_created, 2);
  ASSERT_EQ(count_runs(f.inst, "weft/sensor", NULL), 3);
  ASSERT(count_runs(f.inst, "path", NULL) == 3);
  fx_close(&f);
  return 0;
}

TEST(command_sensor) {
  struct fx f;
  const char *files[] = {
      "loc/jobs/j.yaml", "graph: {a: noop}\n", "loc/sensors/cSFX.yaml",
      "kind: command\njob: j\nrun: ./check.sh\ninterval: 30s\n"
      "config: {ops: {a: {config: {day: '{{run_key}}'}}}}\n",
      "loc/check.sh",
      "#!/bin/sh\n"
      "case \"$WEFT_SENSOR_CURSOR\" in\n"
      "  '') echo '{\"run_key\":\"r1\"}'; echo '{\"run_key\":\"r2\",\"tags\":{\"x\":\"y\"}}';"
      " echo '{\"cursor\":\"c1\"}' ;;\n"
      "  c1) echo; echo '{\"run_key\":\"r2\"}'; echo '{\"run_key\":\"r3\"}';"
      " echo '{\"cursor\":\"c2\"}' ;;\n"
      "  c2) echo '{\"run_key\":\"r4\"}'; echo 'not json' ;;\n"
      "esac\n"
      "[ -f fail ] && { echo 'it broke' >&2; exit 3; }\n"
      "exit 0\n",
      NULL};
  ASSERT(!fx_open(&f, files));
  chmod("loc/check.sh", 0755);
  int64_t t0 = at(2026, 1, 1, 0, 0, 0);
  ASSERT(!sensor_on(&f, "c", t0));
  struct weft_sched_turn t;
  ASSERT(!turn(&f, t0, &t));
  ASSERT_EQ(t.runs_created, 2);
  ASSERT_EQ(count_runs(f.inst, "x", "y"), 1);
  ASSERT(!turn(&f, t0 + 30000, &t)); /* r2 again: deduped */
  ASSERT_EQ(t.runs_created, 1);
  ASSERT_EQ(count_runs(f.inst, "weft/run_key", "r3"), 1);
  char reason[512];
  ASSERT(!turn(&f, t0 + 60000, &t)); /* a malformed line: nothing launched */
  ASSERT_EQ(t.runs_created, 0);
  ASSERT_STR_EQ(last_status(&f, "c", reason, sizeof reason), "failure");
  ASSERT_CONTAINS(reason, "output line 2");
  ASSERT(!fx_write("loc/fail", ""));
  ASSERT(!turn(&f, t0 + 90000, &t));
  ASSERT_STR_EQ(last_status(&f, "c", reason, sizeof reason), "failure");
  ASSERT_CONTAINS(reason, "exit code 3");
  ASSERT_CONTAINS(reason, "it broke");
  ASSERT_EQ(count_runs(f.inst, "weft/sensor", NULL), 3);
  fx_close(&f);
  return 0;
}

/* Appends a finished run of job with an event of type (and payload). */
static int fake_run(struct fx *f, const char *job, const char *type, const char *payload) {
  weft_error err = WEFT_ERROR_INIT;
  struct weft_run_row r = {0};
  r.id = weft_store_new_run_id();
  r.job = (char *)job;
  r.location = "loc";
  r.status = WEFT_RUN_SUCCESS;
  r.tags = "{}";
  r.root_run_id = r.id;
  r.created_ms = fake_now_ms;
  struct weft_event_row ev = {0};
  ev.run_id = r.id;
  ev.type = (char *)type;
  ev.ts_ms = fake_now_ms + 1;
  ev.payload = (char *)payload;
  ev.step = strcmp(type, "materialization") ? NULL : "a";
  int rc = weft_store_run_create(f->inst->store, &r, &err);
  if (!rc) rc = weft_store_event_append(f->inst->store, &ev, 1, &err);
  if (rc) fprintf(stderr, "# %s\n", err.msg);
  free(r.id);
  return rc;
}

TEST(run_status_and_asset_sensors) {
  struct fx f;
  const char *files[] = {"loc/jobs/a.yaml", "graph: {x: noop}\n", "loc/jobs/b.yaml",
                         "graph: {y: noop}\n", "loc/sensors/sensors.yaml",
                         "- {name: aokSFX, kind: run_status, job: b, watch_job: a, interval: 10s}\n"
                         "- {name: afailSFX, kind: run_status, job: b, watch_job: a,"
                         " status: failure}\n"
                         "- {name: assetSFX, kind: asset, job: b, asset: sales}\n",
                         NULL};
  ASSERT(!fx_open(&f, files));
  /* the wall clock: event timestamps are compared with the sensor's start */
  int64_t t0 = at(2026, 1, 1, 0, 0, 0);
  fake_now_ms = t0 - 100000;
  ASSERT(!fake_run(&f, "a", "run_success", "{}")); /* before the sensor: ignored */
  ASSERT(!sensor_on(&f, "aok", t0));
  ASSERT(!sensor_on(&f, "afail", t0));
  ASSERT(!sensor_on(&f, "asset", t0));
  fake_now_ms = t0 + 1000;
  ASSERT(!fake_run(&f, "a", "run_success", "{}"));
  ASSERT(!fake_run(&f, "b", "run_success", "{}")); /* not watched */
  ASSERT(!fake_run(&f, "a", "materialization", "{\"asset\":\"sales\"}"));
  ASSERT(!fake_run(&f, "a", "materialization", "{\"asset\":\"other\"}"));
  struct weft_sched_turn t;
  ASSERT(!turn(&f, t0 + 2000, &t));
  ASSERT_EQ(t.sensors_evaluated, 3);
  ASSERT_EQ(count_runs(f.inst, "weft/upstream_run", NULL), 2);
  ASSERT_EQ(count_runs(f.inst, "weft/asset", "sales"), 1);
  ASSERT_STR_EQ(last_status(&f, "afail", NULL, 0), "skipped");
  /* the cursor moved past them: nothing again */
  ASSERT(!turn(&f, t0 + 60000, &t));
  ASSERT_EQ(t.runs_created, 0);
  ASSERT(!fake_run(&f, "a", "run_failure", "{}"));
  ASSERT(!turn(&f, t0 + 120000, &t));
  ASSERT_EQ(t.runs_created, 1);
  ASSERT_STR_EQ(last_status(&f, "afail", NULL, 0), "success");
  fx_close(&f);
  return 0;
}

int main(int argc, char **argv) {
  static const struct test_entry tests[] = {
      TEST_ENTRY(due_ticks_advance_cursor) TEST_ENTRY(a_turn_snapshots_its_code_once) TEST_ENTRY(catch_up_latest)
          TEST_ENTRY(catch_up_all_bounded) TEST_ENTRY(off_and_on)
              TEST_ENTRY(failure_ticks_and_partitions) TEST_ENTRY(exactly_once_two_schedulers)
                  TEST_ENTRY(chunk_lost_is_redone_tick_by_tick) TEST_ENTRY(file_sensor) TEST_ENTRY(command_sensor)
                      TEST_ENTRY(run_status_and_asset_sensors)};
  int rc = test_main(argc, argv, tests, sizeof tests / sizeof *tests);
  /* again on PostgreSQL, when there is one */
  const char *pg = getenv("WEFT_TEST_PG_URL");
  if (!rc && pg && *pg && !getenv("WEFT_SCHED_TEST_PG")) {
    setenv("WEFT_SCHED_TEST_PG", pg, 1);
    static const struct test_entry pg_tests[] = {TEST_ENTRY(exactly_once_two_schedulers)
                                                     TEST_ENTRY(chunk_lost_is_redone_tick_by_tick)
                                                     TEST_ENTRY(command_sensor)};
    rc = test_main(argc, argv, pg_tests, sizeof pg_tests / sizeof *pg_tests);
  }
  return rc;
}
