/* c_op_worker.c: a worker binary of a test's own (t0075): weft_main with two
 * C ops, `stamp` (writes pid and a counter as outputs), `nap` (the same after
 * 20 ms) and `boom` (fails). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "weft.h"

static int calls;

static int stamp(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  char text[64];
  snprintf(text, sizeof text, "%ld", (long)getpid());
  int rc = weft_op_ctx_set_output(ctx, "pid", text);
  snprintf(text, sizeof text, "%d", ++calls);
  if (!rc) rc = weft_op_ctx_set_output(ctx, "calls", text);
  if (rc) return weft_error_set(err, rc, "cannot set the outputs");
  weft_op_ctx_log(ctx, "info", "stamped in-process");
  const char *log = getenv("C_OP_LOG"); /* one line per call: the test counts */
  FILE *f = log ? fopen(log, "a") : NULL;
  if (f) {
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
  }
  return 0;
}

/* 20 ms, so that a batch of them is still running when the test kills
 * its worker */
static int nap(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  (void)err;
  usleep(20 * 1000);
  return stamp(ctx, NULL, err);
}

static int boom(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)ctx;
  (void)userdata;
  return weft_error_set(err, WEFT_EINVALID, "boom: this op always fails");
}

int main(int argc, char **argv) {
  if (weft_register_c_op("stamp", stamp, NULL) || weft_register_c_op("boom", boom, NULL) ||
      weft_register_c_op("nap", nap, NULL)) {
    fprintf(stderr, "c_op_worker: cannot register the ops\n");
    return 1;
  }
  return weft_main(argc, argv);
}
