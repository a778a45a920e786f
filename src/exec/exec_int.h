/* exec_int.h: private helpers shared by the executor backends: the work
 * folder, output collection, the events-fd reader, process spawning. */
#ifndef WEFT_EXEC_EXEC_INT_H
#define WEFT_EXEC_EXEC_INT_H

#include <sys/types.h>

#include "exec/exec.h"
#include "util/buf.h"

/* Longest event line accepted on the events fd (the newline excluded). */
#define WEFT__EVENT_LINE_MAX (1024 * 1024)
/* The fd number the events pipe has in a step process. */
#define WEFT__EVENTS_FD 3

/* printf into a new malloc'ed string; NULL when out of memory. */
char *weft__strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The weft type a JSON value would have: "int", "string", "null", ... */
const char *weft__json_kind(const json_t *v);

/* ---- declarations copied out of an op definition (start() only borrows
 * the definition, results are checked later) ---- */

struct weft__port_decl {
  char *name;
  enum weft_type type;
  int optional; /* an output declared `optional: true` */
};
struct weft__port_decls {
  struct weft__port_decl *v;
  size_t n;
};

/* Copies the ports (inputs or outputs) of a definition; WEFT_ENOMEM. */
int weft__port_decls_copy(const struct weft_port *ports, size_t n,
                          struct weft__port_decls *out);
void weft__port_decls_release(struct weft__port_decls *d);
const struct weft__port_decl *weft__port_decls_find(
    const struct weft__port_decls *d, const char *name);

/* ---- the per-attempt work folder (layout in exec.h) ---- */

struct weft__work_paths {
  char *config;     /* WORK/config.json */
  char *inputs;     /* WORK/inputs */
  char *outputs;    /* WORK/outputs */
  char *stdout_log; /* WORK/stdout.log */
  char *stderr_log; /* WORK/stderr.log */
};

/* Fills the paths only: nothing is created (a C step without `path` ports).
 * WEFT_ENOMEM; on failure the paths are released. */
int weft__work_paths_init(const char *work_dir, struct weft__work_paths *paths,
                          weft_error *err);
/* Fills the paths, creates the work folder (and its parents), inputs/ and
 * outputs/, writes config.json and one file per JSON input. WEFT_EINVALID
 * for bad config/inputs text, WEFT_EIO, WEFT_ENOMEM. On failure the paths
 * are released. */
int weft__work_prepare(const struct weft_step_spec *spec,
                       struct weft__work_paths *paths, weft_error *err);
void weft__work_paths_release(struct weft__work_paths *paths);

/* ---- outputs ---- */

/* Whether declared output d may be left unwritten (its value is then null):
 * one declared `optional: true` (the coordinator skips the steps that need
 * it), and the lone untyped `result` the model gives an op that declares no
 * outputs, so `run: echo hi` succeeds without writing anything. */
int weft__output_optional(const struct weft__port_decls *decls,
                          const struct weft__port_decl *d);

/* Reads and checks every declared output in outputs_dir. Returns WEFT_OK
 * with *out (object name -> value, caller owns), or WEFT_EINVALID with
 * *message (caller frees) naming the failure, or WEFT_ENOMEM. */
int weft__outputs_collect(const char *outputs_dir,
                          const struct weft__port_decls *decls, json_t **out,
                          char **message);

/* Writes value as output decl into outputs_dir, as if the op had written the
 * file: JSON text, or for a `path` output value names a file (relative to
 * cwd) that is copied in. When stored_path is not NULL it receives the
 * written file's path (caller frees). Returns WEFT_OK, WEFT_EINVALID with
 * *message, or WEFT_ENOMEM. */
int weft__output_store(const char *outputs_dir, const struct weft__port_decl *decl,
                       const json_t *value, const char *cwd, char **stored_path,
                       char **message);

/* Message for a value that weft_type_check_json rejects (caller frees). */
char *weft__type_mismatch_message(const char *what, const char *name,
                                  enum weft_type want, const json_t *got);

/* ---- the events fd ---- */

/* Where validated events go. All borrowed. */
struct weft__event_sink {
  const struct weft__port_decls *outputs;
  const char *outputs_dir;
  const char *cwd;
  const struct weft_executor_callbacks *cb;
  void *user;
  int in_container; /* paths in output events are the container's (exec.h) */
};

/* Splits the byte stream into lines, validates each event and hands it to
 * the sink. The first protocol error is kept in error; later lines are
 * ignored (but the stream is still consumed). */
struct weft__event_reader {
  struct weft_buf partial; /* the line received so far */
  long line_no;            /* lines completed */
  char *error;             /* first protocol error, owned, or NULL */
};

void weft__events_init(struct weft__event_reader *r);
void weft__events_release(struct weft__event_reader *r);
/* Consumes n bytes. Returns WEFT_OK or WEFT_ENOMEM. */
int weft__events_feed(struct weft__event_reader *r,
                      const struct weft__event_sink *sink, const char *data,
                      size_t n);
/* End of stream: a last line without a newline still counts. */
int weft__events_finish(struct weft__event_reader *r,
                        const struct weft__event_sink *sink);
/* Validates one event object (normalizing a log's level), applies an
 * output event, then calls on_event. Returns WEFT_OK, WEFT_EINVALID with
 * *message (without the "events fd line N: " prefix), or WEFT_ENOMEM. */
int weft__event_deliver(const struct weft__event_sink *sink, json_t *event,
                        char **message);

/* ---- spawning ---- */

/* A step's environment: the parent's (less weft's credentials), then the
 * op's env:, then the protocol variables; a later definition of a name
 * replaces every earlier one. */
struct weft__step_env {
  char **envp; /* points into environ and block */
  char *block; /* the strings weft added (may hold secrets: zeroed on release) */
  size_t block_len;
};
/* WEFT_OK or WEFT_ENOMEM. */
int weft__step_env_build(const struct weft_step_spec *spec,
                         const struct weft__work_paths *paths, struct weft__step_env *out);
void weft__step_env_release(struct weft__step_env *env);

/* Spawns the step's process (see exec.h for what it sees) with events_wfd
 * as its fd 3. Returns WEFT_OK with *pid > 0, or WEFT_OK with *pid == 0 and
 * *spawn_errno set when the program could not be executed (a step failure,
 * see weft__spawn_failure), or WEFT_ENOMEM / WEFT_EINVALID. */
int weft__spawn_step(const struct weft_step_spec *spec,
                     const struct weft__work_paths *paths, int events_wfd,
                     pid_t *pid, int *spawn_errno, weft_error *err);

/* prog as execvpe would find it on envp's PATH (not weft's own): a copy,
 * or NULL when it is not there (or envp has no PATH, or out of memory). */
char *weft__find_program(const char *prog, char *const *envp);

/* log_pump.c: spawns the step under a pump that masks its logs (the spec
 * has secrets with a non-empty mask); results as weft__spawn_step's. */
int weft__spawn_masked(const struct weft_step_spec *spec, const struct weft__work_paths *paths,
                       int events_wfd, char *const *argv, char *const *envp, int use_path,
                       pid_t *pid, int *spawn_errno, weft_error *err);

/* step_io.c: WORK/secrets (0700) with one file (0400) per spec secret
 * file; removed (with what is in it) by weft__secrets_dir_remove. */
int weft__secrets_dir_write(const struct weft_step_spec *spec, weft_error *err);
void weft__secrets_dir_remove(const char *work_dir);

/* The message and exit code for a posix_spawn failure (caller frees). */
char *weft__spawn_failure(const struct weft_step_spec *spec, int spawn_errno,
                          int *exit_code);

/* Comma-separated names of the `path` inputs of def (caller frees). */
char *weft__path_input_names(const struct weft_op_def *def);

/* ---- container steps (exec_container.c) ---- */

/* Forks the supervisor of a container step (exec.h, "container steps"):
 * a process in a group of its own whose exit status is the container's.
 * *name (caller frees) is the container's name, for weft__container_reap.
 * WEFT_ENOMEM, WEFT_EIO. */
int weft__container_spawn(const struct weft_step_spec *spec, const struct weft__work_paths *paths,
                          int events_wfd, pid_t *pid, char **name, weft_error *err);
/* Reads WORK/container.json after the supervisor exited: the container's
 * id, image and digest into r, and *message (caller frees) when the engine
 * failed the step or the memory limit killed it. WEFT_ENOTFOUND when the
 * supervisor wrote nothing. */
int weft__container_status(const char *work_dir, struct weft_step_result *r, char **message);
/* Removes container name (killing it): the supervisor died before it could. */
void weft__container_reap(const char *url, const char *name);

/* ---- backends and the C-op registry ---- */

int weft__multiprocess_new(int max_concurrent,
                           const struct weft_executor_callbacks *cb,
                           struct weft_executor **out, weft_error *err);
int weft__in_process_new(const struct weft_executor_callbacks *cb,
                         struct weft_executor **out, weft_error *err);

/* Finds a C op registered with weft_register_c_op; 1 when found. */
int weft__c_op_lookup(const char *name, weft_op_fn *fn, void **userdata);

/* One C-function call: everything copied or borrowed by the caller. */
struct weft__c_call {
  const char *op_name;
  const char *c_function;
  weft_op_fn fn;
  void *userdata;
  const char *config_json;
  const char *inputs_json;
  const char *inputs_dir;
  const struct weft__port_decls *inputs;  /* for `path` inputs */
  const struct weft__port_decls *outputs;
  const char *outputs_dir;
  const char *cwd;
  const struct weft_executor_callbacks *cb;
  void *user;
};

/* Runs the function and fills res->ok/exit_code/message/outputs. Returns
 * WEFT_OK (the step's outcome is in res) or WEFT_ENOMEM. */
int weft__c_call_run(const struct weft__c_call *call, struct weft_step_result *res);

#endif
