/*
 * test_text.c - what every part of `sluice test` prints with: texts
 * escaped so that a reader sees every byte (zero-width characters and
 * look-alikes as \u200b), quoted with a bound on their length, shown with
 * the text around a span; a verdict's names and spans as lists;
 * percentages for people; JSON values that keep NUL bytes; and text built
 * in memory with the FILE printers.
 *
 * Design: these are the shared building blocks of the reporters
 * (test_report.c), the stream diffs (test_run.c), the coverage and
 * mutation reports and the JUnit file, so that none of those depends on
 * another's insides. Every function is pure or writes only to the FILE
 * it is given (the JSON emitter: to stdout); nothing here keeps state.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mutate.h"
#include "cli/test_internal.h"

#define SHOW_MAX 400       /* bytes of a text quoted in a diff */
#define CONTEXT_BYTES 30   /* original text shown each side of a span */

int cli_test_nomem(void)
{
    cli_fail("out of memory");
    return -1;
}

/* ------------------------------------------------------------------------
 * Texts: escapes, quotes, context
 * ---------------------------------------------------------------------- */

size_t cli_test_put_escaped(FILE *f, const char *s, size_t n, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n && i < max) {
        uint32_t cp = 0;
        size_t k = cli_utf8_next(u + i, n - i, &cp);
        if (k == 0)
            fprintf(f, "\\x%02x", u[i]);
        else if (cp == '"' || cp == '\\')
            fprintf(f, "\\%c", (int)cp);
        else if (cp == '\n')
            fputs("\\n", f);
        else if (cp == '\t')
            fputs("\\t", f);
        else if (cp == '\r')
            fputs("\\r", f);
        else if (cp < 0x20 || cp == 0x7F)
            fprintf(f, "\\x%02x", (unsigned)cp);
        else if (cli_mut_plain(cp))
            fwrite(u + i, 1, k, f);
        else if (cp <= 0xFFFF)
            fprintf(f, "\\u%04x", (unsigned)cp);
        else
            fprintf(f, "\\U%08x", (unsigned)cp);
        i += k ? k : 1;
    }
    return i;
}

/* At most SHOW_MAX bytes of s, then how many more. */
void cli_test_put_quoted(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    size_t i = cli_test_put_escaped(f, s, n, SHOW_MAX);
    fputc('"', f);
    if (i < n)
        fprintf(f, "... (%zu more bytes)", n - i);
}

/* Step back from `at` to the start of a UTF-8 sequence (at most 3). */
static size_t char_start(const char *s, size_t at, size_t lo)
{
    for (int k = 0; k < 3 && at > lo &&
         ((unsigned char)s[at] & 0xC0) == 0x80; k++)
        at--;
    return at;
}

/* At most CONTEXT_BYTES each side of the span, and SHOW_MAX of it. */
void cli_test_put_context(FILE *f, const char *s, size_t n, size_t start,
    size_t end)
{
    size_t a = start > CONTEXT_BYTES ? start - CONTEXT_BYTES : 0;
    size_t z = end + CONTEXT_BYTES < n ? end + CONTEXT_BYTES : n;

    if (start > end || end > n)
        return;
    a = char_start(s, a, 0);
    if (z < n)
        z = char_start(s, z, end);
    fprintf(f, "\"%s", a > 0 ? "..." : "");
    cli_test_put_escaped(f, s + a, start - a, SIZE_MAX);
    fputs("\xC2\xAB", f);   /* « */
    if (cli_test_put_escaped(f, s + start, end - start, SHOW_MAX) <
        end - start)
        fputs("...", f);
    fputs("\xC2\xBB", f);   /* » */
    cli_test_put_escaped(f, s + end, z - end, SIZE_MAX);
    fprintf(f, "%s\"", z < n ? "..." : "");
}

/* ------------------------------------------------------------------------
 * A verdict's lists
 * ---------------------------------------------------------------------- */

void cli_test_put_names(FILE *f, const sluice_verdict *v,
    size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    size_t n = count(v);
    fputc('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ", " : "", get(v, i));
    fputc(']', f);
}

void cli_test_put_spans(FILE *f, const sluice_verdict *v)
{
    size_t n = sluice_verdict_span_count(v);
    sluice_span s;
    fputc('[', f);
    for (size_t i = 0; i < n && i < TEST_FIRED_MAX; i++)
        if (sluice_verdict_span(v, i, &s) == 0)
            fprintf(f, "%s%zu-%zu %s", i ? ", " : "", s.start, s.end, s.rule);
    if (n > TEST_FIRED_MAX)
        fprintf(f, ", ... %zu more", n - TEST_FIRED_MAX);
    fputc(']', f);
}

size_t cli_test_first_diff(const char *a, size_t an, const char *b,
    size_t bn)
{
    size_t i = 0;
    while (i < an && i < bn && a[i] == b[i])
        i++;
    return i;
}

/* ------------------------------------------------------------------------
 * Memory streams, seeds, names, percentages
 * ---------------------------------------------------------------------- */

int cli_test_ms_open(test_mstream *m)
{
    m->p = NULL;
    m->n = 0;
    m->f = open_memstream(&m->p, &m->n);
    return m->f != NULL ? 0 : -1;
}

char *cli_test_ms_close(test_mstream *m)
{
    int bad;

    if (m->f == NULL)
        return NULL;
    bad = ferror(m->f);
    if (fclose(m->f) != 0)
        bad = 1;
    m->f = NULL;
    if (bad) {
        free(m->p);
        m->p = NULL;
    }
    return m->p;
}

uint64_t cli_test_hash_str(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001B3ull;
    }
    h ^= 0xFF;
    return h * 0x100000001B3ull;
}

const char *cli_test_base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b != NULL ? b + 1 : path;
}

double cli_test_pct(size_t a, size_t b)
{
    return b == 0 ? 100.0 : 100.0 * (double)a / (double)b;
}

double cli_test_pct_shown(double p)
{
    double r = floor(p * 10.0 + 0.5) / 10.0;
    return r >= 100.0 && p < 100.0 ? 99.9 : r;
}

/* ------------------------------------------------------------------------
 * JSON values
 * ---------------------------------------------------------------------- */

/* A JSON string literal of s[0..n) that keeps NUL bytes (as \u0000),
 * which cJSON's C strings cannot carry; for cJSON_CreateRaw. */
static char *json_escape(const char *s, size_t n)
{
    char *t = n <= (SIZE_MAX - 3) / 6 ? malloc(n * 6 + 3) : NULL;
    size_t w = 0;

    if (t == NULL)
        return NULL;
    t[w++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            t[w++] = '\\';
            t[w++] = (char)ch;
        } else if (ch < 0x20) {
            snprintf(t + w, 7, "\\u%04x", ch);
            w += 6;
        } else {
            t[w++] = (char)ch;
        }
    }
    t[w++] = '"';
    t[w] = '\0';
    return t;
}

/* cJSON wants a NUL-terminated string: a copy, or a raw literal when s
 * holds NULs. */
cJSON *cli_test_json_str(const char *s, size_t n)
{
    int raw = memchr(s, '\0', n) != NULL;
    char *t = raw ? json_escape(s, n) : malloc(n + 1);
    cJSON *j;

    if (t == NULL)
        return NULL;
    if (!raw) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    j = raw ? cJSON_CreateRaw(t) : cJSON_CreateString(t);
    free(t);
    return j;
}

int cli_test_json_put(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return -1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

int cli_test_json_add(cJSON *arr, cJSON *item)
{
    if (item == NULL)
        return -1;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

cJSON *cli_test_json_pct(size_t a, size_t b)
{
    if (b == 0)
        return cJSON_CreateNull();
    return cJSON_CreateNumber(floor(cli_test_pct(a, b) * 100.0 + 0.5) /
        100.0);
}

int cli_test_json_emit(cJSON *o)
{
    char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (s == NULL)
        return cli_test_nomem();
    puts(s);
    cJSON_free(s);
    return 0;
}
