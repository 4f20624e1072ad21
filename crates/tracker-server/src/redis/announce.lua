-- One announce against one swarm, atomically (torrentkit-tracker-server, src/redis/announce.lua).
-- KEYS: 1 seeders (zset: member = peer id .. compact address, scored by the last announce in
--       Unix seconds), 2 leechers (the same),
--       3 peers (hash: peer id -> record), 4 completed (integer). All four share the swarm's hash tag.
-- ARGV: 1 peer id, 2 record (flags byte: bit 0 = has key; key, 4 bytes; compact address),
--       3 seeder (0|1), 4 event (0 none, 1 completed, 2 started, 3 stopped),
--       5 peer timeout (seconds), 6 numwant, 7 the requester is given no seeds (0|1), 8 max peers.
-- Returns {status, seeders, leechers, completed, peers...}; status -1 refuses the announce (the
-- peer id is stored at another IP without a matching key). The peers come as pairs: a member
-- size (26 = all IPv4, 38 = all IPv6) and the members concatenated, or 0 and an array of members
-- (mixed families). Each zset gives at most one pair. A peer that announced before may be among
-- them (the tracker skips it); the draw happens before this announce is added, so a new one never is.
-- Redis works per call and per Lua string: each call here is one the announce needs, the counts
-- are read once and adjusted, and the members go back without being cut apart in Lua.
local S, L, P, D = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, rec = ARGV[1], ARGV[2]
local seeder, event = ARGV[3] == '1', ARGV[4]
-- Redis's clock, not the tracker's: every tracker on this Redis ages peers alike.
local now = tonumber(redis.call('TIME')[1])
local cutoff = now - tonumber(ARGV[5])
local want, no_seeds, max_peers = tonumber(ARGV[6]), ARGV[7] == '1', tonumber(ARGV[8])

-- Expiry by score, a bounded number per announce (the periodic sweep takes the rest).
for _, z in ipairs({S, L}) do
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', cutoff, 'LIMIT', 0, 64)
  if #old > 0 then
    redis.call('ZREM', z, unpack(old))
    local ids = {}
    for i, m in ipairs(old) do ids[i] = string.sub(m, 1, 20) end
    redis.call('HDEL', P, unpack(ids))
  end
end

local old = redis.call('HGET', P, id)
local was_seed, old_member = false, nil
if old then
  -- The identity rule of the in-memory store: another IP may change the peer only with its key.
  if string.sub(old, 6, -3) ~= string.sub(rec, 6, -3) then
    local keyed = string.byte(old, 1) % 2 == 1 and string.byte(rec, 1) % 2 == 1
    if not (keyed and string.sub(old, 2, 5) == string.sub(rec, 2, 5)) then
      return {-1}
    end
  end
  old_member = id .. string.sub(old, 6)
  was_seed = redis.call('ZSCORE', S, old_member) ~= false
  if string.byte(rec, 1) % 2 == 0 then
    -- An announce without a key keeps the stored one.
    rec = string.sub(old, 1, 5) .. string.sub(rec, 6)
  end
end

local ns, nl = redis.call('ZCARD', S), redis.call('ZCARD', L)
local completed
if event == '1' and not was_seed then
  completed = redis.call('INCR', D)
else
  completed = tonumber(redis.call('GET', D) or '0')
end
local reply = {0, 0, 0, completed}

-- Peers are drawn before this announce changes the swarm, in proportion to it; seeds get
-- leechers only. The requester is in the draw only if it announced before: one more is drawn.
local function take(z, size, n)
  if n <= 0 or size == 0 then return 0 end
  local got
  if n >= size then
    got = redis.call('ZRANGE', z, 0, -1)
  else
    -- n consecutive peers (by announce time, wrapping round) from one drawn with ZRANDMEMBER,
    -- as opentracker takes a run from a random start: each peer is in with chance n / size.
    -- `ZRANDMEMBER z n` would copy the whole set into a temporary dict and sample it (Redis
    -- 7.0), which costs Redis more than the rest of the announce together.
    local r = redis.call('ZRANK', z, redis.call('ZRANDMEMBER', z))
    got = redis.call('ZRANGE', z, r, r + n - 1)
    if r + n > size then
      local rest = redis.call('ZRANGE', z, 0, r + n - 1 - size)
      for i = 1, #rest do got[#got + 1] = rest[i] end
    end
  end
  local joined = table.concat(got)
  -- 26 * a + 38 * b equals 26 * (a + b) only when b = 0, and 38 * (a + b) only when a = 0.
  if #joined == 26 * #got then
    reply[#reply + 1] = 26
    reply[#reply + 1] = joined
  elseif #joined == 38 * #got then
    reply[#reply + 1] = 38
    reply[#reply + 1] = joined
  else
    reply[#reply + 1] = 0
    reply[#reply + 1] = got
  end
  return #got
end
if event ~= '3' then
  local extra = old and 1 or 0
  local from_seeds = 0
  if not no_seeds and ns > 0 then
    from_seeds = math.min(ns, math.ceil(want * ns / (ns + nl)))
  end
  local taken = take(L, nl, want - from_seeds + extra)
  if not no_seeds then
    take(S, ns, want + extra - taken)
  end
end

if event == '3' then
  if old then
    -- ZREM answers how many it removed (0 for a record whose member expired meanwhile).
    local gone = redis.call('ZREM', was_seed and S or L, old_member)
    redis.call('HDEL', P, id)
    if was_seed then ns = ns - gone else nl = nl - gone end
  end
elseif old or ns + nl < max_peers then
  local member = id .. string.sub(rec, 6)
  if old and (member ~= old_member or was_seed ~= seeder) then
    local gone = redis.call('ZREM', was_seed and S or L, old_member)
    if was_seed then ns = ns - gone else nl = nl - gone end
  end
  -- ZADD answers how many members it added: 0 when the member only got a new score.
  local added = redis.call('ZADD', seeder and S or L, now, member)
  if seeder then ns = ns + added else nl = nl + added end
  if rec ~= old then
    redis.call('HSET', P, id, rec)
  end
end
reply[2], reply[3] = ns, nl
if event == '3' and ns + nl == 0 then
  -- An empty swarm is dropped, as the in-memory store drops it.
  redis.call('DEL', D)
end
return reply
