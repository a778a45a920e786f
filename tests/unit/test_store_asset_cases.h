/* test_store_asset_cases.h: the asset catalog cases of the storage
 * conformance suite (included by test_store_conformance.c, run against
 * sqlite and postgres): the summary rows the events trigger keeps, the
 * history with its cursor, partitions, freshness rows, and that a run's
 * deletion leaves its assets' history. */

static int case_assets(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_run_row r = {0};
  r.id = weft_store_new_run_id();
  r.job = "etl";
  r.status = WEFT_RUN_STARTED;
  r.created_ms = 1000;
  r.code_version = "abcdef0123456789";
  ASSERT_EQ(weft_store_run_create(s, &r, &err), WEFT_OK);
  int64_t id1, id2;
  ASSERT_EQ(append_one(s, r.id, "load", "materialization",
                       "{\"asset\":\"orders\",\"metadata\":{\"rows\":3}}", &id1), 0);
  ASSERT_EQ(append_one(s, r.id, "load", "log", "{\"asset\":\"orders\",\"msg\":\"x\"}", NULL), 0);
  ASSERT_EQ(append_one(s, r.id, "load", "check",
                       "{\"asset\":\"orders\",\"name\":\"rows_positive\",\"passed\":false}", NULL), 0);
  ASSERT_EQ(append_one(s, r.id, "load", "materialization",
                       "{\"asset\":\"orders\",\"partition\":\"2026-01-02\",\"metadata\":{\"rows\":5}}",
                       &id2), 0);
  ASSERT_EQ(append_one(s, r.id, "mart", "materialization",
                       "{\"asset\":\"order_mart\",\"partition\":\"2026-01-02\"}", NULL), 0);
  ASSERT(id2 > id1);

  /* The summary: the latest materialization, with the run's job and code. */
  struct weft_asset_row a;
  ASSERT_EQ(weft_store_asset_get(s, "orders", &a, &err), WEFT_OK);
  ASSERT_STR_EQ(a.asset, "orders");
  ASSERT_EQ(a.materializations, 2);
  ASSERT_STR_EQ(a.run_id, r.id);
  ASSERT_STR_EQ(a.job, "etl");
  ASSERT_STR_EQ(a.step, "load");
  ASSERT_STR_EQ(a.partition_key, "2026-01-02");
  ASSERT_STR_EQ(a.code_version, "abcdef0123456789");
  ASSERT_CONTAINS(a.payload, "\"rows\":5");
  int64_t last = a.last_id;
  weft_asset_row_release(&a);
  ASSERT_EQ(weft_store_asset_get(s, "nothing", &a, &err), WEFT_ENOTFOUND);

  /* The list: search, order, cursor. */
  struct weft_asset_list l = {0};
  ASSERT_EQ(weft_store_asset_list(s, NULL, NULL, 10, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 2);
  ASSERT_STR_EQ(l.v[0].asset, "order_mart");
  ASSERT_STR_EQ(l.v[1].asset, "orders");
  weft_asset_list_release(&l);
  ASSERT_EQ(weft_store_asset_list(s, "mart", NULL, 10, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  weft_asset_list_release(&l);
  ASSERT_EQ(weft_store_asset_list(s, NULL, "order_mart", 10, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  ASSERT_STR_EQ(l.v[0].asset, "orders");
  weft_asset_list_release(&l);

  /* History: newest first, by kind, with a cursor. */
  struct weft_asset_event_list h = {0};
  ASSERT_EQ(weft_store_asset_history(s, "orders", NULL, 0, 10, &h, &err), WEFT_OK);
  ASSERT_EQ(h.n, 3);
  ASSERT_EQ(h.v[0].id, last);
  ASSERT_STR_EQ(h.v[1].kind, "check");
  ASSERT_STR_EQ(h.v[1].name, "rows_positive");
  ASSERT_EQ(h.v[1].passed, 0);
  ASSERT_EQ(h.v[0].passed, -1);
  ASSERT_EQ(h.v[2].event_id, id1);
  int64_t mid = h.v[1].id;
  weft_asset_event_list_release(&h);
  ASSERT_EQ(weft_store_asset_history(s, "orders", "materialization", 0, 10, &h, &err), WEFT_OK);
  ASSERT_EQ(h.n, 2);
  weft_asset_event_list_release(&h);
  ASSERT_EQ(weft_store_asset_history(s, "orders", NULL, mid, 10, &h, &err), WEFT_OK);
  ASSERT_EQ(h.n, 1);
  ASSERT_EQ(h.v[0].event_id, id1);
  weft_asset_event_list_release(&h);

  /* Partitions, latest per key. */
  struct weft_kv_list p = {0};
  ASSERT_EQ(weft_store_asset_partitions(s, "orders", &p, &err), WEFT_OK);
  ASSERT_EQ(p.n, 1);
  ASSERT_STR_EQ(p.v[0].key, "2026-01-02");
  weft_kv_list_release(&p);

  /* A row no run carries (the scheduler's freshness_missed). */
  struct weft_asset_event_row fm = {.asset = "orders", .kind = "freshness_missed",
                                    .ts_ms = 5000, .payload = "{\"max_age\":\"1h\"}"};
  ASSERT_EQ(weft_store_asset_event_add(s, &fm, &err), WEFT_OK);
  ASSERT(fm.id > last);
  ASSERT_EQ(weft_store_asset_history(s, "orders", "freshness_missed", 0, 10, &h, &err), WEFT_OK);
  ASSERT_EQ(h.n, 1);
  ASSERT_EQ(h.v[0].ts_ms, 5000);
  weft_asset_event_list_release(&h);
  ASSERT_EQ(weft_store_asset_get(s, "orders", &a, &err), WEFT_OK);
  ASSERT_EQ(a.last_id, last); /* not a materialization */
  weft_asset_row_release(&a);

  /* Deleting the run keeps the catalog. */
  r.status = WEFT_RUN_SUCCESS;
  r.ended_ms = 2000;
  ASSERT_EQ(weft_store_run_update(s, &r, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_delete(s, r.id, NULL, &err), WEFT_OK);
  ASSERT_EQ(weft_store_asset_history(s, "orders", NULL, 0, 10, &h, &err), WEFT_OK);
  ASSERT_EQ(h.n, 4);
  weft_asset_event_list_release(&h);
  ASSERT_EQ(weft_store_asset_get(s, "orders", &a, &err), WEFT_OK);
  ASSERT_EQ(a.materializations, 2);
  weft_asset_row_release(&a);
  free(r.id);
  weft_store_close(s);
  return 0;
}
