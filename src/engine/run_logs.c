/* run_logs.c: compute logs in a remote artifact store (S3): the new bytes of
 * running steps' logs go up as chunks every second, the whole log at the end.
 *
 * Keys, for a log KEY = RUN/STEP/ATTEMPT/stdout.log:
 *   KEY.chunks/OFFSET   bytes [OFFSET, next chunk's OFFSET) while it runs,
 *                       OFFSET zero-padded so listing order is log order
 *   KEY                 the whole log, once the attempt ended; its chunks are
 *                       then deleted
 * A reader takes KEY when it exists, else concatenates the chunks
 * (weft_artifacts_read_log). With the local filesystem store none of this
 * runs: the logs already sit in the work folder. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine_int.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

#define LIVE_LOG_MS 1000
#define CHUNK_MAX (4 << 20)

static const char *const log_names[2] = {"stdout.log", "stderr.log"};

int coord_logs_remote(const struct coord *c) {
  return strcmp(c->inst->artifacts->m->name, "fs") != 0;
}

/* Copies bytes [from, from + len) of src into a fresh file dst. */
static int copy_range(const char *src, int64_t from, size_t len, const char *dst,
                      weft_error *err) {
  char *buf = malloc(len ? len : 1);
  int in = open(src, O_RDONLY | O_CLOEXEC), rc = WEFT_OK;
  ssize_t got = in >= 0 && buf ? pread(in, buf, len, (off_t)from) : -1;
  if (got < 0)
    rc = weft_error_set(err, WEFT_EIO, "cannot read %s", src);
  else
    rc = weft_fs_write_atomic(dst, buf, (size_t)got, 0, err);
  if (in >= 0) close(in);
  free(buf);
  return rc;
}

/* Uploads what step i's logs gained since the last call. Best effort: a
 * failure is logged once per attempt as a warning event; the step goes on. */
static void upload_new_bytes(struct coord *c, size_t i) {
  const struct weft_plan_step *ps = &c->plan.steps[i];
  for (int k = 0; k < 2; k++) {
    weft_error e = WEFT_ERROR_INIT;
    char *file = weft_str_printf("%s/%s", c->dirs[i], log_names[k]);
    char *tmp = weft_str_printf("%s/.%s.chunk", c->dirs[i], log_names[k]);
    struct stat st;
    if (!file || !tmp || stat(file, &st) || st.st_size <= c->log_sent[i][k]) goto next;
    int64_t from = c->log_sent[i][k];
    size_t len = (size_t)(st.st_size - from);
    if (len > CHUNK_MAX) len = CHUNK_MAX;
    char *key = weft_str_printf("%s/%s/%d/%s.chunks/%012lld", c->run.id, ps->name,
                                ps->attempt, log_names[k], (long long)from);
    int rc = key ? copy_range(file, from, len, tmp, &e)
                 : weft_error_set(&e, WEFT_ENOMEM, "out of memory");
    if (!rc) rc = weft_artifacts_put(c->inst->artifacts, key, tmp, &e);
    unlink(tmp);
    free(key);
    if (!rc) {
      c->log_sent[i][k] = from + (int64_t)len;
    } else if (!c->log_warned[i]) {
      c->log_warned[i] = 1;
      coord_event(c, ps->name, "log",
                  json_pack("{s:i, s:s, s:s+}", "attempt", ps->attempt, "level", "warning",
                            "msg", "live log upload failed: ", e.msg));
    }
  next:
    free(file);
    free(tmp);
  }
}

void coord_upload_live_logs(struct coord *c) {
  int64_t now = weft_clock_mono_ms();
  if (!coord_logs_remote(c) || now < c->next_live_log_ms) return;
  c->next_live_log_ms = now + LIVE_LOG_MS;
  for (size_t i = 0; i < c->plan.n; i++)
    if (c->plan.steps[i].status == WEFT_STEP_RUNNING && c->dirs[i]) upload_new_bytes(c, i);
}

void coord_reset_live_logs(struct coord *c, size_t i) {
  c->log_sent[i][0] = c->log_sent[i][1] = 0;
  c->log_warned[i] = 0;
}

void coord_upload_final_logs(struct coord *c, size_t i, json_t *payload) {
  if (!payload || !coord_logs_remote(c)) return;
  const struct weft_plan_step *ps = &c->plan.steps[i];
  for (int k = 0; k < 2; k++) {
    weft_error e = WEFT_ERROR_INIT;
    char *file = weft_str_printf("%s/%s", c->dirs[i], log_names[k]);
    char *key = weft_str_printf("%s/%s/%d/%s", c->run.id, ps->name, ps->attempt,
                                log_names[k]);
    char *chunks = key ? weft_str_printf("%s.chunks/", key) : NULL;
    struct stat st;
    if (file && key && !stat(file, &st)) {
      if (weft_artifacts_put(c->inst->artifacts, key, file, &e)) {
        json_object_set_new(payload, "log_upload_error", json_string(e.msg));
      } else if (chunks) {
        /* The whole log is up: its chunks are redundant now. */
        struct weft_artifact_list l = {0};
        if (!weft_artifacts_list(c->inst->artifacts, chunks, &l, &e))
          for (size_t j = 0; j < l.n; j++) weft_artifacts_delete(c->inst->artifacts, l.v[j], &e);
        weft_artifact_list_release(&l);
      }
    }
    free(file);
    free(key);
    free(chunks);
  }
}

int weft_artifacts_read_log(struct weft_artifacts *a, const char *key, const char *local_path,
                            weft_error *err) {
  int rc = weft_artifacts_get(a, key, local_path, err);
  if (rc != WEFT_ENOTFOUND) return rc;
  char *prefix = weft_str_printf("%s.chunks/", key);
  char *part = weft_str_printf("%s.part", local_path);
  char *tmp = weft_str_printf("%s.tmp", local_path);
  struct weft_artifact_list l = {0};
  FILE *out = NULL;
  if (!prefix || !part || !tmp) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  weft_error lerr = WEFT_ERROR_INIT;
  if ((rc = weft_artifacts_list(a, prefix, &l, &lerr))) {
    *err = lerr;
    goto done;
  }
  if (!l.n) { /* neither the log nor a chunk: keep get's ENOTFOUND */
    rc = WEFT_ENOTFOUND;
    goto done;
  }
  if (!(out = fopen(tmp, "wb"))) {
    rc = weft_error_set(err, WEFT_EIO, "cannot write %s", tmp);
    goto done;
  }
  for (size_t j = 0; j < l.n && !rc; j++) {
    struct weft_buf b = WEFT_BUF_INIT;
    rc = weft_artifacts_get(a, l.v[j], part, err);
    if (!rc) rc = weft_fs_read_file(part, &b, err);
    if (!rc && fwrite(b.ptr, 1, b.len, out) != b.len)
      rc = weft_error_set(err, WEFT_EIO, "cannot write %s", tmp);
    weft_buf_release(&b);
    unlink(part);
  }
  if (fclose(out) && !rc) rc = weft_error_set(err, WEFT_EIO, "cannot write %s", tmp);
  if (!rc && rename(tmp, local_path)) rc = weft_error_set(err, WEFT_EIO, "cannot write %s", local_path);
  if (rc) unlink(tmp);
done:
  weft_artifact_list_release(&l);
  free(prefix);
  free(part);
  free(tmp);
  return rc;
}
