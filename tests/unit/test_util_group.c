/* test_util_group.c: group commit for threads (util/group.h): callers that
 * queue while a round runs are done together in the next, each once, and
 * rounds never overlap. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "test.h"
#include "util/group.h"

struct item {
  struct weft_group_item gi;
  int seen;
};

static struct weft_group g;
static atomic_int in_round, overlapped;
static int n_rounds, round_size[8];

static size_t queued(void) {
  size_t n = 0;
  pthread_mutex_lock(&g.mu);
  for (struct weft_group_item *x = g.head; x; x = x->next) n++;
  pthread_mutex_unlock(&g.mu);
  return n;
}

/* The first round holds on until three more callers wait behind it (at
 * most 10 s), so the second takes them all at once. */
static void round_fn(void *ctx, struct weft_group_item **v, size_t n) {
  (void)ctx;
  if (atomic_fetch_add(&in_round, 1)) atomic_store(&overlapped, 1);
  if (n_rounds == 0)
    for (int i = 0; i < 10000 && queued() < 3; i++) nanosleep(&(struct timespec){0, 1000000}, NULL);
  for (size_t i = 0; i < n; i++) ((struct item *)v[i])->seen++;
  if (n_rounds < 8) round_size[n_rounds] = (int)n;
  n_rounds++;
  atomic_fetch_sub(&in_round, 1);
}

static void *caller(void *arg) {
  weft_group_run(&g, &((struct item *)arg)->gi, round_fn, NULL);
  return NULL;
}

TEST(callers_queued_during_a_round_share_the_next) {
  struct item items[4] = {0};
  pthread_t t[4];
  weft_group_init(&g);
  ASSERT(pthread_create(&t[0], NULL, caller, &items[0]) == 0);
  /* The first leads alone: wait until its round has begun. */
  for (int i = 0; i < 10000 && !atomic_load(&in_round); i++)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  ASSERT(atomic_load(&in_round) == 1);
  for (int i = 1; i < 4; i++) ASSERT(pthread_create(&t[i], NULL, caller, &items[i]) == 0);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  ASSERT_EQ(n_rounds, 2);
  ASSERT_EQ(round_size[0], 1);
  ASSERT_EQ(round_size[1], 3);
  for (int i = 0; i < 4; i++) ASSERT_EQ(items[i].seen, 1);
  ASSERT_EQ(atomic_load(&overlapped), 0);
  ASSERT(g.head == NULL && g.tail == NULL && !g.leading);
  /* Alone, a caller is a round of one at once. */
  struct item lone = {0};
  weft_group_run(&g, &lone.gi, round_fn, NULL);
  ASSERT_EQ(lone.seen, 1);
  ASSERT_EQ(n_rounds, 3);
  ASSERT_EQ(round_size[2], 1);
  weft_group_release(&g);
  return 0;
}

TEST_MAIN(TEST_ENTRY(callers_queued_during_a_round_share_the_next))
