/* cli.h: the command table of the weft binary (git's builtin table).
 * Each cmd_*.c file implements one command group; main.c dispatches. */
#ifndef WEFT_CLI_CLI_H
#define WEFT_CLI_CLI_H

#include <stdio.h>

/* Exit codes shared by every command. */
enum {
  WEFT_EXIT_OK = 0,
  WEFT_EXIT_INVALID = 1, /* invalid input, or a run that failed */
  WEFT_EXIT_USAGE = 2    /* bad command line */
};

struct weft_cmd {
  const char *name;
  int (*fn)(int argc, char **argv); /* argv[0] is the command name */
  const char *summary;
};

/* The table main.c dispatches over (defined in main.c). */
extern const struct weft_cmd weft_cli_commands[];

int cmd_validate(int argc, char **argv);
int cmd_job(int argc, char **argv);

/* Shared helpers (cli_common.c). */
/* Prints "weft CMD: msg" to stderr and returns WEFT_EXIT_USAGE. */
int weft_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True when argv[i] is -h or --help. */
int weft_cli_is_help(const char *arg);

#endif
