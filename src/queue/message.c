/* message.c: the op definition inside a step message (queue_int.h), written by
 * the coordinator and rebuilt by the worker into a struct weft_op_def. */
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "queue/queue_int.h"
#include "util/str.h"

static json_t *ports_to_json(const struct weft_port *p, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    json_t *e = json_pack("{s:s, s:s}", "name", p[i].name, "type", weft_type_name(p[i].type));
    /* An optional output (model.h): the worker's executor lets it go
     * unwritten; the key is absent otherwise, as older workers expect. */
    if (e && p[i].optional) json_object_set_new(e, "optional", json_true());
    if (json_array_append_new(a, e)) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

json_t *weft__qmsg_op_to_json(const struct weft_op_def *def) {
  json_t *o = json_pack("{s:s, s:o, s:o, s:f, s:o, s:s}", "name", def->name, "inputs",
                        ports_to_json(def->inputs, def->n_inputs), "outputs",
                        ports_to_json(def->outputs, def->n_outputs), "timeout_s",
                        def->timeout_s, "env", weft_kvs_to_json(&def->env), "queue",
                        def->queue ? def->queue : "default");
  if (!o) return NULL;
  json_t *tags = weft_kvs_to_json(&def->tags);
  if (tags) json_object_set_new(o, "tags", tags);
  if (def->isolated) json_object_set_new(o, "isolated", json_true()); /* absent: pooled */
  if (def->steps_per_child > 0) /* absent: the worker's default */
    json_object_set_new(o, "steps_per_child", json_integer(def->steps_per_child));
  /* Names only: the worker reads the values from its own environment. */
  if (def->env_from.n) json_object_set_new(o, "env_from", weft_kvs_to_json(&def->env_from));
  /* Secrets and variables by name: the worker reads them from storage with
   * its own key (engine/secrets.h); no value crosses the broker. */
  if (def->env_secret.n) json_object_set_new(o, "env_secret", weft_kvs_to_json(&def->env_secret));
  if (def->env_variable.n)
    json_object_set_new(o, "env_variable", weft_kvs_to_json(&def->env_variable));
  if (def->secret_files.n)
    json_object_set_new(o, "secret_files", weft_kvs_to_json(&def->secret_files));
  if (def->run) {
    json_object_set_new(o, "run", json_string(def->run));
  } else if (def->argv) {
    json_t *a = json_array();
    for (char **p = def->argv; a && *p; p++) json_array_append_new(a, json_string(*p));
    json_object_set_new(o, "argv", a);
  }
  /* A C-function op runs in-process on a worker that registered it
   * (weft_register_c_op, then weft_main: a worker binary of your own). */
  if (def->c_function) json_object_set_new(o, "c_function", json_string(def->c_function));
  /* A container step's limits (the image itself is the step's: its run
   * config or location may choose it, so it travels in the message). */
  const struct weft_resources *r = &def->resources;
  if (r->cpus > 0 || r->memory > 0 || r->shm > 0 || r->gpus)
    json_object_set_new(o, "resources", json_pack("{s:f, s:I, s:I, s:s?}", "cpus", r->cpus,
                                                  "memory", (json_int_t)r->memory, "shm",
                                                  (json_int_t)r->shm, "gpus", r->gpus));
  if (def->n_mounts) {
    json_t *ms = json_array();
    for (size_t i = 0; ms && i < def->n_mounts; i++)
      json_array_append_new(ms, json_pack("{s:s, s:s, s:b}", "source", def->mounts[i].source,
                                          "target", def->mounts[i].target, "read_only",
                                          def->mounts[i].read_only));
    json_object_set_new(o, "mounts", ms);
  }
  return o;
}

void weft__qmsg_kvs_release(struct weft_kvs *k) { weft__kvs_release(k); }

int weft__qmsg_kvs_from_json(const json_t *o, const char *what, struct weft_kvs *out,
                             weft_error *err) {
  memset(out, 0, sizeof *out);
  if (!o || json_is_null(o)) return WEFT_OK;
  if (!json_is_object(o)) return weft_error_set(err, WEFT_EINVALID, "'%s' is not an object", what);
  size_t n = json_object_size(o);
  if (!n) return WEFT_OK;
  if (!(out->v = calloc(n, sizeof *out->v))) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)o, k, v) {
    if (!json_is_string(v)) {
      weft__kvs_release(out);
      return weft_error_set(err, WEFT_EINVALID, "'%s.%s' is not a string", what, k);
    }
    struct weft_kv *kv = &out->v[out->n++];
    kv->key = weft_str_dup(k);
    kv->value = weft_str_dup(json_string_value(v));
    if (!kv->key || !kv->value) {
      weft__kvs_release(out);
      return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
  }
  return WEFT_OK;
}

static int ports_from_json(const json_t *a, const char *what, struct weft_port **out, size_t *n,
                           weft_error *err) {
  *out = NULL;
  *n = 0;
  if (!a || json_is_null(a)) return WEFT_OK;
  if (!json_is_array(a)) return weft_error_set(err, WEFT_EINVALID, "'op.%s' is not a list", what);
  size_t len = json_array_size(a);
  if (!len) return WEFT_OK;
  struct weft_port *p = calloc(len, sizeof *p);
  if (!p) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  *out = p;
  for (size_t i = 0; i < len; i++) {
    json_t *e = json_array_get(a, i);
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *type = json_string_value(json_object_get(e, "type"));
    if (!name || !*name || !type || weft_type_parse(type, &p[i].type))
      return weft_error_set(err, WEFT_EINVALID, "'op.%s[%zu]' needs a name and a known type",
                            what, i);
    if (!(p[i].name = weft_str_dup(name))) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    p[i].optional = json_is_true(json_object_get(e, "optional"));
    (*n)++;
  }
  return WEFT_OK;
}

void weft__qmsg_op_free(struct weft_op_def *def) {
  if (!def) return;
  weft__op_def_release(def);
  free(def);
}

int weft__qmsg_op_from_json(const json_t *op, struct weft_op_def **out, weft_error *err) {
  *out = NULL;
  if (!json_is_object(op)) return weft_error_set(err, WEFT_EINVALID, "'op' is missing or not an object");
  struct weft_op_def *d = calloc(1, sizeof *d);
  if (!d) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = WEFT_OK;
  const char *name = json_string_value(json_object_get(op, "name"));
  json_t *run = json_object_get(op, "run"), *argv = json_object_get(op, "argv");
  json_t *cfn = json_object_get(op, "c_function");
  json_t *timeout = json_object_get(op, "timeout_s");
  if (!name || !*name) {
    rc = weft_error_set(err, WEFT_EINVALID, "'op.name' is missing");
    goto fail;
  }
  if (!(d->name = weft_str_dup(name))) goto nomem;
  if (json_is_string(run)) {
    if (!(d->run = weft_str_dup(json_string_value(run)))) goto nomem;
  } else if (json_is_array(argv) && json_array_size(argv)) {
    size_t n = json_array_size(argv);
    if (!(d->argv = calloc(n + 1, sizeof *d->argv))) goto nomem;
    for (size_t i = 0; i < n; i++) {
      const char *s = json_string_value(json_array_get(argv, i));
      if (!s) {
        rc = weft_error_set(err, WEFT_EINVALID, "'op.argv[%zu]' is not a string", i);
        goto fail;
      }
      if (!(d->argv[i] = weft_str_dup(s))) goto nomem;
    }
  } else if (json_is_string(cfn) && *json_string_value(cfn)) {
    if (!(d->c_function = weft_str_dup(json_string_value(cfn)))) goto nomem;
  } else {
    rc = weft_error_set(err, WEFT_EINVALID, "'op' has neither 'run', 'argv' nor 'c_function'");
    goto fail;
  }
  if (timeout && !json_is_number(timeout)) {
    rc = weft_error_set(err, WEFT_EINVALID, "'op.timeout_s' is not a number");
    goto fail;
  }
  d->timeout_s = timeout ? json_number_value(timeout) : 0;
  d->isolated = json_is_true(json_object_get(op, "isolated"));
  json_int_t spc = json_integer_value(json_object_get(op, "steps_per_child"));
  d->steps_per_child = spc > 0 && spc <= 1000000 ? (int)spc : 0;
  json_t *res = json_object_get(op, "resources");
  d->resources.cpus = json_number_value(json_object_get(res, "cpus"));
  d->resources.memory = (int64_t)json_integer_value(json_object_get(res, "memory"));
  d->resources.shm = (int64_t)json_integer_value(json_object_get(res, "shm"));
  const char *gpus = json_string_value(json_object_get(res, "gpus"));
  if (gpus && !(d->resources.gpus = weft_str_dup(gpus))) goto nomem;
  json_t *mounts = json_object_get(op, "mounts"), *m;
  size_t mi;
  if (json_array_size(mounts) && !(d->mounts = calloc(json_array_size(mounts), sizeof *d->mounts)))
    goto nomem;
  json_array_foreach(mounts, mi, m) {
    const char *src = json_string_value(json_object_get(m, "source"));
    const char *dst = json_string_value(json_object_get(m, "target"));
    if (!src || !dst) {
      rc = weft_error_set(err, WEFT_EINVALID, "'op.mounts[%zu]' needs a source and a target", mi);
      goto fail;
    }
    struct weft_mount *to = &d->mounts[d->n_mounts++];
    to->read_only = json_is_true(json_object_get(m, "read_only"));
    if (!(to->source = weft_str_dup(src)) || !(to->target = weft_str_dup(dst))) goto nomem;
  }
  const char *queue = json_string_value(json_object_get(op, "queue"));
  if (queue && !(d->queue = weft_str_dup(queue))) goto nomem;
  if ((rc = ports_from_json(json_object_get(op, "inputs"), "inputs", &d->inputs, &d->n_inputs,
                            err)) ||
      (rc = ports_from_json(json_object_get(op, "outputs"), "outputs", &d->outputs,
                            &d->n_outputs, err)) ||
      (rc = weft__qmsg_kvs_from_json(json_object_get(op, "env"), "op.env", &d->env, err)) ||
      (rc = weft__qmsg_kvs_from_json(json_object_get(op, "tags"), "op.tags", &d->tags, err)) ||
      (rc = weft__qmsg_kvs_from_json(json_object_get(op, "env_from"), "op.env_from",
                                     &d->env_from, err)) ||
      (rc = weft__qmsg_kvs_from_json(json_object_get(op, "env_secret"), "op.env_secret",
                                     &d->env_secret, err)) ||
      (rc = weft__qmsg_kvs_from_json(json_object_get(op, "env_variable"), "op.env_variable",
                                     &d->env_variable, err)) ||
      (rc = weft__qmsg_kvs_from_json(json_object_get(op, "secret_files"), "op.secret_files",
                                     &d->secret_files, err)))
    goto fail;
  *out = d;
  return WEFT_OK;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
fail:
  weft__qmsg_op_free(d);
  return rc;
}

char *weft__qmsg_result_key(const char *attempt_id) {
  return weft_str_printf("attempt/%s", attempt_id);
}
