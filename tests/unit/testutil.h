/*
 * testutil.h - shared helpers for the cmocka unit tests: where the shared
 * data lives, reading a file whole, and a seeded random generator.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SLUICE_DATA, default ../shared/data; NULL if it is not there. */
static inline const char *test_data_dir(void)
{
    const char *d = getenv("SLUICE_DATA");
    if (d == NULL || d[0] == '\0')
        d = "../shared/data";
    FILE *f;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/README.md", d);
    f = fopen(probe, "rb");
    if (f == NULL)
        return NULL;
    fclose(f);
    return d;
}

/* Read a whole file; *len gets its size. malloc'd, NUL-terminated. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (len != NULL)
            *len = (size_t)n;
    }
    return buf;
}

/* splitmix64: the random tests' generator, the same sequence for a seed
   on every run. */
static inline uint64_t test_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
