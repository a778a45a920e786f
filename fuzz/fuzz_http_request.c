/* fuzz_http_request.c: libFuzzer harness for HTTP request parsing end to
 * end: a real weft server (libmicrohttpd, the router, percent-decoding of
 * paths and query strings, JSON bodies, the guard) runs in this process on
 * 127.0.0.1, and each input becomes one request on a socket of its own.
 * Input: byte 0 picks the method; then NUL-separated TARGET \0 BODY \0
 * CONTENT-TYPE (empty: application/json). The instance is a scratch one
 * with a location `loc` holding a job `hello`; requests that would change
 * the location registry or start runs (launch, re-execute, backfill,
 * cancel) are sent as GETs, so one input cannot change what the next one
 * meets (and /bin/false stands in for coordinators all the same).
 *
 * What must hold: every request gets an answer with a status line, never
 * a 500, and nothing trips the sanitizers (the server's threads run here). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http/http.h"
#include "util/fs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct weft_http_server *srv;
static char dir[] = "/tmp/weft-fuzz-http-XXXXXX";
static int port;

static void cleanup(void) {
  weft_error err = WEFT_ERROR_INIT;
  weft_http_server_stop(srv);
  (void)weft_fs_remove_tree(dir, &err);
}

static void put(const char *rel, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f)) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  char path[256];
  weft_error err = WEFT_ERROR_INIT;
  if (!mkdtemp(dir)) abort();
  static const char *const sub[] = {"home", "loc", "loc/ops", "loc/jobs"};
  for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
    if (weft_fs_mkdirs(path, &err)) abort();
  }
  put("workspace.yaml", "locations:\n  - loc\n");
  put("loc/ops/ops.yaml", "say:\n  config:\n    times: {type: int, default: 1}\n  run: \"true\"\n");
  put("loc/jobs/hello.yaml", "ops:\n  hello: say\n");
  char ws[256], home[256];
  snprintf(ws, sizeof ws, "%s/workspace.yaml", dir);
  snprintf(home, sizeof home, "%s/home", dir);
  struct weft_http_options o = {.listen = "127.0.0.1:0", .ws_file = ws, .home = home,
                                .exe = "/bin/false", .auth = 0};
  if (weft_http_server_start(&o, &srv, &err)) {
    fprintf(stderr, "fuzz_http_request: cannot start the server: %s\n", err.msg);
    abort();
  }
  const char *url = weft_http_server_url(srv);
  port = atoi(strrchr(url, ':') + 1);
  atexit(cleanup);
  return 0;
}

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  const char *method = methods[data[0] % (sizeof methods / sizeof *methods)];
  char *buf = malloc(size);
  if (!buf) return 0;
  memcpy(buf, data + 1, size - 1);
  buf[size - 1] = '\0';
  const char *part[3] = {"", "", ""};
  size_t off = 0;
  for (int i = 0; i < 3 && off < size; i++) {
    part[i] = buf + off;
    off += strlen(buf + off) + 1;
  }
  const char *target = *part[0] ? part[0] : "/";
  /* Keep the registry as it is, and start no runs: a process per input
   * would swamp the machine (their requests are fuzzed as GETs: 405). */
  static const char *const kept[] = {"locations", "launch", "reexecute", "backfills", "cancel"};
  for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
    if (strcmp(method, "GET") && strcmp(method, "HEAD") && strstr(target, kept[i])) method = "GET";
  /* A target with line breaks or spaces is a different request line: keep
   * it to one (libmicrohttpd's parsing of those is fuzzed by the rest). */
  if (strpbrk(target, "\r\n \t") || strpbrk(part[2], "\r\n")) {
    free(buf);
    return 0;
  }
  size_t blen = strlen(part[1]);
  char head[10000];
  int n = snprintf(head, sizeof head,
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   method, target, port, *part[2] ? part[2] : "application/json", blen);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) ||
      send(fd, head, (size_t)n, MSG_NOSIGNAL) != n ||
      (blen && send(fd, part[1], blen, MSG_NOSIGNAL) != (ssize_t)blen))
    abort();
  char resp[64] = {0};
  size_t got = 0;
  ssize_t k;
  while (got < sizeof resp - 1 && (k = recv(fd, resp + got, sizeof resp - 1 - got, 0)) > 0)
    got += (size_t)k;
  char rest[4096];
  while (recv(fd, rest, sizeof rest, 0) > 0) {
  }
  close(fd);
  int status = 0;
  if (sscanf(resp, "HTTP/1.1 %d ", &status) != 1 || status < 200 || status > 599) {
    fprintf(stderr, "fuzz_http_request: %s %s: no answer (%s)\n", method, target, resp);
    abort();
  }
  if (status == 500) {
    fprintf(stderr, "fuzz_http_request: %s %s answered 500\n", method, target);
    abort();
  }
  free(buf);
  return 0;
}

/* OpenSSL's per-thread state (libcurl's and libpq's threads) is freed by
 * the library at its own exit, after LeakSanitizer looked. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libcrypto.so\n"; }
