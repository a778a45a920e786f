/* containers.h: a container engine behind a method table: images, containers
 * and their logs, spoken over the Docker Engine REST API (Docker and Podman). */
#ifndef WEFT_CONTAINERS_CONTAINERS_H
#define WEFT_CONTAINERS_CONTAINERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "weft.h"

/* The labels every container weft creates carries (weft_ctr_spec.labels). */
#define WEFT_CTR_LABEL_INSTANCE "weft.instance"
#define WEFT_CTR_LABEL_RUN "weft.run"
#define WEFT_CTR_LABEL_STEP "weft.step"
#define WEFT_CTR_LABEL_ATTEMPT "weft.attempt"

enum weft_ctr_pull {
  WEFT_CTR_PULL_MISSING = 0, /* pull only when the engine lacks the image */
  WEFT_CTR_PULL_ALWAYS,
  WEFT_CTR_PULL_NEVER
};
const char *weft_ctr_pull_name(enum weft_ctr_pull p);

/* ---- what a container is made of ------------------------------------------ */

struct weft_ctr_mount {
  const char *host;   /* a host path (a bind) or a named volume */
  const char *target; /* absolute path inside the container */
  int read_only;
};

/* Everything borrowed; NULL/0 fields take the image's or engine's default. */
struct weft_ctr_spec {
  const char *name;  /* the container's name, or NULL: the engine picks */
  const char *image;
  char *const *cmd;        /* NULL-terminated argv, or NULL: the image's */
  char *const *entrypoint; /* NULL: the image's; {NULL}: none */
  char *const *env;        /* NULL-terminated "K=V" strings */
  const char *workdir, *user;
  const struct weft_ctr_mount *mounts;
  size_t n_mounts;
  char *const *labels; /* NULL-terminated "K=V" strings */
  const char *network; /* "bridge", "none", "host", a network name, or NULL */
  double cpus;         /* 0: no limit */
  int64_t memory;      /* bytes, 0: no limit (swap is held to the same) */
  int64_t shm;         /* bytes of /dev/shm, 0: the engine's default */
  const char *gpus;    /* NULL, "all", a count "2", or ids "0,1" */
};

/* The create request body (Docker Engine API, ContainerCreate) for spec; new
 * reference, NULL when out of memory or gpus is malformed. Exposed for tests. */
json_t *weft_ctr_create_body(const struct weft_ctr_spec *spec);
/* The same as Podman's own API takes it (libpod's SpecGenerator), GPUs as
 * CDI device names: what a GPU step is created with on Podman. */
json_t *weft_ctr_libpod_create_body(const struct weft_ctr_spec *spec);

struct weft_ctr_image {
  char *id;     /* "sha256:..." (the image config's digest) */
  char *digest; /* "NAME@sha256:..." from the registry, or the id when the
                   image never came from one (built or imported locally) */
};
void weft_ctr_image_release(struct weft_ctr_image *img);

struct weft_ctr_state {
  char *status;   /* "created", "running", "exited", ... */
  int running;
  int exit_code;
  int oom_killed; /* as the engine reports it */
  int64_t memory; /* the memory limit it runs under, 0: none */
};
void weft_ctr_state_release(struct weft_ctr_state *st);

/* Where a followed container's output goes; called from inside logs(). */
struct weft_ctr_log_sink {
  /* stream 1: stdout, 2: stderr. A nonzero return stops following. */
  int (*on_output)(void *data, int stream, const char *buf, size_t n);
  /* Every tick_ms at least, and whenever wake_fd (>= 0) is readable; a
   * nonzero return stops following. May be NULL. */
  int (*on_tick)(void *data);
  int wake_fd;
  int tick_ms;
  void *data;
};

/* ---- the engine ----------------------------------------------------------------
 *
 * Backends implement these; only the wrappers below call them. An engine
 * handle is used by one thread at a time; a process may open several. */
struct weft_ctr_engine;
struct weft_ctr_engine_methods {
  const char *name; /* "docker-api" */
  int (*ping)(struct weft_ctr_engine *e, char **version, weft_error *err);
  int (*image_inspect)(struct weft_ctr_engine *e, const char *image,
                       struct weft_ctr_image *out, weft_error *err);
  int (*image_pull)(struct weft_ctr_engine *e, const char *image, weft_error *err);
  int (*create)(struct weft_ctr_engine *e, const struct weft_ctr_spec *spec, char **id,
                weft_error *err);
  int (*start)(struct weft_ctr_engine *e, const char *id, weft_error *err);
  int (*logs)(struct weft_ctr_engine *e, const char *id, const struct weft_ctr_log_sink *sink,
              weft_error *err);
  int (*attach_start)(struct weft_ctr_engine *e, const char *id,
                      const struct weft_ctr_log_sink *sink, weft_error *err);
  int (*wait)(struct weft_ctr_engine *e, const char *id, int *status_code, weft_error *err);
  int (*inspect)(struct weft_ctr_engine *e, const char *id, struct weft_ctr_state *out,
                 weft_error *err);
  int (*stop)(struct weft_ctr_engine *e, const char *id, int grace_s, weft_error *err);
  int (*remove)(struct weft_ctr_engine *e, const char *id, weft_error *err);
  int (*list)(struct weft_ctr_engine *e, const char *label, json_t **out, weft_error *err);
  void (*free)(struct weft_ctr_engine *e);
};

/* Every backend embeds this as its first member. */
struct weft_ctr_engine {
  const struct weft_ctr_engine_methods *m;
  char *url;       /* "unix:///run/podman/podman.sock" */
  char *auth_file; /* registry credentials for pulls, or NULL */
};

/* The socket to use when weft.yaml names none: $DOCKER_HOST when set, else
 * the first of /run/podman/podman.sock and /var/run/docker.sock that
 * exists, else /var/run/docker.sock. Caller frees; NULL when out of memory. */
char *weft_ctr_default_url(void);

/* ---- registry credentials ----------------------------------------------------
 *
 * Pulls send the credentials an auth file holds for the image's registry,
 * in the format of Docker's config.json and Podman's auth.json:
 *   {"auths": {"ghcr.io": {"auth": "BASE64(user:password)"}}}
 * as the X-Registry-Auth header. They are never printed (errors name the
 * file and the registry only) nor stored. */

/* The auth file to use: HOME/auth.json (home: $WEFT_HOME, may be NULL),
 * else $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json; the first that exists, or NULL. Caller frees. */
char *weft_ctr_default_auth_file(const char *home);
/* The X-Registry-Auth value for pulling image with auth_file's credentials
 * (*header caller frees; NULL when the file has none for its registry).
 * WEFT_EINVALID for a malformed file. */
int weft_ctr_registry_auth(const char *auth_file, const char *image, char **header,
                           weft_error *err);
/* The registry an image comes from: "ghcr.io", "localhost:5000", or
 * "docker.io" for a name without one. Caller frees. */
char *weft__ctr_registry_host(const char *image);
/* Pulls on e send auth_file's credentials (NULL: none). */
int weft_ctr_engine_set_auth_file(struct weft_ctr_engine *e, const char *auth_file);

/* Opens a handle on the engine at url ("unix:///PATH"; tcp:// is refused:
 * traffic stays on this machine). Nothing is sent yet. Free with
 * weft_ctr_engine_free. WEFT_EINVALID for another scheme. */
int weft_ctr_engine_open(const char *url, struct weft_ctr_engine **out, weft_error *err);
void weft_ctr_engine_free(struct weft_ctr_engine *e); /* NULL is a no-op */

/* Every call below fails with WEFT_EIO and the message
 *   no container engine at unix:///...: connection refused; start
 *   'podman system service' or Docker
 * when nothing answers on the socket. */

/* Whether the engine answers (GET /_ping); with version not NULL also its
 * name and version ("Podman Engine 4.3.1", caller frees; slower). */
int weft_ctr_ping(struct weft_ctr_engine *e, char **version, weft_error *err);
/* WEFT_ENOTFOUND when the engine has no such image. */
int weft_ctr_image_inspect(struct weft_ctr_engine *e, const char *image,
                           struct weft_ctr_image *out, weft_error *err);
/* Pulls image (the registry's error when it fails: WEFT_ENOTFOUND for an
 * unknown image). Registry credentials are not sent yet. */
int weft_ctr_image_pull(struct weft_ctr_engine *e, const char *image, weft_error *err);
/* Inspects image, pulling it first as policy says. */
int weft_ctr_image_ensure(struct weft_ctr_engine *e, const char *image,
                          enum weft_ctr_pull policy, struct weft_ctr_image *out,
                          weft_error *err);
/* Creates (does not start) a container; *id caller frees. WEFT_ENOTFOUND:
 * no such image; WEFT_ECONFLICT: the name is taken. */
int weft_ctr_create(struct weft_ctr_engine *e, const struct weft_ctr_spec *spec, char **id,
                    weft_error *err);
int weft_ctr_start(struct weft_ctr_engine *e, const char *id, weft_error *err);
/* Follows the container's stdout and stderr until it exits (or a sink
 * callback stops it); returns WEFT_OK then. */
int weft_ctr_logs(struct weft_ctr_engine *e, const char *id,
                  const struct weft_ctr_log_sink *sink, weft_error *err);
/* Attaches to a created container, starts it, and streams its stdout and
 * stderr to sink until it exits: nothing it prints is missed, and the call
 * returns as soon as it ends. */
int weft_ctr_attach_start(struct weft_ctr_engine *e, const char *id,
                          const struct weft_ctr_log_sink *sink, weft_error *err);
/* Waits until the container exits; its exit status in *status_code. */
int weft_ctr_wait(struct weft_ctr_engine *e, const char *id, int *status_code,
                  weft_error *err);
int weft_ctr_inspect(struct weft_ctr_engine *e, const char *id, struct weft_ctr_state *out,
                     weft_error *err);
/* SIGTERM (the image's stop signal), then SIGKILL after grace_s; WEFT_OK
 * when it was not running. */
int weft_ctr_stop(struct weft_ctr_engine *e, const char *id, int grace_s, weft_error *err);
/* Removes it, killing it if it runs, with its anonymous volumes; WEFT_OK
 * when there is no such container. */
int weft_ctr_remove(struct weft_ctr_engine *e, const char *id, weft_error *err);
/* Every container (running or not) carrying label "K=V" (or "K"): a JSON
 * array of {"id","name","state","labels":{...}}, new reference. */
int weft_ctr_list(struct weft_ctr_engine *e, const char *label, json_t **out, weft_error *err);

/* ---- sizes --------------------------------------------------------------------- */

/* Parses "2Gi", "512Mi", "64M", "1G", "100k", "1024" (bytes); binary
 * suffixes (Ki Mi Gi Ti) and decimal ones (k M G T), as Kubernetes. -1 when
 * malformed, zero or too large. */
int64_t weft_ctr_parse_bytes(const char *s);
/* "64 MiB", "2 GiB", "1.5 GiB", "100 KiB", "512 bytes" into buf. */
void weft_ctr_format_bytes(int64_t n, char *buf, size_t size);

/* Whether ref is a well-formed image reference ([registry/]path[:tag]
 * [@sha256:hex]); when not, *why says what is wrong (static text). */
int weft_ctr_image_ref_ok(const char *ref, const char **why);

#endif
