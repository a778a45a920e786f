/* test_engine_assets.c: an op's `assets:` and an input's `asset:` (the model
 * they give, and file:line:col errors), and the asset graph the catalog
 * builds from them across locations (engine/catalog.h). */
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "engine/catalog.h"
#include "test.h"
#include "test_dsl_fixture.h"

static struct weft_location *load(const char *name, const char *ops, const char *job) {
  struct weft_dsl_source src[] = {
      {WEFT_DSL_SOURCE_OPS, "ops/o.yaml", ops, strlen(ops)},
      {WEFT_DSL_SOURCE_JOB, "jobs/j.yaml", job, strlen(job)},
  };
  struct weft_location *loc = NULL;
  if (weft_dsl_load_sources(name, NULL, src, 2, &loc, NULL)) return NULL;
  return loc;
}

static const struct weft_op_def *op_named(const struct weft_location *loc, const char *name) {
  for (size_t i = 0; i < loc->n_ops; i++)
    if (!strcmp(loc->ops[i].name, name)) return &loc->ops[i];
  return NULL;
}

TEST(declarations) {
  struct weft_location *loc = load("up",
      "extract:\n"
      "  run: \"true\"\n"
      "  assets:\n"
      "    - raw\n"
      "    - key: raw.audit\n"
      "      group: ingest\n"
      "      description: who read what\n"
      "      owners: [ana, bo]\n"
      "      partitions: false\n"
      "      freshness: {max_age: 6h}\n"
      "clean:\n"
      "  run: \"true\"\n"
      "  inputs:\n"
      "    r: {type: any, asset: raw}\n"
      "  assets: [clean]\n",
      "ops:\n  e: extract\n  c:\n    uses: clean\n    inputs: {r: e}\n");
  ASSERT(loc);
  ASSERT_EQ(loc->diags.n, 0);
  const struct weft_op_def *e = op_named(loc, "extract"), *c = op_named(loc, "clean");
  ASSERT(e && c);
  ASSERT_EQ(e->n_assets, 2);
  ASSERT_STR_EQ(e->assets[0].key, "raw");
  ASSERT_STR_EQ(e->assets[0].group, "default");
  ASSERT_EQ(e->assets[0].partitioned, -1);
  ASSERT_STR_EQ(e->assets[1].key, "raw.audit");
  ASSERT_STR_EQ(e->assets[1].group, "ingest");
  ASSERT_STR_EQ(e->assets[1].description, "who read what");
  ASSERT_EQ(e->assets[1].n_owners, 2);
  ASSERT_STR_EQ(e->assets[1].owners[1], "bo");
  ASSERT_EQ(e->assets[1].partitioned, 0);
  ASSERT(e->assets[1].max_age_s == 6 * 3600);
  ASSERT_STR_EQ(e->assets[1].max_age_text, "6h");
  ASSERT_STR_EQ(c->inputs[0].asset, "raw");
  weft_location_free(loc);
  return 0;
}

TEST(errors) {
  struct weft_location *loc = load("bad",
      "a:\n"
      "  run: \"true\"\n"
      "  inputs:\n"
      "    x: {type: int, asset: \"a b\"}\n"
      "  assets:\n"
      "    - key: ok\n"
      "      colour: red\n"
      "      partitions: maybe\n"
      "      freshness: 6h\n"
      "    - ok\n"
      "    - {group: g}\n"
      "    - [x]\n"
      "b:\n"
      "  run: \"true\"\n"
      "  assets: {key: x}\n",
      "ops:\n  a: a\n");
  ASSERT(loc);
  ASSERT(fx_has_diag(&loc->diags, "ops/o.yaml:4:27: error: input 'x' of op 'a': invalid asset "
                                  "key 'a b' (letters, digits and '_-.:', at most 200)"));
  ASSERT(fx_has_diag(&loc->diags, "ops/o.yaml:7:7: error: unknown key 'colour' in asset 'ok' of "
                                  "op 'a' (known keys: key, group, description, owners, "
                                  "partitions, freshness)"));
  ASSERT(fx_has_diag(&loc->diags, "ops/o.yaml:8:19: error: asset 'ok' of op 'a': partitions must "
                                  "be true (the job's partitions) or false, got 'maybe'"));
  ASSERT(fx_has_diag(&loc->diags, "ops/o.yaml:9:18: error: asset 'ok' of op 'a': freshness must "
                                  "be a mapping {max_age: DURATION}"));
  ASSERT(fx_has_diag(&loc->diags, "ops/o.yaml:10:7: error: op 'a': asset 'ok' is listed twice"));
  ASSERT(fx_has_diag(&loc->diags, "ops/o.yaml:11:7: error: op 'a': an asset mapping needs 'key'"));
  ASSERT(fx_has_diag(&loc->diags, "ops/o.yaml:12:7: error: op 'a': an asset is a key or a mapping "
                                  "with 'key', got a list"));
  ASSERT(fx_has_diag(&loc->diags, "ops/o.yaml:15:11: error: op 'b': assets must be a list of keys "
                                  "or of mappings with 'key', got a mapping"));
  weft_location_free(loc);
  return 0;
}

/* Lineage across two locations: an input's asset: and the steps wired
 * before a producer; an asset produced by two jobs has both producers. */
TEST(graph) {
  struct weft_location *up = load("up",
      "extract:\n  run: \"true\"\n  assets: [raw]\n"
      "stage:\n  run: \"true\"\n  inputs: {x: any}\n  assets: [staged]\n",
      "ops:\n  e: extract\n  s: {uses: stage, inputs: {x: e}}\n");
  struct weft_location *down = load("down",
      "mart:\n  run: \"true\"\n  inputs:\n    r: {type: any, asset: staged, default: 1}\n"
      "  assets: [mart, raw]\n",
      "ops:\n  m: mart\n");
  ASSERT(up && down && !up->diags.n && !down->diags.n);
  struct weft_location *locs[] = {up, down};
  struct weft_workspace ws = {locs, 2, WEFT_DIAGS_INIT};
  struct weft_catalog cat;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_catalog_build(&ws, &cat, &err), WEFT_OK);
  ASSERT_EQ(cat.n, 3);
  ASSERT_STR_EQ(cat.v[0].key, "mart");
  const struct weft_catalog_node *m = weft_catalog_find(&cat, "mart");
  const struct weft_catalog_node *st = weft_catalog_find(&cat, "staged");
  const struct weft_catalog_node *raw = weft_catalog_find(&cat, "raw");
  ASSERT(m && st && raw && !weft_catalog_find(&cat, "nope"));
  ASSERT_EQ(m->n_up, 1);
  ASSERT_STR_EQ(m->up[0], "staged");
  ASSERT_EQ(st->n_up, 1);
  ASSERT_STR_EQ(st->up[0], "raw");
  /* mart's op also produces raw from staged: both are downstream. */
  ASSERT_EQ(st->n_down, 2);
  ASSERT_STR_EQ(st->down[0], "mart");
  ASSERT_STR_EQ(st->down[1], "raw");
  ASSERT_EQ(raw->n_prod, 2); /* extract in up, mart in down */
  ASSERT_STR_EQ(raw->prod[0].loc->name, "up");
  ASSERT_STR_EQ(raw->prod[1].job->name, "j");
  weft_catalog_release(&cat);
  weft_location_free(up);
  weft_location_free(down);
  return 0;
}

TEST_MAIN(TEST_ENTRY(declarations) TEST_ENTRY(errors) TEST_ENTRY(graph))
