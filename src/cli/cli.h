/* cli.h: the command table of the weft binary (git's builtin table).
 * Each cmd_*.c file implements one command group; main.c dispatches. */
#ifndef WEFT_CLI_CLI_H
#define WEFT_CLI_CLI_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "weft.h"

/* Exit codes shared by every command. */
enum {
  WEFT_EXIT_OK = 0,
  WEFT_EXIT_INVALID = 1, /* invalid input, or a run that failed */
  WEFT_EXIT_USAGE = 2    /* bad command line */
};

struct weft_cmd {
  const char *name;
  int (*fn)(int argc, char **argv); /* argv[0] is the command name */
  const char *summary;
};

/* The table main.c dispatches over (defined in main.c). */
extern const struct weft_cmd weft_cli_commands[];

int cmd_validate(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_launch(int argc, char **argv);
int cmd_instance(int argc, char **argv);
/* cmd_artifacts.c: `weft artifacts ls|get`. */
int cmd_artifacts(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* cmd_backfill.c: `weft backfill JOB ... | list | show ID | retry ID`. */
int cmd_backfill(int argc, char **argv);
/* cmd_asset.c: `weft asset list | show KEY | history KEY`. */
int cmd_asset(int argc, char **argv);
/* cmd_run_control.c: `weft run cancel` and `weft run reexecute` (argv[0] is
 * the subcommand), dispatched by cmd_run. */
int cmd_run_cancel(int argc, char **argv);
int cmd_run_reexecute(int argc, char **argv);
/* cmd_coordinate.c: `weft run coordinate` (argv[0] is "coordinate"). */
int cmd_run_coordinate(int argc, char **argv);
/* cmd_location.c: `weft location add|remove|list|reload`. */
int cmd_location(int argc, char **argv);
/* cmd_server.c: `weft server` and `weft dev`. */
int cmd_server(int argc, char **argv);
int cmd_dev(int argc, char **argv);
/* cmd_auth.c: `weft user ...` and `weft token ...`. */
int cmd_user(int argc, char **argv);
int cmd_token(int argc, char **argv);
/* cmd_secret.c: `weft secret ...` and `weft variable ...`. */
int cmd_secret(int argc, char **argv);
int cmd_variable(int argc, char **argv);
/* cmd_audit.c: `weft audit`. */
int cmd_audit(int argc, char **argv);
/* cmd_schedule.c: `weft schedule ...` and `weft sensor ...`. */
int cmd_schedule(int argc, char **argv);
int cmd_sensor(int argc, char **argv);
/* cmd_coordinator.c: `weft coordinator`. */
int cmd_coordinator(int argc, char **argv);
/* cmd_scheduler.c: `weft scheduler`. */
int cmd_scheduler(int argc, char **argv);
/* The scheduler of `weft dev`: a thread running schedules, sensors and the
 * run queue for the workspace named as for weft_cli_load_workspace (the
 * strings must outlive it). NULL (after printing why) when it cannot start.
 * Stop joins the thread (within ~100 ms) and frees everything. */
struct weft_cli_sched;
struct weft_cli_sched *weft_cli_scheduler_start(const char *ws_file, const char *const *paths,
                                                size_t n_paths);
void weft_cli_scheduler_stop(struct weft_cli_sched *c);
/* Parses ISO 8601 ("2026-01-01", "2026-01-01T06:00[:00][.123]",
 * with Z or +HH:MM, no zone = UTC) into UTC ms; -1 when malformed. */
int weft_cli_parse_time(const char *s, long long *ms);
/* cmd_queue.c: `weft queue stats|publish-raw`. */
int cmd_queue(int argc, char **argv);
/* cmd_worker_list.c: `weft worker list` (argv[0] is "list"), dispatched by
 * the `worker` command when its first argument is "list". */
int weft_cli_worker_list(int argc, char **argv);
/* cmd_worker.c: `weft worker` (RabbitMQ steps; "list" goes to the above). */
int cmd_worker(int argc, char **argv);

/* Shared helpers (cli_common.c). */
/* Prints "weft CMD: msg" to stderr and returns WEFT_EXIT_USAGE. */
int weft_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True when argv[i] is -h or --help. */
int weft_cli_is_help(const char *arg);
/* Set by SIGINT, SIGTERM or SIGHUP once weft_cli_trap_interrupts ran; a
 * command coordinating a run hands it to the engine as the cancel flag. */
extern volatile sig_atomic_t weft_cli_interrupted;
void weft_cli_trap_interrupts(void);

/* Shared by the commands that read code locations (cmd_validate.c). */
struct weft_workspace;
/* Matches argv[*i] against a flag that takes a value ("-w FILE",
 * "--workspace FILE" or "--workspace=FILE"; short_flag may be NULL).
 * Returns 1 with *value set (borrowed from argv) and *i moved past a
 * separate value, 0 when argv[*i] is another argument, and -1 after
 * printing a usage error when the value is missing. */
int weft_cli_flag_value(const char *cmd, int argc, char **argv, int *i,
                        const char *short_flag, const char *long_flag,
                        const char **value);
/* Loads the workspace the command line names: the location folders in
 * paths, else the workspace file ws_file, else ./workspace.yaml. Returns
 * WEFT_EXIT_OK with *out set (free with weft_workspace_free), or an exit
 * code after printing why: WEFT_EXIT_USAGE when nothing names a location,
 * WEFT_EXIT_INVALID when a folder or file cannot be read. */
int weft_cli_load_workspace(const char *cmd, const char *ws_file,
                            char *const *paths, size_t n_paths,
                            struct weft_workspace **out);


/* cli_load.c */
struct weft_job;
struct weft_run_config;
struct weft_instance;
/* launch_handoff.c: hands run_id (created, ours to start) to a running
 * coordinator service and follows it to its end (detach: prints its id and
 * returns). Returns an exit status, or -1 when no service is up or the run
 * has no code version (the caller coordinates it as before). */
int weft_cli_handoff_run(const char *cmd, struct weft_instance *inst, const char *run_id,
                         const struct weft_job *job, int detach, int quiet);
/* Loads the workspace (as weft_cli_load_workspace) and finds the valid job
 * `name` in it. Returns WEFT_EXIT_OK with *ws_out (caller frees, also on
 * failure) and *job_out (borrowed from it) set, or an exit code after
 * printing why, with every diagnostic when the job has errors. */
int weft_cli_find_job(const char *cmd, const char *ws_file, char *const *paths,
                      size_t n_paths, const char *name,
                      struct weft_workspace **ws_out,
                      const struct weft_job **job_out);
/* Reads config_file (NULL: an empty run config, "-": standard input), applies
 * the --set overrides and checks it against job. Returns WEFT_EXIT_OK with
 * *out filled (release with weft_run_config_release), or WEFT_EXIT_INVALID
 * after printing every diagnostic. */
int weft_cli_build_run_config(const char *cmd, const struct weft_job *job,
                              const char *config_file, const char *const *sets,
                              size_t n_sets, struct weft_run_config *out);
/* Finds the run named by arg, a full run id or a unique prefix of at least 4
 * characters. Returns WEFT_EXIT_OK with *out filled (release with
 * weft_run_row_release) or WEFT_EXIT_INVALID after printing why. */
struct weft_instance;
struct weft_run_row;
int weft_cli_resolve_run(const char *cmd, struct weft_instance *inst, const char *arg,
                         struct weft_run_row *out);

/* cmd_launch.c */
struct weft_launch;
/* Records a run of l in the instance ($WEFT_HOME) and coordinates it: here,
 * showing its progress (the view follows stdout: redrawn on a terminal, one
 * line per event otherwise, only the ending when quiet), or in a detached
 * process after printing the run id. Returns the exit status: 0 when the run
 * succeeded (or was detached), 1 otherwise. */
int weft_cli_start_run(const char *cmd, struct weft_launch *l, int detach, int quiet);

/* Puts a change made from the command line in the audit log, as "cli:USER"
 * from "local" (action names things, never values). A log that cannot be
 * written is said on stderr, and does not undo the change. */
void weft_cli_audit(struct weft_instance *inst, const char *action, const weft_error *failed);

/* Prints a time in ms since the epoch as UTC ISO 8601 on stdout. */
void weft_cli_print_time(int64_t ms);

#endif
