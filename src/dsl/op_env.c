/* op_env.c: an op's `env:` mapping and `secrets:` list: plain values,
 * {from_env: VAR} (one of weft's own variables; credentials are not
 * inherited), {secret: NAME} and {variable: NAME} (the instance's secrets
 * and variables, engine/secrets.h), and secrets mounted as files. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"

static const char *const ref_keys[] = {"from_env", "secret", "variable", NULL};
static const char *const secret_keys[] = {"name", "file", "env", NULL};

static int env_name_ok(const char *s) {
  if (!(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (s++; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

/* As engine/secrets.h weft_secret_name_ok (the dsl layer sits below it). */
static int secret_name_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n > 128 || *s == '.') return 0;
  for (; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.')) return 0;
  return 1;
}

static int kvs_has(const struct weft_kvs *kvs, const char *key) {
  for (size_t i = 0; i < kvs->n; i++)
    if (!strcmp(kvs->v[i].key, key)) return 1;
  return 0;
}

/* Appends to kvs, growing it by one. */
static int push(struct weft_kvs *kvs, const char *key, const char *value) {
  struct weft_kv *v = realloc(kvs->v, (kvs->n + 1) * sizeof *v);
  if (!v) return WEFT_ENOMEM;
  kvs->v = v;
  struct weft_kv *kv = &kvs->v[kvs->n];
  kv->key = strdup(key);
  kv->value = strdup(value);
  if (!kv->key || !kv->value) {
    free(kv->key);
    free(kv->value);
    return WEFT_ENOMEM;
  }
  kvs->n++;
  return WEFT_OK;
}

/* NAME: {from_env: VAR} | {secret: S} | {variable: V}: exactly one. */
static int parse_ref(struct weft_diags *d, const struct weft__ynode *v, const char *owner,
                     const char *key, struct weft_op_def *def) {
  weft__dsl_check_keys(d, v, ref_keys, "an env value");
  if (v->u.map.n != 1) {
    weft__dsl_error(d, v->mark, "%s: env '%s' takes one of {from_env: VAR}, {secret: NAME} or "
                    "{variable: NAME}", owner, key);
    return WEFT_OK;
  }
  const char *kind = v->u.map.pairs[0].key->u.scalar.text;
  const struct weft__ynode *f = v->u.map.pairs[0].value;
  const char *name = f->kind == WEFT__Y_SCALAR ? weft__ynode_text(f) : NULL;
  if (!strcmp(kind, "from_env")) {
    if (!name || !env_name_ok(name)) {
      weft__dsl_error(d, f->mark, "%s: env '%s': from_env must name one of weft's environment "
                      "variables, such as {from_env: %s}", owner, key, key);
      return WEFT_OK;
    }
    return push(&def->env_from, key, name);
  }
  int secret = !strcmp(kind, "secret");
  if (!secret && strcmp(kind, "variable")) return WEFT_OK; /* reported by check_keys */
  if (!name || !secret_name_ok(name)) {
    weft__dsl_error(d, f->mark, "%s: env '%s': %s must name a%s (1-128 letters, digits, '_', "
                    "'-' or '.'), such as {%s: api_token}", owner, key, kind,
                    secret ? " secret" : " variable", kind);
    return WEFT_OK;
  }
  return push(secret ? &def->env_secret : &def->env_variable, key, name);
}

int weft__dsl_parse_env(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                        struct weft_op_def *def) {
  if (!n || weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "%s: env must be a mapping of names to values, got %s", owner,
                    weft__ynode_describe(n));
    return WEFT_OK;
  }
  for (size_t i = 0; i < n->u.map.n; i++) {
    const struct weft__ynode *k = n->u.map.pairs[i].key, *v = n->u.map.pairs[i].value;
    const char *key = k->u.scalar.text;
    int rc = WEFT_OK;
    if (!env_name_ok(key)) {
      weft__dsl_error(d, k->mark, "%s: '%s' is not a valid environment variable name", owner,
                      key);
    } else if (v->kind == WEFT__Y_MAP) {
      rc = parse_ref(d, v, owner, key, def);
    } else if (v->kind != WEFT__Y_SCALAR || (!weft__ynode_is_null(v) && !weft__ynode_text(v))) {
      weft__dsl_error(d, v->mark, "%s: env '%s' must be a scalar value, {from_env: VAR}, "
                      "{secret: NAME} or {variable: NAME}, got %s", owner, key,
                      weft__ynode_describe(v));
    } else {
      rc = push(&def->env, key, weft__ynode_is_null(v) ? "" : v->u.scalar.text);
    }
    if (rc) return rc;
  }
  return WEFT_OK;
}

/* One entry of secrets: {name: S, file: true} and/or {name: S, env: VAR}. */
static int parse_secret(struct weft_diags *d, const struct weft__ynode *e, const char *owner,
                        struct weft_op_def *def) {
  if (e->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, e->mark, "%s: each of secrets must be a mapping such as {name: api_token, "
                    "file: true}, got %s", owner, weft__ynode_describe(e));
    return WEFT_OK;
  }
  weft__dsl_check_keys(d, e, secret_keys, "a secrets entry");
  const struct weft__ynode *nn = weft__ymap_get(e, "name", NULL);
  const struct weft__ynode *fn = weft__ymap_get(e, "file", NULL);
  const struct weft__ynode *en = weft__ymap_get(e, "env", NULL);
  const char *name = nn && nn->kind == WEFT__Y_SCALAR ? weft__ynode_text(nn) : NULL;
  if (!name || !secret_name_ok(name)) {
    weft__dsl_error(d, nn ? nn->mark : e->mark, "%s: a secrets entry needs name: the secret's "
                    "name (1-128 letters, digits, '_', '-' or '.')", owner);
    return WEFT_OK;
  }
  const char *ft = fn && fn->kind == WEFT__Y_SCALAR ? weft__ynode_text(fn) : NULL;
  int file = ft && !strcmp(ft, "true");
  if (fn && !file && !(ft && !strcmp(ft, "false")))
    weft__dsl_error(d, fn->mark, "%s: secret '%s': file must be true or false", owner, name);
  const char *var = en && en->kind == WEFT__Y_SCALAR ? weft__ynode_text(en) : NULL;
  if (en && (!var || !env_name_ok(var))) {
    weft__dsl_error(d, en->mark, "%s: secret '%s': env must be an environment variable name",
                    owner, name);
    return WEFT_OK;
  }
  if (!file && !var) {
    weft__dsl_error(d, e->mark, "%s: secret '%s' goes nowhere: say file: true (a file in "
                    "$WEFT_SECRETS_DIR) or env: VAR", owner, name);
    return WEFT_OK;
  }
  int rc = WEFT_OK;
  if (file && !kvs_has(&def->secret_files, name)) rc = push(&def->secret_files, name, name);
  if (!rc && var) {
    if (kvs_has(&def->env, var) || kvs_has(&def->env_from, var) ||
        kvs_has(&def->env_secret, var) || kvs_has(&def->env_variable, var))
      weft__dsl_error(d, en->mark, "%s: secret '%s': env '%s' is set in env: already", owner,
                      name, var);
    else
      rc = push(&def->env_secret, var, name);
  }
  return rc;
}

int weft__dsl_parse_secrets(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                            struct weft_op_def *def) {
  if (!n || weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_SEQ) {
    weft__dsl_error(d, n->mark, "%s: secrets must be a list such as [{name: api_token, file: "
                    "true}], got %s", owner, weft__ynode_describe(n));
    return WEFT_OK;
  }
  for (size_t i = 0; i < n->u.seq.n; i++) {
    int rc = parse_secret(d, n->u.seq.items[i], owner, def);
    if (rc) return rc;
  }
  return WEFT_OK;
}
