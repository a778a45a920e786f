/* compose.c: job composition. An invocation `uses: job:OTHER` is flattened,
 * once every job of a location is loaded, into OTHER's steps renamed
 * `INVOCATION.step` (recursively: a sub-job's own sub-jobs first), so the
 * engine only ever sees plain steps. Its `inputs:` (`STEP.INPUT: up.out`)
 * wire the sub-job's unwired inputs, its `config:` (`STEP: {KEY: value}`)
 * fixes config values; other steps wire `INVOCATION.STEP.OUTPUT` and wait
 * on `after: [INVOCATION]` (every step of the sub-job). Mistakes (an
 * unknown job, a cycle through sub-jobs, an unknown step, input or output)
 * are diagnostics at the invocation's file:line:col, and the job is then
 * not valid. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "model/when_expr.h"
#include "util/map.h"
#include "util/str.h"

#define IDX(v) ((size_t)(uintptr_t)(v)-1)
#define VAL(i) ((void *)(uintptr_t)((i) + 1))

struct composer {
  struct weft_location *loc;
  unsigned char *state; /* per job: 0 new, 1 being flattened, 2 done */
  size_t *stack;        /* jobs being flattened, for the cycle's message */
  size_t depth;
  int nomem;
};

__attribute__((format(printf, 4, 5))) static void diag(struct weft_job *job,
                                                       struct weft_location *loc,
                                                       struct weft_mark at, const char *fmt,
                                                       ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  weft_diags_addf(&loc->diags, at.file, at.line, at.col, "%s", msg);
  job->valid = 0;
}

static long step_index(const struct weft_job *job, const char *name) {
  for (size_t i = 0; i < job->n_ops; i++)
    if (!strcmp(job->ops[i].name, name)) return (long)i;
  return -1;
}

static long job_index(const struct weft_location *loc, const char *name) {
  for (size_t i = 0; i < loc->n_jobs; i++)
    if (!strcmp(loc->jobs[i].name, name)) return (long)i;
  return -1;
}

/* ---- copying a sub-job's step under a prefix ----------------------------------- */

static char *prefixed(const char *prefix, const char *name) {
  return weft_str_printf("%s.%s", prefix, name);
}

static int copy_step(const struct weft_invocation *s, const char *prefix,
                     struct weft_invocation *d) {
  memset(d, 0, sizeof *d);
  d->name = prefixed(prefix, s->name);
  d->uses = weft_str_dup(s->uses);
  d->def = s->def;
  d->mark = s->mark;
  d->trigger = s->trigger;
  d->mapped = s->mapped;
  d->map_nested = s->map_nested;
  d->map_wire = s->map_wire; /* wires are copied in order, first */
  d->max_items = s->max_items;
  if (!d->name || !d->uses) return WEFT_ENOMEM;
  if (s->config && !(d->config = json_deep_copy(s->config))) return WEFT_ENOMEM;
  /* Room for one more wire per input: the composite's inputs land here. */
  size_t cap = s->n_wires + (s->def ? s->def->n_inputs : 0);
  if (cap && !(d->wires = calloc(cap, sizeof *d->wires))) return WEFT_ENOMEM;
  for (size_t w = 0; w < s->n_wires; w++) {
    struct weft_wire *o = &d->wires[d->n_wires++];
    o->input = weft_str_dup(s->wires[w].input);
    o->from_op = prefixed(prefix, s->wires[w].from_op);
    o->from_output = weft_str_dup(s->wires[w].from_output);
    o->mark = s->wires[w].mark;
    o->from_index = (size_t)-1;
    if (!o->input || !o->from_op || !o->from_output) return WEFT_ENOMEM;
  }
  if (s->n_after && !(d->after = calloc(s->n_after, sizeof *d->after))) return WEFT_ENOMEM;
  for (size_t a = 0; a < s->n_after; a++) {
    d->after[d->n_after].mark = s->after[a].mark;
    d->after[d->n_after].index = (size_t)-1;
    if (!(d->after[d->n_after++].op = prefixed(prefix, s->after[a].op))) return WEFT_ENOMEM;
  }
  if (s->when) {
    if (!(d->when = weft_when_dup(s->when))) return WEFT_ENOMEM;
    for (size_t r = 0; r < d->when->n_refs; r++) {
      struct weft_when_ref *ref = &d->when->refs[r];
      if (!ref->step) continue;
      char *n = prefixed(prefix, ref->step);
      if (!n) return WEFT_ENOMEM;
      free(ref->step);
      ref->step = n;
    }
  }
  return WEFT_OK;
}

static int add_after(struct weft_invocation *inv, const char *op, struct weft_mark mark) {
  struct weft_dep *a = realloc(inv->after, (inv->n_after + 1) * sizeof *a);
  if (!a) return WEFT_ENOMEM;
  inv->after = a;
  a[inv->n_after].mark = mark;
  a[inv->n_after].index = (size_t)-1;
  return (a[inv->n_after++].op = weft_str_dup(op)) ? WEFT_OK : WEFT_ENOMEM;
}

/* The sub-job's steps under the composite c, wired and configured as c
 * says; appended to out[*n]. */
static int flatten_one(struct weft_location *loc, struct weft_job *job,
                       const struct weft_invocation *c, const struct weft_job *sub,
                       struct weft_invocation *out, size_t *n) {
  size_t first = *n;
  if (c->mapped) /* a map would need items of a whole sub-graph */
    diag(job, loc, c->wires[c->map_wire].mark,
         "op '%s': map: over a sub-job (uses: job:%s) is not supported; map its steps "
         "inside job '%s' instead", c->name, sub->name, sub->name);
  for (size_t s = 0; s < sub->n_ops; s++) {
    int rc = copy_step(&sub->ops[s], c->name, &out[(*n)++]);
    if (rc) return rc;
  }
  /* inputs: {STEP.INPUT: up.out} */
  for (size_t w = 0; w < c->n_wires; w++) {
    const struct weft_wire *cw = &c->wires[w];
    const char *dot = strrchr(cw->input, '.');
    long s = -1;
    if (dot) {
      char *step = strndup(cw->input, (size_t)(dot - cw->input));
      if (!step) return WEFT_ENOMEM;
      s = step_index(sub, step);
      free(step);
    }
    if (s < 0) {
      diag(job, loc, cw->mark,
           "op '%s': input '%s' must name a step of job '%s' and its input (STEP.INPUT)",
           c->name, cw->input, sub->name);
      continue;
    }
    struct weft_invocation *t = &out[first + (size_t)s];
    const char *in = dot + 1;
    if (!weft_op_def_find_input(t->def, in)) {
      diag(job, loc, cw->mark, "op '%s': step '%s' of job '%s' has no input '%s'", c->name,
           sub->ops[s].name, sub->name, in);
      continue;
    }
    if (weft_invocation_find_wire(t, in)) {
      diag(job, loc, cw->mark,
           "op '%s': input '%s' of step '%s' is already wired in job '%s'", c->name, in,
           sub->ops[s].name, sub->name);
      continue;
    }
    struct weft_wire *o = &t->wires[t->n_wires++];
    o->input = weft_str_dup(in);
    o->from_op = weft_str_dup(cw->from_op);
    o->from_output = weft_str_dup(cw->from_output);
    o->mark = cw->mark;
    o->from_index = (size_t)-1;
    if (!o->input || !o->from_op || !o->from_output) return WEFT_ENOMEM;
  }
  /* config: {STEP: {KEY: value}} */
  const char *step_name;
  json_t *vals;
  if (c->config && !json_is_object(c->config)) {
    diag(job, loc, c->mark, "op '%s': config of a sub-job maps its steps to config values",
         c->name);
  } else if (c->config) {
    json_object_foreach(c->config, step_name, vals) {
      long s = step_index(sub, step_name);
      if (s < 0 || !json_is_object(vals)) {
        diag(job, loc, c->mark, "op '%s': config key '%s' %s", c->name, step_name,
             s < 0 ? "is not a step of the sub-job" : "must map config keys to values");
        continue;
      }
      struct weft_invocation *t = &out[first + (size_t)s];
      const char *key;
      json_t *v;
      json_object_foreach(vals, key, v) {
        const struct weft_config_field *f = weft_op_def_find_config(t->def, key);
        if (!f || !weft_type_check_json(f->type, v)) {
          diag(job, loc, c->mark, "op '%s': config '%s' of step '%s': %s", c->name, key,
               step_name, f ? "wrong type" : "unknown key");
          continue;
        }
        if (!t->config && !(t->config = json_object())) return WEFT_ENOMEM;
        if (json_object_set(t->config, key, v)) return WEFT_ENOMEM;
      }
    }
  }
  /* after: on the composite holds back the sub-job's first steps. */
  for (size_t s = first; s < *n; s++) {
    if (out[s].n_wires || out[s].n_after || sub->ops[s - first].n_upstream) continue;
    for (size_t a = 0; a < c->n_after; a++)
      if (add_after(&out[s], c->after[a].op, c->after[a].mark)) return WEFT_ENOMEM;
  }
  return WEFT_OK;
}

/* ---- names to indexes, order ------------------------------------------------------ */

static long find_name(void *data, const char *name) {
  void *v;
  return weft_map_find(data, name, &v) ? (long)IDX(v) : -1;
}

/* Resolves every wire, after and when: of job->ops by name and fills
 * upstream; reports what does not resolve (report set). */
static int link(struct weft_location *loc, struct weft_job *job, int report) {
  struct weft_map names = WEFT_MAP_INIT;
  int rc = weft_map_reserve(&names, job->n_ops);
  for (size_t i = 0; !rc && i < job->n_ops; i++)
    rc = weft_map_put(&names, job->ops[i].name, VAL(i)) == WEFT_ENOMEM ? WEFT_ENOMEM : 0;
  for (size_t i = 0; !rc && i < job->n_ops; i++) {
    struct weft_invocation *inv = &job->ops[i];
    size_t n_refs = inv->when ? inv->when->n_refs : 0;
    free(inv->upstream);
    inv->upstream = NULL;
    inv->n_upstream = 0;
    size_t cap = inv->n_wires + inv->n_after + n_refs;
    if (cap && !(inv->upstream = malloc(cap * sizeof *inv->upstream))) {
      rc = WEFT_ENOMEM;
      break;
    }
    for (size_t w = 0; w < inv->n_wires; w++) {
      struct weft_wire *wi = &inv->wires[w];
      long u = find_name(&names, wi->from_op);
      wi->from_index = u < 0 ? (size_t)-1 : (size_t)u;
      if (u < 0) {
        if (report)
          diag(job, loc, wi->mark, "op '%s': input '%s' is wired to unknown step '%s'",
               inv->name, wi->input, wi->from_op);
        continue;
      }
      const struct weft_invocation *up = &job->ops[u];
      const struct weft_port *o = weft_op_def_find_output(up->def, wi->from_output);
      const struct weft_port *in = weft_op_def_find_input(inv->def, wi->input);
      if (report && !o)
        diag(job, loc, wi->mark, "op '%s': step '%s' has no output '%s' (wired to input '%s')",
             inv->name, up->name, wi->from_output, wi->input);
      else if (report && o && in && !weft_type_assignable(o->type, in->type))
        diag(job, loc, wi->mark,
             "type mismatch: output '%s.%s' is %s but input '%s' of op '%s' is %s", up->name,
             o->name, weft_type_name(o->type), wi->input, inv->name, weft_type_name(in->type));
    }
    for (size_t a = 0; a < inv->n_after; a++) {
      long u = find_name(&names, inv->after[a].op);
      inv->after[a].index = u < 0 ? (size_t)-1 : (size_t)u;
      if (u < 0 && report)
        diag(job, loc, inv->after[a].mark, "op '%s': unknown op '%s' in 'after'", inv->name,
             inv->after[a].op);
    }
    if (inv->when && report &&
        (rc = weft_when_resolve(inv->when, job, inv, find_name, &names, 0, &loc->diags)))
      break;
    for (size_t k = 0; k < cap; k++) {
      long u;
      if (k < inv->n_wires)
        u = (long)inv->wires[k].from_index;
      else if (k < inv->n_wires + inv->n_after)
        u = (long)inv->after[k - inv->n_wires].index;
      else {
        const struct weft_when_ref *r = &inv->when->refs[k - inv->n_wires - inv->n_after];
        u = r->step ? find_name(&names, r->step) : -1;
      }
      if (u < 0 || (size_t)u == (size_t)-1) continue;
      size_t j = 0;
      while (j < inv->n_upstream && inv->upstream[j] != (size_t)u) j++;
      if (j == inv->n_upstream) inv->upstream[inv->n_upstream++] = (size_t)u;
    }
  }
  weft_map_release(&names);
  return rc;
}

/* Kahn's algorithm, ties in array order; job->ops reordered, levels set.
 * WEFT_EINVALID (reported) on a cycle. */
static int order(struct weft_location *loc, struct weft_job *job) {
  size_t n = job->n_ops, head = 0, tail = 0, edges = 0;
  size_t *indeg = calloc(n ? n : 1, sizeof *indeg), *queue = malloc((n ? n : 1) * sizeof *queue);
  size_t *off = calloc(n + 1, sizeof *off), *down = NULL;
  struct weft_invocation *sorted = malloc((n ? n : 1) * sizeof *sorted);
  int rc = WEFT_OK;
  if (!indeg || !queue || !off || !sorted) {
    rc = WEFT_ENOMEM;
    goto done;
  }
  /* Downstream lists in one array (off[i]..off[i+1]): linear in steps and
   * edges, so a sub-job used many times stays cheap. */
  for (size_t i = 0; i < n; i++) {
    indeg[i] = job->ops[i].n_upstream;
    edges += indeg[i];
    for (size_t u = 0; u < job->ops[i].n_upstream; u++) off[job->ops[i].upstream[u] + 1]++;
  }
  for (size_t i = 0; i < n; i++) off[i + 1] += off[i];
  if (!(down = malloc((edges ? edges : 1) * sizeof *down))) {
    rc = WEFT_ENOMEM;
    goto done;
  }
  memcpy(queue, off, n * sizeof *queue); /* fill cursors, before the queue is used */
  for (size_t i = 0; i < n; i++)
    for (size_t u = 0; u < job->ops[i].n_upstream; u++) down[queue[job->ops[i].upstream[u]]++] = i;
  for (size_t i = 0; i < n; i++)
    if (!indeg[i]) queue[tail++] = i;
  while (head < tail) {
    size_t i = queue[head++];
    for (size_t e = off[i]; e < off[i + 1]; e++)
      if (!--indeg[down[e]]) queue[tail++] = down[e];
  }
  if (tail < n) {
    for (size_t i = 0; i < n; i++)
      if (indeg[i]) {
        diag(job, loc, job->ops[i].mark, "cycle in job '%s' through step '%s' of a sub-job",
             job->name, job->ops[i].name);
        break;
      }
    rc = WEFT_EINVALID;
    goto done;
  }
  for (size_t k = 0; k < n; k++) sorted[k] = job->ops[queue[k]];
  free(job->ops);
  job->ops = sorted;
  sorted = NULL;
  if ((rc = link(loc, job, 0))) goto done;
  for (size_t i = 0; i < n; i++) {
    struct weft_invocation *inv = &job->ops[i];
    inv->level = 0;
    for (size_t u = 0; u < inv->n_upstream; u++)
      if (job->ops[inv->upstream[u]].level + 1 > inv->level)
        inv->level = job->ops[inv->upstream[u]].level + 1;
  }
done:
  free(indeg);
  free(queue);
  free(off);
  free(down);
  free(sorted);
  return rc;
}

/* A wire `C.rest` to composite C names step C.X's output: `C.step.out`, or
 * `C.step` (its result); the longest step name wins. */
static int rewire(struct weft_location *loc, struct weft_job *job, struct weft_wire *w,
                  const struct weft_invocation *ops, size_t n) {
  char *full = prefixed(w->from_op, w->from_output);
  if (!full) return WEFT_ENOMEM;
  char *step = NULL, *out = NULL;
  for (size_t i = 0; i < n && !step; i++)
    if (!strcmp(ops[i].name, full)) {
      step = weft_str_dup(full);
      out = weft_str_dup("result");
    }
  for (char *dot = strrchr(full, '.'); !step && dot; dot = NULL) {
    *dot = 0;
    for (size_t i = 0; i < n && !step; i++)
      if (!strcmp(ops[i].name, full)) {
        step = weft_str_dup(full);
        out = weft_str_dup(dot + 1);
      }
  }
  if (!step) {
    diag(job, loc, w->mark, "input '%s' is wired to '%s.%s', which is no step of sub-job '%s'",
         w->input, w->from_op, w->from_output, w->from_op);
    free(full);
    return WEFT_OK;
  }
  free(full);
  free(w->from_op);
  free(w->from_output);
  w->from_op = step;
  w->from_output = out;
  return step && out ? WEFT_OK : WEFT_ENOMEM;
}

/* ---- flattening a job ------------------------------------------------------------ */

static int compose_job(struct composer *cp, size_t j);

static int flatten(struct composer *cp, struct weft_job *job) {
  struct weft_location *loc = cp->loc;
  size_t total = 0;
  for (size_t i = 0; i < job->n_ops; i++) {
    const struct weft_invocation *inv = &job->ops[i];
    if (!inv->sub_job) {
      total++;
      continue;
    }
    long s = job_index(loc, inv->sub_job);
    if (s < 0) {
      diag(job, loc, inv->mark, "op '%s' uses unknown job '%s'", inv->name, inv->sub_job);
      continue;
    }
    if (cp->state[s] == 1) {
      char path[512] = "";
      size_t len = 0;
      for (size_t k = 0; k < cp->depth && len < sizeof path; k++)
        len += (size_t)snprintf(path + len, sizeof path - len, "%s -> ",
                                loc->jobs[cp->stack[k]].name);
      diag(job, loc, inv->mark, "cycle through sub-jobs: %s%s", path, inv->sub_job);
      continue;
    }
    int rc = compose_job(cp, (size_t)s);
    if (rc) return rc;
    const struct weft_job *sub = &loc->jobs[s];
    if (!sub->valid)
      diag(job, loc, inv->mark, "op '%s' uses job '%s', which has errors", inv->name,
           sub->name);
    total += sub->n_ops;
  }
  if (!job->valid) return WEFT_OK;
  struct weft_invocation *ops = calloc(total ? total : 1, sizeof *ops);
  if (!ops) return WEFT_ENOMEM;
  size_t n = 0;
  int rc = WEFT_OK;
  for (size_t i = 0; !rc && i < job->n_ops; i++) {
    const struct weft_invocation *inv = &job->ops[i];
    if (inv->sub_job)
      rc = flatten_one(loc, job, inv, &loc->jobs[job_index(loc, inv->sub_job)], ops, &n);
    else
      ops[n++] = *inv;
  }
  /* Wires and after: that name a composite now name its steps. */
  for (size_t i = 0; !rc && i < n; i++) {
    struct weft_invocation *inv = &ops[i];
    for (size_t w = 0; !rc && w < inv->n_wires; w++) {
      long c = step_index(job, inv->wires[w].from_op);
      if (c >= 0 && job->ops[c].sub_job) rc = rewire(loc, job, &inv->wires[w], ops, n);
    }
    for (size_t a = 0; !rc && a < inv->n_after; a++) {
      long c = step_index(job, inv->after[a].op);
      if (c < 0 || !job->ops[c].sub_job) continue;
      /* after: [C] waits for every step of C. */
      char *cname = inv->after[a].op;
      struct weft_mark m = inv->after[a].mark;
      memmove(&inv->after[a], &inv->after[a + 1], (inv->n_after - a - 1) * sizeof *inv->after);
      inv->n_after--;
      size_t plen = strlen(cname);
      for (size_t k = 0; !rc && k < n; k++)
        if (!strncmp(ops[k].name, cname, plen) && ops[k].name[plen] == '.')
          rc = add_after(inv, ops[k].name, m);
      free(cname);
      a--;
    }
  }
  /* The composites themselves are gone; their steps own copies. */
  for (size_t i = 0; i < job->n_ops; i++)
    if (job->ops[i].sub_job) weft__invocation_release(&job->ops[i]);
  free(job->ops);
  job->ops = ops;
  job->n_ops = n;
  if (rc) return rc;
  if (!job->valid) return WEFT_OK;
  if ((rc = link(loc, job, 1))) return rc;
  if (!job->valid) return WEFT_OK;
  rc = order(loc, job);
  return rc == WEFT_EINVALID ? WEFT_OK : rc;
}

static int compose_job(struct composer *cp, size_t j) {
  if (cp->state[j]) return WEFT_OK;
  struct weft_job *job = &cp->loc->jobs[j];
  int has = 0;
  for (size_t i = 0; i < job->n_ops; i++) has |= job->ops[i].sub_job != NULL;
  if (!has) {
    cp->state[j] = 2;
    return WEFT_OK;
  }
  cp->state[j] = 1;
  cp->stack[cp->depth++] = j;
  int rc = flatten(cp, job);
  cp->depth--;
  cp->state[j] = 2;
  return rc;
}

int weft__location_compose(struct weft_location *loc) {
  struct composer cp = {0};
  cp.loc = loc;
  cp.state = calloc(loc->n_jobs ? loc->n_jobs : 1, 1);
  cp.stack = calloc(loc->n_jobs ? loc->n_jobs : 1, sizeof *cp.stack);
  int rc = cp.state && cp.stack ? WEFT_OK : WEFT_ENOMEM;
  for (size_t j = 0; !rc && j < loc->n_jobs; j++) rc = compose_job(&cp, j);
  free(cp.state);
  free(cp.stack);
  return rc;
}
