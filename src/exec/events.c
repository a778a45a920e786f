/* events.c: the events fd of the step protocol: splits the stream into JSON
 * lines, validates each event, applies output events and forwards the rest. */
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

void weft__events_init(struct weft__event_reader *r) {
  weft_buf_init(&r->partial);
  r->line_no = 0;
  r->error = NULL;
}

void weft__events_release(struct weft__event_reader *r) {
  weft_buf_release(&r->partial);
  free(r->error);
  r->error = NULL;
}

/* Fills in a missing level and folds "warn" into "warning", so consumers
 * see one spelling. */
static int check_log(json_t *event, char **message) {
  static const char *const levels[] = {"debug", "info", "warning", "error",
                                       "critical"};
  if (!json_is_string(json_object_get(event, "msg"))) {
    *message = strdup("log event needs a string 'msg'");
    return WEFT_EINVALID;
  }
  json_t *level = json_object_get(event, "level");
  if (!level) return json_object_set_new(event, "level", json_string("info"))
                         ? WEFT_ENOMEM
                         : WEFT_OK;
  if (!json_is_string(level)) {
    *message = strdup("log event 'level' must be a string");
    return WEFT_EINVALID;
  }
  const char *name = json_string_value(level);
  if (!strcmp(name, "warn"))
    return json_object_set_new(event, "level", json_string("warning"))
               ? WEFT_ENOMEM
               : WEFT_OK;
  for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
    if (!strcmp(name, levels[i])) return WEFT_OK;
  *message = weft__strdupf(
      "unknown log level '%s' (debug, info, warning, error, critical)", name);
  return WEFT_EINVALID;
}

static int check_materialization(json_t *event, char **message) {
  json_t *asset = json_object_get(event, "asset");
  if (!json_is_string(asset) || !json_string_length(asset)) {
    *message = strdup("materialization event needs a non-empty string 'asset'");
    return WEFT_EINVALID;
  }
  json_t *metadata = json_object_get(event, "metadata");
  if (metadata && !json_is_object(metadata)) {
    *message = strdup("materialization 'metadata' must be an object");
    return WEFT_EINVALID;
  }
  return WEFT_OK;
}

/* {"type":"check","asset":..,"name":..,"passed":bool,"metadata":{}}: an
 * asset check's result, recorded in the catalog (engine/catalog.h). */
static int check_check(json_t *event, char **message) {
  json_t *asset = json_object_get(event, "asset"), *name = json_object_get(event, "name");
  json_t *metadata = json_object_get(event, "metadata");
  if (!json_is_string(asset) || !json_string_length(asset))
    *message = strdup("check event needs a non-empty string 'asset'");
  else if (!json_is_string(name) || !json_string_length(name))
    *message = strdup("check event needs a non-empty string 'name'");
  else if (!json_is_boolean(json_object_get(event, "passed")))
    *message = strdup("check event needs a boolean 'passed'");
  else if (metadata && !json_is_object(metadata))
    *message = strdup("check 'metadata' must be an object");
  else
    return WEFT_OK;
  return WEFT_EINVALID;
}

/* A `path` output event of a container step names a file as the container
 * sees it: /weft/code, /weft/inputs and /weft/outputs are host folders
 * (exec.h); nothing else of the container is reachable from here. */
static int apply_container_path(const struct weft__event_sink *sink,
                                const struct weft__port_decl *decl, const char *path,
                                char **message) {
  static const char *const roots[] = {"/weft/code/", "/weft/outputs/", "/weft/inputs/"};
  char *host = NULL;
  for (int i = 0; i < 3 && !host; i++) {
    size_t n = strlen(roots[i]);
    if (strncmp(path, roots[i], n) || !path[n]) continue;
    if (i == 0) host = weft__strdupf("%s/%s", sink->cwd ? sink->cwd : ".", path + n);
    else if (i == 1) host = weft__strdupf("%s/%s", sink->outputs_dir, path + n);
    else host = weft__strdupf("%s/../inputs/%s", sink->outputs_dir, path + n);
    if (!host) return WEFT_ENOMEM;
  }
  if (!host) {
    *message = weft__strdupf("output '%s': '%s' is a path inside the container that weft "
                             "cannot read: write the file into $WEFT_OUTPUTS", decl->name, path);
    return *message ? WEFT_EINVALID : WEFT_ENOMEM;
  }
  /* Already the output's own file: nothing to copy (a copy onto itself
   * would truncate it). */
  char *own = weft__strdupf("%s/%s", sink->outputs_dir, decl->name);
  int rc = WEFT_OK;
  if (!own) {
    rc = WEFT_ENOMEM;
  } else if (strcmp(host, own)) {
    json_t *v = json_string(host);
    rc = v ? weft__output_store(sink->outputs_dir, decl, v, NULL, NULL, message) : WEFT_ENOMEM;
    json_decref(v);
  }
  free(own);
  free(host);
  return rc;
}

static int apply_output(const struct weft__event_sink *sink, json_t *event,
                        char **message) {
  json_t *name = json_object_get(event, "name");
  if (!json_is_string(name)) {
    *message = strdup("output event needs a string 'name'");
    return WEFT_EINVALID;
  }
  const char *output = json_string_value(name);
  json_t *value = json_object_get(event, "value");
  if (!value) {
    *message = weft__strdupf("output event for '%s' has no 'value'", output);
    return WEFT_EINVALID;
  }
  const struct weft__port_decl *decl =
      sink->outputs ? weft__port_decls_find(sink->outputs, output) : NULL;
  if (!decl) {
    *message = weft__strdupf("output '%s' is not declared by the op", output);
    return WEFT_EINVALID;
  }
  if (sink->in_container && decl->type == WEFT_TYPE_PATH && json_is_string(value) &&
      json_string_value(value)[0] == '/')
    return apply_container_path(sink, decl, json_string_value(value), message);
  return weft__output_store(sink->outputs_dir, decl, value, sink->cwd, NULL,
                            message);
}

int weft__event_deliver(const struct weft__event_sink *sink, json_t *event,
                        char **message) {
  int rc;
  *message = NULL;
  if (!json_is_object(event)) {
    *message = weft__strdupf("an event must be a JSON object, got %s",
                             weft__json_kind(event));
    rc = WEFT_EINVALID;
    goto done;
  }
  json_t *type = json_object_get(event, "type");
  if (!json_is_string(type)) {
    *message = strdup("event has no string 'type'");
    rc = WEFT_EINVALID;
    goto done;
  }
  const char *t = json_string_value(type);
  if (!strcmp(t, "log"))
    rc = check_log(event, message);
  else if (!strcmp(t, "materialization"))
    rc = check_materialization(event, message);
  else if (!strcmp(t, "check"))
    rc = check_check(event, message);
  else if (!strcmp(t, "output"))
    rc = apply_output(sink, event, message);
  else {
    *message = weft__strdupf("unknown event type '%s'", t);
    rc = WEFT_EINVALID;
  }
  if (!rc && sink->cb && sink->cb->on_event)
    sink->cb->on_event(sink->cb->cb_data, sink->user, event);
done:
  if (rc == WEFT_EINVALID && !*message) rc = WEFT_ENOMEM;
  return rc;
}

static int only_blanks(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
  return 1;
}

/* Handles one complete line (without its newline). */
static int handle_line(struct weft__event_reader *r,
                       const struct weft__event_sink *sink, const char *line,
                       size_t len) {
  r->line_no++;
  if (r->error || only_blanks(line, len)) return WEFT_OK;
  json_error_t jerr;
  json_t *event = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
  if (!event) {
    r->error = weft__strdupf("events fd line %ld is not valid JSON: %s",
                             r->line_no, jerr.text);
    return r->error ? WEFT_OK : WEFT_ENOMEM;
  }
  char *message = NULL;
  int rc = weft__event_deliver(sink, event, &message);
  json_decref(event);
  if (rc == WEFT_EINVALID) {
    r->error = weft__strdupf("events fd line %ld: %s", r->line_no, message);
    rc = r->error ? WEFT_OK : WEFT_ENOMEM;
  }
  free(message);
  return rc;
}

int weft__events_feed(struct weft__event_reader *r,
                      const struct weft__event_sink *sink, const char *data,
                      size_t n) {
  while (n && !r->error) {
    const char *nl = memchr(data, '\n', n);
    size_t chunk = nl ? (size_t)(nl - data) : n;
    if (r->partial.len + chunk > WEFT__EVENT_LINE_MAX) {
      r->error = weft__strdupf("events fd line %ld is longer than 1 MiB",
                               r->line_no + 1);
      weft_buf_release(&r->partial);
      return r->error ? WEFT_OK : WEFT_ENOMEM;
    }
    if (!nl) return weft_buf_add(&r->partial, data, chunk);
    int rc;
    if (!r->partial.len) {
      /* The usual case: a whole line inside one read, parsed in place. */
      rc = handle_line(r, sink, data, chunk);
    } else {
      if (weft_buf_add(&r->partial, data, chunk)) return WEFT_ENOMEM;
      rc = handle_line(r, sink, r->partial.ptr, r->partial.len);
      weft_buf_reset(&r->partial);
    }
    if (rc) return rc;
    data += chunk + 1;
    n -= chunk + 1;
  }
  return WEFT_OK;
}

int weft__events_finish(struct weft__event_reader *r,
                        const struct weft__event_sink *sink) {
  if (r->error || !r->partial.len) return WEFT_OK;
  int rc = handle_line(r, sink, r->partial.ptr, r->partial.len);
  weft_buf_release(&r->partial);
  return rc;
}
