/* progress.h: the live view of a run being followed (launch --follow, and
 * later `weft run follow`): counts by state, running steps, failures. */
#ifndef WEFT_CLI_PROGRESS_H
#define WEFT_CLI_PROGRESS_H

#include <stdio.h>

#include "model/model.h"
#include "store/store.h"

enum weft_progress_mode {
  WEFT_PROGRESS_TTY,   /* a block redrawn in place at most every 100 ms */
  WEFT_PROGRESS_PLAIN, /* one line per event, for logs and pipes */
  WEFT_PROGRESS_QUIET  /* only the final line and the failures */
};

struct weft_progress;

/* job must outlive the view (step names are borrowed). NULL when out of
 * memory. Free with weft_progress_free. */
struct weft_progress *weft_progress_new(FILE *out, enum weft_progress_mode mode,
                                        const char *run_id, const struct weft_job *job);
void weft_progress_free(struct weft_progress *p);
/* Feeds one committed event of the run. */
void weft_progress_event(struct weft_progress *p, const struct weft_event_row *ev);
/* Redraws elapsed times when due (call while waiting). */
void weft_progress_tick(struct weft_progress *p);
/* Prints the ending: final state, each failed step with its message and
 * where its logs are, and how to re-execute. */
void weft_progress_finish(struct weft_progress *p, enum weft_run_status st,
                          const char *message);

#endif
