/* coord_loop.c: many runs driven by one thread (coord_loop.h): turns, one
 * group commit per tick across runs, cancel requests read for all runs. */
#include <stdlib.h>
#include <string.h>

#include "engine/coord_drive.h"
#include "engine/coord_loop.h"
#include "util/clock.h"
#include "util/str.h"

#define CANCEL_READ_MS 100 /* how soon a `weft run cancel` reaches a run */
#define CANCEL_READ_MAX 1000

/* One run the loop drives. Allocated alone: the executor's callbacks hold
 * a pointer to its coord, which must not move. */
struct loop_run {
  struct coord_drive d;
  weft_error err;
  char *run_id;
  weft_coord_loop_done_fn done;
  void *data;
  int over;    /* its last turn said so: ended in this tick's commit */
  int in_tx;   /* its batch is in the tick's transaction */
};

struct weft_coord_loop {
  struct weft_instance *inst;
  struct loop_run **runs;
  size_t n, cap;
  weft_coord_loop_clock_fn clock;
  void *clock_data;
  int64_t next_cancel_read_ms;
  uint64_t commits;
};

static int64_t loop_now(const struct weft_coord_loop *lp) {
  return lp->clock ? lp->clock(lp->clock_data) : weft_clock_mono_ms();
}

int weft_coord_loop_new(struct weft_instance *inst, struct weft_coord_loop **out,
                        weft_error *err) {
  *out = calloc(1, sizeof **out);
  if (!*out) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  (*out)->inst = inst;
  return WEFT_OK;
}

void weft_coord_loop_set_clock(struct weft_coord_loop *lp, weft_coord_loop_clock_fn fn,
                               void *data) {
  lp->clock = fn;
  lp->clock_data = data;
}

size_t weft_coord_loop_count(const struct weft_coord_loop *lp) { return lp->n; }
uint64_t weft_coord_loop_commits(const struct weft_coord_loop *lp) { return lp->commits; }

static void run_free(struct loop_run *r) {
  if (!r) return;
  if (r->done)
    r->done(r->data, r->run_id, r->d.final, r->d.rc, r->d.rc ? r->err.msg : NULL);
  free(r->run_id);
  free(r);
}

int weft_coord_loop_add(struct weft_coord_loop *lp, const char *run_id,
                        const struct weft_launch *l, weft_coord_loop_done_fn done, void *data,
                        weft_error *err) {
  if (lp->n == lp->cap) {
    size_t cap = lp->cap ? lp->cap * 2 : 64;
    struct loop_run **v = realloc(lp->runs, cap * sizeof *v);
    if (!v) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    lp->runs = v;
    lp->cap = cap;
  }
  struct loop_run *r = calloc(1, sizeof *r);
  if (!r || !(r->run_id = weft_str_dup(run_id))) {
    free(r);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  r->done = done;
  r->data = data;
  r->err = (weft_error)WEFT_ERROR_INIT;
  if (coord_drive_open(&r->d, lp->inst, run_id, l, 1, &r->err)) {
    /* Not started (the run is failed as the drive's close says): over. */
    int rc = r->d.rc;
    weft_error_set(err, rc, "%s", r->err.msg);
    coord_drive_close(&r->d);
    run_free(r);
    return rc;
  }
  lp->runs[lp->n++] = r;
  return WEFT_OK;
}

static void mark_canceling(struct coord *c, const char *message) {
  if (c->canceling) return;
  if (c->run.status == WEFT_RUN_STARTED) c->run.status = WEFT_RUN_CANCELING;
  free(c->run.message);
  c->run.message = weft_str_dup(message);
  c->canceling = 1;
  free(c->cancel_reason);
  c->cancel_reason = weft_str_dup(message ? message : "canceled");
}

/* One read for all runs: those turned CANCELING by `weft run cancel` (or
 * the API) in another process. The next turn of each cancels its steps. */
static void read_cancels(struct weft_coord_loop *lp) {
  struct weft_run_filter f = {.status_mask = 1 << WEFT_RUN_CANCELING, .limit = CANCEL_READ_MAX};
  struct weft_run_list list = {0};
  weft_error e = WEFT_ERROR_INIT;
  if (weft_store_run_list(lp->inst->store, &f, &list, &e)) return; /* next time */
  for (size_t k = 0; k < list.n; k++)
    for (size_t i = 0; i < lp->n; i++)
      if (!strcmp(lp->runs[i]->run_id, list.v[k].id))
        mark_canceling(&lp->runs[i]->d.c, list.v[k].message);
  weft_run_list_release(&list);
}

/* Every run's batch in one transaction. When it fails, each run commits
 * alone, so one run's bad write stops that run, not its neighbours. */
static void group_commit(struct weft_coord_loop *lp) {
  size_t pending = 0;
  for (size_t i = 0; i < lp->n; i++) {
    struct coord *c = &lp->runs[i]->d.c;
    lp->runs[i]->in_tx = lp->runs[i]->d.opened && coord_flush_pending(c, 0);
    pending += (size_t)lp->runs[i]->in_tx;
  }
  if (!pending) return;
  weft_error e = WEFT_ERROR_INIT;
  int rc = weft_store_begin(lp->inst->store, &e);
  for (size_t i = 0; !rc && i < lp->n; i++)
    if (lp->runs[i]->in_tx) rc = coord_flush_write(&lp->runs[i]->d.c, 0, &e);
  if (rc) weft_store_rollback(lp->inst->store);
  else rc = weft_store_commit(lp->inst->store, &e);
  lp->commits++;
  for (size_t i = 0; i < lp->n; i++) {
    struct loop_run *r = lp->runs[i];
    if (!r->in_tx) continue;
    r->in_tx = 0;
    if (!rc) {
      coord_flush_done(&r->d.c, 0, &e);
    } else { /* alone, forced: the shared flag holds coord_flush back */
      weft_error e1 = WEFT_ERROR_INIT;
      struct coord *c = &r->d.c;
      int rc1 = weft_store_begin(lp->inst->store, &e1);
      if (!rc1) rc1 = coord_flush_write(c, 0, &e1);
      if (rc1) weft_store_rollback(lp->inst->store);
      else rc1 = weft_store_commit(lp->inst->store, &e1);
      coord_flush_done(c, rc1, &e1);
    }
  }
}

size_t weft_coord_loop_tick(struct weft_coord_loop *lp, int wait_ms) {
  int64_t now = loop_now(lp);
  if (lp->n && now >= lp->next_cancel_read_ms) {
    lp->next_cancel_read_ms = now + CANCEL_READ_MS;
    read_cancels(lp);
  }
  int busy = 0;
  for (size_t i = 0; i < lp->n; i++) {
    struct loop_run *r = lp->runs[i];
    int t = coord_drive_turn(&r->d, 0);
    if (t == 1) {
      r->over = 1;
      coord_drive_end(&r->d); /* its end goes in this tick's commit */
    }
    if (t) busy = 1;
  }
  group_commit(lp);
  /* Close the runs that are over, keeping the others in order. */
  size_t k = 0;
  for (size_t i = 0; i < lp->n; i++) {
    struct loop_run *r = lp->runs[i];
    if (!r->over) {
      lp->runs[k++] = r;
      continue;
    }
    coord_drive_close(&r->d);
    run_free(r);
  }
  lp->n = k;
  if (!busy && wait_ms > 0) weft_clock_sleep_ms(wait_ms);
  return lp->n;
}

void weft_coord_loop_cancel_all(struct weft_coord_loop *lp, const char *reason) {
  for (size_t i = 0; i < lp->n; i++) coord_begin_cancel(&lp->runs[i]->d.c, reason);
}

int weft_coord_loop_cancel(struct weft_coord_loop *lp, const char *run_id, const char *reason) {
  for (size_t i = 0; i < lp->n; i++)
    if (!strcmp(lp->runs[i]->run_id, run_id)) {
      coord_begin_cancel(&lp->runs[i]->d.c, reason);
      return WEFT_OK;
    }
  return WEFT_ENOTFOUND;
}

void weft_coord_loop_free(struct weft_coord_loop *lp) {
  if (!lp) return;
  if (lp->n) weft_coord_loop_cancel_all(lp, "the coordinator stopped");
  while (lp->n) weft_coord_loop_tick(lp, 10);
  free(lp->runs);
  free(lp);
}
