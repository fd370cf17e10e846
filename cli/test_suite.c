/*
 * test_suite.c - the test cases of a policy: tests/NAME.yaml beside its
 * policy.yaml, parsed in name order into a test_suite for `sluice test`.
 *
 * Each file is a YAML list of cases (docs/testing-policies.md):
 *
 *   - name: ID numbers are redacted
 *     input: "我的身份证号是11010519491231002X"
 *     stream: true
 *     expect: {action: redact, rules: [pii.cn_id], output: "..."}
 *
 * Design: every file is parsed before a single case runs, and the whole
 * run is refused with "file:line: reason" if any file is malformed: a
 * typo in a key must not silently turn a case into one that checks
 * nothing. So every key is checked against the known ones, every value
 * against its type, and a file holds exactly one document. `rules` and
 * `categories` are kept as sorted sets (order and repeats do not matter);
 * `tags` are accepted for later selection, only their shape is checked.
 *
 * Ownership: the suite owns its cases, their strings and the list of file
 * paths; a case's `file` points into that list. Parsing errors leave what
 * was parsed so far in the suite, for cli_test_suite_free().
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "cli/test_internal.h"

#define MAX_TEST_FILE ((size_t)64 << 20)

/* The keys under `expect`, in the order of the TEST_F_* bits. */
static const char *const field_names[] = {
    "action", "rules", "categories", "output", "spans"
};
_Static_assert(sizeof field_names / sizeof field_names[0] == TEST_NFIELDS,
    "a name per TEST_F_* bit");

const char *cli_test_field_name(size_t i)
{
    assert(i < TEST_NFIELDS);
    return field_names[i];
}

/* One test file being parsed. */
typedef struct yctx {
    const char *path;
    yaml_document_t doc;
} yctx;

/* ------------------------------------------------------------------------
 * Sets, cases and suites: lookup and ownership
 * ---------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_test_strset_has(const test_strset *s, const char *x)
{
    return bsearch(&x, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

static void strset_free(test_strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static void case_free(test_case *tc)
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

void cli_test_suite_free(test_suite *s)
{
    for (size_t i = 0; i < s->ncases; i++)
        case_free(&s->cases[i]);
    free(s->cases);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    memset(s, 0, sizeof *s);
}

/* Move *tc into the suite (tc is zeroed). Returns 0 or -1 (no memory). */
static int suite_add(test_suite *s, test_case *tc)
{
    if (s->ncases == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        test_case *q = realloc(s->cases, cap * sizeof *q);
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
        return cli_test_nomem();
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

/* A list of names, as a sorted set. */
static int get_set(yctx *c, const yaml_node_t *seq, const char *label,
    test_strset *out)
{
    size_t n = 0, cap;

    if (seq->type != YAML_SEQUENCE_NODE)
        return yerr(c, seq, "%s must be a list, got %s (write [] for "
            "none)", label, is_null(seq) ? "null" : kind_of(seq));
    cap = (size_t)(seq->data.sequence.items.top -
        seq->data.sequence.items.start);
    out->v = calloc(cap ? cap : 1, sizeof *out->v);
    if (out->v == NULL)
        return cli_test_nomem();
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
static int parse_span(yctx *c, const yaml_node_t *n, test_span *sp)
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

static int parse_spans(yctx *c, const yaml_node_t *seq, test_case *tc)
{
    size_t cap;

    if (seq->type != YAML_SEQUENCE_NODE)
        return yerr(c, seq, "expect.spans must be a list, got %s (write [] "
            "for none)", is_null(seq) ? "null" : kind_of(seq));
    cap = (size_t)(seq->data.sequence.items.top -
        seq->data.sequence.items.start);
    tc->spans = calloc(cap ? cap : 1, sizeof *tc->spans);
    if (tc->spans == NULL)
        return cli_test_nomem();
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

static int parse_expect(yctx *c, const yaml_node_t *n, test_case *tc)
{
    yaml_node_t *v[TEST_NFIELDS];

    if (map_collect(c, n, "expect", field_names, TEST_NFIELDS, v) != 0)
        return -1;
    for (size_t i = 0; i < TEST_NFIELDS; i++)
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
    test_strset tags = { NULL, 0 };
    int rc = get_set(c, n, "tags", &tags);
    strset_free(&tags);
    return rc;
}

static int parse_case(yctx *c, const yaml_node_t *n, test_case *tc)
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

static int parse_cases(yctx *c, const yaml_node_t *root, test_suite *s)
{
    if (root->type != YAML_SEQUENCE_NODE)
        return yerr(c, root, "a test file is a list of cases (\"- name: "
            "...\"), got %s", kind_of(root));
    for (yaml_node_item_t *it = root->data.sequence.items.start;
         it < root->data.sequence.items.top; it++) {
        yaml_node_t *n = node_at(c, *it);
        test_case tc;
        memset(&tc, 0, sizeof tc);
        tc.file = c->path;
        if (n == NULL) {
            yerr(c, root, "broken YAML node");
            return -1;
        }
        if (parse_case(c, n, &tc) != 0) {
            case_free(&tc);
            return -1;
        }
        if (suite_add(s, &tc) != 0) {
            case_free(&tc);
            return cli_test_nomem();
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
        return cli_test_nomem();
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
static int parse_file(const char *path, test_suite *s)
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
        return cli_test_nomem();
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
static int add_file(test_suite *s, char *path, size_t *cap)
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
static int list_files(const char *tdir, test_suite *s)
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
            return cli_test_nomem();
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
int cli_test_suite_load(const char *policy, test_suite *s)
{
    char *tdir = tests_dir_of(policy);
    int rc = 0;

    if (tdir == NULL)
        return cli_test_nomem();
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
