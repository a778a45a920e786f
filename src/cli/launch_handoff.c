/* launch_handoff.c: `weft launch` with a coordinator service up
 * (sched/coord_service.h): the run is handed to it and followed from its
 * events, instead of being coordinated in this process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "engine/run_view.h"
#include "sched/coord_service.h"

int weft_cli_handoff_run(const char *cmd, struct weft_instance *inst, const char *run_id,
                         const struct weft_job *job, int detach, int quiet) {
  struct weft_run_row run = {0};
  weft_error err = WEFT_ERROR_INIT;
  /* The service loads jobs from code snapshots: a run without one stays here. */
  if (weft_store_run_get(inst->store, run_id, &run, &err) || !run.code_version ||
      !weft_coord_service_up(inst)) {
    weft_run_row_release(&run);
    return -1;
  }
  weft_run_row_release(&run);
  if (weft_coord_handoff(inst, run_id, NULL, &err)) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    return WEFT_EXIT_INVALID;
  }
  if (detach) {
    printf("%s\n", run_id);
    return WEFT_EXIT_OK;
  }
  enum weft_progress_mode mode = quiet ? WEFT_PROGRESS_QUIET : WEFT_PROGRESS_PLAIN;
  struct weft_progress *view = weft_progress_new(stdout, mode, run_id, job);
  struct weft_run_feed feed;
  int canceled = 0, rc = WEFT_EXIT_INVALID;
  weft_run_feed_init(&feed, inst, run_id);
  weft_cli_trap_interrupts();
  while (!feed.ended) {
    struct weft_event_list batch = {0};
    if (weft_cli_interrupted && !canceled) {
      canceled = 1; /* the service cancels it; its end is followed still */
      weft_error e2 = WEFT_ERROR_INIT;
      weft_run_request_cancel(inst, run_id, "interrupted", &e2);
    }
    if (weft_run_feed_next(&feed, &batch, 200, &err)) {
      fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
      goto done;
    }
    for (size_t i = 0; i < batch.n && view; i++) weft_progress_event(view, &batch.v[i]);
    weft_event_list_release(&batch);
    if (view) weft_progress_tick(view);
    fflush(stdout);
  }
  struct weft_run_row end = {0};
  if (weft_store_run_get(inst->store, run_id, &end, &err)) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    goto done;
  }
  if (view) weft_progress_finish(view, end.status, end.message);
  rc = end.status == WEFT_RUN_SUCCESS ? WEFT_EXIT_OK : WEFT_EXIT_INVALID;
  weft_run_row_release(&end);
done:
  weft_progress_free(view);
  return rc;
}
