/* executor_registry.c: executors registered by name from the layers above the
 * engine (weft_engine_register_executor), and the choice of a run's executor. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define MAX_FACTORIES 8

static struct {
  const char *name; /* borrowed: callers pass string literals */
  weft_executor_factory factory;
} factories[MAX_FACTORIES];

int weft_engine_register_executor(const char *name, weft_executor_factory factory) {
  for (size_t i = 0; i < MAX_FACTORIES; i++) {
    if (factories[i].name && strcmp(factories[i].name, name)) continue;
    factories[i].name = name;
    factories[i].factory = factory;
    return WEFT_OK;
  }
  return WEFT_ENOMEM;
}

/* The executor a run uses: its run config's `execution:`, else the
 * instance's default (weft.yaml `execution:`), else multiprocess. */
int coord_executor_new(struct weft_instance *inst, const struct weft_run_config *rc,
                       const struct weft_executor_callbacks *cb, struct weft_executor **out,
                       weft_error *err) {
  const char *name = "multiprocess";
  if (rc->executor == WEFT_EXECUTOR_IN_PROCESS) name = "in_process";
  else if (rc->executor == WEFT_EXECUTOR_QUEUE) name = "queue";
  else if (!json_object_get(rc->raw, "execution") && inst->default_execution)
    name = inst->default_execution;
  if (strcmp(name, "queue")) return weft_executor_new(name, rc->max_concurrent, cb, out, err);
  for (size_t i = 0; i < MAX_FACTORIES; i++)
    if (factories[i].name && !strcmp(factories[i].name, name))
      return factories[i].factory(inst, rc, cb, out, err);
  return weft_error_set(err, WEFT_EINVALID,
                        "executor '%s' is not available in this program", name);
}
