/*
 * label.c - GB 45438 labels: the explicit label a released output carries
 * and the implicit label (the "AIGC" metadata object) a verdict carries.
 *
 * Design
 *   - The decision is a function of the verdict alone (its action, its
 *     rules, its policy's `label:` settings): label_plan(). A whole-text
 *     check and a session of the same text make the same verdict, so they
 *     label alike. A block is never labelled: its output is the refusal.
 *   - Where: with `always`, at the policy's `position`; a label that a
 *     rule asks for goes at the end, whatever `position` says, because a
 *     session has released the start of the text long before it knows
 *     that such a rule fires. Sessions put a leading label before their
 *     first released byte (session.c, label_hold/label_lead_out).
 *   - Language, with `auto`: a label at the end follows the refusal's
 *     rule (Chinese if the text holds an ideograph); one at the start is
 *     decided before the rest of the text exists, so it follows the
 *     text's first letter, looked for in the first LABEL_LANG_SCAN bytes
 *     only (a session holds back at most that much to decide). Both read
 *     the checked input, not the redacted output, as sessions see it.
 *   - ProduceID: the verdict's ledger record hash when it was recorded
 *     (it names that record and no other, and verifies with a receipt),
 *     else 128 bits from libsodium's randombytes.
 *
 * Invariants: v->label is NULL or one of the policy's two label texts;
 * v->aigc == 1 implies v->produce_id holds 32 or 64 hex digits. No state
 * outside the verdict and the (immutable) policy: any thread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <unicode/uchar.h>

#include "filter/check.h"
#include "filter/label.h"
#include "filter/verdict.h"
#include "rules/policy.h"

static const psrc_label *settings(const sluice_policy *p)
{
    return &p->src->label;
}

/* 1 if a rule whose action is label is among v's rules. v->rules are the
 * policy's rule ids (the same pointers), in policy order. */
static int label_rule_fired(const sluice_verdict *v)
{
    const sluice_policy *p = v->policy;
    size_t j = 0;

    if (v->action == SLUICE_LABEL)
        return 1;
    if (v->action < SLUICE_LABEL || p->src->label_rules == 0)
        return 0;
    for (size_t k = 0; k < p->nrules && j < v->nrules; k++) {
        if (p->rules[k].id != v->rules[j])
            continue;
        if (p->rules[k].action == SLUICE_LABEL)
            return 1;
        j++;
    }
    return 0;
}

int label_plan(const sluice_verdict *v)
{
    const psrc_label *l = settings(v->policy);

    if (v->action == SLUICE_BLOCK)
        return LABEL_NONE;
    if (l->always)
        return l->position;
    return label_rule_fired(v) ? SLUICE_LABEL_AT_END : LABEL_NONE;
}

int label_leads(const sluice_policy *p)
{
    const psrc_label *l = settings(p);
    return l->always && l->position == SLUICE_LABEL_AT_START;
}

/*
 * The code point at t[i] (n bytes from i on): its length in *k, or *k 0
 * when the bytes there are not a well-formed UTF-8 sequence. Returns -1
 * (*k 0) when t ends inside what may still become one.
 */
static int32_t decode_at(const unsigned char *t, size_t n, size_t *k)
{
    unsigned char c = t[0], lo = 0x80, hi = 0xBF;
    size_t need;
    int32_t cp;

    *k = 0;
    if (c < 0x80) {
        *k = 1;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    cp = c & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < need; i++) {
        if (i >= n)
            return -1;
        if (i == 1 ? t[i] < lo || t[i] > hi : (t[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (t[i] & 0x3F);
    }
    *k = need;
    return cp;
}

int label_start_zh(const sluice_policy *p, const char *text, size_t len,
    size_t *pos, int final)
{
    const char *lang = settings(p)->language;
    const unsigned char *t = (const unsigned char *)text;
    size_t i = *pos;

    if (strcmp(lang, "zh") == 0)
        return 1;
    if (strcmp(lang, "en") == 0)
        return 0;
    while (i < LABEL_LANG_SCAN && i < len) {
        size_t k;
        int32_t cp = decode_at(t + i, len - i, &k);
        if (cp < 0 && !final) {
            *pos = i;
            return -1;              /* a sequence not yet whole */
        }
        if (k == 0) {
            i++;                    /* not UTF-8: no letter */
            continue;
        }
        if (cp >= 0x3400 && cp <= 0x9FFF)
            return 1;               /* as check_first_cjk() counts them */
        if (u_isUAlphabetic(cp))
            return 0;
        i += k;
    }
    *pos = i;
    return i < LABEL_LANG_SCAN && !final ? -1 : 0;
}

int label_end_zh(const sluice_policy *p, int has_ideograph)
{
    const char *lang = settings(p)->language;

    if (strcmp(lang, "zh") == 0)
        return 1;
    if (strcmp(lang, "en") == 0)
        return 0;
    return has_ideograph != 0;
}

const char *label_text(const sluice_policy *p, int zh)
{
    return zh ? settings(p)->text_zh : settings(p)->text_en;
}

const char *label_separator(const sluice_policy *p)
{
    return settings(p)->separator;
}

static void to_hex(char *out, const unsigned char *b, size_t n)
{
    static const char hexd[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[b[i] >> 4];
        out[2 * i + 1] = hexd[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int label_finish(sluice_verdict *v, int position, int zh)
{
    const psrc_label *l = settings(v->policy);
    int plan = label_plan(v);

    v->label = position == LABEL_NONE ? NULL : label_text(v->policy, zh);
    v->label_pos = position == LABEL_NONE ? 0 : position;
    v->aigc = 0;
    v->produce_id[0] = '\0';
    if (plan == LABEL_NONE && !(l->implicit_all && v->action != SLUICE_BLOCK))
        return 0;
    if (v->recorded) {
        to_hex(v->produce_id, v->record_hash, sizeof v->record_hash);
    } else {
        unsigned char rnd[16];
        if (sodium_init() < 0)
            return SLUICE_EINTERNAL;
        randombytes_buf(rnd, sizeof rnd);
        to_hex(v->produce_id, rnd, sizeof rnd);
    }
    v->aigc = 1;
    return 0;
}

int label_apply(sluice_verdict *v, const char *text, size_t len)
{
    const sluice_policy *p = v->policy;
    int plan = label_plan(v), zh;
    size_t at = 0;

    if (plan == LABEL_NONE || len == 0)
        return label_finish(v, LABEL_NONE, 0);
    zh = plan == SLUICE_LABEL_AT_START ? label_start_zh(p, text, len, &at, 1) :
        label_end_zh(p, check_first_cjk(text, len) != SIZE_MAX);
    const char *lab = label_text(p, zh), *sep = label_separator(p);
    size_t ll = strlen(lab), sl = strlen(sep), ol = v->output_len;
    char *o = malloc(ol + ll + sl + 1), *w = o;
    if (o == NULL)
        return SLUICE_ENOMEM;
    if (plan == SLUICE_LABEL_AT_START) {
        memcpy(w, lab, ll);
        memcpy(w + ll, sep, sl);
        w += ll + sl;
    }
    if (ol > 0)
        memcpy(w, v->output, ol);
    w += ol;
    if (plan == SLUICE_LABEL_AT_END) {
        memcpy(w, sep, sl);
        memcpy(w + sl, lab, ll);
        w += sl + ll;
    }
    *w = '\0';
    verdict_set_output(v, o, ol + ll + sl);
    return label_finish(v, plan, zh);
}
