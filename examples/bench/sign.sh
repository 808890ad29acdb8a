#!/usr/bin/env bash
# Signing devices' requests, side by side in one run on one machine, for N
# ECDSA P-256 requests under an ECDSA P-256 CA (made beforehand by csrgen,
# as the devices would), dropped into the CA's directory as the guide's
# flow has it (`mtlsctl client sign device-7.csr ...` next to ca.pem):
#   1. a shell loop of `cfssl sign -ca ca.pem -ca-key ca-key.pem
#      -config ca-config.json -profile client X.csr | cfssljson -bare X`,
#   2. `mtlsctl client sign *.csr` (all cores, checked, durable, recorded),
#   3. the same with the requests in another directory, where mtlsctl also
#      keeps a copy of each request (NAME.csr) for renewals,
# then renewing N certificates against issuing N with mtlsctl.
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
fresh() { # fresh DIR [SUB]: a PKI directory with an ECDSA CA and N requests in DIR/SUB
  mkdir -p "$1/${2:-.}"
  "$work/mtlsctl" ca init --dir "$1" --key-type ecdsa-256 >/dev/null
  "$work/csrgen" -n "$n" -dir "$1/${2:-.}"
}

fresh "$work/cfssl"
cfssl_s=$(cd "$work/cfssl" && seconds sh -c "for f in device-*.csr; do
  b=\$(basename \$f .csr)
  '$CFSSL_BIN/cfssl' sign -loglevel 5 -ca ca.pem -ca-key ca-key.pem -config ca-config.json -profile client \$f 2>/dev/null | '$CFSSL_BIN/cfssljson' -bare \$b
done")
made=$(find "$work/cfssl" -maxdepth 1 -name 'device-*.pem' | wc -l)
[ "$made" -eq "$n" ] || { echo "the cfssl loop made $made certificates, not $n" >&2; exit 1; }

median() { # median of three runs of `client sign`, requests in DIR/SUB
  local runs=() r
  for r in 1 2 3; do
    fresh "$work/$1-$r" "$2"
    sync; sleep 2
    runs+=("$(seconds sh -c "cd '$work/$1-$r' && '$work/mtlsctl' client sign $2/device-*.csr")")
    [ "$(grep -c '	valid	client	' "$work/$1-$r/inventory.tsv")" -eq "$n" ] || { echo "mtlsctl did not record $n certificates" >&2; exit 1; }
  done
  echo "mtlsctl client sign runs ($1): ${runs[*]} s" >&2
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p
}
m_s=$(median inplace .)
e_s=$(median elsewhere requests)

printf '%-44s %8s %12s\n' "$n ECDSA P-256 requests" seconds "per cert"
printf '%-44s %8s %10.2f ms\n' "cfssl sign | cfssljson loop" "$cfssl_s" "$(awk -v s="$cfssl_s" -v n="$n" 'BEGIN{print s*1000/n}')"
printf '%-44s %8s %10.2f ms\n' "mtlsctl client sign" "$m_s" "$(awk -v s="$m_s" -v n="$n" 'BEGIN{print s*1000/n}')"
printf '%-44s %8s %10.2f ms\n' "mtlsctl client sign, requests elsewhere" "$e_s" "$(awk -v s="$e_s" -v n="$n" 'BEGIN{print s*1000/n}')"
awk -v c="$cfssl_s" -v m="$m_s" -v e="$e_s" 'BEGIN {printf "mtlsctl client sign is %.1fx faster than the cfssl sign loop (%.1fx with the requests elsewhere)\n", c/m, c/e}'

# Renewing N against issuing N (new ECDSA keys both), each in a fresh
# directory, three of each interleaved (the disk's speed drifts), medians.
issues=() renews=()
for r in 1 2 3; do
  for d in issue-$r renew-$r; do
    "$work/mtlsctl" ca init --dir "$work/$d" --key-type ecdsa-256 >/dev/null
    seq -f "device-%05g" "$n" > "$work/$d/devices.txt"
  done
  "$work/mtlsctl" client issue --dir "$work/renew-$r" --cn-file "$work/renew-$r/devices.txt" --key-type ecdsa-256 >/dev/null 2>&1
  sync; sleep 2
  issues+=("$(seconds "$work/mtlsctl" client issue --dir "$work/issue-$r" --cn-file "$work/issue-$r/devices.txt" --key-type ecdsa-256)")
  sync; sleep 2
  renews+=("$(seconds "$work/mtlsctl" client renew --dir "$work/renew-$r" --expiring 400d)")
  [ "$(grep -c '	superseded	client	' "$work/renew-$r/inventory.tsv")" -eq "$n" ] || { echo "mtlsctl did not renew $n certificates" >&2; exit 1; }
done
echo "issue runs: ${issues[*]} s; renew runs: ${renews[*]} s" >&2
issue_s=$(printf '%s\n' "${issues[@]}" | sort -n | sed -n 2p)
renew_s=$(printf '%s\n' "${renews[@]}" | sort -n | sed -n 2p)
issue_min=$(printf '%s\n' "${issues[@]}" | sort -n | sed -n 1p)
renew_min=$(printf '%s\n' "${renews[@]}" | sort -n | sed -n 1p)
awk -v i="$issue_s" -v r="$renew_s" -v n="$n" 'BEGIN {printf "issue %d: %.2f s; renew %d: %.2f s (%.2fx), medians of three\n", n, i, n, r, r/i}'
awk -v i="$issue_min" -v r="$renew_min" 'BEGIN {printf "best of three: issue %.2f s, renew %.2f s (%.2fx)\n", i, r, r/i}'
