-- wrk script: POST one chat completion request per call, the same body each
-- time. BENCH_BODY_FILE names the JSON body; BENCH_MODEL replaces its "MODEL"
-- placeholder; BENCH_API_KEY, when set, is sent as a bearer token; BENCH_PATH is the
-- path (default /v1/chat/completions).
local f = assert(io.open(assert(os.getenv("BENCH_BODY_FILE"), "BENCH_BODY_FILE unset"), "rb"))
local body = f:read("*a")
f:close()
body = body:gsub("MODEL", os.getenv("BENCH_MODEL") or "gpt-4o-mini"):gsub("%s+$", "")

wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/chat/completions"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_API_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
