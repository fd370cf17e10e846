/*
 * cmd_stream.c - `sluice stream`: standard input through a streaming
 * session to standard output, released as the session allows, with the
 * verdict as JSON on standard error (or --report FILE).
 *
 * Input is read in chunks of --chunk N bytes, or of random sizes drawn
 * from --random-chunks SEED (1..64 bytes), so policy authors can see the
 * holdback at work and tests can compare with `sluice check`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct stream_opts {
    const char *policy;
    const char *report;
    size_t chunk;
    uint64_t seed;
    int random;
    int exit_code;
    int show_held;
    cli_trust trust;       /* --trust, --allow-unsigned */
} stream_opts;

static void stream_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice stream -p POLICY [--chunk N | --random-chunks SEED]\n"
        "                     [--report FILE] [--exit-code] [--show-held]\n"
        "\n"
        "Pass standard input through a streaming session: text is written\n"
        "to standard output as soon as no pending match can cover it, with\n"
        "redactions applied; on a block the refusal is written and the\n"
        "stream ends. The verdict (JSON) goes to standard error.\n"
        "\n"
        "  -p, --policy PATH         policy directory or signed bundle\n"
        "      --chunk N             feed N bytes at a time (default 4096)\n"
        "      --random-chunks SEED  feed chunks of 1..64 bytes, sizes from SEED\n"
        "      --report FILE         write the verdict JSON to FILE instead\n"
        "      --exit-code           exit 1 if the stream was blocked\n"
        "      --show-held           after each feed, print to stderr how many\n"
        "                            bytes the session holds back\n"
        "  -h, --help                this help\n"
        CLI_TRUST_HELP
        "\n"
        "examples:\n"
        "  printf 'you are a sh' | sluice stream -p policies/baseline --chunk 1\n"
        "  some-llm | sluice stream -p baseline.bundle --trust policy.pub\n"
        "  some-llm | sluice stream -p policies/baseline --report verdict.json\n");
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int parse_stream_args(int argc, char **argv, stream_opts *o, int *help)
{
    static const struct option longopts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"chunk", required_argument, NULL, 'c'},
        {"random-chunks", required_argument, NULL, 'r'},
        {"report", required_argument, NULL, 'o'},
        {"exit-code", no_argument, NULL, 'x'},
        {"show-held", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        CLI_TRUST_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int c, t;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o->policy = optarg; break;
        case 'c':
            if (cli_parse_size(optarg, &o->chunk) != 0 || o->chunk == 0)
                return cli_fail("stream: --chunk: not a size: '%s'", optarg);
            break;
        case 'r':
            errno = 0;
            o->seed = strtoull(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0')
                return cli_fail("stream: --random-chunks: not a number: '%s'",
                    optarg);
            o->random = 1;
            break;
        case 'o': o->report = optarg; break;
        case 'x': o->exit_code = 1; break;
        case 's': o->show_held = 1; break;
        case 'h': *help = 1; return 0;
        default:
            if ((t = cli_trust_option(&o->trust, c, optarg)) > 0)
                break;
            if (t == 0)
                fprintf(stderr, "Try 'sluice stream --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (o->policy == NULL)
        return cli_fail("stream: a policy is required (-p POLICY)");
    if (optind < argc)
        return cli_fail("stream: unexpected argument '%s' (input is stdin)",
            argv[optind]);
    return 0;
}

static int write_out(const sluice_release *r)
{
    if (r->len > 0 && fwrite(r->data, 1, r->len, stdout) != r->len)
        return -1;
    return fflush(stdout) == 0 ? 0 : -1;
}

static int report(const stream_opts *o, const sluice_verdict *v)
{
    char *js = NULL;
    size_t n = 0;
    FILE *f = stderr;
    if (sluice_verdict_json(v, &js, &n) != 0)
        return cli_fail("out of memory");
    if (o->report != NULL && (f = fopen(o->report, "wb")) == NULL) {
        free(js);
        return cli_fail("%s: %s", o->report, strerror(errno));
    }
    int bad = fwrite(js, 1, n, f) != n || fputc('\n', f) == EOF;
    if (f != stderr && fclose(f) != 0)
        bad = 1;
    free(js);
    return bad ? cli_fail("writing the report: %s", strerror(errno)) : 0;
}

/* Feed stdin through s; returns 0, or an exit status on error. */
static int pump(sluice_session *s, const stream_opts *o, int *stopped)
{
    char buf[65536];
    uint64_t seed = o->seed;
    sluice_release r;
    for (;;) {
        size_t want = o->random ? 1 + (size_t)(next_rand(&seed) % 64) :
            (o->chunk < sizeof buf ? o->chunk : sizeof buf);
        size_t n = fread(buf, 1, want, stdin);
        if (n == 0) {
            if (ferror(stdin))
                return cli_fail("stream: reading standard input: %s",
                    strerror(errno));
            return 0;
        }
        int rc = sluice_session_feed(s, buf, n, &r);
        if (rc != 0)
            return cli_fail("stream: %s", sluice_strerror(rc));
        if (write_out(&r) != 0)
            return cli_fail("stream: writing output: %s", strerror(errno));
        if (o->show_held)
            fprintf(stderr, "held %zu\n", sluice_session_held(s));
        if (r.stop) {
            *stopped = 1;
            return 0;
        }
    }
}

int cmd_stream(int argc, char **argv)
{
    stream_opts o = {.chunk = 4096};
    int help = 0, rc, stopped = 0;
    sluice_policy *p = NULL;
    sluice_engine *e = NULL;
    sluice_session *s = NULL;
    sluice_verdict *v = NULL;
    sluice_error err;
    sluice_release r;

    memset(&err, 0, sizeof err);
    if ((rc = parse_stream_args(argc, argv, &o, &help)) != 0)
        return rc;
    if (help) {
        stream_usage(stdout);
        return EXIT_OK;
    }
    if (cli_load_policy_opts(o.policy, &o.trust, &p) != 0)
        return EXIT_USAGE;
    if (sluice_engine_new(&e, NULL, &err) != 0 ||
        sluice_engine_set_policy(e, p) != 0 ||
        sluice_session_new(&s, e, NULL, NULL, &err) != 0) {
        rc = cli_fail_err(&err);
        goto out;
    }
    if ((rc = pump(s, &o, &stopped)) != 0)
        goto out;
    if ((rc = sluice_session_finish(s, &r, &v)) != 0) {
        rc = cli_fail("stream: %s", sluice_strerror(rc));
        goto out;
    }
    if (!stopped && write_out(&r) != 0) {
        rc = cli_fail("stream: writing output: %s", strerror(errno));
        goto out;
    }
    if ((rc = report(&o, v)) != 0)
        goto out;
    rc = o.exit_code && sluice_verdict_action(v) == SLUICE_BLOCK ?
        EXIT_FAILED : EXIT_OK;
out:
    sluice_verdict_free(v);
    sluice_session_free(s);
    sluice_engine_free(e);
    sluice_policy_unref(p);
    return rc;
}
