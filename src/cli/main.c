/* main.c: entry point of the weft binary, a thin call to weft_main
 * (src/cli/weft_main.c), which programs that embed weft call too. */
#include "weft.h"

int main(int argc, char **argv) { return weft_main(argc, argv); }
