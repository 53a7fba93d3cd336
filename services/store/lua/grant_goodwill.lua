-- GrantGoodwill, step 2 (the agent's budget is reserved by step 1): in the
-- member's partition, atomically: idempotency, the member's 30-day goodwill
-- budget, the order's ownership and ceiling (money granted against an order
-- never exceeds what was paid), then the refund record (ACCEPTED, settled by
-- the worker like any refund), its creation event, ledger postings, outbox
-- entry, the audit record and the member notification.
-- The refund record is the idempotency record: its id derives from the key's
-- scope, it never expires, and it keeps the grant's fingerprint and answer, so
-- a retry at any later time replays the grant and never makes it again.
-- KEYS[1] member               KEYS[2] member stats
-- KEYS[3] order (any key of the partition when there is no order)
-- KEYS[4] refund record        KEYS[5] refunds by member
-- KEYS[6] refunds by order     KEYS[7] ledger     KEYS[8] ledger balances
-- KEYS[9] outbox               KEYS[10] refund events
-- KEYS[11] goodwill audit stream  KEYS[12] notifications
-- ARGV[1] fingerprint  ARGV[2] now ms  ARGV[3] refund id  ARGV[4] amount
-- ARGV[5] currency  ARGV[6] instrument  ARGV[7] member budget (30 days)
-- ARGV[8] day number  ARGV[9] agent id  ARGV[10] caller (principal)
-- ARGV[11] reason  ARGV[12] note  ARGV[13] order id ('' for none)
-- ARGV[14] refund bytes  ARGV[15] agent budget remaining (for the answer)
-- ARGV[16] member id
-- Returns {'OK', member remaining}
--   | {'REPLAY', refund bytes, agent remaining, member remaining, grant day}
--   | {'REUSED'} | {'NO_MEMBER'} | {'NO_ORDER'} | {'NOT_OWNER'}
--   | {'MEMBER_BUDGET', member remaining} | {'CEILING', refunded, total}
local prior = redis.call('HMGET', KEYS[4], 'pb', 'grant_fp',
  'grant_agent_remaining', 'grant_member_remaining', 'grant_day')
if prior[1] then
  if prior[2] ~= ARGV[1] then return {'REUSED'} end
  return {'REPLAY', prior[1], prior[3], prior[4], prior[5]}
end
if redis.call('HEXISTS', KEYS[1], 'pb') == 0 then return {'NO_MEMBER'} end
local now = ARGV[2]
local amount = tonumber(ARGV[4])
local instrument = ARGV[6]
local money = instrument ~= 'coupon'
local member_id = ARGV[16]

-- The member's goodwill over the last 30 days, one field per day.
local day = tonumber(ARGV[8])
local fields = {}
for d = day - 29, day do table.insert(fields, 'gw:' .. d) end
local used = 0
for _, v in ipairs(redis.call('HMGET', KEYS[2], unpack(fields))) do
  used = used + tonumber(v or '0')
end
local budget = tonumber(ARGV[7])
if used + amount > budget then
  return {'MEMBER_BUDGET', tostring(budget - used)}
end

local payment_ref = ''
if ARGV[13] ~= '' then
  local order = redis.call('HMGET', KEYS[3], 'total_minor', 'refunded_minor',
    'payment_ref', 'member_id')
  if not order[1] then return {'NO_ORDER'} end
  -- Members share partitions: the key alone does not prove whose order it is.
  if order[4] ~= member_id then return {'NOT_OWNER'} end
  local refunded = tonumber(order[2] or '0')
  local order_fields = {}
  if money then
    if refunded + amount > tonumber(order[1]) then
      return {'CEILING', tostring(refunded), order[1]}
    end
    order_fields = {'refunded_minor', tostring(refunded + amount)}
  end
  -- Money moved on the order: its money fields are frozen from now on.
  redis.call('HSET', KEYS[3], 'goodwill', '1', unpack(order_fields))
  payment_ref = order[3] or ARGV[13]
  redis.call('ZADD', KEYS[6], now, ARGV[3])
end
-- Ratings decided before this grant must decide again: the order's remainder
-- and the member's history changed.
redis.call('HINCRBY', KEYS[2], 'ver', 1)

local refund_id = ARGV[3]
redis.call('HSET', KEYS[4], 'pb', ARGV[14], 'state', 'ACCEPTED',
  'amount_minor', ARGV[4], 'currency', ARGV[5], 'instrument', instrument,
  'member_id', member_id, 'order_id', ARGV[13],
  'rating_id', '', 'created_at_ms', now, 'updated_at_ms', now,
  'payment_ref', payment_ref, 'seq', '1', 'state_reason', 'goodwill',
  'goodwill_agent', ARGV[9])
local actor = 'goodwill:' .. ARGV[9]
redis.call('XADD', KEYS[10], '*', 'seq', '1', 'from', '', 'to', 'ACCEPTED',
  'actor', actor, 'reason', 'goodwill:' .. ARGV[11], 'at_ms', now)
redis.call('ZADD', KEYS[5], now, refund_id)
local debit = 'expense:goodwill:' .. instrument .. ':' .. ARGV[5]
local credit = 'payable:member:' .. member_id .. ':' .. instrument .. ':' ..
  ARGV[5]
redis.call('XADD', KEYS[7], '*', 'txn', refund_id, 'kind', 'goodwill_granted',
  'debit', debit, 'credit', credit, 'amount_minor', ARGV[4],
  'currency', ARGV[5], 'at_ms', now)
redis.call('HINCRBY', KEYS[8], debit, amount)
redis.call('HINCRBY', KEYS[8], credit, -amount)
redis.call('XADD', KEYS[9], '*', 'type', 'refund_accepted',
  'refund_id', refund_id, 'member_id', member_id, 'order_id', ARGV[13],
  'amount_minor', ARGV[4], 'currency', ARGV[5], 'instrument', instrument)
redis.call('XADD', KEYS[11], '*', 'grant_id', refund_id, 'agent_id', ARGV[9],
  'caller', ARGV[10], 'member_id', member_id, 'order_id', ARGV[13],
  'amount_minor', ARGV[4], 'currency', ARGV[5], 'instrument', instrument,
  'reason', ARGV[11], 'note', ARGV[12], 'at_ms', now)
redis.call('XADD', KEYS[12], 'MAXLEN', '~', '1000000', '*',
  'kind', 'goodwill_granted', 'member_id', member_id, 'refund_id', refund_id,
  'order_id', ARGV[13], 'amount_minor', ARGV[4], 'currency', ARGV[5],
  'at_ms', now)
redis.call('HINCRBY', KEYS[2], 'gw:' .. day, amount)
local remaining = tostring(budget - used - amount)
-- The answer, kept for replays (the refund's `pb` is the refund as granted).
redis.call('HSET', KEYS[4], 'grant_fp', ARGV[1], 'grant_agent_remaining',
  ARGV[15], 'grant_member_remaining', remaining, 'grant_day', ARGV[8])
return {'OK', remaining}
