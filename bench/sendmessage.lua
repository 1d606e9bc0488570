-- wrk script: POST /bot/sendmessage, a short text to a group.
--   BINK_TOKEN     bot token (required)
--   BINK_GROUP_ID  group the bot is a member of (required)
--   BINK_TEXT      message text (optional)
-- The body is built once: every request sends the same text, so wrk's Lua
-- costs nothing per request (wrk shares the 2 cores with the server).
-- usage: BINK_TOKEN=b1.xxx BINK_GROUP_ID=group_xxx \
--        wrk -t2 -c64 -d10s --latency -s bench/sendmessage.lua http://127.0.0.1:PORT
local token = os.getenv("BINK_TOKEN")
local group = os.getenv("BINK_GROUP_ID")
if not token or not group then
  error("sendmessage.lua: set BINK_TOKEN and BINK_GROUP_ID")
end
local text = os.getenv("BINK_TEXT") or "benchmark message: hello, group"

wrk.method = "POST"
wrk.path = "/bot/sendmessage"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"group_id":"%s","message_type":"text","content":"%s"}',
                         group, text)
