/*
 * redis.c - the sluice_redis handle: a small pool of hiredis connections,
 * each command bounded by a deadline, and a back-off shared by the pool.
 *
 * Design. hiredis's blocking calls bound each read or write by a socket
 * timeout, not a whole command (a reply read in many pieces can take many
 * timeouts), and its blocking connect resolves and connects as one call.
 * So every connection here is a non-blocking context: connect() returns
 * at once, and we poll() for it with the deadline; commands are appended
 * to hiredis's buffer, and we poll() for writability and readability with
 * the same deadline, letting hiredis only parse (redisBufferWrite,
 * redisBufferRead, redisGetReplyFromReader). No call waits past its
 * deadline, whatever the server does. A connection whose command timed
 * out or failed is closed: its state is unknown.
 *
 * The pool: `connections` slots, each a mutex and a context, so threads
 * checking outputs do not queue behind one socket. A caller takes a free
 * slot (trylock round the pool), else waits for one, but only until its
 * deadline (pthread_mutex_timedlock).
 *
 * Back-off (a circuit breaker): a failure sets `backoff_ms` (doubling from
 * backoff_min_ms to backoff_max_ms) and `down_until` (now + backoff with
 * jitter, 50-100%). Until then calls fail at once (counted as skipped);
 * after it one call probes (the others still fail at once) and, on
 * success, the handle is up again. Each failure also bumps `gen`, and a
 * slot whose context predates the current generation reconnects before
 * use, so after Redis restarts no stale socket fails a call.
 *
 * Scripts (Lua) run by EVALSHA; the sha is learnt by SCRIPT LOAD, sent in
 * the same pipeline as the first EVAL, and again after NOSCRIPT (a Redis
 * restart or SCRIPT FLUSH).
 *
 * Invariants: `lock` guards the back-off fields and the script shas; a
 * slot's mutex guards its context; no lock is held across I/O except the
 * slot's own. The handle holds no global state.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/sds.h>
#include <sodium.h>

#include "ledger/util.h"
#include "state/redis.h"
#include "state/scripts.h"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 6379
#define DEFAULT_PREFIX "sluice:"
#define DEFAULT_TIMEOUT_MS 50
#define DEFAULT_CONNECT_TIMEOUT_MS 200
#define DEFAULT_BULK_TIMEOUT_MS 10000
#define DEFAULT_BACKOFF_MIN_MS 100
#define DEFAULT_BACKOFF_MAX_MS 5000
#define DEFAULT_CONNECTIONS 4
#define MAX_CONNECTIONS 256
#define MAX_PREFIX 64

typedef struct slot {
    pthread_mutex_t lock;
    redisContext *c;          /* NULL: not connected */
    uint64_t gen;             /* the handle's generation c was made in */
} slot;

struct sluice_redis {
    sluice_redis_options o;   /* strings point at the copies below */
    char *addr;               /* as given, for messages */
    char *host;               /* TCP, or NULL */
    int port;
    char *path;               /* unix socket, or NULL */
    char *username, *password, *prefix;
    slot *slots;
    unsigned nslots;
    atomic_uint next;         /* where the next trylock round starts */
    atomic_uint_fast64_t gen;

    atomic_int down;          /* 1: backoff_ms != 0 (read without lock) */
    pthread_mutex_t lock;     /* guards the fields below */
    uint32_t backoff_ms;      /* 0: up */
    int64_t down_until_us;    /* monotonic */
    int probing;              /* a call is probing after the back-off */
    char sha[SCRIPT_COUNT][41];
    uint64_t failures_in_row;

    atomic_uint_fast64_t calls, failures, timeouts, skipped, connects;
};

/* ---- small helpers ------------------------------------------------------ */

int64_t redis_now_us(void)
{
    return clock_mono_ns() / 1000;
}

int64_t redis_deadline(const sluice_redis *r)
{
    return redis_now_us() + (int64_t)r->o.timeout_ms * 1000;
}

int64_t redis_bulk_deadline(const sluice_redis *r)
{
    return redis_now_us() + (int64_t)r->o.bulk_timeout_ms * 1000;
}

const char *redis_prefix(const sluice_redis *r)
{
    return r->prefix;
}

const char *redis_addr(const sluice_redis *r)
{
    return r->addr;
}

const sluice_redis_options *redis_options(const sluice_redis *r)
{
    return &r->o;
}

size_t redis_key(const sluice_redis *r, char *buf, size_t size,
    const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s%s%s", r->prefix, a ? a : "",
        b ? b : "");
    if (n < 0)
        n = 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

void redis_log(const sluice_redis *r, sluice_log_level level,
    const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    if (r == NULL || r->o.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->o.log(level, buf, r->o.log_payload);
}

void redis_cmd_init(redis_cmd *c, int script)
{
    c->argc = 0;
    c->script = script;
}

void redis_cmd_arg(redis_cmd *c, const void *p, size_t len)
{
    if (c->argc >= REDIS_MAX_ARGS)
        abort();          /* a programming error: commands are fixed */
    c->argv[c->argc] = p;
    c->argvlen[c->argc] = len;
    c->argc++;
}

void redis_cmd_str(redis_cmd *c, const char *s)
{
    redis_cmd_arg(c, s, strlen(s));
}

const char *redis_reply_text(const redisReply *rep)
{
    if (rep == NULL)
        return "no reply";
    if (rep->type == REDIS_REPLY_ERROR || rep->type == REDIS_REPLY_STATUS ||
        rep->type == REDIS_REPLY_STRING)
        return rep->str;
    return "unexpected reply";
}

/* ---- options and addresses ---------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int parse_port(const char *s, size_t n, int *out)
{
    long v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* host[:port], [v6]:port, v6 (several colons, no port). */
static int parse_hostport(sluice_redis *r, const char *s, size_t n)
{
    const char *colon = NULL;
    r->port = DEFAULT_PORT;
    if (n > 0 && s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (end == NULL)
            return -1;
        r->host = dup_n(s + 1, (size_t)(end - s - 1));
        size_t rest = n - (size_t)(end - s) - 1;
        if (rest > 0 && (end[1] != ':' ||
                parse_port(end + 2, rest - 1, &r->port) != 0))
            return -1;
        return r->host != NULL && r->host[0] != '\0' ? 0 : -1;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] == ':')
            colon = colon == NULL ? s + i : s + n;   /* two: IPv6 */
    if (colon != NULL && colon < s + n) {
        if (parse_port(colon + 1, n - (size_t)(colon - s) - 1, &r->port) != 0)
            return -1;
        n = (size_t)(colon - s);
    }
    if (n == 0)
        return -1;
    r->host = dup_n(s, n);
    return r->host != NULL ? 0 : -1;
}

/* redis://[[user]:password@]host[:port][/db] */
static int parse_url(sluice_redis *r, const char *s)
{
    const char *at = strrchr(s, '@'), *slash, *hp = s;
    if (at != NULL) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        if (colon == NULL)
            return -1;
        if (colon > s && (r->username = dup_n(s, (size_t)(colon - s))) == NULL)
            return -1;
        if ((r->password = dup_n(colon + 1, (size_t)(at - colon - 1))) == NULL)
            return -1;
        hp = at + 1;
    }
    slash = strchr(hp, '/');
    if (slash != NULL && slash[1] != '\0') {
        char *end = NULL;
        long db = strtol(slash + 1, &end, 10);
        if (*end != '\0' || db < 0 || db > INT_MAX || slash[1] == '-')
            return -1;
        r->o.db = (int)db;
    }
    return parse_hostport(r, hp, slash ? (size_t)(slash - hp) : strlen(hp));
}

static int parse_addr(sluice_redis *r, const char *a)
{
    if (strncmp(a, "unix:", 5) == 0) {
        a += 5;
        if (strncmp(a, "//", 2) == 0)
            a += 2;
        r->path = strdup(a);
        return r->path != NULL && r->path[0] == '/' ? 0 : -1;
    }
    if (a[0] == '/') {
        r->path = strdup(a);
        return r->path != NULL ? 0 : -1;
    }
    if (strncmp(a, "redis://", 8) == 0)
        return parse_url(r, a + 8);
    if (strstr(a, "://") != NULL)
        return -1;           /* rediss:// (TLS) and others: not supported */
    return parse_hostport(r, a, strlen(a));
}

static int check_prefix(const char *p)
{
    size_t n = strlen(p);
    if (n > MAX_PREFIX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
            return -1;
    return 0;
}

static int copy_opt(char **dst, const char *src)
{
    if (src == NULL || *dst != NULL)
        return 0;            /* unset, or already set by the URL */
    *dst = strdup(src);
    return *dst != NULL ? 0 : -1;
}

static int set_options(sluice_redis *r, const sluice_redis_options *o,
    sluice_error *err)
{
    sluice_redis_options d = SLUICE_REDIS_OPTIONS_INIT;
    if (o == NULL)
        o = &d;
    if (o->version != SLUICE_REDIS_OPTIONS_VERSION)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_redis_options.version is %u, expected %u", o->version,
            SLUICE_REDIS_OPTIONS_VERSION);
    r->o = *o;
    r->addr = strdup(o->addr ? o->addr : DEFAULT_HOST ":6379");
    if (r->addr == NULL)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    if (parse_addr(r, r->addr) != 0)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "redis address '%s': expected HOST:PORT, [IPv6]:PORT, "
            "unix:/PATH or redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]",
            r->addr);
    if (copy_opt(&r->username, o->username) != 0 ||
        copy_opt(&r->password, o->password) != 0 ||
        (r->prefix = strdup(o->prefix ? o->prefix : DEFAULT_PREFIX)) == NULL)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    if (check_prefix(r->prefix) != 0)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "redis key prefix: at most %d bytes, no spaces or control "
            "characters", MAX_PREFIX);
    if (o->db < 0)
        return ledger_error(err, SLUICE_EINVAL, NULL, "redis db %d", o->db);
    r->o.addr = r->addr;
    r->o.username = r->username;
    r->o.password = r->password;
    r->o.prefix = r->prefix;
    if (r->o.timeout_ms == 0)
        r->o.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (r->o.connect_timeout_ms == 0)
        r->o.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (r->o.bulk_timeout_ms == 0)
        r->o.bulk_timeout_ms = DEFAULT_BULK_TIMEOUT_MS;
    if (r->o.backoff_min_ms == 0)
        r->o.backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
    if (r->o.backoff_max_ms == 0)
        r->o.backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    if (r->o.connections == 0)
        r->o.connections = DEFAULT_CONNECTIONS;
    if (r->o.backoff_max_ms < r->o.backoff_min_ms ||
        r->o.connections > MAX_CONNECTIONS ||
        r->o.timeout_ms > 3600000 || r->o.bulk_timeout_ms > 3600000 ||
        r->o.connect_timeout_ms > 3600000 || r->o.backoff_max_ms > 3600000)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "redis options: timeouts at most an hour, backoff_max_ms >= "
            "backoff_min_ms, at most %d connections", MAX_CONNECTIONS);
    return 0;
}

/* ---- the handle ---------------------------------------------------------- */

void sluice_redis_free(sluice_redis *r)
{
    if (r == NULL)
        return;
    for (unsigned i = 0; i < r->nslots; i++) {
        if (r->slots[i].c != NULL)
            redisFree(r->slots[i].c);
        pthread_mutex_destroy(&r->slots[i].lock);
    }
    free(r->slots);
    pthread_mutex_destroy(&r->lock);
    if (r->password != NULL) {
        sodium_memzero(r->password, strlen(r->password));
        free(r->password);
    }
    if (r->addr != NULL && strncmp(r->addr, "redis://", 8) == 0)
        sodium_memzero(r->addr, strlen(r->addr));   /* may hold it too */
    free(r->addr);
    free(r->host);
    free(r->path);
    free(r->username);
    free(r->prefix);
    free(r);
}

int sluice_redis_new(sluice_redis **out, const sluice_redis_options *opts,
    sluice_error *err)
{
    sluice_redis *r;
    int rc;
    if (out == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_redis_new: out is required");
    *out = NULL;
    if (sodium_init() < 0)
        return ledger_error(err, SLUICE_EINTERNAL, NULL,
            "libsodium failed to initialize");
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return ledger_error(err, SLUICE_EINTERNAL, NULL, "mutex init failed");
    }
    if ((rc = set_options(r, opts, err)) != 0)
        goto fail;
    r->slots = calloc(r->o.connections, sizeof *r->slots);
    if (r->slots == NULL) {
        rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
        goto fail;
    }
    for (; r->nslots < r->o.connections; r->nslots++)
        if (pthread_mutex_init(&r->slots[r->nslots].lock, NULL) != 0) {
            rc = ledger_error(err, SLUICE_EINTERNAL, NULL,
                "mutex init failed");
            goto fail;
        }
    *out = r;
    return 0;
fail:
    sluice_redis_free(r);
    return rc;
}

void sluice_redis_get_stats(sluice_redis *r, sluice_redis_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (r == NULL)
        return;
    out->calls = atomic_load(&r->calls);
    out->failures = atomic_load(&r->failures);
    out->timeouts = atomic_load(&r->timeouts);
    out->skipped = atomic_load(&r->skipped);
    out->connects = atomic_load(&r->connects);
    if (pthread_mutex_lock(&r->lock) == 0) {
        out->backoff_ms = r->backoff_ms;
        out->up = r->backoff_ms == 0;
        (void)pthread_mutex_unlock(&r->lock);
    }
}

/* ---- I/O with a deadline -------------------------------------------------- */

/* Wait for `ev` on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short ev, int64_t deadline_us)
{
    for (;;) {
        int64_t left = deadline_us - redis_now_us();
        struct pollfd p = { fd, ev, 0 };
        int ms, n;
        if (left <= 0)
            return 0;
        ms = (int)((left + 999) / 1000);
        n = poll(&p, 1, ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Why an I/O loop failed. */
typedef struct io_fail {
    char why[200];
    int timed_out;
} io_fail;

static int fail_io(io_fail *f, int timed_out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_io(io_fail *f, int timed_out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof f->why, fmt, ap);
    va_end(ap);
    f->timed_out = timed_out;
    return -1;
}

/*
 * Send c's output buffer before the deadline. This is redisBufferWrite()
 * with send(MSG_NOSIGNAL) for write(): a library must not raise SIGPIPE
 * in its caller's process when Redis has gone away.
 */
static int flush_out(redisContext *c, int64_t deadline_us, io_fail *f)
{
    int w;
    while (sdslen(c->obuf) > 0) {
        ssize_t n = send(c->fd, c->obuf, sdslen(c->obuf), MSG_NOSIGNAL);
        if (n > 0) {
            if ((size_t)n == sdslen(c->obuf)) {
                sdsfree(c->obuf);
                if ((c->obuf = sdsempty()) == NULL)
                    return fail_io(f, 0, "out of memory");
            } else {
                sdsrange(c->obuf, (int)n, -1);
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return fail_io(f, 0, "write: %s", strerror(errno));
        if ((w = wait_fd(c->fd, POLLOUT, deadline_us)) <= 0)
            return w == 0 ? fail_io(f, 1, "timed out writing") :
                fail_io(f, 0, "poll: %s", strerror(errno));
    }
    return 0;
}

/* Flush c's output buffer and read n replies, all before the deadline. */
static int io_loop(redisContext *c, int64_t deadline_us, size_t n,
    redisReply **replies, io_fail *f)
{
    int w;
    size_t i = 0;
    if (flush_out(c, deadline_us, f) != 0)
        return -1;
    while (i < n) {
        void *rep = NULL;
        if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
            return fail_io(f, 0, "protocol: %s", c->errstr);
        if (rep != NULL) {
            replies[i++] = rep;
            continue;
        }
        if ((w = wait_fd(c->fd, POLLIN, deadline_us)) <= 0)
            return w == 0 ? fail_io(f, 1, "timed out waiting for a reply") :
                fail_io(f, 0, "poll: %s", strerror(errno));
        if (redisBufferRead(c) != REDIS_OK)
            return fail_io(f, 0, "%s", c->errstr[0] ? c->errstr : "read");
    }
    return 0;
}

static void free_replies(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

/* AUTH and SELECT on a new connection, if configured. */
static int handshake(const sluice_redis_options *o, redisContext *c,
    int64_t deadline_us, io_fail *f)
{
    redisReply *rep[2] = {NULL, NULL};
    size_t n = 0;
    char db[16];
    int rc = 0;
    if (o->password != NULL) {
        if (o->username != NULL)
            redisAppendCommand(c, "AUTH %s %s", o->username, o->password);
        else
            redisAppendCommand(c, "AUTH %s", o->password);
        n++;
    }
    if (o->db != 0) {
        snprintf(db, sizeof db, "%d", o->db);
        redisAppendCommand(c, "SELECT %s", db);
        n++;
    }
    if (n == 0)
        return 0;
    if (io_loop(c, deadline_us, n, rep, f) != 0) {
        rc = -1;
    } else {
        for (size_t i = 0; i < n && rc == 0; i++)
            if (rep[i]->type == REDIS_REPLY_ERROR)
                rc = fail_io(f, 0, "%s: %s",
                    i == 0 && o->password ? "AUTH" : "SELECT", rep[i]->str);
    }
    free_replies(rep, n);
    return rc;
}

/* A new non-blocking context, connected and ready, within the deadline
   (and connect_timeout_ms). NULL with f filled. */
static redisContext *connect_ctx(const sluice_redis *r, int64_t deadline_us,
    io_fail *f)
{
    int64_t cdl = redis_now_us() + (int64_t)r->o.connect_timeout_ms * 1000;
    redisContext *c;
    int soerr = 0, w;
    socklen_t sl = sizeof soerr;
    if (cdl > deadline_us)
        cdl = deadline_us;
    if (cdl <= redis_now_us()) {
        fail_io(f, 1, "no time left to connect");
        return NULL;
    }
    c = r->path ? redisConnectUnixNonBlock(r->path) :
        redisConnectNonBlock(r->host, r->port);
    if (c == NULL) {
        fail_io(f, 0, "out of memory");
        return NULL;
    }
    if (c->err) {
        fail_io(f, 0, "connect: %s", c->errstr);
        goto fail;
    }
    if ((w = wait_fd(c->fd, POLLOUT, cdl)) <= 0) {
        if (w == 0)
            fail_io(f, 1, "connect timed out");
        else
            fail_io(f, 0, "connect: poll: %s", strerror(errno));
        goto fail;
    }
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 ||
        soerr != 0) {
        fail_io(f, 0, "connect: %s", strerror(soerr ? soerr : errno));
        goto fail;
    }
    if (r->path == NULL) {
        int one = 1;
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (handshake(&r->o, c, deadline_us, f) != 0)
        goto fail;
    return c;
fail:
    redisFree(c);
    return NULL;
}

redisContext *redis_connect_own(const sluice_redis *r, int64_t deadline_us,
    sluice_error *err)
{
    io_fail f;
    redisContext *c = connect_ctx(r, deadline_us, &f);
    if (c == NULL)
        ledger_error(err, SLUICE_EIO, NULL, "redis %s: %s", r->addr, f.why);
    return c;
}

static void append_cmd(redisContext *c, const redis_cmd *cmd, const char *sha,
    const char *script)
{
    const char *argv[REDIS_MAX_ARGS + 2];
    size_t len[REDIS_MAX_ARGS + 2];
    int n = 0;
    if (cmd->script >= 0) {
        argv[n] = sha ? "EVALSHA" : "EVAL";
        len[n++] = sha ? 7 : 4;
        argv[n] = sha ? sha : script;
        len[n] = strlen(argv[n]);
        n++;
    }
    for (int i = 0; i < cmd->argc; i++) {
        argv[n] = cmd->argv[i];
        len[n++] = cmd->argvlen[i];
    }
    redisAppendCommandArgv(c, n, argv, len);
}

int redis_own_run(const sluice_redis *r, redisContext *c, int64_t deadline_us,
    redis_cmd *cmd, redisReply **reply, sluice_error *err)
{
    io_fail f;
    *reply = NULL;
    append_cmd(c, cmd, NULL, cmd->script >= 0 ?
        redis_script_text((redis_script)cmd->script) : NULL);
    if (io_loop(c, deadline_us, 1, reply, &f) != 0) {
        free_replies(reply, 1);
        return ledger_error(err, SLUICE_EIO, NULL, "redis %s: %s", r->addr,
            f.why);
    }
    return 0;
}

/* ---- back-off ------------------------------------------------------------- */

/* May this call go ahead? Sets *probe when it is the one probing after a
   back-off. 0 yes; -1 no, with the reason in err. */
static int gate(sluice_redis *r, int flags, int *probe, sluice_error *err)
{
    int64_t now = redis_now_us(), left;
    *probe = 0;
    if (!atomic_load(&r->down))
        return 0;
    if (pthread_mutex_lock(&r->lock) != 0)
        return ledger_error(err, SLUICE_EIO, NULL, "mutex");
    if (r->backoff_ms == 0 || (flags & REDIS_BULK)) {
        (void)pthread_mutex_unlock(&r->lock);
        return 0;
    }
    left = r->down_until_us - now;
    if (left <= 0 && !r->probing) {
        r->probing = 1;
        *probe = 1;
        (void)pthread_mutex_unlock(&r->lock);
        return 0;
    }
    (void)pthread_mutex_unlock(&r->lock);
    atomic_fetch_add(&r->skipped, 1);
    if (left > 0)
        return ledger_error(err, SLUICE_EIO, NULL,
            "redis %s: unavailable (backing off, next try in %lld ms)",
            r->addr, (long long)((left + 999) / 1000));
    return ledger_error(err, SLUICE_EIO, NULL,
        "redis %s: unavailable (another call is probing it)", r->addr);
}

static void mark_up(sluice_redis *r, int probe)
{
    uint64_t was = 0;
    if (!probe && !atomic_load(&r->down))
        return;
    if (pthread_mutex_lock(&r->lock) != 0)
        return;
    if (probe)
        r->probing = 0;
    if (r->backoff_ms != 0) {
        was = r->failures_in_row;
        r->backoff_ms = 0;
        r->down_until_us = 0;
        atomic_store(&r->down, 0);
    }
    r->failures_in_row = 0;
    (void)pthread_mutex_unlock(&r->lock);
    if (was)
        redis_log(r, SLUICE_LOG_INFO, "redis %s: available again (after %llu "
            "failed attempts)", r->addr, (unsigned long long)was);
}

static void mark_down(sluice_redis *r, int probe, const char *why)
{
    uint32_t b;
    int64_t wait;
    if (pthread_mutex_lock(&r->lock) != 0)
        return;
    if (probe)
        r->probing = 0;
    if (!probe && r->backoff_ms != 0) {
        /* a call that was in flight when another failed: the back-off
           is set already; do not stretch it once per thread */
        (void)pthread_mutex_unlock(&r->lock);
        return;
    }
    b = r->backoff_ms == 0 ? r->o.backoff_min_ms :
        (r->backoff_ms >= r->o.backoff_max_ms / 2 ? r->o.backoff_max_ms :
         r->backoff_ms * 2);
    r->backoff_ms = b;
    atomic_store(&r->down, 1);
    /* jitter: 50-100% of the back-off, so a fleet does not probe at once */
    wait = (int64_t)b * 500 + (int64_t)randombytes_uniform(b * 500 + 1);
    r->down_until_us = redis_now_us() + wait;
    r->failures_in_row++;
    atomic_fetch_add(&r->gen, 1);
    (void)pthread_mutex_unlock(&r->lock);
    redis_log(r, SLUICE_LOG_WARNING, "redis %s: %s; next try in %lld ms",
        r->addr, why, (long long)(wait / 1000));
}

/* ---- the pool -------------------------------------------------------------- */

static int lock_until(pthread_mutex_t *m, int64_t deadline_us)
{
    struct timespec ts;
    int64_t left = deadline_us - redis_now_us();
    if (left <= 0)
        return pthread_mutex_trylock(m);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += left / 1000000;
    ts.tv_nsec += (left % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return pthread_mutex_timedlock(m, &ts);
}

static slot *take_slot(sluice_redis *r, int64_t deadline_us)
{
    unsigned start = atomic_fetch_add(&r->next, 1);
    for (unsigned i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[(start + i) % r->nslots];
        if (pthread_mutex_trylock(&s->lock) == 0)
            return s;
    }
    slot *s = &r->slots[start % r->nslots];
    return lock_until(&s->lock, deadline_us) == 0 ? s : NULL;
}

static void drop_ctx(slot *s)
{
    if (s->c != NULL)
        redisFree(s->c);
    s->c = NULL;
}

/* Scripts: the sha if known (copied to sha[41]), else "". */
static void script_sha(sluice_redis *r, int script, char sha[41])
{
    sha[0] = '\0';
    if (script < 0 || pthread_mutex_lock(&r->lock) != 0)
        return;
    memcpy(sha, r->sha[script], 41);
    (void)pthread_mutex_unlock(&r->lock);
}

static void script_learn(sluice_redis *r, int script, const redisReply *rep)
{
    if (rep == NULL || rep->type != REDIS_REPLY_STRING || rep->len != 40 ||
        pthread_mutex_lock(&r->lock) != 0)
        return;
    memcpy(r->sha[script], rep->str, 40);
    r->sha[script][40] = '\0';
    (void)pthread_mutex_unlock(&r->lock);
}

static void script_forget(sluice_redis *r, int script)
{
    if (pthread_mutex_lock(&r->lock) != 0)
        return;
    r->sha[script][0] = '\0';
    (void)pthread_mutex_unlock(&r->lock);
}

static int is_noscript(const redisReply *rep)
{
    return rep != NULL && rep->type == REDIS_REPLY_ERROR &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

/*
 * One pass: append every command (a script whose sha is unknown goes as
 * SCRIPT LOAD + EVAL), read every reply. 0, or -1 with f filled. A reply
 * NOSCRIPT leaves *again set: that command must be sent once more.
 */
static int run_pass(sluice_redis *r, redisContext *c, int64_t deadline_us,
    redis_cmd *cmds, size_t n, redisReply **replies, int *again, io_fail *f)
{
    redisReply *raw[2 * 64];
    int loaded[64];
    size_t nraw = 0, k = 0;
    char sha[41];
    if (n > 64)
        return fail_io(f, 0, "pipeline too long");
    for (size_t i = 0; i < n; i++) {
        script_sha(r, cmds[i].script, sha);
        loaded[i] = cmds[i].script >= 0 && sha[0] == '\0';
        if (loaded[i]) {
            const char *s = redis_script_text((redis_script)cmds[i].script);
            redisAppendCommand(c, "SCRIPT LOAD %s", s);
            nraw++;
        }
        append_cmd(c, &cmds[i], sha[0] ? sha : NULL,
            redis_script_text((redis_script)(cmds[i].script >= 0 ?
                cmds[i].script : 0)));
        nraw++;
    }
    memset(raw, 0, nraw * sizeof *raw);
    if (io_loop(c, deadline_us, nraw, raw, f) != 0) {
        free_replies(raw, nraw);
        return -1;
    }
    *again = 0;
    for (size_t i = 0; i < n; i++) {
        if (loaded[i]) {
            script_learn(r, cmds[i].script, raw[k]);
            freeReplyObject(raw[k++]);
        }
        if (is_noscript(raw[k])) {
            script_forget(r, cmds[i].script);
            freeReplyObject(raw[k++]);
            replies[i] = NULL;
            *again = 1;
            continue;
        }
        replies[i] = raw[k++];
    }
    return 0;
}

/* Run on a context: the pass, and a second one for NOSCRIPT replies. */
static int run_on(sluice_redis *r, redisContext *c, int64_t deadline_us,
    redis_cmd *cmds, size_t n, redisReply **replies, io_fail *f)
{
    int again = 0;
    if (run_pass(r, c, deadline_us, cmds, n, replies, &again, f) != 0)
        return -1;
    if (!again)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (replies[i] != NULL)
            continue;
        int again2 = 0;
        if (run_pass(r, c, deadline_us, &cmds[i], 1, &replies[i], &again2,
                f) != 0 || again2) {
            free_replies(replies, n);
            return again2 ? fail_io(f, 0, "script not found twice") : -1;
        }
    }
    return 0;
}

int redis_run(sluice_redis *r, int64_t deadline_us, int flags,
    redis_cmd *cmds, size_t n, redisReply **replies, sluice_error *err)
{
    int probe = 0, fresh = 0, attempt = 0, rc;
    io_fail f;
    slot *s;
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (gate(r, flags, &probe, err) != 0)
        return SLUICE_EIO;
    s = take_slot(r, deadline_us);
    if (s == NULL) {
        atomic_fetch_add(&r->timeouts, 1);
        if (probe && pthread_mutex_lock(&r->lock) == 0) {
            r->probing = 0;
            (void)pthread_mutex_unlock(&r->lock);
        }
        return ledger_error(err, SLUICE_EIO, NULL,
            "redis %s: timed out waiting for a free connection (%u in use)",
            r->addr, r->nslots);
    }
    for (;;) {
        uint64_t gen = atomic_load(&r->gen);
        if (s->c != NULL && s->gen != gen)
            drop_ctx(s);          /* made before the last failure */
        fresh = s->c == NULL;
        if (fresh) {
            s->c = connect_ctx(r, deadline_us, &f);
            if (s->c == NULL) {
                rc = -1;
                break;
            }
            s->gen = gen;
            atomic_fetch_add(&r->connects, 1);
        }
        atomic_fetch_add(&r->calls, 1);
        rc = run_on(r, s->c, deadline_us, cmds, n, replies, &f);
        if (rc == 0)
            break;
        drop_ctx(s);
        /* a pooled connection Redis closed while idle (a restart): one
           more try on a fresh one, for calls that may be repeated */
        if (fresh || f.timed_out || !(flags & REDIS_RETRY) || attempt++ > 0 ||
            redis_now_us() >= deadline_us)
            break;
        atomic_fetch_add(&r->failures, 1);
    }
    (void)pthread_mutex_unlock(&s->lock);
    if (rc == 0) {
        mark_up(r, probe);
        return 0;
    }
    atomic_fetch_add(&r->failures, 1);
    if (f.timed_out)
        atomic_fetch_add(&r->timeouts, 1);
    mark_down(r, probe, f.why);
    return ledger_error(err, SLUICE_EIO, NULL, "redis %s: %s", r->addr,
        f.why);
}

int redis_run1(sluice_redis *r, int64_t deadline_us, int flags,
    redis_cmd *cmd, redisReply **reply, sluice_error *err)
{
    return redis_run(r, deadline_us, flags, cmd, 1, reply, err);
}

int sluice_redis_ping(sluice_redis *r, sluice_error *err)
{
    redis_cmd c;
    redisReply *rep = NULL;
    int rc;
    if (r == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_redis_ping: no handle");
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "PING");
    rc = redis_run1(r, redis_now_us() + ((int64_t)r->o.connect_timeout_ms +
        r->o.timeout_ms) * 1000, REDIS_BULK | REDIS_RETRY, &c, &rep, err);
    if (rc == 0 && rep->type == REDIS_REPLY_ERROR)
        rc = ledger_error(err, SLUICE_EIO, NULL, "redis %s: PING: %s",
            r->addr, rep->str);
    if (rep != NULL)
        freeReplyObject(rep);
    return rc;
}
