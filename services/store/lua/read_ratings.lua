-- The rating records of one partition committed in a time window, oldest
-- first (SimulatePolicy over recorded decisions). Reads only.
-- KEYS[1] ratings by time (sorted set: score = committed ms, member = id)
-- ARGV[1] partition key prefix of the records, e.g. "mg:{p7}:rating:"
-- ARGV[2] window start ms (inclusive)  ARGV[3] window end ms (exclusive)
-- ARGV[4] at most this many records
-- Returns {id, score, record bytes, id, score, record bytes, ...}; an index
-- entry whose record is missing is left out.
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '(' .. ARGV[3],
  'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for i = 1, #entries, 2 do
  local pb = redis.call('HGET', ARGV[1] .. entries[i], 'pb')
  if pb then
    table.insert(out, entries[i])
    table.insert(out, entries[i + 1])
    table.insert(out, pb)
  end
end
return out
