/*
 * cmd_test.c - `sluice test`: runs a policy's own test cases.
 *
 * A policy directory may hold test files, tests/NAME.yaml, beside
 * policy.yaml; each is a YAML list of cases (docs/testing-policies.md):
 *
 *   - name: ID numbers are redacted
 *     input: "我的身份证号是11010519491231002X"
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
 * TAP (for tests/run.sh) or JSON lines.
 *
 * Comparison rules: only the keys present under `expect` are checked.
 * `rules` and `categories` are sets (order and repeats do not matter) and
 * must equal what fired; `output` is compared byte for byte; `spans` is a
 * multiset of [start, end) byte ranges of the original input, each with a
 * rule or, when the case leaves it out, any rule.
 *
 * Room to grow (issue 5): a case carries `stream` for session runs; a
 * result keeps its verdict until reported, so coverage can collect the
 * rules and a JUnit reporter can be added beside the three below; the
 * mutation runs (--mutate) loop over the same parsed suite.
 *
 * Exit status: 0 all cases passed (or there were none), 1 a case failed,
 * 2 usage, policy or test-file errors.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "cli/cli.h"

#define MAX_TEST_FILE ((size_t)64 << 20)
#define SHOW_MAX 400       /* bytes of a text quoted in a diff */
#define FIRED_MAX 20       /* spans listed under "fired" */

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
    /* TODO(issue 5): `stream: true` should also run the case through a
     * session in random chunkings; it is parsed and kept, not yet run. */
    int stream;
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
    test_format fmt;
    int verbose;
} test_opts;

typedef struct tresult {
    const tcase *tc;
    size_t n;              /* 1-based number among the cases run */
    sluice_verdict *v;     /* NULL when the check itself failed */
    unsigned mismatch;     /* F_* that differ */
    char error[600];       /* why the check failed, when v is NULL */
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
    return r->v != NULL && r->mismatch == 0;
}

/* ------------------------------------------------------------------------
 * Human and TAP reports: a diff per failed case
 * ---------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s[0..n), or 0 if it is not valid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 && s[0] >= 0xC2 ? 2 :
        (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 && s[0] <= 0xF4 ?
        4 : 0;
    if (k == 0 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return k;
}

/* Print s[0..n) in double quotes, C escapes for controls and bad bytes,
 * at most SHOW_MAX bytes (then how many more). */
static void put_quoted(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    fputc('"', f);
    while (i < n && i < SHOW_MAX) {
        size_t k = utf8_len(u + i, n - i);
        if (u[i] == '"' || u[i] == '\\')
            fprintf(f, "\\%c", u[i]);
        else if (u[i] == '\n')
            fputs("\\n", f);
        else if (u[i] == '\t')
            fputs("\\t", f);
        else if (k == 0 || u[i] < 0x20 || u[i] == 0x7F)
            fprintf(f, "\\x%02x", u[i]);
        else
            fwrite(u + i, 1, k, f);
        i += k ? k : 1;
    }
    fputc('"', f);
    if (i < n)
        fprintf(f, "... (%zu more bytes)", n - i);
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

/* The spans that fired, with the original text each one covers. */
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
        fprintf(f, "%s%s %s (%s) at %zu-%zu ", pfx, i ? "           " :
            "fired:     ", s.rule, sluice_action_name(s.action), s.start,
            s.end);
        if (s.start <= s.end && s.end <= tc->input_len)
            put_quoted(f, tc->input + s.start, s.end - s.start);
        fputc('\n', f);
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
        fputc('\n', f);
    }
    if (r->mismatch & F_CATEGORIES) {
        fprintf(f, "%scategories: expected ", pfx);
        put_set(f, &tc->categories);
        fputs(", got ", f);
        put_names(f, v, sluice_verdict_category_count,
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
    fprintf(f, "%sinput:      ", pfx);
    put_quoted(f, tc->input, tc->input_len);
    fputc('\n', f);
    put_fired(f, pfx, r);
}

static void report_human(const tresult *r, int verbose)
{
    if (passed(r)) {
        if (verbose)
            printf("ok   %s:%d: %s\n", r->tc->file, r->tc->line, r->tc->name);
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
    const char *base = strrchr(r->tc->file, '/');

    printf("%sok %zu - ", passed(r) ? "" : "not ", r->n);
    put_tap_text(base != NULL ? base + 1 : r->tc->file);
    fputs(": ", stdout);
    put_tap_text(r->tc->name);
    putchar('\n');
    if (!passed(r)) {
        printf("#   at %s:%d\n", r->tc->file, r->tc->line);
        put_diff(stdout, "#   ", r);
    }
}

/* ------------------------------------------------------------------------
 * JSON report: one object per case, then a summary object
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
    for (size_t i = 0; !bad && sp != NULL && i < tc->nspans; i++) {
        cJSON *s = json_span(tc->spans[i].start, tc->spans[i].end,
            tc->spans[i].rule);
        bad = s == NULL || !cJSON_AddItemToArray(sp, s);
        if (bad)
            cJSON_Delete(s);
    }
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
        cJSON *s = cJSON_CreateString(get(v, i));
        if (s == NULL || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* Spans that fired, each with the original text it covers. */
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
                s.end - s.start))) || !cJSON_AddItemToArray(a, o);
        if (bad) {
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
        if (!(m & (1u << i)))
            continue;
        cJSON *s = cJSON_CreateString(field_names[i]);
        if (s == NULL || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
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

static int report_json(const tresult *r)
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
        (r->v == NULL && json_put(o, "error", cJSON_CreateString(r->error)))) {
        cJSON_Delete(o);
        return nomem();
    }
    return json_emit(o);
}

/* ------------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------- */

static int report(const test_opts *o, const tresult *r)
{
    switch (o->fmt) {
    case FMT_TAP: report_tap(r); return 0;
    case FMT_JSON: return report_json(r);
    default: report_human(r, o->verbose); return 0;
    }
}

static int report_summary(const test_opts *o, size_t run, size_t npass)
{
    size_t nfail = run - npass;

    switch (o->fmt) {
    case FMT_TAP:
        printf("1..%zu\n# %zu case%s, %zu passed, %zu failed\n", run, run,
            run == 1 ? "" : "s", npass, nfail);
        return 0;
    case FMT_JSON: {
        cJSON *s = cJSON_CreateObject();
        if (s == NULL || json_put(s, "type", cJSON_CreateString("summary")) ||
            json_put(s, "cases", cJSON_CreateNumber((double)run)) ||
            json_put(s, "passed", cJSON_CreateNumber((double)npass)) ||
            json_put(s, "failed", cJSON_CreateNumber((double)nfail))) {
            cJSON_Delete(s);
            return nomem();
        }
        return json_emit(s);
    }
    default:
        printf("%zu case%s, %zu passed, %zu failed\n", run,
            run == 1 ? "" : "s", npass, nfail);
        return 0;
    }
}

/* Run the selected cases. Returns EXIT_OK, EXIT_FAILED or EXIT_USAGE. */
static int run_suite(sluice_engine *e, const suite *s, const test_opts *o)
{
    size_t run = 0, npass = 0;

    for (size_t i = 0; i < s->ncases; i++) {
        const tcase *tc = &s->cases[i];
        tresult r;
        if (o->filter != NULL && strstr(tc->name, o->filter) == NULL)
            continue;
        r.n = ++run;
        int rc = run_case(e, tc, &r);
        if (rc == 0)
            rc = report(o, &r);
        npass += rc == 0 && passed(&r);
        sluice_verdict_free(r.v);
        if (rc != 0)
            return EXIT_USAGE;
    }
    if (run == 0) {
        if (o->filter != NULL)
            fprintf(stderr, "sluice: %s: no test cases match --filter '%s' "
                "(%zu cases in all)\n", o->policy, o->filter, s->ncases);
        else
            fprintf(stderr, "sluice: %s: no test cases (add tests/*.yaml; "
                "see docs/testing-policies.md)\n", o->policy);
        if (o->fmt == FMT_TAP)
            puts("1..0 # SKIP no test cases");
        return EXIT_OK;
    }
    if (report_summary(o, run, npass) != 0)
        return EXIT_USAGE;
    return npass == run ? EXIT_OK : EXIT_FAILED;
}

static void test_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice test POLICY [--filter NAME] [--tap | --json] [-v]\n"
        "\n"
        "Run a policy's test cases (POLICY/tests/*.yaml, in name order)\n"
        "and compare each verdict with what the case expects. Each file is\n"
        "a list of cases:\n"
        "\n"
        "  - name: ID numbers are redacted\n"
        "    input: \"我的身份证号是11010519491231002X\"\n"
        "    expect: {action: redact, rules: [pii.cn_id],\n"
        "             output: \"我的身份证号是[已隐藏]\",\n"
        "             spans: [{start: 21, end: 39, rule: pii.cn_id}]}\n"
        "\n"
        "Only the keys given under expect are checked (action, rules,\n"
        "categories, output, spans); rules and categories are sets, spans\n"
        "are byte offsets in the input. See docs/testing-policies.md.\n"
        "\n"
        "  --filter NAME   run only cases whose name contains NAME\n"
        "  --tap           print TAP (ok N - file: name), for test runners\n"
        "  --json          print one JSON object per case, then a summary\n"
        "  -v, --verbose   list passing cases too (human output)\n"
        "  -h, --help      this help\n"
        "\n"
        "By default each failing case is printed with its file:line, the\n"
        "expected and actual values of each field that differs, and the\n"
        "rules that fired with the text they matched; then a summary line.\n"
        "\n"
        "Exit status: 0 every case passed (or there were none), 1 a case\n"
        "failed, 2 a usage error, a bad policy or a malformed test file.\n"
        "\n"
        "examples:\n"
        "  sluice test policies/baseline\n"
        "  sluice test policies/baseline --filter 'mobile' -v\n"
        "  sluice test policies/baseline --tap\n"
        "  sluice test policies/baseline --json | jq 'select(.status != \"pass\")'\n");
}

static int parse_args(int argc, char **argv, test_opts *o, int *help)
{
    static const struct option longopts[] = {
        {"filter", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"tap", no_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, json = 0, tap = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': o->filter = optarg; break;
        case 'j': json = 1; break;
        case 't': tap = 1; break;
        case 'v': o->verbose = 1; break;
        case 'h': *help = 1; return 0;
        default:
            fprintf(stderr, "Try 'sluice test --help'.\n");
            return EXIT_USAGE;
        }
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
    test_opts o = { NULL, NULL, FMT_HUMAN, 0 };
    sluice_policy *p = NULL;
    sluice_engine *e = NULL;
    suite s;
    sluice_error err;
    int help = 0, rc;

    memset(&s, 0, sizeof s);
    memset(&err, 0, sizeof err);
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
    rc = run_suite(e, &s, &o);
out:
    if (fflush(stdout) != 0 && rc != EXIT_USAGE)
        rc = cli_fail("writing output: %s", strerror(errno));
    sluice_engine_free(e);
    sluice_policy_unref(p);
    suite_free(&s);
    return rc;
}
