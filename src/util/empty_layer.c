/* empty_layer.c: keeps a layer library buildable while its folder is empty.
 * Removed from use as soon as the layer has sources of its own. */
typedef int weft__empty_layer;
