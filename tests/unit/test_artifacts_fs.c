/* test_artifacts_fs.c: the filesystem artifact store: round trips, key
 * rules, atomic replacement, hard links vs streamed copies, big files. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "test.h"
#include "util/buf.h"
#include "util/fs.h"

/* A scratch folder under base ("/tmp" or "/dev/shm"); caller frees. */
static char *scratch_in(const char *base) {
  char *dir = NULL;
  if (asprintf(&dir, "%s/weft-art-XXXXXX", base) < 0) return NULL;
  if (!mkdtemp(dir)) {
    free(dir);
    return NULL;
  }
  return dir;
}

static int write_text(const char *path, const char *text) {
  return weft_fs_write_atomic(path, text, strlen(text), 0, NULL);
}

/* The file's contents, or NULL; caller frees. */
static char *read_text(const char *path) {
  struct weft_buf b = WEFT_BUF_INIT;
  if (weft_fs_read_file(path, &b, NULL)) {
    weft_buf_release(&b);
    return NULL;
  }
  return weft_buf_detach(&b, NULL);
}

static struct weft_artifacts *open_at(const char *dir) {
  struct weft_artifacts *a = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char *url = NULL;
  if (asprintf(&url, "file:%s/artifacts", dir) < 0) return NULL;
  if (weft_artifacts_open(url, &a, &err)) fprintf(stderr, "# open %s: %s\n", url, err.msg);
  free(url);
  return a;
}

/* How many files under dir (recursively) look like our temporaries. */
static int count_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (!strncmp(e->d_name, ".weft-tmp.", 10)) found++;
    char *child = weft_fs_join(dir, e->d_name);
    if (child && weft_fs_is_dir(child)) found += count_temporaries(child);
    free(child);
  }
  closedir(d);
  return found;
}

TEST(round_trip) {
  char *dir = scratch_in("/tmp");
  ASSERT(dir);
  struct weft_artifacts *a = open_at(dir);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  char *src = weft_fs_join(dir, "result.json"), *dst = weft_fs_join(dir, "copy.json");
  ASSERT_EQ(write_text(src, "{\"rows\": 42}"), 0);

  ASSERT_EQ(weft_artifacts_put(a, "run1/extract/result", src, &err), WEFT_OK);
  ASSERT_EQ(write_text(src, "log line\n"), 0); /* replaced, not modified */
  ASSERT_EQ(weft_artifacts_put(a, "run1/extract/1/stdout.log", src, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_put(a, "run1/extra/result", src, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_put(a, "run2/load/result", src, &err), WEFT_OK);

  int exists = -1;
  int64_t size = -1;
  ASSERT_EQ(weft_artifacts_head(a, "run1/extract/result", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 1);
  ASSERT_EQ(size, strlen("{\"rows\": 42}"));
  ASSERT_EQ(weft_artifacts_head(a, "run1/extract", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 0); /* a prefix is not an object */
  ASSERT_EQ(weft_artifacts_head(a, "run9/x", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 0);

  ASSERT_EQ(weft_artifacts_get(a, "run1/extract/result", dst, &err), WEFT_OK);
  char *text = read_text(dst);
  ASSERT_STR_EQ(text, "{\"rows\": 42}");
  free(text);
  /* get replaces an existing file */
  ASSERT_EQ(weft_artifacts_get(a, "run1/extract/1/stdout.log", dst, &err), WEFT_OK);
  text = read_text(dst);
  ASSERT_STR_EQ(text, "log line\n");
  free(text);

  struct weft_artifact_list l = {0};
  ASSERT_EQ(weft_artifacts_list(a, "", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 4);
  ASSERT_STR_EQ(l.v[0], "run1/extra/result");
  ASSERT_STR_EQ(l.v[1], "run1/extract/1/stdout.log");
  ASSERT_STR_EQ(l.v[2], "run1/extract/result");
  ASSERT_STR_EQ(l.v[3], "run2/load/result");
  weft_artifact_list_release(&l);
  ASSERT_EQ(weft_artifacts_list(a, "run1/", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 3);
  weft_artifact_list_release(&l);
  ASSERT_EQ(weft_artifacts_list(a, "run1/extrac", &l, &err), WEFT_OK); /* partial */
  ASSERT_EQ(l.n, 2);
  ASSERT_STR_EQ(l.v[0], "run1/extract/1/stdout.log");
  weft_artifact_list_release(&l);
  ASSERT_EQ(weft_artifacts_list(a, "run1/extract/result", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  weft_artifact_list_release(&l);
  ASSERT_EQ(weft_artifacts_list(a, "nosuch/", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 0);
  ASSERT_EQ(weft_artifacts_list(a, NULL, &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 4);
  weft_artifact_list_release(&l);

  /* delete: gone, idempotent, empty folders pruned, others kept */
  ASSERT_EQ(weft_artifacts_delete(a, "run2/load/result", &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_delete(a, "run2/load/result", &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_head(a, "run2/load/result", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 0);
  ASSERT_EQ(weft_artifacts_get(a, "run2/load/result", dst, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "run2/load/result");
  char *run2 = weft_fs_join(dir, "artifacts/run2"), *root = weft_fs_join(dir, "artifacts");
  ASSERT(!weft_fs_exists(run2));
  ASSERT(weft_fs_is_dir(root));
  ASSERT_EQ(weft_artifacts_delete(a, "run1/extract", &err), WEFT_EIO);
  ASSERT_CONTAINS(err.msg, "prefix");

  /* a key cannot be both an object and a prefix */
  ASSERT(weft_artifacts_put(a, "run1/extract", src, &err) < 0);
  ASSERT(weft_artifacts_put(a, "run1/extract/result/deeper", src, &err) < 0);
  /* the source must be an existing regular file */
  ASSERT_EQ(weft_artifacts_put(a, "run3/x", "/nonexistent/file", &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "/nonexistent/file");
  ASSERT_EQ(weft_artifacts_put(a, "run3/x", dir, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "not a regular file");
  ASSERT_EQ(count_temporaries(dir), 0);
  free(run2);
  free(root);
  free(src);
  free(dst);
  weft_artifacts_close(a);
  weft_fs_remove_tree(dir, NULL);
  free(dir);
  return 0;
}

TEST(same_filesystem_uses_hard_links) {
  char *dir = scratch_in("/tmp");
  ASSERT(dir);
  struct weft_artifacts *a = open_at(dir);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  char *src = weft_fs_join(dir, "out"), *dst = weft_fs_join(dir, "in");
  char *obj = weft_fs_join(dir, "artifacts/r/s/out");
  ASSERT_EQ(write_text(src, "payload"), 0);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/out", src, &err), WEFT_OK);
  struct stat s1, s2, s3;
  ASSERT_EQ(stat(src, &s1), 0);
  ASSERT_EQ(stat(obj, &s2), 0);
  ASSERT_EQ(s1.st_ino, s2.st_ino);
  ASSERT_EQ(s2.st_mode & 0777, 0444); /* in-place writes fail loudly */
  ASSERT_EQ(weft_artifacts_get(a, "r/s/out", dst, &err), WEFT_OK);
  ASSERT_EQ(stat(dst, &s3), 0);
  ASSERT_EQ(s3.st_ino, s2.st_ino);
  /* putting the very same file again changes nothing and leaves no temporary */
  ASSERT_EQ(weft_artifacts_put(a, "r/s/out", src, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "r/s/out", dst, &err), WEFT_OK);
  ASSERT_EQ(count_temporaries(dir), 0);
  free(src);
  free(dst);
  free(obj);
  weft_artifacts_close(a);
  weft_fs_remove_tree(dir, NULL);
  free(dir);
  return 0;
}

TEST(rejects_traversal) {
  char *dir = scratch_in("/tmp");
  ASSERT(dir);
  struct weft_artifacts *a = open_at(dir);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  char *src = weft_fs_join(dir, "f");
  ASSERT_EQ(write_text(src, "x"), 0);
  const char *bad[] = {"../escape",   "a/../../escape", "a/..",  "/etc/passwd",
                       "a//b",        "a/",             "",      ".",
                       "a/./b",       "a\nb",           "..",    ".weft-tmp.abc",
                       "r/.weft-tmp.1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int exists = 0;
    int64_t size = 0;
    ASSERT_EQ(weft_artifacts_put(a, bad[i], src, &err), WEFT_EINVALID);
    ASSERT_CONTAINS(err.msg, "artifact key");
    ASSERT_EQ(weft_artifacts_get(a, bad[i], src, &err), WEFT_EINVALID);
    ASSERT_EQ(weft_artifacts_head(a, bad[i], &exists, &size, &err), WEFT_EINVALID);
    ASSERT_EQ(weft_artifacts_delete(a, bad[i], &err), WEFT_EINVALID);
  }
  ASSERT_EQ(weft_artifacts_put(a, "../escape", src, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "path traversal");
  ASSERT_EQ(weft_artifacts_put(a, "/abs", src, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "absolute");
  char *escaped = weft_fs_join(dir, "escape");
  ASSERT(!weft_fs_exists(escaped));
  struct weft_artifact_list l = {0};
  ASSERT_EQ(weft_artifacts_list(a, "../", &l, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_artifacts_list(a, "a/../", &l, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_artifacts_list(a, "/", &l, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_artifacts_list(a, "a//", &l, &err), WEFT_EINVALID);
  /* names that merely contain dots are fine */
  ASSERT_EQ(weft_artifacts_put(a, "r/s/model..v2.bin", src, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/.hidden", src, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_list(a, "r/s/", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 2);
  weft_artifact_list_release(&l);
  free(escaped);
  free(src);
  weft_artifacts_close(a);
  weft_fs_remove_tree(dir, NULL);
  free(dir);
  return 0;
}

TEST(open_urls) {
  char *dir = scratch_in("/tmp");
  ASSERT(dir);
  weft_error err = WEFT_ERROR_INIT;
  struct weft_artifacts *a = NULL;
  char *url = NULL, *root = weft_fs_join(dir, "deep/er/root");
  ASSERT(asprintf(&url, "file://%s", root) > 0);
  ASSERT_EQ(weft_artifacts_open(url, &a, &err), WEFT_OK);
  ASSERT(weft_fs_is_dir(root));
  weft_artifacts_close(a);
  ASSERT_EQ(weft_artifacts_open(root, &a, &err), WEFT_OK); /* plain path */
  weft_artifacts_close(a);
  /* s3:// goes to the S3 backend (its own tests open it against s3rver). */
  ASSERT(weft_artifacts_find("s3") != NULL);
  ASSERT_EQ(weft_artifacts_open("ftp://host/x", &a, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "unknown scheme 'ftp'");
  ASSERT_EQ(weft_artifacts_open("", &a, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_artifacts_open("file:", &a, &err), WEFT_EINVALID);
  ASSERT(weft_artifacts_open("/proc/weft-no/such", &a, &err) < 0);
  ASSERT_CONTAINS(err.msg, "/proc/weft-no");
  ASSERT(weft_artifacts_find("fs") != NULL);
  free(url);
  free(root);
  weft_fs_remove_tree(dir, NULL);
  free(dir);
  return 0;
}

/* A second filesystem (tmpfs) forces the streamed-copy path; NULL when the
 * machine has none, and the test says so. */
static char *other_filesystem(const char *than) {
  struct stat a, b;
  if (stat("/dev/shm", &a) || stat(than, &b) || a.st_dev == b.st_dev) return NULL;
  return scratch_in("/dev/shm");
}

/* A failing copy (the file size limit is hit half-way) leaves the previous
 * object whole and no temporary behind. */
TEST(failed_put_is_invisible) {
  char *dir = scratch_in("/tmp");
  ASSERT(dir);
  char *shm = other_filesystem(dir);
  if (!shm) {
    fprintf(stderr, "# SKIP: no second filesystem at /dev/shm to force a copy\n");
    weft_fs_remove_tree(dir, NULL);
    free(dir);
    return 0;
  }
  struct weft_artifacts *a = open_at(dir);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  char *small = weft_fs_join(shm, "small"), *big = weft_fs_join(shm, "big");
  char *dst = weft_fs_join(dir, "got");
  ASSERT_EQ(write_text(small, "version 1"), 0);
  int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT(fd >= 0);
  static char chunk[1 << 16];
  memset(chunk, 'B', sizeof chunk);
  for (int i = 0; i < 64; i++) ASSERT_EQ(write(fd, chunk, sizeof chunk), sizeof chunk);
  close(fd);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/out", small, &err), WEFT_OK);

  signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = {1 << 20, 1 << 20};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/out", big, &err), WEFT_EIO);
  ASSERT_CONTAINS(err.msg, "r/s/out");
  ASSERT_EQ(weft_artifacts_put(a, "r/s/new", big, &err), WEFT_EIO);

  int exists = 0;
  int64_t size = 0;
  ASSERT_EQ(weft_artifacts_head(a, "r/s/out", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 1);
  ASSERT_EQ(size, strlen("version 1"));
  ASSERT_EQ(weft_artifacts_head(a, "r/s/new", &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 0);
  ASSERT_EQ(weft_artifacts_get(a, "r/s/out", dst, &err), WEFT_OK);
  char *text = read_text(dst);
  ASSERT_STR_EQ(text, "version 1");
  free(text);
  struct weft_artifact_list l = {0};
  ASSERT_EQ(weft_artifacts_list(a, "", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  weft_artifact_list_release(&l);
  ASSERT_EQ(count_temporaries(dir), 0);
  free(small);
  free(big);
  free(dst);
  weft_artifacts_close(a);
  weft_fs_remove_tree(dir, NULL);
  weft_fs_remove_tree(shm, NULL);
  free(dir);
  free(shm);
  return 0;
}

static long max_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static int check_markers(const char *path, off_t size) {
  char got[16] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  int bad = pread(fd, got, 5, 0) != 5 || memcmp(got, "BEGIN", 5) ||
            pread(fd, got, 6, size / 2) != 6 || memcmp(got, "MIDDLE", 6) ||
            pread(fd, got, 3, size - 3) != 3 || memcmp(got, "END", 3) ||
            pread(fd, got, 4, 4096) != 4 || memcmp(got, "\0\0\0\0", 4);
  close(fd);
  return bad ? -1 : 0;
}

/* 50 MB across filesystems, both ways: copied, not linked, and the
 * process's peak memory grows by far less than the file. A 1 MiB round
 * trip first pays the one-time costs (the copy buffer's first allocation,
 * code and allocator pages faulted in, possibly as 2 MiB huge pages), so
 * what is measured is what the size of the file costs: holding it would
 * add 50 MiB, streaming it adds next to nothing (well under 1 MiB here).
 * The bound leaves room for allocator and huge-page noise on a loaded
 * machine. */
TEST(large_file_bounded_memory) {
  char *dir = scratch_in("/tmp");
  ASSERT(dir);
  char *shm = other_filesystem(dir);
  if (!shm) {
    fprintf(stderr, "# SKIP: no second filesystem at /dev/shm to force a copy\n");
    weft_fs_remove_tree(dir, NULL);
    free(dir);
    return 0;
  }
  struct weft_artifacts *a = open_at(dir);
  ASSERT(a);
  weft_error err = WEFT_ERROR_INIT;
  const off_t size = 50 << 20;
  char *src = weft_fs_join(shm, "big.bin"), *back = weft_fs_join(shm, "back.bin");
  char *obj = weft_fs_join(dir, "artifacts/r/train/model");
  int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT(fd >= 0);
  ASSERT_EQ(ftruncate(fd, size), 0); /* sparse */
  ASSERT_EQ(pwrite(fd, "BEGIN", 5, 0), 5);
  ASSERT_EQ(pwrite(fd, "MIDDLE", 6, size / 2), 6);
  ASSERT_EQ(pwrite(fd, "END", 3, size - 3), 3);
  close(fd);

  char *warm = weft_fs_join(shm, "warm.bin");
  fd = open(warm, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT(fd >= 0);
  ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
  close(fd);
  ASSERT_EQ(weft_artifacts_put(a, "r/train/warm", warm, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "r/train/warm", warm, &err), WEFT_OK);

  long before = max_rss_kb();
  ASSERT_EQ(weft_artifacts_put(a, "r/train/model", src, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "r/train/model", back, &err), WEFT_OK);
  long grown_kb = max_rss_kb() - before;
  fprintf(stderr, "# peak memory grew by %ld KiB copying 50 MiB twice\n", grown_kb);
  ASSERT(grown_kb < 16 * 1024);

  struct stat st;
  ASSERT_EQ(stat(obj, &st), 0);
  ASSERT_EQ(st.st_size, size);
  ASSERT_EQ(st.st_nlink, 1); /* a copy: the filesystems differ */
  ASSERT_EQ(check_markers(obj, size), 0);
  ASSERT_EQ(check_markers(back, size), 0);
  int exists = 0;
  int64_t got = 0;
  ASSERT_EQ(weft_artifacts_head(a, "r/train/model", &exists, &got, &err), WEFT_OK);
  ASSERT_EQ(got, size);
  free(src);
  free(back);
  free(warm);
  free(obj);
  weft_artifacts_close(a);
  weft_fs_remove_tree(dir, NULL);
  weft_fs_remove_tree(shm, NULL);
  free(dir);
  free(shm);
  return 0;
}

/* Deleting a key prunes its emptied folders while another process puts a
 * sibling into them: the put must retry, never fail. */
TEST(put_races_delete_pruning) {
  char *dir = scratch_in("/tmp");
  ASSERT(dir);
  char *src = weft_fs_join(dir, "f");
  ASSERT_EQ(write_text(src, "data"), 0);
  enum { PROCS = 3, ROUNDS = 300 };
  pid_t pids[PROCS];
  fflush(NULL);
  for (int p = 0; p < PROCS; p++) {
    pids[p] = fork();
    ASSERT(pids[p] >= 0);
    if (pids[p] == 0) {
      struct weft_artifacts *a = open_at(dir);
      weft_error cerr = WEFT_ERROR_INIT;
      char key[64];
      int failed = !a;
      snprintf(key, sizeof key, "run/step/k%d", p);
      for (int i = 0; i < ROUNDS && !failed; i++) {
        failed = weft_artifacts_put(a, key, src, &cerr) ||
                 weft_artifacts_delete(a, key, &cerr);
      }
      if (failed) fprintf(stderr, "# child %d: %s\n", p, cerr.msg);
      weft_artifacts_close(a);
      _exit(failed);
    }
  }
  int failed = 0;
  for (int p = 0; p < PROCS; p++) {
    int st = 0;
    waitpid(pids[p], &st, 0);
    failed |= !WIFEXITED(st) || WEXITSTATUS(st);
  }
  ASSERT_EQ(failed, 0);
  char *run = weft_fs_join(dir, "artifacts/run");
  ASSERT(!weft_fs_exists(run)); /* everything deleted and pruned */
  free(run);
  free(src);
  weft_fs_remove_tree(dir, NULL);
  free(dir);
  return 0;
}

TEST_MAIN(TEST_ENTRY(round_trip) TEST_ENTRY(same_filesystem_uses_hard_links)
              TEST_ENTRY(rejects_traversal) TEST_ENTRY(open_urls)
                  TEST_ENTRY(failed_put_is_invisible) TEST_ENTRY(large_file_bounded_memory)
                      TEST_ENTRY(put_races_delete_pruning))
