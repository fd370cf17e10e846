/*
 * cmd_publish.c - `sluice publish BUNDLE --redis ADDR`: make a signed
 * bundle the fleet's policy (docs/redis.md). The bundle is loaded first
 * (with --trust: its signature must verify with one of the keys, as the
 * workers will require), then stored in Redis, made current and its hash
 * announced, in one script; every subscribed worker fetches, checks and
 * swaps it in.
 *
 * Exit status: 0 published (or re-announced), 1 refused (a downgrade
 * without --force), 2 usage, input or Redis errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/redis_opts.h"

#define MAX_BUNDLE ((size_t)256 << 20)

static void publish_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice publish BUNDLE --redis ADDR [--trust PUB] [--force]\n"
        "                      [--json]\n"
        "\n"
        "Make BUNDLE (from 'sluice build') the policy of every engine that\n"
        "follows Redis ADDR: store it, make it current and announce it. Each\n"
        "worker checks the signature against its own trust keys before it\n"
        "swaps; a bundle they refuse leaves them on their policy.\n"
        "\n"
        CLI_REDIS_HELP
        CLI_TRUST_HELP
        "                        (without --trust the signature is not\n"
        "                        checked here, only that the bundle loads)\n"
        "      --force           publish a lower version of the current policy\n"
        "                        (a rollback); refused without it\n"
        "      --json            print the result as JSON\n"
        "  -h, --help            this help\n"
        "\n"
        "example:\n"
        "  sluice build policies/baseline -o baseline.bundle --sign team.key\n"
        "  sluice publish baseline.bundle --redis 127.0.0.1:6379 --trust team.pub\n"
        "  sluice fleet status --redis 127.0.0.1:6379\n");
}

static int read_bundle(const char *path, char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    int rc;
    if (f == NULL)
        return cli_fail("%s: %s", path, strerror(errno));
    rc = cli_read_all(f, MAX_BUNDLE, data, len);
    if (f != stdin)
        fclose(f);
    if (rc != 0)
        return cli_fail("%s: %s", path, errno == EFBIG ?
            "over 256 MiB" : strerror(errno));
    return 0;
}

static void print_result(const sluice_publish_info *in, const char *addr,
    int json)
{
    int same = strcmp(in->previous, in->hash) == 0;
    if (json) {
        printf("{\"hash\":\"%s\",\"id\":\"%s\",\"version\":%lld,\"size\":%llu,"
            "\"published_ms\":%lld,\"previous\":\"%s\",\"receivers\":%lld,"
            "\"republished\":%s}\n", in->hash, in->id,
            (long long)in->version, (unsigned long long)in->size,
            (long long)in->published_ms, same ? "" : in->previous,
            (long long)in->receivers, same ? "true" : "false");
        return;
    }
    if (same)
        printf("already current in %s: policy %s version %lld, announced "
            "again\n", addr, in->id, (long long)in->version);
    else
        printf("published to %s: policy %s version %lld, %llu bytes\n", addr,
            in->id, (long long)in->version, (unsigned long long)in->size);
    printf("  hash      %s\n", in->hash);
    if (!same)
        printf("  replaces  %s\n", in->previous[0] ? in->previous :
            "(nothing: the first)");
    printf("  %lld subscriber%s notified\n", (long long)in->receivers,
        in->receivers == 1 ? "" : "s");
}

int cmd_publish(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        CLI_TRUST_LONGOPTS,
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_key *keys[CLI_TRUST_MAX];
    sluice_publish_info info;
    sluice_redis *r = NULL;
    sluice_error err;
    cli_trust trust;
    cli_redis ro;
    char *data = NULL;
    size_t len = 0;
    int c, force = 0, json = 0, rc, h;

    memset(&trust, 0, sizeof trust);
    memset(&ro, 0, sizeof ro);
    memset(&err, 0, sizeof err);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': force = 1; break;
        case 'j': json = 1; break;
        case 'h': publish_usage(stdout); return EXIT_OK;
        default:
            if ((h = cli_trust_option(&trust, c, optarg)) == 0)
                h = cli_redis_option(&ro, c, optarg);
            if (h < 0)
                return EXIT_USAGE;
            if (h == 0) {
                fprintf(stderr, "Try 'sluice publish --help'.\n");
                return EXIT_USAGE;
            }
        }
    }
    if (argc - optind != 1)
        return cli_fail("publish: one bundle file is required");
    if (ro.addr == NULL)
        return cli_fail("publish: --redis ADDR is required");
    if ((rc = read_bundle(argv[optind], &data, &len)) != 0)
        return rc;
    if (cli_trust_keys(&trust, keys) != 0) {
        free(data);
        return EXIT_USAGE;
    }
    po.trust = (const sluice_key *const *)keys;
    po.ntrust = trust.nkeys;
    po.allow_unsigned = trust.allow_unsigned || trust.nkeys == 0;
    if (trust.nkeys == 0)
        fprintf(stderr, "sluice: note: no --trust: the bundle's signature "
            "is not checked before publishing\n");
    rc = cli_redis_open(&ro, 0, &r);
    if (rc == 0) {
        rc = sluice_redis_publish(r, data, len, &po, force, &info, &err);
        if (rc == 0)
            print_result(&info, ro.addr, json);
        else if (info.refused)
            rc = (cli_fail_err(&err), EXIT_FAILED);
        else
            rc = cli_fail_err(&err);
    } else {
        rc = EXIT_USAGE;
    }
    for (size_t i = 0; i < trust.nkeys; i++)
        sluice_key_free(keys[i]);
    sluice_redis_free(r);
    free(data);
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = cli_fail("writing output: %s", strerror(errno));
    return rc;
}
