/* test_dsl_yaml.c: the marked YAML tree: marks, scalar typing, duplicate keys,
 * bounded aliases, nesting limits, and garbage that must not crash. */
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "dsl/yaml_tree.h"
#include "test.h"
#include "test_dsl_fixture.h"
#include "util/buf.h"

static struct weft__ynode *parse(struct weft__ydoc *doc, const char *text,
                                 struct weft_diags *d, int *rc) {
  struct weft__ynode *root = NULL;
  *rc = weft__yaml_parse(doc, "t.yaml", text, strlen(text), &root, d);
  return root;
}

TEST(marks_and_scalars) {
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft_diags d = WEFT_DIAGS_INIT;
  int rc;
  struct weft__ynode *root = parse(&doc,
                                   "a: 1\n"
                                   "b:\n"
                                   "  - 2.5\n"
                                   "  - \"3\"\n"
                                   "  - true\n"
                                   "  - ~\n"
                                   "  - 0x1f\n"
                                   "  - !!str 7\n"
                                   "  - 99999999999999999999\n"
                                   "  - .inf\n"
                                   "c:\n  x: yes\n  y: |\n    text\n",
                                   &d, &rc);
  ASSERT_EQ(rc, WEFT_OK);
  ASSERT_EQ(d.n, 0);
  ASSERT(root && root->kind == WEFT__Y_MAP && root->u.map.n == 3);
  struct weft__ynode *key = NULL;
  struct weft__ynode *b = weft__ymap_get(root, "b", &key);
  ASSERT_EQ(key->mark.line, 2);
  ASSERT_EQ(key->mark.col, 1);
  ASSERT_STR_EQ(key->mark.file, "t.yaml");
  ASSERT(b->kind == WEFT__Y_SEQ && b->u.seq.n == 8);
  ASSERT_EQ(b->u.seq.items[0]->mark.line, 3);
  ASSERT_EQ(b->u.seq.items[0]->mark.col, 5);
  ASSERT_EQ(weft__yscalar_kind(weft__ymap_get(root, "a", NULL)), WEFT__YS_INT);
  ASSERT_EQ(weft__yscalar_kind(b->u.seq.items[0]), WEFT__YS_FLOAT);
  ASSERT_EQ(weft__yscalar_kind(b->u.seq.items[1]), WEFT__YS_STRING);
  ASSERT_EQ(weft__yscalar_kind(b->u.seq.items[2]), WEFT__YS_BOOL);
  ASSERT_EQ(weft__yscalar_kind(b->u.seq.items[3]), WEFT__YS_NULL);
  long long i = 0;
  ASSERT(weft__ynode_int(b->u.seq.items[4], &i) && i == 31);
  ASSERT_EQ(weft__yscalar_kind(b->u.seq.items[5]), WEFT__YS_STRING);
  ASSERT(!weft__ynode_int(b->u.seq.items[6], &i)); /* overflows 64 bits */
  double x;
  ASSERT(!weft__ynode_number(b->u.seq.items[7], &x)); /* not finite */
  json_t *j = weft__ynode_to_json(root);
  char *s = json_dumps(j, JSON_COMPACT);
  ASSERT_STR_EQ(s,
                "{\"a\":1,\"b\":[2.5,\"3\",true,null,31,\"7\",1e20,\".inf\"],"
                "\"c\":{\"x\":\"yes\",\"y\":\"text\\n\"}}");
  free(s);
  json_decref(j);
  weft__ydoc_release(&doc);
  return 0;
}

TEST(duplicate_and_complex_keys) {
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft_diags d = WEFT_DIAGS_INIT;
  int rc;
  /* more than 16 keys: the hash-map path of duplicate detection */
  struct weft_buf b = WEFT_BUF_INIT;
  for (int i = 0; i < 20; i++) weft_buf_addf(&b, "k%d: %d\n", i, i);
  weft_buf_adds(&b, "k3: again\n? [1, 2]\n: complex\nk0: again\n");
  struct weft__ynode *root = parse(&doc, b.ptr, &d, &rc);
  ASSERT_EQ(rc, WEFT_OK);
  ASSERT_DIAG(
      &d,
      "t.yaml:21:1: error: duplicate key 'k3' (first defined at line 4, column 1)");
  ASSERT_DIAG(
      &d, "t.yaml:22:3: error: mapping keys must be plain names, not a list");
  ASSERT_DIAG(
      &d,
      "t.yaml:24:1: error: duplicate key 'k0' (first defined at line 1, column 1)");
  ASSERT_EQ(d.n, 3);
  ASSERT_EQ(root->u.map.n, 20);
  ASSERT_STR_EQ(weft__ymap_get(root, "k3", NULL)->u.scalar.text, "3");
  weft_buf_release(&b);
  weft_diags_release(&d);
  /* small mappings use the linear path */
  root = parse(&doc, "{a: 1, b: 2, a: 3}", &d, &rc);
  ASSERT_DIAG(
      &d,
      "t.yaml:1:14: error: duplicate key 'a' (first defined at line 1, column 2)");
  weft_diags_release(&d);
  weft__ydoc_release(&doc);
  return 0;
}

TEST(syntax_errors_and_limits) {
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft_diags d = WEFT_DIAGS_INIT;
  int rc;
  ASSERT(parse(&doc, "a: [1\nb: 2\n", &d, &rc) == NULL);
  ASSERT_EQ(rc, WEFT_EINVALID);
  ASSERT_DIAG(
      &d,
      "t.yaml:2:2: error: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 4)");
  weft_diags_release(&d);
  ASSERT(parse(&doc, "a: *nope\n", &d, &rc) == NULL);
  ASSERT_DIAG(
      &d, "t.yaml:1:4: error: YAML syntax error: found undefined alias 'nope'");
  weft_diags_release(&d);
  ASSERT(parse(&doc, "a: 1\n---\nb: 2\n", &d, &rc) == NULL);
  ASSERT_DIAG(
      &d,
      "t.yaml:2:1: error: YAML error: a second document in the file (weft reads one document per file)");
  weft_diags_release(&d);
  /* a collection cannot contain an alias of itself */
  ASSERT(parse(&doc, "a: &x [1, *x]\n", &d, &rc) == NULL);
  ASSERT_EQ(rc, WEFT_EINVALID);
  weft_diags_release(&d);
  struct weft_buf b = WEFT_BUF_INIT;
  for (int i = 0; i < 100000; i++) weft_buf_addc(&b, '[');
  ASSERT(parse(&doc, b.ptr, &d, &rc) == NULL);
  ASSERT_DIAG(
      &d, "t.yaml:1:201: error: YAML error: nesting deeper than 200 levels");
  weft_diags_release(&d);
  weft_buf_release(&b);
  ASSERT(parse(&doc, "a: \xc3\x28 invalid UTF-8", &d, &rc) == NULL);
  ASSERT_EQ(rc, WEFT_EINVALID);
  ASSERT_CONTAINS(d.v[0].msg, "YAML syntax error:");
  weft_diags_release(&d);
  ASSERT(parse(&doc, "", &d, &rc) == NULL);
  ASSERT_EQ(rc, WEFT_OK);
  weft__ydoc_release(&doc);
  return 0;
}

TEST(aliases_are_shared_and_bounded) {
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft_diags d = WEFT_DIAGS_INIT;
  int rc;
  struct weft__ynode *root =
      parse(&doc, "base: &b {run: echo, retries: 2}\nother: *b\n", &d, &rc);
  ASSERT_EQ(rc, WEFT_OK);
  ASSERT(weft__ymap_get(root, "base", NULL) ==
         weft__ymap_get(root, "other", NULL));
  /* billion laughs: 9 levels of 9 aliases would be 387 million nodes */
  const char *lol =
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
      "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
      "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
      "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
      "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
  ASSERT(parse(&doc, lol, &d, &rc) == NULL);
  ASSERT_EQ(rc, WEFT_EINVALID);
  ASSERT_CONTAINS(d.v[0].msg,
                  "YAML error: aliases expand to more than 1000000 nodes");
  weft_diags_release(&d);
  weft__ydoc_release(&doc);
  /* the same bomb as a job file: a diagnostic, no blow-up */
  struct weft_dsl_source src = {WEFT_DSL_SOURCE_JOB, "jobs/lol.yaml", lol,
                                strlen(lol)};
  struct weft_location *loc = NULL;
  ASSERT_EQ(weft_dsl_load_sources("l", NULL, &src, 1, &loc, NULL), WEFT_OK);
  ASSERT_EQ(loc->diags.n, 1);
  ASSERT_EQ(loc->n_jobs, 1);
  ASSERT(!loc->jobs[0].valid);
  weft_location_free(loc);
  return 0;
}

/* Garbage of every kind through the whole loader: never a crash, always
 * either a clean model or diagnostics. */
TEST(garbage_does_not_crash) {
  const char *inputs[] = {
      "\x00\x01\x02\x03\xff\xfe\xfd",
      "graph: {a: {uses: [1,2], inputs: [x], config: 5, after: {x: 1}}}",
      "graph: {a: {inputs: {x: {y: z}}, after: [[1]]}}",
      "ops: [1, 2]\ngraph: 5",
      "ops: {x: {run: [1], argv: run, inputs: {a: {type: [int]}}, outputs: 5,"
      " config: {c: {enum: 3, default: {a: 1}}}, retries: [1], timeout: [],"
      " env: 1, tags: [], queue: [1], image: {}}}\ngraph: {x: x}",
      "graph: {a: seed, b: {inputs: {q: a.b.c.d}}, c: {inputs: {q: .x}}}",
      "name: [1]\ngraph: {}",
      "name: 123\ngraph: {x: y}\ndescription: [1]\ntags: {a: [1]}",
      "graph:\n  x: {uses: x, inputs: {a: x}}\n",
      "graph: {a: 99999999999999999999999999999999999999, b: -0.0e-999999}",
      "ops: {x: {run: x, retries: {max: 99999999999999999999999, delay: 1e999}, "
      "timeout: 1e999, config: {a: {type: int, default: 1e400}}}}\ngraph: {x: x}",
      "? \n: \n",
      "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
      "&a a: *a",
      "graph: !!binary aGVsbG8=",
      "graph: {\"a\\u0000b\": seed}",
      "- - - - - - - - - - - - - - - -\n",
      "%YAML 1.1\n%TAG ! tag:x,2000:\n--- !foo\ngraph: {a: !bar seed}\n",
  };
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    size_t len = i == 0 ? 7 : strlen(inputs[i]);
    struct weft_dsl_source src[] = {
        {WEFT_DSL_SOURCE_OPS, "ops/o.yaml", inputs[i], len},
        {WEFT_DSL_SOURCE_JOB, "jobs/j.yaml", inputs[i], len},
    };
    struct weft_location *loc = NULL;
    ASSERT_EQ(weft_dsl_load_sources("g", NULL, src, 2, &loc, NULL), WEFT_OK);
    ASSERT(loc->n_jobs == 1);
    ASSERT(loc->jobs[0].valid || loc->diags.n > 0);
    weft_location_free(loc);
  }
  return 0;
}

/* "\0" escapes would silently cut names and commands short in C strings. */
TEST(nul_characters_are_rejected) {
  const char ops[] =
      "x: {run: \"a\\0b\", env: {A: \"x\\0y\"}}\n\"k\\0z\": {run: y}\n";
  const char job[] = "graph: {a: \"x\\0\", \"b\\0c\": x}\n";
  struct weft_dsl_source src[] = {
      {WEFT_DSL_SOURCE_OPS, "ops/o.yaml", ops, strlen(ops)},
      {WEFT_DSL_SOURCE_JOB, "jobs/j.yaml", job, strlen(job)},
  };
  struct weft_location *loc = NULL;
  ASSERT_EQ(weft_dsl_load_sources("n", NULL, src, 2, &loc, NULL), WEFT_OK);
  struct weft_diags *d = &loc->diags;
  ASSERT_DIAG(
      d,
      "jobs/j.yaml:1:12: error: op 'a': uses must be the name of an op definition, got a string with a NUL character");
  ASSERT_DIAG(
      d,
      "jobs/j.yaml:1:19: error: mapping key 'b...' contains a NUL character");
  ASSERT_DIAG(
      d,
      "ops/o.yaml:1:10: error: op 'x': run must be a non-empty string, got a string with a NUL character");
  ASSERT_DIAG(
      d,
      "ops/o.yaml:1:27: error: op 'x': env 'A' must be a scalar value, {from_env: VAR}, {secret: NAME} or {variable: NAME}, got a string with a NUL character");
  ASSERT_DIAG(
      d, "ops/o.yaml:2:1: error: mapping key 'k...' contains a NUL character");
  ASSERT_EQ(d->n, 5);
  weft_location_free(loc);
  return 0;
}

TEST_MAIN(TEST_ENTRY(marks_and_scalars) TEST_ENTRY(duplicate_and_complex_keys)
              TEST_ENTRY(syntax_errors_and_limits)
                  TEST_ENTRY(aliases_are_shared_and_bounded)
                      TEST_ENTRY(garbage_does_not_crash)
                          TEST_ENTRY(nul_characters_are_rejected))
