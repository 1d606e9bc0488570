-- wrk script for bench/events.sh: POST /app/sendmessage from 100 users to one
-- bot (one private chat per user), rotating over the users' tokens, so every
-- request produces one private_message event for the bot.
--   BINK_TOKENS    file with one user token a line (required)
--   BINK_BOT_ID    the bot's id, the target_user_id (required)
--   BINK_THREADS   wrk's -t (for the pacing arithmetic)            [2]
--   BINK_RATE      total requests/s to aim at; 0 = as fast as possible [0]
--   BINK_RESP_DIR  when set, each thread appends "t_us<TAB>status<TAB>
--                  message_id" to BINK_RESP_DIR/resp.<thread>.log for every
--                  response, t_us = CLOCK_REALTIME when wrk has parsed it
-- Content: with BINK_RATE > 0, "lat <t_send_us>" (the CLOCK_REALTIME
-- microsecond at which the request was built, right before it is written);
-- otherwise "tp" (prebuilt requests: no per-request Lua string building).
-- Pacing (BINK_RATE > 0): each thread keeps one schedule for all its
-- connections, one slot every BINK_THREADS/BINK_RATE seconds; delay() waits
-- for the next slot (open loop as long as a connection is free; a thread
-- more than 100 ms behind forgets the missed slots instead of bursting).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bink_timespec;
int clock_gettime(int clk, bink_timespec *tp);
]]
local ts = ffi.new("bink_timespec")
local function now_us()
  ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME, as the receiver
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local tokens = {}
local bot, rate, nthreads, interval_ms, sched, out, k
local prebuilt = {}

function init(args)
  local path = os.getenv("BINK_TOKENS")
  bot = os.getenv("BINK_BOT_ID")
  if not path or not bot then
    error("events_send.lua: set BINK_TOKENS and BINK_BOT_ID")
  end
  for line in io.lines(path) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  rate = tonumber(os.getenv("BINK_RATE") or "0") or 0
  nthreads = tonumber(os.getenv("BINK_THREADS") or "2") or 2
  if rate > 0 then interval_ms = 1000.0 * nthreads / rate end
  k = (tid or 1) * 7 -- different threads start on different users
  local dir = os.getenv("BINK_RESP_DIR")
  if dir and #dir > 0 then
    out = io.open(dir .. "/resp." .. (tid or 0) .. ".log", "w")
    out:setvbuf("line")
  end
  if rate <= 0 then
    local body = string.format(
      '{"target_user_id":"%s","message_type":"text","content":"tp"}', bot)
    for i, t in ipairs(tokens) do
      prebuilt[i] = wrk.format("POST", "/app/sendmessage",
        { ["Authorization"] = "Bearer " .. t,
          ["Content-Type"] = "application/json" }, body)
    end
  end
end

local function paced()
  local now = now_us() / 1000.0
  if sched == nil or sched < now - 100 then sched = now end
  local d = sched - now
  sched = sched + interval_ms
  if d < 0 then return 0 end
  return math.floor(d)
end

-- wrk adds a timer per request when delay() exists: define it only when pacing
if (tonumber(os.getenv("BINK_RATE") or "0") or 0) > 0 then delay = paced end

function request()
  k = k + 1
  local i = (k % #tokens) + 1
  if rate <= 0 then return prebuilt[i] end
  local body = string.format(
    '{"target_user_id":"%s","message_type":"text","content":"lat %.0f"}',
    bot, now_us())
  return wrk.format("POST", "/app/sendmessage",
    { ["Authorization"] = "Bearer " .. tokens[i],
      ["Content-Type"] = "application/json" }, body)
end

if os.getenv("BINK_RESP_DIR") and #os.getenv("BINK_RESP_DIR") > 0 then
  function response(status, headers, body)
    local t = now_us()
    local mid = body and body:match('"message_id"%s*:%s*"([^"]+)"') or "-"
    out:write(string.format("%.0f\t%d\t%s\n", t, status, mid))
  end
end
