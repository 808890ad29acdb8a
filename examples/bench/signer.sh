#!/usr/bin/env bash
# The signer side by side with stock cfssl serve, in one run on one
# machine, against one throwaway PostgreSQL: 4 runner processes
# (examples/bench/signerload, cfssl's own remote client, 8 requests in
# flight each) get N ECDSA P-256 certificates in all, first from
#   1. cfssl v1.7.1's own 'cfssl serve' (authsign with the HMAC key, TLS
#      with client certificates of the same signer CA, recording in
#      certdb through its accessor), then from
#   2. 'mtlsctl signer serve' (the same, plus TLS 1.3, grants, the time
#      and nonce checked, the nonce and the row in one transaction).
# Prints the throughput and p50/p99 latency per request of each.
#
#   examples/bench/signer.sh [N]            # default 1000
#   CFSSL_BIN=DIR examples/bench/signer.sh  # cfssl from DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
case "$(go env GOVERSION)" in go1.2[0-6]*|go1.1*) export GOTOOLCHAIN=go1.27.3 ;; esac
n=${1:-1000}
per=$((n / 4))
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "needs PostgreSQL (apt-get install postgresql)" >&2; exit 2; }
work=$(mktemp -d)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u nobody --); fi
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  "${as_pg[@]}" "$pgbin/pg_ctl" stop -D "$work/pg/data" -m immediate >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/mtlsctl" .
go build -o "$work/signerload" ./examples/bench/signerload
if [ -z "${CFSSL_BIN:-}" ]; then
  echo "building cfssl v1.7.1 (its own CLI, for comparison only)..." >&2
  GOBIN="$work/bin" GOFLAGS= go install github.com/cloudflare/cfssl/cmd/cfssl@v1.7.1
  CFSSL_BIN=$work/bin
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A throwaway cluster on loopback.
mkdir -p "$work/pg"
[ ${#as_pg[@]} -gt 0 ] && chown nobody "$work/pg"
pgport=$(free_port)
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg/data" -U bench --auth=trust --no-sync >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" start -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pgport -c unix_socket_directories=$work/pg -c max_connections=200" >/dev/null
db() { echo "postgres://bench@127.0.0.1:$pgport/$1?sslmode=disable"; }
"$pgbin/psql" -q "$(db postgres)" -c "create database cfssl" -c "create database mtlsctl"

# The CA, the signer's directory (its CA, server certificate, runners,
# HMAC key), and the schema in both databases (cfssl's tables are the
# same; mtlsctl's init applies them).
pki=$work/pki
"$work/mtlsctl" ca init --dir "$pki" --key-type ecdsa-256 >/dev/null
MTLSCTL_SIGNER_DB=$(db mtlsctl) "$work/mtlsctl" signer init --dir "$pki" --cn 'ci-*' >/dev/null 2>&1
MTLSCTL_SIGNER_DB=$(db cfssl) "$work/mtlsctl" signer init --dir "$pki" --cn 'ci-*' >/dev/null 2>&1
s=$pki/signer

load() { # load URL [-stamp]: 4 processes, N/4 each; prints the wall seconds
  local url=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  for r in 0 1 2 3; do
    "$work/signerload" -url "$url" -n "$per" -p 8 -prefix "ci-$r-" -ca "$s/ca.pem" -cert "$s/runner-1.pem" \
      -key "$s/runner-1-key.pem" -hmac "$s/hmac.key" -out "$work/lat-$r" "$@" &
  done
  wait $(jobs -p | tail -4)
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b-a}'
}
report() { # report NAME SECONDS
  sort -n "$work"/lat-* > "$work/lat"
  local count p50 p99
  count=$(wc -l < "$work/lat")
  p50=$(awk -v c="$count" 'NR == int(c*0.50+0.5) {print $1/1000}' "$work/lat")
  p99=$(awk -v c="$count" 'NR == int(c*0.99+0.5) {print $1/1000}' "$work/lat")
  printf '%-26s %6d  %7.2f s  %8.0f/s  p50 %6.1f ms  p99 %6.1f ms\n' "$1" "$count" "$2" "$(awk -v c="$count" -v s="$2" 'BEGIN{print c/s}')" "$p50" "$p99"
  rm -f "$work"/lat-*
}

# Both servers run side by side; the loads alternate, ROUNDS times (the
# machine's speed drifts), and the medians are compared.
rounds=${ROUNDS:-3}
port=$(free_port)
cat > "$work/cfssl-config.json" <<JSON
{"signing": {"default": {"expiry": "8760h", "usages": ["digital signature", "client auth"], "auth_key": "k"},
  "profiles": {"client": {"expiry": "8760h", "usages": ["digital signature", "client auth"], "auth_key": "k"}}},
 "auth_keys": {"k": {"type": "standard", "key": "file:$s/hmac.key"}}}
JSON
echo "{\"driver\": \"postgres\", \"data_source\": \"$(db cfssl)\"}" > "$work/db.json"
"$CFSSL_BIN/cfssl" serve -loglevel 5 -address 127.0.0.1 -port "$port" -ca "$pki/ca.pem" -ca-key "$pki/ca-key.pem" \
  -config "$work/cfssl-config.json" -db-config "$work/db.json" -tls-cert "$s/server.pem" -tls-key "$s/server-key.pem" \
  -mutual-tls-ca "$s/ca.pem" 2>"$work/cfssl.log" &
cfssl_pid=$!
MTLSCTL_SIGNER_DB=$(db mtlsctl) "$work/mtlsctl" signer serve --dir "$pki" --addr 127.0.0.1:0 --addr-file "$work/addr" 2>"$work/mtlsctl.log" &
m_pid=$!
# cpu PID: the process's user+system time in clock ticks (less noisy than
# wall time on a shared machine: the servers' own cost per certificate).
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && [ -s "$work/addr" ] && break; sleep 0.1; done
sleep 1
printf '%-26s %6s  %9s  %10s\n' "$n ECDSA P-256, 4 runners" requests wall throughput
cfssl_runs=() m_runs=() cfssl_cpu=0 m_cpu=0
for r in $(seq "$rounds"); do
  c0=$(cpu "$cfssl_pid"); t=$(load "https://127.0.0.1:$port"); cfssl_cpu=$((cfssl_cpu + $(cpu "$cfssl_pid") - c0))
  cfssl_runs+=("$t"); report "cfssl serve (round $r)" "$t"
  c0=$(cpu "$m_pid"); t=$(load "https://$(cat "$work/addr")" -stamp); m_cpu=$((m_cpu + $(cpu "$m_pid") - c0))
  m_runs+=("$t"); report "mtlsctl signer (round $r)" "$t"
done
want=$((n * rounds))
rows=$("$pgbin/psql" -tA "$(db cfssl)" -c "select count(*) from certificates")
[ "$rows" -eq "$want" ] || { echo "cfssl recorded $rows certificates, not $want" >&2; exit 1; }
rows=$("$pgbin/psql" -tA "$(db mtlsctl)" -c "select count(*) from certificates")
nonces=$("$pgbin/psql" -tA "$(db mtlsctl)" -c "select count(*) from mtlsctl_nonces")
[ "$rows" -eq "$want" ] && [ "$nonces" -eq "$want" ] || { echo "mtlsctl recorded $rows certificates and $nonces nonces, not $want" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
c=$(median "${cfssl_runs[@]}"); m=$(median "${m_runs[@]}")
awk -v c="$c" -v m="$m" -v n="$n" 'BEGIN {printf "medians of the rounds: cfssl serve %.0f/s, mtlsctl signer %.0f/s: mtlsctl is %.2fx cfssl serve'"'"'s throughput\n", n/c, n/m, c/m}'
awk -v c="$cfssl_cpu" -v m="$m_cpu" -v hz="$hz" -v w="$want" 'BEGIN {printf "server CPU per certificate: cfssl serve %.2f ms, mtlsctl signer %.2f ms\n", c*1000/hz/w, m*1000/hz/w}'
