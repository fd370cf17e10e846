/*
 * state.h - what the engine (filter/engine.c) calls of the Redis state
 * layer, and the engine calls state/ makes in turn.
 *
 * An engine holds at most one state_attach (the Redis handle it borrows
 * and the cache and strike settings), reference-counted: a check takes a
 * reference under the engine's lock and drops it when done, so
 * sluice_engine_set_redis may replace it while checks run.
 */
#ifndef SLUICE_STATE_STATE_H
#define SLUICE_STATE_STATE_H

#include <stddef.h>

#include "sluice.h"
#include "rules/policy.h"

typedef struct state_attach state_attach;

/* Take / drop a reference (NULL allowed; the last drop frees). */
state_attach *state_attach_ref(state_attach *a);
void state_attach_unref(state_attach *a);

/*
 * A whole-text check through the state layer, in place of check_run():
 * the cache (lookup, else check_run and store) and strikes (count, and
 * escalate), within the handle's timeout in all. Redis failing is never
 * an error here: the fail modes apply and *info says what happened
 * (info may be NULL). Returns check_run's result.
 */
int state_check(state_attach *a, sluice_policy *p, policy_scratch *s,
    const char *text, size_t len, size_t max_spans, const sluice_meta *meta,
    sluice_verdict **out, sluice_state_info *info);

/*
 * A streaming session's side (filter/session.c), each call within the
 * handle's timeout. state_session_open: at the session's start, whether
 * its subject is suspended; returns 1 if the session must block (a
 * suspension with `block`), else 0, with *info filled. state_session_close:
 * count the session's decisive verdict `v` as a strike (or as the end of
 * a row), fill v's state from *info; a fail-closed strike failure turns v
 * into a block. Returns 0 or SLUICE_ENOMEM.
 */
int state_session_open(state_attach *a, const sluice_policy *p,
    const sluice_meta *meta, sluice_state_info *info);
int state_session_close(state_attach *a, sluice_verdict *v,
    const sluice_meta *meta, sluice_state_info *info);

/* ---- implemented in filter/engine.c ----------------------------------- */

/* Make `a` the engine's attach (the engine takes over the reference the
   caller passes); returns the previous one, whose reference is now the
   caller's. */
state_attach *engine_swap_state(sluice_engine *e, state_attach *a);

/* A reference to the engine's attach, or NULL (the caller unrefs it). */
state_attach *engine_state_ref(sluice_engine *e);

/* sluice_check with *info (may be NULL) filled by the state layer. */
int engine_check(sluice_engine *e, const char *text, size_t len,
    const sluice_meta *meta, sluice_verdict **out, sluice_state_info *info,
    sluice_error *err);

#endif
