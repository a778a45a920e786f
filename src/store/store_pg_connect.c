/* store_pg_connect.c: the PostgreSQL backend's connecting: one attempt, the
 * retry policy shared by opening and reconnecting, and error messages. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "store/store_pg.h"
#include "util/clock.h"
#include "util/redact.h"

#define RETRY_FIRST_DELAY_MS 50
#define RETRY_MAX_DELAY_MS 2000

/* libpq's messages end in a newline and may span lines ("...failed:
 * Connection refused\n\tIs the server running..."): one line for ours. */
static void trim_newline(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = 0;
  for (char *c = s; *c; c++)
    if (*c == '\n' || *c == '\t') *c = ' ';
}

int weft__pg_transient(PGconn *c, const PGresult *r) {
  if (!c || !r || PQstatus(c) == CONNECTION_BAD) return 1;
  const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return st && (!strncmp(st, "08", 2) || !strcmp(st, "57P01") || !strcmp(st, "57P02") ||
                !strcmp(st, "57P03") || !strcmp(st, "53300"));
}

int weft__pg_error(struct weft__pg_store *p, weft_error *err, const PGresult *res,
                   const char *op_fmt, ...) {
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  int code = WEFT_ESTORE;
  p->last_transient = weft__pg_transient(p->conn, res);
  if (state && !strcmp(state, "23505")) code = WEFT_ECONFLICT;     /* unique */
  if (state && !strcmp(state, "55P03")) code = WEFT_ETIMEOUT;      /* lock wait */
  if (state && (!strncmp(state, "53", 2) || !strncmp(state, "58", 2))) code = WEFT_EIO;
  if (!err) return code;
  char op[256], why[512];
  va_list ap;
  va_start(ap, op_fmt);
  vsnprintf(op, sizeof op, op_fmt, ap);
  va_end(ap);
  const char *msg = res ? PQresultErrorMessage(res) : "";
  if (!*msg && p->conn) msg = PQerrorMessage(p->conn);
  snprintf(why, sizeof why, "%s", *msg ? msg : "no answer from the server");
  trim_newline(why);
  return weft_error_set(err, code, "%s: %s: %s", p->where, op, why);
}

/* ---- the retry policy ---------------------------------------------------------- */

int weft__pg_retry_next(struct weft__pg_retry *rt, int budget_ms) {
  int64_t now = weft_clock_mono_ms();
  if (!rt->started) {
    rt->started = now;
    rt->deadline = now + budget_ms;
  }
  int64_t left = rt->deadline - now;
  if (left <= 0 && rt->attempts) return 0;
  if (left > 0 && rt->delay) weft_clock_sleep_ms(rt->delay < left ? rt->delay : left);
  rt->delay = rt->delay ? (rt->delay * 2 > RETRY_MAX_DELAY_MS ? RETRY_MAX_DELAY_MS
                                                              : rt->delay * 2)
                        : RETRY_FIRST_DELAY_MS;
  rt->attempts++;
  return 1;
}

int weft__pg_reconnect_budget_ms(void) {
  const char *env = getenv("WEFT_PG_RECONNECT_MS");
  int v = env ? atoi(env) : 0;
  return v > 0 ? v : WEFT__PG_RECONNECT_BUDGET_MS;
}

/* WEFT_PG_CONNECT_TIMEOUT_S when it is a number of seconds >= 0 (0: one
 * attempt), else the default. */
static int connect_budget_ms(void) {
  const char *env = getenv("WEFT_PG_CONNECT_TIMEOUT_S");
  char *end = NULL;
  double v = env && *env ? strtod(env, &end) : -1;
  if (!env || !*env || *end || !(v >= 0) || v > 86400) return WEFT__PG_CONNECT_BUDGET_MS;
  return (int)(v * 1000);
}

/* ---- connecting ---------------------------------------------------------------- */

static void quiet_notices(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

/* A failed connection attempt found no server ready to take it (refused,
 * unreachable, timed out, starting or shutting down, terminated by a
 * shutdown during the start-up exchange, full) rather than a server that
 * refused us (password, missing database or role, options): only the
 * former is worth waiting for. libpq gives no SQLSTATE for a failed
 * connection, so this reads its message: the server's texts for 57P01
 * ("terminating connection due to administrator command"), 57P02, 57P03
 * ("the database system is starting up", "... is shutting down", "... is
 * not yet accepting connections", "... is in recovery mode") and 53300, and
 * libpq's own for a lost or refused link (no FATAL). */
static int not_ready(PGconn *c) {
  static const char *const busy[] = {"starting up", "shutting down", "in recovery mode",
                                     "not yet accepting connections", "too many clients",
                                     "remaining connection slots", "terminating connection",
                                     "not accepting connections", NULL};
  const char *m = PQerrorMessage(c);
  if (PQconnectionNeedsPassword(c)) return 0;
  for (int i = 0; busy[i]; i++)
    if (strstr(m, busy[i])) return 1;
  if (strstr(m, "FATAL") || strstr(m, "ERROR:")) return 0; /* the server said no */
  if (strstr(m, "invalid ") || strstr(m, "does not support SSL")) return 0; /* options */
  return 1;
}

/* One attempt; *retry says whether a failure is one worth waiting out. */
static int connect_once(struct weft__pg_store *p, int *retry, weft_error *err) {
  /* Defaults first: parameters in the URL come later and win. Keepalives
   * make a dead peer show up as an error instead of a hang. */
  const char *keys[] = {"connect_timeout",  "application_name", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "dbname", NULL};
  const char *vals[] = {"10", "weft", "10", "5", "3", p->url, NULL};
  PGresult *r = NULL;
  int rc = WEFT_OK;
  *retry = 0;
  weft__pg_disconnect(p);
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (!c) return weft_error_set(err, WEFT_ENOMEM, "%s: connect: out of memory", p->where);
  if (PQstatus(c) != CONNECTION_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", PQerrorMessage(c));
    trim_newline(why);
    weft_redact_secrets_of(p->url, why, sizeof why);
    *retry = not_ready(c);
    rc = weft_error_set(err, WEFT_EIO, "%s: cannot connect: %s", p->where, why);
    goto fail;
  }
  if (PQserverVersion(c) < 100000) {
    rc = weft_error_set(err, WEFT_EVERSION, "%s: PostgreSQL %d is too old (weft needs 10 or newer)",
                        p->where, PQserverVersion(c) / 10000);
    goto fail;
  }
  PQsetNoticeProcessor(c, quiet_notices, NULL);
  /* Times are integers (ms) and text is UTF-8, so only the lock wait matters:
   * like sqlite's busy_timeout, a writer waits for the write lock, not for
   * ever. */
  r = PQexec(c, "SET client_encoding = 'UTF8'; SET lock_timeout = '30s'; "
                "SET client_min_messages = warning");
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
    p->conn = c;
    rc = weft__pg_error(p, err, r, "setting up the session");
    *retry = p->last_transient;
    p->conn = NULL;
    goto fail;
  }
  PQclear(r);
  p->conn = c;
  memset(p->prepared, 0, sizeof p->prepared);
  return WEFT_OK;
fail:
  PQclear(r);
  PQfinish(c);
  return rc;
}

int weft__pg_connect(struct weft__pg_store *p, int *retry, weft_error *err) {
  int dummy;
  return connect_once(p, retry ? retry : &dummy, err);
}

/* "postgres TARGET: cannot connect: WHY" or "postgres TARGET: OP: WHY" ->
 * "WHY" or "OP: WHY", for the final message, which names TARGET once. */
static const char *reason_of(const struct weft__pg_store *p, const char *msg) {
  size_t n = strlen(p->where);
  if (!strncmp(msg, p->where, n) && !strncmp(msg + n, ": ", 2)) msg += n + 2;
  if (!strncmp(msg, "cannot connect: ", 16)) msg += 16;
  return msg;
}

int weft__pg_connect_open(struct weft__pg_store *p,
                          int (*setup)(struct weft__pg_store *p, weft_error *err),
                          weft_error *err) {
  struct weft__pg_retry rt = WEFT__PG_RETRY_INIT;
  weft_error last = WEFT_ERROR_INIT;
  int budget = connect_budget_ms(), retry = 0, rc = WEFT_OK;
  while (weft__pg_retry_next(&rt, budget)) {
    rc = connect_once(p, &retry, &last);
    if (!rc && setup) {
      p->last_transient = 0;
      if ((rc = setup(p, &last))) retry = p->last_transient;
    }
    if (!rc || !retry) break;
    weft__pg_disconnect(p); /* the server went away mid-way: start again */
  }
  if (!rc) return WEFT_OK;
  weft__pg_disconnect(p);
  if (!retry) return weft_error_set(err, rc, "%s", last.msg);
  return weft_error_set(err, rc == WEFT_ESTORE ? WEFT_EIO : rc,
                        "%s: cannot connect after %d attempt%s over %.1f s: %s", p->where,
                        rt.attempts, rt.attempts == 1 ? "" : "s",
                        (double)(weft_clock_mono_ms() - rt.started) / 1000.0,
                        reason_of(p, last.msg));
}

void weft__pg_disconnect(struct weft__pg_store *p) {
  if (p->conn) PQfinish(p->conn);
  p->conn = NULL;
  p->listening = 0; /* a new connection subscribes again */
  memset(p->prepared, 0, sizeof p->prepared);
}

void weft__pg_test_drop_connection(struct weft_store *s) {
  struct weft__pg_store *p = (struct weft__pg_store *)s;
  /* shutdown(2) rather than PQfinish: the handle stays, as after a real
   * network failure, and the next statement finds the socket dead. */
  if (p->conn && PQsocket(p->conn) >= 0) shutdown(PQsocket(p->conn), SHUT_RDWR);
}

void weft__pg_test_commit_hook(struct weft_store *s, int hook) {
  ((struct weft__pg_store *)s)->commit_hook = hook;
}
