/* backfill.h: backfills: one QUEUED run per partition key of a partitioned
 * job, recorded as a unit, with per-partition status and relaunch of only
 * the partitions that failed or have no run.
 *
 *   kv "backfill/ID"  {"id","job","location","keys":[...],"created_ms",
 *                      "config":{run config template}|null,"sets":[...],
 *                      "tags":{...},"launches":N}
 *
 * Every run of a backfill carries the tags weft/backfill=ID and
 * weft/partition=KEY; its run config is the template with {{partition_key}}
 * replaced, then the --set overrides. A partition's status is that of the
 * latest run (newest created) of the job with tag weft/partition=KEY,
 * whichever backfill or schedule made it. */
#ifndef WEFT_SCHED_BACKFILL_H
#define WEFT_SCHED_BACKFILL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

#define WEFT_BACKFILL_PREFIX "backfill/"
#define WEFT_BACKFILL_TAG "weft/backfill"
#define WEFT_PARTITION_TAG "weft/partition"
#define WEFT_BACKFILL_MAX_KEYS 10000

/* What to backfill. All pointers borrowed for the call. */
struct weft_backfill_request {
  const struct weft_job *job;
  const char *from, *to;          /* a range of keys (inclusive), or */
  const char *const *keys;        /* a list of keys (from/to NULL) */
  size_t n_keys;
  const json_t *config;           /* run config template (object), or NULL */
  const char *const *sets;        /* PATH=VALUE overrides after rendering */
  size_t n_sets;
  const json_t *tags;             /* extra tags (object of strings), or NULL */
  int64_t now_s;                  /* the clock, for open-ended ranges */
};

/* The state of one partition. */
struct weft_backfill_part {
  char *key;
  char *run_id; /* latest run, or NULL when none */
  int has_run;
  enum weft_run_status status; /* of run_id, when has_run */
};

/* A backfill with the status of its partitions. */
struct weft_backfill {
  json_t *doc; /* the stored record */
  const char *id, *job, *location; /* borrowed from doc */
  int64_t created_ms;
  struct weft_backfill_part *parts; /* in key order, as recorded */
  size_t n_parts;
  size_t n_queued, n_running, n_succeeded, n_failed, n_missing; /* canceled: failed */
};
void weft_backfill_release(struct weft_backfill *b);
struct weft_backfill_list {
  struct weft_backfill *v;
  size_t n;
};
void weft_backfill_list_release(struct weft_backfill_list *l);

/* Resolves the request's keys against job's partitions: unknown key, from
 * after to, or a job without partitions is WEFT_EINVALID with a message
 * naming what. *keys: n strings (weft_partitions_keys_free). */
int weft_backfill_resolve_keys(const struct weft_backfill_request *req, char ***keys,
                               size_t *n, weft_error *err);

/* Launches a backfill of req: a new record, or, when a backfill of the same
 * job over exactly the same keys exists, that one again (with req's config,
 * sets and tags). Only partitions whose latest run failed, was canceled or
 * is missing get a new QUEUED run (succeeded and in-progress ones are left
 * alone). The record and every run are written in one transaction: on any
 * error (an invalid rendered run config names its partition) nothing is.
 * *id (caller frees) and *n_launched receive the outcome; *n_keys (may be
 * NULL) the backfill's size. */
int weft_backfill_launch(struct weft_instance *inst, const struct weft_backfill_request *req,
                         char **id, size_t *n_launched, size_t *n_keys, weft_error *err);

/* `weft backfill retry ID`: relaunches backfill id's failed, canceled and
 * missing partitions with its recorded config; job is the job it names
 * (the caller loaded it). */
int weft_backfill_retry(struct weft_instance *inst, const char *id, const struct weft_job *job,
                        size_t *n_launched, weft_error *err);

/* Reads backfill id with the status of its partitions; WEFT_ENOTFOUND. */
int weft_backfill_get(struct weft_store *s, const char *id, struct weft_backfill *out,
                      weft_error *err);
/* Every backfill, newest first, with status. */
int weft_backfill_list(struct weft_store *s, struct weft_backfill_list *out, weft_error *err);

/* JSON view for the API and `--json`: {id, job, location, created_ms,
 * keys:N, counts:{queued,running,succeeded,failed,missing}, done:bool,
 * tags, partitions:[{key, run_id, status}] (with_parts)}. NULL on ENOMEM. */
json_t *weft_backfill_to_json(const struct weft_backfill *b, int with_parts);

/* "missing" or the run status name of part. */
const char *weft_backfill_part_status(const struct weft_backfill_part *p);

#endif
