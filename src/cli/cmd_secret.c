/* cmd_secret.c: `weft secret set|list|remove|rotate-key` and `weft variable
 * set|get|list|remove` (engine/secrets.h). A secret's value comes from
 * standard input or a file, never from argv (which `ps` shows); changes go
 * to the audit log by name, never with a value. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/audit.h"
#include "engine/engine.h"
#include "engine/secrets.h"
#include "util/buf.h"
#include "util/fs.h"

static const char secret_usage[] =
    "usage: weft secret set NAME [--file PATH]\n"
    "       weft secret list\n"
    "       weft secret remove NAME\n"
    "       weft secret rotate-key [--new-key-file PATH]\n"
    "\n"
    "Secrets are kept in the instance's storage, encrypted (XChaCha20-Poly1305,\n"
    "libsodium) with a key that is never stored there: WEFT_SECRET_KEY (64 hex\n"
    "digits) when set, else the key file (weft.yaml secrets.key_file, default\n"
    "$WEFT_HOME/secret.key, created with mode 0600 by the first set).\n"
    "set reads the value from standard input (one trailing newline dropped;\n"
    "typed without echo on a terminal) or, with --file, a file as it is.\n"
    "list shows names and when they changed, never values. rotate-key\n"
    "re-encrypts every secret with a new key (--new-key-file, else a random\n"
    "one) in one transaction, then makes it the key file.\n"
    "Ops use them as env: {TOKEN: {secret: NAME}} or secrets: [{name: NAME,\n"
    "file: true}] (docs/secrets.md); their values are masked as *** in logs.\n";

static const char variable_usage[] =
    "usage: weft variable set NAME [VALUE]\n"
    "       weft variable get NAME\n"
    "       weft variable list\n"
    "       weft variable remove NAME\n"
    "\n"
    "Plain settings kept in the instance's storage (not encrypted, not\n"
    "masked): set takes VALUE, or standard input without it (one trailing\n"
    "newline dropped). Ops use them as env: {REGION: {variable: NAME}};\n"
    "schedule templates as {{var.NAME}}.\n";

/* All of standard input (a terminal: one line, not echoed), less one
 * trailing newline. 0 with *out filled, or -1 after printing why. */
static int read_stdin(const char *cmd, struct weft_buf *out) {
  char chunk[4096];
  int tty = isatty(0);
  struct termios old, quiet;
  if (tty && !tcgetattr(0, &old)) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(0, TCSAFLUSH, &quiet);
    fprintf(stderr, "value: ");
  }
  size_t n;
  int rc = 0;
  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
    if (weft_buf_add(out, chunk, n)) rc = -1;
    if (tty && memchr(chunk, '\n', n)) break;
  }
  if (tty) {
    tcsetattr(0, TCSAFLUSH, &old);
    fputc('\n', stderr);
  }
  memset(chunk, 0, sizeof chunk);
  if (rc) fprintf(stderr, "weft %s: out of memory\n", cmd);
  if (out->len && out->ptr[out->len - 1] == '\n') out->ptr[--out->len] = '\0';
  if (out->len && out->ptr[out->len - 1] == '\r') out->ptr[--out->len] = '\0';
  return rc;
}

static void wipe(struct weft_buf *b) {
  if (b->cap) memset(b->ptr, 0, b->len);
  weft_buf_release(b);
}

static int secret_list(struct weft_instance *inst, weft_error *err) {
  struct weft_secret_info *v = NULL;
  size_t n = 0;
  int rc = weft_secret_list(inst->store, &v, &n, err);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    printf("%-32s ", v[i].name);
    weft_cli_print_time(v[i].updated_ms);
    putchar('\n');
  }
  if (!n) printf("no secrets (add one: weft secret set NAME < FILE)\n");
  weft_secret_infos_release(v, n);
  return WEFT_OK;
}

int cmd_secret(int argc, char **argv) {
  const char *sub = argc > 1 ? argv[1] : NULL, *name = NULL, *file = NULL, *new_key = NULL;
  struct weft_instance *inst = NULL;
  struct weft_secret_keyring kr = {0};
  struct weft_buf value = WEFT_BUF_INIT;
  weft_error err = WEFT_ERROR_INIT;
  int rc = WEFT_EXIT_INVALID, m;
  if (!sub || weft_cli_is_help(sub)) {
    fputs(secret_usage, sub ? stdout : stderr);
    return sub ? WEFT_EXIT_OK : WEFT_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++) {
    if ((m = weft_cli_flag_value("secret", argc, argv, &i, NULL, "--file", &file)) ||
        (m = weft_cli_flag_value("secret", argc, argv, &i, NULL, "--new-key-file", &new_key))) {
      if (m < 0) return WEFT_EXIT_USAGE;
    } else if (argv[i][0] == '-' || name) {
      return weft_cli_usage_error("secret", "unexpected argument '%s'%s", argv[i],
                                  name && !strcmp(sub, "set")
                                      ? " (a value never goes on the command line: pipe it "
                                        "to standard input or use --file)"
                                      : "");
    } else {
      name = argv[i];
    }
  }
  int set = !strcmp(sub, "set"), list = !strcmp(sub, "list"), remove = !strcmp(sub, "remove"),
      rotate = !strcmp(sub, "rotate-key");
  if (!set && !list && !remove && !rotate)
    return weft_cli_usage_error("secret", "unknown subcommand '%s' (set, list, remove, "
                                "rotate-key)", sub);
  if ((set || remove) && !name) return weft_cli_usage_error("secret", "%s needs a NAME", sub);
  if ((list || rotate) && name)
    return weft_cli_usage_error("secret", "%s takes no name", sub);
  if (file && !set) return weft_cli_usage_error("secret", "--file goes with set only");
  if (new_key && !rotate)
    return weft_cli_usage_error("secret", "--new-key-file goes with rotate-key only");
  if (set && !weft_secret_name_ok(name))
    return weft_cli_usage_error("secret", "'%s' is not a secret name (1-128 letters, digits, "
                                "'_', '-' or '.')", name);
  if (set) {
    if (file ? weft_fs_read_file(file, &value, &err) : read_stdin("secret", &value)) {
      if (file) fprintf(stderr, "weft secret set: %s\n", err.msg);
      goto done;
    }
    if (!value.len) {
      fprintf(stderr, "weft secret set: the value is empty (give it on standard input or with "
              "--file)\n");
      goto done;
    }
  }
  if (weft_instance_open(NULL, &inst, &err)) goto fail;
  if (list) {
    if (secret_list(inst, &err)) goto fail;
    rc = WEFT_EXIT_OK;
    goto done;
  }
  char action[200];
  snprintf(action, sizeof action, "secret %s%s%s", sub, name ? " " : "", name ? name : "");
  int failed = 0;
  size_t n_done = 0;
  if (remove) {
    failed = weft_secret_remove(inst->store, name, &err);
  } else {
    failed = weft_secret_keyring_load(inst->secret_key_file, set, &kr, &err);
    if (!failed && set)
      failed = weft_secret_set(inst->store, &kr, name, value.ptr, value.len, &err);
    else if (!failed)
      failed = weft_secret_rotate(inst->store, &kr, new_key, &n_done, &err);
  }
  weft_cli_audit(inst, action, failed ? &err : NULL);
  if (failed) goto fail;
  if (set) printf("set secret %s\n", name);
  else if (remove) printf("removed secret %s\n", name);
  else if (kr.file) printf("re-encrypted %zu secret%s; the key is now %s\n", n_done,
                           n_done == 1 ? "" : "s", kr.file);
  else printf("re-encrypted %zu secret%s with the key in %s: set WEFT_SECRET_KEY to it now\n",
              n_done, n_done == 1 ? "" : "s", new_key);
  rc = WEFT_EXIT_OK;
  goto done;
fail:
  fprintf(stderr, "weft secret %s: %s\n", sub, err.msg);
done:
  wipe(&value);
  weft_secret_keyring_release(&kr);
  weft_instance_close(inst);
  return rc;
}

static int variable_list(struct weft_instance *inst, weft_error *err) {
  struct weft_secret_info *v = NULL;
  char **values = NULL;
  size_t n = 0;
  int rc = weft_variable_list(inst->store, &v, &values, &n, err);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    printf("%-32s ", v[i].name);
    weft_cli_print_time(v[i].updated_ms);
    printf("  %s\n", values[i]);
  }
  if (!n) printf("no variables (add one: weft variable set NAME VALUE)\n");
  weft_variables_release(v, values, n);
  return WEFT_OK;
}

int cmd_variable(int argc, char **argv) {
  const char *sub = argc > 1 ? argv[1] : NULL, *name = NULL, *given = NULL;
  struct weft_instance *inst = NULL;
  struct weft_buf value = WEFT_BUF_INIT;
  weft_error err = WEFT_ERROR_INIT;
  int rc = WEFT_EXIT_INVALID;
  if (!sub || weft_cli_is_help(sub)) {
    fputs(variable_usage, sub ? stdout : stderr);
    return sub ? WEFT_EXIT_OK : WEFT_EXIT_USAGE;
  }
  int set = !strcmp(sub, "set"), get = !strcmp(sub, "get"), list = !strcmp(sub, "list"),
      remove = !strcmp(sub, "remove");
  if (!set && !get && !list && !remove)
    return weft_cli_usage_error("variable", "unknown subcommand '%s' (set, get, list, remove)",
                                sub);
  int max_args = list ? 0 : set ? 2 : 1;
  if (argc - 2 > max_args || (!list && argc < 3))
    return weft_cli_usage_error("variable", list ? "list takes no arguments"
                                : set ? "set takes NAME [VALUE]" : "%s takes a NAME", sub);
  name = argc > 2 ? argv[2] : NULL;
  given = set && argc > 3 ? argv[3] : NULL;
  if (name && !weft_secret_name_ok(name))
    return weft_cli_usage_error("variable", "'%s' is not a variable name (1-128 letters, "
                                "digits, '_', '-' or '.')", name);
  if (set && !given && read_stdin("variable", &value)) goto done;
  if (weft_instance_open(NULL, &inst, &err)) goto fail;
  if (list) {
    if (variable_list(inst, &err)) goto fail;
  } else if (get) {
    char *v = NULL;
    if (weft_variable_get(inst->store, name, &v, &err)) goto fail;
    printf("%s\n", v);
    free(v);
  } else {
    char action[200];
    snprintf(action, sizeof action, "variable %s %s", sub, name);
    int failed = set ? weft_variable_set(inst->store, name, given ? given : value.ptr, &err)
                     : weft_variable_remove(inst->store, name, &err);
    weft_cli_audit(inst, action, failed ? &err : NULL);
    if (failed) goto fail;
    printf(set ? "set variable %s\n" : "removed variable %s\n", name);
  }
  rc = WEFT_EXIT_OK;
  goto done;
fail:
  fprintf(stderr, "weft variable %s: %s\n", sub, err.msg);
done:
  weft_buf_release(&value);
  weft_instance_close(inst);
  return rc;
}
