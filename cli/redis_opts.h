/*
 * redis_opts.h - the Redis options shared by the commands that talk to
 * Redis (check, publish, fleet, ledger verify|anchor): --redis ADDR,
 * --redis-prefix P, --redis-timeout MS, and the password from the
 * environment (SLUICE_REDIS_PASSWORD), so that it never shows in `ps`.
 * A command adds CLI_REDIS_LONGOPTS to its getopt_long table, passes
 * unknown option codes to cli_redis_option(), prints CLI_REDIS_HELP, and
 * opens the handle with cli_redis_open().
 */
#ifndef SLUICE_CLI_REDIS_OPTS_H
#define SLUICE_CLI_REDIS_OPTS_H

#include <stdint.h>

#include "sluice.h"

typedef struct cli_redis {
    const char *addr;         /* --redis, or NULL */
    const char *prefix;       /* --redis-prefix, or NULL (default) */
    uint32_t timeout_ms;      /* --redis-timeout, 0: default */
    int quiet;                /* 1: no warnings on stderr */
} cli_redis;

#define CLI_OPT_REDIS 0x7201
#define CLI_OPT_REDIS_PREFIX 0x7202
#define CLI_OPT_REDIS_TIMEOUT 0x7203
#define CLI_REDIS_LONGOPTS \
    {"redis", required_argument, NULL, CLI_OPT_REDIS}, \
    {"redis-prefix", required_argument, NULL, CLI_OPT_REDIS_PREFIX}, \
    {"redis-timeout", required_argument, NULL, CLI_OPT_REDIS_TIMEOUT}
#define CLI_REDIS_HELP \
    "      --redis ADDR      Redis: HOST:PORT, unix:/PATH or\n" \
    "                        redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]; the\n" \
    "                        password may come from SLUICE_REDIS_PASSWORD\n" \
    "      --redis-prefix P  prefix of every key and channel (default sluice:)\n" \
    "      --redis-timeout MS  bound on all Redis waiting of one check,\n" \
    "                        connecting included (default 50)\n"

/* Handle option `c` if it is a Redis option: 1 handled, 0 not ours, -1
   after printing an error. */
int cli_redis_option(cli_redis *o, int c, const char *arg);

/*
 * Open a handle for o (o->addr must be set), logging warnings and errors
 * to stderr as "sluice: ..." (info too with `verbose`). Returns 0, or -1
 * after printing the error.
 */
int cli_redis_open(const cli_redis *o, int verbose, sluice_redis **out);

#endif
