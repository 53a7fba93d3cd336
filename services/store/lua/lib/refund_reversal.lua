-- Takes back a paid wallet credit or coupon (an abusive claim): the wallet
-- balance or the coupon, a reversing posting against the accepted posting's
-- expense account (lib/refund_accounts.lua), and SUCCEEDED -> REVERSED.
-- Needs refund_events, refund_accounts. Only for a SUCCEEDED refund whose
-- provider is 'wallet' or 'coupon' (the caller checks).
--   k  table of keys: refund, events, feed, ledger, balances, wallet
--   actor   who reversed it ("operator:<id>")
--   reason  the abuse reason code
local function reverse_paid_refund(k, refund_id, actor, reason, now)
  local r = redis.call('HMGET', k.refund, 'provider', 'amount_minor',
    'currency', 'member_id')
  local amount = tonumber(r[2])
  local currency, member_id = r[3], r[4]
  local account
  if r[1] == 'wallet' then
    redis.call('HINCRBY', k.wallet, 'bal:' .. currency, -amount)
    redis.call('HSET', k.wallet, 'reversed:' .. refund_id, r[2])
    account = 'wallet:member:' .. member_id .. ':' .. currency
  else
    redis.call('HDEL', k.wallet, 'coupon:' .. refund_id)
    account = 'coupons:member:' .. member_id .. ':' .. currency
  end
  local expense = refund_accounts(k.refund)
  redis.call('XADD', k.ledger, '*', 'txn', refund_id, 'kind',
    'refund_reversed', 'debit', account, 'credit', expense,
    'amount_minor', r[2], 'currency', currency, 'at_ms', now)
  redis.call('HINCRBY', k.balances, account, amount)
  redis.call('HINCRBY', k.balances, expense, -amount)
  redis.call('HDEL', k.refund, 'reverse_pending')
  refund_transition(k.refund, k.events, k.feed, refund_id, 'REVERSED',
    actor, 'abusive:' .. reason, now, {})
end
