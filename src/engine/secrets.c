/* secrets.c: secrets sealed with libsodium's XChaCha20-Poly1305 (never our
 * own crypto), the key file and its rotation, plain variables (secrets.h).
 * The steps' side (launch checks, resolution, masking) is secrets_step.c. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/secrets.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

#define SECRET_PREFIX "weft.secret."
#define VARIABLE_PREFIX "weft.variable."
#define AD_PREFIX "weft.secret.v1:"
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

int weft_secret_name_ok(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (!n || n > 128 || name[0] == '.') return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-' || *p == '.'))
      return 0;
  return 1;
}

static int sodium_ready(weft_error *err) {
  if (sodium_init() < 0) return weft_error_set(err, WEFT_EIO, "libsodium cannot start");
  return WEFT_OK;
}

static int check_name(const char *kind, const char *name, weft_error *err) {
  if (weft_secret_name_ok(name)) return WEFT_OK;
  return weft_error_set(err, WEFT_EINVALID, "%s name '%s' must be 1-128 letters, digits, '_', "
                        "'-' or '.', not starting with '.'", kind, name ? name : "");
}

/* ---- keys ---------------------------------------------------------------------------- */

void weft_secret_keyring_release(struct weft_secret_keyring *kr) {
  free(kr->file);
  sodium_memzero(kr, sizeof *kr);
}

static void key_id(const unsigned char key[WEFT_SECRET_KEY_BYTES], char out[17]) {
  static const unsigned char personal[] = "weft.secret.key-id";
  unsigned char h[16];
  crypto_generichash(h, sizeof h, key, WEFT_SECRET_KEY_BYTES, personal, sizeof personal - 1);
  sodium_bin2hex(out, 17, h, 8);
}

int weft_secret_key_parse(const char *text, unsigned char key[WEFT_SECRET_KEY_BYTES],
                          weft_error *err) {
  size_t got = 0;
  const char *end = NULL;
  while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r') text++;
  if (sodium_hex2bin(key, WEFT_SECRET_KEY_BYTES, text, strlen(text), NULL, &got, &end) ||
      got != WEFT_SECRET_KEY_BYTES || strspn(end, " \t\r\n") != strlen(end)) {
    sodium_memzero(key, WEFT_SECRET_KEY_BYTES);
    return weft_error_set(err, WEFT_EINVALID, "a secret key is 64 hex digits (32 bytes)");
  }
  return WEFT_OK;
}

/* Reads a key file, refusing one that others may read. */
static int read_key_file(const char *path, unsigned char key[WEFT_SECRET_KEY_BYTES],
                         weft_error *err) {
  struct stat st;
  if (stat(path, &st)) {
    if (errno == ENOENT)
      return weft_error_set(err, WEFT_ENOTFOUND, "no secret key: %s does not exist and "
                            "WEFT_SECRET_KEY is not set ('weft secret set' creates the file)",
                            path);
    return weft_error_set(err, WEFT_EIO, "secret key %s: %s", path, strerror(errno));
  }
  if (!S_ISREG(st.st_mode))
    return weft_error_set(err, WEFT_EINVALID, "secret key %s is not a file", path);
  if (st.st_mode & 077)
    return weft_error_set(err, WEFT_EINVALID, "secret key %s may be read by others (mode "
                          "%04o): chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
  struct weft_buf text = WEFT_BUF_INIT;
  int rc = weft_fs_read_file(path, &text, err);
  if (!rc && weft_secret_key_parse(text.ptr, key, err))
    rc = weft_error_set(err, WEFT_EINVALID, "secret key %s: not 64 hex digits", path);
  sodium_memzero(text.ptr, text.len);
  weft_buf_release(&text);
  return rc;
}

/* Writes key to path (mode 0600) durably; WEFT_ECONFLICT when it exists. */
static int write_key_file(const char *path, const unsigned char key[WEFT_SECRET_KEY_BYTES],
                          weft_error *err) {
  char hex[2 * WEFT_SECRET_KEY_BYTES + 2];
  sodium_bin2hex(hex, sizeof hex, key, WEFT_SECRET_KEY_BYTES);
  strcat(hex, "\n");
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = WEFT_OK;
  if (fd < 0) {
    rc = weft_error_set(err, errno == EEXIST ? WEFT_ECONFLICT : WEFT_EIO, "secret key %s: %s",
                        path, strerror(errno));
  } else {
    ssize_t n = write(fd, hex, strlen(hex));
    if (n != (ssize_t)strlen(hex) || fsync(fd))
      rc = weft_error_set(err, WEFT_EIO, "secret key %s: %s", path, strerror(errno));
    if (close(fd) && !rc) rc = weft_error_set(err, WEFT_EIO, "secret key %s: %s", path,
                                              strerror(errno));
    if (rc) unlink(path);
  }
  sodium_memzero(hex, sizeof hex);
  return rc;
}

int weft_secret_key_generate(const char *path, weft_error *err) {
  unsigned char key[WEFT_SECRET_KEY_BYTES];
  int rc = sodium_ready(err);
  if (rc) return rc;
  randombytes_buf(key, sizeof key);
  rc = write_key_file(path, key, err);
  sodium_memzero(key, sizeof key);
  return rc;
}

static char *pending_path(const char *file) { return weft_str_printf("%s.new", file); }

int weft_secret_keyring_load(const char *key_file, int create, struct weft_secret_keyring *kr,
                             weft_error *err) {
  memset(kr, 0, sizeof *kr);
  int rc = sodium_ready(err);
  if (rc) return rc;
  const char *env = getenv("WEFT_SECRET_KEY");
  if (env && *env) {
    if (weft_secret_key_parse(env, kr->keys[0], err))
      return weft_error_set(err, WEFT_EINVALID, "WEFT_SECRET_KEY must be 64 hex digits");
    key_id(kr->keys[0], kr->ids[0]);
    kr->n = 1;
    return WEFT_OK;
  }
  if (!key_file) return weft_error_set(err, WEFT_EINVALID, "no secret key file configured");
  if (create && !weft_fs_exists(key_file)) {
    rc = weft_secret_key_generate(key_file, err);
    if (rc && rc != WEFT_ECONFLICT) return rc; /* ECONFLICT: another process made it */
  }
  char *pending = pending_path(key_file);
  if (!pending || !(kr->file = weft_str_dup(key_file))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = read_key_file(key_file, kr->keys[0], err))) goto done;
  key_id(kr->keys[0], kr->ids[0]);
  kr->n = 1;
  /* A rotation cut short: its new key may seal the values already. */
  if (weft_fs_exists(pending)) {
    if ((rc = read_key_file(pending, kr->keys[1], err))) goto done;
    key_id(kr->keys[1], kr->ids[1]);
    kr->n = 2;
  }
done:
  free(pending);
  if (rc) weft_secret_keyring_release(kr);
  return rc;
}

/* ---- sealing ---------------------------------------------------------------------------- */

static char *secret_key(const char *name) { return weft_str_printf(SECRET_PREFIX "%s", name); }

/* The kv text of value sealed under name with key. NULL: out of memory. */
static char *seal(const unsigned char *key, const char *id, const char *name, const char *value,
                  size_t len) {
  char *ad = weft_str_printf(AD_PREFIX "%s", name), *text = NULL, *b64 = NULL;
  size_t total = NONCE_BYTES + len + TAG_BYTES;
  unsigned char *box = malloc(total);
  size_t b64_len = sodium_base64_ENCODED_LEN(total, sodium_base64_VARIANT_ORIGINAL);
  unsigned long long clen = 0;
  if (!ad || !box || !(b64 = malloc(b64_len))) goto done;
  randombytes_buf(box, NONCE_BYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt(box + NONCE_BYTES, &clen,
                                             (const unsigned char *)value, len,
                                             (const unsigned char *)ad, strlen(ad), NULL, box,
                                             key);
  sodium_bin2base64(b64, b64_len, box, NONCE_BYTES + (size_t)clen,
                    sodium_base64_VARIANT_ORIGINAL);
  json_t *o = json_pack("{s:i, s:s, s:s, s:I}", "v", 1, "key_id", id, "data", b64, "updated_ms",
                        (json_int_t)weft_clock_wall_ms());
  text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(o);
done:
  free(ad);
  free(box);
  free(b64);
  return text;
}

/* Opens the kv text raw of secret name with whichever key of kr fits. */
static int unseal(const struct weft_secret_keyring *kr, const char *name, const char *raw,
                  char **value, size_t *len, weft_error *err) {
  json_t *doc = json_loads(raw, 0, NULL);
  const char *b64 = json_string_value(json_object_get(doc, "data"));
  const char *id = json_string_value(json_object_get(doc, "key_id"));
  char *ad = weft_str_printf(AD_PREFIX "%s", name);
  size_t b64_len = b64 ? strlen(b64) : 0, bin_len = 0;
  unsigned char *bin = malloc(b64_len ? b64_len : 1);
  char *plain = NULL;
  unsigned long long plen = 0;
  int rc = WEFT_EINVALID;
  *value = NULL;
  *len = 0;
  if (!ad || !bin) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (!b64 || sodium_base642bin(bin, b64_len, b64, b64_len, NULL, &bin_len, NULL,
                                sodium_base64_VARIANT_ORIGINAL) ||
      bin_len < NONCE_BYTES + TAG_BYTES || !(plain = malloc(bin_len - NONCE_BYTES - TAG_BYTES + 1)))
    goto fail;
  /* The key the value names first; then the others (an older entry). */
  for (int pass = 0; pass < 2 && rc; pass++)
    for (int k = 0; k < kr->n && rc; k++) {
      if ((pass == 0) != (id && !strcmp(id, kr->ids[k]))) continue;
      if (!crypto_aead_xchacha20poly1305_ietf_decrypt(
              (unsigned char *)plain, &plen, NULL, bin + NONCE_BYTES, bin_len - NONCE_BYTES,
              (const unsigned char *)ad, strlen(ad), bin, kr->keys[k]))
        rc = WEFT_OK;
    }
  if (rc) goto fail;
  plain[plen] = '\0';
  *value = plain;
  *len = (size_t)plen;
  plain = NULL;
  goto done;
fail:
  /* Never the value, nor anything about it beyond its name. */
  rc = weft_error_set(err, WEFT_EINVALID, "cannot decrypt secret '%s': wrong key or corrupted",
                      name);
done:
  free(plain);
  free(bin);
  free(ad);
  json_decref(doc);
  return rc;
}

void weft_secret_free(char *value, size_t len) {
  if (value) sodium_memzero(value, len);
  free(value);
}

int weft_secret_set(struct weft_store *s, const struct weft_secret_keyring *kr, const char *name,
                    const char *value, size_t len, weft_error *err) {
  int rc = check_name("secret", name, err);
  if (rc) return rc;
  if (len > WEFT_SECRET_VALUE_MAX)
    return weft_error_set(err, WEFT_EINVALID, "secret '%s' is longer than %d bytes", name,
                          WEFT_SECRET_VALUE_MAX);
  if (!kr->n) return weft_error_set(err, WEFT_EINVALID, "no secret key loaded");
  if ((rc = sodium_ready(err))) return rc;
  char *text = seal(kr->keys[0], kr->ids[0], name, value, len), *key = secret_key(name);
  rc = text && key ? weft_store_kv_set(s, key, text, err)
                   : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  free(text);
  free(key);
  return rc;
}

int weft_secret_get(struct weft_store *s, const struct weft_secret_keyring *kr, const char *name,
                    char **value, size_t *len, weft_error *err) {
  char *raw = NULL, *key = secret_key(name);
  *value = NULL;
  *len = 0;
  int rc = key ? weft_store_kv_get(s, key, &raw, err)
               : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (rc == WEFT_ENOTFOUND) rc = weft_error_set(err, rc, "no secret '%s'", name);
  if (!rc) rc = sodium_ready(err);
  if (!rc) rc = unseal(kr, name, raw, value, len, err);
  free(raw);
  free(key);
  return rc;
}

int weft_secret_exists(struct weft_store *s, const char *name, weft_error *err) {
  char *raw = NULL, *key = secret_key(name);
  if (!key) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_store_kv_get(s, key, &raw, err);
  free(raw);
  free(key);
  return rc == WEFT_ENOTFOUND ? 0 : rc ? rc : 1;
}

int weft_secret_remove(struct weft_store *s, const char *name, weft_error *err) {
  int rc = weft_secret_exists(s, name, err);
  if (rc < 0) return rc;
  if (!rc) return weft_error_set(err, WEFT_ENOTFOUND, "no secret '%s'", name);
  char *key = secret_key(name);
  rc = key ? weft_store_kv_delete(s, key, err) : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  free(key);
  return rc;
}

/* Names (after prefix) and updated_ms of the entries under prefix; the
 * raw values too when values is not NULL (variables). */
static int list_entries(struct weft_store *s, const char *prefix, struct weft_secret_info **out,
                        char ***values, size_t *n, weft_error *err) {
  struct weft_kv_list l = {0};
  *out = NULL;
  *n = 0;
  if (values) *values = NULL;
  int rc = weft_store_kv_list(s, prefix, NULL, 0, &l, err);
  if (rc) return rc;
  if (l.n && (!(*out = calloc(l.n, sizeof **out)) ||
              (values && !(*values = calloc(l.n, sizeof **values))))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < l.n && !rc; i++) {
    json_t *o = json_loads(l.v[i].value, 0, NULL);
    struct weft_secret_info *e = &(*out)[(*n)++];
    e->name = weft_str_dup(l.v[i].key + strlen(prefix));
    e->updated_ms = (int64_t)json_integer_value(json_object_get(o, "updated_ms"));
    if (!e->updated_ms) e->updated_ms = l.v[i].updated_ms;
    const char *v = json_string_value(json_object_get(o, "value"));
    if (!e->name || (values && !((*values)[i] = weft_str_dup(v ? v : ""))))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    json_decref(o);
  }
done:
  weft_kv_list_release(&l);
  if (rc) {
    weft_variables_release(*out, values ? *values : NULL, *n);
    *out = NULL;
    if (values) *values = NULL;
    *n = 0;
  }
  return rc;
}

int weft_secret_list(struct weft_store *s, struct weft_secret_info **out, size_t *n,
                     weft_error *err) {
  return list_entries(s, SECRET_PREFIX, out, NULL, n, err);
}

void weft_secret_infos_release(struct weft_secret_info *v, size_t n) {
  weft_variables_release(v, NULL, n);
}

/* ---- rotation ------------------------------------------------------------------------- */

/* weft_secret_rekey; *at_commit says whether a failure came from the
 * commit (the new key may seal the values then) or before (nothing moved). */
static int rekey(struct weft_store *s, const struct weft_secret_keyring *kr,
                 const unsigned char new_key[WEFT_SECRET_KEY_BYTES], size_t *n_done,
                 int *at_commit, weft_error *err) {
  struct weft_kv_list l = {0};
  char new_id[17];
  size_t done = 0;
  int rc = sodium_ready(err);
  if (n_done) *n_done = 0;
  if (rc || (rc = weft_store_begin(s, err))) return rc;
  key_id(new_key, new_id);
  rc = weft_store_kv_list(s, SECRET_PREFIX, NULL, 0, &l, err);
  for (size_t i = 0; !rc && i < l.n; i++) {
    const char *name = l.v[i].key + strlen(SECRET_PREFIX);
    char *value = NULL, *text = NULL;
    size_t len = 0;
    if ((rc = unseal(kr, name, l.v[i].value, &value, &len, err))) break;
    if (!(text = seal(new_key, new_id, name, value, len)))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    else
      rc = weft_store_kv_compare_set(s, l.v[i].key, l.v[i].value, text, err);
    weft_secret_free(value, len);
    free(text);
    done += !rc;
  }
  weft_kv_list_release(&l);
  if (rc) {
    weft_store_rollback(s);
    return rc;
  }
  *at_commit = 1;
  if ((rc = weft_store_commit(s, err))) return rc;
  if (n_done) *n_done = done;
  return WEFT_OK;
}

int weft_secret_rekey(struct weft_store *s, const struct weft_secret_keyring *kr,
                      const unsigned char new_key[WEFT_SECRET_KEY_BYTES], size_t *n_done,
                      weft_error *err) {
  int at_commit = 0;
  return rekey(s, kr, new_key, n_done, &at_commit, err);
}

/* Makes kr hold key alone (the rotation's end). */
static void keyring_only(struct weft_secret_keyring *kr, const unsigned char *key) {
  unsigned char copy[WEFT_SECRET_KEY_BYTES];
  memcpy(copy, key, sizeof copy);
  sodium_memzero(kr->keys, sizeof kr->keys);
  memcpy(kr->keys[0], copy, sizeof copy);
  key_id(kr->keys[0], kr->ids[0]);
  kr->n = 1;
  sodium_memzero(copy, sizeof copy);
}

/* Re-seals with pending's key, then makes it the key file. fresh: pending
 * was written by this rotation (not left by one cut short, whose key may
 * seal the values already). */
static int finish_rotation(struct weft_store *s, struct weft_secret_keyring *kr,
                           const char *pending, const unsigned char *key, int fresh,
                           size_t *n_done, weft_error *err) {
  int at_commit = 0;
  int rc = rekey(s, kr, key, n_done, &at_commit, err);
  /* Nothing was sealed with a fresh key: it goes (after a failed commit it
   * stays, since the values may need it). */
  if (rc && fresh && !at_commit) unlink(pending);
  if (rc) return rc;
  if (rename(pending, kr->file))
    return weft_error_set(err, WEFT_EIO, "the secrets are sealed with the key in %s, but it "
                          "cannot replace %s: %s (run rotate-key again)", pending, kr->file,
                          strerror(errno));
  keyring_only(kr, key);
  return WEFT_OK;
}

int weft_secret_rotate(struct weft_store *s, struct weft_secret_keyring *kr,
                       const char *new_key_file, size_t *n_done, weft_error *err) {
  unsigned char key[WEFT_SECRET_KEY_BYTES];
  char *pending = NULL;
  int rc = sodium_ready(err);
  if (rc) return rc;
  if (!kr->file) { /* WEFT_SECRET_KEY: the new key must live somewhere */
    if (!new_key_file)
      return weft_error_set(err, WEFT_EINVALID, "the key comes from WEFT_SECRET_KEY: give the "
                            "new one as --new-key-file PATH, then set WEFT_SECRET_KEY to it");
    if ((rc = read_key_file(new_key_file, key, err))) return rc;
    if (!(rc = weft_secret_rekey(s, kr, key, n_done, err))) keyring_only(kr, key);
    sodium_memzero(key, sizeof key);
    return rc;
  }
  if (!(pending = pending_path(kr->file))) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  /* A rotation cut short is finished first: its key may seal the values. */
  if (kr->n == 2 && (rc = finish_rotation(s, kr, pending, kr->keys[1], 0, NULL, err))) goto done;
  if (new_key_file) {
    if ((rc = read_key_file(new_key_file, key, err))) goto done;
  } else {
    randombytes_buf(key, sizeof key);
  }
  /* The new key is on disk before any value depends on it. */
  unlink(pending);
  if ((rc = write_key_file(pending, key, err))) goto done;
  rc = finish_rotation(s, kr, pending, key, 1, n_done, err);
done:
  sodium_memzero(key, sizeof key);
  free(pending);
  return rc;
}

/* ---- variables ------------------------------------------------------------------------ */

static char *variable_key(const char *name) {
  return weft_str_printf(VARIABLE_PREFIX "%s", name);
}

int weft_variable_set(struct weft_store *s, const char *name, const char *value,
                      weft_error *err) {
  int rc = check_name("variable", name, err);
  if (rc) return rc;
  if (strlen(value) > WEFT_SECRET_VALUE_MAX)
    return weft_error_set(err, WEFT_EINVALID, "variable '%s' is longer than %d bytes", name,
                          WEFT_SECRET_VALUE_MAX);
  json_t *o = json_pack("{s:s, s:I}", "value", value, "updated_ms",
                        (json_int_t)weft_clock_wall_ms());
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *key = variable_key(name);
  rc = text && key ? weft_store_kv_set(s, key, text, err)
                   : weft_error_set(err, o ? WEFT_ENOMEM : WEFT_EINVALID,
                                    o ? "out of memory" : "variable '%s' is not UTF-8 text",
                                    name);
  json_decref(o);
  free(text);
  free(key);
  return rc;
}

int weft_variable_get(struct weft_store *s, const char *name, char **value, weft_error *err) {
  char *raw = NULL, *key = variable_key(name);
  *value = NULL;
  int rc = key ? weft_store_kv_get(s, key, &raw, err)
               : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (rc == WEFT_ENOTFOUND) rc = weft_error_set(err, rc, "no variable '%s'", name);
  if (!rc) {
    json_t *o = json_loads(raw, 0, NULL);
    const char *v = json_string_value(json_object_get(o, "value"));
    if (!v) rc = weft_error_set(err, WEFT_ESTORE, "the entry of variable '%s' is corrupt", name);
    else if (!(*value = weft_str_dup(v))) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    json_decref(o);
  }
  free(raw);
  free(key);
  return rc;
}

int weft_variable_remove(struct weft_store *s, const char *name, weft_error *err) {
  char *value = NULL;
  int rc = weft_variable_get(s, name, &value, err);
  free(value);
  if (rc) return rc;
  char *key = variable_key(name);
  rc = key ? weft_store_kv_delete(s, key, err) : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  free(key);
  return rc;
}

int weft_variable_list(struct weft_store *s, struct weft_secret_info **out, char ***values,
                       size_t *n, weft_error *err) {
  return list_entries(s, VARIABLE_PREFIX, out, values, n, err);
}

void weft_variables_release(struct weft_secret_info *v, char **values, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (v) free(v[i].name);
    if (values) free(values[i]);
  }
  free(v);
  free(values);
}
