/*
 * util.h - small helpers shared by the ledger files: error reporting into
 * a sluice_error, whole-buffer I/O that checks every return, directory
 * syncs, clocks, hex, and JSON string escaping.
 */
#ifndef SLUICE_LEDGER_UTIL_H
#define SLUICE_LEDGER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sluice.h"
#include "ledger/bytes.h"

/* Fill err (may be NULL) with code, file (may be NULL) and message;
   returns code. */
int ledger_error(sluice_error *err, int code, const char *file,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Copy src into dst[size], cut short if need be; always NUL-terminated. */
void str_copy(char *dst, size_t size, const char *src);

/* write(2) all of p, retrying on EINTR and short writes. 0 or -1/errno. */
int write_all(int fd, const void *p, size_t n);
/* pread(2) exactly n bytes at off; 0, or -1 (errno; EIO at end of file). */
int pread_all(int fd, void *p, size_t n, off_t off);

/*
 * Read a whole file of at most `max` bytes. *out is malloc'd, with a NUL
 * after the data. 0, or -1 with errno (EFBIG when over max).
 */
int read_file(const char *path, size_t max, char **out, size_t *len);

/* fsync a directory so that entries created or renamed in it persist. */
int fsync_dirfd(int dirfd);

int64_t clock_real_ns(void);
int64_t clock_mono_ns(void);

/* RFC 3339 UTC with nanoseconds, "2024-05-01T12:00:00.000000123Z". */
void format_time(char *buf, size_t size, int64_t ns);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void hex_encode(char *out, const unsigned char *in, size_t n);

/* A JSON string (with quotes), escaped per RFC 8259; bytes that are not
   valid UTF-8 become \ufffd. */
void json_str(lbuf *b, const char *s, size_t n);
void json_cstr(lbuf *b, const char *s);
void json_u64(lbuf *b, uint64_t v);
void json_i64(lbuf *b, int64_t v);

#endif
