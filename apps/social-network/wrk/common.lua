-- common.lua: what the SocialNetwork wrk scripts share (DeathStarBench's
-- wrk2 scripts, ported to plain wrk's Lua): random users username_1 ..
-- username_962, the three requests, and a per-thread random seed.
-- Knobs (environment): SN_USERS (962), SN_MAX_START (100: timeline reads
-- start at a random offset in [0, SN_MAX_START], as DSB's do; 0 reads the
-- newest posts), SN_SEED (a fixed seed makes runs repeatable).
local M = {}

local users = tonumber(os.getenv("SN_USERS") or "962")
local max_start = tonumber(os.getenv("SN_MAX_START") or "100")
local charset = "qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM1234567890"

function M.seed(thread_id)
  local base = tonumber(os.getenv("SN_SEED") or tostring(os.time()))
  math.randomseed(base * 1000 + (thread_id or 0))
end

local function string_random(n)
  local t = {}
  for i = 1, n do
    local k = math.random(1, #charset)
    t[i] = charset:sub(k, k)
  end
  return table.concat(t)
end

local function dec_random(n)
  local t = {}
  for i = 1, n do t[i] = tostring(math.random(i == 1 and 1 or 0, 9)) end
  return table.concat(t)
end

function M.compose_post()
  local user_index = math.random(1, users)
  local text = string_random(256)
  for _ = 0, math.random(0, 5) do
    local m
    repeat m = math.random(1, users) until m ~= user_index
    text = text .. " @username_" .. m
  end
  for _ = 0, math.random(0, 5) do
    text = text .. " http://" .. string_random(64)
  end
  local ids, types = {}, {}
  for i = 0, math.random(0, 4) do
    ids[#ids + 1] = '"' .. dec_random(18) .. '"'
    types[#types + 1] = '"png"'
  end
  local body = "username=username_" .. user_index .. "&user_id=" .. user_index .. "&text=" .. text ..
    "&media_ids=[" .. table.concat(ids, ",") .. "]&media_types=[" .. table.concat(types, ",") .. "]&post_type=0"
  return wrk.format("POST", "/wrk2-api/post/compose",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

local function read_timeline(kind)
  local start = math.random(0, max_start)
  return wrk.format("GET", "/wrk2-api/" .. kind .. "/read?user_id=" .. math.random(1, users) ..
    "&start=" .. start .. "&stop=" .. (start + 10))
end

function M.read_home_timeline() return read_timeline("home-timeline") end
function M.read_user_timeline() return read_timeline("user-timeline") end

return M
