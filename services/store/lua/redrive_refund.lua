-- require: refund_events
-- An operator re-drives a refund settlement set aside (NEEDS_ATTENTION ->
-- ACCEPTED): a new outbox entry, so a worker settles it again, and an audit
-- event naming the operator. No money moves here and nothing is guessed: a
-- refund that was sent to a provider before keeps that provider, and the
-- worker looks the payout up there first (settle_begin.lua resumes it), so
-- it pays only if the provider never saw the refund id.
-- A refund still ACCEPTED or SETTLING is left as it is while an outbox entry
-- carries it (idempotent: a second re-drive changes nothing); one that no
-- entry carries any more (its entry was acknowledged while the refund was not
-- final, by settle_finish.lua before that was fixed) is orphaned and is
-- re-enqueued in its state, audited as 'requeued:<reason>'.
-- KEYS[1] refund hash  KEYS[2] refund events  KEYS[3] refund feed
-- KEYS[4] outbox stream  KEYS[5] attention index
-- ARGV[1] now ms  ARGV[2] actor ("operator:<id>")  ARGV[3] reason
-- Returns {'REDRIVEN', outbox entry id} | {'IN_PROGRESS', state}
--       | {'NOT_REDRIVABLE', state} | {'MISSING'}
local r = redis.call('HMGET', KEYS[1], 'state', 'member_id', 'order_id',
  'amount_minor', 'currency', 'instrument')
if not r[1] then return {'MISSING'} end
local refund_id = string.match(KEYS[1], ':refund:(.*)$')
local reason = 'redrive:' .. ARGV[3]
if r[1] == 'ACCEPTED' or r[1] == 'SETTLING' then
  -- The outbox holds only unsettled work, so this scan is short.
  local from = '-'
  while true do
    local page = redis.call('XRANGE', KEYS[4], from, '+', 'COUNT', 500)
    for _, entry in ipairs(page) do
      local f = entry[2]
      for i = 1, #f - 1, 2 do
        if f[i] == 'refund_id' and f[i + 1] == refund_id then
          return {'IN_PROGRESS', r[1]}
        end
      end
    end
    if #page < 500 then break end
    from = '(' .. page[#page][1]
  end
  reason = 'requeued:' .. ARGV[3]
elseif r[1] ~= 'NEEDS_ATTENTION' then
  return {'NOT_REDRIVABLE', r[1]}
end
local to = r[1] == 'NEEDS_ATTENTION' and 'ACCEPTED' or r[1]
refund_transition(KEYS[1], KEYS[2], KEYS[3], refund_id, to, ARGV[2], reason,
  ARGV[1], {})
local id = redis.call('XADD', KEYS[4], '*', 'type', 'refund_accepted',
  'refund_id', refund_id, 'member_id', r[2], 'order_id', r[3] or '',
  'amount_minor', r[4], 'currency', r[5], 'instrument', r[6],
  'redriven_by', ARGV[2])
redis.call('ZREM', KEYS[5], refund_id)
return {'REDRIVEN', id}
