/* ui_assets.h: the web UI (ui/ in the source tree), embedded in the binary.
 * The table is generated at build time by cmake/embed.cmake (KIND=ui) from
 * every file under ui/: index.html as "/", the others as "/ui/PATH"
 * ("/ui/app.js", "/ui/pages/run.js"). Each data array holds a NUL byte
 * past len. */
#ifndef WEFT_HTTP_UI_ASSETS_H
#define WEFT_HTTP_UI_ASSETS_H

#include <stddef.h>

struct weft_ui_asset { const char *path; const char *content_type; const unsigned char *data; size_t len; };

/* Terminated by an entry whose path is NULL. */
extern const struct weft_ui_asset weft_ui_assets[];

#endif
