/* noop_worker.c: bench/queue's worker binary: weft with a `noop` C op
 * registered, so `noop_worker worker ...` runs it in-process (weft_main). */
#include <stdio.h>

#include "weft.h"

static int noop(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)ctx;
  (void)userdata;
  (void)err;
  return 0;
}

int main(int argc, char **argv) {
  if (weft_register_c_op("noop", noop, NULL)) {
    fprintf(stderr, "noop_worker: cannot register the noop op\n");
    return 1;
  }
  return weft_main(argc, argv);
}
