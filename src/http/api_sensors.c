/* api_sensors.c: sensors (API.md "Schedules and sensors"): one sensor with its declaration
 * and evaluations; the list, pages and on/off are api_schedules.c's, shared with schedules. */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "sched/sched.h"

enum MHD_Result http_api_sensors(struct http_req *r) { return http_sched_send_list(r, 1); }

/* What the declaration says beyond the item, by kind. */
static int add_declaration(json_t *o, const struct weft_sensor *se) {
  json_t *argv = json_null(), *tags = weft_kvs_to_json(&se->tags);
  if (se->argv) {
    argv = json_array();
    for (char **a = se->argv; argv && *a; a++)
      if (json_array_append_new(argv, json_string(*a))) {
        json_decref(argv);
        argv = NULL;
      }
  }
  json_t *decl = argv && tags
                     ? json_pack("{s:s?, s:s?, s:o, s:f, s:s?, s:s?, s:s?}", "glob", se->glob,
                                 "run", se->run, "argv", argv, "timeout_s", se->timeout_s,
                                 "watch_job", se->watch_job, "watch_status", se->watch_status,
                                 "asset", se->asset)
                     : NULL;
  if (!decl) {
    json_decref(argv);
    json_decref(tags);
    return WEFT_ENOMEM;
  }
  /* Only what applies to the kind: a file sensor has no command. */
  const char *kind = weft_sensor_kind_name(se->kind);
  if (strcmp(kind, "file")) json_object_del(decl, "glob");
  if (strcmp(kind, "command")) {
    json_object_del(decl, "run");
    json_object_del(decl, "argv");
    json_object_del(decl, "timeout_s");
  }
  if (strcmp(kind, "run_status")) {
    json_object_del(decl, "watch_job");
    json_object_del(decl, "watch_status");
  }
  if (strcmp(kind, "asset")) json_object_del(decl, "asset");
  int bad = json_object_update(o, decl) || json_object_set_new(o, "tags", tags) ||
            json_object_set_new(o, "config", se->config ? json_incref(se->config) : json_null());
  json_decref(decl);
  return bad ? WEFT_ENOMEM : WEFT_OK;
}

enum MHD_Result http_api_sensor(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_sched_item_list l = {0};
  const struct weft_sched_item *it;
  weft_error err = WEFT_ERROR_INIT;
  json_t *item = NULL, *doc = NULL;
  if (http_sched_find(r, 1, &l, &it, &res)) return res;
  const struct weft_sensor *se = weft_workspace_find_sensor(http_workspace(r), it->name);
  if (!(item = http_sched_item_json(r->inst.store, it, 1, &err))) {
    res = http_send_error(r, 500, NULL, "%s", err.msg[0] ? err.msg : "out of memory");
    goto done;
  }
  if ((se && add_declaration(item, se)) || !(doc = json_pack("{s:O}", "sensor", item))) {
    res = http_send_error(r, 500, NULL, "out of memory");
    goto done;
  }
  if (!http_sched_add_history(r, it, doc, &res)) {
    res = http_send_json(r, 200, doc);
    doc = NULL;
  }
done:
  json_decref(doc);
  json_decref(item);
  weft_sched_item_list_release(&l);
  return res;
}

enum MHD_Result http_api_sensor_ticks(struct http_req *r) { return http_sched_send_ticks(r, 1); }

enum MHD_Result http_api_sensor_on(struct http_req *r) { return http_sched_toggle(r, 1, 1); }

enum MHD_Result http_api_sensor_off(struct http_req *r) { return http_sched_toggle(r, 1, 0); }
