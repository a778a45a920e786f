/* inbox_bell.h: a coordinator service's wake-up when a run is handed to
 * it, on a store that can notify (PostgreSQL) instead of polling. */
#ifndef WEFT_SCHED_INBOX_BELL_H
#define WEFT_SCHED_INBOX_BELL_H

#include "engine/engine.h"

/* A thread on a store handle of its own waits on the inbox channel
 * (weft_store_notify_wait) and makes an eventfd readable when it rings.
 * The service's loop watches the fd (weft_coord_loop_watch_wake), and
 * reads the inbox when it rang, and once a second anyway. */
struct weft_inbox_bell;

/* NULL with err filled when the store cannot notify (SQLite: poll it) or
 * the thread cannot start. */
struct weft_inbox_bell *weft_inbox_bell_start(struct weft_instance *inst, weft_error *err);
/* The fd to watch (readable: it rang). */
int weft_inbox_bell_fd(const struct weft_inbox_bell *b);
/* 1 when it rang since the last call (the fd is read empty), else 0. */
int weft_inbox_bell_take(struct weft_inbox_bell *b);
void weft_inbox_bell_stop(struct weft_inbox_bell *b);

#endif
