/* coord_loop.h: one thread drives many runs: each run a drive
 * (coord_drive.h) turned without blocking, one transaction per tick for
 * every run's events and rows, one read per tick of the runs asked to
 * cancel. `weft coordinator` and the services embedding it run this. */
#ifndef WEFT_ENGINE_COORD_LOOP_H
#define WEFT_ENGINE_COORD_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

struct weft_coord_loop;

/* Called once per run when it is over and released: its final status, and
 * rc/msg when the loop could not drive it to its end. */
typedef void (*weft_coord_loop_done_fn)(void *data, const char *run_id,
                                        enum weft_run_status final, int rc, const char *msg);

/* The loop's time for its own timers (cancel reads, commits), monotonic
 * ms; NULL: the real clock. Tests pass a fake one. */
typedef int64_t (*weft_coord_loop_clock_fn)(void *data);

/* A loop over inst (borrowed; used from the loop's thread only). */
int weft_coord_loop_new(struct weft_instance *inst, struct weft_coord_loop **out,
                        weft_error *err);
void weft_coord_loop_set_clock(struct weft_coord_loop *lp, weft_coord_loop_clock_fn fn,
                               void *data);
/* Starts driving queued run_id with l (its job and run config must outlive
 * the run: done is where the caller frees them). The run is recorded
 * started in the next tick's commit. A run that cannot start is over at
 * once (done is called, with rc). */
int weft_coord_loop_add(struct weft_coord_loop *lp, const char *run_id,
                        const struct weft_launch *l, weft_coord_loop_done_fn done, void *data,
                        weft_error *err);
/* Called with a run's done data inside the transaction that claims the
 * run's lease and records it started, so what the caller kept of how it got
 * the run (a coordinator service's inbox entry, the run queue's claim)
 * goes away in that same commit. An error rolls the commit back; the run
 * is then written alone and the hook called again. */
typedef int (*weft_coord_loop_claimed_fn)(void *data, const char *run_id, weft_error *err);
/* Called after the claimed hooks of a transaction: before its commit with
 * write 1 (an error rolls it back), or with write 0 when it is rolled back
 * without. A caller that only gathered in its claimed hook what goes away
 * writes it here, in one statement for all the runs claimed. */
typedef int (*weft_coord_loop_claimed_end_fn)(void *ctx, int write, weft_error *err);
void weft_coord_loop_set_claimed(struct weft_coord_loop *lp, weft_coord_loop_claimed_fn fn,
                                 weft_coord_loop_claimed_end_fn end, void *end_ctx);
/* Runs turned between two commits of one tick (coord_loop.c says why). */
#define WEFT_COORD_LOOP_COMMIT_CHUNK 1024

/* One tick: turns every run, commits what they recorded in one
 * transaction (one per WEFT_COORD_LOOP_COMMIT_CHUNK runs turned), ends and
 * releases the runs that are over. Waits up to wait_ms when no run had
 * anything to do (0: never). Returns the number of runs still driven. */
size_t weft_coord_loop_tick(struct weft_coord_loop *lp, int wait_ms);
/* Ends the loop's waits when fd polls readable (the caller reads it
 * before the next tick, or every wait ends at once): a coordinator
 * service's inbox bell. One such fd; -1 removes it. */
int weft_coord_loop_watch_wake(struct weft_coord_loop *lp, int fd, weft_error *err);
/* Runs driven now. */
size_t weft_coord_loop_count(const struct weft_coord_loop *lp);
/* Commits made by ticks so far (for tests and the bench: one per tick
 * with something to record, whatever the number of runs). */
uint64_t weft_coord_loop_commits(const struct weft_coord_loop *lp);
/* Runs turned so far (an idle run with nothing due is not turned). */
uint64_t weft_coord_loop_turns(const struct weft_coord_loop *lp);
/* Lease renewals so far: one statement for all the loop's runs each. */
uint64_t weft_coord_loop_lease_renewals(const struct weft_coord_loop *lp);
/* Cancels every run it drives (they end CANCELED through later ticks). */
void weft_coord_loop_cancel_all(struct weft_coord_loop *lp, const char *reason);
/* Cancels one run; WEFT_ENOTFOUND when the loop does not drive it. */
int weft_coord_loop_cancel(struct weft_coord_loop *lp, const char *run_id, const char *reason);
/* Frees the loop; runs still driven are canceled and ended first. */
void weft_coord_loop_free(struct weft_coord_loop *lp);

#endif
