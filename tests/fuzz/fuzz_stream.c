/*
 * fuzz_stream.c - libFuzzer target: a whole-text check and streaming
 * sessions over the same text must agree (docs/streaming.md, "The
 * guarantee"), and every verdict must be well-formed.
 *
 * Input: byte 0 picks the policy (baseline, cn-genai-template, a policy
 * using every matching feature, a label policy), byte 1 the chunking
 * kinds, bytes 2-3 the chunking seed; the rest is the text. Each run
 * checks the text once whole and streams it twice (two chunkings, cut
 * anywhere, UTF-8 sequences included), then checks:
 *
 *   - every verdict: spans inside the text, ordered by start, each with
 *     a rule and an action no more severe than the verdict's; rules and
 *     categories named; the JSON form builds;
 *   - not blocked: the released bytes, concatenated, equal the whole-text
 *     output, and action, rules, categories and spans are the same;
 *   - blocked: the stream stopped at the whole text's first block span:
 *     no input byte from that span's start on was released, the refusal
 *     was the stop's data, and the streamed spans are the whole text's up
 *     to there.
 *
 * Verdicts forced by a resource limit (reason regex_limit or
 * session_limit) are legitimately different between the two and are not
 * compared; inputs are far below the session's max_held.
 */
#include "fuzz_common.h"

#define NPOL 4

static sluice_engine *engines[NPOL];

static const char FEATURE_POLICY[] =
    "policy: fuzz-features\n"
    "version: 3\n"
    "refusal: {zh: \"不能显示\", en: \"refused\"}\n"
    "language: auto\n"
    "categories:\n"
    "  - {id: prof, action: redact}\n"
    "  - {id: pii, action: redact}\n"
    "  - {id: danger, action: block}\n"
    "  - {id: watch, action: flag}\n"
    "rules:\n"
    "  - {id: en, category: prof, terms: [fuck, shit, asshole, bad dog],\n"
    "     boundary: word, variants: [leet, repeat]}\n"
    "  - {id: zh, category: prof, terms: [傻逼, 操你妈, 他妈的]}\n"
    "  - {id: sub, category: watch, terms: [ass, 学生, pen is], "
    "variants: [repeat]}\n"
    "  - {id: cnid, category: pii, on: original, validate: cn_id,\n"
    "     regex: '(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])'}\n"
    "  - {id: card, category: pii, on: original, validate: luhn,\n"
    "     regex: '(?<![0-9])[0-9]{13,19}(?![0-9])'}\n"
    "  - {id: mobile, category: pii, regex: "
    "'(?<![0-9])1[3-9][0-9]{9}(?![0-9])'}\n"
    "  - {id: mail, category: pii, on: original, validate: email,\n"
    "     regex: '[a-z0-9._+-]{1,64}@[a-z0-9-]{1,63}(?:\\.[a-z0-9-]{1,63})"
    "{1,4}'}\n"
    "  - {id: recipe, category: danger, all: [炸药, 配方], within: 12}\n"
    "  - {id: combo, category: watch, all: [pen, ink], within: 6}\n"
    "  - {id: stop, action: block, terms: [kill them all, 杀光]}\n"
    "allow: [Scunthorpe, shiitake, assess]\n";

static const char LABEL_POLICY[] =
    "policy: fuzz-label\n"
    "version: 1\n"
    "language: auto\n"
    "label:\n"
    "  text: {zh: \"本内容由人工智能生成\", en: \"AI-generated content\"}\n"
    "  position: start\n"
    "  always: true\n"
    "  implicit: all\n"
    "  separator: \"\\n\\n\"\n"
    "  producer: fuzz\n"
    "categories:\n"
    "  - {id: synth, action: label}\n"
    "  - {id: pii, action: redact}\n"
    "  - {id: bad, action: block}\n"
    "rules:\n"
    "  - {id: deepfake, category: synth, terms: [换脸, deepfake]}\n"
    "  - {id: phone, category: pii, on: original,\n"
    "     regex: '(?<![0-9])1[3-9][0-9]{9}(?![0-9])'}\n"
    "  - {id: bomb, category: bad, terms: [炸药配方, bomb recipe]}\n"
    "  - {id: rude, category: pii, terms: [shit], boundary: word}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sluice_policy *p[NPOL];
    (void)argc;
    (void)argv;
    p[0] = fuzz_policy_path("policies/baseline");
    p[1] = fuzz_policy_path("policies/cn-genai-template");
    p[2] = fuzz_policy_yaml(FEATURE_POLICY);
    p[3] = fuzz_policy_yaml(LABEL_POLICY);
    for (int i = 0; i < NPOL; i++) {
        engines[i] = fuzz_engine(p[i]);
        sluice_policy_unref(p[i]);   /* the engine holds its own */
    }
    return 0;
}

/* Well-formedness of any verdict on a text of `len` bytes. */
static void check_verdict(const sluice_verdict *v, size_t len)
{
    sluice_action act = sluice_verdict_action(v);
    size_t n = sluice_verdict_span_count(v), last = 0;
    sluice_span sp;
    char *js = NULL;
    size_t jl = 0;
    FUZZ_CHECK(act >= SLUICE_ALLOW && act <= SLUICE_BLOCK, "action %d", act);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(sluice_verdict_span(v, i, &sp) == 0, "span %zu", i);
        FUZZ_CHECK(sp.start < sp.end && sp.end <= len, "span %zu [%zu,%zu) "
            "of %zu bytes", i, sp.start, sp.end, len);
        FUZZ_CHECK(sp.start >= last, "span %zu out of order", i);
        FUZZ_CHECK(sp.rule != NULL && sp.action <= act, "span %zu: rule %s "
            "action %d, verdict %d", i, sp.rule ? sp.rule : "(null)",
            sp.action, act);
        last = sp.start;
    }
    for (size_t i = 0; i < sluice_verdict_rule_count(v); i++)
        FUZZ_CHECK(sluice_verdict_rule(v, i) != NULL, "rule %zu", i);
    for (size_t i = 0; i < sluice_verdict_category_count(v); i++)
        FUZZ_CHECK(sluice_verdict_category(v, i) != NULL, "category %zu", i);
    FUZZ_CHECK(sluice_verdict_json(v, &js, &jl) == 0 && js != NULL &&
        jl == strlen(js), "verdict json");
    free(js);
}

typedef struct streamed {
    char *out;
    size_t len, cap;
    size_t released_input;   /* input bytes released before a stop */
    int stopped;
    char *stop_data;         /* the refusal released at the stop */
    size_t stop_len;
    sluice_verdict *v;
} streamed;

static void take(streamed *r, const sluice_release *rel)
{
    if (rel->stop) {
        r->stop_data = malloc(rel->len + 1);
        FUZZ_REQUIRE(r->stop_data != NULL, "malloc");
        memcpy(r->stop_data, rel->data, rel->len);
        r->stop_len = rel->len;
        return;
    }
    if (r->len + rel->len > r->cap) {
        r->cap = (r->len + rel->len) * 2;
        r->out = realloc(r->out, r->cap);
        FUZZ_REQUIRE(r->out != NULL, "realloc");
    }
    if (rel->len > 0)
        memcpy(r->out + r->len, rel->data, rel->len);
    r->len += rel->len;
}

static void run_stream(sluice_engine *e, const char *t, size_t n,
    uint64_t seed, unsigned kind, streamed *r)
{
    sluice_session *s = NULL;
    sluice_release rel;
    size_t pos = 0;
    static const size_t maxc[4] = { 1, 3, 17, 300 };
    memset(r, 0, sizeof *r);
    FUZZ_CHECK(sluice_session_new(&s, e, NULL, NULL, NULL) == 0, "session");
    while (pos < n) {
        size_t c = kind == 0 ? 1 : 1 + fuzz_rng(&seed) % maxc[kind & 3];
        if (fuzz_rng(&seed) % 16 == 0)
            c = 0;                              /* empty chunks are fine */
        if (c > n - pos)
            c = n - pos;
        FUZZ_CHECK(sluice_session_feed(s, t + pos, c, &rel) == 0, "feed");
        pos += c;
        FUZZ_CHECK(rel.len == 0 || rel.data != NULL, "release data");
        take(r, &rel);
        if (rel.stop) {
            r->stopped = 1;
            r->released_input = pos - sluice_session_held(s);
            break;
        }
    }
    FUZZ_CHECK(sluice_session_finish(s, &rel, &r->v) == 0, "finish");
    if (!r->stopped) {
        take(r, &rel);
        if (rel.stop) {
            r->stopped = 1;
            r->released_input = n - sluice_session_held(s);
        }
    }
    sluice_session_free(s);
}

static int same_span(const sluice_verdict *a, size_t i,
    const sluice_verdict *b, size_t j)
{
    sluice_span x, y;
    FUZZ_CHECK(sluice_verdict_span(a, i, &x) == 0 &&
        sluice_verdict_span(b, j, &y) == 0, "span");
    return x.start == y.start && x.end == y.end && x.action == y.action &&
        strcmp(x.rule, y.rule) == 0;
}

static void compare_lists(const sluice_verdict *w, const sluice_verdict *s)
{
    size_t n = sluice_verdict_rule_count(w);
    FUZZ_CHECK(n == sluice_verdict_rule_count(s), "rules: %zu vs streamed "
        "%zu", n, sluice_verdict_rule_count(s));
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(strcmp(sluice_verdict_rule(w, i),
            sluice_verdict_rule(s, i)) == 0, "rule %zu differs", i);
    n = sluice_verdict_category_count(w);
    FUZZ_CHECK(n == sluice_verdict_category_count(s), "categories differ");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(strcmp(sluice_verdict_category(w, i),
            sluice_verdict_category(s, i)) == 0, "category %zu differs", i);
}

static void compare(const sluice_verdict *w, const streamed *r)
{
    sluice_action a = sluice_verdict_action(w);
    size_t wn = sluice_verdict_span_count(w);
    size_t sn = sluice_verdict_span_count(r->v);
    FUZZ_CHECK(a == sluice_verdict_action(r->v), "action %s, streamed %s",
        sluice_action_name(a), sluice_action_name(
            sluice_verdict_action(r->v)));
    if (a != SLUICE_BLOCK) {
        size_t ol;
        const char *o = sluice_verdict_output(w, &ol);
        FUZZ_CHECK(!r->stopped, "a stream stopped on an unblocked text");
        FUZZ_CHECK(ol == r->len && (ol == 0 || memcmp(o, r->out, ol) == 0),
            "output '%.*s' (%zu), streamed '%.*s' (%zu)", (int)ol, o, ol,
            (int)r->len, r->out ? r->out : "", r->len);
        FUZZ_CHECK(wn == sn, "%zu spans, streamed %zu", wn, sn);
        for (size_t i = 0; i < wn; i++)
            FUZZ_CHECK(same_span(w, i, r->v, i), "span %zu differs", i);
        compare_lists(w, r->v);
        return;
    }
    FUZZ_CHECK(r->stopped, "blocked, but the stream never stopped");
    size_t ol;
    const char *o = sluice_verdict_output(w, &ol);
    FUZZ_CHECK(r->stop_len == ol && memcmp(r->stop_data, o, ol) == 0,
        "stop data '%.*s', refusal '%.*s'", (int)r->stop_len, r->stop_data,
        (int)ol, o);
    FUZZ_CHECK(sn <= wn, "streamed block has more spans (%zu > %zu)", sn, wn);
    for (size_t i = 0; i < sn; i++)
        FUZZ_CHECK(same_span(w, i, r->v, i), "block: span %zu differs", i);
    for (size_t i = 0; i < wn; i++) {
        sluice_span sp;
        FUZZ_CHECK(sluice_verdict_span(w, i, &sp) == 0, "span");
        if (sp.action != SLUICE_BLOCK)
            continue;
        FUZZ_CHECK(r->released_input <= sp.start, "released %zu input bytes, "
            "past the block span at %zu", r->released_input, sp.start);
        FUZZ_CHECK(i < sn, "the first block span (%zu) is not streamed", i);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = { data, size };
    unsigned pol = fuzz_byte(&in) % NPOL;
    unsigned kinds = fuzz_byte(&in);
    uint64_t seed = fuzz_byte(&in);
    seed = seed << 8 | fuzz_byte(&in);
    const char *t = (const char *)in.p;
    size_t n = in.n;
    sluice_verdict *w = NULL;

    FUZZ_CHECK(sluice_check(engines[pol], t, n, NULL, &w, NULL) == 0,
        "check");
    check_verdict(w, n);
    for (int k = 0; k < 2; k++) {
        streamed r;
        run_stream(engines[pol], t, n, seed + (uint64_t)k,
            (kinds >> (2 * k)) & 3, &r);
        check_verdict(r.v, n);
        if (sluice_verdict_reason(w) == NULL &&
            sluice_verdict_reason(r.v) == NULL)
            compare(w, &r);
        sluice_verdict_free(r.v);
        free(r.out);
        free(r.stop_data);
    }
    sluice_verdict_free(w);
    return 0;
}
