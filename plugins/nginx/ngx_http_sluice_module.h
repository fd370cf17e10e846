/*
 * ngx_http_sluice_module.h - what the three files of the nginx module
 * share: configuration structs, the per-request context, and the helpers
 * the JSON/text path (ngx_http_sluice_json.c) and the SSE path
 * (ngx_http_sluice_sse.c) call in ngx_http_sluice_module.c.
 *
 * Ownership. Policies are loaded at configuration time (the master, or
 * `nginx -t`), live in ngx_http_sluice_policy_t and are unreferenced by a
 * cf->pool cleanup; the workers inherit them read-only through fork. Each
 * worker builds its own engines, ledgers and Redis handles in
 * init_process (one ngx_http_sluice_slot_t per distinct configuration)
 * and frees them in exit_process. Per-request Sluice objects (sessions,
 * buffers) hang off the request context and are freed by an r->pool
 * cleanup, so an aborted request leaks nothing.
 */
#ifndef NGX_HTTP_SLUICE_MODULE_H
#define NGX_HTTP_SLUICE_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sluice.h>
#include <cJSON.h>

#define NGX_HTTP_SLUICE_ENFORCE   0
#define NGX_HTTP_SLUICE_OBSERVE   1

#define NGX_HTTP_SLUICE_JSON      1
#define NGX_HTTP_SLUICE_TEXT      2
#define NGX_HTTP_SLUICE_SSE       3

/* Choices (n > 1) a stream may carry; more fail like malformed input. */
#define NGX_HTTP_SLUICE_MAX_CHOICES  8

/* One policy, loaded when the configuration is read. */
typedef struct {
    ngx_str_t                   path;
    ngx_array_t                *trust;        /* of ngx_str_t, or NULL */
    ngx_flag_t                  allow_unsigned;
    sluice_policy              *policy;
} ngx_http_sluice_policy_t;

/*
 * One engine configuration: a policy with a ledger, Redis and fail mode.
 * Locations configured alike share a slot. The fields after `index` are
 * per worker, set in init_process.
 */
typedef struct {
    ngx_http_sluice_policy_t   *pol;
    ngx_str_t                   ledger_dir;
    ngx_str_t                   ledger_key;
    ngx_str_t                   redis;
    ngx_uint_t                  fail_open;
    ngx_uint_t                  index;

    sluice_engine              *engine;
    sluice_ledger              *ledger;
    sluice_redis               *redis_h;
    sluice_fleet               *fleet;
    ngx_flag_t                  broken;       /* worker setup failed */
    char                        writer[72];
} ngx_http_sluice_slot_t;

typedef struct {
    ngx_array_t                 policies;     /* ngx_http_sluice_policy_t * */
    ngx_array_t                 slots;        /* ngx_http_sluice_slot_t * */
    ngx_int_t                   request_id_index;
} ngx_http_sluice_main_conf_t;

typedef struct {
    ngx_flag_t                  enable;
    ngx_str_t                   policy;
    ngx_array_t                *trust;
    ngx_flag_t                  allow_unsigned;
    ngx_uint_t                  mode;
    ngx_str_t                   ledger_dir;
    ngx_str_t                   ledger_key;
    ngx_str_t                   redis;
    ngx_http_complex_value_t   *tenant;
    ngx_http_complex_value_t   *subject;
    size_t                      max_body;
    size_t                      max_held;
    ngx_uint_t                  fail_open;
    ngx_array_t                *text_types;   /* ngx_str_t, lower case */
    ngx_flag_t                  identity;     /* ask upstream for identity */

    ngx_http_sluice_slot_t     *slot;
} ngx_http_sluice_loc_conf_t;

/* A growable byte buffer (malloc'd: freed by the request's cleanup). */
typedef struct {
    u_char                     *p;
    size_t                      len;
    size_t                      cap;
} ngx_http_sluice_buf_t;

/* One choice of a stream: its session and how its text is carried. */
typedef struct {
    sluice_session             *session;
    ngx_flag_t                  open;         /* a session was made */
    ngx_flag_t                  done;         /* finished or stopped */
    ngx_flag_t                  completion;   /* "text", not delta.content */
} ngx_http_sluice_choice_t;

typedef struct {
    ngx_uint_t                  kind;
    ngx_http_sluice_loc_conf_t *conf;
    ngx_http_sluice_slot_t     *slot;
    sluice_meta                 meta;

    /* the client's Accept-Encoding, while upstream is asked for identity */
    ngx_table_elt_t            *accept_encoding;
    ngx_str_t                   accept_encoding_value;

    /* verdicts so far: worst action, the policy, the records */
    int                         action;       /* -1: none yet */
    const char                 *reason;
    ngx_str_t                   policy;
    u_char                     *records;
    size_t                      records_len;
    size_t                      records_cap;
    ngx_flag_t                  error;        /* unchecked (fail-open) */

    /* buffered JSON / text body (malloc'd, freed by the cleanup) */
    u_char                     *body;
    size_t                      body_len;
    size_t                      body_cap;
    ngx_flag_t                  passthrough;  /* over the cap, fail-open */

    /* SSE: unparsed input, an event's data, a choice's release (each
       malloc'd and reused for the whole stream), output chains */
    ngx_http_sluice_buf_t       in;
    ngx_http_sluice_buf_t       data;
    ngx_http_sluice_buf_t       rel;
    ngx_buf_t                  *cur;          /* output buf being filled */
    ngx_chain_t                *out;
    ngx_chain_t               **last_out;
    ngx_chain_t                *free;
    ngx_chain_t                *busy;
    cJSON                      *tmpl;         /* id/object/model of chunks */
    ngx_http_sluice_choice_t    choices[NGX_HTTP_SLUICE_MAX_CHOICES];
    ngx_flag_t                  done;         /* last_buf sent */
    ngx_flag_t                  last_sent;
    ngx_flag_t                  ended;        /* [DONE] seen */
    ngx_flag_t                  raw;          /* fail-open: pass the rest */
} ngx_http_sluice_ctx_t;

extern ngx_module_t ngx_http_sluice_module;

/* ngx_http_sluice_module.c */
ngx_int_t ngx_http_sluice_next_header(ngx_http_request_t *r);
ngx_int_t ngx_http_sluice_next_body(ngx_http_request_t *r, ngx_chain_t *in);
ngx_int_t ngx_http_sluice_add_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len);
ngx_int_t ngx_http_sluice_note_verdict(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, const sluice_verdict *v);
ngx_int_t ngx_http_sluice_policy_string(ngx_http_request_t *r,
    const sluice_policy *p, ngx_str_t *out);
ngx_int_t ngx_http_sluice_result_headers(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx);
void ngx_http_sluice_stop_upstream(ngx_http_request_t *r);
ngx_int_t ngx_http_sluice_json_set(cJSON *parent, cJSON *item,
    const char *text);

/* ngx_http_sluice_json.c: application/json and text bodies, buffered */
ngx_int_t ngx_http_sluice_body_buffered(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, ngx_chain_t *in);

/* ngx_http_sluice_sse.c: text/event-stream, through sessions */
ngx_int_t ngx_http_sluice_body_sse(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, ngx_chain_t *in);
void ngx_http_sluice_sse_cleanup(ngx_http_sluice_ctx_t *ctx);
ngx_int_t ngx_http_sluice_buf_append(ngx_http_sluice_buf_t *b,
    const u_char *p, size_t len, size_t max);

#endif /* NGX_HTTP_SLUICE_MODULE_H */
