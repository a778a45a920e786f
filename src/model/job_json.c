/* job_json.c: machine-readable views of a valid job and of a checked run
 * config, shared by `weft job show|check-config --format json` and the HTTP API. */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/when_expr.h"

/* ---- walking a job --------------------------------------------------------- */

struct level_key {
  int level;
  size_t index;
};

static int level_key_cmp(const void *a, const void *b) {
  const struct level_key *x = a, *y = b;
  if (x->level != y->level) return x->level < y->level ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

size_t *weft_job_level_order(const struct weft_job *job) {
  struct level_key *keys = calloc(job->n_ops ? job->n_ops : 1, sizeof *keys);
  size_t *order = calloc(job->n_ops ? job->n_ops : 1, sizeof *order);
  if (!keys || !order) {
    free(keys);
    free(order);
    return NULL;
  }
  for (size_t i = 0; i < job->n_ops; i++)
    keys[i] = (struct level_key){job->ops[i].level, i};
  qsort(keys, job->n_ops, sizeof *keys, level_key_cmp);
  for (size_t i = 0; i < job->n_ops; i++) order[i] = keys[i].index;
  free(keys);
  return order;
}

int weft_job_level_count(const struct weft_job *job) {
  int m = -1;
  for (size_t i = 0; i < job->n_ops; i++)
    if (job->ops[i].level > m) m = job->ops[i].level;
  return m + 1;
}

const struct weft_wire *weft_invocation_find_wire(const struct weft_invocation *inv,
                                                  const char *input) {
  for (size_t w = 0; w < inv->n_wires; w++)
    if (!strcmp(inv->wires[w].input, input)) return &inv->wires[w];
  return NULL;
}

/* ---- JSON pieces ------------------------------------------------------------- */

/* json_object_set_new that keeps going on NULL values so callers can check
 * for out-of-memory once, at the end. */
static int put(json_t *obj, const char *key, json_t *v) {
  return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *str_or_null(const char *s) {
  return s ? json_string(s) : json_null();
}

json_t *weft_kvs_to_json(const struct weft_kvs *kvs) {
  json_t *o = json_object();
  for (size_t i = 0; o && i < kvs->n; i++)
    if (put(o, kvs->v[i].key, json_string(kvs->v[i].value))) {
      json_decref(o);
      return NULL;
    }
  return o;
}

static json_t *copy_or_null(const json_t *v) {
  return v ? json_deep_copy(v) : json_null();
}

static json_t *inputs_json(const struct weft_invocation *inv) {
  const struct weft_op_def *d = inv->def;
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < d->n_inputs; i++) {
    const struct weft_port *p = &d->inputs[i];
    const struct weft_wire *w = weft_invocation_find_wire(inv, p->name);
    json_t *o = json_object(), *from = json_null();
    if (w) from = json_pack("{s:s, s:s}", "op", w->from_op, "output",
                            w->from_output);
    int bad = !o || put(o, "name", json_string(p->name)) ||
              put(o, "type", json_string(weft_type_name(p->type))) ||
              put(o, "description", str_or_null(p->description)) ||
              put(o, "default", copy_or_null(p->default_value)) ||
              put(o, "from", from) || json_array_append_new(arr, o);
    if (bad) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

static json_t *outputs_json(const struct weft_op_def *d) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < d->n_outputs; i++) {
    const struct weft_port *p = &d->outputs[i];
    json_t *o = json_object();
    int bad = !o || put(o, "name", json_string(p->name)) ||
              put(o, "type", json_string(weft_type_name(p->type))) ||
              put(o, "description", str_or_null(p->description)) ||
              put(o, "optional", json_boolean(p->optional)) ||
              json_array_append_new(arr, o);
    if (bad) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

static json_t *config_json(const struct weft_invocation *inv) {
  const struct weft_op_def *d = inv->def;
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < d->n_config; i++) {
    const struct weft_config_field *f = &d->config[i];
    const json_t *fixed = inv->config ? json_object_get(inv->config, f->name)
                                      : NULL;
    json_t *o = json_object();
    int bad = !o || put(o, "name", json_string(f->name)) ||
              put(o, "type", json_string(weft_type_name(f->type))) ||
              put(o, "required", json_boolean(f->required)) ||
              put(o, "default", copy_or_null(f->default_value)) ||
              put(o, "value", copy_or_null(fixed)) ||
              put(o, "enum", copy_or_null(f->enum_values)) ||
              put(o, "description", str_or_null(f->description)) ||
              json_array_append_new(arr, o);
    if (bad) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

static json_t *runs_json(const struct weft_op_def *d, json_t *o) {
  if (d->run) return put(o, "run", json_string(d->run)) ? NULL : o;
  if (d->c_function)
    return put(o, "c_function", json_string(d->c_function)) ? NULL : o;
  json_t *argv = json_array();
  for (size_t i = 0; argv && d->argv && d->argv[i]; i++)
    if (json_array_append_new(argv, json_string(d->argv[i]))) {
      json_decref(argv);
      return NULL;
    }
  return put(o, "argv", argv) ? NULL : o;
}

static json_t *upstream_json(const struct weft_job *job,
                             const struct weft_invocation *inv) {
  json_t *up = json_array();
  for (size_t i = 0; up && i < inv->n_upstream; i++)
    if (json_array_append_new(up, json_string(job->ops[inv->upstream[i]].name))) {
      json_decref(up);
      return NULL;
    }
  return up;
}

static json_t *invocation_json(const struct weft_job *job,
                               const struct weft_invocation *inv) {
  const struct weft_op_def *d = inv->def;
  json_t *o = json_object();
  int bad = !o || put(o, "name", json_string(inv->name)) ||
            put(o, "uses", json_string(inv->uses)) ||
            put(o, "level", json_integer(inv->level)) ||
            put(o, "description", str_or_null(d->description)) ||
            put(o, "inputs", inputs_json(inv)) ||
            put(o, "outputs", outputs_json(d)) ||
            put(o, "config", config_json(inv)) ||
            put(o, "upstream", upstream_json(job, inv)) || !runs_json(d, o) ||
            put(o, "when", str_or_null(inv->when ? inv->when->text : NULL)) ||
            put(o, "trigger", json_string(weft_trigger_name(inv->trigger))) ||
            put(o, "retries",
                json_pack("{s:i, s:f, s:f, s:f}", "max", d->retry.max, "delay",
                          d->retry.delay_s, "backoff", d->retry.backoff,
                          "jitter", d->retry.jitter)) ||
            put(o, "timeout", json_real(d->timeout_s)) ||
            put(o, "isolated", json_boolean(d->isolated)) ||
            (d->steps_per_child > 0 &&
             put(o, "steps_per_child", json_integer(d->steps_per_child))) ||
            put(o, "queue", str_or_null(d->queue)) ||
            put(o, "image", str_or_null(d->image)) ||
            put(o, "env", weft_kvs_to_json(&d->env)) ||
            put(o, "env_from", weft_kvs_to_json(&d->env_from)) ||
            put(o, "env_secret", weft_kvs_to_json(&d->env_secret)) ||
            put(o, "env_variable", weft_kvs_to_json(&d->env_variable)) ||
            put(o, "secret_files", weft_kvs_to_json(&d->secret_files)) ||
            put(o, "tags", weft_kvs_to_json(&d->tags));
  if (!bad && inv->mapped) {
    const struct weft_wire *mw = &inv->wires[inv->map_wire];
    bad = put(o, "map", json_pack("{s:s, s:s, s:s, s:I, s:b}", "input", mw->input, "from",
                                  mw->from_op, "output", mw->from_output, "max_items",
                                  (json_int_t)(inv->max_items ? inv->max_items
                                                              : WEFT_MAP_MAX_ITEMS),
                                  "nested", inv->map_nested));
  }
  const struct weft_resources *r = &d->resources;
  if (!bad && (r->cpus > 0 || r->memory > 0 || r->shm > 0 || r->gpus)) {
    json_t *res = json_object();
    bad = !res || (r->cpus > 0 && put(res, "cpus", json_real(r->cpus))) ||
          (r->memory > 0 && put(res, "memory", json_integer(r->memory))) ||
          (r->shm > 0 && put(res, "shm", json_integer(r->shm))) ||
          (r->gpus && put(res, "gpus", json_string(r->gpus))) || put(o, "resources", res);
  }
  if (!bad && d->n_mounts) {
    json_t *ms = json_array();
    for (size_t i = 0; ms && i < d->n_mounts; i++)
      json_array_append_new(ms, json_pack("{s:s, s:s, s:b}", "source", d->mounts[i].source,
                                          "target", d->mounts[i].target, "read_only",
                                          d->mounts[i].read_only));
    bad = put(o, "mounts", ms);
  }
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *edges_json(const struct weft_job *job, const size_t *order) {
  json_t *arr = json_array();
  for (size_t k = 0; arr && k < job->n_ops; k++) {
    const struct weft_invocation *inv = &job->ops[order[k]];
    for (size_t w = 0; w < inv->n_wires; w++) {
      const struct weft_wire *wi = &inv->wires[w];
      json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "from", wi->from_op,
                            "output", wi->from_output, "to", inv->name,
                            "input", wi->input);
      if (!e || json_array_append_new(arr, e)) {
        json_decref(arr);
        return NULL;
      }
    }
  }
  return arr;
}

/* ---- the documents ------------------------------------------------------------ */

json_t *weft_job_to_json(const struct weft_job *job) {
  size_t *order = weft_job_level_order(job);
  json_t *doc = json_object(), *ops = json_array();
  if (!order || !doc || !ops) goto fail;
  if (put(doc, "job", json_string(job->name)) ||
      put(doc, "location",
          str_or_null(job->location ? job->location->name : NULL)) ||
      put(doc, "file", str_or_null(job->mark.file)) ||
      put(doc, "description", str_or_null(job->description)) ||
      put(doc, "tags", weft_kvs_to_json(&job->tags)) ||
      put(doc, "levels", json_integer(weft_job_level_count(job))))
    goto fail;
  for (size_t k = 0; k < job->n_ops; k++)
    if (json_array_append_new(ops, invocation_json(job, &job->ops[order[k]])))
      goto fail;
  if (json_object_set(doc, "ops", ops) ||
      put(doc, "edges", edges_json(job, order)))
    goto fail;
  json_decref(ops);
  free(order);
  return doc;
fail:
  json_decref(ops);
  json_decref(doc);
  free(order);
  return NULL;
}

json_t *weft_run_config_to_json(const struct weft_job *job,
                                const struct weft_run_config *rc) {
  json_t *execution =
      rc->executor == WEFT_EXECUTOR_IN_PROCESS
          ? json_pack("{s:{}}", "in_process")
      : rc->executor == WEFT_EXECUTOR_QUEUE
          ? json_pack("{s:{s:i}}", "queue", "max_concurrent", rc->max_concurrent)
          : json_pack("{s:{s:i}}", "multiprocess", "max_concurrent",
                      rc->max_concurrent);
  json_t *ops = rc->ops ? json_incref(rc->ops) : json_object();
  json_t *tags = rc->tags ? json_incref(rc->tags) : json_object();
  if (!execution || !ops || !tags) {
    json_decref(execution);
    json_decref(ops);
    json_decref(tags);
    return NULL;
  }
  /* "o" hands the three references to the document, even on failure. */
  return json_pack("{s:s, s:o, s:o, s:o}", "job", job->name, "ops", ops,
                   "execution", execution, "tags", tags);
}

/* {"config": {...}, "inputs": {...}} of one invocation, or NULL when there
 * is nothing to fill in (the entry is then left out). Sets *oom on failure. */
static json_t *default_entry(const struct weft_invocation *inv, int *oom) {
  const struct weft_op_def *d = inv->def;
  json_t *config = json_object(), *inputs = json_object(), *entry = NULL;
  if (!config || !inputs) goto fail;
  for (size_t i = 0; i < d->n_config; i++) {
    const struct weft_config_field *f = &d->config[i];
    const json_t *fixed = inv->config ? json_object_get(inv->config, f->name) : NULL;
    const json_t *v = fixed ? fixed : f->default_value;
    /* A required field without a default gets a null to replace; an
     * optional one without a default is left out (null would not check). */
    if (!v && !f->required) continue;
    if (put(config, f->name, v ? json_deep_copy(v) : json_null())) goto fail;
  }
  for (size_t i = 0; i < d->n_inputs; i++) {
    const struct weft_port *p = &d->inputs[i];
    if (weft_invocation_find_wire(inv, p->name)) continue;
    if (put(inputs, p->name,
            p->default_value ? json_deep_copy(p->default_value) : json_null()))
      goto fail;
  }
  if (!json_object_size(config) && !json_object_size(inputs)) {
    json_decref(config);
    json_decref(inputs);
    return NULL;
  }
  if (!(entry = json_object())) goto fail;
  if ((json_object_size(config) && json_object_set(entry, "config", config)) ||
      (json_object_size(inputs) && json_object_set(entry, "inputs", inputs)))
    goto fail;
  json_decref(config);
  json_decref(inputs);
  return entry;
fail:
  *oom = 1;
  json_decref(entry);
  json_decref(config);
  json_decref(inputs);
  return NULL;
}

json_t *weft_job_default_run_config(const struct weft_job *job) {
  json_t *ops = json_object();
  int oom = !ops;
  for (size_t i = 0; !oom && i < job->n_ops; i++) {
    json_t *entry = default_entry(&job->ops[i], &oom);
    if (entry && put(ops, job->ops[i].name, entry)) oom = 1;
  }
  if (oom) {
    json_decref(ops);
    return NULL;
  }
  return json_pack("{s:o}", "ops", ops);
}
