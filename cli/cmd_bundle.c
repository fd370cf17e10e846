/*
 * cmd_bundle.c - `sluice build`: sign a policy into one bundle file; and
 * `sluice bundle info|verify`: what a bundle holds, and whether its
 * signature checks against a trusted key (docs/bundles.md).
 *
 * build: the library packs exactly the files the parser reads, signs
 * them and loads the result once before writing it (atomically), so a
 * bundle that is written loads. The creation time comes from --created,
 * else $SOURCE_DATE_EPOCH, else the clock: with a fixed time the same
 * sources and key give the same bytes.
 *
 * info: prints the manifest, the signature status (against --trust keys,
 * if any) and the rule and term counts of the policy inside (loaded with
 * allow_unsigned, since looking is not trusting). Exit status: 0, or 1
 * when --trust keys were given and none verifies the bundle, or 2 when
 * the file is not a readable bundle.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

/* ------------------------------------------------------------------------
 * sluice build
 * ---------------------------------------------------------------------- */

static void build_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice build POLICY -o FILE.bundle --sign KEY [--created T]\n"
        "\n"
        "Sign a policy into one bundle file: a manifest (policy id, version,\n"
        "hash, creation time, signer), every source file the policy reads\n"
        "(policy.yaml and its lists, byte for byte) and an Ed25519\n"
        "signature over all of it. Engines given the signer's public key\n"
        "(--trust) load the bundle as a signed policy; any\n"
        "changed byte makes it refused. The policy hash of the bundle is the\n"
        "hash of POLICY's directory (docs/policy-hash.md).\n"
        "\n"
        "  -o, --output FILE     the bundle to write (replaced atomically)\n"
        "  -s, --sign KEY        secret policy key, PREFIX.key from\n"
        "                        'sluice keygen' (keep it off the servers)\n"
        "      --created T       creation time, Unix seconds (default:\n"
        "                        $SOURCE_DATE_EPOCH, else now); the same\n"
        "                        sources, key and time give the same bytes\n"
        "  -h, --help            this help\n"
        "\n"
        "The workflow: edit the policy, 'sluice test POLICY' until it\n"
        "passes, build and sign, then ship the bundle and the public key.\n"
        "\n"
        "examples:\n"
        "  sluice keygen -o policy-team --name policy-team\n"
        "  sluice test policies/baseline\n"
        "  sluice build policies/baseline -o baseline.bundle \\\n"
        "      --sign policy-team.key\n"
        "  sluice bundle info baseline.bundle --trust policy-team.pub\n"
        "  sluice check -p baseline.bundle --trust policy-team.pub 'text'\n");
}

/* A Unix time in seconds: decimal digits only, >= 0. */
static int parse_time(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static void format_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)snprintf(buf, cap, "%" PRId64, t);
}

/* After a build: one short summary of what was written. */
static int build_summary(const char *path)
{
    sluice_bundle *b = NULL;
    sluice_error err;
    uint32_t id = 0;
    const char *name;

    memset(&err, 0, sizeof err);
    if (sluice_bundle_open(&b, path, NULL, &err) != 0)
        return cli_fail_err(&err);
    name = sluice_bundle_signer(b, &id);
    printf("wrote %s: policy %s version %" PRId64 ", %zu file%s, %" PRIu64
        " bytes\n  hash %s\n  signed by %s (key id %08" PRIx32 ")\n", path,
        sluice_bundle_policy_id(b), sluice_bundle_policy_version(b),
        sluice_bundle_file_count(b),
        sluice_bundle_file_count(b) == 1 ? "" : "s", sluice_bundle_size(b),
        sluice_bundle_policy_hash(b), name, id);
    sluice_bundle_free(b);
    return EXIT_OK;
}

int cmd_build(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"sign", required_argument, NULL, 's'},
        {"created", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sluice_bundle_options bo = SLUICE_BUNDLE_OPTIONS_INIT;
    const char *output = NULL, *keyfile = NULL, *created = NULL, *sde;
    sluice_key *key = NULL;
    sluice_error err;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 's': keyfile = optarg; break;
        case 'c': created = optarg; break;
        case 'h': build_usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try 'sluice build --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_fail("build: one POLICY (a policy directory) is required");
    if (output == NULL)
        return cli_fail("build: an output file is required (-o FILE.bundle)");
    if (keyfile == NULL)
        return cli_fail("build: a signing key is required (--sign "
            "PREFIX.key; make one with 'sluice keygen')");
    sde = getenv("SOURCE_DATE_EPOCH");
    if (created != NULL && parse_time(created, &bo.created) != 0)
        return cli_fail("build: --created: not Unix seconds: '%s'", created);
    if (created == NULL && sde != NULL && sde[0] != '\0' &&
        parse_time(sde, &bo.created) != 0)
        return cli_fail("build: SOURCE_DATE_EPOCH is not Unix seconds: '%s'",
            sde);
    memset(&err, 0, sizeof err);
    if (sluice_key_load(&key, keyfile, &err) != 0)
        return cli_fail_err(&err);
    if (sluice_key_type(key) != SLUICE_KEY_SIGNER) {
        sluice_key_free(key);
        return cli_fail("build: %s is not a secret signing key; --sign takes "
            "PREFIX.key (the .pub is what engines trust)", keyfile);
    }
    bo.signer = key;
    rc = sluice_bundle_write(output, argv[optind], &bo, &err);
    sluice_key_free(key);            /* wipes the secret */
    if (rc != 0)
        return cli_fail_err(&err);
    rc = build_summary(output);
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = cli_fail("writing output: %s", strerror(errno));
    return rc;
}

/* ------------------------------------------------------------------------
 * sluice bundle info | verify
 * ---------------------------------------------------------------------- */

static void bundle_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice bundle info FILE [--trust PUB]... [--json]\n"
        "       sluice bundle verify FILE --trust PUB [--trust PUB]...\n"
        "\n"
        "info: what a policy bundle holds: policy id, version and hash,\n"
        "when it was built, which key signed it, its files, its rule and\n"
        "term counts, and whether its signature verifies against the\n"
        "--trust keys (without --trust it is not verified: a signature\n"
        "means something only against a key you trust).\n"
        "verify: check the signature only; print one line.\n"
        "\n"
        "  -t, --trust PUB       a trusted public key (PREFIX.pub); repeatable\n"
        "      --json            info as one JSON object\n"
        "  -h, --help            this help\n"
        "\n"
        "Exit status: 0; 1 when --trust keys were given and none verifies\n"
        "the bundle (untrusted signer, or a byte changed after signing);\n"
        "2 when FILE is not a readable, well-formed bundle.\n"
        "\n"
        "examples:\n"
        "  sluice bundle info baseline.bundle\n"
        "  sluice bundle info baseline.bundle --trust policy-team.pub --json\n"
        "  sluice bundle verify baseline.bundle --trust policy-team.pub\n");
}

/* What the signature check found. */
typedef struct sig_state {
    const char *word;        /* verified, untrusted, invalid, unchecked */
    char detail[600];
} sig_state;

static void check_signature(const sluice_bundle *b, sluice_key **keys,
    size_t n, sig_state *st)
{
    const sluice_key *by = NULL;
    const char *signer;
    sluice_error err;
    uint32_t id = 0;
    size_t i;

    memset(&err, 0, sizeof err);
    if (n == 0) {
        st->word = "unchecked";
        (void)snprintf(st->detail, sizeof st->detail, "not verified (no "
            "--trust)");
        return;
    }
    if (sluice_bundle_verify(b, (const sluice_key *const *)keys, n, &by,
            &err) == 0) {
        st->word = "verified";
        (void)snprintf(st->detail, sizeof st->detail, "verified: signed by "
            "trusted key %s (id %08" PRIx32 ")", sluice_key_name(by),
            sluice_key_id(by));
        return;
    }
    signer = sluice_bundle_signer(b, &id);
    st->word = "untrusted";
    for (i = 0; i < n; i++)
        if (sluice_key_id(keys[i]) == id &&
            strcmp(sluice_key_name(keys[i]), signer) == 0)
            st->word = "invalid";
    (void)snprintf(st->detail, sizeof st->detail, "%s: %s",
        strcmp(st->word, "invalid") == 0 ? "INVALID" : "NOT TRUSTED",
        err.message);
}

/* The policy inside, for its counts: trust keys plus allow_unsigned. */
static sluice_policy *load_inside(const char *path, sluice_key **keys,
    size_t n, char *why, size_t cap)
{
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_policy *p = NULL;
    sluice_error err;

    memset(&err, 0, sizeof err);
    po.trust = (const sluice_key *const *)keys;
    po.ntrust = n;
    po.allow_unsigned = 1;
    if (sluice_policy_load(&p, path, &po, &err) != 0) {
        if (err.line > 0)
            (void)snprintf(why, cap, "%s:%d: %s", err.file, err.line,
                err.message);
        else
            (void)snprintf(why, cap, "%s", err.message);
        return NULL;
    }
    return p;
}

static void print_info_human(const sluice_bundle *b, const char *path,
    const sig_state *st, const sluice_policy *p, const char *why)
{
    char when[64];
    uint32_t id = 0;
    const char *signer = sluice_bundle_signer(b, &id);
    size_t i;

    format_time(sluice_bundle_created(b), when, sizeof when);
    printf("bundle     %s (%" PRIu64 " bytes, format %u)\n", path,
        sluice_bundle_size(b), sluice_bundle_format(b));
    printf("policy     %s version %" PRId64 "\n", sluice_bundle_policy_id(b),
        sluice_bundle_policy_version(b));
    printf("hash       %s\n", sluice_bundle_policy_hash(b));
    printf("created    %s (%" PRId64 ")\n", when, sluice_bundle_created(b));
    printf("signer     %s (key id %08" PRIx32 ")\n", signer, id);
    printf("signature  %s\n", st->detail);
    if (p != NULL)
        printf("rules      %zu rules, %zu terms\n",
            sluice_policy_rule_count(p), sluice_policy_term_count(p));
    else
        printf("rules      unknown: the policy does not load: %s\n", why);
    printf("files      %zu\n", sluice_bundle_file_count(b));
    for (i = 0; i < sluice_bundle_file_count(b); i++) {
        uint64_t size = 0;
        const char *f = sluice_bundle_file(b, i, &size);
        printf("  %10" PRIu64 "  %s\n", size, f);
    }
}

static int print_info_json(const sluice_bundle *b, const char *path,
    const sig_state *st, const sluice_policy *p, const char *why)
{
    cJSON *o = cJSON_CreateObject(), *pol, *sig, *files;
    char when[64], hex[9];
    uint32_t id = 0;
    const char *signer = sluice_bundle_signer(b, &id);
    char *js;
    size_t i;
    int ok;

    format_time(sluice_bundle_created(b), when, sizeof when);
    (void)snprintf(hex, sizeof hex, "%08" PRIx32, id);
    ok = o != NULL &&
        cJSON_AddStringToObject(o, "bundle", path) != NULL &&
        cJSON_AddNumberToObject(o, "size", (double)sluice_bundle_size(b)) &&
        cJSON_AddNumberToObject(o, "format", sluice_bundle_format(b)) &&
        (pol = cJSON_AddObjectToObject(o, "policy")) != NULL &&
        cJSON_AddStringToObject(pol, "id", sluice_bundle_policy_id(b)) &&
        cJSON_AddNumberToObject(pol, "version",
            (double)sluice_bundle_policy_version(b)) &&
        cJSON_AddStringToObject(pol, "hash", sluice_bundle_policy_hash(b)) &&
        (p == NULL || (cJSON_AddNumberToObject(pol, "rules",
            (double)sluice_policy_rule_count(p)) &&
            cJSON_AddNumberToObject(pol, "terms",
            (double)sluice_policy_term_count(p)))) &&
        (p != NULL || cJSON_AddStringToObject(pol, "load_error", why)) &&
        cJSON_AddNumberToObject(o, "created",
            (double)sluice_bundle_created(b)) &&
        cJSON_AddStringToObject(o, "created_utc", when) &&
        (sig = cJSON_AddObjectToObject(o, "signer")) != NULL &&
        cJSON_AddStringToObject(sig, "name", signer) &&
        cJSON_AddStringToObject(sig, "key_id", hex) &&
        cJSON_AddStringToObject(o, "signature", st->word) &&
        cJSON_AddStringToObject(o, "signature_detail", st->detail) &&
        (files = cJSON_AddArrayToObject(o, "files")) != NULL;
    for (i = 0; ok && i < sluice_bundle_file_count(b); i++) {
        uint64_t size = 0;
        const char *f = sluice_bundle_file(b, i, &size);
        cJSON *e = cJSON_CreateObject();
        if (e == NULL || !cJSON_AddItemToArray(files, e)) {
            cJSON_Delete(e);          /* not added: still ours */
            ok = 0;
            break;
        }
        ok = cJSON_AddStringToObject(e, "path", f) != NULL &&
            cJSON_AddNumberToObject(e, "size", (double)size) != NULL;
    }
    js = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (js == NULL)
        return cli_fail("out of memory");
    printf("%s\n", js);
    cJSON_free(js);
    return 0;
}

typedef struct bundle_args {
    const char *verb;
    const char *file;
    int json;
    cli_trust trust;
} bundle_args;

static int bundle_parse(int argc, char **argv, bundle_args *a)
{
    static const struct option longopts[] = {
        {"trust", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (cli_trust_option(&a->trust, CLI_OPT_TRUST, optarg) < 0)
                return EXIT_USAGE;
            break;
        case 'j': a->json = 1; break;
        case 'h': bundle_usage(stdout); return -1;
        default:
            fprintf(stderr, "Try 'sluice bundle --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (argc - optind < 1)
        return cli_fail("bundle: a subcommand is required (info FILE, "
            "verify FILE)");
    a->verb = argv[optind];
    if (strcmp(a->verb, "info") != 0 && strcmp(a->verb, "verify") != 0)
        return cli_fail("bundle: unknown subcommand '%s' (info, verify)",
            a->verb);
    if (argc - optind != 2)
        return cli_fail("bundle %s: one FILE is required", a->verb);
    a->file = argv[optind + 1];
    if (strcmp(a->verb, "verify") == 0 && a->trust.nkeys == 0)
        return cli_fail("bundle verify: --trust PUB is required (a "
            "signature means something only against a key you trust)");
    return 0;
}

int cmd_bundle(int argc, char **argv)
{
    sluice_key *keys[CLI_TRUST_MAX];
    sluice_bundle *b = NULL;
    sluice_policy *p = NULL;
    bundle_args a;
    sluice_error err;
    sig_state st;
    char why[1200] = "";
    size_t i;
    int rc;

    memset(&a, 0, sizeof a);
    memset(&err, 0, sizeof err);
    if ((rc = bundle_parse(argc, argv, &a)) != 0)
        return rc < 0 ? EXIT_OK : rc;
    if (sluice_bundle_open(&b, a.file, NULL, &err) != 0)
        return cli_fail_err(&err);
    if (cli_trust_keys(&a.trust, keys) != 0) {
        sluice_bundle_free(b);
        return EXIT_USAGE;
    }
    check_signature(b, keys, a.trust.nkeys, &st);
    rc = a.trust.nkeys > 0 && strcmp(st.word, "verified") != 0 ?
        EXIT_FAILED : EXIT_OK;
    if (strcmp(a.verb, "verify") == 0) {
        if (rc == EXIT_OK)
            printf("%s: %s\n", a.file, st.detail);
        else
            fprintf(stderr, "sluice: %s: %s\n", a.file, st.detail);
    } else {
        p = load_inside(a.file, keys, a.trust.nkeys, why, sizeof why);
        if ((a.json ? print_info_json(b, a.file, &st, p, why) :
                (print_info_human(b, a.file, &st, p, why), 0)) != 0)
            rc = EXIT_USAGE;
    }
    if (fflush(stdout) != 0 && rc != EXIT_USAGE)
        rc = cli_fail("writing output: %s", strerror(errno));
    sluice_policy_unref(p);
    for (i = 0; i < a.trust.nkeys; i++)
        sluice_key_free(keys[i]);
    sluice_bundle_free(b);
    return rc;
}
