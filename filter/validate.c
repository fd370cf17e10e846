/*
 * validate.c - candidate-match validators: PRC resident ID (GB 11643),
 * Luhn card numbers, PRC mobile numbers and e-mail addresses.
 *
 * Design: each validator is a pure function over the matched bytes; a
 * regex in the policy finds the candidates, the validator removes the
 * ones whose structure (check digit, calendar date, number plan, address
 * syntax) cannot be right, which is what keeps PII rules from redacting
 * every long number. The contract for each is in validate.h.
 *
 * Invariants: no validator reads outside [s, s + len), allocates, or
 * touches anything but its arguments; non-ASCII bytes are never valid;
 * the name table is static const (no global mutable state).
 */
#include "filter/validate.h"

#include <assert.h>
#include <string.h>

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ------------------------------------------------------------------------
 * cn_id: GB 11643-1999 citizen identification number
 * ---------------------------------------------------------------------- */

/* Value of `n` ASCII digits at s (caller checked they are digits). */
static unsigned digits_value(const char *s, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10u + (unsigned)((unsigned char)s[i] - '0');
    return v;
}

static int is_leap(unsigned y)
{
    return (y % 4u == 0 && y % 100u != 0) || y % 400u == 0;
}

/* 1 if y-m-d is a real Gregorian date with 1900 <= y <= 2100. */
static int date_ok(unsigned y, unsigned m, unsigned d)
{
    static const unsigned char mdays[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    unsigned max;

    if (y < 1900u || y > 2100u || m < 1u || m > 12u || d < 1u)
        return 0;
    max = mdays[m - 1];
    if (m == 2u && is_leap(y))
        max = 29;
    return d <= max;
}

/*
 * The check character for the 17 digits at s: ISO 7064 MOD 11-2, i.e.
 * weights 2^(17-i) mod 11, sum mod 11 mapped through "10X98765432".
 */
static char cn_id_check_char(const char *s)
{
    static const unsigned char weight[17] = {
        7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
    };
    static const char map[] = "10X98765432";
    unsigned sum = 0;

    for (size_t i = 0; i < 17; i++)
        sum += weight[i] * (unsigned)((unsigned char)s[i] - '0');
    return map[sum % 11u];
}

int validate_cn_id(const char *s, size_t len)
{
    char check, last;

    if (s == NULL || len != 18)
        return 0;
    for (size_t i = 0; i < 17; i++)
        if (!is_digit((unsigned char)s[i]))
            return 0;
    if (s[0] == '0')
        return 0;
    if (!date_ok(digits_value(s + 6, 4), digits_value(s + 10, 2),
                 digits_value(s + 12, 2)))
        return 0;
    last = s[17] == 'x' ? 'X' : s[17];
    check = cn_id_check_char(s);
    return last == check;
}

/* ------------------------------------------------------------------------
 * luhn: payment card numbers
 * ---------------------------------------------------------------------- */

#define LUHN_MIN_DIGITS 13
#define LUHN_MAX_DIGITS 19
#define LUHN_MIN_GROUP 3

/*
 * Collect the digits of s into out[] (room for LUHN_MAX_DIGITS), checking
 * the grouping rules of validate.h. Returns the digit count, or 0 if the
 * shape is wrong or there are too many digits.
 */
static size_t luhn_collect(const char *s, size_t len, unsigned char *out)
{
    size_t nd = 0, group = 0, ngroups = 1;
    char sep = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_digit(c)) {
            if (nd == LUHN_MAX_DIGITS)
                return 0;
            out[nd++] = (unsigned char)(c - '0');
            group++;
            continue;
        }
        if (c != ' ' && c != '-')
            return 0;
        if (sep == 0)
            sep = (char)c;
        /* One kind of separator; never leading, trailing or doubled
         * (group == 0 covers leading and doubled). */
        if ((char)c != sep || group < LUHN_MIN_GROUP || i + 1 == len)
            return 0;
        group = 0;
        ngroups++;
    }
    if (ngroups > 1 && group < LUHN_MIN_GROUP)
        return 0;
    return nd;
}

int validate_luhn(const char *s, size_t len)
{
    unsigned char d[LUHN_MAX_DIGITS];
    size_t nd;
    unsigned sum = 0;
    int same = 1;

    if (s == NULL)
        return 0;
    nd = luhn_collect(s, len, d);
    if (nd < LUHN_MIN_DIGITS)
        return 0;
    /* No issued card number starts with 0 or is one digit repeated
     * (0000 0000 0000 0000 passes the checksum). */
    if (d[0] == 0)
        return 0;
    for (size_t i = 1; i < nd; i++)
        if (d[i] != d[0])
            same = 0;
    if (same)
        return 0;
    /* Double every second digit from the right (the check digit is
     * not doubled). */
    for (size_t i = 0; i < nd; i++) {
        unsigned v = d[nd - 1 - i];
        if (i % 2u == 1u) {
            v *= 2u;
            if (v > 9u)
                v -= 9u;
        }
        sum += v;
    }
    return sum % 10u == 0;
}

/* ------------------------------------------------------------------------
 * cn_mobile: PRC mobile numbers
 * ---------------------------------------------------------------------- */

/* Length of a country-code prefix at s ("+86", "0086", "86") followed by
 * an optional single space or dash, given that an 11-digit number must
 * still follow; 0 if there is none. */
static size_t cn_mobile_prefix(const char *s, size_t len)
{
    static const char prefixes[][5] = { "+86", "0086", "86" };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (len >= n + 11 && memcmp(s, prefixes[i], n) == 0) {
            if (s[n] == ' ' || s[n] == '-')
                n++;
            return n;
        }
    }
    return 0;
}

/* 1 if s is 11 digits, bare or grouped 3-4-4 by one kind of separator,
 * starting 1[3-9]. */
static int cn_mobile_number(const char *s, size_t len)
{
    size_t nd = 0;

    if (len == 13) {
        if ((s[3] != ' ' && s[3] != '-') || s[8] != s[3])
            return 0;
    } else if (len != 11) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (len == 13 && (i == 3 || i == 8))
            continue;
        if (!is_digit((unsigned char)s[i]))
            return 0;
        nd++;
    }
    assert(nd == 11);
    return s[0] == '1' && s[1] >= '3' && s[1] <= '9';
}

int validate_cn_mobile(const char *s, size_t len)
{
    size_t p;

    if (s == NULL || len < 11)
        return 0;
    /* A bare number ("86" alone never prefixes an 11-byte input). */
    if (cn_mobile_number(s, len))
        return 1;
    p = cn_mobile_prefix(s, len);
    if (p == 0)
        return 0;
    return cn_mobile_number(s + p, len - p);
}

/* ------------------------------------------------------------------------
 * email: pragmatic RFC 5321 / 5322 dot-atom mailbox
 * ---------------------------------------------------------------------- */

#define EMAIL_MAX 254
#define EMAIL_LOCAL_MAX 64
#define EMAIL_LABEL_MAX 63

/* RFC 5322 atext: letters, digits and !#$%&'*+-/=?^_`{|}~ */
static int is_atext(unsigned char c)
{
    return is_alpha(c) || is_digit(c) ||
        (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Local part: 1..64 atext with single inner dots. */
static int email_local_ok(const char *s, size_t len)
{
    if (len == 0 || len > EMAIL_LOCAL_MAX || s[0] == '.' ||
        s[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (s[i - 1] == '.')
                return 0;
        } else if (!is_atext(c)) {
            return 0;
        }
    }
    return 1;
}

/* One LDH label, 1..63, no hyphen at either end. */
static int email_label_ok(const char *s, size_t len)
{
    if (len == 0 || len > EMAIL_LABEL_MAX || s[0] == '-' ||
        s[len - 1] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '-')
            return 0;
    }
    return 1;
}

/* Domain: >= 2 labels, the last one letters only and >= 2 long. */
static int email_domain_ok(const char *s, size_t len)
{
    size_t start = 0, nlabels = 0, last = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (!email_label_ok(s + start, i - start))
            return 0;
        nlabels++;
        last = start;
        start = i + 1;
    }
    if (nlabels < 2 || len - last < 2)
        return 0;
    for (size_t i = last; i < len; i++)
        if (!is_alpha((unsigned char)s[i]))
            return 0;
    return 1;
}

int validate_email(const char *s, size_t len)
{
    const char *at;

    if (s == NULL || len < 3 || len > EMAIL_MAX)
        return 0;
    at = memchr(s, '@', len);
    if (at == NULL)
        return 0;
    /* A second '@' fails the domain's LDH check. */
    return email_local_ok(s, (size_t)(at - s)) &&
        email_domain_ok(at + 1, len - (size_t)(at - s) - 1);
}

/* ------------------------------------------------------------------------
 * Lookup
 * ---------------------------------------------------------------------- */

typedef struct validator_entry {
    const char *name;
    validate_fn fn;
} validator_entry;

/* Kept in the same order as validator_names. */
static const validator_entry validators[] = {
    { "cn_id", validate_cn_id },
    { "luhn", validate_luhn },
    { "cn_mobile", validate_cn_mobile },
    { "email", validate_email },
};

static const char *const validator_names[] = {
    "cn_id", "luhn", "cn_mobile", "email",
};

#define NVALIDATORS (sizeof validators / sizeof validators[0])

_Static_assert(sizeof validator_names / sizeof validator_names[0] ==
               NVALIDATORS, "validator_names and validators must agree");

validate_fn validate_lookup(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < NVALIDATORS; i++)
        if (strcmp(validators[i].name, name) == 0)
            return validators[i].fn;
    return NULL;
}

const char *const *validate_names(size_t *n)
{
    if (n != NULL)
        *n = NVALIDATORS;
    return validator_names;
}
