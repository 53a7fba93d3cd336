-- Records this deployment's partition count and schema version on first use
-- and returns what is recorded, so a server configured differently can refuse
-- to serve instead of writing keys where nobody will look. Being a write, it
-- also fails on a read-only replica, which is not a usable primary.
-- KEYS[1]  mg:meta
-- ARGV[1]  partitions
-- ARGV[2]  schema version
-- Returns {partitions, schema_version} as recorded.
redis.call('HSETNX', KEYS[1], 'partitions', ARGV[1])
redis.call('HSETNX', KEYS[1], 'schema_version', ARGV[2])
return redis.call('HMGET', KEYS[1], 'partitions', 'schema_version')
