/* containers_run.c: the engine's side of container steps: which image a step
 * runs in, the check at launch, and removing containers of finished attempts.
 *
 * A container's life as the instance sees it (labels weft.run/step/attempt):
 *
 *   created by the step's supervisor (exec_container.c) --> removed by it
 *        |  supervisor killed (kill -9 of weft, SIGKILL after the grace)
 *        v
 *   left behind --weft_instance_gc_containers (the attempt is final: its run
 *                 ended, or the step moved on)--> removed
 * The sweep of orphaned runs (instance.c) calls the gc for the runs it ends;
 * `weft instance gc-containers` calls it for the whole instance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers/containers.h"
#include "engine/engine_int.h"
#include "util/str.h"

char *weft_instance_container_url(const struct weft_instance *inst) {
  return inst->containers.socket ? weft_str_dup(inst->containers.socket) : weft_ctr_default_url();
}

/* FNV-1a of the storage URL: every process sharing the storage (a worker,
 * a server, the CLI) labels its containers alike, and no secret in the URL
 * shows on a label. */
char *weft__instance_container_label(const char *storage_url) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *p = (const unsigned char *)storage_url; p && *p; p++) {
    h ^= *p;
    h *= 1099511628211ull;
  }
  return weft_str_printf("%016llx", (unsigned long long)h);
}

const char *weft_step_image(const struct weft_instance *inst, const struct weft_job *job,
                            const struct weft_run_config *rc, const struct weft_invocation *inv) {
  const struct weft_op_def *def = inv->def;
  if (!def || (!def->run && !def->argv)) return NULL; /* C functions run in weft */
  const char *img = rc ? json_string_value(json_object_get(json_object_get(rc->ops, inv->name),
                                                           "image"))
                       : NULL;
  if (!img) img = def->image;
  if (!img && job->location) img = job->location->image;
  if (!img && inst) img = inst->containers.default_image;
  return img;
}

int coord_step_container(struct coord *c, size_t i, struct weft_step_container *out,
                         weft_error *err) {
  struct weft_instance *inst = c->inst;
  memset(out, 0, sizeof *out);
  out->image = weft_step_image(inst, c->job, c->l->rc, c->plan.steps[i].inv);
  if (!out->image) return WEFT_OK;
  if (!c->ctr_url && !(c->ctr_url = weft_instance_container_url(inst)))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!c->ctr_sdk && !(c->ctr_sdk = weft_str_printf("%s/sdk", inst->home)))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!c->ctr_auth_known) {
    c->ctr_auth = weft_ctr_default_auth_file(inst->home);
    c->ctr_auth_known = 1;
  }
  out->auth_file = c->ctr_auth;
  /* This run's resources for the step, when its run config sets them. */
  const char *name = c->plan.steps[i].inv->name;
  json_t *res = json_object_get(json_object_get(c->l->rc->ops, name), "resources");
  if (json_is_object(res)) {
    out->has_resources = 1;
    out->resources.cpus = json_number_value(json_object_get(res, "cpus"));
    out->resources.memory = (int64_t)json_integer_value(json_object_get(res, "memory"));
    out->resources.shm = (int64_t)json_integer_value(json_object_get(res, "shm"));
    out->resources.gpus = (char *)json_string_value(json_object_get(res, "gpus"));
  }
  out->url = c->ctr_url;
  out->pull = inst->containers.pull;
  out->network = inst->containers.network;
  out->labels = inst->container_labels;
  out->instance = inst->container_label;
  out->sdk_dir = c->ctr_sdk;
  return WEFT_OK;
}

/* Whether the run's steps would run here (not on queue workers, which
 * check their own engine). */
static int runs_here(const struct weft_instance *inst, const struct weft_run_config *rc) {
  if (rc->executor == WEFT_EXECUTOR_QUEUE) return 0;
  if (!json_object_get(rc->raw, "execution") &&
      inst->default_execution && !strcmp(inst->default_execution, "queue"))
    return 0;
  return 1;
}

int weft_run_containers_check(struct weft_instance *inst, const struct weft_launch *l, int pull,
                              weft_error *err) {
  struct weft_ctr_engine *e = NULL;
  char *url = NULL;
  json_t *seen = NULL;
  int rc = WEFT_OK;
  if (!l->rc || !runs_here(inst, l->rc)) return WEFT_OK;
  for (size_t i = 0; i < l->job->n_ops && !rc; i++) {
    const struct weft_invocation *inv = &l->job->ops[i];
    if (l->in_run && !l->in_run[i]) continue;
    const char *img = weft_step_image(inst, l->job, l->rc, inv);
    if (!img) continue;
    if (!e) {
      if (!(url = weft_instance_container_url(inst)) || !(seen = json_object())) {
        rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
        break;
      }
      char *auth = weft_ctr_default_auth_file(inst->home);
      if (!(rc = weft_ctr_engine_open(url, &e, err))) rc = weft_ctr_engine_set_auth_file(e, auth);
      free(auth);
      if (rc || (rc = weft_ctr_ping(e, NULL, err))) break;
    }
    if (json_object_get(seen, img)) continue;
    struct weft_ctr_image got = {0};
    enum weft_ctr_pull policy = (enum weft_ctr_pull)inst->containers.pull;
    if (pull) {
      rc = weft_ctr_image_ensure(e, img, policy, &got, err);
    } else if ((rc = weft_ctr_image_inspect(e, img, &got, err)) == WEFT_ENOTFOUND &&
               policy != WEFT_CTR_PULL_NEVER) {
      rc = WEFT_OK; /* the step pulls it */
    } else if (rc == WEFT_ENOTFOUND) {
      rc = weft_error_set(err, rc, "image '%s' is not on the container engine at %s and "
                          "containers.pull is never", img, e->url);
    }
    weft_ctr_image_release(&got);
    if (rc) {
      char why[sizeof err->msg];
      snprintf(why, sizeof why, "%s", err->msg);
      weft_error_set(err, rc, "op '%s': %s", inv->name, why);
    }
    json_object_set_new(seen, img, json_true());
  }
  json_decref(seen);
  free(url);
  weft_ctr_engine_free(e);
  return rc;
}

/* Whether the attempt a container belongs to is over: its run ended (or is
 * unknown), or its step is final or on a later attempt. */
static int attempt_final(struct weft_instance *inst, const char *run_id, const char *step,
                         int attempt, const char **why) {
  struct weft_run_row run = {0};
  weft_error e = WEFT_ERROR_INIT;
  int rc = weft_store_run_get(inst->store, run_id, &run, &e);
  if (rc == WEFT_ENOTFOUND) return *why = "its run is not in this instance", 1;
  if (rc) return 0;
  int final = weft_run_status_is_final(run.status);
  weft_run_row_release(&run);
  if (final) return *why = "its run ended", 1;
  struct weft_step_list steps = {0};
  if (weft_store_step_list(inst->store, run_id, &steps, &e)) return 0;
  int over = 0;
  for (size_t k = 0; k < steps.n; k++) {
    const struct weft_step_row *st = &steps.v[k];
    if (strcmp(st->step, step)) continue;
    if (st->attempt > attempt) over = 1, *why = "its step is on a later attempt";
    else if (st->attempt == attempt && weft_step_status_is_final(st->status))
      over = 1, *why = "its attempt ended";
  }
  weft_step_list_release(&steps);
  return over;
}

int weft_instance_gc_containers(struct weft_instance *inst, const char *run_id, int dry_run,
                                json_t **report, weft_error *err) {
  struct weft_ctr_engine *e = NULL;
  char *url = weft_instance_container_url(inst);
  char *label = weft_str_printf(WEFT_CTR_LABEL_INSTANCE "=%s", inst->container_label);
  json_t *list = NULL, *out = json_array();
  int rc = url && label && out ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (report) *report = NULL;
  if (!rc) rc = weft_ctr_engine_open(url, &e, err);
  if (!rc) rc = weft_ctr_list(e, label, &list, err);
  size_t i;
  json_t *c;
  json_array_foreach(rc ? NULL : list, i, c) {
    json_t *labels = json_object_get(c, "labels");
    const char *run = json_string_value(json_object_get(labels, WEFT_CTR_LABEL_RUN));
    const char *step = json_string_value(json_object_get(labels, WEFT_CTR_LABEL_STEP));
    const char *att = json_string_value(json_object_get(labels, WEFT_CTR_LABEL_ATTEMPT));
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *why = NULL;
    if (!run || !step || !att || !id || (run_id && strcmp(run, run_id))) continue;
    if (!attempt_final(inst, run, step, atoi(att), &why)) continue;
    weft_error re = WEFT_ERROR_INIT;
    int removed = !dry_run && !weft_ctr_remove(e, id, &re);
    json_t *item = json_pack("{s:s, s:O, s:s, s:s, s:s, s:O, s:s, s:b}", "id", id, "name",
                             json_object_get(c, "name"), "run", run, "step", step, "attempt",
                             att, "state", json_object_get(c, "state"), "why", why, "removed",
                             removed);
    if (item && !dry_run && !removed) json_object_set_new(item, "error", json_string(re.msg));
    json_array_append_new(out, item);
  }
  if (!rc && report) {
    *report = out;
    out = NULL;
  }
  json_decref(out);
  json_decref(list);
  weft_ctr_engine_free(e);
  free(url);
  free(label);
  return rc;
}
