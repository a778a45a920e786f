/* test_dsl_run_config.c: run configs against a job: defaults, precedence,
 * --set overrides, executors, tags, every error with its file:line:col. */
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "test.h"
#include "test_dsl_fixture.h"

static const char *ops_text =
    "seed:\n"
    "  run: echo 1\n"
    "  outputs: {result: int}\n"
    "  config:\n"
    "    start: {type: int, default: 1}\n"
    "add_one:\n"
    "  run: x\n"
    "  inputs: {num: int}\n"
    "  outputs: {result: int}\n"
    "sum:\n"
    "  run: x\n"
    "  inputs: {a: float, b: {type: int, default: 5}, extra: {type: list}}\n"
    "  outputs: {total: float}\n"
    "  config:\n"
    "    scale: {type: int, required: true}\n"
    "    mode: {type: string, default: fast, enum: [fast, slow]}\n"
    "    ratio: {type: float}\n"
    "    note: {type: string, default: \"job\"}\n";

static const char *job_text =
    "graph:\n"
    "  seed:\n"
    "  add_x: {uses: add_one, inputs: {num: seed}}\n"
    "  total: {uses: sum, inputs: {a: add_x}, config: {note: static, mode: slow}}\n"
    "  lone: add_one\n";

static struct weft_location *load(void) {
  struct weft_dsl_source src[] = {
      {WEFT_DSL_SOURCE_OPS, "ops/o.yaml", ops_text, strlen(ops_text)},
      {WEFT_DSL_SOURCE_JOB, "jobs/j.yaml", job_text, strlen(job_text)},
  };
  struct weft_location *loc = NULL;
  if (weft_dsl_load_sources("loc", NULL, src, 2, &loc, NULL)) return NULL;
  if (loc->diags.n) weft_diags_print(&loc->diags, stderr);
  return loc;
}

static char *dump(const json_t *v) {
  return json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
}

TEST(defaults_and_precedence) {
  struct weft_location *loc = load();
  ASSERT(loc && loc->diags.n == 0);
  const struct weft_job *job = &loc->jobs[0];
  const char *text =
      "ops:\n"
      "  total:\n"
      "    config: {scale: 3, note: run}\n"
      "    inputs: {extra: [1, 2]}\n"
      "  lone:\n"
      "    inputs: {num: 4}\n"
      "execution:\n"
      "  multiprocess: {max_concurrent: 4}\n"
      "tags: {team: data, n: 3, flag: true}\n";
  struct weft_run_config rc;
  struct weft_diags d = WEFT_DIAGS_INIT;
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", text, strlen(text), NULL, 0,
                                  &rc, &d),
            WEFT_OK);
  ASSERT_EQ(d.n, 0);
  char *s = dump(rc.ops);
  ASSERT_STR_EQ(
      s,
      "{\"add_x\":{\"config\":{},\"inputs\":{}},"
      "\"lone\":{\"config\":{},\"inputs\":{\"num\":4}},"
      "\"seed\":{\"config\":{\"start\":1},\"inputs\":{}},"
      "\"total\":{\"config\":{\"mode\":\"slow\",\"note\":\"run\",\"scale\":3},"
      "\"inputs\":{\"b\":5,\"extra\":[1,2]}}}");
  free(s);
  ASSERT_EQ(rc.executor, WEFT_EXECUTOR_MULTIPROCESS);
  ASSERT_EQ(rc.max_concurrent, 4);
  s = dump(rc.tags);
  ASSERT_STR_EQ(s, "{\"flag\":\"true\",\"n\":\"3\",\"team\":\"data\"}");
  free(s);
  ASSERT(json_is_object(json_object_get(rc.raw, "ops")));
  weft_run_config_release(&rc);
  weft_location_free(loc);
  return 0;
}

TEST(json_solids_and_overrides) {
  struct weft_location *loc = load();
  ASSERT(loc);
  const struct weft_job *job = &loc->jobs[0];
  const char *text =
      "{\"solids\": {\"total\": {\"config\": {\"scale\": 1}}},"
      " \"execution\": {\"multiprocess\": {\"config\": {\"max_concurrent\": 2}}}}";
  const char *sets[] = {
      "ops.total.config.scale=7", /* lands in solids: the alias in use */
      "ops.total.config.ratio=2.5",
      "ops.lone.inputs.num=2",
      "ops.total.inputs.extra=[1, \"x\"]",
      "tags.team.owner=ana",
      "execution.multiprocess.config.max_concurrent=6",
  };
  struct weft_run_config rc;
  struct weft_diags d = WEFT_DIAGS_INIT;
  ASSERT_EQ(weft_run_config_build(job, "rc.json", text, strlen(text), sets, 6,
                                  &rc, &d),
            WEFT_OK);
  char *s = dump(json_object_get(rc.ops, "total"));
  ASSERT_STR_EQ(
      s,
      "{\"config\":{\"mode\":\"slow\",\"note\":\"static\",\"ratio\":2.5,\"scale\":7},"
      "\"inputs\":{\"b\":5,\"extra\":[1,\"x\"]}}");
  free(s);
  ASSERT_EQ(
      json_integer_value(json_object_get(
          json_object_get(json_object_get(rc.ops, "lone"), "inputs"), "num")),
      2);
  ASSERT_STR_EQ(json_string_value(json_object_get(rc.tags, "team.owner")),
                "ana");
  ASSERT_EQ(rc.max_concurrent, 6);
  ASSERT(json_object_get(rc.raw, "solids") && !json_object_get(rc.raw, "ops"));
  weft_run_config_release(&rc);

  /* no text at all: overrides and defaults only; in_process */
  const char *sets2[] = {"ops.total.config.scale=1", "ops.lone.inputs.num=1",
                         "ops.total.inputs.extra=[]",
                         "execution.in_process={}"};
  ASSERT_EQ(weft_run_config_build(job, NULL, NULL, 0, sets2, 4, &rc, &d),
            WEFT_OK);
  ASSERT_EQ(rc.executor, WEFT_EXECUTOR_IN_PROCESS);
  ASSERT_EQ(rc.max_concurrent, 0);
  weft_run_config_release(&rc);
  ASSERT_EQ(d.n, 0);
  weft_location_free(loc);
  return 0;
}

TEST(every_error_at_once) {
  struct weft_location *loc = load();
  ASSERT(loc);
  const struct weft_job *job = &loc->jobs[0];
  const char *text =
      "ops:\n"
      "  totl: {config: {scale: 1}}\n"
      "  total:\n"
      "    config: {scal: 1, mode: medium, ratio: x}\n"
      "    inputs: {a: 1.5, extr: [], b: \"7\"}\n"
      "    confg: {}\n"
      "  lone: {inputs: {num: \"3\"}}\n"
      "  seed: [1]\n"
      "solids: {}\n"
      "execution:\n"
      "  multiprocess: {max_concurrent: 0}\n"
      "tags: {a: 1, b: [1]}\n"
      "resources: {}\n";
  const char *sets[] = {"garbage",
                        "ops.seed.config.start=[1,",
                        "ops.lone.config.start=2",
                        "ops.add_x=3",
                        "ops.add_x.config.x=1",
                        "tags=[1]",
                        "execution.in_process="};
  struct weft_run_config rc = {0};
  struct weft_diags d = WEFT_DIAGS_INIT;
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", text, strlen(text), sets, 7,
                                  &rc, &d),
            WEFT_EINVALID);
  ASSERT(rc.ops == NULL); /* untouched on failure */
  ASSERT_DIAG(
      &d,
      "override 'garbage': error: malformed override: expected PATH=VALUE, such as ops.NAME.config.KEY=VALUE");
  ASSERT_DIAG(
      &d,
      "override 'ops.seed.config.start=[1,': error: malformed override: its value is not valid YAML: YAML syntax error: did not find expected node content (while parsing a flow node at line 2, column 1)");
  ASSERT_DIAG(
      &d,
      "override 'ops.lone.config.start=2': error: unknown config key 'start' for op 'lone': op definition 'add_one' declares no config");
  ASSERT_DIAG(
      &d,
      "override 'ops.add_x.config.x=1': error: cannot apply override: 'add_x' is an integer, not a mapping");
  ASSERT_DIAG(
      &d,
      "override 'tags=[1]': error: tags must be a mapping of names to values, got a list");
  ASSERT_DIAG(
      &d,
      "override 'ops.add_x=3': error: ops.add_x must be a mapping with 'config' and 'inputs', got an integer");
  ASSERT_DIAG(
      &d,
      "override 'execution.in_process=': error: execution must name one executor, got both 'in_process' and 'multiprocess'");
  ASSERT_DIAG(
      &d,
      "rc.yaml:2:3: error: op 'totl' is not in job 'j' (did you mean 'total'?)");
  ASSERT_DIAG(
      &d,
      "rc.yaml:4:13: error: missing required config 'scale' (int) for op 'total'");
  ASSERT_DIAG(
      &d,
      "rc.yaml:4:14: error: unknown config key 'scal' for op 'total' (did you mean 'scale'?)");
  ASSERT_DIAG(
      &d,
      "rc.yaml:4:29: error: config 'mode' of op 'total' must be one of \"fast\", \"slow\", got \"medium\"");
  ASSERT_DIAG(
      &d,
      "rc.yaml:4:44: error: config 'ratio' of op 'total' must be float, got a string \"x\"");
  ASSERT_DIAG(
      &d,
      "rc.yaml:5:13: error: input 'extra' of op 'total' is not wired and has no default: set ops.total.inputs.extra in the run config");
  ASSERT_DIAG(
      &d,
      "rc.yaml:5:14: error: input 'a' of op 'total' is wired to 'add_x.result' in the job; it cannot also be set in the run config");
  ASSERT_DIAG(
      &d,
      "rc.yaml:5:22: error: op 'total' has no input 'extr' (did you mean 'extra'?)");
  ASSERT_DIAG(
      &d,
      "rc.yaml:5:35: error: input 'b' of op 'total' must be int, got a string \"7\"");
  ASSERT_DIAG(
      &d,
      "rc.yaml:6:5: error: unknown key 'confg' in ops.total of the run config (did you mean 'config'?)");
  ASSERT_DIAG(
      &d,
      "rc.yaml:7:24: error: input 'num' of op 'lone' must be int, got a string \"3\"");
  ASSERT_DIAG(
      &d,
      "rc.yaml:8:9: error: ops.seed must be a mapping with 'config' and 'inputs', got a list");
  ASSERT_DIAG(
      &d,
      "rc.yaml:9:1: error: both 'ops' and 'solids' are given; 'solids' is an alias of 'ops', use one");
  ASSERT_DIAG(
      &d,
      "rc.yaml:13:1: error: unknown key 'resources' in the run config (known keys: ops, solids, execution, tags)");
  ASSERT_EQ(d.n, 21);
  weft_diags_release(&d);

  /* nothing supplied: required config points at the job's invocation */
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", "", 0, NULL, 0, &rc, &d),
            WEFT_EINVALID);
  ASSERT_DIAG(
      &d,
      "jobs/j.yaml:4:3: error: missing required config 'scale' (int) for op 'total'");
  ASSERT_DIAG(
      &d,
      "jobs/j.yaml:4:3: error: input 'extra' of op 'total' is not wired and has no default: set ops.total.inputs.extra in the run config");
  ASSERT_DIAG(
      &d,
      "jobs/j.yaml:5:3: error: input 'num' of op 'lone' is not wired and has no default: set ops.lone.inputs.num in the run config");
  ASSERT_EQ(d.n, 3);
  weft_diags_release(&d);
  /* `ops:` present but without the op: point at `ops:` */
  const char *t2 = "ops: {seed: {}}\n";
  ASSERT_EQ(
      weft_run_config_build(job, "rc.yaml", t2, strlen(t2), NULL, 0, &rc, &d),
      WEFT_EINVALID);
  ASSERT_DIAG(
      &d,
      "rc.yaml:1:1: error: missing required config 'scale' (int) for op 'total'");
  weft_diags_release(&d);
  /* syntax errors and a non-mapping document */
  ASSERT_EQ(
      weft_run_config_build(job, "rc.yaml", "ops: [", 6, NULL, 0, &rc, &d),
      WEFT_EINVALID);
  ASSERT_CONTAINS(d.v[0].msg, "YAML syntax error");
  weft_diags_release(&d);
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", "- 1", 3, NULL, 0, &rc, &d),
            WEFT_EINVALID);
  ASSERT_DIAG(
      &d,
      "rc.yaml:1:1: error: a run config must be a mapping with 'ops', 'execution', 'tags', got a list");
  weft_diags_release(&d);
  weft_location_free(loc);
  return 0;
}

TEST(execution_forms) {
  struct weft_location *loc = load();
  ASSERT(loc);
  const struct weft_job *job = &loc->jobs[0];
  const char *base =
      "ops: {total: {config: {scale: 1}, inputs: {extra: []}}, "
      "lone: {inputs: {num: 1}}}\n";
  struct {
    const char *exec;
    int ok, executor, max;
  } cases[] = {
      {"execution: {in_process: {}}", 1, WEFT_EXECUTOR_IN_PROCESS, 0},
      {"execution: {in_process: {config: {}}}", 1, WEFT_EXECUTOR_IN_PROCESS, 0},
      {"execution: {in_process: {config: {x: 1}}}", 0, 0, 0},
      {"execution: {multiprocess: }", 1, WEFT_EXECUTOR_MULTIPROCESS, 0},
      {"execution: {multiprocess: {max_concurrent: 3}}", 1,
       WEFT_EXECUTOR_MULTIPROCESS, 3},
      {"execution: {multiprocess: {max_concurrent: 1.5}}", 0, 0, 0},
      {"execution: {multiprocess: {max_concurrent: 2, config: {max_concurrent: 3}}}",
       0, 0, 0},
      {"execution: {multiproces: {}}", 0, 0, 0},
      {"execution: 4", 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[512];
    snprintf(text, sizeof text, "%s%s\n", base, cases[i].exec);
    struct weft_run_config rc;
    struct weft_diags d = WEFT_DIAGS_INIT;
    int r = weft_run_config_build(job, "rc.yaml", text, strlen(text), NULL, 0,
                                  &rc, &d);
    if ((r == WEFT_OK) != cases[i].ok) {
      fprintf(stderr, "# case %zu: %s\n", i, cases[i].exec);
      weft_diags_print(&d, stderr);
      return 1;
    }
    if (r == WEFT_OK) {
      ASSERT_EQ(rc.executor, cases[i].executor);
      ASSERT_EQ(rc.max_concurrent, cases[i].max);
      weft_run_config_release(&rc);
    }
    weft_diags_release(&d);
  }
  struct weft_diags d = WEFT_DIAGS_INIT;
  struct weft_run_config rc;
  const char *t = "execution: {multiproces: {}}";
  weft_run_config_build(job, "rc.yaml", t, strlen(t), NULL, 0, &rc, &d);
  ASSERT_DIAG(
      &d,
      "rc.yaml:1:13: error: unknown key 'multiproces' in execution (did you mean 'multiprocess'?)");
  weft_diags_release(&d);
  t = "execution:\n  multiprocess: {max_concurrent: 0}\n";
  weft_run_config_build(job, "rc.yaml", t, strlen(t), NULL, 0, &rc, &d);
  ASSERT_DIAG(
      &d,
      "rc.yaml:2:34: error: execution.multiprocess.max_concurrent must be an integer >= 1, got '0'");
  weft_diags_release(&d);
  weft_location_free(loc);
  return 0;
}

TEST(garbage_run_configs_do_not_crash) {
  struct weft_location *loc = load();
  ASSERT(loc);
  const char *texts[] = {
      "\x01\x02\xff",
      "ops: {total: {config: [1], inputs: 5}}",
      "ops: 5\ntags: 1\nexecution: []",
      "ops: {total: {config: {scale: 99999999999999999999999999}}}",
      "&a ops: *a",
      "ops: {lone: {inputs: {num: {deep: {er: [1, [2, [3]]]}}}}}",
      "ops: {\"\": 1}\ntags: {\"\": x}",
  };
  const char *sets[] = {
      "=",       "ops..x=1",           ".=.", "a.b.c.d.e.f=1", "ops.lone=",
      "tags.=1", "ops.total.config=[1"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    struct weft_run_config rc;
    struct weft_diags d = WEFT_DIAGS_INIT;
    int r = weft_run_config_build(&loc->jobs[0], "rc.yaml", texts[i],
                                  strlen(texts[i]), sets, 7, &rc, &d);
    ASSERT(r != WEFT_OK && d.n > 0);
    weft_diags_release(&d);
  }
  weft_location_free(loc);
  return 0;
}

TEST_MAIN(TEST_ENTRY(defaults_and_precedence)
              TEST_ENTRY(json_solids_and_overrides)
                  TEST_ENTRY(every_error_at_once) TEST_ENTRY(execution_forms)
                      TEST_ENTRY(garbage_run_configs_do_not_crash))
