/* api_runs_bulk.c: changing many runs at once and runs' retention marks:
 * POST /api/v1/runs/bulk (cancel, re-execute or delete a list of ids, one
 * result each), DELETE /api/v1/runs/{id} (under retention's rules), and
 * POST /api/v1/runs/{id}/pin|unpin. A launcher cancels only its own runs,
 * as in the single route; deleting and pinning are an operator's. */
#include <stdlib.h>
#include <string.h>

#include "engine/retention.h"
#include "http/api_retention.h"
#include "sched/coordinator_spawn.h"
#include "util/clock.h"

#define BULK_MAX 500

static int operator_or_403(struct http_req *r, const char *what, enum MHD_Result *res) {
  if (!r->srv->auth || r->role >= WEFT_ROLE_OPERATOR) return 1;
  *res = http_send_error(r, 403, NULL, "%s needs the operator role", what);
  return 0;
}

static json_t *removed_json(const struct weft_retention_report *rep) {
  return json_pack("{s:I, s:I, s:I, s:I, s:I}", "events", (json_int_t)rep->events, "steps",
                   (json_int_t)rep->steps, "log_files", (json_int_t)rep->log_files,
                   "artifacts", (json_int_t)rep->artifacts, "bytes", (json_int_t)rep->bytes);
}

static unsigned status_of(int code) {
  return code == WEFT_ENOTFOUND ? 404 : code == WEFT_ECONFLICT ? 409
       : code == WEFT_EINVALID ? 400 : 500;
}

/* One cancel: the run exists, goes on, and is the caller's to cancel. */
static json_t *cancel_one(struct http_req *r, const char *id) {
  struct weft_run_row row = {0};
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_store_run_get(r->inst.store, id, &row, &err);
  json_t *out;
  if (rc) {
    out = json_pack("{s:s, s:b, s:i, s:s}", "id", id, "ok", 0, "status", status_of(rc),
                    "message", rc == WEFT_ENOTFOUND ? "no such run" : err.msg);
    goto done;
  }
  if (r->srv->auth && r->role < WEFT_ROLE_OPERATOR) {
    json_t *tags = row.tags ? json_loads(row.tags, 0, NULL) : NULL;
    const char *by = json_string_value(json_object_get(tags, "weft/launched_by"));
    int mine = by && !strcmp(by, r->who);
    json_decref(tags);
    if (!mine) {
      out = json_pack("{s:s, s:b, s:i, s:s}", "id", id, "ok", 0, "status", 403, "message",
                      "a launcher cancels only the runs it launched");
      goto done;
    }
  }
  if (weft_run_status_is_final(row.status)) {
    out = json_pack("{s:s, s:b, s:i, s:s+}", "id", id, "ok", 0, "status", 409, "message",
                    "it already ended: ", weft_run_status_name(row.status));
    goto done;
  }
  rc = weft_run_request_cancel(&r->inst, id, "canceled through the API (bulk)", &err);
  out = rc ? json_pack("{s:s, s:b, s:i, s:s}", "id", id, "ok", 0, "status", status_of(rc),
                       "message", err.msg)
           : json_pack("{s:s, s:b, s:i}", "id", id, "ok", 1, "status", 202);
done:
  weft_run_row_release(&row);
  return out;
}

static json_t *delete_one(struct http_req *r, const struct weft_retention *pol, const char *id,
                          int dry_run) {
  struct weft_retention_report rep;
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_retention_delete_run(&r->inst, pol, id, dry_run, &rep, &err);
  if (rc)
    return json_pack("{s:s, s:b, s:i, s:s}", "id", id, "ok", 0, "status", status_of(rc),
                     "message", err.msg);
  return json_pack("{s:s, s:b, s:i, s:o}", "id", id, "ok", 1, "status", 200,
                   dry_run ? "would_remove" : "removed", removed_json(&rep));
}

enum MHD_Result http_api_runs_bulk(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  json_t *body = http_body_object(r, &res), *ids, *results = NULL;
  struct weft_retention pol = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (!body) return res;
  const char *action = json_string_value(json_object_get(body, "action"));
  ids = json_object_get(body, "ids");
  const char *problem = NULL, *field = "ids";
  if (!action || (strcmp(action, "cancel") && strcmp(action, "reexecute") &&
                  strcmp(action, "delete"))) {
    field = "action";
    problem = "action must be one of cancel, reexecute, delete";
  } else if (!json_is_array(ids) || !json_array_size(ids) ||
             json_array_size(ids) > BULK_MAX) {
    problem = "ids must be an array of 1 to 500 run ids";
  }
  for (size_t i = 0; !problem && i < json_array_size(ids); i++)
    if (!json_is_string(json_array_get(ids, i)) || !*json_string_value(json_array_get(ids, i)))
      problem = "ids must hold run ids (strings)";
  if (problem) {
    res = http_send_error(r, 400, json_pack("[{s:s, s:s}]", "field", field, "message", problem),
                          "%s", problem);
    goto done;
  }
  if (!http_instance(r, &res)) goto done;
  int delete = !strcmp(action, "delete"), reexec = !strcmp(action, "reexecute");
  if (delete && !operator_or_403(r, "deleting runs", &res)) goto done;
  if (delete && weft_retention_load(r->inst.home, &pol, &err)) {
    res = http_send_error(r, 500, NULL, "%s", err.msg);
    goto done;
  }
  int dry_run = json_is_true(json_object_get(body, "dry_run"));
  int latest_code = json_is_true(json_object_get(body, "latest_code"));
  size_t ok = 0, started = 0;
  if (!(results = json_array())) goto nomem;
  for (size_t i = 0; i < json_array_size(ids); i++) {
    const char *id = json_string_value(json_array_get(ids, i));
    json_t *one = NULL;
    if (delete) {
      one = delete_one(r, &pol, id, dry_run);
    } else if (reexec) {
      char *run_id = NULL, *msg = NULL;
      json_t *details = NULL;
      unsigned st = http_reexecute_one(r, id, 1, latest_code, NULL, 0, &run_id, &msg, &details);
      one = st == 201 ? json_pack("{s:s, s:b, s:i, s:s}", "id", id, "ok", 1, "status", 201,
                                  "run_id", run_id)
                      : json_pack("{s:s, s:b, s:i, s:s, s:o*}", "id", id, "ok", 0, "status", st,
                                  "message", msg ? msg : "out of memory", "details", details);
      started += st == 201;
      free(run_id);
      free(msg);
    } else {
      one = cancel_one(r, id);
    }
    if (!one || json_array_append_new(results, one)) goto nomem;
    ok += json_is_true(json_object_get(one, "ok"));
  }
  /* The new runs start in one turn of the run queue (as a single
   * re-execution does). Should that turn fail, they stay queued and the
   * maintenance thread's next turn starts them: the results stand. */
  if (started)
    (void)weft_coord_dequeue(&r->srv->spawner, &r->inst, &r->srv->queue, &err);
  res = http_send_json(r, 200, json_pack("{s:s, s:I, s:I, s:O}", "action", action, "ok",
                                         (json_int_t)ok, "failed",
                                         (json_int_t)(json_array_size(ids) - ok), "results",
                                         results));
  goto done;
nomem:
  res = http_send_error(r, 500, NULL, "out of memory");
done:
  weft_retention_release(&pol);
  json_decref(results);
  json_decref(body);
  return res;
}

enum MHD_Result http_api_run_delete(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_retention pol = {0};
  struct weft_retention_report rep;
  weft_error err = WEFT_ERROR_INIT;
  if (!http_instance(r, &res)) return res;
  const char *dry = http_arg(r, "dry_run");
  int dry_run = dry && (!strcmp(dry, "1") || !strcmp(dry, "true"));
  if (weft_retention_load(r->inst.home, &pol, &err) ||
      weft_retention_delete_run(&r->inst, &pol, r->segs[3], dry_run, &rep, &err)) {
    res = http_send_weft_error(r, &err);
  } else {
    res = http_send_json(r, 200, json_pack("{s:s, s:b, s:o}", "run_id", r->segs[3], "dry_run",
                                           dry_run, dry_run ? "would_remove" : "removed",
                                           removed_json(&rep)));
  }
  weft_retention_release(&pol);
  return res;
}

static enum MHD_Result pin(struct http_req *r, int on) {
  enum MHD_Result res = MHD_NO;
  weft_error err = WEFT_ERROR_INIT;
  if (!http_instance(r, &res)) return res;
  if (weft_run_pin(&r->inst, r->segs[3], on, &err)) return http_send_weft_error(r, &err);
  return http_send_json(r, 200, json_pack("{s:s, s:b}", "run_id", r->segs[3], "pinned", on));
}

enum MHD_Result http_api_run_pin(struct http_req *r) { return pin(r, 1); }
enum MHD_Result http_api_run_unpin(struct http_req *r) { return pin(r, 0); }
