#!/usr/bin/env bash
# Side-by-side: `mtlsctl crl build` (hex serials) against `cfssl gencrl`
# (the same serials in decimal, which is how cfssl reads them), for 1k,
# 100k and 1M serials, with wall time and peak memory from /usr/bin/time -v.
#
#   examples/bench/crl.sh            # builds both tools, prints a table
#   examples/bench/crl.sh 100 1000   # other sizes, e.g. a quick run
#   CFSSL=/path/to/cfssl examples/bench/crl.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
case "$(go env GOVERSION)" in go1.2[0-6]*|go1.1*) export GOTOOLCHAIN=go1.27.3 ;; esac
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/mtlsctl" .
go build -o "$work/serialgen" ./examples/bench/serialgen
if [ -z "${CFSSL:-}" ]; then
  echo "building cfssl v1.7.1 (its own CLI, for comparison only)..." >&2
  GOBIN="$work" go install github.com/cloudflare/cfssl/cmd/cfssl@v1.7.1
  CFSSL="$work/cfssl"
fi

# measure LABEL CMD...: prints "seconds peak-MB" from /usr/bin/time -v
measure() {
  /usr/bin/time -v "$@" 2>"$work/time.txt" >/dev/null || { cat "$work/time.txt" >&2; exit 1; }
  awk -F': ' '/Elapsed/ {n=split($2,a,":"); s=a[n]+(n>1?a[n-1]*60:0)} /Maximum resident/ {m=$2/1024} END {printf "%.2f %.0f", s, m}' "$work/time.txt"
}

cd "$work"
./mtlsctl ca init --key-type ecdsa-256 >/dev/null
printf '%-10s %-14s %-14s %-14s %-14s %s\n' serials "mtlsctl s" "mtlsctl MB" "cfssl s" "cfssl MB" "CRL MB"
for n in ${*:-1000 100000 1000000}; do
  ./serialgen -n "$n" -hex "s$n.hex" -dec "s$n.dec"
  # a fresh output each time (no previous CRL to consult), as cfssl has none
  read -r ms mm <<<"$(measure ./mtlsctl crl build --out "m$n.crl" "s$n.hex")"
  read -r cs cm <<<"$(measure sh -c "'$CFSSL' gencrl s$n.dec ca.pem ca-key.pem > c$n.b64")"
  base64 -d "c$n.b64" > "c$n.crl"
  cmp -s <(openssl crl -inform DER -in "m$n.crl" -noout -text | grep -c 'Serial Number') \
         <(openssl crl -inform DER -in "c$n.crl" -noout -text | grep -c 'Serial Number') ||
    { echo "the two CRLs list different numbers of serials" >&2; exit 1; }
  size=$(awk -v b="$(stat -c %s "m$n.crl")" 'BEGIN {printf "%.1f", b/1048576}')
  printf '%-10s %-14s %-14s %-14s %-14s %s\n' "$n" "$ms" "$mm" "$cs" "$cm" "$size"
done
