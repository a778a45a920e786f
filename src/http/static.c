/* static.c: what the server serves from memory: the web UI's files from the
 * embedded table (http/ui_assets.h), and the OpenAPI document. Nothing is
 * read from disk, so no path can reach outside what the tables name. */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "http/ui_assets.h"
#include "util/buf.h"

/* Until the UI's table is linked in, it is this empty one (a strong
 * definition anywhere replaces it; CMakeLists.txt links http whole). */
__attribute__((weak)) const struct weft_ui_asset weft_ui_assets[] = {{NULL, NULL, NULL, 0}};

/* cmake/embed_file.cmake, from src/http/openapi.json. */
extern const unsigned char weft_http_openapi_json[];
extern const size_t weft_http_openapi_json_len;

static const char placeholder[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>weft</title></head>\n<body>\n"
    "<h1>weft</h1>\n<p>The server is running, but this binary was built without its web "
    "UI.</p>\n<p>The API is described at <a href=\"/api/v1/openapi.json\">"
    "/api/v1/openapi.json</a>; try <a href=\"/api/v1/jobs\">/api/v1/jobs</a> and "
    "<a href=\"/api/v1/runs\">/api/v1/runs</a>.</p>\n</body></html>\n";

enum MHD_Result http_api_openapi(struct http_req *r) {
  return http_send_bytes(r, 200, "application/json", weft_http_openapi_json,
                         weft_http_openapi_json_len, 0);
}

/* The entry serving path ("/", "/ui/app.js"), or NULL. Table paths are
 * "/" for index.html and "/ui/FILE" for the others; a table that names
 * files without the leading "/ui/" is read the same way. */
static const struct weft_ui_asset *find_asset(const char *path) {
  for (const struct weft_ui_asset *a = weft_ui_assets; a->path; a++) {
    const char *p = a->path;
    if (!strcmp(p, path)) return a;
    if (!strcmp(path, "/") && (!strcmp(p, "index.html") || !strcmp(p, "/index.html") ||
                               !strcmp(p, "/ui/index.html")))
      return a;
    if (p[0] != '/' && !strncmp(path, "/ui/", 4) && !strcmp(path + 4, p)) return a;
  }
  return NULL;
}

enum MHD_Result http_api_static(struct http_req *r) {
  if (!weft_ui_assets[0].path)
    return http_send_bytes(r, 200, "text/html; charset=utf-8", placeholder,
                           sizeof placeholder - 1, 0);
  struct weft_buf path = WEFT_BUF_INIT;
  for (size_t i = 0; i < r->n_segs; i++) weft_buf_addf(&path, "/%s", r->segs[i]);
  if (!path.len) weft_buf_adds(&path, "/");
  const struct weft_ui_asset *a = find_asset(path.ptr);
  weft_buf_release(&path);
  /* Client-side routes (#/runs/ID is a fragment, but /ui/runs/ID may be
   * bookmarked too) get the page that reads them. */
  if (!a) a = find_asset("/");
  if (!a) return http_send_error(r, 404, NULL, "no such file in the web UI");
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          a->content_type ? a->content_type : "application/octet-stream");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  return http_queue(r, 200, resp);
}
