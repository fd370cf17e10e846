/*
 * record.c - encoding and canonical decoding of ledger records, frames,
 * checkpoint frames and segment headers (layout: docs/ledger.md).
 *
 * Encoders write a whole record frame in one buffer so the writer can
 * seal it (sequence number, time, previous hash, check bytes) and write
 * it with one write(2) while holding its lock; everything that does not
 * depend on the chain (strings, the output digest) is encoded before, by
 * the calling thread, outside the lock.
 *
 * Decoders are strict: rec_check() accepts a byte string only if the
 * encoders could have produced it, which is what makes "flip any byte and
 * verification fails" hold even before hashes are compared.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ledger/record.h"

/* ---- encoding ------------------------------------------------------------ */

/* Length of s[0..len) cut to at most `max` bytes on a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* A str8; sets *trunc when the string had to be cut. NULL is "". */
static void put_str8(lbuf *b, const char *s, int *trunc)
{
    size_t len = s ? strlen(s) : 0, n = utf8_cut(s, len, REC_MAX_STR);
    if (n < len && trunc != NULL)
        *trunc = 1;
    lbuf_u8(b, (unsigned)n);
    if (n > 0)
        lbuf_put(b, s, n);
}

/* Frame head and the fixed record header; returns the frame offset. */
static size_t begin(lbuf *b, const char *writer, unsigned type,
    uint16_t flags)
{
    size_t at = b->len;
    unsigned char *h = lbuf_extend(b, FRAME_HEAD + REC_HEADER);
    if (h == NULL)
        return at;
    memset(h, 0, FRAME_HEAD + REC_HEADER);
    h[4] = FRAME_RECORD;
    h[FRAME_HEAD] = REC_VERSION;
    h[FRAME_HEAD + 1] = (unsigned char)type;
    le16_put(h + FRAME_HEAD + 2, flags);
    put_str8(b, writer, NULL);
    return at;
}

/* Room for the check bytes, and the payload length in the head. */
static size_t finish(lbuf *b, size_t at)
{
    unsigned char *c = lbuf_extend(b, FRAME_CHECK);
    if (c == NULL)
        return at;
    memset(c, 0, FRAME_CHECK);
    size_t payload = b->len - at - FRAME_OVERHEAD;
    if (payload > FRAME_MAX_PAYLOAD) {
        b->oom = 1;     /* cannot happen with the caps below */
        return at;
    }
    le32_put(b->p + at, (uint32_t)payload);
    return at;
}

static void set_flags(lbuf *b, size_t at, uint16_t flags)
{
    if (!b->oom)
        le16_put(b->p + at + FRAME_HEAD + 2, flags);
}

static void put_list(lbuf *b, const char *const *v, size_t n, int *trunc)
{
    if (n > REC_MAX_LIST) {
        n = REC_MAX_LIST;
        *trunc = 1;
    }
    lbuf_u16(b, (uint16_t)n);
    for (size_t i = 0; i < n; i++)
        put_str8(b, v[i], trunc);
}

size_t rec_encode_verdict(lbuf *b, const char *writer,
    const rec_verdict_in *in)
{
    size_t at = begin(b, writer, REC_VERDICT, 0);
    unsigned char hash[32];
    size_t hlen = 0;
    int trunc = 0;
    uint16_t flags = 0;
    const sluice_meta *m = in->meta;

    lbuf_u8(b, (unsigned)in->action);
    put_str8(b, in->reason, &trunc);
    put_str8(b, in->policy_id, &trunc);
    lbuf_u64(b, (uint64_t)in->policy_version);
    if (in->policy_hash_hex != NULL &&
        strlen(in->policy_hash_hex) == 64 &&
        sodium_hex2bin(hash, sizeof hash, in->policy_hash_hex, 64, NULL,
            &hlen, NULL) == 0 && hlen == 32) {
        lbuf_u8(b, 32);
        lbuf_put(b, hash, 32);
    } else {
        lbuf_u8(b, 0);
    }
    if (in->policy_signed)
        flags |= REC_F_SIGNED;
    if (in->cached)
        flags |= REC_F_CACHED;
    if (in->suspended)
        flags |= REC_F_SUSPENDED;
    if (in->digest != NULL) {
        flags |= REC_F_DIGEST;
        lbuf_u32(b, in->digest_key_id);
        lbuf_put(b, in->digest, 32);
    }
    put_list(b, in->rules, in->nrules, &trunc);
    put_list(b, in->cats, in->ncats, &trunc);
    put_str8(b, m ? m->request_id : NULL, &trunc);
    put_str8(b, m ? m->tenant : NULL, &trunc);
    put_str8(b, m ? m->subject : NULL, &trunc);
    put_str8(b, m ? m->model : NULL, &trunc);
    if (trunc)
        flags |= REC_F_TRUNC;
    set_flags(b, at, flags);
    return finish(b, at);
}

size_t rec_encode_open(lbuf *b, const char *writer, const rec_open_in *in)
{
    size_t at = begin(b, writer, REC_OPEN, 0);
    lbuf_u8(b, (unsigned)in->mode);
    lbuf_u32(b, in->checkpoint_records);
    lbuf_u32(b, in->checkpoint_ms);
    put_str8(b, SLUICE_VERSION_STRING, NULL);
    put_str8(b, in->host, NULL);
    lbuf_u32(b, in->pid);
    return finish(b, at);
}

size_t rec_encode_recovery(lbuf *b, const char *writer, uint64_t cut_bytes,
    uint64_t kept_unsigned, const char *segment, const char *saved_as)
{
    size_t at = begin(b, writer, REC_RECOVERY, 0);
    lbuf_u64(b, cut_bytes);
    lbuf_u64(b, kept_unsigned);
    put_str8(b, segment, NULL);
    put_str8(b, saved_as, NULL);
    return finish(b, at);
}

size_t rec_encode_gap(lbuf *b, const char *writer, const rec_gap_in *in)
{
    size_t at = begin(b, writer, REC_GAP, 0);
    lbuf_u64(b, in->released);
    lbuf_u64(b, in->blocked);
    lbuf_u64(b, (uint64_t)in->first_ns);
    lbuf_u64(b, (uint64_t)in->last_ns);
    put_str8(b, in->error, NULL);
    return finish(b, at);
}

size_t rec_encode_close(lbuf *b, const char *writer)
{
    return finish(b, begin(b, writer, REC_CLOSE, 0));
}

/* ---- frames -------------------------------------------------------------- */

void frame_seal_record(unsigned char *frame, uint32_t session, uint64_t seq,
    int64_t time_ns, const unsigned char prev[SHA256_BYTES],
    unsigned char leaf[SHA256_BYTES])
{
    unsigned char *r = frame + FRAME_HEAD;
    uint32_t len = le32_get(frame);
    le32_put(r + REC_OFF_SESSION, session);
    le64_put(r + REC_OFF_SEQ, seq);
    le64_put(r + REC_OFF_TIME, (uint64_t)time_ns);
    memcpy(r + REC_OFF_PREV, prev, SHA256_BYTES);
    /* kind byte 0x00 then the record: SHA-256 of that is the leaf hash */
    ledger_sha256(leaf, frame + 4, 1 + (size_t)len);
    memcpy(r + len, leaf, FRAME_CHECK);
}

void frame_seal(unsigned char *frame)
{
    unsigned char h[SHA256_BYTES];
    uint32_t len = le32_get(frame);
    ledger_sha256(h, frame + 4, 1 + (size_t)len);
    memcpy(frame + FRAME_HEAD + len, h, FRAME_CHECK);
}

int frame_verify(const unsigned char *frame, unsigned char h[SHA256_BYTES])
{
    uint32_t len = le32_get(frame);
    ledger_sha256(h, frame + 4, 1 + (size_t)len);
    return sodium_memcmp(frame + FRAME_HEAD + len, h, FRAME_CHECK) == 0 ?
        0 : -1;
}

/* ---- canonical decoding -------------------------------------------------- */

static rec_str take_str8(lcur *c)
{
    rec_str s;
    s.len = lcur_u8(c);
    s.p = lcur_take(c, s.len);
    return s;
}

/* A list of str8 with a u16 count; returns the count. */
static size_t skip_list(lcur *c)
{
    size_t n = lcur_u16(c);
    if (n > REC_MAX_LIST)
        c->bad = 1;
    for (size_t i = 0; i < n && !c->bad; i++)
        (void)take_str8(c);
    return n;
}

static int check_verdict(lcur *c, rec_hdr *h, const char **why)
{
    uint8_t action = lcur_u8(c);
    uint8_t hlen;
    if (action > SLUICE_BLOCK) {
        *why = "unknown action";
        return -1;
    }
    (void)take_str8(c);                 /* reason */
    (void)take_str8(c);                 /* policy id */
    (void)lcur_u64(c);                  /* policy version */
    hlen = lcur_u8(c);
    if (hlen != 0 && hlen != 32) {
        *why = "policy hash is neither absent nor 32 bytes";
        return -1;
    }
    (void)lcur_take(c, hlen);
    if (h->flags & REC_F_DIGEST)
        (void)lcur_take(c, 4 + 32);
    h->nlist = skip_list(c);
    h->nlist += skip_list(c);
    for (int i = 0; i < 4; i++)
        (void)take_str8(c);
    h->nstr += 7 + 2;   /* 7 strings, 2 lists' worth of slack */
    return 0;
}

static int check_body(lcur *c, rec_hdr *h, const char **why)
{
    switch (h->type) {
    case REC_VERDICT:
        return check_verdict(c, h, why);
    case REC_OPEN:
        if (lcur_u8(c) > SLUICE_LEDGER_DURABLE) {
            *why = "unknown durability mode";
            return -1;
        }
        (void)lcur_take(c, 8);
        (void)take_str8(c);
        (void)take_str8(c);
        (void)lcur_u32(c);
        h->nstr += 2;
        return 0;
    case REC_RECOVERY:
        (void)lcur_take(c, 16);
        (void)take_str8(c);
        (void)take_str8(c);
        h->nstr += 2;
        return 0;
    case REC_GAP:
        (void)lcur_take(c, 32);
        (void)take_str8(c);
        h->nstr += 1;
        return 0;
    case REC_CLOSE:
        return 0;
    default:
        *why = "unknown record type";
        return -1;
    }
}

int rec_check(const unsigned char *rec, size_t len, rec_hdr *h,
    const char **why)
{
    lcur c = {rec, len, 0, 0};
    uint16_t allowed;
    memset(h, 0, sizeof *h);
    if (len < REC_HEADER + 1) {
        *why = "record too short";
        return -1;
    }
    if (rec[0] != REC_VERSION) {
        *why = "unknown record version";
        return -1;
    }
    h->type = rec[1];
    h->flags = le16_get(rec + 2);
    h->session = le32_get(rec + REC_OFF_SESSION);
    h->seq = le64_get(rec + REC_OFF_SEQ);
    h->time_ns = (int64_t)le64_get(rec + REC_OFF_TIME);
    h->prev = rec + REC_OFF_PREV;
    allowed = h->type == REC_VERDICT ?
        (REC_F_SIGNED | REC_F_DIGEST | REC_F_TRUNC | REC_F_CACHED |
         REC_F_SUSPENDED) : 0;
    if (h->flags & ~allowed) {
        *why = "unknown flags for the record type";
        return -1;
    }
    c.off = REC_HEADER;
    h->writer = take_str8(&c);
    h->nstr = 1;
    if (!c.bad && (h->writer.len == 0 || h->writer.len > WRITER_MAX)) {
        *why = "bad writer id length";
        return -1;
    }
    if (check_body(&c, h, why) != 0)
        return -1;
    if (!lcur_done(&c)) {
        *why = c.bad ? "record ends inside a field" :
            "trailing bytes after the record";
        return -1;
    }
    return 0;
}

/* ---- decoding into the public view --------------------------------------- */

typedef struct arena {
    lbuf *b;
    size_t used;
} arena;

/* Copy a str8 into the arena, NUL-terminated; returns it. */
static const char *arena_str(arena *a, rec_str s)
{
    char *d = (char *)a->b->p + a->used;
    if (s.len > 0)
        memcpy(d, s.p, s.len);
    d[s.len] = '\0';
    a->used += s.len + 1;
    return d;
}

static const char *const *arena_list(arena *a, lcur *c, size_t *n)
{
    size_t align = (sizeof(char *) - a->used % sizeof(char *)) %
        sizeof(char *);
    *n = lcur_u16(c);
    a->used += align;
    const char **v = (const char **)(void *)(a->b->p + a->used);
    a->used += *n * sizeof(char *);
    for (size_t i = 0; i < *n; i++)
        v[i] = arena_str(a, take_str8(c));
    return v;
}

static void decode_verdict(lcur *c, arena *a, sluice_record *r,
    uint16_t flags)
{
    r->action = (sluice_action)lcur_u8(c);
    r->reason = arena_str(a, take_str8(c));
    r->policy_id = arena_str(a, take_str8(c));
    r->policy_version = (int64_t)lcur_u64(c);
    uint8_t hl = lcur_u8(c);
    const unsigned char *hb = lcur_take(c, hl);
    char *hex = (char *)a->b->p + a->used;
    if (hl == 32 && hb != NULL)
        sodium_bin2hex(hex, 65, hb, 32);
    else
        hex[0] = '\0';
    a->used += 65;
    r->policy_hash = hex;
    r->policy_signed = (flags & REC_F_SIGNED) != 0;
    r->truncated = (flags & REC_F_TRUNC) != 0;
    r->cached = (flags & REC_F_CACHED) != 0;
    r->suspended = (flags & REC_F_SUSPENDED) != 0;
    if (flags & REC_F_DIGEST) {
        r->has_digest = 1;
        r->digest_key_id = lcur_u32(c);
        const unsigned char *d = lcur_take(c, 32);
        if (d != NULL)
            memcpy(r->digest, d, 32);
    }
    r->rules = arena_list(a, c, &r->nrules);
    r->categories = arena_list(a, c, &r->ncategories);
    r->request_id = arena_str(a, take_str8(c));
    r->tenant = arena_str(a, take_str8(c));
    r->subject = arena_str(a, take_str8(c));
    r->model = arena_str(a, take_str8(c));
}

static void decode_body(lcur *c, arena *a, sluice_record *r, uint16_t flags)
{
    switch (r->type) {
    case SLUICE_RECORD_VERDICT:
        decode_verdict(c, a, r, flags);
        break;
    case SLUICE_RECORD_OPEN:
        r->mode = (sluice_ledger_mode)lcur_u8(c);
        r->checkpoint_records = lcur_u32(c);
        r->checkpoint_ms = lcur_u32(c);
        r->library_version = arena_str(a, take_str8(c));
        r->host = arena_str(a, take_str8(c));
        r->pid = lcur_u32(c);
        break;
    case SLUICE_RECORD_RECOVERY:
        r->cut_bytes = lcur_u64(c);
        r->kept_unsigned = lcur_u64(c);
        r->segment = arena_str(a, take_str8(c));
        r->saved_as = arena_str(a, take_str8(c));
        break;
    case SLUICE_RECORD_GAP:
        r->gap_released = lcur_u64(c);
        r->gap_blocked = lcur_u64(c);
        r->gap_first_ns = (int64_t)lcur_u64(c);
        r->gap_last_ns = (int64_t)lcur_u64(c);
        r->gap_error = arena_str(a, take_str8(c));
        break;
    case SLUICE_RECORD_CLOSE:
        break;
    }
}

int rec_decode(const unsigned char *rec, size_t len,
    const unsigned char hash[SHA256_BYTES], sluice_record *out, lbuf *ab)
{
    static const char *const none[1] = {NULL};
    rec_hdr h;
    const char *why = NULL;
    if (rec_check(rec, len, &h, &why) != 0)
        return SLUICE_EINVAL;
    /* strings + NULs + 22 fixed strings + the hex hash + list pointers */
    size_t need = len + 2 * h.nstr + 256 + (h.nlist + 2) * sizeof(char *) +
        2 * sizeof(char *);
    ab->len = 0;
    if (lbuf_extend(ab, need) == NULL)
        return SLUICE_ENOMEM;
    arena a = {ab, 0};
    lcur c = {rec, len, REC_HEADER, 0};
    memset(out, 0, sizeof *out);
    out->type = (sluice_record_type)h.type;
    out->seq = h.seq;
    out->time_ns = h.time_ns;
    out->session = h.session;
    memcpy(out->hash, hash, 32);
    memcpy(out->prev, h.prev, 32);
    out->writer = arena_str(&a, take_str8(&c));
    const char *empty = arena_str(&a, (rec_str){NULL, 0});
    out->reason = out->policy_id = out->policy_hash = empty;
    out->request_id = out->tenant = out->subject = out->model = empty;
    out->library_version = out->host = out->segment = empty;
    out->saved_as = out->gap_error = empty;
    out->rules = out->categories = none;
    decode_body(&c, &a, out, h.flags);
    return c.bad ? SLUICE_EINVAL : 0;
}

/* ---- checkpoint frames --------------------------------------------------- */

size_t ckpt_encode(lbuf *b, uint64_t size,
    const unsigned char last[SHA256_BYTES], uint32_t session,
    const unsigned char *frontier, unsigned nfrontier, const char *note,
    size_t note_len)
{
    size_t at = b->len;
    unsigned char *h = lbuf_extend(b, FRAME_HEAD);
    if (h == NULL)
        return at;
    h[4] = FRAME_CHECKPOINT;
    lbuf_u64(b, size);
    lbuf_put(b, last, SHA256_BYTES);
    lbuf_u32(b, session);
    lbuf_u8(b, nfrontier);
    lbuf_put(b, frontier, (size_t)nfrontier * SHA256_BYTES);
    lbuf_u16(b, (uint16_t)note_len);
    lbuf_put(b, note, note_len);
    (void)lbuf_extend(b, FRAME_CHECK);
    if (b->oom)
        return at;
    le32_put(b->p + at, (uint32_t)(b->len - at - FRAME_OVERHEAD));
    frame_seal(b->p + at);
    return at;
}

int ckpt_parse(const unsigned char *payload, size_t len, ckpt_frame *out,
    const char **why)
{
    lcur c = {payload, len, 0, 0};
    out->size = lcur_u64(&c);
    out->last = lcur_take(&c, SHA256_BYTES);
    out->session = lcur_u32(&c);
    out->nfrontier = lcur_u8(&c);
    out->frontier = lcur_take(&c, (size_t)out->nfrontier * SHA256_BYTES);
    out->note_len = lcur_u16(&c);
    out->note = (const char *)lcur_take(&c, out->note_len);
    if (!lcur_done(&c)) {
        *why = c.bad ? "checkpoint frame ends inside a field" :
            "trailing bytes after the checkpoint";
        return -1;
    }
    if (out->nfrontier != (unsigned)__builtin_popcountll(out->size)) {
        *why = "checkpoint frontier does not match its tree size";
        return -1;
    }
    if (out->note_len == 0 || out->note_len > NOTE_MAX) {
        *why = "checkpoint note length out of range";
        return -1;
    }
    return 0;
}

/* ---- segment files -------------------------------------------------------- */

void seg_header(unsigned char out[SEG_HEADER], uint64_t first_seq)
{
    memcpy(out, SEG_MAGIC, 8);
    le32_put(out + 8, SEG_VERSION);
    le64_put(out + 12, first_seq);
}

int seg_header_parse(const unsigned char *h, size_t len, uint64_t *first,
    const char **why)
{
    if (len < SEG_HEADER) {
        *why = "segment shorter than its header";
        return -1;
    }
    if (memcmp(h, SEG_MAGIC, 8) != 0) {
        *why = "not a Sluice ledger segment (bad magic)";
        return -1;
    }
    if (le32_get(h + 8) != SEG_VERSION) {
        *why = "unknown segment format version";
        return -1;
    }
    *first = le64_get(h + 12);
    if (*first == 0) {
        *why = "segment header names sequence number 0";
        return -1;
    }
    return 0;
}

void seg_name(char *buf, size_t size, uint64_t first_seq)
{
    snprintf(buf, size, "%020llu.seg", (unsigned long long)first_seq);
}

int seg_name_parse(const char *name, uint64_t *first)
{
    uint64_t v = 0;
    for (int i = 0; i < SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        unsigned d = (unsigned)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (strcmp(name + SEG_NAME_DIGITS, ".seg") != 0 || v == 0)
        return -1;
    *first = v;
    return 0;
}

int writer_valid(const char *w)
{
    size_t n = w ? strlen(w) : 0;
    if (n == 0 || n > WRITER_MAX || w[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = w[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}
