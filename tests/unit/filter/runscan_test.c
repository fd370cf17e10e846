/*
 * runscan_test.c - unit tests for filter/runscan.c: on random texts of
 * digits, spaces, hyphens and other bytes, at every length up to a few
 * 64-byte blocks and for run lengths from 8 past 64, every instruction
 * set answers as a byte-by-byte count does. Each text sits at the end of
 * a heap buffer of its own length, so ASan sees any read past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "filter/runscan.h"

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int model(const unsigned char *s, size_t n, unsigned want)
{
    size_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        cur = (s[i] >= '0' && s[i] <= '9') || s[i] == ' ' || s[i] == '-' ?
            cur + 1 : 0;
        if (cur >= want)
            return 1;
    }
    return 0;
}

static void every_isa_agrees_with_a_count(void **state)
{
    static const char other[] = "a.,\x80\xe4/:";   /* '/' and ':' border 0-9 */
    uint64_t seed = 5;
    unsigned yes = 0;
    (void)state;
    for (int t = 0; t < 60000; t++) {
        size_t n = (size_t)(rng(&seed) % 300);
        unsigned want = 8 + (unsigned)(rng(&seed) % 70);
        unsigned dense = (unsigned)(rng(&seed) % 40);  /* in 40: other */
        unsigned char *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        for (size_t i = 0; i < n; i++) {
            unsigned k = (unsigned)(rng(&seed) % 40);
            buf[i] = k < dense ? (unsigned char)other[rng(&seed) % 8] :
                k % 3 == 0 ? ' ' : k % 7 == 0 ? '-' :
                (unsigned char)('0' + rng(&seed) % 10);
        }
        int want_r = model(buf, n, want);
        yes += (unsigned)want_r;
        for (int isa = 0; isa <= 2; isa++)
            if (runscan_has_isa(buf, n, want, isa) != want_r)
                fail_msg("isa %d, %zu bytes, run of %u: got %d", isa, n,
                    want, !want_r);
        assert_int_equal(runscan_has(buf, n, want), want_r);
        free(buf);
    }
    assert_true(yes > 5000 && yes < 55000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_isa_agrees_with_a_count),
    };
    return cmocka_run_group_tests_name("filter/runscan", tests, NULL, NULL);
}
