/* coord_service.h: the coordinator role: one loop (engine/coord_loop.h)
 * drives every run handed to it through the store; launchers see it is up
 * by its heartbeat and hand runs to it instead of spawning a process each.
 *
 * In the store's key/value table:
 *   coordinator/service/ID   one per running service, rewritten every
 *                            second (its updated_ms is the heartbeat);
 *                            removed when the service stops
 *   coordinator/inbox/RUN    a QUEUED run handed over (value: the --in-run
 *                            step list of a re-execution, or ""); a
 *                            service deletes it in the commit that claims
 *                            the run's lease, so a service killed before
 *                            that leaves it for another (or the reclaim)
 *   coordinator/taken/RUN    written by services before that commit took
 *                            entries away; only settled now ("SERVICE-ID
 *                            \nIN-RUN": back in the inbox when its run is
 *                            still QUEUED and its service gone)
 * A launcher hands a run over when a service heartbeated within
 * WEFT_COORD_SERVICE_STALE_MS; an inbox entry no service took within that
 * while is taken back by a launcher and spawned as before. */
#ifndef WEFT_SCHED_COORD_SERVICE_H
#define WEFT_SCHED_COORD_SERVICE_H

#include <signal.h>

#include "engine/engine.h"

#define WEFT_COORD_SERVICE_PREFIX "coordinator/service/"
#define WEFT_COORD_INBOX_PREFIX "coordinator/inbox/"
#define WEFT_COORD_TAKEN_PREFIX "coordinator/taken/"
#define WEFT_COORD_SERVICE_STALE_MS 5000

/* 1 when a coordinator service of the instance heartbeated lately (read
 * at most once a second per process), else 0. */
int weft_coord_service_up(struct weft_instance *inst);

/* Hands queued run_id to the coordinator services (in_run may be NULL). */
int weft_coord_handoff(struct weft_instance *inst, const char *run_id, const char *in_run,
                       weft_error *err);
/* The same inside the caller's open transaction (a run queue's turn hands
 * all it admits in the commit that admits them). */
int weft_coord_handoff_in_tx(struct weft_instance *inst, const char *run_id, const char *in_run,
                             weft_error *err);

/* The inbox key of run_id into buf; WEFT_EINVALID (in err) when too long. */
int weft_coord_inbox_key(char *buf, size_t size, const char *run_id, weft_error *err);

/* weft_coord_handoff_in_tx for a run the caller created unowned
 * (weft_launch.unowned) in the same transaction: no read of its row. */
int weft_coord_handoff_unowned_in_tx(struct weft_instance *inst, const char *run_id,
                                     const char *in_run, weft_error *err);

/* Inbox entries older than WEFT_COORD_SERVICE_STALE_MS (no service took
 * them: it stopped): each is deleted and passed to fn (a spawner's), so
 * the run starts anyway. Returns how many. Also settles the taken
 * entries: dropped once their run left QUEUED, back in the inbox when
 * their run is still QUEUED and the service that took it is gone. */
size_t weft_coord_inbox_reclaim(struct weft_instance *inst,
                                int (*fn)(void *data, struct weft_instance *inst,
                                          const struct weft_run_row *run, const char *in_run,
                                          weft_error *err),
                                void *data);

struct weft_coord_service_opts {
  volatile sig_atomic_t *stop; /* set (a signal handler): drain and return */
  int drain_ms;       /* after stop: runs still going get this long to end,
                         then are canceled; <= 0: 10000 */
  int quiet;          /* no line per run on stdout */
};

/* Runs the coordinator role on inst until *o->stop, then drains: stops
 * heartbeating (launchers spawn again), takes what was handed over in the
 * meantime, lets its runs end within drain_ms, cancels the rest and
 * returns once every run it took is final. */
int weft_coord_service_run(struct weft_instance *inst, const struct weft_coord_service_opts *o,
                           weft_error *err);

/* The role on a thread of another service (server, scheduler, dev), with
 * an instance of its own opened at home (NULL: $WEFT_HOME); NULL on
 * failure. Stop drains as a SIGTERM does, then joins. */
struct weft_coord_service_thread;
struct weft_coord_service_thread *weft_coord_service_start(const char *home, weft_error *err);
void weft_coord_service_stop(struct weft_coord_service_thread *t);

#endif
