/* workers_view.h: how the worker registry and the queue depths are shown,
 * shared by the API (api_workers.c) and the CLI (`weft worker list`,
 * `weft queue stats`), so both print the same documents. */
#ifndef WEFT_HTTP_WORKERS_VIEW_H
#define WEFT_HTTP_WORKERS_VIEW_H

#include <jansson.h>
#include <stdint.h>

#include "queue/queue.h"

/* "running", "stopping", "stopped", or "lost" for a worker that went
 * silent (weft_worker_info.lost); borrowed. */
const char *weft_worker_shown_state(const struct weft_worker_info *w);
/* 1 for a worker that stopped cleanly (left out of lists unless asked). */
int weft_worker_stopped(const struct weft_worker_info *w);
/* The WORKER object of API.md ("Workers and queues"), with heartbeat_age_ms
 * measured at now (ms since the epoch). New reference; NULL when out of
 * memory. */
json_t *weft_worker_view_json(const struct weft_worker_info *w, int64_t now);
/* Steps that live workers took from op queue `name` and have not acked:
 * a worker acks a step once its result is recorded, so its running steps
 * are its unacked messages. A worker on several queues does not say which
 * queue a step came from: its steps count under its first queue. The dead
 * letters (names starting "weft.") have none. */
int64_t weft_queue_unacked(const struct weft_worker_list *w, const char *name);
/* The QUEUE object of API.md for one depth, unacked from w. NULL when out
 * of memory. */
json_t *weft_queue_view_json(const struct weft_queue_depth *d, const struct weft_worker_list *w);
/* "amqp://user:secret@host:5672/" -> "amqp://user@host:5672/". Caller
 * frees; NULL when out of memory. */
char *weft_url_without_password(const char *url); /* util/redact.h weft_redact */

#endif
