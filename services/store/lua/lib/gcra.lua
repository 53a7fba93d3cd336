-- GCRA (generic cell rate algorithm) on one key holding the theoretical
-- arrival time (TAT) in ms. Time is Redis's own clock, so every server process
-- sharing this Redis sees the same limit.
--   interval  ms between requests at the sustained rate (1000 / rate_per_s)
--   burst     requests allowed at once
--   shadow    1: never reject, only report that it would have
-- Returns allowed (1/0), would_reject (1/0), remaining, retry_after_ms, reset_ms
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

local function gcra(key, interval, burst, shadow)
  local now = now_ms()
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - interval * burst
  if now < allow_at then
    -- Over the limit: the TAT is not advanced (a rejected request costs
    -- nothing), also in shadow mode, so shadow counts what enforcing would.
    if shadow == 1 then
      return 1, 1, 0, allow_at - now, tat - now
    end
    return 0, 1, 0, allow_at - now, tat - now
  end
  redis.call('SET', key, tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1)
  return 1, 0, math.floor((now - allow_at) / interval), 0, new_tat - now
end
