-- One announce against one swarm, atomically (torrentkit-tracker-server, src/redis/announce.lua).
-- KEYS: 1 seeders (zset: member = peer id .. compact address, scored by the last announce in
--       Unix seconds), 2 leechers (the same),
--       3 peers (hash: peer id -> record), 4 completed (integer). All four share the swarm's hash tag.
-- ARGV: 1 peer id, 2 record (flags byte: bit 0 = has key; key, 4 bytes; compact address),
--       3 seeder (0|1), 4 event (0 none, 1 completed, 2 started, 3 stopped),
--       5 peer timeout (seconds), 6 numwant, 7 the requester is given no seeds (0|1), 8 max peers.
-- Returns {status, seeders, leechers, completed, member, member, ...}; status -1 refuses
-- the announce (the peer id is stored at another IP without a matching key).
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
if event == '1' and not was_seed then
  redis.call('INCR', D)
end
if event == '3' then
  if old then
    redis.call('ZREM', was_seed and S or L, old_member)
    redis.call('HDEL', P, id)
  end
elseif old or redis.call('ZCARD', S) + redis.call('ZCARD', L) < max_peers then
  local member = id .. string.sub(rec, 6)
  if old and (member ~= old_member or was_seed ~= seeder) then
    redis.call('ZREM', was_seed and S or L, old_member)
  end
  redis.call('ZADD', seeder and S or L, now, member)
  if rec ~= old then
    redis.call('HSET', P, id, rec)
  end
end

local ns, nl = redis.call('ZCARD', S), redis.call('ZCARD', L)
local reply = {0, ns, nl, tonumber(redis.call('GET', D) or '0')}
if event == '3' then
  if ns + nl == 0 then
    -- An empty swarm is dropped, as the in-memory store drops it.
    redis.call('DEL', D)
  end
  return reply
end

local function take(z, n)
  if n <= 0 then return end
  -- One more than wanted, in case the requester itself is drawn. Members carry the address, so
  -- no second lookup is needed; expired ones beyond the trim above wait for the sweep.
  local got = redis.call('ZRANDMEMBER', z, n + 1)
  local taken = 0
  for i = 1, #got do
    if taken < n and string.sub(got[i], 1, 20) ~= id then
      reply[#reply + 1] = got[i]
      taken = taken + 1
    end
  end
end
-- Seeders and leechers in proportion to the swarm; seeds get leechers only.
local from_seeds = 0
if not no_seeds and ns > 0 then
  from_seeds = math.min(ns, math.ceil(want * ns / (ns + nl)))
end
take(L, want - from_seeds)
if not no_seeds then
  take(S, want - (#reply - 4))
end
return reply
