/*
 * ngx_http_sluice_json.c - buffered responses: application/json chat and
 * completion bodies, and the sluice_text_types checked as plain text.
 *
 * The header filter held the response headers; this file gathers the
 * body (up to sluice_max_body, in one malloc'd buffer freed by the
 * request's cleanup), checks it once it is complete, and then sends the
 * headers (Content-Length of what is sent, X-Sluice-*) and the body.
 *
 * JSON: each choices[i].message.content (chat) or choices[i].text
 * (completions) that is a string is one output: one sluice_check, one
 * verdict, one ledger record. In enforce mode a changed output (redacted,
 * labelled, or the refusal) replaces the string, and a block sets that
 * choice's finish_reason to "content_filter"; the body is re-serialized
 * only when something changed, otherwise the upstream bytes pass as they
 * are. Observe mode checks and records but never changes the body.
 *
 * Failures (malformed JSON, over the cap, a check that errs) are closed by
 * default: a 502 with an OpenAI-style JSON error; with `sluice_fail open`
 * the body passes unchanged and X-Sluice-Action says "error".
 */

#include "ngx_http_sluice_module.h"

#include <stdlib.h>
#include <string.h>

static ngx_int_t ngx_http_sluice_buffered_done(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx);
static ngx_int_t ngx_http_sluice_check_json(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, ngx_str_t *out);
static ngx_int_t ngx_http_sluice_check_text(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, ngx_str_t *out);
static ngx_int_t ngx_http_sluice_send(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, u_char *data, size_t len);
static ngx_int_t ngx_http_sluice_fail(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, const char *reason, ngx_chain_t *rest);


/* Append `len` bytes to the body buffer; NGX_DECLINED when over the cap. */
static ngx_int_t
ngx_http_sluice_body_append(ngx_http_sluice_ctx_t *ctx, u_char *p,
    size_t len)
{
    size_t   cap;
    u_char  *nb;

    if (len > ctx->conf->max_body - ctx->body_len) {
        return NGX_DECLINED;
    }

    if (ctx->body_len + len > ctx->body_cap) {
        cap = ctx->body_cap ? ctx->body_cap : 4096;
        while (cap < ctx->body_len + len) {
            cap *= 2;
        }
        if (cap > ctx->conf->max_body) {
            cap = ctx->conf->max_body;
        }
        nb = realloc(ctx->body, cap);
        if (nb == NULL) {
            return NGX_ERROR;
        }
        ctx->body = nb;
        ctx->body_cap = cap;
    }

    if (len) {
        ngx_memcpy(ctx->body + ctx->body_len, p, len);
        ctx->body_len += len;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_sluice_body_buffered(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, ngx_chain_t *in)
{
    size_t        size;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;
    ngx_flag_t    last;

    if (ctx->passthrough) {
        return ngx_http_sluice_next_body(r, in);
    }

    if (ctx->done) {
        /* answered already: drop what the upstream still sends */
        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            if (cl->buf->in_file) {
                cl->buf->file_pos = cl->buf->file_last;
            }
        }
        return ngx_http_sluice_next_body(r, NULL);
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (!ngx_buf_in_memory(b) && ngx_buf_size(b) > 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "sluice: body buffer not in memory");
            return NGX_ERROR;
        }

        size = ngx_buf_in_memory(b) ? (size_t) (b->last - b->pos) : 0;

        rc = ngx_http_sluice_body_append(ctx, b->pos, size);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "sluice: response body over sluice_max_body (%uz)",
                          ctx->conf->max_body);
            return ngx_http_sluice_fail(r, ctx, "max_body", cl);
        }

        b->pos = b->last;

        if (b->last_buf || b->last_in_chain) {
            last = 1;
        }
    }

    if (!last) {
        return NGX_OK;
    }

    return ngx_http_sluice_buffered_done(r, ctx);
}


/* The body is complete: check it and answer. */
static ngx_int_t
ngx_http_sluice_buffered_done(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  out;

    if (ctx->kind == NGX_HTTP_SLUICE_JSON) {
        rc = ngx_http_sluice_check_json(r, ctx, &out);
    } else {
        rc = ngx_http_sluice_check_text(r, ctx, &out);
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_sluice_fail(r, ctx, ctx->reason, NULL);
    }

    return ngx_http_sluice_send(r, ctx, out.data, out.len);
}


/*
 * The string value `item` of `parent` is an output: check it and, in
 * enforce mode, replace it with what may be released. *changed is set when
 * the JSON changed; *blocked when the verdict is a block. Returns NGX_OK,
 * NGX_DECLINED (the check failed and fail-closed: ctx->reason says why),
 * or NGX_ERROR.
 */
static ngx_int_t
ngx_http_sluice_check_item(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    cJSON *parent, cJSON *item, ngx_flag_t *changed, ngx_flag_t *blocked)
{
    int              rc;
    char            *copy;
    size_t           len, olen;
    const char      *text, *o;
    sluice_error     err;
    sluice_verdict  *v;

    text = item->valuestring;
    len = strlen(text);

    rc = sluice_check(ctx->slot->engine, text, len, &ctx->meta, &v, &err);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "sluice: check failed: %s", err.message);
        if (ctx->slot->fail_open) {
            ctx->error = 1;
            ctx->reason = "check_failed";
            return NGX_OK;
        }
        ctx->reason = "check_failed";
        return NGX_DECLINED;
    }

    if (ngx_http_sluice_note_verdict(r, ctx, v) != NGX_OK) {
        sluice_verdict_free(v);
        return NGX_ERROR;
    }

    *blocked = sluice_verdict_action(v) == SLUICE_BLOCK;

    if (ctx->conf->mode == NGX_HTTP_SLUICE_OBSERVE) {
        sluice_verdict_free(v);
        return NGX_OK;
    }

    o = sluice_verdict_output(v, &olen);
    if (olen == len && ngx_memcmp(o, text, len) == 0) {
        sluice_verdict_free(v);
        return NGX_OK;
    }

    copy = malloc(olen + 1);
    if (copy == NULL) {
        sluice_verdict_free(v);
        return NGX_ERROR;
    }
    ngx_memcpy(copy, o, olen);
    copy[olen] = '\0';
    sluice_verdict_free(v);

    rc = ngx_http_sluice_json_set(parent, item, copy);
    free(copy);
    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    *changed = 1;

    return NGX_OK;
}


/* Check every choice of a chat or completion body; *out gets the body to
   send (the upstream's when nothing changed). */
static ngx_int_t
ngx_http_sluice_check_json(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    ngx_str_t *out)
{
    char        *js;
    cJSON       *root, *choices, *ch, *msg, *item, *parent, *model, *fr;
    ngx_int_t    rc;
    ngx_flag_t   changed, blocked;

    out->data = ctx->body;
    out->len = ctx->body_len;

    root = cJSON_ParseWithLength((const char *) ctx->body, ctx->body_len);
    if (root == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "sluice: malformed JSON from upstream");
        if (ctx->slot->fail_open) {
            ctx->error = 1;
            ctx->reason = "malformed_upstream";
            return NGX_OK;
        }
        ctx->reason = "malformed_upstream";
        return NGX_DECLINED;
    }

    model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (cJSON_IsString(model)) {
        ctx->meta.model = model->valuestring;
    }

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    changed = 0;
    rc = NGX_OK;

    if (!cJSON_IsArray(choices)) {
        choices = NULL;
    }

    cJSON_ArrayForEach(ch, choices) {
        msg = cJSON_GetObjectItemCaseSensitive(ch, "message");
        parent = msg;
        item = cJSON_GetObjectItemCaseSensitive(msg, "content");
        if (!cJSON_IsString(item)) {
            parent = ch;
            item = cJSON_GetObjectItemCaseSensitive(ch, "text");
        }
        if (!cJSON_IsString(item)) {
            continue;
        }

        blocked = 0;
        rc = ngx_http_sluice_check_item(r, ctx, parent, item, &changed,
                                        &blocked);
        if (rc != NGX_OK) {
            break;
        }

        if (blocked && ctx->conf->mode == NGX_HTTP_SLUICE_ENFORCE) {
            fr = cJSON_CreateString("content_filter");
            if (fr == NULL) {
                rc = NGX_ERROR;
                break;
            }
            if (cJSON_HasObjectItem(ch, "finish_reason")) {
                cJSON_ReplaceItemInObjectCaseSensitive(ch, "finish_reason",
                                                       fr);
            } else {
                cJSON_AddItemToObject(ch, "finish_reason", fr);
            }
            changed = 1;
        }
    }

    /* meta.model points into root: no check after this */
    ctx->meta.model = NULL;

    if (rc == NGX_OK && changed) {
        js = cJSON_PrintUnformatted(root);
        if (js == NULL) {
            rc = NGX_ERROR;
        } else {
            out->len = ngx_strlen(js);
            out->data = ngx_pnalloc(r->pool, out->len);
            if (out->data == NULL) {
                rc = NGX_ERROR;
            } else {
                ngx_memcpy(out->data, js, out->len);
            }
            cJSON_free(js);
        }
    }

    cJSON_Delete(root);

    return rc;
}


/* A sluice_text_types body: the whole body is one output. */
static ngx_int_t
ngx_http_sluice_check_text(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    ngx_str_t *out)
{
    int              rc;
    size_t           olen;
    const char      *o;
    sluice_error     err;
    sluice_verdict  *v;

    out->data = ctx->body;
    out->len = ctx->body_len;

    rc = sluice_check(ctx->slot->engine, (const char *) ctx->body,
                      ctx->body_len, &ctx->meta, &v, &err);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "sluice: check failed: %s", err.message);
        ctx->reason = "check_failed";
        if (ctx->slot->fail_open) {
            ctx->error = 1;
            return NGX_OK;
        }
        return NGX_DECLINED;
    }

    if (ngx_http_sluice_note_verdict(r, ctx, v) != NGX_OK) {
        sluice_verdict_free(v);
        return NGX_ERROR;
    }

    if (ctx->conf->mode == NGX_HTTP_SLUICE_ENFORCE) {
        o = sluice_verdict_output(v, &olen);
        out->data = ngx_pnalloc(r->pool, olen ? olen : 1);
        if (out->data == NULL) {
            sluice_verdict_free(v);
            return NGX_ERROR;
        }
        ngx_memcpy(out->data, o, olen);
        out->len = olen;
    }

    sluice_verdict_free(v);

    return NGX_OK;
}


/* Send the held headers, with the result, and `data` as the whole body. */
static ngx_int_t
ngx_http_sluice_send(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ctx->done = 1;

    if (ngx_http_sluice_result_headers(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    r->headers_out.content_length_n = len;

    rc = ngx_http_sluice_next_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (len) {
        /* ctx->body is freed by the request's cleanup, after sending */
        b->pos = data;
        b->last = data + len;
        b->memory = 1;
    }
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_sluice_next_body(r, &out);
}


/*
 * The body cannot be checked (`reason`). Fail-open: send the headers with
 * X-Sluice-Action: error, what was gathered, and `rest` (the input not yet
 * taken), then pass the remainder through. Fail-closed: a 502 with an
 * OpenAI-style error object, and the upstream is no longer read.
 */
static ngx_int_t
ngx_http_sluice_fail(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    const char *reason, ngx_chain_t *rest)
{
    size_t        len;
    u_char       *p;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl, out;

    ctx->reason = reason;

    if (ctx->slot->fail_open) {
        ctx->error = 1;
        ctx->passthrough = 1;

        if (ngx_http_sluice_result_headers(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        rc = ngx_http_sluice_next_header(r);
        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }
        out.buf = b;
        out.next = rest;

        if (ctx->body_len) {
            b->pos = ctx->body;
            b->last = ctx->body + ctx->body_len;
            b->memory = 1;
        }
        if (rest == NULL) {
            b->last_buf = 1;
        }

        return ngx_http_sluice_next_body(r, &out);
    }

    for (cl = rest; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
    }

    ctx->action = SLUICE_BLOCK;
    ngx_http_sluice_stop_upstream(r);

    len = sizeof("{\"error\":{\"message\":\"the response could not be "
                 "checked\",\"type\":\"content_filter\",\"code\":\"sluice_"
                 "\"}}") - 1 + ngx_strlen(reason);
    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }
    len = ngx_snprintf(p, len, "{\"error\":{\"message\":\"the response could "
                       "not be checked\",\"type\":\"content_filter\","
                       "\"code\":\"sluice_%s\"}}", reason) - p;

    r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
    r->headers_out.status_line.len = 0;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    return ngx_http_sluice_send(r, ctx, p, len);
}
