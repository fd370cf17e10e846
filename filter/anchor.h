/*
 * anchor.h - the literal matcher for terms written in three-byte UTF-8
 * (Chinese, after normalization): each term is found through an anchor,
 * two or three of its characters in a row (or one beside an ASCII byte),
 * looked up by hash at every character of the text; Hyperscan keeps the
 * terms that have no anchor.
 *
 * Why: on Chinese text a Hyperscan literal database of 10k terms reads
 * about 1.9 ns per byte (its first stage sees a candidate at most
 * characters, since every term starts with one of a few lead bytes); one
 * hash and one bit test per character read 0.5-0.7. docs/matching.md,
 * "Terms in Chinese", has the measurements and the choice of anchors.
 *
 * The matcher reports what a Hyperscan literal database of the same
 * terms would: every occurrence of every anchored term, overlapping ones
 * included, as (term id, end offset). The order differs (by anchor, not
 * by end).
 */
#ifndef SLUICE_FILTER_ANCHOR_H
#define SLUICE_FILTER_ANCHOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct anchor_set anchor_set;   /* immutable once built */

/* Called for each occurrence: term id, its end offset in the text
   scanned. Nonzero stops the scan (anchor_scan then returns 1). */
typedef int (*anchor_fn)(uint32_t id, size_t end, void *ctx);

/*
 * Index terms [0, n): term i is bytes[off[i], off[i] + len[i]), valid
 * UTF-8. `bytes` must outlive the set (it is not copied). Terms with no
 * two three-byte sequences in a row and no ASCII byte beside one are not
 * indexed: their ids are written to rest[]
 * (room for n), their number to *nrest. *out is NULL if no term was
 * indexed. 0 or SLUICE_ENOMEM.
 */
int anchor_build(const unsigned char *bytes, const uint32_t *off,
    const uint32_t *len, size_t n, anchor_set **out, uint32_t *rest,
    size_t *nrest);

void anchor_free(anchor_set *a);

/* Terms indexed, and bytes held (not counting the term bytes). */
size_t anchor_count(const anchor_set *a);
size_t anchor_bytes(const anchor_set *a);

/*
 * Every occurrence in text[0, n) of every indexed term. text is valid
 * UTF-8 (normalized text is), though it may start inside a character.
 * Returns 0, or 1 if fn stopped the scan. Reads text[0, n) only.
 */
int anchor_scan(const anchor_set *a, const unsigned char *text, size_t n,
    anchor_fn fn, void *ctx);

#endif
