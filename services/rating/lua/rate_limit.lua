-- require: gcra
-- Called only through services/rating/rate_limit_script.h
-- (BuildRateLimitCall, ParseRateLimitReply): KEYS, ARGV and the reply
-- below change together with it.
-- One GCRA limit (e.g. per calling client), on a key of its own, taking up to
-- ARGV[4] cells at once (a server's lease of its client's requests).
-- KEYS[1]  limiter key
-- ARGV[1]  interval ms, ARGV[2] burst, ARGV[3] shadow (0/1), ARGV[4] cells
-- Returns {allowed, would_reject, remaining, retry_after_ms, reset_ms,
--          granted}
local allowed, would, remaining, retry_after, reset, granted =
  gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
    tonumber(ARGV[4]))
return {allowed, would, remaining, math.ceil(retry_after), math.ceil(reset),
  granted}
