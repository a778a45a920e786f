/* worker_settle.c: what a worker tells the rest of the instance: notices to
 * coordinators (started, done, rejected) and a taken message's results,
 * recorded in storage in one transaction before the message is settled. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/fs.h"
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

/* ---- settling --------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

size_t weft__wk_ack_plan(uint64_t *tags, size_t n, const uint64_t *others, size_t n_others,
                         uint64_t *upto) {
  uint64_t low = UINT64_MAX; /* the lowest delivery that stays unacked */
  for (size_t i = 0; i < n_others; i++)
    if (others[i] < low) low = others[i];
  qsort(tags, n, sizeof *tags, cmp_u64);
  size_t below = 0;
  while (below < n && tags[below] < low) below++;
  *upto = 0;
  if (below < 2) return n; /* one ack each (multiple=true gains nothing) */
  *upto = tags[below - 1];
  memmove(tags, tags + below, (n - below) * sizeof *tags);
  return n - below;
}

int weft__wk_live_add(struct worker *w, struct batch *b) {
  if (w->n_live == w->cap_live) {
    size_t cap = w->cap_live ? 2 * w->cap_live : 16;
    struct batch **v = realloc(w->live, cap * sizeof *v);
    if (!v) return WEFT_ENOMEM;
    w->live = v;
    w->cap_live = cap;
  }
  w->live[w->n_live++] = b;
  return WEFT_OK;
}

static void batch_free(struct worker *w, struct batch *b) {
  for (size_t i = 0; i < w->n_live; i++)
    if (w->live[i] == b) {
      w->live[i] = w->live[--w->n_live];
      break;
    }
  weft_broker_msg_release(&b->msg);
  json_decref(b->results);
  json_decref(b->done);
  free(b);
}

/* A message handed back or dead-lettered: its results (a refused
 * message's failures) still recorded first, then the nack. Frees b. */
static void settle_now(struct worker *w, struct batch *b) {
  weft_error e = WEFT_ERROR_INIT;
  size_t n = json_array_size(b->results), i;
  json_t *r;
  unsigned char *inserted = calloc(n ? n : 1, 1);
  char **keys = calloc(n ? n : 1, sizeof *keys), **texts = calloc(n ? n : 1, sizeof *texts);
  int rc = inserted && keys && texts ? WEFT_OK : weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  json_array_foreach(b->results, i, r) {
    if (rc) break;
    texts[i] = json_dumps(json_array_get(r, 2), JSON_COMPACT);
    keys[i] = weft__qmsg_result_key(json_string_value(json_array_get(r, 0)));
    if (!texts[i] || !keys[i]) rc = weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  }
  if (!rc && n)
    rc = weft_store_kv_insert_many(w->inst->store, (const char *const *)keys,
                                   (const char *const *)texts, n, inserted, &e);
  if (rc) {
    weft__wk_log(w, "cannot record %zu result%s (handing the message back): %s", n,
                 n == 1 ? "" : "s", e.msg);
    b->requeue = 1;
  } else {
    json_array_foreach(b->results, i, r) {
      weft__wk_add_id(b->done, json_string_value(json_array_get(r, 1)),
                      json_string_value(json_array_get(r, 0)));
      /* a refused message's steps were recorded, not done */
      w->steps_done += !json_is_true(json_object_get(json_array_get(r, 2), "rejected"));
    }
  }
  for (i = 0; keys && texts && i < n; i++) {
    free(keys[i]);
    free(texts[i]);
  }
  free(keys);
  free(texts);
  free(inserted);
  notify_all(w, "done", b->done, NULL);
  if (b->reject) {
    weft__wk_log(w, "rejected a message from %s (dead-lettered to " WEFT_QUEUE_DEAD "): %s",
                 b->msg.queue, b->why);
    weft_broker_nack(w->sub, &b->msg, 0, &e);
  } else {
    weft_broker_nack(w->sub, &b->msg, 1, &e);
  }
  batch_free(w, b);
}

/* One step of b is over (or one taker's hold on it): the last settles it. */
void weft__wk_step_end(struct worker *w, struct batch *b) {
  if (!b || --b->open > 0) return;
  if (b->reject || b->requeue) {
    settle_now(w, b);
    return;
  }
  if (w->n_settle == w->cap_settle) {
    size_t cap = w->cap_settle ? 2 * w->cap_settle : 16;
    struct batch **v = realloc(w->settle, cap * sizeof *v);
    if (!v) { /* the broker redelivers it; its results are then skipped */
      b->requeue = 1;
      settle_now(w, b);
      return;
    }
    w->settle = v;
    w->cap_settle = cap;
  }
  b->settling = 1;
  w->settle[w->n_settle++] = b;
}

/* The acks of the settled messages of the current connection: one
 * basic.ack multiple=true for those below every message still held, one
 * each for the rest. */
static void ack_group(struct worker *w) {
  unsigned gen = weft_broker_generation(w->sub);
  uint64_t *tags = calloc(w->n_settle ? w->n_settle : 1, sizeof *tags);
  uint64_t *others = calloc(w->n_live ? w->n_live : 1, sizeof *others), upto = 0;
  size_t n = 0, n_others = 0;
  weft_error e = WEFT_ERROR_INIT;
  if (!tags || !others) { /* one by one, without the plan */
    for (size_t i = 0; i < w->n_settle; i++) weft_broker_ack(w->sub, &w->settle[i]->msg, &e);
    goto done;
  }
  for (size_t i = 0; i < w->n_settle; i++)
    if (w->settle[i]->msg.gen == gen) tags[n++] = w->settle[i]->msg.tag;
  for (size_t i = 0; i < w->n_live; i++)
    if (!w->live[i]->settling && w->live[i]->msg.gen == gen) others[n_others++] = w->live[i]->msg.tag;
  size_t rest = weft__wk_ack_plan(tags, n, others, n_others, &upto);
  if (upto) weft_broker_ack_upto(w->sub, gen, upto, 1, &e);
  for (size_t i = 0; i < rest; i++) weft_broker_ack_upto(w->sub, gen, tags[i], 0, &e);
done:
  free(tags);
  free(others);
}

void weft__wk_settle_flush(struct worker *w) {
  if (!w->n_settle) return;
  weft_error e = WEFT_ERROR_INIT;
  size_t n = 0, k = 0, i;
  for (size_t j = 0; j < w->n_settle; j++) n += json_array_size(w->settle[j]->results);
  unsigned char *inserted = calloc(n ? n : 1, 1);
  char **keys = calloc(n ? n : 1, sizeof *keys), **texts = calloc(n ? n : 1, sizeof *texts);
  int rc = inserted && keys && texts ? WEFT_OK : weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  json_t *r, *done = json_object(), *inl = json_object();
  if (!rc && (!done || !inl)) rc = weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  for (size_t j = 0; !rc && j < w->n_settle; j++)
    json_array_foreach(w->settle[j]->results, i, r) {
      texts[k] = json_dumps(json_array_get(r, 2), JSON_COMPACT);
      keys[k] = weft__qmsg_result_key(json_string_value(json_array_get(r, 0)));
      if (!texts[k++] || !keys[k - 1]) {
        rc = weft_error_set(&e, WEFT_ENOMEM, "out of memory");
        break;
      }
    }
  if (!rc && n)
    rc = weft_store_kv_insert_many(w->inst->store, (const char *const *)keys,
                                   (const char *const *)texts, n, inserted, &e);
  if (rc) {
    weft__wk_log(w, "cannot record %zu result%s (handing %zu message%s back): %s", n,
                 n == 1 ? "" : "s", w->n_settle, w->n_settle == 1 ? "" : "s", e.msg);
  } else {
    /* reply_to -> ids, across the messages: one "done" per coordinator.
     * Small results ride along (spares the coordinator a storage read);
     * one an earlier delivery wrote first is not ours to send. */
    k = 0;
    for (size_t j = 0; j < w->n_settle; j++) {
      struct batch *b = w->settle[j];
      const char *reply_to;
      json_t *ids, *id;
      json_object_foreach(b->done, reply_to, ids) {
        json_array_foreach(ids, i, id) weft__wk_add_id(done, reply_to, json_string_value(id));
      }
      json_array_foreach(b->results, i, r) {
        const char *aid = json_string_value(json_array_get(r, 0));
        const char *to = json_string_value(json_array_get(r, 1));
        weft__wk_add_id(done, to, aid);
        w->steps_done += !json_is_true(json_object_get(json_array_get(r, 2), "rejected"));
        if (inserted[k] && strlen(texts[k]) <= INLINE_RESULT_MAX) {
          json_t *m = json_object_get(inl, to);
          if (!m && !json_object_set_new(inl, to, json_object())) m = json_object_get(inl, to);
          if (m) json_object_set(m, aid, json_array_get(r, 2));
        }
        k++;
      }
    }
    /* The acks first: the broker's next deliveries wait on them; the
     * notices are only wake-ups (the results are in storage already). */
    ack_group(w);
    notify_all(w, "done", done, inl);
  }
  for (i = 0; keys && texts && i < n; i++) {
    free(keys[i]);
    free(texts[i]);
  }
  free(keys);
  free(texts);
  free(inserted);
  json_decref(done);
  json_decref(inl);
  for (size_t j = 0; j < w->n_settle; j++) {
    if (rc) weft_broker_nack(w->sub, &w->settle[j]->msg, 1, &e);
    batch_free(w, w->settle[j]);
  }
  w->n_settle = 0;
}

void weft__wk_empty_trash(struct worker *w) {
  size_t i;
  json_t *d;
  json_array_foreach(w->trash, i, d) {
    weft_error e = WEFT_ERROR_INIT;
    weft_fs_remove_tree(json_string_value(d), &e);
  }
  json_array_clear(w->trash);
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
