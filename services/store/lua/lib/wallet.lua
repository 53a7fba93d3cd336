-- The member's wallet (and coupons): one hash per member,
-- mg:{p<N>}:wallet:<member_id>, with 'bal:<CUR>' balances and one
-- 'tx:<refund_id>' (or 'coupon:<refund_id>') field per credit, so crediting
-- the same refund twice moves nothing the second time.
-- Returns the reference of the credit.
local function wallet_credit(wallet_key, kind, refund_id, currency, amount)
  local field = (kind == 'coupon' and 'coupon:' or 'tx:') .. refund_id
  if redis.call('HSETNX', wallet_key, field, amount) == 1 and
     kind ~= 'coupon' then
    redis.call('HINCRBY', wallet_key, 'bal:' .. currency, amount)
  end
  return kind .. ':' .. refund_id
end
