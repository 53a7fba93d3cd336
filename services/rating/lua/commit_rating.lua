-- require: refund_creation
-- require: refund_accounts
-- Round trip 2 of SubmitRating: commits a decision atomically — rating record,
-- refund record, double-entry ledger postings, member and order counters, the
-- outbox entry settlement consumes, and the idempotent response — provided
-- the claim is still ours and nothing the decision read has changed since.
-- KEYS[1] idempotency record  KEYS[2] member stats  KEYS[3] order
-- KEYS[4] rating record       KEYS[5] refund record
-- KEYS[6] refunds by member   KEYS[7] refunds by order
-- KEYS[8] ledger stream       KEYS[9] ledger balances  KEYS[10] outbox stream
-- KEYS[11] ratings by time     KEYS[12] refund events
-- KEYS[13] feedback stream     KEYS[14] tasks stream
-- KEYS[15] notifications stream  KEYS[16] decision events stream
-- KEYS[17] open orders (the order leaves it: it is rated)
-- KEYS[18] the member's troubles  KEYS[19] the partition's troubles by
--          next close (retention after trouble, store/lua/lib/troubles.lua)
-- KEYS[20] the partition's experiment arm tallies
-- ARGV[1] claim token  ARGV[2] member stats version read at admit
-- ARGV[3] now ms  ARGV[4] response bytes  ARGV[5] idempotency ttl ms
-- ARGV[6] rating record bytes
-- ARGV[7] refund amount minor (0: no refund)  ARGV[8] 1 if it is money
--         (counts toward the order's ceiling), 0 for a coupon
-- ARGV[9] refund bytes  ARGV[10] refund id  ARGV[11] instrument name
-- ARGV[12] the order's currency (the refund's)  ARGV[13] member id
-- ARGV[14] day number (now)
-- ARGV[15] 1 if a low rating  ARGV[16] 1 to store the instant budget
-- ARGV[17] instant budget balance after  ARGV[18] its as-of ms
-- ARGV[19] expired stats fields to delete, space separated
-- ARGV[20] rating id  ARGV[21] order id
-- ARGV[22] coupon value granted now (0: none)
-- ARGV[23] line ids sent again now, space separated
-- ARGV[24] the order's payment reference (for card refunds)
-- ARGV[25] actor of the decision (e.g. "policy:default@3f2a9c01")
-- ARGV[26] reason codes, comma separated
-- ARGV[27] D, then D args: field/value pairs of the decision event
-- then F, then F triples: follow-up kind, target id, reason codes
-- then the trouble: '' when the rating is none, else its record, then its
-- member of KEYS[19] and when its first window closes (ms)
-- then the experiment arm ('' outside experiments), then 1 if the rating
-- was made good at once
-- Money kept per member is kept per currency: refunded money per day in
-- 'rm:<CUR>:<day>', the instant budget in 'ib_balance:<CUR>' and
-- 'ib_as_of_ms:<CUR>'; counts ('rc:<day>', 'lr:<day>') across currencies.
-- Returns {'OK'} | {'STALE'} | {'LOST_CLAIM'} | {'DONE'}
--       | {'CEILING', refunded_minor, total_minor}
-- DONE: this scope's rating is already committed (the key was answered, or
-- its record exists): nothing is written, and the caller admits again, which
-- answers from what was stored after comparing the requests. A stored answer
-- is never returned from here, because it may belong to another payload.
local idem = redis.call('HMGET', KEYS[1], 'state', 'token')
if idem[1] == 'done' or redis.call('EXISTS', KEYS[4], KEYS[5]) > 0 then
  return {'DONE'}
end
if idem[1] ~= 'inflight' or idem[2] ~= ARGV[1] then return {'LOST_CLAIM'} end
local now = ARGV[3]
local day = ARGV[14]
local currency = ARGV[12]
local refunded_field = 'rm:' .. currency .. ':' .. day
local stats = redis.call('HMGET', KEYS[2], 'ver', 'rc:' .. day, refunded_field,
  'lr:' .. day)
if (stats[1] or '0') ~= ARGV[2] then
  return {'STALE'}
end

local amount = tonumber(ARGV[7])
local money = ARGV[8] == '1'
local order = redis.call('HMGET', KEYS[3], 'refunded_minor', 'total_minor',
  'ratings', 'coupon_minor', 'replaced')
local refunded = tonumber(order[1] or '0')
local total = tonumber(order[2] or '0')
-- The hard invariants, whatever the decision said: never above what was paid,
-- never a negative budget.
if (money and order_refund_exceeds(refunded, amount, total)) or
   (ARGV[16] == '1' and tonumber(ARGV[17]) < 0) then
  return {'CEILING', tostring(refunded), tostring(total)}
end

-- The stats version was checked above, so nothing changed since it was read:
-- each hash is written once with computed values rather than field by field.
local order_fields = {'rated', '1', 'updated_at_ms', now,
  'ratings', tostring(tonumber(order[3] or '0') + 1)}
local stats_fields = {'ver', tostring(tonumber(stats[1] or '0') + 1)}

redis.call('ZADD', KEYS[11], now, ARGV[20])

if amount > 0 then
  create_refund({refund = KEYS[5], events = KEYS[12], member_refunds = KEYS[6],
    order_refunds = KEYS[7], ledger = KEYS[8], balances = KEYS[9],
    outbox = KEYS[10], notifications = KEYS[15]},
    {id = ARGV[10], pb = ARGV[9], amount = ARGV[7], currency = ARGV[12],
    instrument = ARGV[11], member_id = ARGV[13], order_id = ARGV[21],
    rating_id = ARGV[20], payment_ref = ARGV[24], state_reason = 'decided',
    actor = ARGV[25], reason = ARGV[26], expense = 'refunds',
    ledger_kind = 'refund_accepted', notice_kind = 'refund_on_its_way',
    extra = {}}, now)
  if money then
    add_order_refunded(order_fields, refunded, amount)
    table.insert(stats_fields, 'rc:' .. day)
    table.insert(stats_fields, tostring(tonumber(stats[2] or '0') + 1))
    table.insert(stats_fields, refunded_field)
    table.insert(stats_fields, tostring(tonumber(stats[3] or '0') + amount))
  end
end
-- Grants in kind, so a later rating never makes them again.
if tonumber(ARGV[22]) > 0 then
  table.insert(order_fields, 'coupon_minor')
  table.insert(order_fields,
    tostring(tonumber(order[4] or '0') + tonumber(ARGV[22])))
end
if ARGV[23] ~= '' then
  table.insert(order_fields, 'replaced')
  table.insert(order_fields,
    (order[5] and order[5] ~= '') and (order[5] .. ' ' .. ARGV[23]) or ARGV[23])
end
redis.call('HSET', KEYS[3], unpack(order_fields))
redis.call('ZREM', KEYS[17], currency .. ':' .. ARGV[21])

if ARGV[15] == '1' then
  table.insert(stats_fields, 'lr:' .. day)
  table.insert(stats_fields, tostring(tonumber(stats[4] or '0') + 1))
  table.insert(stats_fields, 'last_low_ms')
  table.insert(stats_fields, now)
end
if ARGV[16] == '1' then
  table.insert(stats_fields, 'ib_balance:' .. currency)
  table.insert(stats_fields, ARGV[17])
  table.insert(stats_fields, 'ib_as_of_ms:' .. currency)
  table.insert(stats_fields, ARGV[18])
end
redis.call('HSET', KEYS[2], unpack(stats_fields))
local expired = {}
for field in string.gmatch(ARGV[19], '%S+') do
  table.insert(expired, field)
end
if #expired > 0 then redis.call('HDEL', KEYS[2], unpack(expired)) end

-- The decision event (insights) and the follow-ups, as events for
-- downstream consumers; feedback carries an appeal id and is remembered on
-- the rating record, written once below, so a correction can reverse it.
local d = tonumber(ARGV[27])
redis.call('XADD', KEYS[16], 'MAXLEN', '~', '1000000', '*',
  unpack(ARGV, 28, 27 + d))
local f_at = 28 + d
local feedback = {}
for i = 1, tonumber(ARGV[f_at]) do
  local kind = ARGV[f_at + 3 * i - 2]
  local target = ARGV[f_at + 3 * i - 1]
  local codes = ARGV[f_at + 3 * i]
  if kind == 'courier_feedback' or kind == 'store_feedback' then
    local appeal = 'ap_' .. string.sub(ARGV[20], 4) .. '_' .. i
    redis.call('XADD', KEYS[13], 'MAXLEN', '~', '1000000', '*',
      'kind', kind, 'appeal_id', appeal, 'target_id', target,
      'order_id', ARGV[21], 'rating_id', ARGV[20], 'reason_codes', codes,
      'at_ms', now)
    table.insert(feedback, kind .. '|' .. target .. '|' .. appeal)
  else
    redis.call('XADD', KEYS[14], 'MAXLEN', '~', '1000000', '*',
      'kind', kind, 'member_id', ARGV[13], 'order_id', ARGV[21],
      'rating_id', ARGV[20], 'reason_codes', codes, 'at_ms', now)
  end
end
local record = {'pb', ARGV[6], 'member_id', ARGV[13], 'order_id', ARGV[21],
  'created_at_ms', now}
if #feedback > 0 then
  table.insert(record, 'feedback')
  table.insert(record, table.concat(feedback, ' '))
end
redis.call('HSET', KEYS[4], unpack(record))

-- Retention after trouble: tracked from now until its 90-day window closes.
local t_at = f_at + 3 * tonumber(ARGV[f_at]) + 1
if ARGV[t_at] ~= '' then
  redis.call('HSET', KEYS[18], ARGV[20], ARGV[t_at],
    ARGV[20] .. ':p', '0 0 0 0 0 0 0 0 -')
  redis.call('ZADD', KEYS[19], ARGV[t_at + 2], ARGV[t_at + 1])
end

-- An experiment's arm: what its decisions cost, for its figures and its
-- money guardrail; the refund remembers the arm for the abuse guardrail.
local a_at = (ARGV[t_at] == '') and (t_at + 1) or (t_at + 3)
local arm = ARGV[a_at]
if arm ~= '' then
  local base = arm .. '\t'
  redis.call('HINCRBY', KEYS[20], base .. 'ratings', 1)
  if ARGV[a_at + 1] == '1' then
    redis.call('HINCRBY', KEYS[20], base .. 'instant', 1)
  end
  if amount > 0 then
    redis.call('HINCRBY', KEYS[20], base .. 'refunds', 1)
    redis.call('HINCRBY', KEYS[20], base .. 'granted:' .. currency, amount)
    redis.call('HINCRBY', KEYS[20],
      base .. 'day:' .. day .. ':' .. currency, amount)
    redis.call('HSET', KEYS[5], 'arm', arm)
  end
end

redis.call('HSET', KEYS[1], 'state', 'done', 'response', ARGV[4], 'token', '')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'OK'}
