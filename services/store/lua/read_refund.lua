-- A refund as it stands, and the id of its latest event (so a watcher can
-- follow the events stream from exactly there).
-- KEYS[1] refund hash  KEYS[2] refund events stream
-- Returns {} if absent, else {pb, state, state_reason, updated_at_ms,
--   instrument, last event id ('0-0' if none)}
local r = redis.call('HMGET', KEYS[1], 'pb', 'state', 'state_reason',
  'updated_at_ms', 'instrument')
if not r[1] then return {} end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local last_id = '0-0'
if #last > 0 then last_id = last[1][1] end
return {r[1], r[2] or '', r[3] or '', r[4] or '', r[5] or '', last_id}
