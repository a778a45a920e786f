/* executor.c: the "queue" executor: start() publishes a step message to
 * weft.step.QUEUE, wait() collects results that workers recorded in storage.
 *
 * An attempt's life on the coordinator:
 *
 *   start ─wait(): publish (confirmed, batched)─> PUBLISHED ──"started" notice──> STARTED
 *     │ (broker down: kept, published once it is back)                   │
 *     └──────────── "done" notice, or the kv poll, finds ─────────────┘
 *                   attempt/ID: the result → wait() returns it
 *
 * Notices are only wake-ups: the result in storage (kv attempt/ID, written
 * by the worker before it acks) is the truth, so a lost, stale or duplicate
 * notice changes nothing. cancel publishes {"attempt_id","reason"} on the
 * weft.cancel fanout; an attempt no worker has started yet is canceled at
 * once (and its kv result written, so a worker that gets it later skips). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "queue/queue_int.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/map.h"
#include "util/str.h"

#define DEFAULT_MAX 1024
#define POLL_MS 500
#define POLL_BATCH 32
#define LOST_NOTICE_MS 1000
#define CANCEL_WAIT_MS 20000
#define CANCEL_RESEND_MS 1000
#define INLINE_INPUT_MAX (64 * 1024)

struct pending {
  void *user;
  char *attempt_id, *queue, *work_dir, *worker;
  json_t *msg; /* the step message, dumped when published (batches share fields) */
  size_t id_hash; /* weft_map_hash(attempt_id): a run's ids share a long prefix */
  int published, started, cancel;
  int c_op; /* a C-function op: may share a message with others (batch) */
  int64_t cancel_deadline; /* monotonic */
  int64_t cancel_sent_ms;  /* monotonic, the last cancel published */
  char *cancel_reason;
  int64_t published_ms;    /* monotonic */
  int64_t started_ms;      /* monotonic, when the "started" notice came */
  size_t chunks_seen[2];   /* live log chunks mirrored into WORK/ */
};

struct ready {
  struct weft_step_result res;
};

struct qexec {
  struct weft_executor base;
  struct weft_instance *inst;
  struct weft_executor_callbacks cb;
  struct weft_broker *pub, *sub; /* confirmed publishes; the reply queue */
  char *url, *reply_to;
  char *run_id; /* the run this executor serves (one per coordinator), from start() */
  int max;
  struct pending *p;
  size_t n, cap;
  struct weft_step_result *done; /* results not yet returned by wait */
  size_t n_done, cap_done;
  struct weft_map ops; /* op name -> its "op" JSON, shared by its messages */
  size_t poll_next;
  int64_t next_poll_ms, next_live_log_ms;
};

static void pending_release(struct pending *p) {
  free(p->cancel_reason);
  free(p->attempt_id);
  free(p->queue);
  json_decref(p->msg);
  free(p->work_dir);
  free(p->worker);
  memset(p, 0, sizeof *p);
}

static struct pending *find_attempt(struct qexec *q, const char *id) {
  size_t h = id ? weft_map_hash(id) : 0;
  for (size_t i = 0; id && i < q->n; i++)
    if (q->p[i].id_hash == h && !strcmp(q->p[i].attempt_id, id)) return &q->p[i];
  return NULL;
}

static void drop_pending(struct qexec *q, struct pending *p) {
  size_t i = (size_t)(p - q->p);
  pending_release(p);
  q->p[i] = q->p[--q->n];
}

static int push_done(struct qexec *q, struct weft_step_result *r) {
  if (q->n_done == q->cap_done) {
    size_t cap = q->cap_done ? q->cap_done * 2 : 16;
    struct weft_step_result *v = realloc(q->done, cap * sizeof *v);
    if (!v) return WEFT_ENOMEM;
    q->done = v;
    q->cap_done = cap;
  }
  q->done[q->n_done++] = *r;
  memset(r, 0, sizeof *r);
  return WEFT_OK;
}

static void random_hex(char *out, size_t n_bytes) {
  unsigned char b[16] = {0};
  if (n_bytes > sizeof b) n_bytes = sizeof b;
  if (getrandom(b, n_bytes, 0) != (ssize_t)n_bytes)
    for (size_t i = 0; i < n_bytes; i++) b[i] = (unsigned char)(rand() & 0xff);
  for (size_t i = 0; i < n_bytes; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

/* ---- publishing -------------------------------------------------------------- */

#define PUBLISH_BATCH 256
/* C-function steps for the same op queue that are ready together travel in
 * one AMQP message of up to STEPS_PER_MESSAGE: {"v":1,"steps":[...]}
 * (queue_int.h): they run in-process on a worker, in microseconds, and the
 * broker's cost is per message. Process steps keep one message each, so
 * that slow steps spread over the workers (prefetch counts messages). */
#define STEPS_PER_MESSAGE 64

/* The fields all steps of a batch share go once, in "common" (queue_int.h):
 * a fan-out's steps differ only in their ids and names, and both sides'
 * JSON work is most of a no-op step's cost. */
static char *batch_text(struct qexec *q, const size_t *idx, size_t n) {
  json_t *common = json_copy(q->p[idx[0]].msg), *steps = json_array();
  const char *k;
  json_t *v, *tmp;
  for (size_t i = 1; common && i < n; i++)
    json_object_foreach_safe(common, tmp, k, v) {
      if (!json_equal(v, json_object_get(q->p[idx[i]].msg, k))) json_object_del(common, k);
    }
  for (size_t i = 0; common && steps && i < n; i++) {
    json_t *one = json_object();
    json_object_foreach(q->p[idx[i]].msg, k, v) {
      if (!one) break;
      if (!json_object_get(common, k) && json_object_set(one, k, v)) {
        json_decref(one);
        one = NULL;
      }
    }
    if (!one || json_array_append_new(steps, one)) {
      json_decref(steps);
      steps = NULL;
    }
  }
  json_t *m = common && steps ? json_pack("{s:i, s:O, s:O}", "v", 1, "common", common, "steps",
                                          steps)
                              : NULL;
  char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
  json_decref(m);
  json_decref(common);
  json_decref(steps);
  return text;
}

/* The text of one AMQP message for steps idx[0..n): a lone step's message,
 * or a batch. NULL when out of memory. */
static char *message_text(struct qexec *q, const size_t *idx, size_t n) {
  return n == 1 ? json_dumps(q->p[idx[0]].msg, JSON_COMPACT) : batch_text(q, idx, n);
}

/* Messages not yet published (new ones, and those a lost broker refused)
 * go out in batches, each confirmed as a whole. A step that is alone in
 * its queue keeps the single-step form. */
static void flush_unpublished(struct qexec *q) {
  const char *keys[PUBLISH_BATCH], *bodies[PUBLISH_BATCH];
  char rk[PUBLISH_BATCH][300];
  char *owned[PUBLISH_BATCH];
  size_t *idx = malloc(q->n * sizeof *idx), n_idx = 0;
  unsigned char *taken = calloc(q->n ? q->n : 1, 1);
  if (!idx || !taken) goto done;
  for (;;) {
    size_t n = 0, n_owned = 0, first_idx = n_idx;
    weft_error e = WEFT_ERROR_INIT;
    if (weft_broker_ensure(q->pub, &e)) goto done;
    for (size_t i = 0; i < q->n && n < PUBLISH_BATCH; i++) {
      struct pending *p = &q->p[i];
      if (p->published || p->cancel || taken[i]) continue;
      if (weft_broker_declare_step_queue(q->pub, p->queue, &e)) goto done;
      /* p and up to STEPS_PER_MESSAGE - 1 later steps of its queue */
      size_t group = n_idx, k = 0;
      for (size_t j = i; j < q->n && k < STEPS_PER_MESSAGE; j++) {
        struct pending *o = &q->p[j];
        if (o->published || o->cancel || taken[j] || strcmp(o->queue, p->queue)) continue;
        if (j > i && (!p->c_op || !o->c_op)) continue;
        taken[j] = 1;
        idx[n_idx++] = j;
        k++;
      }
      if (!(bodies[n] = owned[n_owned] = message_text(q, idx + group, k))) {
        for (size_t k2 = 0; k2 < n_owned; k2++) free(owned[k2]);
        goto done;
      }
      n_owned++;
      snprintf(rk[n], sizeof rk[n], WEFT_QUEUE_PREFIX "%s", p->queue);
      keys[n] = rk[n];
      n++;
    }
    int rc = n ? weft_broker_publish_batch(q->pub, "", keys, bodies, n, 1, &e) : 1;
    for (size_t k = 0; k < n_owned; k++) free(owned[k]);
    if (rc) goto done;
    int64_t now = weft_clock_mono_ms();
    for (size_t k = first_idx; k < n_idx; k++) {
      q->p[idx[k]].published = 1;
      q->p[idx[k]].published_ms = now;
    }
  }
done:
  free(idx);
  free(taken);
}

static void publish_cancel(struct qexec *q, const char *attempt_id, const char *reason) {
  json_t *m = json_pack("{s:s, s:s}", "attempt_id", attempt_id, "reason", reason ? reason : "canceled");
  char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
  weft_error e = WEFT_ERROR_INIT;
  if (text && !weft_broker_ensure(q->pub, &e))
    weft_broker_publish(q->pub, WEFT__QUEUE_CANCEL_EXCHANGE, "", text, strlen(text), 0, &e);
  free(text);
  json_decref(m);
}

/* ---- results ----------------------------------------------------------------- */

static void report_worker(struct qexec *q, struct pending *p, const char *worker, long pid) {
  if (!worker || (p->worker && !strcmp(p->worker, worker))) return;
  if (p->worker && q->cb.on_event) {
    json_t *ev = json_pack("{s:s, s:s, s:s+}", "type", "log", "level", "warning", "msg",
                           "redelivered: now running on worker ", worker);
    if (ev) q->cb.on_event(q->cb.cb_data, p->user, ev);
    json_decref(ev);
  }
  free(p->worker);
  p->worker = weft_str_dup(worker);
  if (q->cb.on_event) {
    json_t *ev = json_pack("{s:s, s:s, s:I}", "type", "step_worker", "worker", worker, "pid",
                           (json_int_t)pid);
    if (ev) q->cb.on_event(q->cb.cb_data, p->user, ev);
    json_decref(ev);
  }
  if (!p->started) {
    p->started = 1;
    p->started_ms = weft_clock_mono_ms();
    if (q->cb.on_started) q->cb.on_started(q->cb.cb_data, p->user, 0);
  }
}

/* Places the worker's outputs and logs in the local work folder, so the
 * engine persists them as it does a local step's. */
static int fetch_outputs(struct qexec *q, struct pending *p, json_t *r, json_t *outputs,
                         weft_error *err) {
  const char *name;
  json_t *v;
  int rc = WEFT_OK;
  if (!json_object_size(json_object_get(r, "outputs")) &&
      !json_object_size(json_object_get(r, "path_outputs")))
    return WEFT_OK; /* no folder for a step without outputs */
  char *dir = weft_fs_join(p->work_dir, "outputs");
  if (!dir || weft_fs_mkdirs(dir, err)) {
    free(dir);
    return dir ? err->code : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  json_object_foreach(json_object_get(r, "outputs"), name, v) {
    char *file = weft_fs_join(dir, name);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    rc = file && text ? weft_fs_write_atomic(file, text, strlen(text), 0, err)
                      : weft_error_set(err, WEFT_ENOMEM, "out of memory");
    if (!rc) json_object_set(outputs, name, v);
    free(file);
    free(text);
    if (rc) break;
  }
  json_object_foreach(json_object_get(r, "path_outputs"), name, v) {
    if (rc) break;
    char *file = weft_fs_join(dir, name);
    const char *key = json_string_value(v);
    rc = !file ? weft_error_set(err, WEFT_ENOMEM, "out of memory")
         : !key ? weft_error_set(err, WEFT_EINVALID, "output '%s': no artifact key", name)
                : weft_artifacts_get(q->inst->artifacts, key, file, err);
    if (!rc) json_object_set_new(outputs, name, json_string(file));
    free(file);
  }
  free(dir);
  return rc;
}

static void fetch_logs(struct qexec *q, struct pending *p, json_t *r) {
  static const char *const names[2] = {"stdout", "stderr"};
  for (int k = 0; k < 2; k++) {
    const char *key = json_string_value(json_object_get(json_object_get(r, "logs"), names[k]));
    char *file = weft_str_printf("%s/%s.log", p->work_dir, names[k]);
    weft_error e = WEFT_ERROR_INIT;
    /* No key: the log is empty, and a missing log file reads as empty
     * (exec.h). */
    if (file && key && !weft_fs_mkdirs(p->work_dir, &e))
      weft_artifacts_read_log(q->inst->artifacts, key, file, &e);
    free(file);
  }
}

static int64_t int_of(json_t *r, const char *k) {
  return (int64_t)json_integer_value(json_object_get(r, k));
}

/* The worker's result for p, as text (from storage) or a document (from a
 * "done" notice): feed its events, fetch its files, queue
 * the step result. */
static int complete(struct qexec *q, struct pending *p, const char *text, json_t *doc,
                    int fallback, weft_error *err) {
  struct weft_step_result res;
  memset(&res, 0, sizeof res);
  json_error_t je = {0};
  json_t *r = doc ? json_incref(doc) : json_loads(text, 0, &je);
  res.user = p->user;
  res.exit_code = -1;
  res.ended_ms = weft_clock_wall_ms();
  res.started_ms = res.ended_ms;
  if (!json_is_object(r)) {
    res.message = weft_str_printf("the worker's result is not valid JSON: %s", je.text);
  } else {
    report_worker(q, p, json_string_value(json_object_get(r, "worker")), (long)int_of(r, "pid"));
    json_t *ev;
    size_t k;
    if (q->cb.on_event)
      json_array_foreach(json_object_get(r, "events"), k, ev) {
        if (json_is_object(ev)) q->cb.on_event(q->cb.cb_data, p->user, ev);
      }
    res.ok = json_is_true(json_object_get(r, "ok"));
    res.exit_code = (int)int_of(r, "exit_code");
    res.term_signal = (int)int_of(r, "term_signal");
    res.timed_out = json_is_true(json_object_get(r, "timed_out"));
    res.canceled = json_is_true(json_object_get(r, "canceled"));
    const char *msg = json_string_value(json_object_get(r, "message"));
    if (msg) res.message = weft_str_dup(msg);
    json_t *ctr = json_object_get(r, "container"); /* the worker ran it in a container */
    const char *cv[3] = {json_string_value(json_object_get(ctr, "id")),
                         json_string_value(json_object_get(ctr, "image")),
                         json_string_value(json_object_get(ctr, "digest"))};
    res.container_id = cv[0] ? weft_str_dup(cv[0]) : NULL;
    res.image = cv[1] ? weft_str_dup(cv[1]) : NULL;
    res.image_digest = cv[2] ? weft_str_dup(cv[2]) : NULL;
    if (int_of(r, "started_ms")) res.started_ms = int_of(r, "started_ms");
    if (int_of(r, "ended_ms")) res.ended_ms = int_of(r, "ended_ms");
    /* Found by the fallback poll long after the worker ended it: its
     * "done" notice was lost, which means broker trouble (and delay). */
    if (fallback && q->cb.on_event && weft_clock_wall_ms() - res.ended_ms > LOST_NOTICE_MS) {
      json_t *w = json_pack("{s:s, s:s, s:s}", "type", "log", "level", "warning", "msg",
                            "the worker's result was found by polling storage: its notice "
                            "did not arrive");
      if (w) q->cb.on_event(q->cb.cb_data, p->user, w);
      json_decref(w);
    }
    fetch_logs(q, p, r);
    if (res.ok) {
      weft_error fe = WEFT_ERROR_INIT;
      res.outputs = json_object();
      if (!res.outputs || fetch_outputs(q, p, r, res.outputs, &fe)) {
        res.ok = 0;
        json_decref(res.outputs);
        res.outputs = NULL;
        res.message = weft_str_printf("cannot fetch the worker's outputs: %s",
                                      fe.msg[0] ? fe.msg : "out of memory");
      }
    }
  }
  if (!res.ok && !res.message) res.message = weft_str_dup("failed on the worker");
  json_decref(r);
  drop_pending(q, p);
  if (push_done(q, &res)) {
    weft_step_result_release(&res);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return WEFT_OK;
}

/* Looks for p's result in storage; completes it when there is one. */
static int poll_result(struct qexec *q, struct pending *p, int fallback, weft_error *err) {
  char *key = weft__qmsg_result_key(p->attempt_id), *value = NULL;
  if (!key) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  weft_error e = WEFT_ERROR_INIT;
  int rc = weft_store_kv_get(q->inst->store, key, &value, &e);
  free(key);
  if (rc == WEFT_ENOTFOUND) return WEFT_OK;
  if (rc) return WEFT_OK; /* storage hiccup: the next poll tries again */
  rc = complete(q, p, value, NULL, fallback, err);
  free(value);
  return rc;
}

/* A worker dead-lettered the step (it cannot use it: typically a worker
 * attached to another instance's storage): it will not run, fail it. */
static int fail_rejected(struct qexec *q, struct pending *p, const char *worker,
                         const char *reason, weft_error *err) {
  struct weft_step_result res;
  memset(&res, 0, sizeof res);
  res.user = p->user;
  res.exit_code = -1;
  res.started_ms = res.ended_ms = weft_clock_wall_ms();
  res.message = weft_str_printf("worker %s rejected the step (dead-lettered): %s",
                                worker ? worker : "?", reason ? reason : "?");
  drop_pending(q, p);
  if (push_done(q, &res)) {
    weft_step_result_release(&res);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return WEFT_OK;
}

/* A notice names one attempt ("attempt_id") or several ("attempt_ids": a
 * worker's batch). */
static int on_notice(struct qexec *q, const struct weft_broker_msg *m, weft_error *err) {
  json_t *n = json_loads(m->body, 0, NULL);
  const char *type = json_string_value(json_object_get(n, "type"));
  json_t *ids = json_object_get(n, "attempt_ids"), *results = json_object_get(n, "results");
  size_t n_ids = json_is_array(ids) ? json_array_size(ids) : 1;
  int rc = WEFT_OK;
  for (size_t i = 0; !rc && type && i < n_ids; i++) {
    json_t *id = json_is_array(ids) ? json_array_get(ids, i) : json_object_get(n, "attempt_id");
    struct pending *p = find_attempt(q, json_string_value(id));
    if (p && !strcmp(type, "started"))
      report_worker(q, p, json_string_value(json_object_get(n, "worker")),
                    (long)int_of(n, "pid"));
    else if (p && !strcmp(type, "done") &&
             json_is_object(json_object_get(results, p->attempt_id)))
      rc = complete(q, p, NULL, json_object_get(results, p->attempt_id), 0, err);
    else if (p && !strcmp(type, "done"))
      rc = poll_result(q, p, 0, err);
    else if (p && !strcmp(type, "rejected"))
      rc = fail_rejected(q, p, json_string_value(json_object_get(n, "worker")),
                         json_string_value(json_object_get(n, "reason")), err);
  }
  json_decref(n); /* a stale or unknown notice is ignored */
  return rc;
}

/* The fallback for lost notices: a few attempts per round, oldest first. */
static int poll_some(struct qexec *q, weft_error *err) {
  int64_t now = weft_clock_mono_ms();
  if (now < q->next_poll_ms || !q->n) return WEFT_OK;
  q->next_poll_ms = now + POLL_MS;
  size_t n = q->n < POLL_BATCH ? q->n : POLL_BATCH;
  for (size_t k = 0; k < n && q->n; k++) {
    if (q->poll_next >= q->n) q->poll_next = 0;
    struct pending *p = &q->p[q->poll_next++];
    if (!p->published) continue;
    size_t before = q->n;
    int rc = poll_result(q, p, 1, err);
    if (rc) return rc;
    if (q->n < before) q->poll_next--; /* the slot now holds another attempt */
  }
  return WEFT_OK;
}

/* While a step runs on a worker, the log chunks it uploads (worker.c) are
 * mirrored into the local work folder every second, where `weft run logs`
 * and the log API read a running step's logs. */
static void mirror_live_logs(struct qexec *q) {
  static const char *const names[2] = {"stdout", "stderr"};
  int64_t now = weft_clock_mono_ms();
  if (now < q->next_live_log_ms) return;
  q->next_live_log_ms = now + 1000;
  for (size_t i = 0; i < q->n; i++) {
    struct pending *p = &q->p[i];
    if (!p->started || now - p->started_ms < 1000) continue;
    const char *end = strrchr(p->attempt_id, '/');
    for (int k = 0; k < 2; k++) {
      char *key = weft_str_printf("%.*s/%s.log", (int)(end - p->attempt_id), p->attempt_id,
                                  names[k]);
      char *prefix = key ? weft_str_printf("%s.chunks/", key) : NULL;
      char *file = weft_str_printf("%s/%s.log", p->work_dir, names[k]);
      struct weft_artifact_list l = {0};
      weft_error e = WEFT_ERROR_INIT;
      if (prefix && file && !weft_artifacts_list(q->inst->artifacts, prefix, &l, &e) &&
          l.n != p->chunks_seen[k] && !weft_fs_mkdirs(p->work_dir, &e) &&
          !weft_artifacts_read_log(q->inst->artifacts, key, file, &e))
        p->chunks_seen[k] = l.n;
      weft_artifact_list_release(&l);
      free(key);
      free(prefix);
      free(file);
    }
  }
}

/* A cancel is published without confirmation (a fanout to every worker),
 * so it may be lost (a reconnecting channel, a worker between reads): it
 * is sent again every CANCEL_RESEND_MS until the worker answers. A
 * canceled attempt whose worker never answered is given up. */
static int expire_cancels(struct qexec *q, weft_error *err) {
  int64_t now = weft_clock_mono_ms();
  for (size_t i = 0; i < q->n; i++) {
    struct pending *p = &q->p[i];
    if (!p->cancel) continue;
    if (now < p->cancel_deadline) {
      if (p->published && now - p->cancel_sent_ms >= CANCEL_RESEND_MS) {
        publish_cancel(q, p->attempt_id, p->cancel_reason);
        p->cancel_sent_ms = now;
      }
      continue;
    }
    struct weft_step_result res;
    memset(&res, 0, sizeof res);
    res.user = p->user;
    res.canceled = 1;
    res.exit_code = -1;
    res.started_ms = res.ended_ms = weft_clock_wall_ms();
    res.message = weft_str_printf("canceled (worker %s did not confirm)",
                                  p->worker ? p->worker : "(none)");
    drop_pending(q, p);
    i--;
    if (push_done(q, &res)) {
      weft_step_result_release(&res);
      return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
  }
  return WEFT_OK;
}

/* ---- the method table ------------------------------------------------------- */

static int q_can_start_more(struct weft_executor *x) {
  struct qexec *q = (struct qexec *)x;
  return q->n + q->n_done < (size_t)q->max;
}

static size_t q_running_count(struct weft_executor *x) {
  struct qexec *q = (struct qexec *)x;
  return q->n + q->n_done;
}

/* The files the engine placed in WORK/inputs (wired inputs, `path` inputs
 * from the run config): small JSON values go inline into *inline_inputs,
 * the rest up to the artifact store under RUN/STEP/ATTEMPT/inputs/NAME. */
static json_t *file_inputs(struct qexec *q, const struct weft_step_spec *s, const char *aid,
                           json_t *inline_inputs, weft_error *err) {
  json_t *o = json_object();
  int rc = o ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < s->def->n_inputs; i++) {
    const struct weft_port *port = &s->def->inputs[i];
    char *file = weft_str_printf("%s/inputs/%s", s->work_dir, port->name);
    char *key = NULL;
    struct stat st;
    if (!file) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    } else if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
      json_t *v = port->type != WEFT_TYPE_PATH && st.st_size <= INLINE_INPUT_MAX
                      ? json_load_file(file, JSON_DECODE_ANY, NULL) : NULL;
      if (v) {
        json_object_set_new(inline_inputs, port->name, v);
      } else if (!(key = weft_str_printf("%.*s/inputs/%s", (int)(strrchr(aid, '/') - aid), aid,
                                         port->name))) {
        rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      } else if (!(rc = weft_artifacts_put(q->inst->artifacts, key, file, err))) {
        json_object_set_new(o, port->name, json_string(key));
      }
    }
    free(file);
    free(key);
  }
  if (rc) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* The "op" part of def's messages (borrowed: the executor keeps it). */
static json_t *op_json(struct qexec *q, const struct weft_op_def *def) {
  json_t *o = weft_map_get(&q->ops, def->name);
  if (o) return o;
  if (!(o = weft__qmsg_op_to_json(def))) return NULL;
  if (weft_map_put(&q->ops, def->name, o)) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *object_or_empty(const char *text) {
  json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
  return v ? v : json_object();
}

static int q_start(struct weft_executor *x, const struct weft_step_spec *s, weft_error *err) {
  struct qexec *q = (struct qexec *)x;
  if (!q_can_start_more(x)) return weft_error_set(err, WEFT_ECONFLICT, "executor is full");
  if (!s->def || (!s->def->run && !s->def->argv && !s->def->c_function))
    return weft_error_set(err, WEFT_EINVALID, "op '%s' has no run:, argv: or c_function:",
                          s->def ? s->def->name : "?");
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 16;
    struct pending *v = realloc(q->p, cap * sizeof *v);
    if (!v) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    q->p = v;
    q->cap = cap;
  }
  char rnd[17];
  random_hex(rnd, 8);
  if (!q->run_id && s->run_id && !(q->run_id = weft_str_dup(s->run_id)))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  struct pending p = {0};
  p.user = s->user;
  p.attempt_id = weft_str_printf("%s/%s/%d/%s", s->run_id, s->step, s->attempt, rnd);
  p.queue = weft_str_dup(s->def->queue ? s->def->queue : "default");
  p.work_dir = weft_str_dup(s->work_dir);
  p.c_op = s->def->c_function && !s->def->run && !s->def->argv;
  if (!p.attempt_id || !p.queue || !p.work_dir) {
    pending_release(&p);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  p.id_hash = weft_map_hash(p.attempt_id);
  json_t *inl = object_or_empty(s->inputs_json);
  json_t *pin = inl ? file_inputs(q, s, p.attempt_id, inl, err) : NULL;
  if (!pin) {
    json_decref(inl);
    pending_release(&p);
    return inl ? err->code : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  json_t *m = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:o, s:s, s:o, s:o, s:o, s:o, s:s?, "
                        "s:f, s:s}",
                        "v", 1, "attempt_id", p.attempt_id, "run_id", s->run_id, "job", s->job,
                        "step", s->step, "attempt", s->attempt, "op",
                        json_incref(op_json(q, s->def)), "cwd", s->cwd, "config",
                        object_or_empty(s->config_json), "inputs", inl,
                        "path_inputs", pin, "loc_env",
                        s->loc_env ? weft_kvs_to_json(s->loc_env) : json_object(),
                        "path_prefix", s->path_prefix, "kill_grace_s",
                        s->kill_grace_s > 0 ? s->kill_grace_s : 5.0, "reply_to", q->reply_to);
  if (m && s->partition_key)
    json_object_set_new(m, "partition_key", json_string(s->partition_key));
  if (m && s->container) json_object_set_new(m, "image", json_string(s->container->image));
  if (m && s->container && s->container->has_resources) {
    const struct weft_resources *r = &s->container->resources;
    json_object_set_new(m, "resources", json_pack("{s:f, s:I, s:I, s:s?}", "cpus", r->cpus,
                                                  "memory", (json_int_t)r->memory, "shm",
                                                  (json_int_t)r->shm, "gpus", r->gpus));
  }
  p.msg = m;
  if (!p.msg) {
    pending_release(&p);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory building the step message");
  }
  /* wait() publishes it, with the others started meanwhile; a broker that
   * is down is not the step's failure: it goes out once it is back. */
  q->p[q->n++] = p;
  return WEFT_OK;
}

static int q_wait(struct weft_executor *x, int timeout_ms, struct weft_step_result *out,
                  weft_error *err) {
  struct qexec *q = (struct qexec *)x;
  memset(out, 0, sizeof *out);
  int64_t deadline = weft_clock_mono_ms() + (timeout_ms < 0 ? INT64_MAX / 4 : timeout_ms);
  for (;;) {
    if (q->n_done) {
      *out = q->done[0];
      memmove(q->done, q->done + 1, --q->n_done * sizeof *q->done);
      return 1;
    }
    if (!q->n) {
      if (timeout_ms < 0) return WEFT_ENOTFOUND;
      if (timeout_ms > 0) usleep((useconds_t)timeout_ms * 1000);
      return 0;
    }
    weft_error e = WEFT_ERROR_INIT;
    flush_unpublished(q);
    struct weft_broker_msg m;
    weft_broker_next(q->pub, 0, &m, &e); /* keeps its heartbeat going; nothing comes */
    int64_t left = deadline - weft_clock_mono_ms();
    int slice = left > 100 ? 100 : left < 0 ? 0 : (int)left;
    int got = 0;
    if (!weft_broker_ensure(q->sub, &e)) {
      got = weft_broker_next(q->sub, slice, &m, &e);
      if (got == 1) {
        int rc = on_notice(q, &m, err);
        weft_broker_msg_release(&m);
        if (rc) return rc;
      }
    } else if (slice) {
      usleep((useconds_t)slice * 1000);
    }
    mirror_live_logs(q);
    /* The fallback poll only once the notices that came are drained: a
     * busy coordinator would otherwise find results in storage whose
     * notices are already waiting in its socket, and warn of lost ones. */
    int rc = got == 1 ? WEFT_OK : poll_some(q, err);
    if (!rc) rc = expire_cancels(q, err);
    if (rc) return rc;
    if (!q->n_done && got != 1 && weft_clock_mono_ms() >= deadline) return 0;
  }
}

/* A result for an attempt no worker started: written to storage first, so
 * a worker that gets the message later acks it without running it. */
static void cancel_unstarted(struct qexec *q, struct pending *p, const char *reason) {
  char *key = weft__qmsg_result_key(p->attempt_id);
  char *msg = weft_str_printf("canceled: %s", reason ? reason : "canceled");
  json_t *r = json_pack("{s:i, s:s, s:b, s:i, s:b, s:s?, s:I, s:I}", "v", 1, "attempt_id",
                        p->attempt_id, "ok", 0, "exit_code", -1, "canceled", 1, "message", msg,
                        "started_ms", (json_int_t)weft_clock_wall_ms(), "ended_ms",
                        (json_int_t)weft_clock_wall_ms());
  char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
  weft_error e = WEFT_ERROR_INIT;
  if (key && text && weft_store_kv_compare_set(q->inst->store, key, NULL, text, &e) &&
      e.code == WEFT_ECONFLICT) {
    /* A worker recorded a result first: that one counts. */
    poll_result(q, p, 0, &e);
  } else if (text) {
    complete(q, p, NULL, r, 0, &e);
  }
  free(key);
  free(msg);
  free(text);
  json_decref(r);
}

static void cancel_pending(struct qexec *q, struct pending *p, const char *reason) {
  if (p->cancel) return;
  p->cancel = 1;
  p->cancel_deadline = weft_clock_mono_ms() + CANCEL_WAIT_MS;
  p->cancel_sent_ms = weft_clock_mono_ms();
  free(p->cancel_reason);
  p->cancel_reason = weft_str_dup(reason ? reason : "canceled");
  if (p->published) publish_cancel(q, p->attempt_id, reason);
  if (!p->started) cancel_unstarted(q, p, reason);
}

static void q_cancel_all(struct weft_executor *x, const char *reason) {
  struct qexec *q = (struct qexec *)x;
  for (size_t i = 0; i < q->n; i++) {
    size_t before = q->n;
    cancel_pending(q, &q->p[i], reason);
    if (q->n < before) i--;
  }
}

static int q_cancel_one(struct weft_executor *x, void *user, const char *reason) {
  struct qexec *q = (struct qexec *)x;
  for (size_t i = 0; i < q->n; i++)
    if (q->p[i].user == user) {
      cancel_pending(q, &q->p[i], reason);
      return WEFT_OK;
    }
  return WEFT_ENOTFOUND;
}

/* Once the run is over (final in storage: checked there, since a coordinator
 * that merely stops leaves its run to another one), its attempt results are
 * not needed: a worker drops any redelivered message of a finished run
 * before it looks for a result. Deletes every kv attempt/RUN/... in one
 * transaction; best effort (a failure only leaves the entries behind). */
static void forget_results(struct qexec *q) {
  struct weft_store *st = q->inst ? q->inst->store : NULL;
  struct weft_run_row run = {0};
  weft_error e = WEFT_ERROR_INIT;
  char *prefix = NULL;
  if (!st || !q->run_id || weft_store_run_get(st, q->run_id, &run, &e) ||
      !weft_run_status_is_final(run.status))
    goto done;
  char *key = weft__qmsg_result_key(q->run_id); /* attempt/RUN; ids are RUN/STEP/N/RND */
  prefix = key ? weft_str_printf("%s/", key) : NULL;
  free(key);
  if (prefix && weft_store_kv_delete_prefix(st, prefix, &e))
    fprintf(stderr, "weft: run %s: could not delete its attempt results: %s\n", q->run_id, e.msg);
done:
  weft_run_row_release(&run);
  free(prefix);
}

static void q_free(struct weft_executor *x) {
  struct qexec *q = (struct qexec *)x;
  forget_results(q);
  for (size_t i = 0; i < q->n; i++) {
    if (q->p[i].published && !q->p[i].cancel)
      publish_cancel(q, q->p[i].attempt_id, "the coordinator stopped");
    pending_release(&q->p[i]);
  }
  for (size_t i = 0; i < q->n_done; i++) weft_step_result_release(&q->done[i]);
  size_t pos = 0;
  const char *name;
  void *op;
  while (weft_map_next(&q->ops, &pos, &name, &op)) json_decref(op);
  weft_map_release(&q->ops);
  free(q->p);
  free(q->done);
  weft_broker_close(q->pub);
  weft_broker_close(q->sub);
  free(q->url);
  free(q->reply_to);
  free(q->run_id);
  free(q);
}

static const struct weft_executor_methods queue_methods = {
    "queue", q_can_start_more, q_start, q_wait, q_cancel_all, q_cancel_one, q_running_count,
    q_free,
};

int weft__queue_executor_new(struct weft_instance *inst, const struct weft_run_config *rc,
                             const struct weft_executor_callbacks *cb,
                             struct weft_executor **out, weft_error *err) {
  *out = NULL;
  const char *url = weft_queue_broker_url(inst);
  if (!url)
    return weft_error_set(err, WEFT_EINVALID,
                          "the queue executor needs a broker: set broker: {rabbitmq: {url: "
                          "amqp://...}} in %s/weft.yaml (or WEFT_BROKER_URL)", inst->home);
  struct qexec *q = calloc(1, sizeof *q);
  if (!q) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  q->base.m = &queue_methods;
  q->inst = inst;
  if (cb) q->cb = *cb;
  q->max = rc && rc->max_concurrent > 0 ? rc->max_concurrent : DEFAULT_MAX;
  /* The fallback poll is for notices lost later: at the start no step has
   * been published long enough to have one. */
  q->next_poll_ms = weft_clock_mono_ms() + POLL_MS;
  char rnd[17], host[128];
  random_hex(rnd, 8);
  if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "localhost");
  host[sizeof host - 1] = '\0';
  q->url = weft_str_dup(url);
  q->reply_to = weft_str_printf("weft.reply.%s.%ld.%s", host, (long)getpid(), rnd);
  int rc2 = q->url && q->reply_to ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!rc2) rc2 = weft_broker_open(url, &q->pub, err);
  if (!rc2) rc2 = weft_broker_confirms(q->pub, err);
  if (!rc2) rc2 = weft_broker_open(url, &q->sub, err);
  if (!rc2) rc2 = weft_broker_consume_private(q->sub, q->reply_to, err);
  if (rc2) {
    q_free(&q->base);
    return rc2;
  }
  *out = &q->base;
  return WEFT_OK;
}

void weft_queue_init(void) {
  weft_engine_register_executor("queue", weft__queue_executor_new);
}

const char *weft_queue_broker_url(const struct weft_instance *inst) {
  if (inst && inst->broker_url) return inst->broker_url;
  const char *env = getenv("WEFT_BROKER_URL");
  return env && *env ? env : NULL;
}
