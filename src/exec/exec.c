/* exec.c: the executor wrappers (the only callers of the method table) and
 * the factory that picks a backend by name. */
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

void weft_step_result_release(struct weft_step_result *r) {
  if (!r) return;
  free(r->message);
  json_decref(r->outputs);
  json_decref(r->stored);
  r->stored = NULL;
  free(r->container_id);
  free(r->image);
  free(r->image_digest);
  r->message = NULL;
  r->outputs = NULL;
  r->container_id = r->image = r->image_digest = NULL;
}

int weft_executor_new(const char *name, int max_concurrent,
                      const struct weft_executor_callbacks *cb,
                      struct weft_executor **out, weft_error *err) {
  *out = NULL;
  if (name && !strcmp(name, "multiprocess"))
    return weft__multiprocess_new(max_concurrent, cb, out, err);
  if (name && !strcmp(name, "in_process"))
    return weft__in_process_new(cb, out, err);
  return weft_error_set(err, WEFT_EINVALID,
                        "unknown executor '%s' (multiprocess, in_process)",
                        name ? name : "(null)");
}

const char *weft_executor_name(const struct weft_executor *x) {
  return x->m->name;
}

int weft_executor_can_start_more(struct weft_executor *x) {
  return x->m->can_start_more(x);
}

int weft_executor_start(struct weft_executor *x,
                        const struct weft_step_spec *spec, weft_error *err) {
  return x->m->start(x, spec, err);
}

int weft_executor_wait(struct weft_executor *x, int timeout_ms,
                       struct weft_step_result *out, weft_error *err) {
  return x->m->wait(x, timeout_ms, out, err);
}

void weft_executor_cancel_all(struct weft_executor *x, const char *reason) {
  x->m->cancel_all(x, reason);
}

int weft_executor_cancel_one(struct weft_executor *x, void *user,
                             const char *reason) {
  return x->m->cancel_one(x, user, reason);
}

int weft_executor_poll_fd(struct weft_executor *x, int *timeout_ms) {
  return x->m->poll_fd ? x->m->poll_fd(x, timeout_ms) : -1;
}

int weft_executor_attach(struct weft_executor *x, const struct weft_step_attach *a,
                         weft_error *err) {
  if (!x->m->attach)
    return weft_error_set(err, WEFT_ENOTFOUND, "the %s executor cannot take over a step",
                          x->m->name);
  return x->m->attach(x, a, err);
}

size_t weft_executor_running_count(struct weft_executor *x) {
  return x->m->running_count(x);
}

void weft_executor_free(struct weft_executor *x) {
  if (x) x->m->free(x);
}
