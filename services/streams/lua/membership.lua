-- The live consumers of one consumer group, for sharing its streams
-- (services/streams/membership.h). Time is the Redis server's, so the
-- consumers' own clocks never matter.
--
-- KEYS[1] the group's members hash: consumer -> expiry (ms, Redis clock)
-- ARGV[1] this consumer
-- ARGV[2] how long it counts as live without another beat (ms); 0 = it
--         leaves now (a clean stop), so the others take its share at once
--
-- Writes this consumer's expiry (or removes it), removes every member past
-- its expiry, and answers the live members' names.
local key = KEYS[1]
local me = ARGV[1]
local ttl = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if ttl > 0 then
  redis.call('HSET', key, me, now + ttl)
else
  redis.call('HDEL', key, me)
end
local live = {}
local all = redis.call('HGETALL', key)
local longest = 0
for i = 1, #all, 2 do
  local expiry = tonumber(all[i + 1]) or 0
  if expiry > now then
    live[#live + 1] = all[i]
    if expiry - now > longest then longest = expiry - now end
  else
    redis.call('HDEL', key, all[i])
  end
end
-- Gone by itself once every member has stopped beating.
if longest > 0 then redis.call('PEXPIRE', key, longest) end
return live
