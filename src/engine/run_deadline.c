/* run_deadline.c: a run's `timeout:` and `sla:` (run_deadline.h), checked by
 * its coordinator at every turn of the loop in run.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "engine/run_deadline.h"
#include "util/str.h"

void run_deadline_init(struct run_deadline *d, const struct coord *c) {
  memset(d, 0, sizeof *d);
  weft_run_config_deadline(c->l->rc, "timeout", &d->timeout);
  weft_run_config_deadline(c->l->rc, "sla", &d->sla);
  if (!(d->timeout.s > 0)) d->timeout = c->job->timeout;
  if (!(d->sla.s > 0)) d->sla = c->job->sla;
  /* A deadline of at least 1 ms: rounding up keeps "1ms" from being none. */
  if (d->timeout.s > 0)
    d->timeout_at_ms = c->run.started_ms + (int64_t)(d->timeout.s * 1000 + 0.999);
  if (d->sla.s > 0) d->sla_at_ms = c->run.started_ms + (int64_t)(d->sla.s * 1000 + 0.999);
  if (c->sla_missed_before) d->sla_at_ms = 0; /* adopted: the first coordinator said it */
  snprintf(d->reason, sizeof d->reason, "run timeout after %s", d->timeout.text);
}

static int64_t until(int64_t at, int64_t now) { return at > now ? at - now : 0; }

int64_t run_deadline_check(struct run_deadline *d, struct coord *c, int64_t now) {
  int64_t elapsed = now - c->run.started_ms;
  if (d->sla_at_ms && !d->sla_missed && now >= d->sla_at_ms) {
    /* Observed, not enforced: the run goes on. This flag makes "once" in
     * this coordinator; an adopter of the run knows from its events
     * (c->sla_missed_before, run_adopt.c). */
    d->sla_missed = 1;
    coord_event(c, NULL, "sla_missed",
                json_pack("{s:s, s:I, s:I}", "sla", d->sla.text, "sla_ms",
                          (json_int_t)(d->sla_at_ms - c->run.started_ms), "elapsed_ms",
                          (json_int_t)elapsed));
  }
  if (d->timeout_at_ms && !d->timed_out && !c->canceling && now >= d->timeout_at_ms) {
    /* The cancel path of run.c (check_cancel) stops the running steps
     * (executor cancel_all: SIGTERM then SIGKILL to a local process group,
     * a cancel message to a queue worker) and cancels the pending ones. */
    d->timed_out = 1;
    c->canceling = 1;
    free(c->cancel_reason);
    c->cancel_reason = weft_str_dup(d->reason);
    free(c->run.message);
    c->run.message = weft_str_dup(d->reason);
    c->run_dirty = 1;
    coord_event(c, NULL, "run_timeout",
                json_pack("{s:s, s:I, s:I, s:s}", "timeout", d->timeout.text, "timeout_ms",
                          (json_int_t)(d->timeout_at_ms - c->run.started_ms), "elapsed_ms",
                          (json_int_t)elapsed, "message", d->reason));
  }
  int64_t next = -1;
  if (d->sla_at_ms && !d->sla_missed) next = until(d->sla_at_ms, now);
  if (d->timeout_at_ms && !d->timed_out) {
    int64_t t = until(d->timeout_at_ms, now);
    if (next < 0 || t < next) next = t;
  }
  return next;
}
