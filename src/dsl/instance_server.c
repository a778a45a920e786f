/* instance_server.c: the `server:` section of $WEFT_HOME/weft.yaml, which
 * names the Host values `weft server|dev` answer besides their own address. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "dsl/dsl_int.h"
#include "util/str.h"

static const char *const server_keys[] = {"allowed_hosts", NULL};

/* "name", "name:port", "[v6]", "[v6]:port" or "*": what a Host header may
 * hold, without user info, path or spaces. */
static int host_entry_ok(const char *h) {
  if (!strcmp(h, "*")) return 1;
  const char *port = NULL;
  if (h[0] == '[') {
    const char *close = strchr(h, ']');
    if (!close || close == h + 1) return 0;
    for (const char *p = h + 1; p < close; p++)
      if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.') return 0;
    if (close[1] && close[1] != ':') return 0;
    port = close[1] ? close + 2 : NULL;
  } else {
    size_t n = strcspn(h, ":");
    if (!n || n > 253) return 0;
    for (size_t i = 0; i < n; i++)
      if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.') return 0;
    port = h[n] ? h + n + 1 : NULL;
  }
  if (!port) return 1;
  size_t digits = strspn(port, "0123456789");
  return digits && digits <= 5 && !port[digits] && atol(port) <= 65535;
}

void weft__parse_server_config(struct weft_diags *d, const struct weft__ynode *n,
                               struct weft_server_config *s, int *nomem) {
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "server must be a mapping (allowed_hosts), got %s",
                    weft__ynode_describe(n));
    return;
  }
  weft__dsl_check_keys(d, n, server_keys, "server");
  const struct weft__ynode *l = weft__ymap_get(n, "allowed_hosts", NULL);
  if (!l || weft__ynode_is_null(l)) return;
  if (l->kind != WEFT__Y_SEQ) {
    weft__dsl_error(d, l->mark, "server.allowed_hosts must be a list of host names "
                    "(such as [weft.example.com, \"weft.internal:8080\"]), got %s",
                    weft__ynode_describe(l));
    return;
  }
  if (!l->u.seq.n) return;
  if (!(s->allowed_hosts = calloc(l->u.seq.n, sizeof *s->allowed_hosts))) {
    *nomem = 1;
    return;
  }
  for (size_t i = 0; i < l->u.seq.n; i++) {
    const struct weft__ynode *h = l->u.seq.items[i];
    const char *t = h->kind == WEFT__Y_SCALAR ? weft__ynode_text(h) : NULL;
    if (!t || !host_entry_ok(t)) {
      weft__dsl_error(d, h->mark, "server.allowed_hosts[%zu] must be a host name with an "
                      "optional :port (or \"*\" for any), got %s", i,
                      t ? t : weft__ynode_describe(h));
      continue;
    }
    char *copy = weft_str_dup(t);
    if (!copy) {
      *nomem = 1;
      return;
    }
    for (char *p = copy; *p; p++) *p = (char)tolower((unsigned char)*p);
    s->allowed_hosts[s->n_allowed_hosts++] = copy;
  }
}

void weft__server_config_release(struct weft_server_config *s) {
  for (size_t i = 0; i < s->n_allowed_hosts; i++) free(s->allowed_hosts[i]);
  free(s->allowed_hosts);
  s->allowed_hosts = NULL;
  s->n_allowed_hosts = 0;
}
