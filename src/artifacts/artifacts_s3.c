/* artifacts_s3.c: the S3 artifact store (AWS S3, MinIO, Ceph, s3rver): one
 * object per key under s3://BUCKET/PREFIX/, spoken through libcurl.
 *
 * Atomicity comes from S3 itself: a PUT replaces an object whole or not at
 * all, and a multipart upload becomes visible only when CompleteMultipart-
 * Upload succeeds (an aborted one leaves the old object), so no temporary
 * keys are needed. Bodies are streamed: puts read the file range by range
 * (pread, so a retried part re-reads its own range), gets write to a
 * temporary file beside the destination that is renamed into place, so
 * memory stays bounded whatever the object's size. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/artifacts_int.h"
#include "artifacts/artifacts_s3.h"
#include "util/buf.h"
#include "util/str.h"

struct s3_artifacts {
  struct weft_artifacts base; /* first: the wrappers see only this */
  struct weft__s3 s;
};

#define S3(a) (&((struct s3_artifacts *)(a))->s)

static int s3_ok(const struct weft__s3_req *r) { return r->status >= 200 && r->status < 300; }

/* ---- open / close ----------------------------------------------------------------- */

static void s3_close(struct weft_artifacts *a) {
  struct weft__s3 *s = S3(a);
  if (s->curl) curl_easy_cleanup(s->curl);
  s->curl = NULL;
  weft__s3_creds_release(&s->creds);
  weft__s3_conf_release(&s->conf);
}

/* A one-key list of the bucket: a missing bucket, bad credentials or an
 * unreachable endpoint are reported when the store opens, not at the first
 * output, and (unlike HEAD) the answer carries S3's error code. */
static int check_bucket(struct weft__s3 *s, weft_error *err) {
  struct weft__s3_req r = WEFT__S3_REQ_INIT;
  struct weft_buf q = WEFT_BUF_INIT;
  int rc = weft_buf_adds(&q, "list-type=2&max-keys=1&prefix=");
  if (!rc) rc = weft__s3_uri_encode(&q, s->conf.prefix, 0);
  if (rc) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  r.method = "GET";
  r.query = q.ptr;
  if (!rc) rc = weft__s3_perform(s, &r, err);
  if (!rc && !s3_ok(&r)) rc = weft__s3_fail(s, "open (list bucket)", &r, err);
  weft__s3_req_release(&r);
  weft_buf_release(&q);
  return rc;
}

static int s3_open(struct weft_artifacts *a, const char *url, weft_error *err) {
  struct weft__s3 *s = S3(a);
  int rc = weft__s3_conf_parse(url, &s->conf, err);
  if (!rc) rc = weft__s3_creds_load(&s->creds, err);
  if (!rc && !(s->curl = curl_easy_init()))
    rc = weft_error_set(err, WEFT_ENOMEM, "s3: cannot create a libcurl handle");
  if (!rc) rc = check_bucket(s, err);
  if (rc) s3_close(a);
  return rc;
}

/* ---- put ------------------------------------------------------------------------------- */

static int put_single(struct weft__s3 *s, const char *key, int fd, int64_t size,
                      weft_error *err) {
  struct weft__s3_req r = WEFT__S3_REQ_INIT;
  r.method = "PUT";
  r.key = key;
  r.upload_fd = fd;
  r.upload_len = size;
  int rc = weft__s3_perform(s, &r, err);
  if (!rc && !s3_ok(&r)) rc = weft__s3_fail(s, "put", &r, err);
  weft__s3_req_release(&r);
  return rc;
}

/* A request on key with query "NAME=VALUE" (value URI-encoded). */
static int query1(struct weft_buf *q, const char *name, const char *value) {
  weft_buf_reset(q);
  int rc = weft_buf_addf(q, "%s=", name);
  return rc ? rc : weft__s3_uri_encode(q, value, 0);
}

static void abort_multipart(struct weft__s3 *s, const char *key, const char *upload_id) {
  struct weft_buf q = WEFT_BUF_INIT;
  struct weft__s3_req r = WEFT__S3_REQ_INIT;
  weft_error ignored = WEFT_ERROR_INIT;
  r.method = "DELETE";
  r.key = key;
  if (!query1(&q, "uploadId", upload_id)) {
    r.query = q.ptr;
    weft__s3_perform(s, &r, &ignored); /* best effort: the put has failed already */
  }
  weft__s3_req_release(&r);
  weft_buf_release(&q);
}

/* Create, upload part_size parts from the file, complete; any failure
 * aborts the upload so S3 drops the parts and the old object stays. */
static int put_multipart(struct weft__s3 *s, const char *key, int fd, int64_t size,
                         weft_error *err) {
  struct weft_buf q = WEFT_BUF_INIT, done_xml = WEFT_BUF_INIT;
  struct weft__s3_req r = WEFT__S3_REQ_INIT;
  char *upload_id = NULL, *code = NULL;
  r.method = "POST";
  r.key = key;
  r.query = "uploads=";
  r.body = "";
  int rc = weft__s3_perform(s, &r, err);
  if (!rc && !s3_ok(&r)) rc = weft__s3_fail(s, "put (create multipart upload)", &r, err);
  if (!rc && !(upload_id = weft__s3_xml_text(r.resp.ptr, r.resp.len, "UploadId")))
    rc = weft_error_set(err, WEFT_ESTORE, "s3 put %s: no UploadId in the answer", key);
  if (!rc) rc = weft_buf_adds(&done_xml, "<CompleteMultipartUpload>");
  int64_t part = 1;
  for (int64_t off = 0; !rc && off < size; off += s->conf.part_size, part++) {
    weft__s3_req_release(&r);
    struct weft__s3_req pr = WEFT__S3_REQ_INIT;
    r = pr;
    /* names sorted: libcurl 7.88 signs the query as written */
    weft_buf_reset(&q);
    rc = weft_buf_addf(&q, "partNumber=%lld&uploadId=", (long long)part);
    if (!rc) rc = weft__s3_uri_encode(&q, upload_id, 0);
    if (rc) break;
    r.method = "PUT";
    r.key = key;
    r.query = q.ptr;
    r.upload_fd = fd;
    r.upload_off = off;
    r.upload_len = size - off < s->conf.part_size ? size - off : s->conf.part_size;
    if ((rc = weft__s3_perform(s, &r, err))) break;
    if (!s3_ok(&r)) {
      rc = weft__s3_fail(s, "put (upload part)", &r, err);
      break;
    }
    if (!r.etag[0]) {
      rc = weft_error_set(err, WEFT_ESTORE, "s3 put %s: part %lld came back without an ETag",
                          key, (long long)part);
      break;
    }
    rc = weft_buf_addf(&done_xml, "<Part><PartNumber>%lld</PartNumber><ETag>%s</ETag></Part>",
                       (long long)part, r.etag);
  }
  if (!rc) rc = weft_buf_adds(&done_xml, "</CompleteMultipartUpload>");
  if (!rc) rc = query1(&q, "uploadId", upload_id);
  if (!rc) {
    weft__s3_req_release(&r);
    struct weft__s3_req cr = WEFT__S3_REQ_INIT;
    r = cr;
    r.method = "POST";
    r.key = key;
    r.query = q.ptr;
    r.body = done_xml.ptr;
    r.body_len = done_xml.len;
    rc = weft__s3_perform(s, &r, err);
    /* a 200 may still carry an <Error>: S3 sends headers before it is done */
    if (!rc && s3_ok(&r) && (code = weft__s3_xml_text(r.resp.ptr, r.resp.len, "Code")))
      r.status = 500;
    if (!rc && !s3_ok(&r)) rc = weft__s3_fail(s, "put (complete multipart upload)", &r, err);
  }
  if (rc && upload_id) abort_multipart(s, key, upload_id);
  free(code);
  free(upload_id);
  weft__s3_req_release(&r);
  weft_buf_release(&q);
  weft_buf_release(&done_xml);
  return rc;
}

static int s3_put(struct weft_artifacts *a, const char *key, const char *local_path,
                  weft_error *err) {
  struct weft__s3 *s = S3(a);
  struct stat st;
  int rc = WEFT_OK;
  int fd = open(local_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st)) {
    rc = weft_error_set(err, errno == ENOENT ? WEFT_ENOTFOUND : WEFT_EIO,
                        "artifact put %s: %s: %s", key, local_path, strerror(errno));
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = weft_error_set(err, WEFT_EINVALID, "artifact put %s: %s is not a regular file", key,
                        local_path);
    goto done;
  }
  if (st.st_size > s->conf.multipart_threshold)
    rc = put_multipart(s, key, fd, st.st_size, err);
  else
    rc = put_single(s, key, fd, st.st_size, err);
done:
  if (fd >= 0) close(fd);
  return rc;
}

/* ---- get / head / delete ---------------------------------------------------------------- */

static int s3_get(struct weft_artifacts *a, const char *key, const char *local_path,
                  weft_error *err) {
  struct weft__s3 *s = S3(a);
  struct weft__s3_req r = WEFT__S3_REQ_INIT;
  char *tmp = weft_str_printf("%s.weft-tmp.XXXXXX", local_path);
  int fd = -1, rc = WEFT_OK;
  if (!tmp) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if ((fd = mkstemp(tmp)) < 0) {
    rc = weft_error_set(err, WEFT_EIO, "artifact get %s: cannot create a file beside %s: %s",
                        key, local_path, strerror(errno));
    free(tmp);
    return rc;
  }
  r.method = "GET";
  r.key = key;
  r.download_fd = fd;
  rc = weft__s3_perform(s, &r, err);
  if (!rc && !s3_ok(&r)) rc = weft__s3_fail(s, "get", &r, err);
  if (!rc && r.content_length >= 0) {
    off_t end = lseek(fd, 0, SEEK_END);
    if (end != (off_t)r.content_length)
      rc = weft_error_set(err, WEFT_EIO, "artifact get %s: got %lld of %lld bytes", key,
                          (long long)end, (long long)r.content_length);
  }
  /* read-only, like the filesystem store's: see artifacts.h */
  if (!rc && (fchmod(fd, 0444) || close(fd))) {
    fd = -1;
    rc = weft_error_set(err, WEFT_EIO, "artifact get %s: %s: %s", key, tmp, strerror(errno));
  } else if (!rc) {
    fd = -1;
    if (rename(tmp, local_path))
      rc = weft_error_set(err, WEFT_EIO, "artifact get %s: rename to %s: %s", key, local_path,
                          strerror(errno));
  }
  if (fd >= 0) close(fd);
  if (rc) unlink(tmp);
  free(tmp);
  weft__s3_req_release(&r);
  return rc;
}

static int s3_head(struct weft_artifacts *a, const char *key, int *exists, int64_t *size,
                   weft_error *err) {
  struct weft__s3 *s = S3(a);
  struct weft__s3_req r = WEFT__S3_REQ_INIT;
  r.method = "HEAD";
  r.key = key;
  int rc = weft__s3_perform(s, &r, err);
  if (!rc && r.status == 404) {
    *exists = 0; /* HEAD answers carry no body: a gone bucket looks the same */
  } else if (!rc && s3_ok(&r)) {
    *exists = 1;
    *size = r.content_length < 0 ? 0 : r.content_length;
  } else if (!rc) {
    rc = weft__s3_fail(s, "head", &r, err);
  }
  weft__s3_req_release(&r);
  return rc;
}

static int s3_delete(struct weft_artifacts *a, const char *key, weft_error *err) {
  struct weft__s3 *s = S3(a);
  struct weft__s3_req r = WEFT__S3_REQ_INIT;
  r.method = "DELETE";
  r.key = key;
  int rc = weft__s3_perform(s, &r, err);
  if (!rc && !s3_ok(&r) && r.status != 404) rc = weft__s3_fail(s, "delete", &r, err);
  if (rc == WEFT_ENOTFOUND) rc = WEFT_OK; /* deleting an absent key is fine */
  weft__s3_req_release(&r);
  return rc;
}

/* ---- list ------------------------------------------------------------------------------------ */

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

/* ListObjectsV2, page by page (S3 sends at most 1,000 keys per answer). */
static int s3_list(struct weft_artifacts *a, const char *prefix,
                   struct weft_artifact_list *out, weft_error *err) {
  struct weft__s3 *s = S3(a);
  struct weft_buf q = WEFT_BUF_INIT, full = WEFT_BUF_INIT;
  char **keys = NULL, *token = NULL;
  size_t n = 0, cap = 0;
  int rc = weft_buf_addf(&full, "%s%s", s->conf.prefix, prefix);
  for (int truncated = 1; !rc && truncated;) {
    struct weft__s3_req r = WEFT__S3_REQ_INIT;
    weft_buf_reset(&q);
    /* names sorted: libcurl 7.88 signs the query as written */
    if (token) {
      rc = weft_buf_adds(&q, "continuation-token=");
      if (!rc) rc = weft__s3_uri_encode(&q, token, 0);
      if (!rc) rc = weft_buf_addc(&q, '&');
    }
    if (!rc) rc = weft_buf_adds(&q, "list-type=2&prefix=");
    if (!rc) rc = weft__s3_uri_encode(&q, full.ptr, 0);
    if (rc) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    r.method = "GET";
    r.query = q.ptr;
    rc = weft__s3_perform(s, &r, err);
    if (!rc && !s3_ok(&r)) rc = weft__s3_fail(s, "list", &r, err);
    free(token);
    token = NULL;
    if (!rc && weft__s3_xml_list(r.resp.ptr, r.resp.len, strlen(s->conf.prefix), &keys, &n,
                                 &cap, &truncated, &token)) {
      rc = weft_error_set(err, WEFT_ESTORE, "s3 list s3://%s/%s: unreadable answer",
                          s->conf.bucket, full.ptr);
    }
    if (!rc && truncated && !token) {
      rc = weft_error_set(err, WEFT_ESTORE,
                          "s3 list s3://%s/%s: truncated answer without a continuation token",
                          s->conf.bucket, full.ptr);
    }
    weft__s3_req_release(&r);
  }
  if (!rc) {
    if (n) qsort(keys, n, sizeof *keys, cmp_str);
    out->v = keys;
    out->n = n;
    keys = NULL;
  }
  for (size_t i = 0; keys && i < n; i++) free(keys[i]);
  free(keys);
  free(token);
  weft_buf_release(&q);
  weft_buf_release(&full);
  return rc;
}

const struct weft_artifacts_methods weft__artifacts_s3_methods = {
    1,       "s3",   sizeof(struct s3_artifacts), s3_open, s3_close, s3_put, s3_get,
    s3_head, s3_list, s3_delete, NULL, /* put_bytes: through a scratch file */
    0, /* one curl handle */
};
