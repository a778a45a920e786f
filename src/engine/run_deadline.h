/* run_deadline.h: a run's deadlines in its coordinator's loop: `timeout:`
 * ends the run FAILED with its steps canceled, `sla:` emits `sla_missed`. */
#ifndef WEFT_ENGINE_RUN_DEADLINE_H
#define WEFT_ENGINE_RUN_DEADLINE_H

#include <stdint.h>

#include "engine/engine_int.h"

struct run_deadline {
  struct weft_deadline timeout, sla; /* the run config's, else the job's */
  int64_t timeout_at_ms, sla_at_ms;  /* wall clock; 0: none */
  int sla_missed;                    /* the event is out: never twice */
  int timed_out;                     /* the timeout fired: the run fails */
  char reason[80];                   /* "run timeout after 2h" */
};

/* Reads the deadlines of c's run (started: c->run.started_ms is set). They
 * count from the start time stored with the run, not from this process's
 * start, so they hold whoever drives the run. */
void run_deadline_init(struct run_deadline *d, const struct coord *c);

/* Acts on what is due at wall time now: emits `sla_missed` once; when the
 * timeout is due and the run is not already canceling, emits `run_timeout`
 * and starts canceling its steps (c->canceling, reason d->reason) while the
 * run stays STARTED, so finish_run ends it FAILED, not CANCELED. Returns the
 * ms until the next deadline, for the loop's wait, or -1 when none is left. */
int64_t run_deadline_check(struct run_deadline *d, struct coord *c, int64_t now);

#endif
