/* op_parse.c: op definitions from YAML (ops/ files and a job's inline `ops:`).
 * Each bad field is a diagnostic and parsing goes on: one pass reports all. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers/containers.h"
#include "dsl/dsl_int.h"
#include "util/buf.h"
#include "util/str.h"

static const char *const op_keys[] = {
    "description", "run",    "argv",    "c_function", "inputs",
    "outputs",     "config", "retries", "timeout",    "queue",
    "image",       "env",    "tags",    "resources", "mounts", "secrets",
    "on_failure",  "isolated", "steps_per_child", "assets", NULL};
static const char *const op_keys_named[] = {
    "name",   "description", "run",    "argv",    "c_function",
    "inputs", "outputs",     "config", "retries", "timeout",
    "queue",  "image",       "env",    "tags",    "resources", "mounts", "secrets",
    "on_failure",  "isolated", "steps_per_child", "assets", NULL};
static const char *const input_keys[] = {"type", "description", "default",
                                         "asset", NULL};
static const char *const output_keys[] = {"type", "description", "optional", NULL};
static const char *const config_keys[] = {"type",        "default", "required",
                                          "description", "enum",    NULL};
static const char *const retry_keys[] = {"max", "delay", "backoff", "jitter",
                                         NULL};
static const char *const type_names[] = {"any",    "bool", "int",  "float",
                                         "string", "list", "dict", "path"};

#define NOMEM_IF(x)            \
  do {                         \
    if (x) return WEFT_ENOMEM; \
  } while (0)

/* A string field: a non-null scalar; reports and returns NULL otherwise. */
static const char *string_field(struct weft_diags *d,
                                const struct weft__ynode *n, const char *owner,
                                const char *field) {
  const char *t = weft__ynode_text(n);
  if (!t || !*t) {
    char got[96];
    weft__dsl_error(d, n->mark, "%s: %s must be a non-empty string, got %s",
                    owner, field, weft__dsl_got(got, sizeof got, n));
    return NULL;
  }
  return t;
}

static int parse_type(struct weft_diags *d, const struct weft__ynode *n,
                      const char *what, enum weft_type *out) {
  *out = WEFT_TYPE_ANY;
  if (weft__ynode_is_null(n)) return 1;
  const char *t = weft__ynode_text(n);
  if (t && n->kind == WEFT__Y_SCALAR && weft_type_parse(t, out) == WEFT_OK)
    return 1;
  char hint[160], got[96];
  weft__dsl_suggest(hint, sizeof hint, t, type_names, 8);
  if (!hint[0])
    snprintf(hint, sizeof hint,
             " (types: any, bool, int, float, string, list, dict, path)");
  weft__dsl_error(d, n->mark, "unknown type %s for %s%s",
                  weft__dsl_got(got, sizeof got, n), what, hint);
  return 0;
}

/* inputs: / outputs:  NAME -> type | {type, description[, default]} */
static int parse_ports(struct weft_diags *d, const struct weft__ynode *n,
                       const char *owner, int is_input, struct weft_port **out,
                       size_t *n_out) {
  const char *field = is_input ? "inputs" : "outputs";
  if (weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark,
                    "%s: %s must be a mapping of names to types, got %s", owner,
                    field, weft__ynode_describe(n));
    return WEFT_OK;
  }
  *out = calloc(n->u.map.n ? n->u.map.n : 1, sizeof **out);
  NOMEM_IF(!*out);
  for (size_t i = 0; i < n->u.map.n; i++) {
    const struct weft__ynode *k = n->u.map.pairs[i].key,
                             *v = n->u.map.pairs[i].value;
    const char *name = k->u.scalar.text;
    char what[256];
    snprintf(what, sizeof what, "%s '%s' of %s", is_input ? "input" : "output",
             name, owner);
    if (!weft_str_is_identifier(name)) {
      weft__dsl_error(
          d, k->mark,
          "%s: invalid %s name '%s' (use letters, digits, '_' and '-', "
          "starting with a letter or '_')",
          owner, is_input ? "input" : "output", name);
      continue;
    }
    struct weft_port *p = &(*out)[(*n_out)++];
    p->mark = k->mark;
    NOMEM_IF(!(p->name = strdup(name)));
    const struct weft__ynode *type_node = v, *desc = NULL, *def = NULL, *opt = NULL,
                             *asset = NULL;
    if (v->kind == WEFT__Y_MAP) {
      asset = is_input ? weft__ymap_get(v, "asset", NULL) : NULL;
      weft__dsl_check_keys(d, v, is_input ? input_keys : output_keys, what);
      type_node = weft__ymap_get(v, "type", NULL);
      desc = weft__ymap_get(v, "description", NULL);
      def = weft__ymap_get(v, "default", NULL);
      opt = is_input ? NULL : weft__ymap_get(v, "optional", NULL);
    } else if (v->kind == WEFT__Y_SEQ) {
      weft__dsl_error(
          d, v->mark,
          "%s must be a type name or a mapping with 'type', got a list", what);
      continue;
    }
    parse_type(d, type_node, what, &p->type);
    if (desc) {
      const char *t = string_field(d, desc, what, "description");
      if (t) NOMEM_IF(!(p->description = strdup(t)));
    }
    if (asset) {
      const char *t = string_field(d, asset, what, "asset");
      if (t && !weft_asset_key_valid(t))
        weft__dsl_error(d, asset->mark,
                        "%s: invalid asset key '%s' (letters, digits and '_-.:', at most 200)",
                        what, t);
      else if (t)
        NOMEM_IF(!(p->asset = strdup(t)));
    }
    if (opt && !weft__ynode_bool(opt, &p->optional)) {
      char got[96];
      weft__dsl_error(d, opt->mark, "%s: optional must be true or false, got %s", what,
                      weft__dsl_got(got, sizeof got, opt));
    }
    if (def && is_input) {
      NOMEM_IF(!(p->default_value = weft__ynode_to_json(def)));
      char dwhat[300];
      snprintf(dwhat, sizeof dwhat, "default of %s", what);
      weft__dsl_check_value(d, def->mark, p->type, p->default_value, dwhat);
    }
  }
  return WEFT_OK;
}

static int parse_config_field(struct weft_diags *d, const struct weft__ynode *k,
                              const struct weft__ynode *v, const char *owner,
                              struct weft_config_field *f) {
  char what[256];
  snprintf(what, sizeof what, "config '%s' of %s", k->u.scalar.text, owner);
  const struct weft__ynode *type_node = v, *def = NULL, *req = NULL,
                           *desc = NULL, *en = NULL;
  if (v->kind == WEFT__Y_MAP) {
    weft__dsl_check_keys(d, v, config_keys, what);
    type_node = weft__ymap_get(v, "type", NULL);
    def = weft__ymap_get(v, "default", NULL);
    req = weft__ymap_get(v, "required", NULL);
    desc = weft__ymap_get(v, "description", NULL);
    en = weft__ymap_get(v, "enum", NULL);
  } else if (v->kind == WEFT__Y_SEQ) {
    weft__dsl_error(
        d, v->mark,
        "%s must be a type name or a mapping with 'type', 'default', "
        "'required', 'description', 'enum', got a list",
        what);
    return WEFT_OK;
  }
  parse_type(d, type_node, what, &f->type);
  if (req && !weft__ynode_bool(req, &f->required)) {
    char got[96];
    weft__dsl_error(d, req->mark, "%s: required must be true or false, got %s",
                    what, weft__dsl_got(got, sizeof got, req));
  }
  if (desc) {
    const char *t = string_field(d, desc, what, "description");
    if (t) NOMEM_IF(!(f->description = strdup(t)));
  }
  if (en) {
    if (en->kind != WEFT__Y_SEQ || !en->u.seq.n) {
      weft__dsl_error(d, en->mark,
                      "%s: enum must be a non-empty list of values, got %s",
                      what, weft__ynode_describe(en));
    } else {
      NOMEM_IF(!(f->enum_values = weft__ynode_to_json(en)));
      for (size_t i = 0; i < en->u.seq.n; i++) {
        char ewhat[300];
        snprintf(ewhat, sizeof ewhat, "enum value of %s", what);
        weft__dsl_check_value(d, en->u.seq.items[i]->mark, f->type,
                              json_array_get(f->enum_values, i), ewhat);
      }
    }
  }
  if (def) {
    NOMEM_IF(!(f->default_value = weft__ynode_to_json(def)));
    char dwhat[300];
    snprintf(dwhat, sizeof dwhat, "default of %s", what);
    if (weft__dsl_check_value(d, def->mark, f->type, f->default_value, dwhat) &&
        f->enum_values &&
        !weft__dsl_enum_has(f->enum_values, f->default_value)) {
      char *list = weft__dsl_enum_list(f->enum_values);
      char *dv = json_dumps(f->default_value, JSON_ENCODE_ANY | JSON_COMPACT);
      weft__dsl_error(d, def->mark,
                      "default %s of %s is not one of its enum values: %s",
                      dv ? dv : "?", what, list ? list : "?");
      free(list);
      free(dv);
    }
  }
  return WEFT_OK;
}

static int parse_config(struct weft_diags *d, const struct weft__ynode *n,
                        const char *owner, struct weft_op_def *def) {
  if (weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        d, n->mark,
        "%s: config must be a mapping of field names to schemas, got %s", owner,
        weft__ynode_describe(n));
    return WEFT_OK;
  }
  def->config = calloc(n->u.map.n ? n->u.map.n : 1, sizeof *def->config);
  NOMEM_IF(!def->config);
  for (size_t i = 0; i < n->u.map.n; i++) {
    const struct weft__ynode *k = n->u.map.pairs[i].key;
    if (!weft_str_is_identifier(k->u.scalar.text)) {
      weft__dsl_error(
          d, k->mark,
          "%s: invalid config field name '%s' (use letters, digits, '_' "
          "and '-', starting with a letter or '_')",
          owner, k->u.scalar.text);
      continue;
    }
    struct weft_config_field *f = &def->config[def->n_config++];
    f->mark = k->mark;
    NOMEM_IF(!(f->name = strdup(k->u.scalar.text)));
    int rc = parse_config_field(d, k, n->u.map.pairs[i].value, owner, f);
    if (rc) return rc;
  }
  return WEFT_OK;
}

static void parse_retries(struct weft_diags *d, const struct weft__ynode *n,
                          const char *owner, struct weft_retry_policy *r) {
  char got[96];
  long long i;
  double x;
  if (weft__ynode_is_null(n)) return;
  if (n->kind == WEFT__Y_SCALAR) {
    if (weft__ynode_int(n, &i) && i >= 0 && i <= 1000000)
      r->max = (int)i;
    else
      weft__dsl_error(
          d, n->mark,
          "%s: retries must be an integer >= 0 or a mapping with 'max', "
          "'delay', 'backoff', 'jitter', got %s",
          owner, weft__dsl_got(got, sizeof got, n));
    return;
  }
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        d, n->mark,
        "%s: retries must be an integer >= 0 or a mapping with 'max', "
        "'delay', 'backoff', 'jitter', got a list",
        owner);
    return;
  }
  char what[256];
  snprintf(what, sizeof what, "retries of %s", owner);
  weft__dsl_check_keys(d, n, retry_keys, what);
  const struct weft__ynode *v;
  if ((v = weft__ymap_get(n, "max", NULL))) {
    if (weft__ynode_int(v, &i) && i >= 0 && i <= 1000000)
      r->max = (int)i;
    else
      weft__dsl_error(d, v->mark,
                      "%s: retries.max must be an integer >= 0, got %s", owner,
                      weft__dsl_got(got, sizeof got, v));
  }
  if ((v = weft__ymap_get(n, "delay", NULL))) {
    if (weft__ynode_number(v, &x) && x >= 0)
      r->delay_s = x;
    else if (v->kind == WEFT__Y_SCALAR && weft__ynode_text(v) &&
             weft_dsl_parse_duration(v->u.scalar.text, &x) == WEFT_OK)
      r->delay_s = x;
    else
      weft__dsl_error(d, v->mark,
                      "%s: retries.delay must be a number of seconds >= 0 or a "
                      "duration like \"10s\", got %s",
                      owner, weft__dsl_got(got, sizeof got, v));
  }
  if ((v = weft__ymap_get(n, "backoff", NULL))) {
    if (weft__ynode_number(v, &x) && x >= 1)
      r->backoff = x;
    else
      weft__dsl_error(d, v->mark,
                      "%s: retries.backoff must be a number >= 1, got %s",
                      owner, weft__dsl_got(got, sizeof got, v));
  }
  if ((v = weft__ymap_get(n, "jitter", NULL))) {
    if (weft__ynode_number(v, &x) && x >= 0 && x <= 1)
      r->jitter = x;
    else
      weft__dsl_error(
          d, v->mark,
          "%s: retries.jitter must be a number between 0 and 1, got %s", owner,
          weft__dsl_got(got, sizeof got, v));
  }
}

static void parse_timeout(struct weft_diags *d, const struct weft__ynode *n,
                          const char *owner, double *out) {
  double x;
  if (weft__ynode_is_null(n)) return;
  int ok = weft__ynode_number(n, &x) ||
           (n->kind == WEFT__Y_SCALAR &&
            weft_dsl_parse_duration(n->u.scalar.text, &x) == WEFT_OK);
  if (ok && x > 0) {
    *out = x;
    return;
  }
  char got[96];
  weft__dsl_error(
      d, n->mark,
      "%s: timeout must be a number of seconds > 0 or a duration like "
      "\"30s\", \"5m\", \"1h\", got %s",
      owner, weft__dsl_got(got, sizeof got, n));
}

static int parse_argv(struct weft_diags *d, const struct weft__ynode *n,
                      const char *owner, struct weft_op_def *def) {
  if (n->kind != WEFT__Y_SEQ || !n->u.seq.n) {
    weft__dsl_error(d, n->mark,
                    "%s: argv must be a non-empty list of strings, got %s",
                    owner, weft__ynode_describe(n));
    return WEFT_OK;
  }
  for (size_t i = 0; i < n->u.seq.n; i++) {
    const struct weft__ynode *a = n->u.seq.items[i];
    if (a->kind != WEFT__Y_SCALAR || !weft__ynode_text(a)) {
      weft__dsl_error(d, a->mark, "%s: argv[%zu] must be a string, got %s",
                      owner, i, weft__ynode_describe(a));
      return WEFT_OK;
    }
  }
  def->argv = calloc(n->u.seq.n + 1, sizeof *def->argv);
  NOMEM_IF(!def->argv);
  for (size_t i = 0; i < n->u.seq.n; i++)
    NOMEM_IF(!(def->argv[i] = strdup(n->u.seq.items[i]->u.scalar.text)));
  return WEFT_OK;
}

/* run / argv / c_function: exactly one. */
static int parse_command(struct weft_diags *d, const struct weft__ynode *node,
                         const char *owner, struct weft_op_def *def) {
  static const char *const kinds[] = {"run", "argv", "c_function"};
  const struct weft__ynode *first_key = NULL;
  const char *first = NULL;
  for (size_t i = 0; i < node->u.map.n; i++) {
    const struct weft__ynode *k = node->u.map.pairs[i].key,
                             *v = node->u.map.pairs[i].value;
    size_t kind = 0;
    while (kind < 3 && strcmp(kinds[kind], k->u.scalar.text)) kind++;
    if (kind == 3) continue;
    if (first) {
      weft__dsl_error(
          d, k->mark,
          "%s has both '%s' (line %d) and '%s'; give exactly one of 'run', "
          "'argv' or 'c_function'",
          owner, first, first_key->mark.line, kinds[kind]);
      continue;
    }
    first = kinds[kind];
    first_key = k;
    const char *t;
    if (kind == 0) {
      if ((t = string_field(d, v, owner, "run")))
        NOMEM_IF(!(def->run = strdup(t)));
    } else if (kind == 1) {
      int rc = parse_argv(d, v, owner, def);
      if (rc) return rc;
    } else if ((t = string_field(d, v, owner, "c_function"))) {
      if (!weft_str_is_identifier(t))
        weft__dsl_error(d, v->mark,
                        "%s: c_function '%s' is not a valid C op name", owner,
                        t);
      else
        NOMEM_IF(!(def->c_function = strdup(t)));
    }
  }
  if (!first)
    weft__dsl_error(
        d, def->mark,
        "%s says nothing to run: give one of 'run' (a shell command), "
        "'argv' (a list) or 'c_function'",
        owner);
  return WEFT_OK;
}

int weft__dsl_parse_op(struct weft_diags *d, const char *name,
                       struct weft_mark at, const struct weft__ynode *node,
                       int allow_name, struct weft_op_def *def) {
  char owner[200];
  snprintf(owner, sizeof owner, "op '%s'", name);
  memset(def, 0, sizeof *def);
  def->mark = at;
  def->retry.backoff = 1;
  NOMEM_IF(!(def->name = strdup(name)));
  if (!weft_str_is_identifier(name))
    weft__dsl_error(d, at,
                    "invalid op name '%s' (use letters, digits, '_' and '-', "
                    "starting with a letter or '_')",
                    name);
  if (!node || node->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        d, node ? node->mark : at,
        "%s must be a mapping of op fields ('run', 'inputs', ...), got %s",
        owner, weft__ynode_describe(node));
    return WEFT_OK;
  }
  weft__dsl_check_keys(d, node, allow_name ? op_keys_named : op_keys, owner);
  int rc = parse_command(d, node, owner, def);
  const struct weft__ynode *v;
  const char *t;
  if (!rc && (v = weft__ymap_get(node, "description", NULL)) &&
      (t = string_field(d, v, owner, "description")))
    rc = (def->description = strdup(t)) ? WEFT_OK : WEFT_ENOMEM;
  if (!rc)
    rc = parse_ports(d, weft__ymap_get(node, "inputs", NULL), owner, 1,
                     &def->inputs, &def->n_inputs);
  if (!rc)
    rc = parse_ports(d, weft__ymap_get(node, "outputs", NULL), owner, 0,
                     &def->outputs, &def->n_outputs);
  if (!rc && !def->n_outputs) {
    /* No declared outputs: one untyped `result`, so `other_op` wiring works. */
    free(def->outputs);
    def->outputs = calloc(1, sizeof *def->outputs);
    if (!def->outputs || !(def->outputs[0].name = strdup("result")))
      return WEFT_ENOMEM;
    def->outputs[0].type = WEFT_TYPE_ANY;
    def->outputs[0].mark = at;
    def->n_outputs = 1;
  }
  if (!rc)
    rc = parse_config(d, weft__ymap_get(node, "config", NULL), owner, def);
  if (rc) return rc;
  parse_retries(d, weft__ymap_get(node, "retries", NULL), owner, &def->retry);
  parse_timeout(d, weft__ymap_get(node, "timeout", NULL), owner,
                &def->timeout_s);
  if ((v = weft__ymap_get(node, "queue", NULL)) &&
      (t = string_field(d, v, owner, "queue"))) {
    if (strpbrk(t, " \t\r\n"))
      weft__dsl_error(d, v->mark, "%s: queue name '%s' must not contain spaces",
                      owner, t);
    else
      NOMEM_IF(!(def->queue = strdup(t)));
  }
  if (!def->queue) NOMEM_IF(!(def->queue = strdup("default")));
  if ((v = weft__ymap_get(node, "isolated", NULL)) && !weft__ynode_bool(v, &def->isolated)) {
    char got[96];
    weft__dsl_error(d, v->mark, "%s: isolated must be true or false, got %s", owner,
                    weft__dsl_got(got, sizeof got, v));
  }
  if ((v = weft__ymap_get(node, "steps_per_child", NULL))) {
    long long i;
    char got[96];
    if (weft__ynode_int(v, &i) && i >= 1 && i <= 1000000)
      def->steps_per_child = (int)i;
    else
      weft__dsl_error(d, v->mark, "%s: steps_per_child must be an integer from 1 to 1000000, "
                      "got %s", owner, weft__dsl_got(got, sizeof got, v));
    if (def->isolated && def->steps_per_child > 1)
      weft__dsl_error(d, v->mark, "%s: steps_per_child needs the warm pool, which "
                      "isolated: true turns off", owner);
  }
  if ((v = weft__ymap_get(node, "image", NULL)) &&
      (t = string_field(d, v, owner, "image"))) {
    const char *why = NULL;
    if (!weft_ctr_image_ref_ok(t, &why))
      weft__dsl_error(d, v->mark, "%s: image '%s' is not an image reference: %s", owner, t,
                      why);
    NOMEM_IF(!(def->image = strdup(t)));
  }
  NOMEM_IF(weft__dsl_parse_resources(d, weft__ymap_get(node, "resources", NULL), owner,
                                     &def->resources));
  NOMEM_IF(weft__dsl_parse_mounts(d, weft__ymap_get(node, "mounts", NULL), owner, &def->mounts,
                                  &def->n_mounts));
  rc = weft__dsl_parse_env(d, weft__ymap_get(node, "env", NULL), owner, def);
  if (!rc) rc = weft__dsl_parse_secrets(d, weft__ymap_get(node, "secrets", NULL), owner, def);
  if (!rc)
    rc = weft__dsl_parse_kvs(d, weft__ymap_get(node, "tags", NULL), "tags",
                             owner, 0, &def->tags);
  if (!rc) rc = weft__dsl_parse_hooks(d, node, owner, 0, &def->hooks);
  if (!rc) rc = weft__dsl_parse_assets(d, weft__ymap_get(node, "assets", NULL), owner, def);
  return rc;
}

static int add_op(struct weft_diags *d, struct weft__dsl_op **ops, size_t *n,
                  size_t *cap, const char *name, struct weft_mark at,
                  const struct weft__ynode *node, int allow_name) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 16;
    struct weft__dsl_op *p = realloc(*ops, c * sizeof *p);
    if (!p) return WEFT_ENOMEM;
    *ops = p;
    *cap = c;
  }
  struct weft__dsl_op *op = &(*ops)[(*n)++];
  size_t before = d->n;
  int rc = weft__dsl_parse_op(d, name, at, node, allow_name, &op->def);
  op->bad = d->n != before;
  return rc;
}

/* A file holding one op in the flat form: its fields at the top level. */
static int is_single_op(const struct weft__ynode *root) {
  static const char *const markers[] = {"name", "run", "argv", "c_function"};
  for (size_t i = 0; i < 4; i++) {
    const struct weft__ynode *v = weft__ymap_get(root, markers[i], NULL);
    if (v && v->kind != WEFT__Y_MAP) return 1;
  }
  return 0;
}

static int single_op(struct weft_diags *d, const char *file,
                     const struct weft__ynode *node, struct weft__dsl_op **ops,
                     size_t *n, size_t *cap) {
  struct weft__ynode *name_key = NULL;
  const struct weft__ynode *name_node = weft__ymap_get(node, "name", &name_key);
  const char *name = weft__ynode_text(name_node);
  struct weft_mark at = name_key ? name_node->mark : node->mark;
  char *base = NULL;
  if (name_node && !name) {
    weft__dsl_error(d, name_node->mark, "op name must be a string, got %s",
                    weft__ynode_describe(name_node));
  }
  if (!name) {
    if (!(base = weft__dsl_base_name(file))) return WEFT_ENOMEM;
    name = base;
  }
  int rc = add_op(d, ops, n, cap, name, at, node, 1);
  free(base);
  return rc;
}

int weft__dsl_parse_ops_file(struct weft_diags *d, const char *file,
                             const struct weft__ynode *root,
                             struct weft__dsl_op **ops, size_t *n) {
  size_t cap = *n; /* *ops was sized exactly by earlier calls */
  int rc = WEFT_OK;
  if (weft__ynode_is_null(root))
    return WEFT_OK; /* an empty file defines nothing */
  if (root->kind == WEFT__Y_SEQ) {
    /* a list of ops, each with `name:` */
    for (size_t i = 0; i < root->u.seq.n && !rc; i++) {
      const struct weft__ynode *item = root->u.seq.items[i];
      if (item->kind != WEFT__Y_MAP || !weft__ymap_get(item, "name", NULL)) {
        weft__dsl_error(
            d, item->mark,
            "each op in a list must be a mapping with 'name:', got %s",
            weft__ynode_describe(item));
        continue;
      }
      rc = single_op(d, file, item, ops, n, &cap);
    }
  } else if (root->kind != WEFT__Y_MAP) {
    weft__dsl_error(
        d, root->mark,
        "an ops file must be a mapping of op names to definitions, got %s",
        weft__ynode_describe(root));
  } else if (is_single_op(root)) {
    rc = single_op(d, file, root, ops, n, &cap);
  } else {
    for (size_t i = 0; i < root->u.map.n && !rc; i++) {
      const struct weft__ypair *p = &root->u.map.pairs[i];
      rc = add_op(d, ops, n, &cap, p->key->u.scalar.text, p->key->mark,
                  p->value, 0);
    }
  }
  if (!rc && *n) {
    /* shrink to fit so the next call's cap (= *n) is the real capacity */
    struct weft__dsl_op *s = realloc(*ops, *n * sizeof **ops);
    if (s) *ops = s;
  }
  return rc;
}
