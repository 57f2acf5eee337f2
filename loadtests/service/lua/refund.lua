-- Refund an expired envelope's remainder to its sender, exactly once, atomically with grabs:
-- after this script no grab can succeed (grab.lua checks 'refunded' and the same clock).
-- KEYS[1] {env:ID}:meta   KEYS[2] {env:ID}:shares   KEYS[3] {env:ID}:ledger
-- ARGV[1] request_id
-- Returns {'ok', amount, sender} | {'not_found'} | {'already_refunded'} | {'not_expired'}
local st = redis.call('HMGET', KEYS[1], 'sender', 'remaining_cents', 'expires_at', 'refunded')
if not st[1] then return {'not_found'} end
if st[4] == '1' then return {'already_refunded'} end
local t = redis.call('TIME')
if tonumber(t[1]) + tonumber(t[2]) / 1000000 < tonumber(st[3]) then return {'not_expired'} end
redis.call('HSET', KEYS[1], 'refunded', '1', 'refunded_cents', st[2], 'remaining_cents', '0')
redis.call('DEL', KEYS[2])
local ts = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
redis.call('RPUSH', KEYS[3], 'r|' .. st[1] .. '|' .. st[2] .. '|' .. ARGV[1] .. '|' .. ts)
return {'ok', st[2], st[1]}
