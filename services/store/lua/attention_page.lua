-- The index half of one partition's page of refunds needing an operator
-- (NEEDS_ATTENTION), oldest first, from a cursor on; the caller then reads
-- the refunds (read_hashes.lua).
-- KEYS[1] attention index (sorted set: score = ms the refund was set aside,
--         member = refund id)
-- ARGV[1] cursor score ("-inf" for the first page)
-- ARGV[2] cursor refund id ("" for the first page)
-- ARGV[3] this many after the cursor
-- Every entry at the cursor's score is returned too (ties are ordered by id
-- in the caller, where byte order is certain: Lua compares strings by the
-- server's locale), so the caller drops (score, id) <= the cursor.
-- Returns {count in the index, id, score, id, score, ...}
local size = tonumber(ARGV[3])
if ARGV[2] ~= '' then
  size = size + redis.call('ZCOUNT', KEYS[1], ARGV[1], ARGV[1])
end
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf',
  'WITHSCORES', 'LIMIT', 0, size)
local out = {redis.call('ZCARD', KEYS[1])}
for i = 1, #entries do table.insert(out, entries[i]) end
return out
