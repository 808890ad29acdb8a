package signer

import (
	"os"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
)

// ServerHMACKeys are the keys the signer accepts: the current one (the
// file $MTLSCTL_SIGNER_HMAC_FILE names, else $MTLSCTL_SIGNER_HMAC, else the
// signer directory's hmac.key) and, during a rotation, the previous one
// ($MTLSCTL_SIGNER_HMAC_PREVIOUS_FILE), so that runners still on it keep
// working until they have the new one.
func ServerHMACKeys(sd *pkidir.Dir) (key, prev string, err error) {
	env := func(name string) string { return strings.TrimSpace(os.Getenv(name)) }
	keyFile := env("MTLSCTL_SIGNER_HMAC_FILE")
	if keyFile == "" && env("MTLSCTL_SIGNER_HMAC") == "" {
		keyFile = sd.File(HMACKeyName)
	}
	if key, err = LoadHMACKey(keyFile, "MTLSCTL_SIGNER_HMAC"); err != nil {
		return "", "", err
	}
	if f := env("MTLSCTL_SIGNER_HMAC_PREVIOUS_FILE"); f != "" {
		if prev, err = LoadHMACKey(f, ""); err != nil {
			return "", "", err
		}
	}
	return key, prev, nil
}
