/*
 * verify.c - sluice_ledger_verify: check a ledger directory offline with
 * the public key alone.
 *
 * For each writer, the segments are read in sequence order and every frame
 * is checked as it comes (one pass, each byte read once):
 *
 *   segment   header magic and version; its first sequence number matches
 *             its name and follows the previous segment's last record; it
 *             starts with a checkpoint of the tree so far; a segment that
 *             is not the last ends with a checkpoint.
 *   record    check bytes = its leaf hash; canonical form; sequence number
 *             = previous + 1; prev = the previous record's leaf hash;
 *             writer = the directory; session = the previous one, or the
 *             next one for an "open" record (the first record is one).
 *   checkpoint  check bytes; canonical frame; tree size, last hash,
 *             session and frontier equal to the records' so far; the note
 *             is exactly one Ed25519 signature by the key over a canonical
 *             checkpoint body; the same origin throughout; its root equals
 *             the MTH of the records.
 *   anchors   every anchor (a checkpoint kept elsewhere) for a writer's
 *             origin: the tree of its size has its root (else a fork or
 *             rewritten history), and the chain reaches its size (else
 *             truncation or rollback).
 *
 * Each check that fails reports the first bad record (its sequence
 * number, segment file and byte offset) and why, and stops that chain.
 * Records after the last checkpoint and a torn last frame are failures
 * unless allow_tail (a live writer, or a crash not yet recovered by open).
 *
 * Cost: one SHA-256 of each record and about one node hash per record for
 * the tree; an Ed25519 verification per checkpoint.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/key.h"
#include "ledger/merkle.h"
#include "ledger/scan.h"
#include "ledger/util.h"

#define ANCHOR_FILE_MAX ((size_t)16 << 20)
#define TORN_MAX ((uint64_t)256 << 20)   /* as recover.c's CUT_MAX */

typedef struct anchor {
    char origin[256];
    uint64_t size;
    unsigned char root[32];
    int matched;            /* the chain reached it and agreed */
    int seen_origin;        /* a chain with its origin was verified */
} anchor;

typedef struct vctx {
    const sluice_verify_options *o;
    const note_key *key;
    sluice_verify_report *rep;
    anchor *anchors;
    size_t nanchors;
    /* the chain being verified */
    const char *writer;
    char path[4200];        /* current segment */
    uint64_t size;
    unsigned char last[SHA256_BYTES];
    uint32_t session;
    merkle_frontier tree;
    char origin[256];
    int have_origin;
    uint64_t ck_size;       /* records covered by the last checkpoint */
    uint64_t start;         /* records before the first verified one */
    uint64_t tail;          /* records since the last checkpoint */
    int last_type;
} vctx;

/* Record the first failure; returns -1. */
static int fail(vctx *v, uint64_t seq, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(vctx *v, uint64_t seq, uint64_t off, const char *fmt, ...)
{
    sluice_verify_report *r = v->rep;
    va_list ap;
    if (!r->ok)
        return -1;
    r->ok = 0;
    str_copy(r->writer, sizeof r->writer, v->writer ? v->writer : "");
    str_copy(r->file, sizeof r->file, v->path);
    r->seq = seq;
    r->offset = off;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    return -1;
}

static void warn(vctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn(vctx *v, const char *fmt, ...)
{
    va_list ap;
    if (v->rep->warning[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(v->rep->warning, sizeof v->rep->warning, fmt, ap);
    va_end(ap);
}

/* ---- anchors ------------------------------------------------------------- */

/* The next note in an anchor file: body, blank line, signature lines. */
static size_t next_note(const char *s, size_t len, size_t pos,
    size_t *start)
{
    while (pos < len && s[pos] == '\n')
        pos++;
    *start = pos;
    const char *sep = memmem(s + pos, len - pos, "\n\n", 2);
    if (sep == NULL)
        return len;
    pos = (size_t)(sep - s) + 2;
    while (pos + 4 <= len && memcmp(s + pos, "\xe2\x80\x94 ", 4) == 0) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        pos = nl ? (size_t)(nl - s) + 1 : len;
    }
    return pos;
}

static int load_anchors(vctx *v, const char *path, sluice_error *err)
{
    char *text = NULL;
    size_t len = 0, pos = 0, start, cap = 0;
    int rc = 0;
    if (read_file(path, ANCHOR_FILE_MAX, &text, &len) != 0)
        return ledger_error(err, errno == EFBIG ? SLUICE_ETOOBIG : SLUICE_EIO,
            path, "%s", strerror(errno));
    while (pos < len) {
        size_t end = next_note(text, len, pos, &start);
        note_checkpoint nc;
        const char *why;
        if (start >= len)
            break;
        if (note_open_checkpoint(text + start, end - start, v->key, 0, &nc,
                &why) != 0 || nc.origin_len >= sizeof v->anchors->origin) {
            rc = ledger_error(err, SLUICE_EINVAL, path, "anchor %zu: %s",
                v->nanchors + 1, why);
            break;
        }
        if (v->nanchors == cap) {
            size_t nc2 = cap ? cap * 2 : 4;
            anchor *q = realloc(v->anchors, nc2 * sizeof *q);
            if (q == NULL) {
                rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
                break;
            }
            v->anchors = q;
            cap = nc2;
        }
        anchor *a = &v->anchors[v->nanchors++];
        memset(a, 0, sizeof *a);
        memcpy(a->origin, nc.origin, nc.origin_len);
        a->size = nc.size;
        memcpy(a->root, nc.root, 32);
        pos = end;
    }
    if (rc == 0 && v->nanchors == 0)
        rc = ledger_error(err, SLUICE_EINVAL, path,
            "no signed checkpoint in the anchor file");
    free(text);
    return rc;
}

/* Compare the tree at its current size with the anchors of its origin. */
static int check_anchors(vctx *v, uint64_t off)
{
    unsigned char root[SHA256_BYTES];
    int have_root = 0;
    for (size_t i = 0; i < v->nanchors; i++) {
        anchor *a = &v->anchors[i];
        if (a->size != v->size || strcmp(a->origin, v->origin) != 0)
            continue;
        if (!have_root) {
            merkle_root(&v->tree, root);
            have_root = 1;
        }
        if (sodium_memcmp(root, a->root, 32) != 0)
            return fail(v, v->size, off, "fork: anchor %zu (a checkpoint "
                "of %llu records) has another root than records 1..%llu "
                "here: this history was rewritten, or another was signed",
                i + 1, (unsigned long long)a->size,
                (unsigned long long)a->size);
        a->matched = 1;
    }
    return 0;
}

/* ---- frames ---------------------------------------------------------------- */

static int verify_record(vctx *v, const unsigned char *f, uint64_t off)
{
    unsigned char h[SHA256_BYTES];
    rec_hdr hdr;
    const char *why = NULL;
    uint64_t want = v->size + 1;
    if (frame_verify(f, h) != 0)
        return fail(v, want, off, "record %llu: its bytes do not match its "
            "check bytes (altered or damaged)", (unsigned long long)want);
    if (rec_check(f + FRAME_HEAD, le32_get(f), &hdr, &why) != 0)
        return fail(v, want, off, "record %llu: %s", (unsigned long long)want,
            why);
    if (hdr.seq != want)
        return fail(v, want, off, "record %llu: sequence number is %llu (a "
            "record is missing, repeated or out of order)",
            (unsigned long long)want, (unsigned long long)hdr.seq);
    if (memcmp(hdr.prev, v->last, SHA256_BYTES) != 0)
        return fail(v, want, off, "record %llu: does not link to record "
            "%llu (its previous-record hash differs)",
            (unsigned long long)want, (unsigned long long)v->size);
    if (hdr.writer.len != strlen(v->writer) ||
        memcmp(hdr.writer.p, v->writer, hdr.writer.len) != 0)
        return fail(v, want, off, "record %llu: names writer '%.*s', not "
            "'%s'", (unsigned long long)want, (int)hdr.writer.len,
            (const char *)hdr.writer.p, v->writer);
    if (hdr.session != v->session + (hdr.type == REC_OPEN ? 1u : 0u))
        return fail(v, want, off, "record %llu: session %u out of order "
            "(after session %u%s)", (unsigned long long)want, hdr.session,
            v->session, hdr.type == REC_OPEN ? "" :
            ", and it is not an open record");
    v->size++;
    memcpy(v->last, h, SHA256_BYTES);
    merkle_append(&v->tree, h);
    v->session = hdr.session;
    v->tail++;
    v->last_type = hdr.type;
    return v->nanchors ? check_anchors(v, off) : 0;
}

/* The checkpoint's note: our key, our origin, the records' root. */
static int verify_note(vctx *v, const ckpt_frame *c, uint64_t off)
{
    note_checkpoint nc;
    unsigned char root[SHA256_BYTES];
    const char *why = NULL;
    unsigned long long n = (unsigned long long)c->size;
    if (note_open_checkpoint(c->note, c->note_len, v->key, 1, &nc, &why) != 0) {
        char who[NOTE_NAME_MAX + 1];
        uint32_t id;
        if (strstr(why, "not signed by") != NULL &&
            note_first_signer(c->note, c->note_len, who, &id) == 0)
            return fail(v, 0, off, "checkpoint of %llu records: signed by key "
                "'%s' (id %08x), not by the given key '%s' (id %08x)", n, who,
                (unsigned)id, v->key->name, (unsigned)v->key->id);
        return fail(v, 0, off, "checkpoint of %llu records: %s", n, why);
    }
    if (nc.size != c->size)
        return fail(v, 0, off, "checkpoint of %llu records: its note says "
            "%llu", n, (unsigned long long)nc.size);
    if (!v->have_origin) {
        if (nc.origin_len >= sizeof v->origin)
            return fail(v, 0, off, "checkpoint origin too long");
        memcpy(v->origin, nc.origin, nc.origin_len);
        v->origin[nc.origin_len] = '\0';
        v->have_origin = 1;
    } else if (nc.origin_len != strlen(v->origin) ||
        memcmp(nc.origin, v->origin, nc.origin_len) != 0) {
        return fail(v, 0, off, "checkpoint of %llu records: origin '%.*s' "
            "differs from the chain's '%s'", n, (int)nc.origin_len,
            nc.origin, v->origin);
    }
    merkle_root(&v->tree, root);
    if (sodium_memcmp(root, nc.root, SHA256_BYTES) != 0)
        return fail(v, c->size, off, "checkpoint of %llu records: its signed "
            "root is not the root of records 1..%llu (a record was altered, "
            "or the checkpoint belongs to another history: a fork)", n, n);
    return 0;
}

static int verify_checkpoint(vctx *v, const unsigned char *f, uint64_t off)
{
    unsigned char h[SHA256_BYTES], front[MERKLE_MAX_DEPTH * SHA256_BYTES];
    ckpt_frame c;
    const char *why = NULL;
    if (frame_verify(f, h) != 0)
        return fail(v, 0, off, "checkpoint after record %llu: its bytes do "
            "not match its check bytes", (unsigned long long)v->size);
    if (ckpt_parse(f + FRAME_HEAD, le32_get(f), &c, &why) != 0)
        return fail(v, 0, off, "checkpoint after record %llu: %s",
            (unsigned long long)v->size, why);
    if (c.size != v->size)
        return fail(v, v->size, off, "checkpoint of %llu records after "
            "record %llu", (unsigned long long)c.size,
            (unsigned long long)v->size);
    unsigned nf = merkle_frontier_export(&v->tree, front);
    if (memcmp(c.last, v->last, SHA256_BYTES) != 0 ||
        c.session != v->session || nf != c.nfrontier ||
        memcmp(front, c.frontier, (size_t)nf * SHA256_BYTES) != 0)
        return fail(v, v->size, off, "checkpoint of %llu records: its tree "
            "state (last hash, session, frontier) differs from the records'",
            (unsigned long long)c.size);
    if (verify_note(v, &c, off) != 0)
        return -1;
    v->rep->checkpoints++;
    v->ck_size = v->size;
    v->tail = 0;
    return v->nanchors ? check_anchors(v, off) : 0;
}

/* A pruned chain starts at a leading checkpoint: take its state. */
static int adopt_leading(vctx *v, const unsigned char *f, uint64_t off)
{
    unsigned char h[SHA256_BYTES];
    ckpt_frame c;
    const char *why = NULL;
    if (frame_verify(f, h) != 0 ||
        ckpt_parse(f + FRAME_HEAD, le32_get(f), &c, &why) != 0 ||
        merkle_frontier_import(&v->tree, c.size, c.frontier,
            c.nfrontier) != 0)
        return fail(v, 0, off, "the first segment's leading checkpoint is "
            "damaged");
    v->size = v->start = c.size;
    memcpy(v->last, c.last, SHA256_BYTES);
    v->session = c.session;
    if (verify_note(v, &c, off) != 0)
        return -1;
    v->rep->checkpoints++;
    v->ck_size = v->size;
    return 0;
}

/* ---- segments -------------------------------------------------------------- */

/*
 * A torn last frame passes under allow_tail only if a crash could have
 * left it: the bytes from `at` to the end may not hold a checkpoint of
 * the chain's origin signed by the key for a larger tree (a corrupted
 * length field would otherwise hide signed records as a "torn tail";
 * recovery refuses to cut such bytes, recover.c). Returns 0, or -1 with
 * the failure recorded.
 */
static int check_torn(vctx *v, int fd, uint64_t at, uint64_t fsize)
{
    uint64_t n = fsize - at;
    unsigned char *b, *p;
    size_t olen = strlen(v->origin);
    int res = 0;
    if (!v->have_origin || olen == 0)
        return 0;
    if (n > TORN_MAX)
        return fail(v, v->size + 1, at, "the file ends inside a frame "
            "(%llu bytes): too many for a torn tail",
            (unsigned long long)n);
    if ((b = malloc((size_t)n)) == NULL)
        return fail(v, v->size + 1, at, "out of memory");
    if (pread_all(fd, b, (size_t)n, (off_t)at) != 0) {
        free(b);
        return fail(v, v->size + 1, at, "reading: %s", strerror(errno));
    }
    for (p = b; res == 0 && (p = memmem(p, (size_t)(b + n - p), v->origin,
            olen)) != NULL; p++) {
        note_checkpoint nc;
        const char *why;
        const unsigned char *q = p;
        int nl = 0;
        while (q < b + n && nl < 5)    /* 3 body lines, blank, signature */
            if (*q++ == '\n')
                nl++;
        if (nl == 5 && note_open_checkpoint((const char *)p, (size_t)(q - p),
                v->key, 0, &nc, &why) == 0 && nc.size > v->size)
            res = fail(v, v->size + 1, at, "the file ends inside a frame, "
                "but a checkpoint signed by the key for %llu records "
                "follows: damage, not a torn tail",
                (unsigned long long)nc.size);
    }
    free(b);
    return res;
}

static int segment_frames(vctx *v, int fd, uint64_t fsize, int pruned_start,
    int is_last)
{
    frame_reader r;
    const unsigned char *f;
    size_t flen;
    uint64_t at;
    int rc, first = 1, res = 0;
    if (fr_init(&r, fd, fsize, SEG_HEADER) != 0)
        return fail(v, 0, 0, "out of memory");
    while ((rc = fr_next(&r, &f, &flen, &at)) == FR_FRAME) {
        if (first && f[4] != FRAME_CHECKPOINT) {
            res = fail(v, v->size + 1, at, "segment does not start with a "
                "checkpoint");
            break;
        }
        if (first && pruned_start)
            res = adopt_leading(v, f, at);
        else if (f[4] == FRAME_RECORD)
            res = verify_record(v, f, at);
        else
            res = verify_checkpoint(v, f, at);
        first = 0;
        if (res != 0)
            break;
    }
    fr_free(&r);
    if (res != 0)
        return -1;
    if (first && rc != FR_IO)
        return fail(v, v->size + 1, at, "segment has no frames");
    if (rc == FR_IO)
        return fail(v, v->size + 1, at, "reading: %s", strerror(errno));
    if (rc == FR_BAD)
        return fail(v, v->size + 1, at, "malformed frame (bad length or "
            "kind) after record %llu", (unsigned long long)v->size);
    if (rc == FR_TORN) {
        if (!is_last || !v->o->allow_tail)
            return fail(v, v->size + 1, at, "the file ends inside a frame "
                "(%llu bytes): truncated, or a crash not yet recovered",
                (unsigned long long)(fsize - at));
        if (check_torn(v, fd, at, fsize) != 0)
            return -1;
        v->rep->torn_bytes += fsize - at;
    }
    if (!is_last && v->tail > 0)
        return fail(v, v->size, at, "segment ends with %llu records not "
            "covered by a checkpoint", (unsigned long long)v->tail);
    return 0;
}

static int verify_segment(vctx *v, const seg_entry *s, uint64_t expect,
    int pruned_start, int is_last)
{
    unsigned char head[SEG_HEADER];
    struct stat st;
    uint64_t first;
    const char *why = NULL;
    int fd, rc;
    fd = open(v->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = fail(v, expect, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    if ((uint64_t)st.st_size < SEG_HEADER ||
        pread_all(fd, head, sizeof head, 0) != 0 ||
        seg_header_parse(head, sizeof head, &first, &why) != 0) {
        rc = fail(v, expect, 0, "%s", why ? why : "unreadable header");
        goto out;
    }
    if (first != s->first) {
        rc = fail(v, expect, 12, "header says the segment starts at record "
            "%llu, its name says %llu", (unsigned long long)first,
            (unsigned long long)s->first);
        goto out;
    }
    rc = segment_frames(v, fd, (uint64_t)st.st_size, pruned_start, is_last);
    v->rep->segments++;
out:
    if (fd >= 0)
        (void)close(fd);
    return rc;
}

static void reset_chain(vctx *v, const char *writer)
{
    v->writer = writer;
    v->size = v->start = v->ck_size = v->tail = 0;
    memset(v->last, 0, sizeof v->last);
    v->session = 0;
    merkle_init(&v->tree);
    v->have_origin = 0;
    v->origin[0] = '\0';
    v->last_type = 0;
}

/* The end of a chain: tail, anchors beyond it. */
static int finish_chain(vctx *v)
{
    if (v->tail > 0) {
        if (!v->o->allow_tail)
            return fail(v, v->ck_size + 1, 0, "records %llu..%llu are not "
                "covered by a signed checkpoint (a live writer, or a crash "
                "not yet recovered; see --allow-tail)",
                (unsigned long long)v->ck_size + 1,
                (unsigned long long)v->size);
        v->rep->tail_records += v->tail;
    }
    for (size_t i = 0; i < v->nanchors; i++) {
        anchor *a = &v->anchors[i];
        if (strcmp(a->origin, v->origin) != 0)
            continue;
        a->seen_origin = 1;
        if (a->size > v->size)
            return fail(v, v->size, 0, "truncated or rolled back: anchor "
                "%zu is a checkpoint of %llu records, this chain has %llu",
                i + 1, (unsigned long long)a->size,
                (unsigned long long)v->size);
        if (!a->matched && a->size < v->start)
            warn(v, "anchor %zu is older than the first segment kept", i + 1);
    }
    v->rep->records += v->ck_size - v->start;
    if (v->last_type != REC_CLOSE && v->tail == 0)
        warn(v, "writer '%s': the last session has no close record (still "
            "running, or it crashed)", v->writer);
    return 0;
}

static int verify_chain(vctx *v, const char *dir, const char *writer)
{
    char wdir[4096];
    seg_entry *segs = NULL;
    size_t n = 0, others = 0;
    uint64_t expect = 1;
    int rc = 0;
    reset_chain(v, writer);
    snprintf(wdir, sizeof wdir, "%s/%s", dir, writer);
    snprintf(v->path, sizeof v->path, "%s", wdir);
    if (scan_segments(wdir, &segs, &n, &others) != 0)
        return fail(v, 0, 0, "cannot list the writer directory: %s",
            strerror(errno));
    if (n == 0) {
        free(segs);
        return fail(v, 1, 0, "no segments");
    }
    if (others > 0)
        warn(v, "writer '%s': %zu unknown files in its directory", writer,
            others);
    v->rep->writers++;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int pruned = i == 0 && segs[0].first > 1;
        snprintf(v->path, sizeof v->path, "%s/%s", wdir, segs[i].name);
        if (pruned && !v->o->allow_pruned) {
            rc = fail(v, 1, 0, "records 1..%llu are missing: the chain "
                "starts at segment %s (pruned? see --allow-pruned)",
                (unsigned long long)segs[0].first - 1, segs[0].name);
            break;
        }
        if (!pruned && segs[i].first != expect) {
            rc = fail(v, expect, 0, segs[i].first > expect ?
                "records %llu..%llu are missing: a segment was removed" :
                "segment overlaps the one before it (records %llu..%llu)",
                (unsigned long long)(segs[i].first > expect ? expect :
                    segs[i].first),
                (unsigned long long)(segs[i].first > expect ?
                    segs[i].first - 1 : expect - 1));
            break;
        }
        rc = verify_segment(v, &segs[i], expect, pruned, i + 1 == n);
        expect = v->size + 1;
    }
    if (rc == 0)
        rc = finish_chain(v);
    free(segs);
    return rc;
}

/* Anchors whose origin no verified chain had. */
static int unmatched_anchors(vctx *v)
{
    for (size_t i = 0; i < v->nanchors; i++)
        if (!v->anchors[i].seen_origin) {
            v->writer = NULL;
            v->path[0] = '\0';
            return fail(v, 0, 0, "anchor %zu (origin '%s', %llu records): "
                "no writer here has that origin (a writer was removed, or "
                "the anchor is for another ledger)", i + 1,
                v->anchors[i].origin,
                (unsigned long long)v->anchors[i].size);
        }
    return 0;
}

static int verify_all(vctx *v, const char *dir, sluice_error *err)
{
    char **names = NULL;
    size_t n = 0;
    if (scan_writers(dir, &names, &n) != 0)
        return ledger_error(err, SLUICE_EIO, dir, "%s", strerror(errno));
    if (n == 0) {
        snprintf(v->path, sizeof v->path, "%s", dir);
        (void)fail(v, 0, 0, "no writer directories: not a ledger");
    }
    for (size_t i = 0; i < n; i++)
        if (verify_chain(v, dir, names[i]) != 0)
            break;
    names_free(names, n);
    if (v->rep->ok)
        (void)unmatched_anchors(v);
    return 0;
}

int sluice_ledger_verify(const char *dir, const sluice_verify_options *o,
    sluice_verify_report *rep, sluice_error *err)
{
    struct stat st;
    vctx v;
    int rc = 0;
    if (dir == NULL || o == NULL || rep == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_ledger_verify: dir, options and report are required");
    if (o->version != SLUICE_VERIFY_OPTIONS_VERSION)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_verify_options.version is %u, expected %u", o->version,
            SLUICE_VERIFY_OPTIONS_VERSION);
    if (o->key == NULL || o->key->kind == SLUICE_KEY_DIGEST)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "a public key (PREFIX.pub) is required");
    if (o->writer != NULL && !writer_valid(o->writer))
        return ledger_error(err, SLUICE_EINVAL, NULL, "bad writer id '%s'",
            o->writer);
    if (sodium_init() < 0)
        return ledger_error(err, SLUICE_EINTERNAL, NULL,
            "libsodium failed to initialize");
    if (stat(dir, &st) != 0)
        return ledger_error(err, SLUICE_EIO, dir, "%s", strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ledger_error(err, SLUICE_EIO, dir, "not a directory");
    memset(rep, 0, sizeof *rep);
    rep->ok = 1;
    memset(&v, 0, sizeof v);
    v.o = o;
    v.key = &o->key->nk;
    v.rep = rep;
    if (o->anchor != NULL && (rc = load_anchors(&v, o->anchor, err)) != 0)
        goto out;
    if (o->writer != NULL) {
        if (verify_chain(&v, dir, o->writer) == 0) {
            for (size_t i = 0; i < v.nanchors; i++)
                v.anchors[i].seen_origin = 1;   /* others' anchors */
        }
    } else {
        rc = verify_all(&v, dir, err);
    }
out:
    free(v.anchors);
    return rc;
}
