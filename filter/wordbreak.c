/*
 * wordbreak.c - word boundaries for `boundary: word` rules.
 *
 * Checks run only at the two ends of a candidate match, never over the
 * whole text: ICU's dictionary segmentation of Chinese runs at about
 * 20 MB/s, too slow for every byte but cheap for a window of a few dozen
 * characters around a candidate. When both neighbours of the offset are
 * ASCII the answer comes from a fixed rule (letters, digits and '_' make
 * words) without ICU at all.
 */
#include <unicode/ubrk.h>
#include <unicode/utext.h>

#include "filter/wordbreak.h"

#define WINDOW 96   /* bytes each side of the offset given to ICU */

void wordbreak_init(wordbreak *w)
{
    w->bi = NULL;
    w->ut = NULL;
    w->failed = 0;
}

void wordbreak_free(wordbreak *w)
{
    if (w == NULL)
        return;
    if (w->bi != NULL)
        ubrk_close((UBreakIterator *)w->bi);
    if (w->ut != NULL)
        utext_close((UText *)w->ut);
    w->bi = NULL;
    w->ut = NULL;
}

static int ascii_word(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z') || c == '_';
}

static int open_iter(wordbreak *w)
{
    UErrorCode st = U_ZERO_ERROR;
    if (w->bi != NULL)
        return 0;
    if (w->failed)
        return -1;
    w->bi = ubrk_open(UBRK_WORD, "zh", NULL, 0, &st);
    if (U_FAILURE(st)) {
        w->bi = NULL;
        w->failed = 1;
        return -1;
    }
    return 0;
}

int wordbreak_is_boundary(wordbreak *w, const char *text, size_t len,
    size_t off)
{
    const unsigned char *t = (const unsigned char *)text;
    if (off == 0 || off >= len)
        return 1;
    unsigned char before = t[off - 1], after = t[off];
    if (before < 0x80 && after < 0x80)
        return !(ascii_word(before) && ascii_word(after));
    if (open_iter(w) != 0)
        return 1;   /* no ICU iterator: treat as a boundary (fail towards
                       matching, the conservative side for a filter) */

    size_t ws = off > WINDOW ? off - WINDOW : 0;
    size_t we = len - off > WINDOW ? off + WINDOW : len;
    while (ws > 0 && (t[ws] & 0xC0) == 0x80)
        ws--;
    while (we < len && (t[we] & 0xC0) == 0x80)
        we++;

    UErrorCode st = U_ZERO_ERROR;
    UText *ut = utext_openUTF8((UText *)w->ut, text + ws,
        (int64_t)(we - ws), &st);
    if (U_FAILURE(st))
        return 1;
    w->ut = ut;
    ubrk_setUText((UBreakIterator *)w->bi, ut, &st);
    if (U_FAILURE(st))
        return 1;
    return ubrk_isBoundary((UBreakIterator *)w->bi, (int32_t)(off - ws)) != 0;
}

int wordbreak_decidable(const char *text, size_t len, size_t off)
{
    const unsigned char *t = (const unsigned char *)text;
    if (off == 0)
        return 1;
    if (off >= len)
        return 0;   /* the next character decides */
    if (t[off - 1] < 0x80 && t[off] < 0x80)
        return 1;
    return len - off > WINDOW + 4;
}
