/* artifacts.c: the artifact store wrappers (the only callers of a backend's
 * method table), the backend registry and the key rules every backend shares. */
#include "artifacts/artifacts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifacts/artifacts_int.h"
#include "util/fs.h"
#include "util/registry.h"
#include "util/str.h"

void weft_artifact_list_release(struct weft_artifact_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* ---- keys ------------------------------------------------------------------- */

/* Checks the segments of s; the last one may be partial (a list prefix) and,
 * when allow_open_end, empty (a prefix ending in '/', or ""). */
static int check_path(const char *what, const char *s, int allow_open_end,
                      weft_error *err) {
  if (!s) return weft_error_set(err, WEFT_EINVALID, "artifact %s is missing", what);
  if (!*s && !allow_open_end)
    return weft_error_set(err, WEFT_EINVALID, "artifact %s is empty", what);
  if (*s == '/') {
    return weft_error_set(err, WEFT_EINVALID,
                          "artifact %s \"%s\" is absolute; keys are relative paths",
                          what, s);
  }
  for (const char *p = s; *p; p++) {
    if ((unsigned char)*p < 0x20 || *p == 0x7f) {
      return weft_error_set(err, WEFT_EINVALID,
                            "artifact %s \"%s\" holds a control character", what, s);
    }
  }
  const char *seg = s;
  for (;;) {
    const char *end = strchr(seg, '/');
    size_t len = end ? (size_t)(end - seg) : strlen(seg);
    int last = end == NULL;
    if (len == 0 && !(last && allow_open_end)) {
      return weft_error_set(err, WEFT_EINVALID,
                            "artifact %s \"%s\" has an empty path segment", what, s);
    }
    if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
      return weft_error_set(err, WEFT_EINVALID,
                            "artifact %s \"%s\" has a \"%.*s\" segment (path traversal)",
                            what, s, (int)len, seg);
    }
    if (last) break;
    seg = end + 1;
  }
  return WEFT_OK;
}

int weft_artifacts_key_check(const char *key, weft_error *err) {
  return check_path("key", key, 0, err);
}

int weft__artifacts_prefix_check(const char *prefix, weft_error *err) {
  return check_path("prefix", prefix, 1, err);
}

/* ---- registry ------------------------------------------------------------------ */

static const char *methods_name(const void *m) {
  return ((const struct weft_artifacts_methods *)m)->name;
}

static const void *const builtins[] = {&weft__artifacts_fs_methods, &weft__artifacts_s3_methods, NULL};
static struct weft_registry registry = WEFT_REGISTRY_INIT(builtins, methods_name);

int weft_artifacts_register(const struct weft_artifacts_methods *m) {
  if (!m || !m->name || m->version != 1 || m->instance_size < sizeof(struct weft_artifacts))
    return WEFT_EINVALID;
  return weft_registry_add(&registry, m);
}

const struct weft_artifacts_methods *weft_artifacts_find(const char *name) {
  return weft_registry_find(&registry, name);
}

/* "s3://" is s3; "file:" and plain paths are fs; any other "scheme://" is
 * refused rather than taken for a folder name. */
static int backend_for_url(const char *url, const char **name, weft_error *err) {
  if (weft_str_has_prefix(url, "s3://")) {
    *name = "s3";
    return WEFT_OK;
  }
  if (weft_str_has_prefix(url, "file:")) {
    *name = "fs";
    return WEFT_OK;
  }
  const char *sep = strstr(url, "://");
  if (sep) {
    return weft_error_set(err, WEFT_EINVALID,
                          "artifact store URL %s: unknown scheme '%.*s' (use "
                          "file:PATH, a path, or s3://bucket/prefix)",
                          url, (int)(sep - url), url);
  }
  *name = "fs";
  return WEFT_OK;
}

/* ---- counters (artifacts.h) ---------------------------------------------------- */

const char *const weft_artifacts_op_names[WEFT_ARTIFACTS__NOPS] = {"put", "get", "head", "list",
                                                                  "delete"};
static atomic_ullong op_calls[WEFT_ARTIFACTS__NOPS], op_errors[WEFT_ARTIFACTS__NOPS];

static int counted(enum weft_artifacts_op op, int rc) {
  atomic_fetch_add(&op_calls[op], 1);
  if (rc && rc != WEFT_ENOTFOUND) atomic_fetch_add(&op_errors[op], 1);
  return rc;
}

void weft_artifacts_op_stats(uint64_t calls[WEFT_ARTIFACTS__NOPS],
                             uint64_t errors[WEFT_ARTIFACTS__NOPS]) {
  for (int i = 0; i < WEFT_ARTIFACTS__NOPS; i++) {
    calls[i] = atomic_load(&op_calls[i]);
    errors[i] = atomic_load(&op_errors[i]);
  }
}

/* ---- wrappers --------------------------------------------------------------------- */

int weft_artifacts_open(const char *url, struct weft_artifacts **out, weft_error *err) {
  *out = NULL;
  if (!url || !*url)
    return weft_error_set(err, WEFT_EINVALID, "artifact store URL is empty");
  const char *name = NULL;
  int rc = backend_for_url(url, &name, err);
  if (rc) return rc;
  const struct weft_artifacts_methods *m = weft_artifacts_find(name);
  if (!m) {
    return weft_error_set(err, WEFT_EUSAGE,
                          "%s artifact storage is not built into this weft (URL %s)",
                          name, url);
  }
  struct weft_artifacts *a = calloc(1, m->instance_size);
  if (!a) return weft_error_set(err, WEFT_ENOMEM, "out of memory opening %s", url);
  a->m = m;
  if ((rc = m->xOpenUrl(a, url, err))) {
    free(a);
    return rc;
  }
  *out = a;
  return WEFT_OK;
}

void weft_artifacts_close(struct weft_artifacts *a) {
  if (!a) return;
  a->m->xClose(a);
  free(a);
}

int weft_artifacts_put(struct weft_artifacts *a, const char *key, const char *local_path,
                       weft_error *err) {
  int rc = weft_artifacts_key_check(key, err);
  if (rc) return rc;
  if (!local_path || !*local_path)
    return weft_error_set(err, WEFT_EINVALID, "artifact put %s: no local file", key);
  return counted(WEFT_ARTIFACTS_PUT, a->m->xPut(a, key, local_path, err));
}

int weft_artifacts_put_bytes(struct weft_artifacts *a, const char *key, const void *data,
                             size_t len, const char *scratch_dir, weft_error *err) {
  int rc = weft_artifacts_key_check(key, err);
  if (rc) return rc;
  if (a->m->xPutBytes)
    return counted(WEFT_ARTIFACTS_PUT, a->m->xPutBytes(a, key, data, len, err));
  char *file = weft_str_printf("%s/.weft-bytes.XXXXXX", scratch_dir ? scratch_dir : "/tmp");
  int fd = file ? mkostemp(file, O_CLOEXEC) : -1;
  if (!file) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  } else if (fd < 0) {
    rc = weft_error_set(err, WEFT_EIO, "artifact put %s: cannot create %s: %s", key, file,
                        strerror(errno));
  } else {
    int bad = weft_fs_write_all(fd, data, len);
    if (close(fd) || bad)
      rc = weft_error_set(err, WEFT_EIO, "artifact put %s: cannot write %s: %s", key, file,
                          strerror(errno));
    else
      rc = counted(WEFT_ARTIFACTS_PUT, a->m->xPut(a, key, file, err));
    unlink(file);
  }
  free(file);
  return rc;
}

int weft_artifacts_thread_safe(const struct weft_artifacts *a) {
  return a && a->m->thread_safe;
}

int weft_artifacts_get(struct weft_artifacts *a, const char *key, const char *local_path,
                       weft_error *err) {
  int rc = weft_artifacts_key_check(key, err);
  if (rc) return rc;
  if (!local_path || !*local_path)
    return weft_error_set(err, WEFT_EINVALID, "artifact get %s: no local path", key);
  return counted(WEFT_ARTIFACTS_GET, a->m->xGet(a, key, local_path, err));
}

int weft_artifacts_head(struct weft_artifacts *a, const char *key, int *exists,
                        int64_t *size, weft_error *err) {
  *exists = 0;
  *size = 0;
  int rc = weft_artifacts_key_check(key, err);
  if (rc) return rc;
  return counted(WEFT_ARTIFACTS_HEAD, a->m->xHead(a, key, exists, size, err));
}

int weft_artifacts_list(struct weft_artifacts *a, const char *prefix,
                        struct weft_artifact_list *out, weft_error *err) {
  out->v = NULL;
  out->n = 0;
  if (!prefix) prefix = "";
  int rc = weft__artifacts_prefix_check(prefix, err);
  if (rc) return rc;
  return counted(WEFT_ARTIFACTS_LIST, a->m->xList(a, prefix, out, err));
}

int weft_artifacts_delete(struct weft_artifacts *a, const char *key, weft_error *err) {
  int rc = weft_artifacts_key_check(key, err);
  if (rc) return rc;
  return counted(WEFT_ARTIFACTS_DELETE, a->m->xDelete(a, key, err));
}
