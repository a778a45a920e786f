/* template.c: {{placeholder}} rendering of schedule and sensor run config
 * and tag templates ({{scheduled_time}}, {{partition_key}}, {{run_key}}...). */
#include <stdlib.h>
#include <string.h>

#include "engine/secrets.h"
#include "sched/sched_int.h"
#include "util/buf.h"

static const char *lookup(const struct weft__tmpl_vars *v, const char *name, size_t len) {
  struct {
    const char *name;
    const char *value;
  } t[] = {{"scheduled_time", v->scheduled_time},
           {"scheduled_date", v->scheduled_date},
           {"partition_key", v->partition_key},
           {"run_key", v->run_key},
           {"file", v->file}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    if (strlen(t[i].name) == len && !strncmp(t[i].name, name, len)) return t[i].value;
  return NULL;
}

int weft__tmpl_render(const char *s, const struct weft__tmpl_vars *v, char **out,
                      weft_error *err) {
  struct weft_buf b = WEFT_BUF_INIT;
  const char *p = s;
  *out = NULL;
  for (;;) {
    const char *open = strstr(p, "{{");
    if (!open) break;
    const char *close = strstr(open + 2, "}}");
    if (!close) {
      weft_buf_release(&b);
      return weft_error_set(err, WEFT_EINVALID, "unterminated '{{' in template '%s'", s);
    }
    const char *a = open + 2, *e = close;
    while (a < e && *a == ' ') a++;
    while (e > a && e[-1] == ' ') e--;
    const char *val = lookup(v, a, (size_t)(e - a));
    char *var = NULL;
    if (!val && e - a > 4 && !strncmp(a, "var.", 4) && v->store) {
      /* {{var.NAME}}: a variable, as it is now (secrets are not offered:
       * a run config is stored and shown as it is). */
      char name[160];
      snprintf(name, sizeof name, "%.*s", (int)(e - a - 4), a + 4);
      int rc = weft_variable_get(v->store, name, &var, err);
      if (rc) {
        weft_buf_release(&b);
        return rc;
      }
      val = var;
    }
    if (!val) {
      weft_buf_release(&b);
      return weft_error_set(err, WEFT_EINVALID, "placeholder '{{%.*s}}' has no value here",
                            (int)(e - a), a);
    }
    weft_buf_add(&b, p, (size_t)(open - p));
    weft_buf_adds(&b, val);
    free(var);
    p = close + 2;
  }
  weft_buf_adds(&b, p);
  *out = weft_buf_detach(&b, NULL);
  if (!*out) return weft_error_set(err, WEFT_ENOMEM, "out of memory rendering a template");
  return WEFT_OK;
}

int weft__tmpl_render_json(const json_t *tmpl, const struct weft__tmpl_vars *v, json_t **out,
                           weft_error *err) {
  *out = NULL;
  if (!tmpl) {
    *out = json_object();
    return *out ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  if (json_is_string(tmpl)) {
    char *r;
    int rc = weft__tmpl_render(json_string_value(tmpl), v, &r, err);
    if (rc) return rc;
    *out = json_string(r);
    free(r);
  } else if (json_is_object(tmpl)) {
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)tmpl, k, x) {
      json_t *y;
      int rc = weft__tmpl_render_json(x, v, &y, err);
      if (rc) {
        json_decref(o);
        return rc;
      }
      json_object_set_new(o, k, y);
    }
    *out = o;
  } else if (json_is_array(tmpl)) {
    json_t *a = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(tmpl, i, x) {
      json_t *y;
      int rc = weft__tmpl_render_json(x, v, &y, err);
      if (rc) {
        json_decref(a);
        return rc;
      }
      json_array_append_new(a, y);
    }
    *out = a;
  } else {
    *out = json_deep_copy(tmpl);
  }
  return *out ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory rendering a template");
}
