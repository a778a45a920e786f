/* run_bulk.h: `weft run pin | unpin | delete | bulk` (cmd_run_bulk.c):
 * keeping runs from retention, deleting runs under its rules, and one
 * action over many run ids. */
#ifndef WEFT_CLI_RUN_BULK_H
#define WEFT_CLI_RUN_BULK_H

int cmd_run_pin(int argc, char **argv);
int cmd_run_unpin(int argc, char **argv);
int cmd_run_delete(int argc, char **argv);
int cmd_run_bulk(int argc, char **argv);

#endif
