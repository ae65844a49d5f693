#!/bin/bash
# cluster_thirdparty: unmodified servers run as pods and answer through
# their Service's ClusterIP: Debian's redis-server, memcached, PostgreSQL
# (initdb, then postgres, in one command) and `python3 -m http.server`
# with 2 replicas on the same port (the shim moves their binds from
# 0.0.0.0/:: to the pod IP).
source "$(dirname "$0")/lib.sh"

lab_up
# Servers that refuse to run as root (postgres) or want -u (memcached) get
# an unprivileged user when the lab runs as root.
if [ "$(id -u)" = 0 ]; then
    MEMCACHED_USER="-u nobody"
else
    MEMCACHED_USER=""
fi

out=$(apply_stdin 2>&1 <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: tp
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis, namespace: tp}
spec:
  replicas: 1
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers:
      - name: redis
        image: redis:7
        command: ["redis-server", "--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no"]
        ports: [{name: redis, containerPort: 6379}]
        readinessProbe: {tcpSocket: {port: redis}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: redis, namespace: tp}
spec:
  selector: {app: redis}
  ports: [{name: redis, port: 6379, targetPort: redis}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: memcached, namespace: tp}
spec:
  replicas: 1
  selector: {matchLabels: {app: memcached}}
  template:
    metadata: {labels: {app: memcached}}
    spec:
      containers:
      - name: memcached
        image: memcached:1.6
        command: ["sh", "-c", "exec memcached -p 11211 -U 0 -m 16 $MEMCACHED_USER"]
        ports: [{name: memcache, containerPort: 11211}]
        readinessProbe: {tcpSocket: {port: memcache}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: memcached, namespace: tp}
spec:
  selector: {app: memcached}
  ports: [{name: memcache, port: 11211, targetPort: memcache}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: tp}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: python:3
        command: ["sh", "-c", "echo \$HOSTNAME > whoami && exec python3 -m http.server 8000"]
        ports: [{name: http, containerPort: 8000}]
        readinessProbe: {httpGet: {path: /whoami, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: tp}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8000, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: postgres, namespace: tp}
spec:
  replicas: 1
  selector: {matchLabels: {app: postgres}}
  template:
    metadata: {labels: {app: postgres}}
    spec:
      containers:
      - name: postgres
        image: postgres:15
        command:
        - sh
        - -c
        - |
          mkdir -p data
          AS=
          if [ "\$(id -u)" = 0 ]; then chown nobody:nogroup data; AS="setpriv --reuid=nobody --regid=nogroup --clear-groups"; fi
          exec \$AS sh -c 'B=/usr/lib/postgresql/15/bin; if [ ! -f data/PG_VERSION ]; then \$B/initdb -D data -U postgres --auth=trust >/dev/null || exit 1; fi; exec \$B/postgres -D data -k "" -c listen_addresses="*" -p 5432'
        ports: [{name: pg, containerPort: 5432}]
        readinessProbe: {tcpSocket: {port: pg}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: postgres, namespace: tp}
spec:
  selector: {app: postgres}
  ports: [{name: pg, port: 5432, targetPort: pg}]
EOF
) && ok "apply the third-party servers" || bail_out "apply the third-party servers" "$out"

if wait_for '[ "$(pods_of tp web | grep -c .)" = 2 ] && all_ready tp' 30; then
    ok "all third-party pods Ready"
else
    not_ok "all third-party pods Ready" "$(k get pods -n tp 2>&1)"
fi

# ---- redis ----------------------------------------------------------------------
ip=$(cluster_ip tp redis)
out=$(timeout 5 redis-cli -h "$ip" -p 6379 ping 2>&1)
[ "$out" = PONG ] && ok "redis-cli ping through the ClusterIP" || not_ok "redis-cli ping through the ClusterIP ($ip)" "$out"
timeout 5 redis-cli -h "$ip" -p 6379 set greeting hello >/dev/null 2>&1
out=$(timeout 5 redis-cli -h "$ip" -p 6379 get greeting 2>&1)
[ "$out" = hello ] && ok "redis set/get" || not_ok "redis set/get" "$out"
rip=$(pod_json tp "$(pods_of tp redis)" | jq -r .status.podIP)
out=$(timeout 5 redis-cli -h "$rip" -p 6379 ping 2>&1)
[ "$out" = PONG ] && ok "redis listens on its pod IP ($rip)" || not_ok "redis listens on its pod IP ($rip)" "$out"

# ---- memcached -------------------------------------------------------------------
ip=$(cluster_ip tp memcached)
out=$(timeout 5 python3 - "$ip" <<'PY' 2>&1
import socket, sys
s = socket.create_connection((sys.argv[1], 11211), timeout=3)
s.sendall(b"set k 0 0 5\r\nhello\r\nget k\r\n")
data = b""
while not data.endswith(b"END\r\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode().replace("\r\n", "|"))
PY
)
[ "$out" = "STORED|VALUE k 0 5|hello|END|" ] && ok "memcached set/get through the ClusterIP" ||
    not_ok "memcached set/get through the ClusterIP ($ip)" "$out"

# ---- python3 -m http.server, 2 replicas on one port -------------------------------
ips=$(k get pods -n tp -l app=web -o json | jq -r '.items[].status.podIP' | sort -u | grep -c .)
eps=$(endpoint_addrs tp web | grep -c ':8000$')
[ "$ips" = 2 ] && [ "$eps" = 2 ] && ok "2 http.server replicas on :8000, 2 endpoints" ||
    not_ok "2 http.server replicas on :8000, 2 endpoints" "$(k get endpoints web -n tp 2>&1)"
ip=$(cluster_ip tp web)
[ "$(http_code "http://$ip:8000/")" = 200 ] && ok "curl http.server through the ClusterIP" ||
    not_ok "curl http.server through the ClusterIP ($ip)" "$(http_get "http://$ip:8000/" 2>&1)"
seen=$(for i in $(seq 12); do http_get "http://$ip:8000/whoami"; done | sort -u)
[ "$(grep -c . <<<"$seen")" = 2 ] && [ "$seen" = "$(pods_of tp web)" ] && ok "both replicas answer, each as itself" ||
    not_ok "both replicas answer, each as itself" "seen: $seen" "pods: $(pods_of tp web)"

# ---- postgres -----------------------------------------------------------------------
ip=$(cluster_ip tp postgres)
out=$(PGCONNECT_TIMEOUT=5 timeout 10 psql -h "$ip" -p 5432 -U postgres -tAc 'select 41 + 1' 2>&1)
[ "$out" = 42 ] && ok "psql through the ClusterIP" || not_ok "psql through the ClusterIP ($ip)" "$out" "$(k logs -n tp "$(pods_of tp postgres)" 2>&1 | tail -n 8)"
out=$(PGCONNECT_TIMEOUT=5 timeout 10 psql -h "$ip" -p 5432 -U postgres -qtA -v ON_ERROR_STOP=1 \
    -c 'create table t (v text)' -c 'insert into t values ($$kept$$)' -c 'select v from t' 2>&1)
[ "$out" = kept ] && ok "postgres: create, insert, select" || not_ok "postgres: create, insert, select" "$out"
done_testing
