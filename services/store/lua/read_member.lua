-- A member's profile and stats hash, read together so they are consistent
-- (GetTrust).
-- KEYS[1] member profile  KEYS[2] member stats
-- Returns {member_pb or false, stats (flat HGETALL)}
return {redis.call('HGET', KEYS[1], 'pb'), redis.call('HGETALL', KEYS[2])}
