/* engine_int.h: state shared by the coordinator's files (run.c, run_step.c):
 * the run being driven, its plan, and the batch of writes not yet committed. */
#ifndef WEFT_ENGINE_ENGINE_INT_H
#define WEFT_ENGINE_ENGINE_INT_H

#include "engine/engine.h"
#include "engine/plan.h"
#include "exec/exec.h"

/* Events and step rows queued during one loop iteration, committed together
 * in one transaction (an event is durable no later than the state it
 * reports). */
struct coord_batch {
  struct weft_event_row *ev;
  size_t n_ev, cap_ev;
  struct weft_step_row *st;
  size_t n_st, cap_st;
};

struct coord {
  struct weft_instance *inst;
  const struct weft_launch *l;
  const struct weft_job *job;
  struct weft_run_row run; /* our view of the row; written back in flush */
  int run_dirty;
  struct weft_plan plan;
  struct weft_executor *x;
  struct coord_batch batch;
  json_t **outputs;   /* per step: {"OUTPUT": {"key": k|null, "value": v?}} */
  char **dirs;        /* per step: work folder of the current attempt */
  int64_t *started;   /* per step: wall ms the current attempt started */
  size_t *scratch;    /* capacity plan.n, for skipped/canceled index lists */
  size_t *retrying;   /* indexes of UP_FOR_RETRY steps */
  size_t n_retrying;
  int canceling;
  char *cancel_reason;
  int64_t next_heartbeat_ms, next_status_check_ms; /* monotonic */
  weft_error *err;    /* where the first store failure is reported */
  int failed_store;   /* a store write failed: stop driving the run */
  int64_t (*log_sent)[2]; /* per step: stdout/stderr bytes uploaded live */
  unsigned char *log_warned; /* per step: a live upload failure was logged */
  int64_t next_live_log_ms;  /* monotonic */
  char **workers;            /* per step: who runs the current attempt (a
                                queue worker's id), or NULL: this process */
  long *worker_pids;         /* per step: the step's pid on that worker */
  /* The executor's id of the attempt a step_worker event just named, for
   * the step_started event that follows it (engine.h); one slot, not one
   * per step: only the next on_started reads it. */
  char *worker_attempt_id;
  size_t worker_attempt_step;
  json_t *run_tags;          /* run.tags parsed, when a step first needs it */
  char *ctr_url, *ctr_sdk;   /* container steps: the engine, the SDK folder */
  char *ctr_auth;            /* registry credentials file, or NULL */
  int ctr_auth_known;        /* ctr_auth was looked for */
  /* Secrets (engine/secrets.h): every value a step of the run got, masked
   * in its events, step messages and the run's message; the keys, loaded
   * when a step first needs them. */
  struct weft_mask *mask;
  struct weft_secret_keyring *keyring;
  /* run_trigger.c: per step skipped because a failure or cancel upstream
   * reached it through other skips, that step's index + 1 (else 0), so the
   * whole chain names the cause: "upstream 'load' failed". */
  size_t *skip_root;
  unsigned char *alerted; /* per step: its on_failure alert was fired */
  /* What the job has, looked at once (0: not yet, 1: none, 2: some), so a
   * turn of a run of 100,000 steps does not scan them all for nothing. */
  int job_has_step_hooks, job_has_mapped;
  struct coord_map *map;  /* run_map.c's own state (NULL until needed) */
  /* run_adopt.c: the run's lease (renewed in coord_flush's transaction). */
  int64_t lease_next_ms; /* monotonic: renew then */
  int lease_lost;        /* another coordinator holds it: stop, write nothing */
  /* A loop's run: its lease is claimed in the loop's next commit; until
   * that commit, no step starts (coord_start_ready). */
  int lease_claim_pending;
  int lease_released;      /* a loop's run: dropped in the commit of its end */
  int sla_missed_before; /* adopted: its sla_missed event is out already */
  /* Resumed by coord_adopt: an attempt's folder may already hold what the
   * coordinator that died left there (coord_start_step clears it). */
  int adopted;
  /* Driven by a loop of many runs (coord_loop.c): it commits every run's
   * batch in one transaction and reads cancel requests for all of them. */
  int shared_commit;
  /* Set by such a loop while its write transaction is open, after it read
   * every CANCELING run inside that transaction (which holds the store's
   * write lock, so no cancel lands before its commit): coord_flush_write
   * then need not read this run's row again. */
  int status_read_in_tx;
  /* Set by such a loop likewise: coord_flush_write leaves the batch's step
   * rows and events to the loop, which writes those of all its runs with
   * one statement each. */
  int rows_by_loop;
  /* Set by coord_flush_write under rows_by_loop instead of updating the
   * run row: the loop writes every such row with one statement. */
  int run_row_to_loop;
  /* Set by such a loop that claimed this run's lease together with its
   * other new runs' (WEFT_LEASE_* + 1; 0: not claimed yet):
   * coord_lease_claim_pending takes that outcome instead of claiming. */
  int lease_claim_outcome;
};

/* executor_registry.c: creates the run's executor (run config, else the
 * instance default; registered factories for "queue"). */
int coord_executor_new(struct weft_instance *inst, const struct weft_run_config *rc,
                       const struct weft_executor_callbacks *cb, struct weft_executor **out,
                       weft_error *err);

/* Queues an event (payload stolen; NULL payload means {}). */
void coord_event(struct coord *c, const char *step, const char *type, json_t *payload);
/* Queues the row of step i's current attempt in status st. */
void coord_step_row(struct coord *c, size_t i, enum weft_step_status st, long pid,
                    const char *message);

/* run_step.c */
/* Prepares the work folder and starts step i (already RUNNING in the plan);
 * a step that cannot start fails at once. */
void coord_start_step(struct coord *c, size_t i);
/* Records the outcome of one attempt. */
void coord_finish_step(struct coord *c, struct weft_step_result *res);
/* Fails step i before any process ran (its folder or inputs could not be
 * prepared, the executor refused it, or its `when:` could not be
 * evaluated), and records the downstreams that skips. */
void coord_fail_unstarted(struct coord *c, size_t i, const char *message);
/* Re-execution: copies the parent's outputs of step i into this run. */
int coord_reuse_step(struct coord *c, size_t i, const char *parent_id, weft_error *err);

/* Records a failure of the run's storage or memory: the run stops. */
void coord_oom(struct coord *c);
/* run_adopt.c: a taken-over attempt whose end cannot be known (res->lost)
 * is retried, the events saying why. */
void coord_retry_lost(struct coord *c, struct weft_step_result *res);

/* run_map.c: mapping (plan.h). */
/* Mapped step i was taken from the ready queue: it expands into its items
 * (or fails: its list cannot be read, is too long, has bad keys). */
void coord_map_expand(struct coord *c, size_t i);
/* Mapped steps whose items have all ended collect their outputs and end;
 * a map after a map whose source has expanded expands too (streaming). */
void coord_map_check(struct coord *c);
/* Item j was taken from the ready queue: it is skipped (its source item did
 * not succeed, its per-item `when:` is false), reused from the parent run,
 * or started. */
void coord_map_item_start(struct coord *c, size_t j);
void coord_map_release(struct coord *c);

/* run_trigger.c: branches (plan.h has the trigger rules). */
/* Whether ready step i may start: 0 when it was skipped (an optional input
 * left unwritten, a false `when:`) or failed (a `when:` that cannot be
 * evaluated) here, with its events and its downstreams settled. */
int coord_gate_step(struct coord *c, size_t i);
/* Skips RUNNING step i without starting it, for message (extra: more of
 * the event's payload, stolen, may be NULL), and records the downstreams
 * that skips in turn. */
void coord_skip_ready(struct coord *c, size_t i, const char *message, json_t *extra);
/* Records step j SKIPPED with message (step_skipped event, step row). */
void coord_record_skip(struct coord *c, size_t j, const char *message, json_t *extra);
/* Records the n steps idx[] the plan skipped, each with the upstream that
 * decided it ("upstream 'check' failed"). */
void coord_record_skipped(struct coord *c, const size_t *idx, size_t n);
/* Records the steps the plan skipped when it was made. */
void coord_record_init_skips(struct coord *c);
/* A mapped step's per-item `when:` for item j (value item, borrowed): 1
 * run it; 0 it was skipped or failed here, with its events. */
int coord_gate_item(struct coord *c, size_t j, const json_t *item);
/* Whether output `out` of step u is optional and was not written. */
int coord_output_unwritten(const struct coord *c, size_t u, const char *out);

/* containers_run.c: step i's container settings (out->image NULL: none);
 * the strings stay valid while c lives. */
int coord_step_container(struct coord *c, size_t i, struct weft_step_container *out,
                         weft_error *err);
/* The weft.instance label value for a storage URL; caller frees. */
char *weft__instance_container_label(const char *storage_url);
/* SIGKILLs every process of this machine (in the caller's PID namespace:
 * not containers) whose environment says WEFT_RUN_ID=run_id (the steps of
 * a run whose coordinator died, and what they started), but the caller;
 * returns how many. */
int weft__kill_run_procs(const char *run_id);

/* run_logs.c: compute logs when the artifact store is remote. */
int coord_logs_remote(const struct coord *c);
/* Uploads the new bytes of running steps' logs as chunks (every second). */
void coord_upload_live_logs(struct coord *c);
/* A new attempt of step i starts its logs from zero. */
void coord_reset_live_logs(struct coord *c, size_t i);
/* Uploads step i's whole logs when its attempt ended and drops the chunks;
 * a failure goes into payload as log_upload_error. */
void coord_upload_final_logs(struct coord *c, size_t i, json_t *payload);

/* run_adopt.c: the run's lease and adoption. */
/* Takes the lease for c->run.coordinator (steal_from: a sweep's hand-off
 * token, or NULL); WEFT_ECONFLICT (lease_lost set) when another holds it. */
int coord_lease_claim(struct coord *c, const char *steal_from, weft_error *err);
/* Whether the lease is due for renewal (a third of its length passed). */
int coord_lease_due(const struct coord *c, int64_t now_mono);
/* Renews it (and every other lease of this coordinator) in the open
 * transaction; WEFT_ECONFLICT (lease_lost set) when it was taken. */
int coord_lease_renew(struct coord *c, weft_error *err);
/* A loop of many runs (coord_loop.c): every lease of owner renewed in one
 * statement, in the open transaction, once for all its runs; held lists
 * the runs still ours (release it). */
int coord_lease_renew_all(struct weft_instance *inst, const char *owner,
                          struct weft_run_lease_list *held, weft_error *err);
/* A run of that loop missing from held: another coordinator adopted it;
 * it writes nothing more and stops (failed_store, c->err says why). */
void coord_lease_lost(struct coord *c);
/* A loop's run (shared_commit) claims its lease in the loop's transaction
 * that records its start (coord_lease_claim only marks it): done here, in
 * the open transaction, which must then find the run still queued. Another
 * holder, or a run another coordinator started meanwhile, is not an error
 * of the transaction: the run is lost (coord_lease_lost) and writes
 * nothing. lease_claim_pending stays set: the loop clears it once the
 * transaction committed (a rolled-back claim is claimed again). When the
 * loop already claimed it with its other new runs (lease_claim_outcome),
 * this only takes that outcome. */
int coord_lease_claim_pending(struct coord *c, weft_error *err);
/* Under the run's lease, in the open transaction: WEFT_OK when the run is
 * still queued, WEFT_ECONFLICT ("run ID is STATUS, not queued") when
 * another coordinator or a sweep moved it, else a store error. */
int coord_lease_check_queued(struct coord *c, weft_error *err);
/* The lease of a loop's run that ended, dropped in the open transaction of
 * its end; coord_lease_release does nothing once lease_released is set. */
int coord_lease_drop(struct coord *c, weft_error *err);
/* 1 when coord_lease_drop would drop a lease (this coordinator holds it
 * and has not dropped it): a loop drops many in one statement. */
int coord_lease_droppable(const struct coord *c);
/* Drops it at the run's end. */
void coord_lease_release(struct coord *c);
/* Instead of start_run for a run whose coordinator died: takes its lease
 * from the sweep's hand-off token, kills what the dead one left on this
 * host, replays the events into the plan (final steps keep their outputs,
 * interrupted attempts are retried now, pending retries keep their time)
 * and queues a run_adopted event. */
int coord_adopt(struct coord *c, const char *token);
/* A run that ends failed for a reason of its own (its coordinator gave up):
 * pending steps are canceled, running ones failed, with message; returns the
 * names of its failed steps (a JSON array). */
json_t *coord_settle_unfinished(struct coord *c, const char *message);
/* The sweep's side: when run's lease expired and its owner is gone, hands
 * the lease to a token and spawns `weft run coordinate RUN --adopt TOKEN`.
 * WEFT_OK: handed over; WEFT_ECONFLICT: not now (held, or another sweep hands
 * it over); WEFT_ENOTFOUND: adoption is off; else the error. */
int weft__run_adopt_try(struct weft_instance *inst, const struct weft_run_row *run,
                        const struct weft_run_lease *lease, weft_error *err);

/* instance.c */
int weft__engine_append_event(struct weft_store *s, const char *run_id, const char *step,
                              const char *type, json_t *payload, weft_error *err);

#endif
