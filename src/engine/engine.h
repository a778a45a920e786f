/* engine.h: the instance ($WEFT_HOME: store, artifacts, step folders) and the
 * run coordinator that drives a run from QUEUED to a final state. */
#ifndef WEFT_ENGINE_ENGINE_H
#define WEFT_ENGINE_ENGINE_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>

#include "artifacts/artifacts.h"
#include "dsl/dsl.h"
#include "model/model.h"
#include "store/store.h"
#include "weft.h"

/* ---- the instance ----------------------------------------------------------
 *
 *   $WEFT_HOME/weft.db                      run storage (SQLite, WAL)
 *   $WEFT_HOME/artifacts/RUN/STEP/OUTPUT    every output an op wrote
 *   $WEFT_HOME/runs/RUN/STEP/ATTEMPT/       the step's work folder (the step
 *       config.json inputs/ outputs/        protocol's layout, exec.h); its
 *       stdout.log stderr.log               compute logs stay here
 */
struct weft_instance {
  char *home;     /* absolute path */
  char *runs_dir; /* HOME/runs */
  char *storage_url, *artifacts_url; /* from HOME/weft.yaml, or the defaults */
  char *broker_url;        /* weft.yaml broker.rabbitmq.url, or NULL */
  char *default_execution; /* weft.yaml execution: ("queue", ...), or NULL */
  char *queue_key_file;    /* weft.yaml queue.signing_key_file, or NULL (queue/signing.h) */
  struct weft_store *store;
  struct weft_artifacts *artifacts;
  struct weft_containers_config containers; /* weft.yaml containers: */
  char *container_label;   /* the weft.instance label of its containers */
  char **container_labels; /* containers.labels as "K=V", NULL-terminated */
  char *secret_key_file;   /* weft.yaml secrets.key_file, or HOME/secret.key */
};

/* Opens (creating it when absent) the instance at home; NULL means
 * $WEFT_HOME, else ./.weft. HOME/weft.yaml, when present, names the storage
 * and artifact store (dsl.h: weft_instance_config_parse); an invalid one
 * fails the open with every problem, as file:line:col lines, in err. Opening sweeps orphaned runs (below), so every
 * command that opens the instance repairs what a killed launcher left.
 * Free with weft_instance_close. */
int weft_instance_open(const char *home, struct weft_instance **out, weft_error *err);
void weft_instance_close(struct weft_instance *inst); /* NULL is a no-op */

/* A run held by a lease whose lease expired and whose owner is gone is
 * adopted (run_adopt.c, below) when adoption is on. Otherwise, a run whose
 * coordinator died (its process is gone on this host, or its
 * heartbeat is older than WEFT_HEARTBEAT_STALE_MS when it ran elsewhere) is
 * orphaned: the process groups of its running steps are killed, running and
 * pending steps are marked failed, and the run fails with a message naming
 * the dead coordinator. A queued run whose launcher died before handing it
 * over goes back to the run queue, unowned, for a dequeuer to start (it
 * never started: nothing of it is lost). *n_swept (may be NULL) counts the
 * runs repaired. */
#define WEFT_HEARTBEAT_MS 2000
#define WEFT_HEARTBEAT_STALE_MS 30000
int weft_instance_sweep_orphans(struct weft_instance *inst, size_t *n_swept,
                                weft_error *err);
/* Fails run_id (not final) as a sweep does, for why: what it left running on
 * this host is killed, its unfinished steps end failed (never started:
 * canceled), and its run_failure names them. An adopter that cannot go on
 * calls it. WEFT_ECONFLICT when the run already ended. */
int weft_instance_fail_run(struct weft_instance *inst, const char *run_id, const char *why,
                           weft_error *err);

/* "host:pid:starttime" naming this process; starttime (from /proc) tells a
 * live coordinator from a later process that reused its pid. Caller frees. */
char *weft_coordinator_id(void);
/* 1 when the coordinator named by id still lives on this host, 0 when it is
 * dead, -1 when id names another host (liveness unknown here). */
int weft_coordinator_alive(const char *id);

/* The work folder of one attempt: HOME/runs/RUN/STEP/ATTEMPT. Caller frees. */
char *weft_instance_step_dir(const struct weft_instance *inst, const char *run_id,
                             const char *step, int attempt);

/* ---- container steps (containers_run.c) -----------------------------------------
 *
 * A step runs in a container when it has an image: the run config's
 * ops.NAME.image, else its op's image:, else its location's, else weft.yaml
 * containers.default_image (exec.h, "container steps"). */

struct weft_launch;
/* The image invocation inv of job runs in (rc may be NULL), or NULL: a
 * process on the host. Borrowed. */
const char *weft_step_image(const struct weft_instance *inst, const struct weft_job *job,
                            const struct weft_run_config *rc, const struct weft_invocation *inv);
/* The container engine's address: containers.socket, else the default
 * (containers.h). Caller frees. */
char *weft_instance_container_url(const struct weft_instance *inst);
/* At launch: when steps of l would run in containers here, the engine must
 * answer and every image be there: with pull, pulled first as
 * containers.pull says (call it outside a store transaction: a pull may take
 * minutes); without, a missing image is an error only under pull: never
 * (weft_run_create checks so; the step pulls it). The error names the op
 * and the engine's message. */
int weft_run_containers_check(struct weft_instance *inst, const struct weft_launch *l, int pull,
                              weft_error *err);
/* Removes the containers of this instance (only of run_id, when not NULL)
 * whose attempt is final; with dry_run only lists them. *report (may be
 * NULL; new reference) is an array of {"id","name","run","step","attempt",
 * "state","why","removed","error"?}. */
int weft_instance_gc_containers(struct weft_instance *inst, const char *run_id, int dry_run,
                                json_t **report, weft_error *err);

/* ---- events -------------------------------------------------------------------
 *
 * Every event's payload is a JSON object. Run-level events (step NULL):
 *   run_queued     {"job","location","tags":{job's, run config's, launcher's},
 *                   "code_version"?,"location_path"? (the live folder),
 *                   "parent_run_id"?}
 *   run_started    {"coordinator","executor","max_concurrent" (effective
 *                   slots),"steps":N,"plan":[every step, in job order],
 *                   "reused":[steps taken from the parent run],
 *                   "code_version"?,"code_dir"? (the snapshot the steps run in)}
 *   run_canceling  {"reason"}
 *   run_success    {"duration_ms"}
 *   run_failure    {"duration_ms","message","failed":[steps]}
 *   run_canceled   {"duration_ms","message"}
 *   run_timeout    {"timeout" (as written),"timeout_ms","elapsed_ms","message"}
 *                  (engine/run_deadline.c; the run then ends FAILURE)
 *   sla_missed     {"sla" (as written),"sla_ms","elapsed_ms"}
 *   hook_delivered / hook_failed  {"hook","trigger","kind","target",
 *                  "attempts","status"?,"exit_code"?,"output"?,"error"?}
 *                  (engine/hooks.c; a step's own when an op's alert)
 * Step-level events (step set; "attempt" is 1-based):
 *   step_started      {"attempt","pid","dir","stdout","stderr"} (log paths;
 *                      a queue step adds "worker","worker_pid", pid is 0)
 *   log               {"attempt","level","msg"}              (from the op)
 *   materialization   {"attempt","asset","metadata":{...}}   (from the op)
 *   step_output       {"attempt","output","type","key","bytes","value"?,
 *                      "from_run"?,"written"?}  key: artifact key, or null
 *                      for an output the op left unwritten (value null);
 *                      value is inlined when its JSON is at most 4 KiB;
 *                      from_run when a re-execution reused it; written:
 *                      false for an optional output left unwritten
 *   step_succeeded    {"attempt","duration_ms","stdout","stderr",
 *                      "stdout_bytes","stderr_bytes","container"?}
 *                      container: {"id","image","digest"} of a step that
 *                      ran in a container (also on failed, up_for_retry)
 *   step_up_for_retry {"attempt","message","retry_in_ms",... as failed}
 *   step_failed       {"attempt","duration_ms","message","exit_code",
 *                      "stdout","stderr","stdout_bytes","stderr_bytes"}
 *   step_skipped      {"message","trigger","upstream"?,"output"?,"when"?}
 *                      an upstream failed, was canceled or skipped and
 *                      the step's trigger: rule did not hold, an optional
 *                      input was not written (output), or its when: was
 *                      false (when)
 *   step_canceled     {"attempt"?,"message"}
 *   step_reused       {"from_run"}  (re-execution: not run again)
 * A step's events appear in the order above; the step row and the event
 * reporting its change are written in one transaction. */

/* ---- executors from the layers above ---------------------------------------------
 *
 * The engine cannot call up into src/queue, so a layer above registers its
 * executor by name (weft_queue_init registers "queue"); weft_run_execute
 * then creates it for runs whose run config says `execution: {queue: {}}`
 * (or, naming none, when weft.yaml says `execution: queue`). The factory
 * gets the instance (store, artifacts, broker URL), the run config and the
 * coordinator's callbacks, and returns a new executor or an error. */
struct weft_run_config;
struct weft_executor;
struct weft_executor_callbacks;
typedef int (*weft_executor_factory)(struct weft_instance *inst,
                                     const struct weft_run_config *rc,
                                     const struct weft_executor_callbacks *cb,
                                     struct weft_executor **out, weft_error *err);
/* Registers (or replaces) the factory of executor name; up to 8 names.
 * Not thread-safe: call at startup. WEFT_ENOMEM when the table is full. */
int weft_engine_register_executor(const char *name, weft_executor_factory factory);

/* An executor may report which worker runs a step by calling on_event with
 * {"type":"step_worker","worker":"ID","pid":N,"attempt_id":"ID"?} before
 * on_started: the coordinator records it in the step row's worker and the
 * step_started event ("worker", "worker_pid", "attempt_id": what a coordinator
 * adopting the run gives weft_executor_attach) instead of logging it. */

/* ---- launching and coordinating runs ------------------------------------------- */

/* Called after each batch of events is committed, in order; ev is borrowed. */
typedef void (*weft_run_event_fn)(void *data, const struct weft_event_row *ev);

struct weft_launch {
  const struct weft_job *job;
  const struct weft_run_config *rc;
  json_t *tags;              /* extra tags over rc->tags, or NULL (borrowed) */
  const char *parent_run_id; /* re-execution: the run it comes from, or NULL */
  /* The code version to run (re-execution with its parent's code): its
   * snapshot must exist; NULL: snapshot job->location's folder as it is now
   * (engine/code_snapshot.h). */
  const char *code_version;
  /* code_version came from weft_code_memo_version, which made or touched
   * its snapshot moments ago: it is not checked and touched again. */
  int code_checked;
  /* Re-execution: in_run[i] says whether job->ops[i] runs (NULL: all do);
   * the others reuse the parent run's outputs. */
  const unsigned char *in_run;
  weft_run_event_fn on_event; /* may be NULL */
  void (*on_tick)(void *cb_data); /* once per loop turn, >= every 100 ms; may be NULL */
  void *cb_data;
  /* Set (to nonzero, e.g. by a SIGINT handler) to cancel the run. */
  volatile sig_atomic_t *interrupt;
  /* Adoption (weft_run_adopt): the run is STARTED or CANCELING and its
   * coordinator died; its lease is taken from this hand-off token. */
  int adopt;
  const char *adopt_token;
  /* weft_run_create: the run is left for a dequeuer (the run queue, a
   * coordinator service), so it names no coordinator, as
   * weft_run_queue_enqueue leaves one; else its creator is its
   * coordinator until it starts it. */
  int unowned;
  /* The run's row as the caller read it just now (a coordinator service's
   * take): starting the run uses it rather than read it again. NULL: it
   * is read. Either way the lease claim checks the run under the lease. */
  const struct weft_run_row *row;
};

/* Records a new QUEUED run (row and run_queued event) and returns its id
 * (caller frees) in *run_id. The run's code is snapshotted first
 * (l->code_version, or the location folder now: code_snapshot.h); the
 * coordinator runs the job as that snapshot holds it. */
int weft_run_create(struct weft_instance *inst, const struct weft_launch *l,
                    char **run_id, weft_error *err);

/* weft_run_create in two halves, for many runs recorded together (a
 * scheduler's chunk of due ticks: one statement each for their rows and
 * their events on PostgreSQL). weft_run_prepare checks and snapshots as
 * weft_run_create does and fills *out (release it with
 * weft_run_new_release) without writing; weft_run_write_many records
 * v[0..n) and their run_queued events, all or none, in the caller's
 * transaction or one of its own. */
struct weft_run_new {
  struct weft_run_row row; /* every string is this struct's */
  char *queued_payload;    /* the run_queued event's payload (JSON) */
};
int weft_run_prepare(struct weft_instance *inst, const struct weft_launch *l,
                     struct weft_run_new *out, weft_error *err);
int weft_run_write_many(struct weft_instance *inst, const struct weft_run_new *v, size_t n,
                        weft_error *err);
void weft_run_new_release(struct weft_run_new *v);

/* Coordinates run_id (created by weft_run_create with the same l) to its
 * end in this process: starts steps on the executor the run config names,
 * retries, persists outputs and logs, records every event, honours
 * cancellation (l->interrupt, or weft_run_request_cancel from any process).
 * *final receives the run's final status. Returns an error only when the
 * run could not be driven (store failure); the run is then marked failed
 * when possible. */
int weft_run_execute(struct weft_instance *inst, const char *run_id,
                     const struct weft_launch *l, enum weft_run_status *final,
                     weft_error *err);

/* ---- leases and adoption (run_adopt.c) ---------------------------------------
 *
 * The coordinator driving a run holds it by a lease in storage (owner: its
 * coordinator id; expiry: now + weft_run_lease_ms()), renewed every third of
 * that in its group commit. When the lease has expired and its owner is gone,
 * a sweep (weft_instance_sweep_orphans) takes the lease under a hand-off token
 * and spawns `weft run coordinate RUN --adopt TOKEN`, which resumes the run:
 * weft_run_adopt. */
#define WEFT_RUN_LEASE_DEFAULT_MS 5000
/* $WEFT_RUN_LEASE_MS (100 .. 3,600,000), else WEFT_RUN_LEASE_DEFAULT_MS. */
int64_t weft_run_lease_ms(void);
/* Lets sweeps adopt: exe is the weft binary to spawn (the CLI sets it). Off
 * (NULL, the default: unit tests, embedders), or with $WEFT_RUN_ADOPT=0 in
 * the sweeping process, sweeps fail orphaned runs. */
void weft_run_adopt_enable(const char *exe);
/* Takes run_id's lease from the hand-off token for this process, first
 * thing (before the run's code and executor load: the executor may wait
 * for a restarting broker), so sweeps see a live owner and spawn no second
 * adopter meanwhile. WEFT_ECONFLICT when the token no longer holds it. */
int weft_run_adopt_hold(struct weft_instance *inst, const char *run_id, const char *token,
                        weft_error *err);
/* Resumes run_id (STARTED or CANCELING, its coordinator dead) in this
 * process to its end, as weft_run_execute: steps already final keep their
 * results, interrupted attempts are retried (step_up_for_retry with
 * "adopted": true), a run_adopted event {from, to, reason} says so.
 * WEFT_ECONFLICT when another coordinator holds the run's lease. */
int weft_run_adopt(struct weft_instance *inst, const char *run_id, const char *token,
                   const struct weft_launch *l, enum weft_run_status *final, weft_error *err);
/* An adopter stopped by what no other adopter would get past (the run's
 * code does not load, the broker refuses its login): fails run_id as
 * "adoption failed: WHY", every step left final (weft_instance_fail_run).
 * WEFT_ECONFLICT when the run already ended. */
int weft_run_adopt_fail(struct weft_instance *inst, const char *run_id, const char *why,
                        weft_error *err);

/* Asks run_id to stop: a QUEUED run is canceled at once; a STARTED run
 * becomes CANCELING and its coordinator, within ~100 ms, terminates its
 * steps (SIGTERM, then SIGKILL) and marks it CANCELED; an orphaned run is
 * swept. WEFT_ECONFLICT (with the status) when the run already ended. */
int weft_run_request_cancel(struct weft_instance *inst, const char *run_id,
                            const char *reason, weft_error *err);

/* The run config run was launched with (its row's run_config, after --set),
 * checked again against job as it is now: a coordinator started in another
 * process and a re-execution rebuild it so. Diagnostics name the text
 * "<run config of run ID>". Returns WEFT_OK with *out filled (release with
 * weft_run_config_release) or WEFT_EINVALID with diags. */
int weft_run_config_from_row(const struct weft_job *job, const struct weft_run_row *run,
                             struct weft_run_config *out, struct weft_diags *diags);

/* Fails run_id when it is still QUEUED: its coordinator could not start it
 * (a process that exited first, a job gone from the workspace). The run
 * ends failed with message, with a run_failure event, in one transaction.
 * WEFT_ECONFLICT when the run is no longer queued (it started after all). */
int weft_run_abandon(struct weft_instance *inst, const char *run_id, const char *message,
                     weft_error *err);

/* Reads the compute log at key (RUN/STEP/ATTEMPT/stdout.log) from the
 * artifact store into local_path: the whole log once the attempt ended, or,
 * while it runs, the chunks uploaded so far (run_logs.c). WEFT_ENOTFOUND when
 * there is neither. */
int weft_artifacts_read_log(struct weft_artifacts *a, const char *key, const char *local_path,
                            weft_error *err);

/* Re-execution selection against parent run parent_id for job: with
 * from_failure, every step that did not succeed in the parent, and all of
 * their downstreams; else exactly the named steps (unknown names are
 * reported with a did-you-mean). Fills in_run[job->n_ops]. */
int weft_reexec_select(struct weft_instance *inst, const char *parent_id,
                       const struct weft_job *job, int from_failure,
                       const char *const *steps, size_t n_steps,
                       unsigned char *in_run, weft_error *err);
/* Items of mapped steps named in steps (`STEP[KEY]`, or `STEP[*]` for every
 * item; weft_reexec_select takes their steps) run again even where the
 * parent's outputs could be reused: sets the new run's tag
 * WEFT_REEXEC_ITEMS_TAG in tags to them, comma-joined, or removes it when
 * there are none. The coordinator reads it back (engine/run_map.c). */
#define WEFT_REEXEC_ITEMS_TAG "weft/rerun_items"
int weft_reexec_tag_items(json_t *tags, const char *const *steps, size_t n_steps,
                          weft_error *err);

/* A re-execution of the parent's code runs each container step in the very
 * image its parent ran: ops.NAME.image of rc becomes the digest the
 * parent's latest attempt recorded (steps the parent never ran in a
 * container keep theirs). Not for --latest-code, whose images may differ. */
int weft_reexec_pin_images(struct weft_instance *inst, const char *parent_id,
                           const struct weft_job *job, struct weft_run_config *rc,
                           const unsigned char *in_run, weft_error *err);

#endif
