/* asset_parse.c: an op's `assets:` (the assets it produces, with group,
 * owners, partitions and a freshness policy) from YAML, checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"
#include "model/model_int.h"

static const char *const asset_keys[] = {"key",    "group",      "description", "owners",
                                          "partitions", "freshness", NULL};
static const char *const freshness_keys[] = {"max_age", NULL};

static const char *scalar(struct weft_diags *d, const struct weft__ynode *n, const char *what,
                          const char *field) {
  const char *t = n && n->kind == WEFT__Y_SCALAR ? weft__ynode_text(n) : NULL;
  if (t && *t) return t;
  char got[96];
  weft__dsl_error(d, n->mark, "%s: %s must be a non-empty string, got %s", what, field,
                  weft__dsl_got(got, sizeof got, n));
  return NULL;
}

static int set_key(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                   struct weft_asset_def *a) {
  const char *t = scalar(d, n, owner, "asset key");
  if (!t) return WEFT_OK;
  if (!weft_asset_key_valid(t)) {
    weft__dsl_error(d, n->mark,
                    "%s: invalid asset key '%s' (letters, digits and '_-.:', at most 200)",
                    owner, t);
    return WEFT_OK;
  }
  return (a->key = strdup(t)) ? WEFT_OK : WEFT_ENOMEM;
}

static int parse_entry(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                       struct weft_asset_def *a) {
  a->mark = n->mark;
  a->partitioned = -1;
  if (n->kind == WEFT__Y_SCALAR) return set_key(d, n, owner, a);
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "%s: an asset is a key or a mapping with 'key', got %s", owner,
                    weft__ynode_describe(n));
    return WEFT_OK;
  }
  char what[260];
  const struct weft__ynode *v = weft__ymap_get(n, "key", NULL);
  snprintf(what, sizeof what, "asset '%s' of %s",
           v && v->kind == WEFT__Y_SCALAR ? weft__ynode_text(v) : "?", owner);
  weft__dsl_check_keys(d, n, asset_keys, what);
  if (!v) {
    weft__dsl_error(d, n->mark, "%s: an asset mapping needs 'key'", owner);
    return WEFT_OK;
  }
  int rc = set_key(d, v, owner, a);
  const char *t;
  if (!rc && (v = weft__ymap_get(n, "group", NULL)) && (t = scalar(d, v, what, "group")))
    rc = (a->group = strdup(t)) ? WEFT_OK : WEFT_ENOMEM;
  if (!rc && (v = weft__ymap_get(n, "description", NULL)) &&
      (t = scalar(d, v, what, "description")))
    rc = (a->description = strdup(t)) ? WEFT_OK : WEFT_ENOMEM;
  if (!rc && (v = weft__ymap_get(n, "owners", NULL))) {
    if (v->kind == WEFT__Y_SCALAR && (t = scalar(d, v, what, "owners"))) {
      if (!(a->owners = calloc(1, sizeof *a->owners)) || !(a->owners[0] = strdup(t)))
        return WEFT_ENOMEM;
      a->n_owners = 1;
    } else if (v->kind == WEFT__Y_SEQ) {
      if (!(a->owners = calloc(v->u.seq.n + 1, sizeof *a->owners))) return WEFT_ENOMEM;
      for (size_t i = 0; i < v->u.seq.n; i++)
        if ((t = scalar(d, v->u.seq.items[i], what, "an owner")) &&
            !(a->owners[a->n_owners++] = strdup(t)))
          return WEFT_ENOMEM;
    } else if (v->kind == WEFT__Y_MAP) {
      weft__dsl_error(d, v->mark, "%s: owners must be a list of names, got a mapping", what);
    }
  }
  if ((v = weft__ymap_get(n, "partitions", NULL)) && !weft__ynode_bool(v, &a->partitioned)) {
    char got[96];
    weft__dsl_error(d, v->mark,
                    "%s: partitions must be true (the job's partitions) or false, got %s", what,
                    weft__dsl_got(got, sizeof got, v));
    a->partitioned = -1;
  }
  if ((v = weft__ymap_get(n, "freshness", NULL))) {
    const struct weft__ynode *m = v->kind == WEFT__Y_MAP ? weft__ymap_get(v, "max_age", NULL) : NULL;
    if (v->kind == WEFT__Y_MAP) weft__dsl_check_keys(d, v, freshness_keys, "freshness");
    if (!m) {
      weft__dsl_error(d, v->mark, "%s: freshness must be a mapping {max_age: DURATION}", what);
    } else {
      struct weft_deadline dl = {0};
      weft__dsl_parse_deadline_node(d, m, what, "freshness max_age", &dl);
      a->max_age_s = dl.s;
      memcpy(a->max_age_text, dl.text, sizeof a->max_age_text);
    }
  }
  return rc;
}

int weft__dsl_parse_assets(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                           struct weft_op_def *def) {
  if (!n || weft__ynode_is_null(n)) return WEFT_OK;
  size_t count = n->kind == WEFT__Y_SEQ ? n->u.seq.n : 1;
  if (n->kind == WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark,
                    "%s: assets must be a list of keys or of mappings with 'key', got a mapping",
                    owner);
    return WEFT_OK;
  }
  if (!(def->assets = calloc(count ? count : 1, sizeof *def->assets))) return WEFT_ENOMEM;
  for (size_t i = 0; i < count; i++) {
    const struct weft__ynode *e = n->kind == WEFT__Y_SEQ ? n->u.seq.items[i] : n;
    struct weft_asset_def *a = &def->assets[def->n_assets];
    int rc = parse_entry(d, e, owner, a);
    if (rc) {
      weft__asset_def_release(a);
      return rc;
    }
    if (!a->key) {
      weft__asset_def_release(a);
      continue;
    }
    for (size_t j = 0; j < def->n_assets; j++)
      if (!strcmp(def->assets[j].key, a->key)) {
        weft__dsl_error(d, e->mark, "%s: asset '%s' is listed twice", owner, a->key);
        weft__asset_def_release(a);
        break;
      }
    if (!a->key) continue;
    if (!a->group && !(a->group = strdup("default"))) return WEFT_ENOMEM;
    def->n_assets++;
  }
  return WEFT_OK;
}
