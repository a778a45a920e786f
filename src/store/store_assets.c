/* store_assets.c: the wrappers of the asset catalog's methods (summary rows,
 * history, partitions) and the release functions of their rows. */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define REQUIRE(cond, what)                                              \
  do {                                                                   \
    if (!(cond)) return weft_error_set(err, WEFT_EINVALID, "%s", what); \
  } while (0)

void weft_asset_row_release(struct weft_asset_row *r) {
  if (!r) return;
  free(r->asset);
  free(r->run_id);
  free(r->job);
  free(r->step);
  free(r->partition_key);
  free(r->code_version);
  free(r->payload);
  memset(r, 0, sizeof *r);
}

void weft_asset_list_release(struct weft_asset_list *l) {
  for (size_t i = 0; l && i < l->n; i++) weft_asset_row_release(&l->v[i]);
  if (l) {
    free(l->v);
    l->v = NULL;
    l->n = 0;
  }
}

static void asset_event_release(struct weft_asset_event_row *e) {
  free(e->asset);
  free(e->kind);
  free(e->name);
  free(e->run_id);
  free(e->job);
  free(e->step);
  free(e->partition_key);
  free(e->code_version);
  free(e->payload);
}

void weft_asset_event_list_release(struct weft_asset_event_list *l) {
  for (size_t i = 0; l && i < l->n; i++) asset_event_release(&l->v[i]);
  if (l) {
    free(l->v);
    l->v = NULL;
    l->n = 0;
  }
}

int weft_store_asset_list(struct weft_store *s, const char *q, const char *after, int limit,
                          struct weft_asset_list *out, weft_error *err) {
  out->v = NULL;
  out->n = 0;
  REQUIRE(limit > 0, "asset list: limit must be positive");
  return s->m->xAssetList(s, q && *q ? q : NULL, after, limit, out, err);
}

int weft_store_asset_get(struct weft_store *s, const char *asset, struct weft_asset_row *out,
                         weft_error *err) {
  memset(out, 0, sizeof *out);
  REQUIRE(asset && *asset, "asset get: no asset key");
  return s->m->xAssetGet(s, asset, out, err);
}

int weft_store_asset_history(struct weft_store *s, const char *asset, const char *kind,
                             int64_t before_id, int limit, struct weft_asset_event_list *out,
                             weft_error *err) {
  out->v = NULL;
  out->n = 0;
  REQUIRE(asset && *asset, "asset history: no asset key");
  REQUIRE(limit > 0, "asset history: limit must be positive");
  return s->m->xAssetHistory(s, asset, kind, before_id, limit, out, err);
}

int weft_store_asset_partitions(struct weft_store *s, const char *asset,
                                struct weft_kv_list *out, weft_error *err) {
  out->v = NULL;
  out->n = 0;
  REQUIRE(asset && *asset, "asset partitions: no asset key");
  return s->m->xAssetPartitions(s, asset, out, err);
}

int weft_store_asset_event_add(struct weft_store *s, struct weft_asset_event_row *ev,
                               weft_error *err) {
  REQUIRE(ev->asset && *ev->asset && ev->kind && *ev->kind, "asset event: no asset or kind");
  return s->m->xAssetEventAdd(s, ev, err);
}
