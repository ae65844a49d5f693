#!/bin/sh
# The hotel-reservation workload: DeathStarBench's mix, open loop, from aiopslab's own
# load generator (the wrk/ scripts are DSB's, kept for comparison).
# Usage: apps/hotel-reservation/workload.sh [RATE] [DURATION] [extra 'aiopslab load run' flags]
#   e.g. apps/hotel-reservation/workload.sh 200 5m --pattern poisson --seed 7
# Set AIOPSLAB to the aiopslab binary (default: build/aiopslab beside apps/).
here=$(dirname "$0")
AIOPSLAB=${AIOPSLAB:-$here/../../build/aiopslab}
rate=${1:-200}
duration=${2:-60s}
[ $# -ge 2 ] && shift 2 || shift $#
exec "$AIOPSLAB" load run --app hotel-reservation --mix mixed --pattern constant --rate "$rate" --duration "$duration" "$@"
