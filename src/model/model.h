/* model.h: the in-memory job model: op definitions, jobs of op invocations,
 * code locations and workspaces. Built by src/dsl, read by every layer above. */
#ifndef WEFT_MODEL_MODEL_H
#define WEFT_MODEL_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/diag.h"
#include "weft.h"

/* ---- value types --------------------------------------------------------- */

enum weft_type {
  WEFT_TYPE_ANY,
  WEFT_TYPE_BOOL,
  WEFT_TYPE_INT,
  WEFT_TYPE_FLOAT,
  WEFT_TYPE_STRING,
  WEFT_TYPE_LIST,
  WEFT_TYPE_DICT,
  WEFT_TYPE_PATH /* a file or folder produced by an op, stored as raw bytes */
};

const char *weft_type_name(enum weft_type t);
/* Parses "int", "float", ...; returns WEFT_OK or WEFT_EINVALID. */
int weft_type_parse(const char *s, enum weft_type *out);
/* Whether an output of type `from` may feed an input of type `to`
 * (any accepts and provides everything; int widens to float). */
int weft_type_assignable(enum weft_type from, enum weft_type to);
/* Whether a JSON value is of type t (path: a string). */
int weft_type_check_json(enum weft_type t, const json_t *v);

/* ---- source positions ------------------------------------------------------ */

/* A position in a YAML file. file is borrowed from the owning location's
 * interned file list and lives as long as the location. */
struct weft_mark {
  const char *file;
  int line, col; /* 1-based */
};

struct weft_kv {
  char *key, *value;
};
struct weft_kvs {
  struct weft_kv *v;
  size_t n;
};

/* ---- op definitions ---------------------------------------------------------- */

struct weft_port {
  char *name;
  enum weft_type type;
  char *description;      /* may be NULL */
  json_t *default_value;  /* inputs only; NULL when none (owned reference) */
  /* outputs only (`optional: true`): the op may leave it unwritten (or
   * write null) and still succeed; steps wired to it are then skipped. */
  int optional;
  /* inputs only (`asset: NAME`): the asset this input reads, an edge of
   * the asset graph (engine/catalog.h); NULL when none. */
  char *asset;
  struct weft_mark mark;
};

struct weft_config_field {
  char *name;
  enum weft_type type;
  json_t *default_value; /* NULL when none (owned reference) */
  int required;          /* required and no default: run config must set it */
  char *description;     /* may be NULL */
  json_t *enum_values;   /* JSON array of allowed values, or NULL */
  struct weft_mark mark;
};

struct weft_retry_policy {
  int max;        /* retries after the first attempt; 0 = none */
  double delay_s; /* wait before the first retry */
  double backoff; /* multiplier per further retry (1 = constant) */
  double jitter;  /* 0..1: random fraction added to or taken off each delay */
};

/* An op's container limits (`resources:`); zero fields: no limit. They
 * apply when the step runs in a container (an image), not to host steps. */
struct weft_resources {
  double cpus;    /* CPUs, fractional: 1.5 */
  int64_t memory; /* bytes; a step above it is killed: "out of memory" */
  int64_t shm;    /* bytes of /dev/shm */
  char *gpus;     /* NULL, "all", a count "2", or ids "0,1" */
};

/* A host path or named volume in an op's containers (`mounts:`). */
struct weft_mount {
  char *source; /* an absolute host path, or a volume name */
  char *target; /* an absolute path in the container, not under /weft */
  int read_only;
};

/* An asset an op produces (`assets:` of an op, dsl/asset_parse.c): a
 * name (`key`) other ops' inputs and the catalog refer to. */
struct weft_asset_def {
  char *key;
  char *group;       /* "default" unless set */
  char *description; /* may be NULL */
  char **owners;     /* n_owners strings */
  size_t n_owners;
  /* `partitions: true` (the producing job's set) or false; as the job's
   * when not given. */
  int partitioned;
  /* `freshness: {max_age: 6h}`: 0 when none; text as written. */
  double max_age_s;
  char max_age_text[32];
  struct weft_mark mark;
};

/* Whether k is a valid asset key (model.c). */
int weft_asset_key_valid(const char *k);

struct weft_op_def {
  char *name;
  char *description; /* may be NULL */
  /* Exactly one of the three says what the op runs. */
  char *run;         /* shell command run with /bin/sh -c */
  char **argv;       /* NULL-terminated argument vector */
  char *c_function;  /* a C op registered with weft_register_c_op */
  struct weft_port *inputs;
  size_t n_inputs;
  struct weft_port *outputs; /* a lone `result` of type any when none declared */
  size_t n_outputs;
  struct weft_config_field *config;
  size_t n_config;
  struct weft_retry_policy retry;
  double timeout_s; /* 0: no timeout */
  /* isolated: true: a Python op's steps each start a fresh interpreter
   * instead of a child of the warm pool (exec/pypool.h). */
  int isolated;
  /* steps_per_child: N: a warm pool child runs up to N of the op's steps
   * one after another (exec/pypool.h); 0: the instance's default
   * ($WEFT_PYPOOL_STEPS_PER_CHILD, else 1: a fresh fork a step). */
  int steps_per_child;
  char *queue;      /* "default" unless set */
  char *image;      /* may be NULL */
  struct weft_resources resources;
  struct weft_mount *mounts; /* containers only */
  size_t n_mounts;
  struct weft_kvs env, tags;
  /* env: {NAME: {from_env: VAR}}: NAME -> VAR; the step gets weft's own
   * $VAR as $NAME (how it asks for a credential weft does not pass on). */
  struct weft_kvs env_from;
  /* env: {NAME: {secret: S}} and {NAME: {variable: V}}: NAME -> S and
   * NAME -> V; secrets: [{name: S, file: true}]: S -> S. Names only: the
   * values are read when a step starts (engine/secrets.h). */
  struct weft_kvs env_secret, env_variable, secret_files;
  /* on_failure: alerts when a step of this op fails for good, as checked
   * JSON {"on_failure": [hook]} (dsl/hooks_parse.c), or NULL. */
  json_t *hooks;
  /* `assets:` the op produces (its steps report their materializations). */
  struct weft_asset_def *assets;
  size_t n_assets;
  struct weft_mark mark;
};

/* Whether def's output port may be left unwritten (or written null) and the
 * step still succeed with no artifact: one declared `optional: true`, and
 * the lone untyped `result` of an op that declares no outputs (exec.h).
 * Unlike the optional one, the lone result's downstream steps run, with
 * null. */
static inline int weft_op_output_is_lone_result(const struct weft_op_def *def,
                                                const struct weft_port *port) {
  return def->n_outputs == 1 && port == &def->outputs[0] && port->type == WEFT_TYPE_ANY &&
         !strcmp(port->name, "result");
}
static inline int weft_op_output_may_be_null(const struct weft_op_def *def,
                                             const struct weft_port *port) {
  return port->optional || weft_op_output_is_lone_result(def, port);
}

/* ---- partitions ----------------------------------------------------------------- */

enum weft_partitions_kind {
  WEFT_PARTITIONS_NONE = 0,
  WEFT_PARTITIONS_DAILY,
  WEFT_PARTITIONS_HOURLY,
  WEFT_PARTITIONS_STATIC
};

/* A job's partition set (`partitions:` in its YAML). */
struct weft_partitions {
  enum weft_partitions_kind kind;
  /* daily/hourly: first partition start, end (0: open) in UTC seconds */
  int64_t start_s, end_s;
  char *timezone; /* daily/hourly: IANA zone of the keys ("UTC" default) */
  char **keys;    /* static: the keys as declared */
  size_t n_keys;
  struct weft_mark mark;
};

/* Partition keys: daily "2026-01-01", hourly "2026-01-01-05:00" (local time
 * of p->timezone), static as declared. The keys from..to inclusive (from/to
 * are keys; NULL from = the first, NULL to = the last complete partition as
 * of now_s). *keys is a NULL-terminated array of n strings; free it with
 * weft_partitions_keys_free. WEFT_EINVALID (err says why) when from or to is
 * not a key of p, or from comes after to. */
int weft_partitions_keys_between(const struct weft_partitions *p, const char *from,
                                 const char *to, int64_t now_s, char ***keys, size_t *n,
                                 weft_error *err);
void weft_partitions_keys_free(char **keys, size_t n); /* NULL is a no-op */
/* 1 when key is a partition of p that exists (complete) as of now_s (static:
 * declared), else 0. */
int weft_partitions_has_key(const struct weft_partitions *p, const char *key, int64_t now_s);
/* The partition a schedule tick at tick_s targets: the last complete one
 * (daily job ticking at 2026-01-02 00:05 -> "2026-01-01"). NULL when there is
 * none (before the first, or a static set, or out of memory); caller frees. */
char *weft_partitions_key_for_tick(const struct weft_partitions *p, int64_t tick_s);
/* The start of the partition named key, UTC seconds (daily/hourly); -1 when
 * key is malformed. */
int64_t weft_partitions_key_start(const struct weft_partitions *p, const char *key);

/* ---- jobs ---------------------------------------------------------------------- */

/* An input wired to an upstream output: `other` or `other.output`. */
struct weft_wire {
  char *input;
  char *from_op;     /* invocation name */
  char *from_output; /* "result" when the dot form was not used */
  size_t from_index; /* index of from_op in job->ops, set by validation */
  struct weft_mark mark;
};

/* An ordering-only dependency (`after: [other, ...]`, as Argo's
 * `dependencies:`): the invocation starts once `op` has succeeded, without
 * taking any of its outputs. */
struct weft_dep {
  char *op;     /* invocation name */
  size_t index; /* index of op in job->ops, set by validation */
  struct weft_mark mark;
};

/* When a step runs, given how its upstreams ended (`trigger:`, Airflow's
 * trigger rules). A step without upstreams always runs. */
enum weft_trigger {
  WEFT_TRIGGER_ALL_SUCCESS = 0, /* every upstream succeeded (the default) */
  WEFT_TRIGGER_ALL_DONE,        /* every upstream ended, however */
  WEFT_TRIGGER_ONE_FAILED,      /* as soon as one upstream failed */
  WEFT_TRIGGER_NONE_FAILED,     /* every upstream succeeded or was skipped */
  WEFT_TRIGGER_ALL_SKIPPED      /* every upstream was skipped */
};
const char *weft_trigger_name(enum weft_trigger t);
/* "all_done" -> WEFT_TRIGGER_ALL_DONE; WEFT_OK or WEFT_EINVALID. */
int weft_trigger_parse(const char *s, enum weft_trigger *out);

struct weft_when; /* a parsed `when:` condition (model/when_expr.h) */

struct weft_invocation {
  char *name; /* unique within the job */
  char *uses; /* name of the op definition */
  const struct weft_op_def *def; /* resolved by validation; NULL if unknown */
  struct weft_wire *wires;
  size_t n_wires;
  json_t *config; /* config values fixed in the job file, or NULL (owned) */
  /* Derived by validation: distinct upstream invocations (indexes into
   * job->ops) and the level (0 for roots, 1 + max upstream level). */
  size_t *upstream;
  size_t n_upstream;
  int level;
  struct weft_mark mark;
  /* Ordering-only dependencies; their targets are also in upstream. */
  struct weft_dep *after;
  size_t n_after;
  /* `when:` (NULL: none): evaluated when the step is ready, false skips it;
   * the steps it names are also in upstream. */
  struct weft_when *when;
  enum weft_trigger trigger;
  /* `uses: job:NAME` before model/compose.c flattens it into prefixed
   * steps (NULL after, and for op invocations). */
  char *sub_job;
  /* `map: {INPUT: STEP.OUTPUT}` (engine/run_map.c): when mapped, wires[map_wire]
   * is that entry and the step runs once per item of the list STEP.OUTPUT,
   * as STEP[0], STEP[1], ... (or STEP[KEY] for {key:, value:} items); when
   * STEP is mapped itself, once per item of STEP (chained: B[k] gets
   * STEP[k].OUTPUT). max_items bounds the items (0: WEFT_MAP_MAX_ITEMS). */
  int mapped;
  /* `map: {INPUT: STEP[*].OUTPUT}` (nesting, once): STEP is mapped, and
   * this step expands into one group per item of STEP, STEP'[i], each a
   * map over that item's list OUTPUT: items NAME[i][j]. */
  int map_nested;
  size_t map_wire;
  long max_items;
};

/* The default bound on the items of a mapped step. */
#define WEFT_MAP_MAX_ITEMS 10000

/* A run deadline (`timeout:`, `sla:` of a job or of a run config's
 * `execution:`): s == 0 when not set; text is the spelling given ("2h",
 * "1h30m"; a bare number gets an "s"), so messages repeat what users wrote. */
struct weft_deadline {
  double s;
  char text[32];
};

struct weft_job {
  char *name;
  char *description; /* may be NULL */
  struct weft_kvs tags;
  struct weft_op_def *inline_ops; /* ops defined inside the job file */
  size_t n_inline_ops;
  struct weft_invocation *ops; /* topologically sorted when the job is valid */
  size_t n_ops;
  int valid; /* no diagnostics point into this job */
  const struct weft_location *location; /* borrowed back pointer */
  struct weft_mark mark;
  struct weft_partitions partitions; /* kind NONE unless `partitions:` */
  /* timeout: the run ends FAILED, its steps canceled, this long after it
   * started; sla: an `sla_missed` event then, the run going on. */
  struct weft_deadline timeout, sla;
  /* on_failure, on_success, on_sla_missed: alerts (engine/hooks.h), as
   * checked JSON {"on_failure": [hook], ...} (dsl/hooks_parse.c), or NULL. */
  json_t *hooks;
};

/* ---- schedules and sensors ------------------------------------------------------------ */

enum weft_catch_up { WEFT_CATCH_UP_LATEST = 0, WEFT_CATCH_UP_ALL };
#define WEFT_SCHEDULE_MAX_CATCH_UP_DEFAULT 10

/* A cron schedule (`schedules:` of a job, or a file of schedules/). config and
 * tag values are templates: {{scheduled_time}} (ISO 8601 in the schedule's
 * zone), {{scheduled_date}} (YYYY-MM-DD there), {{partition_key}}. */
struct weft_schedule {
  char *name;
  char *job;      /* job name, in the same location */
  char *cron;     /* as written */
  char *timezone; /* IANA name, "UTC" by default */
  int default_on; /* `default: on|off`; the stored state wins once toggled */
  enum weft_catch_up catch_up; /* latest (default) | all */
  int max_catch_up;            /* all: at most this many missed ticks run */
  json_t *config; /* run config template (owned), or NULL */
  struct weft_kvs tags;
  char *description; /* or NULL */
  const struct weft_location *location; /* borrowed back pointer */
  struct weft_mark mark;
};

enum weft_sensor_kind {
  WEFT_SENSOR_FILE,
  WEFT_SENSOR_COMMAND,
  WEFT_SENSOR_RUN_STATUS,
  WEFT_SENSOR_ASSET
};
const char *weft_sensor_kind_name(enum weft_sensor_kind k);

/* A sensor (a file of sensors/). config and tag values are templates:
 * {{run_key}}, {{file}} (file sensors), {{scheduled_time}},
 * {{scheduled_date}} (the evaluation's time, UTC). */
struct weft_sensor {
  char *name;
  enum weft_sensor_kind kind;
  int interval_s; /* default 30 */
  char *job;      /* the job it launches, in the same location */
  char *glob;     /* file: a glob pattern, relative to the location folder */
  char *run;      /* command: a shell command (sh -c), or NULL */
  char **argv;    /* command: NULL-terminated argument vector, or NULL */
  double timeout_s; /* command: default 60 */
  char *watch_job;  /* run_status: the watched job */
  char *watch_status; /* run_status: "success" | "failure" */
  char *asset;      /* asset: the asset key */
  json_t *config;   /* run config template (owned), or NULL */
  struct weft_kvs tags;
  int default_on;   /* default off */
  char *description;
  const struct weft_location *location; /* borrowed back pointer */
  struct weft_mark mark;
};

/* Lookups across a workspace's locations; NULL when absent. */
struct weft_workspace;
const struct weft_schedule *weft_workspace_find_schedule(const struct weft_workspace *ws,
                                                         const char *name);
const struct weft_sensor *weft_workspace_find_sensor(const struct weft_workspace *ws,
                                                     const char *name);

/* ---- code locations ------------------------------------------------------------- */

struct weft_location {
  char *name;
  char *path; /* absolute path of the folder */
  char **files; /* interned file names (paths as given) that marks point at */
  size_t n_files;
  struct weft_op_def *ops; /* ops/NAME.yaml files, sorted by name */
  size_t n_ops;
  struct weft_job *jobs; /* jobs/NAME.yaml files, sorted by name */
  size_t n_jobs;
  struct weft_diags diags; /* every error found, sorted by position */
  void *index; /* private name lookup tables of src/model */
  /* The location registry's settings (engine/locreg.h); empty/NULL for a
   * location loaded from a folder or workspace.yaml. Steps get env (under
   * their op's env:) and python/bin first in PATH; workdir is their cwd. */
  struct weft_kvs env;
  char *python, *image, *workdir;
  /* Schedules (jobs' `schedules:` and schedules/ files) and sensors
   * (sensors/ files), in declaration order. */
  struct weft_schedule *schedules;
  size_t n_schedules;
  struct weft_sensor *sensors;
  size_t n_sensors;
};

/* Loads and validates the code location at path. Returns WEFT_OK with *out
 * set even when the YAML has errors: they are in (*out)->diags, and jobs with
 * errors have valid == 0. Fails (and sets *out to NULL) only when path is not
 * a readable folder or memory runs out. name may be NULL (the folder's base
 * name is used). The caller frees *out with weft_location_free. */
int weft_location_load(const char *path, const char *name,
                       struct weft_location **out, weft_error *err);
void weft_location_free(struct weft_location *loc);
/* Lookups in O(1); NULL when absent. Results are borrowed from loc. */
const struct weft_job *weft_location_find_job(const struct weft_location *loc,
                                              const char *name);
const struct weft_op_def *weft_location_find_op(const struct weft_location *loc,
                                                const char *name);
/* Index of invocation `name` in job->ops, or -1. */
long weft_job_find_invocation(const struct weft_job *job, const char *name);
const struct weft_port *weft_op_def_find_input(const struct weft_op_def *def,
                                               const char *name);
const struct weft_port *weft_op_def_find_output(const struct weft_op_def *def,
                                                const char *name);
/* The config field `name` of def, or NULL. */
const struct weft_config_field *weft_op_def_find_config(
    const struct weft_op_def *def, const char *name);

/* ---- workspaces ------------------------------------------------------------------ */

/* A set of locations: from workspace.yaml (`locations:` list of
 * `{name, path}` or bare paths, relative to the file) or from paths given
 * on the command line. */
struct weft_workspace {
  struct weft_location **locations;
  size_t n_locations;
  struct weft_diags diags; /* workspace.yaml's own errors */
};

/* Loads workspace.yaml at path (locations relative to its folder). Like
 * weft_location_load, YAML errors go to diags; I/O failure returns an error.
 * The caller frees *out with weft_workspace_free. */
int weft_workspace_load_file(const char *path, struct weft_workspace **out,
                             weft_error *err);
/* A workspace of the given location folders. */
int weft_workspace_from_paths(const char *const *paths, size_t n,
                              struct weft_workspace **out, weft_error *err);
void weft_workspace_free(struct weft_workspace *ws);
/* Total number of diagnostics in the workspace and all its locations. */
size_t weft_workspace_error_count(const struct weft_workspace *ws);
/* Finds a job by "JOB" or "LOCATION:JOB" (the former must be unambiguous;
 * on ambiguity or absence returns NULL and fills err with the candidates
 * or a did-you-mean). */
const struct weft_job *weft_workspace_find_job(const struct weft_workspace *ws,
                                               const char *name,
                                               weft_error *err);

/* ---- run config -------------------------------------------------------------------- */

enum weft_executor_kind {
  WEFT_EXECUTOR_MULTIPROCESS, /* default */
  WEFT_EXECUTOR_IN_PROCESS,
  WEFT_EXECUTOR_QUEUE /* RabbitMQ workers (src/queue) */
};

/* A run config checked against a job, with schema defaults filled in. */
struct weft_run_config {
  /* {"INVOCATION": {"config": {...}, "inputs": {...}}} for every invocation
   * of the job, config complete with defaults (owned reference). */
  json_t *ops;
  enum weft_executor_kind executor;
  int max_concurrent; /* 0: the number of cores */
  json_t *tags;       /* {"k": "v"} (owned reference) */
  json_t *raw;        /* the document as given, after --set overrides */
};

/* Parses run config text (YAML or JSON; file names it in diagnostics, text
 * may be NULL for an empty config), applies `--set` overrides of the form
 * "ops.NAME.config.KEY=VALUE" (VALUE parsed as YAML scalar/flow), and checks
 * it against job, filling every diagnostic into diags. Returns WEFT_OK when
 * valid, WEFT_EINVALID (with diags) when not; *out is set only on success
 * and is released with weft_run_config_release. */
int weft_run_config_build(const struct weft_job *job, const char *file,
                          const char *text, size_t len,
                          const char *const *overrides, size_t n_overrides,
                          struct weft_run_config *out, struct weft_diags *diags);
void weft_run_config_release(struct weft_run_config *rc);

/* ---- views of jobs and run configs (job_json.c) ------------------------------------- */

/* The indexes of job->ops ordered by (level, position), so every view of a
 * job is stable; caller frees. NULL when out of memory. */
size_t *weft_job_level_order(const struct weft_job *job);
/* Number of levels (1 + the highest level); 0 for a job without ops. */
int weft_job_level_count(const struct weft_job *job);
/* The wire feeding input `input` of inv, or NULL when it is not wired. */
const struct weft_wire *weft_invocation_find_wire(const struct weft_invocation *inv,
                                                  const char *input);

/* The following take a valid job (job->valid) and return a new reference,
 * or NULL when out of memory. */

/* A stable machine-readable document (`weft job show --format json`, the
 * HTTP API's job): {job, location, file, description, tags, levels,
 * ops: [{name, uses, level, description, inputs: [{name, type, description,
 * default, from}], outputs: [{name, type, description, optional}],
 * config: [{name, type, required, default, value, enum, description}],
 * upstream, run|argv|c_function, when (text or null), trigger, retries,
 * timeout, queue, image, env, tags}],
 * edges: [{from, output, to, input}]}. */
json_t *weft_job_to_json(const struct weft_job *job);
/* {"key": "value", ...} of a key/value list: a new reference, NULL when out
 * of memory. */
json_t *weft_kvs_to_json(const struct weft_kvs *kvs);
/* A run config resolved against job (`weft job check-config --format json`):
 * {job, ops, execution, tags}. */
json_t *weft_run_config_to_json(const struct weft_job *job,
                                const struct weft_run_config *rc);
/* A run config to start editing from: {"ops": {OP: {"config": {...},
 * "inputs": {...}}}} with every config value the job fixes or the schema
 * defaults (null for a required field without one) and every unwired input
 * (its default, else null). */
json_t *weft_job_default_run_config(const struct weft_job *job);

#endif
