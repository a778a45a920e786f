/* run_trigger.c: the coordinator's side of branches: the last word before a
 * ready step starts (an optional input left unwritten, a false `when:`
 * skip it) and the reasons recorded for every skipped step. The plan
 * (plan.c) decides by trigger rules; this file says why, in events. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "model/when_expr.h"
#include "util/clock.h"

static const char *ended_as(enum weft_step_status st) {
  switch (st) {
    case WEFT_STEP_FAILED: return "failed";
    case WEFT_STEP_SKIPPED: return "was skipped";
    case WEFT_STEP_CANCELED: return "was canceled";
    case WEFT_STEP_SUCCEEDED: return "succeeded";
    default: return "did not end";
  }
}

/* The upstream whose end decided the skip of step j under its rule, or -1
 * (one_failed: none failed). */
static long deciding_upstream(const struct coord *c, size_t j) {
  const struct weft_plan_step *t = &c->plan.steps[j];
  static const enum weft_step_status prefer[] = {WEFT_STEP_FAILED, WEFT_STEP_CANCELED,
                                                 WEFT_STEP_SKIPPED, WEFT_STEP_SUCCEEDED};
  for (size_t k = 0; k < sizeof prefer / sizeof *prefer; k++) {
    enum weft_step_status want = prefer[k];
    if (t->inv->trigger == WEFT_TRIGGER_ONE_FAILED) return -1;
    if (t->inv->trigger == WEFT_TRIGGER_ALL_SKIPPED && want == WEFT_STEP_SKIPPED) continue;
    if (t->inv->trigger == WEFT_TRIGGER_NONE_FAILED && want != WEFT_STEP_FAILED &&
        want != WEFT_STEP_CANCELED)
      continue;
    if (t->inv->trigger == WEFT_TRIGGER_ALL_SUCCESS && want == WEFT_STEP_SUCCEEDED) continue;
    for (size_t u = 0; u < t->inv->n_upstream; u++)
      if (c->plan.steps[t->inv->upstream[u]].status == want) return (long)t->inv->upstream[u];
  }
  return -1;
}

void coord_record_skip(struct coord *c, size_t j, const char *message, json_t *extra) {
  const struct weft_plan_step *t = &c->plan.steps[j];
  json_t *p = extra ? extra : json_object();
  json_object_set_new(p, "message", json_string(message));
  json_object_set_new(p, "trigger", json_string(weft_trigger_name(t->inv->trigger)));
  coord_step_row(c, j, WEFT_STEP_SKIPPED, 0, message);
  coord_event(c, t->name, "step_skipped", p);
}

void coord_record_skipped(struct coord *c, const size_t *idx, size_t n) {
  for (size_t k = 0; k < n; k++) {
    size_t j = idx[k];
    const struct weft_plan_step *t = &c->plan.steps[j];
    long u = deciding_upstream(c, j);
    char msg[600];
    json_t *extra = json_object();
    if (u < 0) {
      snprintf(msg, sizeof msg, "no upstream failed (trigger: %s)",
               weft_trigger_name(t->inv->trigger));
    } else {
      /* A skip that passed a failure (or cancel) on names that step. */
      size_t root = c->plan.steps[u].status == WEFT_STEP_SKIPPED ? c->skip_root[u] : 0;
      if (root) u = (long)root - 1;
      else if (c->plan.steps[u].status == WEFT_STEP_FAILED ||
               c->plan.steps[u].status == WEFT_STEP_CANCELED)
        root = (size_t)u + 1;
      c->skip_root[j] = root;
      const struct weft_plan_step *up = &c->plan.steps[u];
      if (t->inv->trigger == WEFT_TRIGGER_ALL_SUCCESS)
        snprintf(msg, sizeof msg, "upstream '%s' %s", up->name, ended_as(up->status));
      else
        snprintf(msg, sizeof msg, "upstream '%s' %s (trigger: %s)", up->name,
                 ended_as(up->status), weft_trigger_name(t->inv->trigger));
      json_object_set_new(extra, "upstream", json_string(up->name));
    }
    coord_record_skip(c, j, msg, extra);
  }
}

void coord_record_init_skips(struct coord *c) {
  for (size_t j = 0; j < c->plan.n; j++)
    if (c->plan.steps[j].status == WEFT_STEP_SKIPPED) coord_record_skipped(c, &j, 1);
}

/* ---- the gate before a ready step starts ------------------------------------------ */

/* The entry of output `out` of step u in c->outputs, or NULL. */
static json_t *output_entry(const struct coord *c, size_t u, const char *out) {
  if (c->plan.steps[u].status != WEFT_STEP_SUCCEEDED || !c->outputs[u]) return NULL;
  return json_object_get(c->outputs[u], out);
}

int coord_output_unwritten(const struct coord *c, size_t u, const char *out) {
  const struct weft_invocation *up = c->plan.steps[u].inv;
  const struct weft_port *port = weft_op_def_find_output(up->def, out);
  json_t *e = output_entry(c, u, out);
  return port && port->optional && (!e || json_is_null(json_object_get(e, "key")));
}

static int when_output(void *data, const char *step, const char *output, json_t **out,
                       char *msg, size_t msg_size) {
  const struct coord *c = data;
  *out = NULL;
  long u = weft_job_find_invocation(c->job, step);
  if (u < 0) {
    snprintf(msg, msg_size, "no step '%s'", step);
    return -1;
  }
  json_t *e = output_entry(c, (size_t)u, output);
  if (!e || json_is_null(json_object_get(e, "key"))) return 0; /* no value: null */
  json_t *v = json_object_get(e, "value");
  if (!v) {
    /* Only values small enough to ride in events are at hand here. */
    snprintf(msg, msg_size, "%s.%s has no value to compare (a path, or over 4 KiB)", step,
             output);
    return -1;
  }
  *out = json_incref(v);
  return 0;
}

int coord_gate_step(struct coord *c, size_t i) {
  struct weft_plan_step *ps = &c->plan.steps[i];
  const struct weft_invocation *inv = ps->inv;
  char msg[700];
  /* An input wired to an optional output left unwritten: under the default
   * rule the step cannot run (the others get null, as for any upstream that
   * did not succeed). */
  if (inv->trigger == WEFT_TRIGGER_ALL_SUCCESS) {
    for (size_t w = 0; w < inv->n_wires; w++) {
      const struct weft_wire *wi = &inv->wires[w];
      if (!coord_output_unwritten(c, wi->from_index, wi->from_output)) continue;
      snprintf(msg, sizeof msg, "%s.%s was not written", wi->from_op,
               wi->from_output);
      coord_skip_ready(c, i, msg,
                       json_pack("{s:s, s:s}", "upstream", wi->from_op, "output",
                                 wi->from_output));
      return 0;
    }
  }
  /* A condition naming `item` is checked per item instead (run_map.c). */
  if (!inv->when || (inv->mapped && weft_when_uses_item(inv->when))) return 1;
  const json_t *cfg = json_object_get(json_object_get(c->l->rc->ops, inv->name), "config");
  int yes = 0;
  char why[600];
  if (weft_when_eval(inv->when, cfg, when_output, c, &yes, why, sizeof why)) {
    coord_fail_unstarted(c, i, why);
    return 0;
  }
  if (yes) return 1;
  snprintf(msg, sizeof msg, "when \"%s\" is false", inv->when->text);
  coord_skip_ready(c, i, msg, json_pack("{s:s}", "when", inv->when->text));
  return 0;
}

int coord_gate_item(struct coord *c, size_t j, const json_t *item) {
  const struct weft_invocation *inv = c->plan.steps[j].inv;
  if (!inv->when || !weft_when_uses_item(inv->when)) return 1;
  const json_t *cfg = json_object_get(json_object_get(c->l->rc->ops, inv->name), "config");
  int yes = 0;
  char why[600], msg[700];
  if (weft_when_eval_item(inv->when, cfg, item, when_output, c, &yes, why, sizeof why)) {
    coord_fail_unstarted(c, j, why);
    return 0;
  }
  if (yes) return 1;
  snprintf(msg, sizeof msg, "when \"%s\" is false", inv->when->text);
  coord_skip_ready(c, j, msg, json_pack("{s:s}", "when", inv->when->text));
  return 0;
}

void coord_skip_ready(struct coord *c, size_t i, const char *message, json_t *extra) {
  size_t n = 0;
  coord_record_skip(c, i, message, extra);
  weft_plan_finish(&c->plan, i, WEFT_STEP_SKIPPED, c->scratch, &n);
  coord_record_skipped(c, c->scratch, n);
}
