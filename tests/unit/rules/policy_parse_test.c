/*
 * policy_parse_test.c - the spec of rules/policy_parse.c: psrc_load(),
 * psrc_free(), psrc_error().
 *
 * Fixtures are small policy directories in tests/unit/rules/fixtures/,
 * found next to this file (through __FILE__; override with
 * SLUICE_FIXTURES). Tests that must change sources (hashes, other file
 * names) copy a fixture into a fresh mkdtemp() directory and remove it.
 * Every error test checks the code, the file, the line and a key phrase of
 * the message; error fixtures are named err_<what>.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "rules/policy_src.h"
#include "testutil.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* tests/unit/rules/fixtures/<name> (or $SLUICE_FIXTURES/<name>). */
static void fixture(char *buf, size_t cap, const char *name)
{
    const char *env = getenv("SLUICE_FIXTURES");
    const char *here = __FILE__, *slash = strrchr(here, '/');
    int n;

    if (env != NULL && env[0] != '\0')
        n = snprintf(buf, cap, "%s/%s", env, name);
    else if (slash == NULL)
        n = snprintf(buf, cap, "fixtures/%s", name);
    else
        n = snprintf(buf, cap, "%.*s/fixtures/%s", (int)(slash - here), here,
            name);
    assert_true(n > 0 && (size_t)n < cap);
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static psrc *load_ok(const char *path, const sluice_policy_options *opts)
{
    psrc *p = NULL;
    sluice_error e;
    int rc;

    memset(&e, 0, sizeof e);
    rc = psrc_load(&p, path, opts, &e);
    if (rc != 0)
        print_error("psrc_load(%s) = %d: %s:%d: %s\n", path, rc, e.file,
            e.line, e.message);
    assert_int_equal(rc, 0);
    assert_non_null(p);
    return p;
}

static psrc *load_fixture(const char *name)
{
    char path[1024];

    fixture(path, sizeof path, name);
    return load_ok(path, NULL);
}

/*
 * Load fixture `name` expecting failure `code` reported against
 * <name>/<file> at `line`, with `phrase` in the message.
 */
static void expect_error_opts(const char *name,
    const sluice_policy_options *opts, int code, const char *file, int line,
    const char *phrase)
{
    char path[1024], tail[512];
    psrc *p = (psrc *)&p;   /* not NULL: psrc_load must clear it */
    sluice_error e;
    int rc;

    fixture(path, sizeof path, name);
    assert_true(snprintf(tail, sizeof tail, "%s/%s", name, file) > 0);
    memset(&e, 0, sizeof e);
    rc = psrc_load(&p, path, opts, &e);
    if (rc != code || !ends_with(e.file, tail) || e.line != line ||
        strstr(e.message, phrase) == NULL)
        print_error("%s: got %d %s:%d: %s\n", name, rc, e.file, e.line,
            e.message);
    assert_int_equal(rc, code);
    assert_null(p);
    assert_int_equal(e.code, code);
    assert_true(ends_with(e.file, tail));
    assert_int_equal(e.line, line);
    assert_non_null(strstr(e.message, phrase));
    assert_null(strchr(e.message, '\n'));
}

static void expect_error(const char *name, int code, const char *file,
    int line, const char *phrase)
{
    expect_error_opts(name, NULL, code, file, line, phrase);
}

static void assert_term(const psrc_term *t, const char *text,
    const char *file, int line)
{
    assert_string_equal(t->text, text);
    assert_string_equal(t->file, file);
    assert_int_equal(t->line, line);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/sluice-psrc-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    char *copy;

    assert_non_null(d);
    copy = strdup(d);
    assert_non_null(copy);
    return copy;
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

static void write_file(const char *dir, const char *rel, const char *data,
    size_t len)
{
    char path[1024];
    FILE *f;

    assert_true(snprintf(path, sizeof path, "%s/%s", dir, rel) > 0);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Copy fixture file <name>/<rel> to <dir>/<to>. */
static void copy_fixture_file(const char *name, const char *rel,
    const char *dir, const char *to)
{
    char path[1024], src[1024];
    size_t len = 0;
    char *data;

    fixture(path, sizeof path, name);
    assert_true(snprintf(src, sizeof src, "%s/%s", path, rel) > 0);
    data = test_read_file(src, &len);
    assert_non_null(data);
    write_file(dir, to, data, len);
    free(data);
}

/* A copy of fixtures/full in a fresh temporary directory. */
static char *copy_full(void)
{
    char *dir = make_tmpdir(), lists[1024];

    assert_true(snprintf(lists, sizeof lists, "%s/lists", dir) > 0);
    assert_int_equal(mkdir(lists, 0700), 0);
    copy_fixture_file("full", "policy.yaml", dir, "policy.yaml");
    copy_fixture_file("full", "lists/profanity-zh.txt", dir,
        "lists/profanity-zh.txt");
    copy_fixture_file("full", "lists/allow.txt", dir, "lists/allow.txt");
    return dir;
}

/* An `escalation:` section (docs/redis.md#strikes-and-escalation). */
static psrc *load_inline(const char *tail, int *rc, sluice_error *e)
{
    char *dir = make_tmpdir(), yaml[1024];
    psrc *p = NULL;
    int n = snprintf(yaml, sizeof yaml, "policy: esc\nversion: 1\n"
        "rules:\n  - id: w\n    action: block\n    terms: [alphaword]\n%s",
        tail);
    assert_true(n > 0 && (size_t)n < sizeof yaml);
    write_file(dir, "policy.yaml", yaml, (size_t)n);
    memset(e, 0, sizeof *e);
    *rc = psrc_load(&p, dir, NULL, e);
    rm_tree(dir);
    return p;
}

static void test_an_escalation_section_reads_back(void **state)
{
    sluice_error e;
    int rc;
    psrc *p;
    (void)state;
    p = load_inline("escalation:\n  row: 3\n  count: 5\n  window: 1d\n"
        "  suspend: 90m\n  action: mark\n", &rc, &e);
    assert_int_equal(rc, 0);
    assert_true(p->has_escalation);
    assert_int_equal(p->escalation_line, 8);
    assert_int_equal(p->escalation.row, 3);
    assert_int_equal(p->escalation.count, 5);
    assert_int_equal(p->escalation.window_s, 86400);
    assert_int_equal(p->escalation.suspend_s, 5400);
    assert_int_equal(p->escalation.block, 0);
    psrc_free(p);
    p = load_inline("escalation:\n  row: 2\n  suspend: 600\n", &rc, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(p->escalation.suspend_s, 600);
    assert_int_equal(p->escalation.block, 1);      /* the default */
    psrc_free(p);
    p = load_inline("", &rc, &e);
    assert_int_equal(rc, 0);
    assert_false(p->has_escalation);
    assert_int_equal(p->escalation.row, 0);
    psrc_free(p);
}

static void test_a_bad_escalation_section_is_refused_with_its_line(
    void **state)
{
    static const struct {
        const char *yaml;
        int line;
        const char *phrase;
    } bad[] = {
        { "escalation:\n  row: 3\n", 8, "missing required key 'suspend'" },
        { "escalation:\n  suspend: 1h\n", 8, "give 'row'" },
        { "escalation:\n  count: 5\n  suspend: 1h\n", 8, "'count' needs "
            "'window'" },
        { "escalation:\n  row: 3\n  suspend: 1w\n", 9, "must be a duration" },
        { "escalation:\n  row: 3\n  suspend: 0\n", 9, "from 1 second" },
        { "escalation:\n  row: 3\n  suspend: 400d\n", 9, "366 days" },
        { "escalation:\n  row: 0\n  suspend: 1h\n", 8, "row" },
        { "escalation:\n  row: 3\n  suspend: 1h\n  action: ban\n", 10,
            "suspension action" },
        { "escalation:\n  rows: 3\n  suspend: 1h\n", 8, "rows" },
        { "escalation: 3\n", 7, "mapping" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sluice_error e;
        int rc;
        psrc *p = load_inline(bad[i].yaml, &rc, &e);
        if (rc != SLUICE_EPOLICY || e.line != bad[i].line ||
            strstr(e.message, bad[i].phrase) == NULL)
            print_error("case %zu: got %d line %d: %s\n", i, rc, e.line,
                e.message);
        assert_null(p);
        assert_int_equal(rc, SLUICE_EPOLICY);
        assert_int_equal(e.line, bad[i].line);
        assert_non_null(strstr(e.message, bad[i].phrase));
    }
}

/* A list file that resolves outside the policy directory (a symbolic
   link, or a link on the way) is refused: `sluice build` would otherwise
   pack any file of the machine into a signed bundle. A link that stays
   inside is fine. */
static void test_a_list_linked_outside_the_policy_is_refused(void **state)
{
    char *dir = make_tmpdir(), *out = make_tmpdir(), path[1024], to[1024];
    static const char yaml[] = "policy: links\nversion: 1\nrules:\n"
        "  - {id: w, action: block, terms: lists/words.txt}\n";
    sluice_error e;
    psrc *p = NULL;
    (void)state;
    write_file(out, "secret.txt", "hunter2\n", 8);
    snprintf(path, sizeof path, "%s/lists", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    write_file(dir, "policy.yaml", yaml, strlen(yaml));
    /* a link to a file outside */
    snprintf(to, sizeof to, "%s/secret.txt", out);
    snprintf(path, sizeof path, "%s/lists/words.txt", dir);
    assert_int_equal(symlink(to, path), 0);
    memset(&e, 0, sizeof e);
    assert_int_equal(psrc_load(&p, dir, NULL, &e), SLUICE_EPOLICY);
    assert_null(p);
    assert_non_null(strstr(e.message, "outside the policy directory"));
    assert_int_equal(e.line, 4);
    /* a link inside the policy directory is fine */
    assert_int_equal(unlink(path), 0);
    write_file(dir, "lists/real.txt", "badword\n", 8);
    assert_int_equal(symlink("real.txt", path), 0);
    assert_int_equal(psrc_load(&p, dir, NULL, &e), 0);
    psrc_free(p);
    p = NULL;
    /* a linked directory on the way out */
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/lists/real.txt", dir);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/lists", dir);
    assert_int_equal(rmdir(path), 0);
    write_file(out, "words.txt", "badword\n", 8);
    assert_int_equal(symlink(out, path), 0);
    assert_int_equal(psrc_load(&p, dir, NULL, &e), SLUICE_EPOLICY);
    assert_non_null(strstr(e.message, "outside the policy directory"));
    rm_tree(dir);
    rm_tree(out);
}

/* ------------------------------------------------------------------------
 * Valid policies
 * ---------------------------------------------------------------------- */

static void test_a_policy_using_every_key_reads_back_field_by_field(
    void **state)
{
    psrc *p = load_fixture("full");
    const psrc_category *cat;
    const psrc_rule *r;

    (void)state;
    assert_true(ends_with(p->dir, "fixtures/full"));
    assert_string_equal(p->id, "full-test_1.0");
    assert_int_equal(p->version, 42);
    assert_string_equal(p->description, "A policy that uses every key.");
    assert_string_equal(p->refusal_zh, "内容不可用。");
    assert_string_equal(p->refusal_en, "Not available.");
    assert_string_equal(p->language, "zh");
    assert_string_equal(p->mask_zh, "[删]");
    assert_string_equal(p->mask_en, "[gone]");
    assert_int_equal(p->normalize,
        NORM_IGNORABLE | NORM_NFKC_CASEFOLD | NORM_CONFUSABLES);
    assert_int_equal(p->max_gap, 5);

    assert_int_equal(p->ncats, 3);
    cat = &p->cats[0];
    assert_string_equal(cat->id, "pii.cn_id");
    assert_int_equal(cat->action, SLUICE_REDACT);
    assert_string_equal(cat->severity, "high");
    assert_string_equal(cat->name_zh, "居民身份证号");
    assert_string_equal(cat->name_en, "PRC resident ID number");
    assert_string_equal(cat->mask, "[ID]");
    assert_string_equal(cat->description, "PRC resident ID numbers.");
    assert_string_equal(cat->file, "policy.yaml");
    assert_int_equal(cat->line, 11);
    cat = &p->cats[1];
    assert_string_equal(cat->id, "profanity");
    assert_int_equal(cat->action, SLUICE_BLOCK);
    assert_null(cat->severity);
    assert_null(cat->name_zh);
    assert_null(cat->name_en);
    assert_null(cat->mask);
    assert_null(cat->description);
    assert_int_equal(cat->line, 14);
    assert_string_equal(p->cats[2].id, "violence");
    assert_int_equal(p->cats[2].action, SLUICE_FLAG);

    assert_int_equal(p->nrules, 7);
    r = &p->rules[0];
    assert_string_equal(r->id, "pii.cn_id");
    assert_string_equal(r->category, "pii.cn_id");
    assert_int_equal(r->action, -1);
    assert_int_equal(r->kind, PSRC_REGEX);
    assert_string_equal(r->regex,
        "(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])");
    assert_int_equal(r->regex_line, 22);
    assert_string_equal(r->validate, "cn_id");
    assert_int_equal(r->on, PSRC_ON_ORIGINAL);
    assert_int_equal(r->boundary, PSRC_BOUNDARY_DEFAULT);
    assert_int_equal(r->variants, 0);
    assert_string_equal(r->mask, "[身份证]");
    assert_string_equal(r->description,
        "PRC resident ID numbers, checksum-validated.");
    assert_null(r->terms);
    assert_int_equal(r->nterms, 0);
    assert_string_equal(r->file, "policy.yaml");
    assert_int_equal(r->line, 19);

    r = &p->rules[1];
    assert_string_equal(r->id, "profanity.zh");
    assert_int_equal(r->kind, PSRC_TERMS);
    assert_int_equal(r->action, -1);
    assert_int_equal(r->nterms, 7);
    assert_null(r->regex);
    assert_null(r->validate);
    assert_null(r->mask);
    assert_null(r->description);
    assert_int_equal(r->on, PSRC_ON_NORMALIZED);
    assert_int_equal(r->line, 26);

    r = &p->rules[2];
    assert_string_equal(r->id, "profanity.en");
    assert_string_equal(r->category, "profanity");
    assert_int_equal(r->action, SLUICE_LABEL);
    assert_int_equal(r->kind, PSRC_TERMS);
    assert_int_equal(r->nterms, 2);
    assert_term(&r->terms[0], "badword", "policy.yaml", 32);
    assert_term(&r->terms[1], "otherword", "policy.yaml", 32);
    assert_int_equal(r->boundary, PSRC_BOUNDARY_WORD);
    assert_int_equal(r->variants, NORM_LEET | NORM_REPEAT);

    r = &p->rules[3];
    assert_string_equal(r->id, "recipe.explosive");
    assert_int_equal(r->kind, PSRC_ALL);
    assert_int_equal(r->within, 30);
    assert_int_equal(r->nterms, 2);
    assert_term(&r->terms[0], "炸药", "policy.yaml", 37);
    assert_term(&r->terms[1], "配方", "policy.yaml", 37);
    assert_int_equal(r->boundary, PSRC_BOUNDARY_NONE);

    r = &p->rules[4];
    assert_string_equal(r->id, "pii.card");
    assert_null(r->category);
    assert_int_equal(r->action, SLUICE_FLAG);
    assert_string_equal(r->regex, "\\b[0-9]{16}\\b");
    assert_string_equal(r->validate, "luhn");
    assert_string_equal(p->rules[5].validate, "cn_mobile");
    assert_int_equal(p->rules[5].on, PSRC_ON_NORMALIZED);
    assert_int_equal(p->rules[5].action, SLUICE_REDACT);
    assert_string_equal(p->rules[6].validate, "email");

    assert_int_equal(p->nallow, 2);
    assert_int_equal(p->nfiles, 3);
    assert_string_equal(p->files[0], "policy.yaml");
    assert_string_equal(p->files[1], "lists/profanity-zh.txt");
    assert_string_equal(p->files[2], "lists/allow.txt");
    psrc_free(p);
}

static void test_a_list_with_bom_crlf_comments_and_blanks_gives_only_terms(
    void **state)
{
    psrc *p = load_fixture("full");
    const psrc_term *t = p->rules[1].terms;
    const char *f = "lists/profanity-zh.txt";

    (void)state;
    assert_int_equal(p->rules[1].nterms, 7);
    assert_term(&t[0], "傻逼", f, 2);            /* after BOM + comment */
    assert_term(&t[1], "混蛋", f, 5);            /* trimmed, CR dropped */
    assert_term(&t[2], "c#", f, 6);              /* '#' inside a term */
    assert_term(&t[3], "王八蛋", f, 7);          /* " # comment" cut */
    assert_term(&t[4], "滚蛋", f, 9);            /* U+3000 trimmed */
    assert_term(&t[5], "f#ck#", f, 10);
    assert_term(&t[6], "last line without newline", f, 11);
    psrc_free(p);
}

static void test_an_allow_list_file_cuts_a_comment_after_a_tab(void **state)
{
    psrc *p = load_fixture("full");

    (void)state;
    assert_int_equal(p->nallow, 2);
    assert_term(&p->allow[0], "Scunthorpe", "lists/allow.txt", 2);
    assert_term(&p->allow[1], "Sussex", "lists/allow.txt", 3);
    psrc_free(p);
}

static void test_a_minimal_policy_gets_every_default(void **state)
{
    psrc *p = load_fixture("minimal");

    (void)state;
    assert_string_equal(p->id, "minimal");
    assert_int_equal(p->version, 0);
    assert_null(p->description);
    assert_string_equal(p->refusal_zh, "抱歉，该内容无法显示。");
    assert_string_equal(p->refusal_en, "Sorry, this content can't be shown.");
    assert_string_equal(p->language, "auto");
    assert_string_equal(p->mask_zh, "[已隐藏]");
    assert_string_equal(p->mask_en, "[redacted]");
    assert_int_equal(p->normalize, NORM_DEFAULT);
    assert_int_equal(p->max_gap, 3);
    assert_int_equal(p->ncats, 0);
    assert_int_equal(p->nrules, 0);
    assert_int_equal(p->nallow, 0);
    assert_int_equal(p->nfiles, 1);
    psrc_free(p);
}

static void test_an_empty_normalize_turns_every_step_off(void **state)
{
    psrc *p = load_fixture("inline_allow");

    (void)state;
    assert_int_equal(p->normalize, 0);
    assert_int_equal(p->nallow, 2);
    assert_term(&p->allow[0], "Scunthorpe", "policy.yaml", 4);
    assert_term(&p->allow[1], "Penistone", "policy.yaml", 4);
    psrc_free(p);
}

static void test_a_list_named_twice_is_read_once_and_given_to_each_user(
    void **state)
{
    psrc *p = load_fixture("shared_list");

    (void)state;
    assert_int_equal(p->nfiles, 2);
    assert_string_equal(p->files[1], "lists/words.txt");
    assert_int_equal(p->rules[0].nterms, 2);
    assert_int_equal(p->rules[1].nterms, 2);
    assert_int_equal(p->nallow, 2);
    assert_ptr_not_equal(p->rules[0].terms, p->rules[1].terms);
    assert_term(&p->rules[1].terms[1], "beta", "lists/words.txt", 2);
    assert_term(&p->allow[0], "alpha", "lists/words.txt", 1);
    psrc_free(p);
}

static void test_the_path_may_be_the_directory_or_its_policy_yaml(
    void **state)
{
    char dir[1024], slash[1040], file[1040];
    psrc *a, *b, *c;

    (void)state;
    fixture(dir, sizeof dir, "full");
    assert_true(snprintf(slash, sizeof slash, "%s/", dir) > 0);
    assert_true(snprintf(file, sizeof file, "%s/policy.yaml", dir) > 0);
    a = load_ok(dir, NULL);
    b = load_ok(slash, NULL);
    c = load_ok(file, NULL);
    assert_string_equal(a->dir, dir);
    assert_string_equal(b->dir, dir);
    assert_string_equal(c->dir, dir);
    assert_string_equal(c->files[0], "policy.yaml");
    assert_int_equal(c->nrules, 7);
    assert_memory_equal(a->hash, b->hash, 32);
    assert_memory_equal(a->hash, c->hash, 32);
    psrc_free(a);
    psrc_free(b);
    psrc_free(c);
}

static void test_a_policy_file_of_another_name_is_loaded_by_its_path(
    void **state)
{
    char *dir = make_tmpdir(), path[1024];
    const char *yaml = "policy: strict\nversion: 9\n";
    psrc *p;

    (void)state;
    write_file(dir, "strict.yaml", yaml, strlen(yaml));
    assert_true(snprintf(path, sizeof path, "%s/strict.yaml", dir) > 0);
    p = load_ok(path, NULL);
    assert_string_equal(p->id, "strict");
    assert_string_equal(p->files[0], "strict.yaml");
    assert_string_equal(p->dir, dir);
    psrc_free(p);
    rm_tree(dir);
}

static void test_a_missing_policy_is_an_io_error(void **state)
{
    psrc *p = NULL;
    sluice_error e;

    (void)state;
    assert_int_equal(psrc_load(&p, "/nonexistent/sluice/policy", NULL, &e),
        SLUICE_EIO);
    assert_null(p);
    assert_string_equal(e.file, "/nonexistent/sluice/policy");
    assert_non_null(strstr(e.message, "No such file"));
}

static void test_a_directory_without_policy_yaml_is_an_io_error(
    void **state)
{
    char *dir = make_tmpdir();
    psrc *p = NULL;
    sluice_error e;

    (void)state;
    assert_int_equal(psrc_load(&p, dir, NULL, &e), SLUICE_EIO);
    assert_null(p);
    assert_true(ends_with(e.file, "/policy.yaml"));
    assert_int_equal(e.line, 0);
    assert_non_null(strstr(e.message, "cannot read policy file"));
    rm_tree(dir);
}

static void test_the_error_may_be_null(void **state)
{
    char path[1024];
    psrc *p = NULL;

    (void)state;
    fixture(path, sizeof path, "err_unknown_key_top");
    assert_int_equal(psrc_load(&p, path, NULL, NULL), SLUICE_EPOLICY);
    assert_null(p);
}

/* ------------------------------------------------------------------------
 * Hash
 * ---------------------------------------------------------------------- */

static void feed_file(crypto_generichash_state *st, const char *dir,
    const char *rel)
{
    char path[1024];
    unsigned char le[8];
    size_t len = 0, i;
    char *data;

    assert_true(snprintf(path, sizeof path, "%s/%s", dir, rel) > 0);
    data = test_read_file(path, &len);
    assert_non_null(data);
    for (i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)len >> (8 * i));
    assert_int_equal(crypto_generichash_update(st,
        (const unsigned char *)rel, strlen(rel) + 1), 0);
    assert_int_equal(crypto_generichash_update(st, le, 8), 0);
    assert_int_equal(crypto_generichash_update(st,
        (const unsigned char *)data, len), 0);
    free(data);
}

static void test_the_hash_is_blake2b_over_the_sources_as_documented(
    void **state)
{
    const char *tag = "sluice-policy-v1\n";
    crypto_generichash_state st;
    unsigned char want[32];
    char dir[1024];
    psrc *p;

    (void)state;
    assert_true(sodium_init() >= 0);
    fixture(dir, sizeof dir, "full");
    p = load_ok(dir, NULL);
    assert_int_equal(crypto_generichash_init(&st, NULL, 0, 32), 0);
    assert_int_equal(crypto_generichash_update(&st,
        (const unsigned char *)tag, strlen(tag)), 0);
    feed_file(&st, dir, "policy.yaml");
    feed_file(&st, dir, "lists/profanity-zh.txt");
    feed_file(&st, dir, "lists/allow.txt");
    assert_int_equal(crypto_generichash_final(&st, want, 32), 0);
    assert_memory_equal(p->hash, want, 32);
    psrc_free(p);
}

static void test_the_same_sources_give_the_same_hash_wherever_they_are(
    void **state)
{
    char *dir = copy_full();
    psrc *a = load_fixture("full"), *b = load_ok(dir, NULL);
    psrc *c = load_ok(dir, NULL);

    (void)state;
    assert_memory_equal(a->hash, b->hash, 32);
    assert_memory_equal(b->hash, c->hash, 32);
    psrc_free(a);
    psrc_free(b);
    psrc_free(c);
    rm_tree(dir);
}

static void test_one_byte_changed_in_a_list_changes_the_hash(void **state)
{
    char *dir = copy_full(), path[1024];
    psrc *a = load_ok(dir, NULL), *b;
    size_t len = 0;
    char *data;

    (void)state;
    assert_true(snprintf(path, sizeof path, "%s/lists/allow.txt", dir) > 0);
    data = test_read_file(path, &len);
    assert_non_null(data);
    data[strlen("# allow list\nS")] = 's';     /* Scunthorpe -> Ssunthorpe */
    write_file(dir, "lists/allow.txt", data, len);
    free(data);
    b = load_ok(dir, NULL);
    assert_string_equal(b->allow[0].text, "Ssunthorpe");
    assert_memory_not_equal(a->hash, b->hash, 32);
    psrc_free(a);
    psrc_free(b);
    rm_tree(dir);
}

/* ------------------------------------------------------------------------
 * Limits
 * ---------------------------------------------------------------------- */

static void test_a_list_file_over_max_list_bytes_is_refused(void **state)
{
    sluice_policy_options o = SLUICE_POLICY_OPTIONS_INIT;
    char path[1024];

    (void)state;
    o.max_list_bytes = 599;       /* policy.yaml fits, the 600-byte list not */
    expect_error_opts("long_list", &o, SLUICE_ETOOBIG, "policy.yaml", 6,
        "lists/long.txt' is 600 bytes, over the limit of 599 "
        "(max_list_bytes)");
    o.max_list_bytes = 600;
    fixture(path, sizeof path, "long_list");
    psrc_free(load_ok(path, &o));
    o.max_list_bytes = 50;        /* policy.yaml itself is over */
    expect_error_opts("long_list", &o, SLUICE_ETOOBIG, "policy.yaml", 0,
        "over the limit of 50");
}

static void test_more_terms_than_max_terms_are_refused(void **state)
{
    sluice_policy_options o = SLUICE_POLICY_OPTIONS_INIT;
    char path[1024];

    (void)state;
    o.max_terms = 5;              /* the sixth is in the list file */
    expect_error_opts("full", &o, SLUICE_ETOOBIG, "lists/profanity-zh.txt",
        10, "max_terms");
    o.max_terms = 8;              /* the ninth is inline */
    expect_error_opts("full", &o, SLUICE_ETOOBIG, "policy.yaml", 32,
        "more than 8 in total");
    o.max_terms = 3;              /* the second use of a shared list */
    expect_error_opts("shared_list", &o, SLUICE_ETOOBIG, "lists/words.txt",
        2, "max_terms");
    o.max_terms = 13;             /* all of full's terms fit exactly */
    fixture(path, sizeof path, "full");
    psrc_free(load_ok(path, &o));
}

static void test_more_rules_than_max_rules_are_refused(void **state)
{
    sluice_policy_options o = SLUICE_POLICY_OPTIONS_INIT;
    char path[1024];

    (void)state;
    o.max_rules = 6;
    expect_error_opts("full", &o, SLUICE_ETOOBIG, "policy.yaml", 49,
        "more than 6 (max_rules)");
    o.max_rules = 7;
    fixture(path, sizeof path, "full");
    psrc_free(load_ok(path, &o));
}

static void test_options_of_an_unknown_version_are_refused(void **state)
{
    sluice_policy_options o = SLUICE_POLICY_OPTIONS_INIT;
    char path[1024];
    psrc *p = NULL;
    sluice_error e;

    (void)state;
    o.version = 99;
    fixture(path, sizeof path, "minimal");
    assert_int_equal(psrc_load(&p, path, &o, &e), SLUICE_EINVAL);
    assert_null(p);
    assert_non_null(strstr(e.message, "options version"));
}

/* 65,143 lines; about 100 carry raw control bytes, which stay in terms. */
static void test_the_65k_sensitive_word_list_loads_every_line(void **state)
{
    const char *data = test_data_dir();
    const char *yaml = "policy: big\nversion: 1\nrules:\n  - id: words\n"
        "    action: block\n    terms: lists/words.txt\n";
    char *dir, target[1024], lists[1024];
    psrc *p;

    (void)state;
    if (data == NULL) {
        skip();
        return;
    }
    dir = make_tmpdir();
    assert_true(snprintf(target, sizeof target,
        "%s/sensitive-word/dict_v20240407.txt", data) > 0);
    if (target[0] != '/') {       /* make a relative data dir absolute */
        char cwd[512];
        assert_non_null(getcwd(cwd, sizeof cwd));
        assert_true(snprintf(target, sizeof target,
            "%s/%s/sensitive-word/dict_v20240407.txt", cwd, data) > 0);
    }
    assert_true(snprintf(lists, sizeof lists, "%s/lists", dir) > 0);
    assert_int_equal(mkdir(lists, 0700), 0);
    /* a copy: a list linked from outside the policy is refused */
    {
        size_t n = 0;
        char *words = test_read_file(target, &n);
        assert_non_null(words);
        write_file(dir, "lists/words.txt", words, n);
        free(words);
    }
    write_file(dir, "policy.yaml", yaml, strlen(yaml));
    p = load_ok(dir, NULL);
    assert_int_equal(p->rules[0].nterms, 65143);
    assert_int_equal(p->rules[0].terms[65142].line, 65143);
    psrc_free(p);
    rm_tree(dir);
}

/* ------------------------------------------------------------------------
 * Errors: one test per class
 * ---------------------------------------------------------------------- */

static void test_a_yaml_syntax_error_gives_libyamls_problem_and_line(
    void **state)
{
    (void)state;
    expect_error("err_yaml_syntax", SLUICE_EPOLICY, "policy.yaml", 7,
        "YAML syntax error: did not find expected ',' or ']'");
}

static void test_an_unknown_top_level_key_is_named_with_a_suggestion(
    void **state)
{
    (void)state;
    expect_error("err_unknown_key_top", SLUICE_EPOLICY, "policy.yaml", 3,
        "unknown key 'descripton'; did you mean 'description'?");
    expect_error("err_unknown_key_top", SLUICE_EPOLICY, "policy.yaml", 3,
        "allowed: policy, version, description");
}

static void test_an_unknown_rule_key_is_named_with_the_rule(void **state)
{
    (void)state;
    expect_error("err_unknown_key_rule", SLUICE_EPOLICY, "policy.yaml", 7,
        "rule 'r1': unknown key 'bondary'; did you mean 'boundary'?");
}

static void test_a_key_given_twice_in_a_mapping_is_refused(void **state)
{
    (void)state;
    expect_error("err_duplicate_key", SLUICE_EPOLICY, "policy.yaml", 3,
        "duplicate key 'version' (first at line 2)");
}

static void test_a_value_of_the_wrong_type_is_refused(void **state)
{
    (void)state;
    expect_error("err_type_version", SLUICE_EPOLICY, "policy.yaml", 2,
        "'version' must be a decimal integer, got 'seven'");
    expect_error("err_type_version_quoted", SLUICE_EPOLICY, "policy.yaml", 2,
        "'version' must be an integer, got a quoted string");
    expect_error("err_type_rules", SLUICE_EPOLICY, "policy.yaml", 3,
        "'rules' must be a sequence of mappings, got a mapping");
    expect_error("err_type_terms", SLUICE_EPOLICY, "policy.yaml", 6,
        "'terms' must be a list file path or a sequence of terms");
    expect_error("err_type_null", SLUICE_EPOLICY, "policy.yaml", 3,
        "'description' must be a string, got an empty value");
    expect_error("err_not_mapping", SLUICE_EPOLICY, "policy.yaml", 1,
        "must be a mapping of keys");
}

static void test_a_missing_required_key_is_named(void **state)
{
    (void)state;
    expect_error("err_missing_policy", SLUICE_EPOLICY, "policy.yaml", 2,
        "missing required key 'policy'");
    expect_error("err_missing_version", SLUICE_EPOLICY, "policy.yaml", 1,
        "missing required key 'version'");
    expect_error("err_missing_rule_id", SLUICE_EPOLICY, "policy.yaml", 7,
        "rule #2: missing required key 'id'");
    expect_error("err_missing_category_action", SLUICE_EPOLICY,
        "policy.yaml", 4, "category 'c1': missing required key 'action'");
}

static void test_a_duplicate_rule_id_names_the_first_ones_line(void **state)
{
    (void)state;
    expect_error("err_duplicate_rule_id", SLUICE_EPOLICY, "policy.yaml", 10,
        "duplicate rule id 'same' (first defined at line 4)");
}

static void test_a_duplicate_category_id_is_refused(void **state)
{
    (void)state;
    expect_error("err_duplicate_category_id", SLUICE_EPOLICY, "policy.yaml",
        6, "duplicate category id 'c1' (first defined at line 4)");
}

static void test_an_undeclared_category_needs_the_rules_own_action(
    void **state)
{
    (void)state;
    expect_error("err_undeclared_category", SLUICE_EPOLICY, "policy.yaml",
        11, "rule 'bad': category 'ghost' is not declared");
    expect_error("err_no_category_no_action", SLUICE_EPOLICY, "policy.yaml",
        4, "rule 'lonely': needs a 'category' or an 'action'");
}

static void test_a_missing_list_file_is_an_io_error_naming_its_path(
    void **state)
{
    (void)state;
    expect_error("err_missing_list", SLUICE_EIO, "policy.yaml", 6,
        "err_missing_list/lists/missing.txt': No such file or directory");
    expect_error("err_list_is_dir", SLUICE_EIO, "policy.yaml", 6,
        "Is a directory");
}

static void test_a_list_path_must_stay_inside_the_policy_directory(
    void **state)
{
    (void)state;
    expect_error("err_list_escapes", SLUICE_EPOLICY, "policy.yaml", 6,
        "must stay inside the policy directory");
    expect_error("err_list_absolute", SLUICE_EPOLICY, "policy.yaml", 3,
        "must be relative to the policy directory");
    expect_error("err_list_is_policy", SLUICE_EPOLICY, "policy.yaml", 3,
        "names the policy file itself");
}

static void test_an_empty_term_is_refused(void **state)
{
    (void)state;
    expect_error("err_empty_term_inline", SLUICE_EPOLICY, "policy.yaml", 6,
        "empty term in 'terms' (item 2)");
    expect_error("err_empty_term_blank", SLUICE_EPOLICY, "policy.yaml", 6,
        "empty term in 'all' (item 2)");
    expect_error("err_empty_list", SLUICE_EPOLICY, "policy.yaml", 6,
        "holds no terms");
}

static void test_invalid_utf8_is_refused_with_its_line(void **state)
{
    (void)state;
    expect_error("err_utf8_list", SLUICE_EPOLICY, "lists/bad.txt", 3,
        "invalid UTF-8 (byte 0xff)");
    expect_error("err_utf8_yaml", SLUICE_EPOLICY, "policy.yaml", 4,
        "invalid UTF-8 (byte 0xc3)");
}

static void test_a_nul_byte_is_refused(void **state)
{
    (void)state;
    expect_error("err_nul_list", SLUICE_EPOLICY, "lists/nul.txt", 2,
        "contains a NUL byte");
    expect_error("err_nul_yaml_string", SLUICE_EPOLICY, "policy.yaml", 3,
        "'zh' contains a NUL character");
}

static void test_unknown_names_are_refused_with_the_allowed_ones(
    void **state)
{
    (void)state;
    expect_error("err_unknown_normalize", SLUICE_EPOLICY, "policy.yaml", 3,
        "unknown normalize step 'nfkc' (allowed: ignorable, nfkc_casefold");
    expect_error("err_unknown_variant", SLUICE_EPOLICY, "policy.yaml", 7,
        "unknown variant 'repeats'; did you mean 'repeat'?");
    expect_error("err_unknown_validator", SLUICE_EPOLICY, "policy.yaml", 7,
        "unknown validator 'iban' (allowed: cn_id, luhn, cn_mobile, email)");
    expect_error("err_unknown_action", SLUICE_EPOLICY, "policy.yaml", 5,
        "unknown action 'blok'; did you mean 'block'?");
    expect_error("err_unknown_language", SLUICE_EPOLICY, "policy.yaml", 3,
        "unknown language 'fr' (allowed: zh, en, auto)");
}

static void test_a_rule_needs_exactly_one_of_terms_regex_all(void **state)
{
    (void)state;
    expect_error("err_no_kind", SLUICE_EPOLICY, "policy.yaml", 4,
        "rule 'empty': needs one of 'terms', 'regex', 'all' (found none)");
    expect_error("err_two_kinds", SLUICE_EPOLICY, "policy.yaml", 4,
        "(found 'terms' and 'regex')");
    expect_error("err_regex_empty", SLUICE_EPOLICY, "policy.yaml", 6,
        "'regex' is empty");
}

static void test_all_and_within_go_together(void **state)
{
    (void)state;
    expect_error("err_within_without_all", SLUICE_EPOLICY, "policy.yaml", 7,
        "'within' only applies to an 'all'");
    expect_error("err_all_without_within", SLUICE_EPOLICY, "policy.yaml", 6,
        "'all' needs 'within'");
    expect_error("err_all_one_term", SLUICE_EPOLICY, "policy.yaml", 6,
        "'all' needs at least 2 terms");
    expect_error("err_within_zero", SLUICE_EPOLICY, "policy.yaml", 7,
        "'within' must be between 1 and 1000000, got 0");
}

static void test_numbers_and_ids_out_of_range_are_refused(void **state)
{
    (void)state;
    expect_error("err_max_gap", SLUICE_EPOLICY, "policy.yaml", 3,
        "'max_gap' must be between 0 and 15, got 16");
    expect_error("err_version_negative", SLUICE_EPOLICY, "policy.yaml", 2,
        "'version' must be at least 0, got -1");
    expect_error("err_policy_id", SLUICE_EPOLICY, "policy.yaml", 1,
        "'policy' must be an id of letters, digits");
}

static void test_yaml_aliases_empty_files_and_second_documents_are_refused(
    void **state)
{
    (void)state;
    expect_error("err_alias", SLUICE_EPOLICY, "policy.yaml", 4,
        "aliases");
    expect_error("err_empty_file", SLUICE_EPOLICY, "policy.yaml", 1,
        "the policy file is empty");
    expect_error("err_two_documents", SLUICE_EPOLICY, "policy.yaml", 4,
        "must hold one YAML document");
}

/* ------------------------------------------------------------------------
 * psrc_error, psrc_free
 * ---------------------------------------------------------------------- */

static void test_psrc_error_fills_the_error_and_returns_the_code(
    void **state)
{
    sluice_error e;

    (void)state;
    memset(&e, 0x55, sizeof e);
    assert_int_equal(psrc_error(&e, SLUICE_EPOLICY, "p/policy.yaml", 12,
        "bad %s at %d", "thing", 3), SLUICE_EPOLICY);
    assert_int_equal(e.code, SLUICE_EPOLICY);
    assert_string_equal(e.file, "p/policy.yaml");
    assert_int_equal(e.line, 12);
    assert_string_equal(e.message, "bad thing at 3");
    assert_int_equal(psrc_error(&e, SLUICE_ENOMEM, NULL, 0, "x"),
        SLUICE_ENOMEM);
    assert_string_equal(e.file, "");
    assert_int_equal(psrc_error(NULL, SLUICE_EIO, "f", 1, "y"), SLUICE_EIO);
}

static void test_psrc_error_truncates_at_a_character_and_stays_one_line(
    void **state)
{
    char longpath[1500], longmsg[1500];
    sluice_error e;
    size_t i;

    (void)state;
    for (i = 0; i + 1 < sizeof longpath; i++)
        longpath[i] = (char)('a' + i % 26);
    longpath[sizeof longpath - 1] = '\0';
    longmsg[0] = '\0';
    for (i = 0; i < 400; i++)          /* 3-byte characters: 1200 bytes */
        memcpy(longmsg + 3 * i, "界", 4);
    psrc_error(&e, SLUICE_EPOLICY, longpath, 1, "line\none %s", longmsg);
    assert_int_equal(strlen(e.file), sizeof e.file - 1);
    assert_memory_equal(e.file, "...", 3);
    assert_true(ends_with(e.file, longpath + sizeof longpath - 20));
    assert_true(strlen(e.message) < sizeof e.message);
    assert_null(strchr(e.message, '\n'));
    assert_true(ends_with(e.message, "界..."));
    assert_memory_equal(e.message, "line one ", 9);
}

static void test_psrc_free_accepts_null(void **state)
{
    (void)state;
    psrc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_a_policy_using_every_key_reads_back_field_by_field),
        cmocka_unit_test(
            test_a_list_with_bom_crlf_comments_and_blanks_gives_only_terms),
        cmocka_unit_test(test_an_allow_list_file_cuts_a_comment_after_a_tab),
        cmocka_unit_test(test_a_minimal_policy_gets_every_default),
        cmocka_unit_test(test_an_escalation_section_reads_back),
        cmocka_unit_test(test_a_list_linked_outside_the_policy_is_refused),
        cmocka_unit_test(test_a_bad_escalation_section_is_refused_with_its_line),
        cmocka_unit_test(test_an_empty_normalize_turns_every_step_off),
        cmocka_unit_test(
            test_a_list_named_twice_is_read_once_and_given_to_each_user),
        cmocka_unit_test(
            test_the_path_may_be_the_directory_or_its_policy_yaml),
        cmocka_unit_test(
            test_a_policy_file_of_another_name_is_loaded_by_its_path),
        cmocka_unit_test(test_a_missing_policy_is_an_io_error),
        cmocka_unit_test(test_a_directory_without_policy_yaml_is_an_io_error),
        cmocka_unit_test(test_the_error_may_be_null),
        cmocka_unit_test(
            test_the_hash_is_blake2b_over_the_sources_as_documented),
        cmocka_unit_test(
            test_the_same_sources_give_the_same_hash_wherever_they_are),
        cmocka_unit_test(test_one_byte_changed_in_a_list_changes_the_hash),
        cmocka_unit_test(test_a_list_file_over_max_list_bytes_is_refused),
        cmocka_unit_test(test_more_terms_than_max_terms_are_refused),
        cmocka_unit_test(test_more_rules_than_max_rules_are_refused),
        cmocka_unit_test(test_options_of_an_unknown_version_are_refused),
        cmocka_unit_test(test_the_65k_sensitive_word_list_loads_every_line),
        cmocka_unit_test(
            test_a_yaml_syntax_error_gives_libyamls_problem_and_line),
        cmocka_unit_test(
            test_an_unknown_top_level_key_is_named_with_a_suggestion),
        cmocka_unit_test(test_an_unknown_rule_key_is_named_with_the_rule),
        cmocka_unit_test(test_a_key_given_twice_in_a_mapping_is_refused),
        cmocka_unit_test(test_a_value_of_the_wrong_type_is_refused),
        cmocka_unit_test(test_a_missing_required_key_is_named),
        cmocka_unit_test(test_a_duplicate_rule_id_names_the_first_ones_line),
        cmocka_unit_test(test_a_duplicate_category_id_is_refused),
        cmocka_unit_test(
            test_an_undeclared_category_needs_the_rules_own_action),
        cmocka_unit_test(
            test_a_missing_list_file_is_an_io_error_naming_its_path),
        cmocka_unit_test(
            test_a_list_path_must_stay_inside_the_policy_directory),
        cmocka_unit_test(test_an_empty_term_is_refused),
        cmocka_unit_test(test_invalid_utf8_is_refused_with_its_line),
        cmocka_unit_test(test_a_nul_byte_is_refused),
        cmocka_unit_test(
            test_unknown_names_are_refused_with_the_allowed_ones),
        cmocka_unit_test(test_a_rule_needs_exactly_one_of_terms_regex_all),
        cmocka_unit_test(test_all_and_within_go_together),
        cmocka_unit_test(test_numbers_and_ids_out_of_range_are_refused),
        cmocka_unit_test(
            test_yaml_aliases_empty_files_and_second_documents_are_refused),
        cmocka_unit_test(
            test_psrc_error_fills_the_error_and_returns_the_code),
        cmocka_unit_test(
            test_psrc_error_truncates_at_a_character_and_stays_one_line),
        cmocka_unit_test(test_psrc_free_accepts_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
