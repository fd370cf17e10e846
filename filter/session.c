/*
 * session.c - streaming checks: one output arriving in chunks.
 *
 * Design. A session keeps the bytes it has not released, plus some left
 * context, in one buffer (the window). Each feed re-runs the whole-text
 * matcher over the window in streaming mode, in which anything that could
 * still change with more text is "pending": a literal hit at the end of
 * a normalized stream, a word boundary whose ICU window is not all there,
 * a partial regex match (PCRE2_PARTIAL_HARD), a co-occurrence window that
 * may yet complete. Added to those, any suffix of a normalized stream that
 * is a prefix of a term may grow into a match. The hold point R is the
 * lowest original offset any of these starts at.
 *
 * Invariant: every candidate of the whole text that starts before the
 * commit frontier F has been committed (recorded with its span, rule and
 * action), and none that starts at or after it. Each feed commits the
 * window's candidates in [F, R) and moves F to R. Bytes are released up
 * to R, with committed redactions applied, except that a redaction that
 * straddles R holds the release at its start. A committed block stops the
 * session with the refusal.
 *
 * The window keeps `stream_context` bytes before F (a policy property:
 * ICU's word-break window, regex look-behind, co-occurrence reach), so
 * that the re-scan sees around every candidate at or after F what a
 * whole-text check would. Candidates before F found again are ignored.
 *
 * Memory: the window is at most held bytes + context; over `max_held` the
 * session fails closed (block, reason "session_limit").
 *
 * Strikes (state/, docs/redis.md): when the engine uses Redis and the
 * session has a subject, its start asks whether the subject is suspended
 * (a suspension with `block` blocks the session at its first feed,
 * reason "subject_suspended"), and its decisive verdict (the block, or
 * the verdict at finish) is counted before it is recorded.
 */
#include <stdlib.h>
#include <string.h>

#include "filter/check.h"
#include "filter/engine.h"
#include "filter/label.h"
#include "filter/verdict.h"
#include "state/state.h"

#define DEFAULT_MAX_HELD ((size_t)1 << 20)

typedef struct cspan {
    uint64_t start, end;   /* absolute original offsets */
    uint32_t rule;
    const char *term;      /* borrowed from the policy, or NULL */
} cspan;

/* Span i of s->spans, for check_refusal. */
static void cspan_at(const void *spans, size_t i, size_t *start,
    size_t *end, uint32_t *rule)
{
    const cspan *c = (const cspan *)spans + i;
    *start = (size_t)c->start;
    *end = (size_t)c->end;
    *rule = c->rule;
}

struct sluice_session {
    sluice_engine *engine;
    sluice_policy *pol;         /* pinned reference */
    policy_scratch *scratch;    /* borrowed from pol's pool for our life */
    sluice_meta meta;           /* owned copies */
    char *meta_buf;

    char *buf;                  /* original bytes from `base` on */
    size_t blen, bcap;
    uint64_t base;              /* absolute offset of buf[0] */
    uint64_t total;             /* bytes fed */
    uint64_t frontier;          /* F: commit frontier */
    uint64_t released;          /* bytes of input released (<= F) */
    uint64_t first_cjk;         /* absolute, UINT64_MAX if none yet */
    uint64_t cjk_scanned;       /* input scanned for first_cjk */

    cspan *spans;               /* committed, in start order */
    size_t nspans, capspans;
    size_t span_emit;           /* first span not yet fully released */
    size_t kept;                /* spans kept for the verdict (cap) */
    int truncated;
    uint8_t *fired;
    uint64_t *rx_end;           /* per rule: end of its last regex match
                                   starting before F (absolute); the
                                   next starts there at the earliest */
    int action;
    const char *reason;

    norm_state inv_state;       /* counts invalid UTF-8 exactly as */
    norm_out inv_out;           /* a whole-text check would */
    size_t invalid;

    char *out;                  /* released bytes of the last call */
    size_t olen, ocap;
    size_t max_held;
    size_t max_spans;
    int stopped, finished;
    sluice_verdict *stop_verdict;
    void *digest_ledger;        /* ledger whose key digests the output */
    crypto_generichash_blake2b_state digest;
    /* a leading explicit label (hold_for_label, emit_lead_label) */
    int lead;                   /* LEAD_*: 0 until the first step */
    int lead_zh;                /* its language, once LEAD_READY */
    size_t lead_scan;           /* input looked at for its language */
    state_attach *state;        /* Redis strikes: a reference, or NULL */
    sluice_state_info sinfo;    /* what Redis said at the start */
    int suspended_block;        /* the subject is suspended: block */
};

/* ---- small buffers ------------------------------------------------------ */

static int out_put(sluice_session *s, const char *p, size_t n)
{
    if (s->olen + n + 1 > s->ocap) {
        size_t c = s->ocap ? s->ocap : 256;
        while (c < s->olen + n + 1)
            c *= 2;
        char *q = realloc(s->out, c);
        if (q == NULL)
            return SLUICE_ENOMEM;
        s->out = q;
        s->ocap = c;
    }
    memcpy(s->out + s->olen, p, n);
    s->olen += n;
    s->out[s->olen] = '\0';
    return 0;
}

static int buf_append(sluice_session *s, const char *p, size_t n)
{
    if (s->blen + n > s->bcap) {
        size_t c = s->bcap ? s->bcap : 1024;
        while (c < s->blen + n)
            c *= 2;
        char *q = realloc(s->buf, c);
        if (q == NULL)
            return SLUICE_ENOMEM;
        s->buf = q;
        s->bcap = c;
    }
    if (n > 0)
        memcpy(s->buf + s->blen, p, n);
    s->blen += n;
    return 0;
}

static int copy_meta(sluice_session *s, const sluice_meta *m)
{
    const char *f[4] = {0};
    size_t need = 0;
    if (m == NULL)
        return 0;
    f[0] = m->request_id;
    f[1] = m->tenant;
    f[2] = m->subject;
    f[3] = m->model;
    for (int i = 0; i < 4; i++)
        need += f[i] ? strlen(f[i]) + 1 : 0;
    if (need == 0)
        return 0;
    s->meta_buf = malloc(need);
    if (s->meta_buf == NULL)
        return SLUICE_ENOMEM;
    char *w = s->meta_buf;
    const char **dst[4] = {&s->meta.request_id, &s->meta.tenant,
        &s->meta.subject, &s->meta.model};
    for (int i = 0; i < 4; i++) {
        if (f[i] == NULL)
            continue;
        size_t n = strlen(f[i]) + 1;
        memcpy(w, f[i], n);
        *dst[i] = w;
        w += n;
    }
    return 0;
}

/* ---- life cycle --------------------------------------------------------- */

int sluice_session_new(sluice_session **out, sluice_engine *e,
    const sluice_meta *meta, const sluice_session_options *opts,
    sluice_error *err)
{
    if (out == NULL || e == NULL)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_session_new: out and engine are required");
    *out = NULL;
    if (opts != NULL && opts->version != SLUICE_SESSION_OPTIONS_VERSION)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_session_options.version is %u, expected %u",
            opts->version, SLUICE_SESSION_OPTIONS_VERSION);
    sluice_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    s->engine = e;
    s->pol = sluice_engine_policy(e);
    if (s->pol == NULL) {
        free(s);
        return psrc_error(err, SLUICE_ENOPOLICY, NULL, 0,
            "no policy loaded: output must not be released");
    }
    s->max_held = opts && opts->max_held ? opts->max_held : DEFAULT_MAX_HELD;
    s->max_spans = engine_max_spans(e);
    s->first_cjk = UINT64_MAX;
    norm_state_init(&s->inv_state, 0, 0);
    norm_out_init(&s->inv_out);
    s->inv_out.text_only = 1;     /* only its invalid count is read */
    s->digest_ledger = engine_digest_start(e, &s->digest);
    s->scratch = policy_scratch_get(s->pol);
    s->fired = calloc(s->pol->nrules ? s->pol->nrules : 1, 1);
    s->rx_end = calloc(s->pol->nrules ? s->pol->nrules : 1,
        sizeof *s->rx_end);
    /* never NULL, even before the first byte: the matchers (PCRE2) take
       an empty text as a pointer and a length, not as NULL */
    s->bcap = 1024;
    s->buf = malloc(s->bcap);
    if (s->scratch == NULL || s->fired == NULL || s->rx_end == NULL ||
        s->buf == NULL ||
        copy_meta(s, meta) != 0) {
        sluice_session_free(s);
        return psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    }
    s->state = engine_state_ref(e);
    if (s->state != NULL)
        s->suspended_block = state_session_open(s->state, s->pol,
            meta ? &s->meta : NULL, &s->sinfo);
    *out = s;
    return 0;
}

void sluice_session_free(sluice_session *s)
{
    if (s == NULL)
        return;
    if (s->scratch != NULL)
        policy_scratch_put(s->pol, s->scratch);
    sluice_verdict_free(s->stop_verdict);
    state_attach_unref(s->state);
    sluice_policy_unref(s->pol);
    norm_out_free(&s->inv_out);
    sodium_memzero(&s->digest, sizeof s->digest);
    free(s->meta_buf);
    free(s->buf);
    free(s->spans);
    free(s->fired);
    free(s->rx_end);
    free(s->out);
    free(s);
}

size_t sluice_session_held(const sluice_session *s)
{
    return s ? (size_t)(s->total - s->released) : 0;
}

/* ---- holding back ------------------------------------------------------- */

/* Bytes at the end of b[0..n) that begin a UTF-8 sequence not yet whole. */
static size_t incomplete_tail(const char *b, size_t n)
{
    const unsigned char *u = (const unsigned char *)b;
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = u[n - k];
        if ((c & 0xC0) == 0x80)
            continue;           /* continuation: look further back */
        size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ?
            3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
        return need > k ? k : 0;
    }
    return 0;
}

/*
 * Is p[0..n) a prefix of some term of g (binary search over sorted)?
 * With `need_gap`, only of a term with noise of its own right after the
 * prefix (the one kind of term noise past the gap limit cannot stop).
 */
static int is_term_prefix(const mgroup *g, const unsigned char *p, size_t n,
    int need_gap)
{
    size_t lo = 0, hi = g->nterms;
    if (n >= 2) {
        unsigned k = (unsigned)p[0] << 8 | p[1];
        if (!(g->pair[k >> 6] >> (k & 63) & 1u))
            return 0;
    } else if (n == 1 && !(g->first[p[0] >> 6] >> (p[0] & 63) & 1u)) {
        return 0;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const cterm *t = &g->terms[g->sorted[mid]];
        size_t m = t->len < n ? t->len : n;
        int c = memcmp(g->bytes + g->off[g->sorted[mid]], p, m);
        if (c == 0 && t->len < n)
            c = -1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!need_gap) {
        if (lo == g->nterms)
            return 0;
        const cterm *t = &g->terms[g->sorted[lo]];
        return t->len >= n &&
            memcmp(g->bytes + g->off[g->sorted[lo]], p, n) == 0;
    }
    uint32_t k = 0;                      /* code points in the prefix */
    for (size_t i = 0; i < n; i++)
        k += (p[i] & 0xC0) != 0x80;
    if (k >= 64)
        return 1;                        /* past what native_gaps records */
    for (size_t i = lo, seen = 0; i < g->nterms; i++, seen++) {
        const cterm *t = &g->terms[g->sorted[i]];
        if (t->len < n || memcmp(g->bytes + g->off[g->sorted[i]], p, n) != 0)
            return 0;                    /* past the terms with this prefix */
        if ((t->native_gaps >> k) & 1u || seen >= 256)
            return 1;                    /* (or too many to look at: hold) */
    }
    return 0;
}

/*
 * In *hold, the original offset where the longest suffix of group gi's
 * stream that is a prefix of one of its terms begins (a match may still
 * grow from there), or `none` if no suffix is. Returns 0 or ENOMEM.
 */
static int prefix_hold(const sluice_policy *p, policy_scratch *sc,
    size_t gi, size_t none, size_t *hold)
{
    const mgroup *g = &p->groups[gi];
    const norm_out *o = &sc->norm[gi];
    *hold = none;
    if (g->nterms == 0 || o->len == 0)
        return 0;
    /* the texts the terms were looked for in: the stream, or its views
       (runs merged across noise; leet symbols read as noise) */
    for (int k = -1; k < 2; k++) {
        const sview *v = k < 0 ? NULL : check_view(sc, gi, k);
        const unsigned char *text = v ? v->text : o->text;
        size_t len = v ? v->len : o->len, h;
        unsigned tg = v ? v->tail_gap : o->tail_gap;
        if (k < 0 && check_view(sc, gi, 0) != NULL)
            continue;                    /* the merged view replaces it */
        if (k >= 0 && v == NULL)
            continue;
        /* noise past the gap rule's limit after the end: no suffix can
           continue into a term, unless the term has noise of its own
           there */
        int blocked = (g->flags & NORM_SKIP_NOISE) &&
            ((int)(tg & NORM_GAP_COUNT) > p->src->max_gap ||
             (tg & NORM_GAP_BREAK));
        if (blocked && !g->native_gaps)
            continue;
        size_t from = len > g->maxlen ? len - g->maxlen : 0;
        for (size_t q = from; q < len; q++) {
            if ((text[q] & 0xC0) == 0x80)
                continue;
            if (!is_term_prefix(g, text + q, len - q, blocked))
                continue;
            int rc = check_stream_src(sc, gi, v ? check_view_src(v, q) : q,
                &h);
            if (rc != 0)
                return rc;
            if (h < *hold)
                *hold = h;
            break;
        }
    }
    return 0;
}

/* ---- committing and releasing ------------------------------------------ */

static int commit(sluice_session *s, const cand *c)
{
    const crule *r = &s->pol->rules[c->rule];
    if (s->nspans == s->capspans) {
        size_t n = s->capspans ? s->capspans * 2 : 16;
        cspan *q = realloc(s->spans, n * sizeof *q);
        if (q == NULL)
            return SLUICE_ENOMEM;
        s->spans = q;
        s->capspans = n;
    }
    cspan *sp = &s->spans[s->nspans++];
    sp->start = s->base + c->start;
    sp->end = s->base + c->end;
    sp->rule = c->rule;
    sp->term = check_cand_term(s->pol, c);
    s->fired[c->rule] = 1;
    if (r->action > s->action)
        s->action = r->action;
    return 0;
}

/* The original byte at absolute offset `abs` (must be in the buffer). */
static const char *at(const sluice_session *s, uint64_t abs)
{
    return s->buf + (size_t)(abs - s->base);
}

/*
 * Release input up to absolute `upto`, redacting committed spans; a merged
 * redaction that ends after `upto` stops the release at its start.
 */
static int release(sluice_session *s, uint64_t upto)
{
    const sluice_policy *p = s->pol;
    size_t i = s->span_emit;
    while (s->released < upto) {
        /* next redact span at or after released */
        while (i < s->nspans && (p->rules[s->spans[i].rule].action !=
            SLUICE_REDACT || s->spans[i].end <= s->released))
            i++;
        uint64_t a = i < s->nspans ? s->spans[i].start : UINT64_MAX;
        if (a < s->released)
            a = s->released;
        if (a >= upto) {
            int rc = out_put(s, at(s, s->released),
                (size_t)(upto - s->released));
            if (rc != 0)
                return rc;
            s->released = upto;
            break;
        }
        uint64_t b = s->spans[i].end;
        size_t k = i + 1;
        for (; k < s->nspans && s->spans[k].start < b; k++)
            if (p->rules[s->spans[k].rule].action == SLUICE_REDACT &&
                s->spans[k].end > b)
                b = s->spans[k].end;
        if (b > upto) {   /* straddles: release up to its start only */
            int rc = out_put(s, at(s, s->released),
                (size_t)(a - s->released));
            if (rc != 0)
                return rc;
            s->released = a;
            break;
        }
        const crule *r = &p->rules[s->spans[i].rule];
        const char *m = check_lang_zh(p, (size_t)(s->first_cjk ==
            UINT64_MAX ? SIZE_MAX : s->first_cjk), (size_t)b) ?
            r->mask_zh : r->mask_en;
        int rc = out_put(s, at(s, s->released), (size_t)(a - s->released));
        if (rc == 0)
            rc = out_put(s, m, strlen(m));
        if (rc != 0)
            return rc;
        s->released = b;
        i = k;
    }
    s->span_emit = i;
    return 0;
}

/* Track the first ideograph over the bytes now in the buffer. */
static void scan_cjk(sluice_session *s, uint64_t upto)
{
    if (s->first_cjk != UINT64_MAX || upto <= s->cjk_scanned)
        return;
    uint64_t from = s->cjk_scanned > s->base + 2 ? s->cjk_scanned - 2 :
        s->base;
    size_t off = check_first_cjk(at(s, from), (size_t)(upto - from));
    if (off != SIZE_MAX)
        s->first_cjk = from + off;
    s->cjk_scanned = upto;
}

/* Drop buffer bytes no longer needed: before both released and F - ctx. */
static void trim(sluice_session *s)
{
    uint64_t ctx = s->pol->stream_context;
    uint64_t keep = s->frontier > ctx ? s->frontier - ctx : 0;
    if (s->released < keep)
        keep = s->released;
    if (keep <= s->base)
        return;
    while (keep > s->base && (*at(s, keep) & 0xC0) == 0x80)
        keep--;
    size_t drop = (size_t)(keep - s->base);
    if (drop < 4096 && drop * 2 < s->blen)
        return;   /* amortize the move */
    memmove(s->buf, s->buf + drop, s->blen - drop);
    s->blen -= drop;
    s->base = keep;
}

/* ---- the step ------------------------------------------------------------ */

static int make_verdict(sluice_session *s, sluice_verdict **out);
static uint64_t hold_for_label(sluice_session *s, uint64_t R, size_t wend,
    int final);
static int emit_lead_label(sluice_session *s);
static int finish_labels(sluice_session *s, sluice_release *out,
    sluice_verdict *v);

/* Count v as a strike (when the engine uses Redis), then record it with
   the digest of everything fed so far. */
static int record(sluice_session *s, sluice_verdict *v)
{
    unsigned char dg[32];
    const unsigned char *d = NULL;
    if (s->state != NULL) {
        int rc = state_session_close(s->state, v, &s->meta, &s->sinfo);
        if (rc != 0)
            return rc;
    }
    if (s->digest_ledger != NULL) {
        crypto_generichash_blake2b_state st = s->digest;
        if (crypto_generichash_blake2b_final(&st, dg, sizeof dg) == 0)
            d = dg;
        sodium_memzero(&st, sizeof st);
    }
    return engine_record_digest(s->engine, v, &s->meta, NULL, 0,
        s->digest_ledger, d);
}

static int stop_with(sluice_session *s, const char *reason, sluice_release *r)
{
    s->stopped = 1;
    s->action = SLUICE_BLOCK;
    if (reason != NULL && s->reason == NULL)
        s->reason = reason;
    int rc = make_verdict(s, &s->stop_verdict);
    if (rc != 0)
        return rc;
    /* a block is recorded the moment it happens */
    rc = record(s, s->stop_verdict);
    if (rc != 0)
        return rc;
    r->data = sluice_verdict_output(s->stop_verdict, &r->len);
    r->stop = 1;
    return 0;
}

/*
 * Re-scan the window, commit what is settled, release what is safe.
 * With `final`, nothing is pending: everything commits and releases.
 */
static int step(sluice_session *s, int final, sluice_release *r)
{
    sluice_policy *p = s->pol;
    policy_scratch *sc = s->scratch;
    size_t wend = final ? s->blen : s->blen - incomplete_tail(s->buf, s->blen);
    size_t inv = 0;
    int rc;

    r->data = NULL;
    r->len = 0;
    r->stop = 0;
    s->olen = 0;
    scan_cjk(s, s->base + wend);
    /* a whole-text scan looks for a regex's next match from the end of
       its last one: so does the window, past the frontier */
    for (size_t i = 0; i < p->nrules; i++)
        sc->rx_min[i] = s->rx_end[i] > s->base ?
            (size_t)(s->rx_end[i] - s->base) : 0;
    sc->rx_min_on = 1;
    if ((rc = check_window(p, sc, s->buf, wend, !final,
             (size_t)(s->frontier - s->base), &inv)) != 0)
        return rc;
    size_t hold = final ? wend : sc->pending_from;
    for (size_t g = 0; !final && g < p->ngroups; g++)
        if (p->groups[g].nterms != 0) {
            size_t h;
            if ((rc = prefix_hold(p, sc, g, wend, &h)) != 0)
                return rc;
            if (h < hold)
                hold = h;
        }
    uint64_t R = s->base + hold;
    if (R < s->frontier)
        R = s->frontier;   /* never un-commit */
    for (size_t i = 0; i < sc->ncands; i++) {
        uint64_t a = s->base + sc->cands[i].start;
        if (a >= s->frontier && a < R && (rc = commit(s, &sc->cands[i])) != 0)
            return rc;
    }
    for (size_t i = 0; i < sc->nrxm; i++) {
        const struct rx_match *m = &sc->rxm[i];
        if (s->base + m->start < R && s->base + m->end > s->rx_end[m->rule])
            s->rx_end[m->rule] = s->base + m->end;
    }
    s->frontier = R;
    if (sc->limited)
        return stop_with(s, "regex_limit", r);
    if (s->action == SLUICE_BLOCK)
        return stop_with(s, NULL, r);
    if (s->total - R > s->max_held)
        return stop_with(s, "session_limit", r);
    if ((rc = release(s, hold_for_label(s, R, wend, final))) != 0 ||
        (rc = emit_lead_label(s)) != 0)
        return rc;
    r->data = s->out ? s->out : "";
    r->len = s->olen;
    trim(s);
    return 0;
}

int sluice_session_feed(sluice_session *s, const char *chunk, size_t len,
    sluice_release *out)
{
    if (s == NULL || out == NULL || (chunk == NULL && len > 0))
        return SLUICE_EINVAL;
    out->data = NULL;
    out->len = 0;
    out->stop = 0;
    if (s->stopped || s->finished)
        return SLUICE_EMISUSE;
    if (s->suspended_block)
        return stop_with(s, "subject_suspended", out);
    int rc = buf_append(s, chunk, len);
    if (rc == 0 && s->digest_ledger != NULL && len > 0)
        rc = crypto_generichash_blake2b_update(&s->digest,
            (const unsigned char *)chunk, len) == 0 ? 0 : SLUICE_EINTERNAL;
    if (rc == 0) {
        rc = norm_feed(s->pol->nt, &s->inv_state, chunk, len, 0, &s->inv_out);
        s->invalid += s->inv_out.invalid;
        norm_out_reset(&s->inv_out);
    }
    if (rc != 0)
        return rc;
    s->total += len;
    return step(s, 0, out);
}

/* ---- the verdict ----------------------------------------------------------- */

static int make_verdict(sluice_session *s, sluice_verdict **out)
{
    const sluice_policy *p = s->pol;
    sluice_verdict *v = calloc(1, sizeof *v);
    size_t nr = 0;
    *out = NULL;
    if (v == NULL)
        return SLUICE_ENOMEM;
    v->policy = sluice_policy_ref(s->pol);
    v->action = (sluice_action)s->action;
    v->invalid = s->invalid;
    v->reason = s->reason;
    for (size_t i = 0; i < p->nrules; i++)
        nr += s->fired[i];
    v->nspans = s->nspans < s->max_spans ? s->nspans : s->max_spans;
    v->truncated = s->nspans > s->max_spans;
    const char *o = "";
    if (v->action == SLUICE_BLOCK)
        o = check_refusal(p, s->spans, s->nspans, cspan_at, (size_t)s->total,
            s->first_cjk == UINT64_MAX ? SIZE_MAX : (size_t)s->first_cjk);
    if (verdict_lists(v, nr, v->nspans, o, strlen(o)) != 0)
        goto nomem;
    check_fill_rules(p, s->fired, v);
    for (size_t i = 0; i < v->nspans; i++) {
        v->spans[i].start = (size_t)s->spans[i].start;
        v->spans[i].end = (size_t)s->spans[i].end;
        v->spans[i].rule = p->rules[s->spans[i].rule].id;
        v->spans[i].action = (sluice_action)p->rules[s->spans[i].rule].action;
        v->spans[i].term = s->spans[i].term;
    }
    *out = v;
    return 0;
nomem:
    sluice_verdict_free(v);
    return SLUICE_ENOMEM;
}

int sluice_session_finish(sluice_session *s, sluice_release *out,
    sluice_verdict **verdict)
{
    int rc;
    if (s == NULL || out == NULL || verdict == NULL)
        return SLUICE_EINVAL;
    *verdict = NULL;
    out->data = NULL;
    out->len = 0;
    out->stop = 0;
    if (s->finished)
        return SLUICE_EMISUSE;
    s->finished = 1;
    if (!s->stopped && s->suspended_block &&
        (rc = stop_with(s, "subject_suspended", out)) != 0)
        return rc;
    if (s->stopped) {
        *verdict = s->stop_verdict;
        s->stop_verdict = NULL;
        return *verdict ? 0 : SLUICE_EMISUSE;
    }
    rc = norm_feed(s->pol->nt, &s->inv_state, NULL, 0, 1, &s->inv_out);
    if (rc != 0)
        return rc;
    s->invalid += s->inv_out.invalid;
    norm_out_reset(&s->inv_out);
    if ((rc = step(s, 1, out)) != 0)
        return rc;
    if (out->stop) {
        *verdict = s->stop_verdict;
        s->stop_verdict = NULL;
        return 0;
    }
    if ((rc = make_verdict(s, verdict)) != 0)
        return rc;
    rc = record(s, *verdict);
    if (rc == 0)
        rc = finish_labels(s, out, *verdict);
    if (rc != 0) {
        sluice_verdict_free(*verdict);
        *verdict = NULL;
    }
    return rc;
}

/* ---- labels (filter/label.c, docs/labels.md) --------------------------- */

enum { LEAD_UNSET = 0, LEAD_NONE, LEAD_WAIT, LEAD_READY, LEAD_SENT };

/*
 * How far step() may release, given the commit point R. With `always` and
 * `position: start` the explicit label goes before the first released
 * byte, in a language that may depend on the text's first letter
 * (label_start_zh): until that is known, nothing is released. Nothing
 * released means nothing trimmed, so the buffer still starts at byte 0.
 */
static uint64_t hold_for_label(sluice_session *s, uint64_t R, size_t wend,
    int final)
{
    if (s->lead == LEAD_UNSET)
        s->lead = label_leads(s->pol) ? LEAD_WAIT : LEAD_NONE;
    if (s->lead != LEAD_WAIT)
        return R;
    int zh = label_start_zh(s->pol, s->buf, wend, &s->lead_scan, final);
    if (zh < 0)
        return s->released;
    s->lead_zh = zh;
    s->lead = LEAD_READY;
    return R;
}

/* Put the leading label and its separator before the first bytes
   released (s->out holds this step's release). */
static int emit_lead_label(sluice_session *s)
{
    if (s->lead != LEAD_READY || s->released == 0)
        return 0;
    const char *lab = label_text(s->pol, s->lead_zh);
    const char *sep = label_separator(s->pol);
    size_t ll = strlen(lab), sl = strlen(sep), old = s->olen;
    int rc;
    if ((rc = out_put(s, lab, ll)) != 0 || (rc = out_put(s, sep, sl)) != 0)
        return rc;
    memmove(s->out + ll + sl, s->out, old);
    memcpy(s->out, lab, ll);
    memcpy(s->out + ll, sep, sl);
    s->lead = LEAD_SENT;
    return 0;
}

/*
 * The finished, recorded verdict v of a session that was not stopped:
 * a label at the end joins the last release (*out), and v gets its label
 * fields as a whole-text check of the same text would.
 */
static int finish_labels(sluice_session *s, sluice_release *out,
    sluice_verdict *v)
{
    int plan = label_plan(v);
    if (plan == SLUICE_LABEL_AT_START && s->lead == LEAD_SENT)
        return label_finish(v, plan, s->lead_zh);
    if (plan != SLUICE_LABEL_AT_END || s->total == 0)
        return label_finish(v, LABEL_NONE, 0);
    int zh = label_end_zh(s->pol, s->first_cjk != UINT64_MAX);
    const char *lab = label_text(s->pol, zh), *sep = label_separator(s->pol);
    int rc;
    if ((rc = out_put(s, sep, strlen(sep))) != 0 ||
        (rc = out_put(s, lab, strlen(lab))) != 0)
        return rc;
    out->data = s->out;
    out->len = s->olen;
    return label_finish(v, plan, zh);
}
