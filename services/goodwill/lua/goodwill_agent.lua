-- A support agent's goodwill budget for one day. The agent's key lives in a
-- slot of its own, so the grant itself (in the member's partition) is a second
-- step, and this script keeps the day's reservations in step with it:
--   reserve  before the grant: idempotent per grant; the first request holds
--            the reservation under its token
--   release  after a refusal: only by the request holding the reservation,
--            and never once the grant is confirmed
--   confirm  after a committed (or replayed) grant: the reservation becomes
--            the grant's for good; re-made if a refused twin released it
-- So `spent` is never below the day's committed grants (no leak), whatever
-- the order in which concurrent requests with one key finish.
-- Two requests with one key may carry different amounts (the first one's
-- grant failed before it committed, and the key came back with another
-- payload). Then a reserve of another amount takes the reservation over
-- (within the budget, re-counted), and a confirm counts the amount that was
-- granted: `spent` always holds each grant's final amount.
-- KEYS[1] the agent's day in one currency
--         (mg:{g<H>}:agent_budget:<CUR>:<day>:<agent_id>)
-- KEYS[2] optional: the agent's day before currencies
--         (mg:{g<H>}:agent:<agent_id>:<day>, the one currency a deployment
--         then served), read only: what it spent counts in every currency,
--         so an upgrade mid-day gives no agent a second budget
-- ARGV[1] 'reserve' | 'release' | 'confirm'  ARGV[2] grant (refund) id
-- ARGV[3] amount  ARGV[4] daily budget  ARGV[5] ttl ms  ARGV[6] request token
-- Returns {'NEW' | 'HELD' | 'RELEASED' | 'KEPT' | 'CONFIRMED', spent}
--       | {'REFUSED', spent}  (spent: the day's, with KEYS[2]'s)
-- A reservation is the field r:<grant id> = '<amount>:<token>', or
-- '<amount>:granted' once confirmed.
local field = 'r:' .. ARGV[2]
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local held = redis.call('HGET', KEYS[1], field)
local before = 0
if KEYS[2] then
  before = tonumber(redis.call('HGET', KEYS[2], 'spent') or '0')
end
local budget = tonumber(ARGV[4]) - before
local function answer(tag, n) return {tag, tostring(n + before)} end
local function amount_of(value)
  return tonumber(string.match(value, '^(%d+):'))
end

if ARGV[1] == 'release' then
  if not held or string.match(held, ':(.*)$') ~= ARGV[6] then
    return answer('KEPT', spent)
  end
  redis.call('HDEL', KEYS[1], field)
  spent = redis.call('HINCRBY', KEYS[1], 'spent', -amount_of(held))
  -- Nothing else reserved: leave no trace of the refused grant.
  if spent == 0 and redis.call('HLEN', KEYS[1]) == 1 then
    redis.call('DEL', KEYS[1])
  end
  return answer('RELEASED', spent)
end

if ARGV[1] == 'confirm' then
  local amount = tonumber(ARGV[3])
  if not held then
    spent = redis.call('HINCRBY', KEYS[1], 'spent', amount)
  elseif amount_of(held) ~= amount then
    -- Held for another amount: the grant that committed is this one.
    spent = redis.call('HINCRBY', KEYS[1], 'spent', amount - amount_of(held))
  end
  redis.call('HSET', KEYS[1], field, ARGV[3] .. ':granted')
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return answer('CONFIRMED', spent)
end

local amount = tonumber(ARGV[3])
if held then
  if amount_of(held) == amount or string.match(held, ':granted$') then
    return answer('HELD', spent)
  end
  -- Held for another amount by an earlier request of the key: this request
  -- takes it over, its own amount counted against the budget.
  local difference = amount - amount_of(held)
  if spent + difference > budget then
    return answer('REFUSED', spent)
  end
  redis.call('HSET', KEYS[1], field, ARGV[3] .. ':' .. ARGV[6])
  spent = redis.call('HINCRBY', KEYS[1], 'spent', difference)
  return answer('HELD', spent)
end
if spent + amount > budget then
  return answer('REFUSED', spent)
end
redis.call('HSET', KEYS[1], field, ARGV[3] .. ':' .. ARGV[6])
spent = redis.call('HINCRBY', KEYS[1], 'spent', amount)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return answer('NEW', spent)
