/* test_dsl_schedule.c: schedules, sensors and partitions in YAML: what loads,
 * and every error as file:line:col; partition keys of the model. */
#include <stdint.h>

#include "dsl/dsl.h"
#include "util/tz.h"
#include "test.h"
#include "test_dsl_fixture.h"

static const char ops_yaml[] = "noop: {run: 'true'}\n";

static struct weft_location *load3(const char *job, const char *schedules,
                                   const char *sensors) {
  struct weft_dsl_source src[4] = {
      {WEFT_DSL_SOURCE_OPS, "ops/o.yaml", ops_yaml, sizeof ops_yaml - 1},
      {WEFT_DSL_SOURCE_JOB, "jobs/j.yaml", job, strlen(job)},
  };
  size_t n = 2;
  if (schedules)
    src[n++] = (struct weft_dsl_source){WEFT_DSL_SOURCE_SCHEDULES, "schedules/s.yaml", schedules,
                                        strlen(schedules)};
  if (sensors)
    src[n++] = (struct weft_dsl_source){WEFT_DSL_SOURCE_SENSORS, "sensors/x.yaml", sensors,
                                        strlen(sensors)};
  struct weft_location *loc = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_dsl_load_sources("loc", "/tmp", src, n, &loc, &err)) return NULL;
  return loc;
}

static int expect(struct weft_location *loc, const char *line) {
  if (!fx_has_diag(&loc->diags, line)) {
    char *all = fx_diags(&loc->diags);
    fprintf(stderr, "# want: %s\n# got:%s", line, all ? all : "");
    free(all);
    return 0;
  }
  return 1;
}

TEST(schedule_in_job_and_file) {
  struct weft_location *loc = load3(
      "graph: {a: noop}\n"
      "partitions: {daily: {start: 2026-01-01, timezone: Europe/Amsterdam}}\n"
      "schedules:\n"
      "  - name: nightly\n"
      "    cron: '5 0 * * *'\n"
      "    timezone: Europe/Amsterdam\n"
      "    default: on\n"
      "    catch_up: all\n"
      "    max_catch_up: 3\n"
      "    config: {ops: {a: {}}}\n"
      "    tags: {day: '{{partition_key}}'}\n",
      "job: j\ncron: '@hourly'\n",
      "kind: file\njob: j\nglob: 'in/*.csv'\ninterval: 1m\nconfig: {tags: {f: '{{file}}'}}\n");
  ASSERT(loc);
  if (loc->diags.n) weft_diags_print(&loc->diags, stderr);
  ASSERT_EQ(loc->diags.n, 0);
  ASSERT_EQ(loc->n_schedules, 2);
  const struct weft_schedule *a = &loc->schedules[0], *b = &loc->schedules[1];
  ASSERT_STR_EQ(a->name, "nightly");
  ASSERT_STR_EQ(a->job, "j");
  ASSERT_STR_EQ(a->timezone, "Europe/Amsterdam");
  ASSERT_EQ(a->default_on, 1);
  ASSERT_EQ(a->catch_up, WEFT_CATCH_UP_ALL);
  ASSERT_EQ(a->max_catch_up, 3);
  ASSERT(json_is_object(a->config));
  ASSERT_STR_EQ(b->name, "s"); /* from the file name */
  ASSERT_STR_EQ(b->timezone, "UTC");
  ASSERT_EQ(b->default_on, 0);
  ASSERT_EQ(b->max_catch_up, WEFT_SCHEDULE_MAX_CATCH_UP_DEFAULT);
  ASSERT_EQ(loc->n_sensors, 1);
  ASSERT_EQ(loc->sensors[0].kind, WEFT_SENSOR_FILE);
  ASSERT_EQ(loc->sensors[0].interval_s, 60);
  ASSERT_EQ(loc->jobs[0].partitions.kind, WEFT_PARTITIONS_DAILY);
  ASSERT(loc->schedules[0].location == loc);
  weft_location_free(loc);
  return 0;
}

TEST(schedule_errors_have_positions) {
  struct weft_location *loc = load3(
      "graph: {a: noop}\n"
      "schedules:\n"
      "  - name: bad_cron\n"
      "    cron: 0 25 * * *\n"
      "  - name: bad_zone\n"
      "    cron: '@daily'\n"
      "    timezone: Mars/Olympus\n"
      "  - name: typo\n"
      "    crn: '@daily'\n"
      "  - name: tmpl\n"
      "    cron: '@daily'\n"
      "    tags: {x: 'at {{scheduled_tme}}'}\n",
      "- name: nojob\n  job: jj\n  cron: '@daily'\n"
      "- name: ok\n  job: j\n  cron: '@daily'\n"
      "- name: ok\n  job: j\n  cron: '@daily'\n",
      NULL);
  ASSERT(loc);
  ASSERT(expect(loc, "jobs/j.yaml:4:13: error: schedule 'bad_cron': invalid cron expression "
                     "'0 25 * * *': cron: hour field: 25 is out of range 0-23"));
  ASSERT(expect(loc, "jobs/j.yaml:7:15: error: schedule 'bad_zone': unknown time zone "
                     "'Mars/Olympus'"));
  ASSERT(expect(loc, "jobs/j.yaml:9:5: error: unknown key 'crn' in schedule 'typo' (did you "
                     "mean 'cron'?)"));
  ASSERT(expect(loc, "jobs/j.yaml:12:19: error: schedule 'tmpl': unknown placeholder "
                     "'{{scheduled_tme}}' (did you mean 'scheduled_time'?)"));
  ASSERT(expect(loc, "schedules/s.yaml:2:8: error: schedule 'nojob': unknown job 'jj' in code "
                     "location 'loc'"));
  ASSERT(expect(loc, "schedules/s.yaml:7:9: error: duplicate schedule name 'ok' (first "
                     "defined at schedules/s.yaml:4:9)"));
  ASSERT_EQ(loc->n_schedules, 1);
  weft_location_free(loc);
  return 0;
}

TEST(sensor_errors) {
  struct weft_location *loc = load3(
      "graph: {a: noop}\n", NULL,
      "- name: s1\n  kind: fil\n  job: j\n"
      "- name: s2\n  kind: command\n  job: j\n"
      "- name: s3\n  kind: run_status\n  job: j\n  watch_job: nope\n"
      "- name: s4\n  kind: file\n  job: j\n  glob: '*'\n  config: {x: '{{run_ky}}'}\n");
  ASSERT(loc);
  ASSERT(expect(loc, "sensors/x.yaml:2:9: error: sensor 's1': unknown kind fil (did you mean "
                     "'file'?) (file, command, run_status or asset)"));
  ASSERT(expect(loc, "sensors/x.yaml:4:9: error: sensor 's2' (command) needs 'run:' or "
                     "'argv:'"));
  ASSERT(expect(loc, "sensors/x.yaml:10:14: error: sensor 's3': unknown job 'nope' in code "
                     "location 'loc'"));
  ASSERT(expect(loc, "sensors/x.yaml:15:16: error: sensor 's4': unknown placeholder "
                     "'{{run_ky}}' (did you mean 'run_key'?)"));
  ASSERT_EQ(loc->n_sensors, 0);
  weft_location_free(loc);
  return 0;
}

TEST(partition_errors) {
  struct weft_location *loc = load3(
      "graph: {a: noop}\npartitions: {daily: {start: 2026-13-01, timezone: Nowhere/X}}\n", NULL,
      NULL);
  ASSERT(loc);
  ASSERT(expect(loc, "jobs/j.yaml:2:51: error: job 'j': unknown time zone 'Nowhere/X'"));
  weft_location_free(loc);
  loc = load3("graph: {a: noop}\npartitions: {weekly: {start: 2026-01-01}}\n", NULL, NULL);
  ASSERT(loc);
  ASSERT(expect(loc, "jobs/j.yaml:2:14: error: unknown key 'weekly' in partitions (known keys: "
                     "daily, hourly, static)"));
  weft_location_free(loc);
  return 0;
}

/* ---- the partition model ------------------------------------------------------ */

static int64_t utc(int y, int m, int d, int h, int mi) {
  return weft_tz_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60;
}

TEST(partitions_daily_keys) {
  struct weft_location *loc = load3(
      "graph: {a: noop}\npartitions: {daily: {start: 2026-01-01, timezone: Europe/Amsterdam}}\n",
      NULL, NULL);
  ASSERT(loc && !loc->diags.n);
  const struct weft_partitions *p = &loc->jobs[0].partitions;
  /* 2026-01-02 00:05 Amsterdam = 2026-01-01 23:05 UTC */
  char *k = weft_partitions_key_for_tick(p, utc(2026, 1, 1, 23, 5));
  ASSERT_STR_EQ(k, "2026-01-01");
  free(k);
  /* before the first partition is complete: none */
  ASSERT(!weft_partitions_key_for_tick(p, utc(2026, 1, 1, 12, 0)));
  char **keys = NULL;
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_partitions_keys_between(p, "2026-01-30", NULL, utc(2026, 2, 3, 12, 0), &keys,
                                         &n, &err),
            WEFT_OK);
  ASSERT_EQ(n, 4); /* 01-30 .. 02-02: 02-03 is not complete */
  ASSERT_STR_EQ(keys[0], "2026-01-30");
  ASSERT_STR_EQ(keys[3], "2026-02-02");
  ASSERT(!keys[4]);
  weft_partitions_keys_free(keys, n);
  ASSERT(weft_partitions_has_key(p, "2026-01-05", utc(2026, 2, 1, 0, 0)));
  ASSERT(!weft_partitions_has_key(p, "2025-12-31", utc(2026, 2, 1, 0, 0)));
  ASSERT(!weft_partitions_has_key(p, "2026-02-30", utc(2026, 3, 1, 0, 0)));
  ASSERT_EQ(weft_partitions_keys_between(p, "2026-01-10", "2026-01-05", utc(2026, 2, 1, 0, 0),
                                         &keys, &n, &err),
            WEFT_EINVALID);
  weft_location_free(loc);
  return 0;
}

TEST(partitions_hourly_dst) {
  struct weft_location *loc = load3(
      "graph: {a: noop}\npartitions: {hourly: {start: 2026-03-29, timezone: Europe/Amsterdam}}\n",
      NULL, NULL);
  ASSERT(loc && !loc->diags.n);
  const struct weft_partitions *p = &loc->jobs[0].partitions;
  char **keys = NULL;
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  /* spring forward at 02:00 local: there is no 02:00 partition that day */
  ASSERT_EQ(weft_partitions_keys_between(p, NULL, "2026-03-29-04:00", utc(2026, 3, 30, 0, 0),
                                         &keys, &n, &err),
            WEFT_OK);
  ASSERT_EQ(n, 4);
  ASSERT_STR_EQ(keys[1], "2026-03-29-01:00");
  ASSERT_STR_EQ(keys[2], "2026-03-29-03:00");
  weft_partitions_keys_free(keys, n);
  /* a tick at 03:10 local (01:10 UTC) targets 01:00, the last complete */
  char *k = weft_partitions_key_for_tick(p, utc(2026, 3, 29, 1, 10));
  ASSERT_STR_EQ(k, "2026-03-29-01:00");
  free(k);
  weft_location_free(loc);
  return 0;
}

TEST(partitions_static) {
  struct weft_location *loc =
      load3("graph: {a: noop}\npartitions: {static: [eu, us, asia]}\n", NULL, NULL);
  ASSERT(loc && !loc->diags.n);
  const struct weft_partitions *p = &loc->jobs[0].partitions;
  char **keys = NULL;
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_partitions_keys_between(p, "us", NULL, 0, &keys, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 2);
  ASSERT_STR_EQ(keys[1], "asia");
  weft_partitions_keys_free(keys, n);
  ASSERT(weft_partitions_has_key(p, "eu", 0));
  ASSERT(!weft_partitions_has_key(p, "mars", 0));
  ASSERT(!weft_partitions_key_for_tick(p, 0));
  weft_location_free(loc);
  return 0;
}

TEST(workspace_duplicate_names) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT(!fx_write("a/ops/o.yaml", ops_yaml));
  ASSERT(!fx_write("a/jobs/j.yaml", "graph: {x: noop}\nschedules: [{name: s, cron: '@daily'}]\n"));
  ASSERT(!fx_write("b/ops/o.yaml", ops_yaml));
  ASSERT(!fx_write("b/jobs/k.yaml", "graph: {x: noop}\n"));
  ASSERT(!fx_write("b/schedules/s.yaml", "job: k\ncron: '@daily'\n"));
  ASSERT(!fx_write("workspace.yaml", "locations: [a, b]\n"));
  struct weft_workspace *ws = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_workspace_load_file("workspace.yaml", &ws, &err), WEFT_OK);
  char *all = fx_diags(&ws->diags);
  ASSERT_CONTAINS(all, "b/schedules/s.yaml:1:1: error: duplicate schedule name 's' in code "
                       "location 'b' (also in code location 'a' at ./a/jobs/j.yaml:2:20)");
  free(all);
  ASSERT(weft_workspace_find_schedule(ws, "s"));
  ASSERT(!weft_workspace_find_sensor(ws, "s"));
  weft_workspace_free(ws);
  fx_leave_tmp(dir);
  return 0;
}

int main(int argc, char **argv) {
  static const struct test_entry tests[] = {
      TEST_ENTRY(schedule_in_job_and_file) TEST_ENTRY(schedule_errors_have_positions)
          TEST_ENTRY(sensor_errors) TEST_ENTRY(partition_errors)
              TEST_ENTRY(partitions_daily_keys) TEST_ENTRY(partitions_hourly_dst)
                  TEST_ENTRY(partitions_static) TEST_ENTRY(workspace_duplicate_names)};
  return test_main(argc, argv, tests, sizeof tests / sizeof *tests);
}
