/*
 * cmd_fleet.c - `sluice fleet status|worker` (docs/redis.md).
 *
 *   status   the fleet's current policy and every live worker's report:
 *            which policy each runs, whether it refused a bundle, when it
 *            last reported. --exit-code: 1 unless every worker runs the
 *            current bundle.
 *   worker   a worker on the command line: follows the fleet's policy
 *            (sluice_fleet_start: the current bundle, then hot reload) and
 *            checks each line of standard input, printing one JSON verdict
 *            per line, which names the policy it ran under. For trying a
 *            fleet out, and for tests.
 *
 * Exit status: 0; 1 (status --exit-code) a worker off the current policy;
 * 2 usage, input or Redis errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/redis_opts.h"

static void fleet_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice fleet status --redis ADDR [--json] [--exit-code]\n"
        "       sluice fleet worker --redis ADDR --trust PUB [--id ID]\n"
        "                           [--report S] [--verbose]\n"
        "\n"
        "status: the policy published to the fleet (sluice publish) and what\n"
        "each worker reports it runs.\n"
        "worker: run a worker that follows the fleet's policy and checks each\n"
        "line of standard input, printing one JSON verdict per line.\n"
        "\n"
        CLI_REDIS_HELP
        CLI_TRUST_HELP
        "      --json            status as JSON (one object)\n"
        "      --exit-code       status: exit 1 unless every worker runs the\n"
        "                        current policy\n"
        "      --id ID           worker: its id in status (default HOST:PID)\n"
        "      --report S        worker: its report lives S seconds, refreshed\n"
        "                        every S/3 (default 30)\n"
        "      --verbose         worker: log swaps on stderr\n"
        "  -h, --help            this help\n");
}

/* ---- status ------------------------------------------------------------- */

typedef struct status_ctx {
    const sluice_publish_info *cur;
    int json;
    size_t n, on_current, refused;
    int64_t now;
} status_ctx;

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int on_worker(const sluice_worker_status *w, void *payload)
{
    status_ctx *c = payload;
    int current = c->cur->hash[0] && strcmp(w->hash, c->cur->hash) == 0;
    c->on_current += current;
    c->refused += strcmp(w->state, "refused") == 0;
    if (c->json) {
        printf("%s{\"worker\":", c->n ? "," : "");
        json_str(w->worker);
        printf(",\"hash\":\"%s\",\"policy\":", w->hash);
        json_str(w->policy_id);
        printf(",\"version\":%lld,\"signed\":%s,\"current\":%s,\"state\":",
            (long long)w->version, w->is_signed ? "true" : "false",
            current ? "true" : "false");
        json_str(w->state);
        printf(",\"error\":");
        json_str(w->error);
        printf(",\"refused\":\"%s\",\"since_ms\":%lld,\"seen_ms\":%lld,"
            "\"ttl_ms\":%lld,\"host\":", w->refused, (long long)w->since_ms,
            (long long)w->seen_ms, (long long)w->ttl_ms);
        json_str(w->host);
        printf(",\"pid\":%lld}", (long long)w->pid);
    } else {
        char pol[160];
        snprintf(pol, sizeof pol, "%s v%lld", w->policy_id[0] ?
            w->policy_id : "-", (long long)w->version);
        printf("  %-24s %-20s %-12.12s %-8s %-10s %4llds ago\n", w->worker,
            pol, w->hash[0] ? w->hash : "-", current ? "current" : "OTHER",
            w->state, (long long)((c->now - w->seen_ms) / 1000));
        if (w->error[0])
            printf("    refused %.12s: %s\n", w->refused, w->error);
    }
    c->n++;
    return 0;
}

static int fleet_status(sluice_redis *r, int json, int exit_code)
{
    sluice_publish_info cur;
    sluice_error err;
    status_ctx c;
    int rc;
    memset(&err, 0, sizeof err);
    memset(&c, 0, sizeof c);
    c.cur = &cur;
    c.json = json;
    c.now = (int64_t)time(NULL) * 1000;
    if (json) {
        /* the current policy first, then the workers as they come */
        if ((rc = sluice_redis_fleet_status(r, &cur, NULL, NULL, &err)) != 0)
            return cli_fail_err(&err);
        printf("{\"current\":");
        if (cur.hash[0]) {
            printf("{\"hash\":\"%s\",\"id\":", cur.hash);
            json_str(cur.id);
            printf(",\"version\":%lld,\"size\":%llu,\"published_ms\":%lld}",
                (long long)cur.version, (unsigned long long)cur.size,
                (long long)cur.published_ms);
        } else {
            printf("null");
        }
        printf(",\"workers\":[");
    } else {
        if ((rc = sluice_redis_fleet_status(r, &cur, NULL, NULL, &err)) != 0)
            return cli_fail_err(&err);
        if (cur.hash[0])
            printf("current: policy %s version %lld, %llu bytes, published "
                "%lld s ago\n  hash %s\n", cur.id, (long long)cur.version,
                (unsigned long long)cur.size,
                (long long)((c.now - cur.published_ms) / 1000), cur.hash);
        else
            printf("current: nothing published\n");
        printf("workers:\n");
    }
    rc = sluice_redis_fleet_status(r, NULL, on_worker, &c, &err);
    if (rc != 0) {
        if (json)
            printf("]}\n");
        return cli_fail_err(&err);
    }
    if (json)
        printf("],\"on_current\":%zu,\"refused\":%zu}\n", c.on_current,
            c.refused);
    else if (c.n == 0)
        printf("  (none reporting)\n");
    else
        printf("%zu worker%s, %zu on the current policy, %zu refused a "
            "bundle\n", c.n, c.n == 1 ? "" : "s", c.on_current, c.refused);
    return exit_code && c.on_current != c.n ? EXIT_FAILED : EXIT_OK;
}

/* ---- worker ---------------------------------------------------------------- */

static int fleet_worker(sluice_redis *r, const cli_trust *trust,
    const char *id, uint32_t report_s, int verbose)
{
    sluice_fleet_options fo = SLUICE_FLEET_OPTIONS_INIT;
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_key *keys[CLI_TRUST_MAX];
    sluice_engine *e = NULL;
    sluice_fleet *f = NULL;
    sluice_error err;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = EXIT_OK;
    memset(&err, 0, sizeof err);
    if (cli_trust_keys(trust, keys) != 0)
        return EXIT_USAGE;
    po.trust = (const sluice_key *const *)keys;
    po.ntrust = trust->nkeys;
    po.allow_unsigned = trust->allow_unsigned;
    fo.policy = &po;
    fo.worker = id;
    fo.report_s = report_s;
    (void)verbose;
    if (sluice_engine_new(&e, NULL, &err) != 0 ||
        sluice_fleet_start(&f, e, r, &fo, &err) != 0)
        rc = cli_fail_err(&err);
    for (size_t i = 0; i < trust->nkeys; i++)
        sluice_key_free(keys[i]);
    while (rc == EXIT_OK && (n = getline(&line, &cap, stdin)) >= 0) {
        sluice_verdict *v = NULL;
        char *js = NULL;
        size_t len = 0;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        memset(&err, 0, sizeof err);
        if (sluice_check(e, line, (size_t)n, NULL, &v, &err) != 0) {
            /* no policy yet (fail-closed): say so, go on */
            printf("{\"error\":\"%s\"}\n", sluice_strerror(err.code));
        } else if (sluice_verdict_json(v, &js, &len) == 0) {
            fwrite(js, 1, len, stdout);
            putchar('\n');
            free(js);
        }
        sluice_verdict_free(v);
        if (fflush(stdout) != 0)
            rc = cli_fail("writing output: %s", strerror(errno));
    }
    free(line);
    sluice_fleet_stop(f);
    sluice_engine_free(e);
    return rc;
}

int cmd_fleet(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"exit-code", no_argument, NULL, 'x'},
        {"id", required_argument, NULL, 'i'},
        {"report", required_argument, NULL, 'r'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        CLI_TRUST_LONGOPTS,
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    cli_trust trust;
    cli_redis ro;
    sluice_redis *r = NULL;
    const char *id = NULL, *sub;
    unsigned long report = 0;
    int c, json = 0, exit_code = 0, verbose = 0, h, rc;
    char *end = NULL;

    memset(&trust, 0, sizeof trust);
    memset(&ro, 0, sizeof ro);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        fleet_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    sub = argv[1];
    if (strcmp(sub, "status") != 0 && strcmp(sub, "worker") != 0)
        return cli_fail("fleet: unknown subcommand '%s' (status, worker)",
            sub);
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'x': exit_code = 1; break;
        case 'i': id = optarg; break;
        case 'v': verbose = 1; break;
        case 'r':
            errno = 0;
            report = strtoul(optarg, &end, 10);
            if (errno || *end || report == 0 || report > 86400)
                return cli_fail("fleet: --report: seconds, 1..86400");
            break;
        case 'h': fleet_usage(stdout); return EXIT_OK;
        default:
            if ((h = cli_trust_option(&trust, c, optarg)) == 0)
                h = cli_redis_option(&ro, c, optarg);
            if (h < 0)
                return EXIT_USAGE;
            if (h == 0) {
                fprintf(stderr, "Try 'sluice fleet --help'.\n");
                return EXIT_USAGE;
            }
        }
    }
    if (optind != argc - 1)
        return cli_fail("fleet %s: unexpected argument '%s'", sub,
            argv[optind + 1]);
    if (ro.addr == NULL)
        return cli_fail("fleet: --redis ADDR is required");
    if (cli_redis_open(&ro, verbose, &r) != 0)
        return EXIT_USAGE;
    if (strcmp(sub, "status") == 0)
        rc = fleet_status(r, json, exit_code);
    else
        rc = fleet_worker(r, &trust, id, (uint32_t)report, verbose);
    sluice_redis_free(r);
    return rc;
}
