/* group.c: group commit for threads (group.h): one caller leads a round
 * over every item queued, the others wait for it. */
#include "util/group.h"

void weft_group_init(struct weft_group *g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->head = g->tail = NULL;
  g->leading = 0;
}

void weft_group_release(struct weft_group *g) {
  pthread_cond_destroy(&g->cv);
  pthread_mutex_destroy(&g->mu);
}

void weft_group_run(struct weft_group *g, struct weft_group_item *self, weft_group_fn fn,
                    void *ctx) {
  struct weft_group_item *v[WEFT_GROUP_MAX];
  self->next = NULL;
  self->done = 0;
  pthread_mutex_lock(&g->mu);
  if (g->tail) g->tail->next = self;
  else g->head = self;
  g->tail = self;
  while (!self->done) {
    if (g->leading) {
      pthread_cond_wait(&g->cv, &g->mu);
      continue;
    }
    size_t n = 0;
    while (g->head && n < WEFT_GROUP_MAX) {
      v[n++] = g->head;
      g->head = g->head->next;
    }
    if (!g->head) g->tail = NULL;
    g->leading = 1;
    pthread_mutex_unlock(&g->mu);
    fn(ctx, v, n);
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < n; i++) v[i]->done = 1;
    g->leading = 0;
    pthread_cond_broadcast(&g->cv);
  }
  pthread_mutex_unlock(&g->mu);
}
