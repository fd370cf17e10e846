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
int cmd_diff(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_bundle(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_receipt(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_fleet(int argc, char **argv);

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

/*
 * Trust options shared by every command that loads a policy (cli/
 * policy_load.c, docs/bundles.md): --trust PUB (repeatable) names the
 * public keys whose signed bundles load; --allow-unsigned lets an
 * untrusted bundle or a policy directory load unsigned anyway. A command
 * adds CLI_TRUST_LONGOPTS to its getopt_long table, passes unknown option
 * codes to cli_trust_option(), prints CLI_TRUST_HELP in its --help, and
 * loads with cli_load_policy_opts().
 */
#define CLI_TRUST_MAX 32
typedef struct cli_trust {
    const char *keys[CLI_TRUST_MAX];   /* --trust files, borrowed (argv) */
    size_t nkeys;
    int allow_unsigned;
} cli_trust;

#define CLI_OPT_TRUST 0x7101
#define CLI_OPT_ALLOW_UNSIGNED 0x7102
#define CLI_TRUST_LONGOPTS \
    {"trust", required_argument, NULL, CLI_OPT_TRUST}, \
    {"allow-unsigned", no_argument, NULL, CLI_OPT_ALLOW_UNSIGNED}
#define CLI_TRUST_HELP \
    "      --trust PUB       load only bundles signed by this key (a\n" \
    "                        PREFIX.pub from sluice keygen; repeatable); a\n" \
    "                        policy directory is then refused\n" \
    "      --allow-unsigned  development: load an untrusted bundle or a\n" \
    "                        directory anyway, as unsigned (\"signed\":false)\n"

/* Handle option `c` (from getopt_long) if it is a trust option: returns 1
   when handled, 0 when not ours, -1 after printing an error. */
int cli_trust_option(cli_trust *t, int c, const char *arg);

/*
 * Load the policy at `path` (bundle or directory) with the trust options
 * `t` (NULL: none), printing the error on failure. Returns 0 or -1.
 * With allow_unsigned, a bundle that loads unsigned is noted on stderr.
 */
int cli_load_policy_opts(const char *path, const cli_trust *t,
    sluice_policy **out);

/* Load the --trust keys into keys[] (t->nkeys of them, the caller frees
   each with sluice_key_free), printing the error on failure. 0 or -1. */
int cli_trust_keys(const cli_trust *t, sluice_key **keys);

#endif
