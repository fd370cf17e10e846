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

#define SLUICE_POLICY_OPTIONS_VERSION 1
typedef struct sluice_policy_options {
    unsigned version;          /* SLUICE_POLICY_OPTIONS_VERSION */
    size_t max_terms;          /* 0: default (2,000,000) */
    size_t max_list_bytes;     /* 0: default (64 MiB per list file) */
    size_t max_rules;          /* 0: default (100,000) */
} sluice_policy_options;
#define SLUICE_POLICY_OPTIONS_INIT { SLUICE_POLICY_OPTIONS_VERSION, 0, 0, 0 }

/*
 * Load and compile the policy at `path` (a directory holding policy.yaml,
 * or the policy.yaml file itself). `opts` may be NULL for defaults.
 *
 * On success *out holds a policy with one reference, owned by the caller.
 * On failure *out is NULL, the return is negative, and `err` (if not NULL)
 * names the file, line and reason. Thread-safe.
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
 * input, the rule that fired, and that rule's action.
 */
typedef struct sluice_span {
    size_t start;
    size_t end;
    const char *rule;     /* borrowed from the verdict */
    sluice_action action;
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
 * categories, spans, output, policy {id, version, hash, signed},
 * invalid_utf8. *out is malloc'd and the caller's (free()).
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

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_H */
