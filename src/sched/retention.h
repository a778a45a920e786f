/* retention.h: the scheduler's side of retention (retention.c): weft.yaml's
 * retention: policy applied continuously, a time-bounded pass a minute. */
#ifndef WEFT_SCHED_RETENTION_H
#define WEFT_SCHED_RETENTION_H

#include <stdint.h>

#include "engine/engine.h"

/* How often a pass starts, and how long one may hold the scheduler's turn;
 * a pass cut short resumes at its cursor at the next start. */
#define WEFT_RETENTION_EVERY_MS 60000
#define WEFT_RETENTION_BUDGET_MS 2000
/* The next start after a pass cut short, while a backlog lasts. */
#define WEFT_RETENTION_BACKLOG_MS 5000

/* Runs a pass when one is due (the first turn, then every
 * WEFT_RETENTION_EVERY_MS, or WEFT_RETENTION_EVERY_MS from the environment
 * in milliseconds) and weft.yaml has retention:. Re-reads weft.yaml each
 * time, so a changed policy applies without a restart. Failures are logged
 * and retried at the next pass: retention never stops the scheduler.
 * A pass cut short resumes where it stopped (its cursor), 5 s later.
 * *next_wake_ms is lowered to the next due time. */
void weft__sched_retention_turn(struct weft_instance *inst, int64_t now_ms,
                                int64_t *next_wake_ms);

#endif
