/*
 * util.c - helpers for the ledger: errors, I/O loops, clocks, JSON
 * escaping. Every system call's result is checked and reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filter/utf8.h"
#include "ledger/util.h"

int ledger_error(sluice_error *err, int code, const char *file,
    const char *fmt, ...)
{
    va_list ap;
    if (err == NULL)
        return code;
    err->code = code;
    err->line = 0;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

void str_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (size == 0)
        return;
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int pread_all(int fd, void *p, size_t n, off_t off)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = pread(fd, c, n, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0) {
            errno = EIO;
            return -1;
        }
        c += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

int read_file(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    int saved;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0)
        goto fail;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        goto fail;
    }
    if ((uint64_t)st.st_size > max) {
        errno = EFBIG;
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL)
        goto fail;
    if (st.st_size > 0 && pread_all(fd, buf, (size_t)st.st_size, 0) != 0)
        goto fail;
    buf[st.st_size] = '\0';
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    *out = buf;
    *len = (size_t)st.st_size;
    return 0;
fail:
    saved = errno;
    free(buf);
    if (fd >= 0)
        (void)close(fd);
    errno = saved;
    return -1;
}

int fsync_dirfd(int dirfd)
{
    if (fsync(dirfd) == 0)
        return 0;
    /* some file systems cannot sync a directory; nothing to do there */
    return errno == EINVAL || errno == EROFS ? 0 : -1;
}

int64_t clock_real_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_mono_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void format_time(char *buf, size_t size, int64_t ns)
{
    struct tm tm;
    time_t s = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    if (frac < 0) {
        frac += 1000000000;
        s -= 1;
    }
    if (gmtime_r(&s, &tm) == NULL) {
        snprintf(buf, size, "?");
        return;
    }
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, frac);
}

void hex_encode(char *out, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void json_str(lbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    lbuf_u8(b, '"');
    while (i < n) {
        unsigned char c = u[i];
        char esc[8];
        if (c >= 0x80) {
            size_t k = utf8_valid(u + i, n - i);
            if (k == 0) {        /* one U+FFFD per ill-formed sequence */
                lbuf_str(b, "\\ufffd");
                i += utf8_ill_len(u + i, n - i);
            } else {
                lbuf_put(b, s + i, k);
                i += k;
            }
            continue;
        }
        switch (c) {
        case '"': lbuf_str(b, "\\\""); break;
        case '\\': lbuf_str(b, "\\\\"); break;
        case '\n': lbuf_str(b, "\\n"); break;
        case '\r': lbuf_str(b, "\\r"); break;
        case '\t': lbuf_str(b, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                lbuf_str(b, esc);
            } else {
                lbuf_put(b, s + i, 1);
            }
        }
        i++;
    }
    lbuf_u8(b, '"');
}

void json_cstr(lbuf *b, const char *s)
{
    json_str(b, s, strlen(s));
}

void json_u64(lbuf *b, uint64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    lbuf_str(b, t);
}

void json_i64(lbuf *b, int64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    lbuf_str(b, t);
}
