/* cmd_server.c: `weft server` and `weft dev`: serve the HTTP API and web UI
 * (src/http) until SIGINT or SIGTERM; runs are coordinated in processes of
 * their own, so stopping the server does not stop them. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sched/coord_service.h"
#include "http/http.h"
#include "util/fs.h"
#include "util/log.h"

static const char server_usage[] =
    "usage: weft server [--listen HOST:PORT] [--tls-cert PEM --tls-key PEM]\n"
    "                   [--no-auth] [--insecure] [--coordinator] [--log-format text|json]\n"
    "                   [-w FILE | -l LOCATION...]\n"
    "\n"
    "Serves the HTTP API (/api/v1, described at /api/v1/openapi.json), the\n"
    "web UI (/), /healthz and /metrics for the instance in $WEFT_HOME\n"
    "(default ./.weft). Every launch and re-execution is coordinated by a\n"
    "process of its own ('weft run coordinate'), so runs go on when the\n"
    "server stops. SIGINT or SIGTERM stops it.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT    where to listen (default 127.0.0.1:3000; port 0\n"
    "                        picks a free one); an address beyond this\n"
    "                        machine needs TLS and authentication\n"
    "  --tls-cert FILE       serve HTTPS with this certificate (PEM, the\n"
    "  --tls-key FILE        chain first) and its private key; answers\n"
    "                        then carry Strict-Transport-Security\n"
    "  --insecure            serve beyond this machine without TLS or\n"
    "                        without authentication anyway\n"
    "  --coordinator         coordinate runs in this process too: one loop\n"
    "                        drives every run launched or queued while it is\n"
    "                        up, instead of a process per run (see 'weft\n"
    "                        coordinator')\n"
    "  --no-auth             no authentication: anyone who can reach the\n"
    "                        server can do anything (default: every request\n"
    "                        needs an API token, a user's password or a\n"
    "                        session from the UI's login page, see 'weft user'\n"
    "                        and 'weft token', and the role its route needs)\n"
    "  --log-format FORMAT   text (default) or json: one JSON object per line\n"
    "                        (time, level, role, run, step, message); also\n"
    "                        from $WEFT_LOG_FORMAT, and passed to the run\n"
    "                        coordinators it starts\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "                        (default: ./workspace.yaml)\n"
    "  -l, --location DIR    read this code location (repeatable)\n"
    "  -h, --help            show this help\n";

static const char dev_usage[] =
    "usage: weft dev [--listen HOST:PORT] [--tls-cert PEM --tls-key PEM]\n"
    "                [--no-auth] [--insecure] [--coordinator] [--log-format text|json]\n"
    "                [-w FILE | -l LOCATION...]\n"
    "\n"
    "Everything on this machine in one command: the web UI and HTTP API at\n"
    "http://127.0.0.1:3000, runs coordinated and executed here, state in\n"
    "embedded SQLite under $WEFT_HOME (default ./.weft). Reads\n"
    "./workspace.yaml unless told otherwise. Ctrl-C stops it.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT    where to listen (default 127.0.0.1:3000; port 0\n"
    "                        picks a free one). On loopback there is no\n"
    "                        login; beyond, users and tokens are checked as\n"
    "                        by 'weft server', and TLS is needed\n"
    "  --tls-cert FILE       serve HTTPS with this certificate and key (PEM)\n"
    "  --tls-key FILE\n"
    "  --insecure            serve beyond this machine without TLS anyway\n"
    "  --coordinator         coordinate runs in this process too: one loop\n"
    "                        drives every run launched or queued while it is\n"
    "                        up, instead of a process per run (see 'weft\n"
    "                        coordinator')\n"
    "  --no-auth             no login beyond loopback either\n"
    "  --log-format FORMAT   text (default) or json: one JSON object per line\n"
    "                        (time, level, role, run, step, message); also\n"
    "                        from $WEFT_LOG_FORMAT, and passed to its run\n"
    "                        coordinators\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "  -l, --location DIR    read this code location (repeatable)\n"
    "  -h, --help            show this help\n";

static int serve(const char *cmd, int argc, char **argv, int dev) {
  const char *listen = NULL, *ws_file = NULL, *v, *tls_cert = NULL, *tls_key = NULL;
  const char *log_format = NULL;
  const char **paths = calloc((size_t)argc + 1, sizeof *paths);
  size_t n_paths = 0;
  int m, rc = WEFT_EXIT_USAGE, insecure = 0, coordinator = 0, auth = dev ? -1 : 1;
  struct weft_http_server *srv = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (!paths) return WEFT_EXIT_INVALID;
  weft_log_set_role(cmd, dev ? "weft dev: " : "weft server: ");
  if (weft_log_init_from_env(&err)) {
    rc = weft_cli_usage_error(cmd, "%s", err.msg);
    goto done;
  }
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (weft_cli_is_help(arg)) {
      fputs(dev ? dev_usage : server_usage, stdout);
      rc = WEFT_EXIT_OK;
      goto done;
    }
    if (!strcmp(arg, "--insecure")) {
      insecure = 1;
    } else if (!strcmp(arg, "--coordinator")) {
      coordinator = 1;
    } else if (!strcmp(arg, "--no-auth")) {
      auth = 0;
    } else if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--listen", &listen)) ||
        (m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--tls-cert", &tls_cert)) ||
        (m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--tls-key", &tls_key)) ||
        (m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--log-format", &log_format)) ||
        (m = weft_cli_flag_value(cmd, argc, argv, &i, "-w", "--workspace", &ws_file))) {
      if (m < 0) goto done;
    } else if ((m = weft_cli_flag_value(cmd, argc, argv, &i, "-l", "--location", &v))) {
      if (m < 0) goto done;
      paths[n_paths++] = v;
    } else if (arg[0] == '-') {
      rc = weft_cli_usage_error(cmd, "unknown option '%s'", arg);
      goto done;
    } else {
      rc = weft_cli_usage_error(cmd, "unexpected argument '%s'", arg);
      goto done;
    }
  }
  /* exported: the coordinators this process spawns log alike */
  if (log_format && weft_log_set_format_name(log_format, 1, &err)) {
    rc = weft_cli_usage_error(cmd, "%s", err.msg);
    goto done;
  }
  if (!tls_cert != !tls_key) {
    rc = weft_cli_usage_error(cmd, "--tls-cert and --tls-key go together");
    goto done;
  }
  if (ws_file && n_paths) {
    rc = weft_cli_usage_error(cmd, "pass either -w FILE or location folders, not both");
    goto done;
  }
  /* Without a workspace.yaml an instance may still have a location
   * registry to serve (engine/locreg.h). */
  const char *home = getenv("WEFT_HOME");
  if (!ws_file && !n_paths && !weft_fs_exists("workspace.yaml") &&
      !weft_fs_is_dir(home && *home ? home : ".weft")) {
    rc = weft_cli_usage_error(cmd, "no locations: pass -l DIR or -w FILE, or start it in a "
                                   "folder with a workspace.yaml");
    goto done;
  }
  /* Every thread the server starts inherits this mask, so the signals
   * reach sigwait below and nothing else. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);
  struct weft_http_options o = {.listen = listen, .ws_file = ws_file, .paths = paths,
                                .n_paths = n_paths, .insecure = insecure,
                                .auth = auth, .tls_cert = tls_cert, .tls_key = tls_key};
  if (weft_http_server_start(&o, &srv, &err)) {
    weft_log_error("%s", err.msg);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  const char *url = weft_http_server_url(srv);
  const char *auth_line = weft_http_server_auth(srv)
                              ? "\n  authentication is on: sign in on the UI's login page or "
                                "send an API token (weft token create) or a user's password "
                                "(weft user add)"
                              : "";
  struct weft_log_fields out = {.to_stdout = 1};
  if (dev)
    weft_log(WEFT_LOG_INFO, &out,
             "the web UI and API are at %s/\n"
             "  workspace %s, instance %s\n"
             "  Ctrl-C stops the server; runs go on in their own processes.%s",
             url, n_paths ? "(the locations given)" : ws_file ? ws_file : "./workspace.yaml",
             weft_http_server_home(srv), auth_line);
  else
    weft_log(WEFT_LOG_INFO, &out, "listening on %s/%s", url, auth_line);
  int tls = !strncmp(url, "https:", 6);
  if (!weft_http_server_is_loopback(srv) && (!tls || !weft_http_server_auth(srv)))
    weft_log_warn("warning (--insecure): %s is reachable from other machines%s%s",
                  url, tls ? "" : "; without TLS credentials cross the network in clear",
                  weft_http_server_auth(srv) ? "" : "; without authentication anyone who can "
                                                    "reach it can launch runs");
  /* dev: schedules, sensors and the run queue in this process too */
  struct weft_cli_sched *sched = dev ? weft_cli_scheduler_start(ws_file, paths, n_paths) : NULL;
  if (dev && !sched)
    weft_log_warn("warning: the scheduler did not start; schedules and sensors will not run");
  struct weft_coord_service_thread *coord = NULL;
  if (coordinator) {
    weft_error cerr = WEFT_ERROR_INIT;
    if (!(coord = weft_coord_service_start(weft_http_server_home(srv), &cerr)))
      weft_log_warn("warning: the coordinator did not start: %s", cerr.msg);
  }
  int sig = 0;
  sigwait(&stop, &sig);
  weft_log(WEFT_LOG_INFO, &out, "stopping (%s)", strsignal(sig));
  weft_coord_service_stop(coord); /* drains its runs (coord_service.h) */
  weft_cli_scheduler_stop(sched);
  weft_http_server_stop(srv);
  rc = WEFT_EXIT_OK;
done:
  free(paths);
  return rc;
}

int cmd_server(int argc, char **argv) { return serve("server", argc, argv, 0); }

int cmd_dev(int argc, char **argv) { return serve("dev", argc, argv, 1); }
