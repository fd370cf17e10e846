/*
 * engine.h - engine internals shared with the session code: recording a
 * finished verdict (the ledger hook) and reading the engine's limits.
 */
#ifndef SLUICE_FILTER_ENGINE_H
#define SLUICE_FILTER_ENGINE_H

#include <sodium.h>

#include "sluice.h"

/*
 * Record verdict `v` for `text` (the checked output, len bytes) in the
 * engine's ledger, if it has one, before the verdict is returned. On a
 * recording failure the verdict is rewritten per the engine's fail mode
 * (fail-closed: block with reason "ledger_unavailable"). Returns 0, or a
 * negative SLUICE_E* code only for errors the caller must report.
 */
int engine_record(sluice_engine *e, sluice_verdict *v, const sluice_meta *meta,
    const char *text, size_t len);

/*
 * Sessions see their output in pieces: engine_digest_start() starts the
 * ledger's keyed digest in *st and returns the ledger it belongs to (NULL,
 * st untouched, when the engine has none); engine_record_digest() records
 * with that digest (text NULL), if the engine still has the same ledger.
 */
void *engine_digest_start(sluice_engine *e,
    crypto_generichash_blake2b_state *st);
int engine_record_digest(sluice_engine *e, sluice_verdict *v,
    const sluice_meta *meta, const char *text, size_t len,
    const void *keyed_by, const unsigned char *dg);

size_t engine_max_input(const sluice_engine *e);
size_t engine_max_spans(const sluice_engine *e);

#endif
