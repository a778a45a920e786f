/* test_engine_code_ship.c: code snapshots through the artifact store (engine/
 * code_ship.h): published once, fetched into a cache read-only and verified,
 * a tampered or hostile archive refused, fetchers racing for one version,
 * eviction of the least recently used versions nobody holds. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/code_ship.h"
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

/* A scratch folder: ROOT/loc (a location), ROOT/home, ROOT/store (an
 * artifact store), ROOT/cache. */
struct fx {
  char *root, *loc, *home, *store_dir, *cache;
  struct weft_artifacts *store;
};

static int fx_init(struct fx *f) {
  char tmpl[] = "/tmp/weft-ship-XXXXXX";
  weft_error err = WEFT_ERROR_INIT;
  memset(f, 0, sizeof *f);
  if (!mkdtemp(tmpl)) return -1;
  f->root = strdup(tmpl);
  f->loc = weft_fs_join(tmpl, "loc");
  f->home = weft_fs_join(tmpl, "home");
  f->store_dir = weft_fs_join(tmpl, "store");
  f->cache = weft_fs_join(tmpl, "cache");
  char *link = f->loc ? weft_fs_join(f->loc, "scripts/data-link") : NULL;
  int bad = !f->root || !f->loc || !f->home || !f->store_dir || !f->cache || !link ||
            put(f->loc, "ops/a.yaml", "a: {run: sh scripts/run.sh}\n", 0644) ||
            put(f->loc, "jobs/j.yaml", "ops:\n  a: a\n", 0644) ||
            put(f->loc, "scripts/run.sh", "echo hi\n", 0755) ||
            put(f->loc, "data.txt", "42\n", 0644) || symlink("../data.txt", link) ||
            weft_fs_mkdirs(f->home, &err) ||
            weft_artifacts_open(f->store_dir, &f->store, &err);
  free(link);
  if (bad) fprintf(stderr, "# fixture: %s\n", err.msg);
  return bad ? -1 : 0;
}

static void fx_release(struct fx *f) {
  weft_error err = WEFT_ERROR_INIT;
  weft_artifacts_close(f->store);
  if (f->root) weft_code_remove(f->root, &err);
  free(f->root);
  free(f->loc);
  free(f->home);
  free(f->store_dir);
  free(f->cache);
}

/* Snapshots f->loc and publishes it: its version in v. */
static int snapshot_and_publish(struct fx *f, char v[WEFT_CODE_VERSION_LEN + 1], int *uploaded) {
  char *dir = NULL, *tmp = weft_fs_join(f->home, "code");
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_code_snapshot(f->home, f->loc, v, &dir, &err);
  if (!rc) rc = weft_code_publish(f->store, dir, v, tmp, uploaded, &err);
  if (rc) fprintf(stderr, "# snapshot/publish: %s\n", err.msg);
  free(dir);
  free(tmp);
  return rc;
}

static int count_entries(const char *dir, const char *prefix) {
  char **names = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int n = weft_fs_list_dir(dir, NULL, &names, &err), got = 0;
  for (int i = 0; i < n; i++) got += !strncmp(names[i], prefix, strlen(prefix));
  weft_fs_free_list(names);
  return got;
}

TEST(published_once_fetched_read_only_and_verified) {
  struct fx f;
  char v[WEFT_CODE_VERSION_LEN + 1], again[WEFT_CODE_VERSION_LEN + 1];
  int uploaded = -1, fetched = -1;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(fx_init(&f), 0);
  ASSERT_EQ(snapshot_and_publish(&f, v, &uploaded), 0);
  ASSERT_EQ(uploaded, 1);
  ASSERT_EQ(snapshot_and_publish(&f, v, &uploaded), 0);
  ASSERT_EQ(uploaded, 0); /* the store has it: one head, no put */
  char *key = weft_code_archive_key(v);
  int exists = 0;
  int64_t size = 0;
  ASSERT_EQ(weft_artifacts_head(f.store, key, &exists, &size, &err), WEFT_OK);
  ASSERT(exists && size > 0);
  ASSERT_CONTAINS(key, "code/");

  struct weft_code_cache *c = NULL;
  const char *path = NULL, *path2 = NULL;
  ASSERT_EQ(weft_code_cache_open(f.cache, 0, &c, &err), WEFT_OK);
  ASSERT_EQ(weft_code_cache_acquire(c, f.store, v, &path, &fetched, &err), WEFT_OK);
  ASSERT_EQ(fetched, 1);
  char *want = weft_fs_join(f.cache, v);
  ASSERT_STR_EQ(path, want);
  ASSERT_EQ(weft_code_version(path, NULL, again, &err), WEFT_OK);
  ASSERT_STR_EQ(again, v);
  char *sh = weft_fs_join(path, "scripts/run.sh"), *txt = weft_fs_join(path, "data.txt");
  char *link = weft_fs_join(path, "scripts/data-link"), *scripts = weft_fs_join(path, "scripts");
  struct stat st;
  ASSERT(!stat(sh, &st) && (st.st_mode & 0777) == 0555);
  ASSERT(!stat(txt, &st) && (st.st_mode & 0777) == 0444);
  ASSERT(!lstat(link, &st) && S_ISLNK(st.st_mode));
  ASSERT(!stat(scripts, &st) && (st.st_mode & 0222) == 0); /* folders a-w too */
  ASSERT(!stat(path, &st) && (st.st_mode & 0222) == 0);
  /* The same version again: from the folder, nothing fetched. */
  ASSERT_EQ(weft_code_cache_acquire(c, f.store, v, &path2, &fetched, &err), WEFT_OK);
  ASSERT_EQ(fetched, 0);
  ASSERT_STR_EQ(path2, path);
  weft_code_cache_release(c, v);
  weft_code_cache_release(c, v);
  ASSERT_EQ(weft_code_cache_stats(c)->fetches, 1);
  ASSERT_EQ(weft_code_cache_stats(c)->hits, 1);
  /* Another process's cache on the same folder: a hit too. */
  struct weft_code_cache *c2 = NULL;
  ASSERT_EQ(weft_code_cache_open(f.cache, 0, &c2, &err), WEFT_OK);
  ASSERT_EQ(weft_code_cache_acquire(c2, f.store, v, &path2, &fetched, &err), WEFT_OK);
  ASSERT_EQ(fetched, 0);
  weft_code_cache_release(c2, v);
  weft_code_cache_close(c2);
  ASSERT_EQ(count_entries(f.cache, "tmp."), 0);
  weft_code_cache_close(c);
  free(sh);
  free(txt);
  free(link);
  free(scripts);
  free(want);
  free(key);
  fx_release(&f);
  return 0;
}

TEST(a_version_the_store_lacks_is_not_found) {
  struct fx f;
  struct weft_code_cache *c = NULL;
  const char *path = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(fx_init(&f), 0);
  ASSERT_EQ(weft_code_cache_open(f.cache, 0, &c, &err), WEFT_OK);
  ASSERT_EQ(weft_code_cache_acquire(c, f.store, "0123456789abcdef", &path, NULL, &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "code version 0123456789abcdef is not in the artifact store");
  ASSERT(!path);
  ASSERT_EQ(weft_code_cache_acquire(c, f.store, "../etc", &path, NULL, &err), WEFT_EINVALID);
  ASSERT_EQ(count_entries(f.cache, ""), 1); /* only the lock file of the version tried */
  weft_code_cache_close(c);
  fx_release(&f);
  return 0;
}

TEST(a_tampered_archive_fails_with_a_clear_message) {
  struct fx f;
  char v[WEFT_CODE_VERSION_LEN + 1];
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(fx_init(&f), 0);
  ASSERT_EQ(snapshot_and_publish(&f, v, NULL), 0);
  /* The same paths, one byte changed, stored under v's key. */
  char *evil = weft_fs_join(f.root, "evil"), *archive = weft_fs_join(f.root, "evil.tar.gz");
  char *key = weft_code_archive_key(v);
  ASSERT_EQ(put(evil, "ops/a.yaml", "a: {run: sh scripts/run.sh}\n", 0644), 0);
  ASSERT_EQ(put(evil, "jobs/j.yaml", "ops:\n  a: a\n", 0644), 0);
  ASSERT_EQ(put(evil, "scripts/run.sh", "rm -rf ~\n", 0755), 0);
  ASSERT_EQ(put(evil, "data.txt", "42\n", 0644), 0);
  ASSERT_EQ(weft_code_pack(evil, archive, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_put(f.store, key, archive, &err), WEFT_OK);
  struct weft_code_cache *c = NULL;
  const char *path = NULL;
  ASSERT_EQ(weft_code_cache_open(f.cache, 0, &c, &err), WEFT_OK);
  ASSERT_EQ(weft_code_cache_acquire(c, f.store, v, &path, NULL, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, v);
  ASSERT_CONTAINS(err.msg, "is unusable");
  ASSERT_CONTAINS(err.msg, "corrupt or tampered with");
  char *dir = weft_fs_join(f.cache, v);
  ASSERT(!weft_fs_exists(dir)); /* nothing half-made is left to use */
  ASSERT_EQ(count_entries(f.cache, "tmp."), 0);
  /* Bytes that are no archive at all. */
  ASSERT_EQ(put(f.root, "junk", "not a tar\n", 0644), 0);
  char *junk = weft_fs_join(f.root, "junk");
  ASSERT_EQ(weft_artifacts_put(f.store, key, junk, &err), WEFT_OK);
  ASSERT(weft_code_cache_acquire(c, f.store, v, &path, NULL, &err) != WEFT_OK);
  ASSERT_CONTAINS(err.msg, "is unusable");
  weft_code_cache_close(c);
  free(junk);
  free(dir);
  free(key);
  free(evil);
  free(archive);
  fx_release(&f);
  return 0;
}

/* Writes an archive of entries: "f:PATH" a file, "d:PATH" a folder,
 * "l:PATH>TARGET" a link, "h:PATH>TARGET" a hard link. */
static int write_archive(const char *path, const char *const *entries) {
  struct archive *a = archive_write_new();
  int rc = -1;
  if (archive_write_add_filter_gzip(a) || archive_write_set_format_pax_restricted(a) ||
      archive_write_open_filename(a, path))
    goto done;
  for (const char *const *p = entries; *p; p++) {
    struct archive_entry *e = archive_entry_new();
    char name[256];
    const char *gt = strchr(*p, '>');
    snprintf(name, sizeof name, "%.*s", gt ? (int)(gt - *p - 2) : (int)strlen(*p + 2), *p + 2);
    archive_entry_set_pathname(e, name);
    switch ((*p)[0]) {
    case 'f':
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, 2);
      break;
    case 'd':
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
      break;
    case 'l':
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, gt + 1);
      break;
    case 'h':
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, gt + 1);
      break;
    }
    int bad = archive_write_header(a, e) != ARCHIVE_OK ||
              ((*p)[0] == 'f' && archive_write_data(a, "x\n", 2) != 2);
    archive_entry_free(e);
    if (bad) goto done;
  }
  rc = archive_write_close(a) == ARCHIVE_OK ? 0 : -1;
done:
  archive_write_free(a);
  return rc;
}

TEST(hostile_entries_are_refused_by_name) {
  struct fx f;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(fx_init(&f), 0);
  static const struct {
    const char *entries[4];
    const char *says;
  } cases[] = {
      {{"f:../evil", NULL}, "entry '../evil' is a hidden name"},
      {{"f:/etc/evil", NULL}, "entry '/etc/evil' is an absolute path"},
      {{"f:.git/config", NULL}, "entry '.git/config' is a hidden name"},
      {{"f:build/x.sh", NULL}, "a folder snapshots leave out"},
      {{"l:out>/etc", NULL}, "entry 'out' is a link that points outside"},
      {{"l:up>../../x", NULL}, "points outside"},
      {{"f:ok", "h:hard>ok", NULL}, "entry 'hard' is a hard link"},
      {{"l:a>b", "f:a/x", NULL}, "entry 'a/x' lies under 'a', which is not a folder"},
      {{"f:a", "f:a", NULL}, "cannot create"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *archive = weft_str_printf("%s/bad%zu.tar.gz", f.root, i);
    char *dir = weft_str_printf("%s/out%zu", f.root, i);
    ASSERT(archive && dir);
    ASSERT_EQ(write_archive(archive, cases[i].entries), 0);
    ASSERT_EQ(weft_fs_mkdirs(dir, &err), WEFT_OK);
    ASSERT(weft_code_unpack(archive, dir, 0, &err) != WEFT_OK);
    ASSERT_CONTAINS(err.msg, cases[i].says);
    free(archive);
    free(dir);
  }
  /* Within bounds, the same writer's archive unpacks. */
  static const char *const fine[] = {"d:./", "d:sub", "f:sub/a", "l:sub/b>a", "f:./c", NULL};
  char *archive = weft_str_printf("%s/fine.tar.gz", f.root);
  char *dir = weft_str_printf("%s/fine", f.root);
  ASSERT_EQ(write_archive(archive, fine), 0);
  ASSERT_EQ(weft_fs_mkdirs(dir, &err), WEFT_OK);
  ASSERT_EQ(weft_code_unpack(archive, dir, 0, &err), WEFT_OK);
  ASSERT_EQ(count_entries(dir, ""), 2);
  /* A bound on the bytes unpacked. */
  char *dir2 = weft_str_printf("%s/small", f.root);
  ASSERT_EQ(weft_fs_mkdirs(dir2, &err), WEFT_OK);
  ASSERT_EQ(weft_code_unpack(archive, dir2, 3, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "more than");
  free(dir2);
  free(archive);
  free(dir);
  fx_release(&f);
  return 0;
}

TEST(racing_fetchers_end_with_one_complete_copy) {
  struct fx f;
  char v[WEFT_CODE_VERSION_LEN + 1];
  ASSERT_EQ(fx_init(&f), 0);
  for (int i = 0; i < 200; i++) { /* enough files that fetches overlap */
    char rel[32];
    snprintf(rel, sizeof rel, "scripts/f%03d.py", i);
    ASSERT_EQ(put(f.loc, rel, "print('a line of code')\n", 0644), 0);
  }
  ASSERT_EQ(snapshot_and_publish(&f, v, NULL), 0);
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  enum { KIDS = 6 };
  pid_t kids[KIDS];
  for (int k = 0; k < KIDS; k++) {
    if ((kids[k] = fork()) == 0) {
      struct weft_code_cache *c = NULL;
      struct weft_artifacts *a = NULL;
      const char *path = NULL;
      char buf, got[WEFT_CODE_VERSION_LEN + 1];
      int fetched = 0;
      weft_error e = WEFT_ERROR_INIT;
      close(go[1]);
      if (read(go[0], &buf, 1) != 0) _exit(3); /* all start when the pipe closes */
      if (weft_artifacts_open(f.store_dir, &a, &e) || weft_code_cache_open(f.cache, 0, &c, &e) ||
          weft_code_cache_acquire(c, a, v, &path, &fetched, &e) ||
          weft_code_version(path, NULL, got, &e) || strcmp(got, v)) {
        fprintf(stderr, "# child: %s\n", e.msg);
        _exit(2);
      }
      _exit(fetched ? 10 : 11);
    }
  }
  close(go[0]);
  close(go[1]);
  int fetchers = 0;
  for (int k = 0; k < KIDS; k++) {
    int st = 0;
    ASSERT(waitpid(kids[k], &st, 0) == kids[k]);
    ASSERT(WIFEXITED(st) && (WEXITSTATUS(st) == 10 || WEXITSTATUS(st) == 11));
    fetchers += WEXITSTATUS(st) == 10;
  }
  ASSERT_EQ(fetchers, 1);
  ASSERT_EQ(count_entries(f.cache, v), 2); /* VERSION and VERSION.lock */
  ASSERT_EQ(count_entries(f.cache, "tmp."), 0);
  fx_release(&f);
  return 0;
}

TEST(eviction_removes_the_least_recently_used_version_nobody_holds) {
  struct fx f;
  char v[3][WEFT_CODE_VERSION_LEN + 1];
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(fx_init(&f), 0);
  char big[4097];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  for (int i = 0; i < 3; i++) { /* three versions of about 4 KiB each */
    char text[32];
    snprintf(text, sizeof text, "version %d\n", i);
    ASSERT_EQ(put(f.loc, "which.txt", text, 0644), 0);
    ASSERT_EQ(put(f.loc, "big.txt", big, 0644), 0);
    ASSERT_EQ(snapshot_and_publish(&f, v[i], NULL), 0);
  }
  struct weft_code_cache *c = NULL;
  const char *path = NULL;
  char *dir[3];
  ASSERT_EQ(weft_code_cache_open(f.cache, 6000, &c, &err), WEFT_OK);
  for (int i = 0; i < 3; i++) ASSERT((dir[i] = weft_fs_join(f.cache, v[i])));
  /* v0 fetched and let go; v1 fetched and held: both stay, over the bound
   * (v1, just fetched, is never evicted by its own fetch). */
  ASSERT_EQ(weft_code_cache_acquire(c, f.store, v[0], &path, NULL, &err), WEFT_OK);
  weft_code_cache_release(c, v[0]);
  ASSERT_EQ(weft_code_cache_acquire(c, f.store, v[1], &path, NULL, &err), WEFT_OK);
  ASSERT(!weft_fs_exists(dir[0]) && weft_fs_exists(dir[1])); /* v0: LRU, not held */
  /* v2 while v1 is held: v1 stays (held), the cache stays over its bound. */
  ASSERT_EQ(weft_code_cache_acquire(c, f.store, v[2], &path, NULL, &err), WEFT_OK);
  ASSERT(weft_fs_exists(dir[1]) && weft_fs_exists(dir[2]));
  /* A holder in another process protects a version just the same. */
  struct weft_code_cache *other = NULL;
  ASSERT_EQ(weft_code_cache_open(f.cache, 6000, &other, &err), WEFT_OK);
  ASSERT_EQ(weft_code_cache_acquire(other, f.store, v[1], &path, NULL, &err), WEFT_OK);
  weft_code_cache_release(c, v[1]);
  uint64_t bytes = 0;
  ASSERT_EQ(weft_code_cache_trim(c, NULL, &bytes, &err), WEFT_OK);
  ASSERT(weft_fs_exists(dir[1]));
  weft_code_cache_release(other, v[1]);
  weft_code_cache_close(other);
  ASSERT_EQ(weft_code_cache_trim(c, NULL, &bytes, &err), WEFT_OK);
  ASSERT(!weft_fs_exists(dir[1]) && weft_fs_exists(dir[2])); /* v2 is held */
  ASSERT(bytes <= 6000);
  ASSERT_EQ(weft_code_cache_stats(c)->evictions, 2);
  /* An evicted version comes back on the next acquire. */
  weft_code_cache_release(c, v[2]);
  int fetched = 0;
  ASSERT_EQ(weft_code_cache_acquire(c, f.store, v[0], &path, &fetched, &err), WEFT_OK);
  ASSERT_EQ(fetched, 1);
  weft_code_cache_release(c, v[0]);
  weft_code_cache_close(c);
  for (int i = 0; i < 3; i++) free(dir[i]);
  fx_release(&f);
  return 0;
}

TEST(a_coordinator_restores_a_missing_snapshot_from_the_store) {
  struct fx f;
  char v[WEFT_CODE_VERSION_LEN + 1], again[WEFT_CODE_VERSION_LEN + 1];
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(fx_init(&f), 0);
  /* The instance's own store: HOME/weft.yaml names f.store_dir. */
  char *yaml = weft_str_printf("artifacts: {filesystem: {path: %s}}\n", f.store_dir);
  char *conf = weft_fs_join(f.home, "weft.yaml");
  ASSERT(yaml && conf);
  ASSERT_EQ(weft_fs_write_atomic(conf, yaml, strlen(yaml), 0, &err), WEFT_OK);
  ASSERT_EQ(snapshot_and_publish(&f, v, NULL), 0);
  char *dir = weft_code_dir(f.home, v), *got = NULL;
  ASSERT_EQ(weft_code_remove(dir, &err), WEFT_OK); /* made on another machine, say */
  ASSERT_EQ(weft_code_reuse(f.home, v, &got, &err), WEFT_OK);
  ASSERT_STR_EQ(got, dir);
  ASSERT_EQ(weft_code_version(dir, NULL, again, &err), WEFT_OK);
  ASSERT_STR_EQ(again, v);
  char *sh = weft_fs_join(dir, "scripts/run.sh");
  struct stat st;
  ASSERT(!stat(sh, &st) && (st.st_mode & 0777) == 0555);
  char *code = weft_fs_join(f.home, "code");
  ASSERT_EQ(count_entries(code, "tmp."), 0);
  free(got);
  /* Neither here nor in the store: said so. */
  ASSERT_EQ(weft_code_reuse(f.home, "0123456789abcdef", &got, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "no longer kept");
  ASSERT_CONTAINS(err.msg, "not in the artifact store either");
  free(code);
  free(sh);
  free(dir);
  free(conf);
  free(yaml);
  fx_release(&f);
  return 0;
}

TEST(a_launch_publishes_when_other_machines_may_need_the_code) {
  struct fx f;
  char v[WEFT_CODE_VERSION_LEN + 1];
  weft_error err = WEFT_ERROR_INIT;
  int exists = 1;
  int64_t size = 0;
  ASSERT_EQ(fx_init(&f), 0);
  char *conf = weft_fs_join(f.home, "weft.yaml"), *dir = NULL;
  /* One machine (a local store, no broker): nothing is published. */
  char *yaml = weft_str_printf("artifacts: {filesystem: {path: %s}}\n", f.store_dir);
  ASSERT(conf && yaml);
  ASSERT_EQ(weft_fs_write_atomic(conf, yaml, strlen(yaml), 0, &err), WEFT_OK);
  unsetenv("WEFT_BROKER_URL");
  ASSERT_EQ(weft_code_snapshot(f.home, f.loc, v, &dir, &err), WEFT_OK);
  char *key = weft_code_archive_key(v);
  char *mark = weft_str_printf("%s/code/%s.published", f.home, v);
  ASSERT_EQ(weft_artifacts_head(f.store, key, &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 0);
  ASSERT(!weft_fs_exists(mark));
  free(dir);
  free(yaml);
  /* With a broker, workers may run it elsewhere: the launch publishes. */
  yaml = weft_str_printf("artifacts: {filesystem: {path: %s}}\n"
                         "broker: {rabbitmq: {url: \"amqp://127.0.0.1:1/\"}}\n", f.store_dir);
  ASSERT_EQ(weft_fs_write_atomic(conf, yaml, strlen(yaml), 0, &err), WEFT_OK);
  ASSERT_EQ(weft_code_snapshot(f.home, f.loc, v, &dir, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_head(f.store, key, &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 1);
  ASSERT(weft_fs_exists(mark)); /* later launches only stat it */
  ASSERT_EQ(weft_artifacts_delete(f.store, key, &err), WEFT_OK);
  free(dir);
  ASSERT_EQ(weft_code_snapshot(f.home, f.loc, v, &dir, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_head(f.store, key, &exists, &size, &err), WEFT_OK);
  ASSERT_EQ(exists, 0);
  free(mark);
  free(key);
  free(dir);
  free(yaml);
  free(conf);
  fx_release(&f);
  return 0;
}

TEST_MAIN(TEST_ENTRY(published_once_fetched_read_only_and_verified)
          TEST_ENTRY(a_version_the_store_lacks_is_not_found)
          TEST_ENTRY(a_tampered_archive_fails_with_a_clear_message)
          TEST_ENTRY(hostile_entries_are_refused_by_name)
          TEST_ENTRY(racing_fetchers_end_with_one_complete_copy)
          TEST_ENTRY(eviction_removes_the_least_recently_used_version_nobody_holds)
          TEST_ENTRY(a_coordinator_restores_a_missing_snapshot_from_the_store)
          TEST_ENTRY(a_launch_publishes_when_other_machines_may_need_the_code))
