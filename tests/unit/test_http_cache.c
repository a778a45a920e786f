/* test_http_cache.c: the HTTP server's in-memory pieces: the two-generation
 * cache of ended runs (hits, replacement, bounded size) and the step
 * duration histogram fed from events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "test.h"

TEST(cache_hits_and_replaces) {
  struct http_cache c;
  http_cache_init(&c, 1 << 20);
  size_t len = 0;
  ASSERT(http_cache_get(&c, "run1", &len) == NULL);
  http_cache_put(&c, "run1", "{\"a\":1}", 7);
  char *t = http_cache_get(&c, "run1", &len);
  ASSERT_STR_EQ(t, "{\"a\":1}");
  ASSERT_EQ(len, 7);
  free(t);
  http_cache_put(&c, "run1", "{\"a\":22}", 8);
  t = http_cache_get(&c, "run1", &len);
  ASSERT_STR_EQ(t, "{\"a\":22}");
  ASSERT_EQ(len, 8);
  free(t);
  ASSERT_EQ(c.hits, 2);
  ASSERT_EQ(c.misses, 1);
  http_cache_release(&c);
  return 0;
}

TEST(cache_is_bounded) {
  struct http_cache c;
  char key[32], text[1024];
  size_t len;
  memset(text, 'x', sizeof text - 1);
  text[sizeof text - 1] = '\0';
  http_cache_init(&c, 64 * 1024);
  /* 1,000 entries of 1 KiB into 64 KiB: the oldest are dropped. */
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof key, "run%d", i);
    http_cache_put(&c, key, text, sizeof text - 1);
  }
  ASSERT(c.young_bytes <= c.max_bytes / 2);
  char *t = http_cache_get(&c, "run0", &len);
  ASSERT(t == NULL);
  t = http_cache_get(&c, "run999", &len);
  ASSERT(t != NULL);
  ASSERT_EQ(len, sizeof text - 1);
  free(t);
  /* A hit in the old generation survives the next turnover. */
  size_t in_old = 0;
  for (int i = 990; i >= 0 && !in_old; i--) {
    snprintf(key, sizeof key, "run%d", i);
    if (!weft_map_get(&c.young, key) && weft_map_get(&c.old, key)) in_old = (size_t)i + 1;
  }
  ASSERT(in_old);
  snprintf(key, sizeof key, "run%zu", in_old - 1);
  free(http_cache_get(&c, key, &len));
  ASSERT(weft_map_get(&c.young, key) != NULL);
  http_cache_release(&c);
  return 0;
}

static void feed(struct http_metrics *m, const char *type, const char *payload) {
  struct weft_event_row ev = {1, "r", "s", (char *)type, 0, (char *)payload};
  http_metrics_event(m, &ev);
}

TEST(histogram_from_events) {
  struct http_metrics m;
  http_metrics_init(&m);
  feed(&m, "step_succeeded", "{\"attempt\":1,\"duration_ms\":3}");      /* <= .005 */
  feed(&m, "step_failed", "{\"attempt\":1,\"duration_ms\":700}");       /* <= 1 */
  feed(&m, "step_succeeded", "{\"attempt\":1,\"duration_ms\":600000}"); /* +Inf only */
  feed(&m, "step_started", "{\"attempt\":1,\"duration_ms\":5}");        /* not a duration */
  feed(&m, "step_succeeded", "not json");
  ASSERT_EQ(m.count, 3);
  ASSERT_EQ(m.buckets[0], 1);
  ASSERT_EQ(m.buckets[5], 1);
  uint64_t in_buckets = 0;
  for (int i = 0; i < HTTP_N_BUCKETS; i++) in_buckets += m.buckets[i];
  ASSERT_EQ(in_buckets, 2);
  ASSERT(m.sum > 600.7 && m.sum < 600.71);
  http_metrics_release(&m);
  return 0;
}

TEST_MAIN(TEST_ENTRY(cache_hits_and_replaces) TEST_ENTRY(cache_is_bounded)
              TEST_ENTRY(histogram_from_events))
