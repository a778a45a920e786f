/* test_store_lease_cases.h: the run lease cases of the storage conformance
 * suite (included by test_store_conformance.c, run against sqlite and
 * postgres): claim, renew, expiry, steal, release, and many claimers of
 * one run at once, of whom exactly one wins. */

static int case_lease_claim(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_run_lease l = {0};
  const int64_t t = 1000000;
  ASSERT_EQ(weft_store_lease_get(s, "r1", &l, &err), WEFT_ENOTFOUND);
  /* A free run: the first claimer wins; another waits for the expiry. */
  ASSERT_EQ(weft_store_lease_claim(s, "r1", "a:1:1", NULL, t, 5000, &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_claim(s, "r1", "b:2:2", NULL, t + 4999, 5000, &err), WEFT_ECONFLICT);
  ASSERT_EQ(weft_store_lease_get(s, "r1", &l, &err), WEFT_OK);
  ASSERT_STR_EQ(l.owner, "a:1:1");
  ASSERT_EQ(l.expires_ms, t + 5000);
  ASSERT_EQ(l.acquired_ms, t);
  weft_run_lease_release(&l);
  /* The owner claims again (keeps its acquired time) and renews. */
  ASSERT_EQ(weft_store_lease_claim(s, "r1", "a:1:1", NULL, t + 100, 5000, &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_claim(s, "r2", "a:1:1", NULL, t + 100, 5000, &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_claim(s, "r3", "c:3:3", NULL, t + 100, 5000, &err), WEFT_OK);
  struct weft_run_lease_list held = {0};
  ASSERT_EQ(weft_store_lease_renew(s, "a:1:1", t + 3000, 5000, &held, &err), WEFT_OK);
  ASSERT_EQ(held.n, 2);
  for (size_t i = 0; i < held.n; i++) {
    ASSERT_STR_EQ(held.v[i].owner, "a:1:1");
    ASSERT_EQ(held.v[i].expires_ms, t + 8000);
    ASSERT(!strcmp(held.v[i].run_id, "r1") || !strcmp(held.v[i].run_id, "r2"));
  }
  weft_run_lease_list_release(&held);
  ASSERT_EQ(weft_store_lease_get(s, "r1", &l, &err), WEFT_OK);
  ASSERT_EQ(l.acquired_ms, t);
  weft_run_lease_release(&l);
  /* Renewed: not yet expired at the first expiry. */
  ASSERT_EQ(weft_store_lease_claim(s, "r1", "b:2:2", NULL, t + 5000, 5000, &err), WEFT_ECONFLICT);
  /* Expired: taken; the old owner's renewal no longer lists it. */
  ASSERT_EQ(weft_store_lease_claim(s, "r1", "b:2:2", NULL, t + 8000, 5000, &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_renew(s, "a:1:1", t + 8001, 5000, &held, &err), WEFT_OK);
  ASSERT_EQ(held.n, 1);
  ASSERT_STR_EQ(held.v[0].run_id, "r2");
  weft_run_lease_list_release(&held);
  ASSERT_EQ(weft_store_lease_get(s, "r1", &l, &err), WEFT_OK);
  ASSERT_STR_EQ(l.owner, "b:2:2");
  ASSERT_EQ(l.acquired_ms, t + 8000);
  weft_run_lease_release(&l);
  /* A hand-off: whoever names the holder takes it before the expiry. */
  ASSERT_EQ(weft_store_lease_claim(s, "r3", "d:4:4", "x", t + 200, 5000, &err), WEFT_ECONFLICT);
  ASSERT_EQ(weft_store_lease_claim(s, "r3", "d:4:4", "c:3:3", t + 200, 5000, &err), WEFT_OK);
  /* A hand-off naming someone else never takes it, even expired: the
   * holder may be a live coordinator stalled past its expiry. */
  ASSERT_EQ(weft_store_lease_claim(s, "r3", "f:6:6", "c:3:3", t + 9000, 5000, &err),
            WEFT_ECONFLICT);
  ASSERT_EQ(weft_store_lease_get(s, "r3", &l, &err), WEFT_OK);
  ASSERT_STR_EQ(l.owner, "d:4:4");
  weft_run_lease_release(&l);
  /* Release: only by its holder. */
  ASSERT_EQ(weft_store_lease_release(s, "r3", "c:3:3", &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_get(s, "r3", &l, &err), WEFT_OK);
  weft_run_lease_release(&l);
  ASSERT_EQ(weft_store_lease_release(s, "r3", "d:4:4", &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_get(s, "r3", &l, &err), WEFT_ENOTFOUND);
  /* Inside a transaction that rolls back, a claim never happened. */
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_claim(s, "r3", "e:5:5", NULL, t, 5000, &err), WEFT_OK);
  weft_store_rollback(s);
  ASSERT_EQ(weft_store_lease_get(s, "r3", &l, &err), WEFT_ENOTFOUND);
  weft_store_close(s);
  return 0;
}

/* First claims of many runs at once: only of runs still queued, and as a
 * lone claim would (a live holder keeps it, an expired one loses it, the
 * owner keeps its acquired time); a rolled-back claim never happened. */
static int case_lease_claim_many(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  const int64_t t = 2000000;
  char *job = unique("claims");
  char *ids[6];
  for (int i = 0; i < 6; i++) {
    ids[i] = make_run(s, job, "here", i == 3 ? WEFT_RUN_STARTED : WEFT_RUN_QUEUED, t + i);
    ASSERT(ids[i]);
  }
  free(ids[4]);
  ids[4] = strdup("missing00003"); /* never created */
  ASSERT_EQ(weft_store_lease_claim(s, ids[1], "b:2:2", NULL, t, 5000, &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_claim(s, ids[2], "b:2:2", NULL, t - 10000, 5000, &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_claim(s, ids[5], "a:1:1", NULL, t - 100, 5000, &err), WEFT_OK);
  unsigned char out[6];
  memset(out, 9, sizeof out);
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_claim_many(s, (const char *const *)ids, 6, "a:1:1", t, 5000, out,
                                        &err),
            WEFT_OK);
  weft_store_rollback(s);
  struct weft_run_lease l = {0};
  ASSERT_EQ(weft_store_lease_get(s, ids[0], &l, &err), WEFT_ENOTFOUND);
  memset(out, 9, sizeof out);
  ASSERT_EQ(weft_store_lease_claim_many(s, (const char *const *)ids, 6, "a:1:1", t, 5000, out,
                                        &err),
            WEFT_OK);
  const unsigned char want[6] = {WEFT_LEASE_CLAIMED,    WEFT_LEASE_HELD,
                                 WEFT_LEASE_CLAIMED,    WEFT_LEASE_NOT_QUEUED,
                                 WEFT_LEASE_NOT_QUEUED, WEFT_LEASE_CLAIMED};
  for (int i = 0; i < 6; i++) ASSERT_EQ(out[i], want[i]);
  const char *owner[6] = {"a:1:1", "b:2:2", "a:1:1", NULL, NULL, "a:1:1"};
  const int64_t acquired[6] = {t, t, t, 0, 0, t - 100};
  for (int i = 0; i < 6; i++) {
    int rc = weft_store_lease_get(s, ids[i], &l, &err);
    ASSERT_EQ(rc, owner[i] ? WEFT_OK : WEFT_ENOTFOUND);
    if (owner[i]) {
      ASSERT_STR_EQ(l.owner, owner[i]);
      ASSERT_EQ(l.acquired_ms, acquired[i]);
      ASSERT_EQ(l.expires_ms, t + 5000);
    }
    weft_run_lease_release(&l);
  }
  ASSERT_EQ(weft_store_lease_claim_many(s, (const char *const *)ids, 0, "a:1:1", t, 5000, out,
                                        &err),
            WEFT_OK);
  for (int i = 0; i < 6; i++) free(ids[i]);
  free(job);
  weft_store_close(s);
  return 0;
}

/* Many released at once: only the leases the owner holds among those
 * named go; an id named twice or with no lease is no error; none is none;
 * inside a transaction that rolls back, nothing went. */
static int case_lease_release_many(const char *url) {
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_run_lease l = {0};
  const char *runs[4] = {"m1", "m2", "m3", "m4"};
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(weft_store_lease_claim(s, runs[i], i == 2 ? "b:2:2" : "a:1:1", NULL, 1000, 5000,
                                     &err),
              WEFT_OK);
  const char *some[2] = {"m1", "m2"};
  ASSERT_EQ(weft_store_begin(s, &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_release_many(s, some, 2, "a:1:1", &err), WEFT_OK);
  weft_store_rollback(s);
  ASSERT_EQ(weft_store_lease_get(s, "m1", &l, &err), WEFT_OK);
  weft_run_lease_release(&l);
  const char *gone[5] = {"m1", "m3", "none", "m1", "m2"};
  ASSERT_EQ(weft_store_lease_release_many(s, gone, 5, "a:1:1", &err), WEFT_OK);
  ASSERT_EQ(weft_store_lease_release_many(s, gone, 0, "a:1:1", &err), WEFT_OK);
  for (int i = 0; i < 4; i++) {
    int held = weft_store_lease_get(s, runs[i], &l, &err) == WEFT_OK;
    ASSERT_EQ(held, i >= 2); /* m3 is b's, m4 was not named */
    if (held) ASSERT_STR_EQ(l.owner, i == 2 ? "b:2:2" : "a:1:1");
    weft_run_lease_release(&l);
  }
  weft_store_close(s);
  return 0;
}

/* Claimers in processes of their own, all at once, over several expired
 * leases: for each run exactly one wins. */
static int case_lease_race(const char *url) {
  enum { PROCS = 6, RUNS = 20 };
  struct weft_store *s = open_store(url);
  ASSERT(s);
  weft_error err = WEFT_ERROR_INIT;
  char ids[RUNS][16];
  for (int r = 0; r < RUNS; r++) {
    snprintf(ids[r], sizeof ids[r], "race%02d", r);
    ASSERT_EQ(weft_store_lease_claim(s, ids[r], "dead:1:1", NULL, 1000, 10, &err), WEFT_OK);
  }
  int fds[PROCS][2];
  pid_t pids[PROCS];
  for (int p = 0; p < PROCS; p++) {
    ASSERT_EQ(pipe(fds[p]), 0);
    pids[p] = fork();
    ASSERT(pids[p] >= 0);
    if (pids[p] == 0) {
      close(fds[p][0]);
      struct weft_store *c = open_store(url);
      char owner[32], won[RUNS];
      snprintf(owner, sizeof owner, "claimer:%d:%d", p, p);
      int failed = !c;
      for (int r = 0; r < RUNS && !failed; r++) {
        weft_error cerr = WEFT_ERROR_INIT;
        int rc = weft_store_lease_claim(c, ids[r], owner, NULL, weft_clock_wall_ms(), 60000,
                                        &cerr);
        won[r] = rc == WEFT_OK;
        if (rc && rc != WEFT_ECONFLICT) {
          fprintf(stderr, "# claimer %d: %s\n", p, cerr.msg);
          failed = 1;
        }
      }
      if (!failed && write(fds[p][1], won, RUNS) != RUNS) failed = 1;
      weft_store_close(c);
      _exit(failed);
    }
    close(fds[p][1]);
  }
  int wins[RUNS] = {0};
  for (int p = 0; p < PROCS; p++) {
    char won[RUNS];
    ASSERT_EQ(read(fds[p][0], won, RUNS), RUNS);
    close(fds[p][0]);
    for (int r = 0; r < RUNS; r++) wins[r] += won[r];
  }
  ASSERT_EQ(wait_children(pids, PROCS), 0);
  for (int r = 0; r < RUNS; r++) {
    ASSERT_EQ(wins[r], 1);
    struct weft_run_lease l = {0};
    ASSERT_EQ(weft_store_lease_get(s, ids[r], &l, &err), WEFT_OK);
    ASSERT(!strncmp(l.owner, "claimer:", 8));
    weft_run_lease_release(&l);
  }
  weft_store_close(s);
  return 0;
}
