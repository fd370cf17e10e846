/*
 * hostile_input_test.c - the bad-input corpus (issue #10, point 5): text a
 * prompter can make a model emit, checked whole and streamed on the
 * baseline policy.
 *
 * Every input goes through sluice_check() and through sessions cut in
 * several ways, and must:
 *   - not crash, leak or trip a sanitizer, and return a verdict;
 *   - have spans inside the input, ordered by start, on code point
 *     boundaries (when the input is valid UTF-8);
 *   - release the right bytes: the input itself when allowed; the input
 *     outside the spans, in order, when redacted; the refusal when
 *     blocked;
 *   - count its invalid UTF-8 sequences as U+FFFD (one per maximal
 *     subpart, as the Unicode standard recommends);
 *   - stream to what the whole text gives (docs/streaming.md), except
 *     that a session may stop early with reason "session_limit" (its
 *     documented cap on held bytes);
 *   - get the expected verdict when it hides a baseline term behind
 *     invalid bytes, NULs, controls, bidi overrides, zalgo marks,
 *     variation selectors, joiners, look-alike letters or full width.
 *
 * Inputs: invalid UTF-8 of every kind (overlongs, surrogates, truncated
 * sequences, lone continuation bytes, 0xF5..0xFF, beyond U+10FFFF), NULs,
 * a 2 MiB single line, RTL overrides and isolates, zalgo, emoji ZWJ
 * sequences, variation selectors, mixed scripts, and 10 MB of one
 * repeated character (three kinds).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "testutil.h"

typedef struct fx {
    sluice_policy *p;
    sluice_engine *e;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    sluice_error err;
    if (f == NULL)
        return -1;
    if (sluice_policy_load(&f->p, "policies/baseline", NULL, &err) != 0) {
        fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.message);
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
    sluice_engine_free(f->e);
    sluice_policy_unref(f->p);
    free(f);
    return 0;
}

/* ---- checks every input goes through ----------------------------------- */

/* 1 if s[0..n) is well-formed UTF-8. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) { k = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { k = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

static int is_refusal(const char *o, size_t n)
{
    static const char *const r[] = { "Sorry, this content can't be shown.",
        "抱歉，该内容无法显示。" };
    for (size_t i = 0; i < 2; i++)
        if (n == strlen(r[i]) && memcmp(o, r[i], n) == 0)
            return 1;
    return 0;
}

/* The released bytes of a redaction: the input outside the (merged)
   spans, in order, with something between them. */
static void check_redaction(const sluice_verdict *v, const char *t,
    size_t n, const char *o, size_t ol, const char *name)
{
    size_t ns = sluice_verdict_span_count(v), keep = 0, at = 0;
    for (size_t i = 0; i <= ns; i++) {
        sluice_span sp = { n, n, NULL, SLUICE_ALLOW, NULL };
        if (i < ns)
            assert_int_equal(sluice_verdict_span(v, i, &sp), 0);
        if (i < ns && sp.action < SLUICE_REDACT)
            continue;                      /* flags keep their text */
        if (sp.start > keep) {
            const char *seg = t + keep;
            size_t sl = sp.start - keep;
            const char *hit = at <= ol ? memmem(o + at, ol - at, seg, sl) :
                NULL;
            if (hit == NULL || (keep == 0 && hit != o))
                fail_msg("%s: the text before byte %zu is not released as "
                    "it was", name, sp.start);
            at = (size_t)(hit - o) + sl;
        }
        if (sp.end > keep)
            keep = sp.end;
    }
    if (keep < n)
        assert_int_equal(at, ol);          /* the tail ends the output */
}

/* `whole`: v is sluice_check()'s, whose output is the text to release (a
   session's verdict has only the refusal, or nothing). */
static void check_verdict(const sluice_verdict *v, const char *t, size_t n,
    const char *name, int whole)
{
    size_t ns = sluice_verdict_span_count(v), last = 0, ol;
    int valid = utf8_ok((const unsigned char *)t, n);
    sluice_action a = sluice_verdict_action(v);
    const char *o = sluice_verdict_output(v, &ol);
    for (size_t i = 0; i < ns; i++) {
        sluice_span sp;
        assert_int_equal(sluice_verdict_span(v, i, &sp), 0);
        if (!(sp.start < sp.end && sp.end <= n && sp.start >= last))
            fail_msg("%s: span %zu [%zu,%zu) of %zu bytes", name, i,
                sp.start, sp.end, n);
        if (valid && (((unsigned char)t[sp.start] & 0xC0) == 0x80 ||
                (sp.end < n && ((unsigned char)t[sp.end] & 0xC0) == 0x80)))
            fail_msg("%s: span %zu [%zu,%zu) cuts a code point", name, i,
                sp.start, sp.end);
        assert_non_null(sp.rule);
        assert_true(sp.action <= a);
        last = sp.start;
    }
    if (!whole && a != SLUICE_BLOCK) {
        assert_int_equal(ol, 0);
    } else if (a == SLUICE_BLOCK) {
        if (!is_refusal(o, ol))
            fail_msg("%s: blocked, but the output is not the refusal", name);
    } else if (ns == 0 || a < SLUICE_REDACT) {
        if (ol != n || memcmp(o, t, n) != 0)
            fail_msg("%s: %s, but the output is not the input", name,
                sluice_action_name(a));
    } else {
        check_redaction(v, t, n, o, ol, name);
    }
    char *js = NULL;
    assert_int_equal(sluice_verdict_json(v, &js, NULL), 0);
    free(js);
}

/* ---- streaming ------------------------------------------------------------ */

typedef struct stream_out {
    char *out;
    size_t len, cap;
    int stopped;
    size_t released_input;
    sluice_verdict *v;
} stream_out;

static void append(stream_out *r, const sluice_release *rel)
{
    if (rel->stop || rel->len == 0)
        return;
    if (r->len + rel->len > r->cap) {
        r->cap = (r->len + rel->len) * 2;
        r->out = realloc(r->out, r->cap);
        assert_non_null(r->out);
    }
    memcpy(r->out + r->len, rel->data, rel->len);
    r->len += rel->len;
}

static void stream(sluice_engine *e, const char *t, size_t n, size_t chunk,
    stream_out *r)
{
    sluice_session *s = NULL;
    sluice_release rel;
    size_t pos = 0;
    memset(r, 0, sizeof *r);
    assert_int_equal(sluice_session_new(&s, e, NULL, NULL, NULL), 0);
    while (pos < n && !r->stopped) {
        size_t c = n - pos < chunk ? n - pos : chunk;
        assert_int_equal(sluice_session_feed(s, t + pos, c, &rel), 0);
        pos += c;
        append(r, &rel);
        if (rel.stop) {
            r->stopped = 1;
            r->released_input = pos - sluice_session_held(s);
        }
    }
    assert_int_equal(sluice_session_finish(s, &rel, &r->v), 0);
    if (!r->stopped) {
        append(r, &rel);
        if (rel.stop) {
            r->stopped = 1;
            r->released_input = n - sluice_session_held(s);
        }
    }
    sluice_session_free(s);
}

/* The contract of docs/streaming.md, "The guarantee". Returns 1 if the
   session stopped at its held-bytes cap instead (documented). */
static int compare(const sluice_verdict *w, const stream_out *r,
    const char *name, size_t chunk)
{
    const char *why = sluice_verdict_reason(r->v);
    sluice_action a = sluice_verdict_action(w);
    size_t wn = sluice_verdict_span_count(w);
    size_t sn = sluice_verdict_span_count(r->v);
    sluice_span x, y;
    if (why != NULL && strcmp(why, "session_limit") == 0) {
        assert_int_equal(sluice_verdict_action(r->v), SLUICE_BLOCK);
        return 1;
    }
    if (sluice_verdict_action(r->v) != a)
        fail_msg("%s, chunks of %zu: %s whole, %s streamed", name, chunk,
            sluice_action_name(a),
            sluice_action_name(sluice_verdict_action(r->v)));
    if (a != SLUICE_BLOCK) {
        size_t ol;
        const char *o = sluice_verdict_output(w, &ol);
        if (r->stopped || ol != r->len || memcmp(o, r->out, ol) != 0)
            fail_msg("%s, chunks of %zu: released %zu bytes, whole output "
                "%zu", name, chunk, r->len, ol);
        assert_int_equal(sn, wn);
    } else {
        assert_true(r->stopped);
        assert_true(sn <= wn);
    }
    for (size_t i = 0; i < sn; i++) {
        assert_int_equal(sluice_verdict_span(w, i, &x), 0);
        assert_int_equal(sluice_verdict_span(r->v, i, &y), 0);
        if (x.start != y.start || x.end != y.end || strcmp(x.rule, y.rule))
            fail_msg("%s, chunks of %zu: span %zu differs", name, chunk, i);
    }
    for (size_t i = 0; a == SLUICE_BLOCK && i < wn; i++) {
        assert_int_equal(sluice_verdict_span(w, i, &x), 0);
        if (x.action == SLUICE_BLOCK) {
            assert_true(r->released_input <= x.start);
            break;
        }
    }
    return 0;
}

/*
 * Check t[0..n) whole and streamed. `expect` is the action wanted (-1:
 * any), `rule` a rule that must fire (NULL: none asked), `invalid` the
 * invalid sequences (-1: not checked). Chunk sizes: all of 1, 2, 3, 7,
 * 64 for short texts; 64 KiB and about 1 MB for long ones (64 KiB only
 * past 4 MiB, to keep the test fast under ASan). Returns how many
 * sessions stopped at their cap.
 */
static size_t check_text(sluice_engine *e, const char *name, const char *t,
    size_t n, int expect, const char *rule, long invalid)
{
    static const size_t small[] = { 1, 2, 3, 7, 64 };
    static const size_t large[] = { 65536, 1000003 };
    const size_t *chunks = n <= 4096 ? small : large;
    size_t nchunks = n <= 4096 ? 5 : n <= ((size_t)4 << 20) ? 2 : 1;
    size_t capped = 0;
    sluice_verdict *w = NULL;
    assert_int_equal(sluice_check(e, t, n, NULL, &w, NULL), 0);
    check_verdict(w, t, n, name, 1);
    if (expect >= 0 && (int)sluice_verdict_action(w) != expect)
        fail_msg("%s: %s, expected %s", name,
            sluice_action_name(sluice_verdict_action(w)),
            sluice_action_name(expect));
    if (rule != NULL) {
        int found = 0;
        for (size_t i = 0; i < sluice_verdict_rule_count(w); i++)
            found |= strcmp(sluice_verdict_rule(w, i), rule) == 0;
        if (!found)
            fail_msg("%s: rule %s did not fire", name, rule);
    }
    if (invalid >= 0 && sluice_verdict_invalid_utf8(w) != (size_t)invalid)
        fail_msg("%s: %zu invalid sequences counted, expected %ld", name,
            sluice_verdict_invalid_utf8(w), invalid);
    for (size_t c = 0; c < nchunks; c++) {
        stream_out r;
        stream(e, t, n, chunks[c], &r);
        check_verdict(r.v, t, n, name, 0);
        capped += (size_t)compare(w, &r, name, chunks[c]);
        sluice_verdict_free(r.v);
        free(r.out);
    }
    sluice_verdict_free(w);
    return capped;
}

typedef struct tcase {
    const char *name;
    const char *text;
    size_t len;             /* 0: strlen(text) */
    int expect;             /* sluice_action, -1: any */
    const char *rule;
    long invalid;           /* -1: not checked */
} tcase;

#define T(name, s, expect, rule, inv) { name, s, sizeof s - 1, expect, rule, inv }

static void run_cases(void **state, const tcase *c, size_t n)
{
    fx *f = *state;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(check_text(f->e, c[i].name, c[i].text, c[i].len,
            c[i].expect, c[i].rule, c[i].invalid), 0);
}

/* ---- the corpus ------------------------------------------------------------ */

static void invalid_utf8_of_every_kind_is_counted_and_passed_through(
    void **state)
{
    static const tcase c[] = {
        T("overlong 2-byte C0 AF", "a\xC0\xAF" "b", SLUICE_ALLOW, NULL, 2),
        T("overlong 2-byte C1 BF", "\xC1\xBF", SLUICE_ALLOW, NULL, 2),
        T("overlong 3-byte", "x\xE0\x80\xAFy", SLUICE_ALLOW, NULL, 3),
        T("overlong 4-byte", "\xF0\x80\x80\xAF", SLUICE_ALLOW, NULL, 4),
        T("overlong NUL", "a\xC0\x80z", SLUICE_ALLOW, NULL, 2),
        T("high surrogate", "\xED\xA0\x80", SLUICE_ALLOW, NULL, 3),
        T("low surrogate", "\xED\xBF\xBF ok", SLUICE_ALLOW, NULL, 3),
        T("CESU-8 surrogate pair", "\xED\xA0\xBD\xED\xB8\x80", SLUICE_ALLOW,
            NULL, 6),
        T("truncated 3-byte at the end", "hi \xE4\xB8", SLUICE_ALLOW, NULL, 1),
        T("truncated 4-byte at the end", "\xF0\x9F\x98", SLUICE_ALLOW, NULL,
            1),
        T("truncated 2-byte at the end", "\xC3", SLUICE_ALLOW, NULL, 1),
        T("truncated 3-byte mid-text", "\xE4\xB8" "a\xE4\xB8\xAD",
            SLUICE_ALLOW, NULL, 1),
        T("lone continuation bytes", "\x80 \xBF\xBF", SLUICE_ALLOW, NULL, 3),
        T("bytes F5 to FF", "\xF5\xF6\xF7\xF8\xF9\xFA\xFB\xFC\xFD\xFE\xFF",
            SLUICE_ALLOW, NULL, 11),
        T("beyond U+10FFFF", "\xF4\x90\x80\x80", SLUICE_ALLOW, NULL, 4),
        T("5- and 6-byte forms", "\xF8\x88\x80\x80\x80\xFC\x84\x80\x80\x80\x80",
            SLUICE_ALLOW, NULL, 11),
        T("invalid bytes inside a term", "f\xC0\xAFuck", SLUICE_REDACT,
            "profanity.en", 2),
        T("0xFF inside a Chinese term", "\xE5\x82\xBB\xFF\xE9\x80\xBC",
            SLUICE_REDACT, "profanity.zh", 1),
        T("truncated sequence inside a term", "sh\xE4\xB8it", SLUICE_REDACT,
            "profanity.en", 1),
        T("invalid bytes around a phone number",
            "\xFF" "13812345678\xC0", SLUICE_REDACT, "pii.cn_mobile", 2),
    };
    run_cases(state, c, sizeof c / sizeof c[0]);
}

static void nuls_and_controls_neither_cut_nor_hide_text(void **state)
{
    static const tcase c[] = {
        T("NUL in plain text", "hello\0world\0", SLUICE_ALLOW, NULL, 0),
        T("NUL inside a term", "fu\0ck", SLUICE_REDACT, "profanity.en", 0),
        T("NUL inside a Chinese term", "\xE5\x82\xBB\0\xE9\x80\xBC",
            SLUICE_REDACT, "profanity.zh", 0),
        T("NUL before a term", "\0\0\0shit\0", SLUICE_REDACT, "profanity.en",
            0),
        T("C0 controls inside a term", "f\x01u\x02" "c\x03k", SLUICE_REDACT,
            "profanity.en", 0),
        T("only NULs", "\0\0\0\0\0\0\0\0", SLUICE_ALLOW, NULL, 0),
        T("DEL and C1 controls", "a\x7F\xC2\x80\xC2\x9F" "b", SLUICE_ALLOW,
            NULL, 0),
    };
    run_cases(state, c, sizeof c / sizeof c[0]);
}

static void bidi_overrides_and_isolates_do_not_hide_terms(void **state)
{
    static const tcase c[] = {
        T("RLO ... PDF around a term", "\xE2\x80\xAE" "fuck\xE2\x80\xAC",
            SLUICE_REDACT, "profanity.en", 0),
        T("RLO in a sentence", "a \xE2\x80\xAE" "fuck\xE2\x80\xAC b",
            SLUICE_REDACT, "profanity.en", 0),
        T("RLI ... PDI around a Chinese term",
            "\xE2\x81\xA7\xE5\x82\xBB\xE9\x80\xBC\xE2\x81\xA9", SLUICE_REDACT,
            "profanity.zh", 0),
        T("LRI ... PDI around a word", "\xE2\x81\xA6shit\xE2\x81\xA9",
            SLUICE_REDACT, "profanity.en", 0),
        T("marks inside a term", "f\xE2\x80\x8Eu\xE2\x80\x8F" "ck",
            SLUICE_REDACT, "profanity.en", 0),
        T("override inside a phone number",
            "138\xE2\x80\xAE" "1234\xE2\x80\xAC" "5678", -1, NULL, 0),
        T("unbalanced overrides", "\xE2\x80\xAE\xE2\x80\xAE\xE2\x80\xAE"
            "hello", SLUICE_ALLOW, NULL, 0),
        T("RTL script text", "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D "
            "\xD8\xB3\xD9\x84\xD8\xA7\xD9\x85", SLUICE_ALLOW, NULL, 0),
    };
    run_cases(state, c, sizeof c / sizeof c[0]);
}

static void zalgo_marks_do_not_hide_terms(void **state)
{
    static const tcase c[] = {
        T("zalgo on every letter of a term",
            "f\xCC\xB8\xCC\xA2\xCC\x9Bu\xCC\xB4\xCD\x87\xCD\x9D"
            "c\xCC\xB7\xCC\xA1\xCC\x9Bk\xCC\xB6\xCC\xA8\xCC\x9B",
            SLUICE_REDACT, "profanity.en", 0),
        T("one mark after a term", "fuck\xCC\x81 you", SLUICE_REDACT,
            "profanity.en", 0),
        T("zalgo on plain text",
            "h\xCC\x80\xCC\x81\xCC\x82\xCC\x83\xCC\x84\xCC\x85\xCC\x86\xCC\x87"
            "e\xCC\x88\xCC\x89\xCC\x8A\xCC\x8B\xCC\x8C\xCC\x8D\xCC\x8E\xCC\x8F"
            "llo", SLUICE_ALLOW, NULL, 0),
        T("marks with nothing to sit on", "\xCC\x81\xCC\x82\xCC\x83",
            SLUICE_ALLOW, NULL, 0),
    };
    fx *f = *state;
    char big[3 + 2 * 3000];
    run_cases(state, c, sizeof c / sizeof c[0]);
    /* a letter with 3,000 marks, then a term */
    size_t n = 0;
    big[n++] = 'a';
    for (int i = 0; i < 3000; i++) {
        big[n++] = (char)0xCC;
        big[n++] = (char)(0x80 + i % 0x30);
    }
    big[n++] = ' ';
    assert_int_equal(check_text(f->e, "3000 marks on one letter", big, n,
        SLUICE_ALLOW, NULL, 0), 0);
}

static void emoji_joiners_and_variation_selectors_do_not_hide_terms(
    void **state)
{
    static const tcase c[] = {
        T("family ZWJ sequence",
            "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"
            "\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6 family",
            SLUICE_ALLOW, NULL, 0),
        T("flag ZWJ sequence", "\xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D"
            "\xF0\x9F\x8C\x88", SLUICE_ALLOW, NULL, 0),
        T("a term then an emoji", "fuck\xF0\x9F\x91\xA8\xE2\x80\x8D"
            "\xF0\x9F\x91\xA9", SLUICE_REDACT, "profanity.en", 0),
        T("joiners between letters", "f\xE2\x80\x8Bu\xE2\x80\x8C"
            "c\xE2\x80\x8Dk", SLUICE_REDACT, "profanity.en", 0),
        T("a joiner after a term", "fuck\xE2\x80\x8D", SLUICE_REDACT,
            "profanity.en", 0),
        T("emoji variation selectors inside a term",
            "f\xEF\xB8\x8Fu\xEF\xB8\x8F" "c\xEF\xB8\x8Fk", SLUICE_REDACT,
            "profanity.en", 0),
        T("a variation selector after a term", "shit\xEF\xB8\x8F!",
            SLUICE_REDACT, "profanity.en", 0),
        T("a soft hyphen after a term", "fuck\xC2\xAD", SLUICE_REDACT,
            "profanity.en", 0),
        T("text variation selector in Chinese",
            "\xE5\x82\xBB\xEF\xB8\x8E\xE9\x80\xBC", SLUICE_REDACT,
            "profanity.zh", 0),
        T("ideographic variation selector in Chinese",
            "\xE5\x82\xBB\xF3\xA0\x84\x80\xE9\x80\xBC", SLUICE_REDACT,
            "profanity.zh", 0),
        T("keycap sequences", "1\xEF\xB8\x8F\xE2\x83\xA3" "2\xEF\xB8\x8F"
            "\xE2\x83\xA3", SLUICE_ALLOW, NULL, 0),
        T("a joiner glues a term into a longer word", "fuck\xE2\x80\x8Dx",
            SLUICE_ALLOW, NULL, 0),
    };
    run_cases(state, c, sizeof c / sizeof c[0]);
}

static void mixed_scripts_and_look_alikes_do_not_hide_terms(void **state)
{
    static const tcase c[] = {
        T("Cyrillic es in a term", "fu\xD1\x81k", SLUICE_REDACT,
            "profanity.en", 0),
        T("Cyrillic dze and i", "\xD1\x95h\xD1\x96t", SLUICE_REDACT,
            "profanity.en", 0),
        T("full width", "\xEF\xBD\x86\xEF\xBD\x95\xEF\xBD\x83\xEF\xBD\x8B",
            SLUICE_REDACT, "profanity.en", 0),
        T("Traditional Chinese", "\xE5\xA6\xB3\xE5\xA5\xB9\xE5\xAA\xBD"
            "\xE7\x9A\x84", SLUICE_REDACT, "profanity.zh", 0),
        T("Chinese, Latin and digits", "\xE6\x88\x91\xE7\x9A\x84\xE7\x94\xB5"
            "\xE8\xAF\x9D" "13812345678\xE8\xB0\xA2\xE8\xB0\xA2", SLUICE_REDACT,
            "pii.cn_mobile", 0),
        T("Greek, Cyrillic, Latin, CJK, Arabic, Devanagari",
            "\xCE\xB1\xCE\xB2 \xD0\xB0\xD0\xB1 ab \xE4\xB8\xAD "
            "\xD8\xB9\xD8\xB1 \xE0\xA4\xB9\xE0\xA4\xBF", SLUICE_ALLOW, NULL,
            0),
        T("full-width digits in a phone number",
            "\xEF\xBC\x91\xEF\xBC\x93\xEF\xBC\x98" "12345678", -1, NULL, 0),
    };
    run_cases(state, c, sizeof c / sizeof c[0]);
}

/* A 2 MiB line of prose (no newline), a term at a known offset and at
   the very end: spans must be exactly there. */
static void a_huge_single_line_is_checked_to_its_end(void **state)
{
    fx *f = *state;
    static const char word[] = "lorem ipsum dolor sit amet ";
    size_t n = (size_t)2 << 20, wl = sizeof word - 1, mid = n / 2;
    char *t = malloc(n);
    sluice_verdict *v = NULL;
    sluice_span sp;
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        t[i] = word[i % wl];
    mid -= mid % wl;                       /* at a word start */
    memcpy(t + mid, "shit ", 5);
    memcpy(t + n - 5, " fuck", 5);
    assert_int_equal(check_text(f->e, "2 MiB line", t, n, SLUICE_REDACT,
        "profanity.en", 0), 0);
    assert_int_equal(sluice_check(f->e, t, n, NULL, &v, NULL), 0);
    assert_int_equal(sluice_verdict_span_count(v), 2);
    assert_int_equal(sluice_verdict_span(v, 0, &sp), 0);
    assert_int_equal(sp.start, mid);
    assert_int_equal(sp.end, mid + 4);
    assert_int_equal(sluice_verdict_span(v, 1, &sp), 0);
    assert_int_equal(sp.start, n - 4);
    assert_int_equal(sp.end, n);
    sluice_verdict_free(v);
    free(t);
}

/* 10 MB of one character: ASCII, a CJK ideograph, an invalid byte. The
   whole check must allow each and return it intact; a session either
   agrees or stops at its cap (the run of 'a' may still become "ass..."
   under the repeat variant, so it is held). */
static void ten_megabytes_of_one_character_are_checked(void **state)
{
    fx *f = *state;
    size_t n = 10u * 1000 * 1000;
    char *t = malloc(n);
    size_t capped;
    assert_non_null(t);

    memset(t, 'a', n);
    capped = check_text(f->e, "10 MB of a", t, n, SLUICE_ALLOW, NULL, 0);
    fprintf(stderr, "# 10 MB of 'a': %zu session(s) stopped at the "
        "held-bytes cap\n", capped);

    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(t + i, "\xE4\xB8\xAD", 3);  /* 中 */
    capped = check_text(f->e, "10 MB of CJK", t, n - n % 3, SLUICE_ALLOW,
        NULL, 0);
    assert_int_equal(capped, 0);

    memset(t, 0xFF, n);
    capped = check_text(f->e, "10 MB of 0xFF", t, n, SLUICE_ALLOW, NULL,
        (long)n);
    assert_int_equal(capped, 0);
    free(t);
}

/* Over max_input is an error, not a verdict, and nothing is released. */
static void input_over_the_engine_limit_is_refused(void **state)
{
    fx *f = *state;
    sluice_engine_options eo = SLUICE_ENGINE_OPTIONS_INIT;
    sluice_engine *e = NULL;
    sluice_verdict *v = NULL;
    sluice_error err;
    char t[4097];
    memset(t, 'x', sizeof t);
    eo.max_input = 4096;
    assert_int_equal(sluice_engine_new(&e, &eo, NULL), 0);
    assert_int_equal(sluice_engine_set_policy(e, f->p), 0);
    assert_int_equal(sluice_check(e, t, 4096, NULL, &v, NULL), 0);
    sluice_verdict_free(v);
    v = NULL;
    assert_int_equal(sluice_check(e, t, sizeof t, NULL, &v, &err),
        SLUICE_ETOOBIG);
    assert_null(v);
    assert_int_equal(err.code, SLUICE_ETOOBIG);
    sluice_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            invalid_utf8_of_every_kind_is_counted_and_passed_through),
        cmocka_unit_test(nuls_and_controls_neither_cut_nor_hide_text),
        cmocka_unit_test(bidi_overrides_and_isolates_do_not_hide_terms),
        cmocka_unit_test(zalgo_marks_do_not_hide_terms),
        cmocka_unit_test(
            emoji_joiners_and_variation_selectors_do_not_hide_terms),
        cmocka_unit_test(mixed_scripts_and_look_alikes_do_not_hide_terms),
        cmocka_unit_test(a_huge_single_line_is_checked_to_its_end),
        cmocka_unit_test(ten_megabytes_of_one_character_are_checked),
        cmocka_unit_test(input_over_the_engine_limit_is_refused),
    };
    return cmocka_run_group_tests_name("hostile_input", tests, setup,
        teardown);
}
