/* test.h: a tiny unit-test runner in the libuv manner: each test runs in its
 * own forked process with a timeout, results are printed as TAP. */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TEST_TIMEOUT_S /* a file may allow its tests more, defining it first */
#define TEST_TIMEOUT_S 60
#endif

#define TEST(name) static int test_##name(void)
#define TEST_ENTRY(name) {#name, test_##name},

#define ASSERT(cond)                                                     \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "# %s:%d: assertion failed: %s\n", __FILE__,       \
              __LINE__, #cond);                                          \
      return 1;                                                          \
    }                                                                    \
  } while (0)
#define ASSERT_EQ(a, b)                                                  \
  do {                                                                   \
    long long a_ = (long long)(a), b_ = (long long)(b);                  \
    if (a_ != b_) {                                                      \
      fprintf(stderr, "# %s:%d: %s == %s failed: %lld != %lld\n",        \
              __FILE__, __LINE__, #a, #b, a_, b_);                       \
      return 1;                                                          \
    }                                                                    \
  } while (0)
#define ASSERT_STR_EQ(a, b)                                              \
  do {                                                                   \
    const char *a_ = (a), *b_ = (b);                                     \
    if (!a_ || !b_ || strcmp(a_, b_)) {                                  \
      fprintf(stderr, "# %s:%d: %s == %s failed: \"%s\" != \"%s\"\n",    \
              __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",            \
              b_ ? b_ : "(null)");                                       \
      return 1;                                                          \
    }                                                                    \
  } while (0)
#define ASSERT_CONTAINS(hay, needle)                                     \
  do {                                                                   \
    const char *h_ = (hay), *n_ = (needle);                              \
    if (!h_ || !strstr(h_, n_)) {                                        \
      fprintf(stderr, "# %s:%d: \"%s\" does not contain \"%s\"\n",       \
              __FILE__, __LINE__, h_ ? h_ : "(null)", n_);               \
      return 1;                                                          \
    }                                                                    \
  } while (0)

struct test_entry {
  const char *name;
  int (*fn)(void);
};

/* Runs each test (or only those named on the command line) in a child. */
static inline int test_main(int argc, char **argv, const struct test_entry *t,
                            size_t n) {
  size_t ran = 0, failed = 0;
  printf("1..%zu\n", n);
  for (size_t i = 0; i < n; i++) {
    int selected = argc < 2;
    for (int a = 1; a < argc; a++)
      if (!strcmp(argv[a], t[i].name)) selected = 1;
    if (!selected) {
      printf("ok %zu - %s # SKIP not selected\n", i + 1, t[i].name);
      continue;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(TEST_TIMEOUT_S);
      int rc = t[i].fn();
      /* A passing test ends with exit(), not _exit(), so that atexit
       * handlers run: in ASan builds LeakSanitizer then checks the test and
       * a leak fails it (LSan's exit code). A failing test skips the check:
       * its early return leaks by design and the report would bury the
       * assertion message. */
      if (rc) _exit(rc);
      exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ran++;
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) failed++;
    if (WIFSIGNALED(st))
      printf("not ok %zu - %s # killed by signal %d\n", i + 1, t[i].name,
             WTERMSIG(st));
    else
      printf("%s %zu - %s\n", ok ? "ok" : "not ok", i + 1, t[i].name);
  }
  printf("# %zu passed, %zu failed\n", ran - failed, failed);
  return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                       \
  int main(int argc, char **argv) {                                          \
    static const struct test_entry tests_[] = {__VA_ARGS__};                 \
    return test_main(argc, argv, tests_, sizeof tests_ / sizeof tests_[0]); \
  }

#endif
