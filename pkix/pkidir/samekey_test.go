package pkidir

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
)

// signDevice signs a device's request for key in d, as client sign does.
func signDevice(t *testing.T, d *Dir, signer *dirview.Signer, name string, key crypto.Signer) error {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: x509pkix.Name{CommonName: name}}, key)
	if err != nil {
		t.Fatal(err)
	}
	dr, err := ca.ParseDeviceRequest(name+".csr", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Issue(context.Background(), &IssueRequest{Kind: inventory.KindClient, Jobs: []Job{{CN: name, Name: name, Device: dr}},
		Signer: signer, Profile: cfsslconf.ClientProfile, CertKind: "client certificate"})
	if err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		return res.Failed[0].err
	}
	return nil
}

// sameModulus is key with another public exponent: whoever holds the
// factors of the modulus signs with it, so it is the same key.
func sameModulus(t *testing.T, key *rsa.PrivateKey, e int) *rsa.PrivateKey {
	t.Helper()
	one := big.NewInt(1)
	p1 := new(big.Int).Sub(key.Primes[0], one)
	q1 := new(big.Int).Sub(key.Primes[1], one)
	lambda := new(big.Int).Div(new(big.Int).Mul(p1, q1), new(big.Int).GCD(nil, nil, p1, q1))
	d := new(big.Int).ModInverse(big.NewInt(int64(e)), lambda)
	if d == nil {
		t.Fatalf("%d is not invertible for this key", e)
	}
	other := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: key.N, E: e}, D: d, Primes: key.Primes}
	other.Precompute()
	if err := other.Validate(); err != nil {
		t.Fatal(err)
	}
	return other
}

// A keyCompromise-revoked certificate's RSA modulus is never certified
// again, whatever the exponent; and an inventory written before the key
// identity column (15 columns) still holds: the identity is read from the
// certificate file.
func TestRevokedModulusNeverCertifiedAgain(t *testing.T) {
	for _, old := range []bool{false, true} {
		name := map[bool]string{false: "current inventory", true: "15-column inventory"}[old]
		t.Run(name, func(t *testing.T) {
			d := testDir(t)
			cfg := newRoot(t, d)
			signer, err := d.LoadSigner("", dirview.CAInput{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			if err := signDevice(t, d, signer, "dev-1", key); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Revoke(context.Background(), &revocation.RevokeRequest{Name: "dev-1", Reason: crl.ReasonKeyCompromise}); err != nil {
				t.Fatal(err)
			}
			if old {
				stripLastColumn(t, d)
			}
			other := sameModulus(t, key, 65539)
			err = signDevice(t, d, signer, "dev-2", other)
			if err == nil || !strings.Contains(err.Error(), "the request's key is already certified: dev-1") {
				t.Fatalf("a request with dev-1's modulus and exponent 65539: %v", err)
			}
			if _, err := os.Stat(d.File("dev-2.pem")); err == nil {
				t.Error("dev-2.pem was written")
			}
		})
	}
}

// stripLastColumn turns the inventory into the 15-column format written
// before the key identity column.
func stripLastColumn(t *testing.T, d *Dir) {
	t.Helper()
	data, err := os.ReadFile(d.Inventory())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			out = append(out, line)
			continue
		}
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) != 16 {
			t.Fatalf("a line of %d columns: %q", len(f), line)
		}
		out = append(out, strings.Join(f[:15], "\t")+"\n")
	}
	if err := os.WriteFile(d.Inventory(), []byte(strings.Join(out, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := d.ReadInventory()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range inv.Records {
		if r.KeyIdentity != "" {
			t.Fatalf("%s still has a key identity", r.Name)
		}
	}
}
