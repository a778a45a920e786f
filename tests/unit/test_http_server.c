/* test_http_server.c: the HTTP layer in process: strict percent-decoding,
 * the server's start (bad and taken addresses) and stop, answers over a
 * socket, and workspace versions kept alive across a reload. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "http/http_int.h"
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

TEST_MAIN(TEST_ENTRY(decode_is_strict) TEST_ENTRY(bad_listen_address) TEST_ENTRY(serves_and_stops)
              TEST_ENTRY(reload_keeps_versions_in_use))
