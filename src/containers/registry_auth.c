/* registry_auth.c: registry credentials for pulls, from an auth file in the
 * Docker/Podman format ({"auths": {HOST: {"auth": base64(user:pass)}}}),
 * sent as the X-Registry-Auth header; never printed, never stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers/containers_int.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/str.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c) {
  const char *p = c ? strchr(b64, c) : NULL;
  return p ? (int)(p - b64) : -1;
}

/* Standard base64 (padding optional) into out; WEFT_EINVALID when malformed. */
static int b64_decode(const char *in, struct weft_buf *out) {
  unsigned acc = 0;
  int bits = 0;
  for (const char *p = in; *p && *p != '='; p++) {
    int v = b64_value(*p);
    if (v < 0) return WEFT_EINVALID;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (weft_buf_addc(out, (char)((acc >> bits) & 0xff))) return WEFT_ENOMEM;
    }
  }
  return WEFT_OK;
}

/* URL-safe base64 with padding, as the Docker API reads X-Registry-Auth. */
static int b64url_encode(const unsigned char *in, size_t n, struct weft_buf *out) {
  static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                 (i + 2 < n ? in[i + 2] : 0);
    char q[4] = {url[v >> 18 & 63], url[v >> 12 & 63], i + 1 < n ? url[v >> 6 & 63] : '=',
                 i + 2 < n ? url[v & 63] : '='};
    if (weft_buf_add(out, q, 4)) return WEFT_ENOMEM;
  }
  return WEFT_OK;
}

char *weft__ctr_registry_host(const char *image) {
  const char *slash = strchr(image, '/');
  if (slash) {
    size_t n = (size_t)(slash - image);
    if (memchr(image, '.', n) || memchr(image, ':', n) || (n == 9 && !strncmp(image, "localhost", 9)))
      return strndup(image, n);
  }
  return weft_str_dup("docker.io");
}

/* The auths entry for host: its name as is, or as a URL (Docker Hub has
 * several spellings). */
static json_t *find_auth(json_t *auths, const char *host) {
  static const char *const hub[] = {"https://index.docker.io/v1/", "index.docker.io",
                                    "docker.io", "registry-1.docker.io", NULL};
  json_t *a = json_object_get(auths, host);
  char key[300];
  if (!a) {
    snprintf(key, sizeof key, "https://%s", host);
    a = json_object_get(auths, key);
  }
  if (!a) {
    snprintf(key, sizeof key, "https://%s/v1/", host);
    a = json_object_get(auths, key);
  }
  for (size_t i = 0; !a && !strcmp(host, "docker.io") && hub[i]; i++)
    a = json_object_get(auths, hub[i]);
  return a;
}

int weft_ctr_registry_auth(const char *auth_file, const char *image, char **header,
                           weft_error *err) {
  struct weft_buf text = WEFT_BUF_INIT, plain = WEFT_BUF_INIT, out = WEFT_BUF_INIT;
  char *host = NULL, *doc_text = NULL;
  json_t *doc = NULL, *creds = NULL;
  int rc = WEFT_OK;
  *header = NULL;
  if (!auth_file || !weft_fs_exists(auth_file)) return WEFT_OK;
  if ((rc = weft_fs_read_file(auth_file, &text, err))) goto done;
  json_error_t je;
  doc = json_loadb(text.ptr ? text.ptr : "", text.len, 0, &je);
  if (!json_is_object(doc)) {
    rc = weft_error_set(err, WEFT_EINVALID, "%s: not a JSON object with \"auths\" (line %d)",
                        auth_file, je.line);
    goto done;
  }
  if (!(host = weft__ctr_registry_host(image))) goto nomem;
  json_t *a = find_auth(json_object_get(doc, "auths"), host);
  const char *enc = json_string_value(json_object_get(a, "auth"));
  if (!enc) goto done; /* no credentials for that registry: pull anonymously */
  if ((rc = b64_decode(enc, &plain)) || !plain.ptr || !memchr(plain.ptr, ':', plain.len)) {
    /* The file's name only: the credential itself is never printed. */
    rc = weft_error_set(err, WEFT_EINVALID, "%s: the auth of registry %s is not "
                        "base64(user:password)", auth_file, host);
    goto done;
  }
  char *colon = memchr(plain.ptr, ':', plain.len);
  char *user = strndup(plain.ptr, (size_t)(colon - plain.ptr));
  char *pass = strndup(colon + 1, plain.len - (size_t)(colon - plain.ptr) - 1);
  creds = user && pass ? json_pack("{s:s, s:s, s:s}", "username", user, "password", pass,
                                   "serveraddress", host)
                       : NULL;
  if (pass) memset(pass, 0, strlen(pass));
  free(user);
  free(pass);
  if (!creds || !(doc_text = json_dumps(creds, JSON_COMPACT))) goto nomem;
  if (b64url_encode((const unsigned char *)doc_text, strlen(doc_text), &out) ||
      !(*header = weft_buf_detach(&out, NULL)))
    goto nomem;
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
done:
  if (plain.ptr) memset(plain.ptr, 0, plain.len);
  if (doc_text) memset(doc_text, 0, strlen(doc_text));
  free(doc_text);
  free(host);
  json_decref(creds);
  json_decref(doc);
  weft_buf_release(&text);
  weft_buf_release(&plain);
  weft_buf_release(&out);
  return rc;
}
