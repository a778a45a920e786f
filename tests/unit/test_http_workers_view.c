/* test_http_workers_view.c: how workers and queue depths are shown (API and
 * CLI alike): states, the unacked estimate, documents, hidden passwords. */
#include <jansson.h>
#include <stdlib.h>

#include "http/workers_view.h"
#include "test.h"

static char *queues_a[] = {"default"}, *queues_b[] = {"gpu", "default"};
static struct weft_worker_running steps3[3] = {
    {"r1/a/1/x", "r1", "a", 1, 10}, {"r1/b/1/y", "r1", "b", 1, 11}, {"r2/c/2/z", "r2", "c", 2, 12}};

/* a: running on default with 2 steps; b: on gpu,default with 1; c: lost
 * with 3; d: stopped. */
static void fixture(struct weft_worker_info w[4], struct weft_worker_list *l) {
  memset(w, 0, 4 * sizeof *w);
  w[0] = (struct weft_worker_info){.id = "a", .host = "h1", .state = "running", .pid = 7,
                                   .queues = queues_a, .n_queues = 1, .concurrency = 4,
                                   .running = steps3, .n_running = 2, .heartbeat_ms = 1000};
  w[1] = (struct weft_worker_info){.id = "b", .state = "stopping", .queues = queues_b,
                                   .n_queues = 2, .running = steps3 + 2, .n_running = 1};
  w[2] = (struct weft_worker_info){.id = "c", .state = "running", .lost = 1, .queues = queues_a,
                                   .n_queues = 1, .running = steps3, .n_running = 3};
  w[3] = (struct weft_worker_info){.id = "d", .state = "stopped", .queues = queues_a,
                                   .n_queues = 1};
  l->v = w;
  l->n = 4;
}

TEST(states) {
  struct weft_worker_info w[4];
  struct weft_worker_list l;
  fixture(w, &l);
  ASSERT_STR_EQ(weft_worker_shown_state(&w[0]), "running");
  ASSERT_STR_EQ(weft_worker_shown_state(&w[1]), "stopping");
  ASSERT_STR_EQ(weft_worker_shown_state(&w[2]), "lost");
  ASSERT_STR_EQ(weft_worker_shown_state(&w[3]), "stopped");
  ASSERT(!weft_worker_stopped(&w[0]) && !weft_worker_stopped(&w[2]));
  ASSERT(weft_worker_stopped(&w[3]));
  w[0].state = NULL;
  ASSERT_STR_EQ(weft_worker_shown_state(&w[0]), "unknown");
  return 0;
}

TEST(unacked_counts_live_workers_by_first_queue) {
  struct weft_worker_info w[4];
  struct weft_worker_list l;
  fixture(w, &l);
  ASSERT_EQ(weft_queue_unacked(&l, "default"), 2); /* not the lost worker's 3 */
  ASSERT_EQ(weft_queue_unacked(&l, "gpu"), 1);     /* b's first queue */
  ASSERT_EQ(weft_queue_unacked(&l, "other"), 0);
  ASSERT_EQ(weft_queue_unacked(&l, "weft.dead"), 0);
  struct weft_worker_list empty = {0};
  ASSERT_EQ(weft_queue_unacked(&empty, "default"), 0);
  return 0;
}

TEST(worker_document) {
  struct weft_worker_info w[4];
  struct weft_worker_list l;
  fixture(w, &l);
  json_t *o = weft_worker_view_json(&w[0], 3500);
  ASSERT(o);
  char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_CONTAINS(text, "\"heartbeat_age_ms\":2500");
  ASSERT_CONTAINS(text, "\"queues\":[\"default\"]");
  ASSERT_CONTAINS(text, "\"state\":\"running\",\"steps_done\":0");
  ASSERT_CONTAINS(text, "{\"attempt\":1,\"attempt_id\":\"r1/b/1/y\",\"run_id\":\"r1\","
                        "\"started_ms\":11,\"step\":\"b\"}");
  ASSERT_CONTAINS(text, "\"broker\":null");
  free(text);
  json_decref(o);
  o = weft_worker_view_json(&w[2], 0);
  ASSERT(o && json_is_true(json_object_get(o, "lost")));
  ASSERT_STR_EQ(json_string_value(json_object_get(o, "state")), "lost");
  json_decref(o);
  return 0;
}

TEST(queue_document) {
  struct weft_worker_info w[4];
  struct weft_worker_list l;
  fixture(w, &l);
  struct weft_queue_depth d = {"default", 5, 1, 1}, dead = {"weft.dead", 2, 0, 0};
  json_t *o = weft_queue_view_json(&d, &l);
  char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_STR_EQ(text, "{\"amqp_queue\":\"weft.step.default\",\"consumers\":1,"
                      "\"dead_letters\":false,\"exists\":true,\"name\":\"default\","
                      "\"ready\":5,\"unacked\":2}");
  free(text);
  json_decref(o);
  o = weft_queue_view_json(&dead, &l);
  text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_STR_EQ(text, "{\"amqp_queue\":\"weft.dead\",\"consumers\":0,\"dead_letters\":true,"
                      "\"exists\":false,\"name\":\"weft.dead\",\"ready\":2,\"unacked\":0}");
  free(text);
  json_decref(o);
  return 0;
}

TEST(urls_lose_their_password) {
  static const char *const cases[][2] = {
      {"amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"},
      {"amqp://u:p%40ss@host/vh", "amqp://u:***@host/vh"},
      {"amqp://user@host:5672/", "amqp://user@host:5672/"},
      {"amqp://host:5672/", "amqp://host:5672/"},
      {"amqp://host", "amqp://host"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *s = weft_url_without_password(cases[i][0]);
    ASSERT_STR_EQ(s, cases[i][1]);
    free(s);
  }
  return 0;
}

TEST_MAIN(TEST_ENTRY(states) TEST_ENTRY(unacked_counts_live_workers_by_first_queue)
              TEST_ENTRY(worker_document) TEST_ENTRY(queue_document)
              TEST_ENTRY(urls_lose_their_password))
