/* api_assets.c: the asset catalog's routes: the list, an asset's page, its
 * history, and materializing it (its producing job through the run queue). */
#include <stdlib.h>
#include <string.h>

#include "engine/catalog.h"
#include "http/http_int.h"
#include "sched/backfill.h"
#include "sched/run_queue.h"
#include "util/clock.h"

/* The catalog of the request's workspace and the context of a view; 0
 * after answering. */
static int open_catalog(struct http_req *r, struct weft_catalog *cat, struct weft_catalog_ctx *x,
                        enum MHD_Result *res) {
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = http_instance(r, res);
  if (!inst) return 0;
  if (weft_catalog_build(http_workspace(r), cat, &err)) {
    *res = http_send_weft_error(r, &err);
    return 0;
  }
  *x = (struct weft_catalog_ctx){cat, inst->store, inst->home, weft_clock_wall_ms()};
  return 1;
}

enum MHD_Result http_api_assets(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  long long limit;
  struct weft_catalog cat;
  struct weft_catalog_ctx x;
  if (http_arg_int(r, "limit", 1, 1000, 100, &limit, &res)) return res;
  if (!open_catalog(r, &cat, &x, &res)) return res;
  weft_error err = WEFT_ERROR_INIT;
  json_t *doc = NULL;
  if (weft_catalog_list_json(&x, http_arg(r, "q"), http_arg(r, "group"), http_arg(r, "cursor"),
                             (int)limit, &doc, &err))
    res = http_send_weft_error(r, &err);
  else
    res = http_send_json(r, 200, doc);
  weft_catalog_release(&cat);
  return res;
}

enum MHD_Result http_api_asset(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_catalog cat;
  struct weft_catalog_ctx x;
  if (!open_catalog(r, &cat, &x, &res)) return res;
  weft_error err = WEFT_ERROR_INIT;
  json_t *doc = NULL;
  if (weft_catalog_asset_json(&x, r->segs[3], &doc, &err))
    res = http_send_weft_error(r, &err);
  else
    res = http_send_json(r, 200, doc);
  weft_catalog_release(&cat);
  return res;
}

enum MHD_Result http_api_asset_history(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  long long limit, before;
  struct weft_catalog cat;
  struct weft_catalog_ctx x;
  const char *kind = http_arg(r, "kind");
  if (kind && strcmp(kind, "materialization") && strcmp(kind, "check") &&
      strcmp(kind, "freshness_missed"))
    return http_send_error(r, 400, NULL,
                           "kind must be materialization, check or freshness_missed");
  if (http_arg_int(r, "limit", 1, 1000, 100, &limit, &res) ||
      http_arg_int(r, "cursor", 0, INT64_MAX, 0, &before, &res))
    return res;
  if (!open_catalog(r, &cat, &x, &res)) return res;
  weft_error err = WEFT_ERROR_INIT;
  json_t *doc = NULL;
  if (weft_catalog_history_json(&x, r->segs[3], kind, before, (int)limit, &doc, &err))
    res = http_send_weft_error(r, &err);
  else
    res = http_send_json(r, 200, doc);
  weft_catalog_release(&cat);
  return res;
}

/* One run of job for the asset, tagged weft/asset; started at once when
 * the queue admits it. */
static enum MHD_Result launch_one(struct http_req *r, struct weft_instance *inst,
                                  const struct weft_job *job, const char *key) {
  enum MHD_Result res = MHD_NO;
  struct weft_run_config rc = {0};
  struct weft_diags diags = WEFT_DIAGS_INIT;
  char *run_id = NULL;
  json_t *tags = json_pack("{s:s}", "weft/asset", key);
  int brc = weft_run_config_build(job, "<run config>", NULL, 0, NULL, 0, &rc, &diags);
  if (brc == WEFT_EINVALID) {
    weft_diags_sort(&diags);
    res = http_send_error(r, 409, http_diags_json(&diags),
                          "job %s needs run config to launch: use its launch page", job->name);
    goto done;
  }
  if (brc || !tags || http_tag_launcher(r, tags)) {
    res = http_send_error(r, 500, NULL, "out of memory");
    goto done;
  }
  struct weft_launch l = {.job = job, .rc = &rc, .tags = tags};
  if (http_launch_run(r, inst, &l, NULL, &run_id, &res))
    res = http_send_json(r, 201, json_pack("{s:s, s:[s], s:s, s:s}", "asset", key, "run_ids",
                                           run_id, "job", job->name, "location",
                                           job->location->name));
done:
  free(run_id);
  json_decref(tags);
  weft_diags_release(&diags);
  weft_run_config_release(&rc);
  return res;
}

/* Body: {"partitions": [KEY, ...]} (partitioned assets: one run per
 * partition, as a backfill), {"job": NAME} when several jobs produce it. */
enum MHD_Result http_api_asset_materialize(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_catalog cat;
  struct weft_catalog_ctx x;
  json_t *body = http_body_object(r, &res);
  const char **keys = NULL;
  char *id = NULL;
  if (!body) return res;
  if (!open_catalog(r, &cat, &x, &res)) {
    json_decref(body);
    return res;
  }
  const char *key = r->segs[3];
  const struct weft_catalog_node *n = weft_catalog_find(&cat, key);
  const char *want = json_string_value(json_object_get(body, "job"));
  json_t *parts = json_object_get(body, "partitions");
  const struct weft_job *job = NULL;
  int several = 0;
  for (size_t i = 0; n && i < n->n_prod; i++) {
    if (!job && (!want || !strcmp(n->prod[i].job->name, want))) job = n->prod[i].job;
    several |= n->prod[i].job != n->prod[0].job;
  }
  if (!n) {
    res = http_send_error(r, 404, NULL, "asset '%s' is not declared by any op of a job", key);
  } else if (!job) {
    res = http_send_error(r, 404, NULL, "job '%s' does not produce asset '%s'", want, key);
  } else if (!want && several) {
    res = http_send_error(r, 409, NULL, "asset '%s' is produced by several jobs: say which "
                          "(\"job\")", key);
  } else if (!job->valid) {
    res = http_send_error(r, 409, NULL, "job '%s' has errors", job->name);
  } else if (parts && (!json_is_array(parts) || !json_array_size(parts))) {
    res = http_send_error(r, 400, NULL, "'partitions' must be a non-empty list of keys");
  } else if (parts && job->partitions.kind == WEFT_PARTITIONS_NONE) {
    res = http_send_error(r, 400, NULL, "job '%s' is not partitioned", job->name);
  } else if (!parts) {
    res = launch_one(r, http_instance(r, &res), job, key);
  } else if (!(keys = calloc(json_array_size(parts) + 1, sizeof *keys))) {
    res = http_send_error(r, 500, NULL, "out of memory");
  } else {
    size_t i;
    for (i = 0; i < json_array_size(parts); i++)
      if (!(keys[i] = json_string_value(json_array_get(parts, i)))) break;
    json_t *tags = json_pack("{s:s}", "weft/asset", key);
    struct weft_backfill_request req = {.job = job, .keys = keys, .n_keys = i, .tags = tags,
                                        .now_s = x.now_ms / 1000};
    weft_error err = WEFT_ERROR_INIT;
    size_t launched = 0;
    struct weft_instance *inst = http_instance(r, &res);
    if (i < json_array_size(parts))
      res = http_send_error(r, 400, NULL, "partition keys must be strings");
    else if (!tags || !inst)
      res = http_send_error(r, 500, NULL, "out of memory");
    else if (weft_backfill_launch(inst, &req, &id, &launched, NULL, &err))
      res = http_send_weft_error(r, &err);
    else /* The maintenance thread's next dequeue turn starts them. */
      res = http_send_json(r, 201, json_pack("{s:s, s:s, s:I, s:s}", "asset", key, "backfill_id",
                                             id, "launched", (json_int_t)launched, "job",
                                             job->name));
    json_decref(tags);
  }
  free(keys);
  free(id);
  json_decref(body);
  weft_catalog_release(&cat);
  return res;
}
