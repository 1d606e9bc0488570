-- wrk script: POST /bot/getme with a bot token.
--   BINK_TOKEN  bot token (required by binkd; the baseline ignores it)
-- usage: BINK_TOKEN=b1.xxx wrk -t2 -c64 -d10s -s bench/getme.lua http://127.0.0.1:PORT
local token = os.getenv("BINK_TOKEN") or "none"

wrk.method = "POST"
wrk.path = "/bot/getme"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = "{}"
