-- require: refund_events
-- A correction: an operator marks a refund's claim as abusive. Reverses the
-- courier/store feedback the claim caused, counts against the member's trust
-- (the 'abuse' counter becomes the derived flag "confirmed_abuse"; the stats
-- version is bumped so ratings in flight decide again), and with
-- reverse_refund takes back a paid wallet credit or coupon (SUCCEEDED ->
-- REVERSED, ledger reversed). Marking again changes nothing.
-- KEYS[1] refund hash   KEYS[2] refund events  KEYS[3] refund feed
-- KEYS[4] rating hash   KEYS[5] feedback stream  KEYS[6] member stats
-- KEYS[7] ledger stream KEYS[8] ledger balances  KEYS[9] member wallet
-- ARGV[1] now ms  ARGV[2] actor ("operator:<id>")  ARGV[3] reason
-- ARGV[4] 1 to reverse a paid wallet credit / coupon
-- Returns {'MISSING'} | {'ALREADY'} | {'OK', feedback reversed, reversed 0/1}
local r = redis.call('HMGET', KEYS[1], 'state', 'abusive', 'rating_id',
  'member_id', 'order_id', 'amount_minor', 'currency', 'provider',
  'instrument')
if not r[1] then return {'MISSING'} end
if r[2] == '1' then return {'ALREADY'} end
local now = ARGV[1]
local refund_id = string.match(KEYS[1], ':refund:(.*)$')
redis.call('HSET', KEYS[1], 'abusive', '1', 'abusive_reason', ARGV[3],
  'abusive_by', ARGV[2], 'abusive_at_ms', now)

local reversed_feedback = 0
local feedback = redis.call('HGET', KEYS[4], 'feedback') or ''
for item in string.gmatch(feedback, '%S+') do
  local kind, target, appeal = string.match(item, '^([^|]*)|([^|]*)|(.*)$')
  if kind then
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', '1000000', '*',
      'kind', 'feedback_reversed', 'reversed_kind', kind,
      'appeal_id', appeal, 'target_id', target, 'order_id', r[5] or '',
      'rating_id', r[3] or '', 'reason_codes', 'claim_abusive',
      'at_ms', now)
    reversed_feedback = reversed_feedback + 1
  end
end
redis.call('HINCRBY', KEYS[6], 'abuse', 1)
redis.call('HINCRBY', KEYS[6], 'ver', 1)

local reversed = 0
if ARGV[4] == '1' and r[1] == 'SUCCEEDED' and
   (r[8] == 'wallet' or r[8] == 'coupon') then
  local amount = tonumber(r[6])
  local account
  if r[8] == 'wallet' then
    redis.call('HINCRBY', KEYS[9], 'bal:' .. r[7], -amount)
    redis.call('HSET', KEYS[9], 'reversed:' .. refund_id, r[6])
    account = 'wallet:member:' .. r[4] .. ':' .. r[7]
  else
    redis.call('HDEL', KEYS[9], 'coupon:' .. refund_id)
    account = 'coupons:member:' .. r[4] .. ':' .. r[7]
  end
  local expense = 'expense:refunds:' .. r[9] .. ':' .. r[7]
  redis.call('XADD', KEYS[7], '*', 'txn', refund_id, 'kind',
    'refund_reversed', 'debit', account, 'credit', expense,
    'amount_minor', r[6], 'currency', r[7], 'at_ms', now)
  redis.call('HINCRBY', KEYS[8], account, amount)
  redis.call('HINCRBY', KEYS[8], expense, -amount)
  refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, 'REVERSED',
    ARGV[2], 'abusive:' .. ARGV[3], now, {})
  reversed = 1
else
  -- Audited on the refund's trail even when its state stays.
  refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, r[1], ARGV[2],
    'marked_abusive:' .. ARGV[3], now, {})
end
return {'OK', tostring(reversed_feedback), tostring(reversed)}
