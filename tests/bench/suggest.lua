-- suggest.lua: wrk script for bench_search.sh: GET /suggest with a rotating set of prefixes
-- (Latin, Hangul syllables, partial jamo, initial consonants), URL-encoded.
local prefixes = {
  "p", "ph", "pho", "phone", "be", "bei", "beige", "s", "su", "sun", "la", "lap",
  "%EC%84%A0", "%EC%84%A0%E3%84%B1", "%E3%85%85%E3%84%B1%E3%84%B9%E3%85%85",
  "%ED%9C%B4", "%ED%9C%B4%EB%8C%80", "%E3%85%8E%E3%84%B7%E3%85%8D", "%EC%88%98",
  "%EC%88%98%EB%B6%84", "%EC%96%91", "%ED%9B%84", "%EB%B9%A8", "%EB%B9%A8%EA%B0%84",
}
local i = 0
-- SUGGEST_PACE_MS > 0: each connection waits that long after a response (a fixed offered load)
local pace = tonumber(os.getenv("SUGGEST_PACE_MS") or "0")
if pace > 0 then
  delay = function() return pace end
end
request = function()
  i = i + 1
  local p = prefixes[(i % #prefixes) + 1]
  local user = ""
  if i % 4 == 0 then user = "&user=u" .. (i % 5000) end
  return wrk.format("GET", "/suggest?q=" .. p .. user)
end
