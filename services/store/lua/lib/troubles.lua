-- Retention after trouble (services/retention/): a member's troubles still
-- inside a window live in one hash per member, mg:{p<N>}:troubles:<member>:
--   '<rating id>'    the trouble, tab separated: at_ms, currency, refund id,
--                    granted minor, then its labels outcome, recovery,
--                    instrument, amount band, policy version, arm, tier, then
--                    store id, courier id
--   '<rating id>:p'  its progress, space separated: stage (windows closed,
--                    0-3), then reordered (0/1) and spend in the trouble's
--                    currency for 7, 30 and 90 days, then what it was paid
--                    and how fast (set when the first window closes)
-- The windows, in retention days (a day is ARGV-given ms, 86400000 in
-- production: simulations shorten it).
local trouble_windows = {7, 30, 90}
-- A window closes this many days after it ends (retention/trouble.h
-- kGraceDays): an order delivered inside it and recorded late still counts.
local trouble_grace_days = 1

-- Splits at every tab, keeping empty fields.
local function trouble_split(s)
  local out, start = {}, 1
  while true do
    local i = string.find(s, '\t', start, true)
    if not i then
      table.insert(out, string.sub(s, start))
      return out
    end
    table.insert(out, string.sub(s, start, i - 1))
    start = i + 1
  end
end

-- Numbers, but the time band (item 9, '-' until the first window closes).
local function trouble_progress(s)
  local p = {}
  for n in string.gmatch(s or '0 0 0 0 0 0 0 0 -', '%S+') do
    table.insert(p, tonumber(n) or n)
  end
  return p
end

-- A new order delivered at `delivered_ms` (total `total` in `currency`)
-- counts for every window of every trouble of the member that it falls
-- into and that has not closed yet. `all` is HGETALL of the troubles hash.
local function note_reorder(troubles_key, all, delivered_ms, currency, total,
                            day_ms)
  local fields = {}
  for i = 1, #all, 2 do fields[all[i]] = all[i + 1] end
  local writes = {}
  for field, value in pairs(fields) do
    if not string.find(field, ':p$') then
      local t = trouble_split(value)
      local at = tonumber(t[1])
      local progress = trouble_progress(fields[field .. ':p'])
      local changed = false
      if delivered_ms > at then
        for k = progress[1] + 1, 3 do
          if delivered_ms <= at + trouble_windows[k] * day_ms then
            progress[2 * k] = 1
            if currency == t[2] then
              progress[2 * k + 1] = progress[2 * k + 1] + total
            end
            changed = true
          end
        end
      end
      if changed then
        table.insert(writes, field .. ':p')
        table.insert(writes, table.concat(progress, ' '))
      end
    end
  end
  if #writes > 0 then redis.call('HSET', troubles_key, unpack(writes)) end
end
