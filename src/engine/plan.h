/* plan.h: the pure scheduling state of one run (ninja's Plan): which steps are
 * ready, which wait on upstreams, which are skipped. No I/O, no processes. */
#ifndef WEFT_ENGINE_PLAN_H
#define WEFT_ENGINE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "store/store.h"

struct weft_plan_step {
  const struct weft_invocation *inv; /* borrowed from the job */
  /* The step's name: inv->name, or an item's "STEP[k]" / "STEP[KEY]"
   * (owned by the plan when map_parent is set). */
  const char *name;
  /* Mapping (run_map.c). An item: map_parent is the mapped step's index,
   * item its value (owned; NULL for chained items, which take map_src's
   * output), map_src the upstream item (or (size_t)-1). A mapped step once
   * expanded: its items are steps[first_item .. first_item + n_items). */
  size_t map_parent, map_src;
  json_t *item;
  size_t first_item, n_items, n_items_final, n_items_ok;
  int expanded;
  int reused; /* an item whose outputs came from the parent run */
  /* An item of a nested map (map_nested): a map itself over its source
   * item's list, expanded when taken from the ready queue; its items have
   * it as map_parent. */
  int group;
  enum weft_step_status status;
  int in_run;        /* 0: not executed in this run (its outputs are reused) */
  int attempt;       /* attempts started so far */
  size_t n_waiting;  /* upstreams of this run not yet final */
  /* Upstreams final so far, by how they ended (outside the run: ok). */
  size_t n_up_ok, n_up_failed, n_up_skipped, n_up_canceled;
  size_t *downstream;
  size_t n_downstream;
  int64_t retry_at_ms;  /* monotonic time of the next attempt when UP_FOR_RETRY */
  int64_t started_ms, ended_ms; /* wall time of the current attempt */
  void *exec_cookie; /* whatever the runner attached while it runs */
};

/* Plan state machine, per step (every transition through one function):
 *
 *   (waiting) --its trigger rule holds [settle]--> QUEUED (in the ready queue)
 *   (waiting) --its trigger rule cannot hold [settle]--> SKIPPED
 *   QUEUED --weft_plan_take_ready--> RUNNING
 *   RUNNING --weft_plan_finish(SUCCEEDED|FAILED|CANCELED|SKIPPED)--> final
 *   RUNNING --weft_plan_finish(UP_FOR_RETRY)--> UP_FOR_RETRY --weft_plan_requeue--> QUEUED
 *   QUEUED/waiting/UP_FOR_RETRY --weft_plan_cancel_pending--> CANCELED
 *
 * A step that becomes final settles its waiting downstreams (settle in
 * plan.c), by their `trigger:` (model.h), as soon as the outcome is known:
 *   all_success  QUEUED when every upstream succeeded; SKIPPED as soon as
 *                one ends otherwise (a failure or a skip propagates)
 *   all_done     QUEUED once every upstream is final
 *   one_failed   QUEUED as soon as one upstream failed; SKIPPED when all
 *                ended and none failed
 *   none_failed  QUEUED when every upstream succeeded or was skipped;
 *                SKIPPED as soon as one failed or was canceled
 *   all_skipped  QUEUED when every upstream was skipped; SKIPPED as soon
 *                as one ends otherwise
 * A step without upstreams is QUEUED at once. Steps outside the run count
 * as SUCCEEDED. RUNNING --finish(SKIPPED)--> is the coordinator deciding
 * not to run a ready step (its `when:` is false, an input it needs was not
 * written). A step SKIPPED at init (every upstream outside the run, a rule
 * that cannot hold) is not reported anywhere: the caller looks at statuses. */
struct weft_plan {
  const struct weft_job *job;
  struct weft_plan_step *steps; /* one per job->ops entry, same index */
  size_t n;
  size_t *ready; /* FIFO of QUEUED step indexes */
  size_t ready_head, ready_tail;
  size_t n_final; /* steps in a final state */
  size_t counts[WEFT_STEP__COUNT];
};

/* Mapping: a mapped step taken from the ready queue stays RUNNING while its
 * items run; the coordinator appends its items (weft_plan_add_items), each
 * then goes through the same states as any step (items have no downstream
 * of their own: a mapped step's downstreams wait on the mapped step), and
 * when n_items_final == n_items the coordinator finishes the mapped step
 * with the items' combined status (weft_plan_finish), which settles its
 * downstreams as usual. A chained map (B over the mapped A) streams: once
 * A has expanded and B's other upstreams have succeeded, the coordinator
 * starts B early (weft_plan_stream_start) and expands it into one item per
 * item of A; B[k] waits for A[k] alone and is queued as soon as A[k] ends,
 * however it ended (the coordinator skips B[k] when A[k] did not succeed).
 * B then is no longer waiting, so A's end does not settle it. A chained map
 * that cannot stream (another wire from A, a `when:` naming A, a trigger
 * other than all_success) waits for all of A: A counts as succeeded for
 * B's rule when some of its items succeeded. */

/* in_run[i] says whether job->ops[i] executes in this run (NULL: all do).
 * Steps outside the run count as SUCCEEDED from the start. */
int weft_plan_init(struct weft_plan *p, const struct weft_job *job,
                   const unsigned char *in_run, weft_error *err);
void weft_plan_release(struct weft_plan *p);

/* Next QUEUED step index, moved to RUNNING; (size_t)-1 when none is ready. */
size_t weft_plan_take_ready(struct weft_plan *p);
/* Records the end of a RUNNING step's attempt. Downstream steps settle by
 * their trigger rules; those (transitively) SKIPPED are appended to skipped
 * (capacity p->n) and their count returned through n_skipped (both may be
 * NULL). */
void weft_plan_finish(struct weft_plan *p, size_t i, enum weft_step_status to,
                      size_t *skipped, size_t *n_skipped);
/* An UP_FOR_RETRY step goes back to the ready queue. */
void weft_plan_requeue(struct weft_plan *p, size_t i);
/* Every step not started and not final becomes CANCELED; indexes appended to
 * out (capacity p->n), count returned. */
size_t weft_plan_cancel_pending(struct weft_plan *p, size_t *out);
int weft_plan_done(const struct weft_plan *p);
/* Whether step i is in a final state. */
int weft_plan_is_final(const struct weft_plan *p, size_t i);

/* Appends n items of the mapped RUNNING step i (waiting, each with
 * map_parent i and no name yet: the caller names them); the plan grows, so
 * pointers into p->steps are stale after. Returns the first item's index,
 * or (size_t)-1 when out of memory. */
size_t weft_plan_add_items(struct weft_plan *p, size_t i, size_t n);
/* Chained mapped step b (waiting) may start before its mapped source ends
 * (streaming, above): 1 and b is RUNNING, else 0 and nothing changed. The
 * caller also checks what the plan does not know (wires, `when:`). */
int weft_plan_stream_start(struct weft_plan *p, size_t b);
/* Item j (waiting) goes to the ready queue. */
void weft_plan_item_ready(struct weft_plan *p, size_t j);
/* Item j (waiting) ends without running: SUCCEEDED (reused from the parent
 * run), SKIPPED or CANCELED. Items ending (here or by weft_plan_finish)
 * release the items of streaming maps after them. */
void weft_plan_item_end(struct weft_plan *p, size_t j, enum weft_step_status to);

#endif
