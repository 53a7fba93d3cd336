-- require: refund_creation
-- require: refund_accounts
-- GrantGoodwill, step 2 (the agent's budget is reserved by step 1): in the
-- member's partition, atomically: idempotency, the member's 30-day goodwill
-- budget, the order's ownership and ceiling (money granted against an order
-- never exceeds what was paid), then the refund as every accepted refund is
-- made (lib/refund_creation.lua: the record, ACCEPTED and settled by the
-- worker like any refund, its creation event, ledger postings, outbox entry
-- and the member notification) and the grant's audit record.
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

-- The member's goodwill in this currency over the last 30 days, one field
-- per day ('gw:<CUR>:<day>'); what was granted before currencies
-- ('gw:<day>') counts in every currency.
local day = tonumber(ARGV[8])
local currency = ARGV[5]
local fields = {}
for d = day - 29, day do
  table.insert(fields, 'gw:' .. currency .. ':' .. d)
  table.insert(fields, 'gw:' .. d)
end
local used = 0
for _, v in ipairs(redis.call('HMGET', KEYS[2], unpack(fields))) do
  used = used + tonumber(v or '0')
end
local budget = tonumber(ARGV[7])
if used + amount > budget then
  return {'MEMBER_BUDGET', tostring(budget - used)}
end

local order_id = ARGV[13]
local payment_ref = ''
local order_fields = nil
if order_id ~= '' then
  local order = redis.call('HMGET', KEYS[3], 'total_minor', 'refunded_minor',
    'payment_ref', 'member_id')
  if not order[1] then return {'NO_ORDER'} end
  -- Members share partitions: the key alone does not prove whose order it is.
  if order[4] ~= member_id then return {'NOT_OWNER'} end
  -- Money moved on the order: its money fields are frozen from now on.
  order_fields = {'goodwill', '1'}
  if money then
    local refunded = tonumber(order[2] or '0')
    if order_refund_exceeds(refunded, amount, tonumber(order[1])) then
      return {'CEILING', tostring(refunded), order[1]}
    end
    add_order_refunded(order_fields, refunded, amount)
  end
  payment_ref = order[3] or order_id
end
-- Ratings decided before this grant must decide again: the order's remainder
-- and the member's history changed.
redis.call('HINCRBY', KEYS[2], 'ver', 1)
if order_fields then redis.call('HSET', KEYS[3], unpack(order_fields)) end

local refund_id = ARGV[3]
create_refund({refund = KEYS[4], events = KEYS[10], member_refunds = KEYS[5],
  order_refunds = order_id ~= '' and KEYS[6] or nil, ledger = KEYS[7],
  balances = KEYS[8], outbox = KEYS[9], notifications = KEYS[12]},
  {id = refund_id, pb = ARGV[14], amount = ARGV[4], currency = ARGV[5],
  instrument = instrument, member_id = member_id, order_id = order_id,
  rating_id = '', payment_ref = payment_ref, state_reason = 'goodwill',
  actor = 'goodwill:' .. ARGV[9], reason = 'goodwill:' .. ARGV[11],
  expense = 'goodwill', ledger_kind = 'goodwill_granted',
  notice_kind = 'goodwill_granted', extra = {'goodwill_agent', ARGV[9]}},
  now)
redis.call('XADD', KEYS[11], '*', 'grant_id', refund_id, 'agent_id', ARGV[9],
  'caller', ARGV[10], 'member_id', member_id, 'order_id', ARGV[13],
  'amount_minor', ARGV[4], 'currency', ARGV[5], 'instrument', instrument,
  'reason', ARGV[11], 'note', ARGV[12], 'at_ms', now)
redis.call('HINCRBY', KEYS[2], 'gw:' .. currency .. ':' .. day, amount)
local remaining = tostring(budget - used - amount)
-- The answer, kept for replays (the refund's `pb` is the refund as granted).
redis.call('HSET', KEYS[4], 'grant_fp', ARGV[1], 'grant_agent_remaining',
  ARGV[15], 'grant_member_remaining', remaining, 'grant_day', ARGV[8])
return {'OK', remaining}
