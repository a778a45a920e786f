/* http_fixture.c: fills a store with N finished runs for bench/http (5 steps
 * and 18 events each, as a real run writes them), through the store API.
 * Usage: bench_http_fixture STORE_URL N   e.g. sqlite:/tmp/home/weft.db 10000 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/str.h"

#define RUNS_PER_TX 500

static const char *const jobs[] = {"arithmetic", "sales_etl", "fanout"};
static const char *const steps[] = {"add_x", "add_one_a", "split", "add_one_b", "total"};

static int add_event(struct weft_store *s, const char *run, const char *step, const char *type,
                     int64_t ts, const char *payload, weft_error *err) {
  struct weft_event_row ev = {0, (char *)run, (char *)step, (char *)type, ts, (char *)payload};
  return weft_store_event_append(s, &ev, 1, err);
}

/* One run of job j that started at t0 (ms), with its steps and events. */
static int add_run(struct weft_store *s, long i, int64_t t0, weft_error *err) {
  char *id = weft_store_new_run_id();
  const char *job = jobs[i % 3];
  int failed = i % 10 == 7, canceled = i % 50 == 13;
  enum weft_run_status st = canceled ? WEFT_RUN_CANCELED : failed ? WEFT_RUN_FAILURE
                                                                   : WEFT_RUN_SUCCESS;
  struct weft_run_row r = {0};
  char payload[512];
  int rc;
  if (!id) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  r.id = id;
  r.job = (char *)job;
  r.location = (char *)job;
  r.status = st;
  r.run_config = "{\"ops\":{\"add_x\":{\"config\":{\"x\":5},\"inputs\":{\"num\":10}}}}";
  r.tags = "{\"team\":\"bench\"}";
  r.root_run_id = id;
  r.message = failed ? "1 step failed: total" : canceled ? "canceled by 'weft run cancel'" : NULL;
  r.created_ms = t0;
  r.started_ms = t0 + 30;
  r.ended_ms = t0 + 30 + 5 * 12;
  r.coordinator = "bench:1:1";
  r.heartbeat_ms = r.ended_ms;
  if ((rc = weft_store_run_create(s, &r, err))) goto done;
  snprintf(payload, sizeof payload, "{\"job\":\"%s\",\"location\":\"%s\",\"tags\":{\"team\":\"bench\"}}",
           job, job);
  if ((rc = add_event(s, id, NULL, "run_queued", t0, payload, err))) goto done;
  if ((rc = add_event(s, id, NULL, "run_started", t0 + 30,
                      "{\"coordinator\":\"bench:1:1\",\"executor\":\"multiprocess\","
                      "\"max_concurrent\":2,\"steps\":5,\"plan\":[\"add_x\",\"add_one_a\","
                      "\"split\",\"add_one_b\",\"total\"],\"reused\":[]}",
                      err)))
    goto done;
  for (int k = 0; k < 5; k++) {
    int64_t ts = t0 + 30 + k * 12;
    int fail = failed && k == 4;
    struct weft_step_row sr = {id, (char *)steps[k], 1,
                               fail ? WEFT_STEP_FAILED : WEFT_STEP_SUCCEEDED, ts, ts + 10,
                               10000 + k, fail ? "exited with status 1" : NULL, "bench:1:1"};
    if ((rc = weft_store_step_put(s, &sr, err))) goto done;
    snprintf(payload, sizeof payload,
             "{\"attempt\":1,\"pid\":%d,\"dir\":\"/bench/runs/%s/%s/1\",\"stdout\":\"/bench/runs/"
             "%s/%s/1/stdout.log\",\"stderr\":\"/bench/runs/%s/%s/1/stderr.log\"}",
             10000 + k, id, steps[k], id, steps[k], id, steps[k]);
    if ((rc = add_event(s, id, steps[k], "step_started", ts, payload, err))) goto done;
    if (!fail) {
      snprintf(payload, sizeof payload,
               "{\"attempt\":1,\"output\":\"result\",\"type\":\"int\",\"key\":\"%s/%s/result\","
               "\"bytes\":3,\"value\":%d}", id, steps[k], 15 + k);
      if ((rc = add_event(s, id, steps[k], "step_output", ts + 10, payload, err))) goto done;
    }
    snprintf(payload, sizeof payload,
             "{\"attempt\":1,\"duration_ms\":10,\"stdout\":\"/bench/runs/%s/%s/1/stdout.log\","
             "\"stderr\":\"/bench/runs/%s/%s/1/stderr.log\",\"stdout_bytes\":0,"
             "\"stderr_bytes\":0%s}", id, steps[k], id, steps[k],
             fail ? ",\"message\":\"exited with status 1\",\"exit_code\":1" : "");
    if ((rc = add_event(s, id, steps[k], fail ? "step_failed" : "step_succeeded", ts + 10,
                        payload, err)))
      goto done;
  }
  snprintf(payload, sizeof payload, "{\"duration_ms\":60%s}",
           failed ? ",\"message\":\"1 step failed: total\",\"failed\":[\"total\"]" : "");
  rc = add_event(s, id, NULL, canceled ? "run_canceled" : failed ? "run_failure" : "run_success",
                 r.ended_ms, payload, err);
done:
  free(id);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s STORE_URL N\n", argv[0]);
    return 2;
  }
  long n = strtol(argv[2], NULL, 10);
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_store_open(argv[1], &s, &err);
  /* A minute apart, ending now-ish: the newest first, as the API lists them. */
  int64_t t0 = 1700000000000;
  for (long i = 0; !rc && i < n; i += RUNS_PER_TX) {
    if ((rc = weft_store_begin(s, &err))) break;
    for (long k = i; !rc && k < i + RUNS_PER_TX && k < n; k++) rc = add_run(s, k, t0 + k * 60000, &err);
    if (rc)
      weft_store_rollback(s);
    else
      rc = weft_store_commit(s, &err);
  }
  if (rc) fprintf(stderr, "bench_http_fixture: %s\n", err.msg);
  weft_store_close(s);
  return rc ? 1 : 0;
}
