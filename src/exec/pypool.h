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
 * faults. */
#define WEFT__PYPOOL_MAX_FORKS 1000
#define WEFT__PYPOOL_MAX_RSS_MB 1024
#define WEFT__PYPOOL_IDLE_S 300

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
 * with *pid > 0 and *srv (a reference, for pypool_finish); or WEFT_OK with
 * *pid == 0 when the step should start as a normal process, with *note
 * (caller frees) saying why when the step's log should say so; or
 * WEFT_ENOMEM. */
int weft__pypool_spawn(struct weft__pypool *p, const struct weft_step_spec *spec,
                       const struct weft__work_paths *paths, int events_wfd, pid_t *pid,
                       struct weft__pyserver **srv, char **note, weft_error *err);

/* The child pid of srv has exited (its pidfd is readable) or was killed:
 * its wait status into *status, the zombie reaped, the reference dropped.
 * WEFT_EIO (with err) when the server died before it reported the status. */
int weft__pypool_finish(struct weft__pypool *p, struct weft__pyserver *srv, pid_t pid,
                        int *status, weft_error *err);

/* The pid of the active server for (interp, root), 0 if none: for tests. */
pid_t weft__pypool_server_pid(struct weft__pypool *p, const char *interp, const char *root);

#endif
