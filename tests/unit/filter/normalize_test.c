/*
 * normalize_test.c - unit tests for filter/normalize.c.
 *
 * What is checked:
 *   - every evasion class of shared/data/peer-evasion-notes.md, section D,
 *     both ways: the evasive form folds to the plain one, and the plain
 *     form (and text the step must not touch) stays as it is;
 *   - gaps, runs and offsets, including their edge cases (saturation,
 *     NORM_GAP_START, expansions, invalid UTF-8);
 *   - a naive model: texts normalized code point by code point, with gaps
 *     and runs assembled by the test, must equal the normalizer's output,
 *     fed whole and fed in random chunks, for every flag combination;
 *   - the tables against ICU's own functions, code point by code point
 *     (NFKC_Casefold, the Traditional-Simplified transliterator, uspoof
 *     skeletons, general categories, Default_Ignorable_Code_Point).
 *   Tests that read shared/data find it through SLUICE_DATA and skip when
 *   it is absent. SLUICE_NORM_BENCH=1 adds a throughput report (asserts
 *   nothing about time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#include <unicode/utrans.h>

#include "filter/normalize.h"
#include "filter/utf8.h"
#include "testutil.h"

#define D NORM_DEFAULT
#define G_START NORM_GAP_START
#define G_SPACE NORM_GAP_SPACE
#define G_BREAK NORM_GAP_BREAK

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static const norm_tables *tabs(void **state)
{
    return *state;
}

/* Normalize s (len bytes) whole into a fresh *o. */
static void norm_len(void **state, unsigned flags, const char *s, size_t len,
    norm_out *o)
{
    norm_out_init(o);
    assert_int_equal(norm_text(tabs(state), flags, s, len, o), 0);
}

static void norm(void **state, unsigned flags, const char *s, norm_out *o)
{
    norm_len(state, flags, s, strlen(s), o);
}

static int text_is(const norm_out *o, const char *want)
{
    return o->len == strlen(want) && memcmp(o->text, want, o->len) == 0;
}

/* in folds to want under flags. */
static void expect_text(void **state, unsigned flags, const char *in,
    const char *want)
{
    norm_out o;
    norm(state, flags, in, &o);
    if (!text_is(&o, want))
        fail_msg("flags %#x: \"%s\" -> \"%.*s\", want \"%s\"", flags, in,
            (int)o.len, (const char *)o.text, want);
    norm_out_free(&o);
}

/* Offsets of the output code points' first bytes in o (at most max). */
static size_t cp_starts(const norm_out *o, size_t *at, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < o->len && n < max; i++)
        if ((o->text[i] & 0xC0) != 0x80)
            at[n++] = i;
    return n;
}

/* in folds to want, with these gap bytes at its n code points. */
static void expect_gaps(void **state, unsigned flags, const char *in,
    const char *want, const unsigned *gaps, size_t n)
{
    norm_out o;
    size_t at[64], k;
    norm(state, flags, in, &o);
    if (!text_is(&o, want))
        fail_msg("\"%s\" -> \"%.*s\", want \"%s\"", in, (int)o.len,
            (const char *)o.text, want);
    assert_int_equal(cp_starts(&o, at, 64), n);
    for (k = 0; k < n; k++)
        if (o.gap[at[k]] != gaps[k])
            fail_msg("\"%s\": code point %zu has gap %#x, want %#x", in, k,
                o.gap[at[k]], gaps[k]);
    for (k = 0; k < o.len; k++)
        if ((o.text[k] & 0xC0) == 0x80)
            assert_int_equal(o.gap[k], 0);
    norm_out_free(&o);
}

/* in folds to want, with these runs at its n code points. */
static void expect_runs(void **state, unsigned flags, const char *in,
    const char *want, const unsigned *runs, size_t n)
{
    norm_out o;
    size_t at[64];
    norm(state, flags, in, &o);
    if (!text_is(&o, want))
        fail_msg("\"%s\" -> \"%.*s\", want \"%s\"", in, (int)o.len,
            (const char *)o.text, want);
    assert_int_equal(cp_starts(&o, at, 64), n);
    for (size_t k = 0; k < n; k++)
        if (o.run[at[k]] != runs[k])
            fail_msg("\"%s\": code point %zu has run %u, want %u", in, k,
                o.run[at[k]], runs[k]);
    norm_out_free(&o);
}

/* Output byte i of o came from original bytes [s, e). */
static void expect_src(const norm_out *o, size_t i, uint32_t s, uint32_t e)
{
    assert_true(i < o->len);
    if (o->src[i] != s || o->src_end[i] != e)
        fail_msg("output byte %zu maps to [%u, %u), want [%u, %u)", i,
            o->src[i], o->src_end[i], s, e);
}

/* UTF-8 of one code point into b (NUL-terminated); returns its length. */
static size_t cp_utf8(uint32_t cp, char b[5])
{
    size_t n = 0;
    U8_APPEND_UNSAFE((uint8_t *)b, n, (UChar32)cp);
    b[n] = '\0';
    return n;
}

/* UTF-16 s[0..n) as UTF-8 into b (cap bytes); returns the length. */
static size_t u16_to_utf8(const UChar *s, int32_t n, char *b, size_t cap)
{
    UErrorCode uc = U_ZERO_ERROR;
    int32_t len = 0;
    u_strToUTF8(b, (int32_t)cap, &len, s, n, &uc);
    assert_true(U_SUCCESS(uc));
    return (size_t)len;
}

/* Normalize one code point under flags; result in b (NUL-terminated). */
static size_t fold1(void **state, unsigned flags, uint32_t cp, char *b,
    size_t cap)
{
    char in[5];
    norm_out o;
    size_t n = cp_utf8(cp, in);
    norm_len(state, flags, in, n, &o);
    assert_true(o.len < cap);
    memcpy(b, o.text, o.len);
    b[o.len] = '\0';
    n = o.len;
    norm_out_free(&o);
    return n;
}

static int is_surrogate(uint32_t cp)
{
    return cp >= 0xD800 && cp <= 0xDFFF;
}

/* Every BMP and plane-1 code point, and every 13th one above. */
static int next_cp(uint32_t *cp)
{
    *cp += *cp < 0x20000 ? 1 : 13;
    while (is_surrogate(*cp))
        (*cp)++;
    return *cp < 0x110000;
}

/* Deterministic generator for the random tests (xorshift64*). */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static size_t rnd_below(uint64_t *s, size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd(s) % n);
}

/* ------------------------------------------------------------------------
 * Fixtures
 * ---------------------------------------------------------------------- */

static int setup(void **state)
{
    norm_tables *t = NULL;
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (norm_tables_new(&t, &err) != 0) {
        fprintf(stderr, "norm_tables_new: %s\n", err.message);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    norm_tables_free(*state);
    return 0;
}

/* ------------------------------------------------------------------------
 * Evasion classes (peer-evasion-notes.md, section D), both ways
 * ---------------------------------------------------------------------- */

static void full_width_letters_fold_to_ascii_and_ascii_stays(void **state)
{
    expect_text(state, D, "ｆｕｃｋ", "fuck");
    expect_text(state, D, "ＦＵＣＫ", "fuck");
    expect_text(state, D, "ｆuｃk", "fuck");
    expect_text(state, D, "１２３", "123");
    expect_text(state, D, "fuck", "fuck");
    expect_text(state, D, "FuCk", "fuck");
    expect_text(state, NORM_IGNORABLE, "ｆｕｃｋ", "ｆｕｃｋ");
}

static void circled_and_styled_letters_and_digits_fold_to_ascii(
    void **state)
{
    expect_text(state, D, "Ⓕⓤc⒦", "fuck");
    expect_text(state, D, "𝐟𝐮𝐜𝐤", "fuck");
    expect_text(state, D, "𝓯𝓾𝓬𝓴 𝕗𝕦𝕔𝕜", "fuckfuck");
    expect_text(state, D, "⓵", "1");
    expect_text(state, D, "⑶", "3");
    expect_text(state, D, "➌", "3");
    expect_text(state, D, "⓿⁹₈③⑸⒋➃", "0983544");
    expect_text(state, D, "❿⓫", "1011");
    expect_text(state, D, "㈤㊄", "五五");
    expect_text(state, D, "fuck 135", "fuck135");
    /* Without confusables, ⓵ and ➌ (no NFKC mapping) stay. */
    expect_text(state, NORM_NFKC_CASEFOLD, "⓵➌③", "⓵➌3");
}

static void traditional_chinese_folds_to_simplified(void **state)
{
    expect_text(state, D, "五星紅旗", "五星红旗");
    expect_text(state, D, "們", "们");
    expect_text(state, D, "我愛我的祖國和五星紅旗。",
        "我爱我的祖国和五星红旗");
    expect_text(state, D, "五星红旗", "五星红旗");
    expect_text(state, D, "们", "们");
    expect_text(state, NORM_NFKC_CASEFOLD, "五星紅旗", "五星紅旗");
    expect_text(state, NORM_TRAD_SIMP, "五星紅旗", "五星红旗");
}

static void confusables_fold_to_ascii_but_ascii_and_cjk_stay(void **state)
{
    expect_text(state, D, "а е о с р", "aeocp");     /* Cyrillic */
    expect_text(state, D, "α ο", "ao");              /* Greek */
    expect_text(state, D, "АЕОСР", "aeocp");
    expect_text(state, D, "ä á ǎ", "aaa");
    expect_text(state, D, "fսсk", "fuck");           /* Armenian, Cyrillic */
    /* obscenity's README example: ICU has no skeleton for ʃ and ƈ, so
     * only "you" and "bitch" come out as plain ASCII. */
    expect_text(state, D, "ʃ𝐟ʃὗƈｋ ỹоứ 𝔟ⁱẗ𝙘ɦ", "ʃfʃuƈkyoubitch");
    expect_text(state, D, "the quick brown fox 0123456789",
        "thequickbrownfox0123456789");
    expect_text(state, NORM_CONFUSABLES, "Il1O0 rn", "Il1O0 rn");
    expect_text(state, D, "中文测试傻逼毛主席", "中文测试傻逼毛主席");
    expect_text(state, NORM_NFKC_CASEFOLD, "аеос", "аеос");
}

/* Case folding would lose them: в н т κ σ have no ASCII skeleton (or,
 * for σ, the wrong one), so the original's own skeleton is used. */
static void upper_case_look_alikes_fold_by_their_own_skeleton(void **state)
{
    expect_text(state, D, "\u0412ULL\u0405\u041D\u0406\u0422", "bullshit");
    expect_text(state, D, "\u0392ULL\u0405H\u0406\u0422", "bullshit");
    expect_text(state, D, "BULL\u0405\u0397\u0406\u03A4", "bullshit");
    expect_text(state, D, "\u039A\u039D\u039C", "knm");    /* Κ Ν Μ */
    expect_text(state, D, "fu\u03F2k", "fuck");            /* lunate sigma */
    expect_text(state, NORM_NFKC_CASEFOLD | NORM_CONFUSABLES, "\u0422",
        "t");
    /* ... but not where the fold is the better reading: an ASCII letter
     * in another form (Ｉ Ⅰ: the skeleton would say l), an accented
     * capital I, a Chinese numeral, a symbol; nor without case folding */
    expect_text(state, D, "ＳＨＩＴ \u2160 \u00CC \u0399", "shitiii");
    expect_text(state, D, "\u3224\u3192", "五一");
    expect_text(state, D, "\u02DB", "");
    expect_text(state, NORM_NFKC_CASEFOLD, "\u0412", "\u0432");
    expect_text(state, D, "\u0432\u043D", "\u0432\u043D"); /* в н stay */
}

static void zero_width_and_bidi_controls_vanish_without_a_gap(void **state)
{
    static const char *const in[] = {
        "a\xE2\x80\x8B" "b", "a\xE2\x80\x8C" "b", "a\xE2\x80\x8D" "b",
        "a\xE2\x81\xA0" "b", "a\xEF\xBB\xBF" "b", "a\xE2\x80\xAE" "b",
        "a\xEF\xB8\x8F" "b", "a\xC2\xAD" "b", "a\xF3\xA0\x84\x80" "b",
        "a\xE2\x80\x8B\xE2\x80\x8D\xEF\xB8\x8F" "b",
    };
    static const unsigned gaps[] = { G_START, 0 };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        expect_gaps(state, D, in[i], "ab", gaps, 2);
    expect_text(state, D, "a\xE2\x80\x8Dsshole", "asshole");
    expect_text(state, D, "\xE2\xAC\x86\xEF\xB8\x8F", "");    /* ⬆️: noise */
    expect_text(state, NORM_IGNORABLE, "a\xE2\x80\x8B" "b", "ab");
    expect_text(state, NORM_SKIP_NOISE, "a\xE2\x80\x8B" "b",
        "a\xE2\x80\x8B" "b");
}

static void inserted_symbols_and_spaces_are_skipped_with_gaps(void **state)
{
    static const unsigned dots[] = { G_START, 1, 1, 1 };
    static const unsigned at[] = { G_START, 1 };
    static const unsigned dashes[] = { G_START, 3, 3 };
    static const unsigned comma[] = { G_START, G_BREAK | 1 };
    static const unsigned spaces[] = { G_START, G_SPACE | 1, G_SPACE | 1,
        G_SPACE | 1 };
    static const unsigned line[] = { G_START, G_SPACE | G_BREAK | 2 };
    static const unsigned plain[] = { G_START, 0, 0, 0, 0, 0, 0 };
    expect_gaps(state, D, "f.u.c.k", "fuck", dots, 4);
    expect_gaps(state, D, "傻@逼", "傻逼", at, 2);
    expect_gaps(state, D, "毛---主---席", "毛主席", dashes, 3);
    expect_gaps(state, D, "傻，逼", "傻逼", comma, 2);
    expect_gaps(state, D, "傻。逼", "傻逼", comma, 2);
    expect_gaps(state, D, "傻「逼", "傻逼", comma, 2);     /* brackets */
    expect_gaps(state, D, "傻”逼", "傻逼", comma, 2);      /* quotes */
    expect_gaps(state, D, "傻？逼", "傻逼", comma, 2);
    expect_gaps(state, D, "傻\uFE51逼", "傻逼", comma, 2); /* small 、 */
    /* Full-width forms of ASCII symbols and middle dots are not breaks:
     * they join letters as their ASCII forms do. */
    expect_gaps(state, D, "ｆ．ｕ．ｃ．ｋ", "fuck", dots, 4);
    expect_gaps(state, D, "王＊八", "王八", at, 2);
    expect_gaps(state, D, "王·八", "王八", at, 2);
    expect_gaps(state, D, "王・八", "王八", at, 2);
    expect_gaps(state, D, "王～八", "王八", at, 2);
    expect_gaps(state, D, "王｜八", "王八", at, 2);
    expect_gaps(state, D, "f u c k", "fuck", spaces, 4);
    expect_gaps(state, D, "a\r\nb", "ab", line, 2);
    /* Without skip_noise, the noise is output and gaps stay 0. */
    expect_gaps(state, D & ~NORM_SKIP_NOISE, "f.u.c.k", "f.u.c.k", plain,
        7);
    expect_text(state, D & ~NORM_SKIP_NOISE, "傻，逼", "傻,逼");
}

static void repeated_characters_collapse_into_runs(void **state)
{
    static const unsigned fuck[] = { 1, 6, 1, 3 };
    static const unsigned helo[] = { 1, 1, 2, 1 };
    static const unsigned hao[] = { 3, 1, 1 };
    static const unsigned split[] = { 2, 2 };
    static const unsigned two[] = { 2 };
    static const unsigned none[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    norm_out o;
    expect_runs(state, D | NORM_REPEAT, "fuuuuuuckkk", "fuck", fuck, 4);
    expect_runs(state, D | NORM_REPEAT, "hello", "helo", helo, 4);
    expect_runs(state, D | NORM_REPEAT, "好好好学习", "好学习", hao, 3);
    /* Noise between two equal letters ends the run. */
    expect_runs(state, D | NORM_REPEAT, "aa.aa", "aa", split, 2);
    /* Ignorables do not: they leave no gap. */
    expect_runs(state, D | NORM_REPEAT, "a\xE2\x80\x8B" "a", "a", two, 1);
    /* Runs are counted after folding: ｆ f Ｆ are one letter. */
    expect_runs(state, D | NORM_REPEAT, "ｆfＦ", "f", hao, 1);
    expect_runs(state, D, "fuuuuuuckkk", "fuuuuuuckkk", none, 11);
    norm(state, D | NORM_REPEAT, "xfuuuuuuck", &o);
    expect_src(&o, 2, 2, 8);
    norm_out_free(&o);
}

static void leetspeak_maps_only_with_the_leet_variant(void **state)
{
    static const unsigned gaps[] = { G_START };
    expect_text(state, D | NORM_LEET, "a$$", "ass");
    expect_text(state, D | NORM_LEET, "sh1t", "shit");
    expect_text(state, D | NORM_LEET, "4@8(3691!|05$7+2",
        "aabceggiiiossttz");
    expect_text(state, D | NORM_LEET, "ＳＨ１Ｔ", "shit");
    expect_gaps(state, D, "a$$", "a", gaps, 1);
    expect_text(state, D, "sh1t", "sh1t");
    expect_text(state, D, "a$$ hole", "ahole");
    expect_text(state, D | NORM_LEET, "a.$.$", "ass");
}

/* ------------------------------------------------------------------------
 * Gaps, runs, offsets: edge cases
 * ---------------------------------------------------------------------- */

static void gap_counts_saturate_at_15(void **state)
{
    static const unsigned gaps[] = { G_START, 15 };
    static const unsigned lead[] = { G_START | G_SPACE | 2, 0 };
    expect_gaps(state, D, "a....................b", "ab", gaps, 2);
    expect_gaps(state, D, " .ab", "ab", lead, 2);
}

static void only_the_first_code_point_carries_the_start_mark(void **state)
{
    static const unsigned gaps[] = { G_START, 0, 0 };
    norm_out o;
    expect_gaps(state, 0, "abc", "abc", gaps, 3);
    expect_gaps(state, D & ~NORM_SKIP_NOISE, ".,a", ".,a", gaps, 3);
    norm(state, D, "...", &o);
    assert_int_equal(o.len, 0);
    norm_out_free(&o);
    norm(state, D, "", &o);
    assert_int_equal(o.len, 0);
    norm_out_free(&o);
}

static void runs_saturate_at_255(void **state)
{
    char in[301];
    norm_out o;
    memset(in, 'a', 300);
    in[300] = '\0';
    norm(state, D | NORM_REPEAT, in, &o);
    assert_int_equal(o.len, 1);
    assert_int_equal(o.run[0], 255);
    expect_src(&o, 0, 0, 300);
    norm_out_free(&o);
}

static void offsets_map_every_output_byte_to_its_original_bytes(
    void **state)
{
    norm_out o;
    norm_state st;

    norm(state, D, "xﬁy", &o);                 /* ligature expansion */
    assert_true(text_is(&o, "xfiy"));
    expect_src(&o, 0, 0, 1);
    expect_src(&o, 1, 1, 4);
    expect_src(&o, 2, 1, 4);
    expect_src(&o, 3, 4, 5);
    norm_out_free(&o);

    norm(state, D, "𝐟.ｕ紅", &o);               /* 4-, 3-byte sources */
    assert_true(text_is(&o, "fu红"));
    expect_src(&o, 0, 0, 4);
    expect_src(&o, 1, 5, 8);
    for (size_t i = 2; i < 5; i++)
        expect_src(&o, i, 8, 11);
    norm_out_free(&o);

    norm(state, D, "\xEF\xB7\xBA", &o);         /* U+FDFA, 18 letters */
    assert_true(o.len > 20);
    for (size_t i = 0; i < o.len; i++)
        expect_src(&o, i, 0, 3);
    norm_out_free(&o);

    norm(state, 0, "a\xE0\x80z", &o);           /* invalid UTF-8 */
    assert_true(text_is(&o, "a\xEF\xBF\xBD\xEF\xBF\xBDz"));
    for (size_t i = 1; i < 4; i++)
        expect_src(&o, i, 1, 2);
    for (size_t i = 4; i < 7; i++)
        expect_src(&o, i, 2, 3);
    expect_src(&o, 7, 3, 4);
    norm_out_free(&o);

    norm_out_init(&o);                          /* a base offset */
    norm_state_init(&st, D, 1000);
    assert_int_equal(norm_feed(tabs(state), &st, "ab", 2, 0, &o), 0);
    assert_int_equal(norm_feed(tabs(state), &st, "ｃ", 3, 1, &o), 0);
    expect_src(&o, 0, 1000, 1001);
    expect_src(&o, 2, 1002, 1005);
    norm_out_free(&o);
}

static void expansions_mixing_noise_keep_only_letters_when_skipping(
    void **state)
{
    expect_text(state, D, "⑴⒜℅¼", "1aco14");
    expect_text(state, NORM_NFKC_CASEFOLD, "⑴⒜", "(1)(a)");
    expect_text(state, D, "‼⁇", "");           /* all noise: skipped */
    expect_text(state, D | NORM_LEET, "⑴", "i");
    expect_text(state, D | NORM_LEET, "‼", "ii");
}

static void combining_marks_are_dropped_with_confusables(void **state)
{
    expect_text(state, D, "z̷̢a̶l̸g̵o", "zalgo");
    expect_text(state, D, "e\xCC\x81" "e\xD2\x89", "ee");
    expect_text(state, D & ~NORM_CONFUSABLES, "e\xCC\xB7", "e\xCC\xB7");
}

static void replacement_characters_count_and_are_noise(void **state)
{
    static const unsigned gaps[] = { G_START, 0, 1, 0 };
    norm_out o;
    expect_gaps(state, D, "fu\xFF" "ck", "fuck", gaps, 4);
    norm(state, D, "fu\xFF\xFE" "ck", &o);
    assert_int_equal(o.invalid, 2);
    norm_out_free(&o);
    assert_int_equal(norm_is_noise(tabs(state), 0xFFFD), 1);
}

/* One invalid UTF-8 case: the input, the replacements expected. */
typedef struct bad_utf8 {
    const char *in;
    size_t len;
    size_t invalid;
    const char *want;          /* flags 0 output, U+FFFD as "?" */
} bad_utf8;

#define BAD(s, n, w) { s, sizeof(s) - 1, n, w }

static void invalid_utf8_is_one_replacement_per_maximal_subpart(
    void **state)
{
    static const bad_utf8 cases[] = {
        BAD("\x80", 1, "?"),                     /* lone continuation */
        BAD("a\xBF" "b", 1, "a?b"),
        BAD("\xC0\x80", 2, "??"),                /* overlong */
        BAD("\xC1\xBF", 2, "??"),
        BAD("\xE0\x80\x80", 3, "???"),
        BAD("\xF0\x80\x80\x80", 4, "????"),
        BAD("\xED\xA0\x80", 3, "???"),           /* surrogate */
        BAD("\xED\xBF\xBF", 3, "???"),
        BAD("\xF4\x90\x80\x80", 4, "????"),      /* above U+10FFFF */
        BAD("\xF5\xFF\xFE", 3, "???"),           /* bytes above F4 */
        BAD("\xE4\xB8", 1, "?"),                 /* truncated at the end */
        BAD("\xE4\xB8" "a", 1, "?a"),
        BAD("\xF0\x9F\x98", 1, "?"),
        BAD("\xF0\x9F\x98" "\xF0\x9F\x98\x80", 1, "?\xF0\x9F\x98\x80"),
        BAD("\xC3\xE4\xB8\xAD", 1, "?\xE4\xB8\xAD"),
        /* The Unicode Standard's own example (chapter 3, U+FFFD
         * substitution): E1 80 | E2 | F0 91 92 | F1 BF | 41. */
        BAD("\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", 4, "????A"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        norm_out o;
        char got[64];
        size_t n = 0;
        norm_len(state, 0, cases[i].in, cases[i].len, &o);
        for (size_t k = 0; k < o.len && n + 1 < sizeof got;) {
            if (o.len - k >= 3 && memcmp(o.text + k, "\xEF\xBF\xBD", 3) == 0) {
                got[n++] = '?';
                k += 3;
            } else {
                got[n++] = (char)o.text[k++];
            }
        }
        got[n] = '\0';
        if (strcmp(got, cases[i].want) != 0 || o.invalid != cases[i].invalid)
            fail_msg("case %zu: got \"%s\" (%zu invalid), want \"%s\" (%zu)",
                i, got, o.invalid, cases[i].want, cases[i].invalid);
        norm_out_free(&o);
    }
}

static void noise_classification_follows_the_default_steps(void **state)
{
    const norm_tables *t = tabs(state);
    assert_int_equal(norm_is_noise(t, '.'), 1);
    assert_int_equal(norm_is_noise(t, ' '), 1);
    assert_int_equal(norm_is_noise(t, '\n'), 1);
    assert_int_equal(norm_is_noise(t, 0xFF0C), 1);    /* ， */
    assert_int_equal(norm_is_noise(t, 0x2764), 1);    /* ❤ */
    assert_int_equal(norm_is_noise(t, 'a'), 0);
    assert_int_equal(norm_is_noise(t, '1'), 0);
    assert_int_equal(norm_is_noise(t, 0x50BB), 0);    /* 傻 */
    assert_int_equal(norm_is_noise(t, 0x24B6), 0);    /* Ⓐ folds to a */
    assert_int_equal(norm_is_noise(t, 0x200B), 0);    /* ignorable */
    assert_int_equal(norm_is_noise(t, 0x110000), 0);
}

/* The noise leet reads as letters, which the matcher reads both ways:
 * in ASCII exactly @ ( ! | $ +; beyond it, forms of them whose UTF-8
 * begins with 0xE2 or 0xEF (the matcher searches for those bytes). */
static void leet_symbols_are_the_noise_leet_reads_as_letters(void **state)
{
    const norm_tables *t = tabs(state);
    const unsigned f = D | NORM_LEET | NORM_REPEAT;
    char got[8];
    size_t n = 0, beyond = 0;
    for (uint32_t c = 0; c < 0x80; c++)
        if (norm_is_leet_symbol(t, f, c))
            got[n++] = (char)c;
    got[n] = '\0';
    assert_string_equal(got, "!$(+@|");
    assert_int_equal(norm_is_leet_symbol(t, f, 0xFF5C), 1);   /* ｜ */
    assert_int_equal(norm_is_leet_symbol(t, f, 0xFF01), 1);   /* ！ */
    assert_int_equal(norm_is_leet_symbol(t, f, 0x203C), 1);   /* ‼ */
    assert_int_equal(norm_is_leet_symbol(t, f, 0xFF0C), 0);   /* ， */
    assert_int_equal(norm_is_leet_symbol(t, f, 0xFF41), 0);   /* ａ */
    assert_int_equal(norm_is_leet_symbol(t, f, '1'), 0);      /* a digit */
    assert_int_equal(norm_is_leet_symbol(t, D, '|'), 0);      /* no leet */
    for (uint32_t cp = 0x80; cp < 0x110000; cp++) {
        char b[5];
        if (is_surrogate(cp) || !norm_is_leet_symbol(t, f, cp))
            continue;
        beyond++;
        cp_utf8(cp, b);
        if ((unsigned char)b[0] != 0xE2 && (unsigned char)b[0] != 0xEF)
            fail_msg("U+%04X is a leet symbol with lead byte %02x", cp,
                (unsigned char)b[0]);
    }
    assert_true(beyond >= 6);
}

static void output_buffers_are_reused_and_free_accepts_null(void **state)
{
    norm_out o;
    unsigned char *text;
    norm(state, D, "hello world", &o);
    text = o.text;
    norm_out_reset(&o);
    assert_int_equal(o.len, 0);
    assert_int_equal(norm_text(tabs(state), D, "again", 5, &o), 0);
    assert_ptr_equal(o.text, text);
    assert_true(text_is(&o, "again"));
    norm_out_free(&o);
    norm_out_free(&o);
    norm_out_free(NULL);
    norm_tables_free(NULL);
}

/* ------------------------------------------------------------------------
 * The naive model and random texts
 * ---------------------------------------------------------------------- */

/* Line breaks, clause and sentence ends, CJK quotes and brackets (the
 * spec's list, docs/normalization.md). */
static int model_is_break(uint32_t c)
{
    static const uint32_t r[][2] = {
        { 0x0A, 0x0D }, { 0x85, 0x85 }, { 0x2028, 0x2029 },
        { 0x2026, 0x2026 }, { 0x3001, 0x3002 }, { 0xFE10, 0xFE16 },
        { 0xFE19, 0xFE19 }, { 0xFE50, 0xFE51 }, { 0xFE54, 0xFE57 },
        { 0xFF01, 0xFF01 }, { 0xFF0C, 0xFF0C }, { 0xFF1A, 0xFF1B },
        { 0xFF1F, 0xFF1F }, { 0xFF61, 0xFF61 }, { 0xFF64, 0xFF64 },
        { 0x2018, 0x201F }, { 0x3008, 0x3011 }, { 0x3014, 0x301B },
        { 0x301D, 0x301F }, { 0xFE17, 0xFE18 }, { 0xFE35, 0xFE44 },
        { 0xFE47, 0xFE48 }, { 0xFE59, 0xFE5E }, { 0xFF02, 0xFF02 },
        { 0xFF07, 0xFF09 }, { 0xFF3B, 0xFF3B }, { 0xFF3D, 0xFF3D },
        { 0xFF5B, 0xFF5B }, { 0xFF5D, 0xFF5D }, { 0xFF5F, 0xFF60 },
        { 0xFF62, 0xFF63 },
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (c >= r[i][0] && c <= r[i][1])
            return 1;
    return 0;
}

static int model_is_space(uint32_t c)
{
    return u_isUWhiteSpace((UChar32)c) ||
        (U_GET_GC_MASK((UChar32)c) & U_GC_Z_MASK) != 0;
}

/* Append one entry per byte of b[0..n) to o (sized by the caller). */
static void model_put(norm_out *o, const char *b, size_t n, uint32_t s,
    uint32_t e, unsigned g)
{
    for (size_t k = 0; k < n; k++) {
        o->text[o->len] = (unsigned char)b[k];
        o->src[o->len] = s;
        o->src_end[o->len] = e;
        o->gap[o->len] = (uint8_t)(k == 0 ? g : 0);
        o->run[o->len] = 1;
        o->len++;
    }
}

/*
 * The model: decode with ICU's U8_NEXT (maximal subparts), fold each code
 * point alone (norm_text on it, without NORM_REPEAT), and assemble gaps
 * and runs here. Writes into *o, which must hold 64 entries per input
 * byte.
 */
static void model(void **state, unsigned flags, const char *in, size_t len,
    uint32_t base, norm_out *o)
{
    unsigned cnt = 0, bits = G_START;
    size_t last = SIZE_MAX, lastlen = 0;
    int32_t i = 0;
    o->len = 0;
    o->invalid = 0;
    while ((size_t)i < len) {
        int32_t s = i;
        UChar32 c;
        char f[256], g2[256];
        size_t fn, pos = 0;
        U8_NEXT((const uint8_t *)in, i, (int32_t)len, c);
        if (c < 0) {
            c = 0xFFFD;
            o->invalid++;
        }
        fn = fold1(state, flags & ~NORM_REPEAT, (uint32_t)c, f, sizeof f);
        if (fn == 0) {
            if ((flags & NORM_SKIP_NOISE) &&
                fold1(state, flags & ~(NORM_REPEAT | NORM_SKIP_NOISE),
                (uint32_t)c, g2, sizeof g2) > 0) {
                cnt += cnt < 15;
                bits |= (model_is_space((uint32_t)c) ? G_SPACE : 0) |
                    (model_is_break((uint32_t)c) ? G_BREAK : 0);
            }
            continue;
        }
        while (pos < fn) {
            size_t n = (size_t)U8_COUNT_TRAIL_BYTES((uint8_t)f[pos]) + 1;
            unsigned g = pos == 0 ? (bits | cnt) : 0;
            if ((flags & NORM_REPEAT) && g == 0 && last != SIZE_MAX &&
                lastlen == n && memcmp(o->text + last, f + pos, n) == 0) {
                for (size_t j = last; j < last + n; j++) {
                    o->run[j] = (uint8_t)(o->run[j] + (o->run[j] < 255));
                    o->src_end[j] = base + (uint32_t)i;
                }
            } else {
                last = o->len;
                lastlen = n;
                model_put(o, f + pos, n, base + (uint32_t)s,
                    base + (uint32_t)i, g);
            }
            pos += n;
        }
        cnt = 0;
        bits = 0;
    }
}

static void model_alloc(norm_out *o, size_t len)
{
    size_t cap = 64 * len + 64;
    norm_out_init(o);
    o->text = malloc(cap);
    o->src = malloc(cap * sizeof *o->src);
    o->src_end = malloc(cap * sizeof *o->src_end);
    o->gap = malloc(cap);
    o->run = malloc(cap);
    o->cap = cap;
    assert_true(o->text && o->src && o->src_end && o->gap && o->run);
}

static void expect_same(const norm_out *a, const norm_out *b,
    const char *what, unsigned flags, const char *in, size_t len)
{
    int same = a->len == b->len && a->invalid == b->invalid &&
        memcmp(a->text, b->text, a->len) == 0 &&
        memcmp(a->src, b->src, a->len * sizeof *a->src) == 0 &&
        memcmp(a->src_end, b->src_end, a->len * sizeof *a->src_end) == 0 &&
        memcmp(a->gap, b->gap, a->len) == 0 &&
        memcmp(a->run, b->run, a->len) == 0;
    if (!same) {
        fprintf(stderr, "input (%zu bytes):", len);
        for (size_t i = 0; i < len; i++)
            fprintf(stderr, " %02x", (unsigned char)in[i]);
        fprintf(stderr, "\n%-6s len %zu:", "got", a->len);
        for (size_t i = 0; i < a->len; i++)
            fprintf(stderr, " %02x/%u-%u/g%x/r%u", a->text[i], a->src[i],
                a->src_end[i], a->gap[i], a->run[i]);
        fprintf(stderr, "\n%-6s len %zu:", "want", b->len);
        for (size_t i = 0; i < b->len; i++)
            fprintf(stderr, " %02x/%u-%u/g%x/r%u", b->text[i], b->src[i],
                b->src_end[i], b->gap[i], b->run[i]);
        fprintf(stderr, "\n");
        fail_msg("%s differs, flags %#x", what, flags);
    }
}

/* Pieces random texts are made of: every evasion class, invalid bytes. */
static const char *const atoms[] = {
    "a", "b", "f", "u", "c", "k", "s", "h", "i", "t", "A", "Z", "0", "1",
    "3", "4", "5", "7", "@", "$", "!", "|", "(", "+", ".", "-", "*", " ",
    "\t", "\n", "\r", ",", "aaa", "uuuu", "ss",
    "ｆ", "Ｕ", "１", "，", "。", "、", "！", "（", "）", "「", "」", "…",
    "·", "“", "　", "\xC2\xA0", "\xE2\x80\xA8",
    "傻", "逼", "毛", "主", "席", "五", "星", "紅", "旗", "們", "红", "们",
    "好", "好好", "中", "文", "著", "〇",
    "Ⓕ", "ⓤ", "⒦", "𝐟", "𝐮", "⓵", "⑶", "➌", "⓿", "①", "㈤", "㊄", "ﬁ",
    "ﬀ", "ℌ", "ǅ", "ß", "İ", "ẞ", "⑴", "℅", "¼", "⁇", "‼", "¨",
    "а", "е", "о", "с", "р", "α", "ο", "Σ", "ς", "ä", "á", "ǎ", "é",
    "e\xCC\x81", "\xCC\x81", "\xCC\xB7", "\xD2\x89", "\xCD\x85",
    "\xE2\x80\x8B", "\xE2\x80\x8C", "\xE2\x80\x8D", "\xE2\x81\xA0",
    "\xEF\xBB\xBF", "\xE2\x80\xAE", "\xEF\xB8\x8F", "\xC2\xAD",
    "\xF3\xA0\x84\x80", "😀", "\xE2\xAC\x86\xEF\xB8\x8F", "\xEF\xB7\xBA",
    "\xEF\xBF\xBD", "\xFF", "\x80", "\xC0\x80", "\xE0\x80\x80",
    "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF5", "\xE4\xB8", "\xF0\x9F\x98",
    "\xC3", "\xE4", "\xF0",
};

/* A random text of up to `max` atoms into buf (cap bytes); its length. */
static size_t random_text(uint64_t *seed, char *buf, size_t cap, size_t max)
{
    size_t n = rnd_below(seed, max + 1), len = 0;
    for (size_t k = 0; k < n; k++) {
        const char *a = atoms[rnd_below(seed, sizeof atoms / sizeof atoms[0])];
        size_t al = strlen(a);
        if (len + al > cap)
            break;
        memcpy(buf + len, a, al);
        len += al;
    }
    return len;
}

/* Runs of up to 300 ASCII bytes (letters, case, noise) between atoms. */
static size_t random_ascii_text(uint64_t *seed, char *buf, size_t cap)
{
    static const char ascii[] = "abcdefghijkLMNOP ,.!-@$|\t\n0137";
    size_t len = 0;
    while (len + 310 < cap && rnd_below(seed, 12) != 0) {
        size_t run = rnd_below(seed, 301);
        for (size_t k = 0; k < run; k++)
            buf[len++] = ascii[rnd_below(seed, sizeof ascii - 1)];
        const char *a = atoms[rnd_below(seed,
            sizeof atoms / sizeof atoms[0])];
        memcpy(buf + len, a, strlen(a));
        len += strlen(a);
    }
    return len;
}

/* Feed in[0..len) in random chunks (some empty) into *o. */
static void feed_chunks(void **state, unsigned flags, const char *in,
    size_t len, uint32_t base, uint64_t *seed, norm_out *o)
{
    norm_state st;
    size_t i = 0;
    norm_out_reset(o);
    norm_state_init(&st, flags, base);
    while (i < len) {
        size_t n = rnd_below(seed, 4) == 0 ? 0 : 1 + rnd_below(seed, 6);
        if (n > len - i)
            n = len - i;
        assert_int_equal(norm_feed(tabs(state), &st, in + i, n, 0, o), 0);
        i += n;
    }
    assert_int_equal(norm_feed(tabs(state), &st, NULL, 0, 1, o), 0);
}

/* Whole text == naive model == random chunkings, for `iters` texts. */
static void compare_random(void **state, unsigned flags, size_t iters,
    uint64_t seed)
{
    char in[512];
    norm_out whole, chunked, want;
    model_alloc(&want, sizeof in);
    norm_out_init(&whole);
    norm_out_init(&chunked);
    for (size_t it = 0; it < iters; it++) {
        size_t len = random_text(&seed, in, sizeof in, 24);
        uint32_t base = (uint32_t)rnd_below(&seed, 3) * 1000;
        norm_state st;
        norm_out_reset(&whole);
        norm_state_init(&st, flags, base);
        assert_int_equal(norm_feed(tabs(state), &st, in, len, 1, &whole), 0);
        model(state, flags, in, len, base, &want);
        expect_same(&whole, &want, "whole text vs model", flags, in, len);
        for (int k = 0; k < 3; k++) {
            feed_chunks(state, flags, in, len, base, &seed, &chunked);
            expect_same(&chunked, &whole, "chunked vs whole", flags, in, len);
        }
    }
    norm_out_free(&whole);
    norm_out_free(&chunked);
    norm_out_free(&want);
}

static void any_chunking_gives_the_whole_text_and_the_model(void **state)
{
    compare_random(state, D, 3000, 1);
    compare_random(state, D | NORM_LEET | NORM_REPEAT, 3000, 2);
    compare_random(state, D | NORM_REPEAT, 1000, 3);
    compare_random(state, D | NORM_LEET, 1000, 4);
}

static void every_flag_combination_agrees_with_the_model(void **state)
{
    for (unsigned f = 0; f < 0x80; f++)
        compare_random(state, f, 60, 100 + f);
}

/*
 * The lazy form (text and checkpoints) holds the whole text's text, and
 * a window rebuilt around any range holds exactly its metadata.
 */
static void lazy_windows_equal_the_whole_normalization(void **state)
{
    static char in[8192];
    norm_out whole, lazy, win;
    uint64_t seed = 77;
    norm_out_init(&whole);
    norm_out_init(&lazy);
    norm_out_init(&win);
    for (unsigned f = 0; f < 0x80; f++) {
        for (int it = 0; it < 12; it++) {
            /* odd rounds: long ASCII runs (the SIMD path crosses
               checkpoints) between a few other atoms */
            size_t len = it & 1 ? random_ascii_text(&seed, in, sizeof in) :
                random_text(&seed, in, sizeof in, 1200);
            norm_out_reset(&whole);
            norm_out_reset(&lazy);
            assert_int_equal(norm_text(tabs(state), f, in, len, &whole), 0);
            assert_int_equal(norm_text_lazy(tabs(state), f, in, len, 0,
                &lazy), 0);
            assert_int_equal(lazy.len, whole.len);
            assert_int_equal(lazy.invalid, whole.invalid);
            assert_memory_equal(lazy.text, whole.text, whole.len ? whole.len : 1);
            if (!lazy.lazy) {
                assert_true(f & NORM_REPEAT);   /* runs cross checkpoints */
                continue;
            }
            assert_false(f & NORM_REPEAT);
            for (int k = 0; k < 40 && whole.len > 0; k++) {
                size_t a = rnd_below(&seed, whole.len);
                size_t b = a + rnd_below(&seed, 40);
                size_t base;
                norm_wcur fresh;             /* a new window each time */
                if (b >= whole.len)
                    b = whole.len - 1;
                fresh.valid = 0;
                assert_int_equal(norm_window_cover(tabs(state), f, in, len,
                    &lazy, a, b, &win, &fresh), 0);
                base = fresh.base;
                assert_true(base <= a);
                assert_true(base + win.len > b);
                for (size_t q = base; q < base + win.len && q < whole.len;
                    q++) {
                    size_t w = q - base;
                    if (win.text[w] != whole.text[q] ||
                        win.src[w] != whole.src[q] ||
                        win.src_end[w] != whole.src_end[q] ||
                        win.gap[w] != whole.gap[q] ||
                        win.run[w] != whole.run[q])
                        fail_msg("flags %#x, entry %zu of %zu (window "
                            "from %zu): got %02x/%u-%u/g%x, want "
                            "%02x/%u-%u/g%x", f, q, whole.len, base,
                            win.text[w], win.src[w], win.src_end[w],
                            win.gap[w], whole.text[q], whole.src[q],
                            whole.src_end[q], whole.gap[q]);
                }
            }
            /* a growing window over hits in order, as view_at reads them */
            norm_wcur cur;
            size_t a = 0;
            cur.valid = 0;
            while (whole.len > 0 && a < whole.len) {
                size_t b = a + rnd_below(&seed, 12);
                if (b >= whole.len)
                    b = whole.len - 1;
                assert_int_equal(norm_window_cover(tabs(state), f, in, len,
                    &lazy, a, b, &win, &cur), 0);
                assert_true(cur.base <= a && cur.base + win.len > b);
                for (size_t q = a; q <= b; q++) {
                    size_t w = q - cur.base;
                    if (win.text[w] != whole.text[q] ||
                        win.src[w] != whole.src[q] ||
                        win.src_end[w] != whole.src_end[q] ||
                        win.gap[w] != whole.gap[q])
                        fail_msg("flags %#x, entry %zu of %zu (growing "
                            "window from %zu)", f, q, whole.len, cur.base);
                }
                a += 1 + rnd_below(&seed, rnd_below(&seed, 2) ? 8 : 400);
                if (rnd_below(&seed, 10) == 0 && a > 30)
                    a -= rnd_below(&seed, 30);      /* a later hit, earlier */
            }
        }
    }
    norm_out_free(&whole);
    norm_out_free(&lazy);
    norm_out_free(&win);
}

/* A policy of regex rules alone counts ill-formed UTF-8 with
   utf8_count_ill instead of normalizing: it must count as the normalizer
   does, ASCII runs of every length (its fast path) included. */
static void utf8_count_ill_counts_as_the_normalizer(void **state)
{
    static char in[4096];
    norm_out o;
    uint64_t seed = 5;
    norm_out_init(&o);
    for (int it = 0; it < 4000; it++) {
        size_t len = it & 1 ? random_ascii_text(&seed, in, sizeof in) :
            random_text(&seed, in, sizeof in, 300);
        for (size_t cut = 0; cut <= len; cut += 1 + len / 7) {
            norm_out_reset(&o);
            assert_int_equal(norm_text(tabs(state), 0, in + cut, len - cut,
                &o), 0);
            assert_int_equal(utf8_count_ill((const unsigned char *)in + cut,
                len - cut), o.invalid);
        }
    }
    norm_out_free(&o);
}

static void feeding_one_byte_at_a_time_gives_the_whole_text(void **state)
{
    static const char in[] = "傻\xE2\x80\x8B逼 f.u.c.k ｆｕｃｋ 五星紅旗 aaa"
        "\xE4\xB8 好好 \xF0\x9F\x98\x80 \xEF\xB7\xBA z";
    static const unsigned flags[] = { 0, D, D | NORM_REPEAT,
        D | NORM_LEET | NORM_REPEAT, NORM_NFKC_CASEFOLD | NORM_REPEAT };
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        norm_out whole, bytes;
        norm_state st;
        norm_len(state, flags[f], in, sizeof in - 1, &whole);
        norm_out_init(&bytes);
        norm_state_init(&st, flags[f], 0);
        for (size_t i = 0; i < sizeof in - 1; i++)
            assert_int_equal(norm_feed(tabs(state), &st, in + i, 1, 0,
                &bytes), 0);
        assert_int_equal(norm_feed(tabs(state), &st, "", 0, 1, &bytes), 0);
        expect_same(&bytes, &whole, "bytewise vs whole", flags[f], in,
            sizeof in - 1);
        norm_out_free(&whole);
        norm_out_free(&bytes);
    }
}

/* ------------------------------------------------------------------------
 * The tables against ICU, code point by code point
 * ---------------------------------------------------------------------- */

static void nfkc_casefold_matches_icu_for_every_code_point(void **state)
{
    UErrorCode uc = U_ZERO_ERROR;
    const UNormalizer2 *nz = unorm2_getNFKCCasefoldInstance(&uc);
    uint32_t cp = 0;
    assert_true(U_SUCCESS(uc));
    do {
        UChar in[2], out[64];
        char want[256], got[256];
        int32_t n = 0, m;
        size_t wl, gl;
        U16_APPEND_UNSAFE(in, n, (UChar32)cp);
        m = unorm2_normalize(nz, in, n, out, 64, &uc);
        assert_true(U_SUCCESS(uc));
        wl = u16_to_utf8(out, m, want, sizeof want);
        gl = fold1(state, NORM_NFKC_CASEFOLD, cp, got, sizeof got);
        if (wl != gl || memcmp(want, got, wl) != 0)
            fail_msg("U+%04X: NFKC_Casefold \"%s\", table \"%s\"", cp, want,
                got);
    } while (next_cp(&cp));
}

static void trad_simp_matches_the_transliterator_for_every_ideograph(
    void **state)
{
    static const UChar id[] = { 'T', 'r', 'a', 'd', 'i', 't', 'i', 'o', 'n',
        'a', 'l', '-', 'S', 'i', 'm', 'p', 'l', 'i', 'f', 'i', 'e', 'd', 0 };
    static const uint32_t ranges[][2] = {
        { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, { 0xF900, 0xFAFF },
        { 0x20000, 0x3FFFF },
    };
    UErrorCode uc = U_ZERO_ERROR;
    UTransliterator *tr = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL,
        &uc);
    size_t changed = 0;
    assert_true(U_SUCCESS(uc));
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        for (uint32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp++) {
            UChar buf[16];
            char want[64], got[64];
            int32_t n = 0, limit, len;
            size_t wl, gl;
            U16_APPEND_UNSAFE(buf, n, (UChar32)cp);
            limit = len = n;
            utrans_transUChars(tr, buf, &len, 16, 0, &limit, &uc);
            assert_true(U_SUCCESS(uc));
            wl = u16_to_utf8(buf, len, want, sizeof want);
            gl = fold1(state, NORM_TRAD_SIMP, cp, got, sizeof got);
            if (wl != gl || memcmp(want, got, wl) != 0)
                fail_msg("U+%04X: transliterator \"%s\", table \"%s\"", cp,
                    want, got);
            {
                char self[5];
                size_t sl = cp_utf8(cp, self);
                changed += sl != wl || memcmp(self, want, wl) != 0;
            }
        }
    }
    utrans_close(tr);
    assert_true(changed > 2000);
    /* Outside the ideographs nothing changes, not even 「 (-> “ in ICU). */
    expect_text(state, NORM_TRAD_SIMP, "「a」", "「a」");
}

static void noise_and_gap_classes_match_the_general_category(void **state)
{
    uint32_t cp = 0;
    do {
        char in[16], got[64];
        size_t n = cp_utf8(cp, in), gl;
        uint32_t gc = U_GET_GC_MASK((UChar32)cp);
        int noise = (gc & (U_GC_P_MASK | U_GC_S_MASK | U_GC_Z_MASK |
            U_GC_CC_MASK)) != 0;
        gl = fold1(state, NORM_SKIP_NOISE, cp, got, sizeof got);
        if (noise ? gl != 0 : (gl != n || memcmp(in, got, n) != 0))
            fail_msg("U+%04X: noise %d, output \"%s\"", cp, noise, got);
        if (noise) {
            norm_out o;
            unsigned want = 1 | (model_is_space(cp) ? G_SPACE : 0) |
                (model_is_break(cp) ? G_BREAK : 0);
            memcpy(in + n, "x", 2);
            norm_len(state, NORM_SKIP_NOISE, in, n + 1, &o);
            assert_int_equal(o.len, 1);
            if (o.gap[0] != (want | G_START))
                fail_msg("U+%04X: gap %#x, want %#x", cp, o.gap[0],
                    want | G_START);
            norm_out_free(&o);
        }
    } while (next_cp(&cp));
}

static void ignorables_are_the_default_ignorable_code_points(void **state)
{
    uint32_t cp = 0;
    do {
        char in[5], got[64];
        size_t n = cp_utf8(cp, in);
        int ign = u_hasBinaryProperty((UChar32)cp,
            UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
        size_t gl = fold1(state, NORM_IGNORABLE, cp, got, sizeof got);
        if (ign ? gl != 0 : (gl != n || memcmp(in, got, n) != 0))
            fail_msg("U+%04X: ignorable %d, output \"%s\"", cp, ign, got);
    } while (next_cp(&cp));
}

/* What the confusables step should give, computed here from ICU. */
static size_t model_confusable(USpoofChecker *sc, uint32_t cp, char *out)
{
    UErrorCode uc = U_ZERO_ERROR;
    const UNormalizer2 *cf = unorm2_getNFKCCasefoldInstance(&uc);
    const UNormalizer2 *nfd = unorm2_getNFDInstance(&uc);
    UChar in[2], sk[64], t1[128], t2[128];
    int32_t n = 0, l, i = 0;
    size_t k = 0;
    int8_t type = u_charType((UChar32)cp);
    if (cp < 0x80)
        return cp_utf8(cp, out);
    U16_APPEND_UNSAFE(in, n, (UChar32)cp);
    l = uspoof_getSkeleton(sc, 0, in, n, sk, 64, &uc);
    l = unorm2_normalize(cf, sk, l, t1, 128, &uc);
    l = unorm2_normalize(nfd, t1, l, t2, 128, &uc);
    assert_true(U_SUCCESS(uc));
    while (i < l) {
        UChar32 c;
        U16_NEXT(t2, i, l, c);
        if (U_GET_GC_MASK(c) & (U_GC_MN_MASK | U_GC_ME_MASK))
            continue;
        if (k == 2 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            k = 3;
            break;
        }
        out[k++] = (char)c;
    }
    if (k == 1 || k == 2)
        return k;
    if (type == U_DECIMAL_DIGIT_NUMBER || type == U_OTHER_NUMBER) {
        double v = u_getNumericValue((UChar32)cp);
        if (v >= 0 && v <= 99 && (double)(int)v == v)
            return (size_t)snprintf(out, 8, "%d", (int)v);
    }
    if (U_GET_GC_MASK((UChar32)cp) & (U_GC_MN_MASK | U_GC_ME_MASK))
        return 0;
    return cp_utf8(cp, out);
}

static void confusables_match_uspoof_skeletons(void **state)
{
    UErrorCode uc = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&uc);
    uint32_t cp = 0;
    size_t mapped = 0;
    assert_true(U_SUCCESS(uc));
    do {
        char want[64], got[64], in[5];
        size_t wl = model_confusable(sc, cp, want), gl;
        want[wl] = '\0';
        gl = fold1(state, NORM_CONFUSABLES, cp, got, sizeof got);
        if (wl != gl || memcmp(want, got, wl) != 0)
            fail_msg("U+%04X: skeleton rule \"%s\", table \"%s\"", cp, want,
                got);
        mapped += wl != cp_utf8(cp, in) || memcmp(in, want, wl) != 0;
    } while (next_cp(&cp));
    uspoof_close(sc);
    assert_true(mapped > 2000);
}

static int model_is_han(UChar32 c)
{
    return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
        (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3FFFF);
}

/*
 * The original's own skeleton, when the documented order gives it the
 * precedence (docs/normalization.md, confusables): NFKC_Casefold and
 * confusables both on, cp not ASCII and not noise (P, S, Z, Cc), its
 * NFKC_Casefold holds something beyond ASCII and no ideograph, and its
 * skeleton alone (confusables step) is ASCII letters or digits. Into out;
 * returns the length, 0 if the rule does not apply.
 */
static size_t own_skeleton(void **state, unsigned flags, uint32_t cp,
    char *out)
{
    char fold[512], sk[512];
    size_t fl, sl, k;
    int32_t i = 0;
    int ascii = 1;
    uint32_t gc = U_GET_GC_MASK((UChar32)cp);
    if ((flags & (NORM_NFKC_CASEFOLD | NORM_CONFUSABLES)) !=
        (NORM_NFKC_CASEFOLD | NORM_CONFUSABLES) || cp < 0x80 ||
        (gc & (U_GC_P_MASK | U_GC_S_MASK | U_GC_Z_MASK | U_GC_CC_MASK)))
        return 0;
    fl = fold1(state, NORM_NFKC_CASEFOLD, cp, fold, sizeof fold);
    while (i < (int32_t)fl) {
        UChar32 c;
        U8_NEXT((const uint8_t *)fold, i, (int32_t)fl, c);
        if (model_is_han(c))
            return 0;
        ascii &= c < 0x80;
    }
    if (fl == 0 || ascii)
        return 0;
    sl = fold1(state, NORM_CONFUSABLES, cp, sk, sizeof sk);
    if (sl == 0 || sl > 2)
        return 0;
    for (k = 0; k < sl; k++)
        if (!((sk[k] >= 'a' && sk[k] <= 'z') || (sk[k] >= '0' &&
            sk[k] <= '9')))
            return 0;
    memcpy(out, sk, sl);
    return sl;
}

/*
 * The steps of `flags` one after the other, each alone, in the
 * documented order: NFKC_Casefold, Traditional-Simplified, confusables;
 * except that a code point whose own skeleton takes precedence
 * (own_skeleton) becomes that skeleton, unless the steps say i where the
 * skeleton says l (capital I and small l share a skeleton).
 */
static size_t compose_steps(void **state, unsigned flags, uint32_t cp,
    char *out)
{
    static const unsigned order[] = { NORM_NFKC_CASEFOLD, NORM_TRAD_SIMP,
        NORM_CONFUSABLES };
    char cur[512], next[512], own[8];
    size_t len = cp_utf8(cp, cur), ol = own_skeleton(state, flags, cp, own);
    for (size_t s = 0; s < 3; s++) {
        if (!(flags & order[s]))
            continue;
        int32_t i = 0;
        size_t nl = 0;
        while (i < (int32_t)len) {
            UChar32 c;
            char piece[256];
            size_t pl;
            U8_NEXT((const uint8_t *)cur, i, (int32_t)len, c);
            pl = fold1(state, order[s], (uint32_t)c, piece, sizeof piece);
            memcpy(next + nl, piece, pl);
            nl += pl;
        }
        memcpy(cur, next, nl);
        len = nl;
    }
    if (ol > 0 && !(len == 1 && cur[0] == 'i' && ol == 1 && own[0] == 'l')) {
        memcpy(cur, own, ol);
        len = ol;
    }
    memcpy(out, cur, len);
    return len;
}

static void composed_steps_equal_the_steps_one_after_the_other(
    void **state)
{
    static const unsigned sets[] = {
        NORM_NFKC_CASEFOLD | NORM_TRAD_SIMP,
        NORM_NFKC_CASEFOLD | NORM_CONFUSABLES,
        NORM_TRAD_SIMP | NORM_CONFUSABLES,
        NORM_NFKC_CASEFOLD | NORM_TRAD_SIMP | NORM_CONFUSABLES,
    };
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        uint32_t cp = 0;
        do {
            char want[512], got[512];
            size_t wl = compose_steps(state, sets[k], cp, want);
            size_t gl = fold1(state, sets[k], cp, got, sizeof got);
            if (wl != gl || memcmp(want, got, wl) != 0)
                fail_msg("U+%04X, steps %#x: one by one \"%.*s\", "
                    "composed \"%.*s\"", cp, sets[k], (int)wl, want,
                    (int)gl, got);
        } while (next_cp(&cp));
    }
}

/* ------------------------------------------------------------------------
 * Real text (SLUICE_DATA)
 * ---------------------------------------------------------------------- */

static char *read_data(const char *rel, size_t *len, size_t max)
{
    const char *dir = test_data_dir();
    char path[4096];
    char *buf;
    if (dir == NULL)
        return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    buf = test_read_file(path, len);
    if (buf != NULL && *len > max)
        *len = max;
    return buf;
}

static void real_corpora_normalize_alike_in_any_chunking(void **state)
{
    static const char *const files[] = {
        "cmrc2018/cmrc2018_contexts.txt", "drcd/DRCD_dev_contexts.txt",
        "gutenberg/war-and-peace-2600-0.txt", "chineseharm-bench/bench.json",
    };
    static const unsigned flags[] = { D, D | NORM_LEET | NORM_REPEAT };
    uint64_t seed = 42;
    if (test_data_dir() == NULL) {
        print_message("skipped: no test data (set SLUICE_DATA, default "
            "../shared/data)\n");
        skip();
        return;
    }
    for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
        size_t len = 0;
        char *buf = read_data(files[fi], &len, 300000);
        if (buf == NULL)
            continue;
        for (size_t f = 0; f < 2; f++) {
            norm_out whole, chunked;
            norm_state st;
            size_t i = 0;
            norm_len(state, flags[f], buf, len, &whole);
            norm_out_init(&chunked);
            norm_state_init(&st, flags[f], 0);
            while (i < len) {
                size_t n = 1 + rnd_below(&seed, 300);
                n = n > len - i ? len - i : n;
                assert_int_equal(norm_feed(tabs(state), &st, buf + i, n, 0,
                    &chunked), 0);
                i += n;
            }
            assert_int_equal(norm_feed(tabs(state), &st, NULL, 0, 1,
                &chunked), 0);
            expect_same(&chunked, &whole, files[fi], flags[f], "", 0);
            norm_out_free(&whole);
            norm_out_free(&chunked);
        }
        free(buf);
    }
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Prints figures only; asserts nothing about time (DESIGN.md: timing
 * lives in benchmarks). Enabled by SLUICE_NORM_BENCH=1. */
static void throughput_report(void **state)
{
    static const char *const files[] = { "cmrc2018/cmrc2018_contexts.txt",
        "gutenberg/war-and-peace-2600-0.txt" };
    static const unsigned flags[] = { D, D | NORM_LEET | NORM_REPEAT };
    const char *on = getenv("SLUICE_NORM_BENCH");
    double best = 1e9;
    if (on == NULL || on[0] == '\0' || test_data_dir() == NULL) {
        print_message("skipped: set SLUICE_NORM_BENCH=1 (and SLUICE_DATA) "
            "for a throughput report\n");
        skip();
        return;
    }
    for (int k = 0; k < 5; k++) {
        norm_tables *t;
        double t0 = now_ms(), t1;
        assert_int_equal(norm_tables_new(&t, NULL), 0);
        t1 = now_ms();
        best = t1 - t0 < best ? t1 - t0 : best;
        norm_tables_free(t);
    }
    printf("norm_tables_new: best of 5 %.1f ms\n", best);
    for (size_t fi = 0; fi < 2; fi++) {
        size_t len = 0;
        char *buf = read_data(files[fi], &len, SIZE_MAX);
        assert_non_null(buf);
        for (size_t f = 0; f < 2; f++) {
            norm_out o;
            norm_out_init(&o);
            best = 1e9;
            for (int k = 0; k < 40; k++) {
                double t0 = now_ms(), t1;
                norm_out_reset(&o);
                assert_int_equal(norm_text(tabs(state), flags[f], buf, len,
                    &o), 0);
                t1 = now_ms();
                best = t1 - t0 < best ? t1 - t0 : best;
            }
            printf("%-36s flags %#04x: %7.1f MB/s (best of 40)\n",
                files[fi], flags[f], len / 1e3 / best);
            if (!(flags[f] & NORM_REPEAT)) {
                best = 1e9;
                for (int k = 0; k < 40; k++) {
                    double t0 = now_ms(), t1;
                    norm_out_reset(&o);
                    assert_int_equal(norm_text_lazy(tabs(state), flags[f],
                        buf, len, 0, &o), 0);
                    t1 = now_ms();
                    best = t1 - t0 < best ? t1 - t0 : best;
                }
                printf("%-36s flags %#04x: %7.1f MB/s text only "
                    "(norm_text_lazy)\n", files[fi], flags[f],
                    len / 1e3 / best);
            }
            norm_out_free(&o);
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_width_letters_fold_to_ascii_and_ascii_stays),
        cmocka_unit_test(circled_and_styled_letters_and_digits_fold_to_ascii),
        cmocka_unit_test(traditional_chinese_folds_to_simplified),
        cmocka_unit_test(confusables_fold_to_ascii_but_ascii_and_cjk_stay),
        cmocka_unit_test(upper_case_look_alikes_fold_by_their_own_skeleton),
        cmocka_unit_test(zero_width_and_bidi_controls_vanish_without_a_gap),
        cmocka_unit_test(inserted_symbols_and_spaces_are_skipped_with_gaps),
        cmocka_unit_test(repeated_characters_collapse_into_runs),
        cmocka_unit_test(leetspeak_maps_only_with_the_leet_variant),
        cmocka_unit_test(gap_counts_saturate_at_15),
        cmocka_unit_test(only_the_first_code_point_carries_the_start_mark),
        cmocka_unit_test(runs_saturate_at_255),
        cmocka_unit_test(offsets_map_every_output_byte_to_its_original_bytes),
        cmocka_unit_test(
            expansions_mixing_noise_keep_only_letters_when_skipping),
        cmocka_unit_test(combining_marks_are_dropped_with_confusables),
        cmocka_unit_test(replacement_characters_count_and_are_noise),
        cmocka_unit_test(
            invalid_utf8_is_one_replacement_per_maximal_subpart),
        cmocka_unit_test(noise_classification_follows_the_default_steps),
        cmocka_unit_test(leet_symbols_are_the_noise_leet_reads_as_letters),
        cmocka_unit_test(output_buffers_are_reused_and_free_accepts_null),
        cmocka_unit_test(any_chunking_gives_the_whole_text_and_the_model),
        cmocka_unit_test(every_flag_combination_agrees_with_the_model),
        cmocka_unit_test(lazy_windows_equal_the_whole_normalization),
        cmocka_unit_test(feeding_one_byte_at_a_time_gives_the_whole_text),
        cmocka_unit_test(utf8_count_ill_counts_as_the_normalizer),
        cmocka_unit_test(nfkc_casefold_matches_icu_for_every_code_point),
        cmocka_unit_test(
            trad_simp_matches_the_transliterator_for_every_ideograph),
        cmocka_unit_test(
            noise_and_gap_classes_match_the_general_category),
        cmocka_unit_test(ignorables_are_the_default_ignorable_code_points),
        cmocka_unit_test(confusables_match_uspoof_skeletons),
        cmocka_unit_test(
            composed_steps_equal_the_steps_one_after_the_other),
        cmocka_unit_test(real_corpora_normalize_alike_in_any_chunking),
        cmocka_unit_test(throughput_report),
    };
    return cmocka_run_group_tests_name("filter/normalize", tests, setup,
        teardown);
}
