/*
 * check_test.c - whole-text checks through the public API: evasion classes
 * caught both ways, offsets, redaction and refusal, regexes with
 * validators, co-occurrence, allow lists, word boundaries, invalid UTF-8,
 * compile errors, and policy swaps under concurrent checking.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice.h"
#include "testutil.h"

/* ---- fixtures ---------------------------------------------------------- */

static char *write_policy(const char *yaml, const char *listname,
    const char *list)
{
    char tmpl[] = "/tmp/sluice-check-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char path[512];
    FILE *f;
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/policy.yaml", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    if (listname != NULL) {
        snprintf(path, sizeof path, "%s/lists", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/lists/%s", dir, listname);
        f = fopen(path, "wb");
        assert_non_null(f);
        fputs(list, f);
        fclose(f);
    }
    return strdup(dir);
}

static const char *POLICY_MAIN =
    "policy: test\n"
    "version: 3\n"
    "language: auto\n"
    "categories:\n"
    "  - {id: profanity, action: redact, name: {zh: 脏话, en: profanity}}\n"
    "  - {id: pii, action: redact}\n"
    "  - {id: violence, action: block}\n"
    "  - {id: politics, action: flag}\n"
    "rules:\n"
    "  - id: profanity.en\n"
    "    category: profanity\n"
    "    terms: [fuck, shit, asshole, penis, bitch]\n"
    "    boundary: word\n"
    "    variants: [leet, repeat]\n"
    "  - id: profanity.zh\n"
    "    category: profanity\n"
    "    terms: lists/zh.txt\n"
    "  - id: student\n"
    "    category: politics\n"
    "    terms: [学生]\n"
    "    boundary: word\n"
    "  - id: flag.kw\n"
    "    category: politics\n"
    "    terms: [五星红旗]\n"
    "  - id: pii.cn_id\n"
    "    category: pii\n"
    "    regex: '(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])'\n"
    "    validate: cn_id\n"
    "    on: original\n"
    "  - id: recipe.explosive\n"
    "    category: violence\n"
    "    all: [炸药, 配方]\n"
    "    within: 12\n"
    "allow: [Scunthorpe]\n";

static const char *ZH_LIST = "# test list\n傻逼\n操你妈\ncunt\n";

typedef struct fx {
    char *dir;
    sluice_policy *p;
    sluice_engine *e;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    sluice_error err;
    memset(&err, 0, sizeof err);
    f->dir = write_policy(POLICY_MAIN, "zh.txt", ZH_LIST);
    if (sluice_policy_load(&f->p, f->dir, NULL, &err) != 0) {
        fprintf(stderr, "load: %s:%d: %s\n", err.file, err.line, err.message);
        return -1;
    }
    if (sluice_engine_new(&f->e, NULL, &err) != 0 ||
        sluice_engine_set_policy(f->e, f->p) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[600];
    sluice_engine_free(f->e);
    sluice_policy_unref(f->p);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f->dir);
    free(f);
    return 0;
}

/* A fixture of a test's own: policy `yaml` in a new directory, loaded
   into a new engine; fx_close undoes it. */
static void fx_open(fx *f, const char *yaml)
{
    sluice_error err;
    memset(&err, 0, sizeof err);
    f->dir = write_policy(yaml, NULL, NULL);
    f->p = NULL;
    f->e = NULL;
    assert_int_equal(sluice_policy_load(&f->p, f->dir, NULL, &err), 0);
    assert_int_equal(sluice_engine_new(&f->e, NULL, &err), 0);
    assert_int_equal(sluice_engine_set_policy(f->e, f->p), 0);
}

static void fx_close(fx *f)
{
    char cmd[600];
    sluice_engine_free(f->e);
    sluice_policy_unref(f->p);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f->dir);
}

static sluice_verdict *check(fx *f, const char *text)
{
    sluice_verdict *v = NULL;
    sluice_error err;
    memset(&err, 0, sizeof err);
    int rc = sluice_check(f->e, text, strlen(text), NULL, &v, &err);
    if (rc != 0)
        fprintf(stderr, "check: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_non_null(v);
    return v;
}

static int fired(const sluice_verdict *v, const char *rule)
{
    for (size_t i = 0; i < sluice_verdict_rule_count(v); i++)
        if (strcmp(sluice_verdict_rule(v, i), rule) == 0)
            return 1;
    return 0;
}

static void expect_rule(fx *f, const char *text, const char *rule, int want)
{
    sluice_verdict *v = check(f, text);
    if (fired(v, rule) != want)
        fail_msg("'%s': rule %s %s", text, rule,
            want ? "did not fire" : "fired but must not");
    sluice_verdict_free(v);
}

/* ---- evasion classes, each both ways ---------------------------------- */

static void full_width_and_case_are_folded(void **state)
{
    expect_rule(*state, "what the ｆｕｃｋ", "profanity.en", 1);
    expect_rule(*state, "WHAT THE FUCK", "profanity.en", 1);
    expect_rule(*state, "ｆｕｎ for all", "profanity.en", 0);
}

static void circled_and_styled_letters_are_folded(void **state)
{
    expect_rule(*state, "Ⓕⓤc⒦ you", "profanity.en", 1);
    expect_rule(*state, "\xF0\x9D\x90\x9F\xF0\x9D\x90\xAE\xF0\x9D\x90\x9C"
        "\xF0\x9D\x90\xA4 off", "profanity.en", 1);  /* math bold fuck */
    expect_rule(*state, "Ⓗⓔⓛⓛⓞ", "profanity.en", 0);
}

static void traditional_chinese_is_folded(void **state)
{
    expect_rule(*state, "我爱我的祖国和五星紅旗。", "flag.kw", 1);
    expect_rule(*state, "五星級酒店", "flag.kw", 0);
}

static void confusable_letters_are_folded(void **state)
{
    /* Cyrillic с and Greek ο inside Latin words */
    expect_rule(*state, "fu\xD1\x81k this", "profanity.en", 1);
    expect_rule(*state, "sh\xCE\xBFt? no: sh\xCE\xB9t", "profanity.en", 1);
    expect_rule(*state, "\xD1\x81\xD0\xBE\xD0\xBA", "profanity.en", 0);
}

static void zero_width_and_bidi_are_ignored(void **state)
{
    expect_rule(*state, "a\xE2\x80\x8Dsshole", "profanity.en", 1);
    expect_rule(*state, "f\xE2\x80\x8Bu\xE2\x80\xAE" "ck", "profanity.en", 1);
    expect_rule(*state, "傻\xEF\xBB\xBF逼", "profanity.zh", 1);
    expect_rule(*state, "as\xE2\x80\x8Bsessment", "profanity.en", 0);
}

static void inserted_symbols_and_spaces_are_skipped(void **state)
{
    expect_rule(*state, "f.u.c.k you", "profanity.en", 1);
    expect_rule(*state, "f u c k you", "profanity.en", 1);
    expect_rule(*state, "傻@逼", "profanity.zh", 1);
    expect_rule(*state, "我很傻 逼你做", "profanity.zh", 0);  /* words, not letters */
    expect_rule(*state, "真是傻 逼他", "profanity.zh", 0);
    expect_rule(*state, "傻 逼", "profanity.zh", 1);
    expect_rule(*state, "你是傻 逼", "profanity.zh", 1);   /* a lone character */
}

/* A run goes on across noise: a doubled letter of a term split by noise,
 * and repeated letters of the text split by noise, still read as one
 * run. A hit may start or end inside such a run (it takes as few of the
 * repetitions as the term needs), so words next to each other keep their
 * boundaries. */
static void runs_continue_across_noise(void **state)
{
    expect_rule(*state, "you a.s.s.h.o.l.e", "profanity.en", 1);
    expect_rule(*state, "ａ.ｓ.ｓ.ｈ.ｏ.ｌ.ｅ", "profanity.en", 1);
    expect_rule(*state, "f.u.u.u.u.c.k this", "profanity.en", 1);
    expect_rule(*state, "f*uuu*u**c*k this", "profanity.en", 1);
    expect_rule(*state, "f u u u u c k", "profanity.en", 1);
    expect_rule(*state, "a5.5hole", "profanity.en", 1);
    expect_rule(*state, "this shit", "profanity.en", 1);   /* s|s */
    expect_rule(*state, "fuck kids", "profanity.en", 1);   /* k|k */
    expect_rule(*state, "as.as.asshole", "profanity.en", 1);
    /* still one s too few, and no gluing across words */
    expect_rule(*state, "a.s.h.o.l.e", "profanity.en", 0);
    expect_rule(*state, "as shole", "profanity.en", 0);
    expect_rule(*state, "bus shit", "profanity.en", 1);
    expect_rule(*state, "class hits", "profanity.en", 0);
}

/* Terms are merged like the text: a multi-word term whose words meet in
 * the same letter (bad dog) keeps matching, its own space inside the run. */
static void a_term_with_a_run_across_its_own_space_matches(void **state)
{
    static const char *yaml =
        "policy: runs\nversion: 1\n"
        "rules:\n"
        "  - {id: dog, action: redact, terms: [bad dog], boundary: word,\n"
        "     variants: [repeat]}\n";
    fx f;
    (void)state;
    fx_open(&f, yaml);
    expect_rule(&f, "a bad dog here", "dog", 1);
    expect_rule(&f, "a baaad  dogg here", "dog", 1);
    expect_rule(&f, "a bad.dog here", "dog", 1);
    expect_rule(&f, "a badog here", "dog", 0);     /* one d too few */
    expect_rule(&f, "a bad frog here", "dog", 0);
    fx_close(&f);
}

/* Spans come out sorted by start, then end, however many overlap: terms
 * of 1..k ideographs over a run of one ideograph overlap k deep, which
 * with k = 3 the insertion sort of candidates takes alone and with k =
 * 20 past its budget of moves, where qsort takes over. Every (start,
 * length) must be there, once, in order. */
static void overlapping_spans_come_out_sorted(void **state)
{
    static const unsigned ks[] = { 3, 20 };
    (void)state;
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        unsigned k = ks[t];
        char yaml[4096], text[3 * 200 + 1];
        size_t n = 0, chars = 200, want = 0;
        n += (size_t)snprintf(yaml + n, sizeof yaml - n,
            "policy: deep\nversion: 1\nrules:\n"
            "  - {id: ah, action: flag, terms: [");
        for (unsigned len = 1; len <= k; len++) {
            n += (size_t)snprintf(yaml + n, sizeof yaml - n, "%s",
                len > 1 ? ", " : "");
            for (unsigned c = 0; c < len; c++)
                n += (size_t)snprintf(yaml + n, sizeof yaml - n, "啊");
        }
        snprintf(yaml + n, sizeof yaml - n, "]}\n");
        for (size_t c = 0; c < chars; c++)
            memcpy(text + 3 * c, "啊", 3);
        text[3 * chars] = '\0';
        for (unsigned len = 1; len <= k; len++)
            want += chars - len + 1;
        fx f;
        fx_open(&f, yaml);
        sluice_verdict *v = check(&f, text);
        assert_int_equal(sluice_verdict_span_count(v), want);
        size_t ps = 0, pe = 0;
        for (size_t i = 0; i < want; i++) {
            size_t st, en;
            sluice_span sp;
            assert_int_equal(sluice_verdict_span(v, i, &sp), 0);
            st = sp.start;
            en = sp.end;
            assert_true(st % 3 == 0 && en % 3 == 0 && en > st &&
                en - st <= 3 * k);
            if (i > 0)
                assert_true(st > ps || (st == ps && en > pe));
            ps = st;
            pe = en;
        }
        sluice_verdict_free(v);
        fx_close(&f);
    }
}

/* Rules whose matches hold a long run of digits, spaces and hyphens (or
 * of digits and dots) are looked at only when the text holds one
 * (rx_run_of): a number at any offset, across the 64-byte blocks of the
 * scan for runs, is found, and a run one byte short opens nothing. */
static void number_rules_are_found_at_every_offset(void **state)
{
    static const char *yaml =
        "policy: runs\nversion: 1\n"
        "rules:\n"
        "  - {id: num, action: redact, regex: '(?<![0-9])[0-9]{12}(?![0-9])'}\n"
        "  - {id: tel, action: redact,\n"
        "     regex: '1[3-9][0-9][ -][0-9]{4}[ -][0-9]{4}'}\n"
        "  - {id: ip, action: redact,\n"
        "     regex: '(?<![0-9.])(?:[0-9]{1,3}\\.){3}[0-9]{1,3}(?![0-9.])'}\n";
    fx f;
    char text[400];
    (void)state;
    fx_open(&f, yaml);
    for (size_t off = 0; off < 140; off++) {
        /* filler with short runs of its own: 12 -, 2024 */
        static const char fill[] = "ab 12 -x 2024 y- 1 2 3 q";
        size_t k;
        for (k = 0; k < off; k++)
            text[k] = fill[k % (sizeof fill - 1)];
        snprintf(text + off, sizeof text - off, " 123456789012 z%.*s",
            (int)(off % 70), "tail tail tail tail tail tail tail tail tail "
            "tail tail tail tail tail tail");
        expect_rule(&f, text, "num", 1);
        snprintf(text + off, sizeof text - off, " 12345678901 z 138-1234-5678");
        expect_rule(&f, text, "num", 0);
        expect_rule(&f, text, "tel", 1);
        snprintf(text + off, sizeof text - off, " 138-1234-567 z");
        expect_rule(&f, text, "tel", 0);
        snprintf(text + off, sizeof text - off, " 10.0.0.1 z 1.2.3");
        expect_rule(&f, text, "ip", 1);
        snprintf(text + off, sizeof text - off, " 1.2.3 z 4.5.6");
        expect_rule(&f, text, "ip", 0);
    }
    fx_close(&f);
}

/* A leet symbol (| ! @ $ ( +) between letters is read both ways: as the
 * letter it stands for and as noise. */
static void leet_symbols_are_also_read_as_noise(void **state)
{
    expect_rule(*state, "f|u|c|k that", "profanity.en", 1);
    expect_rule(*state, "f!u!c!k that", "profanity.en", 1);
    expect_rule(*state, "f||u||c||k", "profanity.en", 1);
    expect_rule(*state, "ｆ|ｕ|ｃ|ｋ", "profanity.en", 1);
    expect_rule(*state, "a|s|s|h|o|l|e", "profanity.en", 1);
    expect_rule(*state, "a$$hole", "profanity.en", 1);     /* as letters */
    expect_rule(*state, "sh!t", "profanity.en", 1);
    expect_rule(*state, "sh1t!", "profanity.en", 1);
    /* as noise they join nothing that noise would not */
    expect_rule(*state, "f|u|n", "profanity.en", 0);
    expect_rule(*state, "fu!|ck", "profanity.en", 1);
    expect_rule(*state, "Shh! It is late", "profanity.en", 0);
    expect_rule(*state, "a|s|h|o|l|e", "profanity.en", 0);
}

/* Spaces between chunks of two letters ("fu ck") are read as letter
 * spacing for rules with word boundaries; a longer word on either side
 * ("pen is") is a word, and substring rules keep the stricter rule. */
static void short_chunks_join_only_for_word_rules(void **state)
{
    expect_rule(*state, "what the fu ck", "profanity.en", 1);
    expect_rule(*state, "what the fu  ck", "profanity.en", 1);
    expect_rule(*state, "SH IT happens", "profanity.en", 1);
    expect_rule(*state, "bi tc h", "profanity.en", 1);
    expect_rule(*state, "the pen is mightier", "profanity.en", 0);
    expect_rule(*state, "bit ch", "profanity.en", 0);
    expect_rule(*state, "Shh, it is late", "profanity.en", 0);
    expect_rule(*state, "Shh. It is late", "profanity.en", 0);
    expect_rule(*state, "ass hole", "profanity.en", 0);
    expect_rule(*state, "whatcu nt", "profanity.zh", 0);
    expect_rule(*state, "what cu nt", "profanity.zh", 0);  /* substring */
    expect_rule(*state, "what c u nt", "profanity.zh", 1);
}

/* A space between two ideographs is letter spacing when ICU's dictionary
 * segmentation of the text without it sees one word there (炸药, 配方),
 * not when it sees two (傻|逼 in 我很傻 逼你做). */
static void spaces_inside_chinese_words_are_skipped(void **state)
{
    expect_rule(*state, "以下是炸 药的配 方：第一步", "recipe.explosive", 1);
    expect_rule(*state, "以下是炸  药的配　方：第一步", "recipe.explosive", 1);
    expect_rule(*state, "以下是炸药的配方：第一步", "recipe.explosive", 1);
    expect_rule(*state, "以下是炸，药的配方：第一步", "recipe.explosive", 0);
    expect_rule(*state, "我很傻 逼你做", "profanity.zh", 0);
    expect_rule(*state, "我很傻　逼你做", "profanity.zh", 0);
}

/* Breaks are what ends a line, a clause or a sentence, and CJK quotes
 * and brackets; full-width symbols and middle dots are noise like their
 * ASCII forms. */
static void full_width_symbols_and_middle_dots_are_not_breaks(void **state)
{
    expect_rule(*state, "ｆ．ｕ．ｃ．ｋ that", "profanity.en", 1);
    expect_rule(*state, "你个傻＊逼", "profanity.zh", 1);
    expect_rule(*state, "你个傻·逼", "profanity.zh", 1);
    expect_rule(*state, "你个傻・逼", "profanity.zh", 1);
    expect_rule(*state, "你很傻？逼着", "profanity.zh", 0);
    expect_rule(*state, "他很「傻」逼着自己", "profanity.zh", 0);
    expect_rule(*state, "他很傻（逼）", "profanity.zh", 0);
}

/* Upper-case look-alikes read by their own skeleton. */
static void upper_case_look_alikes_are_folded(void **state)
{
    expect_rule(*state, "\u0405\u041D\u0406\u0422 happens", "profanity.en",
        1);                                                /* ЅНІТ */
    expect_rule(*state, "fu\u03F2k this", "profanity.en", 1);  /* lunate ϲ */
    expect_rule(*state, "ＳＨＩＴ happens", "profanity.en", 1);
    expect_rule(*state, "\u0432itch", "profanity.en", 0);      /* в */
}

static void natural_punctuation_is_not_skipped(void **state)
{
    expect_rule(*state, "他很傻，逼着自己学习", "profanity.zh", 0);
    expect_rule(*state, "the pen is mightier than the sword", "profanity.en", 0);
    expect_rule(*state, "i love bananas so yeah", "profanity.en", 0);
    expect_rule(*state, "this hit the spot", "profanity.en", 0);
}

static void repeats_are_collapsed(void **state)
{
    expect_rule(*state, "fuuuuuuckkk", "profanity.en", 1);
    expect_rule(*state, "shiiiiit", "profanity.en", 1);
    /* asshole needs its double s: a single s is another word */
    expect_rule(*state, "ashole", "profanity.en", 0);
    expect_rule(*state, "assssshole", "profanity.en", 1);
}

static void leetspeak_is_folded(void **state)
{
    expect_rule(*state, "sh1t happens", "profanity.en", 1);
    expect_rule(*state, "a$$hole", "profanity.en", 1);
    expect_rule(*state, "b!tch", "profanity.en", 1);
    expect_rule(*state, "5417 is a number", "profanity.en", 0);
}

/* sluice_verdict_read gives what each accessor gives. */
static void verdict_read_matches_the_accessors(void **state)
{
    static const char *const texts[] = {
        "hello", "call 13812345678 now", "what the fuck", "你这个傻逼",
        "\xff bad bytes",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        sluice_verdict *v = check(*state, texts[i]);
        sluice_verdict_info in;
        sluice_label_position pos;
        size_t n;
        memset(&in, 0xA5, sizeof in);
        in.version = SLUICE_VERDICT_INFO_VERSION;
        assert_int_equal(sluice_verdict_read(v, &in), 0);
        assert_int_equal(in.action, sluice_verdict_action(v));
        assert_ptr_equal(in.output, sluice_verdict_output(v, &n));
        assert_int_equal(in.output_len, n);
        assert_ptr_equal(in.reason, sluice_verdict_reason(v));
        assert_int_equal(in.nrules, sluice_verdict_rule_count(v));
        assert_int_equal(in.ncategories, sluice_verdict_category_count(v));
        assert_int_equal(in.nspans, sluice_verdict_span_count(v));
        assert_int_equal(in.spans_truncated, sluice_verdict_spans_truncated(v));
        assert_int_equal(in.invalid_utf8, sluice_verdict_invalid_utf8(v));
        assert_ptr_equal(in.policy, sluice_verdict_policy(v));
        assert_ptr_equal(in.label, sluice_verdict_label(v, &pos));
        assert_int_equal(in.label_position, pos);
        assert_int_equal(in.aigc, sluice_verdict_aigc(v, 0) != NULL);
        assert_int_equal(in.recorded, sluice_verdict_record(v, NULL, NULL));
        in.version = 99;
        assert_int_equal(sluice_verdict_read(v, &in), SLUICE_EINVAL);
        sluice_verdict_free(v);
    }
    assert_int_equal(sluice_verdict_read(NULL, NULL), SLUICE_EINVAL);
}

static void word_boundaries_use_icu_segmentation(void **state)
{
    expect_rule(*state, "大学生活很精彩", "student", 0);
    expect_rule(*state, "我是一名学生。", "student", 1);
    expect_rule(*state, "Middlesex shittake", "profanity.en", 0);
    expect_rule(*state, "bullshit", "profanity.en", 0);
    expect_rule(*state, "测试shit测试", "profanity.en", 1);
    /* an apostrophe bounds a word, however it is written */
    expect_rule(*state, "for shit's sake", "profanity.en", 1);
    expect_rule(*state, "for shit\u2019s sake", "profanity.en", 1);
    expect_rule(*state, "for shit\u02bcs sake", "profanity.en", 1);
    expect_rule(*state, "for shit\uff07s sake", "profanity.en", 1);
    expect_rule(*state, "it\u2019s shittake", "profanity.en", 0);
}

static void allow_list_suppresses_contained_matches(void **state)
{
    fx *f = *state;
    /* cunt is in the zh list (substring rule): Scunthorpe contains it */
    expect_rule(f, "I live in Scunthorpe.", "profanity.zh", 0);
    expect_rule(f, "what a cunt", "profanity.zh", 1);
    sluice_verdict *v = check(f, "Scunthorpe, you cunt");
    assert_int_equal(sluice_verdict_span_count(v), 1);
    sluice_span sp;
    assert_int_equal(sluice_verdict_span(v, 0, &sp), 0);
    assert_int_equal(sp.start, 16);
    assert_int_equal(sp.end, 20);
    sluice_verdict_free(v);
}

/* ---- offsets, outputs ---------------------------------------------------- */

/* A text dense with hits: every span still maps to its original bytes
   (the metadata windows of a whole-text check switch to covering the
   rest of the text after a few hits). */
static void dense_hits_keep_exact_offsets(void **state)
{
    fx *f = *state;
    static const char *const pieces[] = { "傻逼，", "傻*逼 ", "傻 . 逼。", "ok 傻逼" };
    char text[8192];
    size_t len = 0, want = 0, starts[400];
    for (size_t i = 0; i < 400; i++) {
        const char *pc = pieces[(i * 7) % 4];
        const char *at = strstr(pc, "傻");
        starts[want++] = len + (size_t)(at - pc);
        memcpy(text + len, pc, strlen(pc));
        len += strlen(pc);
    }
    text[len] = '\0';
    sluice_verdict *v = check(f, text);
    assert_int_equal(sluice_verdict_span_count(v), want);
    for (size_t i = 0; i < want; i++) {
        sluice_span sp;
        assert_int_equal(sluice_verdict_span(v, i, &sp), 0);
        assert_int_equal(sp.start, starts[i]);
        assert_memory_equal(text + sp.start, "傻", 3);
        assert_memory_equal(text + sp.end - 3, "逼", 3);
    }
    sluice_verdict_free(v);
}

static void spans_are_original_byte_offsets(void **state)
{
    fx *f = *state;
    const char *t = "好 ｆ.ｕ.ｃ.ｋ!";   /* full width, dotted */
    sluice_verdict *v = check(f, t);
    sluice_span sp;
    assert_int_equal(sluice_verdict_action(v), SLUICE_REDACT);
    assert_int_equal(sluice_verdict_span_count(v), 1);
    assert_int_equal(sluice_verdict_span(v, 0, &sp), 0);
    assert_int_equal(sp.start, 4);              /* after "好 " */
    assert_int_equal(sp.end, strlen(t) - 1);    /* before "!" */
    assert_string_equal(sp.rule, "profanity.en");
    assert_non_null(sp.term);
    assert_string_equal(sp.term, "fuck");     /* as the policy wrote it */
    size_t n;
    const char *out = sluice_verdict_output(v, &n);
    assert_string_equal(out, "好 [已隐藏]!");
    sluice_verdict_free(v);

    /* the second term of a list, and a regex (no term) */
    v = check(f, "操你妈 11010519491231002X");
    assert_int_equal(sluice_verdict_span_count(v), 2);
    assert_int_equal(sluice_verdict_span(v, 0, &sp), 0);
    assert_string_equal(sp.term, "操你妈");
    assert_int_equal(sluice_verdict_span(v, 1, &sp), 0);
    assert_string_equal(sp.rule, "pii.cn_id");
    assert_null(sp.term);
    sluice_verdict_free(v);
}

static void redaction_uses_the_language_of_the_text(void **state)
{
    fx *f = *state;
    sluice_verdict *v = check(f, "oh shit, sorry");
    assert_string_equal(sluice_verdict_output(v, NULL), "oh [redacted], sorry");
    sluice_verdict_free(v);
    v = check(f, "你这个傻逼和shit");
    assert_string_equal(sluice_verdict_output(v, NULL), "你这个[已隐藏]和[已隐藏]");
    assert_int_equal(sluice_verdict_category_count(v), 1);
    assert_string_equal(sluice_verdict_category(v, 0), "profanity");
    sluice_verdict_free(v);
}

static void block_returns_the_refusal(void **state)
{
    fx *f = *state;
    sluice_verdict *v = check(f, "这是炸药的配方：……");
    assert_int_equal(sluice_verdict_action(v), SLUICE_BLOCK);
    assert_string_equal(sluice_verdict_output(v, NULL), "抱歉，该内容无法显示。");
    assert_true(fired(v, "recipe.explosive"));
    sluice_verdict_free(v);
}

static void co_occurrence_needs_every_term_in_the_window(void **state)
{
    expect_rule(*state, "炸药很危险，不要找配方", "recipe.explosive", 1);
    expect_rule(*state, "炸药是一种危险的东西，我们应该远离它。这个蛋糕的配方很简单",
        "recipe.explosive", 0);
    expect_rule(*state, "只有炸药", "recipe.explosive", 0);
}

static void id_numbers_need_a_valid_check_digit(void **state)
{
    fx *f = *state;
    sluice_verdict *v = check(f, "我的身份证号是11010519491231002X");
    assert_int_equal(sluice_verdict_action(v), SLUICE_REDACT);
    assert_string_equal(sluice_verdict_output(v, NULL), "我的身份证号是[已隐藏]");
    sluice_verdict_free(v);
    expect_rule(f, "我的身份证号是110105194912310021", "pii.cn_id", 0);
    expect_rule(f, "订单号 9110105194912310021X", "pii.cn_id", 0);
}

static void clean_text_is_allowed_unchanged(void **state)
{
    fx *f = *state;
    const char *t = "今天天气很好。The weather is lovely today.";
    sluice_verdict *v = check(f, t);
    assert_int_equal(sluice_verdict_action(v), SLUICE_ALLOW);
    assert_string_equal(sluice_verdict_output(v, NULL), t);
    assert_int_equal(sluice_verdict_rule_count(v), 0);
    assert_string_equal(sluice_policy_id(sluice_verdict_policy(v)), "test");
    assert_int_equal(sluice_policy_version(sluice_verdict_policy(v)), 3);
    assert_int_equal(strlen(sluice_policy_hash(sluice_verdict_policy(v))), 64);
    sluice_verdict_free(v);
}

static void empty_input_is_allowed(void **state)
{
    fx *f = *state;
    sluice_verdict *v = NULL;
    assert_int_equal(sluice_check(f->e, "", 0, NULL, &v, NULL), 0);
    assert_int_equal(sluice_verdict_action(v), SLUICE_ALLOW);
    sluice_verdict_free(v);
}

static void invalid_utf8_is_read_as_replacement_and_counted(void **state)
{
    fx *f = *state;
    const char t[] = "bad \xC0\xAF bytes \xED\xA0\x80 then sh\xFFit and shit\xE4\xB8";
    sluice_verdict *v = NULL;
    assert_int_equal(sluice_check(f->e, t, sizeof t - 1, NULL, &v, NULL), 0);
    assert_true(sluice_verdict_invalid_utf8(v) >= 4);
    assert_true(fired(v, "profanity.en"));
    char *js = NULL;
    size_t n = 0;
    assert_int_equal(sluice_verdict_json(v, &js, &n), 0);
    assert_non_null(strstr(js, "\"invalid_utf8\":"));
    free(js);
    sluice_verdict_free(v);
}

static void input_over_the_limit_is_refused(void **state)
{
    fx *f = *state;
    sluice_engine *e = NULL;
    sluice_engine_options o = SLUICE_ENGINE_OPTIONS_INIT;
    sluice_verdict *v = NULL;
    sluice_error err;
    o.max_input = 8;
    assert_int_equal(sluice_engine_new(&e, &o, NULL), 0);
    assert_int_equal(sluice_engine_set_policy(e, f->p), 0);
    assert_int_equal(sluice_check(e, "123456789", 9, NULL, &v, &err),
        SLUICE_ETOOBIG);
    assert_null(v);
    sluice_engine_free(e);
}

static void an_engine_without_policy_fails_closed(void **state)
{
    sluice_engine *e = NULL;
    sluice_verdict *v = NULL;
    (void)state;
    assert_int_equal(sluice_engine_new(&e, NULL, NULL), 0);
    assert_int_equal(sluice_check(e, "hi", 2, NULL, &v, NULL),
        SLUICE_ENOPOLICY);
    assert_null(v);
    sluice_engine_free(e);
}

static void verdict_json_has_the_contract_fields(void **state)
{
    fx *f = *state;
    sluice_verdict *v = check(f, "oh \"shit\"\n");
    char *js = NULL;
    size_t n = 0;
    assert_int_equal(sluice_verdict_json(v, &js, &n), 0);
    assert_int_equal(strlen(js), n);
    assert_non_null(strstr(js, "\"action\":\"redact\""));
    assert_non_null(strstr(js, "\"rules\":[\"profanity.en\"]"));
    assert_non_null(strstr(js, "\"spans\":[{\"start\":4,\"end\":8,"));
    assert_non_null(strstr(js, "\"output\":\"oh \\\"[redacted]\\\"\\n\""));
    assert_non_null(strstr(js, "\"policy\":{\"id\":\"test\",\"version\":3,"));
    assert_non_null(strstr(js, "\"signed\":false"));
    free(js);
    sluice_verdict_free(v);
}

/* ---- compile errors ------------------------------------------------------ */

static void expect_load_error(const char *yaml, int line, const char *phrase)
{
    char *dir = write_policy(yaml, NULL, NULL);
    sluice_policy *p = NULL;
    sluice_error err;
    char cmd[600];
    memset(&err, 0, sizeof err);
    int rc = sluice_policy_load(&p, dir, NULL, &err);
    assert_int_equal(rc, SLUICE_EPOLICY);
    assert_null(p);
    if (strstr(err.message, phrase) == NULL)
        fail_msg("message '%s' lacks '%s'", err.message, phrase);
    assert_int_equal(err.line, line);
    assert_non_null(strstr(err.file, "policy.yaml"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static void a_bad_regex_names_its_line_and_offset(void **state)
{
    (void)state;
    expect_load_error(
        "policy: x\nversion: 1\nrules:\n"
        "  - id: r\n    action: block\n    regex: 'ab(c'\n", 6, "offset 4");
}

static void a_catastrophic_regex_is_refused(void **state)
{
    (void)state;
    expect_load_error(
        "policy: x\nversion: 1\nrules:\n"
        "  - id: r\n    action: block\n    regex: '(a+)+$'\n", 6,
        "catastrophic");
}

static void a_term_that_normalizes_to_nothing_is_refused(void **state)
{
    (void)state;
    expect_load_error(
        "policy: x\nversion: 1\nrules:\n"
        "  - id: r\n    action: block\n    terms: ['a', '\xE2\x80\x8B']\n", 6,
        "normalizes to nothing");
}

static void a_bad_policy_never_replaces_a_good_one(void **state)
{
    fx *f = *state;
    char *dir = write_policy("policy: x\nversion: 1\nrules:\n  - id: r\n"
        "    action: block\n    regex: '('\n", NULL, NULL);
    sluice_policy *p = NULL;
    assert_int_equal(sluice_policy_load(&p, dir, NULL, NULL), SLUICE_EPOLICY);
    assert_null(p);
    sluice_policy *cur = sluice_engine_policy(f->e);
    assert_ptr_equal(cur, f->p);
    sluice_policy_unref(cur);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* ---- threads ------------------------------------------------------------- */

typedef struct worker {
    sluice_engine *e;
    const sluice_policy *a, *b;
    int bad;
    int n;
} worker;

static void *check_loop(void *arg)
{
    worker *w = arg;
    const char *t = "你这个傻逼 and shit, 身份证11010519491231002X";
    for (int i = 0; i < w->n; i++) {
        sluice_verdict *v = NULL;
        if (sluice_check(w->e, t, strlen(t), NULL, &v, NULL) != 0) {
            w->bad++;
            continue;
        }
        const sluice_policy *p = sluice_verdict_policy(v);
        if ((p != w->a && p != w->b) || sluice_verdict_action(v) != SLUICE_REDACT)
            w->bad++;
        sluice_verdict_free(v);
    }
    return NULL;
}

static void threads_check_while_the_policy_is_swapped(void **state)
{
    fx *f = *state;
    sluice_policy *b = NULL;
    assert_int_equal(sluice_policy_load(&b, f->dir, NULL, NULL), 0);
    worker w[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (worker){f->e, f->p, b, 0, 300};
        assert_int_equal(pthread_create(&th[i], NULL, check_loop, &w[i]), 0);
    }
    for (int i = 0; i < 200; i++)
        assert_int_equal(sluice_engine_set_policy(f->e, i % 2 ? f->p : b), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].bad, 0);
    }
    assert_int_equal(sluice_engine_set_policy(f->e, f->p), 0);
    sluice_policy_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_width_and_case_are_folded),
        cmocka_unit_test(circled_and_styled_letters_are_folded),
        cmocka_unit_test(traditional_chinese_is_folded),
        cmocka_unit_test(confusable_letters_are_folded),
        cmocka_unit_test(zero_width_and_bidi_are_ignored),
        cmocka_unit_test(inserted_symbols_and_spaces_are_skipped),
        cmocka_unit_test(natural_punctuation_is_not_skipped),
        cmocka_unit_test(runs_continue_across_noise),
        cmocka_unit_test(a_term_with_a_run_across_its_own_space_matches),
        cmocka_unit_test(overlapping_spans_come_out_sorted),
        cmocka_unit_test(number_rules_are_found_at_every_offset),
        cmocka_unit_test(leet_symbols_are_also_read_as_noise),
        cmocka_unit_test(short_chunks_join_only_for_word_rules),
        cmocka_unit_test(spaces_inside_chinese_words_are_skipped),
        cmocka_unit_test(full_width_symbols_and_middle_dots_are_not_breaks),
        cmocka_unit_test(upper_case_look_alikes_are_folded),
        cmocka_unit_test(repeats_are_collapsed),
        cmocka_unit_test(leetspeak_is_folded),
        cmocka_unit_test(word_boundaries_use_icu_segmentation),
        cmocka_unit_test(verdict_read_matches_the_accessors),
        cmocka_unit_test(allow_list_suppresses_contained_matches),
        cmocka_unit_test(dense_hits_keep_exact_offsets),
        cmocka_unit_test(spans_are_original_byte_offsets),
        cmocka_unit_test(redaction_uses_the_language_of_the_text),
        cmocka_unit_test(block_returns_the_refusal),
        cmocka_unit_test(co_occurrence_needs_every_term_in_the_window),
        cmocka_unit_test(id_numbers_need_a_valid_check_digit),
        cmocka_unit_test(clean_text_is_allowed_unchanged),
        cmocka_unit_test(empty_input_is_allowed),
        cmocka_unit_test(invalid_utf8_is_read_as_replacement_and_counted),
        cmocka_unit_test(input_over_the_limit_is_refused),
        cmocka_unit_test(an_engine_without_policy_fails_closed),
        cmocka_unit_test(verdict_json_has_the_contract_fields),
        cmocka_unit_test(a_bad_regex_names_its_line_and_offset),
        cmocka_unit_test(a_catastrophic_regex_is_refused),
        cmocka_unit_test(a_term_that_normalizes_to_nothing_is_refused),
        cmocka_unit_test(a_bad_policy_never_replaces_a_good_one),
        cmocka_unit_test(threads_check_while_the_policy_is_swapped),
    };
    return cmocka_run_group_tests_name("check", tests, setup, teardown);
}
