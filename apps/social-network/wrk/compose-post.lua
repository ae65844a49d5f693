-- compose-post.lua: DeathStarBench's compose-post workload for wrk.
--   wrk -t2 -c32 -d30s -s apps/social-network/wrk/compose-post.lua http://NGINX_THRIFT_IP:8080
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local sn = require "common"
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args) sn.seed(id) end
request = sn.compose_post
