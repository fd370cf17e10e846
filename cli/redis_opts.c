/*
 * redis_opts.c - the Redis options every Redis-using command shares
 * (cli/redis_opts.h), and the log callback that prints the library's
 * Redis messages on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/redis_opts.h"

int cli_redis_option(cli_redis *o, int c, const char *arg)
{
    char *end = NULL;
    unsigned long v;
    switch (c) {
    case CLI_OPT_REDIS:
        o->addr = arg;
        return 1;
    case CLI_OPT_REDIS_PREFIX:
        o->prefix = arg;
        return 1;
    case CLI_OPT_REDIS_TIMEOUT:
        errno = 0;
        v = strtoul(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
            v == 0 || v > 3600000) {
            cli_fail("--redis-timeout: milliseconds, 1..3600000: '%s'", arg);
            return -1;
        }
        o->timeout_ms = (uint32_t)v;
        return 1;
    default:
        return 0;
    }
}

static void log_verbose(sluice_log_level level, const char *msg,
    void *payload)
{
    fprintf(stderr, "sluice: %s%s\n", level == SLUICE_LOG_ERROR ? "error: " :
        level == SLUICE_LOG_WARNING ? "warning: " : "", msg);
}

static void log_stderr(sluice_log_level level, const char *msg, void *payload)
{
    if (level != SLUICE_LOG_INFO)
        log_verbose(level, msg, payload);
}

int cli_redis_open(const cli_redis *o, int verbose, sluice_redis **out)
{
    sluice_redis_options ro = SLUICE_REDIS_OPTIONS_INIT;
    sluice_error err;
    const char *pw = getenv("SLUICE_REDIS_PASSWORD");
    memset(&err, 0, sizeof err);
    ro.addr = o->addr;
    ro.prefix = o->prefix;
    ro.timeout_ms = o->timeout_ms;
    ro.password = pw != NULL && pw[0] != '\0' ? pw : NULL;
    if (!o->quiet) {
        ro.log = verbose ? log_verbose : log_stderr;
    }
    if (sluice_redis_new(out, &ro, &err) != 0) {
        cli_fail_err(&err);
        return -1;
    }
    return 0;
}
