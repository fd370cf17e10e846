/*
 * cmd_diff.c - `sluice diff OLD NEW --corpus FILE...`: checks every input
 * of one or more corpora against two policies and reports the inputs whose
 * verdict changes (action, set of rules fired, or output text), grouped by
 * rule and by action transition, with examples (docs/policy-diff.md).
 *
 * Design. The main thread reads the corpora line by line (a file is never
 * loaded whole) and cuts them into batches of at most BATCH_LINES lines or
 * BATCH_BYTES bytes of text. JSON lines are decoded on the main thread too:
 * cJSON writes a global error position on every parse, so it must stay on
 * one thread. Batches enter a ring of RING_PER_JOB slots per worker; the
 * workers take them in sequence order, check each input on both engines
 * (one engine per policy, shared by all threads: engines are thread-safe)
 * and keep both verdicts of the inputs that changed, with what changed.
 * The main thread consumes batches strictly in sequence order, whatever
 * order they finish in, so the report, the JSON lines and even the error
 * messages are the same for any number of threads.
 *
 * Invariants: next_out <= next_take <= next_push <= next_out + ring_n;
 * batch s lives in slot s % ring_n while next_out <= s < next_push; a batch
 * belongs to the worker that took it until the worker sets `done`, to the
 * main thread otherwise (the pool mutex orders every hand-over). Memory is
 * bounded by the ring (about ring_n * BATCH_BYTES of text plus the verdicts
 * of the changed inputs in it) and by the report: counters per group and at
 * most --examples rendered examples per group.
 *
 * Exit status: 0 no verdict changed, 1 some changed (like diff(1)), 2 usage
 * or input errors, including bad corpus lines unless --skip-bad.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/mutate.h"

#define DEFAULT_MAX_INPUT ((size_t)16 << 20)
#define DEFAULT_EXAMPLES 5
#define MAX_EXAMPLES 100000
#define MAX_JOBS 1024
#define BATCH_LINES 256
#define BATCH_BYTES ((size_t)256 << 10)
#define RING_PER_JOB 4
#define BAD_SHOWN 20          /* bad lines described on stderr */
#define QUOTE_BEFORE 30       /* characters shown before a highlight */
#define QUOTE_SPAN 60         /* characters of a highlight shown */
#define QUOTE_AFTER 30        /* characters shown after it */
#define QUOTE_PLAIN 100       /* characters shown without a highlight */
#define DELTA_SHOWN 8         /* rule changes listed on an example line */
#define PROGRESS_NS 100000000L
#define NACTIONS 5

enum { FMT_AUTO, FMT_TEXT, FMT_JSONL };
enum { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };
/* An item is ITEM_SAME until checked (or ITEM_BAD from the start). */
enum { ITEM_SAME, ITEM_CHANGED, ITEM_BAD, ITEM_FATAL };
enum { G_ADDED, G_REMOVED, G_CHANGED };

typedef struct diff_opts {
    const char *old_path;
    const char *new_path;
    const char **corpora;
    size_t ncorpora;
    int json;
    size_t examples;
    size_t jobs;
    int format;
    const char *field;
    size_t max_input;
    int skip_bad;
    int progress;          /* 0: never; 1: when stderr is a terminal */
    int color;
} diff_opts;

/* ------------------------------------------------------------------------
 * Growable byte buffer; an allocation failure sticks in `oom`
 * ---------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const void *s, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(b, big, (size_t)n);
    free(big);
}

/* The contents as a malloc'd C string (the buffer is emptied), or NULL if
 * an allocation failed along the way. */
static char *sb_take(sbuf *b)
{
    sb_put(b, "", 1);
    if (b->oom) {
        free(b->p);
        memset(b, 0, sizeof *b);
        return NULL;
    }
    char *s = b->p;
    memset(b, 0, sizeof *b);
    return s;
}

/* ------------------------------------------------------------------------
 * UTF-8, quoting and JSON strings
 * ---------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s[0..n), or 0 if it is not
   well-formed (overlongs and surrogates are not). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    uint32_t cp;
    return cli_utf8_next(s, n, &cp);
}

/* The offset `k` characters after `pos` (a stray byte is a character). */
static size_t chars_fwd(const char *s, size_t n, size_t pos, size_t k)
{
    const unsigned char *u = (const unsigned char *)s;
    while (k > 0 && pos < n) {
        size_t l = utf8_len(u + pos, n - pos);
        pos += l ? l : 1;
        k--;
    }
    return pos;
}

/* The offset `k` characters before `pos`. */
static size_t chars_back(const char *s, size_t pos, size_t k)
{
    const unsigned char *u = (const unsigned char *)s;
    while (k > 0 && pos > 0) {
        size_t p = pos - 1;
        while (p > 0 && pos - p < 4 && (u[p] & 0xC0) == 0x80)
            p--;
        if (utf8_len(u + p, pos - p) != pos - p)
            p = pos - 1;
        pos = p;
        k--;
    }
    return pos;
}

/* Back up `pos` to the start of the character it falls in. */
static size_t char_start(const char *s, size_t n, size_t pos)
{
    size_t p = pos;
    if (pos >= n)
        return pos;
    while (p > 0 && pos - p < 3 && ((unsigned char)s[p] & 0xC0) == 0x80)
        p--;
    return utf8_len((const unsigned char *)s + p, n - p) > pos - p ? p : pos;
}

/* s[0..n) for a terminal: C escapes for quotes, controls and bad bytes. */
static void sb_escaped(sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        size_t k = utf8_len(u + i, n - i);
        if (k > 0 && u[i] >= 0x20 && u[i] != 0x7F && u[i] != '"' &&
            u[i] != '\\') {
            i += k;
            continue;
        }
        sb_put(b, s + run, i - run);
        if (u[i] == '"' || u[i] == '\\')
            sb_printf(b, "\\%c", u[i]);
        else if (u[i] == '\n')
            sb_puts(b, "\\n");
        else if (u[i] == '\t')
            sb_puts(b, "\\t");
        else
            sb_printf(b, "\\x%02x", u[i]);
        run = ++i;
    }
    sb_put(b, s + run, n - run);
}

/* s[0..n) as a JSON string; invalid UTF-8 becomes U+FFFD, so the line is
 * always valid JSON (and valid UTF-8). */
static void sb_json_str(sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    sb_put(b, "\"", 1);
    while (i < n) {
        size_t k = utf8_len(u + i, n - i);
        if (k > 0 && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\') {
            i += k;
            continue;
        }
        sb_put(b, s + run, i - run);
        if (k == 0) {          /* one per ill-formed sequence, as verdicts */
            sb_puts(b, "\\ufffd");
            i += cli_utf8_bad_len(u + i, n - i);
            run = i;
            continue;
        }
        if (u[i] == '"' || u[i] == '\\')
            sb_printf(b, "\\%c", u[i]);
        else if (u[i] == '\n')
            sb_puts(b, "\\n");
        else if (u[i] == '\t')
            sb_puts(b, "\\t");
        else if (u[i] == '\r')
            sb_puts(b, "\\r");
        else
            sb_printf(b, "\\u%04x", u[i]);
        run = ++i;
    }
    sb_put(b, s + run, n - run);
    sb_put(b, "\"", 1);
}

static void sb_json_cstr(sbuf *b, const char *s)
{
    sb_json_str(b, s, strlen(s));
}

/* ------------------------------------------------------------------------
 * Corpora, batches and items
 * ---------------------------------------------------------------------- */

typedef struct corpus {
    const char *path;      /* as given; "-" is standard input */
    const char *name;      /* as reports show it */
} corpus;

/* One span that is in one verdict but not in the other. */
typedef struct dspan {
    size_t start, end;
    const char *rule;      /* borrowed from the verdict it came from */
    int side;              /* +1: only NEW has it; -1: only OLD */
} dspan;

/* What changed between the two verdicts of one input. The rule ids are
 * borrowed from the verdicts; mem and spans are owned. */
typedef struct ddelta {
    const char **mem;
    const char **added, **removed, **changed;
    size_t nadded, nremoved, nchanged;
    dspan *spans;          /* sorted by (start, end, rule) */
    size_t nspans;
} ddelta;

typedef struct ditem {
    uint32_t file;
    uint64_t line;
    size_t off, len;       /* the text, in the batch arena */
    size_t id_off, id_len; /* the JSON line's "id", if has_id */
    int has_id;
    int state;             /* ITEM_* */
    char *msg;             /* ITEM_BAD, ITEM_FATAL: why (malloc'd, may be
                              NULL for out of memory) */
    sluice_verdict *ov, *nv;   /* ITEM_CHANGED */
    ddelta d;
} ditem;

typedef struct dbatch {
    char *arena;
    size_t alen, acap;
    ditem *items;
    size_t n, cap;
    uint64_t bytes;        /* corpus bytes read for this batch */
    int done;              /* set by the worker, under the pool mutex */
    struct dbatch *next;   /* in the list of spare batches */
} dbatch;

static void delta_free(ddelta *d)
{
    free(d->mem);
    free(d->spans);
}

/* Empty b for the next lines: the items' verdicts and messages go, the
 * buffers stay. */
static void batch_clear(dbatch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        ditem *it = &b->items[i];
        free(it->msg);
        sluice_verdict_free(it->ov);
        sluice_verdict_free(it->nv);
        delta_free(&it->d);
    }
    b->n = 0;
    b->alen = 0;
    b->bytes = 0;
    b->done = 0;
}

static void batch_free(dbatch *b)
{
    if (b == NULL)
        return;
    batch_clear(b);
    free(b->items);
    free(b->arena);
    free(b);
}

/* A batch from the spare list, or a new one with room for a full batch
 * (recycling spares keeps malloc off the reading thread). NULL: OOM. */
static dbatch *batch_get(dbatch **spare)
{
    dbatch *b = *spare;
    if (b != NULL) {
        *spare = b->next;
        b->next = NULL;
        return b;
    }
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->arena = malloc(BATCH_BYTES + 4096);     /* may fail: it grows later */
    b->acap = b->arena != NULL ? BATCH_BYTES + 4096 : 0;
    return b;
}

static void batch_put(dbatch **spare, dbatch *b)
{
    batch_clear(b);
    b->next = *spare;
    *spare = b;
}

/* Append n bytes and a NUL to the arena; their offset in *off. */
static int arena_add(dbatch *b, const char *s, size_t n, size_t *off)
{
    if (n + 1 > b->acap - b->alen) {
        size_t cap = b->acap ? b->acap : 4096;
        while (cap - b->alen < n + 1) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *q = realloc(b->arena, cap);
        if (q == NULL)
            return -1;
        b->arena = q;
        b->acap = cap;
    }
    if (n > 0)
        memcpy(b->arena + b->alen, s, n);
    b->arena[b->alen + n] = '\0';
    *off = b->alen;
    b->alen += n + 1;
    return 0;
}

static ditem *batch_item(dbatch *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        ditem *q = realloc(b->items, cap * sizeof *q);
        if (q == NULL)
            return NULL;
        b->items = q;
        b->cap = cap;
    }
    ditem *it = &b->items[b->n++];
    memset(it, 0, sizeof *it);
    return it;
}

/* ------------------------------------------------------------------------
 * Reading: lines -> items (on the main thread)
 * ---------------------------------------------------------------------- */

typedef struct reader {
    const diff_opts *o;
    const corpus *files;
    size_t nfiles, cur;
    FILE *f;               /* the file being read, or NULL between files */
    uint64_t line;
    char *buf;
    size_t cap;
    int eof;               /* every file read */
} reader;

static int item_bad(ditem *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int item_bad(ditem *it, const char *fmt, ...)
{
    char tmp[300];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    it->state = ITEM_BAD;
    it->msg = strdup(tmp);
    return it->msg == NULL ? -1 : 0;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' &&
            s[i] != '\f')
            return 0;
    return 1;
}

/* Store a JSON number id as text (integers exactly, others %.17g). */
static int store_number_id(dbatch *b, ditem *it, double v)
{
    char tmp[64];
    if (v >= -9007199254740992.0 && v <= 9007199254740992.0 &&
        v == (double)(long long)v)
        snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    else
        snprintf(tmp, sizeof tmp, "%.17g", v);
    it->has_id = 1;
    it->id_len = strlen(tmp);
    return arena_add(b, tmp, it->id_len, &it->id_off);
}

/* Decode a JSON line into the item: its text field and optional "id".
 * Returns 0 (the item may have become ITEM_BAD) or -1 out of memory. */
static int decode_json(const reader *r, dbatch *b, ditem *it, const char *s,
    size_t n)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    int rc = 0;
    if (j == NULL)
        return item_bad(it, "invalid JSON at byte %zu",
            end != NULL && end >= s ? (size_t)(end - s) + 1 : (size_t)1);
    while (end != NULL && end > s && end < s + n && is_blank(end, 1))
        end++;
    if (end != NULL && end > s && end < s + n) {
        rc = item_bad(it, "text after the JSON value at byte %zu",
            (size_t)(end - s) + 1);
        goto out;
    }
    if (!cJSON_IsObject(j)) {
        rc = item_bad(it, "not a JSON object");
        goto out;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, r->o->field);
    if (!cJSON_IsString(t)) {
        rc = t == NULL ?
            item_bad(it, "no \"%s\" field", r->o->field) :
            item_bad(it, "\"%s\" is not a string", r->o->field);
        goto out;
    }
    it->len = strlen(t->valuestring);
    if (it->len > r->o->max_input) {
        rc = item_bad(it, "input is %zu bytes, over the limit of %zu "
            "(--max-input)", it->len, r->o->max_input);
        goto out;
    }
    if (arena_add(b, t->valuestring, it->len, &it->off) != 0) {
        rc = -1;
        goto out;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    if (cJSON_IsString(id)) {
        it->has_id = 1;
        it->id_len = strlen(id->valuestring);
        rc = arena_add(b, id->valuestring, it->id_len, &it->id_off);
    } else if (cJSON_IsNumber(id)) {
        rc = store_number_id(b, it, id->valuedouble);
    }
out:
    cJSON_Delete(j);
    return rc;
}

/* One line (with its newline) into the batch. Blank lines are no input.
 * Returns 0 or -1 out of memory. */
static int add_line(reader *r, dbatch *b, const char *s, size_t n)
{
    if (n > 0 && s[n - 1] == '\n')
        n--;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (r->line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        n -= 3;
    }
    if (is_blank(s, n))
        return 0;
    ditem *it = batch_item(b);
    if (it == NULL)
        return -1;
    it->file = (uint32_t)r->cur;
    it->line = r->line;
    it->state = ITEM_SAME;
    size_t lead = 0;
    while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
        lead++;
    if (r->o->format == FMT_JSONL ||
        (r->o->format == FMT_AUTO && s[lead] == '{'))
        return decode_json(r, b, it, s, n);
    it->len = n;
    if (n > r->o->max_input)
        return item_bad(it, "input is %zu bytes, over the limit of %zu "
            "(--max-input)", n, r->o->max_input);
    return arena_add(b, s, n, &it->off);
}

static int open_next(reader *r)
{
    const corpus *c = &r->files[r->cur];
    r->line = 0;
    if (strcmp(c->path, "-") == 0) {
        r->f = stdin;
        return 0;
    }
    r->f = fopen(c->path, "rb");
    if (r->f == NULL)
        return cli_fail("diff: %s: %s", c->path, strerror(errno));
    return 0;
}

static void close_current(reader *r)
{
    if (r->f != NULL && r->f != stdin)
        (void)fclose(r->f);       /* read-only: nothing to lose */
    r->f = NULL;
}

/*
 * Fill b with the next lines (up to BATCH_LINES items or BATCH_BYTES of
 * text). Sets r->eof after the last file. Returns 0, or EXIT_USAGE after
 * printing why (a file that cannot be read, compressed input, out of
 * memory).
 */
static int read_batch(reader *r, dbatch *b)
{
    while (b->n < BATCH_LINES && b->alen < BATCH_BYTES) {
        if (r->f == NULL) {
            if (r->cur == r->nfiles) {
                r->eof = 1;
                return 0;
            }
            if (open_next(r) != 0)
                return EXIT_USAGE;
        }
        errno = 0;
        ssize_t n = getline(&r->buf, &r->cap, r->f);
        if (n < 0) {
            if (!feof(r->f))
                return cli_fail("diff: %s: %s", r->files[r->cur].name,
                    strerror(errno ? errno : EIO));
            close_current(r);
            r->cur++;
            continue;
        }
        r->line++;
        b->bytes += (uint64_t)n;
        if (r->line == 1 && n >= 2 && (unsigned char)r->buf[0] == 0x1F &&
            (unsigned char)r->buf[1] == 0x8B)
            return cli_fail("diff: %s: gzip-compressed; decompress it "
                "first, e.g. zcat %s | sluice diff OLD NEW --corpus -",
                r->files[r->cur].name, r->files[r->cur].path);
        if (add_line(r, b, r->buf, (size_t)n) != 0)
            return cli_fail("out of memory");
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Comparing two verdicts (on the workers)
 * ---------------------------------------------------------------------- */

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_dspan(const void *a, const void *b)
{
    const dspan *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->rule, y->rule);
}

/* The verdict's rule ids, sorted (malloc'd array, borrowed strings). */
static const char **sorted_rules(const sluice_verdict *v, size_t *n)
{
    *n = sluice_verdict_rule_count(v);
    const char **r = malloc((*n + 1) * sizeof *r);
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        r[i] = sluice_verdict_rule(v, i);
    qsort(r, *n, sizeof *r, cmp_strp);
    return r;
}

static dspan *sorted_spans(const sluice_verdict *v, int side, size_t *n)
{
    size_t cnt = sluice_verdict_span_count(v), k = 0;
    dspan *s = malloc((cnt + 1) * sizeof *s);
    sluice_span sp;
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < cnt; i++) {
        if (sluice_verdict_span(v, i, &sp) != 0 || sp.rule == NULL)
            continue;
        s[k].start = sp.start;
        s[k].end = sp.end;
        s[k].rule = sp.rule;
        s[k].side = side;
        k++;
    }
    qsort(s, k, sizeof *s, cmp_dspan);
    *n = k;
    return s;
}

/* 1 if the verdicts differ in action, set of rules, or output. Allocation
 * failures answer 1 (the delta then reports them). */
static int verdicts_differ(const sluice_verdict *a, const sluice_verdict *b)
{
    size_t la = 0, lb = 0, n = sluice_verdict_rule_count(a), na, nb;
    const char *oa = sluice_verdict_output(a, &la);
    const char *ob = sluice_verdict_output(b, &lb);
    if (sluice_verdict_action(a) != sluice_verdict_action(b) || la != lb ||
        (la > 0 && memcmp(oa, ob, la) != 0) ||
        n != sluice_verdict_rule_count(b))
        return 1;
    size_t i = 0;
    while (i < n && strcmp(sluice_verdict_rule(a, i),
        sluice_verdict_rule(b, i)) == 0)
        i++;
    if (i == n)
        return 0;
    /* same rules in another order (policies that reorder rules)? */
    const char **ra = sorted_rules(a, &na), **rb = sorted_rules(b, &nb);
    int differ = ra == NULL || rb == NULL;
    for (i = 0; !differ && i < n; i++)
        differ = strcmp(ra[i], rb[i]) != 0;
    free(ra);
    free(rb);
    return differ;
}

/* Merge sorted spans: those in one list only go to d->spans. */
static int delta_spans(const sluice_verdict *ov, const sluice_verdict *nv,
    ddelta *d)
{
    size_t no = 0, nn = 0, i = 0, j = 0;
    dspan *so = sorted_spans(ov, -1, &no), *sn = sorted_spans(nv, +1, &nn);
    int rc = -1;
    if (so == NULL || sn == NULL)
        goto out;
    d->spans = malloc((no + nn + 1) * sizeof *d->spans);
    if (d->spans == NULL)
        goto out;
    while (i < no || j < nn) {
        int c = i == no ? 1 : j == nn ? -1 : cmp_dspan(&so[i], &sn[j]);
        if (c < 0)
            d->spans[d->nspans++] = so[i++];
        else if (c > 0)
            d->spans[d->nspans++] = sn[j++];
        else
            i++, j++;
    }
    rc = 0;
out:
    free(so);
    free(sn);
    return rc;
}

/*
 * What changed between ov and nv: rules added and removed, rules in both
 * whose spans differ ("changed"), and the differing spans. Returns 0 or -1
 * out of memory (d is then freed by delta_free as usual).
 */
static int delta_compute(const sluice_verdict *ov, const sluice_verdict *nv,
    ddelta *d)
{
    size_t no = 0, nn = 0, i = 0, j = 0, ncommon = 0, ndr = 0;
    const char **ro = sorted_rules(ov, &no), **rn = sorted_rules(nv, &nn);
    const char **dr = NULL;
    int rc = -1;

    memset(d, 0, sizeof *d);
    d->mem = malloc((2 * (no + nn) + 1) * sizeof *d->mem);
    if (ro == NULL || rn == NULL || d->mem == NULL ||
        delta_spans(ov, nv, d) != 0)
        goto out;
    d->added = d->mem;
    d->removed = d->mem + nn;
    d->changed = d->mem + nn + no;
    const char **common = d->mem + 2 * nn + no;  /* room for min(no, nn) */
    while (i < no || j < nn) {
        int c = i == no ? 1 : j == nn ? -1 : strcmp(ro[i], rn[j]);
        if (c < 0)
            d->removed[d->nremoved++] = ro[i++];
        else if (c > 0)
            d->added[d->nadded++] = rn[j++];
        else
            common[ncommon++] = rn[j++], i++;
    }
    /* changed = common rules with a differing span (both lists sorted) */
    dr = malloc((d->nspans + 1) * sizeof *dr);
    if (dr == NULL)
        goto out;
    for (size_t k = 0; k < d->nspans; k++)
        dr[ndr++] = d->spans[k].rule;
    qsort(dr, ndr, sizeof *dr, cmp_strp);
    for (i = 0, j = 0; i < ncommon && j < ndr;) {
        int c = strcmp(common[i], dr[j]);
        if (c < 0)
            i++;
        else if (c > 0)
            j++;
        else {
            d->changed[d->nchanged++] = common[i++];
            while (j < ndr && strcmp(dr[j], d->changed[d->nchanged - 1]) == 0)
                j++;
        }
    }
    rc = 0;
out:
    free(ro);
    free(rn);
    free(dr);
    return rc;
}

/* ------------------------------------------------------------------------
 * The worker pool
 * ---------------------------------------------------------------------- */

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work;       /* a batch was pushed, or stop */
    pthread_cond_t done;       /* a batch is done (CLOCK_MONOTONIC) */
    dbatch **ring;
    size_t ring_n;
    uint64_t next_out, next_take, next_push;
    int stop;                  /* no more batches will come */
    int abort;                 /* skip the work of batches still queued */
    sluice_engine *eold, *enew;
    pthread_t *threads;
    size_t nthreads;
} pool;

/* A pthread call that cannot fail on a valid object; if it does anyway,
 * nothing sane is left to do. */
static void must(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "sluice: %s: %s\n", what, strerror(rc));
        abort();
    }
}

static void check_item(const pool *pl, const dbatch *b, ditem *it)
{
    const char *text = b->arena + it->off;
    sluice_error err;
    int rc;

    if (it->state != ITEM_SAME)
        return;
    memset(&err, 0, sizeof err);
    rc = sluice_check(pl->eold, text, it->len, NULL, &it->ov, &err);
    if (rc == 0)
        rc = sluice_check(pl->enew, text, it->len, NULL, &it->nv, &err);
    if (rc != 0) {
        it->state = rc == SLUICE_ENOMEM ? ITEM_FATAL : ITEM_BAD;
        it->msg = strdup(err.message[0] ? err.message : sluice_strerror(rc));
        return;
    }
    if (!verdicts_differ(it->ov, it->nv)) {
        sluice_verdict_free(it->ov);
        sluice_verdict_free(it->nv);
        it->ov = it->nv = NULL;
        return;
    }
    it->state = ITEM_CHANGED;
    if (delta_compute(it->ov, it->nv, &it->d) != 0)
        it->state = ITEM_FATAL;
}

static void *worker_main(void *arg)
{
    pool *pl = arg;
    for (;;) {
        must(pthread_mutex_lock(&pl->mu), "lock");
        while (pl->next_take == pl->next_push && !pl->stop)
            must(pthread_cond_wait(&pl->work, &pl->mu), "wait");
        if (pl->next_take == pl->next_push) {
            must(pthread_mutex_unlock(&pl->mu), "unlock");
            return NULL;
        }
        dbatch *b = pl->ring[pl->next_take++ % pl->ring_n];
        int skip = pl->abort;
        must(pthread_mutex_unlock(&pl->mu), "unlock");
        for (size_t i = 0; i < b->n && !skip; i++)
            check_item(pl, b, &b->items[i]);
        must(pthread_mutex_lock(&pl->mu), "lock");
        b->done = 1;
        must(pthread_cond_signal(&pl->done), "signal");
        must(pthread_mutex_unlock(&pl->mu), "unlock");
    }
}

/* Start `jobs` workers. Returns 0 or EXIT_USAGE after printing why. */
static int pool_start(pool *pl, size_t jobs, sluice_engine *eold,
    sluice_engine *enew)
{
    pthread_condattr_t ca;
    int rc;

    memset(pl, 0, sizeof *pl);
    pl->eold = eold;
    pl->enew = enew;
    pl->ring_n = jobs * RING_PER_JOB;
    pl->ring = calloc(pl->ring_n, sizeof *pl->ring);
    pl->threads = calloc(jobs, sizeof *pl->threads);
    if (pl->ring == NULL || pl->threads == NULL) {
        free(pl->ring);
        free(pl->threads);
        pl->ring = NULL;
        pl->threads = NULL;
        return cli_fail("out of memory");
    }
    must(pthread_mutex_init(&pl->mu, NULL), "mutex");
    must(pthread_cond_init(&pl->work, NULL), "cond");
    must(pthread_condattr_init(&ca), "condattr");
    must(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), "condattr");
    must(pthread_cond_init(&pl->done, &ca), "cond");
    must(pthread_condattr_destroy(&ca), "condattr");
    for (size_t i = 0; i < jobs; i++) {
        if ((rc = pthread_create(&pl->threads[i], NULL, worker_main, pl)) != 0)
            return cli_fail("diff: cannot start worker thread %zu: %s", i + 1,
                strerror(rc));
        pl->nthreads++;
    }
    return 0;
}

/* Stop and join the workers (queued batches are finished, or skipped
 * with `abort`), then free the batches not yet consumed. */
static void pool_stop(pool *pl, int abort_queued)
{
    if (pl->ring == NULL)
        return;
    if (pl->threads != NULL) {
        must(pthread_mutex_lock(&pl->mu), "lock");
        pl->stop = 1;
        pl->abort = abort_queued;
        must(pthread_cond_broadcast(&pl->work), "broadcast");
        must(pthread_mutex_unlock(&pl->mu), "unlock");
        for (size_t i = 0; i < pl->nthreads; i++)
            must(pthread_join(pl->threads[i], NULL), "join");
        must(pthread_cond_destroy(&pl->work), "cond");
        must(pthread_cond_destroy(&pl->done), "cond");
        must(pthread_mutex_destroy(&pl->mu), "mutex");
    }
    for (uint64_t s = pl->next_out; s < pl->next_push; s++)
        batch_free(pl->ring[s % pl->ring_n]);
    free(pl->ring);
    free(pl->threads);
    pl->ring = NULL;
}

static void pool_push(pool *pl, dbatch *b)
{
    must(pthread_mutex_lock(&pl->mu), "lock");
    pl->ring[pl->next_push++ % pl->ring_n] = b;
    must(pthread_cond_signal(&pl->work), "signal");
    must(pthread_mutex_unlock(&pl->mu), "unlock");
}

/* Wait up to `ns` (0: forever) for the oldest batch; it, or NULL. */
static dbatch *pool_wait(pool *pl, long ns)
{
    dbatch *b = pl->ring[pl->next_out % pl->ring_n];
    struct timespec until;
    must(pthread_mutex_lock(&pl->mu), "lock");
    if (ns > 0 && !b->done) {
        must(clock_gettime(CLOCK_MONOTONIC, &until) != 0 ? errno : 0,
            "clock");
        until.tv_nsec += ns;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        int rc = pthread_cond_timedwait(&pl->done, &pl->mu, &until);
        if (rc != ETIMEDOUT)
            must(rc, "wait");
    } else {
        while (!b->done)
            must(pthread_cond_wait(&pl->done, &pl->mu), "wait");
    }
    int ready = b->done;
    must(pthread_mutex_unlock(&pl->mu), "unlock");
    return ready ? b : NULL;
}

/* ------------------------------------------------------------------------
 * The report: groups, examples, JSON lines
 * ---------------------------------------------------------------------- */

typedef struct group {
    int kind;              /* G_*; unused for transitions and "other" */
    char *rule;
    uint64_t count;
    char **ex;             /* rendered examples, at most --examples */
    size_t nex;
} group;

typedef struct progress {
    int on;
    int shown;             /* a bar is on the terminal now */
    uint64_t total;        /* corpus bytes, 0 if unknown */
    struct timespec t0, last;
} progress;

typedef struct report {
    const diff_opts *o;
    const corpus *files;
    progress *pg;
    uint64_t inputs, changed, bad, bytes;
    group trans[NACTIONS][NACTIONS];
    group other;           /* same action and rules, another output */
    group **tab;           /* rule groups: open addressing on (kind, rule) */
    size_t tab_cap, ngroups;
    int color;
    sbuf line;             /* scratch for JSON lines */
} report;

static void group_free(group *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->nex; i++)
        free(g->ex[i]);
    free(g->ex);
    free(g->rule);
}

static void report_free(report *rp)
{
    for (size_t i = 0; i < rp->tab_cap; i++)
        if (rp->tab[i] != NULL) {
            group_free(rp->tab[i]);
            free(rp->tab[i]);
        }
    free(rp->tab);
    for (int a = 0; a < NACTIONS; a++)
        for (int b = 0; b < NACTIONS; b++)
            group_free(&rp->trans[a][b]);
    group_free(&rp->other);
    free(rp->line.p);
}

static size_t group_hash(int kind, const char *rule)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
    for (const unsigned char *p = (const unsigned char *)rule; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)h;
}

static int group_grow(report *rp)
{
    size_t cap = rp->tab_cap ? rp->tab_cap * 2 : 64;
    group **t = calloc(cap, sizeof *t);
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < rp->tab_cap; i++) {
        group *g = rp->tab[i];
        if (g == NULL)
            continue;
        size_t h = group_hash(g->kind, g->rule) & (cap - 1);
        while (t[h] != NULL)
            h = (h + 1) & (cap - 1);
        t[h] = g;
    }
    free(rp->tab);
    rp->tab = t;
    rp->tab_cap = cap;
    return 0;
}

/* The group of (kind, rule), created on first use; NULL out of memory. */
static group *group_get(report *rp, int kind, const char *rule)
{
    if (2 * (rp->ngroups + 1) > rp->tab_cap && group_grow(rp) != 0)
        return NULL;
    size_t h = group_hash(kind, rule) & (rp->tab_cap - 1);
    while (rp->tab[h] != NULL) {
        if (rp->tab[h]->kind == kind && strcmp(rp->tab[h]->rule, rule) == 0)
            return rp->tab[h];
        h = (h + 1) & (rp->tab_cap - 1);
    }
    group *g = calloc(1, sizeof *g);
    if (g == NULL || (g->rule = strdup(rule)) == NULL) {
        free(g);
        return NULL;
    }
    g->kind = kind;
    rp->tab[h] = g;
    rp->ngroups++;
    return g;
}

static const char *file_name(const report *rp, const ditem *it)
{
    return rp->files[it->file].name;
}

/* Open and close a marked span: git's word-diff marks, in colour too on
 * a terminal (red: only OLD matched there; green: only NEW). */
static void sb_mark(sbuf *s, const report *rp, int side, int open)
{
    static const char *const marks[3][2] = {
        {"[-", "-]"}, {"[[", "]]"}, {"{+", "+}"}
    };
    static const char *const colors[3] = {
        "\033[1;31m", "\033[1;33m", "\033[1;32m"
    };
    int k = side < 0 ? 0 : side == 0 ? 1 : 2;
    if (open && rp->color)
        sb_puts(s, colors[k]);
    sb_puts(s, marks[k][open ? 0 : 1]);
    if (!open && rp->color)
        sb_puts(s, "\033[0m");
}

#define MARKS_MAX 16

/* The spans to mark in text[from..to): hl first, then the other
 * differing spans wholly inside that do not overlap one already chosen;
 * sorted by start. Returns how many. */
static size_t pick_marks(const ddelta *d, const dspan *hl, size_t from,
    size_t to, const dspan *mk[MARKS_MAX])
{
    size_t n = 0;
    mk[n++] = hl;
    for (size_t i = 0; i < d->nspans && n < MARKS_MAX; i++) {
        const dspan *sp = &d->spans[i];
        int clash = sp == hl || sp->start < from || sp->end > to ||
            sp->end <= sp->start;
        for (size_t k = 0; k < n && !clash; k++)
            clash = sp->start < mk[k]->end && mk[k]->start < sp->end;
        if (!clash)
            mk[n++] = sp;
    }
    for (size_t i = 1; i < n; i++)          /* insertion sort by start */
        for (size_t k = i; k > 0 && mk[k]->start < mk[k - 1]->start; k--) {
            const dspan *t = mk[k];
            mk[k] = mk[k - 1];
            mk[k - 1] = t;
        }
    return n;
}

/*
 * A shortened quote of text[0..n): some context around `hl`, with hl and
 * the other differing spans in that context marked [-only OLD-] or
 * {+only NEW+}; without hl, the start of the text.
 */
static void sb_quote(sbuf *s, const report *rp, const char *text, size_t n,
    const ddelta *d, const dspan *hl)
{
    const dspan *mk[MARKS_MAX];
    size_t from = 0, to, pos, nmk = 0;
    dspan h;

    if (hl != NULL) {
        h = *hl;
        h.start = h.start < n ? h.start : n;
        h.end = h.end < n ? h.end : n;
        if (h.end < h.start)
            h.end = h.start;
        from = chars_back(text, h.start, QUOTE_BEFORE);
        to = chars_fwd(text, n, h.end, QUOTE_AFTER);
        nmk = pick_marks(d, hl, from, to, mk);
    } else {
        to = chars_fwd(text, n, 0, QUOTE_PLAIN);
    }
    sb_puts(s, from > 0 ? "\"..." : "\"");
    pos = from;
    for (size_t i = 0; i < nmk; i++) {
        size_t ms = mk[i] == hl ? h.start : mk[i]->start;
        size_t me = mk[i] == hl ? h.end : mk[i]->end;
        size_t shown = chars_fwd(text, me, ms, QUOTE_SPAN);
        sb_escaped(s, text + pos, ms - pos);
        sb_mark(s, rp, mk[i]->side, 1);
        sb_escaped(s, text + ms, shown - ms);
        if (shown < me)
            sb_puts(s, "...");
        sb_mark(s, rp, mk[i]->side, 0);
        pos = me;
    }
    sb_escaped(s, text + pos, to - pos);
    sb_puts(s, to < n ? "...\"" : "\"");
}

/* A quote of out[0..n) around byte `at`. */
static void sb_quote_at(sbuf *s, const char *out, size_t n, size_t at)
{
    size_t from = chars_back(out, char_start(out, n, at), QUOTE_BEFORE);
    size_t to = chars_fwd(out, n, from, QUOTE_PLAIN);
    sb_puts(s, from > 0 ? "\"..." : "\"");
    sb_escaped(s, out + from, to - from);
    sb_puts(s, to < n ? "...\"" : "\"");
}

static void sb_delta_list(sbuf *s, const ddelta *d)
{
    size_t shown = 0, total = d->nadded + d->nremoved + d->nchanged;
    const char *const *lists[3] = {d->added, d->removed, d->changed};
    const size_t counts[3] = {d->nadded, d->nremoved, d->nchanged};
    const char marks[3] = {'+', '-', '~'};
    if (total == 0)
        return;
    sb_puts(s, " (");
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < counts[k] && shown < DELTA_SHOWN; i++)
            sb_printf(s, "%s%c%s", shown++ ? ", " : "", marks[k],
                lists[k][i]);
    if (total > shown)
        sb_printf(s, ", %zu more", total - shown);
    sb_puts(s, ")");
}

/* " (same rules: a, b)" for an item whose rules did not change. */
static void sb_same_rules(sbuf *s, const sluice_verdict *v)
{
    size_t n = sluice_verdict_rule_count(v);
    if (n == 0)
        return;
    sb_puts(s, " (same rules: ");
    for (size_t i = 0; i < n && i < DELTA_SHOWN; i++)
        sb_printf(s, "%s%s", i ? ", " : "", sluice_verdict_rule(v, i));
    if (n > DELTA_SHOWN)
        sb_printf(s, ", %zu more", n - DELTA_SHOWN);
    sb_puts(s, ")");
}

/*
 * One example, two or more lines: where, old -> new action, the rule
 * changes, and the input quoted around `hl`; with `outputs`, also both
 * outputs around their first difference. Returns a malloc'd string or
 * NULL out of memory.
 */
static char *render_example(const report *rp, const dbatch *b,
    const ditem *it, const dspan *hl, int outputs)
{
    sbuf s = {0};
    sb_printf(&s, "  %s:%" PRIu64, file_name(rp, it), it->line);
    if (it->has_id) {
        sb_puts(&s, " (id ");
        sb_escaped(&s, b->arena + it->id_off, it->id_len);
        sb_puts(&s, ")");
    }
    sb_printf(&s, ": %s -> %s",
        sluice_action_name(sluice_verdict_action(it->ov)),
        sluice_action_name(sluice_verdict_action(it->nv)));
    sb_delta_list(&s, &it->d);
    if (it->d.nadded + it->d.nremoved + it->d.nchanged == 0)
        sb_same_rules(&s, it->nv);
    sb_puts(&s, "\n    ");
    sb_quote(&s, rp, b->arena + it->off, it->len, &it->d, hl);
    if (outputs) {
        size_t lo = 0, ln = 0, at = 0;
        const char *oo = sluice_verdict_output(it->ov, &lo);
        const char *on = sluice_verdict_output(it->nv, &ln);
        while (at < lo && at < ln && oo[at] == on[at])
            at++;
        sb_puts(&s, "\n    old output: ");
        sb_quote_at(&s, oo, lo, at);
        sb_puts(&s, "\n    new output: ");
        sb_quote_at(&s, on, ln, at);
    }
    return sb_take(&s);
}

static int add_example(const report *rp, group *g, const dbatch *b,
    const ditem *it, const dspan *hl, int outputs)
{
    if (g->nex >= rp->o->examples || rp->o->json)
        return 0;
    if (g->ex == NULL) {
        g->ex = calloc(rp->o->examples, sizeof *g->ex);
        if (g->ex == NULL)
            return -1;
    }
    if ((g->ex[g->nex] = render_example(rp, b, it, hl, outputs)) == NULL)
        return -1;
    g->nex++;
    return 0;
}

/* The first differing span of `rule` on `side` (0: either, NULL rule:
 * any), or NULL. */
static const dspan *find_span(const ddelta *d, const char *rule, int side)
{
    for (size_t i = 0; i < d->nspans; i++)
        if ((side == 0 || d->spans[i].side == side) &&
            (rule == NULL || strcmp(d->spans[i].rule, rule) == 0))
            return &d->spans[i];
    return NULL;
}

/* For an item whose action changed but no span did: its first span (in
 * NEW, else in OLD), marked as common to both; 0 if it has none. */
static int common_span(const ditem *it, dspan *out)
{
    sluice_span sp;
    const sluice_verdict *v = sluice_verdict_span_count(it->nv) > 0 ?
        it->nv : it->ov;
    if (sluice_verdict_span_count(v) == 0 || sluice_verdict_span(v, 0, &sp)
        != 0 || sp.rule == NULL)
        return 0;
    out->start = sp.start;
    out->end = sp.end;
    out->rule = sp.rule;
    out->side = 0;
    return 1;
}

/* Count a changed item in every group it belongs to, with examples. */
static int tally_changed(report *rp, const dbatch *b, const ditem *it)
{
    const ddelta *d = &it->d;
    const char *const *lists[3] = {d->added, d->removed, d->changed};
    const size_t counts[3] = {d->nadded, d->nremoved, d->nchanged};
    const int sides[3] = {+1, -1, 0};
    int oa = sluice_verdict_action(it->ov), na = sluice_verdict_action(it->nv);

    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < counts[k]; i++) {
            group *g = group_get(rp, k, lists[k][i]);
            if (g == NULL)
                return -1;
            g->count++;
            if (add_example(rp, g, b, it,
                find_span(d, lists[k][i], sides[k]), 0) != 0)
                return -1;
        }
    if (oa < 0 || oa >= NACTIONS || na < 0 || na >= NACTIONS)
        return 0;
    group *t = &rp->trans[oa][na];
    t->count++;
    if (oa != na && t->nex < rp->o->examples) {
        dspan both;
        const dspan *hl = find_span(d, NULL, 0);
        if (hl == NULL && common_span(it, &both))
            hl = &both;
        if (add_example(rp, t, b, it, hl, 0) != 0)
            return -1;
    }
    if (oa == na && d->nadded + d->nremoved + d->nchanged == 0) {
        rp->other.count++;
        if (add_example(rp, &rp->other, b, it, NULL, 1) != 0)
            return -1;
    }
    return 0;
}

static void sb_json_rules(sbuf *s, const char *const *r, size_t n)
{
    sb_puts(s, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_puts(s, ",");
        sb_json_cstr(s, r[i]);
    }
    sb_puts(s, "]");
}

static void sb_json_side(sbuf *s, const sluice_verdict *v)
{
    size_t n = sluice_verdict_rule_count(v), len = 0;
    const char *out = sluice_verdict_output(v, &len);
    sluice_span sp;

    sb_printf(s, "{\"action\":\"%s\",\"rules\":[",
        sluice_action_name(sluice_verdict_action(v)));
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_puts(s, ",");
        sb_json_cstr(s, sluice_verdict_rule(v, i));
    }
    sb_puts(s, "],\"output\":");
    sb_json_str(s, out, len);
    sb_puts(s, ",\"spans\":[");
    n = sluice_verdict_span_count(v);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (sluice_verdict_span(v, i, &sp) != 0 || sp.rule == NULL)
            continue;
        sb_printf(s, "%s{\"start\":%zu,\"end\":%zu,\"rule\":", k++ ? "," : "",
            sp.start, sp.end);
        sb_json_cstr(s, sp.rule);
        sb_puts(s, "}");
    }
    sb_puts(s, "]");
    if (sluice_verdict_reason(v) != NULL) {
        sb_puts(s, ",\"reason\":");
        sb_json_cstr(s, sluice_verdict_reason(v));
    }
    sb_puts(s, "}");
}

/* One {"type":"change", ...} line on stdout. */
static int emit_change(report *rp, const dbatch *b, const ditem *it)
{
    sbuf *s = &rp->line;
    s->n = 0;
    sb_puts(s, "{\"type\":\"change\",\"file\":");
    sb_json_cstr(s, file_name(rp, it));
    sb_printf(s, ",\"line\":%" PRIu64, it->line);
    if (it->has_id) {
        sb_puts(s, ",\"id\":");
        sb_json_str(s, b->arena + it->id_off, it->id_len);
    }
    sb_puts(s, ",\"text\":");
    sb_json_str(s, b->arena + it->off, it->len);
    sb_puts(s, ",\"old\":");
    sb_json_side(s, it->ov);
    sb_puts(s, ",\"new\":");
    sb_json_side(s, it->nv);
    sb_puts(s, ",\"added\":");
    sb_json_rules(s, it->d.added, it->d.nadded);
    sb_puts(s, ",\"removed\":");
    sb_json_rules(s, it->d.removed, it->d.nremoved);
    sb_puts(s, ",\"changed\":");
    sb_json_rules(s, it->d.changed, it->d.nchanged);
    sb_puts(s, "}\n");
    if (s->oom)
        return cli_fail("out of memory");
    fwrite(s->p, 1, s->n, stdout);
    return 0;
}

static void progress_clear(progress *pg);

/* Account for one finished batch, in corpus order. Returns 0 or
 * EXIT_USAGE (out of memory, after printing it). */
static int consume_batch(report *rp, const dbatch *b)
{
    rp->bytes += b->bytes;
    for (size_t i = 0; i < b->n; i++) {
        const ditem *it = &b->items[i];
        switch (it->state) {
        case ITEM_SAME:
            rp->inputs++;
            break;
        case ITEM_FATAL:
            progress_clear(rp->pg);
            return cli_fail("%s:%" PRIu64 ": %s", file_name(rp, it), it->line,
                it->msg != NULL ? it->msg : "out of memory");
        case ITEM_BAD:
            if (it->msg == NULL)
                return cli_fail("out of memory");
            if (++rp->bad <= BAD_SHOWN) {
                progress_clear(rp->pg);
                cli_fail("%s:%" PRIu64 ": %s", file_name(rp, it), it->line,
                    it->msg);
            } else if (rp->bad == BAD_SHOWN + 1) {
                progress_clear(rp->pg);
                cli_fail("(more bad lines not shown; the summary counts "
                    "them all)");
            }
            break;
        default:
            rp->inputs++;
            rp->changed++;
            if (tally_changed(rp, b, it) != 0)
                return cli_fail("out of memory");
            if (rp->o->json && emit_change(rp, b, it) != 0)
                return EXIT_USAGE;
            break;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Final report
 * ---------------------------------------------------------------------- */

static int cmp_group(const void *a, const void *b)
{
    const group *x = *(const group *const *)a, *y = *(const group *const *)b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->rule, y->rule);
}

static int cmp_group_rule(const void *a, const void *b)
{
    const group *x = *(const group *const *)a, *y = *(const group *const *)b;
    int c = strcmp(x->rule, y->rule);
    return c != 0 ? c : x->kind - y->kind;
}

/* The rule groups, sorted by cmp; NULL if there are none or on OOM (then
 * *oom is set). */
static group **sorted_groups(const report *rp,
    int (*cmp)(const void *, const void *), int *oom)
{
    group **v = malloc((rp->ngroups + 1) * sizeof *v);
    size_t k = 0;
    *oom = v == NULL;
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < rp->tab_cap; i++)
        if (rp->tab[i] != NULL)
            v[k++] = rp->tab[i];
    qsort(v, k, sizeof *v, cmp);
    return v;
}

typedef struct trans_ref {
    int from, to;
    uint64_t count;
} trans_ref;

static int cmp_trans(const void *a, const void *b)
{
    const trans_ref *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (x->from != y->from)
        return x->from - y->from;
    return x->to - y->to;
}

/* Transitions with a count, most frequent first; returns how many. */
static size_t sorted_trans(const report *rp, trans_ref out[NACTIONS * NACTIONS])
{
    size_t n = 0;
    for (int a = 0; a < NACTIONS; a++)
        for (int b = 0; b < NACTIONS; b++)
            if (rp->trans[a][b].count > 0) {
                out[n].from = a;
                out[n].to = b;
                out[n++].count = rp->trans[a][b].count;
            }
    qsort(out, n, sizeof *out, cmp_trans);
    return n;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static const char *const kind_says[3] = {
    "newly matched", "no longer matched", "matched differently"
};
static const char kind_mark[3] = {'+', '-', '~'};

static void print_examples(const group *g)
{
    for (size_t i = 0; i < g->nex; i++)
        printf("%s\n", g->ex[i]);
    if (g->count > g->nex)
        printf("  ... %" PRIu64 " more\n", g->count - g->nex);
}

static void print_policy(const char *label, const sluice_policy *p,
    const char *path)
{
    printf("%s: %s version %" PRId64 " (hash %.12s, %s) from %s\n", label,
        sluice_policy_id(p), sluice_policy_version(p), sluice_policy_hash(p),
        sluice_policy_signed(p) ? "signed" : "unsigned", path);
}

static void print_summary_line(const report *rp, const trans_ref *t,
    size_t nt)
{
    printf("%" PRIu64 " %s, %" PRIu64 " changed", rp->inputs,
        plural(rp->inputs, "input", "inputs"), rp->changed);
    for (size_t i = 0; i < nt; i++)
        printf("%s%s->%s %" PRIu64, i ? ", " : " (",
            sluice_action_name(t[i].from), sluice_action_name(t[i].to),
            t[i].count);
    if (nt > 0)
        printf(")");
    if (rp->bad > 0)
        printf(", %" PRIu64 " bad %s skipped", rp->bad,
            plural(rp->bad, "line", "lines"));
    printf("\n");
}

/* The counts: rules, actions, output-only. */
static void print_counts(const report *rp, group *const *g,
    const trans_ref *t, size_t nt)
{
    int w = 16;
    for (size_t i = 0; i < rp->ngroups; i++)
        if ((int)strlen(g[i]->rule) + 1 > w)
            w = (int)strlen(g[i]->rule) + 1;
    if (rp->ngroups > 0)
        printf("\nrules:\n");
    for (size_t i = 0; i < rp->ngroups; i++)
        printf("  %c%-*s %6" PRIu64 " %s %s\n", kind_mark[g[i]->kind], w - 1,
            g[i]->rule, g[i]->count, plural(g[i]->count, "input", "inputs"),
            kind_says[g[i]->kind]);
    if (nt > 0)
        printf("\nactions:\n");
    for (size_t i = 0; i < nt; i++) {
        char lab[40];
        snprintf(lab, sizeof lab, "%s -> %s", sluice_action_name(t[i].from),
            sluice_action_name(t[i].to));
        printf("  %-*s %6" PRIu64 " %s%s\n", w, lab, t[i].count,
            plural(t[i].count, "input", "inputs"), t[i].from == t[i].to ?
            " (same action; rules or output changed)" : "");
    }
    if (rp->other.count > 0)
        printf("\noutput only:\n  %-*s %6" PRIu64 " %s with the same action "
            "and matches but another output\n", w, "~output",
            rp->other.count, plural(rp->other.count, "input", "inputs"));
}

/* The examples, one section per group, in the order of the counts
 * (transitions that keep the action have none: their inputs are in the
 * rule and output-only sections). */
static void print_sections(const report *rp, group *const *g,
    const trans_ref *t, size_t nt)
{
    if (rp->o->examples == 0)
        return;
    for (size_t i = 0; i < rp->ngroups; i++) {
        printf("\n%c%s: %" PRIu64 " %s %s\n", kind_mark[g[i]->kind],
            g[i]->rule, g[i]->count, plural(g[i]->count, "input", "inputs"),
            kind_says[g[i]->kind]);
        print_examples(g[i]);
    }
    for (size_t i = 0; i < nt; i++) {
        if (t[i].from == t[i].to)
            continue;
        printf("\n%s -> %s: %" PRIu64 " %s\n", sluice_action_name(t[i].from),
            sluice_action_name(t[i].to), t[i].count,
            plural(t[i].count, "input", "inputs"));
        print_examples(&rp->trans[t[i].from][t[i].to]);
    }
    if (rp->other.count > 0) {
        printf("\n~output: %" PRIu64 " %s with another output only\n",
            rp->other.count, plural(rp->other.count, "input", "inputs"));
        print_examples(&rp->other);
    }
}

static int print_human(const report *rp, const sluice_policy *po,
    const sluice_policy *pn)
{
    trans_ref t[NACTIONS * NACTIONS];
    size_t nt = sorted_trans(rp, t);
    int oom = 0;
    group **g = sorted_groups(rp, cmp_group, &oom);
    if (oom)
        return cli_fail("out of memory");
    print_policy("old", po, rp->o->old_path);
    print_policy("new", pn, rp->o->new_path);
    print_counts(rp, g, t, nt);
    print_sections(rp, g, t, nt);
    printf("\n");
    print_summary_line(rp, t, nt);
    free(g);
    return 0;
}

static void sb_json_policy(sbuf *s, const sluice_policy *p, const char *path)
{
    sb_puts(s, "{\"path\":");
    sb_json_cstr(s, path);
    sb_puts(s, ",\"id\":");
    sb_json_cstr(s, sluice_policy_id(p));
    sb_printf(s, ",\"version\":%" PRId64 ",\"hash\":", sluice_policy_version(p));
    sb_json_cstr(s, sluice_policy_hash(p));
    sb_printf(s, ",\"signed\":%s}", sluice_policy_signed(p) ? "true" :
        "false");
}

static int print_json_summary(report *rp, const sluice_policy *po,
    const sluice_policy *pn)
{
    trans_ref t[NACTIONS * NACTIONS];
    size_t nt = sorted_trans(rp, t);
    int oom = 0;
    group **g = sorted_groups(rp, cmp_group_rule, &oom);
    sbuf *s = &rp->line;
    if (oom)
        return cli_fail("out of memory");
    s->n = 0;
    sb_printf(s, "{\"type\":\"summary\",\"inputs\":%" PRIu64 ",\"changed\":%"
        PRIu64 ",\"bad_lines\":%" PRIu64 ",\"transitions\":{", rp->inputs,
        rp->changed, rp->bad);
    for (size_t i = 0; i < nt; i++)
        sb_printf(s, "%s\"%s->%s\":%" PRIu64, i ? "," : "",
            sluice_action_name(t[i].from), sluice_action_name(t[i].to),
            t[i].count);
    sb_puts(s, "},\"rules\":{");
    for (size_t i = 0; i < rp->ngroups;) {
        uint64_t c[3] = {0, 0, 0};
        size_t j = i;
        for (; j < rp->ngroups && strcmp(g[j]->rule, g[i]->rule) == 0; j++)
            c[g[j]->kind] = g[j]->count;
        if (i > 0)
            sb_puts(s, ",");
        sb_json_cstr(s, g[i]->rule);
        sb_printf(s, ":{\"added\":%" PRIu64 ",\"removed\":%" PRIu64
            ",\"changed\":%" PRIu64 "}", c[0], c[1], c[2]);
        i = j;
    }
    sb_printf(s, "},\"output_only\":%" PRIu64 ",\"old\":", rp->other.count);
    sb_json_policy(s, po, rp->o->old_path);
    sb_puts(s, ",\"new\":");
    sb_json_policy(s, pn, rp->o->new_path);
    sb_puts(s, "}\n");
    free(g);
    if (s->oom)
        return cli_fail("out of memory");
    fwrite(s->p, 1, s->n, stdout);
    return 0;
}

/* ------------------------------------------------------------------------
 * Progress bar (stderr, terminals only)
 * ---------------------------------------------------------------------- */

static double secs_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) +
        (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void fmt_bytes(char *buf, size_t n, uint64_t v)
{
    if (v >= ((uint64_t)1 << 30))
        snprintf(buf, n, "%.1f GiB", (double)v / (double)((uint64_t)1 << 30));
    else if (v >= ((uint64_t)1 << 20))
        snprintf(buf, n, "%.1f MiB", (double)v / (double)((uint64_t)1 << 20));
    else
        snprintf(buf, n, "%.0f KiB", (double)v / 1024.0);
}

static void progress_clear(progress *pg)
{
    if (pg != NULL && pg->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        pg->shown = 0;
    }
}

/* Redraw at most every PROGRESS_NS, unless `force`. */
static void progress_draw(progress *pg, const report *rp, int force)
{
    struct timespec now;
    char line[200], done[32], total[32];
    if (!pg->on || clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return;
    if (!force && secs_between(&pg->last, &now) < PROGRESS_NS / 1e9)
        return;
    pg->last = now;
    double secs = secs_between(&pg->t0, &now);
    double rate = secs > 0 ? (double)(rp->inputs + rp->bad) / secs : 0;
    fmt_bytes(done, sizeof done, rp->bytes);
    if (pg->total > 0) {
        char bar[21];
        uint64_t b = rp->bytes < pg->total ? rp->bytes : pg->total;
        int pct = (int)(b * 100 / pg->total), fill = (int)(b * 20 / pg->total);
        for (int i = 0; i < 20; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
        fmt_bytes(total, sizeof total, pg->total);
        snprintf(line, sizeof line, "diff %3d%% [%s] %s/%s  %" PRIu64
            " inputs  %.0f/s  %" PRIu64 " changed", pct, bar, done, total,
            rp->inputs + rp->bad, rate, rp->changed);
    } else {
        snprintf(line, sizeof line, "diff %" PRIu64 " inputs (%s)  %.0f/s  %"
            PRIu64 " changed", rp->inputs + rp->bad, done, rate, rp->changed);
    }
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    pg->shown = 1;
}

/* ------------------------------------------------------------------------
 * The command
 * ---------------------------------------------------------------------- */

static void diff_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice diff OLD NEW --corpus FILE [--corpus FILE ...]\n"
        "                   [--json] [--examples N] [-j N] [--skip-bad]\n"
        "                   [--format auto|text|jsonl] [--field NAME]\n"
        "                   [--trust PUB] [--allow-unsigned]\n"
        "\n"
        "Check every input of a corpus against two versions of a policy and\n"
        "report the inputs whose verdict changes: another action, another\n"
        "set of rules fired, or another output text. Run it before approving\n"
        "a new policy version, over real model outputs, to see what the new\n"
        "version will do differently (docs/policy-diff.md).\n"
        "\n"
        "OLD and NEW are policies: a directory, its policy.yaml, or a\n"
        "signed bundle (sluice build; docs/bundles.md).\n"
        "\n"
        "  -c, --corpus FILE     inputs, one per line ('-': standard input);\n"
        "                        repeat for several files\n"
        "      --format FMT      auto (default): a line starting with '{' is\n"
        "                        JSON, any other line is the text itself;\n"
        "                        text: every line is text; jsonl: every line\n"
        "                        is JSON\n"
        "      --field NAME      the JSON field holding the text (default\n"
        "                        \"text\"); an \"id\" field is shown if present\n"
        "      --json            one JSON object per changed input, then a\n"
        "                        summary object (for tools)\n"
        "      --examples N      examples shown per group (default 5; 0: none)\n"
        "  -j, --jobs N          worker threads (default: online CPUs)\n"
        "      --skip-bad        bad lines do not make the exit status 2\n"
        "      --max-input SIZE  longest input checked (default 16M; k, M, G)\n"
        "      --no-progress     no progress bar (shown on stderr only when\n"
        "                        it is a terminal)\n"
        "      --color WHEN      highlight in colour: auto, always, never\n"
        CLI_TRUST_HELP
        "  -h, --help            this help\n"
        "\n"
        "The report groups the changed inputs by rule (+rule: newly matched,\n"
        "-rule: no longer matched, ~rule: matched elsewhere or more often)\n"
        "and by action transition (allow -> redact ...), with the first\n"
        "examples of each group in corpus order: the input around the\n"
        "change, text only OLD matched in [-...-], only NEW in {+...+}\n"
        "(a match of both in [[...]] when only the action changed).\n"
        "The last line sums up:\n"
        "  2000 inputs, 14 changed (allow->redact 12, redact->allow 2)\n"
        "\n"
        "Blank lines are skipped. Bad lines (invalid JSON, no text field,\n"
        "over --max-input) are reported as FILE:LINE: reason and skipped.\n"
        "\n"
        "Exit status: 0 no verdict changed, 1 some changed, 2 usage or\n"
        "input errors (a policy that does not load, a corpus that cannot be\n"
        "read, or any bad line unless --skip-bad).\n"
        "\n"
        "examples:\n"
        "  sluice diff policies/baseline ./baseline-v2 --corpus outputs.txt\n"
        "  sluice diff old/ new/ --corpus a.jsonl --corpus b.jsonl --examples 20\n"
        "  zcat logs.jsonl.gz | sluice diff old/ new/ --corpus - --json \\\n"
        "      | jq 'select(.type == \"change\") | .new.action'\n"
        "  sluice diff old/ new/ --corpus dialogs.jsonl --field response -j 8\n"
        "  sluice diff deployed.bundle policies/baseline --trust team.pub \\\n"
        "      --allow-unsigned --corpus outputs.jsonl\n");
}

static int parse_count(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
        v > hi)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* The index of `arg` in the NULL-terminated names[] (the FMT_* and COLOR_*
 * values follow that order), or -1. */
static int parse_choice(const char *arg, const char *const *names)
{
    for (int i = 0; names[i] != NULL; i++)
        if (strcmp(arg, names[i]) == 0)
            return i;
    return -1;
}

static int parse_args(int argc, char **argv, diff_opts *o, cli_trust *trust,
    int *help)
{
    static const struct option longopts[] = {
        {"corpus", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'J'},
        {"examples", required_argument, NULL, 'e'},
        {"jobs", required_argument, NULL, 'j'},
        {"format", required_argument, NULL, 'f'},
        {"field", required_argument, NULL, 'F'},
        {"max-input", required_argument, NULL, 'm'},
        {"skip-bad", no_argument, NULL, 'S'},
        {"no-progress", no_argument, NULL, 'P'},
        {"color", required_argument, NULL, 'C'},
        {"colour", required_argument, NULL, 'C'},
        CLI_TRUST_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const formats[] = {"auto", "text", "jsonl", NULL};
    static const char *const colors[] = {"auto", "always", "never", NULL};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:j:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->corpora[o->ncorpora++] = optarg; break;
        case 'J': o->json = 1; break;
        case 'e':
            if (parse_count(optarg, 0, MAX_EXAMPLES, &o->examples) != 0)
                return cli_fail("diff: --examples: not a count: '%s'", optarg);
            break;
        case 'j':
            if (parse_count(optarg, 1, MAX_JOBS, &o->jobs) != 0)
                return cli_fail("diff: -j: want 1 to %d threads, not '%s'",
                    MAX_JOBS, optarg);
            break;
        case 'f':
            if ((o->format = parse_choice(optarg, formats)) < 0)
                return cli_fail("diff: --format: auto, text or jsonl, not "
                    "'%s'", optarg);
            break;
        case 'F':
            if (optarg[0] == '\0')
                return cli_fail("diff: --field: a name is required");
            o->field = optarg;
            break;
        case 'm':
            if (cli_parse_size(optarg, &o->max_input) != 0 || o->max_input == 0)
                return cli_fail("diff: --max-input: not a size: '%s'", optarg);
            break;
        case 'S': o->skip_bad = 1; break;
        case 'P': o->progress = 0; break;
        case 'C':
            if ((o->color = parse_choice(optarg, colors)) < 0)
                return cli_fail("diff: --color: auto, always or never, not "
                    "'%s'", optarg);
            break;
        case 'h': *help = 1; return 0;
        case CLI_OPT_TRUST:
        case CLI_OPT_ALLOW_UNSIGNED:
            if (cli_trust_option(trust, c, optarg) < 0)
                return EXIT_USAGE;
            break;
        default:
            fprintf(stderr, "Try 'sluice diff --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 2)
        return cli_fail("diff: want two policies, OLD and NEW (try 'sluice "
            "diff --help')");
    o->old_path = argv[optind];
    o->new_path = argv[optind + 1];
    if (o->ncorpora == 0)
        return cli_fail("diff: a corpus is required (--corpus FILE, '-' for "
            "standard input)");
    return 0;
}

/* Check the corpora exist and add up their sizes (0: unknown, stdin). */
static int stat_corpora(const diff_opts *o, corpus *files, uint64_t *total)
{
    int stdin_seen = 0, unknown = 0;
    *total = 0;
    for (size_t i = 0; i < o->ncorpora; i++) {
        struct stat st;
        files[i].path = o->corpora[i];
        files[i].name = o->corpora[i];
        if (strcmp(o->corpora[i], "-") == 0) {
            if (stdin_seen++)
                return cli_fail("diff: standard input ('-') can be read once");
            files[i].name = "<stdin>";
            if (fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) {
                unknown = 1;
                continue;
            }
        } else if (stat(o->corpora[i], &st) != 0) {
            return cli_fail("diff: %s: %s", o->corpora[i], strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            return cli_fail("diff: %s: is a directory (want a file of lines)",
                o->corpora[i]);
        } else if (!S_ISREG(st.st_mode)) {
            unknown = 1;
            continue;
        }
        *total += (uint64_t)st.st_size;
    }
    if (unknown)
        *total = 0;
    return 0;
}

/* Read, check and tally every input. Returns 0 or EXIT_USAGE. */
static int run_diff(const diff_opts *o, const corpus *files, pool *pl,
    report *rp)
{
    reader rd;
    dbatch *spare = NULL;
    int rc = 0;
    memset(&rd, 0, sizeof rd);
    rd.o = o;
    rd.files = files;
    rd.nfiles = o->ncorpora;

    for (;;) {
        while (rc == 0 && !rd.eof &&
            pl->next_push - pl->next_out < pl->ring_n) {
            dbatch *b = batch_get(&spare);
            if (b == NULL) {
                rc = cli_fail("out of memory");
                break;
            }
            if ((rc = read_batch(&rd, b)) != 0 || b->n == 0) {
                rp->bytes += b->bytes;
                batch_put(&spare, b);
                continue;
            }
            pool_push(pl, b);
            progress_draw(rp->pg, rp, 0);
        }
        if (rc != 0 || pl->next_out == pl->next_push)
            break;
        dbatch *b = pool_wait(pl, rp->pg->on ? PROGRESS_NS : 0);
        if (b == NULL) {
            progress_draw(rp->pg, rp, 0);
            continue;
        }
        pl->next_out++;
        rc = consume_batch(rp, b);
        batch_put(&spare, b);
        progress_draw(rp->pg, rp, 0);
    }
    while (spare != NULL) {
        dbatch *b = spare;
        spare = b->next;
        batch_free(b);
    }
    close_current(&rd);
    free(rd.buf);
    return rc;
}

static int make_engine(const diff_opts *o, sluice_policy *p,
    sluice_engine **out)
{
    sluice_engine_options eo = SLUICE_ENGINE_OPTIONS_INIT;
    sluice_error err;
    memset(&err, 0, sizeof err);
    eo.max_input = o->max_input;
    if (sluice_engine_new(out, &eo, &err) != 0)
        return cli_fail_err(&err);
    if (sluice_engine_set_policy(*out, p) != 0)
        return cli_fail("diff: cannot set the policy of an engine");
    return 0;
}

static size_t online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > MAX_JOBS ? MAX_JOBS : (size_t)n;
}

/* Everything one run holds; released by ctx_close. */
typedef struct diff_ctx {
    diff_opts o;
    cli_trust trust;
    corpus *files;
    sluice_policy *po, *pn;
    sluice_engine *eo, *en;
    pool pl;
    progress pg;
    report rp;
} diff_ctx;

/* Corpora, policies, engines, report and progress bar, after parse_args.
 * Returns 0 or EXIT_USAGE after printing why. */
static int ctx_open(diff_ctx *c)
{
    diff_opts *o = &c->o;
    int rc;

    if (o->jobs == 0)
        o->jobs = online_cpus();
    c->files = calloc(o->ncorpora, sizeof *c->files);
    if (c->files == NULL)
        return cli_fail("out of memory");
    if ((rc = stat_corpora(o, c->files, &c->pg.total)) != 0)
        return rc;
    if (cli_load_policy_opts(o->old_path, &c->trust, &c->po) != 0 ||
        cli_load_policy_opts(o->new_path, &c->trust, &c->pn) != 0)
        return EXIT_USAGE;
    if ((rc = make_engine(o, c->po, &c->eo)) != 0 ||
        (rc = make_engine(o, c->pn, &c->en)) != 0)
        return rc;
    c->rp.o = o;
    c->rp.files = c->files;
    c->rp.pg = &c->pg;
    c->rp.color = !o->json && (o->color == COLOR_ALWAYS ||
        (o->color == COLOR_AUTO && isatty(STDOUT_FILENO) &&
            getenv("NO_COLOR") == NULL));
    c->pg.on = o->progress && isatty(STDERR_FILENO);
    if (c->pg.on && clock_gettime(CLOCK_MONOTONIC, &c->pg.t0) != 0)
        c->pg.on = 0;
    c->pg.last = c->pg.t0;
    return 0;
}

/* Compare, report, and say how it went: EXIT_OK, EXIT_FAILED (verdicts
 * changed) or EXIT_USAGE (errors, or bad lines without --skip-bad). */
static int ctx_run(diff_ctx *c)
{
    int rc = pool_start(&c->pl, c->o.jobs, c->eo, c->en);
    if (rc != 0)
        return rc;
    rc = run_diff(&c->o, c->files, &c->pl, &c->rp);
    pool_stop(&c->pl, rc != 0);
    if (rc != 0)
        return rc;
    progress_draw(&c->pg, &c->rp, 1);
    progress_clear(&c->pg);
    rc = c->o.json ? print_json_summary(&c->rp, c->po, c->pn) :
        print_human(&c->rp, c->po, c->pn);
    if (rc != 0)
        return rc;
    if (c->rp.bad > 0 && !c->o.skip_bad)
        return EXIT_USAGE;
    return c->rp.changed > 0 ? EXIT_FAILED : EXIT_OK;
}

/* Release everything; a failed write of the report turns rc into
 * EXIT_USAGE. Returns the exit status. */
static int ctx_close(diff_ctx *c, int rc)
{
    progress_clear(&c->pg);
    pool_stop(&c->pl, 1);
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc != EXIT_USAGE)
        rc = cli_fail("writing output: %s", strerror(errno));
    sluice_engine_free(c->eo);
    sluice_engine_free(c->en);
    sluice_policy_unref(c->po);
    sluice_policy_unref(c->pn);
    report_free(&c->rp);
    free(c->files);
    free(c->o.corpora);
    return rc;
}

int cmd_diff(int argc, char **argv)
{
    diff_ctx c;
    int help = 0, rc;

    memset(&c, 0, sizeof c);
    c.o.examples = DEFAULT_EXAMPLES;
    c.o.format = FMT_AUTO;
    c.o.field = "text";
    c.o.max_input = DEFAULT_MAX_INPUT;
    c.o.progress = 1;
    c.o.color = COLOR_AUTO;
    c.o.corpora = calloc((size_t)argc + 1, sizeof *c.o.corpora);
    if (c.o.corpora == NULL)
        return cli_fail("out of memory");
    if ((rc = parse_args(argc, argv, &c.o, &c.trust, &help)) == 0) {
        if (help)
            diff_usage(stdout);
        else if ((rc = ctx_open(&c)) == 0)
            rc = ctx_run(&c);
    }
    return ctx_close(&c, rc);
}
