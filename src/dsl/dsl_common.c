/* dsl_common.c: helpers every DSL parser shares: diagnostics with marks,
 * unknown-key checks with did-you-mean, value/type messages, durations. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"
#include "util/buf.h"
#include "util/str.h"

void weft__dsl_error(struct weft_diags *d, struct weft_mark at, const char *fmt,
                     ...) {
  struct weft_buf b = WEFT_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  int rc = weft_buf_vaddf(&b, fmt, ap);
  va_end(ap);
  if (!rc) weft_diags_addf(d, at.file, at.line, at.col, "%s", b.ptr);
  weft_buf_release(&b);
}

const char *weft__dsl_suggest(char *buf, size_t size, const char *word,
                              const char *const *candidates, size_t n) {
  const char *s = word ? weft_str_suggest(word, candidates, n) : NULL;
  /* replacing every letter of a short word is no typo ('zz' is not 'a') */
  int dist = s ? weft_str_distance(word, s) : 0;
  if (!s || !strcmp(s, word) || dist >= (int)strlen(word) ||
      dist >= (int)strlen(s)) {
    buf[0] = 0;
  } else {
    snprintf(buf, size, " (did you mean '%s'?)", s);
  }
  return buf;
}

void weft__dsl_check_keys(struct weft_diags *d, const struct weft__ynode *map,
                          const char *const *allowed, const char *what) {
  if (!map || map->kind != WEFT__Y_MAP) return;
  size_t n_allowed = 0;
  while (allowed[n_allowed]) n_allowed++;
  for (size_t i = 0; i < map->u.map.n; i++) {
    const struct weft__ynode *k = map->u.map.pairs[i].key;
    const char *key = k->u.scalar.text;
    size_t j = 0;
    while (j < n_allowed && strcmp(allowed[j], key)) j++;
    if (j < n_allowed) continue;
    char hint[160];
    weft__dsl_suggest(hint, sizeof hint, key, allowed, n_allowed);
    if (hint[0]) {
      weft__dsl_error(d, k->mark, "unknown key '%s' in %s%s", key, what, hint);
    } else {
      struct weft_buf list = WEFT_BUF_INIT;
      for (j = 0; j < n_allowed; j++)
        weft_buf_addf(&list, "%s%s", j ? ", " : "", allowed[j]);
      weft__dsl_error(d, k->mark, "unknown key '%s' in %s (known keys: %s)",
                      key, what, list.ptr);
      weft_buf_release(&list);
    }
  }
}

const char *weft__dsl_got(char *buf, size_t size, const struct weft__ynode *n) {
  if (!weft__ynode_text(n)) {
    snprintf(buf, size, "%s", weft__ynode_describe(n));
  } else if (n->u.scalar.len > 40) {
    snprintf(buf, size, "'%.37s...'", n->u.scalar.text);
  } else {
    snprintf(buf, size, "'%s'", n->u.scalar.text);
  }
  return buf;
}

const char *weft__dsl_json_kind(const json_t *v) {
  switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
      return "a mapping";
    case JSON_ARRAY:
      return "a list";
    case JSON_STRING:
      return "a string";
    case JSON_INTEGER:
      return "an integer";
    case JSON_REAL:
      return "a float";
    case JSON_TRUE:
    case JSON_FALSE:
      return "a boolean";
    case JSON_NULL:
      break;
  }
  return "null";
}

int weft__dsl_check_value(struct weft_diags *d, struct weft_mark at,
                          enum weft_type t, const json_t *v, const char *what) {
  if (weft_type_check_json(t, v)) return 1;
  char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
  if (text && strlen(text) > 40) strcpy(text + 37, "...");
  if (text && (json_is_object(v) || json_is_array(v) || json_is_null(v)))
    weft__dsl_error(d, at, "%s must be %s, got %s", what, weft_type_name(t),
                    weft__dsl_json_kind(v));
  else
    weft__dsl_error(d, at, "%s must be %s, got %s %s", what, weft_type_name(t),
                    weft__dsl_json_kind(v), text ? text : "");
  free(text);
  return 0;
}

int weft__dsl_enum_has(const json_t *enum_values, const json_t *v) {
  size_t i;
  json_t *e;
  json_array_foreach(enum_values, i, e) {
    if (json_equal(e, v)) return 1;
    /* 2 and 2.0 are the same value to a user writing YAML */
    if (json_is_number(e) && json_is_number(v) &&
        json_number_value(e) == json_number_value(v))
      return 1;
  }
  return 0;
}

char *weft__dsl_enum_list(const json_t *enum_values) {
  struct weft_buf b = WEFT_BUF_INIT;
  size_t i;
  json_t *e;
  json_array_foreach(enum_values, i, e) {
    char *t = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!t || weft_buf_addf(&b, "%s%s", i ? ", " : "", t)) {
      free(t);
      weft_buf_release(&b);
      return NULL;
    }
    free(t);
  }
  return weft_buf_detach(&b, NULL);
}

static int is_env_name(const char *s) {
  if (!(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (s++; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

int weft__dsl_parse_kvs(struct weft_diags *d, const struct weft__ynode *n,
                        const char *field, const char *owner, int env_names,
                        struct weft_kvs *out) {
  if (weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark,
                    "%s: %s must be a mapping of names to values, got %s",
                    owner, field, weft__ynode_describe(n));
    return WEFT_OK;
  }
  out->v = calloc(n->u.map.n ? n->u.map.n : 1, sizeof *out->v);
  if (!out->v) return WEFT_ENOMEM;
  for (size_t i = 0; i < n->u.map.n; i++) {
    const struct weft__ynode *k = n->u.map.pairs[i].key,
                             *v = n->u.map.pairs[i].value;
    const char *key = k->u.scalar.text;
    if (env_names ? !is_env_name(key) : !*key) {
      weft__dsl_error(d, k->mark, "%s: '%s' is not a valid %s name", owner, key,
                      env_names ? "environment variable" : "tag");
      continue;
    }
    if (v->kind != WEFT__Y_SCALAR ||
        (!weft__ynode_is_null(v) && !weft__ynode_text(v))) {
      weft__dsl_error(d, v->mark, "%s: %s '%s' must be a scalar value, got %s",
                      owner, field, key, weft__ynode_describe(v));
      continue;
    }
    struct weft_kv *kv = &out->v[out->n];
    kv->key = strdup(key);
    kv->value = strdup(weft__ynode_is_null(v) ? "" : v->u.scalar.text);
    out->n++;
    if (!kv->key || !kv->value) return WEFT_ENOMEM;
  }
  return WEFT_OK;
}

char *weft__dsl_base_name(const char *file) {
  const char *slash = strrchr(file, '/');
  const char *base = slash ? slash + 1 : file;
  size_t len = strlen(base);
  if (weft_str_has_suffix(base, ".yaml"))
    len -= 5;
  else if (weft_str_has_suffix(base, ".yml"))
    len -= 4;
  return strndup(base, len);
}

int weft_dsl_parse_duration(const char *text, double *seconds) {
  const char *s = text;
  double total = 0;
  int groups = 0;
  if (!s) return WEFT_EINVALID;
  while (isspace((unsigned char)*s)) s++;
  while (*s) {
    if (!(isdigit((unsigned char)*s) || *s == '.')) return WEFT_EINVALID;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0) return WEFT_EINVALID;
    s = end;
    double unit;
    if (!strncmp(s, "ms", 2))
      unit = 0.001, s += 2;
    else if (*s == 's')
      unit = 1, s++;
    else if (*s == 'm')
      unit = 60, s++;
    else if (*s == 'h')
      unit = 3600, s++;
    else if (*s == 'd')
      unit = 86400, s++;
    else if (!*s && !groups)
      unit = 1; /* a bare number: seconds */
    else
      return WEFT_EINVALID;
    total += v * unit;
    groups++;
    while (isspace((unsigned char)*s)) s++;
  }
  if (!groups || !isfinite(total)) return WEFT_EINVALID;
  *seconds = total;
  return WEFT_OK;
}
