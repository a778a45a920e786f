/* catalog.h: the asset catalog: the asset graph of a workspace's
 * definitions (`assets:` of ops, `asset:` of inputs) joined with the
 * store's summary rows, as the JSON the API, CLI and UI show. */
#ifndef WEFT_ENGINE_CATALOG_H
#define WEFT_ENGINE_CATALOG_H

#include <jansson.h>

#include "model/model.h"
#include "store/store.h"
#include "util/map.h"

/* A job step that produces an asset. */
struct weft_catalog_producer {
  const struct weft_location *loc;
  const struct weft_job *job;
  const struct weft_invocation *inv;
};

/* One declared asset. Upstream: the assets its producing steps' inputs
 * name (`asset:`) and those produced by the steps wired before them in the
 * job; downstream: the reverse. Keys are borrowed from the workspace. */
struct weft_catalog_node {
  const char *key;
  const struct weft_asset_def *def; /* the first declaration */
  struct weft_catalog_producer *prod;
  size_t n_prod;
  const char **up, **down;
  size_t n_up, n_down;
};

/* The declared assets of a workspace, sorted by key. Borrows ws: free the
 * catalog first. */
struct weft_catalog {
  struct weft_catalog_node *v;
  size_t n;
  struct weft_map index; /* key -> node */
};

int weft_catalog_build(const struct weft_workspace *ws, struct weft_catalog *out,
                       weft_error *err);
void weft_catalog_release(struct weft_catalog *c);
const struct weft_catalog_node *weft_catalog_find(const struct weft_catalog *c, const char *key);

/* Where and when the views are computed: home is the instance's (left out of
 * code versions, as runs do: code_snapshot.h). */
struct weft_catalog_ctx {
  const struct weft_catalog *cat;
  struct weft_store *store;
  const char *home;
  int64_t now_ms;
};

/* GET /api/v1/assets: {"assets":[ITEM], "next_cursor": KEY|null,
 * "groups":[{"name","count"}]}: declared and materialized assets whose key
 * contains q, of group (NULL: any; undeclared assets have none), key >
 * after, at most limit. ITEM: key, group, description, owners, declared,
 * producers [{location, job, op}], latest {id, ts_ms, run_id, job, step,
 * partition, code_version, metadata} or null, materializations, stale,
 * stale_reasons [{kind: "upstream", asset, ts_ms} | {kind: "code_version",
 * materialized_with, current}], freshness {max_age, max_age_s, age_s,
 * overdue} or null, partitioned, upstream, downstream. */
int weft_catalog_list_json(const struct weft_catalog_ctx *x, const char *q, const char *group,
                           const char *after, int limit, json_t **out, weft_error *err);
/* GET /api/v1/assets/{key}: ITEM plus metadata_latest {KEY: {value, ts_ms,
 * run_id}}, partitions {keys, materialized {KEY: ts_ms}, missing} (partitioned
 * assets), checks [{name, passed, ts_ms, run_id, metadata, history:[..]}],
 * lineage {nodes:[{key, stale, materialized, declared}], edges:[[up, down]]}.
 * WEFT_ENOTFOUND when the key is neither declared nor materialized. */
int weft_catalog_asset_json(const struct weft_catalog_ctx *x, const char *key, json_t **out,
                            weft_error *err);
/* GET /api/v1/assets/{key}/history: {"asset", "events":[{id, kind, ts_ms,
 * run_id, job, step, partition, code_version, metadata, name?, passed?}],
 * "next_cursor": ID|null}, newest first; kind NULL: every kind. */
int weft_catalog_history_json(const struct weft_catalog_ctx *x, const char *key, const char *kind,
                              int64_t before_id, int limit, json_t **out, weft_error *err);

/* The scheduler's freshness pass: for every declared asset with a
 * freshness max_age whose latest materialization is older, once per
 * materialization, a freshness_missed row in its history (kv
 * "asset-fresh/KEY" remembers which was reported). *n_missed (may be NULL)
 * counts the new ones; report (may be NULL) is called for each. */
int weft_catalog_check_freshness(const struct weft_catalog_ctx *x,
                                 void (*report)(void *data, const struct weft_catalog_node *n,
                                                int64_t age_ms),
                                 void *data, size_t *n_missed, weft_error *err);

#endif
