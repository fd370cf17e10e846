/*
 * verdict.h - the verdict object's layout, shared by the code that makes
 * verdicts (check.c) and the code that reads and prints them (verdict.c).
 */
#ifndef SLUICE_FILTER_VERDICT_H
#define SLUICE_FILTER_VERDICT_H

#include "sluice.h"

struct sluice_verdict {
    sluice_action action;
    char *output;            /* owned (or in the lists block, see
                                output_block), NUL-terminated */
    size_t output_len;
    const char **rules;      /* borrowed from policy */
    size_t nrules;
    const char **cats;       /* borrowed from policy */
    size_t ncats;
    sluice_span *spans;      /* rule names borrowed from policy */
    size_t nspans;
    int lists_block;         /* rules, cats and spans are one allocation,
                                at rules (verdict_lists) */
    int output_block;        /* ... and the output lives in it too */
    int truncated;
    size_t invalid;
    sluice_policy *policy;   /* a reference, dropped by verdict_free */
    const char *reason;      /* static string or NULL */
    /* the ledger record (engine_record), when one was written */
    int recorded;
    uint64_t record_seq;
    unsigned char record_hash[32];
    /* labels (filter/label.c), set once the verdict is recorded */
    const char *label;       /* the explicit label in the output (borrowed
                                from the policy), or NULL */
    int label_pos;           /* sluice_label_position of `label` */
    int aigc;                /* 1: the verdict carries the implicit label */
    char produce_id[65];     /* its ProduceID, lower-case hex */
    /* what Redis did (state/hook.c, session strikes), when it was used */
    int has_state;
    sluice_state_info state;
};

/*
 * Allocate v's rules and categories (nr each) and spans (nspans) as one
 * zeroed block, and with `out` (may be NULL: the output is made later)
 * a copy of out[0..out_len) as v's output at its end: one allocation per
 * verdict instead of four. Returns 0 or SLUICE_ENOMEM.
 */
int verdict_lists(sluice_verdict *v, size_t nr, size_t nspans,
    const char *out, size_t out_len);

/* Make o (malloc'd, NUL-terminated, n bytes) v's output, freeing the
   one before unless it lives in the lists block. */
void verdict_set_output(sluice_verdict *v, char *o, size_t n);

/*
 * Turn `v` into a block with `reason` (a static string): its output
 * becomes the policy's refusal, in the language the policy chooses for
 * `text` (the checked output; NULL: judged from v's own output). Rules,
 * categories and spans stay, as evidence of what matched. Returns 0 or
 * SLUICE_ENOMEM (v is then unchanged).
 */
int verdict_force_block(sluice_verdict *v, const char *reason,
    const char *text, size_t len);

#endif
