-- Removes a swarm from the index of swarms if no announce has touched it within the peer timeout
-- (torrentkit-tracker-server, src/redis/forget.lua): an announce since then has raised its score.
-- KEYS: 1 the index (zset: info-hash hex -> last announce, Unix seconds).
-- ARGV: 1 info-hash hex, 2 peer timeout (seconds). Returns 1 when removed.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local cutoff = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[2])
if score and tonumber(score) <= cutoff then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
