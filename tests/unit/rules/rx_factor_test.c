/*
 * rx_factor_test.c - the spec of rules/rx_factor.c: the literal factors
 * that gate a regex rule's prefilter.
 *
 * A factor set is a promise: every match of the pattern contains one of
 * the strings. The tests check the sets the baseline policy's patterns
 * get, the constructs that must give no set at all, and the promise
 * itself on random patterns and texts: every match PCRE2 finds holds a
 * factor. The same for runs of digits, spaces and hyphens (rx_run_of):
 * every match holds a run as long as the pattern's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules/rx_factor.h"
#include "testutil.h"

/* The set, sorted, as "a|b|c" (empty if none). */
static const char *show(const char *pattern)
{
    static char out[RX_FACTOR_MAX * (RX_FACTOR_LEN + 1) + 1];
    rx_factors f;
    char *v[RX_FACTOR_MAX];
    unsigned n = rx_factors_of(pattern, &f);
    static char buf[RX_FACTOR_MAX][RX_FACTOR_LEN + 1];
    for (unsigned i = 0; i < n; i++) {
        memcpy(buf[i], f.s[i], f.len[i]);
        buf[i][f.len[i]] = '\0';
        v[i] = buf[i];
    }
    for (unsigned i = 1; i < n; i++)            /* insertion sort */
        for (unsigned k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
            char *t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        if (i)
            strcat(out, "|");
        strcat(out, v[i]);
    }
    return out;
}

static void baseline_patterns(void **state)
{
    (void)state;
    assert_string_equal(show("(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@"
        "[A-Za-z0-9-]{1,63}(?:\\.[A-Za-z0-9-]{1,63}){1,8}"), "@");
    assert_string_equal(show("-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED"
        " |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
        "-----BEGIN DSA PRIVATE KEY|-----BEGIN EC PRIVATE KEY|"
        "-----BEGIN ENCRYPTED PRIVATE KEY|-----BEGIN OPENSSH PRIVATE KEY|"
        "-----BEGIN PGP PRIVATE KEY|-----BEGIN PRIVATE KEY|"
        "-----BEGIN RSA PRIVATE KEY");
    assert_string_equal(show("(?<![A-Za-z0-9])(?:AKIA|ASIA)(?![A-Z2-7]{9}"
        "EXAMPLE)[A-Z2-7]{16}(?![A-Za-z0-9])"), "AKIA|ASIA");
    assert_string_equal(show("(?<![A-Za-z0-9_])(?:gh[pousr]_(?![xX]{8})"
        "[A-Za-z0-9]{36,251}|github_pat_(?![xX]{8})[A-Za-z0-9_]{82,244})"
        "(?![A-Za-z0-9_])"), "gho_|ghp_|ghr_|ghs_|ghu_|github_pat_");
    assert_string_equal(show("(?<![A-Za-z0-9_-])xox[baprs]-[0-9]{4,15}-"
        "[A-Za-z0-9-]{8,200}(?![A-Za-z0-9_-])"),
        "xoxa-|xoxb-|xoxp-|xoxr-|xoxs-");
    assert_string_equal(show("(?<![A-Za-z0-9_])[sr]k_live_[0-9A-Za-z]{20,247}"
        "(?![A-Za-z0-9_])"), "rk_live_|sk_live_");
    assert_string_equal(show("(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,200}\\.eyJ"
        "[A-Za-z0-9_-]{8,1200}\\.[A-Za-z0-9_-]{0,700}(?![A-Za-z0-9_-])"),
        "eyJ");
    /* digits only, or one common character: no gate */
    assert_string_equal(show("(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])"), "");
    assert_string_equal(show("(?<![0-9])(?:(?:\\+|00)?86[ -]?)?1[3-9][0-9]"
        "(?:[0-9]{8}|[ -][0-9]{4}[ -][0-9]{4})(?![0-9])"), "");
    assert_string_equal(show("(?:[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7})"), "");
    assert_string_equal(show("[0-9]{1,3}\\.[0-9]{1,3}"), "");
}

static void constructs(void **state)
{
    (void)state;
    assert_string_equal(show("abc"), "abc");
    assert_string_equal(show("ab?cd"), "abcd|acd");
    assert_string_equal(show("ab?c"), "");            /* "ac" is too weak */
    assert_string_equal(show("x(?:foo|bar)y"), "xbary|xfooy");
    assert_string_equal(show("(?:foo|bar)+"), "bar|foo");
    assert_string_equal(show("foo|.*"), "");          /* a branch needs none */
    assert_string_equal(show("\\x41\\x{263A}z_"), "A\xE2\x98\xBAz_");
    assert_string_equal(show("\\Qa.b\\E"), "a.b");
    assert_string_equal(show("(?<name>abc)\\d+"), "abc");
    assert_string_equal(show("(?#comment)abc"), "abc");
    assert_string_equal(show("[@]"), "@");
    assert_string_equal(show("a{3}"), "aaa");
    assert_string_equal(show("(?:ab){2}_"), "abab_");
    assert_string_equal(show("\\bword\\b"), "word");
    assert_string_equal(show("^abc$"), "abc");
    assert_string_equal(show("a\\.b"), "a.b");
    assert_string_equal(show("\xe8\xba\xab\xe4\xbb\xbd\xe8\xaf\x81"),
        "\xe8\xba\xab\xe4\xbb\xbd\xe8\xaf\x81");
    /* what the analysis must not pretend to understand */
    assert_string_equal(show("(?i)abc"), "");
    assert_string_equal(show("(?x) a b c"), "");
    assert_string_equal(show("(?i:abc)"), "");
    assert_string_equal(show("(*UTF)abc"), "");
    assert_string_equal(show("(?(1)abc|def)"), "");
    assert_string_equal(show("\\Qabc"), "");
    assert_string_equal(show("\\cAabc"), "");
    assert_string_equal(show("abc\\0"), "");
    assert_string_equal(show("a{,3}bcd"), "");
    assert_string_equal(show("abc("), "");
    assert_string_equal(show("abc)"), "");
    assert_string_equal(show("[abc"), "");
    /* weak sets gate nothing */
    assert_string_equal(show("ab"), "");
    assert_string_equal(show("a.b"), "");
    assert_string_equal(show("\\."), "");
    assert_string_equal(show("a*bc*"), "");
}

/* ---- the promise, on random patterns ------------------------------------ */

static const char letters[] = "abc@_";   /* five bytes each */
static const char numbers[] = "1 -0a";
static const char dotted[] = "1.0-a";

static void gen(uint64_t *s, char *out, size_t cap, int depth,
    const char *alphabet)
{
    unsigned n = 1 + (unsigned)(test_rand(s) % 4);
    for (unsigned i = 0; i < n; i++) {
        char atom[512];
        unsigned k = (unsigned)(test_rand(s) % 14);
        if (k < 6 || depth > 2) {
            atom[0] = alphabet[test_rand(s) % 5];
            atom[1] = '\0';
        } else if (k == 6) {
            snprintf(atom, sizeof atom, "[%c%c]", alphabet[test_rand(s) % 5],
                alphabet[test_rand(s) % 5]);
        } else if (k == 7) {
            snprintf(atom, sizeof atom, "[^%c]", alphabet[test_rand(s) % 5]);
        } else if (k == 8) {
            strcpy(atom, ".");
        } else if (k == 9) {
            char a[200], b[200];
            gen(s, a, sizeof a, depth + 1, alphabet);
            gen(s, b, sizeof b, depth + 1, alphabet);
            snprintf(atom, sizeof atom, "(?:%s|%s)", a, b);
        } else if (k == 10) {
            char a[200];
            gen(s, a, sizeof a, depth + 1, alphabet);
            snprintf(atom, sizeof atom, "(%s)", a);
        } else if (k == 11) {
            char a[200];
            gen(s, a, sizeof a, depth + 1, alphabet);
            snprintf(atom, sizeof atom, "(?%s%s)",
                test_rand(s) % 2 ? "=" : "<!", a);
        } else if (k == 12) {
            strcpy(atom, test_rand(s) % 2 ? "\\b" : "^");
        } else if (alphabet != letters && test_rand(s) % 2) {
            static const char *cl[] = { "[0-9]", "[ -]", "\\d", "[0-9a]",
                "\\s", "\\-", "[0-9.]", "\\." };
            strcpy(atom, cl[test_rand(s) % 8]);
        } else {
            snprintf(atom, sizeof atom, "\\%c", test_rand(s) % 2 ? '.' : '@');
        }
        if (strlen(out) + strlen(atom) + 8 >= cap && i > 0)
            break;
        if (i == 0)
            out[0] = '\0';
        strcat(out, atom);
        if (atom[0] != '(' || atom[1] != '?' || (atom[2] != '=' &&
                atom[2] != '<')) {
            static const char *q[] = { "", "", "", "?", "*", "+", "{2}",
                "{1,3}", "{0,2}", "{2,}" };
            if (strcmp(atom, "\\b") != 0 && strcmp(atom, "^") != 0)
                strcat(out, q[test_rand(s) % 10]);
        }
    }
}

/* Up to 39 bytes of alphabet (five bytes) into text, NUL-terminated. */
static size_t random_text(uint64_t *seed, const char *alphabet, char *text)
{
    size_t n = (size_t)(test_rand(seed) % 40);
    for (size_t i = 0; i < n; i++)
        text[i] = alphabet[test_rand(seed) % 5];
    text[n] = '\0';
    return n;
}

/* The next match of re in text[0..n) from *start (mc may be NULL): 1 with
   [*a, *b) and *start moved past it, or 0. */
static int next_match(pcre2_code *re, const char *text, size_t n,
    PCRE2_SIZE *start, pcre2_match_data *md, pcre2_match_context *mc,
    size_t *a, size_t *b)
{
    PCRE2_SIZE *ov;
    if (*start > n ||
        pcre2_match(re, (PCRE2_SPTR)text, n, *start, 0, md, mc) < 0)
        return 0;
    ov = pcre2_get_ovector_pointer(md);
    *a = ov[0];
    *b = ov[1];
    *start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    return 1;
}

static int holds_factor(const rx_factors *f, const char *s, size_t n)
{
    for (unsigned i = 0; i < f->n; i++)
        for (size_t k = 0; k + f->len[i] <= n; k++)
            if (memcmp(s + k, f->s[i], f->len[i]) == 0)
                return 1;
    return 0;
}

static void every_match_holds_a_factor(void **state)
{
    (void)state;
    uint64_t seed = 7;
    unsigned patterns = 0, gated = 0, matches = 0;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    assert_non_null(md);
    for (int t = 0; t < 4000; t++) {
        char pat[256];
        int ec;
        PCRE2_SIZE eo;
        rx_factors f;
        pat[0] = '\0';
        gen(&seed, pat, sizeof pat, 0, letters);
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
            PCRE2_UTF, &ec, &eo, NULL);
        if (re == NULL)
            continue;
        patterns++;
        if (rx_factors_of(pat, &f) == 0) {
            pcre2_code_free(re);
            continue;
        }
        gated++;
        for (int k = 0; k < 40; k++) {
            char text[48];
            size_t n = random_text(&seed, letters, text), a, b;
            PCRE2_SIZE start = 0;
            while (next_match(re, text, n, &start, md, NULL, &a, &b)) {
                matches++;
                if (!holds_factor(&f, text + a, b - a))
                    fail_msg("pattern /%s/ matched '%.*s' in '%s', which "
                        "holds none of its %u factors (first '%.*s')", pat,
                        (int)(b - a), text + a, text, f.n, (int)f.len[0],
                        f.s[0]);
            }
        }
        pcre2_code_free(re);
    }
    pcre2_match_data_free(md);
    print_message("%u patterns, %u with factors, %u matches checked\n",
        patterns, gated, matches);
    assert_true(gated > 200);
    assert_true(matches > 1000);
}

/* The longest run of digits, spaces and hyphens in s[0..n). */
static size_t longest_run(int cls, const char *s, size_t n)
{
    size_t best = 0, cur = 0;
    for (size_t i = 0; i < n; i++) {
        int in = (s[i] >= '0' && s[i] <= '9') || (cls == RX_RUN_NUMBER ?
            s[i] == ' ' || s[i] == '-' : s[i] == '.');
        cur = in ? cur + 1 : 0;
        if (cur > best)
            best = cur;
    }
    return best;
}

#define N RX_RUN_NUMBER
#define D RX_RUN_DOTTED
#define run_of(cls, pattern) rx_run_of(pattern, cls)

static void runs_of_the_baseline_patterns(void **state)
{
    (void)state;
    /* the PRC ID, mobile, card and passport numbers of policies/baseline */
    assert_int_equal(run_of(N, "(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])"),
        17);
    assert_int_equal(run_of(N, "(?<![0-9])(?:(?:\\+|00)?86[ -]?)?1[3-9][0-9]"
        "(?:[0-9]{8}|[ -][0-9]{4}[ -][0-9]{4})(?![0-9])"), 11);
    assert_int_equal(run_of(N, "(?<![0-9+])[1-9][0-9]{3}(?:[ -]?[0-9]){9,15}"
        "(?![0-9Xx])"), 13);
    assert_int_equal(run_of(N, "(?<![A-Za-z0-9_-])(?:[EG][0-9]{8}|"
        "E[A-HJ-NP-Z][0-9]{7})(?![A-Za-z0-9_-])"), 7);
    /* an IPv4 address: dots between its digits */
    assert_true(run_of(N, "(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
        "\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])") <= 3);
    /* \d may be any decimal digit (UCP): not counted */
    assert_int_equal(run_of(N, "\\d{12}"), 0);
    assert_int_equal(run_of(N, "[0-9]{4}(?=x)[0-9]{4}"), 8);
    assert_int_equal(run_of(N, "[0-9]{4}(?i)[0-9]{4}"), 0);
    assert_int_equal(run_of(N, "(?:[0-9]{6}|[0-9]{3}a[0-9]{3})"), 3);
    assert_int_equal(run_of(N, "a[0-9]*b"), 0);
    assert_int_equal(run_of(N, "12-34 56"), 8);
    /* digits and dots: an IPv4 address holds 7, a passport number 7 */
    assert_int_equal(run_of(D, "(?<![0-9A-Za-z_.])(?:(?:25[0-5]|2[0-4][0-9]|"
        "1[0-9]{2}|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|"
        "[1-9]?[0-9])(?![0-9A-Za-z_]|\\.[0-9])"), 7);
    assert_int_equal(run_of(D, "(?<![A-Za-z0-9_-])(?:[EG][0-9]{8}|"
        "E[A-HJ-NP-Z][0-9]{7})(?![A-Za-z0-9_-])"), 7);
    assert_int_equal(run_of(D, "[0-9]{3} [0-9]{4}"), 4);
    assert_int_equal(run_of(N, "[0-9]{3}\\.[0-9]{4}"), 4);
    assert_int_equal(run_of(D, "v[0-9.]{2,}x"), 2);
}

static void match_runs(int cls, uint64_t seed)
{
    unsigned patterns = 0, with_run = 0, matches = 0;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    /* random nested repeats of digits can backtrack for long: bounded,
       a pattern that hits the bound is left there */
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    assert_non_null(md);
    assert_non_null(mc);
    pcre2_set_match_limit(mc, 20000);
    for (int t = 0; t < 4000; t++) {
        char pat[256];
        int ec;
        PCRE2_SIZE eo;
        pat[0] = '\0';
        gen(&seed, pat, sizeof pat, 0, cls == RX_RUN_NUMBER ? numbers :
            dotted);
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
            PCRE2_UTF, &ec, &eo, NULL);
        if (re == NULL)
            continue;
        patterns++;
        unsigned want = rx_run_of(pat, cls);
        if (want == 0) {
            pcre2_code_free(re);
            continue;
        }
        with_run++;
        for (int k = 0; k < 40; k++) {
            char text[48];
            size_t n = random_text(&seed, cls == RX_RUN_NUMBER ? numbers :
                dotted, text), a, b;
            PCRE2_SIZE start = 0;
            while (next_match(re, text, n, &start, md, mc, &a, &b)) {
                matches++;
                if (longest_run(cls, text + a, b - a) < want)
                    fail_msg("pattern /%s/ matched '%.*s' in '%s', which "
                        "holds no run of %u", pat, (int)(b - a), text + a,
                        text, want);
            }
        }
        pcre2_code_free(re);
    }
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    print_message("class %d: %u patterns, %u with a run, %u matches "
        "checked\n", cls, patterns, with_run, matches);
    assert_true(with_run > 200);
    assert_true(matches > 1000);
}

static void every_match_holds_its_run(void **state)
{
    (void)state;
    for (int cls = 0; cls < RX_RUN_CLASSES; cls++)
        match_runs(cls, 11 + (uint64_t)cls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(baseline_patterns),
        cmocka_unit_test(constructs),
        cmocka_unit_test(every_match_holds_a_factor),
        cmocka_unit_test(runs_of_the_baseline_patterns),
        cmocka_unit_test(every_match_holds_its_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
