/*
 * wordbreak.h - is this byte offset a word boundary? ASCII neighbours are
 * decided by a fast rule (letters and digits form words); anything else
 * asks ICU's word break iterator, which also segments Chinese by its
 * dictionary, over a small window around the offset.
 *
 * A wordbreak holds an ICU break iterator, opened lazily on first need;
 * one thread at a time.
 */
#ifndef SLUICE_FILTER_WORDBREAK_H
#define SLUICE_FILTER_WORDBREAK_H

#include <stddef.h>

typedef struct wordbreak {
    void *bi;     /* UBreakIterator*, NULL until needed */
    void *ut;     /* UText*, reused */
    int failed;   /* ICU could not open one: fall back to the ASCII rule */
} wordbreak;

void wordbreak_init(wordbreak *w);
void wordbreak_free(wordbreak *w);

/* 1 if `off` in text[0..len) is a word boundary, else 0. */
int wordbreak_is_boundary(wordbreak *w, const char *text, size_t len,
    size_t off);

/*
 * 1 if wordbreak_is_boundary(text, len, off) would give the same answer
 * whatever text followed text[len - 1]: the bytes it reads are all there.
 * Streaming sessions hold a candidate back until it is.
 */
int wordbreak_decidable(const char *text, size_t len, size_t off);

#endif
