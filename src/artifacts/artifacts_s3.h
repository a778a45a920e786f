/* artifacts_s3.h: what the two files of the S3 artifact store share: the
 * parsed store URL, credentials, and one signed, retried HTTP request. */
#ifndef WEFT_ARTIFACTS_ARTIFACTS_S3_H
#define WEFT_ARTIFACTS_ARTIFACTS_S3_H

#include <stddef.h>
#include <stdint.h>

#include "artifacts/artifacts.h"
#include "util/buf.h"

/* The store URL, "s3://BUCKET[/PREFIX][?k=v&...]", with the settings:
 *   endpoint=URL      default https://s3.REGION.amazonaws.com
 *   region=R          default $AWS_REGION, else us-east-1
 *   path_style=0|1    default 1 when an endpoint is given, else 0
 *   retries=N         attempts after the first for transient errors (4)
 *   timeout=SECONDS   connect timeout of each attempt (10)
 *   part_size=BYTES   multipart part size (16 MiB, at least 5 MiB)
 *   multipart_threshold=BYTES  above it a put is multipart (64 MiB) */
struct weft__s3_conf {
  char *bucket;
  char *prefix;   /* "" or ending in '/' */
  char *endpoint; /* scheme://host[:port], no trailing '/' */
  char *region;
  int path_style;
  int retries;
  long connect_timeout_s;
  int64_t part_size;
  int64_t multipart_threshold;
};

int weft__s3_conf_parse(const char *url, struct weft__s3_conf *c, weft_error *err);
void weft__s3_conf_release(struct weft__s3_conf *c);

/* Never printed: error messages name the access key's source, not its value. */
struct weft__s3_creds {
  char *access_key;
  char *secret;
  char *token; /* may be NULL */
};

/* From AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else
 * the [AWS_PROFILE or default] section of $AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials. */
int weft__s3_creds_load(struct weft__s3_creds *cr, weft_error *err);
void weft__s3_creds_release(struct weft__s3_creds *cr);

/* The request URL for store key (NULL: the bucket itself) with query (a
 * canonical query string: names sorted, values URI-encoded; may be NULL).
 * Path-style: ENDPOINT/BUCKET/PREFIXKEY; virtual-host: scheme://BUCKET.host/
 * PREFIXKEY. Caller frees. */
char *weft__s3_url(const struct weft__s3_conf *c, const char *key, const char *query);
/* AWS URI encoding: all but A-Za-z0-9-_.~ (and '/' when keep_slash). */
int weft__s3_uri_encode(struct weft_buf *b, const char *s, int keep_slash);

struct weft__s3 {
  struct weft__s3_conf conf;
  struct weft__s3_creds creds;
  void *curl; /* CURL *, reused so connections are kept alive */
};

/* One request. Inputs: method, key, query; a body from an fd range
 * (upload_fd >= 0) or memory (body); a download fd for a 2xx body. */
struct weft__s3_req {
  const char *method;
  const char *key;
  const char *query;
  int upload_fd;
  int64_t upload_off, upload_len;
  const char *body;
  size_t body_len;
  int download_fd;
  /* outputs */
  long status;
  struct weft_buf resp; /* the body when not downloaded (capped) */
  char etag[128];
  int64_t content_length;
};

#define WEFT__S3_REQ_INIT {NULL, NULL, NULL, -1, 0, 0, NULL, 0, -1, 0, WEFT_BUF_INIT, {0}, -1}

/* Performs r, retrying transient failures (network errors, 5xx, SlowDown)
 * with bounded exponential backoff. WEFT_OK when a response arrived (any
 * status: callers judge it); WEFT_EIO when none did. */
int weft__s3_perform(struct weft__s3 *s, struct weft__s3_req *r, weft_error *err);
void weft__s3_req_release(struct weft__s3_req *r);

/* An error from a non-2xx response: the S3 <Code> and <Message>, the HTTP
 * status and a hint for the usual causes. NoSuchKey gives WEFT_ENOTFOUND,
 * everything else WEFT_ESTORE. */
int weft__s3_fail(struct weft__s3 *s, const char *what, const struct weft__s3_req *r,
                  weft_error *err);

/* The text of the first element named name in an XML document, or NULL;
 * caller frees. A 200 response can still carry an <Error> (CompleteMultipart). */
char *weft__s3_xml_text(const char *xml, size_t len, const char *name);

/* ListObjectsV2 page: appends every <Key> under <Contents> to keys (strdup'd,
 * with strip_len leading bytes removed), sets *truncated and *next (caller
 * frees). */
int weft__s3_xml_list(const char *xml, size_t len, size_t strip_len, char ***keys,
                      size_t *n, size_t *cap, int *truncated, char **next);

#endif
