/* secrets.h: an instance's secrets (encrypted at rest) and plain variables,
 * kept in the store's kv state, so every process sharing the storage sees
 * the same; and how steps get them (env, files) and how their values are
 * masked wherever weft writes something down.
 *
 *   kv "weft.secret.NAME"    {"v":1, "key_id":"16 hex", "data":"BASE64",
 *                             "updated_ms"}
 *        data = nonce (24 bytes) || XChaCha20-Poly1305 ciphertext of the
 *        value, with "weft.secret.v1:NAME" as associated data: a value
 *        copied under another name does not open.
 *   kv "weft.variable.NAME"  {"value":"...", "updated_ms"}
 *
 * The key is 32 bytes, written as 64 hex digits: WEFT_SECRET_KEY when set,
 * else the key file (weft.yaml secrets.key_file, default HOME/secret.key,
 * mode 0600; `weft secret set` creates it when missing). It is never
 * stored in the database. key_id (the first 8 bytes of a BLAKE2b hash of
 * the key) says which key sealed a value.
 *
 * Key rotation (weft_secret_rotate), safe to interrupt at any point:
 *
 *   KEYFILE (old) ──write KEYFILE.new──> both files ──one transaction:
 *   every value re-sealed with the new key──> values new, KEYFILE old,
 *   KEYFILE.new new ──rename KEYFILE.new over KEYFILE──> done
 *
 * Readers load KEYFILE.new too when it exists, and open each value with
 * the key its key_id names, so every state above reads every secret; a
 * rotation started again finishes one that was cut short. */
#ifndef WEFT_ENGINE_SECRETS_H
#define WEFT_ENGINE_SECRETS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "exec/exec.h"
#include "store/store.h"
#include "util/mask.h"

#define WEFT_SECRET_KEY_BYTES 32
#define WEFT_SECRET_VALUE_MAX (1 << 20) /* 1 MiB */

/* The keys a process holds: keys[0] seals, every one opens (a rotation
 * cut short leaves two). */
struct weft_secret_keyring {
  unsigned char keys[2][WEFT_SECRET_KEY_BYTES];
  char ids[2][17];
  int n;
  char *file;     /* the key file in use, or NULL: WEFT_SECRET_KEY */
};
void weft_secret_keyring_release(struct weft_secret_keyring *kr);

/* A secret or variable name: 1-128 of letters, digits, '_', '-', '.', not
 * starting with '.' (it names a file in WEFT_SECRETS_DIR). */
int weft_secret_name_ok(const char *name);

/* Parses 64 hex digits (surrounding white space allowed) into key. */
int weft_secret_key_parse(const char *text, unsigned char key[WEFT_SECRET_KEY_BYTES],
                          weft_error *err);
/* Writes a new random key (64 hex digits) to path, mode 0600, durably;
 * WEFT_ECONFLICT when path exists. */
int weft_secret_key_generate(const char *path, weft_error *err);
/* Loads the keys: WEFT_SECRET_KEY when set, else key_file (and
 * key_file.new, left by a rotation cut short). create: make key_file
 * when it does not exist. A key file others may read is refused. */
int weft_secret_keyring_load(const char *key_file, int create, struct weft_secret_keyring *kr,
                             weft_error *err);

/* ---- secrets ---- */

/* Seals value (len bytes, at most WEFT_SECRET_VALUE_MAX) under name. */
int weft_secret_set(struct weft_store *s, const struct weft_secret_keyring *kr, const char *name,
                    const char *value, size_t len, weft_error *err);
/* The value (*value NUL-terminated, caller frees with weft_secret_free),
 * WEFT_ENOTFOUND for no such secret, WEFT_EINVALID ("cannot decrypt
 * secret 'x': wrong key or corrupted") when no key opens it. */
int weft_secret_get(struct weft_store *s, const struct weft_secret_keyring *kr, const char *name,
                    char **value, size_t *len, weft_error *err);
/* Wipes and frees a value weft_secret_get returned. */
void weft_secret_free(char *value, size_t len);
int weft_secret_remove(struct weft_store *s, const char *name, weft_error *err);
/* 1 when the secret exists, 0 when not, < 0 when the store failed. */
int weft_secret_exists(struct weft_store *s, const char *name, weft_error *err);

struct weft_secret_info {
  char *name;
  int64_t updated_ms;
};
/* Names and times, by name; release with weft_secret_infos_release. */
int weft_secret_list(struct weft_store *s, struct weft_secret_info **out, size_t *n,
                     weft_error *err);
void weft_secret_infos_release(struct weft_secret_info *v, size_t n);

/* Re-seals every secret with new_key in one transaction (all or none);
 * *n_done (may be NULL) counts them. A value no key of kr opens stops it,
 * naming the secret. */
int weft_secret_rekey(struct weft_store *s, const struct weft_secret_keyring *kr,
                      const unsigned char new_key[WEFT_SECRET_KEY_BYTES], size_t *n_done,
                      weft_error *err);
/* The whole rotation of the diagram above for the key file kr->file:
 * new_key_file (NULL: a fresh random key) is copied to KEYFILE.new, values
 * are re-sealed, KEYFILE.new replaces KEYFILE. With WEFT_SECRET_KEY (no
 * file) new_key_file is required and kept: point WEFT_SECRET_KEY at it. */
int weft_secret_rotate(struct weft_store *s, struct weft_secret_keyring *kr,
                       const char *new_key_file, size_t *n_done, weft_error *err);

/* ---- variables ---- */

int weft_variable_set(struct weft_store *s, const char *name, const char *value,
                      weft_error *err);
/* WEFT_ENOTFOUND for no such variable; caller frees *value. */
int weft_variable_get(struct weft_store *s, const char *name, char **value, weft_error *err);
int weft_variable_remove(struct weft_store *s, const char *name, weft_error *err);
/* Names, values and times by name (info.name; values in *values, caller
 * releases both with weft_variables_release). */
int weft_variable_list(struct weft_store *s, struct weft_secret_info **out, char ***values,
                       size_t *n, weft_error *err);
void weft_variables_release(struct weft_secret_info *v, char **values, size_t n);

/* ---- steps ---- */

/* At launch: every secret and variable the ops of job that run (in_run,
 * NULL: all) name exists; else WEFT_ENOTFOUND naming the op and the name. */
int weft_secrets_check_job(struct weft_store *s, const struct weft_job *job,
                           const unsigned char *in_run, weft_error *err);
/* Whether def names any secret (then a step needs the key). */
int weft_secrets_op_uses(const struct weft_op_def *def);
/* Resolves def's env secret/variable references and secret files into
 * out (release with weft_step_secrets_release) and adds the secret values
 * to mask (which out->mask then points at). kr may be NULL when def names
 * no secret. Errors name the op and the secret. */
int weft_secrets_resolve_step(struct weft_store *s, const struct weft_secret_keyring *kr,
                              const struct weft_op_def *def, struct weft_mask *mask,
                              struct weft_step_secrets *out, weft_error *err);
void weft_step_secrets_release(struct weft_step_secrets *sec);

/* Replaces every secret value of m in the strings (and keys) of v, in
 * place. WEFT_OK or WEFT_ENOMEM. */
int weft_secrets_mask_json(const struct weft_mask *m, json_t *v);

#endif
