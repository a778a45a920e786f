/* coordinator_spawn.h: starting `weft run coordinate RUN` processes for runs
 * another process created (the server, the scheduler, the run queue), and
 * reaping them; one implementation shared by every dequeuer.
 *
 * A coordinator runs in a session of its own (setsid), with stdin
 * /dev/null and stdout+stderr appended to RUNS/RUN/coordinator.log, every
 * signal unblocked and at its default, and no inherited descriptor beyond
 * 0-2, so the spawner may exit (or restart) without ending runs. */
#ifndef WEFT_SCHED_COORDINATOR_SPAWN_H
#define WEFT_SCHED_COORDINATOR_SPAWN_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "engine/engine.h"

struct weft_run_queue_config; /* run_queue.h */

struct weft_coord_child {
  pid_t pid;
  char *run_id;
};

/* Thread-safe: spawn and reap may be called from different threads. */
struct weft_coord_spawner {
  char *exe;      /* the weft binary ("/proc/self/exe" by default) */
  char **env;     /* environ with WEFT_HOME set to the instance */
  char *runs_dir; /* HOME/runs: where coordinator.log goes */
  /* Arguments after `run coordinate RUN`: how the coordinator finds the job
   * (-w FILE, -l DIR..., or none: the location registry). */
  char **args;
  size_t n_args;
  pthread_mutex_t mu;
  struct weft_coord_child *children;
  size_t n_children, cap_children;
};

/* Fills sp (caller's struct). exe NULL: /proc/self/exe. args (n_args
 * strings, copied) follow `run coordinate RUN`. Release with
 * weft_coord_spawner_release (does not wait for the children). */
int weft_coord_spawner_init(struct weft_coord_spawner *sp, const struct weft_instance *inst,
                            const char *exe, const char *const *args, size_t n_args,
                            weft_error *err);
void weft_coord_spawner_release(struct weft_coord_spawner *sp);

/* As weft_coord_spawner_init, with the arguments a command line's -w FILE
 * or -l DIR... give (made absolute: the coordinator may start elsewhere);
 * neither: -w ./workspace.yaml when it exists, else nothing (the location
 * registry). */
int weft_coord_spawner_init_workspace(struct weft_coord_spawner *sp,
                                      const struct weft_instance *inst, const char *ws_file,
                                      char *const *paths, size_t n_paths, weft_error *err);

/* Replaces the arguments after `run coordinate RUN` (copied). */
int weft_coord_spawner_set_args(struct weft_coord_spawner *sp, const char *const *args,
                                size_t n_args, weft_error *err);

/* Starts `EXE run coordinate RUN ARGS... [--in-run IN_RUN]` and remembers
 * the child; *pid (may be NULL) receives its pid. */
int weft_coord_spawn(struct weft_coord_spawner *sp, const char *run_id, const char *in_run,
                     pid_t *pid, weft_error *err);

/* Collects exited coordinators. A run still QUEUED after its coordinator
 * exited never will start: it is failed (weft_run_abandon) with a message
 * pointing at coordinator.log. Returns the number collected. */
size_t weft_coord_reap(struct weft_coord_spawner *sp, struct weft_instance *inst);

/* weft_run_queue_spawn_fn for a spawner passed as data. */
int weft_coord_spawn_fn(void *spawner, struct weft_instance *inst,
                        const struct weft_run_row *run, const char *in_run, weft_error *err);
/* weft_run_queue_hand_fn: a run with a code version goes to the
 * coordinator services when one is up (1), else 0. */
int weft_coord_hand_fn(void *spawner, struct weft_instance *inst,
                       const struct weft_run_row *run, const char *in_run, weft_error *err);
/* One run queue turn starting what it admits with sp: handed to a
 * coordinator service in the turn's commit, else spawned. */
int weft_coord_dequeue(struct weft_coord_spawner *sp, struct weft_instance *inst,
                       const struct weft_run_queue_config *cfg, weft_error *err);

/* Admits run_id, QUEUED and just recorded unowned (weft_launch.unowned)
 * in the caller's transaction, as
 * a queue turn would, without the turn: without limits every queued run is
 * admitted at once, so its claim and its hand-off to a coordinator service
 * commit with its row (one commit a launch batch, not two, and no reading
 * of the queue). 1 when handed; 0 when it must wait for a turn (the queue
 * has limits, the run has no code version, no service is up): nothing was
 * written then; < 0 on error. */
int weft_coord_admit_in_tx(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                           const char *run_id, const char *code_version, const char *in_run,
                           weft_error *err);
/* weft_coord_admit_in_tx of run_ids[0..n) (each with its code version,
 * maybe NULL) in one statement: handed[i] (the caller's n bytes, or NULL)
 * says which were handed; returns how many, or < 0 on error (none then).
 * _runs: the same for runs made ready by weft_run_prepare. */
int weft_coord_admit_many_in_tx(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                                const char *const *run_ids, const char *const *code_versions,
                                size_t n, const char *in_run, unsigned char *handed,
                                weft_error *err);
int weft_coord_admit_runs_in_tx(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                                const struct weft_run_new *runs, size_t n, unsigned char *handed,
                                weft_error *err);

#endif
