-- Marks a swarm as announced to now, on Redis's clock, in the index of swarms
-- (torrentkit-tracker-server, src/redis/touch.lua). KEYS: 1 the index. ARGV: 1 info-hash hex.
return redis.call('ZADD', KEYS[1], redis.call('TIME')[1], ARGV[1])
