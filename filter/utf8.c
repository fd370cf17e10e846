/*
 * utf8.c - UTF-8 well-formedness (utf8.h): the ranges of Unicode's table
 * 3-7, so that overlongs, surrogates and code points over U+10FFFF are
 * ill-formed.
 */
#include "filter/utf8.h"

/* The range of s[1] after lead byte c, and how many bytes c needs (0:
   c starts no sequence). */
static size_t lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0)
            *lo = 0xA0;
        else if (c == 0xED)
            *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0)
            *lo = 0x90;
        else if (c == 0xF4)
            *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* Bytes after s[0] that fit the sequence s[0] begins (at most need - 1). */
static size_t fitting(const unsigned char *s, size_t n, size_t need,
    unsigned char lo, unsigned char hi)
{
    size_t k;
    for (k = 1; k < need && k < n; k++) {
        if (s[k] < lo || s[k] > hi)
            break;
        lo = 0x80;
        hi = 0xBF;
    }
    return k;
}

size_t utf8_valid(const unsigned char *s, size_t n)
{
    unsigned char lo, hi;
    size_t need;
    if (s[0] < 0x80)
        return 1;
    need = lead(s[0], &lo, &hi);
    if (need == 0 || need > n)
        return 0;
    return fitting(s, n, need, lo, hi) == need ? need : 0;
}

size_t utf8_ill_len(const unsigned char *s, size_t n)
{
    unsigned char lo, hi;
    size_t need = lead(s[0], &lo, &hi);
    return need == 0 ? 1 : fitting(s, n, need, lo, hi);
}

size_t utf8_count_ill(const unsigned char *s, size_t n)
{
    size_t i = 0, bad = 0, k;
    while (i < n) {
        i = utf8_skip_ascii(s, i, n);
        if (i >= n)
            break;
        unsigned char c = s[i];
        /* the common sequences inline: two bytes, and three outside the
           leads whose second byte has a narrower range (E0, ED) */
        if (c >= 0xE1 && c <= 0xEF && c != 0xED && n - i >= 3 &&
            (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80) {
            i += 3;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF && n - i >= 2 &&
            (s[i + 1] & 0xC0) == 0x80) {
            i += 2;
            continue;
        }
        if ((k = utf8_valid(s + i, n - i)) == 0) {
            bad++;
            k = utf8_ill_len(s + i, n - i);
        }
        i += k;
    }
    return bad;
}
