/* store_sqlite_wlock.c: the write lock the threads of one process take in
 * turn before BEGIN IMMEDIATE on one database file (store_sqlite.c). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store_sqlite.h"

/* The lock is handed over: a thread that releases it while others wait
 * gives it to the first of them, and takes it again only after. A plain
 * mutex let a thread that commits and begins at once (the scheduler
 * creating 1,000 due runs, 128 a commit) take it back before the woken
 * waiter ran: the coordinator's first commit of those runs waited for
 * all of them.
 *
 *   free --take--> held --release, nobody in line--> free
 *                  held --release--> held (the first in line's: granted)
 *   in line --granted--> holder;  in line --60 s--> out of line, an error
 */
struct wlock_waiter {
  int granted;
  struct wlock_waiter *next;
};

struct weft__sq_wlock {
  dev_t dev;
  ino_t ino;
  pthread_mutex_t mu; /* guards the three below */
  pthread_cond_t cv;
  int held;
  struct wlock_waiter *head, *tail; /* the line, first come first */
  struct weft__sq_wlock *next;
};

/* One per file this process opened, kept for its life (a few at most). */
static pthread_mutex_t wlocks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct weft__sq_wlock *wlocks;

struct weft__sq_wlock *weft__sq_wlock_of(const char *path) {
  struct stat sb;
  if (stat(path, &sb)) return NULL; /* then SQLite's busy handler alone */
  pthread_mutex_lock(&wlocks_mu);
  struct weft__sq_wlock *w = wlocks;
  while (w && (w->dev != sb.st_dev || w->ino != sb.st_ino)) w = w->next;
  if (!w && (w = calloc(1, sizeof *w))) {
    w->dev = sb.st_dev;
    w->ino = sb.st_ino;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->next = wlocks;
    wlocks = w;
  }
  pthread_mutex_unlock(&wlocks_mu);
  return w;
}

/* Before BEGIN IMMEDIATE: waits as long as the busy handler would. */
int weft__sq_wlock_take(struct weft__sq_store *q, const char *op, weft_error *err) {
  if (!q->wlock || q->wlocked) return WEFT_OK;
  struct weft__sq_wlock *w = q->wlock;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += WEFT__SQ_BUSY_TIMEOUT_MS / 1000;
  int e = 0;
  pthread_mutex_lock(&w->mu);
  if (!w->held && !w->head) {
    w->held = 1;
  } else {
    struct wlock_waiter me = {0};
    if (w->tail) w->tail->next = &me;
    else w->head = &me;
    w->tail = &me;
    while (!me.granted && e != ETIMEDOUT) e = pthread_cond_timedwait(&w->cv, &w->mu, &until);
    if (me.granted) {
      e = 0; /* a grant that came with the time-out is taken */
    } else { /* out of line */
      struct wlock_waiter **p = &w->head, *prev = NULL;
      while (*p != &me) {
        prev = *p;
        p = &(*p)->next;
      }
      *p = me.next;
      if (w->tail == &me) w->tail = prev;
    }
  }
  pthread_mutex_unlock(&w->mu);
  if (e)
    return weft_error_set(err, WEFT_ESTORE,
                          "sqlite %s: %s: another thread of this process held the write lock "
                          "for %d s: %s",
                          q->path, op, WEFT__SQ_BUSY_TIMEOUT_MS / 1000, strerror(e));
  q->wlocked = 1;
  return WEFT_OK;
}

unsigned weft__sq_wlock_waiting(struct weft__sq_store *q) {
  if (!q->wlock) return 0;
  unsigned n = 0;
  pthread_mutex_lock(&q->wlock->mu);
  for (const struct wlock_waiter *x = q->wlock->head; x; x = x->next) n++;
  pthread_mutex_unlock(&q->wlock->mu);
  return n;
}

/* Once the connection is out of its transaction (committed, rolled back,
 * or ended by SQLite itself after an error). */
void weft__sq_wlock_settle(struct weft__sq_store *q) {
  if (q->wlocked && (!q->db || sqlite3_get_autocommit(q->db))) {
    struct weft__sq_wlock *w = q->wlock;
    q->wlocked = 0;
    pthread_mutex_lock(&w->mu);
    if (w->head) { /* still held: now the first waiter's */
      w->head->granted = 1;
      if (!(w->head = w->head->next)) w->tail = NULL;
      pthread_cond_broadcast(&w->cv);
    } else {
      w->held = 0;
    }
    pthread_mutex_unlock(&w->mu);
  }
}

