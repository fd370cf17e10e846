/*
 * ledger.c - sluice_ledger: one writer's signed, append-only chain of
 * decision records (format and guarantees: docs/ledger.md).
 *
 * Design. A record is encoded by the appending thread outside the lock
 * (strings, the keyed digest of the text: the expensive parts); under the
 * lock the writer only seals it (session, sequence number, time, previous
 * hash, then SHA-256 for the leaf hash and check bytes), write(2)s it in
 * one call to the segment file, and adds the leaf to the Merkle frontier
 * (one node hash on average). Every N records or T ms a checkpoint is
 * signed (Ed25519, a few tens of microseconds, still under the lock) and
 * written as a frame right after the record it covers; then the segment
 * is fdatasync'ed *outside* the lock by one thread (`syncing`), so appends
 * go on while the disk works.
 *
 * Group commit. In durable mode an append waits until `synced` covers its
 * record. The first waiter that finds no sync running becomes the syncer:
 * it writes a checkpoint covering every record so far (its own and those
 * of the threads queued behind it), syncs, advances `synced` and wakes
 * everyone. One fdatasync serves every append that arrived meanwhile.
 *
 * Batched mode: the checkpoint thread (or, without it, the appender that
 * wrote the checkpoint) syncs; the thread also writes a checkpoint when
 * T ms have passed since the last one and records are waiting, so the
 * loss bound of a machine crash holds in quiet periods too.
 *
 * Failures. A failed write is cut back (ftruncate to the last whole frame)
 * so the file never keeps a partial frame, and the append fails; the next
 * append tries again. A failed fdatasync cannot be retried safely (the
 * kernel may have dropped the dirty pages), so it marks the ledger failed:
 * every later append fails until it is reopened (which re-reads the file).
 *
 * Invariants (under mu): tree.size == size; last is the leaf hash of
 * record `size` (zeros if 0); ck_size <= size; synced <= ck_size; the
 * segment file ends with a whole frame; closing => no more appends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filter/verdict.h"
#include "ledger/key.h"
#include "ledger/ledger.h"
#include "ledger/util.h"
#include "ledger/writer.h"

#define DEFAULT_CK_RECORDS 1000u
#define DEFAULT_CK_MS 10u
#define DEFAULT_SEG_BYTES ((uint64_t)64 << 20)
#define MS 1000000LL

/* ---- failures ------------------------------------------------------------ */

/* Remember why the last append failed (for the gap record). */
static void set_lasterr(sluice_ledger *l, const char *what, int e)
{
    snprintf(l->failmsg, sizeof l->failmsg, "%s: %s", what,
        e ? strerror(e) : "failed");
}

/* ---- the tail of the segment --------------------------------------------- */

/* Append bytes to the segment; on failure cut the file back. */
static int tail_write(sluice_ledger *l, const unsigned char *p, size_t n)
{
    if (write_all(l->segfd, p, n) == 0) {
        l->seg_size += n;
        return 0;
    }
    int e = errno;
    set_lasterr(l, "writing the ledger", e);
    if (ftruncate(l->segfd, (off_t)l->seg_size) != 0) {
        /* a partial frame stays: nothing more may follow it */
        l->failed = 1;
        set_lasterr(l, "cutting a partial write", errno);
    }
    return SLUICE_EIO;
}

/* Seal and write one record frame; update the chain. */
static int append_locked(sluice_ledger *l, unsigned char *frame, size_t flen,
    uint64_t *seq, unsigned char hash[SHA256_BYTES])
{
    unsigned char leaf[SHA256_BYTES];
    int rc;
    if (l->closed) {
        set_lasterr(l, "the ledger is closed", 0);
        return SLUICE_EMISUSE;
    }
    if (l->failed)
        return SLUICE_EIO;
    frame_seal_record(frame, l->session, l->size + 1, clock_real_ns(),
        l->last, leaf);
    if ((rc = tail_write(l, frame, flen)) != 0)
        return rc;
    l->size++;
    memcpy(l->last, leaf, SHA256_BYTES);
    merkle_append(&l->tree, leaf);
    if (seq != NULL)
        *seq = l->size;
    if (hash != NULL)
        memcpy(hash, leaf, SHA256_BYTES);
    return 0;
}

/* Write the pending gap record, if decisions went unrecorded. */
static int flush_gap_locked(sluice_ledger *l)
{
    lbuf b = {0};
    int rc;
    if (l->gap_released == 0 && l->gap_blocked == 0)
        return 0;
    rec_gap_in g = {l->gap_released, l->gap_blocked, l->gap_first,
        l->gap_last, l->gap_err};
    (void)rec_encode_gap(&b, l->writer, &g);
    rc = b.oom ? SLUICE_ENOMEM : append_locked(l, b.p, b.len, NULL, NULL);
    if (rc == 0)
        l->gap_released = l->gap_blocked = 0;
    lbuf_free(&b);
    return rc;
}

/* ---- checkpoints ----------------------------------------------------------- */

int ledger_make_checkpoint(sluice_ledger *l, lbuf *frame, lbuf *note_out)
{
    unsigned char root[SHA256_BYTES];
    unsigned char front[MERKLE_MAX_DEPTH * SHA256_BYTES];
    lbuf body = {0}, note = {0};
    int rc = -1;
    merkle_root(&l->tree, root);
    note_checkpoint_body(&body, l->origin, l->size, root);
    if (body.oom || note_sign(&note, (const char *)body.p, body.len,
            &l->key) != 0)
        goto out;
    unsigned nf = merkle_frontier_export(&l->tree, front);
    frame->len = 0;
    (void)ckpt_encode(frame, l->size, l->last, l->session, front, nf,
        (const char *)note.p, note.len);
    if (note_out != NULL)
        lbuf_put(note_out, note.p, note.len);
    rc = frame->oom || (note_out != NULL && note_out->oom) ? -1 : 0;
out:
    lbuf_free(&body);
    lbuf_free(&note);
    return rc;
}

/* Sign a checkpoint of everything so far and write it. */
static int write_checkpoint_locked(sluice_ledger *l)
{
    lbuf f = {0};
    int rc;
    if (ledger_make_checkpoint(l, &f, NULL) != 0) {
        lbuf_free(&f);
        set_lasterr(l, "signing a checkpoint", ENOMEM);
        l->ck_mono = clock_mono_ns();     /* retry after one interval */
        return SLUICE_ENOMEM;
    }
    if ((rc = tail_write(l, f.p, f.len)) != 0) {
        lbuf_free(&f);
        l->ck_mono = clock_mono_ns();     /* retry after one interval */
        return rc;
    }
    lbuf_free(&l->ck_frame);
    l->ck_frame = f;
    l->ck_size = l->size;
    l->ck_mono = clock_mono_ns();
    l->nck++;
    return 0;
}

/*
 * Start a new segment after the checkpoint that ends the current one.
 * Precondition: nobody is syncing. A failure leaves the old segment in use
 * (it only grows past its size) unless the old one could not be synced.
 */
static void rotate_locked(sluice_ledger *l)
{
    int fd;
    if (l->ck_size != l->size && write_checkpoint_locked(l) != 0)
        return;
    if (fdatasync(l->segfd) != 0) {
        l->failed = 1;
        set_lasterr(l, "syncing the segment", errno);
        return;
    }
    l->nsync++;
    l->synced = l->ck_size;
    fd = segment_create(l, l->size + 1, l->ck_frame.p, l->ck_frame.len);
    if (fd < 0) {
        set_lasterr(l, "creating a segment", errno);
        return;
    }
    if (close(l->segfd) != 0)
        set_lasterr(l, "closing a segment", errno);
    l->segfd = fd;
    l->seg_first = l->size + 1;
    l->seg_size = SEG_HEADER + l->ck_frame.len;
    l->seg_born = clock_mono_ns();
}

static int rotation_due(const sluice_ledger *l)
{
    return l->seg_size >= l->seg_bytes ||
        (l->seg_ns > 0 && clock_mono_ns() - l->seg_born >= l->seg_ns);
}

/* A checkpoint, then a new segment if this one is full or old enough. */
static int checkpoint_locked(sluice_ledger *l)
{
    int rc = write_checkpoint_locked(l);
    if (rc == 0 && rotation_due(l)) {
        if (l->syncing)
            l->rotate_pending = 1;
        else
            rotate_locked(l);
    }
    return rc;
}

/* The note inside the last checkpoint frame (for the callback). */
static int copy_note(const sluice_ledger *l, lbuf *out)
{
    ckpt_frame c;
    const char *why;
    const unsigned char *f = l->ck_frame.p;
    if (f == NULL || ckpt_parse(f + FRAME_HEAD, le32_get(f), &c, &why) != 0)
        return -1;
    lbuf_put(out, c.note, c.note_len);
    lbuf_u8(out, 0);
    return out->oom ? -1 : 0;
}

/*
 * fdatasync the segment outside the lock, then publish what it covered.
 * Precondition: mu held, !syncing. Returns with mu held.
 */
static void sync_locked(sluice_ledger *l)
{
    uint64_t target = l->ck_size;
    int fd = l->segfd, rc, e;
    lbuf note = {0};
    int have_note = l->on_ck != NULL && copy_note(l, &note) == 0;

    l->syncing = 1;
    (void)pthread_mutex_unlock(&l->mu);
    rc = fdatasync(fd);
    e = errno;
    (void)pthread_mutex_lock(&l->mu);
    l->syncing = 0;
    l->nsync++;
    if (rc != 0) {
        l->failed = 1;
        set_lasterr(l, "syncing the ledger", e);
    } else if (target > l->synced) {
        l->synced = target;
    }
    (void)pthread_cond_broadcast(&l->synced_cv);
    if (l->rotate_pending && !l->failed && !l->closing && !l->closed) {
        l->rotate_pending = 0;
        rotate_locked(l);
    }
    if (rc == 0 && have_note) {
        (void)pthread_mutex_unlock(&l->mu);
        l->on_ck(l->writer, (const char *)note.p, note.len - 1, l->payload);
        (void)pthread_mutex_lock(&l->mu);
    }
    lbuf_free(&note);
}

/* Wait until a synced checkpoint covers record `seq` (group commit). */
static int wait_synced_locked(sluice_ledger *l, uint64_t seq)
{
    while (l->synced < seq) {
        if (l->failed)
            return SLUICE_EIO;
        if (l->syncing) {
            (void)pthread_cond_wait(&l->synced_cv, &l->mu);
            continue;
        }
        if (l->closed)
            return SLUICE_EIO;
        int rc;
        if (l->ck_size < seq && (rc = checkpoint_locked(l)) != 0)
            return rc;
        if (l->synced < seq)        /* a rotation may have synced it */
            sync_locked(l);
    }
    return 0;
}

/* ---- appends ---------------------------------------------------------------- */

int ledger_append_frame(sluice_ledger *l, unsigned char *frame, size_t flen,
    uint64_t *seq, unsigned char hash[32])
{
    uint64_t s = 0;
    int rc;
    (void)pthread_mutex_lock(&l->mu);
    if (l->closing) {
        set_lasterr(l, "the ledger is closed", 0);
        rc = SLUICE_EMISUSE;
        goto out;
    }
    rc = flush_gap_locked(l);
    if (rc == 0)
        rc = append_locked(l, frame, flen, &s, hash);
    if (rc != 0)
        goto out;
    if (l->mode == SLUICE_LEDGER_DURABLE) {
        rc = wait_synced_locked(l, s);
    } else if (l->size - l->ck_size >= l->ck_records ||
        clock_mono_ns() - l->ck_mono >= l->ck_ns) {
        /* the record is written: a checkpoint failing now is retried
           later and does not fail this append */
        if (checkpoint_locked(l) == 0) {
            if (l->have_thread)
                (void)pthread_cond_signal(&l->tick_cv);
            else if (!l->syncing)
                sync_locked(l);
        }
    } else if (l->have_thread && l->size == l->ck_size + 1) {
        (void)pthread_cond_signal(&l->tick_cv);   /* start the T ms clock */
    }
out:
    (void)pthread_mutex_unlock(&l->mu);
    if (seq != NULL)
        *seq = rc == 0 ? s : 0;
    return rc;
}

int ledger_append_verdict(sluice_ledger *l, const sluice_verdict *v,
    const sluice_meta *meta, const char *text, size_t len, uint64_t *seq,
    unsigned char hash[32])
{
    unsigned char dg[32];
    if (text != NULL)
        key_digest(l->dkey, text, len, dg);
    return ledger_append_verdict_digest(l, v, meta, text ? dg : NULL, seq,
        hash);
}

void ledger_digest_start(const sluice_ledger *l,
    crypto_generichash_blake2b_state *st)
{
    /* the same keyed, personalised BLAKE2b as key_digest(), in pieces */
    (void)crypto_generichash_blake2b_init_salt_personal(st, l->dkey,
        DIGEST_KEY_BYTES, 32, NULL, (const unsigned char *)DIGEST_PERSONAL);
}

int ledger_append_verdict_digest(sluice_ledger *l, const sluice_verdict *v,
    const sluice_meta *meta, const unsigned char *dg, uint64_t *seq,
    unsigned char hash[32])
{
    lbuf b = {0};
    int rc;
    const sluice_policy *p = v->policy;
    rec_verdict_in in = {
        (int)v->action, v->reason, p ? sluice_policy_id(p) : NULL,
        p ? sluice_policy_version(p) : 0, p ? sluice_policy_hash(p) : NULL,
        p ? sluice_policy_signed(p) : 0, dg, l->did,
        (const char *const *)v->rules, v->nrules,
        (const char *const *)v->cats, v->ncats, meta,
        v->has_state && v->state.cache == SLUICE_CACHE_HIT,
        v->has_state && v->state.suspended,
    };
    (void)rec_encode_verdict(&b, l->writer, &in);
    rc = b.oom ? SLUICE_ENOMEM : ledger_append_frame(l, b.p, b.len, seq,
        hash);
    lbuf_free(&b);
    return rc;
}

void ledger_note_unrecorded(sluice_ledger *l, int released)
{
    int64_t now = clock_real_ns();
    (void)pthread_mutex_lock(&l->mu);
    if (l->gap_released == 0 && l->gap_blocked == 0)
        l->gap_first = now;
    l->gap_last = now;
    if (released)
        l->gap_released++;
    else
        l->gap_blocked++;
    snprintf(l->gap_err, sizeof l->gap_err, "%s",
        l->failmsg[0] ? l->failmsg : "unknown");
    (void)pthread_mutex_unlock(&l->mu);
}

/* ---- the checkpoint thread ----------------------------------------------- */

static void wait_until(sluice_ledger *l, int64_t mono_ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(mono_ns / 1000000000);
    ts.tv_nsec = (long)(mono_ns % 1000000000);
    (void)pthread_cond_timedwait(&l->tick_cv, &l->mu, &ts);
}

static void *checkpoint_thread(void *arg)
{
    sluice_ledger *l = arg;
    (void)pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        int64_t now = clock_mono_ns(), due = l->ck_mono + l->ck_ns;
        if (l->failed || l->closed) {
            (void)pthread_cond_wait(&l->tick_cv, &l->mu);
            continue;
        }
        if (l->size > l->ck_size && now >= due) {
            (void)checkpoint_locked(l);
            continue;
        }
        if (l->synced < l->ck_size && !l->syncing) {
            sync_locked(l);
            continue;
        }
        if (l->size > l->ck_size)
            wait_until(l, due);
        else
            (void)pthread_cond_wait(&l->tick_cv, &l->mu);
    }
    (void)pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void stop_thread(sluice_ledger *l)
{
    if (!l->have_thread)
        return;
    (void)pthread_mutex_lock(&l->mu);
    l->stop = 1;
    (void)pthread_cond_broadcast(&l->tick_cv);
    (void)pthread_mutex_unlock(&l->mu);
    (void)pthread_join(l->thread, NULL);
    l->have_thread = 0;
}

/* ---- open ------------------------------------------------------------------ */

static int check_options(const sluice_ledger_options *o, sluice_error *err)
{
    if (o->version != SLUICE_LEDGER_OPTIONS_VERSION)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_ledger_options.version is %u, expected %u", o->version,
            SLUICE_LEDGER_OPTIONS_VERSION);
    if (o->dir == NULL || o->dir[0] == '\0' || strlen(o->dir) > 3800)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "a ledger directory is required");
    if (o->signer == NULL || o->signer->kind != SLUICE_KEY_SIGNER)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "a signing key (PREFIX.key) is required");
    if (o->digest_key != NULL && o->digest_key->kind == SLUICE_KEY_VERIFIER)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "the digest key must be a digest or signing key, not a public "
            "key");
    if (o->writer != NULL && !writer_valid(o->writer))
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "bad writer id '%s': 1 to 64 of A-Z a-z 0-9 . _ -, not "
            "starting with '.'", o->writer);
    if (o->mode != SLUICE_LEDGER_BATCHED && o->mode != SLUICE_LEDGER_DURABLE)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "unknown durability mode %d", (int)o->mode);
    if (o->origin != NULL && (o->origin[0] == '\0' ||
            strlen(o->origin) > ORIGIN_MAX || strchr(o->origin, '\n') ||
            strchr(o->origin, '\r')))
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "bad origin: one line of 1 to %d bytes", ORIGIN_MAX);
    return 0;
}

static int configure(sluice_ledger *l, const sluice_ledger_options *o)
{
    const sluice_key *dk = o->digest_key ? o->digest_key : o->signer;
    snprintf(l->writer, sizeof l->writer, "%s",
        o->writer ? o->writer : "default");
    l->key = o->signer->nk;
    memcpy(l->dkey, dk->dkey, sizeof l->dkey);
    l->did = dk->did;
    if (o->origin != NULL)
        snprintf(l->origin, sizeof l->origin, "%s", o->origin);
    else
        snprintf(l->origin, sizeof l->origin, "sluice/%s/%s", l->key.name,
            l->writer);
    l->mode = o->mode;
    l->ck_records = o->checkpoint_records ? o->checkpoint_records :
        DEFAULT_CK_RECORDS;
    l->ck_ns = (int64_t)(o->checkpoint_ms ? o->checkpoint_ms :
        DEFAULT_CK_MS) * MS;
    l->seg_bytes = o->segment_bytes ? o->segment_bytes : DEFAULT_SEG_BYTES;
    l->seg_ns = (int64_t)o->segment_seconds * 1000 * MS;
    l->on_ck = o->on_checkpoint;
    l->payload = o->payload;
    size_t n = strlen(o->dir) + 1 + strlen(l->writer) + 1;
    if ((l->wdir = malloc(n)) == NULL)
        return -1;
    snprintf(l->wdir, n, "%s/%s", o->dir, l->writer);
    return 0;
}

static int init_sync(sluice_ledger *l)
{
    pthread_condattr_t ca;
    int ok;
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        return -1;
    if (pthread_condattr_init(&ca) != 0)
        goto mutex;
    ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
        pthread_cond_init(&l->tick_cv, &ca) == 0;
    (void)pthread_condattr_destroy(&ca);
    if (!ok)
        goto mutex;
    if (pthread_cond_init(&l->synced_cv, NULL) != 0) {
        (void)pthread_cond_destroy(&l->tick_cv);
        goto mutex;
    }
    return 0;
mutex:
    (void)pthread_mutex_destroy(&l->mu);
    return -1;
}

/* mkdir that tolerates an existing directory. */
static int make_dir(const char *path)
{
    struct stat st;
    if (mkdir(path, 0750) == 0)
        return 0;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return -1;
}

/* Sync DIR, so that a writer directory just created in it persists. */
static int sync_parent(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;
    if (fd < 0)
        return -1;
    rc = fsync_dirfd(fd);
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* Create DIR and DIR/<writer>, open the latter, take its lock. */
static int open_dirs(sluice_ledger *l, const char *dir, sluice_error *err)
{
    if (make_dir(dir) != 0)
        return ledger_error(err, SLUICE_EIO, dir, "%s", strerror(errno));
    if (make_dir(l->wdir) != 0 || sync_parent(dir) != 0)
        return ledger_error(err, SLUICE_EIO, l->wdir, "%s", strerror(errno));
    l->dirfd = open(l->wdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->dirfd < 0)
        return ledger_error(err, SLUICE_EIO, l->wdir, "%s", strerror(errno));
    l->lockfd = openat(l->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (l->lockfd < 0)
        return ledger_error(err, SLUICE_EIO, l->wdir, "lock file: %s",
            strerror(errno));
    if (flock(l->lockfd, LOCK_EX | LOCK_NB) != 0)
        return ledger_error(err, SLUICE_EIO, l->wdir, errno == EWOULDBLOCK ?
            "writer '%s' is in use by another process (one process per "
            "writer id)" : "locking writer '%s' failed", l->writer);
    return 0;
}

/* The records every open writes: open, recovery; then a synced checkpoint. */
static int start_session(sluice_ledger *l, sluice_error *err)
{
    lbuf b = {0};
    char host[256] = "";
    int rc;
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    rec_open_in oi = {(int)l->mode, l->ck_records,
        (uint32_t)(l->ck_ns / MS), host, (uint32_t)getpid()};
    (void)pthread_mutex_lock(&l->mu);
    l->session++;
    (void)rec_encode_open(&b, l->writer, &oi);
    rc = b.oom ? SLUICE_ENOMEM : append_locked(l, b.p, b.len, NULL, NULL);
    if (rc == 0 && (l->crashed || l->recovered > 0)) {
        b.len = 0;
        (void)rec_encode_recovery(&b, l->writer, l->recovered,
            l->kept_unsigned, l->cut_seg, l->cut_saved);
        rc = b.oom ? SLUICE_ENOMEM : append_locked(l, b.p, b.len, NULL, NULL);
    }
    if (rc == 0)
        rc = checkpoint_locked(l);
    if (rc == 0)
        rc = wait_synced_locked(l, l->size);
    if (rc != 0)
        ledger_error(err, rc, l->wdir, "starting a session: %s",
            l->failmsg[0] ? l->failmsg : sluice_strerror(rc));
    (void)pthread_mutex_unlock(&l->mu);
    lbuf_free(&b);
    return rc;
}

static void destroy(sluice_ledger *l)
{
    if (l->segfd >= 0)
        (void)close(l->segfd);
    if (l->lockfd >= 0)
        (void)close(l->lockfd);
    if (l->dirfd >= 0)
        (void)close(l->dirfd);
    (void)pthread_cond_destroy(&l->synced_cv);
    (void)pthread_cond_destroy(&l->tick_cv);
    (void)pthread_mutex_destroy(&l->mu);
    free(l->wdir);
    lbuf_free(&l->ck_frame);
    sodium_memzero(l, sizeof *l);   /* the signing and digest keys */
    free(l);
}

int sluice_ledger_open(sluice_ledger **out, const sluice_ledger_options *o,
    sluice_error *err)
{
    sluice_ledger *l;
    int rc;
    if (out == NULL || o == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_ledger_open: out and options are required");
    *out = NULL;
    if ((rc = check_options(o, err)) != 0)
        return rc;
    if (sodium_init() < 0)
        return ledger_error(err, SLUICE_EINTERNAL, NULL,
            "libsodium failed to initialize");
    if ((l = calloc(1, sizeof *l)) == NULL)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    l->dirfd = l->lockfd = l->segfd = -1;
    if (init_sync(l) != 0) {
        sodium_memzero(l, sizeof *l);
        free(l);
        return ledger_error(err, SLUICE_EINTERNAL, NULL,
            "mutex or condition init failed");
    }
    if (configure(l, o) != 0) {
        rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
        goto fail;
    }
    if ((rc = open_dirs(l, o->dir, err)) != 0 ||
        (rc = recover_chain(l, err)) != 0 ||
        (rc = start_session(l, err)) != 0)
        goto fail;
    if (!o->no_thread) {
        if (pthread_create(&l->thread, NULL, checkpoint_thread, l) != 0) {
            rc = ledger_error(err, SLUICE_EINTERNAL, NULL,
                "cannot start the checkpoint thread");
            goto fail;
        }
        l->have_thread = 1;
    }
    *out = l;
    return 0;
fail:
    destroy(l);
    return rc;
}

/* ---- sync, close, free ------------------------------------------------------ */

int sluice_ledger_sync(sluice_ledger *l, sluice_error *err)
{
    int rc = 0;
    if (l == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL, "no ledger");
    (void)pthread_mutex_lock(&l->mu);
    if (l->closing)
        rc = SLUICE_EMISUSE;
    else if (l->failed)
        rc = SLUICE_EIO;
    else if (l->ck_size < l->size)
        rc = checkpoint_locked(l);
    if (rc == 0)
        rc = wait_synced_locked(l, l->size);
    if (rc != 0)
        ledger_error(err, rc, l->wdir, "%s", rc == SLUICE_EMISUSE ?
            "the ledger is closed" : l->failmsg);
    (void)pthread_mutex_unlock(&l->mu);
    return rc;
}

/* The last records of a session: gap (if any), close, checkpoint, sync. */
static int finish_locked(sluice_ledger *l)
{
    lbuf b = {0};
    int rc;
    if (l->failed)
        return SLUICE_EIO;
    if ((rc = flush_gap_locked(l)) != 0)
        return rc;
    (void)rec_encode_close(&b, l->writer);
    rc = b.oom ? SLUICE_ENOMEM : append_locked(l, b.p, b.len, NULL, NULL);
    lbuf_free(&b);
    if (rc == 0)
        rc = write_checkpoint_locked(l);
    if (rc == 0)
        sync_locked(l);
    return rc != 0 ? rc : l->failed ? SLUICE_EIO : 0;
}

static int close_ledger(sluice_ledger *l, sluice_error *err)
{
    int rc;
    stop_thread(l);
    (void)pthread_mutex_lock(&l->mu);
    if (l->closed) {
        (void)pthread_mutex_unlock(&l->mu);
        return 0;
    }
    l->closing = 1;      /* appends now fail; the close record is last */
    while (l->syncing)
        (void)pthread_cond_wait(&l->synced_cv, &l->mu);
    rc = finish_locked(l);
    l->closed = 1;
    if (close(l->segfd) != 0 && rc == 0) {
        set_lasterr(l, "closing the segment", errno);
        rc = SLUICE_EIO;
    }
    l->segfd = -1;
    if (close(l->lockfd) != 0 && rc == 0) {
        set_lasterr(l, "closing the lock file", errno);
        rc = SLUICE_EIO;
    }
    l->lockfd = -1;
    (void)pthread_cond_broadcast(&l->synced_cv);
    if (rc != 0)
        ledger_error(err, rc, l->wdir, "closing the ledger: %s",
            l->failmsg[0] ? l->failmsg : sluice_strerror(rc));
    (void)pthread_mutex_unlock(&l->mu);
    return rc;
}

int sluice_ledger_close(sluice_ledger *l, sluice_error *err)
{
    if (l == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL, "no ledger");
    return close_ledger(l, err);
}

void sluice_ledger_free(sluice_ledger *l)
{
    if (l == NULL)
        return;
    if (!l->closed)
        (void)close_ledger(l, NULL);   /* best effort: nobody to tell */
    destroy(l);
}

void sluice_ledger_get_stats(sluice_ledger *l, sluice_ledger_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (l == NULL)
        return;
    (void)pthread_mutex_lock(&l->mu);
    out->records = l->size;
    out->synced = l->synced;
    out->checkpoints = l->nck;
    out->syncs = l->nsync;
    out->session = l->session;
    out->recovered_bytes = l->recovered;
    out->unrecorded = l->gap_released + l->gap_blocked;
    out->failed = l->failed;
    (void)pthread_mutex_unlock(&l->mu);
}
