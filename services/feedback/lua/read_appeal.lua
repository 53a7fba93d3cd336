-- require: feedback_reversal
-- GetAppeal: an appeal, whether its feedback is reversed now (by it or by an
-- abuse correction made at any time), and with ARGV[2] = '1' its audit
-- trail, read at one instant.
-- KEYS[1] appeal hash   KEYS[2] rating hash   KEYS[3] appeal events
-- KEYS[4] the rating's refund (may not exist)
-- ARGV[1] appeal id  ARGV[2] '1' to include the events
-- Returns {'MISSING'}
--   | {'OK', reversed by ('' if it stands), field count, field, value, ...,
--      event, event, ...} where each event is XRANGE's {id, {field, value...}}
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return {'MISSING'} end
local out = {'OK', feedback_reversal(KEYS[2], ARGV[1], KEYS[4]) or '',
  tostring(#fields)}
for _, v in ipairs(fields) do table.insert(out, v) end
if ARGV[2] == '1' then
  for _, e in ipairs(redis.call('XRANGE', KEYS[3], '-', '+')) do
    table.insert(out, e)
  end
end
return out
