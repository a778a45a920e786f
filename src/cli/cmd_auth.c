/* cmd_auth.c: `weft user add|passwd|remove|list` and `weft token
 * create|list|revoke`: who may use the HTTP API (engine/auth.h). Passwords
 * come from the terminal (not echoed) or standard input, never argv. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/audit.h"
#include "engine/auth.h"
#include "engine/auth_gen.h"
#include "engine/engine.h"
#include "util/clock.h"

static const char user_usage[] =
    "usage: weft user add NAME --role ROLE [--no-password]\n"
    "       weft user passwd NAME\n"
    "       weft user remove NAME\n"
    "       weft user list\n"
    "\n"
    "The users of the HTTP API and web UI, kept in the instance's storage.\n"
    "The password is read from the terminal (twice, not shown) or, when\n"
    "standard input is not a terminal, from its first line; never from the\n"
    "command line. It is kept hashed (Argon2id, libsodium). --no-password:\n"
    "a user who signs in only through the SSO proxy of weft.yaml's auth:\n"
    "(proxy_header, trusted_proxies); passwd can give one later.\n"
    "Roles: viewer (read), launcher (launch, re-execute, cancel runs),\n"
    "operator (schedules, sensors, backfills), admin (code locations).\n";

static const char token_usage[] =
    "usage: weft token create --role ROLE [--expires 30d]\n"
    "       weft token list\n"
    "       weft token revoke ID\n"
    "\n"
    "API tokens, sent as 'Authorization: Bearer TOKEN'. create prints the\n"
    "token once: only its hash is kept. --expires takes Nd, Nh, Nm or Ns\n"
    "(default: never). Roles as for 'weft user'.\n";

/* One line of standard input, or two matching ones typed on the terminal
 * without echo. NULL after printing why. */
static char *read_password(const char *cmd) {
  char buf[2][1024];
  int tty = isatty(0);
  struct termios old, quiet;
  if (tty && !tcgetattr(0, &old)) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(0, TCSAFLUSH, &quiet);
  }
  int n_reads = tty ? 2 : 1, ok = 1;
  for (int i = 0; i < n_reads && ok; i++) {
    if (tty) fprintf(stderr, i ? "again: " : "password: ");
    ok = fgets(buf[i], sizeof buf[i], stdin) != NULL;
    if (tty) fputc('\n', stderr);
    if (ok) buf[i][strcspn(buf[i], "\r\n")] = '\0';
  }
  if (tty) tcsetattr(0, TCSAFLUSH, &old);
  char *pw = NULL;
  if (!ok)
    fprintf(stderr, "weft %s: no password on standard input\n", cmd);
  else if (tty && strcmp(buf[0], buf[1]))
    fprintf(stderr, "weft %s: the passwords differ\n", cmd);
  else if (!(pw = strdup(buf[0])))
    fprintf(stderr, "weft %s: out of memory\n", cmd);
  memset(buf, 0, sizeof buf);
  return pw;
}

/* weft_cli_audit of "ACTION NAME". */
static void audit(struct weft_instance *inst, const char *action, const char *name,
                  const weft_error *failed) {
  char what[160];
  snprintf(what, sizeof what, "%s %s", action, name);
  weft_cli_audit(inst, what, failed);
}

static int user_list(struct weft_instance *inst, weft_error *err) {
  struct weft_auth_user *v = NULL;
  size_t n = 0;
  int rc = weft_auth_user_list(inst->store, &v, &n, err);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    printf("%-24s %-9s ", v[i].name, weft_role_name(v[i].role));
    weft_cli_print_time(v[i].created_ms);
    putchar('\n');
  }
  if (!n) printf("no users (add one: weft user add NAME --role admin)\n");
  weft_auth_users_release(v, n);
  return WEFT_OK;
}

int cmd_user(int argc, char **argv) {
  const char *sub = argc > 1 ? argv[1] : NULL, *role_name = NULL, *name = NULL;
  enum weft_role role = WEFT_ROLE_NONE;
  struct weft_instance *inst = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char *pw = NULL;
  int rc = WEFT_EXIT_INVALID, m, no_password = 0;
  if (!sub || weft_cli_is_help(sub)) {
    fputs(user_usage, sub ? stdout : stderr);
    return sub ? WEFT_EXIT_OK : WEFT_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--no-password")) {
      no_password = 1;
    } else if ((m = weft_cli_flag_value("user", argc, argv, &i, NULL, "--role", &role_name))) {
      if (m < 0) return WEFT_EXIT_USAGE;
    } else if (argv[i][0] == '-' || name) {
      return weft_cli_usage_error("user", "unexpected argument '%s'", argv[i]);
    } else {
      name = argv[i];
    }
  }
  int is_list = !strcmp(sub, "list");
  if (!is_list && strcmp(sub, "add") && strcmp(sub, "passwd") && strcmp(sub, "remove"))
    return weft_cli_usage_error("user", "unknown subcommand '%s' (add, passwd, remove, list)",
                                sub);
  if (is_list ? name != NULL : !name)
    return weft_cli_usage_error("user", is_list ? "list takes no name" : "%s needs a NAME", sub);
  if (!strcmp(sub, "add") && !role_name)
    return weft_cli_usage_error("user", "add needs --role viewer|launcher|operator|admin");
  if ((role_name || no_password) && strcmp(sub, "add"))
    return weft_cli_usage_error("user", "--role and --no-password go with add only");
  if (role_name && weft_role_parse(role_name, &role, &err))
    return weft_cli_usage_error("user", "%s", err.msg);
  if ((!strcmp(sub, "add") && !no_password) || !strcmp(sub, "passwd")) {
    if (!(pw = read_password("user"))) return WEFT_EXIT_INVALID;
  }
  if (weft_instance_open(NULL, &inst, &err)) goto fail;
  if (is_list) {
    if (user_list(inst, &err)) goto fail;
  } else {
    char what[96];
    snprintf(what, sizeof what, "user %s", sub);
    int failed = !strcmp(sub, "add")      ? weft_auth_user_add(inst->store, name, role, pw, &err)
                 : !strcmp(sub, "passwd") ? weft_auth_user_passwd(inst->store, name, pw, &err)
                                          : weft_auth_user_remove(inst->store, name, &err);
    /* Servers keep what they verified until the generation moves. */
    if (!failed && strcmp(sub, "add")) failed = weft_auth_gen_bump(inst->store, inst->home, &err);
    audit(inst, what, name, failed ? &err : NULL);
    if (failed) goto fail;
    if (!strcmp(sub, "add"))
      printf("added user %s (%s)\n", name, weft_role_name(role));
    else
      printf(!strcmp(sub, "passwd") ? "changed the password of %s\n" : "removed user %s\n", name);
  }
  rc = WEFT_EXIT_OK;
  goto done;
fail:
  fprintf(stderr, "weft user %s: %s\n", sub, err.msg);
done:
  if (pw) {
    memset(pw, 0, strlen(pw));
    free(pw);
  }
  weft_instance_close(inst);
  return rc;
}

static int token_list(struct weft_instance *inst, weft_error *err) {
  struct weft_auth_token *v = NULL;
  size_t n = 0;
  int rc = weft_auth_token_list(inst->store, &v, &n, err);
  if (rc) return rc;
  int64_t now = weft_clock_wall_ms();
  for (size_t i = 0; i < n; i++) {
    printf("%s  %-9s created ", v[i].id, weft_role_name(v[i].role));
    weft_cli_print_time(v[i].created_ms);
    if (v[i].revoked_ms) {
      printf("  revoked ");
      weft_cli_print_time(v[i].revoked_ms);
    } else if (v[i].expires_ms) {
      printf(v[i].expires_ms <= now ? "  expired " : "  expires ");
      weft_cli_print_time(v[i].expires_ms);
    }
    putchar('\n');
  }
  if (!n) printf("no tokens (make one: weft token create --role viewer)\n");
  weft_auth_tokens_release(v, n);
  return WEFT_OK;
}

int cmd_token(int argc, char **argv) {
  const char *sub = argc > 1 ? argv[1] : NULL, *role_name = NULL, *expires = NULL, *id = NULL;
  enum weft_role role = WEFT_ROLE_NONE;
  struct weft_instance *inst = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int64_t ttl = 0;
  int rc = WEFT_EXIT_INVALID, m;
  if (!sub || weft_cli_is_help(sub)) {
    fputs(token_usage, sub ? stdout : stderr);
    return sub ? WEFT_EXIT_OK : WEFT_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++) {
    if ((m = weft_cli_flag_value("token", argc, argv, &i, NULL, "--role", &role_name)) ||
        (m = weft_cli_flag_value("token", argc, argv, &i, NULL, "--expires", &expires))) {
      if (m < 0) return WEFT_EXIT_USAGE;
    } else if (argv[i][0] == '-' || id) {
      return weft_cli_usage_error("token", "unexpected argument '%s'", argv[i]);
    } else {
      id = argv[i];
    }
  }
  int create = !strcmp(sub, "create"), list = !strcmp(sub, "list"),
      revoke = !strcmp(sub, "revoke");
  if (!create && !list && !revoke)
    return weft_cli_usage_error("token", "unknown subcommand '%s' (create, list, revoke)", sub);
  if (revoke ? !id : id != NULL)
    return weft_cli_usage_error("token", revoke ? "revoke needs a token ID (weft token list)"
                                                : "unexpected argument '%s'", id);
  if (!create && (role_name || expires))
    return weft_cli_usage_error("token", "--role and --expires go with create only");
  if (create && !role_name)
    return weft_cli_usage_error("token", "create needs --role viewer|launcher|operator|admin");
  if (role_name && weft_role_parse(role_name, &role, &err))
    return weft_cli_usage_error("token", "%s", err.msg);
  if (expires && weft_auth_parse_ttl(expires, &ttl))
    return weft_cli_usage_error("token", "--expires wants Nd, Nh, Nm or Ns, got '%s'", expires);
  if (weft_instance_open(NULL, &inst, &err)) goto fail;
  if (list) {
    if (token_list(inst, &err)) goto fail;
  } else if (revoke) {
    int failed = weft_auth_token_revoke(inst->store, id, &err);
    if (!failed) failed = weft_auth_gen_bump(inst->store, inst->home, &err);
    audit(inst, "token revoke", id, failed ? &err : NULL);
    if (failed) goto fail;
    printf("revoked token %s\n", id);
  } else {
    char *token = NULL, *tid = NULL;
    if (weft_auth_token_create(inst->store, role, ttl, &token, &tid, &err)) goto fail;
    audit(inst, "token create", tid, NULL);
    /* The token alone on stdout, for scripts; the rest on stderr. */
    printf("%s\n", token);
    fprintf(stderr, "token %s (%s) created; it is shown this once: keep it now\n", tid,
            weft_role_name(role));
    memset(token, 0, strlen(token));
    free(token);
    free(tid);
  }
  rc = WEFT_EXIT_OK;
  goto done;
fail:
  fprintf(stderr, "weft token %s: %s\n", sub, err.msg);
done:
  weft_instance_close(inst);
  return rc;
}
