/*
 * utf8.h - UTF-8 well-formedness for the library's JSON writers
 * (verdicts, ledger records, receipts) and for counting a text's
 * ill-formed sequences without normalizing it: one rule for all of them,
 * so that each sees one U+FFFD where the normalizer reads one (the
 * maximal subpart of an ill-formed sequence, as Unicode recommends).
 */
#ifndef SLUICE_UTF8_H
#define SLUICE_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Length (1-4) of the well-formed sequence at s (n > 0 bytes left), or 0:
   overlong, surrogate, over U+10FFFF, cut short, or a stray byte. */
size_t utf8_valid(const unsigned char *s, size_t n);

/* Bytes of the ill-formed sequence at s (where utf8_valid gives 0): the
   lead byte and the continuation bytes that could still have completed
   it, at least 1. */
size_t utf8_ill_len(const unsigned char *s, size_t n);

/* Ill-formed sequences in s[0..n): the U+FFFDs the normalizer reads
   there (its `invalid` count), without normalizing. */
size_t utf8_count_ill(const unsigned char *s, size_t n);

/* From s[i] on, past whole eight-byte words of ASCII while eight bytes
   remain before n: what a scan for the next non-ASCII byte may skip
   unread. The new i. */
static inline size_t utf8_skip_ascii(const unsigned char *s, size_t i,
    size_t n)
{
    uint64_t w;
    while (n - i >= 8 && (memcpy(&w, s + i, 8),
               (w & 0x8080808080808080ull) == 0))
        i += 8;
    return i;
}

#endif
