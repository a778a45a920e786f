/* reexec.c: which steps a re-execution runs again (the rest reuse the
 * parent's persisted outputs), and the image digests its container steps pin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/engine.h"
#include "engine/run_view.h"
#include "store/store.h"
#include "util/str.h"

/* Latest attempt's status of step `name` in the list, or -1 if it has none. */
static int latest_status(const struct weft_step_list *l, const char *name) {
  int st = -1, attempt = 0;
  for (size_t k = 0; k < l->n; k++)
    if (!strcmp(l->v[k].step, name) && l->v[k].attempt >= attempt) {
      attempt = l->v[k].attempt;
      st = (int)l->v[k].status;
    }
  return st;
}

/* A map after a map (B over the mapped A) runs B[k] over A[k]: A's items
 * must be in the plan, so A runs too (its items that succeeded are reused
 * one by one, engine/run_map.c), and so on up a chain of maps. job->ops is
 * topologically sorted: one backward pass. */
static void take_map_sources(const struct weft_job *job, unsigned char *in_run) {
  for (size_t i = job->n_ops; i-- > 0;) {
    const struct weft_invocation *inv = &job->ops[i];
    if (!in_run[i] || !inv->mapped) continue;
    size_t u = inv->wires[inv->map_wire].from_index;
    if (u < job->n_ops && job->ops[u].mapped) in_run[u] = 1;
  }
}

/* The length of STEP in an item selection STEP[KEY] / STEP[*], or 0 when
 * name is not one. */
static size_t item_base_len(const char *name) {
  size_t n = strlen(name);
  const char *open = strchr(name, '['); /* nested items: STEP[i][j] */
  if (n < 4 || name[n - 1] != ']' || !open || open == name || open + 2 >= name + n) return 0;
  return (size_t)(open - name);
}

/* Item selection sel (STEP[KEY], base length b) of job: step index, or -1
 * with err set (the step is unknown or not mapped, the item was not in the
 * parent run). */
static long select_item(struct weft_instance *inst, const char *parent_id,
                        const struct weft_job *job, const char *sel, size_t b,
                        struct weft_step_list *parent, weft_error *err) {
  char *base = strndup(sel, b);
  long i = base ? weft_job_find_invocation(job, base) : -1;
  if (!base) {
    weft_error_set(err, WEFT_ENOMEM, "out of memory");
  } else if (i < 0) {
    weft_error_set(err, WEFT_EINVALID, "job '%s' has no step '%s' (in '%s')", job->name, base,
                   sel);
  } else if (!job->ops[i].mapped) {
    weft_error_set(err, WEFT_EINVALID, "step '%s' has no map:, so '%s' names no item", base, sel);
    i = -1;
  } else if (strcmp(sel + strlen(sel) - 3, "[*]")) {
    /* A key the parent run expanded (the list may differ in a new run, but
     * a typo is caught here). */
    int found = 0;
    if (!parent->v && !parent->n && weft_store_step_list(inst->store, parent_id, parent, err))
      i = -1;
    for (size_t k = 0; i >= 0 && !found && k < parent->n; k++)
      found = !strcmp(parent->v[k].step, sel);
    if (i >= 0 && !found) {
      weft_error_set(err, WEFT_EINVALID, "run %s has no item '%s' ('%s[*]' names every item)",
                     parent_id, sel, base);
      i = -1;
    }
  }
  free(base);
  return i;
}

int weft_reexec_tag_items(json_t *tags, const char *const *steps, size_t n_steps,
                          weft_error *err) {
  json_object_del(tags, WEFT_REEXEC_ITEMS_TAG);
  size_t len = 0;
  for (size_t s = 0; s < n_steps; s++)
    if (item_base_len(steps[s])) len += strlen(steps[s]) + 1;
  if (!len) return WEFT_OK;
  char *v = malloc(len), *o = v;
  if (!v) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t s = 0; s < n_steps; s++) {
    if (!item_base_len(steps[s])) continue;
    if (o > v) *o++ = ',';
    o = stpcpy(o, steps[s]);
  }
  int rc = json_object_set_new(tags, WEFT_REEXEC_ITEMS_TAG, json_string(v));
  free(v);
  return rc ? weft_error_set(err, WEFT_ENOMEM, "out of memory") : WEFT_OK;
}

int weft_reexec_select(struct weft_instance *inst, const char *parent_id,
                       const struct weft_job *job, int from_failure,
                       const char *const *steps, size_t n_steps, unsigned char *in_run,
                       weft_error *err) {
  memset(in_run, 0, job->n_ops);
  if (!from_failure) {
    if (!n_steps) return weft_error_set(err, WEFT_EUSAGE, "name the steps to re-execute");
    struct weft_step_list parent = {0};
    for (size_t s = 0; s < n_steps; s++) {
      long i = weft_job_find_invocation(job, steps[s]);
      if (i >= 0) {
        in_run[i] = 1;
        continue;
      }
      size_t b = item_base_len(steps[s]);
      if (b) {
        if ((i = select_item(inst, parent_id, job, steps[s], b, &parent, err)) < 0) {
          weft_step_list_release(&parent);
          return err->code;
        }
        in_run[i] = 1;
        continue;
      }
      weft_step_list_release(&parent);
      const char **names = calloc(job->n_ops + 1, sizeof *names);
      for (size_t k = 0; names && k < job->n_ops; k++) names[k] = job->ops[k].name;
      const char *hint = names ? weft_str_suggest(steps[s], names, job->n_ops) : NULL;
      weft_error_set(err, WEFT_EINVALID, "job '%s' has no step '%s'%s%s%s", job->name,
                     steps[s], hint ? " (did you mean '" : "", hint ? hint : "",
                     hint ? "'?)" : "");
      free(names);
      return WEFT_EINVALID;
    }
    weft_step_list_release(&parent);
    take_map_sources(job, in_run);
    return WEFT_OK;
  }
  struct weft_step_list l = {0};
  int rc = weft_store_step_list(inst->store, parent_id, &l, err);
  if (rc) return rc;
  size_t selected = 0, broken = 0;
  /* job->ops is topologically sorted, so one forward pass carries the
   * selection to every downstream. Skipped steps run again too: those a
   * failure skipped, and those a `when:` skipped, evaluated anew. */
  for (size_t i = 0; i < job->n_ops; i++) {
    const struct weft_invocation *inv = &job->ops[i];
    int st = latest_status(&l, inv->name);
    int again = st != WEFT_STEP_SUCCEEDED;
    broken += (size_t)(again && st != WEFT_STEP_SKIPPED);
    for (size_t u = 0; !again && u < inv->n_upstream; u++) again = in_run[inv->upstream[u]];
    in_run[i] = (unsigned char)again;
    selected += (size_t)again;
  }
  weft_step_list_release(&l);
  take_map_sources(job, in_run);
  /* A run whose steps all succeeded or were skipped did not fail. */
  if (!broken) selected = 0;
  if (!selected)
    return weft_error_set(err, WEFT_EINVALID,
                          "every step of run %s succeeded (or was skipped): nothing to "
                          "re-execute from failure (use --steps to run some again)",
                          parent_id);
  return WEFT_OK;
}

/* The image a step's latest attempt in run_id ran, as its digest reference
 * (repo@sha256:... or, for a local image known by its id only, sha256:...),
 * from the events that end attempts; NULL (and WEFT_OK) when it ran none. */
static int ran_digest(struct weft_instance *inst, const char *run_id, const char *step,
                      char **out, weft_error *err) {
  struct weft_event_filter f = {.run_id = run_id, .step = step};
  struct weft_event_list l = {0};
  *out = NULL;
  int rc = weft_store_event_read(inst->store, &f, &l, err);
  if (rc) return rc;
  for (size_t k = l.n; k-- > 0 && !*out;) {
    if (!weft_event_ends_attempt(l.v[k].type)) continue;
    json_t *p = l.v[k].payload ? json_loads(l.v[k].payload, 0, NULL) : NULL;
    const char *d = json_string_value(json_object_get(json_object_get(p, "container"), "digest"));
    if (d && *d && !(*out = weft_str_dup(d))) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    json_decref(p);
    if (rc) break;
  }
  weft_event_list_release(&l);
  return rc;
}

/* Sets ops.NAME.image in both the resolved and the as-given run config, so
 * the new run's record says which image it was pinned to. */
static int pin(struct weft_run_config *rc, const char *step, const char *ref) {
  /* A copy: ops with nothing set share one entry (dsl/run_config.c). */
  json_t *entry = json_deep_copy(json_object_get(rc->ops, step));
  if (!json_is_object(entry) || json_object_set(rc->ops, step, entry) ||
      json_object_set_new(entry, "image", json_string(ref))) {
    json_decref(entry);
    return WEFT_ENOMEM;
  }
  json_decref(entry);
  if (!json_is_object(rc->raw)) {
    json_decref(rc->raw);
    if (!(rc->raw = json_object())) return WEFT_ENOMEM;
  }
  json_t *ops = json_object_get(rc->raw, "ops");
  if (!json_is_object(ops) && json_object_set_new(rc->raw, "ops", ops = json_object()))
    return WEFT_ENOMEM;
  json_t *op = json_object_get(ops, step);
  if (!json_is_object(op) && json_object_set_new(ops, step, op = json_object()))
    return WEFT_ENOMEM;
  return json_object_set_new(op, "image", json_string(ref)) ? WEFT_ENOMEM : WEFT_OK;
}

int weft_reexec_pin_images(struct weft_instance *inst, const char *parent_id,
                           const struct weft_job *job, struct weft_run_config *rc,
                           const unsigned char *in_run, weft_error *err) {
  for (size_t i = 0; i < job->n_ops; i++) {
    const struct weft_invocation *inv = &job->ops[i];
    if (!in_run[i] || !weft_step_image(inst, job, rc, inv)) continue;
    char *ref = NULL;
    int r = ran_digest(inst, parent_id, inv->name, &ref, err);
    if (!r && ref && pin(rc, inv->name, ref))
      r = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    free(ref);
    if (r) return r;
  }
  return WEFT_OK;
}
