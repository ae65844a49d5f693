-- mixed-workload.lua: DeathStarBench's HotelReservation mixed workload
-- (its wrk2 script mixed-workload_type_1.lua) for wrk or wrk2:
-- 60% search, 39% recommend, 0.5% login, 0.5% reserve, over users
-- Cornell_0..Cornell_500 (password: N ten times) and hotels 1..80 around
-- lat 38.0235, lon -122.095. Deterministic per thread: set HR_SEED to vary.
--   wrk -t2 -c64 -d30s --latency -s mixed-workload.lua http://FRONTEND_IP:5000
-- Requests are sent in origin form (/hotels?...), not with the absolute URL
-- DeathStarBench's script puts in the request line.

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  local seed = tonumber(os.getenv("HR_SEED") or "1") or 1
  math.randomseed(seed * 7919 + (id or 0) * 104729)
  math.random(); math.random(); math.random()
end

local function date(day)
  if day <= 9 then return "2015-04-0" .. tostring(day) end
  return "2015-04-" .. tostring(day)
end

local function location()
  local lat = 38.0235 + (math.random(0, 481) - 240.5) / 1000.0
  local lon = -122.095 + (math.random(0, 325) - 157.0) / 1000.0
  return string.format("%.4f", lat), string.format("%.4f", lon)
end

local function get_user()
  local n = math.random(0, 500)
  return "Cornell_" .. tostring(n), string.rep(tostring(n), 10)
end

local function search_hotel()
  local in_date = math.random(9, 23)
  local out_date = math.random(in_date + 1, 24)
  local lat, lon = location()
  return wrk.format("GET", "/hotels?inDate=" .. date(in_date) .. "&outDate=" .. date(out_date) ..
                    "&lat=" .. lat .. "&lon=" .. lon)
end

local function recommend()
  local coin = math.random()
  local require = "price"
  if coin < 0.33 then require = "dis" elseif coin < 0.66 then require = "rate" end
  local lat, lon = location()
  return wrk.format("GET", "/recommendations?require=" .. require .. "&lat=" .. lat .. "&lon=" .. lon)
end

local function reserve()
  local in_date = math.random(9, 23)
  local out_date = in_date + math.random(1, 5)
  local lat, lon = location()
  local user, password = get_user()
  return wrk.format("POST", "/reservation?inDate=" .. date(in_date) .. "&outDate=" .. date(out_date) ..
                    "&lat=" .. lat .. "&lon=" .. lon .. "&hotelId=" .. tostring(math.random(1, 80)) ..
                    "&customerName=" .. user .. "&username=" .. user .. "&password=" .. password .. "&number=1")
end

local function user_login()
  local user, password = get_user()
  return wrk.format("POST", "/user?username=" .. user .. "&password=" .. password)
end

function request()
  local coin = math.random()
  if coin < 0.6 then return search_hotel()
  elseif coin < 0.99 then return recommend()
  elseif coin < 0.995 then return user_login()
  else return reserve() end
end

