/* broker.h: a thin connection to RabbitMQ over librabbitmq (AMQP 0-9-1): weft's
 * topology, persistent publishes with confirms, consuming, reconnecting. */
#ifndef WEFT_QUEUE_BROKER_H
#define WEFT_QUEUE_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "queue/signing.h"
#include "weft.h"

/* One connection with one channel. Every call that finds the connection
 * lost (broker restart, heartbeat timeout: the heartbeat is 10 s) marks it
 * broken and fails with WEFT_EIO; weft_broker_ensure then reconnects, with
 * a bounded backoff, and declares again everything declared so far (queues,
 * exchanges, consumers, qos, confirm mode). Not thread-safe. */
struct weft_broker;

/* One delivered message. body is owned (free with weft_broker_msg_release).
 * gen is the connection generation it came on: acking a message of an
 * earlier generation is a no-op (the broker already requeued it). */
struct weft_broker_msg {
  char *body;
  size_t len;
  uint64_t tag;
  int redelivered;
  char *queue; /* the queue it was consumed from (owned) */
  unsigned gen;
  /* With a signing key (weft_broker_sign_with): "" when the message's
   * weft-sig header is the key's valid signature, else why not
   * ("message signature is missing", ...: signing.h). */
  char sig_error[WEFT_QSIG_WHY_MAX];
};
void weft_broker_msg_release(struct weft_broker_msg *m);

/* Connects to url (amqp://USER:PASS@HOST:PORT/VHOST; amqp://HOST alone
 * means guest:guest on 5672, vhost /). A broker that is not ready (refused,
 * restarting, the link lost during the handshake, login or channel open)
 * is waited for, with backoff, up to 30 s (WEFT_AMQP_CONNECT_TIMEOUT_S; 0:
 * one attempt), then WEFT_EIO "RabbitMQ URL: cannot connect after N
 * attempts over T s: WHY". A refused login or vhost (403, 530) fails at
 * once, WEFT_EINVALID, with the broker's reply text. Free with
 * weft_broker_close (NULL is a no-op). */
int weft_broker_open(const char *url, struct weft_broker **out, weft_error *err);
void weft_broker_close(struct weft_broker *b);

/* Signs every message published from now on with key (borrowed; NULL:
 * none), and checks the signature of every message received: see
 * weft_broker_msg.sig_error. */
void weft_broker_sign_with(struct weft_broker *b, const struct weft_qsig_key *key);

/* The URL without its password ("amqp://guest@127.0.0.1:5672/"); borrowed. */
const char *weft_broker_display_url(const struct weft_broker *b);

/* Turns on publisher confirms: weft_broker_publish then returns only once
 * the broker confirmed the message (persisted for persistent messages). */
int weft_broker_confirms(struct weft_broker *b, weft_error *err);

/* Declares op queue NAME as durable weft.step.NAME, dead-lettering into
 * weft.dlx → weft.dead (both declared too). Cached: cheap when repeated. */
int weft_broker_declare_step_queue(struct weft_broker *b, const char *name, weft_error *err);

/* Declares an exclusive, auto-deleted queue with this exact name (a
 * coordinator's reply queue) and consumes it without acks. */
int weft_broker_consume_private(struct weft_broker *b, const char *name, weft_error *err);

/* Declares fanout exchange `exchange` (durable) and consumes a fresh
 * exclusive queue bound to it, without acks (cancel broadcasts). */
int weft_broker_subscribe_fanout(struct weft_broker *b, const char *exchange, weft_error *err);

/* basic.qos prefetch count (0: unlimited). */
int weft_broker_qos(struct weft_broker *b, int prefetch, weft_error *err);

/* Consumes queue (full name) with acks. */
int weft_broker_consume(struct weft_broker *b, const char *queue, weft_error *err);

/* basic.cancel of every acked consumer (weft_broker_consume): no new
 * deliveries; unacked ones stay ours until acked, nacked or disconnect. */
int weft_broker_stop_consuming(struct weft_broker *b, weft_error *err);

/* Publishes body to exchange ("" is the default exchange: routing_key is
 * then the queue name). persistent: delivery mode 2. With confirms on,
 * waits (up to 10 s) for the broker's ack; a nack is WEFT_EIO. */
int weft_broker_publish(struct weft_broker *b, const char *exchange, const char *routing_key,
                        const char *body, size_t len, int persistent, weft_error *err);

/* weft_broker_publish with the weft-sig header set to sig as is (NULL: no
 * header), whatever the key: for tests of forged and unsigned messages
 * (`weft queue publish-raw --signature/--unsigned`). */
int weft_broker_publish_as(struct weft_broker *b, const char *exchange, const char *routing_key,
                           const char *body, size_t len, int persistent, const char *sig,
                           weft_error *err);

/* Publishes n messages (bodies are NUL-terminated) to exchange, each with
 * its routing key, then, with confirms on, waits once for the broker to
 * confirm them all: far faster than n single publishes. On failure some may
 * have gone out: publish them all again (consumers must tolerate
 * duplicates). */
int weft_broker_publish_batch(struct weft_broker *b, const char *exchange,
                              const char *const *routing_keys, const char *const *bodies,
                              size_t n, int persistent, weft_error *err);

/* Waits up to timeout_ms (0: just look) for a delivery. Returns 1 with *out
 * filled, 0 on timeout, WEFT_EIO when the connection is lost (the broker
 * went away, or closed the channel: err says why). Also keeps the heartbeat
 * going. */
int weft_broker_next(struct weft_broker *b, int timeout_ms, struct weft_broker_msg *out,
                     weft_error *err);

/* Settles a delivery of generation m->gen (no-op, WEFT_OK, when the
 * connection was replaced since). */
int weft_broker_ack(struct weft_broker *b, const struct weft_broker_msg *m, weft_error *err);
int weft_broker_nack(struct weft_broker *b, const struct weft_broker_msg *m, int requeue,
                     weft_error *err);
/* basic.ack of delivery tag of generation gen; multiple: every unacked
 * delivery up to tag too (one frame for a group: the caller must hold
 * them all settled). A no-op when the connection was replaced since. */
int weft_broker_ack_upto(struct weft_broker *b, unsigned gen, uint64_t tag, int multiple,
                         weft_error *err);

/* For an event loop: the socket (-1 while disconnected), to poll for
 * POLLIN, and whether frames already read sit in the library's buffers
 * (then weft_broker_next(b, 0) has something without any socket read:
 * poll would not say so). */
int weft_broker_fd(const struct weft_broker *b);
int weft_broker_buffered(const struct weft_broker *b);

/* Ready messages and consumers of queue (full name), by passive declare;
 * *exists 0 when there is no such queue. */
int weft_broker_depth(struct weft_broker *b, const char *queue, int64_t *messages,
                      int64_t *consumers, int *exists, weft_error *err);

/* Whether the connection is up; a broken one is reconnected when the
 * backoff allows (100 ms doubling to 5 s between attempts). Returns WEFT_OK
 * when connected (again), WEFT_EIO while still down (without blocking more
 * than one connect attempt, ~2 s at most). */
int weft_broker_ensure(struct weft_broker *b, weft_error *err);
/* 1 when the last call found the connection lost. */
int weft_broker_broken(const struct weft_broker *b);
/* Incremented by every successful reconnect. */
unsigned weft_broker_generation(const struct weft_broker *b);

#endif
