/*
 * validate.h - validators that confirm candidate matches (a rule's
 * `validate:` key): a regex finds something shaped like an ID number, a
 * card number, a phone number or an address; the validator says whether
 * the matched bytes really are one (check digits, dates, ranges).
 *
 * A validator takes the matched bytes exactly as they stand in the text
 * it was run on (the original text for `on: original` rules, which is
 * what PII rules use), `len` bytes, not NUL-terminated, and returns 1 if
 * they are valid, 0 if not. It never reads outside [s, s + len), keeps no
 * state and allocates nothing: call it from any thread. Input that is not
 * plain ASCII of the expected shape is invalid, never an error; so is a
 * NULL `s` (with any `len`) and an empty input.
 *
 * What each expects (the whole input must be the value: no surrounding
 * spaces, quotes or punctuation; the matcher's regex has to cut it out):
 *
 *   cn_id      PRC resident ID (GB 11643-1999): exactly 18 bytes, 17 ASCII
 *              digits then a check character (digit, 'X' or 'x'); first
 *              digit 1-9; birth date YYYYMMDD in positions 7-14 with year
 *              1900..2100 and a real calendar day; ISO 7064 MOD 11-2 check.
 *   luhn       payment card number: 13-19 digits, first digit not 0, not
 *              all one digit, Luhn checksum. Groups may be separated by one
 *              space or one dash (one kind per number); when separated,
 *              every group has at least 3 digits ("4111 1111 1111 1111",
 *              "3782-822463-10005", "6228 4800 1234 5678 901").
 *   cn_mobile  PRC mobile number: 11 digits 1[3-9]xxxxxxxxx; optionally
 *              prefixed by "+86", "86" or "0086", itself optionally
 *              followed by one space or dash; the 11 digits either run
 *              together or are grouped 3-4-4 by two spaces or two dashes
 *              ("138 1234 5678", "+86-138-1234-5678").
 *   email      pragmatic RFC 5321 mailbox: local@domain, total <= 254;
 *              local part 1..64 bytes of atext and dots (no leading,
 *              trailing or doubled dot; no quoted strings); domain of >= 2
 *              labels, each 1..63 letters/digits/hyphens not starting or
 *              ending with a hyphen; the last label (TLD) letters only,
 *              >= 2. ASCII only: internationalized addresses are invalid.
 */
#ifndef SLUICE_FILTER_VALIDATE_H
#define SLUICE_FILTER_VALIDATE_H

#include <stddef.h>

/* 1 if s[0..len) is valid, 0 if not. Pure; thread-safe. */
typedef int (*validate_fn)(const char *s, size_t len);

/*
 * The validator called `name` (NUL-terminated, case-sensitive, e.g.
 * "cn_id"), or NULL if there is none by that name (or name is NULL).
 */
validate_fn validate_lookup(const char *name);

/*
 * The names of all validators, in a static array of *n entries (n may be
 * NULL), for messages such as "unknown validator 'x' (known: ...)". The
 * array and strings are static and must not be freed.
 */
const char *const *validate_names(size_t *n);

/* The validators themselves, for callers that know which they want. */
int validate_cn_id(const char *s, size_t len);
int validate_luhn(const char *s, size_t len);
int validate_cn_mobile(const char *s, size_t len);
int validate_email(const char *s, size_t len);

#endif
