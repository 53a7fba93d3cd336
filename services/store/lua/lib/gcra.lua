-- GCRA (generic cell rate algorithm) on one key holding the theoretical
-- arrival time (TAT) in ms. Time is Redis's own clock, so every server process
-- sharing this Redis sees the same limit.
--   interval  ms between requests at the sustained rate (1000 / rate_per_s)
--   burst     requests allowed at once
--   shadow    1: never reject, only report that it would have
--   cells     requests to take at once (nil: 1); fewer are granted when
--             fewer fit, so a server can lease a batch of its client's
--             requests (services/rating/client_leases.h)
-- Returns allowed (1/0), would_reject (1/0), remaining, retry_after_ms,
-- reset_ms, granted (cells taken; 0 when refused, 1 in shadow mode)
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

local function gcra(key, interval, burst, shadow, cells)
  cells = cells or 1
  local now = now_ms()
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  -- A cell fits while the TAT it leaves is at most burst intervals ahead.
  local fit = math.floor((now - tat) / interval + burst)
  if fit < 1 then
    -- Over the limit: the TAT is not advanced (a rejected request costs
    -- nothing), also in shadow mode, so shadow counts what enforcing would.
    local allow_at = tat + interval - interval * burst
    if shadow == 1 then
      return 1, 1, 0, allow_at - now, tat - now, 1
    end
    return 0, 1, 0, allow_at - now, tat - now, 0
  end
  local granted = math.min(cells, fit)
  local new_tat = tat + interval * granted
  local allow_at = new_tat - interval * burst
  redis.call('SET', key, tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1)
  return 1, 0, math.floor((now - allow_at) / interval), 0, new_tat - now,
    granted
end
