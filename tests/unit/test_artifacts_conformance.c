/* test_artifacts_conformance.c: one table of artifact-store cases run against
 * every backend: fs always, s3 when WEFT_TEST_S3_URL names a bucket.
 *
 * Cases receive only a URL and open their own stores. They never assume an
 * empty store: each case gets a store of its own (a fresh folder; a fresh
 * prefix in the shared bucket), so one s3 server serves every case. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "test.h"
#include "util/fs.h"

#define SKIP 2
#define MIB (1024 * 1024)

/* ---- backends ------------------------------------------------------------------ */

struct backend {
  const char *name;
  int (*setup)(const char *case_name, char *url, size_t len); /* 0, SKIP or 1 */
};

static char scratch[64]; /* local files of the case, and the fs store */

static int make_scratch(void) {
  strcpy(scratch, "/tmp/weft-art-XXXXXX");
  return mkdtemp(scratch) ? 0 : 1;
}

static int fs_setup(const char *case_name, char *url, size_t len) {
  snprintf(url, len, "file:%s/store", scratch);
  return 0;
}

/* WEFT_TEST_S3_URL ("s3://BUCKET/PREFIX?settings") with the case's own
 * prefix below PREFIX: CASE-PID-TIME, so reruns never see old keys. */
static int s3_setup(const char *case_name, char *url, size_t len) {
  const char *env = getenv("WEFT_TEST_S3_URL");
  if (!env || !*env) return SKIP;
  const char *q = strchr(env, '?');
  size_t base = q ? (size_t)(q - env) : strlen(env);
  while (base && env[base - 1] == '/') base--;
  snprintf(url, len, "%.*s/%s-%ld-%ld%s", (int)base, env, case_name, (long)getpid(),
           (long)time(NULL), q ? q : "");
  return 0;
}

static const struct backend fs_backend = {"fs", fs_setup};
static const struct backend s3_backend = {"s3", s3_setup};

/* ---- helpers ----------------------------------------------------------------- */

static struct weft_artifacts *open_store(const char *url) {
  struct weft_artifacts *a = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_artifacts_open(url, &a, &err)) fprintf(stderr, "# open %s: %s\n", url, err.msg);
  return a;
}

static char *local(const char *name) {
  static char path[8][256];
  static int i;
  char *p = path[i++ % 8];
  snprintf(p, 256, "%s/%s", scratch, name);
  return p;
}

static int write_file(const char *path, const char *text) {
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.w", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return 1;
  fputs(text, f);
  if (fclose(f)) return 1;
  return rename(tmp, path) != 0; /* replaced, never rewritten: see artifacts.h */
}

static char *read_text(const char *path) {
  struct weft_buf b = WEFT_BUF_INIT;
  if (weft_fs_read_file(path, &b, NULL)) return NULL;
  return weft_buf_detach(&b, NULL);
}

static long hwm_kb(void) { /* peak resident set of this process */
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

/* ---- cases ---------------------------------------------------------------------- */

static int case_put_get(const char *url) {
  struct weft_artifacts *a = open_store(url);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(write_file(local("in"), "hello, artifacts\n"), 0);
  ASSERT_EQ(weft_artifacts_put(a, "run1/step/out", local("in"), &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "run1/step/out", local("got"), &err), WEFT_OK);
  char *t = read_text(local("got"));
  ASSERT_STR_EQ(t, "hello, artifacts\n");
  free(t);
  int exists = 0;
  int64_t size = 0;
  ASSERT_EQ(weft_artifacts_head(a, "run1/step/out", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 1);
  ASSERT_EQ(size, 17);
  /* an empty object and a key with spaces and unicode */
  ASSERT_EQ(write_file(local("empty"), ""), 0);
  ASSERT_EQ(weft_artifacts_put(a, "run1/step/empty", local("empty"), &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_head(a, "run1/step/empty", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 1);
  ASSERT_EQ(size, 0);
  ASSERT_EQ(weft_artifacts_put(a, "run1/st ep/r\xc3\xa9sum\xc3\xa9+%.txt", local("in"), &err),
            WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "run1/st ep/r\xc3\xa9sum\xc3\xa9+%.txt", local("got2"), &err),
            WEFT_OK);
  t = read_text(local("got2"));
  ASSERT_STR_EQ(t, "hello, artifacts\n");
  free(t);
  weft_artifacts_close(a);
  return 0;
}

static int case_replace(const char *url) {
  struct weft_artifacts *a = open_store(url);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(write_file(local("v1"), "one"), 0);
  ASSERT_EQ(write_file(local("v2"), "two, longer"), 0);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/o", local("v1"), &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "r/s/o", local("got"), &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/o", local("v2"), &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "r/s/o", local("got"), &err), WEFT_OK); /* replaces */
  char *t = read_text(local("got"));
  ASSERT_STR_EQ(t, "two, longer");
  free(t);
  struct stat st;
  ASSERT_EQ(stat(local("got"), &st), 0);
  ASSERT_EQ(st.st_mode & 0222, 0); /* read-only */
  weft_artifacts_close(a);
  return 0;
}

/* Bytes from memory: stored as a file put would store them, replacing an
 * object, read-only, leaving no scratch file behind, and refusing a bad
 * key before writing anything. */
static int case_put_bytes(const char *url) {
  struct weft_artifacts *a = open_store(url);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  char *scr = local("scratch");
  ASSERT_EQ(mkdir(scr, 0755), 0);
  ASSERT_EQ(weft_artifacts_put_bytes(a, "r/s/result", "{\"n\":1}", 7, scr, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "r/s/result", local("got"), &err), WEFT_OK);
  char *t = read_text(local("got"));
  ASSERT_STR_EQ(t, "{\"n\":1}");
  free(t);
  struct stat st;
  ASSERT_EQ(stat(local("got"), &st), 0);
  ASSERT_EQ(st.st_mode & 0222, 0);
  int exists = 0;
  int64_t size = 0;
  ASSERT_EQ(weft_artifacts_put_bytes(a, "r/s/result", "[1,2,3]", 7, scr, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "r/s/result", local("got2"), &err), WEFT_OK);
  t = read_text(local("got2"));
  ASSERT_STR_EQ(t, "[1,2,3]");
  free(t);
  ASSERT_EQ(weft_artifacts_put_bytes(a, "r/s/empty", "", 0, scr, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_head(a, "r/s/empty", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 1);
  ASSERT_EQ(size, 0);
  ASSERT_EQ(weft_artifacts_put_bytes(a, "../x", "1", 1, scr, &err), WEFT_EINVALID);
  struct weft_artifact_list l = {0};
  ASSERT_EQ(weft_artifacts_list(a, "r/", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 2); /* no temporary listed */
  weft_artifact_list_release(&l);
  char **names = NULL;
  ASSERT_EQ(weft_fs_list_dir(scr, NULL, &names, &err), 0); /* a used scratch file is gone */
  weft_fs_free_list(names);
  weft_artifacts_close(a);
  return 0;
}

static int case_not_found(const char *url) {
  struct weft_artifacts *a = open_store(url);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_artifacts_get(a, "no/such/key", local("nf"), &err), WEFT_ENOTFOUND);
  ASSERT(!weft_fs_exists(local("nf")));
  int exists = 1;
  int64_t size = 7;
  ASSERT_EQ(weft_artifacts_head(a, "no/such/key", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 0);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/o", local("missing-file"), &err) < 0, 1);
  ASSERT_EQ(weft_artifacts_head(a, "r/s/o", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 0); /* a failed put stores nothing */
  weft_artifacts_close(a);
  return 0;
}

static int case_delete(const char *url) {
  struct weft_artifacts *a = open_store(url);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(write_file(local("in"), "x"), 0);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/o", local("in"), &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/p", local("in"), &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_delete(a, "r/s/o", &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_delete(a, "r/s/o", &err), WEFT_OK); /* absent: fine */
  ASSERT_EQ(weft_artifacts_get(a, "r/s/o", local("got"), &err), WEFT_ENOTFOUND);
  struct weft_artifact_list l = {0};
  ASSERT_EQ(weft_artifacts_list(a, "", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  ASSERT_STR_EQ(l.v[0], "r/s/p");
  weft_artifact_list_release(&l);
  weft_artifacts_close(a);
  return 0;
}

static int case_list_prefix(const char *url) {
  struct weft_artifacts *a = open_store(url);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(write_file(local("in"), "x"), 0);
  const char *keys[] = {"run2/b/o", "run1/b/o", "run1/a/o", "run10/a/o", "run1/a/p"};
  for (size_t i = 0; i < 5; i++)
    ASSERT_EQ(weft_artifacts_put(a, keys[i], local("in"), &err), WEFT_OK);
  struct weft_artifact_list l = {0};
  ASSERT_EQ(weft_artifacts_list(a, "", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 5);
  ASSERT_STR_EQ(l.v[0], "run1/a/o"); /* sorted bytewise */
  ASSERT_STR_EQ(l.v[1], "run1/a/p");
  ASSERT_STR_EQ(l.v[2], "run1/b/o");
  ASSERT_STR_EQ(l.v[3], "run10/a/o");
  ASSERT_STR_EQ(l.v[4], "run2/b/o");
  weft_artifact_list_release(&l);
  ASSERT_EQ(weft_artifacts_list(a, "run1/", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 3);
  weft_artifact_list_release(&l);
  ASSERT_EQ(weft_artifacts_list(a, "run1", &l, &err), WEFT_OK); /* partial segment */
  ASSERT_EQ(l.n, 4);
  weft_artifact_list_release(&l);
  ASSERT_EQ(weft_artifacts_list(a, "run3/", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 0);
  weft_artifact_list_release(&l);
  weft_artifacts_close(a);
  return 0;
}

static int case_list_pages(const char *url) {
  enum { N = 1100 }; /* more than one 1,000-key S3 page */
  struct weft_artifacts *a = open_store(url);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(write_file(local("in"), "x"), 0);
  for (int i = 0; i < N; i++) {
    char key[64];
    snprintf(key, sizeof key, "big/s/o%05d", i);
    ASSERT_EQ(weft_artifacts_put(a, key, local("in"), &err), WEFT_OK);
  }
  ASSERT_EQ(weft_artifacts_put(a, "other/s/o", local("in"), &err), WEFT_OK);
  struct weft_artifact_list l = {0};
  if (weft_artifacts_list(a, "big/", &l, &err)) fprintf(stderr, "# list: %s\n", err.msg);
  ASSERT_EQ(l.n, N);
  for (int i = 0; i < N; i++) {
    char key[64];
    snprintf(key, sizeof key, "big/s/o%05d", i);
    ASSERT_STR_EQ(l.v[i], key);
  }
  weft_artifact_list_release(&l);
  weft_artifacts_close(a);
  return 0;
}

static int case_bad_keys(const char *url) {
  struct weft_artifacts *a = open_store(url);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(write_file(local("in"), "x"), 0);
  const char *bad[] = {"", "/abs", "a//b", "a/../b", "..", "a/./b", "a/b/", "a\nb"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ASSERT_EQ(weft_artifacts_put(a, bad[i], local("in"), &err), WEFT_EINVALID);
    ASSERT_EQ(weft_artifacts_get(a, bad[i], local("got"), &err), WEFT_EINVALID);
  }
  struct weft_artifact_list l = {0};
  ASSERT_EQ(weft_artifacts_list(a, "../", &l, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_artifacts_list(a, "", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 0);
  weft_artifact_list_release(&l);
  weft_artifacts_close(a);
  return 0;
}

/* 100 MiB (sparse, with marks): multipart on s3; memory stays bounded. */
static int case_large(const char *url) {
  const int64_t size = 100 * MIB;
  struct weft_artifacts *a = open_store(url);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  int fd = open(local("big"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT(fd >= 0);
  ASSERT_EQ(ftruncate(fd, size), 0);
  for (int64_t off = 0; off < size; off += 7 * MIB) {
    char mark[32];
    int n = snprintf(mark, sizeof mark, "mark@%lld", (long long)off);
    ASSERT_EQ(pwrite(fd, mark, (size_t)n, off), n);
  }
  ASSERT_EQ(close(fd), 0);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/big", local("big"), &err), WEFT_OK);
  int exists = 0;
  int64_t got = 0;
  ASSERT_EQ(weft_artifacts_head(a, "r/s/big", &exists, &got, &err), WEFT_OK);
  ASSERT_EQ(got, size);
  ASSERT_EQ(weft_artifacts_get(a, "r/s/big", local("big.got"), &err), WEFT_OK);
  int x = open(local("big"), O_RDONLY), y = open(local("big.got"), O_RDONLY);
  ASSERT(x >= 0 && y >= 0);
  static char bx[1 << 20], by[1 << 20];
  for (int64_t off = 0; off < size; off += sizeof bx) {
    ASSERT_EQ(read(x, bx, sizeof bx), (ssize_t)sizeof bx);
    ASSERT_EQ(read(y, by, sizeof by), (ssize_t)sizeof by);
    ASSERT(!memcmp(bx, by, sizeof bx));
  }
  ASSERT_EQ(read(y, by, 1), 0);
  close(x);
  close(y);
#if defined(__SANITIZE_ADDRESS__)
  long cap_kb = 256 * 1024; /* shadow memory and quarantine */
#else
  long cap_kb = 64 * 1024;
#endif
  long kb = hwm_kb();
  fprintf(stderr, "# peak RSS %ld KiB\n", kb);
  ASSERT(kb > 0 && kb < cap_kb);
  weft_artifacts_close(a);
  return 0;
}

/* ---- the table ---------------------------------------------------------------------- */

#define CASES(X) \
  X(put_get)     \
  X(replace)     \
  X(put_bytes)   \
  X(not_found)   \
  X(delete)      \
  X(list_prefix) \
  X(list_pages)  \
  X(bad_keys)    \
  X(large)

static int run_case(const struct backend *b, const char *name, int (*fn)(const char *url)) {
  char url[2048];
  int rc = b->setup(name, url, sizeof url);
  if (rc == SKIP) {
    fprintf(stderr, "# %s/%s skipped: WEFT_TEST_S3_URL is not set\n", b->name, name);
    return 0;
  }
  if (rc || make_scratch()) {
    fprintf(stderr, "# %s/%s: backend setup failed\n", b->name, name);
    return 1;
  }
  if (b == &fs_backend) b->setup(name, url, sizeof url); /* the folder is known now */
  rc = fn(url);
  weft_fs_remove_tree(scratch, NULL);
  return rc;
}

#define DEFINE_TESTS(name)                                                    \
  TEST(fs_##name) { return run_case(&fs_backend, #name, case_##name); } \
  TEST(s3_##name) { return run_case(&s3_backend, #name, case_##name); }
CASES(DEFINE_TESTS)

#define ENTRIES(name) TEST_ENTRY(fs_##name) TEST_ENTRY(s3_##name)
TEST_MAIN(CASES(ENTRIES))
