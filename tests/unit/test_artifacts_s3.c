/* test_artifacts_s3.c: the S3 store's own parts: its URL settings, request
 * URLs, credentials, XML, error messages, retries against a scripted fake
 * server (503 SlowDown, 403 SignatureDoesNotMatch, the signed request), and
 * virtual-host addressing against s3rver when WEFT_TEST_S3_URL is set. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "artifacts/artifacts_s3.h"
#include "test.h"
#include "util/fs.h"

TEST(conf_defaults) {
  struct weft__s3_conf c;
  weft_error err = WEFT_ERROR_INIT;
  unsetenv("AWS_REGION");
  unsetenv("AWS_DEFAULT_REGION");
  ASSERT_EQ(weft__s3_conf_parse("s3://my-bucket", &c, &err), WEFT_OK);
  ASSERT_STR_EQ(c.bucket, "my-bucket");
  ASSERT_STR_EQ(c.prefix, "");
  ASSERT_STR_EQ(c.region, "us-east-1");
  ASSERT_STR_EQ(c.endpoint, "https://s3.us-east-1.amazonaws.com");
  ASSERT_EQ(c.path_style, 0);
  ASSERT_EQ(c.part_size, 16 << 20);
  ASSERT_EQ(c.multipart_threshold, 64 << 20);
  weft__s3_conf_release(&c);
  setenv("AWS_REGION", "eu-west-3", 1);
  ASSERT_EQ(weft__s3_conf_parse("s3://b12/team/weft/?endpoint=http%3A//h%3A9000/&retries=0",
                                &c, &err),
            WEFT_OK);
  ASSERT_STR_EQ(c.prefix, "team/weft/");
  ASSERT_STR_EQ(c.region, "eu-west-3");
  ASSERT_STR_EQ(c.endpoint, "http://h:9000");
  ASSERT_EQ(c.path_style, 1); /* an endpoint of one's own: path-style */
  ASSERT_EQ(c.retries, 0);
  weft__s3_conf_release(&c);
  unsetenv("AWS_REGION");
  return 0;
}

TEST(conf_mistakes) {
  struct weft__s3_conf c;
  weft_error err = WEFT_ERROR_INIT;
  const char *bad[][2] = {
      {"s3://Bad_Bucket", "bad bucket name"},
      {"s3://ok-bucket?colour=red", "unknown setting 'colour'"},
      {"s3://ok-bucket?retries=many", "bad retries 'many'"},
      {"s3://ok-bucket?part_size=1024", "bad part_size"},
      {"s3://ok-bucket?endpoint=ftp://x", "bad endpoint"},
      {"s3://ok-bucket?path_style", "is not k=v"},
      {"s3://ok-bucket/a/../b", "path traversal"},
      {"s3://ok-bucket?region=%zz", "bad value"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ASSERT_EQ(weft__s3_conf_parse(bad[i][0], &c, &err), WEFT_EINVALID);
    ASSERT_CONTAINS(err.msg, bad[i][1]);
  }
  return 0;
}

TEST(urls) {
  struct weft__s3_conf c;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft__s3_conf_parse("s3://b12/pre?endpoint=http://h:9000", &c, &err), WEFT_OK);
  char *u = weft__s3_url(&c, "run/st ep/r\xc3\xa9+~", NULL);
  ASSERT_STR_EQ(u, "http://h:9000/b12/pre/run/st%20ep/r%C3%A9%2B~");
  free(u);
  u = weft__s3_url(&c, NULL, "list-type=2&prefix=pre%2F");
  ASSERT_STR_EQ(u, "http://h:9000/b12?list-type=2&prefix=pre%2F");
  free(u);
  c.path_style = 0;
  u = weft__s3_url(&c, "k", "uploads=");
  ASSERT_STR_EQ(u, "http://b12.h:9000/pre/k?uploads=");
  free(u);
  u = weft__s3_url(&c, NULL, NULL);
  ASSERT_STR_EQ(u, "http://b12.h:9000/");
  free(u);
  weft__s3_conf_release(&c);
  return 0;
}

TEST(credentials) {
  struct weft__s3_creds cr;
  weft_error err = WEFT_ERROR_INIT;
  setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
  setenv("AWS_SESSION_TOKEN", "tok", 1);
  ASSERT_EQ(weft__s3_creds_load(&cr, &err), WEFT_OK);
  ASSERT_STR_EQ(cr.access_key, "AKENV");
  ASSERT_STR_EQ(cr.token, "tok");
  weft__s3_creds_release(&cr);
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_SESSION_TOKEN");
  char path[] = "/tmp/weft-creds-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  const char *ini = "# comment\n[default]\naws_access_key_id = AKDEF\n"
                    "aws_secret_access_key = defsecret\n\n[ci]\n"
                    "aws_access_key_id=AKCI\r\naws_secret_access_key=cisecret\n";
  ASSERT_EQ(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
  close(fd);
  setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
  unsetenv("AWS_PROFILE");
  ASSERT_EQ(weft__s3_creds_load(&cr, &err), WEFT_OK);
  ASSERT_STR_EQ(cr.access_key, "AKDEF");
  ASSERT_STR_EQ(cr.secret, "defsecret");
  ASSERT(!cr.token);
  weft__s3_creds_release(&cr);
  setenv("AWS_PROFILE", "ci", 1);
  ASSERT_EQ(weft__s3_creds_load(&cr, &err), WEFT_OK);
  ASSERT_STR_EQ(cr.access_key, "AKCI");
  ASSERT_STR_EQ(cr.secret, "cisecret");
  weft__s3_creds_release(&cr);
  setenv("AWS_PROFILE", "nobody", 1);
  ASSERT_EQ(weft__s3_creds_load(&cr, &err), WEFT_EUSAGE);
  ASSERT_CONTAINS(err.msg, "no AWS credentials");
  ASSERT_CONTAINS(err.msg, "[nobody]");
  ASSERT(!strstr(err.msg, "defsecret") && !strstr(err.msg, "cisecret"));
  unlink(path);
  return 0;
}

TEST(xml) {
  const char *page =
      "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>a+b/c=</NextContinuationToken>"
      "<Contents><Key>p/r/s/o</Key><Size>1</Size></Contents>"
      "<Contents><Key>p/r/s/a&amp;b</Key></Contents><Contents><Key>x</Key></Contents>"
      "</ListBucketResult>";
  char **keys = NULL, *next = NULL;
  size_t n = 0, cap = 0;
  int truncated = 0;
  ASSERT_EQ(weft__s3_xml_list(page, strlen(page), 2, &keys, &n, &cap, &truncated, &next),
            WEFT_OK);
  ASSERT_EQ(n, 2); /* "x" is shorter than the prefix: not ours */
  ASSERT_STR_EQ(keys[0], "r/s/o");
  ASSERT_STR_EQ(keys[1], "r/s/a&b");
  ASSERT_EQ(truncated, 1);
  ASSERT_STR_EQ(next, "a+b/c=");
  for (size_t i = 0; i < n; i++) free(keys[i]);
  free(keys);
  free(next);
  ASSERT_EQ(weft__s3_xml_list("<Error/>", 8, 0, &keys, &n, &cap, &truncated, &next),
            WEFT_EINVALID);
  ASSERT_EQ(weft__s3_xml_list("<<<", 3, 0, &keys, &n, &cap, &truncated, &next), WEFT_EINVALID);
  /* an external entity is neither fetched nor expanded */
  const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY x SYSTEM "
                    "\"file:///etc/passwd\">]><Error><Code>&x;</Code></Error>";
  char *code = weft__s3_xml_text(xxe, strlen(xxe), "Code");
  ASSERT(!code || !strstr(code, "root:"));
  free(code);
  ASSERT(!weft__s3_xml_text("", 0, "Code"));
  return 0;
}

TEST(error_messages) {
  struct weft__s3 s = {0};
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft__s3_conf_parse("s3://b12/p", &s.conf, &err), WEFT_OK);
  struct weft__s3_req r = WEFT__S3_REQ_INIT;
  r.key = "r/s/o";
  r.status = 403;
  weft_buf_adds(&r.resp, "<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
                         "signature we calculated does not match</Message></Error>");
  ASSERT_EQ(weft__s3_fail(&s, "put", &r, &err), WEFT_ESTORE);
  ASSERT_CONTAINS(err.msg, "s3 put s3://b12/p/r/s/o: HTTP 403 SignatureDoesNotMatch: The "
                           "request signature");
  ASSERT_CONTAINS(err.msg, "check AWS_ACCESS_KEY_ID");
  weft_buf_reset(&r.resp);
  r.status = 404;
  weft_buf_adds(&r.resp, "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>");
  ASSERT_EQ(weft__s3_fail(&s, "get", &r, &err), WEFT_ENOTFOUND);
  weft_buf_reset(&r.resp);
  weft_buf_adds(&r.resp, "<Error><Code>NoSuchBucket</Code><Message>no</Message></Error>");
  ASSERT_EQ(weft__s3_fail(&s, "get", &r, &err), WEFT_ESTORE);
  ASSERT_CONTAINS(err.msg, "the bucket does not exist");
  weft__s3_req_release(&r);
  weft__s3_conf_release(&s.conf);
  return 0;
}

/* ---- a scripted fake server ------------------------------------------------------------ */

/* Serves one answer per connection from answers[] (then closes), writing
 * each request's head to log_path; returns the child's pid and the port.
 * An answer "---" closes the connection as soon as the client has said
 * anything (a request head or a TLS hello): a link lost mid-exchange. The
 * child gives up (exit by SIGALRM) after 20 s. */
static pid_t fake_server(const char *const *answers, size_t n, const char *log_path,
                         int *port) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 8) ||
      getsockname(ls, (struct sockaddr *)&a, &al))
    return -1;
  *port = ntohs(a.sin_port);
  fflush(NULL);
  pid_t pid = fork();
  if (pid) {
    close(ls);
    return pid;
  }
  FILE *log = fopen(log_path, "w");
  alarm(20);
  for (size_t i = 0; i < n; i++) {
    int c = accept(ls, NULL, NULL);
    if (c < 0) _exit(1);
    char req[8192];
    size_t got = 0;
    if (!strcmp(answers[i], "---")) {
      if (read(c, req, sizeof req) < 0) _exit(1);
      if (log) fprintf(log, "(dropped)\n----\n"), fflush(log);
      close(c);
      continue;
    }
    while (got < sizeof req - 1) {
      ssize_t k = read(c, req + got, sizeof req - 1 - got);
      if (k <= 0) break;
      got += (size_t)k;
      req[got] = 0;
      if (strstr(req, "\r\n\r\n")) break;
    }
    req[got] = 0;
    if (log) fprintf(log, "%s----\n", req), fflush(log);
    const char *body = answers[i];
    const char *status = strncmp(body, "503", 3) ? strncmp(body, "403", 3) ? "200 OK"
                                                                            : "403 Forbidden"
                                                 : "503 Slow Down";
    dprintf(c, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status,
            strlen(body + 3), body + 3);
    close(c);
  }
  _exit(0);
}

static const char list_ok[] =
    "200<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";

TEST(retries_slowdown) {
  const char *answers[] = {"503<Error><Code>SlowDown</Code><Message>slow</Message></Error>",
                           "503<Error><Code>SlowDown</Code><Message>slow</Message></Error>",
                           list_ok};
  int port = 0;
  char log[] = "/tmp/weft-fake-XXXXXX";
  close(mkstemp(log));
  pid_t pid = fake_server(answers, 3, log, &port);
  ASSERT(pid > 0);
  setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI", 1);
  char url[256];
  snprintf(url, sizeof url, "s3://b12/p?endpoint=http://127.0.0.1:%d&retries=3&region=eu-west-1",
           port);
  struct weft_artifacts *a = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_artifacts_open(url, &a, &err), WEFT_OK); /* the third answer is 200 */
  weft_artifacts_close(a);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_EQ(st, 0);
  struct weft_buf b = WEFT_BUF_INIT;
  ASSERT_EQ(weft_fs_read_file(log, &b, NULL), WEFT_OK);
  unlink(log);
  /* the request libcurl signed: SigV4 over the S3 headers; no secret on the wire */
  ASSERT_CONTAINS(b.ptr, "GET /b12?list-type=2&max-keys=1&prefix=p%2F HTTP/1.1");
  ASSERT_CONTAINS(b.ptr, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/");
  ASSERT_CONTAINS(b.ptr, "/eu-west-1/s3/aws4_request, SignedHeaders=host;"
                         "x-amz-content-sha256;x-amz-date, Signature=");
  ASSERT_CONTAINS(b.ptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  ASSERT(!strstr(b.ptr, "wJalrXUtnFEMI"));
  weft_buf_release(&b);
  return 0;
}

/* The link breaks before any answer, twice (a server restarting): the
 * third attempt gets the answer. */
TEST(retries_lost_connection) {
  const char *answers[] = {"---", "---", list_ok};
  int port = 0;
  char log[] = "/tmp/weft-fake-XXXXXX";
  close(mkstemp(log));
  pid_t pid = fake_server(answers, 3, log, &port);
  ASSERT(pid > 0);
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "S", 1);
  char url[256];
  snprintf(url, sizeof url, "s3://b12?endpoint=http://127.0.0.1:%d&retries=3", port);
  struct weft_artifacts *a = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_artifacts_open(url, &a, &err);
  if (rc) fprintf(stderr, "# %s\n", err.msg);
  ASSERT_EQ(rc, WEFT_OK);
  weft_artifacts_close(a);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_EQ(st, 0); /* all three connections came */
  unlink(log);
  return 0;
}

/* The link breaks during the TLS handshake on every attempt: each is
 * retried (a restart of a TLS endpoint looks like this), and the message
 * counts the attempts made. */
TEST(retries_lost_tls_handshake) {
  const char *answers[] = {"---", "---", "---"};
  int port = 0;
  char log[] = "/tmp/weft-fake-XXXXXX";
  close(mkstemp(log));
  pid_t pid = fake_server(answers, 3, log, &port);
  ASSERT(pid > 0);
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "S", 1);
  char url[256];
  snprintf(url, sizeof url, "s3://b12?endpoint=https://127.0.0.1:%d&retries=2", port);
  struct weft_artifacts *a = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_artifacts_open(url, &a, &err), WEFT_EIO);
  fprintf(stderr, "# %s\n", err.msg);
  ASSERT_CONTAINS(err.msg, "after 3 attempts");
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_EQ(st, 0); /* three handshakes were tried, not one */
  unlink(log);
  return 0;
}

TEST(wrong_secret) {
  const char *answers[] = {"403<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
                           "signature we calculated does not match the signature you "
                           "provided.</Message></Error>"};
  int port = 0;
  char log[] = "/tmp/weft-fake-XXXXXX";
  close(mkstemp(log));
  pid_t pid = fake_server(answers, 1, log, &port);
  ASSERT(pid > 0);
  setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-xyz", 1);
  char url[256];
  snprintf(url, sizeof url, "s3://b12?endpoint=http://127.0.0.1:%d&retries=3", port);
  struct weft_artifacts *a = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_artifacts_open(url, &a, &err), WEFT_ESTORE); /* 403 is not retried */
  ASSERT(!a);
  ASSERT_CONTAINS(err.msg, "HTTP 403 SignatureDoesNotMatch: The request signature");
  ASSERT_CONTAINS(err.msg, "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
  ASSERT(!strstr(err.msg, "wrong-secret-xyz"));
  waitpid(pid, NULL, 0);
  unlink(log);
  return 0;
}

TEST(unreachable) {
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "S", 1);
  struct weft_artifacts *a = NULL;
  weft_error err = WEFT_ERROR_INIT;
  time_t t0 = time(NULL);
  ASSERT_EQ(weft_artifacts_open("s3://b12?endpoint=http://127.0.0.1:1&retries=2", &a, &err),
            WEFT_EIO);
  ASSERT(time(NULL) - t0 < 5);
  ASSERT_CONTAINS(err.msg, "http://127.0.0.1:1");
  ASSERT_CONTAINS(err.msg, "after 3 attempts");
  return 0;
}

/* Virtual-host addressing against s3rver: scripts/s3-server starts it with
 * service endpoint "localhost", so BUCKET.s3.localhost names the bucket
 * (libcurl resolves *.localhost to the loopback address itself). */
TEST(virtual_host) {
  const char *env = getenv("WEFT_TEST_S3_URL");
  const char *ep = env ? strstr(env, "endpoint=http://127.0.0.1:") : NULL;
  if (!ep) {
    fprintf(stderr, "# skipped: WEFT_TEST_S3_URL is not set\n");
    return 0;
  }
  int port = atoi(ep + strlen("endpoint=http://127.0.0.1:"));
  char url[256], dir[] = "/tmp/weft-vh-XXXXXX", file[64], got[64];
  snprintf(url, sizeof url, "s3://weft/vhost-%ld?endpoint=http://s3.localhost:%d&path_style=0",
           (long)getpid(), port);
  ASSERT(mkdtemp(dir));
  snprintf(file, sizeof file, "%s/in", dir);
  snprintf(got, sizeof got, "%s/got", dir);
  ASSERT_EQ(weft_fs_write_atomic(file, "vhost", 5, 0, NULL), WEFT_OK);
  struct weft_artifacts *a = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_artifacts_open(url, &a, &err)) fprintf(stderr, "# %s\n", err.msg);
  ASSERT(a);
  ASSERT_EQ(weft_artifacts_put(a, "r/s/o", file, &err), WEFT_OK);
  ASSERT_EQ(weft_artifacts_get(a, "r/s/o", got, &err), WEFT_OK);
  struct weft_artifact_list l = {0};
  ASSERT_EQ(weft_artifacts_list(a, "", &l, &err), WEFT_OK);
  ASSERT_EQ(l.n, 1);
  ASSERT_STR_EQ(l.v[0], "r/s/o");
  weft_artifact_list_release(&l);
  weft_artifacts_close(a);
  weft_fs_remove_tree(dir, NULL);
  return 0;
}

TEST_MAIN(TEST_ENTRY(conf_defaults) TEST_ENTRY(conf_mistakes) TEST_ENTRY(urls)
              TEST_ENTRY(credentials) TEST_ENTRY(xml) TEST_ENTRY(error_messages)
              TEST_ENTRY(retries_slowdown) TEST_ENTRY(retries_lost_connection)
              TEST_ENTRY(retries_lost_tls_handshake) TEST_ENTRY(wrong_secret)
              TEST_ENTRY(unreachable) TEST_ENTRY(virtual_host))
