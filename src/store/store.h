/* store.h: the storage interface for runs, steps, events and key/value state,
 * a method table in the manner of SQLite's VFS; sqlite and postgres implement it. */
#ifndef WEFT_STORE_STORE_H
#define WEFT_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

/* ---- rows ----------------------------------------------------------------
 * Row structs own their strings (malloc'ed); release them with the matching
 * *_release function. Strings that may be absent are NULL. */

/* Run states:
 *
 *   QUEUED --run starts--> STARTED --all steps done--> SUCCESS | FAILURE
 *      \                      \  \
 *       `--> CANCELED          \  `--timeout: steps canceled--> FAILURE
 *                               \                   (engine/run_deadline.c)
 *                                `--> CANCELING --> CANCELED
 *
 * The engine performs every transition (engine/run.c) and appends the event
 * that reports it in the same transaction as the row update. */
#define WEFT_RUN_STATUS_MAP(X) \
  X(QUEUED, "queued")          \
  X(STARTED, "started")        \
  X(SUCCESS, "success")        \
  X(FAILURE, "failure")        \
  X(CANCELING, "canceling")    \
  X(CANCELED, "canceled")

enum weft_run_status {
#define WEFT__RS_ENUM(n, s) WEFT_RUN_##n,
  WEFT_RUN_STATUS_MAP(WEFT__RS_ENUM)
#undef WEFT__RS_ENUM
  WEFT_RUN__COUNT
};

/* Step states (docs/architecture.md):
 *   QUEUED -> RUNNING -> SUCCEEDED | FAILED | UP_FOR_RETRY -> QUEUED
 *   QUEUED -> SKIPPED (an upstream failed); any non-final -> CANCELED */
#define WEFT_STEP_STATUS_MAP(X)    \
  X(QUEUED, "queued")              \
  X(RUNNING, "running")            \
  X(SUCCEEDED, "succeeded")        \
  X(FAILED, "failed")              \
  X(UP_FOR_RETRY, "up_for_retry")  \
  X(SKIPPED, "skipped")            \
  X(CANCELED, "canceled")

enum weft_step_status {
#define WEFT__SS_ENUM(n, s) WEFT_STEP_##n,
  WEFT_STEP_STATUS_MAP(WEFT__SS_ENUM)
#undef WEFT__SS_ENUM
  WEFT_STEP__COUNT
};

const char *weft_run_status_name(enum weft_run_status s);
int weft_run_status_parse(const char *s, enum weft_run_status *out);
int weft_run_status_is_final(enum weft_run_status s);
const char *weft_step_status_name(enum weft_step_status s);
int weft_step_status_parse(const char *s, enum weft_step_status *out);
int weft_step_status_is_final(enum weft_step_status s);

struct weft_run_row {
  char *id;             /* short unique id, e.g. "8f3a2c1d0b9e" */
  char *job;            /* job name */
  char *location;       /* code location name */
  enum weft_run_status status;
  char *run_config;     /* JSON text of the resolved run config */
  char *tags;           /* JSON object text, "{}" when none */
  char *parent_run_id;  /* re-execution: the run it came from */
  char *root_run_id;    /* first run of a re-execution chain (itself if none) */
  char *code_version;   /* content hash of the location at launch, or NULL */
  char *message;        /* why it failed or was canceled, or NULL */
  int64_t created_ms, started_ms, ended_ms; /* 0 when not yet */
  char *coordinator;    /* "host:pid" of the process driving it, or NULL */
  int64_t heartbeat_ms; /* last sign of life from the coordinator */
};

struct weft_step_row {
  char *run_id;
  char *step;          /* invocation name */
  int attempt;         /* 1-based */
  enum weft_step_status status;
  int64_t started_ms, ended_ms;
  int pid;             /* the attempt's process group leader (kept after it
                          ends, for diagnosis), 0 when no process ran */
  char *message;       /* failure reason, or NULL */
  char *worker;        /* who ran it ("host:pid"), or NULL */
};

/* Events are the log of a run: every state change, log line, output and
 * materialization. ids increase monotonically across the whole store, so an
 * id is a cursor. */
struct weft_event_row {
  int64_t id;          /* assigned by append */
  char *run_id;
  char *step;          /* NULL for run-level events */
  char *type;          /* "run_started", "step_succeeded", "log", ... */
  int64_t ts_ms;
  char *payload;       /* JSON object text */
};

void weft_run_row_release(struct weft_run_row *r);
/* A deep copy of from into to (release it with weft_run_row_release):
 * WEFT_OK, or WEFT_ENOMEM with to empty. */
int weft_run_row_copy(const struct weft_run_row *from, struct weft_run_row *to);
void weft_step_row_release(struct weft_step_row *s);
void weft_event_row_release(struct weft_event_row *e);

/* A list filled by the store; free with the matching *_list_release. */
/* One key/value entry, as kv_list returns it. */
struct weft_kv_row {
  char *key;
  char *value;
  int64_t updated_ms; /* last write, wall clock */
};
void weft_kv_row_release(struct weft_kv_row *r);

struct weft_run_list { struct weft_run_row *v; size_t n; };
struct weft_step_list { struct weft_step_row *v; size_t n; };
struct weft_event_list { struct weft_event_row *v; size_t n; };
void weft_run_list_release(struct weft_run_list *l);
void weft_step_list_release(struct weft_step_list *l);
void weft_event_list_release(struct weft_event_list *l);
struct weft_kv_list { struct weft_kv_row *v; size_t n; };
void weft_kv_list_release(struct weft_kv_list *l);

struct weft_run_filter {
  const char *job;       /* NULL: any */
  const char *location;  /* NULL: any */
  int status_mask;       /* bit (1 << status) per accepted status; 0: any */
  const char *before_id; /* cursor: runs created before this run; NULL: newest */
  int limit;             /* 0: 50 */
};

struct weft_event_filter {
  const char *run_id;   /* NULL: every run */
  const char *step;     /* NULL: any */
  int64_t after_id;     /* cursor: events with id > after_id */
  int limit;            /* 0: no limit */
};

/* A search of the runs list (xRunSearch): every filter set must hold.
 * Newest first, by (created_ms, id). A page's last run is the cursor of the
 * next: before_created_ms and before_id (weft_run_cursor_format/parse). */
struct weft_run_search {
  const char *job;        /* NULL: any */
  const char *location;   /* NULL: any */
  int status_mask;        /* bit (1 << status) per accepted status; 0: any */
  const char *id_prefix;  /* NULL or "": any */
  const char *const *tag_keys, *const *tag_values; /* n_tags pairs: tags.KEY == VALUE */
  size_t n_tags;
  int64_t since_ms, until_ms; /* created in [since, until); 0: unbounded */
  int64_t before_created_ms;  /* cursor (with before_id); before_id NULL: first page */
  const char *before_id;
  int limit;                  /* 0: 50 */
};

/* ---- retention (store_purge.c) ---------------------------------------------
 *
 * A run's marks (table run_marks): pinned runs are never purged, and the
 * purged bits say which parts of a kept run retention already removed, so
 * a later pass does not look at them again. */
#define WEFT_PURGED_DEBUG 1u     /* its debug log events */
#define WEFT_PURGED_LOGS 2u      /* its compute log files */
#define WEFT_PURGED_ARTIFACTS 4u /* its outputs in the artifact store */

/* A final run as retention sees it (xRetentionScan). */
struct weft_retention_cand {
  char *id, *job;
  char *parent_run_id; /* NULL unless it is a re-execution */
  enum weft_run_status status;
  int64_t created_ms, ended_ms;
  int pinned;
  unsigned purged;  /* WEFT_PURGED_* bits */
  int64_t children; /* runs re-executed from it that still exist */
};
struct weft_retention_cand_list { struct weft_retention_cand *v; size_t n; };
void weft_retention_cand_list_release(struct weft_retention_cand_list *l);

/* What xEventPurge removes. */
enum weft_event_purge_kind {
  WEFT_EVENTS_ALL,  /* every event of the run (materializations are kept as summary rows) */
  WEFT_EVENTS_DEBUG /* only its "log" events whose payload level is "debug" */
};

/* ---- the asset catalog (store_assets.c) -------------------------------------
 *
 * Every materialization and check event a step reports is copied, by a
 * trigger in the event's own transaction, into asset_events (kept past
 * retention) and the latest materialization per asset into assets (and per
 * partition into asset_partitions): the catalog reads summary rows. */

/* An asset's latest materialization (xAssetList, xAssetGet). */
struct weft_asset_row {
  char *asset;
  int64_t last_id;  /* its asset_events id */
  int64_t ts_ms;
  char *run_id, *job, *step, *partition_key, *code_version; /* may be NULL */
  char *payload;    /* the event's payload: {"asset","metadata",...} */
  int64_t materializations; /* how many so far */
};
/* One row of an asset's history (xAssetHistory). kind: "materialization",
 * "check" (name, passed 1/0) or "freshness_missed". */
struct weft_asset_event_row {
  int64_t id, event_id; /* event_id: the run event's id, 0 for none */
  char *asset, *kind, *name;
  int passed;           /* checks: 1 or 0; -1 otherwise */
  char *run_id, *job, *step, *partition_key, *code_version;
  int64_t ts_ms;
  char *payload;
};
struct weft_asset_list { struct weft_asset_row *v; size_t n; };
struct weft_asset_event_list { struct weft_asset_event_row *v; size_t n; };
void weft_asset_row_release(struct weft_asset_row *r);
void weft_asset_list_release(struct weft_asset_list *l);
void weft_asset_event_list_release(struct weft_asset_event_list *l);
/* A run's lease: which coordinator drives it, until when (wall ms). */
struct weft_run_lease {
  char *run_id;
  char *owner;        /* a coordinator id (engine.h: weft_coordinator_id) or a hand-off token */
  int64_t expires_ms;
  int64_t acquired_ms; /* when this owner took it */
};
struct weft_run_lease_list {
  struct weft_run_lease *v;
  size_t n;
};
void weft_run_lease_release(struct weft_run_lease *l);
void weft_run_lease_list_release(struct weft_run_lease_list *l);

/* ---- the method table ------------------------------------------------------ */

struct weft_store;

/* What weft_store_notify rings: a process that polls the store for
 * something another writes (a coordinator service its inbox) waits on the
 * channel instead. */
enum weft_store_channel {
  WEFT_STORE_CHANNEL_INBOX, /* a run was handed to the coordinator services */
};

struct weft_store_methods {
  int version; /* 1 */
  const char *name; /* "sqlite", "postgres" */
  size_t instance_size; /* bytes to allocate for the backend's struct */
  int (*xOpen)(struct weft_store *s, const char *url, weft_error *err);
  void (*xClose)(struct weft_store *s);
  /* Transactions nest by count: only the outermost begin/commit touch the
   * database. Everything between begin and commit becomes visible at once. */
  int (*xBegin)(struct weft_store *s, weft_error *err);
  int (*xCommit)(struct weft_store *s, weft_error *err);
  void (*xRollback)(struct weft_store *s);

  int (*xRunCreate)(struct weft_store *s, const struct weft_run_row *r, weft_error *err);
  /* Replaces the mutable fields (status, message, times, coordinator,
   * heartbeat) of run r->id. WEFT_ENOTFOUND when there is no such run. */
  int (*xRunUpdate)(struct weft_store *s, const struct weft_run_row *r, weft_error *err);
  /* xRunUpdate of rows[0..n), no two with one id, all or none: one
   * statement on PostgreSQL, where each is a round trip under the write
   * lock (a coordinator loop's commit updates many runs). Optional: NULL
   * updates them one by one in a transaction. WEFT_ENOTFOUND names the
   * first row whose run is missing. */
  int (*xRunUpdateMany)(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                        weft_error *err);
  /* xRunCreate of rows[0..n), no two with one id, all or none: one
   * statement on PostgreSQL (a scheduler's chunk of due ticks creates
   * many runs). Optional: NULL creates them one by one in a transaction.
   * WEFT_ECONFLICT names the first run that already exists. */
  int (*xRunCreateMany)(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                        weft_error *err);
  int (*xRunGet)(struct weft_store *s, const char *id, struct weft_run_row *out, weft_error *err);
  /* Newest first. */
  int (*xRunList)(struct weft_store *s, const struct weft_run_filter *f,
                  struct weft_run_list *out, weft_error *err);
  /* Counts by status into counts[WEFT_RUN__COUNT]. */
  int (*xRunCount)(struct weft_store *s, int64_t counts[], weft_error *err);

  /* Inserts or replaces the n rows keyed by (run_id, step, attempt), all or
   * none (in one transaction outside the caller's). No two rows share a key
   * (weft_store_step_put_many keeps the last). */
  int (*xStepPut)(struct weft_store *s, const struct weft_step_row *st, size_t n,
                  weft_error *err);
  /* Every attempt of every step of the run, by step then attempt. */
  int (*xStepList)(struct weft_store *s, const char *run_id, struct weft_step_list *out,
                   weft_error *err);

  /* Appends n events in one transaction and writes their ids into ev[i].id. */
  int (*xEventAppend)(struct weft_store *s, struct weft_event_row *ev, size_t n,
                      weft_error *err);
  /* Ascending id order. */
  int (*xEventRead)(struct weft_store *s, const struct weft_event_filter *f,
                    struct weft_event_list *out, weft_error *err);
  /* Blocks until an event with id > after_id exists (returns 1), or
   * timeout_ms passes (returns 0), or fails (< 0). */
  int (*xEventWait)(struct weft_store *s, int64_t after_id, int timeout_ms, weft_error *err);

  /* Key/value state. Get fills *value (caller frees) or returns WEFT_ENOTFOUND. */
  int (*xKvGet)(struct weft_store *s, const char *key, char **value, weft_error *err);
  int (*xKvSet)(struct weft_store *s, const char *key, const char *value, weft_error *err);
  /* Deleting an absent key is not an error (WEFT_OK). */
  int (*xKvDelete)(struct weft_store *s, const char *key, weft_error *err);
  /* Deletes keys[0..n) (absent ones are fine): one statement on PostgreSQL. */
  int (*xKvDeleteMany)(struct weft_store *s, const char *const *keys, size_t n, weft_error *err);
  /* Deletes every key starting with prefix (bytewise; never ""). */
  int (*xKvDeletePrefix)(struct weft_store *s, const char *prefix, weft_error *err);
  /* Sets key to value only if it is absent (returns WEFT_OK) or already holds
   * expected (compare-and-set); else WEFT_ECONFLICT. expected NULL: absent. */
  int (*xKvCompareSet)(struct weft_store *s, const char *key, const char *expected,
                       const char *value, weft_error *err);
  /* For each i: sets keys[i] to values[i] only if it is absent; inserted[i]
   * says whether it did (1) or the key was there (0). One statement on
   * PostgreSQL; a key given twice is inserted once, the first time. */
  int (*xKvInsertMany)(struct weft_store *s, const char *const *keys,
                       const char *const *values, size_t n, unsigned char *inserted,
                       weft_error *err);
  /* Entries whose key starts with prefix and sorts (bytewise) after
   * after_key (NULL: from the first), ascending, at most limit (0: all). */
  /* xKvCompareSet of keys[0..n) (no two alike; expected[i] NULL: absent),
   * all or none: the scheduler's tick records and cursors of a chunk.
   * Optional: NULL sets them one by one in a transaction. WEFT_ECONFLICT
   * names the first key that did not match. */
  int (*xKvCompareSetMany)(struct weft_store *s, const char *const *keys,
                           const char *const *expected, const char *const *values, size_t n,
                           weft_error *err);
  int (*xKvList)(struct weft_store *s, const char *prefix, const char *after_key,
                 int limit, struct weft_kv_list *out, weft_error *err);

  /* ---- search and retention (store_*_purge.c) ---- */
  int (*xRunSearch)(struct weft_store *s, const struct weft_run_search *q,
                    struct weft_run_list *out, weft_error *err);
  /* Final runs (success, failure, canceled) with 0 < ended_ms < ended_before,
   * after the cursor (after_ended_ms, after_id; after_id NULL: from the
   * oldest), oldest end first, at most limit. */
  int (*xRetentionScan)(struct weft_store *s, int64_t ended_before, int64_t after_ended_ms,
                        const char *after_id, int limit,
                        struct weft_retention_cand_list *out, weft_error *err);
  /* A run's marks; 0 and 0 when it has none. */
  int (*xRunMarkGet)(struct weft_store *s, const char *run_id, int *pinned,
                     unsigned *purged, weft_error *err);
  /* Sets pinned (unless < 0) and adds the purged bits; WEFT_ENOTFOUND when
   * there is no such run. */
  int (*xRunMarkSet)(struct weft_store *s, const char *run_id, int pinned,
                     unsigned purged_add, weft_error *err);
  /* Deletes at most limit of the run's events of that kind, oldest first,
   * in one transaction (the caller's when one is open); a materialization
   * is first copied to the summary table. *n: how many went. */
  int (*xEventPurge)(struct weft_store *s, const char *run_id, enum weft_event_purge_kind kind,
                     int limit, int64_t *n, weft_error *err);
  /* How many events of that kind the run has. */
  int (*xEventCount)(struct weft_store *s, const char *run_id, enum weft_event_purge_kind kind,
                     int64_t *n, weft_error *err);
  /* Deletes the run row, its steps, marks and hooks/RUN/ keys, and its
   * remaining events. WEFT_ENOTFOUND when absent; WEFT_ECONFLICT (nothing
   * deleted) when it is not final, is pinned, or a re-execution of it
   * exists. *n_steps (may be NULL): step rows removed. */
  int (*xRunDelete)(struct weft_store *s, const char *run_id, int64_t *n_steps,
                    weft_error *err);
  /* Summary rows of purged runs' materializations (as events: their
   * original id, run_id, step, type "materialization", ts_ms, payload),
   * of asset (NULL: every asset), id > after_id, ascending, at most limit
   * (0: all). */
  int (*xMaterializationList)(struct weft_store *s, const char *asset, int64_t after_id,
                              int limit, struct weft_event_list *out, weft_error *err);

  /* ---- the asset catalog (store_*_assets.c) ---- */
  /* Assets whose key contains q (NULL or "": all), key > after (NULL:
   * from the first), ascending by key, at most limit (> 0). */
  int (*xAssetList)(struct weft_store *s, const char *q, const char *after, int limit,
                    struct weft_asset_list *out, weft_error *err);
  /* WEFT_ENOTFOUND when the asset was never materialized. */
  int (*xAssetGet)(struct weft_store *s, const char *asset, struct weft_asset_row *out,
                   weft_error *err);
  /* The asset's history rows of kind (NULL: every kind) with id < before_id
   * (0: from the newest), newest first, at most limit (> 0). */
  int (*xAssetHistory)(struct weft_store *s, const char *asset, const char *kind,
                       int64_t before_id, int limit, struct weft_asset_event_list *out,
                       weft_error *err);
  /* Materialized partitions: key = partition, value = asset_events id
   * (decimal), updated_ms = when, ascending by partition. */
  int (*xAssetPartitions)(struct weft_store *s, const char *asset, struct weft_kv_list *out,
                          weft_error *err);
  /* Records a row that no run event carries (freshness_missed): asset,
   * kind, ts_ms, payload; sets ev->id. */
  int (*xAssetEventAdd)(struct weft_store *s, struct weft_asset_event_row *ev, weft_error *err);
  /* ---- run leases (store_*_lease.c; store_lease.c has the wrappers) ---- */
  /* Takes run_id's lease for owner until now_ms + ttl_ms, in one
   * conditional statement: when nobody holds it, owner already does, it
   * expired (expires_ms <= now_ms) and steal_from is NULL, or steal_from
   * holds it. A hand-off (steal_from given) never takes an expired lease
   * of another: an adopter whose token was handed on late would take it
   * from a live coordinator stalled past its expiry (only a sweep judges
   * an owner gone). WEFT_ECONFLICT (nothing changed) when another owner
   * holds it. */
  int (*xLeaseClaim)(struct weft_store *s, const char *run_id, const char *owner,
                     const char *steal_from, int64_t now_ms, int64_t ttl_ms, weft_error *err);
  /* The first claims of a coordinator loop's new runs, in one statement
   * on PostgreSQL: for each of run_ids[0..n) (no two alike), as
   * xLeaseClaim with no steal_from, but only while the run is still
   * queued; outcome[i] is a WEFT_LEASE_* below. Optional: NULL reads and
   * claims them one by one. */
  int (*xLeaseClaimMany)(struct weft_store *s, const char *const *run_ids, size_t n,
                         const char *owner, int64_t now_ms, int64_t ttl_ms,
                         unsigned char *outcome, weft_error *err);
  /* Extends every lease owner holds to now_ms + ttl_ms in one statement;
   * *held lists them (a run missing from it was taken by another). */
  int (*xLeaseRenew)(struct weft_store *s, const char *owner, int64_t now_ms, int64_t ttl_ms,
                     struct weft_run_lease_list *held, weft_error *err);
  /* Drops run_id's lease if owner holds it (else nothing, WEFT_OK). */
  int (*xLeaseRelease)(struct weft_store *s, const char *run_id, const char *owner,
                       weft_error *err);
  /* xLeaseRelease of each of run_ids[0..n), in one statement on
   * PostgreSQL. Optional: NULL releases them one by one. */
  int (*xLeaseReleaseMany)(struct weft_store *s, const char *const *run_ids, size_t n,
                           const char *owner, weft_error *err);
  /* WEFT_ENOTFOUND when the run has no lease. */
  int (*xLeaseGet)(struct weft_store *s, const char *run_id, struct weft_run_lease *out,
                   weft_error *err);
  /* ---- wake-ups between processes (optional: NULL in a backend without
   * them, weft_store_can_notify says 0) ---- */
  /* Rings ch when the open transaction commits (outside one: at once). */
  int (*xNotify)(struct weft_store *s, enum weft_store_channel ch, weft_error *err);
  /* 1: ch rang, or the handle (re)subscribed and what rang before is
   * unknown; 0: timeout_ms passed; < 0: failed. */
  int (*xNotifyWait)(struct weft_store *s, enum weft_store_channel ch, int timeout_ms,
                     weft_error *err);
};

/* Every backend embeds this as its first member. */
struct weft_store {
  const struct weft_store_methods *m;
  int tx_depth; /* maintained by the wrappers */
  /* Set by a rollback at depth > 1: the outermost commit then rolls the
   * whole transaction back and fails with WEFT_ECONFLICT. Wrappers only. */
  int tx_rollback_only;
};

/* ---- wrappers: the only callers of the method table ------------------------- */

/* Opens the store named by url: "sqlite:PATH" or a plain path (sqlite),
 * "postgresql://..." (postgres, when built in). *out is NULL on failure.
 * Opening applies forward migrations and refuses a newer schema. */
int weft_store_open(const char *url, struct weft_store **out, weft_error *err);
void weft_store_close(struct weft_store *s); /* NULL is a no-op */
/* Registers a backend; url schemes map to backend names. */
int weft_store_register(const struct weft_store_methods *m);
const struct weft_store_methods *weft_store_find(const char *name);

int weft_store_begin(struct weft_store *s, weft_error *err);
int weft_store_commit(struct weft_store *s, weft_error *err);

/* Outermost commits of this process (every store it opened), for /metrics:
 * how long the backend's commit took, per bucket of weft_store_commit_le
 * (seconds; a commit lands in the first bucket that holds it, the last
 * counts the rest), their count, total seconds and failures. */
#define WEFT_STORE_COMMIT_BUCKETS 10
extern const double weft_store_commit_le[WEFT_STORE_COMMIT_BUCKETS];
struct weft_store_commit_stats {
  uint64_t buckets[WEFT_STORE_COMMIT_BUCKETS + 1]; /* the last: above every bound */
  uint64_t count, failures;
  double sum_s;
};
void weft_store_commit_stats_get(struct weft_store_commit_stats *out);
void weft_store_rollback(struct weft_store *s);
int weft_store_run_create(struct weft_store *s, const struct weft_run_row *r, weft_error *err);
int weft_store_run_update(struct weft_store *s, const struct weft_run_row *r, weft_error *err);
/* The runs of rows[0..n) (no two with one id) updated at once: xRunUpdateMany. */
int weft_store_run_update_many(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                               weft_error *err);
/* The runs of rows[0..n) (no two with one id) created at once, all or none:
 * xRunCreateMany. */
int weft_store_run_create_many(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                               weft_error *err);
int weft_store_run_get(struct weft_store *s, const char *id, struct weft_run_row *out,
                       weft_error *err);
int weft_store_run_list(struct weft_store *s, const struct weft_run_filter *f,
                        struct weft_run_list *out, weft_error *err);
int weft_store_run_count(struct weft_store *s, int64_t counts[], weft_error *err);
int weft_store_step_put(struct weft_store *s, const struct weft_step_row *st, weft_error *err);
/* n rows at once (one round trip on PostgreSQL); of rows with the same
 * (run_id, step, attempt) the last wins, as if put one after the other. */
int weft_store_step_put_many(struct weft_store *s, const struct weft_step_row *st, size_t n,
                             weft_error *err);
int weft_store_step_list(struct weft_store *s, const char *run_id, struct weft_step_list *out,
                         weft_error *err);
int weft_store_event_append(struct weft_store *s, struct weft_event_row *ev, size_t n,
                            weft_error *err);
int weft_store_event_read(struct weft_store *s, const struct weft_event_filter *f,
                          struct weft_event_list *out, weft_error *err);
/* Refused (WEFT_EUSAGE) inside a transaction, which would hold off the very
 * writers it waits for. */
int weft_store_event_wait(struct weft_store *s, int64_t after_id, int timeout_ms,
                          weft_error *err);
/* Wake-ups between processes (PostgreSQL LISTEN/NOTIFY). A backend
 * without them (SQLite: a local file, cheap to poll) says 0 here; notify
 * is then a no-op and the waiters poll. */
int weft_store_can_notify(const struct weft_store *s);
/* Rings ch when the open transaction commits, only if it does (outside a
 * transaction: at once). */
int weft_store_notify(struct weft_store *s, enum weft_store_channel ch, weft_error *err);
/* Waits for ch on this handle, which stays subscribed between calls (give
 * the waiter a handle of its own). 1: rang, or (re)subscribed, when what
 * rang before is unknown: look; 0: timeout_ms passed; < 0: failed.
 * WEFT_EUSAGE in a transaction or where weft_store_can_notify says 0. */
int weft_store_notify_wait(struct weft_store *s, enum weft_store_channel ch, int timeout_ms,
                           weft_error *err);
int weft_store_kv_get(struct weft_store *s, const char *key, char **value, weft_error *err);
int weft_store_kv_set(struct weft_store *s, const char *key, const char *value, weft_error *err);
int weft_store_kv_delete(struct weft_store *s, const char *key, weft_error *err);
int weft_store_kv_delete_many(struct weft_store *s, const char *const *keys, size_t n,
                              weft_error *err);
/* Deletes every entry whose key starts with prefix, in one statement (a
 * run's attempt results at its end). An empty prefix is refused
 * (WEFT_EINVALID): it would delete everything. */
int weft_store_kv_delete_prefix(struct weft_store *s, const char *prefix, weft_error *err);
int weft_store_kv_compare_set(struct weft_store *s, const char *key, const char *expected,
                              const char *value, weft_error *err);
/* Compare-and-set of keys[0..n) (no two alike) at once, all or none: each
 * expected[i] the exact value (NULL: absent). WEFT_ECONFLICT names the
 * first key that did not match, and nothing is set (inside a caller's
 * transaction, that transaction can then only roll back). Two statements
 * on PostgreSQL for any n: the absent keys' insert, the others' swap
 * (xKvCompareSetMany). */
int weft_store_kv_compare_set_many(struct weft_store *s, const char *const *keys,
                                   const char *const *expected, const char *const *values,
                                   size_t n, weft_error *err);
/* Inserts each absent key of keys[0..n) with its value, in one round trip
 * (compare-and-set with "absent" for many keys: a queue worker's batch of
 * results); inserted[i] (caller's, n bytes) says which went in. */
int weft_store_kv_insert_many(struct weft_store *s, const char *const *keys,
                              const char *const *values, size_t n, unsigned char *inserted,
                              weft_error *err);
/* The entries under prefix ("" for all), in bytewise key order, after
 * after_key (NULL: from the first; pass the last key seen to page), at most
 * limit (0: no limit). Keys are compared as bytes on every backend, so
 * zero-padded numbers in keys sort numerically. *out is the caller's:
 * release it with weft_kv_list_release. */
int weft_store_kv_list(struct weft_store *s, const char *prefix, const char *after_key,
                       int limit, struct weft_kv_list *out, weft_error *err);

/* Search and retention: the wrappers of the methods above (store_purge.c). */
int weft_store_run_search(struct weft_store *s, const struct weft_run_search *q,
                          struct weft_run_list *out, weft_error *err);
int weft_store_retention_scan(struct weft_store *s, int64_t ended_before,
                              int64_t after_ended_ms, const char *after_id, int limit,
                              struct weft_retention_cand_list *out, weft_error *err);
int weft_store_run_mark_get(struct weft_store *s, const char *run_id, int *pinned,
                            unsigned *purged, weft_error *err);
int weft_store_run_mark_set(struct weft_store *s, const char *run_id, int pinned,
                            unsigned purged_add, weft_error *err);
int weft_store_event_purge(struct weft_store *s, const char *run_id,
                           enum weft_event_purge_kind kind, int limit, int64_t *n,
                           weft_error *err);
int weft_store_event_count(struct weft_store *s, const char *run_id,
                           enum weft_event_purge_kind kind, int64_t *n, weft_error *err);
int weft_store_run_delete(struct weft_store *s, const char *run_id, int64_t *n_steps,
                          weft_error *err);
int weft_store_materialization_list(struct weft_store *s, const char *asset,
                                    int64_t after_id, int limit,
                                    struct weft_event_list *out, weft_error *err);

/* The asset catalog: the wrappers of the methods above (store_assets.c). */
int weft_store_asset_list(struct weft_store *s, const char *q, const char *after, int limit,
                          struct weft_asset_list *out, weft_error *err);
int weft_store_asset_get(struct weft_store *s, const char *asset, struct weft_asset_row *out,
                         weft_error *err);
int weft_store_asset_history(struct weft_store *s, const char *asset, const char *kind,
                             int64_t before_id, int limit, struct weft_asset_event_list *out,
                             weft_error *err);
int weft_store_asset_partitions(struct weft_store *s, const char *asset,
                                struct weft_kv_list *out, weft_error *err);
int weft_store_asset_event_add(struct weft_store *s, struct weft_asset_event_row *ev,
                               weft_error *err);
/* Run leases: the wrappers of xLease* above (store_lease.c). */
int weft_store_lease_claim(struct weft_store *s, const char *run_id, const char *owner,
                           const char *steal_from, int64_t now_ms, int64_t ttl_ms,
                           weft_error *err);
int weft_store_lease_renew(struct weft_store *s, const char *owner, int64_t now_ms,
                           int64_t ttl_ms, struct weft_run_lease_list *held, weft_error *err);
int weft_store_lease_release(struct weft_store *s, const char *run_id, const char *owner,
                             weft_error *err);
/* Outcomes of weft_store_lease_claim_many. */
enum {
  WEFT_LEASE_HELD = 0,      /* another owner holds it: nothing changed */
  WEFT_LEASE_CLAIMED = 1,   /* owner holds it now */
  WEFT_LEASE_NOT_QUEUED = 2 /* the run is gone or no longer queued: untouched */
};
int weft_store_lease_claim_many(struct weft_store *s, const char *const *run_ids, size_t n,
                                const char *owner, int64_t now_ms, int64_t ttl_ms,
                                unsigned char *outcome, weft_error *err);
int weft_store_lease_release_many(struct weft_store *s, const char *const *run_ids, size_t n,
                                  const char *owner, weft_error *err);
int weft_store_lease_get(struct weft_store *s, const char *run_id, struct weft_run_lease *out,
                         weft_error *err);

/* The cursor of a runs page: "CREATED_MS.ID" of its last run (caller
 * frees; NULL when out of memory), and back (WEFT_EINVALID when text is
 * not one; *id points into text). */
char *weft_run_cursor_format(const struct weft_run_row *last);
int weft_run_cursor_parse(const char *text, int64_t *created_ms, const char **id);

/* A time of a runs search (since/until), as the CLI and the API take it:
 * "2026-12-06", "2026-12-06T08:30[:15][Z]" (UTC), milliseconds since the
 * epoch (13 digits or more), or an age before now_ms: "90s", "30m", "12h",
 * "7d". WEFT_EINVALID when it is none of those. */
int weft_run_time_parse(const char *text, int64_t now_ms, int64_t *out);

/* A new random run id (12 lowercase hex characters); caller frees. NULL
 * only when out of memory or the kernel has no getrandom(2). */
char *weft_store_new_run_id(void);

/* Transaction nesting, as the wrappers implement it:
 *
 *   begin at depth 0    xBegin (BEGIN IMMEDIATE), depth 1
 *   begin at depth n    depth n+1, nothing touches the database
 *   commit at depth n>1 depth n-1
 *   commit at depth 1   xCommit; on failure xRollback: no transaction stays open
 *   rollback at n>1     depth n-1 and the transaction becomes rollback-only:
 *                       the outermost commit rolls back, returns WEFT_ECONFLICT
 *   rollback at depth 1 xRollback, depth 0
 *   commit at depth 0   WEFT_EUSAGE; rollback at depth 0 is a no-op
 *
 * xOpen must release whatever it set up when it fails: the wrapper then only
 * frees the instance. weft_store_close rolls back an open transaction. */

/* Fault injection for tests of the layers above: the nth wrapper call from
 * now on (1 = the next one; begin, commit and every data call count; close and
 * rollback do not) fails with code and the message "injected store fault",
 * once. nth 0 disarms. Process-wide, not thread-safe: tests only. */
void weft_store_fault_inject(long nth, int code);

#endif
