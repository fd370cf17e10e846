/*
 * writer.h - the sluice_ledger object (one writer's chain), shared by
 * ledger.c (appends, checkpoints, group commit) and recover.c (opening a
 * chain: creating it, or reading back its state and cutting a torn tail).
 *
 * Locking: `mu` guards everything under "chain state". The configuration
 * is fixed once open returns. The segment descriptor may be used outside
 * the lock only by the one thread that set `syncing` (for fdatasync), and
 * rotation (which closes it) happens only while nobody is syncing.
 */
#ifndef SLUICE_LEDGER_WRITER_H
#define SLUICE_LEDGER_WRITER_H

#include <pthread.h>
#include <stdint.h>

#include "sluice.h"
#include "ledger/bytes.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/record.h"

#define ORIGIN_MAX 255

struct sluice_ledger {
    pthread_mutex_t mu;
    pthread_cond_t synced_cv;     /* `synced` moved, or a failure */
    pthread_cond_t tick_cv;       /* wakes the checkpoint thread */
    pthread_t thread;
    int have_thread;
    int stop;

    /* configuration */
    char *wdir;                   /* DIR/<writer> */
    char writer[WRITER_MAX + 1];
    char origin[ORIGIN_MAX + 1];
    note_key key;                 /* with the secret key */
    unsigned char dkey[32];       /* digest key */
    uint32_t did;
    sluice_ledger_mode mode;
    uint32_t ck_records;
    int64_t ck_ns;
    uint64_t seg_bytes;
    int64_t seg_ns;               /* 0: no age rotation */
    sluice_checkpoint_fn on_ck;
    void *payload;
    int dirfd;                    /* the writer directory */
    int lockfd;                   /* holds the flock */

    /* chain state (mu) */
    int segfd;
    uint64_t seg_first;
    uint64_t seg_size;            /* bytes in the current segment */
    int64_t seg_born;             /* CLOCK_MONOTONIC when it was opened */
    uint64_t size;                /* records; the last seq */
    unsigned char last[SHA256_BYTES];
    uint32_t session;
    merkle_frontier tree;
    uint64_t ck_size;             /* size at the last checkpoint written */
    int64_t ck_mono;              /* when it was written */
    lbuf ck_frame;                /* that checkpoint's frame */
    uint64_t synced;              /* records covered by a synced checkpoint */
    int syncing;
    int rotate_pending;
    int failed;                   /* a sync failed: no more appends */
    int closing;                  /* close began: no more appends */
    int closed;                   /* files closed */
    uint64_t nck, nsync;
    char failmsg[160];

    /* decisions not recorded, for the next gap record (mu) */
    uint64_t gap_released, gap_blocked;
    int64_t gap_first, gap_last;
    char gap_err[160];

    /* what open found (fixed after open) */
    uint64_t recovered;           /* bytes cut */
    uint64_t kept_unsigned;       /* whole records after the checkpoint */
    int crashed;                  /* the last session did not close */
    char cut_seg[32];
    char cut_saved[64];
};

/*
 * recover.c: read the chain in l->wdir (l->dirfd), or create it. Fills the
 * chain state (size, last, session, tree, checkpoint frame, segment) and
 * the recovery fields, cutting a torn tail. On return l->segfd is open for
 * appending. 0, or a negative code with err.
 */
int recover_chain(sluice_ledger *l, sluice_error *err);

/*
 * Create segment `first` holding the header and a copy of `ck` (the last
 * checkpoint frame), atomically (temporary file, fdatasync, rename, sync
 * of the directory). Returns an O_APPEND descriptor or -1 (errno).
 */
int segment_create(sluice_ledger *l, uint64_t first, const unsigned char *ck,
    size_t ck_len);

/*
 * Sign a checkpoint of the current tree into `frame` (a whole checkpoint
 * frame), and its note into `note` if not NULL. 0 or -1 (ENOMEM).
 */
int ledger_make_checkpoint(sluice_ledger *l, lbuf *frame, lbuf *note);

#endif
