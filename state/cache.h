/*
 * cache.h - verdict cache entries: a verdict without its text, and the
 * verdict rebuilt from an entry and the text it was made for.
 */
#ifndef SLUICE_STATE_CACHE_H
#define SLUICE_STATE_CACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

/* Entries hold at most this many spans; verdicts with more are checked. */
#define CACHE_MAX_SPANS 4096

/*
 * Term pointer -> (rule, term index) for one policy: a span names its term
 * by pointer, an entry by index. Rules with few terms are searched in
 * place; the index covers the rest, built when first needed (one pass
 * over the policy's terms, then a sort). One per attach; `lock` guards
 * it; it holds a reference to the policy it indexes.
 */
typedef struct cache_terms {
    pthread_mutex_t lock;
    sluice_policy *policy;      /* a reference, or NULL */
    struct cache_tref *refs;      /* sorted by pointer */
    size_t n;
} cache_terms;

int cache_terms_init(cache_terms *t);
void cache_terms_free(cache_terms *t);

/*
 * Encode fresh verdict v of policy p for text[0..len) as an entry. The
 * entry is rebuilt (cache_decode) and compared with v field by field;
 * only an exact match is returned. Returns 0 with *out (malloc'd, the
 * caller's) and *outlen; 1 when v is not cacheable (a reason, truncated
 * spans, over CACHE_MAX_SPANS, labels already applied, or the rebuild
 * differs); SLUICE_ENOMEM.
 */
int cache_encode(cache_terms *t, sluice_policy *p, const sluice_verdict *v,
    const char *text, size_t len, unsigned char **out, size_t *outlen);

/*
 * Rebuild the verdict an entry holds for text[0..len) under policy p (the
 * policy whose hash keyed the entry). Returns 0 with *out (the caller's);
 * 1 when the entry does not fit (malformed, another length, an index out
 * of range, more spans than max_spans): treat it as a miss;
 * SLUICE_ENOMEM.
 */
int cache_decode(sluice_policy *p, const unsigned char *val, size_t vlen,
    const char *text, size_t len, size_t max_spans, sluice_verdict **out);

#endif
