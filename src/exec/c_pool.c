/* c_pool.c: the threads that run C-function steps for a coordinator loop
 * (c_pool.h: who owns what, and when). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "exec/c_pool.h"

#define THREADS_DEFAULT 2
#define THREADS_MAX 64

struct weft_c_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct weft__c_task *head, *tail; /* queued, first in first out */
  struct weft__c_task *done;        /* finished, not drained or collected */
  int stop;
  int efd;
  int n_threads;
  pthread_t *threads;
};

static void unlink_from(struct weft__c_task **list, struct weft__c_task *t) {
  for (struct weft__c_task **p = list; *p; p = &(*p)->next)
    if (*p == t) {
      *p = t->next;
      t->next = NULL;
      return;
    }
}

static void *worker(void *data) {
  struct weft_c_pool *p = data;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->head && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
    struct weft__c_task *t = p->head;
    if (!t) break; /* stopping with nothing queued */
    p->head = t->next;
    if (!p->head) p->tail = NULL;
    t->next = NULL;
    t->state = WEFT__C_TASK_RUNNING;
    pthread_mutex_unlock(&p->mu);
    t->run(t);
    pthread_mutex_lock(&p->mu);
    t->state = WEFT__C_TASK_DONE;
    if (t->abandoned) {
      pthread_mutex_unlock(&p->mu);
      t->release(t);
      pthread_mutex_lock(&p->mu);
      continue;
    }
    t->next = p->done;
    p->done = t;
    uint64_t one = 1;
    ssize_t w = write(p->efd, &one, sizeof one);
    (void)w; /* a full counter still polls readable */
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int weft_c_pool_new(int threads, struct weft_c_pool **out, weft_error *err) {
  *out = NULL;
  if (threads <= 0) {
    const char *v = getenv("WEFT_COORD_C_THREADS");
    threads = v && *v ? atoi(v) : THREADS_DEFAULT;
    if (threads <= 0) threads = THREADS_DEFAULT;
  }
  if (threads > THREADS_MAX) threads = THREADS_MAX;
  struct weft_c_pool *p = calloc(1, sizeof *p);
  if (!p || !(p->threads = calloc((size_t)threads, sizeof *p->threads))) {
    free(p);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p->efd < 0) {
    weft_c_pool_free(p);
    return weft_error_set(err, WEFT_EIO, "cannot create the C op pool's eventfd");
  }
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&p->threads[i], NULL, worker, p)) {
      weft_c_pool_free(p);
      return weft_error_set(err, WEFT_EIO, "cannot start the C op pool's threads");
    }
    p->n_threads++;
  }
  *out = p;
  return WEFT_OK;
}

int weft_c_pool_fd(const struct weft_c_pool *p) { return p->efd; }

size_t weft_c_pool_drain(struct weft_c_pool *p, void **wake, size_t max) {
  size_t n = 0;
  if (!p) return 0;
  pthread_mutex_lock(&p->mu);
  /* Taken from the done list only for the token: the task stays the
   * executor's, DONE, for weft__c_pool_collect. */
  while (p->done && n < max) {
    struct weft__c_task *t = p->done;
    p->done = t->next;
    t->next = NULL;
    wake[n++] = t->wake;
  }
  if (!p->done) {
    uint64_t v;
    ssize_t r = read(p->efd, &v, sizeof v);
    (void)r; /* EAGAIN: already reset */
  }
  pthread_mutex_unlock(&p->mu);
  return n;
}

void weft__c_pool_submit(struct weft_c_pool *p, struct weft__c_task *t) {
  t->pool = p;
  pthread_mutex_lock(&p->mu);
  t->state = WEFT__C_TASK_QUEUED;
  t->abandoned = 0;
  t->next = NULL;
  if (p->tail) p->tail->next = t;
  else p->head = t;
  p->tail = t;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

int weft__c_task_abandoned(struct weft__c_task *t) {
  pthread_mutex_lock(&t->pool->mu);
  int a = t->abandoned;
  pthread_mutex_unlock(&t->pool->mu);
  return a;
}

int weft__c_pool_collect(struct weft_c_pool *p, struct weft__c_task *t) {
  pthread_mutex_lock(&p->mu);
  int done = t->state == WEFT__C_TASK_DONE;
  if (done) unlink_from(&p->done, t);
  pthread_mutex_unlock(&p->mu);
  return done;
}

int weft__c_pool_forget(struct weft_c_pool *p, struct weft__c_task *t) {
  int mine = 1;
  pthread_mutex_lock(&p->mu);
  if (t->state == WEFT__C_TASK_QUEUED) {
    struct weft__c_task *prev = NULL;
    for (struct weft__c_task *q = p->head; q; prev = q, q = q->next)
      if (q == t) {
        if (prev) prev->next = t->next;
        else p->head = t->next;
        if (p->tail == t) p->tail = prev;
        t->next = NULL;
        break;
      }
  } else if (t->state == WEFT__C_TASK_RUNNING) {
    t->abandoned = 1;
    mine = 0;
  } else {
    unlink_from(&p->done, t);
  }
  pthread_mutex_unlock(&p->mu);
  return mine;
}

void weft_c_pool_free(struct weft_c_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
  /* Every executor was freed first: nothing queued or done is owned. */
  if (p->efd >= 0) close(p->efd);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}
