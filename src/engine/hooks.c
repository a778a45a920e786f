/* hooks.c: delivery of a run's alerts (hooks.h): one thread per delivery,
 * webhooks by libcurl, commands by /bin/sh, results handed back to the
 * coordinator's thread, which alone writes events and storage. */
#include "engine/hooks.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "engine/engine_int.h"
#include "engine/secrets.h"
#include "util/clock.h"
#include "util/mask.h"
#include "util/str.h"

extern char **environ;

#define OUTPUT_MAX 2048 /* bytes of a command's output kept in its event */

struct hook_job {
  struct hook_job *next;
  struct run_hooks *h;
  pthread_t th;
  int started, done, reported;
  char *id, *trigger, *step, *kind, *target; /* target: shown URL or command */
  char *url, *body, *command;
  struct curl_slist *headers;
  char **env; /* the command's environment */
  int tries;
  double timeout_s;
  /* outcome */
  int ok, attempts;
  long status;   /* webhook: last HTTP status (0: none) */
  int exit_code; /* command: last exit status (-1: none) */
  char *output, *error;
};

struct run_hooks {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int abort;
  struct hook_job *jobs;
  json_t *inst_hooks; /* weft.yaml hooks:, or NULL */
};

static void job_free(struct hook_job *j) {
  free(j->id);
  free(j->trigger);
  free(j->step);
  free(j->kind);
  free(j->target);
  free(j->url);
  free(j->body);
  free(j->command);
  curl_slist_free_all(j->headers);
  for (char **e = j->env; e && *e; e++) free(*e);
  free(j->env);
  free(j->output);
  free(j->error);
  free(j);
}

/* weft.yaml's hooks, read again only when the file changed: a loop of many
 * runs starts thousands a second (a parse of weft.yaml each was ~5% of a
 * short run's cost), and looked at no more than every CFG_CHECK_MS (a
 * stat() each was 4% of a coordinator's work in a burst of due schedules),
 * so a change to them is seen by runs that start that much later. NULL
 * when it has none or cannot be read (said once per change of the file). */
#define CFG_CHECK_MS 100
static pthread_mutex_t cfg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  char *home;
  struct stat st;
  int64_t checked_ms; /* monotonic: when st was read */
  json_t *hooks;
  int failed;
} cfg_cache;

static json_t *inst_hooks_get(struct coord *c) {
  int64_t now = weft_clock_mono_ms();
  json_t *hooks = NULL;
  pthread_mutex_lock(&cfg_mu);
  if (cfg_cache.home && !strcmp(cfg_cache.home, c->inst->home) &&
      now - cfg_cache.checked_ms < CFG_CHECK_MS) {
    hooks = json_incref(cfg_cache.hooks);
    pthread_mutex_unlock(&cfg_mu);
    return hooks;
  }
  pthread_mutex_unlock(&cfg_mu);
  char *file = weft_str_printf("%s/weft.yaml", c->inst->home);
  struct stat st;
  if (!file) return NULL;
  int have = stat(file, &st) == 0;
  free(file);
  pthread_mutex_lock(&cfg_mu);
  if (have && cfg_cache.home && !strcmp(cfg_cache.home, c->inst->home) &&
      cfg_cache.st.st_ino == st.st_ino && cfg_cache.st.st_size == st.st_size &&
      cfg_cache.st.st_mtim.tv_sec == st.st_mtim.tv_sec &&
      cfg_cache.st.st_mtim.tv_nsec == st.st_mtim.tv_nsec) {
    cfg_cache.checked_ms = now;
    hooks = json_incref(cfg_cache.hooks);
    pthread_mutex_unlock(&cfg_mu);
    return hooks;
  }
  struct weft_instance_config cfg;
  weft_error err = WEFT_ERROR_INIT;
  int failed = weft_instance_config_load(c->inst->home, &cfg, &err) != 0;
  if (failed) {
    fprintf(stderr, "weft: run %s: the hooks of weft.yaml are not used: %s\n", c->run.id,
            err.msg);
  } else {
    hooks = json_incref(cfg.hooks);
    weft_instance_config_release(&cfg);
  }
  json_decref(cfg_cache.hooks);
  free(cfg_cache.home);
  cfg_cache.home = have ? weft_str_dup(c->inst->home) : NULL;
  cfg_cache.st = st;
  cfg_cache.checked_ms = now;
  cfg_cache.hooks = json_incref(hooks);
  cfg_cache.failed = failed;
  pthread_mutex_unlock(&cfg_mu);
  return hooks;
}

struct run_hooks *run_hooks_new(struct coord *c) {
  struct run_hooks *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->cv, NULL);
  /* Here, on one thread: libcurl's global setup is not safe to race. */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  h->inst_hooks = inst_hooks_get(c);
  return h;
}

/* ---- delivery (the job's own thread) --------------------------------------- */

/* Sleeps ms unless the coordinator stops waiting; 1 when it did. */
static int pause_or_abort(struct run_hooks *h, int64_t ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&h->mu);
  while (!h->abort && pthread_cond_timedwait(&h->cv, &h->mu, &until) != ETIMEDOUT) {
  }
  int a = h->abort;
  pthread_mutex_unlock(&h->mu);
  return a;
}

static int aborted(struct run_hooks *h) {
  pthread_mutex_lock(&h->mu);
  int a = h->abort;
  pthread_mutex_unlock(&h->mu);
  return a;
}

static int on_progress(void *p, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
  (void)a, (void)b, (void)c, (void)d;
  return aborted(p);
}

static size_t discard(char *p, size_t s, size_t n, void *u) {
  (void)p, (void)u;
  return s * n;
}

static void set_error(struct hook_job *j, const char *msg) {
  free(j->error);
  j->error = weft_str_dup(msg);
}

/* One POST; 1 when the receiver took it (2xx). */
static int post_once(struct hook_job *j) {
  CURL *cu = curl_easy_init();
  if (!cu) {
    set_error(j, "out of memory");
    return 0;
  }
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(cu, CURLOPT_URL, j->url);
  curl_easy_setopt(cu, CURLOPT_POSTFIELDS, j->body);
  curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
  curl_easy_setopt(cu, CURLOPT_HTTPHEADER, j->headers);
  curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, (long)(j->timeout_s * 1000));
  curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(cu, CURLOPT_XFERINFODATA, j->h);
  curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(cu, CURLOPT_USERAGENT, "weft-hooks");
  CURLcode rc = curl_easy_perform(cu);
  long status = 0;
  curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(cu);
  j->status = status;
  if (rc == CURLE_OK && status >= 200 && status < 300) return 1;
  char msg[CURL_ERROR_SIZE + 64];
  if (rc == CURLE_OK)
    snprintf(msg, sizeof msg, "HTTP status %ld", status);
  else if (rc == CURLE_ABORTED_BY_CALLBACK)
    snprintf(msg, sizeof msg, "stopped: the run ended %d s ago", WEFT_HOOKS_WAIT_MS / 1000);
  else
    snprintf(msg, sizeof msg, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
  /* libcurl's messages name the host at most, never the path's tokens. */
  set_error(j, msg);
  return 0;
}

/* One run of the command; 1 when it exited 0. */
static int command_once(struct hook_job *j) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC)) {
    set_error(j, strerror(errno));
    return 0;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawnattr_init(&at);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  pid_t pid;
  char *argv[] = {"/bin/sh", "-c", j->command, NULL};
  int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, j->env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(fds[1]);
  if (rc) {
    close(fds[0]);
    set_error(j, strerror(rc));
    return 0;
  }
  char buf[OUTPUT_MAX + 1];
  size_t len = 0;
  int64_t end = weft_clock_mono_ms() + (int64_t)(j->timeout_s * 1000);
  int timed_out = 0, stopped = 0;
  for (;;) {
    int64_t left = end - weft_clock_mono_ms();
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    if (aborted(j->h)) {
      stopped = 1;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    int n = poll(&p, 1, left < 200 ? (int)left : 200);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    char tmp[4096];
    ssize_t r = read(fds[0], tmp, sizeof tmp);
    if (r <= 0) break;
    size_t keep = (size_t)r < OUTPUT_MAX - len ? (size_t)r : OUTPUT_MAX - len;
    memcpy(buf + len, tmp, keep);
    len += keep;
  }
  close(fds[0]);
  if (timed_out || stopped) kill(-pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  buf[len] = 0;
  free(j->output);
  j->output = weft_str_dup(buf);
  j->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (timed_out) {
    char msg[96];
    snprintf(msg, sizeof msg, "timed out after %gs", j->timeout_s);
    set_error(j, msg);
    return 0;
  }
  if (stopped) {
    set_error(j, "stopped: the run ended and the coordinator stopped waiting");
    return 0;
  }
  if (j->exit_code == 0) return 1;
  char msg[64];
  snprintf(msg, sizeof msg, "exit status %d", j->exit_code);
  set_error(j, msg);
  return 0;
}

static void *deliver(void *arg) {
  struct hook_job *j = arg;
  int64_t wait = WEFT_HOOKS_BACKOFF_MS;
  for (int attempt = 1; attempt <= j->tries; attempt++) {
    j->attempts = attempt;
    if (j->url ? post_once(j) : command_once(j)) {
      j->ok = 1;
      break;
    }
    if (attempt == j->tries || pause_or_abort(j->h, wait)) break;
    wait *= 2;
  }
  pthread_mutex_lock(&j->h->mu);
  j->done = 1;
  pthread_mutex_unlock(&j->h->mu);
  return NULL;
}

/* ---- on the coordinator's thread ------------------------------------------- */


/* body with {{run.id}}, {{run.job}}, {{run.status}}, {{run.message}},
 * {{trigger}}, {{step}} replaced, JSON-escaped (a body is most often JSON);
 * an unknown {{name}} stays as written. Caller frees. */
static char *render(const char *tmpl, const char *const *names, const char *const *values) {
  size_t cap = strlen(tmpl) + 256, len = 0;
  char *out = malloc(cap);
  if (!out) return NULL;
  for (const char *p = tmpl; *p;) {
    const char *val = NULL;
    size_t skip = 0;
    if (p[0] == '{' && p[1] == '{') {
      for (size_t k = 0; names[k]; k++) {
        size_t n = strlen(names[k]);
        const char *q = p + 2;
        while (*q == ' ') q++;
        if (strncmp(q, names[k], n)) continue;
        q += n;
        while (*q == ' ') q++;
        if (q[0] == '}' && q[1] == '}') {
          val = values[k] ? values[k] : "";
          skip = (size_t)(q + 2 - p);
          break;
        }
      }
    }
    char *esc = NULL;
    const char *add = p;
    size_t addn = 1;
    if (val) {
      json_t *js = json_string(val);
      esc = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
      json_decref(js);
      if (!esc) {
        free(out);
        return NULL;
      }
      add = esc + 1; /* without the quotes */
      addn = strlen(esc) - 2;
      p += skip;
    } else {
      p++;
    }
    if (len + addn + 1 > cap) {
      cap = (len + addn + 1) * 2;
      char *g = realloc(out, cap);
      if (!g) {
        free(esc);
        free(out);
        return NULL;
      }
      out = g;
    }
    memcpy(out + len, add, addn);
    len += addn;
    free(esc);
  }
  out[len] = 0;
  return out;
}

/* "https://host/…": a webhook's path and query often are its token. */
static char *shown_url(const char *url) {
  const char *h = strstr(url, "://");
  h = h ? h + 3 : url;
  const char *end = h + strcspn(h, "/?#");
  const char *at = memchr(h, '@', (size_t)(end - h));
  if (at) h = at + 1;
  return weft_str_printf("%.*s%.*s%s", (int)(strstr(url, "://") ? strstr(url, "://") + 3 - url : 0),
                         url, (int)(end - h), h, *end ? "/…" : "");
}

static int add_env(char ***env, size_t *n, const char *name, const char *value) {
  char **g = realloc(*env, (*n + 2) * sizeof **env);
  if (!g) return -1;
  *env = g;
  if (!(g[*n] = weft_str_printf("%s=%s", name, value ? value : ""))) return -1;
  g[++*n] = NULL;
  return 0;
}

static int header_value(struct coord *c, const char *name, json_t *v, char **out) {
  *out = NULL;
  if (json_is_string(v)) return (*out = weft_str_printf("%s: %s", name, json_string_value(v))) ? 0 : -1;
  const char *sec = json_string_value(json_object_get(v, "secret"));
  weft_error err = WEFT_ERROR_INIT;
  if (!c->keyring) {
    struct weft_secret_keyring *kr = calloc(1, sizeof *kr);
    if (!kr) return -1;
    if (weft_secret_keyring_load(c->inst->secret_key_file, 0, kr, &err)) {
      free(kr);
      return -2;
    }
    c->keyring = kr;
  }
  char *val = NULL;
  size_t len = 0;
  if (weft_secret_get(c->inst->store, c->keyring, sec, &val, &len, &err)) return -3;
  /* Masked in every event of the run from now on (coord_event). */
  weft_mask_add(c->mask, val, len);
  *out = weft_str_printf("%s: %s", name, val);
  weft_secret_free(val, len);
  return *out ? 0 : -1;
}

static void record(struct coord *c, struct hook_job *j) {
  json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:i}", "hook", j->id, "trigger", j->trigger,
                        "kind", j->kind, "target", j->target, "attempts", j->attempts);
  if (!p) return;
  if (j->url && j->status) json_object_set_new(p, "status", json_integer(j->status));
  if (j->command && j->exit_code >= 0) json_object_set_new(p, "exit_code", json_integer(j->exit_code));
  if (j->output && *j->output) json_object_set_new(p, "output", json_string(j->output));
  if (!j->ok && j->error) json_object_set_new(p, "error", json_string(j->error));
  coord_event(c, j->step, j->ok ? "hook_delivered" : "hook_failed", p);
}

static void fire_one(struct run_hooks *h, struct coord *c, const char *scope, const char *trigger,
                     const char *step, const char *message, size_t index, json_t *hook) {
  struct hook_job *j = calloc(1, sizeof *j);
  if (!j) return;
  j->h = h;
  j->exit_code = -1;
  j->id = weft_str_printf("%s.%s[%zu]", scope, trigger, index);
  j->trigger = weft_str_dup(trigger);
  j->step = step ? weft_str_dup(step) : NULL;
  const char *url = json_string_value(json_object_get(hook, "webhook"));
  const char *cmd = json_string_value(json_object_get(hook, "command"));
  j->kind = weft_str_dup(url ? "webhook" : "command");
  json_t *r = json_object_get(hook, "retries");
  j->tries = 1 + (json_is_integer(r) ? (int)json_integer_value(r) : WEFT_HOOKS_RETRIES);
  json_t *t = json_object_get(hook, "timeout_s");
  j->timeout_s = json_is_number(t) ? json_number_value(t) : WEFT_HOOKS_TIMEOUT_S;
  const char *status = weft_run_status_name(c->run.status);
  if (!strcmp(trigger, "on_sla_missed")) status = "sla_missed";
  const char *job = c->job->name;
  const char *msg = message ? message : c->run.message ? c->run.message : "";
  if (step && !strcmp(trigger, "on_failure")) status = "failure";
  char dflt[1024];
  if (!strcmp(trigger, "on_success"))
    snprintf(dflt, sizeof dflt, "{\"text\": \"weft: run {{run.id}} of {{run.job}} succeeded\"}");
  else if (!strcmp(trigger, "on_sla_missed"))
    snprintf(dflt, sizeof dflt,
             "{\"text\": \"weft: run {{run.id}} of {{run.job}} missed its SLA: {{run.message}}\"}");
  else if (step)
    snprintf(dflt, sizeof dflt,
             "{\"text\": \"weft: step {{step}} of run {{run.id}} of {{run.job}} failed: "
             "{{run.message}}\"}");
  else
    snprintf(dflt, sizeof dflt,
             "{\"text\": \"weft: run {{run.id}} of {{run.job}} failed: {{run.message}}\"}");
  const char *names[] = {"run.id", "run.job", "run.status", "run.message", "trigger", "step", NULL};
  const char *values[] = {c->run.id, job, status, msg, trigger, step ? step : "", NULL};
  int bad = !j->id || !j->trigger || !j->kind || (step && !j->step);
  if (url) {
    const char *tmpl = json_string_value(json_object_get(hook, "body"));
    j->url = weft_str_dup(url);
    j->target = shown_url(url);
    j->body = render(tmpl ? tmpl : dflt, names, values);
    bad = bad || !j->url || !j->target || !j->body;
    const char *hn;
    json_t *hv;
    int has_type = 0;
    json_object_foreach(json_object_get(hook, "headers"), hn, hv) {
      char *line = NULL;
      int hr = header_value(c, hn, hv, &line);
      if (hr) {
        free(line);
        j->attempts = 0;
        set_error(j, hr == -1 ? "out of memory" : hr == -2 ? "the secret keys cannot be read"
                                                           : "a header's secret cannot be read");
        bad = 2;
        break;
      }
      if (!strcasecmp(hn, "Content-Type")) has_type = 1;
      j->headers = curl_slist_append(j->headers, line);
      weft_secret_free(line, strlen(line));
    }
    if (!has_type) j->headers = curl_slist_append(j->headers, "Content-Type: application/json");
  } else {
    j->command = weft_str_dup(cmd);
    j->target = weft_str_printf("%.80s", cmd);
    size_t n = 0;
    static const char *const own[] = {"WEFT_RUN_ID=", "WEFT_JOB=", "WEFT_RUN_STATUS=",
                                      "WEFT_RUN_MESSAGE=", "WEFT_HOOK_TRIGGER=", "WEFT_STEP=",
                                      NULL};
    for (char **e = environ; e && *e; e++) {
      int mine = 0; /* set below, for this alert */
      for (size_t k = 0; own[k] && !mine; k++) mine = !strncmp(*e, own[k], strlen(own[k]));
      if (mine) continue;
      char **g = realloc(j->env, (n + 2) * sizeof *g);
      if (!g || !(g[n] = weft_str_dup(*e))) {
        if (g) j->env = g;
        bad = 1;
        break;
      }
      j->env = g;
      g[++n] = NULL;
    }
    if (!bad && (add_env(&j->env, &n, "WEFT_RUN_ID", c->run.id) ||
                 add_env(&j->env, &n, "WEFT_JOB", job) ||
                 add_env(&j->env, &n, "WEFT_RUN_STATUS", status) ||
                 add_env(&j->env, &n, "WEFT_RUN_MESSAGE", msg) ||
                 add_env(&j->env, &n, "WEFT_HOOK_TRIGGER", trigger) ||
                 add_env(&j->env, &n, "WEFT_STEP", step ? step : "")))
      bad = 1;
    bad = bad || !j->command || !j->target;
  }
  if (bad == 1) {
    job_free(j);
    return;
  }
  /* Claimed before the first try: a second coordinator, or this one after
   * a crash, finds the key and leaves the alert alone. */
  char *key = weft_str_printf("hooks/%s/%s", c->run.id, j->id);
  const char *val = "claimed";
  unsigned char inserted = 0;
  weft_error err = WEFT_ERROR_INIT;
  int rc = key ? weft_store_kv_insert_many(c->inst->store, (const char *const *)&key, &val, 1,
                                           &inserted, &err)
               : WEFT_ENOMEM;
  free(key);
  if (rc || !inserted) {
    if (rc) {
      set_error(j, "its delivery could not be claimed in storage");
      record(c, j);
    }
    job_free(j);
    return;
  }
  j->next = h->jobs;
  h->jobs = j;
  if (bad) return; /* recorded as failed by the next poll */
  if (pthread_create(&j->th, NULL, deliver, j)) {
    set_error(j, "cannot start a thread");
    j->done = 1;
    return;
  }
  j->started = 1;
}

void run_hooks_fire(struct run_hooks *h, struct coord *c, const char *trigger, const char *step,
                    const json_t *op_hooks, const char *message) {
  if (!h) return;
  const json_t *sets[] = {step ? op_hooks : c->job->hooks, step ? NULL : h->inst_hooks};
  const char *scopes[] = {step ? "op" : "job", "instance"};
  for (size_t s = 0; s < 2; s++) {
    json_t *list = json_object_get(sets[s], trigger);
    for (size_t i = 0; i < json_array_size(list); i++) {
      char scope[300];
      if (step)
        snprintf(scope, sizeof scope, "%s.%s", scopes[s], step);
      else
        snprintf(scope, sizeof scope, "%s", scopes[s]);
      fire_one(h, c, scope, trigger, step, message, i, json_array_get(list, i));
    }
  }
}

void run_hooks_poll(struct run_hooks *h, struct coord *c) {
  if (!h) return;
  for (struct hook_job *j = h->jobs; j; j = j->next) {
    if (j->reported) continue;
    pthread_mutex_lock(&h->mu);
    int done = j->done || !j->started;
    pthread_mutex_unlock(&h->mu);
    if (!done) continue;
    if (j->started) pthread_join(j->th, NULL);
    j->started = 0;
    j->reported = 1;
    record(c, j);
  }
}

int run_hooks_busy(struct run_hooks *h) {
  if (!h) return 0;
  for (struct hook_job *j = h->jobs; j; j = j->next)
    if (!j->reported) return 1;
  return 0;
}

static int pending(struct run_hooks *h) {
  int n = 0;
  pthread_mutex_lock(&h->mu);
  for (struct hook_job *j = h->jobs; j; j = j->next) n += j->started && !j->done;
  pthread_mutex_unlock(&h->mu);
  return n;
}

void run_hooks_finish(struct run_hooks *h, struct coord *c, int wait_ms) {
  if (!h) return;
  int64_t end = weft_clock_mono_ms() + wait_ms;
  while (pending(h) && weft_clock_mono_ms() < end) usleep(50 * 1000);
  pthread_mutex_lock(&h->mu);
  h->abort = 1;
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
  for (struct hook_job *j = h->jobs; j; j = j->next)
    if (j->started) {
      pthread_join(j->th, NULL);
      j->done = 1;
    }
  run_hooks_poll(h, c);
}

void run_hooks_free(struct run_hooks *h) {
  if (!h) return;
  pthread_mutex_lock(&h->mu);
  h->abort = 1;
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
  while (h->jobs) {
    struct hook_job *j = h->jobs;
    h->jobs = j->next;
    if (j->started) pthread_join(j->th, NULL);
    job_free(j);
  }
  json_decref(h->inst_hooks);
  curl_global_cleanup();
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
  free(h);
}
