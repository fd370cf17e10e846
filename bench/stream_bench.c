/*
 * stream_bench.c - latency of streaming sessions: time per feed for 1-,
 * 16- and 100-byte chunks over one long stream of realistic text (the
 * LLM answers of llamafactory-demo, then War and Peace, up to 4 MiB), and
 * the release lag: bytes fed but not yet released after each feed.
 *
 * Prints one row per chunk size: median and p99 latency per feed in
 * microseconds, MB/s, and the lag's median, p99 and maximum in bytes, next
 * to the policy's longest term (normalized bytes), the bound the median
 * lag is held against. Asserts nothing about time.
 *
 * usage: stream_bench POLICY DATA_DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice.h"
#include "rules/policy.h"

#define STREAM_MAX ((size_t)4 << 20)

typedef struct text {
    char *p;
    size_t len, cap;
} text;

static int append(text *t, const char *p, size_t n)
{
    if (t->len + n > t->cap) {
        size_t c = t->cap ? t->cap : 1 << 20;
        while (c < t->len + n)
            c *= 2;
        char *q = realloc(t->p, c);
        if (q == NULL)
            return -1;
        t->p = q;
        t->cap = c;
    }
    memcpy(t->p + t->len, p, n);
    t->len += n;
    return 0;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    long sz;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)sz + 1)) != NULL) {
        if (fread(b, 1, (size_t)sz, f) != (size_t)sz) {
            free(b);
            b = NULL;
        } else {
            *n = (size_t)sz;
        }
    }
    fclose(f);
    return b;
}

/* The "output" strings of a llamafactory JSON file (escapes kept as is). */
static void add_outputs(text *t, const char *path)
{
    size_t n = 0;
    char *b = slurp(path, &n);
    if (b == NULL)
        return;
    b[n] = '\0';
    for (char *p = b; (p = strstr(p, "\"output\": \"")) != NULL;) {
        p += 11;
        char *e = p;
        while (*e && !(*e == '"' && e[-1] != '\\'))
            e++;
        if (append(t, p, (size_t)(e - p)) != 0 || append(t, "\n\n", 2) != 0)
            break;
        p = e;
    }
    free(b);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_z(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int run(sluice_engine *e, const text *t, size_t chunk, size_t maxterm)
{
    size_t nfeeds = (t->len + chunk - 1) / chunk;
    double *lat = malloc(nfeeds * sizeof *lat);
    size_t *lag = malloc(nfeeds * sizeof *lag);
    sluice_session *s = NULL;
    sluice_release r;
    sluice_verdict *v = NULL;
    size_t k = 0, released = 0;
    if (lat == NULL || lag == NULL ||
        sluice_session_new(&s, e, NULL, NULL, NULL) != 0)
        return -1;
    double t0 = now_us();
    for (size_t off = 0; off < t->len; off += chunk, k++) {
        size_t n = t->len - off < chunk ? t->len - off : chunk;
        double a = now_us();
        if (sluice_session_feed(s, t->p + off, n, &r) != 0)
            return -1;
        lat[k] = now_us() - a;
        released += r.len;
        lag[k] = sluice_session_held(s);
        if (r.stop)
            break;
    }
    double total = now_us() - t0;
    if (sluice_session_finish(s, &r, &v) != 0)
        return -1;
    qsort(lat, k, sizeof *lat, cmp_d);
    qsort(lag, k, sizeof *lag, cmp_z);
    printf("%5zu B  %8zu feeds  p50 %7.2f us  p99 %7.2f us  %7.1f MB/s  "
        "lag p50 %4zu  p99 %5zu  max %6zu B  (longest term %zu B)  %s\n",
        chunk, k, lat[k / 2], lat[(k * 99) / 100], (double)t->len / total,
        lag[k / 2], lag[(k * 99) / 100], lag[k - 1], maxterm,
        sluice_action_name(sluice_verdict_action(v)));
    sluice_verdict_free(v);
    sluice_session_free(s);
    free(lat);
    free(lag);
    return 0;
}

int main(int argc, char **argv)
{
    sluice_policy *p = NULL;
    sluice_engine *e = NULL;
    sluice_error err;
    text t = {0};
    char path[1024];
    if (argc != 3) {
        fprintf(stderr, "usage: stream_bench POLICY DATA_DIR\n");
        return 2;
    }
    if (sluice_policy_load(&p, argv[1], NULL, &err) != 0) {
        fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.message);
        return 1;
    }
    if (sluice_engine_new(&e, NULL, &err) != 0 ||
        sluice_engine_set_policy(e, p) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/llamafactory-demo/alpaca_en_demo.json", argv[2]);
    add_outputs(&t, path);
    snprintf(path, sizeof path, "%s/llamafactory-demo/alpaca_zh_demo.json", argv[2]);
    add_outputs(&t, path);
    size_t n = 0;
    snprintf(path, sizeof path, "%s/gutenberg/war-and-peace-2600-0.txt", argv[2]);
    char *wp = slurp(path, &n);
    if (wp != NULL && t.len < STREAM_MAX)
        append(&t, wp, n < STREAM_MAX - t.len ? n : STREAM_MAX - t.len);
    free(wp);
    if (t.len == 0) {
        fprintf(stderr, "stream_bench: no text under %s\n", argv[2]);
        return 1;
    }
    size_t maxterm = 0;
    for (size_t g = 0; g < p->ngroups; g++)
        if (p->groups[g].maxlen > maxterm)
            maxterm = p->groups[g].maxlen;
    printf("streaming: policy %s, one stream of %.1f MB (LLM answers, then "
        "War and Peace)\n", sluice_policy_id(p), (double)t.len / 1e6);
    int rc = 0;
    size_t sizes[] = {1, 16, 100};
    const char *only = getenv("STREAM_BENCH_CHUNK");
    for (size_t i = 0; i < 3 && rc == 0; i++)
        if (only == NULL || (size_t)strtoul(only, NULL, 10) == sizes[i])
            rc = run(e, &t, sizes[i], maxterm);
    free(t.p);
    sluice_engine_free(e);
    sluice_policy_unref(p);
    return rc != 0;
}
