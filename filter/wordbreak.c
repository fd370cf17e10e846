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
#include <unicode/uchar.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include "filter/wordbreak.h"

#define WINDOW 96   /* bytes each side of the offset given to ICU */
#define ATTACHED 32 /* bytes of Extend/Format/ZWJ looked past (< WINDOW) */

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

/* U+2019 (’), U+02BC (ʼ) or U+FF07 (＇) at p (n bytes left): the
   apostrophes that fold to ' or are written for it. */
static int is_apostrophe(const unsigned char *p, size_t n)
{
    return (n >= 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99) ||
        (n >= 2 && p[0] == 0xCA && p[1] == 0xBC) ||
        (n >= 3 && p[0] == 0xEF && p[1] == 0xBC && p[2] == 0x87);
}

/* One of those ending at t[off]. */
static int is_apostrophe_before(const unsigned char *t, size_t off)
{
    return (off >= 3 && is_apostrophe(t + off - 3, 3)) ||
        is_apostrophe(t + off - 2, 2);
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
    /* An apostrophe bounds a word, as the ASCII one does above
       ("fuck's"): ICU keeps "fuck’s" one word (U+2019 is MidNumLet). */
    if (is_apostrophe(t + off, len - off) || (off >= 2 &&
            is_apostrophe_before(t, off)))
        return 1;
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
    if (ubrk_isBoundary((UBreakIterator *)w->bi, (int32_t)(off - ws)))
        return 1;
    /* ICU attaches Extend, Format and ZWJ code points to the character
       before them (UAX #29, WB4), so "word" + ZWJ, a variation selector,
       a soft hyphen, a bidi control or a combining mark has no boundary
       right after "word". Normalization drops those code points, and a
       term must not hide behind them: the boundary is then the one after
       them (within the same window, so that sessions decide alike). */
    size_t end = off, lim = off + ATTACHED < we ? off + ATTACHED : we;
    while (end < lim) {
        int32_t i = (int32_t)end, n = (int32_t)lim;
        UChar32 c;
        U8_NEXT(t, i, n, c);
        if (c < 0)
            break;
        int wb = u_getIntPropertyValue(c, UCHAR_WORD_BREAK);
        if (wb != U_WB_EXTEND && wb != U_WB_FORMAT && wb != U_WB_ZWJ)
            break;
        end = (size_t)i;
    }
    return end > off &&
        ubrk_isBoundary((UBreakIterator *)w->bi, (int32_t)(end - ws)) != 0;
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
