/* exec.h: the executor interface (ninja's CommandRunner): start steps, wait
 * for the next one to finish, cancel. Backends sit behind a method table. */
#ifndef WEFT_EXEC_EXEC_H
#define WEFT_EXEC_EXEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "weft.h"

struct weft_mask; /* util/mask.h */

/* ---- the step protocol -----------------------------------------------------
 *
 * A process step runs in its own process group with cwd = spec->cwd, stdin
 * from /dev/null, and this environment: the parent's, then the location's
 * env (spec->loc_env), then the op's `env:` entries (each overriding the
 * earlier), then the protocol variables (which override all); with
 * spec->path_prefix, PATH becomes PREFIX:PATH:
 *
 *   WEFT_RUN_ID, WEFT_JOB, WEFT_OP (invocation name), WEFT_ATTEMPT
 *   WEFT_CONFIG   WORK/config.json
 *   WEFT_INPUTS   WORK/inputs    one file per input: JSON text, or the raw
 *                                file for `path` inputs
 *   WEFT_OUTPUTS  WORK/outputs   empty; the op writes one file per declared
 *                                output (JSON text, raw bytes for `path`)
 *   WEFT_EVENTS   3              fd open for writing JSON lines:
 *       {"type":"log","level":"info","msg":"..."}
 *       {"type":"materialization","asset":"name","metadata":{...}}
 *       {"type":"output","name":"x","value":...}
 *   WEFT_PATH_INPUTS  names of the `path`-typed inputs, comma-separated (may
 *                     be empty), so SDKs know which input files are raw
 *   WEFT_PARTITION_KEY  the run's partition ("2026-01-01", its tag
 *                     weft/partition), only in runs of a partitioned job
 *
 * The per-attempt work folder (spec->work_dir; start creates it, with its
 * parents, when the step needs one: a process step always does, a C-function
 * step only when it has `path` inputs or outputs, so a no-op step costs no
 * file system work; a caller placing raw `path` inputs in WORK/inputs/
 * beforehand creates it then). A missing log file is an empty log:
 *
 *   WORK/config.json   the resolved config           (written by start)
 *   WORK/inputs/NAME   JSON inputs                   (written by start)
 *   WORK/outputs/NAME  the op's outputs              (written by the op)
 *   WORK/stdout.log    compute log: the op's stdout  (captured)
 *   WORK/stderr.log    compute log: the op's stderr  (captured)
 *
 * argv ops run argv[0] looked up in weft's own PATH; `run:` ops run
 * /bin/sh -c RUN. Exit 0 with every declared output present and well typed
 * is success; anything else fails the step with a message saying which:
 *   "exited with status 3"          "killed by signal 9"
 *   "timed out after 2s"            "canceled: REASON" (or "canceled")
 *   "command not found: NAME" (exit code 127)
 *   "cannot execute NAME: REASON" (exit code 126)
 *   "declared output 'total' was not written"
 *   "output 'total' is not valid JSON: ..."
 *   "output 'total' must be int, got string"
 *   "events fd line 4 is not valid JSON: ..."
 *   "events fd line 2: unknown event type 'foo'" (and other bad events)
 * The one exception: an op that declares no outputs gets a lone `result`
 * of type any from the model; leaving it unwritten is success, with the
 * value null (so `run: echo hi` just works).
 * An `output` event writes that output as if the op had written the file
 * (for a `path` output the value is the path of a file, relative to the
 * cwd, which is copied in). Event lines are limited to 1 MiB.
 *
 * No process survives its step: when the group leader exits, the rest of its
 * process group is killed with SIGKILL. A timed out or canceled step gets
 * SIGTERM on its group, then SIGKILL after kill_grace_s.
 *
 * SIGCHLD must not be set to SIG_IGN in the calling process, and nothing else
 * may reap the executor's children (waitpid(-1, ...) elsewhere). */

/* ---- container steps ----------------------------------------------------------
 *
 * A step whose spec has a container (an image) runs in a container on the
 * engine at container->url (src/containers: the Docker Engine API, Docker
 * or Podman) instead of as a host process. The step protocol is the same
 * seen from inside; paths are the container's:
 *
 *   /weft/code         spec->cwd, read-only; the working directory
 *   /weft/config.json  WEFT_CONFIG (read-only)
 *   /weft/inputs/      WEFT_INPUTS
 *   /weft/outputs/     WEFT_OUTPUTS
 *   /weft/events.jsonl WEFT_EVENTS_FILE: events as JSON lines. `run:` steps
 *                      run as /bin/sh -c with fd 3 open on it (WEFT_EVENTS
 *                      is 3, as on the host); `argv:` steps run as given
 *                      and WEFT_EVENTS names the file (the SDKs take both)
 *   /weft/sdk/         WEFT_SDK (read-only), /weft/sdk/python on PYTHONPATH
 *
 * The environment is the location's env, the op's env and the protocol
 * variables only (not weft's own). The container runs as weft's uid:gid,
 * so what it writes in the work folder is weft's; the op's resources set
 * its limits. Its stdout and stderr stream into WORK/stdout.log and
 * WORK/stderr.log while it runs, its events arrive live (within 100 ms).
 * A process of weft's ("the supervisor", exec_container.c) drives each
 * container: it is what the executor watches, times out and cancels, and
 * it stops (SIGTERM, kill_grace_s, SIGKILL) and removes the container on
 * every way out. More messages a container step can fail with:
 *   "killed: out of memory (limit 64 MiB)"
 *   "container engine: image 'x' is not on the container engine ..."
 *   "container engine: no container engine at unix:///...: ..."
 * A result names the container and image digest it ran (below). */
struct weft_step_container {
  const char *image;    /* the image reference */
  const char *url;      /* the engine: "unix:///run/podman/podman.sock" */
  int pull;             /* enum weft_ctr_pull */
  const char *network;  /* NULL: the engine's default (bridge) */
  char *const *labels;  /* extra "K=V" labels, NULL-terminated, or NULL */
  const char *instance; /* value of the weft.instance label */
  const char *sdk_dir;  /* host folder mounted at /weft/sdk, or NULL */
  const char *auth_file; /* registry credentials for pulls (containers.h), or NULL */
  /* This run's limits (run config ops.NAME.resources) instead of the op's
   * resources, when set; the gpus string is borrowed. */
  int has_resources;
  struct weft_resources resources;
};

/* What a step gets of the instance's secrets and variables (resolved by
 * the caller: engine/secrets.h), for host and container steps alike:
 *   env    NAME -> value, at the level of the op's env: (over the
 *          location's); from env: {NAME: {secret: S}} and {variable: V}
 *   files  secret name -> value: WORK/secrets/NAME, mode 0400, in a 0700
 *          folder named by WEFT_SECRETS_DIR (a container sees it read-only
 *          at /weft/secrets); the executor removes the folder when the
 *          step ends
 *   mask   values replaced by "***" in the step's compute logs as they are
 *          written (util/mask.h); NULL or empty: written as they come */
struct weft_step_secrets {
  struct weft_kvs env;
  struct weft_kvs files;
  const struct weft_mask *mask;
};

/* Everything needed to run one attempt of one step. All pointers are
 * borrowed for the duration of start() only; the executor copies what it
 * keeps. */
/* Where a C function's outputs go once it returned, called on the thread
 * that ran it (a coordinator loop's pool, c_pool.h), so the loop's thread
 * does not pay for storing them: put(ctx, key_prefix + NAME, JSON text).
 * The executor copies the key prefix; ctx (and what put uses) must outlive
 * the pool's threads, and put must be safe to call from several at once.
 * The result's `stored` says what was stored. */
struct weft_output_store {
  int (*put)(void *ctx, const char *key, const char *text, size_t len, weft_error *err);
  void *ctx;
  const char *key_prefix; /* "RUN/STEP/" */
};

struct weft_step_spec {
  const char *run_id;
  const char *job;
  const char *step; /* invocation name (WEFT_OP) */
  int attempt;      /* 1 for the first attempt */
  const struct weft_op_def *def; /* run/argv/c_function, env, outputs,
                                    timeout_s */
  const char *cwd;         /* the code location folder */
  const char *work_dir;    /* per-attempt folder (layout above) */
  const char *config_json; /* resolved config, JSON object text (NULL: {}) */
  const char *inputs_json; /* JSON object text name -> value of the JSON
                              inputs (NULL: {}); raw `path` inputs are
                              already in WORK/inputs/ */
  double kill_grace_s;     /* SIGTERM -> SIGKILL delay; <= 0 means 5 */
  /* The code location's settings (registry, engine/locreg.h), both may be
   * NULL: loc_env goes under the op's env: (the op's entry of a name wins),
   * path_prefix (a virtualenv's bin/) in front of the step's PATH. */
  const struct weft_kvs *loc_env;
  const char *path_prefix;
  const char *partition_key; /* WEFT_PARTITION_KEY, or NULL: not set */
  /* 1: the step process gets SIGKILL when the thread that started it ends
   * (PR_SET_PDEATHSIG; a queue worker sets it, so a worker killed with -9
   * takes its steps along). Only the process itself: its own children die
   * with it only when someone kills its process group. 0: as before. */
  int die_with_parent;
  /* Run the step in a container (above); NULL: a process on this host. */
  const struct weft_step_container *container;
  /* Secrets, variables and masking (above); NULL: none. */
  const struct weft_step_secrets *secrets;
  /* C functions run on a pool: their outputs are stored there (above);
   * NULL, or any other step: the caller stores them from the result. */
  const struct weft_output_store *output_store;
  void *user;              /* the caller's cookie, echoed in results and
                              callbacks */
};

/* The outcome of one attempt. weft_step_result_release frees its contents. */
struct weft_step_result {
  void *user;
  int ok;          /* 1: success */
  int exit_code;   /* exit status; 128+signal when killed; 127 when the
                      command was not found; -1 when no process ran */
  int term_signal; /* the killing signal, or 0 */
  int timed_out;
  int canceled;
  char *message;   /* NULL on success, else why it failed (owned) */
  int64_t started_ms, ended_ms; /* wall clock, ms since the epoch */
  /* Object name -> value: the parsed JSON outputs; for a `path` output the
   * path of its file (WORK/outputs/NAME). Owned reference; set on success
   * only, NULL otherwise. */
  json_t *outputs;
  /* The outputs the spec's output_store took, name -> {"bytes": N} or
   * {"error": MESSAGE} (then the step must fail); NULL: none was. An
   * optional output left null is not stored. Owned reference. */
  json_t *stored;
  long pid; /* the process's pid (0 for a C-function step) */
  /* Container steps: the container's id, the image and its digest (the
   * registry's NAME@sha256:..., or the image id of a local image); NULL
   * for host steps and when no container was created. Owned. */
  char *container_id, *image, *image_digest;
  /* 1: the attempt's end is not known (an attached attempt whose worker is
   * gone, or that sent no result in time: weft_executor_attach). It did
   * not fail by itself: the coordinator retries it and says why (message). */
  int lost;
  /* 1: the executor knows the attempt left no log file in its work folder
   * (a C function run in this process writes no compute log; a worker's
   * step whose logs were empty sent none), so the coordinator need not
   * look for them: two failed stat() calls a step. 0: look. */
  int no_logs;
};

void weft_step_result_release(struct weft_step_result *r);

/* Callbacks the caller passes at creation; both may be NULL. They are called
 * from inside start() and wait() on the caller's thread. */
struct weft_executor_callbacks {
  /* Each valid event line as it arrives (live), after validation: type is
   * "log" (level filled in, "info" by default), "materialization" or
   * "output". event is borrowed for the call (json_incref to keep it). */
  void (*on_event)(void *cb_data, void *user, json_t *event);
  /* Once per step that got a process (or a C function that is about to
   * run): its pid, or 0 for a C function. */
  void (*on_started)(void *cb_data, void *user, long pid);
  void *cb_data;
};

struct weft_executor;

/* An attempt another coordinator started, still running elsewhere (a queue
 * worker), that a coordinator adopting the run takes over (run_adopt.c).
 * Strings are borrowed for the call. */
struct weft_step_attach {
  const char *handle;   /* the executor's id of the attempt (the "attempt_id"
                           its step_worker event gave) */
  const char *worker;   /* who runs it (the step_worker event's "worker") */
  const char *work_dir; /* the attempt's folder here (layout above) */
  int64_t started_ms;   /* wall clock, when it started */
  double timeout_s;     /* the op's timeout (0: none) */
  double kill_grace_s;  /* <= 0 means 5 */
  void *user;           /* as weft_step_spec.user */
};

/* Backends implement these; only the wrappers below call them. An executor
 * is used from one thread at a time. */
struct weft_executor_methods {
  const char *name; /* "multiprocess", "in_process" */
  int (*can_start_more)(struct weft_executor *x);
  int (*start)(struct weft_executor *x, const struct weft_step_spec *spec,
               weft_error *err);
  int (*wait)(struct weft_executor *x, int timeout_ms,
              struct weft_step_result *out, weft_error *err);
  void (*cancel_all)(struct weft_executor *x, const char *reason);
  int (*cancel_one)(struct weft_executor *x, void *user, const char *reason);
  size_t (*running_count)(struct weft_executor *x);
  void (*free)(struct weft_executor *x);
  /* Optional (NULL: none): see weft_executor_poll_fd. */
  int (*poll_fd)(struct weft_executor *x, int *timeout_ms);
  /* Optional (NULL: cannot): see weft_executor_attach. */
  int (*attach)(struct weft_executor *x, const struct weft_step_attach *a, weft_error *err);
};

/* Every backend embeds this as its first member. */
struct weft_executor {
  const struct weft_executor_methods *m;
};

/* Creates an executor: name is "multiprocess" (up to max_concurrent steps at
 * once; 0 = the number of online cores) or "in_process" (one step at a time;
 * C-function ops run in this process, process ops are still spawned).
 * cb may be NULL. Free *out with weft_executor_free. */
int weft_executor_new(const char *name, int max_concurrent,
                      const struct weft_executor_callbacks *cb,
                      struct weft_executor **out, weft_error *err);

const char *weft_executor_name(const struct weft_executor *x);

/* Whether start() may be called now: fewer than max_concurrent steps are
 * started and not yet returned by wait(). */
int weft_executor_can_start_more(struct weft_executor *x);

/* Starts one attempt. A process that cannot be executed (command not found)
 * is not an error here: it yields a failed result from wait(). Fails with
 * WEFT_ECONFLICT when full, WEFT_EINVALID for an unusable spec (missing
 * fields, an op with nothing to run, a C function under "multiprocess"),
 * WEFT_EIO when the work folder cannot be prepared, WEFT_ENOMEM; then no
 * result will come for this spec. */
int weft_executor_start(struct weft_executor *x,
                        const struct weft_step_spec *spec, weft_error *err);

/* Waits up to timeout_ms (-1: forever, 0: just look) for a step to finish.
 * Returns 1 with *out filled (release it with weft_step_result_release),
 * 0 on timeout (*out zeroed), or a negative error: WEFT_ENOTFOUND when
 * nothing is running and timeout_ms is -1. With nothing running and a
 * finite timeout it sleeps that long and returns 0 (useful for retry
 * delays). C-function steps run to completion inside wait(), whatever the
 * timeout. */
int weft_executor_wait(struct weft_executor *x, int timeout_ms,
                       struct weft_step_result *out, weft_error *err);

/* SIGTERM to every running step's process group, SIGKILL after its grace
 * period; their results report canceled. reason may be NULL. */
void weft_executor_cancel_all(struct weft_executor *x, const char *reason);
/* The same for the step started with this user cookie; WEFT_ENOTFOUND when
 * no such step is running. */
int weft_executor_cancel_one(struct weft_executor *x, void *user,
                             const char *reason);

/* Steps started and not yet returned by wait(). */
size_t weft_executor_running_count(struct weft_executor *x);

/* For callers with an event loop of their own (the queue worker): an fd
 * that polls readable (POLLIN; an epoll fd, so it may go into the caller's
 * epoll) whenever wait(x, 0) has something to do (a step ended, events to
 * read), and *timeout_ms lowered to when wait must be called anyway (a
 * step's timeout or kill escalation; 0: now, e.g. a C function waiting to
 * run). Returns -1 when the backend has no such fd: then call wait() at the
 * caller's own pace; WEFT_EXECUTOR_NO_FD_YET when it has none yet because
 * nothing it started needs one (the in_process executor makes its process
 * slot on its first process step): nothing becomes readable before the
 * next start(), after which ask again. The fd is the executor's: do not
 * close it. */
#define WEFT_EXECUTOR_NO_FD_YET (-2)
int weft_executor_poll_fd(struct weft_executor *x, int *timeout_ms);

/* Takes over an attempt that another (dead) coordinator's executor of the
 * same kind started: from now on wait() returns its result as if start()
 * had started it, and cancel reaches it. When its end cannot be known (its
 * worker is gone, or no result came within its timeout) wait() returns a
 * result with lost = 1. WEFT_ENOTFOUND: this backend cannot (a process
 * step died with its coordinator); WEFT_ECONFLICT when full. */
int weft_executor_attach(struct weft_executor *x, const struct weft_step_attach *a,
                         weft_error *err);

/* Kills (SIGKILL, no grace) and reaps whatever still runs, then frees.
 * NULL is a no-op. */
void weft_executor_free(struct weft_executor *x);

#endif
