/* fuzz_http_headers.c: libFuzzer harness for what the HTTP guard reads from
 * clients (src/http/guard.c): Host against an allow-list, Origin/Referer
 * against a Host, Content-Type; and the token lifetime and user names of
 * engine/auth.h. Input: NUL-separated parts HOST \0 ORIGIN \0 CTYPE. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  /* The parts: up to three strings cut at NULs (a missing one is ""). */
  const char *part[3] = {"", "", ""};
  size_t off = 0;
  for (int i = 0; i < 3 && off <= size; i++) {
    part[i] = buf + off;
    off += strlen(buf + off) + 1;
  }
  static char e0[] = "127.0.0.1:3000", e1[] = "localhost:3000", e2[] = "[::1]:3000",
              e3[] = "weft.example.com", e4[] = "[fd00::1]";
  static char *hosts[] = {e0, e1, e2, e3, e4};
  struct http_guard g = {.hosts = hosts, .n_hosts = sizeof hosts / sizeof *hosts};
  int allowed = http__host_allowed(&g, part[0]);
  /* A name the list has no entry for is never allowed. */
  /* (Host names compare without regard to case.) */
  if (allowed && !strcasestr(part[0], "127.0.0.1") && !strcasestr(part[0], "localhost") &&
      !strcasestr(part[0], "::1") && !strcasestr(part[0], "weft.example.com") &&
      !strcasestr(part[0], "fd00"))
    abort();
  int same = http__same_authority(part[1], part[0]);
  /* Same origin means the URL's authority is exactly the Host. */
  if (same && (!*part[0] || !strcasestr(part[1], part[0]))) abort();
  (void)http__is_json_type(part[2]);
  int64_t ms;
  if (weft_auth_parse_ttl(part[0], &ms) == WEFT_OK && ms <= 0) abort();
  (void)weft_auth_user_name_ok(part[1]);
  free(buf);
  return 0;
}
