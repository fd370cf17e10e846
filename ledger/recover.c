/*
 * recover.c - opening a writer's chain: create it, or read back its state
 * from the last segment and repair a torn tail.
 *
 * Design. Only the last segment can have a torn tail: a segment is
 * complete (synced, ending with a checkpoint) before the next one is
 * created, and segments are created whole (temporary file, sync, rename).
 * Opening reads that segment in two passes:
 *
 *   1. frame structure only (lengths, kinds, the check bytes of checkpoint
 *      frames), to find the last valid checkpoint and where the valid
 *      frames stop;
 *   2. from that checkpoint on, every record in full: check bytes (its
 *      leaf hash), canonical form, sequence number, chain link, writer,
 *      session. The state is the checkpoint's (verified: our key, our
 *      origin, frontier -> root) plus the records that pass.
 *
 * Whatever follows the first frame that fails is the torn tail. It is cut
 * (ftruncate) only after being copied to "<segment>.cut-<offset>", and the
 * new session's "recovery" record says how many bytes were cut and how
 * many whole records after the checkpoint were kept. One thing is never
 * cut: if a checkpoint signed by our key for a larger tree lies in the
 * region, the damage is not a torn tail (a crash cannot tear bytes that
 * were synced before a later checkpoint was written), and open refuses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/util.h"
#include "ledger/scan.h"
#include "ledger/writer.h"

#define CUT_MAX ((uint64_t)256 << 20)

/* Remove "*.seg.tmp" left by a segment creation that did not finish. */
static int remove_temps(sluice_ledger *l)
{
    DIR *d = opendir(l->wdir);
    struct dirent *e;
    int rc = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 8 && strcmp(e->d_name + n - 8, ".seg.tmp") == 0 &&
            unlinkat(l->dirfd, e->d_name, 0) != 0 && errno != ENOENT)
            rc = -1;
    }
    if (closedir(d) != 0)
        rc = -1;
    return rc;
}

int segment_create(sluice_ledger *l, uint64_t first, const unsigned char *ck,
    size_t ck_len)
{
    char name[32], tmp[40];
    unsigned char head[SEG_HEADER];
    int fd, e;
    seg_name(name, sizeof name, first);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    seg_header(head, first);
    fd = openat(l->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
        O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    if (write_all(fd, head, sizeof head) != 0 ||
        write_all(fd, ck, ck_len) != 0 || fdatasync(fd) != 0 ||
        renameat(l->dirfd, tmp, l->dirfd, name) != 0)
        goto fail;
    if (fsync_dirfd(l->dirfd) != 0)
        goto fail_renamed;
    return fd;
fail:
    e = errno;
    (void)unlinkat(l->dirfd, tmp, 0);
    (void)close(fd);
    errno = e;
    return -1;
fail_renamed:
    e = errno;
    (void)close(fd);
    errno = e;
    return -1;
}

/* A new chain: segment 1 with the checkpoint of the empty tree. */
static int create_chain(sluice_ledger *l, sluice_error *err)
{
    lbuf f = {0};
    merkle_init(&l->tree);
    l->size = 0;
    memset(l->last, 0, sizeof l->last);
    l->session = 0;
    if (ledger_make_checkpoint(l, &f, NULL) != 0) {
        lbuf_free(&f);
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    }
    l->segfd = segment_create(l, 1, f.p, f.len);
    if (l->segfd < 0) {
        lbuf_free(&f);
        return ledger_error(err, SLUICE_EIO, l->wdir,
            "creating the first segment: %s", strerror(errno));
    }
    l->seg_first = 1;
    l->seg_size = SEG_HEADER + f.len;
    l->ck_frame = f;
    l->ck_size = l->synced = 0;
    return 0;
}

/* What pass 1 found in the last segment. */
typedef struct tail_scan {
    uint64_t file_size;
    uint64_t stop;          /* where the valid frames end */
    uint64_t ck_off;        /* the last valid checkpoint frame */
    lbuf ck;
    uint64_t rec_off;       /* the last record frame before it */
    size_t rec_len;         /* 0: none in this segment */
} tail_scan;

static int pass1(int fd, tail_scan *t)
{
    frame_reader r;
    const unsigned char *f;
    size_t flen, last_len = 0;
    uint64_t at, last_off = 0;
    int rc;
    if (fr_init(&r, fd, t->file_size, SEG_HEADER) != 0)
        return -1;
    while ((rc = fr_next(&r, &f, &flen, &at)) == FR_FRAME) {
        if (f[4] == FRAME_RECORD) {
            last_off = at;
            last_len = flen;
            continue;
        }
        unsigned char h[SHA256_BYTES];
        ckpt_frame c;
        const char *why;
        if (frame_verify(f, h) != 0 ||
            ckpt_parse(f + FRAME_HEAD, le32_get(f), &c, &why) != 0)
            break;
        t->ck.len = 0;
        lbuf_put(&t->ck, f, flen);
        t->ck_off = at;
        t->rec_off = last_off;
        t->rec_len = last_len;
    }
    fr_free(&r);
    t->stop = at;
    if (rc == FR_IO || t->ck.oom) {
        if (t->ck.oom)
            errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* Take the state of the last checkpoint, after checking it is ours. */
static int adopt_checkpoint(sluice_ledger *l, const tail_scan *t,
    const char *path, sluice_error *err)
{
    ckpt_frame c;
    note_checkpoint nc;
    const char *why = NULL;
    unsigned char root[SHA256_BYTES];
    (void)ckpt_parse(t->ck.p + FRAME_HEAD, le32_get(t->ck.p), &c, &why);
    if (note_open_checkpoint(c.note, c.note_len, &l->key, 1, &nc, &why) != 0)
        return ledger_error(err, SLUICE_EINVAL, path,
            "the last checkpoint (offset %llu): %s (is this chain signed "
            "with another key?)", (unsigned long long)t->ck_off, why);
    if (nc.origin_len != strlen(l->origin) ||
        memcmp(nc.origin, l->origin, nc.origin_len) != 0)
        return ledger_error(err, SLUICE_EINVAL, path,
            "the chain's origin is '%.*s', not '%s'", (int)nc.origin_len,
            nc.origin, l->origin);
    if (nc.size != c.size || merkle_frontier_import(&l->tree, c.size,
            c.frontier, c.nfrontier) != 0)
        return ledger_error(err, SLUICE_EIO, path,
            "the last checkpoint's frame does not match its note");
    merkle_root(&l->tree, root);
    if (sodium_memcmp(root, nc.root, SHA256_BYTES) != 0)
        return ledger_error(err, SLUICE_EIO, path,
            "the last checkpoint's frontier does not hash to its root");
    l->size = c.size;
    memcpy(l->last, c.last, SHA256_BYTES);
    l->session = c.session;
    l->ck_size = l->synced = c.size;
    lbuf_put(&l->ck_frame, t->ck.p, t->ck.len);
    return l->ck_frame.oom ? ledger_error(err, SLUICE_ENOMEM, NULL,
        "out of memory") : 0;
}

/* Did the session before the checkpoint end with a close record? */
static int last_record_closed(sluice_ledger *l, int fd, const tail_scan *t,
    const char *path, sluice_error *err, int *closed)
{
    unsigned char h[SHA256_BYTES];
    rec_hdr hdr;
    const char *why;
    unsigned char *f;
    *closed = 0;
    if (t->rec_len == 0)
        return 0;
    if ((f = malloc(t->rec_len)) == NULL)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    if (pread_all(fd, f, t->rec_len, (off_t)t->rec_off) != 0) {
        free(f);
        return ledger_error(err, SLUICE_EIO, path, "%s", strerror(errno));
    }
    if (frame_verify(f, h) != 0 || memcmp(h, l->last, SHA256_BYTES) != 0 ||
        rec_check(f + FRAME_HEAD, le32_get(f), &hdr, &why) != 0) {
        free(f);
        return ledger_error(err, SLUICE_EIO, path,
            "the record before the last checkpoint (offset %llu) does not "
            "match it; run 'sluice ledger verify'",
            (unsigned long long)t->rec_off);
    }
    *closed = hdr.type == REC_CLOSE;
    free(f);
    return 0;
}

/* One record after the checkpoint: 0 if it extends the chain. */
static int replay_one(sluice_ledger *l, const unsigned char *f)
{
    unsigned char h[SHA256_BYTES];
    rec_hdr hdr;
    const char *why;
    if (f[4] != FRAME_RECORD || frame_verify(f, h) != 0 ||
        rec_check(f + FRAME_HEAD, le32_get(f), &hdr, &why) != 0)
        return -1;
    if (hdr.seq != l->size + 1 || memcmp(hdr.prev, l->last, 32) != 0 ||
        hdr.writer.len != strlen(l->writer) ||
        memcmp(hdr.writer.p, l->writer, hdr.writer.len) != 0)
        return -1;
    if (hdr.session != l->session + (hdr.type == REC_OPEN ? 1u : 0u))
        return -1;
    l->size++;
    memcpy(l->last, h, SHA256_BYTES);
    merkle_append(&l->tree, h);
    l->session = hdr.session;
    return 0;
}

/* Pass 2: replay the records after the checkpoint; *cut_at: where the
   chain stops extending. */
static int pass2(sluice_ledger *l, int fd, const tail_scan *t,
    uint64_t *cut_at)
{
    frame_reader r;
    const unsigned char *f;
    size_t flen;
    uint64_t at;
    int rc;
    if (fr_init(&r, fd, t->stop, t->ck_off + t->ck.len) != 0)
        return -1;
    while ((rc = fr_next(&r, &f, &flen, &at)) == FR_FRAME &&
        replay_one(l, f) == 0)
        l->kept_unsigned++;
    fr_free(&r);
    *cut_at = at;
    return rc == FR_IO ? -1 : 0;
}

/* Does p[0..n) hold a checkpoint signed by us for more than l->size? */
static int signed_checkpoint_in(const sluice_ledger *l,
    const unsigned char *p, size_t n)
{
    size_t olen = strlen(l->origin);
    const unsigned char *at = p, *end = p + n;
    while ((at = memmem(at, (size_t)(end - at), l->origin, olen)) != NULL) {
        const unsigned char *q = at;
        int nl = 0;
        while (q < end && nl < 5)      /* 3 body lines, blank, signature */
            if (*q++ == '\n')
                nl++;
        note_checkpoint nc;
        const char *why;
        if (nl == 5 && note_open_checkpoint((const char *)at,
                (size_t)(q - at), &l->key, 1, &nc, &why) == 0 &&
            nc.size > l->size)
            return 1;
        at++;
    }
    return 0;
}

/* Keep the torn bytes in a side file, then cut them. */
static int cut_tail(sluice_ledger *l, int fd, const char *name,
    const char *path, uint64_t cut_at, uint64_t file_size, sluice_error *err)
{
    uint64_t n = file_size - cut_at;
    unsigned char *buf;
    int sfd, rc = 0;
    if (n > CUT_MAX)
        return ledger_error(err, SLUICE_EIO, path, "%llu bytes after offset "
            "%llu do not extend the chain: too many for a torn tail; run "
            "'sluice ledger verify'", (unsigned long long)n,
            (unsigned long long)cut_at);
    if ((buf = malloc((size_t)n)) == NULL)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    if (pread_all(fd, buf, (size_t)n, (off_t)cut_at) != 0) {
        rc = ledger_error(err, SLUICE_EIO, path, "%s", strerror(errno));
        goto out;
    }
    if (signed_checkpoint_in(l, buf, (size_t)n)) {
        rc = ledger_error(err, SLUICE_EIO, path, "damaged at offset %llu, "
            "but a later signed checkpoint follows: not a torn tail, not "
            "cutting it; run 'sluice ledger verify'",
            (unsigned long long)cut_at);
        goto out;
    }
    snprintf(l->cut_seg, sizeof l->cut_seg, "%s", name);
    snprintf(l->cut_saved, sizeof l->cut_saved, "%s.cut-%llu", name,
        (unsigned long long)cut_at);
    sfd = openat(l->dirfd, l->cut_saved, O_WRONLY | O_CREAT | O_TRUNC |
        O_CLOEXEC, 0640);
    if (sfd < 0 || write_all(sfd, buf, (size_t)n) != 0 || fdatasync(sfd) != 0
        || close(sfd) != 0 || fsync_dirfd(l->dirfd) != 0 ||
        ftruncate(fd, (off_t)cut_at) != 0 || fdatasync(fd) != 0) {
        rc = ledger_error(err, SLUICE_EIO, path, "cutting the torn tail: %s",
            strerror(errno));
        goto out;
    }
    l->recovered = n;
out:
    free(buf);
    return rc;
}

/* Open the last segment and take the chain's state from it. */
static int load_last(sluice_ledger *l, const seg_entry *s, sluice_error *err)
{
    char path[4200];
    unsigned char head[SEG_HEADER];
    struct stat st;
    tail_scan t;
    uint64_t first = 0, cut_at = 0;
    const char *why = NULL;
    int fd, rc = 0, closed = 0;
    memset(&t, 0, sizeof t);
    snprintf(path, sizeof path, "%s/%s", l->wdir, s->name);
    fd = openat(l->dirfd, s->name, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 ||
        pread_all(fd, head, sizeof head, 0) != 0) {
        rc = ledger_error(err, SLUICE_EIO, path, "%s", strerror(errno));
        goto out;
    }
    if (seg_header_parse(head, sizeof head, &first, &why) != 0 ||
        first != s->first) {
        rc = ledger_error(err, SLUICE_EIO, path, "%s",
            why ? why : "header and file name disagree on the first record");
        goto out;
    }
    t.file_size = (uint64_t)st.st_size;
    if (pass1(fd, &t) != 0) {
        rc = ledger_error(err, SLUICE_EIO, path, "%s", strerror(errno));
        goto out;
    }
    if (t.ck.len == 0) {
        rc = ledger_error(err, SLUICE_EIO, path, "no valid checkpoint: this "
            "is not a torn tail; run 'sluice ledger verify'");
        goto out;
    }
    if ((rc = adopt_checkpoint(l, &t, path, err)) != 0 ||
        (rc = last_record_closed(l, fd, &t, path, err, &closed)) != 0)
        goto out;
    if (pass2(l, fd, &t, &cut_at) != 0) {
        rc = ledger_error(err, SLUICE_EIO, path, "%s", strerror(errno));
        goto out;
    }
    if (cut_at < t.file_size &&
        (rc = cut_tail(l, fd, s->name, path, cut_at, t.file_size, err)) != 0)
        goto out;
    l->crashed = l->kept_unsigned > 0 || l->recovered > 0 ||
        (l->size > 0 && !closed);
    l->segfd = fd;
    fd = -1;
    l->seg_first = s->first;
    l->seg_size = cut_at;
out:
    if (fd >= 0)
        (void)close(fd);
    lbuf_free(&t.ck);
    return rc;
}

int recover_chain(sluice_ledger *l, sluice_error *err)
{
    seg_entry *segs = NULL;
    size_t n = 0, others = 0;
    int rc;
    if (remove_temps(l) != 0 ||
        scan_segments(l->wdir, &segs, &n, &others) != 0)
        return ledger_error(err, SLUICE_EIO, l->wdir, "%s", strerror(errno));
    rc = n == 0 ? create_chain(l, err) : load_last(l, &segs[n - 1], err);
    free(segs);
    l->seg_born = l->ck_mono = clock_mono_ns();
    return rc;
}
