/*
 * policy_lint_test.c - the spec of rules/policy_lint.c: sluice_policy_lint()
 * and the findings of docs/lint.md.
 *
 * Each test writes a small policy (policy.yaml and maybe a list file) into
 * a fresh mkdtemp() directory, lints it through the public API, and checks
 * the codes, files and lines of the findings (and key phrases of their
 * messages). Vocabularies for the Scunthorpe check are small files written
 * the same way; the test with the real shared vocabularies is skipped with
 * a reason when $SLUICE_DATA is not there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice.h"
#include "testutil.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

typedef struct found {
    int sev;
    char code[48];
    char file[512];
    int line;
    char rule[160];
    char term[256];
    char msg[1024];
} found;

typedef struct result {
    found *f;
    size_t n;
    sluice_lint_report rep;
    sluice_error err;
    int rc;
    int stop_after;      /* > 0: the callback returns 7 after this many */
} result;

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static int collect(const sluice_lint_finding *f, void *payload)
{
    result *r = payload;
    found *n = realloc(r->f, (r->n + 1) * sizeof *n);
    assert_non_null(n);
    r->f = n;
    found *x = &r->f[r->n++];
    x->sev = f->severity;
    copy(x->code, sizeof x->code, f->code);
    copy(x->file, sizeof x->file, f->file);
    x->line = f->line;
    copy(x->rule, sizeof x->rule, f->rule);
    copy(x->term, sizeof x->term, f->term);
    copy(x->msg, sizeof x->msg, f->message);
    assert_null(strchr(f->message, '\n'));
    if (r->stop_after > 0 && r->n == (size_t)r->stop_after)
        return 7;
    return 0;
}

static void dump(const result *r)
{
    for (size_t i = 0; i < r->n; i++)
        print_error("  %s:%d: %s: %s [%s]\n", r->f[i].file, r->f[i].line,
            sluice_lint_severity_name(r->f[i].sev), r->f[i].msg,
            r->f[i].code);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/sluice-lint-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char *copy_ = strdup(d);
    assert_non_null(copy_);
    return copy_;
}

static int rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(char *dir)
{
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
}

static void write_file(const char *dir, const char *rel, const char *data)
{
    char path[1024];
    assert_true(snprintf(path, sizeof path, "%s/%s", dir, rel) > 0);
    char *slash = strrchr(path, '/');
    if (slash != NULL && strncmp(rel, "lists/", 6) == 0) {
        *slash = '\0';
        (void)mkdir(path, 0700);
        *slash = '/';
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
    assert_int_equal(fclose(f), 0);
}

/* The policy header every test policy starts with. */
#define HEAD "policy: t\nversion: 1\n"

static void lint_path(result *r, const char *path,
    const sluice_lint_options *o)
{
    memset(&r->err, 0, sizeof r->err);
    r->rc = sluice_policy_lint(path, o, collect, r, &r->rep, &r->err);
}

/*
 * Lint policy.yaml `yaml` with file `rel` = `data` beside it (if data is
 * not NULL). The directory is removed afterwards; findings keep copies.
 */
static void lint_with(result *r, const char *yaml, const char *rel,
    const char *data, const sluice_lint_options *o)
{
    char *dir = make_tmpdir();
    memset(r, 0, sizeof *r);
    write_file(dir, "policy.yaml", yaml);
    if (data != NULL)
        write_file(dir, rel, data);
    lint_path(r, dir, o);
    rm_tree(dir);
}

/* ... with list file lists/a.txt = `list`. */
static void lint_yaml(result *r, const char *yaml, const char *list,
    const sluice_lint_options *o)
{
    lint_with(r, yaml, "lists/a.txt", list, o);
}

static void result_free(result *r)
{
    free(r->f);
    r->f = NULL;
    r->n = 0;
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

/* The first finding with this code at this line (any line if line < 0;
   0 is a finding about a whole file), or NULL. */
static const found *find(const result *r, const char *code, int line)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->f[i].code, code) == 0 &&
            (line < 0 || r->f[i].line == line))
            return &r->f[i];
    return NULL;
}

static size_t count(const result *r, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += strcmp(r->f[i].code, code) == 0;
    return n;
}

/* Assert a finding: code, severity, file ending in `file`, line, and a
   phrase of the message (NULL: any). */
static const found *expect(const result *r, const char *code, int sev,
    const char *file, int line, const char *phrase)
{
    const found *f = find(r, code, line);
    if (f == NULL || f->sev != sev || !ends_with(f->file, file) ||
        (phrase != NULL && strstr(f->msg, phrase) == NULL)) {
        print_error("want %s (%s) at %s:%d with '%s'; got:\n", code,
            sluice_lint_severity_name(sev), file, line,
            phrase ? phrase : "");
        dump(r);
    }
    assert_non_null(f);
    assert_int_equal(f->sev, sev);
    assert_true(ends_with(f->file, file));
    if (phrase != NULL)
        assert_non_null(strstr(f->msg, phrase));
    return f;
}

static void expect_none(const result *r, const char *code)
{
    if (count(r, code) != 0) {
        print_error("want no %s; got:\n", code);
        dump(r);
    }
    assert_int_equal(count(r, code), 0);
}

/* tests/unit/rules/../../../<rel>, from this file's path. */
static void repo_path(char *buf, size_t cap, const char *rel)
{
    const char *here = __FILE__, *slash = strrchr(here, '/');
    int n = slash ? snprintf(buf, cap, "%.*s/../../../%s",
        (int)(slash - here), here, rel) : snprintf(buf, cap, "%s", rel);
    assert_true(n > 0 && (size_t)n < cap);
}

/* ------------------------------------------------------------------------
 * Duplicates, shadowed and contained terms
 * ---------------------------------------------------------------------- */

static void test_a_clean_policy_has_no_errors_or_warnings(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "categories:\n"
        "  - {id: bad, action: block}\n"
        "rules:\n"
        "  - {id: r1, category: bad, terms: [badword, otherword]}\n",
        NULL, NULL);
    assert_int_equal(r.rc, 0);
    if (r.rep.errors + r.rep.warnings != 0)
        dump(&r);
    assert_int_equal(r.rep.errors, 0);
    assert_int_equal(r.rep.warnings, 0);
    assert_int_equal(r.rep.rules, 1);
    assert_int_equal(r.rep.terms, 2);
    assert_int_equal(r.rep.compiles, 1);
    assert_int_equal(r.rep.vocab_words, 0);
    expect(&r, "category-terms", SLUICE_LINT_INFO, "policy.yaml", 4,
        "category 'bad' (block): 1 rule, 2 terms");
    expect(&r, "holdback", SLUICE_LINT_INFO, "policy.yaml", 6,
        "left context");
    result_free(&r);
}

static void test_a_policy_without_rules_has_nothing_to_report(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD, NULL, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.rep.rules, 0);
    assert_int_equal(r.rep.compiles, 1);
    result_free(&r);
}

static void test_a_term_twice_in_one_rule_is_a_duplicate(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: r1, action: block, terms: lists/a.txt}\n",
        "spam\neggs\nspam\n", NULL);
    assert_int_equal(r.rc, 0);
    const found *f = expect(&r, "duplicate-term", SLUICE_LINT_WARNING,
        "lists/a.txt", 3, "is already at");
    assert_string_equal(f->rule, "r1");
    assert_string_equal(f->term, "spam");
    assert_non_null(strstr(f->msg, "lists/a.txt:1"));
    assert_int_equal(count(&r, "duplicate-term"), 1);
    result_free(&r);
}

static void test_a_term_that_folds_to_another_is_a_normalized_duplicate(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - id: r1\n"
        "    action: block\n"
        "    terms: [foo, \"ＦＯＯ\"]\n", NULL, NULL);
    const found *f = expect(&r, "normalized-duplicate", SLUICE_LINT_WARNING,
        "policy.yaml", 6, "normalizes to the same as 'foo'");
    assert_string_equal(f->term, "ＦＯＯ");
    expect_none(&r, "duplicate-term");
    result_free(&r);
}

static void test_a_term_in_a_weaker_rule_is_shadowed_by_the_stronger_one(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: strong, action: block, terms: [foo]}\n"
        "  - {id: weak, action: flag, terms: [foo]}\n", NULL, NULL);
    const found *f = expect(&r, "shadowed-term", SLUICE_LINT_WARNING,
        "policy.yaml", 5, "in rule 'strong' (block)");
    assert_string_equal(f->rule, "weak");
    assert_non_null(strstr(f->msg, "rule 'weak' (flag) never decides"));
    assert_int_equal(count(&r, "shadowed-term"), 1);
    expect_none(&r, "duplicate-term");
    result_free(&r);
}

static void test_the_same_term_in_two_rules_of_one_action_is_a_duplicate(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: a, action: redact, terms: [foo]}\n"
        "  - {id: b, action: redact, terms: [foo]}\n", NULL, NULL);
    const found *f = expect(&r, "duplicate-term", SLUICE_LINT_WARNING,
        "policy.yaml", 5, "in rule 'a'");
    assert_non_null(strstr(f->msg, "same action (redact)"));
    assert_int_equal(count(&r, "duplicate-term"), 1);   /* not on both */
    result_free(&r);
}

static void test_a_substring_rule_is_not_shadowed_by_a_word_rule(
    void **state)
{
    (void)state;
    result r;
    /* the flag rule also fires inside "foobar": it decides there */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: strong, action: block, terms: [foo], boundary: word}\n"
        "  - {id: weak, action: flag, terms: [foo]}\n", NULL, NULL);
    expect_none(&r, "shadowed-term");
    result_free(&r);
    /* the other way round, the word rule never adds anything */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: strong, action: block, terms: [foo]}\n"
        "  - {id: weak, action: flag, terms: [foo], boundary: word}\n",
        NULL, NULL);
    expect(&r, "shadowed-term", SLUICE_LINT_WARNING, "policy.yaml", 5,
        "matched as a substring there");
    result_free(&r);
}

static void test_rules_on_different_streams_are_not_compared(void **state)
{
    (void)state;
    result r;
    /* leet makes the flag rule match "f00", which the block rule does not */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: strong, action: block, terms: [foo]}\n"
        "  - {id: weak, action: flag, terms: [foo], variants: [leet]}\n",
        NULL, NULL);
    expect_none(&r, "shadowed-term");
    expect_none(&r, "duplicate-term");
    result_free(&r);
}

static void test_a_term_holding_a_blocked_term_never_changes_a_verdict(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: b, action: block, terms: [foo]}\n"
        "  - {id: f, action: flag, terms: [foobar]}\n"
        "  - {id: s, action: block, terms: [xfoo]}\n", NULL, NULL);
    const found *f = expect(&r, "contained-term", SLUICE_LINT_WARNING,
        "policy.yaml", 5, "can never change a verdict");
    assert_string_equal(f->term, "foobar");
    assert_non_null(strstr(f->msg, "it only adds rule 'f'"));
    expect(&r, "contained-term", SLUICE_LINT_WARNING, "policy.yaml", 6,
        "'foo' (rule 'b', block");
    result_free(&r);
}

static void test_a_stronger_longer_term_is_not_contained(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: f, action: flag, terms: [foo]}\n"
        "  - {id: b, action: block, terms: [foobar]}\n", NULL, NULL);
    expect_none(&r, "contained-term");
    result_free(&r);
}

static void test_a_redaction_inside_a_redaction_only_widens_it(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: r, action: redact, terms: [damn, damnit]}\n", NULL, NULL);
    expect(&r, "contained-term", SLUICE_LINT_INFO, "policy.yaml", 4,
        "only widens that redaction");
    result_free(&r);
}

static void test_a_word_term_inside_a_longer_term_covers_nothing(
    void **state)
{
    (void)state;
    result r;
    /* "foo" as a word does not match inside "foobar" */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: b, action: block, terms: [foo], boundary: word}\n"
        "  - {id: f, action: flag, terms: [foobar]}\n", NULL, NULL);
    expect_none(&r, "contained-term");
    result_free(&r);
}

static void test_an_allow_term_that_can_split_them_stops_the_claim(
    void **state)
{
    (void)state;
    result r;
    /* "xfoob" agrees with "foobar" around "foo" without spanning it: in
       "xfoobar" the allow hit drops "foo" but not "foobar" */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: b, action: block, terms: [foo]}\n"
        "  - {id: f, action: flag, terms: [foobar]}\n"
        "allow: [xfoob]\n", NULL, NULL);
    expect_none(&r, "contained-term");
    result_free(&r);
    /* "foolish" cannot overlap "foobar" at its "foo": the claim holds */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: b, action: block, terms: [foo]}\n"
        "  - {id: f, action: flag, terms: [foobar]}\n"
        "allow: [foolish]\n", NULL, NULL);
    expect(&r, "contained-term", SLUICE_LINT_WARNING, "policy.yaml", 5,
        NULL);
    result_free(&r);
}

static void test_containment_respects_repeat_counts(void **state)
{
    (void)state;
    result r;
    /* with repeat, "soo" needs two o's: "sox" has one, "sooox" three */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: b, action: block, terms: [soo], variants: [repeat]}\n"
        "  - {id: f, action: flag, terms: [sox, sooox],"
        " variants: [repeat]}\n",
        NULL, NULL);
    assert_int_equal(count(&r, "contained-term"), 1);
    const found *f = expect(&r, "contained-term", SLUICE_LINT_WARNING,
        "policy.yaml", 5, NULL);
    assert_string_equal(f->term, "sooox");
    result_free(&r);
}

static void test_a_co_occurrence_rule_listing_a_term_twice_is_a_duplicate(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - id: c\n"
        "    action: block\n"
        "    all: [bomb, recipe, bomb]\n"
        "    within: 20\n", NULL, NULL);
    expect(&r, "duplicate-term", SLUICE_LINT_WARNING, "policy.yaml", 6,
        "lists 'bomb' twice");
    result_free(&r);
}

/* ------------------------------------------------------------------------
 * Terms that normalize to nothing, short terms
 * ---------------------------------------------------------------------- */

static void test_a_term_that_normalizes_to_nothing_is_an_error_at_its_line(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: r1, action: block, terms: lists/a.txt}\n"
        "allow: [\"!!\"]\n",
        "good\n***\ngood\n\xe2\x80\x8b\n", NULL);
    assert_int_equal(r.rc, 0);   /* a finding, not a failure to lint */
    assert_int_equal(r.rep.compiles, 0);
    expect(&r, "empty-term", SLUICE_LINT_ERROR, "lists/a.txt", 2,
        "'***' normalizes to nothing");
    expect(&r, "empty-term", SLUICE_LINT_ERROR, "lists/a.txt", 4, NULL);
    expect(&r, "empty-term", SLUICE_LINT_ERROR, "policy.yaml", 5,
        "allow term");
    /* the compiler's own refusal says the same: not repeated */
    expect_none(&r, "policy-refused");
    /* the other checks still ran */
    expect(&r, "duplicate-term", SLUICE_LINT_WARNING, "lists/a.txt", 3,
        NULL);
    assert_int_equal(r.rep.errors, 3);
    result_free(&r);
}

static void test_short_terms_are_reported_with_configurable_limits(
    void **state)
{
    (void)state;
    const char *yaml = HEAD
        "rules:\n"
        "  - {id: r, action: flag, terms: [x, ab, abc, 草, 草泥, 草泥马]}\n";
    result r;
    lint_yaml(&r, yaml, NULL, NULL);
    assert_int_equal(count(&r, "short-term"), 2);
    const found *f = expect(&r, "short-term", SLUICE_LINT_WARNING,
        "policy.yaml", 4, "1 code point long");
    assert_string_equal(f->term, "x");
    assert_string_equal(r.f[f - r.f + 1].term, "草");
    result_free(&r);

    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    o.short_chars = 2;
    o.short_han = 2;
    lint_yaml(&r, yaml, NULL, &o);
    assert_int_equal(count(&r, "short-term"), 4);
    result_free(&r);
}

/* ------------------------------------------------------------------------
 * Regexes
 * ---------------------------------------------------------------------- */

static void test_a_regex_that_does_not_compile_is_an_error(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - id: rx\n"
        "    action: flag\n"
        "    regex: 'ab(c'\n", NULL, NULL);
    assert_int_equal(r.rep.compiles, 0);
    expect(&r, "regex-invalid", SLUICE_LINT_ERROR, "policy.yaml", 6,
        "missing closing parenthesis");
    expect_none(&r, "policy-refused");
    result_free(&r);
}

static void test_every_catastrophic_regex_is_refused_and_probed(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: one, action: flag, regex: '(a+)+b'}\n"
        "  - {id: two, action: flag, regex: '(\\w+\\s?)+$'}\n"
        "  - {id: ok, action: flag, regex: 'ab+c'}\n", NULL, NULL);
    /* the compiler stops at its first refusal; lint reports both */
    assert_int_equal(count(&r, "policy-refused"), 2);
    expect(&r, "policy-refused", SLUICE_LINT_ERROR, "policy.yaml", 4,
        "rule 'one'");
    expect(&r, "policy-refused", SLUICE_LINT_ERROR, "policy.yaml", 5,
        "rule 'two'");
    /* running them on generated text finds the blow-up too */
    expect(&r, "regex-backtracking", SLUICE_LINT_ERROR, "policy.yaml", 4,
        "match limit");
    expect(&r, "regex-backtracking", SLUICE_LINT_ERROR, "policy.yaml", 5,
        "regex_limit");
    assert_null(find(&r, "regex-backtracking", 6));
    result_free(&r);

    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    o.no_regex_probe = 1;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: one, action: flag, regex: '(a+)+b'}\n", NULL, &o);
    expect_none(&r, "regex-backtracking");
    expect(&r, "policy-refused", SLUICE_LINT_ERROR, "policy.yaml", 4, NULL);
    result_free(&r);
}

static void test_a_regex_slower_than_linear_is_reported(void **state)
{
    (void)state;
    result r;
    /* \d+\d+x: every split of a digit run is tried at every start
       (quadratic: no limit stops it); a third \d+ makes it cubic, and
       the runtime's match limit then blocks such text; the compiler's
       static check accepts both */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: slow, action: flag, regex: '\\d+\\d+x'}\n"
        "  - {id: fast, action: flag, regex: 'x\\d+'}\n"
        "  - {id: cubic, action: flag, regex: '\\d+\\d+\\d+x'}\n",
        NULL, NULL);
    expect(&r, "regex-slow", SLUICE_LINT_WARNING, "policy.yaml", 4,
        "grows faster than the text");
    assert_null(find(&r, "regex-slow", 5));
    assert_null(find(&r, "regex-backtracking", 5));
    expect(&r, "regex-backtracking", SLUICE_LINT_ERROR, "policy.yaml", 6,
        "'1111...!x'");
    assert_null(find(&r, "regex-slow", 6));   /* the error wins */
    expect_none(&r, "policy-refused");
    assert_int_equal(r.rep.compiles, 1);
    result_free(&r);
}

static void test_a_regex_that_matches_the_empty_string_is_a_warning(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: e, action: flag, regex: 'x*'}\n"
        "  - {id: l, action: flag, regex: '(?<=a)b?'}\n"
        "  - {id: n, action: flag, regex: 'x+'}\n", NULL, NULL);
    expect(&r, "regex-empty-match", SLUICE_LINT_WARNING, "policy.yaml", 4,
        "in an empty text");
    expect(&r, "regex-empty-match", SLUICE_LINT_WARNING, "policy.yaml", 5,
        "in 'a'");
    assert_null(find(&r, "regex-empty-match", 6));
    result_free(&r);
}

static void test_a_regex_without_a_required_literal_is_noted(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: digits, action: flag, regex: '[0-9]{13,19}'}\n"
        "  - {id: mail, action: flag, regex: '[a-z]+@[a-z]+'}\n", NULL,
        NULL);
    /* 13 digits in a row in any match: a run gate stands first */
    expect(&r, "regex-no-literal", SLUICE_LINT_INFO, "policy.yaml", 4,
        "its run gate (13 digits, spaces or hyphens in a row)");
    assert_null(find(&r, "regex-no-literal", 5));   /* '@' is required */
    expect(&r, "holdback-unbounded", SLUICE_LINT_INFO, "policy.yaml", 5,
        "no maximum length");
    assert_null(find(&r, "holdback-unbounded", 4));
    result_free(&r);
}

static void test_a_regex_hyperscan_cannot_prefilter_is_a_warning(
    void **state)
{
    (void)state;
    result r;
    /* a branch reset group: PCRE2 has it, Hyperscan does not */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: reset, action: flag, regex: '(?|(ab)|(cd))x'}\n"
        "  - {id: plain, action: flag, regex: 'ab+c'}\n", NULL, NULL);
    expect(&r, "regex-unfiltered", SLUICE_LINT_WARNING, "policy.yaml", 4,
        "PCRE2 runs it over every output");
    assert_null(find(&r, "regex-unfiltered", 5));
    result_free(&r);
}

/* ------------------------------------------------------------------------
 * Scunthorpe
 * ---------------------------------------------------------------------- */

static void test_scunthorpe_counts_words_that_hold_a_substring_term(
    void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char vocab[1024], jieba[1024];
    snprintf(vocab, sizeof vocab, "%s/words.txt", dir);
    snprintf(jieba, sizeof jieba, "%s/dict.txt", dir);
    write_file(dir, "words.txt", "class\nglass\nassistant\nbass\nass\npass\n"
        "bass\nhello\n");
    write_file(dir, "dict.txt", "草莓 100 n\n草地 30 n\n花草 10 n\n");
    write_file(dir, "policy.yaml", HEAD
        "rules:\n"
        "  - {id: en, action: redact, terms: [ass, hello]}\n"
        "  - {id: w, action: redact, terms: [lass], boundary: word}\n"
        "  - {id: zh, action: redact, terms: [草]}\n"
        "allow: [glass]\n");
    const char *v[] = {vocab, jieba};
    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    o.vocab = v;
    o.nvocab = 2;
    result r;
    memset(&r, 0, sizeof r);
    lint_path(&r, dir, &o);
    assert_int_equal(r.rc, 0);
    /* 7 distinct words in the first file (bass twice), 3 in the second */
    assert_int_equal(r.rep.vocab_words, 10);
    /* class, assistant, bass, pass: not "ass" itself, not "glass" (an
       allow term holds it there) */
    const found *f = expect(&r, "scunthorpe", SLUICE_LINT_WARNING,
        "policy.yaml", 4, "inside 4 words");
    assert_string_equal(f->term, "ass");
    assert_non_null(strstr(f->msg, "('bass', 'pass', 'class', ...)"));
    f = expect(&r, "scunthorpe", SLUICE_LINT_WARNING, "policy.yaml", 6,
        "inside 3 words");
    assert_non_null(strstr(f->msg, "('草莓', '草地', '花草')"));
    assert_int_equal(count(&r, "scunthorpe"), 2);   /* not the word rule */
    result_free(&r);

    o.scunthorpe_words = 4;
    o.examples = 1;
    memset(&r, 0, sizeof r);
    lint_path(&r, dir, &o);
    expect(&r, "scunthorpe", SLUICE_LINT_WARNING, "policy.yaml", 4,
        "('bass', ...)");
    assert_int_equal(count(&r, "scunthorpe"), 1);
    result_free(&r);
    rm_tree(dir);
}

static void test_scunthorpe_with_the_shared_vocabularies(void **state)
{
    (void)state;
    const char *data = test_data_dir();
    if (data == NULL) {
        print_message("skipped: $SLUICE_DATA (default ../shared/data) is "
            "not there\n");
        skip();
    }
    char en[1024], zh[1024];
    snprintf(en, sizeof en, "%s/obscenity/english-words.txt", data);
    snprintf(zh, sizeof zh, "%s/jieba/dict.txt", data);
    const char *v[] = {en, zh};
    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    o.vocab = v;
    o.nvocab = 2;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: en, action: redact, terms: [anal, rape, penis]}\n"
        "  - {id: ok, action: redact, terms: [anal], boundary: word}\n",
        NULL, &o);
    assert_int_equal(r.rc, 0);
    assert_true(r.rep.vocab_words > 600000);
    const found *f = expect(&r, "scunthorpe", SLUICE_LINT_WARNING,
        "policy.yaml", 4, "words of the reference vocabulary");
    /* "analysis", "canal" ...: hundreds */
    assert_true(strtol(strstr(f->msg, "inside ") + 7, NULL, 10) > 100);
    assert_int_equal(count(&r, "scunthorpe"), 3);
    assert_true(r.rep.ms < 30000.0);
    result_free(&r);
}

static void test_a_missing_vocabulary_is_an_io_error(void **state)
{
    (void)state;
    const char *v[] = {"/nonexistent/words.txt"};
    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    o.vocab = v;
    o.nvocab = 1;
    result r;
    lint_yaml(&r, HEAD "rules:\n  - {id: r, action: flag, terms: [x]}\n",
        NULL, &o);
    assert_int_equal(r.rc, SLUICE_EIO);
    assert_int_equal(r.err.code, SLUICE_EIO);
    assert_string_equal(r.err.file, "/nonexistent/words.txt");
    assert_non_null(strstr(r.err.message, "cannot read vocabulary"));
    assert_int_equal(r.n, 0);
    result_free(&r);
}

/* ------------------------------------------------------------------------
 * Categories, allow list, holdback
 * ---------------------------------------------------------------------- */

static void test_categories_are_counted_and_checked_against_minimums(
    void **state)
{
    (void)state;
    sluice_lint_min mins[] = {{"bad", 5}, {"pii", 1}, {"label", 2},
        {"nowhere", 1}};
    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    o.min_terms = mins;
    o.nmin_terms = 4;
    result r;
    lint_yaml(&r, HEAD
        "categories:\n"
        "  - {id: bad, action: block}\n"
        "  - {id: pii, action: redact}\n"
        "  - {id: unused, action: flag}\n"
        "rules:\n"
        "  - {id: b, category: bad, terms: [foo, bar]}\n"
        "  - {id: p, category: pii, regex: 'x[0-9]+'}\n"
        "  - {id: l, category: label, action: label, terms: [baz]}\n",
        NULL, &o);
    expect(&r, "category-terms", SLUICE_LINT_INFO, "policy.yaml", 4,
        "category 'bad' (block): 1 rule, 2 terms, 0 regexes");
    expect(&r, "category-terms", SLUICE_LINT_INFO, "policy.yaml", 5,
        "1 rule, 0 terms, 1 regex");
    expect(&r, "category-unused", SLUICE_LINT_WARNING, "policy.yaml", 6,
        "'unused'");
    expect(&r, "category-min-terms", SLUICE_LINT_WARNING, "policy.yaml", 4,
        "has 2 terms, fewer than the minimum of 5");
    expect(&r, "category-min-terms", SLUICE_LINT_WARNING, "policy.yaml", 5,
        "has 0 terms");
    expect(&r, "category-min-terms", SLUICE_LINT_WARNING, "policy.yaml", 10,
        "not declared");
    const found *f = expect(&r, "category-min-terms", SLUICE_LINT_WARNING,
        "policy.yaml", 0, "'nowhere' has no rules");
    assert_int_equal(f->line, 0);
    assert_int_equal(count(&r, "category-min-terms"), 4);
    result_free(&r);
}

/* ------------------------------------------------------------------------
 * lint.yaml: minimum term counts beside the policy
 * ---------------------------------------------------------------------- */

/* policy.yaml for the lint.yaml tests: 'bad' has 2 terms (line 4),
   'pii' a regex and no terms (line 5). */
#define MIN_POLICY HEAD \
    "categories:\n" \
    "  - {id: bad, action: block}\n" \
    "  - {id: pii, action: redact}\n" \
    "rules:\n" \
    "  - {id: b, category: bad, terms: [foo, bar]}\n" \
    "  - {id: p, category: pii, regex: 'x[0-9]+'}\n"

/* The lint ran and reported no minimum. */
static void expect_no_minimums(const result *r)
{
    assert_int_equal(r->rc, 0);
    expect_none(r, "category-min-terms");
    expect_none(r, "total-min-terms");
}

/* Lint policy.yaml `yaml` beside lint.yaml `conf` (not written if NULL). */
static void lint_conf(result *r, const char *yaml, const char *conf,
    const sluice_lint_options *o)
{
    lint_with(r, yaml, "lint.yaml", conf, o);
}

static void test_lint_yaml_minimums_are_reported_when_met_and_when_not(
    void **state)
{
    (void)state;
    result r;
    lint_conf(&r, MIN_POLICY,
        "# minimums\n"
        "min_terms:\n"
        "  bad: 2\n"
        "  pii: 1\n"
        "  ghost: 3\n"
        "min_total_terms: 5\n", NULL);
    assert_int_equal(r.rc, 0);
    const found *f = expect(&r, "category-min-terms", SLUICE_LINT_INFO,
        "policy.yaml", 4, "category 'bad' has 2 terms, at least the minimum "
        "of 2 (");
    assert_true(ends_with(f->msg, "lint.yaml:3)"));
    f = expect(&r, "category-min-terms", SLUICE_LINT_WARNING, "policy.yaml",
        5, "category 'pii' has 0 terms, fewer than the minimum of 1 (");
    assert_true(ends_with(f->msg, "lint.yaml:4)"));
    f = expect(&r, "category-min-terms", SLUICE_LINT_WARNING, "policy.yaml",
        0, "category 'ghost' has no rules and no terms, fewer than the "
        "minimum of 3");
    assert_true(ends_with(f->msg, "lint.yaml:5)"));
    f = expect(&r, "total-min-terms", SLUICE_LINT_WARNING, "policy.yaml", 0,
        "the policy has 2 terms in all, fewer than the minimum of 5 (");
    assert_true(ends_with(f->msg, "lint.yaml:6)"));
    assert_int_equal(count(&r, "category-min-terms"), 3);
    assert_int_equal(r.rep.warnings, 3);
    result_free(&r);
}

static void test_the_options_win_over_lint_yaml(void **state)
{
    (void)state;
    sluice_lint_min mins[] = {{"bad", 3}, {"pii", 0}};
    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    o.min_terms = mins;
    o.nmin_terms = 2;
    o.min_total_terms = 2;
    result r;
    lint_conf(&r, MIN_POLICY,
        "min_terms: {bad: 1, pii: 1}\n"
        "min_total_terms: 50\n", &o);
    assert_int_equal(r.rc, 0);
    const found *f = expect(&r, "category-min-terms", SLUICE_LINT_WARNING,
        "policy.yaml", 4, "has 2 terms, fewer than the minimum of 3");
    assert_null(strstr(f->msg, "lint.yaml"));
    f = expect(&r, "total-min-terms", SLUICE_LINT_INFO, "policy.yaml", 0,
        "the policy has 2 terms in all, at least the minimum of 2");
    assert_null(strstr(f->msg, "lint.yaml"));
    /* pii's minimum is switched off (0) */
    assert_int_equal(count(&r, "category-min-terms"), 1);
    result_free(&r);
}

static void test_no_lint_yaml_leaves_the_file_unread(void **state)
{
    (void)state;
    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    o.no_lint_yaml = 1;
    result r;
    lint_conf(&r, MIN_POLICY, "min_terms: {bad: 9}\nbogus: [\n", &o);
    expect_no_minimums(&r);
    result_free(&r);
}

static void test_version_1_options_do_not_read_version_2_fields(
    void **state)
{
    (void)state;
    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    o.version = 1;
    o.min_total_terms = 999;      /* beyond a version 1 struct: unread */
    o.no_lint_yaml = 1;
    result r;
    lint_conf(&r, MIN_POLICY, "min_total_terms: 3\n", &o);
    assert_int_equal(r.rc, 0);
    expect(&r, "total-min-terms", SLUICE_LINT_WARNING, "policy.yaml", 0,
        "fewer than the minimum of 3 (");
    result_free(&r);
}

static void test_lint_yaml_is_read_beside_a_policy_given_by_its_file(
    void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char path[1024];
    result r;
    memset(&r, 0, sizeof r);
    write_file(dir, "strict.yaml", MIN_POLICY);
    write_file(dir, "lint.yaml", "min_terms:\n  bad: 7\n");
    assert_true(snprintf(path, sizeof path, "%s/strict.yaml", dir) > 0);
    lint_path(&r, path, NULL);
    assert_int_equal(r.rc, 0);
    const found *f = expect(&r, "category-min-terms", SLUICE_LINT_WARNING,
        "strict.yaml", 4, "fewer than the minimum of 7");
    assert_true(ends_with(f->msg, "/lint.yaml:2)"));
    result_free(&r);
    rm_tree(dir);
}

static void test_an_empty_lint_yaml_sets_no_minimums(void **state)
{
    (void)state;
    static const char *const empty[] = { "", "# only a comment\n", "---\n",
        "min_terms: {}\n", "\xEF\xBB\xBF# a BOM\n" };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        result r;
        lint_conf(&r, MIN_POLICY, empty[i], NULL);
        if (r.rc != 0)
            print_error("case %zu: %s:%d: %s\n", i, r.err.file, r.err.line,
                r.err.message);
        expect_no_minimums(&r);
        result_free(&r);
    }
}

static void test_a_malformed_lint_yaml_is_refused_with_its_line(
    void **state)
{
    (void)state;
    static const struct {
        const char *conf;
        int line;
        const char *phrase;
    } cases[] = {
        { "min_terms: {bad: 2\n", 2, "YAML syntax error: did not find "
          "expected ',' or '}'" },
        { "# x\nmin_term: {bad: 2}\n", 2, "unknown key 'min_term'; did you "
          "mean 'min_terms'? (allowed: min_terms, min_total_terms)" },
        { "colour: 1\n", 1, "unknown key 'colour' (allowed:" },
        { "min_terms: {bad: 2}\nmin_terms: {bad: 3}\n", 2,
          "duplicate key 'min_terms' (first at line 1)" },
        { "min_terms:\n  bad: 2\n  bad: 3\n", 3,
          "min_terms: duplicate category 'bad' (first at line 2)" },
        { "min_terms: [bad]\n", 1, "min_terms must be a mapping of category "
          "ids to numbers" },
        { "min_terms:\n  \"a b\": 2\n", 2, "a key must be a category id" },
        { "min_terms:\n  bad: \"2\"\n", 2, "min_terms: 'bad' must be a whole "
          "number, got a quoted string" },
        { "min_terms:\n  bad:\n", 2, "got an empty value" },
        { "min_terms:\n  bad: -2\n", 2, "(decimal digits, no sign), got "
          "'-2'" },
        { "min_terms:\n  bad: 2.5\n", 2, "got '2.5'" },
        { "min_terms:\n  bad: 010\n", 2, "got '010'" },
        { "min_terms:\n  bad: 99999999999999999999\n", 2, "is too large" },
        { "min_total_terms: lots\n", 1, "min_total_terms must be a whole "
          "number" },
        { "min_total_terms: {a: 1}\n", 1, "got a mapping" },
        { "- 1\n- 2\n", 1, "the top level must be a mapping" },
        { "? [a]\n: 1\n", 1, "a key must be a name, got a sequence" },
        { "min_terms: &m {bad: 1}\nmin_total_terms: *m\n", 1,
          "anchors and aliases" },
        { "min_total_terms: 1\n---\nmin_total_terms: 2\n", 3,
          "one YAML document, found a second one" },
        { "min_total_terms: 1\n# \xFF\n", 2, "YAML error:" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r;
        lint_conf(&r, MIN_POLICY, cases[i].conf, NULL);
        if (r.rc != SLUICE_EPOLICY || r.err.line != cases[i].line ||
            strstr(r.err.message, cases[i].phrase) == NULL)
            print_error("case %zu: want line %d '%s'; got rc %d %s:%d: %s\n",
                i, cases[i].line, cases[i].phrase, r.rc, r.err.file,
                r.err.line, r.err.message);
        assert_int_equal(r.rc, SLUICE_EPOLICY);
        assert_true(ends_with(r.err.file, "/lint.yaml"));
        assert_int_equal(r.err.line, cases[i].line);
        assert_non_null(strstr(r.err.message, cases[i].phrase));
        assert_int_equal(r.n, 0);
        result_free(&r);
    }
}

static void test_a_lint_yaml_that_cannot_be_read_is_an_io_error(
    void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char path[1024];
    result r;
    memset(&r, 0, sizeof r);
    write_file(dir, "policy.yaml", MIN_POLICY);
    assert_true(snprintf(path, sizeof path, "%s/lint.yaml", dir) > 0);
    assert_int_equal(mkdir(path, 0700), 0);
    lint_path(&r, dir, NULL);
    assert_int_equal(r.rc, SLUICE_EIO);
    assert_true(ends_with(r.err.file, "/lint.yaml"));
    assert_non_null(strstr(r.err.message, "cannot read the lint settings"));
    result_free(&r);
    rm_tree(dir);
}

static void test_the_template_pack_falls_short_of_every_a1_a2_minimum(
    void **state)
{
    (void)state;
    char path[1024];
    result r;
    memset(&r, 0, sizeof r);
    repo_path(path, sizeof path, "policies/cn-genai-template");
    lint_path(&r, path, NULL);
    assert_int_equal(r.rc, 0);
    if (r.rep.errors != 0 || r.rep.warnings != 18)
        dump(&r);
    assert_int_equal(r.rep.errors, 0);
    assert_int_equal(r.rep.compiles, 1);
    assert_int_equal(r.rep.rules, 40);
    assert_int_equal(count(&r, "category-min-terms"), 17);
    for (int g = 1; g <= 2; g++)
        for (int i = 1; i <= (g == 1 ? 8 : 9); i++) {
            char want[80];
            snprintf(want, sizeof want, "category 'a%d.%02d' has", g, i);
            size_t k = 0;
            for (; k < r.n; k++)
                if (strcmp(r.f[k].code, "category-min-terms") == 0 &&
                    strstr(r.f[k].msg, want) != NULL)
                    break;
            assert_true(k < r.n);
            assert_int_equal(r.f[k].sev, SLUICE_LINT_WARNING);
            assert_non_null(strstr(r.f[k].msg, g == 1 ?
                "fewer than the minimum of 200" :
                "fewer than the minimum of 100"));
        }
    expect(&r, "total-min-terms", SLUICE_LINT_WARNING, "policy.yaml", 0,
        "fewer than the minimum of 10000");
    /* the minimums are its only warnings */
    assert_int_equal(r.rep.warnings, 18);
    result_free(&r);
}

static void test_an_allow_term_holding_no_match_is_noted(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: r, action: block, terms: [cunt], boundary: word}\n"
        "  - {id: p, action: block, regex: '[0-9]{6}'}\n"
        "normalize: [nfkc_casefold]\n"
        "allow: [Scunthorpe, Niger, cunt-face, order 123456]\n", NULL, NULL);
    /* no noise skipping: "cunt" can never be a word inside Scunthorpe */
    expect(&r, "allow-unused", SLUICE_LINT_INFO, "policy.yaml", 7,
        "'Scunthorpe' holds no match");
    assert_int_equal(count(&r, "allow-unused"), 2);   /* and Niger */
    result_free(&r);
    /* with skip_noise, S.c.u.n.t.h.o.r.p.e gives "cunt" word edges */
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: r, action: block, terms: [cunt], boundary: word}\n"
        "allow: [Scunthorpe]\n", NULL, NULL);
    expect_none(&r, "allow-unused");
    result_free(&r);
}

static void test_holdback_names_the_longest_possible_match(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "max_gap: 2\n"
        "rules:\n"
        "  - {id: r, action: block, terms: [abcdefghij, xy]}\n"
        "  - {id: w, action: block, terms: [abcdefg], boundary: word}\n"
        "  - {id: o, action: flag, regex: 'z[0-9]{4}', on: original}\n",
        NULL, NULL);
    /* 10 code points x 4 bytes x (1 + max_gap 2) + 3 = 123; the word
       term: 7 x 12 + 3 + 100 = 187 */
    const found *f = expect(&r, "holdback", SLUICE_LINT_INFO, "policy.yaml",
        6, "at most 187 bytes");
    assert_non_null(strstr(f->msg, "term 'abcdefg' of rule 'w'"));
    assert_non_null(strstr(f->msg, "max_gap=2"));
    assert_non_null(strstr(f->msg, "bytes of left context"));
    expect_none(&r, "holdback-unbounded");
    result_free(&r);
}

/* ------------------------------------------------------------------------
 * The call itself
 * ---------------------------------------------------------------------- */

static void test_findings_come_sorted_by_file_then_line(void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n"
        "  - {id: l, action: block, terms: lists/a.txt}\n"
        "  - {id: r, action: block, terms: [x, y, x]}\n",
        "q\nlong\nlong\n", NULL);
    assert_true(r.n >= 4);
    for (size_t i = 1; i < r.n; i++) {
        int yaml_a = ends_with(r.f[i - 1].file, "policy.yaml");
        int yaml_b = ends_with(r.f[i].file, "policy.yaml");
        assert_true(yaml_a >= yaml_b);   /* policy.yaml first */
        if (yaml_a == yaml_b && r.f[i - 1].line && r.f[i].line)
            assert_true(r.f[i - 1].line <= r.f[i].line);
    }
    result_free(&r);
}

static void test_a_policy_that_cannot_be_read_is_an_error_of_the_call(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD "rules:\n  - {id: r, action: blok, terms: [x]}\n",
        NULL, NULL);
    assert_int_equal(r.rc, SLUICE_EPOLICY);
    assert_true(ends_with(r.err.file, "policy.yaml"));
    assert_int_equal(r.err.line, 4);
    assert_non_null(strstr(r.err.message, "unknown action 'blok'"));
    assert_int_equal(r.n, 0);
    result_free(&r);
    memset(&r, 0, sizeof r);
    lint_path(&r, "/nonexistent/policy", NULL);
    assert_int_equal(r.rc, SLUICE_EIO);
}

static void test_the_callback_can_stop_the_lint(void **state)
{
    (void)state;
    result r;
    char *dir = make_tmpdir();
    write_file(dir, "policy.yaml", HEAD
        "rules:\n  - {id: r, action: block, terms: [x, y, z]}\n");
    memset(&r, 0, sizeof r);
    r.stop_after = 2;
    lint_path(&r, dir, NULL);
    assert_int_equal(r.rc, 7);
    assert_int_equal(r.n, 2);
    result_free(&r);
    /* no callback, no report: fine */
    assert_int_equal(sluice_policy_lint(dir, NULL, NULL, NULL, NULL, NULL),
        0);
    rm_tree(dir);
}

static void test_bad_arguments_and_options_are_refused(void **state)
{
    (void)state;
    sluice_error e;
    sluice_lint_options o = SLUICE_LINT_OPTIONS_INIT;
    memset(&e, 0, sizeof e);
    assert_int_equal(sluice_policy_lint(NULL, NULL, NULL, NULL, NULL, &e),
        SLUICE_EINVAL);
    o.version = 99;
    assert_int_equal(sluice_policy_lint("x", &o, NULL, NULL, NULL, &e),
        SLUICE_EINVAL);
    assert_non_null(strstr(e.message, "version"));
    o.version = SLUICE_LINT_OPTIONS_VERSION;
    o.nvocab = 1;
    assert_int_equal(sluice_policy_lint("x", &o, NULL, NULL, NULL, &e),
        SLUICE_EINVAL);
    assert_string_equal(sluice_lint_severity_name(SLUICE_LINT_WARNING),
        "warning");
    assert_string_equal(sluice_lint_severity_name(42), "?");
}

static void test_messages_stay_on_one_line_with_control_characters(
    void **state)
{
    (void)state;
    result r;
    lint_yaml(&r, HEAD
        "rules:\n  - {id: r, action: block, terms: lists/a.txt}\n",
        "ab\x01" "cd\nab\x01" "cd\n", NULL);
    const found *f = expect(&r, "duplicate-term", SLUICE_LINT_WARNING,
        "lists/a.txt", 2, "'ab\\x01cd'");
    assert_string_equal(f->term, "ab\x01" "cd");   /* the term as written */
    result_free(&r);
}

static void test_the_baseline_policy_has_no_errors(void **state)
{
    (void)state;
    char path[1024];
    result r;
    memset(&r, 0, sizeof r);
    repo_path(path, sizeof path, "policies/baseline");
    lint_path(&r, path, NULL);
    assert_int_equal(r.rc, 0);
    if (r.rep.errors != 0)
        dump(&r);
    assert_int_equal(r.rep.errors, 0);
    assert_int_equal(r.rep.compiles, 1);
    assert_non_null(find(&r, "holdback", -1));
    result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_clean_policy_has_no_errors_or_warnings),
        cmocka_unit_test(test_a_policy_without_rules_has_nothing_to_report),
        cmocka_unit_test(test_a_term_twice_in_one_rule_is_a_duplicate),
        cmocka_unit_test(
            test_a_term_that_folds_to_another_is_a_normalized_duplicate),
        cmocka_unit_test(
            test_a_term_in_a_weaker_rule_is_shadowed_by_the_stronger_one),
        cmocka_unit_test(
            test_the_same_term_in_two_rules_of_one_action_is_a_duplicate),
        cmocka_unit_test(test_a_substring_rule_is_not_shadowed_by_a_word_rule),
        cmocka_unit_test(test_rules_on_different_streams_are_not_compared),
        cmocka_unit_test(
            test_a_term_holding_a_blocked_term_never_changes_a_verdict),
        cmocka_unit_test(test_a_stronger_longer_term_is_not_contained),
        cmocka_unit_test(test_a_redaction_inside_a_redaction_only_widens_it),
        cmocka_unit_test(
            test_a_word_term_inside_a_longer_term_covers_nothing),
        cmocka_unit_test(
            test_an_allow_term_that_can_split_them_stops_the_claim),
        cmocka_unit_test(test_containment_respects_repeat_counts),
        cmocka_unit_test(
            test_a_co_occurrence_rule_listing_a_term_twice_is_a_duplicate),
        cmocka_unit_test(
            test_a_term_that_normalizes_to_nothing_is_an_error_at_its_line),
        cmocka_unit_test(
            test_short_terms_are_reported_with_configurable_limits),
        cmocka_unit_test(test_a_regex_that_does_not_compile_is_an_error),
        cmocka_unit_test(test_every_catastrophic_regex_is_refused_and_probed),
        cmocka_unit_test(test_a_regex_slower_than_linear_is_reported),
        cmocka_unit_test(
            test_a_regex_that_matches_the_empty_string_is_a_warning),
        cmocka_unit_test(test_a_regex_without_a_required_literal_is_noted),
        cmocka_unit_test(
            test_a_regex_hyperscan_cannot_prefilter_is_a_warning),
        cmocka_unit_test(
            test_scunthorpe_counts_words_that_hold_a_substring_term),
        cmocka_unit_test(test_scunthorpe_with_the_shared_vocabularies),
        cmocka_unit_test(test_a_missing_vocabulary_is_an_io_error),
        cmocka_unit_test(
            test_categories_are_counted_and_checked_against_minimums),
        cmocka_unit_test(
            test_lint_yaml_minimums_are_reported_when_met_and_when_not),
        cmocka_unit_test(test_the_options_win_over_lint_yaml),
        cmocka_unit_test(test_no_lint_yaml_leaves_the_file_unread),
        cmocka_unit_test(
            test_version_1_options_do_not_read_version_2_fields),
        cmocka_unit_test(
            test_lint_yaml_is_read_beside_a_policy_given_by_its_file),
        cmocka_unit_test(test_an_empty_lint_yaml_sets_no_minimums),
        cmocka_unit_test(test_a_malformed_lint_yaml_is_refused_with_its_line),
        cmocka_unit_test(test_a_lint_yaml_that_cannot_be_read_is_an_io_error),
        cmocka_unit_test(
            test_the_template_pack_falls_short_of_every_a1_a2_minimum),
        cmocka_unit_test(test_an_allow_term_holding_no_match_is_noted),
        cmocka_unit_test(test_holdback_names_the_longest_possible_match),
        cmocka_unit_test(test_findings_come_sorted_by_file_then_line),
        cmocka_unit_test(
            test_a_policy_that_cannot_be_read_is_an_error_of_the_call),
        cmocka_unit_test(test_the_callback_can_stop_the_lint),
        cmocka_unit_test(test_bad_arguments_and_options_are_refused),
        cmocka_unit_test(
            test_messages_stay_on_one_line_with_control_characters),
        cmocka_unit_test(test_the_baseline_policy_has_no_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
