/* cli_common.c: helpers every command shares: usage errors and help flags.
 * Keeping them here makes every command report usage errors the same way. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int weft_cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "weft %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see 'weft %s --help')\n", cmd);
  return WEFT_EXIT_USAGE;
}

int weft_cli_is_help(const char *arg) {
  return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}
