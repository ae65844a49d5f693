-- mixed-workload.lua: DeathStarBench's SocialNetwork mix for wrk: 60% read
-- home timeline, 30% read user timeline, 10% compose post.
--   wrk -t2 -c32 -d30s -s apps/social-network/wrk/mixed-workload.lua http://NGINX_THRIFT_IP:8080
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local sn = require "common"
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args) sn.seed(id) end
function request()
  local x = math.random()
  if x < 0.6 then return sn.read_home_timeline()
  elseif x < 0.9 then return sn.read_user_timeline()
  else return sn.compose_post() end
end
