-- Called only through services/rating/release_script.h
-- (BuildReleaseCall, ParseReleaseReply): KEYS, ARGV and the reply
-- below change together with it.
-- Gives up a claim that will not be committed (a later check failed, the
-- decision could not be made, or Redis failed mid-way), so a retry with the
-- same key can proceed at once instead of waiting for the lease to lapse.
-- Only an in-flight claim holding this token is released: a completed
-- record is never touched.
-- KEYS[1] idempotency record
-- ARGV[1] claim token
-- Returns 1 if released, 0 otherwise.
local idem = redis.call('HMGET', KEYS[1], 'state', 'token')
if idem[1] == 'inflight' and idem[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
