-- require: feedback_reversal
-- DecideAppeal, in the rating's partition, atomically: idempotency (the
-- appeal record keeps the deciding key and fingerprint), one decision per
-- appeal, and for an upheld appeal the feedback's reversal
-- (lib/feedback_reversal.lua: the same event an abuse correction writes, and
-- none if an abuse correction reversed the item first, also one made before
-- reversals were marked per item: the rating's refund says `abusive`), with
-- the step on the appeal's audit trail.
-- KEYS[1] appeal hash   KEYS[2] appeal events   KEYS[3] rating hash
-- KEYS[4] feedback stream  KEYS[5] the rating's refund (may not exist)
-- ARGV[1] idempotency key  ARGV[2] fingerprint
-- ARGV[3] decision ('upheld' / 'rejected')  ARGV[4] actor ("agent:<id>")
-- ARGV[5] caller (principal)  ARGV[6] reason  ARGV[7] now ms
-- Returns {tag, reversed now 0/1, field, value, ...} (the appeal hash) with
-- tag 'OK' (decided now), 'REPLAY' (this key decided it, same payload),
-- 'ALREADY' (decided before the same way), 'CONFLICT' (decided the other way)
--   | {'MISSING'} | {'REUSED'}
local function answer(tag, reversed_now)
  local out = {tag, reversed_now}
  for _, v in ipairs(redis.call('HGETALL', KEYS[1])) do table.insert(out, v) end
  return out
end

local a = redis.call('HMGET', KEYS[1], 'state', 'decision_key',
  'decision_fp', 'appeal_id', 'kind', 'target_id', 'order_id', 'rating_id',
  'seq')
if not a[1] then return {'MISSING'} end
if a[1] ~= 'open' then
  if a[2] == ARGV[1] then
    if a[3] ~= ARGV[2] then return {'REUSED'} end
    return answer('REPLAY', '0')
  end
  if a[1] == ARGV[3] then return answer('ALREADY', '0') end
  return answer('CONFLICT', '0')
end

local now = ARGV[7]
local reversed_now = '0'
local fields = {'state', ARGV[3], 'decision_key', ARGV[1],
  'decision_fp', ARGV[2], 'decided_by', ARGV[4], 'decider', ARGV[5],
  'decision_reason', ARGV[6], 'decided_at_ms', now}
if ARGV[3] == 'upheld' and
    not feedback_reversal(KEYS[3], a[4], KEYS[5]) then
  if reverse_feedback(KEYS[3], KEYS[4], a[5], a[6], a[4], a[7], a[8],
      'appeal_upheld', now) then
    reversed_now = '1'
  end
end
local by = feedback_reversal(KEYS[3], a[4], KEYS[5])
if by then
  table.insert(fields, 'reversed_by')
  table.insert(fields, by)
end
local seq = tostring(tonumber(a[9] or '0') + 1)
table.insert(fields, 'seq')
table.insert(fields, seq)
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('XADD', KEYS[2], '*', 'seq', seq, 'from', 'open', 'to', ARGV[3],
  'actor', ARGV[4], 'caller', ARGV[5], 'reason', ARGV[6], 'key', ARGV[1],
  'at_ms', now)
return answer('OK', reversed_now)
