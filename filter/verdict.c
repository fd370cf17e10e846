/*
 * verdict.c - reading a verdict, freeing it, and printing it as JSON.
 *
 * The JSON is written in one pass into one growing buffer. Strings are
 * escaped per RFC 8259; bytes that are not valid UTF-8 (an allowed output
 * is the caller's input, which may hold some) are written as \ufffd, so
 * the JSON is always valid UTF-8.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/check.h"
#include "filter/label.h"
#include "filter/utf8.h"
#include "filter/verdict.h"
#include "rules/policy.h"

void sluice_verdict_free(sluice_verdict *v)
{
    if (v == NULL)
        return;
    if (!v->output_block)
        free(v->output);
    free(v->rules);
    if (!v->lists_block) {
        free(v->cats);
        free(v->spans);
    }
    sluice_policy_unref(v->policy);
    free(v);
}

int verdict_lists(sluice_verdict *v, size_t nr, size_t nspans,
    const char *out, size_t out_len)
{
    size_t a = nr ? nr : 1, b = nspans ? nspans : 1, lists, tail = 0;
    if (a > SIZE_MAX / 4 / sizeof *v->rules ||
        b > SIZE_MAX / 4 / sizeof *v->spans)
        return SLUICE_ENOMEM;
    lists = 2 * a * sizeof *v->rules + b * sizeof *v->spans;
    if (out != NULL) {
        if (out_len >= SIZE_MAX / 2 - lists)
            return SLUICE_ENOMEM;
        tail = out_len + 1;
    }
    /* pointers first, then spans: every part stays aligned; the output
       (bytes) last. Only the lists need zeroing. */
    char *p = malloc(lists + tail);
    if (p == NULL)
        return SLUICE_ENOMEM;
    memset(p, 0, lists);
    v->rules = (const char **)(void *)p;
    v->cats = v->rules + a;
    v->spans = (sluice_span *)(void *)(v->cats + a);
    v->lists_block = 1;
    if (out != NULL) {
        v->output = p + lists;
        if (out_len > 0)
            memcpy(v->output, out, out_len);
        v->output[out_len] = '\0';
        v->output_len = out_len;
        v->output_block = 1;
    }
    return 0;
}

void verdict_set_output(sluice_verdict *v, char *o, size_t n)
{
    if (!v->output_block)
        free(v->output);
    v->output = o;
    v->output_len = n;
    v->output_block = 0;
}

sluice_action sluice_verdict_action(const sluice_verdict *v)
{
    return v ? v->action : SLUICE_BLOCK;
}

const char *sluice_verdict_output(const sluice_verdict *v, size_t *len)
{
    if (v == NULL) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->output_len;
    return v->output;
}

size_t sluice_verdict_rule_count(const sluice_verdict *v)
{
    return v ? v->nrules : 0;
}

const char *sluice_verdict_rule(const sluice_verdict *v, size_t i)
{
    return v && i < v->nrules ? v->rules[i] : NULL;
}

size_t sluice_verdict_category_count(const sluice_verdict *v)
{
    return v ? v->ncats : 0;
}

const char *sluice_verdict_category(const sluice_verdict *v, size_t i)
{
    return v && i < v->ncats ? v->cats[i] : NULL;
}

size_t sluice_verdict_span_count(const sluice_verdict *v)
{
    return v ? v->nspans : 0;
}

int sluice_verdict_span(const sluice_verdict *v, size_t i, sluice_span *out)
{
    if (v == NULL || out == NULL || i >= v->nspans)
        return SLUICE_EINVAL;
    *out = v->spans[i];
    return 0;
}

int sluice_verdict_spans_truncated(const sluice_verdict *v)
{
    return v ? v->truncated : 0;
}

size_t sluice_verdict_invalid_utf8(const sluice_verdict *v)
{
    return v ? v->invalid : 0;
}

const sluice_policy *sluice_verdict_policy(const sluice_verdict *v)
{
    return v ? v->policy : NULL;
}

int sluice_verdict_read(const sluice_verdict *v, sluice_verdict_info *out)
{
    if (v == NULL || out == NULL ||
        out->version != SLUICE_VERDICT_INFO_VERSION)
        return SLUICE_EINVAL;
    out->action = v->action;
    out->output = v->output;
    out->output_len = v->output_len;
    out->reason = v->reason;
    out->nrules = v->nrules;
    out->ncategories = v->ncats;
    out->nspans = v->nspans;
    out->spans_truncated = v->truncated;
    out->invalid_utf8 = v->invalid;
    out->policy = v->policy;
    out->label = v->label;
    out->label_position = v->label != NULL ?
        (sluice_label_position)v->label_pos : SLUICE_LABEL_AT_START;
    out->aigc = v->aigc;
    out->recorded = v->recorded;
    out->record_seq = v->recorded ? v->record_seq : 0;
    if (v->recorded)
        memcpy(out->record_hash, v->record_hash, 32);
    else
        memset(out->record_hash, 0, 32);
    return 0;
}

int sluice_verdict_state(const sluice_verdict *v, sluice_state_info *out)
{
    int has = v != NULL && v->has_state;
    if (out != NULL) {
        if (has) {
            *out = v->state;
        } else {
            memset(out, 0, sizeof *out);
            out->cache = SLUICE_CACHE_OFF;
        }
    }
    return has;
}

const char *sluice_verdict_reason(const sluice_verdict *v)
{
    return v ? v->reason : NULL;
}

int sluice_verdict_record(const sluice_verdict *v, uint64_t *seq,
    unsigned char hash[32])
{
    if (v == NULL || !v->recorded)
        return 0;
    if (seq != NULL)
        *seq = v->record_seq;
    if (hash != NULL)
        memcpy(hash, v->record_hash, 32);
    return 1;
}

/* ---- labels ------------------------------------------------------------ */

const char *sluice_verdict_label(const sluice_verdict *v,
    sluice_label_position *position)
{
    if (position != NULL)
        *position = v != NULL && v->label != NULL ?
            (sluice_label_position)v->label_pos : SLUICE_LABEL_AT_START;
    return v != NULL ? v->label : NULL;
}

/* The standard's metadata keys, in its order (= sluice_aigc_field);
 * arrays, not pointers, so that the table is plain .rodata. */
static const char aigc_keys[][18] = {
    "Label", "ContentProducer", "ProduceID", "ReservedCode1",
    "ContentPropagator", "PropagateID", "ReservedCode2"
};
#define AIGC_NFIELDS (sizeof aigc_keys / sizeof aigc_keys[0])

const char *sluice_verdict_aigc(const sluice_verdict *v,
    sluice_aigc_field field)
{
    const psrc_label *l;

    if (v == NULL || !v->aigc)
        return NULL;
    l = &v->policy->src->label;
    switch (field) {
    case SLUICE_AIGC_LABEL:
        return "1";        /* GB 45438: 1 = AI-generated content */
    case SLUICE_AIGC_CONTENT_PRODUCER:
        return l->producer;
    case SLUICE_AIGC_PRODUCE_ID:
        return v->produce_id;
    case SLUICE_AIGC_RESERVED_CODE1:
        return l->reserved1 != NULL ? l->reserved1 : "";
    case SLUICE_AIGC_CONTENT_PROPAGATOR:
        return l->propagator != NULL ? l->propagator : "";
    case SLUICE_AIGC_PROPAGATE_ID:
        return l->propagator != NULL ? v->produce_id : "";
    case SLUICE_AIGC_RESERVED_CODE2:
        return l->reserved2 != NULL ? l->reserved2 : "";
    }
    return NULL;
}

int verdict_force_block(sluice_verdict *v, const char *reason,
    const char *text, size_t len)
{
    const sluice_policy *p = v->policy;
    if (text == NULL) {
        text = v->output ? v->output : "";
        len = v->output ? v->output_len : 0;
    }
    if (v->action != SLUICE_BLOCK || v->output == NULL) {
        const char *ref = check_refusal(p, NULL, 0, NULL,
            len, check_first_cjk(text, len));
        size_t n = strlen(ref);
        char *o = malloc(n + 1);
        if (o == NULL)
            return SLUICE_ENOMEM;
        memcpy(o, ref, n + 1);
        verdict_set_output(v, o, n);
        v->action = SLUICE_BLOCK;
    }
    v->reason = reason;
    return 0;
}

/* ---- JSON ------------------------------------------------------------- */

typedef struct jbuf {
    char *p;
    size_t len, cap;
    int oom;
} jbuf;

static void jput(jbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n + 1)
            c *= 2;
        char *q = realloc(b->p, c);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void jlit(jbuf *b, const char *s)
{
    jput(b, s, strlen(s));
}

static void jstr(jbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0, i = 0;
    jput(b, "\"", 1);
    while (i < n) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        jput(b, s + i - run, run);
        run = 0;
        if (c >= 0x80) {
            size_t k = utf8_valid(u + i, n - i);
            if (k == 0) {
                jlit(b, "\\ufffd");
                i += utf8_ill_len(u + i, n - i);
            } else {
                jput(b, s + i, k);
                i += k;
            }
            continue;
        }
        char esc[8];
        switch (c) {
        case '"': jlit(b, "\\\""); break;
        case '\\': jlit(b, "\\\\"); break;
        case '\n': jlit(b, "\\n"); break;
        case '\r': jlit(b, "\\r"); break;
        case '\t': jlit(b, "\\t"); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            jlit(b, esc);
        }
        i++;
    }
    jput(b, s + i - run, run);
    jput(b, "\"", 1);
}

static void jcstr(jbuf *b, const char *s)
{
    jstr(b, s, strlen(s));
}

/* As jstr, with every non-ASCII character as \uXXXX (a surrogate pair
 * above U+FFFF): JSON that is plain ASCII, fit for an HTTP header. */
static void jstr_ascii(jbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    char esc[16];
    size_t i = 0, k;
    uint32_t cp;

    jput(b, "\"", 1);
    while (i < n) {
        if (u[i] >= 0x20 && u[i] < 0x7F) {
            if (u[i] == '"' || u[i] == '\\')
                jput(b, "\\", 1);
            jput(b, s + i, 1);
            i++;
            continue;
        }
        k = u[i] < 0x80 ? 1 : utf8_valid(u + i, n - i);
        if (k == 0) {
            jlit(b, "\\ufffd");
            i += utf8_ill_len(u + i, n - i);
            continue;
        }
        cp = k == 1 ? u[i] : k == 2 ? (uint32_t)(u[i] & 0x1F) : k == 3 ?
            (uint32_t)(u[i] & 0x0F) : (uint32_t)(u[i] & 0x07);
        for (size_t j = 1; j < k; j++)
            cp = cp << 6 | (u[i + j] & 0x3F);
        if (cp >= 0x10000)
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x",
                (unsigned)(0xD800 + ((cp - 0x10000) >> 10)),
                (unsigned)(0xDC00 + ((cp - 0x10000) & 0x3FF)));
        else
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
        jlit(b, esc);
        i += k;
    }
    jput(b, "\"", 1);
}

/* The AIGC object of a verdict that carries one. */
static void jaigc(jbuf *b, const sluice_verdict *v, int ascii)
{
    for (size_t f = 0; f < AIGC_NFIELDS; f++) {
        const char *val = sluice_verdict_aigc(v, (sluice_aigc_field)f);
        jlit(b, f ? ",\"" : "{\"");
        jlit(b, aigc_keys[f]);
        jlit(b, "\":");
        if (ascii)
            jstr_ascii(b, val, strlen(val));
        else
            jcstr(b, val);
    }
    jlit(b, "}");
}

static void jnum(jbuf *b, long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    jlit(b, t);
}

int sluice_verdict_json(const sluice_verdict *v, char **out, size_t *len)
{
    jbuf b = {0};
    if (v == NULL || out == NULL)
        return SLUICE_EINVAL;
    jlit(&b, "{\"action\":");
    jcstr(&b, sluice_action_name(v->action));
    if (v->reason) {
        jlit(&b, ",\"reason\":");
        jcstr(&b, v->reason);
    }
    jlit(&b, ",\"rules\":[");
    for (size_t i = 0; i < v->nrules; i++) {
        if (i)
            jlit(&b, ",");
        jcstr(&b, v->rules[i]);
    }
    jlit(&b, "],\"categories\":[");
    for (size_t i = 0; i < v->ncats; i++) {
        if (i)
            jlit(&b, ",");
        jcstr(&b, v->cats[i]);
    }
    jlit(&b, "],\"spans\":[");
    for (size_t i = 0; i < v->nspans; i++) {
        jlit(&b, i ? ",{\"start\":" : "{\"start\":");
        jnum(&b, (long long)v->spans[i].start);
        jlit(&b, ",\"end\":");
        jnum(&b, (long long)v->spans[i].end);
        jlit(&b, ",\"rule\":");
        jcstr(&b, v->spans[i].rule);
        jlit(&b, "}");
    }
    jlit(&b, "]");
    if (v->truncated)
        jlit(&b, ",\"spans_truncated\":true");
    jlit(&b, ",\"output\":");
    jstr(&b, v->output, v->output_len);
    if (v->label != NULL) {
        jlit(&b, ",\"label\":{\"text\":");
        jcstr(&b, v->label);
        jlit(&b, v->label_pos == SLUICE_LABEL_AT_END ?
            ",\"position\":\"end\"}" : ",\"position\":\"start\"}");
    }
    if (v->aigc) {
        jlit(&b, ",\"aigc\":");
        jaigc(&b, v, 0);
    }
    jlit(&b, ",\"policy\":{\"id\":");
    jcstr(&b, sluice_policy_id(v->policy));
    jlit(&b, ",\"version\":");
    jnum(&b, (long long)sluice_policy_version(v->policy));
    jlit(&b, ",\"hash\":");
    jcstr(&b, sluice_policy_hash(v->policy));
    if (sluice_policy_signed(v->policy)) {
        /* DESIGN: a verdict names the key that signed its policy */
        uint32_t kid = 0;
        const char *signer = sluice_policy_signer(v->policy, &kid);
        char hex[9];
        snprintf(hex, sizeof hex, "%08" PRIx32, kid);
        jlit(&b, ",\"signed\":true,\"signer\":{\"name\":");
        jcstr(&b, signer != NULL ? signer : "");
        jlit(&b, ",\"key_id\":");
        jcstr(&b, hex);
        jlit(&b, "}}");
    } else {
        jlit(&b, ",\"signed\":false}");
    }
    if (v->recorded) {
        static const char hexd[] = "0123456789abcdef";
        char hex[65];
        for (int i = 0; i < 32; i++) {
            hex[2 * i] = hexd[v->record_hash[i] >> 4];
            hex[2 * i + 1] = hexd[v->record_hash[i] & 15];
        }
        hex[64] = '\0';
        jlit(&b, ",\"record\":{\"seq\":");
        jnum(&b, (long long)v->record_seq);
        jlit(&b, ",\"hash\":");
        jcstr(&b, hex);
        jlit(&b, "}");
    }
    if (v->invalid) {
        jlit(&b, ",\"invalid_utf8\":");
        jnum(&b, (long long)v->invalid);
    }
    if (v->has_state) {
        char *sj = NULL;
        size_t sn = 0;
        if (sluice_state_info_json(&v->state, &sj, &sn) != 0) {
            b.oom = 1;
        } else if (sn > 0) {
            jlit(&b, ",");
            jlit(&b, sj);
        }
        free(sj);
    }
    jlit(&b, "}");
    if (b.oom) {
        free(b.p);
        return SLUICE_ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}

int sluice_verdict_aigc_json(const sluice_verdict *v, char **out,
    size_t *len)
{
    jbuf b = {0};

    if (v == NULL || out == NULL)
        return SLUICE_EINVAL;
    *out = NULL;
    if (len != NULL)
        *len = 0;
    if (!v->aigc)
        return 0;
    jaigc(&b, v, 1);
    if (b.oom) {
        free(b.p);
        return SLUICE_ENOMEM;
    }
    *out = b.p;
    if (len != NULL)
        *len = b.len;
    return 0;
}
