/* catalog.c: the asset graph of a workspace (who produces each declared
 * asset, what it reads), and the freshness pass over it (catalog.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/catalog.h"
#include "util/clock.h"

static int cmp_node(const void *a, const void *b) {
  return strcmp(((const struct weft_catalog_node *)a)->key,
                ((const struct weft_catalog_node *)b)->key);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends key to the set *v (n) unless present; -1 when out of memory. */
static int add_key(const char ***v, size_t *n, const char *key) {
  for (size_t i = 0; i < *n; i++)
    if (!strcmp((*v)[i], key)) return 0;
  const char **nv = realloc(*v, (*n + 1) * sizeof *nv);
  if (!nv) return -1;
  nv[(*n)++] = key;
  *v = nv;
  return 0;
}

const struct weft_catalog_node *weft_catalog_find(const struct weft_catalog *c, const char *key) {
  return key ? weft_map_get(&c->index, key) : NULL;
}

void weft_catalog_release(struct weft_catalog *c) {
  for (size_t i = 0; i < c->n; i++) {
    free(c->v[i].prod);
    free(c->v[i].up);
    free(c->v[i].down);
  }
  free(c->v);
  weft_map_release(&c->index);
  memset(c, 0, sizeof *c);
}

/* Every (asset, producing step) of the workspace, in one walk. */
typedef int (*visit_fn)(void *data, const struct weft_asset_def *a,
                        const struct weft_catalog_producer *p);

static int walk(const struct weft_workspace *ws, visit_fn fn, void *data) {
  for (size_t l = 0; l < ws->n_locations; l++) {
    const struct weft_location *loc = ws->locations[l];
    for (size_t j = 0; j < loc->n_jobs; j++) {
      const struct weft_job *job = &loc->jobs[j];
      for (size_t i = 0; i < job->n_ops; i++) {
        const struct weft_invocation *inv = &job->ops[i];
        if (!inv->def) continue;
        struct weft_catalog_producer p = {loc, job, inv};
        for (size_t k = 0; k < inv->def->n_assets; k++)
          if (fn(data, &inv->def->assets[k], &p)) return -1;
      }
    }
  }
  return 0;
}

static int count_visit(void *data, const struct weft_asset_def *a,
                       const struct weft_catalog_producer *p) {
  (void)a;
  (void)p;
  ++*(size_t *)data;
  return 0;
}

static int node_visit(void *data, const struct weft_asset_def *a,
                      const struct weft_catalog_producer *p) {
  struct weft_catalog *c = data;
  struct weft_catalog_node *n = weft_map_get(&c->index, a->key);
  if (!n) {
    n = &c->v[c->n++];
    n->key = a->key;
    n->def = a;
    if (weft_map_put(&c->index, a->key, n)) return -1;
  }
  struct weft_catalog_producer *np = realloc(n->prod, (n->n_prod + 1) * sizeof *np);
  if (!np) return -1;
  np[n->n_prod++] = *p;
  n->prod = np;
  return 0;
}

/* The assets a producing step reads: its inputs' `asset:` and what the
 * steps wired before it produce. */
static int edge_visit(void *data, const struct weft_asset_def *a,
                      const struct weft_catalog_producer *p) {
  struct weft_catalog *c = data;
  struct weft_catalog_node *n = weft_map_get(&c->index, a->key);
  const struct weft_op_def *def = p->inv->def;
  for (size_t i = 0; i < def->n_inputs; i++)
    if (def->inputs[i].asset && strcmp(def->inputs[i].asset, a->key) &&
        add_key(&n->up, &n->n_up, def->inputs[i].asset))
      return -1;
  for (size_t u = 0; u < p->inv->n_upstream; u++) {
    const struct weft_op_def *ud = p->job->ops[p->inv->upstream[u]].def;
    for (size_t k = 0; ud && k < ud->n_assets; k++)
      if (strcmp(ud->assets[k].key, a->key) && add_key(&n->up, &n->n_up, ud->assets[k].key))
        return -1;
  }
  return 0;
}

int weft_catalog_build(const struct weft_workspace *ws, struct weft_catalog *out,
                       weft_error *err) {
  memset(out, 0, sizeof *out);
  size_t total = 0;
  walk(ws, count_visit, &total);
  if ((total && !(out->v = calloc(total, sizeof *out->v))) ||
      weft_map_reserve(&out->index, total) || walk(ws, node_visit, out))
    goto nomem;
  /* Sorted, then indexed again: the map points into the array. */
  if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_node);
  weft_map_release(&out->index);
  for (size_t i = 0; i < out->n; i++)
    if (weft_map_put(&out->index, out->v[i].key, &out->v[i])) goto nomem;
  if (walk(ws, edge_visit, out)) goto nomem;
  /* Downstream edges of declared upstreams (an undeclared upstream has no
   * node: it shows in the upstream list only). */
  for (size_t i = 0; i < out->n; i++) {
    struct weft_catalog_node *n = &out->v[i];
    if (n->n_up > 1) qsort(n->up, n->n_up, sizeof *n->up, cmp_str);
    for (size_t u = 0; u < n->n_up; u++) {
      struct weft_catalog_node *un = weft_map_get(&out->index, n->up[u]);
      if (un && add_key(&un->down, &un->n_down, n->key)) goto nomem;
    }
  }
  for (size_t i = 0; i < out->n; i++)
    if (out->v[i].n_down > 1)
      qsort(out->v[i].down, out->v[i].n_down, sizeof *out->v[i].down, cmp_str);
  return WEFT_OK;
nomem:
  weft_catalog_release(out);
  return weft_error_set(err, WEFT_ENOMEM, "asset catalog: out of memory");
}

int weft_catalog_check_freshness(const struct weft_catalog_ctx *x,
                                 void (*report)(void *data, const struct weft_catalog_node *n,
                                                int64_t age_ms),
                                 void *data, size_t *n_missed, weft_error *err) {
  int rc = WEFT_OK;
  if (n_missed) *n_missed = 0;
  for (size_t i = 0; !rc && i < x->cat->n; i++) {
    const struct weft_catalog_node *n = &x->cat->v[i];
    if (!(n->def->max_age_s > 0)) continue;
    struct weft_asset_row row;
    rc = weft_store_asset_get(x->store, n->key, &row, err);
    if (rc == WEFT_ENOTFOUND) { /* never materialized: nothing to age */
      rc = WEFT_OK;
      continue;
    }
    if (rc) break;
    int64_t age = x->now_ms - row.ts_ms;
    char key[256], id[24], *seen = NULL;
    snprintf(key, sizeof key, "asset-fresh/%s", n->key);
    snprintf(id, sizeof id, "%" PRId64, row.last_id);
    if (age > (int64_t)(n->def->max_age_s * 1000)) {
      rc = weft_store_kv_get(x->store, key, &seen, err);
      if (rc == WEFT_ENOTFOUND) rc = WEFT_OK;
      if (!rc && (!seen || strcmp(seen, id))) {
        json_t *p = json_pack("{s:s, s:f, s:I, s:I, s:s?}", "max_age", n->def->max_age_text,
                              "max_age_s", n->def->max_age_s, "age_s", (json_int_t)(age / 1000),
                              "last_materialized_ms", (json_int_t)row.ts_ms, "run_id", row.run_id);
        char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
        json_decref(p);
        struct weft_asset_event_row ev = {.asset = (char *)n->key, .kind = (char *)"freshness_missed",
                                          .job = row.job, .ts_ms = x->now_ms, .payload = text};
        if (!text) rc = weft_error_set(err, WEFT_ENOMEM, "freshness: out of memory");
        if (!rc && !(rc = weft_store_begin(x->store, err))) {
          rc = weft_store_asset_event_add(x->store, &ev, err);
          if (!rc) rc = weft_store_kv_set(x->store, key, id, err);
          if (!rc) rc = weft_store_commit(x->store, err);
          else weft_store_rollback(x->store);
        }
        free(text);
        if (!rc) {
          if (n_missed) ++*n_missed;
          if (report) report(data, n, age);
        }
      }
      free(seen);
    }
    weft_asset_row_release(&row);
  }
  return rc;
}
