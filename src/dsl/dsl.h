/* dsl.h: the YAML DSL's entry points beyond model.h: loading a code location
 * from in-memory texts (fuzzing, tests, embedding), YAML output, weft.yaml. */
#ifndef WEFT_DSL_DSL_H
#define WEFT_DSL_DSL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "model/model.h"

enum weft_dsl_source_kind {
  WEFT_DSL_SOURCE_OPS, /* a file of ops/: op definitions */
  WEFT_DSL_SOURCE_JOB, /* a file of jobs/: one job */
  WEFT_DSL_SOURCE_SCHEDULES, /* a file of schedules/: schedules */
  WEFT_DSL_SOURCE_SENSORS    /* a file of sensors/: sensors */
};

/* One YAML text of a location. All fields are borrowed for the call. */
struct weft_dsl_source {
  enum weft_dsl_source_kind kind;
  const char *file; /* name used in marks and diagnostics, e.g. "jobs/a.yaml" */
  const char *text; /* need not be NUL-terminated */
  size_t len;
};

/* Builds and validates a location from sources, exactly as
 * weft_location_load does from a folder: name becomes loc->name, path
 * loc->path (may be NULL: then loc->path is ""). Diagnostics go to
 * (*out)->diags. Fails only when memory runs out. The caller frees *out with
 * weft_location_free. */
int weft_dsl_load_sources(const char *name, const char *path,
                          const struct weft_dsl_source *sources, size_t n,
                          struct weft_location **out, weft_error *err);

/* Parses a duration: a number of seconds (an int or float scalar), or a
 * string of number+unit groups like "30s", "5m", "1h30m", "250ms", "2d".
 * Returns WEFT_OK or WEFT_EINVALID. */
int weft_dsl_parse_duration(const char *text, double *seconds);

/* A run deadline (`timeout:`, `sla:`): a duration from 1ms to 366d, its
 * spelling kept trimmed (a bare number gets "s"; a spelling too long for
 * out->text is replaced by "Ns"). Returns WEFT_OK or WEFT_EINVALID. */
#define WEFT_DEADLINE_MAX_S (366.0 * 86400)
int weft_dsl_parse_deadline(const char *text, struct weft_deadline *out);
/* A checked run config's execution.KEY ("timeout", "sla") into *out;
 * out->s is 0 when the run config sets none. */
void weft_run_config_deadline(const struct weft_run_config *rc, const char *key,
                              struct weft_deadline *out);
/* The same from a YAML node (NULL or null: left unset); a bad value is
 * reported at its mark as "OWNER: KEY must be a duration ...". */
struct weft__ynode;
void weft__dsl_parse_deadline_node(struct weft_diags *d, const struct weft__ynode *n,
                                   const char *owner, const char *key,
                                   struct weft_deadline *out);

/* Prints a JSON value as a block-style YAML document (yaml_emit.c); strings
 * that would read back as another type are quoted. Returns WEFT_OK, or
 * WEFT_EIO / WEFT_ENOMEM with err filled. */
int weft_dsl_emit_yaml(const json_t *value, FILE *out, weft_error *err);

/* ---- the instance configuration ($WEFT_HOME/weft.yaml) ---- */

/* run_queue: {max_concurrent_runs: N, tag_limits: [{key, value?, limit}]}
 * (sched/run_queue.h). A limit without a value applies to each distinct
 * value of the key on its own (Dagster's applyLimitPerUniqueValue). */
struct weft_tag_limit {
  char *key;
  char *value; /* NULL: per distinct value */
  int limit;   /* >= 0 */
};
struct weft_run_queue_config {
  int max_concurrent_runs; /* 0: no limit */
  struct weft_tag_limit *tag_limits;
  size_t n_tag_limits;
};
/* Whether cfg limits anything: without limits a launch starts at once. */
int weft_run_queue_config_limited(const struct weft_run_queue_config *cfg);

/* What an instance is made of, resolved: both URLs are always set. */
/* containers: how steps with an image run (src/containers). */
struct weft_containers_config {
  char *socket;        /* "unix:///..."; NULL: the default (weft_ctr_default_url) */
  int pull;            /* enum weft_ctr_pull: missing (default), always, never */
  char *network;       /* "bridge", "none", "host"; NULL: bridge */
  char *default_image; /* the image of steps that name none, or NULL: host */
  struct weft_kvs labels; /* extra labels on every container */
};

/* An address block of auth.trusted_proxies: "10.0.0.0/8", "::1", ... */
struct weft_cidr {
  int family; /* AF_INET or AF_INET6 */
  unsigned char addr[16];
  int bits;
};

/* server: what `weft server|dev` accept, and auth: who may vouch for a
 * user (instance_server.c). */
struct weft_server_config {
  char **allowed_hosts;   /* Host header values served besides the listen
                             address and localhost: "name", "name:port",
                             "[v6]:port", or "*" (any: no rebinding check) */
  size_t n_allowed_hosts;
  char *proxy_header;     /* auth.proxy_header: the user name an SSO proxy
                             sets (X-Forwarded-User), or NULL */
  struct weft_cidr *trusted_proxies; /* whose proxy_header is believed */
  size_t n_trusted_proxies;
  int64_t session_ttl_ms;  /* auth.session_ttl: a login session's whole
                              life ("12h"); 0: the default */
  int64_t session_idle_ms; /* auth.session_idle: ended after this long
                              unused ("1h"); 0: the default */
};
/* Whether the address (a struct sockaddr of AF_INET or AF_INET6; an IPv4
 * mapped IPv6 address counts as IPv4) is in one of the trusted_proxies. */
int weft_server_trusts_proxy(const struct weft_server_config *c, const void *sockaddr);

struct weft_instance_config {
  char *storage_url;   /* "sqlite:/abs/weft.db" or "postgresql://..." */
  char *artifacts_url; /* "file:/abs/artifacts" or "s3://BUCKET/PREFIX?settings" */
  char *broker_url;    /* broker: {rabbitmq: {url}}: "amqp://...", or NULL */
  char *execution;     /* execution: the default executor ("queue",
                          "multiprocess", "in_process"), or NULL */
  char *queue_key_file; /* queue: {signing_key_file}: absolute, or NULL */
  struct weft_run_queue_config run_queue; /* zeroed: no limits */
  struct weft_containers_config containers; /* zeroed: the defaults */
  struct weft_server_config server;         /* zeroed: the defaults */
  char *secret_key_file; /* secrets.key_file, default HOME/secret.key */
  /* hooks: {on_failure, on_success, on_sla_missed}: alerts for every run,
   * as checked JSON (hooks_parse.c), or NULL. */
  json_t *hooks;
};

/* Parses weft.yaml text (file names it in diagnostics; text may be empty)
 * for the instance at home (absolute): relative paths are taken from home,
 * ${VAR} is replaced from the environment, what is left out gets the
 * defaults (HOME/weft.db, HOME/artifacts). Returns WEFT_OK with *out filled
 * (release with weft_instance_config_release), WEFT_EINVALID with every
 * problem in diags, or WEFT_ENOMEM. */
int weft_instance_config_parse(const char *home, const char *file, const char *text,
                               size_t len, struct weft_instance_config *out,
                               struct weft_diags *diags);
void weft_instance_config_release(struct weft_instance_config *c);
/* Reads and parses HOME/weft.yaml (absent: the defaults); every problem is
 * reported at once in err as file:line:col lines. */
int weft_instance_config_load(const char *home, struct weft_instance_config *out,
                              weft_error *err);

/* The commented default weft.yaml that `weft instance init` writes. */
extern const char weft_instance_config_template[];

#endif
