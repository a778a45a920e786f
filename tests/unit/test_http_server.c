/* test_http_server.c: the HTTP layer in process: strict percent-decoding,
 * the server's start (bad and taken addresses) and stop, answers over a
 * socket, workspace versions kept alive across a reload, and launches made
 * at once recorded together (launch_batch.c), each answered on its own. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "engine/audit.h"
#include "http/http_int.h"
#include "sched/coord_service.h"
#include "test.h"
#include "util/fs.h"

static const char *fixture(void) {
  static char path[4096];
  const char *src = getenv("WEFT_SRC");
  snprintf(path, sizeof path, "%s/tests/t/fixtures/http", src ? src : WEFT_SOURCE_DIR);
  return path;
}

static char home[64];

static void remove_home(void) {
  weft_error err = WEFT_ERROR_INIT;
  weft_fs_remove_tree(home, &err);
}

/* A fresh WEFT_HOME for the test process, removed when it exits. */
static void scratch_home(void) {
  snprintf(home, sizeof home, "/tmp/weft-test-http.XXXXXX");
  if (!mkdtemp(home)) return;
  setenv("WEFT_HOME", home, 1);
  atexit(remove_home);
}

/* Sends req to the server at url; returns the whole answer (caller frees). */
static char *http_raw(const char *url, const char *req) {
  int port = atoi(strrchr(url, ':') + 1);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
    if (fd >= 0) close(fd);
    return NULL;
  }
  if (write(fd, req, strlen(req)) < 0) {
    close(fd);
    return NULL;
  }
  struct weft_buf b = WEFT_BUF_INIT;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) weft_buf_add(&b, buf, (size_t)n);
  close(fd);
  return weft_buf_detach(&b, NULL);
}

TEST(decode_is_strict) {
  char *s = http_decode("a%20b+c", 7, 1);
  ASSERT_STR_EQ(s, "a b c");
  free(s);
  s = http_decode("a+b", 3, 0);
  ASSERT_STR_EQ(s, "a+b");
  free(s);
  s = http_decode("%C3%A9t%c3%a9", 13, 0);
  ASSERT_STR_EQ(s, "\xC3\xA9t\xC3\xA9");
  free(s);
  const char *bad[] = {"%", "%4", "%zz", "a%g0", "%00", "%ff", "%C3", "%ED%A0%80", "%C0%AF"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    s = http_decode(bad[i], strlen(bad[i]), 1);
    if (s) fprintf(stderr, "# accepted %s\n", bad[i]);
    ASSERT(s == NULL);
  }
  s = http_decode("", 0, 0);
  ASSERT_STR_EQ(s, "");
  free(s);
  return 0;
}

TEST(bad_listen_address) {
  scratch_home();
  const char *paths[] = {fixture()};
  struct weft_http_options o = {.listen = "nowhere", .paths = paths, .n_paths = 1};
  struct weft_http_server *srv = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(weft_http_server_start(&o, &srv, &err) == WEFT_EINVALID);
  ASSERT(srv == NULL);
  ASSERT_CONTAINS(err.msg, "expected HOST:PORT");
  o.listen = "127.0.0.1:99999";
  ASSERT(weft_http_server_start(&o, &srv, &err) == WEFT_EINVALID);
  o.listen = "127.0.0.1:0";
  const char *missing[] = {"/nonexistent/location"};
  o.paths = missing;
  ASSERT(weft_http_server_start(&o, &srv, &err) != WEFT_OK);
  ASSERT_CONTAINS(err.msg, "/nonexistent/location");
  return 0;
}

TEST(serves_and_stops) {
  scratch_home();
  const char *paths[] = {fixture()};
  struct weft_http_options o = {.listen = "127.0.0.1:0", .paths = paths, .n_paths = 1};
  struct weft_http_server *srv = NULL, *second = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(weft_http_server_start(&o, &srv, &err) == WEFT_OK);
  const char *url = weft_http_server_url(srv);
  ASSERT(!strncmp(url, "http://127.0.0.1:", 17));
  ASSERT(weft_http_server_is_loopback(srv));
  /* The same port again is taken. */
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%s", strrchr(url, ':') + 1);
  o.listen = listen;
  ASSERT(weft_http_server_start(&o, &second, &err) != WEFT_OK);
  ASSERT(second == NULL);
  /* Requests name the server as a browser would (Host: 127.0.0.1:PORT);
   * another name is refused (DNS rebinding, guard.c). */
  char req[256];
  const char *host = url + strlen("http://");
  snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  char *a = http_raw(url, req);
  ASSERT_CONTAINS(a, "HTTP/1.1 200"); /* /healthz answers probes under any name */
  ASSERT_CONTAINS(a, "{\"ok\":true,\"version\":\"0.1.0\"}");
  free(a);
  snprintf(req, sizeof req, "GET /api/v1/jobs HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  a = http_raw(url, req);
  ASSERT_CONTAINS(a, "HTTP/1.1 403");
  ASSERT_CONTAINS(a, "DNS rebinding");
  free(a);
  snprintf(req, sizeof req, "DELETE /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
           host);
  a = http_raw(url, req);
  ASSERT_CONTAINS(a, "HTTP/1.1 405");
  ASSERT_CONTAINS(a, "Allow: GET, HEAD");
  free(a);
  snprintf(req, sizeof req,
           "GET /api/v1/jobs/http/hello HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
  a = http_raw(url, req);
  ASSERT_CONTAINS(a, "HTTP/1.1 200");
  ASSERT_CONTAINS(a, "\"default_run_config\":\"ops:\\n  hello:\\n");
  free(a);
  snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
  a = http_raw(url, req);
  ASSERT_CONTAINS(a, "HTTP/1.1 200");
  ASSERT_CONTAINS(a, "text/html");
  ASSERT_CONTAINS(a, "Content-Security-Policy: default-src 'self'");
  free(a);
  weft_http_server_stop(srv);
  return 0;
}

TEST(reload_keeps_versions_in_use) {
  scratch_home();
  const char *paths[] = {fixture()};
  struct weft_http_options o = {.listen = "127.0.0.1:0", .paths = paths, .n_paths = 1};
  struct weft_http_server *pub = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(weft_http_server_start(&o, &pub, &err) == WEFT_OK);
  struct http_server *srv = (struct http_server *)pub;
  struct http_ws *held = http_ws_acquire(srv);
  ASSERT(http_ws_reload(srv, &err) == WEFT_OK);
  ASSERT(srv->ws != held);
  /* The version held stays whole until given back. */
  ASSERT(http_ws_find_job(held->ws, "http", "hello") != NULL);
  ASSERT(http_ws_find_job(srv->ws->ws, "http", "hello") != NULL);
  ASSERT(http_ws_find_job(srv->ws->ws, "http", "nope") == NULL);
  http_ws_release(srv, held);
  weft_http_server_stop(pub);
  return 0;
}


struct launcher {
  const char *url, *host;
  char *answer;
};

static void *launch_one(void *arg) {
  struct launcher *l = arg;
  char req[512];
  const char *body = "{\"run_config\": {}}";
  snprintf(req, sizeof req,
           "POST /api/v1/jobs/http/hello/launch HTTP/1.1\r\nHost: %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %zu\r\n"
           "Connection: close\r\n\r\n%s",
           l->host, strlen(body), body);
  l->answer = http_raw(l->url, req);
  return NULL;
}

/* N launches sent at once; each must be answered 201 with a run of its
 * own, recorded. Fills ids. */
enum { N_AT_ONCE = 12 };
static int launch_at_once(const char *url, char ids[N_AT_ONCE][64]) {
  struct launcher l[N_AT_ONCE];
  pthread_t t[N_AT_ONCE];
  for (int i = 0; i < N_AT_ONCE; i++) {
    l[i] = (struct launcher){url, url + strlen("http://"), NULL};
    ASSERT(pthread_create(&t[i], NULL, launch_one, &l[i]) == 0);
  }
  for (int i = 0; i < N_AT_ONCE; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < N_AT_ONCE; i++) {
    ASSERT_CONTAINS(l[i].answer, "HTTP/1.1 201");
    const char *p = strstr(l[i].answer, "\"run_id\":\"");
    ASSERT(p);
    p += strlen("\"run_id\":\"");
    size_t n = strcspn(p, "\"");
    ASSERT(n > 0 && n < 64);
    memcpy(ids[i], p, n);
    ids[i][n] = '\0';
    for (int k = 0; k < i; k++) ASSERT(strcmp(ids[k], ids[i]));
    free(l[i].answer);
  }
  /* Every run is recorded, queued for its coordinator or past that. */
  char req[1024];
  for (int i = 0; i < N_AT_ONCE; i++) {
    snprintf(req, sizeof req, "GET /api/v1/runs/%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
             ids[i], url + strlen("http://"));
    char *a = http_raw(url, req);
    ASSERT_CONTAINS(a, "HTTP/1.1 200");
    ASSERT_CONTAINS(a, "\"job\":\"hello\"");
    free(a);
  }
  return 0;
}

/* The audit log's launch entries answered 201 from 127.0.0.1. */
static int launch_entries(const char *url) {
  char req[512];
  snprintf(req, sizeof req, "GET /api/v1/audit?limit=100 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
           url + strlen("http://"));
  char *a = http_raw(url, req);
  int entries = 0;
  const char *what = "\"action\":\"POST /api/v1/jobs/http/hello/launch\"";
  for (const char *p = a; p && (p = strstr(p, what)); p++) {
    const char *end = strchr(p, '}');
    const char *st = strstr(p, "\"status\":201");
    const char *src = strstr(p, "\"source\":\"127.0.0.1\"");
    entries += st && src && st < end && src < end;
  }
  free(a);
  return entries;
}

/* Launches that arrive together share one transaction and one queue turn;
 * each still gets its own run and its own answer, and each its own audit
 * entry (written together too). */
TEST(launches_at_once_each_get_a_run) {
  scratch_home();
  const char *paths[] = {fixture()};
  /* The coordinators it spawns exit at once: only the launches matter. */
  struct weft_http_options o = {
      .listen = "127.0.0.1:0", .paths = paths, .n_paths = 1, .exe = "/bin/true"};
  struct weft_http_server *srv = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(weft_http_server_start(&o, &srv, &err) == WEFT_OK);
  const char *url = weft_http_server_url(srv);
  char ids[N_AT_ONCE][64];
  ASSERT_EQ(launch_at_once(url, ids), 0);
  /* An audit entry is written once its request is done: wait for all. */
  int entries = 0;
  for (int tries = 0; tries < 100 && entries < N_AT_ONCE; tries++) {
    entries = launch_entries(url);
    if (entries < N_AT_ONCE) usleep(50000);
  }
  ASSERT_EQ(entries, N_AT_ONCE);
  weft_http_server_stop(srv);
  return 0;
}

/* With a coordinator service up, a launch's run is handed to it in the
 * commit that records the run, and its audit entry is in that commit
 * too: there when the answer comes, once, and one commit a launch. */
TEST(launches_handed_over_are_audited_in_their_commit) {
  scratch_home();
  struct weft_instance *inst = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_instance_open(home, &inst, &err), WEFT_OK);
  /* A service that looks alive and takes nothing: the inbox keeps what
   * was handed over, for the test to see. */
  ASSERT_EQ(weft_store_kv_set(inst->store, WEFT_COORD_SERVICE_PREFIX "svc", "{}", &err), WEFT_OK);
  const char *paths[] = {fixture()};
  struct weft_http_options o = {
      .listen = "127.0.0.1:0", .paths = paths, .n_paths = 1, .exe = "/bin/true"};
  struct weft_http_server *srv = NULL;
  ASSERT(weft_http_server_start(&o, &srv, &err) == WEFT_OK);
  const char *url = weft_http_server_url(srv);
  char ids[N_AT_ONCE][64];
  ASSERT_EQ(launch_at_once(url, ids), 0);
  ASSERT_EQ(launch_entries(url), N_AT_ONCE);
  /* One launch at a time: a commit each, the audit entry's included. */
  enum { ONE_BY_ONE = 20 };
  struct weft_store_commit_stats before, after;
  weft_store_commit_stats_get(&before);
  for (int i = 0; i < ONE_BY_ONE; i++) {
    struct launcher one = {url, url + strlen("http://"), NULL};
    launch_one(&one);
    ASSERT_CONTAINS(one.answer, "HTTP/1.1 201");
    free(one.answer);
  }
  weft_store_commit_stats_get(&after);
  /* Two a launch before (the run's, then the audit entry's); a little
   * room for the server's own housekeeping. */
  ASSERT(after.count - before.count < ONE_BY_ONE + ONE_BY_ONE / 2);
  for (int i = 0; i < N_AT_ONCE; i++) {
    char key[1024], *v = NULL;
    snprintf(key, sizeof key, WEFT_COORD_INBOX_PREFIX "%s", ids[i]);
    ASSERT_EQ(weft_store_kv_get(inst->store, key, &v, &err), WEFT_OK);
    free(v);
  }
  weft_http_server_stop(srv);
  /* Completing the requests wrote no second entry. */
  ASSERT_EQ(weft_store_kv_set(inst->store, WEFT_COORD_SERVICE_PREFIX "svc", "{}", &err), WEFT_OK);
  struct weft_audit_entry *v = NULL;
  size_t n = 0;
  ASSERT_EQ(weft_audit_list(inst->store, 100, &v, &n, &err), WEFT_OK);
  size_t launches = 0;
  for (size_t i = 0; i < n; i++)
    launches += !strcmp(v[i].action, "POST /api/v1/jobs/http/hello/launch");
  weft_audit_entries_release(v, n);
  ASSERT_EQ(launches, N_AT_ONCE + ONE_BY_ONE);
  weft_instance_close(inst);
  return 0;
}

TEST_MAIN(TEST_ENTRY(decode_is_strict) TEST_ENTRY(bad_listen_address) TEST_ENTRY(serves_and_stops)
              TEST_ENTRY(reload_keeps_versions_in_use) TEST_ENTRY(launches_at_once_each_get_a_run)
                  TEST_ENTRY(launches_handed_over_are_audited_in_their_commit))
