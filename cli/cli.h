/*
 * cli.h - shared pieces of the sluice command: the subcommand table and
 * helpers for reading input and reporting errors. The command is built on
 * the public header alone.
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stddef.h>
#include <stdio.h>
#include "sluice.h"

/* Exit statuses (DESIGN.md): success, check failed, usage or input error. */
#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_cmd;

int cmd_check(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_receipt(int argc, char **argv);

/* Print "sluice: " + message to stderr; returns EXIT_USAGE. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a library error as "sluice: file:line: message". */
int cli_fail_err(const sluice_error *err);

/*
 * Read all of `f` (at most `max` bytes). Returns 0, or -1 with errno set
 * (EFBIG when over `max`). *out is malloc'd and NUL-terminated.
 */
int cli_read_all(FILE *f, size_t max, char **out, size_t *len);

/* Parse a size like 16M, 512k, 1048576. Returns 0 or -1. */
int cli_parse_size(const char *s, size_t *out);

/* Load a policy, printing the error on failure. */
int cli_load_policy(const char *path, sluice_policy **out);

#endif
