/* op_container.c: an op's container settings from YAML: resources: (limits,
 * GPUs) and mounts: (host paths and named volumes), for ops and run configs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers/containers.h"
#include "dsl/dsl_int.h"
#include "util/buf.h"
#include "util/str.h"

static const char *const resources_keys[] = {"cpus", "memory", "gpus", "shm", NULL};
static const char *const mount_keys[] = {"source", "target", "read_only", NULL};

#define NOMEM_IF(x)            \
  do {                         \
    if (x) return WEFT_ENOMEM; \
  } while (0)

/* A size in bytes: a number, or "2Gi", "512Mi", "1G" (containers.h). */
static int64_t parse_size(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                          const char *field) {
  const char *t = n->kind == WEFT__Y_SCALAR ? weft__ynode_text(n) : NULL;
  int64_t v = t ? weft_ctr_parse_bytes(t) : -1;
  if (v > 0) return v;
  char got[96];
  weft__dsl_error(d, n->mark,
                  "%s: resources.%s must be a size such as 512Mi, 2Gi or 1G, got %s", owner,
                  field, weft__dsl_got(got, sizeof got, n));
  return 0;
}

/* gpus: all | N | [id, ...], stored as "all", "N" or "device=id,id" (the
 * spelling of `docker run --gpus`): a list of one id, [1], is GPU 1, where
 * the count 1 is any one GPU. */
static int parse_gpus(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                      struct weft_resources *r) {
  struct weft_buf b = WEFT_BUF_INIT;
  long long count;
  const char *t = n->kind == WEFT__Y_SCALAR ? weft__ynode_text(n) : NULL;
  if (t && (!strcmp(t, "all") || (weft__ynode_int(n, &count) && count > 0))) {
    NOMEM_IF(!(r->gpus = strdup(t)));
    return WEFT_OK;
  }
  if (n->kind == WEFT__Y_SEQ && n->u.seq.n) {
    if (weft_buf_adds(&b, "device=")) return WEFT_ENOMEM;
    for (size_t i = 0; i < n->u.seq.n; i++) {
      const char *id = weft__ynode_text(n->u.seq.items[i]);
      if (!id || !*id || strchr(id, ',')) {
        weft_buf_release(&b);
        goto bad;
      }
      if ((i && weft_buf_addc(&b, ',')) || weft_buf_adds(&b, id)) {
        weft_buf_release(&b);
        return WEFT_ENOMEM;
      }
    }
    NOMEM_IF(!(r->gpus = weft_buf_detach(&b, NULL)));
    return WEFT_OK;
  }
bad:;
  char got[96];
  weft__dsl_error(d, n->mark, "%s: resources.gpus must be all, a count or a list of GPU ids, "
                  "got %s", owner, weft__dsl_got(got, sizeof got, n));
  return WEFT_OK;
}

/* resources: {cpus: 1.5, memory: 2Gi, gpus: all|N|[ids], shm: 1Gi} */
int weft__dsl_parse_resources(struct weft_diags *d, const struct weft__ynode *n,
                           const char *owner, struct weft_resources *r) {
  if (!n || weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "%s: resources must be a mapping of cpus, memory, gpus and "
                    "shm, got %s", owner, weft__ynode_describe(n));
    return WEFT_OK;
  }
  char what[240];
  snprintf(what, sizeof what, "resources of %s", owner);
  weft__dsl_check_keys(d, n, resources_keys, what);
  const struct weft__ynode *v;
  if ((v = weft__ymap_get(n, "cpus", NULL)) && !weft__ynode_is_null(v)) {
    double x;
    if (weft__ynode_number(v, &x) && x > 0 && x <= 4096) {
      r->cpus = x;
    } else {
      char got[96];
      weft__dsl_error(d, v->mark, "%s: resources.cpus must be a number of CPUs > 0 such as "
                      "1.5, got %s", owner, weft__dsl_got(got, sizeof got, v));
    }
  }
  if ((v = weft__ymap_get(n, "memory", NULL)) && !weft__ynode_is_null(v))
    r->memory = parse_size(d, v, owner, "memory");
  if ((v = weft__ymap_get(n, "shm", NULL)) && !weft__ynode_is_null(v))
    r->shm = parse_size(d, v, owner, "shm");
  if ((v = weft__ymap_get(n, "gpus", NULL)) && !weft__ynode_is_null(v))
    return parse_gpus(d, v, owner, r);
  return WEFT_OK;
}

/* Whether s names a named volume: [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
static int volume_name_ok(const char *s) {
  if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
                 (s[0] >= '0' && s[0] <= '9')))
    return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '.' || *p == '-'))
      return 0;
  return 1;
}

/* Checks one mount; 1 when good (after a diagnostic at mark when not). */
static int mount_ok(struct weft_diags *d, struct weft_mark mark, const char *owner,
                    const char *source, const char *target) {
  if (!source || !*source || !(source[0] == '/' || volume_name_ok(source))) {
    weft__dsl_error(d, mark, "%s: a mount's source must be an absolute host path or a volume "
                    "name, got '%s'", owner, source ? source : "");
    return 0;
  }
  if (!target || target[0] != '/' || !strcmp(target, "/")) {
    weft__dsl_error(d, mark, "%s: a mount's target must be an absolute path in the container, "
                    "got '%s'", owner, target ? target : "");
    return 0;
  }
  if (!strcmp(target, "/weft") || !strncmp(target, "/weft/", 6)) {
    weft__dsl_error(d, mark, "%s: mount target '%s' is weft's own (/weft holds the step "
                    "protocol's files)", owner, target);
    return 0;
  }
  return 1;
}

/* mounts: ["SRC:DST[:ro|rw]", {source, target, read_only}, ...] */
int weft__dsl_parse_mounts(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                           struct weft_mount **out, size_t *n_out) {
  *out = NULL;
  *n_out = 0;
  if (!n || weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_SEQ) {
    weft__dsl_error(d, n->mark, "%s: mounts must be a list of \"SOURCE:TARGET[:ro]\" or "
                    "{source, target, read_only}, got %s", owner, weft__ynode_describe(n));
    return WEFT_OK;
  }
  if (!n->u.seq.n) return WEFT_OK;
  NOMEM_IF(!(*out = calloc(n->u.seq.n, sizeof **out)));
  for (size_t i = 0; i < n->u.seq.n; i++) {
    const struct weft__ynode *m = n->u.seq.items[i];
    char *source = NULL, *target = NULL;
    int ro = 0, bad = 0;
    if (m->kind == WEFT__Y_SCALAR && weft__ynode_text(m)) {
      const char *t = weft__ynode_text(m), *c1 = strchr(t, ':');
      const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
      if (!c1) {
        bad = 1;
      } else {
        source = strndup(t, (size_t)(c1 - t));
        target = c2 ? strndup(c1 + 1, (size_t)(c2 - c1 - 1)) : weft_str_dup(c1 + 1);
        if (!source || !target) {
          free(source);
          free(target);
          return WEFT_ENOMEM;
        }
        if (c2 && !strcmp(c2 + 1, "ro")) ro = 1;
        else if (c2 && strcmp(c2 + 1, "rw")) bad = 1;
      }
      if (bad)
        weft__dsl_error(d, m->mark, "%s: mount '%s' must be SOURCE:TARGET, SOURCE:TARGET:ro "
                        "or SOURCE:TARGET:rw", owner, t);
    } else if (m->kind == WEFT__Y_MAP) {
      char what[240];
      snprintf(what, sizeof what, "mount of %s", owner);
      weft__dsl_check_keys(d, m, mount_keys, what);
      const char *s = weft__ynode_text(weft__ymap_get(m, "source", NULL));
      const char *t = weft__ynode_text(weft__ymap_get(m, "target", NULL));
      const struct weft__ynode *r = weft__ymap_get(m, "read_only", NULL);
      if (r && !weft__ynode_bool(r, &ro)) {
        weft__dsl_error(d, r->mark, "%s: a mount's read_only must be true or false", owner);
        bad = 1;
      }
      source = s ? weft_str_dup(s) : NULL;
      target = t ? weft_str_dup(t) : NULL;
      if ((s && !source) || (t && !target)) {
        free(source);
        free(target);
        return WEFT_ENOMEM;
      }
    } else {
      weft__dsl_error(d, m->mark, "%s: each mount is \"SOURCE:TARGET[:ro]\" or {source, "
                      "target, read_only}, got %s", owner, weft__ynode_describe(m));
      bad = 1;
    }
    if (bad || !mount_ok(d, m->mark, owner, source, target)) {
      free(source);
      free(target);
      continue;
    }
    (*out)[*n_out] = (struct weft_mount){source, target, ro};
    (*n_out)++;
  }
  return WEFT_OK;
}
