/*
 * validate_test.c - unit tests for filter/validate.c: each validator
 * accepts real values and rejects near misses, check digits are
 * confirmed against a naive re-computation, and no validator reads past
 * the bytes it is given (every input is copied into a heap buffer of
 * exactly its length, without a NUL, so ASan sees any over-read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "filter/validate.h"

/* Run fn on a copy of str in a buffer of exactly strlen(str) bytes. */
static int run_exact(validate_fn fn, const char *str)
{
    size_t n = strlen(str);
    char *buf = malloc(n == 0 ? 1 : n);
    int r;

    assert_non_null(buf);
    memcpy(buf, str, n);
    r = fn(buf, n);
    free(buf);
    return r;
}

static void expect_valid(validate_fn fn, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (run_exact(fn, list[i]) != 1)
            fail_msg("expected valid: \"%s\"", list[i]);
    }
}

static void expect_invalid(validate_fn fn, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (run_exact(fn, list[i]) != 0)
            fail_msg("expected invalid: \"%s\"", list[i]);
    }
}

/* ------------------------------------------------------------------------
 * Naive models, written from the standards independently of validate.c
 * ---------------------------------------------------------------------- */

/* GB 11643 check character: a1 = (12 - (sum of a_i * 2^(i-1) mod 11)
 * mod 11) mod 11, with i counted from the right, check at i = 1. */
static char model_cn_id_check(const char *body17)
{
    unsigned long sum = 0;
    for (int i = 0; i < 17; i++) {
        unsigned long w = 1;
        for (int k = 0; k < 17 - i; k++)
            w *= 2;
        sum += (unsigned long)(body17[i] - '0') * (w % 11);
    }
    unsigned long a1 = (12 - sum % 11) % 11;
    return a1 == 10 ? 'X' : (char)('0' + a1);
}

/* Luhn check digit for a digit string (the digit to append). */
static char model_luhn_check(const char *digits)
{
    size_t n = strlen(digits);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(digits[n - 1 - i] - '0');
        if (i % 2 == 0) {             /* doubled once a digit is appended */
            d *= 2;
            if (d > 9)
                d = d / 10 + d % 10;
        }
        sum += d;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

/* ------------------------------------------------------------------------
 * cn_id
 * ---------------------------------------------------------------------- */

static void cn_id_accepts_the_documented_example(void **state)
{
    (void)state;
    assert_int_equal(model_cn_id_check("11010519491231002"), 'X');
    assert_int_equal(run_exact(validate_cn_id, "11010519491231002X"), 1);
    assert_int_equal(run_exact(validate_cn_id, "11010519491231002x"), 1);
}

static void cn_id_accepts_ids_completed_by_the_naive_model(void **state)
{
    /* Bodies: area code, birth date, sequence number. */
    static const char *const bodies[] = {
        "44030419900307123", "31010120000229456", "51010719850815001",
        "65010219991231999", "21020319000101000", "81000020991130777",
        "33010619790704082", "11010120210102013", NULL
    };
    (void)state;
    for (size_t i = 0; bodies[i] != NULL; i++) {
        char id[19];
        memcpy(id, bodies[i], 17);
        id[17] = model_cn_id_check(bodies[i]);
        id[18] = '\0';
        if (run_exact(validate_cn_id, id) != 1)
            fail_msg("expected valid: %s", id);
    }
}

static void cn_id_accepts_exactly_one_check_character_per_body(void **state)
{
    static const char checks[] = "0123456789X";
    char id[19];
    (void)state;
    /* Sweep sequence numbers: every check value (incl. X) comes up. */
    for (unsigned seq = 0; seq < 1000; seq++) {
        int nvalid = 0;
        int r = snprintf(id, sizeof id, "11010519800101%03u", seq);
        assert_int_equal(r, 17);
        id[18] = '\0';
        for (size_t k = 0; k < 11; k++) {
            id[17] = checks[k];
            if (run_exact(validate_cn_id, id)) {
                nvalid++;
                assert_int_equal(checks[k], model_cn_id_check(id));
            }
        }
        assert_int_equal(nvalid, 1);
    }
}

static void cn_id_rejects_bad_check_dates_and_shapes(void **state)
{
    static const char *const bad[] = {
        "110105194912310021",   /* wrong check digit */
        "110105194912310020",
        "11010519491231002Y",   /* not a check character */
        "01010519491231002X",   /* first digit 0, see below */
        "1101051949123100X",    /* 17 characters */
        "11010519491231002X1",  /* 19 characters */
        "110105194912310 2X",   /* space in the body */
        "11010518991231002X",   /* year 1899 */
        "", NULL
    };
    (void)state;
    expect_invalid(validate_cn_id, bad);
    assert_int_equal(validate_cn_id(NULL, 18), 0);
}

/* A body with a bad date gets a correct check digit from the model, so
 * only the date can be what rejects it. */
static void cn_id_rejects_impossible_birth_dates(void **state)
{
    static const char *const bodies[] = {
        "11010519000229123",   /* 1900 is not a leap year */
        "11010521000229123",   /* nor is 2100 */
        "11010521010101123",   /* year 2101 */
        "11010518991231123",   /* year 1899 */
        "11010519491301123",   /* month 13 */
        "11010519490001123",   /* month 0 */
        "11010519490100123",   /* day 0 */
        "11010519490431123",   /* 31 April */
        "11010519490230123",   /* 30 February */
        "11010519490132123",   /* 32 January */
        "01010519490101123",   /* first digit 0 */
        NULL
    };
    (void)state;
    for (size_t i = 0; bodies[i] != NULL; i++) {
        char id[19];
        memcpy(id, bodies[i], 17);
        id[17] = model_cn_id_check(bodies[i]);
        id[18] = '\0';
        if (run_exact(validate_cn_id, id) != 0)
            fail_msg("expected invalid: %s", id);
    }
}

static void cn_id_accepts_leap_days_of_leap_years(void **state)
{
    static const char *const bodies[] = {
        "11010520000229123", "11010519960229123", "11010520960229123", NULL
    };
    (void)state;
    for (size_t i = 0; bodies[i] != NULL; i++) {
        char id[19];
        memcpy(id, bodies[i], 17);
        id[17] = model_cn_id_check(bodies[i]);
        id[18] = '\0';
        if (run_exact(validate_cn_id, id) != 1)
            fail_msg("expected valid: %s", id);
    }
}

/* ------------------------------------------------------------------------
 * luhn
 * ---------------------------------------------------------------------- */

static void luhn_accepts_test_card_numbers(void **state)
{
    static const char *const good[] = {
        "4111111111111111", "5500005555555559", "378282246310005",
        "6011111111111117", "4222222222222", "30569309025904",
        "4111 1111 1111 1111", "4111-1111-1111-1111",
        "3782 822463 10005", "5500-0055-5555-5559", NULL
    };
    (void)state;
    expect_valid(validate_luhn, good);
}

static void luhn_accepts_numbers_completed_by_the_naive_model(void **state)
{
    static const char *const bodies[] = {
        "622848001234567890", "621700123456789", "62258812345678",
        "520000000000000", "400000000000", NULL
    };
    (void)state;
    for (size_t i = 0; bodies[i] != NULL; i++) {
        char num[24];
        size_t n = strlen(bodies[i]);
        assert_true(n + 2 <= sizeof num);
        memcpy(num, bodies[i], n);
        num[n] = model_luhn_check(bodies[i]);
        num[n + 1] = '\0';
        if (run_exact(validate_luhn, num) != 1)
            fail_msg("expected valid: %s", num);
    }
}

static void luhn_rejects_any_single_changed_digit(void **state)
{
    static const char *const good[] = {
        "4111111111111111", "5500005555555559", "378282246310005", NULL
    };
    (void)state;
    for (size_t g = 0; good[g] != NULL; g++) {
        char num[20];
        size_t n = strlen(good[g]);
        memcpy(num, good[g], n + 1);
        for (size_t i = 0; i < n; i++) {
            for (char d = '0'; d <= '9'; d++) {
                if (d == good[g][i])
                    continue;
                num[i] = d;
                if (run_exact(validate_luhn, num) != 0)
                    fail_msg("expected invalid: %s", num);
            }
            num[i] = good[g][i];
        }
    }
}

static void luhn_rejects_bad_lengths_separators_and_filler(void **state)
{
    static const char *const bad[] = {
        "4111111111111112",          /* checksum */
        "411111111117",              /* 12 digits (Luhn-valid) */
        "41111111111111111115",      /* 20 digits (Luhn-valid) */
        "0000000000000000",          /* all zeros pass the checksum */
        "0111111111111111114",       /* leading zero (Luhn-valid) */
        "4111 1111-1111 1111",       /* mixed separators */
        "4111  1111 1111 1111",      /* doubled separator */
        " 4111 1111 1111 1111",      /* leading separator */
        "4111 1111 1111 1111-",      /* trailing separator */
        "41 11 11 11 11 11 11 11",   /* groups too short */
        "4111.1111.1111.1111",       /* other separator */
        "4111111111111111x",         /* letter */
        "", NULL
    };
    (void)state;
    expect_invalid(validate_luhn, bad);
    assert_int_equal(validate_luhn(NULL, 16), 0);
}

/* ------------------------------------------------------------------------
 * cn_mobile
 * ---------------------------------------------------------------------- */

static void cn_mobile_accepts_numbers_with_and_without_prefix(void **state)
{
    static const char *const good[] = {
        "13812345678", "19912345678", "15000000000",
        "138 1234 5678", "138-1234-5678",
        "+8613812345678", "+86 138 1234 5678", "+86-138-1234-5678",
        "8613812345678", "86 13812345678", "008613812345678",
        "0086 138-1234-5678", NULL
    };
    (void)state;
    expect_valid(validate_cn_mobile, good);
}

static void cn_mobile_rejects_other_numbers_and_groupings(void **state)
{
    static const char *const bad[] = {
        "12812345678",         /* 12x is not a mobile prefix */
        "23812345678",         /* does not start with 1 */
        "1381234567",          /* 10 digits */
        "138123456789",        /* 12 digits */
        "138 1234-5678",       /* mixed separators */
        "1381 234 5678",       /* not 3-4-4 */
        "13 81234 5678",
        "+85213812345678",     /* Hong Kong prefix */
        "+86  13812345678",    /* doubled separator after prefix */
        "+861381234567",       /* 10 digits after prefix */
        "+8612812345678",      /* bad number after prefix */
        "1381234567a",
        "", NULL
    };
    (void)state;
    expect_invalid(validate_cn_mobile, bad);
    assert_int_equal(validate_cn_mobile(NULL, 11), 0);
}

/* ------------------------------------------------------------------------
 * email
 * ---------------------------------------------------------------------- */

#define S10 "abcdefghij"
#define S60 S10 S10 S10 S10 S10 S10

static void email_accepts_ordinary_addresses(void **state)
{
    static const char *const good[] = {
        "a@b.co", "john.doe@example.com", "user+tag@sub.example.org",
        "o'brien@example.ie", "x_y-z@mail-server.example.cn",
        "UPPER@EXAMPLE.COM", "zhang.san@163.com", "1234@qq.com",
        "a!#$%&*/=?^`{|}~b@example.net",
        S60 "abcd@example.com",                     /* 64-byte local part */
        "a@" S60 "abc.com",                         /* 63-byte label */
        NULL
    };
    (void)state;
    expect_valid(validate_email, good);
}

static void email_rejects_malformed_addresses(void **state)
{
    static const char *const bad[] = {
        ".a@b.com", "a.@b.com", "a..b@c.com",
        "a@b", "a@b.c", "a@b.c0m", "a@-b.com", "a@b-.com", "a@b..com",
        "a@.com", "a@example.com.", "@example.com", "a@b@c.com",
        "a b@c.com", "\"a\"@c.com", "a@exa_mple.com",
        "\xe5\xbc\xa0\xe4\xb8\x89@example.com",   /* non-ASCII local */
        S60 "abcde@example.com",                    /* 65-byte local part */
        "a@" S60 "abcd.com",                        /* 64-byte label */
        "noatsign.example.com", "", NULL
    };
    (void)state;
    expect_invalid(validate_email, bad);
    assert_int_equal(validate_email(NULL, 5), 0);
}

static void email_limits_the_whole_address_to_254_bytes(void **state)
{
    /* 64 + 1 + a domain of 3 * (60 + 1) + 6 = 189: 254 bytes, then 255. */
    static const char ok[] =
        S60 "abcd@" S60 "." S60 "." S60 ".ab.com";
    static const char too_long[] =
        S60 "abcd@" S60 "." S60 "." S60 ".abc.com";
    (void)state;
    assert_int_equal(strlen(ok), 254);
    assert_int_equal(run_exact(validate_email, ok), 1);
    assert_int_equal(strlen(too_long), 255);
    assert_int_equal(run_exact(validate_email, too_long), 0);
}

/* ------------------------------------------------------------------------
 * Lookup
 * ---------------------------------------------------------------------- */

static void lookup_finds_every_listed_validator(void **state)
{
    size_t n = 0;
    const char *const *names = validate_names(&n);
    (void)state;
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_non_null(validate_lookup(names[i]));
    assert_ptr_equal(validate_lookup("cn_id"), validate_cn_id);
    assert_ptr_equal(validate_lookup("luhn"), validate_luhn);
    assert_ptr_equal(validate_lookup("cn_mobile"), validate_cn_mobile);
    assert_ptr_equal(validate_lookup("email"), validate_email);
    assert_ptr_equal(validate_names(NULL), names);
}

static void lookup_returns_null_for_unknown_names(void **state)
{
    (void)state;
    assert_null(validate_lookup("iban"));
    assert_null(validate_lookup("CN_ID"));
    assert_null(validate_lookup("cn_id "));
    assert_null(validate_lookup(""));
    assert_null(validate_lookup(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cn_id_accepts_the_documented_example),
        cmocka_unit_test(cn_id_accepts_ids_completed_by_the_naive_model),
        cmocka_unit_test(cn_id_accepts_exactly_one_check_character_per_body),
        cmocka_unit_test(cn_id_rejects_bad_check_dates_and_shapes),
        cmocka_unit_test(cn_id_rejects_impossible_birth_dates),
        cmocka_unit_test(cn_id_accepts_leap_days_of_leap_years),
        cmocka_unit_test(luhn_accepts_test_card_numbers),
        cmocka_unit_test(luhn_accepts_numbers_completed_by_the_naive_model),
        cmocka_unit_test(luhn_rejects_any_single_changed_digit),
        cmocka_unit_test(luhn_rejects_bad_lengths_separators_and_filler),
        cmocka_unit_test(cn_mobile_accepts_numbers_with_and_without_prefix),
        cmocka_unit_test(cn_mobile_rejects_other_numbers_and_groupings),
        cmocka_unit_test(email_accepts_ordinary_addresses),
        cmocka_unit_test(email_rejects_malformed_addresses),
        cmocka_unit_test(email_limits_the_whole_address_to_254_bytes),
        cmocka_unit_test(lookup_finds_every_listed_validator),
        cmocka_unit_test(lookup_returns_null_for_unknown_names),
    };
    return cmocka_run_group_tests_name("filter/validate", tests, NULL, NULL);
}
