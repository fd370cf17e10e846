/*
 * engine.h - engine internals shared with the session code: recording a
 * finished verdict (the ledger hook) and reading the engine's limits.
 */
#ifndef SLUICE_FILTER_ENGINE_H
#define SLUICE_FILTER_ENGINE_H

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

size_t engine_max_input(const sluice_engine *e);
size_t engine_max_spans(const sluice_engine *e);

#endif
