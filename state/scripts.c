/*
 * scripts.c - the Lua scripts of the Redis state layer.
 *
 * Each runs atomically in Redis, which is why they are scripts: a strike
 * is counted and a suspension started in one step, a bundle is stored,
 * made current and announced in one step, and an anchor is compared and
 * swapped in one step, whatever other clients do meanwhile. Time comes
 * from Redis (TIME), so a fleet agrees on it. Scripts touch only the keys
 * they are given, except publish, which expires the bundle it replaces
 * (its name is only known inside the script; fine on a single Redis).
 *
 * `redis.replicate_commands()` (needed before writes after TIME on Redis
 * < 5, a no-op since) keeps them valid on older servers.
 */
#include "state/scripts.h"

/*
 * STRIKE
 *   KEYS  row counter, window sorted set, suspension key
 *   ARGV  is_block (1/0), row threshold, count threshold, window ms,
 *         suspend ms, row TTL ms, a unique member for the window set
 *   reply {row, window count, suspension PTTL (-2: none), started (1/0)}
 * A block increments the row and adds to the window; anything else ends
 * the row. Reaching a threshold starts a suspension unless one runs.
 */
static const char strike_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local rown, cnt = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local win_ms, susp_ms = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local row, win, started = 0, 0, 0\n"
    "if ARGV[1] == '1' then\n"
    "  row = redis.call('INCR', KEYS[1])\n"
    "  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))\n"
    "  if cnt > 0 then redis.call('ZADD', KEYS[2], now, ARGV[7]) end\n"
    "else\n"
    "  redis.call('DEL', KEYS[1])\n"
    "end\n"
    "if cnt > 0 then\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - win_ms)\n"
    "  win = redis.call('ZCARD', KEYS[2])\n"
    "  if win > 0 then redis.call('PEXPIRE', KEYS[2], win_ms) end\n"
    "end\n"
    "if susp_ms > 0 and ((rown > 0 and row >= rown) or\n"
    "                    (cnt > 0 and win >= cnt)) then\n"
    "  if redis.call('SET', KEYS[3], now, 'PX', susp_ms, 'NX') then\n"
    "    started = 1\n"
    "  end\n"
    "end\n"
    "return {row, win, redis.call('PTTL', KEYS[3]), started}\n";

/*
 * PUBLISH
 *   KEYS  the current-policy hash key, the new bundle's key
 *   ARGV  hash, policy id, version, size, force (1/0), channel, bundle
 *         key prefix, seconds an old bundle stays, the bundle bytes
 *   reply {"published", previous hash or "", receivers, published ms}
 *         {"same", hash, receivers, published ms}      (re-announced)
 *         {"downgrade", current hash, current version, 0}  (refused)
 */
static const char publish_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local cur = redis.call('HMGET', KEYS[1], 'hash', 'id', 'version')\n"
    "if cur[1] == ARGV[1] then\n"
    "  if redis.call('EXISTS', KEYS[2]) == 0 then\n"
    "    redis.call('SET', KEYS[2], ARGV[9])\n"
    "  end\n"
    "  redis.call('PERSIST', KEYS[2])\n"
    "  local n = redis.call('PUBLISH', ARGV[6], ARGV[1])\n"
    "  local pub = tonumber(redis.call('HGET', KEYS[1], 'published')) or 0\n"
    "  return {'same', ARGV[1], n, pub}\n"
    "end\n"
    "if cur[2] == ARGV[2] and ARGV[5] ~= '1' and tonumber(cur[3]) and\n"
    "   tonumber(ARGV[3]) < tonumber(cur[3]) then\n"
    "  return {'downgrade', cur[1], cur[3], 0}\n"
    "end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('SET', KEYS[2], ARGV[9])\n"
    "if cur[1] then\n"
    "  redis.call('EXPIRE', ARGV[7] .. cur[1], tonumber(ARGV[8]))\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'id', ARGV[2],\n"
    "  'version', ARGV[3], 'size', ARGV[4], 'published', now)\n"
    "local n = redis.call('PUBLISH', ARGV[6], ARGV[1])\n"
    "return {'published', cur[1] or '', n, now}\n";

/*
 * ANCHOR (compare-and-swap)
 *   KEYS  the anchor hash key, its history list, the origins set, the
 *         refused list
 *   ARGV  size, root (base64), note, expected stored size ("": no
 *         expectation, "none": nothing stored), expected stored root,
 *         origin, history cap
 *   reply {result, stored size, stored root}, result one of new,
 *         advanced, same, rollback, fork, conflict
 * A larger tree replaces the stored one (which goes to the history); a
 * smaller one, or another root for the same size, is refused and kept in
 * the refused list as evidence. With an expectation, the swap happens
 * only if the stored anchor is still the expected one.
 */
static const char anchor_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local cur = redis.call('HMGET', KEYS[1], 'size', 'root', 'note')\n"
    "local size = tonumber(ARGV[1])\n"
    "local cap = tonumber(ARGV[7])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local function refuse(what)\n"
    "  redis.call('LPUSH', KEYS[4], what .. ' ' .. now .. '\\n' .. ARGV[3])\n"
    "  redis.call('LTRIM', KEYS[4], 0, cap - 1)\n"
    "  return {what, cur[1], cur[2]}\n"
    "end\n"
    "if not cur[1] then\n"
    "  if ARGV[4] ~= '' and ARGV[4] ~= 'none' then\n"
    "    return {'conflict', '0', ''}\n"
    "  end\n"
    "  redis.call('HSET', KEYS[1], 'size', ARGV[1], 'root', ARGV[2],\n"
    "    'note', ARGV[3], 'updated', now)\n"
    "  redis.call('SADD', KEYS[3], ARGV[6])\n"
    "  return {'new', '0', ''}\n"
    "end\n"
    "local cs = tonumber(cur[1])\n"
    "if size < cs then return refuse('rollback') end\n"
    "if size == cs then\n"
    "  if ARGV[2] == cur[2] then return {'same', cur[1], cur[2]} end\n"
    "  return refuse('fork')\n"
    "end\n"
    "if ARGV[4] ~= '' and (ARGV[4] ~= cur[1] or ARGV[5] ~= cur[2]) then\n"
    "  return {'conflict', cur[1], cur[2]}\n"
    "end\n"
    "redis.call('LPUSH', KEYS[2], cur[3])\n"
    "redis.call('LTRIM', KEYS[2], 0, cap - 1)\n"
    "redis.call('HSET', KEYS[1], 'size', ARGV[1], 'root', ARGV[2],\n"
    "  'note', ARGV[3], 'updated', now)\n"
    "redis.call('SADD', KEYS[3], ARGV[6])\n"
    "return {'advanced', cur[1], cur[2]}\n";

const char *redis_script_text(redis_script s)
{
    switch (s) {
    case SCRIPT_STRIKE: return strike_lua;
    case SCRIPT_PUBLISH: return publish_lua;
    case SCRIPT_ANCHOR: return anchor_lua;
    default: return "return nil";
    }
}
