-- wrk script for the status-read scenario: GET /status?id=N over random existing ids
-- 1..MAX, MAX given after `--` on wrk's command line. The same requests go to the minimal
-- RESTinio baseline, so both pay the same Lua cost in wrk.
local max_id = 1

function init(args)
  max_id = tonumber(args[1]) or 1
  -- Each wrk thread has its own Lua state: seed each differently.
  local address = tonumber(tostring({}):match("0x(%x+)") or "0", 16)
  math.randomseed(os.time() + address % 1000003)
end

function request()
  return wrk.format("GET", "/status?id=" .. math.random(1, max_id))
end
