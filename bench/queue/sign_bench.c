/* sign_bench.c: what the HMAC on broker messages costs (src/queue/signing.h):
 * sign + verify of a step message as the queue executor sends one, and of a
 * 64-step batch, in ns per message and per step. Prints one line each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/signing.h"
#include "util/buf.h"

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* CPU time: the machine may be busy */
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* A step message of the size the executor publishes for a small op. */
static const char step[] =
    "{\"v\":1,\"attempt_id\":\"0a1b2c3d4e5f/fan_0042/1/9f8e7d6c5b4a3921\",\"run_id\":"
    "\"0a1b2c3d4e5f\",\"job\":\"fanout\",\"step\":\"fan_0042\",\"attempt\":1,\"op\":{\"name\":"
    "\"noop\",\"inputs\":[],\"outputs\":[],\"timeout_s\":0,\"env\":{},\"queue\":\"default\","
    "\"run\":\"true\"},\"cwd\":\"/home/weft/bench/loc\",\"config\":{},\"inputs\":{},"
    "\"path_inputs\":{},\"loc_env\":{},\"path_prefix\":null,\"kill_grace_s\":5.0,\"reply_to\":"
    "\"weft.reply.host.12345.0123456789abcdef\"}";

static double bench(const struct weft_qsig_key *k, const char *body, size_t len, int n) {
  char sig[WEFT_QSIG_MAX], why[WEFT_QSIG_WHY_MAX];
  int bad = 0;
  double t0 = now_ns();
  for (int i = 0; i < n; i++) {
    weft_qsig_sign(k, "", "weft.step.default", body, len, sig);
    bad += !weft_qsig_verify(k, "", "weft.step.default", body, len, sig, why);
  }
  double per = (now_ns() - t0) / n;
  if (bad) {
    fprintf(stderr, "sign_bench: %d signatures did not verify\n", bad);
    exit(1);
  }
  return per;
}

int main(void) {
  char dir[] = "/tmp/weft-sign-bench-XXXXXX", path[64];
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/queue.key", dir);
  weft_error e = WEFT_ERROR_INIT;
  struct weft_qsig_key *k = NULL;
  if (weft_qsig_key_create(path, &e) || weft_qsig_key_read(path, "bench", &k, &e)) {
    fprintf(stderr, "sign_bench: %s\n", e.msg);
    return 1;
  }
  unlink(path);
  rmdir(dir);
  /* A batch: "common" once, then 64 steps' own fields. */
  struct weft_buf b = WEFT_BUF_INIT;
  weft_buf_adds(&b, "{\"v\":1,\"common\":");
  weft_buf_adds(&b, step);
  weft_buf_adds(&b, ",\"steps\":[");
  for (int i = 0; i < 64; i++)
    weft_buf_addf(&b, "%s{\"attempt_id\":\"0a1b2c3d4e5f/fan_%04d/1/9f8e7d6c5b4a39%02d\","
                      "\"step\":\"fan_%04d\"}", i ? "," : "", i, i, i);
  weft_buf_adds(&b, "]}");
  bench(k, step, sizeof step - 1, 20000); /* warm up */
  double one = bench(k, step, sizeof step - 1, 200000);
  double batch = bench(k, b.ptr, b.len, 20000);
  printf("HMAC-SHA-512-256 sign + verify (CPU time): step message (%zu B) %.2f us; "
         "64-step batch (%zu B) %.2f us = %.3f us per step\n",
         sizeof step - 1, one / 1000, b.len, batch / 1000, batch / 64000);
  weft_buf_release(&b);
  weft_qsig_key_free(k);
  return 0;
}
