/*
 * cmd_test.c - `sluice test`: runs a policy's own test cases, checks that
 * streaming gives the same verdicts, tries evasion variants of what the
 * policy catches, and says which rules and terms no case exercises.
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
 * name order into a suite (an array of cases that own their strings), and
 * refuses the whole run with "file:line: reason" if any file is malformed,
 * before a single case runs: a typo in a key must not silently turn a case
 * into one that checks nothing. Then each case (those whose name contains
 * --filter) runs through one engine with sluice_check(), its verdict is
 * compared with the expectation, and one reporter prints it: human (the
 * default: failures with an expected-vs-got diff, then a summary line),
 * TAP (for tests/run.sh) or JSON lines; --junit FILE also writes JUnit
 * XML, gathered during the run and written at the end.
 *
 * Comparison rules: only the keys present under `expect` are checked.
 * `rules` and `categories` are sets (order and repeats do not matter) and
 * must equal what fired; `output` is compared byte for byte; `spans` is a
 * multiset of [start, end) byte ranges of the original input, each with a
 * rule or, when the case leaves it out, any rule.
 *
 * Streaming (`stream: true`): the case also runs through sessions in ten
 * chunkings (whole, one byte at a time, eight random ones that cut inside
 * UTF-8 sequences and feed empty chunks), drawn from --seed and the case's
 * name, and each must give the whole text's verdict and release its
 * output (docs/streaming.md, "The guarantee"; a blocked text stops at its
 * first block, so there the stream's spans are the whole text's up to
 * that point and what it released before the refusal is the redacted text
 * before the block).
 *
 * Coverage: every verdict's rules and spans (span.term) mark the rules
 * and terms the cases exercised, looked up through the policy's rule
 * accessors; the rest is reported. Mutation (--mutate): each passing case
 * expecting redact or block is checked again, then for each rule that
 * carries that action the text of its spans is mutated (cli/mutate.c) and
 * every variant checked; a variant is caught when its action is at least
 * the expected one and every mutated part is still covered by a span of
 * at least that action. Thresholds (--min-robustness, --min-coverage,
 * --min-term-coverage) fail the run like a failing case.
 *
 * Ownership: the suite owns the cases; a result owns its verdict and its
 * stream diff until reported; the run context owns the coverage table,
 * the mutation report and the JUnit rows. Nothing is global.
 *
 * Exit status: 0 all cases passed (or there were none) and every
 * threshold was met, 1 a case failed or a threshold was missed, 2 usage,
 * policy or test-file errors.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "cli/cli.h"
#include "cli/mutate.h"

#define MAX_TEST_FILE ((size_t)64 << 20)
#define SHOW_MAX 400       /* bytes of a text quoted in a diff */
#define FIRED_MAX 20       /* spans listed under "fired" */
#define CONTEXT_BYTES 30   /* original text shown each side of a span */
#define STREAM_RUNS 10     /* chunkings per stream case */
#define ONE_BYTE_MAX ((size_t)64 << 10)  /* longer inputs: 1..4 bytes */
#define CUTS_SHOWN 40      /* cut offsets printed for a chunking */
#define MUT_PER_KIND 3     /* random variants per kind (mixes: one more) */
#define DEFAULT_SLIPS 3    /* slipping variants listed per rule */
#define TERMS_SHOWN 8      /* uncovered terms listed per rule */
#define DEFAULT_SEED 1

/* Fields under `expect`: bits of tcase.has and of tresult.mismatch. */
enum {
    F_ACTION = 1u << 0,
    F_RULES = 1u << 1,
    F_CATEGORIES = 1u << 2,
    F_OUTPUT = 1u << 3,
    F_SPANS = 1u << 4
};

static const char *const field_names[] = {
    "action", "rules", "categories", "output", "spans"
};
#define N_FIELDS (sizeof field_names / sizeof field_names[0])

/* A sorted set of distinct strings; owns them. */
typedef struct strset {
    char **v;
    size_t n;
} strset;

typedef struct tspan {
    size_t start, end;
    char *rule;            /* NULL: any rule */
} tspan;

typedef struct tcase {
    const char *file;      /* borrowed from the suite's file list */
    int line;
    char *name;
    char *input;           /* NUL-terminated; may hold NULs ("\0") */
    size_t input_len;
    unsigned has;          /* F_* present under expect */
    int action;
    strset rules, categories;
    char *output;
    size_t output_len;
    tspan *spans;
    size_t nspans;
    int stream;            /* also run through sessions in chunkings */
} tcase;

typedef struct suite {
    char **files;          /* paths as shown in messages, sorted */
    size_t nfiles;
    tcase *cases;
    size_t ncases, cap;
} suite;

typedef enum { FMT_HUMAN, FMT_TAP, FMT_JSON } test_format;

typedef struct test_opts {
    const char *policy;
    const char *filter;
    const char *junit;     /* JUnit XML file, or NULL */
    test_format fmt;
    int verbose;
    int mutate;
    int coverage;          /* list the rules and terms no case exercised */
    uint64_t seed;         /* chunkings and variants */
    size_t slips;          /* slipping variants listed per rule */
    double min_robustness; /* percent; < 0: not asked for */
    double min_coverage;
    double min_term_coverage;
} test_opts;

typedef struct tresult {
    const tcase *tc;
    size_t n;              /* 1-based number among the cases run */
    sluice_verdict *v;     /* NULL when the check itself failed */
    unsigned mismatch;     /* F_* that differ */
    char error[600];       /* why the check failed, when v is NULL */
    size_t chunkings;      /* streaming runs made */
    char *stream_diff;     /* malloc'd: how a streaming run differed from
                              the whole text; NULL when none did */
    double secs;           /* checking time, streaming included */
} tresult;

/* One test file being parsed. */
typedef struct yctx {
    const char *path;
    yaml_document_t doc;
} yctx;

/* ------------------------------------------------------------------------
 * Cases and suites: ownership
 * ---------------------------------------------------------------------- */

static void strset_free(strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static void tcase_free(tcase *tc)
{
    free(tc->name);
    free(tc->input);
    free(tc->output);
    strset_free(&tc->rules);
    strset_free(&tc->categories);
    for (size_t i = 0; i < tc->nspans; i++)
        free(tc->spans[i].rule);
    free(tc->spans);
    memset(tc, 0, sizeof *tc);
}

static void suite_free(suite *s)
{
    for (size_t i = 0; i < s->ncases; i++)
        tcase_free(&s->cases[i]);
    free(s->cases);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    memset(s, 0, sizeof *s);
}

/* Move *tc into the suite (tc is zeroed). Returns 0 or -1 (no memory). */
static int suite_add(suite *s, tcase *tc)
{
    if (s->ncases == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        tcase *q = realloc(s->cases, cap * sizeof *q);
        if (q == NULL)
            return -1;
        s->cases = q;
        s->cap = cap;
    }
    s->cases[s->ncases++] = *tc;
    memset(tc, 0, sizeof *tc);
    return 0;
}

/* ------------------------------------------------------------------------
 * YAML helpers. Each error prints "sluice: file:line: reason" and
 * returns -1.
 * ---------------------------------------------------------------------- */

static int node_line(const yaml_node_t *n)
{
    size_t l = n->start_mark.line;
    return l < (size_t)INT_MAX ? (int)l + 1 : INT_MAX;
}

static int yerr(const yctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int yerr(const yctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_fail("%s:%d: %s", c->path, node_line(n), msg);
    return -1;
}

static int nomem(void)
{
    cli_fail("out of memory");
    return -1;
}

static const char *kind_of(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

/* A plain scalar that YAML reads as null: empty, ~, null. */
static int is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (strcmp((const char *)n->data.scalar.value, nulls[i]) == 0)
            return 1;
    return 0;
}

static yaml_node_t *node_at(yctx *c, int id)
{
    return yaml_document_get_node(&c->doc, id);
}

/* A copy of a string scalar (NUL-terminated; *len excludes the NUL). */
static int get_text(yctx *c, const yaml_node_t *n, const char *label,
    char **out, size_t *len)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return yerr(c, n, "%s must be a string, got %s%s", label,
            is_null(n) ? "null" : kind_of(n),
            is_null(n) ? " (write \"\" for the empty text)" : "");
    size_t l = n->data.scalar.length;
    char *s = malloc(l + 1);
    if (s == NULL)
        return nomem();
    memcpy(s, n->data.scalar.value, l);
    s[l] = '\0';
    *out = s;
    if (len != NULL)
        *len = l;
    return 0;
}

/* A non-negative integer scalar (decimal digits only). */
static int get_size(yctx *c, const yaml_node_t *n, const char *label,
    size_t *out)
{
    const char *s;
    char *end = NULL;

    if (n->type != YAML_SCALAR_NODE)
        return yerr(c, n, "%s must be a non-negative integer (a byte "
            "offset), got %s", label, kind_of(n));
    s = (const char *)n->data.scalar.value;
    if (s[0] < '0' || s[0] > '9')
        return yerr(c, n, "%s must be a non-negative integer (a byte "
            "offset), got '%.100s'", label, s);
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > (unsigned long long)SIZE_MAX)
        return yerr(c, n, "%s must be a non-negative integer, got '%s'",
            label, s);
    *out = (size_t)v;
    return 0;
}

static int get_bool(yctx *c, const yaml_node_t *n, const char *label,
    int *out)
{
    static const char *const t[] = { "true", "True", "TRUE" };
    static const char *const f[] = { "false", "False", "FALSE" };
    const char *s = n->type == YAML_SCALAR_NODE ?
        (const char *)n->data.scalar.value : "";

    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, t[i]) == 0 || strcmp(s, f[i]) == 0) {
            *out = strcmp(s, t[i]) == 0;
            return 0;
        }
    }
    return yerr(c, n, "%s must be true or false", label);
}

/* "unknown key 'x' in LABEL (known: a, b, c)". */
static int unknown_key(yctx *c, const yaml_node_t *k, const char *label,
    const char *const *keys, size_t nkeys)
{
    char known[256] = "";
    size_t off = 0;

    for (size_t i = 0; i < nkeys && off < sizeof known; i++) {
        int w = snprintf(known + off, sizeof known - off, "%s%s",
            i ? ", " : "", keys[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return yerr(c, k, "unknown key '%.100s' in %s (known: %s)",
        (const char *)k->data.scalar.value, label, known);
}

/*
 * Check that `map` is a mapping whose keys come from keys[nkeys], each at
 * most once; set vals[i] to the value of keys[i] (NULL if absent).
 */
static int map_collect(yctx *c, const yaml_node_t *map, const char *label,
    const char *const *keys, size_t nkeys, yaml_node_t **vals)
{
    for (size_t i = 0; i < nkeys; i++)
        vals[i] = NULL;
    if (map->type != YAML_MAPPING_NODE)
        return yerr(c, map, "%s must be a mapping, got %s", label,
            kind_of(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        size_t i;
        if (k == NULL || v == NULL)
            return yerr(c, map, "%s: broken YAML node", label);
        if (k->type != YAML_SCALAR_NODE)
            return yerr(c, k, "%s: a key must be a name, got %s", label,
                kind_of(k));
        for (i = 0; i < nkeys; i++)
            if (strcmp((const char *)k->data.scalar.value, keys[i]) == 0)
                break;
        if (i == nkeys)
            return unknown_key(c, k, label, keys, nkeys);
        if (vals[i] != NULL)
            return yerr(c, k, "%s: duplicate key '%s'", label, keys[i]);
        vals[i] = v;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A list of names, as a sorted set. */
static int get_set(yctx *c, const yaml_node_t *seq, const char *label,
    strset *out)
{
    size_t n = 0, cap;

    if (seq->type != YAML_SEQUENCE_NODE)
        return yerr(c, seq, "%s must be a list, got %s (write [] for "
            "none)", label, is_null(seq) ? "null" : kind_of(seq));
    cap = (size_t)(seq->data.sequence.items.top -
        seq->data.sequence.items.start);
    out->v = calloc(cap ? cap : 1, sizeof *out->v);
    if (out->v == NULL)
        return nomem();
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = node_at(c, *it);
        if (item == NULL || item->type != YAML_SCALAR_NODE || is_null(item))
            return yerr(c, item ? item : seq, "%s: each item must be a "
                "name", label);
        if (get_text(c, item, label, &out->v[n], NULL) != 0)
            return -1;
        out->n = ++n;
    }
    qsort(out->v, n, sizeof *out->v, cmp_str);
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (w > 0 && strcmp(out->v[w - 1], out->v[r]) == 0)
            free(out->v[r]);
        else
            out->v[w++] = out->v[r];
    }
    out->n = w;
    return 0;
}

/* ------------------------------------------------------------------------
 * Test files -> cases
 * ---------------------------------------------------------------------- */

static int get_action(yctx *c, const yaml_node_t *n, int *out)
{
    if (n->type == YAML_SCALAR_NODE)
        for (int a = SLUICE_ALLOW; a <= SLUICE_BLOCK; a++)
            if (strcmp((const char *)n->data.scalar.value,
                    sluice_action_name(a)) == 0) {
                *out = a;
                return 0;
            }
    return yerr(c, n, "expect.action must be one of allow, flag, label, "
        "redact, block");
}

/* One span: {start, end, rule} or [start, end] or [start, end, rule]. */
static int parse_span(yctx *c, const yaml_node_t *n, tspan *sp)
{
    static const char *const keys[] = { "start", "end", "rule" };
    yaml_node_t *v[3] = { NULL, NULL, NULL };

    if (n->type == YAML_SEQUENCE_NODE) {
        size_t len = (size_t)(n->data.sequence.items.top -
            n->data.sequence.items.start);
        if (len != 2 && len != 3)
            return yerr(c, n, "a span is [start, end] or [start, end, rule]");
        for (size_t i = 0; i < len; i++)
            if ((v[i] = node_at(c, n->data.sequence.items.start[i])) == NULL)
                return yerr(c, n, "a span: broken YAML node");
    } else if (n->type == YAML_MAPPING_NODE) {
        if (map_collect(c, n, "a span", keys, 3, v) != 0)
            return -1;
        if (v[0] == NULL || v[1] == NULL)
            return yerr(c, n, "a span needs start and end");
    } else {
        return yerr(c, n, "a span is {start, end, rule} or [start, end], "
            "got %s", kind_of(n));
    }
    if (get_size(c, v[0], "a span's start", &sp->start) != 0 ||
        get_size(c, v[1], "a span's end", &sp->end) != 0)
        return -1;
    if (sp->end < sp->start)
        return yerr(c, n, "a span ends (%zu) before it starts (%zu)",
            sp->end, sp->start);
    if (v[2] != NULL && get_text(c, v[2], "a span's rule", &sp->rule,
            NULL) != 0)
        return -1;
    return 0;
}

static int parse_spans(yctx *c, const yaml_node_t *seq, tcase *tc)
{
    size_t cap;

    if (seq->type != YAML_SEQUENCE_NODE)
        return yerr(c, seq, "expect.spans must be a list, got %s (write [] "
            "for none)", is_null(seq) ? "null" : kind_of(seq));
    cap = (size_t)(seq->data.sequence.items.top -
        seq->data.sequence.items.start);
    tc->spans = calloc(cap ? cap : 1, sizeof *tc->spans);
    if (tc->spans == NULL)
        return nomem();
    for (size_t i = 0; i < cap; i++) {
        yaml_node_t *item = node_at(c, seq->data.sequence.items.start[i]);
        if (item == NULL)
            return yerr(c, seq, "expect.spans: broken YAML node");
        tc->nspans = i + 1;
        if (parse_span(c, item, &tc->spans[i]) != 0)
            return -1;
    }
    return 0;
}

static int parse_expect(yctx *c, const yaml_node_t *n, tcase *tc)
{
    yaml_node_t *v[N_FIELDS];

    if (map_collect(c, n, "expect", field_names, N_FIELDS, v) != 0)
        return -1;
    for (size_t i = 0; i < N_FIELDS; i++)
        if (v[i] != NULL)
            tc->has |= 1u << i;
    if (v[0] != NULL && get_action(c, v[0], &tc->action) != 0)
        return -1;
    if (v[1] != NULL && get_set(c, v[1], "expect.rules", &tc->rules) != 0)
        return -1;
    if (v[2] != NULL && get_set(c, v[2], "expect.categories",
            &tc->categories) != 0)
        return -1;
    if (v[3] != NULL && get_text(c, v[3], "expect.output", &tc->output,
            &tc->output_len) != 0)
        return -1;
    if (v[4] != NULL && parse_spans(c, v[4], tc) != 0)
        return -1;
    return 0;
}

/* Tags are accepted for later selection; only their shape is checked. */
static int check_tags(yctx *c, const yaml_node_t *n)
{
    strset tags = { NULL, 0 };
    int rc = get_set(c, n, "tags", &tags);
    strset_free(&tags);
    return rc;
}

static int parse_case(yctx *c, const yaml_node_t *n, tcase *tc)
{
    enum { K_NAME, K_INPUT, K_EXPECT, K_STREAM, K_TAGS, K_N };
    static const char *const keys[K_N] = {
        "name", "input", "expect", "stream", "tags"
    };
    yaml_node_t *v[K_N];

    tc->line = node_line(n);
    if (map_collect(c, n, "a test case", keys, K_N, v) != 0)
        return -1;
    if (v[K_NAME] == NULL)
        return yerr(c, n, "a test case needs a name");
    if (get_text(c, v[K_NAME], "name", &tc->name, NULL) != 0)
        return -1;
    if (tc->name[0] == '\0')
        return yerr(c, v[K_NAME], "a test case's name must not be empty");
    if (v[K_INPUT] == NULL)
        return yerr(c, n, "test case '%.200s' has no input", tc->name);
    if (get_text(c, v[K_INPUT], "input", &tc->input, &tc->input_len) != 0)
        return -1;
    if (v[K_EXPECT] != NULL && parse_expect(c, v[K_EXPECT], tc) != 0)
        return -1;
    if (v[K_STREAM] != NULL && get_bool(c, v[K_STREAM], "stream",
            &tc->stream) != 0)
        return -1;
    if (v[K_TAGS] != NULL && check_tags(c, v[K_TAGS]) != 0)
        return -1;
    return 0;
}

static int parse_cases(yctx *c, const yaml_node_t *root, suite *s)
{
    if (root->type != YAML_SEQUENCE_NODE)
        return yerr(c, root, "a test file is a list of cases (\"- name: "
            "...\"), got %s", kind_of(root));
    for (yaml_node_item_t *it = root->data.sequence.items.start;
         it < root->data.sequence.items.top; it++) {
        yaml_node_t *n = node_at(c, *it);
        tcase tc;
        memset(&tc, 0, sizeof tc);
        tc.file = c->path;
        if (n == NULL) {
            yerr(c, root, "broken YAML node");
            return -1;
        }
        if (parse_case(c, n, &tc) != 0) {
            tcase_free(&tc);
            return -1;
        }
        if (suite_add(s, &tc) != 0) {
            tcase_free(&tc);
            return nomem();
        }
    }
    return 0;
}

/* 1-based line of byte `off` in buf. */
static int line_of(const char *buf, size_t len, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && i < len; i++)
        if (buf[i] == '\n' && line < INT_MAX)
            line++;
    return line;
}

/* Report a libyaml failure with the line of the problem; returns -1. */
static int parser_fail(const char *path, const yaml_parser_t *ps,
    const char *buf, size_t len)
{
    const char *problem = ps->problem ? ps->problem : "unknown problem";

    if (ps->error == YAML_MEMORY_ERROR)
        return nomem();
    if (ps->error == YAML_READER_ERROR)
        cli_fail("%s:%d: YAML error: %s", path,
            line_of(buf, len, ps->problem_offset), problem);
    else if (ps->context != NULL)
        cli_fail("%s:%zu: YAML syntax error: %s (%s at line %zu)", path,
            ps->problem_mark.line + 1, problem, ps->context,
            ps->context_mark.line + 1);
    else
        cli_fail("%s:%zu: YAML syntax error: %s", path,
            ps->problem_mark.line + 1, problem);
    return -1;
}

/* After the first document: anything but the end of the stream is an
 * error (one list of cases per file). */
static int expect_stream_end(yaml_parser_t *ps, const char *path,
    const char *buf, size_t len)
{
    yaml_document_t extra;
    int rc = 0;

    if (!yaml_parser_load(ps, &extra))
        return parser_fail(path, ps, buf, len);
    yaml_node_t *root = yaml_document_get_root_node(&extra);
    if (root != NULL)
        rc = cli_fail("%s:%d: a test file holds one YAML document (one "
            "list of cases); found another", path, node_line(root));
    yaml_document_delete(&extra);
    return rc != 0 ? -1 : 0;
}

/* Parse one test file into the suite. `path` lives as long as the suite. */
static int parse_file(const char *path, suite *s)
{
    yctx c;
    yaml_parser_t ps;
    char *buf = NULL;
    size_t len = 0;
    int rc = -1, loaded = 0;
    FILE *f = fopen(path, "rb");

    memset(&c, 0, sizeof c);
    c.path = path;
    if (f == NULL)
        return cli_fail("%s: %s", path, strerror(errno)), -1;
    if (cli_read_all(f, MAX_TEST_FILE, &buf, &len) != 0) {
        cli_fail("%s: %s", path, errno == EFBIG ? "file too large" :
            strerror(errno));
        fclose(f);
        return -1;
    }
    fclose(f);
    if (!yaml_parser_initialize(&ps)) {
        free(buf);
        return nomem();
    }
    yaml_parser_set_input_string(&ps, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&ps, &c.doc)) {
        parser_fail(path, &ps, buf, len);
        goto out;
    }
    loaded = 1;
    yaml_node_t *root = yaml_document_get_root_node(&c.doc);
    if (root != NULL && parse_cases(&c, root, s) != 0)
        goto out;
    rc = root != NULL ? expect_stream_end(&ps, path, buf, len) : 0;
out:
    if (loaded)
        yaml_document_delete(&c.doc);
    yaml_parser_delete(&ps);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------
 * Finding the test files
 * ---------------------------------------------------------------------- */

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n > m && strcmp(s + n - m, suf) == 0;
}

/* dir + "/" + name, malloc'd (dir "" gives name). */
static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p == NULL)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + (a ? a + 1 : 0), name, b + 1);
    return p;
}

/*
 * The tests/ directory of the policy at `policy` (a directory, or its
 * policy.yaml), malloc'd, with trailing slashes of `policy` dropped.
 */
static char *tests_dir_of(const char *policy)
{
    struct stat st;
    size_t n = strlen(policy);
    char *dir = strdup(policy), *r;

    if (dir == NULL)
        return NULL;
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        char *slash = strrchr(dir, '/');
        if (slash == NULL)
            dir[0] = '\0';
        else
            slash[slash == dir ? 1 : 0] = '\0';
    }
    r = path_join(dir[0] ? dir : ".", "tests");
    free(dir);
    return r;
}

/* Append one path (owned) to the suite's file list. */
static int add_file(suite *s, char *path, size_t *cap)
{
    if (s->nfiles == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **q = realloc(s->files, nc * sizeof *q);
        if (q == NULL) {
            free(path);
            return -1;
        }
        s->files = q;
        *cap = nc;
    }
    s->files[s->nfiles++] = path;
    return 0;
}

/* Collect tests/NAME.yaml (and .yml), regular files, sorted by name. A
 * missing tests/ directory is no error: it leaves the list empty. */
static int list_files(const char *tdir, suite *s)
{
    size_t cap = 0;
    struct dirent *de;
    DIR *d = opendir(tdir);

    if (d == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return cli_fail("%s: %s", tdir, strerror(errno)), -1;
    }
    while ((errno = 0, de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' || !(has_suffix(de->d_name, ".yaml") ||
                has_suffix(de->d_name, ".yml")))
            continue;
        char *p = path_join(tdir, de->d_name);
        if (p == NULL || add_file(s, p, &cap) != 0) {
            closedir(d);
            return nomem();
        }
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            free(s->files[--s->nfiles]);
    }
    int err = errno;
    closedir(d);
    if (err != 0)
        return cli_fail("%s: %s", tdir, strerror(err)), -1;
    qsort(s->files, s->nfiles, sizeof *s->files, cmp_str);
    return 0;
}

/* Parse every test file; report each malformed file, fail if any was. */
static int load_suite(const char *policy, suite *s)
{
    char *tdir = tests_dir_of(policy);
    int rc = 0;

    if (tdir == NULL)
        return nomem();
    if (list_files(tdir, s) != 0) {
        free(tdir);
        return -1;
    }
    free(tdir);
    for (size_t i = 0; i < s->nfiles; i++)
        if (parse_file(s->files[i], s) != 0)
            rc = -1;
    return rc;
}


/* ------------------------------------------------------------------------
 * Small helpers: a byte buffer, memory streams, time, seeds
 * ---------------------------------------------------------------------- */

/* A growable byte buffer, NUL-terminated; owns p. */
typedef struct tbuf {
    char *p;
    size_t n, cap;
} tbuf;

static int tbuf_put(tbuf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - b->n - 1)
        return -1;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n + 1) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

/* Text built with the FILE printers (open_memstream). */
typedef struct mstream {
    FILE *f;
    char *p;
    size_t n;
} mstream;

static int ms_open(mstream *m)
{
    m->p = NULL;
    m->n = 0;
    m->f = open_memstream(&m->p, &m->n);
    return m->f != NULL ? 0 : -1;
}

/* Close the stream: its text (malloc'd, the caller's), or NULL if it
 * could not be written (out of memory). */
static char *ms_close(mstream *m)
{
    int bad;

    if (m->f == NULL)
        return NULL;
    bad = ferror(m->f);
    if (fclose(m->f) != 0)
        bad = 1;
    m->f = NULL;
    if (bad) {
        free(m->p);
        m->p = NULL;
    }
    return m->p;
}

static double now_secs(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* FNV-1a over a string and a separator, to derive per-case seeds that do
 * not depend on which other cases run or how the policy path is spelt. */
static uint64_t hash_str(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001B3ull;
    }
    h ^= 0xFF;
    return h * 0x100000001B3ull;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b != NULL ? b + 1 : path;
}

/* Percent of a in b (100 when b is 0). */
static double pct(size_t a, size_t b)
{
    return b == 0 ? 100.0 : 100.0 * (double)a / (double)b;
}

/* A percent for people: rounded to 0.1, except that what is not quite
 * 100 never shows as 100.0 (99.96 -> 99.9). */
static double pct_shown(double p)
{
    double r = floor(p * 10.0 + 0.5) / 10.0;
    return r >= 100.0 && p < 100.0 ? 99.9 : r;
}

/* ------------------------------------------------------------------------
 * Running and comparing
 * ---------------------------------------------------------------------- */

static int set_has(const strset *s, const char *x)
{
    return bsearch(&x, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

/* Verdict lists are distinct by contract: equal sizes + inclusion = equal. */
static int names_equal(const strset *want, const sluice_verdict *v,
    size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    size_t n = count(v);
    if (n != want->n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!set_has(want, get(v, i)))
            return 0;
    return 1;
}

/*
 * Match expected spans to the verdict's, one to one: first those naming a
 * rule, then those leaving it open (which any rule can fill). Returns 1
 * equal, 0 different, -1 out of memory.
 */
static int spans_equal(const tcase *tc, const sluice_verdict *v)
{
    size_t n = sluice_verdict_span_count(v);
    int eq = 1;

    if (n != tc->nspans || sluice_verdict_spans_truncated(v))
        return 0;
    unsigned char *used = calloc(n ? n : 1, 1);
    if (used == NULL)
        return -1;
    for (int pass = 0; pass < 2 && eq; pass++) {
        for (size_t i = 0; i < tc->nspans && eq; i++) {
            const tspan *w = &tc->spans[i];
            size_t j;
            if ((pass == 0) != (w->rule != NULL))
                continue;
            for (j = 0; j < n; j++) {
                sluice_span g;
                if (used[j] || sluice_verdict_span(v, j, &g) != 0)
                    continue;
                if (g.start == w->start && g.end == w->end &&
                    (w->rule == NULL || strcmp(w->rule, g.rule) == 0))
                    break;
            }
            if (j == n)
                eq = 0;
            else
                used[j] = 1;
        }
    }
    free(used);
    return eq;
}

/* Fill r->mismatch. Returns 0, or -1 when out of memory. */
static int compare(const tcase *tc, const sluice_verdict *v, tresult *r)
{
    size_t len = 0;
    const char *out = sluice_verdict_output(v, &len);

    r->mismatch = 0;
    if ((tc->has & F_ACTION) && (int)sluice_verdict_action(v) != tc->action)
        r->mismatch |= F_ACTION;
    if ((tc->has & F_RULES) && !names_equal(&tc->rules, v,
            sluice_verdict_rule_count, sluice_verdict_rule))
        r->mismatch |= F_RULES;
    if ((tc->has & F_CATEGORIES) && !names_equal(&tc->categories, v,
            sluice_verdict_category_count, sluice_verdict_category))
        r->mismatch |= F_CATEGORIES;
    if ((tc->has & F_OUTPUT) && (len != tc->output_len ||
            (len > 0 && memcmp(out, tc->output, len) != 0)))
        r->mismatch |= F_OUTPUT;
    if (tc->has & F_SPANS) {
        int eq = spans_equal(tc, v);
        if (eq < 0)
            return -1;
        if (!eq)
            r->mismatch |= F_SPANS;
    }
    return 0;
}

/* Run one case. A failed check is a failed case (r->error says why), not
 * an error of the run, except when memory runs out (-1, reported). */
static int run_case(sluice_engine *e, const tcase *tc, tresult *r)
{
    sluice_error err;
    int rc;

    memset(&err, 0, sizeof err);
    r->tc = tc;
    r->v = NULL;
    r->mismatch = 0;
    r->error[0] = '\0';
    rc = sluice_check(e, tc->input, tc->input_len, NULL, &r->v, &err);
    if (rc == SLUICE_ENOMEM || (rc == 0 && compare(tc, r->v, r) != 0))
        return nomem();
    if (rc != 0) {
        r->v = NULL;
        snprintf(r->error, sizeof r->error, "%s", err.message[0] ?
            err.message : sluice_strerror(rc));
    }
    return 0;
}

static int passed(const tresult *r)
{
    return r->v != NULL && r->mismatch == 0 && r->stream_diff == NULL;
}

/* ------------------------------------------------------------------------
 * Printing texts: escapes, context, sets
 * ---------------------------------------------------------------------- */

/* s[0..n) escaped (no quotes): C escapes for controls and bad bytes,
 * \uXXXX for what a reader could not see or tell from ASCII (zero-width
 * characters, Cyrillic look-alikes; cli_mut_plain), at most `max` bytes
 * of s. Returns the bytes of s consumed. */
static size_t put_escaped(FILE *f, const char *s, size_t n, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n && i < max) {
        uint32_t cp = 0;
        size_t k = cli_utf8_next(u + i, n - i, &cp);
        if (k == 0)
            fprintf(f, "\\x%02x", u[i]);
        else if (cp == '"' || cp == '\\')
            fprintf(f, "\\%c", (int)cp);
        else if (cp == '\n')
            fputs("\\n", f);
        else if (cp == '\t')
            fputs("\\t", f);
        else if (cp == '\r')
            fputs("\\r", f);
        else if (cp < 0x20 || cp == 0x7F)
            fprintf(f, "\\x%02x", (unsigned)cp);
        else if (cli_mut_plain(cp))
            fwrite(u + i, 1, k, f);
        else if (cp <= 0xFFFF)
            fprintf(f, "\\u%04x", (unsigned)cp);
        else
            fprintf(f, "\\U%08x", (unsigned)cp);
        i += k ? k : 1;
    }
    return i;
}

/* Print s[0..n) in double quotes, escaped, at most SHOW_MAX bytes (then
 * how many more). */
static void put_quoted(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    size_t i = put_escaped(f, s, n, SHOW_MAX);
    fputc('"', f);
    if (i < n)
        fprintf(f, "... (%zu more bytes)", n - i);
}

/* Step back from `at` to the start of a UTF-8 sequence (at most 3). */
static size_t char_start(const char *s, size_t at, size_t lo)
{
    for (int k = 0; k < 3 && at > lo &&
         ((unsigned char)s[at] & 0xC0) == 0x80; k++)
        at--;
    return at;
}

/* The original text around [start, end): "...before «span» after...", at
 * most CONTEXT_BYTES each side, cut at character starts. */
static void put_context(FILE *f, const char *s, size_t n, size_t start,
    size_t end)
{
    size_t a = start > CONTEXT_BYTES ? start - CONTEXT_BYTES : 0;
    size_t z = end + CONTEXT_BYTES < n ? end + CONTEXT_BYTES : n;

    if (start > end || end > n)
        return;
    a = char_start(s, a, 0);
    if (z < n)
        z = char_start(s, z, end);
    fprintf(f, "\"%s", a > 0 ? "..." : "");
    put_escaped(f, s + a, start - a, SIZE_MAX);
    fputs("\xC2\xAB", f);   /* « */
    if (put_escaped(f, s + start, end - start, SHOW_MAX) < end - start)
        fputs("...", f);
    fputs("\xC2\xBB", f);   /* » */
    put_escaped(f, s + end, z - end, SIZE_MAX);
    fprintf(f, "%s\"", z < n ? "..." : "");
}

/* Each line of text, prefixed. */
static void put_lines(FILE *f, const char *pfx, const char *text)
{
    while (*text != '\0') {
        const char *nl = strchr(text, '\n');
        size_t len = nl != NULL ? (size_t)(nl - text) : strlen(text);
        fprintf(f, "%s%.*s\n", pfx, (int)len, text);
        text += len + (nl != NULL);
    }
}

static void put_set(FILE *f, const strset *s)
{
    fputc('[', f);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%s%s", i ? ", " : "", s->v[i]);
    fputc(']', f);
}

static void put_names(FILE *f, const sluice_verdict *v,
    size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    size_t n = count(v);
    fputc('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ", " : "", get(v, i));
    fputc(']', f);
}

/* "(missing: a; not expected: b)" after a set diff, when there are any. */
static void put_set_delta(FILE *f, const strset *want,
    const sluice_verdict *v, size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    size_t n = count(v), nmiss = 0, nextra = 0;

    for (size_t i = 0; i < want->n; i++) {
        size_t j = 0;
        while (j < n && strcmp(get(v, j), want->v[i]) != 0)
            j++;
        if (j == n)
            fprintf(f, "%s%s", nmiss++ ? ", " : " (missing: ", want->v[i]);
    }
    for (size_t j = 0; j < n; j++)
        if (!set_has(want, get(v, j)))
            fprintf(f, "%s%s", nextra++ ? ", " : nmiss ?
                "; not expected: " : " (not expected: ", get(v, j));
    if (nmiss + nextra > 0)
        fputc(')', f);
}

static void put_want_spans(FILE *f, const tcase *tc)
{
    fputc('[', f);
    for (size_t i = 0; i < tc->nspans; i++) {
        const tspan *s = &tc->spans[i];
        fprintf(f, "%s%zu-%zu", i ? ", " : "", s->start, s->end);
        if (s->rule != NULL)
            fprintf(f, " %s", s->rule);
    }
    fputc(']', f);
}

static void put_got_spans(FILE *f, const sluice_verdict *v)
{
    size_t n = sluice_verdict_span_count(v);
    sluice_span s;
    fputc('[', f);
    for (size_t i = 0; i < n && i < FIRED_MAX; i++)
        if (sluice_verdict_span(v, i, &s) == 0)
            fprintf(f, "%s%zu-%zu %s", i ? ", " : "", s.start, s.end, s.rule);
    if (n > FIRED_MAX)
        fprintf(f, ", ... %zu more", n - FIRED_MAX);
    fputc(']', f);
}

static size_t first_diff(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0;
    while (i < an && i < bn && a[i] == b[i])
        i++;
    return i;
}

/* ------------------------------------------------------------------------
 * Streaming runs (stream: true)
 * ---------------------------------------------------------------------- */

/* One way of cutting a text into chunks. */
typedef struct chunking {
    const char *label;     /* static */
    size_t *cuts;          /* owned: where each chunk after the first
                              starts, ascending; a repeated offset (or 0,
                              or the length) feeds an empty chunk */
    size_t ncuts, cap;
} chunking;

/* What one streaming run gave. */
typedef struct srun {
    tbuf out;              /* released bytes, the refusal included */
    size_t refusal_at;     /* where the refusal starts in out */
    size_t released_input; /* input bytes released before a stop */
    sluice_verdict *v;
    int stopped;
    int rc;                /* a failed call's code, else 0 */
    const char *call;      /* which call failed */
} srun;

static int cut_push(chunking *c, size_t at)
{
    if (c->ncuts == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        size_t *q = realloc(c->cuts, cap * sizeof *q);
        if (q == NULL)
            return -1;
        c->cuts = q;
        c->cap = cap;
    }
    c->cuts[c->ncuts++] = at;
    return 0;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Chunks of lo..hi bytes. */
static int cut_sized(chunking *c, size_t n, size_t lo, size_t hi,
    uint64_t *rng)
{
    for (size_t at = 0;;) {
        at += lo + (size_t)(cli_mut_rand(rng) % (hi - lo + 1));
        if (at >= n)
            return 0;
        if (cut_push(c, at) != 0)
            return -1;
    }
}

/* One to six cuts anywhere. */
static int cut_random(chunking *c, size_t n, uint64_t *rng)
{
    size_t m = 1 + (size_t)(cli_mut_rand(rng) % 6);
    for (size_t i = 0; i < m && n > 1; i++)
        if (cut_push(c, 1 + (size_t)(cli_mut_rand(rng) % (n - 1))) != 0)
            return -1;
    return 0;
}

/* Cuts inside multi-byte characters (before continuation bytes), each
 * with probability 1/2; one random cut if the text has none. */
static int cut_inside(chunking *c, const char *s, size_t n, uint64_t *rng)
{
    for (size_t i = 1; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) == 0x80 &&
            (cli_mut_rand(rng) & 1) && cut_push(c, i) != 0)
            return -1;
    return c->ncuts == 0 ? cut_random(c, n, rng) : 0;
}

/* Chunks of 1..8 bytes with an empty chunk in between and one at the
 * end. (Not before the first byte: a session fed nothing yet fails there
 * with SLUICE_ENOMEM, a library bug reported separately.) */
static int cut_empty(chunking *c, size_t n, uint64_t *rng)
{
    if (cut_sized(c, n, 1, 8, rng) != 0)
        return -1;
    if (c->ncuts > 0 && cut_push(c, c->cuts[(size_t)(cli_mut_rand(rng) %
            c->ncuts)]) != 0)
        return -1;
    return n > 0 ? cut_push(c, n) : 0;
}

/* Chunking k (0..STREAM_RUNS-1) of s[0..n). */
static int make_chunking(int k, const char *s, size_t n, uint64_t *rng,
    chunking *c)
{
    int rc = 0;

    memset(c, 0, sizeof *c);
    switch (k) {
    case 0:
        c->label = "whole";
        return 0;
    case 1:
        if (n <= ONE_BYTE_MAX) {
            c->label = "1-byte";
            for (size_t i = 1; i < n && rc == 0; i++)
                rc = cut_push(c, i);
            return rc;
        }
        c->label = "random 1-4 bytes";
        return cut_sized(c, n, 1, 4, rng);
    case 2: case 7:
        c->label = "random 1-3 bytes";
        rc = cut_sized(c, n, 1, 3, rng);
        break;
    case 3:
        c->label = "random 1-16 bytes";
        rc = cut_sized(c, n, 1, 16, rng);
        break;
    case 4: case 9:
        c->label = "random cuts";
        rc = cut_random(c, n, rng);
        break;
    case 5: case 8:
        c->label = "cuts inside characters";
        rc = cut_inside(c, s, n, rng);
        break;
    default:
        c->label = "empty chunks";
        rc = cut_empty(c, n, rng);
        break;
    }
    if (rc == 0 && c->ncuts > 1)
        qsort(c->cuts, c->ncuts, sizeof *c->cuts, cmp_size);
    return rc;
}

static int same_cuts(const chunking *a, const chunking *b)
{
    return a->ncuts == b->ncuts && (a->ncuts == 0 ||
        memcmp(a->cuts, b->cuts, a->ncuts * sizeof *a->cuts) == 0);
}

/* Feed the case's input through a session, cut as `c` says. Returns 0
 * (sr->rc says whether a library call failed, even for want of memory:
 * that is the case's failure), or -1 when keeping the released bytes
 * ran out of memory. */
static int stream_once(sluice_engine *e, const tcase *tc, const chunking *c,
    srun *sr)
{
    sluice_session *s = NULL;
    sluice_release rel;
    sluice_error err;
    size_t at = 0;
    int rc;

    memset(sr, 0, sizeof *sr);
    memset(&err, 0, sizeof err);
    if ((rc = sluice_session_new(&s, e, NULL, NULL, &err)) != 0) {
        sr->call = "sluice_session_new";
        goto out;
    }
    for (size_t i = 0; i <= c->ncuts && !sr->stopped; i++) {
        size_t end = i < c->ncuts ? c->cuts[i] : tc->input_len;
        rc = sluice_session_feed(s, tc->input + at, end - at, &rel);
        at = end;
        if (rc != 0) {
            sr->call = "sluice_session_feed";
            goto out;
        }
        if (rel.stop) {
            sr->stopped = 1;
            sr->refusal_at = sr->out.n;
            sr->released_input = at - sluice_session_held(s);
        }
        if (tbuf_put(&sr->out, rel.data, rel.len) != 0)
            goto oom;
    }
    if ((rc = sluice_session_finish(s, &rel, &sr->v)) != 0) {
        sr->call = "sluice_session_finish";
        goto out;
    }
    if (rel.stop && !sr->stopped) {
        sr->stopped = 1;
        sr->refusal_at = sr->out.n;
        sr->released_input = tc->input_len - sluice_session_held(s);
    }
    if (tbuf_put(&sr->out, rel.data, rel.len) != 0)
        goto oom;
out:
    sluice_session_free(s);
    sr->rc = rc;
    return 0;
oom:
    sluice_session_free(s);
    return -1;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_span(const sluice_span *a, const sluice_span *b)
{
    return a->start == b->start && a->end == b->end &&
        strcmp(a->rule, b->rule) == 0 && a->action == b->action &&
        same_str(a->term, b->term);
}

static int same_names(const sluice_verdict *a, const sluice_verdict *b,
    size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    if (count(a) != count(b))
        return 0;
    for (size_t i = 0; i < count(a); i++)
        if (strcmp(get(a, i), get(b, i)) != 0)
            return 0;
    return 1;
}

/* Spans a[0..n) equal b[0..n). */
static int same_spans(const sluice_verdict *a, const sluice_verdict *b,
    size_t n)
{
    sluice_span x, y;
    for (size_t i = 0; i < n; i++)
        if (sluice_verdict_span(a, i, &x) != 0 ||
            sluice_verdict_span(b, i, &y) != 0 || !same_span(&x, &y))
            return 0;
    return 1;
}

#define SD_PFX "            "   /* lines under "stream:" */

/* Differences of a run that must equal the whole text (not blocked). */
static size_t diff_unblocked(FILE *f, const sluice_verdict *w,
    const srun *sr)
{
    const sluice_verdict *v = sr->v;
    size_t wl = 0, nd = 0;
    const char *wo = sluice_verdict_output(w, &wl);

    if (sr->stopped && ++nd)
        fprintf(f, SD_PFX "stopped:  the stream was blocked (%s), the "
            "whole text was not\n", sluice_action_name(
            sluice_verdict_action(v)));
    else if (sluice_verdict_action(v) != sluice_verdict_action(w) && ++nd)
        fprintf(f, SD_PFX "action:   whole text %s, streamed %s\n",
            sluice_action_name(sluice_verdict_action(w)),
            sluice_action_name(sluice_verdict_action(v)));
    if (!same_names(w, v, sluice_verdict_rule_count, sluice_verdict_rule) &&
        ++nd) {
        fputs(SD_PFX "rules:    whole text ", f);
        put_names(f, w, sluice_verdict_rule_count, sluice_verdict_rule);
        fputs(", streamed ", f);
        put_names(f, v, sluice_verdict_rule_count, sluice_verdict_rule);
        fputc('\n', f);
    }
    if (!same_names(w, v, sluice_verdict_category_count,
            sluice_verdict_category) && ++nd)
        fputs(SD_PFX "categories differ\n", f);
    if ((sluice_verdict_span_count(w) != sluice_verdict_span_count(v) ||
         !same_spans(w, v, sluice_verdict_span_count(w))) && ++nd) {
        fputs(SD_PFX "spans:    whole text ", f);
        put_got_spans(f, w);
        fputs(", streamed ", f);
        put_got_spans(f, v);
        fputc('\n', f);
    }
    if ((wl != sr->out.n || (wl > 0 && memcmp(wo, sr->out.p, wl) != 0)) &&
        ++nd) {
        fputs(SD_PFX "released: whole text ", f);
        put_quoted(f, wo, wl);
        fprintf(f, "\n" SD_PFX "          streamed   ");
        put_quoted(f, sr->out.p ? sr->out.p : "", sr->out.n);
        fprintf(f, "\n" SD_PFX "          (first difference at byte %zu)\n",
            first_diff(wo, wl, sr->out.p ? sr->out.p : "", sr->out.n));
    }
    return nd;
}

/*
 * What a blocked run released before the refusal must be the redacted
 * text of the input bytes it released. That text is known when a check of
 * just those bytes finds exactly the whole text's spans that lie in them
 * (then the masks are the same); when it finds others (a term cut short
 * that a boundary now accepts), nothing is claimed. Returns 1 if the
 * released bytes differ (described), 0 if not or unknown, -1 no memory.
 */
static int diff_released_prefix(FILE *f, sluice_engine *e, const tcase *tc,
    const sluice_verdict *w, const srun *sr)
{
    sluice_verdict *t = NULL;
    size_t ri = sr->released_input, k = 0, tl = 0;
    sluice_span x, y;
    int rc = sluice_check(e, tc->input, ri, NULL, &t, NULL), differs = 0;

    if (rc != 0)
        return rc == SLUICE_ENOMEM ? -1 : 0;
    int known = sluice_verdict_action(t) != SLUICE_BLOCK &&
        !sluice_verdict_spans_truncated(t);
    for (size_t i = 0; known && i < sluice_verdict_span_count(w); i++) {
        if (sluice_verdict_span(w, i, &x) != 0 || x.start >= ri)
            continue;
        known = x.end <= ri && k < sluice_verdict_span_count(t) &&
            sluice_verdict_span(t, k++, &y) == 0 && same_span(&x, &y);
    }
    known = known && k == sluice_verdict_span_count(t);
    const char *to = sluice_verdict_output(t, &tl);
    if (known && (tl != sr->refusal_at ||
            (tl > 0 && memcmp(to, sr->out.p, tl) != 0))) {
        differs = 1;
        fputs(SD_PFX "released: before the refusal, expected ", f);
        put_quoted(f, to, tl);
        fprintf(f, " (the redacted text of the %zu input bytes released)\n"
            SD_PFX "          streamed ", ri);
        put_quoted(f, sr->out.p, sr->refusal_at);
        fputc('\n', f);
    }
    sluice_verdict_free(t);
    return differs;
}

/* Differences of a run of a blocked text: it must stop at the first
 * block span, with the whole text's spans up to there, the refusal, and
 * no byte of the blocked span released. Returns the number of
 * differences, or (size_t)-1 when out of memory. */
static size_t diff_blocked(FILE *f, sluice_engine *e, const tcase *tc,
    const sluice_verdict *w, const srun *sr)
{
    const sluice_verdict *v = sr->v;
    size_t wn = sluice_verdict_span_count(w), sn = sluice_verdict_span_count(v);
    size_t wl = 0, nd = 0, b;
    const char *wo = sluice_verdict_output(w, &wl);
    sluice_span x, y;

    if (sluice_verdict_action(v) != SLUICE_BLOCK && ++nd)
        fprintf(f, SD_PFX "action:   whole text block, streamed %s\n",
            sluice_action_name(sluice_verdict_action(v)));
    if (!sr->stopped && ++nd)
        fputs(SD_PFX "stopped:  the stream was never stopped\n", f);
    if ((sn > wn || !same_spans(w, v, sn)) && ++nd) {
        fputs(SD_PFX "spans:    whole text ", f);
        put_got_spans(f, w);
        fputs(", streamed ", f);
        put_got_spans(f, v);
        fputs(" (not the whole text's first ones)\n", f);
    }
    for (b = 0; b < wn; b++)
        if (sluice_verdict_span(w, b, &x) == 0 && x.action == SLUICE_BLOCK)
            break;
    if (b < wn) {
        int found = 0;
        for (size_t k = 0; k < sn && !found; k++)
            found = sluice_verdict_span(v, k, &y) == 0 && same_span(&x, &y);
        if (!found && ++nd)
            fprintf(f, SD_PFX "spans:    the first block span, %zu-%zu %s, "
                "is not in the streamed verdict\n", x.start, x.end, x.rule);
        if (sr->stopped && sr->released_input > x.start && ++nd)
            fprintf(f, SD_PFX "released: %zu input bytes, past the start of "
                "the block span at %zu\n", sr->released_input, x.start);
    }
    size_t rl = sr->out.n - sr->refusal_at;
    if (sr->stopped && (rl != wl || (wl > 0 &&
            memcmp(sr->out.p + sr->refusal_at, wo, wl) != 0)) && ++nd) {
        fputs(SD_PFX "refusal:  whole text ", f);
        put_quoted(f, wo, wl);
        fputs(", streamed ", f);
        put_quoted(f, sr->out.p + sr->refusal_at, rl);
        fputc('\n', f);
    }
    if (sr->stopped && sr->out.p != NULL) {
        int d = diff_released_prefix(f, e, tc, w, sr);
        if (d < 0)
            return (size_t)-1;
        nd += (size_t)d;
    }
    return nd;
}

/* "chunking 3 of 10 (random 1-16 bytes, seed 1): cuts at 3, 9, 12". */
static void put_chunking(FILE *f, const chunking *c, size_t i, size_t n,
    uint64_t seed)
{
    fprintf(f, "stream:     chunking %zu of %zu (%s, seed %llu): ", i + 1, n,
        c->label, (unsigned long long)seed);
    if (c->ncuts == 0)
        fputs("one chunk, no cuts\n", f);
    else {
        fputs("cuts at", f);
        for (size_t k = 0; k < c->ncuts && k < CUTS_SHOWN; k++)
            fprintf(f, "%s %zu", k ? "," : "", c->cuts[k]);
        if (c->ncuts > CUTS_SHOWN)
            fprintf(f, ", ... (%zu cuts)", c->ncuts);
        fputc('\n', f);
    }
}

/* Compare one run with the whole text, describing the first failing run
 * in *ms (opened on demand). Returns 1 differs, 0 agrees, -1 no memory. */
static int stream_judge(sluice_engine *e, const tresult *r, const srun *sr,
    const chunking *c, size_t i, size_t n, uint64_t seed, mstream *ms)
{
    mstream tmp;
    size_t nd;

    if (ms_open(&tmp) != 0)
        return -1;
    if (sr->rc != 0) {
        fprintf(tmp.f, SD_PFX "error:    %s: %s\n", sr->call,
            sluice_strerror(sr->rc));
        nd = 1;
    } else {
        nd = sluice_verdict_action(r->v) == SLUICE_BLOCK ?
            diff_blocked(tmp.f, e, r->tc, r->v, sr) :
            diff_unblocked(tmp.f, r->v, sr);
    }
    char *text = ms_close(&tmp);
    if (text == NULL || nd == (size_t)-1) {
        free(text);
        return -1;
    }
    if (nd > 0 && ms->f == NULL) {
        if (ms_open(ms) != 0) {
            free(text);
            return -1;
        }
        put_chunking(ms->f, c, i, n, seed);
        fputs(text, ms->f);
    }
    free(text);
    return nd > 0;
}

/*
 * Run the case through sessions in up to STREAM_RUNS distinct chunkings
 * and compare each with the whole text's verdict r->v. Sets r->chunkings
 * and, when a run differs, r->stream_diff. Returns 0, or -1 when out of
 * memory (reported).
 */
static int run_stream(sluice_engine *e, const test_opts *o, tresult *r)
{
    const tcase *tc = r->tc;
    uint64_t rng = hash_str(hash_str(o->seed ^ 0x73747265616D0000ull,
        base_name(tc->file)), tc->name);
    chunking ch[STREAM_RUNS];
    size_t nch = 0, nbad = 0;
    mstream ms = { NULL, NULL, 0 };
    int rc = 0;

    for (int k = 0; k < STREAM_RUNS && rc == 0; k++) {
        chunking c;
        size_t j = 0;
        rc = make_chunking(k, tc->input, tc->input_len, &rng, &c);
        while (rc == 0 && j < nch && !same_cuts(&ch[j], &c))
            j++;
        if (rc == 0 && j == nch)
            ch[nch++] = c;
        else
            free(c.cuts);
    }
    for (size_t i = 0; i < nch && rc == 0; i++) {
        srun sr;
        rc = stream_once(e, tc, &ch[i], &sr);
        if (rc == 0) {
            r->chunkings++;
            int d = stream_judge(e, r, &sr, &ch[i], i, nch, o->seed, &ms);
            if (d < 0)
                rc = -1;
            nbad += d > 0;
        }
        sluice_verdict_free(sr.v);
        free(sr.out.p);
    }
    for (size_t i = 0; i < nch; i++)
        free(ch[i].cuts);
    if (rc == 0 && nbad > 1)
        fprintf(ms.f, SD_PFX "(%zu of %zu chunkings differ; this is the "
            "first)\n", nbad, nch);
    if (ms.f != NULL) {
        r->stream_diff = ms_close(&ms);
        if (r->stream_diff == NULL)
            rc = -1;
    }
    return rc == 0 ? 0 : nomem();
}

/* ------------------------------------------------------------------------
 * Human and TAP reports: a diff per failed case
 * ---------------------------------------------------------------------- */

static void put_output_diff(FILE *f, const char *pfx, const tresult *r)
{
    size_t len = 0;
    const char *out = sluice_verdict_output(r->v, &len);

    fprintf(f, "%soutput:     expected ", pfx);
    put_quoted(f, r->tc->output, r->tc->output_len);
    fprintf(f, "\n%s            got      ", pfx);
    put_quoted(f, out, len);
    fprintf(f, "\n%s            (first difference at byte %zu)\n", pfx,
        first_diff(r->tc->output, r->tc->output_len, out, len));
}

/* The spans that fired: rule, action, offsets, the original text, the
 * term the policy wrote (or that a regex matched), and the text around. */
static void put_fired(FILE *f, const char *pfx, const tresult *r)
{
    size_t n = sluice_verdict_span_count(r->v);
    const tcase *tc = r->tc;
    sluice_span s;

    if (n == 0)
        fprintf(f, "%sfired:      nothing\n", pfx);
    for (size_t i = 0; i < n && i < FIRED_MAX; i++) {
        if (sluice_verdict_span(r->v, i, &s) != 0)
            continue;
        int inside = s.start <= s.end && s.end <= tc->input_len;
        fprintf(f, "%s%s %s (%s) at %zu-%zu ", pfx, i ? "           " :
            "fired:     ", s.rule, sluice_action_name(s.action), s.start,
            s.end);
        if (inside)
            put_quoted(f, tc->input + s.start, s.end - s.start);
        if (s.term != NULL) {
            fputs(", term ", f);
            put_quoted(f, s.term, strlen(s.term));
        } else {
            fputs(", a regex match", f);
        }
        fputc('\n', f);
        if (inside) {
            fprintf(f, "%s              in ", pfx);
            put_context(f, tc->input, tc->input_len, s.start, s.end);
            fputc('\n', f);
        }
    }
    if (n > FIRED_MAX)
        fprintf(f, "%s            ... and %zu more\n", pfx, n - FIRED_MAX);
}

/* Expected-vs-got lines for a failed case, each starting with `pfx`. */
static void put_diff(FILE *f, const char *pfx, const tresult *r)
{
    const tcase *tc = r->tc;
    const sluice_verdict *v = r->v;

    if (v == NULL) {
        fprintf(f, "%serror:      %s\n", pfx, r->error);
        return;
    }
    if (r->mismatch & F_ACTION)
        fprintf(f, "%saction:     expected %s, got %s\n", pfx,
            sluice_action_name(tc->action),
            sluice_action_name(sluice_verdict_action(v)));
    if (r->mismatch & F_RULES) {
        fprintf(f, "%srules:      expected ", pfx);
        put_set(f, &tc->rules);
        fputs(", got ", f);
        put_names(f, v, sluice_verdict_rule_count, sluice_verdict_rule);
        put_set_delta(f, &tc->rules, v, sluice_verdict_rule_count,
            sluice_verdict_rule);
        fputc('\n', f);
    }
    if (r->mismatch & F_CATEGORIES) {
        fprintf(f, "%scategories: expected ", pfx);
        put_set(f, &tc->categories);
        fputs(", got ", f);
        put_names(f, v, sluice_verdict_category_count,
            sluice_verdict_category);
        put_set_delta(f, &tc->categories, v, sluice_verdict_category_count,
            sluice_verdict_category);
        fputc('\n', f);
    }
    if (r->mismatch & F_OUTPUT)
        put_output_diff(f, pfx, r);
    if (r->mismatch & F_SPANS) {
        fprintf(f, "%sspans:      expected ", pfx);
        put_want_spans(f, tc);
        fprintf(f, "\n%s            got      ", pfx);
        put_got_spans(f, v);
        fprintf(f, "%s\n", sluice_verdict_spans_truncated(v) ?
            " (truncated: over max_spans)" : "");
    }
    if (r->stream_diff != NULL)
        put_lines(f, pfx, r->stream_diff);
    fprintf(f, "%sinput:      ", pfx);
    put_quoted(f, tc->input, tc->input_len);
    fputc('\n', f);
    put_fired(f, pfx, r);
}

static void report_human(const tresult *r, const test_opts *o)
{
    if (passed(r)) {
        if (!o->verbose)
            return;
        printf("ok   %s:%d: %s\n", r->tc->file, r->tc->line, r->tc->name);
        if (r->tc->stream)
            printf("       stream: %zu chunking%s (whole, 1-byte, random; "
                "seed %llu) agree with the whole text\n", r->chunkings,
                r->chunkings == 1 ? "" : "s", (unsigned long long)o->seed);
        return;
    }
    printf("FAIL %s:%d: %s\n", r->tc->file, r->tc->line, r->tc->name);
    put_diff(stdout, "  ", r);
}

/* A TAP description must stay on one line and must not start a
 * directive: newlines become spaces, '#' is escaped. */
static void put_tap_text(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\n' || *s == '\r')
            putchar(' ');
        else if (*s == '#')
            fputs("\\#", stdout);
        else
            putchar(*s);
    }
}

static void report_tap(const tresult *r)
{
    printf("%sok %zu - ", passed(r) ? "" : "not ", r->n);
    put_tap_text(base_name(r->tc->file));
    fputs(": ", stdout);
    put_tap_text(r->tc->name);
    putchar('\n');
    if (!passed(r)) {
        printf("#   at %s:%d\n", r->tc->file, r->tc->line);
        put_diff(stdout, "#   ", r);
    }
}

/* ------------------------------------------------------------------------
 * JSON report: one object per case, then the mutation and coverage
 * objects, then a summary object
 * ---------------------------------------------------------------------- */

/* A JSON string literal of s[0..n) that keeps NUL bytes (as \u0000),
 * which cJSON's C strings cannot carry; for cJSON_CreateRaw. */
static char *json_escape(const char *s, size_t n)
{
    char *t = n <= (SIZE_MAX - 3) / 6 ? malloc(n * 6 + 3) : NULL;
    size_t w = 0;

    if (t == NULL)
        return NULL;
    t[w++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            t[w++] = '\\';
            t[w++] = (char)ch;
        } else if (ch < 0x20) {
            snprintf(t + w, 7, "\\u%04x", ch);
            w += 6;
        } else {
            t[w++] = (char)ch;
        }
    }
    t[w++] = '"';
    t[w] = '\0';
    return t;
}

/* A JSON string of s[0..n) (cJSON wants it NUL-terminated). */
static cJSON *json_str_n(const char *s, size_t n)
{
    int raw = memchr(s, '\0', n) != NULL;
    char *t = raw ? json_escape(s, n) : malloc(n + 1);
    cJSON *j;

    if (t == NULL)
        return NULL;
    if (!raw) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    j = raw ? cJSON_CreateRaw(t) : cJSON_CreateString(t);
    free(t);
    return j;
}

/* obj[key] = item; frees item and fails if it is NULL or cannot be added. */
static int json_put(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return -1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

/* arr[] = item, with json_put's rules. */
static int json_add(cJSON *arr, cJSON *item)
{
    if (item == NULL)
        return -1;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

/* A percentage rounded to 0.01 (null when there is nothing to count). */
static cJSON *json_pct(size_t a, size_t b)
{
    if (b == 0)
        return cJSON_CreateNull();
    return cJSON_CreateNumber(floor(pct(a, b) * 100.0 + 0.5) / 100.0);
}

static cJSON *json_span(size_t start, size_t end, const char *rule)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || json_put(o, "start", cJSON_CreateNumber((double)start))
        || json_put(o, "end", cJSON_CreateNumber((double)end)) ||
        (rule != NULL && json_put(o, "rule", cJSON_CreateString(rule)))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *json_expected(const tcase *tc)
{
    cJSON *o = cJSON_CreateObject(), *sp = NULL;
    int bad = o == NULL;

    if (!bad && (tc->has & F_ACTION))
        bad = json_put(o, "action",
            cJSON_CreateString(sluice_action_name(tc->action)));
    if (!bad && (tc->has & F_RULES))
        bad = json_put(o, "rules", cJSON_CreateStringArray(
            (const char *const *)tc->rules.v, (int)tc->rules.n));
    if (!bad && (tc->has & F_CATEGORIES))
        bad = json_put(o, "categories", cJSON_CreateStringArray(
            (const char *const *)tc->categories.v, (int)tc->categories.n));
    if (!bad && (tc->has & F_OUTPUT))
        bad = json_put(o, "output", json_str_n(tc->output, tc->output_len));
    if (!bad && (tc->has & F_SPANS))
        bad = json_put(o, "spans", sp = cJSON_CreateArray());
    for (size_t i = 0; !bad && sp != NULL && i < tc->nspans; i++)
        bad = json_add(sp, json_span(tc->spans[i].start, tc->spans[i].end,
            tc->spans[i].rule));
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *json_names(const sluice_verdict *v,
    size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < count(v); i++) {
        if (json_add(a, cJSON_CreateString(get(v, i))) != 0) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* Spans that fired, each with the original text it covers and the term. */
static cJSON *json_got_spans(const tresult *r)
{
    cJSON *a = cJSON_CreateArray();
    sluice_span s;

    for (size_t i = 0; a != NULL && i < sluice_verdict_span_count(r->v);
         i++) {
        if (sluice_verdict_span(r->v, i, &s) != 0)
            continue;
        cJSON *o = json_span(s.start, s.end, s.rule);
        int bad = o == NULL ||
            (s.start <= s.end && s.end <= r->tc->input_len &&
             json_put(o, "text", json_str_n(r->tc->input + s.start,
                s.end - s.start))) ||
            (s.term != NULL && json_put(o, "term",
                cJSON_CreateString(s.term)));
        if (bad || json_add(a, o) != 0) {
            if (bad)
                cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static cJSON *json_got(const tresult *r)
{
    size_t len = 0;
    const char *out = sluice_verdict_output(r->v, &len);
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || json_put(o, "action", cJSON_CreateString(
            sluice_action_name(sluice_verdict_action(r->v)))) ||
        json_put(o, "rules", json_names(r->v, sluice_verdict_rule_count,
            sluice_verdict_rule)) ||
        json_put(o, "categories", json_names(r->v,
            sluice_verdict_category_count, sluice_verdict_category)) ||
        json_put(o, "output", json_str_n(out, len)) ||
        json_put(o, "spans", json_got_spans(r))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *json_mismatches(unsigned m)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < N_FIELDS; i++) {
        if ((m & (1u << i)) &&
            json_add(a, cJSON_CreateString(field_names[i])) != 0) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* {"chunkings": N, "seed": S, "status": "pass"|"fail", "diff": "..."} */
static cJSON *json_stream(const tresult *r, const test_opts *o)
{
    cJSON *s = cJSON_CreateObject();
    if (s == NULL ||
        json_put(s, "chunkings", cJSON_CreateNumber((double)r->chunkings)) ||
        json_put(s, "seed", cJSON_CreateNumber((double)o->seed)) ||
        json_put(s, "status", cJSON_CreateString(r->stream_diff != NULL ?
            "fail" : "pass")) ||
        (r->stream_diff != NULL && json_put(s, "diff",
            cJSON_CreateString(r->stream_diff)))) {
        cJSON_Delete(s);
        return NULL;
    }
    return s;
}

/* Print a JSON object on one line and free it. Returns 0 or -1. */
static int json_emit(cJSON *o)
{
    char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (s == NULL)
        return nomem();
    puts(s);
    cJSON_free(s);
    return 0;
}

static int report_json(const tresult *r, const test_opts *opts)
{
    const tcase *tc = r->tc;
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || json_put(o, "type", cJSON_CreateString("case")) ||
        json_put(o, "n", cJSON_CreateNumber((double)r->n)) ||
        json_put(o, "file", cJSON_CreateString(tc->file)) ||
        json_put(o, "line", cJSON_CreateNumber(tc->line)) ||
        json_put(o, "name", cJSON_CreateString(tc->name)) ||
        json_put(o, "status", cJSON_CreateString(passed(r) ? "pass" :
            r->v == NULL ? "error" : "fail")) ||
        json_put(o, "input", json_str_n(tc->input, tc->input_len)) ||
        json_put(o, "expected", json_expected(tc)) ||
        (r->v != NULL && json_put(o, "mismatches",
            json_mismatches(r->mismatch))) ||
        (r->v != NULL && json_put(o, "got", json_got(r))) ||
        (r->v != NULL && tc->stream && json_put(o, "stream",
            json_stream(r, opts))) ||
        (r->v == NULL && json_put(o, "error", cJSON_CreateString(r->error)))) {
        cJSON_Delete(o);
        return nomem();
    }
    return json_emit(o);
}

/* ------------------------------------------------------------------------
 * The policy's rules and terms: lookup, and coverage by the cases
 * ---------------------------------------------------------------------- */

/* A string with an index, for sorted lookups without a context pointer. */
typedef struct keyidx {
    const char *key;
    size_t idx;
} keyidx;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const keyidx *)a)->key, ((const keyidx *)b)->key);
}

typedef struct rinfo {
    const char *id;        /* borrowed from the policy */
    size_t fired;          /* cases whose verdict it is in */
    size_t nterms;
    keyidx *terms;         /* owned array; texts borrowed; sorted by text */
    unsigned char *hit;    /* per term index (policy order) */
    size_t nhit;           /* term indexes hit */
} rinfo;

typedef struct rtable {
    const sluice_policy *p;
    rinfo *r;
    size_t n;
    keyidx *by_id;         /* rule indexes sorted by id */
    size_t nterms;         /* terms of all rules */
} rtable;

static void rtable_free(rtable *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->r[i].terms);
        free(t->r[i].hit);
    }
    free(t->r);
    free(t->by_id);
    memset(t, 0, sizeof *t);
}

/* Read the policy's rules and terms. Returns 0 or -1 (no memory). */
static int rtable_init(rtable *t, const sluice_policy *p)
{
    size_t n = sluice_policy_rule_count(p);

    memset(t, 0, sizeof *t);
    t->p = p;
    t->r = calloc(n ? n : 1, sizeof *t->r);
    t->by_id = calloc(n ? n : 1, sizeof *t->by_id);
    if (t->r == NULL || t->by_id == NULL)
        goto nomem;
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        rinfo *ri = &t->r[i];
        const char *id = sluice_policy_rule_id(p, i);
        ri->id = id != NULL ? id : "?";
        t->by_id[i].key = ri->id;
        t->by_id[i].idx = i;
        ri->nterms = sluice_policy_rule_term_count(p, i);
        ri->terms = calloc(ri->nterms ? ri->nterms : 1, sizeof *ri->terms);
        ri->hit = calloc(ri->nterms ? ri->nterms : 1, 1);
        if (ri->terms == NULL || ri->hit == NULL)
            goto nomem;
        for (size_t j = 0; j < ri->nterms; j++) {
            const char *term = sluice_policy_rule_term(p, i, j);
            ri->terms[j].key = term != NULL ? term : "";
            ri->terms[j].idx = j;
        }
        qsort(ri->terms, ri->nterms, sizeof *ri->terms, cmp_key);
        t->nterms += ri->nterms;
    }
    qsort(t->by_id, n, sizeof *t->by_id, cmp_key);
    return 0;
nomem:
    rtable_free(t);
    return -1;
}

/* The index of rule `id`, or SIZE_MAX. */
static size_t rtable_find(const rtable *t, const char *id)
{
    keyidx k = { id, 0 };
    const keyidx *f = id != NULL ? bsearch(&k, t->by_id, t->n,
        sizeof *t->by_id, cmp_key) : NULL;
    return f != NULL ? f->idx : SIZE_MAX;
}

/* The term of the policy in policy order: j-th of rule i. */
static const char *rinfo_term(const rtable *t, size_t i, size_t j)
{
    const char *s = sluice_policy_rule_term(t->p, i, j);
    return s != NULL ? s : "";
}

/* Mark every term of rule ri equal to `term` (a list may repeat one). */
static void mark_term(rinfo *ri, const char *term)
{
    keyidx k = { term, 0 };
    keyidx *f = bsearch(&k, ri->terms, ri->nterms, sizeof *ri->terms,
        cmp_key);
    if (f == NULL)
        return;
    while (f > ri->terms && strcmp(f[-1].key, term) == 0)
        f--;
    for (; f < ri->terms + ri->nterms && strcmp(f->key, term) == 0; f++) {
        ri->nhit += !ri->hit[f->idx];
        ri->hit[f->idx] = 1;
    }
}

/* Count what a case's verdict exercised. */
static void coverage_add(rtable *t, const sluice_verdict *v)
{
    sluice_span s;

    for (size_t i = 0; i < sluice_verdict_rule_count(v); i++) {
        size_t k = rtable_find(t, sluice_verdict_rule(v, i));
        if (k != SIZE_MAX)
            t->r[k].fired++;
    }
    for (size_t i = 0; i < sluice_verdict_span_count(v); i++) {
        if (sluice_verdict_span(v, i, &s) != 0 || s.term == NULL)
            continue;
        size_t k = rtable_find(t, s.rule);
        if (k != SIZE_MAX)
            mark_term(&t->r[k], s.term);
    }
}

static size_t rules_fired(const rtable *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->r[i].fired > 0;
    return n;
}

static size_t terms_hit(const rtable *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->r[i].nhit;
    return n;
}

/* "coverage: ..." and, with `detail`, what no case exercised. */
static void coverage_print(FILE *f, const char *pfx, const rtable *t,
    int detail, int verbose)
{
    size_t rf = rules_fired(t), th = terms_hit(t), nunfired = 0;

    fprintf(f, "%scoverage: %zu of %zu rule%s fired (%.1f%%)", pfx, rf,
        t->n, t->n == 1 ? "" : "s", pct_shown(pct(rf, t->n)));
    if (t->nterms > 0)
        fprintf(f, ", %zu of %zu term%s matched (%.1f%%)", th, t->nterms,
            t->nterms == 1 ? "" : "s", pct_shown(pct(th, t->nterms)));
    if (!detail && (rf < t->n || th < t->nterms))
        fputs("; --coverage lists what no case exercised", f);
    fputc('\n', f);
    if (!detail)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->r[i].fired > 0)
            continue;
        if (nunfired++ == 0)
            fprintf(f, "%s  rules no case made fire: ", pfx);
        else
            fputs(", ", f);
        fputs(t->r[i].id, f);
    }
    if (nunfired > 0)
        fputc('\n', f);
    for (size_t i = 0; i < t->n; i++) {
        const rinfo *ri = &t->r[i];
        size_t shown = 0, miss = ri->nterms - ri->nhit;
        if (miss == 0)
            continue;
        fprintf(f, "%s  terms of %s no case matched: %zu of %zu:", pfx,
            ri->id, miss, ri->nterms);
        for (size_t j = 0; j < ri->nterms; j++) {
            if (ri->hit[j])
                continue;
            if (!verbose && shown == TERMS_SHOWN) {
                fprintf(f, " ... (-v lists all)");
                break;
            }
            const char *term = rinfo_term(t, i, j);
            fputs(shown++ ? ", " : " ", f);
            put_quoted(f, term, strlen(term));
        }
        fputc('\n', f);
    }
}

static cJSON *json_coverage(const rtable *t)
{
    cJSON *o = cJSON_CreateObject(), *r = NULL, *tm = NULL, *un = NULL,
        *um = NULL;
    size_t rf = rules_fired(t), th = terms_hit(t);
    int bad = o == NULL || json_put(o, "type",
        cJSON_CreateString("coverage")) ||
        json_put(o, "rules", r = cJSON_CreateObject()) ||
        json_put(r, "total", cJSON_CreateNumber((double)t->n)) ||
        json_put(r, "fired", cJSON_CreateNumber((double)rf)) ||
        json_put(r, "percent", json_pct(rf, t->n)) ||
        json_put(r, "unfired", un = cJSON_CreateArray()) ||
        json_put(o, "terms", tm = cJSON_CreateObject()) ||
        json_put(tm, "total", cJSON_CreateNumber((double)t->nterms)) ||
        json_put(tm, "matched", cJSON_CreateNumber((double)th)) ||
        json_put(tm, "percent", json_pct(th, t->nterms)) ||
        json_put(tm, "unmatched", um = cJSON_CreateObject());

    for (size_t i = 0; !bad && i < t->n; i++) {
        const rinfo *ri = &t->r[i];
        cJSON *list = NULL;
        if (ri->fired == 0)
            bad = json_add(un, cJSON_CreateString(ri->id));
        if (!bad && ri->nhit < ri->nterms)
            bad = json_put(um, ri->id, list = cJSON_CreateArray());
        for (size_t j = 0; !bad && list != NULL && j < ri->nterms; j++)
            if (!ri->hit[j])
                bad = json_add(list, cJSON_CreateString(rinfo_term(t, i, j)));
    }
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------------
 * Mutation: evasion variants of what the cases catch (--mutate)
 * ---------------------------------------------------------------------- */

typedef struct mstat {
    size_t tried, caught;
} mstat;

/* A variant that slipped through. */
typedef struct mslip {
    const tcase *tc;
    int kind;
    char detail[48];
    char *text;            /* owned: the variant */
    size_t len;
    cli_mut_region at;     /* its first mutated part */
    int action;            /* what the variant got */
} mslip;

typedef struct mrule {
    mstat all, kind[CLI_MUT_NKINDS];
    size_t cases;          /* cases whose spans of this rule were mutated */
    mslip *slips;
    size_t nslips, cap;
} mrule;

typedef struct mreport {
    mrule *r;              /* per rule, as the rtable */
    size_t n;
    mstat all, kind[CLI_MUT_NKINDS];
    size_t cases;          /* cases mutated */
    size_t skipped;        /* redact/block cases not mutated: the case
                              fails, or no span has the expected action */
    int traditional;       /* ICU has Simplified-Traditional */
} mreport;

static void mreport_free(mreport *mr)
{
    for (size_t i = 0; i < mr->n; i++) {
        for (size_t k = 0; k < mr->r[i].nslips; k++)
            free(mr->r[i].slips[k].text);
        free(mr->r[i].slips);
    }
    free(mr->r);
    memset(mr, 0, sizeof *mr);
}

static void mstat_add(mstat *s, int caught)
{
    s->tried++;
    s->caught += caught != 0;
}

/*
 * Caught: the variant's action is at least `want`, and every mutated part
 * overlaps a span whose action is at least `want` (so that another rule
 * firing elsewhere in the text does not count as catching it).
 */
static int variant_caught(const sluice_verdict *v, int want,
    const cli_mut_variant *var)
{
    sluice_span s;

    if ((int)sluice_verdict_action(v) < want)
        return 0;
    for (size_t i = 0; i < var->nregions; i++) {
        const cli_mut_region *g = &var->regions[i];
        size_t k, n = sluice_verdict_span_count(v);
        for (k = 0; k < n; k++)
            if (sluice_verdict_span(v, k, &s) == 0 && (int)s.action >= want
                && s.start < g->end && g->start < s.end)
                break;
        if (k == n)
            return 0;
    }
    return 1;
}

/* Keep a slipping variant: takes var->text. Returns 0 or -1. */
static int keep_slip(mrule *mr, const tcase *tc, cli_mut_variant *var,
    int action)
{
    if (mr->nslips == mr->cap) {
        size_t cap = mr->cap ? mr->cap * 2 : 16;
        mslip *q = realloc(mr->slips, cap * sizeof *q);
        if (q == NULL)
            return -1;
        mr->slips = q;
        mr->cap = cap;
    }
    mslip *s = &mr->slips[mr->nslips++];
    s->tc = tc;
    s->kind = var->kind;
    memcpy(s->detail, var->detail, sizeof s->detail);
    s->text = var->text;
    s->len = var->len;
    s->at = var->nregions > 0 ? var->regions[0] :
        (cli_mut_region){ 0, 0 };
    s->action = action;
    var->text = NULL;
    return 0;
}

/* Check each variant; count it for rule `ri` and overall. */
static int judge_variants(sluice_engine *e, const tcase *tc, size_t ri,
    cli_mut_set *set, mreport *mr)
{
    for (size_t i = 0; i < set->n; i++) {
        cli_mut_variant *var = &set->v[i];
        sluice_verdict *v = NULL;
        int rc = sluice_check(e, var->text, var->len, NULL, &v, NULL);
        if (rc == SLUICE_ENOMEM)
            return -1;
        if (rc != 0)
            continue;   /* e.g. over max_input: not a variant we can judge */
        int ok = variant_caught(v, tc->action, var);
        int action = (int)sluice_verdict_action(v);
        sluice_verdict_free(v);
        mstat_add(&mr->all, ok);
        mstat_add(&mr->kind[var->kind], ok);
        mstat_add(&mr->r[ri].all, ok);
        mstat_add(&mr->r[ri].kind[var->kind], ok);
        if (!ok && keep_slip(&mr->r[ri], tc, var, action) != 0)
            return -1;
    }
    return 0;
}

/* The merged spans of rule ri with an action of at least `want`. */
static size_t rule_regions(const sluice_verdict *v, const size_t *rix,
    size_t ri, int want, cli_mut_region *out)
{
    size_t n = 0;
    sluice_span s;

    for (size_t i = 0; i < sluice_verdict_span_count(v); i++) {
        if (rix[i] != ri || sluice_verdict_span(v, i, &s) != 0 ||
            (int)s.action < want || s.start >= s.end)
            continue;
        if (n > 0 && s.start < out[n - 1].end) {
            if (s.end > out[n - 1].end)
                out[n - 1].end = s.end;
        } else {
            out[n].start = s.start;
            out[n].end = s.end;
            n++;
        }
    }
    return n;
}

/* Mutate one case (expected action redact or block), rule by rule. */
static int mutate_case(sluice_engine *e, cli_mutator *m, const rtable *t,
    const test_opts *o, const tcase *tc, mreport *mr)
{
    sluice_verdict *v = NULL;
    size_t *rix = NULL, ns, done = 0;
    cli_mut_region *reg = NULL;
    int rc = sluice_check(e, tc->input, tc->input_len, NULL, &v, NULL);

    if (rc == SLUICE_ENOMEM)
        return nomem();
    if (rc != 0 || (int)sluice_verdict_action(v) != tc->action) {
        mr->skipped++;
        sluice_verdict_free(v);
        return 0;
    }
    ns = sluice_verdict_span_count(v);
    rix = calloc(ns ? ns : 1, sizeof *rix);
    reg = calloc(ns ? ns : 1, sizeof *reg);
    rc = rix == NULL || reg == NULL ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < ns; i++) {
        sluice_span s;
        rix[i] = sluice_verdict_span(v, i, &s) == 0 ?
            rtable_find(t, s.rule) : SIZE_MAX;
    }
    for (size_t ri = 0; rc == 0 && ri < t->n; ri++) {
        size_t nreg = rule_regions(v, rix, ri, tc->action, reg);
        cli_mut_set set = { NULL, 0, 0 };
        if (nreg == 0)
            continue;
        uint64_t seed = hash_str(hash_str(hash_str(o->seed,
            base_name(tc->file)), tc->name), t->r[ri].id);
        rc = cli_mutate(m, tc->input, tc->input_len, reg, nreg, seed,
            MUT_PER_KIND, &set);
        if (rc == 0)
            rc = judge_variants(e, tc, ri, &set, mr);
        cli_mut_set_free(&set);
        mr->r[ri].cases++;
        done++;
    }
    if (done > 0)
        mr->cases++;
    else
        mr->skipped++;
    free(rix);
    free(reg);
    sluice_verdict_free(v);
    return rc == 0 ? 0 : nomem();
}

/* Mutate every selected case that expects redact or block. */
static int run_mutations(sluice_engine *e, const rtable *t, const suite *s,
    const test_opts *o, mreport *mr)
{
    cli_mutator *m = NULL;
    int rc = 0;

    memset(mr, 0, sizeof *mr);
    mr->r = calloc(t->n ? t->n : 1, sizeof *mr->r);
    if (mr->r == NULL || cli_mutator_new(&m) != 0) {
        free(mr->r);
        mr->r = NULL;
        return nomem();
    }
    mr->n = t->n;
    mr->traditional = cli_mutator_has_traditional(m);
    for (size_t i = 0; i < s->ncases && rc == 0; i++) {
        const tcase *tc = &s->cases[i];
        if (o->filter != NULL && strstr(tc->name, o->filter) == NULL)
            continue;
        if (!(tc->has & F_ACTION) || (tc->action != SLUICE_REDACT &&
                tc->action != SLUICE_BLOCK))
            continue;
        rc = mutate_case(e, m, t, o, tc, mr);
    }
    cli_mutator_free(m);
    return rc;
}

static int id_width(const rtable *t, const mreport *mr)
{
    size_t w = 8;
    for (size_t i = 0; i < t->n; i++)
        if (mr->r[i].all.tried > 0 && strlen(t->r[i].id) > w)
            w = strlen(t->r[i].id);
    return w > 60 ? 60 : (int)w;
}

static void put_stat_row(FILE *f, const char *pfx, int w, const char *name,
    const char *cases, const mstat *s)
{
    fprintf(f, "%s  %-*s %6s %9zu %7zu %10.1f%%\n", pfx, w, name, cases,
        s->tried, s->caught, pct_shown(pct(s->caught, s->tried)));
}

/* "slipped: fullwidth 4 of 4, space 2 of 12" for one rule. */
static void put_slipped_kinds(FILE *f, const mrule *r)
{
    size_t k, n = 0;

    for (k = 0; k < CLI_MUT_NKINDS; k++) {
        const mstat *s = &r->kind[k];
        if (s->tried == s->caught)
            continue;
        fprintf(f, "%s%s %zu of %zu", n++ ? ", " : "", cli_mut_kind_name(
            (int)k), s->tried - s->caught, s->tried);
    }
    if (n > 0)
        fputc('\n', f);
}

/* One slipping variant: where, which kind, the text around it, what it
 * got. Invisible and look-alike characters are escaped. */
static void put_slip(FILE *f, const char *pfx, const char *rule,
    const mslip *s)
{
    fprintf(f, "%s    %s: %s, %s:%d: ", pfx, rule, s->detail,
        base_name(s->tc->file), s->tc->line);
    put_context(f, s->text, s->len, s->at.start, s->at.end);
    fprintf(f, " -> %s\n", sluice_action_name(s->action));
}

static void mutate_print(FILE *f, const char *pfx, const rtable *t,
    const mreport *mr, const test_opts *o)
{
    int w = id_width(t, mr);
    char cases[32];
    size_t listed = 0;

    fprintf(f, "%smutations (seed %llu): %zu case%s, %zu variants, %zu "
        "caught: robustness %.1f%%\n", pfx, (unsigned long long)o->seed,
        mr->cases, mr->cases == 1 ? "" : "s", mr->all.tried, mr->all.caught,
        pct_shown(pct(mr->all.caught, mr->all.tried)));
    if (mr->skipped > 0)
        fprintf(f, "%s  (%zu redact/block case%s not mutated: failing, or "
            "no span with the expected action)\n", pfx, mr->skipped,
            mr->skipped == 1 ? "" : "s");
    if (!mr->traditional)
        fprintf(f, "%s  (ICU has no Simplified-Traditional transliterator: "
            "no traditional variants)\n", pfx);
    if (mr->all.tried == 0)
        return;
    fprintf(f, "%s  %-*s %6s %9s %7s %11s\n", pfx, w, "rule", "cases",
        "variants", "caught", "robustness");
    for (size_t i = 0; i < t->n; i++) {
        const mrule *r = &mr->r[i];
        if (r->all.tried == 0)
            continue;
        snprintf(cases, sizeof cases, "%zu", r->cases);
        put_stat_row(f, pfx, w, t->r[i].id, cases, &r->all);
        if (r->all.caught < r->all.tried) {
            fprintf(f, "%s  %-*s slipped: ", pfx, w, "");
            put_slipped_kinds(f, r);
        }
    }
    snprintf(cases, sizeof cases, "%zu", mr->cases);
    put_stat_row(f, pfx, w, "overall", cases, &mr->all);
    fprintf(f, "%s  %-*s %6s %9s %7s %11s\n", pfx, w, "kind", "",
        "variants", "caught", "robustness");
    for (int k = 0; k < CLI_MUT_NKINDS; k++)
        if (mr->kind[k].tried > 0)
            put_stat_row(f, pfx, w, cli_mut_kind_name(k), "", &mr->kind[k]);
    for (size_t i = 0; i < t->n; i++)
        listed += mr->r[i].nslips;
    if (listed == 0 || (!o->verbose && o->slips == 0))
        return;
    if (o->verbose)
        fprintf(f, "%s  slipping variants:\n", pfx);
    else
        fprintf(f, "%s  slipping variants (at most %zu per rule; -v lists "
            "all, --json has all):\n", pfx, o->slips);
    for (size_t i = 0; i < t->n; i++)
        for (size_t k = 0; k < mr->r[i].nslips &&
             (o->verbose || k < o->slips); k++)
            put_slip(f, pfx, t->r[i].id, &mr->r[i].slips[k]);
}

static cJSON *json_kinds(const mstat *kinds)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; o != NULL && k < CLI_MUT_NKINDS; k++) {
        cJSON *s = NULL;
        if (kinds[k].tried == 0)
            continue;
        if (json_put(o, cli_mut_kind_name(k), s = cJSON_CreateObject()) ||
            json_put(s, "variants", cJSON_CreateNumber(
                (double)kinds[k].tried)) ||
            json_put(s, "caught", cJSON_CreateNumber(
                (double)kinds[k].caught)) ||
            json_put(s, "robustness", json_pct(kinds[k].caught,
                kinds[k].tried))) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* A variant as text with invisible characters escaped (for reading). */
static cJSON *json_escaped(const char *s, size_t n)
{
    mstream ms;
    if (ms_open(&ms) != 0)
        return NULL;
    put_escaped(ms.f, s, n, SIZE_MAX);
    char *t = ms_close(&ms);
    cJSON *j = t != NULL ? cJSON_CreateString(t) : NULL;
    free(t);
    return j;
}

static cJSON *json_slip(const mslip *s)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || json_put(o, "file", cJSON_CreateString(s->tc->file)) ||
        json_put(o, "line", cJSON_CreateNumber(s->tc->line)) ||
        json_put(o, "name", cJSON_CreateString(s->tc->name)) ||
        json_put(o, "kind", cJSON_CreateString(cli_mut_kind_name(s->kind))) ||
        json_put(o, "detail", cJSON_CreateString(s->detail)) ||
        json_put(o, "input", json_str_n(s->text, s->len)) ||
        json_put(o, "escaped", json_escaped(s->text, s->len)) ||
        json_put(o, "action", cJSON_CreateString(
            sluice_action_name(s->action)))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int mutate_json(const rtable *t, const mreport *mr,
    const test_opts *o)
{
    for (size_t i = 0; i < t->n; i++) {
        const mrule *r = &mr->r[i];
        cJSON *j = NULL, *sl = NULL;
        if (r->all.tried == 0)
            continue;
        int bad = (j = cJSON_CreateObject()) == NULL ||
            json_put(j, "type", cJSON_CreateString("mutate_rule")) ||
            json_put(j, "rule", cJSON_CreateString(t->r[i].id)) ||
            json_put(j, "cases", cJSON_CreateNumber((double)r->cases)) ||
            json_put(j, "variants", cJSON_CreateNumber((double)r->all.tried)) ||
            json_put(j, "caught", cJSON_CreateNumber((double)r->all.caught)) ||
            json_put(j, "robustness", json_pct(r->all.caught, r->all.tried)) ||
            json_put(j, "kinds", json_kinds(r->kind)) ||
            json_put(j, "slipped", sl = cJSON_CreateArray());
        for (size_t k = 0; !bad && k < r->nslips; k++)
            bad = json_add(sl, json_slip(&r->slips[k]));
        if (bad) {
            cJSON_Delete(j);
            return nomem();
        }
        if (json_emit(j) != 0)
            return -1;
    }
    cJSON *s = cJSON_CreateObject();
    if (s == NULL || json_put(s, "type", cJSON_CreateString("mutate")) ||
        json_put(s, "seed", cJSON_CreateNumber((double)o->seed)) ||
        json_put(s, "cases", cJSON_CreateNumber((double)mr->cases)) ||
        json_put(s, "skipped", cJSON_CreateNumber((double)mr->skipped)) ||
        json_put(s, "variants", cJSON_CreateNumber((double)mr->all.tried)) ||
        json_put(s, "caught", cJSON_CreateNumber((double)mr->all.caught)) ||
        json_put(s, "robustness", json_pct(mr->all.caught, mr->all.tried)) ||
        json_put(s, "kinds", json_kinds(mr->kind))) {
        cJSON_Delete(s);
        return nomem();
    }
    return json_emit(s);
}

/* ------------------------------------------------------------------------
 * Thresholds and the run's state
 * ---------------------------------------------------------------------- */

typedef struct threshold {
    const char *what;      /* "robustness", "rule coverage", ... */
    const char *option;    /* "--min-robustness", ... */
    double value, min;     /* percent */
    int ok;
} threshold;

/* A case as JUnit will show it. */
typedef struct jrow {
    const tcase *tc;
    int status;            /* 0 pass, 1 fail, 2 error */
    double secs;
    char *message;         /* owned: one line */
    char *body;            /* owned: the diff, or NULL */
} jrow;

typedef struct run_ctx {
    const test_opts *o;
    sluice_engine *e;
    const sluice_policy *p;
    const suite *s;
    rtable rt;
    mreport mr;
    int mutated;
    size_t run, npass;
    jrow *rows;
    size_t nrows, caprows;
    threshold th[3];
    size_t nth;
    char stamp[32];        /* start of the run, ISO 8601 UTC */
} run_ctx;

static void run_ctx_free(run_ctx *c)
{
    for (size_t i = 0; i < c->nrows; i++) {
        free(c->rows[i].message);
        free(c->rows[i].body);
    }
    free(c->rows);
    rtable_free(&c->rt);
    mreport_free(&c->mr);
}

static void add_threshold(run_ctx *c, const char *what, const char *option,
    double min, size_t a, size_t b)
{
    threshold *t = &c->th[c->nth++];
    t->what = what;
    t->option = option;
    t->min = min;
    t->value = pct(a, b);
    t->ok = t->value >= min;
}

static void eval_thresholds(run_ctx *c)
{
    const test_opts *o = c->o;

    if (o->min_robustness >= 0)
        add_threshold(c, "robustness", "--min-robustness", o->min_robustness,
            c->mr.all.caught, c->mr.all.tried);
    if (o->min_coverage >= 0)
        add_threshold(c, "rule coverage", "--min-coverage", o->min_coverage,
            rules_fired(&c->rt), c->rt.n);
    if (o->min_term_coverage >= 0)
        add_threshold(c, "term coverage", "--min-term-coverage",
            o->min_term_coverage, terms_hit(&c->rt), c->rt.nterms);
}

/* "robustness 68.7% is below --min-robustness 80%" or "... >= ...". */
static void put_threshold(FILE *f, const threshold *t)
{
    fprintf(f, "%s %.1f%% %s %s %g%%", t->what, pct_shown(t->value),
        t->ok ? "meets" : "is below", t->option, t->min);
}

/* ------------------------------------------------------------------------
 * JUnit XML (--junit FILE)
 * ---------------------------------------------------------------------- */

/*
 * s as XML 1.0 character data (attr: an attribute value in double
 * quotes). Markup characters become entities; tab, newline and carriage
 * return are kept (as references in attributes, so that they survive
 * attribute normalization); every other character XML 1.0 forbids (C0
 * controls, U+FFFE, U+FFFF) and every byte that is not UTF-8 is replaced
 * by a visible escape (\x01, \uFFFE), since no XML parser accepts them
 * even as references.
 */
static void xml_put(FILE *f, const char *s, int attr)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;

    while (i < n) {
        uint32_t cp = 0;
        size_t k = cli_utf8_next(u + i, n - i, &cp);
        if (k == 0) {
            fprintf(f, "\\x%02x", u[i]);
            i++;
            continue;
        }
        if (cp == '&')
            fputs("&amp;", f);
        else if (cp == '<')
            fputs("&lt;", f);
        else if (cp == '>')
            fputs("&gt;", f);
        else if (cp == '"' && attr)
            fputs("&quot;", f);
        else if (cp == '\t' || cp == '\n' || cp == '\r')
            (attr || cp == '\r') ? fprintf(f, "&#%u;", (unsigned)cp) :
                fputc((int)cp, f);
        else if (cp < 0x20)
            fprintf(f, "\\x%02x", (unsigned)cp);
        else if (cp == 0xFFFE || cp == 0xFFFF)
            fprintf(f, "\\u%04X", (unsigned)cp);
        else
            fwrite(u + i, 1, k, f);
        i += k;
    }
}

/* Keep what JUnit needs of a reported case. Returns 0 or -1. */
static int jrow_add(run_ctx *c, const tresult *r)
{
    jrow row;
    mstream ms;

    memset(&row, 0, sizeof row);
    row.tc = r->tc;
    row.secs = r->secs;
    row.status = passed(r) ? 0 : r->v == NULL ? 2 : 1;
    if (row.status != 0) {
        if (ms_open(&ms) != 0)
            return nomem();
        if (r->v == NULL)
            fprintf(ms.f, "%s", r->error);
        else {
            size_t n = 0;
            for (size_t i = 0; i < N_FIELDS; i++)
                if (r->mismatch & (1u << i))
                    fprintf(ms.f, "%s%s", n++ ? ", " : "expected and got "
                        "differ in ", field_names[i]);
            if (r->stream_diff != NULL)
                fprintf(ms.f, "%sa streaming run differs from the whole "
                    "text", n ? "; " : "");
        }
        row.message = ms_close(&ms);
        if (ms_open(&ms) != 0) {
            free(row.message);
            return nomem();
        }
        put_diff(ms.f, "", r);
        row.body = ms_close(&ms);
        if (row.message == NULL || row.body == NULL) {
            free(row.message);
            free(row.body);
            return nomem();
        }
    }
    if (c->nrows == c->caprows) {
        size_t cap = c->caprows ? c->caprows * 2 : 64;
        jrow *q = realloc(c->rows, cap * sizeof *q);
        if (q == NULL) {
            free(row.message);
            free(row.body);
            return nomem();
        }
        c->rows = q;
        c->caprows = cap;
    }
    c->rows[c->nrows++] = row;
    return 0;
}

static void junit_props(FILE *f, const run_ctx *c)
{
    fputs("    <properties>\n      <property name=\"policy\" value=\"", f);
    xml_put(f, sluice_policy_id(c->p), 1);
    fprintf(f, "\"/>\n      <property name=\"policy.version\" value=\"%lld"
        "\"/>\n      <property name=\"policy.hash\" value=\"",
        (long long)sluice_policy_version(c->p));
    xml_put(f, sluice_policy_hash(c->p), 1);
    fprintf(f, "\"/>\n      <property name=\"seed\" value=\"%llu\"/>\n"
        "    </properties>\n", (unsigned long long)c->o->seed);
}

static void junit_case(FILE *f, const jrow *j)
{
    fputs("    <testcase classname=\"", f);
    xml_put(f, j->tc->file, 1);
    fputs("\" name=\"", f);
    xml_put(f, j->tc->name, 1);
    fputs("\" file=\"", f);
    xml_put(f, j->tc->file, 1);
    fprintf(f, "\" line=\"%d\" time=\"%.6f\"", j->tc->line, j->secs);
    if (j->status == 0) {
        fputs("/>\n", f);
        return;
    }
    fprintf(f, ">\n      <%s message=\"", j->status == 1 ? "failure" :
        "error");
    xml_put(f, j->message, 1);
    fprintf(f, "\" type=\"%s\">", j->status == 1 ? "mismatch" :
        "check_error");
    xml_put(f, j->body, 0);
    fprintf(f, "</%s>\n    </testcase>\n", j->status == 1 ? "failure" :
        "error");
}

/* One <testsuite> for the rows [a, z) (one test file). */
static void junit_suite(FILE *f, const run_ctx *c, size_t a, size_t z)
{
    size_t nf = 0, ne = 0;
    double secs = 0;

    for (size_t i = a; i < z; i++) {
        nf += c->rows[i].status == 1;
        ne += c->rows[i].status == 2;
        secs += c->rows[i].secs;
    }
    fputs("  <testsuite name=\"", f);
    xml_put(f, c->rows[a].tc->file, 1);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\""
        " time=\"%.6f\" timestamp=\"%s\">\n", z - a, nf, ne, secs, c->stamp);
    junit_props(f, c);
    for (size_t i = a; i < z; i++)
        junit_case(f, &c->rows[i]);
    fputs("  </testsuite>\n", f);
}

static void junit_thresholds(FILE *f, const run_ctx *c, size_t nfail)
{
    fprintf(f, "  <testsuite name=\"thresholds\" tests=\"%zu\" failures=\"%zu"
        "\" errors=\"0\" skipped=\"0\" time=\"0\" timestamp=\"%s\">\n",
        c->nth, nfail, c->stamp);
    for (size_t i = 0; i < c->nth; i++) {
        const threshold *t = &c->th[i];
        fprintf(f, "    <testcase classname=\"thresholds\" name=\"%s %s %g%%\""
            " time=\"0\"", t->what, t->option, t->min);
        if (t->ok) {
            fputs("/>\n", f);
            continue;
        }
        fprintf(f, ">\n      <failure message=\"%s %.1f%% is below %s %g%%\""
            " type=\"threshold\"/>\n    </testcase>\n", t->what,
            pct_shown(t->value), t->option, t->min);
    }
    fputs("  </testsuite>\n", f);
}

/* Write the JUnit file. Returns 0, or EXIT_USAGE (reported). */
static int junit_write(const run_ctx *c)
{
    size_t nf = 0, ne = 0, thf = 0;
    double secs = 0;
    FILE *f = fopen(c->o->junit, "w");

    if (f == NULL)
        return cli_fail("%s: %s", c->o->junit, strerror(errno));
    for (size_t i = 0; i < c->nrows; i++) {
        nf += c->rows[i].status == 1;
        ne += c->rows[i].status == 2;
        secs += c->rows[i].secs;
    }
    for (size_t i = 0; i < c->nth; i++)
        thf += !c->th[i].ok;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\""
        "sluice test ", f);
    xml_put(f, c->o->policy, 1);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\""
        " time=\"%.6f\" timestamp=\"%s\">\n", c->nrows + c->nth, nf + thf, ne,
        secs, c->stamp);
    for (size_t a = 0, z; a < c->nrows; a = z) {
        for (z = a + 1; z < c->nrows && c->rows[z].tc->file ==
             c->rows[a].tc->file; z++)
            ;
        junit_suite(f, c, a, z);
    }
    if (c->nth > 0)
        junit_thresholds(f, c, thf);
    fputs("</testsuites>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return cli_fail("%s: writing failed: %s", c->o->junit,
            strerror(errno));
    return 0;
}

/* ------------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------- */

static int report(const test_opts *o, const tresult *r)
{
    switch (o->fmt) {
    case FMT_TAP: report_tap(r); return 0;
    case FMT_JSON: return report_json(r, o);
    default: report_human(r, o); return 0;
    }
}

static cJSON *json_thresholds(const run_ctx *c)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < c->nth; i++) {
        const threshold *t = &c->th[i];
        cJSON *o = cJSON_CreateObject();
        if (json_add(a, o) != 0 ||
            json_put(o, "name", cJSON_CreateString(t->what)) ||
            json_put(o, "option", cJSON_CreateString(t->option)) ||
            json_put(o, "min", cJSON_CreateNumber(t->min)) ||
            json_put(o, "value", cJSON_CreateNumber(
                floor(t->value * 100.0 + 0.5) / 100.0)) ||
            json_put(o, "ok", cJSON_CreateBool(t->ok))) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static int summary_json(const run_ctx *c)
{
    size_t nfail = c->run - c->npass;
    cJSON *s = cJSON_CreateObject();

    if (s == NULL || json_put(s, "type", cJSON_CreateString("summary")) ||
        json_put(s, "cases", cJSON_CreateNumber((double)c->run)) ||
        json_put(s, "passed", cJSON_CreateNumber((double)c->npass)) ||
        json_put(s, "failed", cJSON_CreateNumber((double)nfail)) ||
        (c->nth > 0 && json_put(s, "thresholds", json_thresholds(c)))) {
        cJSON_Delete(s);
        return nomem();
    }
    return json_emit(s);
}

/* After the cases: mutation and coverage reports, thresholds, summary. */
static int report_tail(const run_ctx *c)
{
    const test_opts *o = c->o;
    size_t run = c->run, nfail = c->run - c->npass;
    const char *pfx = o->fmt == FMT_TAP ? "# " : "";

    if (o->fmt == FMT_JSON) {
        if ((c->mutated && mutate_json(&c->rt, &c->mr, o) != 0) ||
            json_emit(json_coverage(&c->rt)) != 0)
            return -1;
        return summary_json(c);
    }
    if (c->mutated)
        mutate_print(stdout, pfx, &c->rt, &c->mr, o);
    coverage_print(stdout, pfx, &c->rt, o->coverage, o->verbose);
    for (size_t i = 0; i < c->nth; i++) {
        if (o->fmt == FMT_TAP)
            printf("%sok %zu - ", c->th[i].ok ? "" : "not ", run + i + 1);
        else
            fputs(c->th[i].ok ? "ok   " : "FAIL ", stdout);
        put_threshold(stdout, &c->th[i]);
        putchar('\n');
    }
    if (o->fmt == FMT_TAP)
        printf("1..%zu\n# %zu case%s, %zu passed, %zu failed\n",
            run + c->nth, run, run == 1 ? "" : "s", c->npass, nfail);
    else
        printf("%zu case%s, %zu passed, %zu failed\n", run,
            run == 1 ? "" : "s", c->npass, nfail);
    return 0;
}

/* Run, report and judge one case. Returns 0 or -1 (reported). */
static int one_case(run_ctx *c, const tcase *tc)
{
    tresult r;
    double t0 = now_secs();
    int rc;

    memset(&r, 0, sizeof r);
    r.n = ++c->run;
    rc = run_case(c->e, tc, &r);
    if (rc == 0 && tc->stream && r.v != NULL)
        rc = run_stream(c->e, c->o, &r);
    r.secs = now_secs() - t0;
    if (rc == 0 && r.v != NULL)
        coverage_add(&c->rt, r.v);
    if (rc == 0)
        rc = report(c->o, &r);
    if (rc == 0 && c->o->junit != NULL)
        rc = jrow_add(c, &r);
    c->npass += rc == 0 && passed(&r);
    sluice_verdict_free(r.v);
    free(r.stream_diff);
    return rc;
}

/* Run the selected cases. Returns EXIT_OK, EXIT_FAILED or EXIT_USAGE. */
static int run_suite(run_ctx *c)
{
    const test_opts *o = c->o;
    const suite *s = c->s;
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL ||
        strftime(c->stamp, sizeof c->stamp, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(c->stamp, sizeof c->stamp, "1970-01-01T00:00:00");
    for (size_t i = 0; i < s->ncases; i++) {
        const tcase *tc = &s->cases[i];
        if (o->filter != NULL && strstr(tc->name, o->filter) == NULL)
            continue;
        if (one_case(c, tc) != 0)
            return EXIT_USAGE;
    }
    if (c->run == 0) {
        if (o->filter != NULL)
            fprintf(stderr, "sluice: %s: no test cases match --filter '%s' "
                "(%zu cases in all)\n", o->policy, o->filter, s->ncases);
        else
            fprintf(stderr, "sluice: %s: no test cases (add tests/*.yaml; "
                "see docs/testing-policies.md)\n", o->policy);
        if (o->fmt == FMT_TAP)
            puts("1..0 # SKIP no test cases");
        if (o->junit != NULL && junit_write(c) != 0)
            return EXIT_USAGE;
        return EXIT_OK;
    }
    if (o->mutate) {
        if (run_mutations(c->e, &c->rt, s, o, &c->mr) != 0)
            return EXIT_USAGE;
        c->mutated = 1;
    }
    eval_thresholds(c);
    if (report_tail(c) != 0)
        return EXIT_USAGE;
    if (o->junit != NULL && junit_write(c) != 0)
        return EXIT_USAGE;
    int ok = c->npass == c->run;
    for (size_t i = 0; i < c->nth; i++)
        ok = ok && c->th[i].ok;
    return ok ? EXIT_OK : EXIT_FAILED;
}

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
    o->fmt = json ? FMT_JSON : tap ? FMT_TAP : FMT_HUMAN;
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
    suite s;
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
    if (cli_load_policy(o.policy, &p) != 0 || load_suite(o.policy, &s) != 0)
        goto out;
    if (sluice_engine_new(&e, NULL, &err) != 0) {
        rc = cli_fail_err(&err);
        goto out;
    }
    if ((rc = sluice_engine_set_policy(e, p)) != 0) {
        rc = cli_fail("test: %s", sluice_strerror(rc));
        goto out;
    }
    if (rtable_init(&c.rt, p) != 0) {
        nomem();
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
    suite_free(&s);
    return rc;
}
