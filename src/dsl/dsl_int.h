/* dsl_int.h: internals shared by the files of src/dsl: diagnostics helpers,
 * the op and job parsers, and the checks that resolve a job's graph. */
#ifndef WEFT_DSL_DSL_INT_H
#define WEFT_DSL_DSL_INT_H

#include "dsl/dsl.h"
#include "dsl/yaml_tree.h"
#include "model/model_int.h"
#include "util/map.h"

/* ---- diagnostics (dsl_common.c) ------------------------------------------ */

void weft__dsl_error(struct weft_diags *d, struct weft_mark at, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));
/* Reports every key of map that is not in allowed (NULL-terminated) as
 * "unknown key 'k' in WHAT (did you mean 'x'?)". */
void weft__dsl_check_keys(struct weft_diags *d, const struct weft__ynode *map,
                          const char *const *allowed, const char *what);
/* " (did you mean 'x'?)" when a candidate is close to word, else "". The
 * result lives in buf (at least 128 bytes). */
const char *weft__dsl_suggest(char *buf, size_t size, const char *word,
                              const char *const *candidates, size_t n);
/* "'text'" for a scalar (shortened), else "a mapping", ... in buf. */
const char *weft__dsl_got(char *buf, size_t size, const struct weft__ynode *n);
/* Checks a JSON value against a type; on mismatch reports
 * "WHAT must be TYPE, got GOT" at `at` and returns 0. */
int weft__dsl_check_value(struct weft_diags *d, struct weft_mark at,
                          enum weft_type t, const json_t *v, const char *what);
/* Kind of a JSON value for messages: "a string", "an integer", ... */
const char *weft__dsl_json_kind(const json_t *v);
/* Whether v is one of the values of the JSON array enum_values. */
int weft__dsl_enum_has(const json_t *enum_values, const json_t *v);
/* "\"a\", \"b\"" (JSON texts joined by ", "); caller frees; NULL on ENOMEM. */
char *weft__dsl_enum_list(const json_t *enum_values);
/* Parses a scalar map of string -> scalar into kvs (env, tags). env names
 * must be valid environment variable names. Returns WEFT_OK or ENOMEM. */
int weft__dsl_parse_kvs(struct weft_diags *d, const struct weft__ynode *n,
                        const char *field, const char *owner, int env_names,
                        struct weft_kvs *out);
/* An op's env: mapping (op_env.c): NAME: value into def->env, NAME:
 * {from_env: VAR} into env_from (NAME -> VAR), {secret: S} into env_secret,
 * {variable: V} into env_variable; and its secrets: list ({name, file,
 * env}) into secret_files and env_secret. WEFT_OK or WEFT_ENOMEM. */
/* op_container.c: resources: {cpus, memory, gpus, shm} into *r, and
 * mounts: ["SRC:DST[:ro]" | {source, target, read_only}] into a new array;
 * each mistake is a diagnostic. WEFT_OK or WEFT_ENOMEM. */
int weft__dsl_parse_resources(struct weft_diags *d, const struct weft__ynode *n,
                              const char *owner, struct weft_resources *r);
int weft__dsl_parse_mounts(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                           struct weft_mount **out, size_t *n_out);
int weft__dsl_parse_env(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                        struct weft_op_def *def);
int weft__dsl_parse_secrets(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                            struct weft_op_def *def);
/* hooks_parse.c: a mapping's on_failure/on_success/on_sla_missed (each one
 * hook or a list) into *out: {"on_failure": [{webhook, body, headers,
 * command, retries, timeout_s}], ...}, or NULL when it has none; each
 * mistake is a diagnostic. env (weft.yaml): ${VAR} is replaced in the
 * strings. WEFT_OK or WEFT_ENOMEM. */
int weft__dsl_parse_hooks(struct weft_diags *d, const struct weft__ynode *map, const char *owner,
                          int env, json_t **out);
/* Name of the file without folders and without .yaml/.yml; caller frees. */
char *weft__dsl_base_name(const char *file);

/* ---- op definitions (op_parse.c) ----------------------------------------- */

/* Parses the op definition `name` whose fields are the mapping `node`; `at`
 * is the mark of the name. allow_name accepts a `name:` field (single-op
 * files). Problems go to d; returns WEFT_OK or WEFT_ENOMEM. */
int weft__dsl_parse_op(struct weft_diags *d, const char *name,
                       struct weft_mark at, const struct weft__ynode *node,
                       int allow_name, struct weft_op_def *def);

/* One parsed op with whether its definition had errors. */
struct weft__dsl_op {
  struct weft_op_def def;
  int bad;
};

/* Parses every op of an ops file (root may be NULL for an empty file),
 * appending to *ops / *n (realloc'ed). Returns WEFT_OK or WEFT_ENOMEM. */
int weft__dsl_parse_ops_file(struct weft_diags *d, const char *file,
                             const struct weft__ynode *root,
                             struct weft__dsl_op **ops, size_t *n);

/* An op's `assets:` (asset_parse.c) into def->assets. WEFT_OK or WEFT_ENOMEM. */
int weft__dsl_parse_assets(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                           struct weft_op_def *def);

/* ---- jobs (job_parse.c, job_check.c) ------------------------------------- */

/* Where the parts of each invocation came from, for the checks that run
 * after parsing while the YAML tree is still alive. */
struct weft__dsl_inv_src {
  struct weft_mark uses_mark; /* mark of `uses:` or the invocation name */
  int uses_given;             /* 0: uses defaulted to the invocation name */
  int uses_bad; /* `uses` was not a name (reported): do not resolve */
  const struct weft__ynode *config; /* the `config:` mapping, or NULL */
  struct weft_mark *wire_keys;      /* per wire: mark of its input name */
};

struct weft__dsl_job_src {
  struct weft__dsl_inv_src *inv; /* parallel to job->ops (declaration order) */
  size_t n_inv;
  int *inline_bad; /* parallel to job->inline_ops */
};

/* Parses a job file into job (name from `name:` or the file's base name). */
int weft__dsl_parse_job(struct weft_diags *d, const char *file,
                        const struct weft__ynode *root, struct weft_job *job,
                        struct weft__dsl_job_src *src);
void weft__dsl_job_src_release(struct weft__dsl_job_src *src);

/* The location's ops while jobs are checked. */
struct weft__dsl_scope {
  const struct weft_op_def *ops; /* sorted by name */
  const int *bad;                /* parallel to ops */
  size_t n_ops;
  const struct weft_map *by_name; /* name -> index + 1 into ops */
};

/* Resolves and checks the job: uses, wires, after, types, static config,
 * duplicates with location ops, cycles; then sorts job->ops topologically
 * and fills upstream, level and from_index. Returns WEFT_OK or ENOMEM. */
int weft__dsl_check_job(struct weft_diags *d,
                        const struct weft__dsl_scope *scope,
                        struct weft_job *job,
                        const struct weft__dsl_job_src *src);

/* Checks config values (a YAML mapping) against def's schema: unknown keys,
 * types and enums; what names the owner ("op 'total'"). Valid values are
 * set into out (may be NULL). Returns WEFT_OK or WEFT_ENOMEM. */
int weft__dsl_check_config_values(struct weft_diags *d,
                                  const struct weft_op_def *def,
                                  const char *inv_name,
                                  const struct weft__ynode *config,
                                  json_t *out);

/* ---- schedules, sensors, partitions (schedule_parse.c) ------------------ */

/* A job's `partitions:` (n may be NULL). Returns WEFT_OK or WEFT_ENOMEM. */
int weft__dsl_parse_partitions(struct weft_diags *d, const struct weft__ynode *n,
                               const char *owner, struct weft_partitions *p);
/* The `schedules:` list of the job file root (job: its name), appended to
 * loc->schedules. Returns WEFT_OK or WEFT_ENOMEM. */
int weft__dsl_parse_job_schedules(struct weft_diags *d, struct weft_location *loc,
                                  const struct weft__ynode *root, const char *job);
/* A file of schedules/ (sensors 0) or sensors/ (sensors 1), appended to
 * loc->schedules / loc->sensors; jobs must be settled (names are resolved
 * against loc->jobs). Returns WEFT_OK or WEFT_ENOMEM. */
int weft__dsl_parse_trigger_file(struct weft_diags *d, struct weft_location *loc,
                                 const char *file, const struct weft__ynode *root,
                                 int sensors);
/* Reports schedule and sensor names used in more than one location of ws
 * into ws->diags. */
void weft__dsl_check_trigger_names(struct weft_workspace *ws);

/* ---- run config (run_config.c, run_config_set.c) ------------------------ */

/* Applies `--set PATH=VALUE` overrides to the run-config mapping root. Each
 * override's label ("override 'TEXT'") is allocated into *labels (n_labels
 * grows; caller frees each and the array) and marks the nodes it creates,
 * so later diagnostics name the override. Malformed overrides are reported
 * into d. Returns WEFT_OK or WEFT_ENOMEM. */
int weft__rc_apply_overrides(struct weft__ydoc *doc, struct weft__ynode *root,
                             const char *const *overrides, size_t n,
                             char ***labels, size_t *n_labels,
                             struct weft_diags *d);

/* ---- weft.yaml's server section (instance_server.c) ---------------------- */

/* server: {allowed_hosts: [...]} into *s; problems go to d, *nomem is set
 * when memory runs out. */
/* The scalar's text with ${VAR} replaced ($$: a literal $); an unset
 * variable or a malformed reference is a diagnostic at the value. NULL
 * (after a diagnostic, or when out of memory: *nomem set) on failure.
 * Caller frees. (instance_config.c) */
char *weft__dsl_substitute_env(struct weft_diags *d, const struct weft__ynode *n, int *nomem);
void weft__parse_server_config(struct weft_diags *d, const struct weft__ynode *n,
                               struct weft_server_config *s, int *nomem);
/* auth: {proxy_header: NAME, trusted_proxies: [ADDR or CIDR, ...]} into *s. */
void weft__parse_auth_config(struct weft_diags *d, const struct weft__ynode *n,
                             struct weft_server_config *s, int *nomem);
void weft__server_config_release(struct weft_server_config *s);

#endif
