/* secrets_step.c: what steps see of secrets and variables (secrets.h): the
 * check at launch that every name an op uses exists, the resolution when a
 * step starts (in the process that runs it), and masking of JSON. */
#include <stdlib.h>
#include <string.h>

#include "engine/secrets.h"
#include "util/str.h"

int weft_secrets_op_uses(const struct weft_op_def *def) {
  return def && (def->env_secret.n || def->secret_files.n);
}

/* 1: it exists; 0: not (err names op and name); < 0: the store failed. */
static int check_one(struct weft_store *s, const char *op, const char *kind, const char *name,
                     weft_error *err) {
  char *value = NULL;
  int rc = !strcmp(kind, "secret") ? weft_secret_exists(s, name, err)
                                   : weft_variable_get(s, name, &value, err);
  free(value);
  if (!strcmp(kind, "variable")) rc = rc == WEFT_ENOTFOUND ? 0 : rc ? rc : 1;
  if (rc == 0)
    weft_error_set(err, WEFT_ENOTFOUND, "op '%s' uses %s '%s', which does not exist (set it "
                   "with: weft %s set %s)", op, kind, name, kind, name);
  return rc;
}

int weft_secrets_check_job(struct weft_store *s, const struct weft_job *job,
                           const unsigned char *in_run, weft_error *err) {
  for (size_t i = 0; i < job->n_ops; i++) {
    const struct weft_invocation *inv = &job->ops[i];
    const struct weft_op_def *def = inv->def;
    if ((in_run && !in_run[i]) || !def) continue;
    const struct {
      const struct weft_kvs *kvs;
      int by_value; /* the name is the entry's value (env), else its key */
      const char *kind;
    } refs[] = {{&def->env_secret, 1, "secret"},
                {&def->secret_files, 0, "secret"},
                {&def->env_variable, 1, "variable"}};
    for (size_t r = 0; r < sizeof refs / sizeof *refs; r++)
      for (size_t k = 0; k < refs[r].kvs->n; k++) {
        const struct weft_kv *kv = &refs[r].kvs->v[k];
        int rc = check_one(s, inv->name, refs[r].kind, refs[r].by_value ? kv->value : kv->key,
                           err);
        if (rc <= 0) return rc ? rc : WEFT_ENOTFOUND;
      }
  }
  return WEFT_OK;
}

void weft_step_secrets_release(struct weft_step_secrets *sec) {
  for (int f = 0; f < 2; f++) {
    struct weft_kvs *kvs = f ? &sec->files : &sec->env;
    for (size_t i = 0; i < kvs->n; i++) {
      free(kvs->v[i].key);
      if (kvs->v[i].value) {
        memset(kvs->v[i].value, 0, strlen(kvs->v[i].value));
        free(kvs->v[i].value);
      }
    }
    free(kvs->v);
  }
  memset(sec, 0, sizeof *sec);
}

/* Appends key -> value (value taken) to kvs, which has room. */
static int put(struct weft_kvs *kvs, const char *key, char *value) {
  struct weft_kv *kv = &kvs->v[kvs->n];
  kv->value = value;
  if (!(kv->key = weft_str_dup(key))) return WEFT_ENOMEM;
  kvs->n++;
  return WEFT_OK;
}

/* A secret's value, added to mask; the error names the op. */
static int secret_value(struct weft_store *s, const struct weft_secret_keyring *kr,
                        const struct weft_op_def *def, const char *name, struct weft_mask *mask,
                        char **value, weft_error *err) {
  size_t len = 0;
  int rc;
  if (!kr || !kr->n)
    return weft_error_set(err, WEFT_EINVALID, "op '%s' uses secret '%s' but no secret key is "
                          "loaded", def->name, name);
  if ((rc = weft_secret_get(s, kr, name, value, &len, err))) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    return weft_error_set(err, rc, "op '%s': %s", def->name, why);
  }
  if (strlen(*value) != len) {
    weft_secret_free(*value, len);
    *value = NULL;
    return weft_error_set(err, WEFT_EINVALID, "op '%s': secret '%s' holds a NUL byte: it cannot "
                          "go into an environment variable or be masked as text", def->name,
                          name);
  }
  if (weft_mask_add(mask, *value, len)) {
    weft_secret_free(*value, len);
    *value = NULL;
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return WEFT_OK;
}

int weft_secrets_resolve_step(struct weft_store *s, const struct weft_secret_keyring *kr,
                              const struct weft_op_def *def, struct weft_mask *mask,
                              struct weft_step_secrets *out, weft_error *err) {
  memset(out, 0, sizeof *out);
  out->mask = mask;
  size_t n_env = def->env_secret.n + def->env_variable.n, n_files = def->secret_files.n;
  if ((n_env && !(out->env.v = calloc(n_env, sizeof *out->env.v))) ||
      (n_files && !(out->files.v = calloc(n_files, sizeof *out->files.v))))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = WEFT_OK;
  for (size_t i = 0; !rc && i < def->env_secret.n; i++) {
    char *v = NULL;
    const struct weft_kv *kv = &def->env_secret.v[i];
    if (!(rc = secret_value(s, kr, def, kv->value, mask, &v, err)) && put(&out->env, kv->key, v))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  for (size_t i = 0; !rc && i < def->secret_files.n; i++) {
    char *v = NULL;
    const struct weft_kv *kv = &def->secret_files.v[i];
    if (!(rc = secret_value(s, kr, def, kv->key, mask, &v, err)) && put(&out->files, kv->key, v))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  for (size_t i = 0; !rc && i < def->env_variable.n; i++) {
    char *v = NULL;
    const struct weft_kv *kv = &def->env_variable.v[i];
    if ((rc = weft_variable_get(s, kv->value, &v, err))) {
      char why[sizeof err->msg];
      snprintf(why, sizeof why, "%s", err->msg);
      weft_error_set(err, rc, "op '%s': %s", def->name, why);
    } else if (put(&out->env, kv->key, v)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
  }
  if (rc) weft_step_secrets_release(out);
  return rc;
}

/* ---- masking JSON ---------------------------------------------------------------------- */

int weft_secrets_mask_json(const struct weft_mask *m, json_t *v) {
  if (!weft_mask_count(m) || !v) return WEFT_OK;
  if (json_is_string(v)) {
    const char *t = json_string_value(v);
    size_t len = json_string_length(v);
    if (!weft_mask_hits(m, t, len)) return WEFT_OK;
    size_t out_len = 0;
    char *masked = weft_mask_bytes(m, t, len, &out_len);
    int rc = masked && !json_string_setn_nocheck(v, masked, out_len) ? WEFT_OK : WEFT_ENOMEM;
    free(masked);
    return rc;
  }
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++)
      if (weft_secrets_mask_json(m, json_array_get(v, i))) return WEFT_ENOMEM;
    return WEFT_OK;
  }
  if (!json_is_object(v)) return WEFT_OK;
  const char *k;
  json_t *item;
  void *tmp;
  json_t *renamed = NULL;
  json_object_foreach_safe(v, tmp, k, item) {
    if (weft_secrets_mask_json(m, item)) return WEFT_ENOMEM;
    if (!weft_mask_hits(m, k, strlen(k))) continue;
    /* A key holding a value: moved under its masked name. */
    char *mk = weft_mask_text(m, k);
    if (!mk || (!renamed && !(renamed = json_object())) ||
        json_object_set(renamed, mk, item) || json_object_del(v, k)) {
      free(mk);
      json_decref(renamed);
      return WEFT_ENOMEM;
    }
    free(mk);
  }
  int rc = renamed && json_object_update(v, renamed) ? WEFT_ENOMEM : WEFT_OK;
  json_decref(renamed);
  return rc;
}
