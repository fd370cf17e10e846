/*
 * utf8_test.c - unit tests for filter/utf8.c against a textbook model:
 * a sequence is well-formed if its lead byte's high bits give its
 * length, the rest are continuation bytes, and the code point they
 * encode is in range for that length, not a surrogate and at most
 * U+10FFFF; an ill-formed sequence's maximal subpart is its longest
 * prefix that some continuation bytes would complete. Every input of up
 * to three bytes is tried, and four-byte ones with each lead and second
 * byte; each sits at the end of a heap buffer of its own length, so ASan
 * sees any read past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "filter/utf8.h"

static size_t model_valid(const unsigned char *b, size_t n)
{
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t len = b[0] < 0x80 ? 1 : (b[0] & 0xE0) == 0xC0 ? 2 :
        (b[0] & 0xF0) == 0xE0 ? 3 : (b[0] & 0xF8) == 0xF0 ? 4 : 0;
    uint32_t cp;
    if (len == 0 || len > n)
        return 0;
    cp = len == 1 ? b[0] : (uint32_t)(b[0] & (0x7F >> len));
    for (size_t i = 1; i < len; i++) {
        if ((b[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (b[i] & 0x3Fu);
    }
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Does some run of continuation bytes complete b[0..k) (k <= 3)? */
static int model_prefix(const unsigned char *b, size_t k)
{
    unsigned char t[4];
    memcpy(t, b, k);
    for (size_t len = k + 1; len <= 4; len++)
        for (unsigned c = 0x80; c <= 0xBF; c++) {
            t[k] = (unsigned char)c;
            for (size_t i = k + 1; i < len; i++)
                t[i] = 0x80;
            if (model_valid(t, len) == len)
                return 1;
        }
    return 0;
}

/* model_prefix of one and two bytes, worked out once (-1: not yet) */
static signed char pre1[256], pre2[65536];

static size_t model_ill_len(const unsigned char *b, size_t n)
{
    size_t best = 1;
    if (pre1[0] < 0) {
        for (unsigned i = 0; i < 256; i++) {
            unsigned char t[2] = { (unsigned char)i, 0 };
            pre1[i] = (signed char)model_prefix(t, 1);
        }
        for (unsigned i = 0; i < 65536; i++) {
            unsigned char t[2] = { (unsigned char)(i >> 8),
                (unsigned char)i };
            pre2[i] = (signed char)(pre1[t[0]] && model_prefix(t, 2));
        }
    }
    /* a prefix's own prefixes are prefixes: stop at the first that
       is not one */
    if (!pre1[b[0]] || n < 2)
        return best;
    if (!pre2[b[0] << 8 | b[1]])
        return best;
    best = 2;
    if (n >= 3 && model_prefix(b, 3))
        best = 3;
    return best;
}

static void check(const unsigned char *b, size_t n)
{
    unsigned char *buf = malloc(n);
    size_t want, got;
    assert_non_null(buf);
    memcpy(buf, b, n);
    /* the first sequence of b; a shorter one at its start counts */
    want = model_valid(b, n);
    got = utf8_valid(buf, n);
    if (got != want)
        fail_msg("utf8_valid(%02x %02x %02x %02x, %zu) = %zu, want %zu",
            b[0], n > 1 ? b[1] : 0, n > 2 ? b[2] : 0, n > 3 ? b[3] : 0,
            n, got, want);
    if (want == 0) {
        want = model_ill_len(b, n);
        got = utf8_ill_len(buf, n);
        if (got != want)
            fail_msg("utf8_ill_len(%02x %02x %02x %02x, %zu) = %zu, "
                "want %zu", b[0], n > 1 ? b[1] : 0, n > 2 ? b[2] : 0,
                n > 3 ? b[3] : 0, n, got, want);
    }
    free(buf);
}

static void every_short_input_agrees_with_the_model(void **state)
{
    unsigned char b[3];
    (void)state;
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (unsigned char)x;
        check(b, 1);
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (unsigned char)y;
            check(b, 2);
            if (x < 0xC0)
                continue;       /* no lead: the second byte is not read */
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (unsigned char)z;
                check(b, 3);
            }
        }
    }
}

static void four_byte_inputs_agree_with_the_model(void **state)
{
    static const unsigned char ends[] = { 0x00, 0x7F, 0x80, 0xA5, 0xBF,
        0xC0, 0xF4, 0xFF };
    unsigned char b[4];
    (void)state;
    for (unsigned x = 0xF0; x <= 0xF8; x++)
        for (unsigned y = 0; y < 256; y++)
            for (unsigned z = 0x7F; z <= 0xC0; z++)
                for (size_t e = 0; e < sizeof ends; e++) {
                    b[0] = (unsigned char)x;
                    b[1] = (unsigned char)y;
                    b[2] = (unsigned char)z;
                    b[3] = ends[e];
                    check(b, 4);
                }
}

static void known_cases(void **state)
{
    (void)state;
    /* U+4E2D, U+10FFFF, a cut ideograph, a surrogate, an overlong */
    assert_int_equal(utf8_valid((const unsigned char *)"\xE4\xB8\xAD", 3), 3);
    assert_int_equal(utf8_valid((const unsigned char *)"\xF4\x8F\xBF\xBF", 4),
        4);
    assert_int_equal(utf8_valid((const unsigned char *)"\xE4\xB8", 2), 0);
    assert_int_equal(utf8_ill_len((const unsigned char *)"\xE4\xB8", 2), 2);
    assert_int_equal(utf8_valid((const unsigned char *)"\xED\xA0\x80", 3), 0);
    assert_int_equal(utf8_ill_len((const unsigned char *)"\xED\xA0\x80", 3),
        1);
    assert_int_equal(utf8_valid((const unsigned char *)"\xC0\xAF", 2), 0);
    assert_int_equal(utf8_ill_len((const unsigned char *)"\xC0\xAF", 2), 1);
    assert_int_equal(utf8_ill_len((const unsigned char *)"\xF0\x9F\x98x", 4),
        3);
}

int main(void)
{
    memset(pre1, -1, sizeof pre1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_cases),
        cmocka_unit_test(every_short_input_agrees_with_the_model),
        cmocka_unit_test(four_byte_inputs_agree_with_the_model),
    };
    return cmocka_run_group_tests_name("filter/utf8", tests, NULL, NULL);
}
