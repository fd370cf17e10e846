/*
 * record.h - the ledger's canonical binary formats: records, the frames
 * that hold them in segment files, checkpoint frames, segment headers.
 * The byte-level layout is specified in docs/ledger.md ("On disk"); this
 * header names the offsets the writer patches under its lock.
 *
 * Canonical: every decoder here accepts exactly the bytes the encoders
 * produce (known version, known type, only the flags the type allows, no
 * trailing bytes, lengths in range), so two different byte strings never
 * decode to the same record, and a flipped byte is always noticed.
 */
#ifndef SLUICE_LEDGER_RECORD_H
#define SLUICE_LEDGER_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "sluice.h"
#include "ledger/bytes.h"
#include "ledger/sha256.h"

/* ---- records ------------------------------------------------------------ */

#define REC_VERSION 1

enum rec_type {
    REC_OPEN = 1,       /* a writer session starts */
    REC_VERDICT = 2,    /* one decision */
    REC_RECOVERY = 3,   /* bytes cut from a torn tail at open */
    REC_GAP = 4,        /* decisions taken while recording failed */
    REC_CLOSE = 5       /* a writer session ends cleanly */
};

#define REC_F_SIGNED 0x0001u   /* verdict: the policy was signed */
#define REC_F_DIGEST 0x0002u   /* verdict: a keyed digest of the text */
#define REC_F_TRUNC 0x0004u    /* verdict: a string or list was cut short */
#define REC_F_CACHED 0x0008u   /* verdict: from the verdict cache (Redis) */
#define REC_F_SUSPENDED 0x0010u /* verdict: its subject was suspended */

/* Offsets inside a record of the fields fixed only at append time. */
#define REC_OFF_SESSION 4
#define REC_OFF_SEQ 8
#define REC_OFF_TIME 16
#define REC_OFF_PREV 24
#define REC_HEADER 56          /* then the writer id (str8) */

#define REC_MAX_STR 255        /* str8 */
#define REC_MAX_LIST 1024      /* rules, categories per record */
#define WRITER_MAX 64

/* A length-prefixed string inside a record (not NUL-terminated). */
typedef struct rec_str {
    const unsigned char *p;
    size_t len;
} rec_str;

/* The fixed part of a record, read in place (no copies). */
typedef struct rec_hdr {
    uint8_t type;
    uint16_t flags;
    uint32_t session;
    uint64_t seq;
    int64_t time_ns;
    const unsigned char *prev;   /* 32 bytes */
    rec_str writer;
    size_t nstr;                 /* strings in the record (for decoding) */
    size_t nlist;                /* rule + category entries */
} rec_hdr;

/*
 * Check that rec[0..len) is one canonical record and read its fixed part.
 * Returns 0, or -1 with a static reason in *why.
 */
int rec_check(const unsigned char *rec, size_t len, rec_hdr *h,
    const char **why);

/*
 * Decode a canonical record into the public view. Strings are copied,
 * NUL-terminated, into *arena (reused between calls; the view points into
 * it until the next decode). `hash` is the record's leaf hash.
 * Returns 0, SLUICE_EINVAL (not canonical) or SLUICE_ENOMEM.
 */
int rec_decode(const unsigned char *rec, size_t len,
    const unsigned char hash[SHA256_BYTES], sluice_record *out, lbuf *arena);

/* What the encoders need of a verdict (borrowed pointers). */
typedef struct rec_verdict_in {
    int action;
    const char *reason;            /* NULL: none */
    const char *policy_id;
    int64_t policy_version;
    const char *policy_hash_hex;   /* 64 hex digits, or NULL */
    int policy_signed;
    const unsigned char *digest;   /* 32 bytes or NULL */
    uint32_t digest_key_id;
    const char *const *rules;
    size_t nrules;
    const char *const *cats;
    size_t ncats;
    const sluice_meta *meta;       /* may be NULL */
    int cached;                    /* REC_F_CACHED */
    int suspended;                 /* REC_F_SUSPENDED */
} rec_verdict_in;

typedef struct rec_open_in {
    int mode;
    uint32_t checkpoint_records;
    uint32_t checkpoint_ms;
    const char *host;
    uint32_t pid;
} rec_open_in;

typedef struct rec_gap_in {
    uint64_t released;
    uint64_t blocked;
    int64_t first_ns;
    int64_t last_ns;
    const char *error;
} rec_gap_in;

/*
 * Encoders: append one whole record *frame* to `b` (frame head, record,
 * room for the check bytes) with session, seq, time and prev left zero
 * for frame_seal() to fill under the writer's lock. Check b->oom after.
 * Returns the frame's offset in b.
 */
size_t rec_encode_verdict(lbuf *b, const char *writer,
    const rec_verdict_in *in);
size_t rec_encode_open(lbuf *b, const char *writer, const rec_open_in *in);
size_t rec_encode_recovery(lbuf *b, const char *writer, uint64_t cut_bytes,
    uint64_t kept_unsigned, const char *segment, const char *saved_as);
size_t rec_encode_gap(lbuf *b, const char *writer, const rec_gap_in *in);
size_t rec_encode_close(lbuf *b, const char *writer);

/* ---- frames ------------------------------------------------------------- */

/*
 * A frame: u32 payload length, u8 kind, payload, 8 check bytes. The check
 * bytes are the first 8 of SHA-256(kind || payload); for a record (kind
 * 0x00) that is its RFC 6962 leaf hash, so the frame proves its record.
 */
#define FRAME_HEAD 5
#define FRAME_CHECK 8
#define FRAME_OVERHEAD (FRAME_HEAD + FRAME_CHECK)
#define FRAME_RECORD 0x00
#define FRAME_CHECKPOINT 0x43          /* 'C' */
#define FRAME_MAX_PAYLOAD (1u << 20)

/*
 * Fill a record frame's session, seq, time and prev, then its check
 * bytes; the record's leaf hash goes to `leaf`. `frame` points at the
 * frame's first byte.
 */
void frame_seal_record(unsigned char *frame, uint32_t session, uint64_t seq,
    int64_t time_ns, const unsigned char prev[SHA256_BYTES],
    unsigned char leaf[SHA256_BYTES]);

/* Write the check bytes of a finished frame (length and kind set). */
void frame_seal(unsigned char *frame);

/* 0 if the frame's check bytes match (hash in `h`), else -1. */
int frame_verify(const unsigned char *frame, unsigned char h[SHA256_BYTES]);

/* ---- checkpoint frames -------------------------------------------------- */

#define NOTE_MAX 4096

/* A checkpoint frame's payload, read in place. */
typedef struct ckpt_frame {
    uint64_t size;
    const unsigned char *last;       /* leaf hash of record `size` */
    uint32_t session;
    unsigned nfrontier;
    const unsigned char *frontier;   /* nfrontier * 32 bytes */
    const char *note;                /* not NUL-terminated */
    size_t note_len;
} ckpt_frame;

/* Append a whole checkpoint frame (sealed) to b; returns its offset. */
size_t ckpt_encode(lbuf *b, uint64_t size,
    const unsigned char last[SHA256_BYTES], uint32_t session,
    const unsigned char *frontier, unsigned nfrontier, const char *note,
    size_t note_len);

/* Parse a checkpoint payload canonically. 0, or -1 with *why. */
int ckpt_parse(const unsigned char *payload, size_t len, ckpt_frame *out,
    const char **why);

/* ---- segment files ------------------------------------------------------ */

#define SEG_MAGIC "SLUICELD"
#define SEG_VERSION 1u
#define SEG_HEADER 20          /* magic, u32 version, u64 first seq */
#define SEG_NAME_DIGITS 20

void seg_header(unsigned char out[SEG_HEADER], uint64_t first_seq);
/* 0 and *first, or -1 with *why. */
int seg_header_parse(const unsigned char *h, size_t len, uint64_t *first,
    const char **why);
/* "00000000000000000001.seg" into buf (>= 32 bytes). */
void seg_name(char *buf, size_t size, uint64_t first_seq);
/* 0 and *first if `name` is a segment file name, else -1. */
int seg_name_parse(const char *name, uint64_t *first);

/* A writer id: 1..64 of [A-Za-z0-9._-], not starting with '.'. */
int writer_valid(const char *w);

#endif
