-- require: refund_reversal
-- require: refund_accounts
-- require: wallet
-- require: refund_events
-- Settlement step 2: records a provider's answer and acknowledges the outbox
-- entry in one atomic step. An entry is acknowledged only when its work is
-- final: its refund reached a final state now, or already was final (a
-- duplicate or stale entry: acknowledged, nothing changed), or it was set
-- aside for an operator (dead letter + NEEDS_ATTENTION). An answer for a
-- refund that is not SETTLING (ACCEPTED again: re-driven, or the SETTLING
-- write was lost) records nothing and leaves the entry pending; its retry
-- begins the refund again (never paying twice: the refund id is the
-- provider's idempotency key, and a refund naming its provider is looked up
-- there first).
-- A refund marked abusive with a reversal while in flight (reverse_pending,
-- mark_abusive.lua) is reversed here as soon as it succeeds as wallet credit
-- or coupon: SUCCEEDED, then REVERSED, in the same step.
-- KEYS[1] refund hash      KEYS[2] refund events   KEYS[3] refund feed
-- KEYS[4] outbox stream    KEYS[5] ledger stream   KEYS[6] ledger balances
-- KEYS[7] order hash       KEYS[8] member wallet   KEYS[9] notifications
-- KEYS[10] dead letters    KEYS[11] tasks          KEYS[12] attention index
-- ARGV[1] now ms
-- ARGV[2] 'succeeded' | 'declined' | 'attention' | 'ack'
-- ARGV[3] provider reference  ARGV[4] reason  ARGV[5] outbox entry id ('')
-- ARGV[6] consumer group  ARGV[7] fallback for declined card refunds
--         ('wallet' or '')  ARGV[8] actor  ARGV[9] deliveries so far
-- ARGV[10] the outbox entry, flattened, for the dead-letter stream
-- Returns {'DONE', state[, 'REVERSED']} | {'ALREADY', state}
--       | {'NOT_FINAL', state} | {'DEAD'} | {'MISSING'}
local now = ARGV[1]
local result = ARGV[2]
local function ack()
  if ARGV[5] ~= '' then
    redis.call('XACK', KEYS[4], ARGV[6], ARGV[5])
    redis.call('XDEL', KEYS[4], ARGV[5])
  end
end
local function dead_letter(refund_id)
  redis.call('XADD', KEYS[10], '*', 'entry_id', ARGV[5],
    'refund_id', refund_id, 'reason', ARGV[4], 'deliveries', ARGV[9],
    'entry', ARGV[10], 'at_ms', now)
end

local r = redis.call('HMGET', KEYS[1], 'state', 'amount_minor', 'currency',
  'instrument', 'member_id', 'order_id', 'provider', 'reverse_pending',
  'abusive_by', 'abusive_reason')
local state = r[1]
local refund_id = string.match(KEYS[1], ':refund:(.*)$')
if not state then
  -- A poison entry: its refund does not exist.
  if result == 'attention' then
    dead_letter(refund_id)
    ack()
    return {'DEAD'}
  end
  return {'MISSING'}
end
if state ~= 'ACCEPTED' and state ~= 'SETTLING' then
  -- Final already: this entry is a duplicate or stale; nothing changes.
  ack()
  return {'ALREADY', state}
end
if result == 'ack' or (result ~= 'attention' and state ~= 'SETTLING') then
  return {'NOT_FINAL', state}
end

local amount = tonumber(r[2])
local currency, instrument, member_id = r[3], r[4], r[5]
local expense, payable = refund_accounts(KEYS[1])
local function post(kind, debit, credit)
  redis.call('XADD', KEYS[5], '*', 'txn', refund_id, 'kind', kind,
    'debit', debit, 'credit', credit, 'amount_minor', r[2],
    'currency', currency, 'at_ms', now)
  redis.call('HINCRBY', KEYS[6], debit, amount)
  redis.call('HINCRBY', KEYS[6], credit, -amount)
end
local function notify(kind)
  redis.call('XADD', KEYS[9], 'MAXLEN', '~', '1000000', '*', 'kind', kind,
    'member_id', member_id, 'refund_id', refund_id, 'order_id', r[6],
    'amount_minor', r[2], 'currency', currency, 'at_ms', now)
end
local function account_of(provider)
  if provider == 'wallet' then
    return 'wallet:member:' .. member_id .. ':' .. currency
  elseif provider == 'coupon' then
    return 'coupons:member:' .. member_id .. ':' .. currency
  end
  return 'clearing:' .. provider .. ':' .. currency
end
-- Settled: a reversal asked for while it was in flight happens now.
local function succeeded(provider)
  ack()
  if r[8] ~= '1' then return {'DONE', 'SUCCEEDED'} end
  redis.call('HDEL', KEYS[1], 'reverse_pending')
  if provider ~= 'wallet' and provider ~= 'coupon' then
    return {'DONE', 'SUCCEEDED'}  -- A card refund cannot be pulled back.
  end
  reverse_paid_refund({refund = KEYS[1], events = KEYS[2], feed = KEYS[3],
    ledger = KEYS[5], balances = KEYS[6], wallet = KEYS[8]}, refund_id,
    r[9] or 'operator:unknown', r[10] or '', now)
  return {'DONE', 'SUCCEEDED', 'REVERSED'}
end

if result == 'succeeded' then
  post('refund_settled', payable, account_of(r[7]))
  refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, 'SUCCEEDED',
    ARGV[8], ARGV[4], now, {'provider_ref', ARGV[3]})
  notify('refund_succeeded')
  return succeeded(r[7])
end

if result == 'declined' then
  if ARGV[7] == 'wallet' and instrument == 'original_payment' then
    -- Fallback by policy: the card refund became wallet credit.
    local ref = wallet_credit(KEYS[8], 'wallet', refund_id, currency, r[2])
    post('refund_settled_fallback', payable, account_of('wallet'))
    refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, 'SUCCEEDED',
      ARGV[8], 'fallback_wallet:' .. ARGV[4], now,
      {'provider_ref', ref, 'provider', 'wallet', 'instrument', 'wallet',
       'declined_by', r[7]})
    notify('refund_succeeded_as_wallet_credit')
    return succeeded('wallet')
  end
  -- Nothing was paid: the accepted posting is reversed and the order's
  -- refundable remainder restored (a goodwill grant may have no order).
  post('refund_failed', payable, expense)
  if instrument ~= 'coupon' and r[6] and r[6] ~= '' then
    local refunded = tonumber(redis.call('HGET', KEYS[7], 'refunded_minor')
      or '0')
    local left = refunded - amount
    if left < 0 then left = 0 end
    redis.call('HSET', KEYS[7], 'refunded_minor', tostring(left))
  end
  redis.call('HDEL', KEYS[1], 'reverse_pending')
  refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, 'FAILED',
    ARGV[8], ARGV[4], now, {})
  notify('refund_failed')
  ack()
  return {'DONE', 'FAILED'}
end

-- 'attention': the outcome could not be settled or confirmed in time. The
-- money stays payable; an operator lists it (attention index, scored by
-- when it was set aside) and re-drives or reconciles it.
refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, 'NEEDS_ATTENTION',
  ARGV[8], ARGV[4], now, {})
redis.call('ZADD', KEYS[12], now, refund_id)
dead_letter(refund_id)
redis.call('XADD', KEYS[11], 'MAXLEN', '~', '1000000', '*',
  'kind', 'settlement_attention', 'refund_id', refund_id,
  'member_id', member_id, 'order_id', r[6], 'reason', ARGV[4], 'at_ms', now)
ack()
return {'DONE', 'NEEDS_ATTENTION'}
