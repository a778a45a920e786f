/* inbox_bell.c: the thread that waits on the store's inbox channel for a
 * coordinator service (inbox_bell.h), and the eventfd it rings. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sched/inbox_bell.h"
#include "store/store.h"
#include "util/log.h"

/* How long one wait lasts: the thread sees a stop request this often (a
 * wait that times out sends nothing to the store). */
#define WAIT_SLICE_MS 250
/* After a failed wait (the store out of reach past its reconnect bound):
 * the service polls once a second meanwhile, the thread tries again. */
#define RETRY_MS 1000

struct weft_inbox_bell {
  pthread_t thread;
  struct weft_store *store; /* the thread's own handle */
  int efd;
  atomic_int stop;
};

static void ring(struct weft_inbox_bell *b) {
  uint64_t one = 1;
  /* Full (2^64 - 2 rings unread) cannot happen; EAGAIN would mean "rung". */
  if (write(b->efd, &one, sizeof one) < 0 && errno != EAGAIN) return;
}

static void *bell_thread(void *data) {
  struct weft_inbox_bell *b = data;
  int failing = 0;
  while (!atomic_load(&b->stop)) {
    weft_error err = WEFT_ERROR_INIT;
    int rc = weft_store_notify_wait(b->store, WEFT_STORE_CHANNEL_INBOX, WAIT_SLICE_MS, &err);
    if (rc == 1) ring(b);
    if (rc >= 0) {
      failing = 0;
      continue;
    }
    /* Said once per outage; the service polls meanwhile. */
    if (!failing) weft_log_warn("coordinator: waiting on the inbox: %s", err.msg);
    failing = 1;
    ring(b);
    for (int t = 0; t < RETRY_MS / 50 && !atomic_load(&b->stop); t++) usleep(50 * 1000);
  }
  return NULL;
}

struct weft_inbox_bell *weft_inbox_bell_start(struct weft_instance *inst, weft_error *err) {
  if (!weft_store_can_notify(inst->store)) {
    weft_error_set(err, WEFT_EUSAGE, "the store has no notifications");
    return NULL;
  }
  struct weft_inbox_bell *b = calloc(1, sizeof *b);
  if (!b) {
    weft_error_set(err, WEFT_ENOMEM, "out of memory");
    return NULL;
  }
  b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (b->efd < 0) {
    weft_error_set(err, WEFT_EIO, "eventfd: %s", strerror(errno));
    goto fail;
  }
  if (weft_store_open(inst->storage_url, &b->store, err)) goto fail;
  if (pthread_create(&b->thread, NULL, bell_thread, b)) {
    weft_error_set(err, WEFT_EIO, "cannot start the inbox thread");
    goto fail;
  }
  return b;
fail:
  if (b->store) weft_store_close(b->store);
  if (b->efd >= 0) close(b->efd);
  free(b);
  return NULL;
}

int weft_inbox_bell_fd(const struct weft_inbox_bell *b) { return b->efd; }

int weft_inbox_bell_take(struct weft_inbox_bell *b) {
  uint64_t n = 0;
  return read(b->efd, &n, sizeof n) == (ssize_t)sizeof n && n > 0;
}

void weft_inbox_bell_stop(struct weft_inbox_bell *b) {
  if (!b) return;
  atomic_store(&b->stop, 1);
  pthread_join(b->thread, NULL);
  weft_store_close(b->store);
  close(b->efd);
  free(b);
}
