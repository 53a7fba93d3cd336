-- require: wallet
-- The wallet and coupon providers: credit (idempotently) or look up a credit.
-- KEYS[1] wallet hash
-- ARGV[1] 'pay' | 'lookup'  ARGV[2] 'wallet' | 'coupon'  ARGV[3] refund id
-- ARGV[4] currency  ARGV[5] amount minor
-- Returns {'OK', reference} | {'NOT_FOUND'}
if ARGV[1] == 'lookup' then
  local field = (ARGV[2] == 'coupon' and 'coupon:' or 'tx:') .. ARGV[3]
  if redis.call('HEXISTS', KEYS[1], field) == 1 then
    return {'OK', ARGV[2] .. ':' .. ARGV[3]}
  end
  return {'NOT_FOUND'}
end
return {'OK', wallet_credit(KEYS[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])}
