/*
 * normalize.h - folding text into the form that rules are matched on.
 *
 * Steps (bits from rules/policy_src.h, applied in this order per code
 * point): NORM_IGNORABLE drops default-ignorable code points (zero-width,
 * bidi controls, variation selectors, soft hyphen); NORM_NFKC_CASEFOLD
 * applies NFKC_Casefold (full width, circled and styled letters, ligatures,
 * case); NORM_TRAD_SIMP folds Traditional to Simplified Chinese;
 * NORM_CONFUSABLES maps look-alike letters (Cyrillic, Greek, accented
 * Latin, marks) to their ASCII skeleton; NORM_LEET maps leetspeak
 * (4 @ -> a, 3 -> e, 0 -> o, $ 5 -> s, ...); NORM_SKIP_NOISE removes
 * symbols, punctuation and spaces from the output and records, at the next
 * kept code point, what was skipped (a "gap"), so the matcher can decide
 * whether a match may span it; NORM_REPEAT collapses a run of one
 * normalized code point to one, recording the run length.
 *
 * All per-code-point data comes from ICU, read once into tables by
 * norm_tables_new(); the hot path never calls ICU. The tables are
 * immutable and may be shared by any number of threads.
 *
 * Offsets: every byte of the output records the byte range of the original
 * code point (or run) it came from, so matches map back to the input.
 *
 * The normalizer is incremental (norm_state): text may arrive in chunks cut
 * anywhere, even inside a UTF-8 sequence; feeding the chunks one after the
 * other gives the same output as feeding the whole text at once.
 */
#ifndef SLUICE_FILTER_NORMALIZE_H
#define SLUICE_FILTER_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>
#include "sluice.h"
#include "rules/policy_src.h"

typedef struct norm_tables norm_tables;

/* Build the tables from ICU. Returns 0 or a negative SLUICE_E* code. */
int norm_tables_new(norm_tables **out, sluice_error *err);
void norm_tables_free(norm_tables *t);   /* NULL is a no-op */

/* Gap byte, stored at the first byte of each output code point. */
#define NORM_GAP_COUNT 0x0Fu  /* noise code points skipped before it (max 15) */
#define NORM_GAP_SPACE 0x10u  /* the skipped noise held whitespace */
#define NORM_GAP_BREAK 0x20u  /* ... a line break or CJK/full-width punctuation */
#define NORM_GAP_START 0x40u  /* nothing but noise precedes it in the text */

/*
 * Output of normalization. All arrays have `len` valid entries, one per
 * output byte; `run` is only filled with NORM_REPEAT (else all 1) and `gap`
 * only with NORM_SKIP_NOISE (else 0, except NORM_GAP_START on the first).
 * Buffers grow as needed and are reused across calls (norm_out_reset).
 */
/* A point the lazy form can restart from (norm_text_lazy). */
typedef struct norm_ckpt {
    uint32_t in;          /* input offset (a code point boundary) */
    uint32_t out;         /* output entries before it */
    uint8_t gap;          /* pending gap there (NORM_GAP_START too) */
} norm_ckpt;

typedef struct norm_out {
    unsigned char *text;  /* normalized UTF-8 (not NUL-terminated) */
    uint32_t *src;        /* original start offset of the code point */
    uint32_t *src_end;    /* original end offset (exclusive) */
    uint8_t *gap;         /* NORM_GAP_* at a code point's first byte */
    uint8_t *run;         /* repetitions of this code point (1..255) */
    size_t len;
    size_t cap;           /* entries of text */
    size_t mcap;          /* entries of src, src_end, gap, run */
    size_t invalid;       /* invalid UTF-8 sequences read as U+FFFD */
    uint8_t tail_gap;     /* noise after the last entry (the gap the next
                             code point would get), as of the last feed */
    int lazy;             /* text only (norm_text_lazy): no metadata */
    int text_only;        /* set by the owner: norm_feed writes the text
                             alone (not with NORM_REPEAT); kept by reset */
    uint64_t lazy_base;   /* lazy: original offset of the input's start */
    norm_ckpt *ck;        /* lazy: restart points, by input offset */
    size_t nck, capck;
} norm_out;

void norm_out_init(norm_out *o);
void norm_out_reset(norm_out *o);   /* len = 0, invalid = 0; keeps memory */
void norm_out_free(norm_out *o);

/* Incremental state; plain data, may be copied. */
typedef struct norm_state {
    unsigned flags;        /* NORM_* */
    uint64_t offset;       /* original offset of the next input byte */
    unsigned char pend[4]; /* bytes of an incomplete UTF-8 sequence */
    unsigned npend;
    unsigned gap;          /* noise seen since the last kept code point */
    int started;           /* a code point has been output */
    uint32_t rep_cp;       /* NORM_REPEAT: the code point being repeated */
    unsigned rep_n;        /* ... and how many times (0: none pending) */
    uint32_t rep_src;      /* ... original start of the run */
    uint32_t rep_end;      /* ... original end of the run so far */
    uint8_t rep_gap;       /* ... gap byte before the run */
} norm_state;

/* Start a text whose first byte is at original offset `base`. */
void norm_state_init(norm_state *st, unsigned flags, uint64_t base);

/*
 * Normalize `len` bytes, appending to `out`. With `final` set, the text
 * ends here: pending bytes are flushed (an incomplete sequence as U+FFFD).
 * Returns 0, or SLUICE_ENOMEM (out is then unchanged in length).
 */
int norm_feed(const norm_tables *t, norm_state *st, const char *in,
    size_t len, int final, norm_out *out);

/* Whole text in one call: init + feed(final). */
int norm_text(const norm_tables *t, unsigned flags, const char *in,
    size_t len, norm_out *out);

/*
 * Whole text, text only: out->text and out->len as norm_text gives them
 * (for input starting at original offset `base`),
 * but no src, src_end, gap or run; instead checkpoints from which
 * norm_window_cover() rebuilds them where they are needed (out->lazy is
 * set).
 * With NORM_REPEAT (a run crosses checkpoints) this is norm_text.
 */
int norm_text_lazy(const norm_tables *t, unsigned flags, const char *in,
    size_t len, uint64_t base, norm_out *out);

/*
 * A window that grows (norm_window_cover): where its normalizer stopped.
 * Plain data; valid 0 starts a new window, and must be set whenever the
 * window is written otherwise.
 */
typedef struct norm_wcur {
    norm_state st;        /* the normalizer after the last feed */
    size_t pos;           /* input bytes fed (offset into in) */
    size_t base;          /* stream entry of the window's first entry */
    int valid;
} norm_wcur;

/*
 * Entries [first, last] (last < lz->len) of the stream that `lz`
 * (norm_text_lazy of in[0..len) with `flags`) holds as text only, with
 * every array: win gets the full normalization from a checkpoint at or
 * before `first` to the first checkpoint past `last`. The window `cur` describes grows instead when the
 * entries lie at or after its start and that checkpoint is not past
 * where it stopped: entries asked for in order of position then cost one
 * metadata pass over the stretch they span, not one window each. Entry q
 * of the stream is entry q - cur->base of win.
 */
int norm_window_cover(const norm_tables *t, unsigned flags, const char *in,
    size_t len, const norm_out *lz, size_t first, size_t last,
    norm_out *win, norm_wcur *cur);

/*
 * The first entry of lazy stream `lz` whose source starts at or after
 * original offset `from` (lz->len if none): *idx, found in window `win`
 * (entry q of the stream is entry q - *base of win).
 */
int norm_lazy_find(const norm_tables *t, unsigned flags, const char *in,
    size_t len, const norm_out *lz, uint64_t from, norm_out *win,
    size_t *base, size_t *idx);

/* Classification of a code point under the tables, for tests and lint. */
int norm_is_noise(const norm_tables *t, uint32_t cp);

/*
 * 1 if cp, under `flags` (NORM_LEET among them), is noise that leet reads
 * as letters: @ ( ! | $ +, their full-width and small forms, ‼ ... (all
 * noise without leet, holding a leet character). The matcher reads such
 * a letter both ways (matching.md). Every one beyond ASCII is encoded
 * with lead byte 0xE2 or 0xEF (the tests check it), which the matcher's
 * search for them relies on.
 */
int norm_is_leet_symbol(const norm_tables *t, unsigned flags, uint32_t cp);

#endif
