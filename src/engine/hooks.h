/* hooks.h: a run's alerts (`on_failure:`, `on_success:`, `on_sla_missed:` of
 * its job, its ops and weft.yaml): claimed once in storage, delivered off the
 * coordinator's thread with retries, recorded as hook_delivered/hook_failed. */
/*
 * One delivery (a hook of one trigger, for the run or one step):
 *
 *   fired --kv claim hooks/RUN/HOOK taken already--> skipped (no event)
 *     |
 *     `--claimed--> trying --2xx / exit 0--> delivered (hook_delivered)
 *                     ^   \
 *                     |    `--error, tries left--> waiting 2, 4, 8 ... s
 *                     `-----------------------------'
 *                   trying/waiting --no tries left, or stopped after the
 *                   run ended + WEFT_HOOKS_WAIT_MS--> failed (hook_failed)
 */
#ifndef WEFT_ENGINE_HOOKS_H
#define WEFT_ENGINE_HOOKS_H

#include <jansson.h>

struct coord;
struct run_hooks;

/* How long a coordinator waits, after its run ended, for deliveries still
 * going (then stops them and records hook_failed). */
#define WEFT_HOOKS_WAIT_MS 30000
/* Per hook unless it says otherwise: tries after the first, seconds per
 * attempt; the waits between tries double from WEFT_HOOKS_BACKOFF_MS. */
#define WEFT_HOOKS_RETRIES 4
#define WEFT_HOOKS_TIMEOUT_S 10.0
#define WEFT_HOOKS_BACKOFF_MS 2000

/* The run's hook state; reads weft.yaml's hooks: from c->inst->home. NULL
 * when out of memory or weft.yaml cannot be read (then only the job's and
 * ops' hooks fire; the reason goes to stderr). */
struct run_hooks *run_hooks_new(struct coord *c);
/* Starts the deliveries of trigger ("on_failure", ...) for the run, or for
 * step (its op's hooks and no others) when step is not NULL. Never waits
 * for a delivery. message ({{run.message}}): NULL for the run's. */
void run_hooks_fire(struct run_hooks *h, struct coord *c, const char *trigger, const char *step,
                    const json_t *op_hooks, const char *message);
/* Records the deliveries that ended since the last call as events. */
void run_hooks_poll(struct run_hooks *h, struct coord *c);
/* Whether a delivery is not recorded yet (a loop of many runs turns the
 * run now and then until it is: coord_loop.c). */
int run_hooks_busy(struct run_hooks *h);
/* After the run ended: waits up to wait_ms for the deliveries still going,
 * stops the others, records them all. */
void run_hooks_finish(struct run_hooks *h, struct coord *c, int wait_ms);
void run_hooks_free(struct run_hooks *h); /* stops what still runs; NULL is a no-op */

#endif
