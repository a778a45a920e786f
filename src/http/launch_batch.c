/* launch_batch.c: launches made at the same moment by many requests share
 * one transaction that records their runs and one run queue turn.
 *
 * Each launch used to pay its own commits: one for the run, one for the
 * queue turn, one per hand-off to a coordinator service, every one an
 * fsync, with the request threads queueing on the store's write lock (for
 * SQLite, in its busy handler's sleeps). Here the first request to arrive
 * leads: it takes every launch queued so far, makes their runs ready
 * (checks, code version, JSON) without holding a transaction, records them
 * all in one transaction (one statement each for their rows, events and
 * hand-overs on PostgreSQL, not four a run) and wakes the others; launches
 * arriving meanwhile form the next batch. Without run queue limits and
 * with a coordinator service up, that transaction also claims the runs and
 * hands them to the service (weft_coord_admit_many_in_tx): one commit a
 * batch. Otherwise one queue turn
 * follows, which admits what the limits allow and hands it over or spawns
 * a coordinator for it. No launch waits for a timer: a lone
 * launch is a batch of one (util/group.h draws the states).
 *
 * A batch whose transaction fails (a store error in one run's records makes
 * the whole transaction fail) is recorded again one launch at a time, so
 * each request gets its own answer, as without batching. */
#include <stdlib.h>
#include <string.h>

#include "engine/code_snapshot.h"
#include "http/http_int.h"
#include "sched/coordinator_spawn.h"
#include "sched/run_queue.h"
#include "util/clock.h"

struct http_launch {
  struct weft_group_item item; /* first: the group's view of it */
  struct http_req *r;
  const struct weft_launch *l; /* the request's: valid while it waits */
  const char *in_run;
  char *run_id; /* set when recorded (the request frees it) */
  int rc;       /* WEFT_OK, or why it was not recorded (err) */
  weft_error err;
  int handed;  /* to a coordinator service with its record: no turn */
  int started; /* 0: the queue turn after it failed (err) */
};

struct batch_ctx {
  struct http_server *srv;
  struct weft_instance *inst; /* the leading request's store */
};

static void forget_run(struct http_launch *x) {
  free(x->run_id);
  x->run_id = NULL;
  x->handed = 0;
}

/* The code versions of the launches of a batch (code_snapshot.h): each
 * location's folder is hashed at its first launch, and the launches of the
 * next CODE_MEMO_MS reuse that version. Hashing walks and reads the whole
 * folder, and batches come every millisecond or so under load: a launch
 * then runs the code as it was at most that long ago, as if it had come
 * that much earlier. A reload of the workspace starts afresh: its
 * locations are new, and their folders changed. */
#define CODE_MEMO_MS 100

static struct weft_code_memo *batch_code(struct http_server *srv) {
  int64_t now = weft_clock_mono_ms();
  pthread_mutex_lock(&srv->ws_mu);
  unsigned long gen = srv->ws_gen;
  pthread_mutex_unlock(&srv->ws_mu);
  if (now - srv->launch_code_ms >= CODE_MEMO_MS || gen != srv->launch_code_gen) {
    weft_code_memo_reset(&srv->launch_code);
    srv->launch_code_ms = now;
    srv->launch_code_gen = gen;
  }
  return &srv->launch_code;
}

/* The launches' runs made ready before the batch's transaction (checks,
 * code, JSON: weft_run_prepare), so that the transaction only writes: all
 * their rows, events and hand-overs with one statement each on
 * PostgreSQL. A launch with steps to re-execute (in_run) is recorded
 * alone, inside the same transaction. */
struct batch_runs {
  struct weft_code_memo *code; /* the batch's code versions, read once */
  struct weft_run_new *runs;
  size_t *of;  /* runs[k] is launch of[k]'s */
  size_t n;
  unsigned char *handed;
};

static void batch_runs_release(struct batch_runs *b) {
  for (size_t k = 0; k < b->n; k++) weft_run_new_release(&b->runs[k]);
  free(b->runs);
  free(b->of);
  free(b->handed);
}

/* x's launch, running the batch's code version of its location unless it
 * names one. */
static struct weft_launch launch_of(struct batch_runs *b, struct weft_instance *inst,
                                    const struct http_launch *x) {
  struct weft_launch l = *x->l;
  if (!l.code_version) {
    l.code_version = weft_code_memo_version(b->code, inst->home, l.job->location);
    l.code_checked = l.code_version != NULL;
  }
  return l;
}

static int prepare_batch(struct http_server *srv, struct weft_instance *inst,
                         struct http_launch **v, size_t n, struct batch_runs *b) {
  memset(b, 0, sizeof *b);
  b->code = batch_code(srv);
  b->runs = calloc(n, sizeof *b->runs);
  b->of = calloc(n, sizeof *b->of);
  b->handed = calloc(n, 1);
  if (!b->runs || !b->of || !b->handed) return WEFT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (v[i]->in_run) continue;
    /* Left for any dequeuer (this server, a scheduler): not tied to us. */
    struct weft_launch l = launch_of(b, inst, v[i]);
    l.unowned = 1;
    /* A run refused before anything is written (a missing secret) fails
     * alone. */
    if ((v[i]->rc = weft_run_prepare(inst, &l, &b->runs[b->n], &v[i]->err))) continue;
    b->of[b->n++] = i;
  }
  return WEFT_OK;
}

/* Writes the batch in the open transaction; nonzero when a store error
 * leaves it half-written (the caller rolls back). */
static int write_batch(struct http_server *srv, struct weft_instance *inst,
                       struct http_launch **v, size_t n, struct batch_runs *b,
                       weft_error *err) {
  int rc = weft_run_write_many(inst, b->runs, b->n, err);
  /* Without run queue limits and with a coordinator service up, each is
   * claimed and handed over with its record. */
  if (!rc && b->n) {
    int got = weft_coord_admit_runs_in_tx(inst, &srv->queue, b->runs, b->n, b->handed, err);
    if (got < 0) rc = got;
  }
  for (size_t k = 0; !rc && k < b->n; k++) {
    struct http_launch *x = v[b->of[k]];
    x->run_id = b->runs[k].row.id;
    b->runs[k].row.id = NULL;
    x->handed = b->handed[k];
  }
  for (size_t i = 0; !rc && i < n; i++) {
    if (!v[i]->in_run) continue;
    struct weft_launch l = launch_of(b, inst, v[i]);
    /* one half-recorded (its row written, its queue entry not) must not
     * be committed: then the whole batch goes again, alone */
    v[i]->rc = http_record_run(inst, &l, v[i]->in_run, &srv->queue, &v[i]->run_id,
                               &v[i]->handed, &v[i]->err);
    if (v[i]->rc && v[i]->run_id) rc = v[i]->rc;
    if (v[i]->rc) forget_run(v[i]);
  }
  /* A run handed over with its record is answered 201 whatever comes
   * next: its audit entry joins this commit rather than pay one of its
   * own when the request completes. */
  for (size_t i = 0; !rc && i < n; i++)
    if (!v[i]->rc && v[i]->handed) rc = http_audit_write_in_tx(v[i]->r, 201, inst->store, err);
  return rc;
}

/* Records every launch of the batch: together, or one by one when the
 * shared transaction fails. */
static void record_batch(struct http_server *srv, struct weft_instance *inst,
                         struct http_launch **v, size_t n) {
  weft_error err = WEFT_ERROR_INIT;
  struct batch_runs b;
  int rc = prepare_batch(srv, inst, v, n, &b);
  if (rc) weft_error_set(&err, rc, "out of memory");
  if (!rc) rc = weft_store_begin(inst->store, &err);
  if (!rc) {
    if ((rc = write_batch(srv, inst, v, n, &b, &err)))
      weft_store_rollback(inst->store);
    else
      rc = weft_store_commit(inst->store, &err);
  }
  batch_runs_release(&b);
  if (!rc) {
    for (size_t i = 0; i < n; i++)
      if (!v[i]->rc && v[i]->handed) v[i]->r->audit = 0; /* written */
    return;
  }
  /* Nothing of the batch was kept: each launch alone, with its own
   * error. */
  for (size_t i = 0; i < n; i++) {
    forget_run(v[i]);
    v[i]->err = (weft_error)WEFT_ERROR_INIT;
    v[i]->rc = http_create_run(inst, v[i]->l, v[i]->in_run, &v[i]->run_id, &v[i]->err);
  }
}

/* One queue turn for the batch's runs (and any other queued run the limits
 * admit). When it fails, every run recorded here fails with its message,
 * as http_start_coordinator does for one. */
static void start_batch(struct http_server *srv, struct weft_instance *inst,
                        struct http_launch **v, size_t n) {
  weft_error err = WEFT_ERROR_INIT;
  size_t queued = 0;
  for (size_t i = 0; i < n; i++) {
    v[i]->started = !v[i]->rc && v[i]->handed;
    queued += !v[i]->rc && !v[i]->handed;
  }
  if (!queued) return;
  int rc = weft_coord_dequeue(&srv->spawner, inst, &srv->queue, &err);
  for (size_t i = 0; i < n; i++) {
    if (v[i]->rc || v[i]->handed) continue;
    v[i]->started = !rc;
    if (rc) {
      weft_error e2 = WEFT_ERROR_INIT;
      v[i]->err = err;
      weft_run_abandon(inst, v[i]->run_id, err.msg, &e2);
    }
  }
}

static void batch(void *ctx, struct weft_group_item **items, size_t n) {
  struct batch_ctx *c = ctx;
  /* struct http_launch begins with its item. */
  struct http_launch **v = (struct http_launch **)items;
  record_batch(c->srv, c->inst, v, n);
  start_batch(c->srv, c->inst, v, n);
}

int http_launch_run(struct http_req *r, struct weft_instance *inst, const struct weft_launch *l,
                    const char *in_run, char **run_id, enum MHD_Result *res) {
  struct http_launch self = {.r = r, .l = l, .in_run = in_run, .err = WEFT_ERROR_INIT};
  struct batch_ctx ctx = {r->srv, inst};
  *run_id = NULL;
  weft_group_run(&r->srv->launches, &self.item, batch, &ctx);
  if (self.rc) {
    *res = http_send_error(r, 500, NULL, "cannot record the run: %s", self.err.msg);
    return 0;
  }
  if (!self.started) {
    *res = http_send_error(r, 500, NULL, "run %s: %s", self.run_id, self.err.msg);
    free(self.run_id);
    return 0;
  }
  *run_id = self.run_id;
  return 1;
}
