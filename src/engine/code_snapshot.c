/* code_snapshot.c: content-addressed copies of code locations under
 * $WEFT_HOME/code (code_snapshot.h): making one atomically, loading a job
 * from one, and collecting the ones no run needs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsl/python.h"
#include "engine/code_ship.h"
#include "engine/code_snapshot.h"
#include "engine/locreg.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

#define GC_PAGE 500
#define TMP_MIN_AGE_MS (10 * 60 * 1000) /* a copy older than this is a crash's */

char *weft_code_dir(const char *home, const char *version) {
  if (!weft_code_version_valid(version)) return NULL;
  return weft_str_printf("%s/code/%s", home, version);
}

/* Marks dir as just used (gc keeps it); 0 when it exists. */
static int touch(const char *dir) {
  return utimensat(AT_FDCWD, dir, NULL, 0);
}

/* Flushes the copy to disk before it gets its name: a crash must not leave
 * a VERSION folder with empty files that later runs would reuse. */
static int sync_tree(const char *dir, weft_error *err) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || syncfs(fd)) {
    int e = errno;
    if (fd >= 0) close(fd);
    return weft_error_set(err, WEFT_EIO, "cannot sync %s: %s", dir, strerror(e));
  }
  close(fd);
  return WEFT_OK;
}

int weft_code_snapshot(const char *home, const char *src,
                       char version[WEFT_CODE_VERSION_LEN + 1], char **dir, weft_error *err) {
  char *root = weft_fs_join(home, "code"), *tmp = NULL, *final = NULL;
  char copied[WEFT_CODE_VERSION_LEN + 1];
  int rc = WEFT_OK;
  *dir = NULL;
  if (!root) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  /* The common case: this version was snapshotted before. */
  if ((rc = weft_code_version(src, home, version, err))) goto done;
  if (!(final = weft_code_dir(home, version))) goto nomem;
  if (!touch(final)) goto found;
  /* The launch may come before anything opened the instance: its home is
   * made its owner's only, as weft_instance_open makes it. */
  if ((rc = weft_fs_mkdir_private(home, err)) || (rc = weft_fs_mkdirs(root, err))) goto done;
  if (!(tmp = weft_fs_join(root, "tmp.XXXXXX"))) goto nomem;
  if (!mkdtemp(tmp)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot create a folder in %s: %s", root,
                        strerror(errno));
    free(tmp);
    tmp = NULL;
    goto done;
  }
  /* The version is that of the bytes copied, which may differ from the
   * hash above if the folder changed in between. */
  if ((rc = weft_code_copy(src, home, tmp, copied, err))) goto done;
  if (chmod(tmp, 0755)) {
    rc = weft_error_set(err, WEFT_EIO, "chmod %s: %s", tmp, strerror(errno));
    goto done;
  }
  if ((rc = sync_tree(tmp, err))) goto done;
  memcpy(version, copied, sizeof copied);
  free(final);
  if (!(final = weft_code_dir(home, version))) goto nomem;
  if (rename(tmp, final)) {
    if (errno != EEXIST && errno != ENOTEMPTY) {
      rc = weft_error_set(err, WEFT_EIO, "cannot rename %s to %s: %s", tmp, final,
                          strerror(errno));
      goto done;
    }
    /* Another launch made the same snapshot first: use the winner's. */
    touch(final);
  } else {
    free(tmp);
    tmp = NULL;
  }
found:
  /* For workers and coordinators on other machines (code_ship.h). Best
   * effort: a store that is down fails the run's first step on a worker,
   * and the queue executor publishes again before that step is sent. */
  {
    weft_error ignored = WEFT_ERROR_INIT;
    weft_code_share(home, version, final, &ignored);
  }
  *dir = final;
  final = NULL;
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
done:
  if (tmp) {
    weft_error ignored = WEFT_ERROR_INIT;
    weft_fs_remove_tree(tmp, &ignored);
    free(tmp);
  }
  free(final);
  free(root);
  return rc;
}

const char *weft_code_memo_version(struct weft_code_memo *m, const char *home,
                                   const struct weft_location *loc) {
  if (!loc || !loc->path) return NULL;
  for (size_t i = 0; i < m->n; i++)
    if (m->v[i].loc == loc) return m->v[i].version;
  if (m->n == sizeof m->v / sizeof m->v[0]) return NULL;
  char *dir = NULL;
  weft_error ignored = WEFT_ERROR_INIT;
  if (weft_code_snapshot(home, loc->path, m->v[m->n].version, &dir, &ignored)) return NULL;
  free(dir);
  m->v[m->n].loc = loc;
  return m->v[m->n++].version;
}

int weft_code_reuse(const char *home, const char *version, char **dir, weft_error *err) {
  *dir = weft_code_dir(home, version);
  if (!*dir)
    return weft_error_set(err, weft_code_version_valid(version) ? WEFT_ENOMEM : WEFT_EINVALID,
                          "'%s' is not a code version", version ? version : "");
  if (!touch(*dir) && weft_fs_is_dir(*dir)) return WEFT_OK;
  /* Made on another machine, or removed since: the artifact store may
   * hold it (published for workers, code_ship.h). */
  weft_error e = WEFT_ERROR_INIT;
  int rc = weft_code_restore(home, version, &e);
  if (!rc && !touch(*dir)) return WEFT_OK;
  if (rc == WEFT_ENOTFOUND)
    rc = weft_error_set(err, WEFT_ENOTFOUND,
                        "the code of version %s is no longer kept (%s is gone, and %s)",
                        version, *dir, e.msg);
  else if (rc)
    rc = weft_error_set(err, rc, "the code of version %s is gone from %s: %s", version, *dir,
                        e.msg);
  else
    rc = weft_error_set(err, WEFT_ENOTFOUND, "the code of version %s is no longer kept (%s is gone)",
                        version, *dir);
  free(*dir);
  *dir = NULL;
  return rc;
}

/* ---- loading a job from a snapshot -------------------------------------------------- */

static int add_env(struct weft_kvs *env, size_t *cap, const char *key, const char *value) {
  if (env->n == *cap) {
    size_t n = *cap ? *cap * 2 : 8;
    struct weft_kv *v = realloc(env->v, n * sizeof *v);
    if (!v) return WEFT_ENOMEM;
    env->v = v;
    *cap = n;
  }
  struct weft_kv *kv = &env->v[env->n];
  kv->key = strdup(key);
  kv->value = strdup(value);
  if (!kv->key || !kv->value) {
    free(kv->key);
    free(kv->value);
    return WEFT_ENOMEM;
  }
  env->n++;
  return WEFT_OK;
}

/* The live location's settings onto the snapshot's location. */
static int copy_settings(const struct weft_location *from, const char *version,
                         struct weft_location *to) {
  size_t cap = 0;
  int rc = WEFT_OK;
  for (size_t i = 0; from && !rc && i < from->env.n; i++)
    rc = add_env(&to->env, &cap, from->env.v[i].key, from->env.v[i].value);
  if (!rc) rc = add_env(&to->env, &cap, "WEFT_CODE_DIR", to->path);
  if (!rc) rc = add_env(&to->env, &cap, "WEFT_CODE_VERSION", version);
  if (!rc && from && from->path) rc = add_env(&to->env, &cap, "WEFT_LOCATION_DIR", from->path);
  if (rc || !from) return rc;
  if ((from->python && !(to->python = strdup(from->python))) ||
      (from->image && !(to->image = strdup(from->image))))
    return WEFT_ENOMEM;
  if (from->workdir)
    to->workdir = from->workdir[0] == '/' || !from->path ? strdup(from->workdir)
                                                         : weft_fs_join(from->path, from->workdir);
  return from->workdir && !to->workdir ? WEFT_ENOMEM : WEFT_OK;
}

/* "job J in code version V has errors: FILE:LINE:COL: MSG" from the first
 * diagnostic in the job's file, else the first of the location. */
static int job_error(const struct weft_location *loc, const struct weft_job *job,
                     const char *version, weft_error *err) {
  const struct weft_diag *d = loc->diags.n ? &loc->diags.v[0] : NULL;
  for (size_t i = 0; i < loc->diags.n; i++)
    if (loc->diags.v[i].file && job->mark.file && !strcmp(loc->diags.v[i].file, job->mark.file)) {
      d = &loc->diags.v[i];
      break;
    }
  if (!d)
    return weft_error_set(err, WEFT_EINVALID, "job '%s' in code version %s has errors",
                          job->name, version);
  return weft_error_set(err, WEFT_EINVALID, "job '%s' in code version %s has errors: %s:%d:%d: %s",
                        job->name, version, d->file ? d->file : "?", d->line, d->col, d->msg);
}

static int load_snapshot(const char *home, const char *version, const char *name,
                         const struct weft_location *settings, int jobs_only,
                         struct weft_location **out, weft_error *err) {
  char *dir = NULL;
  *out = NULL;
  int rc = weft_code_reuse(home, version, &dir, err);
  const char *python = settings ? settings->python : NULL;
  /* .py files are described with the location's own Python, as at home. */
  if (!rc)
    rc = jobs_only ? weft_location_load_jobs(dir, name, python, out, err)
                   : weft_location_load_python(dir, name, python, out, err);
  if (!rc && copy_settings(settings, version, *out)) {
    weft_location_free(*out);
    *out = NULL;
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  free(dir);
  return rc;
}

int weft_code_load_location(const char *home, const char *version, const char *name,
                            const struct weft_location *settings,
                            struct weft_location **out, weft_error *err) {
  return load_snapshot(home, version, name, settings, 0, out, err);
}

int weft_code_load_job(const char *home, const char *version, const char *name,
                       const char *job_name, const struct weft_location *settings,
                       struct weft_location **loc_out, const struct weft_job **job_out,
                       weft_error *err) {
  struct weft_location *loc = NULL;
  *loc_out = NULL;
  *job_out = NULL;
  /* A run needs its job: the location's schedules and sensors stay unread. */
  int rc = load_snapshot(home, version, name, settings, 1, &loc, err);
  if (rc) return rc;
  const struct weft_job *job = weft_location_find_job(loc, job_name);
  if (!job) {
    rc = weft_error_set(err, WEFT_EINVALID, "code version %s of location '%s' has no job '%s'",
                        version, name, job_name);
    goto done;
  }
  if (!job->valid) {
    rc = job_error(loc, job, version, err);
    goto done;
  }
  *loc_out = loc;
  *job_out = job;
  loc = NULL;
done:
  weft_location_free(loc);
  return rc;
}

const char *weft_code_live_path(const struct weft_location *loc) {
  int snapshot = 0;
  for (size_t i = 0; i < loc->env.n; i++) {
    if (!strcmp(loc->env.v[i].key, "WEFT_LOCATION_DIR")) return loc->env.v[i].value;
    snapshot |= !strcmp(loc->env.v[i].key, "WEFT_CODE_DIR");
  }
  return snapshot ? NULL : loc->path;
}

/* The location folder run_id was launched from: its run_queued event's
 * location_path (caller frees), or NULL. */
static char *recorded_path(struct weft_store *s, const char *run_id) {
  struct weft_event_filter f = {.run_id = run_id, .limit = 1};
  struct weft_event_list l = {0};
  weft_error ignored = WEFT_ERROR_INIT;
  char *path = NULL;
  if (weft_store_event_read(s, &f, &l, &ignored)) return NULL;
  json_t *p = l.n && !strcmp(l.v[0].type, "run_queued") ? json_loads(l.v[0].payload, 0, NULL)
                                                         : NULL;
  const char *v = json_string_value(json_object_get(p, "location_path"));
  if (v) path = strdup(v);
  json_decref(p);
  weft_event_list_release(&l);
  return path;
}

int weft_code_load_run_job(struct weft_instance *inst, const struct weft_run_row *run,
                           int use_registry, struct weft_location **loc_out,
                           const struct weft_job **job_out, weft_error *err) {
  struct weft_locreg reg = {0};
  struct weft_location settings = {0};
  const struct weft_locreg_entry *e = NULL;
  char *path = NULL;
  int rc;
  *loc_out = NULL;
  *job_out = NULL;
  if (!run->code_version)
    return weft_error_set(err, WEFT_ENOTFOUND, "run %s has no code version", run->id);
  if (use_registry && (rc = weft_locreg_read(inst->store, &reg, err))) return rc;
  if (use_registry) e = weft_locreg_find(&reg, run->location ? run->location : "");
  if (e) { /* borrowed from reg, only read */
    settings = (struct weft_location){.name = e->name, .path = e->path, .env = e->env,
                                      .python = e->python, .image = e->image,
                                      .workdir = e->workdir};
  } else {
    settings.path = path = recorded_path(inst->store, run->id);
  }
  rc = weft_code_load_job(inst->home, run->code_version, run->location ? run->location : "",
                          run->job, settings.path ? &settings : NULL, loc_out, job_out, err);
  weft_locreg_release(&reg);
  free(path);
  return rc;
}

int weft_code_is_snapshot(const char *home, const char *version,
                          const struct weft_location *loc) {
  char *dir = weft_code_dir(home, version);
  /* A location loaded from that folder by its name (a coordinator
   * service's) says so without realpath's readlink of every component: a
   * thousand runs at once paid 15 us each. */
  if (dir && loc && loc->path && !strcmp(dir, loc->path)) {
    free(dir);
    return 1;
  }
  char *real = dir ? realpath(dir, NULL) : NULL;
  int same = real && loc && loc->path && !strcmp(real, loc->path);
  free(real);
  free(dir);
  return same;
}

/* ---- a run's code, for its coordinator ------------------------------------------------ */

/* code->in_run from l->in_run: by step name; a step l->job lacks runs. */
static void map_in_run(const struct weft_launch *l, const struct weft_job *job,
                       unsigned char *in_run) {
  for (size_t k = 0; k < job->n_ops; k++) {
    long i = weft_job_find_invocation(l->job, job->ops[k].name);
    in_run[k] = (unsigned char)(i < 0 || l->in_run[i]);
  }
}

int weft_run_code_prepare(struct weft_instance *inst, const char *run_id,
                          const struct weft_launch *l, struct weft_run_code *code,
                          const struct weft_launch **use, weft_error *err) {
  struct weft_run_row read = {0};
  const struct weft_run_row *row = l->row ? l->row : &read;
  struct weft_diags diags = WEFT_DIAGS_INIT;
  const struct weft_job *job = NULL;
  const struct weft_location *live = l->job->location;
  memset(code, 0, sizeof *code);
  *use = l;
  int rc = l->row ? WEFT_OK : weft_store_run_get(inst->store, run_id, &read, err);
  if (rc || row->status != WEFT_RUN_QUEUED || !row->code_version || !live ||
      weft_code_is_snapshot(inst->home, row->code_version, live))
    goto done; /* nothing to load (coord_init reports a run not queued) */
  if ((rc = weft_code_load_job(inst->home, row->code_version, live->name, l->job->name, live,
                               &code->loc, &job, err)))
    goto done;
  if ((rc = weft_run_config_from_row(job, row, &code->rc, &diags))) {
    const struct weft_diag *d = diags.n ? &diags.v[0] : NULL;
    rc = weft_error_set(err, rc == WEFT_ENOMEM ? rc : WEFT_EINVALID,
                        "the run config does not fit job '%s' in code version %s%s%s", job->name,
                        row->code_version, d ? ": " : "", d ? d->msg : "");
    goto done;
  }
  code->have_rc = 1;
  code->launch = *l;
  code->launch.job = job;
  code->launch.rc = &code->rc;
  if (l->in_run) {
    if (!(code->in_run = calloc(job->n_ops + 1, 1))) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    map_in_run(l, job, code->in_run);
    code->launch.in_run = code->in_run;
  }
  *use = &code->launch;
done:
  weft_diags_release(&diags);
  weft_run_row_release(&read);
  return rc;
}

void weft_run_code_release(struct weft_run_code *code) {
  if (code->have_rc) weft_run_config_release(&code->rc);
  free(code->in_run);
  weft_location_free(code->loc);
  memset(code, 0, sizeof *code);
}

/* ---- garbage -------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The code versions runs still need, sorted, in *out (NULL-terminated;
 * free with weft_fs_free_list). */
static int referenced_versions(struct weft_instance *inst, int include_final, char ***out,
                               size_t *n_out, weft_error *err) {
  size_t n = 0, cap = 64;
  char **v = calloc(cap + 1, sizeof *v);
  char *cursor = NULL;
  int rc = WEFT_OK;
  if (!v) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (;;) {
    struct weft_run_filter f = {.before_id = cursor, .limit = GC_PAGE};
    struct weft_run_list l = {0};
    if ((rc = weft_store_run_list(inst->store, &f, &l, err))) break;
    for (size_t i = 0; !rc && i < l.n; i++) {
      const struct weft_run_row *r = &l.v[i];
      if (!r->code_version || (include_final && weft_run_status_is_final(r->status))) continue;
      if (n == cap) {
        char **nv = realloc(v, (cap * 2 + 1) * sizeof *nv);
        if (!nv) {
          rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
          break;
        }
        v = nv;
        cap *= 2;
      }
      if (!(v[n] = strdup(r->code_version))) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      else v[++n] = NULL;
    }
    free(cursor);
    cursor = l.n == GC_PAGE ? strdup(l.v[l.n - 1].id) : NULL;
    int more = l.n == GC_PAGE;
    weft_run_list_release(&l);
    if (rc || !more) break;
    if (!cursor) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
  }
  free(cursor);
  v[n] = NULL;
  if (rc) {
    weft_fs_free_list(v);
    return rc;
  }
  qsort(v, n, sizeof *v, cmp_str);
  *out = v;
  *n_out = n;
  return WEFT_OK;
}

static int used_since(const char *path, int64_t since_ms) {
  struct stat st;
  if (lstat(path, &st)) return 0;
  int64_t m = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
  return m >= since_ms;
}

/* Removes one unreferenced snapshot unless it was used since since_ms:
 * renamed away first, so no launch can start reusing it, then checked
 * again (a launch touches a snapshot before recording its run). Returns 1
 * when removed. */
static int collect_one(const char *root, const char *name, int64_t since_ms, int dry_run,
                       uint64_t *bytes, weft_error *err) {
  char *path = weft_fs_join(root, name);
  char *grave = weft_str_printf("%s/tmp.gc-%s", root, name);
  int removed = 0;
  if (!path || !grave) {
    weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (used_since(path, since_ms)) goto done;
  if (dry_run) {
    *bytes += weft_fs_tree_bytes(path);
    removed = 1;
    goto done;
  }
  if (rename(path, grave)) goto done; /* gone already, or cannot: leave it */
  if (used_since(grave, since_ms)) {
    if (rename(grave, path)) weft_fs_remove_tree(grave, err); /* made anew meanwhile */
    goto done;
  }
  *bytes += weft_fs_tree_bytes(grave);
  removed = !weft_fs_remove_tree(grave, err);
done:
  free(grave);
  free(path);
  return removed;
}

int weft_code_gc(struct weft_instance *inst, int64_t min_age_ms, int include_final,
                 int dry_run, void (*on_remove)(void *data, const char *version),
                 void *data, struct weft_code_gc_stats *stats, weft_error *err) {
  char *root = weft_fs_join(inst->home, "code");
  char **names = NULL, **refs = NULL;
  size_t n_refs = 0;
  int64_t now = weft_clock_wall_ms();
  int rc = WEFT_OK;
  memset(stats, 0, sizeof *stats);
  if (!root) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int n = weft_fs_list_dir(root, NULL, &names, err);
  if (n == WEFT_ENOTFOUND) { /* no snapshot ever made */
    *err = (weft_error)WEFT_ERROR_INIT;
    goto done;
  }
  if (n < 0) {
    rc = n;
    goto done;
  }
  /* The runs are listed after the folder: a snapshot made since is not
   * in names; one a launch reused since was touched (collect_one). */
  if ((rc = referenced_versions(inst, include_final, &refs, &n_refs, err))) goto done;
  for (int i = 0; !rc && i < n; i++) {
    const char *name = names[i];
    weft_error e = WEFT_ERROR_INIT;
    if (!strncmp(name, "tmp.", 4)) {
      int64_t age = min_age_ms > TMP_MIN_AGE_MS ? min_age_ms : TMP_MIN_AGE_MS;
      char *path = weft_fs_join(root, name);
      if (path && !used_since(path, now - age) && !dry_run) weft_fs_remove_tree(path, &e);
      free(path);
      continue;
    }
    if (!weft_code_version_valid(name)) continue; /* not ours */
    if (bsearch(&name, refs, n_refs, sizeof *refs, cmp_str)) {
      stats->kept++;
      continue;
    }
    if (collect_one(root, name, now - min_age_ms, dry_run, &stats->bytes_removed, &e)) {
      stats->removed++;
      /* Its archive for workers (code_ship.h) goes with it: no run can
       * execute this version any more. Best effort: a store that is down
       * keeps an archive, which is only wasted space. */
      char *key = dry_run ? NULL : weft_code_archive_key(name);
      weft_error ignored = WEFT_ERROR_INIT;
      if (key && inst->artifacts) weft_artifacts_delete(inst->artifacts, key, &ignored);
      if (!dry_run) weft__code_forget_published(inst->home, name);
      free(key);
      if (on_remove) on_remove(data, name);
    } else if (e.code == WEFT_ENOMEM) {
      rc = weft_error_set(err, e.code, "%s", e.msg);
    } else {
      stats->kept++;
    }
  }
done:
  weft_fs_free_list(refs);
  weft_fs_free_list(names);
  free(root);
  return rc;
}
