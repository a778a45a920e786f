/* worker_code.c: the folder a worker step runs in: the run's snapshot folder
 * the message names when this machine has it (a worker beside its
 * coordinator), else the code version fetched from the artifact store into
 * the worker's code cache (engine/code_ship.h), held while the step runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/code_ship.h"
#include "queue/worker_int.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

#define DEFAULT_CACHE_BYTES ((uint64_t)1 << 30)

static int open_cache(struct worker *w, weft_error *err) {
  if (w->code) return WEFT_OK;
  char *dir = w->o->code_cache ? weft_str_dup(w->o->code_cache)
                               : weft_fs_join(w->inst->home, "code-cache");
  if (!dir) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  uint64_t max = w->o->code_cache_bytes ? w->o->code_cache_bytes : DEFAULT_CACHE_BYTES;
  int rc = weft_code_cache_open(dir, max, &w->code, err);
  free(dir);
  return rc;
}

/* The value of key in env replaced (the location's WEFT_CODE_DIR named the
 * coordinator's folder). */
static int set_env(struct weft_kvs *env, const char *key, const char *value) {
  for (size_t i = 0; i < env->n; i++)
    if (!strcmp(env->v[i].key, key)) {
      char *v = weft_str_dup(value);
      if (!v) return WEFT_ENOMEM;
      free(env->v[i].value);
      env->v[i].value = v;
    }
  return WEFT_OK;
}

int weft__wk_code_dir(struct worker *w, struct slot *s, json_t *msg, const char **cwd,
                      struct weft_kvs *loc_env, weft_error *err) {
  const char *version = json_string_value(json_object_get(msg, "code_version"));
  const char *path = NULL;
  int fetched = 0, rc;
  if (!version) return WEFT_OK; /* a live folder: it must be here */
  if (weft_fs_is_dir(*cwd)) return WEFT_OK; /* this machine has the snapshot */
  if (!weft_code_version_valid(version))
    return weft_error_set(err, WEFT_EINVALID, "field 'code_version' is not a code version");
  if ((rc = open_cache(w, err))) return rc;
  int64_t t0 = weft_clock_mono_ms();
  if ((rc = weft_code_cache_acquire(w->code, w->inst->artifacts, version, &path, &fetched, err)))
    return rc;
  if (!(s->code_version = weft_str_dup(version))) {
    weft_code_cache_release(w->code, version);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  s->code_cache = w->code;
  if (fetched)
    weft__wk_log(w, "fetched code version %s from the artifact store into %s (%lld ms)",
                 version, path, (long long)(weft_clock_mono_ms() - t0));
  *cwd = path;
  if (set_env(loc_env, "WEFT_CODE_DIR", path))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  return WEFT_OK;
}

void weft__wk_code_release(struct slot *s) {
  if (s->code_version) weft_code_cache_release(s->code_cache, s->code_version);
  free(s->code_version);
  s->code_version = NULL;
  s->code_cache = NULL;
}
