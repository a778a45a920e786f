/* locreg.c: the location registry (locreg.h): one JSON document in the store's
 * kv state, changed only by compare-and-set so concurrent writers never lose. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "dsl/python.h"
#include "engine/locreg.h"
#include "util/clock.h"
#include "util/str.h"

/* ---- the document ----------------------------------------------------------------- */

/* Reads the raw text (NULL when absent) and its parsed document. */
static int read_doc(struct weft_store *s, char **raw, json_t **doc, weft_error *err) {
  json_error_t je;
  *doc = NULL;
  int rc = weft_store_kv_get(s, WEFT_LOCREG_KEY, raw, err);
  if (rc == WEFT_ENOTFOUND) {
    *raw = NULL;
    rc = WEFT_OK;
  }
  if (rc) return rc;
  if (!*raw) {
    *doc = json_pack("{s:I, s:[]}", "version", (json_int_t)0, "locations");
  } else if (!(*doc = json_loads(*raw, 0, &je)) || !json_is_object(*doc) ||
             !json_is_array(json_object_get(*doc, "locations"))) {
    json_decref(*doc);
    *doc = NULL;
    free(*raw);
    *raw = NULL;
    return weft_error_set(err, WEFT_ESTORE, "the location registry (kv %s) is corrupt",
                          WEFT_LOCREG_KEY);
  }
  if (!*doc) {
    free(*raw);
    *raw = NULL;
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return WEFT_OK;
}

static int64_t doc_version(const json_t *doc) {
  return (int64_t)json_integer_value(json_object_get(doc, "version"));
}

/* Index of location name in the document, or -1. */
static long doc_find(const json_t *doc, const char *name) {
  json_t *arr = json_object_get(doc, "locations");
  for (size_t i = 0; i < json_array_size(arr); i++) {
    const char *n = json_string_value(json_object_get(json_array_get(arr, i), "name"));
    if (n && !strcmp(n, name)) return (long)i;
  }
  return -1;
}

/* Bumps the version and writes doc in place of raw (the text it was read
 * from). Losing the race is the one error a caller can fix by retrying, so
 * it says so. */
static int write_doc(struct weft_store *s, const char *raw, json_t *doc,
                     int64_t *new_version, weft_error *err) {
  int64_t v = doc_version(doc) + 1;
  if (json_object_set_new(doc, "version", json_integer((json_int_t)v)))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  if (!text) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  weft_error cas = WEFT_ERROR_INIT;
  int rc = weft_store_kv_compare_set(s, WEFT_LOCREG_KEY, raw, text, &cas);
  free(text);
  if (rc == WEFT_ECONFLICT)
    return weft_error_set(err, WEFT_EVERSION,
                          "the location registry changed while this update was being made "
                          "(it was at version %lld); nothing was written: retry",
                          (long long)(v - 1));
  if (rc) return weft_error_set(err, rc, "%s", cas.msg);
  if (new_version) *new_version = v;
  return WEFT_OK;
}

static int check_version(const json_t *doc, int64_t if_version, weft_error *err) {
  if (if_version < 0 || doc_version(doc) == if_version) return WEFT_OK;
  return weft_error_set(err, WEFT_EVERSION,
                        "the location registry is at version %lld, not %lld: it changed "
                        "since you read it; read it again and retry",
                        (long long)doc_version(doc), (long long)if_version);
}

/* ---- reading ------------------------------------------------------------------------- */

static char *opt_dup(const json_t *o, const char *key) {
  const char *v = json_string_value(json_object_get(o, key));
  return v ? strdup(v) : NULL;
}

static int entry_from_json(const json_t *o, struct weft_locreg_entry *e) {
  memset(e, 0, sizeof *e);
  if (!(e->name = opt_dup(o, "name")) || !(e->path = opt_dup(o, "path"))) return WEFT_ENOMEM;
  e->python = opt_dup(o, "python");
  e->image = opt_dup(o, "image");
  e->workdir = opt_dup(o, "workdir");
  e->reloaded_ms = (int64_t)json_integer_value(json_object_get(o, "reloaded_ms"));
  json_t *env = json_object_get(o, "env");
  size_t n = json_object_size(env);
  if (n && !(e->env.v = calloc(n, sizeof *e->env.v))) return WEFT_ENOMEM;
  const char *k;
  json_t *val;
  json_object_foreach(env, k, val) {
    struct weft_kv *kv = &e->env.v[e->env.n++];
    kv->key = strdup(k);
    kv->value = strdup(json_is_string(val) ? json_string_value(val) : "");
    if (!kv->key || !kv->value) return WEFT_ENOMEM;
  }
  return WEFT_OK;
}

void weft_locreg_entry_release(struct weft_locreg_entry *e) {
  free(e->name);
  free(e->path);
  free(e->python);
  free(e->image);
  free(e->workdir);
  for (size_t i = 0; i < e->env.n; i++) {
    free(e->env.v[i].key);
    free(e->env.v[i].value);
  }
  free(e->env.v);
  memset(e, 0, sizeof *e);
}

void weft_locreg_release(struct weft_locreg *r) {
  for (size_t i = 0; i < r->n; i++) weft_locreg_entry_release(&r->v[i]);
  free(r->v);
  memset(r, 0, sizeof *r);
}

int weft_locreg_read(struct weft_store *s, struct weft_locreg *out, weft_error *err) {
  char *raw = NULL;
  json_t *doc = NULL;
  memset(out, 0, sizeof *out);
  int rc = read_doc(s, &raw, &doc, err);
  if (rc) return rc;
  json_t *arr = json_object_get(doc, "locations");
  out->version = doc_version(doc);
  size_t n = json_array_size(arr);
  if (n && !(out->v = calloc(n, sizeof *out->v))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    rc = entry_from_json(json_array_get(arr, i), &out->v[out->n++]);
    if (rc) {
      weft_error_set(err, rc, "out of memory");
      goto done;
    }
  }
done:
  if (rc) weft_locreg_release(out);
  json_decref(doc);
  free(raw);
  return rc;
}

const struct weft_locreg_entry *weft_locreg_find(const struct weft_locreg *r,
                                                 const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (!strcmp(r->v[i].name, name)) return &r->v[i];
  return NULL;
}

/* ---- changing -------------------------------------------------------------------------- */

static json_t *entry_to_json(const struct weft_locreg_entry *e) {
  json_t *o = json_pack("{s:s, s:s, s:o}", "name", e->name, "path", e->path, "env",
                        json_object());
  if (!o) return NULL;
  json_t *env = json_object_get(o, "env");
  int bad = 0;
  for (size_t i = 0; i < e->env.n; i++)
    bad |= json_object_set_new(env, e->env.v[i].key,
                               json_string(e->env.v[i].value ? e->env.v[i].value : ""));
  if (e->python) bad |= json_object_set_new(o, "python", json_string(e->python));
  if (e->image) bad |= json_object_set_new(o, "image", json_string(e->image));
  if (e->workdir) bad |= json_object_set_new(o, "workdir", json_string(e->workdir));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int weft_locreg_add(struct weft_store *s, const struct weft_locreg_entry *e,
                    int64_t if_version, int64_t *new_version, weft_error *err) {
  char *raw = NULL;
  json_t *doc = NULL;
  if (!e->name || !weft_str_is_identifier(e->name))
    return weft_error_set(err, WEFT_EINVALID,
                          "invalid code location name '%s' (use letters, digits, '_' and "
                          "'-', starting with a letter or '_')",
                          e->name ? e->name : "");
  if (!e->path || e->path[0] != '/')
    return weft_error_set(err, WEFT_EINVALID, "the location path must be absolute");
  int rc = read_doc(s, &raw, &doc, err);
  if (rc) return rc;
  if ((rc = check_version(doc, if_version, err))) goto done;
  if (doc_find(doc, e->name) >= 0) {
    rc = weft_error_set(err, WEFT_ECONFLICT,
                        "location '%s' is already registered (remove it first)", e->name);
    goto done;
  }
  json_t *o = entry_to_json(e);
  if (!o || json_array_append_new(json_object_get(doc, "locations"), o)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  rc = write_doc(s, raw, doc, new_version, err);
done:
  json_decref(doc);
  free(raw);
  return rc;
}

/* Removes (touch == 0) or marks reloaded (touch == 1) the entry name. */
static int change_entry(struct weft_store *s, const char *name, int touch,
                        int64_t if_version, int64_t *new_version, weft_error *err) {
  char *raw = NULL;
  json_t *doc = NULL;
  int rc = read_doc(s, &raw, &doc, err);
  if (rc) return rc;
  if ((rc = check_version(doc, if_version, err))) goto done;
  long at = doc_find(doc, name);
  if (at < 0) {
    rc = weft_error_set(err, WEFT_ENOTFOUND, "no location '%s' in the registry", name);
    goto done;
  }
  json_t *arr = json_object_get(doc, "locations");
  if (touch)
    rc = json_object_set_new(json_array_get(arr, (size_t)at), "reloaded_ms",
                             json_integer((json_int_t)weft_clock_wall_ms()));
  else
    rc = json_array_remove(arr, (size_t)at);
  if (rc) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  rc = write_doc(s, raw, doc, new_version, err);
done:
  json_decref(doc);
  free(raw);
  return rc;
}

int weft_locreg_remove(struct weft_store *s, const char *name, int64_t if_version,
                       int64_t *new_version, weft_error *err) {
  return change_entry(s, name, 0, if_version, new_version, err);
}

int weft_locreg_touch(struct weft_store *s, const char *name, int64_t *new_version,
                      weft_error *err) {
  return change_entry(s, name, 1, -1, new_version, err);
}

int weft_locreg_seed(struct weft_store *s, const struct weft_workspace *ws, int *seeded,
                     weft_error *err) {
  char *raw = NULL;
  json_t *doc = NULL;
  *seeded = 0;
  int rc = read_doc(s, &raw, &doc, err);
  if (rc) return rc;
  json_t *arr = json_object_get(doc, "locations");
  if (json_array_size(arr) || !ws->n_locations) goto done;
  for (size_t i = 0; i < ws->n_locations; i++) {
    struct weft_locreg_entry e = {.name = ws->locations[i]->name,
                                  .path = ws->locations[i]->path};
    json_t *o = entry_to_json(&e);
    if (!o || json_array_append_new(arr, o)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
  }
  /* Two servers starting at once: the loser finds the winner's seed. */
  rc = write_doc(s, raw, doc, NULL, err);
  if (rc == WEFT_EVERSION) {
    rc = WEFT_OK;
    goto done;
  }
  if (!rc) *seeded = 1;
done:
  json_decref(doc);
  free(raw);
  return rc;
}

/* ---- loading ---------------------------------------------------------------------------- */

static int copy_settings(const struct weft_locreg_entry *e, struct weft_location *loc) {
  if (e->env.n && !(loc->env.v = calloc(e->env.n, sizeof *loc->env.v))) return WEFT_ENOMEM;
  for (size_t i = 0; i < e->env.n; i++) {
    struct weft_kv *kv = &loc->env.v[loc->env.n++];
    if (!(kv->key = strdup(e->env.v[i].key)) || !(kv->value = strdup(e->env.v[i].value)))
      return WEFT_ENOMEM;
  }
  if ((e->python && !(loc->python = strdup(e->python))) ||
      (e->image && !(loc->image = strdup(e->image))) ||
      (e->workdir && !(loc->workdir = strdup(e->workdir))))
    return WEFT_ENOMEM;
  return WEFT_OK;
}

int weft_locreg_load_entry(const struct weft_locreg_entry *e, struct weft_location **out,
                           weft_error *err) {
  weft_error why = WEFT_ERROR_INIT;
  struct weft_location *loc = NULL;
  *out = NULL;
  /* Its .py files are described by the location's own Python (--python). */
  int rc = weft_location_load_python(e->path, e->name, e->python, &loc, &why);
  if (rc == WEFT_ENOMEM) return weft_error_set(err, rc, "out of memory");
  if (rc) {
    /* An empty location that says why keeps the entry visible. */
    if ((rc = weft_dsl_load_sources(e->name, e->path, NULL, 0, &loc, err))) return rc;
    weft_diags_addf(&loc->diags, e->path, 0, 0, "cannot load code location '%s': %s",
                    e->name, why.msg);
  }
  if (copy_settings(e, loc)) {
    weft_location_free(loc);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  *out = loc;
  return WEFT_OK;
}

int weft_locreg_workspace(const struct weft_locreg *r, struct weft_workspace **out,
                          weft_error *err) {
  struct weft_workspace *ws = calloc(1, sizeof *ws);
  int rc = WEFT_OK;
  *out = NULL;
  if (!ws || (r->n && !(ws->locations = calloc(r->n, sizeof *ws->locations)))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < r->n; i++) {
    if ((rc = weft_locreg_load_entry(&r->v[i], &ws->locations[i], err))) goto done;
    ws->n_locations++;
  }
  *out = ws;
  ws = NULL;
done:
  weft_workspace_free(ws);
  return rc;
}
