/* worker_settle.c: what a worker tells the rest of the instance: notices to
 * coordinators (started, done, rejected) and a taken message's results,
 * recorded in storage in one transaction before the message is settled. */
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/str.h"

#include "queue/worker_int.h"
/* ---- notices ------------------------------------------------------------------ */

/* The notice connection only publishes, so nothing reads from it while the
 * worker idles: its heartbeats stop and the broker closes it, and the
 * first notices after that were lost (the coordinator then found those
 * results only by polling, seconds later). Serving it every second keeps
 * heartbeats going and notices a closed connection before it is used. */
void weft__wk_pump_publisher(struct worker *w) {
  int64_t now = weft_clock_mono_ms();
  if (now < w->next_pub_pump_ms) return;
  w->next_pub_pump_ms = now + 1000;
  weft_error e = WEFT_ERROR_INIT;
  struct weft_broker_msg m;
  if (!weft_broker_ensure(w->pub, &e) && weft_broker_next(w->pub, 0, &m, &e) == 1)
    weft_broker_msg_release(&m); /* nothing is consumed on it */
}

void weft__wk_notify(struct worker *w, const char *reply_to, json_t *n) {
  char *text = n ? json_dumps(n, JSON_COMPACT) : NULL;
  weft_error e = WEFT_ERROR_INIT;
  /* Best effort: a lost notice only delays the coordinator's kv poll. */
  if (text && reply_to && !weft_broker_ensure(w->pub, &e))
    weft_broker_publish(w->pub, "", reply_to, text, strlen(text), 0, &e);
  free(text);
  json_decref(n);
}

/* One notice of type per reply_to for the attempt ids in ids (an object
 * reply_to -> [ids]); a lone attempt keeps the single-attempt form. */
static void notify_all(struct worker *w, const char *type, json_t *ids, json_t *results) {
  const char *reply_to;
  json_t *v;
  json_object_foreach(ids, reply_to, v) {
    json_t *n = json_array_size(v) == 1
                    ? json_pack("{s:s, s:O}", "type", type, "attempt_id", json_array_get(v, 0))
                    : json_pack("{s:s, s:O}", "type", type, "attempt_ids", v);
    if (n && !strcmp(type, "started")) {
      json_object_set_new(n, "worker", json_string(w->id));
      json_object_set_new(n, "host", json_string(w->host));
    }
    json_t *r = json_object_get(results, reply_to);
    if (n && r) json_object_set(n, "results", r);
    weft__wk_notify(w, reply_to, n);
  }
}

void weft__wk_add_id(json_t *by_reply_to, const char *reply_to, const char *attempt_id) {
  json_t *a = json_object_get(by_reply_to, reply_to);
  if (!a && !json_object_set_new(by_reply_to, reply_to, json_array()))
    a = json_object_get(by_reply_to, reply_to);
  if (a) json_array_append_new(a, json_string(attempt_id));
}

/* The "started" notices gathered since the last call: one per step when
 * alone (with its pid), else one per coordinator. */
void weft__wk_flush_started(struct worker *w) {
  size_t n = json_array_size(w->started);
  if (!n) return;
  if (n == 1) {
    json_t *e = json_array_get(w->started, 0);
    weft__wk_notify(w, json_string_value(json_array_get(e, 0)),
           json_pack("{s:s, s:O, s:s, s:s, s:O}", "type", "started", "attempt_id",
                     json_array_get(e, 1), "worker", w->id, "host", w->host, "pid",
                     json_array_get(e, 2)));
  } else {
    json_t *ids = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(w->started, i, e)
        weft__wk_add_id(ids, json_string_value(json_array_get(e, 0)), json_string_value(json_array_get(e, 1)));
    if (ids) notify_all(w, "started", ids, NULL);
    json_decref(ids);
  }
  json_array_clear(w->started);
}

/* ---- recording results --------------------------------------------------------- */

/* Keeps the result of one step of batch b, to be written when b settles. */
void weft__wk_record(struct worker *w, struct batch *b, const char *attempt_id,
                   const char *reply_to, json_t *result) {
  json_object_set_new(result, "v", json_integer(1));
  json_object_set_new(result, "attempt_id", json_string(attempt_id));
  json_object_set_new(result, "worker", json_string(w->id));
  json_object_set_new(result, "host", json_string(w->host));
  json_t *e = json_pack("[s, s, o]", attempt_id, reply_to, result);
  if (!e || json_array_append_new(b->results, e)) b->requeue = 1;
}

/* The results of b as kv keys and texts, recorded in one round trip (first
 * writer wins per attempt); inserted[i] says which are ours. */
static int record_results(struct worker *w, struct batch *b, unsigned char *inserted,
                          char **keys, char **texts, weft_error *err) {
  size_t n = json_array_size(b->results), i;
  json_t *r;
  json_array_foreach(b->results, i, r) {
    texts[i] = json_dumps(json_array_get(r, 2), JSON_COMPACT);
    keys[i] = weft__qmsg_result_key(json_string_value(json_array_get(r, 0)));
    if (!texts[i] || !keys[i]) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return weft_store_kv_insert_many(w->inst->store, (const char *const *)keys,
                                   (const char *const *)texts, n, inserted, err);
}

/* reply_to -> {attempt id: result}: small results ride along in the "done"
 * notice, which spares the coordinator a storage read per step. Storage
 * stays the record: a result an earlier delivery wrote first wins there,
 * so such a one is not sent, and the coordinator reads it. */
static json_t *inline_results(struct batch *b, const unsigned char *inserted, char **texts) {
  json_t *by_reply_to = json_object(), *r;
  size_t i;
  json_array_foreach(b->results, i, r) {
    if (!by_reply_to || !inserted[i] || strlen(texts[i]) > INLINE_RESULT_MAX) continue;
    const char *reply_to = json_string_value(json_array_get(r, 1));
    json_t *m = json_object_get(by_reply_to, reply_to);
    if (!m && !json_object_set_new(by_reply_to, reply_to, json_object()))
      m = json_object_get(by_reply_to, reply_to);
    if (m) json_object_set(m, json_string_value(json_array_get(r, 0)), json_array_get(r, 2));
  }
  return by_reply_to;
}

/* Every result of b in one statement, then one "done" notice per
 * coordinator and the ack; results that cannot be stored hand the message
 * back instead. Frees b. */
static void settle(struct worker *w, struct batch *b) {
  weft_error e = WEFT_ERROR_INIT;
  size_t n = json_array_size(b->results), i;
  json_t *r, *inl = NULL;
  unsigned char *inserted = calloc(n ? n : 1, 1);
  char **keys = calloc(n ? n : 1, sizeof *keys), **texts = calloc(n ? n : 1, sizeof *texts);
  int rc = inserted && keys && texts ? record_results(w, b, inserted, keys, texts, &e)
                                     : weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  if (!rc) inl = inline_results(b, inserted, texts);
  for (i = 0; keys && texts && i < n; i++) {
    free(keys[i]);
    free(texts[i]);
  }
  free(keys);
  free(texts);
  free(inserted);
  if (rc) {
    weft__wk_log(w, "cannot record %zu result%s (handing the message back): %s", n, n == 1 ? "" : "s",
          e.msg);
    b->requeue = 1;
  } else {
    json_array_foreach(b->results, i, r) {
      weft__wk_add_id(b->done, json_string_value(json_array_get(r, 1)),
                      json_string_value(json_array_get(r, 0)));
      /* a refused message's steps were recorded, not done */
      w->steps_done += !json_is_true(json_object_get(json_array_get(r, 2), "rejected"));
    }
  }
  notify_all(w, "done", b->done, inl);
  json_decref(inl);
  if (b->reject) {
    weft__wk_log(w, "rejected a message from %s (dead-lettered to " WEFT_QUEUE_DEAD "): %s",
          b->msg.queue, b->why);
    weft_broker_nack(w->sub, &b->msg, 0, &e);
  } else if (b->requeue) {
    weft_broker_nack(w->sub, &b->msg, 1, &e);
  } else {
    weft_broker_ack(w->sub, &b->msg, &e);
  }
  weft_broker_msg_release(&b->msg);
  json_decref(b->results);
  json_decref(b->done);
  free(b);
}

/* One step of b is over (or one taker's hold on it): the last settles it. */
void weft__wk_step_end(struct worker *w, struct batch *b) {
  if (b && --b->open <= 0) settle(w, b);
}

/* A step that could not even start on this worker. */
void weft__wk_record_failure(struct worker *w, struct batch *b, const char *attempt_id,
                           const char *reply_to, const char *message) {
  int64_t now = weft_clock_wall_ms();
  json_t *r = json_pack("{s:b, s:i, s:s, s:I, s:I}", "ok", 0, "exit_code", -1, "message",
                        message, "started_ms", (json_int_t)now, "ended_ms", (json_int_t)now);
  weft__wk_log(w, "%s failed before it ran: %s", attempt_id, message);
  if (r) weft__wk_record(w, b, attempt_id, reply_to, r);
  else b->requeue = 1;
}
