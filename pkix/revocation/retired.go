package revocation

// Re-keying a CA (ca intermediate --force, ca init --force) does not make
// what the old key issued harmless: those certificates still chain to the
// old certificate until they expire, and the edge tells CAs apart by key
// (certIssuerSKI). So the old key is retired, not forgotten: its
// certificate, key, serials file and CRL move to NAME.retired-SKI8.* in
// the same transaction as the new key, with a manifest
// (NAME.retired-SKI8.json) listing every serial it issued. The inventory
// keeps recording those certificates under NAME (a record never changes
// its issuer); the manifest says which key of NAME signed them, so that
// each revocation lands on the CRL of the key that issued it. The retired
// key's CRL is re-signed by crl build --all until the last certificate it
// issued has expired; check then says the key may be destroyed.
