/* artifacts_fs.c: the filesystem artifact store: one file per key under a
 * root folder ($WEFT_HOME/artifacts), written through a temporary name and
 * rename(2) so no reader ever sees half an object.
 *
 * Objects are hard-linked in and out when source and destination share a
 * filesystem, so a multi-gigabyte output costs no copy; otherwise they are
 * streamed (copy_file_range, else a fixed buffer), never read into memory.
 * Bytes from memory (put_bytes) are written straight into the temporary.
 * A linked file IS the stored object: callers replace local files (write and
 * rename) rather than modify them in place, and objects are made read-only
 * (0444) so an in-place write fails loudly instead of corrupting the store.
 * Like the SQLite store, objects survive a process crash; they are not
 * fsynced, so an OS crash may lose the newest ones.
 *
 * Folders come and go with their objects: put creates the folders a key
 * needs, delete removes the ones it leaves empty. The two race: a folder a
 * put has just made is empty until the put's temporary lands in it, and a
 * concurrent delete's rmdir(2) would take it (or a parent) away. So a put
 * holds a shared flock(2) on the root folder from its first mkdir until its
 * temporary exists (from then on the folder is not empty and rmdir fails),
 * and delete prunes under the exclusive lock: the two never interleave. A
 * folder removed by anyone else (or where flock is unsupported) is handled
 * by retrying, a bounded number of times, after a short random pause. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/artifacts_int.h"
#include "util/fs.h"
#include "util/str.h"

#define TMP_PREFIX ".weft-tmp."
#define PUT_ATTEMPTS 16 /* a folder removed under a put: see install() */

struct weft_bytes {
  const void *data;
  size_t len;
};

struct fs_artifacts {
  struct weft_artifacts base; /* first: the wrappers see only this */
  char *root;                 /* absolute, no trailing '/' */
};

#define FS(a) ((struct fs_artifacts *)(a))

/* ---- paths ------------------------------------------------------------------- */

/* Temporaries live beside their destination (rename needs one filesystem)
 * under a reserved prefix that listing skips and keys may not use. */
static int key_is_reserved(const char *key) {
  const char *seg = key;
  for (;;) {
    if (weft_str_has_prefix(seg, TMP_PREFIX)) return 1;
    const char *slash = strchr(seg, '/');
    if (!slash) return 0;
    seg = slash + 1;
  }
}

static int fs_key_check(const char *key, weft_error *err) {
  int rc = weft_artifacts_key_check(key, err);
  if (!rc && key_is_reserved(key)) {
    rc = weft_error_set(err, WEFT_EINVALID,
                        "artifact key \"%s\": names starting with \"" TMP_PREFIX
                        "\" are reserved for temporary files",
                        key);
  }
  return rc;
}

/* The folder part of path ("." when it has none); caller frees. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

/* A fresh name in dir for a temporary file; caller frees. */
static char *tmp_name_in(const char *dir) {
  unsigned char r[8];
  if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    /* no entropy yet: the pid and address still separate concurrent writers */
    unsigned long long x = (unsigned long long)getpid() ^ (unsigned long long)(size_t)r;
    memcpy(r, &x, sizeof r);
  }
  char *out = NULL;
  if (asprintf(&out, "%s/" TMP_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x", dir, r[0],
               r[1], r[2], r[3], r[4], r[5], r[6], r[7]) < 0)
    return NULL;
  return out;
}

/* ---- copying ------------------------------------------------------------------- */

/* ---- folders ---------------------------------------------------------------- */

/* Locks the store root (see the top of this file) with flock op (LOCK_SH,
 * LOCK_EX); returns the descriptor for root_unlock, or -1 when the root
 * cannot be locked, and the caller goes on unlocked. Each call opens its
 * own descriptor, so threads (and forked children) sharing one handle
 * still exclude each other. */
static int root_lock(const char *root, int op) {
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  while (flock(fd, op)) {
    if (errno == EINTR) continue;
    close(fd);
    return -1;
  }
  return fd;
}

static void root_unlock(int fd) {
  if (fd < 0) return;
  int saved = errno;
  flock(fd, LOCK_UN); /* explicit: a child forked meanwhile shares the lock */
  close(fd);
  errno = saved;
}

/* mkdir -p of dir, a folder below root (which exists). Returns 0, or -1
 * with errno set and the folder that failed in why. */
static int make_dirs(const char *root, const char *dir, weft_error *why) {
  size_t root_len = strlen(root);
  if (strlen(dir) <= root_len) return 0; /* the root itself */
  char *p = strdup(dir);
  if (!p) {
    weft_error_set(why, WEFT_ENOMEM, "out of memory");
    errno = ENOMEM;
    return -1;
  }
  int rc = 0;
  for (char *s = p + root_len + 1;; s++) {
    if (*s && *s != '/') continue;
    char c = *s;
    *s = 0;
    if (mkdir(p, 0755) && errno != EEXIST) {
      int e = errno;
      weft_error_set(why, WEFT_EIO, "mkdir %s: %s", p, strerror(e));
      errno = e;
      rc = -1;
      break;
    }
    if (!c) break;
    *s = c;
  }
  int saved = errno;
  free(p);
  errno = saved;
  return rc;
}

/* Pauses before retry number attempt (1, 2...): a random wait up to 0.1 ms,
 * doubling each time up to 13 ms, so processes racing over one folder fall
 * out of step instead of colliding again. */
static void retry_pause(int attempt) {
  unsigned r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) r = (unsigned)getpid();
  long max_us = 50L << (attempt < 8 ? attempt : 8);
  struct timespec ts = {0, (long)(r % (unsigned long)max_us) * 1000};
  nanosleep(&ts, NULL);
}

/* ---- installing ---------------------------------------------------------------- */

/* Creates tmp with src's contents: a hard link when possible (*in and *out
 * then -1); else tmp is created empty and *in, *out are open on src and tmp
 * for fill_tmp. Without src (bytes from memory), tmp is created empty and
 * only *out is open. Returns 0, or -1 with errno set (tmp then does not
 * exist). */
static int create_tmp(const char *src, const char *tmp, int *in, int *out) {
  *in = *out = -1;
  if (!src) {
    *out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    return *out < 0 ? -1 : 0;
  }
  if (linkat(AT_FDCWD, src, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0) {
    chmod(tmp, 0444); /* may fail for a file of another user: harmless */
    return 0;
  }
  /* ENOENT: src or tmp's folder vanished; EEXIST: tmp name taken. Neither
   * is solved by copying. Anything else (EXDEV, EPERM, EMLINK...) is. */
  if (errno == ENOENT || errno == EEXIST) return -1;
  if ((*in = open(src, O_RDONLY | O_CLOEXEC)) < 0) return -1;
  if ((*out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444)) < 0) {
    int saved = errno;
    close(*in);
    *in = -1;
    errno = saved;
    return -1;
  }
  return 0;
}

/* Streams in into out, the temporary tmp (or writes bytes when in is -1),
 * and closes both; tmp is removed when that fails. Returns 0, or -1 with
 * errno set. */
static int fill_tmp(int in, int out, const char *tmp, const struct weft_bytes *bytes) {
  int rc = in >= 0 ? weft_fs_stream_copy(in, out) : weft_fs_write_all(out, bytes->data, bytes->len);
  int saved = errno;
  if (in >= 0) close(in);
  if (close(out) && !rc) {
    rc = -1;
    saved = errno;
  }
  if (rc) unlink(tmp);
  errno = saved;
  return rc;
}

/* Puts src (or, src NULL, the bytes) at dst atomically through a
 * temporary in dst's folder. With a root (a put), that folder is created
 * below root as needed, under the shared root lock; without (a get), it
 * must exist. Returns 0, or -1 with the reason in why->msg. */
static int install(const char *src, const struct weft_bytes *bytes, const char *dst,
                   const char *root, weft_error *why) {
  char *dir = dir_of(dst), *tmp = NULL;
  int rc = -1, in = -1, out = -1;
  weft_error_set(why, WEFT_ENOMEM, "out of memory");
  if (!dir) goto done;
  for (int attempt = 0; attempt < PUT_ATTEMPTS && rc; attempt++) {
    if (attempt) retry_pause(attempt);
    free(tmp);
    if (!(tmp = tmp_name_in(dir))) {
      weft_error_set(why, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    /* From the first mkdir until tmp exists, the folders are empty: no
     * delete may prune them meanwhile. */
    int lock = root ? root_lock(root, LOCK_SH) : -1;
    int e = 0;
    if (root && !weft_fs_is_dir(dir) && make_dirs(root, dir, why)) {
      e = errno;
    } else if ((rc = create_tmp(src, tmp, &in, &out))) {
      e = errno;
      weft_error_set(why, WEFT_EIO, "%s", strerror(e));
    }
    root_unlock(lock);
    if (!rc) break;
    /* EEXIST: the temporary name was taken. ENOENT with the source still
     * there: a folder was removed under us (not by a delete of this store,
     * which waits for the lock). Both are worth another try; the rest is
     * final. */
    if (e != EEXIST && !(e == ENOENT && root && (!src || weft_fs_exists(src)))) goto done;
  }
  if (rc) goto done;
  if (out >= 0) {
    rc = fill_tmp(in, out, tmp, bytes);
    in = out = -1;
    if (rc) {
      weft_error_set(why, WEFT_EIO, "%s", strerror(errno));
      goto done;
    }
  }
  /* rename(2) of two links to one inode does nothing and keeps both names
   * (bytes are a new inode: never the same) */
  struct stat st_tmp, st_dst;
  if (src && stat(tmp, &st_tmp) == 0 && stat(dst, &st_dst) == 0 &&
      st_tmp.st_dev == st_dst.st_dev && st_tmp.st_ino == st_dst.st_ino) {
    unlink(tmp);
    goto done;
  }
  if (rename(tmp, dst)) {
    rc = -1;
    weft_error_set(why, WEFT_EIO, "%s", strerror(errno));
    unlink(tmp);
  }
done:
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  free(dir);
  free(tmp);
  return rc;
}

/* ---- methods ------------------------------------------------------------------------ */

static int fs_open(struct weft_artifacts *a, const char *url, weft_error *err) {
  const char *path = url;
  if (weft_str_has_prefix(path, "file:")) {
    path += strlen("file:");
    if (weft_str_has_prefix(path, "//")) path += 2;
  }
  if (!*path)
    return weft_error_set(err, WEFT_EINVALID, "artifact store URL %s names no folder", url);
  int rc = weft_fs_mkdirs(path, err);
  if (rc) return rc;
  /* absolute, because steps run with another working directory */
  if (!(FS(a)->root = realpath(path, NULL))) {
    return weft_error_set(err, WEFT_EIO, "artifact store %s: %s", path, strerror(errno));
  }
  return WEFT_OK;
}

static void fs_close(struct weft_artifacts *a) {
  free(FS(a)->root);
  FS(a)->root = NULL;
}

static int fs_put(struct weft_artifacts *a, const char *key, const char *local_path,
                  weft_error *err) {
  int rc = fs_key_check(key, err);
  if (rc) return rc;
  struct stat st;
  if (stat(local_path, &st)) {
    return weft_error_set(err, errno == ENOENT ? WEFT_ENOTFOUND : WEFT_EIO,
                          "artifact put %s: %s: %s", key, local_path, strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return weft_error_set(err, WEFT_EINVALID, "artifact put %s: %s is not a regular file",
                          key, local_path);
  }
  char *dst = weft_fs_join(FS(a)->root, key);
  if (!dst) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  weft_error why = WEFT_ERROR_INIT;
  if (install(local_path, NULL, dst, FS(a)->root, &why)) {
    rc = weft_error_set(err, WEFT_EIO, "artifact put %s from %s: %s", key, local_path,
                        why.msg);
  }
  free(dst);
  return rc;
}

static int fs_put_bytes(struct weft_artifacts *a, const char *key, const void *data, size_t len,
                        weft_error *err) {
  int rc = fs_key_check(key, err);
  if (rc) return rc;
  char *dst = weft_fs_join(FS(a)->root, key);
  if (!dst) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  weft_error why = WEFT_ERROR_INIT;
  struct weft_bytes bytes = {data, len};
  if (install(NULL, &bytes, dst, FS(a)->root, &why))
    rc = weft_error_set(err, WEFT_EIO, "artifact put %s: %s", key, why.msg);
  free(dst);
  return rc;
}

static int fs_get(struct weft_artifacts *a, const char *key, const char *local_path,
                  weft_error *err) {
  int rc = fs_key_check(key, err);
  if (rc) return rc;
  char *obj = weft_fs_join(FS(a)->root, key);
  weft_error why = WEFT_ERROR_INIT;
  if (!obj) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  struct stat st;
  if (stat(obj, &st) || !S_ISREG(st.st_mode)) {
    rc = weft_error_set(err, WEFT_ENOTFOUND, "artifact get: no artifact %s", key);
  } else if (install(obj, NULL, local_path, NULL, &why)) {
    rc = weft_error_set(err, WEFT_EIO, "artifact get %s to %s: %s", key, local_path,
                        why.msg);
  }
  free(obj);
  return rc;
}

static int fs_head(struct weft_artifacts *a, const char *key, int *exists, int64_t *size,
                   weft_error *err) {
  int rc = fs_key_check(key, err);
  if (rc) return rc;
  char *obj = weft_fs_join(FS(a)->root, key);
  if (!obj) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  struct stat st;
  if (stat(obj, &st) == 0) {
    *exists = S_ISREG(st.st_mode); /* a folder is a prefix, not an object */
    *size = *exists ? (int64_t)st.st_size : 0;
  } else if (errno != ENOENT && errno != ENOTDIR) {
    rc = weft_error_set(err, WEFT_EIO, "artifact head %s: %s", key, strerror(errno));
  }
  free(obj);
  return rc;
}

struct key_list {
  char **v;
  size_t n, cap;
};

static int key_list_add(struct key_list *l, char *key) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 32;
    char **g = realloc(l->v, cap * sizeof *g);
    if (!g) return -1;
    l->v = g;
    l->cap = cap;
  }
  l->v[l->n++] = key;
  return 0;
}

/* Adds the keys of the objects under folder rel (relative to root, "" or
 * ending in '/') whose names start with name_prefix (first level only). */
static int walk(const char *root, const char *rel, const char *name_prefix,
                struct key_list *out, weft_error *err) {
  char *dir = *rel ? weft_fs_join(root, rel) : strdup(root);
  if (!dir) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = WEFT_OK;
  DIR *d = opendir(dir);
  if (!d) {
    if (errno != ENOENT && errno != ENOTDIR)
      rc = weft_error_set(err, WEFT_EIO, "artifact list %s: %s", dir, strerror(errno));
    free(dir);
    return rc;
  }
  struct dirent *e;
  while (!rc && (errno = 0, e = readdir(d))) {
    const char *name = e->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..") || weft_str_has_prefix(name, TMP_PREFIX))
      continue;
    if (name_prefix && !weft_str_has_prefix(name, name_prefix)) continue;
    int type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW)) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    char *key = NULL;
    if (type != DT_DIR && type != DT_REG) continue; /* never follow symlinks out */
    if (asprintf(&key, "%s%s%s", rel, name, type == DT_DIR ? "/" : "") < 0) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    if (type == DT_DIR) {
      rc = walk(root, key, NULL, out, err);
      free(key);
    } else if (key_list_add(out, key)) {
      free(key);
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
  }
  if (!rc && errno)
    rc = weft_error_set(err, WEFT_EIO, "artifact list %s: %s", dir, strerror(errno));
  closedir(d);
  free(dir);
  return rc;
}

static int cmp_key(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

static int fs_list(struct weft_artifacts *a, const char *prefix,
                   struct weft_artifact_list *out, weft_error *err) {
  /* walk only the folder the prefix names; its last, partial segment
   * filters that folder's entries */
  const char *slash = strrchr(prefix, '/');
  size_t dir_len = slash ? (size_t)(slash - prefix) + 1 : 0;
  char *rel = strndup(prefix, dir_len);
  if (!rel) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  struct key_list keys = {0};
  const char *partial = prefix + dir_len;
  int rc = walk(FS(a)->root, rel, *partial ? partial : NULL, &keys, err);
  free(rel);
  if (rc) {
    for (size_t i = 0; i < keys.n; i++) free(keys.v[i]);
    free(keys.v);
    return rc;
  }
  if (keys.n) qsort(keys.v, keys.n, sizeof *keys.v, cmp_key);
  out->v = keys.v;
  out->n = keys.n;
  return WEFT_OK;
}

static int fs_delete(struct weft_artifacts *a, const char *key, weft_error *err) {
  int rc = fs_key_check(key, err);
  if (rc) return rc;
  char *obj = weft_fs_join(FS(a)->root, key);
  if (!obj) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (unlink(obj) && errno != ENOENT && errno != ENOTDIR) {
    rc = weft_error_set(err, WEFT_EIO, "artifact delete %s: %s", key,
                        errno == EISDIR ? "it is a prefix, not an object" : strerror(errno));
    goto done;
  }
  /* Drop folders left empty, so deleting a run's keys leaves no trace; a
   * folder that is not empty stays, and so does one a put is filling: it
   * holds the root lock shared from its mkdir until its temporary exists. */
  size_t root_len = strlen(FS(a)->root);
  int lock = strchr(key, '/') ? root_lock(FS(a)->root, LOCK_EX) : -1;
  for (char *slash = strrchr(obj, '/'); slash && (size_t)(slash - obj) > root_len;
       slash = strrchr(obj, '/')) {
    *slash = 0;
    if (rmdir(obj)) break;
  }
  root_unlock(lock);
done:
  free(obj);
  return rc;
}

const struct weft_artifacts_methods weft__artifacts_fs_methods = {
    .version = 1,
    .name = "fs",
    .instance_size = sizeof(struct fs_artifacts),
    .xOpenUrl = fs_open,
    .xClose = fs_close,
    .xPut = fs_put,
    .xGet = fs_get,
    .xHead = fs_head,
    .xList = fs_list,
    .xDelete = fs_delete,
    .xPutBytes = fs_put_bytes,
    .thread_safe = 1,
};
