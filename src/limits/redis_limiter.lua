-- One batch of decisions, in order, each as MemoryLimiter makes it (see redis_limiter.hpp for
-- the keys and fields). A subject's hash is read once, kept in a Lua table while the batch
-- runs and written once at the end.
--
-- KEYS: two per subject of the batch: s:S (hash), c:S (leases: reservation id -> expiry).
-- ARGV[1]: one MessagePack array (decoded by Redis' cmsgpack into one table of Lua numbers and
-- strings): the batch's subjects with their limits, each (subject, policy) pair once, then the
-- operations, one after another, naming subjects by their 1-based place in that list:
--   N  {key rpm tpm conc dtok mtok dcost mcost}*N     (key: 1-based index into KEYS' pairs)
--   R now id tokens cost lease day month_end n {subject}*n
--   S now id reserved_at token_delta cost_delta day month_end lease n {subject}*n
--   P now n {subject}*n
-- A settlement's subject carries the policy it was reserved under: what the reservation was
-- counted in. Returns one MessagePack array of integers (cmsgpack.pack): per R and P, in order
-- (nothing for S): admitted, reason (limits::Reason),
-- refusing subject (0-based within the operation), retry_ms, then for each of its subjects the
-- requests and tokens in its window and its newest counted second (-1: none).

local A, tn, floor, call = cmsgpack.unpack(ARGV[1]), tonumber, math.floor, redis.call
local DAY = 86400000
-- Numbers go to redis.call as they are: it formats them with %.17g, exact for whole numbers
-- up to 2^53 (costs are nanodollars: 2^53 is some 9 million dollars).

-- Bucket field names, made once per batch ('r' .. b formats a number each time).
local rname, tname = {}, {}
local function rf(b) local f = rname[b]; if not f then f = 'r' .. b; rname[b] = f end; return f end
local function tf(b) local f = tname[b]; if not f then f = 't' .. b; tname[b] = f end; return f end

-- A subject's state, read on first use and written back once at the end of the batch.
-- b0: the bucket of the batch's first operation, read along (most operations count in it).
-- k: until when the hash's TTL keeps it; le: the same for the leases (TTLs are set with a
-- minute to spare, so that they are renewed about once a minute, not on every batch).
-- cc: leases held (expired ones included until a purge); ln: no lease expires before it.
local states = {}
local function load(i, b0)
  local s = states[i]
  if s then return s end
  local v = call('HMGET', KEYS[2 * i - 1], 'lo', 'hi', 'rs', 'ts', 'd', 'dt', 'dc', 'm', 'mt', 'mc',
                 'k', 'le', 'cc', 'ln', rf(b0), tf(b0))
  s = {i = i, lo = tn(v[1]), hi = tn(v[2]), rs = tn(v[3]) or 0, ts = tn(v[4]) or 0,
       d = tn(v[5]), dt = tn(v[6]) or 0, dc = tn(v[7]) or 0,
       m = tn(v[8]), mt = tn(v[9]) or 0, mc = tn(v[10]) or 0, k = tn(v[11]) or 0,
       le = tn(v[12]) or 0, cc = tn(v[13]) or 0, ln = tn(v[14]),
       r = {}, t = {}, db = {}, gone = {}, dirty = false, now = 0, lease_end = 0, adds = {}, rems = {}}
  s.fresh = s.cc == 0  -- no lease is held: the leases hash does not exist (or only stale ones)
  if s.lo and b0 >= s.lo and b0 <= s.hi then s.r[b0], s.t[b0] = tn(v[15]) or 0, tn(v[16]) or 0 end
  states[i] = s
  return s
end

-- Reads the buckets from..to not known yet (none exists after hi).
local function fetch(s, from, to)
  local fields, idx = {}, {}
  for b = from, to do
    if s.r[b] == nil then
      if s.hi and b <= s.hi then
        fields[#fields + 1] = rf(b)
        fields[#fields + 1] = tf(b)
        idx[#idx + 1] = b
      else
        s.r[b], s.t[b] = 0, 0
      end
    end
  end
  if #fields == 0 then return end
  local v = call('HMGET', KEYS[2 * s.i - 1], unpack(fields))
  for k, b in ipairs(idx) do
    s.r[b] = tn(v[2 * k - 1]) or 0
    s.t[b] = tn(v[2 * k]) or 0
  end
end

-- Drops the buckets that have left the window at `now` (bucket b counts until (b + 61) s).
local function advance(s, now)
  if now > s.now then s.now = now end
  local lo = s.lo
  if not lo then return end
  local last = floor(now / 1000) - 61
  if lo > last then return end
  local all = s.hi <= last
  local to = last
  if all then to = s.hi else fetch(s, lo, last) end
  for b = lo, to do
    if not all then s.rs = s.rs - s.r[b]; s.ts = s.ts - s.t[b] end
    s.gone[#s.gone + 1] = rf(b)
    s.gone[#s.gone + 1] = tf(b)
    s.r[b], s.t[b], s.db[b] = 0, 0, nil
  end
  if all then s.lo, s.hi, s.rs, s.ts = nil, nil, 0, 0 else s.lo = last + 1 end
  s.dirty = true
end

-- Drops the expired leases and recounts (only when a concurrency limit would refuse and some
-- lease may have expired): the batch's own adds and removals are written first.
local function purge(s, now)
  local key = KEYS[2 * s.i]
  local adds = {}
  for id, expiry in pairs(s.adds) do adds[#adds + 1] = id; adds[#adds + 1] = expiry end
  if #adds > 0 then call('HSET', key, unpack(adds)) end
  if #s.rems > 0 then call('HDEL', key, unpack(s.rems)) end
  s.adds, s.rems = {}, {}
  local all = call('HGETALL', key)
  local expired, count, earliest = {}, 0, nil
  for k = 1, #all, 2 do
    local expiry = tn(all[k + 1])
    if expiry <= now then
      expired[#expired + 1] = all[k]
    else
      count = count + 1
      if not earliest or expiry < earliest then earliest = expiry end
    end
  end
  if #expired > 0 then call('HDEL', key, unpack(expired)) end
  s.cc, s.ln, s.dirty, s.purged = count, earliest, true, true
end

-- When enough of the window (field r: requests, t: tokens) has left for `need` more.
local function retry_at(s, f, used, need, limit, now)
  fetch(s, s.lo, s.hi)
  local freed, counts = 0, s[f]
  for b = s.lo, s.hi do
    freed = freed + counts[b]
    if used - freed + need <= limit then return (b + 61) * 1000 - now end
  end
  return 0
end

-- An answer: the decision, then each subject's window as it is now (requests, tokens, newest
-- counted second or -1); the caller folds them into its headers (limits::Tighten).
local out, no = {}, 0
local function answer(admitted, reason, refusing, retry, subs, c)
  if retry < 0 then retry = 0 end
  out[no + 1], out[no + 2], out[no + 3], out[no + 4] = admitted, reason, refusing, retry
  no = no + 4
  for k = 1, c do
    local s = subs[k].s
    out[no + 1], out[no + 2], out[no + 3] = s.rs, s.ts, s.hi or -1
    no = no + 3
  end
end

local subjects, subs = {}, {}
local p = 2
local count = A[1]
local b0 = floor((A[2 + 8 * count + 1] or 0) / 1000)
for k = 1, count do
  subjects[k] = {s = load(A[p], b0), rpm = A[p + 1], tpm = A[p + 2], conc = A[p + 3],
                 dtok = A[p + 4], mtok = A[p + 5], dcost = A[p + 6], mcost = A[p + 7]}
  p = p + 8
end

local n = #A
while p <= n do
  local op, now, id = A[p], A[p + 1], A[p + 2]
  if op == 'R' then
    local tokens, cost, lease, day, month, c = A[p + 3], A[p + 4], A[p + 5], A[p + 6], A[p + 7], A[p + 8]
    p = p + 9
    for k = 1, c do
      local x = subjects[A[p]]
      p = p + 1
      subs[k] = x
      local s = x.s
      advance(s, now)
      if (x.dtok > 0 or x.dcost > 0) and (not s.d or day > s.d) then
        s.d, s.dt, s.dc, s.dirty = day, 0, 0, true
      end
      if (x.mtok > 0 or x.mcost > 0) and (not s.m or month > s.m) then
        s.m, s.mt, s.mc, s.dirty = month, 0, 0, true
      end
    end
    local day_end = (day + 1) * DAY
    local reason, refusing, retry = 0, 0, 0
    for k = 1, c do
      local x = subs[k]
      local s = x.s
      refusing = k - 1
      if x.rpm > 0 and s.rs + 1 > x.rpm then
        reason, retry = 1, retry_at(s, 'r', s.rs, 1, x.rpm, now)
        break
      end
      if x.tpm > 0 then
        if tokens > x.tpm then reason = 3; break end
        if s.ts + tokens > x.tpm then
          reason, retry = 2, retry_at(s, 't', s.ts, tokens, x.tpm, now)
          break
        end
      end
      if x.conc > 0 then
        if s.cc + 1 > x.conc and s.ln and now >= s.ln then purge(s, now) end
        if s.cc + 1 > x.conc then reason, retry = 4, 1000; break end
      end
      if x.dtok > 0 and s.dt + tokens > x.dtok then reason, retry = 5, day_end - now; break end
      if x.mtok > 0 and s.mt + tokens > x.mtok then reason, retry = 6, month - now; break end
      if x.dcost > 0 and s.dc + cost > x.dcost then reason, retry = 7, day_end - now; break end
      if x.mcost > 0 and s.mc + cost > x.mcost then reason, retry = 8, month - now; break end
    end
    if reason == 0 then
      refusing = 0
      local b0 = floor(now / 1000)
      for k = 1, c do
        local x = subs[k]
        local s = x.s
        s.dirty = true
        if x.rpm > 0 or x.tpm > 0 then
          local b = b0
          if s.lo and b < s.lo then b = s.lo end
          if s.r[b] == nil then fetch(s, b, b) end
          s.r[b], s.t[b], s.db[b] = s.r[b] + 1, s.t[b] + tokens, true
          s.rs, s.ts = s.rs + 1, s.ts + tokens
          if not s.lo then s.lo = b end
          if not s.hi or b > s.hi then s.hi = b end
        end
        if x.conc > 0 then
          local expiry = now + lease
          s.adds[id] = expiry  -- one HSET at the end of the batch
          s.cc = s.cc + 1
          if not s.ln or expiry < s.ln then s.ln = expiry end
          if expiry > s.lease_end then s.lease_end = expiry end
        end
        if x.dtok > 0 or x.dcost > 0 then s.dt, s.dc = s.dt + tokens, s.dc + cost end
        if x.mtok > 0 or x.mcost > 0 then s.mt, s.mc = s.mt + tokens, s.mc + cost end
      end
    end
    answer(reason == 0 and 1 or 0, reason, refusing, retry, subs, c)
  elseif op == 'S' then
    local reserved_at, dtok, dcost = A[p + 3], A[p + 4], A[p + 5]
    local day, month, lease, c = A[p + 6], A[p + 7], A[p + 8], A[p + 9]
    p = p + 10
    local b = floor(reserved_at / 1000)
    for _ = 1, c do
      local x = subjects[A[p]]
      p = p + 1
      local s = x.s
      advance(s, now)
      if (x.rpm > 0 or x.tpm > 0) and s.lo and b >= s.lo and b <= s.hi then
        if s.r[b] == nil then fetch(s, b, b) end
        s.t[b], s.ts, s.db[b], s.dirty = s.t[b] + dtok, s.ts + dtok, true, true
      end
      if x.conc > 0 then
        if s.adds[id] then
          s.adds[id] = nil
          s.cc = s.cc - 1
        else
          s.rems[#s.rems + 1] = id  -- one HDEL at the end of the batch
          -- A lease still running cannot have been purged, so it is still counted.
          if now < reserved_at + lease and s.cc > 0 then s.cc = s.cc - 1 end
        end
        s.dirty = true
      end
      if (x.dtok > 0 or x.dcost > 0) and s.d == day then
        s.dt, s.dc, s.dirty = s.dt + dtok, s.dc + dcost, true
      end
      if (x.mtok > 0 or x.mcost > 0) and s.m == month then
        s.mt, s.mc, s.dirty = s.mt + dtok, s.mc + dcost, true
      end
    end
  elseif op == 'P' then
    local c = A[p + 2]
    p = p + 3
    for k = 1, c do
      local x = subjects[A[p]]
      p = p + 1
      subs[k] = x
      advance(x.s, now)
    end
    answer(1, 0, 0, 0, subs, c)
  else
    return redis.error_reply('ERR bad operation ' .. tostring(op))
  end
end

for _, s in pairs(states) do
  local key, leases_key = KEYS[2 * s.i - 1], KEYS[2 * s.i]
  if #s.rems > 0 then call('HDEL', leases_key, unpack(s.rems)) end
  local adds = {}
  for id, expiry in pairs(s.adds) do adds[#adds + 1] = id; adds[#adds + 1] = expiry end
  if #adds > 0 then call('HSET', leases_key, unpack(adds)) end
  -- (a purge may have written this batch's leases already: lease_end, not adds, says so)
  if s.lease_end > 0 and (s.fresh or s.purged or s.lease_end > s.le) then
    call('PEXPIRE', leases_key, s.lease_end - s.now + 61000)
    s.le, s.dirty = s.lease_end + 60000, true
  end
  if s.dirty then
    local set, gone = {}, s.gone
    if s.lo then
      set[1], set[2], set[3], set[4] = 'lo', s.lo, 'hi', s.hi
      set[5], set[6], set[7], set[8] = 'rs', s.rs, 'ts', s.ts
      for b in pairs(s.db) do
        set[#set + 1] = rf(b); set[#set + 1] = s.r[b]
        set[#set + 1] = tf(b); set[#set + 1] = s.t[b]
      end
    else
      gone[#gone + 1] = 'lo'; gone[#gone + 1] = 'hi'; gone[#gone + 1] = 'rs'; gone[#gone + 1] = 'ts'
    end
    if s.d then
      set[#set + 1] = 'd'; set[#set + 1] = s.d
      set[#set + 1] = 'dt'; set[#set + 1] = s.dt
      set[#set + 1] = 'dc'; set[#set + 1] = s.dc
    end
    if s.m then
      set[#set + 1] = 'm'; set[#set + 1] = s.m
      set[#set + 1] = 'mt'; set[#set + 1] = s.mt
      set[#set + 1] = 'mc'; set[#set + 1] = s.mc
    end
    if s.cc > 0 then
      set[#set + 1] = 'cc'; set[#set + 1] = s.cc
      if s.ln then set[#set + 1] = 'ln'; set[#set + 1] = s.ln end
    else
      gone[#gone + 1] = 'cc'; gone[#gone + 1] = 'ln'
    end
    -- Kept until its newest bucket leaves the window, its day or month ends, or its leases'
    -- TTL runs out; the TTL is renewed only when that moves past the minute to spare.
    local keep = 0
    if s.hi then keep = (s.hi + 61) * 1000 end
    if s.d and (s.d + 1) * DAY > keep then keep = (s.d + 1) * DAY end
    if s.m and s.m > keep then keep = s.m end
    if s.le > keep then keep = s.le end
    if keep <= s.now then
      call('DEL', key)
    else
      local renew = keep > s.k
      if renew then set[#set + 1] = 'k'; set[#set + 1] = keep + 60000 end
      if s.le > 0 then set[#set + 1] = 'le'; set[#set + 1] = s.le end
      if #gone > 0 then call('HDEL', key, unpack(gone)) end
      if #set > 0 then call('HSET', key, unpack(set)) end
      if renew then call('PEXPIRE', key, keep - s.now + 61000) end
    end
  end
end
return cmsgpack.pack(out)
