/* plan.c: ready-queue scheduling of a run's steps by their trigger rules,
 * skip propagation.
 * Invariants: every QUEUED step is in the ready FIFO exactly once (the FIFO
 * may also hold stale entries of steps canceled or skipped while queued,
 * which weft_plan_take_ready drops), so it never holds more than n entries;
 * n_final and counts[] always match the steps' statuses.
 * p->ready has 2n slots: the FIFO ring in the first n, the work stack of
 * settle in the last n, so nothing after weft_plan_init allocates
 * and no transition can fail. */
#include "engine/plan.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
  if (s->map_parent != (size_t)-1 && was_final != is_final(to)) {
    if (is_final(to)) p->steps[s->map_parent].n_items_final++;
    else p->steps[s->map_parent].n_items_final--;
  }
  if (s->map_parent != (size_t)-1 && to == WEFT_STEP_SUCCEEDED)
    p->steps[s->map_parent].n_items_ok++;
}

static void push_ready(struct weft_plan *p, size_t i) {
  set_status(p, i, WEFT_STEP_QUEUED);
  p->ready[p->ready_tail++ % p->n] = i;
}

/* What step j's trigger rule says given its upstreams final so far: 1 run
 * it, 0 skip it, -1 not known yet (plan.h lists the rules). */
static int rule_outcome(const struct weft_plan_step *t) {
  size_t n = t->inv->n_upstream;
  size_t done = t->n_up_ok + t->n_up_failed + t->n_up_skipped + t->n_up_canceled;
  int all = done == n;
  if (!n) return 1;
  switch (t->inv->trigger) {
    case WEFT_TRIGGER_ALL_DONE: return all ? 1 : -1;
    case WEFT_TRIGGER_ONE_FAILED: return t->n_up_failed ? 1 : all ? 0 : -1;
    case WEFT_TRIGGER_NONE_FAILED:
      return t->n_up_failed || t->n_up_canceled ? 0 : all ? 1 : -1;
    case WEFT_TRIGGER_ALL_SKIPPED: return done > t->n_up_skipped ? 0 : all ? 1 : -1;
    case WEFT_TRIGGER_ALL_SUCCESS: break;
  }
  return done > t->n_up_ok ? 0 : all ? 1 : -1;
}

static void count_upstream(struct weft_plan_step *t, const struct weft_plan_step *u) {
  enum weft_step_status st = u->status;
  /* A chained map runs the items of the mapped upstream that succeeded
   * (plan.h). */
  if (st == WEFT_STEP_FAILED && t->inv->mapped && u->inv->mapped && u->n_items &&
      u->n_items_final == u->n_items && t->inv->wires[t->inv->map_wire].from_op &&
      !strcmp(t->inv->wires[t->inv->map_wire].from_op, u->inv->name) && u->n_items_ok)
    st = WEFT_STEP_SUCCEEDED;
  switch (st) {
    case WEFT_STEP_SUCCEEDED: t->n_up_ok++; break;
    case WEFT_STEP_FAILED: t->n_up_failed++; break;
    case WEFT_STEP_SKIPPED: t->n_up_skipped++; break;
    default: t->n_up_canceled++; break;
  }
}

/* Step i just became final: its waiting downstreams learn how it ended and
 * settle when their rule's outcome is known; a SKIPPED one settles its own
 * in turn. Iterative (a recursive walk could overflow the stack on a long
 * chain); each step is pushed once, when it becomes final, so the n slots
 * after the FIFO are enough. Returns how many were skipped. */
static size_t settle(struct weft_plan *p, size_t i, size_t *skipped) {
  size_t *work = p->ready + p->n, top = 0, n = 0;
  work[top++] = i;
  while (top) {
    size_t cur = work[--top];
    struct weft_plan_step *s = &p->steps[cur];
    for (size_t d = 0; d < s->n_downstream; d++) {
      size_t j = s->downstream[d];
      struct weft_plan_step *t = &p->steps[j];
      if (t->status != WEFT_STEP__COUNT) continue; /* settled already */
      count_upstream(t, s);
      if (t->n_waiting) t->n_waiting--;
      int out = rule_outcome(t);
      if (out == 1) {
        push_ready(p, j);
      } else if (out == 0) {
        set_status(p, j, WEFT_STEP_SKIPPED);
        if (skipped) skipped[n] = j;
        n++;
        work[top++] = j;
      }
    }
  }
  return n;
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
    s->name = job->ops[i].name;
    s->map_parent = s->map_src = (size_t)-1;
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
  /* Steps outside the run succeed at once; the others wait on their
   * upstreams in the run. */
  for (size_t i = 0; i < p->n; i++) {
    struct weft_plan_step *s = &p->steps[i];
    if (!s->in_run) {
      set_status(p, i, WEFT_STEP_SUCCEEDED);
      continue;
    }
    for (size_t u = 0; u < s->inv->n_upstream; u++) {
      if (p->steps[s->inv->upstream[u]].in_run)
        s->n_waiting++;
      else
        s->n_up_ok++;
    }
  }
  /* Those waiting on nothing settle now (in topological order, so a skip
   * reaches its downstreams before they are looked at). */
  for (size_t i = 0; i < p->n; i++) {
    struct weft_plan_step *s = &p->steps[i];
    if (s->status != WEFT_STEP__COUNT || s->n_waiting) continue;
    if (rule_outcome(s) == 1) {
      push_ready(p, i);
    } else {
      set_status(p, i, WEFT_STEP_SKIPPED);
      settle(p, i, NULL);
    }
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
    for (size_t i = 0; i < p->n; i++) {
      free(p->steps[i].downstream);
      if (p->steps[i].map_parent != (size_t)-1) free((char *)p->steps[i].name);
      json_decref(p->steps[i].item);
    }
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

static void release_chained(struct weft_plan *p, size_t j);

void weft_plan_finish(struct weft_plan *p, size_t i, enum weft_step_status to,
                      size_t *skipped, size_t *n_skipped) {
  size_t n = 0;
  set_status(p, i, to);
  if (is_final(to)) release_chained(p, i);
  if (is_final(to)) n = settle(p, i, skipped);
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

int weft_plan_is_final(const struct weft_plan *p, size_t i) {
  return is_final(p->steps[i].status);
}

/* ---- mapping ------------------------------------------------------------------ */

size_t weft_plan_add_items(struct weft_plan *p, size_t i, size_t n) {
  size_t old = p->n, nn = old + n, cap = nn ? nn : 1;
  struct weft_plan_step *steps = realloc(p->steps, cap * sizeof *steps);
  if (!steps) return (size_t)-1;
  p->steps = steps;
  size_t *ready = calloc(2 * cap, sizeof *ready);
  if (!ready) return (size_t)-1;
  /* The FIFO ring is laid out again for the new size, its order kept
   * (settle's work stack is empty between transitions). */
  size_t k = 0;
  for (size_t h = p->ready_head; h != p->ready_tail; h++) ready[k++] = p->ready[h % old];
  free(p->ready);
  p->ready = ready;
  p->ready_head = 0;
  p->ready_tail = k;
  memset(&steps[old], 0, n * sizeof *steps);
  for (size_t j = old; j < nn; j++) {
    steps[j].inv = steps[i].inv;
    steps[j].status = WEFT_STEP__COUNT;
    steps[j].in_run = 1;
    steps[j].map_parent = i;
    steps[j].map_src = (size_t)-1;
  }
  p->n = nn;
  steps[i].first_item = old;
  steps[i].n_items = n;
  steps[i].n_items_final = steps[i].n_items_ok = 0;
  steps[i].expanded = 1;
  return old;
}

void weft_plan_item_ready(struct weft_plan *p, size_t j) {
  if (p->steps[j].status == WEFT_STEP__COUNT) push_ready(p, j);
}

void weft_plan_item_end(struct weft_plan *p, size_t j, enum weft_step_status to) {
  if (p->steps[j].status != WEFT_STEP__COUNT) return;
  set_status(p, j, to);
  release_chained(p, j);
}

/* Whether mapped step b maps over the items of mapped step a (chained). */
static int chained_over(const struct weft_plan *p, size_t b, size_t a) {
  const struct weft_invocation *inv = p->steps[b].inv;
  return inv->mapped && p->steps[a].inv->mapped && p->steps[b].map_parent == (size_t)-1 &&
         inv->wires[inv->map_wire].from_index == a;
}

/* Item j of A just became final: the item of the same key of each map
 * after A that expanded already (streaming) becomes ready; the coordinator
 * decides then whether it runs (run_map.c). */
static void release_chained(struct weft_plan *p, size_t j) {
  size_t a = p->steps[j].map_parent;
  if (a == (size_t)-1) return;
  size_t k = j - p->steps[a].first_item;
  for (size_t d = 0; d < p->steps[a].n_downstream; d++) {
    size_t b = p->steps[a].downstream[d];
    const struct weft_plan_step *bs = &p->steps[b];
    if (!bs->expanded || bs->status != WEFT_STEP_RUNNING || !chained_over(p, b, a) ||
        k >= bs->n_items)
      continue;
    size_t t = bs->first_item + k;
    if (p->steps[t].status == WEFT_STEP__COUNT && p->steps[t].map_src == j) push_ready(p, t);
  }
}

int weft_plan_stream_start(struct weft_plan *p, size_t b) {
  struct weft_plan_step *bs = &p->steps[b];
  if (bs->status != WEFT_STEP__COUNT || !bs->in_run || bs->map_parent != (size_t)-1 ||
      !bs->inv->mapped || bs->inv->trigger != WEFT_TRIGGER_ALL_SUCCESS || bs->n_waiting != 1)
    return 0;
  size_t a = bs->inv->wires[bs->inv->map_wire].from_index;
  const struct weft_plan_step *as = &p->steps[a];
  if (!chained_over(p, b, a) || !as->expanded || as->status != WEFT_STEP_RUNNING ||
      bs->n_up_ok + 1 != bs->inv->n_upstream)
    return 0;
  set_status(p, b, WEFT_STEP_RUNNING);
  bs->attempt++;
  bs->n_waiting = 0;
  return 1;
}
