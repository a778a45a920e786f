/* queue_bench.c: the run queue's admission throughput: N QUEUED runs are
 * written straight into the store, then timed: one dequeue turn that admits
 * (claims) them all with a spawn that does nothing, and the explain that
 * `weft run list` does; with max_concurrent_runs M, turns until all went.
 * Usage: queue_bench HOME N [M]   (HOME: a fresh instance folder) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/run_queue.h"
#include "util/clock.h"

static int no_spawn(void *data, struct weft_instance *inst, const struct weft_run_row *run,
                    const char *in_run, weft_error *err) {
  (void)inst, (void)run, (void)in_run, (void)err;
  ++*(size_t *)data;
  return WEFT_OK;
}

/* Marks every claimed (admitted) run SUCCESS, as if it ran. */
static int finish_admitted(struct weft_instance *inst, weft_error *err) {
  struct weft_kv_list k = {0};
  int rc = weft_store_kv_list(inst->store, "claim/", NULL, 0, &k, err);
  if (!rc) rc = weft_store_begin(inst->store, err);
  for (size_t i = 0; !rc && i < k.n; i++) {
    struct weft_run_row r = {0};
    if (!(rc = weft_store_run_get(inst->store, k.v[i].key + 6, &r, err)) && r.status == WEFT_RUN_QUEUED) {
      r.status = WEFT_RUN_SUCCESS;
      r.started_ms = r.ended_ms = weft_clock_wall_ms();
      rc = weft_store_run_update(inst->store, &r, err);
    }
    weft_run_row_release(&r);
  }
  if (!rc) rc = weft_store_commit(inst->store, err);
  weft_kv_list_release(&k);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: queue_bench HOME N [M]\n");
    return 2;
  }
  int n = atoi(argv[2]), m = argc > 3 ? atoi(argv[3]) : 0;
  struct weft_instance *inst = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_instance_open(argv[1], &inst, &err)) goto fail;
  int64_t now = weft_clock_wall_ms();
  double t0 = weft_clock_mono_s();
  if (weft_store_begin(inst->store, &err)) goto fail;
  for (int i = 0; i < n; i++) {
    char tags[96];
    snprintf(tags, sizeof tags, "{\"weft/priority\":\"%d\",\"team\":\"t%d\"}", i % 3, i % 7);
    struct weft_run_row r = {0};
    r.id = weft_store_new_run_id();
    r.job = "bench";
    r.location = "bench";
    r.status = WEFT_RUN_QUEUED;
    r.run_config = "{}";
    r.tags = tags;
    r.root_run_id = r.id;
    r.created_ms = now + i;
    int rc = weft_store_run_create(inst->store, &r, &err);
    free(r.id);
    if (rc) goto fail;
  }
  if (weft_store_commit(inst->store, &err)) goto fail;
  double t1 = weft_clock_mono_s();
  struct weft_run_queue_config cfg = {.max_concurrent_runs = m};
  struct weft_run_queue_waits w = {0};
  if (weft_run_queue_explain(inst->store, &cfg, &w, &err)) goto fail;
  double t2 = weft_clock_mono_s();
  size_t admitted = 0, turns = 0;
  double busy = 0;
  while (admitted < (size_t)n) {
    size_t before = admitted;
    double a = weft_clock_mono_s();
    if (weft_run_queue_dequeue(inst, &cfg, weft_clock_wall_ms(), no_spawn, &admitted, NULL, &err))
      goto fail;
    busy += weft_clock_mono_s() - a;
    turns++;
    if (admitted == before) {
      fprintf(stderr, "queue_bench: a turn admitted nothing\n");
      return 1;
    }
    if (m && finish_admitted(inst, &err)) goto fail;
  }
  printf("%-44s %10.1f ms\n", "queue 1 run each (one transaction)", (t1 - t0) * 1000);
  printf("%-44s %10.1f ms\n", "explain every queued run (weft run list)", (t2 - t1) * 1000);
  printf("%-44s %10.1f ms  (%zu turns, %.0f runs/s)\n",
         m ? "admit all, max_concurrent_runs M" : "admit all in one turn", busy * 1000, turns,
         n / busy);
  weft_run_queue_waits_release(&w);
  weft_instance_close(inst);
  return 0;
fail:
  fprintf(stderr, "queue_bench: %s\n", err.msg);
  return 1;
}
