/* test_containers_engine.c: the container engine client: sizes, image
 * references and request bodies offline, then a real engine (Podman's
 * Docker API service) when WEFT_TEST_DOCKER_HOST names one (scripts/test). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "containers/containers.h"
#include "test.h"
#include "util/buf.h"

/* The engine tests: skipped (a pass with a note) without an engine. */
#define ENGINE_OR_SKIP()                                                        \
  const char *url = getenv("WEFT_TEST_DOCKER_HOST");                            \
  do {                                                                          \
    if (!url || !*url) {                                                        \
      fprintf(stderr, "# skipped: WEFT_TEST_DOCKER_HOST is not set\n");         \
      return 0;                                                                 \
    }                                                                           \
  } while (0)

static const char *test_image(void) {
  const char *img = getenv("WEFT_TEST_DOCKER_IMAGE");
  return img && *img ? img : "localhost/weft-test:busybox";
}

TEST(parse_and_format_bytes) {
  ASSERT_EQ(weft_ctr_parse_bytes("64Mi"), 64LL << 20);
  ASSERT_EQ(weft_ctr_parse_bytes("2Gi"), 2LL << 30);
  ASSERT_EQ(weft_ctr_parse_bytes("1.5Gi"), 3LL << 29);
  ASSERT_EQ(weft_ctr_parse_bytes("1G"), 1000000000LL);
  ASSERT_EQ(weft_ctr_parse_bytes("100k"), 100000LL);
  ASSERT_EQ(weft_ctr_parse_bytes("1024"), 1024LL);
  ASSERT_EQ(weft_ctr_parse_bytes("0"), -1);
  ASSERT_EQ(weft_ctr_parse_bytes("-5Mi"), -1);
  ASSERT_EQ(weft_ctr_parse_bytes("5 Mi"), -1);
  ASSERT_EQ(weft_ctr_parse_bytes("5MB"), -1);
  ASSERT_EQ(weft_ctr_parse_bytes(""), -1);
  ASSERT_EQ(weft_ctr_parse_bytes("99999999999Ti"), -1);
  char buf[32];
  weft_ctr_format_bytes(64LL << 20, buf, sizeof buf);
  ASSERT_STR_EQ(buf, "64 MiB");
  weft_ctr_format_bytes(2LL << 30, buf, sizeof buf);
  ASSERT_STR_EQ(buf, "2 GiB");
  weft_ctr_format_bytes(3LL << 29, buf, sizeof buf);
  ASSERT_STR_EQ(buf, "1.5 GiB");
  weft_ctr_format_bytes(512, buf, sizeof buf);
  ASSERT_STR_EQ(buf, "512 bytes");
  return 0;
}

TEST(image_references) {
  const char *why = NULL;
  static const char *const good[] = {
      "busybox", "python:3.12-slim", "localhost/weft-test:busybox",
      "ghcr.io/org/team/app:v1.2_3", "registry.local:5000/x/y",
      "docker.io/library/alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "my_app-2.x", NULL};
  for (size_t i = 0; good[i]; i++) {
    if (!weft_ctr_image_ref_ok(good[i], &why)) {
      fprintf(stderr, "# %s: %s\n", good[i], why);
      return 1;
    }
  }
  static const char *const bad[] = {"", "Upper/Case", "has space", "name:", "a//b", "-lead",
                                    "x@sha256:zz", "x:tag:more", "x:" "t@", NULL};
  for (size_t i = 0; bad[i]; i++) {
    if (weft_ctr_image_ref_ok(bad[i], &why)) {
      fprintf(stderr, "# '%s' was accepted\n", bad[i]);
      return 1;
    }
    ASSERT(why && *why);
  }
  return 0;
}

TEST(create_body) {
  char *cmd[] = {"/bin/sh", "-c", "echo hi", NULL};
  char *env[] = {"A=1", "WEFT_OP=x", NULL};
  char *labels[] = {"weft.run=r1", "team=a=b", NULL};
  struct weft_ctr_mount m[] = {{"/host/code", "/weft/code", 1}, {"vol", "/data", 0}};
  struct weft_ctr_spec s = {.name = "n", .image = "img:1", .entrypoint = cmd, .env = env,
                            .workdir = "/weft/code", .user = "1000:1000", .mounts = m,
                            .n_mounts = 2, .labels = labels, .network = "none", .cpus = 1.5,
                            .memory = 64LL << 20, .shm = 1LL << 30, .gpus = "device=0,2"};
  json_t *b = weft_ctr_create_body(&s);
  ASSERT(b);
  char *text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(b);
  ASSERT(text);
  ASSERT_CONTAINS(text, "\"Image\":\"img:1\"");
  ASSERT_CONTAINS(text, "\"Entrypoint\":[\"/bin/sh\",\"-c\",\"echo hi\"]");
  ASSERT_CONTAINS(text, "\"Env\":[\"A=1\",\"WEFT_OP=x\"]");
  ASSERT_CONTAINS(text, "\"Labels\":{\"team\":\"a=b\",\"weft.run\":\"r1\"}");
  ASSERT_CONTAINS(text, "\"Binds\":[\"/host/code:/weft/code:ro\",\"vol:/data\"]");
  ASSERT_CONTAINS(text, "\"NetworkMode\":\"none\"");
  ASSERT_CONTAINS(text, "\"Memory\":67108864");
  ASSERT_CONTAINS(text, "\"MemorySwap\":67108864");
  ASSERT_CONTAINS(text, "\"NanoCpus\":1500000000");
  ASSERT_CONTAINS(text, "\"ShmSize\":1073741824");
  ASSERT_CONTAINS(text, "\"DeviceRequests\":[{\"Capabilities\":[[\"gpu\"]],\"DeviceIDs\":[\"0\",\"2\"],\"Driver\":\"\"}]");
  ASSERT_CONTAINS(text, "\"User\":\"1000:1000\"");
  ASSERT(!strstr(text, "\"Cmd\""));
  free(text);
  s.gpus = "all";
  b = weft_ctr_create_body(&s);
  text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_CONTAINS(text, "\"Count\":-1");
  free(text);
  json_decref(b);
  s.gpus = "3";
  b = weft_ctr_create_body(&s);
  text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_CONTAINS(text, "\"Count\":3");
  free(text);
  json_decref(b);
  /* Podman's own API: the same spec, GPUs as CDI names */
  s.gpus = "2";
  b = weft_ctr_libpod_create_body(&s);
  ASSERT(b);
  text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(b);
  ASSERT(text);
  ASSERT_CONTAINS(text, "\"devices\":[{\"path\":\"nvidia.com/gpu=0\"},{\"path\":\"nvidia.com/gpu=1\"}]");
  ASSERT_CONTAINS(text, "\"image\":\"img:1\"");
  ASSERT_CONTAINS(text, "\"name\":\"n\"");
  ASSERT_CONTAINS(text, "\"entrypoint\":[\"/bin/sh\",\"-c\",\"echo hi\"]");
  ASSERT_CONTAINS(text, "\"env\":{\"A\":\"1\",\"WEFT_OP\":\"x\"}");
  ASSERT_CONTAINS(text, "\"labels\":{\"team\":\"a=b\",\"weft.run\":\"r1\"}");
  ASSERT_CONTAINS(text, "\"mounts\":[{\"destination\":\"/weft/code\",\"options\":[\"ro\"],"
                        "\"source\":\"/host/code\",\"type\":\"bind\"}]");
  ASSERT_CONTAINS(text, "\"volumes\":[{\"Dest\":\"/data\",\"Name\":\"vol\",\"Options\":[]}]");
  ASSERT_CONTAINS(text, "\"netns\":{\"nsmode\":\"none\"}");
  ASSERT_CONTAINS(text, "\"resource_limits\":{\"cpu\":{\"period\":100000,\"quota\":150000},"
                        "\"memory\":{\"limit\":67108864,\"swap\":67108864}}");
  ASSERT_CONTAINS(text, "\"shm_size\":1073741824");
  ASSERT_CONTAINS(text, "\"user\":\"1000:1000\"");
  ASSERT_CONTAINS(text, "\"work_dir\":\"/weft/code\"");
  ASSERT(!strstr(text, "\"command\""));
  free(text);
  s.gpus = "all";
  s.network = "weftnet";
  b = weft_ctr_libpod_create_body(&s);
  text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_CONTAINS(text, "\"devices\":[{\"path\":\"nvidia.com/gpu=all\"}]");
  ASSERT_CONTAINS(text, "\"networks\":{\"weftnet\":{}}");
  free(text);
  json_decref(b);
  s.gpus = "device=1,3";
  b = weft_ctr_libpod_create_body(&s);
  text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_CONTAINS(text, "\"devices\":[{\"path\":\"nvidia.com/gpu=1\"},{\"path\":\"nvidia.com/gpu=3\"}]");
  free(text);
  json_decref(b);
  s.gpus = "device=1";  /* GPU 1, not one GPU */
  b = weft_ctr_libpod_create_body(&s);
  text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_CONTAINS(text, "\"devices\":[{\"path\":\"nvidia.com/gpu=1\"}]");
  free(text);
  json_decref(b);
  b = weft_ctr_create_body(&s);
  text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_CONTAINS(text, "\"DeviceIDs\":[\"1\"]");
  ASSERT(!strstr(text, "Count"));
  free(text);
  json_decref(b);
  const char *malformed[] = {",", "device=", "device=,", "0", "-1", "some"};
  for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
    s.gpus = malformed[i];
    ASSERT(!weft_ctr_libpod_create_body(&s));
    ASSERT(!weft_ctr_create_body(&s));
  }
  return 0;
}

/* A GPU request on an engine without GPUs fails loudly, never runs a GPU
 * step without one (Podman: CDI names it cannot resolve; Docker: no device
 * driver with the gpu capability). tests/t/t0083 runs one where a CDI
 * spec resolves them. */
TEST(engine_gpu_request_without_gpus) {
  ENGINE_OR_SKIP();
  struct weft_ctr_engine *e = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char *id = NULL;
  char *cmd[] = {"true", NULL};
  struct weft_ctr_spec s = {.image = test_image(), .entrypoint = cmd, .network = "none",
                            .gpus = "all"};
  ASSERT_EQ(weft_ctr_engine_open(url, &e, &err), WEFT_OK);
  int rc = weft_ctr_create(e, &s, &id, &err);
  if (!rc) {
    struct weft_ctr_log_sink sink = {NULL, NULL, -1, 50, NULL};
    rc = weft_ctr_attach_start(e, id, &sink, &err);
    weft_error ignored = WEFT_ERROR_INIT;
    weft_ctr_remove(e, id, &ignored);
  }
  ASSERT(rc != WEFT_OK);
  ASSERT_CONTAINS(err.msg, "gpu");
  free(id);
  weft_ctr_engine_free(e);
  return 0;
}

/* Decodes URL-safe base64 (test helper). */
static char *b64url_decode(const char *in) {
  static const char *url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t n = strlen(in), o = 0;
  char *out = calloc(n + 1, 1);
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; out && i < n && in[i] != '='; i++) {
    const char *p = strchr(url, in[i]);
    if (!p) {
      free(out);
      return NULL;
    }
    acc = (acc << 6) | (unsigned)(p - url);
    if ((bits += 6) >= 8) out[o++] = (char)((acc >> (bits -= 8)) & 0xff);
  }
  return out;
}

TEST(registry_credentials) {
  char dir[] = "/tmp/weft-auth-XXXXXX";
  ASSERT(mkdtemp(dir));
  char file[64];
  snprintf(file, sizeof file, "%s/auth.json", dir);
  /* me:s3cret and hub:pw, base64 */
  FILE *f = fopen(file, "w");
  ASSERT(f);
  fputs("{\"auths\": {\"ghcr.io\": {\"auth\": \"bWU6czNjcmV0\"},"
        " \"https://index.docker.io/v1/\": {\"auth\": \"aHViOnB3\"},"
        " \"bad.example\": {\"auth\": \"bm8tY29sb24=\"}}}", f);
  fclose(f);
  weft_error err = WEFT_ERROR_INIT;
  char *h = NULL;
  ASSERT_EQ(weft_ctr_registry_auth(file, "ghcr.io/acme/app:1", &h, &err), WEFT_OK);
  char *json = b64url_decode(h);
  ASSERT_STR_EQ(json, "{\"username\":\"me\",\"password\":\"s3cret\",\"serveraddress\":\"ghcr.io\"}");
  free(json);
  free(h);
  ASSERT_EQ(weft_ctr_registry_auth(file, "python:3.12-slim", &h, &err), WEFT_OK);
  json = b64url_decode(h);
  ASSERT_CONTAINS(json, "\"username\":\"hub\"");
  ASSERT_CONTAINS(json, "\"serveraddress\":\"docker.io\"");
  free(json);
  free(h);
  ASSERT_EQ(weft_ctr_registry_auth(file, "quay.io/x/y", &h, &err), WEFT_OK);
  ASSERT(!h); /* none for that registry: anonymous */
  ASSERT_EQ(weft_ctr_registry_auth(file, "bad.example/x", &h, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "the auth of registry bad.example is not base64(user:password)");
  ASSERT(!strstr(err.msg, "no-colon"));
  ASSERT_EQ(weft_ctr_registry_auth("/nonexistent/auth.json", "ghcr.io/a", &h, &err), WEFT_OK);
  ASSERT(!h);
  char *host = weft__ctr_registry_host("localhost:5000/a/b:1");
  ASSERT_STR_EQ(host, "localhost:5000");
  free(host);
  host = weft__ctr_registry_host("library/busybox");
  ASSERT_STR_EQ(host, "docker.io");
  free(host);
  /* Against the engine: the header goes out, the secret never comes back. */
  const char *url = getenv("WEFT_TEST_DOCKER_HOST");
  if (url && *url) {
    f = fopen(file, "w");
    fputs("{\"auths\": {\"localhost\": {\"auth\": \"bWU6czNjcmV0\"}}}", f);
    fclose(f);
    struct weft_ctr_engine *e = NULL;
    ASSERT_EQ(weft_ctr_engine_open(url, &e, &err), WEFT_OK);
    ASSERT_EQ(weft_ctr_engine_set_auth_file(e, file), WEFT_OK);
    ASSERT(weft_ctr_image_pull(e, "localhost/weft-no-such-image:1", &err) != WEFT_OK);
    ASSERT_CONTAINS(err.msg, "pulling image 'localhost/weft-no-such-image:1'");
    ASSERT(!strstr(err.msg, "s3cret"));
    weft_ctr_engine_free(e);
  }
  unlink(file);
  rmdir(dir);
  return 0;
}

TEST(no_engine_says_so) {
  struct weft_ctr_engine *e = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_ctr_engine_open("tcp://127.0.0.1:2375", &e, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "must be unix:///PATH");
  /* A socket nobody listens on: bound, never listen()ed, so connect is refused. */
  char path[] = "/tmp/weft-noengine-XXXXXX";
  int tmpfd = mkstemp(path);
  ASSERT(tmpfd >= 0);
  close(tmpfd);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  char url[200], want[300];
  snprintf(url, sizeof url, "unix://%s", path);
  ASSERT_EQ(weft_ctr_engine_open(url, &e, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_ping(e, NULL, &err), WEFT_EIO);
  snprintf(want, sizeof want,
           "no container engine at %s: connection refused; start 'podman system service' "
           "or Docker", url);
  ASSERT_STR_EQ(err.msg, want);
  weft_ctr_engine_free(e);
  close(fd);
  unlink(path);
  /* No socket at all. */
  ASSERT_EQ(weft_ctr_engine_open("unix:///nonexistent/weft.sock", &e, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_ping(e, NULL, &err), WEFT_EIO);
  ASSERT_STR_EQ(err.msg, "no container engine at unix:///nonexistent/weft.sock: no such file "
                         "or directory; start 'podman system service' or Docker");
  weft_ctr_engine_free(e);
  return 0;
}

TEST(engine_version_and_images) {
  ENGINE_OR_SKIP();
  struct weft_ctr_engine *e = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char *version = NULL;
  struct weft_ctr_image img = {0};
  ASSERT_EQ(weft_ctr_engine_open(url, &e, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_ping(e, &version, &err), WEFT_OK);
  ASSERT_CONTAINS(version, "Engine");
  free(version);
  ASSERT_EQ(weft_ctr_image_inspect(e, test_image(), &img, &err), WEFT_OK);
  ASSERT(!strncmp(img.id, "sha256:", 7));
  ASSERT_CONTAINS(img.digest, "sha256:");
  weft_ctr_image_release(&img);
  ASSERT_EQ(weft_ctr_image_inspect(e, "localhost/weft-no-such-image:1", &img, &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "is not on the container engine");
  ASSERT_EQ(weft_ctr_image_ensure(e, "localhost/weft-no-such-image:1", WEFT_CTR_PULL_NEVER, &img,
                                  &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "containers.pull is never");
  ASSERT_EQ(weft_ctr_image_ensure(e, test_image(), WEFT_CTR_PULL_NEVER, &img, &err), WEFT_OK);
  weft_ctr_image_release(&img);
  weft_ctr_engine_free(e);
  return 0;
}

struct captured {
  struct weft_buf out, err;
  int ticks;
};

static int capture(void *data, int stream, const char *buf, size_t n) {
  struct captured *c = data;
  weft_buf_add(stream == 2 ? &c->err : &c->out, buf, n);
  return 0;
}

static int count_tick(void *data) {
  ((struct captured *)data)->ticks++;
  return 0;
}

/* One container's whole life: create, start, logs apart, exit code, remove. */
TEST(engine_container_lifecycle) {
  ENGINE_OR_SKIP();
  struct weft_ctr_engine *e = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char label[64], name[64], *id = NULL;
  snprintf(label, sizeof label, "weft.test=%d", (int)getpid());
  snprintf(name, sizeof name, "weft-unit-%d", (int)getpid());
  char *labels[] = {label, NULL};
  char *cmd[] = {"/bin/sh", "-c", "echo out $GREETING; echo err >&2; sleep 0.3; exit 7", NULL};
  char *env[] = {"GREETING=hello", NULL};
  struct weft_ctr_spec s = {.name = name, .image = test_image(), .entrypoint = cmd, .env = env,
                            .labels = labels, .network = "none", .memory = 32LL << 20};
  ASSERT_EQ(weft_ctr_engine_open(url, &e, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_create(e, &s, &id, &err), WEFT_OK);
  char *dup = NULL;
  ASSERT_EQ(weft_ctr_create(e, &s, &dup, &err), WEFT_ECONFLICT); /* the name is taken */
  json_t *list = NULL;
  ASSERT_EQ(weft_ctr_list(e, label, &list, &err), WEFT_OK);
  ASSERT_EQ(json_array_size(list), 1);
  ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(list, 0), "name")), name);
  json_decref(list);
  ASSERT_EQ(weft_ctr_start(e, id, &err), WEFT_OK);
  struct captured c = {WEFT_BUF_INIT, WEFT_BUF_INIT, 0};
  struct weft_ctr_log_sink sink = {capture, count_tick, -1, 50, &c};
  ASSERT_EQ(weft_ctr_logs(e, id, &sink, &err), WEFT_OK);
  ASSERT(c.out.ptr && c.err.ptr);
  ASSERT_EQ(c.out.len, strlen("out hello\n"));
  ASSERT(!memcmp(c.out.ptr, "out hello\n", c.out.len));
  ASSERT_EQ(c.err.len, 4);
  ASSERT(c.ticks >= 2); /* the sleep spans several 50 ms ticks */
  weft_buf_release(&c.out);
  weft_buf_release(&c.err);
  int code = -1;
  ASSERT_EQ(weft_ctr_wait(e, id, &code, &err), WEFT_OK);
  ASSERT_EQ(code, 7);
  struct weft_ctr_state st = {0};
  ASSERT_EQ(weft_ctr_inspect(e, id, &st, &err), WEFT_OK);
  ASSERT_EQ(st.exit_code, 7);
  ASSERT_EQ(st.running, 0);
  ASSERT_EQ(st.memory, 32LL << 20);
  weft_ctr_state_release(&st);
  ASSERT_EQ(weft_ctr_remove(e, id, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_remove(e, id, &err), WEFT_OK); /* gone already: fine */
  ASSERT_EQ(weft_ctr_inspect(e, id, &st, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_ctr_list(e, label, &list, &err), WEFT_OK);
  ASSERT_EQ(json_array_size(list), 0);
  json_decref(list);
  free(id);
  weft_ctr_engine_free(e);
  return 0;
}

/* attach_start: attached first, so the first line is never missed, and the
 * call returns when the container ends. */
TEST(engine_attach_start) {
  ENGINE_OR_SKIP();
  struct weft_ctr_engine *e = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char *id = NULL;
  char *cmd[] = {"/bin/sh", "-c", "echo first; echo second >&2; sleep 0.5; echo third; exit 4",
                 NULL};
  struct weft_ctr_spec s = {.image = test_image(), .entrypoint = cmd, .network = "none"};
  ASSERT_EQ(weft_ctr_engine_open(url, &e, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_create(e, &s, &id, &err), WEFT_OK);
  struct captured c = {WEFT_BUF_INIT, WEFT_BUF_INIT, 0};
  struct weft_ctr_log_sink sink = {capture, count_tick, -1, 50, &c};
  ASSERT_EQ(weft_ctr_attach_start(e, id, &sink, &err), WEFT_OK);
  ASSERT(c.out.ptr && c.err.ptr);
  ASSERT_EQ(c.out.len, strlen("first\nthird\n"));
  ASSERT(!memcmp(c.out.ptr, "first\nthird\n", c.out.len));
  ASSERT_EQ(c.err.len, strlen("second\n"));
  /* The stream ended with the container (its state may lag a moment:
   * the supervisor then waits, as here). */
  int code = -1;
  ASSERT_EQ(weft_ctr_wait(e, id, &code, &err), WEFT_OK);
  ASSERT_EQ(code, 4);
  weft_buf_release(&c.out);
  weft_buf_release(&c.err);
  ASSERT_EQ(weft_ctr_remove(e, id, &err), WEFT_OK);
  /* A container that cannot start: the start's error, not a hang. */
  char *bad[] = {"/no/such/program", NULL};
  struct weft_ctr_spec s2 = {.image = test_image(), .entrypoint = bad, .network = "none"};
  char *id2 = NULL;
  ASSERT_EQ(weft_ctr_create(e, &s2, &id2, &err), WEFT_OK);
  struct captured c2 = {WEFT_BUF_INIT, WEFT_BUF_INIT, 0};
  struct weft_ctr_log_sink sink2 = {capture, NULL, -1, 50, &c2};
  ASSERT(weft_ctr_attach_start(e, id2, &sink2, &err) != WEFT_OK);
  ASSERT_CONTAINS(err.msg, "starting the container");
  weft_buf_release(&c2.out);
  weft_buf_release(&c2.err);
  ASSERT_EQ(weft_ctr_remove(e, id2, &err), WEFT_OK);
  free(id);
  free(id2);
  weft_ctr_engine_free(e);
  return 0;
}

/* stop: SIGTERM, then SIGKILL after the grace; remove kills a running one. */
TEST(engine_stop_and_remove_running) {
  ENGINE_OR_SKIP();
  struct weft_ctr_engine *e = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char label[64], *a = NULL, *b = NULL;
  snprintf(label, sizeof label, "weft.test=stop-%d", (int)getpid());
  char *labels[] = {label, NULL};
  char *cmd[] = {"/bin/sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.1; done", NULL};
  struct weft_ctr_spec s = {.image = test_image(), .entrypoint = cmd, .labels = labels,
                            .network = "none"};
  ASSERT_EQ(weft_ctr_engine_open(url, &e, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_create(e, &s, &a, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_create(e, &s, &b, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_start(e, a, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_start(e, b, &err), WEFT_OK);
  usleep(300 * 1000);
  ASSERT_EQ(weft_ctr_stop(e, a, 5, &err), WEFT_OK);
  int code = -1;
  ASSERT_EQ(weft_ctr_wait(e, a, &code, &err), WEFT_OK);
  ASSERT_EQ(code, 42); /* the trap ran: SIGTERM came first */
  ASSERT_EQ(weft_ctr_remove(e, b, &err), WEFT_OK);
  ASSERT_EQ(weft_ctr_remove(e, a, &err), WEFT_OK);
  json_t *list = NULL;
  ASSERT_EQ(weft_ctr_list(e, label, &list, &err), WEFT_OK);
  ASSERT_EQ(json_array_size(list), 0);
  json_decref(list);
  free(a);
  free(b);
  weft_ctr_engine_free(e);
  return 0;
}

TEST(engine_bad_image_at_create) {
  ENGINE_OR_SKIP();
  struct weft_ctr_engine *e = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char *id = NULL;
  struct weft_ctr_spec s = {.image = "localhost/weft-no-such-image:1", .network = "none"};
  ASSERT_EQ(weft_ctr_engine_open(url, &e, &err), WEFT_OK);
  int rc = weft_ctr_create(e, &s, &id, &err);
  ASSERT(rc == WEFT_ENOTFOUND || rc == WEFT_EIO);
  ASSERT(!id);
  ASSERT_CONTAINS(err.msg, "creating a container of image 'localhost/weft-no-such-image:1'");
  weft_ctr_engine_free(e);
  return 0;
}

TEST_MAIN(TEST_ENTRY(parse_and_format_bytes) TEST_ENTRY(image_references) TEST_ENTRY(create_body)
              TEST_ENTRY(registry_credentials)
              TEST_ENTRY(no_engine_says_so) TEST_ENTRY(engine_version_and_images)
                  TEST_ENTRY(engine_container_lifecycle) TEST_ENTRY(engine_attach_start)
                      TEST_ENTRY(engine_stop_and_remove_running)
                          TEST_ENTRY(engine_bad_image_at_create)
                              TEST_ENTRY(engine_gpu_request_without_gpus))
