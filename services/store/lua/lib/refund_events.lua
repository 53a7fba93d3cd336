-- Refund state transitions. Every transition bumps the refund's event
-- sequence, appends an event to the refund's own append-only stream (who,
-- why, when) and a notice to the partition's refund feed, which WatchRefund
-- follows. Never trimmed: the events stream is the refund's audit trail.
--   refund_key  hash mg:{p<N>}:refund:<id>
--   events_key  stream mg:{p<N>}:refund:<id>:events
--   feed_key    stream mg:{p<N>}:refund_feed (trimmed to ~10000 entries)
--   extra       flat list of further hash fields to set (may be empty)
local function refund_transition(refund_key, events_key, feed_key, refund_id,
    new_state, actor, reason, now, extra)
  local cur = redis.call('HMGET', refund_key, 'state', 'seq')
  local seq = tonumber(cur[2] or '0') + 1
  local fields = {'state', new_state, 'state_reason', reason,
    'updated_at_ms', now, 'seq', tostring(seq)}
  for i = 1, #extra do table.insert(fields, extra[i]) end
  redis.call('HSET', refund_key, unpack(fields))
  local event = {'seq', tostring(seq), 'from', cur[1] or '', 'to', new_state,
    'actor', actor, 'reason', reason, 'at_ms', now}
  for i = 1, #extra do table.insert(event, extra[i]) end
  redis.call('XADD', events_key, '*', unpack(event))
  redis.call('XADD', feed_key, 'MAXLEN', '~', '10000', '*',
    'refund_id', refund_id, 'seq', tostring(seq), 'state', new_state)
  return seq
end
