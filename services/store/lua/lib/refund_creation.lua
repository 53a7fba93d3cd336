-- The creation of an ACCEPTED refund, as every accepting script does it
-- (commit_rating.lua for a decided refund, grant_goodwill.lua for a goodwill
-- grant): the refund record, its first event, the member's and the order's
-- refund indexes, the accepted posting (ledger entry and both balances), the
-- outbox entry the settlement worker consumes and the member's notification.
-- The caller checks everything first (idempotency, budgets, the order's
-- ceiling with order_refund_exceeds) and writes the order itself, adding
-- the refunded total with add_order_refunded, so each script still writes the
-- order hash once.
--   k  table of keys: refund, events, member_refunds, order_refunds (nil when
--      the refund has no order), ledger, balances, outbox, notifications
--   r  table: id, pb (refund bytes), amount (minor units, a string),
--      currency, instrument, member_id, order_id, rating_id, payment_ref,
--      state_reason, actor and reason (of the creation event), expense (the
--      expense account's kind: 'refunds' or 'goodwill'), ledger_kind (of the
--      posting), notice_kind (of the notification), extra (further refund
--      fields, a flat list; may be empty)
-- The accounts come from acceptance_accounts (lib/refund_accounts.lua), which
-- a script using this library requires after it (so it is spliced first).

-- Money back on an order never exceeds what the order paid: true when
-- `amount` more than `refunded` would pass `total` (numbers).
local function order_refund_exceeds(refunded, amount, total)
  return refunded + amount > total
end

-- Appends to `fields` the order's fields to set once `amount` more than
-- `refunded` is paid back as money.
local function add_order_refunded(fields, refunded, amount)
  table.insert(fields, 'refunded_minor')
  table.insert(fields, tostring(refunded + amount))
end

local function create_refund(k, r, now)
  local fields = {'pb', r.pb, 'state', 'ACCEPTED', 'amount_minor', r.amount,
    'currency', r.currency, 'instrument', r.instrument,
    'member_id', r.member_id, 'order_id', r.order_id,
    'rating_id', r.rating_id, 'created_at_ms', now, 'updated_at_ms', now,
    'payment_ref', r.payment_ref, 'seq', '1', 'state_reason', r.state_reason}
  for i = 1, #r.extra do table.insert(fields, r.extra[i]) end
  redis.call('HSET', k.refund, unpack(fields))
  redis.call('XADD', k.events, '*', 'seq', '1', 'from', '', 'to', 'ACCEPTED',
    'actor', r.actor, 'reason', r.reason, 'at_ms', now)
  redis.call('ZADD', k.member_refunds, now, r.id)
  if k.order_refunds then
    redis.call('ZADD', k.order_refunds, now, r.id)
  end
  -- Double entry: the expense against what is now owed to the member.
  local amount = tonumber(r.amount)
  local debit, credit = acceptance_accounts(r.expense, r.instrument,
    r.currency, r.member_id)
  redis.call('XADD', k.ledger, '*', 'txn', r.id, 'kind', r.ledger_kind,
    'debit', debit, 'credit', credit, 'amount_minor', r.amount,
    'currency', r.currency, 'at_ms', now)
  redis.call('HINCRBY', k.balances, debit, amount)
  redis.call('HINCRBY', k.balances, credit, -amount)
  redis.call('XADD', k.outbox, '*', 'type', 'refund_accepted',
    'refund_id', r.id, 'member_id', r.member_id, 'order_id', r.order_id,
    'amount_minor', r.amount, 'currency', r.currency,
    'instrument', r.instrument)
  redis.call('XADD', k.notifications, 'MAXLEN', '~', '1000000', '*',
    'kind', r.notice_kind, 'member_id', r.member_id, 'refund_id', r.id,
    'order_id', r.order_id, 'amount_minor', r.amount,
    'currency', r.currency, 'at_ms', now)
end
