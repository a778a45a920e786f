/* model.c: ownership and lookups of the job model: releasing op definitions
 * (and their assets; asset keys are checked here),
 * jobs and locations, and the O(1) name index kept behind loc->index. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "model/when_expr.h"
#include "util/map.h"

/* loc->index: names are borrowed from the location's own structs. */
struct loc_index {
  struct weft_map jobs; /* name -> struct weft_job * (first of a name) */
  struct weft_map ops;  /* name -> struct weft_op_def * */
  struct weft_map
      *job_ops; /* per loc->jobs[i]: invocation name -> invocation */
  size_t n_jobs;
};

void weft__kvs_release(struct weft_kvs *kv) {
  for (size_t i = 0; i < kv->n; i++) {
    free(kv->v[i].key);
    free(kv->v[i].value);
  }
  free(kv->v);
  kv->v = NULL;
  kv->n = 0;
}

void weft__port_release(struct weft_port *p) {
  free(p->name);
  free(p->description);
  free(p->asset);
  json_decref(p->default_value);
  memset(p, 0, sizeof *p);
}

void weft__config_field_release(struct weft_config_field *f) {
  free(f->name);
  free(f->description);
  json_decref(f->default_value);
  json_decref(f->enum_values);
  memset(f, 0, sizeof *f);
}

/* An op's `assets:` entry (dsl/asset_parse.c fills it). */
void weft__asset_def_release(struct weft_asset_def *a) {
  free(a->key);
  free(a->group);
  free(a->description);
  for (size_t i = 0; i < a->n_owners; i++) free(a->owners[i]);
  free(a->owners);
  memset(a, 0, sizeof *a);
}

/* Asset keys are one URL path segment and one CLI word: letters, digits
 * and "_-.:" ("warehouse.orders"), at most 200 bytes. */
int weft_asset_key_valid(const char *k) {
  size_t n = k ? strlen(k) : 0;
  if (!n || n > 200 || k[0] == '.') return 0;
  for (const char *p = k; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          strchr("_-.:", *p)))
      return 0;
  return 1;
}

void weft__op_def_release(struct weft_op_def *def) {
  free(def->name);
  free(def->description);
  free(def->run);
  if (def->argv)
    for (char **a = def->argv; *a; a++) free(*a);
  free(def->argv);
  free(def->c_function);
  for (size_t i = 0; i < def->n_inputs; i++)
    weft__port_release(&def->inputs[i]);
  free(def->inputs);
  for (size_t i = 0; i < def->n_outputs; i++)
    weft__port_release(&def->outputs[i]);
  free(def->outputs);
  for (size_t i = 0; i < def->n_config; i++)
    weft__config_field_release(&def->config[i]);
  free(def->config);
  free(def->queue);
  free(def->image);
  free(def->resources.gpus);
  for (size_t i = 0; i < def->n_mounts; i++) {
    free(def->mounts[i].source);
    free(def->mounts[i].target);
  }
  free(def->mounts);
  for (size_t i = 0; i < def->n_assets; i++) weft__asset_def_release(&def->assets[i]);
  free(def->assets);
  weft__kvs_release(&def->env);
  weft__kvs_release(&def->env_from);
  weft__kvs_release(&def->env_secret);
  weft__kvs_release(&def->env_variable);
  weft__kvs_release(&def->secret_files);
  weft__kvs_release(&def->tags);
  json_decref(def->hooks);
  memset(def, 0, sizeof *def);
}

void weft__invocation_release(struct weft_invocation *inv) {
  free(inv->name);
  free(inv->uses);
  for (size_t i = 0; i < inv->n_wires; i++) {
    free(inv->wires[i].input);
    free(inv->wires[i].from_op);
    free(inv->wires[i].from_output);
  }
  free(inv->wires);
  for (size_t i = 0; i < inv->n_after; i++) free(inv->after[i].op);
  free(inv->after);
  json_decref(inv->config);
  free(inv->upstream);
  weft_when_free(inv->when);
  free(inv->sub_job);
  memset(inv, 0, sizeof *inv);
}

void weft__job_release(struct weft_job *job) {
  free(job->name);
  free(job->description);
  weft__kvs_release(&job->tags);
  for (size_t i = 0; i < job->n_inline_ops; i++)
    weft__op_def_release(&job->inline_ops[i]);
  free(job->inline_ops);
  for (size_t i = 0; i < job->n_ops; i++)
    weft__invocation_release(&job->ops[i]);
  free(job->ops);
  weft__partitions_release(&job->partitions);
  json_decref(job->hooks);
  memset(job, 0, sizeof *job);
}

static void index_free(struct loc_index *ix) {
  if (!ix) return;
  weft_map_release(&ix->jobs);
  weft_map_release(&ix->ops);
  for (size_t i = 0; ix->job_ops && i < ix->n_jobs; i++)
    weft_map_release(&ix->job_ops[i]);
  free(ix->job_ops);
  free(ix);
}

int weft__location_index_build(struct weft_location *loc) {
  /* Sub-jobs are flattened first: the index holds the steps they became. */
  if (weft__location_compose(loc)) return WEFT_ENOMEM;
  struct loc_index *ix = calloc(1, sizeof *ix);
  if (!ix) return WEFT_ENOMEM;
  ix->n_jobs = loc->n_jobs;
  if (loc->n_jobs && !(ix->job_ops = calloc(loc->n_jobs, sizeof *ix->job_ops)))
    goto nomem;
  if (weft_map_reserve(&ix->jobs, loc->n_jobs) ||
      weft_map_reserve(&ix->ops, loc->n_ops))
    goto nomem;
  for (size_t i = 0; i < loc->n_ops; i++) {
    if (weft_map_put(&ix->ops, loc->ops[i].name, &loc->ops[i]) == WEFT_ENOMEM)
      goto nomem;
  }
  for (size_t j = 0; j < loc->n_jobs; j++) {
    struct weft_job *job = &loc->jobs[j];
    job->location = loc;
    /* A duplicate job name keeps the first: the loader reported the second. */
    if (weft_map_put(&ix->jobs, job->name, job) == WEFT_ENOMEM) goto nomem;
    if (weft_map_reserve(&ix->job_ops[j], job->n_ops)) goto nomem;
    for (size_t i = 0; i < job->n_ops; i++)
      if (weft_map_put(&ix->job_ops[j], job->ops[i].name, &job->ops[i]) ==
          WEFT_ENOMEM)
        goto nomem;
  }
  for (size_t i = 0; i < loc->n_schedules; i++) loc->schedules[i].location = loc;
  for (size_t i = 0; i < loc->n_sensors; i++) loc->sensors[i].location = loc;
  index_free(loc->index);
  loc->index = ix;
  return WEFT_OK;
nomem:
  index_free(ix);
  return WEFT_ENOMEM;
}

void weft_location_free(struct weft_location *loc) {
  if (!loc) return;
  index_free(loc->index);
  for (size_t i = 0; i < loc->n_ops; i++) weft__op_def_release(&loc->ops[i]);
  free(loc->ops);
  for (size_t i = 0; i < loc->n_jobs; i++) weft__job_release(&loc->jobs[i]);
  free(loc->jobs);
  for (size_t i = 0; i < loc->n_files; i++) free(loc->files[i]);
  free(loc->files);
  weft_diags_release(&loc->diags);
  free(loc->name);
  free(loc->path);
  weft__kvs_release(&loc->env);
  free(loc->python);
  free(loc->image);
  free(loc->workdir);
  for (size_t i = 0; i < loc->n_schedules; i++) weft__schedule_release(&loc->schedules[i]);
  free(loc->schedules);
  for (size_t i = 0; i < loc->n_sensors; i++) weft__sensor_release(&loc->sensors[i]);
  free(loc->sensors);
  free(loc);
}

const struct weft_job *weft_location_find_job(const struct weft_location *loc,
                                              const char *name) {
  if (!loc || !name) return NULL;
  const struct loc_index *ix = loc->index;
  if (ix) return weft_map_get(&ix->jobs, name);
  for (size_t i = 0; i < loc->n_jobs; i++)
    if (!strcmp(loc->jobs[i].name, name)) return &loc->jobs[i];
  return NULL;
}

const struct weft_op_def *weft_location_find_op(const struct weft_location *loc,
                                                const char *name) {
  if (!loc || !name) return NULL;
  const struct loc_index *ix = loc->index;
  if (ix) return weft_map_get(&ix->ops, name);
  for (size_t i = 0; i < loc->n_ops; i++)
    if (!strcmp(loc->ops[i].name, name)) return &loc->ops[i];
  return NULL;
}

long weft_job_find_invocation(const struct weft_job *job, const char *name) {
  if (!job || !name) return -1;
  const struct weft_location *loc = job->location;
  const struct loc_index *ix = loc ? loc->index : NULL;
  /* Jobs built outside a loaded location (embedding API) have no index. */
  if (ix && job >= loc->jobs && job < loc->jobs + loc->n_jobs) {
    const struct weft_invocation *inv =
        weft_map_get(&ix->job_ops[job - loc->jobs], name);
    return inv ? (long)(inv - job->ops) : -1;
  }
  for (size_t i = 0; i < job->n_ops; i++)
    if (!strcmp(job->ops[i].name, name)) return (long)i;
  return -1;
}

static const struct weft_port *find_port(const struct weft_port *ports,
                                         size_t n, const char *name) {
  for (size_t i = 0; name && i < n; i++)
    if (!strcmp(ports[i].name, name)) return &ports[i];
  return NULL;
}

const struct weft_port *weft_op_def_find_input(const struct weft_op_def *def,
                                               const char *name) {
  return def ? find_port(def->inputs, def->n_inputs, name) : NULL;
}

const struct weft_port *weft_op_def_find_output(const struct weft_op_def *def,
                                                const char *name) {
  return def ? find_port(def->outputs, def->n_outputs, name) : NULL;
}

const struct weft_config_field *weft_op_def_find_config(
    const struct weft_op_def *def, const char *name) {
  for (size_t i = 0; def && name && i < def->n_config; i++)
    if (!strcmp(def->config[i].name, name)) return &def->config[i];
  return NULL;
}
