/* api_backfills.c: GET/POST /api/v1/backfills, GET /api/v1/backfills/ID, and
 * the queue_reason of queued runs that the runs routes show. */
#include <string.h>

#include "http/http_int.h"
#include "sched/backfill.h"
#include "sched/run_queue.h"
#include "util/clock.h"
#include "util/log.h"

void http_add_queue_reason(struct weft_instance *inst, const struct weft_run_row *row, json_t *o,
                           int one, struct weft_run_queue_waits *w, int *loaded) {
  if (!o || row->status != WEFT_RUN_QUEUED) return;
  if (!*loaded) {
    struct weft_run_queue_config cfg = {0};
    weft_error err = WEFT_ERROR_INIT;
    *loaded = 1;
    if (weft_run_queue_config_load(inst->home, &cfg, &err) ||
        (one ? weft_run_queue_explain_run(inst->store, &cfg, row, w, &err)
             : weft_run_queue_explain(inst->store, &cfg, w, &err)))
      weft_log(WEFT_LOG_ERROR, WEFT_LOG_PREFIX("weft server: "), "the run queue: %s", err.msg);
    weft_run_queue_config_release(&cfg);
  }
  const char *why = weft_run_queue_waits_find(w, row->id);
  if (why) json_object_set_new(o, "queue_reason", json_string(why));
}

enum MHD_Result http_api_backfills(struct http_req *r) {
  struct weft_backfill_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  enum MHD_Result res = MHD_NO;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  if (weft_backfill_list(inst->store, &l, &err)) return http_send_weft_error(r, &err);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < l.n; i++)
    if (json_array_append_new(arr, weft_backfill_to_json(&l.v[i], 0))) {
      json_decref(arr);
      arr = NULL;
    }
  weft_backfill_list_release(&l);
  return http_send_json(r, 200, arr ? json_pack("{s:o}", "backfills", arr) : NULL);
}

enum MHD_Result http_api_backfill(struct http_req *r) {
  struct weft_backfill b = {0};
  weft_error err = WEFT_ERROR_INIT;
  enum MHD_Result res = MHD_NO;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  if (weft_backfill_get(inst->store, r->segs[3], &b, &err)) return http_send_weft_error(r, &err);
  json_t *o = weft_backfill_to_json(&b, 1);
  weft_backfill_release(&b);
  return http_send_json(r, 200, o ? json_pack("{s:o}", "backfill", o) : NULL);
}

/* The body's job: "job" with "location", or a job name that only one
 * location has. NULL after answering 400/404. */
static const struct weft_job *body_job(struct http_req *r, json_t *body, enum MHD_Result *res) {
  const char *job = json_string_value(json_object_get(body, "job"));
  const char *loc = json_string_value(json_object_get(body, "location"));
  const struct weft_workspace *ws = http_workspace(r);
  const struct weft_job *found = NULL;
  if (!job || !*job) {
    *res = http_send_error(r, 400, NULL, "'job' (a job name) is required");
    return NULL;
  }
  if (loc) {
    if (!(found = http_ws_find_job(ws, loc, job)))
      *res = http_send_error(r, 404, NULL, "no job '%s' in location '%s'", job, loc);
    return found;
  }
  for (size_t i = 0; i < ws->n_locations; i++) {
    const struct weft_job *j = weft_location_find_job(ws->locations[i], job);
    if (!j) continue;
    if (found) {
      *res = http_send_error(r, 400, NULL, "job '%s' is in several locations: give "
                             "'location'", job);
      return NULL;
    }
    found = j;
  }
  if (!found) *res = http_send_error(r, 404, NULL, "no job '%s'", job);
  return found;
}

/* Checks the optional fields' types; answers 400 and returns 0 if wrong. */
static int body_ok(struct http_req *r, json_t *body, enum MHD_Result *res) {
  static const char *const allowed[] = {"job", "location", "from", "to", "keys", "config",
                                        "tags", NULL};
  const char *k;
  json_t *v;
  json_object_foreach(body, k, v) {
    size_t i = 0;
    while (allowed[i] && strcmp(allowed[i], k)) i++;
    if (!allowed[i]) {
      *res = http_send_error(r, 400, NULL, "unknown field '%s' (expected job, location, "
                             "from, to, keys, config, tags)", k);
      return 0;
    }
  }
  const char *str_fields[] = {"location", "from", "to"};
  for (size_t i = 0; i < 3; i++)
    if ((v = json_object_get(body, str_fields[i])) && !json_is_string(v)) {
      *res = http_send_error(r, 400, NULL, "'%s' must be a string", str_fields[i]);
      return 0;
    }
  json_t *keys = json_object_get(body, "keys");
  size_t i;
  if (keys && (!json_is_array(keys) || !json_array_size(keys))) {
    *res = http_send_error(r, 400, NULL, "'keys' must be a non-empty list of partition keys");
    return 0;
  }
  json_array_foreach(keys, i, v) if (!json_is_string(v)) {
    *res = http_send_error(r, 400, NULL, "'keys' must hold strings (keys[%zu] does not)", i);
    return 0;
  }
  if (keys && (json_object_get(body, "from") || json_object_get(body, "to"))) {
    *res = http_send_error(r, 400, NULL, "give 'keys' or 'from'/'to', not both");
    return 0;
  }
  if (!keys && !json_object_get(body, "from") && !json_object_get(body, "to")) {
    *res = http_send_error(r, 400, NULL, "which partitions? give 'from' and 'to', or 'keys'");
    return 0;
  }
  if ((v = json_object_get(body, "config")) && !json_is_object(v) && !json_is_null(v)) {
    *res = http_send_error(r, 400, NULL, "'config' must be a run config object");
    return 0;
  }
  if ((v = json_object_get(body, "tags")) && !json_is_object(v)) {
    *res = http_send_error(r, 400, NULL, "'tags' must be an object of strings");
    return 0;
  }
  json_object_foreach(json_object_get(body, "tags"), k, v) if (!json_is_string(v)) {
    *res = http_send_error(r, 400, NULL, "tag '%s' must be a string", k);
    return 0;
  }
  return 1;
}

enum MHD_Result http_api_backfill_create(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  json_t *body = http_body_object(r, &res);
  const char **keys = NULL;
  char *id = NULL;
  if (!body) return res;
  struct weft_instance *inst = NULL;
  const struct weft_job *job = NULL;
  if (!body_ok(r, body, &res) || !(job = body_job(r, body, &res)) ||
      !(inst = http_instance(r, &res)))
    goto done;
  json_t *jkeys = json_object_get(body, "keys");
  if (!(keys = calloc(json_array_size(jkeys) + 1, sizeof *keys))) {
    res = http_send_error(r, 500, NULL, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < json_array_size(jkeys); i++)
    keys[i] = json_string_value(json_array_get(jkeys, i));
  struct weft_backfill_request req = {
      .job = job,
      .from = json_string_value(json_object_get(body, "from")),
      .to = json_string_value(json_object_get(body, "to")),
      .keys = jkeys ? keys : NULL,
      .n_keys = json_array_size(jkeys),
      .config = json_object_get(body, "config"),
      .tags = json_object_get(body, "tags"),
      .now_s = weft_clock_wall_ms() / 1000,
  };
  if (json_is_null(req.config)) req.config = NULL;
  weft_error err = WEFT_ERROR_INIT;
  size_t launched = 0, n_keys = 0;
  if (weft_backfill_launch(inst, &req, &id, &launched, &n_keys, &err)) {
    res = http_send_weft_error(r, &err);
    goto done;
  }
  /* The maintenance thread's next dequeue turn starts them. */
  res = http_send_json(r, 201, json_pack("{s:s, s:I, s:I}", "backfill_id", id, "launched",
                                         (json_int_t)launched, "keys", (json_int_t)n_keys));
done:
  free(id);
  free(keys);
  json_decref(body);
  return res;
}
