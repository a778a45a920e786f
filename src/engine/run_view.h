/* run_view.h: reading runs back for people and programs: one run loaded in
 * one go, a live feed of its events, and rows as JSON; the CLI's `weft run`
 * commands and the HTTP API share them, so both say the same things. */
#ifndef WEFT_ENGINE_RUN_VIEW_H
#define WEFT_ENGINE_RUN_VIEW_H

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"

struct weft_instance;

/* Every event type the engine writes (engine.h), NULL-terminated. */
extern const char *const weft_event_types[];
/* 1 for run_success, run_failure and run_canceled. */
int weft_run_event_is_final(const char *type);

/* ---- one run, loaded in one go --------------------------------------------------- */

struct weft_run_view {
  struct weft_run_row run;       /* set by the caller before loading */
  struct weft_step_list steps;   /* every attempt, by step then attempt */
  struct weft_event_list events; /* the whole log, in id order */
  json_t **payloads;             /* events.v[i].payload parsed; never NULL
                                    (a payload that is not an object reads
                                    as an empty one) */
  const char **order;            /* step names: the job order of the run's
                                    plan (run_started), then any other the
                                    log names (borrowed) */
  size_t n_order;
};

/* Reads the steps and events of v->run.id and parses the payloads. On
 * failure v is left releasable. */
int weft_run_view_load(struct weft_store *s, struct weft_run_view *v, weft_error *err);
/* Releases everything, the run row included. */
void weft_run_view_release(struct weft_run_view *v);
/* The index in v->events of the step_started event of step's last attempt,
 * or -1 when it never started. */
long weft_run_view_last_started(const struct weft_run_view *v, const char *step);
/* Appends to arr, for every event of type, its payload with "step" and
 * "ts_ms" added (outputs, materializations). WEFT_OK or WEFT_ENOMEM. */
int weft_run_view_events_json(const struct weft_run_view *v, const char *type, json_t *arr);
/* Appends to arr every attempt that ran in a container, in order:
 * {"step", "attempt", "id", "image", "digest"}. */
int weft_run_view_containers_json(const struct weft_run_view *v, json_t *arr);

/* 1 for the event types that end a step's attempt (succeeded, failed, up
 * for retry, canceled), whose payload says how the attempt ran: its
 * container, if any, among others. */
int weft_event_ends_attempt(const char *type);

/* A run's duration: to its end, or so far while it runs; -1 when it never
 * started. The same for one step attempt. */
int64_t weft_run_duration_ms(const struct weft_run_row *r);
int64_t weft_step_duration_ms(const struct weft_step_row *s);
/* The last attempt of each step counted by status into
 * counts[WEFT_STEP__COUNT] (steps as the store lists them: by step, then
 * attempt). */
void weft_step_counts(const struct weft_step_list *steps, size_t counts[]);

/* ---- rows as JSON (new references; NULL when out of memory) ----------------------- */

/* {"id","job","location","status","message","created_ms","started_ms",
 * "ended_ms","duration_ms","tags","parent_run_id","root_run_id",
 * "code_version","coordinator","heartbeat_ms"}; absent times are null. */
json_t *weft_run_row_json(const struct weft_run_row *r);
/* {"step","attempt","status","started_ms","ended_ms","duration_ms","pid",
 * "message","worker"}. */
json_t *weft_step_row_json(const struct weft_step_row *s);
/* {"id","run_id","ts_ms","step","type","payload"} with the payload parsed. */
json_t *weft_event_row_json(const struct weft_event_row *ev);
/* {"succeeded": N, "failed": N, ...}: the last attempts by status, only the
 * statuses that occur. */
json_t *weft_step_counts_json(const struct weft_step_list *steps);
/* A JSON text stored by the engine, parsed; the text itself as a string
 * when it is not JSON; null when text is NULL. */
json_t *weft_json_parse_or_text(const char *text);

/* ---- following a run ------------------------------------------------------------- */

/* A run's events as they are committed. The cursor is the last event id
 * read from the whole store, not only this run's, so waiting on it never
 * wakes for events already skipped. */
struct weft_run_feed {
  struct weft_instance *inst; /* borrowed */
  const char *run_id;         /* borrowed */
  int64_t cursor;
  int primed;                 /* the log so far has been read */
  int ended;                  /* the run reached a final status */
  int64_t next_check_ms;      /* monotonic: when to look at the run row */
};

void weft_run_feed_init(struct weft_run_feed *f, struct weft_instance *inst,
                        const char *run_id);
/* Fills *out (release with weft_event_list_release; may be empty) with the
 * run's next events: the first call returns the whole log so far at once;
 * later calls wait up to wait_ms for more. Sets f->ended once the final
 * run event has been returned. While waiting it also checks, about once a
 * second, that the run's coordinator still lives, sweeping it (which ends
 * the run) when it died, so a follower never waits on a dead run. */
int weft_run_feed_next(struct weft_run_feed *f, struct weft_event_list *out, int wait_ms,
                       weft_error *err);

#endif
