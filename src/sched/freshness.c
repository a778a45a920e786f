/* freshness.c: the scheduler's freshness pass: assets whose `freshness:
 * {max_age}` passed get a freshness_missed row in their history and a
 * warning in the log, once per materialization (engine/catalog.h). */
#include <stdlib.h>

#include "engine/catalog.h"
#include "sched/sched_int.h"
#include "util/clock.h"
#include "util/log.h"

/* How often the pass runs; WEFT_FRESHNESS_INTERVAL_MS overrides (tests). */
#define FRESHNESS_INTERVAL_MS 30000

static void report(void *data, const struct weft_catalog_node *n, int64_t age_ms) {
  (void)data;
  weft_log_warn("asset %s missed its freshness: last materialized %llds ago, max age %s",
                n->key, (long long)(age_ms / 1000), n->def->max_age_text);
}

void weft__sched_freshness_turn(struct weft_scheduler *s, int64_t *next_wake_ms) {
  int64_t now = weft_clock_wall_ms();
  const char *env = getenv("WEFT_FRESHNESS_INTERVAL_MS");
  int64_t every = env && *env ? atoll(env) : FRESHNESS_INTERVAL_MS;
  if (every < 100) every = 100;
  if (!s->ws || now < s->next_freshness_ms) return;
  s->next_freshness_ms = now + every;
  struct weft_catalog cat;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_catalog_build(s->ws, &cat, &err)) {
    weft_log_warn("freshness: %s", err.msg);
    return;
  }
  struct weft_catalog_ctx x = {&cat, s->inst->store, s->inst->home, now};
  if (weft_catalog_check_freshness(&x, report, NULL, NULL, &err))
    weft_log_warn("freshness: %s (the next pass tries again)", err.msg);
  weft_catalog_release(&cat);
  if (next_wake_ms && *next_wake_ms > s->next_freshness_ms) *next_wake_ms = s->next_freshness_ms;
}
