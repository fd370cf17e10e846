/*
 * runscan_test.c - unit tests for filter/runscan.c: on random texts of
 * digits, spaces, hyphens, dots and other bytes, at every length up to a
 * few 64-byte blocks, for run lengths from 1 past 64 in either class or
 * both, every instruction set answers as a byte-by-byte count does. Each text sits at the end of
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
#include "testutil.h"

static unsigned model(const unsigned char *s, size_t n, const unsigned *want)
{
    unsigned found = 0;
    for (int k = 0; k < RX_RUN_CLASSES; k++) {
        size_t cur = 0;
        for (size_t i = 0; i < n && want[k] != 0; i++) {
            int in = (s[i] >= '0' && s[i] <= '9') || (k == RX_RUN_NUMBER ?
                s[i] == ' ' || s[i] == '-' : s[i] == '.');
            cur = in ? cur + 1 : 0;
            if (cur >= want[k])
                found |= 1u << k;
        }
    }
    return found;
}

static void every_isa_agrees_with_a_count(void **state)
{
    static const char other[] = "a.,\x80\xe4/:-";  /* '/' ':' border 0-9 */
    uint64_t seed = 5;
    unsigned yes[RX_RUN_CLASSES] = { 0, 0 };
    (void)state;
    for (int t = 0; t < 60000; t++) {
        size_t n = (size_t)(test_rand(&seed) % 300);
        unsigned want[RX_RUN_CLASSES];
        unsigned dense = (unsigned)(test_rand(&seed) % 40);  /* in 40: other */
        unsigned char *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        for (int k = 0; k < RX_RUN_CLASSES; k++)
            want[k] = test_rand(&seed) % 4 == 0 ? 0 :
                1 + (unsigned)(test_rand(&seed) % 80);
        for (size_t i = 0; i < n; i++) {
            unsigned k = (unsigned)(test_rand(&seed) % 40);
            buf[i] = k < dense ? (unsigned char)other[test_rand(&seed) % 9] :
                k % 3 == 0 ? ' ' : k % 5 == 0 ? '.' : k % 7 == 0 ? '-' :
                (unsigned char)('0' + test_rand(&seed) % 10);
        }
        unsigned want_r = model(buf, n, want);
        for (int k = 0; k < RX_RUN_CLASSES; k++)
            yes[k] += want_r >> k & 1;
        for (int isa = 0; isa <= 2; isa++) {
            unsigned got = runscan_find_isa(buf, n, want, isa);
            if (got != want_r)
                fail_msg("isa %d, %zu bytes, runs of %u and %u: got %#x, "
                    "want %#x", isa, n, want[0], want[1], got, want_r);
        }
        assert_int_equal(runscan_find(buf, n, want), want_r);
        free(buf);
    }
    for (int k = 0; k < RX_RUN_CLASSES; k++) {
        print_message("class %d: a run in %u of 60000\n", k, yes[k]);
        assert_true(yes[k] > 2000 && yes[k] < 50000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_isa_agrees_with_a_count),
    };
    return cmocka_run_group_tests_name("filter/runscan", tests, NULL, NULL);
}
