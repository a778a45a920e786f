/* auth_gen.c: the credentials' generation counter (auth_gen.h), in storage
 * (compare-and-set) and in a small file mapped shared by the processes of
 * one machine (atomic adds). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/auth_gen.h"
#include "util/str.h"

#define GEN_KEY "weft.auth.generation"
#define GEN_FILE "auth.generation"

int weft_auth_gen_get(struct weft_store *s, int64_t *gen, weft_error *err) {
  char *raw = NULL;
  *gen = 0;
  int rc = weft_store_kv_get(s, GEN_KEY, &raw, err);
  if (rc == WEFT_ENOTFOUND) return WEFT_OK;
  if (!rc) *gen = strtoll(raw, NULL, 10);
  free(raw);
  return rc;
}

int weft_auth_gen_file_open(const char *home, struct weft_auth_gen_file *f, weft_error *err) {
  f->p = NULL;
  char *path = weft_str_printf("%s/" GEN_FILE, home);
  if (!path) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  struct stat st;
  int rc = WEFT_OK;
  if (fd < 0 || fstat(fd, &st) || (st.st_size < 8 && ftruncate(fd, 8))) {
    rc = weft_error_set(err, WEFT_EIO, "cannot open %s: %s", path, strerror(errno));
  } else {
    void *p = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) rc = weft_error_set(err, WEFT_EIO, "cannot map %s: %s", path,
                                             strerror(errno));
    else f->p = p;
  }
  if (fd >= 0) close(fd);
  free(path);
  return rc;
}

uint64_t weft_auth_gen_file_read(const struct weft_auth_gen_file *f) {
  return f->p ? __atomic_load_n(f->p, __ATOMIC_ACQUIRE) : 0;
}

void weft_auth_gen_file_close(struct weft_auth_gen_file *f) {
  if (f->p) munmap(f->p, 8);
  f->p = NULL;
}

int weft_auth_gen_bump(struct weft_store *s, const char *home, weft_error *err) {
  int rc = WEFT_ECONFLICT;
  /* Another bump may win the compare-and-set: either one moves it. */
  for (int tries = 0; rc == WEFT_ECONFLICT && tries < 20; tries++) {
    char *raw = NULL, next[32];
    rc = weft_store_kv_get(s, GEN_KEY, &raw, err);
    if (rc && rc != WEFT_ENOTFOUND) return rc;
    snprintf(next, sizeof next, "%" PRId64, (raw ? (int64_t)strtoll(raw, NULL, 10) : 0) + 1);
    rc = weft_store_kv_compare_set(s, GEN_KEY, raw, next, err);
    free(raw);
  }
  if (rc) return rc;
  if (home) {
    struct weft_auth_gen_file f;
    if ((rc = weft_auth_gen_file_open(home, &f, err))) return rc;
    __atomic_add_fetch(f.p, 1, __ATOMIC_RELEASE);
    weft_auth_gen_file_close(&f);
  }
  return WEFT_OK;
}
