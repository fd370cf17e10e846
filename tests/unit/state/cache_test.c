/*
 * cache_test.c - verdict cache entries (state/cache.c) without Redis: an
 * entry rebuilt for its text is the verdict it was made from, field by
 * field, for every input of the baseline policy's own test cases and
 * more; entries never hold the text; malformed or mismatched entries are
 * misses, never verdicts; verdicts that cannot be rebuilt exactly are not
 * cached.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "filter/check.h"
#include "filter/verdict.h"
#include "rules/policy.h"
#include "state/cache.h"
#include "testutil.h"

typedef struct fx {
    sluice_policy *p;
    cache_terms terms;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    sluice_error err;
    if (f == NULL)
        return -1;
    if (sluice_policy_load(&f->p, "policies/baseline", NULL, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    if (cache_terms_init(&f->terms) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    cache_terms_free(&f->terms);
    sluice_policy_unref(f->p);
    free(f);
    return 0;
}

/* A fresh verdict (before labels and ledger: what the cache sees). */
static sluice_verdict *fresh(sluice_policy *p, const char *text, size_t len)
{
    policy_scratch *s = policy_scratch_get(p);
    sluice_verdict *v = NULL;
    assert_non_null(s);
    assert_int_equal(check_run(p, s, text, len, 10000, &v), 0);
    policy_scratch_put(p, s);
    return v;
}

static void assert_same(const sluice_verdict *a, const sluice_verdict *b)
{
    size_t la, lb;
    const char *oa = sluice_verdict_output(a, &la);
    const char *ob = sluice_verdict_output(b, &lb);
    assert_int_equal(sluice_verdict_action(a), sluice_verdict_action(b));
    assert_int_equal(la, lb);
    assert_memory_equal(oa, ob, la);
    assert_int_equal(sluice_verdict_rule_count(a),
        sluice_verdict_rule_count(b));
    for (size_t i = 0; i < sluice_verdict_rule_count(a); i++)
        assert_ptr_equal(sluice_verdict_rule(a, i), sluice_verdict_rule(b, i));
    assert_int_equal(sluice_verdict_category_count(a),
        sluice_verdict_category_count(b));
    for (size_t i = 0; i < sluice_verdict_category_count(a); i++)
        assert_ptr_equal(sluice_verdict_category(a, i),
            sluice_verdict_category(b, i));
    assert_int_equal(sluice_verdict_span_count(a), sluice_verdict_span_count(b));
    for (size_t i = 0; i < sluice_verdict_span_count(a); i++) {
        sluice_span x, y;
        assert_int_equal(sluice_verdict_span(a, i, &x), 0);
        assert_int_equal(sluice_verdict_span(b, i, &y), 0);
        assert_int_equal(x.start, y.start);
        assert_int_equal(x.end, y.end);
        assert_ptr_equal(x.rule, y.rule);
        assert_int_equal(x.action, y.action);
        assert_ptr_equal(x.term, y.term);
    }
    assert_int_equal(sluice_verdict_invalid_utf8(a),
        sluice_verdict_invalid_utf8(b));
    char *ja = NULL, *jb = NULL;
    size_t na, nb;
    assert_int_equal(sluice_verdict_json(a, &ja, &na), 0);
    assert_int_equal(sluice_verdict_json(b, &jb, &nb), 0);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
}

/* Encode, check the entry holds no text, rebuild, compare. Returns 1 when
   the verdict was cacheable. */
static int round_trip(fx *f, const char *text, size_t len)
{
    sluice_verdict *v = fresh(f->p, text, len), *back = NULL;
    unsigned char *e = NULL;
    size_t elen = 0;
    int rc = cache_encode(&f->terms, f->p, v, text, len, &e, &elen);
    assert_true(rc == 0 || rc == 1);
    if (rc == 0) {
        /* no run of 4+ bytes of the text appears in the entry */
        for (size_t i = 0; len >= 4 && i + 4 <= len; i++)
            for (size_t j = 0; j + 4 <= elen; j++)
                if (memcmp(e + j, text + i, 4) == 0 &&
                    (unsigned char)text[i] >= 0x80)
                    fail_msg("entry holds text bytes at %zu", j);
        assert_int_equal(cache_decode(f->p, e, elen, text, len, 10000,
            &back), 0);
        assert_same(v, back);
        sluice_verdict_free(back);
    }
    free(e);
    sluice_verdict_free(v);
    return rc == 0;
}

/* Undo the YAML double-quoted escapes the test files use. */
static size_t unescape(const char *s, char *out)
{
    size_t n = 0;
    for (; *s && *s != '"'; s++) {
        if (*s != '\\') {
            out[n++] = *s;
            continue;
        }
        s++;
        switch (*s) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case 'u': {
            unsigned cp = (unsigned)strtoul((char[]){ s[1], s[2], s[3], s[4],
                0 }, NULL, 16);
            s += 4;
            if (cp < 0x80) {
                out[n++] = (char)cp;
            } else if (cp < 0x800) {
                out[n++] = (char)(0xC0 | cp >> 6);
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[n++] = (char)(0xE0 | cp >> 12);
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: out[n++] = *s; break;
        }
        if (*s == '\0')
            break;
    }
    out[n] = '\0';
    return n;
}

static void entries_rebuild_every_baseline_test_input(void **state)
{
    fx *f = *state;
    DIR *d = opendir("policies/baseline/tests");
    struct dirent *de;
    size_t inputs = 0, cached = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[512], line[8192], text[8192];
        FILE *fp;
        if (strstr(de->d_name, ".yaml") == NULL)
            continue;
        snprintf(path, sizeof path, "policies/baseline/tests/%s", de->d_name);
        fp = fopen(path, "r");
        assert_non_null(fp);
        while (fgets(line, sizeof line, fp) != NULL) {
            char *q = strstr(line, "input: \"");
            if (q == NULL)
                continue;
            size_t n = unescape(q + 8, text);
            inputs++;
            cached += (size_t)round_trip(f, text, n);
        }
        fclose(fp);
    }
    closedir(d);
    assert_true(inputs >= 50);
    /* a few may be uncacheable (a forced verdict), most are not */
    assert_true(cached * 10 >= inputs * 9);
}

static void entries_rebuild_mixed_texts(void **state)
{
    fx *f = *state;
    static const char *const texts[] = {
        "",
        "hello world",
        "call me at 13812345678 or 13912345678",
        "你这个傻逼，我的手机号是13812345678",
        "以下是炸药的配方：第一步……",
        "my id 11010519491231002X and card 6222020200112233445",
        "bad \xff\xfe bytes and 13812345678",
        "mixed 傻逼 and English shit words SHIT s.h.i.t",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        assert_true(round_trip(f, texts[i], strlen(texts[i])));
}

static void a_verdict_with_many_spans_is_cached_up_to_the_limit(void **state)
{
    fx *f = *state;
    size_t n = 300, len = 0;
    char *t = malloc(n * 16 + 1);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(t + len, n * 16 + 1 - len, "13812345%03zu ; ",
            i);
    assert_true(round_trip(f, t, len));
    free(t);
}

static void malformed_entries_are_misses(void **state)
{
    fx *f = *state;
    const char *text = "call me at 13812345678";
    size_t len = strlen(text), elen = 0;
    sluice_verdict *v = fresh(f->p, text, len), *back = NULL;
    unsigned char *e = NULL;
    assert_int_equal(cache_encode(&f->terms, f->p, v, text, len, &e, &elen),
        0);
    /* another text length */
    assert_int_equal(cache_decode(f->p, e, elen, text, len - 1, 100, &back),
        1);
    /* truncated */
    assert_int_equal(cache_decode(f->p, e, elen - 1, text, len, 100, &back),
        1);
    /* another version */
    e[0] = 9;
    assert_int_equal(cache_decode(f->p, e, elen, text, len, 100, &back), 1);
    e[0] = 1;
    /* an action the spans do not give */
    e[1] = SLUICE_BLOCK;
    assert_int_equal(cache_decode(f->p, e, elen, text, len, 100, &back), 1);
    e[1] = (unsigned char)sluice_verdict_action(v);
    /* a rule index out of range */
    unsigned char save = e[16 + 8];
    e[16 + 8] = 0xff;
    e[16 + 9] = 0xff;
    assert_int_equal(cache_decode(f->p, e, elen, text, len, 100, &back), 1);
    e[16 + 8] = save;
    e[16 + 9] = 0;
    /* a span past the end of the text */
    e[16 + 4] = 0xff;
    assert_int_equal(cache_decode(f->p, e, elen, text, len, 100, &back), 1);
    assert_null(back);
    free(e);
    sluice_verdict_free(v);
}

static void more_spans_than_max_spans_is_a_miss(void **state)
{
    fx *f = *state;
    const char *text = "13812345678 13912345678 13712345678";
    size_t len = strlen(text), elen = 0;
    sluice_verdict *v = fresh(f->p, text, len), *back = NULL;
    unsigned char *e = NULL;
    assert_int_equal(sluice_verdict_span_count(v), 3);
    assert_int_equal(cache_encode(&f->terms, f->p, v, text, len, &e, &elen),
        0);
    assert_int_equal(cache_decode(f->p, e, elen, text, len, 2, &back), 1);
    assert_int_equal(cache_decode(f->p, e, elen, text, len, 3, &back), 0);
    sluice_verdict_free(back);
    free(e);
    sluice_verdict_free(v);
}

static void forced_and_truncated_verdicts_are_not_cached(void **state)
{
    fx *f = *state;
    const char *text = "13812345678 13912345678";
    size_t len = strlen(text), elen = 0;
    unsigned char *e = NULL;
    policy_scratch *s = policy_scratch_get(f->p);
    sluice_verdict *v = NULL;
    assert_int_equal(check_run(f->p, s, text, len, 1, &v), 0);
    policy_scratch_put(f->p, s);
    assert_true(sluice_verdict_spans_truncated(v));
    assert_int_equal(cache_encode(&f->terms, f->p, v, text, len, &e, &elen),
        1);
    sluice_verdict_free(v);
    v = fresh(f->p, text, len);
    v->reason = "regex_limit";
    assert_int_equal(cache_encode(&f->terms, f->p, v, text, len, &e, &elen),
        1);
    assert_null(e);
    sluice_verdict_free(v);
}

static void terms_of_big_rules_are_found_through_the_index(void **state)
{
    fx *f = *state;
    /* the profanity lists hold well over 64 terms each */
    const char *text = "你这个傻逼 fuck you";
    assert_true(round_trip(f, text, strlen(text)));
    assert_non_null(f->terms.policy);     /* the index was built */
    assert_true(f->terms.n > 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entries_rebuild_every_baseline_test_input),
        cmocka_unit_test(entries_rebuild_mixed_texts),
        cmocka_unit_test(a_verdict_with_many_spans_is_cached_up_to_the_limit),
        cmocka_unit_test(malformed_entries_are_misses),
        cmocka_unit_test(more_spans_than_max_spans_is_a_miss),
        cmocka_unit_test(forced_and_truncated_verdicts_are_not_cached),
        cmocka_unit_test(terms_of_big_rules_are_found_through_the_index),
    };
    return cmocka_run_group_tests_name("state/cache", tests, setup, teardown);
}
