/*
 * scan.h - reading ledger directories: the writers in a ledger, the
 * segments of a writer, and the frames of a segment, through a buffered
 * reader that never trusts a length before checking it against the file.
 */
#ifndef SLUICE_LEDGER_SCAN_H
#define SLUICE_LEDGER_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/record.h"

/* Names of the writer directories of `dir`, sorted. Caller frees with
   names_free. Returns 0 or -1 (errno). */
int scan_writers(const char *dir, char ***names, size_t *n);

/* A segment of a writer, by first sequence number. */
typedef struct seg_entry {
    uint64_t first;
    char name[32];
} seg_entry;

/*
 * The segments of writer directory `wdir`, sorted by first sequence
 * number; *others counts files that are neither segments nor known side
 * files (lock, *.tmp, *.cut-*). Returns 0 or -1 (errno).
 */
int scan_segments(const char *wdir, seg_entry **segs, size_t *n,
    size_t *others);

void names_free(char **names, size_t n);

enum fr_result {
    FR_FRAME = 1,     /* a whole frame */
    FR_END = 0,       /* the file ends exactly here */
    FR_TORN = -1,     /* the file ends inside a frame */
    FR_BAD = -2,      /* a frame head that cannot be (length, kind) */
    FR_IO = -3        /* a read failed (errno) */
};

typedef struct frame_reader {
    int fd;
    uint64_t size;            /* file size when opened */
    uint64_t off;             /* offset of the next frame */
    unsigned char *buf;
    size_t cap, have;
    uint64_t buf_off;         /* file offset of buf[0] */
} frame_reader;

/* Read fd (size bytes long) from `start`. 0 or -1 (ENOMEM). */
int fr_init(frame_reader *r, int fd, uint64_t size, uint64_t start);
/*
 * The next frame: on FR_FRAME *frame points at its first byte (valid until
 * the next call), *flen is its whole length and *at its offset. On the
 * other results *at is where reading stopped.
 */
int fr_next(frame_reader *r, const unsigned char **frame, size_t *flen,
    uint64_t *at);
void fr_free(frame_reader *r);

#endif
