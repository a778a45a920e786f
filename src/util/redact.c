/* redact.c: passwords out of URLs, conninfo strings and messages (redact.h).
 * A scanner over the text, not a URL parser: it must also work on messages
 * with a URL somewhere inside, and on malformed URLs that failed to parse. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/redact.h"

#define MASK "***"
#define PW_KEY "password="

/* Where the authority of the URL whose "://" is at p ends. */
static const char *authority_end(const char *p) {
  const char *s = p + 3;
  while (*s && !strchr("/?#", *s) && !isspace((unsigned char)*s) && *s != '\'' && *s != '"')
    s++;
  return s;
}

/* The password of the URL whose "://" is at p: *start and its length, 0
 * when there is none (no '@', or no ':' in the user part). */
static size_t userinfo_password(const char *p, const char **start) {
  const char *auth = p + 3, *end = authority_end(p), *at = NULL;
  for (const char *c = auth; c < end; c++)
    if (*c == '@') at = c;
  const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
  if (!colon) return 0;
  *start = colon + 1;
  return (size_t)(at - colon - 1);
}

/* The value after "password=" at v: quoted ('...' with \ escapes, as libpq
 * reads it) or up to white space, '&', ';' or a quote. */
static size_t pw_value_len(const char *v) {
  if (*v == '\'') {
    const char *s = v + 1;
    while (*s && *s != '\'') s += s[0] == '\\' && s[1] ? 2 : 1;
    return (size_t)(s - v) + (*s == '\'');
  }
  return strcspn(v, " \t\r\n&;'\"");
}

/* "password=" at p starts a key (not the end of "xpassword="). */
static int is_pw_key(const char *s, const char *p) {
  return !strncasecmp(p, PW_KEY, strlen(PW_KEY)) &&
         (p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'));
}

char *weft_redact(const char *s) {
  if (!s) return NULL;
  struct weft_buf b = WEFT_BUF_INIT;
  int rc = 0;
  for (const char *p = s; *p && !rc;) {
    const char *pw = NULL;
    size_t n;
    if (!strncmp(p, "://", 3) && (n = userinfo_password(p, &pw)) > 0) {
      rc = weft_buf_add(&b, p, (size_t)(pw - p));
      if (!rc) rc = weft_buf_adds(&b, MASK);
      p = pw + n;
    } else if (is_pw_key(s, p)) {
      const char *v = p + strlen(PW_KEY);
      rc = weft_buf_add(&b, p, strlen(PW_KEY));
      if (!rc) rc = weft_buf_adds(&b, MASK);
      p = v + pw_value_len(v);
    } else {
      rc = weft_buf_addc(&b, *p++);
    }
  }
  if (rc) {
    weft_buf_release(&b);
    return NULL;
  }
  return weft_buf_detach(&b, NULL);
}

/* Replaces each copy of the n bytes at secret in msg with MASK. */
static void scrub_span(char *msg, size_t cap, const char *secret, size_t n) {
  struct weft_buf b = WEFT_BUF_INIT;
  int rc = 0;
  if (!n || !cap) return;
  for (const char *m = msg; *m && !rc;) {
    if (!strncmp(m, secret, n)) {
      rc = weft_buf_adds(&b, MASK);
      m += n;
    } else {
      rc = weft_buf_addc(&b, *m++);
    }
  }
  if (rc) { /* out of memory: say nothing rather than the secret */
    strncpy(msg, MASK, cap - 1);
    msg[cap - 1] = '\0';
  } else {
    size_t len = b.len < cap - 1 ? b.len : cap - 1;
    memcpy(msg, b.ptr, len);
    msg[len] = '\0';
  }
  weft_buf_release(&b);
}

void weft_redact_secrets_of(const char *url, char *msg, size_t cap) {
  if (!url || !msg) return;
  for (const char *p = strstr(url, "://"); p; p = strstr(p + 3, "://")) {
    const char *pw = NULL;
    size_t n = userinfo_password(p, &pw);
    if (n) scrub_span(msg, cap, pw, n);
  }
  for (const char *p = url; *p; p++) {
    if (!is_pw_key(url, p)) continue;
    const char *v = p + strlen(PW_KEY);
    size_t n = pw_value_len(v);
    if (n) scrub_span(msg, cap, v, n);
    /* libpq may quote it without its quotes */
    if (n > 2 && *v == '\'') scrub_span(msg, cap, v + 1, n - 2);
  }
  /* The message may also hold the URL itself, password and all. */
  char *r = weft_redact(msg);
  if (r) {
    size_t len = strlen(r) < cap - 1 ? strlen(r) : cap - 1;
    memcpy(msg, r, len);
    msg[len] = '\0';
    free(r);
  }
}
