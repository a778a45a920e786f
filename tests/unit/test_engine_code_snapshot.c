/* test_engine_code_snapshot.c: code versions and snapshots (engine/
 * code_snapshot.h): what a version covers, that a snapshot's content hashes
 * to its name, reuse, and creators racing for one version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/code_snapshot.h"
#include "test.h"
#include "util/fs.h"
#include "util/str.h"

static int put(const char *root, const char *rel, const char *text, int mode) {
  char *p = weft_fs_join(root, rel);
  char *dir = p ? strdup(p) : NULL;
  weft_error err = WEFT_ERROR_INIT;
  int rc = -1;
  if (!dir) goto done;
  *strrchr(dir, '/') = '\0';
  if (weft_fs_mkdirs(dir, &err)) goto done;
  FILE *f = fopen(p, "w");
  if (!f) goto done;
  fputs(text, f);
  fclose(f);
  rc = chmod(p, (mode_t)mode);
done:
  free(dir);
  free(p);
  return rc;
}

static int exists(const char *root, const char *rel) {
  char *p = weft_fs_join(root, rel);
  struct stat st;
  int e = p && !lstat(p, &st);
  free(p);
  return e;
}

/* A location with code, things that are not code, and links both ways;
 * returns the folder (caller frees). */
static char *make_location(void) {
  char tmpl[] = "/tmp/weft-snap-XXXXXX";
  char *root = mkdtemp(tmpl) ? strdup(tmpl) : NULL;
  if (!root) return NULL;
  char *loc = weft_fs_join(root, "loc");
  char *link1 = weft_fs_join(loc, "scripts/data-link");
  char *link2 = weft_fs_join(loc, "etc-link");
  int bad = !loc || !link1 || !link2 || put(loc, "ops/a.yaml", "a: {run: echo a}\n", 0644) ||
            put(loc, "jobs/j.yaml", "graph:\n  a: a\n", 0644) ||
            put(loc, "scripts/run.sh", "echo hi\n", 0755) ||
            put(loc, "data.txt", "42\n", 0644) || put(loc, ".git/HEAD", "x\n", 0644) ||
            put(loc, "scripts/__pycache__/m.pyc", "x\n", 0644) ||
            put(loc, "build/out.o", "x\n", 0644) || put(loc, "pkg.egg-info/PKG", "x\n", 0644) ||
            symlink("../data.txt", link1) || symlink("/etc", link2);
  free(link1);
  free(link2);
  free(root);
  if (bad) {
    free(loc);
    return NULL;
  }
  return loc;
}

static char *home_beside(const char *loc) {
  return weft_str_printf("%s/../home", loc);
}

/* Removes the scratch folder holding loc, and frees loc. */
static void cleanup(char *loc) {
  weft_error err = WEFT_ERROR_INIT;
  char *slash = loc ? strrchr(loc, '/') : NULL;
  if (slash) {
    *slash = '\0';
    weft_fs_remove_tree(loc, &err);
  }
  free(loc);
}

TEST(snapshot_holds_the_code_and_hashes_to_its_name) {
  char *loc = make_location(), *home = loc ? home_beside(loc) : NULL, *dir = NULL;
  char v[WEFT_CODE_VERSION_LEN + 1], again[WEFT_CODE_VERSION_LEN + 1];
  char live[WEFT_CODE_VERSION_LEN + 1];
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(loc && home);
  ASSERT_EQ(weft_fs_mkdirs(home, &err), WEFT_OK);
  ASSERT_EQ(weft_code_snapshot(home, loc, v, &dir, &err), WEFT_OK);
  ASSERT(weft_code_version_valid(v));
  ASSERT_EQ(weft_code_version(dir, NULL, again, &err), WEFT_OK);
  ASSERT_STR_EQ(again, v);
  ASSERT_EQ(weft_code_version(loc, NULL, live, &err), WEFT_OK);
  ASSERT_STR_EQ(live, v);
  char *want = weft_code_dir(home, v);
  ASSERT_STR_EQ(dir, want);
  ASSERT(exists(dir, "ops/a.yaml") && exists(dir, "jobs/j.yaml") && exists(dir, "data.txt"));
  ASSERT(exists(dir, "scripts/data-link"));
  ASSERT(!exists(dir, ".git") && !exists(dir, "build") && !exists(dir, "pkg.egg-info"));
  ASSERT(!exists(dir, "scripts/__pycache__") && !exists(dir, "etc-link"));
  char *sh = weft_fs_join(dir, "scripts/run.sh"), *txt = weft_fs_join(dir, "data.txt");
  struct stat st;
  ASSERT(sh && !stat(sh, &st) && (st.st_mode & 0777) == 0555);
  ASSERT(txt && !stat(txt, &st) && (st.st_mode & 0777) == 0444);
  free(sh);
  free(txt);
  free(want);
  free(dir);
  free(home);
  cleanup(loc);
  return 0;
}

TEST(what_is_not_code_does_not_change_the_version) {
  char *loc = make_location();
  char v1[WEFT_CODE_VERSION_LEN + 1], v2[WEFT_CODE_VERSION_LEN + 1];
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(loc);
  ASSERT_EQ(weft_code_version(loc, NULL, v1, &err), WEFT_OK);
  ASSERT_EQ(put(loc, "node_modules/x/i.js", "x\n", 0644), 0);
  ASSERT_EQ(put(loc, "dist/x.whl", "x\n", 0644), 0);
  ASSERT_EQ(put(loc, ".weft/weft.db", "x\n", 0644), 0);
  ASSERT_EQ(weft_code_version(loc, NULL, v2, &err), WEFT_OK);
  ASSERT_STR_EQ(v2, v1);
  /* An instance home inside the location is left out when named. */
  ASSERT_EQ(put(loc, "home/runs/x", "x\n", 0644), 0);
  char *home = weft_fs_join(loc, "home");
  ASSERT_EQ(weft_code_version(loc, home, v2, &err), WEFT_OK);
  ASSERT_STR_EQ(v2, v1);
  /* The execute bit is part of the version. */
  char *sh = weft_fs_join(loc, "scripts/run.sh");
  ASSERT(sh && !chmod(sh, 0644));
  ASSERT_EQ(weft_code_version(loc, home, v2, &err), WEFT_OK);
  ASSERT(strcmp(v2, v1));
  free(sh);
  free(home);
  cleanup(loc);
  return 0;
}

TEST(same_version_reuses_the_folder_a_change_makes_another) {
  char *loc = make_location(), *home = loc ? home_beside(loc) : NULL, *d1 = NULL, *d2 = NULL;
  char v1[WEFT_CODE_VERSION_LEN + 1], v2[WEFT_CODE_VERSION_LEN + 1];
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(loc && home);
  ASSERT_EQ(weft_code_snapshot(home, loc, v1, &d1, &err), WEFT_OK);
  char *marker = weft_fs_join(d1, "marker");
  ASSERT_EQ(put(d1, "marker", "", 0644), 0); /* not a new copy: still there after */
  ASSERT_EQ(weft_code_snapshot(home, loc, v2, &d2, &err), WEFT_OK);
  ASSERT_STR_EQ(v2, v1);
  ASSERT_STR_EQ(d2, d1);
  ASSERT(weft_fs_exists(marker));
  free(d2);
  ASSERT_EQ(put(loc, "data.txt", "43\n", 0644), 0);
  ASSERT_EQ(weft_code_snapshot(home, loc, v2, &d2, &err), WEFT_OK);
  ASSERT(strcmp(v2, v1));
  char *code = weft_fs_join(home, "code");
  char **names = NULL;
  ASSERT_EQ(weft_fs_list_dir(code, NULL, &names, &err), 2); /* two versions, no temp left */
  weft_fs_free_list(names);
  /* Reusing a version that is gone says so. */
  char *dir = NULL;
  ASSERT_EQ(weft_code_reuse(home, "0123456789abcdef", &dir, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "no longer kept");
  ASSERT_EQ(weft_code_reuse(home, "../../etc", &dir, &err), WEFT_EINVALID);
  free(code);
  free(marker);
  free(d1);
  free(d2);
  free(home);
  cleanup(loc);
  return 0;
}

TEST(racing_creators_share_one_complete_snapshot) {
  char *loc = make_location(), *home = loc ? home_beside(loc) : NULL;
  char v[WEFT_CODE_VERSION_LEN + 1];
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(loc && home);
  for (int i = 0; i < 50; i++) {
    char rel[32];
    snprintf(rel, sizeof rel, "scripts/f%02d.py", i);
    ASSERT_EQ(put(loc, rel, "print(1)\n", 0644), 0);
  }
  ASSERT_EQ(weft_code_version(loc, NULL, v, &err), WEFT_OK);
  pid_t kids[8];
  for (int k = 0; k < 8; k++) {
    if ((kids[k] = fork()) == 0) {
      char got[WEFT_CODE_VERSION_LEN + 1];
      char *dir = NULL;
      weft_error e = WEFT_ERROR_INIT;
      _exit(weft_code_snapshot(home, loc, got, &dir, &e) || strcmp(got, v) ? 1 : 0);
    }
  }
  for (int k = 0; k < 8; k++) {
    int st = 0;
    ASSERT(waitpid(kids[k], &st, 0) == kids[k]);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  char *code = weft_fs_join(home, "code"), *dir = weft_code_dir(home, v);
  char **names = NULL, again[WEFT_CODE_VERSION_LEN + 1];
  ASSERT_EQ(weft_fs_list_dir(code, NULL, &names, &err), 1);
  ASSERT_STR_EQ(names[0], v);
  ASSERT_EQ(weft_code_version(dir, NULL, again, &err), WEFT_OK);
  ASSERT_STR_EQ(again, v);
  weft_fs_free_list(names);
  free(dir);
  free(code);
  free(home);
  cleanup(loc);
  return 0;
}

TEST(valid_versions) {
  ASSERT(weft_code_version_valid("0123456789abcdef"));
  ASSERT(!weft_code_version_valid("0123456789ABCDEF"));
  ASSERT(!weft_code_version_valid("0123456789abcde"));
  ASSERT(!weft_code_version_valid("../0123456789abc"));
  ASSERT(!weft_code_version_valid(NULL));
  return 0;
}

TEST_MAIN(TEST_ENTRY(snapshot_holds_the_code_and_hashes_to_its_name)
          TEST_ENTRY(what_is_not_code_does_not_change_the_version)
          TEST_ENTRY(same_version_reuses_the_folder_a_change_makes_another)
          TEST_ENTRY(racing_creators_share_one_complete_snapshot)
          TEST_ENTRY(valid_versions))
