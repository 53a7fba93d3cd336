-- The two accounts of a refund's accepted posting: the expense it was booked
-- to and the payable owed to the member. Every later posting of the refund
-- (settled, failed, reversed) uses exactly these, so a reversal undoes the
-- acceptance it belongs to: a goodwill grant back to expense:goodwill, a card
-- refund that fell back to wallet credit back to its original_payment
-- accounts.
-- settle_begin.lua records them on the refund (ledger_expense,
-- ledger_payable) before anything can change its instrument. For refunds
-- taken before that was recorded they are derived as the accepting scripts
-- build them: goodwill (goodwill_agent set) books to expense:goodwill,
-- ratings to expense:refunds; a wallet fallback (declined_by set) changed
-- the instrument after an original_payment acceptance.
--   refund_key  hash mg:{p<N>}:refund:<id>
-- Returns expense account, payable account.
-- The accounts of an acceptance: `kind` 'refunds' (a rating) or 'goodwill'.
-- The one place their names are built (refund_creation.lua books them).
local function acceptance_accounts(kind, instrument, currency, member_id)
  return 'expense:' .. kind .. ':' .. instrument .. ':' .. currency,
    'payable:member:' .. member_id .. ':' .. instrument .. ':' .. currency
end

local function refund_accounts(refund_key)
  local f = redis.call('HMGET', refund_key, 'ledger_expense', 'ledger_payable',
    'instrument', 'currency', 'member_id', 'goodwill_agent', 'declined_by')
  if f[1] and f[2] then return f[1], f[2] end
  local instrument = f[3] or ''
  if f[7] and f[7] ~= '' then instrument = 'original_payment' end
  local kind = 'refunds'
  if f[6] and f[6] ~= '' then kind = 'goodwill' end
  return acceptance_accounts(kind, instrument, f[4] or '', f[5] or '')
end
