/* containers.c: the container engine wrappers (the only callers of the method
 * table), the engine's default address, image references and byte sizes. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "containers/containers_int.h"
#include "util/str.h"

const char *weft_ctr_pull_name(enum weft_ctr_pull p) {
  switch (p) {
    case WEFT_CTR_PULL_ALWAYS:
      return "always";
    case WEFT_CTR_PULL_NEVER:
      return "never";
    case WEFT_CTR_PULL_MISSING:
      break;
  }
  return "missing";
}

void weft_ctr_image_release(struct weft_ctr_image *img) {
  free(img->id);
  free(img->digest);
  img->id = img->digest = NULL;
}

void weft_ctr_state_release(struct weft_ctr_state *st) {
  free(st->status);
  st->status = NULL;
}

char *weft_ctr_default_url(void) {
  const char *env = getenv("DOCKER_HOST");
  if (env && *env) return weft_str_dup(env);
  static const char *const paths[] = {"/run/podman/podman.sock", "/var/run/docker.sock"};
  for (size_t i = 0; i < 2; i++)
    if (!access(paths[i], F_OK)) return weft_str_printf("unix://%s", paths[i]);
  return weft_str_dup("unix:///var/run/docker.sock");
}

int weft_ctr_engine_open(const char *url, struct weft_ctr_engine **out, weft_error *err) {
  *out = NULL;
  if (!url) return weft_error_set(err, WEFT_EINVALID, "no container engine address");
  return weft__ctr_docker_new(url, out, err);
}

void weft_ctr_engine_free(struct weft_ctr_engine *e) {
  if (!e) return;
  free(e->auth_file);
  e->auth_file = NULL;
  e->m->free(e);
}

int weft_ctr_engine_set_auth_file(struct weft_ctr_engine *e, const char *auth_file) {
  char *copy = auth_file ? weft_str_dup(auth_file) : NULL;
  if (auth_file && !copy) return WEFT_ENOMEM;
  free(e->auth_file);
  e->auth_file = copy;
  return WEFT_OK;
}

char *weft_ctr_default_auth_file(const char *home) {
  char *c[4] = {NULL, NULL, NULL, NULL};
  const char *v;
  if (home) c[0] = weft_str_printf("%s/auth.json", home);
  if ((v = getenv("REGISTRY_AUTH_FILE")) && *v) c[1] = weft_str_dup(v);
  if ((v = getenv("DOCKER_CONFIG")) && *v) c[2] = weft_str_printf("%s/config.json", v);
  if ((v = getenv("HOME")) && *v) c[3] = weft_str_printf("%s/.docker/config.json", v);
  char *found = NULL;
  for (int i = 0; i < 4; i++) {
    if (!found && c[i] && !access(c[i], R_OK)) found = c[i];
    else free(c[i]);
  }
  return found;
}

int weft_ctr_ping(struct weft_ctr_engine *e, char **version, weft_error *err) {
  return e->m->ping(e, version, err);
}

int weft_ctr_image_inspect(struct weft_ctr_engine *e, const char *image,
                           struct weft_ctr_image *out, weft_error *err) {
  return e->m->image_inspect(e, image, out, err);
}

int weft_ctr_image_pull(struct weft_ctr_engine *e, const char *image, weft_error *err) {
  return e->m->image_pull(e, image, err);
}

int weft_ctr_image_ensure(struct weft_ctr_engine *e, const char *image,
                          enum weft_ctr_pull policy, struct weft_ctr_image *out,
                          weft_error *err) {
  memset(out, 0, sizeof *out);
  int rc = WEFT_ENOTFOUND;
  /* A reference by digest names content, not a tag that may move: a copy
   * on the engine is that very image, so even `always` need not pull it
   * (and an image id, sha256:..., cannot be pulled at all). */
  int pinned = !strncmp(image, "sha256:", 7) || strstr(image, "@sha256:");
  if (policy != WEFT_CTR_PULL_ALWAYS || pinned) {
    rc = weft_ctr_image_inspect(e, image, out, err);
    if (rc != WEFT_ENOTFOUND) return rc;
    if (policy == WEFT_CTR_PULL_NEVER)
      return weft_error_set(err, WEFT_ENOTFOUND,
                            "image '%s' is not on the container engine at %s and "
                            "containers.pull is never", image, e->url);
  }
  if ((rc = weft_ctr_image_pull(e, image, err))) return rc;
  return weft_ctr_image_inspect(e, image, out, err);
}

int weft_ctr_create(struct weft_ctr_engine *e, const struct weft_ctr_spec *spec, char **id,
                    weft_error *err) {
  return e->m->create(e, spec, id, err);
}

int weft_ctr_start(struct weft_ctr_engine *e, const char *id, weft_error *err) {
  return e->m->start(e, id, err);
}

int weft_ctr_logs(struct weft_ctr_engine *e, const char *id,
                  const struct weft_ctr_log_sink *sink, weft_error *err) {
  return e->m->logs(e, id, sink, err);
}

int weft_ctr_attach_start(struct weft_ctr_engine *e, const char *id,
                          const struct weft_ctr_log_sink *sink, weft_error *err) {
  return e->m->attach_start(e, id, sink, err);
}

int weft_ctr_wait(struct weft_ctr_engine *e, const char *id, int *status_code,
                  weft_error *err) {
  return e->m->wait(e, id, status_code, err);
}

int weft_ctr_inspect(struct weft_ctr_engine *e, const char *id, struct weft_ctr_state *out,
                     weft_error *err) {
  return e->m->inspect(e, id, out, err);
}

int weft_ctr_stop(struct weft_ctr_engine *e, const char *id, int grace_s, weft_error *err) {
  return e->m->stop(e, id, grace_s, err);
}

int weft_ctr_remove(struct weft_ctr_engine *e, const char *id, weft_error *err) {
  return e->m->remove(e, id, err);
}

int weft_ctr_list(struct weft_ctr_engine *e, const char *label, json_t **out, weft_error *err) {
  return e->m->list(e, label, out, err);
}

/* ---- sizes ---- */

int64_t weft_ctr_parse_bytes(const char *s) {
  static const struct {
    const char *suffix;
    double mult;
  } units[] = {{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
               {"Ti", 1099511627776.0}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6},
               {"G", 1e9}, {"T", 1e12}, {"", 1}};
  if (!s || !*s || !(isdigit((unsigned char)*s) || *s == '.')) return -1;
  char *end = NULL;
  double v = strtod(s, &end);
  if (!end || end == s || !isfinite(v) || v <= 0) return -1;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(end, units[i].suffix)) continue;
    double bytes = v * units[i].mult;
    if (bytes < 1 || bytes > 9.0e18) return -1;
    return (int64_t)llround(bytes);
  }
  return -1;
}

void weft_ctr_format_bytes(int64_t n, char *buf, size_t size) {
  static const char *const names[] = {"KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) {
    snprintf(buf, size, "%lld bytes", (long long)n);
    return;
  }
  double v = (double)n;
  size_t u = 0;
  v /= 1024;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    u++;
  }
  if (v == floor(v)) snprintf(buf, size, "%.0f %s", v, names[u]);
  else snprintf(buf, size, "%.1f %s", v, names[u]);
}

/* ---- image references ---- */

/* [registry[:port]/]path/components[:tag][@algo:hex], the grammar of the
 * distribution project's reference package, loosely: path components of
 * lower-case letters, digits and separators (. _ __ -), a tag of up to 128
 * word characters, dots and dashes. */
static int component_ok(const char *s, size_t n) {
  if (!n || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-')) return 0;
  }
  return 1;
}

int weft_ctr_image_ref_ok(const char *ref, const char **why) {
  *why = NULL;
  if (!ref || !*ref) return *why = "an image reference must not be empty", 0;
  if (strlen(ref) > 255) return *why = "an image reference has at most 255 characters", 0;
  for (const char *p = ref; *p; p++)
    if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
      return *why = "an image reference has no spaces or control characters", 0;
  const char *at = strchr(ref, '@');
  size_t name_end = at ? (size_t)(at - ref) : strlen(ref);
  if (at) {
    const char *colon = strchr(at + 1, ':');
    size_t hex = colon ? strlen(colon + 1) : 0;
    if (!colon || colon == at + 1 || hex < 32)
      return *why = "a digest looks like @sha256: followed by its hex", 0;
    for (const char *p = colon + 1; *p; p++)
      if (!isxdigit((unsigned char)*p)) return *why = "a digest's hex has only 0-9 and a-f", 0;
  }
  /* The tag: after the last ':' that follows the last '/'. */
  size_t tag_at = name_end;
  for (size_t i = name_end; i > 0; i--) {
    if (ref[i - 1] == '/') break;
    if (ref[i - 1] == ':') {
      tag_at = i - 1;
      break;
    }
  }
  if (tag_at < name_end) {
    size_t n = name_end - tag_at - 1;
    if (!n || n > 128) return *why = "a tag has 1 to 128 characters", 0;
    for (size_t i = tag_at + 1; i < name_end; i++) {
      unsigned char c = (unsigned char)ref[i];
      if (!(isalnum(c) || c == '_' || c == '.' || c == '-'))
        return *why = "a tag has only letters, digits, '_', '.' and '-'", 0;
    }
  }
  /* The first component may be a registry host[:port] (it has a '.' or ':'
   * or is localhost); the rest are path components. */
  size_t start = 0, n_comp = 0;
  while (start <= tag_at) {
    const char *slash = memchr(ref + start, '/', tag_at - start);
    size_t end = slash ? (size_t)(slash - ref) : tag_at;
    const char *c = ref + start;
    size_t len = end - start;
    int host = !n_comp && slash &&
               (memchr(c, '.', len) || memchr(c, ':', len) || (len == 9 && !strncmp(c, "localhost", 9)));
    if (host) {
      for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char)c[i]) || c[i] == '.' || c[i] == '-' || c[i] == ':'))
          return *why = "a registry host has only letters, digits, '.', '-' and a :port", 0;
    } else if (!component_ok(c, len)) {
      return *why = "a repository name has lower-case letters, digits and '.', '_', '-' "
                    "between them, in '/'-separated parts", 0;
    }
    n_comp++;
    if (!slash) break;
    start = end + 1;
  }
  return 1;
}
