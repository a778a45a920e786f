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

#include "engine/code_ship.h"
#include "engine/engine.h"
#include "queue/executor_int.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/map.h"
#include "util/str.h"

#define DEFAULT_MAX 1024

static void pending_release(struct pending *p) {
  free(p->cancel_reason);
  free(p->attempt_id);
  free(p->queue);
  json_decref(p->msg);
  free(p->work_dir);
  free(p->worker);
  memset(p, 0, sizeof *p);
}

struct pending *weft__qx_find_attempt(struct qexec *q, const char *id) {
  size_t h = id ? weft_map_hash(id) : 0;
  for (size_t i = 0; id && i < q->n; i++)
    if (q->p[i].id_hash == h && !strcmp(q->p[i].attempt_id, id)) return &q->p[i];
  return NULL;
}

int weft__qx_reserve(struct qexec *q, weft_error *err) {
  if (q->n < q->cap) return WEFT_OK;
  size_t cap = q->cap ? q->cap * 2 : 16;
  struct pending *v = realloc(q->p, cap * sizeof *v);
  if (!v) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  q->p = v;
  q->cap = cap;
  return WEFT_OK;
}

void weft__qx_drop_pending(struct qexec *q, struct pending *p) {
  size_t i = (size_t)(p - q->p);
  pending_release(p);
  q->p[i] = q->p[--q->n];
}

int weft__qx_push_done(struct qexec *q, struct weft_step_result *r) {
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

/* n_bytes (at most 16) random bytes as lowercase hex into out (2 * n_bytes
 * + 1 chars), from q's block. */
static void random_hex(struct qexec *q, char *out, size_t n_bytes) {
  static const char digits[] = "0123456789abcdef";
  if (n_bytes > 16) n_bytes = 16;
  if (q->rnd_used + n_bytes > sizeof q->rnd) {
    if (getrandom(q->rnd, sizeof q->rnd, 0) != (ssize_t)sizeof q->rnd)
      for (size_t i = 0; i < sizeof q->rnd; i++) q->rnd[i] ^= (unsigned char)(rand() & 0xff);
    q->rnd_used = 0;
  }
  const unsigned char *b = q->rnd + q->rnd_used;
  q->rnd_used += n_bytes;
  for (size_t i = 0; i < n_bytes; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n_bytes] = '\0';
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

void weft__qx_publish_cancel(struct qexec *q, const char *attempt_id, const char *reason) {
  json_t *m = json_pack("{s:s, s:s}", "attempt_id", attempt_id, "reason", reason ? reason : "canceled");
  char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
  weft_error e = WEFT_ERROR_INIT;
  if (text && !weft_broker_ensure(q->pub, &e))
    weft_broker_publish(q->pub, WEFT__QUEUE_CANCEL_EXCHANGE, "", text, strlen(text), 0, &e);
  free(text);
  json_decref(m);
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
        weft__qx_publish_cancel(q, p->attempt_id, p->cancel_reason);
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
    weft__qx_drop_pending(q, p);
    i--;
    if (weft__qx_push_done(q, &res)) {
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

static const char *kvs_value(const struct weft_kvs *k, const char *key) {
  for (size_t i = 0; k && i < k->n; i++)
    if (!strcmp(k->v[i].key, key)) return k->v[i].value;
  return NULL;
}

/* The code version a step runs when its cwd is its run's snapshot folder
 * (engine/code_snapshot.h sets WEFT_CODE_DIR and WEFT_CODE_VERSION in the
 * location's env), published to the artifact store before its first
 * message goes out, so a worker without this machine's disk can fetch it
 * (engine/code_ship.h). NULL in *version: the step runs in a live folder
 * (no snapshot, or a location's workdir), as before. */
static int ship_code(struct qexec *q, const struct weft_step_spec *s, const char **version,
                     weft_error *err) {
  const char *v = kvs_value(s->loc_env, "WEFT_CODE_VERSION");
  const char *dir = kvs_value(s->loc_env, "WEFT_CODE_DIR");
  *version = NULL;
  if (!v || !dir || !s->cwd || strcmp(dir, s->cwd) || !weft_code_version_valid(v))
    return WEFT_OK;
  if (!q->code_published || strcmp(q->code_published, v)) {
    char *tmp_dir = weft_fs_join(q->inst->home, "code");
    weft_error e = WEFT_ERROR_INIT;
    int rc = tmp_dir ? weft_code_publish(q->inst->artifacts, dir, v, tmp_dir, NULL, &e)
                     : weft_error_set(&e, WEFT_ENOMEM, "out of memory");
    free(tmp_dir);
    if (rc)
      return weft_error_set(err, rc, "cannot publish code version %s to the artifact store: %s",
                            v, e.msg);
    free(q->code_published);
    if (!(q->code_published = weft_str_dup(v)))
      return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  *version = v;
  return WEFT_OK;
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
  int grown = weft__qx_reserve(q, err);
  if (grown) return grown;
  char rnd[17];
  random_hex(q, rnd, 8);
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
  const char *code_version = NULL;
  int rc = ship_code(q, s, &code_version, err);
  if (rc) {
    pending_release(&p);
    return rc;
  }
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
  if (m && code_version) json_object_set_new(m, "code_version", json_string(code_version));
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
        int rc = weft__qx_on_notice(q, &m, err);
        weft_broker_msg_release(&m);
        if (rc) return rc;
      }
    } else if (slice) {
      usleep((useconds_t)slice * 1000);
    }
    weft__qx_mirror_live_logs(q);
    /* The fallback poll only once the notices that came are drained: a
     * busy coordinator would otherwise find results in storage whose
     * notices are already waiting in its socket, and warn of lost ones. */
    int rc = got == 1 ? WEFT_OK : weft__qx_poll_some(q, err);
    if (!rc) rc = expire_cancels(q, err);
    if (!rc) rc = weft__qx_check_attached(q, err);
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
    weft__qx_poll_result(q, p, 0, &e);
  } else if (text) {
    weft__qx_complete(q, p, NULL, r, 0, &e);
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
  if (p->published) weft__qx_publish_cancel(q, p->attempt_id, reason);
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
      weft__qx_publish_cancel(q, q->p[i].attempt_id, "the coordinator stopped");
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
  weft_qsig_key_free(q->key);
  free(q->url);
  free(q->reply_to);
  free(q->run_id);
  free(q->code_published);
  free(q);
}

static const struct weft_executor_methods queue_methods = {
    "queue", q_can_start_more, q_start, q_wait, q_cancel_all, q_cancel_one, q_running_count,
    q_free, NULL, weft__qx_attach,
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
  q->rnd_used = sizeof q->rnd; /* nothing drawn yet */
  if (cb) q->cb = *cb;
  q->max = rc && rc->max_concurrent > 0 ? rc->max_concurrent : DEFAULT_MAX;
  /* The fallback poll is for notices lost later: at the start no step has
   * been published long enough to have one. */
  q->next_poll_ms = weft_clock_mono_ms() + POLL_MS;
  char rnd[17], host[128];
  random_hex(q, rnd, 8);
  if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "localhost");
  host[sizeof host - 1] = '\0';
  q->url = weft_str_dup(url);
  q->reply_to = weft_str_printf("weft.reply.%s.%ld.%s", host, (long)getpid(), rnd);
  int rc2 = q->url && q->reply_to ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!rc2) rc2 = weft_qsig_key_load(inst, &q->key, err);
  if (!rc2) rc2 = weft_broker_open(url, &q->pub, err);
  if (!rc2) weft_broker_sign_with(q->pub, q->key);
  if (!rc2) rc2 = weft_broker_confirms(q->pub, err);
  if (!rc2) rc2 = weft_broker_open(url, &q->sub, err);
  if (!rc2) weft_broker_sign_with(q->sub, q->key);
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
