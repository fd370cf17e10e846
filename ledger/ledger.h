/*
 * ledger.h - what the engine needs of a ledger: append one verdict's
 * record, and count a decision that could not be recorded.
 */
#ifndef SLUICE_LEDGER_LEDGER_H
#define SLUICE_LEDGER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "sluice.h"

/*
 * Append the record of verdict `v` (text: the checked output, whose keyed
 * digest the record carries; NULL for none, e.g. a streamed output).
 * Returns after the record is written (batched) or synced under a
 * checkpoint (durable); *seq and hash (either may be NULL) then name it.
 * Errors: SLUICE_EIO (write or sync failed: the reason is kept for the gap
 * record), SLUICE_EMISUSE (closed), SLUICE_ENOMEM. Thread-safe.
 */
int ledger_append_verdict(sluice_ledger *l, const sluice_verdict *v,
    const sluice_meta *meta, const char *text, size_t len, uint64_t *seq,
    unsigned char hash[32]);

/* The same, with the digest already computed (dg: 32 bytes, or NULL). */
int ledger_append_verdict_digest(sluice_ledger *l, const sluice_verdict *v,
    const sluice_meta *meta, const unsigned char *dg, uint64_t *seq,
    unsigned char hash[32]);

/*
 * Start a keyed digest equal to the one ledger_append_verdict() takes of
 * a whole text, for an output that arrives in pieces (sessions): update
 * it with crypto_generichash_blake2b_update, finish with _final (32 bytes).
 */
void ledger_digest_start(const sluice_ledger *l,
    crypto_generichash_blake2b_state *st);

/*
 * A decision was taken without a record: `released` 1 under fail-open, 0
 * when it was blocked instead. Counted for the gap record the next
 * successful append writes first.
 */
void ledger_note_unrecorded(sluice_ledger *l, int released);

/*
 * Append one record frame made by a rec_encode_* function (ledger/record.h):
 * it is sealed (session, seq, time, prev, check bytes) and written under
 * the ledger's lock, then the mode's durability applies as above.
 */
int ledger_append_frame(sluice_ledger *l, unsigned char *frame, size_t flen,
    uint64_t *seq, unsigned char hash[32]);

#endif
