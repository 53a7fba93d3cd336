-- Reads the same fields of several hashes of one partition in one atomic
-- step: the second half of a listing, once the first half (an index read)
-- has named the records. Every key is passed in KEYS, as Redis Cluster
-- needs (see tests/testing/script_key_audit.h).
-- KEYS    the hashes
-- ARGV    the fields
-- Returns, per key, the HMGET answer (missing fields and hashes as nil).
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HMGET', KEYS[i], unpack(ARGV))
end
return out
