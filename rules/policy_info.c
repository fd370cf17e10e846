/*
 * policy_info.c - read-only accessors to a compiled policy's rules and
 * their terms, for tools that report on a policy (sluice test: which
 * rules and terms no test case exercises), and the policy's escalation
 * (the state layer and `sluice policy`).
 *
 * The strings returned are the policy's own (the rule ids and the term
 * texts of its parsed sources, rules/policy_src.h), so a span's `term`
 * pointer is one of them. A policy is immutable after loading, so these
 * need no locking. Out-of-range indexes and a NULL policy give NULL or 0.
 */
#include "filter/check.h"
#include "rules/policy.h"

const char *sluice_policy_rule_id(const sluice_policy *p, size_t i)
{
    return p != NULL && i < p->nrules ? p->rules[i].id : NULL;
}

size_t sluice_policy_rule_term_count(const sluice_policy *p, size_t i)
{
    if (p == NULL || i >= p->nrules || p->rules[i].src == NULL)
        return 0;
    const psrc_rule *r = p->rules[i].src;
    return r->kind == PSRC_REGEX ? 0 : r->nterms;
}

const char *sluice_policy_rule_term(const sluice_policy *p, size_t i,
    size_t j)
{
    if (j >= sluice_policy_rule_term_count(p, i))
        return NULL;
    return p->rules[i].src->terms[j].text;
}

const char *sluice_policy_refusal(const sluice_policy *p, const char *text,
    size_t len)
{
    if (p == NULL)
        return NULL;
    if (text == NULL)
        len = 0;
    return check_lang_zh(p, len ? check_first_cjk(text, len) : SIZE_MAX,
        len) ? p->src->refusal_zh : p->src->refusal_en;
}

int sluice_policy_escalation(const sluice_policy *p, sluice_escalation *out)
{
    static const sluice_escalation none;
    int has = p != NULL && p->src != NULL && p->src->has_escalation;
    if (out != NULL)
        *out = has ? p->src->escalation : none;
    return has;
}
