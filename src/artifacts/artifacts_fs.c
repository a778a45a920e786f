/* artifacts_fs.c: the filesystem artifact store: one file per key under a
 * root folder ($WEFT_HOME/artifacts), written through a temporary name and
 * rename(2) so no reader ever sees half an object.
 *
 * Objects are hard-linked in and out when source and destination share a
 * filesystem, so a multi-gigabyte output costs no copy; otherwise they are
 * streamed (copy_file_range, else a fixed buffer), never read into memory.
 * A linked file IS the stored object: callers replace local files (write and
 * rename) rather than modify them in place, and objects are made read-only
 * (0444) so an in-place write fails loudly instead of corrupting the store.
 * Like the SQLite store, objects survive a process crash; they are not
 * fsynced, so an OS crash may lose the newest ones. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/artifacts_int.h"
#include "util/fs.h"
#include "util/str.h"

#define TMP_PREFIX ".weft-tmp."
#define COPY_BUF_SIZE (128 * 1024)
#define PUT_ATTEMPTS 16 /* a concurrent delete may remove the folder we made */

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

static int write_all(int fd, const char *p, size_t len) {
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Streams in to out: in the kernel when it can, else through one fixed
 * buffer. Returns 0 or -1 with errno set. */
static int stream_copy(int in, int out) {
  for (;;) {
    ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
    if (n > 0) continue;
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    /* not across these filesystems (or not at all): fall back to reads and
     * writes, which start where copy_file_range stopped */
    if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
      return -1;
    break;
  }
  char *buf = malloc(COPY_BUF_SIZE);
  if (!buf) return -1;
  int rc = 0;
  for (;;) {
    ssize_t n = read(in, buf, COPY_BUF_SIZE);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      rc = n < 0 ? -1 : 0;
      break;
    }
    if (write_all(out, buf, (size_t)n)) {
      rc = -1;
      break;
    }
  }
  int saved = errno;
  free(buf);
  errno = saved;
  return rc;
}

/* Makes tmp hold the contents of src: a hard link when possible, else a
 * streamed copy. Returns 0 or -1 with errno set (tmp then does not exist). */
static int link_or_copy(const char *src, const char *tmp) {
  if (linkat(AT_FDCWD, src, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0) {
    chmod(tmp, 0444); /* may fail for a file of another user: harmless */
    return 0;
  }
  /* ENOENT: src or tmp's folder vanished; EEXIST: tmp name taken. Neither
   * is solved by copying. Anything else (EXDEV, EPERM, EMLINK...) is. */
  if (errno == ENOENT || errno == EEXIST) return -1;
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (out < 0) {
    int saved = errno;
    close(in);
    errno = saved;
    return -1;
  }
  int rc = stream_copy(in, out);
  int saved = errno;
  close(in);
  if (close(out) && !rc) {
    rc = -1;
    saved = errno;
  }
  if (rc) unlink(tmp);
  errno = saved;
  return rc;
}

/* Puts src at dst atomically through a temporary in dst's folder, which is
 * created when make_dir. Returns 0, or -1 with the reason in why->msg. */
static int install(const char *src, const char *dst, int make_dir, weft_error *why) {
  char *dir = dir_of(dst), *tmp = NULL;
  int rc = -1;
  weft_error_set(why, WEFT_ENOMEM, "out of memory");
  if (!dir) goto done;
  for (int attempt = 0; attempt < PUT_ATTEMPTS && rc; attempt++) {
    if (make_dir && !weft_fs_is_dir(dir) && weft_fs_mkdirs(dir, why))
      continue; /* a concurrent delete may have pruned a parent half-way */
    free(tmp);
    if (!(tmp = tmp_name_in(dir))) {
      weft_error_set(why, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    if ((rc = link_or_copy(src, tmp)) == 0) break;
    int e = errno;
    weft_error_set(why, WEFT_EIO, "%s", strerror(e));
    /* ENOENT with the source still there: the folder was pruned under us */
    if (e != EEXIST && !(e == ENOENT && make_dir && weft_fs_exists(src))) goto done;
  }
  if (rc) goto done;
  /* rename(2) of two links to one inode does nothing and keeps both names */
  struct stat st_tmp, st_dst;
  if (stat(tmp, &st_tmp) == 0 && stat(dst, &st_dst) == 0 &&
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
  if (install(local_path, dst, 1, &why)) {
    rc = weft_error_set(err, WEFT_EIO, "artifact put %s from %s: %s", key, local_path,
                        why.msg);
  }
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
  } else if (install(obj, local_path, 0, &why)) {
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
   * folder that is not empty (or is being filled by a put) stays. */
  size_t root_len = strlen(FS(a)->root);
  for (char *slash = strrchr(obj, '/'); slash && (size_t)(slash - obj) > root_len;
       slash = strrchr(obj, '/')) {
    *slash = 0;
    if (rmdir(obj)) break;
  }
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
};
