/* test_dsl_location.c: code locations from folders: the valid model (wiring,
 * order, levels) and every validation error with its exact file:line:col. */
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "dsl/python.h"
#include "test.h"
#include "test_dsl_fixture.h"
#include "util/buf.h"
#include "util/clock.h"

static const char *math_ops =
    "add_one:\n"
    "  description: adds one\n"
    "  run: \"python3 add_one.py\"\n"
    "  inputs: {num: int}\n"
    "  outputs: {result: int}\n"
    "seed:\n"
    "  run: echo 1\n"
    "  outputs: {result: int}\n"
    "sum:\n"
    "  argv: [python3, sum.py]\n"
    "  inputs:\n"
    "    a: float\n"
    "    b: {type: int, description: second, default: 0}\n"
    "  outputs: {total: float}\n"
    "  config:\n"
    "    scale: {type: int, required: true}\n"
    "    mode: {type: string, default: fast, enum: [fast, slow]}\n"
    "  retries: {max: 2, delay: 1.5, backoff: 2, jitter: 0.5}\n"
    "  timeout: 1h30m\n"
    "  queue: gpu\n"
    "  image: python:3.12\n"
    "  env: {PYTHONUNBUFFERED: 1, MODE: fast}\n"
    "  tags: {owner: data}\n";

static const char *arith_job =
    "description: Arithmetic\n"
    "ops:\n"
    "  split: {run: \"echo\", outputs: {low: int, high: int}}\n"
    "graph:\n"
    "  total:\n"
    "    uses: sum\n"
    "    inputs: {a: add_one_a, b: add_one_b}\n"
    "    config: {scale: 2}\n"
    "  add_x:\n"
    "    uses: add_one\n"
    "    inputs: {num: seed}\n"
    "  add_one_a: {uses: add_one, inputs: {num: add_x}}\n"
    "  add_one_b: {uses: add_one, inputs: {num: split.high}}\n"
    "  seed:\n"
    "  split: split\n"
    "  add_one_c: add_one\n";

TEST(valid_job_with_dot_wiring) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("ops/math.yaml", math_ops), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/arith.yaml", arith_job), WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  if (loc->diags.n) weft_diags_print(&loc->diags, stderr);
  ASSERT_EQ(loc->diags.n, 0);
  ASSERT_STR_EQ(loc->name, "here");
  ASSERT(loc->path[0] == '/');
  ASSERT_EQ(loc->n_files, 2);
  ASSERT_STR_EQ(loc->files[0], "ops/math.yaml");
  ASSERT_STR_EQ(loc->files[1], "jobs/arith.yaml");
  ASSERT_EQ(loc->n_ops, 3);
  ASSERT_STR_EQ(loc->ops[0].name, "add_one");
  ASSERT_STR_EQ(loc->ops[2].name, "sum");

  const struct weft_op_def *sum = weft_location_find_op(loc, "sum");
  ASSERT(sum);
  ASSERT(weft_location_find_op(loc, "split") == NULL); /* inline: job only */
  ASSERT(sum->argv && !strcmp(sum->argv[0], "python3") &&
         !strcmp(sum->argv[1], "sum.py"));
  ASSERT(sum->argv[2] == NULL);
  ASSERT(sum->run == NULL && sum->c_function == NULL);
  ASSERT_EQ(sum->n_inputs, 2);
  ASSERT_EQ(sum->inputs[0].type, WEFT_TYPE_FLOAT);
  ASSERT_STR_EQ(sum->inputs[1].description, "second");
  ASSERT(json_integer_value(sum->inputs[1].default_value) == 0);
  ASSERT_STR_EQ(weft_op_def_find_output(sum, "total")->name, "total");
  const struct weft_config_field *mode = weft_op_def_find_config(sum, "mode");
  ASSERT(mode && mode->type == WEFT_TYPE_STRING &&
         json_array_size(mode->enum_values) == 2);
  ASSERT(weft_op_def_find_config(sum, "scale")->required);
  ASSERT_EQ(sum->retry.max, 2);
  ASSERT(sum->retry.delay_s == 1.5 && sum->retry.backoff == 2 &&
         sum->retry.jitter == 0.5);
  ASSERT(sum->timeout_s == 5400);
  ASSERT_STR_EQ(sum->queue, "gpu");
  ASSERT_STR_EQ(sum->image, "python:3.12");
  ASSERT_EQ(sum->env.n, 2);
  ASSERT_STR_EQ(sum->env.v[0].key, "PYTHONUNBUFFERED");
  ASSERT_STR_EQ(sum->env.v[0].value, "1");
  ASSERT_STR_EQ(sum->tags.v[0].value, "data");
  ASSERT_STR_EQ(sum->mark.file, "ops/math.yaml");
  ASSERT_EQ(sum->mark.line, 9);
  ASSERT_EQ(sum->mark.col, 1);
  const struct weft_op_def *seed = weft_location_find_op(loc, "seed");
  ASSERT_STR_EQ(seed->queue, "default");
  ASSERT_EQ(seed->retry.max, 0);
  ASSERT(seed->retry.backoff == 1 && seed->timeout_s == 0);

  const struct weft_job *job = weft_location_find_job(loc, "arith");
  ASSERT(job && job->valid);
  ASSERT(job->location == loc);
  ASSERT_STR_EQ(job->description, "Arithmetic");
  ASSERT_EQ(job->n_inline_ops, 1);
  ASSERT_EQ(job->inline_ops[0].n_outputs, 2);
  ASSERT_EQ(job->n_ops, 7);
  /* Kahn order, declaration order among ready ops:
   * ready {add_x? no: seed, split, add_one_c} -> seed first (declared before
   * split) */
  const char *order[] = {"seed",      "add_x", "add_one_a", "split",
                         "add_one_b", "total", "add_one_c"};
  for (size_t i = 0; i < 7; i++) ASSERT_STR_EQ(job->ops[i].name, order[i]);
  int levels[] = {0, 1, 2, 0, 1, 3, 0};
  for (size_t i = 0; i < 7; i++) ASSERT_EQ(job->ops[i].level, levels[i]);
  long t = weft_job_find_invocation(job, "total");
  ASSERT_EQ(t, 5);
  ASSERT_EQ(weft_job_find_invocation(job, "nope"), -1);
  const struct weft_invocation *total = &job->ops[t];
  ASSERT(total->def == sum);
  ASSERT_EQ(total->n_upstream, 2);
  ASSERT_EQ(total->upstream[0], 2);
  ASSERT_EQ(total->upstream[1], 4);
  ASSERT_EQ(json_integer_value(json_object_get(total->config, "scale")), 2);
  const struct weft_invocation *b = &job->ops[4];
  ASSERT(b->def == weft_location_find_op(loc, "add_one"));
  ASSERT_EQ(b->n_wires, 1);
  ASSERT_STR_EQ(b->wires[0].input, "num");
  ASSERT_STR_EQ(b->wires[0].from_op, "split");
  ASSERT_STR_EQ(b->wires[0].from_output, "high");
  ASSERT_EQ(b->wires[0].from_index, 3);
  ASSERT_EQ(b->wires[0].mark.line, 13);
  ASSERT_EQ(b->wires[0].mark.col, 44);
  ASSERT(job->ops[3].def == &job->inline_ops[0]);
  ASSERT_STR_EQ(job->ops[1].wires[0].from_output, "result");
  ASSERT_STR_EQ(job->ops[6].uses, "add_one");
  ASSERT_STR_EQ(job->ops[0].uses, "seed");
  ASSERT_EQ(job->ops[0].mark.line, 14);
  /* an op without outputs has one `result` of type any */
  const struct weft_op_def *c_def = job->ops[6].def;
  ASSERT_EQ(c_def->n_outputs, 1);
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(other_op_file_forms) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  /* one op with its fields at the top level, named by the file */
  ASSERT_EQ(fx_write("ops/hello.yaml", "run: echo hello\ntimeout: 30\n"),
            WEFT_OK);
  /* a list of named ops */
  ASSERT_EQ(fx_write("ops/list.yml",
                     "- {name: one, c_function: my_one, timeout: \"250ms\"}\n"
                     "- {name: two, run: x, retries: 3}\n"),
            WEFT_OK);
  ASSERT_EQ(
      fx_write("jobs/j.yaml",
               "name: renamed\ngraph:\n  hello:\n  two: {after: [hello, one]}\n"
               "  one: {after: hello}\n"),
      WEFT_OK);
  ASSERT_EQ(fx_write("ops/empty.yaml", ""), WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  if (loc->diags.n) weft_diags_print(&loc->diags, stderr);
  ASSERT_EQ(loc->diags.n, 0);
  ASSERT_EQ(loc->n_ops, 3);
  ASSERT(weft_location_find_op(loc, "hello")->timeout_s == 30);
  ASSERT_STR_EQ(weft_location_find_op(loc, "one")->c_function, "my_one");
  ASSERT(weft_location_find_op(loc, "one")->timeout_s == 0.25);
  ASSERT_EQ(weft_location_find_op(loc, "two")->retry.max, 3);
  const struct weft_job *job = weft_location_find_job(loc, "renamed");
  ASSERT(job && job->valid);
  ASSERT_STR_EQ(job->ops[0].name, "hello");
  ASSERT_STR_EQ(job->ops[1].name, "one");
  ASSERT_STR_EQ(job->ops[2].name, "two");
  ASSERT_EQ(job->ops[2].n_after, 2);
  ASSERT_EQ(job->ops[2].after[1].index, 1);
  ASSERT_EQ(job->ops[2].n_upstream, 2);
  ASSERT_EQ(job->ops[2].level, 2);
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(unknown_keys_and_field_types) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(
      fx_write("jobs/a.yaml",
               "ops:\n"
               "  add_x:\n"
               "    ouputs: {x: int}\n"
               "    run: echo\n"
               "    retries: {max: -1, delay: -2, backoff: 0.5, jitter: 2}\n"
               "    timeout: soon\n"
               "    inputs: {n: intt, m: [1]}\n"
               "    config:\n"
               "      k: {type: int, default: \"s\"}\n"
               "      m: {type: string, default: c, enum: [a, b]}\n"
               "      r: {type: int, required: maybe}\n"
               "    queue: \"\"\n"
               "    env: {1A: x, B: [1]}\n"
               "graph:\n"
               "  add_x: {inptus: {}}\n"
               "grahp: {}\n"),
      WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  struct weft_diags *d = &loc->diags;
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:3:5: error: unknown key 'ouputs' in op 'add_x' (did you mean 'outputs'?)");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:5:20: error: op 'add_x': retries.max must be an integer >= 0, got '-1'");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:5:31: error: op 'add_x': retries.delay must be a number of seconds >= 0 or a duration like \"10s\", got '-2'");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:5:44: error: op 'add_x': retries.backoff must be a number >= 1, got '0.5'");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:5:57: error: op 'add_x': retries.jitter must be a number between 0 and 1, got '2'");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:6:14: error: op 'add_x': timeout must be a number of seconds > 0 or a duration like \"30s\", \"5m\", \"1h\", got 'soon'");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:7:17: error: unknown type 'intt' for input 'n' of op 'add_x' (did you mean 'int'?)");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:7:26: error: input 'm' of op 'add_x' must be a type name or a mapping with 'type', got a list");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:9:31: error: default of config 'k' of op 'add_x' must be int, got a string \"s\"");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:10:34: error: default \"c\" of config 'm' of op 'add_x' is not one of its enum values: \"a\", \"b\"");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:11:32: error: config 'r' of op 'add_x': required must be true or false, got 'maybe'");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:12:12: error: op 'add_x': queue must be a non-empty string, got ''");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:13:11: error: op 'add_x': '1A' is not a valid environment variable name");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:13:21: error: op 'add_x': env 'B' must be a scalar value, {from_env: VAR}, {secret: NAME} or {variable: NAME}, got a list");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:15:11: error: unknown key 'inptus' in op 'add_x' (did you mean 'inputs'?)");
  ASSERT_DIAG(
      d,
      "jobs/a.yaml:16:1: error: unknown key 'grahp' in job 'a' (did you mean 'graph'?)");
  ASSERT_EQ(d->n, 16);
  ASSERT_EQ(loc->jobs[0].valid, 0);
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(graph_resolution_errors) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("ops/math.yaml", math_ops), WEFT_OK);
  ASSERT_EQ(
      fx_write(
          "jobs/bad.yaml",
          "ops:\n"
          "  split: {run: echo, outputs: {low: int, high: string}}\n"
          "graph:\n"
          "  split:\n"
          "  a: {uses: add_on, inputs: {num: seed}}\n"
          "  b: {uses: add_one, inputs: {nm: split.low}}\n"
          "  c: {uses: add_one, inputs: {num: split.hi}}\n"
          "  d: {uses: add_one, inputs: {num: splt}}\n"
          "  e: {uses: add_one, inputs: {num: split.high}}\n"
          "  f: {uses: sum, inputs: {a: split.low, b: e}, config: {scal: 2, mode: medium, scale: x}}\n"
          "  g: {uses: seed, after: [f, zzz], inputs: {x: f.}}\n"
          "  bogus:\n"
          "  1bad: seed\n"),
      WEFT_OK);
  ASSERT_EQ(
      fx_write("jobs/good.yaml",
               "graph:\n  s: seed\n  a: {uses: add_one, inputs: {num: s}}\n"),
      WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  struct weft_diags *d = &loc->diags;
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:5:13: error: op 'a' uses unknown op definition 'add_on' (did you mean 'add_one'?)");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:5:35: error: unknown upstream op 'seed' wired to input 'num' of op 'a' (that is an op definition: add an op that uses it to the graph and wire from that)");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:6:31: error: op 'b' has no input 'nm' (did you mean 'num'?); op definition 'add_one' declares: num");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:7:36: error: op 'split' has no output 'hi' (wired to input 'num' of op 'c'); its outputs: low, high");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:8:36: error: unknown upstream op 'splt' wired to input 'num' of op 'd' (did you mean 'split'?)");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:9:36: error: type mismatch: output 'split.high' is string but input 'num' of op 'e' is int");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:10:57: error: unknown config key 'scal' for op 'f' (did you mean 'scale'?)");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:10:72: error: config 'mode' of op 'f' must be one of \"fast\", \"slow\", got \"medium\"");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:10:87: error: config 'scale' of op 'f' must be int, got a string \"x\"");
  ASSERT_DIAG(
      d, "jobs/bad.yaml:11:30: error: op 'g': unknown op 'zzz' in 'after'");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:11:48: error: op 'g': malformed wire 'f.' for input 'x' (use 'other_op' or 'other_op.output')");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:12:3: error: no op definition named 'bogus' (op 'bogus' has no 'uses:', so its own name is used)");
  ASSERT_DIAG(
      d,
      "jobs/bad.yaml:13:3: error: invalid op name '1bad' in graph (use letters, digits, '_' and '-', starting with a letter or '_')");
  ASSERT_EQ(d->n, 13);
  /* int -> float (f.a from split.low) and any -> int (e.b) are fine */
  const struct weft_job *bad = weft_location_find_job(loc, "bad");
  const struct weft_job *good = weft_location_find_job(loc, "good");
  ASSERT(bad && !bad->valid);
  ASSERT(good && good->valid);
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(duplicates_cycles_and_missing_fields) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(
      fx_write(
          "ops/a.yaml",
          "one: {run: echo}\ntwo: {run: echo}\nnothing: {description: x}\n"),
      WEFT_OK);
  ASSERT_EQ(fx_write("ops/b.yaml",
                     "one: {run: echo 2}\n"
                     "both: {run: x, argv: [y]}\n"
                     "bad name: {run: x}\n"
                     "notmap: echo\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("jobs/first.yaml", "name: same\ngraph: {x: one}\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("jobs/second.yaml", "name: same\ngraph: {x: two}\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("jobs/inline.yaml",
                     "ops:\n  two: {run: echo}\ngraph:\n  t: two\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("jobs/cycle.yaml",
                     "ops:\n"
                     "  f: {run: x, inputs: {i: any, j: any}}\n"
                     "graph:\n"
                     "  root: {uses: f}\n"
                     "  c: {uses: f, inputs: {i: b}}\n"
                     "  a: {uses: f, inputs: {i: c, j: root}}\n"
                     "  b: {uses: f, inputs: {i: a}}\n"
                     "  d: {uses: f, inputs: {i: c}}\n"
                     "  s: {uses: f, after: [s]}\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("jobs/uses_broken.yaml", "graph: {x: nothing}\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("jobs/empty.yaml", ""), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/nograph.yaml", "description: nothing\n"), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/dupkey.yaml", "graph:\n  x: one\n  x: two\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("jobs/syntax.yaml", "graph: [1\nb: 2\n"), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/list.yaml", "- 1\n"), WEFT_OK);
  ASSERT_EQ(
      fx_write("jobs/fine.yaml", "graph: {x: one, y: {uses: two, after: x}}\n"),
      WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  struct weft_diags *d = &loc->diags;
  ASSERT_DIAG(
      d, "jobs/cycle.yaml:5:3: error: cycle in job 'cycle': c -> a -> b -> c");
  ASSERT_DIAG(d, "jobs/cycle.yaml:9:3: error: cycle in job 'cycle': s -> s");
  ASSERT_DIAG(
      d,
      "jobs/dupkey.yaml:3:3: error: duplicate key 'x' (first defined at line 2, column 3)");
  ASSERT_DIAG(
      d,
      "jobs/empty.yaml: error: job file is empty: a job needs a 'graph:' of op invocations");
  ASSERT_DIAG(
      d,
      "jobs/inline.yaml:2:3: error: duplicate op 'two': defined inline in job 'inline' and in ops/a.yaml:2:1");
  ASSERT_DIAG(
      d,
      "jobs/list.yaml:1:1: error: a job file must be a mapping with 'graph:', 'ops:', 'description:', got a list");
  ASSERT_DIAG(
      d,
      "jobs/nograph.yaml:1:1: error: job 'nograph' has no 'graph:' (a mapping of op invocations)");
  ASSERT_DIAG(
      d,
      "jobs/second.yaml:1:7: error: duplicate job 'same' (first defined at jobs/first.yaml:1:7)");
  ASSERT_DIAG(
      d,
      "jobs/syntax.yaml:2:2: error: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 8)");
  ASSERT_DIAG(
      d,
      "jobs/uses_broken.yaml:1:12: error: op 'x' uses op definition 'nothing', which has errors (see ops/a.yaml:3:1)");
  ASSERT_DIAG(
      d,
      "ops/a.yaml:3:1: error: op 'nothing' says nothing to run: give one of 'run' (a shell command), 'argv' (a list) or 'c_function'");
  ASSERT_DIAG(
      d,
      "ops/b.yaml:1:1: error: duplicate op 'one' (first defined at ops/a.yaml:1:1)");
  ASSERT_DIAG(
      d,
      "ops/b.yaml:2:16: error: op 'both' has both 'run' (line 2) and 'argv'; give exactly one of 'run', 'argv' or 'c_function'");
  ASSERT_DIAG(
      d,
      "ops/b.yaml:3:1: error: invalid op name 'bad name' (use letters, digits, '_' and '-', starting with a letter or '_')");
  ASSERT_DIAG(
      d,
      "ops/b.yaml:4:9: error: op 'notmap' must be a mapping of op fields ('run', 'inputs', ...), got a string");
  ASSERT_EQ(d->n, 15);
  /* the YAML error did not stop the other files; the broken job is listed */
  const struct weft_job *fine = weft_location_find_job(loc, "fine");
  ASSERT(fine && fine->valid);
  ASSERT_EQ(fine->ops[1].n_upstream, 1);
  const struct weft_job *syntax = weft_location_find_job(loc, "syntax");
  ASSERT(syntax && !syntax->valid && syntax->n_ops == 0);
  const struct weft_job *same = weft_location_find_job(loc, "same");
  ASSERT(same && same->valid);
  ASSERT_STR_EQ(same->mark.file, "jobs/first.yaml");
  ASSERT(!weft_location_find_job(loc, "cycle")->valid);
  ASSERT(weft_location_find_op(loc, "one")->run &&
         !strcmp(weft_location_find_op(loc, "one")->run, "echo"));
  /* diagnostics are sorted by file, line, column */
  for (size_t i = 1; i < d->n; i++) {
    int c = strcmp(d->v[i - 1].file, d->v[i].file);
    ASSERT(c < 0 || (c == 0 && d->v[i - 1].line <= d->v[i].line));
  }
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(topological_order_is_stable) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(
      fx_write("ops/o.yaml",
               "w: {run: x, inputs: {x: any, y: {type: any, default: 1}}}\n"),
      WEFT_OK);
  ASSERT_EQ(fx_write("jobs/j.yaml",
                     "graph:\n"
                     "  z: {uses: w, inputs: {x: y}}\n"
                     "  a: w\n"
                     "  y: {uses: w, inputs: {x: b}}\n"
                     "  b: w\n"
                     "  c: {uses: w, inputs: {x: a, y: a}}\n"),
            WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  ASSERT_EQ(loc->diags.n, 0);
  const struct weft_job *job = &loc->jobs[0];
  /* ready at start: a, b; once both ran, y (declared 3rd) and c (5th) are
   * ready and y goes first; z becomes ready only after y, yet still before c
   * because z was declared first */
  const char *order[] = {"a", "b", "y", "z", "c"};
  int levels[] = {0, 0, 1, 2, 1};
  for (size_t i = 0; i < 5; i++) {
    ASSERT_STR_EQ(job->ops[i].name, order[i]);
    ASSERT_EQ(job->ops[i].level, levels[i]);
  }
  /* c wires a twice: one distinct upstream */
  ASSERT_EQ(job->ops[4].n_upstream, 1);
  ASSERT_EQ(job->ops[4].upstream[0], 0);
  ASSERT_EQ(job->ops[4].wires[1].from_index, 0);
  ASSERT_EQ(job->ops[3].wires[0].from_index, 2);
  for (size_t i = 0; i < 5; i++)
    ASSERT_EQ(weft_job_find_invocation(job, order[i]), (long)i);
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

/* The form: invocations listed under `ops:`, next to inline
 * definitions (which have something to run) in the same mapping. */
TEST(invocations_under_ops) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("ops/o.yaml", "add_one: {run: x, inputs: {num: int}, outputs: {result: int}}\n"),
            WEFT_OK);
  ASSERT_EQ(fx_write("jobs/j.yaml",
                     "ops:\n"
                     "  seed: {run: echo 1, outputs: {result: int}}\n"
                     "  first: {uses: seed}\n"
                     "  add_one: {inputs: {num: first}}\n"
                     "  again: {uses: add_one, inputs: {num: add_one}, after: [first]}\n"),
            WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  ASSERT_EQ(loc->diags.n, 0);
  const struct weft_job *job = &loc->jobs[0];
  ASSERT_EQ(job->n_inline_ops, 1);
  ASSERT_STR_EQ(job->inline_ops[0].name, "seed");
  ASSERT_EQ(job->n_ops, 3);
  ASSERT_STR_EQ(job->ops[0].name, "first");
  ASSERT_STR_EQ(job->ops[1].name, "add_one");
  ASSERT_STR_EQ(job->ops[1].uses, "add_one");
  ASSERT_STR_EQ(job->ops[2].name, "again");
  ASSERT_EQ(job->ops[2].level, 2);
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(location_errors_and_in_memory_sources) {
  struct weft_location *loc = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_location_load("/nonexistent/weft-loc", NULL, &loc, &err),
            WEFT_ENOTFOUND);
  ASSERT(loc == NULL);
  ASSERT_CONTAINS(err.msg, "/nonexistent/weft-loc");
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(weft_fs_mkdirs("plain", NULL), WEFT_OK);
  ASSERT_EQ(weft_location_load("plain", NULL, &loc, &err), WEFT_OK);
  ASSERT_STR_EQ(loc->name, "plain");
  ASSERT_DIAG(
      &loc->diags,
      "plain: error: no ops/ or jobs/ folder: this does not look like a code location");
  weft_location_free(loc);
  /* files are named as the folder was given */
  ASSERT_EQ(fx_write("loc/jobs/x.yaml", "graph: {a: nope}\n"), WEFT_OK);
  ASSERT_EQ(weft_location_load("loc", NULL, &loc, &err), WEFT_OK);
  ASSERT_DIAG(
      &loc->diags,
      "loc/jobs/x.yaml:1:12: error: op 'a' uses unknown op definition 'nope'");
  weft_location_free(loc);

  struct weft_dsl_source src[] = {
      {WEFT_DSL_SOURCE_OPS, "ops/mem.yaml", "e: {run: echo}\nextra", 14},
      {WEFT_DSL_SOURCE_JOB, "jobs/mem.yaml",
       "graph: {a: e, b: {uses: e, after: [a]}}", 39},
  };
  ASSERT_EQ(weft_dsl_load_sources("mem", NULL, src, 2, &loc, &err), WEFT_OK);
  ASSERT_EQ(loc->diags.n, 0);
  ASSERT_STR_EQ(loc->path, "");
  ASSERT(loc->jobs[0].valid && loc->jobs[0].n_ops == 2);
  weft_location_free(loc);
  double secs = -1;
  ASSERT_EQ(weft_dsl_parse_duration("1h30m", &secs), WEFT_OK);
  ASSERT(secs == 5400);
  ASSERT_EQ(weft_dsl_parse_duration("2d 100ms", &secs), WEFT_OK);
  ASSERT(secs == 172800.1);
  ASSERT_EQ(weft_dsl_parse_duration("12", &secs), WEFT_OK);
  ASSERT(secs == 12);
  ASSERT_EQ(weft_dsl_parse_duration("5 m", &secs), WEFT_EINVALID);
  ASSERT_EQ(weft_dsl_parse_duration("", &secs), WEFT_EINVALID);
  ASSERT_EQ(weft_dsl_parse_duration("-1s", &secs), WEFT_EINVALID);
  ASSERT_EQ(weft_dsl_parse_duration("3x", &secs), WEFT_EINVALID);
  fx_leave_tmp(dir);
  return 0;
}

/* One 10,000-op job (each op wired to 1-3 upstreams) plus 200 small jobs:
 * the load must stay linear. The bound is loose so ASan builds pass too. */
TEST(large_location_loads) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(
      fx_write(
          "ops/ops.yaml",
          "src: {run: echo 1, outputs: {result: int}}\n"
          "join:\n"
          "  run: cat\n"
          "  inputs: {a: int, b: {type: int, default: 0}, c: {type: int, default: 0}}\n"
          "  outputs: {result: int, extra: float}\n"
          "  config: {k: {type: int, default: 1}}\n"),
      WEFT_OK);
  struct weft_buf big = WEFT_BUF_INIT;
  weft_buf_adds(&big, "graph:\n  n0: src\n");
  unsigned seed = 1;
  for (int i = 1; i < 10000; i++) {
    int k = 1 + (int)(rand_r(&seed) % 3);
    weft_buf_addf(&big, "  n%d: {uses: join, config: {k: %d}, inputs: {", i, i);
    for (int j = 0; j < k; j++)
      weft_buf_addf(&big, "%s%c: n%d", j ? ", " : "", "abc"[j],
                    (int)(rand_r(&seed) % i));
    weft_buf_adds(&big, "}}\n");
  }
  ASSERT_EQ(fx_write("jobs/big.yaml", big.ptr), WEFT_OK);
  weft_buf_release(&big);
  for (int j = 0; j < 200; j++) {
    char path[64], text[128];
    snprintf(path, sizeof path, "jobs/j%03d.yaml", j);
    snprintf(
        text, sizeof text,
        "graph:\n  s: src\n  o: {uses: join, inputs: {a: s, b: s.result}}\n");
    ASSERT_EQ(fx_write(path, text), WEFT_OK);
  }
  struct weft_location *loc = NULL;
  double t0 = weft_clock_mono_s();
  LOAD_HERE(loc);
  double ms = (weft_clock_mono_s() - t0) * 1000;
  fprintf(stderr, "# loaded 10,000 ops + 200 jobs in %.1f ms\n", ms);
  ASSERT_EQ(loc->diags.n, 0);
  ASSERT_EQ(loc->n_jobs, 201);
  const struct weft_job *job = weft_location_find_job(loc, "big");
  ASSERT(job && job->valid && job->n_ops == 10000);
  for (size_t i = 0; i < job->n_ops; i++)
    for (size_t u = 0; u < job->ops[i].n_upstream; u++)
      ASSERT(job->ops[i].upstream[u] < i);
  /* No bound on ms here: under ASan on a loaded machine it took 4.4 s. How
   * fast it loads is bench/locations' to measure, beside its peers. */
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

/* A coordinator's load (weft_location_load_jobs) has the ops and jobs and
 * leaves the schedules and sensors unread: one broken there does not
 * touch it, while the full load reports it. */
TEST(jobs_only_load_leaves_triggers_out) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("ops/math.yaml", math_ops), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/arith.yaml", arith_job), WEFT_OK);
  ASSERT_EQ(fx_write("schedules/s.yaml",
                     "- {name: good, job: arith, cron: '0 * * * *'}\n"
                     "- {name: bad, job: arith, cron: 'not a cron'}\n"),
            WEFT_OK);
  struct weft_location *full = NULL, *jobs = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_location_load_python(".", "here", NULL, &full, &err), WEFT_OK);
  ASSERT_EQ(weft_location_load_jobs(".", "here", NULL, &jobs, &err), WEFT_OK);
  ASSERT(full->diags.n >= 1);
  ASSERT(strstr(full->diags.v[0].file, "schedules/s.yaml"));
  ASSERT_EQ(jobs->diags.n, 0);
  ASSERT_EQ(jobs->n_schedules, 0);
  ASSERT_EQ(jobs->n_jobs, full->n_jobs);
  ASSERT_EQ(jobs->n_ops, full->n_ops);
  const struct weft_job *j = weft_location_find_job(jobs, "arith");
  ASSERT(j && j->valid);
  weft_location_free(full);
  weft_location_free(jobs);
  fx_leave_tmp(dir);
  return 0;
}

TEST_MAIN(TEST_ENTRY(valid_job_with_dot_wiring) TEST_ENTRY(other_op_file_forms)
              TEST_ENTRY(unknown_keys_and_field_types)
                  TEST_ENTRY(graph_resolution_errors)
                      TEST_ENTRY(duplicates_cycles_and_missing_fields)
                          TEST_ENTRY(topological_order_is_stable) TEST_ENTRY(invocations_under_ops)
                              TEST_ENTRY(location_errors_and_in_memory_sources)
                                  TEST_ENTRY(large_location_loads)
                                      TEST_ENTRY(jobs_only_load_leaves_triggers_out))
