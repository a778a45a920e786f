/* sched.h: the scheduler: cron schedules and sensors that create QUEUED runs
 * exactly once per tick, their stored state and tick history (for CLI, UI). */
#ifndef WEFT_SCHED_SCHED_H
#define WEFT_SCHED_SCHED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "model/model.h"
#include "store/store.h"
#include "weft.h"

/* ---- stored state (key/value of the instance's store) ----------------------
 *
 *   schedule/NAME        {"state":"on|off","last_tick_ms":MS}   cursor
 *   sensor/NAME          {"state":"on|off","cursor":"...","last_eval_ms":MS}
 *   tick/NAME/INV        one tick (schedules) or evaluation (sensors), where
 *                        INV = 9999999999999 - tick_ms, zero-padded to 13
 *                        digits, so ascending key order is newest first:
 *                        {"name","kind":"schedule|sensor","tick_ms",
 *                         "status":"success|skipped|failure","reason"?,
 *                         "run_ids":[...],"partition"?}
 *                        A schedule tick's key is its idempotency key: it is
 *                        written with compare-and-set (absent only) in the
 *                        same transaction as its run, so two schedulers never
 *                        launch the same tick twice.
 *   runkey/SENSOR/KEY    a sensor's run request already launched (dedupe)
 *
 * Schedule and sensor names share one namespace (the DSL rejects a name
 * used twice across the workspace). */

#define WEFT_SCHED_TICK_INV_BASE 9999999999999LL

/* ---- the clock ------------------------------------------------------------- */

/* Where the scheduler reads the time; tests pass a fake one and advance it,
 * they never sleep. now_ms returns UTC milliseconds. */
struct weft_sched_clock {
  int64_t (*now_ms)(void *data);
  void *data;
};
/* The wall clock (weft_clock_wall_ms). */
extern const struct weft_sched_clock weft_sched_wall_clock;

/* ---- the scheduler ---------------------------------------------------------- */

struct weft_scheduler; /* opaque; one per thread that drives it */

struct weft_sched_options {
  const struct weft_sched_clock *clock; /* NULL: the wall clock */
  /* Start admitted QUEUED runs after each turn through the run queue
   * (sched/run_queue.h), spawning `weft run coordinate RUN COORD_ARGS...`
   * (coord_args: how the coordinator finds the job: -w FILE, -l DIR..., or
   * none for the location registry). 0: leave new runs QUEUED (tests). */
  int dequeue;
  const char *const *coord_args;
  size_t n_coord_args;
  /* 1: skip sensors of kind command (tests of the other kinds). */
  int no_command_sensors;
};

/* Creates a scheduler over inst (borrowed, must outlive it) for the
 * schedules and sensors of ws (borrowed; replace with
 * weft_scheduler_set_workspace). o may be NULL. Free with
 * weft_scheduler_free. */
int weft_scheduler_new(struct weft_instance *inst, const struct weft_workspace *ws,
                       const struct weft_sched_options *o, struct weft_scheduler **out,
                       weft_error *err);
void weft_scheduler_free(struct weft_scheduler *s); /* NULL is a no-op */
/* Points the scheduler at another workspace (after a reload); ws is
 * borrowed. Cursors live in the store, so nothing is lost. */
void weft_scheduler_set_workspace(struct weft_scheduler *s, const struct weft_workspace *ws);

/* What one turn did. */
struct weft_sched_turn {
  size_t runs_created;   /* runs this turn queued */
  size_t ticks_success, ticks_skipped, ticks_failure;
  size_t ticks_lost;     /* tick already taken by another scheduler */
  size_t sensors_evaluated;
  int64_t next_wake_ms;  /* when something is next due (clock time) */
};

/* One loop turn at the clock's now: every schedule that is on launches its
 * due ticks (catch-up policy applied), every sensor whose interval elapsed is
 * evaluated, then (o->dequeue) the run queue starts admitted runs. Errors of
 * one schedule or sensor become failure ticks and never stop the others;
 * the return is an error only when the store failed. turn may be NULL. */
int weft_scheduler_turn(struct weft_scheduler *s, struct weft_sched_turn *turn,
                        weft_error *err);

/* Between turns: only the run queue (reap finished coordinators, start
 * admitted runs), so freed slots are refilled without waiting for the next
 * turn. Cheap; a daemon calls it every ~100 ms. No-op without o->dequeue. */
int weft_scheduler_dequeue(struct weft_scheduler *s, weft_error *err);
/* The coordinators this scheduler started that still run: while there are
 * some, a slot may free at any moment and the daemon refills more often. */
size_t weft_scheduler_running_coordinators(struct weft_scheduler *s);
/* Dequeues only when one of this scheduler's coordinators ended since the
 * last look (its run freed a slot). Cheap enough to call every few ms: a
 * dequeue reads every queued run, this usually only calls waitpid. */
int weft_scheduler_refill(struct weft_scheduler *s, weft_error *err);

/* ---- views and control (CLI, HTTP API, UI) -------------------------------------- */

/* One schedule or sensor with its stored state. Strings owned by the list. */
struct weft_sched_item {
  char *name;
  char *kind;       /* "schedule", or the sensor kind: "file", "command",
                       "run_status", "asset" */
  char *job;        /* the job it launches */
  char *location;   /* its code location */
  char *cron;       /* schedules: the cron text; sensors: NULL */
  char *timezone;   /* schedules; NULL for sensors */
  int interval_s;   /* sensors; 0 for schedules */
  int on;           /* stored state, else the declared default */
  int stored;       /* 1 when the state was toggled (stored), 0: default */
  int64_t next_tick_ms;  /* next fire (schedules) or evaluation (sensors)
                            after now; 0 when none (off, or never) */
  int64_t last_tick_ms;  /* 0 when it never ticked */
  char *last_status;     /* "success" | "skipped" | "failure", or NULL */
  char *last_reason;     /* or NULL */
  char *description;     /* or NULL */
  const char *file;      /* declaration file:line (borrowed from ws) */
  int line;
};
struct weft_sched_item_list {
  struct weft_sched_item *v;
  size_t n;
};
void weft_sched_item_list_release(struct weft_sched_item_list *l);

/* Every schedule (sensors: 0) or every sensor (sensors: 1) of ws, by name,
 * with state, next tick after now_ms and last tick from store. */
int weft_sched_list(struct weft_store *st, const struct weft_workspace *ws, int sensors,
                    int64_t now_ms, struct weft_sched_item_list *out, weft_error *err);
/* An item as JSON: {name, kind, job, location, cron?, timezone?, interval_s?,
 * state:"on|off", state_stored, next_tick_ms, next_tick (ISO 8601 in the
 * schedule's zone, or UTC), last_tick_ms, last_status, last_reason,
 * description, file, line}. New reference. */
json_t *weft_sched_item_to_json(const struct weft_sched_item *it);

/* Turns the schedule or sensor `name` on or off (stored; survives restarts).
 * Turning on resets its cursor to now_ms: ticks missed while off are not
 * caught up. WEFT_ENOTFOUND (with a did-you-mean) when ws has no such name. */
int weft_sched_set_state(struct weft_store *st, const struct weft_workspace *ws,
                         const char *name, int on, int64_t now_ms, weft_error *err);

/* One recorded tick or sensor evaluation. */
struct weft_sched_tick {
  char *name;
  char *kind;   /* "schedule" | "sensor" */
  int64_t tick_ms;
  char *status; /* "success" | "skipped" | "failure" */
  char *reason; /* or NULL */
  char *partition; /* or NULL */
  char **run_ids;  /* n_run_ids entries */
  size_t n_run_ids;
  json_t *doc;  /* the stored document (owned reference) */
};
struct weft_sched_tick_list {
  struct weft_sched_tick *v;
  size_t n;
};
void weft_sched_tick_list_release(struct weft_sched_tick_list *l);

/* Ticks of `name`, newest first, older than before_ms (0: from the newest),
 * at most limit (0: 50). Page on with before_ms = the last tick_ms seen. */
int weft_sched_ticks(struct weft_store *st, const char *name, int64_t before_ms, int limit,
                     struct weft_sched_tick_list *out, weft_error *err);

/* The next n fire times of schedule sc strictly after after_ms: times[i] in
 * UTC ms, and (for a partitioned job, else NULL) the partition key each
 * targets in keys[i]. job may be NULL (no keys). Caller frees *times and
 * each key and *keys. */
int weft_sched_preview(const struct weft_schedule *sc, const struct weft_job *job,
                       int64_t after_ms, size_t n, int64_t **times, char ***keys,
                       weft_error *err);
/* "2026-03-29T03:00:00+02:00": ms in zone tz (NULL: UTC). Caller frees. */
char *weft_sched_format_time(int64_t ms, const char *tz);

/* Schedule and sensor lookups across a workspace are in model.h
 * (weft_workspace_find_schedule, weft_workspace_find_sensor). */

#endif
