/* code_cache.c: a worker's cache of code versions fetched from the artifact
 * store (code_ship.h): one folder per version, shared by the processes that
 * use the same cache folder, bounded in size by evicting the least recently
 * used versions that no process holds.
 *
 * Locks (flock on DIR/VERSION.lock, one open file per held version):
 *   acquire, version present    LOCK_SH, held until the last release
 *   acquire, version absent     LOCK_EX: fetch into tmp.XXXXXX, verify,
 *                               seal, rename to VERSION, then LOCK_SH
 *   evict                       LOCK_EX|LOCK_NB (a holder makes it fail:
 *                               skipped), rename away, unlink the lock
 * A lock file unlinked by an evictor may still be open elsewhere: whoever
 * locks checks that the file it locked is still the one at the path, and
 * starts over when it is not. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/code_ship.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

#define TMP_MIN_AGE_MS (10 * 60 * 1000) /* a fetch older than this died */

struct held {
  char version[WEFT_CODE_VERSION_LEN + 1];
  char *path;
  int fd, refs;
};

struct weft_code_cache {
  char *dir;
  uint64_t max_bytes;
  struct held *v;
  size_t n, cap;
  struct weft_code_cache_stats stats;
};

int weft_code_cache_open(const char *dir, uint64_t max_bytes, struct weft_code_cache **out,
                         weft_error *err) {
  *out = NULL;
  struct weft_code_cache *c = calloc(1, sizeof *c);
  if (!c || !(c->dir = weft_str_dup(dir))) {
    free(c);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  c->max_bytes = max_bytes;
  int rc = weft_fs_mkdirs(dir, err);
  if (rc) {
    weft_code_cache_close(c);
    return rc;
  }
  *out = c;
  return WEFT_OK;
}

void weft_code_cache_close(struct weft_code_cache *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) {
    close(c->v[i].fd);
    free(c->v[i].path);
  }
  free(c->v);
  free(c->dir);
  free(c);
}

const struct weft_code_cache_stats *weft_code_cache_stats(const struct weft_code_cache *c) {
  return &c->stats;
}

static struct held *find_held(struct weft_code_cache *c, const char *version) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->v[i].version, version)) return &c->v[i];
  return NULL;
}

/* Opens and locks DIR/VERSION.lock (op: LOCK_SH or LOCK_EX, maybe with
 * LOCK_NB): the fd, or -1 with errno (EWOULDBLOCK: held elsewhere). */
static int lock_version(const char *lock_path, int op) {
  for (;;) {
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    int r;
    while ((r = flock(fd, op)) && errno == EINTR) {}
    struct stat a, b;
    if (r || fstat(fd, &a)) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
    if (!stat(lock_path, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev) return fd;
    close(fd); /* an evictor unlinked it meanwhile: lock the new one */
  }
}

/* Downloads, unpacks, verifies and seals version into a temporary folder,
 * then renames it to final. The caller holds the version's LOCK_EX. */
static int fetch(struct weft_code_cache *c, struct weft_artifacts *a, const char *version,
                 const char *final, weft_error *err) {
  char *key = weft_code_archive_key(version);
  char *tmp = weft_str_printf("%s/tmp.XXXXXX", c->dir), *archive = NULL;
  int rc = WEFT_OK, made = 0;
  if (!key || !tmp) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (!mkdtemp(tmp)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot create a folder in %s: %s", c->dir, strerror(errno));
    goto done;
  }
  made = 1;
  /* The archive sits beside the folder, not in it: what is verified is
   * exactly what the step sees. */
  if (!(archive = weft_str_printf("%s.tar.gz", tmp))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  weft_error e = WEFT_ERROR_INIT;
  if ((rc = weft_artifacts_get(a, key, archive, &e))) {
    rc = weft_error_set(err, rc,
                        rc == WEFT_ENOTFOUND
                            ? "code version %s is not in the artifact store (%s): %s"
                            : "cannot fetch code version %s (%s): %s",
                        version, key, e.msg);
    goto done;
  }
  if ((rc = weft_code_unpack(archive, tmp, c->max_bytes, &e)) ||
      (rc = weft_code_verify(tmp, version, &e))) {
    rc = weft_error_set(err, rc, "code version %s from the artifact store (%s) is unusable: %s",
                        version, key, e.msg);
    goto done;
  }
  if ((rc = weft_code_seal(tmp, err))) goto done;
  if (rename(tmp, final)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
    goto done;
  }
  made = 0;
done:
  if (archive) unlink(archive);
  if (made) {
    weft_error ignored = WEFT_ERROR_INIT;
    weft_code_remove(tmp, &ignored);
  }
  free(archive);
  free(tmp);
  free(key);
  return rc;
}

/* Takes version for this process: its fd locked shared in *fd_out, with
 * *fetched 1 when this call fetched it. */
static int take(struct weft_code_cache *c, struct weft_artifacts *a, const char *version,
                const char *path, int *fd_out, int *fetched, weft_error *err) {
  char *lock = weft_str_printf("%s.lock", path);
  int rc = WEFT_OK, fd = -1, e = 0;
  *fd_out = -1;
  if (!lock) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (int tries = 0; tries < 100; tries++) {
    if (weft_fs_is_dir(path)) { /* the usual case: present, only hold it */
      if ((fd = lock_version(lock, LOCK_SH)) < 0) {
        e = errno;
        break;
      }
      if (weft_fs_is_dir(path)) goto got; /* not evicted before our lock */
      close(fd);
      fd = -1;
      continue;
    }
    if ((fd = lock_version(lock, LOCK_EX)) < 0) {
      e = errno;
      break;
    }
    if (weft_fs_is_dir(path)) { /* another process fetched it while we waited */
      c->stats.waits++;
    } else {
      if ((rc = fetch(c, a, version, path, err))) goto done;
      c->stats.fetches++;
      *fetched = 1;
    }
    /* An evictor needs LOCK_EX: it cannot slip in between, since it only
     * tries without waiting and we hold a lock at every moment but the
     * conversion's; the check after it catches that moment. */
    while (flock(fd, LOCK_SH) && errno == EINTR) {}
    if (weft_fs_is_dir(path)) goto got;
    close(fd);
    fd = -1;
  }
  rc = weft_error_set(err, WEFT_EIO, "cannot lock %s: %s", lock,
                      e ? strerror(e) : "evicted again and again");
  goto done;
got:
  utimensat(AT_FDCWD, path, NULL, 0); /* its last use, for the LRU order */
  *fd_out = fd;
  fd = -1;
done:
  if (fd >= 0) close(fd);
  free(lock);
  return rc;
}

int weft_code_cache_acquire(struct weft_code_cache *c, struct weft_artifacts *a,
                            const char *version, const char **path, int *fetched,
                            weft_error *err) {
  int got = 0, fd = -1;
  *path = NULL;
  if (fetched) *fetched = 0;
  if (!weft_code_version_valid(version))
    return weft_error_set(err, WEFT_EINVALID, "'%s' is not a code version", version);
  struct held *h = find_held(c, version);
  if (h) { /* held already by this process: a step of the same version runs */
    h->refs++;
    c->stats.hits++;
    utimensat(AT_FDCWD, h->path, NULL, 0);
    *path = h->path;
    return WEFT_OK;
  }
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    struct held *v = realloc(c->v, cap * sizeof *v);
    if (!v) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    c->v = v;
    c->cap = cap;
  }
  char *p = weft_fs_join(c->dir, version);
  if (!p) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = take(c, a, version, p, &fd, &got, err);
  if (rc) {
    free(p);
    return rc;
  }
  h = &c->v[c->n++];
  memset(h, 0, sizeof *h);
  snprintf(h->version, sizeof h->version, "%s", version);
  h->path = p;
  h->fd = fd;
  h->refs = 1;
  if (got) {
    weft_error ignored = WEFT_ERROR_INIT; /* a cache over its bound still runs steps */
    weft_code_cache_trim(c, version, NULL, &ignored);
  } else {
    c->stats.hits++;
  }
  if (fetched) *fetched = got;
  *path = h->path;
  return WEFT_OK;
}

void weft_code_cache_release(struct weft_code_cache *c, const char *version) {
  struct held *h = c && version ? find_held(c, version) : NULL;
  if (!h || --h->refs > 0) return;
  close(h->fd); /* drops the shared lock: it may be evicted from now on */
  free(h->path);
  *h = c->v[--c->n];
}

/* ---- eviction ------------------------------------------------------------------ */

struct entry {
  char *name;
  uint64_t bytes;
  int64_t used_ms;
};

static int cmp_used(const void *a, const void *b) {
  const struct entry *x = a, *y = b;
  return x->used_ms < y->used_ms ? -1 : x->used_ms > y->used_ms;
}

/* Removes version name unless a process holds it: 1 when removed. */
static int evict(struct weft_code_cache *c, const char *name) {
  char *path = weft_fs_join(c->dir, name);
  char *lock = path ? weft_str_printf("%s.lock", path) : NULL;
  char *grave = path ? weft_str_printf("%s/tmp.evict-%s", c->dir, name) : NULL;
  int removed = 0, fd = -1;
  weft_error ignored = WEFT_ERROR_INIT;
  if (!path || !lock || !grave || (fd = lock_version(lock, LOCK_EX | LOCK_NB)) < 0) goto done;
  if (!rename(path, grave)) {
    unlink(lock); /* under LOCK_EX: the next taker makes a new one */
    weft_code_remove(grave, &ignored);
    removed = 1;
  }
done:
  if (fd >= 0) close(fd);
  free(grave);
  free(lock);
  free(path);
  return removed;
}

int weft_code_cache_trim(struct weft_code_cache *c, const char *keep, uint64_t *bytes,
                         weft_error *err) {
  char **names = NULL;
  struct entry *v = NULL;
  size_t n = 0;
  uint64_t total = 0;
  int64_t now = weft_clock_wall_ms();
  int count = weft_fs_list_dir(c->dir, NULL, &names, err), rc = WEFT_OK;
  if (count < 0) return count;
  if (!(v = calloc((size_t)count + 1, sizeof *v))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < count; i++) {
    char *path = weft_fs_join(c->dir, names[i]);
    struct stat st;
    if (!path || lstat(path, &st)) {
      free(path);
      continue;
    }
    int64_t m = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (!strncmp(names[i], "tmp.", 4)) { /* a fetch or eviction that died */
      weft_error ignored = WEFT_ERROR_INIT;
      if (now - m > TMP_MIN_AGE_MS) weft_code_remove(path, &ignored);
    } else if (weft_code_version_valid(names[i]) && S_ISDIR(st.st_mode)) {
      v[n].name = names[i];
      v[n].bytes = weft_fs_tree_bytes(path);
      v[n].used_ms = m;
      total += v[n++].bytes;
    }
    free(path);
  }
  qsort(v, n, sizeof *v, cmp_used);
  for (size_t i = 0; c->max_bytes && total > c->max_bytes && i < n; i++) {
    if ((keep && !strcmp(v[i].name, keep)) || find_held(c, v[i].name)) continue;
    if (evict(c, v[i].name)) {
      total -= v[i].bytes;
      c->stats.evictions++;
    }
  }
  if (bytes) *bytes = total;
done:
  free(v);
  weft_fs_free_list(names);
  return rc;
}
