/* embed_answer.c: the smallest program that embeds weft, built by t0086 and
 * docs/install.md against an INSTALLED libweft (pkg-config weft): two C ops,
 * `answer` (outputs 42) and `twice` (doubles its input x), then weft_main. */
#include <stdio.h>
#include <stdlib.h>

#include "weft.h"

static int answer(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  weft_op_ctx_log(ctx, "info", "computing the answer");
  if (weft_op_ctx_set_output(ctx, "result", "42"))
    return weft_error_set(err, WEFT_EINVALID, "answer: cannot set the output");
  return 0;
}

static int twice(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  (void)userdata;
  const char *x = weft_op_ctx_input_json(ctx, "x");
  if (!x) return weft_error_set(err, WEFT_EINVALID, "twice: no input x");
  char text[32];
  snprintf(text, sizeof text, "%ld", 2 * strtol(x, NULL, 10));
  if (weft_op_ctx_set_output(ctx, "result", text))
    return weft_error_set(err, WEFT_EINVALID, "twice: cannot set the output");
  return 0;
}

int main(int argc, char **argv) {
  if (weft_register_c_op("answer", answer, NULL) || weft_register_c_op("twice", twice, NULL)) {
    fprintf(stderr, "embed_answer: cannot register the ops\n");
    return 1;
  }
  return weft_main(argc, argv);
}
