/*
 * cmd_lint.c - `sluice lint POLICY`: static checks of a policy's sources
 * (sluice_policy_lint; every finding code is in docs/lint.md).
 *
 * Findings print compiler style, one per line, sorted by file and line:
 *
 *   p/lists/a.txt:12: warning: term 'foo' is already ... [duplicate-term]
 *
 * or, with --json, one JSON object per line followed by a summary object.
 * The Scunthorpe check reads reference vocabularies: the files given with
 * --vocab, else the shared data set under $SLUICE_DATA (default
 * ../shared/data), when it is there; otherwise one line says the check
 * was skipped. Minimum term counts come from lint.yaml beside the policy
 * (read by the library) and from --min-terms / --min-total-terms, which
 * win.
 *
 * Exit status: 0 no errors (warnings allowed unless --strict), 1 an error
 * (or, with --strict, a warning), 2 usage errors and policies that cannot
 * be read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

#define LINT_MAX_VOCAB 16

typedef struct lint_cli {
    int json;
    int strict;
    int quiet;
    int no_vocab;
    const char *vocab[LINT_MAX_VOCAB + 2];
    size_t nvocab;
    char *owned[2];             /* default vocabulary paths */
    sluice_lint_min *mins;
    size_t nmins;
    int failed;                 /* printing failed (out of memory) */
} lint_cli;

static void lint_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice lint [options] POLICY\n"
        "\n"
        "Find problems in a policy's sources before it ships: terms listed\n"
        "twice or shadowed by a rule with a stronger action, terms inside\n"
        "other terms, terms that normalize to nothing or to another term\n"
        "(\"ＦＯＯ\" and \"foo\"), very short terms, substring terms found\n"
        "inside many common words (the Scunthorpe problem), regexes that\n"
        "backtrack, run slowly or match the empty string, thin categories,\n"
        "and the policy's worst-case streaming holdback. docs/lint.md\n"
        "explains every finding and how to fix it.\n"
        "\n"
        "POLICY is a policy directory or its policy.yaml (not a bundle).\n"
        "\n"
        "  --json             one JSON object per finding, then a summary\n"
        "                     object {\"summary\": {...}}\n"
        "  --strict           warnings fail too (exit 1)\n"
        "  -q, --quiet        leave out info findings (counts, holdback)\n"
        "  --min-terms CAT=N  warn if category CAT has fewer than N terms\n"
        "                     (repeatable; wins over lint.yaml; N = 0\n"
        "                     switches lint.yaml's minimum for CAT off)\n"
        "  --min-total-terms N  warn if the policy has fewer than N terms\n"
        "                     in all (wins over lint.yaml)\n"
        "  --no-lint-yaml     ignore the policy's lint.yaml\n"
        "  --vocab FILE       reference vocabulary for the Scunthorpe\n"
        "                     check: one word per line, first field\n"
        "                     (repeatable; replaces the defaults)\n"
        "  --no-vocab         skip the Scunthorpe check\n"
        "  --scunthorpe N     report a substring term found inside at\n"
        "                     least N vocabulary words (default 3)\n"
        "  --examples N       example words per report (default 3, max 10)\n"
        "  --short N          a term of at most N code points is short\n"
        "                     (default 1)\n"
        "  --short-han N      the same for a term holding a Chinese\n"
        "                     character (default 1)\n"
        "  --no-probe         do not run regexes on generated inputs\n"
        "  -h, --help         this help\n"
        "\n"
        "Default vocabularies: $SLUICE_DATA/obscenity/english-words.txt\n"
        "and $SLUICE_DATA/jieba/dict.txt, SLUICE_DATA defaulting to\n"
        "../shared/data; without them the Scunthorpe check is skipped.\n"
        "\n"
        "Minimums: lint.yaml in the policy's directory, if there is one,\n"
        "sets them (min_terms: {CAT: N, ...}, min_total_terms: N); each\n"
        "category with a minimum gets a line, info when met, a warning\n"
        "when below, and so does the total. See docs/lint.md.\n"
        "\n"
        "Output: file:line: severity: message [code], then a summary line.\n"
        "Exit status: 0 no errors (warnings are fine unless --strict), 1 an\n"
        "error (or a warning with --strict), 2 usage or a policy that\n"
        "cannot be read.\n"
        "\n"
        "examples:\n"
        "  sluice lint policies/baseline\n"
        "  sluice lint --strict -q policies/baseline          # CI gate\n"
        "  sluice lint --min-terms profanity=50 \\\n"
        "      --min-terms violence=10 policies/baseline\n"
        "  sluice lint -q policies/cn-genai-template   # minimums: lint.yaml\n"
        "  sluice lint --vocab words.txt --scunthorpe 10 --examples 5 \\\n"
        "      mypolicy\n"
        "  sluice lint --json policies/baseline | jq -r '.code // empty'\n");
}

/* A count: decimal, at least 1 (0 only if allow_zero). */
static int parse_count(const char *s, int allow_zero, size_t *out)
{
    char *end = NULL;
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || (!allow_zero && v == 0) ||
        v > (unsigned long long)SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int add_min(lint_cli *o, char *arg)
{
    char *eq = strrchr(arg, '=');
    size_t n = 0;
    if (eq == NULL || eq == arg || parse_count(eq + 1, 1, &n) != 0)
        return cli_fail("lint: --min-terms wants CATEGORY=N (N a whole "
            "number, 0 for none), got '%s'", arg);
    *eq = '\0';
    o->mins[o->nmins].category = arg;
    o->mins[o->nmins++].min = n;
    return 0;
}

/* The shared data set's vocabularies, those that are there. */
static void default_vocab(lint_cli *o)
{
    static const char *const rel[] = {
        "obscenity/english-words.txt", "jieba/dict.txt"
    };
    const char *data = getenv("SLUICE_DATA");
    if (data == NULL || data[0] == '\0')
        data = "../shared/data";
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(data) + strlen(rel[i]) + 2;
        char *p = malloc(n);
        if (p == NULL)
            return;
        snprintf(p, n, "%s/%s", data, rel[i]);
        if (access(p, R_OK) != 0) {
            free(p);
            continue;
        }
        o->owned[i] = p;
        o->vocab[o->nvocab++] = p;
    }
}

static int print_json(lint_cli *o, const sluice_lint_finding *f)
{
    cJSON *j = cJSON_CreateObject();
    int ok = j != NULL &&
        cJSON_AddStringToObject(j, "severity",
            sluice_lint_severity_name(f->severity)) != NULL &&
        cJSON_AddStringToObject(j, "code", f->code) != NULL &&
        cJSON_AddStringToObject(j, "file", f->file) != NULL &&
        cJSON_AddNumberToObject(j, "line", f->line) != NULL &&
        (f->rule ? cJSON_AddStringToObject(j, "rule", f->rule) :
            cJSON_AddNullToObject(j, "rule")) != NULL &&
        (f->term ? cJSON_AddStringToObject(j, "term", f->term) :
            cJSON_AddNullToObject(j, "term")) != NULL &&
        cJSON_AddStringToObject(j, "message", f->message) != NULL;
    char *s = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (s == NULL) {
        o->failed = 1;
        return 1;
    }
    puts(s);
    cJSON_free(s);
    return 0;
}

static int on_finding(const sluice_lint_finding *f, void *payload)
{
    lint_cli *o = payload;
    if (o->quiet && f->severity == SLUICE_LINT_INFO)
        return 0;
    if (o->json)
        return print_json(o, f);
    if (f->line > 0)
        printf("%s:%d: ", f->file, f->line);
    else if (f->file[0] != '\0')
        printf("%s: ", f->file);
    printf("%s: %s [%s]\n", sluice_lint_severity_name(f->severity),
        f->message, f->code);
    return 0;
}

static int print_summary(const lint_cli *o, const char *policy,
    const sluice_lint_report *r, const char *skipped)
{
    if (!o->json) {
        if (skipped != NULL)
            printf("note: Scunthorpe check skipped: %s\n", skipped);
        printf("%s: %zu %s, %zu %s, %zu info (%zu %s, %zu %s%s; %.0f ms)\n",
            policy, r->errors, r->errors == 1 ? "error" : "errors",
            r->warnings, r->warnings == 1 ? "warning" : "warnings",
            r->infos, r->rules, r->rules == 1 ? "rule" : "rules", r->terms,
            r->terms == 1 ? "term" : "terms", r->compiles ? "" :
            "; the policy does not load as it is", r->ms);
        return 0;
    }
    cJSON *j = cJSON_CreateObject(), *s = cJSON_CreateObject();
    int ok = j != NULL && s != NULL &&
        cJSON_AddStringToObject(s, "policy", policy) != NULL &&
        cJSON_AddNumberToObject(s, "errors", (double)r->errors) != NULL &&
        cJSON_AddNumberToObject(s, "warnings", (double)r->warnings) != NULL &&
        cJSON_AddNumberToObject(s, "info", (double)r->infos) != NULL &&
        cJSON_AddNumberToObject(s, "rules", (double)r->rules) != NULL &&
        cJSON_AddNumberToObject(s, "terms", (double)r->terms) != NULL &&
        cJSON_AddNumberToObject(s, "vocab_words",
            (double)r->vocab_words) != NULL &&
        cJSON_AddBoolToObject(s, "compiles", r->compiles) != NULL &&
        cJSON_AddNumberToObject(s, "ms", (double)(long)r->ms) != NULL &&
        cJSON_AddStringToObject(s, "scunthorpe", skipped ? "skipped" :
            "ran") != NULL;
    if (ok && skipped != NULL)
        ok = cJSON_AddStringToObject(s, "scunthorpe_reason", skipped) != NULL;
    if (ok) {
        cJSON_AddItemToObject(j, "summary", s);
        s = NULL;
    }
    char *txt = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    cJSON_Delete(s);
    if (txt == NULL)
        return cli_fail("lint: out of memory");
    puts(txt);
    cJSON_free(txt);
    return 0;
}

static int parse_args(lint_cli *o, sluice_lint_options *lo, int argc,
    char **argv)
{
    enum { O_JSON = 0x200, O_STRICT, O_MIN, O_VOCAB, O_NOVOCAB, O_SCUN,
        O_EXAMPLES, O_SHORT, O_SHORTHAN, O_NOPROBE, O_MINTOTAL, O_NOCONF };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, O_JSON},
        {"strict", no_argument, NULL, O_STRICT},
        {"quiet", no_argument, NULL, 'q'},
        {"min-terms", required_argument, NULL, O_MIN},
        {"min-total-terms", required_argument, NULL, O_MINTOTAL},
        {"no-lint-yaml", no_argument, NULL, O_NOCONF},
        {"vocab", required_argument, NULL, O_VOCAB},
        {"no-vocab", no_argument, NULL, O_NOVOCAB},
        {"scunthorpe", required_argument, NULL, O_SCUN},
        {"examples", required_argument, NULL, O_EXAMPLES},
        {"short", required_argument, NULL, O_SHORT},
        {"short-han", required_argument, NULL, O_SHORTHAN},
        {"no-probe", no_argument, NULL, O_NOPROBE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    int c;
    size_t *num;
    const char *name;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        num = NULL;
        name = NULL;
        switch (c) {
        case O_JSON: o->json = 1; break;
        case O_STRICT: o->strict = 1; break;
        case 'q': o->quiet = 1; break;
        case O_NOVOCAB: o->no_vocab = 1; break;
        case O_NOPROBE: lo->no_regex_probe = 1; break;
        case O_NOCONF: lo->no_lint_yaml = 1; break;
        case 'h':
            lint_usage(stdout);
            return -1;
        case O_MIN:
            if (add_min(o, optarg) != 0)
                return EXIT_USAGE;
            break;
        case O_VOCAB:
            if (o->nvocab == LINT_MAX_VOCAB)
                return cli_fail("lint: at most %d --vocab files",
                    LINT_MAX_VOCAB);
            o->vocab[o->nvocab++] = optarg;
            break;
        case O_SCUN: num = &lo->scunthorpe_words; name = "--scunthorpe"; break;
        case O_EXAMPLES: num = &lo->examples; name = "--examples"; break;
        case O_SHORT: num = &lo->short_chars; name = "--short"; break;
        case O_SHORTHAN: num = &lo->short_han; name = "--short-han"; break;
        case O_MINTOTAL:
            num = &lo->min_total_terms;
            name = "--min-total-terms";
            break;
        default:
            if (optopt != 0 && optopt < 0x100)
                return cli_fail("lint: unknown option '-%c' (try 'sluice "
                    "lint --help')", optopt);
            return cli_fail("lint: unknown or incomplete option '%s' (try "
                "'sluice lint --help')", argv[optind - 1]);
        }
        if (num != NULL && parse_count(optarg, 0, num) != 0)
            return cli_fail("lint: %s wants a whole number of at least 1, "
                "got '%s'", name, optarg);
    }
    if (optind != argc - 1)
        return cli_fail(optind >= argc ? "lint: which policy? (usage: "
            "sluice lint [options] POLICY)" : "lint: one policy at a time "
            "(got '%s' after the policy)", optind < argc - 1 ?
            argv[optind + 1] : "");
    if (o->no_vocab && o->nvocab > 0)
        return cli_fail("lint: --vocab and --no-vocab do not go together");
    return 0;
}

int cmd_lint(int argc, char **argv)
{
    lint_cli o;
    sluice_lint_options lo = SLUICE_LINT_OPTIONS_INIT;
    sluice_lint_report rep;
    sluice_error err;
    const char *skipped = NULL;
    int rc;

    memset(&o, 0, sizeof o);
    memset(&rep, 0, sizeof rep);
    memset(&err, 0, sizeof err);
    o.mins = calloc((size_t)argc + 1, sizeof *o.mins);
    if (o.mins == NULL)
        return cli_fail("lint: out of memory");
    rc = parse_args(&o, &lo, argc, argv);
    if (rc != 0) {
        free(o.mins);
        return rc < 0 ? EXIT_OK : rc;
    }
    const char *policy = argv[argc - 1];
    if (!o.no_vocab && o.nvocab == 0)
        default_vocab(&o);
    if (o.no_vocab)
        skipped = "--no-vocab given";
    else if (o.nvocab == 0)
        skipped = "no reference vocabulary (set SLUICE_DATA to the shared "
            "data set, or pass --vocab FILE)";
    lo.vocab = o.vocab;
    lo.nvocab = o.nvocab;
    lo.min_terms = o.mins;
    lo.nmin_terms = o.nmins;

    rc = sluice_policy_lint(policy, &lo, on_finding, &o, &rep, &err);
    if (rc < 0)
        rc = cli_fail_err(&err);
    else if (o.failed || rc > 0)
        rc = cli_fail("lint: out of memory printing the findings");
    else if ((rc = print_summary(&o, policy, &rep, skipped)) == 0)
        rc = rep.errors > 0 || (o.strict && rep.warnings > 0) ?
            EXIT_FAILED : EXIT_OK;
    if (fflush(stdout) != 0 && rc != EXIT_USAGE)
        rc = cli_fail("lint: cannot write the output: %s", strerror(errno));
    free(o.owned[0]);
    free(o.owned[1]);
    free(o.mins);
    return rc;
}
