/* instance_config.c: $WEFT_HOME/weft.yaml, which storage and artifact store an
 * instance uses, with ${ENV_VAR} substitution so secrets stay out of files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers/containers.h"
#include "dsl/dsl.h"
#include "dsl/dsl_int.h"
#include "dsl/instance_retention.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/redact.h"
#include "util/str.h"

static const char *const top_keys[] = {"storage", "artifacts", "broker", "execution",
                                       "run_queue", "containers", "server", "auth",
                                       "secrets", "queue", "hooks", "retention", NULL};
static const char *const hooks_keys[] = {"on_failure", "on_success", "on_sla_missed", NULL};
static const char *const containers_keys[] = {"socket", "pull", "network", "default_image",
                                              "labels", NULL};
static const char *const run_queue_keys[] = {"max_concurrent_runs", "tag_limits", NULL};
static const char *const tag_limit_keys[] = {"key", "value", "limit", NULL};
static const char *const broker_keys[] = {"rabbitmq", NULL};
static const char *const rabbitmq_keys[] = {"url", NULL};
static const char *const queue_keys[] = {"signing_key_file", NULL};
static const char *const storage_keys[] = {"sqlite", "postgres", NULL};
static const char *const sqlite_keys[] = {"path", NULL};
static const char *const postgres_keys[] = {"url", NULL};
static const char *const artifacts_keys[] = {"filesystem", "s3", NULL};
static const char *const s3_keys[] = {"bucket", "prefix", "endpoint", "region", "path_style",
                                      NULL};
static const char *const filesystem_keys[] = {"path", NULL};
static const char *const secrets_keys[] = {"key_file", NULL};

const char weft_instance_config_template[] =
    "# weft instance configuration ($WEFT_HOME/weft.yaml).\n"
    "# Values may use ${ENV_VAR} (and $$ for a literal $), so secrets can stay\n"
    "# in the environment. Relative paths are relative to this folder.\n"
    "\n"
    "# Where runs, steps, events and state are stored: exactly one of\n"
    "storage:\n"
    "  sqlite:\n"
    "    path: weft.db\n"
    "  # postgres:\n"
    "  #   url: postgresql://weft:${WEFT_PG_PASSWORD}@127.0.0.1:5432/weft\n"
    "\n"
    "# Where step outputs are kept (downstream inputs are read from here).\n"
    "artifacts:\n"
    "  filesystem:\n"
    "    path: artifacts\n"
    "  # s3:                 # AWS S3, MinIO, Ceph... (credentials: the AWS_*\n"
    "  #   bucket: my-bucket  # variables or ~/.aws/credentials, never this file)\n"
    "  #   prefix: weft\n"
    "  #   endpoint: http://127.0.0.1:9000   # default: AWS in the region\n"
    "  #   region: us-east-1\n"
    "  #   path_style: true   # default: true with an endpoint, else false\n"
    "\n"
    "# RabbitMQ, for runs whose steps go to `weft worker` processes:\n"
    "# broker:\n"
    "#   rabbitmq:\n"
    "#     url: amqp://guest:${WEFT_AMQP_PASSWORD}@127.0.0.1:5672/\n"
    "# execution: queue      # the default executor of runs that name none\n"
    "# Step messages on the broker are signed (HMAC) with a key file; default:\n"
    "# queue.key here, made on first use. Workers on other hosts need a copy.\n"
    "# queue:\n"
    "#   signing_key_file: /etc/weft/queue.key   # 0600, >= 32 bytes\n"
    "\n"
    "# Limits on runs in progress at once; launched runs wait in the queue\n"
    "# (highest weft/priority tag first). Default: no limit.\n"
    "# run_queue:\n"
    "#   max_concurrent_runs: 10\n"
    "#   tag_limits:\n"
    "#     - {key: database, value: prod, limit: 1}  # runs tagged database=prod\n"
    "#     - {key: team, limit: 2}   # no value: 2 per distinct value of team\n"
    "\n"
    "# Steps whose op names an `image:` run in containers, on Docker or Podman\n"
    "# (the Docker Engine API on a unix socket). Default socket: $DOCKER_HOST,\n"
    "# then /run/podman/podman.sock, then /var/run/docker.sock.\n"
    "# containers:\n"
    "#   socket: unix:///run/podman/podman.sock\n"
    "#   pull: missing        # missing | always | never\n"
    "#   network: bridge      # bridge | none | host\n"
    "#   default_image: python:3.12-slim   # for ops that name none\n"
    "#   labels: {team: analytics}\n"
    "\n"
    "# weft server|dev answer only requests whose Host is the listen address\n"
    "# or localhost (against DNS rebinding); add the names users type:\n"
    "# server:\n"
    "#   allowed_hosts: [weft.example.com, \"weft.internal:8080\"]\n"
    "\n"
    "# The key that seals `weft secret` values (64 hex digits, mode 0600);\n"
    "# WEFT_SECRET_KEY, when set, wins. Default: secret.key here.\n"
    "# secrets:\n"
    "#   key_file: /etc/weft/secret.key\n"
    "\n"
    "# How long finished runs and their parts are kept (default: forever);\n"
    "# applied every minute by the scheduler, or now by `weft instance purge`.\n"
    "# Pinned runs, unfinished runs, parents of kept re-executions and the\n"
    "# newest keep_last runs of each job are never removed.\n"
    "# retention:\n"
    "#   runs: {success: 30d, failure: 90d}\n"
    "#   events_debug: 7d     # debug log events of kept runs\n"
    "#   logs: 14d            # compute log files\n"
    "#   artifacts: 30d       # step outputs in the artifact store\n"
    "#   keep_last: 20\n"
    "#   per_job:\n"
    "#     nightly_etl: {runs: {success: 7d}}\n";

void weft_instance_config_release(struct weft_instance_config *c) {
  free(c->storage_url);
  free(c->artifacts_url);
  free(c->broker_url);
  free(c->execution);
  free(c->queue_key_file);
  free(c->secret_key_file);
  json_decref(c->hooks);
  for (size_t i = 0; i < c->run_queue.n_tag_limits; i++) {
    free(c->run_queue.tag_limits[i].key);
    free(c->run_queue.tag_limits[i].value);
  }
  free(c->run_queue.tag_limits);
  free(c->containers.socket);
  free(c->containers.network);
  free(c->containers.default_image);
  for (size_t i = 0; i < c->containers.labels.n; i++) {
    free(c->containers.labels.v[i].key);
    free(c->containers.labels.v[i].value);
  }
  free(c->containers.labels.v);
  weft__server_config_release(&c->server);
  memset(c, 0, sizeof *c);
}

char *weft__dsl_substitute_env(struct weft_diags *d, const struct weft__ynode *n, int *nomem) {
  const char *t = weft__ynode_text(n);
  struct weft_buf b = WEFT_BUF_INIT;
  for (const char *p = t; p && *p; p++) {
    if (p[0] != '$') {
      if (weft_buf_addc(&b, *p)) goto oom;
      continue;
    }
    if (p[1] == '$') {
      if (weft_buf_addc(&b, '$')) goto oom;
      p++;
      continue;
    }
    const char *end = p[1] == '{' ? strchr(p + 2, '}') : NULL;
    if (!end || end == p + 2) {
      weft__dsl_error(d, n->mark, "malformed variable reference in '%s': use ${NAME}, or $$ "
                      "for a literal $", t);
      goto fail;
    }
    char *name = strndup(p + 2, (size_t)(end - p - 2));
    if (!name) goto oom;
    const char *v = getenv(name);
    if (!v) {
      weft__dsl_error(d, n->mark, "environment variable '%s' is not set (used in '%s')",
                      name, t);
      free(name);
      goto fail;
    }
    free(name);
    if (weft_buf_adds(&b, v)) goto oom;
    p = end;
  }
  return weft_buf_detach(&b, NULL);
oom:
  *nomem = 1;
fail:
  weft_buf_release(&b);
  return NULL;
}

/* The one sub-mapping of a `kind: {...}` choice (storage, artifacts). */
static const struct weft__ypair *one_choice(struct weft_diags *d, const struct weft__ynode *n,
                                            const char *what, const char *const *keys) {
  if (n->kind != WEFT__Y_MAP || n->u.map.n != 1) {
    char choices[128] = "";
    for (size_t i = 0; keys[i]; i++) {
      strncat(choices, i ? " or " : "", sizeof choices - strlen(choices) - 1);
      strncat(choices, keys[i], sizeof choices - strlen(choices) - 1);
    }
    weft__dsl_error(d, n->mark, "%s must name exactly one of %s, got %s", what, choices,
                    weft__ynode_describe(n));
    return NULL;
  }
  weft__dsl_check_keys(d, n, keys, what);
  return &n->u.map.pairs[0];
}

/* A path setting: absolute, or relative to home. */
static char *path_setting(struct weft_diags *d, const struct weft__ynode *map, const char *what,
                          const char *const *keys, const char *home, int *nomem) {
  if (map->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, map->mark, "%s must be a mapping with 'path', got %s", what,
                    weft__ynode_describe(map));
    return NULL;
  }
  weft__dsl_check_keys(d, map, keys, what);
  const struct weft__ynode *p = weft__ymap_get(map, "path", NULL);
  if (!p || p->kind != WEFT__Y_SCALAR || weft__ynode_is_null(p)) {
    weft__dsl_error(d, p ? p->mark : map->mark, "%s needs a 'path' (a file or folder name)",
                    what);
    return NULL;
  }
  char *v = weft__dsl_substitute_env(d, p, nomem);
  if (!v) return NULL;
  char *abs = v[0] == '/' ? weft_str_dup(v) : weft_fs_join(home, v);
  free(v);
  if (!abs) *nomem = 1;
  return abs;
}

/* secrets: {key_file: PATH} (docs/secrets.md). */
static void parse_secrets(struct weft_diags *d, const struct weft__ynode *n, const char *home,
                          struct weft_instance_config *c, int *nomem) {
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "secrets must be a mapping with 'key_file', got %s",
                    weft__ynode_describe(n));
    return;
  }
  weft__dsl_check_keys(d, n, secrets_keys, "secrets");
  const struct weft__ynode *p = weft__ymap_get(n, "key_file", NULL);
  if (!p || weft__ynode_is_null(p)) return;
  if (p->kind != WEFT__Y_SCALAR) {
    weft__dsl_error(d, p->mark, "secrets.key_file must be a file name, got %s",
                    weft__ynode_describe(p));
    return;
  }
  char *v = weft__dsl_substitute_env(d, p, nomem);
  if (!v) return;
  if (!(c->secret_key_file = v[0] == '/' ? weft_str_dup(v) : weft_fs_join(home, v))) *nomem = 1;
  free(v);
}

static void parse_storage(struct weft_diags *d, const struct weft__ynode *n, const char *home,
                          struct weft_instance_config *c, int *nomem) {
  const struct weft__ypair *choice = one_choice(d, n, "storage", storage_keys);
  if (!choice) return;
  const char *kind = choice->key->u.scalar.text;
  if (!strcmp(kind, "sqlite")) {
    char *path = path_setting(d, choice->value, "storage.sqlite", sqlite_keys, home, nomem);
    if (path && !(c->storage_url = weft_str_printf("sqlite:%s", path))) *nomem = 1;
    free(path);
    return;
  }
  if (strcmp(kind, "postgres")) return; /* reported by the key check */
  const struct weft__ynode *m = choice->value;
  if (m->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, m->mark, "storage.postgres must be a mapping with 'url', got %s",
                    weft__ynode_describe(m));
    return;
  }
  weft__dsl_check_keys(d, m, postgres_keys, "storage.postgres");
  const struct weft__ynode *u = weft__ymap_get(m, "url", NULL);
  if (!u || u->kind != WEFT__Y_SCALAR || weft__ynode_is_null(u)) {
    weft__dsl_error(d, u ? u->mark : m->mark,
                    "storage.postgres needs a 'url' (postgresql://USER@HOST:PORT/DB)");
    return;
  }
  char *url = weft__dsl_substitute_env(d, u, nomem);
  if (!url) return;
  const char *rest = weft_str_has_prefix(url, "postgresql://") ? url + 13
                     : weft_str_has_prefix(url, "postgres://") ? url + 11 : NULL;
  if (!rest || !*rest || *rest == '/') {
    char *shown = weft_redact(weft__ynode_text(u));
    weft__dsl_error(d, u->mark,
                    "storage.postgres.url must look like postgresql://USER@HOST:PORT/DB, "
                    "got '%s'", shown ? shown : "?");
    free(shown);
    free(url);
    return;
  }
  c->storage_url = url;
}

/* ---- artifacts: s3 ---------------------------------------------------------------- */

/* AWS URI encoding of a URL query value (artifacts_s3.c decodes it). */
static int add_encoded(struct weft_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  int rc = WEFT_OK;
  for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '_' || *p == '.' || *p == '~' || *p == '/')
      rc = weft_buf_addc(b, (char)*p);
    else
      rc = weft_buf_addf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
  }
  return rc;
}

/* The scalar setting key of artifacts.s3 (NULL when absent), ${VAR}s replaced. */
static char *s3_setting(struct weft_diags *d, const struct weft__ynode *m, const char *key,
                        int *bad, int *nomem) {
  const struct weft__ynode *v = weft__ymap_get(m, key, NULL);
  if (!v || weft__ynode_is_null(v)) return NULL;
  if (v->kind != WEFT__Y_SCALAR) {
    weft__dsl_error(d, v->mark, "artifacts.s3.%s must be a string, got %s", key,
                    weft__ynode_describe(v));
    *bad = 1;
    return NULL;
  }
  char *out = weft__dsl_substitute_env(d, v, nomem);
  if (!out) *bad = 1;
  return out;
}

/* A prefix is a key path: no empty, "." or ".." segment, no control bytes. */
static int s3_prefix_ok(const char *p) {
  if (*p == '/') return 0;
  for (const char *s = p; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
  for (const char *seg = p; *seg;) {
    size_t len = strcspn(seg, "/");
    if ((len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2))) return 0;
    if (len == 0 && seg[len]) return 0;
    seg += len + (seg[len] == '/');
  }
  return 1;
}

/* artifacts: {s3: {bucket, prefix, endpoint, region, path_style}} becomes
 * s3://BUCKET/PREFIX?endpoint=..&region=..&path_style=0|1 (artifacts_s3.h). */
static void parse_s3(struct weft_diags *d, const struct weft__ynode *m,
                     struct weft_instance_config *c, int *nomem) {
  if (m->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, m->mark, "artifacts.s3 must be a mapping with 'bucket', got %s",
                    weft__ynode_describe(m));
    return;
  }
  weft__dsl_check_keys(d, m, s3_keys, "artifacts.s3");
  int bad = 0;
  char *bucket = s3_setting(d, m, "bucket", &bad, nomem);
  char *prefix = s3_setting(d, m, "prefix", &bad, nomem);
  char *endpoint = s3_setting(d, m, "endpoint", &bad, nomem);
  char *region = s3_setting(d, m, "region", &bad, nomem);
  char *style = s3_setting(d, m, "path_style", &bad, nomem);
  struct weft_buf u = WEFT_BUF_INIT;
  if (!bucket && !bad) {
    weft__dsl_error(d, m->mark, "artifacts.s3 needs a 'bucket'");
    bad = 1;
  } else if (bucket && !weft_str_is_s3_bucket(bucket)) {
    weft__dsl_error(d, weft__ymap_get(m, "bucket", NULL)->mark,
                    "artifacts.s3.bucket '%s' is not a bucket name (3-63 of a-z 0-9 . -)",
                    bucket);
    bad = 1;
  }
  if (prefix && !s3_prefix_ok(prefix)) {
    weft__dsl_error(d, weft__ymap_get(m, "prefix", NULL)->mark,
                    "artifacts.s3.prefix '%s' must be a relative path without '.', '..' "
                    "or empty segments", prefix);
    bad = 1;
  }
  if (endpoint && !weft_str_has_prefix(endpoint, "http://") &&
      !weft_str_has_prefix(endpoint, "https://")) {
    weft__dsl_error(d, weft__ymap_get(m, "endpoint", NULL)->mark,
                    "artifacts.s3.endpoint must be an http:// or https:// URL, got '%s'",
                    endpoint);
    bad = 1;
  }
  if (region && (!*region || strpbrk(region, " /?&#:"))) {
    weft__dsl_error(d, weft__ymap_get(m, "region", NULL)->mark,
                    "artifacts.s3.region '%s' is not a region name (such as us-east-1)",
                    region);
    bad = 1;
  }
  int ps = -1;
  if (style) {
    if (!strcmp(style, "true") || !strcmp(style, "yes") || !strcmp(style, "1")) ps = 1;
    else if (!strcmp(style, "false") || !strcmp(style, "no") || !strcmp(style, "0")) ps = 0;
    else {
      weft__dsl_error(d, weft__ymap_get(m, "path_style", NULL)->mark,
                      "artifacts.s3.path_style must be true or false, got '%s'", style);
      bad = 1;
    }
  }
  if (!bad) {
    char sep = '?';
    int rc = weft_buf_addf(&u, "s3://%s", bucket);
    if (!rc && prefix && *prefix) rc = weft_buf_addc(&u, '/');
    if (!rc && prefix) rc = add_encoded(&u, prefix);
    if (!rc && endpoint) {
      rc = weft_buf_addf(&u, "%cendpoint=", sep);
      if (!rc) rc = add_encoded(&u, endpoint);
      sep = '&';
    }
    if (!rc && region) {
      rc = weft_buf_addf(&u, "%cregion=", sep);
      if (!rc) rc = add_encoded(&u, region);
      sep = '&';
    }
    if (!rc && ps >= 0) rc = weft_buf_addf(&u, "%cpath_style=%d", sep, ps);
    if (rc || !(c->artifacts_url = weft_buf_detach(&u, NULL))) *nomem = 1;
  }
  weft_buf_release(&u);
  free(bucket);
  free(prefix);
  free(endpoint);
  free(region);
  free(style);
}

static void parse_artifacts(struct weft_diags *d, const struct weft__ynode *n, const char *home,
                            struct weft_instance_config *c, int *nomem) {
  const struct weft__ypair *choice = one_choice(d, n, "artifacts", artifacts_keys);
  if (choice && !strcmp(choice->key->u.scalar.text, "s3")) {
    parse_s3(d, choice->value, c, nomem);
    return;
  }
  if (!choice || strcmp(choice->key->u.scalar.text, "filesystem")) return;
  char *path = path_setting(d, choice->value, "artifacts.filesystem", filesystem_keys, home,
                            nomem);
  if (path && !(c->artifacts_url = weft_str_printf("file:%s", path))) *nomem = 1;
  free(path);
}

/* broker: {rabbitmq: {url: amqp://USER:PASS@HOST:PORT/VHOST}} (src/queue). */
static void parse_broker(struct weft_diags *d, const struct weft__ynode *n,
                         struct weft_instance_config *c, int *nomem) {
  const struct weft__ypair *choice = one_choice(d, n, "broker", broker_keys);
  if (!choice || strcmp(choice->key->u.scalar.text, "rabbitmq")) return;
  const struct weft__ynode *m = choice->value;
  if (m->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, m->mark, "broker.rabbitmq must be a mapping with 'url', got %s",
                    weft__ynode_describe(m));
    return;
  }
  weft__dsl_check_keys(d, m, rabbitmq_keys, "broker.rabbitmq");
  const struct weft__ynode *u = weft__ymap_get(m, "url", NULL);
  if (!u || u->kind != WEFT__Y_SCALAR || weft__ynode_is_null(u)) {
    weft__dsl_error(d, u ? u->mark : m->mark,
                    "broker.rabbitmq needs a 'url' (amqp://USER:PASS@HOST:PORT/VHOST)");
    return;
  }
  char *url = weft__dsl_substitute_env(d, u, nomem);
  if (!url) return;
  if (!weft_str_has_prefix(url, "amqp://") && !weft_str_has_prefix(url, "amqps://")) {
    char *shown = weft_redact(weft__ynode_text(u));
    weft__dsl_error(d, u->mark,
                    "broker.rabbitmq.url must look like amqp://USER:PASS@HOST:PORT/VHOST, "
                    "got '%s'", shown ? shown : "?");
    free(shown);
    free(url);
    return;
  }
  c->broker_url = url;
}

/* queue: {signing_key_file: PATH} (src/queue/signing.h): the file itself is
 * read and checked where the key is used, so that a command which never
 * touches the broker does not need it. */
static void parse_queue(struct weft_diags *d, const struct weft__ynode *n, const char *home,
                        struct weft_instance_config *c, int *nomem) {
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "queue must be a mapping with 'signing_key_file', got %s",
                    weft__ynode_describe(n));
    return;
  }
  weft__dsl_check_keys(d, n, queue_keys, "queue");
  const struct weft__ynode *f = weft__ymap_get(n, "signing_key_file", NULL);
  if (!f || weft__ynode_is_null(f)) return;
  if (f->kind != WEFT__Y_SCALAR || !*weft__ynode_text(f)) {
    weft__dsl_error(d, f->mark, "queue.signing_key_file must be a file name, got %s",
                    weft__ynode_describe(f));
    return;
  }
  char *v = weft__dsl_substitute_env(d, f, nomem);
  if (!v) return;
  c->queue_key_file = v[0] == '/' ? weft_str_dup(v) : weft_fs_join(home, v);
  if (!c->queue_key_file) *nomem = 1;
  free(v);
}

/* execution: the instance's default executor for runs whose run config
 * names none. */
static void parse_execution(struct weft_diags *d, const struct weft__ynode *n,
                            struct weft_instance_config *c, int *nomem) {
  const char *t = n->kind == WEFT__Y_SCALAR ? weft__ynode_text(n) : NULL;
  if (!t || (strcmp(t, "queue") && strcmp(t, "multiprocess") && strcmp(t, "in_process"))) {
    weft__dsl_error(d, n->mark,
                    "execution must be one of queue, multiprocess or in_process, got %s",
                    t ? t : weft__ynode_describe(n));
    return;
  }
  if (!(c->execution = weft_str_dup(t))) *nomem = 1;
}

/* ---- run_queue ------------------------------------------------------------------ */

int weft_run_queue_config_limited(const struct weft_run_queue_config *cfg) {
  return cfg && (cfg->max_concurrent_runs > 0 || cfg->n_tag_limits > 0);
}

/* A limit: a non-negative integer scalar; -1 (after a diagnostic) if not. */
static int limit_value(struct weft_diags *d, const struct weft__ynode *n, const char *what) {
  long long v = 0;
  if (n->kind != WEFT__Y_SCALAR || !weft__ynode_int(n, &v) || v < 0 || v > 1000000) {
    weft__dsl_error(d, n->mark, "%s must be a non-negative integer, got %s", what,
                    weft__ynode_describe(n));
    return -1;
  }
  return (int)v;
}

/* A tag key or value: a non-empty string scalar (numbers are taken as text). */
static const char *tag_text(struct weft_diags *d, const struct weft__ynode *n,
                            const char *what) {
  const char *t = n->kind == WEFT__Y_SCALAR ? weft__ynode_text(n) : NULL;
  if (!t || !*t) weft__dsl_error(d, n->mark, "%s must be a non-empty string, got %s", what,
                                 weft__ynode_describe(n));
  return t && *t ? t : NULL;
}

static void parse_tag_limit(struct weft_diags *d, const struct weft__ynode *n, size_t i,
                            struct weft_run_queue_config *q, int *nomem) {
  char what[64];
  snprintf(what, sizeof what, "run_queue.tag_limits[%zu]", i);
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "%s must be a mapping with 'key' and 'limit', got %s", what,
                    weft__ynode_describe(n));
    return;
  }
  weft__dsl_check_keys(d, n, tag_limit_keys, what);
  const struct weft__ynode *k = weft__ymap_get(n, "key", NULL);
  const struct weft__ynode *v = weft__ymap_get(n, "value", NULL);
  const struct weft__ynode *l = weft__ymap_get(n, "limit", NULL);
  if (!k || !l) {
    weft__dsl_error(d, n->mark, "%s needs a '%s'", what, !k ? "key" : "limit");
    return;
  }
  const char *key = tag_text(d, k, "the tag limit's key");
  const char *value = v && !weft__ynode_is_null(v) ? tag_text(d, v, "the tag limit's value")
                                                    : NULL;
  int limit = limit_value(d, l, "the tag limit's limit");
  if (!key || limit < 0 || (v && !weft__ynode_is_null(v) && !value)) return;
  struct weft_tag_limit *t = &q->tag_limits[q->n_tag_limits];
  t->key = weft_str_dup(key);
  t->value = value ? weft_str_dup(value) : NULL;
  t->limit = limit;
  if (!t->key || (value && !t->value)) {
    free(t->key);
    free(t->value);
    *nomem = 1;
    return;
  }
  q->n_tag_limits++;
}

/* run_queue: {max_concurrent_runs: N, tag_limits: [{key, value?, limit}]} */
static void parse_run_queue(struct weft_diags *d, const struct weft__ynode *n,
                            struct weft_instance_config *c, int *nomem) {
  struct weft_run_queue_config *q = &c->run_queue;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "run_queue must be a mapping with 'max_concurrent_runs' "
                    "and/or 'tag_limits', got %s", weft__ynode_describe(n));
    return;
  }
  weft__dsl_check_keys(d, n, run_queue_keys, "run_queue");
  const struct weft__ynode *m = weft__ymap_get(n, "max_concurrent_runs", NULL);
  if (m && !weft__ynode_is_null(m)) {
    int v = limit_value(d, m, "run_queue.max_concurrent_runs");
    if (v >= 0) q->max_concurrent_runs = v;
  }
  const struct weft__ynode *t = weft__ymap_get(n, "tag_limits", NULL);
  if (!t || weft__ynode_is_null(t)) return;
  if (t->kind != WEFT__Y_SEQ) {
    weft__dsl_error(d, t->mark, "run_queue.tag_limits must be a list of {key, value, "
                    "limit}, got %s", weft__ynode_describe(t));
    return;
  }
  if (!t->u.seq.n) return;
  if (!(q->tag_limits = calloc(t->u.seq.n, sizeof *q->tag_limits))) {
    *nomem = 1;
    return;
  }
  for (size_t i = 0; i < t->u.seq.n && !*nomem; i++)
    parse_tag_limit(d, t->u.seq.items[i], i, q, nomem);
}

/* ---- containers ------------------------------------------------------------------ */

/* A scalar setting of containers (NULL when absent or after a diagnostic). */
static char *containers_setting(struct weft_diags *d, const struct weft__ynode *m,
                                const char *key, int *nomem) {
  const struct weft__ynode *v = weft__ymap_get(m, key, NULL);
  if (!v || weft__ynode_is_null(v)) return NULL;
  if (v->kind != WEFT__Y_SCALAR) {
    weft__dsl_error(d, v->mark, "containers.%s must be a string, got %s", key,
                    weft__ynode_describe(v));
    return NULL;
  }
  return weft__dsl_substitute_env(d, v, nomem);
}

/* containers: {socket, pull, network, default_image, labels} */
static void parse_containers(struct weft_diags *d, const struct weft__ynode *n,
                             struct weft_instance_config *c, int *nomem) {
  struct weft_containers_config *k = &c->containers;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "containers must be a mapping (socket, pull, network, "
                    "default_image, labels), got %s", weft__ynode_describe(n));
    return;
  }
  weft__dsl_check_keys(d, n, containers_keys, "containers");
  char *socket = containers_setting(d, n, "socket", nomem);
  char *pull = containers_setting(d, n, "pull", nomem);
  char *network = containers_setting(d, n, "network", nomem);
  char *image = containers_setting(d, n, "default_image", nomem);
  if (socket && (!weft_str_has_prefix(socket, "unix://") || socket[7] != '/')) {
    weft__dsl_error(d, weft__ymap_get(n, "socket", NULL)->mark,
                    "containers.socket must be unix:///PATH (the engine's socket), got '%s'",
                    socket);
  } else {
    k->socket = socket;
    socket = NULL;
  }
  if (pull) {
    if (!strcmp(pull, "missing")) k->pull = WEFT_CTR_PULL_MISSING;
    else if (!strcmp(pull, "always")) k->pull = WEFT_CTR_PULL_ALWAYS;
    else if (!strcmp(pull, "never")) k->pull = WEFT_CTR_PULL_NEVER;
    else
      weft__dsl_error(d, weft__ymap_get(n, "pull", NULL)->mark,
                      "containers.pull must be missing, always or never, got '%s'", pull);
  }
  if (network && strcmp(network, "bridge") && strcmp(network, "none") &&
      strcmp(network, "host")) {
    weft__dsl_error(d, weft__ymap_get(n, "network", NULL)->mark,
                    "containers.network must be bridge, none or host, got '%s'", network);
  } else {
    k->network = network;
    network = NULL;
  }
  const char *why = NULL;
  if (image && !weft_ctr_image_ref_ok(image, &why)) {
    weft__dsl_error(d, weft__ymap_get(n, "default_image", NULL)->mark,
                    "containers.default_image '%s' is not an image reference: %s", image, why);
  } else {
    k->default_image = image;
    image = NULL;
  }
  const struct weft__ynode *l = weft__ymap_get(n, "labels", NULL);
  if (l && !weft__ynode_is_null(l) &&
      weft__dsl_parse_kvs(d, l, "labels", "containers", 0, &k->labels) == WEFT_ENOMEM)
    *nomem = 1;
  for (size_t i = 0; i < k->labels.n; i++)
    if (weft_str_has_prefix(k->labels.v[i].key, "weft."))
      weft__dsl_error(d, l->mark, "containers.labels: '%s' is weft's own (weft.* labels "
                      "are set by weft)", k->labels.v[i].key);
  free(socket);
  free(pull);
  free(network);
  free(image);
}

int weft_instance_config_parse(const char *home, const char *file, const char *text,
                               size_t len, struct weft_instance_config *out,
                               struct weft_diags *d) {
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft__ynode *root = NULL;
  int nomem = 0;
  size_t before = d->n;
  memset(out, 0, sizeof *out);
  int rc = weft__yaml_parse(&doc, file, text, len, &root, d);
  if (rc == WEFT_ENOMEM) goto done;
  if (root && !weft__ynode_is_null(root)) {
    if (root->kind != WEFT__Y_MAP) {
      weft__dsl_error(d, root->mark, "weft.yaml must be a mapping with 'storage' and "
                      "'artifacts', got %s", weft__ynode_describe(root));
    } else {
      weft__dsl_check_keys(d, root, top_keys, "weft.yaml");
      const struct weft__ynode *s = weft__ymap_get(root, "storage", NULL);
      const struct weft__ynode *a = weft__ymap_get(root, "artifacts", NULL);
      if (s && !weft__ynode_is_null(s)) parse_storage(d, s, home, out, &nomem);
      if (a && !weft__ynode_is_null(a)) parse_artifacts(d, a, home, out, &nomem);
      const struct weft__ynode *br = weft__ymap_get(root, "broker", NULL);
      const struct weft__ynode *ex = weft__ymap_get(root, "execution", NULL);
      if (br && !weft__ynode_is_null(br)) parse_broker(d, br, out, &nomem);
      if (ex && !weft__ynode_is_null(ex)) parse_execution(d, ex, out, &nomem);
      const struct weft__ynode *qu = weft__ymap_get(root, "queue", NULL);
      if (qu && !weft__ynode_is_null(qu)) parse_queue(d, qu, home, out, &nomem);
      const struct weft__ynode *rq = weft__ymap_get(root, "run_queue", NULL);
      if (rq && !weft__ynode_is_null(rq)) parse_run_queue(d, rq, out, &nomem);
      const struct weft__ynode *ct = weft__ymap_get(root, "containers", NULL);
      if (ct && !weft__ynode_is_null(ct)) parse_containers(d, ct, out, &nomem);
      const struct weft__ynode *sv = weft__ymap_get(root, "server", NULL);
      if (sv && !weft__ynode_is_null(sv)) weft__parse_server_config(d, sv, &out->server, &nomem);
      const struct weft__ynode *au = weft__ymap_get(root, "auth", NULL);
      if (au && !weft__ynode_is_null(au)) weft__parse_auth_config(d, au, &out->server, &nomem);
      const struct weft__ynode *se = weft__ymap_get(root, "secrets", NULL);
      if (se && !weft__ynode_is_null(se)) parse_secrets(d, se, home, out, &nomem);
      /* Checked here so every open reports its mistakes; the policy itself
       * is read by weft_retention_load when something applies it. */
      const struct weft__ynode *rt = weft__ymap_get(root, "retention", NULL);
      if (rt && !weft__ynode_is_null(rt)) {
        struct weft_retention pol;
        weft__retention_parse(d, rt, &pol, &nomem);
        weft_retention_release(&pol);
      }
      const struct weft__ynode *hk = weft__ymap_get(root, "hooks", NULL);
      if (hk && !weft__ynode_is_null(hk)) {
        if (hk->kind != WEFT__Y_MAP)
          weft__dsl_error(d, hk->mark, "weft.yaml: hooks must be a mapping with on_failure, "
                          "on_success, on_sla_missed, got %s", weft__ynode_describe(hk));
        else {
          weft__dsl_check_keys(d, hk, hooks_keys, "weft.yaml hooks");
          if (weft__dsl_parse_hooks(d, hk, "weft.yaml hooks", 1, &out->hooks)) nomem = 1;
        }
      }
    }
  }
  /* What the file leaves out keeps the defaults. */
  if (!nomem && !out->storage_url && !(out->storage_url = weft_str_printf("sqlite:%s/weft.db", home)))
    nomem = 1;
  if (!nomem && !out->secret_key_file &&
      !(out->secret_key_file = weft_fs_join(home, "secret.key")))
    nomem = 1;
  if (!nomem && !out->artifacts_url &&
      !(out->artifacts_url = weft_str_printf("file:%s/artifacts", home)))
    nomem = 1;
  rc = nomem ? WEFT_ENOMEM : d->n > before ? WEFT_EINVALID : WEFT_OK;
done:
  weft__ydoc_release(&doc);
  if (rc) weft_instance_config_release(out);
  return rc;
}

int weft_instance_config_load(const char *home, struct weft_instance_config *out,
                              weft_error *err) {
  struct weft_buf text = WEFT_BUF_INIT;
  struct weft_diags d = WEFT_DIAGS_INIT;
  char *file = weft_fs_join(home, "weft.yaml");
  memset(out, 0, sizeof *out);
  int rc = file ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!rc && weft_fs_exists(file)) rc = weft_fs_read_file(file, &text, err);
  if (!rc) rc = weft_instance_config_parse(home, file, text.ptr, text.len, out, &d);
  if (rc == WEFT_EINVALID) {
    char *lines = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&lines, &n);
    weft_diags_sort(&d);
    if (f) {
      weft_diags_print(&d, f);
      fclose(f);
    }
    while (n && lines[n - 1] == '\n') lines[--n] = '\0';
    weft_error_set(err, rc, "%s", lines ? lines : "invalid weft.yaml");
    free(lines);
  } else if (rc == WEFT_ENOMEM) {
    weft_error_set(err, rc, "out of memory reading %s", file);
  }
  weft_buf_release(&text);
  weft_diags_release(&d);
  free(file);
  return rc;
}
