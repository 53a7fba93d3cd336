-- GrantGoodwill, step 2 (the agent's budget is reserved by step 1): in the
-- member's partition, atomically: idempotency, the member's 30-day goodwill
-- budget, the order's ceiling (money granted against an order never exceeds
-- what was paid), then the refund record (ACCEPTED, settled by the worker
-- like any refund), its creation event, ledger postings, outbox entry, the
-- audit record and the member notification.
-- KEYS[1] idempotency record   KEYS[2] member     KEYS[3] member stats
-- KEYS[4] order (any key of the partition when there is no order)
-- KEYS[5] refund record        KEYS[6] refunds by member
-- KEYS[7] refunds by order     KEYS[8] ledger     KEYS[9] ledger balances
-- KEYS[10] outbox              KEYS[11] refund events
-- KEYS[12] goodwill audit stream  KEYS[13] notifications
-- ARGV[1] fingerprint  ARGV[2] now ms  ARGV[3] idempotency ttl ms
-- ARGV[4] refund id  ARGV[5] amount  ARGV[6] currency  ARGV[7] instrument
-- ARGV[8] member budget (30 days)  ARGV[9] day number  ARGV[10] agent id
-- ARGV[11] caller (principal)  ARGV[12] reason  ARGV[13] note
-- ARGV[14] order id ('' for none)  ARGV[15] refund bytes
-- ARGV[16] agent budget remaining (for the stored answer)
-- Returns {'OK', member remaining} | {'REPLAY', refund bytes, agent remaining,
--   member remaining} | {'REUSED'} | {'NO_MEMBER'} | {'NO_ORDER'}
--   | {'MEMBER_BUDGET', member remaining} | {'CEILING', refunded, total}
local idem = redis.call('HMGET', KEYS[1], 'state', 'fp', 'refund',
  'agent_remaining', 'member_remaining')
if idem[1] == 'done' then
  if idem[2] ~= ARGV[1] then return {'REUSED'} end
  return {'REPLAY', idem[3], idem[4], idem[5]}
end
if redis.call('HEXISTS', KEYS[2], 'pb') == 0 then return {'NO_MEMBER'} end
local now = ARGV[2]
local amount = tonumber(ARGV[5])
local instrument = ARGV[7]
local money = instrument ~= 'coupon'

-- The member's goodwill over the last 30 days, one field per day.
local day = tonumber(ARGV[9])
local fields = {}
for d = day - 29, day do table.insert(fields, 'gw:' .. d) end
local used = 0
for _, v in ipairs(redis.call('HMGET', KEYS[3], unpack(fields))) do
  used = used + tonumber(v or '0')
end
local budget = tonumber(ARGV[8])
if used + amount > budget then
  return {'MEMBER_BUDGET', tostring(budget - used)}
end

local payment_ref = ''
if ARGV[14] ~= '' then
  local order = redis.call('HMGET', KEYS[4], 'total_minor', 'refunded_minor',
    'payment_ref')
  if not order[1] then return {'NO_ORDER'} end
  local refunded = tonumber(order[2] or '0')
  if money then
    if refunded + amount > tonumber(order[1]) then
      return {'CEILING', tostring(refunded), order[1]}
    end
    redis.call('HSET', KEYS[4], 'refunded_minor', tostring(refunded + amount))
  end
  payment_ref = order[3] or ARGV[14]
  redis.call('ZADD', KEYS[7], now, ARGV[4])
end

local refund_id = ARGV[4]
redis.call('HSET', KEYS[5], 'pb', ARGV[15], 'state', 'ACCEPTED',
  'amount_minor', ARGV[5], 'currency', ARGV[6], 'instrument', instrument,
  'member_id', string.match(KEYS[2], ':member:(.*)$'), 'order_id', ARGV[14],
  'rating_id', '', 'created_at_ms', now, 'updated_at_ms', now,
  'payment_ref', payment_ref, 'seq', '1', 'state_reason', 'goodwill',
  'goodwill_agent', ARGV[10])
local member_id = string.match(KEYS[2], ':member:(.*)$')
local actor = 'goodwill:' .. ARGV[10]
redis.call('XADD', KEYS[11], '*', 'seq', '1', 'from', '', 'to', 'ACCEPTED',
  'actor', actor, 'reason', 'goodwill:' .. ARGV[12], 'at_ms', now)
redis.call('ZADD', KEYS[6], now, refund_id)
local debit = 'expense:goodwill:' .. instrument .. ':' .. ARGV[6]
local credit = 'payable:member:' .. member_id .. ':' .. instrument .. ':' ..
  ARGV[6]
redis.call('XADD', KEYS[8], '*', 'txn', refund_id, 'kind', 'goodwill_granted',
  'debit', debit, 'credit', credit, 'amount_minor', ARGV[5],
  'currency', ARGV[6], 'at_ms', now)
redis.call('HINCRBY', KEYS[9], debit, amount)
redis.call('HINCRBY', KEYS[9], credit, -amount)
redis.call('XADD', KEYS[10], '*', 'type', 'refund_accepted',
  'refund_id', refund_id, 'member_id', member_id, 'order_id', ARGV[14],
  'amount_minor', ARGV[5], 'currency', ARGV[6], 'instrument', instrument)
redis.call('XADD', KEYS[12], '*', 'grant_id', refund_id, 'agent_id', ARGV[10],
  'caller', ARGV[11], 'member_id', member_id, 'order_id', ARGV[14],
  'amount_minor', ARGV[5], 'currency', ARGV[6], 'instrument', instrument,
  'reason', ARGV[12], 'note', ARGV[13], 'at_ms', now)
redis.call('XADD', KEYS[13], 'MAXLEN', '~', '1000000', '*',
  'kind', 'goodwill_granted', 'member_id', member_id, 'refund_id', refund_id,
  'order_id', ARGV[14], 'amount_minor', ARGV[5], 'currency', ARGV[6],
  'at_ms', now)
redis.call('HINCRBY', KEYS[3], 'gw:' .. day, amount)
local remaining = tostring(budget - used - amount)
redis.call('HSET', KEYS[1], 'state', 'done', 'fp', ARGV[1], 'refund',
  ARGV[15], 'agent_remaining', ARGV[16], 'member_remaining', remaining)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'OK', remaining}
