/* python_cache.c: where the weft Python package is, and the cache of .py
 * descriptions keyed by content hash, so an unchanged file costs no process. */

/* A cache entry (CACHE/KEY.json) is {"deps": {REL: HASH}, "desc": {...}}:
 * the key covers the file's own bytes, the interpreter and the SDK; deps
 * are the location files it imported, checked again at every lookup. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsl/python.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/str.h"

/* Two 64-bit FNV-1a lanes with different offsets, each finished with a
 * murmur3 mix: 128 bits, plenty to notice an edit. */
static uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

void weft__py_hash(const void *data, size_t len, const char *salt, char out[33]) {
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
  const unsigned char *p = data;
  for (size_t i = 0; salt && salt[i]; i++) {
    a = (a ^ (unsigned char)salt[i]) * 0x100000001b3ULL;
    b = (b ^ (unsigned char)salt[i]) * 0x100000001b3ULL;
  }
  a = (a ^ 0xff) * 0x100000001b3ULL; /* the salt ends here */
  for (size_t i = 0; i < len; i++) {
    a = (a ^ p[i]) * 0x100000001b3ULL;
    b = (b ^ (unsigned char)(p[i] + i)) * 0x100000001b3ULL;
  }
  a = mix64(a ^ len);
  b = mix64(b ^ (len * 0x9e3779b97f4a7c15ULL));
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

int weft__py_hash_file(const char *path, const char *salt, char out[33]) {
  struct weft_buf b = WEFT_BUF_INIT;
  weft_error ignored = WEFT_ERROR_INIT;
  int rc = weft_fs_read_file(path, &b, &ignored) ? -1 : 0;
  if (!rc) weft__py_hash(b.ptr ? b.ptr : "", b.len, salt, out);
  weft_buf_release(&b);
  return rc;
}

char *weft__py_cache_dir(void) {
  const char *env = getenv("WEFT_PYTHON_CACHE");
  if (env && *env) return strdup(strcmp(env, "off") ? env : "");
  const char *sdk = getenv("WEFT_SDK");
  if (sdk && *sdk) return weft_str_printf("%s/../cache/python", sdk);
  /* Never the location folder: it may be read-only (a package's examples)
   * or someone's checkout; the user's cache folder instead. */
  const char *xdg = getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return weft_str_printf("%s/weft/python", xdg);
  const char *home = getenv("HOME");
  if (home && *home == '/') return weft_str_printf("%s/.cache/weft/python", home);
  return strdup(""); /* nowhere to keep it: every load describes */
}

static int has_package(const char *dir) {
  char path[PATH_MAX];
  int n = snprintf(path, sizeof path, "%s/weft/__init__.py", dir);
  return n > 0 && (size_t)n < sizeof path && weft_fs_exists(path);
}

/* found = a + b, when it fits. */
static int join_found(char *found, size_t size, const char *a, const char *b) {
  int n = snprintf(found, size, "%s%s", a, b);
  return n > 0 && (size_t)n < size;
}

char *weft__py_sdk_dir(void) {
  /* A local buffer: reloads may run on several threads at once. */
  char found[PATH_MAX];
  const char *sdk = getenv("WEFT_SDK");
  if (sdk && *sdk && join_found(found, sizeof found, sdk, "/python") && has_package(found))
    return strdup(found);
  /* An installed weft: BINDIR/weft next to DATADIR/weft/sdk. */
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      if (join_found(found, sizeof found, exe, "/../share/weft/sdk/python") &&
          has_package(found))
        return strdup(found);
    }
  }
#ifdef WEFT_SOURCE_DIR
  /* A build tree's binary: the sources it was built from. */
  if (join_found(found, sizeof found, WEFT_SOURCE_DIR, "/sdk/python") && has_package(found))
    return strdup(found);
#endif
  return NULL;
}

static char *entry_path(const char *cache_dir, const char *key) {
  return weft_str_printf("%s/%s.json", cache_dir, key);
}

json_t *weft__py_cache_get(const char *cache_dir, const char *dir, const char *key) {
  if (!cache_dir || !*cache_dir) return NULL;
  char *path = entry_path(cache_dir, key);
  json_t *entry = path ? json_load_file(path, 0, NULL) : NULL;
  json_t *desc = NULL;
  free(path);
  if (!entry) return NULL;
  json_t *deps = json_object_get(entry, "deps");
  const char *rel;
  json_t *want;
  int fresh = json_is_object(deps) && json_is_object(json_object_get(entry, "desc"));
  json_object_foreach(deps, rel, want) {
    if (!fresh) break;
    char *file = weft_fs_join(dir, rel);
    char got[33];
    fresh = file && !weft__py_hash_file(file, rel, got) && json_is_string(want) &&
            !strcmp(json_string_value(want), got);
    free(file);
  }
  if (fresh) desc = json_incref(json_object_get(entry, "desc"));
  json_decref(entry);
  return desc;
}

void weft__py_cache_put(const char *cache_dir, const char *dir, const char *key,
                        const json_t *desc) {
  if (!cache_dir || !*cache_dir) return;
  json_t *entry = json_object(), *deps = json_object();
  json_t *list = json_object_get(desc, "deps");
  size_t i;
  json_t *v;
  int ok = entry && deps;
  json_array_foreach(list, i, v) {
    const char *rel = json_string_value(v);
    char *file = rel ? weft_fs_join(dir, rel) : NULL;
    char h[33];
    if (!file || weft__py_hash_file(file, rel, h) || json_object_set_new(deps, rel, json_string(h)))
      ok = 0;
    free(file);
  }
  char *path = entry_path(cache_dir, key), *text = NULL;
  weft_error ignored = WEFT_ERROR_INIT;
  if (ok && path && !json_object_set(entry, "deps", deps) &&
      !json_object_set(entry, "desc", (json_t *)desc) &&
      (text = json_dumps(entry, JSON_COMPACT)) && !weft_fs_mkdirs(cache_dir, &ignored))
    weft_fs_write_atomic(path, text, strlen(text), 0, &ignored);
  free(text);
  free(path);
  json_decref(deps);
  json_decref(entry);
}
