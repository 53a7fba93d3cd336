-- Reversing the courier/store feedback a rating caused, exactly once per
-- feedback event, by whichever comes first: an abuse correction
-- (mark_abusive.lua, reason code 'claim_abusive') or an upheld appeal
-- (services/feedback/lua/decide_appeal.lua, 'appeal_upheld'). Both write the
-- same `feedback_reversed` event on the feedback stream, so downstream
-- consumers see one kind of reversal.
-- The rating hash keeps `feedback` = space separated kind|target|appeal items
-- (commit_rating.lua) and, per reversed item, `rev:<appeal id>` = the reason
-- code of its reversal: the exactly-once mark.
--   rating_key    hash mg:{p<N>}:rating:<rating_id>
--   feedback_key  stream mg:{p<N>}:fu:feedback

-- Calls fn(kind, target, appeal) for each feedback item of a rating.
local function each_feedback(feedback, fn)
  for item in string.gmatch(feedback or '', '%S+') do
    local kind, target, appeal = string.match(item, '^([^|]*)|([^|]*)|(.*)$')
    if kind then fn(kind, target, appeal) end
  end
end

-- The kind and target of the rating's feedback item `appeal_id`, or nil.
local function feedback_item(rating_key, appeal_id)
  local found_kind, found_target = nil, nil
  each_feedback(redis.call('HGET', rating_key, 'feedback'),
    function(kind, target, appeal)
      if appeal == appeal_id then found_kind, found_target = kind, target end
    end)
  return found_kind, found_target
end

-- The reason code of the item's reversal, or nil if it stands. With the
-- rating's refund (refund_key), a claim marked abusive before reversals were
-- marked per item (mark_abusive.lua before appeals existed reversed every
-- item of the rating) counts as 'claim_abusive' too.
local function feedback_reversal(rating_key, appeal, refund_key)
  local by = redis.call('HGET', rating_key, 'rev:' .. appeal)
  if by then return by end
  if refund_key and redis.call('HGET', refund_key, 'abusive') == '1' then
    return 'claim_abusive'
  end
  return nil
end

-- Writes the reversal event of one feedback item unless the item was
-- reversed before; true if it wrote it now.
local function reverse_feedback(rating_key, feedback_key, kind, target,
    appeal, order_id, rating_id, reason_code, now)
  if redis.call('HSETNX', rating_key, 'rev:' .. appeal, reason_code) == 0 then
    return false
  end
  redis.call('XADD', feedback_key, 'MAXLEN', '~', '1000000', '*',
    'kind', 'feedback_reversed', 'reversed_kind', kind,
    'appeal_id', appeal, 'target_id', target, 'order_id', order_id,
    'rating_id', rating_id, 'reason_codes', reason_code,
    'at_ms', now)
  return true
end
