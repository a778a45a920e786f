/* signing.c: the queue signing key (read, checked, created on first use) and
 * the HMAC of broker messages (signing.h has the format). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "queue/signing.h"
#include "util/fs.h"
#include "util/str.h"

#define KEY_ENV "WEFT_QUEUE_SIGNING_KEY_FILE"
#define FILE_MAX 4096 /* a key file is small: more is not a key file */
static const char id_context[] = "weft queue key id";
static const char mac_context[] = "weft-sig-v1";

void weft_qsig_key_free(struct weft_qsig_key *k) {
  if (!k) return;
  sodium_memzero(k->k, sizeof k->k);
  free(k->file);
  free(k->origin);
  free(k);
}

static int init_sodium(weft_error *err) {
  if (sodium_init() < 0) return weft_error_set(err, WEFT_EIO, "libsodium failed to initialise");
  return WEFT_OK;
}

int weft_qsig_key_read(const char *path, const char *field, struct weft_qsig_key **out,
                       weft_error *err) {
  unsigned char buf[FILE_MAX + 1];
  struct weft_qsig_key *k = NULL;
  struct stat st;
  ssize_t n = 0, got;
  int rc, fd = -1;
  *out = NULL;
  if ((rc = init_sodium(err))) return rc;
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
    rc = weft_error_set(err, errno == ENOENT ? WEFT_ENOTFOUND : WEFT_EIO,
                        "%s: cannot read the queue signing key %s: %s", field, path,
                        strerror(errno));
    goto fail;
  }
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    rc = weft_error_set(err, WEFT_EINVALID, "%s: the queue signing key %s is not a regular file",
                        field, path);
    goto fail;
  }
  /* Like ssh with its private keys: a key others can read is no secret. */
  if (st.st_mode & 077) {
    rc = weft_error_set(err, WEFT_EINVALID,
                        "%s: the queue signing key %s has permissions %04o, too open: it must "
                        "be readable by its owner only (chmod 600 %s)",
                        field, path, (unsigned)(st.st_mode & 07777), path);
    goto fail;
  }
  while (n <= FILE_MAX && (got = read(fd, buf + n, sizeof buf - (size_t)n)) != 0) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      rc = weft_error_set(err, WEFT_EIO, "%s: cannot read the queue signing key %s: %s", field,
                          path, strerror(errno));
      goto fail;
    }
    n += got;
  }
  if (n > FILE_MAX || n < WEFT_QSIG_FILE_MIN) {
    rc = weft_error_set(err, WEFT_EINVALID,
                        "%s: the queue signing key %s holds %s%zd bytes: a key file holds %d "
                        "to %d (make one with: head -c 32 /dev/urandom | base64 > FILE; "
                        "chmod 600 FILE)",
                        field, path, n > FILE_MAX ? "more than " : "", n > FILE_MAX ? FILE_MAX : n,
                        WEFT_QSIG_FILE_MIN, FILE_MAX);
    goto fail;
  }
  /* An editor's or echo's trailing newline is not part of the key (the
   * size is checked before: 32 random bytes may end in one). */
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                   buf[n - 1] == '\t'))
    n--;
  if (!(k = calloc(1, sizeof *k)) || !(k->file = weft_str_dup(path)) ||
      !(k->origin = weft_str_dup(field))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  crypto_generichash(k->k, sizeof k->k, buf, (unsigned long long)n, NULL, 0);
  unsigned char id[8];
  crypto_generichash(id, sizeof id, (const unsigned char *)id_context, sizeof id_context - 1,
                     k->k, sizeof k->k);
  sodium_bin2hex(k->id, sizeof k->id, id, sizeof id);
  *out = k;
  k = NULL;
  rc = WEFT_OK;
fail:
  sodium_memzero(buf, sizeof buf);
  if (fd >= 0) close(fd);
  weft_qsig_key_free(k);
  return rc;
}

int weft_qsig_key_create(const char *path, weft_error *err) {
  unsigned char raw[32];
  char hex[65], *tmp = NULL;
  int rc = init_sodium(err), fd = -1;
  if (rc) return rc;
  randombytes_buf(raw, sizeof raw);
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  hex[64] = '\n';
  /* Written whole under a temporary name, then linked into place: a
   * process starting at the same moment reads either no file or the whole
   * key, and link() refuses to replace one that another process made. */
  if (!(tmp = weft_str_printf("%s.%ld.tmp", path, (long)getpid()))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
      write(fd, hex, sizeof hex) != (ssize_t)sizeof hex || fsync(fd)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot write the queue signing key %s: %s", tmp,
                        strerror(errno));
    goto done;
  }
  if (link(tmp, path) && errno != EEXIST)
    rc = weft_error_set(err, WEFT_EIO, "cannot create the queue signing key %s: %s", path,
                        strerror(errno));
done:
  if (fd >= 0) close(fd);
  if (tmp) unlink(tmp);
  free(tmp);
  sodium_memzero(raw, sizeof raw);
  sodium_memzero(hex, sizeof hex);
  return rc;
}

int weft_qsig_key_path(const struct weft_instance *inst, char **path, const char **origin,
                       int *is_default, weft_error *err) {
  const char *env = getenv(KEY_ENV);
  *is_default = 0;
  if (env && *env) {
    *path = weft_str_dup(env);
    *origin = "$" KEY_ENV;
  } else if (inst->queue_key_file) {
    *path = weft_str_dup(inst->queue_key_file);
    *origin = "queue.signing_key_file in weft.yaml";
  } else {
    *path = weft_fs_join(inst->home, "queue.key");
    *origin = "the instance's default queue signing key";
    *is_default = 1;
  }
  return *path ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
}

int weft_qsig_key_load(const struct weft_instance *inst, struct weft_qsig_key **out,
                       weft_error *err) {
  char *path = NULL;
  const char *origin;
  int is_default;
  *out = NULL;
  int rc = weft_qsig_key_path(inst, &path, &origin, &is_default, err);
  if (rc) return rc;
  rc = weft_qsig_key_read(path, origin, out, err);
  /* Single-host setups just work: the first process makes the key, the
   * others on this host read it. Workers elsewhere need a copy. */
  if (rc == WEFT_ENOTFOUND && is_default) {
    *err = (weft_error)WEFT_ERROR_INIT;
    rc = weft_qsig_key_create(path, err);
    if (!rc) rc = weft_qsig_key_read(path, origin, out, err);
  }
  free(path);
  return rc;
}

static void put_len(crypto_auth_hmacsha512256_state *st, uint64_t n, int bytes) {
  unsigned char b[8];
  for (int i = 0; i < bytes; i++) b[i] = (unsigned char)(n >> (8 * (bytes - 1 - i)));
  crypto_auth_hmacsha512256_update(st, b, (unsigned long long)bytes);
}

static void mac_of(const struct weft_qsig_key *k, const char *exchange, const char *routing_key,
                   const void *body, size_t len, unsigned char mac[32]) {
  crypto_auth_hmacsha512256_state st;
  size_t ne = strlen(exchange), nr = strlen(routing_key);
  crypto_auth_hmacsha512256_init(&st, k->k, sizeof k->k);
  crypto_auth_hmacsha512256_update(&st, (const unsigned char *)mac_context,
                                   sizeof mac_context - 1);
  put_len(&st, ne, 4);
  crypto_auth_hmacsha512256_update(&st, (const unsigned char *)exchange, ne);
  put_len(&st, nr, 4);
  crypto_auth_hmacsha512256_update(&st, (const unsigned char *)routing_key, nr);
  put_len(&st, len, 8);
  crypto_auth_hmacsha512256_update(&st, body, len);
  crypto_auth_hmacsha512256_final(&st, mac);
}

void weft_qsig_sign(const struct weft_qsig_key *k, const char *exchange,
                    const char *routing_key, const void *body, size_t len,
                    char out[WEFT_QSIG_MAX]) {
  unsigned char mac[32];
  char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  mac_of(k, exchange, routing_key, body, len, mac);
  sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  snprintf(out, WEFT_QSIG_MAX, "v1:%s:%s", k->id, b64);
}

int weft_qsig_verify(const struct weft_qsig_key *k, const char *exchange,
                     const char *routing_key, const void *body, size_t len, const char *sig,
                     char why[WEFT_QSIG_WHY_MAX]) {
  unsigned char want[32], got[32];
  size_t n = 0;
  const char *end = NULL;
  why[0] = '\0';
  if (!sig) {
    snprintf(why, WEFT_QSIG_WHY_MAX, "message signature is missing (no " WEFT_QSIG_HEADER
                                     " header)");
    return 0;
  }
  if (strncmp(sig, "v1:", 3) || strlen(sig) < 3 + 16 + 1 || sig[3 + 16] != ':') {
    snprintf(why, WEFT_QSIG_WHY_MAX, "message signature is invalid (not a v1:KEYID:MAC "
                                     WEFT_QSIG_HEADER " header)");
    return 0;
  }
  if (strncmp(sig + 3, k->id, 16)) {
    snprintf(why, WEFT_QSIG_WHY_MAX,
             "message signature is invalid (signed with key %.16s, this process has key %s: "
             "the queue signing key files differ)", sig + 3, k->id);
    return 0;
  }
  mac_of(k, exchange, routing_key, body, len, want);
  const char *b64 = sig + 3 + 16 + 1;
  if (sodium_base642bin(got, sizeof got, b64, strlen(b64), NULL, &n, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
      n != sizeof got || *end || sodium_memcmp(got, want, sizeof want)) {
    snprintf(why, WEFT_QSIG_WHY_MAX, "message signature is invalid (its HMAC does not match "
                                     "the content: forged or altered)");
    return 0;
  }
  return 1;
}
