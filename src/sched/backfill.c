/* backfill.c: backfills of partitioned jobs: the record, one QUEUED run per
 * partition through the run queue, per-partition status, relaunch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/backfill.h"
#include "sched/run_queue.h"
#include "sched/sched_int.h"
#include "util/clock.h"
#include "util/map.h"
#include "util/str.h"

#define RUNS_LIMIT 100000 /* runs of one job read for the status */

/* ---- keys ------------------------------------------------------------------------ */

static const char *kind_name(enum weft_partitions_kind k) {
  return k == WEFT_PARTITIONS_DAILY    ? "daily"
         : k == WEFT_PARTITIONS_HOURLY ? "hourly"
                                       : "static";
}

static const char *key_hint(enum weft_partitions_kind k) {
  return k == WEFT_PARTITIONS_DAILY
             ? "daily partitions: keys are dates YYYY-MM-DD from its start to the last "
               "complete day"
         : k == WEFT_PARTITIONS_HOURLY
             ? "hourly partitions: keys look like 2026-01-01-05:00, from its start to the "
               "last complete hour"
             : "static partitions: only the keys its YAML declares";
}

int weft_backfill_resolve_keys(const struct weft_backfill_request *req, char ***keys,
                               size_t *n, weft_error *err) {
  const struct weft_job *job = req->job;
  const struct weft_partitions *p = &job->partitions;
  *keys = NULL;
  *n = 0;
  if (p->kind == WEFT_PARTITIONS_NONE)
    return weft_error_set(err, WEFT_EINVALID, "job %s is not partitioned (give it "
                          "'partitions:' in its YAML to backfill it)", job->name);
  if (!req->keys) {
    weft_error e = WEFT_ERROR_INIT;
    if (weft_partitions_keys_between(p, req->from, req->to, req->now_s, keys, n, &e))
      return weft_error_set(err, WEFT_EINVALID, "job %s (%s partitions): %s", job->name,
                            kind_name(p->kind), e.msg);
  } else {
    if (!(*keys = calloc(req->n_keys + 1, sizeof **keys)))
      return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    for (size_t i = 0; i < req->n_keys; i++) {
      const char *k = req->keys[i];
      if (!weft_partitions_has_key(p, k, req->now_s)) {
        weft_partitions_keys_free(*keys, *n);
        *keys = NULL;
        *n = 0;
        return weft_error_set(err, WEFT_EINVALID, "job %s has no partition '%s' (%s)",
                              job->name, k, key_hint(p->kind));
      }
      for (size_t j = 0; j < *n; j++)
        if (!strcmp((*keys)[j], k)) goto dup;
      if (!((*keys)[(*n)++] = strdup(k))) {
        weft_partitions_keys_free(*keys, *n);
        *keys = NULL;
        *n = 0;
        return weft_error_set(err, WEFT_ENOMEM, "out of memory");
      }
    dup:;
    }
  }
  if (*n == 0) return weft_error_set(err, WEFT_EINVALID, "no partition of job %s in that "
                                     "range", job->name);
  if (*n > WEFT_BACKFILL_MAX_KEYS) {
    size_t was = *n;
    weft_partitions_keys_free(*keys, *n);
    *keys = NULL;
    *n = 0;
    return weft_error_set(err, WEFT_EINVALID, "%zu partitions: a backfill takes at most %d",
                          was, WEFT_BACKFILL_MAX_KEYS);
  }
  return WEFT_OK;
}

/* ---- status ---------------------------------------------------------------------- */

const char *weft_backfill_part_status(const struct weft_backfill_part *p) {
  return p->has_run ? weft_run_status_name(p->status) : "missing";
}

void weft_backfill_release(struct weft_backfill *b) {
  for (size_t i = 0; i < b->n_parts; i++) {
    free(b->parts[i].key);
    free(b->parts[i].run_id);
  }
  free(b->parts);
  json_decref(b->doc);
  memset(b, 0, sizeof *b);
}

void weft_backfill_list_release(struct weft_backfill_list *l) {
  for (size_t i = 0; i < l->n; i++) weft_backfill_release(&l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* The latest run of job (in location) per partition key: map key -> row
 * (borrowed from runs, which the caller releases after). */
static int latest_by_partition(struct weft_store *s, const char *job, const char *location,
                               struct weft_run_list *runs, struct weft_map *latest,
                               weft_error *err) {
  struct weft_run_filter f = {.job = job, .location = location, .limit = RUNS_LIMIT};
  int rc = weft_store_run_list(s, &f, runs, err);
  if (rc) return rc;
  /* Newest first: the first row seen per key wins. The map owns copies of
   * the keys (latest_release frees them) and borrows the rows. */
  for (size_t i = 0; i < runs->n; i++) {
    struct weft_run_row *r = &runs->v[i];
    if (!r->tags || !strstr(r->tags, WEFT_PARTITION_TAG)) continue;
    json_t *t = json_loads(r->tags, 0, NULL);
    const char *k = json_string_value(json_object_get(t, WEFT_PARTITION_TAG));
    char *key = k ? strdup(k) : NULL;
    json_decref(t);
    if (!key) continue;
    if (weft_map_get(latest, key)) {
      free(key);
      continue;
    }
    if (weft_map_put(latest, key, r) == WEFT_ENOMEM) {
      free(key);
      return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
  }
  return WEFT_OK;
}

static void latest_release(struct weft_map *latest) {
  size_t pos = 0;
  const char *k;
  void *v;
  while (weft_map_next(latest, &pos, &k, &v)) free((char *)k);
  weft_map_release(latest);
}

/* Fills b from its record doc (stolen). */
static int backfill_fill(struct weft_store *s, json_t *doc, struct weft_backfill *b,
                         weft_error *err) {
  struct weft_run_list runs = {0};
  struct weft_map latest = WEFT_MAP_INIT;
  memset(b, 0, sizeof *b);
  b->doc = doc;
  b->id = json_string_value(json_object_get(doc, "id"));
  b->job = json_string_value(json_object_get(doc, "job"));
  b->location = json_string_value(json_object_get(doc, "location"));
  b->created_ms = (int64_t)json_integer_value(json_object_get(doc, "created_ms"));
  json_t *keys = json_object_get(doc, "keys");
  if (!b->id || !b->job || !json_is_array(keys))
    return weft_error_set(err, WEFT_EINVALID, "malformed backfill record");
  int rc = latest_by_partition(s, b->job, b->location, &runs, &latest, err);
  if (rc) goto done;
  size_t n = json_array_size(keys);
  if (!(b->parts = calloc(n + 1, sizeof *b->parts))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    struct weft_backfill_part *p = &b->parts[b->n_parts];
    const char *k = json_string_value(json_array_get(keys, i));
    if (!k) continue;
    const struct weft_run_row *r = weft_map_get(&latest, k);
    if (!(p->key = strdup(k)) || (r && !(p->run_id = strdup(r->id)))) {
      free(p->key);
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    b->n_parts++;
    p->has_run = r != NULL;
    if (!r) {
      b->n_missing++;
      continue;
    }
    p->status = r->status;
    switch (r->status) {
    case WEFT_RUN_QUEUED: b->n_queued++; break;
    case WEFT_RUN_STARTED:
    case WEFT_RUN_CANCELING: b->n_running++; break;
    case WEFT_RUN_SUCCESS: b->n_succeeded++; break;
    default: b->n_failed++; break;
    }
  }
done:
  latest_release(&latest);
  weft_run_list_release(&runs);
  return rc;
}

int weft_backfill_get(struct weft_store *s, const char *id, struct weft_backfill *out,
                      weft_error *err) {
  char key[256], *text = NULL;
  memset(out, 0, sizeof *out);
  if (snprintf(key, sizeof key, "%s%s", WEFT_BACKFILL_PREFIX, id) >= (int)sizeof key)
    return weft_error_set(err, WEFT_ENOTFOUND, "no backfill %s", id);
  int rc = weft_store_kv_get(s, key, &text, err);
  if (rc == WEFT_ENOTFOUND) return weft_error_set(err, rc, "no backfill %s", id);
  if (rc) return rc;
  json_t *doc = json_loads(text, 0, NULL);
  free(text);
  if (!doc) return weft_error_set(err, WEFT_EINVALID, "backfill %s: malformed record", id);
  rc = backfill_fill(s, doc, out, err);
  if (rc) weft_backfill_release(out);
  return rc;
}

static int newest_first(const void *pa, const void *pb) {
  const struct weft_backfill *a = pa, *b = pb;
  if (a->created_ms != b->created_ms) return a->created_ms > b->created_ms ? -1 : 1;
  return strcmp(b->id, a->id);
}

int weft_backfill_list(struct weft_store *s, struct weft_backfill_list *out, weft_error *err) {
  struct weft_kv_list kv = {0};
  memset(out, 0, sizeof *out);
  int rc = weft_store_kv_list(s, WEFT_BACKFILL_PREFIX, NULL, 0, &kv, err);
  if (rc) return rc;
  if (!(out->v = calloc(kv.n + 1, sizeof *out->v))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < kv.n && !rc; i++) {
    json_t *doc = json_loads(kv.v[i].value, 0, NULL);
    if (!doc) continue; /* a malformed record is skipped, not fatal */
    rc = backfill_fill(s, doc, &out->v[out->n], err);
    out->n++;
  }
  if (!rc) qsort(out->v, out->n, sizeof *out->v, newest_first);
done:
  weft_kv_list_release(&kv);
  if (rc) weft_backfill_list_release(out);
  return rc;
}

json_t *weft_backfill_to_json(const struct weft_backfill *b, int with_parts) {
  json_t *o = json_pack("{s:s, s:s, s:s?, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:b, s:O?}",
                        "id", b->id, "job", b->job, "location", b->location, "created_ms",
                        (json_int_t)b->created_ms, "keys", (json_int_t)b->n_parts, "counts",
                        "queued", (json_int_t)b->n_queued, "running", (json_int_t)b->n_running,
                        "succeeded", (json_int_t)b->n_succeeded, "failed",
                        (json_int_t)b->n_failed, "missing", (json_int_t)b->n_missing, "done",
                        b->n_queued + b->n_running == 0, "tags",
                        json_object_get(b->doc, "tags"));
  if (!o || !with_parts) return o;
  json_t *parts = json_array();
  for (size_t i = 0; parts && i < b->n_parts; i++) {
    const struct weft_backfill_part *p = &b->parts[i];
    if (json_array_append_new(parts, json_pack("{s:s, s:s?, s:s}", "key", p->key, "run_id",
                                               p->run_id, "status",
                                               weft_backfill_part_status(p)))) {
      json_decref(parts);
      parts = NULL;
    }
  }
  if (!parts || json_object_set_new(o, "partitions", parts)) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* ---- launching ------------------------------------------------------------------ */

/* Whether a partition needs a run: its latest run failed or was canceled,
 * or it has none. */
static int needs_run(const struct weft_backfill_part *p) {
  return !p->has_run || p->status == WEFT_RUN_FAILURE || p->status == WEFT_RUN_CANCELED;
}

/* One QUEUED run of partition key. */
static int launch_one(struct weft_instance *inst, const struct weft_job *job, const char *id,
                      const char *key, const json_t *doc, weft_error *err) {
  struct weft__tmpl_vars vars = {.partition_key = key, .store = inst->store};
  struct weft_diags diags = WEFT_DIAGS_INIT;
  struct weft_run_config rcfg = {0};
  json_t *cfg = NULL, *tags = json_object_get(doc, "tags");
  char *text = NULL, *file = NULL, *run_id = NULL;
  const char **sets = NULL;
  json_t *jsets = json_object_get(doc, "sets");
  size_t n_sets = json_array_size(jsets);
  int rc = WEFT_OK, built = 0;
  tags = json_is_object(tags) ? json_deep_copy(tags) : json_object(); /* null: none */
  if (!tags || !(sets = calloc(n_sets + 1, sizeof *sets)) ||
      !(file = weft_str_printf("<run config of partition %s>", key)))
    goto nomem;
  for (size_t i = 0; i < n_sets; i++) sets[i] = json_string_value(json_array_get(jsets, i));
  const json_t *tmpl = json_object_get(doc, "config");
  if ((rc = weft__tmpl_render_json(json_is_object(tmpl) ? tmpl : NULL, &vars, &cfg, err)))
    goto done;
  if (!(text = json_dumps(cfg, JSON_COMPACT))) goto nomem;
  if (weft_run_config_build(job, file, text, strlen(text), sets, n_sets, &rcfg, &diags)) {
    weft_diags_sort(&diags);
    rc = weft_error_set(err, WEFT_EINVALID, "partition %s: invalid run config: %s%s", key,
                        diags.n ? diags.v[0].msg : "?", diags.n > 1 ? " (and more)" : "");
    goto done;
  }
  built = 1;
  if (json_object_set_new(tags, WEFT_BACKFILL_TAG, json_string(id)) ||
      json_object_set_new(tags, WEFT_PARTITION_TAG, json_string(key)))
    goto nomem;
  struct weft_launch l = {.job = job, .rc = &rcfg, .tags = tags};
  if (!(rc = weft_run_create(inst, &l, &run_id, err)))
    rc = weft_run_queue_enqueue(inst, run_id, err); /* any dequeuer starts it */
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
done:
  if (built) weft_run_config_release(&rcfg);
  weft_diags_release(&diags);
  json_decref(cfg);
  json_decref(tags);
  free(text);
  free(file);
  free(sets);
  free(run_id);
  return rc;
}

/* Within the caller's transaction: writes doc as backfill id and a run for
 * every partition of b that needs one. */
static int launch_needed(struct weft_instance *inst, const struct weft_job *job, json_t *doc,
                         const struct weft_backfill *b, size_t *n_launched, weft_error *err) {
  const char *id = json_string_value(json_object_get(doc, "id"));
  char key[256];
  snprintf(key, sizeof key, "%s%s", WEFT_BACKFILL_PREFIX, id);
  json_object_set_new(doc, "launches",
                      json_integer(json_integer_value(json_object_get(doc, "launches")) + 1));
  char *text = json_dumps(doc, JSON_COMPACT);
  if (!text) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_store_kv_set(inst->store, key, text, err);
  free(text);
  for (size_t i = 0; !rc && i < b->n_parts; i++) {
    if (!needs_run(&b->parts[i])) continue;
    if (!(rc = launch_one(inst, job, id, b->parts[i].key, doc, err))) (*n_launched)++;
  }
  return rc;
}

/* A backfill of job over exactly keys, if one exists: its id (caller frees). */
static int find_same(struct weft_store *s, const struct weft_job *job, char **keys, size_t n,
                     char **id, weft_error *err) {
  struct weft_kv_list kv = {0};
  *id = NULL;
  int rc = weft_store_kv_list(s, WEFT_BACKFILL_PREFIX, NULL, 0, &kv, err);
  for (size_t i = 0; !rc && i < kv.n && !*id; i++) {
    json_t *doc = json_loads(kv.v[i].value, 0, NULL);
    json_t *k = json_object_get(doc, "keys");
    const char *loc = json_string_value(json_object_get(doc, "location"));
    const char *jname = json_string_value(json_object_get(doc, "job"));
    int same = json_array_size(k) == n && jname && !strcmp(jname, job->name) &&
               !strcmp(loc ? loc : "", job->location && job->location->name
                                           ? job->location->name : "");
    for (size_t j = 0; same && j < n; j++) {
      const char *kj = json_string_value(json_array_get(k, j));
      same = kj && !strcmp(kj, keys[j]);
    }
    if (same && !(*id = weft_str_dup(json_string_value(json_object_get(doc, "id")))))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    json_decref(doc);
  }
  weft_kv_list_release(&kv);
  return rc;
}

static json_t *new_record(const struct weft_backfill_request *req, const char *id,
                          char **keys, size_t n) {
  json_t *jkeys = json_array(), *sets = json_array();
  for (size_t i = 0; jkeys && i < n; i++) json_array_append_new(jkeys, json_string(keys[i]));
  for (size_t i = 0; sets && i < req->n_sets; i++)
    json_array_append_new(sets, json_string(req->sets[i]));
  const char *loc = req->job->location ? req->job->location->name : NULL;
  return json_pack("{s:s, s:s, s:s?, s:o, s:I, s:O?, s:o, s:O?, s:i}", "id", id, "job",
                   req->job->name, "location", loc, "keys", jkeys, "created_ms",
                   (json_int_t)weft_clock_wall_ms(), "config", req->config, "sets", sets,
                   "tags", req->tags, "launches", 0);
}

/* Writes doc and the needed runs in one transaction. */
static int launch_doc(struct weft_instance *inst, const struct weft_job *job, json_t *doc,
                      size_t *n_launched, weft_error *err) {
  struct weft_backfill b = {0};
  *n_launched = 0;
  int rc = weft_store_begin(inst->store, err);
  if (rc) {
    json_decref(doc);
    return rc;
  }
  if (!(rc = backfill_fill(inst->store, json_incref(doc), &b, err)))
    rc = launch_needed(inst, job, doc, &b, n_launched, err);
  weft_backfill_release(&b);
  json_decref(doc);
  if (rc) {
    weft_store_rollback(inst->store);
    *n_launched = 0;
    return rc;
  }
  return weft_store_commit(inst->store, err);
}

int weft_backfill_launch(struct weft_instance *inst, const struct weft_backfill_request *req,
                         char **id, size_t *n_launched, size_t *n_keys, weft_error *err) {
  char **keys = NULL, *same = NULL;
  size_t n = 0;
  *id = NULL;
  *n_launched = 0;
  int rc = weft_backfill_resolve_keys(req, &keys, &n, err);
  if (rc) return rc;
  if (n_keys) *n_keys = n;
  if ((rc = find_same(inst->store, req->job, keys, n, &same, err))) goto done;
  int found = same != NULL;
  if (!same) {
    char *rid = weft_store_new_run_id();
    if (!rid || !(same = strndup(rid, 8))) {
      free(rid);
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    free(rid);
  }
  json_t *doc = new_record(req, same, keys, n);
  if (doc && found) { /* the same backfill again: it keeps its creation time */
    struct weft_backfill old = {0};
    if ((rc = weft_backfill_get(inst->store, same, &old, err))) {
      json_decref(doc);
      goto done;
    }
    json_object_set(doc, "created_ms", json_object_get(old.doc, "created_ms"));
    json_object_set(doc, "launches", json_object_get(old.doc, "launches"));
    weft_backfill_release(&old);
  }
  if (!doc) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (!(rc = launch_doc(inst, req->job, doc, n_launched, err))) {
    *id = same;
    same = NULL;
  }
done:
  free(same);
  weft_partitions_keys_free(keys, n);
  return rc;
}

int weft_backfill_retry(struct weft_instance *inst, const char *id, const struct weft_job *job,
                        size_t *n_launched, weft_error *err) {
  struct weft_backfill b = {0};
  *n_launched = 0;
  int rc = weft_backfill_get(inst->store, id, &b, err);
  if (rc) return rc;
  json_t *doc = json_incref(b.doc);
  weft_backfill_release(&b);
  return launch_doc(inst, job, doc, n_launched, err);
}
