-- require: gcra
-- Called only through services/rating/admit_script.h
-- (BuildAdmitCall, ParseAdmitReply): KEYS, ARGV and the reply
-- below change together with it.
-- Round trip 1 of SubmitRating: idempotency lookup, the member's rate limit,
-- the order/member checks that need no decision, the claim of the key, and the
-- snapshot the policy decides on — in one atomic step.
-- KEYS[1] idempotency record  KEYS[2] member profile  KEYS[3] member stats
-- KEYS[4] order               KEYS[5] member rate limiter
-- KEYS[6] the rating record this scope commits (its id derives from the scope)
-- ARGV[1] request fingerprint   ARGV[2] claim token   ARGV[3] lease ms
-- ARGV[4] now ms (business clock)  ARGV[5] member_id
-- ARGV[6] limiter interval ms (0: no limit)  ARGV[7] burst  ARGV[8] shadow
-- ARGV[9] rating window ms      ARGV[10] rated line ids, space separated
-- Returns one of
--   {'REPLAY', response} {'RECORDED', rating record bytes} {'REUSED'}
--   {'INFLIGHT'}
--   {'LIMITED', retry_after_ms, reset_ms} {'NO_ORDER'} {'NOT_OWNER'}
--   {'NO_MEMBER'} {'WINDOW_CLOSED'} {'UNKNOWN_LINE', line_id}
--   {'FRESH', order_pb, order_refunded_minor, member_pb, stats (flat
--    HGETALL), remaining, reset_ms, would_reject, order_coupon_minor,
--    order_replaced_line_ids}
local idem = redis.call('HMGET', KEYS[1], 'state', 'fp', 'response', 'token')
local own_claim = false
if idem[1] == 'done' then
  if idem[2] ~= ARGV[1] then return {'REUSED'} end
  return {'REPLAY', idem[3]}
end
-- The idempotency record expires; the rating it committed does not. A late
-- retry is answered from the rating record (the caller compares the request
-- in it with its own) and is never decided again.
local recorded = redis.call('HGET', KEYS[6], 'pb')
if recorded then return {'RECORDED', recorded} end
if idem[1] then
  if idem[2] ~= ARGV[1] then return {'REUSED'} end
  if idem[4] ~= ARGV[2] then return {'INFLIGHT'} end
  own_claim = true  -- Our own retry after a stale commit: no new limit charge.
end

local remaining, reset, would = -1, 0, 0
local interval = tonumber(ARGV[6])
if not own_claim and interval > 0 then
  local allowed, retry_after
  allowed, would, remaining, retry_after, reset =
    gcra(KEYS[5], interval, tonumber(ARGV[7]), tonumber(ARGV[8]))
  if allowed == 0 then
    return {'LIMITED', math.ceil(retry_after), math.ceil(reset)}
  end
end

local order = redis.call('HMGET', KEYS[4], 'pb', 'member_id', 'refunded_minor',
  'delivered_at_ms', 'line_ids', 'coupon_minor', 'replaced')
if not order[1] then return {'NO_ORDER'} end
if order[2] ~= ARGV[5] then return {'NOT_OWNER'} end
local member_pb = redis.call('HGET', KEYS[2], 'pb')
if not member_pb then return {'NO_MEMBER'} end
if tonumber(ARGV[4]) > tonumber(order[4]) + tonumber(ARGV[9]) then
  return {'WINDOW_CLOSED'}
end
if ARGV[10] ~= '' then
  local known = {}
  for id in string.gmatch(order[5] or '', '%S+') do known[id] = true end
  for id in string.gmatch(ARGV[10], '%S+') do
    if not known[id] then return {'UNKNOWN_LINE', id} end
  end
end

if not own_claim then
  redis.call('HSET', KEYS[1], 'state', 'inflight', 'fp', ARGV[1],
    'token', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'FRESH', order[1], order[3] or '0', member_pb,
  redis.call('HGETALL', KEYS[3]), remaining, math.ceil(reset), would,
  order[6] or '0', order[7] or ''}
