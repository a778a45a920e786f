/* auth_gen.h: the generation of an instance's credentials: a counter bumped
 * by every change that may withdraw a credential (a token revoked, a
 * password changed, a user removed, a session ended), so that servers may
 * keep what they verified until the counter moves.
 *
 * Two copies of the counter, for two reaches:
 *   kv "weft.auth.generation"  in storage: every server of the instance
 *                              sees it (servers read it at most once a
 *                              second, so elsewhere a change takes effect
 *                              within that second);
 *   HOME/auth.generation       8 bytes mapped shared by the processes of
 *                              one machine (the CLI and the server): read
 *                              at every request, so on the machine where a
 *                              change is made it takes effect at once. */
#ifndef WEFT_ENGINE_AUTH_GEN_H
#define WEFT_ENGINE_AUTH_GEN_H

#include <stdint.h>

#include "store/store.h"

/* Bumps both copies (home may be NULL: storage only). */
int weft_auth_gen_bump(struct weft_store *s, const char *home, weft_error *err);
/* The storage copy (0 before the first bump). */
int weft_auth_gen_get(struct weft_store *s, int64_t *gen, weft_error *err);

/* HOME/auth.generation mapped for reading. */
struct weft_auth_gen_file {
  uint64_t *p; /* NULL: not mapped */
};
int weft_auth_gen_file_open(const char *home, struct weft_auth_gen_file *f, weft_error *err);
uint64_t weft_auth_gen_file_read(const struct weft_auth_gen_file *f);
void weft_auth_gen_file_close(struct weft_auth_gen_file *f);

#endif
