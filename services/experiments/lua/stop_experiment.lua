-- Stops a running experiment, atomically and once: by an operator
-- (STOPPED) or by a guardrail (TRIPPED). Every member is decided by the
-- active policy again once the replicas see it (within a poll).
-- KEYS[1] the index  KEYS[2] the experiment  KEYS[3] the audit trail
-- ARGV[1] name  ARGV[2] now ms  ARGV[3] who  ARGV[4] why
-- ARGV[5] STOPPED or TRIPPED
-- Returns {'OK'} | {'NOT_FOUND'} | {'ALREADY', state}
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return {'NOT_FOUND'} end
if state ~= 'RUNNING' then return {'ALREADY', state} end
redis.call('HSET', KEYS[2], 'state', ARGV[5], 'stopped_at_ms', ARGV[2],
  'stopped_by', ARGV[3], 'stop_reason', ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
if redis.call('HGET', KEYS[1], 'running') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'running')
end
redis.call('XADD', KEYS[3], '*', 'event',
  ARGV[5] == 'TRIPPED' and 'guardrail_tripped' or 'stopped',
  'experiment', ARGV[1], 'by', ARGV[3], 'detail', ARGV[4], 'at_ms', ARGV[2])
return {'OK'}
