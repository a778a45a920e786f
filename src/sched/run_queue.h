/* run_queue.h: the run queue: QUEUED runs are admitted under the instance's
 * run_queue limits (weft.yaml), highest weft/priority first, exactly once.
 *
 * A run is admitted by claiming it: the kv entry "claim/RUN" is created
 * (compare-and-set, absent -> {"by":ID,"at_ms":T}) inside one serialized
 * store write transaction that also counts what is in progress, so two
 * dequeuers on one store never admit the same run nor exceed a limit. After
 * the commit, the dequeuer starts each admitted run's coordinator (the spawn
 * callback). In progress = STARTED or CANCELING runs plus claimed QUEUED
 * runs. A claim is dropped once its run left QUEUED, and released when its
 * run is still QUEUED after WEFT_RUN_QUEUE_CLAIM_STALE_MS and the claimer is
 * dead (or on another host), so a dequeuer that died between the commit and
 * the spawn does not hold a slot for ever.
 *
 * Admission order: tag weft/priority (an integer, higher first; default 0),
 * then creation time, then id. A run blocked by a tag limit does not hold
 * back later runs that the limit does not concern; a full global limit
 * stops admission. */
#ifndef WEFT_SCHED_RUN_QUEUE_H
#define WEFT_SCHED_RUN_QUEUE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "dsl/dsl.h"
#include "engine/engine.h"

#define WEFT_RUN_QUEUE_PRIORITY_TAG "weft/priority"
#define WEFT_RUN_QUEUE_CLAIM_PREFIX "claim/"
/* "queue/steps/RUN" = "a,b": a queued re-execution's steps (--in-run). */
#define WEFT_RUN_QUEUE_STEPS_PREFIX "queue/steps/"
/* "queue/self/RUN" = "host:pid:start": a foreground launcher waits for this
 * run and coordinates it itself; a dequeuer that admits it claims it in the
 * launcher's name and starts no coordinator. */
#define WEFT_RUN_QUEUE_SELF_PREFIX "queue/self/"
#define WEFT_RUN_QUEUE_CLAIM_STALE_MS 30000

/* Reads the run_queue section of HOME/weft.yaml into *out (zeroed: no
 * limits, when the file has none). Release with
 * weft_run_queue_config_release. */
int weft_run_queue_config_load(const char *home, struct weft_run_queue_config *out,
                               weft_error *err);
void weft_run_queue_config_release(struct weft_run_queue_config *cfg);

/* ---- the admission plan (pure: no store, no clock) ---------------------------- */

struct weft_run_queue_decision {
  const struct weft_run_row *run; /* borrowed from the caller's queued rows */
  int admit;                      /* 1: admitted */
  /* Why it waits (admit 0): the global limit (tag_limit -1) or the tag
   * limit cfg->tag_limits[tag_limit], with in_progress of limit used. */
  int tag_limit;
  int in_progress, limit;
  /* For people: "waiting: 10/10 runs in progress (max_concurrent_runs)",
   * "waiting: 1/1 runs with tag database=prod in progress", or "next in
   * line" (admitted). Long tag values are cut. */
  char reason[200];
};

/* Decides, for the queued runs (in any order), which are admitted given the
 * runs in progress. out[n_queued] receives one decision per queued run, in
 * admission order (sorted as above). Returns WEFT_OK or WEFT_ENOMEM. */
int weft_run_queue_plan(const struct weft_run_queue_config *cfg,
                        const struct weft_run_row *in_progress, size_t n_in_progress,
                        const struct weft_run_row *queued, size_t n_queued,
                        struct weft_run_queue_decision *out, weft_error *err);

/* The run's priority: its weft/priority tag (tags: JSON object text), 0
 * when absent or not an integer. */
int weft_run_queue_priority(const char *tags);

/* ---- dequeuing ------------------------------------------------------------------ */

/* Starts the coordinator of an admitted (claimed) run; in_run is the
 * re-execution's steps "a,b" or NULL. A failure makes the dequeuer fail the
 * run (weft_run_abandon) with err's message. */
typedef int (*weft_run_queue_spawn_fn)(void *data, struct weft_instance *inst,
                                       const struct weft_run_row *run, const char *in_run,
                                       weft_error *err);

/* One dequeue turn: in one write transaction, drops finished claims,
 * releases stale ones, admits and claims what the limits allow; then, after
 * the commit, calls spawn for each admitted run in admission order.
 * *n_started (may be NULL) counts the coordinators started. now_ms is the
 * wall clock (injectable for tests). Errors are store failures; a spawn
 * failure only fails that run. */
int weft_run_queue_dequeue(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                           int64_t now_ms, weft_run_queue_spawn_fn spawn, void *spawn_data,
                           size_t *n_started, weft_error *err);

/* Optional, inside the turn's transaction, for each admitted run before
 * the commit: hands it to a coordinator service (coord_service.h), so the
 * runs a turn admits cost its one commit, not one each (a thousand
 * schedules due at once). Returns 1 when handed (nothing is spawned for
 * it), 0 to spawn it after the commit, or an error code: the turn rolls
 * back, nothing admitted. */
typedef int (*weft_run_queue_hand_fn)(void *data, struct weft_instance *inst,
                                      const struct weft_run_row *run, const char *in_run,
                                      weft_error *err);

/* How a turn starts what it admits: hand (may be NULL), else spawn. */
struct weft_run_queue_starter {
  weft_run_queue_spawn_fn spawn;
  weft_run_queue_hand_fn hand;
  void *data;
};

/* weft_run_queue_dequeue with a hand-off inside the turn's transaction. */
int weft_run_queue_dequeue_with(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                                int64_t now_ms, const struct weft_run_queue_starter *start,
                                size_t *n_started, weft_error *err);

/* Claims run_id for the caller, who coordinates it in-process at once,
 * whatever the limits (a launch when none are configured: no other
 * dequeuer may spawn a coordinator for it meanwhile). WEFT_ECONFLICT when
 * the run is not QUEUED or already claimed. */
int weft_run_queue_claim(struct weft_instance *inst, const char *run_id, int64_t now_ms,
                         weft_error *err);

/* The claim alone, in the caller's transaction, of a run the caller knows
 * is QUEUED: what a turn admitting it writes (weft_coord_admit_in_tx).
 * also_key, when not NULL, is set to also_value in the same statement
 * when absent (else by a second one): a hand-over's inbox entry. */
int weft_run_queue_claim_in_tx(struct weft_store *s, const char *run_id, int64_t now_ms,
                               const char *also_key, const char *also_value,
                               weft_error *err);
/* weft_run_queue_claim_in_tx of run_ids[0..n) (also_keys NULL, or one key
 * for each run), in one statement. */
int weft_run_queue_claim_many_in_tx(struct weft_store *s, const char *const *run_ids, size_t n,
                                    int64_t now_ms, const char *const *also_keys,
                                    const char *const *also_values, weft_error *err);

/* Hands run_id (QUEUED, just created) over to the queue: weft_run_create
 * names the creating process as the run's coordinator, so the run would be
 * swept as orphaned once that process exits; a run left for any dequeuer
 * (detached launch, backfill, scheduler) has none until one starts it. Call
 * it in the creating transaction. WEFT_ECONFLICT when it is not QUEUED. */
int weft_run_queue_enqueue(struct weft_instance *inst, const char *run_id, weft_error *err);

/* What a launcher does with the run it has just created, in the creating
 * transaction: without limits it claims it (it starts it at once, here or
 * in its detached process: *wait 0); with limits a detached launch leaves
 * it to the dequeuers (weft_run_queue_enqueue, *wait 0) and a foreground
 * one marks it as its own (*wait 1: call weft_run_queue_wait_turn). */
int weft_run_queue_launched(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                            const char *run_id, int detach, int *wait, weft_error *err);

/* Records the steps of a queued re-execution ("a,b"), in the run's creation
 * transaction or just after, so whichever dequeuer admits it passes them to
 * the coordinator. */
int weft_run_queue_set_steps(struct weft_instance *inst, const char *run_id,
                             const char *in_run, weft_error *err);

/* ---- explaining ------------------------------------------------------------------ */

struct weft_run_queue_wait {
  char *run_id;
  char *reason; /* "starting" for a claimed run whose coordinator starts */
};
struct weft_run_queue_waits {
  struct weft_run_queue_wait *v;
  size_t n;
};
void weft_run_queue_waits_release(struct weft_run_queue_waits *w);
/* The reason (borrowed from w) for run_id, or NULL when it is not queued. */
const char *weft_run_queue_waits_find(const struct weft_run_queue_waits *w,
                                      const char *run_id);

/* Why each QUEUED run waits (in admission order), as the next dequeue turn
 * would see it; read-only. */
int weft_run_queue_explain(struct weft_store *store, const struct weft_run_queue_config *cfg,
                           struct weft_run_queue_waits *out, weft_error *err);
/* weft_run_queue_explain for one run: the same reason, without reading the
 * whole queue when no limit makes runs wait on each other. */
int weft_run_queue_explain_run(struct weft_store *store, const struct weft_run_queue_config *cfg,
                               const struct weft_run_row *run, struct weft_run_queue_waits *out,
                               weft_error *err);

/* ---- waiting for one's turn (a foreground `weft launch`) ------------------------- */

/* Dequeues (as any dequeuer: other admitted runs get their coordinator from
 * spawn) until run_id itself is admitted and claimed for the caller
 * (WEFT_OK: coordinate it now), calling on_reason whenever the reason it
 * waits changes. Wakes on every store event (a run ending frees a slot) and
 * at least once a second. *interrupt set: the run is canceled and
 * WEFT_ECANCELED returned; WEFT_ECONFLICT when the run left QUEUED some
 * other way (canceled elsewhere). */
int weft_run_queue_wait_turn(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                             const char *run_id, weft_run_queue_spawn_fn spawn, void *spawn_data,
                             void (*on_reason)(void *data, const char *reason), void *cb_data,
                             volatile sig_atomic_t *interrupt, weft_error *err);

#endif
