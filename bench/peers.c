/*
 * peers.c - Sluice's half of `make bench-peers` (bench/peers.sh): the
 * inputs every engine reads, Sluice's speed and recall on them, its
 * scaling over threads sharing one engine, and a fixed workload for
 * instruction counts under callgrind.
 *
 * Modes (--mode):
 *
 *   run        Write the inputs to --out DIR for the peers (bench/peers/
 *              run.mjs reads them there): the two term lists as Sluice
 *              accepted them (zh-terms.txt: the sw10k sample of bench.h;
 *              en-terms.txt: LDNOOBW en.txt, cleaned like bench.h's sets),
 *              each corpus cut into 4 KiB outputs (corpus-NAME.bin, outputs
 *              separated by NUL bytes), the 100-character strings
 *              (short-zh.bin, short-en.bin) and manifest.tsv naming them.
 *              Then measure Sluice on exactly those: throughput, checks/s
 *              and recall against the naive reference matcher below.
 *   threads    The same two policies over the Chinese and English corpora
 *              with 1..--threads threads sharing one engine.
 *   callgrind  A small fixed workload, each case between callgrind client
 *              requests (zero, run, dump), for bench/callgrind.sh to turn
 *              into instruction counts. Outside valgrind it just runs.
 *
 * Corpora (bench.h's readers and its JSON extraction, split by source):
 *   zh: zh-wiki-s, zh-wiki-t (bench.h), llm-zh (alpaca_zh outputs and the
 *       gpt turns of dpo_zh);
 *   en: en-novel (War and Peace), hh-rlhf (its Assistant turns), llm-en
 *       (alpaca_en outputs).
 *
 * Policies (written to --tmp, loaded with sluice_policy_load): the full
 * normalization [ignorable, nfkc_casefold, trad_to_simp, confusables,
 * skip_noise], one terms rule with action redact; the English rule adds
 * `boundary: word` and `variants: [leet, repeat]`, as the baseline policy
 * ships its LDNOOBW rule. A term Sluice refuses is dropped (and counted),
 * so that the lists the peers get are the lists Sluice runs.
 *
 * Recall: the reference finds every occurrence of every term in each
 * output, overlapping ones included, comparing bytes after folding ASCII
 * A-Z to a-z (every engine here ignores ASCII case), and nothing else. An
 * occurrence is "word" too when the characters either side of it are not
 * ASCII letters or digits. An engine catches an occurrence when its
 * matches cover every byte of it that is not ASCII punctuation or space
 * (for Sluice: the verdict's spans). run.mjs applies the same rules to
 * the peers, in UTF-16, and prints its own reference counts so the two
 * implementations can be compared.
 *
 * Timing: one untimed warm-up pass, then passes until at least --min-reps
 * and --min-time seconds (at most --max-reps); the best pass wall
 * (CLOCK_MONOTONIC) and the best pass CPU time (CLOCK_PROCESS_CPUTIME_ID)
 * are reported, since the machine is shared and noisy.
 *
 * Rows on stdout, tab-separated (bench/peers/report.mjs reads them):
 *   M engine mode set corpus units bytes reps best_wall_s best_cpu_s
 *   K engine set corpus units bytes ref_plain caught_plain ref_word caught_word
 *   P threads set bytes reps best_wall_s best_cpu_s control_wall_s
 *     control_cpu_s   (mode threads; CPU: the threads' CPU time summed;
 *     control: the CPU-bound control job run after each pass, see below)
 *   G case units bytes                                 (mode callgrind)
 *   N key text
 * Progress goes to stderr; with PEERS_SHOW_MISSES=1 also every whole-word
 * occurrence Sluice missed, in context.
 *
 * Coupling: besides bench.h's public functions this file calls some of
 * its internal helpers (bench_json_walk, bench_llama_cb, bench_hh_cb,
 * bench_terms_split, bench_terms_dedup, bench_splitmix64), visible here
 * because it includes the implementation, so that the corpora and the
 * cleaning of the lists are exactly `make bench`'s.
 */
#define BENCH_IMPLEMENTATION
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sluice.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define PEERS_HAVE_CALLGRIND 1
#endif
#endif
#ifndef PEERS_HAVE_CALLGRIND
#define PEERS_HAVE_CALLGRIND 0
#define CALLGRIND_START_INSTRUMENTATION do { } while (0)
#define CALLGRIND_ZERO_STATS do { } while (0)
#define CALLGRIND_DUMP_STATS_AT(s) do { (void)(s); } while (0)
#endif

#define PIECE_BYTES 4096
#define SHORT_CHARS 100
#define MAX_THREADS 16

typedef struct opts {
    const char *data;
    const char *out;            /* run: where the peers' inputs go */
    const char *tmp;            /* policy directories */
    const char *mode;
    size_t nshort;              /* 100-character strings per language */
    size_t threads;             /* threads mode: 1..threads */
    double min_time;
    size_t min_reps, max_reps;
    size_t cg_bytes;            /* callgrind: bytes of each corpus */
    size_t cg_short;            /* callgrind: strings per language */
} opts;

/* ---- inputs ---------------------------------------------------------- */

typedef struct text_src {
    const char *name;
    const char *lang;           /* "zh" or "en" */
    bench_buf text;
} text_src;

#define NCORPORA 6

typedef struct inputs {
    text_src c[NCORPORA];
} inputs;

/* Strings under one of llamafactory-demo's JSON files, as bench.h takes
   them for its llm corpus. */
static int load_llama(const char *data, const char *file, bench_buf *out)
{
    char path[4096];
    bench_buf raw = { NULL, 0, 0 };
    bench_llm_ctx ctx = { out, 0 };
    int n = snprintf(path, sizeof path, "%s/llamafactory-demo/%s", data,
        file);
    int rc = -1;
    if (n > 0 && (size_t)n < sizeof path && bench_read_file(path, &raw) == 0)
        rc = bench_json_walk(raw.p, raw.len, bench_llama_cb, &ctx) == 0 &&
            !ctx.failed ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "peers: cannot read the answers in %s\n", path);
    bench_buf_free(&raw);
    return rc;
}

/* hh-rlhf's Assistant turns, as bench.h takes them. */
static int load_hh(const char *data, bench_buf *out)
{
    char path[4096];
    bench_buf gz = { NULL, 0, 0 };
    bench_llm_ctx ctx = { out, 0 };
    int n = snprintf(path, sizeof path,
        "%s/hh-rlhf/harmless-base-test.jsonl.gz", data);
    if (n < 0 || (size_t)n >= sizeof path || bench_read_gzip(path, &gz)) {
        bench_buf_free(&gz);
        return -1;
    }
    int rc = 0;
    const char *p = gz.p, *end = gz.p + gz.len;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl != NULL ? nl : end;
        if (e > p)
            rc = bench_json_walk(p, (size_t)(e - p), bench_hh_cb, &ctx);
        p = e + 1;
    }
    bench_buf_free(&gz);
    return rc == 0 && !ctx.failed ? 0 : -1;
}

static void inputs_free(inputs *in)
{
    for (int i = 0; i < NCORPORA; i++)
        bench_buf_free(&in->c[i].text);
}

static int inputs_load(inputs *in, const char *data)
{
    static const char *const names[NCORPORA] = { "zh-wiki-s", "zh-wiki-t",
        "llm-zh", "en-novel", "hh-rlhf", "llm-en" };
    memset(in, 0, sizeof *in);
    for (int i = 0; i < NCORPORA; i++) {
        in->c[i].name = names[i];
        in->c[i].lang = i < 3 ? "zh" : "en";
    }
    bench_corpora bc;
    /* bench.h's loader for the files it reads as they are; mixed: 1 byte */
    if (bench_corpora_load(&bc, data, 1) != 0) {
        bench_corpora_free(&bc);
        return -1;
    }
    in->c[0].text = bc.c[0].text;
    in->c[1].text = bc.c[1].text;
    in->c[3].text = bc.c[2].text;
    memset(&bc.c[0].text, 0, sizeof bc.c[0].text);
    memset(&bc.c[1].text, 0, sizeof bc.c[1].text);
    memset(&bc.c[2].text, 0, sizeof bc.c[2].text);
    bench_corpora_free(&bc);
    if (load_llama(data, "alpaca_zh_demo.json", &in->c[2].text) != 0 ||
        load_llama(data, "dpo_zh_demo.json", &in->c[2].text) != 0 ||
        load_hh(data, &in->c[4].text) != 0 ||
        load_llama(data, "alpaca_en_demo.json", &in->c[5].text) != 0)
        return -1;
    return 0;
}

/*
 * n strings of SHORT_CHARS code points each, cut one after the other from
 * text (wrapping around), into pc (pointing into text). 0 or -1.
 */
static int short_strings(bench_pieces *pc, const bench_buf *text, size_t n)
{
    memset(pc, 0, sizeof *pc);
    pc->p = malloc((n ? n : 1) * sizeof *pc->p);
    pc->len = malloc((n ? n : 1) * sizeof *pc->len);
    if (pc->p == NULL || pc->len == NULL || text->len < 4 * SHORT_CHARS) {
        bench_pieces_free(pc);
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t e = off, chars = 0;
        while (chars < SHORT_CHARS) {
            if (e >= text->len) {           /* wrap: start again */
                off = e = 0;
                chars = 0;
                continue;
            }
            e++;
            while (e < text->len && ((unsigned char)text->p[e] & 0xC0) == 0x80)
                e++;
            chars++;
        }
        pc->p[i] = text->p + off;
        pc->len[i] = e - off;
        pc->bytes += e - off;
        off = e;
    }
    pc->n = n;
    return 0;
}

/* ---- term lists ------------------------------------------------------ */

/*
 * LDNOOBW's en.txt (or any one-term-a-line list) cleaned as bench.h
 * cleans its sets: trimmed, empty lines skipped, entries with control
 * bytes, '#' or invalid UTF-8 dropped, exact duplicates dropped.
 */
static int load_list(bench_terms *out, const char *path)
{
    memset(out, 0, sizeof *out);
    bench_buf src = { NULL, 0, 0 };
    bench_span *v = NULL;
    size_t n = 0;
    int rc = -1;
    if (bench_read_file(path, &src) != 0 ||
        bench_terms_split(out, &src, 0, &v, &n) != 0 ||
        bench_terms_dedup(out, src.p, v, &n) != 0)
        goto done;
    out->cleaned = n;
    out->terms = malloc((n ? n : 1) * sizeof *out->terms);
    out->lens = malloc((n ? n : 1) * sizeof *out->lens);
    if (out->terms == NULL || out->lens == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        out->lens[i] = out->store.len;      /* offsets first */
        if (bench_buf_append(&out->store, src.p + v[i].off, v[i].len) ||
            bench_buf_append(&out->store, "", 1))
            goto done;
    }
    for (size_t i = 0; i < n; i++) {
        out->terms[i] = out->store.p + out->lens[i];
        out->lens[i] = v[i].len;
    }
    out->n = n;
    rc = 0;
done:
    free(v);
    bench_buf_free(&src);
    return rc;
}

/* Keep the terms not marked in drop[] (order kept). */
static void terms_compact(bench_terms *t, const unsigned char *drop)
{
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (drop[i])
            continue;
        t->terms[w] = t->terms[i];
        t->lens[w] = t->lens[i];
        w++;
    }
    t->n = w;
}

/* ---- files ----------------------------------------------------------- */

static int path_join(char *buf, size_t size, const char *dir,
    const char *rel)
{
    int n = snprintf(buf, size, "%s/%s", dir, rel);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static int write_all(const char *dir, const char *rel, const bench_buf *b)
{
    char path[4096];
    if (path_join(path, sizeof path, dir, rel) != 0)
        return -1;
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "peers: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = b->len == 0 || fwrite(b->p, 1, b->len, f) == b->len ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "peers: cannot write %s\n", path);
    return rc;
}

static int make_dir(const char *dir, const char *rel)
{
    char path[4096];
    if (path_join(path, sizeof path, dir, rel) != 0 ||
        (mkdir(path, 0700) != 0 && errno != EEXIST)) {
        fprintf(stderr, "peers: cannot create %s/%s\n", dir, rel);
        return -1;
    }
    return 0;
}

/* The terms, one a line, skipping those marked in skip[] (may be NULL). */
static int terms_text(bench_buf *b, const bench_terms *t,
    const unsigned char *skip)
{
    b->len = 0;
    for (size_t i = 0; i < t->n; i++)
        if ((skip == NULL || !skip[i]) &&
            (bench_buf_append(b, t->terms[i], t->lens[i]) != 0 ||
             bench_buf_append(b, "\n", 1) != 0))
            return -1;
    return 0;
}

/* Pieces, each followed by a NUL byte: what run.mjs splits on. */
static int pieces_file(const char *dir, const char *rel,
    const bench_pieces *pc)
{
    bench_buf b = { NULL, 0, 0 };
    int rc = 0;
    for (size_t i = 0; i < pc->n && rc == 0; i++)
        rc = bench_buf_append(&b, pc->p[i], pc->len[i]) != 0 ||
            bench_buf_append(&b, "", 1) != 0 ? -1 : 0;
    if (rc == 0)
        rc = write_all(dir, rel, &b);
    bench_buf_free(&b);
    return rc;
}

/* ---- the policies ---------------------------------------------------- */

typedef struct policy_spec {
    const char *lang;           /* "zh", "en" */
    const char *rule_extra;     /* appended inside the rule's braces */
} policy_spec;

static const policy_spec SPEC_ZH = { "zh", "" };
static const policy_spec SPEC_EN = { "en",
    ", boundary: word, variants: [leet, repeat]" };

static int write_policy(const char *dir, const policy_spec *s,
    const bench_terms *t, const unsigned char *skip)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
        "# written by bench/peers.c for make bench-peers\n"
        "policy: peers-%s\nversion: 1\n"
        "normalize: [ignorable, nfkc_casefold, trad_to_simp, confusables, "
        "skip_noise]\n"
        "categories:\n  - {id: bench, action: redact}\n"
        "rules:\n  - {id: bench.terms, category: bench, "
        "terms: lists/terms.txt%s}\n", s->lang, s->rule_extra);
    bench_buf b = { NULL, 0, 0 };
    int rc = -1;
    if (n > 0 && (size_t)n < sizeof head &&
        bench_buf_append(&b, head, (size_t)n) == 0 &&
        write_all(dir, "policy.yaml", &b) == 0 &&
        make_dir(dir, "lists") == 0 && terms_text(&b, t, skip) == 0 &&
        write_all(dir, "lists/terms.txt", &b) == 0)
        rc = 0;
    bench_buf_free(&b);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Write the policy for `t` into dir and load it. A term Sluice refuses
 * (its error names lists/terms.txt and a line) is dropped from t and the
 * load tried again, at most 50 times; *dropped counts them. 0 or -1.
 */
static int load_policy(sluice_policy **out, const char *dir,
    const policy_spec *s, bench_terms *t, size_t *dropped)
{
    unsigned char *skip = calloc(t->n ? t->n : 1, 1);
    int rc = -1;
    *dropped = 0;
    if (skip == NULL || (mkdir(dir, 0700) != 0 && errno != EEXIST))
        goto done;
    for (int attempt = 0; attempt <= 50; attempt++) {
        if (write_policy(dir, s, t, skip) != 0)
            goto done;
        sluice_error err;
        memset(&err, 0, sizeof err);
        int lrc = sluice_policy_load(out, dir, NULL, &err);
        if (lrc == 0) {
            terms_compact(t, skip);
            rc = 0;
            goto done;
        }
        fprintf(stderr, "peers: %s:%d: %s (%s)\n", err.file, err.line,
            err.message, sluice_strerror(lrc));
        if (err.line <= 0 || !ends_with(err.file, "lists/terms.txt"))
            goto done;
        size_t line = 0, i;
        for (i = 0; i < t->n; i++)
            if (!skip[i] && ++line == (size_t)err.line)
                break;
        if (i == t->n)
            goto done;
        skip[i] = 1;
        (*dropped)++;
    }
done:
    free(skip);
    return rc;
}

static int engine_for(sluice_engine **e, sluice_policy *p)
{
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (sluice_engine_new(e, NULL, &err) != 0) {
        fprintf(stderr, "peers: sluice_engine_new: %s\n", err.message);
        return -1;
    }
    if (sluice_engine_set_policy(*e, p) != 0) {
        fprintf(stderr, "peers: sluice_engine_set_policy failed\n");
        return -1;
    }
    return 0;
}

/* A policy with its engine and the list it accepted. */
typedef struct setup {
    const char *set;            /* "zh-sw10k", "en-ldnoobw" */
    const policy_spec *spec;
    bench_terms terms;
    sluice_policy *policy;
    sluice_engine *engine;
} setup;

static void setup_free(setup *s)
{
    sluice_engine_free(s->engine);
    sluice_policy_unref(s->policy);
    bench_terms_free(&s->terms);
}

/* Load the term set of `s`, compile its policy under tmp, make an engine. */
static int setup_load(setup *s, const opts *o)
{
    char path[4096], dir[4096];
    int rc;
    if (s->spec == &SPEC_ZH) {
        rc = bench_terms_load(&s->terms, o->data, "sw10k");
    } else {
        rc = path_join(path, sizeof path, o->data, "ldnoobw/en.txt");
        if (rc == 0)
            rc = load_list(&s->terms, path);
    }
    if (rc != 0 || path_join(dir, sizeof dir, o->tmp, s->set) != 0)
        return -1;
    size_t read = s->terms.n, dropped = 0;
    double t0 = bench_now();
    if (load_policy(&s->policy, dir, s->spec, &s->terms, &dropped) != 0 ||
        engine_for(&s->engine, s->policy) != 0)
        return -1;
    bench_note(s->set, "%zu terms (%zu source lines, %zu after cleaning, "
        "%zu refused by Sluice and dropped); policy load %.0f ms, compile "
        "%.0f ms", s->terms.n, s->terms.source_lines, read, dropped,
        (bench_now() - t0) * 1e3, sluice_policy_compile_ms(s->policy));
    return 0;
}

/* ---- timing ---------------------------------------------------------- */

typedef int (*scan_fn)(void *ctx, const char *p, size_t len);

static double cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct timing {
    size_t reps;
    double wall, cpu;           /* best pass of each */
} timing;

/* Warm-up pass, then best-of-N passes of fn over every piece. 0 or -1. */
static int time_passes(const bench_pieces *pc, scan_fn fn, void *ctx,
    const opts *o, timing *out)
{
    memset(out, 0, sizeof *out);
    double start = bench_now();
    for (long r = -1; ; r++) {
        double w0 = bench_now(), c0 = cpu_now();
        for (size_t i = 0; i < pc->n; i++)
            if (fn(ctx, pc->p[i], pc->len[i]) != 0)
                return -1;
        double w = bench_now() - w0, c = cpu_now() - c0;
        if (r < 0) {
            start = bench_now();
            continue;
        }
        out->reps++;
        if (out->reps == 1 || w < out->wall)
            out->wall = w;
        if (out->reps == 1 || c < out->cpu)
            out->cpu = c;
        if (out->reps >= o->max_reps || (out->reps >= o->min_reps &&
                bench_now() - start >= o->min_time))
            return 0;
    }
}

static int check_one(void *ctx, const char *p, size_t len)
{
    sluice_verdict *v = NULL;
    sluice_error err;
    err.message[0] = '\0';
    int rc = sluice_check(ctx, p, len, NULL, &v, &err);
    if (rc != 0) {
        fprintf(stderr, "peers: sluice_check: %s (%s)\n", err.message,
            sluice_strerror(rc));
        return -1;
    }
    sluice_verdict_free(v);
    return 0;
}

static void row_m(const char *set, const char *corpus, const bench_pieces *pc,
    const timing *t)
{
    printf("M\tsluice\tcheck\t%s\t%s\t%zu\t%zu\t%zu\t%.6f\t%.6f\n", set,
        corpus, pc->n, pc->bytes, t->reps, t->wall, t->cpu);
    fflush(stdout);
    fprintf(stderr, "  sluice  %-10s %-10s %8.1f MB/s wall %8.1f MB/s cpu"
        "  %.0f checks/s\n", set, corpus, pc->bytes / t->wall / 1e6,
        pc->bytes / t->cpu / 1e6, pc->n / t->cpu);
}

/* ---- the reference matcher ------------------------------------------- */

/*
 * Every occurrence of every term, found the plain way: the terms are
 * bucketed by their first two bytes (one-byte terms by their byte), and
 * at every byte of the text each term of its bucket is compared with
 * memcmp. ASCII letters are compared folded to lower case, nothing else.
 */
typedef struct refm {
    char **low;                 /* terms, ASCII-lowered */
    size_t *lens;
    size_t n;
    uint32_t *two;              /* term ids by (b0 << 8 | b1) ... */
    size_t *two_at;             /* ... bucket k: two[two_at[k], two_at[k+1]) */
    uint32_t *one;              /* one-byte terms by byte */
    size_t one_at[257];
    bench_buf low_text;         /* scratch: the lowered output */
    unsigned char *cover;       /* scratch: bytes the engine covered */
    size_t cover_cap;
    int show_misses;            /* PEERS_SHOW_MISSES=1: missed word
                                   occurrences to stderr, in context */
} refm;

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z');
}

static void refm_free(refm *r)
{
    for (size_t i = 0; r->low != NULL && i < r->n; i++)
        free(r->low[i]);
    free(r->low);
    free(r->lens);
    free(r->two);
    free(r->two_at);
    free(r->one);
    free(r->cover);
    bench_buf_free(&r->low_text);
    memset(r, 0, sizeof *r);
}

static int refm_init(refm *r, const bench_terms *t)
{
    memset(r, 0, sizeof *r);
    size_t n = t->n ? t->n : 1;
    r->low = calloc(n, sizeof *r->low);
    r->lens = malloc(n * sizeof *r->lens);
    r->two = malloc(n * sizeof *r->two);
    r->one = malloc(n * sizeof *r->one);
    r->two_at = calloc(65537, sizeof *r->two_at);
    if (r->low == NULL || r->lens == NULL || r->two == NULL ||
        r->one == NULL || r->two_at == NULL || t->n > UINT32_MAX)
        return -1;
    r->n = t->n;
    const char *show = getenv("PEERS_SHOW_MISSES");
    r->show_misses = show != NULL && strcmp(show, "1") == 0;
    for (size_t i = 0; i < t->n; i++) {
        r->lens[i] = t->lens[i];
        if ((r->low[i] = malloc(t->lens[i] + 1)) == NULL)
            return -1;
        for (size_t k = 0; k < t->lens[i]; k++)
            r->low[i][k] = ascii_lower(t->terms[i][k]);
        r->low[i][t->lens[i]] = '\0';
    }
    /* counting sort into buckets */
    for (size_t i = 0; i < r->n; i++) {
        const unsigned char *s = (const unsigned char *)r->low[i];
        if (r->lens[i] >= 2)
            r->two_at[((size_t)s[0] << 8 | s[1]) + 1]++;
        else
            r->one_at[s[0] + 1]++;
    }
    for (size_t k = 0; k < 65536; k++)
        r->two_at[k + 1] += r->two_at[k];
    for (size_t k = 0; k < 256; k++)
        r->one_at[k + 1] += r->one_at[k];
    size_t *fill2 = malloc(65536 * sizeof *fill2), fill1[256];
    if (fill2 == NULL)
        return -1;
    memcpy(fill2, r->two_at, 65536 * sizeof *fill2);
    memcpy(fill1, r->one_at, sizeof fill1);
    for (size_t i = 0; i < r->n; i++) {
        const unsigned char *s = (const unsigned char *)r->low[i];
        if (r->lens[i] >= 2)
            r->two[fill2[(size_t)s[0] << 8 | s[1]]++] = (uint32_t)i;
        else
            r->one[fill1[s[0]]++] = (uint32_t)i;
    }
    free(fill2);
    return 0;
}

typedef struct recall {
    uint64_t plain, caught_plain, word, caught_word;
} recall;

/* Is the occurrence [s, e) of text covered, up to punctuation? */
static int covered(const refm *r, const char *text, size_t s, size_t e)
{
    for (size_t i = s; i < e; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!r->cover[i] && (c >= 0x80 || ascii_alnum(c)))
            return 0;
    }
    return 1;
}

static void occurrence(const refm *r, const char *text, size_t len,
    size_t s, size_t e, recall *out)
{
    int hit = covered(r, text, s, e);
    int word = (s == 0 || !ascii_alnum((unsigned char)text[s - 1])) &&
        (e == len || !ascii_alnum((unsigned char)text[e]));
    if (r->show_misses && word && !hit) {
        size_t a = s > 24 ? s - 24 : 0, b = e + 24 < len ? e + 24 : len;
        while (a > 0 && ((unsigned char)text[a] & 0xC0) == 0x80)
            a--;
        while (b < len && ((unsigned char)text[b] & 0xC0) == 0x80)
            b++;
        fprintf(stderr, "peers: missed '%.*s' in: %.*s\n", (int)(e - s),
            text + s, (int)(b - a), text + a);
    }
    out->plain++;
    out->caught_plain += hit;
    out->word += word;
    out->caught_word += word && hit;
}

/* Every occurrence in text[0, len), scored against r->cover. */
static int refm_scan(refm *r, const char *text, size_t len, recall *out)
{
    r->low_text.len = 0;
    if (bench_buf_append(&r->low_text, text, len) != 0)
        return -1;
    unsigned char *t = (unsigned char *)r->low_text.p;
    for (size_t i = 0; i < len; i++)
        t[i] = (unsigned char)ascii_lower((char)t[i]);
    for (size_t i = 0; i < len; i++) {
        for (size_t k = r->one_at[t[i]]; k < r->one_at[t[i] + 1]; k++)
            occurrence(r, text, len, i, i + 1, out);
        if (i + 1 >= len)
            continue;
        size_t b = (size_t)t[i] << 8 | t[i + 1];
        for (size_t k = r->two_at[b]; k < r->two_at[b + 1]; k++) {
            uint32_t id = r->two[k];
            if (r->lens[id] <= len - i &&
                memcmp(t + i, r->low[id], r->lens[id]) == 0)
                occurrence(r, text, len, i, i + r->lens[id], out);
        }
    }
    return 0;
}

/* Sluice's verdict on each piece, its spans against the reference. */
static int sluice_recall(sluice_engine *e, refm *r, const bench_pieces *pc,
    recall *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < pc->n; i++) {
        size_t len = pc->len[i];
        if (len > r->cover_cap) {
            unsigned char *c = realloc(r->cover, len);
            if (c == NULL)
                return -1;
            r->cover = c;
            r->cover_cap = len;
        }
        memset(r->cover, 0, len);
        sluice_verdict *v = NULL;
        sluice_error err;
        if (sluice_check(e, pc->p[i], len, NULL, &v, &err) != 0)
            return -1;
        if (sluice_verdict_spans_truncated(v))
            fprintf(stderr, "peers: spans truncated in one output\n");
        for (size_t k = 0; k < sluice_verdict_span_count(v); k++) {
            sluice_span sp;
            if (sluice_verdict_span(v, k, &sp) != 0)
                continue;
            for (size_t b = sp.start; b < sp.end && b < len; b++)
                r->cover[b] = 1;
        }
        sluice_verdict_free(v);
        if (refm_scan(r, pc->p[i], len, out) != 0)
            return -1;
    }
    return 0;
}

/* ---- mode run -------------------------------------------------------- */

/* Measure and score Sluice on one input, write it for the peers. */
static int run_input(const opts *o, setup *s, refm *r, const char *corpus,
    const bench_pieces *pc, const char *file)
{
    timing t;
    recall rc;
    if (pieces_file(o->out, file, pc) != 0 ||
        time_passes(pc, check_one, s->engine, o, &t) != 0 ||
        sluice_recall(s->engine, r, pc, &rc) != 0)
        return -1;
    row_m(s->set, corpus, pc, &t);
    printf("K\tsluice\t%s\t%s\t%zu\t%zu\t%llu\t%llu\t%llu\t%llu\n", s->set,
        corpus, pc->n, pc->bytes, (unsigned long long)rc.plain,
        (unsigned long long)rc.caught_plain, (unsigned long long)rc.word,
        (unsigned long long)rc.caught_word);
    fflush(stdout);
    return 0;
}

static int manifest_add(bench_buf *m, const char *set, const char *corpus,
    const char *file)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%s\t%s\t%s\n", set, corpus, file);
    return n > 0 && (size_t)n < sizeof line ?
        bench_buf_append(m, line, (size_t)n) : -1;
}

static int run_set(const opts *o, const inputs *in, setup *s, bench_buf *m)
{
    char file[256];
    bench_buf b = { NULL, 0, 0 };
    refm r;
    int rc = -1;
    memset(&r, 0, sizeof r);
    if (snprintf(file, sizeof file, "%s-terms.txt", s->spec->lang) <= 0 ||
        terms_text(&b, &s->terms, NULL) != 0 ||
        write_all(o->out, file, &b) != 0 ||
        manifest_add(m, s->set, "terms", file) != 0 ||
        refm_init(&r, &s->terms) != 0)
        goto done;
    for (int i = 0; i < NCORPORA; i++) {
        const text_src *c = &in->c[i];
        if (strcmp(c->lang, s->spec->lang) != 0)
            continue;
        bench_pieces pc;
        if (bench_pieces_cut(&pc, c->text.p, c->text.len, PIECE_BYTES) != 0)
            goto done;
        snprintf(file, sizeof file, "corpus-%s.bin", c->name);
        int ok = run_input(o, s, &r, c->name, &pc, file) == 0 &&
            manifest_add(m, s->set, c->name, file) == 0;
        bench_pieces_free(&pc);
        if (!ok)
            goto done;
    }
    /* 100-character strings: LLM answers of the set's language */
    const text_src *src = &in->c[s->spec == &SPEC_ZH ? 2 : 4];
    bench_pieces pc;
    if (short_strings(&pc, &src->text, o->nshort) != 0)
        goto done;
    snprintf(file, sizeof file, "short-%s.bin", s->spec->lang);
    int ok = run_input(o, s, &r, "short100", &pc, file) == 0 &&
        manifest_add(m, s->set, "short100", file) == 0;
    bench_note("short100", "%s: %zu strings of %d characters cut one after "
        "another from %s (%zu bytes)", s->set, pc.n, SHORT_CHARS, src->name,
        pc.bytes);
    bench_pieces_free(&pc);
    rc = ok ? 0 : -1;
done:
    refm_free(&r);
    bench_buf_free(&b);
    return rc;
}

static int mode_run(const opts *o, const inputs *in, setup *sets, size_t n)
{
    bench_buf m = { NULL, 0, 0 };
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = run_set(o, in, &sets[i], &m);
    if (rc == 0)
        rc = write_all(o->out, "manifest.tsv", &m);
    bench_buf_free(&m);
    return rc;
}

/* ---- mode threads ---------------------------------------------------- */

/*
 * Each pass splits one fixed job over n threads (thread t takes pieces t,
 * t + n, ...). A control job runs right after each Sluice pass, split the
 * same way: CONTROL_ROUNDS rounds of splitmix64, pure CPU with no memory
 * traffic and no shared state. Its scaling is what the machine lets any
 * program have at that moment (on a shared machine, often less than two
 * cores), so Sluice's scaling reads against it.
 */
#define CONTROL_ROUNDS 40000000u

typedef struct worker {
    sluice_engine *engine;      /* NULL: the control job */
    const bench_pieces *pc;
    size_t first, step;         /* pieces first, first + step, ... */
    double cpu;
    uint64_t sink;              /* the control's result, kept alive */
    int failed;
    pthread_t th;
} worker;

static double thread_cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    double c0 = thread_cpu_now();
    if (w->engine == NULL) {
        uint64_t state = w->first, x = 0;
        for (size_t i = w->first; i < CONTROL_ROUNDS; i += w->step)
            x ^= bench_splitmix64(&state);
        w->sink = x;
    }
    for (size_t i = w->first; w->engine != NULL && i < w->pc->n &&
         !w->failed; i += w->step)
        w->failed = check_one(w->engine, w->pc->p[i], w->pc->len[i]) != 0;
    w->cpu = thread_cpu_now() - c0;
    return NULL;
}

/* One pass with n threads (e NULL: the control); wall time and the
   threads' CPU time summed. */
static int threads_pass(sluice_engine *e, const bench_pieces *pc, size_t n,
    double *wall, double *cpu)
{
    worker w[MAX_THREADS];
    size_t started = 0;
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) {
        w[i] = (worker){ e, pc, i, n, 0.0, 0, 0, 0 };
        if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
            break;
        started++;
    }
    int rc = started == n ? 0 : -1;
    *cpu = 0;
    for (size_t i = 0; i < started; i++) {
        if (pthread_join(w[i].th, NULL) != 0 || w[i].failed)
            rc = -1;
        *cpu += w[i].cpu;
    }
    *wall = bench_now() - t0;
    return rc;
}

typedef struct best {
    size_t reps;
    double wall, cpu;
} best;

static void best_add(best *b, double wall, double cpu)
{
    b->reps++;
    if (b->reps == 1 || wall < b->wall)
        b->wall = wall;
    if (b->reps == 1 || cpu < b->cpu)
        b->cpu = cpu;
}

/* 1..o->threads threads over the concatenated corpora of s's language. */
static int threads_set(const opts *o, const inputs *in, setup *s)
{
    bench_buf text = { NULL, 0, 0 };
    bench_pieces pc;
    int rc = -1;
    for (int i = 0; i < NCORPORA; i++)
        if (strcmp(in->c[i].lang, s->spec->lang) == 0 &&
            bench_buf_append(&text, in->c[i].text.p, in->c[i].text.len))
            goto done;
    if (bench_pieces_cut(&pc, text.p, text.len, PIECE_BYTES) != 0)
        goto done;
    rc = 0;
    for (size_t n = 1; n <= o->threads && rc == 0; n++) {
        best b = { 0, 0, 0 }, ctl = { 0, 0, 0 };
        double start = 0, wall, cpu;
        for (long r = -1; rc == 0; r++) {
            rc = threads_pass(s->engine, &pc, n, &wall, &cpu);
            if (rc == 0 && r >= 0)
                best_add(&b, wall, cpu);
            if (rc == 0)
                rc = threads_pass(NULL, NULL, n, &wall, &cpu);
            if (rc == 0 && r >= 0)
                best_add(&ctl, wall, cpu);
            if (r < 0)
                start = bench_now();
            else if (b.reps >= o->max_reps || (b.reps >= o->min_reps &&
                    bench_now() - start >= o->min_time))
                break;
        }
        if (rc != 0)
            break;
        printf("P\t%zu\t%s\t%zu\t%zu\t%.6f\t%.6f\t%.6f\t%.6f\n", n,
            s->set, pc.bytes, b.reps, b.wall, b.cpu, ctl.wall, ctl.cpu);
        fflush(stdout);
        fprintf(stderr, "  sluice  %-10s %zu thread(s) %8.1f MB/s "
            "(control pass %.3f s)\n", s->set, n, pc.bytes / b.wall / 1e6,
            ctl.wall);
    }
    bench_pieces_free(&pc);
done:
    bench_buf_free(&text);
    return rc;
}

/* ---- mode callgrind -------------------------------------------------- */

/* One case between client requests: zero the counters, run, dump. */
static int cg_case(const char *name, sluice_engine *e, const bench_pieces *pc)
{
    if (pc->n == 0 || check_one(e, pc->p[0], pc->len[0]) != 0)   /* warm, not counted */
        return -1;
    CALLGRIND_ZERO_STATS;
    for (size_t i = 0; i < pc->n; i++)
        if (check_one(e, pc->p[i], pc->len[i]) != 0)
            return -1;
    CALLGRIND_DUMP_STATS_AT(name);
    printf("G\t%s\t%zu\t%zu\n", name, pc->n, pc->bytes);
    fflush(stdout);
    return 0;
}

static int cg_set(const opts *o, const inputs *in, setup *s)
{
    char name[128];
    int rc = 0;
    for (int i = 0; i < NCORPORA && rc == 0; i++) {
        const text_src *c = &in->c[i];
        if (strcmp(c->lang, s->spec->lang) != 0)
            continue;
        size_t len = bench_utf8_prefix(c->text.p, c->text.len, o->cg_bytes);
        bench_pieces pc;
        if (bench_pieces_cut(&pc, c->text.p, len, PIECE_BYTES) != 0)
            return -1;
        snprintf(name, sizeof name, "%s/%s", s->set, c->name);
        rc = cg_case(name, s->engine, &pc);
        bench_pieces_free(&pc);
    }
    bench_pieces pc;
    if (rc != 0 || short_strings(&pc, &in->c[s->spec == &SPEC_ZH ? 2 : 4].text,
            o->cg_short) != 0)
        return -1;
    snprintf(name, sizeof name, "%s/short100", s->set);
    rc = cg_case(name, s->engine, &pc);
    bench_pieces_free(&pc);
    return rc;
}

/* ---- main ------------------------------------------------------------ */

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_opts(opts *o, int argc, char **argv)
{
    *o = (opts){ NULL, NULL, NULL, "run", 10000, 2, 1.0, 3, 30, 65536, 1000 };
    if (argc % 2 != 1)
        return -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        int bad = 0;
        if (strcmp(k, "--data") == 0)
            o->data = v;
        else if (strcmp(k, "--out") == 0)
            o->out = v;
        else if (strcmp(k, "--tmp") == 0)
            o->tmp = v;
        else if (strcmp(k, "--mode") == 0)
            o->mode = v;
        else if (strcmp(k, "--short") == 0)
            bad = bench_parse_size(v, &o->nshort) || o->nshort == 0;
        else if (strcmp(k, "--threads") == 0)
            bad = bench_parse_size(v, &o->threads) || o->threads == 0 ||
                o->threads > MAX_THREADS;
        else if (strcmp(k, "--min-time") == 0)
            bad = parse_double(v, &o->min_time);
        else if (strcmp(k, "--min-reps") == 0)
            bad = bench_parse_size(v, &o->min_reps) || o->min_reps == 0;
        else if (strcmp(k, "--max-reps") == 0)
            bad = bench_parse_size(v, &o->max_reps) || o->max_reps == 0;
        else if (strcmp(k, "--cg-bytes") == 0)
            bad = bench_parse_size(v, &o->cg_bytes) || o->cg_bytes == 0;
        else if (strcmp(k, "--cg-short") == 0)
            bad = bench_parse_size(v, &o->cg_short) || o->cg_short == 0;
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "peers: bad option %s %s\n", k, v);
            return -1;
        }
    }
    if (o->max_reps < o->min_reps)
        o->max_reps = o->min_reps;
    int run = strcmp(o->mode, "run") == 0;
    if (o->data == NULL || o->tmp == NULL || (run && o->out == NULL) ||
        (!run && strcmp(o->mode, "threads") != 0 &&
         strcmp(o->mode, "callgrind") != 0))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_opts(&o, argc, argv) != 0) {
        fprintf(stderr, "usage: peers --data DIR --tmp DIR [--mode run "
            "--out DIR | --mode threads [--threads N] | --mode callgrind "
            "[--cg-bytes B] [--cg-short N]]\n"
            "       [--short N] [--min-time S] [--min-reps N] "
            "[--max-reps N]\n");
        return 2;
    }
    inputs in;
    setup sets[2] = { { "zh-sw10k", &SPEC_ZH, { 0 }, NULL, NULL },
                      { "en-ldnoobw", &SPEC_EN, { 0 }, NULL, NULL } };
    int rc = 1;
    if (inputs_load(&in, o.data) != 0)
        goto done;
    for (int i = 0; i < NCORPORA; i++)
        bench_note("corpus", "%s (%s): %zu bytes", in.c[i].name,
            in.c[i].lang, in.c[i].text.len);
    for (size_t i = 0; i < 2; i++)
        if (setup_load(&sets[i], &o) != 0)
            goto done;
    if (strcmp(o.mode, "run") == 0) {
        rc = mode_run(&o, &in, sets, 2) != 0;
    } else if (strcmp(o.mode, "threads") == 0) {
        rc = threads_set(&o, &in, &sets[0]) != 0 ||
            threads_set(&o, &in, &sets[1]) != 0;
    } else {
        bench_note("callgrind", "client requests %s", PEERS_HAVE_CALLGRIND ?
            "compiled in" : "not available (no valgrind/callgrind.h)");
        CALLGRIND_START_INSTRUMENTATION;
        rc = cg_set(&o, &in, &sets[0]) != 0 || cg_set(&o, &in, &sets[1]) != 0;
    }
done:
    for (size_t i = 0; i < 2; i++)
        setup_free(&sets[i]);
    inputs_free(&in);
    return rc;
}
