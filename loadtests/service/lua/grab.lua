-- A batch of grabs, atomically: for each group (one envelope), in order, each grab exactly as if
-- it ran alone: dedupe by user, expiry/refund check, sold out, take the share, ledger append.
-- Per group g (0-based), KEYS[4g+1..4g+4]: {env:ID}:meta (hash), {env:ID}:users (hash user ->
-- grab record), {env:ID}:shares (list, pre_split), {env:ID}:ledger (list). ARGV, group after group:
--   n               grabs in the group
--   window_seq      on_grab only: seq of the first candidate pair ('' = none yet)
--   window          on_grab only: candidate pairs (remaining_cents before grab i, share of grab i)
--                   for i = window_seq, window_seq+1, ..., each number 16 zero-padded digits,
--                   computed by kernels.next_share (stores/online_plan.py); a pair is applied only
--                   when both its seq and remaining_cents match the current state (compare-and-set)
--   user_1, request_id_1, ..., user_n, request_id_n
-- Returns, group after group, one entry per grab, then the group's state after it,
-- 'remaining_cents|remaining_count|seq' ('' if the envelope does not exist). Entries:
--   'o' .. record (granted)  'r' .. record (a repeat: the user's first grab)  'x' (on_grab: the
--   state moved on, recompute from the group's state)  'n' (not found)  'e' (expired)  's' (sold out)
-- record = amount|seq|remaining_count_after|request_id|ts. Amounts stay the exact decimal strings
-- they were stored or offered as; sums are Lua doubles, exact because totals are <= 10**12 < 2**53
-- (validation.MAX_TOTAL_CENTS), and are written back with %d.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ts = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local out, a = {}, 1
for g = 0, #KEYS / 4 - 1 do
  local meta, users, shares, ledger = KEYS[4 * g + 1], KEYS[4 * g + 2], KEYS[4 * g + 3], KEYS[4 * g + 4]
  local n, base, packed = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]
  local first = a + 3
  a = first + 2 * n
  local names = {}
  for i = 1, n do names[i] = ARGV[first + 2 * i - 2] end
  local st = redis.call('HMGET', meta, 'mode', 'remaining_count', 'remaining_cents', 'seq', 'expires_at', 'refunded')
  if not st[1] then
    for i = 1, n do out[#out + 1] = 'n' end
    out[#out + 1] = ''
  else
    local prior = redis.call('HMGET', users, unpack(names))
    local expired = st[6] == '1' or now >= tonumber(st[5])
    local left, cents, seq = tonumber(st[2]), tonumber(st[3]), tonumber(st[4])
    local pre_split = st[1] == 'pre_split'
    local popped = {}
    if pre_split and not expired and left > 0 then  -- pop exactly the shares the new grabs take
      local fresh, seen = 0, {}
      for i = 1, n do
        if not prior[i] and not seen[names[i]] then seen[names[i]] = true; fresh = fresh + 1 end
      end
      if fresh > left then fresh = left end
      if fresh > 0 then
        popped = redis.call('LPOP', shares, fresh)
        if not popped or #popped < fresh then
          return redis.error_reply('shares list shorter than remaining_count')
        end
      end
    end
    local done, records, entries, taken, cents0, missed = {}, {}, {}, 0, cents, false
    for i = 1, n do
      local user = names[i]
      local r = prior[i] or done[user]
      if r then out[#out + 1] = 'r' .. r
      elseif expired then out[#out + 1] = 'e'
      elseif left == 0 then out[#out + 1] = 's'
      else
        local amount
        if pre_split then
          amount = popped[taken + 1]
        elseif not missed and base then
          local at = (seq - base) * 32
          if at >= 0 and at + 32 <= #packed and tonumber(string.sub(packed, at + 1, at + 16)) == cents then
            amount = string.match(string.sub(packed, at + 17, at + 32), '^0*(%d+)$')
          end
        end
        if amount then
          taken = taken + 1
          cents = cents - tonumber(amount)
          left = left - 1
          local record = amount .. '|' .. seq .. '|' .. left .. '|' .. ARGV[first + 2 * i - 1] .. '|' .. ts
          seq = seq + 1
          done[user] = record
          records[#records + 1] = user
          records[#records + 1] = record
          entries[#entries + 1] = 'g|' .. user .. '|' .. record
          out[#out + 1] = 'o' .. record
        else
          missed = true  -- compare-and-set failed: nothing more of this group can match
          out[#out + 1] = 'x'
        end
      end
    end
    if taken > 0 then
      redis.call('HINCRBY', meta, 'remaining_cents', string.format('%d', cents - cents0))
      redis.call('HINCRBY', meta, 'remaining_count', -taken)
      redis.call('HINCRBY', meta, 'seq', taken)
      redis.call('HSET', users, unpack(records))
      redis.call('RPUSH', ledger, unpack(entries))
    end
    out[#out + 1] = string.format('%d', cents) .. '|' .. left .. '|' .. seq
  end
end
return out
