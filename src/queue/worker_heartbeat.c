/* worker_heartbeat.c: a worker's registration, the kv worker/ID rewritten every
 * few seconds or when its running set changed (`weft workers`, takeover). */
#include <unistd.h>

#include "util/clock.h"
#include "util/str.h"

#include "queue/worker_int.h"

void weft__wk_heartbeat(struct worker *w, int force) {
  int64_t now = weft_clock_mono_ms();
  if (!force && now < w->next_heartbeat_ms &&
      !(w->dirty && now >= w->last_heartbeat_ms + HEARTBEAT_DIRTY_MS))
    return;
  w->next_heartbeat_ms = now + WEFT_WORKER_HEARTBEAT_MS;
  w->last_heartbeat_ms = now;
  w->dirty = 0;
  json_t *queues = json_array(), *running = json_array();
  int waiting = 0;
  for (int i = 0; i < w->n_slots; i++) waiting += weft__wk_is_waiting(&w->slots[i]);
  for (size_t i = 0; queues && i < w->o->n_queues; i++)
    json_array_append_new(queues, json_string(w->o->queues[i]));
  for (int i = 0; running && i < w->n_slots; i++) {
    struct slot *s = &w->slots[i];
    if (s->used && s->started)
      json_array_append_new(running,
                            json_pack("{s:s, s:s, s:s, s:i, s:I}", "attempt_id", s->attempt_id,
                                      "run_id", s->run_id, "step", s->step, "attempt",
                                      s->attempt, "started_ms", (json_int_t)s->started_ms));
  }
  json_t *doc = json_pack("{s:s, s:s, s:I, s:o, s:i, s:o, s:I, s:I, s:s, s:s, s:I}", "id", w->id,
                          "host", w->host, "pid", (json_int_t)getpid(), "queues", queues,
                          "concurrency", w->concurrency, "running", running, "started_ms",
                          (json_int_t)w->started_ms, "heartbeat_ms",
                          (json_int_t)weft_clock_wall_ms(), "state", w->state, "broker",
                          weft_broker_display_url(w->sub), "steps_done",
                          (json_int_t)w->steps_done);
  if (doc) json_object_set_new(doc, "prefetched", json_integer(waiting));
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  char *key = weft_str_printf("worker/%s", w->id);
  weft_error e = WEFT_ERROR_INIT;
  if (text && key && weft_store_kv_set(w->inst->store, key, text, &e))
    weft__wk_log(w, "heartbeat not recorded: %s", e.msg);
  free(text);
  free(key);
  json_decref(doc);
}
