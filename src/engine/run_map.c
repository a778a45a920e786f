/* run_map.c: the coordinator's side of mapping (`map:`, plan.h): a mapped step
 * that becomes ready expands into one item step per element of its list,
 * STEP[0].. or STEP[KEY] (a map after a map as soon as its source expanded:
 * streaming); each item, taken from the ready queue, is skipped (its source
 * item did not succeed, its per-item `when:` is false), reused (re-execution)
 * or started; when its items have all ended it collects their outputs, in
 * item order, as its own (a JSON list per output). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "model/when_expr.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/map.h"
#include "util/str.h"

/* Keys become step names, folder names and artifact keys: kept to a safe
 * alphabet rather than escaped everywhere. */
#define KEY_MAX 100

static int key_ok(const char *k) {
  size_t n = strlen(k);
  if (!n || n > KEY_MAX) return 0;
  for (const char *p = k; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-' || *p == '.' || *p == ':'))
      return 0;
  return 1;
}

#define GROW(field)                                                           \
  do {                                                                        \
    void *np = realloc(c->field, n * sizeof *c->field);                       \
    if (!np) return WEFT_ENOMEM;                                              \
    c->field = np;                                                            \
    memset(&c->field[old], 0, (n - old) * sizeof *c->field);                  \
  } while (0)

/* The per-step arrays of c follow the plan's growth (from old steps). */
static int coord_grow(struct coord *c, size_t old) {
  size_t n = c->plan.n;
  GROW(outputs);
  GROW(dirs);
  GROW(started);
  GROW(scratch);
  GROW(retrying);
  GROW(log_sent);
  GROW(log_warned);
  GROW(workers);
  GROW(worker_pids);
  GROW(skip_root);
  GROW(alerted);
  return WEFT_OK;
}

/* Fails mapped step i before any item ran (its list cannot be read, is not a
 * list, has too many items, bad keys). */
static void fail_map(struct coord *c, size_t i, const char *message) {
  c->started[i] = weft_clock_wall_ms();
  coord_step_row(c, i, WEFT_STEP_FAILED, 0, message);
  coord_event(c, c->plan.steps[i].name, "step_failed",
              json_pack("{s:i, s:I, s:s, s:i}", "attempt", c->plan.steps[i].attempt,
                        "duration_ms", (json_int_t)0, "message", message, "exit_code", -1));
  size_t n = 0;
  weft_plan_finish(&c->plan, i, WEFT_STEP_FAILED, c->scratch, &n);
  coord_record_skipped(c, c->scratch, n);
}

/* The JSON value of output entry e ({"key", "value"?}): inline, or read back
 * from the artifact store (values over 4 KiB). New reference; NULL with err
 * set on failure; json null when the output was not written. */
static json_t *entry_value(struct coord *c, json_t *e, const char *tmp_dir, weft_error *err) {
  json_t *v = json_object_get(e, "value");
  if (v) return json_incref(v);
  const char *key = json_string_value(json_object_get(e, "key"));
  if (!key) return json_null();
  char *tmp = weft_str_printf("%s/map-value.json", tmp_dir);
  if (!tmp) {
    weft_error_set(err, WEFT_ENOMEM, "out of memory");
    return NULL;
  }
  json_t *out = NULL;
  if (!weft_fs_mkdirs(tmp_dir, err) && !weft_artifacts_get(c->inst->artifacts, key, tmp, err)) {
    json_error_t je;
    out = json_load_file(tmp, JSON_DECODE_ANY, &je);
    if (!out) weft_error_set(err, WEFT_EINVALID, "%s is not JSON: %s", key, je.text);
  }
  remove(tmp);
  free(tmp);
  return out;
}

/* What the items of a re-execution need from the parent run, read once,
 * when the first item asks. */
struct coord_map {
  int loaded;
  struct weft_step_list parent;
  struct weft_map ok; /* keys borrowed from parent */
  size_t *groups;     /* nested maps' groups expanded so far */
  size_t n_groups, cap_groups;
};

static int map_state(struct coord *c) {
  if (!c->map && !(c->map = calloc(1, sizeof *c->map))) return WEFT_ENOMEM;
  return WEFT_OK;
}

void coord_map_release(struct coord *c) {
  if (!c->map) return;
  weft_map_release(&c->map->ok);
  weft_step_list_release(&c->map->parent);
  free(c->map->groups);
  free(c->map);
  c->map = NULL;
}

/* Names of the parent run's steps whose latest attempt succeeded (for a
 * re-execution: those items are reused, not run again). The map borrows
 * its keys from l, which the caller releases after it. */
static int parent_succeeded(struct coord *c, struct weft_step_list *l, struct weft_map *out,
                            weft_error *err) {
  int rc = weft_store_step_list(c->inst->store, c->l->parent_run_id, l, err);
  /* The highest attempt per name decides. */
  for (size_t k = 0; !rc && k < l->n; k++) {
    void *prev = NULL;
    if (weft_map_find(out, l->v[k].step, &prev) && ((intptr_t)prev >> 1) > l->v[k].attempt)
      continue;
    intptr_t v = ((intptr_t)l->v[k].attempt << 1) | (l->v[k].status == WEFT_STEP_SUCCEEDED);
    if (weft_map_set(out, l->v[k].step, (void *)v))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return rc;
}

/* Whether item j (named already) may reuse its outputs from the parent run:
 * it succeeded there and its inputs are the same (every other upstream
 * of the mapped step was reused, and a chained item's source was too). */
static int may_reuse(const struct coord *c, size_t i, size_t j, struct weft_map *ok) {
  const struct weft_plan_step *ps = &c->plan.steps[i], *it = &c->plan.steps[j];
  const struct weft_wire *mw = &ps->inv->wires[ps->inv->map_wire];
  /* The source item: a chained item's, or a nested item's group's. */
  size_t src = it->map_src != (size_t)-1 ? it->map_src : ps->group ? ps->map_src : (size_t)-1;
  for (size_t u = 0; u < ps->inv->n_upstream; u++) {
    size_t up = ps->inv->upstream[u];
    if (src != (size_t)-1 && up == mw->from_index) continue;
    if (c->plan.steps[up].in_run) return 0;
  }
  if (src != (size_t)-1 && !c->plan.steps[src].reused) return 0;
  void *v = NULL;
  return weft_map_find(ok, it->name, &v) && ((intptr_t)v & 1);
}

/* The items of a map over the list `list`: their names and values. */
static int name_items(struct coord *c, size_t i, size_t first, const json_t *list,
                      char *msg, size_t msg_size) {
  size_t n = json_array_size(list);
  const char *base = c->plan.steps[i].name;
  /* {key:, value:} items (every one of them) are named by their keys. */
  int keyed = n > 0;
  for (size_t k = 0; keyed && k < n; k++) {
    json_t *e = json_array_get(list, k);
    json_t *key = json_object_get(e, "key");
    keyed = json_is_object(e) && json_object_size(e) == 2 && json_object_get(e, "value") &&
            (json_is_string(key) || json_is_integer(key));
  }
  struct weft_map seen = WEFT_MAP_INIT;
  int rc = 0;
  for (size_t k = 0; !rc && k < n; k++) {
    struct weft_plan_step *it = &c->plan.steps[first + k];
    json_t *e = json_array_get(list, k);
    char kb[32];
    const char *key = kb;
    if (keyed) {
      json_t *kv = json_object_get(e, "key");
      if (json_is_integer(kv)) snprintf(kb, sizeof kb, "%lld", (long long)json_integer_value(kv));
      else key = json_string_value(kv);
      if (!key_ok(key)) {
        snprintf(msg, msg_size, "map item %zu has key '%.*s': keys are 1 to %d letters, digits, "
                 "'_', '-', '.' or ':'", k, 120, key, KEY_MAX);
        rc = WEFT_EINVALID;
        break;
      }
      it->item = json_incref(json_object_get(e, "value"));
    } else {
      snprintf(kb, sizeof kb, "%zu", k);
      it->item = json_incref(e);
    }
    if (!(it->name = weft_str_printf("%s[%s]", base, key))) {
      rc = WEFT_ENOMEM;
    } else if ((rc = weft_map_put(&seen, it->name, NULL)) == WEFT_ECONFLICT) {
      snprintf(msg, msg_size, "map item %zu repeats key '%s'", k, key);
      rc = WEFT_EINVALID;
    }
  }
  weft_map_release(&seen);
  if (rc == WEFT_ENOMEM) snprintf(msg, msg_size, "out of memory");
  return rc;
}

static void complete(struct coord *c, size_t i);

void coord_map_expand(struct coord *c, size_t i) {
  const struct weft_invocation *inv = c->plan.steps[i].inv;
  const struct weft_wire *mw = &inv->wires[inv->map_wire];
  size_t u = mw->from_index;
  /* A group of a nested map maps over its source item's list; the nested
   * map itself expands like a chained one, into groups. */
  int group = c->plan.steps[i].group;
  if (group) u = c->plan.steps[i].map_src;
  int chained = !group && c->plan.steps[u].inv->mapped;
  /* The run config's ops.STEP.max_items, else the job's, else 10,000. */
  json_t *rc_max = json_object_get(json_object_get(c->l->rc->ops, inv->name), "max_items");
  long max = json_is_integer(rc_max)  ? (long)json_integer_value(rc_max)
             : inv->max_items > 0     ? inv->max_items
                                      : WEFT_MAP_MAX_ITEMS;
  char msg[1400];
  weft_error e = WEFT_ERROR_INIT;
  json_t *list = NULL;
  free(c->dirs[i]);
  c->dirs[i] = weft_instance_step_dir(c->inst, c->run.id, c->plan.steps[i].name, 1);
  c->started[i] = weft_clock_wall_ms();
  if (!c->dirs[i]) return fail_map(c, i, "out of memory");
  size_t n;
  if (chained) {
    n = c->plan.steps[u].n_items;
  } else {
    json_t *entry = c->outputs[u] ? json_object_get(c->outputs[u], mw->from_output) : NULL;
    if (!entry) {
      snprintf(msg, sizeof msg, "map over %s.%s: no such output was written", mw->from_op,
               mw->from_output);
      return fail_map(c, i, msg);
    }
    if (!(list = entry_value(c, entry, c->dirs[i], &e))) {
      snprintf(msg, sizeof msg, "map over %s.%s: %s", mw->from_op, mw->from_output, e.msg);
      return fail_map(c, i, msg);
    }
    if (!json_is_array(list)) {
      snprintf(msg, sizeof msg, "map over %s.%s: the value is not a list", mw->from_op,
               mw->from_output);
      json_decref(list);
      return fail_map(c, i, msg);
    }
    n = json_array_size(list);
  }
  if ((long long)n > (long long)max) {
    snprintf(msg, sizeof msg, "map over %s.%s has %zu items, more than max_items %ld",
             mw->from_op, mw->from_output, n, max);
    json_decref(list);
    return fail_map(c, i, msg);
  }
  size_t old = c->plan.n;
  size_t first = weft_plan_add_items(&c->plan, i, n);
  if (first == (size_t)-1 || coord_grow(c, old)) {
    /* The items go again, so every per-step array covers the plan (some
     * may have grown, none shrinks: freeing c stays in bounds). */
    c->plan.n = old;
    c->plan.steps[i].n_items = 0;
    c->plan.steps[i].expanded = 0;
    json_decref(list);
    return coord_oom(c);
  }
  int rc = 0;
  if (chained) {
    const struct weft_plan_step *src = &c->plan.steps[u];
    for (size_t k = 0; !rc && k < n; k++) {
      struct weft_plan_step *it = &c->plan.steps[first + k];
      const char *sn = c->plan.steps[src->first_item + k].name;
      it->map_src = src->first_item + k;
      it->group = inv->map_nested;
      /* B[k] over A[k]: the same key. */
      if (!(it->name = weft_str_printf("%s%s", c->plan.steps[i].name, strrchr(sn, '[')))) {
        rc = WEFT_ENOMEM;
        snprintf(msg, sizeof msg, "out of memory");
      }
    }
  } else {
    rc = name_items(c, i, first, list, msg, sizeof msg);
  }
  json_decref(list);
  if (!rc && group) {
    struct coord_map *m = map_state(c) ? NULL : c->map;
    if (m && m->n_groups == m->cap_groups) {
      size_t cap = m->cap_groups ? 2 * m->cap_groups : 16;
      size_t *g = realloc(m->groups, cap * sizeof *g);
      if (g) m->groups = g, m->cap_groups = cap;
    }
    if (!m || m->n_groups == m->cap_groups) {
      rc = WEFT_ENOMEM;
      snprintf(msg, sizeof msg, "out of memory");
    } else {
      m->groups[m->n_groups++] = i;
    }
  }
  if (rc) {
    /* The items were never started: they end with the mapped step. */
    for (size_t k = 0; k < n; k++) weft_plan_item_end(&c->plan, first + k, WEFT_STEP_CANCELED);
    return fail_map(c, i, msg);
  }
  coord_step_row(c, i, WEFT_STEP_RUNNING, 0, NULL);
  coord_event(c, c->plan.steps[i].name, "step_mapped",
              json_pack("{s:I, s:s, s:s, s:s, s:b, s:b}", "items", (json_int_t)n, "input",
                        mw->input, "from", group ? c->plan.steps[u].name : mw->from_op, "output",
                        mw->from_output, "chained", chained, "nested", inv->map_nested));
  /* Each item decides when it is taken from the ready queue
   * (coord_map_item_start); a chained item whose source item has not
   * ended yet is queued by the plan when it does (streaming). */
  for (size_t k = 0; k < n; k++) {
    size_t j = first + k, src = c->plan.steps[j].map_src;
    if (src == (size_t)-1 || weft_plan_is_final(&c->plan, src)) weft_plan_item_ready(&c->plan, j);
  }
  if (c->plan.steps[i].n_items_final == n) complete(c, i);
}

/* The value item j's INPUT receives, for its `when:`: its own, or its source
 * item's output (chained). New reference; NULL with why filled. */
static json_t *item_value(struct coord *c, size_t j, char *why, size_t why_size) {
  const struct weft_plan_step *it = &c->plan.steps[j];
  if (it->map_src == (size_t)-1) return json_incref(it->item ? it->item : json_null());
  const struct weft_wire *mw = &it->inv->wires[it->inv->map_wire];
  json_t *e = c->outputs[it->map_src] ? json_object_get(c->outputs[it->map_src], mw->from_output)
                                      : NULL;
  if (!e) return json_null();
  weft_error err = WEFT_ERROR_INIT;
  json_t *v = entry_value(c, e, c->dirs[it->map_parent], &err);
  if (!v) snprintf(why, why_size, "when: cannot read %s's %s: %.400s", c->plan.steps[it->map_src].name,
                   mw->from_output, err.msg);
  return v;
}

/* Whether `weft run reexecute --steps` named item j (p[3]) or every item of
 * its step (p[*]): it runs again, never reused (engine.h). */
static int item_forced(struct coord *c, size_t j) {
  if (!c->run_tags && c->run.tags) c->run_tags = json_loads(c->run.tags, 0, NULL);
  const char *sel = json_string_value(json_object_get(c->run_tags, WEFT_REEXEC_ITEMS_TAG));
  const char *name = c->plan.steps[j].name, *base = c->plan.steps[c->plan.steps[j].map_parent].name;
  const char *op = c->plan.steps[j].inv->name; /* NAME[*]: every item, nested too */
  size_t nl = strlen(name), bl = strlen(base), ol = strlen(op);
  for (const char *p = sel; p && *p;) {
    const char *end = strchr(p, ',');
    size_t l = end ? (size_t)(end - p) : strlen(p);
    if ((l == nl && !strncmp(p, name, l)) ||
        (l == bl + 3 && !strncmp(p, base, bl) && !strncmp(p + bl, "[*]", 3)) ||
        (l == ol + 3 && !strncmp(p, op, ol) && !strncmp(p + ol, "[*]", 3)))
      return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

void coord_map_item_start(struct coord *c, size_t j) {
  struct weft_plan_step *it = &c->plan.steps[j];
  /* A retry runs again: what follows was decided on the first attempt. */
  if (it->attempt > 1) return coord_start_step(c, j);
  size_t i = it->map_parent;
  char msg[700];
  if (it->map_src != (size_t)-1 && c->plan.steps[it->map_src].status != WEFT_STEP_SUCCEEDED) {
    const struct weft_plan_step *src = &c->plan.steps[it->map_src];
    snprintf(msg, sizeof msg, "upstream '%s' %s", src->name,
             src->status == WEFT_STEP_FAILED     ? "failed"
             : src->status == WEFT_STEP_SKIPPED  ? "was skipped"
                                                 : "was canceled");
    it->attempt = 0;
    c->started[j] = weft_clock_wall_ms();
    coord_record_skip(c, j, msg, json_pack("{s:s}", "upstream", src->name));
    weft_plan_finish(&c->plan, j, WEFT_STEP_SKIPPED, NULL, NULL);
    return;
  }
  /* A group of a nested map: its per-item `when:` and reuse are its items'. */
  if (it->group) return coord_map_expand(c, j);
  if (it->inv->when && weft_when_uses_item(it->inv->when)) {
    json_t *v = item_value(c, j, msg, sizeof msg);
    if (!v) return coord_fail_unstarted(c, j, msg);
    int go = coord_gate_item(c, j, v);
    json_decref(v);
    if (!go) return;
  }
  if (c->l->parent_run_id && !item_forced(c, j)) {
    weft_error re = WEFT_ERROR_INIT;
    if (map_state(c)) return coord_oom(c);
    if (!c->map->loaded) {
      c->map->loaded = 1;
      if (parent_succeeded(c, &c->map->parent, &c->map->ok, &re)) {
        snprintf(msg, sizeof msg, "cannot read the parent run's steps: %.400s", re.msg);
        return coord_fail_unstarted(c, j, msg);
      }
    }
    if (may_reuse(c, i, j, &c->map->ok) && !coord_reuse_step(c, j, c->l->parent_run_id, &re)) {
      it = &c->plan.steps[j];
      it->reused = 1;
      it->attempt = 0;
      weft_plan_finish(&c->plan, j, WEFT_STEP_SUCCEEDED, NULL, NULL);
      return;
    }
  }
  coord_start_step(c, j);
}

/* Collects output `port` of the items of i: the list, written to the work
 * folder and stored as the mapped step's output. */
static int collect_output(struct coord *c, size_t i, const struct weft_port *port,
                          json_t *outs, weft_error *err) {
  const struct weft_plan_step *ps = &c->plan.steps[i];
  json_t *list = json_array();
  if (!list) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = 0;
  for (size_t k = 0; !rc && k < ps->n_items; k++) {
    size_t j = ps->first_item + k;
    json_t *e = c->plan.steps[j].status == WEFT_STEP_SUCCEEDED && c->outputs[j]
                    ? json_object_get(c->outputs[j], port->name) : NULL;
    json_t *v;
    if (!e) v = json_null();
    else if (port->type == WEFT_TYPE_PATH && !c->plan.steps[j].group)
      v = json_incref(json_object_get(e, "key"));
    else v = entry_value(c, e, c->dirs[i], err);
    if (!v || json_array_append_new(list, v)) rc = v ? WEFT_ENOMEM : err->code;
  }
  char *text = rc ? NULL : json_dumps(list, JSON_COMPACT);
  char *dir = weft_str_printf("%s/outputs", c->dirs[i]);
  char *file = weft_str_printf("%s/outputs/%s", c->dirs[i], port->name);
  char *key = weft_str_printf("%s/%s/%s", c->run.id, ps->name, port->name);
  if (!rc && (!text || !dir || !file || !key)) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!rc) rc = weft_fs_mkdirs(dir, err);
  if (!rc) rc = weft_fs_write_atomic(file, text, strlen(text), 0, err);
  if (!rc) rc = weft_artifacts_put(c->inst->artifacts, key, file, err);
  if (!rc) {
    size_t len = strlen(text);
    json_t *o = json_pack("{s:s}", "key", key);
    json_t *p = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I}", "attempt", 1, "output", port->name,
                          "type", "list", "key", key, "bytes", (json_int_t)len, "items",
                          (json_int_t)ps->n_items);
    if (len <= 4096) {
      json_object_set(o, "value", list);
      json_object_set(p, "value", list);
    }
    json_object_set_new(outs, port->name, o);
    coord_event(c, ps->name, "step_output", p);
  }
  free(text);
  free(dir);
  free(file);
  free(key);
  json_decref(list);
  return rc;
}

/* Every item of i ended: i collects and ends as its items did. */
static void complete(struct coord *c, size_t i) {
  const struct weft_plan_step *ps = &c->plan.steps[i];
  size_t cnt[WEFT_STEP__COUNT] = {0};
  const char *first_failed = NULL;
  for (size_t k = 0; k < ps->n_items; k++) {
    const struct weft_plan_step *it = &c->plan.steps[ps->first_item + k];
    cnt[it->status]++;
    if (it->status == WEFT_STEP_FAILED && !first_failed) first_failed = it->name;
  }
  enum weft_step_status to = cnt[WEFT_STEP_FAILED]     ? WEFT_STEP_FAILED
                             : cnt[WEFT_STEP_CANCELED] ? WEFT_STEP_CANCELED
                                                       : WEFT_STEP_SUCCEEDED;
  weft_error e = WEFT_ERROR_INIT;
  char msg[1400] = "";
  size_t reused = 0;
  for (size_t k = 0; k < ps->n_items; k++) reused += (size_t)c->plan.steps[ps->first_item + k].reused;
  if (reused)
    coord_event(c, ps->name, "log",
                json_pack("{s:s, s:s}", "level", "info", "msg",
                          "items that succeeded in the parent run were reused"));
  json_t *outs = json_object();
  int rc = outs ? 0 : WEFT_ENOMEM;
  for (size_t k = 0; !rc && to != WEFT_STEP_CANCELED && k < ps->inv->def->n_outputs; k++)
    rc = collect_output(c, i, &ps->inv->def->outputs[k], outs, &e);
  if (rc) {
    to = WEFT_STEP_FAILED;
    snprintf(msg, sizeof msg, "cannot collect the items' outputs: %s", e.msg);
  } else if (to == WEFT_STEP_FAILED) {
    size_t nf = cnt[WEFT_STEP_FAILED];
    snprintf(msg, sizeof msg, "%zu of %zu items failed: %s%s", nf, ps->n_items, first_failed,
             nf > 1 ? ", ..." : "");
  } else if (to == WEFT_STEP_CANCELED) {
    snprintf(msg, sizeof msg, "%s", c->cancel_reason ? c->cancel_reason : "canceled");
  }
  json_decref(c->outputs[i]);
  c->outputs[i] = outs;
  json_t *p = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "attempt", 1, "duration_ms",
                        (json_int_t)(weft_clock_wall_ms() - c->started[i]), "items",
                        (json_int_t)ps->n_items, "succeeded",
                        (json_int_t)cnt[WEFT_STEP_SUCCEEDED], "failed",
                        (json_int_t)cnt[WEFT_STEP_FAILED], "skipped",
                        (json_int_t)cnt[WEFT_STEP_SKIPPED], "canceled",
                        (json_int_t)cnt[WEFT_STEP_CANCELED]);
  if (p && *msg) json_object_set_new(p, "message", json_string(msg));
  coord_step_row(c, i, to, 0, *msg ? msg : NULL);
  coord_event(c, ps->name,
              to == WEFT_STEP_SUCCEEDED ? "step_succeeded"
              : to == WEFT_STEP_FAILED  ? "step_failed"
                                        : "step_canceled",
              p);
  size_t n = 0;
  weft_plan_finish(&c->plan, i, to, c->scratch, &n);
  coord_record_skipped(c, c->scratch, n);
}

/* Whether chained mapped step b may stream over its source (plan.h): what
 * the plan does not know. B must not read A's collected outputs: no other
 * wire from A, and no `when:` naming A (its items' outputs are at hand per
 * item through `item`); nor wait for A by `after:`. */
static int may_stream(const struct coord *c, size_t b) {
  const struct weft_invocation *inv = c->plan.steps[b].inv;
  if (!inv->mapped || c->plan.steps[b].status != WEFT_STEP__COUNT) return 0;
  size_t a = inv->wires[inv->map_wire].from_index;
  for (size_t w = 0; w < inv->n_wires; w++)
    if (w != inv->map_wire && inv->wires[w].from_index == a) return 0;
  for (size_t k = 0; k < inv->n_after; k++) /* after: [A] waits for all of A */
    if (inv->after[k].index == a) return 0;
  const char *an = c->plan.steps[a].inv->name;
  for (size_t r = 0; inv->when && r < inv->when->n_refs; r++)
    if (inv->when->refs[r].step && !strcmp(inv->when->refs[r].step, an)) return 0;
  return 1;
}

void coord_map_check(struct coord *c) {
  if (!c->job_has_mapped) {
    c->job_has_mapped = 1;
    for (size_t k = 0; k < c->job->n_ops; k++)
      if (c->job->ops[k].mapped) c->job_has_mapped = 2;
  }
  if (c->job_has_mapped == 1) return; /* nothing to expand or complete */
  for (size_t i = 0; i < c->job->n_ops && i < c->plan.n; i++) {
    const struct weft_plan_step *ps = &c->plan.steps[i];
    if (ps->expanded && ps->status == WEFT_STEP_RUNNING && ps->n_items_final == ps->n_items)
      complete(c, i);
    else if (!c->canceling && may_stream(c, i) && weft_plan_stream_start(&c->plan, i) && coord_gate_step(c, i))
      coord_map_expand(c, i);
  }
  /* Groups of nested maps, dropped from the list once ended. */
  size_t k = 0;
  for (size_t g = 0; c->map && g < c->map->n_groups; g++) {
    size_t i = c->map->groups[g];
    const struct weft_plan_step *ps = &c->plan.steps[i];
    if (ps->status == WEFT_STEP_RUNNING && ps->n_items_final == ps->n_items) complete(c, i);
    if (c->plan.steps[i].status == WEFT_STEP_RUNNING) c->map->groups[k++] = i;
  }
  if (c->map) c->map->n_groups = k;
}
