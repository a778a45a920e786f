/* op_env.c: an op's `env:` mapping: plain values, and {from_env: VAR}, which
 * hands a step one of weft's own variables (credentials are not inherited). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"

static const char *const from_env_keys[] = {"from_env", NULL};

static int env_name_ok(const char *s) {
  if (!(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (s++; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

static int push(struct weft_kvs *kvs, const char *key, const char *value) {
  struct weft_kv *kv = &kvs->v[kvs->n];
  kv->key = strdup(key);
  kv->value = strdup(value);
  kvs->n++;
  return kv->key && kv->value ? WEFT_OK : WEFT_ENOMEM;
}

int weft__dsl_parse_env(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                        struct weft_kvs *env, struct weft_kvs *env_from) {
  if (!n || weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "%s: env must be a mapping of names to values, got %s", owner,
                    weft__ynode_describe(n));
    return WEFT_OK;
  }
  size_t cap = n->u.map.n ? n->u.map.n : 1;
  if (!(env->v = calloc(cap, sizeof *env->v)) || !(env_from->v = calloc(cap, sizeof *env_from->v)))
    return WEFT_ENOMEM;
  for (size_t i = 0; i < n->u.map.n; i++) {
    const struct weft__ynode *k = n->u.map.pairs[i].key, *v = n->u.map.pairs[i].value;
    const char *key = k->u.scalar.text;
    if (!env_name_ok(key)) {
      weft__dsl_error(d, k->mark, "%s: '%s' is not a valid environment variable name", owner,
                      key);
      continue;
    }
    if (v->kind == WEFT__Y_MAP) {
      weft__dsl_check_keys(d, v, from_env_keys, "an env value");
      const struct weft__ynode *f = weft__ymap_get(v, "from_env", NULL);
      const char *var = f && f->kind == WEFT__Y_SCALAR ? weft__ynode_text(f) : NULL;
      if (!var || !env_name_ok(var)) {
        weft__dsl_error(d, f ? f->mark : v->mark, "%s: env '%s': from_env must name one of "
                        "weft's environment variables, such as {from_env: %s}", owner, key,
                        key);
        continue;
      }
      if (push(env_from, key, var)) return WEFT_ENOMEM;
      continue;
    }
    if (v->kind != WEFT__Y_SCALAR || (!weft__ynode_is_null(v) && !weft__ynode_text(v))) {
      weft__dsl_error(d, v->mark, "%s: env '%s' must be a scalar value or {from_env: VAR}, "
                      "got %s", owner, key, weft__ynode_describe(v));
      continue;
    }
    if (push(env, key, weft__ynode_is_null(v) ? "" : v->u.scalar.text)) return WEFT_ENOMEM;
  }
  return WEFT_OK;
}
