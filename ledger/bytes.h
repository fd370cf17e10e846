/*
 * bytes.h - little-endian encoding, a growable byte buffer and a bounded
 * read cursor: the building blocks of the ledger's canonical binary
 * formats (records, frames, checkpoints; docs/ledger.md).
 *
 * Design: writers never fail midway; a buffer that cannot grow sets `oom`
 * and ignores further writes, so an encoder checks once at the end. A
 * cursor that would read past its end sets `bad` and returns zeros, so a
 * decoder checks once at the end too. Both are plain values on the
 * caller's stack; nothing here is shared.
 */
#ifndef SLUICE_LEDGER_BYTES_H
#define SLUICE_LEDGER_BYTES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixed-width little-endian ------------------------------------------ */

static inline void le16_put(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void le32_put(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void le64_put(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint16_t le16_get(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t le32_get(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
        ((uint32_t)p[3] << 24);
}

static inline uint64_t le64_get(const unsigned char *p)
{
    return (uint64_t)le32_get(p) | ((uint64_t)le32_get(p + 4) << 32);
}

/* ---- growable buffer ------------------------------------------------------ */

typedef struct lbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;            /* an allocation failed; later writes are ignored */
} lbuf;

/* Make room for n more bytes; returns a pointer to them, or NULL (oom). */
static inline unsigned char *lbuf_extend(lbuf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (n > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n)
            c *= 2;
        unsigned char *q = realloc(b->p, c);
        if (q == NULL) {
            b->oom = 1;
            return NULL;
        }
        b->p = q;
        b->cap = c;
    }
    unsigned char *at = b->p + b->len;
    b->len += n;
    return at;
}

static inline void lbuf_put(lbuf *b, const void *s, size_t n)
{
    unsigned char *at = lbuf_extend(b, n);
    if (at != NULL && n > 0)
        memcpy(at, s, n);
}

static inline void lbuf_u8(lbuf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    lbuf_put(b, &c, 1);
}

static inline void lbuf_u16(lbuf *b, uint16_t v)
{
    unsigned char *at = lbuf_extend(b, 2);
    if (at != NULL)
        le16_put(at, v);
}

static inline void lbuf_u32(lbuf *b, uint32_t v)
{
    unsigned char *at = lbuf_extend(b, 4);
    if (at != NULL)
        le32_put(at, v);
}

static inline void lbuf_u64(lbuf *b, uint64_t v)
{
    unsigned char *at = lbuf_extend(b, 8);
    if (at != NULL)
        le64_put(at, v);
}

static inline void lbuf_str(lbuf *b, const char *s)
{
    lbuf_put(b, s, strlen(s));
}

static inline void lbuf_free(lbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

/* ---- bounded cursor -------------------------------------------------------- */

typedef struct lcur {
    const unsigned char *p;
    size_t len, off;
    int bad;            /* a read went past the end */
} lcur;

static inline const unsigned char *lcur_take(lcur *c, size_t n)
{
    if (c->bad || n > c->len - c->off) {
        c->bad = 1;
        return NULL;
    }
    const unsigned char *at = c->p + c->off;
    c->off += n;
    return at;
}

static inline uint8_t lcur_u8(lcur *c)
{
    const unsigned char *at = lcur_take(c, 1);
    return at ? at[0] : 0;
}

static inline uint16_t lcur_u16(lcur *c)
{
    const unsigned char *at = lcur_take(c, 2);
    return at ? le16_get(at) : 0;
}

static inline uint32_t lcur_u32(lcur *c)
{
    const unsigned char *at = lcur_take(c, 4);
    return at ? le32_get(at) : 0;
}

static inline uint64_t lcur_u64(lcur *c)
{
    const unsigned char *at = lcur_take(c, 8);
    return at ? le64_get(at) : 0;
}

/* True if the whole input was read and nothing went wrong. */
static inline int lcur_done(const lcur *c)
{
    return !c->bad && c->off == c->len;
}

#endif
