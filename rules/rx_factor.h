/*
 * rx_factor.h - literal factors of a regex: strings of which every match
 * of the pattern contains at least one; and runs of digits and separators
 * every match holds.
 *
 * A Hyperscan prefilter of all regex rules in one database reads text at
 * about 1 GB/s with the baseline's fourteen patterns, as much time as the
 * whole term pipeline on English text. Most secret and e-mail patterns
 * carry a literal that every match must hold (`AKIA`, `xoxb-`, `@`), and
 * a literal database of those few strings reads text at 8-20 GB/s; the
 * rule's own prefilter then runs only on an output that holds one.
 * Number patterns (ID, phone, card, IPv4) carry no literal but a long run
 * of digits and separators (rx_run_of), and are gated on that instead.
 * The analysis is conservative: anything it does not understand gives no
 * factor and no run, and the rule stays in the combined prefilter.
 */
#ifndef SLUICE_RULES_RX_FACTOR_H
#define SLUICE_RULES_RX_FACTOR_H

#include <stddef.h>

#define RX_FACTOR_MAX 16        /* strings in a set */
#define RX_FACTOR_LEN 32        /* bytes per string */

typedef struct rx_factors {
    unsigned n;                                 /* 0: none */
    unsigned char len[RX_FACTOR_MAX];
    char s[RX_FACTOR_MAX][RX_FACTOR_LEN];
} rx_factors;

/*
 * Factors of `pattern` (PCRE2 syntax, compiled with PCRE2_UTF and no other
 * option), selective enough to be worth a gate: each at least three bytes,
 * or one or two bytes none of which is a letter, digit, space or common
 * punctuation. Returns the number of strings in out (0: no gate).
 */
unsigned rx_factors_of(const char *pattern, rx_factors *out);

/*
 * Runs of the bytes numbers are written with. RX_RUN_NUMBER: digits,
 * spaces and hyphens (138 1234 5678, 6222-0200-...); RX_RUN_DOTTED:
 * digits and dots (192.168.0.1). rx_run_of gives the length of a run of
 * class `cls` that every match of `pattern` (as above) holds, 0 if none
 * is known: a PRC ID number's pattern holds 17 of the first class, a
 * phone number's 11, a card number's 13; an IPv4 address holds 7 of the
 * second. An output without such a run cannot match, and most have none
 * (a year is four digits, a date ten).
 */
#define RX_RUN_NUMBER 0
#define RX_RUN_DOTTED 1
#define RX_RUN_CLASSES 2
unsigned rx_run_of(const char *pattern, int cls);

/* Is byte c one of class cls's? */
int rx_run_byte(int cls, unsigned char c);

#endif
