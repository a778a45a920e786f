/* run_view.h: what the `weft run` inspection subcommands share: the views
 * they print (render_run.c) and the live feed of a run's events (cmd_run.c). */
#ifndef WEFT_CLI_RUN_VIEW_H
#define WEFT_CLI_RUN_VIEW_H

#include <jansson.h>
#include <stdio.h>

#include "store/store.h"

struct weft_instance;

/* Everything `weft run show` reads about one run, loaded in one go. */
struct weft_run_view {
  struct weft_run_row run;       /* set by the caller before loading */
  struct weft_step_list steps;   /* every attempt, by step then attempt */
  struct weft_event_list events; /* the whole log, in id order */
  json_t **payloads;             /* events.v[i].payload parsed; never NULL */
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

/* Local "YYYY-MM-DD HH:MM:SS" (with ".mmm" when with_ms), or "-" for 0. */
void weft_render_datetime(int64_t ms, int with_ms, char *out, size_t len);
/* A run's duration: to its end, or so far while it runs; -1 when it never
 * started. */
int64_t weft_run_duration_ms(const struct weft_run_row *r);
/* The last attempt of each step counted by status: "5 ok", "3 ok, 1 failed,
 * 2 skipped", "-" when there are none. Caller frees; NULL when out of memory. */
char *weft_render_steps_summary(const struct weft_step_list *steps);

/* `weft run list`: a table (newest first, as given) or one document
 * {"runs": [...]}. steps[i] holds the steps of runs->v[i]. Return WEFT_OK,
 * WEFT_ENOMEM or WEFT_EIO. */
int weft_render_run_list_text(const struct weft_run_list *runs,
                              const struct weft_step_list *steps, FILE *out);
int weft_render_run_list_json(const struct weft_run_list *runs,
                              const struct weft_step_list *steps, FILE *out);

/* `weft run show`: the header, every attempt, the outputs and
 * materializations, and the compute logs of each step's last attempt. */
int weft_render_run_show_text(const struct weft_run_view *v, FILE *out);
int weft_render_run_show_json(const struct weft_run_view *v, FILE *out);

/* One event as one compact JSON line: {"id","run_id","ts_ms","step","type",
 * "payload"} with the payload as an object. */
int weft_render_event_json(const struct weft_event_row *ev, FILE *out);

/* ---- following a run (cmd_run.c) ---- */

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
/* 1 for run_success, run_failure and run_canceled. */
int weft_run_event_is_final(const char *type);

/* `weft run logs` (cmd_run_logs.c); argv[0] is "logs". */
int cmd_run_logs(int argc, char **argv);

#endif
