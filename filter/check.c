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
 * Gap rule (NORM_SKIP_NOISE): a match may span skipped noise only if each
 * gap is at most max_gap code points, holds no line break or CJK/full-width
 * punctuation, and, when it holds whitespace, has a one-character "word"
 * on at least one side (letter spacing like "f u c k", not "pen is"). The
 * term's own spaces (multi-word terms) are always allowed.
 */
#include <stdlib.h>
#include <string.h>

#include "filter/check.h"
#include "filter/verdict.h"

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
        if (p->rx_db[i] != NULL &&
            hs_alloc_scratch(p->rx_db[i], &s->hs) != HS_SUCCESS)
            goto fail;
    s->rx_hit = calloc(p->nrules ? p->nrules : 1, 1);
    if (s->rx_hit == NULL)
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
    free(s->sanitized);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    wordbreak_free(&s->wb);
    free(s->cands);
    free(s->fired);
    free(s->rx_hit);
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
 * Windows are as small as the hit needs while hits are rare (most checks
 * build one window, or none; anything more measured slower on Chinese
 * text with 10k terms). After DENSE_WINDOWS in one stream, the next window
 * runs to the end of the text and starts a longest term before the hit
 * (hits come in order of their ends; a later one may start that much
 * earlier), so that a text dense with hits (every word a term) is
 * normalized in full about once more, not once per hit.
 */
#define DENSE_WINDOWS 8

static int window_dense(policy_scratch *s)
{
    return s->nwin++ >= DENSE_WINDOWS;
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

/* Entries [ns, ne] of the current stream (ne only if < len). */
static int view_at(policy_scratch *s, size_t ns, size_t ne, nview *v)
{
    const norm_out *o = s->cur, *w = o;
    size_t base = 0;
    if (o->lazy) {
        size_t last = ne < o->len ? ne : ne - 1;
        if (s->win_of != o || ns < s->win_base ||
            last >= s->win_base + s->win.len) {
            int dense = window_dense(s);
            size_t ml = s->grp->maxlen;
            size_t first = dense && ns > ml ? ns - ml : dense ? 0 : ns;
            s->win_of = NULL;
            size_t st = s->gstart[s->grp - s->pol->groups];
            if (norm_window(s->pol->nt, s->grp->flags, s->text + st,
                    s->text_len - st, o, first, last, dense ? SIZE_MAX : 0,
                    &s->win, &s->win_base) != 0)
                return SLUICE_ENOMEM;
            s->win_of = o;
        }
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
    if (s->win_of != o || q < s->win_base || q >= s->win_base + s->win.len) {
        size_t st = s->gstart[g];
        s->win_of = NULL;
        if (norm_window(s->pol->nt, s->pol->groups[g].flags, s->text + st,
                s->text_len - st, o, q, q, 0, &s->win, &s->win_base) != 0)
            return SLUICE_ENOMEM;
        s->win_of = o;
    }
    *src = s->win.src[q - s->win_base];
    return 0;
}

/* Does the noise inside [ns, ne) of the stream allow this match? */
static int gaps_ok(const policy_scratch *s, const nview *o, const cterm *t,
    size_t ns, size_t ne)
{
    int max_gap = s->pol->src->max_gap;
    size_t prev = ns;
    uint32_t i = 0;
    ns -= o->base;
    ne -= o->base;
    prev = ns;
    for (size_t q = ns; q < ne; q += utf8_len(o->text[q]), i++) {
        uint8_t g = o->gap[q];
        unsigned cnt = g & NORM_GAP_COUNT;
        if (q == ns || cnt == 0) {
            prev = q;
            continue;
        }
        if (i < 64 && (t->native_gaps >> i) & 1u) {
            prev = q;
            continue;
        }
        if ((int)cnt > max_gap || (g & NORM_GAP_BREAK))
            return 0;
        if (g & NORM_GAP_SPACE) {
            int left = (o->gap[prev] & (NORM_GAP_COUNT | NORM_GAP_START)) != 0;
            size_t nx = q + utf8_len(o->text[q]);
            int right = nx + o->base >= o->len ||
                (o->gap[nx] & NORM_GAP_COUNT) != 0;
            if (!left && !right)
                return 0;
        }
        prev = q;
    }
    return 1;
}

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

static int on_literal(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    policy_scratch *s = ctx;
    const mgroup *g = s->grp;
    const cterm *t = &g->terms[id];
    const norm_out *o = s->cur;
    size_t ne = (size_t)to + s->scan_off, ns = ne - t->len;
    (void)from;
    (void)flags;

    /* a hit must start on a code point boundary of the stream */
    if ((o->text[ns] & 0xC0) == 0x80)
        return 0;
    nview v;
    if (view_at(s, ns, ne, &v) != 0) {
        s->oom = 1;
        return 1;
    }
    if ((g->flags & NORM_SKIP_NOISE) && t->ncp > 1 &&
        !gaps_ok(s, &v, t, ns, ne))
        return 0;
    if (t->runs != UINT32_MAX && !runs_ok(s, &v, t, ns, ne))
        return 0;
    size_t os = v.src[ns - v.base], oe = v.src_end[ne - 1 - v.base];

    /* streaming: a hit at the end of the window may still grow (repeats,
       the gap rule's look-ahead): decide it when more text is in. Noise
       after it settles both (a gap ends a run, and is what the look-ahead
       looks for). */
    if (s->streaming && ne == o->len && !(o->tail_gap & NORM_GAP_COUNT)) {
        if (os < s->pending_from)
            s->pending_from = os;
        return 0;
    }
    for (uint32_t r = t->first_ref; r != UINT32_MAX; r = g->refs[r].next) {
        const term_ref *ref = &g->refs[r];
        if (ref->rule != RULE_ALLOW) {
            const crule *cr = &s->pol->rules[ref->rule];
            if (s->streaming && cr->src->boundary == PSRC_BOUNDARY_WORD &&
                !wordbreak_decidable(s->text, s->text_len, oe)) {
                if (os < s->pending_from)
                    s->pending_from = os;
                continue;
            }
            if (cr->src->boundary == PSRC_BOUNDARY_WORD &&
                (!wordbreak_is_boundary(&s->wb, s->text, s->text_len, os) ||
                 !wordbreak_is_boundary(&s->wb, s->text, s->text_len, oe)))
                continue;
            if (cr->validate != NULL && !cr->validate(s->text + os, oe - os))
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

static int run_regex(policy_scratch *s, uint32_t ri, const crule *r,
    const char *subject, size_t n, const norm_out *map)
{
    /* matches before s->from are not wanted (a session has committed
       them); the bytes before it still serve as look-behind context */
    PCRE2_SIZE off = map ? stream_index(map, s->from) : s->from;
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

/* Mark the rules whose prefilter fires on subject (whole-text checks). */
static int prefilter(const sluice_policy *p, policy_scratch *s, int which,
    const char *subject, size_t n)
{
    if (p->rx_db[which] == NULL || s->streaming)
        return 0;
    hs_error_t he = hs_scan(p->rx_db[which], subject, (unsigned)n, 0, s->hs,
        on_prefilter, s);
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
        if (t[i] >= 0xE3 && t[i] <= 0xE9 && (t[i + 1] & 0xC0) == 0x80) {
            uint32_t cp = ((uint32_t)(t[i] & 0x0F) << 12) |
                ((uint32_t)(t[i + 1] & 0x3F) << 6) | (t[i + 2] & 0x3F);
            if (cp >= 0x3400 && cp <= 0x9FFF)
                return i;
        }
    }
    return SIZE_MAX;
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

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL)
        return NULL;
    if (n > 0)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Input with each (merged) redact span replaced by its rule's mask. */
static char *redact(const sluice_policy *p, const cand *c, size_t n,
    const char *text, size_t len, size_t fcjk, size_t *outlen)
{
    size_t cap = len + 1, used = 0, pos = 0;
    char *o = malloc(cap);
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const crule *r = &p->rules[c[i].rule];
        if (r->action != SLUICE_REDACT)
            continue;
        size_t a = c[i].start, b = c[i].end;
        if (b <= pos)
            continue;
        if (a < pos)
            a = pos;
        /* extend over overlapping redactions */
        for (size_t k = i + 1; k < n && c[k].start < b; k++)
            if (p->rules[c[k].rule].action == SLUICE_REDACT && c[k].end > b)
                b = c[k].end;
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
    size_t nr = 0, nc = 0;
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
    v->rules = calloc(nr ? nr : 1, sizeof *v->rules);
    v->cats = calloc(nr ? nr : 1, sizeof *v->cats);
    v->nspans = n < max_spans ? n : max_spans;
    v->truncated = n > max_spans;
    v->spans = calloc(v->nspans ? v->nspans : 1, sizeof *v->spans);
    if (v->rules == NULL || v->cats == NULL || v->spans == NULL)
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < p->nrules; i++) {
        if (!s->fired[i])
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
    for (size_t i = 0; i < v->nspans; i++) {
        v->spans[i].start = c[i].start;
        v->spans[i].end = c[i].end;
        v->spans[i].rule = p->rules[c[i].rule].id;
        v->spans[i].action = (sluice_action)p->rules[c[i].rule].action;
        v->spans[i].term = check_cand_term(p, &c[i]);
    }
    size_t fcjk = action >= SLUICE_REDACT ? check_first_cjk(text, len) :
        SIZE_MAX;
    if (action == SLUICE_BLOCK) {
        size_t end = len;
        for (size_t i = 0; i < n; i++)
            if (p->rules[c[i].rule].action == SLUICE_BLOCK) {
                end = c[i].end;
                break;
            }
        const char *ref = check_lang_zh(p, fcjk, end) ? p->src->refusal_zh :
            p->src->refusal_en;
        v->output_len = strlen(ref);
        v->output = dup_bytes(ref, v->output_len);
    } else if (action == SLUICE_REDACT) {
        v->output = redact(p, c, n, text, len, fcjk, &v->output_len);
    } else {
        v->output_len = len;
        v->output = dup_bytes(text, len);
    }
    return v->output != NULL ? 0 : SLUICE_ENOMEM;
}

static int match_all(sluice_policy *p, policy_scratch *s, const char *text,
    size_t len, size_t *invalid)
{
    *invalid = 0;
    int have_invalid = 0, normalized = 0;
    for (size_t i = 0; i < p->ngroups; i++) {
        const mgroup *g = &p->groups[i];
        if (g->db == NULL)
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
        s->nwin = 0;
        s->gstart[i] = start;
        /* the text alone; metadata only around hits (view_at) */
        if (norm_text_lazy(p->nt, g->flags, text + start, len - start, start,
                o) != 0)
            return SLUICE_ENOMEM;
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
                s->win_of = o;   /* the window holds the scan's start */
            }
        }
        hs_error_t he = hs_scan(g->db, (const char *)o->text + s->scan_off,
            (unsigned)(o->len - s->scan_off), 0, s->hs, on_literal, s);
        if (s->oom)
            return SLUICE_ENOMEM;
        if (he != HS_SUCCESS && he != HS_SCAN_TERMINATED)
            return SLUICE_EINTERNAL;
    }
    if (!have_invalid && normalized) {
        *invalid = 1;   /* unknown: regexes then read a sanitized copy */
    } else if (!have_invalid) {
        norm_out *o = &s->norm[0];
        norm_out_reset(o);
        if (norm_text(p->nt, 0, text, len, o) != 0)
            return SLUICE_ENOMEM;
        *invalid = o->invalid;
    }
    return 0;
}

int check_window(sluice_policy *p, policy_scratch *s, const char *text,
    size_t len, int streaming, size_t from, size_t *invalid)
{
    int rc;

    s->from = from;
    s->ncands = 0;
    s->oom = 0;
    s->pol = p;
    s->text = text;
    s->text_len = len;
    s->streaming = streaming;
    s->pending_from = len;
    s->limited = 0;
    if ((rc = match_all(p, s, text, len, invalid)) != 0)
        return rc;
    rc = run_regexes(p, s, text, len, *invalid);
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
        qsort(s->cands, s->ncands, sizeof *s->cands, cmp_cand);
    apply_allow(s);
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
    if (limited) {
        /* A regex gave up: fail closed, the text was not fully checked. */
        v->reason = "regex_limit";
        if (v->action < SLUICE_BLOCK) {
            const char *ref = check_lang_zh(p, check_first_cjk(text, len), len)
                ? p->src->refusal_zh : p->src->refusal_en;
            char *o = dup_bytes(ref, strlen(ref));
            if (o == NULL) {
                sluice_verdict_free(v);
                return SLUICE_ENOMEM;
            }
            free(v->output);
            v->output = o;
            v->output_len = strlen(ref);
            v->action = SLUICE_BLOCK;
        }
    }
    *out = v;
    return 0;
}
