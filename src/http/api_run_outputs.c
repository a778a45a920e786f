/* api_run_outputs.c: GET /api/v1/runs/{id}/outputs/{step}/{output}: a
 * step's stored output, from whichever artifact store the instance uses
 * (filesystem or S3), streamed from a file descriptor with its
 * Content-Type guessed, a Content-Disposition naming it, and single byte
 * ranges (206, 416) for previews and resumed downloads. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/api_retention.h"
#include "util/fs.h"
#include "util/str.h"

/* The payload of the last step_output event of step's output (its last
 * attempt; a re-execution's reused output points at its run), or NULL. */
static json_t *find_output(struct weft_store *st, const char *run_id, const char *step,
                           const char *output, weft_error *err, int *rc) {
  struct weft_event_filter f = {.run_id = run_id, .step = step};
  struct weft_event_list l = {0};
  json_t *found = NULL;
  if ((*rc = weft_store_event_read(st, &f, &l, err))) return NULL;
  for (size_t i = 0; i < l.n; i++) {
    if (strcmp(l.v[i].type, "step_output")) continue;
    json_t *p = json_loads(l.v[i].payload, 0, NULL);
    const char *name = json_string_value(json_object_get(p, "output"));
    if (name && !strcmp(name, output)) {
      json_decref(found);
      found = p;
    } else {
      json_decref(p);
    }
  }
  weft_event_list_release(&l);
  return found;
}

static int has_ext(const char *name, const char *ext) {
  size_t n = strlen(name), e = strlen(ext);
  return n > e && !strcasecmp(name + n - e, ext);
}

/* A Content-Type from the output's declared type, its name, or its first
 * bytes: JSON, text, CSV and the common images; else octet-stream. */
static const char *guess_type(const char *type, const char *name, int fd) {
  static const struct { const char *ext, *mime; } by_name[] = {
      {".json", "application/json"}, {".csv", "text/csv; charset=utf-8"},
      {".tsv", "text/tab-separated-values; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"}, {".log", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"}, {".html", "text/plain; charset=utf-8"},
      {".png", "image/png"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
      {".gif", "image/gif"}, {".webp", "image/webp"}, {".svg", "image/svg+xml"},
      {".parquet", "application/vnd.apache.parquet"}, {".gz", "application/gzip"},
  };
  for (size_t i = 0; i < sizeof by_name / sizeof *by_name; i++)
    if (has_ext(name, by_name[i].ext)) return by_name[i].mime;
  unsigned char head[512];
  ssize_t n = pread(fd, head, sizeof head, 0);
  if (n >= 8 && !memcmp(head, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
  if (n >= 3 && !memcmp(head, "\xff\xd8\xff", 3)) return "image/jpeg";
  if (n >= 6 && (!memcmp(head, "GIF87a", 6) || !memcmp(head, "GIF89a", 6))) return "image/gif";
  if (n >= 12 && !memcmp(head, "RIFF", 4) && !memcmp(head + 8, "WEBP", 4)) return "image/webp";
  int text = n >= 0;
  for (ssize_t i = 0; text && i < n;) {
    if (head[i] == 0) text = 0;
    size_t len = http_utf8_seq(head + i, (size_t)(n - i));
    /* a sequence cut by the end of the sample is still text */
    if (len == 0 && (size_t)(n - i) >= 4) text = 0;
    i += len ? (ssize_t)len : 1;
  }
  if (!text) return "application/octet-stream";
  ssize_t k = 0;
  while (k < n && strchr(" \t\r\n", head[k])) k++;
  int json_type = type && (!strcmp(type, "json") || !strcmp(type, "any") ||
                           !strcmp(type, "dict") || !strcmp(type, "list"));
  if (json_type || (k < n && (head[k] == '{' || head[k] == '['))) return "application/json";
  return "text/plain; charset=utf-8";
}

/* "bytes=A-B", "bytes=A-", "bytes=-N" against size into [*from, *to]:
 * 1 a range, 0 no (or an unsupported multi-range) header: the whole, -1
 * unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to) {
  if (!h || strncmp(h, "bytes=", 6) || strchr(h, ',')) return 0;
  const char *p = h + 6;
  char *end;
  if (*p == '-') {
    unsigned long long n = strtoull(p + 1, &end, 10);
    if (end == p + 1 || *end) return 0;
    if (n == 0 || size == 0) return -1;
    *from = n >= size ? 0 : size - n;
    *to = size - 1;
    return 1;
  }
  unsigned long long a = strtoull(p, &end, 10), b;
  if (end == p || *end != '-') return 0;
  p = end + 1;
  if (!*p) {
    b = size ? size - 1 : 0;
  } else {
    b = strtoull(p, &end, 10);
    if (*end) return 0;
    if (b >= size) b = size ? size - 1 : 0;
  }
  if (a >= size || a > b) return -1;
  *from = a;
  *to = b;
  return 1;
}

/* The output's name as a quoted filename: no quotes, backslashes or
 * control characters. */
static void disposition(char *out, size_t size, const char *kind, const char *name) {
  char clean[200];
  size_t k = 0;
  for (const char *p = name; *p && k + 1 < sizeof clean; p++)
    clean[k++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) ? '_' : *p;
  clean[k] = '\0';
  snprintf(out, size, "%s; filename=\"%s\"", kind, clean);
}

enum MHD_Result http_api_run_output(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  const char *run_id = r->segs[3], *step = r->segs[5], *output = r->segs[6];
  const char *want = http_arg(r, "disposition");
  if (want && strcmp(want, "inline") && strcmp(want, "attachment"))
    return http_send_error(r, 400, json_pack("[{s:s, s:s}]", "field", "disposition", "message",
                                             "inline or attachment"),
                           "disposition must be inline or attachment");
  struct weft_run_row row = {0};
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_store_run_get(inst->store, run_id, &row, &err);
  weft_run_row_release(&row);
  if (rc == WEFT_ENOTFOUND)
    return http_send_error(r, 404, NULL, "no run '%s' (run ids are not abbreviated here)",
                           run_id);
  if (rc) return http_send_weft_error(r, &err);
  json_t *p = find_output(inst->store, run_id, step, output, &err, &rc);
  if (rc) return http_send_weft_error(r, &err);
  const char *key = json_string_value(json_object_get(p, "key"));
  if (!p || !key) {
    res = http_send_error(r, 404, NULL, p ? "step '%s' of run %s left output '%s' unwritten"
                                          : "step '%s' of run %s stored no output '%s'",
                          step, run_id, output);
    json_decref(p);
    return res;
  }
  /* A private file of this request: the store writes it (S3: downloads;
   * filesystem: links), it is unlinked once open, MHD streams the fd. */
  char *dir = weft_fs_join(inst->home, "tmp"), *path = NULL;
  int fd = -1;
  if (!dir || weft_fs_mkdirs(dir, &err) ||
      !(path = weft_str_printf("%s/output-%d-%p", dir, (int)getpid(), (void *)r)))
    goto fail;
  rc = weft_artifacts_get(inst->artifacts, key, path, &err);
  if (rc == WEFT_ENOTFOUND) {
    res = http_send_error(r, 410, NULL, "output '%s' of step '%s' of run %s is no longer "
                                        "stored (removed by retention?)", output, step, run_id);
    goto done;
  }
  if (rc) goto fail;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  unlink(path);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb)) {
    weft_error_set(&err, WEFT_EIO, "cannot read the output: %s", strerror(errno));
    goto fail;
  }
  uint64_t size = (uint64_t)sb.st_size, from = 0, to = size ? size - 1 : 0;
  const char *mime = guess_type(json_string_value(json_object_get(p, "type")), output, fd);
  int ranged = parse_range(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Range"), size,
                           &from, &to);
  char num[80], disp[256];
  struct MHD_Response *resp;
  if (ranged < 0) {
    close(fd);
    fd = -1;
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) goto done;
    snprintf(num, sizeof num, "bytes */%" PRIu64, size);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, num);
    res = http_queue(r, 416, resp);
    goto done;
  }
  uint64_t len = size ? to - from + 1 : 0;
  resp = len ? MHD_create_response_from_fd_at_offset64(len, fd, from)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!len) close(fd);
  if (!resp) {
    if (len) close(fd);
    fd = -1;
    goto done;
  }
  fd = -1; /* MHD closes it */
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
  disposition(disp, sizeof disp, want && !strcmp(want, "inline") ? "inline" : "attachment",
              output);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private, max-age=60");
  if (ranged > 0) {
    snprintf(num, sizeof num, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, size);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, num);
  }
  res = http_queue(r, ranged > 0 ? 206 : 200, resp);
  goto done;
fail:
  res = http_send_weft_error(r, &err);
done:
  if (fd >= 0) close(fd);
  if (path) unlink(path);
  free(path);
  free(dir);
  json_decref(p);
  return res;
}
