/* api_secrets.c: secrets and variables over HTTP (admin, engine/secrets.h).
 * Secrets are listed by name and removed; their values never come out of
 * the API (and are set with the CLI, from a file or standard input).
 * Variables are plain: listed, read, set and removed. Changes are audited
 * by the router's guard (method and path, so by name). */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/secrets.h"
#include "http/http_int.h"

static enum MHD_Result no_content(struct http_req *r) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  return http_queue(r, 204, resp);
}

/* GET /api/v1/secrets: {"secrets": [{"name", "updated_ms"}]}, by name. */
enum MHD_Result http_api_secrets(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  struct weft_secret_info *v = NULL;
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_secret_list(inst->store, &v, &n, &err)) return http_send_weft_error(r, &err);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, json_pack("{s:s, s:I}", "name", v[i].name, "updated_ms",
                                             (json_int_t)v[i].updated_ms))) {
      json_decref(arr);
      arr = NULL;
    }
  weft_secret_infos_release(v, n);
  return http_send_json(r, 200, arr ? json_pack("{s:o}", "secrets", arr) : NULL);
}

/* DELETE /api/v1/secrets/NAME: 204, or 404. */
enum MHD_Result http_api_secret_remove(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_instance *inst = http_instance(r, &res);
  weft_error err = WEFT_ERROR_INIT;
  if (!inst) return res;
  if (weft_secret_remove(inst->store, r->segs[3], &err)) return http_send_weft_error(r, &err);
  return no_content(r);
}

/* GET /api/v1/variables: {"variables": [{"name", "value", "updated_ms"}]}. */
enum MHD_Result http_api_variables(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  struct weft_secret_info *v = NULL;
  char **values = NULL;
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_variable_list(inst->store, &v, &values, &n, &err))
    return http_send_weft_error(r, &err);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "name", v[i].name, "value",
                                             values[i], "updated_ms",
                                             (json_int_t)v[i].updated_ms))) {
      json_decref(arr);
      arr = NULL;
    }
  weft_variables_release(v, values, n);
  return http_send_json(r, 200, arr ? json_pack("{s:o}", "variables", arr) : NULL);
}

/* GET /api/v1/variables/NAME: {"name", "value"}, or 404. */
enum MHD_Result http_api_variable(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_instance *inst = http_instance(r, &res);
  weft_error err = WEFT_ERROR_INIT;
  char *value = NULL;
  if (!inst) return res;
  if (weft_variable_get(inst->store, r->segs[3], &value, &err))
    return http_send_weft_error(r, &err);
  json_t *doc = json_pack("{s:s, s:s}", "name", r->segs[3], "value", value);
  free(value);
  return http_send_json(r, 200, doc);
}

/* PUT /api/v1/variables/NAME {"value": "..."}: {"name", "value"}. */
enum MHD_Result http_api_variable_put(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  weft_error err = WEFT_ERROR_INIT;
  json_t *body = http_body_object(r, &res);
  if (!body) return res;
  const char *value = json_string_value(json_object_get(body, "value"));
  struct weft_instance *inst = NULL;
  if (!value)
    res = http_send_error(r, 400, NULL, "the body must be {\"value\": \"...\"} (a string)");
  else if ((inst = http_instance(r, &res)) && weft_variable_set(inst->store, r->segs[3], value,
                                                                 &err))
    res = http_send_weft_error(r, &err);
  else if (inst)
    res = http_send_json(r, 200, json_pack("{s:s, s:s}", "name", r->segs[3], "value", value));
  json_decref(body);
  return res;
}

/* DELETE /api/v1/variables/NAME: 204, or 404. */
enum MHD_Result http_api_variable_remove(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_instance *inst = http_instance(r, &res);
  weft_error err = WEFT_ERROR_INIT;
  if (!inst) return res;
  if (weft_variable_remove(inst->store, r->segs[3], &err)) return http_send_weft_error(r, &err);
  return no_content(r);
}
