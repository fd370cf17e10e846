# plugins/nginx/tests/nginx.sh - what the nginx tests and the nginx
# benchmark share (sourced, not run): free loopback ports, the head of a
# configuration that keeps nginx inside a temporary prefix, and stopping
# that nginx. tests/integration/40-nginx.sh, 41-nginx-redis.sh and
# bench/nginx_bench.sh source it.

# A free TCP port on the loopback interface.
ngx_freeport() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ngx_conf_head PREFIX MODULE LOGLEVEL: the configuration up to the open
# `http {` block, every path under PREFIX (which gets logs/ and tmp/): one
# worker, the module loaded, no access log. The caller writes the rest
# and closes the block. Workers run as root so that they can write a
# ledger when the tests run as root.
ngx_conf_head() {
    mkdir -p "$1/logs" "$1/tmp"
    cat <<EOF
load_module $2;
worker_processes 1;
error_log $1/logs/error.log $3;
pid $1/nginx.pid;
user root;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
EOF
}

# ngx_stop PREFIX: stop the nginx whose pid file is under PREFIX, if any:
# gracefully, then for good.
ngx_stop() {
    local pid
    pid=$(cat "$1/nginx.pid" 2>/dev/null) || return 0
    kill -QUIT "$pid" 2>/dev/null || true
    sleep 0.3
    kill -KILL "$pid" 2>/dev/null || true
}

# ngx_require WHAT TOOL...: in a test (tests/cli/lib.sh sourced), skip it
# with a reason, naming WHAT needs them, when the module ($MODULE) cannot
# be loaded (a sanitizer build, or not built) or a tool is missing.
ngx_require() {
    local what=$1 tool
    shift
    case $(basename "$BUILD") in
        *asan* | *tsan*)
            skip "the system nginx cannot load a sanitizer build's module" \
                "$what run on a non-sanitizer build"
            done_testing ;;
    esac
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            skip "no $tool" "$what need $tool"
            done_testing
        fi
    done
    if [ ! -f "$MODULE" ]; then
        skip "no $MODULE (make nginx-module; needs nginx-dev)" \
            "$what need the module"
        done_testing
    fi
}
