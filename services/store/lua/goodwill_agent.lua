-- A support agent's goodwill budget for one day: reserve (idempotently, per
-- grant) or release a reservation. The agent's key lives in a slot of its
-- own, so the grant itself (in the member's partition) is a second step;
-- GoodwillService releases the reservation if that step refuses.
-- KEYS[1] mg:{g<H>}:agent:<agent_id>:<day>
-- ARGV[1] 'reserve' | 'release'  ARGV[2] grant (refund) id  ARGV[3] amount
-- ARGV[4] daily budget  ARGV[5] ttl ms
-- Returns {'NEW' | 'HELD' | 'RELEASED', spent} | {'REFUSED', spent}
local field = 'r:' .. ARGV[2]
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
if ARGV[1] == 'release' then
  local held = redis.call('HGET', KEYS[1], field)
  if held then
    redis.call('HDEL', KEYS[1], field)
    spent = redis.call('HINCRBY', KEYS[1], 'spent', -tonumber(held))
    -- Nothing else reserved: leave no trace of the refused grant.
    if spent == 0 and redis.call('HLEN', KEYS[1]) == 1 then
      redis.call('DEL', KEYS[1])
    end
  end
  return {'RELEASED', tostring(spent)}
end
if redis.call('HEXISTS', KEYS[1], field) == 1 then
  return {'HELD', tostring(spent)}
end
local amount = tonumber(ARGV[3])
if spent + amount > tonumber(ARGV[4]) then
  return {'REFUSED', tostring(spent)}
end
redis.call('HSET', KEYS[1], field, ARGV[3])
spent = redis.call('HINCRBY', KEYS[1], 'spent', amount)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'NEW', tostring(spent)}
