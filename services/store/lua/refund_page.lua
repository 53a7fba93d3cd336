-- The index half of one page of a refund index (newest first): the entries
-- after the cursor among the next page size + 64 (the caller then reads the
-- refunds with read_hashes.lua, skips any whose record is gone, and takes a
-- page).
-- KEYS[1] index (sorted set: score = created ms, member = refund id)
-- ARGV[1] cursor score ("+inf" for the first page)
-- ARGV[2] cursor refund id ("" for the first page): the page starts after it
-- ARGV[3] page size
-- Returns {id, score, id, score, ...}, newest first.
local entries = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf',
  'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]) + 64)
local out = {}
local started = ARGV[2] == ''
for i = 1, #entries, 2 do
  local id, score = entries[i], entries[i + 1]
  if not started then
    -- Same-score entries come in reverse lexicographic order; skip up to and
    -- including the cursor.
    if score ~= ARGV[1] or id < ARGV[2] then started = true end
  end
  if started then
    table.insert(out, id)
    table.insert(out, score)
  end
end
return out
