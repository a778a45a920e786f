/* test_dsl_python.c: the collector of ops/ and jobs/ .py files: marks in the
 * .py file, errors at file:line, the timeout, the cache, mixed YAML/Python. */
#define TEST_TIMEOUT_S 120
#include <stdlib.h>
#include <string.h>

#include "dsl/python.h"
#include "test.h"
#include "test_dsl_fixture.h"
#include "util/clock.h"

static const char *math_py =
    "from dataclasses import dataclass\n"             /* 1 */
    "from weft import op, Out\n"                      /* 2 */
    "\n"                                              /* 3 */
    "@dataclass\n"                                    /* 4 */
    "class AddX:\n"                                   /* 5 */
    "    x: int = 1\n"                                /* 6 */
    "\n"                                              /* 7 */
    "@op(retries=2, timeout='30s')\n"                 /* 8 */
    "def add_x(num: int, config: AddX) -> int:\n"     /* 9 */
    "    '''Adds x.'''\n"                             /* 10 */
    "    return num + config.x\n"                     /* 11 */
    "\n"                                              /* 12 */
    "@op\n"                                           /* 13 */
    "def split(num: int) -> Out(low=int, high=int):\n" /* 14 */
    "    return num // 2, num - num // 2\n";

static const char *arith_py =
    "from weft import job, yaml_op, schedule\n" /* 1 */
    "from ops.math import add_x, split\n"       /* 2 */
    "\n"                                         /* 3 */
    "@job(tags={'team': 'py'})\n"                /* 4 */
    "def arith():\n"                             /* 5 */
    "    s = split(add_x())\n"                   /* 6 */
    "    yaml_op('total')(a=s.low, b=s.high)\n"  /* 7 */
    "\n"                                         /* 8 */
    "schedule(arith, cron='0 3 * * *', name='arith_nightly')\n";

static const char *total_yaml =
    "total:\n"
    "  inputs: {a: int, b: int}\n"
    "  outputs: {result: int}\n"
    "  run: echo\n";

/* A YAML job that uses the Python ops. */
static const char *mixed_yaml =
    "ops:\n"
    "  add_x: add_x\n"
    "  split: {inputs: {num: add_x}}\n";

static const char *tmp_dir; /* this test's scratch folder */

static int setup(void) {
  char cache[128];
  const char *dir = tmp_dir = fx_enter_tmp();
  if (!dir) return -1;
  snprintf(cache, sizeof cache, "%s/.cache", dir);
  setenv("WEFT_PYTHON_CACHE", cache, 1);
  unsetenv("WEFT_SDK");
  unsetenv("WEFT_PYTHON_TIMEOUT");
  return 0;
}

static struct weft_location *load(void) {
  struct weft_location *loc = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_location_load(".", "loc", &loc, &err)) return NULL;
  return loc;
}

TEST(python_ops_and_jobs_load_with_marks_in_the_py_file) {
  ASSERT_EQ(setup(), 0);
  char *sdk = weft__py_sdk_dir();
  ASSERT(sdk);
  free(sdk);
  ASSERT_EQ(fx_write("ops/math.py", math_py), WEFT_OK);
  ASSERT_EQ(fx_write("ops/total.yaml", total_yaml), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/arith.py", arith_py), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/mixed.yaml", mixed_yaml), WEFT_OK);
  struct weft_location *loc = load();
  ASSERT(loc);
  char *d = fx_diags(&loc->diags);
  ASSERT_EQ(loc->diags.n, 0);
  free(d);
  const struct weft_op_def *add_x = weft_location_find_op(loc, "add_x");
  ASSERT(add_x);
  ASSERT_STR_EQ(add_x->mark.file, "ops/math.py");
  ASSERT_EQ(add_x->mark.line, 8); /* the decorator */
  ASSERT_STR_EQ(add_x->description, "Adds x.");
  ASSERT_EQ(add_x->n_config, 1);
  ASSERT_EQ(add_x->retry.max, 2);
  const struct weft_op_def *split = weft_location_find_op(loc, "split");
  ASSERT(split && split->n_outputs == 2);
  const struct weft_job *job = weft_location_find_job(loc, "arith");
  ASSERT(job && job->valid);
  ASSERT_STR_EQ(job->mark.file, "jobs/arith.py");
  ASSERT_EQ(job->n_ops, 3);
  ASSERT(weft_location_find_job(loc, "mixed") && weft_location_find_job(loc, "mixed")->valid);
  ASSERT_EQ(loc->n_schedules, 1);
  ASSERT_STR_EQ(loc->schedules[0].name, "arith_nightly");
  weft_location_free(loc);
  fx_leave_tmp(tmp_dir);
  return 0;
}

TEST(errors_at_file_line_and_other_files_still_load) {
  ASSERT_EQ(setup(), 0);
  ASSERT_EQ(fx_write("ops/math.py", math_py), WEFT_OK);
  ASSERT_EQ(fx_write("ops/syntax.py", "x = 1\ndef f(:\n    pass\n"), WEFT_OK);
  ASSERT_EQ(fx_write("ops/imports.py", "import os\n\nimport no_such_module_x\n"), WEFT_OK);
  ASSERT_EQ(fx_write("ops/hints.py",
                     "from weft import op\n\n@op\ndef bad(a) -> int:\n    return 1\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("jobs/wires.py",
                     "from weft import job, yaml_op\n"
                     "from ops.math import split\n"
                     "@job\n"
                     "def wires():\n"
                     "    split(yaml_op('nope')())\n"),
            WEFT_OK);
  struct weft_location *loc = load();
  ASSERT(loc);
  char *d = fx_diags(&loc->diags);
  ASSERT_CONTAINS(d, "\nops/syntax.py:2:7: error: SyntaxError: invalid syntax");
  ASSERT_CONTAINS(d, "\nops/imports.py:3:1: error: ModuleNotFoundError: No module named "
                     "'no_such_module_x'");
  ASSERT_CONTAINS(d, "\nops/hints.py:3:1: error: op 'bad': input 'a' has no type hint");
  ASSERT_CONTAINS(d, "\njobs/wires.py:5:1: error: op 'nope' uses unknown op definition 'nope'");
  free(d);
  ASSERT(weft_location_find_op(loc, "add_x")); /* the good file loaded */
  weft_location_free(loc);
  fx_leave_tmp(tmp_dir);
  return 0;
}

TEST(a_file_that_hangs_times_out_and_the_rest_loads) {
  ASSERT_EQ(setup(), 0);
  setenv("WEFT_PYTHON_TIMEOUT", "0.5", 1);
  ASSERT_EQ(fx_write("ops/hang.py", "import time\n\ntime.sleep(60)\n"), WEFT_OK);
  /* Ignores the alarm: killed by weft 2 s after the timeout. */
  ASSERT_EQ(fx_write("ops/hard.py",
                     "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                     "time.sleep(60)\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("ops/math.py", math_py), WEFT_OK);
  int64_t t0 = weft_clock_mono_ms();
  struct weft_location *loc = load();
  int64_t took = weft_clock_mono_ms() - t0;
  ASSERT(loc);
  char *d = fx_diags(&loc->diags);
  ASSERT_CONTAINS(d, "\nops/hang.py:3:1: error: took longer than 0.5 s to import");
  ASSERT_CONTAINS(d, "\nops/hard.py: error: describing this Python file took longer than 0.5 s");
  free(d);
  ASSERT(weft_location_find_op(loc, "split"));
  ASSERT(took < 20000);
  weft_location_free(loc);
  fx_leave_tmp(tmp_dir);
  return 0;
}

TEST(cache_skips_unchanged_files_and_notices_changed_deps) {
  ASSERT_EQ(setup(), 0);
  ASSERT_EQ(fx_write("ops/math.py", math_py), WEFT_OK);
  ASSERT_EQ(fx_write("ops/total.yaml", total_yaml), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/arith.py", arith_py), WEFT_OK);
  char *rels[] = {"ops/math.py", "jobs/arith.py"};
  struct weft__py_collect pc;
  struct weft_diags diags = WEFT_DIAGS_INIT;
  char dir[4096];
  ASSERT(getcwd(dir, sizeof dir));
  ASSERT_EQ(weft__python_collect(dir, NULL, rels, rels, 2, &pc, &diags), WEFT_OK);
  ASSERT_EQ(pc.n_described, 2);
  weft__python_collect_release(&pc);
  ASSERT_EQ(weft__python_collect(dir, NULL, rels, rels, 2, &pc, &diags), WEFT_OK);
  ASSERT_EQ(pc.n_described, 0);
  ASSERT(pc.files[0].from_cache && pc.files[1].from_cache && pc.files[1].n_texts == 2);
  weft__python_collect_release(&pc);
  /* jobs/arith.py imports ops/math.py: editing math re-describes both. */
  ASSERT_EQ(fx_write("ops/math.py", "# edited\n"), WEFT_OK);
  ASSERT_EQ(weft__python_collect(dir, NULL, rels, rels, 2, &pc, &diags), WEFT_OK);
  ASSERT_EQ(pc.n_described, 2);
  weft__python_collect_release(&pc);
  /* ... where the job now fails to import what math no longer has */
  ASSERT_EQ(diags.n, 1);
  ASSERT_STR_EQ(diags.v[0].file, "jobs/arith.py");
  ASSERT_EQ(diags.v[0].line, 2);
  ASSERT_CONTAINS(diags.v[0].msg, "ImportError");
  weft_diags_release(&diags);
  fx_leave_tmp(tmp_dir);
  return 0;
}

/* Code imported to be described sees none of weft's credentials. */
TEST(describe_does_not_see_credentials) {
  ASSERT_EQ(setup(), 0);
  setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-t0104", 1);
  setenv("WEFT_SOMETHING_PLAIN", "plain", 1);
  ASSERT_EQ(fx_write("ops/env.py",
                     "import os\n"
                     "assert 'AWS_SECRET_ACCESS_KEY' not in os.environ, 'credential leaked'\n"
                     "assert os.environ.get('WEFT_SOMETHING_PLAIN') == 'plain'\n"),
            WEFT_OK);
  struct weft_location *loc = load();
  ASSERT(loc);
  char *d = fx_diags(&loc->diags);
  ASSERT_EQ(loc->diags.n, 0);
  free(d);
  weft_location_free(loc);
  fx_leave_tmp(tmp_dir);
  return 0;
}

TEST(a_missing_interpreter_is_reported_for_each_file) {
  ASSERT_EQ(setup(), 0);
  ASSERT_EQ(fx_write("ops/a.py", "x = 1\n"), WEFT_OK);
  ASSERT_EQ(fx_write("ops/b.py", "x = 2\n"), WEFT_OK);
  struct weft_location *loc = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_location_load_python(".", "loc", "/nonexistent/python3", &loc, &err), WEFT_OK);
  char *d = fx_diags(&loc->diags);
  ASSERT_CONTAINS(d, "\nops/a.py: error: cannot describe this Python file: cannot run "
                     "/nonexistent/python3");
  ASSERT_CONTAINS(d, "\nops/b.py: error: cannot describe this Python file");
  free(d);
  weft_location_free(loc);
  fx_leave_tmp(tmp_dir);
  return 0;
}

/* A run config written for the equivalent Dagster job: solids:, config:,
 * and inputs in Dagster's {value: X} form. */
TEST(dagster_shaped_run_config_works_for_a_python_job) {
  ASSERT_EQ(setup(), 0);
  ASSERT_EQ(fx_write("ops/math.py", math_py), WEFT_OK);
  ASSERT_EQ(fx_write("ops/total.yaml", total_yaml), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/arith.py", arith_py), WEFT_OK);
  struct weft_location *loc = load();
  ASSERT(loc);
  const struct weft_job *job = weft_location_find_job(loc, "arith");
  ASSERT(job && job->valid);
  static const char *dagster = "solids:\n"
                               "  add_x:\n"
                               "    config: {x: 5}\n"
                               "    inputs:\n"
                               "      num: {value: 10}\n";
  struct weft_run_config rc;
  struct weft_diags diags = WEFT_DIAGS_INIT;
  ASSERT_EQ(weft_run_config_build(job, "run.yaml", dagster, strlen(dagster), NULL, 0, &rc, &diags),
            WEFT_OK);
  json_t *step = json_object_get(rc.ops, "add_x");
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(step, "inputs"), "num")), 10);
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(step, "config"), "x")), 5);
  weft_run_config_release(&rc);
  /* {value: X} is still checked against the input's type */
  static const char *bad = "ops: {add_x: {inputs: {num: {value: ten}}}}\n";
  ASSERT(weft_run_config_build(job, "bad.yaml", bad, strlen(bad), NULL, 0, &rc, &diags));
  char *d = fx_diags(&diags);
  ASSERT_CONTAINS(d, "input 'num' of op 'add_x' must be int");
  free(d);
  weft_diags_release(&diags);
  weft_location_free(loc);
  fx_leave_tmp(tmp_dir);
  return 0;
}

TEST(hash_changes_with_content_and_salt) {
  char a[33], b[33], c[33];
  weft__py_hash("abc", 3, "s", a);
  weft__py_hash("abd", 3, "s", b);
  weft__py_hash("abc", 3, "t", c);
  ASSERT_EQ(strlen(a), 32);
  ASSERT(strcmp(a, b) && strcmp(a, c) && strcmp(b, c));
  weft__py_hash("abc", 3, "s", b);
  ASSERT_STR_EQ(a, b);
  return 0;
}

TEST_MAIN(TEST_ENTRY(python_ops_and_jobs_load_with_marks_in_the_py_file)
              TEST_ENTRY(errors_at_file_line_and_other_files_still_load)
                  TEST_ENTRY(a_file_that_hangs_times_out_and_the_rest_loads)
                      TEST_ENTRY(cache_skips_unchanged_files_and_notices_changed_deps)
                          TEST_ENTRY(describe_does_not_see_credentials)
                          TEST_ENTRY(a_missing_interpreter_is_reported_for_each_file)
                              TEST_ENTRY(dagster_shaped_run_config_works_for_a_python_job)
                              TEST_ENTRY(hash_changes_with_content_and_salt))
