/* job_check.c: resolves a parsed job against its location and checks it:
 * uses, wiring, types, static config, cycles; then sorts it topologically. */

/* Every step is linear in ops + wires (hash maps, Kahn with a heap), so a
 * 10,000-op job checks in milliseconds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"
#include "model/when_expr.h"
#include "util/buf.h"
#include "util/str.h"

/* Did-you-mean costs a scan of every candidate; past this many errors in
 * one job (hostile or generated input) the hints are dropped. */
#define MAX_HINTS 100

struct checker {
  struct weft_diags *d;
  const struct weft__dsl_scope *scope;
  struct weft_job *job;
  const struct weft__dsl_job_src *src;
  struct weft_map inline_by_name; /* name -> inline index + 1 */
  struct weft_map inv_by_name;    /* name -> declaration index + 1 */
  const char **def_names;         /* inline + location op names, for hints */
  size_t n_def_names;
  const char **inv_names; /* invocation names, for hints */
  int hints_left;
};

#define IDX(v) ((size_t)(uintptr_t)(v)-1)
#define VAL(i) ((void *)(uintptr_t)((i) + 1))

static const char *hint(struct checker *c, char *buf, size_t size,
                        const char *word, const char *const *cands, size_t n) {
  buf[0] = 0;
  if (c->hints_left <= 0) return buf;
  c->hints_left--;
  return weft__dsl_suggest(buf, size, word, cands, n);
}

static int collect_names(struct checker *c) {
  struct weft_job *job = c->job;
  c->def_names =
      malloc((job->n_inline_ops + c->scope->n_ops + 1) * sizeof *c->def_names);
  c->inv_names = malloc((job->n_ops + 1) * sizeof *c->inv_names);
  if (!c->def_names || !c->inv_names) return WEFT_ENOMEM;
  for (size_t i = 0; i < job->n_inline_ops; i++)
    c->def_names[c->n_def_names++] = job->inline_ops[i].name;
  for (size_t i = 0; i < c->scope->n_ops; i++)
    c->def_names[c->n_def_names++] = c->scope->ops[i].name;
  for (size_t i = 0; i < job->n_ops; i++) c->inv_names[i] = job->ops[i].name;
  return WEFT_OK;
}

static int index_names(struct checker *c) {
  struct weft_job *job = c->job;
  if (weft_map_reserve(&c->inline_by_name, job->n_inline_ops) ||
      weft_map_reserve(&c->inv_by_name, job->n_ops))
    return WEFT_ENOMEM;
  for (size_t i = 0; i < job->n_inline_ops; i++) {
    const struct weft_op_def *def = &job->inline_ops[i];
    void *v;
    if (weft_map_find(c->scope->by_name, def->name, &v)) {
      const struct weft_mark *m = &c->scope->ops[IDX(v)].mark;
      weft__dsl_error(
          c->d, def->mark,
          "duplicate op '%s': defined inline in job '%s' and in %s:%d:%d",
          def->name, job->name, m->file, m->line, m->col);
    }
    /* duplicate inline names were already rejected as duplicate YAML keys */
    if (weft_map_put(&c->inline_by_name, def->name, VAL(i)) == WEFT_ENOMEM)
      return WEFT_ENOMEM;
  }
  for (size_t i = 0; i < job->n_ops; i++)
    if (weft_map_put(&c->inv_by_name, job->ops[i].name, VAL(i)) == WEFT_ENOMEM)
      return WEFT_ENOMEM;
  return WEFT_OK;
}

static void resolve_uses(struct checker *c, size_t i) {
  struct weft_invocation *inv = &c->job->ops[i];
  const struct weft__dsl_inv_src *s = &c->src->inv[i];
  void *v;
  char h[160];
  if (s->uses_bad) return; /* reported when parsed */
  if (inv->sub_job) {
    /* model/compose.c flattens it once every job of the location is in. */
    if (inv->when || inv->trigger != WEFT_TRIGGER_ALL_SUCCESS)
      weft__dsl_error(c->d, s->uses_mark,
                      "op '%s': when: and trigger: are not taken by a sub-job (uses: job:%s); "
                      "set them on the steps of job '%s'",
                      inv->name, inv->sub_job, inv->sub_job);
    return;
  }
  if (weft_map_find(&c->inline_by_name, inv->uses, &v)) {
    inv->def = &c->job->inline_ops[IDX(v)];
    return;
  }
  if (weft_map_find(c->scope->by_name, inv->uses, &v)) {
    inv->def = &c->scope->ops[IDX(v)];
    if (c->scope->bad[IDX(v)]) {
      const struct weft_mark *m = &inv->def->mark;
      weft__dsl_error(
          c->d, s->uses_mark,
          "op '%s' uses op definition '%s', which has errors (see %s:%d:%d)",
          inv->name, inv->uses, m->file, m->line, m->col);
    }
    return;
  }
  hint(c, h, sizeof h, inv->uses, c->def_names, c->n_def_names);
  if (s->uses_given)
    weft__dsl_error(c->d, s->uses_mark,
                    "op '%s' uses unknown op definition '%s'%s", inv->name,
                    inv->uses, h);
  else
    weft__dsl_error(
        c->d, s->uses_mark,
        "no op definition named '%s' (op '%s' has no 'uses:', so its own "
        "name is used)%s",
        inv->uses, inv->name, h);
}

static char *port_list(const struct weft_port *ports, size_t n) {
  struct weft_buf b = WEFT_BUF_INIT;
  for (size_t i = 0; i < n; i++)
    weft_buf_addf(&b, "%s%s", i ? ", " : "", ports[i].name);
  return weft_buf_detach(&b, NULL);
}

static const char **port_names(const struct weft_port *ports, size_t n) {
  const char **names = malloc((n + 1) * sizeof *names);
  for (size_t i = 0; names && i < n; i++) names[i] = ports[i].name;
  return names;
}

static int check_input(struct checker *c, const struct weft_invocation *inv,
                       const struct weft_wire *w, struct weft_mark key_mark) {
  const struct weft_op_def *def = inv->def;
  if (!def || weft_op_def_find_input(def, w->input)) return WEFT_OK;
  char h[160];
  const char **names = port_names(def->inputs, def->n_inputs);
  char *list = port_list(def->inputs, def->n_inputs);
  if (!names || !list) {
    free(names);
    free(list);
    return WEFT_ENOMEM;
  }
  hint(c, h, sizeof h, w->input, names, def->n_inputs);
  if (def->n_inputs)
    weft__dsl_error(
        c->d, key_mark,
        "op '%s' has no input '%s'%s; op definition '%s' declares: %s",
        inv->name, w->input, h, def->name, list);
  else
    weft__dsl_error(
        c->d, key_mark,
        "op '%s' has no input '%s': op definition '%s' declares no inputs",
        inv->name, w->input, def->name);
  free(names);
  free(list);
  return WEFT_OK;
}

static int check_wire(struct checker *c, size_t i, size_t w_i) {
  struct weft_invocation *inv = &c->job->ops[i];
  struct weft_wire *w = &inv->wires[w_i];
  char h[160];
  int rc = check_input(c, inv, w, c->src->inv[i].wire_keys[w_i]);
  if (rc) return rc;
  void *v;
  if (!weft_map_find(&c->inv_by_name, w->from_op, &v)) {
    hint(c, h, sizeof h, w->from_op, c->inv_names, c->job->n_ops);
    int is_def = weft_map_find(&c->inline_by_name, w->from_op, NULL) ||
                 weft_map_find(c->scope->by_name, w->from_op, NULL);
    weft__dsl_error(
        c->d, w->mark,
        "unknown upstream op '%s' wired to input '%s' of op '%s'%s%s",
        w->from_op, w->input, inv->name, h,
        is_def ? " (that is an op definition: add an op that uses it to "
                 "the graph and wire from that)"
               : "");
    return WEFT_OK;
  }
  w->from_index = IDX(v);
  const struct weft_invocation *up = &c->job->ops[w->from_index];
  if (!up->def) return WEFT_OK; /* its unknown `uses` is reported already */
  const struct weft_port *out =
      weft_op_def_find_output(up->def, w->from_output);
  if (!out) {
    const char **names = port_names(up->def->outputs, up->def->n_outputs);
    char *list = port_list(up->def->outputs, up->def->n_outputs);
    if (!names || !list) {
      free(names);
      free(list);
      return WEFT_ENOMEM;
    }
    hint(c, h, sizeof h, w->from_output, names, up->def->n_outputs);
    weft__dsl_error(
        c->d, w->mark,
        "op '%s' has no output '%s' (wired to input '%s' of op '%s')%s; "
        "its outputs: %s",
        up->name, w->from_output, w->input, inv->name, h, list);
    free(names);
    free(list);
    return WEFT_OK;
  }
  const struct weft_port *in = weft_op_def_find_input(inv->def, w->input);
  /* map: the input gets one item of a list; over a mapped step (chained),
   * one item's output as it is. */
  if (inv->mapped && w_i == inv->map_wire && inv->map_nested) {
    if (!up->mapped)
      weft__dsl_error(c->d, w->mark,
                      "op '%s': map over '%s[*].%s': '%s' has no map:, so it has no items "
                      "(map over '%s.%s')", inv->name, up->name, out->name, up->name,
                      up->name, out->name);
    else if (up->map_nested)
      weft__dsl_error(c->d, w->mark,
                      "op '%s': map over '%s[*].%s': '%s' is a nested map already, and maps "
                      "nest once", inv->name, up->name, out->name, up->name);
    else if (out->type != WEFT_TYPE_LIST && out->type != WEFT_TYPE_ANY)
      weft__dsl_error(c->d, w->mark,
                      "op '%s': map over '%s[*].%s', which is %s, not a list", inv->name,
                      up->name, out->name, weft_type_name(out->type));
    return WEFT_OK;
  }
  if (inv->mapped && w_i == inv->map_wire && !up->mapped) {
    if (out->type != WEFT_TYPE_LIST && out->type != WEFT_TYPE_ANY)
      weft__dsl_error(c->d, w->mark,
                      "op '%s': map over '%s.%s', which is %s, not a list", inv->name,
                      up->name, out->name, weft_type_name(out->type));
    return WEFT_OK;
  }
  /* Wired to a mapped step (not as a chained map): the list of its items'
   * outputs (collect). */
  enum weft_type got = up->mapped && !(inv->mapped && w_i == inv->map_wire) ? WEFT_TYPE_LIST
                                                                              : out->type;
  if (in && !weft_type_assignable(got, in->type))
    weft__dsl_error(
        c->d, w->mark,
        "type mismatch: output '%s.%s' is %s%s but input '%s' of op '%s' is %s",
        up->name, out->name, weft_type_name(got),
        got != out->type ? " (the collected outputs of a mapped step)" : "", w->input,
        inv->name, weft_type_name(in->type));
  return WEFT_OK;
}

static void check_after(struct checker *c, size_t i) {
  struct weft_invocation *inv = &c->job->ops[i];
  char h[160];
  for (size_t a = 0; a < inv->n_after; a++) {
    void *v;
    if (weft_map_find(&c->inv_by_name, inv->after[a].op, &v)) {
      inv->after[a].index = IDX(v);
      continue;
    }
    hint(c, h, sizeof h, inv->after[a].op, c->inv_names, c->job->n_ops);
    weft__dsl_error(c->d, inv->after[a].mark,
                    "op '%s': unknown op '%s' in 'after'%s", inv->name,
                    inv->after[a].op, h);
  }
}

static long find_inv(void *data, const char *name) {
  struct checker *c = data;
  void *v;
  return weft_map_find(&c->inv_by_name, name, &v) ? (long)IDX(v) : -1;
}

/* `when:` names steps: each is resolved (or reported) now. */
static int check_when(struct checker *c, size_t i) {
  struct weft_invocation *inv = &c->job->ops[i];
  if (!inv->when) return WEFT_OK;
  return weft_when_resolve(inv->when, c->job, inv, find_inv, c, 1, c->d);
}

/* upstream = distinct wired, `after` and `when:` invocations, first
 * appearance first; seen[] holds i + 1 for upstreams already taken for
 * invocation i. */
static int fill_upstream(struct checker *c, struct weft_job *job, size_t *seen) {
  for (size_t i = 0; i < job->n_ops; i++) {
    struct weft_invocation *inv = &job->ops[i];
    size_t n_refs = inv->when ? inv->when->n_refs : 0;
    size_t cap = inv->n_wires + inv->n_after + n_refs;
    free(inv->upstream);
    inv->upstream = NULL;
    inv->n_upstream = 0;
    if (!cap) continue;
    if (!(inv->upstream = malloc(cap * sizeof *inv->upstream)))
      return WEFT_ENOMEM;
    for (size_t k = 0; k < cap; k++) {
      size_t u;
      if (k < inv->n_wires) {
        u = inv->wires[k].from_index;
      } else if (k < inv->n_wires + inv->n_after) {
        u = inv->after[k - inv->n_wires].index;
      } else {
        const struct weft_when_ref *r = &inv->when->refs[k - inv->n_wires - inv->n_after];
        long f = r->step ? find_inv(c, r->step) : -1;
        u = f < 0 ? (size_t)-1 : (size_t)f;
      }
      if (u == (size_t)-1 || seen[u] == i + 1) continue;
      seen[u] = i + 1;
      inv->upstream[inv->n_upstream++] = u;
    }
  }
  return WEFT_OK;
}

/* ---- topological order ----------------------------------------------------
 */

static void heap_push(size_t *h, size_t *n, size_t v) {
  size_t i = (*n)++;
  while (i && h[(i - 1) / 2] > v) {
    h[i] = h[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h[i] = v;
}

static size_t heap_pop(size_t *h, size_t *n) {
  size_t top = h[0], last = h[--(*n)], i = 0;
  for (;;) {
    size_t l = 2 * i + 1, m = l + 1, s = i;
    size_t vs = last;
    if (l < *n && h[l] < vs) s = l, vs = h[l];
    if (m < *n && h[m] < vs) s = m;
    if (s == i) break;
    h[i] = h[s];
    i = s;
  }
  if (*n) h[i] = last;
  return top;
}

/* One diagnostic per cycle, walking upstream edges among the ops Kahn left
 * over (each has a leftover upstream, so every walk ends on a cycle or on an
 * earlier walk). O(ops + edges). */
static int report_cycles(struct checker *c, const size_t *indeg) {
  struct weft_job *job = c->job;
  size_t n = job->n_ops;
  unsigned char *state = calloc(n, 1);
  size_t *path = malloc(n * sizeof *path);
  int rc = WEFT_OK;
  if (!state || !path) {
    rc = WEFT_ENOMEM;
    goto done;
  }
  for (size_t r = 0; r < n; r++) {
    if (!indeg[r] || state[r]) continue;
    size_t top = 0, cur = r;
    while (!state[cur]) {
      state[cur] = 1;
      path[top++] = cur;
      const struct weft_invocation *inv = &job->ops[cur];
      size_t next = cur;
      for (size_t u = 0; u < inv->n_upstream; u++)
        if (indeg[inv->upstream[u]]) {
          next = inv->upstream[u];
          break;
        }
      cur = next;
    }
    if (state[cur] == 1) {
      /* path[k] == cur; data flows cur -> path[top-1] -> ... -> path[k+1] ->
       * cur */
      size_t k = 0;
      while (path[k] != cur) k++;
      size_t len = top - k, start = 0;
      for (size_t j = 0; j < len; j++)
        if (path[k + j] < path[k + start]) start = j;
      struct weft_buf b = WEFT_BUF_INIT;
      /* walk data-flow order: from path[k+start] to its downstream, which is
       * the element before it in path (wrapping) */
      for (size_t j = 0; j <= len; j++) {
        size_t pos = k + (start + len - j % len) % len;
        weft_buf_addf(&b, "%s%s", j ? " -> " : "", job->ops[path[pos]].name);
      }
      weft__dsl_error(c->d, job->ops[path[k + start]].mark,
                      "cycle in job '%s': %s", job->name, b.ptr);
      weft_buf_release(&b);
    }
    for (size_t j = 0; j < top; j++) state[path[j]] = 2;
  }
done:
  free(state);
  free(path);
  return rc;
}

/* Kahn's algorithm with a min-heap on declaration index, so among ready ops
 * the one declared first comes first. Reorders job->ops when acyclic. */
static int toposort(struct checker *c) {
  struct weft_job *job = c->job;
  size_t n = job->n_ops, done_n = 0, heap_n = 0;
  size_t *indeg = calloc(n, sizeof *indeg), *off = calloc(n + 1, sizeof *off);
  size_t *down = NULL, *heap = malloc(n * sizeof *heap),
         *order = malloc(n * sizeof *order);
  struct weft_invocation *sorted = NULL;
  int rc = WEFT_OK;
  if (!indeg || !off || !heap || !order) goto nomem;
  size_t edges = 0;
  for (size_t i = 0; i < n; i++) {
    indeg[i] = job->ops[i].n_upstream;
    edges += indeg[i];
    for (size_t u = 0; u < job->ops[i].n_upstream; u++)
      off[job->ops[i].upstream[u] + 1]++;
  }
  for (size_t i = 0; i < n; i++) off[i + 1] += off[i];
  if (!(down = malloc((edges ? edges : 1) * sizeof *down))) goto nomem;
  {
    size_t *fill = heap; /* reuse as a cursor array before the heap is needed */
    memcpy(fill, off, n * sizeof *fill);
    for (size_t i = 0; i < n; i++)
      for (size_t u = 0; u < job->ops[i].n_upstream; u++)
        down[fill[job->ops[i].upstream[u]]++] = i;
  }
  for (size_t i = 0; i < n; i++)
    if (!indeg[i]) heap_push(heap, &heap_n, i);
  while (heap_n) {
    size_t i = heap_pop(heap, &heap_n);
    order[done_n++] = i;
    for (size_t e = off[i]; e < off[i + 1]; e++)
      if (!--indeg[down[e]]) heap_push(heap, &heap_n, down[e]);
  }
  if (done_n < n) {
    rc = report_cycles(c, indeg);
    goto done;
  }
  /* pos[old] = new index; heap is free again and becomes pos */
  size_t *pos = heap;
  for (size_t k = 0; k < n; k++) pos[order[k]] = k;
  if (!(sorted = malloc(n * sizeof *sorted))) goto nomem;
  for (size_t k = 0; k < n; k++) {
    struct weft_invocation *inv = &sorted[k];
    *inv = job->ops[order[k]];
    inv->level = 0;
    for (size_t u = 0; u < inv->n_upstream; u++) {
      inv->upstream[u] = pos[inv->upstream[u]];
      if (sorted[inv->upstream[u]].level + 1 > inv->level)
        inv->level = sorted[inv->upstream[u]].level + 1;
    }
    for (size_t w = 0; w < inv->n_wires; w++)
      if (inv->wires[w].from_index != (size_t)-1)
        inv->wires[w].from_index = pos[inv->wires[w].from_index];
    for (size_t a = 0; a < inv->n_after; a++)
      if (inv->after[a].index != (size_t)-1)
        inv->after[a].index = pos[inv->after[a].index];
  }
  free(job->ops);
  job->ops = sorted;
  goto done;
nomem:
  rc = WEFT_ENOMEM;
done:
  free(indeg);
  free(off);
  free(down);
  free(heap);
  free(order);
  return rc;
}

int weft__dsl_check_job(struct weft_diags *d,
                        const struct weft__dsl_scope *scope,
                        struct weft_job *job,
                        const struct weft__dsl_job_src *src) {
  struct checker c = {
      .d = d, .scope = scope, .job = job, .src = src, .hints_left = MAX_HINTS};
  size_t *seen = NULL;
  int rc = collect_names(&c);
  if (!rc) rc = index_names(&c);
  for (size_t i = 0; !rc && i < job->n_ops; i++) {
    struct weft_invocation *inv = &job->ops[i];
    resolve_uses(&c, i);
    check_after(&c, i);
    if (src->inv[i].config) {
      if (!(inv->config = json_object())) rc = WEFT_ENOMEM;
      /* unknown keys are reported; the values that check out are kept */
      if (!rc && inv->def)
        rc = weft__dsl_check_config_values(d, inv->def, inv->name,
                                           src->inv[i].config, inv->config);
      else if (!rc) {
        json_decref(inv->config);
        if (!(inv->config = weft__ynode_to_json(src->inv[i].config)))
          rc = WEFT_ENOMEM;
      }
    }
  }
  /* wires after every `uses` is resolved: they look at the upstream's def */
  for (size_t i = 0; !rc && i < job->n_ops; i++) {
    for (size_t w = 0; !rc && w < job->ops[i].n_wires; w++)
      rc = check_wire(&c, i, w);
    if (!rc) rc = check_when(&c, i);
  }
  if (!rc && job->n_ops) {
    if (!(seen = calloc(job->n_ops, sizeof *seen)))
      rc = WEFT_ENOMEM;
    else
      rc = fill_upstream(&c, job, seen);
  }
  if (!rc && job->n_ops) rc = toposort(&c);
  free(seen);
  free(c.def_names);
  free(c.inv_names);
  weft_map_release(&c.inline_by_name);
  weft_map_release(&c.inv_by_name);
  return rc;
}

int weft__dsl_check_config_values(struct weft_diags *d,
                                  const struct weft_op_def *def,
                                  const char *inv_name,
                                  const struct weft__ynode *config,
                                  json_t *out) {
  const char **names = malloc((def->n_config + 1) * sizeof *names);
  if (!names) return WEFT_ENOMEM;
  for (size_t i = 0; i < def->n_config; i++) names[i] = def->config[i].name;
  int rc = WEFT_OK;
  for (size_t i = 0; !rc && i < config->u.map.n; i++) {
    const struct weft__ynode *k = config->u.map.pairs[i].key,
                             *v = config->u.map.pairs[i].value;
    const struct weft_config_field *f =
        weft_op_def_find_config(def, k->u.scalar.text);
    char h[160];
    if (!f) {
      weft__dsl_suggest(h, sizeof h, k->u.scalar.text, names, def->n_config);
      if (def->n_config)
        weft__dsl_error(d, k->mark, "unknown config key '%s' for op '%s'%s",
                        k->u.scalar.text, inv_name, h);
      else
        weft__dsl_error(
            d, k->mark,
            "unknown config key '%s' for op '%s': op definition '%s' "
            "declares no config",
            k->u.scalar.text, inv_name, def->name);
      continue;
    }
    json_t *val = weft__ynode_to_json(v);
    if (!val) {
      rc = WEFT_ENOMEM;
      break;
    }
    char what[300];
    snprintf(what, sizeof what, "config '%s' of op '%s'", f->name, inv_name);
    int ok = weft__dsl_check_value(d, v->mark, f->type, val, what);
    if (ok && f->enum_values && !weft__dsl_enum_has(f->enum_values, val)) {
      char *list = weft__dsl_enum_list(f->enum_values);
      char *got = json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
      weft__dsl_error(d, v->mark, "%s must be one of %s, got %s", what,
                      list ? list : "?", got ? got : "?");
      free(list);
      free(got);
      ok = 0;
    }
    if (ok && out && json_object_set(out, f->name, val)) rc = WEFT_ENOMEM;
    json_decref(val);
  }
  free(names);
  return rc;
}
