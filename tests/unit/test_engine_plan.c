/* test_engine_plan.c: the run plan (src/engine/plan.c) with hand-built jobs
 * and jobs loaded from YAML: ready order of chains, diamonds and fan-out /
 * fan-in, skip propagation on failure, retries, cancellation, partial runs
 * (in_run) and the counts behind weft_plan_done. No processes, no store.
 *
 * Hand-built jobs name their ops a, b, c, ... so a plan's state reads as a
 * string: states() prints one letter per step (. waiting, Q queued,
 * R running, S succeeded, F failed, U up for retry, K skipped, C canceled)
 * and ready() takes every ready step and prints their names in order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "engine/plan.h"
#include "test.h"
#include "test_dsl_fixture.h"

#define NONE ((size_t)-1)

/* ---- hand-built jobs ------------------------------------------------------ */

/* A job of n ops without edges; op i is named 'a' + i (s<i> past z). */
static struct weft_job *job_new(size_t n) {
  struct weft_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->name = strdup("test");
  j->ops = calloc(n ? n : 1, sizeof *j->ops);
  j->n_ops = n;
  j->valid = 1;
  if (!j->name || !j->ops) abort();
  for (size_t i = 0; i < n; i++) {
    char name[32];
    if (i < 26)
      snprintf(name, sizeof name, "%c", (char)('a' + i));
    else
      snprintf(name, sizeof name, "s%zu", i);
    if (!(j->ops[i].name = strdup(name))) abort();
  }
  return j;
}

static void job_edge(struct weft_job *j, size_t from, size_t to) {
  struct weft_invocation *inv = &j->ops[to];
  size_t *up = realloc(inv->upstream, (inv->n_upstream + 1) * sizeof *up);
  if (!up) abort();
  up[inv->n_upstream++] = from;
  inv->upstream = up;
  if (inv->level <= j->ops[from].level) inv->level = j->ops[from].level + 1;
}

/* edges: "ab ac bd" wires a -> b, a -> c, b -> d (single-letter names). */
static struct weft_job *job_make(size_t n, const char *edges) {
  struct weft_job *j = job_new(n);
  if (!j) abort();
  for (const char *e = edges; e && *e;) {
    if (*e == ' ') {
      e++;
      continue;
    }
    job_edge(j, (size_t)(e[0] - 'a'), (size_t)(e[1] - 'a'));
    e += 2;
  }
  return j;
}

static void job_free(struct weft_job *j) {
  if (!j) return;
  for (size_t i = 0; i < j->n_ops; i++) {
    free(j->ops[i].name);
    free(j->ops[i].upstream);
  }
  free(j->ops);
  free(j->name);
  free(j);
}

/* ---- looking at a plan ------------------------------------------------------ */

static char state_letter(enum weft_step_status s) {
  switch (s) {
    case WEFT_STEP_QUEUED: return 'Q';
    case WEFT_STEP_RUNNING: return 'R';
    case WEFT_STEP_SUCCEEDED: return 'S';
    case WEFT_STEP_FAILED: return 'F';
    case WEFT_STEP_UP_FOR_RETRY: return 'U';
    case WEFT_STEP_SKIPPED: return 'K';
    case WEFT_STEP_CANCELED: return 'C';
    default: return '.';
  }
}

/* One letter per step (static buffer: one call per expression). */
static const char *states(const struct weft_plan *p) {
  static char buf[64];
  size_t i = 0;
  for (; i < p->n && i < sizeof buf - 1; i++) buf[i] = state_letter(p->steps[i].status);
  buf[i] = 0;
  return buf;
}

/* Takes every ready step (each becomes RUNNING) and names them in order. */
static const char *ready(struct weft_plan *p) {
  static char buf[256];
  size_t len = 0, i;
  buf[0] = 0;
  while ((i = weft_plan_take_ready(p)) != NONE) {
    int w = snprintf(buf + len, sizeof buf - len, "%s%s", len ? " " : "",
                     p->job->ops[i].name);
    if (w > 0 && (size_t)w < sizeof buf - len) len += (size_t)w;
  }
  return buf;
}

/* Names of a list of step indexes, sorted as given. */
static const char *names(const struct weft_plan *p, const size_t *idx, size_t n) {
  static char buf[256];
  size_t len = 0;
  buf[0] = 0;
  for (size_t k = 0; k < n; k++) {
    int w = snprintf(buf + len, sizeof buf - len, "%s%s", k ? " " : "",
                     p->job->ops[idx[k]].name);
    if (w > 0 && (size_t)w < sizeof buf - len) len += (size_t)w;
  }
  return buf;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* Every count, in enum order: queued running succeeded failed up_for_retry
 * skipped canceled. */
#define ASSERT_COUNTS(p, q, r, s, f, u, k, c)              \
  do {                                                     \
    ASSERT_EQ((p)->counts[WEFT_STEP_QUEUED], q);           \
    ASSERT_EQ((p)->counts[WEFT_STEP_RUNNING], r);          \
    ASSERT_EQ((p)->counts[WEFT_STEP_SUCCEEDED], s);        \
    ASSERT_EQ((p)->counts[WEFT_STEP_FAILED], f);           \
    ASSERT_EQ((p)->counts[WEFT_STEP_UP_FOR_RETRY], u);     \
    ASSERT_EQ((p)->counts[WEFT_STEP_SKIPPED], k);          \
    ASSERT_EQ((p)->counts[WEFT_STEP_CANCELED], c);         \
  } while (0)

/* The plan's bookkeeping agrees with its steps: counts[] and n_final with
 * the statuses, n_waiting with the unfinished upstreams, every QUEUED step
 * exactly once in the FIFO, and the FIFO never longer than n. Prints what
 * is wrong and returns 1, else 0. */
static int plan_check(const struct weft_plan *p) {
  size_t counts[WEFT_STEP__COUNT] = {0}, n_final = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct weft_plan_step *s = &p->steps[i];
    if (s->status < WEFT_STEP__COUNT) counts[s->status]++;
    if (s->status == WEFT_STEP_SUCCEEDED || s->status == WEFT_STEP_FAILED ||
        s->status == WEFT_STEP_SKIPPED || s->status == WEFT_STEP_CANCELED)
      n_final++;
    if (!s->in_run && s->status != WEFT_STEP_SUCCEEDED) {
      fprintf(stderr, "# step %zu outside the run is %c\n", i, state_letter(s->status));
      return 1;
    }
    if (s->status == WEFT_STEP__COUNT) {
      size_t waiting = 0;
      for (size_t u = 0; u < s->inv->n_upstream; u++)
        if (p->steps[s->inv->upstream[u]].in_run &&
            !weft_step_status_is_final(p->steps[s->inv->upstream[u]].status))
          waiting++;
      if (waiting != s->n_waiting || !waiting) {
        fprintf(stderr, "# step %zu waits on %zu, n_waiting %zu\n", i, waiting, s->n_waiting);
        return 1;
      }
    }
    size_t in_fifo = 0;
    for (size_t k = p->ready_head; k != p->ready_tail; k++)
      if (p->ready[k % p->n] == i) in_fifo++;
    if (s->status == WEFT_STEP_QUEUED && in_fifo != 1) {
      fprintf(stderr, "# queued step %zu is %zu times in the FIFO\n", i, in_fifo);
      return 1;
    }
  }
  if (p->ready_tail - p->ready_head > p->n) {
    fprintf(stderr, "# FIFO holds %zu entries for %zu steps\n",
            p->ready_tail - p->ready_head, p->n);
    return 1;
  }
  for (int st = 0; st < WEFT_STEP__COUNT; st++)
    if (counts[st] != p->counts[st]) {
      fprintf(stderr, "# counts[%d] is %zu, %zu steps have that status\n", st,
              p->counts[st], counts[st]);
      return 1;
    }
  if (n_final != p->n_final) {
    fprintf(stderr, "# n_final is %zu, %zu steps are final\n", p->n_final, n_final);
    return 1;
  }
  if (weft_plan_done(p) != (n_final == p->n)) {
    fprintf(stderr, "# done() is %d with %zu of %zu final\n", weft_plan_done(p),
            n_final, p->n);
    return 1;
  }
  return 0;
}

#define ASSERT_PLAN_OK(p) ASSERT(plan_check(p) == 0)

static int plan_for(struct weft_plan *p, const struct weft_job *j, const unsigned char *in_run) {
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_plan_init(p, j, in_run, &err);
  if (rc) fprintf(stderr, "# weft_plan_init: %d %s\n", rc, err.msg);
  return rc;
}

/* ---- ready order ------------------------------------------------------------ */

TEST(empty_job_is_done_at_once) {
  struct weft_job *j = job_new(0);
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT(weft_plan_done(&p));
  ASSERT_EQ(weft_plan_take_ready(&p), NONE);
  ASSERT_EQ(weft_plan_cancel_pending(&p, NULL), 0);
  ASSERT_COUNTS(&p, 0, 0, 0, 0, 0, 0, 0);
  weft_plan_release(&p);
  ASSERT(p.steps == NULL && p.ready == NULL && p.n == 0);
  weft_plan_release(&p); /* released twice is harmless */
  job_free(j);
  return 0;
}

TEST(chain_runs_one_step_at_a_time) {
  struct weft_job *j = job_make(4, "ab bc cd");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_EQ(p.n, 4);
  ASSERT_STR_EQ(states(&p), "Q...");
  ASSERT_COUNTS(&p, 1, 0, 0, 0, 0, 0, 0);
  ASSERT_EQ(p.steps[0].n_downstream, 1);
  ASSERT_EQ(p.steps[0].downstream[0], 1);
  ASSERT_EQ(p.steps[3].n_downstream, 0);
  ASSERT_EQ(p.steps[3].n_waiting, 1);
  const char *order[] = {"a", "b", "c", "d"};
  for (size_t i = 0; i < 4; i++) {
    ASSERT(!weft_plan_done(&p));
    ASSERT_STR_EQ(ready(&p), order[i]);
    ASSERT_EQ(p.steps[i].status, WEFT_STEP_RUNNING);
    ASSERT_EQ(p.steps[i].attempt, 1);
    ASSERT_COUNTS(&p, 0, 1, i, 0, 0, 0, 0);
    ASSERT_EQ(weft_plan_take_ready(&p), NONE); /* the next waits on this one */
    size_t n_skipped = 99;
    weft_plan_finish(&p, i, WEFT_STEP_SUCCEEDED, NULL, &n_skipped);
    ASSERT_EQ(n_skipped, 0);
    ASSERT_PLAN_OK(&p);
  }
  ASSERT_STR_EQ(states(&p), "SSSS");
  ASSERT_COUNTS(&p, 0, 0, 4, 0, 0, 0, 0);
  ASSERT_EQ(p.n_final, 4);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(diamond_joins_after_both_branches) {
  /*   a
   *  / \
   * b   c
   *  \ /
   *   d   */
  struct weft_job *j = job_make(4, "ab ac bd cd");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_EQ(p.steps[3].n_waiting, 2);
  ASSERT_STR_EQ(ready(&p), "a");
  ASSERT_STR_EQ(ready(&p), "");
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(states(&p), "SQQ.");
  ASSERT_COUNTS(&p, 2, 0, 1, 0, 0, 0, 0);
  ASSERT_STR_EQ(ready(&p), "b c"); /* both at once, in job order */
  ASSERT_STR_EQ(states(&p), "SRR.");
  weft_plan_finish(&p, 2, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(p.steps[3].n_waiting, 1);
  ASSERT_STR_EQ(ready(&p), ""); /* d still waits on b */
  ASSERT_STR_EQ(states(&p), "SRS.");
  weft_plan_finish(&p, 1, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_EQ(p.steps[3].n_waiting, 0);
  ASSERT_STR_EQ(states(&p), "SSSQ");
  ASSERT_PLAN_OK(&p);
  ASSERT(!weft_plan_done(&p));
  ASSERT_STR_EQ(ready(&p), "d");
  weft_plan_finish(&p, 3, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_COUNTS(&p, 0, 0, 4, 0, 0, 0, 0);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(fan_out_fan_in) {
  /* a -> b..i (eight workers) -> j; k is an unrelated root. */
  struct weft_job *j = job_make(11, "ab ac ad ae af ag ah ai bj cj dj ej fj gj hj ij");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_EQ(p.steps[0].n_downstream, 8);
  ASSERT_EQ(p.steps[9].n_waiting, 8);
  ASSERT_STR_EQ(states(&p), "Q.........Q");
  ASSERT_STR_EQ(ready(&p), "a k"); /* roots in job order */
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_COUNTS(&p, 8, 1, 1, 0, 0, 0, 0);
  ASSERT_STR_EQ(ready(&p), "b c d e f g h i");
  ASSERT_COUNTS(&p, 0, 9, 1, 0, 0, 0, 0);
  /* Workers finish in reverse order; the join waits for the last one. */
  for (size_t w = 8; w >= 1; w--) {
    ASSERT_EQ(p.steps[9].n_waiting, w);
    ASSERT_EQ(p.steps[9].status, WEFT_STEP__COUNT);
    weft_plan_finish(&p, w, WEFT_STEP_SUCCEEDED, NULL, NULL);
    ASSERT_PLAN_OK(&p);
  }
  ASSERT_STR_EQ(states(&p), "SSSSSSSSSQR");
  ASSERT_STR_EQ(ready(&p), "j");
  weft_plan_finish(&p, 9, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT(!weft_plan_done(&p)); /* k still runs */
  ASSERT_EQ(p.n_final, 10);
  weft_plan_finish(&p, 10, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT(weft_plan_done(&p));
  ASSERT_COUNTS(&p, 0, 0, 11, 0, 0, 0, 0);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(ready_queue_is_fifo_across_finishes) {
  /* b -> c, a -> d, e a root: d is queued before c because a finishes
   * before b, and both after e, which was ready from the start. */
  struct weft_job *j = job_make(5, "bc ad");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_EQ(weft_plan_take_ready(&p), 0);
  ASSERT_EQ(weft_plan_take_ready(&p), 1);
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL); /* queues d */
  weft_plan_finish(&p, 1, WEFT_STEP_SUCCEEDED, NULL, NULL); /* queues c */
  ASSERT_STR_EQ(ready(&p), "e d c");
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

/* ---- failure and skips -------------------------------------------------------- */

TEST(failure_skips_every_transitive_downstream) {
  /* a -> b -> c -> d, b -> e, c -> f and g -> h -> f: b fails, so c d e f
   * are skipped (f although h succeeds), the g -> h branch runs on. */
  struct weft_job *j = job_make(8, "ab bc cd be cf gh hf");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a g");
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "b");
  size_t skipped[8], n_skipped = 99;
  memset(skipped, 0xff, sizeof skipped);
  weft_plan_finish(&p, 1, WEFT_STEP_FAILED, skipped, &n_skipped);
  ASSERT_EQ(n_skipped, 4);
  qsort(skipped, n_skipped, sizeof *skipped, cmp_size);
  ASSERT_STR_EQ(names(&p, skipped, n_skipped), "c d e f");
  ASSERT_EQ(skipped[4], NONE); /* nothing written past the count */
  ASSERT_STR_EQ(states(&p), "SFKKKKR.");
  ASSERT_COUNTS(&p, 0, 1, 1, 1, 0, 4, 0);
  ASSERT_PLAN_OK(&p);
  ASSERT(!weft_plan_done(&p));
  /* The independent branch continues; f stays skipped when h succeeds. */
  weft_plan_finish(&p, 6, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "h");
  weft_plan_finish(&p, 7, WEFT_STEP_SUCCEEDED, skipped, &n_skipped);
  ASSERT_EQ(n_skipped, 0);
  ASSERT_STR_EQ(ready(&p), "");
  ASSERT_STR_EQ(states(&p), "SFKKKKSS");
  ASSERT_COUNTS(&p, 0, 0, 3, 1, 0, 4, 0);
  ASSERT_EQ(p.steps[5].attempt, 0); /* skipped steps never started */
  ASSERT(weft_plan_done(&p));
  ASSERT_PLAN_OK(&p);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(failure_in_a_diamond_skips_the_join_once) {
  /* a -> b, a -> c, b -> d, c -> d: c fails while b still runs; d is
   * skipped once, b's later success does not queue it. */
  struct weft_job *j = job_make(4, "ab ac bd cd");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a");
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "b c");
  size_t skipped[4], n_skipped = 0;
  weft_plan_finish(&p, 2, WEFT_STEP_FAILED, skipped, &n_skipped);
  ASSERT_EQ(n_skipped, 1);
  ASSERT_EQ(skipped[0], 3);
  ASSERT_STR_EQ(states(&p), "SRFK");
  ASSERT(!weft_plan_done(&p)); /* b is still running */
  weft_plan_finish(&p, 1, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(states(&p), "SSFK");
  ASSERT_STR_EQ(ready(&p), "");
  ASSERT_COUNTS(&p, 0, 0, 2, 1, 0, 1, 0);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(canceled_step_skips_downstream_and_null_outputs_are_fine) {
  struct weft_job *j = job_make(3, "ab bc");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a");
  weft_plan_finish(&p, 0, WEFT_STEP_CANCELED, NULL, NULL);
  ASSERT_STR_EQ(states(&p), "CKK");
  ASSERT_COUNTS(&p, 0, 0, 0, 0, 0, 2, 1);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);

  /* The list without its count, and the count without the list. */
  size_t skipped[3] = {NONE, NONE, NONE}, n_skipped = 99;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a");
  weft_plan_finish(&p, 0, WEFT_STEP_FAILED, skipped, NULL);
  ASSERT_EQ(skipped[0] + skipped[1], 1 + 2);
  weft_plan_release(&p);
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a");
  weft_plan_finish(&p, 0, WEFT_STEP_FAILED, NULL, &n_skipped);
  ASSERT_EQ(n_skipped, 2);
  ASSERT_COUNTS(&p, 0, 0, 0, 1, 0, 2, 0);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(failure_at_the_head_of_a_long_chain) {
  /* 100000 steps: the skip walk is iterative (no stack overflow) and the
   * whole chain is skipped in one finish. */
  enum { N = 100000 };
  struct weft_job *j = job_new(N);
  for (size_t i = 1; i < N; i++) job_edge(j, i - 1, i);
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  size_t *skipped = malloc(N * sizeof *skipped), n_skipped = 0;
  ASSERT(skipped);
  ASSERT_EQ(weft_plan_take_ready(&p), 0);
  weft_plan_finish(&p, 0, WEFT_STEP_FAILED, skipped, &n_skipped);
  ASSERT_EQ(n_skipped, N - 1);
  for (size_t k = 0; k < N - 1; k++) ASSERT_EQ(skipped[k], k + 1); /* walk order */
  ASSERT_COUNTS(&p, 0, 0, 0, 1, 0, N - 1, 0);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);

  /* And the same chain succeeding step by step. */
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  size_t i, ran = 0;
  while ((i = weft_plan_take_ready(&p)) != NONE) {
    ASSERT_EQ(i, ran);
    weft_plan_finish(&p, i, WEFT_STEP_SUCCEEDED, NULL, NULL);
    ran++;
  }
  ASSERT_EQ(ran, N);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  free(skipped);
  job_free(j);
  return 0;
}

/* ---- retries ------------------------------------------------------------------- */

TEST(up_for_retry_then_requeue) {
  /* a -> b, c a root: a fails with a retry left, c runs meanwhile. */
  struct weft_job *j = job_make(3, "ab");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_EQ(weft_plan_take_ready(&p), 0);
  ASSERT_EQ(p.steps[0].attempt, 1);
  size_t n_skipped = 99;
  weft_plan_finish(&p, 0, WEFT_STEP_UP_FOR_RETRY, NULL, &n_skipped);
  ASSERT_EQ(n_skipped, 0); /* a retry skips nothing */
  ASSERT_STR_EQ(states(&p), "U.Q");
  ASSERT_COUNTS(&p, 1, 0, 0, 0, 1, 0, 0);
  ASSERT_EQ(p.n_final, 0);
  ASSERT(!weft_plan_done(&p));
  ASSERT_STR_EQ(ready(&p), "c"); /* a is not ready until requeued */
  weft_plan_requeue(&p, 0);
  ASSERT_STR_EQ(states(&p), "Q.R");
  ASSERT_COUNTS(&p, 1, 1, 0, 0, 0, 0, 0);
  ASSERT_PLAN_OK(&p);
  ASSERT_STR_EQ(ready(&p), "a");
  ASSERT_EQ(p.steps[0].attempt, 2);
  /* A second retry, then success: b runs once, on its first attempt. */
  weft_plan_finish(&p, 0, WEFT_STEP_UP_FOR_RETRY, NULL, NULL);
  weft_plan_requeue(&p, 0);
  ASSERT_STR_EQ(ready(&p), "a");
  ASSERT_EQ(p.steps[0].attempt, 3);
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "b");
  ASSERT_EQ(p.steps[1].attempt, 1);
  weft_plan_finish(&p, 1, WEFT_STEP_SUCCEEDED, NULL, NULL);
  weft_plan_finish(&p, 2, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_COUNTS(&p, 0, 0, 3, 0, 0, 0, 0);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(requeued_step_goes_to_the_back) {
  struct weft_job *j = job_make(3, "");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_EQ(weft_plan_take_ready(&p), 0);
  weft_plan_finish(&p, 0, WEFT_STEP_UP_FOR_RETRY, NULL, NULL);
  weft_plan_requeue(&p, 0);
  ASSERT_STR_EQ(ready(&p), "b c a");
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(retries_exhausted_fail_and_skip) {
  struct weft_job *j = job_make(2, "ab");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  for (int attempt = 1; attempt <= 3; attempt++) {
    ASSERT_STR_EQ(ready(&p), "a");
    ASSERT_EQ(p.steps[0].attempt, attempt);
    if (attempt < 3) {
      weft_plan_finish(&p, 0, WEFT_STEP_UP_FOR_RETRY, NULL, NULL);
      weft_plan_requeue(&p, 0);
    }
  }
  size_t skipped[2], n_skipped = 0;
  weft_plan_finish(&p, 0, WEFT_STEP_FAILED, skipped, &n_skipped);
  ASSERT_EQ(n_skipped, 1);
  ASSERT_EQ(skipped[0], 1);
  ASSERT_STR_EQ(states(&p), "FK");
  ASSERT(weft_plan_done(&p));
  ASSERT_PLAN_OK(&p);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

/* ---- cancellation ---------------------------------------------------------------- */

TEST(cancel_pending_cancels_all_not_started) {
  /* a -> b, a -> c, b -> d, c -> d, e -> g, f a root.
   * a succeeded, e running, f up for retry, b c queued, d g waiting. */
  struct weft_job *j = job_make(7, "ab ac bd cd eg");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a e f");
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  weft_plan_finish(&p, 5, WEFT_STEP_UP_FOR_RETRY, NULL, NULL);
  ASSERT_STR_EQ(states(&p), "SQQ.RU.");
  ASSERT_COUNTS(&p, 2, 1, 1, 0, 1, 0, 0);

  size_t out[7];
  memset(out, 0xff, sizeof out);
  ASSERT_EQ(weft_plan_cancel_pending(&p, out), 5);
  ASSERT_STR_EQ(names(&p, out, 5), "b c d f g"); /* in job order */
  ASSERT_EQ(out[5], NONE);
  ASSERT_STR_EQ(states(&p), "SCCCRCC");
  ASSERT_COUNTS(&p, 0, 1, 1, 0, 0, 0, 5);
  ASSERT_PLAN_OK(&p);
  ASSERT(!weft_plan_done(&p)); /* e still runs */
  ASSERT_STR_EQ(ready(&p), "");  /* b and c left the ready queue */
  ASSERT_EQ(p.steps[1].attempt, 0);

  /* Nothing left to cancel; the running step may still succeed, which
   * brings none of its canceled downstreams back. */
  ASSERT_EQ(weft_plan_cancel_pending(&p, NULL), 0);
  weft_plan_finish(&p, 4, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(states(&p), "SCCCSCC");
  ASSERT_STR_EQ(ready(&p), "");
  ASSERT_COUNTS(&p, 0, 0, 2, 0, 0, 0, 5);
  ASSERT(weft_plan_done(&p));
  ASSERT_PLAN_OK(&p);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(requeue_after_cancel_keeps_the_step_canceled) {
  /* A retry timer that fires after the run was canceled must not run the
   * step again (nor unbalance n_final). */
  struct weft_job *j = job_make(2, "");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a b");
  weft_plan_finish(&p, 0, WEFT_STEP_UP_FOR_RETRY, NULL, NULL);
  ASSERT_EQ(weft_plan_cancel_pending(&p, NULL), 1);
  weft_plan_requeue(&p, 0);
  ASSERT_STR_EQ(states(&p), "CR");
  ASSERT_STR_EQ(ready(&p), "");
  ASSERT_PLAN_OK(&p);
  weft_plan_finish(&p, 1, WEFT_STEP_CANCELED, NULL, NULL);
  ASSERT_COUNTS(&p, 0, 0, 0, 0, 0, 0, 2);
  ASSERT(weft_plan_done(&p));
  /* Requeueing a step that is not up for retry does nothing either. */
  weft_plan_requeue(&p, 1);
  ASSERT_STR_EQ(states(&p), "CC");
  ASSERT_EQ(p.n_final, 2);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(cancel_before_anything_started) {
  struct weft_job *j = job_make(4, "ab ac bd cd");
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  size_t out[4];
  ASSERT_EQ(weft_plan_cancel_pending(&p, out), 4);
  ASSERT_STR_EQ(names(&p, out, 4), "a b c d");
  ASSERT_STR_EQ(ready(&p), "");
  ASSERT_COUNTS(&p, 0, 0, 0, 0, 0, 0, 4);
  ASSERT(weft_plan_done(&p));
  ASSERT_PLAN_OK(&p);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

/* ---- partial runs (in_run) --------------------------------------------------------- */

TEST(steps_outside_the_run_count_as_succeeded) {
  /* Re-execution of b and its downstream: a -> b -> c, a -> d, d -> e.
   * a and d are reused from the parent run, so b and e are ready at once. */
  struct weft_job *j = job_make(5, "ab bc ad de");
  const unsigned char in_run[5] = {0, 1, 1, 0, 1};
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, in_run), WEFT_OK);
  ASSERT_STR_EQ(states(&p), "SQ.SQ");
  ASSERT_EQ(p.steps[0].in_run, 0);
  ASSERT_EQ(p.steps[1].in_run, 1);
  ASSERT_EQ(p.steps[2].n_waiting, 1);
  ASSERT_COUNTS(&p, 2, 0, 2, 0, 0, 0, 0);
  ASSERT_EQ(p.n_final, 2);
  ASSERT(!weft_plan_done(&p));
  ASSERT_PLAN_OK(&p);
  ASSERT_STR_EQ(ready(&p), "b e");
  ASSERT_EQ(p.steps[0].attempt, 0); /* never started */
  weft_plan_finish(&p, 1, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "c");
  weft_plan_finish(&p, 2, WEFT_STEP_SUCCEEDED, NULL, NULL);
  weft_plan_finish(&p, 4, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_COUNTS(&p, 0, 0, 5, 0, 0, 0, 0);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(in_run_join_waits_only_on_steps_in_the_run) {
  /* Diamond with the c branch reused: d waits on b alone. */
  struct weft_job *j = job_make(4, "ab ac bd cd");
  const unsigned char in_run[4] = {1, 1, 0, 1};
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, in_run), WEFT_OK);
  ASSERT_STR_EQ(states(&p), "Q.S.");
  ASSERT_EQ(p.steps[1].n_waiting, 1);
  ASSERT_EQ(p.steps[3].n_waiting, 1);
  ASSERT_STR_EQ(ready(&p), "a");
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "b");
  weft_plan_finish(&p, 1, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "d");
  weft_plan_finish(&p, 3, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT(weft_plan_done(&p));
  ASSERT_COUNTS(&p, 0, 0, 4, 0, 0, 0, 0);
  weft_plan_release(&p);

  /* A failure in the run skips d, but not the reused c. */
  ASSERT_EQ(plan_for(&p, j, in_run), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a");
  size_t skipped[4], n_skipped = 0;
  weft_plan_finish(&p, 0, WEFT_STEP_FAILED, skipped, &n_skipped);
  ASSERT_EQ(n_skipped, 2);
  qsort(skipped, n_skipped, sizeof *skipped, cmp_size);
  ASSERT_STR_EQ(names(&p, skipped, n_skipped), "b d");
  ASSERT_STR_EQ(states(&p), "FKSK");
  ASSERT_COUNTS(&p, 0, 0, 1, 1, 0, 2, 0);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(nothing_in_the_run_is_done_at_once) {
  struct weft_job *j = job_make(3, "ab bc");
  const unsigned char in_run[3] = {0, 0, 0};
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, in_run), WEFT_OK);
  ASSERT_STR_EQ(states(&p), "SSS");
  ASSERT(weft_plan_done(&p));
  ASSERT_STR_EQ(ready(&p), "");
  ASSERT_EQ(weft_plan_cancel_pending(&p, NULL), 0);
  ASSERT_COUNTS(&p, 0, 0, 3, 0, 0, 0, 0);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

/* ---- jobs from YAML -------------------------------------------------------------- */

TEST(plan_of_a_validated_yaml_job) {
  /* Declared out of order, with two inputs from the same upstream and an
   * ordering-only `after:` dependency. */
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("jobs/diamond.yaml",
                     "name: diamond\n"
                     "ops:\n"
                     "  src: {run: \"true\"}\n"
                     "  mix: {run: \"true\", inputs: {x: any, y: any}}\n"
                     "graph:\n"
                     "  d: {uses: mix, inputs: {x: b, y: c}}\n"
                     "  b: {uses: mix, inputs: {x: a, y: a}}\n"
                     "  c: {uses: src, after: [a]}\n"
                     "  a: src\n"),
            WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  if (loc->diags.n) fprintf(stderr, "# %s", fx_diags(&loc->diags));
  ASSERT_EQ(loc->diags.n, 0);
  const struct weft_job *job = weft_location_find_job(loc, "diamond");
  ASSERT(job && job->valid);
  long a = weft_job_find_invocation(job, "a"), b = weft_job_find_invocation(job, "b"),
       c = weft_job_find_invocation(job, "c"), d = weft_job_find_invocation(job, "d");
  ASSERT(a >= 0 && b >= 0 && c >= 0 && d >= 0);
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, job, NULL), WEFT_OK);
  ASSERT_EQ(p.steps[b].n_waiting, 1); /* a once, though wired twice */
  ASSERT_EQ(p.steps[c].n_waiting, 1);
  ASSERT_EQ(p.steps[d].n_waiting, 2);
  ASSERT_STR_EQ(ready(&p), "a");
  weft_plan_finish(&p, (size_t)a, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), b < c ? "b c" : "c b");
  weft_plan_finish(&p, (size_t)b, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "");
  weft_plan_finish(&p, (size_t)c, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "d");
  weft_plan_finish(&p, (size_t)d, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(plan_of_the_fanout_example) {
  struct weft_location *loc = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_location_load(WEFT_SOURCE_DIR "/examples/fanout", NULL, &loc, &err), WEFT_OK);
  const struct weft_job *job = weft_location_find_job(loc, "fanout");
  ASSERT(job && job->valid);
  ASSERT_EQ(job->n_ops, 10);
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, job, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "produce");
  weft_plan_finish(&p, (size_t)weft_job_find_invocation(job, "produce"), WEFT_STEP_SUCCEEDED,
                   NULL, NULL);
  ASSERT_COUNTS(&p, 8, 0, 1, 0, 0, 0, 0);
  /* shard_3 fails: only the join is skipped, the other shards run on. */
  size_t skipped[10], n_skipped = 0, i;
  int shards = 0;
  while ((i = weft_plan_take_ready(&p)) != NONE) {
    ASSERT(!strncmp(job->ops[i].name, "shard_", 6));
    shards++;
    if (!strcmp(job->ops[i].name, "shard_3")) {
      weft_plan_finish(&p, i, WEFT_STEP_FAILED, skipped, &n_skipped);
      ASSERT_EQ(n_skipped, 1);
      ASSERT_STR_EQ(job->ops[skipped[0]].name, "join");
    } else {
      weft_plan_finish(&p, i, WEFT_STEP_SUCCEEDED, NULL, NULL);
    }
  }
  ASSERT_EQ(shards, 8);
  ASSERT_COUNTS(&p, 0, 0, 8, 1, 0, 1, 0);
  ASSERT(weft_plan_done(&p));
  weft_plan_release(&p);
  weft_location_free(loc);
  return 0;
}

/* ---- random runs ---------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

TEST(random_runs_keep_the_books) {
  /* Random DAGs, random in_run masks, random outcomes and cancels: after
   * every transition the bookkeeping matches the statuses; a step only
   * starts when all its upstreams in the run succeeded; every run ends with
   * every step final. */
  for (int round = 0; round < 300; round++) {
    size_t n = 1 + rnd(24);
    struct weft_job *j = job_new(n);
    for (size_t to = 1; to < n; to++)
      for (size_t from = 0; from < to; from++)
        if (rnd(4) == 0) job_edge(j, from, to);
    unsigned char in_run[24];
    for (size_t i = 0; i < n; i++) in_run[i] = rnd(5) != 0;
    struct weft_plan p;
    ASSERT_EQ(plan_for(&p, j, round % 2 ? in_run : NULL), WEFT_OK);
    ASSERT_PLAN_OK(&p);
    size_t running[24], n_running = 0, skipped[24], n_skipped, retried[24], n_retried = 0;
    int canceled = 0;
    for (int guard = 0; !weft_plan_done(&p); guard++) {
      ASSERT(guard < 10000);
      size_t i;
      while ((i = weft_plan_take_ready(&p)) != NONE) {
        for (size_t u = 0; u < j->ops[i].n_upstream; u++)
          ASSERT_EQ(p.steps[j->ops[i].upstream[u]].status, WEFT_STEP_SUCCEEDED);
        running[n_running++] = i;
        ASSERT_PLAN_OK(&p);
      }
      if (n_retried && rnd(2)) {
        weft_plan_requeue(&p, retried[--n_retried]);
        ASSERT_PLAN_OK(&p);
        continue;
      }
      if (!canceled && rnd(40) == 0) {
        canceled = 1;
        weft_plan_cancel_pending(&p, NULL);
        ASSERT_PLAN_OK(&p);
      }
      if (!n_running) {
        ASSERT(n_retried); /* otherwise the plan is stuck */
        continue;
      }
      size_t k = rnd((uint32_t)n_running);
      i = running[k];
      running[k] = running[--n_running];
      uint32_t r = rnd(10);
      enum weft_step_status to = r < 6   ? WEFT_STEP_SUCCEEDED
                                 : r < 8 ? WEFT_STEP_UP_FOR_RETRY
                                 : r < 9 ? WEFT_STEP_FAILED
                                         : WEFT_STEP_CANCELED;
      weft_plan_finish(&p, i, to, skipped, &n_skipped);
      if (to == WEFT_STEP_UP_FOR_RETRY) retried[n_retried++] = i;
      for (size_t s = 0; s < n_skipped; s++)
        ASSERT_EQ(p.steps[skipped[s]].status, WEFT_STEP_SKIPPED);
      ASSERT_PLAN_OK(&p);
    }
    ASSERT_EQ(n_running, 0);
    ASSERT_EQ(p.n_final, n);
    /* A skipped step has an upstream that failed, was canceled or skipped. */
    for (size_t i = 0; i < n; i++) {
      if (p.steps[i].status != WEFT_STEP_SKIPPED) continue;
      int cause = 0;
      for (size_t u = 0; u < j->ops[i].n_upstream; u++) {
        enum weft_step_status us = p.steps[j->ops[i].upstream[u]].status;
        cause |= us == WEFT_STEP_FAILED || us == WEFT_STEP_CANCELED || us == WEFT_STEP_SKIPPED;
      }
      ASSERT(cause);
    }
    weft_plan_release(&p);
    job_free(j);
  }
  return 0;
}

/* ---- trigger rules ------------------------------------------------------------ */

/* a and b feed c, whose rule is t; a ends as ea, then b as eb (S, F, K for
 * skipped via a when:, C canceled). Returns c's state letter after each of
 * the two ends, as "XY" ('.' waiting). */
static const char *rule_run(enum weft_trigger t, char ea, char eb) {
  static char out[3];
  struct weft_job *j = job_make(3, "ac bc");
  j->ops[2].trigger = t;
  struct weft_plan p;
  if (plan_for(&p, j, NULL)) abort();
  ready(&p); /* a and b run */
  char ends[2] = {ea, eb};
  for (int k = 0; k < 2; k++) {
    enum weft_step_status st = ends[k] == 'S'   ? WEFT_STEP_SUCCEEDED
                               : ends[k] == 'F' ? WEFT_STEP_FAILED
                               : ends[k] == 'K' ? WEFT_STEP_SKIPPED
                                                : WEFT_STEP_CANCELED;
    weft_plan_finish(&p, (size_t)k, st, NULL, NULL);
    out[k] = state_letter(p.steps[2].status);
    if (plan_check(&p)) abort();
  }
  out[2] = 0;
  weft_plan_release(&p);
  job_free(j);
  return out;
}

TEST(trigger_all_success) {
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_SUCCESS, 'S', 'S'), ".Q");
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_SUCCESS, 'F', 'S'), "KK"); /* at once */
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_SUCCESS, 'S', 'K'), ".K"); /* skips propagate */
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_SUCCESS, 'C', 'S'), "KK");
  return 0;
}

TEST(trigger_all_done) {
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_DONE, 'S', 'S'), ".Q");
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_DONE, 'F', 'S'), ".Q"); /* waits for b */
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_DONE, 'F', 'F'), ".Q");
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_DONE, 'K', 'C'), ".Q");
  return 0;
}

TEST(trigger_one_failed) {
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ONE_FAILED, 'F', 'S'), "QQ"); /* at once */
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ONE_FAILED, 'S', 'F'), ".Q");
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ONE_FAILED, 'S', 'S'), ".K");
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ONE_FAILED, 'K', 'C'), ".K");
  return 0;
}

TEST(trigger_none_failed) {
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_NONE_FAILED, 'S', 'K'), ".Q");
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_NONE_FAILED, 'K', 'K'), ".Q");
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_NONE_FAILED, 'F', 'S'), "KK"); /* at once */
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_NONE_FAILED, 'S', 'C'), ".K");
  return 0;
}

TEST(trigger_all_skipped) {
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_SKIPPED, 'K', 'K'), ".Q");
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_SKIPPED, 'K', 'S'), ".K");
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_SKIPPED, 'S', 'K'), "KK"); /* at once */
  ASSERT_STR_EQ(rule_run(WEFT_TRIGGER_ALL_SKIPPED, 'F', 'K'), "KK");
  return 0;
}

TEST(trigger_cleanup_after_a_failed_chain) {
  /* a -> b -> c, and d (all_done) after c: a fails, b and c are skipped,
   * d runs; e (all_success) after d runs too; f (one_failed) after c is
   * skipped: c was skipped, not failed. */
  struct weft_job *j = job_make(6, "ab bc cd de cf");
  j->ops[3].trigger = WEFT_TRIGGER_ALL_DONE;
  j->ops[5].trigger = WEFT_TRIGGER_ONE_FAILED;
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a");
  size_t skipped[6], n_skipped = 0;
  weft_plan_finish(&p, 0, WEFT_STEP_FAILED, skipped, &n_skipped);
  qsort(skipped, n_skipped, sizeof *skipped, cmp_size);
  ASSERT_STR_EQ(names(&p, skipped, n_skipped), "b c f");
  ASSERT_STR_EQ(ready(&p), "d");
  weft_plan_finish(&p, 3, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "e");
  weft_plan_finish(&p, 4, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(states(&p), "FKKSSK");
  ASSERT(weft_plan_done(&p));
  ASSERT_PLAN_OK(&p);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(skip_of_a_running_step_settles_downstream) {
  /* The coordinator skips a ready step (its when: is false): b and its
   * downstream c skip, d (none_failed) runs. */
  struct weft_job *j = job_make(4, "ab bc bd");
  j->ops[3].trigger = WEFT_TRIGGER_NONE_FAILED;
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, NULL), WEFT_OK);
  ASSERT_STR_EQ(ready(&p), "a");
  weft_plan_finish(&p, 0, WEFT_STEP_SUCCEEDED, NULL, NULL);
  ASSERT_STR_EQ(ready(&p), "b");
  size_t skipped[4], n_skipped = 0;
  weft_plan_finish(&p, 1, WEFT_STEP_SKIPPED, skipped, &n_skipped);
  ASSERT_STR_EQ(names(&p, skipped, n_skipped), "c");
  ASSERT_STR_EQ(ready(&p), "d");
  ASSERT_COUNTS(&p, 0, 1, 1, 0, 0, 2, 0);
  ASSERT_PLAN_OK(&p);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST(trigger_rule_on_steps_outside_the_run) {
  /* a is reused (outside the run, so succeeded): b (all_skipped) after it
   * is skipped when the plan is made, and so is c (all_success) after b. */
  struct weft_job *j = job_make(3, "ab bc");
  j->ops[1].trigger = WEFT_TRIGGER_ALL_SKIPPED;
  unsigned char in_run[3] = {0, 1, 1};
  struct weft_plan p;
  ASSERT_EQ(plan_for(&p, j, in_run), WEFT_OK);
  ASSERT_STR_EQ(states(&p), "SKK");
  ASSERT(weft_plan_done(&p));
  ASSERT_PLAN_OK(&p);
  weft_plan_release(&p);
  job_free(j);
  return 0;
}

TEST_MAIN(TEST_ENTRY(trigger_all_success) TEST_ENTRY(trigger_all_done)
          TEST_ENTRY(trigger_one_failed) TEST_ENTRY(trigger_none_failed)
          TEST_ENTRY(trigger_all_skipped) TEST_ENTRY(trigger_cleanup_after_a_failed_chain)
          TEST_ENTRY(skip_of_a_running_step_settles_downstream)
          TEST_ENTRY(trigger_rule_on_steps_outside_the_run)
          TEST_ENTRY(empty_job_is_done_at_once)
          TEST_ENTRY(chain_runs_one_step_at_a_time)
          TEST_ENTRY(diamond_joins_after_both_branches)
          TEST_ENTRY(fan_out_fan_in)
          TEST_ENTRY(ready_queue_is_fifo_across_finishes)
          TEST_ENTRY(failure_skips_every_transitive_downstream)
          TEST_ENTRY(failure_in_a_diamond_skips_the_join_once)
          TEST_ENTRY(canceled_step_skips_downstream_and_null_outputs_are_fine)
          TEST_ENTRY(failure_at_the_head_of_a_long_chain)
          TEST_ENTRY(up_for_retry_then_requeue)
          TEST_ENTRY(requeued_step_goes_to_the_back)
          TEST_ENTRY(retries_exhausted_fail_and_skip)
          TEST_ENTRY(cancel_pending_cancels_all_not_started)
          TEST_ENTRY(requeue_after_cancel_keeps_the_step_canceled)
          TEST_ENTRY(cancel_before_anything_started)
          TEST_ENTRY(steps_outside_the_run_count_as_succeeded)
          TEST_ENTRY(in_run_join_waits_only_on_steps_in_the_run)
          TEST_ENTRY(nothing_in_the_run_is_done_at_once)
          TEST_ENTRY(plan_of_a_validated_yaml_job)
          TEST_ENTRY(plan_of_the_fanout_example)
          TEST_ENTRY(random_runs_keep_the_books))
