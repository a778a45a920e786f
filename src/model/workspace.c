/* workspace.c: a set of code locations and job lookup across them by "JOB"
 * or "LOCATION:JOB"; loading lives in src/dsl, which needs YAML. */
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "util/buf.h"
#include "util/str.h"

void weft_workspace_free(struct weft_workspace *ws) {
  if (!ws) return;
  for (size_t i = 0; i < ws->n_locations; i++)
    weft_location_free(ws->locations[i]);
  free(ws->locations);
  weft_diags_release(&ws->diags);
  free(ws);
}

size_t weft_workspace_error_count(const struct weft_workspace *ws) {
  if (!ws) return 0;
  size_t n = ws->diags.n;
  for (size_t i = 0; i < ws->n_locations; i++) n += ws->locations[i]->diags.n;
  return n;
}

void weft_run_config_release(struct weft_run_config *rc) {
  if (!rc) return;
  json_decref(rc->ops);
  json_decref(rc->tags);
  json_decref(rc->raw);
  memset(rc, 0, sizeof *rc);
}

/* Suggestion among the names of every job of the workspace ("JOB"). */
static const char *suggest_job(const struct weft_workspace *ws,
                               const char *name,
                               const struct weft_location *only) {
  const char *best = NULL;
  int best_d = 1 << 30;
  for (size_t l = 0; l < ws->n_locations; l++) {
    const struct weft_location *loc = ws->locations[l];
    if (only && loc != only) continue;
    for (size_t j = 0; j < loc->n_jobs; j++) {
      const char *cand = loc->jobs[j].name;
      const char *s = weft_str_suggest(name, &cand, 1);
      int d = s ? weft_str_distance(name, cand) : 1 << 30;
      if (s && d < best_d) {
        best = cand;
        best_d = d;
      }
    }
  }
  return best;
}

static const struct weft_job *find_qualified(const struct weft_workspace *ws,
                                             const char *name,
                                             const char *colon,
                                             weft_error *err) {
  size_t ln = (size_t)(colon - name);
  const char *job_name = colon + 1;
  const struct weft_location *loc = NULL;
  for (size_t l = 0; l < ws->n_locations; l++) {
    const char *lname = ws->locations[l]->name;
    if (strlen(lname) == ln && !strncmp(lname, name, ln)) {
      loc = ws->locations[l];
      break;
    }
  }
  if (!loc) {
    char *want = strndup(name, ln);
    const char **names = malloc((ws->n_locations + 1) * sizeof *names);
    const char *s = NULL;
    if (want && names) {
      for (size_t l = 0; l < ws->n_locations; l++)
        names[l] = ws->locations[l]->name;
      s = weft_str_suggest(want, names, ws->n_locations);
    }
    weft_error_set(
        err, WEFT_ENOTFOUND, "no code location '%.*s' in the workspace%s%s%s",
        (int)ln, name, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    free(want);
    free(names);
    return NULL;
  }
  const struct weft_job *job = weft_location_find_job(loc, job_name);
  if (!job) {
    const char *s = suggest_job(ws, job_name, loc);
    weft_error_set(err, WEFT_ENOTFOUND,
                   "no job '%s' in code location '%s'%s%s%s", job_name,
                   loc->name, s ? " (did you mean '" : "", s ? s : "",
                   s ? "'?)" : "");
  }
  return job;
}

const struct weft_job *weft_workspace_find_job(const struct weft_workspace *ws,
                                               const char *name,
                                               weft_error *err) {
  if (!ws || !name) {
    weft_error_set(err, WEFT_EINVALID, "no job name given");
    return NULL;
  }
  const char *colon = strchr(name, ':');
  if (colon) return find_qualified(ws, name, colon, err);
  const struct weft_job *found = NULL;
  size_t n_found = 0;
  for (size_t l = 0; l < ws->n_locations; l++) {
    const struct weft_job *job = weft_location_find_job(ws->locations[l], name);
    if (!job) continue;
    if (!found) found = job;
    n_found++;
  }
  if (n_found == 1) return found;
  if (n_found == 0) {
    const char *s = suggest_job(ws, name, NULL);
    weft_error_set(err, WEFT_ENOTFOUND, "no job '%s' in the workspace%s%s%s",
                   name, s ? " (did you mean '" : "", s ? s : "",
                   s ? "'?)" : "");
    return NULL;
  }
  struct weft_buf b = WEFT_BUF_INIT;
  for (size_t l = 0; l < ws->n_locations; l++) {
    if (!weft_location_find_job(ws->locations[l], name)) continue;
    weft_buf_addf(&b, "%s%s:%s", b.len ? ", " : "", ws->locations[l]->name,
                  name);
  }
  weft_error_set(err, WEFT_ECONFLICT,
                 "job name '%s' is ambiguous: it is in %zu code locations; "
                 "name one of %s",
                 name, n_found, b.ptr);
  weft_buf_release(&b);
  return NULL;
}
