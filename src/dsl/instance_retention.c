/* instance_retention.c: parses weft.yaml's retention: section (durations
 * such as "30d" or "12h", keep_last, per_job overrides), with every mistake
 * at its file:line:col, and prints it for `weft instance show`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "dsl/dsl_int.h"
#include "dsl/instance_retention.h"
#include "dsl/yaml_tree.h"
#include "util/buf.h"
#include "util/fs.h"

static const char *const retention_keys[] = {"runs", "events_debug", "logs", "artifacts",
                                             "per_job", "keep_last", NULL};
static const char *const job_keys[] = {"runs", "events_debug", "logs", "artifacts",
                                       "keep_last", NULL};
static const char *const runs_keys[] = {"success", "failure", NULL};

static const struct weft_retention_rule unset = {-1, -1, -1, -1, -1, -1};

void weft_retention_release(struct weft_retention *r) {
  for (size_t i = 0; r && i < r->n_jobs; i++) free(r->jobs[i].job);
  if (r) {
    free(r->jobs);
    memset(r, 0, sizeof *r);
    r->all = unset;
  }
}

/* An age: a duration ("30d", "12h30m", seconds as a number) of at least one
 * second; null leaves it unset. */
static void parse_age(struct weft_diags *d, const struct weft__ynode *n, const char *what,
                      int64_t *out, int *nomem) {
  if (!n || weft__ynode_is_null(n)) return;
  if (n->kind != WEFT__Y_SCALAR) {
    weft__dsl_error(d, n->mark, "weft.yaml: %s must be a duration like 30d or 12h, got %s",
                    what, weft__ynode_describe(n));
    return;
  }
  char *text = weft__dsl_substitute_env(d, n, nomem);
  double s = 0;
  if (!text) return;
  if (weft_dsl_parse_duration(text, &s) || s < 1 || s > 100.0 * 366 * 86400)
    weft__dsl_error(d, n->mark,
                    "weft.yaml: %s must be a duration like 30d, 12h or 90m (at least 1s), "
                    "got '%s'",
                    what, text);
  else
    *out = (int64_t)(s * 1000);
  free(text);
}

static void parse_rule(struct weft_diags *d, const struct weft__ynode *n, const char *where,
                       const char *const *keys, struct weft_retention_rule *r, int *nomem) {
  char what[256];
  weft__dsl_check_keys(d, n, keys, where);
  const struct weft__ynode *runs = weft__ymap_get(n, "runs", NULL);
  if (runs && !weft__ynode_is_null(runs)) {
    snprintf(what, sizeof what, "%s runs", where);
    if (runs->kind != WEFT__Y_MAP) {
      weft__dsl_error(d, runs->mark, "weft.yaml: %s must be a mapping with success and "
                      "failure, got %s", what, weft__ynode_describe(runs));
    } else {
      weft__dsl_check_keys(d, runs, runs_keys, what);
      snprintf(what, sizeof what, "%s runs.success", where);
      parse_age(d, weft__ymap_get(runs, "success", NULL), what, &r->success_ms, nomem);
      snprintf(what, sizeof what, "%s runs.failure", where);
      parse_age(d, weft__ymap_get(runs, "failure", NULL), what, &r->failure_ms, nomem);
    }
  }
  static const char *const ages[] = {"events_debug", "logs", "artifacts"};
  int64_t *slots[] = {&r->events_debug_ms, &r->logs_ms, &r->artifacts_ms};
  for (int i = 0; i < 3; i++) {
    snprintf(what, sizeof what, "%s %s", where, ages[i]);
    parse_age(d, weft__ymap_get(n, ages[i], NULL), what, slots[i], nomem);
  }
  const struct weft__ynode *k = weft__ymap_get(n, "keep_last", NULL);
  if (k && !weft__ynode_is_null(k)) {
    long long v = -1;
    if (k->kind != WEFT__Y_SCALAR || !weft__ynode_int(k, &v) || v < 0 || v > 1000000)
      weft__dsl_error(d, k->mark, "weft.yaml: %s keep_last must be a whole number from 0 "
                      "to 1000000, got %s%s%s", where,
                      k->kind == WEFT__Y_SCALAR ? "'" : "",
                      k->kind == WEFT__Y_SCALAR ? weft__ynode_text(k) : weft__ynode_describe(k),
                      k->kind == WEFT__Y_SCALAR ? "'" : "");
    else
      r->keep_last = (int)v;
  }
}

void weft__retention_parse(struct weft_diags *d, const struct weft__ynode *n,
                           struct weft_retention *out, int *nomem) {
  memset(out, 0, sizeof *out);
  out->all = unset;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "weft.yaml: retention must be a mapping with runs, "
                    "events_debug, logs, artifacts, per_job, keep_last, got %s",
                    weft__ynode_describe(n));
    return;
  }
  out->set = 1;
  parse_rule(d, n, "retention", retention_keys, &out->all, nomem);
  const struct weft__ynode *pj = weft__ymap_get(n, "per_job", NULL);
  if (!pj || weft__ynode_is_null(pj)) return;
  if (pj->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, pj->mark, "weft.yaml: retention per_job must be a mapping of job "
                    "names to rules, got %s", weft__ynode_describe(pj));
    return;
  }
  if (pj->u.map.n && !(out->jobs = calloc(pj->u.map.n, sizeof *out->jobs))) {
    *nomem = 1;
    return;
  }
  for (size_t i = 0; i < pj->u.map.n; i++) {
    const struct weft__ypair *p = &pj->u.map.pairs[i];
    char where[200];
    snprintf(where, sizeof where, "retention per_job.%s", weft__ynode_text(p->key));
    if (p->value->kind != WEFT__Y_MAP) {
      weft__dsl_error(d, p->value->mark, "weft.yaml: %s must be a mapping with runs, "
                      "events_debug, logs, artifacts, keep_last, got %s", where,
                      weft__ynode_describe(p->value));
      continue;
    }
    struct weft_retention_job *j = &out->jobs[out->n_jobs];
    j->rule = unset;
    if (!(j->job = strdup(weft__ynode_text(p->key)))) {
      *nomem = 1;
      return;
    }
    out->n_jobs++;
    parse_rule(d, p->value, where, job_keys, &j->rule, nomem);
  }
}

static int64_t pick(int64_t job, int64_t all) { return job >= 0 ? job : all; }

struct weft_retention_rule weft_retention_for(const struct weft_retention *r, const char *job) {
  struct weft_retention_rule out = r->all;
  for (size_t i = 0; job && i < r->n_jobs; i++) {
    if (strcmp(r->jobs[i].job, job)) continue;
    const struct weft_retention_rule *j = &r->jobs[i].rule;
    out.success_ms = pick(j->success_ms, out.success_ms);
    out.failure_ms = pick(j->failure_ms, out.failure_ms);
    out.events_debug_ms = pick(j->events_debug_ms, out.events_debug_ms);
    out.logs_ms = pick(j->logs_ms, out.logs_ms);
    out.artifacts_ms = pick(j->artifacts_ms, out.artifacts_ms);
    out.keep_last = j->keep_last >= 0 ? j->keep_last : out.keep_last;
  }
  return out;
}

static int64_t min_age(int64_t m, const struct weft_retention_rule *r) {
  int64_t v[] = {r->success_ms, r->failure_ms, r->events_debug_ms, r->logs_ms, r->artifacts_ms};
  for (int i = 0; i < 5; i++)
    if (v[i] >= 0 && (m < 0 || v[i] < m)) m = v[i];
  return m;
}

int64_t weft_retention_min_age_ms(const struct weft_retention *r) {
  int64_t m = r->set ? min_age(-1, &r->all) : -1;
  for (size_t i = 0; r->set && i < r->n_jobs; i++) m = min_age(m, &r->jobs[i].rule);
  return m;
}

int weft_retention_load(const char *home, struct weft_retention *out, weft_error *err) {
  struct weft_buf text = WEFT_BUF_INIT;
  struct weft_diags d = WEFT_DIAGS_INIT;
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft__ynode *root = NULL;
  char *file = weft_fs_join(home, "weft.yaml");
  int nomem = 0, rc = file ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  memset(out, 0, sizeof *out);
  out->all = unset;
  if (!rc && !weft_fs_exists(file)) goto done;
  if (!rc) rc = weft_fs_read_file(file, &text, err);
  if (!rc && weft__yaml_parse(&doc, file, text.ptr, text.len, &root, &d) == WEFT_ENOMEM)
    nomem = 1;
  const struct weft__ynode *n =
      root && root->kind == WEFT__Y_MAP ? weft__ymap_get(root, "retention", NULL) : NULL;
  if (!rc && n && !weft__ynode_is_null(n)) weft__retention_parse(&d, n, out, &nomem);
  if (!rc && nomem) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory reading %s", file);
  } else if (!rc && d.n) {
    char *lines = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&lines, &len);
    weft_diags_sort(&d);
    if (f) {
      weft_diags_print(&d, f);
      fclose(f);
    }
    while (len && lines[len - 1] == '\n') lines[--len] = '\0';
    rc = weft_error_set(err, WEFT_EINVALID, "%s", lines ? lines : "invalid weft.yaml");
    free(lines);
  }
done:
  if (rc) weft_retention_release(out);
  weft__ydoc_release(&doc);
  weft_diags_release(&d);
  weft_buf_release(&text);
  free(file);
  return rc;
}

static void add_age(struct weft_buf *b, const char *name, int64_t ms, int *first) {
  if (ms < 0) return;
  weft_buf_addf(b, "%s%s ", *first ? "" : ", ", name);
  *first = 0;
  int64_t s = ms / 1000;
  if (s % 86400 == 0) weft_buf_addf(b, "%lldd", (long long)(s / 86400));
  else if (s % 3600 == 0) weft_buf_addf(b, "%lldh", (long long)(s / 3600));
  else if (s % 60 == 0) weft_buf_addf(b, "%lldm", (long long)(s / 60));
  else weft_buf_addf(b, "%llds", (long long)s);
}

static void add_rule(struct weft_buf *b, const char *who, const struct weft_retention_rule *r) {
  int first = 1;
  weft_buf_addf(b, "  %s: ", who);
  add_age(b, "runs.success", r->success_ms, &first);
  add_age(b, "runs.failure", r->failure_ms, &first);
  add_age(b, "events_debug", r->events_debug_ms, &first);
  add_age(b, "logs", r->logs_ms, &first);
  add_age(b, "artifacts", r->artifacts_ms, &first);
  if (r->keep_last >= 0) weft_buf_addf(b, "%skeep_last %d", first ? "" : ", ", r->keep_last);
  else if (first) weft_buf_adds(b, "(keeps everything)");
  weft_buf_adds(b, "\n");
}

char *weft_retention_describe(const struct weft_retention *r) {
  struct weft_buf b = WEFT_BUF_INIT;
  if (!r->set) {
    weft_buf_adds(&b, "  (none: everything is kept)\n");
  } else {
    add_rule(&b, "every job", &r->all);
    for (size_t i = 0; i < r->n_jobs; i++) {
      char who[160];
      snprintf(who, sizeof who, "job %s", r->jobs[i].job);
      struct weft_retention_rule eff = weft_retention_for(r, r->jobs[i].job);
      add_rule(&b, who, &eff);
    }
  }
  return weft_buf_detach(&b, NULL);
}
