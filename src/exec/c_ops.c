/* c_ops.c: C-function ops (include/weft.h): the name registry and the
 * weft_op_ctx an op sees while it runs inside the weft process. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/exec_int.h"

/* ---- the registry ---- */

struct c_op_entry {
  char *name;
  weft_op_fn fn;
  void *userdata;
};

/* Registration may come from any thread (plugins, embedders); lookups come
 * from the executor. Entries live until the process exits. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct c_op_entry *registry;
static size_t n_registry, cap_registry;

int weft_register_c_op(const char *name, weft_op_fn fn, void *userdata) {
  if (!name || !name[0] || !fn) return WEFT_EINVALID;
  int rc = WEFT_OK;
  pthread_mutex_lock(&registry_lock);
  for (size_t i = 0; i < n_registry; i++) {
    if (!strcmp(registry[i].name, name)) {
      registry[i].fn = fn;
      registry[i].userdata = userdata;
      goto done;
    }
  }
  if (n_registry == cap_registry) {
    size_t cap = cap_registry ? 2 * cap_registry : 16;
    struct c_op_entry *grown = realloc(registry, cap * sizeof *grown);
    if (!grown) {
      rc = WEFT_ENOMEM;
      goto done;
    }
    registry = grown;
    cap_registry = cap;
  }
  char *copy = strdup(name);
  if (!copy) {
    rc = WEFT_ENOMEM;
    goto done;
  }
  registry[n_registry++] = (struct c_op_entry){copy, fn, userdata};
done:
  pthread_mutex_unlock(&registry_lock);
  return rc;
}

int weft__c_op_lookup(const char *name, weft_op_fn *fn, void **userdata) {
  int found = 0;
  pthread_mutex_lock(&registry_lock);
  for (size_t i = 0; i < n_registry && !found; i++) {
    if (!strcmp(registry[i].name, name)) {
      *fn = registry[i].fn;
      *userdata = registry[i].userdata;
      found = 1;
    }
  }
  pthread_mutex_unlock(&registry_lock);
  return found;
}

/* ---- the context ---- */

struct input_text {
  char *name;
  char *json;
};

struct weft_op_ctx {
  const struct weft__c_call *call;
  struct input_text *inputs;
  size_t n_inputs;
  json_t *outputs; /* name -> value as set by the op */
  char *error;     /* first misuse of the context, fails the step */
};

const char *weft_op_ctx_config_json(weft_op_ctx *ctx) {
  return ctx->call->config_json ? ctx->call->config_json : "{}";
}

const char *weft_op_ctx_input_json(weft_op_ctx *ctx, const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < ctx->n_inputs; i++)
    if (!strcmp(ctx->inputs[i].name, name)) return ctx->inputs[i].json;
  return NULL;
}

int weft_op_ctx_set_output(weft_op_ctx *ctx, const char *name,
                           const char *json_text) {
  if (!name || !json_text) return WEFT_EINVALID;
  json_t *v = json_loads(json_text, JSON_DECODE_ANY, NULL);
  if (!v) return WEFT_EINVALID;
  if (!weft__port_decls_find(ctx->call->outputs, name)) {
    json_decref(v);
    if (!ctx->error)
      ctx->error = weft__strdupf("output '%s' is not declared by the op", name);
    return WEFT_EINVALID;
  }
  return json_object_set_new(ctx->outputs, name, v) ? WEFT_ENOMEM : WEFT_OK;
}

void weft_op_ctx_log(weft_op_ctx *ctx, const char *level, const char *msg) {
  const struct weft_executor_callbacks *cb = ctx->call->cb;
  if (!cb || !cb->on_event) return;
  json_t *event = json_pack("{s:s, s:s, s:s}", "type", "log", "level",
                            level ? level : "info", "msg", msg ? msg : "");
  if (!event) return;
  struct weft__event_sink sink = {ctx->call->outputs, ctx->call->outputs_dir,
                                  ctx->call->cwd, cb, ctx->call->user, 0};
  char *message = NULL;
  if (weft__event_deliver(&sink, event, &message) == WEFT_EINVALID) {
    /* An unknown level is the op's slip, not worth losing the line over. */
    json_object_set_new(event, "level", json_string("info"));
    free(message);
    message = NULL;
    weft__event_deliver(&sink, event, &message);
  }
  free(message);
  json_decref(event);
}

static void ctx_release(struct weft_op_ctx *ctx) {
  for (size_t i = 0; i < ctx->n_inputs; i++) {
    free(ctx->inputs[i].name);
    free(ctx->inputs[i].json);
  }
  free(ctx->inputs);
  json_decref(ctx->outputs);
  free(ctx->error);
}

static int ctx_add_input(struct weft_op_ctx *ctx, const char *name, char *json) {
  if (!json) return WEFT_ENOMEM;
  char *copy = strdup(name);
  if (!copy) {
    free(json);
    return WEFT_ENOMEM;
  }
  ctx->inputs[ctx->n_inputs++] = (struct input_text){copy, json};
  return WEFT_OK;
}

/* The JSON text of each input; `path` inputs appear as their file path. */
static int ctx_init(struct weft_op_ctx *ctx, const struct weft__c_call *call,
                    char **message) {
  json_t *inputs = NULL;
  int rc = WEFT_OK;
  memset(ctx, 0, sizeof *ctx);
  ctx->call = call;
  ctx->outputs = json_object();
  if (!ctx->outputs) return WEFT_ENOMEM;
  if (call->inputs_json) {
    json_error_t jerr;
    inputs = json_loads(call->inputs_json, 0, &jerr);
    if (!json_is_object(inputs)) {
      *message = weft__strdupf("step inputs must be a JSON object: %s",
                               inputs ? "got another JSON value" : jerr.text);
      rc = *message ? WEFT_EINVALID : WEFT_ENOMEM;
      goto done;
    }
  }
  size_t cap = (inputs ? json_object_size(inputs) : 0) + call->inputs->n;
  ctx->inputs = calloc(cap ? cap : 1, sizeof *ctx->inputs);
  if (!ctx->inputs) {
    rc = WEFT_ENOMEM;
    goto done;
  }
  const char *name;
  json_t *value;
  json_object_foreach(inputs, name, value) {
    if ((rc = ctx_add_input(ctx, name,
                            json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT))))
      goto done;
  }
  for (size_t i = 0; i < call->inputs->n; i++) {
    const struct weft__port_decl *d = &call->inputs->v[i];
    if (weft_op_ctx_input_json(ctx, d->name)) continue;
    char *path = weft__strdupf("%s/%s", call->inputs_dir, d->name);
    if (d->type != WEFT_TYPE_PATH) {
      /* A JSON input placed as a file (the engine materializes upstream
       * outputs from the artifact store that way): its text is the value. */
      json_error_t jerr;
      json_t *v = path ? json_load_file(path, JSON_DECODE_ANY, &jerr) : NULL;
      int present = path && access(path, F_OK) == 0;
      free(path);
      if (!v && present) {
        *message = weft__strdupf("input '%s' is not valid JSON: %s", d->name, jerr.text);
        rc = *message ? WEFT_EINVALID : WEFT_ENOMEM;
        goto done;
      }
      if (!v) continue; /* absent: weft_op_ctx_input_json says NULL */
      rc = ctx_add_input(ctx, d->name, json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT));
      json_decref(v);
      if (rc) goto done;
      continue;
    }
    json_t *s = path ? json_string(path) : NULL;
    free(path);
    if (!s) {
      rc = WEFT_ENOMEM;
      goto done;
    }
    rc = ctx_add_input(ctx, d->name, json_dumps(s, JSON_ENCODE_ANY));
    json_decref(s);
    if (rc) goto done;
  }
done:
  json_decref(inputs);
  return rc;
}

/* Checks the outputs the op set; `path` outputs are copied into the
 * outputs folder and reported by their new path. */
static int check_outputs(struct weft_op_ctx *ctx, json_t **out, char **message) {
  const struct weft__c_call *call = ctx->call;
  json_t *outputs = json_object();
  int rc = outputs ? WEFT_OK : WEFT_ENOMEM;
  for (size_t i = 0; !rc && i < call->outputs->n; i++) {
    const struct weft__port_decl *d = &call->outputs->v[i];
    json_t *v = json_object_get(ctx->outputs, d->name);
    if (!v && weft__output_optional(call->outputs, d)) {
      if (json_object_set_new(outputs, d->name, json_null())) rc = WEFT_ENOMEM;
    } else if (!v) {
      *message = weft__strdupf("declared output '%s' was not written", d->name);
      rc = WEFT_EINVALID;
    } else if (d->type == WEFT_TYPE_PATH) {
      char *stored = NULL;
      rc = weft__output_store(call->outputs_dir, d, v, call->cwd, &stored, message);
      if (!rc && json_object_set_new(outputs, d->name, json_string(stored)))
        rc = WEFT_ENOMEM;
      free(stored);
    } else if (!weft_type_check_json(d->type, v)) {
      *message = weft__type_mismatch_message("output", d->name, d->type, v);
      rc = WEFT_EINVALID;
    } else if (json_object_set(outputs, d->name, v)) {
      rc = WEFT_ENOMEM;
    }
  }
  if (rc == WEFT_EINVALID && !*message) rc = WEFT_ENOMEM;
  if (!rc) {
    *out = outputs;
    outputs = NULL;
  }
  json_decref(outputs);
  return rc;
}

int weft__c_call_run(const struct weft__c_call *call, struct weft_step_result *res) {
  struct weft_op_ctx ctx;
  char *message = NULL;
  int rc = ctx_init(&ctx, call, &message);
  if (rc) goto done;
  weft_error err = WEFT_ERROR_INIT;
  int rv = call->fn(&ctx, call->userdata, &err);
  if (rv) {
    res->exit_code = rv;
    if (err.msg[0])
      message = strdup(err.msg);
    else
      message = weft__strdupf("C function '%s' failed with code %d",
                              call->c_function, rv);
    rc = message ? WEFT_EINVALID : WEFT_ENOMEM;
    goto done;
  }
  res->exit_code = 0;
  if (ctx.error) {
    message = ctx.error;
    ctx.error = NULL;
    rc = WEFT_EINVALID;
    goto done;
  }
  rc = check_outputs(&ctx, &res->outputs, &message);
  if (!rc) res->ok = 1;
done:
  ctx_release(&ctx);
  if (rc == WEFT_EINVALID) {
    res->message = message;
    rc = WEFT_OK;
  } else {
    free(message);
  }
  return rc;
}
