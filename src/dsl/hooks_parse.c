/* hooks_parse.c: the alerts of a job, an op and weft.yaml (`on_failure:`,
 * `on_success:`, `on_sla_missed:`), checked into plain JSON the engine reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"

static const char *const hook_keys[] = {"webhook", "body", "headers", "command",
                                        "retries", "timeout", NULL};
const char *const weft_hook_triggers[] = {"on_failure", "on_success", "on_sla_missed", NULL};

static int is_header_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          *s == '-' || *s == '_'))
      return 0;
  return 1;
}

/* A scalar's text as a JSON string; in weft.yaml (env) with ${VAR}
 * replaced as in all of that file. JSON null after a diagnostic. */
static json_t *text_of(struct weft_diags *d, const struct weft__ynode *n, int env) {
  if (!env) return json_string(weft__ynode_text(n));
  int nomem = 0;
  char *t = weft__dsl_substitute_env(d, n, &nomem);
  json_t *j = t ? json_string(t) : nomem ? NULL : json_null();
  free(t);
  return j;
}

/* One header value: a plain string or {secret: NAME}. */
static json_t *parse_header(struct weft_diags *d, const struct weft__ynode *v, const char *what,
                            const char *name, int env) {
  char got[96];
  if (v->kind == WEFT__Y_SCALAR && !weft__ynode_is_null(v)) return text_of(d, v, env);
  const struct weft__ynode *s = v->kind == WEFT__Y_MAP ? weft__ymap_get(v, "secret", NULL) : NULL;
  if (s && v->u.map.n == 1 && s->kind == WEFT__Y_SCALAR && !weft__ynode_is_null(s))
    return json_pack("{s:s}", "secret", weft__ynode_text(s));
  weft__dsl_error(d, v->mark, "%s: header %s must be a string or {secret: NAME}, got %s", what,
                  name, weft__dsl_got(got, sizeof got, v));
  return json_null();
}

static json_t *parse_hook(struct weft_diags *d, const struct weft__ynode *n, const char *what,
                          int env) {
  char got[96];
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "%s must be {webhook: URL} or {command: TEXT}, got %s", what,
                    weft__dsl_got(got, sizeof got, n));
    return json_null();
  }
  weft__dsl_check_keys(d, n, hook_keys, what);
  json_t *h = json_object();
  if (!h) return NULL;
  const struct weft__ynode *wh = weft__ymap_get(n, "webhook", NULL);
  const struct weft__ynode *cmd = weft__ymap_get(n, "command", NULL);
  if (wh && weft__ynode_is_null(wh)) wh = NULL; /* `key:` left empty: not given */
  if (cmd && weft__ynode_is_null(cmd)) cmd = NULL;
  if (wh && cmd)
    weft__dsl_error(d, n->mark, "%s: give webhook or command, not both", what);
  else if (!wh && !cmd)
    weft__dsl_error(d, n->mark, "%s: needs webhook: URL or command: TEXT", what);
  if (wh) {
    json_t *ju = wh->kind == WEFT__Y_SCALAR ? text_of(d, wh, env) : NULL;
    const char *u = json_string_value(ju);
    if (json_is_null(ju)) {
      /* ${VAR} was diagnosed. */
    } else if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) ||
               !u[u[4] == 's' ? 8 : 7]) {
      weft__dsl_error(d, wh->mark, "%s: webhook must be an http:// or https:// URL, got %s",
                      what, weft__dsl_got(got, sizeof got, wh));
    } else {
      json_object_set(h, "webhook", ju);
    }
    json_decref(ju);
  }
  if (cmd) {
    const char *t = cmd->kind == WEFT__Y_SCALAR ? weft__ynode_text(cmd) : NULL;
    if (!t || !*t)
      weft__dsl_error(d, cmd->mark, "%s: command must be a shell command, got %s", what,
                      weft__dsl_got(got, sizeof got, cmd));
    else
      json_object_set_new(h, "command", text_of(d, cmd, env));
  }
  const struct weft__ynode *body = weft__ymap_get(n, "body", NULL);
  if (body) {
    if (!wh)
      weft__dsl_error(d, body->mark, "%s: body is for a webhook", what);
    else if (body->kind != WEFT__Y_SCALAR || weft__ynode_is_null(body))
      weft__dsl_error(d, body->mark, "%s: body must be a template string, got %s", what,
                      weft__dsl_got(got, sizeof got, body));
    else
      json_object_set_new(h, "body", text_of(d, body, env));
  }
  const struct weft__ynode *hd = weft__ymap_get(n, "headers", NULL);
  if (hd) {
    if (!wh)
      weft__dsl_error(d, hd->mark, "%s: headers are for a webhook", what);
    else if (hd->kind != WEFT__Y_MAP)
      weft__dsl_error(d, hd->mark, "%s: headers must be a mapping NAME: VALUE, got %s", what,
                      weft__dsl_got(got, sizeof got, hd));
    else {
      json_t *hs = json_object();
      for (size_t i = 0; hs && i < hd->u.map.n; i++) {
        const char *name = weft__ynode_text(hd->u.map.pairs[i].key);
        if (!is_header_name(name))
          weft__dsl_error(d, hd->u.map.pairs[i].key->mark, "%s: '%s' is not a header name",
                          what, name);
        json_object_set_new(hs, name, parse_header(d, hd->u.map.pairs[i].value, what, name, env));
      }
      json_object_set_new(h, "headers", hs);
    }
  }
  const struct weft__ynode *r = weft__ymap_get(n, "retries", NULL);
  if (r) {
    long long v;
    if (!weft__ynode_int(r, &v) || v < 0 || v > 20)
      weft__dsl_error(d, r->mark, "%s: retries must be an integer from 0 to 20, got %s", what,
                      weft__dsl_got(got, sizeof got, r));
    else
      json_object_set_new(h, "retries", json_integer(v));
  }
  const struct weft__ynode *t = weft__ymap_get(n, "timeout", NULL);
  if (t) {
    struct weft_deadline dl = {0};
    if (t->kind != WEFT__Y_SCALAR || weft_dsl_parse_deadline(weft__ynode_text(t), &dl) ||
        dl.s > 600)
      weft__dsl_error(d, t->mark, "%s: timeout must be a duration up to 10m such as \"10s\", got %s",
                      what, weft__dsl_got(got, sizeof got, t));
    else
      json_object_set_new(h, "timeout_s", json_real(dl.s));
  }
  return h;
}

int weft__dsl_parse_hooks(struct weft_diags *d, const struct weft__ynode *map, const char *owner,
                          int env, json_t **out) {
  *out = NULL;
  if (!map || map->kind != WEFT__Y_MAP) return WEFT_OK;
  json_t *all = NULL;
  for (const char *const *k = weft_hook_triggers; *k; k++) {
    const struct weft__ynode *n = weft__ymap_get(map, *k, NULL);
    if (!n || weft__ynode_is_null(n)) continue;
    if (!all && !(all = json_object())) return WEFT_ENOMEM;
    json_t *list = json_array();
    if (!list || json_object_set_new(all, *k, list)) {
      json_decref(all);
      return WEFT_ENOMEM;
    }
    size_t count = n->kind == WEFT__Y_SEQ ? n->u.seq.n : 1;
    for (size_t i = 0; i < count; i++) {
      char what[256];
      if (n->kind == WEFT__Y_SEQ)
        snprintf(what, sizeof what, "%s: %s[%zu]", owner, *k, i);
      else
        snprintf(what, sizeof what, "%s: %s", owner, *k);
      json_t *h = parse_hook(d, n->kind == WEFT__Y_SEQ ? n->u.seq.items[i] : n, what, env);
      if (!h || json_array_append_new(list, h)) {
        json_decref(all);
        return WEFT_ENOMEM;
      }
    }
  }
  *out = all;
  return WEFT_OK;
}
