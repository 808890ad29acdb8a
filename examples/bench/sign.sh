#!/usr/bin/env bash
# Signing devices' requests, side by side in one run on one machine:
#   1. a shell loop of `cfssl sign -ca ca.pem -ca-key ca-key.pem
#      -config ca-config.json -profile client X.csr | cfssljson -bare X`,
#   2. `mtlsctl client sign *.csr` (all cores, checked, durable, recorded),
# for N ECDSA P-256 requests under an ECDSA P-256 CA (made beforehand by
# csrgen, as the devices would); then renewing N certificates against
# issuing N with mtlsctl.
#
#   examples/bench/sign.sh [N]            # default 1000
#   CFSSL_BIN=DIR examples/bench/sign.sh  # cfssl and cfssljson from DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
case "$(go env GOVERSION)" in go1.2[0-6]*|go1.1*) export GOTOOLCHAIN=go1.27.3 ;; esac
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
n=${1:-1000}
repo=$PWD
base=${BENCH_DIR:-$(dirname "$repo")/mtlsctl-bench}
mkdir -p "$base"
work=$(mktemp -d -p "$base")
trap 'rm -rf "$work"' EXIT
go build -o "$work/mtlsctl" .
go build -o "$work/csrgen" ./examples/bench/csrgen
if [ -z "${CFSSL_BIN:-}" ]; then
  echo "building cfssl and cfssljson v1.7.1 (their own CLIs, for comparison only)..." >&2
  GOBIN="$work/bin" go install github.com/cloudflare/cfssl/cmd/cfssl@v1.7.1 github.com/cloudflare/cfssl/cmd/cfssljson@v1.7.1
  CFSSL_BIN=$work/bin
fi
seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
fresh() { # fresh DIR: a PKI directory with an ECDSA CA and N requests in DIR/requests
  mkdir -p "$1/requests"
  "$work/mtlsctl" ca init --dir "$1" --key-type ecdsa-256 >/dev/null
  "$work/csrgen" -n "$n" -dir "$1/requests"
}

fresh "$work/cfssl"
cfssl_s=$(cd "$work/cfssl" && seconds sh -c "for f in requests/*.csr; do
  b=\$(basename \$f .csr)
  '$CFSSL_BIN/cfssl' sign -loglevel 5 -ca ca.pem -ca-key ca-key.pem -config ca-config.json -profile client \$f 2>/dev/null | '$CFSSL_BIN/cfssljson' -bare \$b
done")
made=$(find "$work/cfssl" -maxdepth 1 -name 'device-*.pem' | wc -l)
[ "$made" -eq "$n" ] || { echo "the cfssl loop made $made certificates, not $n" >&2; exit 1; }

runs=()
for r in 1 2 3; do
  fresh "$work/sign-$r"
  sleep 2
  runs+=("$(seconds sh -c "'$work/mtlsctl' client sign --dir '$work/sign-$r' '$work/sign-$r'/requests/*.csr")")
done
m_s=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
echo "mtlsctl client sign runs: ${runs[*]} s" >&2
[ "$(grep -c '	valid	client	' "$work/sign-1/inventory.tsv")" -eq "$n" ] || { echo "mtlsctl did not record $n certificates" >&2; exit 1; }

printf '%-44s %8s %12s\n' "$n ECDSA P-256 requests" seconds "per cert"
printf '%-44s %8s %10.2f ms\n' "cfssl sign | cfssljson loop" "$cfssl_s" "$(awk -v s="$cfssl_s" -v n="$n" 'BEGIN{print s*1000/n}')"
printf '%-44s %8s %10.2f ms\n' "mtlsctl client sign" "$m_s" "$(awk -v s="$m_s" -v n="$n" 'BEGIN{print s*1000/n}')"
awk -v c="$cfssl_s" -v m="$m_s" 'BEGIN {printf "mtlsctl client sign is %.1fx faster than the cfssl sign loop\n", c/m}'

# Renewing N against issuing N (new ECDSA keys both), each in a fresh directory.
mkdir -p "$work/issue" "$work/renew"
for d in issue renew; do
  "$work/mtlsctl" ca init --dir "$work/$d" --key-type ecdsa-256 >/dev/null
  seq -f "device-%05g" "$n" > "$work/$d/devices.txt"
done
"$work/mtlsctl" client issue --dir "$work/renew" --cn-file "$work/renew/devices.txt" --key-type ecdsa-256 >/dev/null 2>&1
sleep 2
issue_s=$(seconds "$work/mtlsctl" client issue --dir "$work/issue" --cn-file "$work/issue/devices.txt" --key-type ecdsa-256)
sleep 2
renew_s=$(seconds "$work/mtlsctl" client renew --dir "$work/renew" --expiring 400d)
awk -v i="$issue_s" -v r="$renew_s" -v n="$n" 'BEGIN {printf "issue %d: %.2f s; renew %d: %.2f s (%.2fx)\n", n, i, n, r, r/i}'
