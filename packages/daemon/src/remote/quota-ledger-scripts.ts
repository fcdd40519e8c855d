/**
 * The shared quota's operations, each one Lua script so it runs atomically in Redis: no two processes
 * read a level and take from it at once. Time is Redis' own (`TIME`), so machines whose clocks differ
 * still agree on when a bucket refills and when a place expires.
 *
 * KEYS[1] the state hash: `seq` (admissions so far), `tick` (admissions, hearings and ends so far: the
 * order they happened in), `readseq` (the admission whose answer gave the latest reading), `gone` (of the
 * calls that went and have ended, the latest tick at which one was heard of, or ended unheard),
 * `metering` (unknown | headers | none), `admitted`, `refused`, `ident`, `model`, `blocked`/`blockedFor`
 * (a hold the API asked for: until when, why), and per bucket `<dimension>:limit|level|at|fill` (the
 * level at `at`, refilling at limit/fill per ms).
 * KEYS[2] the flights hash: admission → "<input> <output> <heard> <admitted>" (the output reserved until
 * it ends; heard: 0, then the tick at which its answer's headers came, so the server has counted its
 * arrival; admitted: the tick of its admission).
 * KEYS[3] the leases: admission scored by when it expires unless renewed.
 */

const COMMON = `
local S, F, E = KEYS[1], KEYS[2], KEYS[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local DIMS = {'requests', 'input-tokens', 'output-tokens', 'tokens'}
local function charges(d, input, output)
  if d == 'requests' then return 1, 0 end
  if d == 'input-tokens' then return input, 0 end
  if d == 'output-tokens' then return 0, output end
  return input, output
end
local function flight(value)
  local input, output, heard, admitted = string.match(value, '^(%S+) (%S+) (%S+) ?(%S*)$')
  return tonumber(input), tonumber(output), tonumber(heard) or 0, tonumber(admitted) or 0
end
-- The arrivals of the calls in flight not heard of yet: taken from our level, not yet from the server's.
local function unheard(d)
  local sum = 0
  for _, value in ipairs(redis.call('HVALS', F)) do
    local fi, fo, heard = flight(value)
    if heard == 0 then
      local a = charges(d, fi, fo)
      sum = sum + a
    end
  end
  return sum
end
-- The level now, and the most it can be while the unheard calls are on their way: the server's bucket
-- stops refilling at its limit, so refill past the limit less their arrivals is refill it never gives.
local function bucket(d)
  local v = redis.call('HMGET', S, d .. ':limit', d .. ':level', d .. ':at', d .. ':fill')
  if not v[1] then return nil end
  local limit, level, at, fill = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]), tonumber(v[4])
  local rate = limit / fill
  local top = limit - unheard(d)
  return limit, math.min(top, level + rate * math.max(0, now - at)), rate, top
end
local function set(d, level)
  redis.call('HSET', S, d .. ':level', tostring(level), d .. ':at', now)
end
-- Keeps each level as it is now, before a call is heard of or ends and its bucket's top rises.
local function settle()
  for _, d in ipairs(DIMS) do
    local limit, level = bucket(d)
    if limit then set(d, level) end
  end
end
-- A place whose process stopped renewing it (killed mid-call) is given back.
local dead = redis.call('ZRANGEBYSCORE', E, '-inf', now)
for _, id in ipairs(dead) do redis.call('HDEL', F, id) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', E, '-inf', now) end
local function keep(ttl)
  redis.call('PEXPIRE', S, ttl)
  redis.call('PEXPIRE', F, ttl)
  redis.call('PEXPIRE', E, ttl)
end
`;

/**
 * ARGV: input, output, lease ms, identity, model, idle ms. Returns {1, admission} with the call's place
 * taken (its arrival charged, its output reserved), or {0, ms, known, dimension} with how long until it fits.
 * Until an answer has told the limits, one call goes at a time; a server without limits meters nothing.
 */
export const RESERVE = `${COMMON}
local input, output, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
-- A worker that joins after the API said to wait is held as the others are.
local blocked = tonumber(redis.call('HGET', S, 'blocked') or '0')
if blocked > now then return {0, blocked - now, 1, 'held:' .. (redis.call('HGET', S, 'blockedFor') or '')} end
local flights = redis.call('HVALS', F)
local metering = redis.call('HGET', S, 'metering') or 'unknown'
if metering == 'unknown' and #flights > 0 then return {0, 0, 0, 'first'} end
if metering == 'headers' then
  local split = redis.call('HEXISTS', S, 'input-tokens:limit') == 1 or redis.call('HEXISTS', S, 'output-tokens:limit') == 1
  local wait, known, reason = 0, 1, ''
  for _, d in ipairs(DIMS) do
    local limit, level, rate, top = bucket(d)
    if limit and not (split and d == 'tokens') then
      local a, e = charges(d, input, output)
      local wanted = math.min(limit, a + e)
      if wanted > 0 then
        local reserved = 0
        for _, value in ipairs(flights) do
          local fi, fo = flight(value)
          local _, fe = charges(d, fi, fo)
          reserved = reserved + fe
        end
        local room = level - reserved
        if room < wanted then
          -- Refill alone makes room only for what fits beside the calls in flight; else one must end
          -- (or be heard of).
          local k = 0
          if wanted + reserved <= top or #flights == 0 then k = 1 end
          local ms = math.ceil((wanted - room) / rate)
          if ms > wait or (k == 0 and known == 1) then
            wait = ms
            if k == 0 then known = 0 end
            reason = d
          end
        end
      end
    end
  end
  if wait > 0 or known == 0 then return {0, wait, known, reason} end
  for _, d in ipairs(DIMS) do
    local limit, level = bucket(d)
    if limit then
      local a = charges(d, input, output)
      set(d, level - a)
    end
  end
end
local seq = redis.call('HINCRBY', S, 'seq', 1)
local tick = redis.call('HINCRBY', S, 'tick', 1)
redis.call('HSET', F, seq, input .. ' ' .. output .. ' 0 ' .. tick)
redis.call('ZADD', E, now + lease, seq)
redis.call('HINCRBY', S, 'admitted', 1)
redis.call('HSET', S, 'ident', ARGV[4], 'model', ARGV[5])
keep(tonumber(ARGV[6]))
return {1, seq}
`;

/**
 * ARGV: admission, then per bucket read: dimension, limit, remaining, fill ms. The newest reading sets
 * each bucket's level: what the server had left when this call arrived, less the arrivals it may not
 * have counted: those of the calls in flight not heard of when this one was admitted (calls of other
 * processes arrive in any order, so neither an earlier admission nor an earlier hearing is proof of an
 * earlier arrival). When such a call has ended since, it is no longer here to take off: the reading is
 * left unused, as is one whose call is no longer held (its place expired).
 */
export const OBSERVE = `${COMMON}
local seq = tonumber(ARGV[1])
redis.call('HSET', S, 'metering', 'headers')
local mine = redis.call('HGET', F, ARGV[1])
if not mine then return 0 end
local tick = redis.call('HINCRBY', S, 'tick', 1)
settle()
local fi, fo, _, admitted = flight(mine)
redis.call('HSET', F, ARGV[1], fi .. ' ' .. fo .. ' ' .. tick .. ' ' .. admitted)
local readseq = tonumber(redis.call('HGET', S, 'readseq') or '0')
if seq < readseq then return 0 end
if tonumber(redis.call('HGET', S, 'gone') or '0') > admitted then return 0 end
redis.call('HSET', S, 'readseq', seq)
local all = redis.call('HGETALL', F)
local i = 2
while i + 3 <= #ARGV do
  local d, limit, remaining, fill = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local pending = 0
  for j = 1, #all, 2 do
    local ai, ao, heard = flight(all[j + 1])
    if all[j] ~= ARGV[1] and (heard == 0 or heard > admitted) then
      local a = charges(d, ai, ao)
      pending = pending + a
    end
  end
  redis.call('HSET', S, d .. ':limit', limit, d .. ':fill', fill)
  set(d, remaining - pending)
  i = i + 4
end
return 1
`;

/**
 * ARGV: admission, output tokens, answered (1/0), sent (1/0), refused (1/0). The place is given back and
 * the output it used is charged (a place that expired is charged too: the call went on without its
 * process renewing it); a call that never went has its arrival given back. A call that went is
 * remembered in `gone` by when it was heard of (or ended unheard), for readings that may not have
 * counted it.
 */
export const RELEASE = `${COMMON}
local seq, used = ARGV[1], tonumber(ARGV[2])
local value = redis.call('HGET', F, seq)
local tick = redis.call('HINCRBY', S, 'tick', 1)
settle()
redis.call('HDEL', F, seq)
redis.call('ZREM', E, seq)
if value and ARGV[4] == '1' then
  local _, _, heard = flight(value)
  local mark = tick
  if heard > 0 then mark = heard end
  if mark > tonumber(redis.call('HGET', S, 'gone') or '0') then redis.call('HSET', S, 'gone', mark) end
end
for _, d in ipairs(DIMS) do
  local limit, level = bucket(d)
  if limit then
    local _, e = charges(d, 0, used)
    local back = 0
    if value and ARGV[4] == '0' then
      local fi, fo = flight(value)
      back = charges(d, fi, fo)
    end
    if e > 0 or back > 0 then set(d, math.min(limit, level + back) - e) end
  end
end
if ARGV[3] == '1' and (redis.call('HGET', S, 'metering') or 'unknown') == 'unknown' then
  redis.call('HSET', S, 'metering', 'none')
end
if ARGV[5] == '1' then redis.call('HINCRBY', S, 'refused', 1) end
return 1
`;

/** ARGV: lease ms, then admissions: each still held is held for another lease. */
export const RENEW = `${COMMON}
for i = 2, #ARGV do redis.call('ZADD', E, 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
return 1
`;

/**
 * No ARGV. The state hash as flat pairs, then the calls in flight now and Redis' time: what a person is
 * shown of a shared quota.
 */
export const STATUS = `${COMMON}
local state = redis.call('HGETALL', S)
table.insert(state, 'inflight')
table.insert(state, tostring(redis.call('HLEN', F)))
table.insert(state, 'now')
table.insert(state, tostring(now))
return state
`;
