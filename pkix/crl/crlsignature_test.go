package crl

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/internal/testpki"
)

// A CRL judged by its own CA verifies; by another CA that was only a
// default it is shown, not judged; by another CA the user named it is
// INVALID.
func TestJudgeSignature(t *testing.T) {
	ca, other := testpki.NewCA(t, "ecdsa-256"), testpki.NewCA(t, "ecdsa-256")
	now := time.Now()
	crl, err := NewCRLBuilder(0, now).Sign(CRLParams{Issuer: ca.Cert, Key: ca.Key, Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := ReadCRL("ca.crl", crl.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if v := rl.JudgeSignature(ca.Cert, "ca.pem", false); v.Invalid || v.Signature != "verified with ca.pem" || v.Warning != "" {
		t.Errorf("its own CA: %+v", v)
	}
	if v := rl.JudgeSignature(other.Cert, "other.pem", false); v.Invalid || v.Signature != "not checked" || !strings.Contains(v.Warning, "other.pem is another CA") {
		t.Errorf("another CA by default: %+v", v)
	}
	if v := rl.JudgeSignature(other.Cert, "other.pem", true); !v.Invalid || v.Signature != "INVALID" || v.Failure == "" || v.Warning == "" {
		t.Errorf("another CA named: %+v", v)
	}
}
