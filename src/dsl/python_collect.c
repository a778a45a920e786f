/* python_collect.c: describes a location's .py files by running `PYTHON -m
 * weft describe` in a subprocess with a timeout, one JSON line per file. */

/* The subprocess gets the files not found in the cache, in order, and
 * prints a line for each as soon as it is done (weft/_describe.py). It
 * stops itself at a file that takes longer than the timeout (a Python
 * alarm, so the error names the line it was stuck on); if it does not, it
 * is killed 2 s later, that file gets a diagnostic and a new process
 * describes the files after it. Whatever a file does, the others load. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dsl/python.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/credential_env.h"
#include "util/fs.h"
#include "util/str.h"

extern char **environ;

#define GRACE_MS 2000     /* after the timeout, before SIGKILL */
#define STARTUP_MS 30000  /* the interpreter's start, before its "ready" line */
#define STDERR_KEEP 4096  /* the end of stderr kept for messages */

struct describer {
  const char *dir, *interp;
  char *sdk;
  char *cache_dir;
  double timeout_s;
  struct weft__py_collect *out;
  struct weft_diags *diags;
  char **keys; /* parallel to out->files */
};

static double describe_timeout(void) {
  const char *t = getenv("WEFT_PYTHON_TIMEOUT");
  char *end = NULL;
  double s = t ? strtod(t, &end) : 0;
  return t && end && end != t && !*end && s > 0 ? s : WEFT_PYTHON_DESCRIBE_TIMEOUT_S;
}

/* ---- one description into texts and diagnostics -------------------------------- */

static int add_text(struct weft__py_file *f, enum weft_dsl_source_kind kind, const json_t *t) {
  const char *text = json_string_value(json_object_get(t, "text"));
  json_t *lines = json_object_get(t, "lines");
  if (!text || !json_is_array(lines)) return WEFT_OK; /* nothing of this kind */
  struct weft__py_text *v = realloc(f->texts, (f->n_texts + 1) * sizeof *v);
  if (!v) return WEFT_ENOMEM;
  f->texts = v;
  struct weft__py_text *x = &v[f->n_texts];
  memset(x, 0, sizeof *x);
  x->kind = kind;
  x->len = strlen(text);
  if (!(x->text = strdup(text))) return WEFT_ENOMEM;
  x->n_lines = json_array_size(lines);
  if (!(x->lines = calloc(x->n_lines ? x->n_lines : 1, sizeof *x->lines))) {
    free(x->text);
    return WEFT_ENOMEM;
  }
  for (size_t i = 0; i < x->n_lines; i++)
    x->lines[i] = (int)json_integer_value(json_array_get(lines, i));
  f->n_texts++;
  return WEFT_OK;
}

static int apply(struct describer *d, size_t i, const json_t *desc) {
  struct weft__py_file *f = &d->out->files[i];
  size_t k;
  json_t *v;
  json_array_foreach(json_object_get(desc, "errors"), k, v) {
    const char *msg = json_string_value(json_object_get(v, "msg"));
    weft_diags_addf(d->diags, f->name, (int)json_integer_value(json_object_get(v, "line")),
                    (int)json_integer_value(json_object_get(v, "col")), "%s",
                    msg ? msg : "error");
  }
  int rc = add_text(f, WEFT_DSL_SOURCE_OPS, json_object_get(desc, "ops"));
  json_array_foreach(json_object_get(desc, "jobs"), k, v) {
    if (!rc) rc = add_text(f, WEFT_DSL_SOURCE_JOB, v);
  }
  if (!rc) rc = add_text(f, WEFT_DSL_SOURCE_SCHEDULES, json_object_get(desc, "schedules"));
  if (!rc) rc = add_text(f, WEFT_DSL_SOURCE_SENSORS, json_object_get(desc, "sensors"));
  return rc;
}

/* ---- the subprocess ------------------------------------------------------------- */

struct proc {
  pid_t pid;
  int out, err; /* read ends, -1 once closed */
};

/* environ less weft's credentials, with PYTHONPATH led by the SDK, and no
 * bytecode written into the location folder (the server watches it). */
static char **child_env(const char *sdk) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 3, sizeof *env);
  if (!env) return NULL;
  size_t j = 0;
  const char *old = getenv("PYTHONPATH");
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "PYTHONPATH=", 11) &&
        strncmp(environ[i], "PYTHONDONTWRITEBYTECODE=", 24) && !weft_env_is_credential(environ[i]))
      env[j++] = environ[i];
  char *pp = sdk ? weft_str_printf("PYTHONPATH=%s%s%s", sdk, old && *old ? ":" : "", old ? old : "")
                 : old ? weft_str_printf("PYTHONPATH=%s", old) : NULL;
  if (pp) env[j++] = pp;
  env[j++] = "PYTHONDONTWRITEBYTECODE=1";
  return env;
}

static void free_env(char **env, const char *sdk) {
  if (!env) return;
  for (size_t i = 0; env[i]; i++)
    if (!strncmp(env[i], "PYTHONPATH=", 11) && (sdk || getenv("PYTHONPATH"))) {
      free(env[i]);
      break;
    }
  free(env);
}

static int start(struct describer *d, const size_t *idx, size_t n, struct proc *p,
                 struct weft_buf *why) {
  int o[2] = {-1, -1}, e[2] = {-1, -1}, rc = -1;
  char **argv = calloc(n + 9, sizeof *argv), **env = child_env(d->sdk);
  char timeout[32];
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  snprintf(timeout, sizeof timeout, "%g", d->timeout_s);
  if (!argv || !env || pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC)) {
    weft_buf_addf(why, "cannot start %s: %s", d->interp, strerror(errno ? errno : ENOMEM));
    goto done;
  }
  size_t a = 0;
  argv[a++] = (char *)d->interp;
  argv[a++] = "-m";
  argv[a++] = "weft";
  argv[a++] = "describe";
  argv[a++] = "--timeout";
  argv[a++] = timeout;
  argv[a++] = "--root";
  argv[a++] = (char *)d->dir;
  for (size_t i = 0; i < n; i++) argv[a++] = d->out->files[idx[i]].rel;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, o[1], 1);
  posix_spawn_file_actions_adddup2(&fa, e[1], 2);
  posix_spawnattr_init(&at);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  int err = posix_spawnp(&p->pid, d->interp, &fa, &at, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (err) {
    weft_buf_addf(why, "cannot run %s: %s", d->interp, strerror(err));
    goto done;
  }
  p->out = o[0];
  p->err = e[0];
  o[0] = e[0] = -1;
  rc = 0;
done:
  for (int i = 0; i < 2; i++) {
    if (o[i] >= 0) close(o[i]);
    if (e[i] >= 0) close(e[i]);
  }
  free(argv);
  free_env(env, d->sdk);
  return rc;
}

static void keep_tail(struct weft_buf *b, const char *data, size_t len) {
  weft_buf_add(b, data, len);
  if (b->len > STDERR_KEEP) {
    size_t cut = b->len - STDERR_KEEP;
    memmove(b->ptr, b->ptr + cut, b->len - cut);
    b->len -= cut;
    b->ptr[b->len] = '\0';
  }
}

/* The last non-empty line of text (in place), for a short message. */
static const char *last_line(struct weft_buf *b) {
  if (!b->ptr) return "";
  while (b->len && (b->ptr[b->len - 1] == '\n' || b->ptr[b->len - 1] == '\r'))
    b->ptr[--b->len] = '\0';
  char *nl = strrchr(b->ptr, '\n');
  return nl ? nl + 1 : b->ptr;
}

/* Runs one process over idx[0..n); *done is how many files it described.
 * *timed_out: the next file was stopped by the timeout. */
static int run_once(struct describer *d, const size_t *idx, size_t n, size_t *done,
                    int *timed_out, struct weft_buf *why) {
  struct proc p = {-1, -1, -1};
  struct weft_buf line = WEFT_BUF_INIT, err = WEFT_BUF_INIT;
  int rc = WEFT_OK, status = 0;
  *done = 0;
  *timed_out = 0;
  if (start(d, idx, n, &p, why)) return WEFT_OK;
  /* A file's time counts from the "ready" line or the line of the file
   * before it: a slow interpreter start (a loaded machine, a shim) is not
   * the first file's. */
  int64_t limit_ms = (int64_t)(d->timeout_s * 1000) + GRACE_MS;
  int64_t deadline = weft_clock_mono_ms() + limit_ms + STARTUP_MS;
  while (p.out >= 0 || p.err >= 0) {
    struct pollfd fds[2] = {{p.out, POLLIN, 0}, {p.err, POLLIN, 0}};
    int64_t left = deadline - weft_clock_mono_ms();
    if (left <= 0) {
      *timed_out = 1;
      kill(-p.pid, SIGKILL);
      break;
    }
    int r = poll(fds, 2, (int)(left > 1000 ? 1000 : left));
    if (r < 0 && errno == EINTR) continue;
    char buf[8192];
    for (int k = 0; k < 2; k++) {
      int *fd = k ? &p.err : &p.out;
      if (*fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(*fd, buf, sizeof buf);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        close(*fd);
        *fd = -1;
        continue;
      }
      if (k) {
        keep_tail(&err, buf, (size_t)got);
        continue;
      }
      if (weft_buf_add(&line, buf, (size_t)got)) rc = WEFT_ENOMEM;
      char *nl;
      while (!rc && line.ptr && (nl = memchr(line.ptr, '\n', line.len))) {
        *nl = '\0';
        json_t *desc = json_loads(line.ptr, 0, NULL);
        size_t used = (size_t)(nl + 1 - line.ptr);
        memmove(line.ptr, nl + 1, line.len - used);
        line.len -= used;
        line.ptr[line.len] = '\0';
        const char *file = json_string_value(json_object_get(desc, "file"));
        if (json_is_true(json_object_get(desc, "ready")))
          deadline = weft_clock_mono_ms() + limit_ms;
        else if (*done < n && file && !strcmp(file, d->out->files[idx[*done]].rel)) {
          size_t i = idx[(*done)++];
          rc = apply(d, i, desc);
          /* A timeout may pass: its description is not kept. */
          if (!json_is_true(json_object_get(desc, "nocache")))
            weft__py_cache_put(d->cache_dir, d->dir, d->keys[i], desc);
          deadline = weft_clock_mono_ms() + limit_ms; /* the next file's time */
        }
        json_decref(desc);
      }
    }
  }
  if (p.out >= 0) close(p.out);
  if (p.err >= 0) close(p.err);
  while (waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (*done < n && !*timed_out) {
    const char *tail = last_line(&err);
    if (WIFEXITED(status))
      weft_buf_addf(why, "%s -m weft describe exited with status %d%s%s", d->interp,
                    WEXITSTATUS(status), *tail ? ": " : "", tail);
    else
      weft_buf_addf(why, "%s -m weft describe was killed by signal %d%s%s", d->interp,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0, *tail ? ": " : "", tail);
  }
  weft_buf_release(&line);
  weft_buf_release(&err);
  return rc;
}

/* Whether a failure is the interpreter's, not one file's: then no other
 * file can be described either. */
static int whole_failure(const char *why) {
  return strstr(why, "cannot run") || strstr(why, "cannot start") ||
         strstr(why, "No module named weft") || strstr(why, "No module named 'weft'") ||
         strstr(why, "status 127");
}

static int describe_pending(struct describer *d, size_t *idx, size_t n) {
  int rc = WEFT_OK;
  while (n && !rc) {
    struct weft_buf why = WEFT_BUF_INIT;
    size_t done = 0;
    int timed_out = 0;
    rc = run_once(d, idx, n, &done, &timed_out, &why);
    d->out->n_described += done;
    if (!rc && done < n) {
      const char *name = d->out->files[idx[done]].name;
      if (timed_out)
        weft_diags_addf(d->diags, name, 0, 0,
                        "describing this Python file took longer than %g s and was stopped "
                        "(does it hang at import? $WEFT_PYTHON_TIMEOUT sets the limit)",
                        d->timeout_s);
      else if (whole_failure(why.ptr ? why.ptr : "")) {
        for (size_t k = done; k < n; k++)
          weft_diags_addf(d->diags, d->out->files[idx[k]].name, 0, 0,
                          "cannot describe this Python file: %s%s", why.ptr ? why.ptr : "",
                          d->sdk ? "" : " (the weft Python package was not found)");
        done = n - 1;
      } else
        weft_diags_addf(d->diags, name, 0, 0, "cannot describe this Python file: %s",
                        why.ptr ? why.ptr : "");
      done++;
    }
    idx += done;
    n -= done;
    weft_buf_release(&why);
  }
  return rc;
}

/* ---- the entry point -------------------------------------------------------------- */

static char *resolve_interp(const char *python) {
  if (!python || !*python) python = getenv("WEFT_PYTHON");
  if (!python || !*python) return strdup("python3");
  if (weft_fs_is_dir(python)) return weft_str_printf("%s/bin/python3", python);
  return strdup(python);
}

/* The SDK's own files: a new SDK describes files anew. */
static void sdk_hash(const char *sdk, char out[33]) {
  static const char *const files[] = {"weft/__init__.py", "weft/_describe.py", "weft/_run.py",
                                      "weft_op.py", NULL};
  struct weft_buf all = WEFT_BUF_INIT;
  for (size_t i = 0; sdk && files[i]; i++) {
    char *path = weft_fs_join(sdk, files[i]);
    char h[33] = "";
    if (path && !weft__py_hash_file(path, files[i], h)) weft_buf_adds(&all, h);
    free(path);
  }
  weft__py_hash(all.ptr ? all.ptr : "", all.len, sdk ? sdk : "", out);
  weft_buf_release(&all);
}

int weft__python_collect(const char *dir, const char *python, char *const *rels,
                         char *const *names, size_t n, struct weft__py_collect *out,
                         struct weft_diags *diags) {
  struct describer d = {0};
  size_t *pending = NULL, n_pending = 0;
  char *interp = resolve_interp(python), *salt = NULL;
  char sdkh[33];
  int rc = WEFT_OK;
  memset(out, 0, sizeof *out);
  d.dir = dir;
  d.sdk = weft__py_sdk_dir();
  d.timeout_s = describe_timeout();
  d.out = out;
  d.diags = diags;
  d.cache_dir = weft__py_cache_dir();
  out->files = calloc(n ? n : 1, sizeof *out->files);
  d.keys = calloc(n ? n : 1, sizeof *d.keys);
  pending = calloc(n ? n : 1, sizeof *pending);
  if (!interp || !d.cache_dir || !out->files || !d.keys || !pending) goto nomem;
  d.interp = interp;
  sdk_hash(d.sdk, sdkh);
  if (!(salt = weft_str_printf("%s\n%s\n", interp, sdkh))) goto nomem;
  for (size_t i = 0; i < n; i++) {
    struct weft__py_file *f = &out->files[i];
    if (!(f->rel = strdup(rels[i])) || !(f->name = strdup(names[i]))) goto nomem;
    out->n_files++;
    char *path = weft_fs_join(dir, rels[i]), *key_salt = weft_str_printf("%s%s", salt, rels[i]);
    char key[33];
    int unreadable = !path || !key_salt || weft__py_hash_file(path, key_salt, key);
    free(path);
    free(key_salt);
    if (unreadable) {
      weft_diags_addf(diags, f->name, 0, 0, "cannot read this Python file");
      continue;
    }
    if (!(d.keys[i] = strdup(key))) goto nomem;
    json_t *desc = weft__py_cache_get(d.cache_dir, dir, key);
    if (desc) {
      f->from_cache = 1;
      rc = apply(&d, i, desc);
      json_decref(desc);
      if (rc) goto nomem;
      continue;
    }
    pending[n_pending++] = i;
  }
  if (describe_pending(&d, pending, n_pending)) goto nomem;
  goto done;
nomem:
  rc = WEFT_ENOMEM;
done:
  for (size_t i = 0; d.keys && i < n; i++) free(d.keys[i]);
  free(d.keys);
  free(d.cache_dir);
  free(d.sdk);
  free(pending);
  free(interp);
  free(salt);
  return rc;
}

void weft__python_collect_release(struct weft__py_collect *c) {
  for (size_t i = 0; i < c->n_files; i++) {
    struct weft__py_file *f = &c->files[i];
    for (size_t k = 0; k < f->n_texts; k++) {
      free(f->texts[k].text);
      free(f->texts[k].lines);
    }
    free(f->texts);
    free(f->rel);
    free(f->name);
  }
  free(c->files);
  memset(c, 0, sizeof *c);
}
