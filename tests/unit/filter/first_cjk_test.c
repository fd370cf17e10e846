/*
 * first_cjk_test.c - check_first_cjk (filter/check.c), which picks the
 * language of masks and refusals, against a byte-at-a-time model: the
 * offset of the first three-byte sequence, lead E3..E9, that encodes an
 * ideograph U+3400..U+9FFF. Texts mix ASCII runs of every length (the
 * function skips ASCII eight bytes at a time), ideographs, other
 * multi-byte characters and stray bytes; each sits at the end of a heap
 * buffer of its own length, so ASan sees any read past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "filter/check.h"
#include "testutil.h"

static size_t model(const unsigned char *t, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++)
        if (t[i] >= 0xE3 && t[i] <= 0xE9 && (t[i + 1] & 0xC0) == 0x80) {
            uint32_t cp = (uint32_t)(t[i] & 0x0F) << 12 |
                (uint32_t)(t[i + 1] & 0x3F) << 6 | (t[i + 2] & 0x3F);
            if (cp >= 0x3400 && cp <= 0x9FFF)
                return i;
        }
    return SIZE_MAX;
}

static void agree(const unsigned char *t, size_t len)
{
    unsigned char *b = malloc(len ? len : 1);
    assert_non_null(b);
    memcpy(b, t, len);
    assert_int_equal(check_first_cjk((const char *)b, len), model(b, len));
    free(b);
}

static void known_cases(void **state)
{
    (void)state;
    agree((const unsigned char *)"", 0);
    agree((const unsigned char *)"plain English, no ideograph at all", 34);
    agree((const unsigned char *)"0123456789abcdef\xe4\xb8\xad", 19);
    agree((const unsigned char *)"0123456789abcdef\xe4\xb8", 18);   /* cut */
    agree((const unsigned char *)"\xe4\xb8\xad", 3);
    agree((const unsigned char *)"caf\xc3\xa9 \xe3\x80\x82 \xe5\xad\x97", 13);
}

/* Every prefix and suffix of texts made of random atoms. */
static void random_texts_agree_with_the_model(void **state)
{
    static const char *atoms[] = { "\xe4\xb8\xad", "\xe9\xbe\x8d",
        "\xe3\x90\x80", "\xe3\x80\x82", "\xe2\x80\x9c", "\xc3\xa9",
        "\xf0\x9f\x98\x80", "\xe4\xb8", "\x80", "\xe9" };
    unsigned char t[300];
    uint64_t seed = 11;
    (void)state;
    for (int it = 0; it < 2000; it++) {
        size_t len = 0;
        while (len < sizeof t - 8) {
            uint64_t r = test_rand(&seed);
            if (r % 4 != 0) {            /* an ASCII run of 0..40 bytes */
                size_t n = (size_t)(r >> 8) % 41;
                if (n > sizeof t - 8 - len)
                    n = sizeof t - 8 - len;
                for (size_t k = 0; k < n; k++)
                    t[len++] = (unsigned char)(' ' + (r >> (k % 48)) % 90);
            } else if ((r >> 8) % 8 == 0) {
                break;
            } else {
                const char *a = atoms[(r >> 16) % (sizeof atoms /
                    sizeof atoms[0])];
                memcpy(t + len, a, strlen(a));
                len += strlen(a);
            }
        }
        for (size_t k = 0; k <= len; k += 1 + k / 16) {
            agree(t, k);
            agree(t + k, len - k);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_cases),
        cmocka_unit_test(random_texts_agree_with_the_model),
    };
    return cmocka_run_group_tests_name("filter/first_cjk", tests, NULL,
        NULL);
}
