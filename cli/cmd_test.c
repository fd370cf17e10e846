/*
 * cmd_test.c - `sluice test`: runs a policy's own test cases, checks that
 * streaming gives the same verdicts, tries evasion variants of what the
 * policy catches, and says which rules and terms no case exercises. This
 * file holds the options and the run; the parts live in cli/test_*.c
 * (cli/test_internal.h lists them).
 *
 * A policy directory may hold test files, tests/NAME.yaml, beside
 * policy.yaml; each is a YAML list of cases (docs/testing-policies.md):
 *
 *   - name: ID numbers are redacted
 *     input: "我的身份证号是11010519491231002X"
 *     stream: true
 *     expect: {action: redact, rules: [pii.cn_id], output: "..."}
 *
 * Design: the command loads the policy, then parses every test file in
 * name order into a suite (test_suite.c), and refuses the whole run if
 * any file is malformed, before a single case runs. Then each case
 * (those whose name contains --filter) runs through one engine, whole
 * and, for `stream: true`, streamed in ten chunkings (test_run.c); its
 * verdict is compared with the expectation, counted for coverage
 * (test_coverage.c) and reported at once by one reporter: human, TAP or
 * JSON lines (test_report.c); --junit FILE keeps a row per case for the
 * JUnit XML written at the end (test_junit.c). After the cases come the
 * mutation report (--mutate, test_mutate.c), the coverage report, the
 * thresholds (--min-robustness, --min-coverage, --min-term-coverage),
 * which fail the run like a failing case, and the summary.
 *
 * Ownership: the suite owns the cases; a result owns its verdict and its
 * stream diff until reported; the run context owns the coverage table,
 * the mutation report and the JUnit rows. Nothing is global.
 *
 * Exit status: 0 all cases passed (or there were none) and every
 * threshold was met, 1 a case failed or a threshold was missed, 2 usage,
 * policy or test-file errors.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/test_internal.h"

#define DEFAULT_SLIPS 3    /* slipping variants listed per rule */
#define DEFAULT_SEED 1

/* ------------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------- */

/* The run's state: the options, engine, policy and suite are borrowed;
 * the coverage table, the mutation report and the JUnit rows are owned. */
typedef struct run_ctx {
    const test_opts *o;
    sluice_engine *e;
    const sluice_policy *p;
    const test_suite *s;
    test_coverage *cov;
    test_mutation *mut;    /* NULL unless the mutations ran */
    test_junit *junit;     /* NULL without --junit */
    test_tally tally;
} run_ctx;

static void run_ctx_free(run_ctx *c)
{
    cli_test_junit_free(c->junit);
    cli_test_mutate_free(c->mut);
    cli_test_coverage_free(c->cov);
}

static void add_threshold(run_ctx *c, const char *what, const char *option,
    double min, size_t a, size_t b)
{
    assert(c->tally.nth < TEST_MAX_THRESHOLDS);
    test_threshold *t = &c->tally.th[c->tally.nth++];
    t->what = what;
    t->option = option;
    t->min = min;
    t->value = cli_test_pct(a, b);
    t->ok = t->value >= min;
}

static void eval_thresholds(run_ctx *c)
{
    const test_opts *o = c->o;
    size_t a, b;

    if (o->min_robustness >= 0) {
        cli_test_mutate_score(c->mut, &a, &b);
        add_threshold(c, "robustness", "--min-robustness", o->min_robustness,
            a, b);
    }
    if (o->min_coverage >= 0) {
        cli_test_coverage_rules(c->cov, &a, &b);
        add_threshold(c, "rule coverage", "--min-coverage", o->min_coverage,
            a, b);
    }
    if (o->min_term_coverage >= 0) {
        cli_test_coverage_terms(c->cov, &a, &b);
        add_threshold(c, "term coverage", "--min-term-coverage",
            o->min_term_coverage, a, b);
    }
}

/* Run, report and judge one case. Returns 0 or -1 (reported). */
static int one_case(run_ctx *c, const test_case *tc)
{
    test_result r;
    int rc;

    memset(&r, 0, sizeof r);
    r.n = ++c->tally.run;
    rc = cli_test_run(c->e, c->o, tc, &r);
    if (rc == 0 && r.v != NULL)
        cli_test_coverage_add(c->cov, r.v);
    if (rc == 0)
        rc = cli_test_report_case(c->o, &r);
    if (rc == 0 && c->junit != NULL)
        rc = cli_test_junit_add(c->junit, &r);
    c->tally.npass += rc == 0 && cli_test_passed(&r);
    cli_test_result_free(&r);
    return rc;
}

/* Run the selected cases. Returns EXIT_OK, EXIT_FAILED or EXIT_USAGE. */
static int run_suite(run_ctx *c)
{
    const test_opts *o = c->o;
    const test_suite *s = c->s;

    if (o->junit != NULL && cli_test_junit_new(&c->junit) != 0)
        return EXIT_USAGE;
    for (size_t i = 0; i < s->ncases; i++) {
        const test_case *tc = &s->cases[i];
        if (o->filter != NULL && strstr(tc->name, o->filter) == NULL)
            continue;
        if (one_case(c, tc) != 0)
            return EXIT_USAGE;
    }
    if (c->tally.run == 0) {
        if (o->filter != NULL)
            fprintf(stderr, "sluice: %s: no test cases match --filter '%s' "
                "(%zu cases in all)\n", o->policy, o->filter, s->ncases);
        else
            fprintf(stderr, "sluice: %s: no test cases (add tests/*.yaml; "
                "see docs/testing-policies.md)\n", o->policy);
        if (o->fmt == TEST_FMT_TAP)
            puts("1..0 # SKIP no test cases");
        if (c->junit != NULL &&
            cli_test_junit_write(c->junit, o, c->p, &c->tally) != 0)
            return EXIT_USAGE;
        return EXIT_OK;
    }
    if (o->mutate && cli_test_mutate_run(c->e, c->cov, s, o, &c->mut) != 0)
        return EXIT_USAGE;
    eval_thresholds(c);
    if (cli_test_report_tail(o, c->cov, c->mut, &c->tally) != 0)
        return EXIT_USAGE;
    if (c->junit != NULL &&
        cli_test_junit_write(c->junit, o, c->p, &c->tally) != 0)
        return EXIT_USAGE;
    int ok = c->tally.npass == c->tally.run;
    for (size_t i = 0; i < c->tally.nth; i++)
        ok = ok && c->tally.th[i].ok;
    return ok ? EXIT_OK : EXIT_FAILED;
}

/* ------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------- */

static void test_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice test POLICY [--filter NAME] [--tap | --json] [-v]\n"
        "                   [--junit FILE] [--seed N]\n"
        "                   [--mutate] [--min-robustness P] [--slips N]\n"
        "                   [--coverage] [--min-coverage P]"
        " [--min-term-coverage P]\n"
        "\n"
        "Run a policy's test cases (POLICY/tests/*.yaml, in name order)\n"
        "and compare each verdict with what the case expects. Each file is\n"
        "a list of cases:\n"
        "\n"
        "  - name: ID numbers are redacted\n"
        "    input: \"我的身份证号是11010519491231002X\"\n"
        "    stream: true\n"
        "    expect: {action: redact, rules: [pii.cn_id],\n"
        "             output: \"我的身份证号是[已隐藏]\",\n"
        "             spans: [{start: 21, end: 39, rule: pii.cn_id}]}\n"
        "\n"
        "Only the keys given under expect are checked (action, rules,\n"
        "categories, output, spans); rules and categories are sets, spans\n"
        "are byte offsets in the input. With stream: true the input also\n"
        "goes through streaming sessions in 10 chunkings (whole, 1 byte at\n"
        "a time, 8 random ones cutting inside characters), each of which\n"
        "must give the whole text's verdict and release its output. See\n"
        "docs/testing-policies.md.\n"
        "\n"
        "Output:\n"
        "  --filter NAME   run only cases whose name contains NAME\n"
        "  -v, --verbose   list passing cases (and their chunkings) too,\n"
        "                  every slipping variant (--mutate) and every\n"
        "                  uncovered term (--coverage)\n"
        "  --tap           print TAP (ok N - file: name), for test runners\n"
        "  --json          print one JSON object per case, then mutation\n"
        "                  and coverage objects, then a summary\n"
        "  --junit FILE    also write JUnit XML to FILE (one testsuite per\n"
        "                  test file, one testcase per case), for CI\n"
        "  --seed N        seed for the chunkings and the variants (default\n"
        "                  %d); the same seed gives the same run\n"
        "\n"
        "Evasion variants:\n"
        "  --mutate        for every case expecting redact or block, mutate\n"
        "                  what matched (full width, Traditional, spaces,\n"
        "                  symbols, zero-width, look-alikes, repeats, leet,\n"
        "                  mixes) and report per rule and per kind how many\n"
        "                  variants are still caught (the robustness)\n"
        "  --min-robustness P  exit 1 if the overall robustness is below\n"
        "                  P percent (implies --mutate)\n"
        "  --slips N       slipping variants listed per rule (default %d)\n"
        "\n"
        "Coverage (always summed up in one line):\n"
        "  --coverage      list the rules no case made fire and the terms no\n"
        "                  case matched\n"
        "  --min-coverage P       exit 1 if fewer than P percent of the\n"
        "                  rules fired in some case\n"
        "  --min-term-coverage P  exit 1 if fewer than P percent of the\n"
        "                  terms were matched by some case\n"
        "  -h, --help      this help\n"
        "\n"
        "By default each failing case is printed with its file:line, the\n"
        "expected and actual values of each field that differs, the rules\n"
        "that fired with the text and term they matched and the text around\n"
        "it («span» bracketed); then the reports asked for and a summary\n"
        "line. Invisible and look-alike characters are shown as \\u200b.\n"
        "\n"
        "Exit status: 0 every case passed (or there were none) and every\n"
        "threshold was met, 1 a case failed or a threshold was missed,\n"
        "2 a usage error, a bad policy or a malformed test file.\n"
        "\n"
        "examples:\n"
        "  sluice test policies/baseline\n"
        "  sluice test policies/baseline --filter 'mobile' -v\n"
        "  sluice test policies/baseline --tap\n"
        "  sluice test policies/baseline --json | jq 'select(.status == \"fail\")'\n"
        "  sluice test policies/baseline --junit report.xml\n"
        "  sluice test policies/baseline --mutate\n"
        "  sluice test policies/baseline --mutate --seed 7 --slips 10\n"
        "  sluice test policies/baseline --min-robustness 80\n"
        "  sluice test policies/baseline --coverage -v\n"
        "  sluice test policies/baseline --min-coverage 100\n",
        DEFAULT_SEED, DEFAULT_SLIPS);
}

/* A percentage: a non-negative number, optionally followed by '%'. */
static int parse_pct(const char *opt, const char *s, double *out)
{
    char *end = NULL;

    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || !isfinite(v) || v < 0 ||
        (*end != '\0' && strcmp(end, "%") != 0))
        return cli_fail("test: %s: not a percentage: '%s'", opt, s);
    *out = v;
    return 0;
}

static int parse_count(const char *opt, const char *s, uint64_t *out)
{
    char *end = NULL;

    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || end == s || *end != '\0' || errno != 0)
        return cli_fail("test: %s: not a number: '%s'", opt, s);
    *out = (uint64_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, test_opts *o, int *help)
{
    static const struct option longopts[] = {
        {"filter", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"tap", no_argument, NULL, 't'},
        {"junit", required_argument, NULL, 'J'},
        {"seed", required_argument, NULL, 'S'},
        {"mutate", no_argument, NULL, 'm'},
        {"min-robustness", required_argument, NULL, 'R'},
        {"slips", required_argument, NULL, 'L'},
        {"coverage", no_argument, NULL, 'C'},
        {"min-coverage", required_argument, NULL, 'c'},
        {"min-term-coverage", required_argument, NULL, 'T'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, json = 0, tap = 0, rc = 0;
    uint64_t n;

    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': o->filter = optarg; break;
        case 'j': json = 1; break;
        case 't': tap = 1; break;
        case 'J': o->junit = optarg; break;
        case 'S': rc = parse_count("--seed", optarg, &o->seed); break;
        case 'm': o->mutate = 1; break;
        case 'R':
            rc = parse_pct("--min-robustness", optarg, &o->min_robustness);
            o->mutate = 1;
            break;
        case 'L':
            rc = parse_count("--slips", optarg, &n);
            o->slips = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
            break;
        case 'C': o->coverage = 1; break;
        case 'c': rc = parse_pct("--min-coverage", optarg, &o->min_coverage);
            break;
        case 'T': rc = parse_pct("--min-term-coverage", optarg,
            &o->min_term_coverage);
            break;
        case 'v': o->verbose = 1; break;
        case 'h': *help = 1; return 0;
        default:
            fprintf(stderr, "Try 'sluice test --help'.\n");
            return EXIT_USAGE;
        }
        if (rc != 0)
            return rc;
    }
    if (json && tap)
        return cli_fail("test: --json and --tap cannot be combined");
    o->fmt = json ? TEST_FMT_JSON : tap ? TEST_FMT_TAP : TEST_FMT_HUMAN;
    if (argc - optind != 1)
        return cli_fail("test: one POLICY directory is required (try "
            "'sluice test --help')");
    o->policy = argv[optind];
    return 0;
}

int cmd_test(int argc, char **argv)
{
    test_opts o;
    run_ctx c;
    sluice_policy *p = NULL;
    sluice_engine *e = NULL;
    test_suite s;
    sluice_error err;
    int help = 0, rc;

    memset(&o, 0, sizeof o);
    memset(&c, 0, sizeof c);
    memset(&s, 0, sizeof s);
    memset(&err, 0, sizeof err);
    o.seed = DEFAULT_SEED;
    o.slips = DEFAULT_SLIPS;
    o.min_robustness = o.min_coverage = o.min_term_coverage = -1;
    if ((rc = parse_args(argc, argv, &o, &help)) != 0)
        return rc;
    if (help) {
        test_usage(stdout);
        return EXIT_OK;
    }
    rc = EXIT_USAGE;
    if (cli_load_policy(o.policy, &p) != 0 ||
        cli_test_suite_load(o.policy, &s) != 0)
        goto out;
    if (sluice_engine_new(&e, NULL, &err) != 0) {
        rc = cli_fail_err(&err);
        goto out;
    }
    if ((rc = sluice_engine_set_policy(e, p)) != 0) {
        rc = cli_fail("test: %s", sluice_strerror(rc));
        goto out;
    }
    if (cli_test_coverage_new(&c.cov, p) != 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    c.o = &o;
    c.e = e;
    c.p = p;
    c.s = &s;
    rc = run_suite(&c);
out:
    if (fflush(stdout) != 0 && rc != EXIT_USAGE)
        rc = cli_fail("writing output: %s", strerror(errno));
    run_ctx_free(&c);
    sluice_engine_free(e);
    sluice_policy_unref(p);
    cli_test_suite_free(&s);
    return rc;
}
