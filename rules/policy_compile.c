/*
 * policy_compile.c - turns a parsed policy (psrc) into the immutable,
 * shareable sluice_policy that checks run against.
 *
 * Design: literal terms are normalized with exactly the steps their rule
 * matches under, so that a term and the text it must catch fold the same
 * way. Rules that need the same steps share one group: one Hyperscan
 * literal database whose pattern ids index the group's term table. A term
 * written in several rules (or in a rule and the allow list) is stored
 * once and carries a list of refs. Regex rules are compiled with PCRE2 and
 * JIT; patterns with nested unbounded quantifiers are refused, since they
 * can backtrack catastrophically on hostile text.
 *
 * Errors name the file and line of the offending rule or term; on any
 * error nothing is returned and everything built so far is freed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "rules/policy.h"
#include "rules/rx_factor.h"

/* ---- term deduplication: open addressing over normalized bytes ------- */

typedef struct dedup {
    uint32_t *slots;     /* term index + 1, 0 = empty */
    size_t cap;          /* power of two */
} dedup;

static uint64_t hash_bytes(const unsigned char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int dedup_init(dedup *d, size_t expect)
{
    d->cap = 64;
    while (d->cap < expect * 2 + 16)
        d->cap <<= 1;
    d->slots = calloc(d->cap, sizeof *d->slots);
    return d->slots != NULL ? 0 : SLUICE_ENOMEM;
}

/* Builder state for one group while terms are added. */
typedef struct gbuild {
    mgroup *g;
    unsigned char *bytes;    /* all normalized terms back to back */
    size_t nbytes, capbytes;
    uint32_t *off;           /* per term: offset into bytes */
    size_t capterms, capoff, caprefs, caprun;
    dedup dd;
} gbuild;

int policy_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (q == NULL)
        return SLUICE_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* Index of an equal plain term (no runs, no native gaps), or -1. */
static long dedup_find(gbuild *b, const unsigned char *s, size_t n,
    size_t *slot_out)
{
    size_t mask = b->dd.cap - 1;
    size_t i = (size_t)hash_bytes(s, n) & mask;
    for (;;) {
        uint32_t v = b->dd.slots[i];
        if (v == 0) {
            *slot_out = i;
            return -1;
        }
        cterm *t = &b->g->terms[v - 1];
        if (t->len == n && memcmp(b->bytes + b->off[v - 1], s, n) == 0)
            return (long)(v - 1);
        i = (i + 1) & mask;
    }
}

static int dedup_rehash(gbuild *b)
{
    dedup nd;
    nd.cap = b->dd.cap * 2;
    nd.slots = calloc(nd.cap, sizeof *nd.slots);
    if (nd.slots == NULL)
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < b->dd.cap; i++) {
        uint32_t v = b->dd.slots[i];
        if (v == 0)
            continue;
        cterm *t = &b->g->terms[v - 1];
        size_t j = (size_t)hash_bytes(b->bytes + b->off[v - 1], t->len) &
            (nd.cap - 1);
        while (nd.slots[j] != 0)
            j = (j + 1) & (nd.cap - 1);
        nd.slots[j] = v;
    }
    free(b->dd.slots);
    b->dd = nd;
    return 0;
}

/* ---- errors ----------------------------------------------------------- */

static int cerr(sluice_error *err, int code, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int cerr(sluice_error *err, int code, const char *file, int line,
    const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return psrc_error(err, code, file, line, "%s", msg);
}

/* ---- adding terms ----------------------------------------------------- */

/*
 * NORM_REPEAT: the text a stream is matched through merges a code point
 * equal to the one before it across noise (matching.md, "Runs across
 * noise"); fold a term the same way. In normalized term o, an entry equal
 * to the one before it (they have noise between them, or the normalizer
 * would have joined them) is added to it: runs summed (saturating at
 * 255), its gap kept on the merged entry so the term's own noise is
 * still known there. Returns 0 or SLUICE_ENOMEM (never: it shrinks).
 */
static int merge_runs(norm_out *o)
{
    size_t w = 0, pv = 0, pn = 0;
    for (size_t i = 0; i < o->len;) {
        unsigned c = o->text[i];
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (w > 0 && n == pn && memcmp(o->text + pv, o->text + i, n) == 0) {
            unsigned r = o->run[pv] + o->run[i];
            for (size_t k = pv; k < pv + n; k++) {
                o->run[k] = (uint8_t)(r > 255 ? 255 : r);
                o->src_end[k] = o->src_end[i];
            }
            o->gap[pv] |= o->gap[i] & NORM_GAP_COUNT ? o->gap[i] : 0;
            i += n;
            continue;
        }
        if (w != i) {
            memmove(o->text + w, o->text + i, n);
            memmove(o->src + w, o->src + i, n * sizeof *o->src);
            memmove(o->src_end + w, o->src_end + i, n * sizeof *o->src_end);
            memmove(o->gap + w, o->gap + i, n);
            memmove(o->run + w, o->run + i, n);
        }
        pv = w;
        pn = n;
        w += n;
        i += n;
    }
    o->len = w;
    return 0;
}

/*
 * Normalize `text` with the group's steps and add it with one ref.
 * `scratch` is a reusable normalization buffer.
 */
static int add_term(gbuild *b, const norm_tables *nt, norm_out *scratch,
    const char *text, const char *file, int line, uint32_t rule,
    uint32_t slot, sluice_error *err)
{
    mgroup *g = b->g;
    int rc;

    norm_out_reset(scratch);
    rc = norm_text(nt, g->flags, text, strlen(text), scratch);
    if (rc != 0)
        return cerr(err, rc, file, line, "out of memory normalizing a term");
    if (scratch->len == 0)
        return cerr(err, SLUICE_EPOLICY, file, line,
            "term '%s' normalizes to nothing (only spaces, symbols or "
            "invisible characters)", text);

    /* code points, native gaps, runs */
    if ((g->flags & NORM_REPEAT) && merge_runs(scratch) != 0)
        return cerr(err, SLUICE_ENOMEM, file, line, "out of memory");
    uint32_t ncp = 0;
    uint64_t gaps = 0;
    int any_run = 0;
    for (size_t i = 0; i < scratch->len; i++) {
        if ((scratch->text[i] & 0xC0) == 0x80)
            continue;
        if (ncp > 0 && ncp < 64 && (scratch->gap[i] & NORM_GAP_COUNT))
            gaps |= 1ull << ncp;
        if (scratch->run[i] > 1)
            any_run = 1;
        ncp++;
    }
    int plain = !any_run && gaps == 0;

    long found = -1;
    size_t slotpos = 0;
    if (plain)
        found = dedup_find(b, scratch->text, scratch->len, &slotpos);

    if ((rc = policy_grow((void **)&g->refs, &b->caprefs, g->nrefs + 1,
             sizeof *g->refs)) != 0)
        return cerr(err, rc, file, line, "out of memory");
    uint32_t ri = (uint32_t)g->nrefs++;
    g->refs[ri].rule = rule;
    g->refs[ri].slot = slot;

    if (found >= 0) {
        cterm *t = &g->terms[found];
        g->refs[ri].next = t->first_ref;
        t->first_ref = ri;
        return 0;
    }

    if (policy_grow((void **)&g->terms, &b->capterms, g->nterms + 1,
            sizeof *g->terms) != 0 ||
        policy_grow((void **)&b->off, &b->capoff, g->nterms + 1,
            sizeof *b->off) != 0 ||
        policy_grow((void **)&b->bytes, &b->capbytes, b->nbytes + scratch->len,
            1) != 0)
        return cerr(err, SLUICE_ENOMEM, file, line, "out of memory");

    size_t ti = g->nterms++;
    cterm *t = &g->terms[ti];
    memcpy(b->bytes + b->nbytes, scratch->text, scratch->len);
    b->off[ti] = (uint32_t)b->nbytes;
    b->nbytes += scratch->len;
    t->len = (uint32_t)scratch->len;
    t->ncp = ncp;
    t->native_gaps = gaps;
    t->first_ref = ri;
    t->runs = UINT32_MAX;
    g->refs[ri].next = UINT32_MAX;

    if (any_run) {
        if (policy_grow((void **)&g->runpool, &b->caprun, g->nrunpool + ncp, 1) != 0)
            return cerr(err, SLUICE_ENOMEM, file, line, "out of memory");
        t->runs = (uint32_t)g->nrunpool;
        for (size_t i = 0; i < scratch->len; i++)
            if ((scratch->text[i] & 0xC0) != 0x80)
                g->runpool[g->nrunpool++] = scratch->run[i];
    }
    if (plain) {
        b->dd.slots[slotpos] = (uint32_t)ti + 1;
        if (g->nterms * 2 > b->dd.cap && dedup_rehash(b) != 0)
            return cerr(err, SLUICE_ENOMEM, file, line, "out of memory");
    }
    return 0;
}

static int build_db(gbuild *b, sluice_error *err, const char *file)
{
    mgroup *g = b->g;
    if (g->nterms == 0)
        return 0;
    const char **ex = malloc(g->nterms * sizeof *ex);
    size_t *lens = malloc(g->nterms * sizeof *lens);
    unsigned *ids = malloc(g->nterms * sizeof *ids);
    unsigned *flags = calloc(g->nterms, sizeof *flags);
    int rc = 0;
    if (ex == NULL || lens == NULL || ids == NULL || flags == NULL) {
        rc = cerr(err, SLUICE_ENOMEM, file, 0, "out of memory");
        goto out;
    }
    /* terms with an anchor go to the anchor matcher, the rest (ASCII,
       single characters) to Hyperscan */
    uint32_t *tlen = malloc(g->nterms * sizeof *tlen);
    uint32_t *rest = malloc(g->nterms * sizeof *rest);
    size_t nrest = 0;
    if (tlen == NULL || rest == NULL) {
        free(tlen);
        free(rest);
        rc = cerr(err, SLUICE_ENOMEM, file, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < g->nterms; i++)
        tlen[i] = g->terms[i].len;
    rc = anchor_build(b->bytes, b->off, tlen, g->nterms, &g->anc, rest,
        &nrest);
    for (size_t k = 0; rc == 0 && k < nrest; k++) {
        size_t i = rest[k];
        ex[k] = (const char *)b->bytes + b->off[i];
        lens[k] = g->terms[i].len;
        ids[k] = (unsigned)i;
    }
    free(tlen);
    free(rest);
    if (rc != 0) {
        rc = cerr(err, rc, file, 0, "out of memory");
        goto out;
    }
    hs_compile_error_t *ce = NULL;
    if (nrest > 0 && hs_compile_lit_multi(ex, flags, ids, lens,
            (unsigned)nrest, HS_MODE_BLOCK, NULL, &g->db, &ce) !=
            HS_SUCCESS) {
        rc = cerr(err, SLUICE_EINTERNAL, file, 0,
            "Hyperscan could not compile %zu terms: %s", nrest,
            ce && ce->message ? ce->message : "unknown error");
        hs_free_compile_error(ce);
    }
out:
    free(ex);
    free(lens);
    free(ids);
    free(flags);
    return rc;
}

/* ---- regex ------------------------------------------------------------ */

/*
 * Catastrophic backtracking check. A group repeated without bound that
 * itself holds an unbounded repeat, like (a+)+ or (\s*\w+)*, can try
 * exponentially many ways to split a failing input. It is safe when the
 * group starts with a literal delimiter that none of its inner repeats can
 * match, like (?:\.[a-z0-9-]+)+ in a domain name: each iteration then has
 * only one place to start. That test is made by PCRE2 itself: the inner
 * item is compiled alone and tried on the delimiter.
 */
#define RX_MAX_DEPTH 64

typedef struct rx_group {
    char delim[8];       /* first literal of the group, "" if none */
    int inner;           /* holds an unbounded repeat */
    int ambiguous;       /* ... that can match delim (or delim unknown) */
} rx_group;

/* Does the atom text p[0..n) match the string d at its start? */
static int atom_matches(const char *p, size_t n, const char *d)
{
    int ec;
    PCRE2_SIZE eo;
    int hit = 1;   /* when in doubt, call it ambiguous */
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)p, n, PCRE2_UTF |
        PCRE2_ANCHORED, &ec, &eo, NULL);
    if (re == NULL)
        return 1;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (md != NULL) {
        int rc = pcre2_match(re, (PCRE2_SPTR)d, strlen(d), 0, 0, md, NULL);
        hit = rc >= 0 || rc == PCRE2_ERROR_PARTIAL;
        pcre2_match_data_free(md);
    }
    pcre2_code_free(re);
    return hit;
}

/* Length of the atom at p[i] (a class, an escape, a UTF-8 character). */
static size_t atom_len(const char *p, size_t i)
{
    size_t j = i;
    if (p[j] == '\\')
        return p[j + 1] != '\0' ? 2 : 1;
    if (p[j] == '[') {
        j++;
        if (p[j] == '^')
            j++;
        if (p[j] == ']')
            j++;
        while (p[j] != '\0' && p[j] != ']')
            j += (p[j] == '\\' && p[j + 1] != '\0') ? 2 : 1;
        return p[j] == ']' ? j + 1 - i : j - i;
    }
    j++;
    while (((unsigned char)p[j] & 0xC0) == 0x80)
        j++;
    return j - i;
}

/* The unbounded quantifier at p[i] ("+", "*", "{n,}"), or 0 if none. */
static int unbounded_at(const char *p, size_t i)
{
    if (p[i] == '+' || p[i] == '*')
        return 1;
    if (p[i] != '{')
        return 0;
    size_t j = i + 1;
    while (p[j] >= '0' && p[j] <= '9')
        j++;
    return j > i + 1 && p[j] == ',' && p[j + 1] == '}';
}

/* Skip a group opener "(", "(?:", "(?<name>", "(?i)"...: index after it. */
static size_t group_body(const char *p, size_t i)
{
    i++;
    if (p[i] != '?')
        return i;
    if (p[i + 1] == '<' && p[i + 2] != '=' && p[i + 2] != '!') {
        const char *gt = strchr(p + i, '>');
        return gt ? (size_t)(gt - p) + 1 : i;
    }
    if (p[i + 1] == 'P' && p[i + 2] == '<') {
        const char *gt = strchr(p + i, '>');
        return gt ? (size_t)(gt - p) + 1 : i;
    }
    while (p[i] != '\0' && p[i] != ':' && p[i] != ')' && p[i] != '=' &&
        p[i] != '!')
        i++;
    return p[i] == ':' ? i + 1 : i;
}

static void set_delim(rx_group *g, const char *p, size_t i)
{
    g->delim[0] = '\0';
    if (p[i] == '\\') {
        char c = p[i + 1];
        /* escaped punctuation is a literal; \d \w \s etc. are classes */
        if (c != '\0' && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9'))) {
            g->delim[0] = c;
            g->delim[1] = '\0';
        }
        return;
    }
    if (p[i] == '\0' || strchr("[(.|)^$", p[i]) != NULL)
        return;
    size_t n = atom_len(p, i);
    if (unbounded_at(p, i + n) || p[i + n] == '?' || p[i + n] == '{')
        return;   /* optional or repeated: not a fixed first literal */
    if (n < sizeof g->delim) {
        memcpy(g->delim, p + i, n);
        g->delim[n] = '\0';
    }
}

static int regex_nested_unbounded(const char *p)
{
    rx_group st[RX_MAX_DEPTH + 1];
    int depth = 0;
    size_t i = 0;
    memset(&st[0], 0, sizeof st[0]);
    while (p[i] != '\0') {
        if (p[i] == '(') {
            size_t b = group_body(p, i);
            if (depth < RX_MAX_DEPTH) {
                depth++;
                memset(&st[depth], 0, sizeof st[depth]);
                set_delim(&st[depth], p, b);
            }
            i = b;
            continue;
        }
        if (p[i] == ')') {
            rx_group g = st[depth];
            if (depth > 0)
                depth--;
            i++;
            int unb = unbounded_at(p, i);
            if (unb && g.inner && (g.delim[0] == '\0' || g.ambiguous))
                return 1;
            if (unb || g.inner) {
                st[depth].inner = 1;
                st[depth].ambiguous = 1;   /* conservative */
            }
            continue;
        }
        if (p[i] == '|') {
            i++;
            continue;
        }
        size_t n = atom_len(p, i);
        if (unbounded_at(p, i + n)) {
            rx_group *g = &st[depth];
            g->inner = 1;
            if (g->delim[0] == '\0' || atom_matches(p + i, n, g->delim))
                g->ambiguous = 1;
        }
        i += n;
    }
    return 0;
}

static int compile_regex(crule *r, sluice_error *err)
{
    const psrc_rule *s = r->src;
    int line = s->regex_line ? s->regex_line : s->line;
    int ec = 0;
    PCRE2_SIZE eo = 0;

    if (regex_nested_unbounded(s->regex))
        return cerr(err, SLUICE_EPOLICY, s->file, line,
            "rule '%s': regex has a repeated group that contains an "
            "unbounded repeat (like (a+)+); it can backtrack "
            "catastrophically: rewrite it", s->id);
    r->re = pcre2_compile((PCRE2_SPTR)s->regex, PCRE2_ZERO_TERMINATED,
        PCRE2_UTF, &ec, &eo, NULL);
    if (r->re == NULL) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", ec);
        return cerr(err, SLUICE_EPOLICY, s->file, line,
            "rule '%s': bad regex at offset %zu: %s", s->id, (size_t)eo,
            (const char *)msg);
    }
    /* JIT is an optimisation: if it is unavailable the interpreter runs. */
    (void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD);
    return 0;
}

/* ---- rules ------------------------------------------------------------ */

static const psrc_category *find_category(const psrc *src, const char *id)
{
    if (id == NULL)
        return NULL;
    for (size_t i = 0; i < src->ncats; i++)
        if (strcmp(src->cats[i].id, id) == 0)
            return &src->cats[i];
    return NULL;
}

static int group_for(sluice_policy *p, unsigned flags)
{
    for (size_t i = 0; i < p->ngroups; i++)
        if (p->groups[i].flags == flags)
            return (int)i;
    if (p->ngroups == MAX_GROUPS)
        return -1;
    p->groups[p->ngroups].flags = flags;
    return (int)p->ngroups++;
}

static int resolve_rule(sluice_policy *p, size_t i, sluice_error *err)
{
    const psrc *src = p->src;
    const psrc_rule *s = &src->rules[i];
    crule *r = &p->rules[i];
    const psrc_category *c = find_category(src, s->category);

    r->src = s;
    r->id = s->id;
    r->category = s->category;
    r->action = s->action >= 0 ? s->action : (c ? c->action : -1);
    if (r->action < 0)
        return cerr(err, SLUICE_EPOLICY, s->file, s->line,
            "rule '%s': category '%s' is not declared and the rule has no "
            "action", s->id, s->category ? s->category : "");
    const char *m = s->mask ? s->mask : (c && c->mask ? c->mask : NULL);
    r->mask_zh = m ? m : src->mask_zh;
    r->mask_en = m ? m : src->mask_en;
    r->mask_max = strlen(r->mask_zh) > strlen(r->mask_en) ?
        strlen(r->mask_zh) : strlen(r->mask_en);
    if (s->validate != NULL) {
        r->validate = validate_lookup(s->validate);
        if (r->validate == NULL)
            return cerr(err, SLUICE_EPOLICY, s->file, s->line,
                "rule '%s': unknown validator '%s'", s->id, s->validate);
    }
    r->group = -1;
    if (s->kind == PSRC_REGEX) {
        if (s->on == PSRC_ON_ORIGINAL)
            p->has_regex_orig = 1;
        else
            p->has_regex_norm = 1;
        return compile_regex(r, err);
    }
    unsigned flags = s->on == PSRC_ON_ORIGINAL ? 0u :
        (src->normalize & NORM_DEFAULT) | (s->variants &
            (NORM_LEET | NORM_REPEAT));
    r->group = group_for(p, flags);
    if (r->group < 0)
        return cerr(err, SLUICE_EPOLICY, s->file, s->line,
            "rule '%s': too many distinct normalizations (at most %d)",
            s->id, MAX_GROUPS);
    if (s->boundary == PSRC_BOUNDARY_WORD)
        p->has_boundary = 1;
    if (s->kind == PSRC_ALL) {
        r->nslots = (uint32_t)s->nterms;
        p->groups[r->group].has_all = 1;
    }
    return 0;
}

double policy_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Run gates shorter than these would open on much text (dates such as
   2024-01-31 are ten bytes; 2024.01.31 is rarer, and IPv4 addresses seven
   at the least); such rules share the combined prefilter. */
static const unsigned run_floor[RX_RUN_CLASSES] = { 11, 7 };

/*
 * Regex prefilters. Most outputs hold nothing a PII pattern could match
 * (no long digit run, no '@'), yet PCRE2 must walk every byte to find that
 * out, the e-mail pattern at barely 140 MB/s. Hyperscan in prefilter mode
 * compiles each pattern into an automaton that matches a superset of what
 * the pattern matches (look-behinds and other constructs it cannot do are
 * relaxed) and scans all of them at once; PCRE2 then runs only for rules
 * whose prefilter fired. A pattern Hyperscan refuses even as a prefilter
 * simply always runs.
 *
 * One database of many patterns is slow, though (about 1 GB/s for the
 * baseline's fourteen, where each alone reads 3-24 GB/s), so rules with
 * selective literal factors (rx_factor.h: `@`, `AKIA`, `xoxb-`...) are
 * gated first: a literal database of all their factors is scanned, and a
 * rule's own prefilter runs only on an output that holds one of its
 * factors. Rules without factors whose every match holds a long run of
 * digits, spaces and hyphens (rx_run_of: ID, phone and card numbers) are
 * gated by that run: a SIMD scan finds whether the output has one. The
 * other rules share the combined prefilter as before.
 */
static int build_gates(sluice_policy *p, int on_original)
{
    rx_factors *fs = calloc(p->nrules ? p->nrules : 1, sizeof *fs);
    unsigned *runs = calloc(p->nrules ? p->nrules : 1, sizeof *runs);
    int *cls = calloc(p->nrules ? p->nrules : 1, sizeof *cls);
    const char **lit = NULL;
    size_t n = 0, k = 0, *len = NULL;
    unsigned *ids = NULL, *fl = NULL;
    hs_compile_error_t *ce = NULL;
    int rc = 0, side = on_original ? 0 : 1;
    if (fs == NULL || runs == NULL || cls == NULL) {
        rc = SLUICE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const crule *r = &p->rules[i];
        if (r->re == NULL || (r->src->on == PSRC_ON_ORIGINAL) != on_original)
            continue;
        n += rx_factors_of(r->src->regex, &fs[i]);
        for (int c = 0; fs[i].n == 0 && runs[i] == 0 && c < RX_RUN_CLASSES;
            c++) {
            unsigned rl = rx_run_of(r->src->regex, c);
            if (rl >= run_floor[c]) {
                runs[i] = rl;
                cls[i] = c;
            }
        }
    }
    if (n == 0)
        goto gate;
    lit = calloc(n, sizeof *lit);
    len = calloc(n, sizeof *len);
    ids = calloc(n, sizeof *ids);
    fl = calloc(n, sizeof *fl);
    if (lit == NULL || len == NULL || ids == NULL || fl == NULL) {
        rc = SLUICE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->nrules; i++)
        for (unsigned j = 0; j < fs[i].n; j++, k++) {
            lit[k] = fs[i].s[j];
            len[k] = fs[i].len[j];
            ids[k] = (unsigned)i;
            fl[k] = HS_FLAG_SINGLEMATCH;
        }
    if (hs_compile_lit_multi(lit, fl, ids, len, (unsigned)n, HS_MODE_BLOCK,
            NULL, &p->gate_db[side], &ce) != HS_SUCCESS) {
        hs_free_compile_error(ce);
        p->gate_db[side] = NULL;        /* no literal gates */
        for (size_t i = 0; i < p->nrules; i++)
            fs[i].n = 0;
    }
gate:
    for (size_t i = 0; i < p->nrules; i++) {
        crule *r = &p->rules[i];
        const char *ex = r->src->regex;
        unsigned f = RX_PREFILTER_FLAGS, id = (unsigned)i;
        if (fs[i].n == 0 && runs[i] == 0)
            continue;
        r->gated = 1;
        r->prefiltered = 1;
        if (fs[i].n == 0) {
            unsigned *min = &p->run_min[side][cls[i]];
            r->run_gate = runs[i];
            r->run_class = cls[i];
            if (*min == 0 || runs[i] < *min)
                *min = runs[i];
        }
        /* the id is the rule's index: the callback marks rx_hit[id] */
        ce = NULL;
        if (hs_compile_multi(&ex, &f, &id, 1, HS_MODE_BLOCK, NULL,
                &r->pf_db, &ce) != HS_SUCCESS) {
            hs_free_compile_error(ce);
            r->pf_db = NULL;            /* PCRE2 runs when the gate fires */
        }
    }
out:
    free(fs);
    free(runs);
    free(cls);
    free(lit);
    free(len);
    free(ids);
    free(fl);
    return rc;
}

static int build_prefilter(sluice_policy *p, int on_original)
{
    size_t n = 0;
    const char **ex = calloc(p->nrules ? p->nrules : 1, sizeof *ex);
    unsigned *fl = calloc(p->nrules ? p->nrules : 1, sizeof *fl);
    unsigned *ids = calloc(p->nrules ? p->nrules : 1, sizeof *ids);
    int rc = 0;
    if (ex == NULL || fl == NULL || ids == NULL) {
        rc = SLUICE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->nrules; i++) {
        crule *r = &p->rules[i];
        if (r->re == NULL || (r->src->on == PSRC_ON_ORIGINAL) != on_original ||
            r->gated)
            continue;
        unsigned f = RX_PREFILTER_FLAGS;
        hs_database_t *one = NULL;
        hs_compile_error_t *ce = NULL;
        if (hs_compile(r->src->regex, f, HS_MODE_BLOCK, NULL, &one, &ce) !=
            HS_SUCCESS) {
            hs_free_compile_error(ce);
            continue;   /* stays unfiltered: PCRE2 always runs */
        }
        hs_free_database(one);
        ex[n] = r->src->regex;
        fl[n] = f;
        ids[n] = (unsigned)i;
        n++;
    }
    if (n > 0) {
        hs_compile_error_t *ce = NULL;
        if (hs_compile_multi(ex, fl, ids, (unsigned)n, HS_MODE_BLOCK, NULL,
                &p->rx_db[on_original ? 0 : 1], &ce) != HS_SUCCESS) {
            hs_free_compile_error(ce);
            p->rx_db[on_original ? 0 : 1] = NULL;   /* all run unfiltered */
        } else {
            for (size_t k = 0; k < n; k++)
                p->rules[ids[k]].prefiltered = 1;
        }
    }
out:
    free(ex);
    free(fl);
    free(ids);
    return rc;
}

static int cmp_term(const void *a, const void *b, void *ctx)
{
    const mgroup *g = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    size_t lx = g->terms[x].len, ly = g->terms[y].len;
    int c = memcmp(g->bytes + g->off[x], g->bytes + g->off[y],
        lx < ly ? lx : ly);
    if (c != 0)
        return c;
    return lx < ly ? -1 : (lx > ly);
}

/* Hand the term bytes to the group and sort ids for prefix search. */
static int finish_group(gbuild *b)
{
    mgroup *g = b->g;
    g->bytes = b->bytes;
    g->off = b->off;
    b->bytes = NULL;
    b->off = NULL;
    g->sorted = malloc((g->nterms ? g->nterms : 1) * sizeof *g->sorted);
    if (g->sorted == NULL)
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < g->nterms; i++) {
        const unsigned char *t = g->bytes + g->off[i];
        g->sorted[i] = (uint32_t)i;
        if (g->terms[i].len > g->maxlen)
            g->maxlen = g->terms[i].len;
        g->first[t[0] >> 6] |= 1ull << (t[0] & 63);
        if (g->terms[i].native_gaps != 0)
            g->native_gaps = 1;
        if (g->terms[i].len >= 2) {
            unsigned k = (unsigned)t[0] << 8 | t[1];
            g->pair[k >> 6] |= 1ull << (k & 63);
        }
    }
    qsort_r(g->sorted, g->nterms, sizeof *g->sorted, cmp_term, g);
    return 0;
}

/*
 * Left context a streaming session keeps before its commit point, so a
 * re-scan of its window sees what a whole-text check would: the word-break
 * window, regex look-behind, co-occurrence windows.
 */
static size_t stream_context(const sluice_policy *p)
{
    size_t ctx = 128;
    for (size_t i = 0; i < p->nrules; i++) {
        const crule *r = &p->rules[i];
        size_t need = 0;
        if (r->re != NULL) {
            uint32_t lb = 0;
            if (pcre2_pattern_info(r->re, PCRE2_INFO_MAXLOOKBEHIND, &lb) == 0)
                need = (size_t)lb * 4 + 16;
        }
        if (r->src->kind == PSRC_ALL && r->group >= 0)
            need = (size_t)r->src->within * 4 + p->groups[r->group].maxlen * 4 + 64;
        if (need > ctx)
            ctx = need;
    }
    return ctx;
}

static void gbuild_free(gbuild *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(b[i].bytes);
        free(b[i].off);
        free(b[i].dd.slots);
    }
}

static int add_all_terms(sluice_policy *p, gbuild *gb, sluice_error *err)
{
    psrc *src = p->src;
    norm_out no;
    int rc = 0;
    norm_out_init(&no);
    for (size_t i = 0; i < p->nrules && rc == 0; i++) {
        crule *r = &p->rules[i];
        if (r->group < 0)
            continue;
        for (size_t j = 0; j < r->src->nterms && rc == 0; j++) {
            const psrc_term *t = &r->src->terms[j];
            rc = add_term(&gb[r->group], p->nt, &no, t->text, t->file,
                t->line, (uint32_t)i, (uint32_t)j, err);
        }
    }
    if (rc == 0 && src->nallow > 0) {
        int g = group_for(p, src->normalize & NORM_DEFAULT);
        if (g < 0)
            rc = cerr(err, SLUICE_EPOLICY, src->files[0], 0,
                "too many distinct normalizations");
        else if (gb[g].g == NULL) {
            gb[g].g = &p->groups[g];
            rc = dedup_init(&gb[g].dd, 16);
        }
        for (size_t j = 0; j < src->nallow && rc == 0; j++) {
            const psrc_term *t = &src->allow[j];
            rc = add_term(&gb[g], p->nt, &no, t->text, t->file, t->line,
                RULE_ALLOW, (uint32_t)j, err);
        }
    }
    norm_out_free(&no);
    return rc;
}

/* Source file names are relative to the policy directory: say where. */
static void prefix_dir(sluice_error *err, const char *dir)
{
    char tmp[sizeof err->file];
    if (err == NULL || dir == NULL || err->file[0] == '\0' ||
        err->file[0] == '/' || strcmp(dir, ".") == 0)
        return;
    int n = snprintf(tmp, sizeof tmp, "%s/%s", dir, err->file);
    if (n > 0 && (size_t)n < sizeof tmp)
        memcpy(err->file, tmp, (size_t)n + 1);
}

int policy_compile(sluice_policy **out, psrc *src, sluice_error *err)
{
    double t0 = policy_now_ms();
    gbuild gb[MAX_GROUPS];
    int rc;

    *out = NULL;
    memset(gb, 0, sizeof gb);
    sluice_policy *p = calloc(1, sizeof *p);
    if (p == NULL) {
        psrc_free(src);
        return cerr(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    }
    atomic_init(&p->refs, 1);
    p->src = src;
    if (pthread_mutex_init(&p->pool_lock, NULL) != 0) {
        free(p);
        psrc_free(src);
        return cerr(err, SLUICE_EINTERNAL, NULL, 0, "mutex init failed");
    }
    for (int i = 0; i < 32; i++) {
        static const char hex[] = "0123456789abcdef";
        p->hash_hex[2 * i] = hex[src->hash[i] >> 4];
        p->hash_hex[2 * i + 1] = hex[src->hash[i] & 15];
    }
    p->hash_hex[64] = '\0';
    p->regex_flags = src->normalize & NORM_DEFAULT & ~NORM_SKIP_NOISE;

    if ((rc = norm_tables_new(&p->nt, err)) != 0)
        goto fail;
    p->nrules = src->nrules;
    p->rules = calloc(p->nrules ? p->nrules : 1, sizeof *p->rules);
    if (p->rules == NULL) {
        rc = cerr(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
        goto fail;
    }
    size_t total = 0;
    for (size_t i = 0; i < p->nrules; i++) {
        if ((rc = resolve_rule(p, i, err)) != 0)
            goto fail;
        total += src->rules[i].nterms;
    }
    p->nterms = total;
    for (size_t i = 0; i < p->ngroups; i++) {
        gb[i].g = &p->groups[i];
        if ((rc = dedup_init(&gb[i].dd, total)) != 0) {
            cerr(err, rc, NULL, 0, "out of memory");
            goto fail;
        }
    }
    if ((rc = add_all_terms(p, gb, err)) != 0)
        goto fail;
    for (size_t i = 0; i < p->ngroups; i++) {
        if ((rc = build_db(&gb[i], err, src->files[0])) != 0)
            goto fail;
        if ((rc = finish_group(&gb[i])) != 0) {
            cerr(err, rc, NULL, 0, "out of memory");
            goto fail;
        }
    }
    gbuild_free(gb, MAX_GROUPS);
    memset(gb, 0, sizeof gb);      /* the failure path frees it again */
    p->stream_context = stream_context(p);
    if ((rc = build_gates(p, 1)) != 0 || (rc = build_gates(p, 0)) != 0 ||
        (rc = build_prefilter(p, 1)) != 0 ||
        (rc = build_prefilter(p, 0)) != 0) {
        cerr(err, rc, NULL, 0, "out of memory");
        goto fail;
    }
#ifdef __GLIBC__
    /* Compiling a large term set leaves hundreds of MB of freed heap that
       glibc keeps mapped; hand it back so a loaded engine stays small. */
    malloc_trim(0);
#endif
    p->compile_ms = policy_now_ms() - t0;
    *out = p;
    return 0;
fail:
    gbuild_free(gb, MAX_GROUPS);
    prefix_dir(err, src->dir);
    sluice_policy_unref(p);
    return rc;
}
