/* catalog_json.c: the catalog's JSON views (catalog.h): the asset list, an
 * asset's page (latest metadata, staleness and why, partitions, checks,
 * lineage) and its history, from definitions and the store's summaries. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/catalog.h"
#include "engine/code_version.h"

/* What one view reads more than once: summary rows by key (NULL value:
 * never materialized) and locations' current code versions. */
struct memo {
  const struct weft_catalog_ctx *x;
  struct weft_map rows;     /* key (owned by the row) -> struct weft_asset_row * */
  struct weft_map versions; /* location path -> char * (strdup'ed) */
  struct weft_asset_row **own;
  size_t n_own;
  char **keys; /* keys of absent rows, owned */
  size_t n_keys;
};

static void memo_release(struct memo *m) {
  for (size_t i = 0; i < m->n_own; i++) {
    weft_asset_row_release(m->own[i]);
    free(m->own[i]);
  }
  free(m->own);
  for (size_t i = 0; i < m->n_keys; i++) free(m->keys[i]);
  free(m->keys);
  size_t pos = 0;
  const char *k;
  void *v;
  while (weft_map_next(&m->versions, &pos, &k, &v)) free(v);
  weft_map_release(&m->rows);
  weft_map_release(&m->versions);
}

/* The row of key (NULL when never materialized) in *out. */
static int memo_row(struct memo *m, const char *key, const struct weft_asset_row **out,
                    weft_error *err) {
  void *v;
  if (weft_map_find(&m->rows, key, &v)) {
    *out = v;
    return WEFT_OK;
  }
  struct weft_asset_row *r = calloc(1, sizeof *r), **no;
  if (!r) return weft_error_set(err, WEFT_ENOMEM, "asset catalog: out of memory");
  int rc = weft_store_asset_get(m->x->store, key, r, err);
  if (rc == WEFT_ENOTFOUND) {
    free(r);
    char *k = strdup(key), **nk = realloc(m->keys, (m->n_keys + 1) * sizeof *nk);
    if (nk) m->keys = nk;
    if (!k || !nk || weft_map_put(&m->rows, k, NULL)) {
      free(k);
      return weft_error_set(err, WEFT_ENOMEM, "asset catalog: out of memory");
    }
    m->keys[m->n_keys++] = k;
    *out = NULL;
    return WEFT_OK;
  }
  if (rc) {
    free(r);
    return rc;
  }
  if (!(no = realloc(m->own, (m->n_own + 1) * sizeof *no))) {
    weft_asset_row_release(r);
    free(r);
    return weft_error_set(err, WEFT_ENOMEM, "asset catalog: out of memory");
  }
  m->own = no;
  m->own[m->n_own++] = r;
  if (weft_map_put(&m->rows, r->asset, r))
    return weft_error_set(err, WEFT_ENOMEM, "asset catalog: out of memory");
  *out = r;
  return WEFT_OK;
}

/* Takes row (zeroed after) into the memo: the list's rows are not read
 * again one by one. */
static int memo_take(struct memo *m, struct weft_asset_row *row) {
  struct weft_asset_row *r = malloc(sizeof *r), **no = NULL;
  if (!r || !(no = realloc(m->own, (m->n_own + 1) * sizeof *no))) {
    free(r);
    return WEFT_ENOMEM;
  }
  *r = *row;
  memset(row, 0, sizeof *row);
  m->own = no;
  m->own[m->n_own++] = r;
  return weft_map_set(&m->rows, r->asset, r);
}

/* The location's code version now, or NULL when it cannot be read. */
static const char *memo_version(struct memo *m, const struct weft_location *loc) {
  void *v;
  if (weft_map_find(&m->versions, loc->path, &v)) return v;
  char buf[WEFT_CODE_VERSION_LEN + 1];
  weft_error e = WEFT_ERROR_INIT;
  char *s = weft_code_version(loc->path, m->x->home, buf, &e) ? NULL : strdup(buf);
  if (weft_map_put(&m->versions, loc->path, s)) {
    free(s);
    return NULL;
  }
  return s;
}

static json_t *metadata_of(const char *payload) {
  json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;
  json_t *md = json_incref(json_object_get(p, "metadata"));
  json_decref(p);
  return md ? md : json_object();
}

static json_t *latest_json(const struct weft_asset_row *r) {
  if (!r) return json_null();
  return json_pack("{s:I, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "id", (json_int_t)r->last_id,
                   "ts_ms", (json_int_t)r->ts_ms, "run_id", r->run_id, "job", r->job, "step",
                   r->step, "partition", r->partition_key, "code_version", r->code_version,
                   "metadata", metadata_of(r->payload));
}

static json_t *str_array(const char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) json_array_append_new(a, json_string(v[i]));
  return a;
}

/* Stale: an upstream was materialized after it (a later event id), or the
 * code of the location that produced it changed since. */
static int staleness(struct memo *m, const struct weft_catalog_node *n,
                     const struct weft_asset_row *r, json_t *reasons, weft_error *err) {
  if (!r || !n) return WEFT_OK;
  for (size_t u = 0; u < n->n_up; u++) {
    const struct weft_asset_row *ur = NULL;
    int rc = memo_row(m, n->up[u], &ur, err);
    if (rc) return rc;
    if (ur && ur->last_id > r->last_id)
      json_array_append_new(reasons, json_pack("{s:s, s:s, s:I, s:s?}", "kind", "upstream",
                                               "asset", n->up[u], "ts_ms", (json_int_t)ur->ts_ms,
                                               "run_id", ur->run_id));
  }
  if (!r->code_version || !n->n_prod) return WEFT_OK;
  const struct weft_catalog_producer *p = &n->prod[0];
  for (size_t i = 0; i < n->n_prod; i++)
    if (r->job && !strcmp(n->prod[i].job->name, r->job)) p = &n->prod[i];
  const char *now = memo_version(m, p->loc);
  if (now && strcmp(now, r->code_version))
    json_array_append_new(reasons, json_pack("{s:s, s:s, s:s, s:s}", "kind", "code_version",
                                             "location", p->loc->name, "materialized_with",
                                             r->code_version, "current", now));
  return WEFT_OK;
}

static int is_partitioned(const struct weft_catalog_node *n) {
  if (!n || !n->n_prod || n->def->partitioned == 0) return 0;
  return n->prod[0].job->partitions.kind != WEFT_PARTITIONS_NONE;
}

static int item_json(struct memo *m, const char *key, json_t **out, weft_error *err) {
  const struct weft_catalog_node *n = weft_catalog_find(m->x->cat, key);
  const struct weft_asset_row *r;
  int rc = memo_row(m, key, &r, err);
  if (rc) return rc;
  json_t *reasons = json_array(), *prods = json_array(), *fresh = json_null();
  if (reasons && !(rc = staleness(m, n, r, reasons, err)) && n && n->def->max_age_s > 0) {
    json_int_t age = r ? (json_int_t)((m->x->now_ms - r->ts_ms) / 1000) : -1;
    fresh = json_pack("{s:s, s:f, s:o, s:b}", "max_age", n->def->max_age_text, "max_age_s",
                      n->def->max_age_s, "age_s", r ? json_integer(age) : json_null(),
                      "overdue", r && age > (json_int_t)n->def->max_age_s);
  }
  for (size_t i = 0; n && prods && i < n->n_prod; i++)
    json_array_append_new(prods, json_pack("{s:s, s:s, s:s, s:s}", "location",
                                           n->prod[i].loc->name, "job", n->prod[i].job->name,
                                           "op", n->prod[i].inv->name, "uses",
                                           n->prod[i].inv->uses));
  json_t *o = rc || !reasons || !prods ? NULL : json_pack(
      "{s:s, s:s?, s:s?, s:o, s:b, s:O, s:o, s:I, s:b, s:O, s:o, s:b, s:o, s:o}", "key", key,
      "group", n ? n->def->group : NULL, "description", n ? n->def->description : NULL,
      "owners", n ? str_array((const char *const *)n->def->owners, n->def->n_owners) : json_array(),
      "declared", n != NULL, "producers", prods, "latest", latest_json(r), "materializations",
      (json_int_t)(r ? r->materializations : 0), "stale", json_array_size(reasons) > 0,
      "stale_reasons", reasons, "freshness", fresh, "partitioned", is_partitioned(n),
      "upstream", n ? str_array(n->up, n->n_up) : json_array(),
      "downstream", n ? str_array(n->down, n->n_down) : json_array());
  json_decref(reasons);
  json_decref(prods);
  if (!o && !rc) rc = weft_error_set(err, WEFT_ENOMEM, "asset catalog: out of memory");
  *out = o;
  return rc;
}

static int matches(const struct weft_catalog_node *n, const char *q, const char *group,
                   const char *after) {
  return (!q || strstr(n->key, q)) && (!group || !strcmp(n->def->group, group)) &&
         (!after || strcmp(n->key, after) > 0);
}

int weft_catalog_list_json(const struct weft_catalog_ctx *x, const char *q, const char *group,
                           const char *after, int limit, json_t **out, weft_error *err) {
  struct memo m = {.x = x};
  struct weft_asset_list rows = {0};
  const char **keys = NULL;
  size_t n_keys = 0, d = 0;
  int rc = WEFT_OK;
  json_t *items = json_array(), *groups = json_object(), *doc = NULL;
  *out = NULL;
  if (q && !*q) q = NULL;
  if (limit <= 0 || limit > 1000) limit = 100;
  if (!(keys = calloc((size_t)limit + 1, sizeof *keys)) || !items || !groups) goto nomem;
  /* One more than asked: whether a next page exists. */
  if (!group && (rc = weft_store_asset_list(x->store, q, after, limit + 1, &rows, err))) goto done;
  /* Merge the declared keys (sorted) with the store's (sorted). */
  size_t s = 0;
  while (n_keys < (size_t)limit + 1) {
    while (d < x->cat->n && !matches(&x->cat->v[d], q, group, after)) d++;
    const char *dk = d < x->cat->n ? x->cat->v[d].key : NULL;
    const char *sk = s < rows.n ? rows.v[s].asset : NULL;
    if (!dk && !sk) break;
    int c = !dk ? 1 : !sk ? -1 : strcmp(dk, sk);
    keys[n_keys++] = c <= 0 ? dk : sk;
    if (c <= 0) d++;
    if (c >= 0) s++;
  }
  int more = n_keys > (size_t)limit;
  if (more) n_keys = (size_t)limit;
  /* keys[] may point into rows: the memo takes them whole, strings kept. */
  for (size_t i = 0; i < rows.n; i++)
    if (memo_take(&m, &rows.v[i])) goto nomem;
  for (size_t i = 0; i < n_keys; i++) {
    json_t *it;
    if ((rc = item_json(&m, keys[i], &it, err))) goto done;
    json_array_append_new(items, it);
  }
  for (size_t i = 0; i < x->cat->n; i++) {
    const char *g = x->cat->v[i].def->group;
    json_object_set_new(groups, g, json_integer(json_integer_value(json_object_get(groups, g)) + 1));
  }
  json_t *glist = json_array();
  const char *gk;
  json_t *gv;
  json_object_foreach(groups, gk, gv) json_array_append_new(
      glist, json_pack("{s:s, s:O}", "name", gk, "count", gv));
  doc = json_pack("{s:O, s:s?, s:o}", "assets", items, "next_cursor",
                  more ? keys[n_keys - 1] : NULL, "groups", glist ? glist : json_array());
  if (!doc) goto nomem;
  *out = doc;
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "asset list: out of memory");
done:
  json_decref(items);
  json_decref(groups);
  free(keys);
  weft_asset_list_release(&rows);
  memo_release(&m);
  return rc;
}

/* The latest value of each metadata key over the last materializations. */
static json_t *metadata_latest(const struct weft_asset_event_list *h) {
  json_t *o = json_object();
  for (size_t i = 0; o && i < h->n; i++) {
    if (strcmp(h->v[i].kind, "materialization")) continue;
    json_t *md = metadata_of(h->v[i].payload);
    const char *k;
    json_t *v;
    json_object_foreach(md, k, v) if (!json_object_get(o, k)) json_object_set_new(
        o, k, json_pack("{s:O, s:I, s:s?}", "value", v, "ts_ms", (json_int_t)h->v[i].ts_ms,
                        "run_id", h->v[i].run_id));
    json_decref(md);
  }
  return o;
}

static json_t *event_json(const struct weft_asset_event_row *e) {
  json_t *o = json_pack("{s:I, s:s, s:I, s:s?, s:s?, s:s?, s:s?, s:s?}", "id", (json_int_t)e->id,
                        "kind", e->kind, "ts_ms", (json_int_t)e->ts_ms, "run_id", e->run_id, "job",
                        e->job, "step", e->step, "partition", e->partition_key, "code_version",
                        e->code_version);
  if (!o) return NULL;
  json_object_set_new(o, "metadata", metadata_of(e->payload));
  if (e->name) json_object_set_new(o, "name", json_string(e->name));
  if (e->passed >= 0) json_object_set_new(o, "passed", json_boolean(e->passed));
  if (!strcmp(e->kind, "freshness_missed")) {
    json_t *p = json_loads(e->payload, 0, NULL);
    json_object_set_new(o, "details", p ? p : json_object());
  }
  return o;
}

/* Latest result per check name, with that check's recent history. */
static json_t *checks_json(const struct weft_asset_event_list *h) {
  json_t *by = json_object(), *list = json_array();
  for (size_t i = 0; by && i < h->n; i++) {
    const struct weft_asset_event_row *e = &h->v[i];
    if (strcmp(e->kind, "check") || !e->name) continue;
    json_t *c = json_object_get(by, e->name);
    if (!c) {
      c = json_pack("{s:s, s:b, s:I, s:s?, s:o, s:[]}", "name", e->name, "passed", e->passed > 0,
                    "ts_ms", (json_int_t)e->ts_ms, "run_id", e->run_id, "metadata",
                    metadata_of(e->payload), "history");
      if (!c) continue;
      json_object_set_new(by, e->name, c);
      json_array_append(list, c);
    }
    json_array_append_new(json_object_get(c, "history"),
                          json_pack("{s:b, s:I, s:s?}", "passed", e->passed > 0, "ts_ms",
                                    (json_int_t)e->ts_ms, "run_id", e->run_id));
  }
  json_decref(by);
  return list ? list : json_array();
}

static int partitions_json(struct memo *m, const struct weft_catalog_node *n, const char *key,
                           json_t *doc, weft_error *err) {
  struct weft_kv_list got = {0};
  char **keys = NULL;
  size_t nk = 0;
  int rc = weft_store_asset_partitions(m->x->store, key, &got, err);
  if (rc) return rc;
  json_t *mat = json_object(), *ks = json_array();
  for (size_t i = 0; mat && i < got.n; i++)
    json_object_set_new(mat, got.v[i].key, json_integer(got.v[i].updated_ms));
  size_t missing = 0;
  if (is_partitioned(n) &&
      !weft_partitions_keys_between(&n->prod[0].job->partitions, NULL, NULL, m->x->now_ms / 1000,
                                    &keys, &nk, NULL)) {
    /* The heat strip shows the most recent 500. */
    for (size_t i = nk > 500 ? nk - 500 : 0; ks && i < nk; i++)
      json_array_append_new(ks, json_string(keys[i]));
    for (size_t i = 0; i < nk; i++) missing += !json_object_get(mat, keys[i]);
    weft_partitions_keys_free(keys, nk);
  } else {
    for (size_t i = 0; ks && i < got.n; i++) json_array_append_new(ks, json_string(got.v[i].key));
  }
  weft_kv_list_release(&got);
  json_t *p = json_pack("{s:o, s:o, s:I, s:I}", "keys", ks ? ks : json_array(), "materialized",
                        mat ? mat : json_object(), "missing", (json_int_t)missing, "total",
                        (json_int_t)(nk ? nk : json_object_size(mat)));
  if (!p || json_object_set_new(doc, "partitions", p))
    return weft_error_set(err, WEFT_ENOMEM, "asset page: out of memory");
  return WEFT_OK;
}

/* The declared assets within two edges up and down of key. */
static int lineage_json(struct memo *m, const char *key, json_t *doc, weft_error *err) {
  const char *seen[256];
  int depth[256];
  size_t n = 0;
  seen[n] = key;
  depth[n++] = 0;
  json_t *nodes = json_array(), *edges = json_array();
  for (size_t i = 0; i < n; i++) {
    const struct weft_catalog_node *c = weft_catalog_find(m->x->cat, seen[i]);
    for (int dir = 0; c && dir < 2 && abs(depth[i]) < 2; dir++) {
      const char **v = dir ? c->down : c->up;
      size_t nv = dir ? c->n_down : c->n_up;
      /* Only walk on in one direction from the root: up from upstreams. */
      if ((depth[i] < 0 && dir) || (depth[i] > 0 && !dir)) continue;
      for (size_t k = 0; k < nv; k++) {
        json_array_append_new(edges, dir ? json_pack("[s,s]", c->key, v[k])
                                         : json_pack("[s,s]", v[k], c->key));
        size_t j = 0;
        while (j < n && strcmp(seen[j], v[k])) j++;
        if (j == n && n < 256) {
          seen[n] = v[k];
          depth[n++] = depth[i] + (dir ? 1 : -1);
        }
      }
    }
  }
  for (size_t i = 0; nodes && i < n; i++) {
    const struct weft_asset_row *r;
    int rc = memo_row(m, seen[i], &r, err);
    if (rc) {
      json_decref(nodes);
      json_decref(edges);
      return rc;
    }
    json_t *reasons = json_array();
    staleness(m, weft_catalog_find(m->x->cat, seen[i]), r, reasons, err);
    json_array_append_new(nodes, json_pack("{s:s, s:b, s:b, s:b, s:i}", "key", seen[i], "stale",
                                           json_array_size(reasons) > 0, "materialized", r != NULL,
                                           "declared", weft_catalog_find(m->x->cat, seen[i]) != NULL,
                                           "depth", depth[i]));
    json_decref(reasons);
  }
  json_t *l = json_pack("{s:o, s:o}", "nodes", nodes ? nodes : json_array(), "edges",
                        edges ? edges : json_array());
  if (!l || json_object_set_new(doc, "lineage", l))
    return weft_error_set(err, WEFT_ENOMEM, "asset page: out of memory");
  return WEFT_OK;
}

int weft_catalog_asset_json(const struct weft_catalog_ctx *x, const char *key, json_t **out,
                            weft_error *err) {
  struct memo m = {.x = x};
  struct weft_asset_event_list h = {0};
  json_t *doc = NULL;
  const struct weft_asset_row *r;
  const struct weft_catalog_node *n = weft_catalog_find(x->cat, key);
  *out = NULL;
  int rc = memo_row(&m, key, &r, err);
  if (!rc && !r && !n)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "no asset '%s': not declared, never materialized",
                        key);
  if (!rc) rc = item_json(&m, key, &doc, err);
  if (!rc) rc = weft_store_asset_history(x->store, key, NULL, 0, 200, &h, err);
  if (!rc && (json_object_set_new(doc, "metadata_latest", metadata_latest(&h)) ||
              json_object_set_new(doc, "checks", checks_json(&h))))
    rc = weft_error_set(err, WEFT_ENOMEM, "asset page: out of memory");
  if (!rc) rc = partitions_json(&m, n, key, doc, err);
  if (!rc) rc = lineage_json(&m, key, doc, err);
  weft_asset_event_list_release(&h);
  memo_release(&m);
  if (rc) json_decref(doc);
  else *out = doc;
  return rc;
}

int weft_catalog_history_json(const struct weft_catalog_ctx *x, const char *key, const char *kind,
                              int64_t before_id, int limit, json_t **out, weft_error *err) {
  struct weft_asset_event_list h = {0};
  *out = NULL;
  if (limit <= 0 || limit > 1000) limit = 100;
  int rc = weft_store_asset_history(x->store, key, kind, before_id, limit + 1, &h, err);
  if (rc) return rc;
  if (!h.n && !weft_catalog_find(x->cat, key) && !before_id) {
    struct weft_asset_row r;
    rc = weft_store_asset_get(x->store, key, &r, err);
    if (!rc) weft_asset_row_release(&r);
    if (rc) {
      weft_asset_event_list_release(&h);
      return rc == WEFT_ENOTFOUND ? weft_error_set(err, WEFT_ENOTFOUND,
                                                   "no asset '%s': not declared, never "
                                                   "materialized", key)
                                  : rc;
    }
  }
  int more = h.n > (size_t)limit;
  json_t *events = json_array();
  for (size_t i = 0; events && i < h.n && i < (size_t)limit; i++)
    json_array_append_new(events, event_json(&h.v[i]));
  json_t *doc = events ? json_pack("{s:s, s:o, s:o}", "asset", key, "events", events,
                                   "next_cursor", more ? json_sprintf("%" PRId64, h.v[limit - 1].id)
                                                       : json_null())
                       : NULL;
  weft_asset_event_list_release(&h);
  if (!doc) return weft_error_set(err, WEFT_ENOMEM, "asset history: out of memory");
  *out = doc;
  return WEFT_OK;
}
