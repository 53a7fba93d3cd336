-- require: feedback_reversal
-- require: refund_reversal
-- require: refund_accounts
-- require: refund_events
-- A correction: an operator marks a refund's claim as abusive. Reverses the
-- courier/store feedback the claim caused (lib/feedback_reversal.lua: each
-- item once, so not again if an upheld appeal reversed it first), counts
-- against the member's trust (the 'abuse' counter becomes the derived flag
-- "confirmed_abuse"; the stats version is bumped so ratings in flight decide
-- again), and with reverse_refund takes back a paid wallet credit or coupon
-- (SUCCEEDED -> REVERSED, the reversing posting against the accepted
-- posting's accounts).
-- A refund not paid yet (ACCEPTED, SETTLING, NEEDS_ATTENTION) is marked
-- reverse_pending and reversed by settle_finish.lua once it succeeds as
-- wallet credit or coupon. Marking again changes nothing.
-- KEYS[1] refund hash   KEYS[2] refund events  KEYS[3] refund feed
-- KEYS[4] rating hash   KEYS[5] feedback stream  KEYS[6] member stats
-- KEYS[7] ledger stream KEYS[8] ledger balances  KEYS[9] member wallet
-- KEYS[10] the partition's experiment arm tallies (a refund granted in an
--          experiment's arm counts against that arm's abuse guardrail)
-- ARGV[1] now ms  ARGV[2] actor ("operator:<id>")  ARGV[3] reason
-- ARGV[4] 1 to reverse a paid wallet credit / coupon
-- Returns {'MISSING'} | {'ALREADY'}
--       | {'OK', feedback reversed, reversed 0/1, reversal pending 0/1}
local r = redis.call('HMGET', KEYS[1], 'state', 'abusive', 'rating_id',
  'member_id', 'order_id', 'amount_minor', 'currency', 'provider',
  'instrument', 'arm')
if not r[1] then return {'MISSING'} end
if r[2] == '1' then return {'ALREADY'} end
local now = ARGV[1]
if r[10] and r[10] ~= '' then
  redis.call('HINCRBY', KEYS[10], r[10] .. '\tabuse', 1)
  redis.call('HINCRBY', KEYS[10],
    r[10] .. '\tabuse_minor:' .. (r[7] or ''), tonumber(r[6] or '0'))
end
local refund_id = string.match(KEYS[1], ':refund:(.*)$')
redis.call('HSET', KEYS[1], 'abusive', '1', 'abusive_reason', ARGV[3],
  'abusive_by', ARGV[2], 'abusive_at_ms', now)

local reversed_feedback = 0
each_feedback(redis.call('HGET', KEYS[4], 'feedback'),
  function(kind, target, appeal)
    -- An item an upheld appeal reversed already stays reversed once.
    if reverse_feedback(KEYS[4], KEYS[5], kind, target, appeal, r[5] or '',
        r[3] or '', 'claim_abusive', now) then
      reversed_feedback = reversed_feedback + 1
    end
  end)
redis.call('HINCRBY', KEYS[6], 'abuse', 1)
redis.call('HINCRBY', KEYS[6], 'ver', 1)

local reversed = 0
local pending = 0
if ARGV[4] == '1' and r[1] == 'SUCCEEDED' and
   (r[8] == 'wallet' or r[8] == 'coupon') then
  reverse_paid_refund({refund = KEYS[1], events = KEYS[2], feed = KEYS[3],
    ledger = KEYS[7], balances = KEYS[8], wallet = KEYS[9]}, refund_id,
    ARGV[2], ARGV[3], now)
  reversed = 1
elseif ARGV[4] == '1' and (r[1] == 'ACCEPTED' or r[1] == 'SETTLING' or
    r[1] == 'NEEDS_ATTENTION') then
  -- Not paid yet: settle_finish.lua reverses it the moment it succeeds as
  -- wallet credit or coupon (and forgets it if it fails or is a card
  -- refund, which cannot be pulled back).
  redis.call('HSET', KEYS[1], 'reverse_pending', '1')
  refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, r[1], ARGV[2],
    'marked_abusive_reversal_pending:' .. ARGV[3], now, {})
  pending = 1
else
  -- Audited on the refund's trail even when its state stays.
  refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, r[1], ARGV[2],
    'marked_abusive:' .. ARGV[3], now, {})
end
return {'OK', tostring(reversed_feedback), tostring(reversed),
  tostring(pending)}
