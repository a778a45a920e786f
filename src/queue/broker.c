/* broker.c: the RabbitMQ connection over librabbitmq: connect and log in, weft's
 * topology, confirmed publishes, consuming, and reconnecting after a loss. */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "queue/broker.h"
#include "util/clock.h"
#include "util/redact.h"
#include "util/str.h"

#define CHANNEL 1
#define HEARTBEAT_S 10
#define CONNECT_TIMEOUT_MS 2000
#define CONFIRM_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define DLX "weft.dlx"
#define DEAD "weft.dead"
#define STEP_PREFIX "weft.step."

struct names {
  char **v;
  size_t n;
};

/* Opening waits this long for a broker that is not ready (restarting,
 * starting up), unless WEFT_AMQP_CONNECT_TIMEOUT_S says otherwise. */
#define OPEN_BUDGET_MS 30000

struct weft_broker {
  char *display;
  char *host, *user, *pass, *vhost;
  int port;
  amqp_connection_state_t conn; /* NULL while disconnected */
  int broken;
  int refused; /* the last connect failed for good: a login or vhost refusal */
  unsigned gen;
  int confirms;
  uint64_t seq; /* publish sequence number under confirms */
  int prefetch; /* -1: never set */
  struct names step_queues, fanouts, consumed;
  char *private_queue;
  int consuming; /* acked consumers active (not stopped) */
  int64_t next_attempt_ms, backoff_ms;
  const struct weft_qsig_key *key; /* signs and checks messages (borrowed) */
};

void weft_broker_msg_release(struct weft_broker_msg *m) {
  free(m->body);
  free(m->queue);
  memset(m, 0, sizeof *m);
}

static int names_add(struct names *l, const char *s) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->v[i], s)) return WEFT_OK;
  char **v = realloc(l->v, (l->n + 1) * sizeof *v);
  if (!v) return WEFT_ENOMEM;
  l->v = v;
  if (!(l->v[l->n] = weft_str_dup(s))) return WEFT_ENOMEM;
  l->n++;
  return WEFT_OK;
}

static void names_release(struct names *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static void disconnect(struct weft_broker *b) {
  if (!b->conn) return;
  if (!b->broken) amqp_connection_close(b->conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(b->conn);
  b->conn = NULL;
}

/* The connection is gone: later calls fail until weft_broker_ensure. */
static int lost(struct weft_broker *b, const char *what, const char *why, weft_error *err) {
  b->broken = 1;
  return weft_error_set(err, WEFT_EIO, "RabbitMQ %s: %s: %s", b->display, what, why);
}

static char *bytes_dup(amqp_bytes_t x) {
  char *s = malloc(x.len + 1);
  if (!s) return NULL;
  memcpy(s, x.bytes, x.len);
  s[x.len] = '\0';
  return s;
}

/* Answers a close from the broker and reports its reply text. A
 * connection closed with 403 ACCESS_REFUSED (a bad login), 530 NOT_ALLOWED
 * (no such vhost, or no access to it) or 402 INVALID_PATH is a refusal
 * that waiting will not change; every other close (320 CONNECTION_FORCED
 * of a broker shutting down, a lost socket) is transient. */
static int server_closed(struct weft_broker *b, const amqp_method_t *m, const char *what,
                         weft_error *err) {
  char text[512] = "closed";
  if (m->id == AMQP_CONNECTION_CLOSE_METHOD) {
    amqp_connection_close_t *c = m->decoded;
    b->refused = c->reply_code == AMQP_ACCESS_REFUSED || c->reply_code == AMQP_NOT_ALLOWED ||
                 c->reply_code == AMQP_INVALID_PATH;
    snprintf(text, sizeof text, "connection closed by the broker: %d %.*s", c->reply_code,
             (int)c->reply_text.len, (char *)c->reply_text.bytes);
    amqp_connection_close_ok_t ok = {0};
    amqp_send_method(b->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
  } else if (m->id == AMQP_CHANNEL_CLOSE_METHOD) {
    amqp_channel_close_t *c = m->decoded;
    snprintf(text, sizeof text, "channel closed by the broker: %d %.*s", c->reply_code,
             (int)c->reply_text.len, (char *)c->reply_text.bytes);
    amqp_channel_close_ok_t ok = {0};
    amqp_send_method(b->conn, CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
  } else {
    snprintf(text, sizeof text, "unexpected method 0x%08x from the broker", (unsigned)m->id);
  }
  return lost(b, what, text, err);
}

static int check_reply(struct weft_broker *b, amqp_rpc_reply_t r, const char *what,
                       weft_error *err) {
  switch (r.reply_type) {
  case AMQP_RESPONSE_NORMAL:
    return WEFT_OK;
  case AMQP_RESPONSE_LIBRARY_EXCEPTION:
    return lost(b, what, amqp_error_string2(r.library_error), err);
  case AMQP_RESPONSE_SERVER_EXCEPTION:
    return server_closed(b, &r.reply, what, err);
  default:
    return lost(b, what, "no reply", err);
  }
}

static int rpc_ok(struct weft_broker *b, const char *what, weft_error *err) {
  return check_reply(b, amqp_get_rpc_reply(b->conn), what, err);
}

/* ---- topology ------------------------------------------------------------- */

static int declare_exchange(struct weft_broker *b, const char *name, const char *type,
                            weft_error *err) {
  amqp_exchange_declare(b->conn, CHANNEL, amqp_cstring_bytes(name), amqp_cstring_bytes(type),
                        0, 1, 0, 0, amqp_empty_table);
  return rpc_ok(b, "exchange.declare", err);
}

static int declare_dead(struct weft_broker *b, weft_error *err) {
  int rc = declare_exchange(b, DLX, "fanout", err);
  if (rc) return rc;
  amqp_queue_declare(b->conn, CHANNEL, amqp_cstring_bytes(DEAD), 0, 1, 0, 0, amqp_empty_table);
  if ((rc = rpc_ok(b, "queue.declare " DEAD, err))) return rc;
  amqp_queue_bind(b->conn, CHANNEL, amqp_cstring_bytes(DEAD), amqp_cstring_bytes(DLX),
                  amqp_cstring_bytes(""), amqp_empty_table);
  return rpc_ok(b, "queue.bind " DEAD, err);
}

static int declare_step(struct weft_broker *b, const char *name, weft_error *err) {
  char q[300];
  snprintf(q, sizeof q, STEP_PREFIX "%s", name);
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes("x-dead-letter-exchange");
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = amqp_cstring_bytes(DLX);
  amqp_table_t args = {1, &e};
  amqp_queue_declare(b->conn, CHANNEL, amqp_cstring_bytes(q), 0, 1, 0, 0, args);
  return rpc_ok(b, "queue.declare", err);
}

static int consume_queue(struct weft_broker *b, const char *queue, const char *tag, int no_ack,
                         weft_error *err) {
  amqp_basic_consume(b->conn, CHANNEL, amqp_cstring_bytes(queue), amqp_cstring_bytes(tag), 0,
                     no_ack, 0, amqp_empty_table);
  return rpc_ok(b, "basic.consume", err);
}

static int private_queue(struct weft_broker *b, const char *name, weft_error *err) {
  amqp_queue_declare(b->conn, CHANNEL, amqp_cstring_bytes(name), 0, 0, 1, 1, amqp_empty_table);
  int rc = rpc_ok(b, "queue.declare (reply queue)", err);
  return rc ? rc : consume_queue(b, name, name, 1, err);
}

static int fanout_sub(struct weft_broker *b, const char *exchange, weft_error *err) {
  int rc = declare_exchange(b, exchange, "fanout", err);
  if (rc) return rc;
  amqp_queue_declare_ok_t *ok = amqp_queue_declare(b->conn, CHANNEL, amqp_empty_bytes, 0, 0, 1,
                                                   1, amqp_empty_table);
  if ((rc = rpc_ok(b, "queue.declare (fanout)", err))) return rc;
  char *q = bytes_dup(ok->queue);
  if (!q) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  amqp_queue_bind(b->conn, CHANNEL, amqp_cstring_bytes(q), amqp_cstring_bytes(exchange),
                  amqp_cstring_bytes(""), amqp_empty_table);
  rc = rpc_ok(b, "queue.bind (fanout)", err);
  if (!rc) rc = consume_queue(b, q, exchange, 1, err);
  free(q);
  return rc;
}

/* Everything declared on the previous connection, again. */
static int redeclare(struct weft_broker *b, weft_error *err) {
  int rc = WEFT_OK;
  if (b->confirms) {
    amqp_confirm_select(b->conn, CHANNEL);
    rc = rpc_ok(b, "confirm.select", err);
    b->seq = 0;
  }
  if (!rc && b->prefetch >= 0) {
    amqp_basic_qos(b->conn, CHANNEL, 0, (uint16_t)b->prefetch, 0);
    rc = rpc_ok(b, "basic.qos", err);
  }
  if (!rc && b->step_queues.n) rc = declare_dead(b, err);
  for (size_t i = 0; !rc && i < b->step_queues.n; i++)
    rc = declare_step(b, b->step_queues.v[i], err);
  if (!rc && b->private_queue) rc = private_queue(b, b->private_queue, err);
  for (size_t i = 0; !rc && i < b->fanouts.n; i++) rc = fanout_sub(b, b->fanouts.v[i], err);
  for (size_t i = 0; !rc && b->consuming && i < b->consumed.n; i++)
    rc = consume_queue(b, b->consumed.v[i], b->consumed.v[i], 0, err);
  return rc;
}

static int connect_now(struct weft_broker *b, weft_error *err) {
  b->broken = b->refused = 0;
  if (!(b->conn = amqp_new_connection()))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  amqp_socket_t *sock = amqp_tcp_socket_new(b->conn);
  struct timeval tv = {CONNECT_TIMEOUT_MS / 1000, (CONNECT_TIMEOUT_MS % 1000) * 1000};
  struct timeval rpc = {30, 0};
  int rc, st = sock ? amqp_socket_open_noblock(sock, b->host, b->port, &tv) : AMQP_STATUS_NO_MEMORY;
  if (st) {
    rc = weft_error_set(err, WEFT_EIO, "RabbitMQ %s: cannot connect: %s", b->display,
                        amqp_error_string2(st));
    b->broken = 1;
    goto fail;
  }
  amqp_set_handshake_timeout(b->conn, &tv);
  amqp_set_rpc_timeout(b->conn, &rpc);
  /* WEFT_AMQP_HEARTBEAT_S: a test's shorter heartbeat, to see an idle
   * connection closed by the broker in seconds rather than a minute. */
  const char *hb_env = getenv("WEFT_AMQP_HEARTBEAT_S");
  int hb = hb_env && atoi(hb_env) > 0 ? atoi(hb_env) : HEARTBEAT_S;
  amqp_rpc_reply_t r = amqp_login(b->conn, b->vhost, 0, 131072, hb,
                                  AMQP_SASL_METHOD_PLAIN, b->user, b->pass);
  if ((rc = check_reply(b, r, "login", err))) goto fail;
  amqp_channel_open(b->conn, CHANNEL);
  if ((rc = rpc_ok(b, "channel.open", err))) goto fail;
  if ((rc = redeclare(b, err))) goto fail;
  return WEFT_OK;
fail:
  b->broken = 1;
  disconnect(b);
  return rc;
}

/* WEFT_AMQP_CONNECT_TIMEOUT_S when it is a number of seconds >= 0 (0: one
 * attempt), else OPEN_BUDGET_MS. */
static int open_budget_ms(void) {
  const char *env = getenv("WEFT_AMQP_CONNECT_TIMEOUT_S");
  char *end = NULL;
  double v = env && *env ? strtod(env, &end) : -1;
  if (!env || !*env || *end || !(v >= 0) || v > 86400) return OPEN_BUDGET_MS;
  return (int)(v * 1000);
}

/* Opening: a broker that is not there yet or goes away during the
 * handshake, the login or the channel open (a restart, services starting
 * before RabbitMQ) is waited for, with backoff, within the budget; a
 * refused login or vhost fails at once. The message of a transient failure
 * names the attempts: "RabbitMQ URL: cannot connect after N attempts over
 * T s: WHY", as PostgreSQL's does. */
static int connect_waiting(struct weft_broker *b, weft_error *err) {
  weft_error last = WEFT_ERROR_INIT;
  int64_t t0 = weft_clock_mono_ms(), deadline = t0 + open_budget_ms(), delay = 50;
  int attempts = 0, rc;
  for (;;) {
    attempts++;
    if (!(rc = connect_now(b, &last))) return WEFT_OK;
    int64_t left = deadline - weft_clock_mono_ms();
    if (b->refused || rc == WEFT_ENOMEM || left <= 0) break;
    weft_clock_sleep_ms(delay < left ? delay : left);
    delay = delay * 2 > 2000 ? 2000 : delay * 2;
  }
  /* A refusal is WEFT_EINVALID (the URL's login or vhost is wrong), so
   * WEFT_EIO says only "not reached": a caller may wait and try again. */
  if (b->refused) return weft_error_set(err, WEFT_EINVALID, "%s", last.msg);
  if (rc == WEFT_ENOMEM) return weft_error_set(err, rc, "%s", last.msg);
  const char *why = last.msg;
  size_t n = strlen("RabbitMQ ") + strlen(b->display);
  if (!strncmp(why, "RabbitMQ ", 9) && !strncmp(why + 9, b->display, n - 9) &&
      !strncmp(why + n, ": ", 2))
    why += n + 2;
  if (!strncmp(why, "cannot connect: ", 16)) why += 16;
  return weft_error_set(err, rc, "RabbitMQ %s: cannot connect after %d attempt%s over %.1f s: %s",
                        b->display, attempts, attempts == 1 ? "" : "s",
                        (double)(weft_clock_mono_ms() - t0) / 1000.0, why);
}

/* ---- public ---------------------------------------------------------------- */

int weft_broker_open(const char *url, struct weft_broker **out, weft_error *err) {
  *out = NULL;
  struct weft_broker *b = calloc(1, sizeof *b);
  char *copy = weft_str_dup(url);
  struct amqp_connection_info ci;
  int rc;
  if (!b || !copy) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  b->prefetch = -1;
  b->backoff_ms = BACKOFF_MIN_MS;
  amqp_default_connection_info(&ci);
  if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK || ci.ssl) {
    char *shown = weft_redact(url);
    rc = weft_error_set(err, WEFT_EINVALID,
                        "broker URL '%s' must look like amqp://USER:PASS@HOST:PORT/VHOST "
                        "(amqps is not supported)", shown ? shown : "(not shown)");
    free(shown);
    goto fail;
  }
  b->host = weft_str_dup(ci.host);
  b->user = weft_str_dup(ci.user);
  b->pass = weft_str_dup(ci.password);
  b->vhost = weft_str_dup(ci.vhost && *ci.vhost ? ci.vhost : "/");
  b->port = ci.port;
  b->display = weft_str_printf("amqp://%s@%s:%d/%s", ci.user, ci.host, ci.port,
                               strcmp(b->vhost, "/") ? b->vhost : "");
  if (!b->host || !b->user || !b->pass || !b->vhost || !b->display) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  free(copy);
  copy = NULL;
  if ((rc = connect_waiting(b, err))) goto fail;
  *out = b;
  return WEFT_OK;
fail:
  free(copy);
  weft_broker_close(b);
  return rc;
}

void weft_broker_close(struct weft_broker *b) {
  if (!b) return;
  disconnect(b);
  free(b->display);
  free(b->host);
  free(b->user);
  free(b->pass);
  free(b->vhost);
  free(b->private_queue);
  names_release(&b->step_queues);
  names_release(&b->fanouts);
  names_release(&b->consumed);
  free(b);
}

const char *weft_broker_display_url(const struct weft_broker *b) { return b->display; }
int weft_broker_broken(const struct weft_broker *b) { return b->broken || !b->conn; }
unsigned weft_broker_generation(const struct weft_broker *b) { return b->gen; }

int weft_broker_ensure(struct weft_broker *b, weft_error *err) {
  if (b->conn && !b->broken) return WEFT_OK;
  disconnect(b);
  int64_t now = weft_clock_mono_ms();
  if (now < b->next_attempt_ms)
    return weft_error_set(err, WEFT_EIO, "RabbitMQ %s: reconnecting", b->display);
  int rc = connect_now(b, err);
  if (rc) {
    b->next_attempt_ms = now + b->backoff_ms;
    b->backoff_ms = b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->backoff_ms * 2;
    return rc;
  }
  b->gen++;
  b->backoff_ms = BACKOFF_MIN_MS;
  return WEFT_OK;
}

#define NEED_CONN(b, err)                                                          \
  do {                                                                            \
    if (!(b)->conn || (b)->broken)                                                \
      return weft_error_set(err, WEFT_EIO, "RabbitMQ %s: not connected", (b)->display); \
  } while (0)

int weft_broker_confirms(struct weft_broker *b, weft_error *err) {
  NEED_CONN(b, err);
  if (b->confirms) return WEFT_OK;
  amqp_confirm_select(b->conn, CHANNEL);
  int rc = rpc_ok(b, "confirm.select", err);
  if (!rc) {
    b->confirms = 1;
    b->seq = 0;
  }
  return rc;
}

int weft_broker_declare_step_queue(struct weft_broker *b, const char *name, weft_error *err) {
  for (size_t i = 0; i < b->step_queues.n; i++)
    if (!strcmp(b->step_queues.v[i], name)) return WEFT_OK;
  NEED_CONN(b, err);
  int rc = b->step_queues.n ? WEFT_OK : declare_dead(b, err);
  if (!rc) rc = declare_step(b, name, err);
  if (!rc && names_add(&b->step_queues, name))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  return rc;
}

int weft_broker_consume_private(struct weft_broker *b, const char *name, weft_error *err) {
  NEED_CONN(b, err);
  int rc = private_queue(b, name, err);
  if (!rc) {
    free(b->private_queue);
    if (!(b->private_queue = weft_str_dup(name)))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return rc;
}

int weft_broker_subscribe_fanout(struct weft_broker *b, const char *exchange, weft_error *err) {
  NEED_CONN(b, err);
  int rc = fanout_sub(b, exchange, err);
  if (!rc && names_add(&b->fanouts, exchange))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  return rc;
}

int weft_broker_qos(struct weft_broker *b, int prefetch, weft_error *err) {
  NEED_CONN(b, err);
  amqp_basic_qos(b->conn, CHANNEL, 0, (uint16_t)prefetch, 0);
  int rc = rpc_ok(b, "basic.qos", err);
  if (!rc) b->prefetch = prefetch;
  return rc;
}

int weft_broker_consume(struct weft_broker *b, const char *queue, weft_error *err) {
  NEED_CONN(b, err);
  int rc = consume_queue(b, queue, queue, 0, err);
  if (!rc && names_add(&b->consumed, queue))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!rc) b->consuming = 1;
  return rc;
}

int weft_broker_stop_consuming(struct weft_broker *b, weft_error *err) {
  int was = b->consuming;
  b->consuming = 0;
  if (!was || !b->conn || b->broken) return WEFT_OK;
  int rc = WEFT_OK;
  for (size_t i = 0; !rc && i < b->consumed.n; i++) {
    amqp_basic_cancel(b->conn, CHANNEL, amqp_cstring_bytes(b->consumed.v[i]));
    rc = rpc_ok(b, "basic.cancel", err);
  }
  return rc;
}

/* Reads frames until the broker confirmed publishes first..last (every
 * one acked, or one nacked: WEFT_EIO). */
static int wait_confirms(struct weft_broker *b, uint64_t first, uint64_t last, weft_error *err) {
  size_t n = (size_t)(last - first + 1), left = n;
  unsigned char *acked = calloc(n, 1);
  if (!acked) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int64_t deadline = weft_clock_mono_ms() + CONFIRM_TIMEOUT_MS;
  int rc = WEFT_OK;
  while (left && !rc) {
    int64_t ms = deadline - weft_clock_mono_ms();
    if (ms <= 0) {
      rc = lost(b, "publish", "no confirm from the broker within 10 s", err);
      break;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    amqp_frame_t f;
    int st = amqp_simple_wait_frame_noblock(b->conn, &f, &tv);
    if (st == AMQP_STATUS_TIMEOUT) continue;
    if (st) {
      rc = lost(b, "publish", amqp_error_string2(st), err);
      break;
    }
    if (f.frame_type != AMQP_FRAME_METHOD) continue;
    amqp_method_t *m = &f.payload.method;
    if (m->id == AMQP_BASIC_ACK_METHOD || m->id == AMQP_BASIC_NACK_METHOD) {
      uint64_t tag;
      int multiple;
      if (m->id == AMQP_BASIC_ACK_METHOD) {
        tag = ((amqp_basic_ack_t *)m->decoded)->delivery_tag;
        multiple = ((amqp_basic_ack_t *)m->decoded)->multiple;
      } else {
        tag = ((amqp_basic_nack_t *)m->decoded)->delivery_tag;
        multiple = ((amqp_basic_nack_t *)m->decoded)->multiple;
      }
      uint64_t from = multiple ? first : tag, to = tag > last ? last : tag;
      for (uint64_t t = from < first ? first : from; t <= to; t++) {
        if (acked[t - first]) continue;
        if (m->id == AMQP_BASIC_NACK_METHOD)
          rc = weft_error_set(err, WEFT_EIO, "RabbitMQ %s: the broker refused a message",
                              b->display);
        acked[t - first] = 1;
        left--;
      }
    } else if (m->id == AMQP_CHANNEL_CLOSE_METHOD || m->id == AMQP_CONNECTION_CLOSE_METHOD) {
      rc = server_closed(b, m, "publish", err);
    }
  }
  free(acked);
  return rc;
}

/* sig: the weft-sig header's value (NULL: none). */
static int publish_one(struct weft_broker *b, const char *exchange, const char *routing_key,
                       const char *body, size_t len, int persistent, const char *sig,
                       weft_error *err) {
  amqp_basic_properties_t props;
  amqp_table_entry_t h;
  memset(&props, 0, sizeof props);
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = persistent ? 2 : 1;
  if (sig) {
    h.key = amqp_cstring_bytes(WEFT_QSIG_HEADER);
    h.value.kind = AMQP_FIELD_KIND_UTF8;
    h.value.value.bytes = amqp_cstring_bytes(sig);
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers.num_entries = 1;
    props.headers.entries = &h;
  }
  amqp_bytes_t bytes = {len, (void *)body};
  int st = amqp_basic_publish(b->conn, CHANNEL, amqp_cstring_bytes(exchange),
                              amqp_cstring_bytes(routing_key), 0, 0, &props, bytes);
  if (st) return lost(b, "publish", amqp_error_string2(st), err);
  if (b->confirms) b->seq++;
  return WEFT_OK;
}

void weft_broker_sign_with(struct weft_broker *b, const struct weft_qsig_key *key) {
  b->key = key;
}

/* Into sig: the signature of a publish, NULL without a key. */
static const char *sign(struct weft_broker *b, const char *exchange, const char *routing_key,
                        const char *body, size_t len, char sig[WEFT_QSIG_MAX]) {
  if (!b->key) return NULL;
  weft_qsig_sign(b->key, exchange, routing_key, body, len, sig);
  return sig;
}

int weft_broker_publish_as(struct weft_broker *b, const char *exchange, const char *routing_key,
                           const char *body, size_t len, int persistent, const char *sig,
                           weft_error *err) {
  NEED_CONN(b, err);
  amqp_maybe_release_buffers(b->conn);
  int rc = publish_one(b, exchange, routing_key, body, len, persistent, sig, err);
  return !rc && b->confirms ? wait_confirms(b, b->seq, b->seq, err) : rc;
}

int weft_broker_publish(struct weft_broker *b, const char *exchange, const char *routing_key,
                        const char *body, size_t len, int persistent, weft_error *err) {
  char sig[WEFT_QSIG_MAX];
  return weft_broker_publish_as(b, exchange, routing_key, body, len, persistent,
                                sign(b, exchange, routing_key, body, len, sig), err);
}

int weft_broker_publish_batch(struct weft_broker *b, const char *exchange,
                              const char *const *routing_keys, const char *const *bodies,
                              size_t n, int persistent, weft_error *err) {
  NEED_CONN(b, err);
  amqp_maybe_release_buffers(b->conn);
  uint64_t first = b->seq + 1;
  for (size_t i = 0; i < n; i++) {
    char sig[WEFT_QSIG_MAX];
    size_t len = strlen(bodies[i]);
    int rc = publish_one(b, exchange, routing_keys[i], bodies[i], len, persistent,
                         sign(b, exchange, routing_keys[i], bodies[i], len, sig), err);
    if (rc) return rc;
  }
  return b->confirms && n ? wait_confirms(b, first, b->seq, err) : WEFT_OK;
}

/* A frame other than a delivery arrived: a close, a server-side cancel of a
 * consumer (its queue was deleted) or a stray confirm. */
static int other_frame(struct weft_broker *b, weft_error *err) {
  amqp_frame_t f;
  struct timeval zero = {0, 0};
  int st = amqp_simple_wait_frame_noblock(b->conn, &f, &zero);
  if (st == AMQP_STATUS_TIMEOUT) return 0;
  if (st) return lost(b, "consume", amqp_error_string2(st), err);
  if (f.frame_type != AMQP_FRAME_METHOD) return 0;
  amqp_method_t *m = &f.payload.method;
  if (m->id == AMQP_CHANNEL_CLOSE_METHOD || m->id == AMQP_CONNECTION_CLOSE_METHOD)
    return server_closed(b, m, "consume", err);
  if (m->id == AMQP_BASIC_CANCEL_METHOD)
    return lost(b, "consume", "the broker canceled a consumer (queue deleted?)", err);
  return 0;
}

/* The delivery's weft-sig header against the key: out->sig_error. The
 * exchange and routing key are the broker's record of where it was
 * published, so a signed message moved elsewhere fails. */
static void check_signature(struct weft_broker *b, const amqp_envelope_t *env,
                            struct weft_broker_msg *out) {
  char sig[WEFT_QSIG_MAX] = "", ex[256], rk[256];
  int has = 0;
  const amqp_basic_properties_t *p = &env->message.properties;
  for (int i = 0; (p->_flags & AMQP_BASIC_HEADERS_FLAG) && i < p->headers.num_entries; i++) {
    const amqp_table_entry_t *h = &p->headers.entries[i];
    if (h->key.len != strlen(WEFT_QSIG_HEADER) ||
        memcmp(h->key.bytes, WEFT_QSIG_HEADER, h->key.len))
      continue;
    /* longstr (AMQP_FIELD_KIND_UTF8) or bytes; anything else is not ours */
    if ((h->value.kind == AMQP_FIELD_KIND_UTF8 || h->value.kind == AMQP_FIELD_KIND_BYTES) &&
        h->value.value.bytes.len < sizeof sig) {
      memcpy(sig, h->value.value.bytes.bytes, h->value.value.bytes.len);
      sig[h->value.value.bytes.len] = '\0';
    } else {
      snprintf(sig, sizeof sig, "not a v1 signature");
    }
    has = 1;
  }
  snprintf(ex, sizeof ex, "%.*s", (int)env->exchange.len, (const char *)env->exchange.bytes);
  snprintf(rk, sizeof rk, "%.*s", (int)env->routing_key.len,
           (const char *)env->routing_key.bytes);
  weft_qsig_verify(b->key, ex, rk, out->body, out->len, has ? sig : NULL, out->sig_error);
}

int weft_broker_next(struct weft_broker *b, int timeout_ms, struct weft_broker_msg *out,
                     weft_error *err) {
  memset(out, 0, sizeof *out);
  NEED_CONN(b, err);
  amqp_envelope_t env;
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  amqp_maybe_release_buffers(b->conn);
  amqp_rpc_reply_t r = amqp_consume_message(b->conn, &env, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    if (r.library_error == AMQP_STATUS_TIMEOUT) return 0;
    if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE) return other_frame(b, err);
    return lost(b, "consume", amqp_error_string2(r.library_error), err);
  }
  if (r.reply_type != AMQP_RESPONSE_NORMAL) return check_reply(b, r, "consume", err);
  out->body = malloc(env.message.body.len + 1);
  out->queue = bytes_dup(env.consumer_tag);
  if (out->body) {
    memcpy(out->body, env.message.body.bytes, env.message.body.len);
    out->body[env.message.body.len] = '\0';
  }
  out->len = env.message.body.len;
  out->tag = env.delivery_tag;
  out->redelivered = env.redelivered;
  out->gen = b->gen;
  if (b->key && out->body) check_signature(b, &env, out);
  amqp_destroy_envelope(&env);
  if (!out->body || !out->queue) {
    weft_broker_msg_release(out);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return 1;
}

int weft_broker_ack(struct weft_broker *b, const struct weft_broker_msg *m, weft_error *err) {
  if (m->gen != b->gen || !b->conn || b->broken) return WEFT_OK;
  int st = amqp_basic_ack(b->conn, CHANNEL, m->tag, 0);
  return st ? lost(b, "basic.ack", amqp_error_string2(st), err) : WEFT_OK;
}

int weft_broker_ack_upto(struct weft_broker *b, unsigned gen, uint64_t tag, int multiple,
                         weft_error *err) {
  if (gen != b->gen || !b->conn || b->broken) return WEFT_OK;
  int st = amqp_basic_ack(b->conn, CHANNEL, tag, multiple ? 1 : 0);
  return st ? lost(b, "basic.ack", amqp_error_string2(st), err) : WEFT_OK;
}

int weft_broker_fd(const struct weft_broker *b) {
  return b->conn && !b->broken ? amqp_get_sockfd(b->conn) : -1;
}

int weft_broker_buffered(const struct weft_broker *b) {
  return b->conn && !b->broken &&
         (amqp_data_in_buffer(b->conn) || amqp_frames_enqueued(b->conn));
}

int weft_broker_nack(struct weft_broker *b, const struct weft_broker_msg *m, int requeue,
                     weft_error *err) {
  if (m->gen != b->gen || !b->conn || b->broken) return WEFT_OK;
  int st = amqp_basic_reject(b->conn, CHANNEL, m->tag, requeue);
  return st ? lost(b, "basic.reject", amqp_error_string2(st), err) : WEFT_OK;
}

int weft_broker_depth(struct weft_broker *b, const char *queue, int64_t *messages,
                      int64_t *consumers, int *exists, weft_error *err) {
  *messages = *consumers = 0;
  *exists = 0;
  NEED_CONN(b, err);
  amqp_queue_declare_ok_t *ok = amqp_queue_declare(b->conn, CHANNEL, amqp_cstring_bytes(queue),
                                                   1, 0, 0, 0, amqp_empty_table);
  amqp_rpc_reply_t r = amqp_get_rpc_reply(b->conn);
  if (r.reply_type == AMQP_RESPONSE_NORMAL && ok) {
    *messages = ok->message_count;
    *consumers = ok->consumer_count;
    *exists = 1;
    return WEFT_OK;
  }
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
      ((amqp_channel_close_t *)r.reply.decoded)->reply_code == AMQP_NOT_FOUND) {
    /* 404 closes the channel: open it again (only this call's state). */
    amqp_channel_close_ok_t cok = {0};
    amqp_send_method(b->conn, CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &cok);
    amqp_channel_open(b->conn, CHANNEL);
    return rpc_ok(b, "channel.open", err);
  }
  return check_reply(b, r, "queue.declare (passive)", err);
}
