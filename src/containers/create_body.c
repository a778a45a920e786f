/* create_body.c: the container create requests, from one weft_ctr_spec: the
 * Docker Engine API's (both engines) and Podman's own, for GPU steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers/containers_int.h"
#include "util/str.h"

static json_t *str_array(char *const *v) {
  json_t *a = json_array();
  for (size_t i = 0; a && v && v[i]; i++)
    if (json_array_append_new(a, json_string(v[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

/* "K=V" strings as {"K": "V"} (a string without '=' maps to ""). */
static json_t *kv_object(char *const *v) {
  json_t *o = json_object();
  for (size_t i = 0; o && v && v[i]; i++) {
    const char *eq = strchr(v[i], '=');
    char *k = eq ? strndup(v[i], (size_t)(eq - v[i])) : weft_str_dup(v[i]);
    int bad = !k || json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
    free(k);
    if (bad) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

/* What gpus asks for: every GPU ("all"), any n of them ("N"), or the ones
 * named ("device=ID,ID", *ids set to the list); 0 when malformed. */
enum gpu_ask { GPU_BAD, GPU_ALL, GPU_COUNT, GPU_IDS };
static enum gpu_ask gpu_ask(const char *gpus, long *count, const char **ids) {
  char *end = NULL;
  if (!strcmp(gpus, "all")) return GPU_ALL;
  if (!strncmp(gpus, "device=", 7)) {
    *ids = gpus + 7;
    for (const char *p = *ids; *p; p++)
      if (*p != ',') return GPU_IDS;
    return GPU_BAD;
  }
  *count = strtol(gpus, &end, 10);
  return *gpus && end && !*end && *count > 0 ? GPU_COUNT : GPU_BAD;
}

/* Calls add(each id, arg) for the comma-separated ids; -1 when one fails. */
static int each_id(const char *ids, int (*add)(const char *id, void *arg), void *arg) {
  char *copy = weft_str_dup(ids), *save = NULL;
  int rc = copy ? 0 : -1;
  for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !rc; t = strtok_r(NULL, ",", &save))
    rc = add(t, arg);
  free(copy);
  return rc;
}

static int add_string(const char *id, void *arr) {
  return json_array_append_new(arr, json_string(id));
}

/* Docker's DeviceRequests, the API form of `--gpus`. */
static json_t *device_requests(const char *gpus) {
  long n = 0;
  const char *ids = NULL;
  enum gpu_ask ask = gpu_ask(gpus, &n, &ids);
  if (ask == GPU_BAD) return NULL;
  json_t *req = json_pack("{s:s, s:[[s]]}", "Driver", "", "Capabilities", "gpu");
  json_t *list = ask == GPU_IDS ? json_array() : NULL;
  int bad = !req || (ask == GPU_IDS && (!list || each_id(ids, add_string, list)));
  if (!bad) {
    if (ask == GPU_IDS) bad = json_object_set(req, "DeviceIDs", list);
    else bad = json_object_set_new(req, "Count", json_integer(ask == GPU_ALL ? -1 : n));
  }
  json_decref(list);
  json_t *a = bad ? NULL : json_array();
  if (!a || json_array_append_new(a, req)) {
    if (!a) json_decref(req);
    json_decref(a);
    return NULL;
  }
  return a;
}

json_t *weft_ctr_create_body(const struct weft_ctr_spec *s) {
  json_t *body = json_pack("{s:s, s:b, s:b, s:b}", "Image", s->image, "Tty", 0, "OpenStdin", 0,
                           "AttachStdin", 0);
  json_t *host = json_object(), *labels = kv_object(s->labels), *binds = json_array();
  int bad = !body || !host || !labels || !binds;
  if (!bad && s->cmd) bad |= json_object_set_new(body, "Cmd", str_array(s->cmd));
  if (!bad && s->entrypoint) bad |= json_object_set_new(body, "Entrypoint", str_array(s->entrypoint));
  if (!bad && s->env) bad |= json_object_set_new(body, "Env", str_array(s->env));
  if (!bad && s->workdir) bad |= json_object_set_new(body, "WorkingDir", json_string(s->workdir));
  if (!bad && s->user) bad |= json_object_set_new(body, "User", json_string(s->user));
  for (size_t i = 0; !bad && i < s->n_mounts; i++) {
    char *b = weft_str_printf("%s:%s%s", s->mounts[i].host, s->mounts[i].target,
                              s->mounts[i].read_only ? ":ro" : "");
    bad |= !b || json_array_append_new(binds, json_string(b));
    free(b);
  }
  if (!bad) bad |= json_object_set(host, "Binds", binds);
  if (!bad && s->network) bad |= json_object_set_new(host, "NetworkMode", json_string(s->network));
  if (!bad && s->memory > 0)
    bad |= json_object_set_new(host, "Memory", json_integer(s->memory)) ||
           json_object_set_new(host, "MemorySwap", json_integer(s->memory));
  if (!bad && s->cpus > 0)
    bad |= json_object_set_new(host, "NanoCpus", json_integer((json_int_t)(s->cpus * 1e9 + 0.5)));
  if (!bad && s->shm > 0) bad |= json_object_set_new(host, "ShmSize", json_integer(s->shm));
  if (!bad && s->gpus) {
    json_t *dr = device_requests(s->gpus);
    bad |= !dr || json_object_set_new(host, "DeviceRequests", dr);
  }
  if (!bad) bad |= json_object_set(body, "Labels", labels) || json_object_set(body, "HostConfig", host);
  json_decref(host);
  json_decref(labels);
  json_decref(binds);
  if (bad) {
    json_decref(body);
    return NULL;
  }
  return body;
}

/* ---- Podman's own API (libpod), for GPU steps ------------------------------- */

static int add_cdi(const char *id, void *arr) {
  char name[96];
  if (snprintf(name, sizeof name, "nvidia.com/gpu=%s", id) >= (int)sizeof name) return -1;
  return json_array_append_new(arr, json_pack("{s:s}", "path", name));
}

/* GPUs as CDI device names: nvidia.com/gpu=all, one per index for a count
 * N (0..N-1), or one per id named. Podman's Docker API drops DeviceRequests
 * without a word (4.x), while its own API resolves CDI names as `podman run
 * --device` does, and fails loudly where a GPU is not set up. */
static json_t *cdi_devices(const char *gpus) {
  long n = 0;
  const char *ids = NULL;
  enum gpu_ask ask = gpu_ask(gpus, &n, &ids);
  json_t *a = ask == GPU_BAD ? NULL : json_array();
  int bad = !a;
  if (!bad && ask == GPU_ALL) bad = add_cdi("all", a);
  for (long i = 0; !bad && ask == GPU_COUNT && i < n; i++) {
    char id[24];
    snprintf(id, sizeof id, "%ld", i);
    bad = add_cdi(id, a);
  }
  if (!bad && ask == GPU_IDS) bad = each_id(ids, add_cdi, a);
  if (bad) {
    json_decref(a);
    return NULL;
  }
  return a;
}

/* The network as Podman's namespace modes; another name joins that network. */
static int set_network(json_t *body, const char *network) {
  if (!strcmp(network, "none") || !strcmp(network, "host") || !strcmp(network, "bridge"))
    return json_object_set_new(body, "netns", json_pack("{s:s}", "nsmode", network));
  json_t *nets = json_object();
  return !nets || json_object_set_new(nets, network, json_object()) ||
         json_object_set_new(body, "networks", nets) ||
         json_object_set_new(body, "netns", json_pack("{s:s}", "nsmode", "bridge"));
}

json_t *weft_ctr_libpod_create_body(const struct weft_ctr_spec *s) {
  json_t *body = json_pack("{s:s, s:b, s:b}", "image", s->image, "terminal", 0, "stdin", 0);
  json_t *mounts = json_array(), *volumes = json_array(), *limits = json_object();
  int bad = !body || !mounts || !volumes || !limits;
  if (!bad && s->name) bad |= json_object_set_new(body, "name", json_string(s->name));
  if (!bad && s->cmd) bad |= json_object_set_new(body, "command", str_array(s->cmd));
  if (!bad && s->entrypoint) bad |= json_object_set_new(body, "entrypoint", str_array(s->entrypoint));
  if (!bad && s->env) bad |= json_object_set_new(body, "env", kv_object(s->env));
  if (!bad && s->workdir) bad |= json_object_set_new(body, "work_dir", json_string(s->workdir));
  if (!bad && s->user) bad |= json_object_set_new(body, "user", json_string(s->user));
  if (!bad && s->labels) bad |= json_object_set_new(body, "labels", kv_object(s->labels));
  /* A host path is a bind mount; anything else names a volume, as in Binds. */
  for (size_t i = 0; !bad && i < s->n_mounts; i++) {
    const struct weft_ctr_mount *m = &s->mounts[i];
    json_t *opts = json_pack(m->read_only ? "[s]" : "[]", "ro");
    if (m->host[0] == '/')
      bad |= !opts || json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:O}", "type",
                                                              "bind", "source", m->host,
                                                              "destination", m->target,
                                                              "options", opts));
    else
      bad |= !opts || json_array_append_new(volumes, json_pack("{s:s, s:s, s:O}", "Name",
                                                               m->host, "Dest", m->target,
                                                               "Options", opts));
    json_decref(opts);
  }
  if (!bad) bad |= json_object_set(body, "mounts", mounts) || json_object_set(body, "volumes", volumes);
  if (!bad && s->network) bad |= set_network(body, s->network);
  if (!bad && s->memory > 0)
    bad |= json_object_set_new(limits, "memory", json_pack("{s:I, s:I}", "limit",
                                                           (json_int_t)s->memory, "swap",
                                                           (json_int_t)s->memory));
  if (!bad && s->cpus > 0)
    bad |= json_object_set_new(limits, "cpu", json_pack("{s:I, s:I}", "quota",
                                                        (json_int_t)(s->cpus * 100000 + 0.5),
                                                        "period", (json_int_t)100000));
  if (!bad && json_object_size(limits)) bad |= json_object_set(body, "resource_limits", limits);
  if (!bad && s->shm > 0) bad |= json_object_set_new(body, "shm_size", json_integer(s->shm));
  if (!bad && s->gpus) {
    json_t *dev = cdi_devices(s->gpus);
    bad |= !dev || json_object_set_new(body, "devices", dev);
  }
  json_decref(mounts);
  json_decref(volumes);
  json_decref(limits);
  if (bad) {
    json_decref(body);
    return NULL;
  }
  return body;
}
