/* worker_files.c: a worker step's files on the artifact store: path inputs
 * fetched, logs (live chunks while it runs, then whole) and outputs uploaded. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "containers/containers.h"
#include "engine/secrets.h"
#include "queue/worker_int.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/str.h"

void weft__wk_log(struct worker *w, const char *fmt, ...) {
  /* Text lines keep their bytes: "TIME weft worker ID: message". */
  char prefix[300];
  snprintf(prefix, sizeof prefix, "weft worker %s: ", w->id);
  struct weft_log_fields f = {.worker = w->id, .text_prefix = prefix, .text_time = 1};
  va_list ap;
  va_start(ap, fmt);
  weft_vlog(WEFT_LOG_INFO, &f, fmt, ap);
  va_end(ap);
}

static char *attempt_key(const struct slot *s, const char *rest) {
  return weft_str_printf("%s/%s/%d/%s", s->run_id, s->step, s->attempt, rest);
}

static const char *const log_names[2] = {"stdout", "stderr"};

/* Uploads what slot s's logs gained as chunks KEY.chunks/OFFSET, the layout
 * engine/run_logs.c reads while a step runs (weft_artifacts_read_log). */
static void upload_new_bytes(struct worker *w, struct slot *s) {
  for (int k = 0; k < 2; k++) {
    char *file = weft_str_printf("%s/%s.log", s->work_dir, log_names[k]);
    char *tmp = weft_str_printf("%s/.%s.chunk", s->work_dir, log_names[k]);
    char *rest = NULL, *key = NULL, *buf = NULL;
    struct stat st;
    if (!file || !tmp || stat(file, &st) || st.st_size <= s->log_sent[k]) goto next;
    size_t len = (size_t)(st.st_size - s->log_sent[k]);
    if (len > CHUNK_MAX) len = CHUNK_MAX;
    rest = weft_str_printf("%s.log.chunks/%012lld", log_names[k], (long long)s->log_sent[k]);
    key = rest ? attempt_key(s, rest) : NULL;
    buf = malloc(len);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 && buf ? pread(fd, buf, len, (off_t)s->log_sent[k]) : -1;
    if (fd >= 0) close(fd);
    weft_error e = WEFT_ERROR_INIT;
    if (key && got > 0 && !weft_fs_write_atomic(tmp, buf, (size_t)got, 0, &e) &&
        !weft_artifacts_put(w->inst->artifacts, key, tmp, &e))
      s->log_sent[k] += got;
    unlink(tmp);
  next:
    free(file);
    free(tmp);
    free(rest);
    free(key);
    free(buf);
  }
}

void weft__wk_upload_live_logs(struct worker *w) {
  int64_t now = weft_clock_mono_ms();
  if (now < w->next_live_log_ms) return;
  w->next_live_log_ms = now + LIVE_LOG_MS;
  for (int i = 0; i < w->n_slots; i++)
    if (w->slots[i].used && w->slots[i].started && w->slots[i].work_dir)
      upload_new_bytes(w, &w->slots[i]);
}

/* The whole log is up: its live chunks are redundant now. */
static void drop_chunks(struct worker *w, const char *log_key) {
  char *prefix = weft_str_printf("%s.chunks/", log_key);
  struct weft_artifact_list l = {0};
  weft_error e = WEFT_ERROR_INIT;
  if (prefix && !weft_artifacts_list(w->inst->artifacts, prefix, &l, &e))
    for (size_t j = 0; j < l.n; j++) weft_artifacts_delete(w->inst->artifacts, l.v[j], &e);
  weft_artifact_list_release(&l);
  free(prefix);
}

/* Uploads the logs and path outputs of a finished step; returns the result
 * document (new reference). It leaves out what is 0, false, null or empty,
 * which the coordinator reads as such (executor_results.c): a notice of 64
 * C steps is parsed on the coordinator's one thread, member by member. */
json_t *weft__wk_result_doc(struct worker *w, struct slot *s, const struct weft_step_result *res) {
  json_t *r = json_pack("{s:b, s:i, s:s*, s:I, s:I}", "ok", res->ok, "exit_code",
                        res->exit_code, "message", res->message, "started_ms",
                        (json_int_t)res->started_ms, "ended_ms", (json_int_t)res->ended_ms);
  if (r && ((res->term_signal &&
             json_object_set_new(r, "term_signal", json_integer(res->term_signal))) ||
            (res->timed_out && json_object_set_new(r, "timed_out", json_true())) ||
            (res->canceled && json_object_set_new(r, "canceled", json_true())) ||
            (res->pid && json_object_set_new(r, "pid", json_integer((json_int_t)res->pid))) ||
            (json_array_size(s->events) && json_object_set(r, "events", s->events)))) {
    json_decref(r);
    r = NULL;
  }
  if (r && res->image)
    json_object_set_new(r, "container", json_pack("{s:s?, s:s, s:s?}", "id", res->container_id,
                                                  "image", res->image, "digest",
                                                  res->image_digest));
  json_t *logs = json_object(), *outs = json_object(), *pouts = json_object();
  for (int k = 0; r && !res->no_logs && k < 2; k++) {
    char *file = weft_str_printf("%s/%s.log", s->work_dir, log_names[k]);
    char *rest = weft_str_printf("%s.log", log_names[k]);
    char *key = rest ? attempt_key(s, rest) : NULL;
    weft_error e = WEFT_ERROR_INIT;
    struct stat st;
    /* An empty log is not stored: the coordinator makes it an empty file. */
    if (file && key && !stat(file, &st) && st.st_size > 0) {
      if (weft_artifacts_put(w->inst->artifacts, key, file, &e)) {
        weft__wk_log(w, "%s: cannot upload %s: %s", s->attempt_id, key, e.msg);
      } else {
        json_object_set_new(logs, log_names[k], json_string(key));
        if (s->log_sent[k]) drop_chunks(w, key);
      }
    }
    free(file);
    free(rest);
    free(key);
  }
  /* The executor read every output back (a C step's stay in memory): a
   * `path` output's value is its file, the others are their JSON value. */
  for (size_t k = 0; r && res->ok && k < s->def->n_outputs; k++) {
    const struct weft_port *port = &s->def->outputs[k];
    json_t *v = res->outputs ? json_object_get(res->outputs, port->name) : NULL;
    /* The lone implicit `result` left unwritten comes back null: it is
     * recorded as null, with no artifact (exec.h). */
    int unwritten = weft_op_output_is_lone_result(s->def, port) && json_is_null(v);
    if (!v || unwritten) continue;
    const char *file = json_string_value(v);
    if (port->type == WEFT_TYPE_PATH && file) {
      char *rest = weft_str_printf("outputs/%s", port->name);
      char *key = rest ? attempt_key(s, rest) : NULL;
      weft_error e = WEFT_ERROR_INIT;
      if (!key || weft_artifacts_put(w->inst->artifacts, key, file, &e)) {
        json_object_set_new(r, "ok", json_false());
        json_object_set_new(r, "message", json_string(e.msg[0] ? e.msg : "out of memory"));
      } else {
        json_object_set_new(pouts, port->name, json_string(key));
      }
      free(rest);
      free(key);
    } else {
      json_object_set(outs, port->name, v);
    }
  }
  /* The step's secrets never leave the worker in its events or message
   * (outputs are its data: they go as they are, as on the host). */
  if (r && (weft_secrets_mask_json(s->mask, json_object_get(r, "events")) ||
            weft_secrets_mask_json(s->mask, json_object_get(r, "message")))) {
    json_decref(r);
    r = NULL;
  }
  if (r) {
    if (json_object_size(logs)) json_object_set(r, "logs", logs);
    if (json_object_size(outs)) json_object_set(r, "outputs", outs);
    if (json_object_size(pouts)) json_object_set(r, "path_outputs", pouts);
  }
  json_decref(logs);
  json_decref(outs);
  json_decref(pouts);
  return r;
}

int weft__wk_prepare_inputs(struct worker *w, struct slot *s, json_t *msg, weft_error *err) {
  if (!json_object_size(json_object_get(msg, "path_inputs"))) return WEFT_OK;
  char *dir = weft_fs_join(s->work_dir, "inputs");
  int rc = dir ? weft_fs_mkdirs(dir, err) : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  const char *name;
  json_t *key;
  json_object_foreach(json_object_get(msg, "path_inputs"), name, key) {
    if (rc) break;
    char *file = weft_fs_join(dir, name);
    if (!json_is_string(key) || !file || strchr(name, '/'))
      rc = weft_error_set(err, WEFT_EINVALID, "path input '%s' has no artifact key", name);
    else if ((rc = weft_artifacts_get(w->inst->artifacts, json_string_value(key), file, err)))
      weft_error_set(err, rc, "cannot fetch path input '%s': %s", name, err->msg);
    free(file);
  }
  free(dir);
  return rc;
}

int weft__wk_container(struct worker *w, json_t *msg, struct weft__wk_ctr *out, weft_error *err) {
  const struct weft_instance *inst = w->inst;
  memset(out, 0, sizeof *out);
  if (!(out->c.image = json_string_value(json_object_get(msg, "image")))) return WEFT_OK;
  char *url = weft_instance_container_url(inst);
  if (!url) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  snprintf(out->url, sizeof out->url, "%s", url);
  free(url);
  snprintf(out->sdk, sizeof out->sdk, "%s/sdk", inst->home);
  char *auth = weft_ctr_default_auth_file(inst->home); /* the worker's own */
  if (auth) snprintf(out->auth, sizeof out->auth, "%s", auth);
  out->c.auth_file = auth ? out->auth : NULL;
  free(auth);
  out->c.url = out->url;
  out->c.sdk_dir = out->sdk;
  out->c.pull = inst->containers.pull;
  out->c.network = inst->containers.network;
  out->c.labels = inst->container_labels;
  json_t *res = json_object_get(msg, "resources"); /* this run's, over the op's */
  if (json_is_object(res)) {
    out->c.has_resources = 1;
    out->c.resources.cpus = json_number_value(json_object_get(res, "cpus"));
    out->c.resources.memory = (int64_t)json_integer_value(json_object_get(res, "memory"));
    out->c.resources.shm = (int64_t)json_integer_value(json_object_get(res, "shm"));
    out->c.resources.gpus = (char *)json_string_value(json_object_get(res, "gpus"));
  }
  out->c.instance = inst->container_label;
  return WEFT_OK;
}
