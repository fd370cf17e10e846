/*
 * ngx_http_sluice_module.c - an nginx HTTP filter that moderates the
 * responses of OpenAI-compatible inference servers with libsluice
 * (docs/nginx.md): directives, configuration, the per-worker engines, the
 * header filter that decides how a response is handled, and the body
 * filter that hands it to the JSON/text path (ngx_http_sluice_json.c) or
 * the SSE path (ngx_http_sluice_sse.c).
 *
 * Design. Policies are compiled when the configuration is read, so
 * `nginx -t` refuses a bad policy and every worker shares the compiled
 * policy read-only (copy-on-write after fork). Each worker makes its own
 * engine per distinct configuration ("slot") in init_process, with its
 * own ledger writer ("nginx-PID"), since a ledger writer belongs to one
 * process; a reload (`nginx -s reload`) reads the policies again and
 * starts new workers. With sluice_redis, each worker's engine also
 * follows the fleet's policy (sluice_fleet_start), swapping atomically.
 *
 * Which responses: the main request's 200 responses in a location with
 * `sluice on`, by Content-Type: application/json (buffered: headers are
 * held until the body is complete, so Content-Length and X-Sluice-*
 * headers can be set), text/event-stream (streamed through sessions; the
 * result goes in a final SSE comment), the types listed in
 * sluice_text_types (buffered, checked as text); anything else passes.
 *
 * Order follows ngx_http_sub_filter_module: prototypes, directives, module
 * context, module, handlers, configuration, initialisation.
 */

#include "ngx_http_sluice_module.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static ngx_int_t ngx_http_sluice_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_sluice_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_sluice_precontent(ngx_http_request_t *r);
static ngx_http_sluice_ctx_t *ngx_http_sluice_create_ctx(
    ngx_http_request_t *r, ngx_http_sluice_loc_conf_t *conf);
static void ngx_http_sluice_cleanup(void *data);
static ngx_int_t ngx_http_sluice_meta(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx);
static ngx_uint_t ngx_http_sluice_kind(ngx_http_request_t *r,
    ngx_http_sluice_loc_conf_t *conf);

static void *ngx_http_sluice_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_sluice_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_sluice_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_sluice_ledger(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sluice_text_types(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_http_sluice_slot_t *ngx_http_sluice_get_slot(ngx_conf_t *cf,
    ngx_http_sluice_loc_conf_t *conf);
static ngx_http_sluice_policy_t *ngx_http_sluice_get_policy(ngx_conf_t *cf,
    ngx_http_sluice_loc_conf_t *conf);
static void ngx_http_sluice_policy_cleanup(void *data);
static ngx_int_t ngx_http_sluice_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_sluice_init_process(ngx_cycle_t *cycle);
static void ngx_http_sluice_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_sluice_modes[] = {
    { ngx_string("enforce"), NGX_HTTP_SLUICE_ENFORCE },
    { ngx_string("observe"), NGX_HTTP_SLUICE_OBSERVE },
    { ngx_null_string, 0 }
};

static ngx_conf_enum_t  ngx_http_sluice_fail_modes[] = {
    { ngx_string("closed"), 0 },
    { ngx_string("open"), 1 },
    { ngx_null_string, 0 }
};

#define NGX_HTTP_SLUICE_CONF  (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF            \
                               |NGX_HTTP_LOC_CONF)

static ngx_command_t  ngx_http_sluice_commands[] = {

    { ngx_string("sluice"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, enable),
      NULL },

    { ngx_string("sluice_policy"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, policy),
      NULL },

    { ngx_string("sluice_trust"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, trust),
      NULL },

    { ngx_string("sluice_allow_unsigned"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, allow_unsigned),
      NULL },

    { ngx_string("sluice_mode"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, mode),
      &ngx_http_sluice_modes },

    { ngx_string("sluice_ledger"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE12,
      ngx_http_sluice_ledger,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sluice_redis"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, redis),
      NULL },

    { ngx_string("sluice_tenant"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, tenant),
      NULL },

    { ngx_string("sluice_subject"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, subject),
      NULL },

    { ngx_string("sluice_max_body"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, max_body),
      NULL },

    { ngx_string("sluice_max_held"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, max_held),
      NULL },

    { ngx_string("sluice_fail"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, fail_open),
      &ngx_http_sluice_fail_modes },

    { ngx_string("sluice_text_types"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_1MORE,
      ngx_http_sluice_text_types,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sluice_identity"),
      NGX_HTTP_SLUICE_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sluice_loc_conf_t, identity),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_sluice_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_sluice_init,                  /* postconfiguration */

    ngx_http_sluice_create_main_conf,      /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_sluice_create_loc_conf,       /* create location configuration */
    ngx_http_sluice_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_sluice_module = {
    NGX_MODULE_V1,
    &ngx_http_sluice_module_ctx,           /* module context */
    ngx_http_sluice_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_sluice_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_sluice_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;

static ngx_str_t  ngx_http_sluice_identity = ngx_string("identity");


/* ---- request handling ------------------------------------------------ */

/*
 * Before the content handler (proxy_pass) builds the upstream request:
 * ask for an identity-encoded response, keeping the client's
 * Accept-Encoding so that the header filter can put it back (the gzip
 * filter, after this one, still compresses what we release).
 */
static ngx_int_t
ngx_http_sluice_precontent(ngx_http_request_t *r)
{
    ngx_uint_t                   i;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *h;
    ngx_http_sluice_ctx_t       *ctx;
    ngx_http_sluice_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_sluice_module);
    if (!conf->enable || !conf->identity || r != r->main
        || ngx_http_get_module_ctx(r, ngx_http_sluice_module) != NULL)
    {
        return NGX_DECLINED;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != sizeof("Accept-Encoding") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Accept-Encoding",
                               h[i].key.len) != 0)
        {
            continue;
        }

        ctx = ngx_http_sluice_create_ctx(r, conf);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->accept_encoding = &h[i];
        ctx->accept_encoding_value = h[i].value;
        h[i].value = ngx_http_sluice_identity;
        break;
    }

    return NGX_DECLINED;
}


static ngx_http_sluice_ctx_t *
ngx_http_sluice_create_ctx(ngx_http_request_t *r,
    ngx_http_sluice_loc_conf_t *conf)
{
    ngx_pool_cleanup_t     *cln;
    ngx_http_sluice_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_sluice_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    ctx->conf = conf;
    ctx->slot = conf->slot;
    ctx->action = -1;
    ctx->last_out = &ctx->out;

    cln->handler = ngx_http_sluice_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_sluice_module);

    return ctx;
}


/* Frees what a request holds; open sessions are finished first, so that a
   stream cut short (client gone, upstream gone) still has its record. */
static void
ngx_http_sluice_cleanup(void *data)
{
    ngx_http_sluice_ctx_t  *ctx = data;

    ngx_http_sluice_sse_cleanup(ctx);

    free(ctx->body);
    ctx->body = NULL;
    free(ctx->in.p);
    free(ctx->data.p);
    free(ctx->rel.p);
    ngx_memzero(&ctx->in, sizeof(ngx_http_sluice_buf_t));
    ngx_memzero(&ctx->data, sizeof(ngx_http_sluice_buf_t));
    ngx_memzero(&ctx->rel, sizeof(ngx_http_sluice_buf_t));

    if (ctx->tmpl != NULL) {
        cJSON_Delete(ctx->tmpl);
        ctx->tmpl = NULL;
    }
}


static ngx_uint_t
ngx_http_sluice_kind(ngx_http_request_t *r, ngx_http_sluice_loc_conf_t *conf)
{
    size_t      len;
    u_char     *p, lower[128];
    ngx_str_t  *t;
    ngx_uint_t  i;

    len = r->headers_out.content_type.len;
    p = ngx_strlchr(r->headers_out.content_type.data,
                    r->headers_out.content_type.data + len, ';');
    if (p != NULL) {
        len = p - r->headers_out.content_type.data;
    }

    while (len > 0 && r->headers_out.content_type.data[len - 1] == ' ') {
        len--;
    }

    if (len == 0 || len > sizeof(lower)) {
        return 0;
    }

    ngx_strlow(lower, r->headers_out.content_type.data, len);

    if (len == sizeof("application/json") - 1
        && ngx_strncmp(lower, "application/json", len) == 0)
    {
        return NGX_HTTP_SLUICE_JSON;
    }

    if (len == sizeof("text/event-stream") - 1
        && ngx_strncmp(lower, "text/event-stream", len) == 0)
    {
        return NGX_HTTP_SLUICE_SSE;
    }

    if (conf->text_types != NULL) {
        t = conf->text_types->elts;
        for (i = 0; i < conf->text_types->nelts; i++) {
            if (t[i].len == len && ngx_strncmp(lower, t[i].data, len) == 0) {
                return NGX_HTTP_SLUICE_TEXT;
            }
        }
    }

    return 0;
}


/* A NUL-terminated copy of a complex value's result, or NULL if empty. */
static ngx_int_t
ngx_http_sluice_cv(ngx_http_request_t *r, ngx_http_complex_value_t *cv,
    const char **out)
{
    ngx_str_t  v;
    u_char    *p;

    *out = NULL;

    if (cv == NULL) {
        return NGX_OK;
    }

    if (ngx_http_complex_value(r, cv, &v) != NGX_OK) {
        return NGX_ERROR;
    }

    if (v.len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, v.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(p, v.data, v.len) = '\0';
    *out = (const char *) p;

    return NGX_OK;
}


/* Request metadata for the ledger: $request_id, tenant, subject. */
static ngx_int_t
ngx_http_sluice_meta(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx)
{
    u_char                       *p;
    ngx_http_variable_value_t    *vv;
    ngx_http_sluice_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_sluice_module);

    /* $request_id costs a random draw: only when it is recorded */
    if (mcf->request_id_index != NGX_ERROR && ctx->slot->ledger != NULL) {
        vv = ngx_http_get_indexed_variable(r, mcf->request_id_index);
        if (vv != NULL && !vv->not_found && vv->len > 0) {
            p = ngx_pnalloc(r->pool, vv->len + 1);
            if (p == NULL) {
                return NGX_ERROR;
            }
            *ngx_cpymem(p, vv->data, vv->len) = '\0';
            ctx->meta.request_id = (const char *) p;
        }
    }

    if (ngx_http_sluice_cv(r, ctx->conf->tenant, &ctx->meta.tenant)
        != NGX_OK
        || ngx_http_sluice_cv(r, ctx->conf->subject, &ctx->meta.subject)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sluice_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                   kind;
    ngx_str_t                    pol;
    sluice_policy               *p;
    ngx_http_sluice_ctx_t       *ctx;
    ngx_http_sluice_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_sluice_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_sluice_module);

    if (ctx != NULL && ctx->accept_encoding != NULL) {
        ctx->accept_encoding->value = ctx->accept_encoding_value;
        ctx->accept_encoding = NULL;
    }

    if (!conf->enable || conf->slot == NULL || r != r->main
        || r->header_only || r->headers_out.status != NGX_HTTP_OK)
    {
        return ngx_http_next_header_filter(r);
    }

    kind = ngx_http_sluice_kind(r, conf);
    if (kind == 0) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx == NULL) {
        ctx = ngx_http_sluice_create_ctx(r, conf);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_sluice_meta(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->kind = kind;

    if (conf->slot->broken
        || (r->headers_out.content_encoding != NULL
            && r->headers_out.content_encoding->value.len > 0
            && ngx_strcasecmp(r->headers_out.content_encoding->value.data,
                              (u_char *) "identity") != 0))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "sluice: %s, response %s",
                      conf->slot->broken ? "no engine in this worker"
                                         : "encoded upstream response",
                      conf->fail_open ? "passed unchecked (sluice_fail open)"
                                      : "refused");
        if (!conf->fail_open) {
            ctx->kind = 0;
            return ngx_http_filter_finalize_request(r, &ngx_http_sluice_module,
                                                    NGX_HTTP_BAD_GATEWAY);
        }
        ctx->kind = 0;
        ctx->error = 1;
        ctx->reason = conf->slot->broken ? "no_engine" : "encoded";
        if (ngx_http_sluice_result_headers(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }
        return ngx_http_next_header_filter(r);
    }

    r->filter_need_in_memory = 1;
    r->allow_ranges = 0;
    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_etag(r);

    if (kind != NGX_HTTP_SLUICE_SSE) {
        /* held until the body is complete (ngx_http_sluice_json.c) */
        return NGX_OK;
    }

    p = sluice_engine_policy(conf->slot->engine);
    if (p != NULL) {
        if (ngx_http_sluice_policy_string(r, p, &pol) != NGX_OK) {
            sluice_policy_unref(p);
            return NGX_ERROR;
        }
        sluice_policy_unref(p);
        if (ngx_http_sluice_add_header(r, "X-Sluice-Policy", pol.data,
                                       pol.len) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (conf->mode == NGX_HTTP_SLUICE_OBSERVE
        && ngx_http_sluice_add_header(r, "X-Sluice-Mode",
                                      (u_char *) "observe", 7) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_sluice_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_sluice_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_sluice_module);

    if (ctx == NULL || ctx->kind == 0) {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->kind == NGX_HTTP_SLUICE_SSE) {
        return ngx_http_sluice_body_sse(r, ctx, in);
    }

    return ngx_http_sluice_body_buffered(r, ctx, in);
}


/* ---- helpers for the JSON and SSE paths ------------------------------- */

ngx_int_t
ngx_http_sluice_next_header(ngx_http_request_t *r)
{
    return ngx_http_next_header_filter(r);
}


ngx_int_t
ngx_http_sluice_next_body(ngx_http_request_t *r, ngx_chain_t *in)
{
    return ngx_http_next_body_filter(r, in);
}


/* Add a response header; `value` must live as long as the request. */
ngx_int_t
ngx_http_sluice_add_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


/* "id=baseline; version=7; hash=HEX; signed=false", in r->pool. */
ngx_int_t
ngx_http_sluice_policy_string(ngx_http_request_t *r, const sluice_policy *p,
    ngx_str_t *out)
{
    size_t       len;
    const char  *id, *hash;

    id = sluice_policy_id(p);
    hash = sluice_policy_hash(p);
    len = sizeof("id=; version=; hash=; signed=false") - 1 + NGX_INT64_LEN
          + ngx_strlen(id) + ngx_strlen(hash);

    out->data = ngx_pnalloc(r->pool, len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_snprintf(out->data, len, "id=%s; version=%L; hash=%s; "
                            "signed=%s", id,
                            (int64_t) sluice_policy_version(p), hash,
                            sluice_policy_signed(p) ? "true" : "false")
               - out->data;

    return NGX_OK;
}


/*
 * Fold one verdict into the response's result: the worst action, the
 * policy (of the first verdict), the forced reason, and the ledger record
 * ("writer=W; seq=N; hash=HEX", comma-separated when several).
 */
ngx_int_t
ngx_http_sluice_note_verdict(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    const sluice_verdict *v)
{
    int            action;
    size_t         need, i;
    u_char        *p, *np;
    uint64_t       seq;
    const char    *reason;
    unsigned char  hash[32];

    action = (int) sluice_verdict_action(v);
    if (action > ctx->action) {
        ctx->action = action;
    }

    reason = sluice_verdict_reason(v);
    if (reason != NULL && ctx->reason == NULL) {
        ctx->reason = reason;
    }

    if (ctx->policy.len == 0
        && ngx_http_sluice_policy_string(r, sluice_verdict_policy(v),
                                         &ctx->policy) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!sluice_verdict_record(v, &seq, hash)) {
        return NGX_OK;
    }

    need = ctx->records_len + sizeof(", writer=; seq=; hash=") - 1
           + sizeof(ctx->slot->writer) + NGX_INT64_LEN + 64;

    if (need > ctx->records_cap) {
        np = ngx_pnalloc(r->pool, need * 2);
        if (np == NULL) {
            return NGX_ERROR;
        }
        if (ctx->records_len) {
            ngx_memcpy(np, ctx->records, ctx->records_len);
        }
        ctx->records = np;
        ctx->records_cap = need * 2;
    }

    p = ctx->records + ctx->records_len;
    if (ctx->records_len) {
        p = ngx_cpymem(p, ", ", 2);
    }

    p = ngx_sprintf(p, "writer=%s; seq=%uL; hash=", ctx->slot->writer, seq);
    for (i = 0; i < sizeof(hash); i++) {
        p = ngx_sprintf(p, "%02xd", hash[i]);
    }

    ctx->records_len = p - ctx->records;

    return NGX_OK;
}


/* X-Sluice-Action, -Policy, -Record, -Reason, -Mode for a buffered
   response, from what ngx_http_sluice_note_verdict gathered. */
ngx_int_t
ngx_http_sluice_result_headers(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx)
{
    const char  *action;

    if (ctx->error) {
        action = "error";
    } else if (ctx->action < 0) {
        action = "none";
    } else {
        action = sluice_action_name(ctx->action);
    }

    if (ngx_http_sluice_add_header(r, "X-Sluice-Action", (u_char *) action,
                                   ngx_strlen(action)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->policy.len
        && ngx_http_sluice_add_header(r, "X-Sluice-Policy", ctx->policy.data,
                                      ctx->policy.len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->records_len
        && ngx_http_sluice_add_header(r, "X-Sluice-Record", ctx->records,
                                      ctx->records_len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->reason != NULL
        && ngx_http_sluice_add_header(r, "X-Sluice-Reason",
                                      (u_char *) ctx->reason,
                                      ngx_strlen(ctx->reason)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->conf->mode == NGX_HTTP_SLUICE_OBSERVE
        && ngx_http_sluice_add_header(r, "X-Sluice-Mode",
                                      (u_char *) "observe", 7) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The response is complete on our side (a block ended it): stop reading
 * the upstream. Unbuffered proxying finalizes as soon as the remaining
 * length is zero; a buffered one when its pipe is done. The upstream
 * connection is then closed rather than kept, as its response was not
 * read to the end; the client's connection stays alive.
 */
void
ngx_http_sluice_stop_upstream(ngx_http_request_t *r)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;
    if (u == NULL) {
        return;
    }

    u->length = 0;
    u->keepalive = 0;

    if (u->buffering && u->pipe != NULL) {
        u->pipe->upstream_done = 1;
    }
}


/*
 * Replace the string `item` of object `parent` with a copy of `text`,
 * under the same key. cJSON_ReplaceItemViaPointer would drop the key.
 */
ngx_int_t
ngx_http_sluice_json_set(cJSON *parent, cJSON *item, const char *text)
{
    char   key[16];
    cJSON  *s;
    size_t  n;

    n = ngx_strlen(item->string);
    if (n >= sizeof(key)) {
        return NGX_ERROR;
    }
    ngx_memcpy(key, item->string, n + 1);

    s = cJSON_CreateString(text);
    if (s == NULL) {
        return NGX_ERROR;
    }

    if (!cJSON_ReplaceItemInObjectCaseSensitive(parent, key, s)) {
        cJSON_Delete(s);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* ---- configuration ---------------------------------------------------- */

static char *
ngx_http_sluice_ledger(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sluice_loc_conf_t *lcf = conf;
    ngx_str_t                  *value;

    if (lcf->ledger_dir.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
            lcf->ledger_dir.len = 0;
            lcf->ledger_dir.data = (u_char *) "";
            return NGX_CONF_OK;
        }
        return "takes DIR KEY, or off";
    }

    lcf->ledger_dir = value[1];
    lcf->ledger_key = value[2];

    if (ngx_conf_full_name(cf->cycle, &lcf->ledger_dir, 0) != NGX_OK
        || ngx_conf_full_name(cf->cycle, &lcf->ledger_key, 1) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_sluice_text_types(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sluice_loc_conf_t *lcf = conf;
    ngx_str_t                  *value, *t;
    ngx_uint_t                  i;

    if (lcf->text_types != NULL) {
        return "is duplicate";
    }

    lcf->text_types = ngx_array_create(cf->pool, cf->args->nelts,
                                       sizeof(ngx_str_t));
    if (lcf->text_types == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        t = ngx_array_push(lcf->text_types);
        if (t == NULL) {
            return NGX_CONF_ERROR;
        }
        t->len = value[i].len;
        t->data = ngx_pnalloc(cf->pool, value[i].len);
        if (t->data == NULL) {
            return NGX_CONF_ERROR;
        }
        ngx_strlow(t->data, value[i].data, value[i].len);
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_sluice_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_sluice_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_sluice_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mcf->policies, cf->pool, 2,
                       sizeof(ngx_http_sluice_policy_t *)) != NGX_OK
        || ngx_array_init(&mcf->slots, cf->pool, 2,
                          sizeof(ngx_http_sluice_slot_t *)) != NGX_OK)
    {
        return NULL;
    }

    mcf->request_id_index = NGX_ERROR;

    return mcf;
}


static void *
ngx_http_sluice_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_sluice_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_sluice_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->policy = { 0, NULL };
     *     conf->ledger_dir = conf->ledger_key = conf->redis = { 0, NULL };
     *     conf->slot = NULL;
     *     conf->text_types = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->trust = NGX_CONF_UNSET_PTR;
    conf->allow_unsigned = NGX_CONF_UNSET;
    conf->mode = NGX_CONF_UNSET_UINT;
    conf->tenant = NGX_CONF_UNSET_PTR;
    conf->subject = NGX_CONF_UNSET_PTR;
    conf->max_body = NGX_CONF_UNSET_SIZE;
    conf->max_held = NGX_CONF_UNSET_SIZE;
    conf->fail_open = NGX_CONF_UNSET_UINT;
    conf->identity = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_sluice_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_sluice_loc_conf_t *prev = parent;
    ngx_http_sluice_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->policy, prev->policy, "");
    ngx_conf_merge_ptr_value(conf->trust, prev->trust, NULL);
    ngx_conf_merge_value(conf->allow_unsigned, prev->allow_unsigned, 0);
    ngx_conf_merge_uint_value(conf->mode, prev->mode,
                              NGX_HTTP_SLUICE_ENFORCE);
    ngx_conf_merge_ptr_value(conf->tenant, prev->tenant, NULL);
    ngx_conf_merge_ptr_value(conf->subject, prev->subject, NULL);
    ngx_conf_merge_size_value(conf->max_body, prev->max_body,
                              4 * 1024 * 1024);
    ngx_conf_merge_size_value(conf->max_held, prev->max_held, 0);
    ngx_conf_merge_uint_value(conf->fail_open, prev->fail_open, 0);
    ngx_conf_merge_value(conf->identity, prev->identity, 1);

    if (conf->ledger_dir.data == NULL) {
        conf->ledger_dir = prev->ledger_dir;
        conf->ledger_key = prev->ledger_key;
    }

    if (conf->redis.data == NULL) {
        conf->redis = prev->redis;
    }

    if (conf->text_types == NULL) {
        conf->text_types = prev->text_types;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->policy.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sluice on\" needs \"sluice_policy\"");
        return NGX_CONF_ERROR;
    }

    conf->slot = ngx_http_sluice_get_slot(cf, conf);
    if (conf->slot == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_flag_t
ngx_http_sluice_same_str(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || ngx_strncmp(a->data, b->data, a->len) == 0);
}


static ngx_flag_t
ngx_http_sluice_same_trust(ngx_array_t *a, ngx_array_t *b)
{
    ngx_uint_t   i, na, nb;
    ngx_str_t   *sa, *sb;

    na = a ? a->nelts : 0;
    nb = b ? b->nelts : 0;
    if (na != nb) {
        return 0;
    }

    for (i = 0; i < na; i++) {
        sa = a->elts;
        sb = b->elts;
        if (!ngx_http_sluice_same_str(&sa[i], &sb[i])) {
            return 0;
        }
    }

    return 1;
}


/* Load the trust keys of `trust` into keys[] (at most 16). */
static ngx_int_t
ngx_http_sluice_load_keys(ngx_log_t *log, ngx_array_t *trust,
    sluice_key **keys, size_t *n)
{
    ngx_str_t     *t;
    ngx_uint_t     i;
    sluice_error   err;

    *n = 0;
    if (trust == NULL) {
        return NGX_OK;
    }

    if (trust->nelts > 16) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "sluice: over 16 sluice_trust");
        return NGX_ERROR;
    }

    t = trust->elts;
    for (i = 0; i < trust->nelts; i++) {
        if (sluice_key_load(&keys[*n], (const char *) t[i].data, &err) != 0) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "sluice_trust \"%V\": %s", &t[i], err.message);
            return NGX_ERROR;
        }
        (*n)++;
    }

    return NGX_OK;
}


static void
ngx_http_sluice_free_keys(sluice_key **keys, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        sluice_key_free(keys[i]);
    }
}


static ngx_http_sluice_policy_t *
ngx_http_sluice_get_policy(ngx_conf_t *cf, ngx_http_sluice_loc_conf_t *conf)
{
    int                           rc;
    size_t                        nkeys;
    ngx_str_t                    *t, path;
    ngx_uint_t                    i;
    sluice_key                   *keys[16];
    sluice_error                  err;
    ngx_pool_cleanup_t           *cln;
    sluice_policy_options         opts = SLUICE_POLICY_OPTIONS_INIT;
    ngx_http_sluice_policy_t    **pp, *pol;
    ngx_http_sluice_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sluice_module);

    path = conf->policy;
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NULL;
    }

    if (conf->trust != NULL) {
        t = conf->trust->elts;
        for (i = 0; i < conf->trust->nelts; i++) {
            if (ngx_conf_full_name(cf->cycle, &t[i], 1) != NGX_OK) {
                return NULL;
            }
        }
    }

    pp = mcf->policies.elts;
    for (i = 0; i < mcf->policies.nelts; i++) {
        if (ngx_http_sluice_same_str(&pp[i]->path, &path)
            && pp[i]->allow_unsigned == conf->allow_unsigned
            && ngx_http_sluice_same_trust(pp[i]->trust, conf->trust))
        {
            return pp[i];
        }
    }

    pol = ngx_pcalloc(cf->pool, sizeof(ngx_http_sluice_policy_t));
    pp = ngx_array_push(&mcf->policies);
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (pol == NULL || pp == NULL || cln == NULL) {
        return NULL;
    }

    pol->path = path;
    pol->trust = conf->trust;
    pol->allow_unsigned = conf->allow_unsigned;
    *pp = pol;
    cln->handler = ngx_http_sluice_policy_cleanup;
    cln->data = pol;

    if (ngx_http_sluice_load_keys(cf->log, conf->trust, keys, &nkeys)
        != NGX_OK)
    {
        return NULL;
    }

    opts.trust = (const sluice_key *const *) keys;
    opts.ntrust = nkeys;
    opts.allow_unsigned = conf->allow_unsigned ? 1 : 0;

    rc = sluice_policy_load(&pol->policy, (const char *) path.data, &opts,
                            &err);
    ngx_http_sluice_free_keys(keys, nkeys);

    if (rc != 0) {
        if (err.line > 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "sluice_policy \"%V\": %s:%d: %s", &path,
                               err.file, err.line, err.message);
        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "sluice_policy \"%V\": %s", &path,
                               err.message);
        }
        return NULL;
    }

    if (!sluice_policy_signed(pol->policy)) {
        ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                           "sluice_policy \"%V\" %s %L is unsigned", &path,
                           sluice_policy_id(pol->policy),
                           (int64_t) sluice_policy_version(pol->policy));
    }

    return pol;
}


static void
ngx_http_sluice_policy_cleanup(void *data)
{
    ngx_http_sluice_policy_t  *pol = data;

    sluice_policy_unref(pol->policy);
    pol->policy = NULL;
}


static ngx_http_sluice_slot_t *
ngx_http_sluice_get_slot(ngx_conf_t *cf, ngx_http_sluice_loc_conf_t *conf)
{
    ngx_uint_t                    i;
    ngx_http_sluice_slot_t      **sp, *slot;
    ngx_http_sluice_policy_t     *pol;
    ngx_http_sluice_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sluice_module);

    pol = ngx_http_sluice_get_policy(cf, conf);
    if (pol == NULL) {
        return NULL;
    }

    sp = mcf->slots.elts;
    for (i = 0; i < mcf->slots.nelts; i++) {
        if (sp[i]->pol == pol
            && ngx_http_sluice_same_str(&sp[i]->ledger_dir, &conf->ledger_dir)
            && ngx_http_sluice_same_str(&sp[i]->ledger_key, &conf->ledger_key)
            && ngx_http_sluice_same_str(&sp[i]->redis, &conf->redis)
            && sp[i]->fail_open == conf->fail_open)
        {
            return sp[i];
        }
    }

    slot = ngx_pcalloc(cf->pool, sizeof(ngx_http_sluice_slot_t));
    sp = ngx_array_push(&mcf->slots);
    if (slot == NULL || sp == NULL) {
        return NULL;
    }

    slot->pol = pol;
    slot->ledger_dir = conf->ledger_dir;
    slot->ledger_key = conf->ledger_key;
    slot->redis = conf->redis;
    slot->fail_open = conf->fail_open;
    slot->index = mcf->slots.nelts - 1;
    *sp = slot;

    return slot;
}


/* ---- worker processes ------------------------------------------------- */

static void
ngx_http_sluice_redis_log(sluice_log_level level, const char *msg,
    void *payload)
{
    ngx_uint_t    lv;
    ngx_cycle_t  *cycle = payload;

    if (level == SLUICE_LOG_ERROR) {
        lv = NGX_LOG_ERR;
    } else if (level == SLUICE_LOG_WARNING) {
        lv = NGX_LOG_WARN;
    } else {
        lv = NGX_LOG_INFO;
    }

    ngx_log_error(lv, cycle->log, 0, "sluice redis: %s", msg);
}


static ngx_int_t
ngx_http_sluice_slot_ledger(ngx_cycle_t *cycle, ngx_http_sluice_slot_t *slot)
{
    int                    rc;
    sluice_key            *key;
    sluice_error           err;
    sluice_ledger_options  lo = SLUICE_LEDGER_OPTIONS_INIT;

    if (sluice_key_load(&key, (const char *) slot->ledger_key.data, &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "sluice_ledger key \"%V\": %s", &slot->ledger_key,
                      err.message);
        return NGX_ERROR;
    }

    lo.dir = (const char *) slot->ledger_dir.data;
    lo.writer = slot->writer;
    lo.signer = key;

    rc = sluice_ledger_open(&slot->ledger, &lo, &err);
    sluice_key_free(key);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "sluice_ledger \"%V\" writer %s: %s",
                      &slot->ledger_dir, slot->writer, err.message);
        return NGX_ERROR;
    }

    if (sluice_engine_set_ledger(slot->engine, slot->ledger,
                                 slot->fail_open ? SLUICE_FAIL_OPEN
                                                 : SLUICE_FAIL_CLOSED) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "sluice: attaching the ledger failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sluice_slot_redis(ngx_cycle_t *cycle, ngx_http_sluice_slot_t *slot)
{
    int                    rc;
    size_t                 nkeys;
    sluice_key            *keys[16];
    sluice_error           err;
    sluice_redis_options   ro = SLUICE_REDIS_OPTIONS_INIT;
    sluice_fleet_options   fo = SLUICE_FLEET_OPTIONS_INIT;
    sluice_policy_options  po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_engine_redis_options  ero = SLUICE_ENGINE_REDIS_OPTIONS_INIT;

    ro.addr = (const char *) slot->redis.data;
    ro.log = ngx_http_sluice_redis_log;
    ro.log_payload = cycle;

    if (sluice_redis_new(&slot->redis_h, &ro, &err) != 0) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0, "sluice_redis \"%V\": %s",
                      &slot->redis, err.message);
        return NGX_ERROR;
    }

    if (ngx_http_sluice_load_keys(cycle->log, slot->pol->trust, keys, &nkeys)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    po.trust = (const sluice_key *const *) keys;
    po.ntrust = nkeys;
    po.allow_unsigned = slot->pol->allow_unsigned ? 1 : 0;
    fo.policy = &po;
    fo.worker = slot->writer;

    rc = sluice_fleet_start(&slot->fleet, slot->engine, slot->redis_h, &fo,
                            &err);
    ngx_http_sluice_free_keys(keys, nkeys);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "sluice_redis \"%V\": fleet: %s", &slot->redis,
                      err.message);
        return NGX_ERROR;
    }

    /* strikes per sluice_subject, as the policy's escalation: says
       (docs/redis.md); no verdict cache (an option for later) */
    if (sluice_engine_set_redis(slot->engine, slot->redis_h, &ero, &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "sluice_redis \"%V\": strikes: %s", &slot->redis,
                      err.message);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sluice_slot_start(ngx_cycle_t *cycle, ngx_http_sluice_slot_t *slot)
{
    sluice_error  err;

    if (slot->index == 0) {
        (void) ngx_snprintf((u_char *) slot->writer, sizeof(slot->writer),
                            "nginx-%P%Z", ngx_pid);
    } else {
        (void) ngx_snprintf((u_char *) slot->writer, sizeof(slot->writer),
                            "nginx-%P-%ui%Z", ngx_pid, slot->index);
    }

    if (sluice_engine_new(&slot->engine, NULL, &err) != 0) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0, "sluice: engine: %s",
                      err.message);
        return NGX_ERROR;
    }

    if (sluice_engine_set_policy(slot->engine, slot->pol->policy) != 0) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0, "sluice: setting policy");
        return NGX_ERROR;
    }

    if (slot->ledger_dir.len > 0
        && ngx_http_sluice_slot_ledger(cycle, slot) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (slot->redis.len > 0
        && ngx_http_sluice_slot_redis(cycle, slot) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A slot that cannot be set up (ledger directory not writable, say) does
 * not stop the worker: its requests fail as sluice_fail says, with an
 * error logged for each.
 */
static ngx_int_t
ngx_http_sluice_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_http_sluice_slot_t      **sp;
    ngx_http_sluice_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_sluice_module);
    if (mcf == NULL) {
        return NGX_OK;
    }

    sp = mcf->slots.elts;
    for (i = 0; i < mcf->slots.nelts; i++) {
        if (ngx_http_sluice_slot_start(cycle, sp[i]) != NGX_OK) {
            sp[i]->broken = 1;
        }
    }

    return NGX_OK;
}


static void
ngx_http_sluice_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    sluice_error                  err;
    ngx_http_sluice_slot_t      **sp, *s;
    ngx_http_sluice_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_sluice_module);
    if (mcf == NULL) {
        return;
    }

    sp = mcf->slots.elts;
    for (i = 0; i < mcf->slots.nelts; i++) {
        s = sp[i];

        sluice_fleet_stop(s->fleet);
        s->fleet = NULL;
        sluice_engine_free(s->engine);
        s->engine = NULL;

        if (s->ledger != NULL && sluice_ledger_close(s->ledger, &err) != 0) {
            ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                          "sluice_ledger close: %s", err.message);
        }
        sluice_ledger_free(s->ledger);
        s->ledger = NULL;
        sluice_redis_free(s->redis_h);
        s->redis_h = NULL;
    }
}


static ngx_int_t
ngx_http_sluice_init(ngx_conf_t *cf)
{
    ngx_str_t                     name = ngx_string("request_id");
    ngx_http_handler_pt          *h;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_sluice_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sluice_module);
    if (mcf->slots.nelts == 0) {
        /* no location moderates: stay out of the chains */
        return NGX_OK;
    }

    mcf->request_id_index = ngx_http_get_variable_index(cf, &name);
    if (mcf->request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_sluice_precontent;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_sluice_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_sluice_body_filter;

    return NGX_OK;
}
