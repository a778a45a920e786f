/* worker_int.h: private to the worker (worker.c, worker_files.c): a worker's
 * state, its slots (one step each) and batches (one taken message each). */
#ifndef WEFT_QUEUE_WORKER_INT_H
#define WEFT_QUEUE_WORKER_INT_H

#include <stdint.h>

#include "queue/queue_int.h"

struct weft_code_cache;

/* A changed running set is written at most this often (not per step: with
 * SQLite every write is an fsync); an unchanged one every heartbeat. */
#define HEARTBEAT_DIRTY_MS 250
/* A run found live is not looked up again for this long. */
#define RUN_CHECK_MS 1000
/* Running steps' new log bytes go up this often (engine/run_logs.c layout). */
#define LIVE_LOG_MS 1000
#define CHUNK_MAX (4 << 20)
/* Steps in one message at most (the coordinator sends up to 64). */
#define BATCH_MAX 64

/* One taken message: its steps share it, and it is settled (results
 * written, "done" notice, ack or nack) when the last of them is over. */
struct batch {
  struct weft_broker_msg msg;
  int open;    /* steps of it not finished yet (+1 while it is being taken) */
  int requeue; /* hand it back when settled (shutdown, storage failure) */
  int reject;  /* dead-letter it when settled (an unusable single step) */
  char why[600];
  json_t *results; /* [[attempt_id, reply_to, result document], ...] */
  json_t *done;    /* reply_to -> [attempt ids] for the "done" notices */
  int settling;    /* in w->settle, waiting for the next group commit */
};

/* A slot holds one taken step: waiting (validated, not started: with
 * --prefetch above the concurrency, the next step starts as soon as one
 * ends, before that one's result is recorded) or started. */
struct slot {
  int used, started, abandon;
  json_t *json;  /* the step message, until the step starts */
  uint64_t seq;  /* order taken: waiting slots start oldest first */
  struct batch *b; /* the message it came in (shared with its batch) */
  struct weft_executor *ex; /* the executor it runs on, once started */
  char *attempt_id, *run_id, *step, *reply_to, *work_dir;
  int attempt;
  struct weft_op_def *def;
  json_t *events;
  long pid;
  int64_t started_ms;
  int64_t log_sent[2]; /* stdout/stderr bytes uploaded as live chunks */
  struct weft_mask *mask; /* its secret values: masked in its logs, events, message */
  char *code_version; /* held in code_cache while it runs (worker_code.c) */
  struct weft_code_cache *code_cache;
};

struct worker {
  struct weft_instance *inst;
  const struct weft_worker_options *o;
  struct weft_broker *sub, *pub;
  struct weft_qsig_key *key; /* signs notices, checks messages (signing.h) */
  struct weft_executor *x;  /* process ops */
  struct weft_executor *xc; /* C-function ops, in this process */
  struct weft_secret_keyring *keyring; /* engine/secrets.h: loaded when first needed */
  struct weft_code_cache *code; /* engine/code_ship.h: opened when first needed */
  struct slot *slots;
  int n_slots;     /* prefetch * BATCH_MAX + 1 */
  int prefetch;    /* basic.qos: messages taken at once (>= concurrency) */
  int concurrency; /* steps run at once */
  int stopping;    /* SIGTERM: start nothing more */
  uint64_t seq;
  char *id, *work_root;
  char host[256];
  int64_t started_ms, next_heartbeat_ms, steps_done, last_heartbeat_ms;
  int64_t next_pub_pump_ms; /* monotonic: when the notice connection is next served */
  int dirty; /* the running set changed since the last heartbeat */
  const char *state;
  char *live_run; /* the last run found not ended, at live_run_ms (mono) */
  int64_t live_run_ms;
  int64_t next_live_log_ms;
  json_t *started; /* [[reply_to, attempt_id, pid], ...]: notices to send */
  /* Taken messages not settled yet (the unacked deliveries), and those of
   * them whose steps are all over, settled together by the next
   * weft__wk_settle_flush: one store commit, one "done" notice per
   * coordinator, acks grouped (worker_settle.c). */
  struct batch **live, **settle;
  size_t n_live, cap_live, n_settle, cap_settle;
  json_t *trash; /* finished steps' work folders, removed once settled */
  int ep;        /* the loop's epoll fd (worker.c) */
  int sub_ready, pub_ready;  /* epoll said their sockets are readable */
  int64_t next_sub_pump_ms;  /* monotonic: the consumer connection is read at least then */
};

/* Taken, not started yet (a finishing slot is neither: its json is gone). */
static inline int weft__wk_is_waiting(const struct slot *s) {
  return s->used && !s->started && s->json;
}

/* worker_heartbeat.c: rewrites the kv worker/ID when due (force: now). */
void weft__wk_heartbeat(struct worker *w, int force);

/* A log line on stderr: time, worker id, the message. */
void weft__wk_log(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* worker_settle.c: notices and results. */

/* Serves the notice connection every second (heartbeats; a closed
 * connection is noticed before it is used). */
void weft__wk_pump_publisher(struct worker *w);
/* Publishes notice n (stolen) to reply_to, best effort. */
void weft__wk_notify(struct worker *w, const char *reply_to, json_t *n);
/* Adds attempt_id to the list of reply_to in by_reply_to. */
void weft__wk_add_id(json_t *by_reply_to, const char *reply_to, const char *attempt_id);
/* Sends the "started" notices gathered since the last call. */
void weft__wk_flush_started(struct worker *w);
/* Keeps the result of one step of batch b (stolen), written when b settles. */
void weft__wk_record(struct worker *w, struct batch *b, const char *attempt_id,
                     const char *reply_to, json_t *result);
/* A step that could not even start on this worker: a failed result. */
void weft__wk_record_failure(struct worker *w, struct batch *b, const char *attempt_id,
                             const char *reply_to, const char *message);
/* One step of b is over (or one taker's hold on it): the last settles it:
 * a message to hand back or dead-letter at once (nack), one whose steps
 * ran at the next weft__wk_settle_flush. */
void weft__wk_step_end(struct worker *w, struct batch *b);
/* A taken message joins the unacked ones (0, or WEFT_ENOMEM). */
int weft__wk_live_add(struct worker *w, struct batch *b);
/* Settles every message whose steps are over: all their results in one
 * store transaction (first writer wins), one "done" notice per
 * coordinator, then the acks (one with multiple=true where it may). A
 * storage failure hands them all back. Called by the loop before it
 * sleeps, so what finished during one commit goes in the next. */
void weft__wk_settle_flush(struct worker *w);
/* Removes the work folders of settled steps (after the acks: off the path
 * from one step's end to the next one's start). */
void weft__wk_empty_trash(struct worker *w);

/* How to ack tags[0..n) (deliveries of one connection) while the unacked
 * deliveries others[0..n_others) stay: sorts tags, sets *upto to the
 * highest tag below every other one when at least two tags are (one
 * basic.ack with multiple=true covers them; else 0), and returns how many
 * tags, at the end of tags, still need an ack each. */
size_t weft__wk_ack_plan(uint64_t *tags, size_t n, const uint64_t *others, size_t n_others,
                         uint64_t *upto);

/* worker_code.c: the code a step runs. */

/* When the message names a code version (the run's snapshot) and *cwd is
 * not on this machine: the version from the worker's code cache, fetched
 * when absent; *cwd and loc_env's WEFT_CODE_DIR then name its folder, held
 * until weft__wk_code_release. */
int weft__wk_code_dir(struct worker *w, struct slot *s, json_t *msg, const char **cwd,
                      struct weft_kvs *loc_env, weft_error *err);
void weft__wk_code_release(struct slot *s);

/* worker_files.c: the files of a step on the artifact store. */

/* A step message's container settings on this worker (its own weft.yaml
 * containers: engine, pull, network, labels): c.image NULL when the step
 * runs on the host. Lives on the caller's stack while the step starts. */
struct weft__wk_ctr {
  struct weft_step_container c;
  char url[4200], sdk[4200], auth[4200];
};
int weft__wk_container(struct worker *w, json_t *msg, struct weft__wk_ctr *out, weft_error *err);

/* Fetches the message's path inputs into s->work_dir/inputs/. */
int weft__wk_prepare_inputs(struct worker *w, struct slot *s, json_t *msg, weft_error *err);
/* Every LIVE_LOG_MS: the new bytes of running steps' logs, as chunks. */
void weft__wk_upload_live_logs(struct worker *w);
/* Uploads the logs and path outputs of a finished step; returns the result
 * document (new reference; NULL when out of memory). */
json_t *weft__wk_result_doc(struct worker *w, struct slot *s, const struct weft_step_result *res);

#endif
