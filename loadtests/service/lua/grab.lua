-- One grab, atomically: dedupe by user, expiry/refund check, take the share, ledger append.
-- KEYS[1] {env:ID}:meta (hash)   KEYS[2] {env:ID}:users (hash user -> grab record)
-- KEYS[3] {env:ID}:shares (list, pre_split)   KEYS[4] {env:ID}:ledger (list)
-- ARGV[1] user   ARGV[2] request_id
-- ARGV[3] on_grab only: seq of the first candidate ('' = none yet)
-- ARGV[4] on_grab only: candidate pairs (remaining_cents before grab i, share of grab i) for
--         i = ARGV[3], ARGV[3]+1, ..., each number 16 zero-padded digits, computed by
--         kernels.next_share (stores/online_plan.py); applied only when both the seq and
--         remaining_cents match the current state (compare-and-set)
-- Returns {'repeat', record} | {'ok', record, remaining_cents}
--       | {'retry', remaining_cents, remaining_count, seq}  (on_grab: state changed, recompute)
--       | {'not_found'} | {'expired'} | {'sold_out'}
-- record = amount|seq|remaining_count_after|request_id|ts. Amounts stay decimal strings and
-- change only through HINCRBY (64-bit integers): no Lua doubles touch money.
local prior = redis.call('HGET', KEYS[2], ARGV[1])
if prior then return {'repeat', prior} end
local st = redis.call('HMGET', KEYS[1], 'mode', 'remaining_count', 'remaining_cents', 'seq',
                      'expires_at', 'refunded')
if not st[1] then return {'not_found'} end
local t = redis.call('TIME')
if st[6] == '1' or tonumber(t[1]) + tonumber(t[2]) / 1000000 >= tonumber(st[5]) then
  return {'expired'}
end
if st[2] == '0' then return {'sold_out'} end
local amount
if st[1] == 'pre_split' then
  amount = redis.call('LPOP', KEYS[3])
  if not amount then return redis.error_reply('shares list shorter than remaining_count') end
else
  local i = tonumber(st[4]) - (tonumber(ARGV[3]) or 1e18)
  local packed = ARGV[4] or ''
  local at = i * 32
  if i < 0 or at + 32 > #packed
     or string.match(string.sub(packed, at + 1, at + 16), '^0*(%d+)$') ~= st[3] then
    return {'retry', st[3], st[2], st[4]}
  end
  amount = string.match(string.sub(packed, at + 17, at + 32), '^0*(%d+)$')
end
local remaining_cents = st[3]
if amount ~= '0' then remaining_cents = redis.call('HINCRBY', KEYS[1], 'remaining_cents', '-' .. amount) end
local left = redis.call('HINCRBY', KEYS[1], 'remaining_count', -1)
redis.call('HINCRBY', KEYS[1], 'seq', 1)
local ts = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local record = amount .. '|' .. st[4] .. '|' .. left .. '|' .. ARGV[2] .. '|' .. ts
redis.call('HSET', KEYS[2], ARGV[1], record)
redis.call('RPUSH', KEYS[4], 'g|' .. ARGV[1] .. '|' .. record)
return {'ok', record, remaining_cents}  -- integer reply: exact below 2**53
