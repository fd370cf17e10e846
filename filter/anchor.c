/*
 * anchor.c - terms in three-byte UTF-8 found through anchors. A term's
 * anchor is one place in it keyed by its bytes there:
 *   eight  two three-byte sequences and the first two bytes of a third;
 *   six    two three-byte sequences;
 *   four   an ASCII byte and a three-byte sequence, either way round
 *          (08宪, A片: terms that mix a letter or digit in).
 * The scan reads the text's eight bytes at each three-byte sequence and
 * tests one bit, hashed from the first six, in a set small enough to
 * stay in cache; the positions whose bit is set are tested against the
 * full keys, and only a key that is there is looked up and the terms
 * anchored on it compared with the text around it. Four-byte keys are
 * tested only where ASCII meets a three-byte sequence, in a set of their
 * own.
 *
 * Each term has exactly one anchor, at a fixed offset in it, so each of
 * its occurrences is reported exactly once: at the one text position
 * where its anchor lies. Of a term's possible anchors the build takes the
 * kind first in the list above, and of that kind the key whose first two
 * characters the fewest terms hold (then the key itself the fewest):
 * a pair that many terms share (出售, 提供) is likely common in text too,
 * and the first test, on those six bytes, would pass there for nothing.
 * A term's entry holds its first eight bytes, so that most comparisons
 * that fail do not read the term's bytes.
 */
#include "filter/anchor.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ANC_SSE2 1
#endif

#include "sluice.h"

#define MUL     0x9E3779B97F4A7C15ull
#define M6      0x0000C0C0F0C0C0F0ull   /* two sequences: lead, cont, cont */
#define P6      0x00008080E08080E0ull
#define M8      0xC0F0C0C0F0C0C0F0ull   /* ... and a third's first two */
#define P8      0x80E08080E08080E0ull
#define K6      0x0000FFFFFFFFFFFFull
#define M3      0x0000000000C0C0F0ull   /* one sequence */
#define P3      0x00000000008080E0ull
#define MA      0x00000000C0C0F080ull   /* ASCII, then a sequence */
#define PA      0x000000008080E000ull
#define MB      0x0000000080C0C0F0ull   /* a sequence, then ASCII */
#define PB      0x00000000008080E0ull
#define K4      0x00000000FFFFFFFFull

#define BITS_PER_KEY 32u                /* the full keys: 1 bit in 32 set */
#define PRE_PER_KEY  16u                /* the six-byte set: 1 in 16 */
#define PRE_BITS_MAX ((size_t)1 << 20)  /* 128 KiB */
#define CAND_MAX     256u               /* positions tested together */

enum { KIND8, KIND6, KIND4, NKIND };

typedef struct anc_ent {
    uint64_t head;      /* the term's first eight bytes, zero-padded */
    uint32_t id;
    uint32_t back;      /* the anchor's offset in the term */
    uint32_t len;
    uint32_t off;       /* the term's bytes */
} anc_ent;

typedef struct anc_slot {
    uint64_t key;       /* 0: empty (no key is 0: it holds a lead byte) */
    uint32_t first;     /* into ents */
    uint32_t n;
} anc_slot;

struct anchor_set {
    uint64_t *pre;      /* six-byte prefixes of eight- and six-byte keys,
                           hashed shifted up 16 bits */
    unsigned pshift;    /* 64 - log2(bits in pre) */
    uint64_t *pre4;     /* four-byte keys, hashed */
    unsigned p4shift;
    uint64_t *bits;     /* every key, hashed */
    unsigned shift;     /* 64 - log2(bits in bits) */
    anc_slot *slot;
    size_t mask;        /* slots - 1 */
    anc_ent *ents;
    size_t nents;
    const unsigned char *bytes;
    int has[NKIND];
};

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Eight bytes from p[0, avail), zeros past avail: a key that would run
   past the end fails its mask. */
static inline uint64_t load_pad(const unsigned char *p, size_t avail)
{
    unsigned char b[8] = { 0 };
    memcpy(b, p, avail < 8 ? avail : 8);
    return load64(b);
}

static size_t cp_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static int kind_of(uint64_t k)
{
    return k >> 48 ? KIND8 : k >> 32 ? KIND6 : KIND4;
}

/* The key of `kind` at p[0, avail), or 0 if there is none. */
static uint64_t key_at(const unsigned char *p, size_t avail, int kind)
{
    uint64_t v = load_pad(p, avail);
    switch (kind) {
    case KIND8:
        return (v & M8) == P8 ? v : 0;
    case KIND6:
        return (v & M6) == P6 ? v & K6 : 0;
    default:
        return ((v & MA) == PA || ((v & MB) == PB && avail >= 4)) ?
            v & K4 : 0;
    }
}

static inline size_t slot_of(const anchor_set *a, uint64_t k)
{
    size_t s = (size_t)((k * MUL) >> 17) & a->mask;
    while (a->slot[s].key != 0 && a->slot[s].key != k)
        s = (s + 1) & a->mask;
    return s;
}

static inline int bit_in(const uint64_t *set, unsigned shift, uint64_t k)
{
    uint64_t b = (k * MUL) >> shift;
    return (int)(set[b >> 6] >> (b & 63) & 1);
}

static inline void bit_set(uint64_t *set, unsigned shift, uint64_t k)
{
    uint64_t b = (k * MUL) >> shift;
    set[b >> 6] |= 1ull << (b & 63);
}

/* ---- build ------------------------------------------------------------ */

/* Candidate keys during the build, and how many terms could take each. */
typedef struct ktab {
    uint64_t *key;
    uint32_t *count;
    size_t mask;
} ktab;

static size_t ktab_find(const ktab *t, uint64_t k)
{
    size_t s = (size_t)((k * MUL) >> 17) & t->mask;
    while (t->key[s] != 0 && t->key[s] != k)
        s = (s + 1) & t->mask;
    return s;
}

/* How many candidate keys term t has (a bound for the counting table). */
static size_t keys_in(const unsigned char *t, size_t len)
{
    size_t n = 0;
    for (int kind = 0; kind < NKIND; kind++)
        for (size_t j = 0; j < len; j += cp_len(t[j]))
            n += key_at(t + j, len - j, kind) != 0;
    return n;
}

/* Count each key of term t once. */
static void count_term(ktab *kt, const unsigned char *t, size_t len)
{
    for (int kind = 0; kind < NKIND; kind++)
        for (size_t j = 0; j < len; j += cp_len(t[j])) {
            uint64_t k = key_at(t + j, len - j, kind);
            int seen = 0;
            if (k == 0)
                continue;
            for (size_t q = 0; q < j && !seen; q += cp_len(t[q]))
                seen = key_at(t + q, len - q, kind) == k;
            if (!seen) {
                size_t s = ktab_find(kt, k);
                kt->key[s] = k;
                kt->count[s]++;
            }
        }
}

/* The anchor of term t (0 if it has none) and its offset: the first kind
   it has, and of it the key fewest terms could take. */
static uint64_t choose(const ktab *kt, const unsigned char *t, size_t len,
    uint32_t *back)
{
    uint64_t best = 0, bc = UINT64_MAX;
    for (int kind = 0; kind < NKIND && best == 0; kind++)
        for (size_t j = 0; j < len; j += cp_len(t[j])) {
            uint64_t k = key_at(t + j, len - j, kind), c;
            if (k == 0)
                continue;
            c = kt->count[ktab_find(kt, k)];
            if (kind == KIND8)      /* the first test reads its six bytes */
                c |= (uint64_t)kt->count[ktab_find(kt, k & K6)] << 32;
            if (c < bc) {
                bc = c;
                best = k;
                *back = (uint32_t)j;
            }
        }
    return best;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static size_t pow2_clamp(size_t n, size_t lo, size_t hi)
{
    n = pow2_at_least(n);
    return n < lo ? lo : n > hi ? hi : n;
}

static unsigned shift_of(size_t nbits)
{
    return 64u - (unsigned)__builtin_ctzll((unsigned long long)nbits);
}

/* The set's tables for akey[0, n) (0: no anchor), ndist distinct keys. */
static int fill(anchor_set *a, const unsigned char *bytes,
    const uint64_t *akey, const uint32_t *aback, const uint32_t *off,
    const uint32_t *len, size_t n, size_t ndist, size_t npre_keys)
{
    size_t nbits = pow2_clamp(ndist * BITS_PER_KEY, 4096, (size_t)1 << 26);
    size_t npre = pow2_clamp(npre_keys * PRE_PER_KEY, 4096, PRE_BITS_MAX);
    size_t np4 = pow2_clamp((ndist - npre_keys) * BITS_PER_KEY, 512,
        PRE_BITS_MAX);
    a->shift = shift_of(nbits);
    a->pshift = shift_of(npre);
    a->mask = pow2_at_least(ndist * 2) - 1;
    a->bits = calloc(nbits / 64, sizeof *a->bits);
    a->pre = calloc(npre / 64, sizeof *a->pre);
    a->p4shift = shift_of(np4);
    a->pre4 = calloc(np4 / 64, sizeof *a->pre4);
    a->slot = calloc(a->mask + 1, sizeof *a->slot);
    a->ents = malloc((a->nents ? a->nents : 1) * sizeof *a->ents);
    if (a->bits == NULL || a->pre == NULL || a->pre4 == NULL ||
        a->slot == NULL ||
        a->ents == NULL)
        return SLUICE_ENOMEM;
    /* slots with their sizes, their ranges, then the entries in place */
    for (size_t i = 0; i < n; i++) {
        if (akey[i] == 0)
            continue;
        size_t s = slot_of(a, akey[i]);
        a->slot[s].key = akey[i];
        a->slot[s].n++;
    }
    uint32_t acc = 0;
    for (size_t s = 0; s <= a->mask; s++) {
        a->slot[s].first = acc;
        acc += a->slot[s].n;
        a->slot[s].n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k = akey[i];
        if (k == 0)
            continue;
        anc_slot *sl = &a->slot[slot_of(a, k)];
        anc_ent *e = &a->ents[sl->first + sl->n++];
        int kind = kind_of(k);
        e->head = load_pad(bytes + off[i], len[i]);
        e->id = (uint32_t)i;
        e->back = aback[i];
        e->len = len[i];
        e->off = off[i];
        bit_set(a->bits, a->shift, k);
        if (kind != KIND4)
            bit_set(a->pre, a->pshift, k << 16);   /* as the scan hashes */
        else
            bit_set(a->pre4, a->p4shift, k);
        a->has[kind] = 1;
    }
    return 0;
}

int anchor_build(const unsigned char *bytes, const uint32_t *off,
    const uint32_t *len, size_t n, anchor_set **out, uint32_t *rest,
    size_t *nrest)
{
    ktab kt = { NULL, NULL, 0 };
    uint64_t *akey = NULL;
    uint32_t *aback = NULL;
    anchor_set *a = NULL;
    size_t ncand = 0, nanc = 0, ndist = 0, npre = 0;
    int rc = SLUICE_ENOMEM;

    *out = NULL;
    *nrest = 0;
    for (size_t i = 0; i < n; i++)
        ncand += keys_in(bytes + off[i], len[i]);
    kt.mask = pow2_at_least(ncand * 2 + 2) - 1;
    kt.key = calloc(kt.mask + 1, sizeof *kt.key);
    kt.count = calloc(kt.mask + 1, sizeof *kt.count);
    akey = malloc((n ? n : 1) * sizeof *akey);
    aback = malloc((n ? n : 1) * sizeof *aback);
    if (kt.key == NULL || kt.count == NULL || akey == NULL || aback == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        count_term(&kt, bytes + off[i], len[i]);
    for (size_t i = 0; i < n; i++) {
        akey[i] = choose(&kt, bytes + off[i], len[i], &aback[i]);
        if (akey[i] == 0)
            rest[(*nrest)++] = (uint32_t)i;
        else
            nanc++;
    }
    if (nanc == 0) {
        rc = 0;
        goto out;
    }
    /* the table now counts terms per chosen key */
    memset(kt.count, 0, (kt.mask + 1) * sizeof *kt.count);
    for (size_t i = 0; i < n; i++)
        if (akey[i] != 0 && kt.count[ktab_find(&kt, akey[i])]++ == 0) {
            ndist++;
            npre += kind_of(akey[i]) != KIND4;
        }
    if ((a = calloc(1, sizeof *a)) == NULL)
        goto out;
    a->nents = nanc;
    a->bytes = bytes;
    if ((rc = fill(a, bytes, akey, aback, off, len, n, ndist, npre)) != 0)
        goto out;
    *out = a;
    a = NULL;
out:
    anchor_free(a);
    free(kt.key);
    free(kt.count);
    free(akey);
    free(aback);
    if (rc != 0)
        *nrest = 0;
    return rc;
}

void anchor_free(anchor_set *a)
{
    if (a == NULL)
        return;
    free(a->pre);
    free(a->pre4);
    free(a->bits);
    free(a->slot);
    free(a->ents);
    free(a);
}

size_t anchor_count(const anchor_set *a)
{
    return a ? a->nents : 0;
}

size_t anchor_bytes(const anchor_set *a)
{
    if (a == NULL)
        return 0;
    return sizeof *a + ((size_t)1 << (64 - a->pshift)) / 8 +
        ((size_t)1 << (64 - a->p4shift)) / 8 +
        ((size_t)1 << (64 - a->shift)) / 8 +
        (a->mask + 1) * sizeof *a->slot + a->nents * sizeof *a->ents;
}

/* ---- scan ------------------------------------------------------------- */

typedef struct scan {
    const anchor_set *a;
    const unsigned char *text;
    size_t n;
    anchor_fn fn;
    void *ctx;
    size_t nc;
    size_t cand[CAND_MAX];      /* run positions whose six bytes set pre */
} scan;

/* Key k is in the set at text position pos: compare its terms. */
static __attribute__((noinline)) int probe(const scan *s, uint64_t k,
    size_t pos)
{
    const anchor_set *a = s->a;
    const anc_slot *sl = &a->slot[slot_of(a, k)];
    if (sl->key != k)
        return 0;
    for (uint32_t j = 0; j < sl->n; j++) {
        const anc_ent *e = &a->ents[sl->first + j];
        size_t st, l = e->len;
        if (e->back > pos || s->n - (pos - e->back) < l)
            continue;
        st = pos - e->back;
        /* the first eight bytes from the entry itself, the rest (most
           terms are longer) only if they agree */
        const unsigned char *t = s->text + st;
        uint64_t x = s->n - st >= 8 ? load64(t) : load_pad(t, s->n - st);
        if (l < 8)
            x &= ((uint64_t)1 << (8 * l)) - 1;
        if (x != e->head || (l > 8 &&
                memcmp(t + 8, a->bytes + e->off + 8, l - 8) != 0))
            continue;
        if (s->fn(e->id, st + l, s->ctx) != 0)
            return 1;
    }
    return 0;
}

/* The eight- and six-byte keys of v, read at run position pos. */
static int test_run(const scan *s, uint64_t v, size_t pos)
{
    const anchor_set *a = s->a;
    if (a->has[KIND8] && (v & M8) == P8 &&
        bit_in(a->bits, a->shift, v) && probe(s, v, pos))
        return 1;
    return a->has[KIND6] && bit_in(a->bits, a->shift, v & K6) &&
        probe(s, v & K6, pos);
}

static int flush(scan *s)
{
    size_t nc = s->nc;
    s->nc = 0;
    for (size_t k = 0; k < nc; k++)
        if (test_run(s, load64(s->text + s->cand[k]), s->cand[k]))
            return 1;
    return 0;
}

/* A four-byte key k at pos (ASCII meets a sequence). Earlier candidates
   go first, so that hits come in order. */
static __attribute__((noinline)) int test_edge(scan *s, uint64_t k,
    size_t pos)
{
    return flush(s) || probe(s, k, pos);
}

/* A three-byte sequence at i (v: the eight bytes from i, zero-padded),
   the first of a run or alone: its four-byte keys. */
static inline int edges(scan *s, uint64_t v, size_t i)
{
    const unsigned char *t = s->text;
    const anchor_set *a = s->a;
    uint64_t k;
    if (i > 0 && t[i - 1] < 0x80 &&
        bit_in(a->pre4, a->p4shift, k = (v << 8 | t[i - 1]) & K4) &&
        test_edge(s, k, i - 1))
        return 1;
    return (v & M6) != P6 && i + 3 < s->n && t[i + 3] < 0x80 &&
        bit_in(a->pre4, a->p4shift, k = v & K4) && test_edge(s, k, i);
}

int anchor_scan(const anchor_set *a, const unsigned char *text, size_t n,
    anchor_fn fn, void *ctx)
{
    scan s;
    size_t i = 0;
    if (a == NULL)
        return 0;
    s.a = a;
    s.text = text;
    s.n = n;
    s.fn = fn;
    s.ctx = ctx;
    s.nc = 0;
    const uint64_t *pre = a->pre;
    const unsigned sh = a->pshift;
    const int has4 = a->has[KIND4];
    size_t *cand = s.cand;
    while (n - i >= 8) {
        uint64_t v = load64(text + i);
        if ((v & M3) != P3) {
            unsigned c = (unsigned)(v & 0xFF);
            if (c >= 0x80) {
                i += c < 0xC0 ? 1 : cp_len((unsigned char)c);
                continue;
            }
            i++;
#ifdef ANC_SSE2
            /* ASCII (English, after normalization: nearly all of it) */
            while (n - i >= 16) {
                unsigned m = (unsigned)_mm_movemask_epi8(_mm_loadu_si128(
                    (const __m128i *)(const void *)(text + i)));
                if (m != 0) {
                    i += (size_t)__builtin_ctz(m);
                    break;
                }
                i += 16;
            }
#endif
            continue;
        }
        if (has4 && edges(&s, v, i))
            return 1;
        if ((v & M6) != P6) {               /* one alone */
            i += 3;
            continue;
        }
        /* a run of three-byte sequences (Chinese): positions whose bit is
           set (one in ten or so) are noted without a branch on it, and
           tested together */
        size_t nc = s.nc;       /* in a register: s is passed on */
        /* the text is valid UTF-8: two lead bytes make two sequences */
        const size_t lim = n - 8;
        while (i <= lim && ((uint32_t)v & 0xF00000F0u) == 0xE00000E0u) {
            /* the first six bytes, shifted up: the multiply carries no
               other bits into the hash */
            cand[nc] = i;
            nc += (size_t)bit_in(pre, sh, v << 16);
            i += 3;
            if (nc == CAND_MAX) {
                s.nc = nc;
                if (flush(&s))
                    return 1;
                nc = 0;
            }
            if (i > lim)
                break;
            v = load64(text + i);
        }
        s.nc = nc;
        if (n - i >= 8 && (v & M3) == P3) {
            /* the run's last sequence: ASCII may follow it */
            if (has4 && edges(&s, v, i))
                return 1;
            i += 3;
        }
    }
    if (flush(&s))
        return 1;
    /* the last bytes, through a zero-padded copy */
    while (i < n) {
        uint64_t v = load_pad(text + i, n - i);
        if ((v & M3) == P3) {
            if ((has4 && edges(&s, v, i)) ||
                ((v & M6) == P6 && test_run(&s, v, i)))
                return 1;
            i += 3;
            continue;
        }
        i += text[i] < 0xC0 ? 1 : cp_len(text[i]);
    }
    return 0;
}
