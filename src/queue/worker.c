/* worker.c: `weft worker`: consumes step messages, runs each step in a work
 * folder of its own (process ops with the multiprocess executor, C-function
 * ops in this process with in_process), records the results.
 *
 * One message (a step, or a batch of steps: queue_int.h), at least once:
 *
 *   each step ── bad JSON, missing field, unknown run ──> reject → weft.dead
 *      │ ── kv attempt/ID already there (a redelivery) ──> skipped
 *      │ ── its run already ended ──────────────────────> dropped
 *      └─> download path inputs → "started" notice → run → upload outputs
 *          and logs
 *   last step of the message done → every kv attempt/ID in one transaction
 *      (first writer wins) → one "done" notice → ack
 *
 * A worker killed before the ack loses nothing: the broker redelivers the
 * message when the connection drops. On SIGTERM it stops consuming, lets
 * running steps finish for the grace period, then kills them and hands
 * their messages back (nack with requeue). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/code_ship.h"
#include "engine/secrets.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

#include "queue/worker_int.h"


static void slot_release(struct slot *s) {
  weft__wk_code_release(s);
  free(s->attempt_id);
  free(s->run_id);
  free(s->step);
  free(s->reply_to);
  free(s->work_dir);
  weft__qmsg_op_free(s->def);
  json_decref(s->events);
  json_decref(s->json);
  weft_mask_free(s->mask);
  memset(s, 0, sizeof *s);
}

static int running_count(const struct worker *w) {
  int n = 0;
  for (int i = 0; i < w->n_slots; i++) n += w->slots[i].used && w->slots[i].started;
  return n;
}

static void finish_slot(struct worker *w, struct slot *s, const struct weft_step_result *res) {
  weft_error e = WEFT_ERROR_INIT;
  struct batch *b = s->b;
  if (s->abandon) {
    weft__wk_log(w, "%s handed back (shutdown)", s->attempt_id);
    b->requeue = 1;
  } else {
    json_t *r = weft__wk_result_doc(w, s, res);
    if (r)
      weft__wk_record(w, b, s->attempt_id, s->reply_to, r);
    else
      b->requeue = 1;
  }
  /* Removed once settled (weft__wk_empty_trash): a few ms of unlink and
   * rmdir that need not delay the result, the ack and the next step. */
  if (s->work_dir && json_array_append_new(w->trash, json_string(s->work_dir)))
    weft_fs_remove_tree(s->work_dir, &e);
  slot_release(s);
  weft__wk_step_end(w, b);
}

/* ---- executor callbacks ------------------------------------------------------------ */

static void on_event(void *data, void *user, json_t *event) {
  struct slot *s = user;
  (void)data;
  if (s->events) json_array_append(s->events, event);
}

static void on_started(void *data, void *user, long pid) {
  struct worker *w = data;
  struct slot *s = user;
  s->pid = pid;
  json_t *e = json_pack("[s, s, I]", s->reply_to, s->attempt_id, (json_int_t)pid);
  if (e) json_array_append_new(w->started, e); /* sent by flush_started */
}

/* ---- taking a message ------------------------------------------------------------- */

static struct slot *find_running(struct worker *w, const char *attempt_id) {
  for (int i = 0; i < w->n_slots; i++)
    if (w->slots[i].used && !strcmp(w->slots[i].attempt_id, attempt_id)) return &w->slots[i];
  return NULL;
}

static int is_c_op(const struct weft_op_def *def) {
  return def->c_function && !def->run && !def->argv;
}

/* The step's secrets and variables, read from storage here with this
 * worker's own key (the message names them, it never carries a value). */
static int step_secrets(struct worker *w, struct slot *s, struct weft_step_secrets *out,
                        weft_error *err) {
  if (!(s->mask = weft_mask_new())) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (weft_secrets_op_uses(s->def) && !w->keyring) {
    struct weft_secret_keyring *kr = calloc(1, sizeof *kr);
    if (!kr) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    int rc = weft_secret_keyring_load(w->inst->secret_key_file, 0, kr, err);
    if (rc) {
      free(kr);
      return rc;
    }
    w->keyring = kr;
  }
  return weft_secrets_resolve_step(w->inst->store, w->keyring, s->def, s->mask, out, err);
}

/* Starts the step of message m in free slot s. Returns 0, or a message for
 * record_failure (caller frees). */
static char *start_step(struct worker *w, struct slot *s, json_t *msg) {
  weft_error e = WEFT_ERROR_INIT;
  const char *cwd = json_string_value(json_object_get(msg, "cwd"));
  char *cfg = json_dumps(json_object_get(msg, "config") ? json_object_get(msg, "config")
                                                        : json_object(),
                         JSON_COMPACT | JSON_ENCODE_ANY);
  json_t *in = json_object_get(msg, "inputs");
  char *inputs = json_object_size(in) ? json_dumps(in, JSON_COMPACT) : NULL;
  struct weft_kvs loc_env = {0};
  const char *last = strrchr(s->attempt_id, '/');
  char *why = NULL;
  /* One level under the worker's folder: RUN/STEP/ATTEMPT left an empty
   * folder a step and one a run behind it once the attempt's was removed
   * (thousands a minute on a busy worker, each slowing the next lookup),
   * and cost two more mkdirs a step. */
  s->work_dir = weft_str_printf("%s/%s.%s.%d-%s", w->work_root, s->run_id, s->step, s->attempt,
                                last ? last + 1 : "x");
  int rc = s->work_dir && cfg ? WEFT_OK : weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  /* The executor creates the folder if the step needs one (exec.h). */
  if (!rc && weft_fs_exists(s->work_dir)) rc = weft_fs_remove_tree(s->work_dir, &e);
  if (!rc) rc = weft__qmsg_kvs_from_json(json_object_get(msg, "loc_env"), "loc_env", &loc_env, &e);
  if (!rc) rc = weft__wk_code_dir(w, s, msg, &cwd, &loc_env, &e);
  if (!rc && !weft_fs_is_dir(cwd))
    rc = weft_error_set(&e, WEFT_ENOTFOUND,
                        "the code location folder %s does not exist on worker %s", cwd, w->id);
  if (!rc) rc = weft__wk_prepare_inputs(w, s, msg, &e);
  struct weft__wk_ctr ctr; /* an image: a container on this worker's engine */
  struct weft_step_secrets sec = {0};
  if (!rc) rc = weft__wk_container(w, msg, &ctr, &e);
  if (!rc) rc = step_secrets(w, s, &sec, &e);
  if (!rc) {
    struct weft_step_spec spec = {.container = ctr.c.image ? &ctr.c : NULL};
    json_t *grace = json_object_get(msg, "kill_grace_s");
    spec.run_id = s->run_id;
    spec.job = json_string_value(json_object_get(msg, "job"));
    spec.step = s->step;
    spec.attempt = s->attempt;
    spec.def = s->def;
    spec.cwd = cwd;
    spec.work_dir = s->work_dir;
    spec.config_json = cfg;
    spec.inputs_json = inputs;
    spec.kill_grace_s = json_is_number(grace) ? json_number_value(grace) : 5;
    spec.loc_env = &loc_env;
    spec.path_prefix = json_string_value(json_object_get(msg, "path_prefix"));
    spec.partition_key = json_string_value(json_object_get(msg, "partition_key"));
    spec.die_with_parent = 1; /* a worker killed with -9 must not leave its steps running */
    spec.user = s;
    spec.secrets = &sec;
    s->started = 1;
    s->started_ms = weft_clock_wall_ms();
    s->ex = is_c_op(s->def) ? w->xc : w->x;
    rc = weft_executor_start(s->ex, &spec, &e);
    if (rc) s->started = 0;
  }
  if (rc) why = weft_str_printf("could not start on worker %s: %s", w->id, e.msg);
  weft_step_secrets_release(&sec);
  weft__qmsg_kvs_release(&loc_env);
  free(cfg);
  free(inputs);
  return why;
}

/* Starts waiting slot s; a step that cannot start is recorded as failed. */
static void start_slot(struct worker *w, struct slot *s) {
  weft_error e = WEFT_ERROR_INIT;
  char *fail = start_step(w, s, s->json);
  json_decref(s->json);
  s->json = NULL;
  if (fail) {
    struct batch *b = s->b;
    weft__wk_record_failure(w, b, s->attempt_id, s->reply_to, fail);
    if (s->work_dir) weft_fs_remove_tree(s->work_dir, &e);
    slot_release(s);
    free(fail);
    weft__wk_step_end(w, b);
  } else {
    if (!is_c_op(s->def)) weft__wk_log(w, "running %s", s->attempt_id);
    w->dirty = 1;
  }
}

/* Fills free executor capacity with waiting slots, oldest first (a C op
 * waits while another runs: in_process runs one at a time). */
static void start_waiting(struct worker *w) {
  while (!w->stopping && running_count(w) < w->concurrency) {
    struct slot *next = NULL;
    for (int i = 0; i < w->n_slots; i++) {
      struct slot *s = &w->slots[i];
      if (weft__wk_is_waiting(s) && (!next || s->seq < next->seq)) next = s;
    }
    if (!next || (is_c_op(next->def) && !weft_executor_can_start_more(w->xc))) return;
    start_slot(w, next);
  }
}

/* Waiting slots are given back: on shutdown (requeued), or after a
 * reconnect (their deliveries died with the old connection: nothing to
 * settle, the broker requeued them). */
static void drop_waiting(struct worker *w, int only_stale) {
  for (int i = 0; i < w->n_slots; i++) {
    struct slot *s = &w->slots[i];
    if (!weft__wk_is_waiting(s)) continue;
    struct batch *b = s->b;
    if (only_stale && b->msg.gen == weft_broker_generation(w->sub)) continue;
    if (!only_stale) b->requeue = 1;
    slot_release(s);
    weft__wk_step_end(w, b);
  }
}

/* A message handed back or rejected whole: its steps taken so far never
 * start (started ones are not: at most a reconnect's redelivery). */
static void drop_batch_waiting(struct worker *w, struct batch *b) {
  for (int i = 0; i < w->n_slots; i++) {
    struct slot *s = &w->slots[i];
    if (weft__wk_is_waiting(s) && s->b == b) {
      slot_release(s);
      b->open--;
    }
  }
}

static const char *const required_strings[] = {"attempt_id", "run_id", "job", "step",
                                               "cwd", "reply_to", NULL};

/* Takes one step of batch b (msg: its step message). An unusable step is
 * dead-lettered when it came alone, else reported "rejected" and left out;
 * one that cannot be taken now hands the whole message back. */
static void take_one(struct worker *w, struct batch *b, json_t *msg, int alone) {
  char why[600];
  weft_error e = WEFT_ERROR_INIT;
  struct weft_run_row run = {0};
  struct slot *s = NULL;
  char *value = NULL, *key = NULL;
  if (!json_is_object(msg)) {
    snprintf(why, sizeof why, "a step of the batch is not a JSON object");
    goto reject;
  }
  for (const char *const *f = required_strings; *f; f++)
    if (!json_is_string(json_object_get(msg, *f)) ||
        !*json_string_value(json_object_get(msg, *f))) {
      snprintf(why, sizeof why, "field '%s' is missing or not a non-empty string", *f);
      goto reject;
    }
  json_t *att = json_object_get(msg, "attempt");
  if (json_integer_value(json_object_get(msg, "v")) != 1 || !json_is_integer(att) ||
      json_integer_value(att) < 1) {
    snprintf(why, sizeof why, "field 'v' must be 1 and 'attempt' an integer >= 1");
    goto reject;
  }
  const char *aid = json_string_value(json_object_get(msg, "attempt_id"));
  const char *reply_to = json_string_value(json_object_get(msg, "reply_to"));
  const char *run_id = json_string_value(json_object_get(msg, "run_id"));
  if ((s = find_running(w, aid))) { /* our own attempt, redelivered after a reconnect */
    struct batch *old = s->b;
    s->b = b;
    b->open++;
    weft__wk_step_end(w, old); /* the old delivery is dead: its ack is a no-op */
    goto done;
  }
  if (!(key = weft__qmsg_result_key(aid))) goto requeue;
  /* Only a message delivered before can have a result already (or one the
   * coordinator canceled: its run is then canceling, see below). */
  int rc = b->msg.redelivered ? weft_store_kv_get(w->inst->store, key, &value, &e)
                              : WEFT_ENOTFOUND;
  if (!rc) { /* ran already: a redelivery */
    weft__wk_log(w, "%s already has a result: acknowledged without running it again", aid);
    weft__wk_add_id(b->done, reply_to, aid);
    goto done;
  }
  if (rc != WEFT_ENOTFOUND) goto requeue;
  int64_t now = weft_clock_mono_ms();
  /* A redelivery always reads the run: once the run is final its results
   * are deleted (executor.c), so only the status tells it to drop it. */
  int cached = !b->msg.redelivered && w->live_run && !strcmp(w->live_run, run_id) &&
               now - w->live_run_ms < RUN_CHECK_MS;
  if (cached) {
    run.status = WEFT_RUN_STARTED;
    rc = WEFT_OK;
  } else if ((rc = weft_store_run_get(w->inst->store, run_id, &run, &e)) == WEFT_ENOTFOUND) {
    snprintf(why, sizeof why, "it names run %s, which does not exist in storage", run_id);
    goto reject;
  }
  if (rc) goto requeue;
  if (weft_run_status_is_final(run.status) || run.status == WEFT_RUN_CANCELING) {
    weft__wk_log(w, "%s: run %s is %s: dropped", aid, run_id, weft_run_status_name(run.status));
    goto done;
  }
  if (!cached) {
    free(w->live_run);
    w->live_run = weft_str_dup(run_id);
    w->live_run_ms = now;
  }
  for (int i = 0; i < w->n_slots && !s; i++)
    if (!w->slots[i].used) s = &w->slots[i];
  if (!s) goto requeue;
  struct weft_op_def *def = NULL;
  if (weft__qmsg_op_from_json(json_object_get(msg, "op"), &def, &e)) {
    snprintf(why, sizeof why, "%.500s", e.msg);
    s = NULL;
    goto reject;
  }
  memset(s, 0, sizeof *s);
  s->def = def;
  s->attempt_id = weft_str_dup(aid);
  s->run_id = weft_str_dup(run_id);
  s->step = weft_str_dup(json_string_value(json_object_get(msg, "step")));
  s->reply_to = weft_str_dup(reply_to);
  s->attempt = (int)json_integer_value(att);
  s->events = json_array();
  if (!s->attempt_id || !s->run_id || !s->step || !s->reply_to || !s->events) {
    slot_release(s);
    goto requeue;
  }
  s->b = b;
  b->open++;
  s->used = 1;
  s->json = json_incref(msg);
  s->seq = ++w->seq;
  goto done;
reject:
  /* A coordinator named in the message would otherwise wait forever. */
  if (json_is_string(json_object_get(msg, "reply_to")) &&
      json_is_string(json_object_get(msg, "attempt_id")))
    weft__wk_notify(w, json_string_value(json_object_get(msg, "reply_to")),
           json_pack("{s:s, s:O, s:s, s:s}", "type", "rejected", "attempt_id",
                     json_object_get(msg, "attempt_id"), "worker", w->id, "reason", why));
  if (alone) {
    b->reject = 1;
    snprintf(b->why, sizeof b->why, "%s", why);
  } else {
    weft__wk_log(w, "rejected a step of a batch from %s: %s", b->msg.queue, why);
  }
  goto done;
requeue:
  weft__wk_log(w, "cannot take a message now (handed back): %s", e.msg[0] ? e.msg : "no free slot");
  b->requeue = 1;
done:
  weft_run_row_release(&run);
  free(key);
  free(value);
}

/* A message whose signature is missing or wrong (b->why says which) runs
 * nothing: it is dead-lettered whole. Its coordinator, if there is one
 * (a worker given another key file), is told through storage, which it
 * trusts, not by a notice, which it would drop: each step that names a
 * run in progress gets a failed result "worker X rejected the step
 * (dead-lettered): WHY". Nothing in an unverified message is believed
 * beyond that: its steps are not started, and names of runs that do not
 * exist or are over are not written anywhere. */
static void refuse_unsigned(struct worker *w, struct batch *b, json_t *msg) {
  json_t *steps = json_object_get(msg, "steps"), *one;
  json_t *common = json_object_get(msg, "common");
  size_t i, n = json_is_array(steps) ? json_array_size(steps) : 1;
  char *text = weft_str_printf("worker %s rejected the step (dead-lettered): %s", w->id, b->why);
  for (i = 0; text && i < n && i < BATCH_MAX; i++) {
    one = json_is_array(steps) ? json_array_get(steps, i) : msg;
    const char *aid = json_string_value(json_object_get(one, "attempt_id"));
    const char *run_id = json_string_value(json_object_get(one, "run_id"));
    const char *reply_to = json_string_value(json_object_get(one, "reply_to"));
    if (!run_id) run_id = json_string_value(json_object_get(common, "run_id"));
    if (!reply_to) reply_to = json_string_value(json_object_get(common, "reply_to"));
    struct weft_run_row run = {0};
    weft_error e = WEFT_ERROR_INIT;
    if (aid && run_id && reply_to && weft_str_has_prefix(aid, run_id) &&
        !weft_store_run_get(w->inst->store, run_id, &run, &e) &&
        !weft_run_status_is_final(run.status)) {
      int64_t now = weft_clock_wall_ms();
      json_t *r = json_pack("{s:b, s:i, s:s, s:b, s:I, s:I}", "ok", 0, "exit_code", -1,
                            "message", text, "rejected", 1, "started_ms", (json_int_t)now,
                            "ended_ms", (json_int_t)now);
      if (r) weft__wk_record(w, b, aid, reply_to, r);
    }
    weft_run_row_release(&run);
  }
  free(text);
}

/* A delivery: one step message, or a batch {"v":1,"steps":[...]}. Its
 * steps wait in slots; the message is settled when the last one is over. */
static void take_message(struct worker *w, struct weft_broker_msg *m) {
  json_error_t je;
  json_t *msg = json_loads(m->body, 0, &je);
  struct batch *b = calloc(1, sizeof *b);
  weft_error e = WEFT_ERROR_INIT;
  if (!b || !(b->results = json_array()) || !(b->done = json_object())) {
    if (b) json_decref(b->results);
    free(b);
    weft_broker_nack(w->sub, m, 1, &e);
    weft_broker_msg_release(m);
    json_decref(msg);
    return;
  }
  b->msg = *m;
  memset(m, 0, sizeof *m);
  if (weft__wk_live_add(w, b)) {
    weft_broker_nack(w->sub, &b->msg, 1, &e);
    weft_broker_msg_release(&b->msg);
    json_decref(b->results);
    json_decref(b->done);
    free(b);
    json_decref(msg);
    return;
  }
  b->open = 1; /* held while its steps are taken */
  json_t *steps = json_object_get(msg, "steps");
  if (w->stopping) { /* delivered before our basic.cancel arrived */
    b->requeue = 1;
  } else if (b->msg.sig_error[0]) { /* not from this instance: signing.h */
    b->reject = 1;
    snprintf(b->why, sizeof b->why, "%s", b->msg.sig_error);
    refuse_unsigned(w, b, msg);
  } else if (!json_is_object(msg)) {
    b->reject = 1;
    snprintf(b->why, sizeof b->why, "not a JSON object (%s at byte %d)",
             msg ? "another JSON value" : je.text, je.position);
  } else if (steps) {
    json_t *common = json_object_get(msg, "common");
    if (json_integer_value(json_object_get(msg, "v")) != 1 || !json_is_array(steps) ||
        !json_array_size(steps) || json_array_size(steps) > BATCH_MAX ||
        (common && !json_is_object(common))) {
      b->reject = 1;
      snprintf(b->why, sizeof b->why,
               "a batch needs 'v' 1, 'steps' an array of 1 to %d step messages and "
               "'common', if there, an object", BATCH_MAX);
    }
    size_t i;
    json_t *one;
    /* Each step is its own fields plus the ones the batch's steps share. */
    json_array_foreach(steps, i, one) {
      if (b->reject || !common || !json_is_object(one)) continue;
      if (json_object_update_missing(one, common)) b->requeue = 1;
    }
    if (!b->reject)
      weft__wk_log(w, "took a batch of %zu steps from %s", json_array_size(steps), b->msg.queue);
    json_array_foreach(steps, i, one) {
      if (b->reject || b->requeue) break;
      take_one(w, b, one, 0);
    }
  } else {
    take_one(w, b, msg, 1);
  }
  if (b->reject || b->requeue) drop_batch_waiting(w, b);
  json_decref(msg);
  if (b->requeue && !w->stopping) weft_clock_sleep_ms(100); /* no busy loop */
  weft__wk_step_end(w, b);
  start_waiting(w);
}

static void take_cancel(struct worker *w, struct weft_broker_msg *m) {
  if (m->sig_error[0]) { /* anyone on the broker could stop our steps */
    weft__wk_log(w, "ignored a cancel on " WEFT__QUEUE_CANCEL_EXCHANGE ": %s", m->sig_error);
    weft_broker_msg_release(m);
    return;
  }
  json_t *c = json_loads(m->body, 0, NULL);
  struct slot *s = find_running(w, json_string_value(json_object_get(c, "attempt_id")));
  const char *reason = json_string_value(json_object_get(c, "reason"));
  if (s && s->started) {
    weft__wk_log(w, "canceling %s: %s", s->attempt_id, reason ? reason : "canceled");
    weft_executor_cancel_one(s->ex, s, reason);
  } else if (s && weft__wk_is_waiting(s)) { /* not started yet: it never will */
    int64_t now = weft_clock_wall_ms();
    char *msg = weft_str_printf("canceled: %s", reason ? reason : "canceled");
    json_t *r = json_pack("{s:b, s:i, s:b, s:s?, s:I, s:I}", "ok", 0, "exit_code", -1,
                          "canceled", 1, "message", msg, "started_ms", (json_int_t)now,
                          "ended_ms", (json_int_t)now);
    struct batch *b = s->b;
    if (r) weft__wk_record(w, b, s->attempt_id, s->reply_to, r);
    free(msg);
    slot_release(s);
    weft__wk_step_end(w, b);
  }
  json_decref(c);
  weft_broker_msg_release(m);
}

/* ---- the loop ----------------------------------------------------------------------- */

static int setup(struct worker *w, weft_error *err) {
  int rc = weft_qsig_key_load(w->inst, &w->key, err);
  if (!rc) rc = weft_broker_open(w->o->broker_url, &w->sub, err);
  if (!rc) rc = weft_broker_open(w->o->broker_url, &w->pub, err);
  if (!rc) {
    weft_broker_sign_with(w->sub, w->key);
    weft_broker_sign_with(w->pub, w->key);
  }
  if (!rc) rc = weft_broker_qos(w->sub, w->prefetch, err);
  for (size_t i = 0; !rc && i < w->o->n_queues; i++) {
    char q[300];
    snprintf(q, sizeof q, WEFT_QUEUE_PREFIX "%s", w->o->queues[i]);
    rc = weft_broker_declare_step_queue(w->sub, w->o->queues[i], err);
    if (!rc) rc = weft_broker_consume(w->sub, q, err);
  }
  if (!rc) rc = weft_broker_subscribe_fanout(w->sub, WEFT__QUEUE_CANCEL_EXCHANGE, err);
  struct weft_executor_callbacks cb = {on_event, on_started, w};
  if (!rc) rc = weft_executor_new("multiprocess", w->concurrency, &cb, &w->x, err);
  if (!rc) rc = weft_executor_new("in_process", 1, &cb, &w->xc, err);
  return rc;
}

/* Takes what the consumer connection has (cancels, step messages) without
 * waiting: the loop calls it when the socket is readable or the library
 * holds frames already read. At most a round of slots per call, so that
 * finished steps are collected in between. */
static void pump_broker(struct worker *w) {
  weft_error e = WEFT_ERROR_INIT;
  unsigned gen = weft_broker_generation(w->sub);
  if (weft_broker_ensure(w->sub, &e)) return; /* the loop retries after a backoff */
  if (gen != weft_broker_generation(w->sub)) {
    weft__wk_log(w, "reconnected to %s", weft_broker_display_url(w->sub));
    drop_waiting(w, 1);
  }
  for (int k = 0; k < w->n_slots + 2; k++) {
    struct weft_broker_msg m;
    int got = weft_broker_next(w->sub, 0, &m, &e);
    if (got < 0) {
      weft__wk_log(w, "lost the broker: %s", e.msg);
      return;
    }
    if (!got) return;
    if (!strcmp(m.queue, WEFT__QUEUE_CANCEL_EXCHANGE))
      take_cancel(w, &m);
    else
      take_message(w, &m);
  }
}

/* Collects x's finished steps without waiting; returns how many. A C op
 * runs inside its executor's wait. */
static int drain(struct worker *w, struct weft_executor *x) {
  struct weft_step_result res;
  weft_error e = WEFT_ERROR_INIT;
  int n = 0, got = weft_executor_wait(x, 0, &res, &e);
  while (got == 1) {
    struct slot *s = res.user;
    if (!is_c_op(s->def) || !res.ok)
      weft__wk_log(w, "%s %s", s->attempt_id, res.ok ? "succeeded" : res.message ? res.message : "failed");
    s->started = 0; /* finishing: its executor slot is free for the next step */
    if (!s->abandon) start_waiting(w);
    finish_slot(w, s, &res);
    weft_step_result_release(&res);
    w->dirty = 1;
    n++;
    got = weft_executor_wait(x, 0, &res, &e);
  }
  return n;
}

/* ---- the event loop ------------------------------------------------------------------
 *
 * One epoll set: the consumer and notice connections' sockets and the
 * executors' fds (their steps' pidfds and events pipes: exec.h
 * weft_executor_poll_fd). The loop sleeps only in epoll_wait, until
 * something is readable or the next timer is due (heartbeat, the notice
 * connection's keep-alive, live logs, a step's timeout, the shutdown
 * grace), and before it sleeps it settles what finished: one commit for
 * every message whose steps ended since the last one (the group grows by
 * itself while a commit is slow), then the acks, then the work folders. */

enum { EP_SUB, EP_PUB, EP_X, EP_XC, EP_N };

struct watch {
  int fd[EP_N];
  unsigned gen[EP_N];
};

/* Keeps fd registered for slot k; a reconnect (new generation) may reuse
 * the old socket's number, and epoll forgot the old one at its close. */
static void watch_fd(struct worker *w, struct watch *wt, int k, int fd, unsigned gen) {
  if (wt->fd[k] == fd && wt->gen[k] == gen) return;
  if (wt->fd[k] >= 0) epoll_ctl(w->ep, EPOLL_CTL_DEL, wt->fd[k], NULL);
  wt->fd[k] = -1;
  if (fd >= 0) {
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.u32 = (uint32_t)k;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) && errno == EEXIST)
      epoll_ctl(w->ep, EPOLL_CTL_MOD, fd, &ev);
    wt->fd[k] = fd;
  }
  wt->gen[k] = gen;
}

static int64_t min_due(int64_t a, int64_t b) { return a < 0 || (b >= 0 && b < a) ? b : a; }

/* Milliseconds until the loop must run again without any fd ready. */
static int next_timeout(struct worker *w, struct watch *wt, int64_t grace_deadline) {
  int64_t now = weft_clock_mono_ms();
  int64_t due = w->next_heartbeat_ms;
  if (w->dirty) due = min_due(due, w->last_heartbeat_ms + HEARTBEAT_DIRTY_MS);
  due = min_due(due, w->next_pub_pump_ms);
  due = min_due(due, w->next_sub_pump_ms);
  if (running_count(w)) due = min_due(due, w->next_live_log_ms);
  if (grace_deadline) due = min_due(due, grace_deadline);
  int64_t t = due - now;
  /* The stop flag is set by a signal, which interrupts epoll_wait, unless
   * it came just before: look again at least this often. */
  if (t > 500) t = 500;
  if (t < 0) t = 0;
  int xt = -1;
  watch_fd(w, wt, EP_X, weft_executor_poll_fd(w->x, &xt), 0);
  if (xt >= 0 && xt < t) t = xt;
  xt = -1;
  watch_fd(w, wt, EP_XC, weft_executor_poll_fd(w->xc, &xt), 0);
  if (xt >= 0 && xt < t) t = xt;
  /* no fd to wake us (a backend without one): look every 20 ms */
  if ((wt->fd[EP_X] < 0 && weft_executor_running_count(w->x)) ||
      (wt->fd[EP_XC] < 0 && weft_executor_running_count(w->xc)))
    if (t > 20) t = 20;
  if (weft_broker_buffered(w->sub) || weft_broker_buffered(w->pub)) t = 0;
  if (weft_broker_broken(w->sub) && t > 100) t = 100; /* reconnect with its backoff */
  return (int)t;
}

int weft_worker_run(struct weft_instance *inst, const struct weft_worker_options *o,
                    weft_error *err) {
  struct worker w;
  memset(&w, 0, sizeof w);
  w.inst = inst;
  w.o = o;
  w.concurrency = o->concurrency > 0 ? o->concurrency : 1;
  w.prefetch = o->prefetch > w.concurrency ? o->prefetch : w.concurrency;
  w.n_slots = w.prefetch * BATCH_MAX + 1;
  w.started = json_array();
  w.trash = json_array();
  w.ep = epoll_create1(EPOLL_CLOEXEC);
  w.state = "running";
  w.started_ms = weft_clock_wall_ms();
  if (gethostname(w.host, sizeof w.host)) snprintf(w.host, sizeof w.host, "localhost");
  w.host[sizeof w.host - 1] = '\0';
  w.id = o->id ? weft_str_dup(o->id) : weft_str_printf("%s-%ld", w.host, (long)getpid());
  w.work_root = o->work_root ? weft_str_dup(o->work_root)
                             : weft_str_printf("%s/worker/%s", inst->home, w.id ? w.id : "");
  w.slots = calloc((size_t)w.n_slots, sizeof *w.slots);
  int rc = w.id && w.work_root && w.slots && w.started && w.trash
               ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!rc && w.ep < 0) rc = weft_error_set(err, WEFT_EIO, "epoll_create1: %s", strerror(errno));
  if (!rc) rc = setup(&w, err);
  if (rc) goto done;
  weft__wk_heartbeat(&w, 1);
  weft__wk_log(&w, "consuming %zu queue%s on %s with concurrency %d", o->n_queues,
        o->n_queues == 1 ? "" : "s", weft_broker_display_url(w.sub), w.concurrency);
  weft__wk_log(&w, "messages are signed and checked with key %s (%s %s)", w.key->id,
               w.key->origin, w.key->file);
  int64_t grace_deadline = 0;
  int killed = 0;
  struct watch wt;
  for (int k = 0; k < EP_N; k++) wt.fd[k] = -1, wt.gen[k] = 0;
  for (;;) {
    if (o->stop && *o->stop && !grace_deadline) {
      weft_error e = WEFT_ERROR_INIT;
      weft_broker_stop_consuming(w.sub, &e);
      drop_waiting(&w, 0);
      w.stopping = 1;
      w.state = "stopping";
      grace_deadline = weft_clock_mono_ms() + (int64_t)(o->grace_s * 1000);
      weft__wk_log(&w, "stopping: %d step%s still running (grace %.0f s)", running_count(&w),
            running_count(&w) == 1 ? "" : "s", o->grace_s);
      weft__wk_heartbeat(&w, 1);
    }
    if (grace_deadline && !running_count(&w)) break;
    if (grace_deadline && !killed && weft_clock_mono_ms() >= grace_deadline) {
      killed = 1;
      for (int i = 0; i < w.n_slots; i++) w.slots[i].abandon = w.slots[i].used && w.slots[i].started;
      weft_executor_cancel_all(w.x, "the worker is shutting down");
      weft_executor_cancel_all(w.xc, "the worker is shutting down");
    }
    /* What is ready: finished steps first (their slots take the next
     * waiting steps at once), then the sockets. */
    drain(&w, w.xc);
    drain(&w, w.x);
    int64_t now = weft_clock_mono_ms();
    if (weft_broker_buffered(w.sub) || wt.fd[EP_SUB] < 0 || now >= w.next_sub_pump_ms ||
        w.sub_ready) {
      w.sub_ready = 0;
      w.next_sub_pump_ms = now + 1000; /* its heartbeats, when nothing comes */
      pump_broker(&w);
    }
    if (w.pub_ready || weft_broker_buffered(w.pub)) {
      w.pub_ready = 0;
      w.next_pub_pump_ms = 0; /* a frame on the notice connection: read it now */
    }
    weft__wk_pump_publisher(&w);
    start_waiting(&w);
    weft__wk_flush_started(&w);
    /* Before sleeping: settle, then tidy up, then the timers. */
    weft__wk_settle_flush(&w);
    weft__wk_empty_trash(&w);
    weft__wk_heartbeat(&w, 0);
    weft__wk_upload_live_logs(&w);
    watch_fd(&w, &wt, EP_SUB, weft_broker_fd(w.sub), weft_broker_generation(w.sub));
    watch_fd(&w, &wt, EP_PUB, weft_broker_fd(w.pub), weft_broker_generation(w.pub));
    int timeout = next_timeout(&w, &wt, grace_deadline);
    /* A C step waiting to run, or a step started just now that is over
     * already: no sleep. */
    struct epoll_event ev[EP_N];
    int n = epoll_wait(w.ep, ev, EP_N, timeout);
    for (int i = 0; i < n; i++) {
      if (ev[i].data.u32 == EP_SUB) w.sub_ready = 1;
      if (ev[i].data.u32 == EP_PUB) w.pub_ready = 1;
    }
  }
  weft__wk_settle_flush(&w);
  weft__wk_empty_trash(&w);
  if (w.work_root) rmdir(w.work_root); /* when no attempt folder is left in it */
  weft__wk_log(&w, "stopped after %lld step%s", (long long)w.steps_done, w.steps_done == 1 ? "" : "s");
done:
  if (w.id && w.sub) {
    w.state = "stopped";
    weft__wk_heartbeat(&w, 1);
  }
  weft_executor_free(w.x);
  weft_executor_free(w.xc);
  for (int i = 0; w.slots && i < w.n_slots; i++) slot_release(&w.slots[i]);
  weft_code_cache_close(w.code);
  json_decref(w.started);
  json_decref(w.trash);
  free(w.live);
  free(w.settle);
  if (w.ep >= 0) close(w.ep);
  free(w.slots);
  weft_broker_close(w.sub);
  weft_broker_close(w.pub);
  weft_qsig_key_free(w.key);
  if (w.keyring) weft_secret_keyring_release(w.keyring);
  free(w.keyring);
  free(w.id);
  free(w.work_root);
  free(w.live_run);
  return rc;
}
