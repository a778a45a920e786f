/* test_dsl_branches.c: branches and composition in job files: optional
 * outputs, `when:` (implicit dependencies, names resolved, each mistake at
 * its file:line:col), `trigger:`, and `uses: job:NAME` flattened into
 * prefixed steps (wiring, config, after:, nesting, unknown jobs, cycles). */
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "model/when_expr.h"
#include "test.h"
#include "test_dsl_fixture.h"

static const char *ops_text =
    "check:\n"
    "  run: \"true\"\n"
    "  outputs:\n"
    "    status: dict\n"
    "    report: {type: string, optional: true}\n"
    "  config: {mode: {type: string, default: run}}\n"
    "use:\n"
    "  run: \"true\"\n"
    "  inputs: {x: any}\n"
    "plain:\n"
    "  run: \"true\"\n";

/* A location of the ops above and jobs/NAME.yaml for each (name, text). */
static struct weft_location *load_jobs(const char *const *jobs, size_t n) {
  struct weft_dsl_source src[8];
  char files[8][64];
  src[0] = (struct weft_dsl_source){WEFT_DSL_SOURCE_OPS, "ops/o.yaml", ops_text,
                                    strlen(ops_text)};
  for (size_t i = 0; i < n; i++) {
    snprintf(files[i], sizeof files[i], "jobs/%s.yaml", jobs[2 * i]);
    src[i + 1] = (struct weft_dsl_source){WEFT_DSL_SOURCE_JOB, files[i], jobs[2 * i + 1],
                                          strlen(jobs[2 * i + 1])};
  }
  struct weft_location *loc = NULL;
  if (weft_dsl_load_sources("loc", NULL, src, n + 1, &loc, NULL)) return NULL;
  return loc;
}

static struct weft_location *load(const char *job_text) {
  const char *jobs[] = {"j", job_text};
  return load_jobs(jobs, 1);
}

static const struct weft_invocation *inv(const struct weft_job *job, const char *name) {
  long i = weft_job_find_invocation(job, name);
  return i < 0 ? NULL : &job->ops[i];
}

TEST(optional_output) {
  struct weft_location *loc = load("graph:\n  check: {}\n  use:\n    inputs: {x: check.report}\n");
  ASSERT(loc && loc->diags.n == 0);
  const struct weft_op_def *d = weft_location_find_op(loc, "check");
  ASSERT(d && d->n_outputs == 2);
  ASSERT(!weft_op_def_find_output(d, "status")->optional);
  ASSERT(weft_op_def_find_output(d, "report")->optional);
  weft_location_free(loc);
  const char *bad_ops = "o:\n  run: x\n  outputs: {r: {type: int, optional: maybe}}\n"
                        "i:\n  run: x\n  inputs: {r: {type: int, optional: true}}\n";
  struct weft_dsl_source src[] = {{WEFT_DSL_SOURCE_OPS, "ops/o.yaml", bad_ops, strlen(bad_ops)}};
  ASSERT_EQ(weft_dsl_load_sources("loc", NULL, src, 1, &loc, NULL), WEFT_OK);
  ASSERT_DIAG(&loc->diags, "ops/o.yaml:3:38: error: output 'r' of op 'o': optional must be "
                           "true or false, got 'maybe'");
  ASSERT_DIAG(&loc->diags, "ops/o.yaml:6:27: error: unknown key 'optional' in input 'r' of op "
                           "'i' (known keys: type, description, default, asset)");
  weft_location_free(loc);
  return 0;
}

TEST(when_and_trigger) {
  struct weft_location *loc = load(
      "graph:\n"
      "  check: {}\n"
      "  a:\n"
      "    uses: plain\n"
      "    when: \"check.status.ok == true && config.x != 'dry'\"\n"
      "  b:\n"
      "    uses: check\n"
      "    when: config.mode == 'run'\n"
      "    trigger: all_done\n"
      "    after: [a]\n");
  ASSERT(loc);
  /* config.x: plain declares no config. */
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:5:39: error: op 'a': when: unknown config key 'x' (op "
                           "definition 'plain' declares no config)");
  ASSERT_EQ(loc->diags.n, 1);
  weft_location_free(loc);
  loc = load("graph:\n"
             "  a:\n"
             "    uses: plain\n"
             "    when: \"check.status.ok\"\n"
             "  check: {}\n"
             "  b:\n"
             "    uses: plain\n"
             "    trigger: one_failed\n"
             "    after: [a]\n");
  ASSERT(loc && loc->diags.n == 0 && loc->jobs[0].valid);
  const struct weft_job *job = &loc->jobs[0];
  /* The step a condition names is an upstream: check runs first. */
  ASSERT_STR_EQ(job->ops[0].name, "check");
  const struct weft_invocation *a = inv(job, "a");
  ASSERT(a && a->when && a->n_upstream == 1 && a->level == 1);
  ASSERT_STR_EQ(a->when->refs[0].step, "check");
  ASSERT_STR_EQ(a->when->refs[0].output, "status");
  ASSERT_EQ(inv(job, "b")->trigger, WEFT_TRIGGER_ONE_FAILED);
  ASSERT_EQ(a->trigger, WEFT_TRIGGER_ALL_SUCCESS);
  weft_location_free(loc);
  return 0;
}

TEST(when_errors) {
  struct weft_location *loc = load(
      "graph:\n"
      "  check: {}\n"
      "  a:\n"
      "    uses: plain\n"
      "    when: \"check.nope == 1\"\n"
      "  b:\n"
      "    uses: plain\n"
      "    when: 'ghost.out'\n"
      "  c:\n"
      "    uses: plain\n"
      "    when: check.status ==\n"
      "  d:\n"
      "    uses: plain\n"
      "    when: [x]\n"
      "  e:\n"
      "    uses: check\n"
      "    when: e.status\n"
      "  f:\n"
      "    uses: plain\n"
      "    trigger: sometimes\n"
      "  g:\n"
      "    uses: plain\n"
      "    when: config\n");
  ASSERT(loc && !loc->jobs[0].valid);
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:5:12: error: op 'a': when: step 'check' has no output "
                           "'nope'");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:8:12: error: op 'b': when: unknown step 'ghost'");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:11:26: error: op 'c': when: expected a value (a name, "
                           "number, string, true, false, null or '('), got the end");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:14:11: error: op 'd': when must be a condition in a "
                           "string, got a list");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:17:11: error: op 'e': when: a step's condition cannot "
                           "use its own outputs");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:20:14: error: op 'f': unknown trigger 'sometimes' (one "
                           "of all_success, all_done, one_failed, none_failed, all_skipped)");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:23:11: error: op 'g': when: 'config' needs a key "
                           "(config.KEY)");
  ASSERT_EQ(loc->diags.n, 7);
  weft_location_free(loc);
  return 0;
}

TEST(composition_flattens) {
  const char *jobs[] = {
      "sub",
      "graph:\n"
      "  check: {}\n"
      "  use:\n"
      "    inputs: {x: check.status}\n"
      "    when: \"check.status.ok\"\n"
      "  last:\n"
      "    uses: use\n",
      "mid",
      "graph:\n"
      "  inner:\n"
      "    uses: job:sub\n"
      "    inputs: {last.x: first}\n"
      "  first: plain\n",
      "top",
      "graph:\n"
      "  start: plain\n"
      "  part:\n"
      "    uses: job:sub\n"
      "    inputs: {last.x: start}\n"
      "    config: {check: {mode: fast}}\n"
      "    after: [start]\n"
      "  deep:\n"
      "    uses: job:mid\n"
      "  report:\n"
      "    uses: use\n"
      "    inputs: {x: part.check.report}\n"
      "    when: \"part.check.status.n > 1 && deep.inner.check.status.ok\"\n"
      "  tail:\n"
      "    uses: plain\n"
      "    after: [part]\n"};
  struct weft_location *loc = load_jobs(jobs, 3);
  ASSERT(loc);
  if (loc->diags.n) {
    char *all = fx_diags(&loc->diags);
    fprintf(stderr, "# %s\n", all);
    free(all);
  }
  ASSERT_EQ(loc->diags.n, 0);
  const struct weft_job *top = weft_location_find_job(loc, "top");
  ASSERT(top && top->valid);
  /* start, part.{check,use,last}, deep.first, deep.inner.{check,use,last},
   * report, tail */
  ASSERT_EQ(top->n_ops, 10);
  const struct weft_invocation *c = inv(top, "part.check");
  ASSERT(c && c->def && !strcmp(c->def->name, "check"));
  ASSERT_STR_EQ(json_string_value(json_object_get(c->config, "mode")), "fast");
  ASSERT(c->n_after == 1 && !strcmp(c->after[0].op, "start")); /* after: on its first steps */
  const struct weft_invocation *u = inv(top, "part.use");
  ASSERT(u && u->n_wires == 1 && !strcmp(u->wires[0].from_op, "part.check"));
  ASSERT_STR_EQ(u->when->refs[0].step, "part.check");
  const struct weft_invocation *l = inv(top, "part.last");
  ASSERT(l && l->n_wires == 1 && !strcmp(l->wires[0].from_op, "start"));
  const struct weft_invocation *dl = inv(top, "deep.inner.last");
  ASSERT(dl && !strcmp(dl->wires[0].from_op, "deep.first"));
  const struct weft_invocation *r = inv(top, "report");
  ASSERT_STR_EQ(r->wires[0].from_op, "part.check");
  ASSERT_STR_EQ(r->wires[0].from_output, "report");
  ASSERT_STR_EQ(r->when->refs[0].step, "part.check");
  ASSERT_STR_EQ(r->when->refs[1].step, "deep.inner.check");
  ASSERT_EQ(r->n_upstream, 2);
  const struct weft_invocation *t = inv(top, "tail");
  ASSERT_EQ(t->n_after, 3); /* every step of part */
  /* Topological: every upstream comes first. */
  for (size_t i = 0; i < top->n_ops; i++)
    for (size_t k = 0; k < top->ops[i].n_upstream; k++) ASSERT(top->ops[i].upstream[k] < i);
  weft_location_free(loc);
  return 0;
}

TEST(composition_errors) {
  const char *jobs[] = {
      "a", "graph:\n  x:\n    uses: job:b\n",
      "b", "graph:\n  y:\n    uses: job:a\n",
      "c", "graph:\n  z:\n    uses: job:nowhere\n  w:\n    uses: \"job:\"\n",
      "d",
      "graph:\n"
      "  s:\n"
      "    uses: job:e\n"
      "    inputs: {check.x: t, nope.x: t, use.x: t, use.y: t}\n"
      "    config: {ghost: {}}\n"
      "  t: plain\n"
      "  u:\n"
      "    uses: use\n"
      "    inputs: {x: s.check.missing}\n",
      "e", "graph:\n  check: {}\n  use:\n    inputs: {x: check.status}\n",
      "f", "graph:\n  k:\n    uses: job:e\n    when: \"true\"\n    trigger: all_done\n"};
  struct weft_location *loc = load_jobs(jobs, 6);
  ASSERT(loc);
  ASSERT_DIAG(&loc->diags, "jobs/b.yaml:2:3: error: cycle through sub-jobs: a -> b -> a");
  ASSERT_DIAG(&loc->diags, "jobs/a.yaml:2:3: error: op 'x' uses job 'b', which has errors");
  ASSERT_DIAG(&loc->diags, "jobs/c.yaml:2:3: error: op 'z' uses unknown job 'nowhere'");
  ASSERT_DIAG(&loc->diags, "jobs/c.yaml:5:11: error: op 'w': 'uses: job:NAME' needs a job "
                           "name, got 'job:'");
  ASSERT_DIAG(&loc->diags, "jobs/d.yaml:4:23: error: op 's': step 'check' of job 'e' has no "
                           "input 'x'");
  ASSERT_DIAG(&loc->diags, "jobs/d.yaml:4:34: error: op 's': input 'nope.x' must name a step "
                           "of job 'e' and its input (STEP.INPUT)");
  ASSERT_DIAG(&loc->diags, "jobs/d.yaml:4:44: error: op 's': input 'x' of step 'use' is "
                           "already wired in job 'e'");
  ASSERT_DIAG(&loc->diags, "jobs/d.yaml:4:54: error: op 's': step 'use' of job 'e' has no "
                           "input 'y'");
  ASSERT_DIAG(&loc->diags, "jobs/d.yaml:2:3: error: op 's': config key 'ghost' is not a step "
                           "of the sub-job");
  ASSERT_DIAG(&loc->diags, "jobs/f.yaml:3:11: error: op 'k': when: and trigger: are not taken "
                           "by a sub-job (uses: job:e); set them on the steps of job 'e'");
  ASSERT(!weft_location_find_job(loc, "d")->valid);
  ASSERT(weft_location_find_job(loc, "e")->valid);
  weft_location_free(loc);
  /* A wire to an output the sub-job's step does not have. */
  const char *jobs2[] = {
      "d",
      "graph:\n  s:\n    uses: job:e\n  u:\n    uses: use\n    inputs: {x: s.check.missing}\n",
      "e", "graph:\n  check: {}\n"};
  loc = load_jobs(jobs2, 2);
  ASSERT(loc);
  ASSERT_DIAG(&loc->diags, "jobs/d.yaml:6:17: error: op 'u': step 's.check' has no output "
                           "'missing' (wired to input 'x')");
  weft_location_free(loc);
  return 0;
}

TEST_MAIN(TEST_ENTRY(optional_output) TEST_ENTRY(when_and_trigger) TEST_ENTRY(when_errors)
              TEST_ENTRY(composition_flattens) TEST_ENTRY(composition_errors))
