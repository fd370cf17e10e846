/*
 * mutate.c - evasion variants of the parts of a text a policy matched
 * (`sluice test --mutate`, docs/testing-policies.md).
 *
 * Design. The regions are decoded into code points ("units"; a byte that
 * is not well-formed UTF-8 is a raw unit that is copied, never changed).
 * A variant is a plan: which kinds apply, each either to every eligible
 * place ("all": f.u.c.k, every letter in leet) or to a random non-empty
 * subset of them (one place forced, the others by coin). Kinds act on
 * units (substitutions: full width, Traditional, look-alikes, leet; at
 * most one per unit), after units (repeats) or in the gaps between two
 * letters, digits or ideographs of one region (spaces, symbols,
 * zero-width characters; not next to noise already there). Text
 * outside the regions is copied as it is; the regions' new offsets are
 * recorded with the variant.
 *
 * Determinism: every random choice comes from splitmix64 seeded with the
 * caller's seed, the kind and the variant's index, and the tables below
 * are fixed, so a seed names the same variants everywhere. The only
 * outside data is ICU's Simplified-Traditional transliterator, applied to
 * one ideograph at a time (its context rules are not used), and ICU's
 * Ideographic and Alphabetic properties.
 *
 * Ownership: a variant's text and regions belong to the set it is in;
 * cli_mut_set_free releases them. Nothing here is global or mutable
 * outside the mutator and the set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utrans.h>

#include "cli/mutate.h"

static const char *const kind_names[CLI_MUT_NKINDS] = {
    "fullwidth", "traditional", "space", "symbol", "zero-width",
    "confusable", "repeat", "leet", "mixed"
};

/* Substitution kinds: at most one of them changes a given unit. */
#define SUBST_KINDS ((1u << CLI_MUT_FULLWIDTH) | (1u << CLI_MUT_TRADITIONAL) | \
    (1u << CLI_MUT_CONFUSABLE) | (1u << CLI_MUT_LEET))
/* Insertion kinds: they add code points between two units. */
#define INSERT_KINDS ((1u << CLI_MUT_SPACE) | (1u << CLI_MUT_SYMBOL) | \
    (1u << CLI_MUT_ZERO_WIDTH))

#define MAX_REPEAT_EXTRA 4

struct cli_mutator {
    UTransliterator *s2t;   /* NULL when ICU has none */
};

/* One code point of a region, or one byte that is not UTF-8 (raw). */
typedef struct unit {
    uint32_t cp;
    uint32_t trad;          /* Traditional form, 0 if none or the same */
    unsigned char raw;
    unsigned char gap;      /* a character of a word follows, in the same
                               region: insertions may go after it */
} unit;

/* What a variant does to each unit and gap. */
typedef struct edit {
    uint32_t sub;           /* replacement code point, 0: keep */
    unsigned char extra;    /* repeats added after the unit */
    uint32_t ins[4];        /* code points inserted after it, 0-ended */
} edit;

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

/* ------------------------------------------------------------------------
 * Tables
 * ---------------------------------------------------------------------- */

/* Look-alikes whose UTS #39 skeleton is the ASCII letter (checked against
 * ICU's uspoof_getSkeleton), up to three per letter, 0-ended. Upper-case
 * look-alikes are included as they are: Cyrillic К folds to к, whose
 * skeleton is ĸ, not k, and that is worth knowing. */
static const uint32_t confusables[52][3] = {
    /* a..z */
    {0x0430, 0x03B1, 0x0251}, {0}, {0x0441, 0x03F2, 0}, {0x0501, 0, 0},
    {0x0435, 0, 0}, {0}, {0x0261, 0, 0}, {0x04BB, 0, 0},
    {0x0456, 0x03B9, 0}, {0x0458, 0, 0}, {0}, {0}, {0}, {0x0578, 0, 0},
    {0x043E, 0x03BF, 0x0585}, {0x0440, 0x03C1, 0}, {0x051B, 0, 0}, {0},
    {0x0455, 0, 0}, {0}, {0x057D, 0x03C5, 0}, {0x03BD, 0x0475, 0},
    {0x051D, 0, 0}, {0x0445, 0, 0}, {0x0443, 0x03B3, 0}, {0},
    /* A..Z */
    {0x0410, 0x0391, 0}, {0x0412, 0x0392, 0}, {0x0421, 0, 0}, {0},
    {0x0415, 0x0395, 0}, {0}, {0}, {0x041D, 0x0397, 0},
    {0x0406, 0x0399, 0}, {0x0408, 0, 0}, {0x041A, 0x039A, 0}, {0},
    {0x041C, 0x039C, 0}, {0x039D, 0, 0}, {0x041E, 0x039F, 0},
    {0x0420, 0x03A1, 0}, {0}, {0}, {0x0405, 0, 0}, {0x0422, 0x03A4, 0},
    {0}, {0}, {0}, {0x0425, 0x03A7, 0}, {0x04AE, 0x03A5, 0},
    {0x0396, 0, 0},
};

/* Leetspeak: the letters the brief of `--mutate` names, 0-ended. */
static const char *leet_of(uint32_t cp)
{
    switch (cp | 0x20u) {
    case 'a': return "4@";
    case 'e': return "3";
    case 'i': return "1!";
    case 'o': return "0";
    case 's': return "5$";
    case 't': return "7";
    default: return NULL;
    }
}

/* Symbols put between characters ('|' and '!' are letters to leetspeak
 * matching, which makes them worth trying). */
static const uint32_t symbols[] = {
    '.', '*', '-', '_', '~', '#', '/', ',', '|', '!', 0x00B7
};
static const uint32_t zero_widths[] = { 0x200B, 0x200D, 0xFEFF, 0x2060 };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *cli_mut_kind_name(int kind)
{
    return kind >= 0 && kind < CLI_MUT_NKINDS ? kind_names[kind] : "?";
}

uint64_t cli_mut_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A uniform value in [0, n), n > 0 (the bias of % is irrelevant here). */
static size_t pick(uint64_t *rng, size_t n)
{
    return (size_t)(cli_mut_rand(rng) % n);
}

/* ------------------------------------------------------------------------
 * UTF-8 and what a report may print as it is
 * ---------------------------------------------------------------------- */

size_t cli_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0], min;
    size_t k;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2; c &= 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3; c &= 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4; c &= 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (k > n)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return k;
}

size_t cli_utf8_bad_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
    unsigned char t[4];
    uint32_t cp;
    /* the longest proper prefix that continuation bytes complete */
    for (size_t k = len - 1 < n ? len - 1 : n; k >= 2; k--) {
        memcpy(t, s, k);
        memset(t + k, 0x80, len - k);
        if (cli_utf8_next(t, len, &cp) == len)
            return k;
    }
    return 1;
}

int cli_mut_plain(uint32_t cp)
{
    static const uint32_t ranges[][2] = {
        {0x20, 0x7E}, {0xA1, 0xAC}, {0xAE, 0x2FF},
        {0x2010, 0x2027}, {0x2030, 0x205E}, {0x20A0, 0x20C0},
        {0x2100, 0x2BFF}, {0x2E80, 0x2FDF}, {0x3001, 0x303F},
        {0x3040, 0x33FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},
        {0xA000, 0xA4CF}, {0xAC00, 0xD7A3}, {0xF900, 0xFAFF},
        {0xFE30, 0xFE4F}, {0xFF01, 0xFFEE}, {0x1F300, 0x1FAFF},
        {0x20000, 0x3FFFD},
    };
    for (size_t i = 0; i < NELEM(ranges); i++)
        if (cp >= ranges[i][0] && cp <= ranges[i][1])
            return 1;
    return 0;
}

static int sbuf_reserve(sbuf *b, size_t more)
{
    if (b->cap - b->n >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->n < more) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int sbuf_put(sbuf *b, const void *s, size_t n)
{
    if (sbuf_reserve(b, n + 1) != 0)
        return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

static int sbuf_cp(sbuf *b, uint32_t c)
{
    unsigned char u[4];
    size_t k;

    if (c < 0x80) {
        u[0] = (unsigned char)c; k = 1;
    } else if (c < 0x800) {
        u[0] = (unsigned char)(0xC0 | (c >> 6));
        u[1] = (unsigned char)(0x80 | (c & 0x3F)); k = 2;
    } else if (c < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (c >> 12));
        u[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (c & 0x3F)); k = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (c >> 18));
        u[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (c & 0x3F)); k = 4;
    }
    return sbuf_put(b, u, k);
}

/* ------------------------------------------------------------------------
 * The mutator
 * ---------------------------------------------------------------------- */

int cli_mutator_new(cli_mutator **out)
{
    static const char id[] = "Simplified-Traditional";
    UChar uid[sizeof id];
    UErrorCode st = U_ZERO_ERROR;
    cli_mutator *m = calloc(1, sizeof *m);

    *out = NULL;
    if (m == NULL)
        return -1;
    u_uastrcpy(uid, id);
    m->s2t = utrans_openU(uid, -1, UTRANS_FORWARD, NULL, 0, NULL, &st);
    if (U_FAILURE(st)) {
        /* no transliterator data: no traditional variants, not an error */
        if (m->s2t != NULL)
            utrans_close(m->s2t);
        m->s2t = NULL;
    }
    *out = m;
    return 0;
}

int cli_mutator_has_traditional(const cli_mutator *m)
{
    return m != NULL && m->s2t != NULL;
}

void cli_mutator_free(cli_mutator *m)
{
    if (m == NULL)
        return;
    if (m->s2t != NULL)
        utrans_close(m->s2t);
    free(m);
}

/* The Traditional form of one ideograph, or 0 when it has none (or more
 * than one code point). */
static uint32_t traditional_of(cli_mutator *m, uint32_t cp)
{
    UChar buf[8];
    int32_t len = 0, limit;
    UErrorCode st = U_ZERO_ERROR;
    UBool bad = 0;
    UChar32 c;

    if (m->s2t == NULL || !u_hasBinaryProperty((UChar32)cp,
            UCHAR_IDEOGRAPHIC))
        return 0;
    U16_APPEND(buf, len, 8, (UChar32)cp, bad);
    if (bad)
        return 0;
    limit = len;
    utrans_transUChars(m->s2t, buf, &len, 8, 0, &limit, &st);
    if (U_FAILURE(st) || len < 1)
        return 0;
    int32_t i = 0;
    U16_NEXT(buf, i, len, c);
    return i == len && (uint32_t)c != cp ? (uint32_t)c : 0;
}

void cli_mut_set_free(cli_mut_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].text);
        free(s->v[i].regions);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------------
 * Eligibility: where each kind can change something
 * ---------------------------------------------------------------------- */

static int is_ascii_letter(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const uint32_t *confusables_of(uint32_t c)
{
    const uint32_t *t = c >= 'a' && c <= 'z' ? confusables[c - 'a'] :
        c >= 'A' && c <= 'Z' ? confusables[26 + c - 'A'] : NULL;
    return t != NULL && t[0] != 0 ? t : NULL;
}

/* A letter, digit or ideograph: insertions go only between two of them
 * ("f.u.c.k" gets no more dots; piling noise onto noise only measures
 * the policy's max_gap). */
static int word_char(const unit *u)
{
    return !u->raw && u_isalnum((UChar32)u->cp);
}

/* Letters only (a repeated digit is another number); ideographs left out
 * (a doubled character is another word more often than an evasion). */
static int repeatable(const unit *u)
{
    return !u->raw && (is_ascii_letter(u->cp) || (u->cp >= 0x80 &&
        u_isalpha((UChar32)u->cp) && !u_hasBinaryProperty((UChar32)u->cp,
        UCHAR_IDEOGRAPHIC)));
}

/* Can `kind` act at unit i (on it, after it, or in the gap after it)? */
static int eligible(int kind, const unit *u)
{
    if (u->raw)
        return 0;
    switch (kind) {
    case CLI_MUT_FULLWIDTH: return u->cp >= 0x20 && u->cp <= 0x7E;
    case CLI_MUT_TRADITIONAL: return u->trad != 0;
    case CLI_MUT_SPACE:
    case CLI_MUT_SYMBOL:
    case CLI_MUT_ZERO_WIDTH: return u->gap;
    case CLI_MUT_CONFUSABLE: return confusables_of(u->cp) != NULL;
    case CLI_MUT_REPEAT: return repeatable(u);
    case CLI_MUT_LEET: return leet_of(u->cp) != NULL;
    default: return 0;
    }
}

static int applicable(int kind, const unit *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (eligible(kind, &u[i]))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------
 * Plans: which kinds act where
 * ---------------------------------------------------------------------- */

/* The edit `kind` makes at unit u (selected), with `all` for the plain
 * form of the kind (first alternative, one space, one '.'). */
static void apply(int kind, const unit *u, edit *e, int all, uint32_t sym,
    uint64_t *rng)
{
    size_t k = 0;

    switch (kind) {
    case CLI_MUT_FULLWIDTH:
        e->sub = u->cp == 0x20 ? 0x3000 : u->cp + 0xFEE0;
        break;
    case CLI_MUT_TRADITIONAL:
        e->sub = u->trad;
        break;
    case CLI_MUT_CONFUSABLE: {
        const uint32_t *t = confusables_of(u->cp);
        size_t n = t[1] == 0 ? 1 : t[2] == 0 ? 2 : 3;
        e->sub = t[all ? 0 : pick(rng, n)];
        break;
    }
    case CLI_MUT_LEET: {
        const char *l = leet_of(u->cp);
        e->sub = (unsigned char)l[all ? 0 : pick(rng, strlen(l))];
        break;
    }
    case CLI_MUT_REPEAT:
        e->extra = (unsigned char)(all ? 3 : 1 + pick(rng, MAX_REPEAT_EXTRA));
        break;
    case CLI_MUT_SPACE:
    case CLI_MUT_SYMBOL:
    case CLI_MUT_ZERO_WIDTH: {
        size_t reps = all ? 1 : 1 + pick(rng, 2);
        while (e->ins[k] != 0 && k < 3)
            k++;
        for (size_t i = 0; i < reps && k < 3; i++, k++)
            e->ins[k] = kind == CLI_MUT_SPACE ? 0x20 :
                kind == CLI_MUT_SYMBOL ? sym :
                zero_widths[all ? 0 : pick(rng, NELEM(zero_widths))];
        e->ins[k] = 0;
        break;
    }
    default:
        break;
    }
}

/* A substitution may not take a unit another one changed already. */
static int free_for(int kind, const edit *e)
{
    return !((SUBST_KINDS >> kind) & 1u) || e->sub == 0;
}

/*
 * Let `kind` act on the units: everywhere it can (all), or at one forced
 * place plus each other place with probability 1/2 (repeats: 1/4).
 */
static void plan_kind(int kind, const unit *u, size_t n, edit *e, int all,
    uint64_t *rng)
{
    size_t nel = 0, forced;
    uint32_t sym = all ? '.' : symbols[pick(rng, NELEM(symbols))];
    int per_gap_sym = !all && pick(rng, 3) == 0;

    for (size_t i = 0; i < n; i++)
        nel += eligible(kind, &u[i]) && free_for(kind, &e[i]);
    if (nel == 0)
        return;
    forced = pick(rng, nel);
    for (size_t i = 0, j = 0; i < n; i++) {
        if (!eligible(kind, &u[i]) || !free_for(kind, &e[i]))
            continue;
        int on = all ? kind != CLI_MUT_REPEAT || j == forced :
            j == forced || pick(rng, kind == CLI_MUT_REPEAT ? 4 : 2) == 0;
        if (on) {
            if (per_gap_sym)
                sym = symbols[pick(rng, NELEM(symbols))];
            apply(kind, &u[i], &e[i], all, sym, rng);
        }
        j++;
    }
}

/* Write the units with their edits. */
static int emit_units(const unit *u, const edit *e, size_t n, sbuf *b)
{
    for (size_t i = 0; i < n; i++) {
        if (u[i].raw) {
            unsigned char c = (unsigned char)u[i].cp;
            if (sbuf_put(b, &c, 1) != 0)
                return -1;
        } else {
            uint32_t c = e[i].sub ? e[i].sub : u[i].cp;
            for (size_t r = 0; r <= e[i].extra; r++)
                if (sbuf_cp(b, c) != 0)
                    return -1;
        }
        for (size_t k = 0; k < 4 && e[i].ins[k] != 0; k++)
            if (sbuf_cp(b, e[i].ins[k]) != 0)
                return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Variants
 * ---------------------------------------------------------------------- */

typedef struct gen {
    cli_mutator *m;
    const char *text;
    size_t len;
    const cli_mut_region *reg;
    size_t nreg;
    unit *u;             /* the regions' units, back to back */
    size_t nu;
    size_t *ustart;      /* per region: its first unit; [nreg] = nu */
    edit *e;             /* scratch, nu entries */
    cli_mut_set *out;
    size_t first;        /* out->v[first..] were made by this call */
} gen;

/* Decode the regions into units. */
static int decode(gen *g)
{
    size_t total = 0;

    for (size_t r = 0; r < g->nreg; r++)
        total += g->reg[r].end - g->reg[r].start;
    g->u = calloc(total ? total : 1, sizeof *g->u);
    g->e = calloc(total ? total : 1, sizeof *g->e);
    g->ustart = calloc(g->nreg + 1, sizeof *g->ustart);
    if (g->u == NULL || g->e == NULL || g->ustart == NULL)
        return -1;
    for (size_t r = 0; r < g->nreg; r++) {
        const unsigned char *s = (const unsigned char *)g->text;
        size_t i = g->reg[r].start, end = g->reg[r].end;
        g->ustart[r] = g->nu;
        while (i < end) {
            unit *x = &g->u[g->nu++];
            size_t k = cli_utf8_next(s + i, end - i, &x->cp);
            if (k == 0) {
                x->raw = 1;
                x->cp = s[i];
                k = 1;
            } else {
                x->trad = traditional_of(g->m, x->cp);
            }
            i += k;
        }
        for (size_t k = g->ustart[r]; k + 1 < g->nu; k++)
            g->u[k].gap = word_char(&g->u[k]) && word_char(&g->u[k + 1]);
    }
    g->ustart[g->nreg] = g->nu;
    return 0;
}

/* 1 if the text equals the input or a variant this call made already. */
static int seen(const gen *g, const sbuf *b)
{
    if (b->n == g->len && memcmp(b->p, g->text, b->n) == 0)
        return 1;
    for (size_t i = g->first; i < g->out->n; i++)
        if (g->out->v[i].len == b->n &&
            memcmp(g->out->v[i].text, b->p, b->n) == 0)
            return 1;
    return 0;
}

static int push(cli_mut_set *s, const cli_mut_variant *v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        cli_mut_variant *q = realloc(s->v, cap * sizeof *q);
        if (q == NULL)
            return -1;
        s->v = q;
        s->cap = cap;
    }
    s->v[s->n++] = *v;
    return 0;
}

/* Build the text for the edits in g->e and add it as a variant (unless it
 * is a repeat). `kinds` lists the kinds, for the name. */
static int add_variant(gen *g, int kind, unsigned kinds)
{
    sbuf b = { NULL, 0, 0 };
    cli_mut_variant v;
    size_t at = 0;

    memset(&v, 0, sizeof v);
    v.kind = kind;
    v.regions = calloc(g->nreg ? g->nreg : 1, sizeof *v.regions);
    if (v.regions == NULL || sbuf_reserve(&b, g->len + 1) != 0)
        goto nomem;
    for (size_t r = 0; r < g->nreg; r++) {
        size_t a = g->ustart[r], z = g->ustart[r + 1];
        if (sbuf_put(&b, g->text + at, g->reg[r].start - at) != 0)
            goto nomem;
        v.regions[r].start = b.n;
        if (emit_units(g->u + a, g->e + a, z - a, &b) != 0)
            goto nomem;
        v.regions[r].end = b.n;
        at = g->reg[r].end;
    }
    if (sbuf_put(&b, g->text + at, g->len - at) != 0)
        goto nomem;
    if (seen(g, &b)) {
        free(b.p);
        free(v.regions);
        return 0;
    }
    v.nregions = g->nreg;
    v.text = b.p;
    v.len = b.n;
    for (int k = 0, w = 0; k < CLI_MUT_MIXED; k++) {
        if (!((kinds >> k) & 1u))
            continue;
        size_t used = strlen(v.detail);
        int n = snprintf(v.detail + used, sizeof v.detail - used, "%s%s",
            w++ ? "+" : "", kind_names[k]);
        if (n < 0)
            break;
    }
    if (push(g->out, &v) != 0)
        goto nomem;
    return 0;
nomem:
    free(b.p);
    free(v.regions);
    return -1;
}

/* One variant: the kinds in `kinds`, substitutions in a random order. */
static int make(gen *g, int kind, unsigned kinds, int all, uint64_t *rng)
{
    int order[CLI_MUT_MIXED], n = 0;

    memset(g->e, 0, (g->nu ? g->nu : 1) * sizeof *g->e);
    for (int k = 0; k < CLI_MUT_MIXED; k++)
        if ((kinds >> k) & 1u)
            order[n++] = k;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)pick(rng, (size_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < n; i++)
        plan_kind(order[i], g->u, g->nu, g->e, all, rng);
    return add_variant(g, kind, kinds);
}

/* A mix of two or three applicable kinds, `avail` a mask of them. */
static unsigned pick_mix(unsigned avail, uint64_t *rng)
{
    int have[CLI_MUT_MIXED], n = 0;
    unsigned mix = 0;

    for (int k = 0; k < CLI_MUT_MIXED; k++)
        if ((avail >> k) & 1u)
            have[n++] = k;
    size_t want = n >= 3 ? 2 + pick(rng, 2) : 2;
    while (__builtin_popcount(mix) < (int)want)
        mix |= 1u << have[pick(rng, (size_t)n)];
    return mix;
}

static int generate(gen *g, uint64_t seed, unsigned per_kind)
{
    unsigned avail = 0;

    for (int k = 0; k < CLI_MUT_MIXED; k++)
        if (applicable(k, g->u, g->nu))
            avail |= 1u << k;
    for (int k = 0; k < CLI_MUT_NKINDS; k++) {
        int once = k == CLI_MUT_FULLWIDTH || k == CLI_MUT_TRADITIONAL;
        unsigned count = once ? 1 : k == CLI_MUT_MIXED ? per_kind + 1 :
            per_kind;
        if (k == CLI_MUT_MIXED ? __builtin_popcount(avail) < 2 :
                !((avail >> k) & 1u))
            continue;
        for (unsigned i = 0; i < count; i++) {
            uint64_t rng = seed ^ ((uint64_t)(k + 1) << 40) ^
                ((uint64_t)i * 0xD1B54A32D192ED03ull);
            (void)cli_mut_rand(&rng);
            unsigned kinds = k == CLI_MUT_MIXED ? pick_mix(avail, &rng) :
                1u << k;
            if (make(g, k, kinds, k != CLI_MUT_MIXED && i == 0, &rng) != 0)
                return -1;
        }
    }
    return 0;
}

int cli_mutate(cli_mutator *m, const char *text, size_t len,
    const cli_mut_region *regions, size_t nregions, uint64_t seed,
    unsigned per_kind, cli_mut_set *out)
{
    gen g;
    int rc;

    memset(&g, 0, sizeof g);
    g.m = m;
    g.text = text;
    g.len = len;
    g.reg = regions;
    g.nreg = nregions;
    g.out = out;
    g.first = out->n;
    for (size_t r = 0; r < nregions; r++)
        if (regions[r].start > regions[r].end || regions[r].end > len ||
            (r > 0 && regions[r].start < regions[r - 1].end))
            return -1;
    rc = decode(&g);
    if (rc == 0 && g.nu > 0)
        rc = generate(&g, seed, per_kind ? per_kind : 1);
    free(g.u);
    free(g.e);
    free(g.ustart);
    return rc;
}
