#!/usr/bin/env bash
# Handshakes per second: `mtlsctl serve` against nginx with
# `ssl_verify_client optional` and the same CA, same client, one run.
# nginx is used if installed (apt-get install nginx-light); otherwise only
# mtlsctl is measured.
#
#   examples/bench/serve.sh [seconds] [clients]
set -euo pipefail
cd "$(dirname "$0")/../.."
case "$(go env GOVERSION)" in go1.2[0-6]*|go1.1*) export GOTOOLCHAIN=go1.27.3 ;; esac
secs=${1:-5}
clients=${2:-8}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
go build -o "$work/mtlsctl" .
go build -o "$work/handshake" ./examples/bench/handshake
cd "$work"
./mtlsctl ca init --key-type ecdsa-256 >/dev/null
./mtlsctl client issue --cn bench --name client --key-type ecdsa-256 >/dev/null

./mtlsctl serve --addr 127.0.0.1:0 --addr-file addr >serve.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s addr ] && break; sleep 0.05; done
echo "mtlsctl serve: $(./handshake -url "https://$(cat addr)/" -c "$clients" -d "${secs}s")"

if command -v nginx >/dev/null; then
  # nginx gets the same kind of throwaway ECDSA server certificate.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv-key.pem -out srv.pem \
    -subj /CN=localhost -days 1 2>/dev/null
  mkdir -p logs
  cat > nginx.conf <<CONF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:18443 ssl;
    ssl_certificate $work/srv.pem;
    ssl_certificate_key $work/srv-key.pem;
    ssl_client_certificate $work/ca.pem;
    ssl_verify_client optional;
    location / {
      if (\$ssl_client_verify != SUCCESS) { return 403; }
      default_type application/json;
      return 200 '{"certVerified":"\$ssl_client_verify","certSerial":"\$ssl_client_serial"}';
    }
  }
}
CONF
  nginx -p "$work" -c "$work/nginx.conf" &
  pids+=($!)
  for _ in $(seq 100); do curl -sk -o /dev/null https://127.0.0.1:18443/ && break; sleep 0.05; done
  echo "nginx $(nginx -v 2>&1 | cut -d/ -f2): $(./handshake -url https://127.0.0.1:18443/ -c "$clients" -d "${secs}s")"
else
  echo "nginx: not installed (apt-get install nginx-light to compare)"
fi
