/* test_store_many_cases.h: the many-row cases of the storage conformance
 * suite (included by test_store_conformance.c, run against sqlite and
 * postgres): runs created and updated, step rows put, keys inserted and
 * compared-and-set many at once, all or none. */

/* Several runs' rows at once: each gets its own values; with one run
 * missing, none changes and the error names it; none is none. */
static int case_run_update_many(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *job = unique("upd");
  struct weft_run_row rows[3] = {{0}};
  for (int i = 0; i < 3; i++) {
    rows[i].id = make_run(s, job, "here", WEFT_RUN_QUEUED, 1700000000000 + i);
    ASSERT(rows[i].id);
    rows[i].status = i == 2 ? WEFT_RUN_FAILURE : WEFT_RUN_STARTED;
    rows[i].message = i == 1 ? NULL : i ? "it \"broke\", {badly}" : "ok";
    rows[i].started_ms = 1700000000100 + i;
    rows[i].ended_ms = i == 2 ? 1700000000200 : 0;
    rows[i].coordinator = i ? "host:1:2" : NULL;
    rows[i].heartbeat_ms = 1700000000300 + i;
  }
  ASSERT_EQ(weft_store_run_update_many(s, rows, 0, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_update_many(s, rows, 3, &err), WEFT_OK);
  for (int i = 0; i < 3; i++) {
    struct weft_run_row got = {0};
    ASSERT_EQ(weft_store_run_get(s, rows[i].id, &got, &err), WEFT_OK);
    ASSERT_EQ(got.status, rows[i].status);
    ASSERT(rows[i].message ? got.message && !strcmp(got.message, rows[i].message)
                           : !got.message);
    ASSERT(rows[i].coordinator ? got.coordinator && !strcmp(got.coordinator, rows[i].coordinator)
                               : !got.coordinator);
    ASSERT_EQ(got.started_ms, rows[i].started_ms);
    ASSERT_EQ(got.ended_ms, rows[i].ended_ms);
    ASSERT_EQ(got.heartbeat_ms, rows[i].heartbeat_ms);
    ASSERT_STR_EQ(got.job, job);
    weft_run_row_release(&got);
  }
  struct weft_run_row two[2] = {rows[0], rows[1]};
  two[0].status = two[1].status = WEFT_RUN_SUCCESS;
  two[1].id = "missing00002";
  ASSERT_EQ(weft_store_run_update_many(s, two, 2, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "missing00002");
  struct weft_run_row got = {0};
  ASSERT_EQ(weft_store_run_get(s, rows[0].id, &got, &err), WEFT_OK);
  ASSERT_EQ(got.status, WEFT_RUN_STARTED);
  weft_run_row_release(&got);
  for (int i = 0; i < 3; i++) free(rows[i].id);
  free(job);
  weft_store_close(s);
  return 0;
}

/* Several runs created at once, each with its own values and defaults;
 * one id that exists already: none is created and the error names it. */
static int case_run_create_many(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *job = unique("new"), *fresh = weft_store_new_run_id();
  struct weft_run_row rows[3] = {{0}};
  for (int i = 0; i < 3; i++) {
    rows[i].id = weft_store_new_run_id();
    rows[i].job = job;
    rows[i].location = i == 1 ? NULL : "here";
    rows[i].status = WEFT_RUN_QUEUED;
    rows[i].tags = i == 2 ? NULL : "{\"weft/tick\":\"1\", \"q\":\"a \\\"b\\\", {c}\"}";
    rows[i].run_config = i ? "{\"ops\":{}}" : NULL;
    rows[i].code_version = i ? "c03b6569cf0837c0" : NULL;
    rows[i].created_ms = 1700000000000 + i;
    rows[i].coordinator = i == 2 ? "host:1:2" : NULL;
    rows[i].heartbeat_ms = i == 2 ? 1700000000009 : 0;
  }
  rows[1].root_run_id = rows[0].id;
  rows[1].parent_run_id = rows[0].id;
  ASSERT_EQ(weft_store_run_create_many(s, rows, 0, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_create_many(s, rows, 3, &err), WEFT_OK);
  for (int i = 0; i < 3; i++) {
    struct weft_run_row got = {0};
    ASSERT_EQ(weft_store_run_get(s, rows[i].id, &got, &err), WEFT_OK);
    ASSERT_EQ(got.status, WEFT_RUN_QUEUED);
    ASSERT_STR_EQ(got.job, job);
    ASSERT(i == 1 ? !got.location : got.location && !strcmp(got.location, "here"));
    ASSERT_STR_EQ(got.tags, rows[i].tags ? rows[i].tags : "{}");
    ASSERT_STR_EQ(got.run_config, rows[i].run_config ? rows[i].run_config : "{}");
    ASSERT_STR_EQ(got.root_run_id, i == 1 ? rows[0].id : rows[i].id);
    ASSERT(i == 1 ? got.parent_run_id && !strcmp(got.parent_run_id, rows[0].id)
                  : !got.parent_run_id);
    ASSERT(i ? got.code_version && !strcmp(got.code_version, "c03b6569cf0837c0")
             : !got.code_version);
    ASSERT(i == 2 ? got.coordinator && !strcmp(got.coordinator, "host:1:2") : !got.coordinator);
    ASSERT_EQ(got.created_ms, rows[i].created_ms);
    ASSERT_EQ(got.heartbeat_ms, rows[i].heartbeat_ms);
    weft_run_row_release(&got);
  }
  /* a fresh run and one that exists: neither is (re)created */
  struct weft_run_row two[2] = {rows[0], rows[2]};
  two[0].id = fresh;
  two[1].status = WEFT_RUN_FAILURE;
  ASSERT_EQ(weft_store_run_create_many(s, two, 2, &err), WEFT_ECONFLICT);
  ASSERT_CONTAINS(err.msg, rows[2].id);
  struct weft_run_row got = {0};
  ASSERT_EQ(weft_store_run_get(s, fresh, &got, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_run_get(s, rows[2].id, &got, &err), WEFT_OK);
  ASSERT_EQ(got.status, WEFT_RUN_QUEUED);
  weft_run_row_release(&got);
  /* refused before the backend: a row without a job */
  two[1].job = NULL;
  ASSERT_EQ(weft_store_run_create_many(s, two, 2, &err), WEFT_EINVALID);
  for (int i = 0; i < 3; i++) free(rows[i].id);
  free(fresh);
  free(job);
  weft_store_close(s);
  return 0;
}

/* A batch: one round trip; a key put twice keeps its last row; a row of
 * a missing run fails the whole batch, which leaves nothing behind. */
static int case_step_put_many(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *run = make_run(s, "many", NULL, WEFT_RUN_STARTED, 0);
  ASSERT(run);
  struct weft_step_row rows[4] = {
      {.run_id = run, .step = "a", .attempt = 1, .status = WEFT_STEP_RUNNING, .pid = 7},
      {.run_id = run, .step = "b", .attempt = 1, .status = WEFT_STEP_RUNNING,
       .message = "quote \" and \\ and , {x}"},
      {.run_id = run, .step = "a", .attempt = 1, .status = WEFT_STEP_SUCCEEDED, .ended_ms = 9,
       .worker = "w1"},
      {.run_id = run, .step = "a", .attempt = 2, .status = WEFT_STEP_QUEUED}};
  ASSERT_EQ(weft_store_step_put_many(s, rows, 0, &err), WEFT_OK);
  ASSERT_EQ(weft_store_step_put_many(s, rows, 4, &err), WEFT_OK);
  struct weft_step_list l = {0};
  ASSERT_EQ(weft_store_step_list(s, run, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 3);
  ASSERT_STR_EQ(l.v[0].step, "a");
  ASSERT_EQ(l.v[0].status, WEFT_STEP_SUCCEEDED);
  ASSERT_EQ(l.v[0].ended_ms, 9);
  ASSERT_EQ(l.v[0].pid, 0);
  ASSERT_STR_EQ(l.v[0].worker, "w1");
  ASSERT_EQ(l.v[1].attempt, 2);
  ASSERT_STR_EQ(l.v[2].message, "quote \" and \\ and , {x}");
  weft_step_list_release(&l);

  struct weft_step_row bad[2] = {
      {.run_id = run, .step = "c", .attempt = 1, .status = WEFT_STEP_RUNNING},
      {.run_id = "nosuchrun000", .step = "c", .attempt = 1, .status = WEFT_STEP_RUNNING}};
  ASSERT_EQ(weft_store_step_put_many(s, bad, 2, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "nosuchrun000");
  ASSERT_EQ(weft_store_step_list(s, run, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 3); /* c#1 was not kept either */
  weft_step_list_release(&l);
  free(run);
  weft_store_close(s);
  return 0;
}

/* 0 when each key of k[0..n) holds want[i] (NULL: absent); else says
 * which does not, and 1. */
static int kv_hold(struct weft_store *s, char k[][300], const char *const *want, int n) {
  weft_error err = WEFT_ERROR_INIT;
  for (int i = 0; i < n; i++) {
    char *v = NULL;
    int rc = weft_store_kv_get(s, k[i], &v, &err);
    ASSERT_EQ(rc, want[i] ? WEFT_OK : WEFT_ENOTFOUND);
    if (want[i]) ASSERT_STR_EQ(v, want[i]);
    free(v);
  }
  return 0;
}

/* Absent keys go in, present ones stay; a key given twice goes in once. */
static int case_kv_insert_many(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *base = unique("kvm");
  char k[4][300];
  for (int i = 0; i < 4; i++) snprintf(k[i], sizeof k[i], "%s/%d", base, i);
  ASSERT_EQ(weft_store_kv_set(s, k[1], "old", &err), WEFT_OK);
  const char *keys[5] = {k[0], k[1], k[2], k[0], k[3]};
  const char *values[5] = {"zero", "one", "two \"quoted\", {a,b}", "again", "three"};
  unsigned char inserted[5];
  ASSERT_EQ(weft_store_kv_insert_many(s, keys, values, 5, inserted, &err), WEFT_OK);
  ASSERT_EQ(inserted[0], 1);
  ASSERT_EQ(inserted[1], 0);
  ASSERT_EQ(inserted[2], 1);
  ASSERT_EQ(inserted[4], 1);
  const char *want[4] = {"zero", "old", "two \"quoted\", {a,b}", "three"};
  ASSERT(!kv_hold(s, k, want, 4));
  ASSERT_EQ(weft_store_kv_insert_many(s, keys, values, 0, inserted, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_insert_many(s, keys, values, 3, inserted, &err), WEFT_OK);
  ASSERT_EQ(inserted[0] + inserted[1] + inserted[2], 0);
  free(base);
  weft_store_close(s);
  return 0;
}

/* Absent keys and swaps at once: all set, or (one key not as expected)
 * none, the error naming that key; in a transaction, only a rollback is
 * left. */
static int case_kv_compare_set_many(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *base = unique("kvc");
  char k[4][300];
  for (int i = 0; i < 4; i++) snprintf(k[i], sizeof k[i], "%s/%d", base, i);
  ASSERT_EQ(weft_store_kv_set(s, k[1], "one \"quoted\", {a}", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, k[3], "three", &err), WEFT_OK);
  const char *keys[3] = {k[0], k[1], k[3]};
  const char *expected[3] = {NULL, "one \"quoted\", {a}", "three"};
  const char *values[3] = {"zero", "ONE", "THREE"};
  ASSERT_EQ(weft_store_kv_compare_set_many(s, keys, expected, values, 0, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_compare_set_many(s, keys, expected, values, 3, &err), WEFT_OK);
  const char *want[4] = {"zero", "ONE", NULL, "THREE"};
  ASSERT(!kv_hold(s, k, want, 4));
  /* a swap whose value changed: nothing set, that key named */
  const char *keys2[3] = {k[2], k[3], k[1]};
  const char *exp2[3] = {NULL, "THREE", "one \"quoted\", {a}"};
  const char *val2[3] = {"two", "3", "1"};
  ASSERT_EQ(weft_store_kv_compare_set_many(s, keys2, exp2, val2, 3, &err), WEFT_ECONFLICT);
  ASSERT_CONTAINS(err.msg, k[1]);
  /* a key expected absent that is there */
  const char *exp3[3] = {NULL, "THREE", "ONE"};
  keys2[0] = k[0];
  ASSERT_EQ(weft_store_kv_compare_set_many(s, keys2, exp3, val2, 3, &err), WEFT_ECONFLICT);
  ASSERT_CONTAINS(err.msg, k[0]);
  ASSERT(!kv_hold(s, k, want, 4));
  /* inside a transaction: the failure dooms it */
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, k[2], "in tx", &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_compare_set_many(s, keys2, exp2, val2, 3, &err), WEFT_ECONFLICT);
  ASSERT_EQ(weft_store_commit(s, &err), WEFT_ECONFLICT);
  char *v = NULL;
  ASSERT_EQ(weft_store_kv_get(s, k[2], &v, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_store_kv_get(s, k[3], &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "THREE");
  free(v);
  free(base);
  weft_store_close(s);
  return 0;
}
