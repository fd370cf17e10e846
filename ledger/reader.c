/*
 * reader.c - walking a writer's chain (sluice_ledger_foreach, the latest
 * checkpoint, the input of prove) and printing records as JSON.
 *
 * Reading does not need the key and does not verify signatures or links
 * (sluice_ledger_verify does); it does check every frame's check bytes, so
 * a damaged frame is reported, not decoded into something it is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/reader.h"
#include "ledger/record.h"
#include "ledger/scan.h"
#include "ledger/util.h"

int chain_writer(const char *dir, const char *writer, const char **out,
    char **owned, sluice_error *err)
{
    char **names = NULL;
    size_t n = 0;
    *owned = NULL;
    if (writer != NULL) {
        if (!writer_valid(writer))
            return ledger_error(err, SLUICE_EINVAL, NULL,
                "bad writer id '%s'", writer);
        *out = writer;
        return 0;
    }
    if (scan_writers(dir, &names, &n) != 0)
        return ledger_error(err, SLUICE_EIO, dir, "%s", strerror(errno));
    if (n != 1) {
        int rc = ledger_error(err, SLUICE_EINVAL, dir, n == 0 ?
            "no writers: not a ledger directory" :
            "%zu writers (%s, %s%s): name one", n, names[0], names[1],
            n > 2 ? ", ..." : "");
        names_free(names, n);
        return rc;
    }
    *owned = names[0];
    free(names);
    *out = *owned;
    return 0;
}

/* The frames of one segment, in order. */
static int walk_segment(const char *path, chain_fn fn, void *arg,
    int is_last, sluice_error *err)
{
    frame_reader r;
    const unsigned char *f;
    unsigned char head[SEG_HEADER], h[SHA256_BYTES];
    struct stat st;
    size_t flen;
    uint64_t at, first;
    const char *why = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0, res;
    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size < SEG_HEADER
        || pread_all(fd, head, sizeof head, 0) != 0 ||
        seg_header_parse(head, sizeof head, &first, &why) != 0) {
        rc = ledger_error(err, SLUICE_EIO, path, "%s",
            why ? why : fd < 0 ? strerror(errno) : "unreadable header");
        goto out;
    }
    if (fr_init(&r, fd, (uint64_t)st.st_size, SEG_HEADER) != 0) {
        rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
        goto out;
    }
    while ((res = fr_next(&r, &f, &flen, &at)) == FR_FRAME) {
        if (frame_verify(f, h) != 0) {
            res = FR_BAD;
            break;
        }
        if ((rc = fn(f, flen, arg)) != 0)
            break;
    }
    fr_free(&r);
    if (rc == 0 && (res == FR_BAD || res == FR_IO ||
            (res == FR_TORN && !is_last)))
        rc = ledger_error(err, SLUICE_EIO, path, "damaged frame at offset "
            "%llu; run 'sluice ledger verify'", (unsigned long long)at);
out:
    if (fd >= 0)
        (void)close(fd);
    return rc;
}

int chain_walk(const char *dir, const char *writer, int last_only,
    chain_fn fn, void *arg, sluice_error *err)
{
    char path[4200];
    seg_entry *segs = NULL;
    size_t n = 0, others = 0;
    int rc = 0;
    snprintf(path, sizeof path, "%s/%s", dir, writer);
    if (scan_segments(path, &segs, &n, &others) != 0)
        return ledger_error(err, SLUICE_EIO, path, "%s", strerror(errno));
    for (size_t i = last_only && n > 0 ? n - 1 : 0; i < n && rc == 0; i++) {
        snprintf(path, sizeof path, "%s/%s/%s", dir, writer, segs[i].name);
        rc = walk_segment(path, fn, arg, i + 1 == n, err);
    }
    free(segs);
    return rc;
}

/* ---- foreach --------------------------------------------------------------- */

typedef struct each_ctx {
    sluice_record_fn fn;
    void *payload;
    lbuf arena;
    int bad;
} each_ctx;

static int each_frame(const unsigned char *f, size_t flen, void *arg)
{
    each_ctx *c = arg;
    sluice_record r;
    unsigned char h[SHA256_BYTES];
    int rc;
    (void)flen;
    if (f[4] != FRAME_RECORD)
        return 0;
    ledger_sha256(h, f + 4, 1 + (size_t)le32_get(f));
    rc = rec_decode(f + FRAME_HEAD, le32_get(f), h, &r, &c->arena);
    if (rc != 0) {
        c->bad = rc;
        return rc;
    }
    return c->fn(&r, c->payload);
}

static int foreach_writer(const char *dir, const char *w, each_ctx *c,
    sluice_error *err)
{
    int rc = chain_walk(dir, w, 0, each_frame, c, err);
    if (c->bad != 0 && rc == c->bad) {
        rc = ledger_error(err, c->bad, dir, c->bad == SLUICE_ENOMEM ?
            "out of memory" : "writer '%s': a record is not in canonical "
            "form; run 'sluice ledger verify'", w);
        c->bad = 0;
    }
    return rc;
}

int sluice_ledger_foreach(const char *dir, const char *writer,
    sluice_record_fn fn, void *payload, sluice_error *err)
{
    each_ctx c = {fn, payload, {0}, 0};
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    if (dir == NULL || fn == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_ledger_foreach: dir and fn are required");
    if (writer != NULL) {
        rc = writer_valid(writer) ? foreach_writer(dir, writer, &c, err) :
            ledger_error(err, SLUICE_EINVAL, NULL, "bad writer id '%s'",
                writer);
    } else if (scan_writers(dir, &names, &n) != 0) {
        rc = ledger_error(err, SLUICE_EIO, dir, "%s", strerror(errno));
    } else {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = foreach_writer(dir, names[i], &c, err);
        names_free(names, n);
    }
    lbuf_free(&c.arena);
    return rc;
}

/* ---- the latest checkpoint --------------------------------------------------- */

static int last_ck_frame(const unsigned char *f, size_t flen, void *arg)
{
    lbuf *b = arg;
    if (f[4] != FRAME_CHECKPOINT)
        return 0;
    b->len = 0;
    lbuf_put(b, f, flen);
    return b->oom ? SLUICE_ENOMEM : 0;
}

int sluice_ledger_checkpoint(const char *dir, const char *writer, char **out,
    size_t *len, sluice_error *err)
{
    lbuf b = {0};
    const char *w = NULL, *why = NULL;
    char *owned = NULL;
    ckpt_frame c;
    int rc;
    if (dir == NULL || out == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_ledger_checkpoint: dir and out are required");
    *out = NULL;
    if ((rc = chain_writer(dir, writer, &w, &owned, err)) != 0)
        return rc;
    rc = chain_walk(dir, w, 1, last_ck_frame, &b, err);
    if (rc == 0 && b.len == 0)
        rc = ledger_error(err, SLUICE_EINVAL, dir, "writer '%s' has no "
            "checkpoint", w);
    if (rc == 0 && ckpt_parse(b.p + FRAME_HEAD, le32_get(b.p), &c, &why) != 0)
        rc = ledger_error(err, SLUICE_EIO, dir, "%s", why);
    if (rc == 0) {
        if ((*out = malloc(c.note_len + 1)) == NULL) {
            rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
        } else {
            memcpy(*out, c.note, c.note_len);
            (*out)[c.note_len] = '\0';
            if (len != NULL)
                *len = c.note_len;
        }
    }
    free(owned);
    lbuf_free(&b);
    return rc;
}

/* ---- JSON ------------------------------------------------------------------ */

static const char *type_name(sluice_record_type t)
{
    switch (t) {
    case SLUICE_RECORD_OPEN: return "open";
    case SLUICE_RECORD_VERDICT: return "verdict";
    case SLUICE_RECORD_RECOVERY: return "recovery";
    case SLUICE_RECORD_GAP: return "gap";
    case SLUICE_RECORD_CLOSE: return "close";
    }
    return "?";
}

static void kv_str(lbuf *b, const char *k, const char *v, int always)
{
    if (!always && v[0] == '\0')
        return;
    lbuf_str(b, ",\"");
    lbuf_str(b, k);
    lbuf_str(b, "\":");
    json_cstr(b, v);
}

static void kv_u64(lbuf *b, const char *k, uint64_t v)
{
    lbuf_str(b, ",\"");
    lbuf_str(b, k);
    lbuf_str(b, "\":");
    json_u64(b, v);
}

static void kv_time(lbuf *b, const char *k, int64_t ns)
{
    char t[64];
    format_time(t, sizeof t, ns);
    kv_str(b, k, t, 1);
}

static void kv_list(lbuf *b, const char *k, const char *const *v, size_t n)
{
    lbuf_str(b, ",\"");
    lbuf_str(b, k);
    lbuf_str(b, "\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            lbuf_u8(b, ',');
        json_cstr(b, v[i]);
    }
    lbuf_u8(b, ']');
}

static void verdict_json(lbuf *b, const sluice_record *r)
{
    char hex[65];
    kv_str(b, "action", sluice_action_name(r->action), 1);
    kv_str(b, "reason", r->reason, 0);
    lbuf_str(b, ",\"policy\":{\"id\":");
    json_cstr(b, r->policy_id);
    lbuf_str(b, ",\"version\":");
    json_i64(b, r->policy_version);
    kv_str(b, "hash", r->policy_hash, 1);
    lbuf_str(b, r->policy_signed ? ",\"signed\":true}" : ",\"signed\":false}");
    kv_list(b, "rules", r->rules, r->nrules);
    kv_list(b, "categories", r->categories, r->ncategories);
    if (r->has_digest) {
        hex_encode(hex, r->digest, 32);
        kv_str(b, "digest", hex, 1);
        snprintf(hex, sizeof hex, "%08x", (unsigned)r->digest_key_id);
        kv_str(b, "digest_key", hex, 1);
    }
    kv_str(b, "request_id", r->request_id, 0);
    kv_str(b, "tenant", r->tenant, 0);
    kv_str(b, "subject", r->subject, 0);
    kv_str(b, "model", r->model, 0);
    if (r->truncated)
        lbuf_str(b, ",\"truncated\":true");
    if (r->cached)
        lbuf_str(b, ",\"cached\":true");
    if (r->suspended)
        lbuf_str(b, ",\"suspended\":true");
}

static void body_json(lbuf *b, const sluice_record *r)
{
    switch (r->type) {
    case SLUICE_RECORD_VERDICT:
        verdict_json(b, r);
        break;
    case SLUICE_RECORD_OPEN:
        kv_str(b, "mode", r->mode == SLUICE_LEDGER_DURABLE ? "durable" :
            "batched", 1);
        kv_u64(b, "checkpoint_records", r->checkpoint_records);
        kv_u64(b, "checkpoint_ms", r->checkpoint_ms);
        kv_str(b, "library", r->library_version, 1);
        kv_str(b, "host", r->host, 1);
        kv_u64(b, "pid", r->pid);
        break;
    case SLUICE_RECORD_RECOVERY:
        kv_u64(b, "cut_bytes", r->cut_bytes);
        kv_u64(b, "kept_unsigned", r->kept_unsigned);
        kv_str(b, "segment", r->segment, 0);
        kv_str(b, "saved_as", r->saved_as, 0);
        break;
    case SLUICE_RECORD_GAP:
        kv_u64(b, "released", r->gap_released);
        kv_u64(b, "blocked", r->gap_blocked);
        kv_time(b, "first", r->gap_first_ns);
        kv_time(b, "last", r->gap_last_ns);
        kv_str(b, "error", r->gap_error, 1);
        break;
    case SLUICE_RECORD_CLOSE:
        break;
    }
}

void record_json_append(lbuf *b, const sluice_record *r)
{
    char hex[65];
    lbuf_str(b, "{\"writer\":");
    json_cstr(b, r->writer);
    kv_u64(b, "seq", r->seq);
    kv_time(b, "time", r->time_ns);
    kv_u64(b, "session", r->session);
    kv_str(b, "type", type_name(r->type), 1);
    hex_encode(hex, r->hash, 32);
    kv_str(b, "hash", hex, 1);
    hex_encode(hex, r->prev, 32);
    kv_str(b, "prev", hex, 1);
    body_json(b, r);
    lbuf_u8(b, '}');
}

int sluice_record_json(const sluice_record *r, char **out, size_t *len)
{
    lbuf b = {0};
    if (r == NULL || out == NULL)
        return SLUICE_EINVAL;
    record_json_append(&b, r);
    lbuf_u8(&b, 0);
    if (b.oom) {
        lbuf_free(&b);
        return SLUICE_ENOMEM;
    }
    *out = (char *)b.p;
    if (len != NULL)
        *len = b.len - 1;
    return 0;
}
