/*
 * cache.c - verdict cache entries: what a verdict says about a text,
 * without the text, and the same verdict rebuilt from it.
 *
 * An entry (version 1, little-endian):
 *
 *   u8  version (1)        u8  action          u16 0
 *   u32 invalid UTF-8 count
 *   u32 length of the text it was made for
 *   u32 n spans, then n x { u32 start, u32 end, u32 rule index,
 *                           u32 term index or 0xffffffff (regex) }
 *
 * Everything else a whole-text verdict holds follows from the spans, the
 * policy and the text, as check.c's decide() makes it: the rules (those
 * of the spans, in policy order), the categories (theirs, first seen),
 * and the output (the text; the refusal in the language of the first
 * blocking span; or the text with redacting spans masked). Redis
 * therefore never holds the text, nor anything derived from it but
 * offsets and rule and term indexes (the key holds a keyed digest).
 *
 * Exactness: an entry is stored only if the verdict rebuilt from it equals
 * the fresh verdict field by field (action, output bytes, rules,
 * categories, spans with their terms, invalid count). A change to how
 * check.c decides that this file does not follow therefore stops caching
 * (every store is refused as "skip"); it never serves a wrong verdict.
 * Entries are keyed by the policy hash, so a new policy never reads an
 * old policy's entries, and rule and term indexes always refer to the
 * same compiled rules.
 */
#include <stdlib.h>
#include <string.h>

#include "filter/check.h"
#include "filter/verdict.h"
#include "rules/policy.h"
#include "state/cache.h"

#define ENTRY_VERSION 1
#define ENTRY_HEAD 16
#define ENTRY_SPAN 16
#define NO_TERM 0xffffffffu
#define SCAN_TERMS 64      /* rules with more terms use the index */

struct cache_tref {
    const char *ptr;
    uint32_t rule;
    uint32_t slot;
};

/* ---- bytes ---------------------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
        (uint32_t)p[3] << 24;
}

/* ---- the term index --------------------------------------------------------- */

int cache_terms_init(cache_terms *t)
{
    memset(t, 0, sizeof *t);
    return pthread_mutex_init(&t->lock, NULL) == 0 ? 0 : SLUICE_EINTERNAL;
}

void cache_terms_free(cache_terms *t)
{
    sluice_policy_unref(t->policy);
    free(t->refs);
    pthread_mutex_destroy(&t->lock);
}

static int cmp_ref(const void *a, const void *b)
{
    const struct cache_tref *x = a, *y = b;
    return x->ptr < y->ptr ? -1 : x->ptr > y->ptr;
}

/* (Re)build the index for p; under t->lock. */
static int terms_build(cache_terms *t, sluice_policy *p)
{
    size_t n = 0, k = 0;
    struct cache_tref *refs;
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].src->nterms > SCAN_TERMS)
            n += p->rules[i].src->nterms;
    refs = malloc((n ? n : 1) * sizeof *refs);
    if (refs == NULL)
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < p->nrules; i++) {
        const psrc_rule *r = p->rules[i].src;
        if (r->nterms <= SCAN_TERMS)
            continue;
        for (size_t j = 0; j < r->nterms; j++) {
            refs[k].ptr = r->terms[j].text;
            refs[k].rule = (uint32_t)i;
            refs[k++].slot = (uint32_t)j;
        }
    }
    qsort(refs, n, sizeof *refs, cmp_ref);
    free(t->refs);
    sluice_policy_unref(t->policy);
    t->refs = refs;
    t->n = n;
    t->policy = sluice_policy_ref(p);
    return 0;
}

/* The index of `term` among rule ri's terms, or NO_TERM. */
static int term_slot(cache_terms *t, sluice_policy *p, uint32_t ri,
    const char *term, uint32_t *slot)
{
    const psrc_rule *r = p->rules[ri].src;
    struct cache_tref key, *hit;
    int rc = 0;
    *slot = NO_TERM;
    if (r->nterms <= SCAN_TERMS) {
        for (size_t j = 0; j < r->nterms; j++)
            if (r->terms[j].text == term) {
                *slot = (uint32_t)j;
                break;
            }
        return 0;
    }
    if (pthread_mutex_lock(&t->lock) != 0)
        return SLUICE_EINTERNAL;
    if (t->policy != p)
        rc = terms_build(t, p);
    if (rc == 0) {
        key.ptr = term;
        hit = bsearch(&key, t->refs, t->n, sizeof *t->refs, cmp_ref);
        if (hit != NULL && hit->rule == ri)
            *slot = hit->slot;
    }
    (void)pthread_mutex_unlock(&t->lock);
    return rc;
}

/* The index of the rule whose id pointer is `id`, or -1. */
static long rule_index(const sluice_policy *p, const char *id)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].id == id)
            return (long)i;
    return -1;
}

/* ---- rebuilding ---------------------------------------------------------------- */

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

/* Verdict span i and its rule index, for check_redact. */
typedef struct cached_spans {
    const sluice_span *sp;
    const uint32_t *ri;
} cached_spans;

static void cached_at(const void *spans, size_t i, size_t *start,
    size_t *end, uint32_t *rule)
{
    const cached_spans *cs = spans;
    *start = cs->sp[i].start;
    *end = cs->sp[i].end;
    *rule = cs->ri[i];
}

/* Rules and categories of the spans, in policy order (as decide()). */
static int fill_rules(sluice_policy *p, sluice_verdict *v, const uint32_t *ri)
{
    unsigned char *fired = calloc(p->nrules ? p->nrules : 1, 1);
    size_t nr = 0;
    if (fired == NULL)
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < v->nspans; i++)
        if (!fired[ri[i]]) {
            fired[ri[i]] = 1;
            nr++;
        }
    v->rules = calloc(nr ? nr : 1, sizeof *v->rules);
    v->cats = calloc(nr ? nr : 1, sizeof *v->cats);
    if (v->rules == NULL || v->cats == NULL) {
        free(fired);
        return SLUICE_ENOMEM;
    }
    check_fill_rules(p, fired, v);
    free(fired);
    return 0;
}

static int fill_output(sluice_policy *p, sluice_verdict *v, const uint32_t *ri,
    const char *text, size_t len)
{
    size_t fcjk = v->action >= SLUICE_REDACT ? check_first_cjk(text, len) :
        SIZE_MAX;
    cached_spans cs = { v->spans, ri };
    if (v->action == SLUICE_BLOCK) {
        const char *ref = check_refusal(p, &cs, v->nspans, cached_at, len,
            fcjk);
        v->output_len = strlen(ref);
        v->output = dup_bytes(ref, v->output_len);
    } else if (v->action == SLUICE_REDACT) {
        v->output = check_redact(p, &cs, v->nspans, cached_at, text, len,
            fcjk, &v->output_len);
    } else {
        v->output_len = len;
        v->output = dup_bytes(text, len);
    }
    return v->output != NULL ? 0 : SLUICE_ENOMEM;
}

/* Read and check the spans of an entry into v (rule indexes into ri). */
static int read_spans(sluice_policy *p, const unsigned char *q, size_t n,
    size_t len, sluice_verdict *v, uint32_t *ri)
{
    int action = SLUICE_ALLOW;
    for (size_t i = 0; i < n; i++, q += ENTRY_SPAN) {
        uint32_t a = get32(q), b = get32(q + 4), r = get32(q + 8),
            t = get32(q + 12);
        if (a > b || b > len || r >= p->nrules)
            return 1;
        if (i > 0 && a < v->spans[i - 1].start)
            return 1;
        const crule *cr = &p->rules[r];
        if (t != NO_TERM && t >= cr->src->nterms)
            return 1;
        ri[i] = r;
        v->spans[i].start = a;
        v->spans[i].end = b;
        v->spans[i].rule = cr->id;
        v->spans[i].action = (sluice_action)cr->action;
        v->spans[i].term = t == NO_TERM ? NULL : cr->src->terms[t].text;
        if (cr->action > action)
            action = cr->action;
    }
    return action == (int)v->action ? 0 : 1;
}

int cache_decode(sluice_policy *p, const unsigned char *val, size_t vlen,
    const char *text, size_t len, size_t max_spans, sluice_verdict **out)
{
    sluice_verdict *v;
    uint32_t *ri = NULL;
    size_t n;
    int rc;
    *out = NULL;
    if (vlen < ENTRY_HEAD || val[0] != ENTRY_VERSION ||
        val[1] > SLUICE_BLOCK || get32(val + 8) != len)
        return 1;
    n = get32(val + 12);
    if (n > CACHE_MAX_SPANS || vlen != ENTRY_HEAD + n * ENTRY_SPAN ||
        n > (max_spans ? max_spans : 10000))
        return 1;
    v = calloc(1, sizeof *v);
    ri = malloc((n ? n : 1) * sizeof *ri);
    if (v == NULL || ri == NULL) {
        free(v);
        free(ri);
        return SLUICE_ENOMEM;
    }
    v->policy = sluice_policy_ref(p);
    v->action = (sluice_action)val[1];
    v->invalid = get32(val + 4);
    v->spans = calloc(n ? n : 1, sizeof *v->spans);
    v->nspans = n;
    if (v->spans == NULL)
        rc = SLUICE_ENOMEM;
    else if ((rc = read_spans(p, val + ENTRY_HEAD, n, len, v, ri)) == 0 &&
             (rc = fill_rules(p, v, ri)) == 0)
        rc = fill_output(p, v, ri, text, len);
    free(ri);
    if (rc != 0) {
        sluice_verdict_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* ---- encoding ------------------------------------------------------------------- */

static int same_verdict(const sluice_verdict *a, const sluice_verdict *b)
{
    if (a->action != b->action || a->output_len != b->output_len ||
        memcmp(a->output, b->output, a->output_len) != 0 ||
        a->nrules != b->nrules || a->ncats != b->ncats ||
        a->nspans != b->nspans || a->invalid != b->invalid ||
        a->truncated != b->truncated)
        return 0;
    for (size_t i = 0; i < a->nrules; i++)
        if (a->rules[i] != b->rules[i])
            return 0;
    for (size_t i = 0; i < a->ncats; i++)
        if (a->cats[i] != b->cats[i])
            return 0;
    for (size_t i = 0; i < a->nspans; i++)
        if (a->spans[i].start != b->spans[i].start ||
            a->spans[i].end != b->spans[i].end ||
            a->spans[i].rule != b->spans[i].rule ||
            a->spans[i].action != b->spans[i].action ||
            a->spans[i].term != b->spans[i].term)
            return 0;
    return 1;
}

int cache_encode(cache_terms *t, sluice_policy *p, const sluice_verdict *v,
    const char *text, size_t len, unsigned char **out, size_t *outlen)
{
    unsigned char *e, *q;
    sluice_verdict *back = NULL;
    size_t n = v->nspans, size;
    int rc;
    *out = NULL;
    if (v->reason != NULL || v->truncated || v->label != NULL || v->aigc ||
        v->recorded || n > CACHE_MAX_SPANS || len > UINT32_MAX ||
        v->invalid > UINT32_MAX || v->policy != p)
        return 1;
    size = ENTRY_HEAD + n * ENTRY_SPAN;
    e = calloc(1, size);
    if (e == NULL)
        return SLUICE_ENOMEM;
    e[0] = ENTRY_VERSION;
    e[1] = (unsigned char)v->action;
    put32(e + 4, (uint32_t)v->invalid);
    put32(e + 8, (uint32_t)len);
    put32(e + 12, (uint32_t)n);
    q = e + ENTRY_HEAD;
    for (size_t i = 0; i < n; i++, q += ENTRY_SPAN) {
        const sluice_span *s = &v->spans[i];
        long ri = rule_index(p, s->rule);
        uint32_t slot = NO_TERM;
        if (ri < 0 || s->start > UINT32_MAX || s->end > UINT32_MAX) {
            free(e);
            return 1;
        }
        if (s->term != NULL) {
            if ((rc = term_slot(t, p, (uint32_t)ri, s->term, &slot)) != 0) {
                free(e);
                return rc;
            }
            if (slot == NO_TERM) {
                free(e);
                return 1;
            }
        }
        put32(q, (uint32_t)s->start);
        put32(q + 4, (uint32_t)s->end);
        put32(q + 8, (uint32_t)ri);
        put32(q + 12, slot);
    }
    rc = cache_decode(p, e, size, text, len, n ? n : 1, &back);
    if (rc == 0 && !same_verdict(v, back))
        rc = 1;
    sluice_verdict_free(back);
    if (rc != 0) {
        free(e);
        return rc;
    }
    *out = e;
    *outlen = size;
    return 0;
}
