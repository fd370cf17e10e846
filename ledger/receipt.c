/*
 * receipt.c - receipts: proof that one record is in a signed checkpoint,
 * checkable with the public key alone (format: docs/ledger.md).
 *
 * A receipt is canonical JSON: sluice_ledger_prove writes it in exactly
 * one way, and sluice_receipt_verify, after checking the record, its hash,
 * the signature on the checkpoint and the inclusion proof (RFC 9162
 * 2.1.3.2), writes the receipt again from what it verified and compares
 * the two byte for byte. So the informational parts (the decoded record)
 * are covered too, and any changed byte, even whitespace, fails.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ledger/key.h"
#include "ledger/merkle.h"
#include "ledger/reader.h"
#include "ledger/record.h"
#include "ledger/util.h"

#define RECEIPT_FORMAT "sluice-receipt-v1"

/* ---- writing ---------------------------------------------------------------- */

static int receipt_text(lbuf *b, const unsigned char *rec, size_t rlen,
    const unsigned char leaf[32], const unsigned char (*proof)[32],
    unsigned np, const char *note, size_t nlen, uint64_t tree_size)
{
    sluice_record r;
    lbuf arena = {0};
    char hex[65];
    if (rec_decode(rec, rlen, leaf, &r, &arena) != 0) {
        lbuf_free(&arena);
        return -1;
    }
    lbuf_str(b, "{\n  \"format\": \"" RECEIPT_FORMAT "\",\n  \"writer\": ");
    json_cstr(b, r.writer);
    lbuf_str(b, ",\n  \"seq\": ");
    json_u64(b, r.seq);
    lbuf_str(b, ",\n  \"tree_size\": ");
    json_u64(b, tree_size);
    hex_encode(hex, leaf, 32);
    lbuf_str(b, ",\n  \"record_hash\": \"");
    lbuf_str(b, hex);
    lbuf_str(b, "\",\n  \"record\": \"");
    size_t el = sodium_base64_ENCODED_LEN(rlen, sodium_base64_VARIANT_ORIGINAL);
    char *at = (char *)lbuf_extend(b, el);
    if (at != NULL) {
        (void)sodium_bin2base64(at, el, rec, rlen,
            sodium_base64_VARIANT_ORIGINAL);
        b->len--;      /* drop the NUL */
    }
    lbuf_str(b, "\",\n  \"proof\": [");
    for (unsigned i = 0; i < np; i++) {
        hex_encode(hex, proof[i], 32);
        lbuf_str(b, i ? ",\n    \"" : "\n    \"");
        lbuf_str(b, hex);
        lbuf_u8(b, '"');
    }
    lbuf_str(b, np ? "\n  ],\n  \"checkpoint\": " : "],\n  \"checkpoint\": ");
    json_str(b, note, nlen);
    lbuf_str(b, ",\n  \"decoded\": ");
    record_json_append(b, &r);
    lbuf_str(b, "\n}\n");
    lbuf_free(&arena);
    return b->oom ? -1 : 0;
}

/* ---- prove ------------------------------------------------------------------- */

typedef struct prove_ctx {
    uint64_t want;
    unsigned char (*leaves)[32];
    uint64_t n, cap;
    lbuf record;
    lbuf ck;                 /* the latest checkpoint frame */
    int oom;
    int disorder;
} prove_ctx;

static int prove_frame(const unsigned char *f, size_t flen, void *arg)
{
    prove_ctx *c = arg;
    uint32_t len = le32_get(f);
    if (f[4] == FRAME_CHECKPOINT) {
        c->ck.len = 0;
        lbuf_put(&c->ck, f, flen);
        return c->ck.oom ? (c->oom = 1, -1) : 0;
    }
    if (c->n == c->cap) {
        uint64_t nc = c->cap ? c->cap * 2 : 1024;
        void *q = realloc(c->leaves, (size_t)nc * 32);
        if (q == NULL)
            return (c->oom = 1, -1);
        c->leaves = q;
        c->cap = nc;
    }
    if (len < REC_HEADER || le64_get(f + FRAME_HEAD + REC_OFF_SEQ) != c->n + 1)
        return (c->disorder = 1, -1);
    ledger_sha256(c->leaves[c->n], f + 4, 1 + (size_t)len);
    c->n++;
    if (c->n == c->want) {
        lbuf_put(&c->record, f + FRAME_HEAD, len);
        if (c->record.oom)
            return (c->oom = 1, -1);
    }
    return 0;
}

/* Check the chain's root at the checkpoint, then write the receipt. */
static int prove_finish(prove_ctx *c, const char *w, lbuf *out,
    sluice_error *err)
{
    ckpt_frame ck;
    note_checkpoint nc;
    const char *why = NULL;
    unsigned char root[32], proof[MERKLE_MAX_DEPTH][32];
    if (c->want == 0 || c->want > c->n)
        return ledger_error(err, SLUICE_EINVAL, NULL, "writer '%s' has no "
            "record %llu (it has %llu)", w, (unsigned long long)c->want,
            (unsigned long long)c->n);
    if (c->ck.len == 0 || ckpt_parse(c->ck.p + FRAME_HEAD, le32_get(c->ck.p),
            &ck, &why) != 0 ||
        note_peek_checkpoint(ck.note, ck.note_len, &nc, &why) != 0)
        return ledger_error(err, SLUICE_EIO, NULL, "writer '%s': no readable "
            "checkpoint", w);
    if (ck.size < c->want)
        return ledger_error(err, SLUICE_EINVAL, NULL, "record %llu is not "
            "covered by a checkpoint yet (the latest covers %llu records); "
            "try again after the next one", (unsigned long long)c->want,
            (unsigned long long)ck.size);
    merkle_mth((const unsigned char (*)[32])c->leaves, ck.size, root);
    if (memcmp(root, nc.root, 32) != 0)
        return ledger_error(err, SLUICE_EIO, NULL, "writer '%s': the records "
            "do not hash to the latest checkpoint's root; run 'sluice "
            "ledger verify'", w);
    unsigned np = merkle_inclusion_proof(
        (const unsigned char (*)[32])c->leaves, ck.size, c->want - 1, proof);
    if (receipt_text(out, c->record.p, c->record.len, c->leaves[c->want - 1],
            (const unsigned char (*)[32])proof, np, ck.note, ck.note_len,
            ck.size) != 0)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    return 0;
}

int sluice_ledger_prove(const char *dir, const char *writer, uint64_t seq,
    char **out, size_t *len, sluice_error *err)
{
    prove_ctx c;
    lbuf b = {0};
    const char *w = NULL;
    char *owned = NULL;
    int rc;
    if (dir == NULL || out == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_ledger_prove: dir and out are required");
    *out = NULL;
    memset(&c, 0, sizeof c);
    c.want = seq;
    if ((rc = chain_writer(dir, writer, &w, &owned, err)) != 0)
        return rc;
    rc = chain_walk(dir, w, 0, prove_frame, &c, err);
    if (c.oom)
        rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    else if (c.disorder)
        rc = ledger_error(err, SLUICE_EIO, dir, "writer '%s': records out "
            "of order after %llu; run 'sluice ledger verify'", w,
            (unsigned long long)c.n);
    if (rc == 0 && (rc = prove_finish(&c, w, &b, err)) == 0) {
        lbuf_u8(&b, 0);
        if (b.oom) {
            rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
        } else {
            *out = (char *)b.p;
            b.p = NULL;
            if (len != NULL)
                *len = b.len - 1;
        }
    }
    lbuf_free(&b);
    free(c.leaves);
    lbuf_free(&c.record);
    lbuf_free(&c.ck);
    free(owned);
    return rc;
}

/* ---- reading a receipt --------------------------------------------------------- */

typedef struct rcur {
    const char *s;
    size_t len, pos;
    int bad;
} rcur;

static void expect(rcur *c, const char *lit)
{
    size_t n = strlen(lit);
    if (c->bad || c->len - c->pos < n || memcmp(c->s + c->pos, lit, n) != 0)
        c->bad = 1;
    else
        c->pos += n;
}

static uint64_t get_u64(rcur *c)
{
    uint64_t v = 0;
    size_t start = c->pos;
    while (!c->bad && c->pos < c->len && c->s[c->pos] >= '0' &&
        c->s[c->pos] <= '9') {
        unsigned d = (unsigned)(c->s[c->pos++] - '0');
        if (v > (UINT64_MAX - d) / 10)
            c->bad = 1;
        v = v * 10 + d;
    }
    if (c->pos == start)
        c->bad = 1;
    return v;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ?
        ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* \uXXXX (and a following low surrogate) as UTF-8. */
static void get_escape_u(rcur *c, lbuf *out)
{
    uint32_t cp = 0;
    for (int k = 0; k < 2; k++) {
        uint32_t u = 0;
        if (c->len - c->pos < 4) {
            c->bad = 1;
            return;
        }
        for (int i = 0; i < 4; i++) {
            int h = hexval(c->s[c->pos++]);
            if (h < 0)
                c->bad = 1;
            u = (u << 4) | (uint32_t)(h & 15);
        }
        if (k == 0 && u >= 0xD800 && u <= 0xDBFF) {
            cp = u;
            expect(c, "\\u");
            if (c->bad)
                return;
            continue;
        }
        cp = k == 0 ? u : 0x10000 + ((cp - 0xD800) << 10) + (u - 0xDC00);
        break;
    }
    unsigned char e[4];
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n == 1) {
        e[0] = (unsigned char)cp;
    } else if (n == 2) {
        e[0] = (unsigned char)(0xC0 | (cp >> 6));
        e[1] = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (n == 3) {
        e[0] = (unsigned char)(0xE0 | (cp >> 12));
        e[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        e[2] = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        e[0] = (unsigned char)(0xF0 | (cp >> 18));
        e[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        e[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        e[3] = (unsigned char)(0x80 | (cp & 0x3F));
    }
    lbuf_put(out, e, n);
}

/* A JSON string into out (NUL-terminated). */
static void get_str(rcur *c, lbuf *out)
{
    out->len = 0;
    expect(c, "\"");
    while (!c->bad) {
        if (c->pos >= c->len) {
            c->bad = 1;
            break;
        }
        char ch = c->s[c->pos++];
        if (ch == '"')
            break;
        if (ch != '\\') {
            lbuf_put(out, &ch, 1);
            continue;
        }
        if (c->pos >= c->len) {
            c->bad = 1;
            break;
        }
        ch = c->s[c->pos++];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *k = ch ? strchr(from, ch) : NULL;
        if (k != NULL)
            lbuf_put(out, to + (k - from), 1);
        else if (ch == 'u')
            get_escape_u(c, out);
        else
            c->bad = 1;
    }
    lbuf_u8(out, 0);
    if (out->oom)
        c->bad = 1;
    else
        out->len--;
}

/* 64 lower-case hex digits into 32 bytes. */
static int hex32(const lbuf *s, unsigned char out[32])
{
    if (s->len != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        int a = hexval((char)s->p[2 * i]), b = hexval((char)s->p[2 * i + 1]);
        if (a < 0 || b < 0)
            return -1;
        out[i] = (unsigned char)(a << 4 | b);
    }
    return 0;
}

typedef struct receipt_in {
    lbuf writer, hash, record_b64, note, tmp;
    uint64_t seq, tree_size;
    unsigned char proof[MERKLE_MAX_DEPTH][32];
    unsigned np;
} receipt_in;

static int parse_receipt(rcur *c, receipt_in *in)
{
    expect(c, "{\n  \"format\": \"" RECEIPT_FORMAT "\",\n  \"writer\": ");
    get_str(c, &in->writer);
    expect(c, ",\n  \"seq\": ");
    in->seq = get_u64(c);
    expect(c, ",\n  \"tree_size\": ");
    in->tree_size = get_u64(c);
    expect(c, ",\n  \"record_hash\": ");
    get_str(c, &in->hash);
    expect(c, ",\n  \"record\": ");
    get_str(c, &in->record_b64);
    expect(c, ",\n  \"proof\": [");
    if (!c->bad && c->pos < c->len && c->s[c->pos] == ']') {
        c->pos++;
    } else {
        for (;;) {
            expect(c, "\n    ");
            get_str(c, &in->tmp);
            if (c->bad || in->np == MERKLE_MAX_DEPTH ||
                hex32(&in->tmp, in->proof[in->np]) != 0)
                return -1;
            in->np++;
            if (c->pos < c->len && c->s[c->pos] == ',') {
                c->pos++;
                continue;
            }
            expect(c, "\n  ]");
            break;
        }
    }
    expect(c, ",\n  \"checkpoint\": ");
    get_str(c, &in->note);
    expect(c, ",\n  \"decoded\": ");
    return c->bad ? -1 : 0;
}

static void receipt_in_free(receipt_in *in)
{
    lbuf_free(&in->writer);
    lbuf_free(&in->hash);
    lbuf_free(&in->record_b64);
    lbuf_free(&in->note);
    lbuf_free(&in->tmp);
}

/* Everything but the canonical comparison; returns NULL or why not. */
static const char *check_receipt(receipt_in *in, const note_key *key,
    unsigned char *rec, size_t rlen, unsigned char leaf[32],
    note_checkpoint *nc)
{
    unsigned char claimed[32];
    rec_hdr h;
    const char *why = NULL;
    if (rec_check(rec, rlen, &h, &why) != 0)
        return "the record is not a canonical ledger record";
    merkle_leaf_hash(leaf, rec, rlen);
    if (hex32(&in->hash, claimed) != 0 || memcmp(claimed, leaf, 32) != 0)
        return "record_hash is not the hash of the record";
    if (h.seq != in->seq || h.writer.len != in->writer.len ||
        memcmp(h.writer.p, in->writer.p, h.writer.len) != 0)
        return "seq or writer differ from the record's";
    if (note_open_checkpoint((const char *)in->note.p, in->note.len, key, 1,
            nc, &why) != 0)
        return why;
    if (nc->size != in->tree_size)
        return "tree_size differs from the checkpoint's";
    if (merkle_verify_inclusion(leaf, in->seq - 1, in->tree_size,
            (const unsigned char (*)[32])in->proof, in->np, nc->root) != 0)
        return "the inclusion proof does not lead to the signed root";
    return NULL;
}

static void verdict_fail(sluice_verify_report *rep, const char *why)
{
    rep->ok = 0;
    snprintf(rep->reason, sizeof rep->reason, "%s", why);
}

/* The record's bytes from its base64; NULL if it is not base64. */
static unsigned char *decode_record(const receipt_in *in, size_t *rlen)
{
    unsigned char *rec;
    size_t max = in->record_b64.len;
    if (max == 0 || max > 2 * FRAME_MAX_PAYLOAD || (rec = malloc(max)) == NULL)
        return NULL;
    if (sodium_base642bin(rec, max, (const char *)in->record_b64.p,
            in->record_b64.len, NULL, rlen, NULL,
            sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(rec);
        return NULL;
    }
    return rec;
}

/* Where text differs from its canonical form `again`, or -1 if it does not. */
static long first_difference(const lbuf *again, const char *text, size_t len)
{
    size_t at = 0;
    if (again->len == len && memcmp(again->p, text, len) == 0)
        return -1;
    while (at < len && at < again->len && again->p[at] == (unsigned char)text[at])
        at++;
    return (long)at;
}

int sluice_receipt_verify(const char *text, size_t len, const sluice_key *key,
    sluice_verify_report *rep, sluice_error *err)
{
    receipt_in in;
    rcur c = {text, len, 0, 0};
    note_checkpoint nc;
    unsigned char leaf[32], *rec = NULL;
    size_t rlen = 0;
    lbuf again = {0};
    const char *why = NULL;
    int rc = 0;
    if (text == NULL || key == NULL || rep == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_receipt_verify: receipt, key and report are required");
    if (key->kind == SLUICE_KEY_DIGEST)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "a public key (PREFIX.pub) is required");
    if (sodium_init() < 0)
        return ledger_error(err, SLUICE_EINTERNAL, NULL,
            "libsodium failed to initialize");
    memset(rep, 0, sizeof *rep);
    memset(&in, 0, sizeof in);
    if (parse_receipt(&c, &in) != 0)
        why = "not a receipt in the canonical sluice-receipt-v1 form";
    else if (in.seq == 0 || (rec = decode_record(&in, &rlen)) == NULL)
        why = "the record is not base64";
    else
        why = check_receipt(&in, &key->nk, rec, rlen, leaf, &nc);
    if (why != NULL) {
        verdict_fail(rep, why);
        goto out;
    }
    if (receipt_text(&again, rec, rlen, leaf,
            (const unsigned char (*)[32])in.proof, in.np,
            (const char *)in.note.p, in.note.len, in.tree_size) != 0) {
        rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
        goto out;
    }
    long at = first_difference(&again, text, len);
    if (at >= 0) {
        snprintf(rep->reason, sizeof rep->reason, "the receipt differs from "
            "the canonical form of what it proves at byte %ld (edited?)", at);
        goto out;
    }
    rep->ok = 1;
    rep->seq = in.seq;
    rep->records = in.tree_size;
    snprintf(rep->writer, sizeof rep->writer, "%s", (const char *)in.writer.p);
out:
    receipt_in_free(&in);
    lbuf_free(&again);
    free(rec);
    return rc;
}
