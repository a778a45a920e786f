/* run_config.c: checks a run config (YAML or JSON) against a job and fills in
 * defaults, so every op of the run gets complete config and inputs. */

/* Precedence, later wins: schema defaults, the job's static config, the run
 * config. */
#include <stdlib.h>
#include <string.h>

#include "containers/containers.h"
#include "dsl/dsl_int.h"
#include "util/str.h"

static const char *const top_keys[] = {"ops", "solids", "execution", "tags",
                                       NULL};
static const char *const op_entry_keys[] = {"config", "inputs", "image", "resources",
                                              "max_items", NULL};
static const char *const exec_keys[] = {"in_process", "multiprocess", "queue",
                                        "timeout",    "sla",          NULL};
static const char *const queue_keys[] = {"max_concurrent", "config", NULL};
static const char *const in_process_keys[] = {"config", NULL};
static const char *const multiprocess_keys[] = {"max_concurrent", "config",
                                                NULL};
static const char *const multiprocess_config_keys[] = {"max_concurrent", NULL};

#define MAX_HINTS 100

struct rc_build {
  const struct weft_job *job;
  struct weft_diags *d;
  const struct weft__ynode *ops_key; /* the `ops:` key node, or NULL */
  const struct weft__ynode **entry;  /* per invocation: its run-config value */
  const struct weft__ynode **entry_key;
  /* Per invocation: checked run-config values, NULL until it has one
   * (most ops of a big job have none: no two objects each). */
  json_t **config;
  json_t **inputs;
  /* {"config": {}, "inputs": {}}: the entry every op with nothing set
   * shares in out.ops (one object, not three an op). Readers only read;
   * one that changes an entry copies it first (reexec.c's pin). */
  json_t *empty_entry;
  int oom; /* a per-invocation object could not be made: the build fails */
  const char **names; /* invocation names, for hints */
  int hints_left;
  struct weft_run_config out;
};

/* *o, made when first needed; 0 when out of memory. */
static int made(json_t **o) {
  return *o || (*o = json_object()) != NULL;
}

static void check_inputs(struct rc_build *b, size_t i,
                         const struct weft__ynode *n) {
  const struct weft_invocation *inv = &b->job->ops[i];
  const struct weft_op_def *def = inv->def;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        b->d, n->mark,
        "ops.%s.inputs must be a mapping of input names to values, got %s",
        inv->name, weft__ynode_describe(n));
    return;
  }
  for (size_t k = 0; k < n->u.map.n; k++) {
    const struct weft__ynode *key = n->u.map.pairs[k].key,
                             *v = n->u.map.pairs[k].value;
    const char *name = key->u.scalar.text;
    const struct weft_port *port = weft_op_def_find_input(def, name);
    if (!def) continue; /* the job's own diagnostics cover an unknown op def */
    if (!port) {
      const char **cands = malloc((def->n_inputs + 1) * sizeof *cands);
      char h[160] = "";
      for (size_t p = 0; cands && p < def->n_inputs; p++)
        cands[p] = def->inputs[p].name;
      if (cands) weft__dsl_suggest(h, sizeof h, name, cands, def->n_inputs);
      free(cands);
      weft__dsl_error(b->d, key->mark, "op '%s' has no input '%s'%s", inv->name,
                      name, h);
      continue;
    }
    const struct weft_wire *wire = NULL;
    for (size_t w = 0; w < inv->n_wires; w++)
      if (!strcmp(inv->wires[w].input, name)) wire = &inv->wires[w];
    if (wire) {
      weft__dsl_error(
          b->d, key->mark,
          "input '%s' of op '%s' is wired to '%s.%s' in the job; it cannot "
          "also be set in the run config",
          name, inv->name, wire->from_op, wire->from_output);
      continue;
    }
    /* Dagster's spelling of an input value, {value: X}, for the types
     * whose values are never mappings (a dict or any input could mean
     * {value: X} itself). */
    if (v->kind == WEFT__Y_MAP && v->u.map.n == 1 && port->type != WEFT_TYPE_DICT &&
        port->type != WEFT_TYPE_ANY && !strcmp(v->u.map.pairs[0].key->u.scalar.text, "value"))
      v = v->u.map.pairs[0].value;
    json_t *val = weft__ynode_to_json(v);
    char what[300];
    snprintf(what, sizeof what, "input '%s' of op '%s'", name, inv->name);
    if (val && weft__dsl_check_value(b->d, v->mark, port->type, val, what) &&
        (!made(&b->inputs[i]) || json_object_set(b->inputs[i], name, val)))
      b->oom = 1;
    json_decref(val);
  }
}

static void check_entry(struct rc_build *b, const struct weft__ypair *p) {
  const char *name = p->key->u.scalar.text;
  long i = weft_job_find_invocation(b->job, name);
  char h[160] = "";
  if (i < 0) {
    if (b->hints_left-- > 0)
      weft__dsl_suggest(h, sizeof h, name, b->names, b->job->n_ops);
    weft__dsl_error(b->d, p->key->mark, "op '%s' is not in job '%s'%s", name,
                    b->job->name, h);
    return;
  }
  b->entry[i] = p->value;
  b->entry_key[i] = p->key;
  const struct weft__ynode *v = p->value;
  if (weft__ynode_is_null(v)) return;
  if (v->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        b->d, v->mark,
        "ops.%s must be a mapping with 'config' and 'inputs', got %s", name,
        weft__ynode_describe(v));
    return;
  }
  char what[256];
  snprintf(what, sizeof what, "ops.%s of the run config", name);
  weft__dsl_check_keys(b->d, v, op_entry_keys, what);
  const struct weft__ynode *cfg = weft__ymap_get(v, "config", NULL);
  const struct weft_op_def *def = b->job->ops[i].def;
  if (cfg && !weft__ynode_is_null(cfg)) {
    if (cfg->kind != WEFT__Y_MAP)
      weft__dsl_error(
          b->d, cfg->mark,
          "ops.%s.config must be a mapping of config values, got %s", name,
          weft__ynode_describe(cfg));
    else if (def && !made(&b->config[i]))
      b->oom = 1;
    else if (def)
      weft__dsl_check_config_values(b->d, def, name, cfg, b->config[i]);
  }
  const struct weft__ynode *in = weft__ymap_get(v, "inputs", NULL);
  if (in && !weft__ynode_is_null(in)) check_inputs(b, i, in);
  /* image: this run's image for the op (a container, exec.h) */
  const struct weft__ynode *img = weft__ymap_get(v, "image", NULL);
  const char *t = img && !weft__ynode_is_null(img) ? weft__ynode_text(img) : NULL, *why = NULL;
  if (img && !weft__ynode_is_null(img) && (!t || !weft_ctr_image_ref_ok(t, &why)))
    weft__dsl_error(b->d, img->mark, "ops.%s.image must be an image reference%s%s", name,
                    why ? ": " : "", why ? why : "");
  /* resources: this run's container limits for the op (as an op's) */
  struct weft_resources r = {0};
  weft__dsl_parse_resources(b->d, weft__ymap_get(v, "resources", NULL), what, &r);
  free(r.gpus); /* kept as JSON by fill_op (resources_json) */
  /* max_items: this run's bound on a mapped step's items (engine/run_map.c) */
  const struct weft__ynode *mx = weft__ymap_get(v, "max_items", NULL);
  const char *mt = mx ? weft__ynode_text(mx) : NULL;
  char *end = NULL;
  if (mx && (!mt || strtol(mt, &end, 10) < 1 || *end))
    weft__dsl_error(b->d, mx->mark, "ops.%s.max_items must be a whole number >= 1", name);
}

/* The run's resources for entry e as JSON ({"cpus","memory","shm","gpus"}),
 * or NULL when it sets none; check_op reported its mistakes. */
static json_t *resources_json(const struct weft__ynode *e) {
  const struct weft__ynode *n = weft__ymap_get(e, "resources", NULL);
  if (!n || weft__ynode_is_null(n)) return NULL;
  struct weft_diags quiet = WEFT_DIAGS_INIT;
  struct weft_resources r = {0};
  json_t *o = NULL;
  if (!weft__dsl_parse_resources(&quiet, n, "", &r))
    o = json_pack("{s:f, s:I, s:I, s:s?}", "cpus", r.cpus, "memory", (json_int_t)r.memory,
                  "shm", (json_int_t)r.shm, "gpus", r.gpus);
  free(r.gpus);
  weft_diags_release(&quiet);
  return o;
}

/* Where to point when something is missing for invocation i: its run-config
 * entry (`part` inside it when present), else `ops:`, else the job file. */
static struct weft_mark missing_mark(const struct rc_build *b, size_t i,
                                     const char *part) {
  const struct weft__ynode *e = b->entry[i];
  const struct weft__ynode *sub = weft__ymap_get(e, part, NULL);
  if (sub) return sub->mark;
  if (b->entry_key[i]) return b->entry_key[i]->mark;
  if (b->ops_key) return b->ops_key->mark;
  return b->job->ops[i].mark;
}

static int fill_op(struct rc_build *b, size_t i, json_t *ops_out) {
  const struct weft_invocation *inv = &b->job->ops[i];
  const struct weft_op_def *def = inv->def;
  json_t *cfg = NULL, *inputs = NULL, *entry = NULL, *res = NULL;
  int rc = WEFT_OK;
  for (size_t f = 0; def && f < def->n_config; f++) {
    const struct weft_config_field *field = &def->config[f];
    if (field->default_value &&
        (!made(&cfg) ||
         json_object_set_new(cfg, field->name, json_deep_copy(field->default_value))))
      goto nomem;
  }
  if (inv->config) {
    const char *key;
    json_t *v;
    /* deep copies: rc->ops must not share values with the job */
    json_object_foreach(inv->config, key, v) {
      if (!made(&cfg) || json_object_set_new(cfg, key, json_deep_copy(v))) goto nomem;
    }
  }
  if (json_object_size(b->config[i]) &&
      (!made(&cfg) || json_object_update(cfg, b->config[i])))
    goto nomem;
  for (size_t f = 0; def && f < def->n_config; f++) {
    const struct weft_config_field *field = &def->config[f];
    /* a value given with the wrong type is reported already, not as missing */
    if (field->required && !json_object_get(cfg, field->name) &&
        !weft__ymap_get(weft__ymap_get(b->entry[i], "config", NULL),
                        field->name, NULL))
      weft__dsl_error(b->d, missing_mark(b, i, "config"),
                      "missing required config '%s' (%s) for op '%s'",
                      field->name, weft_type_name(field->type), inv->name);
  }
  for (size_t p = 0; def && p < def->n_inputs; p++) {
    const struct weft_port *port = &def->inputs[p];
    int wired = 0;
    for (size_t w = 0; w < inv->n_wires; w++)
      if (!strcmp(inv->wires[w].input, port->name)) wired = 1;
    if (wired) continue;
    json_t *v = json_object_get(b->inputs[i], port->name);
    if (v) {
      if (!made(&inputs) || json_object_set(inputs, port->name, v)) goto nomem;
    } else if (port->default_value) {
      if (!made(&inputs) ||
          json_object_set_new(inputs, port->name, json_deep_copy(port->default_value)))
        goto nomem;
    } else if (!weft__ymap_get(weft__ymap_get(b->entry[i], "inputs", NULL),
                               port->name, NULL)) {
      weft__dsl_error(
          b->d, missing_mark(b, i, "inputs"),
          "input '%s' of op '%s' is not wired and has no default: set "
          "ops.%s.inputs.%s in the run config",
          port->name, inv->name, inv->name, port->name);
    }
  }
  const struct weft__ynode *img = weft__ymap_get(b->entry[i], "image", NULL);
  const char *image = img ? weft__ynode_text(img) : NULL;
  res = resources_json(b->entry[i]);
  const char *mx = weft__ynode_text(weft__ymap_get(b->entry[i], "max_items", NULL));
  long max_items = mx ? strtol(mx, NULL, 10) : 0;
  if (!cfg && !inputs && !(image && *image) && !res && max_items < 1) {
    if (!b->empty_entry &&
        !(b->empty_entry = json_pack("{s:{}, s:{}}", "config", "inputs")))
      goto nomem;
    if (json_object_set(ops_out, inv->name, b->empty_entry)) goto nomem;
    goto done;
  }
  if (!made(&entry) || !made(&cfg) || !made(&inputs)) goto nomem;
  if (image && *image && json_object_set_new(entry, "image", json_string(image))) goto nomem;
  if (res && json_object_set_new(entry, "resources", res)) {
    res = NULL;
    goto nomem;
  }
  res = NULL; /* the entry's now */
  if (max_items >= 1 && json_object_set_new(entry, "max_items", json_integer(max_items)))
    goto nomem;
  if (json_object_set(entry, "config", cfg) ||
      json_object_set(entry, "inputs", inputs) ||
      json_object_set(ops_out, inv->name, entry))
    goto nomem;
  goto done;
nomem:
  rc = WEFT_ENOMEM;
  json_decref(res);
done:
  json_decref(cfg);
  json_decref(inputs);
  json_decref(entry);
  return rc;
}

/* Of two keys of map, the one that comes second (overrides append theirs,
 * so position, not line, says which). */
static const struct weft__ynode *later_key(const struct weft__ynode *map,
                                           const struct weft__ynode *a,
                                           const struct weft__ynode *b) {
  const struct weft__ynode *last = b;
  for (size_t i = 0; i < map->u.map.n; i++)
    if (map->u.map.pairs[i].key == a || map->u.map.pairs[i].key == b)
      last = map->u.map.pairs[i].key;
  return last;
}

static void check_max_concurrent(struct rc_build *b,
                                 const struct weft__ynode *n) {
  long long v;
  if (weft__ynode_int(n, &v) && v >= 1 && v <= 1000000) {
    b->out.max_concurrent = (int)v;
    return;
  }
  char got[96];
  weft__dsl_error(
      b->d, n->mark,
      "execution.multiprocess.max_concurrent must be an integer >= 1, got %s",
      weft__dsl_got(got, sizeof got, n));
}

/* execution: {queue: {max_concurrent: N}}: steps go to RabbitMQ workers
 * (src/queue); max_concurrent caps the steps in flight (0: 1024). Returns 1
 * when n names the queue executor (checked here), else 0. */
static int check_queue_execution(struct rc_build *b, const struct weft__ynode *n) {
  struct weft__ynode *q_key = NULL;
  const struct weft__ynode *q = weft__ymap_get(n, "queue", &q_key);
  if (!q_key) return 0;
  struct weft__ynode *ip_key = NULL, *mp_key = NULL;
  weft__ymap_get(n, "in_process", &ip_key);
  weft__ymap_get(n, "multiprocess", &mp_key);
  if (ip_key || mp_key) {
    weft__dsl_error(b->d, n->mark,
                    "execution must name one executor, got 'queue' and another");
    return 1;
  }
  b->out.executor = WEFT_EXECUTOR_QUEUE;
  if (weft__ynode_is_null(q)) return 1;
  if (q->kind != WEFT__Y_MAP) {
    weft__dsl_error(b->d, q->mark,
                    "execution.queue must be a mapping such as {} or {max_concurrent: 100}, "
                    "got %s", weft__ynode_describe(q));
    return 1;
  }
  weft__dsl_check_keys(b->d, q, queue_keys, "execution.queue");
  const struct weft__ynode *c = weft__ymap_get(q, "config", NULL);
  if (c && !weft__ynode_is_null(c) && (c->kind != WEFT__Y_MAP || c->u.map.n))
    weft__dsl_error(b->d, c->mark, "execution.queue takes no config");
  const struct weft__ynode *mc = weft__ymap_get(q, "max_concurrent", NULL);
  long long v;
  if (mc && weft__ynode_int(mc, &v) && v >= 1 && v <= 1000000) {
    b->out.max_concurrent = (int)v;
  } else if (mc) {
    char got[96];
    weft__dsl_error(b->d, mc->mark,
                    "execution.queue.max_concurrent must be an integer >= 1, got %s",
                    weft__dsl_got(got, sizeof got, mc));
  }
  return 1;
}

static void check_execution(struct rc_build *b, const struct weft__ynode *n) {
  if (weft__ynode_is_null(n)) return;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        b->d, n->mark,
        "execution must be a mapping naming one executor (in_process, "
        "multiprocess or queue), got %s",
        weft__ynode_describe(n));
    return;
  }
  weft__dsl_check_keys(b->d, n, exec_keys, "execution");
  /* Deadlines of the run, whichever executor runs its steps; checked
   * here, read back from rc->raw (weft_run_config_deadline). */
  struct weft_deadline unused;
  weft__dsl_parse_deadline_node(b->d, weft__ymap_get(n, "timeout", NULL), "execution",
                                "timeout", &unused);
  weft__dsl_parse_deadline_node(b->d, weft__ymap_get(n, "sla", NULL), "execution", "sla",
                                &unused);
  if (check_queue_execution(b, n)) return;
  struct weft__ynode *ip_key = NULL, *mp_key = NULL;
  const struct weft__ynode *ip = weft__ymap_get(n, "in_process", &ip_key);
  const struct weft__ynode *mp = weft__ymap_get(n, "multiprocess", &mp_key);
  if (ip_key && mp_key) {
    weft__dsl_error(
        b->d, later_key(n, ip_key, mp_key)->mark,
        "execution must name one executor, got both 'in_process' and "
        "'multiprocess'");
    return;
  }
  if (ip_key) {
    b->out.executor = WEFT_EXECUTOR_IN_PROCESS;
    if (weft__ynode_is_null(ip)) return;
    if (ip->kind != WEFT__Y_MAP) {
      weft__dsl_error(b->d, ip->mark,
                      "execution.in_process must be a mapping, got %s",
                      weft__ynode_describe(ip));
      return;
    }
    weft__dsl_check_keys(b->d, ip, in_process_keys, "execution.in_process");
    const struct weft__ynode *c = weft__ymap_get(ip, "config", NULL);
    if (c && !weft__ynode_is_null(c) && (c->kind != WEFT__Y_MAP || c->u.map.n))
      weft__dsl_error(b->d, c->mark, "execution.in_process takes no config");
    return;
  }
  if (!mp_key || weft__ynode_is_null(mp)) return;
  if (mp->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        b->d, mp->mark,
        "execution.multiprocess must be a mapping such as {max_concurrent: 4}, "
        "got %s",
        weft__ynode_describe(mp));
    return;
  }
  weft__dsl_check_keys(b->d, mp, multiprocess_keys, "execution.multiprocess");
  const struct weft__ynode *mc = weft__ymap_get(mp, "max_concurrent", NULL);
  const struct weft__ynode *c = weft__ymap_get(mp, "config", NULL);
  if (c && !weft__ynode_is_null(c)) {
    if (c->kind != WEFT__Y_MAP) {
      weft__dsl_error(b->d, c->mark,
                      "execution.multiprocess.config must be a mapping, got %s",
                      weft__ynode_describe(c));
    } else {
      weft__dsl_check_keys(b->d, c, multiprocess_config_keys,
                           "execution.multiprocess.config");
      const struct weft__ynode *mc2 = weft__ymap_get(c, "max_concurrent", NULL);
      if (mc2 && mc)
        weft__dsl_error(
            b->d, mc2->mark,
            "max_concurrent is given twice (in execution.multiprocess and in "
            "its config)");
      else if (mc2)
        mc = mc2;
    }
  }
  if (mc) check_max_concurrent(b, mc);
}

static int check_tags(struct rc_build *b, const struct weft__ynode *n) {
  if (weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(b->d, n->mark,
                    "tags must be a mapping of names to values, got %s",
                    weft__ynode_describe(n));
    return WEFT_OK;
  }
  for (size_t i = 0; i < n->u.map.n; i++) {
    const struct weft__ynode *k = n->u.map.pairs[i].key,
                             *v = n->u.map.pairs[i].value;
    if (!*k->u.scalar.text) {
      weft__dsl_error(b->d, k->mark, "tag names must not be empty");
      continue;
    }
    if (v->kind != WEFT__Y_SCALAR ||
        (!weft__ynode_is_null(v) && !weft__ynode_text(v))) {
      weft__dsl_error(b->d, v->mark, "tag '%s' must be a scalar value, got %s",
                      k->u.scalar.text, weft__ynode_describe(v));
      continue;
    }
    const char *s = weft__ynode_is_null(v) ? "" : v->u.scalar.text;
    if (json_object_set_new(b->out.tags, k->u.scalar.text, json_string(s)))
      return WEFT_ENOMEM;
  }
  return WEFT_OK;
}

static int check_root(struct rc_build *b, const struct weft__ynode *root) {
  weft__dsl_check_keys(b->d, root, top_keys, "the run config");
  struct weft__ynode *ops_key = NULL, *solids_key = NULL;
  const struct weft__ynode *ops = weft__ymap_get(root, "ops", &ops_key);
  const struct weft__ynode *solids =
      weft__ymap_get(root, "solids", &solids_key);
  if (ops_key && solids_key) {
    weft__dsl_error(
        b->d, later_key(root, ops_key, solids_key)->mark,
        "both 'ops' and 'solids' are given; 'solids' is an alias of 'ops', "
        "use one");
  } else if (solids_key) {
    ops = solids;
    ops_key = solids_key;
  }
  b->ops_key = ops_key;
  if (ops && !weft__ynode_is_null(ops)) {
    if (ops->kind != WEFT__Y_MAP)
      weft__dsl_error(
          b->d, ops->mark,
          "%s must be a mapping of op names to {config, inputs}, got %s",
          ops_key->u.scalar.text, weft__ynode_describe(ops));
    else
      for (size_t i = 0; i < ops->u.map.n; i++)
        check_entry(b, &ops->u.map.pairs[i]);
  }
  check_execution(b, weft__ymap_get(root, "execution", NULL));
  if (b->oom) return WEFT_ENOMEM;
  return check_tags(b, weft__ymap_get(root, "tags", NULL));
}

static int alloc_build(struct rc_build *b) {
  size_t n = b->job->n_ops ? b->job->n_ops : 1;
  b->entry = calloc(n, sizeof *b->entry);
  b->entry_key = calloc(n, sizeof *b->entry_key);
  b->config = calloc(n, sizeof *b->config);
  b->inputs = calloc(n, sizeof *b->inputs);
  b->names = calloc(n, sizeof *b->names);
  b->out.ops = json_object();
  b->out.tags = json_object();
  if (!b->entry || !b->entry_key || !b->config || !b->inputs || !b->names ||
      !b->out.ops || !b->out.tags)
    return WEFT_ENOMEM;
  for (size_t i = 0; i < b->job->n_ops; i++) b->names[i] = b->job->ops[i].name;
  return WEFT_OK;
}

static void free_build(struct rc_build *b) {
  for (size_t i = 0; i < b->job->n_ops; i++) {
    if (b->config) json_decref(b->config[i]);
    if (b->inputs) json_decref(b->inputs[i]);
  }
  json_decref(b->empty_entry);
  free(b->entry);
  free(b->entry_key);
  free(b->config);
  free(b->inputs);
  free(b->names);
}

int weft_run_config_build(const struct weft_job *job, const char *file,
                          const char *text, size_t len,
                          const char *const *overrides, size_t n_overrides,
                          struct weft_run_config *out,
                          struct weft_diags *diags) {
  struct rc_build b = {.job = job, .d = diags, .hints_left = MAX_HINTS};
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft__ynode *root = NULL;
  char **labels = NULL;
  size_t n_labels = 0, before = diags->n;
  int rc;
  if (!file) file = "run config";
  b.out.executor = WEFT_EXECUTOR_MULTIPROCESS;
  if ((rc = alloc_build(&b))) goto nomem;
  /* "{}", what a run with no config stores, is an empty document: no parser
   * is set up for it (a coordinator service rebuilds every run's config). */
  if (text && len == 2 && !memcmp(text, "{}", 2)) rc = WEFT_OK;
  else rc = weft__yaml_parse(&doc, file, text, text ? len : 0, &root, diags);
  if (rc == WEFT_ENOMEM) goto nomem;
  if (rc) goto done;
  if (weft__ynode_is_null(root)) {
    /* an empty document: only overrides and defaults */
    if (!(root = weft__ynode_new_map(&doc, (struct weft_mark){file, 0, 0})))
      goto nomem;
  } else if (root->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        diags, root->mark,
        "a run config must be a mapping with 'ops', 'execution', 'tags', "
        "got %s",
        weft__ynode_describe(root));
    rc = WEFT_EINVALID;
    goto done;
  }
  if (weft__rc_apply_overrides(&doc, root, overrides, n_overrides, &labels,
                               &n_labels, diags))
    goto nomem;
  if (!(b.out.raw = weft__ynode_to_json(root))) goto nomem;
  if (check_root(&b, root)) goto nomem;
  for (size_t i = 0; i < job->n_ops; i++)
    if (fill_op(&b, i, b.out.ops)) goto nomem;
  rc = diags->n == before ? WEFT_OK : WEFT_EINVALID;
  goto done;
nomem:
  weft_diags_addf(diags, file, 0, 0, "out of memory checking the run config");
  rc = WEFT_ENOMEM;
done:
  /* Sort only what this call added: the caller may hold its own order. */
  if (diags->n > before) {
    struct weft_diags mine = {diags->v + before, diags->n - before,
                              diags->n - before};
    weft_diags_sort(&mine);
  }
  if (rc == WEFT_OK) {
    *out = b.out;
  } else {
    weft_run_config_release(&b.out);
  }
  free_build(&b);
  for (size_t i = 0; i < n_labels; i++) free(labels[i]);
  free(labels);
  weft__ydoc_release(&doc);
  return rc;
}
