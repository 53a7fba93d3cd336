-- require: refund_accounts
-- require: refund_events
-- Settlement step 1: a worker takes a refund from the outbox.
-- ACCEPTED -> SETTLING (provider chosen and recorded, with the accepted
-- posting's accounts, see lib/refund_accounts.lua). A refund already SETTLING
-- was taken by a worker that died or whose provider answer was lost, and an
-- ACCEPTED refund that already names a provider was sent before (re-driven
-- by an operator from NEEDS_ATTENTION): both are resumed at that provider —
-- the worker must look the payout up before paying again. A final refund
-- needs nothing but the acknowledgement.
-- KEYS[1] refund hash  KEYS[2] refund events  KEYS[3] refund feed
-- ARGV[1] now ms  ARGV[2] card provider name  ARGV[3] actor (worker id)
-- Returns {'MISSING'} | {'FINAL', state}
--       | {'SETTLE' | 'RESUME', provider, amount_minor, currency, instrument,
--          member_id, order_id, payment_ref, attempts, created_at_ms}
local r = redis.call('HMGET', KEYS[1], 'state', 'provider', 'amount_minor',
  'currency', 'instrument', 'member_id', 'order_id', 'payment_ref',
  'attempts', 'created_at_ms', 'ledger_expense')
local state = r[1]
if not state then return {'MISSING'} end
if state ~= 'ACCEPTED' and state ~= 'SETTLING' then return {'FINAL', state} end
local attempts = tostring(tonumber(r[9] or '0') + 1)
local provider = r[2]
local tag = 'RESUME'
if state == 'ACCEPTED' then
  if not r[11] then
    local expense, payable = refund_accounts(KEYS[1])
    redis.call('HSET', KEYS[1], 'ledger_expense', expense,
      'ledger_payable', payable)
  end
  local reason
  if provider and provider ~= '' then
    reason = 'resent_to_' .. provider
  else
    tag = 'SETTLE'
    if r[5] == 'wallet' then provider = 'wallet'
    elseif r[5] == 'coupon' then provider = 'coupon'
    else provider = ARGV[2] end
    reason = 'sent_to_' .. provider
  end
  local refund_id = string.match(KEYS[1], ':refund:(.*)$')
  refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, 'SETTLING',
    ARGV[3], reason, ARGV[1], {'provider', provider, 'attempts', attempts})
else
  redis.call('HSET', KEYS[1], 'attempts', attempts)
end
return {tag, provider, r[3], r[4], r[5], r[6], r[7], r[8] or '', attempts,
  r[10] or '0'}
