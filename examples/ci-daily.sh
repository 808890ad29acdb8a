#!/usr/bin/env bash
# A daily CI job for a PKI directory kept in git (pki/ with inventory.tsv,
# serials.txt and ca.crl; the keys kept as CI secrets or on the CI runner).
#
#   MTLSCTL_DIR=pki examples/ci-daily.sh
#
# Fails (exit 1) when the CA, an intermediate, a client certificate or the
# CRL expires within 30 days (Access's first alert), or when the CA no
# longer passes Access's upload rules; rebuilds every CA's CRL when one is
# missing or its next update is less than 3 days away, so consumers never
# see a stale one.
#
# Opt-in renewal: MTLSCTL_RENEW=30d renews every valid client certificate
# expiring within 30 days first (new keys; keys held on devices re-signed
# from their requests in pki/), so the gate below passes without a person.
# Commit pki/ afterwards: the new certificates and the inventory changed.
set -euo pipefail
: "${MTLSCTL_DIR:=pki}"
export MTLSCTL_DIR
MTLSCTL=${MTLSCTL:-mtlsctl}

if [ -n "${MTLSCTL_RENEW:-}" ]; then
  "$MTLSCTL" client renew --expiring "$MTLSCTL_RENEW"
fi

# Keep the CRL fresh first, so the expiry gate below sees the new one.
# Every CA's CRL (root, intermediates, retired keys still in use), in one
# transaction, when one is missing or due within 3 days.
"$MTLSCTL" crl build --all --if-due 3d --next-update 7d

# Access reads no CRL: when a revocation Worker is deployed (pki/worker/
# exists), rebuild its data from the fresh CRLs. Only the data: its
# wrangler.toml (routes, namespace id, hand edits) is kept as it is, and
# worker build fails the job (exit 2, nothing written) rather than change
# it (MTLSCTL_KV_NAMESPACE_ID, when set, must be the namespace it names).
# Push the data afterwards, to Cloudflare (--remote: without it Wrangler 4
# writes to local storage only):
#   npx wrangler kv bulk put --remote --binding REVOKED pki/worker/revoked.kv.json --config pki/worker/wrangler.toml
# The Worker refuses everything once the data is past a CRL's next update
# plus its grace, so this must run well inside the CRLs' validity.
if [ -d "$MTLSCTL_DIR/worker" ]; then
  "$MTLSCTL" worker build
fi

# With an API token (CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID), put the
# results where Cloudflare uses them. Nothing here can rotate anything by
# accident: upload --no-create only keeps the CA Access already holds (its
# hostnames, from MTLSCTL_HOSTNAME when set) and fails if the CA file
# changed; push writes only the revocation data that changed. Rotation
# (upload --replace, delete) stays a deliberate, manual step.
if [ -n "${CLOUDFLARE_API_TOKEN:-}" ]; then
  chain="$MTLSCTL_DIR/ca.pem"
  [ -f "$MTLSCTL_DIR/ca-chain.pem" ] && chain="$MTLSCTL_DIR/ca-chain.pem"
  "$MTLSCTL" cloudflare upload --no-create "$chain" ${MTLSCTL_HOSTNAME:+--hostname "$MTLSCTL_HOSTNAME"}
  if [ -n "${MTLSCTL_KV_NAMESPACE_ID:-}" ]; then
    "$MTLSCTL" cloudflare push
  fi
fi

# The CA as Access would judge it today (expiry warnings included).
chain="$MTLSCTL_DIR/ca.pem"
[ -f "$MTLSCTL_DIR/ca-chain.pem" ] && chain="$MTLSCTL_DIR/ca-chain.pem"
"$MTLSCTL" ca validate "$chain"

# The expiry gate: exit 1 fails the job, and the table says what to renew.
"$MTLSCTL" check --warn 30d
