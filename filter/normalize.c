/*
 * normalize.c - the table-driven normalizer of filter/normalize.h.
 *
 * PURPOSE
 *   Fold model output into the form rules are matched on (ignorables out,
 *   NFKC_Casefold, Traditional -> Simplified, confusable skeletons, leet,
 *   noise skipping with gaps, repeat collapsing), keeping for every output
 *   byte the original byte range it came from. docs/normalization.md is the
 *   user-level description; this comment is the implementer's.
 *
 * DESIGN
 *   Build (norm_tables_new), once per policy compile. ICU is asked, per
 *   step, only about the code points that step can change:
 *     - general categories (u_enumCharTypes), White_Space, Default_Ignorable
 *       and Changes_When_NFKC_Casefolded come as ranges (USet);
 *     - NFKC_Casefold of every CWKCF code point: one unorm2_normalize call
 *       per batch, the code points separated by '\n' (a starter that
 *       neither composes nor maps, so the batch normalizes piecewise);
 *     - Traditional-Simplified: the transliterator's own source set
 *       (utrans_getSourceSet), clipped to the ideograph ranges, again
 *       transliterated in '\n'-separated batches;
 *     - confusables: uspoof_getSkeleton over '\n'-separated batches of all
 *       assigned non-ASCII code points except a few large blocks (unified
 *       ideographs, Hangul syllables, Yi, Tangut) that have no ASCII
 *       skeletons (the unit tests check this against ICU per code point).
 *   The results go into two-stage tables sharing one store of
 *   deduplicated 64-entry blocks (index: 17,408 uint16 per table):
 *     base  class bits of every code point (noise, space, break, ignorable)
 *           and its NFKC_Casefold mapping;
 *     ts    Traditional -> Simplified (ideographs only);
 *     conf  confusable -> 1-2 ASCII letters/digits; other marks: delete;
 *     comp  one per non-empty combination of the three mapping steps,
 *           applied in order (nfkc, ts, conf) and composed, so that any
 *           flags take the fast path; blocks no step maps are the base
 *           table's own.
 *   An entry is 32 bits: a 21-bit payload (a code point, or the offset of a
 *   [length][UTF-8 bytes] record in the pool), a 2-bit kind (identity,
 *   single, expand, delete) and flag bits laid out so that the class bits
 *   shifted right by 20 are the NORM_GAP_* bits. ASCII has four 128-entry
 *   maps (casefold on/off x leet on/off).
 *
 *   Run (norm_feed). Input is read in blocks of FEED_BLOCK bytes; before a
 *   block the output is grown to hold that block's worst case (t->ratio
 *   output bytes per input byte, computed at build), so the loops never
 *   check capacity. Code points are written with fixed-width stores (four
 *   entries per array, wr_put; eight for ASCII words) and the position
 *   then advances by the code point's length, or by 0 for skipped noise,
 *   so skipping costs no branch; the arrays keep SLACK spare entries.
 *   Three loops carry the load, each with its state in registers:
 *     ascii_swar   eight bytes at a time when nothing is skipped or
 *                  collapsed;
 *     ascii_fast,  branch-free byte loops (the gap kept as two short
 *     ascii_rep    dependency chains), without / with NORM_REPEAT;
 *     cjk_run      runs of three-byte sequences: one 4-byte load and one
 *                  table lookup each (the composed table for the flags,
 *                  or the base table when no mapping step is on).
 *   Everything else - expansions, deletions, ignorables, leet outside
 *   ASCII, invalid UTF-8 - goes through fold_cp() and
 *   emit_folded(), the reference path that defines the semantics; the
 *   loops are shortcuts of it (the tests check both against a naive
 *   model). NORM_REPEAT extends the last written code point in place
 *   (run, src_end); at the end of a non-final feed that code point is
 *   taken back into norm_state (rep_hold) and rewritten by the next feed
 *   (rep_resume).
 *
 * INVARIANTS
 *   - Tables are immutable once norm_tables_new() returns; nothing here
 *     has static or global mutable state.
 *   - norm_state is plain data: a partial UTF-8 sequence (a valid proper
 *     prefix, never an invalid one), the pending gap, and with NORM_REPEAT
 *     the held-back run. Feeding a text in any chunking gives the same
 *     output as feeding it whole.
 *   - out->cap >= out->len + SLACK whenever cap > 0; entries past len
 *     are scratch. out->len and out->invalid change only when norm_feed
 *     succeeds; on SLUICE_ENOMEM the norm_state is restored as well.
 */
#include "filter/normalize.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uset.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utrans.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SIMD_ASCII 1     /* SSSE3 path for text-only ASCII, chosen at run time */
#endif

/* ------------------------------------------------------------------------
 * Layout
 * ---------------------------------------------------------------------- */

#define CP_LIMIT   0x110000u
#define BLK_SHIFT  6u
#define BLK_LEN    (1u << BLK_SHIFT)
#define BLK_MASK   (BLK_LEN - 1u)
#define NBLK       (CP_LIMIT >> BLK_SHIFT)
#define FOLD_MAX   64u       /* code points one input code point folds to */
#define SLACK      16u       /* entries stored past the end (4, 8 for ASCII) */
#define FEED_BLOCK 65536u    /* input bytes per capacity check */
#define REPL       0xFFFDu   /* replacement for invalid UTF-8 */
#define BATCH      2048u     /* code points per batched ICU call */

/* Table entry. */
#define E_PAYLOAD  0x001FFFFFu
#define E_KSHIFT   21
#define E_KIND     (3u << E_KSHIFT)
#define K_IDENT    0u
#define K_SINGLE   1u
#define K_EXPAND   2u
#define K_DELETE   3u
#define E_SLOWKIND (2u << E_KSHIFT)  /* set for K_EXPAND and K_DELETE */
#define E_CSHIFT   20
#define E_SPACE    (1u << 24)        /* the original is white space */
#define E_BREAK    (1u << 25)        /* ... a line break or CJK punctuation */
#define E_IGN      (1u << 26)        /* ... default-ignorable */
#define E_NOISE    (1u << 27)        /* the result is all noise (pre-leet) */
#define E_LEET     (1u << 28)        /* the result holds a leet character */
#define E_MIXED    (1u << 29)        /* EXPAND: noise and non-noise; the
                                        record is followed by the result
                                        without its noise */
#define E_FLAGS    (E_SPACE | E_BREAK | E_IGN | E_NOISE | E_LEET | E_MIXED)

/* Class byte: of a code point at build time (K_*), of a fold (C_*). */
#define C_SPACE    NORM_GAP_SPACE
#define C_BREAK    NORM_GAP_BREAK
#define C_NOISE    0x80u
#define K_ASSIGNED 0x01u             /* not Cn, Co or Cs */
#define K_MARK     0x02u             /* Mn or Me */
#define K_CWKCF    0x04u             /* Changes_When_NFKC_Casefolded */
#define K_MAPPED   0x08u             /* some step maps it */
#define K_SPACE    C_SPACE
#define K_BREAK    C_BREAK
#define K_IGN      0x40u
#define K_NOISE    C_NOISE

_Static_assert(E_SPACE == (K_SPACE << E_CSHIFT), "space bit");
_Static_assert(E_BREAK == (K_BREAK << E_CSHIFT), "break bit");
_Static_assert(E_IGN == (K_IGN << E_CSHIFT), "ignorable bit");
_Static_assert(E_NOISE == (K_NOISE << E_CSHIFT), "noise bit");

/*
 * Tables: three of single steps (base also holds the classes), then one
 * composed table per non-empty combination of the mapping steps, numbered
 * by combo(): IX_COMP + 1 is NFKC_CF alone, ..., IX_COMP + 7 all three.
 */
enum { IX_BASE = 0, IX_TS = 1, IX_CONF = 2, IX_COMP = 2, IX_N = 10 };
#define IX_FULL (IX_COMP + 7)

/* CJK Extension A and Unified Ideographs: the bulk of Chinese text. */
/* What the text-only CJK loop may do with a three-byte code point. */
#define CJK2_PLAIN 0u   /* kept as it is */
#define CJK2_NOISE 1u   /* noise, no break or space (with skip_noise) */
#define CJK2_BREAK 2u   /* noise holding a break (with skip_noise) */
#define CJK2_OTHER 3u   /* anything else: the general path */
#define MAP3_LO  0x3400u    /* map3: the CJK ideographs U+3400..U+9FFF */
#define MAP3_N   (0xA000u - MAP3_LO)
#define PLAIN_N  0x10000u      /* the BMP; bits below 0x800 and of
                                   surrogates stay clear */

/* Which composed table serves the mapping steps of flags f (0: none). */
static inline unsigned combo(unsigned f)
{
    return ((f & NORM_NFKC_CASEFOLD) ? 1u : 0u) |
        ((f & NORM_TRAD_SIMP) ? 2u : 0u) | ((f & NORM_CONFUSABLES) ? 4u : 0u);
}

/* The step flags of a combination (the inverse of combo()). */
static inline unsigned combo_flags(unsigned k)
{
    return ((k & 1) ? NORM_NFKC_CASEFOLD : 0) | ((k & 2) ? NORM_TRAD_SIMP : 0) |
        ((k & 4) ? NORM_CONFUSABLES : 0);
}

struct norm_tables {
    uint32_t *blocks;        /* nblocks * BLK_LEN entries */
    size_t nblocks;
    size_t blocks_cap;       /* in blocks (build only) */
    uint16_t *ix;            /* IX_N * NBLK block numbers */
    unsigned char *pool;     /* [len][UTF-8] records */
    size_t pool_len;
    size_t pool_cap;         /* (build only) */
    uint8_t amap[4][128];    /* ASCII result, by [casefold | leet << 1] */
    /* SIMD ASCII (text only): noise as two nibble tables (b is noise iff
       lo[b & 15] & hi[b >> 4]), by [variant][skip noise]; the variant's
       map must be the identity or A-Z lower-casing (simd[v] says so) */
    uint8_t nib_lo[4][2][16], nib_hi[4][2][16];
    uint8_t simd[4];         /* 0: scalar; 1: identity; 2: lower-case A-Z */
    uint8_t cjk2[IX_N][PLAIN_N / 4]; /* two bits per BMP code point under
                                table i: CJK2_* (CJK2_PLAIN: kept as it
                                is, no mapping, class or flag; the CJK
                                path tests it before the cache-missing
                                table lookup) */
    uint16_t *map3[IX_N];    /* the ideograph MAP3_LO + j maps to the
                                three-byte code point map3[i][j] (0: not
                                that simply), no class or flag; NULL when
                                table i maps none (Traditional Chinese) */
    uint8_t shuf[256][8];    /* pshufb indices packing the set bits of m */
    uint8_t acls[4][128];    /* ASCII class (C_*), same index */
    unsigned ratio;          /* output bytes per input byte, worst case */
};

/* Leetspeak, applied to ASCII after case folding (docs/normalization.md). */
static const char leet_from[] = "4@8(3691!|05$7+2";
static const char leet_to[]   = "aabceggiiiossttz";

/*
 * Breaks (judged before NFKC): what ends a line, a clause or a sentence
 * in CJK writing, and the paired quotes and brackets that delimit a unit
 * of text. Not the full-width forms of ASCII symbols (＊ ． ／ ＿ ～ ｜),
 * nor middle dots (· ・ ･): those join or separate letters the way their
 * ASCII forms do, and ASCII punctuation is never a break.
 */
static const uint32_t break_ranges[][2] = {
    /* line breaks */
    { 0x000A, 0x000D }, { 0x0085, 0x0085 }, { 0x2028, 0x2029 },
    /* clause and sentence ends: … 、 。 ！ ， ： ； ？ ｡ ､ and their
       vertical and small forms */
    { 0x2026, 0x2026 }, { 0x3001, 0x3002 }, { 0xFE10, 0xFE16 },
    { 0xFE19, 0xFE19 }, { 0xFE50, 0xFE51 }, { 0xFE54, 0xFE57 },
    { 0xFF01, 0xFF01 }, { 0xFF0C, 0xFF0C }, { 0xFF1A, 0xFF1B },
    { 0xFF1F, 0xFF1F }, { 0xFF61, 0xFF61 }, { 0xFF64, 0xFF64 },
    /* quotes and brackets: ‘ ’ “ ” 〈 〉 《 》 「 」 『 』 【 】 〔 〕 〖 〗
       〘 〙 〚 〛 〝 〞 〟 ＂ ＇ （ ） ［ ］ ｛ ｝ ｟ ｠ ｢ ｣ and their
       vertical and small forms */
    { 0x2018, 0x201F }, { 0x3008, 0x3011 }, { 0x3014, 0x301B },
    { 0x301D, 0x301F }, { 0xFE17, 0xFE18 }, { 0xFE35, 0xFE44 },
    { 0xFE47, 0xFE48 }, { 0xFE59, 0xFE5E }, { 0xFF02, 0xFF02 },
    { 0xFF07, 0xFF09 }, { 0xFF3B, 0xFF3B }, { 0xFF3D, 0xFF3D },
    { 0xFF5B, 0xFF5B }, { 0xFF5D, 0xFF5D }, { 0xFF5F, 0xFF60 },
    { 0xFF62, 0xFF63 },
};

/* Ignorable beyond Default_Ignorable_Code_Point (all DI in ICU 72). */
static const uint32_t ign_ranges[][2] = {
    { 0x00AD, 0x00AD }, { 0x200B, 0x200F }, { 0x202A, 0x202E },
    { 0x2060, 0x2064 }, { 0x2066, 0x2069 }, { 0xFE00, 0xFE0F },
    { 0xFEFF, 0xFEFF }, { 0xE0100, 0xE01EF },
};

/* Where Traditional-Simplified is consulted. */
static const uint32_t han_ranges[][2] = {
    { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, { 0xF900, 0xFAFF },
    { 0x20000, 0x3FFFF },
};

/* Blocks with no ASCII skeletons, skipped when asking uspoof. */
static const uint32_t noskel_ranges[][2] = {
    { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, { 0xA000, 0xA48F },
    { 0xAC00, 0xD7A3 }, { 0x17000, 0x18CFF }, { 0x20000, 0x3FFFF },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------
 * Small helpers shared by build and run
 * ---------------------------------------------------------------------- */

static inline uint32_t tab_get(const norm_tables *t, unsigned which,
    uint32_t cp)
{
    size_t b = t->ix[(size_t)which * NBLK + (cp >> BLK_SHIFT)];
    return t->blocks[(b << BLK_SHIFT) | (cp & BLK_MASK)];
}

static inline unsigned leet_of(uint32_t c)
{
    const char *p;
    if (c == 0 || c >= 0x80 || (p = strchr(leet_from, (int)c)) == NULL)
        return 0;
    return (unsigned char)leet_to[p - leet_from];
}

static inline unsigned utf8_len(uint32_t cp)
{
    return cp < 0x80 ? 1u : cp < 0x800 ? 2u : cp < 0x10000 ? 3u : 4u;
}

/* Encode cp (a scalar value) into b[0..3]; returns its length. */
static inline unsigned utf8_put(unsigned char b[4], uint32_t cp)
{
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode trusted (pool) UTF-8 of n bytes into cps; returns the count. */
static unsigned pool_decode(const unsigned char *p, unsigned n,
    uint32_t *cps)
{
    unsigned i = 0, k = 0;
    while (i < n) {
        unsigned b = p[i];
        uint32_t c;
        if (b < 0x80) {
            c = b;
            i += 1;
        } else if (b < 0xE0) {
            c = ((b & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
            i += 2;
        } else if (b < 0xF0) {
            c = ((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) |
                (p[i + 2] & 0x3Fu);
            i += 3;
        } else {
            c = ((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) |
                ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
            i += 4;
        }
        cps[k++] = c;
    }
    return k;
}

/*
 * The code points an entry stands for (cp is the code point looked up).
 * With `stripped`, a K_EXPAND|E_MIXED entry gives its noise-free form.
 * Writes at most FOLD_MAX code points; returns the count.
 */
static unsigned entry_cps(const norm_tables *t, uint32_t e, uint32_t cp,
    uint32_t *out, int stripped)
{
    const unsigned char *r;
    switch ((e & E_KIND) >> E_KSHIFT) {
    case K_IDENT:
        out[0] = cp;
        return 1;
    case K_SINGLE:
        out[0] = e & E_PAYLOAD;
        return 1;
    case K_DELETE:
        return 0;
    default:
        r = t->pool + (e & E_PAYLOAD);
        if (stripped && (e & E_MIXED))
            r += 1 + r[0];
        return pool_decode(r + 1, r[0], out);
    }
}

/* Replace each code point of cps[0..n) by its entry in table `which`. */
static unsigned map_each(const norm_tables *t, unsigned which,
    uint32_t *cps, unsigned n)
{
    uint32_t tmp[FOLD_MAX];
    unsigned m = 0;
    for (unsigned k = 0; k < n; k++) {
        uint32_t c = cps[k];
        if (c < 0x80)
            tmp[m++] = c;
        else
            m += entry_cps(t, tab_get(t, which, c), c, tmp + m, 0);
        assert(m <= FOLD_MAX);
    }
    memcpy(cps, tmp, m * sizeof *cps);
    return m;
}

/*
 * The mapping steps of `f` (NFKC_CF, then TS, then CONF) applied to cp,
 * whose base entry is `be`. Result in cps (FOLD_MAX); returns its length.
 */
static int is_han(uint32_t c)
{
    for (size_t r = 0; r < NELEM(han_ranges); r++)
        if (c >= han_ranges[r][0] && c <= han_ranges[r][1])
            return 1;
    return 0;
}

/*
 * With NFKC_Casefold and confusables both on: does cp take its own
 * skeleton instead of the skeleton of its fold cps[0..n)? Case folding to
 * a non-ASCII letter can change how it looks (Cyrillic В Н Т -> в н т,
 * Greek Κ Η -> κ η, lunate sigma ϲ -> σ, which looks like o), so such a
 * code point is read by its own skeleton when that is ASCII letters or
 * digits. A fold to ASCII (Ｉ Ⅰ ﬁ -> i i fi) is a compatibility or case
 * variant of those letters and is kept; so is a fold holding an
 * ideograph (㈤ ㆒ stay Chinese numerals), and symbols and punctuation
 * (˛) stay what their category says (noise).
 */
static int own_skeleton(const uint32_t *cps, unsigned n)
{
    int ascii = 1;
    for (unsigned k = 0; k < n; k++) {
        if (is_han(cps[k]))
            return 0;
        ascii &= cps[k] < 0x80;
    }
    return n > 0 && !ascii;
}

static unsigned steps(const norm_tables *t, unsigned f, uint32_t cp,
    uint32_t be, uint32_t *cps)
{
    unsigned n = 1, own = 0;
    uint32_t ce = 0;
    cps[0] = cp;
    if (f & NORM_NFKC_CASEFOLD)
        n = entry_cps(t, be, cp, cps, 0);
    if ((f & NORM_NFKC_CASEFOLD) && (f & NORM_CONFUSABLES) && cp >= 0x80 &&
        !(be & E_NOISE) && own_skeleton(cps, n)) {
        unsigned kind;
        ce = tab_get(t, IX_CONF, cp);
        kind = (ce & E_KIND) >> E_KSHIFT;
        own = kind == K_SINGLE || kind == K_EXPAND;  /* ASCII (K_DELETE:
                                                        a mark) */
    }
    if (f & NORM_TRAD_SIMP)
        n = map_each(t, IX_TS, cps, n);
    if (f & NORM_CONFUSABLES)
        n = map_each(t, IX_CONF, cps, n);
    /* Skeletons are case-sensitive: capital I and small l share the
       skeleton l. A fold that says i (Ì Ι І -> ì ι і -> i) knows better. */
    if (own && !(n == 1 && cps[0] == 'i' && ce == ((K_SINGLE << E_KSHIFT) |
        'l')))
        n = entry_cps(t, ce, cp, cps, 0);
    return n;
}

static inline int cp_is_noise(const norm_tables *t, uint32_t c, int leet)
{
    if (c < 0x80)
        return (t->acls[leet ? 2 : 0][c] & C_NOISE) != 0;
    return (tab_get(t, IX_BASE, c) & E_NOISE) != 0;
}

/* Count of noise code points in cps[0..n). */
static unsigned count_noise(const norm_tables *t, const uint32_t *cps,
    unsigned n, int leet)
{
    unsigned k, noise = 0;
    for (k = 0; k < n; k++)
        noise += (unsigned)cp_is_noise(t, cps[k], leet);
    return noise;
}

/* If cps mixes noise and non-noise, drop the noise ("⑴" -> "1"). */
static unsigned strip_noise(const norm_tables *t, uint32_t *cps, unsigned n,
    int leet)
{
    unsigned noise = count_noise(t, cps, n, leet), k, m = 0;
    if (noise == 0 || noise == n)
        return n;
    for (k = 0; k < n; k++)
        if (!cp_is_noise(t, cps[k], leet))
            cps[m++] = cps[k];
    return m;
}

static void leet_map(uint32_t *cps, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        unsigned l = leet_of(cps[k]);
        if (l != 0)
            cps[k] = l;
    }
}

/*
 * Fold one non-ASCII code point under flags f: the code points to output
 * (cps, FOLD_MAX) and, in *cls, C_SPACE/C_BREAK of the original plus
 * C_NOISE if the whole result is noise. Returns the count; 0 means the
 * code point is deleted (ignorable, or folded to nothing) and leaves no gap.
 */
static unsigned fold_cp(const norm_tables *t, unsigned f, uint32_t cp,
    uint32_t *cps, unsigned *cls)
{
    uint32_t be = tab_get(t, IX_BASE, cp);
    int skip = (f & NORM_SKIP_NOISE) != 0, leet = (f & NORM_LEET) != 0;
    unsigned n;

    *cls = (be >> E_CSHIFT) & (C_SPACE | C_BREAK);
    if ((f & NORM_IGNORABLE) && (be & E_IGN))
        return 0;
    if (combo(f) != 0) {
        n = entry_cps(t, tab_get(t, IX_COMP + combo(f), cp), cp, cps, skip);
    } else {
        cps[0] = cp;
        n = 1;
    }
    if (leet) {
        leet_map(cps, n);
        if (skip)
            n = strip_noise(t, cps, n, 1);
    }
    if (n > 0 && count_noise(t, cps, n, leet) == n)
        *cls |= C_NOISE;
    return n;
}

/* ------------------------------------------------------------------------
 * Build
 * ---------------------------------------------------------------------- */

typedef struct smap_ent {
    uint32_t cp;
    uint32_t entry;          /* kind + payload */
} smap_ent;

/* A step's changes, sorted by code point. */
typedef struct smap {
    smap_ent *v;
    size_t n;
    size_t cap;
    unsigned maxcps;         /* longest result, in code points */
} smap;

typedef struct builder {
    norm_tables *t;
    uint8_t *cls;            /* CP_LIMIT class bytes (K_*) */
    smap map[3];             /* IX_BASE (NFKC_CF), IX_TS, IX_CONF */
    uint32_t *hash;          /* block dedup: block number + 1, 0 = empty */
    size_t hash_cap;
    const UNormalizer2 *nfkc_cf;
    const UNormalizer2 *nfd;
    UChar *in;               /* batch text, '\n' after each code point */
    UChar *res;              /* ICU's result */
    int32_t res_cap;
    uint32_t batch[BATCH];   /* the batch's code points */
    unsigned nbatch;
    sluice_error *err;
} builder;

static int build_fail(builder *b, int code, const char *what, UErrorCode uc)
{
    if (b->err != NULL) {
        b->err->code = code;
        b->err->file[0] = '\0';
        b->err->line = 0;
        snprintf(b->err->message, sizeof b->err->message,
            "normalization tables: %s%s%s", what,
            U_FAILURE(uc) ? ": " : "", U_FAILURE(uc) ? u_errorName(uc) : "");
    }
    return code;
}

static int nomem(builder *b)
{
    return build_fail(b, SLUICE_ENOMEM, "out of memory", U_ZERO_ERROR);
}

static void set_ranges(uint8_t *cls, const uint32_t (*r)[2], size_t n,
    unsigned bit)
{
    for (size_t i = 0; i < n; i++)
        for (uint32_t c = r[i][0]; c <= r[i][1]; c++)
            cls[c] |= (uint8_t)bit;
}

/* Set `bit` on every code point with binary property `prop`. */
static int set_property(builder *b, UProperty prop, unsigned bit)
{
    UErrorCode uc = U_ZERO_ERROR;
    USet *s = uset_openEmpty();
    int32_t i, n;
    if (s == NULL)
        return nomem(b);
    uset_applyIntPropertyValue(s, prop, 1, &uc);
    n = U_SUCCESS(uc) ? uset_getItemCount(s) : 0;
    for (i = 0; i < n && U_SUCCESS(uc); i++) {
        UChar32 lo, hi;
        if (uset_getItem(s, i, &lo, &hi, NULL, 0, &uc) == 0 &&
            U_SUCCESS(uc))
            for (UChar32 c = lo; c <= hi; c++)
                b->cls[c] |= (uint8_t)bit;
    }
    uset_close(s);
    return U_FAILURE(uc) ? build_fail(b, SLUICE_EINTERNAL,
        "reading a Unicode property", uc) : 0;
}

static UBool U_CALLCONV class_range(const void *ctx, UChar32 start,
    UChar32 limit, UCharCategory type)
{
    uint8_t *cls = (uint8_t *)(uintptr_t)ctx;
    uint32_t m = U_MASK(type);
    unsigned k = 0;
    if (type != U_UNASSIGNED && type != U_PRIVATE_USE_CHAR &&
        type != U_SURROGATE)
        k |= K_ASSIGNED;
    if (m & (U_GC_P_MASK | U_GC_S_MASK | U_GC_Z_MASK | U_GC_CC_MASK))
        k |= K_NOISE;
    if (m & U_GC_Z_MASK)
        k |= K_SPACE;
    if (m & (U_GC_MN_MASK | U_GC_ME_MASK))
        k |= K_MARK;
    if (k != 0)
        memset(cls + start, (int)k, (size_t)(limit - start));
    return 1;
}

/* Class byte of every code point (b->cls). */
static int build_classes(builder *b)
{
    int rc;
    b->cls = calloc(CP_LIMIT, 1);
    if (b->cls == NULL)
        return nomem(b);
    u_enumCharTypes(class_range, b->cls);
    if ((rc = set_property(b, UCHAR_WHITE_SPACE, K_SPACE)) != 0 ||
        (rc = set_property(b, UCHAR_DEFAULT_IGNORABLE_CODE_POINT, K_IGN)) ||
        (rc = set_property(b, UCHAR_CHANGES_WHEN_NFKC_CASEFOLDED, K_CWKCF)))
        return rc;
    set_ranges(b->cls, ign_ranges, NELEM(ign_ranges), K_IGN);
    set_ranges(b->cls, break_ranges, NELEM(break_ranges), K_BREAK);
    return 0;
}

/* Append a [len][UTF-8] record of cps; *off gets its offset. */
static int pool_add(builder *b, const uint32_t *cps, unsigned n,
    uint32_t *off)
{
    norm_tables *t = b->t;
    unsigned char rec[1 + 4 * FOLD_MAX];
    unsigned len = 0;
    for (unsigned k = 0; k < n; k++)
        len += utf8_put(rec + 1 + len, cps[k]);
    if (len > 255)
        return build_fail(b, SLUICE_EINTERNAL, "expansion too long",
            U_ZERO_ERROR);
    rec[0] = (unsigned char)len;
    if (t->pool_len + 1 + len > t->pool_cap) {
        size_t nc = t->pool_cap ? t->pool_cap * 2 : 65536;
        unsigned char *np = realloc(t->pool, nc);
        if (np == NULL)
            return nomem(b);
        t->pool = np;
        t->pool_cap = nc;
    }
    if (t->pool_len > E_PAYLOAD)
        return build_fail(b, SLUICE_EINTERNAL, "pool too large",
            U_ZERO_ERROR);
    *off = (uint32_t)t->pool_len;
    memcpy(t->pool + t->pool_len, rec, 1 + len);
    t->pool_len += 1 + len;
    return 0;
}

/* The entry (kind + payload) for cp -> cps[0..n), or 0 for identity. */
static int make_entry(builder *b, uint32_t cp, const uint32_t *cps,
    unsigned n, uint32_t *e)
{
    uint32_t off;
    int rc;
    if (n == 1 && cps[0] == cp) {
        *e = 0;
    } else if (n == 0) {
        *e = K_DELETE << E_KSHIFT;
    } else if (n == 1) {
        *e = (K_SINGLE << E_KSHIFT) | cps[0];
    } else {
        if ((rc = pool_add(b, cps, n, &off)) != 0)
            return rc;
        *e = (K_EXPAND << E_KSHIFT) | off;
    }
    return 0;
}

/* Record that step `which` maps cp to cps[0..n) (cps ascending). */
static int smap_put(builder *b, unsigned which, uint32_t cp,
    const uint32_t *cps, unsigned n)
{
    smap *m = &b->map[which];
    uint32_t e;
    int rc;
    if ((rc = make_entry(b, cp, cps, n, &e)) != 0 || e == 0)
        return rc;
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 4096;
        smap_ent *nv = realloc(m->v, nc * sizeof *nv);
        if (nv == NULL)
            return nomem(b);
        m->v = nv;
        m->cap = nc;
    }
    assert(m->n == 0 || m->v[m->n - 1].cp < cp);
    m->v[m->n].cp = cp;
    m->v[m->n].entry = e;
    m->n++;
    if (n > m->maxcps)
        m->maxcps = n;
    b->cls[cp] |= K_MAPPED;
    return 0;
}

/* Make sure b->res holds at least `cap` UChars. */
static int res_reserve(builder *b, int32_t cap)
{
    UChar *nr;
    if (cap <= b->res_cap)
        return 0;
    nr = realloc(b->res, (size_t)cap * sizeof *nr);
    if (nr == NULL)
        return nomem(b);
    b->res = nr;
    b->res_cap = cap;
    return 0;
}

/* b->in := the batch, each code point followed by '\n'; returns length. */
static int32_t batch_text(builder *b)
{
    int32_t len = 0;
    for (unsigned i = 0; i < b->nbatch; i++) {
        U16_APPEND_UNSAFE(b->in, len, b->batch[i]);
        b->in[len++] = 0x0A;
    }
    return len;
}

/*
 * Split ICU's '\n'-separated result res[0..len) into one piece per batch
 * code point; call `piece` for each. A piece count that does not match
 * means the batching assumption broke: an internal error.
 */
typedef int (*piece_fn)(builder *b, uint32_t cp, const UChar *s, int32_t n);

static int split_pieces(builder *b, int32_t len, piece_fn piece)
{
    int32_t start = 0, i;
    unsigned k = 0;
    int rc;
    for (i = 0; i < len; i++) {
        if (b->res[i] != 0x0A)
            continue;
        if (k == b->nbatch)
            break;
        if ((rc = piece(b, b->batch[k++], b->res + start, i - start)) != 0)
            return rc;
        start = i + 1;
    }
    if (k != b->nbatch || start != len)
        return build_fail(b, SLUICE_EINTERNAL,
            "batched ICU call did not keep code points apart", U_ZERO_ERROR);
    return 0;
}

/* UTF-16 piece -> code points; fails if longer than FOLD_MAX. */
static int piece_cps(builder *b, const UChar *s, int32_t n, uint32_t *cps,
    unsigned *ncps)
{
    int32_t i = 0;
    unsigned k = 0;
    while (i < n) {
        UChar32 c;
        if (k == FOLD_MAX)
            return build_fail(b, SLUICE_EINTERNAL, "mapping too long",
                U_ZERO_ERROR);
        U16_NEXT(s, i, n, c);
        cps[k++] = (uint32_t)c;
    }
    *ncps = k;
    return 0;
}

static int nfkc_piece(builder *b, uint32_t cp, const UChar *s, int32_t n)
{
    uint32_t cps[FOLD_MAX];
    unsigned k;
    int rc = piece_cps(b, s, n, cps, &k);
    return rc != 0 ? rc : smap_put(b, IX_BASE, cp, cps, k);
}

static int ts_piece(builder *b, uint32_t cp, const UChar *s, int32_t n)
{
    uint32_t cps[FOLD_MAX];
    unsigned k;
    int rc = piece_cps(b, s, n, cps, &k);
    return rc != 0 ? rc : smap_put(b, IX_TS, cp, cps, k);
}

/* Run normalizer nz over the batch into b->res; *len gets the length. */
static int batch_normalize(builder *b, const UNormalizer2 *nz, int32_t *len)
{
    int32_t n = batch_text(b), out;
    UErrorCode uc = U_ZERO_ERROR;
    int rc;
    if ((rc = res_reserve(b, n * 4 + 64)) != 0)
        return rc;
    out = unorm2_normalize(nz, b->in, n, b->res, b->res_cap, &uc);
    if (uc == U_BUFFER_OVERFLOW_ERROR) {
        if ((rc = res_reserve(b, out + 1)) != 0)
            return rc;
        uc = U_ZERO_ERROR;
        out = unorm2_normalize(nz, b->in, n, b->res, b->res_cap, &uc);
    }
    if (U_FAILURE(uc))
        return build_fail(b, SLUICE_EINTERNAL, "unorm2_normalize", uc);
    *len = out;
    return 0;
}

/* NFKC_Casefold of every code point that changes under it. */
static int build_nfkc(builder *b)
{
    int32_t len;
    int rc;
    b->nbatch = 0;
    for (uint32_t c = 0; c < CP_LIMIT; c++) {
        if (!(b->cls[c] & K_CWKCF))
            continue;
        b->batch[b->nbatch++] = c;
        if (b->nbatch == BATCH) {
            if ((rc = batch_normalize(b, b->nfkc_cf, &len)) != 0 ||
                (rc = split_pieces(b, len, nfkc_piece)) != 0)
                return rc;
            b->nbatch = 0;
        }
    }
    if (b->nbatch > 0 && ((rc = batch_normalize(b, b->nfkc_cf, &len)) ||
        (rc = split_pieces(b, len, nfkc_piece))))
        return rc;
    b->nbatch = 0;
    return 0;
}

static int ts_batch(builder *b, UTransliterator *tr)
{
    int32_t n = batch_text(b), limit = n, len = n;
    UErrorCode uc = U_ZERO_ERROR;
    int rc;
    if ((rc = res_reserve(b, n * 2 + 64)) != 0)
        return rc;
    memcpy(b->res, b->in, (size_t)n * sizeof *b->res);
    utrans_transUChars(tr, b->res, &len, b->res_cap, 0, &limit, &uc);
    if (U_FAILURE(uc))
        return build_fail(b, SLUICE_EINTERNAL, "utrans_transUChars", uc);
    rc = split_pieces(b, len, ts_piece);
    b->nbatch = 0;
    return rc;
}

/* Queue the part of [lo, hi] inside the ideograph ranges. */
static int ts_range(builder *b, UTransliterator *tr, uint32_t lo,
    uint32_t hi)
{
    int rc;
    for (size_t r = 0; r < NELEM(han_ranges); r++) {
        uint32_t a = lo > han_ranges[r][0] ? lo : han_ranges[r][0];
        uint32_t z = hi < han_ranges[r][1] ? hi : han_ranges[r][1];
        for (uint32_t c = a; a <= z && c <= z; c++) {
            b->batch[b->nbatch++] = c;
            if (b->nbatch == BATCH && (rc = ts_batch(b, tr)) != 0)
                return rc;
        }
    }
    return 0;
}

/* Traditional -> Simplified over the transliterator's source set. */
static int build_trad_simp(builder *b)
{
    static const UChar id[] = { 'T', 'r', 'a', 'd', 'i', 't', 'i', 'o', 'n',
        'a', 'l', '-', 'S', 'i', 'm', 'p', 'l', 'i', 'f', 'i', 'e', 'd', 0 };
    UErrorCode uc = U_ZERO_ERROR;
    UTransliterator *tr = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0,
        NULL, &uc);
    USet *src = uset_openEmpty();
    int rc = 0;
    int32_t i, n;
    if (U_FAILURE(uc) || src == NULL) {
        rc = src == NULL ? nomem(b) : build_fail(b, SLUICE_EINTERNAL,
            "opening Traditional-Simplified", uc);
        goto out;
    }
    utrans_getSourceSet(tr, 0, src, &uc);
    n = U_SUCCESS(uc) ? uset_getItemCount(src) : 0;
    b->nbatch = 0;
    for (i = 0; i < n && rc == 0 && U_SUCCESS(uc); i++) {
        UChar32 lo, hi;
        if (uset_getItem(src, i, &lo, &hi, NULL, 0, &uc) == 0 &&
            U_SUCCESS(uc))
            rc = ts_range(b, tr, (uint32_t)lo, (uint32_t)hi);
    }
    if (rc == 0 && U_FAILURE(uc))
        rc = build_fail(b, SLUICE_EINTERNAL, "utrans_getSourceSet", uc);
    if (rc == 0 && b->nbatch > 0)
        rc = ts_batch(b, tr);
out:
    if (src != NULL)
        uset_close(src);
    if (tr != NULL)
        utrans_close(tr);
    return rc;
}

/*
 * The ASCII letters/digits a skeleton stands for: 1-2 of them after
 * NFKC_Casefold, NFD and removal of marks; 0 if it is anything else.
 */
static unsigned skeleton_ascii(builder *b, const UChar *s, int32_t n,
    uint32_t out[2])
{
    UChar t1[256], t2[256];
    UErrorCode uc = U_ZERO_ERROR;
    int32_t i = 0, l1, l2;
    unsigned k = 0, slow = 0;
    for (i = 0; i < n;) {            /* cheap pre-check, no ICU call */
        UChar32 c;
        U16_NEXT(s, i, n, c);
        if (c >= 0x80 && (b->cls[c] & K_CWKCF))
            slow = 1;
        else if (c >= 0x80 && !(b->cls[c] & K_MARK))
            return 0;                /* survives NFKC_CF and NFD as is */
    }
    if (slow && n < 64) {
        l1 = unorm2_normalize(b->nfkc_cf, s, n, t1, 256, &uc);
        l2 = unorm2_normalize(b->nfd, t1, l1, t2, 256, &uc);
        if (U_FAILURE(uc))
            return 0;
        s = t2;
        n = l2;
    } else if (slow) {
        return 0;
    }
    for (i = 0; i < n;) {
        UChar32 c;
        U16_NEXT(s, i, n, c);
        if (c >= 0x80 && (u_charType(c) == U_NON_SPACING_MARK ||
            u_charType(c) == U_ENCLOSING_MARK))
            continue;
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (k == 2 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return 0;
        out[k++] = (uint32_t)c;
    }
    return k;
}

/*
 * Digits no skeleton covers (⓵ ➌ ⓿ ❶, other scripts' digits): a number
 * (Nd, No) whose numeric value is a whole number 0-99 reads as its ASCII
 * digits. Returns how many (0: not such a number).
 */
static unsigned numeric_ascii(uint32_t cp, uint32_t out[2])
{
    int8_t type = u_charType((UChar32)cp);
    double v;
    long n;
    if (type != U_DECIMAL_DIGIT_NUMBER && type != U_OTHER_NUMBER)
        return 0;
    v = u_getNumericValue((UChar32)cp);
    if (v == U_NO_NUMERIC_VALUE || v < 0 || v > 99 || (double)(long)v != v)
        return 0;
    n = (long)v;
    if (n < 10) {
        out[0] = (uint32_t)('0' + n);
        return 1;
    }
    out[0] = (uint32_t)('0' + n / 10);
    out[1] = (uint32_t)('0' + n % 10);
    return 2;
}

static int conf_piece(builder *b, uint32_t cp, const UChar *s, int32_t n)
{
    uint32_t a[2];
    unsigned k = skeleton_ascii(b, s, n, a);
    if (k == 0)
        k = numeric_ascii(cp, a);
    if (k > 0)
        return smap_put(b, IX_CONF, cp, a, k);
    if (b->cls[cp] & K_MARK)
        return smap_put(b, IX_CONF, cp, a, 0);
    return 0;
}

static int conf_batch(builder *b, USpoofChecker *sc)
{
    int32_t n = batch_text(b), out;
    UErrorCode uc = U_ZERO_ERROR;
    int rc;
    if ((rc = res_reserve(b, n * 4 + 64)) != 0)
        return rc;
    out = uspoof_getSkeleton(sc, 0, b->in, n, b->res, b->res_cap, &uc);
    if (uc == U_BUFFER_OVERFLOW_ERROR) {
        if ((rc = res_reserve(b, out + 1)) != 0)
            return rc;
        uc = U_ZERO_ERROR;
        out = uspoof_getSkeleton(sc, 0, b->in, n, b->res, b->res_cap, &uc);
    }
    if (U_FAILURE(uc))
        return build_fail(b, SLUICE_EINTERNAL, "uspoof_getSkeleton", uc);
    rc = split_pieces(b, out, conf_piece);
    b->nbatch = 0;
    return rc;
}

/* Confusable skeletons of assigned non-ASCII code points. */
static int build_confusables(builder *b)
{
    UErrorCode uc = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&uc);
    size_t r = 0;                        /* next no-skeleton range */
    int rc = 0;
    if (U_FAILURE(uc))
        return build_fail(b, SLUICE_EINTERNAL, "uspoof_open", uc);
    b->nbatch = 0;
    for (uint32_t c = 0x80; c < CP_LIMIT && rc == 0; c++) {
        if (r < NELEM(noskel_ranges) && c == noskel_ranges[r][0]) {
            c = noskel_ranges[r++][1];
            continue;
        }
        if (!(b->cls[c] & K_ASSIGNED))
            continue;
        b->batch[b->nbatch++] = c;
        if (b->nbatch == BATCH)
            rc = conf_batch(b, sc);
    }
    if (rc == 0 && b->nbatch > 0)
        rc = conf_batch(b, sc);
    uspoof_close(sc);
    return rc;
}

/* Hash of one block of entries: four independent multiply-add chains
 * (a serial FNV chain was a fifth of the build time). */
static uint32_t blk_hash(const uint32_t *e)
{
    uint32_t h[4] = { 1, 2, 3, 4 };
    for (unsigned i = 0; i < BLK_LEN; i += 4)
        for (unsigned j = 0; j < 4; j++)
            h[j] = (h[j] + e[i + j]) * 0x9E3779B1u;
    h[0] ^= h[1] * 0x85EBCA77u ^ h[2] * 0xC2B2AE3Du ^ h[3] * 0x27D4EB2Fu;
    return h[0] ^ (h[0] >> 15);
}

static int hash_grow(builder *b)
{
    size_t nc = b->hash_cap ? b->hash_cap * 2 : 4096, i;
    uint32_t *nh = calloc(nc, sizeof *nh);
    if (nh == NULL)
        return nomem(b);
    for (i = 0; i < b->t->nblocks; i++) {
        size_t h = blk_hash(b->t->blocks + (i << BLK_SHIFT)) & (nc - 1);
        while (nh[h] != 0)
            h = (h + 1) & (nc - 1);
        nh[h] = (uint32_t)i + 1;
    }
    free(b->hash);
    b->hash = nh;
    b->hash_cap = nc;
    return 0;
}

/* The number of block e[0..BLK_LEN) in the store, adding it if new. */
static int blk_add(builder *b, const uint32_t *e, uint16_t *id)
{
    norm_tables *t = b->t;
    size_t h;
    int rc;
    if (2 * (t->nblocks + 1) > b->hash_cap && (rc = hash_grow(b)) != 0)
        return rc;
    h = blk_hash(e) & (b->hash_cap - 1);
    for (; b->hash[h] != 0; h = (h + 1) & (b->hash_cap - 1)) {
        size_t k = b->hash[h] - 1;
        if (memcmp(t->blocks + (k << BLK_SHIFT), e,
            BLK_LEN * sizeof *e) == 0) {
            *id = (uint16_t)k;
            return 0;
        }
    }
    if (t->nblocks == 65536)
        return build_fail(b, SLUICE_EINTERNAL, "too many table blocks",
            U_ZERO_ERROR);
    if (t->nblocks == t->blocks_cap) {
        size_t nc = t->blocks_cap ? t->blocks_cap * 2 : 1024;
        uint32_t *nb = realloc(t->blocks, nc * BLK_LEN * sizeof *nb);
        if (nb == NULL)
            return nomem(b);
        t->blocks = nb;
        t->blocks_cap = nc;
    }
    memcpy(t->blocks + (t->nblocks << BLK_SHIFT), e, BLK_LEN * sizeof *e);
    b->hash[h] = (uint32_t)t->nblocks + 1;
    *id = (uint16_t)t->nblocks++;
    return 0;
}

/* 1 if the class bytes of block blk are all the same. */
static int blk_uniform(const builder *b, uint32_t blk)
{
    const uint8_t *c = b->cls + ((size_t)blk << BLK_SHIFT);
    for (unsigned i = 1; i < BLK_LEN; i++)
        if (c[i] != c[0])
            return 0;
    return 1;
}

/*
 * Index `which` from smap `which` (+ class bits for the base table).
 * Blocks nothing maps and whose classes are all one value (most of the
 * code space) are looked up by that value instead of hashed.
 */
static int build_step_table(builder *b, unsigned which)
{
    const smap *m = &b->map[which];
    uint16_t *ix = b->t->ix + (size_t)which * NBLK;
    uint32_t e[BLK_LEN], uniform[256];
    size_t cur = 0;
    int rc;
    memset(uniform, 0xFF, sizeof uniform);
    for (uint32_t blk = 0; blk < NBLK; blk++) {
        uint32_t cp0 = blk << BLK_SHIFT;
        unsigned u = which == IX_BASE ? b->cls[cp0] & 0xF0u : 0;
        int plain = (cur == m->n || m->v[cur].cp >= cp0 + BLK_LEN) &&
            (which != IX_BASE || blk_uniform(b, blk));
        if (plain && uniform[u] != UINT32_MAX) {
            ix[blk] = (uint16_t)uniform[u];
            continue;
        }
        for (unsigned i = 0; i < BLK_LEN; i++) {
            uint32_t cp = cp0 + i;
            e[i] = which == IX_BASE ?
                (uint32_t)(b->cls[cp] & 0xF0u) << E_CSHIFT : 0;
            if (cur < m->n && m->v[cur].cp == cp)
                e[i] |= m->v[cur++].entry;
        }
        if ((rc = blk_add(b, e, &ix[blk])) != 0)
            return rc;
        if (plain)
            uniform[u] = ix[blk];
    }
    return 0;
}

/*
 * The composed entry, under the mapping steps f, of a code point some step
 * maps: the result, the class bits of the original, E_NOISE, E_LEET and,
 * for an expansion mixing noise and letters, E_MIXED with the noise-free
 * form stored after the full one.
 */
static int comp_entry(builder *b, unsigned f, uint32_t cp, uint32_t *out)
{
    const norm_tables *t = b->t;
    uint32_t be = tab_get(t, IX_BASE, cp), cps[FOLD_MAX], e, strip[FOLD_MAX];
    unsigned n = steps(t, f, cp, be, cps), noise, k, leet = 0;
    int rc;
    if ((rc = make_entry(b, cp, cps, n, &e)) != 0)
        return rc;
    noise = count_noise(t, cps, n, 0);
    for (k = 0; k < n; k++)
        leet |= leet_of(cps[k]);
    e |= be & (E_SPACE | E_BREAK | E_IGN);
    if (n > 0 && noise == n)
        e |= E_NOISE;
    if (leet)
        e |= E_LEET;
    if (noise > 0 && noise < n) {      /* n > 1: an expansion */
        uint32_t off;
        memcpy(strip, cps, n * sizeof *cps);
        k = strip_noise(t, strip, n, 0);
        if ((rc = pool_add(b, strip, k, &off)) != 0)
            return rc;
        assert(off == (e & E_PAYLOAD) + 1 + b->t->pool[e & E_PAYLOAD]);
        e |= E_MIXED;
    }
    *out = e;
    return 0;
}

/* Composed table k (1-7); blocks nothing maps share the base table's. */
static int build_comp_table(builder *b, unsigned k)
{
    norm_tables *t = b->t;
    uint16_t *ix = t->ix + (size_t)(IX_COMP + k) * NBLK;
    const uint16_t *ixb = t->ix + (size_t)IX_BASE * NBLK;
    uint32_t e[BLK_LEN];
    int rc;
    for (uint32_t blk = 0; blk < NBLK; blk++) {
        uint32_t cp0 = blk << BLK_SHIFT;
        unsigned mapped = 0;
        for (unsigned i = 0; i < BLK_LEN; i++)
            mapped |= b->cls[cp0 + i] & K_MAPPED;
        if (!mapped) {
            ix[blk] = ixb[blk];
            continue;
        }
        for (unsigned i = 0; i < BLK_LEN; i++) {
            uint32_t cp = cp0 + i;
            e[i] = tab_get(t, IX_BASE, cp);
            if ((b->cls[cp] & K_MAPPED) &&
                (rc = comp_entry(b, combo_flags(k), cp, &e[i])) != 0)
                return rc;
        }
        if ((rc = blk_add(b, e, &ix[blk])) != 0)
            return rc;
    }
    return 0;
}

static int build_comp_tables(builder *b)
{
    int rc;
    for (unsigned k = 1; k < 8; k++)
        if ((rc = build_comp_table(b, k)) != 0)
            return rc;
    return 0;
}

static void build_simd_ascii(norm_tables *t)
{
#ifdef SIMD_ASCII
    if (!__builtin_cpu_supports("ssse3") || !__builtin_cpu_supports("popcnt"))
        return;
#else
    return;
#endif
    for (unsigned m = 0; m < 256; m++) {
        unsigned n = 0;
        memset(t->shuf[m], 0x80, 8);
        for (unsigned k = 0; k < 8; k++)
            if (m & (1u << k))
                t->shuf[m][n++] = (uint8_t)k;
    }
    for (unsigned v = 0; v < 4; v++) {
        int ident = 1, lower = 1;
        for (unsigned c = 0; c < 0x80; c++) {
            unsigned lc = c >= 'A' && c <= 'Z' ? c + 0x20 : c;
            ident &= t->amap[v][c] == c;
            lower &= t->amap[v][c] == lc;
            for (unsigned skip = 0; skip < 2; skip++)
                if (skip && (t->acls[v][c] & C_NOISE)) {
                    t->nib_lo[v][skip][c & 15] |= (uint8_t)(1u << (c >> 4));
                    t->nib_hi[v][skip][c >> 4] |= (uint8_t)(1u << (c >> 4));
                }
        }
        t->simd[v] = ident ? 1 : lower ? 2 : 0;
    }
}

/* ASCII maps and classes for each (casefold, leet) variant. */
static void build_ascii(builder *b)
{
    norm_tables *t = b->t;
    for (unsigned v = 0; v < 4; v++) {
        for (uint32_t c = 0; c < 0x80; c++) {
            uint32_t m = c, e = tab_get(t, IX_BASE, c);
            if ((v & 1) && ((e & E_KIND) >> E_KSHIFT) == K_SINGLE)
                m = e & E_PAYLOAD;
            if ((v & 2) && leet_of(m))
                m = leet_of(m);
            t->amap[v][c] = (uint8_t)m;
            t->acls[v][c] = (uint8_t)((b->cls[c] & (K_SPACE | K_BREAK)) |
                (b->cls[m] & K_NOISE));
        }
    }
    build_simd_ascii(t);
}

/* Most UTF-8 bytes cps can become under any choice of TS and CONF. */
static unsigned max_after(const norm_tables *t, const builder *b,
    const uint32_t *cps, unsigned n)
{
    static const unsigned fs[] = { NORM_TRAD_SIMP, NORM_CONFUSABLES,
        NORM_TRAD_SIMP | NORM_CONFUSABLES };
    unsigned total = 0;
    for (unsigned k = 0; k < n; k++) {
        uint32_t c = cps[k], out[FOLD_MAX];
        unsigned best = utf8_len(c);
        for (size_t f = 0; (b->cls[c] & K_MAPPED) && f < NELEM(fs); f++) {
            unsigned m = steps(t, fs[f], c, 0, out), bytes = 0;
            for (unsigned j = 0; j < m; j++)
                bytes += utf8_len(out[j]);
            if (bytes > best)
                best = bytes;
        }
        total += best;
    }
    return total;
}

/* t->ratio: output bytes per input byte, worst case, any flags. */
static void compute_ratio(builder *b)
{
    norm_tables *t = b->t;
    unsigned ratio = 3;                  /* one invalid byte -> U+FFFD */
    for (unsigned w = 0; w < 3; w++) {
        const smap *m = &b->map[w];
        for (size_t i = 0; i < m->n; i++) {
            uint32_t cp = m->v[i].cp, cps[FOLD_MAX], be;
            unsigned n, r, in = utf8_len(cp);
            be = tab_get(t, IX_BASE, cp);
            n = w == IX_BASE ? entry_cps(t, be, cp, cps, 0) : 1;
            if (w != IX_BASE)
                cps[0] = cp;
            r = (max_after(t, b, cps, n) + in - 1) / in;
            if (r > ratio)
                ratio = r;
        }
    }
    t->ratio = ratio;
}

/* Give back the slack of geometric growth (failure to shrink is fine). */
static void shrink(norm_tables *t)
{
    void *p = realloc(t->blocks, t->nblocks * BLK_LEN * sizeof *t->blocks);
    if (p != NULL) {
        t->blocks = p;
        t->blocks_cap = t->nblocks;
    }
    if (t->pool_len > 0 && (p = realloc(t->pool, t->pool_len)) != NULL) {
        t->pool = p;
        t->pool_cap = t->pool_len;
    }
}

static void builder_free(builder *b)
{
    free(b->cls);
    for (unsigned w = 0; w < 3; w++)
        free(b->map[w].v);
    free(b->hash);
    free(b->in);
    free(b->res);
}

/* Steps one after the other must stay within FOLD_MAX code points. */
static int check_bounds(builder *b)
{
    unsigned n = b->map[IX_BASE].maxcps ? b->map[IX_BASE].maxcps : 1;
    unsigned ts = b->map[IX_TS].maxcps ? b->map[IX_TS].maxcps : 1;
    unsigned cf = b->map[IX_CONF].maxcps ? b->map[IX_CONF].maxcps : 1;
    if (n * ts * cf > FOLD_MAX)
        return build_fail(b, SLUICE_EINTERNAL, "mappings too long",
            U_ZERO_ERROR);
    return 0;
}

/* cjk2 of each table (see norm_tables). */
static void build_cjk2(norm_tables *t)
{
    for (unsigned k = 0; k < IX_N; k++)
        for (uint32_t cp = 0; cp < PLAIN_N; cp++) {
            uint32_t e = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF) ?
                tab_get(t, k, cp) : E_IGN;
            uint32_t fl = e & E_FLAGS;
            unsigned c = (e & (E_KIND | E_FLAGS)) == 0 ? CJK2_PLAIN :
                fl == E_NOISE ? CJK2_NOISE :
                fl == (E_NOISE | E_BREAK) ? CJK2_BREAK : CJK2_OTHER;
            t->cjk2[k][cp >> 2] |= (uint8_t)(c << ((cp & 3) << 1));
        }
}

/* map3 of each table (see norm_tables); 0 or SLUICE_ENOMEM. */
static int build_map3(norm_tables *t)
{
    for (unsigned k = 0; k < IX_N; k++)
        for (uint32_t j = 0; j < MAP3_N; j++) {
            uint32_t e = tab_get(t, k, MAP3_LO + j), to = e & E_PAYLOAD;
            if ((e & E_FLAGS) != 0 || ((e & E_KIND) >> E_KSHIFT) != K_SINGLE ||
                to < 0x800 || to > 0xFFFF || (to >= 0xD800 && to <= 0xDFFF))
                continue;
            if (t->map3[k] == NULL &&
                (t->map3[k] = calloc(MAP3_N, sizeof *t->map3[k])) == NULL)
                return SLUICE_ENOMEM;
            t->map3[k][j] = (uint16_t)to;
        }
    return 0;
}

static int build_all(builder *b)
{
    UErrorCode uc = U_ZERO_ERROR;
    int rc;
    b->nfkc_cf = unorm2_getNFKCCasefoldInstance(&uc);
    b->nfd = unorm2_getNFDInstance(&uc);
    if (U_FAILURE(uc))
        return build_fail(b, SLUICE_EINTERNAL, "loading normalizers", uc);
    b->in = malloc((BATCH * 3 + 16) * sizeof *b->in);
    b->t->ix = malloc(IX_N * NBLK * sizeof *b->t->ix);
    if (b->in == NULL || b->t->ix == NULL)
        return nomem(b);
    if ((rc = build_classes(b)) != 0 || (rc = build_nfkc(b)) != 0 ||
        (rc = build_trad_simp(b)) != 0 || (rc = build_confusables(b)) != 0 ||
        (rc = check_bounds(b)) != 0)
        return rc;
    if ((rc = build_step_table(b, IX_BASE)) != 0)
        return rc;
    build_ascii(b);                      /* cp_is_noise() needs acls */
    if ((rc = build_step_table(b, IX_TS)) != 0 ||
        (rc = build_step_table(b, IX_CONF)) != 0 ||
        (rc = build_comp_tables(b)) != 0)
        return rc;
    compute_ratio(b);
    build_cjk2(b->t);
    if ((rc = build_map3(b->t)) != 0)
        return nomem(b);
    shrink(b->t);
    return 0;
}

int norm_tables_new(norm_tables **out, sluice_error *err)
{
    builder b;
    int rc;
    assert(out != NULL);
    *out = NULL;
    memset(&b, 0, sizeof b);
    b.err = err;
    b.t = calloc(1, sizeof *b.t);
    if (b.t == NULL)
        return nomem(&b);
    rc = build_all(&b);
    builder_free(&b);
    if (rc != 0) {
        norm_tables_free(b.t);
        return rc;
    }
    *out = b.t;
    return 0;
}

void norm_tables_free(norm_tables *t)
{
    if (t == NULL)
        return;
    for (unsigned k = 0; k < IX_N; k++)
        free(t->map3[k]);
    free(t->blocks);
    free(t->ix);
    free(t->pool);
    free(t);
}

int norm_is_leet_symbol(const norm_tables *t, unsigned flags, uint32_t cp)
{
    uint32_t e;
    assert(t != NULL);
    if (cp >= CP_LIMIT || !(flags & NORM_LEET))
        return 0;
    if (cp < 0x80)
        return leet_of(cp) != 0 &&
            (t->acls[flags & NORM_NFKC_CASEFOLD ? 1 : 0][cp] & C_NOISE);
    if (combo(flags) == 0)
        return 0;                        /* stays itself: not ASCII */
    e = tab_get(t, IX_COMP + combo(flags), cp);
    if ((flags & NORM_IGNORABLE) && (e & E_IGN))
        return 0;
    return (e & E_NOISE) && (e & E_LEET);
}

int norm_is_noise(const norm_tables *t, uint32_t cp)
{
    uint32_t e;
    assert(t != NULL);
    if (cp >= CP_LIMIT)
        return 0;
    if (cp < 0x80)
        return (t->acls[1][cp] & C_NOISE) != 0;
    e = tab_get(t, IX_FULL, cp);
    return (e & E_NOISE) && !(e & E_IGN);
}

/* ------------------------------------------------------------------------
 * Output buffers
 * ---------------------------------------------------------------------- */

void norm_out_init(norm_out *o)
{
    assert(o != NULL);
    memset(o, 0, sizeof *o);
}

void norm_out_reset(norm_out *o)
{
    assert(o != NULL);
    o->len = 0;
    o->invalid = 0;
    o->lazy = 0;
    o->nck = 0;
}

void norm_out_free(norm_out *o)
{
    if (o == NULL)
        return;
    free(o->text);
    free(o->src);
    free(o->src_end);
    free(o->gap);
    free(o->run);
    free(o->ck);
    memset(o, 0, sizeof *o);
}

/*
 * Make room for `need` entries plus SLACK, growing geometrically. On
 * failure returns SLUICE_ENOMEM; arrays already moved are larger but
 * o->cap is unchanged, so `o` stays consistent.
 */
static int out_reserve(norm_out *o, size_t need, int meta)
{
    size_t nc;
    void *p;
    if (need > SIZE_MAX / 8 - SLACK)
        return SLUICE_ENOMEM;
    need += SLACK;
    if (need > o->cap) {
        nc = o->cap ? o->cap : 1024;
        while (nc < need)
            nc *= 2;
        if ((p = realloc(o->text, nc)) == NULL)
            return SLUICE_ENOMEM;
        o->text = p;
        o->cap = nc;
    }
    if (!meta || o->mcap >= o->cap)
        return 0;
    nc = o->cap;    /* metadata follows the text's capacity */
    if ((p = realloc(o->src, nc * sizeof *o->src)) == NULL)
        return SLUICE_ENOMEM;
    o->src = p;
    if ((p = realloc(o->src_end, nc * sizeof *o->src_end)) == NULL)
        return SLUICE_ENOMEM;
    o->src_end = p;
    if ((p = realloc(o->gap, nc)) == NULL)
        return SLUICE_ENOMEM;
    o->gap = p;
    if ((p = realloc(o->run, nc)) == NULL)
        return SLUICE_ENOMEM;
    o->run = p;
    o->mcap = nc;
    return 0;
}

/* ------------------------------------------------------------------------
 * Run
 * ---------------------------------------------------------------------- */

#define NO_LAST SIZE_MAX
#define NO_CP   UINT32_MAX

/*
 * Where output goes. Copied into locals by the hot loops (so the compiler
 * keeps it in registers) and back into fctx around calls to the
 * reference path.
 */
typedef struct wr {
    unsigned char *text;
    unsigned char *gap;
    unsigned char *run;
    uint32_t *src;
    uint32_t *src_end;
    size_t o;                /* next entry */
    size_t last;             /* NORM_REPEAT: entry of the last code point
                                written in this feed, or NO_LAST */
    uint32_t last_cp;        /* ... its code point; NO_CP iff NO_LAST */
    unsigned g;              /* pending gap; NORM_GAP_START until output */
    int meta;                /* write src, src_end, gap, run (else text
                                only: norm_text_lazy) */
} wr;

/*
 * norm_text_lazy's checkpoints, written from inside the normalizer's loop
 * as it passes every LAZY_STEP input bytes: a call of the loop per step
 * cost English text 15 %, and without it the steps can be short, which
 * keeps the windows rebuilt around hits short.
 */
#define LAZY_STEP 64u

typedef struct cksink {
    norm_ckpt *ck;
    size_t n;
    size_t next;             /* input offset at or after which the next
                                one goes */
} cksink;

/* One norm_feed call's working state. */
typedef struct fctx {
    const norm_tables *t;
    norm_state *st;
    norm_out *out;
    unsigned flags;
    int rep;                 /* NORM_REPEAT */
    int swar;                /* ASCII may go 8 bytes at a time */
    int over;                /* norm_text_lazy: SIMD ASCII may run past
                                end (up to 15 bytes), to the next block */
    int casefold;            /* NORM_NFKC_CASEFOLD (ASCII lower-casing) */
    const uint8_t *amap;     /* t->amap / t->acls for these flags */
    const uint8_t *acls;
    unsigned noisemask;      /* C_NOISE when skipping noise, else 0 */
    uint32_t special;        /* entry bits that leave the plain path */
    uint32_t other;          /* ... other than E_NOISE: reference path */
    uint32_t kindmask;       /* E_KIND; 0 when no step maps (identity) */
    const uint16_t *fix;     /* index of the composed table for the flags
                                (the base table when no step maps) */
    const uint8_t *c2;       /* t->cjk2 of that table */
    const uint16_t *m3;      /* t->map3 of that table */
    unsigned av;             /* ASCII variant: casefold | leet << 1 */
    uint32_t base;           /* original offset of in[0], mod 2^32 */
    size_t invalid;
    cksink *ks;              /* norm_text_lazy's checkpoints, else NULL */
    wr w;
} fctx;

/* Second-byte bounds of three-byte sequences, by lead & 0x0F. */
static const uint8_t lo3[16] = { 0xA0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80 };
static const uint8_t hi3[16] = { 0xBF, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF,
    0xBF, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF, 0x9F, 0xBF, 0xBF };

/*
 * Decode one code point from p[0..n), n >= 1. Returns its length and sets
 * *cp; an ill-formed sequence yields U+FFFD over its maximal subpart (the
 * longest valid prefix, at least one byte) with *bad set. Returns 0 if
 * p[0..n) is a valid but incomplete prefix and `final` is not set.
 */
static unsigned utf8_decode(const unsigned char *p, size_t n, int final,
    uint32_t *cp, int *bad)
{
    unsigned b0 = p[0], need, lo = 0x80, hi = 0xBF, k;
    uint32_t v;
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
        v = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        v = b0 & 0x0Fu;
        lo = lo3[b0 & 15];
        hi = hi3[b0 & 15];
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        v = b0 & 0x07u;
        lo = b0 == 0xF0 ? 0x90 : 0x80;
        hi = b0 == 0xF4 ? 0x8F : 0xBF;
    } else {
        k = 1;
        goto ill;
    }
    for (k = 1; k < need; k++) {
        if (k >= n) {
            if (!final)
                return 0;
            goto ill;
        }
        if (p[k] < lo || p[k] > hi)
            goto ill;
        v = (v << 6) | (p[k] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return need;
ill:
    *cp = REPL;
    *bad = 1;
    return k;
}

/* The gap after one more skipped code point of class cls. */
static inline unsigned gap_add(unsigned g, unsigned cls)
{
    unsigned cnt = g & NORM_GAP_COUNT;
    return (g & ~NORM_GAP_COUNT) | (cnt + (cnt < NORM_GAP_COUNT)) |
        (cls & (C_SPACE | C_BREAK));
}

/* Text only: ASCII byte b at text[o]; the next o (noise is written there
   but not kept). */
static inline size_t text_byte(const uint8_t *map, const uint8_t *cls,
    unsigned nm, unsigned char *text, size_t o, unsigned b)
{
    text[o] = map[b];
    return o + 1 - (size_t)((cls[b] & nm) >> 7);
}

/* Checkpoint (i, o, g) into k; returns where the next one goes. */
static size_t ck_put(cksink *k, size_t i, size_t o, unsigned g)
{
    norm_ckpt *q = &k->ck[k->n++];
    q->in = (uint32_t)i;
    q->out = (uint32_t)o;
    q->gap = (uint8_t)g;
    return k->next = i + LAZY_STEP;
}

/*
 * A pending gap worked out backwards: cnt noise code points with class
 * bits `bits` after the last one kept; if none was kept (all), the gap g0
 * from before them goes on.
 */
static inline unsigned gap_back(size_t cnt, unsigned bits, int all,
    unsigned g0)
{
    if (all) {
        cnt += g0 & NORM_GAP_COUNT;
        bits |= g0 & ~NORM_GAP_COUNT;
    }
    return bits | (unsigned)(cnt < NORM_GAP_COUNT ? cnt : NORM_GAP_COUNT);
}

/*
 * The pending gap at p[i] after the ASCII bytes p[i0..i), g0 before
 * them: the noise after the last byte kept (all of it, and g0, if none
 * was kept).
 */
static inline unsigned ascii_gap(const uint8_t *cls, unsigned nm,
    const unsigned char *p, size_t i0, size_t i, unsigned g0)
{
    size_t k, cnt = 0;
    unsigned bits = 0;
    for (k = i; k > i0 && (cls[p[k - 1]] & nm); k--) {
        cnt++;
        bits |= cls[p[k - 1]] & (C_SPACE | C_BREAK);
    }
    return gap_back(cnt, bits, k == i0, g0);
}

/* Store x little-endian (compilers merge these into one store). */
static inline void store32le(unsigned char *p, uint32_t x)
{
    p[0] = (unsigned char)x;
    p[1] = (unsigned char)(x >> 8);
    p[2] = (unsigned char)(x >> 16);
    p[3] = (unsigned char)(x >> 24);
}

static inline void store64le(unsigned char *p, uint64_t x)
{
    store32le(p, (uint32_t)x);
    store32le(p + 4, (uint32_t)(x >> 32));
}

static inline uint32_t load32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
        (uint32_t)p[3] << 24;
}

static inline uint64_t load64le(const unsigned char *p)
{
    return (uint64_t)load32le(p) | (uint64_t)load32le(p + 4) << 32;
}

/* cp's UTF-8 bytes packed little-endian (first byte lowest); *n: length. */
static inline uint32_t utf8_pack(uint32_t cp, unsigned *n)
{
    if (cp < 0x80) {
        *n = 1;
        return cp;
    }
    if (cp < 0x800) {
        *n = 2;
        return (0xC0 | (cp >> 6)) | (0x80 | (cp & 0x3F)) << 8;
    }
    if (cp < 0x10000) {
        *n = 3;
        return (0xE0 | (cp >> 12)) | (0x80 | ((cp >> 6) & 0x3F)) << 8 |
            (0x80 | (cp & 0x3F)) << 16;
    }
    *n = 4;
    return (0xF0 | (cp >> 18)) | (0x80 | ((cp >> 12) & 0x3F)) << 8 |
        (0x80 | ((cp >> 6) & 0x3F)) << 16 | (0x80u | (cp & 0x3F)) << 24;
}

/*
 * The metadata of the code point whose entries start at o: source [s, e),
 * gap g, run r, in four entries of each array (SLACK makes that safe).
 */
static inline void meta_put(uint32_t *src, uint32_t *src_end,
    unsigned char *gap, unsigned char *run, size_t o, uint32_t s,
    uint32_t e, unsigned g, unsigned r)
{
    uint32_t sv[4] = { s, s, s, s }, ev[4] = { e, e, e, e };
    memcpy(src + o, sv, sizeof sv);
    memcpy(src_end + o, ev, sizeof ev);
    store32le(gap + o, g & 0xFFu);
    store32le(run + o, (r & 0xFFu) * 0x01010101u);
}

/*
 * Write one code point at w->o: UTF-8 u (packed, n bytes), source [s, e),
 * gap g, run r. Stores four entries of every array (SLACK makes that
 * safe) and advances by n (0: written but not kept).
 */
static inline void wr_put(wr *w, uint32_t u, unsigned n, uint32_t s,
    uint32_t e, unsigned g, unsigned r)
{
    store32le(w->text + w->o, u);
    if (w->meta)
        meta_put(w->src, w->src_end, w->gap, w->run, w->o, s, e, g, r);
    w->o += n;
}

/* NORM_REPEAT: entries [last, o) hold one more repetition, ending at e. */
static inline void extend_run(unsigned char *run, uint32_t *src_end,
    size_t last, size_t o, uint32_t e)
{
    unsigned r = run[last];
    r += r < 255;
    for (size_t k = last; k < o; k++) {
        run[k] = (unsigned char)r;
        src_end[k] = e;
    }
}

/* Output cp (UTF-8 u, n bytes) with gap g, or add it to the last run. */
static inline void wr_cp(wr *w, int rep, uint32_t cp, uint32_t u,
    unsigned n, uint32_t s, uint32_t e, unsigned g)
{
    if (rep) {
        if (g == 0 && cp == w->last_cp) {
            extend_run(w->run, w->src_end, w->last, w->o, e);
            return;
        }
        w->last = w->o;
        w->last_cp = cp;
    }
    wr_put(w, u, n, s, e, g, 1);
}

/* Output a folded code point (cps, class cls) from source [s, e). */
static void emit_folded(fctx *c, const uint32_t *cps, unsigned n,
    unsigned cls, uint32_t s, uint32_t e)
{
    unsigned g;
    if (n == 0)
        return;                          /* deleted: no gap */
    if (cls & c->noisemask) {
        c->w.g = gap_add(c->w.g, cls);
        return;
    }
    g = c->w.g;
    c->w.g = 0;
    for (unsigned k = 0; k < n; k++) {
        unsigned len;
        uint32_t u = utf8_pack(cps[k], &len);
        wr_cp(&c->w, c->rep, cps[k], u, len, s, e, k == 0 ? g : 0);
    }
}

/*
 * The reference path: any code point, any flags; works on c->w. The fast
 * paths below must give exactly what this gives.
 */
static void handle_cp(fctx *c, uint32_t cp, uint32_t s, uint32_t e)
{
    uint32_t cps[FOLD_MAX];
    unsigned cls, n = 1;
    if (cp < 0x80) {
        cps[0] = c->amap[cp];
        cls = c->acls[cp];
    } else {
        n = fold_cp(c->t, c->flags, cp, cps, &cls);
    }
    emit_folded(c, cps, n, cls, s, e);
}

#define ONES 0x0101010101010101ull
#define HIGH 0x8080808080808080ull

/* High bit of every byte of x (all < 0x80) that lies in [lo, hi]. */
static inline uint64_t bytes_in(uint64_t x, unsigned lo, unsigned hi)
{
    uint64_t ge = x + ONES * (0x80u - lo), gt = x + ONES * (0x7Fu - hi);
    return ge & ~gt & HIGH;
}

/*
 * ASCII eight bytes at a time when nothing is skipped or collapsed (no
 * NORM_SKIP_NOISE, leet or repeat): lower-case and write in bulk.
 * Returns where it stopped (a non-ASCII byte, or < 8 bytes before end).
 */
static inline size_t ascii_swar(const fctx *c, wr *w,
    const unsigned char *p, size_t i, size_t end)
{
    const uint32_t base = c->base;       /* locals: byte stores could */
    const int casefold = c->casefold;    /* alias *c */
    for (; end - i >= 8; i += 8) {
        uint64_t x = load64le(p + i);
        uint32_t sv[8], ev[8], s = base + (uint32_t)i;
        if (x & HIGH)
            break;
        if (casefold)
            x |= bytes_in(x, 'A', 'Z') >> 2;
        for (unsigned k = 0; k < 8; k++) {
            sv[k] = s + k;
            ev[k] = s + k + 1;
        }
        store64le(w->text + w->o, x);
        if (w->meta) {
            memcpy(w->src + w->o, sv, sizeof sv);
            memcpy(w->src_end + w->o, ev, sizeof ev);
            store64le(w->gap + w->o, w->g & 0xFFu);
            store64le(w->run + w->o, ONES);
        }
        w->o += 8;
        w->g = 0;
    }
    return i;
}

/* src_end = src + 1 and run = 1 over entries [o0, o), all ASCII. */
static void fill_ascii_tail(wr *w, size_t o0, size_t o)
{
    size_t k = o0;
    for (; o - k >= 4; k += 4) {
        uint32_t v[4];
        memcpy(v, w->src + k, sizeof v);
        for (unsigned j = 0; j < 4; j++)
            v[j] += 1;
        memcpy(w->src_end + k, v, sizeof v);
    }
    for (; k < o; k++)
        w->src_end[k] = w->src[k] + 1;
    memset(w->run + o0, 1, o - o0);
}

/*
 * ASCII without NORM_REPEAT, branch-free: every byte is written at o,
 * which advances only for kept bytes. The gap is kept as two short
 * dependency chains (count, class bits) rather than one through the gap
 * byte; the count saturates only when stored. Eight bytes per iteration
 * while they are all ASCII (the step is a macro: written as an inline
 * function over a state struct it measured 4% slower at -O2). src_end
 * and run are filled afterwards in one pass.
 */
static inline size_t ascii_text(const fctx *c, wr *w,
    const unsigned char *p, size_t i, size_t end, size_t len);

static inline size_t ascii_fast(const fctx *c, wr *w,
    const unsigned char *p, size_t i, size_t end, size_t len)
{
    if (!w->meta)
        return ascii_text(c, w, p, i, end, len);
{
    const uint8_t *map = c->amap, *cls = c->acls;
    const unsigned nm = c->noisemask;
    const uint32_t base = c->base;
    const int meta = w->meta;
    unsigned char *text = w->text, *gap = w->gap;
    uint32_t *src = w->src;
    size_t o = w->o, o0 = w->o, cnt = w->g & NORM_GAP_COUNT;
    unsigned bits = w->g & ~NORM_GAP_COUNT;
#define ASCII_STEP(j) do {                                                \
        unsigned b_ = p[i + (j)], k_ = cls[b_], d_ = (k_ & nm) >> 7;      \
        text[o] = map[b_];                                                \
        if (meta) {                                                       \
            src[o] = base + (uint32_t)(i + (j));                          \
            gap[o] = (unsigned char)(bits | (cnt < 15 ? cnt : 15));       \
        }                                                                 \
        cnt = (cnt + 1) & ((size_t)0 - d_);                               \
        bits = (bits | (k_ & (C_SPACE | C_BREAK))) & (0u - d_);           \
        o += 1 - (size_t)d_;                                              \
    } while (0)
    for (; end - i >= 8 && !(load64le(p + i) & HIGH); i += 8) {
        ASCII_STEP(0); ASCII_STEP(1); ASCII_STEP(2); ASCII_STEP(3);
        ASCII_STEP(4); ASCII_STEP(5); ASCII_STEP(6); ASCII_STEP(7);
    }
    for (; i < end && p[i] < 0x80; i++)
        ASCII_STEP(0);
#undef ASCII_STEP
    if (meta)
        fill_ascii_tail(w, o0, o);
    w->o = o;
    w->g = bits | (unsigned)(cnt < 15 ? cnt : 15);
    return i;
}
}

/*
 * ascii_fast for the text alone: the pending gap matters only where the
 * run ends, so it is worked out there, from the noise after the last
 * byte kept, instead of being carried through every byte.
 */
#ifdef SIMD_ASCII
/*
 * Sixteen ASCII bytes at a time: noise found with two nibble lookups,
 * A-Z lower-cased by a compare, the kept bytes packed with one shuffle
 * per half. Stops at the first non-ASCII byte (after the ASCII bytes of
 * its block), at end, or fewer than 16 bytes before lim: lim is end, or
 * (norm_text_lazy, which reserved room for the whole input) the input's
 * length, so that a block may end up to 15 bytes past end instead of
 * leaving those bytes to the scalar loop.
 */
__attribute__((target("ssse3,popcnt")))
static size_t ascii_simd(const fctx *c, const unsigned char *p, size_t i,
    size_t end, size_t lim, unsigned char *text, size_t *po, unsigned g0)
{
    const norm_tables *t = c->t;
    const unsigned v = c->av;
    const int skip = c->noisemask != 0;
    const size_t i0 = i;
    cksink *ks = c->ks;
    size_t next = ks != NULL ? ks->next : SIZE_MAX;
    const __m128i lo = _mm_loadu_si128((const __m128i *)t->nib_lo[v][skip]);
    const __m128i hi = _mm_loadu_si128((const __m128i *)t->nib_hi[v][skip]);
    const __m128i m0f = _mm_set1_epi8(0x0F), zero = _mm_setzero_si128();
    const __m128i ca = _mm_set1_epi8('A' - 1), cz = _mm_set1_epi8('Z' + 1);
    const __m128i d20 = _mm_set1_epi8(0x20), d8 = _mm_set1_epi8(8);
    const int lower = t->simd[v] == 2;
    size_t o = *po;
    /* i < end and sixteen bytes before lim, as one bound */
    const size_t stop = lim < 16 ? 0 : lim - 15 < end ? lim - 15 : end;
    while (i < stop) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
        /* a block with a non-ASCII byte: its ASCII prefix, then stop */
        unsigned na = (unsigned)_mm_movemask_epi8(x);
        unsigned n = na ? (unsigned)__builtin_ctz(na) : 16u;
        __m128i l = _mm_shuffle_epi8(lo, _mm_and_si128(x, m0f));
        __m128i h = _mm_shuffle_epi8(hi,
            _mm_and_si128(_mm_srli_epi16(x, 4), m0f));
        unsigned keep = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_and_si128(l, h), zero)) & ((1u << n) - 1u);
        if (lower) {
            __m128i up = _mm_and_si128(_mm_cmpgt_epi8(x, ca),
                _mm_cmplt_epi8(x, cz));
            x = _mm_add_epi8(x, _mm_and_si128(up, d20));
        }
        unsigned k0 = keep & 0xFFu, k1 = keep >> 8;
        __m128i s0 = _mm_loadl_epi64((const __m128i *)t->shuf[k0]);
        __m128i s1 = _mm_add_epi8(
            _mm_loadl_epi64((const __m128i *)t->shuf[k1]), d8);
        _mm_storel_epi64((__m128i *)(text + o), _mm_shuffle_epi8(x, s0));
        o += (size_t)__builtin_popcount(k0);
        /* 0x80 + 8 = 0x88 keeps the high bit: still a zero lane */
        _mm_storel_epi64((__m128i *)(text + o), _mm_shuffle_epi8(x, s1));
        o += (size_t)__builtin_popcount(k1);
        i += n;
        if (i >= next)                   /* a checkpoint after the block */
            next = ck_put(ks, i, o,
                ascii_gap(c->acls, c->noisemask, p, i0, i, g0));
        if (na != 0)
            break;
    }
    *po = o;
    return i;
}

#endif

static inline size_t ascii_text(const fctx *c, wr *w,
    const unsigned char *p, size_t i, size_t end, size_t len)
{
    const uint8_t *map = c->amap, *cls = c->acls;
    const unsigned nm = c->noisemask;
    unsigned char *text = w->text;
    size_t o = w->o, i0 = i;
#ifdef SIMD_ASCII
    if (c->t->simd[c->av] != 0)
        i = ascii_simd(c, p, i, end, c->over ? len : end, text, &o, w->g);
#endif
    /* the byte loops leave checkpoints to span_impl: stop at the next */
    if (c->ks != NULL && c->ks->next < end)
        end = c->ks->next > i ? c->ks->next : i;
#define TEXT_STEP(j) (o = text_byte(map, cls, nm, text, o, p[i + (j)]))
    for (; i < end && end - i >= 8 && !(load64le(p + i) & HIGH); i += 8) {
        TEXT_STEP(0); TEXT_STEP(1); TEXT_STEP(2); TEXT_STEP(3);
        TEXT_STEP(4); TEXT_STEP(5); TEXT_STEP(6); TEXT_STEP(7);
    }
    for (; i < end && p[i] < 0x80; i++)
        TEXT_STEP(0);
#undef TEXT_STEP
    w->o = o;
    w->g = ascii_gap(cls, nm, p, i0, i, w->g);
    return i;
}

/* ASCII with NORM_REPEAT; like ascii_fast, plus the run test. */
static inline size_t ascii_rep(const fctx *c, wr *w,
    const unsigned char *p, size_t i, size_t end)
{
    /* few live values: the branch-free form of this loop spilled a dozen
       of them to the stack on x86-64 (61 instructions per byte) */
    const uint8_t *map = c->amap, *cls = c->acls;
    const unsigned nm = c->noisemask;
    unsigned char *text = w->text;
    const unsigned char *q = p + i, *qe = p + end;
    uint32_t s = c->base + (uint32_t)i, last_cp = w->last_cp;
    size_t o = w->o, last = w->last;
    unsigned g = w->g;
    while (q < qe && *q < 0x80) {
        unsigned b = *q++, k = cls[b], m = map[b];
        s++;
        if (k & nm) {                    /* noise: into the gap */
            g = gap_add(g, k);
            continue;
        }
        if (((m ^ last_cp) | g) == 0) {  /* the same letter again */
            extend_run(w->run, w->src_end, last, o, s);
            continue;
        }
        text[o] = (unsigned char)m;
        w->src[o] = s - 1;
        w->src_end[o] = s;
        w->gap[o] = (unsigned char)g;
        w->run[o] = 1;
        last = o++;
        last_cp = m;
        g = 0;
    }
    w->o = o;
    w->last = last;
    w->last_cp = last_cp;
    w->g = g;
    return (size_t)(q - p);
}

/* What the fast path needs of fctx, in locals (byte stores could alias
 * fctx, so reading it in the loop would mean reloads after each store). */
typedef struct hot {
    const uint32_t *blocks;
    const uint16_t *fix;
    uint32_t special;
    uint32_t other;
    uint32_t kindmask;
    uint32_t base;
    int rep;
    int cjk;              /* text only, no repeat: the c2 loop */
    const uint8_t *c2;    /* t->cjk2 of the table */
    uint32_t cmax;        /* highest CJK2_* the c2 loop takes */
    const uint16_t *m3;   /* t->map3 of the table (may be NULL) */
} hot;

static inline uint32_t fast_entry(hot h, uint32_t cp)
{
    size_t blk = h.fix[cp >> BLK_SHIFT];
    return h.blocks[(blk << BLK_SHIFT) | (cp & BLK_MASK)];
}

/*
 * A valid non-ASCII code point on the fast path: its source [s, e), its
 * UTF-8 (for identity) u, n bytes. Returns 0 if the reference path must
 * take it. Skipped noise is written too, but not advanced over.
 */
static inline __attribute__((always_inline)) int fast_cp(hot h, wr *w,
    uint32_t cp, uint32_t u, unsigned n, uint32_t s, uint32_t e)
{
    uint32_t x = fast_entry(h, cp);
    unsigned keep;
    if (x & h.other)
        return 0;
    if (x & h.kindmask) {
        cp = x & E_PAYLOAD;
        u = utf8_pack(cp, &n);
    }
    keep = ((x & h.special) != 0) - 1u;  /* all ones unless skipped */
    if (keep && h.rep) {
        wr_cp(w, 1, cp, u, n, s, e, w->g);
        w->g = 0;
        return 1;
    }
    wr_put(w, u, n & keep, s, e, w->g, 1);
    w->g = gap_add(w->g, x >> E_CSHIFT) & ~keep;
    return 1;
}


/*
 * The pending gap after the text-only CJK loop consumed [i0, i) (three-
 * byte sequences, each kept or skipped), g0 before it: the noise after
 * the last one kept, counted back from i, as ascii_gap does for ASCII.
 * The loop itself then carries no gap from one character to the next (a
 * chain through every character, and a branch on each noise one).
 */
static inline unsigned cjk_gap(hot h, const unsigned char *p, size_t i0,
    size_t i, unsigned g0)
{
    size_t k = i, cnt = 0;
    unsigned bits = 0;
    for (; k > i0; k -= 3) {
        uint32_t v = load32le(p + k - 3), c,
            cp = (v & 0x0Fu) << 12 | (v >> 2 & 0xFC0u) | (v >> 16 & 0x3Fu);
        c = (uint32_t)h.c2[cp >> 2] >> ((cp & 3u) << 1) & 3u;
        if (c == CJK2_PLAIN || c > h.cmax)   /* kept (or mapped: kept) */
            break;
        cnt++;
        bits |= c == CJK2_BREAK ? C_BREAK : 0u;
    }
    return gap_back(cnt, bits, k == i0, g0);
}

/*
 * A run of three-byte sequences (CJK) whose entries need nothing but a
 * write or a skip: one 4-byte load per character, all state in
 * registers. Stops before anything else, at end, or when fewer than four
 * bytes are left in the input.
 */
static inline __attribute__((always_inline)) size_t cjk_run(hot h, wr *w, const unsigned char *p, size_t i,
    size_t end, size_t len)
{
    unsigned char *text = w->text, *gap = w->gap, *run = w->run;
    uint32_t *src = w->src, *src_end = w->src_end, last_cp = w->last_cp;
    size_t o = w->o, last = w->last;
    unsigned g = w->g;
    while (i < end && len - i >= 4) {
        uint32_t v, cp, x, u, s;
        unsigned n = 3, keep;
        if (h.cjk) {
            /* text only, no repeat: plain ideographs and CJK noise
               without a branch on which it is, and the pending gap
               worked out where the loop stops (cjk_gap); one bound for
               both i < end and four bytes left to load */
            const size_t lim = len - 3 < end ? len - 3 : end, i0 = i;
            for (; i < lim; i += 3) {
                uint32_t c;
                v = load32le(p + i);
                if ((v & 0xC0C0F0u) != 0x8080E0u)
                    break;
                cp = (v & 0x0Fu) << 12 | (v >> 2 & 0xFC0u) |
                    (v >> 16 & 0x3Fu);
                c = (uint32_t)h.c2[cp >> 2] >> ((cp & 3u) << 1) & 3u;
                if (c > h.cmax) {
                    uint32_t to;
                    if (h.m3 == NULL || cp - MAP3_LO >= MAP3_N ||
                        (to = h.m3[cp - MAP3_LO]) == 0)
                        break;
                    /* Traditional to Simplified: three bytes to three */
                    store32le(text + o, 0x8080E0u | (to >> 12) |
                        (to >> 6 & 0x3Fu) << 8 | (to & 0x3Fu) << 16);
                    o += 3;
                    continue;
                }
                store32le(text + o, v);
                o += c == 0 ? 3u : 0u;
            }
            g = cjk_gap(h, p, i0, i, g);
            if (!(i < end && len - i >= 4))
                break;
        } else if (!h.rep) {
            /* every array, no repeat (windows around hits, sessions):
               plain ideographs in a loop of their own, every entry of
               one written with a store per array */
            const size_t lim = len - 3 < end ? len - 3 : end;
            for (; i < lim; i += 3) {
                v = load32le(p + i);
                if ((v & 0xC0C0F0u) != 0x8080E0u)
                    break;
                cp = (v & 0x0Fu) << 12 | (v >> 2 & 0xFC0u) |
                    (v >> 16 & 0x3Fu);
                if ((h.c2[cp >> 2] >> ((cp & 3u) << 1) & 3u) != CJK2_PLAIN)
                    break;
                s = h.base + (uint32_t)i;
                store32le(text + o, v);
                meta_put(src, src_end, gap, run, o, s, s + 3, g, 1);
                o += 3;
                g = 0;
            }
            if (!(i < end && len - i >= 4))
                break;
        }
        v = load32le(p + i);
        u = v & 0xFFFFFFu;
        if ((v & 0xC0C0F0u) != 0x8080E0u)
            break;
        cp = (v & 0x0Fu) << 12 | (v >> 2 & 0xFC0u) | (v >> 16 & 0x3Fu);
        if (cp < 0x800 || cp - 0xD800u < 0x800u)
            break;
        if ((h.c2[cp >> 2] >> ((cp & 3u) << 1) & 3u) == CJK2_PLAIN)
            x = 0;                       /* kept as it is */
        else
            x = fast_entry(h, cp);
        if (x & h.other)
            break;
        if (x & h.kindmask) {
            cp = x & E_PAYLOAD;
            u = utf8_pack(cp, &n);
        }
        keep = ((x & h.special) != 0) - 1u;
        s = h.base + (uint32_t)i;
        i += 3;
        if (h.rep && keep) {
            if (g == 0 && cp == last_cp) {
                extend_run(run, src_end, last, o, s + 3);
                continue;
            }
            last = o;
            last_cp = cp;
        }
        store32le(text + o, u);
        if (w->meta)
            meta_put(src, src_end, gap, run, o, s, s + 3, g, 1);
        o += n & keep;
        g = gap_add(g, x >> E_CSHIFT) & ~keep;
    }
    w->o = o;
    w->g = g;
    w->last = last;
    w->last_cp = last_cp;
    return i;
}

/*
 * Normalize the code points starting in p[i..end); the last may run on
 * up to len. Returns the position after the last one consumed: < end only
 * if the input ends inside a sequence and `final` is not set.
 */
static inline __attribute__((always_inline)) size_t span_impl(fctx *c,
    const unsigned char *p, size_t i, size_t end, size_t len, int final,
    const int meta)
{
    const hot h = { c->t->blocks, c->fix, c->special, c->other,
        c->kindmask, c->base, c->rep, !c->rep && !meta, c->c2,
        c->noisemask ? CJK2_BREAK : CJK2_PLAIN, c->m3 };
    const int swar = c->swar, rep = c->rep;
    cksink *ks = meta ? NULL : c->ks;
    wr w = c->w;
    w.meta = meta;   /* a constant in each instance below */
    while (i < end) {
        unsigned b0 = p[i], r, n;
        uint32_t cp, u, s;
        int bad = 0;
        size_t stop = end;
        if (ks != NULL) {
            if (i >= ks->next)
                ck_put(ks, i, w.o, w.g);
            if (ks->next < end)
                stop = ks->next;
        }
        if (b0 < 0x80) {
            uint64_t x;
            unsigned run;
            /* text only: a short ASCII run (a number or a space between
               ideographs) here, without the calls of the SIMD path */
            if (!meta && !rep && len - i >= 8 &&
                (x = load64le(p + i) & HIGH) != 0 &&
                (run = (unsigned)__builtin_ctzll(x) >> 3) <= stop - i) {
                const uint8_t *map = c->amap, *cls = c->acls;
                const unsigned nm = c->noisemask;
                size_t o = w.o, i0 = i;
                for (; run > 0; run--, i++)
                    o = text_byte(map, cls, nm, w.text, o, p[i]);
                w.o = o;
                w.g = ascii_gap(cls, nm, p, i0, i, w.g);
                continue;
            }
            if (swar)
                i = ascii_swar(c, &w, p, i, stop);
            i = rep ? ascii_rep(c, &w, p, i, end) :
                ascii_fast(c, &w, p, i, end, len);
            continue;
        }
        if ((b0 & 0xF0) == 0xE0) {
            size_t j = cjk_run(h, &w, p, i, stop, len);
            if (j != i) {
                i = j;
                continue;
            }
        }
        if ((r = utf8_decode(p + i, len - i, final, &cp, &bad)) == 0)
            break;
        s = h.base + (uint32_t)i;
        c->invalid += (size_t)bad;
        if (!bad) {
            u = utf8_pack(cp, &n);
            if (fast_cp(h, &w, cp, u, n, s, s + r)) {
                i += r;
                continue;
            }
        }
        c->w = w;
        handle_cp(c, cp, s, s + r);
        w = c->w;
        i += r;
    }
    /* only these change here; a whole-struct copy stalled on store
       forwarding (17 % of the text-only pass on English, by perf) */
    c->w.o = w.o;
    c->w.last = w.last;
    c->w.last_cp = w.last_cp;
    c->w.g = w.g;
    return i;
}

/* The two instances: every array, or the text alone (norm_text_lazy). */
static __attribute__((noinline)) size_t span(fctx *c, const unsigned char *p,
    size_t i, size_t end, size_t len, int final)
{
    return span_impl(c, p, i, end, len, final, 1);
}

static __attribute__((noinline)) size_t span_text(fctx *c,
    const unsigned char *p, size_t i, size_t end, size_t len, int final)
{
    return span_impl(c, p, i, end, len, final, 0);
}

/* Room for the output of `nin` more input bytes (+ a held-back run). */
static int reserve_in(fctx *c, size_t nin)
{
    norm_out *o = c->out;
    int rc;
    if (nin > SIZE_MAX / 64)
        return SLUICE_ENOMEM;
    if ((rc = out_reserve(o, c->w.o + (size_t)c->t->ratio * nin + 4,
             c->w.meta)) != 0)
        return rc;
    c->w.text = o->text;
    c->w.gap = o->gap;
    c->w.run = o->run;
    c->w.src = o->src;
    c->w.src_end = o->src_end;
    return 0;
}

/*
 * Complete the sequence held in st->pend with the first bytes of p.
 * *used gets the bytes of p consumed (all of them if the sequence is
 * still incomplete: they join st->pend). Returns 0 or SLUICE_ENOMEM.
 */
static int feed_pending(fctx *c, const unsigned char *p, size_t len,
    int final, size_t *used)
{
    norm_state *st = c->st;
    unsigned char tmp[8];
    unsigned np = st->npend, r;
    size_t take = len < 4u - np ? len : 4u - np;
    uint32_t cp, s;
    int bad = 0, rc;
    memcpy(tmp, st->pend, np);
    if (take > 0)
        memcpy(tmp + np, p, take);
    r = utf8_decode(tmp, np + take, final, &cp, &bad);
    if (r == 0) {                        /* take == len here */
        memcpy(st->pend + np, tmp + np, take);
        st->npend = np + (unsigned)take;
        *used = len;
        return 0;
    }
    assert(r >= np);
    if ((rc = reserve_in(c, r)) != 0)
        return rc;
    s = c->base - np;
    c->invalid += (size_t)bad;
    handle_cp(c, cp, s, s + r);
    st->npend = 0;
    *used = r - np;
    return 0;
}

static void ctx_init(fctx *c, const norm_tables *t, norm_state *st,
    norm_out *out)
{
    unsigned f = st->flags, v;
    memset(c, 0, sizeof *c);
    c->t = t;
    c->st = st;
    c->out = out;
    c->flags = f;
    c->rep = (f & NORM_REPEAT) != 0;
    c->casefold = (f & NORM_NFKC_CASEFOLD) != 0;
    c->swar = !(f & (NORM_LEET | NORM_REPEAT | NORM_SKIP_NOISE));
    v = (c->casefold ? 1u : 0u) | ((f & NORM_LEET) ? 2u : 0u);
    c->amap = t->amap[v];
    c->acls = t->acls[v];
    c->av = v;
    c->noisemask = (f & NORM_SKIP_NOISE) ? C_NOISE : 0;
    c->base = (uint32_t)st->offset;
    c->special = ((f & NORM_IGNORABLE) ? E_IGN : 0) |
        ((f & NORM_SKIP_NOISE) ? E_NOISE : 0);
    if (combo(f) != 0) {
        c->fix = t->ix + (size_t)(IX_COMP + combo(f)) * NBLK;
        c->c2 = t->cjk2[IX_COMP + combo(f)];
        c->m3 = t->map3[IX_COMP + combo(f)];
        c->kindmask = E_KIND;
        c->special |= E_SLOWKIND | ((f & NORM_LEET) ? E_LEET : 0);
    } else {
        c->fix = t->ix + (size_t)IX_BASE * NBLK;   /* classes only */
        c->c2 = t->cjk2[IX_BASE];
        c->m3 = NULL;
    }
    c->other = c->special & ~E_NOISE;
    c->w.o = out->len;
    c->w.last = NO_LAST;
    c->w.last_cp = NO_CP;
    c->w.g = st->started ? st->gap : st->gap | NORM_GAP_START;
    c->w.meta = !(out->text_only && !c->rep);
}

/* NORM_REPEAT: put the run held back by the last feed into the output. */
static void rep_resume(fctx *c)
{
    norm_state *st = c->st;
    unsigned n;
    uint32_t u;
    if (st->rep_n == 0)
        return;
    u = utf8_pack(st->rep_cp, &n);
    c->w.last = c->w.o;
    c->w.last_cp = st->rep_cp;
    wr_put(&c->w, u, n, st->rep_src, st->rep_end, st->rep_gap, st->rep_n);
    st->rep_n = 0;
}

/* NORM_REPEAT, text not final: hold the last code point back. */
static void rep_hold(fctx *c)
{
    norm_state *st = c->st;
    wr *w = &c->w;
    if (w->last == NO_LAST)
        return;
    st->rep_cp = w->last_cp;
    st->rep_n = w->run[w->last];
    st->rep_src = w->src[w->last];
    st->rep_end = w->src_end[w->last];
    st->rep_gap = w->gap[w->last];
    w->o = w->last;
}

/* The blocks of p[i..len) after any pending sequence. */
static int feed_blocks(fctx *c, const unsigned char *p, size_t i,
    size_t len, int final)
{
    norm_state *st = c->st;
    int rc;
    while (i < len) {
        size_t end = len - i > FEED_BLOCK ? i + FEED_BLOCK : len, j;
        if ((rc = reserve_in(c, end - i + 3)) != 0)
            return rc;
        j = c->w.meta ? span(c, p, i, end, len, final) :
            span_text(c, p, i, end, len, final);
        if (j < end) {                   /* incomplete sequence at the end */
            assert(!final && len - j < 4);
            memcpy(st->pend, p + j, len - j);
            st->npend = (unsigned)(len - j);
            break;
        }
        i = j;
    }
    return 0;
}

int norm_feed(const norm_tables *t, norm_state *st, const char *in,
    size_t len, int final, norm_out *out)
{
    const unsigned char *p = (const unsigned char *)in;
    norm_state saved;
    fctx c;
    size_t i = 0;
    int rc;
    assert(t != NULL && st != NULL && out != NULL);
    assert(in != NULL || len == 0);
    saved = *st;
    ctx_init(&c, t, st, out);
    if ((rc = reserve_in(&c, st->npend + 4)) == 0) {
        rep_resume(&c);
        if (st->npend > 0)
            rc = feed_pending(&c, p, len, final, &i);
    }
    if (rc == 0 && i < len)
        rc = feed_blocks(&c, p, i, len, final);
    if (rc != 0) {
        *st = saved;
        return rc;
    }
    if (c.rep && !final)
        rep_hold(&c);
    st->offset += len;
    st->started = (c.w.g & NORM_GAP_START) == 0;
    st->gap = c.w.g & ~NORM_GAP_START;
    out->tail_gap = (uint8_t)c.w.g;
    out->len = c.w.o;
    out->invalid += c.invalid;
    return 0;
}

void norm_state_init(norm_state *st, unsigned flags, uint64_t base)
{
    assert(st != NULL);
    memset(st, 0, sizeof *st);
    st->flags = flags;
    st->offset = base;
}

int norm_text(const norm_tables *t, unsigned flags, const char *in,
    size_t len, norm_out *out)
{
    norm_state st;
    norm_state_init(&st, flags, 0);
    return norm_feed(t, &st, in, len, 1, out);
}

/* ------------------------------------------------------------------------
 * Text only, metadata on demand
 *
 * A whole-text check scans every byte of the stream but looks at the
 * metadata (sources, gaps) only around its rare matches, so writing ten
 * bytes of it per output byte is most of the normalizer's cost. The lazy
 * form writes the text alone plus a checkpoint every LAZY_STEP input bytes
 * (input offset, output offset, pending gap); norm_window_cover() re-runs the
 * normalizer with every array from the checkpoint before a match. Without
 * NORM_REPEAT the normalizer keeps no other state between code points, so
 * the window's entries are exactly the full normalization's.
 * ---------------------------------------------------------------------- */

int norm_text_lazy(const norm_tables *t, unsigned flags, const char *in,
    size_t len, uint64_t base, norm_out *out)
{
    const unsigned char *p = (const unsigned char *)in;
    norm_state st;
    cksink ks;
    fctx c;
    size_t i = 0, nck;
    int rc;
    assert(t != NULL && out != NULL && (in != NULL || len == 0));
    out->len = 0;
    out->invalid = 0;
    norm_state_init(&st, flags, base);
    if ((flags & NORM_REPEAT) || len > UINT32_MAX) {
        out->lazy = 0;
        return norm_feed(t, &st, in, len, 1, out);
    }
    ctx_init(&c, t, &st, out);
    c.w.meta = 0;
    c.over = 1;
    if ((rc = reserve_in(&c, len + 3)) != 0)
        return rc;
    nck = len / LAZY_STEP + 2;
    if (nck > out->capck) {
        norm_ckpt *q = realloc(out->ck, nck * sizeof *q);
        if (q == NULL)
            return SLUICE_ENOMEM;
        out->ck = q;
        out->capck = nck;
    }
    ks.ck = out->ck;
    ks.n = 0;
    ks.next = 0;
    c.ks = &ks;
    if (len > 0)
        i = span_text(&c, p, 0, len, len, 1);
    assert(i == len && ks.n <= nck);
    out->nck = ks.n;
    out->len = c.w.o;
    out->tail_gap = (uint8_t)c.w.g;
    out->invalid = c.invalid;
    out->lazy = 1;
    out->lazy_base = base;
    return 0;
}

/* Restart the normalizer at checkpoint k of lz, into an empty win. */
static void window_begin(const norm_out *lz, unsigned flags,
    const norm_ckpt *k, norm_state *st, norm_out *win)
{
    norm_out_reset(win);
    norm_state_init(st, flags, lz->lazy_base + k->in);
    st->started = (k->gap & NORM_GAP_START) == 0;
    st->gap = k->gap & ~NORM_GAP_START;
}

/* Normalize the next LAZY_STEP bytes of in[*pos..len) into win. */
static int window_feed(const norm_tables *t, norm_state *st, const char *in,
    size_t len, size_t *pos, norm_out *win)
{
    size_t n = len - *pos > LAZY_STEP ? LAZY_STEP : len - *pos;
    int rc = norm_feed(t, st, in + *pos, n, *pos + n == len, win);
    if (rc == 0)
        *pos += n;
    return rc;
}

/* How many checkpoints of lz have an output offset at or before x (at
   least one: the first is at 0). */
static size_t ckpt_upto(const norm_out *lz, size_t x)
{
    size_t lo = 0, hi = lz->nck;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lz->ck[mid].out <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int norm_window_cover(const norm_tables *t, unsigned flags, const char *in,
    size_t len, const norm_out *lz, size_t first, size_t last,
    norm_out *win, norm_wcur *cur)
{
    int rc;
    assert(lz->lazy && lz->nck > 0 && first <= last);
    if (cur->valid && first >= cur->base && last < cur->base + win->len)
        return 0;
    const norm_ckpt *k = &lz->ck[ckpt_upto(lz, first) - 1];
    if (!cur->valid || first < cur->base || k->in > cur->pos) {
        window_begin(lz, flags, k, &cur->st, win);
        cur->pos = k->in;
        cur->base = k->out;
        cur->valid = 1;
    }
    /* up to the first checkpoint past `last`: its input yields every
       entry before its output offset. A feed that ends on what looks like
       the start of a sequence holds it back (the whole text read it as
       ill-formed), so the next feed takes one more step. */
    size_t e = ckpt_upto(lz, last), end = e < lz->nck ? lz->ck[e].in : len;
    while (cur->pos < len && cur->base + win->len <= last) {
        size_t to = end;
        if (to <= cur->pos)
            to = len - cur->pos > LAZY_STEP ? cur->pos + LAZY_STEP : len;
        rc = norm_feed(t, &cur->st, in + cur->pos, to - cur->pos, to == len,
            win);
        if (rc != 0) {
            cur->valid = 0;
            return rc;
        }
        cur->pos = to;
    }
    return 0;
}

int norm_lazy_find(const norm_tables *t, unsigned flags, const char *in,
    size_t len, const norm_out *lz, uint64_t from, norm_out *win,
    size_t *base, size_t *idx)
{
    size_t lo = 0, hi = lz->nck, pos, q = 0;
    norm_state st;
    int rc;
    assert(lz->lazy && lz->nck > 0);
    while (hi - lo > 1) {            /* last checkpoint at or before from */
        size_t mid = lo + (hi - lo) / 2;
        if (lz->lazy_base + lz->ck[mid].in <= from)
            lo = mid;
        else
            hi = mid;
    }
    const norm_ckpt *k = &lz->ck[lo];
    window_begin(lz, flags, k, &st, win);
    pos = k->in;
    *base = k->out;
    for (;;) {
        for (; q < win->len; q++)
            if (win->src[q] >= (uint32_t)from) {
                *idx = k->out + q;
                return 0;
            }
        if (pos >= len)
            break;
        if ((rc = window_feed(t, &st, in, len, &pos, win)) != 0)
            return rc;
    }
    *idx = lz->len;
    return 0;
}
