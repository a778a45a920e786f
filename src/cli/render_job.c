/* render_job.c: `weft job show` views of a valid job: text, JSON and dot.
 * Every view walks the ops by level, then by their topological position, so
 * the output is stable across runs and diffs well. */
#include <stdlib.h>
#include <string.h>

#include "cli/render.h"

/* ---- shared walking helpers ---------------------------------------------- */

struct level_key {
  int level;
  size_t index;
};

static int level_key_cmp(const void *a, const void *b) {
  const struct level_key *x = a, *y = b;
  if (x->level != y->level) return x->level < y->level ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* The indexes of job->ops ordered by (level, position); caller frees.
 * NULL when out of memory (or when the job has no ops). */
static size_t *ops_by_level(const struct weft_job *job) {
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

static const struct weft_wire *wire_for(const struct weft_invocation *inv,
                                        const char *input) {
  for (size_t w = 0; w < inv->n_wires; w++)
    if (!strcmp(inv->wires[w].input, input)) return &inv->wires[w];
  return NULL;
}

/* Compact JSON text of a value; caller frees. NULL when out of memory. */
static char *json_text(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

static int max_level(const struct weft_job *job) {
  int m = -1;
  for (size_t i = 0; i < job->n_ops; i++)
    if (job->ops[i].level > m) m = job->ops[i].level;
  return m;
}

/* ---- text ------------------------------------------------------------------ */

static int text_port_in(FILE *out, const struct weft_invocation *inv,
                        const struct weft_port *p) {
  const struct weft_wire *w = wire_for(inv, p->name);
  fprintf(out, "    input   %s: %s", p->name, weft_type_name(p->type));
  if (w) {
    fprintf(out, " <- %s.%s", w->from_op, w->from_output);
  } else if (p->default_value) {
    char *t = json_text(p->default_value);
    if (!t) return WEFT_ENOMEM;
    fprintf(out, " <- run config (default %s)", t);
    free(t);
  } else {
    fputs(" <- run config", out);
  }
  if (p->description) fprintf(out, "  # %s", p->description);
  fputc('\n', out);
  return WEFT_OK;
}

static int text_config(FILE *out, const struct weft_invocation *inv,
                       const struct weft_config_field *f) {
  const json_t *fixed = inv->config ? json_object_get(inv->config, f->name)
                                    : NULL;
  char *t = NULL;
  fprintf(out, "    config  %s: %s", f->name, weft_type_name(f->type));
  if (fixed || f->default_value) {
    t = json_text(fixed ? fixed : f->default_value);
    if (!t) return WEFT_ENOMEM;
    fprintf(out, " = %s%s", t, fixed ? " (set by the job)" : "");
    free(t);
  } else if (f->required) {
    fputs(" (required)", out);
  }
  if (f->enum_values) {
    t = json_text(f->enum_values);
    if (!t) return WEFT_ENOMEM;
    fprintf(out, " one of %s", t);
    free(t);
  }
  if (f->description) fprintf(out, "  # %s", f->description);
  fputc('\n', out);
  return WEFT_OK;
}

static int text_invocation(FILE *out, const struct weft_invocation *inv) {
  const struct weft_op_def *d = inv->def;
  int rc;
  fprintf(out, "  %s (op %s)", inv->name, inv->uses);
  if (d->description) fprintf(out, ": %s", d->description);
  fputc('\n', out);
  for (size_t i = 0; i < d->n_inputs; i++)
    if ((rc = text_port_in(out, inv, &d->inputs[i])) != WEFT_OK) return rc;
  for (size_t i = 0; i < d->n_config; i++)
    if ((rc = text_config(out, inv, &d->config[i])) != WEFT_OK) return rc;
  for (size_t i = 0; i < d->n_outputs; i++) {
    const struct weft_port *p = &d->outputs[i];
    fprintf(out, "    output  %s: %s", p->name, weft_type_name(p->type));
    if (p->description) fprintf(out, "  # %s", p->description);
    fputc('\n', out);
  }
  return WEFT_OK;
}

int weft_render_job_text(const struct weft_job *job, FILE *out) {
  size_t *order = ops_by_level(job);
  int rc = WEFT_OK, levels = max_level(job) + 1, level = -1;
  if (!order) return WEFT_ENOMEM;
  fprintf(out, "job %s", job->name);
  if (job->location) fprintf(out, " (location %s)", job->location->name);
  fputc('\n', out);
  if (job->description) fprintf(out, "  %s\n", job->description);
  if (job->tags.n) {
    fputs("  tags:", out);
    for (size_t i = 0; i < job->tags.n; i++)
      fprintf(out, " %s=%s", job->tags.v[i].key, job->tags.v[i].value);
    fputc('\n', out);
  }
  fprintf(out, "  %zu %s in %d %s\n", job->n_ops, job->n_ops == 1 ? "op" : "ops",
          levels, levels == 1 ? "level" : "levels");
  for (size_t k = 0; k < job->n_ops; k++) {
    const struct weft_invocation *inv = &job->ops[order[k]];
    if (inv->level != level) {
      level = inv->level;
      fprintf(out, "\nlevel %d:\n", level);
    }
    if ((rc = text_invocation(out, inv)) != WEFT_OK) goto done;
  }
  if (ferror(out)) rc = WEFT_EIO;
done:
  free(order);
  return rc;
}

/* ---- JSON -------------------------------------------------------------------- */

/* json_object_set_new that keeps going on NULL values so callers can check
 * for out-of-memory once, at the end. */
static int put(json_t *obj, const char *key, json_t *v) {
  return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *str_or_null(const char *s) {
  return s ? json_string(s) : json_null();
}

static json_t *kvs_json(const struct weft_kvs *kvs) {
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
    const struct weft_wire *w = wire_for(inv, p->name);
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
            put(o, "retries",
                json_pack("{s:i, s:f, s:f, s:f}", "max", d->retry.max, "delay",
                          d->retry.delay_s, "backoff", d->retry.backoff,
                          "jitter", d->retry.jitter)) ||
            put(o, "timeout", json_real(d->timeout_s)) ||
            put(o, "queue", str_or_null(d->queue)) ||
            put(o, "image", str_or_null(d->image)) ||
            put(o, "env", kvs_json(&d->env)) ||
            put(o, "tags", kvs_json(&d->tags));
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

json_t *weft_render_job_json(const struct weft_job *job) {
  size_t *order = ops_by_level(job);
  json_t *doc = json_object(), *ops = json_array();
  if (!order || !doc || !ops) goto fail;
  if (put(doc, "job", json_string(job->name)) ||
      put(doc, "location",
          str_or_null(job->location ? job->location->name : NULL)) ||
      put(doc, "file", str_or_null(job->mark.file)) ||
      put(doc, "description", str_or_null(job->description)) ||
      put(doc, "tags", kvs_json(&job->tags)) ||
      put(doc, "levels", json_integer(max_level(job) + 1)))
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

/* ---- dot ---------------------------------------------------------------------- */

/* Writes s as a double-quoted DOT string. */
static void dot_quoted(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', out);
    if (*s == '\n') {
      fputs("\\n", out);
      continue;
    }
    fputc(*s, out);
  }
  fputc('"', out);
}

int weft_render_job_dot(const struct weft_job *job, FILE *out) {
  size_t *order = ops_by_level(job);
  int level = -1;
  if (!order) return WEFT_ENOMEM;
  fputs("digraph ", out);
  dot_quoted(out, job->name);
  fputs(" {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n"
        "  edge [fontname=\"Helvetica\", fontsize=10];\n",
        out);
  for (size_t k = 0; k < job->n_ops; k++) {
    const struct weft_invocation *inv = &job->ops[order[k]];
    if (inv->level != level) {
      if (level >= 0) fputs("  }\n", out);
      level = inv->level;
      fprintf(out, "  { rank=same; /* level %d */\n", level);
    }
    fputs("    ", out);
    dot_quoted(out, inv->name);
    if (strcmp(inv->name, inv->uses)) {
      fputs(" [label=", out);
      fputc('"', out);
      fprintf(out, "%s\\n(%s)", inv->name, inv->uses);
      fputc('"', out);
      fputc(']', out);
    }
    fputs(";\n", out);
  }
  if (level >= 0) fputs("  }\n", out);
  for (size_t k = 0; k < job->n_ops; k++) {
    const struct weft_invocation *inv = &job->ops[order[k]];
    for (size_t w = 0; w < inv->n_wires; w++) {
      const struct weft_wire *wi = &inv->wires[w];
      fputs("  ", out);
      dot_quoted(out, wi->from_op);
      fputs(" -> ", out);
      dot_quoted(out, inv->name);
      if (strcmp(wi->from_output, "result")) {
        fputs(" [label=", out);
        dot_quoted(out, wi->from_output);
        fputc(']', out);
      }
      fputs(";\n", out);
    }
  }
  fputs("}\n", out);
  free(order);
  return ferror(out) ? WEFT_EIO : WEFT_OK;
}
