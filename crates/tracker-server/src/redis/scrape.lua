-- The counts of one swarm, after dropping its expired peers (torrentkit-tracker-server,
-- src/redis/scrape.lua). Used by scrapes, the pages and the periodic sweep.
-- KEYS: 1 seeders, 2 leechers, 3 peers, 4 completed (as in announce.lua).
-- ARGV: 1 peer timeout (seconds), 2 the most peers dropped per zset, 3 drop the swarm when empty (0|1).
-- Returns {seeders, leechers, completed}.
local S, L, P, D = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cutoff = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])
for _, z in ipairs({S, L}) do
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', cutoff, 'LIMIT', 0, tonumber(ARGV[2]))
  if #old > 0 then
    redis.call('ZREM', z, unpack(old))
    local ids = {}
    for i, m in ipairs(old) do ids[i] = string.sub(m, 1, 20) end
    redis.call('HDEL', P, unpack(ids))
  end
end
local ns, nl = redis.call('ZCARD', S), redis.call('ZCARD', L)
if ARGV[3] == '1' and ns + nl == 0 then
  redis.call('DEL', D, P)
  return {0, 0, 0}
end
return {ns, nl, tonumber(redis.call('GET', D) or '0')}
