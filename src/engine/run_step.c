/* run_step.c: one step attempt seen from the coordinator: materialize its
 * inputs from the artifact store, start it, persist its outputs and logs. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine_int.h"
#include "engine/secrets.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

/* Values at most this large are copied into step_output events, so the CLI
 * and UI show them without opening the artifact. */
#define INLINE_VALUE_MAX 4096

/* weft_output_store.put: a C op's output stored on the loop's pool thread
 * that ran it (exec.h), so the loop's thread, which drives every run, does
 * not wait on the artifact store's folders and files. ctx: the instance,
 * which outlives the loop and its pool. */
static int put_output_on_pool(void *ctx, const char *key, const char *text, size_t len,
                              weft_error *err) {
  struct weft_instance *inst = ctx;
  return weft_artifacts_put_bytes(inst->artifacts, key, text, len, inst->runs_dir, err);
}

void coord_fail_unstarted(struct coord *c, size_t i, const char *message) {
  const char *name = c->plan.steps[i].name;
  c->started[i] = weft_clock_wall_ms();
  coord_step_row(c, i, WEFT_STEP_FAILED, 0, message);
  coord_event(c, name, "step_failed",
              json_pack("{s:i, s:I, s:s, s:i}", "attempt", c->plan.steps[i].attempt,
                        "duration_ms", (json_int_t)0, "message", message, "exit_code", -1));
  size_t n_skipped = 0;
  weft_plan_finish(&c->plan, i, WEFT_STEP_FAILED, c->scratch, &n_skipped);
  coord_record_skipped(c, c->scratch, n_skipped);
}

/* The inputs folder of a step, made at its first file: a C op whose
 * inputs are all JSON values gets none (four folders a step: run, step,
 * attempt, inputs, cost more than the rest of a short C step). */
struct inputs_dir {
  const char *path;
  int made;
};

static int inputs_dir_ready(struct inputs_dir *d, weft_error *err) {
  if (d->made) return WEFT_OK;
  int rc = weft_fs_mkdirs(d->path, err);
  d->made = !rc;
  return rc;
}

/* Places input `port` of step i, wired to an upstream output, into the
 * work folder: the artifact itself, or a JSON value in *inline_inputs (a
 * C op's JSON input whose upstream value is inline in its record: the
 * artifact holds the same JSON, and the C function reads it from
 * memory). */
static int materialize_wired(struct coord *c, size_t i, const struct weft_wire *w,
                             int inline_ok, struct inputs_dir *dir, json_t *inline_inputs,
                             weft_error *err) {
  const struct weft_plan_step *ps = &c->plan.steps[i];
  /* An item's mapped input: its value, or (chained) its source item's
   * output (run_map.c). */
  int map_in = ps->map_parent != (size_t)-1 && w == &ps->inv->wires[ps->inv->map_wire];
  if (map_in && ps->item) return json_object_set(inline_inputs, w->input, ps->item) ? WEFT_ENOMEM : 0;
  json_t *outs = c->outputs[map_in ? ps->map_src : w->from_index];
  json_t *o = outs ? json_object_get(outs, w->from_output) : NULL;
  /* Under a trigger rule other than all_success an upstream may have ended
   * without succeeding (or left an optional output unwritten): null. */
  if (!o && c->plan.steps[i].inv->trigger != WEFT_TRIGGER_ALL_SUCCESS)
    return json_object_set(inline_inputs, w->input, json_null()) ? WEFT_ENOMEM : 0;
  if (!o)
    return weft_error_set(err, WEFT_ENOTFOUND, "input '%s': upstream '%s' has no output '%s'",
                          w->input, w->from_op, w->from_output);
  const char *key = json_string_value(json_object_get(o, "key"));
  if (!key) return json_object_set(inline_inputs, w->input, json_null()) ? WEFT_ENOMEM : 0;
  json_t *value = json_object_get(o, "value");
  if (inline_ok && value)
    return json_object_set(inline_inputs, w->input, value) ? WEFT_ENOMEM : 0;
  int rc = inputs_dir_ready(dir, err);
  if (rc) return rc;
  char *dst = weft_fs_join(dir->path, w->input);
  if (!dst) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  rc = weft_artifacts_get(c->inst->artifacts, key, dst, err);
  if (rc) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    weft_error_set(err, rc, "input '%s' (from %s.%s): %s", w->input, w->from_op,
                   w->from_output, why);
  }
  free(dst);
  return rc;
}

/* Inputs from the run config: JSON values, except `path` inputs, whose value
 * names a file relative to the code location. */
static int materialize_configured(struct coord *c, const struct weft_port *port,
                                  json_t *value, struct inputs_dir *dir,
                                  json_t *inline_inputs, weft_error *err) {
  if (port->type != WEFT_TYPE_PATH)
    return json_object_set(inline_inputs, port->name, value) ? WEFT_ENOMEM : 0;
  const char *p = json_string_value(value);
  if (!p)
    return weft_error_set(err, WEFT_EINVALID, "input '%s' is a path: give a file name",
                          port->name);
  int rc = inputs_dir_ready(dir, err);
  if (rc) return rc;
  char *src = p[0] == '/' ? weft_str_dup(p) : weft_fs_join(c->job->location->path, p);
  char *dst = weft_fs_join(dir->path, port->name);
  rc = src && dst ? weft_fs_copy_file(src, dst, err)
                  : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  free(src);
  free(dst);
  return rc;
}

static int prepare_inputs(struct coord *c, size_t i, const char *dir, char **inputs_json,
                          weft_error *err) {
  const struct weft_invocation *inv = c->plan.steps[i].inv;
  const struct weft_op_def *def = inv->def;
  *inputs_json = NULL;
  if (!def->n_inputs) return WEFT_OK;
  char *path = weft_fs_join(dir, "inputs");
  struct inputs_dir in_dir = {.path = path};
  json_t *inline_inputs = json_object();
  json_t *configured = json_object_get(json_object_get(c->l->rc->ops, inv->name), "inputs");
  int rc = path && inline_inputs ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  /* A process op reads its inputs from the folder, whatever they are. */
  if (!rc && !def->c_function) rc = inputs_dir_ready(&in_dir, err);
  for (size_t p = 0; !rc && p < def->n_inputs; p++) {
    const struct weft_port *port = &def->inputs[p];
    const struct weft_wire *w = NULL;
    for (size_t k = 0; k < inv->n_wires; k++)
      if (!strcmp(inv->wires[k].input, port->name)) w = &inv->wires[k];
    json_t *v = json_object_get(configured, port->name);
    int inline_ok = def->c_function && port->type != WEFT_TYPE_PATH;
    if (w)
      rc = materialize_wired(c, i, w, inline_ok, &in_dir, inline_inputs, err);
    else if (v)
      rc = materialize_configured(c, port, v, &in_dir, inline_inputs, err);
    else
      rc = weft_error_set(err, WEFT_EINVALID, "input '%s' has no value", port->name);
  }
  if (!rc && json_object_size(inline_inputs) &&
      !(*inputs_json = json_dumps(inline_inputs, JSON_COMPACT | JSON_ENCODE_ANY)))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  json_decref(inline_inputs);
  free(path);
  return rc;
}

/* The secrets and variables def names, read now (a value changed since the
 * launch is the new one) with the instance's key, loaded once per run. */
static int step_secrets(struct coord *c, const struct weft_op_def *def,
                        struct weft_step_secrets *out, weft_error *err) {
  if (weft_secrets_op_uses(def) && !c->keyring) {
    struct weft_secret_keyring *kr = calloc(1, sizeof *kr);
    if (!kr) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    int rc = weft_secret_keyring_load(c->inst->secret_key_file, 0, kr, err);
    if (rc) {
      free(kr);
      return rc;
    }
    c->keyring = kr;
  }
  return weft_secrets_resolve_step(c->inst->store, c->keyring, def, c->mask, out, err);
}

void coord_start_step(struct coord *c, size_t i) {
  struct weft_plan_step *ps = &c->plan.steps[i];
  const struct weft_invocation *inv = ps->inv;
  weft_error e = {0};
  char *inputs_json = NULL, *config_json = NULL;
  free(c->dirs[i]);
  c->dirs[i] = weft_instance_step_dir(c->inst, c->run.id, ps->name, ps->attempt);
  free(c->workers[i]); /* a queue worker reports itself again (engine.h) */
  c->workers[i] = NULL;
  coord_reset_live_logs(c, i);
  c->started[i] = weft_clock_wall_ms();
  int rc = c->dirs[i] ? 0 : weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  /* Each attempt gets a fresh folder: an earlier start's outputs must not
   * count. The executor creates it when the step needs one (exec.h): a step
   * on a queue worker, or a C step without files, costs no folder here.
   * Only an adopted run can find it there already (this attempt may have
   * started under the coordinator that died): elsewhere each attempt of a
   * step starts once, so a fresh run pays no look (an access() a step). */
  if (!rc && c->adopted && weft_fs_exists(c->dirs[i]))
    rc = weft_fs_remove_tree(c->dirs[i], &e);
  if (!rc) rc = prepare_inputs(c, i, c->dirs[i], &inputs_json, &e);
  json_t *cfg = json_object_get(json_object_get(c->l->rc->ops, inv->name), "config");
  if (!rc && cfg && !(config_json = json_dumps(cfg, JSON_COMPACT)))
    rc = weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  /* The registry's per-location settings (engine/locreg.h): a relative
   * workdir is taken from the location folder. */
  const struct weft_location *loc = c->job->location;
  char *venv_bin = NULL, *workdir = NULL;
  if (!rc && loc->python && !(venv_bin = weft_str_printf("%s/bin", loc->python)))
    rc = weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  if (!rc && loc->workdir &&
      !(workdir = loc->workdir[0] == '/' ? strdup(loc->workdir)
                                         : weft_fs_join(loc->path, loc->workdir)))
    rc = weft_error_set(&e, WEFT_ENOMEM, "out of memory");
  struct weft_step_container ctr;
  struct weft_step_secrets sec = {0};
  if (!rc) rc = coord_step_container(c, i, &ctr, &e);
  /* Every step's logs are masked with every value the run has given out
   * (an input may carry one), so sec.mask is the run's. */
  if (!rc) rc = step_secrets(c, inv->def, &sec, &e);
  if (!rc) {
    struct weft_step_spec spec = {0};
    spec.container = ctr.image ? &ctr : NULL;
    spec.run_id = c->run.id;
    spec.job = c->job->name;
    spec.step = ps->name;
    spec.attempt = ps->attempt;
    spec.def = inv->def;
    spec.cwd = workdir ? workdir : loc->path;
    spec.loc_env = &loc->env;
    spec.path_prefix = venv_bin;
    spec.work_dir = c->dirs[i];
    spec.config_json = config_json;
    spec.inputs_json = inputs_json;
    spec.user = (void *)(uintptr_t)(i + 1);
    spec.secrets = &sec;
    /* The executor copies it: a local is enough. */
    struct weft_output_store ostore = {put_output_on_pool, c->inst, NULL};
    char *okey = NULL;
    if (inv->def->c_function && weft_artifacts_thread_safe(c->inst->artifacts) &&
        (okey = weft_str_printf("%s/%s/", c->run.id, ps->name))) {
      ostore.key_prefix = okey;
      spec.output_store = &ostore;
    }
    /* A partitioned run (backfill, schedule): its tag weft/partition. */
    if (!c->run_tags && c->run.tags) c->run_tags = json_loads(c->run.tags, 0, NULL);
    spec.partition_key = json_string_value(json_object_get(c->run_tags, "weft/partition"));
    rc = weft_executor_start(c->x, &spec, &e);
    free(okey);
  }
  weft_step_secrets_release(&sec);
  free(venv_bin);
  free(workdir);
  free(inputs_json);
  free(config_json);
  if (rc) {
    char msg[sizeof e.msg + 32];
    snprintf(msg, sizeof msg, "could not start: %s", e.msg);
    coord_fail_unstarted(c, i, msg);
  }
}

/* A C function hands its outputs over in memory: they are stored as the
 * JSON text a process op's output file holds, so reading them is the same,
 * straight from memory (weft_artifacts_put_bytes): no file in the attempt's
 * folder (four folders a C step that nothing else uses) nor a scratch file
 * linked in and removed (perf: creating files was a quarter of a server's
 * CPU launching one-step C runs). */
static int put_c_output(struct coord *c, const char *key, json_t *value, json_t *stored,
                        int64_t *bytes, weft_error *err) {
  /* Stored already, on the loop's pool thread that ran it (below). */
  if (stored) {
    const char *why = json_string_value(json_object_get(stored, "error"));
    *bytes = (int64_t)json_integer_value(json_object_get(stored, "bytes"));
    return why ? weft_error_set(err, WEFT_EIO, "%s", why) : WEFT_OK;
  }
  char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  size_t len = strlen(text);
  int rc = weft_artifacts_put_bytes(c->inst->artifacts, key, text, len, c->inst->runs_dir, err);
  *bytes = (int64_t)len;
  free(text);
  return rc;
}

/* Persists every output file the op wrote and records where it went.
 * Fills c->outputs[i]. */
static int persist_outputs(struct coord *c, size_t i, const struct weft_step_result *res,
                           weft_error *err) {
  const struct weft_plan_step *ps = &c->plan.steps[i];
  const struct weft_op_def *def = ps->inv->def;
  json_t *outs = json_object();
  if (!outs) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = WEFT_OK;
  for (size_t k = 0; !rc && k < def->n_outputs; k++) {
    const struct weft_port *port = &def->outputs[k];
    char *file = weft_str_printf("%s/outputs/%s", c->dirs[i], port->name);
    char *key = weft_str_printf("%s/%s/%s", c->run.id, ps->name, port->name);
    struct stat sb;
    json_t *set = res->outputs ? json_object_get(res->outputs, port->name) : NULL;
    /* An optional output, or the lone implicit `result`, is unwritten when
     * the executor says null: a queue worker's comes back as a file holding
     * null (exec.h); it gets no artifact, whatever ran it. */
    int unwritten = weft_op_output_may_be_null(def, port) && set && json_is_null(set);
    /* A C function's outputs all come back in res->outputs, a `path` one
     * by its file: one missing there left no file either (no stat). */
    if (def->c_function && res->outputs && !set) unwritten = 1;
    int from_memory = !unwritten && def->c_function && set;
    int64_t bytes = 0;
    if (!file || !key) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    } else if (unwritten || (!from_memory && stat(file, &sb) != 0)) {
      /* Only the implicit `result` and optional outputs may go unwritten
       * (exec.h); the steps that need an optional one are skipped. */
      json_t *o = json_pack("{s:n, s:n}", "key", "value");
      json_object_set_new(outs, port->name, o);
      json_t *ev = json_pack("{s:i, s:s, s:s, s:n, s:I, s:n}", "attempt", ps->attempt, "output",
                             port->name, "type", weft_type_name(port->type), "key", "bytes",
                             (json_int_t)0, "value");
      if (ev && port->optional) json_object_set_new(ev, "written", json_false());
      coord_event(c, ps->name, "step_output", ev);
    } else if (!(rc = from_memory ? put_c_output(c, key, set,
                                                 res->stored ? json_object_get(res->stored,
                                                                               port->name)
                                                             : NULL,
                                                 &bytes, err)
                                  : weft_artifacts_put(c->inst->artifacts, key, file, err))) {
      if (!from_memory) bytes = (int64_t)sb.st_size;
      json_t *v = res->outputs ? json_object_get(res->outputs, port->name) : NULL;
      json_t *o = json_pack("{s:s}", "key", key);
      json_t *p = json_pack("{s:i, s:s, s:s, s:s, s:I}", "attempt", ps->attempt, "output",
                            port->name, "type", weft_type_name(port->type), "key", key,
                            "bytes", (json_int_t)bytes);
      if (v && port->type != WEFT_TYPE_PATH && bytes <= INLINE_VALUE_MAX) {
        json_object_set(p, "value", v);
        json_object_set(o, "value", v);
      }
      json_object_set_new(outs, port->name, o);
      coord_event(c, ps->name, "step_output", p);
    }
    if (rc) {
      char why[sizeof err->msg];
      snprintf(why, sizeof why, "%s", err->msg);
      weft_error_set(err, rc, "cannot persist output '%s': %s", port->name, why);
    }
    free(file);
    free(key);
  }
  if (rc) {
    json_decref(outs);
    return rc;
  }
  json_decref(c->outputs[i]);
  c->outputs[i] = outs;
  return WEFT_OK;
}

static json_t *finish_payload(struct coord *c, size_t i, const struct weft_step_result *res,
                              const char *message) {
  char *out = weft_str_printf("%s/stdout.log", c->dirs[i]);
  char *errp = weft_str_printf("%s/stderr.log", c->dirs[i]);
  struct stat so, se;
  json_int_t so_n = out && !res->no_logs && !stat(out, &so) ? (json_int_t)so.st_size : 0;
  json_int_t se_n = errp && !res->no_logs && !stat(errp, &se) ? (json_int_t)se.st_size : 0;
  json_t *p = json_pack("{s:i, s:I, s:s?, s:s?, s:I, s:I}", "attempt", c->plan.steps[i].attempt,
                        "duration_ms", (json_int_t)(res->ended_ms - res->started_ms), "stdout",
                        out, "stderr", errp, "stdout_bytes", so_n, "stderr_bytes", se_n);
  if (p && message) {
    json_object_set_new(p, "message", json_string(message));
    json_object_set_new(p, "exit_code", json_integer(res->exit_code));
  }
  if (p && res->image)
    json_object_set_new(p, "container", json_pack("{s:s?, s:s, s:s?}", "id", res->container_id,
                                                  "image", res->image, "digest",
                                                  res->image_digest));
  free(out);
  free(errp);
  return p;
}

static double random_unit(void) {
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) return 0.5;
  return (double)r / 4294967295.0;
}

/* delay * backoff^(attempt-1), moved by up to +-jitter of itself. */
static int64_t retry_delay_ms(const struct weft_retry_policy *rp, int attempt) {
  double d = rp->delay_s * pow(rp->backoff > 0 ? rp->backoff : 1, attempt - 1);
  if (rp->jitter > 0) d *= 1 + rp->jitter * (2 * random_unit() - 1);
  return d > 0 ? (int64_t)(d * 1000 + 0.5) : 0;
}

void coord_finish_step(struct coord *c, struct weft_step_result *res) {
  size_t i = (size_t)(uintptr_t)res->user - 1;
  struct weft_plan_step *ps = &c->plan.steps[i];
  const char *name = ps->name;
  weft_error e = {0};
  const char *message = res->message;
  char persist_msg[sizeof e.msg];
  if (res->lost) { /* a taken-over attempt (run_adopt.c) */
    coord_retry_lost(c, res);
    return;
  }
  if (res->ok) {
    if (!persist_outputs(c, i, res, &e)) {
      coord_step_row(c, i, WEFT_STEP_SUCCEEDED, res->pid, NULL);
      json_t *done = finish_payload(c, i, res, NULL);
      coord_upload_final_logs(c, i, done);
      coord_event(c, name, "step_succeeded", done);
      size_t n_skipped = 0;
      weft_plan_finish(&c->plan, i, WEFT_STEP_SUCCEEDED, c->scratch, &n_skipped);
      coord_record_skipped(c, c->scratch, n_skipped);
      return;
    }
    snprintf(persist_msg, sizeof persist_msg, "%s", e.msg);
    message = persist_msg;
  }
  if (!message) message = "failed";
  enum weft_step_status to;
  if (res->canceled || c->canceling)
    to = WEFT_STEP_CANCELED;
  else if (ps->attempt <= ps->inv->def->retry.max)
    to = WEFT_STEP_UP_FOR_RETRY;
  else
    to = WEFT_STEP_FAILED;
  json_t *p = finish_payload(c, i, res, message);
  coord_upload_final_logs(c, i, p);
  coord_step_row(c, i, to, res->pid, message);
  if (to == WEFT_STEP_UP_FOR_RETRY) {
    int64_t delay = retry_delay_ms(&ps->inv->def->retry, ps->attempt);
    json_object_set_new(p, "retry_in_ms", json_integer(delay));
    json_object_set_new(p, "max_retries", json_integer(ps->inv->def->retry.max));
    coord_event(c, name, "step_up_for_retry", p);
    weft_plan_finish(&c->plan, i, to, NULL, NULL);
    ps->retry_at_ms = weft_clock_mono_ms() + delay;
    c->retrying[c->n_retrying++] = i;
    return;
  }
  coord_event(c, name, to == WEFT_STEP_CANCELED ? "step_canceled" : "step_failed", p);
  size_t n_skipped = 0;
  weft_plan_finish(&c->plan, i, to, c->scratch, &n_skipped);
  coord_record_skipped(c, c->scratch, n_skipped);
}

/* ---- re-execution --------------------------------------------------------------- */

int coord_reuse_step(struct coord *c, size_t i, const char *parent_id, weft_error *err) {
  const char *name = c->plan.steps[i].name;
  if (!parent_id)
    return weft_error_set(err, WEFT_EINVALID, "step '%s' is not in the run and there is "
                          "no parent run to reuse its outputs from", name);
  struct weft_event_filter f = {0};
  f.run_id = parent_id;
  f.step = name;
  struct weft_event_list evs = {0};
  int rc = weft_store_event_read(c->inst->store, &f, &evs, err);
  if (rc) return rc;
  /* The outputs of the last successful attempt (or of the reuse record). */
  json_t *outs = json_object();
  json_t *pending = json_object();
  int succeeded = 0;
  for (size_t k = 0; k < evs.n && outs && pending; k++) {
    const struct weft_event_row *ev = &evs.v[k];
    if (!strcmp(ev->type, "step_output")) {
      json_t *p = json_loads(ev->payload, 0, NULL);
      const char *o = json_string_value(json_object_get(p, "output"));
      if (o) json_object_set(pending, o, p);
      json_decref(p);
    } else if (!strcmp(ev->type, "step_succeeded") || !strcmp(ev->type, "step_reused")) {
      succeeded = 1;
      json_object_update(outs, pending);
      json_object_clear(pending);
    } else if (!strcmp(ev->type, "step_started")) {
      json_object_clear(pending);
    }
  }
  weft_event_list_release(&evs);
  json_decref(pending);
  if (!outs) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!succeeded) {
    json_decref(outs);
    return weft_error_set(err, WEFT_EINVALID,
                          "step '%s' did not succeed in run %s, so it has no outputs to "
                          "reuse: re-execute it too", name, parent_id);
  }
  json_t *mine = json_object();
  const char *o;
  json_t *p;
  json_object_foreach(outs, o, p) {
    const char *from = json_string_value(json_object_get(p, "from_run"));
    json_t *copy = json_deep_copy(p);
    json_object_set_new(copy, "from_run", json_string(from ? from : parent_id));
    json_t *entry = json_pack("{s:O}", "key", json_object_get(p, "key"));
    if (json_object_get(p, "value")) json_object_set(entry, "value", json_object_get(p, "value"));
    json_object_set_new(mine, o, entry);
    coord_event(c, name, "step_output", copy);
  }
  json_decref(outs);
  json_decref(c->outputs[i]);
  c->outputs[i] = mine;
  c->started[i] = weft_clock_wall_ms();
  char msg[128];
  snprintf(msg, sizeof msg, "reused from run %s", parent_id);
  coord_step_row(c, i, WEFT_STEP_SUCCEEDED, 0, msg);
  coord_event(c, name, "step_reused", json_pack("{s:s}", "from_run", parent_id));
  return WEFT_OK;
}
