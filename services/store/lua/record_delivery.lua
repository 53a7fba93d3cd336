-- require: troubles
-- Records or corrects a delivered order, atomically, and keeps the member's
-- rolling counters (orders delivered, spend per currency and day), the
-- partition's index of open orders and the member's troubles (a new order
-- is a reorder for every open retention window it falls into) in step.
-- KEYS[1]  order hash (mg:{p<N>}:order:<order_id>)
-- KEYS[2]  member stats hash (mg:{p<N>}:mstats:<member_id>)
-- KEYS[3]  open orders (mg:{p<N>}:open_orders): "<CUR>:<order_id>" of
--          unrated orders scored by the end of their rating window
-- KEYS[4]  the member's troubles (mg:{p<N>}:troubles:<member_id>)
-- ARGV[1]  member_id
-- ARGV[2]  Order protobuf, deterministic serialization
-- ARGV[3]  money fingerprint (currency, total, fee, line quantities/amounts)
-- ARGV[4]  currency
-- ARGV[5]  total_minor
-- ARGV[6]  delivery_fee_minor
-- ARGV[7]  delivered_at, unix ms
-- ARGV[8]  now, unix ms
-- ARGV[9]  line ids, space separated
-- ARGV[10] payment reference card refunds are made against
-- ARGV[11] end of the order's rating window, unix ms  ARGV[12] order id
-- ARGV[13] a retention day in ms (86400000 but in simulations)
-- The spend of an order counts in 'sp:<CUR>:<day>', a field the order hash
-- names in 'spend_field' (orders recorded before currencies counted in
-- 'sp:<day>', which a correction takes the old total back from).
-- Returns {"CREATED"} | {"UPDATED"} | {"UNCHANGED"}
--       | {"MEMBER_MISMATCH", stored_member_id} | {"MONEY_LOCKED"} (money
--         fields changed on an order that was rated or got goodwill)
local key = KEYS[1]
local stats = KEYS[2]
local open = KEYS[3]
local stored = redis.call('HMGET', key, 'pb', 'member_id', 'rated', 'money_fp',
  'total_minor', 'delivered_at_ms', 'refunded_minor', 'coupon_minor',
  'goodwill', 'currency', 'spend_field')
local order_id = ARGV[12]
local function day(ms) return tostring(math.floor(tonumber(ms) / 86400000)) end
local function write()
  local spend_field = 'sp:' .. ARGV[4] .. ':' .. day(ARGV[7])
  redis.call('HSET', key,
    'member_id', ARGV[1], 'pb', ARGV[2], 'money_fp', ARGV[3],
    'currency', ARGV[4], 'total_minor', ARGV[5],
    'delivery_fee_minor', ARGV[6], 'delivered_at_ms', ARGV[7],
    'updated_at_ms', ARGV[8], 'line_ids', ARGV[9], 'payment_ref', ARGV[10],
    'spend_field', spend_field)
  redis.call('HINCRBY', stats, spend_field, ARGV[5])
  -- Ratings in flight decided on the old order: make their commit retry.
  redis.call('HINCRBY', stats, 'ver', 1)
  -- The open orders index: an unrated order is open until its window ends.
  if stored[10] and stored[10] ~= ARGV[4] then
    redis.call('ZREM', open, stored[10] .. ':' .. order_id)
  end
  if stored[3] ~= '1' and tonumber(ARGV[11]) >= tonumber(ARGV[8]) then
    redis.call('ZADD', open, ARGV[11], ARGV[4] .. ':' .. order_id)
  elseif stored[3] ~= '1' then
    redis.call('ZREM', open, ARGV[4] .. ':' .. order_id)
  end
  redis.call('ZREMRANGEBYSCORE', open, '-inf', '(' .. ARGV[8])
end
if not stored[1] then
  write()
  redis.call('HSET', key, 'created_at_ms', ARGV[8], 'rated', '0',
    'refunded_minor', '0')
  redis.call('HINCRBY', stats, 'delivered_orders', 1)
  -- Only a new order is a reorder: a correction is the same order.
  local troubles = redis.call('HGETALL', KEYS[4])
  if #troubles > 0 then
    note_reorder(KEYS[4], troubles, tonumber(ARGV[7]), ARGV[4],
      tonumber(ARGV[5]), tonumber(ARGV[13]))
  end
  return {'CREATED'}
end
if stored[1] == ARGV[2] then
  return {'UNCHANGED'}
end
if stored[2] ~= ARGV[1] then
  return {'MEMBER_MISMATCH', stored[2]}
end
-- Once the order is rated or any money or grant moved on it (by a rating or
-- goodwill), its money fields are frozen: refunds were sized against them.
local money_moved = stored[3] == '1' or tonumber(stored[7] or '0') > 0 or
  tonumber(stored[8] or '0') > 0 or stored[9] ~= false
if money_moved and stored[4] ~= ARGV[3] then
  return {'MONEY_LOCKED'}
end
redis.call('HINCRBY', stats, stored[11] or ('sp:' .. day(stored[6])),
  -tonumber(stored[5]))
write()
return {'UPDATED'}
