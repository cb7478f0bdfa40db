-- POSTs prepared requests in turn, each with its own body and one header of its own: reads
-- a file of "<header value><TAB><body>" lines (bench/payloads.py writes them). Arguments:
-- the file's path and the header's name.
--   webhooks: Stripe-Signature, one pre-signed unique event a line (sent once each; past the
--             end it starts again, and the harness reports those repeats);
--   relink sessions: Authorization ("Bearer …"), one customer a line, so that no one
--             customer's rate limit is what is measured.
local lines = {}
local header = nil
local sent = 0

function init(args)
  header = args[2]
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    lines[#lines + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
  end
end

function request()
  sent = sent + 1
  local entry = lines[((sent - 1) % #lines) + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    [header] = entry[1],
  }, entry[2])
end
