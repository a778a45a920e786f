/* retention.h: applying weft.yaml's retention: policy to an instance
 * (whole runs, debug events, compute logs, artifacts), and deleting runs
 * by hand under the same rules. */
#ifndef WEFT_ENGINE_RETENTION_H
#define WEFT_ENGINE_RETENTION_H

#include <stdint.h>

#include "dsl/instance_retention.h"
#include "engine/engine.h"

/* What a pass removed (or, dry, would remove). */
struct weft_retention_report {
  int64_t runs[WEFT_RUN__COUNT]; /* whole runs, per status */
  int64_t events;                /* events of removed runs */
  int64_t debug_events;          /* debug log events of kept runs */
  int64_t steps;                 /* step rows (attempts) of removed runs */
  int64_t log_files;             /* compute log files (folder and artifact store) */
  int64_t artifacts;             /* outputs in the artifact store */
  int64_t bytes;                 /* of the files and objects above */
  int64_t kept_pinned, kept_last, kept_reexec; /* old enough, but kept: why */
  int complete;                  /* the pass reached the newest candidate */
};

struct weft_retention_opts {
  int dry_run;
  int64_t now_ms;      /* wall clock the ages count from; 0: now */
  int64_t deadline_ms; /* monotonic (weft_clock_mono_ms) time to stop at; 0: none */
  int batch;           /* rows per transaction; 0: 500 */
  /* Called for each run removed or trimmed: what is "run", "events_debug",
   * "logs" or "artifacts". May be NULL. */
  void (*on_item)(void *data, const char *what, const char *run_id, const char *job,
                  enum weft_run_status status);
  void *data;
  /* Where a pass cut short by deadline_ms stopped, to resume from (may be
   * NULL: from the oldest): read at the start, written at the end (id ""
   * once a pass reached the newest candidate). */
  struct weft_retention_cursor *cursor;
};

struct weft_retention_cursor {
  int64_t ended_ms;
  char id[64]; /* "": from the oldest */
};

/* One pass of the policy over the runs that ended long enough ago, oldest
 * first, in batches of opts->batch rows per transaction so running runs'
 * commits wait for one batch at most. Files go before rows: a pass cut
 * short leaves the run for the next one, never files without a run.
 * Never touched: unfinished runs, pinned runs, the newest keep_last runs
 * of each job, runs with a re-execution that is kept (their artifacts too:
 * the re-execution may read them). A parent whose re-executions all go in
 * this pass goes with them. */
int weft_retention_apply(struct weft_instance *inst, const struct weft_retention *pol,
                         const struct weft_retention_opts *opts,
                         struct weft_retention_report *rep, weft_error *err);

/* Deletes one run (its events, steps, logs, work folders and artifacts)
 * when retention's rules allow it whatever its age: final, not pinned,
 * without a re-execution, not among its job's keep_last newest (pol may be
 * NULL: no keep_last). WEFT_ECONFLICT with the reason otherwise,
 * WEFT_ENOTFOUND when there is no such run. */
int weft_retention_delete_run(struct weft_instance *inst, const struct weft_retention *pol,
                              const char *run_id, int dry_run,
                              struct weft_retention_report *rep, weft_error *err);

/* The kv key holding the wall-clock ms of the last run deletion: readers
 * that cache pages of runs (the HTTP API) key them with it, since deleting
 * a run appends no event. */
#define WEFT_RETENTION_STAMP_KEY "retention/last_delete_ms"

/* Pins (pin 1) or unpins a run: pinned runs are never purged. */
int weft_run_pin(struct weft_instance *inst, const char *run_id, int pin, weft_error *err);

#endif
