/*
 * bench.h - the shared harness of Sluice's benchmarks: data loading,
 * corpora, term sets, cutting text into outputs, timing and memory, and
 * the result rows that bench/run.sh turns into tables.
 *
 * Design: every bench/NAME.c is its own program (the Makefile links each one
 * against build/libsluice.a), and each run measures one term set with one
 * engine in its own process, so the resident-memory peaks (VmHWM) belong
 * to that set alone. This header is a single-file library: every program
 * includes it once with BENCH_IMPLEMENTATION defined. There is no global
 * mutable state; everything lives in the structs below and is passed
 * around.
 *
 * Data (../shared/data, see its README.md and each SOURCE.md):
 *   zh-wiki-s  cmrc2018/cmrc2018_contexts.txt   Simplified Chinese Wikipedia
 *   zh-wiki-t  drcd/DRCD_dev_contexts.txt        Traditional Chinese Wikipedia
 *   en-novel   gutenberg/war-and-peace-2600-0.txt
 *   llm        llamafactory-demo/ JSON files: every "output" string and every
 *              "value" of a {"from": "gpt"} turn; hh-rlhf harmless-base
 *              test: every Assistant turn of "chosen" and the last one of
 *              "rejected" (gunzipped by running `gzip -dc`)
 *   mixed      the four above concatenated, repeated up to BENCH_MB MiB
 *
 * Term sets (cleaned the same way for every engine, see bench_terms_load):
 *   sw10k      10,000 entries of sensitive-word/dict_v20240407.txt sampled
 *              with splitmix64, seed 42 (partial Fisher-Yates; kept in
 *              file order)
 *   sw65k      all of that list
 *   jieba349k  the first field of every line of jieba/dict.txt
 *
 * Output rows (stdout, tab-separated, one per measurement):
 *   R set engine corpus piece bytes nterms mbps compile_ms db_bytes
 *     rss_base_kb rss_loaded_kb rss_end_kb hwm_kb matches note
 * and notes: N key text. Progress and errors go to stderr.
 */
#ifndef SLUICE_BENCH_H
#define SLUICE_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A growable byte buffer. Zero-initialise; bench_buf_free releases it. */
typedef struct bench_buf {
    char *p;
    size_t len;
    size_t cap;
} bench_buf;

int bench_buf_append(bench_buf *b, const void *data, size_t n);
void bench_buf_free(bench_buf *b);

/* Whole file into *out (appended). 0, or -1 with a reason on stderr. */
int bench_read_file(const char *path, bench_buf *out);
/* `gzip -dc path` into *out (appended). 0, or -1 with a reason. */
int bench_read_gzip(const char *path, bench_buf *out);

/* One text the engines scan. */
#define BENCH_NCORPORA 4
typedef struct bench_corpus {
    const char *name;
    bench_buf text;
} bench_corpus;

typedef struct bench_corpora {
    bench_corpus c[BENCH_NCORPORA];
    bench_buf mixed;            /* "mixed": all of them, repeated */
} bench_corpora;

/*
 * Load the four corpora from `datadir` and build the mixed buffer of
 * `mixed_bytes` (cut at a UTF-8 boundary). 0, or -1 with a reason on
 * stderr. bench_corpora_free releases everything (also after a failure).
 */
int bench_corpora_load(bench_corpora *out, const char *datadir,
    size_t mixed_bytes);
void bench_corpora_free(bench_corpora *c);

/* A term set: terms[i] is NUL-terminated, lens[i] bytes, valid UTF-8. */
typedef struct bench_terms {
    char **terms;
    size_t *lens;
    size_t n;
    bench_buf store;            /* the bytes terms[] point into */
    size_t source_lines;        /* lines read from the source file */
    size_t dropped_ctl;         /* entries holding ASCII control bytes */
    size_t dropped_hash;        /* entries holding '#' (a comment in lists) */
    size_t dropped_utf8;        /* entries not valid UTF-8 */
    size_t dropped_dup;         /* exact duplicates of an earlier entry */
    size_t cleaned;             /* entries left after cleaning */
} bench_terms;

/*
 * Load term set `name` ("sw10k", "sw65k", "jieba349k") from `datadir`.
 * Each entry is trimmed of ASCII blanks and CR; empty ones are skipped;
 * entries with control bytes, '#' or invalid UTF-8 are dropped, as are
 * exact duplicates (counts kept), so that every engine, Sluice's list
 * loader included, sees the same terms. 0, or -1 with a reason.
 */
int bench_terms_load(bench_terms *out, const char *datadir, const char *name);
void bench_terms_free(bench_terms *t);
/* One N row describing how the set was made. */
void bench_terms_note(const bench_terms *t, const char *name);

/* The pieces one text is cut into: "outputs" of about `piece` bytes. */
typedef struct bench_pieces {
    const char **p;
    size_t *len;
    size_t n;
    size_t bytes;               /* sum of len[] */
} bench_pieces;

/*
 * Cut text[0, len) into pieces of at most `piece` bytes, each ending at a
 * UTF-8 character boundary. The pieces point into `text`. 0 or -1.
 */
int bench_pieces_cut(bench_pieces *out, const char *text, size_t len,
    size_t piece);
void bench_pieces_free(bench_pieces *pc);
/*
 * Keep every k-th piece, k the smallest stride that brings the total to at
 * most `cap` bytes (0: keep all), so that a capped run still samples the
 * whole text. Returns the stride.
 */
size_t bench_pieces_thin(bench_pieces *pc, size_t cap);
/* The longest prefix of text[0, len) of at most `cap` bytes that ends at
 * a character boundary. */
size_t bench_utf8_prefix(const char *text, size_t len, size_t cap);

/* Scan one piece, add the matches found to *matches. 0, or -1 to stop. */
typedef int (*bench_scan_fn)(void *ctx, const char *p, size_t len,
    uint64_t *matches);

typedef struct bench_result {
    double seconds;             /* median over the timed repetitions */
    double mbps;                /* bytes / seconds / 1e6 */
    uint64_t matches;           /* matches of one pass */
    size_t bytes;
} bench_result;

/*
 * One untimed warm-up pass over all pieces, then `reps` timed passes
 * (CLOCK_MONOTONIC); the median pass is the result. 0, or -1 if the scan
 * failed.
 */
int bench_measure(const bench_pieces *pc, bench_scan_fn fn, void *ctx,
    int reps, bench_result *out);

double bench_now(void);
/* VmRSS and VmHWM of this process in KiB (-1 if unknown). */
void bench_mem_kb(long *rss_kb, long *hwm_kb);

/* Everything a result row carries; unknown numbers are negative. */
typedef struct bench_row {
    const char *set;
    const char *engine;
    const char *corpus;
    size_t piece;
    size_t nterms;
    bench_result r;
    double compile_ms;
    long long db_bytes;
    long rss_base_kb, rss_loaded_kb, rss_end_kb, hwm_kb;
    const char *note;
} bench_row;

void bench_row_init(bench_row *row);
void bench_row_print(const bench_row *row);
/* An N row: free text for the report (no tabs or newlines in it). */
void bench_note(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * What one program measures: the options every bench program shares.
 *   --data DIR         the data directory (required)
 *   --set NAME         the term set or label (required)
 *   --cap BYTES        read at most BYTES of the mixed text (0: all)
 *   --corpus-cap BYTES the same for each corpus (default: --cap)
 *   --corpora yes|no   also measure each corpus on its own (default yes)
 *   --one-mb yes|no    also cut the mixed text into 1 MiB pieces (default yes)
 * Capped runs keep 1 piece in k (bench_pieces_thin) and say so in the note.
 * Environment: BENCH_MB (mixed text, MiB, default 20), BENCH_REPS (timed
 * repetitions, default 5).
 */
typedef struct bench_plan {
    const char *data;
    const char *set;
    size_t cap, corpus_cap;
    int corpora, one_mb;
    size_t mixed_bytes;
    int reps;
} bench_plan;

/*
 * Parse argv into pl. Options that are not the plan's go to `extra`
 * (which returns 1 if it took the pair, 0 if it does not know the key, -1
 * for a bad value). 0, or -1 for a usage error.
 */
int bench_plan_parse(bench_plan *pl, int argc, char **argv,
    int (*extra)(void *payload, const char *key, const char *val),
    void *payload);

/*
 * Cut text into `piece`-byte outputs (thinned to `cap`), measure fn over
 * them and print a row (corpus, piece and the end memory filled in).
 */
int bench_run_text(const bench_plan *pl, bench_row *row, const char *corpus,
    const char *text, size_t len, size_t piece, size_t cap, bench_scan_fn fn,
    void *ctx);
/* The mixed text in 4 KiB pieces (and 1 MiB ones), then each corpus. */
int bench_run_all(const bench_plan *pl, const bench_corpora *c,
    bench_row *row, bench_scan_fn fn, void *ctx);

/* Parse an unsigned decimal (whole string). 0 or -1. */
int bench_parse_size(const char *s, size_t *out);
/* Environment integer with a default and bounds. */
size_t bench_env_size(const char *name, size_t dflt, size_t lo, size_t hi);

/* ====================================================================== */
#ifdef BENCH_IMPLEMENTATION

#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int bench_buf_append(bench_buf *b, const void *data, size_t n)
{
    if (n > SIZE_MAX - b->len - 1)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';        /* always NUL-terminated, not counted */
    return 0;
}

void bench_buf_free(bench_buf *b)
{
    if (b == NULL)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Read everything from fd into out. */
static int bench_read_fd(int fd, bench_buf *out)
{
    char tmp[65536];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (bench_buf_append(out, tmp, (size_t)n) != 0)
            return -1;
    }
}

int bench_read_file(const char *path, bench_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = bench_read_fd(fileno(f), out);
    if (rc != 0)
        fprintf(stderr, "bench: %s: read failed\n", path);
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

extern char **environ;

int bench_read_gzip(const char *path, bench_buf *out)
{
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "bench: pipe: %s\n", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char *argv[] = { "gzip", "-dc", (char *)path, NULL };
    int spawned = posix_spawn_file_actions_init(&fa) == 0;
    if (spawned) {
        spawned = posix_spawn_file_actions_adddup2(&fa, fds[1], 1) == 0 &&
            posix_spawn_file_actions_addclose(&fa, fds[0]) == 0 &&
            posix_spawnp(&pid, "gzip", &fa, NULL, argv, environ) == 0;
        if (posix_spawn_file_actions_destroy(&fa) != 0)
            spawned = 0;    /* cannot happen: glibc only frees memory */
    }
    int rc = close(fds[1]) == 0 && spawned ? 0 : -1;
    if (rc == 0)
        rc = bench_read_fd(fds[0], out);
    if (close(fds[0]) != 0)
        rc = -1;
    int status = 1;
    while (spawned && waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = 1;
            break;
        }
    }
    if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: gzip -dc %s failed\n", path);
        return -1;
    }
    return 0;
}

/* ---- a minimal JSON reader: enough to pull strings out of the data ---- */

typedef void (*bench_json_cb)(const char *key, const char *val, size_t vlen,
    int from_gpt, void *payload);

typedef struct bench_json {
    const char *p, *end;
    bench_json_cb cb;
    void *payload;
    bench_buf val;              /* scratch: the last decoded string */
    int failed;
} bench_json;

static void bench_json_ws(bench_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' ||
           *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int bench_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int bench_put_utf8(bench_buf *b, unsigned cp)
{
    unsigned char u[4];
    size_t n;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD;            /* a lone surrogate */
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return bench_buf_append(b, u, n);
}

/* A string at j->p (the opening quote) decoded into *b (reset first). */
static int bench_json_string(bench_json *j, bench_buf *b)
{
    b->len = 0;
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    while (j->p < j->end) {
        const char *s = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\')
            j->p++;
        if (bench_buf_append(b, s, (size_t)(j->p - s)) != 0)
            return -1;
        if (j->p >= j->end)
            return -1;
        if (*j->p == '"') {
            j->p++;
            return 0;
        }
        if (j->end - j->p < 2)
            return -1;
        char e = j->p[1];
        j->p += 2;
        char c;
        switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case '"': case '\\': case '/': c = e; break;
        case 'u': {
            unsigned cp, lo;
            if (j->end - j->p < 4 || bench_hex4(j->p, &cp) != 0)
                return -1;
            j->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && j->end - j->p >= 6 &&
                j->p[0] == '\\' && j->p[1] == 'u' &&
                bench_hex4(j->p + 2, &lo) == 0 && lo >= 0xDC00 &&
                lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                j->p += 6;
            }
            if (bench_put_utf8(b, cp) != 0)
                return -1;
            continue;
        }
        default:
            return -1;
        }
        if (bench_buf_append(b, &c, 1) != 0)
            return -1;
    }
    return -1;
}

static int bench_json_value(bench_json *j, const char *key, int from_gpt,
    int depth);

static int bench_json_object(bench_json *j, int depth)
{
    char key[32];
    int from_gpt = 0;
    j->p++;                     /* '{' */
    bench_json_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        bench_json_ws(j);
        if (bench_json_string(j, &j->val) != 0)
            return -1;
        size_t kl = j->val.len < sizeof key - 1 ? j->val.len : sizeof key - 1;
        memcpy(key, j->val.p, kl);
        key[kl] = '\0';
        bench_json_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return -1;
        j->p++;
        bench_json_ws(j);
        if (j->p < j->end && *j->p == '"' && strcmp(key, "from") == 0) {
            if (bench_json_string(j, &j->val) != 0)
                return -1;
            from_gpt = j->val.len == 3 && memcmp(j->val.p, "gpt", 3) == 0;
        } else if (bench_json_value(j, key, from_gpt, depth + 1) != 0) {
            return -1;
        }
        bench_json_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return 0;
        }
        return -1;
    }
}

static int bench_json_array(bench_json *j, int depth)
{
    j->p++;                     /* '[' */
    bench_json_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        bench_json_ws(j);
        if (bench_json_value(j, NULL, 0, depth + 1) != 0)
            return -1;
        bench_json_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return 0;
        }
        return -1;
    }
}

/* Any value; strings that sit under a key go to the callback. */
static int bench_json_value(bench_json *j, const char *key, int from_gpt,
    int depth)
{
    if (depth > 64 || j->p >= j->end)
        return -1;
    switch (*j->p) {
    case '{':
        return bench_json_object(j, depth);
    case '[':
        return bench_json_array(j, depth);
    case '"':
        if (bench_json_string(j, &j->val) != 0)
            return -1;
        if (key != NULL)
            j->cb(key, j->val.p, j->val.len, from_gpt, j->payload);
        return 0;
    default:                    /* number, true, false, null */
        while (j->p < j->end && *j->p != ',' && *j->p != '}' &&
               *j->p != ']' && *j->p != ' ' && *j->p != '\n')
            j->p++;
        return 0;
    }
}

/* Walk one JSON document, calling cb for each string under a key. */
static int bench_json_walk(const char *text, size_t len, bench_json_cb cb,
    void *payload)
{
    bench_json j = { text, text + len, cb, payload, { NULL, 0, 0 }, 0 };
    bench_json_ws(&j);
    int rc = bench_json_value(&j, NULL, 0, 0);
    bench_buf_free(&j.val);
    return rc;
}

/* ---- corpora ---- */

typedef struct bench_llm_ctx {
    bench_buf *out;
    int failed;
} bench_llm_ctx;

static void bench_llm_add(bench_llm_ctx *c, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (bench_buf_append(c->out, s, n) != 0 ||
        bench_buf_append(c->out, "\n\n", 2) != 0)
        c->failed = 1;
}

/* llamafactory-demo: "output" strings and the values of gpt turns. */
static void bench_llama_cb(const char *key, const char *val, size_t vlen,
    int from_gpt, void *payload)
{
    if (strcmp(key, "output") == 0 ||
        (from_gpt && strcmp(key, "value") == 0))
        bench_llm_add(payload, val, vlen);
}

/* hh-rlhf: every Assistant turn of "chosen", the last one of "rejected". */
static void bench_hh_cb(const char *key, const char *val, size_t vlen,
    int from_gpt, void *payload)
{
    static const char A[] = "\n\nAssistant: ";
    static const char H[] = "\n\nHuman: ";
    (void)from_gpt;
    int chosen = strcmp(key, "chosen") == 0;
    if (!chosen && strcmp(key, "rejected") != 0)
        return;
    const char *p = val, *end = val + vlen, *last = NULL, *last_end = NULL;
    while (p < end) {
        const char *a = memmem(p, (size_t)(end - p), A, sizeof A - 1);
        if (a == NULL)
            break;
        a += sizeof A - 1;
        const char *h = memmem(a, (size_t)(end - a), H, sizeof H - 1);
        const char *e = h != NULL ? h : end;
        if (chosen)
            bench_llm_add(payload, a, (size_t)(e - a));
        last = a;
        last_end = e;
        p = e;
    }
    if (!chosen && last != NULL)
        bench_llm_add(payload, last, (size_t)(last_end - last));
}

static int bench_corpus_llm(const char *datadir, bench_buf *out)
{
    static const char *const files[] = { "alpaca_zh_demo.json",
        "alpaca_en_demo.json", "dpo_zh_demo.json" };
    char path[4096];
    bench_llm_ctx ctx = { out, 0 };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        bench_buf raw = { NULL, 0, 0 };
        int n = snprintf(path, sizeof path, "%s/llamafactory-demo/%s",
            datadir, files[i]);
        if (n < 0 || (size_t)n >= sizeof path ||
            bench_read_file(path, &raw) != 0) {
            bench_buf_free(&raw);
            return -1;
        }
        int rc = bench_json_walk(raw.p, raw.len, bench_llama_cb, &ctx);
        bench_buf_free(&raw);
        if (rc != 0 || ctx.failed) {
            fprintf(stderr, "bench: %s: cannot parse the JSON\n", path);
            return -1;
        }
    }
    bench_buf gz = { NULL, 0, 0 };
    int n = snprintf(path, sizeof path,
        "%s/hh-rlhf/harmless-base-test.jsonl.gz", datadir);
    if (n < 0 || (size_t)n >= sizeof path || bench_read_gzip(path, &gz) != 0) {
        bench_buf_free(&gz);
        return -1;
    }
    const char *p = gz.p, *end = gz.p + gz.len;
    int rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl != NULL ? nl : end;
        if (e > p)
            rc = bench_json_walk(p, (size_t)(e - p), bench_hh_cb, &ctx);
        p = e + 1;
    }
    bench_buf_free(&gz);
    if (rc != 0 || ctx.failed) {
        fprintf(stderr, "bench: %s: cannot parse a JSON line\n", path);
        return -1;
    }
    return 0;
}

static int bench_corpus_file(const char *datadir, const char *rel,
    bench_buf *out)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", datadir, rel);
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;
    if (bench_read_file(path, out) != 0)
        return -1;
    /* War and Peace starts with a BOM: not part of the prose. */
    if (out->len >= 3 && memcmp(out->p, "\xEF\xBB\xBF", 3) == 0) {
        memmove(out->p, out->p + 3, out->len - 3 + 1);
        out->len -= 3;
    }
    return 0;
}

size_t bench_utf8_prefix(const char *text, size_t len, size_t cap)
{
    if (cap >= len)
        return len;
    size_t n = cap;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    return n;
}

int bench_corpora_load(bench_corpora *out, const char *datadir,
    size_t mixed_bytes)
{
    memset(out, 0, sizeof *out);
    out->c[0].name = "zh-wiki-s";
    out->c[1].name = "zh-wiki-t";
    out->c[2].name = "en-novel";
    out->c[3].name = "llm";
    if (bench_corpus_file(datadir, "cmrc2018/cmrc2018_contexts.txt",
            &out->c[0].text) != 0 ||
        bench_corpus_file(datadir, "drcd/DRCD_dev_contexts.txt",
            &out->c[1].text) != 0 ||
        bench_corpus_file(datadir, "gutenberg/war-and-peace-2600-0.txt",
            &out->c[2].text) != 0 ||
        bench_corpus_llm(datadir, &out->c[3].text) != 0)
        return -1;
    size_t total = 0;
    for (int i = 0; i < BENCH_NCORPORA; i++)
        total += out->c[i].text.len;
    if (total == 0)
        return -1;
    /* Repeat the concatenation, then cut at a character boundary. */
    while (out->mixed.len < mixed_bytes) {
        for (int i = 0; i < BENCH_NCORPORA; i++) {
            bench_buf *t = &out->c[i].text;
            if (bench_buf_append(&out->mixed, t->p, t->len) != 0 ||
                bench_buf_append(&out->mixed, "\n", 1) != 0)
                return -1;
        }
    }
    out->mixed.len = bench_utf8_prefix(out->mixed.p, out->mixed.len,
        mixed_bytes);
    out->mixed.p[out->mixed.len] = '\0';
    return 0;
}

void bench_corpora_free(bench_corpora *c)
{
    for (int i = 0; i < BENCH_NCORPORA; i++)
        bench_buf_free(&c->c[i].text);
    bench_buf_free(&c->mixed);
}

/* ---- term sets ---- */

/* splitmix64 (Steele, Lea, Flood 2014): the PRNG of the sample. */
static uint64_t bench_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int bench_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1; cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2; cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3; cp = c & 0x07;
        } else {
            return 0;
        }
        if (k >= n - i)
            return 0;
        for (size_t m = 1; m <= k; m++) {
            if ((s[i + m] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + m] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += k + 1;
    }
    return 1;
}

typedef struct bench_span {
    size_t off, len;
} bench_span;

static int bench_span_cmp_text(const void *a, const void *b, void *store)
{
    const bench_span *x = a, *y = b;
    const char *s = store;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(s + x->off, s + y->off, n);
    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int bench_size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Split the source into cleaned entries (spans into src). */
static int bench_terms_split(bench_terms *t, const bench_buf *src,
    int first_field, bench_span **out, size_t *nout)
{
    size_t cap = 1024, n = 0;
    bench_span *v = malloc(cap * sizeof *v);
    if (v == NULL)
        return -1;
    const char *p = src->p, *end = src->p + src->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl != NULL ? nl : end;
        const char *s = p;
        p = e + 1;
        t->source_lines++;
        if (first_field) {
            const char *sp = memchr(s, ' ', (size_t)(e - s));
            if (sp != NULL)
                e = sp;
        }
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (e == s)
            continue;
        int ctl = 0, hash = 0;
        for (const char *q = s; q < e; q++) {
            unsigned char c = (unsigned char)*q;
            ctl |= c < 0x20 || c == 0x7F;
            hash |= c == '#';
        }
        if (ctl) {
            t->dropped_ctl++;
            continue;
        }
        if (hash) {
            t->dropped_hash++;
            continue;
        }
        if (!bench_utf8_valid((const unsigned char *)s, (size_t)(e - s))) {
            t->dropped_utf8++;
            continue;
        }
        if (n == cap) {
            bench_span *nv = realloc(v, 2 * cap * sizeof *v);
            if (nv == NULL) {
                free(v);
                return -1;
            }
            v = nv;
            cap *= 2;
        }
        v[n].off = (size_t)(s - src->p);
        v[n].len = (size_t)(e - s);
        n++;
    }
    *out = v;
    *nout = n;
    return 0;
}

/* Drop exact duplicates, keeping the first; keeps file order. */
static int bench_terms_dedup(bench_terms *t, const char *base,
    bench_span *v, size_t *n)
{
    bench_span *sorted = malloc((*n ? *n : 1) * sizeof *sorted);
    size_t *drop = malloc((*n ? *n : 1) * sizeof *drop);
    if (sorted == NULL || drop == NULL) {
        free(sorted);
        free(drop);
        return -1;
    }
    memcpy(sorted, v, *n * sizeof *v);
    /* equal texts sort by offset, so the first copy comes first */
    qsort_r(sorted, *n, sizeof *sorted, bench_span_cmp_text, (void *)base);
    size_t ndrop = 0;
    for (size_t i = 1; i < *n; i++)
        if (sorted[i].len == sorted[i - 1].len &&
            memcmp(base + sorted[i].off, base + sorted[i - 1].off,
                sorted[i].len) == 0)
            drop[ndrop++] = sorted[i].off;
    free(sorted);
    qsort(drop, ndrop, sizeof *drop, bench_size_cmp);
    size_t w = 0, d = 0;
    for (size_t i = 0; i < *n; i++) {
        while (d < ndrop && drop[d] < v[i].off)
            d++;
        if (d < ndrop && drop[d] == v[i].off)
            continue;
        v[w++] = v[i];
    }
    free(drop);
    t->dropped_dup = *n - w;
    *n = w;
    return 0;
}

/* Keep `k` of the n spans: partial Fisher-Yates with splitmix64(42). */
static int bench_terms_sample(bench_span *v, size_t *n, size_t k)
{
    if (k >= *n)
        return 0;
    size_t *idx = malloc(*n * sizeof *idx);
    bench_span *keep = malloc(k * sizeof *keep);
    if (idx == NULL || keep == NULL) {
        free(idx);
        free(keep);
        return -1;
    }
    for (size_t i = 0; i < *n; i++)
        idx[i] = i;
    uint64_t state = 42;
    for (size_t i = 0; i < k; i++) {
        /* modulo bias is below n / 2^64: negligible */
        size_t j = i + (size_t)(bench_splitmix64(&state) % (*n - i));
        size_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
    qsort(idx, k, sizeof *idx, bench_size_cmp);   /* file order */
    for (size_t i = 0; i < k; i++)
        keep[i] = v[idx[i]];
    memcpy(v, keep, k * sizeof *v);
    *n = k;
    free(idx);
    free(keep);
    return 0;
}

int bench_terms_load(bench_terms *out, const char *datadir, const char *name)
{
    memset(out, 0, sizeof *out);
    const char *rel;
    int first_field = 0;
    size_t sample = 0;
    if (strcmp(name, "sw10k") == 0) {
        rel = "sensitive-word/dict_v20240407.txt";
        sample = 10000;
    } else if (strcmp(name, "sw65k") == 0) {
        rel = "sensitive-word/dict_v20240407.txt";
    } else if (strcmp(name, "jieba349k") == 0) {
        rel = "jieba/dict.txt";
        first_field = 1;
    } else {
        fprintf(stderr, "bench: unknown term set %s\n", name);
        return -1;
    }
    char path[4096];
    int pn = snprintf(path, sizeof path, "%s/%s", datadir, rel);
    bench_buf src = { NULL, 0, 0 };
    bench_span *v = NULL;
    size_t n = 0;
    int rc = -1;
    if (pn < 0 || (size_t)pn >= sizeof path ||
        bench_read_file(path, &src) != 0)
        goto done;
    if (src.len >= 3 && memcmp(src.p, "\xEF\xBB\xBF", 3) == 0)
        memset(src.p, ' ', 3);                 /* a BOM: trimmed below */
    if (bench_terms_split(out, &src, first_field, &v, &n) != 0 ||
        bench_terms_dedup(out, src.p, v, &n) != 0)
        goto done;
    out->cleaned = n;
    if (sample > 0 && bench_terms_sample(v, &n, sample) != 0)
        goto done;
    out->terms = malloc((n ? n : 1) * sizeof *out->terms);
    out->lens = malloc((n ? n : 1) * sizeof *out->lens);
    if (out->terms == NULL || out->lens == NULL)
        goto done;
    size_t *offs = out->lens;                  /* offsets first, then lens */
    for (size_t i = 0; i < n; i++) {
        offs[i] = out->store.len;
        if (bench_buf_append(&out->store, src.p + v[i].off, v[i].len) != 0 ||
            bench_buf_append(&out->store, "", 1) != 0)
            goto done;
    }
    for (size_t i = 0; i < n; i++) {
        out->terms[i] = out->store.p + offs[i];
        out->lens[i] = v[i].len;
    }
    out->n = n;
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "bench: cannot load term set %s\n", name);
    free(v);
    bench_buf_free(&src);
    return rc;
}

void bench_terms_free(bench_terms *t)
{
    if (t == NULL)
        return;
    free(t->terms);
    free(t->lens);
    bench_buf_free(&t->store);
    memset(t, 0, sizeof *t);
}

void bench_terms_note(const bench_terms *t, const char *name)
{
    bench_note(name, "%zu terms (%zu source lines; dropped %zu with control "
        "bytes, %zu with '#', %zu invalid UTF-8, %zu duplicates; %zu left%s)",
        t->n, t->source_lines, t->dropped_ctl, t->dropped_hash,
        t->dropped_utf8, t->dropped_dup, t->cleaned,
        t->n < t->cleaned ? ", sampled with splitmix64 seed 42" : "");
}

/* ---- pieces, timing, memory, rows ---- */

int bench_pieces_cut(bench_pieces *out, const char *text, size_t len,
    size_t piece)
{
    memset(out, 0, sizeof *out);
    if (piece < 8)
        return -1;
    size_t cap = len / (piece - 4) + 2;
    out->p = malloc(cap * sizeof *out->p);
    out->len = malloc(cap * sizeof *out->len);
    if (out->p == NULL || out->len == NULL) {
        bench_pieces_free(out);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        size_t n = bench_utf8_prefix(text + off, len - off, piece);
        if (n == 0)                            /* cannot happen in UTF-8 */
            n = len - off < piece ? len - off : piece;
        if (out->n == cap) {
            bench_pieces_free(out);
            return -1;
        }
        out->p[out->n] = text + off;
        out->len[out->n] = n;
        out->n++;
        off += n;
    }
    out->bytes = len;
    return 0;
}

size_t bench_pieces_thin(bench_pieces *pc, size_t cap)
{
    if (cap == 0 || pc->bytes <= cap)
        return 1;
    size_t k = (pc->bytes + cap - 1) / cap, w = 0;
    pc->bytes = 0;
    for (size_t i = 0; i < pc->n; i += k) {
        pc->p[w] = pc->p[i];
        pc->len[w] = pc->len[i];
        pc->bytes += pc->len[w];
        w++;
    }
    pc->n = w;
    return k;
}

void bench_pieces_free(bench_pieces *pc)
{
    free(pc->p);
    free(pc->len);
    memset(pc, 0, sizeof *pc);
}

double bench_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench_double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int bench_measure(const bench_pieces *pc, bench_scan_fn fn, void *ctx,
    int reps, bench_result *out)
{
    double t[64];
    if (reps < 1)
        reps = 1;
    if (reps > 64)
        reps = 64;
    memset(out, 0, sizeof *out);
    for (int r = -1; r < reps; r++) {          /* r == -1: the warm-up */
        uint64_t m = 0;
        double t0 = bench_now();
        for (size_t i = 0; i < pc->n; i++)
            if (fn(ctx, pc->p[i], pc->len[i], &m) != 0)
                return -1;
        double t1 = bench_now();
        if (r >= 0)
            t[r] = t1 - t0;
        out->matches = m;
    }
    qsort(t, (size_t)reps, sizeof t[0], bench_double_cmp);
    out->seconds = reps % 2 ? t[reps / 2] :
        (t[reps / 2 - 1] + t[reps / 2]) / 2;
    out->bytes = pc->bytes;
    out->mbps = out->seconds > 0 ? (double)pc->bytes / out->seconds / 1e6 : 0;
    return 0;
}

void bench_mem_kb(long *rss_kb, long *hwm_kb)
{
    *rss_kb = *hwm_kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof line, f) != NULL) {
        long *dst = strncmp(line, "VmRSS:", 6) == 0 ? rss_kb :
            strncmp(line, "VmHWM:", 6) == 0 ? hwm_kb : NULL;
        if (dst == NULL)
            continue;
        char *end;
        long v = strtol(line + 6, &end, 10);
        if (end != line + 6)
            *dst = v;
    }
    if (fclose(f) != 0)
        return;
}

void bench_row_init(bench_row *row)
{
    memset(row, 0, sizeof *row);
    row->set = row->engine = row->corpus = "-";
    row->note = "";
    row->compile_ms = -1;
    row->db_bytes = -1;
    row->rss_base_kb = row->rss_loaded_kb = row->rss_end_kb = -1;
    row->hwm_kb = -1;
}

void bench_row_print(const bench_row *row)
{
    printf("R\t%s\t%s\t%s\t%zu\t%zu\t%zu\t%.2f\t%.1f\t%lld\t%ld\t%ld\t%ld\t"
        "%ld\t%llu\t%s\n", row->set, row->engine, row->corpus, row->piece,
        row->r.bytes, row->nterms, row->r.mbps, row->compile_ms,
        row->db_bytes, row->rss_base_kb, row->rss_loaded_kb, row->rss_end_kb,
        row->hwm_kb, (unsigned long long)row->r.matches,
        row->note[0] ? row->note : "-");
    if (fflush(stdout) != 0)
        fprintf(stderr, "bench: cannot write the results\n");
    fprintf(stderr, "  %-10s %-8s %-10s %8zu B  %9.2f MB/s  %llu matches\n",
        row->set, row->engine, row->corpus, row->piece, row->r.mbps,
        (unsigned long long)row->r.matches);
}

void bench_note(const char *key, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    printf("N\t%s\t%s\n", key, text);
    if (fflush(stdout) != 0)
        fprintf(stderr, "bench: cannot write the results\n");
}

int bench_run_text(const bench_plan *pl, bench_row *row, const char *corpus,
    const char *text, size_t len, size_t piece, size_t cap, bench_scan_fn fn,
    void *ctx)
{
    bench_pieces pc;
    if (bench_pieces_cut(&pc, text, len, piece) != 0)
        return -1;
    size_t stride = bench_pieces_thin(&pc, cap);
    char note[256];
    const char *note0 = row->note;
    if (stride > 1) {
        int n = snprintf(note, sizeof note, "%s%sinput capped: 1 piece in "
            "%zu", note0, note0[0] ? "; " : "", stride);
        if (n > 0)
            row->note = note;
    }
    row->corpus = corpus;
    row->piece = piece;
    int rc = bench_measure(&pc, fn, ctx, pl->reps, &row->r);
    bench_pieces_free(&pc);
    if (rc == 0) {
        bench_mem_kb(&row->rss_end_kb, &row->hwm_kb);
        bench_row_print(row);
    }
    row->note = note0;
    return rc;
}

int bench_run_all(const bench_plan *pl, const bench_corpora *c,
    bench_row *row, bench_scan_fn fn, void *ctx)
{
    if (bench_run_text(pl, row, "mixed", c->mixed.p, c->mixed.len, 4096,
            pl->cap, fn, ctx) != 0)
        return -1;
    if (pl->one_mb && bench_run_text(pl, row, "mixed", c->mixed.p,
            c->mixed.len, 1u << 20, pl->cap, fn, ctx) != 0)
        return -1;
    for (int i = 0; pl->corpora && i < BENCH_NCORPORA; i++)
        if (bench_run_text(pl, row, c->c[i].name, c->c[i].text.p,
                c->c[i].text.len, 4096, pl->corpus_cap, fn, ctx) != 0)
            return -1;
    return 0;
}

static int bench_yes_no(const char *v, int *out)
{
    if (strcmp(v, "yes") == 0)
        *out = 1;
    else if (strcmp(v, "no") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

int bench_plan_parse(bench_plan *pl, int argc, char **argv,
    int (*extra)(void *payload, const char *key, const char *val),
    void *payload)
{
    memset(pl, 0, sizeof *pl);
    pl->corpora = pl->one_mb = 1;
    int have_corpus_cap = 0;
    if (argc % 2 != 1)
        return -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        int bad = 0;
        if (strcmp(k, "--data") == 0)
            pl->data = v;
        else if (strcmp(k, "--set") == 0)
            pl->set = v;
        else if (strcmp(k, "--cap") == 0)
            bad = bench_parse_size(v, &pl->cap);
        else if (strcmp(k, "--corpus-cap") == 0) {
            bad = bench_parse_size(v, &pl->corpus_cap);
            have_corpus_cap = 1;
        } else if (strcmp(k, "--corpora") == 0)
            bad = bench_yes_no(v, &pl->corpora);
        else if (strcmp(k, "--one-mb") == 0)
            bad = bench_yes_no(v, &pl->one_mb);
        else
            bad = extra != NULL ? extra(payload, k, v) != 1 : 1;
        if (bad) {
            fprintf(stderr, "bench: bad option %s %s\n", k, v);
            return -1;
        }
    }
    if (pl->data == NULL || pl->set == NULL)
        return -1;
    if (!have_corpus_cap)
        pl->corpus_cap = pl->cap;
    pl->mixed_bytes = bench_env_size("BENCH_MB", 20, 1, 1024) << 20;
    pl->reps = (int)bench_env_size("BENCH_REPS", 5, 1, 64);
    return 0;
}

int bench_parse_size(const char *s, size_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

size_t bench_env_size(const char *name, size_t dflt, size_t lo, size_t hi)
{
    size_t v;
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    if (bench_parse_size(s, &v) != 0 || v < lo || v > hi) {
        fprintf(stderr, "bench: ignoring %s=%s (want %zu..%zu)\n", name, s,
            lo, hi);
        return dflt;
    }
    return v;
}

#endif /* BENCH_IMPLEMENTATION */
#endif /* SLUICE_BENCH_H */
