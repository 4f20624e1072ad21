-- One announce against one swarm, atomically (torrentkit-tracker-server, src/redis/announce.lua).
-- KEYS: 1 seeders (zset: member = peer id .. compact address, scored by the last announce in
--       Unix seconds), 2 leechers (the same),
--       3 peers (hash: peer id -> record), 4 completed (integer). All four share the swarm's hash tag.
-- ARGV: 1 peer id, 2 record (flags byte: bit 0 = has key; key, 4 bytes; compact address),
--       3 seeder (0|1), 4 event (0 none, 1 completed, 2 started, 3 stopped),
--       5 peer timeout (seconds), 6 max peers, 7 drop expired peers first (0|1).
-- Returns {status, seeders, leechers, completed}; status -1 refuses the announce (the peer id is
-- stored at another IP without a matching key). The peers given to the requester are not drawn
-- here: the tracker reads them with plain ZRANGE calls after this script, in the same pipeline
-- (src/redis/draw.rs), since every member a script touches costs Redis a Lua string.
-- Redis works per call and per Lua string: each call here is one the announce needs, and the
-- counts are read once and adjusted.
local S, L, P, D = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, rec = ARGV[1], ARGV[2]
local seeder, event = ARGV[3] == '1', ARGV[4]
-- Redis's clock, not the tracker's: every tracker on this Redis ages peers alike. Kept as the
-- string TIME gives: a Lua number would be formatted again for ZADD (and parsed by Redis).
local now = redis.call('TIME')[1]
local max_peers = tonumber(ARGV[6])

-- Expiry by score, when the tracker asks (about once a second per swarm and tracker), a bounded
-- number (the periodic sweep takes the rest).
if ARGV[7] == '1' then
  local cutoff = tonumber(now) - tonumber(ARGV[5])
  for _, z in ipairs({S, L}) do
    local old = redis.call('ZRANGEBYSCORE', z, '-inf', cutoff, 'LIMIT', 0, 256)
    if #old > 0 then
      redis.call('ZREM', z, unpack(old))
      local ids = {}
      for i, m in ipairs(old) do ids[i] = string.sub(m, 1, 20) end
      redis.call('HDEL', P, unpack(ids))
    end
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
