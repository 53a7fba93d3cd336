-- require: troubles
-- Closes the retention windows that are due (a grace day after their end)
-- among the given troubles of one partition: each closed window is added to its cohort (the partition's
-- retention hash) and to the trouble's store and courier, and the trouble
-- moves on to its next window, or is deleted after the 90-day one. Safe to
-- run twice or from two sweepers at once: a trouble whose window is not due
-- (closed already, or not yet) is left alone.
-- KEYS[1] the partition's troubles by next close (mg:{p<N>}:troubles_due)
-- KEYS[2] the partition's cohorts (mg:{p<N>}:retention)
-- then per trouble i, 4 keys from KEYS[3 + 4(i-1)]: the member's troubles
-- hash, the refund's hash (the troubles hash again when none), the store's
-- and the courier's retention hashes (the troubles hash again when none)
-- ARGV[1] now ms  ARGV[2] a retention day in ms
-- ARGV[2 + i] trouble i's member of KEYS[1]:
--   rating id \t member id \t refund id \t store id \t courier id
-- Cohort fields: '<outcome>\t<recovery>\t<instrument>\t<amount band>\t
-- <time to succeeded>\t<policy version>\t<arm>\t<tier>\t<currency>\t<days>\t
-- <n|r|s|p>' (troubles closed, reordered, spend, paid); store and courier
-- fields: '<outcome>\t<recovery>\t<currency>\t<days>\t<n|r|s|p>'.
-- Returns {closed windows, troubles skipped (not due, or gone)}
local now = tonumber(ARGV[1])
local day_ms = tonumber(ARGV[2])
local closed, skipped = 0, 0

local function time_band(state, updated_ms, at)
  if state ~= 'SUCCEEDED' then return 'unpaid' end
  local d = tonumber(updated_ms or at) - at
  if d < 60000 then return 'under_1m' end
  if d < 3600000 then return 'under_1h' end
  if d < 86400000 then return 'under_1d' end
  return 'over_1d'
end

local function add(key, prefix, days, reordered, spend, paid)
  local base = prefix .. '\t' .. days .. '\t'
  redis.call('HINCRBY', key, base .. 'n', 1)
  if reordered == 1 then redis.call('HINCRBY', key, base .. 'r', 1) end
  if spend ~= 0 then redis.call('HINCRBY', key, base .. 's', spend) end
  if paid ~= 0 then redis.call('HINCRBY', key, base .. 'p', paid) end
end

for i = 1, #ARGV - 2 do
  local member = ARGV[2 + i]
  local troubles = KEYS[3 + 4 * (i - 1)]
  local refund = KEYS[4 + 4 * (i - 1)]
  local store = KEYS[5 + 4 * (i - 1)]
  local courier = KEYS[6 + 4 * (i - 1)]
  local score = redis.call('ZSCORE', KEYS[1], member)
  local due = trouble_split(member)
  local rating_id = due[1]
  local stored = redis.call('HMGET', troubles, rating_id, rating_id .. ':p')
  if not score or tonumber(score) > now then
    skipped = skipped + 1
  elseif not stored[1] then
    -- Gone (deleted by hand): nothing to close.
    redis.call('ZREM', KEYS[1], member)
    skipped = skipped + 1
  else
    local t = trouble_split(stored[1])
    local at = tonumber(t[1])
    local progress = trouble_progress(stored[2])
    local k = progress[1] + 1
    local close_at = at + (trouble_windows[k] + trouble_grace_days) * day_ms
    if close_at > now then
      redis.call('ZADD', KEYS[1], close_at, member)
      skipped = skipped + 1
    else
      -- What was paid and how fast is read once, when the first window
      -- closes, and kept for the later ones (progress[8], progress[9]).
      local paid, tts
      if k == 1 then
        if t[3] == '' then
          paid, tts = 0, 'none'
        else
          local r = redis.call('HMGET', refund, 'state', 'updated_at_ms')
          tts = time_band(r[1], r[2], at)
          paid = (r[1] == 'SUCCEEDED') and tonumber(t[4]) or 0
        end
      else
        paid, tts = progress[8], progress[9]
      end
      local days = trouble_windows[k]
      local reordered, spend = progress[2 * k], progress[2 * k + 1]
      local cohort = table.concat({t[5], t[6], t[7], t[8], tts, t[9], t[10],
        t[11], t[2]}, '\t')
      add(KEYS[2], cohort, days, reordered, spend, paid)
      local subject = t[5] .. '\t' .. t[6] .. '\t' .. t[2]
      if t[12] ~= '' then add(store, subject, days, reordered, spend, paid) end
      if t[13] ~= '' then
        add(courier, subject, days, reordered, spend, paid)
      end
      closed = closed + 1
      if k == 3 then
        redis.call('HDEL', troubles, rating_id, rating_id .. ':p')
        redis.call('ZREM', KEYS[1], member)
      else
        progress[1] = k
        progress[8], progress[9] = paid, tts
        redis.call('HSET', troubles, rating_id .. ':p',
          table.concat(progress, ' '))
        redis.call('ZADD', KEYS[1],
          at + (trouble_windows[k + 1] + trouble_grace_days) * day_ms, member)
      end
    end
  end
end
return {closed, skipped}
