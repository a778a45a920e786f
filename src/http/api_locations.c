/* api_locations.c: the code locations (API.md "Code locations and jobs"):
 * listing and reloading them, and adding/removing/reloading registry ones. */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/locreg.h"
#include "http/http_int.h"
#include "util/fs.h"

/* ---- documents --------------------------------------------------------------------- */

static json_t *opt_string(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *location_json(const struct weft_location *loc) {
  size_t n_ops = loc->n_ops;
  for (size_t j = 0; j < loc->n_jobs; j++) n_ops += loc->jobs[j].n_inline_ops;
  json_t *errors = http_diags_json(&loc->diags), *env = http_env_names(&loc->env);
  if (!errors || !env) {
    json_decref(errors);
    json_decref(env);
    return NULL;
  }
  return json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "name", loc->name, "path",
                   loc->path, "jobs", (json_int_t)loc->n_jobs, "ops", (json_int_t)n_ops,
                   "errors", errors, "env", env, "python", opt_string(loc->python), "image",
                   opt_string(loc->image), "workdir", opt_string(loc->workdir));
}

/* {"version", "locations": [...], "errors": [...]}: errors are the
 * workspace file's own, which can hide whole locations; version is the
 * registry's the workspace was built from (0 when not from the registry). */
static json_t *locations_doc(struct http_req *r) {
  const struct weft_workspace *ws = http_workspace(r);
  json_t *arr = json_array(), *errors = http_diags_json(&ws->diags);
  for (size_t i = 0; arr && i < ws->n_locations; i++)
    if (json_array_append_new(arr, location_json(ws->locations[i]))) {
      json_decref(arr);
      arr = NULL;
    }
  if (!arr || !errors) {
    json_decref(arr);
    json_decref(errors);
    return NULL;
  }
  return json_pack("{s:I, s:o, s:o}", "version", (json_int_t)r->ws->reg_version, "locations",
                   arr, "errors", errors);
}

/* One registry entry loaded from disk, with the registry version. */
static enum MHD_Result send_entry(struct http_req *r, unsigned status,
                                  const struct weft_locreg_entry *e, int64_t version) {
  struct weft_location *loc = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_locreg_load_entry(e, &loc, &err))
    return http_send_error(r, 500, NULL, "cannot load location '%s': %s", e->name, err.msg);
  json_t *doc = location_json(loc);
  weft_location_free(loc);
  if (doc && json_object_set_new(doc, "version", json_integer((json_int_t)version))) {
    json_decref(doc);
    doc = NULL;
  }
  return http_send_json(r, status, doc);
}

/* ---- whole workspace ---------------------------------------------------------------- */

enum MHD_Result http_api_locations(struct http_req *r) {
  return http_send_json(r, 200, locations_doc(r));
}

enum MHD_Result http_api_reload(struct http_req *r) {
  weft_error err = WEFT_ERROR_INIT;
  if (http_ws_reload(r->srv, &err))
    return http_send_error(r, 500, NULL, "cannot reload the workspace (the previous one "
                                         "stays in use): %s", err.msg);
  return http_send_json(r, 200, locations_doc(r));
}

/* ---- registry changes ---------------------------------------------------------------- */

/* Changes go to the registry; a server given -l folders does not read it. */
static int registry_only(struct http_req *r, enum MHD_Result *res) {
  if (r->srv->registry) return WEFT_OK;
  *res = http_send_error(r, 409, NULL, "this server serves the folders given with -l, not the "
                                       "location registry; start it without -l to change "
                                       "locations");
  return WEFT_ECONFLICT;
}

/* A change the registry refused: 409 for a lost compare-and-set or a
 * stale if_version, as for a name already registered. */
static enum MHD_Result send_change_error(struct http_req *r, const weft_error *err) {
  if (err->code == WEFT_EVERSION) return http_send_error(r, 409, NULL, "%s", err->msg);
  return http_send_weft_error(r, err);
}

/* Tells this server at once; the others (and this one, should this fail)
 * notice the new registry version by themselves. */
static void reload_now(struct http_req *r) {
  weft_error err = WEFT_ERROR_INIT;
  (void)http_ws_reload(r->srv, &err);
}

/* Appends {"field", "message"} to details (a problem with the body). */
static void field_error(json_t *details, const char *field, const char *message) {
  json_array_append_new(details, json_pack("{s:s, s:s}", "field", field, "message", message));
}

/* "reload" is not a name: /api/v1/locations/reload is another route. */
static int name_ok(const char *s) {
  if (!*s || strlen(s) > 100 || *s == '.' || !strcmp(s, "reload")) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("_-.", *s)) return 0;
  return 1;
}

/* An optional string member into *out (a copy); problems go to details. */
static void opt_field(json_t *body, const char *key, char **out, json_t *details) {
  json_t *v = json_object_get(body, key);
  if (!v || json_is_null(v)) return;
  if (!json_is_string(v) || !json_string_length(v))
    field_error(details, key, "must be a non-empty string");
  else if (!(*out = strdup(json_string_value(v))))
    field_error(details, key, "out of memory");
}

static void env_field(json_t *body, struct weft_locreg_entry *e, json_t *details) {
  json_t *env = json_object_get(body, "env"), *v;
  const char *k;
  if (!env || json_is_null(env)) return;
  if (!json_is_object(env)) {
    field_error(details, "env", "must be an object of strings");
    return;
  }
  if (!(e->env.v = calloc(json_object_size(env) + 1, sizeof *e->env.v))) {
    field_error(details, "env", "out of memory");
    return;
  }
  json_object_foreach(env, k, v) {
    if (!*k || strchr(k, '=') || !json_is_string(v)) {
      field_error(details, "env", "every key must be a variable name and every value a string");
      return;
    }
    struct weft_kv *kv = &e->env.v[e->env.n++];
    kv->key = strdup(k);
    kv->value = strdup(json_string_value(v));
    if (!kv->key || !kv->value) {
      field_error(details, "env", "out of memory");
      return;
    }
  }
}

/* The body of POST /api/v1/locations into e and *if_version; WEFT_OK, or
 * WEFT_EINVALID after answering 400 with one detail per bad field. */
static int parse_add(struct http_req *r, json_t *body, struct weft_locreg_entry *e,
                     int64_t *if_version, enum MHD_Result *res) {
  static const char *const known[] = {"name", "path", "env", "python", "image", "workdir",
                                      "if_version", NULL};
  json_t *details = json_array(), *v;
  const char *k;
  if (!details) {
    *res = http_send_error(r, 500, NULL, "out of memory");
    return WEFT_ENOMEM;
  }
  json_object_foreach(body, k, v) {
    size_t i = 0;
    while (known[i] && strcmp(known[i], k)) i++;
    if (!known[i]) field_error(details, k, "unknown field");
  }
  v = json_object_get(body, "name");
  if (!json_is_string(v))
    field_error(details, "name", "required: a string");
  else if (!name_ok(json_string_value(v)))
    field_error(details, "name", "letters, digits, '_', '-' and '.' (at most 100), not 'reload'");
  else if (!(e->name = strdup(json_string_value(v))))
    field_error(details, "name", "out of memory");
  v = json_object_get(body, "path");
  if (!json_is_string(v) || !json_string_length(v))
    field_error(details, "path", "required: a folder on the server");
  else if (!weft_fs_is_dir(json_string_value(v)) ||
           !(e->path = realpath(json_string_value(v), NULL)))
    field_error(details, "path", "not a folder on the server");
  env_field(body, e, details);
  opt_field(body, "python", &e->python, details);
  opt_field(body, "image", &e->image, details);
  opt_field(body, "workdir", &e->workdir, details);
  v = json_object_get(body, "if_version");
  *if_version = -1;
  if (v && !json_is_null(v)) {
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      field_error(details, "if_version", "must be an integer >= 0");
    else
      *if_version = json_integer_value(v);
  }
  if (!json_array_size(details)) {
    json_decref(details);
    return WEFT_OK;
  }
  size_t n = json_array_size(details);
  *res = http_send_error(r, 400, details, "invalid location: %zu %s", n,
                         n == 1 ? "problem" : "problems");
  return WEFT_EINVALID;
}

enum MHD_Result http_api_location_add(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_locreg_entry e = {0};
  int64_t if_version = -1, version = 0;
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst;
  json_t *body = http_body_object(r, &res);
  if (!body) return res;
  if (parse_add(r, body, &e, &if_version, &res) || registry_only(r, &res) ||
      !(inst = http_instance(r, &res)))
    goto done;
  if (weft_locreg_add(inst->store, &e, if_version, &version, &err)) {
    res = send_change_error(r, &err);
    goto done;
  }
  reload_now(r);
  res = send_entry(r, 201, &e, version);
done:
  json_decref(body);
  weft_locreg_entry_release(&e);
  return res;
}

enum MHD_Result http_api_location_remove(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  long long if_version;
  int64_t version = 0;
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst;
  if (http_arg_int(r, "if_version", 0, LLONG_MAX, -1, &if_version, &res) ||
      registry_only(r, &res) || !(inst = http_instance(r, &res)))
    return res;
  if (weft_locreg_remove(inst->store, r->segs[3], if_version, &version, &err))
    return send_change_error(r, &err);
  reload_now(r);
  struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  return http_queue(r, 204, resp);
}

enum MHD_Result http_api_location_reload(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_locreg reg = {0};
  int64_t version = 0;
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst;
  if (registry_only(r, &res) || !(inst = http_instance(r, &res))) return res;
  if (weft_locreg_read(inst->store, &reg, &err)) return http_send_weft_error(r, &err);
  const struct weft_locreg_entry *e = weft_locreg_find(&reg, r->segs[3]);
  if (!e)
    res = http_send_error(r, 404, NULL, "no location '%s' in the registry", r->segs[3]);
  /* Bumping the version is what tells every server to load it again. */
  else if (weft_locreg_touch(inst->store, e->name, &version, &err))
    res = send_change_error(r, &err);
  else {
    reload_now(r);
    res = send_entry(r, 200, e, version);
  }
  weft_locreg_release(&reg);
  return res;
}
