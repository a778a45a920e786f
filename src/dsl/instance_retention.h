/* instance_retention.h: the retention: section of weft.yaml, how long runs,
 * debug events, compute logs and artifacts are kept, globally and per job. */
#ifndef WEFT_DSL_INSTANCE_RETENTION_H
#define WEFT_DSL_INSTANCE_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

/* Ages in milliseconds after a run ended; -1: not set (kept forever). */
struct weft_retention_rule {
  int64_t success_ms;      /* runs.success: the whole run of a succeeded run */
  int64_t failure_ms;      /* runs.failure: of a failed or canceled run */
  int64_t events_debug_ms; /* events_debug: its debug log events */
  int64_t logs_ms;         /* logs: its compute log files */
  int64_t artifacts_ms;    /* artifacts: its outputs in the artifact store */
  int keep_last;           /* keep_last: the newest N runs of each job; -1: not set */
};

struct weft_retention_job {
  char *job;
  struct weft_retention_rule rule; /* only what per_job.JOB sets; -1 elsewhere */
};

struct weft_retention {
  int set; /* weft.yaml has a retention: section */
  struct weft_retention_rule all;
  struct weft_retention_job *jobs; /* per_job:, in file order */
  size_t n_jobs;
};

void weft_retention_release(struct weft_retention *r);
/* The rule of job: per_job.JOB's keys where it sets them, else the
 * section's. */
struct weft_retention_rule weft_retention_for(const struct weft_retention *r, const char *job);
/* The smallest age any rule sets (-1: none): runs that ended less long ago
 * than this have nothing to purge. */
int64_t weft_retention_min_age_ms(const struct weft_retention *r);
/* Reads HOME/weft.yaml's retention: (absent file or section: r->set 0);
 * every problem as file:line:col lines in err. */
int weft_retention_load(const char *home, struct weft_retention *out, weft_error *err);
/* One line per rule, as `weft instance show` prints it; caller frees. */
char *weft_retention_describe(const struct weft_retention *r);

/* For instance_config.c: parses the retention: node n into out (zeroed
 * first; release it even on errors), problems into d. */
struct weft_diags;
struct weft__ynode;
void weft__retention_parse(struct weft_diags *d, const struct weft__ynode *n,
                           struct weft_retention *out, int *nomem);

#endif
