-- Insights: one subject's figures in one partition, summed over a range of
-- buckets of its aggregate hash (see fold_decision.lua). Reads only.
-- KEYS[1] aggregate hash (minute or hour buckets)
-- ARGV[1] first bucket  ARGV[2] last bucket (both inclusive)
-- Returns {ratings, sum of satisfaction, ratings with a refund,
--          currency, refunded minor units, currency, ...}. Sums are exact up
-- to 2^53 (Lua numbers).
local first = tonumber(ARGV[1])
local last = tonumber(ARGV[2])
local flat = redis.call('HGETALL', KEYS[1])
local ratings, satisfaction, refunded = 0, 0, 0
local money = {}
for i = 1, #flat, 2 do
  local b, stat = string.match(flat[i], '^(%d+):(.+)$')
  b = tonumber(b)
  if b and b >= first and b <= last then
    local v = tonumber(flat[i + 1]) or 0
    if stat == 'n' then
      ratings = ratings + v
    elseif stat == 'sat' then
      satisfaction = satisfaction + v
    elseif stat == 'ref' then
      refunded = refunded + v
    elseif string.sub(stat, 1, 4) == 'amt:' then
      local c = string.sub(stat, 5)
      money[c] = (money[c] or 0) + v
    end
  end
end
local out = {ratings, satisfaction, refunded}
for c, v in pairs(money) do
  out[#out + 1] = c
  out[#out + 1] = v
end
return out
