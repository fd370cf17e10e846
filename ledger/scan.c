/*
 * scan.c - listing writers and segments, and reading frames.
 *
 * The frame reader keeps a window of the file in a buffer (4 MiB, grown
 * for a larger frame) and hands out pointers into it, so verifying a
 * ledger reads each byte once with large pread(2)s and copies nothing.
 * A frame head is accepted only if its kind is known and its length is
 * within FRAME_MAX_PAYLOAD; whether it fits in the file decides between a
 * whole frame and a torn one.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger/scan.h"
#include "ledger/util.h"

#define FR_CHUNK ((size_t)4 << 20)

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int scan_writers(const char *dir, char ***names, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL, path[4096];
    size_t cnt = 0, cap = 0;
    struct stat st;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (!writer_valid(e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **q = realloc(v, nc * sizeof *q);
            if (q == NULL)
                goto nomem;
            v = q;
            cap = nc;
        }
        if ((v[cnt] = strdup(e->d_name)) == NULL)
            goto nomem;
        cnt++;
    }
    if (closedir(d) != 0) {
        names_free(v, cnt);
        return -1;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_names);
    *names = v;
    *n = cnt;
    return 0;
nomem:
    names_free(v, cnt);
    (void)closedir(d);
    errno = ENOMEM;
    return -1;
}

static int cmp_segs(const void *a, const void *b)
{
    const seg_entry *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Files a writer directory may hold besides segments. */
static int side_file(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "lock") == 0 || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || (n > 4 && strcmp(name + n - 4, ".tmp") == 0)
        || strstr(name, ".seg.cut-") != NULL;
}

int scan_segments(const char *wdir, seg_entry **segs, size_t *n,
    size_t *others)
{
    DIR *d = opendir(wdir);
    struct dirent *e;
    seg_entry *v = NULL;
    size_t cnt = 0, cap = 0;
    *others = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        uint64_t first;
        if (seg_name_parse(e->d_name, &first) != 0) {
            if (!side_file(e->d_name))
                (*others)++;
            continue;
        }
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            seg_entry *q = realloc(v, nc * sizeof *q);
            if (q == NULL) {
                free(v);
                (void)closedir(d);
                errno = ENOMEM;
                return -1;
            }
            v = q;
            cap = nc;
        }
        v[cnt].first = first;
        seg_name(v[cnt].name, sizeof v[cnt].name, first);  /* = d_name */
        cnt++;
    }
    if (closedir(d) != 0) {
        free(v);
        return -1;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_segs);
    *segs = v;
    *n = cnt;
    return 0;
}

int fr_init(frame_reader *r, int fd, uint64_t size, uint64_t start)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->size = size;
    r->off = start;
    r->buf_off = start;
    r->cap = FR_CHUNK;
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void fr_free(frame_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Make [off, off + n) available in the buffer (n <= what the file has). */
static int fr_need(frame_reader *r, uint64_t off, size_t n)
{
    if (off >= r->buf_off && off + n <= r->buf_off + r->have)
        return 0;
    size_t keep = 0;
    if (off >= r->buf_off && off < r->buf_off + r->have) {
        keep = (size_t)(r->buf_off + r->have - off);
        memmove(r->buf, r->buf + (off - r->buf_off), keep);
    }
    if (n > r->cap) {
        unsigned char *q = realloc(r->buf, n);
        if (q == NULL) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = q;
        r->cap = n;
    }
    r->buf_off = off;
    r->have = keep;
    uint64_t left = r->size - (off + keep);
    size_t want = r->cap - keep;
    if (want > left)
        want = (size_t)left;
    if (want > 0 && pread_all(r->fd, r->buf + keep, want,
            (off_t)(off + keep)) != 0)
        return -1;
    r->have += want;
    return 0;
}

int fr_next(frame_reader *r, const unsigned char **frame, size_t *flen,
    uint64_t *at)
{
    *at = r->off;
    if (r->off == r->size)
        return FR_END;
    if (r->size - r->off < FRAME_HEAD)
        return FR_TORN;
    if (fr_need(r, r->off, FRAME_HEAD) != 0)
        return FR_IO;
    const unsigned char *h = r->buf + (r->off - r->buf_off);
    uint32_t len = le32_get(h);
    if ((h[4] != FRAME_RECORD && h[4] != FRAME_CHECKPOINT) ||
        len > FRAME_MAX_PAYLOAD)
        return FR_BAD;
    size_t total = (size_t)len + FRAME_OVERHEAD;
    if (r->size - r->off < total)
        return FR_TORN;
    if (fr_need(r, r->off, total) != 0)
        return FR_IO;
    *frame = r->buf + (r->off - r->buf_off);
    *flen = total;
    r->off += total;
    return FR_FRAME;
}
