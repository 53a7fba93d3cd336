-- require: feedback_reversal
-- AppealFeedback, in the rating's partition, atomically: the feedback item
-- exists and is about the calling partner, idempotency (the appeal record is
-- the idempotency record: it never expires), the feedback still stands, then
-- the appeal (state 'open'), the first event of its audit trail and a task
-- for the agents who decide appeals.
-- KEYS[1] rating hash   KEYS[2] appeal hash   KEYS[3] appeal events
-- KEYS[4] tasks stream  KEYS[5] the rating's refund (may not exist)
-- ARGV[1] appeal id  ARGV[2] idempotency key  ARGV[3] fingerprint
-- ARGV[4] the partner's feedback kind ('store_feedback'/'courier_feedback')
-- ARGV[5] the partner's store or courier id  ARGV[6] caller (principal)
-- ARGV[7] reason  ARGV[8] comment  ARGV[9] now ms  ARGV[10] rating id
-- Returns {'OK', field, value, ...} (the appeal hash)
--   | {'REPLAY', field, value, ...} | {'EXISTS', field, value, ...}
--   | {'REUSED'} | {'NO_FEEDBACK'} | {'NOT_TARGET'} | {'REVERSED', by}
local appeal_id = ARGV[1]
local kind, target = feedback_item(KEYS[1], appeal_id)
if not kind then return {'NO_FEEDBACK'} end
if kind ~= ARGV[4] or target ~= ARGV[5] then return {'NOT_TARGET'} end

local prior = redis.call('HMGET', KEYS[2], 'state', 'file_key', 'file_fp')
if prior[1] then
  local tag = 'EXISTS'
  if prior[2] == ARGV[2] then
    if prior[3] ~= ARGV[3] then return {'REUSED'} end
    tag = 'REPLAY'
  end
  local out = {tag}
  for _, v in ipairs(redis.call('HGETALL', KEYS[2])) do table.insert(out, v) end
  return out
end
local by = feedback_reversal(KEYS[1], appeal_id, KEYS[5])
if by then return {'REVERSED', by} end

local now = ARGV[9]
local rating = redis.call('HMGET', KEYS[1], 'order_id', 'member_id')
redis.call('HSET', KEYS[2], 'appeal_id', appeal_id, 'state', 'open',
  'kind', kind, 'target_id', target, 'rating_id', ARGV[10],
  'order_id', rating[1] or '', 'partner', ARGV[6], 'reason', ARGV[7],
  'comment', ARGV[8], 'created_at_ms', now, 'file_key', ARGV[2],
  'file_fp', ARGV[3], 'seq', '1')
redis.call('XADD', KEYS[3], '*', 'seq', '1', 'from', '', 'to', 'open',
  'actor', ARGV[6], 'caller', ARGV[6], 'reason', ARGV[7],
  'key', ARGV[2], 'at_ms', now)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '1000000', '*',
  'kind', 'appeal_review', 'appeal_id', appeal_id, 'target_id', target,
  'member_id', rating[2] or '', 'order_id', rating[1] or '',
  'rating_id', ARGV[10], 'reason_codes', ARGV[7], 'at_ms', now)
local out = {'OK'}
for _, v in ipairs(redis.call('HGETALL', KEYS[2])) do table.insert(out, v) end
return out
