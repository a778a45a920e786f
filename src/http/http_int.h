/* http_int.h: what the files of the HTTP server share: the server's state,
 * one request, the response helpers and every route handler. */
#ifndef WEFT_HTTP_HTTP_INT_H
#define WEFT_HTTP_HTTP_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "dsl/dsl.h"
#include "engine/auth.h"
#include "engine/auth_gen.h"
#include "engine/code_snapshot.h"
#include "engine/engine.h"
#include "http/http.h"
#include "model/model.h"
#include "sched/coordinator_spawn.h"
#include "sched/run_queue.h"
#include "util/buf.h"
#include "util/group.h"
#include "util/map.h"

#define HTTP_BODY_MAX (1 << 20)  /* request bodies: 413 beyond (API.md) */
#define HTTP_MAX_SEGS 12         /* path segments; more is no route */
#define HTTP_MAX_ARGS 64         /* query arguments; more is a 400 */
#define HTTP_MAX_STREAMS 64      /* open event streams; more is a 503 */
#define HTTP_POOL_MAX 8          /* pooled store connections */
#define HTTP_PING_MS 15000       /* ": ping" on an idle event stream */
#define HTTP_N_BUCKETS 10        /* weft_step_duration_seconds buckets */

/* ---- server state ------------------------------------------------------------ */

/* One loaded version of the workspace. A reload swaps in a new one; a
 * request holds the version it started with until it completes. */
struct http_ws {
  struct weft_workspace *ws; /* its locations are those of locs, borrowed */
  struct http_loc **locs;    /* ws->n_locations, shared between versions */
  int64_t reg_version; /* the registry version it was built from (registry mode) */
  unsigned long gen;   /* http_server.ws_gen when it was swapped in */
  int refs; /* under http_server.ws_mu; the server holds one on the current */
};

/* One loaded location, shared by every workspace version that did not
 * reload it. A version whose errors make invalid a job that the last
 * version without errors had valid is shown as a view: the last good
 * version's ops and jobs (still served and launchable) with the new
 * version's errors (state.c). */
struct http_loc {
  struct weft_location *loc; /* what requests see */
  struct weft_location *own; /* the version loaded (behind loc when a view) */
  struct http_loc *base;     /* a view: the last good version it shows */
  int refs;                  /* under http_server.ws_mu */
};

/* The inotify watches on the location folders (watch.c): each location's
 * folder and its ops/ and jobs/; only the maintenance thread touches it. */
struct http_watch_dir {
  int wd;
  char *loc; /* the location's name */
};
struct http_watch {
  int fd; /* -1 when inotify is unavailable */
  struct http_watch_dir *v;
  size_t n, cap;
  unsigned long armed_gen; /* the workspace version the watches are for */
  char **pending;          /* locations changed, to reload when due */
  size_t n_pending;
  int64_t first_ms, due_ms; /* of the pending changes */
};

/* Store connections, one per request at a time (a connection is not to be
 * shared by threads), reused across requests. */
struct http_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  const char *url; /* borrowed from the instance */
  struct weft_store *idle[HTTP_POOL_MAX];
  size_t n_idle, n_open;
};

/* JSON texts of runs that ended, by run id (cache.c). */
struct http_cache {
  pthread_mutex_t mu;
  struct weft_map young, old; /* id -> entry, two generations */
  size_t young_bytes, max_bytes;
  unsigned long hits, misses;
};

struct http_metrics {
  pthread_mutex_t mu;
  uint64_t buckets[HTTP_N_BUCKETS]; /* cumulative counts are made when printed */
  uint64_t count;
  double sum;
  /* The last event id the maintenance thread read: written by it only;
   * read by requests as a lower bound of the store's latest id (api_runs.c
   * validates its page cache with it). */
  atomic_llong cursor;
  atomic_int primed; /* the start-up scan is done */
  atomic_ulong codes[600]; /* responses by status code */
  struct http_metrics_ev *ev; /* the event-fed families (metrics_int.h) */
};

/* The Host values the server answers (guard.c). */
struct http_guard {
  char **hosts; /* lower case: "name" (any port) or "name:port" */
  size_t n_hosts;
  int any_host; /* server.allowed_hosts has "*" */
  struct weft_server_config cfg; /* weft.yaml's server: and auth: */
};

/* Basic credentials verified lately (credentials.c). */
#define HTTP_BASIC_CACHE 32
struct http_basic_entry {
  unsigned char digest[32]; /* keyed BLAKE2b of user and password */
  char *user, *hash;        /* NULL: a free slot; hash: the one it matched */
  int64_t at_ms;
};
/* Failed logins by client address, to slow down guessing (session.c). */
#define HTTP_LOGIN_SLOTS 256
#define HTTP_LOGIN_FREE 5                      /* failures before a lock-out */
#define HTTP_LOGIN_WINDOW_MS (15 * 60 * 1000)  /* forgotten after this long */
#define HTTP_LOGIN_MAX_LOCK_MS (5 * 60 * 1000) /* the longest lock-out */
struct http_login_entry {
  char addr[64];
  int fails; /* 0: a free slot */
  int64_t last_ms, until_ms;
};
struct http_login_limit {
  pthread_mutex_t mu;
  struct http_login_entry v[HTTP_LOGIN_SLOTS];
};
/* Credentials verified lately (cred_cache.c). */
#define HTTP_CRED_CACHE 64
#define HTTP_CRED_MAX_AGE_MS 5000 /* an entry's longest life */
#define HTTP_CRED_POLL_MS 1000    /* storage's generation read this often */
struct http_cred_entry {
  unsigned char digest[32]; /* keyed BLAKE2b of the credential */
  enum weft_role role;
  char who[96];
  int session;
  uint64_t file_gen;
  int64_t store_gen, until_ms; /* until_ms 0: a free slot */
};
struct http_cred_cache {
  pthread_mutex_t mu;
  unsigned char key[32];
  struct http_cred_entry v[HTTP_CRED_CACHE];
  size_t next;
  struct weft_auth_gen_file file; /* HOME/auth.generation, mapped at first use */
  int file_failed;
  int64_t store_gen, polled_ms;
  int store_known; /* store_gen was read at least once */
  int ready;
};
/* A lookup's digest and the generations it saw, for the put after a miss. */
struct http_cred_key {
  unsigned char digest[32];
  uint64_t file_gen;
  int64_t store_gen;
  int usable; /* the generations were known: the result may be kept */
};
struct http_basic_cache {
  pthread_mutex_t mu;
  unsigned char key[32];
  char dummy[128]; /* a crypto_pwhash_str of nothing anyone knows */
  struct http_basic_entry v[HTTP_BASIC_CACHE];
  size_t next;
  int ready;
  struct http_login_limit limit; /* POST /api/v1/login failures */
  struct http_cred_cache cred;
};

struct http_server {
  struct MHD_Daemon *mhd;
  struct http_guard guard;
  int auth; /* requests need credentials (a token or a user's password) */
  int tls;  /* HTTPS: answers carry HSTS */
  struct weft_buf tls_cert, tls_key; /* PEM, for libmicrohttpd while it runs */
  struct http_basic_cache basic;
  struct weft_instance *inst; /* its own store belongs to the maintenance thread */
  char *ws_file;              /* absolute, or NULL */
  char **paths;               /* absolute location folders */
  size_t n_paths;
  /* Registry mode (no -l folders): the locations come from the instance's
   * location registry (engine/locreg.h), seeded from ws_file when empty;
   * the maintenance thread reloads when the registry's version moves. */
  int registry;
  char *exe;                  /* spawned as `EXE run coordinate RUN` */
  char url[160];
  int loopback;
  pthread_mutex_t ws_mu;
  struct http_ws *ws;
  unsigned long ws_gen; /* under ws_mu: bumped at every swap */
  struct http_watch watch;
  struct http_pool pool;
  struct http_metrics metrics;
  struct http_cache runs_cache;   /* RUN objects of ended runs */
  struct http_cache detail_cache; /* GET /api/v1/runs/ID of ended runs */
  struct http_cache pages_cache;  /* GET /api/v1/runs pages of ended runs */
  int cache_off;                  /* WEFT_HTTP_CACHE=0: build every answer */
  atomic_int n_streams;   /* open event streams */
  atomic_int n_producers; /* their threads still running */
  atomic_int stopping;
  /* The coordinators it starts (sched/coordinator_spawn.h) and the run
   * queue's limits they are started under (weft.yaml, read at start). */
  struct weft_coord_spawner spawner;
  int spawner_ready;
  struct weft_run_queue_config queue;
  struct weft_group launches; /* launch_batch.c */
  /* The code versions launches ran lately (launch_batch.c: only its
   * batches, one at a time, touch them). */
  struct weft_code_memo launch_code;
  int64_t launch_code_ms;        /* when launch_code was started */
  unsigned long launch_code_gen; /* ws_gen then */
  struct weft_group audits;   /* api_audit.c */
  pthread_t maint;
  int maint_started;
};

/* ---- one request -------------------------------------------------------------------- */

struct http_arg {
  char *key, *value; /* percent-decoded */
};

struct http_req {
  struct http_server *srv;
  struct MHD_Connection *conn;
  char method[16];
  char *segs[HTTP_MAX_SEGS]; /* the path's segments, percent-decoded */
  size_t n_segs;
  struct http_arg *args;
  size_t n_args;
  struct weft_buf body;
  int too_large;  /* the body went over HTTP_BODY_MAX */
  /* Set by the guard when authentication is on: "user:NAME" or
   * "token:ID", and the role of those credentials. */
  char who[96];
  enum weft_role role;
  int session; /* the credentials were a login session's cookie */
  /* The audit log (api_audit.c): set by the guard for a state-changing
   * request and a rejected Authorization; written when it completes. */
  int audit;
  unsigned status;   /* what http_queue answered */
  char source[64];   /* the client's address */
  char detail[160];  /* why credentials were rejected */
  int answered;   /* a response was queued */
  /* Taken on first use, given back when the request completes. */
  struct weft_store *store;
  struct weft_instance inst; /* the server's, with store as its store */
  struct http_ws *ws;
};

typedef enum MHD_Result (*http_handler)(struct http_req *r);

/* ---- responses (respond.c) ------------------------------------------------------------ */

/* Queues resp with status (counted for /metrics) and releases it. */
enum MHD_Result http_queue(struct http_req *r, unsigned status, struct MHD_Response *resp);
/* doc is stolen; NULL (out of memory) answers 500. */
enum MHD_Result http_send_json(struct http_req *r, unsigned status, json_t *doc);
/* JSON text already made (stolen; NULL answers 500). */
enum MHD_Result http_send_json_text(struct http_req *r, unsigned status, char *text, size_t len);
/* The path's run id (segment 3), its row read into *row (release it); 0
 * after answering 404 (no such run) or 500. */
int http_path_run(struct http_req *r, struct weft_run_row *row, enum MHD_Result *res);

/* UTF-8 (JSON strings must be): the length of the sequence led by byte c
 * (1-4), 0 when c cannot lead one; and the length of the valid sequence at
 * s[0..n), 0 when it is invalid or cut short by n. */
int http_utf8_lead_len(unsigned char c);
size_t http_utf8_seq(const unsigned char *s, size_t n);

/* {"error": message, "details": details or []}; details is stolen. */
enum MHD_Result http_send_error(struct http_req *r, unsigned status, json_t *details,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* An error from a lower layer: 404 for WEFT_ENOTFOUND, 409 for
 * WEFT_ECONFLICT, 400 for WEFT_EINVALID/WEFT_EUSAGE, else 500. */
enum MHD_Result http_send_weft_error(struct http_req *r, const weft_error *err);
/* Bytes that outlive the response (static tables) or are copied. */
enum MHD_Result http_send_bytes(struct http_req *r, unsigned status, const char *content_type,
                                const void *data, size_t len, int copy);
/* Environment values (op and location env:) may hold tokens and passwords:
 * the API gives their names only. {NAME: null, ...}; NULL when out of
 * memory. */
json_t *http_env_names(const struct weft_kvs *env);
/* Replaces every value of the "env" of each of job_doc's "ops" (a
 * weft_job_to_json document) with null. */
void http_hide_env_values(json_t *job_doc);
/* [{"file","line","col","message"}] of diagnostics; NULL when out of memory. */
json_t *http_diags_json(const struct weft_diags *d);

/* ---- requests (respond.c) -------------------------------------------------------------- */

/* Strict percent-decoding of in[0..len) into a new string: %XX only with
 * hex digits, no NUL byte, valid UTF-8; '+' reads as a space when plus is
 * set. NULL when the text is malformed (or out of memory). */
char *http_decode(const char *in, size_t len, int plus);
/* The first value of query argument key, or NULL. */
const char *http_arg(const struct http_req *r, const char *key);
/* Parses query argument key as an integer in [lo, hi]; absent: dflt.
 * WEFT_OK, or WEFT_EINVALID after answering 400 (*res set). */
int http_arg_int(struct http_req *r, const char *key, long long lo, long long hi,
                 long long dflt, long long *out, enum MHD_Result *res);
/* Every value of a repeatable, comma-separated argument checked against
 * names (NULL-terminated): sets bit i of *mask per name i given. WEFT_OK,
 * or WEFT_EINVALID after answering 400. */
int http_arg_names(struct http_req *r, const char *key, const char *const *names,
                   unsigned long *mask, enum MHD_Result *res);
/* The body as a JSON object; an empty body is {}. NULL after answering 400
 * (bad JSON, with line and column, or not an object). */
json_t *http_body_object(struct http_req *r, enum MHD_Result *res);
/* The request's store connection and instance (pooled); NULL after
 * answering 500. */
struct weft_instance *http_instance(struct http_req *r, enum MHD_Result *res);
/* The workspace version this request sees (acquired once). */
const struct weft_workspace *http_workspace(struct http_req *r);
/* Gives back what the request holds; MHD's completion callback calls it. */
void http_req_free(struct http_req *r);

/* ---- state (state.c) ----------------------------------------------------------------------- */

int http_pool_init(struct http_pool *p, const char *url);
/* Blocks while every connection is in use. */
int http_pool_get(struct http_pool *p, struct weft_store **out, weft_error *err);
/* broken: closes it instead of keeping it (a transaction left open). */
void http_pool_put(struct http_pool *p, struct weft_store *s);
void http_pool_release(struct http_pool *p);

/* Loads the workspace from the server's file or folders. */
int http_ws_load(struct http_server *srv, struct http_ws **out, weft_error *err);
struct http_ws *http_ws_acquire(struct http_server *srv);
void http_ws_release(struct http_server *srv, struct http_ws *w);
/* Loads again from disk and swaps atomically; requests in flight keep the
 * version they hold. On failure the current version stays. */
int http_ws_reload(struct http_server *srv, weft_error *err);
/* Loads location `name` again from its folder (registry mode: with its
 * registry entry) and swaps in a version where only it changed. A version
 * with errors of a location loaded without any keeps the last good one
 * served, with the new errors. An unknown name does nothing. */
int http_ws_reload_location(struct http_server *srv, const char *name, weft_error *err);
/* The job `job` of location `loc` in ws, or NULL. */
const struct weft_job *http_ws_find_job(const struct weft_workspace *ws, const char *loc,
                                        const char *job);

/* ---- caches (cache.c) ------------------------------------------------------------------------------ */

void http_cache_init(struct http_cache *c, size_t max_bytes);
void http_cache_release(struct http_cache *c);
/* A copy of key's text (caller frees; *len set), or NULL. */
char *http_cache_get(struct http_cache *c, const char *key, size_t *len);
/* Keeps a copy of text under key (a run id; only for runs that ended). */
void http_cache_put(struct http_cache *c, const char *key, const char *text, size_t len);

/* ---- coordinators and background work (maint.c) ---------------------------------------------- */

/* Reads the run queue's limits and sets up srv->spawner, which starts
 * `EXE run coordinate RUN [-w FILE | -l DIR...] [--in-run a,b]` for every
 * run the queue admits (sched/coordinator_spawn.h); after the workspace is
 * loaded, before requests are served. */
int http_spawner_init(struct http_server *srv, weft_error *err);
/* The thread that reaps coordinators (failing a run whose coordinator
 * exited before starting it), sweeps orphaned runs and feeds the step
 * duration histogram. */
int http_maint_start(struct http_server *srv, weft_error *err);
void http_maint_stop(struct http_server *srv);

/* ---- watching the location folders (watch.c) ---------------------------------------------- */

/* Never fails: without inotify (a warning is printed) nothing is watched. */
void http_watch_init(struct http_watch *w);
void http_watch_release(struct http_watch *w);
/* One turn of the maintenance thread: re-arms the watches when the
 * workspace version changed, reads the changes, reloads the locations
 * changed once they settled (debounced). Returns how long the thread may
 * wait before the next turn, in ms (at most max_ms). */
int http_watch_tick(struct http_server *srv, int max_ms);

/* ---- metrics (metrics.c) ------------------------------------------------------------------------ */

void http_metrics_init(struct http_metrics *m);
void http_metrics_release(struct http_metrics *m);
/* Feeds the histogram with one event (step_succeeded / step_failed). */
void http_metrics_event(struct http_metrics *m, const struct weft_event_row *ev);

/* ---- the authorization point (guard.c) ------------------------------------------------------------ */

/* What a route lets its caller do, the least first. */
enum http_access {
  HTTP_OPEN,    /* /healthz: anyone, any Host */
  HTTP_PUBLIC,  /* the UI's files, login, logout: Host (and for POST,
                   Origin and Content-Type) checked, no credentials */
  HTTP_READ,    /* reading runs, jobs, logs, streams, metrics, the UI */
  HTTP_LAUNCH,  /* launching, validating, re-executing, canceling runs */
  HTTP_OPERATE, /* schedules, sensors, backfills */
  HTTP_ADMIN    /* code locations */
};
/* The allow-list of Host values: the listen address (srv->url, so after
 * the daemon is bound), localhost, 127.0.0.1, [::1] with its port, and
 * weft.yaml's server.allowed_hosts. */
int http_guard_init(struct http_server *srv, weft_error *err);
void http_guard_release(struct http_guard *g);
/* The one check every request passes before its handler (http_dispatch):
 * Host, then for a state-changing method of a route (routed) Origin or
 * Referer and Content-Type. 1 when it may go on; 0 after answering 403. */
int http_authorize(struct http_req *r, enum http_access need, int routed,
                   enum MHD_Result *res);
/* Who is asking (credentials.c): 1 with *role set from a live token
 * (Bearer) or a user's password (Basic) and who filled ("token:ID",
 * "user:NAME"); 0 after answering 401 (with the challenges) or 500. */
int http_credentials(struct http_req *r, enum weft_role *role, char *who, size_t who_size,
                     enum MHD_Result *res);
/* Marks the request for the audit log, with the client's address
 * (api_audit.c); detail (may be NULL) says why it was refused. */
void http_audit_mark(struct http_req *r, const char *detail);
/* Fills r->source with the client's address (once). */
void http_req_source(struct http_req *r);
/* Writes the entry of a marked request (http_req_free calls it). */
void http_audit_write(struct http_req *r);
/* The entry of a request marked for the audit log, written now in st's
 * open transaction as answered with status (the caller clears r->audit
 * once that transaction commits, so completion writes no second one).
 * WEFT_OK without writing for a request not marked. */
int http_audit_write_in_tx(struct http_req *r, unsigned status, struct weft_store *st,
                           weft_error *err);
enum MHD_Result http_api_audit(struct http_req *r);
/* api_secrets.c: secrets (names only) and variables, admin. */
enum MHD_Result http_api_secrets(struct http_req *r);
enum MHD_Result http_api_secret_remove(struct http_req *r);
enum MHD_Result http_api_variables(struct http_req *r);
enum MHD_Result http_api_variable(struct http_req *r);
enum MHD_Result http_api_variable_put(struct http_req *r);
enum MHD_Result http_api_variable_remove(struct http_req *r);
/* GET /api/v1/me (guard.c): who the credentials are and their role, for
 * the UI to show only what that role may do. */
enum MHD_Result http_api_me(struct http_req *r);
/* Tags a new run's tags (an object) "weft/launched_by": r->who when
 * authentication is on; WEFT_ENOMEM when that fails. */
int http_tag_launcher(const struct http_req *r, json_t *tags);
/* Whether the caller may cancel run row: a launcher only the runs it
 * launched (weft/launched_by), operators and admins any; 0 after
 * answering 403. */
int http_may_cancel(struct http_req *r, const struct weft_run_row *row, enum MHD_Result *res);
int http_basic_cache_init(struct http_basic_cache *c);
void http_basic_cache_release(struct http_basic_cache *c);

/* The cache of verified credentials (cred_cache.c): kind ("bearer",
 * "session", "basic") and secret name one; a hit (1) fills role, who and
 * r->session; a miss (0) leaves in k what http_cred_cache_put needs to
 * keep the result of the full check, valid until until_ms (0: the
 * longest an entry lives). */
void http_cred_cache_init(struct http_cred_cache *c);
void http_cred_cache_release(struct http_cred_cache *c);
int http_cred_cache_get(struct http_req *r, const char *kind, const char *secret,
                        struct http_cred_key *k, enum weft_role *role, char *who,
                        size_t who_size);
void http_cred_cache_put(struct http_req *r, const struct http_cred_key *k, enum weft_role role,
                         const char *who, int64_t until_ms);

/* Login sessions (session.c): POST /api/v1/login and /api/v1/logout. */
enum MHD_Result http_api_login(struct http_req *r);
enum MHD_Result http_api_logout(struct http_req *r);
/* The request's weft_session cookie into out; 0 when it has none. */
int http_session_cookie(struct http_req *r, char *out, size_t out_size);
/* weft.yaml's auth.session_idle, or the default. */
int64_t http_session_idle_ms(const struct http_server *srv);
void http_login_limit_init(struct http_login_limit *l);
void http_login_limit_release(struct http_login_limit *l);
/* How long addr is still locked out after failed logins (0: it is not);
 * a failure and a success of addr at now. */
int64_t http_login_locked(struct http_login_limit *l, const char *addr, int64_t now);
void http_login_failed(struct http_login_limit *l, const char *addr, int64_t now);
void http_login_succeeded(struct http_login_limit *l, const char *addr);
/* 429 "too many failed logins from ADDR", Retry-After the wait in s. */
enum MHD_Result http_send_locked_out(struct http_req *r, int64_t wait_ms);
/* The value of cookie name in a Cookie header ("a=1; name=v") into out
 * (out_size bytes, quotes removed); 0 when absent or too long (exposed
 * for fuzz/fuzz_http_auth.c). */
int http__cookie_value(const char *header, const char *name, char *out, size_t out_size);
/* The user and password of Basic credentials' BASE64 text, decoded into
 * bin (bin_size bytes; user and pw point into it); 0 when malformed (not
 * base64, a NUL inside, no ':' or too long). credentials.c. */
int http__basic_decode(const char *b64, char *bin, size_t bin_size, const char **user,
                       const char **pw);
/* The guard's parsers of what clients send (guard.c; exposed for
 * fuzz/fuzz_http_headers.c): a Host value against the allow-list; whether
 * an Origin or Referer URL names exactly the authority host; whether a
 * Content-Type is application/json. */
int http__host_allowed(const struct http_guard *g, const char *host);
int http__same_authority(const char *url, const char *host);
int http__is_json_type(const char *ct);
/* CSP, nosniff, frame and referrer policies, and HSTS under TLS: added to
 * every answer (http_queue). */
void http_security_headers(struct MHD_Response *resp, int tls);

/* ---- route handlers -------------------------------------------------------------------------------- */

/* router.c: finds the route of the request and runs its handler; 404 and
 * 405 (with Allow) when there is none. */
enum MHD_Result http_dispatch(struct http_req *r);

enum MHD_Result http_api_healthz(struct http_req *r);   /* metrics.c */
enum MHD_Result http_api_metrics(struct http_req *r);
enum MHD_Result http_api_openapi(struct http_req *r);   /* static.c */
enum MHD_Result http_api_static(struct http_req *r);
enum MHD_Result http_api_locations(struct http_req *r); /* api_locations.c */
enum MHD_Result http_api_reload(struct http_req *r);
enum MHD_Result http_api_location_add(struct http_req *r);
enum MHD_Result http_api_location_remove(struct http_req *r);
enum MHD_Result http_api_location_reload(struct http_req *r);
enum MHD_Result http_api_jobs(struct http_req *r); /* api_jobs.c */
enum MHD_Result http_api_job(struct http_req *r);
enum MHD_Result http_api_validate(struct http_req *r);
enum MHD_Result http_api_launch(struct http_req *r);
/* Records a run of l (weft_run_create) left to the run queue, with the
 * steps of a re-execution (in_run: "a,b" or NULL), in the caller's
 * transaction. With admit (the server's run queue limits), a run nothing
 * holds back is handed to a coordinator service in that transaction
 * instead (weft_coord_admit_in_tx): *handed is then 1 and no queue turn is
 * needed. *run_id is set once the run row is written, even when a later
 * record fails (then the transaction must not commit). */
int http_record_run(struct weft_instance *inst, const struct weft_launch *l, const char *in_run,
                    const struct weft_run_queue_config *admit, char **run_id, int *handed,
                    weft_error *err);
/* http_record_run in a transaction of its own; *run_id NULL on failure. */
int http_create_run(struct weft_instance *inst, const struct weft_launch *l, const char *in_run,
                    char **run_id, weft_error *err);
/* Starts what the run queue admits now, run_id (from http_create_run)
 * among them unless a limit holds it back (the maintenance thread starts it
 * later); when that fails, fails the run, answers 500 and returns 0. */
int http_start_coordinator(struct http_req *r, const char *run_id, enum MHD_Result *res);
/* http_create_run then http_start_coordinator, shared with the launches
 * other requests make meanwhile (launch_batch.c). Returns 1 with *run_id
 * (the caller frees it), or 0 after answering 500. */
int http_launch_run(struct http_req *r, struct weft_instance *inst, const struct weft_launch *l,
                    const char *in_run, char **run_id, enum MHD_Result *res);
enum MHD_Result http_api_runs(struct http_req *r);      /* api_runs.c */
enum MHD_Result http_api_run(struct http_req *r);
enum MHD_Result http_api_events(struct http_req *r);
enum MHD_Result http_api_cancel(struct http_req *r);
enum MHD_Result http_api_reexecute(struct http_req *r);
enum MHD_Result http_api_events_stream(struct http_req *r); /* sse.c */
enum MHD_Result http_api_log(struct http_req *r);       /* api_logs.c */
enum MHD_Result http_api_log_stream(struct http_req *r);
enum MHD_Result http_api_schedules(struct http_req *r); /* api_schedules.c */
enum MHD_Result http_api_schedule(struct http_req *r);
enum MHD_Result http_api_schedule_ticks(struct http_req *r);
enum MHD_Result http_api_schedule_on(struct http_req *r);
enum MHD_Result http_api_schedule_off(struct http_req *r);
enum MHD_Result http_api_sensors(struct http_req *r); /* api_sensors.c */
enum MHD_Result http_api_sensor(struct http_req *r);
enum MHD_Result http_api_sensor_ticks(struct http_req *r);
enum MHD_Result http_api_sensor_on(struct http_req *r);
enum MHD_Result http_api_sensor_off(struct http_req *r);
enum MHD_Result http_api_backfills(struct http_req *r); /* api_backfills.c */
enum MHD_Result http_api_backfill(struct http_req *r);
enum MHD_Result http_api_backfill_create(struct http_req *r);
enum MHD_Result http_api_assets(struct http_req *r); /* api_assets.c */
enum MHD_Result http_api_asset(struct http_req *r);
enum MHD_Result http_api_asset_history(struct http_req *r);
enum MHD_Result http_api_asset_materialize(struct http_req *r);
/* Adds "queue_reason" (sched/run_queue.h) to the run object o when row is
 * QUEUED. *w caches the reasons for one request, explained at the first
 * need (*loaded 0 before; release *w with weft_run_queue_waits_release);
 * one: the request shows this run only (its reason alone is read). */
struct weft_run_queue_waits;
void http_add_queue_reason(struct weft_instance *inst, const struct weft_run_row *row, json_t *o,
                           int one, struct weft_run_queue_waits *w, int *loaded);
/* GET /api/v1/instance/storage: use per job, what retention removes next
 * (api_storage.c). */
enum MHD_Result http_api_instance_storage(struct http_req *r);
enum MHD_Result http_api_workers(struct http_req *r); /* api_workers.c */
enum MHD_Result http_api_queues(struct http_req *r);
/* Appends the broker's lines of /metrics to b (weft_broker_up, queue
 * depths, weft_workers by state); nothing when no broker is configured. */
int http_metrics_queues(struct http_req *r, struct weft_instance *inst, struct weft_buf *b);

/* What schedules and sensors share (api_schedules.c); sensors: 1 for
 * sensors, 0 for schedules; the name is the path's segment 3. */
struct weft_sched_item;
struct weft_sched_item_list;
/* An item of sched.h as the API shows it: with "last_tick" (the newest tick
 * with its run ids, or null) and, for a sensor, "cursor" and
 * "last_evaluation". NULL with err set. */
json_t *http_sched_item_json(struct weft_store *st, const struct weft_sched_item *it,
                             int sensor, weft_error *err);
/* {"schedules"|"sensors": [...]} */
enum MHD_Result http_sched_send_list(struct http_req *r, int sensors);
/* The path's item into *it (in *l, which the caller then releases); an
 * error after answering 404 (with a hint when the name is of the other
 * kind) or 500, with *l released. */
int http_sched_find(struct http_req *r, int sensors, struct weft_sched_item_list *l,
                    const struct weft_sched_item **it, enum MHD_Result *res);
/* Sets "ticks" (the newest 20) and "next_cursor" in doc; an error after
 * answering 500. */
int http_sched_add_history(struct http_req *r, const struct weft_sched_item *it, json_t *doc,
                           enum MHD_Result *res);
/* GET .../ticks?limit=&cursor= */
enum MHD_Result http_sched_send_ticks(struct http_req *r, int sensors);
/* POST .../on and .../off: 200 with the item as in the list. */
enum MHD_Result http_sched_toggle(struct http_req *r, int sensors, int on);

/* ---- event streams (sse.c) ------------------------------------------------------------------------- */

struct http_stream;
struct http_stream_ops {
  /* Appends what is ready (http_stream_message), waiting up to wait_ms
   * for more; sets s->finished once the stream is complete. Runs on the
   * stream's own thread. Returns WEFT_OK, or an error that ends the
   * stream with an `event: error`. */
  int (*pump)(struct http_stream *s, int wait_ms, weft_error *err);
  void (*release)(struct http_stream *s); /* frees what the stream type added */
};

/* A text/event-stream response. Its producer is a thread of its own that
 * waits on the stream's own store connection and hands bytes over under
 * mu; the MHD worker that sends them suspends the connection while there
 * is nothing to send, so no worker ever blocks on a stream. */
struct http_stream {
  const struct http_stream_ops *ops;
  struct http_server *srv;
  struct MHD_Connection *conn;
  struct weft_instance inst; /* the server's, with the stream's own store */
  struct weft_buf made;      /* producer only: bytes of the current turn */
  int finished;              /* producer only: the type's stream is complete */
  int64_t next_ping_ms;      /* producer only */
  int fd;                    /* the client's socket, to notice it left */
  pthread_mutex_t mu;        /* guards what follows */
  struct weft_buf out;       /* bytes not yet handed to MHD */
  size_t off;
  int done;                  /* the producer ended: after out, the end */
  int failed;                /* ... an abrupt one (client gone, server stopping) */
  int suspended;             /* the connection waits for bytes */
  int gone;                  /* MHD released its side: never resume again */
  int refs;                  /* the producer's and MHD's */
};

/* Opens the stream's store (counted against HTTP_MAX_STREAMS). WEFT_OK, or
 * an error after answering 503/500. */
int http_stream_init(struct http_stream *s, const struct http_stream_ops *ops,
                     struct http_req *r, enum MHD_Result *res);
/* Frees a stream that was initialised but not handed to respond. */
void http_stream_free(struct http_stream *s);
/* Starts the stream's thread and answers 200 with the stream, which then
 * belongs to it and MHD; on failure it is freed here. */
enum MHD_Result http_stream_respond(struct http_req *r, struct http_stream *s);
/* Appends one SSE message (from pump); id < 0 leaves the id: line out. */
int http_stream_message(struct http_stream *s, long long id, const char *event,
                        json_t *data);

#endif
