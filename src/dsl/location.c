/* location.c: loads a code location (ops/ and jobs/ YAML files) from a folder
 * or from in-memory texts, validates it, and reports every error at once. */

/* Order of work: parse all ops, settle op names, then parse and check each job.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"
#include "dsl/python.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/str.h"

struct loader {
  struct weft_location *loc;
  struct weft__dsl_op *ops; /* parsed, before de-duplication */
  size_t n_ops;
  int *bad; /* parallel to loc->ops once settled */
  struct weft_map ops_by_name;
  size_t jobs_cap;
};

static int intern_file(struct weft_location *loc, const char *file,
                       const char **out) {
  char **files = realloc(loc->files, (loc->n_files + 1) * sizeof *files);
  if (!files) return WEFT_ENOMEM;
  loc->files = files;
  if (!(files[loc->n_files] = strdup(file))) return WEFT_ENOMEM;
  *out = files[loc->n_files++];
  return WEFT_OK;
}

/* Line k + 1 of a described .py file's JSON text comes from .py line
 * lines[k] (python.h): every mark of the tree is moved there. */
struct line_map {
  const int *lines;
  size_t n;
};

static void remap(struct weft__ynode *n, const struct line_map *map) {
  if (!n || !map) return;
  if (n->mark.line > 0 && (size_t)n->mark.line <= map->n) {
    n->mark.line = map->lines[n->mark.line - 1];
    n->mark.col = 1;
  }
  if (n->kind == WEFT__Y_SEQ)
    for (size_t i = 0; i < n->u.seq.n; i++) remap(n->u.seq.items[i], map);
  else if (n->kind == WEFT__Y_MAP)
    for (size_t i = 0; i < n->u.map.n; i++) {
      remap(n->u.map.pairs[i].key, map);
      remap(n->u.map.pairs[i].value, map);
    }
}

static int parse_text(struct weft__ydoc *doc, const char *file, const char *text, size_t len,
                      const struct line_map *map, struct weft__ynode **root,
                      struct weft_diags *diags) {
  int rc = weft__yaml_parse(doc, file, text, len, root, diags);
  if (!rc) remap(*root, map);
  return rc;
}

static int parse_ops_source(struct loader *l, const char *file,
                            const char *text, size_t len, const struct line_map *map) {
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft__ynode *root = NULL;
  int rc = parse_text(&doc, file, text, len, map, &root, &l->loc->diags);
  if (rc == WEFT_EINVALID)
    rc = WEFT_OK; /* reported; the file defines nothing */
  else if (!rc)
    rc = weft__dsl_parse_ops_file(&l->loc->diags, file, root, &l->ops,
                                  &l->n_ops);
  weft__ydoc_release(&doc);
  return rc;
}

/* Sort key: name, then parse order, so the first definition of a duplicate
 * name is kept whatever the sort does. */
static int cmp_ops(const void *a, const void *b) {
  const struct weft__dsl_op *x = a, *y = b;
  int c = strcmp(x->def.name, y->def.name);
  if (c) return c;
  if (x->def.mark.file != y->def.mark.file) {
    c = strcmp(x->def.mark.file, y->def.mark.file);
    if (c) return c;
  }
  if (x->def.mark.line != y->def.mark.line)
    return x->def.mark.line < y->def.mark.line ? -1 : 1;
  return x->def.mark.col < y->def.mark.col ? -1
                                           : x->def.mark.col > y->def.mark.col;
}

static int settle_ops(struct loader *l) {
  struct weft_location *loc = l->loc;
  if (l->n_ops) qsort(l->ops, l->n_ops, sizeof *l->ops, cmp_ops);
  loc->ops = calloc(l->n_ops ? l->n_ops : 1, sizeof *loc->ops);
  l->bad = calloc(l->n_ops ? l->n_ops : 1, sizeof *l->bad);
  if (!loc->ops || !l->bad) return WEFT_ENOMEM;
  for (size_t i = 0; i < l->n_ops; i++) {
    struct weft__dsl_op *op = &l->ops[i];
    if (loc->n_ops && !strcmp(loc->ops[loc->n_ops - 1].name, op->def.name)) {
      const struct weft_mark *m = &loc->ops[loc->n_ops - 1].mark;
      weft__dsl_error(&loc->diags, op->def.mark,
                      "duplicate op '%s' (first defined at %s:%d:%d)",
                      op->def.name, m->file, m->line, m->col);
      weft__op_def_release(&op->def);
      continue;
    }
    l->bad[loc->n_ops] = op->bad;
    loc->ops[loc->n_ops++] = op->def;
  }
  free(l->ops);
  l->ops = NULL;
  l->n_ops = 0;
  if (weft_map_reserve(&l->ops_by_name, loc->n_ops)) return WEFT_ENOMEM;
  for (size_t i = 0; i < loc->n_ops; i++)
    if (weft_map_put(&l->ops_by_name, loc->ops[i].name,
                     (void *)(uintptr_t)(i + 1)) == WEFT_ENOMEM)
      return WEFT_ENOMEM;
  return WEFT_OK;
}

static int load_job_source(struct loader *l, const char *file, const char *text,
                           size_t len, const struct line_map *map) {
  struct weft_location *loc = l->loc;
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft__ynode *root = NULL;
  struct weft__dsl_job_src src = {0};
  struct weft__dsl_scope scope = {loc->ops, l->bad, loc->n_ops,
                                  &l->ops_by_name};
  size_t before = loc->diags.n;
  int rc = parse_text(&doc, file, text, len, map, &root, &loc->diags);
  int syntax_error = rc == WEFT_EINVALID;
  if (syntax_error) rc = WEFT_OK;
  if (rc) goto done;
  if (loc->n_jobs == l->jobs_cap) {
    size_t cap = l->jobs_cap ? 2 * l->jobs_cap : 16;
    struct weft_job *jobs = realloc(loc->jobs, cap * sizeof *jobs);
    if (!jobs) {
      rc = WEFT_ENOMEM;
      goto done;
    }
    loc->jobs = jobs;
    l->jobs_cap = cap;
  }
  struct weft_job *job = &loc->jobs[loc->n_jobs++];
  if (syntax_error) {
    /* keep the job listed (by file name) so tools can show it as broken */
    memset(job, 0, sizeof *job);
    job->mark = (struct weft_mark){file, 0, 0};
    if (!(job->name = weft__dsl_base_name(file))) rc = WEFT_ENOMEM;
    goto done;
  }
  rc = weft__dsl_parse_job(&loc->diags, file, root, job, &src);
  if (!rc) rc = weft__dsl_check_job(&loc->diags, &scope, job, &src);
  job->valid = !rc && loc->diags.n == before;
  if (!rc && root && root->kind == WEFT__Y_MAP)
    rc = weft__dsl_parse_job_schedules(&loc->diags, loc, root, job->name);
done:
  weft__dsl_job_src_release(&src);
  weft__ydoc_release(&doc);
  return rc;
}

static int load_trigger_source(struct loader *l, const char *file,
                               const char *text, size_t len, int sensors,
                               const struct line_map *map) {
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft__ynode *root = NULL;
  int rc = parse_text(&doc, file, text, len, map, &root, &l->loc->diags);
  if (rc == WEFT_EINVALID)
    rc = WEFT_OK; /* reported */
  else if (!rc)
    rc = weft__dsl_parse_trigger_file(&l->loc->diags, l->loc, file, root,
                                      sensors);
  weft__ydoc_release(&doc);
  return rc;
}

static int cmp_jobs(const void *a, const void *b) {
  const struct weft_job *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  return strcmp(x->mark.file,
                y->mark.file); /* one job per file: a total order */
}

static void settle_jobs(struct weft_location *loc) {
  if (loc->n_jobs) qsort(loc->jobs, loc->n_jobs, sizeof *loc->jobs, cmp_jobs);
  for (size_t i = 1; i < loc->n_jobs; i++) {
    struct weft_job *prev = &loc->jobs[i - 1], *job = &loc->jobs[i];
    if (strcmp(prev->name, job->name)) continue;
    size_t first = i - 1;
    while (first > 0 && !strcmp(loc->jobs[first - 1].name, job->name)) first--;
    const struct weft_mark *m = &loc->jobs[first].mark;
    if (m->line)
      weft__dsl_error(&loc->diags, job->mark,
                      "duplicate job '%s' (first defined at %s:%d:%d)",
                      job->name, m->file, m->line, m->col);
    else
      weft__dsl_error(&loc->diags, job->mark,
                      "duplicate job '%s' (first defined in %s)", job->name,
                      m->file);
    job->valid = 0;
  }
}

/* weft_dsl_load_sources with maps (NULL, or parallel to sources: NULL
 * entries for YAML texts). */
static int load_sources(const char *name, const char *path, const struct weft_dsl_source *sources,
                        const struct line_map *const *maps, size_t n, int jobs_only,
                        struct weft_location **out, weft_error *err) {
  struct loader l = {0};
  const char **files = NULL;
  int rc = WEFT_OK;
  *out = NULL;
  if (!(l.loc = calloc(1, sizeof *l.loc))) goto nomem;
  l.loc->name = strdup(name ? name : "location");
  l.loc->path = strdup(path ? path : "");
  files = calloc(n ? n : 1, sizeof *files);
  if (!l.loc->name || !l.loc->path || !files) goto nomem;
  for (size_t i = 0; i < n; i++)
    if (intern_file(l.loc, sources[i].file, &files[i])) goto nomem;
  for (size_t i = 0; i < n && !rc; i++)
    if (sources[i].kind == WEFT_DSL_SOURCE_OPS)
      rc = parse_ops_source(&l, files[i], sources[i].text, sources[i].len,
                            maps ? maps[i] : NULL);
  if (!rc) rc = settle_ops(&l);
  for (size_t i = 0; i < n && !rc; i++)
    if (sources[i].kind == WEFT_DSL_SOURCE_JOB)
      rc = load_job_source(&l, files[i], sources[i].text, sources[i].len,
                           maps ? maps[i] : NULL);
  if (rc) goto nomem;
  settle_jobs(l.loc);
  for (size_t i = 0; i < n && !rc && !jobs_only; i++)
    if (sources[i].kind == WEFT_DSL_SOURCE_SCHEDULES ||
        sources[i].kind == WEFT_DSL_SOURCE_SENSORS)
      rc = load_trigger_source(&l, files[i], sources[i].text, sources[i].len,
                               sources[i].kind == WEFT_DSL_SOURCE_SENSORS,
                               maps ? maps[i] : NULL);
  if (rc) goto nomem;
  if (weft__location_index_build(l.loc)) goto nomem;
  weft_diags_sort(&l.loc->diags);
  *out = l.loc;
  l.loc = NULL;
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM,
                      "out of memory loading code location '%s'",
                      name ? name : "location");
done:
  for (size_t i = 0; i < l.n_ops; i++) weft__op_def_release(&l.ops[i].def);
  free(l.ops);
  free(l.bad);
  weft_map_release(&l.ops_by_name);
  free(files);
  weft_location_free(l.loc);
  return rc;
}

int weft_dsl_load_sources(const char *name, const char *path,
                          const struct weft_dsl_source *sources, size_t n,
                          struct weft_location **out, weft_error *err) {
  return load_sources(name, path, sources, NULL, n, 0, out, err);
}

/* ---- folders ------------------------------------------------------------- */

struct file_text {
  char *file;
  struct weft_buf text;
};

/* The .py files of ops/ and jobs/: relative to the folder, and as named. */
struct py_list {
  char **rels, **names;
  size_t n;
};

static int py_add(struct py_list *py, const char *rel, const char *name) {
  char **r = realloc(py->rels, (py->n + 1) * sizeof *r);
  if (r) py->rels = r;
  char **m = realloc(py->names, (py->n + 1) * sizeof *m);
  if (m) py->names = m;
  if (!r || !m) return WEFT_ENOMEM;
  r[py->n] = strdup(rel);
  m[py->n] = strdup(name);
  if (!r[py->n] || !m[py->n]) {
    free(r[py->n]);
    free(m[py->n]);
    return WEFT_ENOMEM;
  }
  py->n++;
  return WEFT_OK;
}

static void py_release(struct py_list *py) {
  for (size_t i = 0; i < py->n; i++) {
    free(py->rels[i]);
    free(py->names[i]);
  }
  free(py->rels);
  free(py->names);
}

/* Appends the YAML files of dir/sub to list, named "prefix/sub/NAME". */
static int list_yaml(const char *dir, const char *sub, const char *prefix,
                     enum weft_dsl_source_kind kind,
                     struct weft_dsl_source **srcs, struct file_text **texts,
                     size_t *n, struct weft_diags *diags, int *found,
                     struct py_list *py, weft_error *err) {
  char *folder = weft_fs_join(dir, sub);
  char **names = NULL;
  int rc = WEFT_OK;
  if (!folder) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!weft_fs_is_dir(folder)) goto done;
  *found = 1;
  int cnt = weft_fs_list_dir(folder, NULL, &names, err);
  if (cnt < 0) {
    rc = cnt;
    goto done;
  }
  for (int i = 0; i < cnt; i++) {
    if (py && weft_str_has_suffix(names[i], ".py") && names[i][0] != '.') {
      char *rel = weft_fs_join(sub, names[i]);
      char *named = rel && prefix ? weft_fs_join(prefix, rel) : weft_str_dup(rel);
      int bad = !rel || !named || py_add(py, rel, named);
      free(rel);
      free(named);
      if (bad) {
        rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
        goto done;
      }
      continue;
    }
    if (!weft_str_has_suffix(names[i], ".yaml") &&
        !weft_str_has_suffix(names[i], ".yml"))
      continue;
    struct weft_dsl_source *s = realloc(*srcs, (*n + 1) * sizeof *s);
    if (s) *srcs = s;
    struct file_text *t = realloc(*texts, (*n + 1) * sizeof *t);
    if (t) *texts = t;
    if (!s || !t) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    struct file_text *ft = &(*texts)[*n];
    weft_buf_init(&ft->text);
    char *rel = weft_fs_join(sub, names[i]);
    char *full = weft_fs_join(folder, names[i]);
    ft->file = rel && prefix ? weft_fs_join(prefix, rel) : weft_str_dup(rel);
    if (!rel || !full || !ft->file) {
      free(rel);
      free(full);
      free(ft->file);
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    weft_error ferr = WEFT_ERROR_INIT;
    if (weft_fs_read_file(full, &ft->text, &ferr))
      weft_diags_addf(diags, ft->file, 0, 0, "cannot read: %s", ferr.msg);
    (*srcs)[*n] =
        (struct weft_dsl_source){kind, ft->file, ft->text.ptr, ft->text.len};
    (*n)++;
    free(rel);
    free(full);
  }
done:
  weft_fs_free_list(names);
  free(folder);
  return rc;
}

/* Appends the texts the collector made of the .py files to srcs/maps. */
static int add_python_sources(const struct weft__py_collect *pc, struct weft_dsl_source **srcs,
                              size_t *n, struct line_map **maps) {
  size_t extra = 0;
  for (size_t i = 0; i < pc->n_files; i++) extra += pc->files[i].n_texts;
  if (!extra) return WEFT_OK;
  struct weft_dsl_source *s = realloc(*srcs, (*n + extra) * sizeof *s);
  if (!s) return WEFT_ENOMEM;
  *srcs = s;
  struct line_map *m = calloc(*n + extra, sizeof *m);
  if (!m) return WEFT_ENOMEM;
  *maps = m;
  for (size_t i = 0; i < pc->n_files; i++)
    for (size_t k = 0; k < pc->files[i].n_texts; k++) {
      const struct weft__py_text *t = &pc->files[i].texts[k];
      s[*n] = (struct weft_dsl_source){t->kind, pc->files[i].name, t->text, t->len};
      m[*n] = (struct line_map){t->lines, t->n_lines};
      (*n)++;
    }
  return WEFT_OK;
}

int weft_location_load(const char *path, const char *name,
                       struct weft_location **out, weft_error *err) {
  return weft_location_load_python(path, name, NULL, out, err);
}

static int load_location(const char *path, const char *name, const char *python,
                         int jobs_only, struct weft_location **out, weft_error *err) {
  struct weft_dsl_source *srcs = NULL;
  struct py_list py = {0};
  struct weft__py_collect pc = {0};
  struct line_map *maps = NULL;
  const struct line_map **map_ptrs = NULL;
  struct file_text *texts = NULL;
  struct weft_diags read_diags = WEFT_DIAGS_INIT;
  size_t n = 0, n_yaml = 0;
  int found = 0, listed = 0, rc;
  char *abs = NULL, *base = NULL;
  *out = NULL;
  if (!path || !weft_fs_is_dir(path))
    return weft_error_set(err, WEFT_ENOTFOUND,
                          "code location '%s' is not a folder",
                          path ? path : "(null)");
  if (!(abs = realpath(path, NULL))) {
    rc = weft_error_set(err, WEFT_EIO,
                        "code location '%s': cannot resolve its path", path);
    goto done;
  }
  /* Files are named as the user gave the folder; "." gives plain "jobs/a.yaml".
   */
  const char *prefix =
      (!strcmp(path, ".") || !strcmp(path, "./")) ? NULL : path;
  rc = list_yaml(path, "ops", prefix, WEFT_DSL_SOURCE_OPS, &srcs, &texts, &n,
                 &read_diags, &found, &py, err);
  if (!rc)
    rc = list_yaml(path, "jobs", prefix, WEFT_DSL_SOURCE_JOB, &srcs, &texts, &n,
                   &read_diags, &found, &py, err);
  int found_triggers = 0; /* schedules/ alone does not make a location */
  if (!rc && !jobs_only)
    rc = list_yaml(path, "schedules", prefix, WEFT_DSL_SOURCE_SCHEDULES, &srcs,
                   &texts, &n, &read_diags, &found_triggers, NULL, err);
  if (!rc && !jobs_only)
    rc = list_yaml(path, "sensors", prefix, WEFT_DSL_SOURCE_SENSORS, &srcs,
                   &texts, &n, &read_diags, &found_triggers, NULL, err);
  if (rc) goto done;
  n_yaml = n;
  listed = 1;
  if (py.n && (weft__python_collect(abs, python, py.rels, py.names, py.n, &pc, &read_diags) ||
               add_python_sources(&pc, &srcs, &n, &maps))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (maps && !(map_ptrs = calloc(n, sizeof *map_ptrs))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = n_yaml; map_ptrs && i < n; i++) map_ptrs[i] = &maps[i];
  if (!name) {
    const char *slash = strrchr(abs, '/');
    name = base = strdup(slash && slash[1] ? slash + 1 : abs);
    if (!base) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
  }
  rc = load_sources(name, abs, srcs, map_ptrs, n, jobs_only, out, err);
  if (rc) goto done;
  if (!found)
    weft_diags_addf(
        &read_diags, path, 0, 0,
        "no ops/ or jobs/ folder: this does not look like a code location");
  if (read_diags.n) {
    weft_diags_take(&(*out)->diags, &read_diags);
    weft_diags_sort(&(*out)->diags);
  }
done:
  for (size_t i = 0; i < (listed ? n_yaml : n); i++) {
    free(texts[i].file);
    weft_buf_release(&texts[i].text);
  }
  free(texts);
  free(srcs);
  free(maps);
  free(map_ptrs);
  weft__python_collect_release(&pc);
  py_release(&py);
  weft_diags_release(&read_diags);
  free(abs);
  free(base);
  return rc;
}

int weft_location_load_python(const char *path, const char *name, const char *python,
                              struct weft_location **out, weft_error *err) {
  return load_location(path, name, python, 0, out, err);
}

int weft_location_load_jobs(const char *path, const char *name, const char *python,
                            struct weft_location **out, weft_error *err) {
  return load_location(path, name, python, 1, out, err);
}
