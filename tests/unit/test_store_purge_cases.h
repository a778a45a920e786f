/* test_store_purge_cases.h: the search and retention cases of the storage
 * conformance suite (included by test_store_conformance.c, which runs each
 * against sqlite and postgres): exact removal, what is never removed, a
 * purge beside a live writer, and the runs search with its cursor. */

/* Creates a run (created at created_ms, parent may be NULL) and, when its
 * status is final, sets it ended at ended_ms. Returns its id. */
static char *make_ended(struct weft_store *s, const char *job, enum weft_run_status status,
                        int64_t created_ms, int64_t ended_ms, const char *parent,
                        const char *tags) {
  struct weft_run_row r = {0};
  weft_error err = WEFT_ERROR_INIT;
  r.id = weft_store_new_run_id();
  r.job = (char *)job;
  r.status = status;
  r.created_ms = created_ms;
  r.started_ms = created_ms;
  r.ended_ms = weft_run_status_is_final(status) ? ended_ms : 0;
  r.parent_run_id = (char *)parent;
  r.tags = (char *)tags;
  if (weft_store_run_create(s, &r, &err) || weft_store_run_update(s, &r, &err)) {
    fprintf(stderr, "# run create: %s\n", err.msg);
    free(r.id);
    return NULL;
  }
  return r.id;
}

/* A run's events: a started, 3 info logs, 2 debug logs, a materialization. */
static int fill_events(struct weft_store *s, const char *run) {
  return append_one(s, run, NULL, "run_started", "{}", NULL) ||
         append_one(s, run, "a", "log", "{\"level\":\"info\",\"msg\":\"1\"}", NULL) ||
         append_one(s, run, "a", "log", "{\"level\":\"debug\",\"msg\":\"2\"}", NULL) ||
         append_one(s, run, "a", "log", "{\"level\":\"info\",\"msg\":\"3\"}", NULL) ||
         append_one(s, run, "a", "materialization",
                    "{\"asset\":\"orders\",\"metadata\":{\"rows\":3}}", NULL) ||
         append_one(s, run, "a", "log", "{\"level\":\"debug\",\"msg\":\"4\"}", NULL) ||
         append_one(s, run, "a", "log", "{\"level\":\"info\",\"msg\":\"5\"}", NULL);
}

static size_t count_events(struct weft_store *s, const char *run) {
  struct weft_event_list l = {0};
  struct weft_event_filter f = {.run_id = run};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_event_read(s, &f, &l, &err)) return (size_t)-1;
  size_t n = l.n;
  weft_event_list_release(&l);
  return n;
}

static int case_retention_exact(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *ok = make_ended(s, "etl", WEFT_RUN_SUCCESS, 1000, 2000, NULL, NULL);
  char *bad = make_ended(s, "etl", WEFT_RUN_FAILURE, 1100, 2100, NULL, NULL);
  char *live = make_ended(s, "etl", WEFT_RUN_STARTED, 1200, 0, NULL, NULL);
  char *pin = make_ended(s, "etl", WEFT_RUN_SUCCESS, 1300, 2300, NULL, NULL);
  char *parent = make_ended(s, "etl", WEFT_RUN_FAILURE, 1400, 2400, NULL, NULL);
  char *child = make_ended(s, "etl", WEFT_RUN_SUCCESS, 1500, 2500, parent, NULL);
  char *young = make_ended(s, "etl", WEFT_RUN_SUCCESS, 1600, 9000, NULL, NULL);
  ASSERT(ok && bad && live && pin && parent && child && young);
  const char *all[] = {ok, bad, live, pin, parent, child, young};
  for (int i = 0; i < 7; i++) ASSERT_EQ(fill_events(s, all[i]), 0);
  struct weft_step_row st = {.run_id = ok, .step = "a", .attempt = 1,
                             .status = WEFT_STEP_SUCCEEDED};
  ASSERT_EQ(weft_store_step_put(s, &st, &err), WEFT_OK);
  st.attempt = 2;
  ASSERT_EQ(weft_store_step_put(s, &st, &err), WEFT_OK);

  /* Marks: absent, then pinned; a missing run has none to set. */
  int pinned = -1;
  unsigned purged = 99;
  ASSERT_EQ(weft_store_run_mark_get(s, pin, &pinned, &purged, &err), WEFT_OK);
  ASSERT(pinned == 0 && purged == 0);
  ASSERT_EQ(weft_store_run_mark_set(s, pin, 1, 0, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_mark_set(s, pin, -1, WEFT_PURGED_LOGS, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_mark_get(s, pin, &pinned, &purged, &err), WEFT_OK);
  ASSERT(pinned == 1 && purged == WEFT_PURGED_LOGS);
  ASSERT_EQ(weft_store_run_mark_set(s, "nosuchrun000", 1, 0, &err), WEFT_ENOTFOUND);

  /* The scan: final runs ended before 5000, oldest end first, with their
   * marks and re-executions; a cursor pages it. */
  struct weft_retention_cand_list c = {0};
  ASSERT_EQ(weft_store_retention_scan(s, 5000, 0, NULL, 100, &c, &err), WEFT_OK);
  ASSERT_EQ(c.n, 5);
  ASSERT_STR_EQ(c.v[0].id, ok);
  ASSERT_EQ(c.v[0].status, WEFT_RUN_SUCCESS);
  ASSERT_EQ(c.v[0].ended_ms, 2000);
  ASSERT_STR_EQ(c.v[1].id, bad);
  ASSERT_STR_EQ(c.v[2].id, pin);
  ASSERT(c.v[2].pinned && c.v[2].purged == WEFT_PURGED_LOGS);
  ASSERT_STR_EQ(c.v[3].id, parent);
  ASSERT_EQ(c.v[3].children, 1);
  ASSERT_STR_EQ(c.v[4].id, child);
  ASSERT_EQ(c.v[4].children, 0);
  ASSERT_STR_EQ(c.v[4].parent_run_id, parent);
  ASSERT(c.v[0].parent_run_id == NULL);
  struct weft_retention_cand_list c2 = {0};
  ASSERT_EQ(weft_store_retention_scan(s, 5000, c.v[1].ended_ms, c.v[1].id, 2, &c2, &err),
            WEFT_OK);
  ASSERT_EQ(c2.n, 2);
  ASSERT_STR_EQ(c2.v[0].id, pin);
  weft_retention_cand_list_release(&c2);
  weft_retention_cand_list_release(&c);

  /* Debug logs only, in batches: the rest stays. */
  int64_t n = 0;
  ASSERT_EQ(weft_store_event_count(s, bad, WEFT_EVENTS_DEBUG, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 2);
  ASSERT_EQ(weft_store_event_purge(s, bad, WEFT_EVENTS_DEBUG, 1, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(weft_store_event_purge(s, bad, WEFT_EVENTS_DEBUG, 10, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(count_events(s, bad), 5);

  /* A whole run, batch by batch: its materialization becomes a summary row. */
  ASSERT_EQ(weft_store_event_count(s, ok, WEFT_EVENTS_ALL, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 7);
  ASSERT_EQ(weft_store_event_purge(s, ok, WEFT_EVENTS_ALL, 4, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 4);
  ASSERT_EQ(count_events(s, ok), 3);
  int64_t steps = 0;
  ASSERT_EQ(weft_store_run_delete(s, ok, &steps, &err), WEFT_OK);
  ASSERT_EQ(steps, 2);
  struct weft_run_row got = {0};
  ASSERT_EQ(weft_store_run_get(s, ok, &got, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(count_events(s, ok), 0);
  struct weft_step_list sl = {0};
  ASSERT_EQ(weft_store_step_list(s, ok, &sl, &err), WEFT_OK);
  ASSERT_EQ(sl.n, 0);
  weft_step_list_release(&sl);
  struct weft_event_list m = {0};
  ASSERT_EQ(weft_store_materialization_list(s, "orders", 0, 0, &m, &err), WEFT_OK);
  ASSERT_EQ(m.n, 1);
  ASSERT_STR_EQ(m.v[0].run_id, ok);
  ASSERT_STR_EQ(m.v[0].step, "a");
  ASSERT_CONTAINS(m.v[0].payload, "\"rows\"");
  weft_event_list_release(&m);
  ASSERT_EQ(weft_store_run_delete(s, ok, NULL, &err), WEFT_ENOTFOUND);

  /* Never: a live run, a pinned one, the parent of a re-execution (until
   * the re-execution goes). Each refusal leaves everything in place. */
  ASSERT_EQ(weft_store_run_delete(s, live, NULL, &err), WEFT_ECONFLICT);
  ASSERT_CONTAINS(err.msg, "not finished");
  ASSERT_EQ(weft_store_run_delete(s, pin, NULL, &err), WEFT_ECONFLICT);
  ASSERT_CONTAINS(err.msg, "pinned");
  ASSERT_EQ(weft_store_run_delete(s, parent, NULL, &err), WEFT_ECONFLICT);
  ASSERT_CONTAINS(err.msg, "re-execution");
  ASSERT_EQ(count_events(s, live), 7);
  ASSERT_EQ(count_events(s, pin), 7);
  ASSERT_EQ(count_events(s, parent), 7);
  ASSERT_EQ(weft_store_run_delete(s, child, NULL, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_delete(s, parent, NULL, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_mark_set(s, pin, 0, 0, &err), WEFT_OK);
  ASSERT_EQ(weft_store_run_delete(s, pin, NULL, &err), WEFT_OK);
  ASSERT_EQ(weft_store_materialization_list(s, NULL, 0, 0, &m, &err), WEFT_OK);
  ASSERT_EQ(m.n, 4);
  weft_event_list_release(&m);
  int64_t counts[WEFT_RUN__COUNT];
  ASSERT_EQ(weft_store_run_count(s, counts, &err), WEFT_OK);
  ASSERT_EQ(counts[WEFT_RUN_SUCCESS], 1);
  ASSERT_EQ(counts[WEFT_RUN_FAILURE], 1);
  ASSERT_EQ(counts[WEFT_RUN_STARTED], 1);
  ASSERT_EQ(count_events(s, young), 7);
  for (int i = 0; i < 7; i++) free((char *)all[i]);
  weft_store_close(s);
  return 0;
}

/* A purge of an old run's many events while another connection writes the
 * events of a live run: no error on either side, no event of the live run
 * lost or reordered, every old event gone. */
static int case_retention_concurrent(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *old = make_ended(s, "etl", WEFT_RUN_SUCCESS, 10, 20, NULL, NULL);
  char *live = make_ended(s, "etl", WEFT_RUN_STARTED, 30, 0, NULL, NULL);
  ASSERT(old && live);
  enum { OLD = 3000, LIVE = 600 };
  struct weft_event_row *batch = calloc(500, sizeof *batch);
  ASSERT(batch);
  for (int done = 0; done < OLD; done += 500) {
    for (int i = 0; i < 500; i++)
      batch[i] = (struct weft_event_row){.run_id = old, .step = "a", .type = "log",
                                         .payload = "{\"level\":\"info\"}"};
    ASSERT_EQ(weft_store_event_append(s, batch, 500, &err), WEFT_OK);
  }
  free(batch);
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    struct weft_store *c = open_store(url);
    int failed = !c;
    char payload[48];
    for (int i = 0; i < LIVE && !failed; i++) {
      snprintf(payload, sizeof payload, "{\"i\":%d}", i);
      failed = append_one(c, live, "w", "log", payload, NULL) != WEFT_OK;
    }
    weft_store_close(c);
    _exit(failed);
  }
  int64_t n = 0, total = 0;
  do {
    ASSERT_EQ(weft_store_event_purge(s, old, WEFT_EVENTS_ALL, 100, &n, &err), WEFT_OK);
    total += n;
  } while (n > 0);
  ASSERT_EQ(total, OLD);
  ASSERT_EQ(weft_store_run_delete(s, old, NULL, &err), WEFT_OK);
  ASSERT_EQ(wait_children(&pid, 1), 0);
  struct weft_event_list l = {0};
  struct weft_event_filter f = {.run_id = live};
  ASSERT_EQ(weft_store_event_read(s, &f, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, LIVE);
  for (size_t i = 0; i < l.n; i++) {
    int seq = -1;
    ASSERT_EQ(sscanf(l.v[i].payload, "{\"i\":%d}", &seq), 1);
    ASSERT_EQ(seq, (int)i);
  }
  weft_event_list_release(&l);
  ASSERT_EQ(count_events(s, old), 0);
  free(old);
  free(live);
  weft_store_close(s);
  return 0;
}

static int case_run_search(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char *ids[12];
  for (int i = 0; i < 12; i++) {
    char tags[64];
    snprintf(tags, sizeof tags, "{\"team\":\"%s\",\"n\":\"%d\"}", i % 2 ? "ml" : "bi", i);
    ids[i] = make_ended(s, i < 8 ? "etl" : "train", i % 3 ? WEFT_RUN_SUCCESS : WEFT_RUN_FAILURE,
                        1000 + i * 10, 1005 + i * 10, NULL, tags);
    ASSERT(ids[i]);
  }
  struct weft_run_list l = {0};
  struct weft_run_search q = {.job = "etl"};
  ASSERT_EQ(weft_store_run_search(s, &q, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 8);
  ASSERT_STR_EQ(l.v[0].id, ids[7]);
  weft_run_list_release(&l);
  /* Tags (every pair must hold), status, time range. */
  const char *keys[2] = {"team", "n"}, *vals[2] = {"ml", "3"};
  q = (struct weft_run_search){.tag_keys = keys, .tag_values = vals, .n_tags = 1};
  ASSERT_EQ(weft_store_run_search(s, &q, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 6);
  weft_run_list_release(&l);
  q.n_tags = 2;
  ASSERT_EQ(weft_store_run_search(s, &q, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  ASSERT_STR_EQ(l.v[0].id, ids[3]);
  weft_run_list_release(&l);
  q = (struct weft_run_search){.status_mask = 1 << WEFT_RUN_FAILURE, .since_ms = 1030,
                               .until_ms = 1090};
  ASSERT_EQ(weft_store_run_search(s, &q, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 2); /* 3 and 6 */
  ASSERT_STR_EQ(l.v[0].id, ids[6]);
  ASSERT_STR_EQ(l.v[1].id, ids[3]);
  weft_run_list_release(&l);
  /* An id prefix. */
  char prefix[7];
  memcpy(prefix, ids[5], 6);
  prefix[6] = '\0';
  q = (struct weft_run_search){.id_prefix = prefix};
  ASSERT_EQ(weft_store_run_search(s, &q, &l, &err), WEFT_OK);
  ASSERT(l.n >= 1);
  for (size_t i = 0; i < l.n; i++) ASSERT(!strncmp(l.v[i].id, prefix, 6));
  weft_run_list_release(&l);
  /* Pages of 5 through a cursor: every run once, newest first. */
  int seen = 0;
  char *cursor = NULL;
  for (;;) {
    q = (struct weft_run_search){.limit = 5};
    if (cursor) ASSERT_EQ(weft_run_cursor_parse(cursor, &q.before_created_ms, &q.before_id), 0);
    ASSERT_EQ(weft_store_run_search(s, &q, &l, &err), WEFT_OK);
    for (size_t i = 0; i < l.n; i++) ASSERT_STR_EQ(l.v[i].id, ids[11 - seen - (int)i]);
    seen += (int)l.n;
    free(cursor);
    cursor = l.n ? weft_run_cursor_format(&l.v[l.n - 1]) : NULL;
    size_t got = l.n;
    weft_run_list_release(&l);
    if (got < 5) break;
  }
  free(cursor);
  ASSERT_EQ(seen, 12);
  int64_t cm;
  const char *cid;
  ASSERT_EQ(weft_run_cursor_parse("12.ab'c", &cm, &cid), WEFT_EINVALID);
  ASSERT_EQ(weft_run_cursor_parse("x.abc", &cm, &cid), WEFT_EINVALID);
  for (int i = 0; i < 12; i++) free(ids[i]);
  weft_store_close(s);
  return 0;
}
