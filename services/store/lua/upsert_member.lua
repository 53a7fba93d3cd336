-- Creates or replaces a member profile, atomically.
-- KEYS[1]  member hash (mg:{p<N>}:member:<member_id>)
-- ARGV[1]  Member protobuf, deterministic serialization
-- ARGV[2]  tier
-- ARGV[3]  member_since, unix ms
-- ARGV[4]  flags, space separated
-- ARGV[5]  now, unix ms
-- Returns {"CREATED"} | {"UPDATED"} | {"UNCHANGED"}
local key = KEYS[1]
local stored = redis.call('HGET', key, 'pb')
if stored == ARGV[1] then
  return {'UNCHANGED'}
end
redis.call('HSET', key, 'pb', ARGV[1], 'tier', ARGV[2],
  'member_since_ms', ARGV[3], 'flags', ARGV[4], 'updated_at_ms', ARGV[5])
if not stored then
  redis.call('HSET', key, 'created_at_ms', ARGV[5])
  return {'CREATED'}
end
return {'UPDATED'}
