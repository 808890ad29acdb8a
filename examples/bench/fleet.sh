#!/usr/bin/env bash
# Fleet issuance, side by side in one run on one machine:
#   1. a shell loop of `cfssl gencert ... | cfssljson -bare` (the guide's way),
#   2. `mtlsctl client issue --cn-file` (all cores, durable, inventory),
#   3. the floor: cfssl's own key generation + CSR + signing in one process
#      on all cores plus plainly writing the same three files (Go benchmark),
# for N ECDSA P-256 certificates under an ECDSA P-256 CA; then RSA-4096
# scaling: mtlsctl on 1 core against all cores.
#
#   examples/bench/fleet.sh [N]          # default 1000
#   CFSSL_BIN=DIR examples/bench/fleet.sh   # cfssl and cfssljson from DIR
# Runs in fresh directories under $BENCH_DIR (default: a new directory next
# to this clone, not /tmp, whose file creation is slow on some machines).
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
if [ -z "${CFSSL_BIN:-}" ]; then
  echo "building cfssl and cfssljson v1.7.1 (their own CLIs, for comparison only)..." >&2
  # in bin/, not in $work itself, where the binary "cfssl" would take the
  # name of the cfssl PKI directory made below
  GOBIN="$work/bin" go install github.com/cloudflare/cfssl/cmd/cfssl@v1.7.1 github.com/cloudflare/cfssl/cmd/cfssljson@v1.7.1
  CFSSL_BIN=$work/bin
fi
seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }

fresh() { # fresh DIR KEYTYPE: a new PKI directory with a CA
  mkdir -p "$1"
  "$work/mtlsctl" ca init --dir "$1" --key-type "$2" >/dev/null
  seq -f "device-%05g" "$n" > "$1/devices.txt"
}

fresh "$work/cfssl" ecdsa-256
echo '{"CN":"x","key":{"algo":"ecdsa","size":256}}' > "$work/cfssl/req.json"
cfssl_s=$(cd "$work/cfssl" && seconds sh -c "for cn in \$(cat devices.txt); do
  sed \"s/\\\"x\\\"/\\\"\$cn\\\"/\" req.json > r.json
  '$CFSSL_BIN/cfssl' gencert -loglevel 5 -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=client r.json 2>/dev/null \
    | '$CFSSL_BIN/cfssljson' -bare \$cn
done")
# a loop that failed quietly would be timed as fast: count what it made
made=$(find "$work/cfssl" -name 'device-*-key.pem' | wc -l)
[ "$made" -eq "$n" ] || { echo "the cfssl loop made $made certificates, not $n" >&2; exit 1; }

# mtlsctl three times, each in a fresh directory; the median counts (these
# disks are noisy: a run right after others' deletions can take 4x longer).
runs=()
for r in 1 2 3; do
  fresh "$work/mtlsctl-$r" ecdsa-256
  sleep 2
  runs+=("$(seconds "$work/mtlsctl" client issue --dir "$work/mtlsctl-$r" --cn-file "$work/mtlsctl-$r/devices.txt" --key-type ecdsa-256)")
done
m_s=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
echo "mtlsctl runs: ${runs[*]} s" >&2

floor_line=$(TMPDIR=$work go test -run XXX -bench "FleetFloor/ecdsa-256/n=1000" -benchtime 3x ./commands | grep 'µs/cert')
floor_us=$(echo "$floor_line" | awk '{for (i=1;i<NF;i++) if ($(i+1)=="µs/cert") print $i}')
floor_s=$(awk -v u="$floor_us" -v n="$n" 'BEGIN {printf "%.2f", u*n/1e6}')

printf '%-44s %8s %12s\n' "ECDSA P-256, $n certificates" seconds "per cert"
printf '%-44s %8s %10.2f ms\n' "cfssl gencert | cfssljson loop" "$cfssl_s" "$(awk -v s="$cfssl_s" -v n="$n" 'BEGIN{print s*1000/n}')"
printf '%-44s %8s %10.2f ms\n' "mtlsctl client issue --cn-file" "$m_s" "$(awk -v s="$m_s" -v n="$n" 'BEGIN{print s*1000/n}')"
printf '%-44s %8s %10.2f ms\n' "floor (cfssl calls on all cores + plain writes)" "$floor_s" "$(awk -v u="$floor_us" 'BEGIN{print u/1000}')"
awk -v c="$cfssl_s" -v m="$m_s" -v f="$floor_s" 'BEGIN {printf "mtlsctl is %.1fx faster than the cfssl loop and %.2fx the floor\n", c/m, m/f}'

# RSA-4096 keys scale with cores (RSA_N=4 for a quick run).
rsa_n=${RSA_N:-16}
fresh "$work/rsa1" rsa-4096; seq -f "device-%05g" $rsa_n > "$work/rsa1/devices.txt"
fresh "$work/rsa2" rsa-4096; seq -f "device-%05g" $rsa_n > "$work/rsa2/devices.txt"
one=$(GOMAXPROCS=1 seconds "$work/mtlsctl" client issue --dir "$work/rsa1" --cn-file "$work/rsa1/devices.txt" --key-type rsa-4096)
all=$(seconds "$work/mtlsctl" client issue --dir "$work/rsa2" --cn-file "$work/rsa2/devices.txt" --key-type rsa-4096)
awk -v o="$one" -v a="$all" -v n="$rsa_n" -v c="$(nproc)" 'BEGIN {printf "RSA-4096, %d certificates: %.1f s on 1 core, %.1f s on %d cores: %.2fx\n", n, o, a, c, o/a}'
