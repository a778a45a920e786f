/* render_job.c: `weft job show` views of a valid job: text and dot (the JSON
 * one is model/job_json.c). Every view walks the ops by level, then by their
 * topological position, so the output is stable across runs and diffs well. */
#include <stdlib.h>
#include <string.h>

#include "cli/render.h"
#include "containers/containers.h"
#include "model/when_expr.h"

/* ---- shared helpers ------------------------------------------------------ */

/* Compact JSON text of a value; caller frees. NULL when out of memory. */
static char *json_text(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

/* ---- text ------------------------------------------------------------------ */

static int text_port_in(FILE *out, const struct weft_invocation *inv,
                        const struct weft_port *p) {
  const struct weft_wire *w = weft_invocation_find_wire(inv, p->name);
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
    fprintf(out, "    output  %s: %s%s", p->name, weft_type_name(p->type),
            p->optional ? " (optional)" : "");
    if (p->description) fprintf(out, "  # %s", p->description);
    fputc('\n', out);
  }
  /* Whether it runs at all: its condition and its rule (all_success, the
   * default, goes unsaid). */
  if (inv->mapped)
    fprintf(out, "    map     %s over %s%s.%s (%s)\n", inv->wires[inv->map_wire].input,
            inv->wires[inv->map_wire].from_op, inv->map_nested ? "[*]" : "",
            inv->wires[inv->map_wire].from_output,
            inv->map_nested ? "nested: one step per item of each item's list"
                            : "one step per item");
  if (inv->when) fprintf(out, "    when    %s\n", inv->when->text);
  if (inv->trigger != WEFT_TRIGGER_ALL_SUCCESS)
    fprintf(out, "    trigger %s\n", weft_trigger_name(inv->trigger));
  /* A container step: its image and limits (a location's image or the
   * instance's default_image may apply too: weft run show names it). */
  const struct weft_resources *r = &d->resources;
  if (d->image) fprintf(out, "    image   %s\n", d->image);
  if (r->cpus > 0 || r->memory > 0 || r->shm > 0 || r->gpus) {
    char cpus[32] = "-", mem[32] = "-", shm[32] = "-";
    if (r->cpus > 0) snprintf(cpus, sizeof cpus, "%g", r->cpus);
    if (r->memory > 0) weft_ctr_format_bytes(r->memory, mem, sizeof mem);
    if (r->shm > 0) weft_ctr_format_bytes(r->shm, shm, sizeof shm);
    fprintf(out, "    limits  cpus %s, memory %s, shm %s, gpus %s\n", cpus, mem, shm,
            r->gpus ? r->gpus : "-");
  }
  return WEFT_OK;
}

int weft_render_job_text(const struct weft_job *job, FILE *out) {
  size_t *order = weft_job_level_order(job);
  int rc = WEFT_OK, levels = weft_job_level_count(job), level = -1;
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
  size_t *order = weft_job_level_order(job);
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
