-- Insights: folds one decision event into the time-bucketed aggregates of its
-- store, courier and SKUs and acknowledges the stream entry, in one atomic
-- step. The aggregates live in the stream's partition, so an event is
-- counted exactly when its entry is acknowledged: a redelivered entry (a
-- retry after a lost reply, a restart, an entry taken over from a consumer
-- that died) finds it acknowledged and changes nothing.
-- KEYS[1] decisions stream
-- KEYS[2k], KEYS[2k+1] (k = 1..S) minute and hour aggregates of subject k
-- ARGV[1] consumer group  ARGV[2] entry id  ARGV[3] now ms
-- ARGV[4] event time ms (0: acknowledge only, e.g. a malformed entry)
-- ARGV[5] minute buckets kept  ARGV[6] hour buckets kept
-- ARGV[7] currency
-- ARGV[8 + 3(k-1) .. 10 + 3(k-1)] subject k: satisfaction, refunded (0/1),
--         refunded minor units
-- Aggregate hash fields, per bucket b (unix minute or unix hour):
--   b:n ratings  b:sat sum of satisfaction  b:ref ratings with a refund
--   b:amt:<currency> refunded minor units;  pruned: buckets below it deleted
-- Buckets older than the kept count are not written and are deleted (HDEL,
-- checked every keep/12 buckets); the key expires when it has not been
-- written for `kept` buckets.
-- Returns {'DUP'} if the entry was already acknowledged, else
-- {'OK', folded into minute buckets (0/1), folded into hour buckets (0/1)}.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return {'DUP'}
end
local now = tonumber(ARGV[3])
local at = tonumber(ARGV[4])
local currency = ARGV[7]

-- The oldest bucket still kept, and the event's bucket if it is kept.
local function bucket_of(bucket_ms, keep)
  local oldest = math.floor(now / bucket_ms) - keep + 1
  local bucket = math.floor(at / bucket_ms)
  if at <= 0 or bucket < oldest then return nil, oldest end
  return bucket, oldest
end

local function prune(key, oldest, keep)
  local pruned = tonumber(redis.call('HGET', key, 'pruned') or '0') or 0
  if oldest - pruned < math.max(1, math.floor(keep / 12)) then return end
  local old = {}
  for _, field in ipairs(redis.call('HKEYS', key)) do
    local b = tonumber(string.match(field, '^(%d+):'))
    if b and b < oldest then
      old[#old + 1] = field
      if #old == 1000 then
        redis.call('HDEL', key, unpack(old))
        old = {}
      end
    end
  end
  if #old > 0 then redis.call('HDEL', key, unpack(old)) end
  redis.call('HSET', key, 'pruned', string.format('%d', oldest))
end

local function fold(key, bucket, oldest, bucket_ms, keep, arg)
  local b = string.format('%d', bucket)
  redis.call('HINCRBY', key, b .. ':n', 1)
  redis.call('HINCRBY', key, b .. ':sat', ARGV[arg])
  if ARGV[arg + 1] == '1' then
    redis.call('HINCRBY', key, b .. ':ref', 1)
  end
  if currency ~= '' and ARGV[arg + 2] ~= '0' then
    redis.call('HINCRBY', key, b .. ':amt:' .. currency, ARGV[arg + 2])
  end
  prune(key, oldest, keep)
  redis.call('PEXPIRE', key, keep * bucket_ms)
end

local minute_keep = tonumber(ARGV[5])
local hour_keep = tonumber(ARGV[6])
local minute, oldest_minute = bucket_of(60000, minute_keep)
local hour, oldest_hour = bucket_of(3600000, hour_keep)
local subjects = (#KEYS - 1) / 2
for k = 1, subjects do
  local arg = 8 + 3 * (k - 1)
  if minute then
    fold(KEYS[2 * k], minute, oldest_minute, 60000, minute_keep, arg)
  end
  if hour then
    fold(KEYS[2 * k + 1], hour, oldest_hour, 3600000, hour_keep, arg)
  end
end
return {'OK', minute and 1 or 0, hour and 1 or 0}
