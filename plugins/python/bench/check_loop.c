/*
 * check_loop.c - the C side of bench/python_bench.py: checks the same
 * outputs the Python side checks, through sluice_check directly, so the
 * difference between the two is what the binding costs per check.
 *
 * Usage: check_loop POLICY FILE ROUNDS
 *   FILE holds one output per line (the benchmark writes it; "\n" inside
 *   an output is written as the two characters '\' 'n' and read back).
 * Prints one line: "checks N seconds S us_per_check U".
 *
 * Each check is sluice_check + reading the action and output +
 * sluice_verdict_free, as a C caller would do at the least.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice.h"

#define MAX_TEXTS 4096

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read FILE's lines into texts[]; returns the count, or -1. */
static int read_texts(const char *path, char **texts, size_t *lens)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int count = 0;
    if (f == NULL)
        return -1;
    while (count < MAX_TEXTS && (n = getline(&line, &cap, f)) > 0) {
        size_t i, j = 0;
        char *t = malloc((size_t)n + 1);
        if (t == NULL)
            break;
        for (i = 0; i < (size_t)n && line[i] != '\n'; i++) {
            if (line[i] == '\\' && i + 1 < (size_t)n && line[i + 1] == 'n') {
                t[j++] = '\n';
                i++;
            } else {
                t[j++] = line[i];
            }
        }
        t[j] = '\0';
        texts[count] = t;
        lens[count] = j;
        count++;
    }
    free(line);
    fclose(f);
    return count;
}

int main(int argc, char **argv)
{
    static char *texts[MAX_TEXTS];
    static size_t lens[MAX_TEXTS];
    sluice_policy *p = NULL;
    sluice_engine *e = NULL;
    sluice_error err;
    long rounds, r, checks = 0;
    int n, i, rc = 1;
    volatile size_t sink = 0;
    double t0, t1;

    if (argc != 4) {
        fprintf(stderr, "usage: check_loop POLICY FILE ROUNDS\n");
        return 2;
    }
    rounds = strtol(argv[3], NULL, 10);
    n = read_texts(argv[2], texts, lens);
    if (n <= 0 || rounds <= 0) {
        fprintf(stderr, "check_loop: no texts in %s\n", argv[2]);
        return 2;
    }
    if (sluice_policy_load(&p, argv[1], NULL, &err) != 0 ||
        sluice_engine_new(&e, NULL, &err) != 0) {
        fprintf(stderr, "check_loop: %s:%d: %s\n", err.file, err.line,
                err.message);
        goto out;
    }
    sluice_engine_set_policy(e, p);
    t0 = now_s();
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < n; i++) {
            sluice_verdict *v;
            size_t len;
            if (sluice_check(e, texts[i], lens[i], NULL, &v, &err) != 0) {
                fprintf(stderr, "check_loop: %s\n", err.message);
                goto out;
            }
            sink += (size_t)sluice_verdict_action(v);
            sink += (size_t)(sluice_verdict_output(v, &len) != NULL) + len;
            sluice_verdict_free(v);
            checks++;
        }
    }
    t1 = now_s();
    printf("checks %ld seconds %.6f us_per_check %.3f\n", checks, t1 - t0,
           (t1 - t0) * 1e6 / (double)checks);
    rc = 0;
out:
    sluice_engine_free(e);
    sluice_policy_unref(p);
    for (i = 0; i < n; i++)
        free(texts[i]);
    return rc;
}
