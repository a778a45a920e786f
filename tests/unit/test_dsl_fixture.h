/* test_dsl_fixture.h: helpers for the DSL tests: a scratch code location in a
 * temp folder made the working directory, and exact matching of diagnostics. */
#ifndef WEFT_TEST_DSL_FIXTURE_H
#define WEFT_TEST_DSL_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "util/fs.h"

/* Creates a temp folder and makes it the working directory; returns its
 * path (static storage). Each test runs in its own process, so chdir is safe.
 */
static inline const char *fx_enter_tmp(void) {
  static char dir[64];
  snprintf(dir, sizeof dir, "/tmp/weft-dsl-test-XXXXXX");
  if (!mkdtemp(dir) || chdir(dir)) return NULL;
  return dir;
}

static inline void fx_leave_tmp(const char *dir) {
  if (chdir("/") == 0) weft_fs_remove_tree(dir, NULL);
}

/* Writes text to path (relative to the working directory), making folders. */
static inline int fx_write(const char *path, const char *text) {
  char *copy = strdup(path);
  char *slash = copy ? strrchr(copy, '/') : NULL;
  if (slash) {
    *slash = 0;
    weft_fs_mkdirs(copy, NULL);
  }
  free(copy);
  return weft_fs_write_atomic(path, text, strlen(text), 0, NULL);
}

/* Every diagnostic as printed, one per line, with a leading newline so a
 * whole line can be matched as "\nLINE\n". Caller frees. */
static inline char *fx_diags(const struct weft_diags *d) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  fputc('\n', f);
  weft_diags_print(d, f);
  fclose(f);
  return buf;
}

/* Whether the diagnostics hold exactly this printed line. */
static inline int fx_has_diag(const struct weft_diags *d, const char *line) {
  char *all = fx_diags(d);
  size_t n = strlen(line);
  char *want = malloc(n + 3);
  int found = 0;
  if (all && want) {
    want[0] = '\n';
    memcpy(want + 1, line, n);
    want[n + 1] = '\n';
    want[n + 2] = 0;
    found = strstr(all, want) != NULL;
  }
  if (!found)
    fprintf(stderr, "# missing diagnostic: %s\n# got:%s", line, all ? all : "");
  free(all);
  free(want);
  return found;
}

#define ASSERT_DIAG(d, line) ASSERT(fx_has_diag((d), (line)))

/* Loads the location in the working directory, failing the test on error. */
#define LOAD_HERE(loc)                                    \
  do {                                                    \
    weft_error err_ = WEFT_ERROR_INIT;                    \
    if (weft_location_load(".", "here", &(loc), &err_)) { \
      fprintf(stderr, "# load failed: %s\n", err_.msg);   \
      return 1;                                           \
    }                                                     \
  } while (0)

#endif
