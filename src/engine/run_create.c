/* run_create.c: recording new QUEUED runs, one (weft_run_create) or a batch
 * made ready beforehand and written together (weft_run_prepare, _write_many). */
#include <stdlib.h>
#include <string.h>

#include "engine/code_snapshot.h"
#include "engine/engine_int.h"
#include "engine/secrets.h"
#include "util/clock.h"
#include "util/str.h"

/* The job's own tags, then the run config's, then the launcher's: the more
 * specific wins, as in Dagster. */
static json_t *merged_tags(const struct weft_launch *l) {
  json_t *tags = weft_kvs_to_json(&l->job->tags);
  if (tags && l->rc->tags) json_object_update(tags, l->rc->tags);
  if (tags && l->tags) json_object_update(tags, l->tags);
  return tags;
}

void weft_run_new_release(struct weft_run_new *v) {
  free(v->row.id);
  free(v->row.job);
  free(v->row.location);
  free(v->row.run_config);
  free(v->row.tags);
  free(v->row.parent_run_id);
  free(v->row.root_run_id);
  free(v->row.code_version);
  free(v->row.coordinator);
  free(v->queued_payload);
  memset(v, 0, sizeof *v);
}

/* Everything but the writes: no store transaction is needed (a scheduler
 * makes a chunk of runs ready before it opens the one that records them). */
int weft_run_prepare(struct weft_instance *inst, const struct weft_launch *l,
                     struct weft_run_new *out, weft_error *err) {
  struct weft_run_row *r = &out->row;
  char code_version[WEFT_CODE_VERSION_LEN + 1], *code_dir = NULL;
  json_t *tags = merged_tags(l), *p = NULL;
  int rc = WEFT_ENOMEM;
  memset(out, 0, sizeof *out);
  r->id = weft_store_new_run_id();
  r->job = weft_str_dup(l->job->name);
  r->location = weft_str_dup(l->job->location ? l->job->location->name : "");
  r->status = WEFT_RUN_QUEUED;
  r->run_config = l->rc->raw ? json_dumps(l->rc->raw, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  r->tags = tags ? json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  r->created_ms = weft_clock_wall_ms();
  if (!l->unowned) {
    r->coordinator = weft_coordinator_id();
    r->heartbeat_ms = r->created_ms;
  }
  if (!r->id || !r->job || !r->location || !r->tags || (!l->unowned && !r->coordinator)) {
    weft_error_set(err, WEFT_ENOMEM, "out of memory creating a run");
    goto fail;
  }
  /* Steps that run in containers: the engine must answer now, or no run
   * is recorded at all (no pulls here: callers may hold a store
   * transaction; `weft launch` pulls before it opens one). */
  if ((rc = weft_run_containers_check(inst, l, 0, err))) goto fail;
  /* Every secret and variable its ops name exists now, or no run. */
  if ((rc = weft_secrets_check_job(inst->store, l->job, l->in_run, err))) goto fail;
  /* The code it runs (code_snapshot.h): a given version's snapshot, or one
   * of the location folder as it is now. */
  if (l->code_version) {
    if (!l->code_checked && (rc = weft_code_reuse(inst->home, l->code_version, &code_dir, err)))
      goto fail;
    r->code_version = weft_str_dup(l->code_version);
  } else if (l->job->location && l->job->location->path) {
    rc = weft_code_snapshot(inst->home, l->job->location->path, code_version, &code_dir, err);
    if (rc) goto fail;
    r->code_version = weft_str_dup(code_version);
  }
  rc = WEFT_ENOMEM;
  if ((l->code_version || (l->job->location && l->job->location->path)) && !r->code_version) {
    weft_error_set(err, rc, "out of memory creating a run");
    goto fail;
  }
  if (l->parent_run_id) {
    struct weft_run_row parent = {0};
    if ((rc = weft_store_run_get(inst->store, l->parent_run_id, &parent, err))) goto fail;
    r->parent_run_id = weft_str_dup(l->parent_run_id);
    r->root_run_id = weft_str_dup(parent.root_run_id ? parent.root_run_id : parent.id);
    weft_run_row_release(&parent);
  } else {
    r->root_run_id = weft_str_dup(r->id);
  }
  p = json_pack("{s:s, s:s, s:O, s:s?, s:s?}", "job", r->job, "location", r->location, "tags",
                tags, "code_version", r->code_version, "location_path",
                l->job->location ? weft_code_live_path(l->job->location) : NULL);
  if (p && l->parent_run_id) json_object_set_new(p, "parent_run_id", json_string(l->parent_run_id));
  out->queued_payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
  rc = WEFT_ENOMEM;
  if (!r->root_run_id || (l->parent_run_id && !r->parent_run_id) || !out->queued_payload) {
    weft_error_set(err, rc, "out of memory creating a run");
    goto fail;
  }
  free(code_dir);
  json_decref(tags);
  json_decref(p);
  return WEFT_OK;
fail:
  free(code_dir);
  json_decref(tags);
  json_decref(p);
  weft_run_new_release(out);
  return rc;
}

int weft_run_write_many(struct weft_instance *inst, const struct weft_run_new *v, size_t n,
                        weft_error *err) {
  struct weft_run_row *rows = calloc(n ? n : 1, sizeof *rows);
  struct weft_event_row *ev = calloc(n ? n : 1, sizeof *ev);
  int rc = rows && ev ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory creating runs");
  int64_t now = weft_clock_wall_ms();
  for (size_t i = 0; !rc && i < n; i++) {
    rows[i] = v[i].row; /* borrowed */
    ev[i] = (struct weft_event_row){0, v[i].row.id, NULL, "run_queued", now, v[i].queued_payload};
  }
  if (!rc) rc = weft_store_begin(inst->store, err);
  if (!rc) {
    rc = weft_store_run_create_many(inst->store, rows, n, err);
    if (!rc) rc = weft_store_event_append(inst->store, ev, n, err);
    if (rc)
      weft_store_rollback(inst->store);
    else
      rc = weft_store_commit(inst->store, err);
  }
  free(rows);
  free(ev);
  return rc;
}

int weft_run_create(struct weft_instance *inst, const struct weft_launch *l, char **run_id,
                    weft_error *err) {
  struct weft_run_new v;
  *run_id = NULL;
  int rc = weft_run_prepare(inst, l, &v, err);
  if (rc) return rc;
  if (!(rc = weft_run_write_many(inst, &v, 1, err))) {
    *run_id = v.row.id;
    v.row.id = NULL;
  }
  weft_run_new_release(&v);
  return rc;
}

