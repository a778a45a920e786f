/* queue.h: distributed execution on RabbitMQ: the `queue` executor that a
 * coordinator uses, `weft worker`, and what the CLI, UI and /metrics read. */
#ifndef WEFT_QUEUE_QUEUE_H
#define WEFT_QUEUE_QUEUE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "store/store.h"
#include "weft.h"

/* ---- RabbitMQ topology (every name is declared by whoever needs it first;
 * the arguments are the same everywhere) -----------------------------------
 *
 *   weft.step.NAME     durable queue per op queue NAME (op `queue:`, default
 *                      "default"); x-dead-letter-exchange = weft.dlx.
 *                      Messages: persistent JSON step messages (worker.c).
 *   weft.dlx           durable fanout exchange for rejected messages
 *   weft.dead          durable queue bound to weft.dlx: the dead letters
 *   weft.cancel        durable fanout exchange: {"attempt_id","reason"};
 *                      every worker binds an exclusive queue to it
 *   weft.reply.ID      exclusive auto-delete queue of one coordinator's
 *                      executor: "started"/"done" notices from workers
 *
 * ---- storage kv keys --------------------------------------------------------
 *
 *   worker/ID          {"id","host","pid","queues":["default",...],
 *                       "concurrency":N,"running":[{"attempt_id","run_id",
 *                       "step","attempt","started_ms"}],"started_ms",
 *                       "heartbeat_ms","state":"running"|"stopping"|"stopped",
 *                       "broker":"amqp://HOST:PORT/" (no credentials),
 *                       "steps_done":N, "prefetched":N (steps taken, waiting
 *                       to start: with --prefetch above the concurrency)}
 *                      written every WEFT_WORKER_HEARTBEAT_MS by the worker;
 *                      "stopped" on a clean exit. A "running" entry whose
 *                      heartbeat is older than WEFT_WORKER_STALE_MS is a
 *                      lost worker (weft_worker_info.lost).
 *   attempt/ATTEMPT_ID the recorded result of one step attempt (worker.c),
 *                      read by the coordinator, or by one that adopted the
 *                      run after it died (executor_attach.c);
 *                      ATTEMPT_ID = RUN/STEP/ATTEMPT/RANDOM; all of a run's
 *                      are deleted when its coordinator ends it (executor.c)
 */

#define WEFT_WORKER_HEARTBEAT_MS 2000
#define WEFT_WORKER_STALE_MS 10000
#define WEFT_QUEUE_PREFIX "weft.step."
#define WEFT_QUEUE_DEAD "weft.dead"

/* Registers the "queue" executor with the engine (engine.h:
 * weft_engine_register_executor). Call once before coordinating runs
 * (main.c does, for every command). Idempotent. */
void weft_queue_init(void);

/* ---- queue depths (weft queue stats, /metrics) ------------------------------ */

struct weft_queue_depth {
  char *name;        /* op queue name ("default"), or "weft.dead" as is */
  int64_t messages;  /* ready messages (passive declare's message_count) */
  int64_t consumers; /* consumers attached */
  int exists;        /* 0 when the queue was never declared (counts 0) */
};
struct weft_queue_depths {
  struct weft_queue_depth *v;
  size_t n;
};
void weft_queue_depths_release(struct weft_queue_depths *d);

/* Connects to the broker at url (amqp://USER:PASS@HOST:PORT/VHOST) and reads
 * the depth of each named op queue (names[i] "default" means queue
 * weft.step.default; a name starting with "weft." is taken as is). With
 * n == 0 it reports "default" and "weft.dead". Fills *out in the order
 * given; a queue that does not exist has exists 0 and counts 0. WEFT_EIO (with the broker's reply text) when the broker cannot be
 * reached. */
int weft_queue_depths(const char *url, const char *const *names, size_t n,
                      struct weft_queue_depths *out, weft_error *err);

/* ---- workers --------------------------------------------------------------- */

struct weft_worker_running {
  char *attempt_id, *run_id, *step;
  int attempt;
  int64_t started_ms;
};

struct weft_worker_info {
  char *id, *host, *state, *broker;
  long pid;
  char **queues; /* op queue names */
  size_t n_queues;
  int concurrency;
  struct weft_worker_running *running;
  size_t n_running;
  int64_t started_ms, heartbeat_ms, steps_done;
  int lost; /* state "running"/"stopping" but heartbeat older than
               WEFT_WORKER_STALE_MS */
};
struct weft_worker_list {
  struct weft_worker_info *v;
  size_t n;
};
void weft_worker_list_release(struct weft_worker_list *l);

/* Every worker/ID entry in storage, sorted by id (entries that do not parse
 * are skipped). Stopped workers are included: filter on state. */
int weft_worker_list(struct weft_store *s, struct weft_worker_list *out, weft_error *err);

/* The broker URL the instance names (weft.yaml broker.rabbitmq.url), else
 * $WEFT_BROKER_URL, else NULL. Borrowed or from getenv. */
const char *weft_queue_broker_url(const struct weft_instance *inst);

/* ---- the worker (weft worker) ------------------------------------------------ */

struct weft_worker_options {
  const char *broker_url;   /* required */
  const char *const *queues; /* op queue names; n_queues >= 1 */
  size_t n_queues;
  int concurrency;          /* >= 1 */
  int prefetch;             /* messages taken at once; below concurrency
                               (0): the concurrency */
  const char *id;           /* NULL: "HOST-PID" */
  double grace_s;           /* SIGTERM: wait this long for running steps */
  const char *work_root;    /* where attempt folders go (NULL: HOME/worker) */
  const char *code_cache;   /* code versions fetched from the artifact store
                               (NULL: HOME/code-cache; engine/code_ship.h) */
  uint64_t code_cache_bytes; /* its bound (0: 1 GiB) */
  volatile sig_atomic_t *stop; /* set to nonzero (SIGTERM/SIGINT) to stop */
};

/* Runs the worker until *opts->stop is set: consumes, runs steps, records
 * results (see worker.c). Returns WEFT_OK after a clean shutdown. */
int weft_worker_run(struct weft_instance *inst, const struct weft_worker_options *opts,
                    weft_error *err);

/* Publishes text as is (persistent) to op queue NAME (weft.step.NAME),
 * declaring it: a debugging aid for poison-message tests
 * (`weft queue publish-raw`). Signed with key; or with the weft-sig header
 * sig as is when sig is not NULL; unsigned when both are NULL. */
struct weft_qsig_key;
int weft_queue_publish_raw(const char *url, const char *queue, const char *text,
                           const struct weft_qsig_key *key, const char *sig, weft_error *err);

#endif
