/* plan.c: ready-queue scheduling of a run's steps, skip propagation on failure.
 * Invariants: every QUEUED step is in the ready FIFO exactly once (the FIFO
 * may also hold stale entries of steps canceled or skipped while queued,
 * which weft_plan_take_ready drops), so it never holds more than n entries;
 * n_final and counts[] always match the steps' statuses.
 * p->ready has 2n slots: the FIFO ring in the first n, the work stack of
 * skip_downstream in the last n, so nothing after weft_plan_init allocates
 * and no transition can fail. */
#include "engine/plan.h"

#include <stdlib.h>
#include <string.h>

/* WEFT_STEP__COUNT stands for "waiting on upstreams", which has no stored
 * state of its own, so finality is decided here rather than by the store. */
static int is_final(enum weft_step_status s) {
  return s == WEFT_STEP_SUCCEEDED || s == WEFT_STEP_FAILED || s == WEFT_STEP_SKIPPED ||
         s == WEFT_STEP_CANCELED;
}

static void set_status(struct weft_plan *p, size_t i, enum weft_step_status to) {
  struct weft_plan_step *s = &p->steps[i];
  if (s->status < WEFT_STEP__COUNT) p->counts[s->status]--;
  int was_final = is_final(s->status);
  s->status = to;
  p->counts[to]++;
  if (!was_final && is_final(to)) p->n_final++;
  if (was_final && !is_final(to)) p->n_final--;
}

static void push_ready(struct weft_plan *p, size_t i) {
  set_status(p, i, WEFT_STEP_QUEUED);
  p->ready[p->ready_tail++ % p->n] = i;
}

int weft_plan_init(struct weft_plan *p, const struct weft_job *job,
                   const unsigned char *in_run, weft_error *err) {
  memset(p, 0, sizeof *p);
  p->job = job;
  p->n = job->n_ops;
  size_t n = p->n ? p->n : 1;
  size_t *n_down = calloc(n, sizeof *n_down);
  p->steps = calloc(n, sizeof *p->steps);
  p->ready = calloc(2 * n, sizeof *p->ready);
  if (!n_down || !p->steps || !p->ready) goto nomem;
  for (size_t i = 0; i < p->n; i++)
    for (size_t u = 0; u < job->ops[i].n_upstream; u++) n_down[job->ops[i].upstream[u]]++;
  for (size_t i = 0; i < p->n; i++) {
    struct weft_plan_step *s = &p->steps[i];
    s->inv = &job->ops[i];
    s->status = WEFT_STEP__COUNT; /* "waiting": not yet in any state */
    s->in_run = in_run ? in_run[i] != 0 : 1;
    if (n_down[i] && !(s->downstream = malloc(n_down[i] * sizeof *s->downstream)))
      goto nomem;
  }
  for (size_t i = 0; i < p->n; i++) {
    const struct weft_invocation *inv = &job->ops[i];
    for (size_t u = 0; u < inv->n_upstream; u++) {
      struct weft_plan_step *up = &p->steps[inv->upstream[u]];
      up->downstream[up->n_downstream++] = i;
    }
  }
  /* Steps outside the run succeed at once; job->ops is topologically sorted,
   * so by the time a step is looked at, its upstreams are settled. */
  for (size_t i = 0; i < p->n; i++) {
    struct weft_plan_step *s = &p->steps[i];
    if (!s->in_run) {
      set_status(p, i, WEFT_STEP_SUCCEEDED);
      continue;
    }
    for (size_t u = 0; u < s->inv->n_upstream; u++)
      if (p->steps[s->inv->upstream[u]].in_run) s->n_waiting++;
    if (!s->n_waiting) push_ready(p, i);
  }
  free(n_down);
  return WEFT_OK;
nomem:
  free(n_down);
  weft_plan_release(p);
  return weft_error_set(err, WEFT_ENOMEM, "out of memory planning job '%s'", job->name);
}

void weft_plan_release(struct weft_plan *p) {
  if (p->steps)
    for (size_t i = 0; i < p->n; i++) free(p->steps[i].downstream);
  free(p->steps);
  free(p->ready);
  memset(p, 0, sizeof *p);
}

size_t weft_plan_take_ready(struct weft_plan *p) {
  while (p->ready_head != p->ready_tail) {
    size_t i = p->ready[p->ready_head++ % p->n];
    if (p->steps[i].status != WEFT_STEP_QUEUED) continue; /* canceled meanwhile */
    set_status(p, i, WEFT_STEP_RUNNING);
    p->steps[i].attempt++;
    return i;
  }
  return (size_t)-1;
}

/* Returns the number of steps skipped. */
static size_t skip_downstream(struct weft_plan *p, size_t i, size_t *skipped) {
  /* Iterative walk: a recursive one could overflow the stack on a long chain.
   * Each step is pushed at most once (i, then only steps it turns SKIPPED,
   * which i is not), so n slots are enough. */
  size_t *work = p->ready + p->n, top = 0, n = 0;
  work[top++] = i;
  while (top) {
    size_t cur = work[--top];
    struct weft_plan_step *s = &p->steps[cur];
    for (size_t d = 0; d < s->n_downstream; d++) {
      size_t j = s->downstream[d];
      struct weft_plan_step *t = &p->steps[j];
      if (t->status != WEFT_STEP__COUNT && t->status != WEFT_STEP_QUEUED) continue;
      set_status(p, j, WEFT_STEP_SKIPPED);
      if (skipped) skipped[n] = j;
      n++;
      work[top++] = j;
    }
  }
  return n;
}

void weft_plan_finish(struct weft_plan *p, size_t i, enum weft_step_status to,
                      size_t *skipped, size_t *n_skipped) {
  size_t n = 0;
  set_status(p, i, to);
  if (to == WEFT_STEP_SUCCEEDED) {
    struct weft_plan_step *s = &p->steps[i];
    for (size_t d = 0; d < s->n_downstream; d++) {
      struct weft_plan_step *t = &p->steps[s->downstream[d]];
      if (t->status == WEFT_STEP__COUNT && t->n_waiting && --t->n_waiting == 0)
        push_ready(p, s->downstream[d]);
    }
  } else if (to == WEFT_STEP_FAILED || to == WEFT_STEP_CANCELED) {
    n = skip_downstream(p, i, skipped);
  }
  if (n_skipped) *n_skipped = n;
}

/* Only an UP_FOR_RETRY step: a retry timer that fires after the step was
 * canceled (weft_plan_cancel_pending) must not bring it back to life, and a
 * second entry in the FIFO could overflow the ring. */
void weft_plan_requeue(struct weft_plan *p, size_t i) {
  if (p->steps[i].status == WEFT_STEP_UP_FOR_RETRY) push_ready(p, i);
}

size_t weft_plan_cancel_pending(struct weft_plan *p, size_t *out) {
  size_t n = 0;
  for (size_t i = 0; i < p->n; i++) {
    enum weft_step_status st = p->steps[i].status;
    if (st == WEFT_STEP__COUNT || st == WEFT_STEP_QUEUED || st == WEFT_STEP_UP_FOR_RETRY) {
      set_status(p, i, WEFT_STEP_CANCELED);
      if (out) out[n] = i;
      n++;
    }
  }
  return n;
}

int weft_plan_done(const struct weft_plan *p) { return p->n_final == p->n; }
