/* api_jobs.c: the jobs of the workspace (API.md "Code locations and jobs"):
 * listing, one job, checking a run config and launching a run (maint.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "http/http_int.h"
#include "sched/coordinator_spawn.h"

/* ---- jobs --------------------------------------------------------------------------- */

enum MHD_Result http_api_jobs(struct http_req *r) {
  const struct weft_workspace *ws = http_workspace(r);
  json_t *arr = json_array();
  for (size_t l = 0; arr && l < ws->n_locations; l++) {
    const struct weft_location *loc = ws->locations[l];
    for (size_t j = 0; arr && j < loc->n_jobs; j++) {
      const struct weft_job *job = &loc->jobs[j];
      json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:I, s:b}", "location", loc->name, "name",
                            job->name, "description",
                            job->description ? json_string(job->description) : json_null(),
                            "tags", weft_kvs_to_json(&job->tags), "ops", (json_int_t)job->n_ops,
                            "valid", job->valid);
      if (json_array_append_new(arr, o)) {
        json_decref(arr);
        arr = NULL;
      }
    }
  }
  return http_send_json(r, 200, arr ? json_pack("{s:o}", "jobs", arr) : NULL);
}

/* The diagnostics that make job invalid: those in its own file, or every
 * one of its location when none is (the fault is then in a shared op). */
static json_t *job_errors(const struct weft_job *job) {
  if (!job->location) return json_array();
  const struct weft_diags *all = &job->location->diags;
  struct weft_diags mine = WEFT_DIAGS_INIT;
  for (size_t i = 0; i < all->n; i++)
    if (all->v[i].file && job->mark.file && !strcmp(all->v[i].file, job->mark.file))
      weft_diags_addf(&mine, all->v[i].file, all->v[i].line, all->v[i].col, "%s",
                      all->v[i].msg);
  json_t *d = http_diags_json(mine.n ? &mine : all);
  weft_diags_release(&mine);
  return d;
}

/* The job the path names (segments 3 and 4), valid; NULL after answering
 * 404 (no such job) or 409 (the job has errors). */
static const struct weft_job *path_job(struct http_req *r, enum MHD_Result *res) {
  const char *loc = r->segs[3], *name = r->segs[4];
  const struct weft_job *job = http_ws_find_job(http_workspace(r), loc, name);
  if (!job) {
    *res = http_send_error(r, 404, NULL, "no job '%s' in location '%s'", name, loc);
    return NULL;
  }
  if (!job->valid) {
    *res = http_send_error(r, 409, job_errors(job), "job '%s' of location '%s' has errors",
                           name, loc);
    return NULL;
  }
  return job;
}

/* The run config to start from, as YAML text; NULL when out of memory. */
static char *default_run_config(const struct weft_job *job) {
  json_t *doc = weft_job_default_run_config(job);
  char *text = NULL;
  size_t len = 0;
  weft_error err = WEFT_ERROR_INIT;
  FILE *f = doc ? open_memstream(&text, &len) : NULL;
  int bad = !f || weft_dsl_emit_yaml(doc, f, &err);
  if (f) bad |= fclose(f) != 0;
  json_decref(doc);
  if (bad) {
    free(text);
    return NULL;
  }
  return text;
}

enum MHD_Result http_api_job(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  const struct weft_job *job = path_job(r, &res);
  if (!job) return res;
  json_t *doc = weft_job_to_json(job);
  char *yaml = default_run_config(job);
  if (doc) http_hide_env_values(doc);
  if (!doc || !yaml || json_object_set_new(doc, "default_run_config", json_string(yaml))) {
    json_decref(doc);
    doc = NULL;
  }
  free(yaml);
  return http_send_json(r, 200, doc);
}

/* ---- checking a run config, launching ------------------------------------------------- */

/* What validate and launch share: the job, its body {"run_config": object
 * or YAML text, "tags": {K: "V"}} and the run config built from it. Returns
 * 1 with *job, *rc (release it) and *tags (a new reference or NULL) set,
 * or 0 after answering. */
static int prepare(struct http_req *r, const struct weft_job **job, struct weft_run_config *rc,
                   json_t **tags, enum MHD_Result *res) {
  struct weft_diags diags = WEFT_DIAGS_INIT;
  json_t *body = NULL;
  char *dumped = NULL;
  const char *text = NULL;
  int ok = 0;
  *tags = NULL;
  if (!(*job = path_job(r, res)) || !(body = http_body_object(r, res))) return 0;
  json_t *cfg = json_object_get(body, "run_config");
  json_t *t = json_object_get(body, "tags");
  if (json_is_string(cfg)) {
    text = json_string_value(cfg);
  } else if (json_is_object(cfg)) {
    /* Indented, so a diagnostic's line and column point somewhere useful. */
    if (!(text = dumped = json_dumps(cfg, JSON_INDENT(2)))) goto nomem;
  } else if (cfg && !json_is_null(cfg)) {
    *res = http_send_error(r, 400, json_pack("[{s:s, s:s}]", "field", "run_config", "message",
                                             "expected an object or YAML text"),
                           "run_config must be an object or a string of YAML");
    goto done;
  }
  if (t && !json_is_null(t)) {
    const char *k;
    json_t *v;
    int bad = !json_is_object(t);
    json_object_foreach(t, k, v) bad |= !json_is_string(v);
    if (bad) {
      *res = http_send_error(r, 400, json_pack("[{s:s, s:s}]", "field", "tags", "message",
                                               "expected an object of strings"),
                             "tags must be an object whose values are strings");
      goto done;
    }
    *tags = json_incref(t);
  }
  int brc = weft_run_config_build(*job, "<run config>", text, text ? strlen(text) : 0, NULL, 0,
                                  rc, &diags);
  if (brc == WEFT_EINVALID) {
    weft_diags_sort(&diags);
    *res = http_send_error(r, 400, http_diags_json(&diags), "%zu %s in the run config of job %s",
                           diags.n, diags.n == 1 ? "error" : "errors", (*job)->name);
    goto done;
  }
  if (brc) goto nomem;
  ok = 1;
  goto done;
nomem:
  *res = http_send_error(r, 500, NULL, "out of memory");
done:
  if (!ok) {
    json_decref(*tags);
    *tags = NULL;
  }
  weft_diags_release(&diags);
  free(dumped);
  json_decref(body);
  return ok;
}

enum MHD_Result http_api_validate(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  const struct weft_job *job;
  struct weft_run_config rc = {0};
  json_t *tags;
  if (!prepare(r, &job, &rc, &tags, &res)) return res;
  json_t *resolved = weft_run_config_to_json(job, &rc);
  weft_run_config_release(&rc);
  json_decref(tags);
  return http_send_json(r, 200,
                        resolved ? json_pack("{s:b, s:o}", "valid", 1, "resolved", resolved)
                                 : NULL);
}

int http_record_run(struct weft_instance *inst, const struct weft_launch *l, const char *in_run,
                    const struct weft_run_queue_config *admit, char **run_id, int *handed,
                    weft_error *err) {
  *handed = 0;
  /* Left for any dequeuer (this server, a scheduler): not tied to us. */
  struct weft_launch unowned = *l;
  unowned.unowned = 1;
  int rc = weft_run_create(inst, &unowned, run_id, err);
  if (!rc && admit) {
    int h = weft_coord_admit_in_tx(inst, admit, *run_id, l->code_version, in_run, err);
    if (h) {
      *handed = h == 1;
      return h < 0 ? h : WEFT_OK;
    }
  }
  if (!rc && in_run) rc = weft_run_queue_set_steps(inst, *run_id, in_run, err);
  return rc;
}

int http_create_run(struct weft_instance *inst, const struct weft_launch *l, const char *in_run,
                    char **run_id, weft_error *err) {
  int rc = weft_store_begin(inst->store, err);
  if (rc) return rc;
  int handed;
  rc = http_record_run(inst, l, in_run, NULL, run_id, &handed, err);
  if (!rc) rc = weft_store_commit(inst->store, err);
  else weft_store_rollback(inst->store);
  if (rc) {
    free(*run_id);
    *run_id = NULL;
  }
  return rc;
}

int http_start_coordinator(struct http_req *r, const char *run_id, enum MHD_Result *res) {
  weft_error err = WEFT_ERROR_INIT, e2 = WEFT_ERROR_INIT;
  struct http_server *srv = r->srv;
  /* A turn now, rather than at the maintenance thread's next: without
   * limits the run starts at once, as before the queue. */
  if (!weft_coord_dequeue(&srv->spawner, &r->inst, &srv->queue, &err)) return 1;
  weft_run_abandon(&r->inst, run_id, err.msg, &e2);
  *res = http_send_error(r, 500, NULL, "run %s: %s", run_id, err.msg);
  return 0;
}

enum MHD_Result http_api_launch(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  const struct weft_job *job;
  struct weft_run_config rc = {0};
  json_t *tags = NULL;
  char *run_id = NULL;
  if (!prepare(r, &job, &rc, &tags, &res)) return res;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) goto done;
  /* Who launched it, for a launcher's cancel (guard.c); not the client's
   * to say. */
  if (!tags && !(tags = json_object())) {
    res = http_send_error(r, 500, NULL, "out of memory");
    goto done;
  }
  if (http_tag_launcher(r, tags)) {
    res = http_send_error(r, 500, NULL, "out of memory");
    goto done;
  }
  struct weft_launch l = {.job = job, .rc = &rc, .tags = tags};
  if (http_launch_run(r, inst, &l, NULL, &run_id, &res))
    res = http_send_json(r, 201, json_pack("{s:s}", "run_id", run_id));
done:
  free(run_id);
  json_decref(tags);
  weft_run_config_release(&rc);
  return res;
}
