// Package pemutil reads and writes keys, certificates and PKCS#12 bundles
// in their PEM and DER encodings, and checks that a key belongs to a
// certificate.
package pemutil
