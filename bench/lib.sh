# bench/lib.sh: what the benchmark scripts share (sourced, from the project root).

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# nginx_conf DIR PORT: write DIR/nginx.conf for the reference server of the
# benchmarks: one worker serving DIR/html on 127.0.0.1:PORT, keep-alive
# without a request limit, no access log, its pid and temp files in DIR/ngx.
nginx_conf() {
    cat >"$1/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $1/ngx/nginx.pid;
error_log $1/ngx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $1/ngx; proxy_temp_path $1/ngx; fastcgi_temp_path $1/ngx;
    uwsgi_temp_path $1/ngx; scgi_temp_path $1/ngx;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$2; root $1/html; }
}
CONF
}
