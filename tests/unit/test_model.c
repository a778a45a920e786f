/* test_model.c: the model layer without YAML: value types, the string hash
 * map behind name lookups, and lookups on hand-built model structs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "test.h"
#include "util/map.h"

TEST(type_names_and_parsing) {
  enum weft_type t;
  const char *names[] = {"any",    "bool", "int",  "float",
                         "string", "list", "dict", "path"};
  for (int i = 0; i < 8; i++) {
    ASSERT_EQ(weft_type_parse(names[i], &t), WEFT_OK);
    ASSERT_EQ(t, i);
    ASSERT_STR_EQ(weft_type_name(t), names[i]);
  }
  ASSERT_EQ(weft_type_parse("integer", &t), WEFT_EINVALID);
  ASSERT_EQ(weft_type_parse(NULL, &t), WEFT_EINVALID);
  ASSERT_STR_EQ(weft_type_name((enum weft_type)42), "?");
  return 0;
}

TEST(type_assignability) {
  ASSERT(weft_type_assignable(WEFT_TYPE_INT, WEFT_TYPE_FLOAT));
  ASSERT(!weft_type_assignable(WEFT_TYPE_FLOAT, WEFT_TYPE_INT));
  ASSERT(weft_type_assignable(WEFT_TYPE_ANY, WEFT_TYPE_PATH));
  ASSERT(weft_type_assignable(WEFT_TYPE_DICT, WEFT_TYPE_ANY));
  ASSERT(weft_type_assignable(WEFT_TYPE_LIST, WEFT_TYPE_LIST));
  ASSERT(!weft_type_assignable(WEFT_TYPE_STRING, WEFT_TYPE_PATH));
  ASSERT(!weft_type_assignable(WEFT_TYPE_BOOL, WEFT_TYPE_INT));
  return 0;
}

TEST(type_check_json) {
  json_t *i = json_integer(3), *r = json_real(1.5), *s = json_string("x"),
         *b = json_true(), *a = json_array(), *o = json_object(),
         *n = json_null();
  ASSERT(weft_type_check_json(WEFT_TYPE_INT, i));
  ASSERT(!weft_type_check_json(WEFT_TYPE_INT, r));
  ASSERT(weft_type_check_json(WEFT_TYPE_FLOAT, i));
  ASSERT(weft_type_check_json(WEFT_TYPE_FLOAT, r));
  ASSERT(weft_type_check_json(WEFT_TYPE_STRING, s));
  ASSERT(weft_type_check_json(WEFT_TYPE_PATH, s));
  ASSERT(!weft_type_check_json(WEFT_TYPE_PATH, i));
  ASSERT(weft_type_check_json(WEFT_TYPE_BOOL, b));
  ASSERT(!weft_type_check_json(WEFT_TYPE_BOOL, i));
  ASSERT(weft_type_check_json(WEFT_TYPE_LIST, a));
  ASSERT(weft_type_check_json(WEFT_TYPE_DICT, o));
  ASSERT(!weft_type_check_json(WEFT_TYPE_DICT, a));
  ASSERT(weft_type_check_json(WEFT_TYPE_ANY, n));
  ASSERT(!weft_type_check_json(WEFT_TYPE_STRING, n));
  ASSERT(!weft_type_check_json(WEFT_TYPE_ANY, NULL));
  json_t *all[] = {i, r, s, b, a, o, n};
  for (size_t k = 0; k < 7; k++) json_decref(all[k]);
  return 0;
}

TEST(map_put_find_grow) {
  struct weft_map m = WEFT_MAP_INIT;
  ASSERT(weft_map_get(&m, "x") == NULL);
  enum { N = 50000 };
  char(*keys)[16] = malloc(N * sizeof *keys);
  ASSERT(keys);
  for (int i = 0; i < N; i++) {
    snprintf(keys[i], sizeof keys[i], "k%d", i);
    ASSERT_EQ(weft_map_put(&m, keys[i], (void *)(uintptr_t)(i + 1)), WEFT_OK);
  }
  ASSERT_EQ(m.n, N);
  ASSERT(m.cap >= 2 * (size_t)N);
  for (int i = 0; i < N; i++)
    ASSERT_EQ((uintptr_t)weft_map_get(&m, keys[i]), (uintptr_t)(i + 1));
  ASSERT_EQ(weft_map_put(&m, "k7", (void *)1), WEFT_ECONFLICT);
  ASSERT_EQ((uintptr_t)weft_map_get(&m, "k7"), 8);
  ASSERT_EQ(weft_map_set(&m, "k7", NULL), WEFT_OK);
  void *v = (void *)1;
  ASSERT(weft_map_find(&m, "k7", &v) &&
         v == NULL); /* NULL values are findable */
  ASSERT(!weft_map_find(&m, "k50000", NULL));
  ASSERT(!weft_map_find(&m, "", NULL));
  size_t pos = 0, seen = 0;
  const char *key;
  while (weft_map_next(&m, &pos, &key, NULL)) seen++;
  ASSERT_EQ(seen, N);
  weft_map_release(&m);
  ASSERT_EQ(m.n, 0);
  ASSERT(weft_map_get(&m, "k1") == NULL);
  ASSERT_EQ(weft_map_put(&m, "", (void *)2),
            WEFT_OK); /* reusable; "" is a key */
  ASSERT_EQ((uintptr_t)weft_map_get(&m, ""), 2);
  weft_map_release(&m);
  free(keys);
  return 0;
}

/* A job built by hand (as the embedding API may): lookups fall back to a
 * scan when there is no location index. */
TEST(lookups_without_index) {
  struct weft_port in[] = {{.name = "a"}, {.name = "b"}};
  struct weft_port out[] = {{.name = "result"}};
  struct weft_config_field cfg[] = {{.name = "k"}};
  struct weft_op_def def = {.name = "d",
                            .inputs = in,
                            .n_inputs = 2,
                            .outputs = out,
                            .n_outputs = 1,
                            .config = cfg,
                            .n_config = 1};
  ASSERT(weft_op_def_find_input(&def, "b") == &in[1]);
  ASSERT(weft_op_def_find_input(&def, "result") == NULL);
  ASSERT(weft_op_def_find_output(&def, "result") == &out[0]);
  ASSERT(weft_op_def_find_config(&def, "k") == &cfg[0]);
  ASSERT(weft_op_def_find_config(NULL, "k") == NULL);
  ASSERT(weft_op_def_find_input(NULL, "a") == NULL);
  struct weft_invocation ops[] = {{.name = "x"}, {.name = "y"}};
  struct weft_job job = {.name = "j", .ops = ops, .n_ops = 2};
  ASSERT_EQ(weft_job_find_invocation(&job, "y"), 1);
  ASSERT_EQ(weft_job_find_invocation(&job, "z"), -1);
  ASSERT_EQ(weft_job_find_invocation(NULL, "z"), -1);

  /* a location indexed by hand */
  struct weft_location *loc = calloc(1, sizeof *loc);
  ASSERT(loc);
  loc->name = strdup("l");
  loc->jobs = calloc(2, sizeof *loc->jobs);
  loc->n_jobs = 2;
  loc->jobs[0].name = strdup("first");
  loc->jobs[1].name = strdup("second");
  loc->jobs[1].ops = calloc(1, sizeof *loc->jobs[1].ops);
  loc->jobs[1].n_ops = 1;
  loc->jobs[1].ops[0].name = strdup("only");
  ASSERT_EQ(weft__location_index_build(loc), WEFT_OK);
  ASSERT(weft_location_find_job(loc, "second") == &loc->jobs[1]);
  ASSERT(loc->jobs[1].location == loc);
  ASSERT(weft_location_find_job(loc, "third") == NULL);
  ASSERT(weft_location_find_op(loc, "x") == NULL);
  ASSERT_EQ(weft_job_find_invocation(&loc->jobs[1], "only"), 0);
  ASSERT_EQ(weft_job_find_invocation(&loc->jobs[1], "other"), -1);
  weft_location_free(loc);
  weft_location_free(NULL);
  weft_workspace_free(NULL);
  ASSERT_EQ(weft_workspace_error_count(NULL), 0);
  struct weft_run_config rc = {json_object(), WEFT_EXECUTOR_IN_PROCESS, 2,
                               json_object(), NULL};
  weft_run_config_release(&rc);
  ASSERT(rc.ops == NULL && rc.tags == NULL);
  return 0;
}

TEST_MAIN(TEST_ENTRY(type_names_and_parsing) TEST_ENTRY(type_assignability)
              TEST_ENTRY(type_check_json) TEST_ENTRY(map_put_find_grow)
                  TEST_ENTRY(lookups_without_index))
