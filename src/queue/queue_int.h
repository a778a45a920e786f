/* queue_int.h: private to src/queue: the step message and result formats
 * shared by the coordinator's executor (executor.c) and the worker (worker.c). */
#ifndef WEFT_QUEUE_QUEUE_INT_H
#define WEFT_QUEUE_QUEUE_INT_H

#include <jansson.h>

#include "exec/exec.h"
#include "queue/broker.h"
#include "queue/queue.h"

#define WEFT__QUEUE_CANCEL_EXCHANGE "weft.cancel"

/* ---- the step message (one per attempt, on weft.step.QUEUE) -----------------
 *
 *   {"v":1, "attempt_id":"RUN/STEP/ATTEMPT/RANDOM", "run_id", "job", "step",
 *    "attempt":N,
 *    "op": {"name", "run": "..." | "argv": [...], "env": {..},
 *           "inputs": [{"name","type"}], "outputs": [{"name","type"}],
 *           "timeout_s", "tags": {..}, "queue"},
 *    "cwd", "config": {..}, "inputs": {name: JSON value},
 *    "path_inputs": {name: artifact key}, "loc_env": {..},
 *    "path_prefix": "..." | null, "kill_grace_s", "reply_to": "weft.reply.ID",
 *    "partition_key"?: "2026-01-01" (runs of a partitioned job),
 *    "code_version"?: V (cwd is the run's snapshot, published to the
 *    artifact store as code/V.tar.gz: a worker that lacks cwd runs the
 *    step in its code cache instead, worker_code.c)}
 *   "op" may name "c_function" instead of run/argv: it runs in-process on a
 *   worker binary that registered it (weft_register_c_op + weft_main).
 *
 *   A batch, several steps of one queue ready at once, is one message:
 *   {"v":1, "common":{..}, "steps":[{..}, ...]} (up to 64; executor.c):
 *   each step's message is its object plus the fields of "common", which
 *   holds the fields all the batch's steps share (op, run_id, cwd, ...,
 *   sent once; "common" may be absent). The worker
 *   records all its results in one store transaction, sends one "done"
 *   notice and acks it; a redelivered batch skips the attempts recorded.
 *
 * ---- notices on reply_to (not persistent, may be lost: the coordinator
 * also polls the kv) ----
 *   {"type":"started","attempt_id","worker","host","pid"}
 *   {"type":"done","attempt_id"}
 *   {"type":"rejected","attempt_id","worker","reason"}  (dead-lettered: the
 *       step will not run; the coordinator fails it)
 *   "started" and "done" may carry "attempt_ids":[...] instead of
 *   "attempt_id" (a batch's steps: one notice for several).
 *   "done" may carry "results": {attempt id: THE RESULT}, a copy of what
 *   was just recorded (results up to INLINE_RESULT_MAX bytes), so the
 *   coordinator need not read storage; an attempt without one is read.
 *
 * ---- the result, kv attempt/ATTEMPT_ID (first writer wins) ----
 *   {"v":1, "attempt_id", "ok", "exit_code", "term_signal", "timed_out",
 *    "canceled", "message" | null, "started_ms", "ended_ms",
 *    "outputs": {name: JSON value}   (JSON outputs the op wrote)
 *    "path_outputs": {name: artifact key RUN/STEP/ATTEMPT/outputs/NAME},
 *    "events": [events-fd events: log, materialization, output],
 *    "logs": {"stdout": RUN/STEP/ATTEMPT/stdout.log, "stderr": ...},
 *    "worker", "host", "pid"}
 */

#define INLINE_RESULT_MAX (16 * 1024)

/* The op definition part of a message (new reference, NULL when out of
 * memory). */
json_t *weft__qmsg_op_to_json(const struct weft_op_def *def);

/* A definition rebuilt from the message's "op" (enough to run it). Returns
 * WEFT_OK with *out (free with weft__qmsg_op_free), or WEFT_EINVALID with a
 * message naming the bad field. */
int weft__qmsg_op_from_json(const json_t *op, struct weft_op_def **out, weft_error *err);
void weft__qmsg_op_free(struct weft_op_def *def);

/* key/value pairs from a JSON object of strings; WEFT_EINVALID naming what
 * when a value is not a string. */
int weft__qmsg_kvs_from_json(const json_t *o, const char *what, struct weft_kvs *out,
                             weft_error *err);
void weft__qmsg_kvs_release(struct weft_kvs *k);

/* "attempt/ATTEMPT_ID" (caller frees). */
char *weft__qmsg_result_key(const char *attempt_id);

/* The "queue" executor factory (engine.h weft_executor_factory). */
int weft__queue_executor_new(struct weft_instance *inst, const struct weft_run_config *rc,
                             const struct weft_executor_callbacks *cb,
                             struct weft_executor **out, weft_error *err);

#endif
