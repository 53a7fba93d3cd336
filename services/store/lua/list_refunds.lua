-- One page of a refund index (newest first) with the refunds themselves.
-- KEYS[1] index (sorted set: score = created ms, member = refund id)
-- ARGV[1] partition key prefix, e.g. "mg:{p7}:refund:"
-- ARGV[2] cursor score ("+inf" for the first page)
-- ARGV[3] cursor refund id ("" for the first page): the page starts after it
-- ARGV[4] page size
-- Returns {per refund: pb, state, state_reason, updated_at_ms, instrument;
--   then next_score or '', next_id or ''}
local size = tonumber(ARGV[4])
local entries = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], '-inf',
  'WITHSCORES', 'LIMIT', 0, size + 64)
local out = {}
local last_score, last_id = '', ''
local started = ARGV[3] == ''
local more = false
local n = 0
for i = 1, #entries, 2 do
  local id, score = entries[i], entries[i + 1]
  if not started then
    -- Same-score entries come in reverse lexicographic order; skip up to and
    -- including the cursor.
    if score ~= ARGV[2] or id < ARGV[3] then started = true end
  end
  if started then
    if n == size then more = true break end
    local r = redis.call('HMGET', ARGV[1] .. id, 'pb', 'state',
      'state_reason', 'updated_at_ms', 'instrument')
    if r[1] then
      for j = 1, 5 do table.insert(out, r[j] or '') end
      n = n + 1
    end
    last_score, last_id = score, id
  end
end
if more then
  table.insert(out, last_score)
  table.insert(out, last_id)
else
  table.insert(out, '')
  table.insert(out, '')
end
return out
