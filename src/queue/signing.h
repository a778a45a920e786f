/* signing.h: the HMAC that every message weft puts on RabbitMQ carries (step
 * messages, cancels, notices), and the instance's queue signing key.
 *
 * A message's AMQP header "weft-sig" holds "v1:KEYID:MAC": MAC is
 * HMAC-SHA-512-256 (libsodium crypto_auth) under the instance's key over
 *
 *   "weft-sig-v1" | u32 len | exchange | u32 len | routing key | u64 len | body
 *
 * (big-endian lengths), so a signed message moved to another queue or
 * exchange no longer verifies. KEYID (16 hex digits, a keyed BLAKE2b of a
 * constant: it reveals nothing of the key) names the key, so that a
 * receiver can tell "signed with another key" from "forged", and so that a
 * later version can hold several keys during a rotation.
 *
 * The key: $WEFT_QUEUE_SIGNING_KEY_FILE, else weft.yaml
 * queue.signing_key_file, else $WEFT_HOME/queue.key, created (0600, 32
 * random bytes as hex) the first time a process needs it. A key file must
 * be a regular file, readable by its owner only, of at least 32 bytes
 * (raw random bytes or any text); the key is the BLAKE2b-256 of its bytes
 * without trailing white space (so an editor's newline changes nothing). */
#ifndef WEFT_QUEUE_SIGNING_H
#define WEFT_QUEUE_SIGNING_H

#include <stddef.h>

#include "weft.h"

struct weft_instance;

#define WEFT_QSIG_HEADER "weft-sig"
#define WEFT_QSIG_FILE_MIN 32 /* bytes of key material a key file holds at least */
#define WEFT_QSIG_MAX 80      /* "v1:" + 16 + ":" + 43 + NUL, rounded up */
#define WEFT_QSIG_WHY_MAX 200

struct weft_qsig_key {
  unsigned char k[32];
  char id[17];  /* 16 hex digits */
  char *file;   /* where it was read from */
  char *origin; /* what named it: "$WEFT_QUEUE_SIGNING_KEY_FILE", ... */
};

/* Reads the key file at path; field names the setting in messages
 * ("queue.signing_key_file in /h/weft.yaml"). WEFT_ENOTFOUND when it does
 * not exist, WEFT_EINVALID when it is not a regular file, is open to group
 * or others, or too short, WEFT_EIO when unreadable; the message names
 * field and path. Free with weft_qsig_key_free (NULL is a no-op). */
int weft_qsig_key_read(const char *path, const char *field, struct weft_qsig_key **out,
                       weft_error *err);
void weft_qsig_key_free(struct weft_qsig_key *k);

/* Where the instance's key is (caller frees *path) and what names it
 * (static text or from *origin_buf): the environment, weft.yaml, or the
 * default HOME/queue.key (*is_default 1). */
int weft_qsig_key_path(const struct weft_instance *inst, char **path, const char **origin,
                       int *is_default, weft_error *err);

/* The instance's key (above); the default file is created when absent.
 * A file named by the environment or weft.yaml is never created. */
int weft_qsig_key_load(const struct weft_instance *inst, struct weft_qsig_key **out,
                       weft_error *err);

/* Creates path with a fresh random key, 0600, unless it exists (then
 * WEFT_OK too: another process was first). */
int weft_qsig_key_create(const char *path, weft_error *err);

/* The header value for body published to exchange with routing_key. */
void weft_qsig_sign(const struct weft_qsig_key *k, const char *exchange,
                    const char *routing_key, const void *body, size_t len,
                    char out[WEFT_QSIG_MAX]);

/* Checks header value sig (NULL: the message had none) of a delivery.
 * Returns 1 when it is k's valid signature, else 0 with why filled:
 * "message signature is missing", "message signature is invalid (...)",
 * or one naming both key ids when the sender used another key. The MAC is
 * compared in constant time. */
int weft_qsig_verify(const struct weft_qsig_key *k, const char *exchange,
                     const char *routing_key, const void *body, size_t len, const char *sig,
                     char why[WEFT_QSIG_WHY_MAX]);

#endif
