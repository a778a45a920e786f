/* code_version.c: the content hash of a location folder (code_version.h),
 * SHA-256 through OpenSSL's EVP interface. */
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

struct paths {
  char **v;
  size_t n, cap;
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

/* Appends the relative paths of the files under root/rel (rel "" for
 * root itself). Directory links are not followed (no cycles). */
static int collect(const char *root, const char *rel, struct paths *p, weft_error *err) {
  char *dir = *rel ? weft_fs_join(root, rel) : strdup(root);
  char **names = NULL;
  int rc = WEFT_OK;
  if (!dir) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int n = weft_fs_list_dir(dir, NULL, &names, err); /* sorted, no hidden names */
  if (n < 0 || (n > 0 && !names)) {
    rc = err->code ? err->code : WEFT_EIO;
    goto done;
  }
  for (int i = 0; !rc && i < n; i++) {
    if (!strcmp(names[i], "__pycache__")) continue;
    char *r = *rel ? weft_fs_join(rel, names[i]) : strdup(names[i]);
    char *full = r ? weft_fs_join(root, r) : NULL;
    struct stat st;
    if (!r || !full) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    } else if (lstat(full, &st)) {
      if (errno != ENOENT) rc = weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
      rc = collect(root, r, p, err);
    } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
      if (!paths_add(p, r)) r = NULL;
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

/* Feeds one file: path, NUL, size, contents. A file gone meanwhile is skipped. */
static int hash_file(EVP_MD_CTX *md, const char *root, const char *rel, weft_error *err) {
  char *full = weft_fs_join(root, rel);
  struct weft_buf b;
  struct stat st;
  int rc = WEFT_OK;
  weft_buf_init(&b);
  if (!full) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (lstat(full, &st)) {
    if (errno != ENOENT) rc = weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
    goto done;
  }
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t len = readlink(full, target, sizeof target);
    if (len < 0) {
      if (errno != ENOENT) rc = weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
      goto done;
    }
    rc = weft_buf_add(&b, target, (size_t)len);
  } else {
    weft_error why = WEFT_ERROR_INIT;
    rc = weft_fs_read_file(full, &b, &why);
    if (rc == WEFT_ENOTFOUND) {
      rc = WEFT_OK;
      goto done;
    }
    if (rc) rc = weft_error_set(err, rc, "%s", why.msg);
  }
  if (rc) {
    if (!err->code) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  unsigned char size[8];
  for (int i = 0; i < 8; i++) size[i] = (unsigned char)((uint64_t)b.len >> (8 * i));
  if (!EVP_DigestUpdate(md, rel, strlen(rel) + 1) || !EVP_DigestUpdate(md, size, sizeof size) ||
      !EVP_DigestUpdate(md, b.ptr, b.len))
    rc = weft_error_set(err, WEFT_EIO, "cannot hash %s", full);
done:
  weft_buf_release(&b);
  free(full);
  return rc;
}

int weft_code_version(const char *dir, char out[WEFT_CODE_VERSION_LEN + 1], weft_error *err) {
  struct paths p = {0};
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  int rc;
  out[0] = '\0';
  if (!md) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if ((rc = collect(dir, "", &p, err))) goto done;
  qsort(p.v, p.n, sizeof *p.v, cmp_path);
  if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot start a SHA-256 digest");
    goto done;
  }
  for (size_t i = 0; !rc && i < p.n; i++) rc = hash_file(md, dir, p.v[i], err);
  if (rc) goto done;
  if (!EVP_DigestFinal_ex(md, digest, &len) || len * 2 < WEFT_CODE_VERSION_LEN) {
    rc = weft_error_set(err, WEFT_EIO, "cannot finish a SHA-256 digest");
    goto done;
  }
  for (size_t i = 0; i < WEFT_CODE_VERSION_LEN / 2; i++)
    snprintf(out + 2 * i, 3, "%02x", digest[i]);
done:
  for (size_t i = 0; i < p.n; i++) free(p.v[i]);
  free(p.v);
  EVP_MD_CTX_free(md);
  return rc;
}
