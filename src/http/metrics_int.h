/* metrics_int.h: the /metrics families beyond metrics.c's own: the ones fed
 * from the event log (metrics_events.c) and the ones read from storage and
 * this process's counters at scrape time (metrics_store.c). */
#ifndef WEFT_HTTP_METRICS_INT_H
#define WEFT_HTTP_METRICS_INT_H

#include <stdint.h>

#include "engine/engine.h"
#include "model/model.h"
#include "store/store.h"
#include "util/buf.h"

/* Label sets are bounded: the first HTTP_METRICS_MAX_JOBS jobs seen (in
 * event order, so the same ones after a restart) get a series of their
 * own, later ones count under job="other"; likewise the first
 * HTTP_METRICS_MAX_STEPS (job, op) pairs. */
#define HTTP_METRICS_MAX_JOBS 50
#define HTTP_METRICS_MAX_STEPS 200
/* Runs remembered between their run_queued event and their end (for the
 * job of their step events and their queue wait): a direct-mapped cache,
 * so a run evicted by a colliding one counts under job="other". */
#define HTTP_METRICS_RUN_SLOTS 4096

/* State fed by the maintenance thread, read by scrapes; guarded by the
 * http_metrics mutex. */
struct http_metrics_ev;

struct http_metrics_ev *http_metrics_ev_new(void);
void http_metrics_ev_free(struct http_metrics_ev *e);
/* One event of the log (caller holds the mutex). */
void http_metrics_ev_feed(struct http_metrics_ev *e, const struct weft_event_row *ev);
/* Appends weft_steps_total, weft_runs_finished_total,
 * weft_run_duration_seconds and weft_run_queue_wait_seconds (caller holds
 * the mutex). */
void http_metrics_ev_print(const struct http_metrics_ev *e, struct weft_buf *b);

/* Appends the families read from storage now: run queue length and oldest
 * wait, runs in flight by coordinator liveness, running steps, schedule tick
 * lag and recent ticks (ws: the server's workspace). */
int http_metrics_store_print(struct weft_instance *inst, const struct weft_workspace *ws,
                             int64_t now_ms, struct weft_buf *b, weft_error *err);
/* Appends this process's own counters: store commit latency, artifact
 * store calls and errors, coordinators it started that still run. */
void http_metrics_process_print(struct weft_buf *b, size_t coordinators);

/* A label value with \, " and newline escaped (Prometheus text format). */
void http_metrics_label(struct weft_buf *b, const char *s);

#endif
