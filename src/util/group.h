/* group.h: group commit for threads: callers that arrive while one of them
 * does the work are done together in its next round, none waiting on a timer.
 *
 * Each caller queues an item and waits; the first to find nobody leading
 * takes every queued item (at most WEFT_GROUP_MAX), runs the round's
 * function on them outside the lock, marks them done and wakes the others.
 *
 *   queued --(a leader takes it)--> in a round --(fn returned)--> done
 *
 * Used where each caller would otherwise pay a store commit (an fsync) of
 * its own: launches and audit entries of the HTTP server. */
#ifndef WEFT_UTIL_GROUP_H
#define WEFT_UTIL_GROUP_H

#include <pthread.h>
#include <stddef.h>

#define WEFT_GROUP_MAX 256

/* The first member of the caller's own item struct. */
struct weft_group_item {
  struct weft_group_item *next;
  int done;
};

struct weft_group {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct weft_group_item *head, *tail; /* queued, first come first */
  int leading;                         /* a caller runs a round */
};

/* A round: v[0..n) are the queued items, self among them or not (it then
 * waits for a later round). ctx is the leading caller's. */
typedef void (*weft_group_fn)(void *ctx, struct weft_group_item **v, size_t n);

void weft_group_init(struct weft_group *g);
void weft_group_release(struct weft_group *g);
/* Queues self (zeroed by the caller but for its own fields) and returns
 * once a round, led by this caller or another, has done it. */
void weft_group_run(struct weft_group *g, struct weft_group_item *self, weft_group_fn fn,
                    void *ctx);

#endif
