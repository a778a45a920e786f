/* artifacts.h: the artifact store interface (step outputs, compute logs), a
 * method table like store.h; the filesystem implements it, S3 will too. */
#ifndef WEFT_ARTIFACTS_ARTIFACTS_H
#define WEFT_ARTIFACTS_ARTIFACTS_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

/* Keys are relative, '/'-separated paths such as "RUN_ID/STEP/OUTPUT_NAME"
 * or "RUN_ID/STEP/ATTEMPT/stdout.log". The wrappers refuse (WEFT_EINVALID)
 * an empty key, an absolute key, an empty, "." or ".." segment, and control
 * characters, so no key can name anything outside the store. */

/* put and get may hard-link rather than copy (the filesystem backend does
 * when both sides share a filesystem), so after either call the local file
 * can BE the stored object: replace a local file (write elsewhere, rename)
 * but never modify it in place. Stored objects and the files get writes are
 * read-only (0444), so an in-place write fails instead of corrupting one. */

/* Keys listed under a prefix, sorted bytewise; free with
 * weft_artifact_list_release. */
struct weft_artifact_list {
  char **v;
  size_t n;
};
void weft_artifact_list_release(struct weft_artifact_list *l);

struct weft_artifacts;

struct weft_artifacts_methods {
  int version;          /* 1 */
  const char *name;     /* "fs", "s3" */
  size_t instance_size; /* bytes to allocate for the backend's struct */
  /* Must release whatever it set up when it fails. */
  int (*xOpenUrl)(struct weft_artifacts *a, const char *url, weft_error *err);
  void (*xClose)(struct weft_artifacts *a);
  /* Stores the local regular file at local_path under key, replacing any
   * object there. Atomic: readers see the old object or the whole new one,
   * never part of it, and a failed put leaves the old object in place. */
  int (*xPut)(struct weft_artifacts *a, const char *key, const char *local_path,
              weft_error *err);
  /* Writes the object to local_path (replaced atomically, its folder must
   * exist). WEFT_ENOTFOUND when there is no such key. */
  int (*xGet)(struct weft_artifacts *a, const char *key, const char *local_path,
              weft_error *err);
  /* *exists 1 and *size its byte count, or *exists 0 (still WEFT_OK). */
  int (*xHead)(struct weft_artifacts *a, const char *key, int *exists, int64_t *size,
               weft_error *err);
  /* Every key that starts with prefix ("" lists all; "RUN/" one run). */
  int (*xList)(struct weft_artifacts *a, const char *prefix,
               struct weft_artifact_list *out, weft_error *err);
  /* Deleting an absent key is not an error. */
  int (*xDelete)(struct weft_artifacts *a, const char *key, weft_error *err);
  /* Optional (NULL: the wrapper stores a scratch file with xPut): stores
   * len bytes from memory under key, atomically as xPut does. */
  int (*xPutBytes)(struct weft_artifacts *a, const char *key, const void *data, size_t len,
                   weft_error *err);
  /* 1: put, get, head and delete may run on several threads of one handle
   * at once (fs: each call opens its own files); 0: one thread at a time
   * (s3: one curl handle). */
  int thread_safe;
};

/* Every backend embeds this as its first member. */
struct weft_artifacts {
  const struct weft_artifacts_methods *m;
};

/* ---- wrappers: the only callers of the method table --------------------------- */

/* Opens the store named by url: "file:PATH", "file://PATH" or a plain path
 * (the folder is created), or "s3://bucket/prefix?settings" (see
 * artifacts_s3.h). *out is NULL on failure. */
int weft_artifacts_open(const char *url, struct weft_artifacts **out, weft_error *err);
void weft_artifacts_close(struct weft_artifacts *a); /* NULL is a no-op */
/* Registers a backend (a name registered twice is replaced). */
int weft_artifacts_register(const struct weft_artifacts_methods *m);
const struct weft_artifacts_methods *weft_artifacts_find(const char *name);

int weft_artifacts_put(struct weft_artifacts *a, const char *key, const char *local_path,
                       weft_error *err);
/* Stores len bytes from memory under key, as weft_artifacts_put stores a
 * file: a small value (a C op's output) costs no file of its own where the
 * backend writes memory directly; elsewhere it goes through a scratch file
 * in scratch_dir, removed after. Counted as a put. */
int weft_artifacts_put_bytes(struct weft_artifacts *a, const char *key, const void *data,
                             size_t len, const char *scratch_dir, weft_error *err);
int weft_artifacts_get(struct weft_artifacts *a, const char *key, const char *local_path,
                       weft_error *err);
int weft_artifacts_head(struct weft_artifacts *a, const char *key, int *exists,
                        int64_t *size, weft_error *err);
int weft_artifacts_list(struct weft_artifacts *a, const char *prefix,
                        struct weft_artifact_list *out, weft_error *err);
int weft_artifacts_delete(struct weft_artifacts *a, const char *key, weft_error *err);

/* Whether a's backend takes calls from several threads at once. */
int weft_artifacts_thread_safe(const struct weft_artifacts *a);

/* Calls of the backends by this process (every store it opened), for
 * /metrics: per operation, how many and how many failed (a get or head of
 * a missing key is not a failure). */
enum weft_artifacts_op {
  WEFT_ARTIFACTS_PUT,
  WEFT_ARTIFACTS_GET,
  WEFT_ARTIFACTS_HEAD,
  WEFT_ARTIFACTS_LIST,
  WEFT_ARTIFACTS_DELETE,
  WEFT_ARTIFACTS__NOPS
};
extern const char *const weft_artifacts_op_names[WEFT_ARTIFACTS__NOPS];
void weft_artifacts_op_stats(uint64_t calls[WEFT_ARTIFACTS__NOPS],
                             uint64_t errors[WEFT_ARTIFACTS__NOPS]);

/* WEFT_OK when key is acceptable (see above), else WEFT_EINVALID with a
 * message saying what is wrong. Backends may call it again for safety. */
int weft_artifacts_key_check(const char *key, weft_error *err);

#endif
