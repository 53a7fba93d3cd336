-- Records or corrects a delivered order, atomically, and keeps the member's
-- rolling counters (orders delivered, spend per day) in step.
-- KEYS[1]  order hash (mg:{p<N>}:order:<order_id>)
-- KEYS[2]  member stats hash (mg:{p<N>}:mstats:<member_id>)
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
-- Returns {"CREATED"} | {"UPDATED"} | {"UNCHANGED"}
--       | {"MEMBER_MISMATCH", stored_member_id} | {"MONEY_LOCKED"} (money
--         fields changed on an order that was rated or got goodwill)
local key = KEYS[1]
local stats = KEYS[2]
local stored = redis.call('HMGET', key, 'pb', 'member_id', 'rated', 'money_fp',
  'total_minor', 'delivered_at_ms', 'refunded_minor', 'coupon_minor',
  'goodwill')
local function day(ms) return tostring(math.floor(tonumber(ms) / 86400000)) end
local function write()
  redis.call('HSET', key,
    'member_id', ARGV[1], 'pb', ARGV[2], 'money_fp', ARGV[3],
    'currency', ARGV[4], 'total_minor', ARGV[5],
    'delivery_fee_minor', ARGV[6], 'delivered_at_ms', ARGV[7],
    'updated_at_ms', ARGV[8], 'line_ids', ARGV[9], 'payment_ref', ARGV[10])
  redis.call('HINCRBY', stats, 'sp:' .. day(ARGV[7]), ARGV[5])
  -- Ratings in flight decided on the old order: make their commit retry.
  redis.call('HINCRBY', stats, 'ver', 1)
end
if not stored[1] then
  write()
  redis.call('HSET', key, 'created_at_ms', ARGV[8], 'rated', '0',
    'refunded_minor', '0')
  redis.call('HINCRBY', stats, 'delivered_orders', 1)
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
redis.call('HINCRBY', stats, 'sp:' .. day(stored[6]), -tonumber(stored[5]))
write()
return {'UPDATED'}
