/* test_engine_map.c: mapping (`map:`): the plan growing by items
 * (src/engine/plan.c weft_plan_add_items: states, the ready queue kept in
 * order, a retried item, the mapped step ending after its items, a chained
 * map's rule) and the coordinator (src/engine/run_map.c) with C ops in
 * process: items named STEP[i] and STEP[KEY], the collect in item order, a
 * map after a map, max_items, items retried one by one, a map after a map
 * streaming (B[k] queued when A[k] ends), per-item `when:` (`item`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "engine/engine.h"
#include "engine/plan.h"
#include "test.h"
#include "test_dsl_fixture.h"
#include "util/buf.h"
#include "util/fs.h"

#define NONE ((size_t)-1)

/* ---- the plan ------------------------------------------------------------------ */

/* a -> b (mapped over a.result) -> c, b's wire being its map. */
static struct weft_job *job_abc(int chained_d) {
  struct weft_job *j = calloc(1, sizeof *j);
  size_t n = chained_d ? 4 : 3;
  j->name = strdup("m");
  j->ops = calloc(n, sizeof *j->ops);
  j->n_ops = n;
  j->valid = 1;
  static const char *const names[] = {"a", "b", "c", "d"};
  for (size_t i = 0; i < n; i++) j->ops[i].name = strdup(names[i]);
  /* b maps over a; c collects b; d (chained) maps over b. */
  struct { size_t to, from; int map; } e[] = {{1, 0, 1}, {2, 1, 0}, {3, 1, 1}};
  for (size_t k = 0; k < n - 1; k++) {
    struct weft_invocation *inv = &j->ops[e[k].to];
    inv->upstream = malloc(sizeof *inv->upstream);
    inv->upstream[0] = e[k].from;
    inv->n_upstream = 1;
    inv->wires = calloc(1, sizeof *inv->wires);
    inv->wires[0].input = strdup("x");
    inv->wires[0].from_op = strdup(names[e[k].from]);
    inv->wires[0].from_output = strdup("result");
    inv->wires[0].from_index = e[k].from;
    inv->n_wires = 1;
    inv->mapped = e[k].map;
    inv->level = j->ops[e[k].from].level + 1;
  }
  return j;
}

static void job_free(struct weft_job *j) {
  for (size_t i = 0; i < j->n_ops; i++) {
    struct weft_invocation *inv = &j->ops[i];
    for (size_t w = 0; w < inv->n_wires; w++) {
      free(inv->wires[w].input);
      free(inv->wires[w].from_op);
      free(inv->wires[w].from_output);
    }
    free(inv->wires);
    free(inv->upstream);
    free(inv->name);
  }
  free(j->ops);
  free(j->name);
  free(j);
}

static void name_items(struct weft_plan *p, size_t i) {
  for (size_t k = 0; k < p->steps[i].n_items; k++) {
    char b[64];
    snprintf(b, sizeof b, "%s[%zu]", p->steps[i].name, k);
    p->steps[p->steps[i].first_item + k].name = strdup(b);
  }
}

TEST(plan_grows_by_items_and_the_mapped_step_waits_for_them) {
  struct weft_job *j = job_abc(0);
  struct weft_plan p;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_plan_init(&p, j, NULL, &err), WEFT_OK);
  ASSERT_EQ(weft_plan_take_ready(&p), 0);
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(weft_plan_take_ready(&p), 1); /* b: RUNNING while its items run */
  size_t first = weft_plan_add_items(&p, 1, 3);
  ASSERT_EQ(first, 3);
  ASSERT_EQ(p.n, 6);
  name_items(&p, 1);
  for (size_t k = 0; k < 3; k++) {
    ASSERT_EQ(p.steps[first + k].map_parent, 1);
    ASSERT(p.steps[first + k].inv == &j->ops[1]);
    weft_plan_item_ready(&p, first + k);
  }
  ASSERT_STR_EQ(p.steps[4].name, "b[1]");
  ASSERT(!weft_plan_done(&p));
  /* Items are taken in item order. */
  ASSERT_EQ(weft_plan_take_ready(&p), 3);
  ASSERT_EQ(weft_plan_take_ready(&p), 4);
  ASSERT_EQ(weft_plan_take_ready(&p), 5);
  ASSERT_EQ(weft_plan_take_ready(&p), NONE);
  /* b[1] is retried on its own: back to the queue, the others go on. */
  weft_plan_finish(&p, 4, WEFT_STEP_UP_FOR_RETRY, NULL, NULL);
  weft_plan_finish(&p, 3, WEFT_STEP_SUCCEEDED, NULL, NULL);
  weft_plan_finish(&p, 5, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(p.steps[1].n_items_final, 2);
  weft_plan_requeue(&p, 4);
  ASSERT_EQ(weft_plan_take_ready(&p), 4);
  ASSERT_EQ(p.steps[4].attempt, 2);
  weft_plan_finish(&p, 4, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(p.steps[1].n_items_final, 3);
  ASSERT_EQ(p.steps[1].n_items_ok, 3);
  ASSERT_EQ(p.steps[2].status, WEFT_STEP__COUNT); /* c waits for b itself */
  weft_plan_finish(&p, 1, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(weft_plan_take_ready(&p), 2);
  weft_plan_finish(&p, 2, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT(weft_plan_done(&p));
  ASSERT_EQ(p.counts[WEFT_STEP_SUCCEEDED], 6);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(growth_keeps_the_ready_queue_in_order_and_cancel_reaches_items) {
  struct weft_job *j = job_abc(0);
  struct weft_plan p;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_plan_init(&p, j, NULL, &err), WEFT_OK);
  ASSERT_EQ(weft_plan_take_ready(&p), 0);
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(weft_plan_take_ready(&p), 1);
  size_t first = weft_plan_add_items(&p, 1, 2);
  name_items(&p, 1);
  weft_plan_item_ready(&p, first);
  weft_plan_item_ready(&p, first + 1);
  /* The ring is laid out again on a second growth (b over 1,000 items). */
  size_t more = weft_plan_add_items(&p, 1, 0);
  ASSERT_EQ(more, 5);
  ASSERT_EQ(weft_plan_take_ready(&p), first);
  /* Cancel: the queued item is canceled, the running one and b are left
   * to end (the coordinator ends b when its items have). */
  size_t out[8];
  ASSERT_EQ(weft_plan_cancel_pending(&p, out), 2); /* b[1] and c */
  weft_plan_finish(&p, first, WEFT_STEP_CANCELED, NULL, NULL);
  ASSERT_EQ(p.steps[1].n_items_final, 2);
  ASSERT_EQ(p.steps[1].status, WEFT_STEP_RUNNING);
  weft_plan_finish(&p, 1, WEFT_STEP_CANCELED, NULL, NULL);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(a_chained_map_runs_when_some_items_of_its_source_succeeded) {
  struct weft_job *j = job_abc(1);
  struct weft_plan p;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_plan_init(&p, j, NULL, &err), WEFT_OK);
  ASSERT_EQ(weft_plan_take_ready(&p), 0);
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(weft_plan_take_ready(&p), 1);
  size_t first = weft_plan_add_items(&p, 1, 2);
  name_items(&p, 1);
  weft_plan_item_end(&p, first, WEFT_STEP_SUCCEEDED); /* reused */
  weft_plan_item_ready(&p, first + 1);
  ASSERT_EQ(weft_plan_take_ready(&p), first + 1);
  weft_plan_finish(&p, first + 1, WEFT_STEP_FAILED, NULL, NULL);
  size_t skipped[8], n_skipped = 0;
  weft_plan_finish(&p, 1, WEFT_STEP_FAILED, skipped, &n_skipped);
  /* c (a collect, all_success) is skipped; d maps over b's items. */
  ASSERT_EQ(n_skipped, 1);
  ASSERT_EQ(skipped[0], 2);
  ASSERT_EQ(weft_plan_take_ready(&p), 3);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(a_chained_map_streams_item_by_item) {
  struct weft_job *j = job_abc(1);
  struct weft_plan p;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_plan_init(&p, j, NULL, &err), WEFT_OK);
  ASSERT_EQ(weft_plan_take_ready(&p), 0);
  ASSERT_EQ(weft_plan_stream_start(&p, 3), 0); /* b has not expanded */
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(weft_plan_take_ready(&p), 1);
  size_t fb = weft_plan_add_items(&p, 1, 3);
  name_items(&p, 1);
  for (size_t k = 0; k < 3; k++) weft_plan_item_ready(&p, fb + k);
  /* d over b's items starts while b runs; its items wait on theirs. */
  ASSERT_EQ(weft_plan_stream_start(&p, 3), 1);
  ASSERT_EQ(p.steps[3].status, WEFT_STEP_RUNNING);
  size_t fd = weft_plan_add_items(&p, 3, 3);
  name_items(&p, 3);
  for (size_t k = 0; k < 3; k++) p.steps[fd + k].map_src = fb + k;
  ASSERT_EQ(weft_plan_take_ready(&p), fb);
  ASSERT_EQ(weft_plan_take_ready(&p), fb + 1);
  weft_plan_finish(&p, fb + 1, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(weft_plan_take_ready(&p), fb + 2);
  ASSERT_EQ(weft_plan_take_ready(&p), fd + 1); /* d[1] as soon as b[1] ended */
  ASSERT_EQ(p.steps[fd].status, WEFT_STEP__COUNT);
  /* A failed source item releases its item too (the coordinator skips it). */
  weft_plan_finish(&p, fb, WEFT_STEP_FAILED, NULL, NULL);
  ASSERT_EQ(weft_plan_take_ready(&p), fd);
  weft_plan_finish(&p, fd, WEFT_STEP_SKIPPED, NULL, NULL);
  weft_plan_finish(&p, fd + 1, WEFT_STEP_SUCCEEDED, NULL, NULL);
  weft_plan_finish(&p, fb + 2, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(weft_plan_take_ready(&p), fd + 2);
  weft_plan_finish(&p, fd + 2, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(p.steps[3].n_items_final, 3);
  /* b ends failed: c (its collect) is skipped, d is not waiting any more. */
  size_t skipped[16], n_skipped = 0;
  weft_plan_finish(&p, 1, WEFT_STEP_FAILED, skipped, &n_skipped);
  ASSERT_EQ(n_skipped, 1);
  ASSERT_EQ(skipped[0], 2);
  ASSERT_EQ(p.steps[3].status, WEFT_STEP_RUNNING);
  weft_plan_finish(&p, 3, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

/* ---- the coordinator, with C ops in process ---------------------------------------- */

static int c_numbers(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  (void)err;
  const char *cfg = weft_op_ctx_config_json(ctx);
  const char *p = cfg ? strstr(cfg, "\"n\":") : NULL;
  long n = p ? strtol(p + 4, NULL, 10) : 3;
  struct weft_buf b = WEFT_BUF_INIT;
  weft_buf_addf(&b, "[");
  for (long k = 1; k <= n; k++) weft_buf_addf(&b, "%s%ld", k > 1 ? "," : "", k);
  weft_buf_addf(&b, "]");
  int rc = weft_op_ctx_set_output(ctx, "result", b.ptr);
  weft_buf_release(&b);
  return rc;
}

static int c_regions(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  (void)err;
  return weft_op_ctx_set_output(
      ctx, "result", "[{\"key\":\"eu\",\"value\":2},{\"key\":\"us\",\"value\":3}]");
}

static int c_square(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  (void)err;
  long x = strtol(weft_op_ctx_input_json(ctx, "x"), NULL, 10);
  char out[32];
  snprintf(out, sizeof out, "%ld", x * x);
  return weft_op_ctx_set_output(ctx, "result", out);
}

/* x -> [10x, 10x + 1, ..., 10x + x - 1]: a list per item (nesting). */
static int c_files(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  (void)err;
  long x = strtol(weft_op_ctx_input_json(ctx, "x"), NULL, 10);
  struct weft_buf b = WEFT_BUF_INIT;
  weft_buf_addf(&b, "[");
  for (long k = 0; k < x; k++) weft_buf_addf(&b, "%s%ld", k ? "," : "", 10 * x + k);
  weft_buf_addf(&b, "]");
  int rc = weft_op_ctx_set_output(ctx, "result", b.ptr);
  weft_buf_release(&b);
  return rc;
}

/* Fails the first attempt of every item: counts attempts per value. */
static int attempts_seen[64];
static int c_flaky(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  long x = strtol(weft_op_ctx_input_json(ctx, "x"), NULL, 10);
  if (x >= 0 && x < 64 && attempts_seen[x]++ == 0)
    return weft_error_set(err, WEFT_EIO, "first attempt of %ld fails", x);
  return weft_op_ctx_set_output(ctx, "result", weft_op_ctx_input_json(ctx, "x"));
}

struct fixture {
  const char *dir;
  struct weft_location *loc;
  struct weft_instance *inst;
  struct weft_run_config rc;
  int have_rc;
  char *id;
};

static int fixture_run(struct fixture *f, const char *job_yaml, const char *run_config,
                       enum weft_run_status *st) {
  memset(f, 0, sizeof *f);
  weft_error err = WEFT_ERROR_INIT;
  weft_register_c_op("t_numbers", c_numbers, NULL);
  weft_register_c_op("t_regions", c_regions, NULL);
  weft_register_c_op("t_square", c_square, NULL);
  weft_register_c_op("t_flaky", c_flaky, NULL);
  weft_register_c_op("t_files", c_files, NULL);
  if (!(f->dir = fx_enter_tmp())) return -1;
  if (fx_write("loc/ops/c.yaml",
               "numbers: {c_function: t_numbers, config: {n: {type: int, default: 3}},"
               " outputs: {result: list}}\n"
               "regions: {c_function: t_regions, outputs: {result: list}}\n"
               "square: {c_function: t_square, inputs: {x: int}, outputs: {result: int}}\n"
               "flaky: {c_function: t_flaky, inputs: {x: int}, outputs: {result: int},"
               " retries: {max: 1}}\n"
               "keep: {c_function: t_square, inputs: {x: list}, outputs: {result: int}}\n"
               "files: {c_function: t_files, inputs: {x: int}, outputs: {result: list}}\n") ||
      fx_write("loc/jobs/j.yaml", job_yaml))
    return -1;
  if (weft_location_load("loc", "loc", &f->loc, &err) || f->loc->diags.n) {
    if (f->loc) weft_diags_print(&f->loc->diags, stderr);
    return -1;
  }
  struct weft_diags d = WEFT_DIAGS_INIT;
  int rc = weft_run_config_build(&f->loc->jobs[0], "run.yaml", run_config, strlen(run_config),
                                 NULL, 0, &f->rc, &d);
  if (d.n) weft_diags_print(&d, stderr);
  weft_diags_release(&d);
  if (rc) return -1;
  f->have_rc = 1;
  if (weft_instance_open("home", &f->inst, &err)) return -1;
  struct weft_launch l = {.job = &f->loc->jobs[0], .rc = &f->rc};
  if (weft_run_create(f->inst, &l, &f->id, &err)) return -1;
  if (weft_run_execute(f->inst, f->id, &l, st, &err)) {
    fprintf(stderr, "# %s\n", err.msg);
    return -1;
  }
  return 0;
}

static void fixture_close(struct fixture *f) {
  free(f->id);
  weft_instance_close(f->inst);
  if (f->have_rc) weft_run_config_release(&f->rc);
  weft_location_free(f->loc);
  fx_leave_tmp(f->dir);
}

static char *artifact(struct fixture *f, const char *tail) {
  struct weft_buf path = WEFT_BUF_INIT, text = WEFT_BUF_INIT;
  weft_error err = WEFT_ERROR_INIT;
  weft_buf_addf(&path, "%s/artifacts/%s/%s", f->inst->home, f->id, tail);
  int rc = weft_fs_read_file(path.ptr, &text, &err);
  weft_buf_release(&path);
  if (rc) {
    weft_buf_release(&text);
    return NULL;
  }
  while (text.len && text.ptr[text.len - 1] == '\n') text.ptr[--text.len] = '\0';
  return weft_buf_detach(&text, NULL);
}

/* "name=status" of the run's step rows (latest attempts), sorted. */
static char *step_states(struct fixture *f, int *n_retries) {
  struct weft_step_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  struct weft_buf b = WEFT_BUF_INIT;
  if (weft_store_step_list(f->inst->store, f->id, &l, &err)) return NULL;
  *n_retries = 0;
  for (size_t i = 0; i < l.n; i++) {
    if (l.v[i].status == WEFT_STEP_UP_FOR_RETRY) ++*n_retries;
    int latest = 1;
    for (size_t k = 0; k < l.n; k++)
      if (!strcmp(l.v[k].step, l.v[i].step) && l.v[k].attempt > l.v[i].attempt) latest = 0;
    if (latest)
      weft_buf_addf(&b, "%s=%s ", l.v[i].step, weft_step_status_name(l.v[i].status));
  }
  weft_step_list_release(&l);
  return weft_buf_detach(&b, NULL);
}

TEST(items_run_and_the_collect_keeps_item_order) {
  struct fixture f;
  enum weft_run_status st;
  ASSERT_EQ(fixture_run(&f,
                        "graph:\n  nums: numbers\n  sq: {uses: square, map: {x: nums}}\n"
                        "  sq2: {uses: square, map: {x: sq}}\n",
                        "ops: {nums: {config: {n: 12}}}\nexecution: {in_process: {}}\n", &st),
            0);
  ASSERT_EQ(st, WEFT_RUN_SUCCESS);
  char *v = artifact(&f, "sq/result");
  ASSERT_STR_EQ(v, "[1,4,9,16,25,36,49,64,81,100,121,144]");
  free(v);
  v = artifact(&f, "sq2/result"); /* a map after a map: B[k] over A[k] */
  ASSERT_STR_EQ(v, "[1,16,81,256,625,1296,2401,4096,6561,10000,14641,20736]");
  free(v);
  v = artifact(&f, "sq2[11]/result");
  ASSERT_STR_EQ(v, "20736");
  free(v);
  fixture_close(&f);
  return 0;
}

TEST(keyed_items_are_named_by_their_keys) {
  struct fixture f;
  enum weft_run_status st;
  ASSERT_EQ(fixture_run(&f,
                        "graph:\n  r: regions\n  sq: {uses: square, map: {x: r}}\n"
                        "  sq2: {uses: square, map: {x: sq.result}}\n",
                        "execution: {in_process: {}}\n", &st),
            0);
  ASSERT_EQ(st, WEFT_RUN_SUCCESS);
  int retries = 0;
  char *s = step_states(&f, &retries);
  ASSERT_CONTAINS(s, "sq[eu]=succeeded");
  ASSERT_CONTAINS(s, "sq[us]=succeeded");
  ASSERT_CONTAINS(s, "sq2[eu]=succeeded");
  ASSERT_CONTAINS(s, "sq2[us]=succeeded");
  free(s);
  char *v = artifact(&f, "sq2/result");
  ASSERT_STR_EQ(v, "[16,81]");
  free(v);
  fixture_close(&f);
  return 0;
}

TEST(max_items_fails_the_mapped_step) {
  struct fixture f;
  enum weft_run_status st;
  ASSERT_EQ(fixture_run(&f,
                        "graph:\n  nums: numbers\n  sq: {uses: square, map: {x: nums},"
                        " max_items: 4}\n  k: {uses: keep, inputs: {x: sq}}\n",
                        "ops: {nums: {config: {n: 5}}}\nexecution: {in_process: {}}\n", &st),
            0);
  ASSERT_EQ(st, WEFT_RUN_FAILURE);
  struct weft_step_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_store_step_list(f.inst->store, f.id, &l, &err), WEFT_OK);
  int seen = 0;
  for (size_t i = 0; i < l.n; i++) {
    ASSERT(!strchr(l.v[i].step, '[')); /* no item ran */
    if (!strcmp(l.v[i].step, "sq")) {
      ASSERT_STR_EQ(l.v[i].message, "map over nums.result has 5 items, more than max_items 4");
      seen = 1;
    }
    if (!strcmp(l.v[i].step, "k")) ASSERT_EQ(l.v[i].status, WEFT_STEP_SKIPPED);
  }
  ASSERT(seen);
  weft_step_list_release(&l);
  fixture_close(&f);
  return 0;
}

TEST(items_are_retried_one_by_one) {
  struct fixture f;
  enum weft_run_status st;
  memset(attempts_seen, 0, sizeof attempts_seen);
  ASSERT_EQ(fixture_run(&f, "graph:\n  nums: numbers\n  fl: {uses: flaky, map: {x: nums}}\n",
                        "ops: {nums: {config: {n: 4}}}\nexecution: {in_process: {}}\n", &st),
            0);
  ASSERT_EQ(st, WEFT_RUN_SUCCESS);
  int retries = 0;
  char *s = step_states(&f, &retries);
  ASSERT_EQ(retries, 4); /* each item's first attempt */
  ASSERT_CONTAINS(s, "fl[3]=succeeded");
  ASSERT_CONTAINS(s, "fl=succeeded");
  free(s);
  char *v = artifact(&f, "fl/result");
  ASSERT_STR_EQ(v, "[1,2,3,4]");
  free(v);
  fixture_close(&f);
  return 0;
}

TEST(a_per_item_when_skips_items) {
  struct fixture f;
  enum weft_run_status st;
  ASSERT_EQ(fixture_run(&f,
                        "graph:\n  nums: numbers\n"
                        "  sq: {uses: square, map: {x: nums}, when: \"item > 2\"}\n"
                        "  sq2: {uses: square, map: {x: sq}, when: \"item != 16\"}\n"
                        "  k: {uses: keep, inputs: {x: sq2}}\n",
                        "ops: {nums: {config: {n: 5}}}\nexecution: {in_process: {}}\n", &st),
            0);
  ASSERT_EQ(st, WEFT_RUN_SUCCESS);
  int retries = 0;
  char *s = step_states(&f, &retries);
  ASSERT_CONTAINS(s, "sq[0]=skipped");
  ASSERT_CONTAINS(s, "sq[1]=skipped");
  ASSERT_CONTAINS(s, "sq[2]=succeeded");
  ASSERT_CONTAINS(s, "sq2[0]=skipped"); /* its source was skipped */
  ASSERT_CONTAINS(s, "sq2[3]=skipped"); /* item 16 */
  ASSERT_CONTAINS(s, "sq2[4]=succeeded");
  ASSERT_CONTAINS(s, "sq=succeeded");
  ASSERT_CONTAINS(s, "k=succeeded");
  free(s);
  char *v = artifact(&f, "sq/result");
  ASSERT_STR_EQ(v, "[null,null,9,16,25]");
  free(v);
  v = artifact(&f, "sq2/result");
  ASSERT_STR_EQ(v, "[null,null,81,null,625]");
  free(v);
  fixture_close(&f);
  return 0;
}

TEST(a_nested_map_runs_items_of_items) {
  struct fixture f;
  enum weft_run_status st;
  ASSERT_EQ(fixture_run(&f,
                        "graph:\n  nums: numbers\n  fl: {uses: files, map: {x: nums}}\n"
                        "  sq: {uses: square, map: {x: 'fl[*].result'}, when: 'item != 21'}\n"
                        "  sq2: {uses: square, map: {x: sq}}\n",
                        "ops: {nums: {config: {n: 3}}}\nexecution: {in_process: {}}\n", &st),
            0);
  ASSERT_EQ(st, WEFT_RUN_SUCCESS);
  int retries = 0;
  char *s = step_states(&f, &retries);
  ASSERT_CONTAINS(s, "sq[0]=succeeded");
  ASSERT_CONTAINS(s, "sq[0][0]=succeeded");
  ASSERT_CONTAINS(s, "sq[1][1]=skipped"); /* 21: its when: */
  ASSERT_CONTAINS(s, "sq[2][2]=succeeded");
  ASSERT_CONTAINS(s, "sq=succeeded");
  free(s);
  char *v = artifact(&f, "sq/result"); /* a list per group */
  ASSERT_STR_EQ(v, "[[100],[400,null],[900,961,1024]]");
  free(v);
  v = artifact(&f, "sq[2][1]/result");
  ASSERT_STR_EQ(v, "961");
  free(v);
  fixture_close(&f);
  return 0;
}

TEST(maps_nest_once_over_a_mapped_step) {
  weft_error err = WEFT_ERROR_INIT;
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("loc/ops/c.yaml",
                     "numbers: {c_function: t_numbers, outputs: {result: list}}\n"
                     "files: {c_function: t_files, inputs: {x: int}, outputs: {result: list}}\n"),
            0);
  ASSERT_EQ(fx_write("loc/jobs/j.yaml",
                     "graph:\n  nums: numbers\n  fl: {uses: files, map: {x: nums}}\n"
                     "  a: {uses: files, map: {x: 'nums[*]'}}\n"
                     "  b: {uses: files, map: {x: 'fl[*]'}}\n"
                     "  c: {uses: files, map: {x: 'b[*]'}}\n"),
            0);
  struct weft_location *loc = NULL;
  weft_location_load("loc", "loc", &loc, &err);
  ASSERT(loc);
  ASSERT_EQ(loc->diags.n, 2);
  weft_diags_sort(&loc->diags);
  ASSERT_EQ(loc->diags.v[0].line, 4);
  ASSERT_EQ(loc->diags.v[0].col, 29);
  ASSERT_CONTAINS(loc->diags.v[0].msg, "op 'a': map over 'nums[*].result': 'nums' has no map:");
  ASSERT_EQ(loc->diags.v[1].line, 6);
  ASSERT_CONTAINS(loc->diags.v[1].msg, "'b' is a nested map already, and maps nest once");
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(item_in_when_needs_map) {
  weft_error err = WEFT_ERROR_INIT;
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("loc/ops/c.yaml",
                     "square: {c_function: t_square, inputs: {x: int}, outputs: {result: int}}\n"),
            0);
  ASSERT_EQ(fx_write("loc/jobs/j.yaml",
                     "graph:\n  sq:\n    uses: square\n    when: \"item > 2\"\n"),
            0);
  struct weft_location *loc = NULL;
  weft_location_load("loc", "loc", &loc, &err);
  ASSERT(loc && loc->diags.n);
  ASSERT_CONTAINS(loc->diags.v[0].file, "jobs/j.yaml");
  ASSERT_EQ(loc->diags.v[0].line, 4);
  ASSERT_EQ(loc->diags.v[0].col, 12); /* at `item`, inside the quotes */
  ASSERT_CONTAINS(loc->diags.v[0].msg, "'item' is the item of a mapped step, and this step "
                                       "has no map:");
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST_MAIN(TEST_ENTRY(plan_grows_by_items_and_the_mapped_step_waits_for_them)
              TEST_ENTRY(growth_keeps_the_ready_queue_in_order_and_cancel_reaches_items)
                  TEST_ENTRY(a_chained_map_runs_when_some_items_of_its_source_succeeded)
                      TEST_ENTRY(items_run_and_the_collect_keeps_item_order)
                          TEST_ENTRY(keyed_items_are_named_by_their_keys)
                              TEST_ENTRY(max_items_fails_the_mapped_step)
                                  TEST_ENTRY(items_are_retried_one_by_one)
                                      TEST_ENTRY(a_chained_map_streams_item_by_item)
                                          TEST_ENTRY(a_per_item_when_skips_items)
                                              TEST_ENTRY(item_in_when_needs_map)
                                                  TEST_ENTRY(a_nested_map_runs_items_of_items)
                                                      TEST_ENTRY(maps_nest_once_over_a_mapped_step))
