/* fs.c: file-system helpers: whole-file reads, atomic writes, directory walks.
 * Every failure names the path and the system's reason in the weft_error. */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int weft_fs_read_file(const char *path, struct weft_buf *out, weft_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return weft_error_set(err, errno == ENOENT ? WEFT_ENOTFOUND : WEFT_EIO,
                          "%s: %s", path, strerror(errno));
  }
  int rc = WEFT_OK;
  for (;;) {
    if (weft_buf_grow(out, 8192)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "%s: out of memory", path);
      break;
    }
    ssize_t n = read(fd, out->ptr + out->len, out->cap - out->len - 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      rc = weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
      break;
    }
    if (n == 0) break;
    out->len += (size_t)n;
    out->ptr[out->len] = 0;
  }
  close(fd);
  return rc;
}

int weft_fs_write_all(int fd, const void *data, size_t len) {
  const char *p = data;
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

int weft_fs_write_atomic(const char *path, const void *data, size_t len,
                         int durable, weft_error *err) {
  struct weft_buf tmp = WEFT_BUF_INIT;
  int rc = WEFT_OK, fd = -1;
  if (weft_buf_addf(&tmp, "%s.tmp.%ld", path, (long)getpid())) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || weft_fs_write_all(fd, data, len) || (durable && fsync(fd))) {
    rc = weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    goto done;
  }
  if (close(fd)) {
    fd = -1;
    rc = weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    goto done;
  }
  fd = -1;
  if (rename(tmp.ptr, path)) {
    rc = weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    goto done;
  }
done:
  if (fd >= 0) close(fd);
  if (rc && tmp.len) unlink(tmp.ptr);
  weft_buf_release(&tmp);
  return rc;
}

int weft_fs_mkdir_private(const char *path, weft_error *err) {
  if (!mkdir(path, 0700) || errno == EEXIST) return WEFT_OK;
  if (errno != ENOENT)
    return weft_error_set(err, WEFT_EIO, "mkdir %s: %s", path, strerror(errno));
  char *parent = strdup(path);
  if (!parent) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  char *slash = strrchr(parent, '/');
  while (slash && slash > parent && slash[-1] == '/') slash--;
  int rc = WEFT_OK;
  if (slash && slash > parent) {
    *slash = '\0';
    rc = weft_fs_mkdirs(parent, err);
  }
  free(parent);
  if (!rc && mkdir(path, 0700) && errno != EEXIST)
    rc = weft_error_set(err, WEFT_EIO, "mkdir %s: %s", path, strerror(errno));
  return rc;
}

int weft_fs_mkdirs(const char *path, weft_error *err) {
  /* Most callers make one or two new folders in an existing one: go up
   * from the end to the deepest folder that exists, then make the rest. */
  if (!mkdir(path, 0755) || errno == EEXIST) return WEFT_OK;
  char *p = strdup(path);
  if (!p) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (errno != ENOENT) goto fail;
  char *end = p + strlen(p);
  for (;;) { /* p's parent is missing */
    char *slash = strrchr(p, '/');
    while (slash && slash > p && slash[-1] == '/') slash--;
    if (!slash || slash == p) break;
    *slash = 0;
    if (!mkdir(p, 0755) || errno == EEXIST) break;
    if (errno != ENOENT) goto fail;
  }
  /* make the folders below p, one cut at a time */
  for (char *s = p + strlen(p); s < end; s += strlen(s)) {
    *s = '/';
    if (mkdir(p, 0755) && errno != EEXIST) goto fail;
  }
  free(p);
  return WEFT_OK;
fail:;
  int rc = weft_error_set(err, WEFT_EIO, "mkdir %s: %s", p, strerror(errno));
  free(p);
  return rc;
}

int weft_fs_remove_tree(const char *path, weft_error *err) {
  struct stat st;
  if (lstat(path, &st)) {
    if (errno == ENOENT) return WEFT_OK;
    return weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (!d) return weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    struct dirent *e;
    int rc = WEFT_OK;
    while (!rc && (e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char *child = weft_fs_join(path, e->d_name);
      if (!child) {
        rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
        break;
      }
      rc = weft_fs_remove_tree(child, err);
      free(child);
    }
    closedir(d);
    if (rc) return rc;
    if (rmdir(path))
      return weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    return WEFT_OK;
  }
  if (unlink(path))
    return weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
  return WEFT_OK;
}

int weft_fs_exists(const char *path) { return access(path, F_OK) == 0; }

int weft_fs_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *weft_fs_join(const char *a, const char *b) {
  size_t la = strlen(a);
  while (la > 1 && a[la - 1] == '/') la--;
  char *out = NULL;
  if (asprintf(&out, "%.*s/%s", (int)la, a, b) < 0) return NULL;
  return out;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int weft_fs_list_dir(const char *dir, const char *suffix, char ***out,
                     weft_error *err) {
  *out = NULL;
  DIR *d = opendir(dir);
  if (!d) {
    return weft_error_set(err, errno == ENOENT ? WEFT_ENOTFOUND : WEFT_EIO,
                          "%s: %s", dir, strerror(errno));
  }
  size_t n = 0, cap = 16;
  char **list = calloc(cap, sizeof *list);
  struct dirent *e;
  if (!list) goto nomem;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue; /* hidden files and editor swap files */
    if (suffix) {
      size_t ln = strlen(e->d_name), ls = strlen(suffix);
      if (ln <= ls || strcmp(e->d_name + ln - ls, suffix)) continue;
    }
    if (n + 1 >= cap) {
      char **g = realloc(list, cap * 2 * sizeof *list);
      if (!g) goto nomem;
      list = g;
      cap *= 2;
    }
    if (!(list[n] = strdup(e->d_name))) goto nomem;
    list[++n] = NULL;
  }
  closedir(d);
  qsort(list, n, sizeof *list, cmp_str);
  *out = list;
  return (int)n;
nomem:
  closedir(d);
  weft_fs_free_list(list);
  return weft_error_set(err, WEFT_ENOMEM, "out of memory");
}

void weft_fs_free_list(char **list) {
  if (!list) return;
  for (char **p = list; *p; p++) free(*p);
  free(list);
}

#define COPY_BUF_SIZE (128 * 1024)

int weft_fs_stream_copy(int in, int out) {
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
    if (weft_fs_write_all(out, buf, (size_t)n)) {
      rc = -1;
      break;
    }
  }
  int saved = errno;
  free(buf);
  errno = saved;
  return rc;
}

int weft_fs_copy_file(const char *from, const char *to, weft_error *err) {
  struct weft_buf tmp = WEFT_BUF_INIT;
  int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = WEFT_OK;
  if (in < 0) return weft_error_set(err, WEFT_EIO, "cannot read %s: %s", from, strerror(errno));
  if (weft_buf_addf(&tmp, "%s.tmp.%ld", to, (long)getpid())) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  out = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || weft_fs_stream_copy(in, out)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot copy %s to %s: %s", from, to, strerror(errno));
    goto done;
  }
  if (close(out)) {
    out = -1;
    rc = weft_error_set(err, WEFT_EIO, "cannot write %s: %s", to, strerror(errno));
    goto done;
  }
  out = -1;
  if (rename(tmp.ptr, to))
    rc = weft_error_set(err, WEFT_EIO, "cannot write %s: %s", to, strerror(errno));
done:
  if (out >= 0) close(out);
  close(in);
  if (rc && tmp.len) unlink(tmp.ptr);
  weft_buf_release(&tmp);
  return rc;
}

uint64_t weft_fs_tree_bytes(const char *path) {
  struct stat st;
  if (lstat(path, &st)) return 0;
  if (!S_ISDIR(st.st_mode)) return (uint64_t)st.st_size;
  char **names = NULL;
  weft_error ignored = WEFT_ERROR_INIT;
  uint64_t total = 0;
  if (weft_fs_list_dir(path, NULL, &names, &ignored) < 0 || !names) return 0;
  for (char **p = names; *p; p++) {
    char *child = weft_fs_join(path, *p);
    if (child) total += weft_fs_tree_bytes(child);
    free(child);
  }
  weft_fs_free_list(names);
  return total;
}
