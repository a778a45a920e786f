/* c_pool.h: a small pool of threads that run C-function steps (c_function:
 * ops) for a coordinator loop of many runs, so one slow C op does not stop
 * the loop's other runs; results go back to the loop's thread.
 *
 * Ownership (no data is shared without the pool's mutex):
 *   - A task belongs to the executor that submitted it (the "in_process"
 *     executor, exec_inprocess.c) from submit to release, except while the
 *     pool runs it: then only the pool thread touches the task's own data
 *     (its copies of config, inputs, ports; its buffered events; its result).
 *   - The task's state (QUEUED, RUNNING, DONE) and the pool's lists change
 *     under the pool's mutex only; the executor reads the result after it
 *     saw DONE under that mutex (weft__c_pool_collect), which orders the
 *     pool thread's writes before the executor's reads.
 *   - An executor that lets go of a task (cancel, timeout, free) calls
 *     weft__c_pool_forget: a queued task leaves the queue and never runs; a
 *     finished one leaves the done list; both are the caller's to release.
 *     A running one is marked abandoned: the pool thread releases it when
 *     the function returns, and nobody is told.
 *   - Events the function emits (weft_op_ctx_log) are buffered in the task
 *     and delivered by the executor on the loop's thread with the result:
 *     the executor's callbacks never run on a pool thread. Its outputs are
 *     stored on the pool thread when the step asked for it (exec.h,
 *     weft_output_store), unless the task was abandoned by then.
 *   - The wake token (the loop's run) is only handed out by
 *     weft_c_pool_drain on the loop's thread, and a task forgotten by its
 *     executor is never drained, so a token outlives every use of it.
 * A C function cannot be interrupted: a canceled or timed-out step is
 * reported at once and its function runs on to its end on its pool thread,
 * its outputs and events discarded; the thread is busy until then. */
#ifndef WEFT_EXEC_C_POOL_H
#define WEFT_EXEC_C_POOL_H

#include <stddef.h>

#include "exec/exec.h"

struct weft_c_pool;

/* A pool of threads (<= 0: $WEFT_COORD_C_THREADS, else 2). */
int weft_c_pool_new(int threads, struct weft_c_pool **out, weft_error *err);
/* An eventfd that polls readable when tasks finished (drain them). */
int weft_c_pool_fd(const struct weft_c_pool *p);
/* Up to max wake tokens of tasks that finished since the last drain;
 * resets the fd when all are taken. Returns how many. */
size_t weft_c_pool_drain(struct weft_c_pool *p, void **wake, size_t max);
/* Waits for the functions still running (abandoned ones too), then frees.
 * Every executor using the pool must be freed first. NULL is a no-op. */
void weft_c_pool_free(struct weft_c_pool *p);

/* The "in_process" executor x runs its C-function steps on p from now on,
 * and each one finished makes weft_c_pool_drain return wake. WEFT_EINVALID
 * for another executor or one with a step in flight. */
int weft_executor_use_c_pool(struct weft_executor *x, struct weft_c_pool *p, void *wake);

/* ---- the executor's side (exec_inprocess.c) ---- */

enum { WEFT__C_TASK_QUEUED, WEFT__C_TASK_RUNNING, WEFT__C_TASK_DONE };

struct weft__c_task {
  struct weft_c_pool *pool;       /* set by submit */
  struct weft__c_task *next;      /* the pool's queue or done list */
  int state;                      /* under the pool's mutex */
  int abandoned;                  /* under the pool's mutex */
  void *wake;
  void (*run)(struct weft__c_task *t);     /* on a pool thread */
  void (*release)(struct weft__c_task *t); /* frees the task */
};

void weft__c_pool_submit(struct weft_c_pool *p, struct weft__c_task *t);
/* 1 when t is DONE (it leaves the done list: the caller reads it now). */
int weft__c_pool_collect(struct weft_c_pool *p, struct weft__c_task *t);
/* 1: t is the caller's to release now; 0: the pool releases it. */
int weft__c_pool_forget(struct weft_c_pool *p, struct weft__c_task *t);
/* On the pool thread running t: 1 when its executor has let go of it
 * (its result will be discarded), under the pool's mutex. */
int weft__c_task_abandoned(struct weft__c_task *t);

#endif
