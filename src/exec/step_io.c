/* step_io.c: the file side of the step protocol: preparing the work folder
 * (config.json, inputs/, outputs/) and reading back and checking outputs. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/exec_int.h"
#include "util/fs.h"
#include "util/str.h"

char *weft__strdupf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

const char *weft__json_kind(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT:
      return "dict";
    case JSON_ARRAY:
      return "list";
    case JSON_STRING:
      return "string";
    case JSON_INTEGER:
      return "int";
    case JSON_REAL:
      return "float";
    case JSON_TRUE:
    case JSON_FALSE:
      return "bool";
    case JSON_NULL:
      return "null";
  }
  return "unknown";
}

char *weft__type_mismatch_message(const char *what, const char *name,
                                  enum weft_type want, const json_t *got) {
  return weft__strdupf("%s '%s' must be %s, got %s", what, name,
                       weft_type_name(want), weft__json_kind(got));
}

/* ---- port declarations ---- */

int weft__port_decls_copy(const struct weft_port *ports, size_t n,
                          struct weft__port_decls *out) {
  out->v = NULL;
  out->n = 0;
  if (!n) return WEFT_OK;
  out->v = calloc(n, sizeof *out->v);
  if (!out->v) return WEFT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    out->v[i].name = strdup(ports[i].name ? ports[i].name : "");
    out->v[i].type = ports[i].type;
    out->v[i].optional = ports[i].optional;
    out->n = i + 1;
    if (!out->v[i].name) {
      weft__port_decls_release(out);
      return WEFT_ENOMEM;
    }
  }
  return WEFT_OK;
}

void weft__port_decls_release(struct weft__port_decls *d) {
  for (size_t i = 0; i < d->n; i++) free(d->v[i].name);
  free(d->v);
  d->v = NULL;
  d->n = 0;
}

const struct weft__port_decl *weft__port_decls_find(
    const struct weft__port_decls *d, const char *name) {
  for (size_t i = 0; i < d->n; i++)
    if (!strcmp(d->v[i].name, name)) return &d->v[i];
  return NULL;
}

char *weft__path_input_names(const struct weft_op_def *def) {
  struct weft_buf b = WEFT_BUF_INIT;
  for (size_t i = 0; i < def->n_inputs; i++) {
    if (def->inputs[i].type != WEFT_TYPE_PATH) continue;
    if ((b.len && weft_buf_addc(&b, ',')) || weft_buf_adds(&b, def->inputs[i].name)) {
      weft_buf_release(&b);
      return NULL;
    }
  }
  return b.len ? weft_buf_detach(&b, NULL) : strdup("");
}

/* ---- the work folder ---- */

void weft__work_paths_release(struct weft__work_paths *p) {
  free(p->config);
  free(p->inputs);
  free(p->outputs);
  free(p->stdout_log);
  free(p->stderr_log);
  memset(p, 0, sizeof *p);
}

static int write_file(const char *path, const char *data, size_t len,
                      weft_error *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
  while (len) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(e));
    }
    data += n;
    len -= (size_t)n;
  }
  if (close(fd))
    return weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
  return WEFT_OK;
}

static int make_dir(const char *path, weft_error *err) {
  if (mkdir(path, 0755) && errno != EEXIST)
    return weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
  return WEFT_OK;
}

/* Writes one file per member of the inputs object. */
static int write_json_inputs(const char *inputs_dir, const char *inputs_json,
                             weft_error *err) {
  json_error_t jerr;
  json_t *inputs = json_loads(inputs_json, 0, &jerr);
  struct weft_buf path = WEFT_BUF_INIT;
  char *text = NULL;
  int rc = WEFT_OK;
  if (!inputs || !json_is_object(inputs)) {
    rc = weft_error_set(err, WEFT_EINVALID,
                        "step inputs must be a JSON object: %s",
                        inputs ? "got another JSON value" : jerr.text);
    goto done;
  }
  const char *name;
  json_t *value;
  json_object_foreach(inputs, name, value) {
    if (!weft_str_is_identifier(name)) {
      rc = weft_error_set(err, WEFT_EINVALID,
                          "input name '%s' is not a valid identifier", name);
      goto done;
    }
    weft_buf_reset(&path);
    /* One line, as an op's `echo VALUE >"$WEFT_OUTPUTS/x"` leaves it: ops
     * that join inputs with cat (fanout's join) see one value per line. */
    text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text || weft_buf_addf(&path, "%s/%s", inputs_dir, name)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    char *line = weft__strdupf("%s\n", text);
    free(text);
    text = line;
    if (!text) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    if ((rc = write_file(path.ptr, text, strlen(text), err))) goto done;
    free(text);
    text = NULL;
  }
done:
  free(text);
  weft_buf_release(&path);
  json_decref(inputs);
  return rc;
}

int weft__work_paths_init(const char *wd, struct weft__work_paths *p, weft_error *err) {
  memset(p, 0, sizeof *p);
  p->config = weft__strdupf("%s/config.json", wd);
  p->inputs = weft__strdupf("%s/inputs", wd);
  p->outputs = weft__strdupf("%s/outputs", wd);
  p->stdout_log = weft__strdupf("%s/stdout.log", wd);
  p->stderr_log = weft__strdupf("%s/stderr.log", wd);
  if (p->config && p->inputs && p->outputs && p->stdout_log && p->stderr_log) return WEFT_OK;
  weft__work_paths_release(p);
  return weft_error_set(err, WEFT_ENOMEM, "out of memory");
}

int weft__work_prepare(const struct weft_step_spec *spec,
                       struct weft__work_paths *p, weft_error *err) {
  int rc = weft__work_paths_init(spec->work_dir, p, err);
  if (rc) return rc;
  if ((rc = weft_fs_mkdirs(spec->work_dir, err))) goto done;
  if ((rc = make_dir(p->inputs, err))) goto done;
  /* outputs/ must start empty, or a file left by an earlier attempt in
   * the same folder would pass for a written output. */
  if (mkdir(p->outputs, 0755)) {
    if (errno != EEXIST) {
      rc = weft_error_set(err, WEFT_EIO, "%s: %s", p->outputs, strerror(errno));
      goto done;
    }
    if ((rc = weft_fs_remove_tree(p->outputs, err)) || (rc = make_dir(p->outputs, err)))
      goto done;
  }
  const char *config = spec->config_json ? spec->config_json : "{}";
  if ((rc = write_file(p->config, config, strlen(config), err))) goto done;
  /* Most steps have no JSON inputs: skip the parse for them. */
  if (spec->inputs_json && strcmp(spec->inputs_json, "{}") &&
      (rc = write_json_inputs(p->inputs, spec->inputs_json, err)))
    goto done;
  if (spec->secrets && spec->secrets->files.n) rc = weft__secrets_dir_write(spec, err);
done:
  if (rc) weft__work_paths_release(p);
  return rc;
}

/* ---- secret files ---- */

void weft__secrets_dir_remove(const char *work_dir) {
  weft_error ignored = WEFT_ERROR_INIT;
  char *dir = work_dir ? weft__strdupf("%s/secrets", work_dir) : NULL;
  if (dir) weft_fs_remove_tree(dir, &ignored);
  free(dir);
}

int weft__secrets_dir_write(const struct weft_step_spec *spec, weft_error *err) {
  const struct weft_kvs *files = &spec->secrets->files;
  char *dir = weft__strdupf("%s/secrets", spec->work_dir), *path = NULL;
  int rc = dir ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  /* A fresh folder, the owner's only: an earlier attempt's is gone. */
  if (!rc) weft__secrets_dir_remove(spec->work_dir);
  if (!rc && mkdir(dir, 0700))
    rc = weft_error_set(err, WEFT_EIO, "%s: %s", dir, strerror(errno));
  for (size_t i = 0; !rc && i < files->n; i++) {
    const char *v = files->v[i].value ? files->v[i].value : "";
    free(path);
    if (!(path = weft__strdupf("%s/%s", dir, files->v[i].key))) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
    size_t len = strlen(v);
    if (fd < 0 || write(fd, v, len) != (ssize_t)len)
      rc = weft_error_set(err, WEFT_EIO, "secret file '%s': %s", files->v[i].key,
                          strerror(errno));
    if (fd >= 0 && close(fd) && !rc)
      rc = weft_error_set(err, WEFT_EIO, "secret file '%s': %s", files->v[i].key,
                          strerror(errno));
  }
  if (rc) weft__secrets_dir_remove(spec->work_dir);
  free(path);
  free(dir);
  return rc;
}

/* ---- outputs ---- */

int weft__output_optional(const struct weft__port_decls *decls,
                          const struct weft__port_decl *d) {
  return d->optional ||
         (decls->n == 1 && d->type == WEFT_TYPE_ANY && !strcmp(d->name, "result"));
}

/* Checks one output file; *value set on success. */
static int collect_one(const char *path, const struct weft__port_decl *d,
                       struct weft_buf *text, json_t **value, char **message) {
  *value = NULL;
  if (d->type == WEFT_TYPE_PATH) {
    struct stat st;
    if (stat(path, &st)) {
      *message = weft__strdupf("declared output '%s' was not written", d->name);
      return *message ? WEFT_EINVALID : WEFT_ENOMEM;
    }
    *value = json_string(path);
    return *value ? WEFT_OK : WEFT_ENOMEM;
  }
  weft_error ferr = WEFT_ERROR_INIT;
  weft_buf_reset(text);
  int rc = weft_fs_read_file(path, text, &ferr);
  if (rc == WEFT_ENOTFOUND)
    *message = weft__strdupf("declared output '%s' was not written", d->name);
  else if (rc == WEFT_ENOMEM)
    return WEFT_ENOMEM;
  else if (rc)
    *message = weft__strdupf("output '%s' cannot be read: %s", d->name, ferr.msg);
  if (rc) return *message ? WEFT_EINVALID : WEFT_ENOMEM;
  json_error_t jerr;
  json_t *v = json_loadb(text->ptr, text->len, JSON_DECODE_ANY, &jerr);
  if (!v) {
    *message = weft__strdupf("output '%s' is not valid JSON: %s", d->name, jerr.text);
    return *message ? WEFT_EINVALID : WEFT_ENOMEM;
  }
  if (!weft_type_check_json(d->type, v)) {
    *message = weft__type_mismatch_message("output", d->name, d->type, v);
    json_decref(v);
    return *message ? WEFT_EINVALID : WEFT_ENOMEM;
  }
  *value = v;
  return WEFT_OK;
}

int weft__outputs_collect(const char *outputs_dir,
                          const struct weft__port_decls *decls, json_t **out,
                          char **message) {
  struct weft_buf path = WEFT_BUF_INIT, text = WEFT_BUF_INIT;
  json_t *outputs = json_object();
  int rc = outputs ? WEFT_OK : WEFT_ENOMEM;
  *out = NULL;
  *message = NULL;
  for (size_t i = 0; !rc && i < decls->n; i++) {
    const struct weft__port_decl *d = &decls->v[i];
    json_t *value = NULL;
    weft_buf_reset(&path);
    if (weft_buf_addf(&path, "%s/%s", outputs_dir, d->name)) {
      rc = WEFT_ENOMEM;
      break;
    }
    if (weft__output_optional(decls, d) && access(path.ptr, F_OK)) {
      value = json_null();
    } else if ((rc = collect_one(path.ptr, d, &text, &value, message))) {
      break;
    }
    if (json_object_set_new(outputs, d->name, value)) rc = WEFT_ENOMEM;
  }
  if (!rc) {
    *out = outputs;
    outputs = NULL;
  }
  json_decref(outputs);
  weft_buf_release(&path);
  weft_buf_release(&text);
  return rc;
}

int weft__output_store(const char *outputs_dir, const struct weft__port_decl *decl,
                       const json_t *value, const char *cwd, char **stored_path,
                       char **message) {
  char *dest = weft__strdupf("%s/%s", outputs_dir, decl->name);
  char *text = NULL, *source = NULL;
  weft_error ferr = WEFT_ERROR_INIT;
  int rc = WEFT_OK;
  *message = NULL;
  if (stored_path) *stored_path = NULL;
  if (!dest) return WEFT_ENOMEM;
  if (decl->type == WEFT_TYPE_PATH) {
    if (!json_is_string(value)) {
      *message = weft__strdupf(
          "output '%s' is a path: its value must be a file path string, got %s",
          decl->name, weft__json_kind(value));
      rc = WEFT_EINVALID;
      goto done;
    }
    const char *given = json_string_value(value);
    source = given[0] == '/' || !cwd ? strdup(given) : weft_fs_join(cwd, given);
    if (!source) {
      rc = WEFT_ENOMEM;
      goto done;
    }
    if (weft_fs_copy_file(source, dest, &ferr)) {
      *message = weft__strdupf("output '%s': cannot copy '%s': %s", decl->name,
                               given, ferr.msg);
      rc = WEFT_EINVALID;
      goto done;
    }
  } else {
    text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text) {
      rc = WEFT_ENOMEM;
      goto done;
    }
    if (write_file(dest, text, strlen(text), &ferr)) {
      *message = weft__strdupf("output '%s' cannot be written: %s", decl->name,
                               ferr.msg);
      rc = WEFT_EINVALID;
      goto done;
    }
  }
  if (stored_path) {
    *stored_path = dest;
    dest = NULL;
  }
done:
  if (rc == WEFT_EINVALID && !*message) rc = WEFT_ENOMEM;
  free(dest);
  free(text);
  free(source);
  return rc;
}
