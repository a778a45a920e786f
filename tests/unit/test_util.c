/* test_util.c: unit tests for src/util (buffers, strings, files).
 * Each test runs in its own process (see test.h). */
#include <stdlib.h>

#include "test.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/str.h"
#include "weft.h"

TEST(buf_grows_and_detaches) {
  struct weft_buf b = WEFT_BUF_INIT;
  ASSERT_STR_EQ(b.ptr, "");
  for (int i = 0; i < 1000; i++) ASSERT_EQ(weft_buf_addf(&b, "%d,", i), WEFT_OK);
  ASSERT(b.len > 3000);
  ASSERT(!strncmp(b.ptr, "0,1,2,", 6));
  size_t len = 0;
  char *s = weft_buf_detach(&b, &len);
  ASSERT_EQ(len, strlen(s));
  ASSERT_EQ(b.len, 0);
  free(s);
  weft_buf_release(&b);
  return 0;
}

TEST(str_suggest_finds_typos) {
  const char *keys[] = {"description", "inputs", "outputs", "retries"};
  ASSERT_STR_EQ(weft_str_suggest("ouputs", keys, 4), "outputs");
  ASSERT_STR_EQ(weft_str_suggest("retires", keys, 4), "retries");
  ASSERT(weft_str_suggest("zzz", keys, 4) == NULL);
  ASSERT_EQ(weft_str_distance("kitten", "sitting"), 3);
  return 0;
}

TEST(str_identifier) {
  ASSERT(weft_str_is_identifier("add_one"));
  ASSERT(weft_str_is_identifier("_x-1"));
  ASSERT(!weft_str_is_identifier("1abc"));
  ASSERT(!weft_str_is_identifier("a.b"));
  ASSERT(!weft_str_is_identifier(""));
  return 0;
}

TEST(fs_atomic_write_and_list) {
  char dir[] = "/tmp/weft-test-XXXXXX";
  ASSERT(mkdtemp(dir));
  weft_error err = WEFT_ERROR_INIT;
  char *sub = weft_fs_join(dir, "a/b/c");
  ASSERT_EQ(weft_fs_mkdirs(sub, &err), WEFT_OK);
  char *f1 = weft_fs_join(sub, "x.yaml"), *f2 = weft_fs_join(sub, "y.yaml");
  ASSERT_EQ(weft_fs_write_atomic(f1, "hello", 5, 1, &err), WEFT_OK);
  ASSERT_EQ(weft_fs_write_atomic(f2, "", 0, 0, &err), WEFT_OK);
  struct weft_buf b = WEFT_BUF_INIT;
  ASSERT_EQ(weft_fs_read_file(f1, &b, &err), WEFT_OK);
  ASSERT_STR_EQ(b.ptr, "hello");
  char **names = NULL;
  ASSERT_EQ(weft_fs_list_dir(sub, ".yaml", &names, &err), 2);
  ASSERT_STR_EQ(names[0], "x.yaml");
  ASSERT_STR_EQ(names[1], "y.yaml");
  weft_fs_free_list(names);
  ASSERT_EQ(weft_fs_read_file("/nonexistent/zz", &b, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "/nonexistent/zz");
  ASSERT_EQ(weft_fs_remove_tree(dir, &err), WEFT_OK);
  ASSERT(!weft_fs_exists(dir));
  weft_buf_release(&b);
  free(sub);
  free(f1);
  free(f2);
  return 0;
}

/* A copy larger than the copy buffer, byte for byte, replacing the target
 * and leaving no temp file; a missing source is an error naming it. */
TEST(fs_copy_file_streams) {
  char dir[] = "/tmp/weft-test-XXXXXX";
  ASSERT(mkdtemp(dir));
  weft_error err = WEFT_ERROR_INIT;
  char *src = weft_fs_join(dir, "src"), *dst = weft_fs_join(dir, "dst");
  size_t n = 300 * 1024 + 7;
  char *data = malloc(n);
  ASSERT(data);
  for (size_t i = 0; i < n; i++) data[i] = (char)(i * 31 + 7);
  ASSERT_EQ(weft_fs_write_atomic(src, data, n, 0, &err), WEFT_OK);
  ASSERT_EQ(weft_fs_write_atomic(dst, "old", 3, 0, &err), WEFT_OK);
  ASSERT_EQ(weft_fs_copy_file(src, dst, &err), WEFT_OK);
  struct weft_buf b = WEFT_BUF_INIT;
  ASSERT_EQ(weft_fs_read_file(dst, &b, &err), WEFT_OK);
  ASSERT_EQ(b.len, n);
  ASSERT(!memcmp(b.ptr, data, n));
  char **names = NULL;
  ASSERT_EQ(weft_fs_list_dir(dir, NULL, &names, &err), 2); /* no temp left */
  weft_fs_free_list(names);
  ASSERT_EQ(weft_fs_copy_file("/nonexistent/src", dst, &err), WEFT_EIO);
  ASSERT_CONTAINS(err.msg, "/nonexistent/src");
  weft_buf_release(&b);
  weft_fs_remove_tree(dir, &err);
  free(data);
  free(src);
  free(dst);
  return 0;
}

TEST(error_names) {
  ASSERT_STR_EQ(weft_strerror(WEFT_ENOMEM), "out of memory");
  ASSERT_STR_EQ(weft_strerror(WEFT_OK), "ok");
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_error_set(&err, WEFT_EINVALID, "field %s", "x"), WEFT_EINVALID);
  ASSERT_STR_EQ(err.msg, "field x");
  return 0;
}

TEST_MAIN(TEST_ENTRY(buf_grows_and_detaches) TEST_ENTRY(str_suggest_finds_typos)
              TEST_ENTRY(str_identifier) TEST_ENTRY(fs_atomic_write_and_list) TEST_ENTRY(fs_copy_file_streams)
                  TEST_ENTRY(error_names))
