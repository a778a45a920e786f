/* job_parse.c: one jobs/ YAML file into a weft_job: inline op definitions and
 * the `graph:` of invocations with their wiring (resolved in job_check.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"
#include "model/when_expr.h"
#include "util/str.h"

static const char *const job_keys[] = {"name",  "description", "tags",
                                       "ops",   "graph",       "partitions",
                                       "schedules", "timeout",     "sla",
                                       "on_failure", "on_success", "on_sla_missed",
                                       NULL};
static const char *const inv_keys[] = {"uses", "inputs", "config", "after",
                                       "when", "trigger", "map", "max_items", NULL};

#define NOMEM_IF(x)            \
  do {                         \
    if (x) return WEFT_ENOMEM; \
  } while (0)

void weft__dsl_job_src_release(struct weft__dsl_job_src *src) {
  for (size_t i = 0; src->inv && i < src->n_inv; i++)
    free(src->inv[i].wire_keys);
  free(src->inv);
  free(src->inline_bad);
  src->inv = NULL;
  src->inline_bad = NULL;
}

/* Under a job's `ops:`, an entry is an invocation (as the form,
 * Dagster's job bodies) when it is a bare op name or a mapping with `uses:`
 * and nothing to run; otherwise it defines an op inline. `graph:` holds
 * invocations only. */
static int is_invocation_entry(const struct weft__ynode *v) {
  if (v->kind == WEFT__Y_SCALAR) return !weft__ynode_is_null(v);
  if (v->kind != WEFT__Y_MAP) return 0;
  if (weft__ymap_get(v, "run", NULL) || weft__ymap_get(v, "argv", NULL) ||
      weft__ymap_get(v, "c_function", NULL))
    return 0;
  if (weft__ymap_get(v, "uses", NULL)) return 1;
  /* No `uses:` (it defaults to the entry's name): an invocation when every
   * key is one an invocation takes. */
  for (size_t i = 0; i < v->u.map.n; i++) {
    const char *k = v->u.map.pairs[i].key->u.scalar.text;
    size_t j = 0;
    while (inv_keys[j] && strcmp(inv_keys[j], k)) j++;
    if (!inv_keys[j]) return 0;
  }
  return v->u.map.n > 0;
}

static int parse_inline_ops(struct weft_diags *d, const struct weft__ynode *n,
                            struct weft_job *job,
                            struct weft__dsl_job_src *src) {
  if (weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        d, n->mark,
        "job '%s': ops must be a mapping of op names to definitions, got %s",
        job->name, weft__ynode_describe(n));
    return WEFT_OK;
  }
  size_t cnt = n->u.map.n ? n->u.map.n : 1;
  job->inline_ops = calloc(cnt, sizeof *job->inline_ops);
  src->inline_bad = calloc(cnt, sizeof *src->inline_bad);
  NOMEM_IF(!job->inline_ops || !src->inline_bad);
  for (size_t i = 0; i < n->u.map.n; i++) {
    const struct weft__ypair *p = &n->u.map.pairs[i];
    if (is_invocation_entry(p->value)) continue;
    size_t before = d->n;
    int rc =
        weft__dsl_parse_op(d, p->key->u.scalar.text, p->key->mark, p->value, 0,
                           &job->inline_ops[job->n_inline_ops]);
    src->inline_bad[job->n_inline_ops++] = d->n != before;
    if (rc) return rc;
  }
  return WEFT_OK;
}

static int parse_wires(struct weft_diags *d, const struct weft__ynode *n,
                       const char *owner, struct weft_invocation *inv,
                       struct weft__dsl_inv_src *isrc) {
  if (weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        d, n->mark,
        "%s: inputs must be a mapping of input names to upstream ops "
        "('other_op' or 'other_op.output'), got %s",
        owner, weft__ynode_describe(n));
    return WEFT_OK;
  }
  inv->wires = calloc(n->u.map.n ? n->u.map.n : 1, sizeof *inv->wires);
  isrc->wire_keys =
      calloc(n->u.map.n ? n->u.map.n : 1, sizeof *isrc->wire_keys);
  NOMEM_IF(!inv->wires || !isrc->wire_keys);
  for (size_t i = 0; i < n->u.map.n; i++) {
    const struct weft__ynode *k = n->u.map.pairs[i].key,
                             *v = n->u.map.pairs[i].value;
    const char *src = weft__ynode_text(v);
    char got[96];
    if (!src || v->kind != WEFT__Y_SCALAR || v->u.scalar.len != strlen(src)) {
      weft__dsl_error(d, v->mark,
                      "%s: input '%s' must be wired as 'other_op' or "
                      "'other_op.output', got %s",
                      owner, k->u.scalar.text,
                      weft__dsl_got(got, sizeof got, v));
      continue;
    }
    const char *dot = strchr(src, '.');
    if (dot == src || (dot && !dot[1])) {
      weft__dsl_error(
          d, v->mark,
          "%s: malformed wire '%s' for input '%s' (use 'other_op' or "
          "'other_op.output')",
          owner, src, k->u.scalar.text);
      continue;
    }
    isrc->wire_keys[inv->n_wires] = k->mark;
    struct weft_wire *w = &inv->wires[inv->n_wires++];
    w->mark = v->mark;
    w->from_index = (size_t)-1;
    w->input = strdup(k->u.scalar.text);
    w->from_op = dot ? strndup(src, (size_t)(dot - src)) : strdup(src);
    w->from_output = strdup(dot ? dot + 1 : "result");
    NOMEM_IF(!w->input || !w->from_op || !w->from_output);
  }
  return WEFT_OK;
}

static int parse_after(struct weft_diags *d, const struct weft__ynode *n,
                       const char *owner, struct weft_invocation *inv) {
  if (weft__ynode_is_null(n)) return WEFT_OK;
  const struct weft__ynode *const *items = &n;
  size_t cnt = 1;
  if (n->kind == WEFT__Y_SEQ) {
    items = (const struct weft__ynode *const *)n->u.seq.items;
    cnt = n->u.seq.n;
  } else if (n->kind != WEFT__Y_SCALAR) {
    weft__dsl_error(d, n->mark, "%s: after must be a list of op names, got %s",
                    owner, weft__ynode_describe(n));
    return WEFT_OK;
  }
  inv->after = calloc(cnt ? cnt : 1, sizeof *inv->after);
  NOMEM_IF(!inv->after);
  for (size_t i = 0; i < cnt; i++) {
    const char *t = weft__ynode_text(items[i]);
    if (!t || items[i]->kind != WEFT__Y_SCALAR) {
      weft__dsl_error(d, items[i]->mark,
                      "%s: after must be a list of op names, got %s", owner,
                      weft__ynode_describe(items[i]));
      continue;
    }
    struct weft_dep *dep = &inv->after[inv->n_after++];
    dep->mark = items[i]->mark;
    dep->index = (size_t)-1;
    NOMEM_IF(!(dep->op = strdup(t)));
  }
  return WEFT_OK;
}

/* map: {INPUT: STEP.OUTPUT} (or STEP: its result): one more wire, marked as the map (model.h);
 * max_items: N. Whether INPUT, STEP and OUTPUT exist, and the list type, is
 * job_check.c's to say. */
static int parse_map(struct weft_diags *d, const struct weft__ynode *n,
                     const struct weft__ynode *mx, const char *owner,
                     struct weft_invocation *inv, struct weft__dsl_inv_src *isrc) {
  char got[96];
  if (mx && !weft__ynode_is_null(mx)) {
    const char *t = weft__ynode_text(mx);
    char *end = NULL;
    long v = t && mx->kind == WEFT__Y_SCALAR ? strtol(t, &end, 10) : 0;
    if (!end || *end || v < 1)
      weft__dsl_error(d, mx->mark, "%s: max_items must be a whole number >= 1, got %s", owner,
                      weft__dsl_got(got, sizeof got, mx));
    else
      inv->max_items = v;
  }
  if (!n || weft__ynode_is_null(n)) {
    if (mx && !weft__ynode_is_null(mx))
      weft__dsl_error(d, mx->mark, "%s: max_items bounds a mapped step: add map:", owner);
    return WEFT_OK;
  }
  if (n->kind != WEFT__Y_MAP || n->u.map.n != 1) {
    weft__dsl_error(d, n->mark,
                    "%s: map must be one entry {INPUT: STEP.OUTPUT} (the input that "
                    "receives each item, the list it maps over), got %s",
                    owner, weft__dsl_got(got, sizeof got, n));
    return WEFT_OK;
  }
  const struct weft__ynode *k = n->u.map.pairs[0].key, *v = n->u.map.pairs[0].value;
  const char *src = weft__ynode_text(v);
  const char *dot = src && v->kind == WEFT__Y_SCALAR ? strchr(src, '.') : NULL;
  if (!src || v->kind != WEFT__Y_SCALAR || !*src || dot == src || (dot && !dot[1])) {
    weft__dsl_error(d, v->mark,
                    "%s: map input '%s' must name a list as 'STEP' or 'STEP.OUTPUT', got %s",
                    owner, k->u.scalar.text, weft__dsl_got(got, sizeof got, v));
    return WEFT_OK;
  }
  for (size_t w = 0; w < inv->n_wires; w++)
    if (!strcmp(inv->wires[w].input, k->u.scalar.text)) {
      weft__dsl_error(d, k->mark,
                      "%s: input '%s' is both mapped (map:) and wired in inputs:; keep one",
                      owner, k->u.scalar.text);
      return WEFT_OK;
    }
  struct weft_wire *nw = realloc(inv->wires, (inv->n_wires + 1) * sizeof *nw);
  if (nw) inv->wires = nw;
  struct weft_mark *nk = nw ? realloc(isrc->wire_keys, (inv->n_wires + 1) * sizeof *nk) : NULL;
  if (nk) isrc->wire_keys = nk;
  NOMEM_IF(!nw || !nk);
  isrc->wire_keys[inv->n_wires] = k->mark;
  inv->map_wire = inv->n_wires;
  inv->mapped = 1;
  struct weft_wire *w = &inv->wires[inv->n_wires++];
  memset(w, 0, sizeof *w);
  w->mark = v->mark;
  w->from_index = (size_t)-1;
  w->input = strdup(k->u.scalar.text);
  w->from_op = dot ? strndup(src, (size_t)(dot - src)) : strdup(src);
  w->from_output = strdup(dot ? dot + 1 : "result");
  NOMEM_IF(!w->input || !w->from_op || !w->from_output);
  /* STEP[*].OUTPUT: a map over the list OUTPUT of each item of STEP. */
  size_t fl = strlen(w->from_op);
  if (fl > 3 && !strcmp(w->from_op + fl - 3, "[*]")) {
    w->from_op[fl - 3] = '\0';
    inv->map_nested = 1;
  }
  return WEFT_OK;
}

/* when: "EXPR" (model/when_expr.h), parsed now so a syntax error points at
 * its column; names are resolved by job_check.c. */
static int parse_when(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                      struct weft_invocation *inv) {
  if (!n || weft__ynode_is_null(n)) return WEFT_OK;
  const char *t = weft__ynode_text(n);
  if (!t || n->kind != WEFT__Y_SCALAR || n->u.scalar.len != strlen(t)) {
    char got[96];
    weft__dsl_error(d, n->mark, "%s: when must be a condition in a string, got %s", owner,
                    weft__dsl_got(got, sizeof got, n));
    return WEFT_OK;
  }
  /* The text starts after the opening quote of a quoted scalar. */
  struct weft_mark at = n->mark;
  if (n->u.scalar.quoted && at.col > 0) at.col++;
  size_t bad = 0;
  char msg[256];
  int rc = weft_when_parse(t, &inv->when, &bad, msg, sizeof msg);
  if (rc == WEFT_ENOMEM) return rc;
  if (rc) {
    weft_diags_addf(d, at.file, at.line, at.col + (int)bad, "%s: when: %s", owner, msg);
    return WEFT_OK;
  }
  inv->when->mark = at;
  return WEFT_OK;
}

static void parse_trigger(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                          struct weft_invocation *inv) {
  if (!n || weft__ynode_is_null(n)) return;
  const char *t = weft__ynode_text(n);
  if (t && n->kind == WEFT__Y_SCALAR && !weft_trigger_parse(t, &inv->trigger)) return;
  static const char *const names[] = {"all_success", "all_done", "one_failed", "none_failed",
                                      "all_skipped"};
  char got[96], h[160];
  weft__dsl_suggest(h, sizeof h, t ? t : "", names, 5);
  weft__dsl_error(d, n->mark,
                  "%s: unknown trigger %s%s (one of all_success, all_done, one_failed, "
                  "none_failed, all_skipped)",
                  owner, weft__dsl_got(got, sizeof got, n), h);
}

/* uses: job:NAME: a sub-job, flattened by model/compose.c. */
static int set_sub_job(struct weft_diags *d, struct weft_mark at, const char *owner,
                       struct weft_invocation *inv, const char *uses) {
  if (strncmp(uses, "job:", 4)) return WEFT_OK;
  if (!weft_str_is_identifier(uses + 4)) {
    weft__dsl_error(d, at, "%s: 'uses: job:NAME' needs a job name, got '%s'", owner, uses);
    return WEFT_OK;
  }
  return (inv->sub_job = strdup(uses + 4)) ? WEFT_OK : WEFT_ENOMEM;
}

static int parse_invocation(struct weft_diags *d, const struct weft__ypair *p,
                            struct weft_invocation *inv,
                            struct weft__dsl_inv_src *src) {
  const char *name = p->key->u.scalar.text;
  const struct weft__ynode *v = p->value;
  char owner[200];
  snprintf(owner, sizeof owner, "op '%s'", name);
  inv->mark = p->key->mark;
  src->uses_mark = p->key->mark;
  NOMEM_IF(!(inv->name = strdup(name)));
  if (!weft_str_is_identifier(name))
    weft__dsl_error(
        d, p->key->mark,
        "invalid op name '%s' in graph (use letters, digits, '_' and '-', "
        "starting with a letter or '_')",
        name);
  const char *uses = name;
  if (v->kind == WEFT__Y_SCALAR && !weft__ynode_is_null(v)) {
    /* `name: op_def` is short for `uses:` */
    uses = weft__ynode_text(v);
    if (!uses) {
      weft__dsl_error(d, v->mark,
                      "%s: uses must be the name of an op definition, got %s",
                      owner, weft__ynode_describe(v));
      uses = name;
      src->uses_bad = 1;
    }
    src->uses_mark = v->mark;
    src->uses_given = 1;
  } else if (v->kind == WEFT__Y_MAP) {
    weft__dsl_check_keys(d, v, inv_keys, owner);
    const struct weft__ynode *u = weft__ymap_get(v, "uses", NULL);
    if (u) {
      const char *t = weft__ynode_text(u);
      if (!t || u->kind != WEFT__Y_SCALAR) {
        weft__dsl_error(d, u->mark,
                        "%s: uses must be the name of an op definition, got %s",
                        owner, weft__ynode_describe(u));
        src->uses_bad = 1;
      } else {
        uses = t;
        src->uses_mark = u->mark;
        src->uses_given = 1;
      }
    }
    int rc = parse_wires(d, weft__ymap_get(v, "inputs", NULL), owner, inv, src);
    if (!rc) rc = parse_after(d, weft__ymap_get(v, "after", NULL), owner, inv);
    if (!rc) rc = parse_when(d, weft__ymap_get(v, "when", NULL), owner, inv);
    if (!rc)
      rc = parse_map(d, weft__ymap_get(v, "map", NULL), weft__ymap_get(v, "max_items", NULL),
                     owner, inv, src);
    if (rc) return rc;
    parse_trigger(d, weft__ymap_get(v, "trigger", NULL), owner, inv);
    const struct weft__ynode *c = weft__ymap_get(v, "config", NULL);
    if (c && !weft__ynode_is_null(c)) {
      if (c->kind != WEFT__Y_MAP)
        weft__dsl_error(d, c->mark,
                        "%s: config must be a mapping of config values, got %s",
                        owner, weft__ynode_describe(c));
      else
        src->config = c;
    }
  } else if (v->kind == WEFT__Y_SEQ) {
    weft__dsl_error(
        d, v->mark,
        "%s in graph must be an op definition name or a mapping with "
        "'uses', 'inputs', 'config', 'after', got a list",
        owner);
  }
  NOMEM_IF(!(inv->uses = strdup(uses)));
  return set_sub_job(d, src->uses_mark, owner, inv, uses);
}

/* Collects the invocations of `graph:` and those listed under `ops:`. */
static int parse_graph(struct weft_diags *d, const struct weft__ynode *n,
                       const struct weft__ynode *ops, struct weft_mark job_mark,
                       struct weft_job *job, struct weft__dsl_job_src *src) {
  size_t from_ops = 0;
  if (ops && ops->kind == WEFT__Y_MAP)
    for (size_t i = 0; i < ops->u.map.n; i++)
      from_ops += (size_t)is_invocation_entry(ops->u.map.pairs[i].value);
  if ((!n || weft__ynode_is_null(n)) && !from_ops) {
    weft__dsl_error(d, n ? n->mark : job_mark,
                    "job '%s' has no 'graph:' (a mapping of op invocations)",
                    job->name);
    return WEFT_OK;
  }
  size_t from_graph = 0;
  if (n && !weft__ynode_is_null(n)) {
    if (n->kind != WEFT__Y_MAP) {
      weft__dsl_error(
          d, n->mark,
          "job '%s': graph must be a mapping of op invocations, got %s",
          job->name, weft__ynode_describe(n));
      return WEFT_OK;
    }
    if (!n->u.map.n && !from_ops) {
      weft__dsl_error(d, n->mark, "job '%s' has an empty graph", job->name);
      return WEFT_OK;
    }
    from_graph = n->u.map.n;
  }
  size_t total = from_graph + from_ops;
  job->ops = calloc(total, sizeof *job->ops);
  src->inv = calloc(total, sizeof *src->inv);
  NOMEM_IF(!job->ops || !src->inv);
  src->n_inv = total;
  for (size_t i = 0; ops && from_ops && i < ops->u.map.n; i++) {
    if (!is_invocation_entry(ops->u.map.pairs[i].value)) continue;
    int rc = parse_invocation(d, &ops->u.map.pairs[i], &job->ops[job->n_ops],
                              &src->inv[job->n_ops]);
    job->n_ops++;
    if (rc) return rc;
  }
  for (size_t i = 0; i < from_graph; i++) {
    int rc = parse_invocation(d, &n->u.map.pairs[i], &job->ops[job->n_ops],
                              &src->inv[job->n_ops]);
    job->n_ops++;
    if (rc) return rc;
  }
  return WEFT_OK;
}

int weft__dsl_parse_job(struct weft_diags *d, const char *file,
                        const struct weft__ynode *root, struct weft_job *job,
                        struct weft__dsl_job_src *src) {
  memset(job, 0, sizeof *job);
  memset(src, 0, sizeof *src);
  job->mark = (struct weft_mark){file, root ? root->mark.line : 0,
                                 root ? root->mark.col : 0};
  const struct weft__ynode *name_node = weft__ymap_get(root, "name", NULL);
  const char *name = weft__ynode_text(name_node);
  if (name && name_node->kind == WEFT__Y_SCALAR) {
    NOMEM_IF(!(job->name = strdup(name)));
    job->mark = name_node->mark;
    if (!weft_str_is_identifier(name))
      weft__dsl_error(
          d, name_node->mark,
          "invalid job name '%s' (use letters, digits, '_' and '-', "
          "starting with a letter or '_')",
          name);
  } else {
    NOMEM_IF(!(job->name = weft__dsl_base_name(file)));
    if (name_node)
      weft__dsl_error(d, name_node->mark, "job name must be a string, got %s",
                      weft__ynode_describe(name_node));
    else if (!weft_str_is_identifier(job->name))
      weft__dsl_error(
          d, job->mark,
          "job name '%s' (from the file name) is not a valid name; set "
          "'name:' (letters, digits, '_' and '-', starting with a letter or "
          "'_')",
          job->name);
  }
  if (weft__ynode_is_null(root)) {
    weft__dsl_error(
        d, job->mark,
        "job file is empty: a job needs a 'graph:' of op invocations");
    return WEFT_OK;
  }
  if (root->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        d, root->mark,
        "a job file must be a mapping with 'graph:', 'ops:', 'description:', "
        "got %s",
        weft__ynode_describe(root));
    return WEFT_OK;
  }
  char owner[200];
  snprintf(owner, sizeof owner, "job '%s'", job->name);
  weft__dsl_check_keys(d, root, job_keys, owner);
  const struct weft__ynode *v = weft__ymap_get(root, "description", NULL);
  if (v) {
    const char *t = weft__ynode_text(v);
    if (!t || v->kind != WEFT__Y_SCALAR)
      weft__dsl_error(d, v->mark, "%s: description must be a string, got %s",
                      owner, weft__ynode_describe(v));
    else
      NOMEM_IF(!(job->description = strdup(t)));
  }
  int rc = weft__dsl_parse_kvs(d, weft__ymap_get(root, "tags", NULL), "tags",
                               owner, 0, &job->tags);
  if (!rc)
    rc = parse_inline_ops(d, weft__ymap_get(root, "ops", NULL), job, src);
  if (!rc)
    rc = parse_graph(d, weft__ymap_get(root, "graph", NULL),
                     weft__ymap_get(root, "ops", NULL), root->mark, job, src);
  if (!rc)
    rc = weft__dsl_parse_partitions(d, weft__ymap_get(root, "partitions", NULL),
                                    owner, &job->partitions);
  weft__dsl_parse_deadline_node(d, weft__ymap_get(root, "timeout", NULL), owner, "timeout",
                                &job->timeout);
  weft__dsl_parse_deadline_node(d, weft__ymap_get(root, "sla", NULL), owner, "sla", &job->sla);
  if (!rc) rc = weft__dsl_parse_hooks(d, root, owner, 0, &job->hooks);
  return rc;
}
