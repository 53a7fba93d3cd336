-- Starts a policy experiment, atomically and once: its record, the index of
-- experiments (which also names the running one) and the audit trail.
-- KEYS[1] the index (mg:{x}:experiments: '<name>' -> state, 'running' ->
--         the running experiment's name)
-- KEYS[2] the experiment (mg:{x}:experiment:<name>)
-- KEYS[3] the audit trail (mg:{x}:experiments:audit)
-- ARGV[1] name  ARGV[2] now ms  ARGV[3] who  ARGV[4] Experiment bytes
-- ARGV[5] a summary for the audit trail
-- Returns {'OK'} | {'EXISTS'} (the name was used before)
--       | {'RUNNING', name} (another experiment runs)
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'EXISTS'} end
local running = redis.call('HGET', KEYS[1], 'running')
if running then return {'RUNNING', running} end
redis.call('HSET', KEYS[2], 'pb', ARGV[4], 'state', 'RUNNING')
redis.call('HSET', KEYS[1], ARGV[1], 'RUNNING', 'running', ARGV[1])
redis.call('XADD', KEYS[3], '*', 'event', 'started', 'experiment', ARGV[1],
  'by', ARGV[3], 'detail', ARGV[5], 'at_ms', ARGV[2])
return {'OK'}
