/* docker_api.c: the "docker-api" container engine: the Docker Engine REST API
 * (v1.41) over a unix socket, served by Docker and by `podman system service`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers/containers_int.h"
#include "util/str.h"

struct docker {
  struct weft_ctr_engine base;
  struct weft__ctr_http http;
  struct weft_buf resp; /* the last answer's body */
  int podman;           /* -1: not known yet; 1: the engine is Podman */
};

/* A request whose answer is expected to be 2xx; otherwise the engine's
 * message, prefixed by what, with 404 as WEFT_ENOTFOUND and 409 as
 * WEFT_ECONFLICT. *status (may be NULL) gets the HTTP status either way. */
static int call(struct docker *d, const char *method, const char *path, const char *body,
                const char *what, long *status_out, weft_error *err) {
  long status = 0;
  int rc = weft__ctr_http_call(&d->http, method, path, body, &status, &d->resp, err);
  if (status_out) *status_out = status;
  if (rc || (status >= 200 && status <= 299)) return rc;
  char why[512];
  weft__ctr_error_text(status, &d->resp, why, sizeof why);
  /* Docker answers a taken name with 409, Podman with 500 and this cause. */
  int code = status == 404 ? WEFT_ENOTFOUND
             : status == 409 || strstr(why, "is already in use") ? WEFT_ECONFLICT
                                                                 : WEFT_EIO;
  return weft_error_set(err, code, "%s: %s", what, why);
}

static json_t *resp_json(struct docker *d) {
  return d->resp.len ? json_loadb(d->resp.ptr, d->resp.len, 0, NULL) : NULL;
}

/* path with one URL-encoded parameter spliced in: fmt has one %s. */
static char *path_with(const char *fmt, const char *param) {
  struct weft_buf enc = WEFT_BUF_INIT;
  char *out = NULL;
  if (!weft__ctr_url_encode(&enc, param ? param : "") && enc.ptr)
    out = weft_str_printf(fmt, enc.ptr);
  else if (!enc.ptr)
    out = weft_str_printf(fmt, "");
  weft_buf_release(&enc);
  return out;
}

static int nomem(weft_error *err) { return weft_error_set(err, WEFT_ENOMEM, "out of memory"); }

/* ---- methods ---- */

static int d_ping(struct weft_ctr_engine *base, char **version, weft_error *err) {
  struct docker *d = (struct docker *)base;
  /* /_ping answers at once; /version takes Podman seconds (it asks conmon
   * and the runtime for theirs), so only when the caller wants it. */
  int rc = call(d, "GET", "/_ping", NULL, "ping", NULL, err);
  if (rc || !version) return rc;
  *version = NULL;
  if ((rc = call(d, "GET", WEFT__CTR_API "/version", NULL, "version", NULL, err))) return rc;
  json_t *j = resp_json(d);
  const char *name = "Docker Engine";
  json_t *comps = json_object_get(j, "Components"), *c;
  size_t i;
  json_array_foreach(comps, i, c) {
    const char *n = json_string_value(json_object_get(c, "Name"));
    if (n && strstr(n, "Engine")) {
      name = n;
      break;
    }
  }
  const char *v = json_string_value(json_object_get(j, "Version"));
  *version = weft_str_printf("%s %s", name, v ? v : "(unknown version)");
  json_decref(j);
  return *version ? WEFT_OK : nomem(err);
}

static int d_image_inspect(struct weft_ctr_engine *base, const char *image,
                           struct weft_ctr_image *out, weft_error *err) {
  struct docker *d = (struct docker *)base;
  memset(out, 0, sizeof *out);
  char *path = path_with(WEFT__CTR_API "/images/%s/json", image);
  char what[300];
  snprintf(what, sizeof what, "image '%s'", image);
  int rc = path ? call(d, "GET", path, NULL, what, NULL, err) : nomem(err);
  free(path);
  if (rc == WEFT_ENOTFOUND)
    return weft_error_set(err, rc, "image '%s' is not on the container engine", image);
  if (rc) return rc;
  json_t *j = resp_json(d);
  const char *id = json_string_value(json_object_get(j, "Id"));
  const char *digest = json_string_value(json_array_get(json_object_get(j, "RepoDigests"), 0));
  if (id && !strchr(id, ':')) out->id = weft_str_printf("sha256:%s", id);
  else out->id = weft_str_dup(id ? id : "");
  out->digest = weft_str_dup(digest ? digest : out->id ? out->id : "");
  json_decref(j);
  if (!out->id || !out->digest) {
    weft_ctr_image_release(out);
    return nomem(err);
  }
  return WEFT_OK;
}

static int d_image_pull(struct weft_ctr_engine *base, const char *image, weft_error *err) {
  struct docker *d = (struct docker *)base;
  struct weft_buf p = WEFT_BUF_INIT;
  /* fromImage=NAME&tag=TAG, or the whole reference when it has a digest. */
  const char *slash = strrchr(image, '/'), *colon = strrchr(image, ':');
  int has_tag = !strchr(image, '@') && colon && (!slash || colon > slash);
  char *name = has_tag ? strndup(image, (size_t)(colon - image)) : weft_str_dup(image);
  int rc = name && !weft_buf_adds(&p, WEFT__CTR_API "/images/create?fromImage=") &&
                   !weft__ctr_url_encode(&p, name) &&
                   !weft_buf_adds(&p, "&tag=") && !weft__ctr_url_encode(&p, has_tag ? colon + 1 : "latest")
               ? WEFT_OK
               : nomem(err);
  char what[300], *auth = NULL, *header = NULL;
  snprintf(what, sizeof what, "pulling image '%s'", image);
  if (!rc && base->auth_file) rc = weft_ctr_registry_auth(base->auth_file, image, &auth, err);
  if (!rc && auth && !(header = weft_str_printf("X-Registry-Auth: %s", auth))) rc = nomem(err);
  d->http.extra_header = header;
  if (!rc) rc = call(d, "POST", p.ptr, NULL, what, NULL, err);
  d->http.extra_header = NULL;
  if (header) memset(header, 0, strlen(header));
  if (auth) memset(auth, 0, strlen(auth));
  free(header);
  free(auth);
  /* A pull that fails half-way still answers 200: its stream of progress
   * objects then ends with {"error": "..."}. */
  for (size_t at = 0; !rc && d->resp.ptr && at < d->resp.len;) {
    const char *line = d->resp.ptr + at, *nl = memchr(line, '\n', d->resp.len - at);
    size_t len = nl ? (size_t)(nl - line) : d->resp.len - at;
    json_t *j = json_loadb(line, len, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "error"));
    if (m) rc = weft_error_set(err, WEFT_ENOTFOUND, "pulling image '%s': %s", image, m);
    json_decref(j);
    at += len + 1;
  }
  free(name);
  weft_buf_release(&p);
  return rc;
}

/* Podman answers /libpod/_ping, Docker does not. */
static int is_podman(struct docker *d) {
  if (d->podman < 0) {
    long st = 0;
    weft_error ignored = WEFT_ERROR_INIT;
    d->podman = !weft__ctr_http_call(&d->http, "GET", "/libpod/_ping", NULL, &st, &d->resp,
                                     &ignored) && st == 200;
  }
  return d->podman;
}

static int d_create(struct weft_ctr_engine *base, const struct weft_ctr_spec *spec, char **id,
                    weft_error *err) {
  struct docker *d = (struct docker *)base;
  *id = NULL;
  /* A GPU step on Podman is created through Podman's own API, which
   * resolves CDI device names; its Docker API would drop the GPU request
   * and run the step without one. Start, logs and wait stay the same. */
  int libpod = spec->gpus && is_podman(d);
  json_t *body = libpod ? weft_ctr_libpod_create_body(spec) : weft_ctr_create_body(spec);
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  char *path = libpod      ? weft_str_dup(WEFT__CTR_LIBPOD_API "/containers/create")
               : spec->name ? path_with(WEFT__CTR_API "/containers/create?name=%s", spec->name)
                            : weft_str_dup(WEFT__CTR_API "/containers/create");
  char what[300];
  snprintf(what, sizeof what, "creating a container of image '%s'", spec->image);
  int rc = body ? WEFT_OK
                : weft_error_set(err, WEFT_EINVALID, "cannot build the container request "
                                 "(gpus '%s' must be all, a count or a list of ids)",
                                 spec->gpus ? spec->gpus : "");
  if (!rc && (!text || !path)) rc = nomem(err);
  if (!rc) rc = call(d, "POST", path, text, what, NULL, err);
  if (!rc) {
    json_t *j = resp_json(d);
    const char *v = json_string_value(json_object_get(j, "Id"));
    *id = v ? weft_str_dup(v) : NULL;
    json_decref(j);
    if (!*id) rc = weft_error_set(err, WEFT_EIO, "%s: the engine answered no Id", what);
  }
  json_decref(body);
  free(text);
  free(path);
  return rc;
}

/* POST /containers/ID/VERB[?query] */
static int container_post(struct docker *d, const char *id, const char *verb,
                          const char *query, const char *what, long *status, weft_error *err) {
  char *path = path_with(WEFT__CTR_API "/containers/%s", id);
  char *full = path ? weft_str_printf("%s/%s%s", path, verb, query ? query : "") : NULL;
  int rc = full ? call(d, "POST", full, NULL, what, status, err) : nomem(err);
  free(path);
  free(full);
  return rc;
}

static int d_start(struct weft_ctr_engine *base, const char *id, weft_error *err) {
  return container_post((struct docker *)base, id, "start", NULL, "starting the container",
                        NULL, err);
}

/* The logs of a container without a TTY come multiplexed: frames of an
 * 8-byte header (stream, 0, 0, 0, size as 32-bit big endian) and payload. */
struct demux {
  const struct weft_ctr_log_sink *sink;
  struct docker *d;  /* attach: the engine to start the container on */
  const char *id;
  weft_error *err;
  unsigned char head[8];
  size_t head_len;
  size_t left; /* payload bytes still to come in the current frame */
  int stream;
};

static int demux_feed(void *data, const char *buf, size_t n) {
  struct demux *m = data;
  while (n) {
    if (!m->left) {
      size_t take = 8 - m->head_len < n ? 8 - m->head_len : n;
      memcpy(m->head + m->head_len, buf, take);
      m->head_len += take;
      buf += take;
      n -= take;
      if (m->head_len < 8) return 0;
      m->head_len = 0;
      m->stream = m->head[0] == 2 ? 2 : 1;
      m->left = (size_t)m->head[4] << 24 | (size_t)m->head[5] << 16 | (size_t)m->head[6] << 8 |
                m->head[7];
      continue;
    }
    size_t take = m->left < n ? m->left : n;
    if (m->sink->on_output && m->sink->on_output(m->sink->data, m->stream, buf, take)) return 1;
    m->left -= take;
    buf += take;
    n -= take;
  }
  return 0;
}

static int d_logs(struct weft_ctr_engine *base, const char *id,
                  const struct weft_ctr_log_sink *sink, weft_error *err) {
  struct docker *d = (struct docker *)base;
  struct demux m = {sink, d, id, err, {0}, 0, 0, 1};
  long status = 0;
  char *path = path_with(WEFT__CTR_API "/containers/%s/logs?follow=1&stdout=1&stderr=1", id);
  int rc = path ? weft__ctr_http_stream(&d->http, "GET", path, demux_feed, NULL, &m, sink,
                                        &status, err)
                : nomem(err);
  free(path);
  return rc;
}

/* attach_start: attached, start the container (on the engine's other
 * connection; the attached one holds what it prints meanwhile). */
static int attached(void *data) {
  struct demux *m = data;
  return container_post(m->d, m->id, "start", NULL, "starting the container", NULL, m->err);
}

/* Attach, then start: the attach stream ends the moment the container
 * does (the logs stream of Podman polls, a quarter second late or more). */
static int d_attach_start(struct weft_ctr_engine *base, const char *id,
                          const struct weft_ctr_log_sink *sink, weft_error *err) {
  struct docker *d = (struct docker *)base;
  struct demux m = {sink, d, id, err, {0}, 0, 0, 1};
  long status = 0;
  char *path = path_with(WEFT__CTR_API "/containers/%s/attach?stream=1&stdout=1&stderr=1", id);
  int rc = path ? weft__ctr_http_stream(&d->http, "POST", path, demux_feed, attached, &m, sink,
                                        &status, err)
                : nomem(err);
  free(path);
  /* Podman prepares the container when it attaches: a start's failure
   * (a program not found) may come from there. */
  if (rc && rc != WEFT_ENOMEM && err && strncmp(err->msg, "starting the container", 22)) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    weft_error_set(err, rc, "starting the container: %s", why);
  }
  return rc;
}

static int d_wait(struct weft_ctr_engine *base, const char *id, int *status_code,
                  weft_error *err) {
  struct docker *d = (struct docker *)base;
  *status_code = -1;
  int rc = container_post(d, id, "wait", NULL, "waiting for the container", NULL, err);
  if (rc) return rc;
  json_t *j = resp_json(d);
  json_t *sc = json_object_get(j, "StatusCode");
  if (json_is_integer(sc)) *status_code = (int)json_integer_value(sc);
  else rc = weft_error_set(err, WEFT_EIO, "waiting for the container: no StatusCode in answer");
  json_decref(j);
  return rc;
}

static int d_inspect(struct weft_ctr_engine *base, const char *id, struct weft_ctr_state *out,
                     weft_error *err) {
  struct docker *d = (struct docker *)base;
  memset(out, 0, sizeof *out);
  char *path = path_with(WEFT__CTR_API "/containers/%s/json", id);
  int rc = path ? call(d, "GET", path, NULL, "inspecting the container", NULL, err) : nomem(err);
  free(path);
  if (rc) return rc;
  json_t *j = resp_json(d);
  json_t *st = json_object_get(j, "State");
  const char *s = json_string_value(json_object_get(st, "Status"));
  out->status = weft_str_dup(s ? s : "unknown");
  out->running = json_is_true(json_object_get(st, "Running"));
  out->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
  out->oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
  out->memory = (int64_t)json_integer_value(json_object_get(json_object_get(j, "HostConfig"),
                                                            "Memory"));
  json_decref(j);
  return out->status ? WEFT_OK : nomem(err);
}

static int d_stop(struct weft_ctr_engine *base, const char *id, int grace_s, weft_error *err) {
  char query[32];
  snprintf(query, sizeof query, "?t=%d", grace_s > 0 ? grace_s : 0);
  long status = 0;
  int rc = container_post((struct docker *)base, id, "stop", query, "stopping the container",
                          &status, err);
  return rc == WEFT_ENOTFOUND ? WEFT_OK : rc; /* 304: already stopped, fine */
}

static int d_remove(struct weft_ctr_engine *base, const char *id, weft_error *err) {
  struct docker *d = (struct docker *)base;
  char *path = path_with(WEFT__CTR_API "/containers/%s?force=1&v=1", id);
  int rc = path ? call(d, "DELETE", path, NULL, "removing the container", NULL, err) : nomem(err);
  free(path);
  return rc == WEFT_ENOTFOUND ? WEFT_OK : rc;
}

static int d_list(struct weft_ctr_engine *base, const char *label, json_t **out,
                  weft_error *err) {
  struct docker *d = (struct docker *)base;
  *out = NULL;
  json_t *filters = json_pack("{s:[s]}", "label", label);
  char *ftext = filters ? json_dumps(filters, JSON_COMPACT) : NULL;
  char *path = ftext ? path_with(WEFT__CTR_API "/containers/json?all=1&filters=%s", ftext) : NULL;
  int rc = path ? call(d, "GET", path, NULL, "listing containers", NULL, err) : nomem(err);
  json_decref(filters);
  free(ftext);
  free(path);
  if (rc) return rc;
  json_t *j = resp_json(d), *res = json_array(), *c;
  size_t i;
  if (!json_is_array(j) || !res) {
    json_decref(j);
    json_decref(res);
    return weft_error_set(err, WEFT_EIO, "listing containers: the answer is not a list");
  }
  json_array_foreach(j, i, c) {
    const char *name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    if (name && name[0] == '/') name++;
    json_t *labels = json_object_get(c, "Labels");
    const char *cid = json_string_value(json_object_get(c, "Id"));
    const char *state = json_string_value(json_object_get(c, "State"));
    json_array_append_new(res, json_pack("{s:s, s:s, s:s, s:o}", "id", cid ? cid : "", "name",
                                         name ? name : "", "state", state ? state : "",
                                         "labels", json_is_object(labels) ? json_incref(labels)
                                                                          : json_object()));
  }
  json_decref(j);
  *out = res;
  return WEFT_OK;
}

static void d_free(struct weft_ctr_engine *base) {
  struct docker *d = (struct docker *)base;
  weft__ctr_http_release(&d->http);
  weft_buf_release(&d->resp);
  free(d->base.url);
  free(d);
}

static const struct weft_ctr_engine_methods docker_methods = {
    .name = "docker-api",
    .ping = d_ping,
    .image_inspect = d_image_inspect,
    .image_pull = d_image_pull,
    .create = d_create,
    .start = d_start,
    .logs = d_logs,
    .attach_start = d_attach_start,
    .wait = d_wait,
    .inspect = d_inspect,
    .stop = d_stop,
    .remove = d_remove,
    .list = d_list,
    .free = d_free,
};

int weft__ctr_docker_new(const char *url, struct weft_ctr_engine **out, weft_error *err) {
  *out = NULL;
  struct docker *d = calloc(1, sizeof *d);
  if (!d) return nomem(err);
  int rc = weft__ctr_http_init(&d->http, url, err);
  if (rc) {
    free(d);
    return rc;
  }
  d->base.m = &docker_methods;
  d->podman = -1;
  if (!(d->base.url = weft_str_dup(url))) {
    d_free(&d->base);
    return nomem(err);
  }
  *out = &d->base;
  return WEFT_OK;
}
