/* coord_drive.h: one run as a state object advanced by non-blocking turns
 * (coord_drive_turn), so one thread can drive many runs (coord_loop.h) or
 * one run to its end (weft_run_execute). */
#ifndef WEFT_ENGINE_COORD_DRIVE_H
#define WEFT_ENGINE_COORD_DRIVE_H

#include "engine/code_snapshot.h"
#include "engine/engine_int.h"
#include "engine/hooks.h"
#include "engine/run_deadline.h"

/* The life of a drive:
 *
 *   coord_drive_open ──> turn, turn, ... (0: go on) ──> 1: over
 *                                                   └──> coord_drive_close
 *                                                        (records the end)
 *
 * A shared drive (a loop of many runs) never commits on its own while it
 * turns: its batch waits for the loop's transaction (coord_flush_write of
 * every run, then coord_flush_done). Closing commits on its own. */
struct coord_drive {
  struct coord c;
  struct run_deadline dl;
  struct weft_run_code code;
  const struct weft_launch *use;
  struct run_hooks *hooks;
  weft_error *err;
  int rc;          /* the first error: the run stops */
  int opened;      /* coord_init ran: c is to be released */
  int sla_alerted;
  int ended;       /* coord_drive_end recorded the end */
  int shared;      /* driven by a loop of many runs */
  int64_t next_flush_ms; /* monotonic; unshared drives */
  int64_t wake_ms;       /* after a turn: ms until it has something to do
                            unless a step ends (-1: nothing timed) */
  enum weft_run_status final;
};

/* Loads the run's code, plans it and records it started. On failure d->rc
 * is set (and returned); close d all the same. */
int coord_drive_open(struct coord_drive *d, struct weft_instance *inst, const char *run_id,
                     const struct weft_launch *l, int shared, weft_error *err);

/* One turn: deadlines, alerts, cancel, retries, starts what is ready, then
 * collects what finished, waiting up to wait_ms (0: just look; -1: as long
 * as nothing timed is due). Returns 1 when the run is over (every step
 * final, or an error), 0 when it goes on, 2 when it goes on and something
 * happened in this turn (a step started or ended). */
int coord_drive_turn(struct coord_drive *d, int wait_ms);

/* Records the end of a run that is over (run_success / run_failure /
 * run_canceled) in its batch; an unshared drive commits it. Once. */
void coord_drive_end(struct coord_drive *d);

/* Records the end (run_success / run_failure / run_canceled; a run that
 * could not go on is failed with why), commits, fires the run's alerts
 * and releases everything; d->final is the run's status. Returns d->rc. */
int coord_drive_close(struct coord_drive *d);

/* run.c: the pieces of the loop the drive calls. */
int coord_flush_pending(const struct coord *c, int force_run);
int coord_flush_write(struct coord *c, int force_run, weft_error *e);
void coord_flush_done(struct coord *c, int rc, const weft_error *e);
void coord_flush(struct coord *c, int force_run);
void coord_batch_clear(struct coord_batch *b);
void coord_begin_cancel(struct coord *c, const char *reason);
void coord_check_cancel(struct coord *c);
void coord_requeue_due_retries(struct coord *c, int64_t now, int64_t *next_due);
void coord_start_ready(struct coord *c);
void coord_alert_failed_steps(struct coord *c, struct run_hooks *h);
void coord_finish_run(struct coord *c, const struct run_deadline *dl);
int coord_init(struct coord *c, struct weft_instance *inst, const char *run_id,
               const struct weft_launch *l, weft_error *err);
void coord_release(struct coord *c);
int coord_start_run(struct coord *c);

#endif
