/* store_pg.h: the PostgreSQL backend's private state, shared by its files:
 * store_pg.c (open, schema), store_pg_connect.c (connecting, the retry
 * policy, error messages), store_pg_conn.c (statements, transactions,
 * reconnection, the replay journal, LISTEN/NOTIFY), store_pg_rows.c (data
 * methods) and store_pg_schema.c (migrations). */
#ifndef WEFT_STORE_STORE_PG_H
#define WEFT_STORE_STORE_PG_H

#include <libpq-fe.h>
#include <stdint.h>

#include "store/store.h"

/* Statements prepared once per connection (on first use) and reused; the SQL
 * texts are in store_pg_conn.c, same order. The run list has one statement
 * per combination of filters (WEFT__PG_RUN_LIST + a mask of RL_* bits), so
 * each is a plain indexed query rather than "($1 IS NULL OR ...)". */
enum weft__pg_stmt {
  WEFT__PG_RUN_INSERT,
  WEFT__PG_RUN_UPDATE,
  WEFT__PG_RUN_GET,
  WEFT__PG_RUN_CREATED,
  WEFT__PG_RUN_COUNT,
  WEFT__PG_STEP_PUT,
  WEFT__PG_STEP_LIST,
  WEFT__PG_EVENT_APPEND,
  WEFT__PG_EVENT_APPEND_IDS, /* replay only: the same events with their first ids */
  WEFT__PG_EVENT_SEQ_RAISE,  /* replay only: keeps the id sequence past reused ids */
  WEFT__PG_EVENT_READ_ALL,
  WEFT__PG_EVENT_READ_RUN,
  WEFT__PG_EVENT_READ_STEP,
  WEFT__PG_EVENT_READ_RUN_STEP,
  WEFT__PG_EVENT_MAX,
  WEFT__PG_KV_GET,
  WEFT__PG_KV_SET,
  WEFT__PG_KV_DELETE,
  WEFT__PG_KV_DELETE_PREFIX,
  WEFT__PG_KV_INSERT_NEW,
  WEFT__PG_KV_DELETE_MANY,
  WEFT__PG_KV_INSERT_MANY,
  WEFT__PG_KV_SWAP,
  WEFT__PG_KV_LIST,
  WEFT__PG_KV_LIST_ANY,          /* a prefix without an ASCII end (weft__store_prefix_end) */
  WEFT__PG_KV_DELETE_PREFIX_ANY, /* the same */
  WEFT__PG_TOKEN_GET,
  WEFT__PG_TOKEN_PUT,
  WEFT__PG_RUN_LIST, /* + mask, 16 statements */
  /* Search and retention (their SQL in store_pg_purge.c). */
  WEFT__PG_RUN_SEARCH = WEFT__PG_RUN_LIST + 16,
  WEFT__PG_RETENTION_SCAN,
  WEFT__PG_MARK_GET,
  WEFT__PG_MARK_SET,
  WEFT__PG_EVENT_PURGE_ALL,
  WEFT__PG_EVENT_PURGE_DEBUG,
  WEFT__PG_EVENT_COUNT_ALL,
  WEFT__PG_EVENT_COUNT_DEBUG,
  WEFT__PG_RUN_DELETE_CHECK,
  WEFT__PG_RUN_DELETE_EVENTS,
  WEFT__PG_RUN_DELETE_STEPS,
  WEFT__PG_RUN_DELETE_REST,
  WEFT__PG_MAT_LIST,
  /* The asset catalog (store_pg_assets.c). */
  WEFT__PG_ASSET_LIST,
  WEFT__PG_ASSET_GET,
  WEFT__PG_ASSET_HISTORY,
  WEFT__PG_ASSET_PARTITIONS,
  WEFT__PG_ASSET_EVENT_ADD,
  /* Run leases (their SQL in store_pg_purge.c's table, code in store_pg_lease.c). */
  WEFT__PG_LEASE_CLAIM,
  WEFT__PG_LEASE_RENEW,
  WEFT__PG_LEASE_RELEASE,
  WEFT__PG_LEASE_GET,
  WEFT__PG_LEASE_RELEASE_MANY,
  WEFT__PG_LEASE_CLAIM_MANY,
  /* Many runs' rows in one statement (a coordinator loop's commit). */
  WEFT__PG_RUN_UPDATE_MANY,
  /* A scheduler's chunk of ticks: its runs, its cursors. */
  WEFT__PG_RUN_INSERT_MANY,
  WEFT__PG_KV_SWAP_MANY,
  WEFT__PG__COUNT
};
#define WEFT__PG_EXTRA_FIRST WEFT__PG_RUN_SEARCH
extern const char *const weft__pg_extra_sql[WEFT__PG__COUNT - WEFT__PG_EXTRA_FIRST];

/* Filter bits of the run list statements. */
#define WEFT__PG_RL_JOB 1
#define WEFT__PG_RL_LOCATION 2
#define WEFT__PG_RL_STATUS 4
#define WEFT__PG_RL_BEFORE 8

/* The columns every run query selects, in the order weft__pg_read_run reads. */
#define WEFT__PG_RUN_COLUMNS                                                  \
  "id, job, location, status, run_config, tags, parent_run_id, root_run_id, " \
  "code_version, message, created_ms, started_ms, ended_ms, coordinator, "    \
  "heartbeat_ms"

/* One statement run inside the open transaction, kept so the transaction can
 * be replayed on a new connection (store_pg_conn.c explains the scheme). */
struct weft__pg_op {
  int stmt;
  int n_params;
  char **params;    /* copies; NULL entries are SQL NULLs */
  uint64_t digest;  /* of the result the caller was given */
  int64_t *ids;     /* event appends: the ids handed out, ascending */
  size_t n_ids;
};

struct weft__pg_store {
  struct weft_store base; /* first: the wrappers see only this */
  PGconn *conn;           /* NULL while disconnected */
  char *url;              /* as given, to reconnect */
  char *where;            /* "postgres HOST:PORT/DB", for messages (no password) */
  char client[32];        /* random id of this handle, its row in tx_tokens */
  unsigned char prepared[WEFT__PG__COUNT]; /* on the current connection */
  char *run_list_sql[16]; /* built on first use */

  /* The write transaction, explicit (xBegin) or implicit (one data call). */
  int tx_open;
  int tx_own_lock;  /* it holds this handle's lock, not WRITE_LOCK (kv inserts) */
  int tx_failed;    /* a statement failed: postgres aborted the transaction */
  int tx_notify;    /* WEFT__PG_NOTE_*: channels to NOTIFY at commit */
  unsigned listening; /* WEFT__PG_NOTE_*: LISTENed on this connection */
  char inbox_name[64];     /* weft_inbox/SCHEMA (weft__pg_inbox_channel_set) */
  char inbox_channel[132]; /* the same quoted, for LISTEN and NOTIFY */
  int64_t tx_seq;   /* its number, written to tx_tokens inside it */
  struct weft__pg_op *journal;
  size_t n_journal, cap_journal;
  PGresult *replayed_last; /* result of the last statement of the last replay */
  int commit_hook;  /* tests: WEFT__PG_HOOK_* for the next commit */
  int last_transient; /* the last error weft__pg_error saw was a lost link */
};

/* Test hooks for the "COMMIT outcome unknown" case: the next commit drops the
 * connection before sending COMMIT, or after COMMIT succeeded but before the
 * answer is used, exactly as a crash of the link at that moment would. */
#define WEFT__PG_HOOK_DROP_BEFORE_COMMIT 1
#define WEFT__PG_HOOK_DROP_AFTER_COMMIT 2
void weft__pg_test_commit_hook(struct weft_store *s, int hook);
/* Tests: closes the connection as a network failure would (the store
 * notices at its next statement). */
void weft__pg_test_drop_connection(struct weft_store *s);

/* ---- store_pg_connect.c --------------------------------------------------- */

/* Fills err with "postgres HOST:PORT/DB: OP: server message" and returns
 * the weft code (ECONFLICT for unique violations, ESTORE otherwise). Also
 * records in p->last_transient whether the error is a transient one
 * (weft__pg_transient), so a caller several frames up can tell. */
int weft__pg_error(struct weft__pg_store *p, weft_error *err, const PGresult *res,
                   const char *op_fmt, ...) __attribute__((format(printf, 4, 5)));


/* The one classification of PostgreSQL errors. Transient: the link is gone
 * or about to go and the same request may succeed on a new connection
 * (no result at all, a connection in CONNECTION_BAD, SQLSTATE class 08
 * connection exceptions, 57P01 admin_shutdown, 57P02 crash_shutdown,
 * 57P03 cannot_connect_now, 53300 too_many_connections). Everything else
 * (syntax, constraints, a missing database or role, a bad password) is
 * permanent: retrying would give the same answer. */
int weft__pg_transient(PGconn *c, const PGresult *r);

/* store_pg_rows.c: text parameters and columns. A decimal int64 in the
 * caller's buffer; an int8 column (NULL reads 0); a copy of a text column
 * (NULL stays NULL), non-zero when out of memory. */
const char *weft__pg_i64(char buf[24], int64_t v);
int64_t weft__pg_get_i64(const PGresult *r, int row, int col);
int weft__pg_get_dup(const PGresult *r, int row, int col, char **out);

/* Connects to p->url (one attempt) and prepares the session; *retry (may be
 * NULL) says whether a failure is transient: no server ready to take us
 * (refused, unreachable, starting up, shutting down, terminated, full, the
 * link lost during the start-up exchange or the session set-up). */
int weft__pg_connect(struct weft__pg_store *p, int *retry, weft_error *err);
void weft__pg_disconnect(struct weft__pg_store *p);

/* Opening: connects like weft__pg_connect, then runs setup (reading and
 * migrating the schema, pruning tokens; NULL: nothing). While the failure
 * of either step is transient (weft__pg_connect's *retry, or
 * p->last_transient after setup: a server restarting between the TCP
 * connect and the end of setup), it disconnects and tries again with the
 * retry policy below for WEFT__PG_CONNECT_BUDGET_MS, or
 * WEFT_PG_CONNECT_TIMEOUT_S seconds from the environment (0: one attempt
 * only). Permanent errors (authentication, a missing database or role, bad
 * options, a schema too new) fail at once. The final error of a transient
 * failure says "postgres USER@HOST:PORT/DB: cannot connect after N attempts
 * over S s: WHY" (WHY: libpq's message, or "reading the schema: ..."),
 * never the password. */
#define WEFT__PG_CONNECT_BUDGET_MS 30000
int weft__pg_connect_open(struct weft__pg_store *p,
                          int (*setup)(struct weft__pg_store *p, weft_error *err),
                          weft_error *err);

/* The retry policy of both opening and reconnecting: no wait before the
 * first attempt, then 50 ms doubling to 2 s, for a budget of milliseconds
 * counted from the first attempt. Reconnecting gets
 * WEFT__PG_RECONNECT_BUDGET_MS, or WEFT_PG_RECONNECT_MS from the
 * environment. */
#define WEFT__PG_RECONNECT_BUDGET_MS 30000
struct weft__pg_retry {
  int64_t started;  /* 0 until the first attempt */
  int64_t deadline;
  int64_t delay;    /* before the next attempt */
  int attempts;     /* made so far */
};
#define WEFT__PG_RETRY_INIT {0, 0, 0, 0}
/* Waits for the next attempt and counts it; 0 (no wait) when the budget is
 * spent. The first attempt is always granted. */
int weft__pg_retry_next(struct weft__pg_retry *rt, int budget_ms);
int weft__pg_reconnect_budget_ms(void);

/* ---- store_pg_conn.c ------------------------------------------------------ */

/* Runs statement id with text params. Outside a transaction it is a read:
 * on a lost connection it reconnects (bounded backoff) and runs it again.
 * Inside one it is journaled; a lost connection reconnects and replays the
 * journal before running it. *out is a TUPLES_OK/COMMAND_OK result. */
int weft__pg_exec(struct weft__pg_store *p, int id, int n, const char *const *params,
                  PGresult **out, const char *op, weft_error *err);

/* Write transactions. write_begin opens an implicit one when no explicit
 * one is open (*implicit = 1); write_end commits or rolls it back. When the
 * commit had to replay the statement, *res is replaced by the new result. */
int weft__pg_write_begin(struct weft__pg_store *p, int *implicit, weft_error *err);
/* The same for a lone statement that inserts kv keys if absent and writes
 * nothing else: its implicit transaction takes this handle's own advisory
 * lock, not the store-wide one. Such a statement appends no event and
 * reads nothing it then writes, so it needs neither property of the
 * store-wide lock (store_pg_conn.c), and queue workers recording results
 * stop queueing every coordinator's commit behind theirs. The own lock
 * still makes a replay after a lost link wait for the lost transaction. */
int weft__pg_write_begin_kv_insert(struct weft__pg_store *p, int *implicit, weft_error *err);
int weft__pg_write_end(struct weft__pg_store *p, int implicit, int rc, PGresult **res,
                       weft_error *err);

int weft__pg_tx_begin(struct weft__pg_store *p, weft_error *err);
int weft__pg_tx_commit(struct weft__pg_store *p, weft_error *err);
void weft__pg_tx_rollback(struct weft__pg_store *p);
void weft__pg_journal_clear(struct weft__pg_store *p);

/* Channels (store_pg_notify.c): events appended (every event wait
 * LISTENs and UNLISTENs), and weft_store_notify's. */
#define WEFT__PG_EVENTS_CHANNEL "weft_events"
#define WEFT__PG_NOTE_EVENTS 1
#define WEFT__PG_NOTE_INBOX 2
/* Internal results beside the weft codes (which are <= 0): the connection
 * broke; a notification came, look again. */
#define WEFT__PG_LOST 100
#define WEFT__PG_AGAIN 101
/* store_pg_conn.c, for store_pg_notify.c: a simple query on the current
 * connection (WEFT__PG_LOST, or WEFT_OK and *out); a result's success;
 * one attempt at a prepared statement; reconnecting within rt's budget. */
int weft__pg_simple(struct weft__pg_store *p, const char *sql, PGresult **out);
int weft__pg_result_ok(const PGresult *r);
PGresult *weft__pg_run_stmt(struct weft__pg_store *p, int id, int n, const char *const *params);
int weft__pg_recover(struct weft__pg_store *p, struct weft__pg_retry *rt, int *committed,
                     const char *op, weft_error *err);
/* Notifications reach every session of the database, whatever its schema:
 * the inbox channel is named after the schema ("weft_inbox/public"), so
 * instances sharing a database in schemas of their own (and tests side
 * by side) do not wake each other. */
void weft__pg_inbox_channel_set(struct weft__pg_store *p, const char *schema);
/* "NOTIFY ...; " for the channels in mask, then "COMMIT", into buf. */
const char *weft__pg_commit_sql(const struct weft__pg_store *p, int mask, char *buf, size_t cap);
int weft__pg_notify(struct weft_store *s, enum weft_store_channel ch, weft_error *err);
int weft__pg_notify_wait(struct weft_store *s, enum weft_store_channel ch, int timeout_ms,
                         weft_error *err);
/* Waits for an event id > after_id with LISTEN/NOTIFY. */
int weft__pg_event_wait(struct weft_store *s, int64_t after_id, int timeout_ms,
                        weft_error *err);

/* ---- store_pg_rows.c ------------------------------------------------------- */
/* (the method table's data slots, then a helper for store_pg_conn.c) */

int weft__pg_run_create(struct weft_store *s, const struct weft_run_row *r, weft_error *err);
int weft__pg_run_update(struct weft_store *s, const struct weft_run_row *r, weft_error *err);
int weft__pg_run_create_many(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                             weft_error *err);
int weft__pg_run_update_many(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                             weft_error *err);
int weft__pg_run_get(struct weft_store *s, const char *id, struct weft_run_row *out,
                     weft_error *err);
int weft__pg_run_list(struct weft_store *s, const struct weft_run_filter *f,
                      struct weft_run_list *out, weft_error *err);
int weft__pg_run_count(struct weft_store *s, int64_t counts[], weft_error *err);
int weft__pg_step_put(struct weft_store *s, const struct weft_step_row *st, size_t n,
                      weft_error *err);
int weft__pg_step_list(struct weft_store *s, const char *run_id, struct weft_step_list *out,
                       weft_error *err);
int weft__pg_event_append(struct weft_store *s, struct weft_event_row *ev, size_t n,
                          weft_error *err);
int weft__pg_event_read(struct weft_store *s, const struct weft_event_filter *f,
                        struct weft_event_list *out, weft_error *err);
int weft__pg_kv_get(struct weft_store *s, const char *key, char **value, weft_error *err);
int weft__pg_kv_set(struct weft_store *s, const char *key, const char *value,
                    weft_error *err);
int weft__pg_kv_delete(struct weft_store *s, const char *key, weft_error *err);
int weft__pg_kv_delete_prefix(struct weft_store *s, const char *prefix, weft_error *err);
int weft__pg_kv_delete_many(struct weft_store *s, const char *const *keys, size_t n,
                            weft_error *err);
int weft__pg_kv_insert_many(struct weft_store *s, const char *const *keys,
                            const char *const *values, size_t n, unsigned char *inserted,
                            weft_error *err);
int weft__pg_kv_list(struct weft_store *s, const char *prefix, const char *after_key,
                     int limit, struct weft_kv_list *out, weft_error *err);
int weft__pg_kv_compare_set_many(struct weft_store *s, const char *const *keys,
                                 const char *const *expected, const char *const *values,
                                 size_t n, weft_error *err);
int weft__pg_kv_compare_set(struct weft_store *s, const char *key, const char *expected,
                            const char *value, weft_error *err);

/* Reads the WEFT__PG_RUN_COLUMNS of row into out. */
int weft__pg_read_run(struct weft__pg_store *p, const PGresult *r, int row,
                      struct weft_run_row *out, weft_error *err);

/* Search and retention (store_pg_purge.c). */
int weft__pg_run_search(struct weft_store *s, const struct weft_run_search *q,
                        struct weft_run_list *out, weft_error *err);
int weft__pg_retention_scan(struct weft_store *s, int64_t ended_before, int64_t after_ended_ms,
                            const char *after_id, int limit,
                            struct weft_retention_cand_list *out, weft_error *err);
int weft__pg_run_mark_get(struct weft_store *s, const char *run_id, int *pinned,
                          unsigned *purged, weft_error *err);
int weft__pg_run_mark_set(struct weft_store *s, const char *run_id, int pinned,
                          unsigned purged_add, weft_error *err);
int weft__pg_event_purge(struct weft_store *s, const char *run_id,
                         enum weft_event_purge_kind kind, int limit, int64_t *n,
                         weft_error *err);
int weft__pg_event_count(struct weft_store *s, const char *run_id,
                         enum weft_event_purge_kind kind, int64_t *n, weft_error *err);
int weft__pg_run_delete(struct weft_store *s, const char *run_id, int64_t *n_steps,
                        weft_error *err);
int weft__pg_materialization_list(struct weft_store *s, const char *asset, int64_t after_id,
                                  int limit, struct weft_event_list *out, weft_error *err);

/* Run leases (store_pg_lease.c). */
int weft__pg_lease_claim(struct weft_store *s, const char *run_id, const char *owner,
                         const char *steal_from, int64_t now_ms, int64_t ttl_ms,
                         weft_error *err);
int weft__pg_lease_renew(struct weft_store *s, const char *owner, int64_t now_ms,
                         int64_t ttl_ms, struct weft_run_lease_list *held, weft_error *err);
int weft__pg_lease_release(struct weft_store *s, const char *run_id, const char *owner,
                           weft_error *err);
int weft__pg_lease_claim_many(struct weft_store *s, const char *const *run_ids, size_t n,
                             const char *owner, int64_t now_ms, int64_t ttl_ms,
                             unsigned char *outcome, weft_error *err);
int weft__pg_lease_release_many(struct weft_store *s, const char *const *run_ids, size_t n,
                               const char *owner, weft_error *err);
int weft__pg_lease_get(struct weft_store *s, const char *run_id, struct weft_run_lease *out,
                       weft_error *err);

/* Text-array literal ('{"a",NULL}') of n strings; caller frees. NULL when
 * out of memory. */
char *weft__pg_text_array(const char *const *v, size_t n);

/* store_pg_assets.c: the asset catalog, and its statements' SQL (placed
 * into weft__pg_extra_sql by store_pg_purge.c). */
#define WEFT__PG_ASSET_COLUMNS \
  "asset, last_id, ts_ms, run_id, job, step, partition_key, code_version, payload, " \
  "materializations"
#define WEFT__PG_ASSET_SQL_LIST                                                          \
  "SELECT " WEFT__PG_ASSET_COLUMNS " FROM assets WHERE ($1::text IS NULL OR "           \
  "strpos(asset, $1) > 0) AND ($2::text IS NULL OR asset > $2) ORDER BY asset LIMIT $3::int"
#define WEFT__PG_ASSET_SQL_GET "SELECT " WEFT__PG_ASSET_COLUMNS " FROM assets WHERE asset = $1"
#define WEFT__PG_ASSET_SQL_HISTORY                                                       \
  "SELECT id, event_id, asset, kind, name, passed, run_id, job, step, partition_key, "   \
  "code_version, ts_ms, payload FROM asset_events WHERE asset = $1 AND ($2::text IS NULL " \
  "OR kind = $2) AND ($3::int8 <= 0 OR id < $3::int8) ORDER BY id DESC LIMIT $4::int"
#define WEFT__PG_ASSET_SQL_PARTITIONS                                          \
  "SELECT partition_key, last_id::text, ts_ms FROM asset_partitions WHERE asset = $1 " \
  "ORDER BY partition_key"
#define WEFT__PG_ASSET_SQL_EVENT_ADD                                               \
  "INSERT INTO asset_events (asset, kind, name, job, ts_ms, payload) VALUES ($1, $2, $3, " \
  "$4, $5::int8, $6) RETURNING id"
int weft__pg_asset_list(struct weft_store *s, const char *q, const char *after, int limit,
                        struct weft_asset_list *out, weft_error *err);
int weft__pg_asset_get(struct weft_store *s, const char *asset, struct weft_asset_row *out,
                       weft_error *err);
int weft__pg_asset_history(struct weft_store *s, const char *asset, const char *kind,
                           int64_t before_id, int limit, struct weft_asset_event_list *out,
                           weft_error *err);
int weft__pg_asset_partitions(struct weft_store *s, const char *asset, struct weft_kv_list *out,
                              weft_error *err);
int weft__pg_asset_event_add(struct weft_store *s, struct weft_asset_event_row *ev,
                             weft_error *err);

#endif
