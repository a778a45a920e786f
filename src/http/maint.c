/* maint.c: the server's run queue and background work. Every launch and
 * re-execution goes through the run queue (sched/run_queue.h) and is
 * coordinated by `weft run coordinate RUN`, spawned as a session of its own
 * (sched/coordinator_spawn.h), so the server never forks its threads and a
 * server restart does not end runs. One thread dequeues (at most every
 * 20 ms, at least every 250 ms and after a new event), reaps those processes, sweeps
 * runs whose coordinator died, follows the registry and the location
 * folders (watch.c) and feeds the step duration histogram. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/locreg.h"
#include "http/http_int.h"
#include "util/clock.h"
#include "util/log.h"

#define SWEEP_MS 2000     /* how often runs of dead coordinators are swept (adopted
                           * once their 5 s lease expired: run_adopt.c) */
#define WAIT_SLICE_MS 250 /* the thread's loop: reap, sweep, read events */
/* At most one dequeue turn in this time. The loop wakes at every new
 * event, hundreds a second under load, and a turn reads the queue and its
 * claims whole: turning at each wake took an eighth of a busy server's CPU.
 * Launches through this server do not wait for it (launch_batch.c). */
#define TURN_GAP_MS 20
#define EVENT_BATCH 1000
#define FEED_BUSY_MS 20 /* the pause after a read that found events */

/* ---- the run queue ------------------------------------------------------------------ */

int http_spawner_init(struct http_server *srv, weft_error *err) {
  /* How a coordinator finds the job: as the server does. */
  const char **args = calloc(2 * srv->n_paths + 2, sizeof *args);
  size_t n = 0;
  if (!args) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (srv->registry) {
    /* the coordinator reads the registry itself, as it is at launch */
  } else if (srv->n_paths) {
    for (size_t i = 0; i < srv->n_paths; i++) {
      args[n++] = "-l";
      args[n++] = srv->paths[i];
    }
  } else {
    args[n++] = "-w";
    args[n++] = srv->ws_file;
  }
  int rc = weft_run_queue_config_load(srv->inst->home, &srv->queue, err);
  if (!rc) rc = weft_coord_spawner_init(&srv->spawner, srv->inst, srv->exe, args, n, err);
  srv->spawner_ready = !rc;
  free(args);
  return rc;
}

/* One dequeue turn (sched/run_queue.h): starts the coordinators of the runs
 * the limits let go, whoever queued them (this server, the CLI, a
 * scheduler, a backfill). */
static void dequeue(struct http_server *srv) {
  weft_error err = WEFT_ERROR_INIT;
  if (weft_coord_dequeue(&srv->spawner, srv->inst, &srv->queue, &err))
    weft_log(WEFT_LOG_ERROR, WEFT_LOG_PREFIX("weft server: "), "the run queue: %s", err.msg);
}

/* ---- the background thread ---------------------------------------------------------- */

/* Reads the events committed since the last look into the histogram; waits
 * up to wait_ms for more when it has caught up. */
static void feed_metrics(struct http_server *srv, int wait_ms) {
  struct http_metrics *m = &srv->metrics;
  int64_t cursor = atomic_load(&m->cursor);
  struct weft_event_filter f = {.after_id = cursor, .limit = EVENT_BATCH};
  struct weft_event_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_event_read(srv->inst->store, &f, &l, &err)) {
    weft_log(WEFT_LOG_ERROR, WEFT_LOG_PREFIX("weft server: "), "metrics: %s", err.msg);
    weft_clock_sleep_ms(wait_ms);
    return;
  }
  for (size_t i = 0; i < l.n; i++) http_metrics_event(m, &l.v[i]);
  if (l.n) atomic_store(&m->cursor, (cursor = l.v[l.n - 1].id));
  size_t n = l.n;
  weft_event_list_release(&l);
  if (n == EVENT_BATCH) return; /* more to read at once */
  atomic_store(&m->primed, 1);
  if (n) {
    /* Events are streaming in: the next read a little later takes more of
     * them at once. Waiting on the store for each new one (on PostgreSQL
     * LISTEN, a read, UNLISTEN) spun this thread at every commit. */
    weft_clock_sleep_ms(wait_ms < FEED_BUSY_MS ? wait_ms : FEED_BUSY_MS);
    return;
  }
  if (weft_store_event_wait(srv->inst->store, cursor, wait_ms, &err) < 0)
    weft_clock_sleep_ms(wait_ms);
}

/* Another process (the CLI, another server) changed the registry: load
 * the new set. One kv read per loop turn, so a change shows within
 * WAIT_SLICE_MS plus the load. */
static void watch_registry(struct http_server *srv) {
  weft_error err = WEFT_ERROR_INIT;
  char *raw = NULL;
  if (weft_store_kv_get(srv->inst->store, WEFT_LOCREG_KEY, &raw, &err)) return;
  json_t *doc = raw ? json_loads(raw, 0, NULL) : NULL;
  int64_t v = (int64_t)json_integer_value(json_object_get(doc, "version"));
  json_decref(doc);
  free(raw);
  struct http_ws *w = http_ws_acquire(srv);
  int moved = w->reg_version != v;
  http_ws_release(srv, w);
  if (moved && http_ws_reload(srv, &err))
    weft_log(WEFT_LOG_ERROR, WEFT_LOG_PREFIX("weft server: "), "reloading the location registry: %s", err.msg);
}

static void *maint_main(void *arg) {
  struct http_server *srv = arg;
  int64_t next_sweep = weft_clock_mono_ms() + SWEEP_MS, next_turn = 0;
  int owed = 0; /* woken within the gap: a turn is due once it ends */
  while (!atomic_load(&srv->stopping)) {
    /* Coordinators that exited before starting their run fail it. */
    weft_coord_reap(&srv->spawner, srv->inst);
    int64_t now = weft_clock_mono_ms();
    if (now >= next_turn) {
      dequeue(srv);
      next_turn = now + TURN_GAP_MS;
      owed = 0;
    } else {
      owed = 1;
    }
    if (now >= next_sweep) {
      weft_error err = WEFT_ERROR_INIT;
      if (weft_instance_sweep_orphans(srv->inst, NULL, &err))
        weft_log(WEFT_LOG_ERROR, WEFT_LOG_PREFIX("weft server: "), "sweeping orphaned runs: %s", err.msg);
      next_sweep = now + SWEEP_MS;
    }
    if (srv->registry) watch_registry(srv);
    /* Back for an owed turn in time, events or not. */
    int wait = http_watch_tick(srv, WAIT_SLICE_MS);
    int64_t to_turn = next_turn - weft_clock_mono_ms();
    if (owed && to_turn < wait) wait = to_turn > 0 ? (int)to_turn : 0;
    feed_metrics(srv, wait);
  }
  return NULL;
}

int http_maint_start(struct http_server *srv, weft_error *err) {
  /* Blocks every signal in the thread: the command's main thread takes
   * SIGINT and SIGTERM. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(&srv->maint, NULL, maint_main, srv);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e) return weft_error_set(err, WEFT_EIO, "cannot start a thread: %s", strerror(e));
  srv->maint_started = 1;
  return WEFT_OK;
}

void http_maint_stop(struct http_server *srv) {
  if (!srv->maint_started) return;
  atomic_store(&srv->stopping, 1);
  pthread_join(srv->maint, NULL);
  srv->maint_started = 0;
}
