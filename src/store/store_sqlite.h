/* store_sqlite.h: the SQLite backend's private state, shared by its files:
 * store_sqlite.c (connection, schema, transactions) and store_sqlite_rows.c. */
#ifndef WEFT_STORE_STORE_SQLITE_H
#define WEFT_STORE_STORE_SQLITE_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

/* Statements prepared once per connection (SQLITE_PREPARE_PERSISTENT) and
 * reused; the SQL texts are in store_sqlite.c, same order. */
enum weft__sq_stmt {
  WEFT__SQ_BEGIN,
  WEFT__SQ_COMMIT,
  WEFT__SQ_ROLLBACK,
  WEFT__SQ_RUN_INSERT,
  WEFT__SQ_RUN_UPDATE,
  WEFT__SQ_RUN_GET,
  WEFT__SQ_RUN_CREATED,
  WEFT__SQ_RUN_COUNT,
  WEFT__SQ_STEP_PUT,
  WEFT__SQ_STEP_LIST,
  WEFT__SQ_EVENT_INSERT,
  WEFT__SQ_EVENT_READ_ALL,
  WEFT__SQ_EVENT_READ_RUN,
  WEFT__SQ_EVENT_READ_STEP,
  WEFT__SQ_EVENT_READ_RUN_STEP,
  WEFT__SQ_EVENT_MAX,
  WEFT__SQ_KV_GET,
  WEFT__SQ_KV_SET,
  WEFT__SQ_KV_DELETE,
  WEFT__SQ_KV_DELETE_PREFIX,
  WEFT__SQ_KV_INSERT_NEW,
  WEFT__SQ_KV_SWAP,
  WEFT__SQ_KV_LIST,
  WEFT__SQ_LEASE_CLAIM,
  WEFT__SQ_LEASE_RENEW,
  WEFT__SQ_LEASE_RELEASE,
  WEFT__SQ_LEASE_GET,
  WEFT__SQ__COUNT
};

/* The columns every run query selects, in the order weft__sq_read_run reads. */
#define WEFT__SQ_RUN_COLUMNS                                                  \
  "id, job, location, status, run_config, tags, parent_run_id, root_run_id, " \
  "code_version, message, created_ms, started_ms, ended_ms, coordinator, "    \
  "heartbeat_ms"

struct weft__sq_wlock; /* store_sqlite_wlock.c: this process's writers of one file */

/* How long a writer waits for the write lock, in SQLite's busy handler or
 * behind another thread of this process. */
#define WEFT__SQ_BUSY_TIMEOUT_MS 60000

/* Statements whose text a call builds (the filters of a run list) kept
 * prepared, by text: the loop lists CANCELING runs at every commit. */
#define WEFT__SQ_BUILT_MAX 8

struct weft__sq_store {
  struct weft_store base; /* first: the wrappers see only this */
  sqlite3 *db;
  char *path;             /* the database file, for messages */
  struct weft__sq_wlock *wlock; /* shared by every connection to the file */
  int wlocked;                  /* this connection holds it (a transaction) */
  sqlite3_stmt *stmt[WEFT__SQ__COUNT]; /* NULL until first used */
  struct weft__sq_built {               /* statements built per call, kept by text */
    char *sql;
    sqlite3_stmt *st;
    uint64_t used; /* the least recently used goes first */
  } built[WEFT__SQ_BUILT_MAX];
  uint64_t built_clock;
};

/* Fills err with "sqlite PATH: OP: sqlite's message" and returns the weft
 * code for sqlite_rc (busy/locked, constraint, nomem, corrupt...). */
int weft__sq_error(struct weft__sq_store *q, weft_error *err, int sqlite_rc,
                   const char *op_fmt, ...) __attribute__((format(printf, 4, 5)));

/* The cached statement id, prepared on first use; reset and unbound. */
int weft__sq_stmt(struct weft__sq_store *q, enum weft__sq_stmt id,
                  sqlite3_stmt **out, weft_error *err);
/* The statement for the SQL text sql, prepared on first use of that text
 * and kept (WEFT__SQ_BUILT_MAX texts a connection); weft__sq_done after. */
int weft__sq_stmt_text(struct weft__sq_store *q, const char *sql, sqlite3_stmt **out,
                       weft_error *err);
/* Resets a statement after use so it holds no read snapshot or lock. */
void weft__sq_done(sqlite3_stmt *st);

/* The write lock of the database file at path, shared by this process's
 * connections to it; NULL when path cannot be stat'ed (then SQLite's busy
 * handler alone serves). */
struct weft__sq_wlock *weft__sq_wlock_of(const char *path);
/* Before BEGIN IMMEDIATE: waits for q's turn, WEFT__SQ_BUSY_TIMEOUT_MS at
 * most; nothing when q holds it already or has no lock. */
int weft__sq_wlock_take(struct weft__sq_store *q, const char *op, weft_error *err);
/* Once q's connection is out of its transaction: the lock goes to the
 * first waiting thread, or is free. */
void weft__sq_wlock_settle(struct weft__sq_store *q);
/* Threads of this process waiting for the write lock of q's file (tests). */
unsigned weft__sq_wlock_waiting(struct weft__sq_store *q);

/* Runs a cached BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int weft__sq_exec_cached(struct weft__sq_store *q, enum weft__sq_stmt id,
                         const char *op, weft_error *err);

/* Copies a text column (NULL stays NULL); WEFT_ENOMEM when out of memory. */
int weft__sq_column_dup(sqlite3_stmt *st, int col, char **out);
/* Reads the WEFT__SQ_RUN_COLUMNS of the current row into r (zeroed first). */
int weft__sq_read_run(struct weft__sq_store *q, sqlite3_stmt *st,
                      struct weft_run_row *r, weft_error *err);

/* Row methods (store_sqlite_rows.c). */
int weft__sq_run_create(struct weft_store *s, const struct weft_run_row *r, weft_error *err);
int weft__sq_run_update(struct weft_store *s, const struct weft_run_row *r, weft_error *err);
int weft__sq_run_get(struct weft_store *s, const char *id, struct weft_run_row *out,
                     weft_error *err);
int weft__sq_run_list(struct weft_store *s, const struct weft_run_filter *f,
                      struct weft_run_list *out, weft_error *err);
int weft__sq_run_count(struct weft_store *s, int64_t counts[], weft_error *err);
int weft__sq_step_put(struct weft_store *s, const struct weft_step_row *st, size_t n,
                      weft_error *err);
int weft__sq_step_list(struct weft_store *s, const char *run_id, struct weft_step_list *out,
                       weft_error *err);
int weft__sq_event_append(struct weft_store *s, struct weft_event_row *ev, size_t n,
                          weft_error *err);
int weft__sq_event_read(struct weft_store *s, const struct weft_event_filter *f,
                        struct weft_event_list *out, weft_error *err);
int weft__sq_event_wait(struct weft_store *s, int64_t after_id, int timeout_ms,
                        weft_error *err);
int weft__sq_kv_get(struct weft_store *s, const char *key, char **value, weft_error *err);
int weft__sq_kv_set(struct weft_store *s, const char *key, const char *value,
                    weft_error *err);
int weft__sq_kv_delete(struct weft_store *s, const char *key, weft_error *err);
int weft__sq_kv_delete_prefix(struct weft_store *s, const char *prefix, weft_error *err);
int weft__sq_kv_delete_many(struct weft_store *s, const char *const *keys, size_t n,
                            weft_error *err);
int weft__sq_kv_insert_many(struct weft_store *s, const char *const *keys,
                            const char *const *values, size_t n, unsigned char *inserted,
                            weft_error *err);
int weft__sq_kv_compare_set(struct weft_store *s, const char *key, const char *expected,
                            const char *value, weft_error *err);
int weft__sq_kv_list(struct weft_store *s, const char *prefix, const char *after_key,
                     int limit, struct weft_kv_list *out, weft_error *err);

/* Search and retention (store_sqlite_purge.c). */
int weft__sq_run_search(struct weft_store *s, const struct weft_run_search *q,
                        struct weft_run_list *out, weft_error *err);
int weft__sq_retention_scan(struct weft_store *s, int64_t ended_before, int64_t after_ended_ms,
                            const char *after_id, int limit,
                            struct weft_retention_cand_list *out, weft_error *err);
int weft__sq_run_mark_get(struct weft_store *s, const char *run_id, int *pinned,
                          unsigned *purged, weft_error *err);
int weft__sq_run_mark_set(struct weft_store *s, const char *run_id, int pinned,
                          unsigned purged_add, weft_error *err);
int weft__sq_event_purge(struct weft_store *s, const char *run_id,
                         enum weft_event_purge_kind kind, int limit, int64_t *n,
                         weft_error *err);
int weft__sq_event_count(struct weft_store *s, const char *run_id,
                         enum weft_event_purge_kind kind, int64_t *n, weft_error *err);
int weft__sq_run_delete(struct weft_store *s, const char *run_id, int64_t *n_steps,
                        weft_error *err);
int weft__sq_materialization_list(struct weft_store *s, const char *asset, int64_t after_id,
                                  int limit, struct weft_event_list *out, weft_error *err);

/* store_sqlite_assets.c: the asset catalog. */
int weft__sq_asset_list(struct weft_store *s, const char *q, const char *after, int limit,
                        struct weft_asset_list *out, weft_error *err);
int weft__sq_asset_get(struct weft_store *s, const char *asset, struct weft_asset_row *out,
                       weft_error *err);
int weft__sq_asset_history(struct weft_store *s, const char *asset, const char *kind,
                           int64_t before_id, int limit, struct weft_asset_event_list *out,
                           weft_error *err);
int weft__sq_asset_partitions(struct weft_store *s, const char *asset, struct weft_kv_list *out,
                              weft_error *err);
int weft__sq_asset_event_add(struct weft_store *s, struct weft_asset_event_row *ev,
                             weft_error *err);
/* Run leases (store_sqlite_lease.c). */
int weft__sq_lease_claim(struct weft_store *s, const char *run_id, const char *owner,
                         const char *steal_from, int64_t now_ms, int64_t ttl_ms,
                         weft_error *err);
int weft__sq_lease_renew(struct weft_store *s, const char *owner, int64_t now_ms,
                         int64_t ttl_ms, struct weft_run_lease_list *held, weft_error *err);
int weft__sq_lease_release(struct weft_store *s, const char *run_id, const char *owner,
                           weft_error *err);
int weft__sq_lease_get(struct weft_store *s, const char *run_id, struct weft_run_lease *out,
                       weft_error *err);

#endif
