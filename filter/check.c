/*
 * check.c - one whole-text check: normalize, match, validate, decide.
 *
 * Flow: for each term group, normalize the text with that group's steps
 * and scan it with the group's Hyperscan database; each literal hit is
 * confirmed in the callback (noise gaps, repeat counts, word boundaries,
 * validators) and becomes a candidate with its span in the ORIGINAL text.
 * Regex rules add candidates from PCRE2. Co-occurrence rules then look for
 * windows holding all their terms; allow-list spans suppress candidates
 * they fully contain; the most severe remaining action wins.
 *
 * Views (docs/matching.md): a stream with NORM_REPEAT is scanned with
 * each code point equal to the one before it merged into it (a run goes
 * on across noise: a.s.s.h.o.l.e, f.u.u.u.c.k), and a leet stream that
 * holds symbols read as letters (| ! @ $ ( +) is scanned a second time,
 * around those symbols only, with them left out as noise (f|u|c|k). A
 * view is the stream's text with code points taken out, recorded
 * sparsely (sview); a hit of a view maps back to stream entries, taking
 * of its first and last code point's group of equal entries as few as
 * the term's run counts need (view_hit), so the gap rule, word
 * boundaries and spans see the stream as before.
 *
 * Gap rule (NORM_SKIP_NOISE): a match may span skipped noise only if each
 * gap is at most max_gap code points, holds no break (line, clause or
 * sentence end, CJK quote or bracket), and, when it holds whitespace, has
 * a one-character "word" on at least one side (letter spacing like
 * "f u c k", not "pen is"); or the gap lies between two ideographs that
 * ICU's dictionary joins into one word once it is taken out (炸 药); or,
 * for rules with word boundaries only, it is spaces alone between chunks
 * of at most two letters (fu ck). The term's own spaces (multi-word
 * terms) are always allowed.
 */
#include <stdlib.h>
#include <string.h>

#include "filter/check.h"
#include "filter/utf8.h"
#include "filter/runscan.h"
#include "filter/verdict.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MATCH_LIMIT 1000000u
#define STREAM_GROUP_CONTEXT 128   /* >= the word-break window + a code point */   /* PCRE2 backtracking steps per match */
#define DEPTH_LIMIT 10000u

policy_scratch *scratch_new(const sluice_policy *p)
{
    policy_scratch *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < MAX_GROUPS; i++)
        norm_out_init(&s->norm[i]);
    norm_out_init(&s->regex_norm);
    norm_out_init(&s->win);
    wordbreak_init(&s->wb);
    for (size_t i = 0; i < p->ngroups; i++) {
        if (p->groups[i].db == NULL)
            continue;
        if (hs_alloc_scratch(p->groups[i].db, &s->hs) != HS_SUCCESS)
            goto fail;
    }
    for (int i = 0; i < 2; i++)
        if ((p->rx_db[i] != NULL &&
             hs_alloc_scratch(p->rx_db[i], &s->hs) != HS_SUCCESS) ||
            (p->gate_db[i] != NULL &&
             hs_alloc_scratch(p->gate_db[i], &s->hs) != HS_SUCCESS))
            goto fail;
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].pf_db != NULL &&
            hs_alloc_scratch(p->rules[i].pf_db, &s->hs) != HS_SUCCESS)
            goto fail;
    s->rx_gate = calloc(p->nrules ? p->nrules : 1, 1);
    if (s->rx_gate == NULL)
        goto fail;
    s->rx_hit = calloc(p->nrules ? p->nrules : 1, 1);
    s->rx_min = calloc(p->nrules ? p->nrules : 1, sizeof *s->rx_min);
    if (s->rx_hit == NULL || s->rx_min == NULL)
        goto fail;
    s->md = pcre2_match_data_create(16, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->fired = calloc(p->nrules ? p->nrules : 1, 1);
    if (s->md == NULL || s->mctx == NULL || s->fired == NULL)
        goto fail;
    s->nfired = p->nrules;
    if (pcre2_set_match_limit(s->mctx, MATCH_LIMIT) != 0 ||
        pcre2_set_depth_limit(s->mctx, DEPTH_LIMIT) != 0)
        goto fail;
    return s;
fail:
    scratch_free(s);
    return NULL;
}

void scratch_free(policy_scratch *s)
{
    if (s == NULL)
        return;
    if (s->hs != NULL)
        hs_free_scratch(s->hs);
    for (size_t i = 0; i < MAX_GROUPS; i++)
        norm_out_free(&s->norm[i]);
    norm_out_free(&s->regex_norm);
    norm_out_free(&s->win);
    for (size_t i = 0; i < MAX_GROUPS; i++)
        for (int k = 0; k < 2; k++) {
            free(s->view[i][k].buf);
            free(s->view[i][k].vpos);
            free(s->view[i][k].spos);
            free(s->view[i][k].drop);
        }
    free(s->sanitized);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    wordbreak_free(&s->wb);
    free(s->cands);
    free(s->fired);
    free(s->rx_hit);
    free(s->rx_gate);
    free(s->syms);
    free(s->rx_min);
    free(s->rxm);
    free(s);
}

/* ---- candidates ------------------------------------------------------- */

static int push_cand(policy_scratch *s, size_t start, size_t end,
    uint32_t rule, uint32_t slot, uint32_t nstart, uint32_t nend, int group)
{
    if (s->ncands == s->capcands) {
        size_t n = s->capcands ? s->capcands * 2 : 64;
        cand *c = realloc(s->cands, n * sizeof *c);
        if (c == NULL)
            return -1;
        s->cands = c;
        s->capcands = n;
    }
    cand *c = &s->cands[s->ncands++];
    c->start = start;
    c->end = end;
    c->rule = rule;
    c->slot = slot;
    c->nstart = nstart;
    c->nend = nend;
    c->group = group;
    c->keep = 0;
    return 0;
}

static size_t utf8_len(unsigned char c)
{
    if (c < 0xC0)
        return 1;
    if (c < 0xE0)
        return 2;
    if (c < 0xF0)
        return 3;
    return 4;
}

/*
 * The metadata of stream entries around a hit: the stream's own arrays,
 * or, for a lazy stream (norm_text_lazy), a window rebuilt around the hit
 * and kept for the next hits it covers. Entry q is at [q - base].
 */
typedef struct nview {
    const unsigned char *text;
    const uint8_t *gap, *run;
    const uint32_t *src, *src_end;
    size_t base;
    size_t len;            /* the whole stream's length */
} nview;

/*
 * Make s->win hold entries [first, last] of lazy stream o (group g's).
 * Windows start at the checkpoint before `first` and grow while later
 * entries are asked for (hits come in order of their ends), so a text
 * dense with hits is normalized with metadata about once, and a sparse
 * one only around its hits.
 */
static int window_cover(policy_scratch *s, const norm_out *o, size_t g,
    size_t first, size_t last)
{
    size_t st = s->gstart[g];
    if (s->win_of == o && first >= s->win_base &&
        last < s->win_base + s->win.len)
        return 0;
    if (s->win_of != o)
        s->wcur.valid = 0;
    s->win_of = NULL;
    if (norm_window_cover(s->pol->nt, s->pol->groups[g].flags, s->text + st,
            s->text_len - st, o, first, last, &s->win, &s->wcur) != 0)
        return SLUICE_ENOMEM;
    s->win_base = s->wcur.base;
    s->win_of = o;
    return 0;
}

/* Entries [ns, ne] of the current stream (ne only if < len). */
static int view_at(policy_scratch *s, size_t ns, size_t ne, nview *v)
{
    const norm_out *o = s->cur, *w = o;
    size_t base = 0;
    if (o->lazy) {
        size_t last = ne < o->len ? ne : ne - 1;
        if (window_cover(s, o, (size_t)(s->grp - s->pol->groups), ns,
                last) != 0)
            return SLUICE_ENOMEM;
        w = &s->win;
        base = s->win_base;
    }
    v->text = w->text;
    v->gap = w->gap;
    v->run = w->run;
    v->src = w->src;
    v->src_end = w->src_end;
    v->base = base;
    v->len = o->len;
    return 0;
}

int check_stream_src(policy_scratch *s, size_t g, size_t q, size_t *src)
{
    const norm_out *o = &s->norm[g];
    if (!o->lazy) {
        *src = o->src[q];
        return 0;
    }
    if (window_cover(s, o, g, q, q) != 0)
        return SLUICE_ENOMEM;
    *src = s->win.src[q - s->win_base];
    return 0;
}

/* ---- views: runs across noise, leet symbols as noise ------------------ */

const sview *check_view(const policy_scratch *s, size_t g, int which)
{
    const sview *v = &s->view[g][which];
    return v->active ? v : NULL;
}

size_t check_view_src(const sview *v, size_t p)
{
    size_t lo = 0, hi = v->nrec;
    if (hi == 0 || v->vpos[0] > p)
        return p;
    while (hi - lo > 1) {            /* last record at or before p */
        size_t mid = lo + (hi - lo) / 2;
        if (v->vpos[mid] <= p)
            lo = mid;
        else
            hi = mid;
    }
    return p - v->vpos[lo] + v->spos[lo];
}

/* The start of the view code point whose group holds stream byte x (or
   one before it): where a scan from stream byte x must begin. */
static size_t view_of_src(const sview *v, size_t x)
{
    size_t lo = 0, hi = v->nrec, p;
    if (hi == 0 || v->spos[0] > x) {
        p = x;
        if (hi > 0 && p >= v->vpos[0])
            p = v->vpos[0] ? v->vpos[0] - 1 : 0;
    } else {
        while (hi - lo > 1) {        /* last record resuming at or before x */
            size_t mid = lo + (hi - lo) / 2;
            if (v->spos[mid] <= x)
                lo = mid;
            else
                hi = mid;
        }
        p = x - v->spos[lo] + v->vpos[lo];
        if (lo + 1 < v->nrec && p >= v->vpos[lo + 1])
            p = v->vpos[lo + 1] ? v->vpos[lo + 1] - 1 : 0;
    }
    if (p > v->len)
        p = v->len;
    while (p > 0 && p < v->len && (v->text[p] & 0xC0) == 0x80)
        p--;
    return p;
}

/* Leet letters a symbol can stand for (@ ( ! | $ + -> a c i i s t). */
static const uint8_t leet_target[128] = {
    ['a'] = 1, ['c'] = 1, ['i'] = 1, ['s'] = 1, ['t'] = 1,
};

static inline int leet_sym_target(unsigned c)
{
    return c < 0x80 && leet_target[c];
}

static const uint8_t leet_symtab[128] = {
    ['@'] = 1, ['('] = 1, ['!'] = 1, ['|'] = 1, ['$'] = 1, ['+'] = 1,
};

static inline int leet_sym_ascii(unsigned c)
{
    return c < 0x80 && leet_symtab[c];
}

/*
 * Is entry q of stream o (NORM_LEET) a symbol read as a letter: a leet
 * letter all of whose original code points are leet symbols (noise
 * without leet: | ! @ $ ( +, their full-width forms, ‼;
 * norm_is_leet_symbol)? Those are the letters the alternate reading
 * leaves out as noise.
 */
static int leet_symbol(const policy_scratch *s, const norm_out *o, size_t q)
{
    const unsigned char *t = (const unsigned char *)s->text;
    size_t a = o->src[q], b = o->src_end[q];
    if (!leet_sym_target(o->text[q]) || b > s->text_len ||
        (t[a] < 0x80 && !leet_sym_ascii(t[a])))
        return 0;
    while (a < b) {
        unsigned c = t[a];
        uint32_t cp;
        size_t n;
        if (c < 0x80) {
            if (!leet_sym_ascii(c))
                return 0;
            a++;
            continue;
        }
        n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (n == 0 || b - a < n)
            return 0;
        cp = n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
        for (size_t k = 1; k < n; k++) {
            if ((t[a + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (t[a + k] & 0x3Fu);
        }
        if (!norm_is_leet_symbol(s->pol->nt, s->grp->flags, cp))
            return 0;
        a += n;
    }
    return 1;
}

/* Record that stream bytes up to `to` are left out before view byte vl. */
static int view_skip(sview *v, size_t vl, size_t to)
{
    if (v->nrec > 0 && v->vpos[v->nrec - 1] == vl) {
        v->spos[v->nrec - 1] = (uint32_t)to;
        return 0;
    }
    if (v->nrec == v->caprec) {
        size_t n = v->caprec ? v->caprec * 2 : 64;
        uint32_t *a = realloc(v->vpos, n * sizeof *a);
        if (a == NULL)
            return SLUICE_ENOMEM;
        v->vpos = a;
        a = realloc(v->spos, n * sizeof *a);
        if (a == NULL)
            return SLUICE_ENOMEM;
        v->spos = a;
        v->caprec = n;
    }
    v->vpos[v->nrec] = (uint32_t)vl;
    v->spos[v->nrec++] = (uint32_t)to;
    return 0;
}

/* The view differs from stream o from view byte vl on: copy what it has. */
static int view_copy(sview *v, const norm_out *o, size_t vl)
{
    if (v->cap < o->len + 1) {
        unsigned char *b = realloc(v->buf, o->len + 1);
        if (b == NULL)
            return SLUICE_ENOMEM;
        v->buf = b;
        v->cap = o->len + 1;
    }
    memcpy(v->buf, o->text, vl);
    return 0;
}

static int view_drop(sview *v, size_t vl)
{
    if (v->ndrop == v->capdrop) {
        size_t n = v->capdrop ? v->capdrop * 2 : 16;
        uint32_t *d = realloc(v->drop, n * sizeof *d);
        if (d == NULL)
            return SLUICE_ENOMEM;
        v->drop = d;
        v->capdrop = n;
    }
    v->drop[v->ndrop++] = (uint32_t)vl;
    return 0;
}

/* First index of stream o whose source starts at or after `from`. */
static size_t stream_index(const norm_out *o, size_t from);

/* Add entry q of the current stream to s->syms if it is a leet symbol
   (and not the last one added). Returns 0 or SLUICE_ENOMEM. */
static int sym_at(policy_scratch *s, const norm_out *o, size_t x)
{
    size_t q = stream_index(o, x + 1);
    if (q == 0)
        return 0;
    q--;                                 /* the entry whose source holds x */
    while (q > 0 && (o->text[q] & 0xC0) == 0x80)
        q--;
    if (o->src[q] > x || o->src_end[q] <= x ||
        (s->nsyms > 0 && s->syms[s->nsyms - 1] == q) ||
        !leet_symbol(s, o, q))
        return 0;
    if (s->nsyms == s->capsyms) {
        size_t n = s->capsyms ? s->capsyms * 2 : 64;
        uint32_t *a = realloc(s->syms, n * sizeof *a);
        if (a == NULL)
            return SLUICE_ENOMEM;
        s->syms = a;
        s->capsyms = n;
    }
    s->syms[s->nsyms++] = (uint32_t)q;
    return 0;
}

/* Does original byte k (@ ( ! | $ +, or a lead byte 0xE2 / 0xEF) begin
   a leet symbol? The three-byte ones are looked up in the tables, so that
   CJK punctuation (，“”…) costs no search of the stream. */
static int sym_candidate(const policy_scratch *s, const unsigned char *p,
    size_t n, size_t k)
{
    uint32_t cp;
    if (p[k] < 0x80)
        return 1;
    if (n - k < 3 || (p[k + 1] & 0xC0) != 0x80 || (p[k + 2] & 0xC0) != 0x80)
        return 0;
    cp = (uint32_t)(p[k] & 0x0F) << 12 | (uint32_t)(p[k + 1] & 0x3F) << 6 |
        (p[k + 2] & 0x3F);
    return norm_is_leet_symbol(s->pol->nt, s->grp->flags, cp);
}

/*
 * The entries of leet stream o (input from original offset `from`) that
 * are leet symbols, into s->syms. The original text is searched for the
 * bytes one can begin with (@ ( ! | $ +, and 0xE2 / 0xEF, the lead bytes
 * of the other forms: ！ ｜ ﹗ ‼ ⁽ ...), sixteen at a time where SSE2 is
 * there; only the entries holding such a byte are tested.
 */
static int collect_syms(policy_scratch *s, const norm_out *o, size_t from)
{
    const unsigned char *p = (const unsigned char *)s->text;
    size_t i = from, n = s->text_len;
    s->nsyms = 0;
#if defined(__SSE2__)
    const __m128i c0 = _mm_set1_epi8('@'), c1 = _mm_set1_epi8('('),
        c2 = _mm_set1_epi8('!'), c3 = _mm_set1_epi8('|'),
        c4 = _mm_set1_epi8('$'), c5 = _mm_set1_epi8('+'),
        c6 = _mm_set1_epi8((char)0xE2), c7 = _mm_set1_epi8((char)0xEF);
    for (; n - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, c0),
                _mm_cmpeq_epi8(x, c1)), _mm_or_si128(_mm_cmpeq_epi8(x, c2),
                _mm_cmpeq_epi8(x, c3))),
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, c4),
                _mm_cmpeq_epi8(x, c5)), _mm_or_si128(_mm_cmpeq_epi8(x, c6),
                _mm_cmpeq_epi8(x, c7))));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        while (bits != 0) {
            size_t k = i + (size_t)__builtin_ctz(bits);
            if (sym_candidate(s, p, n, k) && sym_at(s, o, k) != 0)
                return SLUICE_ENOMEM;
            bits &= bits - 1;
        }
    }
#endif
    for (; i < n; i++)
        if ((p[i] < 0x80 ? leet_symtab[p[i]] : (p[i] == 0xE2 ||
            p[i] == 0xEF)) && sym_candidate(s, p, n, i) &&
            sym_at(s, o, i) != 0)
            return SLUICE_ENOMEM;
    return 0;
}

/* Is entry q of the current stream a leet symbol (s->syms)? */
static int is_sym(const policy_scratch *s, size_t q)
{
    size_t lo = 0, hi = s->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->syms[mid] < q)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nsyms && s->syms[lo] == q;
}

#if defined(__SSE2__)
/*
 * View building, sixteen stream bytes t[q..q+16) at a time (q >= 4,
 * t[q + 16] readable, t[q - 1] the view's last byte): where they end up
 * kept as they are, up to the first code point that may be equal to the
 * one before it (with `merge`) and the last that ends inside them.
 * Returns that end (q: none); *stop gets where bytewise work ends.
 */
static inline size_t clean_block(const unsigned char *t, size_t q,
    int merge, size_t *stop)
{
    size_t end = q + 16;
    unsigned bad = 0;
    __m128i x = _mm_loadu_si128((const __m128i *)(t + q));
    unsigned hi = (unsigned)_mm_movemask_epi8(x);
    if (merge) {
        unsigned e1 = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x,
            _mm_loadu_si128((const __m128i *)(t + q - 1))));
        bad = e1 & ~hi;                  /* ASCII equal to the byte before */
        if (hi != 0) {                   /* 2-4 bytes equal to those before */
            unsigned e2 = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x,
                _mm_loadu_si128((const __m128i *)(t + q - 2))));
            unsigned e3 = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x,
                _mm_loadu_si128((const __m128i *)(t + q - 3))));
            unsigned e4 = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x,
                _mm_loadu_si128((const __m128i *)(t + q - 4))));
            bad |= e2 & (e2 >> 1);
            bad |= e3 & (e3 >> 1) & (e3 >> 2);
            bad |= e4 & (e4 >> 1) & (e4 >> 2) & (e4 >> 3);
        }
    }
    while ((t[end] & 0xC0) == 0x80)
        end--;                           /* a code point runs past them */
    bad &= (1u << (end - q)) - 1u;
    if (bad != 0) {
        size_t k = (size_t)__builtin_ctz(bad);
        if ((t[q + k] & 0xC0) == 0x80) { /* inside a code point */
            *stop = q + 16;
            return q;
        }
        end = q + k;
        *stop = end + 1;                 /* that one bytewise, then on */
    }
    return end;
}
#endif

/*
 * Build view v of stream o: with v->merge, a code point equal to the one
 * before it in the view joins it; with v->alt, the leet symbols of
 * s->syms are left out. The text is copied only from the first removal
 * on. Returns 0 or SLUICE_ENOMEM.
 */
static int view_build(policy_scratch *s, const norm_out *o, sview *v)
{
    const unsigned char *t = o->text;
    unsigned char *w = NULL;           /* the copy, once there is one */
    size_t len = o->len, q = 0, vl = 0, pv = 0, pn = 0, ks = 0, stop = 0;
    size_t nextsym = v->alt && s->nsyms > 0 ? s->syms[0] : SIZE_MAX;
    int merge = v->merge, after_drop = 0;
    unsigned last = 0x100;             /* the view's last byte if ASCII */
    v->nrec = 0;
    v->ndrop = 0;
    v->text = t;
    v->active = 1;
    v->tail_gap = o->tail_gap;
    while (q < len) {
        unsigned c = t[q];
        size_t n;
#if defined(__SSE2__)
        if (q >= stop && q >= 4 && len - q >= 17 && nextsym >= q + 16 &&
            !after_drop) {
            size_t end = clean_block(t, q, merge, &stop);
            if (end > q) {
                size_t p;
                if (w != NULL)
                    memcpy(w + vl, t + q, 16);
                for (p = end - 1; (t[p] & 0xC0) == 0x80; p--)
                    ;
                pn = end - p;
                last = pn == 1 ? t[p] : 0x100;
                pv = vl + (p - q);
                vl += end - q;
                q = end;
                continue;
            }
        }
#endif
        if (q == nextsym) {            /* a leet symbol: noise */
            if ((w == NULL && view_copy(v, o, vl) != 0) ||
                view_drop(v, vl) != 0 || view_skip(v, vl, q + 1) != 0)
                return SLUICE_ENOMEM;
            w = v->buf;
            q++;
            nextsym = ++ks < s->nsyms ? s->syms[ks] : SIZE_MAX;
            after_drop = 1;
            continue;
        }
        after_drop = 0;
        if (c < 0x80) {                /* most of the text: ASCII */
            if (merge && c == last) {
                if ((w == NULL && view_copy(v, o, vl) != 0) ||
                    view_skip(v, vl, q + 1) != 0)
                    return SLUICE_ENOMEM;
                w = v->buf;
                q++;
                continue;
            }
            if (w != NULL)
                w[vl] = (unsigned char)c;
            last = c;
            pv = vl++;
            pn = 1;
            q++;
            continue;
        }
        n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (merge && n == pn) {
            const unsigned char *b = (w ? w : t) + pv;
            int same = t[q] == b[0] && t[q + 1] == b[1];
            for (size_t k = 2; same && k < n; k++)
                same = t[q + k] == b[k];
            if (same) {
                if ((w == NULL && view_copy(v, o, vl) != 0) ||
                    view_skip(v, vl, q + n) != 0)
                    return SLUICE_ENOMEM;
                w = v->buf;
                q += n;
                continue;
            }
        }
        if (w != NULL)
            for (size_t k = 0; k < n; k++)
                w[vl + k] = t[q + k];
        last = 0x100;
        pv = vl;
        pn = n;
        vl += n;
        q += n;
    }
    if (w != NULL)
        v->text = w;
    v->len = vl;
    if (v->alt) {                    /* symbols at the end: more noise */
        unsigned cnt = o->tail_gap & NORM_GAP_COUNT;
        unsigned bits = o->tail_gap & ~NORM_GAP_COUNT;
        size_t e = len, k = s->nsyms;
        while (k > 0 && e > 0 && s->syms[k - 1] == e - 1) {
            e = s->syms[--k];
            cnt += o->run[e] + (o->gap[e] & NORM_GAP_COUNT);
            bits |= o->gap[e] & ~NORM_GAP_COUNT;
        }
        v->tail_gap = (uint8_t)(bits | (cnt < 15 ? cnt : 15));
    }
    return 0;
}

/* ---- confirming a hit ---------------------------------------------------- */

enum { GAPS_NO, GAPS_WORD, GAPS_OK, GAPS_PENDING };

/* Is entry q of the stream (window v) a leet symbol read as noise? */
static int dropped(const policy_scratch *s, const nview *v, size_t q, int alt)
{
    (void)v;
    return alt && is_sym(s, q);
}

/* The gap before kept entry q, with leet symbols left out before it
   (alternate reading) counted as noise. */
static unsigned eff_gap(const policy_scratch *s, const nview *v, size_t q,
    int alt)
{
    unsigned g = v->gap[q - v->base], cnt = g & NORM_GAP_COUNT;
    g &= ~NORM_GAP_COUNT;
    while (alt && q > 0 && dropped(s, v, q - 1, alt)) {
        q--;
        cnt += v->run[q - v->base] + (v->gap[q - v->base] & NORM_GAP_COUNT);
        g |= v->gap[q - v->base] & ~NORM_GAP_COUNT;
    }
    return g | (cnt < 15 ? cnt : 15);
}

/* The kept entry after q, or v->len. */
static size_t next_kept(const policy_scratch *s, const nview *v, size_t q,
    int alt)
{
    q += utf8_len(v->text[q - v->base]);
    while (q < v->len && dropped(s, v, q, alt))
        q++;
    return q;
}

/* The kept entry before q (> 0). */
static size_t prev_kept(const policy_scratch *s, const nview *v, size_t q,
    int alt)
{
    do {
        q--;
        while (q > 0 && (v->text[q - v->base] & 0xC0) == 0x80)
            q--;
    } while (q > 0 && dropped(s, v, q, alt));
    return q;
}

static int is_ideograph(const unsigned char *p)
{
    uint32_t cp;
    if (p[0] >= 0xE3 && p[0] <= 0xE9) {
        cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 |
            (p[2] & 0x3F);
        return cp >= 0x3400 && cp <= 0x9FFF;
    }
    if (p[0] == 0xEF && p[1] >= 0xA4 && p[1] <= 0xAB)
        return 1;                            /* U+F900-U+FAFF */
    return p[0] == 0xF0 && p[1] >= 0xA0 && p[1] <= 0xBF;  /* U+20000- */
}

/*
 * Is original text [a, b) white space only (and invisible characters)?
 * Letter spacing is spaces; "Shh, it" or "Oh. Kay" is punctuation
 * between words.
 */
static int only_spaces(const policy_scratch *s, size_t a, size_t b)
{
    const unsigned char *t = (const unsigned char *)s->text;
    while (a < b) {
        uint32_t cp;
        unsigned c = t[a];
        if (c == ' ' || c == '\t') {
            a++;
            continue;
        }
        if (c < 0xC2 || b - a < (c >= 0xE0 ? 3u : 2u))
            return 0;
        if (c < 0xE0) {
            cp = (c & 0x1Fu) << 6 | (t[a + 1] & 0x3Fu);
            a += 2;
        } else if (c < 0xF0) {
            cp = (c & 0x0Fu) << 12 | (t[a + 1] & 0x3Fu) << 6 |
                (t[a + 2] & 0x3Fu);
            a += 3;
        } else {
            return 0;
        }
        if (!(cp == 0xA0 || cp == 0xAD || (cp >= 0x2000 && cp <= 0x200F) ||
            cp == 0x202F || (cp >= 0x205F && cp <= 0x2064) ||
            cp == 0x3000 || cp == 0xFEFF))
            return 0;
    }
    return 1;
}

#define JOIN_CONTEXT 96   /* bytes each side, as wordbreak's window */

/*
 * Whitespace between two ideographs: does ICU's dictionary segmentation
 * of the original text with the gap [a, b) taken out see one word across
 * it (以下是炸 药的 -> 炸药 is a word; 我很傻 逼你 -> 傻|逼 is not)?
 * GAPS_PENDING when a session does not have the text it would read yet.
 */
static int joined_word(policy_scratch *s, size_t a, size_t b)
{
    const unsigned char *t = (const unsigned char *)s->text;
    unsigned char buf[2 * JOIN_CONTEXT + 16];
    size_t ws = a > JOIN_CONTEXT ? a - JOIN_CONTEXT : 0, we, n;
    if (s->streaming && !wordbreak_decidable(s->text, s->text_len, b))
        return GAPS_PENDING;
    we = s->text_len - b > JOIN_CONTEXT ? b + JOIN_CONTEXT : s->text_len;
    while (ws < a && (t[ws] & 0xC0) == 0x80)
        ws++;
    while (we > b && we < s->text_len && (t[we] & 0xC0) == 0x80)
        we--;
    n = (a - ws) + (we - b);
    memcpy(buf, t + ws, a - ws);
    memcpy(buf + (a - ws), t + b, we - b);
    return wordbreak_is_boundary(&s->wb, (const char *)buf, n, a - ws) ?
        GAPS_NO : GAPS_OK;
}

/*
 * Does the noise inside [ns, ne) of the stream allow this match? GAPS_OK,
 * GAPS_NO, GAPS_WORD (only for a rule with word boundaries: a space
 * between two chunks of at most two letters, `fu ck`), or GAPS_PENDING.
 * With `merge`, entries equal to the one before them continue the
 * term's code point (a run across noise); with `alt`, leet symbols are
 * noise. s->at_end is set when the look-ahead reached the stream's end.
 */
static int gaps_ok(policy_scratch *s, const nview *o, const cterm *t,
    size_t ns, size_t ne, int merge, int alt)
{
    int max_gap = s->pol->src->max_gap, level = GAPS_OK;
    size_t prev = ns, pn = utf8_len(o->text[ns - o->base]);
    uint32_t i = 0;
    for (size_t q = next_kept(s, o, ns, alt); q < ne;
        q = next_kept(s, o, q, alt)) {
        const unsigned char *tq = o->text + (q - o->base);
        size_t n = utf8_len(tq[0]);
        uint8_t g = (uint8_t)eff_gap(s, o, q, alt);
        unsigned cnt = g & NORM_GAP_COUNT;
        if (!merge || n != pn || memcmp(tq, o->text + (prev - o->base), n))
            i++;                     /* the term's next code point */
        pn = n;
        if (cnt == 0 || (i < 64 && (t->native_gaps >> i) & 1u)) {
            prev = q;
            continue;
        }
        if ((int)cnt > max_gap || (g & NORM_GAP_BREAK))
            return GAPS_NO;
        if (g & NORM_GAP_SPACE) {
            int left = (eff_gap(s, o, prev, alt) &
                (NORM_GAP_COUNT | NORM_GAP_START)) != 0;
            size_t nx = next_kept(s, o, q, alt);
            int right = nx >= o->len ||
                (eff_gap(s, o, nx, alt) & NORM_GAP_COUNT) != 0;
            s->at_end |= nx >= o->len;
            if (!left && !right) {
                const unsigned char *tp = o->text + (prev - o->base);
                if (is_ideograph(tp) && is_ideograph(tq)) {
                    int r = joined_word(s, o->src_end[prev - o->base],
                        o->src[q - o->base]);
                    if (r != GAPS_OK)
                        return r;
                } else {
                    /* spaces alone, two letters each side at most:
                       "fu ck", not "pen is" or "Shh, it" */
                    size_t p2 = prev_kept(s, o, prev, alt);
                    size_t n2 = next_kept(s, o, nx, alt);
                    int l2 = (eff_gap(s, o, p2, alt) &
                        (NORM_GAP_COUNT | NORM_GAP_START)) != 0;
                    int r2 = n2 >= o->len ||
                        (eff_gap(s, o, n2, alt) & NORM_GAP_COUNT) != 0;
                    s->at_end |= n2 >= o->len;
                    if (!l2 || !r2 || !only_spaces(s,
                            o->src_end[prev - o->base], o->src[q - o->base]))
                        return GAPS_NO;
                    level = GAPS_WORD;
                }
            }
        }
        prev = q;
    }
    return level;
}

/* Run lengths: every code point of the text as often as in the term. */
static int runs_ok(const policy_scratch *s, const nview *o, const cterm *t,
    size_t ns, size_t ne)
{
    const uint8_t *want = s->grp->runpool + t->runs;
    uint32_t i = 0;
    ns -= o->base;
    ne -= o->base;
    for (size_t q = ns; q < ne && i < t->ncp; q += utf8_len(o->text[q]), i++)
        if (o->run[q] < want[i])
            return 0;
    return 1;
}

/*
 * Keep the hit of term t over stream entries [ns, ne) if its gaps, word
 * boundaries and validators allow (runs are checked by the caller when
 * it reads a view). Returns 0, or 1 to stop the scan (out of memory).
 */
static int confirm(policy_scratch *s, const cterm *t, size_t ns, size_t ne,
    int merge, int alt, int runs)
{
    const mgroup *g = s->grp;
    const norm_out *o = s->cur;
    int level = GAPS_OK;
    nview v;
    /* the gap rule looks up to two code points around the hit */
    if (view_at(s, ns > 8 ? ns - 8 : 0, ne + 8 < o->len ? ne + 8 : o->len,
            &v) != 0) {
        s->oom = 1;
        return 1;
    }
    s->at_end = 0;
    if ((g->flags & NORM_SKIP_NOISE) && ns + utf8_len(o->text[ns]) < ne)
        level = gaps_ok(s, &v, t, ns, ne, merge, alt);
    if (level == GAPS_NO)
        return 0;
    if (runs && t->runs != UINT32_MAX && !runs_ok(s, &v, t, ns, ne))
        return 0;
    size_t os = v.src[ns - v.base], oe = v.src_end[ne - 1 - v.base];
    unsigned tail = s->curv != NULL ? s->curv->tail_gap : o->tail_gap;

    /* streaming: a hit at the end of the window may still grow (repeats,
       the gap rule's look-ahead): decide it when more text is in. Noise
       after it settles both (a gap ends a run, and is what the look-ahead
       looks for). So does ICU for a space between ideographs. */
    if (s->streaming && (level == GAPS_PENDING ||
        ((ne == o->len || s->at_end) && !(tail & NORM_GAP_COUNT)))) {
        if (os < s->pending_from)
            s->pending_from = os;
        return 0;
    }
    for (uint32_t r = t->first_ref; r != UINT32_MAX; r = g->refs[r].next) {
        const term_ref *ref = &g->refs[r];
        if (ref->rule != RULE_ALLOW) {
            const crule *cr = &s->pol->rules[ref->rule];
            int word = cr->src->boundary == PSRC_BOUNDARY_WORD;
            if (level == GAPS_WORD && !word)
                continue;
            if (s->streaming && word &&
                !wordbreak_decidable(s->text, s->text_len, oe)) {
                if (os < s->pending_from)
                    s->pending_from = os;
                continue;
            }
            if (word &&
                (!wordbreak_is_boundary(&s->wb, s->text, s->text_len, os) ||
                 !wordbreak_is_boundary(&s->wb, s->text, s->text_len, oe)))
                continue;
            if (cr->validate != NULL && !cr->validate(s->text + os, oe - os))
                continue;
        } else if (level == GAPS_WORD) {
            continue;
        }
        if (push_cand(s, os, oe, ref->rule, ref->slot, (uint32_t)ns,
                (uint32_t)ne, (int)(g - s->pol->groups)) != 0) {
            s->oom = 1;
            return 1;   /* stop scanning */
        }
    }
    return 0;
}

/* Repetitions of the term's code point held by kept entries [a, b). */
static unsigned group_reps(const policy_scratch *s, size_t a, size_t b,
    int alt)
{
    const norm_out *o = s->cur;
    unsigned sum = 0;
    nview v = { o->text, o->gap, o->run, o->src, o->src_end, 0, o->len };
    for (size_t q = a; q < b; q += utf8_len(o->text[q]))
        if (!dropped(s, &v, q, alt))
            sum += o->run[q];
    return sum;
}

/*
 * A hit [vs, ve) of term t in view sv: pick the stream entries it covers.
 * Each code point of the view is a group of stream entries (a run across
 * noise; leet symbols between them in the alternate reading); the middle
 * groups are covered whole, the first from its shortest tail and the last
 * up to its shortest head that hold as many repetitions as the term asks.
 * A one-code-point term matches each entry that is enough on its own (as
 * in the stream), else the whole group if that is.
 */
static int view_hit(policy_scratch *s, const cterm *t, size_t vs, size_t ve)
{
    const sview *sv = s->curv;
    const norm_out *o = s->cur;
    const uint8_t *want = t->runs != UINT32_MAX ?
        s->grp->runpool + t->runs : NULL;
    nview v = { o->text, o->gap, o->run, o->src, o->src_end, 0, o->len };
    size_t l0 = utf8_len(sv->text[vs]), ll, p, a0, a1, b0, b1, ns, ne;
    uint32_t i = 0;
    for (ll = 1; (sv->text[ve - ll] & 0xC0) == 0x80; ll++)
        ;
    a0 = check_view_src(sv, vs);
    a1 = check_view_src(sv, vs + l0);
    b0 = check_view_src(sv, ve - ll);
    b1 = check_view_src(sv, ve);
    if (vs + l0 == ve) {                 /* one code point */
        unsigned need = want ? want[0] : 1, any = 0;
        for (size_t q = a0; q < a1; q += utf8_len(o->text[q])) {
            if (dropped(s, &v, q, sv->alt) || o->run[q] < need)
                continue;
            any = 1;
            if (confirm(s, t, q, q + l0, sv->merge, sv->alt, 0))
                return 1;
        }
        if (any || group_reps(s, a0, a1, sv->alt) < need)
            return 0;
        while (b1 > a0 + l0 && dropped(s, &v, b1 - 1, sv->alt))
            b1--;
        return confirm(s, t, a0, b1, sv->merge, sv->alt, 0);
    }
    /* the middle groups, whole */
    for (p = vs + l0, i = 1; p < ve - ll; i++) {
        size_t n = utf8_len(sv->text[p]);
        if (want && group_reps(s, check_view_src(sv, p),
                check_view_src(sv, p + n), sv->alt) < want[i])
            return 0;
        p += n;
    }
    /* the first group's shortest tail */
    {
        unsigned need = want ? want[0] : 1, sum = 0;
        ns = a1;
        while (ns > a0 && sum < need) {
            do
                ns--;
            while (ns > a0 && (o->text[ns] & 0xC0) == 0x80);
            if (!dropped(s, &v, ns, sv->alt))
                sum += o->run[ns];
        }
        if (sum < need)
            return 0;
    }
    /* the last group's shortest head */
    {
        unsigned need = want ? want[i] : 1, sum = 0;
        ne = b0;
        while (ne < b1 && sum < need) {
            if (!dropped(s, &v, ne, sv->alt))
                sum += o->run[ne];
            ne += utf8_len(o->text[ne]);
        }
        if (sum < need)
            return 0;
    }
    return confirm(s, t, ns, ne, sv->merge, sv->alt, 0);
}

static int on_literal(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    policy_scratch *s = ctx;
    const cterm *t = &s->grp->terms[id];
    const unsigned char *text = s->curv ? s->curv->text : s->cur->text;
    size_t ne = (size_t)to + s->scan_off, ns = ne - t->len;
    (void)from;
    (void)flags;

    /* a hit must start on a code point boundary of the stream */
    if ((text[ns] & 0xC0) == 0x80)
        return 0;
    if (s->curv != NULL)
        return view_hit(s, t, ns, ne);
    return confirm(s, t, ns, ne, 0, 0, 1);
}

/* ---- regex rules ------------------------------------------------------ */

/*
 * Run rule r over subject[0..n). `map` (may be NULL) maps subject bytes to
 * original offsets. Returns 0, SLUICE_ENOMEM or SLUICE_ELIMIT.
 */
/* First index of stream o whose source starts at or after `from`. */
static size_t stream_index(const norm_out *o, size_t from)
{
    size_t lo = 0, hi = o->len;
    if (from == 0)
        return 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->src[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sessions: list a regex match (valid or not) for the resume points. */
static int push_rxm(policy_scratch *s, uint32_t rule, size_t start,
    size_t end)
{
    if (s->nrxm == s->caprxm) {
        size_t n = s->caprxm ? s->caprxm * 2 : 16;
        struct rx_match *m = realloc(s->rxm, n * sizeof *m);
        if (m == NULL)
            return -1;
        s->rxm = m;
        s->caprxm = n;
    }
    s->rxm[s->nrxm].rule = rule;
    s->rxm[s->nrxm].start = start;
    s->rxm[s->nrxm++].end = end;
    return 0;
}

static int run_regex(policy_scratch *s, uint32_t ri, const crule *r,
    const char *subject, size_t n, const norm_out *map)
{
    /* matches before s->from are not wanted (a session has committed
       them); the bytes before it still serve as look-behind context */
    size_t from = s->rx_min_on && s->rx_min[ri] > s->from ? s->rx_min[ri] :
        s->from;
    PCRE2_SIZE off = map ? stream_index(map, from) : from;
    int limited = 0;
    uint32_t opts = PCRE2_NO_UTF_CHECK |
        (s->streaming ? PCRE2_PARTIAL_HARD : 0u);
    while (off <= n) {
        int rc = pcre2_match(r->re, (PCRE2_SPTR)subject, n, off, opts,
            s->md, s->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc == PCRE2_ERROR_PARTIAL) {
            /* could still become a match with more text: hold it */
            size_t ps = pcre2_get_ovector_pointer(s->md)[0];
            size_t os = map ? (ps < n ? map->src[ps] : s->text_len) : ps;
            if (os < s->pending_from)
                s->pending_from = os;
            break;
        }
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT) {
            limited = 1;
            break;
        }
        if (rc < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) {   /* empty match: step one code point */
            off = me + (me < n ? utf8_len((unsigned char)subject[me]) : 1);
            continue;
        }
        size_t os = map ? map->src[ms] : ms;
        size_t oe = map ? map->src_end[me - 1] : me;
        int ok = r->validate == NULL || r->validate(subject + ms, me - ms);
        if (s->rx_min_on && push_rxm(s, ri, os, oe) != 0)
            return SLUICE_ENOMEM;
        if (ok && push_cand(s, os, oe, ri, 0, 0, 0, -1) != 0)
            return SLUICE_ENOMEM;
        off = me;
    }
    return limited ? SLUICE_ELIMIT : 0;
}

/* PCRE2 needs valid UTF-8: invalid bytes become 0x1A, offsets unchanged. */
static const char *sanitize(policy_scratch *s, const char *text, size_t len,
    size_t invalid)
{
    if (invalid == 0)
        return text;
    if (s->sanitized_cap < len + 1) {
        char *p = realloc(s->sanitized, len + 1);
        if (p == NULL)
            return NULL;
        s->sanitized = p;
        s->sanitized_cap = len + 1;
    }
    const unsigned char *t = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = t[i];
        size_t n = 0;
        if (c < 0x80)
            n = 1;
        else if (c >= 0xC2 && c <= 0xDF)
            n = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 4;
        int ok = n > 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++)
            ok = (t[i + k] & 0xC0) == 0x80;
        if (ok && n == 3) {
            if ((c == 0xE0 && t[i + 1] < 0xA0) || (c == 0xED && t[i + 1] > 0x9F))
                ok = 0;
        }
        if (ok && n == 4) {
            if ((c == 0xF0 && t[i + 1] < 0x90) || (c == 0xF4 && t[i + 1] > 0x8F))
                ok = 0;
        }
        if (!ok) {
            s->sanitized[i++] = 0x1A;
            continue;
        }
        memcpy(s->sanitized + i, t + i, n);
        i += n;
    }
    s->sanitized[len] = '\0';
    return s->sanitized;
}

static int on_prefilter(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    ((policy_scratch *)ctx)->rx_hit[id] = 1;
    return 0;
}

static int on_gate(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    ((policy_scratch *)ctx)->rx_gate[id] = 1;
    return 0;
}

/* A run-gated rule whose class has a run at least the shortest gate's:
   is there one as long as its own gate? */
static int run_long_enough(const sluice_policy *p, int which, const crule *r,
    const char *subject, size_t n)
{
    unsigned want[RX_RUN_CLASSES] = { 0 };
    if (r->run_gate == p->run_min[which][r->run_class])
        return 1;
    want[r->run_class] = r->run_gate;
    return runscan_find((const unsigned char *)subject, n, want) != 0;
}

/*
 * Mark the rules whose prefilter fires on subject (whole-text checks):
 * the shared prefilter, then, for each gated rule one of whose literal
 * factors or whose run of digits occurs, its own.
 */
static int prefilter(const sluice_policy *p, policy_scratch *s, int which,
    const char *subject, size_t n)
{
    hs_error_t he = HS_SUCCESS;
    unsigned runs = 0;
    if (s->streaming)
        return 0;
    if (p->rx_db[which] != NULL)
        he = hs_scan(p->rx_db[which], subject, (unsigned)n, 0, s->hs,
            on_prefilter, s);
    for (int k = 0; k < RX_RUN_CLASSES; k++)
        runs |= p->run_min[which][k] != 0 ? 1u << k : 0u;
    if (he != HS_SUCCESS || (p->gate_db[which] == NULL && runs == 0))
        return he == HS_SUCCESS ? 0 : SLUICE_EINTERNAL;
    memset(s->rx_gate, 0, p->nrules);
    if (p->gate_db[which] != NULL)
        he = hs_scan(p->gate_db[which], subject, (unsigned)n, 0, s->hs,
            on_gate, s);
    /* most outputs hold no run as long as the shortest gate of either
       class; the others are asked again for each longer one */
    if (runs != 0)
        runs = runscan_find((const unsigned char *)subject, n,
            p->run_min[which]);
    for (size_t i = 0; he == HS_SUCCESS && i < p->nrules; i++) {
        const crule *r = &p->rules[i];
        if (!s->rx_gate[i] && !(r->run_gate != 0 &&
                (runs >> r->run_class & 1) &&
                (r->src->on == PSRC_ON_ORIGINAL) == (which == 0) &&
                run_long_enough(p, which, r, subject, n)))
            continue;
        if (r->pf_db == NULL)
            s->rx_hit[i] = 1;
        else
            he = hs_scan(r->pf_db, subject, (unsigned)n, 0, s->hs,
                on_prefilter, s);
    }
    return he == HS_SUCCESS ? 0 : SLUICE_EINTERNAL;
}

static int run_regexes(sluice_policy *p, policy_scratch *s, const char *text,
    size_t len, size_t invalid)
{
    int rc = 0, limited = 0;
    const char *clean = NULL;
    memset(s->rx_hit, 0, p->nrules);
    if (p->has_regex_orig) {
        if ((clean = sanitize(s, text, len, invalid)) == NULL)
            return SLUICE_ENOMEM;
        if ((rc = prefilter(p, s, 0, clean, len)) != 0)
            return rc;
    }
    if (p->has_regex_norm) {
        norm_out_reset(&s->regex_norm);
        if (norm_text(p->nt, p->regex_flags, text, len, &s->regex_norm) != 0)
            return SLUICE_ENOMEM;
        if ((rc = prefilter(p, s, 1, (const char *)s->regex_norm.text,
                 s->regex_norm.len)) != 0)
            return rc;
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const crule *r = &p->rules[i];
        if (r->re == NULL)
            continue;
        if (r->prefiltered && !s->streaming && !s->rx_hit[i])
            continue;   /* the prefilter proves it cannot match */
        if (r->src->on == PSRC_ON_ORIGINAL)
            rc = run_regex(s, (uint32_t)i, r, clean, len, NULL);
        else
            rc = run_regex(s, (uint32_t)i, r,
                (const char *)s->regex_norm.text, s->regex_norm.len,
                &s->regex_norm);
        if (rc == SLUICE_ELIMIT)
            limited = 1;
        else if (rc != 0)
            return rc;
    }
    return limited ? SLUICE_ELIMIT : 0;
}

/* ---- co-occurrence ---------------------------------------------------- */

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    if (x->rule != y->rule)
        return x->rule < y->rule ? -1 : 1;
    /* the lowest term index names a span two terms of a rule both cover:
       the same in any chunking */
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->slot < y->slot ? -1 : (x->slot > y->slot);
}

const char *check_cand_term(const sluice_policy *p, const cand *c)
{
    if (c->group < 0 || c->rule == RULE_ALLOW)
        return NULL;
    const psrc_rule *r = p->rules[c->rule].src;
    return c->slot < r->nterms ? r->terms[c->slot].text : NULL;
}

/*
 * Sort candidates as cmp_cand does. They arrive nearly in order (the
 * automaton reports by end, and spans of one text seldom overlap much),
 * so an insertion sort with the order inline does it in about one pass;
 * past a budget of moves (many overlapping hits, or an adversary's text)
 * it hands the rest to qsort, so no input costs more than n log n by
 * much. Both sorts are stable.
 */
static void sort_cands(cand *c, size_t n)
{
    size_t budget = 8 * n + 64;
    for (size_t i = 1; i < n; i++) {
        if (cmp_cand(&c[i], &c[i - 1]) >= 0)
            continue;
        cand t = c[i];
        size_t j = i;
        do {
            c[j] = c[j - 1];
            j--;
        } while (j > 0 && cmp_cand(&t, &c[j - 1]) < 0 && --budget > 0);
        c[j] = t;
        if (budget == 0) {
            qsort(c, n, sizeof *c, cmp_cand);
            return;
        }
    }
}

static int cmp_cand_stream(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->rule != y->rule)
        return x->rule < y->rule ? -1 : 1;
    if (x->nstart != y->nstart)
        return x->nstart < y->nstart ? -1 : 1;
    return x->nend < y->nend ? -1 : (x->nend > y->nend);
}

/* Code points in stream bytes [a, b), giving up once past `limit`. */
static size_t cp_dist(const norm_out *o, size_t a, size_t b, size_t limit)
{
    size_t n = 0;
    for (size_t q = a; q < b && n <= limit; q++)
        n += (o->text[q] & 0xC0) != 0x80;
    return n;
}

/*
 * Co-occurrence candidates sit at the end of the array (moved there by the
 * caller, sorted by rule then position). Each window holding every slot of
 * its rule within `within` code points keeps one candidate per slot; the
 * rest are dropped.
 */
static void resolve_all(sluice_policy *p, policy_scratch *s, size_t from)
{
    cand *c = s->cands;
    size_t n = s->ncands, i = from;
    while (i < n) {
        size_t j = i;
        while (j < n && c[j].rule == c[i].rule)
            j++;
        const crule *r = &p->rules[c[i].rule];
        const norm_out *o = &s->norm[c[i].group];
        size_t within = (size_t)r->src->within;
        uint64_t need = r->nslots >= 64 ? ~0ull : ((1ull << r->nslots) - 1);
        for (size_t a = i; a < j; a++) {
            uint64_t seen = 0;
            size_t pick[64];
            for (size_t b = a; b < j; b++) {
                if (c[b].nend - c[a].nstart > within * 4 + 4 ||
                    cp_dist(o, c[a].nstart, c[b].nend, within) > within)
                    break;
                if (c[b].slot < 64 && !((seen >> c[b].slot) & 1u)) {
                    seen |= 1ull << c[b].slot;
                    pick[c[b].slot] = b;
                }
                if ((seen & need) == need)
                    break;
            }
            if ((seen & need) == need)
                for (uint32_t k = 0; k < r->nslots && k < 64; k++)
                    c[pick[k]].keep = 1;
        }
        /* streaming: an occurrence near the end may yet complete a window */
        for (size_t a = i; s->streaming && a < j; a++)
            if (!c[a].keep && c[a].start < s->pending_from &&
                cp_dist(o, c[a].nstart, o->len, within) <= within)
                s->pending_from = c[a].start;
        i = j;
    }
    size_t w = from;
    for (size_t k = from; k < n; k++)
        if (c[k].keep)
            c[w++] = c[k];
    s->ncands = w;
}

/* ---- decision ------------------------------------------------------------ */

/* Offset of the first CJK ideograph in text, or SIZE_MAX. */
size_t check_first_cjk(const char *text, size_t len)
{
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0; i + 2 < len; i++) {
        /* English: eight ASCII bytes at a time, three left for a match */
        i = utf8_skip_ascii(t, i, len - 3);
        if (t[i] >= 0xE3 && t[i] <= 0xE9 && (t[i + 1] & 0xC0) == 0x80) {
            uint32_t cp = ((uint32_t)(t[i] & 0x0F) << 12) |
                ((uint32_t)(t[i + 1] & 0x3F) << 6) | (t[i + 2] & 0x3F);
            if (cp >= 0x3400 && cp <= 0x9FFF)
                return i;
        }
    }
    return SIZE_MAX;
}

void check_fill_rules(const sluice_policy *p, const uint8_t *fired,
    sluice_verdict *v)
{
    size_t nc = 0;
    v->nrules = 0;
    for (size_t i = 0; i < p->nrules; i++) {
        if (!fired[i])
            continue;
        v->rules[v->nrules++] = p->rules[i].id;
        const char *cat = p->rules[i].category;
        int dup = cat == NULL;
        for (size_t k = 0; k < nc && !dup; k++)
            dup = strcmp(v->cats[k], cat) == 0;
        if (!dup)
            v->cats[nc++] = cat;
    }
    v->ncats = nc;
}

/*
 * Language of a mask or refusal that ends at `end`: the policy's, or with
 * `language: auto` Chinese if an ideograph occurs before `end`. Judging
 * only the text up to the span keeps streamed and whole-text output equal.
 */
int check_lang_zh(const sluice_policy *p, size_t first_cjk, size_t end)
{
    const char *l = p->src->language;
    if (strcmp(l, "zh") == 0)
        return 1;
    if (strcmp(l, "en") == 0)
        return 0;
    return first_cjk < end;
}

const char *check_refusal(const sluice_policy *p, const void *spans,
    size_t n, check_span_fn at, size_t len, size_t first_cjk)
{
    size_t end = len;
    for (size_t i = 0; i < n; i++) {
        size_t s, e;
        uint32_t r;
        at(spans, i, &s, &e, &r);
        if (p->rules[r].action == SLUICE_BLOCK) {
            end = e;
            break;
        }
    }
    return check_lang_zh(p, first_cjk, end) ? p->src->refusal_zh :
        p->src->refusal_en;
}

char *check_redact(const sluice_policy *p, const void *spans, size_t n,
    check_span_fn at, const char *text, size_t len, size_t fcjk,
    size_t *outlen)
{
    size_t cap = len + 1, used = 0, pos = 0;
    /* room for every mask up front: one allocation, no growth */
    for (size_t i = 0; i < n; i++) {
        size_t a, b;
        uint32_t ri;
        at(spans, i, &a, &b, &ri);
        if (p->rules[ri].action != SLUICE_REDACT)
            continue;
        if (cap > SIZE_MAX - p->rules[ri].mask_max)
            return NULL;
        cap += p->rules[ri].mask_max;
    }
    char *o = malloc(cap);
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t a, b, ka, kb;
        uint32_t ri, kr;
        at(spans, i, &a, &b, &ri);
        const crule *r = &p->rules[ri];
        if (r->action != SLUICE_REDACT)
            continue;
        if (b <= pos)
            continue;
        if (a < pos)
            a = pos;
        /* extend over overlapping redactions */
        for (size_t k = i + 1; k < n; k++) {
            at(spans, k, &ka, &kb, &kr);
            if (ka >= b)
                break;
            if (p->rules[kr].action == SLUICE_REDACT && kb > b)
                b = kb;
        }
        const char *m = check_lang_zh(p, fcjk, b) ? r->mask_zh : r->mask_en;
        size_t ml = strlen(m), need = used + (a - pos) + ml + (len - b) + 1;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *q = realloc(o, cap);
            if (q == NULL) {
                free(o);
                return NULL;
            }
            o = q;
        }
        memcpy(o + used, text + pos, a - pos);
        used += a - pos;
        memcpy(o + used, m, ml);
        used += ml;
        pos = b;
    }
    memcpy(o + used, text + pos, len - pos);
    used += len - pos;
    o[used] = '\0';
    *outlen = used;
    return o;
}

static void cand_at(const void *spans, size_t i, size_t *start, size_t *end,
    uint32_t *rule)
{
    const cand *c = (const cand *)spans + i;
    *start = c->start;
    *end = c->end;
    *rule = c->rule;
}

/* Drop candidates fully inside an allow span; allow candidates go too. */
static void apply_allow(policy_scratch *s)
{
    cand *c = s->cands;
    size_t n = s->ncands, w = 0;
    int any = 0;
    for (size_t i = 0; i < n && !any; i++)
        any = c[i].rule == RULE_ALLOW;
    if (!any)
        return;
    for (size_t i = 0; i < n; i++) {
        if (c[i].rule == RULE_ALLOW)
            continue;
        int covered = 0;
        /* sorted by start: allow spans that could contain c[i] start at or
           before it */
        for (size_t k = 0; k < n && c[k].start <= c[i].start && !covered; k++)
            covered = c[k].rule == RULE_ALLOW && c[k].end >= c[i].end;
        if (!covered)
            c[w++] = c[i];
    }
    s->ncands = w;
}

static int decide(sluice_policy *p, policy_scratch *s, const char *text,
    size_t len, size_t max_spans, sluice_verdict *v)
{
    cand *c = s->cands;
    size_t n = s->ncands;
    int action = SLUICE_ALLOW;

    memset(s->fired, 0, s->nfired);
    /* dedupe identical (start, end, rule): candidates are sorted */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && c[w - 1].start == c[i].start &&
            c[w - 1].end == c[i].end && c[w - 1].rule == c[i].rule)
            continue;
        c[w++] = c[i];
    }
    n = s->ncands = w;
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        const crule *r = &p->rules[c[i].rule];
        if (!s->fired[c[i].rule]) {
            s->fired[c[i].rule] = 1;
            nr++;
        }
        if (r->action > action)
            action = r->action;
    }
    v->action = (sluice_action)action;
    v->nspans = n < max_spans ? n : max_spans;
    v->truncated = n > max_spans;
    /* the output: the text itself, the refusal, or (redact) made below */
    size_t fcjk = action >= SLUICE_REDACT ? check_first_cjk(text, len) :
        SIZE_MAX;
    const char *out = text;
    size_t out_len = len;
    if (action == SLUICE_BLOCK) {
        out = check_refusal(p, c, n, cand_at, len, fcjk);
        out_len = strlen(out);
    } else if (action == SLUICE_REDACT) {
        out = NULL;
    }
    if (verdict_lists(v, nr, v->nspans, out, out_len) != 0)
        return SLUICE_ENOMEM;
    check_fill_rules(p, s->fired, v);
    for (size_t i = 0; i < v->nspans; i++) {
        v->spans[i].start = c[i].start;
        v->spans[i].end = c[i].end;
        v->spans[i].rule = p->rules[c[i].rule].id;
        v->spans[i].action = (sluice_action)p->rules[c[i].rule].action;
        v->spans[i].term = check_cand_term(p, &c[i]);
    }
    if (action == SLUICE_REDACT)
        v->output = check_redact(p, c, n, cand_at, text, len, fcjk,
            &v->output_len);
    return v->output != NULL ? 0 : SLUICE_ENOMEM;
}

/* Both matchers of the group over text[s->scan_off, len): Hyperscan's
   hits first, then the anchor matcher's (each in its own order). */
static int scan_text(policy_scratch *s, const unsigned char *text,
    size_t len)
{
    hs_error_t he = policy_scan_terms(s->grp->db, s->grp->anc, s->hs,
        (const char *)text + s->scan_off, len - s->scan_off, on_literal, s);
    if (s->oom)
        return SLUICE_ENOMEM;
    if (he != HS_SUCCESS && he != HS_SCAN_TERMINATED)
        return SLUICE_EINTERNAL;
    return 0;
}

/*
 * Scan group gi's stream (s->cur, from stream byte s->scan_off): as it
 * is, or through its views: with NORM_REPEAT the merged runs, and for a
 * leet stream that skips noise and holds leet symbols, the alternate
 * reading too (its hits all cover a symbol; those covering none are the
 * same in both readings, and decide() keeps one of each).
 */
static int scan_group(policy_scratch *s, size_t gi)
{
    const mgroup *g = s->grp;
    const norm_out *o = s->cur;
    sview *v0 = &s->view[gi][0], *v1 = &s->view[gi][1];
    int leet = (g->flags & NORM_LEET) && (g->flags & NORM_SKIP_NOISE);
    int rc;
    size_t off = s->scan_off;
    v0->active = v1->active = 0;
    s->curv = NULL;
    if (!(g->flags & NORM_REPEAT) && !leet)
        return scan_text(s, o->text, o->len);
    v0->merge = (g->flags & NORM_REPEAT) != 0;
    v0->alt = 0;
    s->nsyms = 0;
    if (leet && (rc = collect_syms(s, o, s->gstart[gi])) != 0)
        return rc;
    if (!v0->merge && s->nsyms == 0)
        return scan_text(s, o->text, o->len);
    if ((rc = view_build(s, o, v0)) != 0)
        return rc;
    if (v0->merge) {
        s->curv = v0;
        s->scan_off = view_of_src(v0, off);
    } else {
        v0->active = 0;              /* the stream itself */
    }
    rc = scan_text(s, s->curv ? v0->text : o->text,
        s->curv ? v0->len : o->len);
    if (rc != 0 || s->nsyms == 0)
        goto out;
    v1->merge = v0->merge;
    v1->alt = 1;
    if ((rc = view_build(s, o, v1)) != 0)
        goto out;
    /* only around the symbols left out: a hit of this reading that
       covers none is a hit of the other one too */
    s->curv = v1;
    {
        size_t from = view_of_src(v1, off), ml = g->maxlen, k = 0;
        while (rc == 0 && k < v1->ndrop) {
            size_t a = v1->drop[k] > ml ? v1->drop[k] - ml : 0, b;
            while (k < v1->ndrop && v1->drop[k] <= a + 2 * ml)
                k++;
            b = v1->drop[k - 1] + ml < v1->len ? v1->drop[k - 1] + ml :
                v1->len;
            if (a < from)
                a = from;
            if (b <= a)
                continue;
            s->scan_off = a;
            rc = scan_text(s, v1->text, b);
        }
    }
out:
    s->curv = NULL;
    s->scan_off = off;
    return rc;
}

static int match_all(sluice_policy *p, policy_scratch *s, const char *text,
    size_t len, size_t *invalid)
{
    *invalid = 0;
    int have_invalid = 0, normalized = 0;
    for (size_t i = 0; i < p->ngroups; i++) {
        const mgroup *g = &p->groups[i];
        if (g->nterms == 0)
            continue;
        norm_out *o = &s->norm[i];
        norm_out_reset(o);
        /* A session only needs this group's stream from a little before
           `from` (word-break window, gap and run context); co-occurrence
           groups need their whole window. */
        size_t start = 0;
        if (s->from > STREAM_GROUP_CONTEXT && !g->has_all) {
            start = s->from - STREAM_GROUP_CONTEXT;
            while (start > 0 && ((unsigned char)text[start] & 0xC0) == 0x80)
                start--;
        }
        normalized = 1;
        s->win_of = NULL;
        s->wcur.valid = 0;
        s->gstart[i] = start;
        /* the text alone; metadata only around hits (view_at), except
           where views need it all (runs, leet symbols) */
        if (g->flags & NORM_LEET) {
            norm_state st;
            norm_state_init(&st, g->flags, start);
            o->lazy = 0;
            if (norm_feed(p->nt, &st, text + start, len - start, 1, o) != 0)
                return SLUICE_ENOMEM;
        } else if (norm_text_lazy(p->nt, g->flags, text + start,
                       len - start, start, o) != 0) {
            return SLUICE_ENOMEM;
        }
        /* only a stream of the whole text can vouch for its UTF-8 */
        if (start == 0 && !have_invalid) {
            *invalid = o->invalid;
            have_invalid = 1;
        }
        s->grp = g;
        s->cur = o;
        /* co-occurrence needs the terms before `from` too */
        s->scan_off = 0;
        if (!g->has_all && s->from > 0) {
            if (!o->lazy) {
                s->scan_off = stream_index(o, s->from);
            } else if (norm_lazy_find(p->nt, g->flags, text + start,
                           len - start, o, s->from, &s->win, &s->win_base,
                           &s->scan_off) != 0) {
                return SLUICE_ENOMEM;
            } else {
                s->wcur.valid = 0;
                s->win_of = o;   /* the window holds the scan's start */
            }
        }
        int rc = scan_group(s, i);
        if (rc != 0)
            return rc;
    }
    if (!have_invalid && normalized) {
        *invalid = 1;   /* unknown: regexes then read a sanitized copy */
    } else if (!have_invalid) {
        /* no term stream counted them (a policy of regex rules only) */
        *invalid = utf8_count_ill((const unsigned char *)text, len);
    }
    return 0;
}

int check_window(sluice_policy *p, policy_scratch *s, const char *text,
    size_t len, int streaming, size_t from, size_t *invalid)
{
    int rc;

    s->from = from;
    s->nrxm = 0;
    s->ncands = 0;
    s->oom = 0;
    s->pol = p;
    s->text = text;
    s->text_len = len;
    s->streaming = streaming;
    s->pending_from = len;
    s->limited = 0;
    if ((rc = match_all(p, s, text, len, invalid)) != 0) {
        s->rx_min_on = 0;
        return rc;
    }
    rc = run_regexes(p, s, text, len, *invalid);
    s->rx_min_on = 0;
    if (rc == SLUICE_ELIMIT)
        s->limited = 1;
    else if (rc != 0)
        return rc;

    /* co-occurrence candidates to the end, resolved into windows */
    size_t w = 0, n = s->ncands;
    for (size_t i = 0; i < n; i++) {
        int is_all = s->cands[i].rule != RULE_ALLOW &&
            p->rules[s->cands[i].rule].src->kind == PSRC_ALL;
        if (!is_all) {
            cand t = s->cands[w];
            s->cands[w++] = s->cands[i];
            s->cands[i] = t;
        }
    }
    if (w < n) {
        qsort(s->cands + w, n - w, sizeof *s->cands, cmp_cand_stream);
        resolve_all(p, s, w);
    }
    if (s->ncands > 1)
        sort_cands(s->cands, s->ncands);
    apply_allow(s);
    /* one candidate per (start, end, rule): two readings of a stream (or
       two terms of a rule) may find the same span, and a session commits
       every candidate it is given */
    size_t k = 0;
    for (size_t i = 0; i < s->ncands; i++) {
        if (k > 0 && s->cands[k - 1].start == s->cands[i].start &&
            s->cands[k - 1].end == s->cands[i].end &&
            s->cands[k - 1].rule == s->cands[i].rule)
            continue;
        s->cands[k++] = s->cands[i];
    }
    s->ncands = k;
    return 0;
}

int check_run(sluice_policy *p, policy_scratch *s, const char *text,
    size_t len, size_t max_spans, sluice_verdict **out)
{
    size_t invalid = 0;
    int rc, limited;

    *out = NULL;
    if ((rc = check_window(p, s, text, len, 0, 0, &invalid)) != 0)
        return rc;
    limited = s->limited;

    sluice_verdict *v = calloc(1, sizeof *v);
    if (v == NULL)
        return SLUICE_ENOMEM;
    v->policy = sluice_policy_ref(p);
    v->invalid = invalid;
    rc = decide(p, s, text, len, max_spans ? max_spans : 10000, v);
    if (rc != 0) {
        sluice_verdict_free(v);
        return rc;
    }
    /* A regex gave up: fail closed, the text was not fully checked. */
    if (limited && (rc = verdict_force_block(v, "regex_limit", text, len))
        != 0) {
        sluice_verdict_free(v);
        return rc;
    }
    *out = v;
    return 0;
}
