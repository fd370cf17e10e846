/*
 * ngx_http_sluice_sse.c - text/event-stream responses (OpenAI-style chat
 * and completion streams), moderated token by token through sessions.
 *
 * Input arrives in buffers cut anywhere; it is appended to one reusable
 * buffer (ctx->in) and parsed into events (lines ending in LF, CRLF or CR;
 * an event ends at a blank line). The bytes of a complete event leave the
 * buffer, which is compacted, so memory stays at the largest event plus
 * what the client has not taken yet, however long the stream.
 *
 * Each event's data is parsed with cJSON. For each choice, the text of
 * delta.content (chat) or text (completions) is fed to that choice's
 * session (one per choice index, made at its first text); the event is
 * re-emitted with the text the session releases (already redacted), or
 * byte for byte when that equals the input. A finish_reason finishes the
 * session (its rest joins that event). `data: [DONE]` or the end of the
 * upstream finishes the others (their rest goes in one more chunk). Each
 * finished or stopped session's verdict is recorded in the ledger.
 *
 * A block ends the stream: a chunk carrying what was released in that
 * event plus the refusal, with finish_reason "content_filter", then the
 * summary and `data: [DONE]`; the response ends (last_buf) and the
 * upstream is no longer read. The summary is a block of SSE comments that
 * every client ignores, mirroring the headers of buffered responses:
 *   : sluice-action: block
 *   : sluice-policy: id=...; version=...; hash=...; signed=...
 *   : sluice-record: writer=...; seq=...; hash=...
 * Every call that produced output passes it on with `flush` set, so
 * released tokens reach the client at once.
 *
 * Observe mode feeds the sessions the same way but passes every event as
 * it came; the summary tells what enforce would have done.
 *
 * Malformed input (data that is not JSON, an event over sluice_max_body,
 * a choice index >= NGX_HTTP_SLUICE_MAX_CHOICES, a session error):
 * fail-closed ends the stream as a block with reason malformed_upstream
 * (or check_failed); `sluice_fail open` releases what the sessions hold
 * and passes the rest of the stream unchecked (X-Sluice-Action "error"
 * in the summary).
 */

#include "ngx_http_sluice_module.h"

#include <stdlib.h>
#include <string.h>

static ngx_int_t ngx_http_sluice_sse_parse(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, ngx_flag_t last);
static ngx_int_t ngx_http_sluice_sse_event(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, u_char *raw, size_t len);
static ngx_int_t ngx_http_sluice_sse_chunk(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, cJSON *root, u_char *raw, size_t len);
static ngx_int_t ngx_http_sluice_sse_finish_all(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx);
static ngx_int_t ngx_http_sluice_sse_block(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, ngx_uint_t idx, u_char *text, size_t len,
    const char *reason);
static ngx_int_t ngx_http_sluice_sse_fail(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, const char *reason, u_char *raw,
    size_t len);
static ngx_int_t ngx_http_sluice_sse_emit(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, const u_char *p, size_t len);
static ngx_int_t ngx_http_sluice_sse_summary(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx);
static ngx_int_t ngx_http_sluice_sse_flush(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, ngx_chain_t *in);

static ngx_str_t  ngx_http_sluice_done_event = ngx_string("data: [DONE]\n\n");


/* Append to a growable buffer; NGX_DECLINED when it would pass `max`. */
ngx_int_t
ngx_http_sluice_buf_append(ngx_http_sluice_buf_t *b, const u_char *p,
    size_t len, size_t max)
{
    size_t   cap;
    u_char  *np;

    if (len > max || b->len > max - len) {
        return NGX_DECLINED;
    }

    if (b->len + len > b->cap) {
        cap = b->cap ? b->cap : 1024;
        while (cap < b->len + len) {
            cap *= 2;
        }
        np = realloc(b->p, cap);
        if (np == NULL) {
            return NGX_ERROR;
        }
        b->p = np;
        b->cap = cap;
    }

    if (len) {
        ngx_memcpy(b->p + b->len, p, len);
        b->len += len;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_sluice_body_sse(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    ngx_chain_t *in)
{
    size_t        size;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;
    ngx_flag_t    last;

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;
        size = ngx_buf_in_memory(b) ? (size_t) (b->last - b->pos) : 0;

        if (b->last_buf || b->last_in_chain) {
            last = 1;
        }

        if (ctx->done || ctx->ended) {
            /* after the end: nothing more reaches the client */
            b->pos = b->last;
            continue;
        }

        if (!ngx_buf_in_memory(b) && ngx_buf_size(b) > 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "sluice: stream buffer not in memory");
            return NGX_ERROR;
        }

        if (ctx->raw) {
            rc = ngx_http_sluice_sse_emit(r, ctx, b->pos, size);
        } else {
            rc = ngx_http_sluice_buf_append(&ctx->in, b->pos, size,
                                            ctx->conf->max_body);
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        b->pos = b->last;

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "sluice: stream event over sluice_max_body (%uz)",
                          ctx->conf->max_body);
            rc = ngx_http_sluice_sse_fail(r, ctx, "max_body", ctx->in.p,
                                          ctx->in.len);
            ctx->in.len = 0;
            if (rc != NGX_OK) {
                return rc;
            }
            if (ctx->raw
                && ngx_http_sluice_sse_emit(r, ctx, b->pos, size) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (!ctx->done && !ctx->raw && !ctx->ended
        && ngx_http_sluice_sse_parse(r, ctx, last) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (last && !ctx->done) {
        /* the upstream ended: finish what is open, say how it went */
        if (!ctx->ended && !ctx->raw
            && ngx_http_sluice_sse_finish_all(r, ctx) != NGX_OK)
        {
            return NGX_ERROR;
        }
        if (!ctx->done && !ctx->ended
            && ngx_http_sluice_sse_summary(r, ctx) != NGX_OK)
        {
            return NGX_ERROR;
        }
        ctx->done = 1;
    }

    return ngx_http_sluice_sse_flush(r, ctx, in);
}


/*
 * Take every complete event out of ctx->in. A CR at the very end may be
 * the first half of a CRLF: it waits for the next buffer unless `last`.
 */
static ngx_int_t
ngx_http_sluice_sse_parse(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    ngx_flag_t last)
{
    u_char  *buf, *end, *p, *line, *eol, *next, *ev_end;

    buf = ctx->in.p;
    end = buf + ctx->in.len;
    p = buf;

    while (p < end && !ctx->done && !ctx->raw && !ctx->ended) {
        line = p;
        ev_end = NULL;

        while (line < end) {
            for (eol = line; eol < end && *eol != '\n' && *eol != '\r';
                 eol++)
            {
                /* void */
            }

            if (eol == end) {
                break;
            }

            if (*eol == '\r') {
                if (eol + 1 < end) {
                    next = eol[1] == '\n' ? eol + 2 : eol + 1;
                } else if (last) {
                    next = eol + 1;
                } else {
                    break;
                }
            } else {
                next = eol + 1;
            }

            if (eol == line) {
                ev_end = next;
                break;
            }

            line = next;
        }

        if (ev_end == NULL) {
            break;
        }

        if (ngx_http_sluice_sse_event(r, ctx, p, ev_end - p) != NGX_OK) {
            return NGX_ERROR;
        }

        p = ev_end;
    }

    if (ctx->raw && p < end) {
        /* fail-open: what is left passes as it is */
        if (ngx_http_sluice_sse_emit(r, ctx, p, end - p) != NGX_OK) {
            return NGX_ERROR;
        }
        p = end;
    }

    if (ctx->done || ctx->ended) {
        p = end;
    }

    ctx->in.len = end - p;
    if (ctx->in.len && p != buf) {
        ngx_memmove(buf, p, ctx->in.len);
    }

    return NGX_OK;
}


/* One event, raw[0..len) including its blank line. */
static ngx_int_t
ngx_http_sluice_sse_event(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    u_char *raw, size_t len)
{
    u_char     *p, *end, *eol, *colon, *v;
    cJSON      *root;
    ngx_int_t   rc;
    ngx_flag_t  has_data, other;

    ctx->data.len = 0;
    has_data = 0;
    other = 0;
    end = raw + len;

    for (p = raw; p < end; /* void */) {
        for (eol = p; eol < end && *eol != '\n' && *eol != '\r'; eol++) {
            /* void */
        }

        if (eol > p && *p != ':') {
            colon = ngx_strlchr(p, eol, ':');
            v = colon ? colon + 1 : eol;
            if (v < eol && *v == ' ') {
                v++;
            }

            if ((colon ? colon : eol) - p == 4
                && ngx_strncmp(p, "data", 4) == 0)
            {
                if ((has_data
                     && ngx_http_sluice_buf_append(&ctx->data,
                                                   (u_char *) "\n", 1,
                                                   ctx->conf->max_body)
                        != NGX_OK)
                    || ngx_http_sluice_buf_append(&ctx->data, v, eol - v,
                                                  ctx->conf->max_body)
                       != NGX_OK)
                {
                    return NGX_ERROR;
                }
                has_data = 1;

            } else if ((colon ? colon : eol) - p == 5
                       && ngx_strncmp(p, "event", 5) == 0
                       && !(eol - v == 7 && ngx_strncmp(v, "message", 7) == 0)
                       && eol > v)
            {
                other = 1;
            }
        }

        if (eol < end && *eol == '\r' && eol + 1 < end && eol[1] == '\n') {
            eol++;
        }
        p = eol + 1;
    }

    if (!has_data || other) {
        /* comments, named events, keep-alives: as they are */
        return ngx_http_sluice_sse_emit(r, ctx, raw, len);
    }

    if (ctx->data.len == 6 && ngx_strncmp(ctx->data.p, "[DONE]", 6) == 0) {
        if (ngx_http_sluice_sse_finish_all(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }
        if (ctx->done) {
            return NGX_OK;
        }
        ctx->ended = 1;
        if (ngx_http_sluice_sse_summary(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }
        return ngx_http_sluice_sse_emit(r, ctx, raw, len);
    }

    root = cJSON_ParseWithLength((const char *) ctx->data.p, ctx->data.len);
    if (root == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "sluice: malformed JSON in a stream event");
        return ngx_http_sluice_sse_fail(r, ctx, "malformed_upstream", raw,
                                        len);
    }

    rc = ngx_http_sluice_sse_chunk(r, ctx, root, raw, len);
    ctx->meta.model = NULL;
    cJSON_Delete(root);

    return rc;
}


/* Keep the chunk's id, object, created, model for chunks we make. */
static ngx_int_t
ngx_http_sluice_sse_template(ngx_http_sluice_ctx_t *ctx, cJSON *root)
{
    if (ctx->tmpl != NULL) {
        return NGX_OK;
    }

    ctx->tmpl = cJSON_Duplicate(root, 1);
    if (ctx->tmpl == NULL) {
        return NGX_ERROR;
    }

    cJSON_DeleteItemFromObjectCaseSensitive(ctx->tmpl, "choices");
    cJSON_DeleteItemFromObjectCaseSensitive(ctx->tmpl, "usage");

    return NGX_OK;
}


/* Emit `data: JSON\n\n`, keeping the event's other lines (id:, ...). */
static ngx_int_t
ngx_http_sluice_sse_emit_json(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx, cJSON *json, u_char *raw, size_t len)
{
    char       *js;
    u_char     *p, *end, *eol, *next;
    ngx_int_t   rc;

    end = raw + len;

    for (p = raw; p < end; p = next) {
        for (eol = p; eol < end && *eol != '\n' && *eol != '\r'; eol++) {
            /* void */
        }
        next = eol + (eol < end);
        if (eol < end && *eol == '\r' && next < end && *next == '\n') {
            next++;
        }
        if (eol == p || (eol - p >= 4 && ngx_strncmp(p, "data", 4) == 0
                         && (eol - p == 4 || p[4] == ':')))
        {
            continue;
        }
        if (ngx_http_sluice_sse_emit(r, ctx, p, next - p) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    js = cJSON_PrintUnformatted(json);
    if (js == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_sluice_sse_emit(r, ctx, (u_char *) "data: ", 6);
    if (rc == NGX_OK) {
        rc = ngx_http_sluice_sse_emit(r, ctx, (u_char *) js, ngx_strlen(js));
    }
    if (rc == NGX_OK) {
        rc = ngx_http_sluice_sse_emit(r, ctx, (u_char *) "\n\n", 2);
    }

    cJSON_free(js);

    return rc;
}


/* A chunk with one choice: index, text (delta.content or text) and
   finish_reason (NULL: null), on the template. */
static ngx_int_t
ngx_http_sluice_sse_make(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    ngx_uint_t idx, u_char *text, size_t len, const char *finish)
{
    char       *copy;
    cJSON      *ev, *choices, *ch, *delta;
    ngx_int_t   rc;

    copy = malloc(len + 1);
    if (copy == NULL) {
        return NGX_ERROR;
    }
    if (len) {
        ngx_memcpy(copy, text, len);
    }
    copy[len] = '\0';

    ev = ctx->tmpl ? cJSON_Duplicate(ctx->tmpl, 1) : cJSON_CreateObject();
    choices = cJSON_CreateArray();
    ch = cJSON_CreateObject();
    rc = NGX_ERROR;

    if (ev == NULL || choices == NULL || ch == NULL) {
        goto done;
    }

    cJSON_AddItemToObject(ev, "choices", choices);
    choices = NULL;
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(ev, "choices"), ch);
    ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ev, "choices"),
                            0);

    if (cJSON_AddNumberToObject(ch, "index", (double) idx) == NULL) {
        goto done;
    }

    if (ctx->choices[idx].completion) {
        if (cJSON_AddStringToObject(ch, "text", copy) == NULL) {
            goto done;
        }
    } else {
        delta = cJSON_AddObjectToObject(ch, "delta");
        if (delta == NULL
            || cJSON_AddStringToObject(delta, "content", copy) == NULL)
        {
            goto done;
        }
    }

    if ((finish ? cJSON_AddStringToObject(ch, "finish_reason", finish)
                : cJSON_AddNullToObject(ch, "finish_reason")) == NULL)
    {
        goto done;
    }

    rc = ngx_http_sluice_sse_emit_json(r, ctx, ev, NULL, 0);

done:

    if (ev != NULL) {
        cJSON_Delete(ev);
    } else if (ch != NULL) {
        cJSON_Delete(ch);
    }
    if (choices != NULL) {
        cJSON_Delete(choices);
    }
    free(copy);

    return rc;
}


/* Finish choice idx's session, note its verdict; *rel gets what the
   finish releases (in ctx->rel, appended), *stop whether it blocked. */
static ngx_int_t
ngx_http_sluice_sse_finish(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    ngx_uint_t idx, ngx_flag_t *stop)
{
    int                        rc;
    sluice_release             rel;
    sluice_verdict            *v;
    ngx_http_sluice_choice_t  *c;

    c = &ctx->choices[idx];
    *stop = 0;

    if (!c->open || c->session == NULL) {
        c->done = 1;
        return NGX_OK;
    }

    rc = sluice_session_finish(c->session, &rel, &v);
    sluice_session_free(c->session);
    c->session = NULL;
    c->done = 1;

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "sluice: session finish: %s", sluice_strerror(rc));
        return NGX_DECLINED;
    }

    rc = ngx_http_sluice_note_verdict(r, ctx, v);
    sluice_verdict_free(v);
    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /* after a stop, the refusal was given by the feed */
    if (rel.stop) {
        *stop = 1;
    }

    if (rel.len
        && ngx_http_sluice_buf_append(&ctx->rel, (const u_char *) rel.data,
                                      rel.len, (size_t) -1) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* One text of choice idx: feed it, and finish when `finishing`. The
   released text is in ctx->rel; *stop says a block happened. */
static ngx_int_t
ngx_http_sluice_sse_feed(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    ngx_uint_t idx, const char *text, size_t len, ngx_flag_t finishing,
    ngx_flag_t *stop)
{
    int                        rc;
    sluice_error               err;
    sluice_release             rel;
    sluice_session_options     so = SLUICE_SESSION_OPTIONS_INIT;
    ngx_http_sluice_choice_t  *c;

    c = &ctx->choices[idx];
    *stop = 0;
    ctx->rel.len = 0;

    if (!c->open) {
        so.max_held = ctx->conf->max_held;
        rc = sluice_session_new(&c->session, ctx->slot->engine, &ctx->meta,
                                &so, &err);
        if (rc != 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "sluice: session: %s", err.message);
            return NGX_DECLINED;
        }
        c->open = 1;
    }

    if (len) {
        rc = sluice_session_feed(c->session, text, len, &rel);
        if (rc != 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "sluice: session feed: %s", sluice_strerror(rc));
            return NGX_DECLINED;
        }

        if (rel.stop) {
            *stop = 1;
            /* rel.data is the refusal; the verdict comes with finish */
            if (ngx_http_sluice_buf_append(&ctx->rel,
                                           (const u_char *) rel.data,
                                           rel.len, (size_t) -1) != NGX_OK)
            {
                return NGX_ERROR;
            }
            return ngx_http_sluice_sse_finish(r, ctx, idx, &finishing) ==
                   NGX_ERROR ? NGX_ERROR : NGX_OK;
        }

        if (ngx_http_sluice_buf_append(&ctx->rel, (const u_char *) rel.data,
                                       rel.len, (size_t) -1) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (finishing) {
        return ngx_http_sluice_sse_finish(r, ctx, idx, stop);
    }

    return NGX_OK;
}


/* A chunk: moderate each choice's text, then emit it. */
static ngx_int_t
ngx_http_sluice_sse_chunk(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    cJSON *root, u_char *raw, size_t len)
{
    int          i;
    size_t       tlen;
    cJSON       *choices, *ch, *item, *parent, *fr, *ix, *model;
    ngx_int_t    rc;
    ngx_uint_t   idx;
    const char  *text;
    ngx_flag_t   changed, stop, finishing, enforce, completion;

    enforce = ctx->conf->mode == NGX_HTTP_SLUICE_ENFORCE;

    model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (cJSON_IsString(model)) {
        ctx->meta.model = model->valuestring;
    }

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (!cJSON_IsArray(choices)) {
        return ngx_http_sluice_sse_emit(r, ctx, raw, len);
    }

    if (ngx_http_sluice_sse_template(ctx, root) != NGX_OK) {
        return NGX_ERROR;
    }

    changed = 0;
    i = 0;

    cJSON_ArrayForEach(ch, choices) {
        ix = cJSON_GetObjectItemCaseSensitive(ch, "index");
        if (cJSON_IsNumber(ix)) {
            if (ix->valuedouble < 0
                || ix->valuedouble >= NGX_HTTP_SLUICE_MAX_CHOICES)
            {
                return ngx_http_sluice_sse_fail(r, ctx, "malformed_upstream",
                                                raw, len);
            }
            idx = (ngx_uint_t) ix->valuedouble;
        } else if (i < NGX_HTTP_SLUICE_MAX_CHOICES) {
            idx = (ngx_uint_t) i;
        } else {
            return ngx_http_sluice_sse_fail(r, ctx, "malformed_upstream",
                                            raw, len);
        }
        i++;

        parent = cJSON_GetObjectItemCaseSensitive(ch, "delta");
        item = cJSON_GetObjectItemCaseSensitive(parent, "content");
        completion = 0;
        if (!cJSON_IsString(item)
            && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ch, "text")))
        {
            parent = ch;
            item = cJSON_GetObjectItemCaseSensitive(ch, "text");
            completion = 1;
        }
        if (!cJSON_IsString(item)) {
            item = NULL;
        }

        fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
        finishing = cJSON_IsString(fr);

        if (item == NULL && !finishing) {
            continue;
        }

        if (ctx->choices[idx].done) {
            /* stopped (observe mode) or finished: nothing more of it */
            if (item != NULL && enforce && item->valuestring[0] != '\0') {
                if (ngx_http_sluice_json_set(parent, item, "") != NGX_OK) {
                    return NGX_ERROR;
                }
                changed = 1;
            }
            continue;
        }

        if (!ctx->choices[idx].open) {
            ctx->choices[idx].completion = completion;
        }

        text = item ? item->valuestring : "";
        tlen = ngx_strlen(text);

        rc = ngx_http_sluice_sse_feed(r, ctx, idx, text, tlen, finishing,
                                      &stop);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
        if (rc == NGX_DECLINED) {
            return ngx_http_sluice_sse_fail(r, ctx, "check_failed", raw, len);
        }

        if (stop) {
            if (!enforce) {
                continue;
            }
            return ngx_http_sluice_sse_block(r, ctx, idx, ctx->rel.p,
                                             ctx->rel.len, NULL);
        }

        if (!enforce || item == NULL) {
            if (enforce && ctx->rel.len) {
                /* a finish released the rest of a choice with no text */
                if (ngx_http_sluice_sse_make(r, ctx, idx, ctx->rel.p,
                                             ctx->rel.len, NULL) != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }
            continue;
        }

        if (ctx->rel.len == tlen
            && ngx_memcmp(ctx->rel.p, text, tlen) == 0)
        {
            continue;
        }

        if (ngx_http_sluice_buf_append(&ctx->rel, (u_char *) "", 1,
                                       (size_t) -1) != NGX_OK)
        {
            return NGX_ERROR;
        }
        if (ngx_http_sluice_json_set(parent, item, (const char *) ctx->rel.p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
        changed = 1;
    }

    if (!changed) {
        return ngx_http_sluice_sse_emit(r, ctx, raw, len);
    }

    return ngx_http_sluice_sse_emit_json(r, ctx, root, raw, len);
}


/*
 * The stream ends ([DONE] or the upstream's end): finish every open
 * session; in enforce mode what they still held goes out in one chunk per
 * choice. A block found at the finish ends the stream as a block.
 */
static ngx_int_t
ngx_http_sluice_sse_finish_all(ngx_http_request_t *r,
    ngx_http_sluice_ctx_t *ctx)
{
    ngx_int_t   rc;
    ngx_uint_t  i;
    ngx_flag_t  stop;

    for (i = 0; i < NGX_HTTP_SLUICE_MAX_CHOICES && !ctx->done; i++) {
        if (!ctx->choices[i].open || ctx->choices[i].done) {
            continue;
        }

        ctx->rel.len = 0;
        rc = ngx_http_sluice_sse_finish(r, ctx, i, &stop);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
        if (rc == NGX_DECLINED) {
            return ngx_http_sluice_sse_fail(r, ctx, "check_failed", NULL, 0);
        }

        if (ctx->conf->mode != NGX_HTTP_SLUICE_ENFORCE) {
            continue;
        }

        if (stop) {
            return ngx_http_sluice_sse_block(r, ctx, i, ctx->rel.p,
                                             ctx->rel.len, NULL);
        }

        if (ctx->rel.len
            && ngx_http_sluice_sse_make(r, ctx, i, ctx->rel.p, ctx->rel.len,
                                        NULL) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * End the stream as a block: the last chunk for choice idx (text, then
 * finish_reason "content_filter"), the summary, [DONE], last_buf; the
 * other sessions are finished (recorded) and the upstream is let go.
 */
static ngx_int_t
ngx_http_sluice_sse_block(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    ngx_uint_t idx, u_char *text, size_t len, const char *reason)
{
    ngx_uint_t  i;
    ngx_flag_t  stop;

    if (ngx_http_sluice_sse_make(r, ctx, idx, text, len, "content_filter")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_SLUICE_MAX_CHOICES; i++) {
        if (ctx->choices[i].open && !ctx->choices[i].done) {
            ctx->rel.len = 0;
            if (ngx_http_sluice_sse_finish(r, ctx, i, &stop) == NGX_ERROR) {
                return NGX_ERROR;
            }
        }
    }

    ctx->action = SLUICE_BLOCK;
    if (reason != NULL) {
        ctx->reason = reason;
    }

    if (ngx_http_sluice_sse_summary(r, ctx) != NGX_OK
        || ngx_http_sluice_sse_emit(r, ctx, ngx_http_sluice_done_event.data,
                                    ngx_http_sluice_done_event.len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->done = 1;
    ngx_http_sluice_stop_upstream(r);

    return NGX_OK;
}


/* The stream cannot be checked from here on (see the file comment). */
static ngx_int_t
ngx_http_sluice_sse_fail(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    const char *reason, u_char *raw, size_t len)
{
    ngx_uint_t  i;
    ngx_flag_t  stop;

    if (!ctx->slot->fail_open) {
        /* no verdict to take the refusal from: the policy's own */
        ngx_int_t       rc;
        sluice_policy  *pol = sluice_engine_policy(ctx->slot->engine);
        const char     *ref = sluice_policy_refusal(pol, NULL, 0);

        rc = ngx_http_sluice_sse_block(r, ctx, 0, (u_char *) ref,
                                       ref ? ngx_strlen(ref) : 0, reason);
        sluice_policy_unref(pol);
        return rc;
    }

    ctx->error = 1;
    ctx->reason = reason;

    if (ctx->conf->mode == NGX_HTTP_SLUICE_ENFORCE) {
        if (ngx_http_sluice_sse_finish_all(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }
    } else {
        for (i = 0; i < NGX_HTTP_SLUICE_MAX_CHOICES; i++) {
            if (ngx_http_sluice_sse_finish(r, ctx, i, &stop) == NGX_ERROR) {
                return NGX_ERROR;
            }
        }
    }

    if (ctx->done) {
        return NGX_OK;
    }

    ctx->raw = 1;

    return len ? ngx_http_sluice_sse_emit(r, ctx, raw, len) : NGX_OK;
}


/* The result as SSE comments (ignored by clients), then a blank line. */
static ngx_int_t
ngx_http_sluice_sse_summary(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx)
{
    size_t       len;
    u_char      *p, *s;
    const char  *action;

    if (ctx->error) {
        action = "error";
    } else if (ctx->action < 0) {
        action = "none";
    } else {
        action = sluice_action_name(ctx->action);
    }

    len = sizeof(": sluice-action: \n: sluice-policy: \n: sluice-record: \n"
                 ": sluice-reason: \n: sluice-mode: observe\n\n")
          + ngx_strlen(action) + ctx->policy.len + ctx->records_len
          + (ctx->reason ? ngx_strlen(ctx->reason) : 0);

    s = ngx_pnalloc(r->pool, len);
    if (s == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(s, ": sluice-action: %s\n", action);
    if (ctx->policy.len) {
        p = ngx_sprintf(p, ": sluice-policy: %V\n", &ctx->policy);
    }
    if (ctx->records_len) {
        p = ngx_cpymem(p, ": sluice-record: ", 17);
        p = ngx_cpymem(p, ctx->records, ctx->records_len);
        *p++ = '\n';
    }
    if (ctx->reason) {
        p = ngx_sprintf(p, ": sluice-reason: %s\n", ctx->reason);
    }
    if (ctx->conf->mode == NGX_HTTP_SLUICE_OBSERVE) {
        p = ngx_cpymem(p, ": sluice-mode: observe\n", 22);
    }
    *p++ = '\n';

    return ngx_http_sluice_sse_emit(r, ctx, s, p - s);
}


/*
 * Copy bytes to the output, into buffers recycled through ctx->free once
 * the client has taken them (ngx_chain_update_chains in the flush).
 */
static ngx_int_t
ngx_http_sluice_sse_emit(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    const u_char *p, size_t len)
{
    size_t        size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (len == 0) {
        return NGX_OK;
    }

    b = ctx->cur;

    if (b == NULL || (size_t) (b->end - b->last) < len) {
        cl = ngx_chain_get_free_buf(r->pool, &ctx->free);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        b = cl->buf;
        size = 4096;
        while (size < len) {
            size *= 2;
        }

        if (b->start == NULL || (size_t) (b->end - b->start) < size) {
            if (b->start != NULL) {
                /* only a large allocation is really freed */
                (void) ngx_pfree(r->pool, b->start);
            }
            b->start = ngx_palloc(r->pool, size);
            if (b->start == NULL) {
                return NGX_ERROR;
            }
            b->end = b->start + size;
        }

        b->pos = b->start;
        b->last = b->start;
        b->temporary = 1;
        b->flush = 0;
        b->last_buf = 0;
        b->tag = (ngx_buf_tag_t) &ngx_http_sluice_module;

        cl->next = NULL;
        *ctx->last_out = cl;
        ctx->last_out = &cl->next;
        ctx->cur = b;
    }

    b->last = ngx_cpymem(b->last, p, len);

    return NGX_OK;
}


/* Pass what this call produced, flushed; recycle what was sent. */
static ngx_int_t
ngx_http_sluice_sse_flush(ngx_http_request_t *r, ngx_http_sluice_ctx_t *ctx,
    ngx_chain_t *in)
{
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    if (ctx->done && !ctx->last_sent) {
        cl = ngx_chain_get_free_buf(r->pool, &ctx->free);
        if (cl == NULL) {
            return NGX_ERROR;
        }
        cl->buf->pos = cl->buf->start;
        cl->buf->last = cl->buf->start;
        cl->buf->temporary = 0;
        cl->buf->last_buf = 1;
        cl->buf->flush = 0;
        cl->buf->tag = (ngx_buf_tag_t) &ngx_http_sluice_module;
        cl->next = NULL;
        *ctx->last_out = cl;
        ctx->last_out = &cl->next;
        ctx->last_sent = 1;
    }

    if (ctx->out == NULL && ctx->busy == NULL && in != NULL) {
        return NGX_OK;
    }

    if (ctx->cur != NULL) {
        ctx->cur->flush = 1;
    }

    rc = ngx_http_sluice_next_body(r, ctx->out);

    ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &ctx->out,
                            (ngx_buf_tag_t) &ngx_http_sluice_module);
    ctx->last_out = &ctx->out;
    ctx->cur = NULL;

    return rc;
}


/* At the request's end: finish sessions still open (a stream cut short by
   the client or the upstream), so that each is recorded; free them. */
void
ngx_http_sluice_sse_cleanup(ngx_http_sluice_ctx_t *ctx)
{
    ngx_uint_t       i;
    sluice_release   rel;
    sluice_verdict  *v;

    for (i = 0; i < NGX_HTTP_SLUICE_MAX_CHOICES; i++) {
        if (ctx->choices[i].session == NULL) {
            continue;
        }
        if (sluice_session_finish(ctx->choices[i].session, &rel, &v) == 0) {
            sluice_verdict_free(v);
        }
        sluice_session_free(ctx->choices[i].session);
        ctx->choices[i].session = NULL;
    }
}
