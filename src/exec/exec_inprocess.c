/* exec_inprocess.c: the "in_process" executor: one step at a time; C-function
 * ops run inside this process, process ops go to a one-slot multiprocess.
 *
 *   IDLE --ip_start (c_function)--> C_PENDING --ip_wait (runs it)--> IDLE
 *   IDLE --ip_start (run/argv)--> inner multiprocess executor --ip_wait--> IDLE
 *
 * The inner executor (and its epoll fd) is made by the first process op:
 * a loop holds thousands of runs of C ops, most never start a process.
 *
 * A C function cannot be interrupted: its timeout is not enforced, and a
 * cancel only takes effect if it comes before wait() runs the function.
 *
 * With a pool (weft_executor_use_c_pool, c_pool.h: a coordinator loop of
 * many runs) start() hands the C function to the pool's threads and wait()
 * returns its result once it is done, never blocking:
 *
 *   IDLE --ip_start (c_function)--> C_TASK (queued, then running on the pool)
 *   C_TASK --ip_wait (task DONE)--> IDLE       events, then the result
 *   C_TASK --ip_wait (canceled / past its timeout)--> IDLE
 *          reported canceled / timed out at once; the task is forgotten:
 *          a queued one never runs, a running one runs on, unheard */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/c_pool.h"
#include "exec/exec_int.h"
#include "util/clock.h"

struct c_pending {
  int active;
  void *user;
  char *op_name, *c_function;
  weft_op_fn fn; /* NULL when c_function is not registered */
  void *userdata;
  char *config_json, *inputs_json, *cwd;
  struct weft__work_paths paths;
  struct weft__port_decls inputs, outputs;
  char *cancel_reason;
  struct weft_output_store ostore; /* put NULL: none */
  char *okey_prefix;               /* ostore's key prefix, copied */
};

/* A C function handed to the pool: the task owns its own copy of what the
 * function reads (c), and what it produced until wait() takes it. */
struct ip_task {
  struct weft__c_task base; /* first: the pool's view */
  struct c_pending c;
  struct weft_executor_callbacks buffer; /* the function's events: into events */
  json_t *events;
  struct weft_step_result res;
  int rc;
};

struct ip_executor {
  struct weft_executor base;
  struct weft_executor_callbacks cb;
  struct weft_executor *procs; /* one-slot multiprocess for run/argv ops, or NULL */
  struct c_pending c;
  struct weft_c_pool *pool;    /* NULL: C functions run inside wait() */
  void *wake;
  struct ip_task *task;        /* the C function on the pool, or NULL */
  int64_t task_deadline_ms;    /* monotonic; 0: no timeout */
  double task_timeout_s;
};

static void pending_clear(struct c_pending *c) {
  free(c->op_name);
  free(c->c_function);
  free(c->config_json);
  free(c->inputs_json);
  free(c->cwd);
  free(c->cancel_reason);
  free(c->okey_prefix);
  weft__work_paths_release(&c->paths);
  weft__port_decls_release(&c->inputs);
  weft__port_decls_release(&c->outputs);
  memset(c, 0, sizeof *c);
}

static void task_release(struct weft__c_task *base) {
  struct ip_task *t = (struct ip_task *)base;
  pending_clear(&t->c);
  json_decref(t->events);
  weft_step_result_release(&t->res);
  free(t);
}

/* On a pool thread: the events go to the task's buffer. */
static void buffer_event(void *cb_data, void *user, json_t *event) {
  (void)user;
  struct ip_task *t = cb_data;
  json_array_append(t->events, event);
}

/* The call of a pending step, its events going to cb (the loop's buffer
 * on a pool thread, the executor's own callbacks inline). */
static struct weft__c_call c_call_of(struct c_pending *c, const struct weft_executor_callbacks *cb) {
  return (struct weft__c_call){
      .op_name = c->op_name,
      .c_function = c->c_function,
      .fn = c->fn,
      .userdata = c->userdata,
      .config_json = c->config_json,
      .inputs_json = c->inputs_json,
      .inputs_dir = c->paths.inputs,
      .inputs = &c->inputs,
      .outputs = &c->outputs,
      .outputs_dir = c->paths.outputs,
      .cwd = c->cwd,
      .cb = cb,
      .user = c->user,
  };
}

/* On the pool thread: each output value the function set goes to the
 * spec's output store; res->stored says how each went. A task its
 * executor let go of stores nothing (its outputs are discarded). */
static void store_outputs(struct ip_task *t) {
  struct c_pending *c = &t->c;
  const char *name;
  json_t *value;
  if (!c->ostore.put || !t->res.ok || !t->res.outputs || weft__c_task_abandoned(&t->base))
    return;
  if (!(t->res.stored = json_object())) return; /* the caller stores them */
  json_object_foreach(t->res.outputs, name, value) {
    const struct weft__port_decl *d = weft__port_decls_find(&c->outputs, name);
    /* Left unwritten (an optional output, or the lone implicit result):
     * no artifact, as for a process's (engine/run_step.c). */
    if (d && weft__output_optional(&c->outputs, d) && json_is_null(value)) continue;
    weft_error e = WEFT_ERROR_INIT;
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    char *key = weft__strdupf("%s%s", c->okey_prefix, name);
    int rc = text && key ? c->ostore.put(c->ostore.ctx, key, text, strlen(text), &e)
                         : weft_error_set(&e, WEFT_ENOMEM, "out of memory");
    json_t *r = rc ? json_pack("{s:s}", "error", e.msg)
                   : json_pack("{s:I}", "bytes", (json_int_t)strlen(text));
    free(text);
    free(key);
    if (!r || json_object_set_new(t->res.stored, name, r)) {
      /* Unrecorded: the caller stores them all again, as without a store. */
      json_decref(t->res.stored);
      t->res.stored = NULL;
      return;
    }
  }
}

static void task_run(struct weft__c_task *base) {
  struct ip_task *t = (struct ip_task *)base;
  struct c_pending *c = &t->c;
  struct weft__c_call call = c_call_of(c, &t->buffer);
  t->res.user = c->user;
  t->res.exit_code = -1;
  t->res.no_logs = 1; /* its logs are events: it writes no log file */
  t->res.started_ms = weft_clock_wall_ms();
  t->rc = weft__c_call_run(&call, &t->res);
  if (!t->rc) store_outputs(t);
  t->res.ended_ms = weft_clock_wall_ms();
  if (!t->rc && !t->res.ok && !t->res.message) t->rc = WEFT_ENOMEM;
}

/* x->c (complete, with a registered function) goes to the pool. */
static int submit_task(struct ip_executor *x, double timeout_s) {
  struct ip_task *t = calloc(1, sizeof *t);
  if (!t || !(t->events = json_array())) {
    free(t);
    return WEFT_ENOMEM;
  }
  t->base.run = task_run;
  t->base.release = task_release;
  t->base.wake = x->wake;
  t->c = x->c; /* the task owns the copies now */
  memset(&x->c, 0, sizeof x->c);
  x->c.active = 1;
  x->c.user = t->c.user;
  t->buffer = (struct weft_executor_callbacks){.on_event = buffer_event, .cb_data = t};
  x->task = t;
  x->task_timeout_s = timeout_s;
  x->task_deadline_ms =
      timeout_s > 0 ? weft_clock_mono_ms() + (int64_t)ceil(timeout_s * 1000) : 0;
  if (x->cb.on_started) x->cb.on_started(x->cb.cb_data, t->c.user, 0);
  weft__c_pool_submit(x->pool, &t->base);
  return WEFT_OK;
}

static void task_forget(struct ip_executor *x) {
  struct ip_task *t = x->task;
  x->task = NULL;
  pending_clear(&x->c);
  if (t && weft__c_pool_forget(x->pool, &t->base)) task_release(&t->base);
}

/* The task's result once it is done, or at once when it was canceled or
 * ran past its timeout. 1: *out is filled; 0: not yet; < 0: out of memory. */
static int task_wait(struct ip_executor *x, struct weft_step_result *out) {
  struct ip_task *t = x->task;
  if (weft__c_pool_collect(x->pool, &t->base)) {
    int rc = t->rc;
    for (size_t i = 0; x->cb.on_event && i < json_array_size(t->events); i++)
      x->cb.on_event(x->cb.cb_data, t->c.user, json_array_get(t->events, i));
    *out = t->res;
    memset(&t->res, 0, sizeof t->res);
    x->task = NULL;
    pending_clear(&x->c);
    task_release(&t->base);
    return rc ? rc : 1;
  }
  const char *why = x->c.cancel_reason;
  int timed_out = !why && x->task_deadline_ms && weft_clock_mono_ms() >= x->task_deadline_ms;
  if (!why && !timed_out) return 0;
  out->user = t->c.user;
  out->exit_code = -1;
  out->no_logs = 1;
  out->started_ms = out->ended_ms = weft_clock_wall_ms();
  if (timed_out) {
    out->timed_out = 1;
    out->message = weft__strdupf("timed out after %gs", x->task_timeout_s);
  } else {
    out->canceled = 1;
    out->message = weft__strdupf("canceled%s%s", why[0] ? ": " : "", why);
  }
  task_forget(x);
  return out->message ? 1 : WEFT_ENOMEM;
}

static size_t ip_running_count(struct weft_executor *base) {
  struct ip_executor *x = (struct ip_executor *)base;
  return (size_t)x->c.active + (x->procs ? weft_executor_running_count(x->procs) : 0);
}

static int ip_can_start_more(struct weft_executor *base) {
  return ip_running_count(base) == 0;
}

static char *dup_or_empty_object(const char *s) {
  return strdup(s ? s : "{}");
}

static int has_path_port(const struct weft_op_def *def) {
  for (size_t i = 0; i < def->n_inputs; i++)
    if (def->inputs[i].type == WEFT_TYPE_PATH) return 1;
  for (size_t i = 0; i < def->n_outputs; i++)
    if (def->outputs[i].type == WEFT_TYPE_PATH) return 1;
  return 0;
}

static int start_c_op(struct ip_executor *x, const struct weft_step_spec *spec,
                      weft_error *err) {
  struct c_pending *c = &x->c;
  const struct weft_op_def *def = spec->def;
  /* A C step gets its config and JSON inputs in memory and writes no
   * compute log: it needs a folder only for files, its `path` ports. */
  int rc = has_path_port(def) ? weft__work_prepare(spec, &c->paths, err)
                              : weft__work_paths_init(spec->work_dir, &c->paths, err);
  if (rc) return rc;
  c->user = spec->user;
  c->op_name = strdup(def->name ? def->name : spec->step);
  c->c_function = strdup(def->c_function);
  c->config_json = dup_or_empty_object(spec->config_json);
  c->inputs_json = dup_or_empty_object(spec->inputs_json);
  c->cwd = spec->cwd ? strdup(spec->cwd) : NULL;
  /* Only a pool thread stores them: inline, the caller does. */
  if (x->pool && spec->output_store && spec->output_store->put) {
    c->ostore = *spec->output_store;
    c->okey_prefix = strdup(spec->output_store->key_prefix ? spec->output_store->key_prefix : "");
    c->ostore.key_prefix = NULL;
  }
  if (!c->op_name || !c->c_function || !c->config_json || !c->inputs_json ||
      (spec->cwd && !c->cwd) || (c->ostore.put && !c->okey_prefix) ||
      weft__port_decls_copy(def->inputs, def->n_inputs, &c->inputs) ||
      weft__port_decls_copy(def->outputs, def->n_outputs, &c->outputs)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if (!weft__c_op_lookup(def->c_function, &c->fn, &c->userdata)) c->fn = NULL;
  c->active = 1;
  /* Unregistered: its failure is reported by the next wait(), no thread. */
  if (x->pool && c->fn && (rc = submit_task(x, def->timeout_s))) {
    rc = weft_error_set(err, rc, "out of memory");
    goto fail;
  }
  return WEFT_OK;
fail:
  pending_clear(c);
  return rc;
}

static int ip_start(struct weft_executor *base, const struct weft_step_spec *spec,
                    weft_error *err) {
  struct ip_executor *x = (struct ip_executor *)base;
  if (!spec || !spec->def || !spec->step || !spec->work_dir)
    return weft_error_set(err, WEFT_EINVALID,
                          "step spec needs def, step and work_dir");
  if (!ip_can_start_more(base))
    return weft_error_set(err, WEFT_ECONFLICT,
                          "the in_process executor runs one step at a time");
  const struct weft_op_def *def = spec->def;
  if (def->c_function && !def->run && !def->argv) return start_c_op(x, spec, err);
  if (!x->procs) {
    int rc = weft__multiprocess_new(1, &x->cb, &x->procs, err);
    if (rc) return rc;
  }
  return weft_executor_start(x->procs, spec, err);
}

static int run_c_op(struct ip_executor *x, struct weft_step_result *out) {
  struct c_pending *c = &x->c;
  int rc = WEFT_OK;
  out->user = c->user;
  out->exit_code = -1;
  out->no_logs = 1; /* its logs are events: it writes no log file */
  out->started_ms = weft_clock_wall_ms();
  if (c->cancel_reason) {
    out->canceled = 1;
    out->message = weft__strdupf("canceled%s%s", c->cancel_reason[0] ? ": " : "",
                                 c->cancel_reason);
  } else if (!c->fn) {
    out->message = weft__strdupf("C function '%s' is not registered", c->c_function);
  } else {
    if (x->cb.on_started) x->cb.on_started(x->cb.cb_data, c->user, 0);
    struct weft__c_call call = c_call_of(c, &x->cb);
    rc = weft__c_call_run(&call, out);
  }
  out->ended_ms = weft_clock_wall_ms();
  if (!out->ok && !out->message) rc = WEFT_ENOMEM;
  pending_clear(c);
  return rc;
}

static int ip_wait(struct weft_executor *base, int timeout_ms,
                   struct weft_step_result *out, weft_error *err) {
  struct ip_executor *x = (struct ip_executor *)base;
  memset(out, 0, sizeof *out);
  if (!x->c.active) {
    if (x->procs) return weft_executor_wait(x->procs, timeout_ms, out, err);
    /* Nothing ever started a process: as an idle multiprocess executor. */
    if (timeout_ms < 0) return weft_error_set(err, WEFT_ENOTFOUND, "no step is running");
    if (timeout_ms > 0) weft_clock_sleep_ms(timeout_ms);
    return 0;
  }
  if (x->task) {
    /* A loop of many runs looks (timeout 0); anyone else waits here. */
    int64_t end = timeout_ms > 0 ? weft_clock_mono_ms() + timeout_ms : 0;
    int got;
    while (!(got = task_wait(x, out)) &&
           (timeout_ms < 0 || (timeout_ms > 0 && weft_clock_mono_ms() < end)))
      weft_clock_sleep_ms(1);
    if (got < 0) {
      weft_step_result_release(out);
      return weft_error_set(err, got, "C function step: out of memory");
    }
    return got;
  }
  int rc = run_c_op(x, out);
  if (rc) {
    weft_step_result_release(out);
    return weft_error_set(err, rc, "C function step: out of memory");
  }
  return 1;
}

static void ip_cancel_all(struct weft_executor *base, const char *reason) {
  struct ip_executor *x = (struct ip_executor *)base;
  if (x->c.active && !x->c.cancel_reason)
    x->c.cancel_reason = strdup(reason ? reason : "");
  if (x->procs) weft_executor_cancel_all(x->procs, reason);
}

static int ip_cancel_one(struct weft_executor *base, void *user, const char *reason) {
  struct ip_executor *x = (struct ip_executor *)base;
  if (x->c.active && x->c.user == user) {
    if (!x->c.cancel_reason) x->c.cancel_reason = strdup(reason ? reason : "");
    return WEFT_OK;
  }
  return x->procs ? weft_executor_cancel_one(x->procs, user, reason) : WEFT_ENOTFOUND;
}

static void ip_free(struct weft_executor *base) {
  struct ip_executor *x = (struct ip_executor *)base;
  if (x->task) task_forget(x);
  pending_clear(&x->c);
  weft_executor_free(x->procs);
  free(x);
}

/* A C function waiting to run runs inside the next wait(): now. One on
 * the pool: when its timeout passes or it is canceled (its end is told by
 * the pool's fd, weft_c_pool_drain). */
static int ip_poll_fd(struct weft_executor *base, int *timeout_ms) {
  struct ip_executor *x = (struct ip_executor *)base;
  if (x->task) {
    if (x->c.cancel_reason) *timeout_ms = 0;
    if (x->task_deadline_ms) {
      int64_t left = x->task_deadline_ms - weft_clock_mono_ms();
      if (left < 0) left = 0;
      if (*timeout_ms < 0 || left < *timeout_ms) *timeout_ms = left > 1 << 30 ? 1 << 30 : (int)left;
    }
  } else if (x->c.active) {
    *timeout_ms = 0;
  }
  return x->procs ? weft_executor_poll_fd(x->procs, timeout_ms) : WEFT_EXECUTOR_NO_FD_YET;
}

static const struct weft_executor_methods ip_methods = {
    .name = "in_process",
    .can_start_more = ip_can_start_more,
    .start = ip_start,
    .wait = ip_wait,
    .cancel_all = ip_cancel_all,
    .cancel_one = ip_cancel_one,
    .running_count = ip_running_count,
    .free = ip_free,
    .poll_fd = ip_poll_fd,
};

int weft_executor_use_c_pool(struct weft_executor *base, struct weft_c_pool *p, void *wake) {
  if (!base || base->m != &ip_methods || !p) return WEFT_EINVALID;
  struct ip_executor *x = (struct ip_executor *)base;
  if (x->c.active) return WEFT_EINVALID;
  x->pool = p;
  x->wake = wake;
  return WEFT_OK;
}

int weft__in_process_new(const struct weft_executor_callbacks *cb,
                         struct weft_executor **out, weft_error *err) {
  *out = NULL;
  struct ip_executor *x = calloc(1, sizeof *x);
  if (!x) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  x->base.m = &ip_methods;
  if (cb) x->cb = *cb;
  *out = &x->base;
  return WEFT_OK;
}
