/*
 * sluice.h - the public interface of libsluice.
 *
 * Sluice checks the outputs of language models, English and Chinese,
 * against compiled, versioned rule sets ("policies"), and says for each
 * output whether it is allowed, flagged, labelled, redacted or blocked.
 *
 * Objects and their thread rules:
 *
 *   sluice_policy   a compiled policy. Immutable and reference-counted:
 *                   share it between any number of threads.
 *   sluice_engine   holds the current policy; checks may run from many
 *                   threads at once while another thread swaps the policy.
 *   sluice_verdict  the result of one check. Owned by the caller, one
 *                   thread at a time.
 *   sluice_session  a streaming check (one output arriving in chunks). One
 *                   thread at a time; it may move between threads.
 *
 * Errors: every fallible call returns 0 or a negative SLUICE_E* code. Calls
 * that can fail for a reason worth printing take a sluice_error, which they
 * fill with the code, the file and line concerned (when there is one) and a
 * one-line message. A "block" is a verdict, not an error.
 *
 * Ownership: a pointer returned through an out-parameter is the caller's and
 * goes back through the matching _free/_unref call. Strings returned by
 * accessors are borrowed and live as long as the object they came from.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define SLUICE_API __attribute__((visibility("default")))
#define SLUICE_WUR __attribute__((warn_unused_result))
#else
#define SLUICE_API
#define SLUICE_WUR
#endif

#define SLUICE_VERSION_STRING "0.1.0"
#define SLUICE_VERSION_NUMBER 0x000100

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

/* Codes are only ever appended; never renumbered. */
typedef enum sluice_status {
    SLUICE_OK = 0,
    SLUICE_ENOMEM = -1,      /* an allocation failed */
    SLUICE_EINVAL = -2,      /* a bad argument */
    SLUICE_EIO = -3,         /* a file could not be read or written */
    SLUICE_EPOLICY = -4,     /* a policy is malformed (see the error's file, line) */
    SLUICE_ETOOBIG = -5,     /* an input is over a configured limit */
    SLUICE_EMISUSE = -6,     /* the API was called out of order */
    SLUICE_ENOPOLICY = -7,   /* the engine has no policy */
    SLUICE_EINTERNAL = -8,   /* a library below Sluice (ICU, Hyperscan, PCRE2) failed */
    SLUICE_ELIMIT = -9       /* a matcher resource limit was hit */
} sluice_status;

/* What went wrong, for a human. Filled by calls that take one; may be NULL. */
typedef struct sluice_error {
    int code;            /* the sluice_status returned */
    char file[512];      /* file concerned, or "" */
    int line;            /* 1-based line in file, or 0 */
    char message[512];   /* one line, no trailing newline */
} sluice_error;

/* A static, never-NULL description of a status code. */
SLUICE_API const char *sluice_strerror(int code);

/* The library's version string, e.g. "0.1.0". */
SLUICE_API const char *sluice_version(void);

/* ------------------------------------------------------------------------
 * Actions
 * ---------------------------------------------------------------------- */

/* Ordered by severity: when several rules fire, the highest wins. */
typedef enum sluice_action {
    SLUICE_ALLOW = 0,
    SLUICE_FLAG = 1,
    SLUICE_LABEL = 2,
    SLUICE_REDACT = 3,
    SLUICE_BLOCK = 4
} sluice_action;

/* "allow", "flag", "label", "redact" or "block"; "?" for anything else. */
SLUICE_API const char *sluice_action_name(int action);

/* ------------------------------------------------------------------------
 * Policies
 * ---------------------------------------------------------------------- */

typedef struct sluice_policy sluice_policy;

/* Version 2 added the fields from `trust` on; a caller built against
   version 1 passes version 1 and those fields are not read. */
#define SLUICE_POLICY_OPTIONS_VERSION 2
typedef struct sluice_policy_options {
    unsigned version;          /* SLUICE_POLICY_OPTIONS_VERSION */
    size_t max_terms;          /* 0: default (2,000,000) */
    size_t max_list_bytes;     /* 0: default (64 MiB per list file) */
    size_t max_rules;          /* 0: default (100,000) */
    /* version 2: trust (docs/bundles.md) */
    const struct sluice_key *const *trust;  /* keys whose bundles are
                               trusted (sluice_key, see "Ledger": verifier
                               or signer keys; borrowed for the call);
                               NULL: none */
    size_t ntrust;             /* entries in trust */
    int allow_unsigned;        /* 1: development; an untrusted bundle or a
                                  policy directory loads unsigned even
                                  when trust keys are given */
    size_t max_bundle_bytes;   /* 0: default (256 MiB per bundle) */
} sluice_policy_options;
#define SLUICE_POLICY_OPTIONS_INIT { SLUICE_POLICY_OPTIONS_VERSION, 0, 0, 0, \
    NULL, 0, 0, 0 }

/*
 * Load and compile the policy at `path`: a signed bundle (a file made by
 * `sluice build` / sluice_bundle_build, recognized by its magic, not its
 * name), a policy directory holding policy.yaml, or that policy.yaml
 * file itself. `opts` may be NULL for defaults.
 *
 * Trust (docs/bundles.md): a bundle whose signature checks against one of
 * opts->trust loads signed (sluice_policy_signed() == 1, its signer in
 * sluice_policy_signer()). A bundle signed by a key not among them (or
 * when none are given) is refused, unless opts->allow_unsigned: it then
 * loads unsigned. A bad signature, or any changed byte, is always
 * refused. Policy sources (a directory or policy.yaml) load unsigned, and
 * are refused when trust keys are given without allow_unsigned. Refusals
 * are SLUICE_EPOLICY with err->file the bundle and a message saying why.
 *
 * On success *out holds a policy with one reference, owned by the caller.
 * On failure *out is NULL, the return is negative, and `err` (if not NULL)
 * names the file, line and reason (for a file inside a bundle, the file
 * is "BUNDLE/path", e.g. "base.bundle/lists/zh.txt"). Thread-safe.
 */
SLUICE_API SLUICE_WUR int sluice_policy_load(sluice_policy **out,
    const char *path, const sluice_policy_options *opts, sluice_error *err);

/* Take another reference. Returns `p`. NULL is allowed. */
SLUICE_API sluice_policy *sluice_policy_ref(sluice_policy *p);
/* Drop a reference; the last one frees the policy. NULL is a no-op. */
SLUICE_API void sluice_policy_unref(sluice_policy *p);

SLUICE_API const char *sluice_policy_id(const sluice_policy *p);
SLUICE_API int64_t sluice_policy_version(const sluice_policy *p);
/* Lower-case hex BLAKE2b-256 over the policy's sources (docs/policy-hash.md). */
SLUICE_API const char *sluice_policy_hash(const sluice_policy *p);
/* 1 if loaded from a bundle whose signature checked, else 0. */
SLUICE_API int sluice_policy_signed(const sluice_policy *p);
SLUICE_API size_t sluice_policy_rule_count(const sluice_policy *p);
SLUICE_API size_t sluice_policy_term_count(const sluice_policy *p);
/* Milliseconds spent compiling (normalization tables, matchers). */
SLUICE_API double sluice_policy_compile_ms(const sluice_policy *p);

/*
 * The policy's refusal, in the language a block of `text` would use (the
 * policy's `language`; with auto, Chinese if `text` holds an ideograph).
 * For callers that must refuse without a verdict (an upstream that cannot
 * be parsed, failing closed). text may be NULL (len 0): then English
 * under auto. Borrowed; lives as long as p.
 */
SLUICE_API const char *sluice_policy_refusal(const sluice_policy *p,
    const char *text, size_t len);

/*
 * The rules of a policy, for tools that report on a policy's own tests
 * (coverage). Rule i, 0 <= i < sluice_policy_rule_count(p), in policy
 * order: its id (NULL if i is out of range); the number of literal terms
 * it lists (`terms:` or `all:`; 0 for a regex rule, or i out of range);
 * and its term j as the policy wrote it (NULL if out of range). Strings
 * are borrowed and live as long as p; a span's `term` is one of them.
 * Immutable: any thread.
 */
SLUICE_API const char *sluice_policy_rule_id(const sluice_policy *p,
    size_t i);
SLUICE_API size_t sluice_policy_rule_term_count(const sluice_policy *p,
    size_t i);
SLUICE_API const char *sluice_policy_rule_term(const sluice_policy *p,
    size_t i, size_t j);

/* ------------------------------------------------------------------------
 * Engines
 * ---------------------------------------------------------------------- */

typedef struct sluice_engine sluice_engine;

#define SLUICE_ENGINE_OPTIONS_VERSION 1
typedef struct sluice_engine_options {
    unsigned version;          /* SLUICE_ENGINE_OPTIONS_VERSION */
    size_t max_input;          /* bytes per check; 0: default 16 MiB */
    size_t max_spans;          /* spans kept per verdict; 0: default 10,000 */
} sluice_engine_options;
#define SLUICE_ENGINE_OPTIONS_INIT { SLUICE_ENGINE_OPTIONS_VERSION, 0, 0 }

/*
 * Create an engine with no policy (every check then fails closed with
 * SLUICE_ENOPOLICY). `opts` may be NULL. The engine is thread-safe.
 */
SLUICE_API SLUICE_WUR int sluice_engine_new(sluice_engine **out,
    const sluice_engine_options *opts, sluice_error *err);

/* Free the engine. Checks still running on other threads must have ended. */
SLUICE_API void sluice_engine_free(sluice_engine *e);

/*
 * Make `p` the engine's policy; the engine takes its own reference, the
 * caller keeps theirs. Atomic with respect to concurrent checks: each
 * check runs entirely under the old or entirely under the new policy.
 */
SLUICE_API int sluice_engine_set_policy(sluice_engine *e, sluice_policy *p);

/* A new reference to the current policy (NULL if none). Unref it. */
SLUICE_API sluice_policy *sluice_engine_policy(sluice_engine *e);

/* ------------------------------------------------------------------------
 * Checks and verdicts
 * ---------------------------------------------------------------------- */

typedef struct sluice_verdict sluice_verdict;

/* Caller metadata recorded with a verdict; any field may be NULL. */
typedef struct sluice_meta {
    const char *request_id;
    const char *tenant;
    const char *subject;
    const char *model;
} sluice_meta;

/*
 * Check one whole output of `len` bytes (UTF-8; invalid sequences are read
 * as U+FFFD and counted in the verdict). `meta` may be NULL.
 *
 * On success *out is a verdict owned by the caller (sluice_verdict_free).
 * Errors: SLUICE_ENOPOLICY (no policy: the caller must not release the
 * output), SLUICE_ETOOBIG (over max_input), SLUICE_ENOMEM.
 * Thread-safe: any number of threads may check on one engine.
 */
SLUICE_API SLUICE_WUR int sluice_check(sluice_engine *e, const char *text,
    size_t len, const sluice_meta *meta, sluice_verdict **out,
    sluice_error *err);

SLUICE_API void sluice_verdict_free(sluice_verdict *v);

SLUICE_API sluice_action sluice_verdict_action(const sluice_verdict *v);

/* The text to release: the input, the redacted input, or the refusal. */
SLUICE_API const char *sluice_verdict_output(const sluice_verdict *v,
    size_t *len);

/* Distinct rules that fired (after allow lists), in policy order. */
SLUICE_API size_t sluice_verdict_rule_count(const sluice_verdict *v);
SLUICE_API const char *sluice_verdict_rule(const sluice_verdict *v, size_t i);

/* Distinct categories of those rules, in policy order. */
SLUICE_API size_t sluice_verdict_category_count(const sluice_verdict *v);
SLUICE_API const char *sluice_verdict_category(const sluice_verdict *v,
    size_t i);

/*
 * Matches, ordered by start: [start, end) byte offsets in the original
 * input, the rule that fired, that rule's action and, for term rules, the
 * term as the policy wrote it (policy authors' coverage and diffs; it is
 * not in sluice_verdict_json, which operators may log).
 */
typedef struct sluice_span {
    size_t start;
    size_t end;
    const char *rule;     /* borrowed from the verdict */
    sluice_action action;
    const char *term;     /* borrowed; NULL for regex matches */
} sluice_span;
SLUICE_API size_t sluice_verdict_span_count(const sluice_verdict *v);
SLUICE_API int sluice_verdict_span(const sluice_verdict *v, size_t i,
    sluice_span *out);
/* 1 if more spans matched than max_spans allowed to keep. */
SLUICE_API int sluice_verdict_spans_truncated(const sluice_verdict *v);

/* Number of invalid UTF-8 sequences read as U+FFFD. */
SLUICE_API size_t sluice_verdict_invalid_utf8(const sluice_verdict *v);

/* The policy that made the verdict (borrowed; lives as long as v). */
SLUICE_API const sluice_policy *sluice_verdict_policy(const sluice_verdict *v);

/*
 * The verdict as one line of JSON (no newline): action, rules,
 * categories, spans, output, label {text, position} and aigc {...} when
 * the output carries them (see "Labels"), policy {id, version, hash,
 * signed}, invalid_utf8. *out is malloc'd and the caller's (free()).
 */
SLUICE_API SLUICE_WUR int sluice_verdict_json(const sluice_verdict *v,
    char **out, size_t *len);

/* ------------------------------------------------------------------------
 * Streaming sessions
 *
 * A session checks one output that arrives in chunks (tokens). Each feed
 * returns the bytes that may be released now, already redacted: text is
 * held back only while a match that could cover it is still pending, and
 * released as soon as none can. On a block, the session stops and returns
 * the refusal. For any way of cutting a text into chunks, the session's
 * verdict equals sluice_check()'s on the whole text (docs/streaming.md).
 * One thread at a time; a session may move between threads.
 * ---------------------------------------------------------------------- */

typedef struct sluice_session sluice_session;

#define SLUICE_SESSION_OPTIONS_VERSION 1
typedef struct sluice_session_options {
    unsigned version;       /* SLUICE_SESSION_OPTIONS_VERSION */
    size_t max_held;        /* bytes a session may hold back; over it the
                               session fails closed (block, reason
                               "session_limit"). 0: default 1 MiB */
} sluice_session_options;
#define SLUICE_SESSION_OPTIONS_INIT { SLUICE_SESSION_OPTIONS_VERSION, 0 }

/* What a feed or finish lets through. `data` is borrowed: valid until the
   next call on the session. */
typedef struct sluice_release {
    const char *data;
    size_t len;
    int stop;               /* 1: blocked; data is the refusal text */
} sluice_release;

/*
 * Open a session on `e`. It pins the engine's current policy for its whole
 * life, even if the engine swaps policies meanwhile. `meta` (copied) and
 * `opts` may be NULL. Errors: SLUICE_ENOPOLICY, SLUICE_ENOMEM.
 */
SLUICE_API SLUICE_WUR int sluice_session_new(sluice_session **out,
    sluice_engine *e, const sluice_meta *meta,
    const sluice_session_options *opts, sluice_error *err);

/*
 * Feed the next `len` bytes (cut anywhere, even inside a UTF-8 sequence).
 * On return *out says what to release now (possibly nothing), or, with
 * out->stop set, that the output is blocked: release out->data (the
 * refusal) and stop; later feeds return SLUICE_EMISUSE. Returns 0 or a
 * negative SLUICE_E* code (the caller must then not release anything more).
 */
SLUICE_API SLUICE_WUR int sluice_session_feed(sluice_session *s,
    const char *chunk, size_t len, sluice_release *out);

/*
 * The output is complete: release the rest (*out) and get the verdict
 * (*verdict, caller-owned). A session's verdict has the action, rules,
 * categories and spans of the whole text; its output is the refusal when
 * blocked and empty otherwise (what to release was given by the feeds).
 * May be called once, also after a stop.
 */
SLUICE_API SLUICE_WUR int sluice_session_finish(sluice_session *s,
    sluice_release *out, sluice_verdict **verdict);

/* Bytes fed but not yet released (the holdback). */
SLUICE_API size_t sluice_session_held(const sluice_session *s);

/* Free the session (NULL is a no-op). */
SLUICE_API void sluice_session_free(sluice_session *s);

/* ------------------------------------------------------------------------
 * Labels (GB 45438-2025, docs/labels.md)
 *
 * A policy's `label:` section and its `label` action mark outputs as
 * AI-generated, as China's labelling measures and GB 45438 ask: an
 * explicit label (a short text such as "本内容由人工智能生成" at the start
 * or end of the released output) and an implicit label (the "AIGC"
 * metadata object, for the caller to embed in an HTTP header, a JSON
 * field or a file's metadata). Which outputs get which:
 *
 *   - explicit: every output that is not blocked, when the policy says
 *     `always: true` (at `position`); otherwise outputs on which a rule
 *     with action `label` fired (also when a redaction outranks it), at
 *     the end. An empty output gets no explicit label. A blocked output
 *     (the refusal) never does.
 *   - implicit: every output that gets the explicit label (or would,
 *     were it not empty), or with `implicit: all` every output that is
 *     not blocked.
 *
 * The explicit label is part of sluice_verdict_output() for whole-text
 * checks, and part of what a session releases (docs/labels.md says when).
 * The calls below read both from a verdict; sluice_verdict_json() has
 * them as "label" and "aigc". Verdicts are one thread at a time; the
 * strings returned are borrowed and live as long as the verdict.
 * ---------------------------------------------------------------------- */

/* Where the explicit label sits in the released output. */
typedef enum sluice_label_position {
    SLUICE_LABEL_AT_START = 0,   /* label, separator, text */
    SLUICE_LABEL_AT_END = 1      /* text, separator, label */
} sluice_label_position;

/*
 * The explicit label the verdict's output carries (the policy's zh or en
 * text, without the separator), or NULL when it carries none. *position
 * (may be NULL) gets where it is.
 */
SLUICE_API const char *sluice_verdict_label(const sluice_verdict *v,
    sluice_label_position *position);

/* The fields of the implicit label, in the standard's order and with its
   names (the keys of the AIGC JSON object). */
typedef enum sluice_aigc_field {
    SLUICE_AIGC_LABEL = 0,             /* "Label": "1", AI-generated */
    SLUICE_AIGC_CONTENT_PRODUCER = 1,  /* "ContentProducer": `producer` */
    SLUICE_AIGC_PRODUCE_ID = 2,        /* "ProduceID": this output's id */
    SLUICE_AIGC_RESERVED_CODE1 = 3,    /* "ReservedCode1": `reserved1` */
    SLUICE_AIGC_CONTENT_PROPAGATOR = 4,/* "ContentPropagator" */
    SLUICE_AIGC_PROPAGATE_ID = 5,      /* "PropagateID" */
    SLUICE_AIGC_RESERVED_CODE2 = 6     /* "ReservedCode2": `reserved2` */
} sluice_aigc_field;

/*
 * One field of the verdict's implicit label: "" for a field the policy
 * leaves empty; NULL when the verdict carries no implicit label or
 * `field` is out of range. ProduceID is the hash of the verdict's ledger
 * record (64 lower-case hex digits) when it was recorded, else a random
 * 128-bit id (32 hex digits), new for each verdict. PropagateID is the
 * ProduceID when the policy names a `propagator`, else "".
 */
SLUICE_API const char *sluice_verdict_aigc(const sluice_verdict *v,
    sluice_aigc_field field);

/*
 * The implicit label as one JSON object, every field a string, in the
 * order above, ASCII only (other characters as \uXXXX escapes), so that
 * it may stand as an HTTP header value as it is:
 *   {"Label":"1","ContentProducer":"...","ProduceID":"...",
 *    "ReservedCode1":"","ContentPropagator":"","PropagateID":"",
 *    "ReservedCode2":""}
 * On success *out is malloc'd (the caller's: free()) and *len (may be
 * NULL) its length; when the verdict carries no implicit label, *out is
 * NULL and the return is still 0. Errors: SLUICE_EINVAL (v or out NULL),
 * SLUICE_ENOMEM.
 */
SLUICE_API SLUICE_WUR int sluice_verdict_aigc_json(const sluice_verdict *v,
    char **out, size_t *len);

/* ------------------------------------------------------------------------
 * Ledger
 *
 * A signed, append-only record of every decision (docs/ledger.md). Each
 * writer (a process, or one ledger handle) keeps its own chain of records
 * in segment files under DIR/<writer>/: every record names the policy
 * that decided (id, version, hash, signed), the action, the rules and
 * categories, a keyed BLAKE2b digest of the checked text (never the text)
 * and the caller's metadata, and carries the hash of the record before it.
 * An RFC 6962 Merkle tree over each chain is checkpointed every N records
 * or T milliseconds, as a C2SP tlog-checkpoint signed with Ed25519 (a C2SP
 * signed note), and the segment is synced then (group commit).
 *
 * Keys (text files, C2SP signed-note key formats):
 *   PREFIX.key     "PRIVATE+KEY+<name>+<id>+<base64>"  signs checkpoints
 *   PREFIX.pub     "<name>+<id>+<base64>"              verifies them
 *   PREFIX.digest  "SLUICE+DIGEST+KEY+<name>+<id>+<base64>"  optional
 * The digest key (a per-deployment secret) keys the output digests; by
 * default it is derived from the signing key (crypto_kdf, docs/ledger.md).
 *
 * Objects: sluice_key is immutable once loaded (share it); sluice_ledger
 * is thread-safe (appends are serialized inside); the verify, prove and
 * read calls work on a directory and keep nothing between calls.
 * ---------------------------------------------------------------------- */

typedef struct sluice_key sluice_key;

typedef enum sluice_key_kind {
    SLUICE_KEY_SIGNER = 1,     /* PREFIX.key: secret, signs checkpoints */
    SLUICE_KEY_VERIFIER = 2,   /* PREFIX.pub: public, checks them */
    SLUICE_KEY_DIGEST = 3      /* PREFIX.digest: secret, keys digests */
} sluice_key_kind;

/*
 * Generate a key pair: write PREFIX.key (mode 0600) and PREFIX.pub, or,
 * with `digest` set, a digest key PREFIX.digest (mode 0600) instead.
 * `name` (NULL: "sluice") names the key in signatures: 1..64 printable
 * ASCII characters, no '+' or space. Existing files are never overwritten
 * (SLUICE_EIO, err says which). Returns 0 or a negative SLUICE_E* code.
 */
SLUICE_API SLUICE_WUR int sluice_keygen(const char *prefix, const char *name,
    int digest, sluice_error *err);

/*
 * Load a key file of any of the three kinds (or parse its text). On
 * success *out is the caller's (sluice_key_free). Errors: SLUICE_EIO,
 * SLUICE_EINVAL (malformed, or its id does not match its key), with the
 * file and reason in err. Secret material is wiped when freed.
 */
SLUICE_API SLUICE_WUR int sluice_key_load(sluice_key **out, const char *path,
    sluice_error *err);
SLUICE_API SLUICE_WUR int sluice_key_parse(sluice_key **out, const char *text,
    size_t len, sluice_error *err);
/* Wipe and free. NULL is a no-op. */
SLUICE_API void sluice_key_free(sluice_key *k);

SLUICE_API sluice_key_kind sluice_key_type(const sluice_key *k);
/* The key's name (borrowed, lives as long as k). */
SLUICE_API const char *sluice_key_name(const sluice_key *k);
/* The signed-note key id (signer, verifier) or the digest key id. */
SLUICE_API uint32_t sluice_key_id(const sluice_key *k);

/*
 * Keyed digest of an output, as ledger records carry it: BLAKE2b-256 keyed
 * with the digest key (a digest key, or the one derived from a signer
 * key), personalization "sluice-digest-v1". *key_id (may be NULL) gets
 * the digest key's id. Returns 0 or SLUICE_EINVAL (a verifier key).
 */
SLUICE_API SLUICE_WUR int sluice_digest(const sluice_key *k, const char *text,
    size_t len, unsigned char out[32], uint32_t *key_id);

typedef struct sluice_ledger sluice_ledger;

typedef enum sluice_ledger_mode {
    /* An append returns once its record is written to the segment file
       (the kernel has it). A crash of the machine loses at most the
       records after the last synced checkpoint: at most
       checkpoint_records records or checkpoint_ms of them, plus one sync
       in flight. A crash of the process alone loses nothing. */
    SLUICE_LEDGER_BATCHED = 0,
    /* An append returns only after a checkpoint covering its record has
       been synced to disk. Concurrent appends share one sync. */
    SLUICE_LEDGER_DURABLE = 1
} sluice_ledger_mode;

typedef enum sluice_fail_mode {
    /* Default: a decision that cannot be recorded becomes a block with
       reason "ledger_unavailable". */
    SLUICE_FAIL_CLOSED = 0,
    /* The verdict stands, with reason "ledger_unavailable_fail_open"; the
       ledger records the gap (how many, when) once it can write again. */
    SLUICE_FAIL_OPEN = 1
} sluice_fail_mode;

/* Called after each checkpoint is synced, with its signed note (e.g. to
   anchor it elsewhere). Runs on a ledger thread, outside its locks; it
   must not call into the ledger. */
typedef void (*sluice_checkpoint_fn)(const char *writer, const char *note,
    size_t len, void *payload);

#define SLUICE_LEDGER_OPTIONS_VERSION 1
typedef struct sluice_ledger_options {
    unsigned version;              /* SLUICE_LEDGER_OPTIONS_VERSION */
    const char *dir;               /* required; created if missing */
    const char *writer;            /* NULL: "default"; 1..64 of
                                      [A-Za-z0-9._-], one process each */
    const sluice_key *signer;      /* required: a SLUICE_KEY_SIGNER */
    const sluice_key *digest_key;  /* NULL: derived from signer */
    const char *origin;            /* checkpoint origin line; NULL:
                                      "sluice/<key name>/<writer>" */
    sluice_ledger_mode mode;
    uint32_t checkpoint_records;   /* 0: 1000 */
    uint32_t checkpoint_ms;        /* 0: 10 */
    uint64_t segment_bytes;        /* rotate past this size; 0: 64 MiB */
    uint32_t segment_seconds;      /* rotate past this age; 0: never */
    int no_thread;                 /* 1: no background checkpoint thread
                                      (checkpoints then happen only on
                                      append, sync and close) */
    sluice_checkpoint_fn on_checkpoint;   /* may be NULL */
    void *payload;                 /* for on_checkpoint */
} sluice_ledger_options;
#define SLUICE_LEDGER_OPTIONS_INIT { SLUICE_LEDGER_OPTIONS_VERSION, NULL, \
    NULL, NULL, NULL, NULL, SLUICE_LEDGER_BATCHED, 0, 0, 0, 0, 0, NULL, NULL }

/*
 * Open (or create) the writer's chain in opts->dir. The keys are copied;
 * the caller may free them afterwards. Recovery happens here: a torn tail
 * left by a crash is cut back to the last whole record (the cut bytes are
 * kept in a side file), the records after the last checkpoint are checked
 * against it, and a record says how many bytes were cut. Every open
 * starts a new session (an "open" record) and syncs a checkpoint.
 *
 * Errors: SLUICE_EINVAL (options, or the chain was signed by another key
 * or origin), SLUICE_EIO (files; another process holds the writer; a
 * corrupt segment that is not a torn tail), SLUICE_ENOMEM; err says why.
 */
SLUICE_API SLUICE_WUR int sluice_ledger_open(sluice_ledger **out,
    const sluice_ledger_options *opts, sluice_error *err);

/* Write and sync a checkpoint now. 0 or a negative SLUICE_E* code. */
SLUICE_API SLUICE_WUR int sluice_ledger_sync(sluice_ledger *l,
    sluice_error *err);

/*
 * Close: append a "close" record, sync a final checkpoint, release the
 * files. The handle stays valid, and later appends fail (so an engine
 * still attached blocks, fail-closed); free it with sluice_ledger_free.
 * Returns 0, or a negative code if the final writes failed.
 */
SLUICE_API SLUICE_WUR int sluice_ledger_close(sluice_ledger *l,
    sluice_error *err);

/* Close (if still open, errors ignored), wipe the keys, free. NULL is a
   no-op. No engine may be using the ledger any more. */
SLUICE_API void sluice_ledger_free(sluice_ledger *l);

typedef struct sluice_ledger_stats {
    uint64_t records;         /* records in the chain (last seq) */
    uint64_t synced;          /* records covered by a synced checkpoint */
    uint64_t checkpoints;     /* checkpoints written by this handle */
    uint64_t syncs;           /* fdatasync calls made by this handle */
    uint32_t session;         /* this handle's session number */
    uint64_t recovered_bytes; /* bytes cut at open */
    uint64_t unrecorded;      /* decisions not recorded (fail-open or
                                 fail-closed) and not yet in a gap record */
    int failed;               /* 1: a sync failed; appends now fail */
} sluice_ledger_stats;

SLUICE_API void sluice_ledger_get_stats(sluice_ledger *l,
    sluice_ledger_stats *out);

/*
 * Record every verdict of `e` in `l` (NULL: stop recording). The engine
 * does not take ownership: `l` must outlive every check that may use it,
 * that is, detach it (or free the engine) after the last check returns
 * and before sluice_ledger_free. Returns 0 or SLUICE_EINVAL.
 */
SLUICE_API int sluice_engine_set_ledger(sluice_engine *e, sluice_ledger *l,
    sluice_fail_mode fail);

/*
 * 1 if the verdict was recorded, with its sequence number in *seq and its
 * record hash (the RFC 6962 leaf hash) in hash (either may be NULL); 0 if
 * not (no ledger, or recording failed under fail-open).
 */
SLUICE_API int sluice_verdict_record(const sluice_verdict *v, uint64_t *seq,
    unsigned char hash[32]);

/* Why a verdict was forced ("ledger_unavailable", "regex_limit", ...), or
   NULL. Static string. */
SLUICE_API const char *sluice_verdict_reason(const sluice_verdict *v);

/*
 * Everything a binding reads of a verdict after each check, in one call:
 * each field is what its own accessor gives (sluice_verdict_action,
 * _output, _reason, the counts, _invalid_utf8, _policy, _label,
 * sluice_verdict_aigc() != NULL, _record). Strings and the policy are
 * borrowed from v. Set `version` first (SLUICE_VERDICT_INFO_VERSION); a
 * later version only adds fields at the end. Returns 0, or SLUICE_EINVAL
 * (v or out NULL, an unknown version).
 */
#define SLUICE_VERDICT_INFO_VERSION 1
typedef struct sluice_verdict_info {
    unsigned version;
    sluice_action action;
    const char *output;            /* output_len bytes, then a NUL */
    size_t output_len;
    const char *reason;            /* NULL: not forced */
    size_t nrules;
    size_t ncategories;
    size_t nspans;
    int spans_truncated;
    size_t invalid_utf8;
    const sluice_policy *policy;
    const char *label;             /* NULL: no explicit label */
    sluice_label_position label_position;
    int aigc;                      /* 1: carries the implicit label */
    int recorded;                  /* 1: record_seq, record_hash are set */
    uint64_t record_seq;
    unsigned char record_hash[32];
} sluice_verdict_info;
SLUICE_API SLUICE_WUR int sluice_verdict_read(const sluice_verdict *v,
    sluice_verdict_info *out);

/* ---- reading and verifying -------------------------------------------- */

typedef enum sluice_record_type {
    SLUICE_RECORD_OPEN = 1,
    SLUICE_RECORD_VERDICT = 2,
    SLUICE_RECORD_RECOVERY = 3,
    SLUICE_RECORD_GAP = 4,
    SLUICE_RECORD_CLOSE = 5
} sluice_record_type;

/* One record, decoded. Strings are NUL-terminated, "" when absent, and
   borrowed: valid only during the callback that received the record. */
typedef struct sluice_record {
    sluice_record_type type;
    uint64_t seq;                  /* 1-based, per writer */
    int64_t time_ns;               /* Unix time, nanoseconds */
    uint32_t session;
    const char *writer;
    unsigned char hash[32];        /* leaf hash: SHA-256(0x00 || record) */
    unsigned char prev[32];        /* hash of record seq-1 (zeros for 1) */
    /* SLUICE_RECORD_VERDICT */
    sluice_action action;
    const char *reason;
    const char *policy_id;
    int64_t policy_version;
    const char *policy_hash;       /* lower-case hex, or "" */
    int policy_signed;
    int has_digest;
    uint32_t digest_key_id;
    unsigned char digest[32];
    size_t nrules;
    const char *const *rules;
    size_t ncategories;
    const char *const *categories;
    const char *request_id;
    const char *tenant;
    const char *subject;
    const char *model;
    int truncated;                 /* a string or list was cut short */
    int cached;                    /* the verdict came from the verdict
                                      cache (docs/redis.md) */
    int suspended;                 /* its subject was suspended */
    /* SLUICE_RECORD_OPEN */
    sluice_ledger_mode mode;
    uint32_t checkpoint_records;
    uint32_t checkpoint_ms;
    const char *library_version;
    const char *host;
    uint32_t pid;
    /* SLUICE_RECORD_RECOVERY */
    uint64_t cut_bytes;
    uint64_t kept_unsigned;        /* whole records kept after the last
                                      checkpoint, now covered */
    const char *segment;
    const char *saved_as;          /* side file holding the cut bytes */
    /* SLUICE_RECORD_GAP */
    uint64_t gap_released;         /* fail-open: released unrecorded */
    uint64_t gap_blocked;          /* fail-closed: blocked unrecorded */
    int64_t gap_first_ns;
    int64_t gap_last_ns;
    const char *gap_error;
} sluice_record;

/* Return 0 to go on, anything else to stop (it is returned). */
typedef int (*sluice_record_fn)(const sluice_record *r, void *payload);

/*
 * Call fn for each record of `writer` (NULL: every writer, one after the
 * other, by name) in sequence order. Reads only; checks the frames but
 * not the signatures (sluice_ledger_verify does). Returns 0, fn's nonzero
 * value, or a negative SLUICE_E* code with err.
 */
SLUICE_API SLUICE_WUR int sluice_ledger_foreach(const char *dir,
    const char *writer, sluice_record_fn fn, void *payload,
    sluice_error *err);

/* The record as one line of JSON; *out is malloc'd, the caller's. */
SLUICE_API SLUICE_WUR int sluice_record_json(const sluice_record *r,
    char **out, size_t *len);

/*
 * The latest checkpoint (a signed note) of `writer` (NULL: the only
 * writer), for keeping as an anchor. *out is malloc'd, the caller's.
 */
SLUICE_API SLUICE_WUR int sluice_ledger_checkpoint(const char *dir,
    const char *writer, char **out, size_t *len, sluice_error *err);

#define SLUICE_VERIFY_OPTIONS_VERSION 1
typedef struct sluice_verify_options {
    unsigned version;            /* SLUICE_VERIFY_OPTIONS_VERSION */
    const sluice_key *key;       /* required: verifier (or signer) key */
    const char *anchor;          /* file of signed checkpoints kept
                                    elsewhere (truncation, rollback,
                                    forks); NULL: none */
    const char *writer;          /* NULL: every writer */
    int allow_tail;              /* 1: records after the last checkpoint
                                    and a torn last frame (a live writer)
                                    are reported, not failures */
    int allow_pruned;            /* 1: a chain may start after record 1
                                    (old segments removed) */
} sluice_verify_options;
#define SLUICE_VERIFY_OPTIONS_INIT { SLUICE_VERIFY_OPTIONS_VERSION, NULL, \
    NULL, NULL, 0, 0 }

/* What a verification found. ok == 1: everything checked. */
typedef struct sluice_verify_report {
    int ok;
    size_t writers;
    size_t segments;
    uint64_t records;            /* records covered by a checkpoint */
    uint64_t checkpoints;
    uint64_t tail_records;       /* after the last checkpoint */
    uint64_t torn_bytes;         /* partial frame at the very end */
    size_t anchors;              /* anchors matched */
    /* the first failure (ok == 0) */
    char writer[72];
    uint64_t seq;                /* the bad record, or 0 */
    char file[512];              /* segment file (path), or "" */
    uint64_t offset;             /* byte offset in it */
    char reason[512];
    char warning[512];           /* something worth saying, or "" */
} sluice_verify_report;

/*
 * Verify a ledger directory: every record's hash and chain link, sequence
 * and session continuity, segment continuity, every checkpoint's frontier,
 * root and signature, and the anchors. Returns 0 when the verification
 * ran (rep->ok says the result), or a negative code when it could not
 * (SLUICE_EIO: no such directory; SLUICE_EINVAL: options, anchor file).
 */
SLUICE_API SLUICE_WUR int sluice_ledger_verify(const char *dir,
    const sluice_verify_options *opts, sluice_verify_report *rep,
    sluice_error *err);

/*
 * A receipt for record `seq` of `writer` (NULL: the only writer): the
 * record, its inclusion proof, and the latest signed checkpoint, as
 * canonical JSON (docs/ledger.md, "Receipts"). *out is malloc'd. Errors:
 * SLUICE_EINVAL (no such record, or not yet covered by a checkpoint),
 * SLUICE_EIO, SLUICE_ENOMEM.
 */
SLUICE_API SLUICE_WUR int sluice_ledger_prove(const char *dir,
    const char *writer, uint64_t seq, char **out, size_t *len,
    sluice_error *err);

/*
 * Verify a receipt with the public key alone. Returns 0 when the check
 * ran: rep->ok is 1 if the receipt is exactly as sluice_ledger_prove
 * wrote it and everything in it verifies (rep->writer, rep->seq say which
 * record), else rep->reason says why not.
 */
SLUICE_API SLUICE_WUR int sluice_receipt_verify(const char *receipt,
    size_t len, const sluice_key *key, sluice_verify_report *rep,
    sluice_error *err);

/* ------------------------------------------------------------------------
 * Policy bundles (rules/bundle.c)
 * ---------------------------------------------------------------------- */

/*
 * A bundle is one file holding a policy's manifest (id, version, hash,
 * creation time, signer key name and id, file list), every source file
 * the policy reads (policy.yaml and its lists, byte for byte, in the
 * order of docs/policy-hash.md) and an Ed25519 signature over all of it
 * by a policy key (a SLUICE_KEY_SIGNER from sluice_keygen). The policy
 * hash of a bundle equals the hash of the directory it was built from.
 * docs/bundles.md gives the format byte by byte, so anyone can check a
 * bundle without Sluice. sluice_policy_load() loads bundles (see its
 * comment for the trust rules); the calls below build and inspect them.
 *
 * Objects: sluice_bundle is immutable once opened: share it. Building
 * keeps nothing between calls; any number of threads may build at once.
 */

typedef struct sluice_bundle sluice_bundle;

/* `created`: the build time, Unix seconds (UTC). */
#define SLUICE_BUNDLE_CREATED_NOW (-1)

#define SLUICE_BUNDLE_OPTIONS_VERSION 1
typedef struct sluice_bundle_options {
    unsigned version;                 /* SLUICE_BUNDLE_OPTIONS_VERSION */
    const sluice_key *signer;         /* required: a SLUICE_KEY_SIGNER */
    int64_t created;                  /* >= 0, or SLUICE_BUNDLE_CREATED_NOW:
                                         the current time. A fixed value
                                         makes builds reproducible */
    const sluice_policy_options *policy;  /* limits for reading the
                                         sources and the bundle; trust
                                         fields are ignored. NULL:
                                         defaults */
} sluice_bundle_options;
#define SLUICE_BUNDLE_OPTIONS_INIT { SLUICE_BUNDLE_OPTIONS_VERSION, NULL, \
    SLUICE_BUNDLE_CREATED_NOW, NULL }

/*
 * Build a signed bundle from the policy sources at `policy` (a directory
 * or its policy.yaml). The files packed are exactly those the parser read
 * and hashed, with those bytes; the finished bundle is then loaded once
 * (its signature checked with the signer's public key, its sources parsed
 * and compiled), so a bundle that is returned loads. Given the same
 * sources, key and `created`, the bytes are the same (Ed25519 signatures
 * are deterministic).
 *
 * On success *out (malloc'd, the caller's: free()) holds *len bytes.
 * Errors: SLUICE_EINVAL (options, no signer, a verifier key, `policy` is
 * already a bundle), the errors of sluice_policy_load() for the sources,
 * SLUICE_ETOOBIG (over max_bundle_bytes), SLUICE_ENOMEM; err says why.
 * The signer's secret is only read; nothing copies it.
 */
SLUICE_API SLUICE_WUR int sluice_bundle_build(char **out, size_t *len,
    const char *policy, const sluice_bundle_options *opts,
    sluice_error *err);

/*
 * sluice_bundle_build() and write the result to `path` atomically (a
 * temporary file in the same directory, synced, renamed over `path`),
 * mode 0644. An existing file at `path` is replaced only on success.
 */
SLUICE_API SLUICE_WUR int sluice_bundle_write(const char *path,
    const char *policy, const sluice_bundle_options *opts,
    sluice_error *err);

/*
 * Load a bundle held in memory (e.g. fetched from Redis), as
 * sluice_policy_load() loads a bundle file: the same trust rules and
 * errors. `name` (NULL: "bundle") names it in messages. data is only read
 * during the call.
 */
SLUICE_API SLUICE_WUR int sluice_policy_load_bundle(sluice_policy **out,
    const void *data, size_t len, const char *name,
    const sluice_policy_options *opts, sluice_error *err);

/*
 * The key that signed the policy's bundle: its name (borrowed, lives as
 * long as p) and, in *id (may be NULL), its signed-note key id; NULL (and
 * *id 0) when the policy is not signed.
 */
SLUICE_API const char *sluice_policy_signer(const sluice_policy *p,
    uint32_t *id);

/*
 * Open the bundle at `path` for inspection: read it (at most
 * opts->max_bundle_bytes; opts may be NULL) and check its structure, but
 * neither its signature (sluice_bundle_verify) nor its sources (load it
 * for that). On success *out is the caller's (sluice_bundle_free).
 * Errors: SLUICE_EIO, SLUICE_ETOOBIG, SLUICE_EPOLICY (not a bundle,
 * malformed, truncated), SLUICE_ENOMEM; err says why.
 */
SLUICE_API SLUICE_WUR int sluice_bundle_open(sluice_bundle **out,
    const char *path, const sluice_policy_options *opts, sluice_error *err);
/* Free an opened bundle. NULL is a no-op. */
SLUICE_API void sluice_bundle_free(sluice_bundle *b);

/* The manifest. Strings are borrowed and live as long as b; the signer
   is the one the bundle claims until sluice_bundle_verify says so. */
SLUICE_API const char *sluice_bundle_policy_id(const sluice_bundle *b);
SLUICE_API int64_t sluice_bundle_policy_version(const sluice_bundle *b);
/* Lower-case hex BLAKE2b-256, as sluice_policy_hash() gives it. */
SLUICE_API const char *sluice_bundle_policy_hash(const sluice_bundle *b);
SLUICE_API int64_t sluice_bundle_created(const sluice_bundle *b);
SLUICE_API const char *sluice_bundle_signer(const sluice_bundle *b,
    uint32_t *id);
/* Total size in bytes, and the format version (1). */
SLUICE_API uint64_t sluice_bundle_size(const sluice_bundle *b);
SLUICE_API unsigned sluice_bundle_format(const sluice_bundle *b);
/* Source files, in the order the policy reads them (0: policy.yaml). */
SLUICE_API size_t sluice_bundle_file_count(const sluice_bundle *b);
/* Path of file i relative to the policy directory (NULL if i is out of
   range); *size (may be NULL) gets its size in bytes. */
SLUICE_API const char *sluice_bundle_file(const sluice_bundle *b, size_t i,
    uint64_t *size);

/*
 * Check the bundle's signature against keys[0..nkeys) (verifier or
 * signer keys; others are skipped). Returns 0 if a key with the
 * bundle's signer name and id verifies the signature (*by, if not NULL,
 * gets it, borrowed from keys), else SLUICE_EPOLICY with err saying
 * whether no key is the signer's or the signature does not verify (a
 * byte changed after signing), or SLUICE_EINVAL.
 */
SLUICE_API SLUICE_WUR int sluice_bundle_verify(const sluice_bundle *b,
    const sluice_key *const *keys, size_t nkeys, const sluice_key **by,
    sluice_error *err);

/* ------------------------------------------------------------------------
 * Policy lint (rules/policy_lint.c)
 * ---------------------------------------------------------------------- */

/*
 * Static checks of a policy's sources, for its authors: duplicate,
 * shadowed and contained terms, terms that normalize to nothing or to
 * another term, very short terms, terms inside many common words (the
 * Scunthorpe problem), risky regexes, thin categories, and the policy's
 * worst-case streaming holdback. docs/lint.md lists every finding code,
 * what it means and how to fix it.
 */

typedef enum sluice_lint_severity {
    SLUICE_LINT_INFO = 0,      /* a fact worth knowing (counts, holdback) */
    SLUICE_LINT_WARNING = 1,   /* probably a mistake; the policy works */
    SLUICE_LINT_ERROR = 2      /* the policy is refused, or misbehaves */
} sluice_lint_severity;

/* "info", "warning" or "error"; "?" for anything else. Static. */
SLUICE_API const char *sluice_lint_severity_name(int severity);

/* One finding. Every pointer is borrowed: valid during the callback only. */
typedef struct sluice_lint_finding {
    sluice_lint_severity severity;
    const char *code;      /* stable short name, e.g. "duplicate-term" */
    const char *file;      /* spelled as the policy path was given, or "" */
    int line;              /* 1-based line in file, or 0 (the whole file) */
    const char *rule;      /* rule id, or NULL */
    const char *term;      /* the term as written, or NULL (may hold
                              control characters; message never does) */
    const char *message;   /* one line, no trailing newline */
} sluice_lint_finding;

/* Called once per finding, sorted by file (policy.yaml first), then line.
   Return 0 to go on, a positive value to stop (it is returned). */
typedef int (*sluice_lint_fn)(const sluice_lint_finding *f, void *payload);

/* A category that must hold at least `min` terms (finding
   "category-min-terms"); `min` 0: no minimum, which switches off one
   that lint.yaml sets. Borrowed for the call. */
typedef struct sluice_lint_min {
    const char *category;
    size_t min;
} sluice_lint_min;

#define SLUICE_LINT_OPTIONS_VERSION 2
typedef struct sluice_lint_options {
    unsigned version;                /* SLUICE_LINT_OPTIONS_VERSION */
    const sluice_policy_options *policy;   /* load limits; NULL: defaults */
    const char *const *vocab;        /* reference vocabularies for the
                                        Scunthorpe check: UTF-8 files, one
                                        word per line (first field; "word
                                        freq tag" lines as in jieba's
                                        dict.txt work); NULL: not run */
    size_t nvocab;
    size_t scunthorpe_words;         /* report a substring term found in at
                                        least this many words; 0: 3 */
    size_t examples;                 /* example words per report (at most
                                        10); 0: 3 */
    size_t short_chars;              /* a term of at most this many code
                                        points (normalized) is short; 0: 1 */
    size_t short_han;                /* ... if it holds an ideograph; 0: 1 */
    const sluice_lint_min *min_terms;   /* per-category minimums; an
                                        entry wins over lint.yaml's for
                                        its category */
    size_t nmin_terms;
    int no_regex_probe;              /* 1: do not run regexes on generated
                                        inputs (regex-backtracking,
                                        regex-slow) */
    /* version 2 */
    size_t min_total_terms;          /* the policy must hold at least this
                                        many terms in all (finding
                                        "total-min-terms"); 0: lint.yaml's
                                        min_total_terms, if any */
    int no_lint_yaml;                /* 1: do not read lint.yaml */
} sluice_lint_options;
#define SLUICE_LINT_OPTIONS_INIT { SLUICE_LINT_OPTIONS_VERSION, NULL, NULL, \
    0, 0, 0, 0, 0, NULL, 0, 0, 0, 0 }

/* What a lint run covered; filled when the call returns 0. */
typedef struct sluice_lint_report {
    size_t errors;                   /* findings of each severity */
    size_t warnings;
    size_t infos;
    size_t rules;                    /* rules in the policy */
    size_t terms;                    /* terms as written (rules' terms,
                                        co-occurrence terms), not allow */
    size_t vocab_words;              /* distinct vocabulary words read (0:
                                        the Scunthorpe check did not run) */
    int compiles;                    /* 1: the policy loads as it is */
    double ms;                       /* wall time of the call */
} sluice_lint_report;

/*
 * Lint the policy sources at `path` (a directory holding policy.yaml, or
 * that file; not a bundle) and call fn for each finding. `opts` may be
 * NULL (defaults: no vocabulary, so no Scunthorpe check); `report` may be
 * NULL.
 *
 * Minimum term counts come from lint.yaml in the policy's directory, when
 * there is one (min_terms: {CATEGORY: N, ...}, min_total_terms: N; see
 * docs/lint.md), merged with opts->min_terms and opts->min_total_terms,
 * which win. lint.yaml is lint's alone: not a policy source, not hashed,
 * not bundled.
 *
 * A policy the compiler refuses (a term that normalizes to nothing, a
 * regex that does not compile or can backtrack catastrophically) is not
 * an error of this call: each such problem is an error finding with its
 * file and line, and the other checks still run.
 *
 * Returns 0 when the lint ran (whatever it found), fn's positive value if
 * it stopped early, or a negative code with err filled: SLUICE_EPOLICY,
 * SLUICE_EIO, SLUICE_ETOOBIG when the sources cannot be read or parsed
 * (as sluice_policy_load), SLUICE_EPOLICY or SLUICE_EIO when lint.yaml is
 * malformed or cannot be read (err gives its file and line), SLUICE_EIO
 * when a vocabulary file cannot be read, SLUICE_EINVAL for bad arguments
 * or options (version 1 options are accepted), SLUICE_ENOMEM,
 * SLUICE_EINTERNAL. Thread-safe: a call shares nothing with other calls.
 */
SLUICE_API SLUICE_WUR int sluice_policy_lint(const char *path,
    const sluice_lint_options *opts, sluice_lint_fn fn, void *payload,
    sluice_lint_report *report, sluice_error *err);

/* ------------------------------------------------------------------------
 * Redis state (state/, docs/redis.md)
 *
 * Optional state shared by a fleet of engines through Redis (hiredis).
 * An engine works without it; with it:
 *
 *   - a verdict cache: policy hash + keyed digest of the output -> the
 *     verdict (action, rules, spans; never the text), with a TTL;
 *   - fleet policy distribution: `sluice publish` stores a signed bundle
 *     and announces its hash on a channel; each subscribed engine fetches
 *     it, checks signature and trust, compiles it and swaps atomically,
 *     or refuses it and keeps its policy; workers report what they run;
 *   - checkpoint anchors: each ledger writer's latest signed checkpoint,
 *     advanced by a compare-and-swap script that refuses a smaller tree
 *     (rollback) and another root for the same size (fork);
 *   - strike counters: blocked verdicts per tenant and subject, in a row
 *     and in a sliding window, and escalation (suspension).
 *
 * Time bounds: every call an output's check makes waits at most the
 * handle's `timeout_ms` in all, connecting included (non-blocking
 * connect, poll with a deadline). A failure puts the handle into back-off
 * (exponential, jittered, from backoff_min_ms to backoff_max_ms): calls
 * then fail at once, without touching the network, until one call probes
 * with a fresh connection. Redis being down is then the configured fail
 * mode: the cache is skipped ("cache":"unavailable"), strikes fail open
 * (or closed, if asked). Failures of Redis are SLUICE_EIO, with a message
 * saying what happened (refused, timed out, back-off, an error reply).
 *
 * Keys and channels all begin with one prefix (default "sluice:"), listed
 * in docs/redis.md.
 *
 * Objects: sluice_redis is thread-safe (a pool of connections, each used
 * by one thread at a time). sluice_fleet runs one thread of its own, with
 * its own connections.
 * ---------------------------------------------------------------------- */

typedef struct sluice_redis sluice_redis;

typedef enum sluice_log_level {
    SLUICE_LOG_ERROR = 0,      /* something was refused or failed */
    SLUICE_LOG_WARNING = 1,    /* Redis went away, a retry */
    SLUICE_LOG_INFO = 2        /* a policy swapped, Redis came back */
} sluice_log_level;

/* A one-line message (borrowed for the call). Called from the thread that
   saw the event, the fleet thread included; it must not call back into
   the object that logs. */
typedef void (*sluice_log_fn)(sluice_log_level level, const char *msg,
    void *payload);

#define SLUICE_REDIS_OPTIONS_VERSION 1
typedef struct sluice_redis_options {
    unsigned version;          /* SLUICE_REDIS_OPTIONS_VERSION */
    const char *addr;          /* "HOST:PORT", "HOST" (port 6379),
                                  "[IPv6]:PORT", "unix:/PATH" or "/PATH",
                                  "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]";
                                  NULL: "127.0.0.1:6379". A host name is
                                  resolved at each connect, which the
                                  timeouts do not bound: prefer addresses */
    const char *username;      /* AUTH user (Redis 6 ACL); NULL: none */
    const char *password;      /* AUTH password; NULL: none (copied,
                                  wiped when the handle is freed) */
    int db;                    /* SELECT; 0: the default database */
    const char *prefix;        /* of every key and channel; NULL: "sluice:" */
    uint32_t timeout_ms;       /* bound on each call on an output's path,
                                  connecting included; 0: 50 */
    uint32_t connect_timeout_ms;  /* bound on connecting (within the
                                  above on an output's path); 0: 200 */
    uint32_t bulk_timeout_ms;  /* bound on calls off the output path
                                  (publish, bundle fetch, status,
                                  anchors); 0: 10000 */
    uint32_t backoff_min_ms;   /* first back-off after a failure; 0: 100 */
    uint32_t backoff_max_ms;   /* the back-off doubles up to this; 0: 5000 */
    unsigned connections;      /* pool size; 0: 4 */
    sluice_log_fn log;         /* NULL: silent */
    void *log_payload;
} sluice_redis_options;
#define SLUICE_REDIS_OPTIONS_INIT { SLUICE_REDIS_OPTIONS_VERSION, NULL, \
    NULL, NULL, 0, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }

/*
 * Make a handle. It does not connect: the first call does, so an engine
 * starts while Redis is down (sluice_redis_ping to find out now). Strings
 * are copied. Errors: SLUICE_EINVAL (an address that does not parse, a
 * prefix over 64 bytes or with spaces, bad timeouts), SLUICE_ENOMEM.
 * The caller frees it with sluice_redis_free, after everything that uses
 * it (engines, fleets).
 */
SLUICE_API SLUICE_WUR int sluice_redis_new(sluice_redis **out,
    const sluice_redis_options *opts, sluice_error *err);

/* Close the connections, wipe the password, free. NULL is a no-op. */
SLUICE_API void sluice_redis_free(sluice_redis *r);

/* PING now, ignoring the back-off, within connect_timeout_ms +
   timeout_ms. 0, or SLUICE_EIO with err saying why. */
SLUICE_API SLUICE_WUR int sluice_redis_ping(sluice_redis *r,
    sluice_error *err);

typedef struct sluice_redis_stats {
    uint64_t calls;            /* calls that reached Redis */
    uint64_t failures;         /* of which failed (any reason) */
    uint64_t timeouts;         /* of which timed out */
    uint64_t skipped;          /* calls failed at once during back-off */
    uint64_t connects;         /* connections made */
    uint32_t backoff_ms;       /* current back-off, 0 when up */
    int up;                    /* 1: the last call succeeded */
} sluice_redis_stats;
SLUICE_API void sluice_redis_get_stats(sluice_redis *r,
    sluice_redis_stats *out);

/* ---- engines: verdict cache and strikes ------------------------------- */

typedef enum sluice_cache_status {
    SLUICE_CACHE_OFF = 0,          /* no cache on this engine */
    SLUICE_CACHE_MISS = 1,         /* checked, and stored */
    SLUICE_CACHE_HIT = 2,          /* the verdict came from the cache */
    SLUICE_CACHE_UNAVAILABLE = 3,  /* Redis down, slow or in back-off:
                                      checked without the cache */
    SLUICE_CACHE_SKIP = 4          /* not cacheable (shorter than
                                      cache_min_bytes, spans truncated,
                                      a forced verdict): checked */
} sluice_cache_status;

/* "off", "miss", "hit", "unavailable", "skip"; "?" otherwise. Static. */
SLUICE_API const char *sluice_cache_status_name(int status);

/*
 * Escalation for repeat offenders (per tenant and subject, the `tenant`
 * and `subject` of sluice_meta): `row` blocked verdicts in a row, or
 * `count` within the last `window_s` seconds, suspend the subject for
 * `suspend_s` seconds (a suspension is not extended while it lasts).
 * While suspended, with `block` set every output of the subject is
 * blocked (reason "subject_suspended"); without it verdicts stand and
 * sluice_state_info.suspended says so. Only verdicts the policy blocked
 * count (not forced blocks). Time is Redis's clock.
 */
typedef struct sluice_escalation {
    uint32_t row;              /* blocks in a row; 0: not counted */
    uint32_t count;            /* blocks within window_s; 0: not counted */
    uint32_t window_s;         /* the sliding window (required with count);
                                  also how long a row lasts (default 1 day) */
    uint32_t suspend_s;        /* required when row or count is set */
    int block;                 /* 1: block while suspended; 0: mark */
} sluice_escalation;

/*
 * The escalation a policy declares (its `escalation:` section): 1 with
 * *out filled, or 0 with *out zeroed when it declares none. An engine
 * using Redis counts strikes and applies it unless its own options give
 * one (sluice_engine_redis_options.escalation; docs/redis.md).
 */
SLUICE_API int sluice_policy_escalation(const sluice_policy *p,
    sluice_escalation *out);

#define SLUICE_ENGINE_REDIS_OPTIONS_VERSION 1
typedef struct sluice_engine_redis_options {
    unsigned version;          /* SLUICE_ENGINE_REDIS_OPTIONS_VERSION */
    int cache;                 /* 1: verdict cache for whole-text checks */
    const struct sluice_key *digest_key;  /* with cache: keys the output
                                  digests in cache keys (a digest key, or
                                  a signer key: its derived digest key);
                                  the same on every engine sharing the
                                  cache. Copied */
    uint32_t cache_ttl_s;      /* 0: 3600 */
    size_t cache_min_bytes;    /* shorter outputs skip the cache; 0: none
                                  do (docs/redis.md: when it pays) */
    int strikes;               /* blocks per tenant and subject (checks
                                  whose meta has a subject): 0 counted
                                  when the policy declares an escalation
                                  (default); 1 always counted; -1 never */
    sluice_escalation escalation;  /* row or count set: used instead of
                                  the policy's escalation */
    sluice_fail_mode strikes_fail;  /* strikes cannot be counted (Redis
                                  down): OPEN (default) the verdict
                                  stands; CLOSED: block, reason
                                  "strikes_unavailable" */
} sluice_engine_redis_options;
#define SLUICE_ENGINE_REDIS_OPTIONS_INIT { \
    SLUICE_ENGINE_REDIS_OPTIONS_VERSION, 0, NULL, 0, 0, 0, \
    { 0, 0, 0, 0, 0 }, SLUICE_FAIL_OPEN }

/*
 * Use Redis for the engine's checks: the verdict cache (whole-text
 * checks: sluice_check, sluice_check_state) and strikes (those and
 * streaming sessions), as `opts` and the policy ask. With r NULL, opts
 * NULL, or no cache and strikes -1, the engine stops using Redis. `r` is borrowed: it must outlive the engine's use of
 * it (detach, or free the engine, before sluice_redis_free). May be
 * called while checks run: each check uses the setting it started with.
 * (Fleet policy distribution is sluice_fleet_start's, not this call's.)
 *
 * A cache hit still goes through the rest of the check: ledger record
 * (flagged "cached"), labels. A streaming session counts its final
 * verdict as a strike, and starts blocked while its subject is
 * suspended (with `block`). Errors: SLUICE_EINVAL (options: cache
 * without a digest key, escalation without suspend_s ...),
 * SLUICE_ENOMEM.
 */
SLUICE_API SLUICE_WUR int sluice_engine_set_redis(sluice_engine *e,
    sluice_redis *r, const sluice_engine_redis_options *opts,
    sluice_error *err);

/* What Redis did for one check. */
typedef struct sluice_state_info {
    sluice_cache_status cache;
    int strikes;               /* 1: counted; 0: not asked (no strikes,
                                  no subject); -1: unavailable */
    uint32_t row;              /* the subject's blocks in a row, this one
                                  included */
    uint32_t window;           /* ... within the window (0 if not counted) */
    int suspended;             /* 1: the subject is suspended */
    uint32_t suspended_ms;     /* for this much longer */
    double redis_ms;           /* time spent waiting on Redis */
} sluice_state_info;

/*
 * sluice_check, telling what Redis did in *info (may be NULL: then it is
 * sluice_check). The same errors; `info` is filled on success.
 */
SLUICE_API SLUICE_WUR int sluice_check_state(sluice_engine *e,
    const char *text, size_t len, const sluice_meta *meta,
    sluice_verdict **out, sluice_state_info *info, sluice_error *err);

/*
 * What Redis did for the check that made `v`: 1 with *out filled when
 * the engine used Redis for it, else 0 (and *out zeroed, cache "off").
 * sluice_verdict_json carries the same as its members "cache",
 * "strikes", "suspend".
 */
SLUICE_API int sluice_verdict_state(const sluice_verdict *v,
    sluice_state_info *out);

/*
 * The fields of `info` for a verdict's JSON, as the text of JSON members
 * without braces, e.g. "cache":"hit","suspend":false ("strikes":
 * {"row":N,"window":N} when counted, "strikes":"unavailable" when not).
 * *out is malloc'd (the caller's), "" when there is nothing to say.
 */
SLUICE_API SLUICE_WUR int sluice_state_info_json(
    const sluice_state_info *info, char **out, size_t *len);

/* ---- fleet policy distribution ----------------------------------------- */

typedef struct sluice_publish_info {
    char hash[65];             /* the bundle's policy hash */
    char id[128];              /* policy id, version */
    int64_t version;
    uint64_t size;             /* bundle bytes */
    int64_t published_ms;      /* when (Unix ms, Redis clock) */
    char previous[65];         /* the hash it replaced, or "" */
    int64_t receivers;         /* subscribers the announcement reached
                                  (publish only) */
    int refused;               /* publish: 1 when refused as a downgrade
                                  (previous: the current hash) */
} sluice_publish_info;

/*
 * Make the bundle data[0..len) the fleet's policy: check that it loads
 * with `check` (give trust keys to publish only what workers will accept;
 * NULL: it must load unsigned, its signature is not checked), store it
 * under PREFIX "bundle:" HASH, make it current, and announce its hash on
 * the channel PREFIX "policy", in one script. The bundle it replaces
 * stays fetchable for a day. A lower version of the current policy id is
 * refused (a downgrade) unless `force`. Publishing the current bundle
 * again re-announces it (info->previous is then its own hash).
 *
 * Returns 0 with *info filled (may be NULL); SLUICE_EPOLICY (the bundle
 * does not load: err says why; or a downgrade: info->refused), SLUICE_EIO
 * (Redis), SLUICE_ENOMEM. Bounded by bulk_timeout_ms.
 */
SLUICE_API SLUICE_WUR int sluice_redis_publish(sluice_redis *r,
    const void *data, size_t len, const sluice_policy_options *check,
    int force, sluice_publish_info *info, sluice_error *err);

/*
 * Load the fleet's current bundle (as a late joiner does): fetch it and
 * load it with `opts` (trust keys: see sluice_policy_load). *info (may be
 * NULL) says which it is. Errors: SLUICE_ENOPOLICY (nothing published),
 * SLUICE_EIO (Redis), the errors of sluice_policy_load_bundle. Bounded
 * by bulk_timeout_ms.
 */
SLUICE_API SLUICE_WUR int sluice_redis_load_policy(sluice_policy **out,
    sluice_redis *r, const sluice_policy_options *opts,
    sluice_publish_info *info, sluice_error *err);

typedef struct sluice_fleet sluice_fleet;

#define SLUICE_FLEET_OPTIONS_VERSION 1
typedef struct sluice_fleet_options {
    unsigned version;          /* SLUICE_FLEET_OPTIONS_VERSION */
    const sluice_policy_options *policy;  /* how bundles load: trust keys
                                  (copied), allow_unsigned, limits; NULL:
                                  defaults (no trust keys: only
                                  allow_unsigned lets a bundle load) */
    const char *worker;        /* this worker's id (1..128 printable
                                  characters); NULL: "HOST:PID" */
    uint32_t report_s;         /* the worker's report lives this long,
                                  refreshed every third of it; 0: 30 */
    int allow_downgrade;       /* 1: accept a lower version of the
                                  running policy id */
    int no_initial_load;       /* 1: sluice_fleet_start does not load the
                                  current bundle before it returns */
    sluice_log_fn log;         /* swaps, refusals, Redis going away; NULL:
                                  the Redis handle's */
    void *log_payload;
} sluice_fleet_options;
#define SLUICE_FLEET_OPTIONS_INIT { SLUICE_FLEET_OPTIONS_VERSION, NULL, \
    NULL, 0, 0, 0, NULL, NULL }

/*
 * Keep engine `e` on the fleet's policy. First (unless no_initial_load)
 * load the current bundle, if there is one and Redis answers within
 * bulk_timeout_ms, and set it on the engine; then start a thread that
 * subscribes to the channel, and on each announcement (and on each
 * reconnect, and every report interval, in case one was missed) fetches
 * the bundle, checks signature and trust, compiles it and swaps it in
 * with sluice_engine_set_policy (atomic: each check runs under the old or
 * the new policy). A bundle that does not load (a bad signature, an
 * untrusted key, a malformed policy, a hash other than announced, a
 * downgrade) is refused: logged at error level, reported in the worker's
 * entry, and the engine keeps its policy. The thread reports the hash it
 * runs under PREFIX "worker:" ID, with a TTL. It connects with r's
 * options (its own connections) and reconnects with r's back-off.
 *
 * Returns 0 also when the initial load could not happen (Redis down,
 * nothing published: the engine keeps what it has, possibly no policy,
 * so checks fail closed until a bundle arrives); sluice_fleet_get_stats
 * tells. Errors: SLUICE_EINVAL, SLUICE_ENOMEM, SLUICE_EINTERNAL (thread).
 * `e` and `r` are borrowed until sluice_fleet_stop.
 */
SLUICE_API SLUICE_WUR int sluice_fleet_start(sluice_fleet **out,
    sluice_engine *e, sluice_redis *r, const sluice_fleet_options *opts,
    sluice_error *err);

/* Stop the thread, remove the worker's entry (best effort), free. NULL is
   a no-op. */
SLUICE_API void sluice_fleet_stop(sluice_fleet *f);

typedef struct sluice_fleet_stats {
    char hash[65];             /* the policy the fleet thread last set, or
                                  the engine's at start; "" if none */
    uint64_t swaps;            /* policies set */
    uint64_t refused;          /* bundles refused */
    uint64_t messages;         /* announcements received */
    uint64_t reconnects;       /* subscriptions (re)made */
    int connected;             /* 1: subscribed now */
    double last_swap_ms;       /* fetch + load + swap of the last one */
} sluice_fleet_stats;
SLUICE_API void sluice_fleet_get_stats(sluice_fleet *f,
    sluice_fleet_stats *out);

/* One worker's report, as `sluice fleet status` shows it. Strings are
   borrowed for the callback. */
typedef struct sluice_worker_status {
    const char *worker;
    const char *hash;          /* the policy it runs, "" if none */
    const char *policy_id;
    int64_t version;
    int is_signed;
    const char *state;         /* "ok", "no_policy", "refused" */
    const char *error;         /* the last refusal, or "" */
    const char *refused;       /* the hash it refused, or "" */
    int64_t since_ms;          /* running it since (Unix ms) */
    int64_t seen_ms;           /* last report (Unix ms) */
    int64_t ttl_ms;            /* the report expires in */
    const char *host;
    int64_t pid;
} sluice_worker_status;
typedef int (*sluice_worker_fn)(const sluice_worker_status *w,
    void *payload);

/*
 * The fleet's current policy (*current, may be NULL; hash "" when nothing
 * is published) and every live worker report, sorted by worker id, one
 * call of fn each (it returns 0 to go on, anything else to stop). Returns
 * 0, fn's value, or SLUICE_EIO. Bounded by bulk_timeout_ms.
 */
SLUICE_API SLUICE_WUR int sluice_redis_fleet_status(sluice_redis *r,
    sluice_publish_info *current, sluice_worker_fn fn, void *payload,
    sluice_error *err);

/* ---- checkpoint anchors ------------------------------------------------ */

typedef enum sluice_anchor_result {
    SLUICE_ANCHOR_NEW = 1,        /* none was stored: stored */
    SLUICE_ANCHOR_ADVANCED = 2,   /* a larger tree: stored */
    SLUICE_ANCHOR_SAME = 3,       /* the stored one: nothing to do */
    SLUICE_ANCHOR_ROLLBACK = 4,   /* a smaller tree than stored: refused */
    SLUICE_ANCHOR_FORK = 5,       /* another root for the stored size, or
                                     records that do not lead to the stored
                                     root: refused */
    SLUICE_ANCHOR_CONFLICT = 6    /* the stored anchor changed meanwhile:
                                     refused, try again */
} sluice_anchor_result;

/* "new", "advanced", "same", "rollback", "fork", "conflict"; "?". */
SLUICE_API const char *sluice_anchor_result_name(int result);

typedef struct sluice_anchor_report {
    sluice_anchor_result result;
    char origin[256];          /* the checkpoint's origin line */
    uint64_t size;             /* its tree size */
    uint64_t stored_size;      /* the anchor held before (0: none) */
    char reason[256];          /* for a refusal, one line; else "" */
} sluice_anchor_report;

/*
 * Anchor a signed checkpoint note (as sluice_checkpoint_fn gets it, or a
 * ledger's sluice_ledger_checkpoint) under PREFIX "anchor:" ORIGIN, with
 * the compare-and-swap script: stored if there is none or if its tree is
 * larger; refused if smaller (rollback) or of the same size with another
 * root (fork). Each anchor replaced is kept in a capped history (the last
 * 64), which sluice_redis_anchors returns too, so a later forged history
 * cannot erase the evidence. With `key` (a verifier or signer key), the
 * note must carry its valid signature. Whether a larger tree extends the
 * stored one needs the records: sluice_redis_anchor_ledger checks that.
 *
 * Returns 0 when the script ran (rep->result; refusals are logged at
 * error level), or SLUICE_EINVAL (not a signed checkpoint, or not signed
 * by key), SLUICE_EIO. Bounded by timeout_ms.
 */
SLUICE_API SLUICE_WUR int sluice_redis_anchor_put(sluice_redis *r,
    const char *note, size_t len, const sluice_key *key,
    sluice_anchor_report *rep, sluice_error *err);

/*
 * Anchor the latest checkpoint of `writer` (NULL: the only writer) of the
 * ledger in `dir`, checked against Redis first: if an anchor of a smaller
 * tree is stored, the ledger's own records must give its root at its
 * size (else SLUICE_ANCHOR_FORK, nothing stored); the swap then happens
 * only if that anchor is still the stored one (else
 * SLUICE_ANCHOR_CONFLICT). The checkpoint's signature is checked with
 * `key` (required). Reads the writer's records once. Returns as
 * sluice_redis_anchor_put, plus the errors of reading the ledger.
 */
SLUICE_API SLUICE_WUR int sluice_redis_anchor_ledger(sluice_redis *r,
    const char *dir, const char *writer, const sluice_key *key,
    sluice_anchor_report *rep, sluice_error *err);

/*
 * The anchors Redis holds for `origin` (NULL: every origin), the current
 * one and its history, as the text of an anchor file (signed notes one
 * after the other), ready for sluice_verify_options.anchor. *out is
 * malloc'd (the caller's; "" and *count 0 when there are none).
 * Bounded by bulk_timeout_ms. 0 or SLUICE_EIO, SLUICE_ENOMEM.
 */
SLUICE_API SLUICE_WUR int sluice_redis_anchors(sluice_redis *r,
    const char *origin, char **out, size_t *len, size_t *count,
    sluice_error *err);

/*
 * A sluice_checkpoint_fn (sluice_ledger_options.on_checkpoint) that
 * anchors each synced checkpoint; its payload is the sluice_redis. It
 * calls sluice_redis_anchor_put without a key (the ledger signed it) and
 * logs refusals and failures through the handle; a checkpoint that could
 * not be anchored is simply anchored by a later one.
 */
SLUICE_API void sluice_redis_anchor_checkpoint(const char *writer,
    const char *note, size_t len, void *payload);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_H */
