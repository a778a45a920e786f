/* test_queue_ack_plan.c: how a worker acks the messages it settled in one
 * group (worker_settle.c weft__wk_ack_plan): one basic.ack multiple=true
 * only over tags below every delivery it still holds, one ack each above. */
#include <stdint.h>

#include "queue/worker_int.h"
#include "test.h"

TEST(all_settled_one_multiple_ack) {
  uint64_t tags[] = {7, 5, 6}, upto = 0;
  ASSERT_EQ(weft__wk_ack_plan(tags, 3, NULL, 0, &upto), 0);
  ASSERT_EQ(upto, 7);
  return 0;
}

TEST(a_held_delivery_splits_the_group) {
  /* 4 is still running: a multiple ack up to 5 or 6 would settle it too */
  uint64_t tags[] = {6, 2, 3, 5}, others[] = {9, 4}, upto = 0;
  size_t rest = weft__wk_ack_plan(tags, 4, others, 2, &upto);
  ASSERT_EQ(upto, 3);
  ASSERT_EQ(rest, 2);
  ASSERT_EQ(tags[0], 5);
  ASSERT_EQ(tags[1], 6);
  return 0;
}

TEST(one_below_is_a_single_ack) {
  uint64_t tags[] = {8, 3}, others[] = {4}, upto = 0;
  ASSERT_EQ(weft__wk_ack_plan(tags, 2, others, 1, &upto), 2);
  ASSERT_EQ(upto, 0);
  ASSERT_EQ(tags[0], 3);
  ASSERT_EQ(tags[1], 8);
  return 0;
}

TEST(none_below_and_empty) {
  uint64_t tags[] = {10, 11}, others[] = {1}, upto = 99;
  ASSERT_EQ(weft__wk_ack_plan(tags, 2, others, 1, &upto), 2);
  ASSERT_EQ(upto, 0);
  ASSERT_EQ(weft__wk_ack_plan(tags, 0, others, 1, &upto), 0);
  ASSERT_EQ(upto, 0);
  return 0;
}

TEST_MAIN(TEST_ENTRY(all_settled_one_multiple_ack) TEST_ENTRY(a_held_delivery_splits_the_group)
          TEST_ENTRY(one_below_is_a_single_ack) TEST_ENTRY(none_below_and_empty))
