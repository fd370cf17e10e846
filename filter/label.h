/*
 * label.h - GB 45438 labels on verdicts: which outputs carry the explicit
 * label and where, in which language, and the implicit (AIGC) metadata.
 * Shared by whole-text checks (engine.c), sessions (session.c) and the
 * verdict readers (verdict.c). docs/labels.md is the user's view.
 */
#ifndef SLUICE_FILTER_LABEL_H
#define SLUICE_FILTER_LABEL_H

#include <stddef.h>

#include "sluice.h"

#define LABEL_NONE (-1)        /* no explicit label */
#define LABEL_LANG_SCAN 1024   /* bytes in which a leading label looks for
                                  the text's first letter */

/*
 * Where verdict v's output gets the explicit label: LABEL_NONE, or a
 * sluice_label_position. Never for a block; with `always` at the policy's
 * `position`; else at the end when a rule whose action is label fired
 * (the verdict's action is label, or redact outranking it). Decided
 * from v's action and rules alone, so a session and a whole-text check
 * of the same text agree.
 */
int label_plan(const sluice_verdict *v);

/* 1 if every output of policy p that is released at all starts with the
   explicit label (`always` and `position: start`). */
int label_leads(const sluice_policy *p);

/*
 * The language of a label at the start of text[0..len): the label's
 * fixed language, or with `auto` that of the text's first letter among
 * the code points starting in its first LABEL_LANG_SCAN bytes (an
 * ideograph U+3400..U+9FFF: Chinese; any other letter, or none: English).
 * Returns 1 Chinese, 0 English, or -1 when more text is needed to know
 * (only when `final` is 0: the text may continue). *pos is where to
 * resume: 0 on the first call, kept between calls on a growing text.
 */
int label_start_zh(const sluice_policy *p, const char *text, size_t len,
    size_t *pos, int final);

/* The language of a label at the end: the label's fixed language, or with
   `auto` Chinese if the text holds an ideograph (as a refusal's). */
int label_end_zh(const sluice_policy *p, int has_ideograph);

/* The label text (NUL-terminated, the policy's) and the separator. */
const char *label_text(const sluice_policy *p, int zh);
const char *label_separator(const sluice_policy *p);

/*
 * Set v's label fields: the explicit label (at `position`, in language
 * `zh`; LABEL_NONE: none) and, if v gets one (label_plan() is not
 * LABEL_NONE, or `implicit: all` and v is not a block), the implicit
 * label with its ProduceID: v's ledger record hash when v was recorded,
 * else 128 random bits. Call it after the verdict is recorded. Returns 0
 * or SLUICE_EINTERNAL (libsodium could not start).
 */
int label_finish(sluice_verdict *v, int position, int zh);

/*
 * Whole-text checks: label v (already recorded) for the checked `text`:
 * put the explicit label into v's output where label_plan() says (not
 * for an empty text), then label_finish(). Returns 0, SLUICE_ENOMEM (v
 * unchanged but for nothing) or SLUICE_EINTERNAL.
 */
int label_apply(sluice_verdict *v, const char *text, size_t len);

#endif
