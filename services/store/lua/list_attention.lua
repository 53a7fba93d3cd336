-- One partition's refunds needing an operator (NEEDS_ATTENTION), oldest
-- first, from a cursor on, with the refunds themselves.
-- KEYS[1] attention index (sorted set: score = ms the refund was set aside,
--         member = refund id)
-- ARGV[1] partition key prefix, e.g. "mg:{p7}:refund:"
-- ARGV[2] cursor score ("-inf" for the first page)
-- ARGV[3] cursor refund id ("" for the first page)
-- ARGV[4] this many after the cursor
-- Every entry at the cursor's score is returned too (ties are ordered by id
-- in the caller, where byte order is certain: Lua compares strings by the
-- server's locale), so the caller drops (score, id) <= the cursor.
-- Returns {count in the index, then per refund: id, since_ms, pb, state,
--   state_reason, updated_at_ms, instrument, provider, attempts}
local size = tonumber(ARGV[4])
if ARGV[3] ~= '' then
  size = size + redis.call('ZCOUNT', KEYS[1], ARGV[2], ARGV[2])
end
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf',
  'WITHSCORES', 'LIMIT', 0, size)
local out = {redis.call('ZCARD', KEYS[1])}
for i = 1, #entries, 2 do
  local id, score = entries[i], entries[i + 1]
  local r = redis.call('HMGET', ARGV[1] .. id, 'pb', 'state',
    'state_reason', 'updated_at_ms', 'instrument', 'provider', 'attempts')
  if r[1] then
    table.insert(out, id)
    table.insert(out, score)
    for j = 1, 7 do table.insert(out, r[j] or '') end
  end
end
return out
