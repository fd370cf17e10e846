/*
 * engine.c - the sluice_engine: holds the current policy and runs checks.
 *
 * The current policy pointer is guarded by a mutex held only long enough
 * to take a reference; a check then runs entirely under the policy it
 * took, so a swap (sluice_engine_set_policy) never tears a check in two
 * and the old policy lives until its last check ends.
 *
 * Ledger: the engine borrows a ledger (sluice_engine_set_ledger) and
 * records every verdict in it before returning the verdict. If the record
 * cannot be written, the fail mode decides: closed (default) turns the
 * verdict into a block with reason "ledger_unavailable"; open keeps it,
 * says "ledger_unavailable_fail_open", and the ledger writes a gap record
 * (how many decisions, when) once it can write again.
 *
 * Labels (filter/label.c): once recorded, a whole-text verdict gets the
 * explicit label in its output and the implicit label, whose ProduceID is
 * the record's hash; a check that fails after check_run() frees its
 * verdict, so *out is NULL on every error.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "filter/check.h"
#include "filter/engine.h"
#include "filter/label.h"
#include "filter/verdict.h"
#include "ledger/ledger.h"
#include "state/state.h"

#define DEFAULT_MAX_INPUT (16u << 20)
#define DEFAULT_MAX_SPANS 10000u

struct sluice_engine {
    pthread_mutex_t lock;
    sluice_policy *policy;    /* owned reference, may be NULL */
    size_t max_input;
    size_t max_spans;
    sluice_ledger *ledger;    /* borrowed, may be NULL (lock) */
    sluice_fail_mode fail;    /* (lock) */
    state_attach *state;      /* Redis cache and strikes (state/hook.c):
                                 a reference, may be NULL (lock) */
};

int sluice_engine_new(sluice_engine **out, const sluice_engine_options *opts,
    sluice_error *err)
{
    if (out == NULL)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_engine_new: out is required");
    *out = NULL;
    if (opts != NULL && opts->version != SLUICE_ENGINE_OPTIONS_VERSION)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_engine_options.version is %u, expected %u",
            opts->version, SLUICE_ENGINE_OPTIONS_VERSION);
    sluice_engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    if (pthread_mutex_init(&e->lock, NULL) != 0) {
        free(e);
        return psrc_error(err, SLUICE_EINTERNAL, NULL, 0,
            "mutex init failed");
    }
    e->max_input = opts && opts->max_input ? opts->max_input :
        DEFAULT_MAX_INPUT;
    e->max_spans = opts && opts->max_spans ? opts->max_spans :
        DEFAULT_MAX_SPANS;
    *out = e;
    return 0;
}

void sluice_engine_free(sluice_engine *e)
{
    if (e == NULL)
        return;
    sluice_policy_unref(e->policy);
    state_attach_unref(e->state);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

int sluice_engine_set_policy(sluice_engine *e, sluice_policy *p)
{
    if (e == NULL)
        return SLUICE_EINVAL;
    sluice_policy *old;
    sluice_policy_ref(p);
    if (pthread_mutex_lock(&e->lock) != 0) {
        sluice_policy_unref(p);
        return SLUICE_EINTERNAL;
    }
    old = e->policy;
    e->policy = p;
    (void)pthread_mutex_unlock(&e->lock);
    sluice_policy_unref(old);
    return 0;
}

sluice_policy *sluice_engine_policy(sluice_engine *e)
{
    sluice_policy *p = NULL;
    if (e == NULL || pthread_mutex_lock(&e->lock) != 0)
        return NULL;
    p = sluice_policy_ref(e->policy);
    (void)pthread_mutex_unlock(&e->lock);
    return p;
}

size_t engine_max_input(const sluice_engine *e)
{
    return e->max_input;
}

size_t engine_max_spans(const sluice_engine *e)
{
    return e->max_spans;
}

int sluice_engine_set_ledger(sluice_engine *e, sluice_ledger *l,
    sluice_fail_mode fail)
{
    if (e == NULL || (fail != SLUICE_FAIL_CLOSED && fail != SLUICE_FAIL_OPEN))
        return SLUICE_EINVAL;
    if (pthread_mutex_lock(&e->lock) != 0)
        return SLUICE_EINTERNAL;
    e->ledger = l;
    e->fail = fail;
    (void)pthread_mutex_unlock(&e->lock);
    return 0;
}

state_attach *engine_swap_state(sluice_engine *e, state_attach *a)
{
    state_attach *old;
    if (pthread_mutex_lock(&e->lock) != 0)
        return a;                 /* not taken: the caller drops it */
    old = e->state;
    e->state = a;
    (void)pthread_mutex_unlock(&e->lock);
    return old;
}

state_attach *engine_state_ref(sluice_engine *e)
{
    state_attach *a = NULL;
    if (pthread_mutex_lock(&e->lock) == 0) {
        a = state_attach_ref(e->state);
        (void)pthread_mutex_unlock(&e->lock);
    }
    return a;
}

/*
 * Record v before it is returned. A failure to record is not an error of
 * the check: the verdict changes per the fail mode, and only an
 * allocation failure while changing it is returned.
 */
void *engine_digest_start(sluice_engine *e,
    crypto_generichash_blake2b_state *st)
{
    sluice_ledger *l;
    if (pthread_mutex_lock(&e->lock) != 0)
        return NULL;
    l = e->ledger;
    (void)pthread_mutex_unlock(&e->lock);
    if (l != NULL)
        ledger_digest_start(l, st);
    return l;
}

int engine_record(sluice_engine *e, sluice_verdict *v, const sluice_meta *meta,
    const char *text, size_t len)
{
    return engine_record_digest(e, v, meta, text, len, NULL, NULL);
}

int engine_record_digest(sluice_engine *e, sluice_verdict *v,
    const sluice_meta *meta, const char *text, size_t len,
    const void *keyed_by, const unsigned char *dg)
{
    sluice_ledger *l;
    sluice_fail_mode fail;
    int rc;
    if (pthread_mutex_lock(&e->lock) != 0)
        return SLUICE_EINTERNAL;
    l = e->ledger;
    fail = e->fail;
    (void)pthread_mutex_unlock(&e->lock);
    if (l == NULL)
        return 0;
    if (text != NULL || dg == NULL || keyed_by != l)
        rc = ledger_append_verdict(l, v, meta, text, len, &v->record_seq,
            v->record_hash);
    else
        rc = ledger_append_verdict_digest(l, v, meta, dg, &v->record_seq,
            v->record_hash);
    if (rc == 0) {
        v->recorded = 1;
        return 0;
    }
    ledger_note_unrecorded(l, fail == SLUICE_FAIL_OPEN);
    if (fail == SLUICE_FAIL_OPEN) {
        v->reason = "ledger_unavailable_fail_open";
        return 0;
    }
    return verdict_force_block(v, "ledger_unavailable", text, len);
}

int engine_check(sluice_engine *e, const char *text, size_t len,
    const sluice_meta *meta, sluice_verdict **out, sluice_state_info *info,
    sluice_error *err)
{
    if (out == NULL || e == NULL || (text == NULL && len > 0))
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_check: engine, text and out are required");
    *out = NULL;
    if (len > e->max_input)
        return psrc_error(err, SLUICE_ETOOBIG, NULL, 0,
            "input is %zu bytes, over the limit of %zu", len, e->max_input);
    if (len > UINT32_MAX - 1)
        return psrc_error(err, SLUICE_ETOOBIG, NULL, 0,
            "input is over 4 GiB");
    sluice_policy *p = sluice_engine_policy(e);
    if (p == NULL)
        return psrc_error(err, SLUICE_ENOPOLICY, NULL, 0,
            "no policy loaded: output must not be released");
    policy_scratch *s = policy_scratch_get(p);
    int rc;
    if (s == NULL) {
        rc = psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    } else {
        state_attach *st = engine_state_ref(e);
        rc = st != NULL ? state_check(st, p, s, text ? text : "", len,
                e->max_spans, meta, out, info) :
            check_run(p, s, text ? text : "", len, e->max_spans, out);
        state_attach_unref(st);
        policy_scratch_put(p, s);
        if (rc == 0)
            rc = engine_record(e, *out, meta, text ? text : "", len);
        /* labels come after the record: a fail-closed block is never
           labelled, and the implicit label names the record */
        if (rc == 0)
            rc = label_apply(*out, text ? text : "", len);
        if (rc != 0) {
            sluice_verdict_free(*out);
            *out = NULL;
            psrc_error(err, rc, NULL, 0, "check failed: %s",
                sluice_strerror(rc));
        }
    }
    sluice_policy_unref(p);
    return rc;
}

int sluice_check(sluice_engine *e, const char *text, size_t len,
    const sluice_meta *meta, sluice_verdict **out, sluice_error *err)
{
    return engine_check(e, text, len, meta, out, NULL, err);
}
