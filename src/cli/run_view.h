/* run_view.h: what the `weft run` inspection subcommands share: the views
 * they print (render_run.c); loading a run and following it live are
 * engine/run_view.h's, shared with the HTTP API. */
#ifndef WEFT_CLI_RUN_VIEW_H
#define WEFT_CLI_RUN_VIEW_H

#include <jansson.h>
#include <stdio.h>

#include "engine/run_view.h"
#include "store/store.h"

struct weft_instance;
struct weft_run_queue_waits;

/* Local "YYYY-MM-DD HH:MM:SS" (with ".mmm" when with_ms), or "-" for 0. */
void weft_render_datetime(int64_t ms, int with_ms, char *out, size_t len);
/* The last attempt of each step counted by status: "5 ok", "3 ok, 1 failed,
 * 2 skipped", "-" when there are none. Caller frees; NULL when out of memory. */
char *weft_render_steps_summary(const struct weft_step_list *steps);

/* `weft run list`: a table (newest first, as given) or one document
 * {"runs": [...]}. steps[i] holds the steps of runs->v[i]; waits (NULL:
 * none) why queued runs wait (a WAITING column, "queue_reason"). Return
 * WEFT_OK, WEFT_ENOMEM or WEFT_EIO. */
int weft_render_run_list_text(const struct weft_run_list *runs,
                              const struct weft_step_list *steps,
                              const struct weft_run_queue_waits *waits, FILE *out);
int weft_render_run_list_json(const struct weft_run_list *runs,
                              const struct weft_step_list *steps,
                              const struct weft_run_queue_waits *waits, FILE *out);

/* `weft run show`: the header, every attempt, the outputs and
 * materializations, and the compute logs of each step's last attempt. */
/* queue_reason: why a queued run waits, or NULL. */
int weft_render_run_show_text(const struct weft_run_view *v, const char *queue_reason,
                              FILE *out);
int weft_render_run_show_json(const struct weft_run_view *v, const char *queue_reason,
                              FILE *out);

/* One event as one compact JSON line: {"id","run_id","ts_ms","step","type",
 * "payload"} with the payload as an object. */
int weft_render_event_json(const struct weft_event_row *ev, FILE *out);

/* `weft run logs` (cmd_run_logs.c); argv[0] is "logs". */
int cmd_run_logs(int argc, char **argv);

#endif
