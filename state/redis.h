/*
 * redis.h - the sluice_redis handle's insides, shared by the parts of
 * state/ that talk to Redis: the verdict cache and strikes (hook.c), the
 * fleet channel (fleet.c) and checkpoint anchors (anchor.c).
 *
 * Every call takes an absolute deadline (monotonic microseconds) and never
 * waits past it: connecting, writing and reading included. A call that
 * fails for want of Redis (refused, reset, timed out, an error reply such
 * as NOAUTH) returns SLUICE_EIO with a message, and puts the handle into
 * back-off: until it ends, calls fail at once without touching the
 * network; then one caller at a time probes with a fresh connection.
 */
#ifndef SLUICE_STATE_REDIS_H
#define SLUICE_STATE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "sluice.h"

/* The scripts the library runs (EVALSHA, loaded on first use). */
typedef enum redis_script {
    SCRIPT_STRIKE = 0,
    SCRIPT_PUBLISH = 1,
    SCRIPT_ANCHOR = 2,
    SCRIPT_COUNT = 3
} redis_script;

/* One command of a pipeline: argv as hiredis takes it. With `script` >=
   0, argv[0..argc) are the EVALSHA arguments after the sha (numkeys,
   keys, args) and the call runs that script. */
#define REDIS_MAX_ARGS 24
typedef struct redis_cmd {
    int argc;
    const char *argv[REDIS_MAX_ARGS];
    size_t argvlen[REDIS_MAX_ARGS];
    int script;                 /* -1: a plain command */
} redis_cmd;

/* Start a command; add arguments (copied by pointer: they must live until
   redis_run returns). */
void redis_cmd_init(redis_cmd *c, int script);
void redis_cmd_arg(redis_cmd *c, const void *p, size_t len);
void redis_cmd_str(redis_cmd *c, const char *s);

/* The run flags. */
#define REDIS_RETRY 1       /* idempotent: on a dead pooled connection,
                               retry once on a fresh one */
#define REDIS_BULK 2        /* off the output path: ignore the back-off
                               (a deliberate call, e.g. publish) */

/*
 * Send cmds[0..n) as one pipeline and read their replies into replies[]
 * (each the caller's: freeReplyObject). An error reply of a command is
 * its reply (type REDIS_REPLY_ERROR), not a failure of the call, except
 * NOSCRIPT, handled here. Returns 0, or SLUICE_EIO (err says why: the
 * handle is in back-off, refused, timed out ...), SLUICE_ENOMEM; replies
 * are then all NULL.
 */
int redis_run(sluice_redis *r, int64_t deadline_us, int flags,
    redis_cmd *cmds, size_t n, redisReply **replies, sluice_error *err);

/* One command, one reply; the same contract. */
int redis_run1(sluice_redis *r, int64_t deadline_us, int flags,
    redis_cmd *cmd, redisReply **reply, sluice_error *err);

/* Deadlines: now (monotonic, microseconds) plus the handle's command
   timeout, or its bulk timeout. */
int64_t redis_now_us(void);
int64_t redis_deadline(const sluice_redis *r);
int64_t redis_bulk_deadline(const sluice_redis *r);

/* The key prefix (e.g. "sluice:"), and PREFIX + a + b into buf (cut short
   at size; keys never come near it). Returns the length. */
const char *redis_prefix(const sluice_redis *r);
size_t redis_key(const sluice_redis *r, char *buf, size_t size,
    const char *a, const char *b);

/* The address as given, for messages. */
const char *redis_addr(const sluice_redis *r);

/* Log through the handle's callback, if any. printf-style. */
void redis_log(const sluice_redis *r, sluice_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The options the handle was made with (strings owned by the handle):
   the fleet thread opens its own connections from them. */
const sluice_redis_options *redis_options(const sluice_redis *r);

/*
 * A connection of one's own, outside the pool (the fleet's subscriber):
 * connect within `deadline_us`, authenticate and select the database.
 * Returns the context (blocking mode off), or NULL with err.
 */
redisContext *redis_connect_own(const sluice_redis *r, int64_t deadline_us,
    sluice_error *err);

/* Run one command on an own connection within the deadline (the same
   I/O loop as the pool). 0, or SLUICE_EIO: the context is then dead. */
int redis_own_run(const sluice_redis *r, redisContext *c, int64_t deadline_us,
    redis_cmd *cmd, redisReply **reply, sluice_error *err);

/* Short descriptions of replies, for messages. */
const char *redis_reply_text(const redisReply *rep);

#endif
