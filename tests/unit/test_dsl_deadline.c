/* test_dsl_deadline.c: run deadlines, `timeout:` and `sla:` of a job and of a
 * run config's `execution:`: their values, spellings and file:line:col errors. */
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "test.h"
#include "test_dsl_fixture.h"

static const char *ops_text = "quick:\n  run: \"true\"\n";

/* A location of one job, jobs/j.yaml holding job_text. */
static struct weft_location *load(const char *job_text) {
  struct weft_dsl_source src[] = {
      {WEFT_DSL_SOURCE_OPS, "ops/o.yaml", ops_text, strlen(ops_text)},
      {WEFT_DSL_SOURCE_JOB, "jobs/j.yaml", job_text, strlen(job_text)},
  };
  struct weft_location *loc = NULL;
  if (weft_dsl_load_sources("loc", NULL, src, 2, &loc, NULL)) return NULL;
  return loc;
}

TEST(spellings_kept) {
  struct weft_deadline d;
  ASSERT_EQ(weft_dsl_parse_deadline("2h", &d), WEFT_OK);
  ASSERT(d.s == 7200);
  ASSERT_STR_EQ(d.text, "2h");
  ASSERT_EQ(weft_dsl_parse_deadline(" 1h30m ", &d), WEFT_OK);
  ASSERT(d.s == 5400);
  ASSERT_STR_EQ(d.text, "1h30m");
  ASSERT_EQ(weft_dsl_parse_deadline("90", &d), WEFT_OK);
  ASSERT(d.s == 90);
  ASSERT_STR_EQ(d.text, "90s"); /* a bare number is seconds, and says so */
  ASSERT_EQ(weft_dsl_parse_deadline("250ms", &d), WEFT_OK);
  ASSERT(d.s == 0.25);
  /* Too long a spelling to keep: the seconds instead. */
  ASSERT_EQ(weft_dsl_parse_deadline("1h 1m 1s 1ms 0s 0s 0s 0s 0s 0s 0s", &d), WEFT_OK);
  ASSERT_STR_EQ(d.text, "3661s");
  const char *bad[] = {"", "0s", "0", "-1s", "soon", "2x", "400d", NULL, "s"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ASSERT_EQ(weft_dsl_parse_deadline(bad[i], &d), WEFT_EINVALID);
  return 0;
}

TEST(job_keys) {
  struct weft_location *loc = load("timeout: 2h\nsla: 90\nops:\n  q: quick\n");
  ASSERT(loc && loc->diags.n == 0 && loc->n_jobs == 1);
  ASSERT(loc->jobs[0].timeout.s == 7200);
  ASSERT_STR_EQ(loc->jobs[0].timeout.text, "2h");
  ASSERT(loc->jobs[0].sla.s == 90);
  ASSERT_STR_EQ(loc->jobs[0].sla.text, "90s");
  weft_location_free(loc);
  /* Neither: no deadline. */
  loc = load("ops:\n  q: quick\n");
  ASSERT(loc && loc->diags.n == 0);
  ASSERT(loc->jobs[0].timeout.s == 0 && loc->jobs[0].sla.s == 0);
  weft_location_free(loc);
  return 0;
}

TEST(job_errors) {
  struct weft_location *loc =
      load("ops:\n  q: quick\ntimeout: -1s\nsla: [1]\n");
  ASSERT(loc);
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:3:10: error: job 'j': timeout must be a duration from "
                           "1ms to 366d such as \"90s\", \"2h\" or \"1h30m\", got '-1s'");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:4:6: error: job 'j': sla must be a duration from 1ms "
                           "to 366d such as \"90s\", \"2h\" or \"1h30m\", got a list");
  ASSERT_EQ(loc->diags.n, 2);
  weft_location_free(loc);
  loc = load("ops:\n  q: quick\ntimeuot: 1h\n");
  ASSERT(loc);
  ASSERT_DIAG(&loc->diags,
              "jobs/j.yaml:3:1: error: unknown key 'timeuot' in job 'j' (did you mean "
              "'timeout'?)");
  weft_location_free(loc);
  return 0;
}

TEST(run_config_execution) {
  struct weft_location *loc = load("timeout: 2h\nops:\n  q: quick\n");
  ASSERT(loc && loc->diags.n == 0);
  const struct weft_job *job = &loc->jobs[0];
  struct weft_run_config rc;
  struct weft_diags d = WEFT_DIAGS_INIT;
  struct weft_deadline to, sla;
  /* With an executor, queue included, and alone. */
  const char *texts[] = {"execution: {queue: {}, timeout: 2s, sla: 1.5}\n",
                         "execution: {multiprocess: {max_concurrent: 2}, timeout: 2s, sla: 1.5}\n",
                         "execution:\n  timeout: 2s\n  sla: 1.5\n"};
  for (size_t i = 0; i < 3; i++) {
    ASSERT_EQ(weft_run_config_build(job, "rc.yaml", texts[i], strlen(texts[i]), NULL, 0, &rc,
                                    &d),
              WEFT_OK);
    weft_run_config_deadline(&rc, "timeout", &to);
    weft_run_config_deadline(&rc, "sla", &sla);
    ASSERT(to.s == 2 && sla.s == 1.5);
    ASSERT_STR_EQ(to.text, "2s");
    ASSERT_STR_EQ(sla.text, "1.5s");
    weft_run_config_release(&rc);
  }
  ASSERT(weft_run_config_build(job, "rc.yaml", "", 0, NULL, 0, &rc, &d) == WEFT_OK);
  weft_run_config_deadline(&rc, "timeout", &to);
  ASSERT(to.s == 0); /* the job's then applies */
  weft_run_config_release(&rc);
  /* --set reaches it too. */
  const char *set[] = {"execution.timeout=90"};
  ASSERT(weft_run_config_build(job, "rc.yaml", "", 0, set, 1, &rc, &d) == WEFT_OK);
  weft_run_config_deadline(&rc, "timeout", &to);
  ASSERT(to.s == 90);
  ASSERT_STR_EQ(to.text, "90s");
  weft_run_config_release(&rc);
  ASSERT_EQ(d.n, 0);
  const char *t = "execution:\n  queue: {}\n  timeout: later\n  sla: 0\n";
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", t, strlen(t), NULL, 0, &rc, &d),
            WEFT_EINVALID);
  ASSERT_DIAG(&d, "rc.yaml:3:12: error: execution: timeout must be a duration from 1ms to "
                  "366d such as \"90s\", \"2h\" or \"1h30m\", got 'later'");
  ASSERT_DIAG(&d, "rc.yaml:4:8: error: execution: sla must be a duration from 1ms to 366d "
                  "such as \"90s\", \"2h\" or \"1h30m\", got '0'");
  ASSERT_EQ(d.n, 2);
  weft_diags_release(&d);
  /* Two executors are still refused, deadlines or not. */
  t = "execution: {queue: {}, in_process: {}, timeout: 1s}\n";
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", t, strlen(t), NULL, 0, &rc, &d),
            WEFT_EINVALID);
  ASSERT_DIAG(&d, "rc.yaml:1:12: error: execution must name one executor, got 'queue' and "
                  "another");
  weft_diags_release(&d);
  weft_location_free(loc);
  return 0;
}

TEST_MAIN(TEST_ENTRY(spellings_kept) TEST_ENTRY(job_keys) TEST_ENTRY(job_errors)
              TEST_ENTRY(run_config_execution))
