/* coord_loop.c: many runs driven by one thread (coord_loop.h): turns, one
 * group commit per tick across runs, cancel requests read for all runs,
 * every run's lease renewed in one statement, and one epoll set over all
 * runs' executors so a run with nothing to do costs no turn.
 *
 * When a run is turned (schedule_run decides after each turn):
 *   hot      its last turn did something, it was just added, canceled, or
 *            its executor says "now" (a C op waiting to run)
 *   ready    its executor's fd (an epoll fd over its steps' pidfds and
 *            event pipes, weft_executor_poll_fd) polls readable
 *   due      wake_at passed: a retry, a run deadline, a step timeout or
 *            kill escalation, an alert delivery to record, a live log
 *            upload
 *   always   its executor has no fd (the queue executor): every tick
 * A run that is none of these is skipped; it is still written when its
 * heartbeat is due (the run row's heartbeat_ms, every WEFT_HEARTBEAT_MS). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "engine/coord_drive.h"
#include "engine/coord_loop.h"
#include "engine/hooks.h"
#include "exec/c_pool.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/map.h"
#include "util/str.h"

#define CANCEL_READ_MS 100 /* how soon a `weft run cancel` reaches a run */
#define CANCEL_READ_MAX 1000
#define HOOKS_POLL_MS 100  /* a run whose alerts are being delivered */
#define LIVE_LOG_POLL_MS 1000
#define EPOLL_BATCH 256
/* WEFT_COORD_LOOP_COMMIT_CHUNK: what a turn queues (events, step rows)
 * lives until its commit; ten thousand runs turned before one commit left
 * 14 MB of freed holes between the runs' lasting state (a quarter of the
 * loop's memory with 10,000 runs in flight). A chunk's batches are freed
 * before the next chunk allocates, so it reuses that memory, and a commit
 * of a thousand runs costs as little a run as one of all of them. */
#define COMMIT_CHUNK WEFT_COORD_LOOP_COMMIT_CHUNK

/* One run the loop drives. Allocated alone: the executor's callbacks hold
 * a pointer to its coord, which must not move. */
struct loop_run {
  struct coord_drive d;
  char *errmsg; /* its first error (harvested from the loop's scratch) */
  int errcode;
  char *run_id;
  weft_coord_loop_done_fn done;
  void *data;
  int over;    /* its last turn said so: ended in this tick's commit */
  int in_tx;   /* its batch is in the tick's transaction */
  int hot;     /* turn it in the next tick */
  int claimed; /* the tick's commit just claimed it: its steps start in this tick */
  int turned;  /* turned in this tick: its batch may hold something */
  int drop_lease; /* ended: write_rows drops its lease with the others' */
  int fd;      /* its executor's fd, in the loop's epoll set; -1: none (turned
                * every tick); WEFT_EXECUTOR_NO_FD_YET: none needed yet */
  int64_t wake_at; /* monotonic ms something timed is due; -1: nothing */
};

struct weft_coord_loop {
  struct weft_instance *inst;
  weft_coord_loop_claimed_fn claimed; /* NULL: nothing to do at a claim */
  weft_coord_loop_claimed_end_fn claimed_end; /* NULL: nothing after them */
  void *claimed_ctx;
  struct loop_run **runs;
  size_t n, cap;
  weft_coord_loop_clock_fn clock;
  void *clock_data;
  int64_t next_cancel_read_ms;
  uint64_t commits, turns;
  int epfd;
  char *owner;               /* this process's coordinator id: the leases' owner */
  int64_t lease_next_ms;     /* monotonic: when the loop renews its leases */
  uint64_t lease_renewals;
  /* Every run's drive reports into this one (a weft_error is 1 KB: one a
   * run was a sixth of a run's memory); the loop moves what it holds into
   * the run that wrote it after each call that may write it (harvest), and
   * back before the drive reads it (coord_drive_close). */
  weft_error scratch;
  struct weft_c_pool *pool; /* C ops of in_process runs (exec/c_pool.h) */
  int wake_fd;              /* weft_coord_loop_watch_wake's, or -1 */
  /* A commit's step rows and events of all its runs (write_rows). */
  struct weft_step_row *st;
  size_t cap_st;
  struct weft_event_row *ev;
  size_t cap_ev;
  /* And their run rows, and the run ids of a statement over many runs'
   * leases (the claims of new runs, then the drops of ended ones). */
  struct weft_run_row *rows;
  size_t cap_rows;
  const char **ids;
  size_t cap_ids;
};

static int64_t loop_now(const struct weft_coord_loop *lp) {
  return lp->clock ? lp->clock(lp->clock_data) : weft_clock_mono_ms();
}

int weft_coord_loop_new(struct weft_instance *inst, struct weft_coord_loop **out,
                        weft_error *err) {
  struct weft_coord_loop *lp = calloc(1, sizeof *lp);
  *out = NULL;
  if (!lp) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  lp->inst = inst;
  lp->wake_fd = -1;
  lp->epfd = epoll_create1(EPOLL_CLOEXEC);
  lp->owner = weft_coordinator_id();
  if (lp->epfd < 0 || !lp->owner) {
    int rc = lp->owner ? weft_error_set(err, WEFT_EIO, "epoll_create1 failed")
                       : weft_error_set(err, WEFT_ENOMEM, "out of memory");
    if (lp->epfd >= 0) close(lp->epfd);
    free(lp->owner);
    free(lp);
    return rc;
  }
  /* The leases its runs claim as they start are fresh: renewed a third of
   * a lease later, all at once. */
  lp->lease_next_ms = weft_clock_mono_ms() + weft_run_lease_ms() / 3;
  *out = lp;
  return WEFT_OK;
}

void weft_coord_loop_set_clock(struct weft_coord_loop *lp, weft_coord_loop_clock_fn fn,
                               void *data) {
  lp->clock = fn;
  lp->clock_data = data;
}

int weft_coord_loop_watch_wake(struct weft_coord_loop *lp, int fd, weft_error *err) {
  if (lp->wake_fd >= 0) epoll_ctl(lp->epfd, EPOLL_CTL_DEL, lp->wake_fd, NULL);
  lp->wake_fd = -1;
  if (fd < 0) return WEFT_OK;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &lp->wake_fd};
  if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &ev))
    return weft_error_set(err, WEFT_EIO, "epoll_ctl: %s", strerror(errno));
  lp->wake_fd = fd;
  return WEFT_OK;
}

size_t weft_coord_loop_count(const struct weft_coord_loop *lp) { return lp->n; }
uint64_t weft_coord_loop_commits(const struct weft_coord_loop *lp) { return lp->commits; }
uint64_t weft_coord_loop_turns(const struct weft_coord_loop *lp) { return lp->turns; }
uint64_t weft_coord_loop_lease_renewals(const struct weft_coord_loop *lp) {
  return lp->lease_renewals;
}

/* What the scratch error holds becomes r's (its first error only). */
static void harvest(struct weft_coord_loop *lp, struct loop_run *r) {
  if (!lp->scratch.code && !lp->scratch.msg[0]) return;
  if (!r->errmsg) {
    r->errmsg = weft_str_dup(lp->scratch.msg);
    r->errcode = lp->scratch.code;
  }
  lp->scratch = (weft_error)WEFT_ERROR_INIT;
}

/* r's error back in the scratch, for the drive to read. */
static void restore(struct weft_coord_loop *lp, struct loop_run *r) {
  lp->scratch = (weft_error)WEFT_ERROR_INIT;
  if (r->errmsg) weft_error_set(&lp->scratch, r->errcode, "%s", r->errmsg);
}

/* The drive is closed: the run's last word goes to its done callback. */
static void run_free(struct weft_coord_loop *lp, struct loop_run *r) {
  if (!r) return;
  harvest(lp, r);
  if (r->done)
    r->done(r->data, r->run_id, r->d.final, r->d.rc, r->d.rc ? (r->errmsg ? r->errmsg : "") : NULL);
  free(r->errmsg);
  free(r->run_id);
  free(r);
}

/* The executor's fd (fd, as weft_executor_poll_fd said) goes in the loop's
 * epoll set (level-triggered: it polls readable until a turn's wait() took
 * what it had), in place of the one it had. */
static void watch_fd(struct weft_coord_loop *lp, struct loop_run *r, int fd) {
  if (fd == r->fd) return;
  if (r->fd >= 0) epoll_ctl(lp->epfd, EPOLL_CTL_DEL, r->fd, NULL);
  r->fd = fd;
  if (fd < 0) return;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
  if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &ev)) r->fd = -1; /* turned every tick */
}

static void watch_executor(struct weft_coord_loop *lp, struct loop_run *r) {
  int tmo = -1;
  watch_fd(lp, r, r->d.c.x ? weft_executor_poll_fd(r->d.c.x, &tmo) : -1);
}

void weft_coord_loop_set_claimed(struct weft_coord_loop *lp, weft_coord_loop_claimed_fn fn,
                                 weft_coord_loop_claimed_end_fn end, void *end_ctx) {
  lp->claimed = fn;
  lp->claimed_end = end;
  lp->claimed_ctx = end_ctx;
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
  r->fd = -1;
  r->hot = 1;
  r->wake_at = -1;
  lp->scratch = (weft_error)WEFT_ERROR_INIT;
  if (coord_drive_open(&r->d, lp->inst, run_id, l, 1, &lp->scratch)) {
    /* Not started (the run is failed as the drive's close says): over. */
    int rc = r->d.rc;
    weft_error_set(err, rc, "%s", lp->scratch.msg);
    coord_drive_close(&r->d);
    run_free(lp, r);
    return rc;
  }
  harvest(lp, r);
  /* Its C ops run on the loop's threads, not in its turns (exec/c_pool.h). */
  if (r->d.c.x && !strcmp(weft_executor_name(r->d.c.x), "in_process")) {
    if (!lp->pool) {
      weft_error pe = WEFT_ERROR_INIT;
      if (!weft_c_pool_new(0, &lp->pool, &pe)) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = lp};
        epoll_ctl(lp->epfd, EPOLL_CTL_ADD, weft_c_pool_fd(lp->pool), &ev);
      }
    }
    if (lp->pool) weft_executor_use_c_pool(r->d.c.x, lp->pool, r);
  }
  watch_executor(lp, r);
  lp->runs[lp->n++] = r;
  return WEFT_OK;
}

static void mark_canceling(struct loop_run *r, const char *message) {
  struct coord *c = &r->d.c;
  r->hot = 1;
  if (c->canceling) return;
  if (c->run.status == WEFT_RUN_STARTED) c->run.status = WEFT_RUN_CANCELING;
  free(c->run.message);
  c->run.message = weft_str_dup(message);
  c->canceling = 1;
  free(c->cancel_reason);
  c->cancel_reason = weft_str_dup(message ? message : "canceled");
}

/* One read for all runs: those turned CANCELING by `weft run cancel` (or
 * the API) in another process. The next turn of each cancels its steps.
 * Returns 1 when the read saw every CANCELING run (it did not fail, and
 * CANCEL_READ_MAX left none out). */
static int read_cancels(struct weft_coord_loop *lp) {
  struct weft_run_filter f = {.status_mask = 1 << WEFT_RUN_CANCELING, .limit = CANCEL_READ_MAX};
  struct weft_run_list list = {0};
  struct weft_map asked = WEFT_MAP_INIT;
  weft_error e = WEFT_ERROR_INIT;
  if (weft_store_run_list(lp->inst->store, &f, &list, &e)) return 0; /* next time */
  int complete = list.n < CANCEL_READ_MAX;
  for (size_t k = 0; k < list.n; k++)
    if (weft_map_set(&asked, list.v[k].id, &list.v[k])) complete = 0;
  for (size_t i = 0; list.n && i < lp->n; i++) {
    struct weft_run_row *row = weft_map_get(&asked, lp->runs[i]->run_id);
    if (row) mark_canceling(lp->runs[i], row->message);
  }
  weft_map_release(&asked);
  weft_run_list_release(&list);
  return complete;
}

/* The batch run r left to the loop in this transaction: NULL when it left
 * none (not in it, writing its own, or its lease lost: it wrote nothing). */
static const struct coord_batch *loop_rows(const struct loop_run *r) {
  const struct coord *c = &r->d.c;
  return r->in_tx && c->rows_by_loop && !c->lease_lost ? &c->batch : NULL;
}

/* write_rows' part for the run rows and leases runs [from, to) left to
 * it: one statement for each kind (shallow copies: the strings stay the
 * runs'). A lease held under another name than the loop's is dropped on
 * its own. */
static int write_runs(struct weft_coord_loop *lp, size_t from, size_t to, weft_error *e) {
  size_t n_rows = 0, n_drops = 0;
  int rc = WEFT_OK;
  for (size_t i = from; i < to; i++) {
    const struct loop_run *r = lp->runs[i];
    if (!loop_rows(r)) continue;
    n_rows += (size_t)r->d.c.run_row_to_loop;
    n_drops += (size_t)r->drop_lease;
  }
  if (weft_array_grow((void **)&lp->rows, &lp->cap_rows, n_rows, sizeof *lp->rows) ||
      weft_array_grow((void **)&lp->ids, &lp->cap_ids, n_drops, sizeof *lp->ids))
    return weft_error_set(e, WEFT_ENOMEM, "out of memory");
  size_t k_rows = 0, k_drops = 0;
  for (size_t i = from; !rc && i < to; i++) {
    struct loop_run *r = lp->runs[i];
    struct coord *c = &r->d.c;
    if (!loop_rows(r)) continue;
    if (c->run_row_to_loop) lp->rows[k_rows++] = c->run;
    if (r->drop_lease && !strcmp(c->run.coordinator, lp->owner))
      lp->ids[k_drops++] = c->run.id;
    else if (r->drop_lease)
      rc = coord_lease_drop(c, e);
  }
  if (!rc) rc = weft_store_run_update_many(lp->inst->store, lp->rows, k_rows, e);
  if (!rc) rc = weft_store_lease_release_many(lp->inst->store, lp->ids, k_drops, lp->owner, e);
  return rc;
}

/* Inside group_commit's transaction, after write_run of runs [from, to)
 * left their step rows, events, run rows and lease drops to it
 * (rows_by_loop): all of them in one statement each, rather than one per
 * run (on PostgreSQL, a round trip each under the store's write lock).
 * Each run's events are kept in their order and get their ids back. The
 * arrays are the loop's, kept for the next tick. */
static int write_rows(struct weft_coord_loop *lp, size_t from, size_t to, weft_error *e) {
  size_t n_st = 0, n_ev = 0;
  for (size_t i = from; i < to; i++) {
    const struct coord_batch *b = loop_rows(lp->runs[i]);
    n_st += b ? b->n_st : 0;
    n_ev += b ? b->n_ev : 0;
  }
  if (weft_array_grow((void **)&lp->st, &lp->cap_st, n_st, sizeof *lp->st) ||
      weft_array_grow((void **)&lp->ev, &lp->cap_ev, n_ev, sizeof *lp->ev))
    return weft_error_set(e, WEFT_ENOMEM, "out of memory");
  /* Shallow copies: the strings stay the runs' batches'. */
  size_t k_st = 0, k_ev = 0;
  for (size_t i = from; i < to; i++) {
    const struct coord_batch *b = loop_rows(lp->runs[i]);
    if (!b) continue;
    if (b->n_st) memcpy(lp->st + k_st, b->st, b->n_st * sizeof *b->st);
    if (b->n_ev) memcpy(lp->ev + k_ev, b->ev, b->n_ev * sizeof *b->ev);
    k_st += b->n_st;
    k_ev += b->n_ev;
  }
  int rc = n_st ? weft_store_step_put_many(lp->inst->store, lp->st, n_st, e) : WEFT_OK;
  if (!rc && n_ev) rc = weft_store_event_append(lp->inst->store, lp->ev, n_ev, e);
  for (size_t i = from, k = 0; !rc && i < to; i++) {
    const struct coord_batch *b = loop_rows(lp->runs[i]);
    for (size_t j = 0; b && j < b->n_ev; j++) b->ev[j].id = lp->ev[k++].id;
  }
  return rc ? rc : write_runs(lp, from, to, e);
}

/* Marks the runs whose executor has something (or the pool finished one
 * of their C ops) hot; waits up to timeout_ms for the first. */
static void collect_ready(struct weft_coord_loop *lp, int timeout_ms) {
  struct epoll_event evs[EPOLL_BATCH];
  /* Level-triggered: a run stays ready until its turn takes what it has,
   * so epoll_wait keeps returning full batches while more than a batch is
   * ready; it rotates its ready list, so as many batches as the loop has
   * runs (and the pool) see every one, and a round that marks nothing new
   * means all were seen. Looping "while full" never ended once over 256
   * runs had a finished step waiting (tests/chaos and bench/runs' sched
   * part: the loop thread spun here and every run stood still). */
  size_t rounds = lp->n / EPOLL_BATCH + 2;
  for (; rounds > 0; rounds--) {
    int n = epoll_wait(lp->epfd, evs, EPOLL_BATCH, timeout_ms), fresh = 0;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == &lp->wake_fd) {
        fresh = 1; /* the caller's: it ends this wait */
      } else if (evs[i].data.ptr == lp) {
        void *woken[EPOLL_BATCH];
        size_t k;
        while ((k = weft_c_pool_drain(lp->pool, woken, EPOLL_BATCH)) > 0)
          for (size_t j = 0; j < k; j++) ((struct loop_run *)woken[j])->hot = 1;
        fresh = 1;
      } else {
        struct loop_run *r = evs[i].data.ptr;
        fresh |= !r->hot;
        r->hot = 1;
      }
    }
    if (n < EPOLL_BATCH || !fresh) return;
    timeout_ms = 0;
  }
}

/* After a turn (t as coord_drive_turn said): when the run needs the next. */
static void schedule_run(struct weft_coord_loop *lp, struct loop_run *r, int t, int64_t mono) {
  struct coord_drive *d = &r->d;
  int tmo = (int)d->wake_ms;
  /* An executor with no fd yet may have made one in this turn (the
   * in_process executor's first process step). */
  if (r->fd != -1) {
    int fd = weft_executor_poll_fd(d->c.x, &tmo);
    if (r->fd == WEFT_EXECUTOR_NO_FD_YET) watch_fd(lp, r, fd);
  }
  if (run_hooks_busy(d->hooks) && (tmo < 0 || tmo > HOOKS_POLL_MS)) tmo = HOOKS_POLL_MS;
  if (coord_logs_remote(&d->c) && weft_executor_running_count(d->c.x) &&
      (tmo < 0 || tmo > LIVE_LOG_POLL_MS))
    tmo = LIVE_LOG_POLL_MS;
  r->hot = t == 2 || tmo == 0 || r->fd == -1;
  r->wake_at = tmo < 0 ? -1 : mono + tmo;
}

/* The loop's leases, in the open transaction: one statement for all its
 * runs; a run missing from what is still held was adopted elsewhere and
 * stops (coord_lease_lost). Not missing: a run whose end (and lease drop)
 * an earlier chunk of this tick committed, which leaves the loop only at
 * the tick's end (a slow tick renews in a later chunk). */
static int renew_leases(struct weft_coord_loop *lp, weft_error *e) {
  struct weft_run_lease_list held = {0};
  struct weft_map mine = WEFT_MAP_INIT;
  int rc = coord_lease_renew_all(lp->inst, lp->owner, &held, e);
  if (rc) return rc;
  for (size_t k = 0; k < held.n; k++) weft_map_set(&mine, held.v[k].run_id, &held.v[k]);
  for (size_t i = 0; i < lp->n; i++) {
    struct loop_run *r = lp->runs[i];
    struct coord *c = &r->d.c;
    if (!r->d.opened || c->lease_lost || c->lease_claim_pending || c->lease_released ||
        !c->run.coordinator ||
        strcmp(c->run.coordinator, lp->owner) || weft_map_find(&mine, c->run.id, NULL))
      continue;
    coord_lease_lost(c);
    harvest(lp, r);
    r->in_tx = 0;
    r->hot = 1; /* its next turn ends it */
  }
  weft_map_release(&mine);
  weft_run_lease_list_release(&held);
  lp->lease_renewals++;
  return WEFT_OK;
}

/* One run's part of a transaction: its lease claimed when it just started,
 * its batch, its lease dropped when it ended (a run whose lease another
 * coordinator holds writes nothing). */
static int write_run(struct weft_coord_loop *lp, struct loop_run *r, weft_error *e) {
  struct coord *c = &r->d.c;
  int claiming = c->lease_claim_pending && !c->lease_lost;
  int rc = coord_lease_claim_pending(c, e);
  if (!rc && c->lease_lost) {
    r->hot = 1;
    return WEFT_OK;
  }
  if (!rc && claiming && lp->claimed) rc = lp->claimed(r->data, r->run_id, e);
  if (!rc) rc = coord_flush_write(c, 0, e);
  if (!rc && r->over && weft_run_status_is_final(c->run.status)) {
    if (c->rows_by_loop)
      r->drop_lease = coord_lease_droppable(c);
    else
      rc = coord_lease_drop(c, e);
  }
  return rc;
}

/* A run in the transaction whose lease this loop is to claim. */
static int claims_now(const struct weft_coord_loop *lp, const struct loop_run *r) {
  const struct coord *c = &r->d.c;
  return r->in_tx && c->lease_claim_pending && !c->lease_lost && c->run.coordinator &&
         !strcmp(c->run.coordinator, lp->owner);
}

/* Inside group_commit's transaction, before write_run of runs [from, to):
 * the leases of those that just started, claimed in one statement rather
 * than a claim and a read each; write_run takes each outcome
 * (coord_lease_claim_pending). */
static int claim_new_runs(struct weft_coord_loop *lp, size_t from, size_t to, weft_error *e) {
  size_t n = 0;
  for (size_t i = from; i < to; i++) n += (size_t)claims_now(lp, lp->runs[i]);
  if (n < 2) return WEFT_OK; /* one claims as before */
  unsigned char *outcome = malloc(n);
  if (!outcome || weft_array_grow((void **)&lp->ids, &lp->cap_ids, n, sizeof *lp->ids)) {
    free(outcome);
    return weft_error_set(e, WEFT_ENOMEM, "out of memory");
  }
  size_t k = 0;
  for (size_t i = from; i < to; i++)
    if (claims_now(lp, lp->runs[i])) lp->ids[k++] = lp->runs[i]->d.c.run.id;
  int rc = weft_store_lease_claim_many(lp->inst->store, lp->ids, n, lp->owner,
                                       weft_clock_wall_ms(), weft_run_lease_ms(), outcome, e);
  k = 0;
  for (size_t i = from; !rc && i < to; i++)
    if (claims_now(lp, lp->runs[i])) lp->runs[i]->d.c.lease_claim_outcome = outcome[k++] + 1;
  free(outcome);
  return rc;
}

/* After the write_run calls of a transaction: the claimed_end hook writes
 * (rc 0) or drops what the claimed hooks gathered. */
static int claims_end(struct weft_coord_loop *lp, int rc, weft_error *e) {
  if (!lp->claimed_end) return rc;
  if (rc) {
    lp->claimed_end(lp->claimed_ctx, 0, NULL);
    return rc;
  }
  return lp->claimed_end(lp->claimed_ctx, 1, e);
}

/* An idle run keeps no write batch (thousands of runs wait at once). */
static void batch_shrink(struct loop_run *r) {
  struct coord_batch *b = &r->d.c.batch;
  if (r->hot || b->n_ev || b->n_st) return;
  free(b->ev);
  free(b->st);
  b->ev = NULL;
  b->st = NULL;
  b->cap_ev = b->cap_st = 0;
}

/* After the transaction of write_run committed. A run whose lease that
 * transaction claimed may now start its steps: its next turn does. */
static void wrote_run(struct loop_run *r) {
  struct coord *c = &r->d.c;
  if (c->lease_claim_pending && !c->lease_lost) {
    c->lease_claim_pending = 0;
    r->hot = r->claimed = 1;
  }
  if (r->over && !c->lease_lost && weft_run_status_is_final(c->run.status))
    c->lease_released = 1;
}

/* The batches of runs [from, to) in one transaction, with the loop's lease
 * renewal when due. When it fails, each run commits alone, so one run's
 * bad write stops that run, not its neighbours. */
static void group_commit(struct weft_coord_loop *lp, int64_t mono, size_t from, size_t to) {
  size_t pending = 0;
  for (size_t i = from; i < to; i++) {
    struct loop_run *r = lp->runs[i];
    struct coord *c = &r->d.c;
    r->in_tx = r->d.opened && (r->turned || mono >= c->next_heartbeat_ms) &&
               coord_flush_pending(c, 0);
    pending += (size_t)r->in_tx;
  }
  int renew = lp->n && mono >= lp->lease_next_ms;
  if (!pending && !renew) return;
  weft_error e = WEFT_ERROR_INIT;
  int rc = weft_store_begin(lp->inst->store, &e);
  /* A begin that waited (a store restart, a busy SQLite) may have taken
   * the leases near their end: check again before anything is written,
   * and count the next renewal from before the statement. */
  if (!rc && !renew && lp->n && weft_clock_mono_ms() >= lp->lease_next_ms) renew = 1;
  if (renew) mono = weft_clock_mono_ms();
  if (!rc && renew) rc = renew_leases(lp, &e);
  /* Several runs to write: one read of every CANCELING run, inside this
   * transaction, stands for a read of each run's row before its update
   * (coord_flush_write). The transaction holds the store's write lock, so
   * no cancel request lands between that read and the commit. */
  if (!rc && pending > 1 && read_cancels(lp))
    for (size_t i = from; i < to; i++)
      if (lp->runs[i]->in_tx) lp->runs[i]->d.c.status_read_in_tx = 1;
  if (!rc && pending > 1) rc = claim_new_runs(lp, from, to, &e);
  for (size_t i = from; !rc && i < to; i++)
    if (lp->runs[i]->in_tx) {
      lp->runs[i]->d.c.rows_by_loop = pending > 1;
      rc = write_run(lp, lp->runs[i], &e);
      harvest(lp, lp->runs[i]);
    }
  if (!rc && pending > 1) rc = write_rows(lp, from, to, &e);
  for (size_t i = from; i < to; i++) {
    lp->runs[i]->d.c.status_read_in_tx = 0;
    lp->runs[i]->d.c.rows_by_loop = lp->runs[i]->d.c.run_row_to_loop = 0;
    lp->runs[i]->d.c.lease_claim_outcome = 0;
    lp->runs[i]->drop_lease = 0;
  }
  rc = claims_end(lp, rc, &e);
  if (rc) weft_store_rollback(lp->inst->store);
  else rc = weft_store_commit(lp->inst->store, &e);
  lp->commits++;
  if (!rc && renew) lp->lease_next_ms = mono + weft_run_lease_ms() / 3;
  for (size_t i = from; i < to; i++) {
    struct loop_run *r = lp->runs[i];
    if (!r->in_tx) continue;
    r->in_tx = 0;
    if (!rc) {
      if (!r->d.c.lease_lost) wrote_run(r);
      coord_flush_done(&r->d.c, 0, &e);
      harvest(lp, r);
      batch_shrink(r);
    } else { /* alone, forced: the shared flag holds coord_flush back */
      weft_error e1 = WEFT_ERROR_INIT;
      struct coord *c = &r->d.c;
      int rc1 = weft_store_begin(lp->inst->store, &e1);
      if (!rc1) rc1 = write_run(lp, r, &e1);
      rc1 = claims_end(lp, rc1, &e1);
      if (rc1) weft_store_rollback(lp->inst->store);
      else rc1 = weft_store_commit(lp->inst->store, &e1);
      if (!rc1) wrote_run(r);
      if (!c->lease_lost) coord_flush_done(c, rc1, &e1);
      harvest(lp, r);
      r->hot = 1;
    }
  }
}

/* One pass of a tick's turns, committed in chunks: every run that is hot
 * or due, or with claimed_only, every run whose claim the first pass just
 * committed. Raises ps->busy, lowers ps->next_wake to the first run asleep. */
struct pass {
  int busy;
  int64_t next_wake;
};

static void turn_pass(struct weft_coord_loop *lp, int64_t mono, int claimed_only,
                      struct pass *ps) {
  size_t chunk = 0, committed = 0; /* runs [0, committed) are in a chunk's commit */
  for (size_t i = 0; i < lp->n; i++) {
    struct loop_run *r = lp->runs[i];
    r->turned = claimed_only ? r->claimed && !r->over
                             : r->hot || (r->wake_at >= 0 && mono >= r->wake_at);
    r->claimed = 0;
    if (!r->turned) {
      if (r->wake_at >= 0 && (ps->next_wake < 0 || r->wake_at < ps->next_wake))
        ps->next_wake = r->wake_at;
      continue;
    }
    if (chunk++ == COMMIT_CHUNK) { /* those turned so far, before this one */
      group_commit(lp, mono, committed, i);
      committed = i;
      chunk = 1;
    }
    lp->turns++;
    int t = coord_drive_turn(&r->d, 0);
    if (t == 1) {
      r->over = 1;
      coord_drive_end(&r->d); /* its end goes in this tick's commit */
      harvest(lp, r);
    } else {
      schedule_run(lp, r, t, mono);
      if (r->hot) ps->busy = 1;
      else if (r->wake_at >= 0 && (ps->next_wake < 0 || r->wake_at < ps->next_wake))
        ps->next_wake = r->wake_at;
    }
    if (t) ps->busy = 1;
    harvest(lp, r);
  }
  /* The first pass commits even with nothing turned: the leases' renewal
   * and the runs' heartbeats are due by the clock. */
  if (chunk || !claimed_only) group_commit(lp, mono, committed, lp->n);
}

size_t weft_coord_loop_tick(struct weft_coord_loop *lp, int wait_ms) {
  int64_t now = loop_now(lp);
  if (lp->n && now >= lp->next_cancel_read_ms) {
    lp->next_cancel_read_ms = now + CANCEL_READ_MS;
    read_cancels(lp);
  }
  collect_ready(lp, 0);
  int64_t mono = weft_clock_mono_ms();
  struct pass ps = {0, -1};
  size_t claimed = 0;
  turn_pass(lp, mono, 0, &ps);
  /* The runs whose claims that committed start their steps now, not a
   * tick later (in a burst of due schedules a tick is tens of ms: a
   * tenth of the time from the tick to a run's first step), and their
   * starts go out in a commit of their own. */
  for (size_t i = 0; i < lp->n; i++)
    claimed += (size_t)(lp->runs[i]->claimed && !lp->runs[i]->over);
  if (claimed) turn_pass(lp, mono, 1, &ps);
  int busy = ps.busy;
  int64_t next_wake = ps.next_wake;
  /* Close the runs that are over, keeping the others in order. */
  size_t k = 0;
  for (size_t i = 0; i < lp->n; i++) {
    struct loop_run *r = lp->runs[i];
    if (!r->over) {
      lp->runs[k++] = r;
      continue;
    }
    if (r->fd >= 0) epoll_ctl(lp->epfd, EPOLL_CTL_DEL, r->fd, NULL);
    restore(lp, r);
    coord_drive_close(&r->d);
    harvest(lp, r); /* its first error stays r->errmsg */
    if (r->d.rc && !r->errmsg) r->errmsg = weft_str_dup("the run could not go on");
    run_free(lp, r);
  }
  lp->n = k;
  if (!busy && wait_ms > 0) {
    /* Asleep until a run's executor or the pool has something, or the
     * first timed thing (a heartbeat is not one: it waits for a tick). */
    int64_t until = weft_clock_mono_ms();
    int tmo = wait_ms;
    if (next_wake >= 0 && next_wake - until < tmo) tmo = next_wake > until ? (int)(next_wake - until) : 0;
    collect_ready(lp, tmo);
  }
  return lp->n;
}

void weft_coord_loop_cancel_all(struct weft_coord_loop *lp, const char *reason) {
  for (size_t i = 0; i < lp->n; i++) {
    coord_begin_cancel(&lp->runs[i]->d.c, reason);
    lp->runs[i]->hot = 1;
  }
}

int weft_coord_loop_cancel(struct weft_coord_loop *lp, const char *run_id, const char *reason) {
  for (size_t i = 0; i < lp->n; i++)
    if (!strcmp(lp->runs[i]->run_id, run_id)) {
      coord_begin_cancel(&lp->runs[i]->d.c, reason);
      lp->runs[i]->hot = 1;
      return WEFT_OK;
    }
  return WEFT_ENOTFOUND;
}

void weft_coord_loop_free(struct weft_coord_loop *lp) {
  if (!lp) return;
  if (lp->n) weft_coord_loop_cancel_all(lp, "the coordinator stopped");
  while (lp->n) weft_coord_loop_tick(lp, 10);
  /* Every executor is gone, so no C op is owned by a run: the pool only
   * waits for the functions still running (exec/c_pool.h). */
  weft_c_pool_free(lp->pool);
  close(lp->epfd);
  free(lp->runs);
  free(lp->owner);
  free(lp->st);
  free(lp->ev);
  free(lp->rows);
  free(lp->ids);
  free(lp);
}
