/* fuzz_http_auth.c: libFuzzer harness for the credentials a client sends
 * (src/http/credentials.c, session.c): an Authorization header (Bearer
 * tokens checked against a real SQLite store, Basic decoding) and a Cookie
 * header (the weft_session value, then checked as a session id against the
 * same store). Input: NUL-separated parts AUTHORIZATION \0 COOKIE \0 NAME
 * (the cookie name to look for; "" means weft_session).
 *
 * What must hold: nothing but the store's one real token and one real
 * session are ever accepted; a cookie value found is a piece of the header
 * and fits its buffer; Basic's user and password are the decoded bytes
 * around the first ':'. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/auth.h"
#include "engine/sessions.h"
#include "http/http_int.h"
#include "util/clock.h"
#include "util/fs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct weft_store *store;
static char dir[] = "/tmp/weft-fuzz-auth-XXXXXX";
static char *token;
static char session[WEFT_SESSION_ID_LEN + 1];

static void cleanup(void) {
  weft_error err = WEFT_ERROR_INIT;
  weft_store_close(store);
  (void)weft_fs_remove_tree(dir, &err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  weft_error err = WEFT_ERROR_INIT;
  char url[128], *id = NULL;
  enum weft_role role;
  if (!mkdtemp(dir)) abort();
  snprintf(url, sizeof url, "sqlite:%s/weft.db", dir);
  if (weft_store_open(url, &store, &err) ||
      weft_auth_user_add(store, "fuzz", WEFT_ROLE_VIEWER, "fuzz-password", &err) ||
      weft_auth_token_create(store, WEFT_ROLE_VIEWER, 0, &token, &id, &err) ||
      weft_session_login(store, "fuzz", "fuzz-password", weft_clock_wall_ms(), WEFT_SESSION_TTL_MS,
                         session, &role, &err)) {
    fprintf(stderr, "fuzz_http_auth: cannot set up the store: %s\n", err.msg);
    abort();
  }
  free(id);
  atexit(cleanup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  const char *part[3] = {"", "", ""};
  size_t off = 0;
  for (int i = 0; i < 3 && off <= size; i++) {
    part[i] = buf + off;
    off += strlen(buf + off) + 1;
  }
  weft_error err = WEFT_ERROR_INIT;
  enum weft_role role;
  const char *auth = part[0];
  if (!strncmp(auth, "Bearer ", 7)) {
    int rc = weft_auth_token_check(store, auth + 7, weft_clock_wall_ms(), &role, &err);
    if (rc == WEFT_OK && strcmp(auth + 7, token)) abort();
    if (rc != WEFT_OK && rc != WEFT_ENOTFOUND) abort(); /* the store never fails here */
  } else if (!strncmp(auth, "Basic ", 6)) {
    char bin[1024];
    const char *user, *pw;
    if (http__basic_decode(auth + 6, bin, sizeof bin, &user, &pw)) {
      if (user != bin || pw != user + strlen(user) + 1 || strchr(user, ':')) abort();
      if (strlen(user) + 1 + strlen(pw) >= sizeof bin) abort();
    }
  }
  char value[WEFT_SESSION_ID_LEN + 2];
  const char *name = *part[2] ? part[2] : "weft_session";
  if (http__cookie_value(part[1], name, value, sizeof value)) {
    if (strlen(value) >= sizeof value || !strstr(part[1], value)) abort();
    char who[72];
    int rc = weft_session_check(store, value, weft_clock_wall_ms(), WEFT_SESSION_IDLE_MS, who,
                                sizeof who, &role, NULL, &err);
    if (rc == WEFT_OK && (strcmp(value, session) || strcmp(who, "fuzz"))) abort();
    if (rc != WEFT_OK && rc != WEFT_ENOTFOUND) abort();
  }
  free(buf);
  return 0;
}
