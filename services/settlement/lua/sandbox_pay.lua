-- The sandbox card processor's own books, kept in Redis so they survive any
-- makegood process being killed: per refund id, its answer ('ref:<id>') and
-- how many times money moved ('paid:<id>', which must never exceed 1).
-- KEYS[1] mg:{p<N>}:psp:sandbox
-- ARGV[1] 'pay' | 'decline' | 'lookup'  ARGV[2] refund id  ARGV[3] amount
-- ARGV[4] reference for a new payout  ARGV[5] decline reason
-- Returns {'SUCCEEDED', ref} | {'DECLINED', reason} | {'NOT_FOUND'}
local stored = redis.call('HGET', KEYS[1], 'ref:' .. ARGV[2])
if stored then
  local kind, value = string.match(stored, '^(%a+):(.*)$')
  if kind == 'ok' then return {'SUCCEEDED', value} end
  return {'DECLINED', value}
end
if ARGV[1] == 'lookup' then return {'NOT_FOUND'} end
if ARGV[1] == 'decline' then
  redis.call('HSET', KEYS[1], 'ref:' .. ARGV[2], 'declined:' .. ARGV[5])
  return {'DECLINED', ARGV[5]}
end
redis.call('HSET', KEYS[1], 'ref:' .. ARGV[2], 'ok:' .. ARGV[4],
  'amount:' .. ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'paid:' .. ARGV[2], 1)
return {'SUCCEEDED', ARGV[4]}
