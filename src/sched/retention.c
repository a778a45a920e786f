/* retention.c: the scheduler applies weft.yaml's retention: policy by
 * itself: at its first turn, then once a minute, one pass bounded in time
 * (engine/retention.h does the work, in batches that never hold the store's
 * write lock for long). The schedule is per process: several schedulers of
 * one instance each purge, and their passes are idempotent. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/retention.h"
#include "sched/retention.h"
#include "util/clock.h"
#include "util/log.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t next_due_ms; /* monotonic; 0: at the first turn */
/* Where the last pass stopped when its time ran out (engine/retention.h). */
static struct weft_retention_cursor cursor;

static int64_t every_ms(void) {
  const char *e = getenv("WEFT_RETENTION_EVERY_MS");
  long long v = e && *e ? strtoll(e, NULL, 10) : 0;
  return v >= 100 ? (int64_t)v : WEFT_RETENTION_EVERY_MS;
}

void weft__sched_retention_turn(struct weft_instance *inst, int64_t now_ms,
                                int64_t *next_wake_ms) {
  int64_t mono = weft_clock_mono_ms(), every = every_ms();
  pthread_mutex_lock(&mu);
  int due = mono >= next_due_ms;
  if (due) next_due_ms = mono + every;
  int64_t wait = next_due_ms - mono;
  pthread_mutex_unlock(&mu);
  if (next_wake_ms && now_ms + wait < *next_wake_ms) *next_wake_ms = now_ms + wait;
  if (!due) return;
  struct weft_retention pol;
  struct weft_retention_report rep;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_retention_load(inst->home, &pol, &err)) {
    weft_log_warn("retention: %s", err.msg);
    return;
  }
  if (pol.set) {
    /* The cursor is read before the pass and written after it: passes of
     * two schedulers in one process (tests) may redo some work, and what
     * one leaves out the next full pass looks at again. */
    pthread_mutex_lock(&mu);
    struct weft_retention_cursor at = cursor;
    pthread_mutex_unlock(&mu);
    struct weft_retention_opts o = {.deadline_ms = mono + WEFT_RETENTION_BUDGET_MS,
                                    .cursor = &at};
    int arc = weft_retention_apply(inst, &pol, &o, &rep, &err);
    pthread_mutex_lock(&mu);
    cursor = arc ? (struct weft_retention_cursor){0} : at;
    /* A backlog (the pass ran out of time): the next pass comes sooner,
     * still leaving the scheduler's other work its turns. */
    if (!arc && !rep.complete && next_due_ms > mono + WEFT_RETENTION_BACKLOG_MS)
      next_due_ms = mono + WEFT_RETENTION_BACKLOG_MS;
    pthread_mutex_unlock(&mu);
    if (!arc && !rep.complete && next_wake_ms &&
        now_ms + WEFT_RETENTION_BACKLOG_MS < *next_wake_ms)
      *next_wake_ms = now_ms + WEFT_RETENTION_BACKLOG_MS;
    if (arc) {
      weft_log_warn("retention: %s (the next pass tries again)", err.msg);
    } else {
      int64_t runs = 0;
      for (int i = 0; i < WEFT_RUN__COUNT; i++) runs += rep.runs[i];
      if (runs || rep.debug_events || rep.log_files || rep.artifacts)
        weft_log_info("retention: removed %lld runs (%lld events), %lld debug events, "
                      "%lld log files, %lld artifacts, %lld bytes%s",
                      (long long)runs, (long long)rep.events, (long long)rep.debug_events,
                      (long long)rep.log_files, (long long)rep.artifacts, (long long)rep.bytes,
                      rep.complete ? "" : " (pass cut short: more next time)");
    }
  }
  weft_retention_release(&pol);
}
