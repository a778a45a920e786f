/* pypool.h: the warm Python interpreter pool: one fork server per (python,
 * code folder) that imported the SDK and the ops once and forks a child per
 * step. The executor supervises the child like its own (exec_multiprocess.c).
 *
 * A server (sdk/python/weft/_forkserver.py) talks over a SOCK_SEQPACKET unix
 * socket, one JSON object a packet: weft sends "spawn" (argv, cwd, env and,
 * by SCM_RIGHTS, the step's stdin, stdout, stderr and events fds) and
 * "reap"; the server answers a spawn with the child's pid, "fallback" (start
 * the step as a normal process: a module that does not import, say) or
 * "restart" (the code changed), and reports each child's wait status
 * ("exit"). A child stays a zombie until reaped, so its pid and process
 * group stay valid while the executor may signal them.
 *
 * Reuse (an op's steps_per_child: N > 1, or WEFT_PYPOOL_STEPS_PER_CHILD):
 * the spawn carries "reuse": N and a fifth fd, the write end of a "done"
 * pipe. The child runs the step, writes its exit code ("0\n") there,
 * closes it and waits for another step from its server instead of
 * exiting. weft then sends "release" (not "reap"): the server hands that
 * child the next step of the same code (reply {"pid": N, "reused": true})
 * until it has run N, then lets it exit and reaps it itself. A reused
 * child that dies in a step (no code on the pipe), or whose step was
 * canceled or timed out, is killed with its group and reaped as a forked
 * one is; the next step gets a fresh child.
 *
 * Server life cycle:
 *
 *   (none) --pypool_spawn, first step of its key--> STARTING --ready--> ACTIVE
 *   STARTING --no ready (exit, timeout)--> FAILED: the key's steps fall back
 *   ACTIVE --forks >= max, RSS > max, "restart"--> DRAINING (no new steps)
 *   ACTIVE --socket EOF (server died or idle)--> DEAD; the next step starts another
 *   DRAINING/DEAD --last child finished (pypool_finish)--> stopped, freed
 *   any --pypool_free--> stopped (SIGKILL, reaped) */
#ifndef WEFT_EXEC_PYPOOL_H
#define WEFT_EXEC_PYPOOL_H

#include <sys/types.h>

#include "exec/exec_int.h"

struct weft__pypool;
struct weft__pyserver;

/* Limits (environment, read by pypool_new): WEFT_PYPOOL=off disables the
 * pool; WEFT_PYPOOL_MAX_FORKS (default 1000) and WEFT_PYPOOL_MAX_RSS_MB
 * (default 1024) recycle a server; WEFT_PYPOOL_IDLE (seconds, default 300)
 * ends a server with no step for that long; WEFT_PYPOOL_REHEARSE=1 has
 * the spare child rehearse a step (_forkserver.py); WEFT_PYPOOL_START_TIMEOUT (seconds,
 * default 60) bounds a server's imports; WEFT_PYPOOL_DEBUG set leaves a
 * server's stderr on weft's (it is /dev/null otherwise: module-level prints
 * would land in weft's log) and prints a line a step there: weft's spawn
 * time, the server's reply time, the child's set-up, step, CPU and page
 * faults. WEFT_PYPOOL_STEPS_PER_CHILD (default 1) is the steps_per_child
 * of an op that sets none. */
#define WEFT__PYPOOL_MAX_FORKS 1000
#define WEFT__PYPOOL_MAX_RSS_MB 1024
#define WEFT__PYPOOL_IDLE_S 300
#define WEFT__PYPOOL_MAX_STEPS_PER_CHILD 1000000

/* A new, empty pool, or NULL (out of memory, or WEFT_PYPOOL=off). Its
 * calls may come from several threads (a mutex orders them). */
struct weft__pypool *weft__pypool_new(void);
/* The process's pool, made at the first call and never freed: every
 * executor of the process (one per run) uses it, so a run finds the
 * servers earlier runs started, still warm (each ends by itself after
 * WEFT_PYPOOL_IDLE seconds unused; all are stopped and reaped at exit).
 * NULL as for pypool_new, and in a forked child of the process that made
 * it (the servers' sockets are the parent's). */
struct weft__pypool *weft__pypool_shared(void);
/* Stops every server (SIGKILL, reaped); children still running die with
 * their server. NULL is a no-op. */
void weft__pypool_free(struct weft__pypool *p);

/* 1 when spec is a step the pool may run: argv `PYTHON -m weft run FILE
 * FUNCTION`, the op not `isolated: true`, no container, no log masking. */
int weft__pypool_eligible(const struct weft_step_spec *spec);

/* Whether argv is `PYTHON -m weft run FILE FUNCTION` (PYTHON's base name
 * starting with "python"). */
int weft__pypool_is_python_argv(char *const *argv);

/* Starts spec in a child of its server (started on first use). WEFT_OK
 * with *pid > 0 and *srv (a reference, for pypool_finish) and, when the
 * child may be reused, *done_fd >= 0 (caller closes; non-blocking): the
 * step has ended when it is readable (or when pid exits); or WEFT_OK with
 * *pid == 0 when the step should start as a normal process, with *note
 * (caller frees) saying why when the step's log should say so; or
 * WEFT_ENOMEM. */
int weft__pypool_spawn(struct weft__pypool *p, const struct weft_step_spec *spec,
                       const struct weft__work_paths *paths, int events_wfd, pid_t *pid,
                       struct weft__pyserver **srv, int *done_fd, char **note,
                       weft_error *err);

/* The step of child pid of srv has ended: the child exited (its pidfd is
 * readable) or was killed, or (done_fd >= 0, from pypool_spawn) wrote its
 * code on done_fd. Its wait status into *status and the reference dropped;
 * a child that exited is reaped (with its group killed), a reused one
 * that wrote its code goes back to the server unless retire is set (a
 * canceled or timed out step: the child is killed). WEFT_EIO (with err)
 * when the server died before it reported the status. */
int weft__pypool_finish(struct weft__pypool *p, struct weft__pyserver *srv, pid_t pid,
                        int done_fd, int retire, int *status, weft_error *err);

/* The pid of the active server for (interp, root), 0 if none: for tests. */
pid_t weft__pypool_server_pid(struct weft__pypool *p, const char *interp, const char *root);

#endif
