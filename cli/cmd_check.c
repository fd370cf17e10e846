/*
 * cmd_check.c - `sluice check`: one verdict for one text, or one verdict
 * per line of a JSONL file (each line an object with a "text" field and
 * optionally an "id").
 *
 * Output is human-readable by default and one JSON object per verdict
 * with --json. Exit status: 0, or 1 with --exit-code when any verdict is
 * a block, or 2 for usage and input errors.
 *
 * With --redis (docs/redis.md): without -p the policy is the fleet's
 * current bundle (checked with --trust like any bundle); --cache uses the
 * verdict cache; with --subject, blocks are counted and escalated as the
 * policy's `escalation:` section says, or as --strikes/--escalate say;
 * --redis-anchor anchors the ledger's checkpoints. What Redis did is in
 * the verdict ("cache", "strikes", "suspend" in its JSON).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/redis_opts.h"

#define DEFAULT_MAX_INPUT ((size_t)16 << 20)

typedef struct check_opts {
    const char *policy;
    const char *jsonl;
    int json;
    int exit_code;
    size_t max_input;
    const char *ledger;        /* --ledger DIR */
    const char *ledger_key;    /* --ledger-key PREFIX.key */
    const char *digest_key;    /* --digest-key FILE */
    int durable;
    /* Redis (docs/redis.md) */
    cli_redis redis;
    int cache;                 /* --cache */
    uint32_t cache_ttl;        /* --cache-ttl S */
    size_t cache_min;          /* --cache-min SIZE */
    int strikes;               /* --strikes, or implied by --escalate */
    sluice_escalation esc;     /* --escalate SPEC */
    int strikes_closed;        /* --strikes-fail closed */
    int anchor;                /* --redis-anchor */
    sluice_meta meta;          /* --tenant, --subject */
} check_opts;

static void check_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice check -p POLICY [--trust PUB] [--json] [--exit-code]\n"
        "                    [TEXT | -]\n"
        "       sluice check -p POLICY --jsonl FILE [--json] [--exit-code]\n"
        "       sluice check ... --ledger DIR --ledger-key PREFIX.key\n"
        "                        [--digest-key FILE] [--durable]\n"
        "       sluice check --redis ADDR --trust PUB [...]   (the fleet's policy)\n"
        "       sluice check ... --redis ADDR [--cache] [--subject S --escalate SPEC]\n"
        "\n"
        "Check a text against a policy and print the verdict: the action\n"
        "(allow, flag, label, redact, block), the rules that fired, their\n"
        "spans as byte offsets in the input, and the text to release.\n"
        "\n"
        "  -p, --policy PATH     signed bundle (sluice build), or a policy\n"
        "                        directory (or its policy.yaml): unsigned\n"
        CLI_TRUST_HELP
        "      --json            print the verdict as one line of JSON\n"
        "      --jsonl FILE      check each line of FILE ('-': stdin), a JSON\n"
        "                        object with \"text\" and optional \"id\"\n"
        "      --exit-code       exit 1 if any verdict is block\n"
        "      --max-input SIZE  refuse inputs over SIZE bytes (default 16M;\n"
        "                        suffixes k, M, G)\n"
        "      --ledger DIR      record each verdict in the signed ledger in DIR\n"
        "                        (created if missing; docs/ledger.md); if it\n"
        "                        cannot be recorded, the verdict is a block\n"
        "      --ledger-key KEY  signing key for the ledger (sluice keygen)\n"
        "      --digest-key FILE digest key (default: derived from KEY)\n"
        "      --durable         sync each record before printing its verdict\n"
        "\n"
        "Redis (docs/redis.md):\n"
        CLI_REDIS_HELP
        "                        without -p, check with the bundle published\n"
        "                        to the fleet (sluice publish), with --trust\n"
        "      --cache           use the verdict cache (keyed with --digest-key,\n"
        "                        else the ledger key's digest key)\n"
        "      --cache-ttl S     seconds an entry lives (default 3600)\n"
        "      --cache-min SIZE  outputs shorter than SIZE skip the cache\n"
        "      --tenant T, --subject S   who the output is for (metadata);\n"
        "                        with --subject, blocks are counted per\n"
        "                        tenant and subject and escalated as the\n"
        "                        policy's escalation: section says\n"
        "      --strikes         count blocked verdicts of --subject even if\n"
        "                        the policy declares no escalation\n"
        "      --escalate SPEC   escalate as SPEC, not as the policy says:\n"
        "                        row=N,count=N,window=DUR,suspend=DUR[,mark];\n"
        "                        DUR is 30s, 10m, 1h, 1d; a suspended\n"
        "                        subject's outputs are blocked (with mark:\n"
        "                        only marked \"suspend\":true)\n"
        "      --strikes-fail closed|open  Redis down: block, or not (default)\n"
        "      --redis-anchor    anchor each ledger checkpoint in Redis\n"
        "  -h, --help            this help\n"
        "\n"
        "TEXT is checked as given; with '-' or no TEXT, standard input is.\n"
        "Invalid UTF-8 is read as U+FFFD and reported, not refused.\n"
        "\n"
        "examples:\n"
        "  sluice check -p policies/baseline 'call me at 13812345678'\n"
        "  echo '你这个傻逼' | sluice check -p policies/baseline --json -\n"
        "  sluice check -p policies/baseline --jsonl examples/outputs.jsonl\n"
        "  sluice check -p baseline.bundle --trust policy.pub 'some output'\n"
        "  sluice check -p policies/baseline --ledger ./ledger \\\n"
        "      --ledger-key ledger.key --json 'some output'\n"
        "  sluice check --redis 127.0.0.1:6379 --trust policy.pub 'some output'\n"
        "  sluice check -p policies/baseline --redis 127.0.0.1:6379 \\\n"
        "      --subject u42 --escalate row=3,suspend=1h 'some output'\n");
}

static void print_state(const sluice_state_info *st)
{
    if (st->cache != SLUICE_CACHE_OFF)
        printf("  cache: %s\n", sluice_cache_status_name(st->cache));
    if (st->strikes < 0)
        printf("  strikes: unavailable\n");
    else if (st->strikes > 0)
        printf("  strikes: %u in a row, %u in the window%s\n", st->row,
            st->window, st->suspended ? "; subject suspended" : "");
    if (st->suspended)
        printf("  suspended for %.1f s more\n", st->suspended_ms / 1000.0);
}

static void print_human(const sluice_verdict *v, const char *id)
{
    size_t n = sluice_verdict_rule_count(v), len = 0;
    const char *out = sluice_verdict_output(v, &len);
    if (id != NULL)
        printf("%s: ", id);
    printf("%s", sluice_action_name(sluice_verdict_action(v)));
    for (size_t i = 0; i < n; i++)
        printf(i ? ", %s" : " (%s", sluice_verdict_rule(v, i));
    if (n > 0)
        printf(")");
    if (sluice_verdict_invalid_utf8(v) > 0)
        printf(" [%zu invalid UTF-8 sequences]", sluice_verdict_invalid_utf8(v));
    printf("\n  ");
    fwrite(out, 1, len, stdout);
    printf("\n");
}

static int print_json(const sluice_verdict *v, const char *id)
{
    char *js = NULL;
    size_t len = 0;
    if (sluice_verdict_json(v, &js, &len) != 0)
        return cli_fail("out of memory");
    if (id != NULL) {
        cJSON *s = cJSON_CreateString(id);
        char *ids = s ? cJSON_PrintUnformatted(s) : NULL;
        cJSON_Delete(s);
        if (ids == NULL) {
            free(js);
            return cli_fail("out of memory");
        }
        printf("{\"id\":%s,", ids);
        fwrite(js + 1, 1, len - 1, stdout);
        cJSON_free(ids);
    } else {
        fwrite(js, 1, len, stdout);
    }
    putchar('\n');
    free(js);
    return 0;
}

/* Check one text; returns the action, or a negative value on error. */
static int check_one(sluice_engine *e, const check_opts *o, const char *text,
    size_t len, const char *id, const char *where)
{
    sluice_verdict *v = NULL;
    sluice_state_info st;
    sluice_error err;
    const sluice_meta *m = o->meta.tenant || o->meta.subject ? &o->meta : NULL;
    memset(&err, 0, sizeof err);
    if (sluice_check_state(e, text, len, m, &v, &st, &err) != 0) {
        if (where != NULL)
            cli_fail("%s: %s", where, err.message);
        else
            cli_fail_err(&err);
        return -1;
    }
    int action = sluice_verdict_action(v);
    int rc = o->json ? print_json(v, id) :
        (print_human(v, id), print_state(&st), 0);
    uint64_t seq = 0;
    if (!o->json && o->ledger != NULL) {
        if (sluice_verdict_record(v, &seq, NULL))
            printf("  recorded: %llu\n", (unsigned long long)seq);
        else
            printf("  not recorded: %s\n", sluice_verdict_reason(v) ?
                sluice_verdict_reason(v) : "ledger_unavailable");
    }
    sluice_verdict_free(v);
    return rc != 0 ? -1 : action;
}

static int run_jsonl(sluice_engine *e, const check_opts *o, int *blocked)
{
    FILE *f = strcmp(o->jsonl, "-") == 0 ? stdin : fopen(o->jsonl, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = EXIT_OK;
    if (f == NULL)
        return cli_fail("%s: %s", o->jsonl, strerror(errno));
    while ((n = getline(&line, &cap, f)) >= 0) {
        char where[600];
        lineno++;
        snprintf(where, sizeof where, "%s:%ld", o->jsonl, lineno);
        if (n == 0 || strspn(line, " \t\r\n") == (size_t)n)
            continue;
        cJSON *j = cJSON_ParseWithLength(line, (size_t)n);
        const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
        if (!cJSON_IsString(t)) {
            cJSON_Delete(j);
            rc = cli_fail("%s: not a JSON object with a string \"text\"",
                where);
            break;
        }
        const cJSON *idj = cJSON_GetObjectItemCaseSensitive(j, "id");
        char idbuf[64];
        const char *id = where + strlen(o->jsonl) + 1;
        if (cJSON_IsString(idj))
            id = idj->valuestring;
        else if (cJSON_IsNumber(idj)) {
            snprintf(idbuf, sizeof idbuf, "%g", idj->valuedouble);
            id = idbuf;
        }
        int a = check_one(e, o, t->valuestring, strlen(t->valuestring), id,
            where);
        cJSON_Delete(j);
        if (a < 0) {
            rc = EXIT_USAGE;
            break;
        }
        if (a == SLUICE_BLOCK)
            *blocked = 1;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* A duration: N with s, m, h or d (default s). 0 or -1. */
static int parse_duration(const char *s, size_t n, uint32_t *out)
{
    unsigned long long v = 0, mul = 1;
    size_t i = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (unsigned long long)(s[i] - '0');
        if (v > 0xffffffffull)
            return -1;
    }
    if (i == 0)
        return -1;
    if (i + 1 == n) {
        switch (s[i]) {
        case 's': break;
        case 'm': mul = 60; break;
        case 'h': mul = 3600; break;
        case 'd': mul = 86400; break;
        default: return -1;
        }
    } else if (i != n) {
        return -1;
    }
    if (v * mul > 0xffffffffull)
        return -1;
    *out = (uint32_t)(v * mul);
    return 0;
}

/* --escalate row=N,count=N,window=DUR,suspend=DUR[,mark] */
static int parse_escalate(const char *spec, sluice_escalation *x)
{
    const char *p = spec;
    x->block = 1;
    while (*p) {
        const char *end = strchr(p, ','), *eq;
        size_t n = end ? (size_t)(end - p) : strlen(p), k;
        uint32_t v = 0;
        eq = memchr(p, '=', n);
        k = eq ? (size_t)(eq - p) : n;
        if (eq == NULL && k == 4 && strncmp(p, "mark", 4) == 0) {
            x->block = 0;
        } else if (eq == NULL || parse_duration(eq + 1, n - k - 1, &v) != 0) {
            return -1;
        } else if (k == 3 && strncmp(p, "row", 3) == 0) {
            x->row = v;
        } else if (k == 5 && strncmp(p, "count", 5) == 0) {
            x->count = v;
        } else if (k == 6 && strncmp(p, "window", 6) == 0) {
            x->window_s = v;
        } else if (k == 7 && strncmp(p, "suspend", 7) == 0) {
            x->suspend_s = v;
        } else {
            return -1;
        }
        p += n + (end != NULL);
    }
    if ((x->row == 0 && x->count == 0) || x->suspend_s == 0 ||
        (x->count && x->window_s == 0))
        return -1;
    return 0;
}

/* The Redis options of check; 1 handled, 0 not, -1 error. */
static int redis_arg(check_opts *o, int c, const char *arg)
{
    switch (c) {
    case 'C': o->cache = 1; return 1;
    case 'T': {
        uint32_t v = 0;
        if (parse_duration(arg, strlen(arg), &v) != 0 || v == 0) {
            cli_fail("check: --cache-ttl: a duration (e.g. 3600, 1h): '%s'",
                arg);
            return -1;
        }
        o->cache_ttl = v;
        return 1;
    }
    case 'M':
        if (cli_parse_size(arg, &o->cache_min) != 0) {
            cli_fail("check: --cache-min: not a size: '%s'", arg);
            return -1;
        }
        return 1;
    case 'n': o->meta.tenant = arg; return 1;
    case 's': o->meta.subject = arg; return 1;
    case 'S': o->strikes = 1; return 1;
    case 'E':
        if (parse_escalate(arg, &o->esc) != 0) {
            cli_fail("check: --escalate: expected row=N and/or "
                "count=N,window=DUR, and suspend=DUR[,mark]: '%s'", arg);
            return -1;
        }
        o->strikes = 1;
        return 1;
    case 'F':
        if (strcmp(arg, "closed") != 0 && strcmp(arg, "open") != 0) {
            cli_fail("check: --strikes-fail: closed or open");
            return -1;
        }
        o->strikes_closed = strcmp(arg, "closed") == 0;
        return 1;
    case 'A': o->anchor = 1; return 1;
    default:
        return cli_redis_option(&o->redis, c, arg);
    }
}

static int parse_args(int argc, char **argv, check_opts *o, cli_trust *trust,
    int *help)
{
    static const struct option longopts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"jsonl", required_argument, NULL, 'l'},
        {"exit-code", no_argument, NULL, 'x'},
        {"max-input", required_argument, NULL, 'm'},
        {"ledger", required_argument, NULL, 'L'},
        {"ledger-key", required_argument, NULL, 'K'},
        {"digest-key", required_argument, NULL, 'D'},
        {"durable", no_argument, NULL, 'U'},
        {"cache", no_argument, NULL, 'C'},
        {"cache-ttl", required_argument, NULL, 'T'},
        {"cache-min", required_argument, NULL, 'M'},
        {"tenant", required_argument, NULL, 'n'},
        {"subject", required_argument, NULL, 's'},
        {"strikes", no_argument, NULL, 'S'},
        {"escalate", required_argument, NULL, 'E'},
        {"strikes-fail", required_argument, NULL, 'F'},
        {"redis-anchor", no_argument, NULL, 'A'},
        CLI_TRUST_LONGOPTS,
        CLI_REDIS_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, r;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o->policy = optarg; break;
        case 'j': o->json = 1; break;
        case 'l': o->jsonl = optarg; break;
        case 'x': o->exit_code = 1; break;
        case 'm':
            if (cli_parse_size(optarg, &o->max_input) != 0 || o->max_input == 0)
                return cli_fail("check: --max-input: not a size: '%s'", optarg);
            break;
        case 'L': o->ledger = optarg; break;
        case 'K': o->ledger_key = optarg; break;
        case 'D': o->digest_key = optarg; break;
        case 'U': o->durable = 1; break;
        case 'h': *help = 1; return 0;
        case CLI_OPT_TRUST:
        case CLI_OPT_ALLOW_UNSIGNED:
            if (cli_trust_option(trust, c, optarg) < 0)
                return EXIT_USAGE;
            break;
        default:
            if ((r = redis_arg(o, c, optarg)) < 0)
                return EXIT_USAGE;
            if (r == 0) {
                fprintf(stderr, "Try 'sluice check --help'.\n");
                return EXIT_USAGE;
            }
        }
    }
    if (o->policy == NULL && o->redis.addr == NULL)
        return cli_fail("check: a policy is required (-p POLICY, or --redis "
            "ADDR for the fleet's)");
    if ((o->ledger == NULL) != (o->ledger_key == NULL))
        return cli_fail("check: --ledger DIR and --ledger-key KEY go together");
    if (o->ledger == NULL && (o->durable || (o->digest_key != NULL &&
            !o->cache)))
        return cli_fail("check: --digest-key and --durable need --ledger");
    if (o->redis.addr == NULL && (o->cache || o->strikes || o->anchor))
        return cli_fail("check: --cache, --strikes, --escalate and "
            "--redis-anchor need --redis ADDR");
    if (o->cache && o->digest_key == NULL && o->ledger_key == NULL)
        return cli_fail("check: --cache needs a digest key (--digest-key "
            "FILE, or --ledger-key KEY)");
    if (o->strikes && o->meta.subject == NULL)
        return cli_fail("check: --strikes and --escalate need --subject");
    if (o->anchor && o->ledger == NULL)
        return cli_fail("check: --redis-anchor needs --ledger");
    return 0;
}

/* Open the ledger of --ledger and attach it to e (fail-closed). */
static int open_ledger(const check_opts *o, sluice_engine *e,
    sluice_redis *r, sluice_ledger **out)
{
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_key *sk = NULL, *dk = NULL;
    sluice_error err;
    int rc = 0;
    memset(&err, 0, sizeof err);
    if (sluice_key_load(&sk, o->ledger_key, &err) != 0 ||
        (o->digest_key != NULL &&
            sluice_key_load(&dk, o->digest_key, &err) != 0)) {
        rc = cli_fail_err(&err);
        goto out;
    }
    lo.dir = o->ledger;
    lo.signer = sk;
    lo.digest_key = dk;
    lo.mode = o->durable ? SLUICE_LEDGER_DURABLE : SLUICE_LEDGER_BATCHED;
    lo.no_thread = 1;      /* one short process: close writes the checkpoint */
    if (o->anchor) {
        lo.on_checkpoint = sluice_redis_anchor_checkpoint;
        lo.payload = r;
    }
    if (sluice_ledger_open(out, &lo, &err) != 0 ||
        sluice_engine_set_ledger(e, *out, SLUICE_FAIL_CLOSED) != 0)
        rc = cli_fail_err(&err);
out:
    sluice_key_free(sk);
    sluice_key_free(dk);
    return rc;
}

/* Load the key that keys cache digests: --digest-key, else the ledger
   key (whose derived digest key the ledger uses too). */
static int cache_key(const check_opts *o, sluice_key **out)
{
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (sluice_key_load(out, o->digest_key ? o->digest_key : o->ledger_key,
            &err) != 0)
        return cli_fail_err(&err);
    return 0;
}

/* Open Redis, load the fleet's policy if no -p, attach cache and strikes. */
static int setup_redis(const check_opts *o, const cli_trust *trust,
    sluice_redis **r, sluice_policy **p)
{
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (cli_redis_open(&o->redis, 0, r) != 0)
        return EXIT_USAGE;
    if (o->policy != NULL)
        return 0;
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_key *keys[CLI_TRUST_MAX];
    int rc;
    if (cli_trust_keys(trust, keys) != 0)
        return EXIT_USAGE;
    po.trust = (const sluice_key *const *)keys;
    po.ntrust = trust->nkeys;
    po.allow_unsigned = trust->allow_unsigned;
    rc = sluice_redis_load_policy(p, *r, &po, NULL, &err);
    for (size_t i = 0; i < trust->nkeys; i++)
        sluice_key_free(keys[i]);
    if (rc != 0)
        return cli_fail_err(&err);
    if (trust->allow_unsigned && !sluice_policy_signed(*p))
        fprintf(stderr, "sluice: note: the fleet's policy is not signed by a "
            "--trust key; loaded unsigned (--allow-unsigned)\n");
    return 0;
}

static int attach_redis(const check_opts *o, sluice_engine *e,
    sluice_redis *r)
{
    sluice_engine_redis_options ro = SLUICE_ENGINE_REDIS_OPTIONS_INIT;
    sluice_key *dk = NULL;
    sluice_error err;
    int rc = 0;
    memset(&err, 0, sizeof err);
    if (o->cache && (rc = cache_key(o, &dk)) != 0)
        return rc;
    ro.cache = o->cache;
    ro.digest_key = dk;
    ro.cache_ttl_s = o->cache_ttl;
    ro.cache_min_bytes = o->cache_min;
    ro.strikes = o->strikes;       /* 0: as the policy's escalation says */
    ro.escalation = o->esc;
    ro.strikes_fail = o->strikes_closed ? SLUICE_FAIL_CLOSED :
        SLUICE_FAIL_OPEN;
    if (sluice_engine_set_redis(e, r, &ro, &err) != 0)
        rc = cli_fail_err(&err);
    sluice_key_free(dk);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    check_opts o;
    cli_trust trust;
    int help = 0, rc, blocked = 0;
    sluice_policy *p = NULL;
    sluice_engine *e = NULL;
    sluice_ledger *l = NULL;
    sluice_redis *r = NULL;
    char *text = NULL;
    size_t len = 0;

    memset(&o, 0, sizeof o);
    o.max_input = DEFAULT_MAX_INPUT;
    memset(&trust, 0, sizeof trust);
    if ((rc = parse_args(argc, argv, &o, &trust, &help)) != 0)
        return rc;
    if (help) {
        check_usage(stdout);
        return EXIT_OK;
    }
    if (o.jsonl == NULL && argc - optind > 1)
        return cli_fail("check: one TEXT at a time (quote it)");
    if (o.jsonl != NULL && argc - optind > 0)
        return cli_fail("check: --jsonl and TEXT cannot be combined");

    if (o.jsonl == NULL) {
        if (argc - optind == 1 && strcmp(argv[optind], "-") != 0) {
            len = strlen(argv[optind]);
            if (len > o.max_input)
                return cli_fail("check: input is %zu bytes, over the limit "
                    "of %zu (--max-input)", len, o.max_input);
            text = strdup(argv[optind]);
            if (text == NULL)
                return cli_fail("out of memory");
        } else if (cli_read_all(stdin, o.max_input, &text, &len) != 0) {
            return errno == EFBIG ?
                cli_fail("check: input is over the limit of %zu bytes "
                    "(--max-input)", o.max_input) :
                cli_fail("check: reading standard input: %s", strerror(errno));
        }
    }

    sluice_engine_options eo = SLUICE_ENGINE_OPTIONS_INIT;
    sluice_error err;
    memset(&err, 0, sizeof err);
    eo.max_input = o.max_input;
    if (o.redis.addr != NULL && (rc = setup_redis(&o, &trust, &r, &p)) != 0)
        goto out;
    if (p == NULL && cli_load_policy_opts(o.policy, &trust, &p) != 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (sluice_engine_new(&e, &eo, &err) != 0 ||
        sluice_engine_set_policy(e, p) != 0) {
        rc = cli_fail_err(&err);
        goto out;
    }
    if (r != NULL && (rc = attach_redis(&o, e, r)) != 0)
        goto out;
    if (o.ledger != NULL && (rc = open_ledger(&o, e, r, &l)) != 0)
        goto out;
    if (o.jsonl != NULL) {
        rc = run_jsonl(e, &o, &blocked);
    } else {
        int a = check_one(e, &o, text, len, NULL, NULL);
        rc = a < 0 ? EXIT_USAGE : EXIT_OK;
        blocked = a == SLUICE_BLOCK;
    }
    if (rc == EXIT_OK && o.exit_code && blocked)
        rc = EXIT_FAILED;
out:
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = cli_fail("writing output: %s", strerror(errno));
    sluice_engine_free(e);
    if (l != NULL && sluice_ledger_close(l, &err) != 0 && rc == EXIT_OK)
        rc = cli_fail_err(&err);
    sluice_ledger_free(l);
    sluice_redis_free(r);
    sluice_policy_unref(p);
    free(text);
    return rc;
}
