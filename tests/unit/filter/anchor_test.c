/*
 * anchor_test.c - unit tests for filter/anchor.c: on random term sets and
 * texts over a small alphabet (Chinese characters, ASCII letters and
 * digits, a two- and a four-byte character), the matcher reports exactly
 * the occurrences a byte-by-byte search finds, for every anchored term,
 * overlapping ones included; the terms it does not anchor are those with
 * no two three-byte characters in a row and no ASCII byte beside one;
 * scans that start inside a character, stop early, or end a few bytes
 * into a key behave. Each text sits at the end of a heap buffer of its
 * own length, so ASan sees any read past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "filter/anchor.h"
#include "sluice.h"
#include "testutil.h"

static const char *const alphabet[] = {
    "中", "国", "法", "轮", "功", "大", "a", "1", "b", "\xc3\xa9",
    "\xf0\xa8\xb3\x92",
};
#define NALPHA (sizeof alphabet / sizeof alphabet[0])

typedef struct hit {
    uint32_t id;
    size_t end;
} hit;

typedef struct hits {
    hit *h;
    size_t n, cap;
    size_t stop_at;     /* stop when n reaches it (0: never) */
} hits;

static int on_hit(uint32_t id, size_t end, void *ctx)
{
    hits *v = ctx;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->h = realloc(v->h, v->cap * sizeof *v->h);
        assert_non_null(v->h);
    }
    v->h[v->n].id = id;
    v->h[v->n++].end = end;
    return v->stop_at != 0 && v->n == v->stop_at;
}

static int cmp_hit(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* n random characters of the alphabet (weights favour Chinese) into buf;
   returns the bytes written. */
static size_t random_text(uint64_t *seed, char *buf, size_t chars)
{
    size_t len = 0;
    for (size_t i = 0; i < chars; i++) {
        unsigned k = (unsigned)(test_rand(seed) % 20);
        const char *c = alphabet[k < 12 ? k % 6 : k < 18 ? 6 + k % 3 :
            9 + k % 2];
        memcpy(buf + len, c, strlen(c));
        len += strlen(c);
    }
    return len;
}

/* Does the term have an anchor: two three-byte sequences in a row, or an
   ASCII byte next to one? */
static int has_key(const unsigned char *t, size_t len)
{
    for (size_t j = 0; j < len;) {
        size_t l = t[j] < 0x80 ? 1 : t[j] < 0xE0 ? 2 : t[j] < 0xF0 ? 3 : 4;
        if (l == 3 && j + 3 < len) {
            unsigned c = t[j + 3];
            if ((c & 0xF0) == 0xE0 || c < 0x80)
                return 1;
        }
        if (l == 1 && j + 1 < len && (t[j + 1] & 0xF0) == 0xE0)
            return 1;
        j += l;
    }
    return 0;
}

typedef struct termset {
    unsigned char *bytes;
    uint32_t *off, *len;
    size_t n;
} termset;

static void random_terms(uint64_t *seed, termset *ts, size_t n)
{
    ts->bytes = malloc(n * 5 * 4 + 1);
    ts->off = malloc(n * sizeof *ts->off);
    ts->len = malloc(n * sizeof *ts->len);
    assert_true(ts->bytes && ts->off && ts->len);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t chars = 1 + (size_t)(test_rand(seed) % 5);
        ts->off[i] = (uint32_t)at;
        ts->len[i] = (uint32_t)random_text(seed, (char *)ts->bytes + at,
            chars);
        at += ts->len[i];
    }
    ts->n = n;
}

static void termset_free(termset *ts)
{
    free(ts->bytes);
    free(ts->off);
    free(ts->len);
}

/* Build, check the split, and compare scans of random texts with a
   byte-by-byte search. Returns the hits compared. */
static size_t one_set(uint64_t *seed, size_t nterms, int texts)
{
    termset ts;
    anchor_set *a = NULL;
    uint32_t *rest = malloc(nterms * sizeof *rest);
    unsigned char *anchored = calloc(nterms, 1);
    size_t nrest = 0, compared = 0;
    assert_true(rest && anchored);
    random_terms(seed, &ts, nterms);
    assert_int_equal(anchor_build(ts.bytes, ts.off, ts.len, ts.n, &a, rest,
        &nrest), 0);
    for (size_t i = 0; i < ts.n; i++)
        anchored[i] = 1;
    for (size_t k = 0; k < nrest; k++) {
        assert_true(rest[k] < ts.n && anchored[rest[k]]);
        anchored[rest[k]] = 0;
    }
    assert_int_equal(anchor_count(a), ts.n - nrest);
    for (size_t i = 0; i < ts.n; i++)
        if (anchored[i] != has_key(ts.bytes + ts.off[i], ts.len[i]))
            fail_msg("term %zu (%.*s): anchored %d", i, (int)ts.len[i],
                ts.bytes + ts.off[i], anchored[i]);
    if (a == NULL)
        assert_int_equal(nrest, ts.n);

    char tmp[1024];
    for (int t = 0; t < texts; t++) {
        size_t len = random_text(seed, tmp, (size_t)(test_rand(seed) % 120));
        /* sometimes start inside a character, as a session's rescan may */
        size_t from = len > 0 && test_rand(seed) % 4 == 0 ?
            (size_t)(test_rand(seed) % len) : 0;
        size_t n = len - from;
        unsigned char *text = malloc(n ? n : 1);
        hits got = { NULL, 0, 0, 0 }, want = { NULL, 0, 0, 0 };
        assert_non_null(text);
        memcpy(text, tmp + from, n);
        assert_int_equal(anchor_scan(a, text, n, on_hit, &got), 0);
        for (size_t i = 0; i < ts.n; i++) {
            size_t l = ts.len[i];
            if (!anchored[i])
                continue;
            for (size_t p = 0; p + l <= n; p++)
                if (memcmp(text + p, ts.bytes + ts.off[i], l) == 0)
                    (void)on_hit((uint32_t)i, p + l, &want);
        }
        if (got.n > 1)
            qsort(got.h, got.n, sizeof *got.h, cmp_hit);
        if (want.n > 1)
            qsort(want.h, want.n, sizeof *want.h, cmp_hit);
        if (got.n != want.n)
            fail_msg("%zu terms, text of %zu bytes: %zu hits, want %zu",
                ts.n, n, got.n, want.n);
        for (size_t k = 0; k < got.n; k++)
            if (got.h[k].id != want.h[k].id || got.h[k].end != want.h[k].end)
                fail_msg("hit %zu: term %u ending at %zu, want term %u at %zu",
                    k, got.h[k].id, got.h[k].end, want.h[k].id,
                    want.h[k].end);
        /* a callback that stops: exactly that many calls, and 1 back */
        if (want.n > 1) {
            hits part = { NULL, 0, 0, 1 + (size_t)(test_rand(seed) %
                (want.n - 1)) };
            assert_int_equal(anchor_scan(a, text, n, on_hit, &part), 1);
            assert_int_equal(part.n, part.stop_at);
            free(part.h);
        }
        compared += want.n;
        free(got.h);
        free(want.h);
        free(text);
    }
    anchor_free(a);
    termset_free(&ts);
    free(rest);
    free(anchored);
    return compared;
}

static void small_sets_agree_with_a_search(void **state)
{
    uint64_t seed = 11;
    size_t total = 0;
    (void)state;
    for (int s = 0; s < 3000; s++)
        total += one_set(&seed, 1 + (size_t)(test_rand(&seed) % 12), 20);
    print_message("%zu hits compared\n", total);
    assert_true(total > 10000);
}

/* Many terms over few characters: keys shared by many terms, long slot
   chains, dense bit sets. */
static void large_sets_agree_with_a_search(void **state)
{
    uint64_t seed = 12;
    size_t total = 0;
    (void)state;
    for (int s = 0; s < 6; s++)
        total += one_set(&seed, 500 + (size_t)(test_rand(&seed) % 3000), 200);
    print_message("%zu hits compared\n", total);
    assert_true(total > 10000);
}

static int count_hit(uint32_t id, size_t end, void *ctx)
{
    (void)id;
    (void)end;
    ++*(size_t *)ctx;
    return 0;
}

/* Fixed cases: every key kind, at the very start and end of a text. */
static void keys_at_the_edges(void **state)
{
    static const char *const terms[] = {
        "法轮功",       /* eight bytes */
        "大法",         /* six */
        "08宪",         /* ASCII, then a sequence */
        "宪a",          /* a sequence, then ASCII */
        "宪",           /* none: Hyperscan's */
        "abc",          /* none */
    };
    static const struct { const char *text; size_t want; } cases[] = {
        { "法轮功", 1 }, { "大法轮功", 2 }, { "x大法", 1 }, { "08宪", 1 },
        { "8宪", 0 }, { "宪a", 1 }, { "宪ab宪a", 2 }, { "108宪a", 2 },
        { "法轮", 0 }, { "", 0 }, { "大", 0 }, { "大法大法大法", 3 },
        { "abc", 0 },
    };
    unsigned char bytes[64];
    uint32_t off[6], len[6], rest[6];
    size_t at = 0, nrest = 0;
    anchor_set *a = NULL;
    (void)state;
    for (size_t i = 0; i < 6; i++) {
        off[i] = (uint32_t)at;
        len[i] = (uint32_t)strlen(terms[i]);
        memcpy(bytes + at, terms[i], len[i]);
        at += len[i];
    }
    assert_int_equal(anchor_build(bytes, off, len, 6, &a, rest, &nrest), 0);
    assert_int_equal(nrest, 2);
    assert_int_equal(rest[0], 4);
    assert_int_equal(rest[1], 5);
    assert_true(anchor_bytes(a) > 0);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = strlen(cases[c].text), got = 0;
        unsigned char *t = malloc(n ? n : 1);
        assert_non_null(t);
        memcpy(t, cases[c].text, n);
        assert_int_equal(anchor_scan(a, t, n, count_hit, &got), 0);
        if (got != cases[c].want)
            fail_msg("\"%s\": %zu hits, want %zu", cases[c].text, got,
                cases[c].want);
        free(t);
    }
    /* every alignment against the scan's 16-byte blocks: a long run of
       ASCII (skipped a block at a time), then a key, then more ASCII */
    for (size_t pre = 0; pre < 48; pre++)
        for (size_t post = 0; post < 40; post += 13) {
            static const struct { const char *mid; size_t want; } mids[] = {
                { "8宪", 1 },        /* "08宪" once the ASCII is '0' */
                { "宪a", 1 }, { "法轮功", 1 }, { "大法", 1 },
            };
            for (size_t m = 0; m < sizeof mids / sizeof mids[0]; m++) {
                size_t ml = strlen(mids[m].mid), n = pre + ml + post;
                size_t got = 0;
                unsigned char *t = malloc(n + 1);
                assert_non_null(t);
                memset(t, m == 0 ? '0' : 'x', pre);
                memcpy(t + pre, mids[m].mid, ml);
                memset(t + pre + ml, 'b', post);
                assert_int_equal(anchor_scan(a, t, n, count_hit, &got), 0);
                /* "8宪" needs the '0' before it */
                size_t want = m == 0 && pre == 0 ? 0 : mids[m].want;
                if (got != want)
                    fail_msg("%zu ASCII bytes, \"%s\", %zu after: %zu hits, "
                        "want %zu", pre, mids[m].mid, post, got, want);
                free(t);
            }
        }
    anchor_free(a);
    /* no term with an anchor: no set, every id in rest */
    assert_int_equal(anchor_build(bytes, off + 4, len + 4, 2, &a, rest,
        &nrest), 0);
    assert_null(a);
    assert_int_equal(nrest, 2);
    assert_int_equal(anchor_scan(NULL, bytes, 3, count_hit, &at), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_at_the_edges),
        cmocka_unit_test(small_sets_agree_with_a_search),
        cmocka_unit_test(large_sets_agree_with_a_search),
    };
    return cmocka_run_group_tests_name("filter/anchor", tests, NULL, NULL);
}
