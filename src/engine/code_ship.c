/* code_ship.c: a code snapshot as an archive in the artifact store
 * (code_ship.h): packing and publishing it, unpacking and verifying it. The
 * archive is a gzip'd tar through libarchive; the unpacking writes files
 * itself, so nothing in an archive can reach outside its folder. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "engine/code_ship.h"
#include "util/fs.h"
#include "util/str.h"

#define CHUNK (64 * 1024)

char *weft_code_archive_key(const char *version) {
  if (!weft_code_version_valid(version)) return NULL;
  return weft_str_printf("code/%s.tar.gz", version);
}

/* ---- packing ------------------------------------------------------------------ */

struct pack {
  struct archive *a;
  const char *root, *archive;
  unsigned char *buf;
};

static int pack_error(struct pack *p, const char *what, weft_error *err) {
  return weft_error_set(err, WEFT_EIO, "cannot pack %s into %s: %s: %s", p->root, p->archive,
                        what, archive_error_string(p->a) ? archive_error_string(p->a) : "?");
}

static int pack_file(struct pack *p, const char *full, const char *rel, const struct stat *st,
                     struct archive_entry *e, weft_error *err) {
  int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = WEFT_OK;
  if (fd < 0) return weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, st->st_mode & 0111 ? 0555 : 0444);
  archive_entry_set_size(e, st->st_size);
  if (archive_write_header(p->a, e) != ARCHIVE_OK) {
    rc = pack_error(p, rel, err);
    goto done;
  }
  int64_t left = st->st_size; /* a file that grew meanwhile is cut at its size */
  while (left > 0) {
    ssize_t n = read(fd, p->buf, left < CHUNK ? (size_t)left : CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      rc = weft_error_set(err, WEFT_EIO, "%s: %s", full, n ? strerror(errno) : "shrank");
      break;
    }
    if (archive_write_data(p->a, p->buf, (size_t)n) != n) {
      rc = pack_error(p, rel, err);
      break;
    }
    left -= n;
  }
done:
  close(fd);
  return rc;
}

/* Adds root/rel's entries, sorted (weft_fs_list_dir leaves out hidden
 * names, which no snapshot holds anyway). */
static int pack_dir(struct pack *p, const char *rel, weft_error *err) {
  char *dir = *rel ? weft_fs_join(p->root, rel) : weft_str_dup(p->root);
  char **names = NULL;
  int rc = WEFT_OK;
  if (!dir) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int n = weft_fs_list_dir(dir, NULL, &names, err);
  if (n < 0) {
    rc = n;
    goto done;
  }
  for (int i = 0; !rc && i < n; i++) {
    char *r = *rel ? weft_fs_join(rel, names[i]) : weft_str_dup(names[i]);
    char *full = r ? weft_fs_join(p->root, r) : NULL;
    struct archive_entry *e = archive_entry_new();
    struct stat st;
    char target[4096];
    if (!r || !full || !e) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    } else if (lstat(full, &st)) {
      rc = weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
    } else {
      archive_entry_set_pathname(e, r);
      archive_entry_set_mtime(e, 0, 0); /* the same snapshot packs the same */
      if (S_ISDIR(st.st_mode)) {
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0755);
        if (archive_write_header(p->a, e) != ARCHIVE_OK) rc = pack_error(p, r, err);
        else rc = pack_dir(p, r, err);
      } else if (S_ISLNK(st.st_mode)) {
        ssize_t len = readlink(full, target, sizeof target - 1);
        if (len < 0) {
          rc = weft_error_set(err, WEFT_EIO, "%s: %s", full, strerror(errno));
        } else {
          target[len] = '\0';
          archive_entry_set_filetype(e, AE_IFLNK);
          archive_entry_set_perm(e, 0777);
          archive_entry_set_symlink(e, target);
          if (archive_write_header(p->a, e) != ARCHIVE_OK) rc = pack_error(p, r, err);
        }
      } else if (S_ISREG(st.st_mode)) {
        rc = pack_file(p, full, r, &st, e, err);
      }
    }
    archive_entry_free(e);
    free(full);
    free(r);
  }
done:
  weft_fs_free_list(names);
  free(dir);
  return rc;
}

int weft_code_pack(const char *dir, const char *archive, weft_error *err) {
  struct pack p = {.root = dir, .archive = archive};
  int rc = WEFT_OK;
  p.a = archive_write_new();
  p.buf = malloc(CHUNK);
  if (!p.a || !p.buf) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (archive_write_add_filter_gzip(p.a) != ARCHIVE_OK ||
      archive_write_set_format_pax_restricted(p.a) != ARCHIVE_OK ||
      archive_write_open_filename(p.a, archive) != ARCHIVE_OK) {
    rc = pack_error(&p, "open", err);
    goto done;
  }
  rc = pack_dir(&p, "", err);
  if (archive_write_close(p.a) != ARCHIVE_OK && !rc) rc = pack_error(&p, "close", err);
done:
  if (p.a) archive_write_free(p.a);
  free(p.buf);
  return rc;
}

/* ---- unpacking ---------------------------------------------------------------- */

/* The folders weft_code_version leaves out (code_version.h): an archive
 * holding one did not come from a snapshot, and its contents would escape
 * the hash that verifies it. */
static int skipped_dir_name(const char *name, size_t n) {
  static const char *const names[] = {"node_modules", "build", "dist", "venv", "__pycache__"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (strlen(names[i]) == n && !memcmp(name, names[i], n)) return 1;
  return n > 9 && !memcmp(name + n - 9, ".egg-info", 9);
}

/* NULL when rel is a path a snapshot can hold (as a folder when is_dir),
 * else why not. */
static const char *bad_path(const char *rel, int is_dir) {
  if (!*rel) return "an empty path";
  if (rel[0] == '/') return "an absolute path";
  for (const char *s = rel; *s;) {
    const char *end = strchr(s, '/');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    if (!len) return "an empty path segment";
    if (s[0] == '.') return "a hidden name, '.' or '..'";
    for (size_t i = 0; i < len; i++)
      if ((unsigned char)s[i] < 0x20) return "a control character";
    int last = !end || !end[1];
    if ((!last || is_dir) && skipped_dir_name(s, len)) return "a folder snapshots leave out";
    if (!end) break;
    s = end + 1;
  }
  return NULL;
}

/* Makes the folders above root/rel, refusing to go through anything but a
 * folder (a link an earlier entry made, say). */
static int make_parents(const char *root, const char *rel, weft_error *err) {
  char *path = weft_fs_join(root, rel);
  int rc = WEFT_OK;
  if (!path) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
    struct stat st;
    *s = '\0';
    if (!lstat(path, &st)) {
      if (!S_ISDIR(st.st_mode))
        rc = weft_error_set(err, WEFT_EINVALID, "entry '%s' lies under '%s', which is not a folder",
                            rel, path + strlen(root) + 1);
    } else if (errno != ENOENT || mkdir(path, 0755)) {
      rc = weft_error_set(err, WEFT_EIO, "cannot create %s: %s", path, strerror(errno));
    }
    *s = '/';
    if (rc) break;
  }
  free(path);
  return rc;
}

static int unpack_file(struct archive *a, const char *path, int exec, uint64_t *bytes,
                       uint64_t max_bytes, weft_error *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, exec ? 0555 : 0444);
  int rc = WEFT_OK;
  if (fd < 0) return weft_error_set(err, WEFT_EIO, "cannot create %s: %s", path, strerror(errno));
  for (;;) {
    const void *block;
    size_t size;
    la_int64_t offset;
    int r = archive_read_data_block(a, &block, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) {
      rc = weft_error_set(err, WEFT_EINVALID, "a damaged archive: %s", archive_error_string(a));
      break;
    }
    *bytes += size;
    if (max_bytes && *bytes > max_bytes) {
      rc = weft_error_set(err, WEFT_EINVALID, "it holds more than the cache's %llu bytes",
                          (unsigned long long)max_bytes);
      break;
    }
    if (pwrite(fd, block, size, offset) != (ssize_t)size) {
      rc = weft_error_set(err, WEFT_EIO, "cannot write %s: %s", path, strerror(errno));
      break;
    }
  }
  if (close(fd) && !rc) rc = weft_error_set(err, WEFT_EIO, "cannot write %s: %s", path, strerror(errno));
  return rc;
}

/* One entry of the archive into root. */
static int unpack_entry(struct archive *a, struct archive_entry *e, const char *root,
                        uint64_t *bytes, uint64_t max_bytes, weft_error *err) {
  const char *rel = archive_entry_pathname(e);
  mode_t type = archive_entry_filetype(e);
  char *name = NULL, *path = NULL;
  int rc = WEFT_OK;
  if (!rel) return weft_error_set(err, WEFT_EINVALID, "an entry without a name");
  if (!strncmp(rel, "./", 2)) rel += 2; /* a `tar -C DIR .` archive */
  if (!(name = weft_str_dup(rel))) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  size_t n = strlen(name);
  while (n > 1 && name[n - 1] == '/') name[--n] = '\0'; /* a folder's trailing '/' */
  if (type == AE_IFDIR && (!strcmp(name, ".") || !strcmp(name, "./") || !*name))
    goto done; /* the root itself, as `tar -C DIR .` records it */
  const char *why = bad_path(name, type == AE_IFDIR);
  if (!why && archive_entry_hardlink(e)) why = "a hard link";
  if (!why && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
    why = "neither a file, a folder nor a link";
  if (!why && type == AE_IFLNK &&
      (!archive_entry_symlink(e) || !weft_code_link_inside(name, archive_entry_symlink(e))))
    why = "a link that points outside";
  if (why) {
    rc = weft_error_set(err, WEFT_EINVALID, "entry '%s' is %s", name, why);
    goto done;
  }
  if ((rc = make_parents(root, name, err))) goto done;
  if (!(path = weft_fs_join(root, name))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (type == AE_IFDIR) {
    struct stat st;
    if (mkdir(path, 0755) && (errno != EEXIST || lstat(path, &st) || !S_ISDIR(st.st_mode)))
      rc = weft_error_set(err, WEFT_EIO, "cannot create %s: %s", path, strerror(errno));
  } else if (type == AE_IFLNK) {
    if (symlink(archive_entry_symlink(e), path))
      rc = weft_error_set(err, WEFT_EIO, "cannot create %s: %s", path, strerror(errno));
  } else {
    rc = unpack_file(a, path, archive_entry_perm(e) & 0111, bytes, max_bytes, err);
  }
done:
  free(path);
  free(name);
  return rc;
}

int weft_code_unpack(const char *archive, const char *dir, uint64_t max_bytes,
                     weft_error *err) {
  struct archive *a = archive_read_new();
  struct archive_entry *e;
  uint64_t bytes = 0;
  int rc = WEFT_OK, r;
  if (!a) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, archive, CHUNK) != ARCHIVE_OK) {
    rc = weft_error_set(err, WEFT_EINVALID, "%s is not a gzip'd tar: %s", archive,
                        archive_error_string(a));
    goto done;
  }
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
    if ((rc = unpack_entry(a, e, dir, &bytes, max_bytes, err))) goto done;
  if (r != ARCHIVE_EOF)
    rc = weft_error_set(err, WEFT_EINVALID, "%s is damaged: %s", archive, archive_error_string(a));
done:
  archive_read_free(a);
  return rc;
}

int weft_code_verify(const char *dir, const char *version, weft_error *err) {
  char got[WEFT_CODE_VERSION_LEN + 1];
  int rc = weft_code_version(dir, NULL, got, err);
  if (rc) return rc;
  if (strcmp(got, version))
    return weft_error_set(err, WEFT_EINVALID,
                          "its files are code version %s, not %s (corrupt or tampered with)",
                          got, version);
  return WEFT_OK;
}

/* nftw offers no data pointer: one callback per mode, so that threads
 * (a server's requests) may seal and remove at once. */
static int chmod_dir(const char *path, const struct stat *st, int flag, mode_t mode) {
  if (flag == FTW_D && S_ISDIR(st->st_mode) && chmod(path, mode)) return errno;
  return 0;
}

static int seal_dir(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)ftw;
  return chmod_dir(path, st, flag, 0555);
}

static int open_dir(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)ftw;
  return chmod_dir(path, st, flag, 0755);
}

int weft_code_seal(const char *dir, weft_error *err) {
  int e = nftw(dir, seal_dir, 16, FTW_PHYS);
  if (e) return weft_error_set(err, WEFT_EIO, "cannot make %s read-only: %s", dir,
                               strerror(e > 0 ? e : errno));
  return WEFT_OK;
}

int weft_code_remove(const char *dir, weft_error *err) {
  struct stat st;
  if (lstat(dir, &st) && errno == ENOENT) return WEFT_OK;
  nftw(dir, open_dir, 16, FTW_PHYS); /* folders first: nftw visits them before their contents */
  return weft_fs_remove_tree(dir, err);
}

/* ---- publishing --------------------------------------------------------------- */

int weft_code_publish(struct weft_artifacts *a, const char *dir, const char *version,
                      const char *tmp_dir, int *uploaded, weft_error *err) {
  char *key = weft_code_archive_key(version), *tmp = NULL;
  int exists = 0, fd = -1, rc;
  int64_t size = 0;
  if (uploaded) *uploaded = 0;
  if (!key) return weft_error_set(err, WEFT_EINVALID, "'%s' is not a code version", version);
  if ((rc = weft_artifacts_head(a, key, &exists, &size, err)) || exists) goto done;
  if (!(tmp = weft_str_printf("%s/tmp.pub-%s-XXXXXX", tmp_dir, version))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((fd = mkstemp(tmp)) < 0) {
    rc = weft_error_set(err, WEFT_EIO, "cannot create a file in %s: %s", tmp_dir, strerror(errno));
    free(tmp);
    tmp = NULL;
    goto done;
  }
  close(fd);
  if ((rc = weft_code_pack(dir, tmp, err))) goto done;
  if ((rc = weft_artifacts_put(a, key, tmp, err))) goto done;
  if (uploaded) *uploaded = 1;
done:
  if (tmp) unlink(tmp);
  free(tmp);
  free(key);
  return rc;
}

/* ---- a coordinator's snapshots and the store --------------------------------------- */

static char *published_mark(const char *home, const char *version) {
  return weft_str_printf("%s/code/%s.published", home, version);
}

static void mark_published(const char *home, const char *version) {
  char *mark = published_mark(home, version);
  int fd = mark ? open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
  if (fd >= 0) close(fd);
  free(mark);
}

int weft_code_share(const char *home, const char *version, const char *dir, weft_error *err) {
  struct weft_instance_config cfg = {0};
  struct weft_artifacts *a = NULL;
  char *mark = published_mark(home, version), *tmp_dir = weft_fs_join(home, "code");
  int rc = WEFT_OK;
  if (!mark || !tmp_dir) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (weft_fs_exists(mark)) goto done;
  if ((rc = weft_instance_config_load(home, &cfg, err))) goto done;
  const char *env_broker = getenv("WEFT_BROKER_URL");
  if (!cfg.broker_url && !(env_broker && *env_broker) && !strncmp(cfg.artifacts_url, "file:", 5))
    goto done; /* one machine: nobody else needs it */
  if ((rc = weft_artifacts_open(cfg.artifacts_url, &a, err)) ||
      (rc = weft_code_publish(a, dir, version, tmp_dir, NULL, err)))
    goto done;
  mark_published(home, version);
done:
  weft_artifacts_close(a);
  weft_instance_config_release(&cfg);
  free(tmp_dir);
  free(mark);
  return rc;
}

void weft__code_forget_published(const char *home, const char *version) {
  char *mark = published_mark(home, version);
  if (mark) unlink(mark);
  free(mark);
}

int weft_code_restore(const char *home, const char *version, weft_error *err) {
  struct weft_instance_config cfg = {0};
  struct weft_artifacts *a = NULL;
  char *key = weft_code_archive_key(version), *root = weft_fs_join(home, "code");
  char *tmp = root ? weft_str_printf("%s/tmp.XXXXXX", root) : NULL, *archive = NULL;
  char *final = root ? weft_fs_join(root, version) : NULL;
  weft_error e = WEFT_ERROR_INIT;
  int rc = WEFT_OK, made = 0;
  if (!key || !root || !tmp || !final) {
    rc = weft_error_set(err, key || !weft_code_version_valid(version) ? WEFT_ENOMEM : WEFT_EINVALID,
                        "cannot restore code version %s: out of memory or not a version",
                        version);
    goto done;
  }
  if ((rc = weft_instance_config_load(home, &cfg, err)) ||
      (rc = weft_artifacts_open(cfg.artifacts_url, &a, err)) ||
      (rc = weft_fs_mkdirs(root, err)))
    goto done;
  if (!mkdtemp(tmp)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot create a folder in %s: %s", root, strerror(errno));
    goto done;
  }
  made = 1;
  if (!(archive = weft_str_printf("%s.tar.gz", tmp))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = weft_artifacts_get(a, key, archive, &e))) {
    rc = weft_error_set(err, rc, rc == WEFT_ENOTFOUND
                                     ? "code version %s is not in the artifact store either (%s)"
                                     : "cannot fetch code version %s (%s): %s",
                        version, key, e.msg);
    goto done;
  }
  if ((rc = weft_code_unpack(archive, tmp, 0, &e)) || (rc = weft_code_verify(tmp, version, &e))) {
    rc = weft_error_set(err, rc, "code version %s from the artifact store (%s) is unusable: %s",
                        version, key, e.msg);
    goto done;
  }
  /* As weft_code_snapshot leaves a snapshot: read-only files in folders
   * gc can remove. */
  if (rename(tmp, final) && errno != EEXIST && errno != ENOTEMPTY) {
    rc = weft_error_set(err, WEFT_EIO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
    goto done;
  }
  made = !weft_fs_is_dir(tmp) ? 0 : 1; /* renamed, or another restore won */
  mark_published(home, version);
done:
  if (archive) unlink(archive);
  if (made) weft_code_remove(tmp, &e);
  weft_artifacts_close(a);
  weft_instance_config_release(&cfg);
  free(archive);
  free(final);
  free(tmp);
  free(root);
  free(key);
  return rc;
}
