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

#endif
