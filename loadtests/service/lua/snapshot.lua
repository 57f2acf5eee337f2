-- One envelope's state and ledger, read atomically (so the audit sees them agree), with the
-- server's clock (the one grab.lua and refund.lua judge expiry by).
-- KEYS[1] {env:ID}:meta   KEYS[2] {env:ID}:ledger
-- Returns {meta as a flat field/value list, ledger entries, {seconds, microseconds}}
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1), redis.call('TIME')}
