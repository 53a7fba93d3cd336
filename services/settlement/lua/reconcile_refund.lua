-- require: refund_events
-- Reconciliation (makegood_admin reconcile --fix): reopens a refund that
-- settlement set aside for an operator (NEEDS_ATTENTION -> SETTLING) once its
-- provider has answered what happened, so that settle_finish.lua — which
-- finishes only SETTLING refunds — records that answer exactly as a worker
-- would (ledger, wallet fallback, order remainder, notification). No money
-- moves here. A refund that was never sent to a provider (dead-lettered while
-- ACCEPTED, so no provider is recorded) is not reopened: nobody can have paid
-- it and nothing is known to record; it is re-driven (redrive_refund.lua).
-- KEYS[1] refund hash  KEYS[2] refund events  KEYS[3] refund feed
-- KEYS[4] attention index
-- ARGV[1] now ms  ARGV[2] actor ("operator:reconcile")  ARGV[3] reason
-- Returns {'REOPENED'} | {'NOT_SENT'} | {'SKIPPED', state} | {'MISSING'}
local r = redis.call('HMGET', KEYS[1], 'state', 'provider')
if not r[1] then return {'MISSING'} end
if r[1] ~= 'NEEDS_ATTENTION' then return {'SKIPPED', r[1]} end
if not r[2] or r[2] == '' then return {'NOT_SENT'} end
local refund_id = string.match(KEYS[1], ':refund:(.*)$')
refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, 'SETTLING',
  ARGV[2], ARGV[3], ARGV[1], {})
redis.call('ZREM', KEYS[4], refund_id)
return {'REOPENED'}
