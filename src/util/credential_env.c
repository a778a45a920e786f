/* credential_env.c: the environment variables that carry weft's own
 * credentials, which no user code (steps, described .py files) inherits. */
#include <string.h>

#include "util/credential_env.h"

/* An op that needs one names it in env: ({from_env: VAR}). */
static const char *const credential_vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "PGPASSWORD",        "WEFT_SECRET_KEY",       "WEFT_BROKER_URL",   "WEFT_PG_PASSWORD",
    "WEFT_AMQP_PASSWORD", "WEFT_QUEUE_SIGNING_KEY_FILE", "PGPASSFILE", NULL};

int weft_env_is_credential(const char *entry) {
  for (const char *const *c = credential_vars; *c; c++) {
    size_t len = strlen(*c);
    if (!strncmp(entry, *c, len) && (entry[len] == '=' || entry[len] == '\0')) return 1;
  }
  return 0;
}
