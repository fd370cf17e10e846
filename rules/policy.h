/*
 * policy.h - the compiled policy shared by every check: internal layout.
 *
 * A compiled policy is immutable once sluice_policy_load() returns; only
 * its reference count and its scratch pool change, both under their own
 * synchronisation. Literal terms of all rules are grouped by the
 * normalization they need (the policy's steps, plus per-rule variants);
 * each group is matched over its own normalized stream by the anchor
 * matcher (terms in three-byte UTF-8) and one Hyperscan literal database
 * (the other terms). Regex rules run through PCRE2-JIT on the original text
 * (`on: original`) or on the normalized text with noise kept.
 *
 * Invariants: term ids in a group index group->terms; every term has at
 * least one ref; a ref's rule index is < nrules or RULE_ALLOW.
 */
#ifndef SLUICE_RULES_POLICY_H
#define SLUICE_RULES_POLICY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <hs/hs.h>

#include "sluice.h"
#include "rules/policy_src.h"
#include "filter/anchor.h"
#include "filter/normalize.h"
#include "filter/validate.h"
#include "rules/rx_factor.h"

#define RULE_ALLOW UINT32_MAX   /* ref to the allow list, not a rule */
#define MAX_GROUPS 8            /* distinct normalizations of term rules */

typedef struct term_ref {
    uint32_t rule;      /* rule index or RULE_ALLOW */
    uint32_t slot;      /* which of the rule's terms (co-occurrence slot) */
    uint32_t next;      /* next ref of the same term, or UINT32_MAX */
} term_ref;

typedef struct cterm {
    uint32_t len;        /* normalized bytes */
    uint32_t ncp;        /* normalized code points */
    uint32_t first_ref;  /* index into group->refs */
    uint32_t runs;       /* NORM_REPEAT: offset of ncp run counts in
                            group->runpool, or UINT32_MAX if all 1 */
    uint64_t native_gaps;/* bit i: the term itself had noise before its
                            code point i (multi-word terms) */
} cterm;

typedef struct mgroup {
    unsigned flags;      /* NORM_* for this stream */
    hs_database_t *db;   /* the terms anc does not hold; NULL if none */
    anchor_set *anc;     /* terms with an anchor (filter/anchor.h); NULL
                            if none */
    cterm *terms;
    size_t nterms;
    term_ref *refs;
    size_t nrefs;
    uint8_t *runpool;
    size_t nrunpool;
    unsigned char *bytes;  /* normalized terms back to back */
    uint32_t *off;         /* per term: offset into bytes */
    uint32_t *sorted;      /* term ids sorted by bytes (prefix search) */
    uint32_t maxlen;       /* longest term, bytes */
    uint64_t first[4];     /* bit b: some term starts with byte b */
    uint64_t pair[1024];   /* bit (b0 << 8 | b1): some term starts with
                              b0 b1 (sessions test suffixes against it
                              before searching the sorted terms) */
    int has_all;           /* holds co-occurrence terms */
    int native_gaps;       /* some term has noise of its own inside */
} mgroup;

/* Hyperscan flags of a regex rule's prefilter (build_prefilter). */
#define RX_PREFILTER_FLAGS (HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH | \
    HS_FLAG_UTF8 | HS_FLAG_ALLOWEMPTY)

typedef struct crule {
    const psrc_rule *src;
    const char *id;
    const char *category;   /* the rule's category id (may be NULL) */
    int action;             /* resolved sluice_action */
    const char *mask_zh;    /* resolved masks */
    const char *mask_en;
    size_t mask_max;        /* the longer of the two, bytes */
    validate_fn validate;   /* may be NULL */
    pcre2_code *re;         /* PSRC_REGEX */
    int group;              /* PSRC_TERMS/ALL: index into groups */
    int prefiltered;        /* PSRC_REGEX: in a Hyperscan prefilter db,
                               or gated (below) */
    int gated;              /* PSRC_REGEX: its literal factors are in the
                               policy's gate_db; it is looked at only when
                               one of them occurs */
    hs_database_t *pf_db;   /* gated: its own prefilter (NULL: Hyperscan
                               refused it, PCRE2 runs when the gate fires) */
    uint32_t run_gate;      /* gated by a run of class run_class this long
                               instead of literals (rx_run_of); 0: not */
    int run_class;          /* RX_RUN_NUMBER or RX_RUN_DOTTED */
    uint32_t nslots;        /* PSRC_ALL: number of terms */
} crule;

typedef struct policy_scratch policy_scratch;

struct sluice_policy {
    atomic_long refs;
    psrc *src;
    norm_tables *nt;
    char hash_hex[65];
    int is_signed;
    char signer[72];         /* is_signed: the bundle's key name */
    uint32_t signer_id;      /* ... and its signed-note key id */
    double compile_ms;
    size_t nterms;           /* literal terms in all rules, as written */
    crule *rules;
    size_t nrules;
    mgroup groups[MAX_GROUPS];
    size_t ngroups;
    int has_regex_orig;      /* some regex rule runs on the original */
    int has_regex_norm;      /* ... on normalized text */
    int has_boundary;        /* some rule asks for word boundaries */
    unsigned regex_flags;    /* normalization for `on: normalized` regexes */
    size_t stream_context;   /* bytes of left context a session keeps */
    hs_database_t *rx_db[2]; /* regex prefilters: [0] original, [1]
                                normalized; NULL if none compiled */
    hs_database_t *gate_db[2]; /* literal factors of the gated regex rules
                                (rx_factor.h), same index; NULL if none */
    unsigned run_min[2][RX_RUN_CLASSES]; /* the shortest run gate of each
                                class on each side (0: no rule has one) */
    pthread_mutex_t pool_lock;
    policy_scratch *pool;    /* free scratch objects */
};

/* Grow *p (an array of elem-byte items, *cap of them) to hold `need`,
   doubling. Returns 0 or SLUICE_ENOMEM (*p unchanged). */
int policy_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Monotonic clock, in milliseconds. */
double policy_now_ms(void);

/*
 * Every hit of a term stream's two matchers in text[0, len), as hs_scan
 * reports hits (cb gets `from` 0): the Hyperscan database db, then the
 * anchor set anc (either may be NULL). Returns HS_SUCCESS,
 * HS_SCAN_TERMINATED if cb stopped either, or Hyperscan's error. The
 * check, lint and the floor benchmark all scan a group through it.
 */
hs_error_t policy_scan_terms(const hs_database_t *db, const anchor_set *anc,
    hs_scratch_t *hs, const char *text, size_t len, match_event_handler cb,
    void *ctx);

/* Compile a parsed policy; takes ownership of src (freed on failure). */
int policy_compile(sluice_policy **out, psrc *src, sluice_error *err);

/* Scratch for one check at a time: borrowed from the policy's pool. */
policy_scratch *policy_scratch_get(sluice_policy *p);
void policy_scratch_put(sluice_policy *p, policy_scratch *s);

#endif
