/* fuzz_instance_config.c: libFuzzer harness for $WEFT_HOME/weft.yaml: any
 * text through weft_instance_config_parse (storage, artifacts, broker,
 * run_queue, containers, server and auth: allowed hosts, proxy header,
 * trusted proxy blocks), then the parsed proxy blocks against addresses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dsl/dsl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct weft_instance_config cfg;
  struct weft_diags d = WEFT_DIAGS_INIT;
  if (weft_instance_config_parse("/weft/home", "weft.yaml", (const char *)data, size, &cfg, &d) ==
      WEFT_OK) {
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr);
    (void)weft_server_trusts_proxy(&cfg.server, &v4);
    (void)weft_server_trusts_proxy(&cfg.server, &v6);
    weft_instance_config_release(&cfg);
  }
  weft_diags_release(&d);
  return 0;
}
