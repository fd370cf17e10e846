/*
 * policy.c - the sluice_policy object: loading (parse + compile), the
 * reference count, accessors, and the pool of check scratch.
 *
 * Loading dispatches on what `path` is: a signed bundle (by its magic;
 * rules/bundle.c checks trust and parses the sources from its memory) or
 * policy sources (a directory or policy.yaml, unsigned; refused when the
 * options name trust keys and do not allow unsigned policies).
 *
 * A policy is immutable once loaded. Its reference count is atomic; the
 * scratch pool is a mutex-protected free list, so any number of threads
 * may check against one policy, each borrowing its own scratch.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/policy.h"
#include "rules/bundle.h"
#include "filter/check.h"

typedef struct scan_fwd {
    match_event_handler cb;
    void *ctx;
} scan_fwd;

static int fwd_anchor(uint32_t id, size_t end, void *ctx)
{
    const scan_fwd *f = ctx;
    return f->cb(id, 0, end, 0, f->ctx);
}

hs_error_t policy_scan_terms(const hs_database_t *db, const anchor_set *anc,
    hs_scratch_t *hs, const char *text, size_t len, match_event_handler cb,
    void *ctx)
{
    hs_error_t he = HS_SUCCESS;
    scan_fwd f = { cb, ctx };
    if (db != NULL)
        he = hs_scan(db, text, (unsigned)len, 0, hs, cb, ctx);
    if (he == HS_SUCCESS && anchor_scan(anc, (const unsigned char *)text,
            len, fwd_anchor, &f) != 0)
        he = HS_SCAN_TERMINATED;
    return he;
}

int sluice_policy_load(sluice_policy **out, const char *path,
    const sluice_policy_options *opts, sluice_error *err)
{
    psrc *src = NULL;
    int rc;

    if (out == NULL || path == NULL)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_policy_load: out and path are required");
    *out = NULL;
    if (opts != NULL && (opts->version < 1 ||
            opts->version > SLUICE_POLICY_OPTIONS_VERSION))
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_policy_options.version is %u, expected 1 to %u",
            opts->version, SLUICE_POLICY_OPTIONS_VERSION);
    if (bundle_sniff(path))
        return bundle_load_file(out, path, opts, err);
    if ((rc = bundle_check_unsigned(path, opts, err)) != 0 ||
        (rc = psrc_load(&src, path, opts, err)) != 0)
        return rc;
    return policy_compile(out, src, err);
}

sluice_policy *sluice_policy_ref(sluice_policy *p)
{
    if (p != NULL)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

static void policy_destroy(sluice_policy *p)
{
    while (p->pool != NULL) {
        policy_scratch *s = p->pool;
        p->pool = s->next;
        scratch_free(s);
    }
    for (size_t i = 0; i < p->ngroups; i++) {
        mgroup *g = &p->groups[i];
        if (g->db != NULL)
            hs_free_database(g->db);
        anchor_free(g->anc);
        free(g->terms);
        free(g->refs);
        free(g->runpool);
        free(g->bytes);
        free(g->off);
        free(g->sorted);
    }
    for (int i = 0; i < 2; i++) {
        if (p->rx_db[i] != NULL)
            hs_free_database(p->rx_db[i]);
        if (p->gate_db[i] != NULL)
            hs_free_database(p->gate_db[i]);
    }
    if (p->rules != NULL)
        for (size_t i = 0; i < p->nrules; i++) {
            pcre2_code_free(p->rules[i].re);
            if (p->rules[i].pf_db != NULL)
                hs_free_database(p->rules[i].pf_db);
        }
    free(p->rules);
    norm_tables_free(p->nt);
    psrc_free(p->src);
    pthread_mutex_destroy(&p->pool_lock);
    free(p);
}

void sluice_policy_unref(sluice_policy *p)
{
    if (p == NULL)
        return;
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        policy_destroy(p);
}

const char *sluice_policy_id(const sluice_policy *p)
{
    return p ? p->src->id : NULL;
}

int64_t sluice_policy_version(const sluice_policy *p)
{
    return p ? p->src->version : -1;
}

const char *sluice_policy_hash(const sluice_policy *p)
{
    return p ? p->hash_hex : NULL;
}

int sluice_policy_signed(const sluice_policy *p)
{
    return p ? p->is_signed : 0;
}

const char *sluice_policy_signer(const sluice_policy *p, uint32_t *id)
{
    if (id != NULL)
        *id = p != NULL && p->is_signed ? p->signer_id : 0;
    return p != NULL && p->is_signed ? p->signer : NULL;
}

size_t sluice_policy_rule_count(const sluice_policy *p)
{
    return p ? p->nrules : 0;
}

size_t sluice_policy_term_count(const sluice_policy *p)
{
    return p ? p->nterms : 0;
}

double sluice_policy_compile_ms(const sluice_policy *p)
{
    return p ? p->compile_ms : 0.0;
}

policy_scratch *policy_scratch_get(sluice_policy *p)
{
    policy_scratch *s = NULL;
    if (pthread_mutex_lock(&p->pool_lock) == 0) {
        s = p->pool;
        if (s != NULL)
            p->pool = s->next;
        (void)pthread_mutex_unlock(&p->pool_lock);
    }
    if (s == NULL)
        s = scratch_new(p);
    return s;
}

void policy_scratch_put(sluice_policy *p, policy_scratch *s)
{
    if (s == NULL)
        return;
    if (pthread_mutex_lock(&p->pool_lock) != 0) {
        scratch_free(s);
        return;
    }
    s->next = p->pool;
    p->pool = s;
    (void)pthread_mutex_unlock(&p->pool_lock);
}
