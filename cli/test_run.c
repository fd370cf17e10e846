/*
 * test_run.c - running one case of `sluice test`: its input checked as a
 * whole text, the verdict compared with what the case expects, and for a
 * `stream: true` case the same input fed through streaming sessions in
 * ten chunkings, each judged against the whole text's verdict.
 *
 * Comparison: only the keys present under `expect` are checked. `rules`
 * and `categories` are sets (order and repeats do not matter) and must
 * equal what fired; `output` is compared byte for byte; `spans` is a
 * multiset of [start, end) byte ranges of the original input, each with a
 * rule or, when the case leaves it out, any rule.
 *
 * Streaming: the chunkings are whole, one byte at a time, and eight
 * random ones that cut inside UTF-8 sequences and feed empty chunks,
 * drawn from --seed, the test file's name and the case's name (so that
 * neither --filter nor the spelling of the policy path changes them);
 * repeats are dropped. Each run must give the whole text's verdict and
 * release its output (docs/streaming.md, "The guarantee"; a blocked text
 * stops at its first block, so there the stream's spans are the whole
 * text's up to that point and what it released before the refusal is the
 * redacted text before the block). The first run that differs is
 * described in r->stream_diff.
 *
 * Ownership: a result owns its verdict and its stream diff; the case and
 * the engine are borrowed. A failed library call is the case's failure;
 * only running out of memory is an error of the run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/mutate.h"
#include "cli/test_internal.h"

#define STREAM_RUNS 10     /* chunkings per stream case */
#define ONE_BYTE_MAX ((size_t)64 << 10)  /* longer inputs: 1..4 bytes */
#define CUTS_SHOWN 40      /* cut offsets printed for a chunking */

/* ------------------------------------------------------------------------
 * Small helpers: a byte buffer, time
 * ---------------------------------------------------------------------- */

/* A growable byte buffer, NUL-terminated; owns p. */
typedef struct tbuf {
    char *p;
    size_t n, cap;
} tbuf;

static int tbuf_put(tbuf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - b->n - 1)
        return -1;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n + 1) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

static double now_secs(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------
 * Comparing
 * ---------------------------------------------------------------------- */

/* Verdict lists are distinct by contract: equal sizes + inclusion = equal. */
static int names_equal(const test_strset *want, const sluice_verdict *v,
    size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    size_t n = count(v);
    if (n != want->n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!cli_test_strset_has(want, get(v, i)))
            return 0;
    return 1;
}

/*
 * Match expected spans to the verdict's, one to one: first those naming a
 * rule, then those leaving it open (which any rule can fill). Returns 1
 * equal, 0 different, -1 out of memory.
 */
static int spans_equal(const test_case *tc, const sluice_verdict *v)
{
    size_t n = sluice_verdict_span_count(v);
    int eq = 1;

    if (n != tc->nspans || sluice_verdict_spans_truncated(v))
        return 0;
    unsigned char *used = calloc(n ? n : 1, 1);
    if (used == NULL)
        return -1;
    for (int pass = 0; pass < 2 && eq; pass++) {
        for (size_t i = 0; i < tc->nspans && eq; i++) {
            const test_span *w = &tc->spans[i];
            size_t j;
            if ((pass == 0) != (w->rule != NULL))
                continue;
            for (j = 0; j < n; j++) {
                sluice_span g;
                if (used[j] || sluice_verdict_span(v, j, &g) != 0)
                    continue;
                if (g.start == w->start && g.end == w->end &&
                    (w->rule == NULL || strcmp(w->rule, g.rule) == 0))
                    break;
            }
            if (j == n)
                eq = 0;
            else
                used[j] = 1;
        }
    }
    free(used);
    return eq;
}

/* Fill r->mismatch. Returns 0, or -1 when out of memory. */
static int compare(const test_case *tc, const sluice_verdict *v,
    test_result *r)
{
    size_t len = 0;
    const char *out = sluice_verdict_output(v, &len);

    r->mismatch = 0;
    if ((tc->has & TEST_F_ACTION) &&
        (int)sluice_verdict_action(v) != tc->action)
        r->mismatch |= TEST_F_ACTION;
    if ((tc->has & TEST_F_RULES) && !names_equal(&tc->rules, v,
            sluice_verdict_rule_count, sluice_verdict_rule))
        r->mismatch |= TEST_F_RULES;
    if ((tc->has & TEST_F_CATEGORIES) && !names_equal(&tc->categories, v,
            sluice_verdict_category_count, sluice_verdict_category))
        r->mismatch |= TEST_F_CATEGORIES;
    if ((tc->has & TEST_F_OUTPUT) && (len != tc->output_len ||
            (len > 0 && memcmp(out, tc->output, len) != 0)))
        r->mismatch |= TEST_F_OUTPUT;
    if (tc->has & TEST_F_SPANS) {
        int eq = spans_equal(tc, v);
        if (eq < 0)
            return -1;
        if (!eq)
            r->mismatch |= TEST_F_SPANS;
    }
    return 0;
}

/* Run one case. A failed check is a failed case (r->error says why), not
 * an error of the run, except when memory runs out (-1, reported). */
static int run_case(sluice_engine *e, const test_case *tc, test_result *r)
{
    sluice_error err;
    int rc;

    memset(&err, 0, sizeof err);
    r->tc = tc;
    r->v = NULL;
    r->mismatch = 0;
    r->error[0] = '\0';
    rc = sluice_check(e, tc->input, tc->input_len, NULL, &r->v, &err);
    if (rc == SLUICE_ENOMEM || (rc == 0 && compare(tc, r->v, r) != 0))
        return cli_test_nomem();
    if (rc != 0) {
        r->v = NULL;
        snprintf(r->error, sizeof r->error, "%s", err.message[0] ?
            err.message : sluice_strerror(rc));
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Streaming runs (stream: true)
 * ---------------------------------------------------------------------- */

/* One way of cutting a text into chunks. */
typedef struct chunking {
    const char *label;     /* static */
    size_t *cuts;          /* owned: where each chunk after the first
                              starts, ascending; a repeated offset (or 0,
                              or the length) feeds an empty chunk */
    size_t ncuts, cap;
} chunking;

/* What one streaming run gave. */
typedef struct srun {
    tbuf out;              /* released bytes, the refusal included */
    size_t refusal_at;     /* where the refusal starts in out */
    size_t released_input; /* input bytes released before a stop */
    sluice_verdict *v;
    int stopped;
    int rc;                /* a failed call's code, else 0 */
    const char *call;      /* which call failed */
} srun;

static int cut_push(chunking *c, size_t at)
{
    if (c->ncuts == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        size_t *q = realloc(c->cuts, cap * sizeof *q);
        if (q == NULL)
            return -1;
        c->cuts = q;
        c->cap = cap;
    }
    c->cuts[c->ncuts++] = at;
    return 0;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Chunks of lo..hi bytes. */
static int cut_sized(chunking *c, size_t n, size_t lo, size_t hi,
    uint64_t *rng)
{
    for (size_t at = 0;;) {
        at += lo + (size_t)(cli_mut_rand(rng) % (hi - lo + 1));
        if (at >= n)
            return 0;
        if (cut_push(c, at) != 0)
            return -1;
    }
}

/* One to six cuts anywhere. */
static int cut_random(chunking *c, size_t n, uint64_t *rng)
{
    size_t m = 1 + (size_t)(cli_mut_rand(rng) % 6);
    for (size_t i = 0; i < m && n > 1; i++)
        if (cut_push(c, 1 + (size_t)(cli_mut_rand(rng) % (n - 1))) != 0)
            return -1;
    return 0;
}

/* Cuts inside multi-byte characters (before continuation bytes), each
 * with probability 1/2; one random cut if the text has none. */
static int cut_inside(chunking *c, const char *s, size_t n, uint64_t *rng)
{
    for (size_t i = 1; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) == 0x80 &&
            (cli_mut_rand(rng) & 1) && cut_push(c, i) != 0)
            return -1;
    return c->ncuts == 0 ? cut_random(c, n, rng) : 0;
}

/* Chunks of 1..8 bytes with an empty chunk in between and one at the
 * end. (Not before the first byte: a session fed nothing yet fails there
 * with SLUICE_ENOMEM, a library bug reported separately.) */
static int cut_empty(chunking *c, size_t n, uint64_t *rng)
{
    if (cut_sized(c, n, 1, 8, rng) != 0)
        return -1;
    if (c->ncuts > 0 && cut_push(c, c->cuts[(size_t)(cli_mut_rand(rng) %
            c->ncuts)]) != 0)
        return -1;
    return n > 0 ? cut_push(c, n) : 0;
}

/* Chunking k (0..STREAM_RUNS-1) of s[0..n). */
static int make_chunking(int k, const char *s, size_t n, uint64_t *rng,
    chunking *c)
{
    int rc = 0;

    memset(c, 0, sizeof *c);
    switch (k) {
    case 0:
        c->label = "whole";
        return 0;
    case 1:
        if (n <= ONE_BYTE_MAX) {
            c->label = "1-byte";
            for (size_t i = 1; i < n && rc == 0; i++)
                rc = cut_push(c, i);
            return rc;
        }
        c->label = "random 1-4 bytes";
        return cut_sized(c, n, 1, 4, rng);
    case 2: case 7:
        c->label = "random 1-3 bytes";
        rc = cut_sized(c, n, 1, 3, rng);
        break;
    case 3:
        c->label = "random 1-16 bytes";
        rc = cut_sized(c, n, 1, 16, rng);
        break;
    case 4: case 9:
        c->label = "random cuts";
        rc = cut_random(c, n, rng);
        break;
    case 5: case 8:
        c->label = "cuts inside characters";
        rc = cut_inside(c, s, n, rng);
        break;
    default:
        c->label = "empty chunks";
        rc = cut_empty(c, n, rng);
        break;
    }
    if (rc == 0 && c->ncuts > 1)
        qsort(c->cuts, c->ncuts, sizeof *c->cuts, cmp_size);
    return rc;
}

static int same_cuts(const chunking *a, const chunking *b)
{
    return a->ncuts == b->ncuts && (a->ncuts == 0 ||
        memcmp(a->cuts, b->cuts, a->ncuts * sizeof *a->cuts) == 0);
}

/* Feed the case's input through a session, cut as `c` says. Returns 0
 * (sr->rc says whether a library call failed, even for want of memory:
 * that is the case's failure), or -1 when keeping the released bytes
 * ran out of memory. */
static int stream_once(sluice_engine *e, const test_case *tc,
    const chunking *c, srun *sr)
{
    sluice_session *s = NULL;
    sluice_release rel;
    sluice_error err;
    size_t at = 0;
    int rc;

    memset(sr, 0, sizeof *sr);
    memset(&err, 0, sizeof err);
    if ((rc = sluice_session_new(&s, e, NULL, NULL, &err)) != 0) {
        sr->call = "sluice_session_new";
        goto out;
    }
    for (size_t i = 0; i <= c->ncuts && !sr->stopped; i++) {
        size_t end = i < c->ncuts ? c->cuts[i] : tc->input_len;
        rc = sluice_session_feed(s, tc->input + at, end - at, &rel);
        at = end;
        if (rc != 0) {
            sr->call = "sluice_session_feed";
            goto out;
        }
        if (rel.stop) {
            sr->stopped = 1;
            sr->refusal_at = sr->out.n;
            sr->released_input = at - sluice_session_held(s);
        }
        if (tbuf_put(&sr->out, rel.data, rel.len) != 0)
            goto oom;
    }
    if ((rc = sluice_session_finish(s, &rel, &sr->v)) != 0) {
        sr->call = "sluice_session_finish";
        goto out;
    }
    if (rel.stop && !sr->stopped) {
        sr->stopped = 1;
        sr->refusal_at = sr->out.n;
        sr->released_input = tc->input_len - sluice_session_held(s);
    }
    if (tbuf_put(&sr->out, rel.data, rel.len) != 0)
        goto oom;
out:
    sluice_session_free(s);
    sr->rc = rc;
    return 0;
oom:
    sluice_session_free(s);
    return -1;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_span(const sluice_span *a, const sluice_span *b)
{
    return a->start == b->start && a->end == b->end &&
        strcmp(a->rule, b->rule) == 0 && a->action == b->action &&
        same_str(a->term, b->term);
}

static int same_names(const sluice_verdict *a, const sluice_verdict *b,
    size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    if (count(a) != count(b))
        return 0;
    for (size_t i = 0; i < count(a); i++)
        if (strcmp(get(a, i), get(b, i)) != 0)
            return 0;
    return 1;
}

/* Spans a[0..n) equal b[0..n). */
static int same_spans(const sluice_verdict *a, const sluice_verdict *b,
    size_t n)
{
    sluice_span x, y;
    for (size_t i = 0; i < n; i++)
        if (sluice_verdict_span(a, i, &x) != 0 ||
            sluice_verdict_span(b, i, &y) != 0 || !same_span(&x, &y))
            return 0;
    return 1;
}

#define SD_PFX "            "   /* lines under "stream:" */

/* Differences of a run that must equal the whole text (not blocked). */
static size_t diff_unblocked(FILE *f, const sluice_verdict *w,
    const srun *sr)
{
    const sluice_verdict *v = sr->v;
    size_t wl = 0, nd = 0;
    const char *wo = sluice_verdict_output(w, &wl);

    if (sr->stopped && ++nd)
        fprintf(f, SD_PFX "stopped:  the stream was blocked (%s), the "
            "whole text was not\n", sluice_action_name(
            sluice_verdict_action(v)));
    else if (sluice_verdict_action(v) != sluice_verdict_action(w) && ++nd)
        fprintf(f, SD_PFX "action:   whole text %s, streamed %s\n",
            sluice_action_name(sluice_verdict_action(w)),
            sluice_action_name(sluice_verdict_action(v)));
    if (!same_names(w, v, sluice_verdict_rule_count, sluice_verdict_rule) &&
        ++nd) {
        fputs(SD_PFX "rules:    whole text ", f);
        cli_test_put_names(f, w, sluice_verdict_rule_count,
            sluice_verdict_rule);
        fputs(", streamed ", f);
        cli_test_put_names(f, v, sluice_verdict_rule_count,
            sluice_verdict_rule);
        fputc('\n', f);
    }
    if (!same_names(w, v, sluice_verdict_category_count,
            sluice_verdict_category) && ++nd)
        fputs(SD_PFX "categories differ\n", f);
    if ((sluice_verdict_span_count(w) != sluice_verdict_span_count(v) ||
         !same_spans(w, v, sluice_verdict_span_count(w))) && ++nd) {
        fputs(SD_PFX "spans:    whole text ", f);
        cli_test_put_spans(f, w);
        fputs(", streamed ", f);
        cli_test_put_spans(f, v);
        fputc('\n', f);
    }
    if ((wl != sr->out.n || (wl > 0 && memcmp(wo, sr->out.p, wl) != 0)) &&
        ++nd) {
        fputs(SD_PFX "released: whole text ", f);
        cli_test_put_quoted(f, wo, wl);
        fprintf(f, "\n" SD_PFX "          streamed   ");
        cli_test_put_quoted(f, sr->out.p ? sr->out.p : "", sr->out.n);
        fprintf(f, "\n" SD_PFX "          (first difference at byte %zu)\n",
            cli_test_first_diff(wo, wl, sr->out.p ? sr->out.p : "",
                sr->out.n));
    }
    return nd;
}

/*
 * What a blocked run released before the refusal must be the redacted
 * text of the input bytes it released. That text is known when a check of
 * just those bytes finds exactly the whole text's spans that lie in them
 * (then the masks are the same); when it finds others (a term cut short
 * that a boundary now accepts), nothing is claimed. Returns 1 if the
 * released bytes differ (described), 0 if not or unknown, -1 no memory.
 */
static int diff_released_prefix(FILE *f, sluice_engine *e, const test_case *tc,
    const sluice_verdict *w, const srun *sr)
{
    sluice_verdict *t = NULL;
    size_t ri = sr->released_input, k = 0, tl = 0;
    sluice_span x, y;
    int rc = sluice_check(e, tc->input, ri, NULL, &t, NULL), differs = 0;

    if (rc != 0)
        return rc == SLUICE_ENOMEM ? -1 : 0;
    int known = sluice_verdict_action(t) != SLUICE_BLOCK &&
        !sluice_verdict_spans_truncated(t);
    for (size_t i = 0; known && i < sluice_verdict_span_count(w); i++) {
        if (sluice_verdict_span(w, i, &x) != 0 || x.start >= ri)
            continue;
        known = x.end <= ri && k < sluice_verdict_span_count(t) &&
            sluice_verdict_span(t, k++, &y) == 0 && same_span(&x, &y);
    }
    known = known && k == sluice_verdict_span_count(t);
    const char *to = sluice_verdict_output(t, &tl);
    if (known && (tl != sr->refusal_at ||
            (tl > 0 && memcmp(to, sr->out.p, tl) != 0))) {
        differs = 1;
        fputs(SD_PFX "released: before the refusal, expected ", f);
        cli_test_put_quoted(f, to, tl);
        fprintf(f, " (the redacted text of the %zu input bytes released)\n"
            SD_PFX "          streamed ", ri);
        cli_test_put_quoted(f, sr->out.p, sr->refusal_at);
        fputc('\n', f);
    }
    sluice_verdict_free(t);
    return differs;
}

/* Differences of a run of a blocked text: it must stop at the first
 * block span, with the whole text's spans up to there, the refusal, and
 * no byte of the blocked span released. Returns the number of
 * differences, or (size_t)-1 when out of memory. */
static size_t diff_blocked(FILE *f, sluice_engine *e, const test_case *tc,
    const sluice_verdict *w, const srun *sr)
{
    const sluice_verdict *v = sr->v;
    size_t wn = sluice_verdict_span_count(w), sn = sluice_verdict_span_count(v);
    size_t wl = 0, nd = 0, b;
    const char *wo = sluice_verdict_output(w, &wl);
    sluice_span x, y;

    if (sluice_verdict_action(v) != SLUICE_BLOCK && ++nd)
        fprintf(f, SD_PFX "action:   whole text block, streamed %s\n",
            sluice_action_name(sluice_verdict_action(v)));
    if (!sr->stopped && ++nd)
        fputs(SD_PFX "stopped:  the stream was never stopped\n", f);
    if ((sn > wn || !same_spans(w, v, sn)) && ++nd) {
        fputs(SD_PFX "spans:    whole text ", f);
        cli_test_put_spans(f, w);
        fputs(", streamed ", f);
        cli_test_put_spans(f, v);
        fputs(" (not the whole text's first ones)\n", f);
    }
    for (b = 0; b < wn; b++)
        if (sluice_verdict_span(w, b, &x) == 0 && x.action == SLUICE_BLOCK)
            break;
    if (b < wn) {
        int found = 0;
        for (size_t k = 0; k < sn && !found; k++)
            found = sluice_verdict_span(v, k, &y) == 0 && same_span(&x, &y);
        if (!found && ++nd)
            fprintf(f, SD_PFX "spans:    the first block span, %zu-%zu %s, "
                "is not in the streamed verdict\n", x.start, x.end, x.rule);
        if (sr->stopped && sr->released_input > x.start && ++nd)
            fprintf(f, SD_PFX "released: %zu input bytes, past the start of "
                "the block span at %zu\n", sr->released_input, x.start);
    }
    size_t rl = sr->out.n - sr->refusal_at;
    if (sr->stopped && (rl != wl || (wl > 0 &&
            memcmp(sr->out.p + sr->refusal_at, wo, wl) != 0)) && ++nd) {
        fputs(SD_PFX "refusal:  whole text ", f);
        cli_test_put_quoted(f, wo, wl);
        fputs(", streamed ", f);
        cli_test_put_quoted(f, sr->out.p + sr->refusal_at, rl);
        fputc('\n', f);
    }
    if (sr->stopped && sr->out.p != NULL) {
        int d = diff_released_prefix(f, e, tc, w, sr);
        if (d < 0)
            return (size_t)-1;
        nd += (size_t)d;
    }
    return nd;
}

/* "chunking 3 of 10 (random 1-16 bytes, seed 1): cuts at 3, 9, 12". */
static void put_chunking(FILE *f, const chunking *c, size_t i, size_t n,
    uint64_t seed)
{
    fprintf(f, "stream:     chunking %zu of %zu (%s, seed %llu): ", i + 1, n,
        c->label, (unsigned long long)seed);
    if (c->ncuts == 0)
        fputs("one chunk, no cuts\n", f);
    else {
        fputs("cuts at", f);
        for (size_t k = 0; k < c->ncuts && k < CUTS_SHOWN; k++)
            fprintf(f, "%s %zu", k ? "," : "", c->cuts[k]);
        if (c->ncuts > CUTS_SHOWN)
            fprintf(f, ", ... (%zu cuts)", c->ncuts);
        fputc('\n', f);
    }
}

/* Compare one run with the whole text, describing the first failing run
 * in *ms (opened on demand). Returns 1 differs, 0 agrees, -1 no memory. */
static int stream_judge(sluice_engine *e, const test_result *r, const srun *sr,
    const chunking *c, size_t i, size_t n, uint64_t seed, test_mstream *ms)
{
    test_mstream tmp;
    size_t nd;

    if (cli_test_ms_open(&tmp) != 0)
        return -1;
    if (sr->rc != 0) {
        fprintf(tmp.f, SD_PFX "error:    %s: %s\n", sr->call,
            sluice_strerror(sr->rc));
        nd = 1;
    } else {
        nd = sluice_verdict_action(r->v) == SLUICE_BLOCK ?
            diff_blocked(tmp.f, e, r->tc, r->v, sr) :
            diff_unblocked(tmp.f, r->v, sr);
    }
    char *text = cli_test_ms_close(&tmp);
    if (text == NULL || nd == (size_t)-1) {
        free(text);
        return -1;
    }
    if (nd > 0 && ms->f == NULL) {
        if (cli_test_ms_open(ms) != 0) {
            free(text);
            return -1;
        }
        put_chunking(ms->f, c, i, n, seed);
        fputs(text, ms->f);
    }
    free(text);
    return nd > 0;
}

/*
 * Run the case through sessions in up to STREAM_RUNS distinct chunkings
 * and compare each with the whole text's verdict r->v. Sets r->chunkings
 * and, when a run differs, r->stream_diff. Returns 0, or -1 when out of
 * memory (reported).
 */
static int run_stream(sluice_engine *e, const test_opts *o, test_result *r)
{
    const test_case *tc = r->tc;
    uint64_t rng = cli_test_hash_str(cli_test_hash_str(
        o->seed ^ 0x73747265616D0000ull, cli_test_base_name(tc->file)),
        tc->name);
    chunking ch[STREAM_RUNS];
    size_t nch = 0, nbad = 0;
    test_mstream ms = { NULL, NULL, 0 };
    int rc = 0;

    for (int k = 0; k < STREAM_RUNS && rc == 0; k++) {
        chunking c;
        size_t j = 0;
        rc = make_chunking(k, tc->input, tc->input_len, &rng, &c);
        while (rc == 0 && j < nch && !same_cuts(&ch[j], &c))
            j++;
        if (rc == 0 && j == nch)
            ch[nch++] = c;
        else
            free(c.cuts);
    }
    for (size_t i = 0; i < nch && rc == 0; i++) {
        srun sr;
        rc = stream_once(e, tc, &ch[i], &sr);
        if (rc == 0) {
            r->chunkings++;
            int d = stream_judge(e, r, &sr, &ch[i], i, nch, o->seed, &ms);
            if (d < 0)
                rc = -1;
            nbad += d > 0;
        }
        sluice_verdict_free(sr.v);
        free(sr.out.p);
    }
    for (size_t i = 0; i < nch; i++)
        free(ch[i].cuts);
    if (rc == 0 && nbad > 1)
        fprintf(ms.f, SD_PFX "(%zu of %zu chunkings differ; this is the "
            "first)\n", nbad, nch);
    if (ms.f != NULL) {
        r->stream_diff = cli_test_ms_close(&ms);
        if (r->stream_diff == NULL)
            rc = -1;
    }
    return rc == 0 ? 0 : cli_test_nomem();
}

/* ------------------------------------------------------------------------
 * The case
 * ---------------------------------------------------------------------- */

int cli_test_run(sluice_engine *e, const test_opts *o, const test_case *tc,
    test_result *r)
{
    double t0 = now_secs();
    int rc = run_case(e, tc, r);

    if (rc == 0 && tc->stream && r->v != NULL)
        rc = run_stream(e, o, r);
    r->secs = now_secs() - t0;
    return rc;
}

int cli_test_passed(const test_result *r)
{
    return r->v != NULL && r->mismatch == 0 && r->stream_diff == NULL;
}

void cli_test_result_free(test_result *r)
{
    sluice_verdict_free(r->v);
    free(r->stream_diff);
    r->v = NULL;
    r->stream_diff = NULL;
}
