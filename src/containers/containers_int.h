/* containers_int.h: private to src/containers: HTTP over the engine's unix
 * socket (docker_http.c), shared by the Docker Engine API backend. */
#ifndef WEFT_CONTAINERS_CONTAINERS_INT_H
#define WEFT_CONTAINERS_CONTAINERS_INT_H

#include <curl/curl.h>

#include "containers/containers.h"
#include "util/buf.h"

/* The API version weft speaks: Docker 20.10+ and Podman 3+ serve it. */
#define WEFT__CTR_API "/v1.41"
/* Podman's own API, for what its Docker API cannot say (CDI devices). */
#define WEFT__CTR_LIBPOD_API "/v4.0.0/libpod"
/* Responses above this size are refused (lists of many containers fit). */
#define WEFT__CTR_BODY_MAX (64u * 1024 * 1024)

/* One connection to the engine: a curl handle kept alive between calls. */
struct weft__ctr_http {
  CURL *curl;
  char *url;    /* unix:///PATH, for messages */
  char *socket; /* /PATH */
  const char *extra_header; /* "Name: value" sent with the next call, or NULL */
};

int weft__ctr_http_init(struct weft__ctr_http *h, const char *url, weft_error *err);
void weft__ctr_http_release(struct weft__ctr_http *h);

/* One request: method and path ("/v1.41/..."), a JSON body or NULL. The
 * HTTP status goes in *status and the body in resp (reset first). Fails
 * (WEFT_EIO) only when no answer came: nothing listening on the socket
 * gives the "no container engine at ..." message. */
int weft__ctr_http_call(struct weft__ctr_http *h, const char *method, const char *path,
                        const char *body, long *status, struct weft_buf *resp,
                        weft_error *err);

/* A streamed response (logs, attach): each chunk of the body goes to
 * on_data as it arrives (a nonzero return stops); on_open (may be NULL) once
 * the answer's status is a 2xx, before any of its body (an error code it
 * returns, with the message it set, ends the call); sink's on_tick is called
 * every sink->tick_ms and when sink->wake_fd is readable (sink may be NULL).
 * Uses a connection of its own, so calls on h may be made from on_tick.
 * A non-2xx status: its body is collected into err instead. */
int weft__ctr_http_stream(struct weft__ctr_http *h, const char *method, const char *path,
                          int (*on_data)(void *data, const char *buf, size_t n),
                          int (*on_open)(void *data), void *data,
                          const struct weft_ctr_log_sink *sink, long *status,
                          weft_error *err);

/* The engine's message from an error body ({"message": "..."}), or the
 * body itself, or "HTTP N"; into buf. */
void weft__ctr_error_text(long status, const struct weft_buf *resp, char *buf, size_t size);

/* Appends s URL-encoded (query values). WEFT_ENOMEM. */
int weft__ctr_url_encode(struct weft_buf *b, const char *s);

/* The Docker API backend's constructor. */
int weft__ctr_docker_new(const char *url, struct weft_ctr_engine **out, weft_error *err);

#endif
