/* code_version.c: the content hash of a location folder, and the copy that
 * hashes what it writes (code_version.h); SHA-256 through OpenSSL's EVP. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/code_version.h"
#include "util/fs.h"

#define CHUNK (64 * 1024)

struct paths {
  char **v;
  size_t n, cap;
};

/* What one walk needs: the root, what to leave out, where to copy. */
struct walk {
  const char *root, *copy_to;
  int have_skip;
  dev_t skip_dev;
  ino_t skip_ino;
  struct paths p;
  EVP_MD_CTX *total, *file;
  unsigned char *chunk;
  char *made_dir; /* the last folder created under copy_to */
};

static int paths_add(struct paths *p, char *path) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    char **nv = realloc(p->v, cap * sizeof *nv);
    if (!nv) return WEFT_ENOMEM;
    p->v = nv;
    p->cap = cap;
  }
  p->v[p->n++] = path;
  return WEFT_OK;
}

/* Build output and installed packages: not code (hidden names are already
 * left out by weft_fs_list_dir). */
static int skipped_dir_name(const char *name) {
  static const char *const names[] = {"node_modules", "build", "dist", "venv"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!strcmp(name, names[i])) return 1;
  size_t n = strlen(name);
  return n > 9 && !strcmp(name + n - 9, ".egg-info");
}

int weft_code_link_inside(const char *rel, const char *target) {
  if (target[0] == '/' || !target[0]) return 0;
  long depth = 0;
  for (const char *s = rel; *s; s++) depth += *s == '/';
  for (const char *s = target; *s;) {
    const char *end = strchr(s, '/');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    if (len == 2 && s[0] == '.' && s[1] == '.') {
      if (--depth < 0) return 0;
    } else if (len && !(len == 1 && s[0] == '.')) {
      depth++;
    }
    s += len + (end ? 1 : 0);
  }
  return 1;
}

/* Appends the relative paths of the files under root/rel (rel "" for the
 * root itself). Directory links are not followed (no cycles). */
static int collect(struct walk *w, const char *rel, weft_error *err) {
  char *dir = *rel ? weft_fs_join(w->root, rel) : strdup(w->root);
  char **names = NULL;
  int rc = WEFT_OK;
  if (!dir) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int n = weft_fs_list_dir(dir, NULL, &names, err); /* sorted, no hidden names */
  if (n < 0 || !names) {
    if (n == WEFT_ENOTFOUND && *rel) { /* a folder removed meanwhile */
      *err = (weft_error)WEFT_ERROR_INIT;
    } else {
      rc = n < 0 ? n : weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
    goto done;
  }
  for (int i = 0; !rc && i < n; i++) {
    if (!strcmp(names[i], "__pycache__")) continue;
    char *r = *rel ? weft_fs_join(rel, names[i]) : strdup(names[i]);
    char *full = r ? weft_fs_join(w->root, r) : NULL;
    struct stat st;
    char target[4096];
    ssize_t len;
    if (!r || !full) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    } else if (lstat(full, &st)) {
      if (errno != ENOENT) rc = weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
      int skip = skipped_dir_name(names[i]) ||
                 (w->have_skip && st.st_dev == w->skip_dev && st.st_ino == w->skip_ino);
      if (!skip) rc = collect(w, r, err);
    } else if (S_ISLNK(st.st_mode)) {
      len = readlink(full, target, sizeof target - 1);
      if (len >= 0) target[len] = '\0';
      if (len >= 0 && weft_code_link_inside(r, target)) {
        if (!paths_add(&w->p, r)) r = NULL;
        else rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      }
    } else if (S_ISREG(st.st_mode)) {
      if (!paths_add(&w->p, r)) r = NULL;
      else rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
    free(full);
    free(r);
  }
done:
  if (names) weft_fs_free_list(names);
  free(dir);
  return rc;
}

static int cmp_path(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Creates the folder that will hold copy_to/rel. */
static int make_parent(struct walk *w, const char *rel, weft_error *err) {
  const char *slash = strrchr(rel, '/');
  if (!slash) return WEFT_OK;
  size_t len = (size_t)(slash - rel);
  if (w->made_dir && strlen(w->made_dir) == len && !strncmp(w->made_dir, rel, len))
    return WEFT_OK;
  free(w->made_dir);
  w->made_dir = strndup(rel, len);
  char *dir = w->made_dir ? weft_fs_join(w->copy_to, w->made_dir) : NULL;
  int rc = dir ? weft_fs_mkdirs(dir, err) : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  free(dir);
  return rc;
}

/* Reads (and copies) one link; its digest goes into digest. *gone when it
 * vanished meanwhile. */
static int visit_link(struct walk *w, const char *rel, const char *full, const char *dst,
                      size_t *size, int *gone, weft_error *err) {
  char target[4096];
  ssize_t len = readlink(full, target, sizeof target - 1);
  if (len < 0) {
    if (errno == ENOENT || errno == EINVAL) { /* gone, or no longer a link */
      *gone = 1;
      return WEFT_OK;
    }
    return weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
  }
  target[len] = '\0';
  if (!weft_code_link_inside(rel, target)) { /* changed into one that points out */
    *gone = 1;
    return WEFT_OK;
  }
  *size = (size_t)len;
  if (!EVP_DigestUpdate(w->file, target, (size_t)len))
    return weft_error_set(err, WEFT_EIO, "cannot hash %s", full);
  if (dst && symlink(target, dst))
    return weft_error_set(err, WEFT_EIO, "cannot copy the link %s: %s", full, strerror(errno));
  return WEFT_OK;
}

/* Streams one regular file through the file digest (and into dst). */
static int visit_file(struct walk *w, const char *full, const char *dst, size_t *size,
                      char *kind, int *gone, weft_error *err) {
  int in = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, rc = WEFT_OK;
  struct stat st;
  if (in < 0) {
    if (errno == ENOENT || errno == ELOOP) { /* gone, or now a link */
      *gone = 1;
      return WEFT_OK;
    }
    return weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
  }
  if (fstat(in, &st) || !S_ISREG(st.st_mode)) {
    *gone = 1;
    goto done;
  }
  *kind = st.st_mode & 0111 ? 'x' : 'f';
  if (dst && (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                         *kind == 'x' ? 0555 : 0444)) < 0) {
    rc = weft_error_set(err, WEFT_EIO, "cannot copy %s: %s", full, strerror(errno));
    goto done;
  }
  for (;;) {
    ssize_t n = read(in, w->chunk, CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
      break;
    }
    if (!n) break;
    *size += (size_t)n;
    if (!EVP_DigestUpdate(w->file, w->chunk, (size_t)n)) {
      rc = weft_error_set(err, WEFT_EIO, "cannot hash %s", full);
      break;
    }
    if (out >= 0 && weft_fs_write_all(out, w->chunk, (size_t)n)) {
      rc = weft_error_set(err, WEFT_EIO, "cannot copy %s: %s", full, strerror(errno));
      break;
    }
  }
  if (out >= 0 && close(out) && !rc)
    rc = weft_error_set(err, WEFT_EIO, "cannot copy %s: %s", full, strerror(errno));
done:
  close(in);
  return rc;
}

/* Feeds one file: path, NUL, kind, size, digest of its contents. A file
 * gone meanwhile is skipped (and not copied). */
static int visit(struct walk *w, const char *rel, weft_error *err) {
  char *full = weft_fs_join(w->root, rel);
  char *dst = w->copy_to ? weft_fs_join(w->copy_to, rel) : NULL;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  size_t size = 0;
  char kind = 'l';
  int gone = 0, rc = WEFT_OK;
  struct stat st;
  if (!full || (w->copy_to && !dst)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (lstat(full, &st)) {
    if (errno != ENOENT) rc = weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
    goto done;
  }
  if (dst && (rc = make_parent(w, rel, err))) goto done;
  if (!EVP_DigestInit_ex(w->file, EVP_sha256(), NULL)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot start a SHA-256 digest");
    goto done;
  }
  if (S_ISLNK(st.st_mode))
    rc = visit_link(w, rel, full, dst, &size, &gone, err);
  else
    rc = visit_file(w, full, dst, &size, &kind, &gone, err);
  if (rc || gone) goto done;
  unsigned char head[9];
  head[0] = (unsigned char)kind;
  for (int i = 0; i < 8; i++) head[1 + i] = (unsigned char)((uint64_t)size >> (8 * i));
  if (!EVP_DigestFinal_ex(w->file, digest, &dlen) ||
      !EVP_DigestUpdate(w->total, rel, strlen(rel) + 1) ||
      !EVP_DigestUpdate(w->total, head, sizeof head) ||
      !EVP_DigestUpdate(w->total, digest, dlen))
    rc = weft_error_set(err, WEFT_EIO, "cannot hash %s", full);
done:
  free(dst);
  free(full);
  return rc;
}

static int walk(const char *dir, const char *skip_dir, const char *copy_to,
                char out[WEFT_CODE_VERSION_LEN + 1], weft_error *err) {
  struct walk w = {.root = dir, .copy_to = copy_to};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  struct stat st;
  int rc = WEFT_OK;
  out[0] = '\0';
  if (skip_dir && !stat(skip_dir, &st)) {
    w.have_skip = 1;
    w.skip_dev = st.st_dev;
    w.skip_ino = st.st_ino;
  }
  w.total = EVP_MD_CTX_new();
  w.file = EVP_MD_CTX_new();
  w.chunk = malloc(CHUNK);
  if (!w.total || !w.file || !w.chunk) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = collect(&w, "", err))) goto done;
  qsort(w.p.v, w.p.n, sizeof *w.p.v, cmp_path);
  if (!EVP_DigestInit_ex(w.total, EVP_sha256(), NULL)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot start a SHA-256 digest");
    goto done;
  }
  for (size_t i = 0; !rc && i < w.p.n; i++) rc = visit(&w, w.p.v[i], err);
  if (rc) goto done;
  if (!EVP_DigestFinal_ex(w.total, digest, &len) || len * 2 < WEFT_CODE_VERSION_LEN) {
    rc = weft_error_set(err, WEFT_EIO, "cannot finish a SHA-256 digest");
    goto done;
  }
  for (size_t i = 0; i < WEFT_CODE_VERSION_LEN / 2; i++)
    snprintf(out + 2 * i, 3, "%02x", digest[i]);
done:
  for (size_t i = 0; i < w.p.n; i++) free(w.p.v[i]);
  free(w.p.v);
  free(w.made_dir);
  free(w.chunk);
  EVP_MD_CTX_free(w.total);
  EVP_MD_CTX_free(w.file);
  return rc;
}

int weft_code_version(const char *dir, const char *skip_dir,
                      char out[WEFT_CODE_VERSION_LEN + 1], weft_error *err) {
  return walk(dir, skip_dir, NULL, out, err);
}

int weft_code_copy(const char *dir, const char *skip_dir, const char *copy_to,
                   char out[WEFT_CODE_VERSION_LEN + 1], weft_error *err) {
  return walk(dir, skip_dir, copy_to, out, err);
}

int weft_code_version_valid(const char *v) {
  if (!v) return 0;
  size_t i = 0;
  for (; v[i]; i++)
    if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f'))) return 0;
  return i == WEFT_CODE_VERSION_LEN;
}
