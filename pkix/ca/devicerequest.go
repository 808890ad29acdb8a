package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cloudflare/cfssl/csr"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// DeviceRequest is a PKCS#10 request made where the key lives (a device,
// a server): its signature verified and its key acceptable. Nothing else
// in it is trusted: what the certificate says comes from the profile.
type DeviceRequest struct {
	File     string
	CSR      *x509.CertificateRequest
	PEM      []byte
	Warnings []string
}

// PublicKeySHA is the hex SHA-256 of the request's SubjectPublicKeyInfo,
// as the inventory records it for certificates.
func (r *DeviceRequest) PublicKeySHA() string {
	sum := sha256.Sum256(r.CSR.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// ParseDeviceRequest reads one PKCS#10 request, PEM or DER, and checks
// it: one request, no private key beside it, a signature made by the key
// it carries, and a key Access's clients can use (RSA of 2048 bits or
// more, ECDSA on P-256, P-384 or P-521; Ed25519 with a warning).
func ParseDeviceRequest(file string, data []byte) (*DeviceRequest, error) {
	return parseDeviceRequest(file, data, true)
}

// ParseDeviceRequestForSigning is ParseDeviceRequest for a request that
// goes straight to cfssl's signer, which verifies the request's signature
// itself before it signs (signer.ParseCertificateRequest): the signer
// service, where checking it twice costs a signature verification per
// request. Everything else is checked.
func ParseDeviceRequestForSigning(file string, data []byte) (*DeviceRequest, error) {
	return parseDeviceRequest(file, data, false)
}

func parseDeviceRequest(file string, data []byte, verify bool) (*DeviceRequest, error) {
	der := data
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, pkix.Errorf(file, "the file is empty").WithNext("give the PKCS#10 request the device made (openssl req -new …, or %s)", pkix.ActRequestClient)
	}
	// 'openssl req -text' writes the request as text before its PEM: the
	// text is skipped (only when it is text: DER is binary).
	if i := bytes.Index(trimmed, []byte("\n-----BEGIN ")); i > 0 && !bytes.HasPrefix(trimmed, []byte("-----BEGIN")) && isText(trimmed[:i]) {
		trimmed = trimmed[i+1:]
	}
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		var found []byte
		rest := trimmed
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			switch {
			case strings.Contains(b.Type, "PRIVATE KEY"):
				return nil, pkix.Errorf(file, "the file holds a private key (%s)", b.Type).
					WithHint("send only the request: the key stays on the device; if it has left the device, make a new key there")
			case b.Type == "CERTIFICATE REQUEST" || b.Type == "NEW CERTIFICATE REQUEST":
				if found != nil {
					return nil, pkix.Errorf(file, "the file holds more than one request").WithHint("one request per file; give each file as its own argument")
				}
				found = b.Bytes
			case b.Type == "CERTIFICATE":
				return nil, pkix.Errorf(file, "this is a certificate, not a request").WithNext("give the PKCS#10 request (BEGIN CERTIFICATE REQUEST); to renew a certificate use '%s'", pkix.ActRenewClient)
			default:
				return nil, pkix.Errorf(file, "a %q PEM block is not a certificate request", b.Type)
			}
		}
		if found == nil {
			return nil, pkix.Errorf(file, "no PEM block could be read").WithHint("the file looks like PEM but is cut or damaged")
		}
		der = found
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, pkix.Errorf(file, "not a PKCS#10 request: %v", err).WithNext("a request is PEM (BEGIN CERTIFICATE REQUEST) or DER, made by 'openssl req -new' or '%s'", pkix.ActRequestClient)
	}
	if err := cfsslconf.CheckOneCN(file, csr); err != nil {
		return nil, err
	}
	switch csr.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, pkix.Errorf(file, "the request's key (%s) is not RSA, ECDSA or Ed25519", csr.PublicKeyAlgorithm).WithHint("make an ECDSA P-256 or RSA 2048 key on the device")
	}
	if csr.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
		return nil, pkix.Errorf(file, "the request is signed with an algorithm that is not accepted (RSA-PSS?)").WithHint("sign it with PKCS#1 v1.5 RSA, ECDSA or Ed25519")
	}
	if verify { // else cfssl's signer verifies it
		if err := csr.CheckSignature(); err != nil {
			return nil, pkix.Errorf(file, "the request's signature does not verify (%v)", err).
				WithHint("the request was altered, or not signed by the key it carries: make it again on the device")
		}
	}
	r := &DeviceRequest{File: file, CSR: csr, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})}
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < 2048 {
			return nil, pkix.Errorf(file, "the request's key is RSA %d-bit, too weak", bits).WithHint("make a key of at least 2048 bits (or ECDSA P-256) on the device")
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, pkix.Errorf(file, "the request's key is ECDSA on %s, which is not accepted", k.Curve.Params().Name).WithHint("use P-256, P-384 or P-521")
		}
	case ed25519.PublicKey:
		r.Warnings = append(r.Warnings, file+": the request's key is Ed25519: many TLS clients and servers do not offer it for client certificates; rsa or ecdsa keys work everywhere")
	default:
		return nil, pkix.Errorf(file, "the request's key (%s) is not RSA, ECDSA or Ed25519", csr.PublicKeyAlgorithm).WithHint("make an ECDSA P-256 or RSA 2048 key on the device")
	}
	return r, nil
}

// requestPolicy is the profile as applied to a device's request: only the
// subject and the public key are taken from it. cfssl copies everything
// a request asks for when a profile has no CSRWhitelist (a CA:TRUE
// request is then refused; extra names are copied), so a whitelist is
// always set; names are copied only when the profile's own whitelist
// allows them.
func requestPolicy(p *config.SigningProfile, subjectFromRequest bool) *config.SigningProfile {
	cp := *p
	wl := &config.CSRWhitelist{Subject: subjectFromRequest, PublicKey: true, PublicKeyAlgorithm: true}
	if p.CSRWhitelist != nil && subjectFromRequest {
		wl.DNSNames, wl.IPAddresses, wl.EmailAddresses, wl.URIs = p.CSRWhitelist.DNSNames, p.CSRWhitelist.IPAddresses, p.CSRWhitelist.EmailAddresses, p.CSRWhitelist.URIs
	}
	cp.CSRWhitelist = wl
	return &cp
}

// SignRequest signs a device's request with the named profile: the
// subject from the request (cn, when not "", replaces its CN), the public
// key from the request, everything else from the profile. No key is made.
func (is *Issuer) SignRequest(r *DeviceRequest, cn, profile string) (*Issued, []string, error) {
	return is.SignRequestWithin(r, cn, profile, Lifetime{})
}

// SignRequestWithin is SignRequest with the lifetime life instead of the
// profile's (when not zero).
func (is *Issuer) SignRequestWithin(r *DeviceRequest, cn, profile string, life Lifetime) (*Issued, []string, error) {
	var subject *signer.Subject
	if cn != "" {
		subject = &signer.Subject{CN: cn}
	}
	return is.signRequest(r, subject, true, profile, life)
}

// SignRequestAs signs r with subject as the whole subject: nothing of the
// request's subject is taken, only its key, and no name (SAN) it asks
// for, whatever the profile's whitelist allows. The signer service uses it,
// so that a runner chooses the CN its grant allows and nothing else of
// the subject (an O a relying party reads as a group).
func (is *Issuer) SignRequestAs(r *DeviceRequest, subject *signer.Subject, profile string) (*Issued, []string, error) {
	return is.signRequest(r, subject, false, profile, Lifetime{})
}

func (is *Issuer) signRequest(r *DeviceRequest, subject *signer.Subject, subjectFromRequest bool, profile string, life Lifetime) (*Issued, []string, error) {
	p, err := is.Config.Profile(profile)
	if err != nil {
		return nil, nil, err
	}
	key := fmt.Sprint(profile, "\x00", subjectFromRequest)
	s, ok := is.reqSigners.Load(key)
	if !ok {
		pol := *is.Config.Cfg.Signing
		pol.Profiles = map[string]*config.SigningProfile{profile: requestPolicy(p, subjectFromRequest)}
		pol.Default = requestPolicy(p, subjectFromRequest)
		ls, err := local.NewSigner(is.Key, is.Cert, signer.DefaultSigAlgo(is.Key), &pol)
		if err != nil {
			return nil, nil, fmt.Errorf("setting up the signer: %s", cfsslconf.CfsslMessage(err))
		}
		s, _ = is.reqSigners.LoadOrStore(key, ls)
	}
	cn := ""
	if subject != nil {
		cn = subject.CN
	}
	hosts := []string(nil)
	if !subjectFromRequest || p.CSRWhitelist == nil || !(p.CSRWhitelist.DNSNames || p.CSRWhitelist.IPAddresses || p.CSRWhitelist.EmailAddresses || p.CSRWhitelist.URIs) {
		// Not nil: clears any name the request asked for. Always so for
		// the signer service (SignRequestAs): a runner's grant covers
		// the CN, never names.
		hosts = []string{}
	}
	issued, warnings, err := is.signWith(s.(*local.Signer), signer.SignRequest{Request: string(r.PEM), Profile: profile, Subject: subject, Hosts: hosts}, profile, p.Expiry, life, "certificate")
	if err != nil {
		return nil, nil, err
	}
	issued.CSRPEM = r.PEM
	// cfssl re-encodes the subject from its parsed attributes: values of
	// one type share an RDN, a multi-valued RDN is split (string types
	// change too, which no DN rule sees). Rules on the whole DN
	// (cert_subject_dn) must be written for what is issued.
	got, _ := x509text.DNRFC2253(issued.Cert.RawSubject)
	asked, _ := x509text.DNRFC2253(r.CSR.RawSubject)
	if cn == "" && got != asked {
		warnings = append(warnings, fmt.Sprintf("%s: the certificate's subject is %s, re-encoded from the request's %s (same attributes, other RDNs); match rules on the CN, or on the subject as issued", r.File, got, asked))
	}
	return issued, append(warnings, r.Warnings...), nil
}

// NewDeviceRequest makes, where it runs (the device), a key and a PKCS#10
// request for req's subject and key type: the key (PKCS#8 PEM) never has
// to leave. The request carries no extension: what the certificate gets
// is the CA's profile's to decide.
func NewDeviceRequest(req *cfsslconf.Request) (keyPEM, csrPEM []byte, err error) {
	priv, err := generateKey(req.CR.KeyRequest)
	if err != nil {
		return nil, nil, err
	}
	cr := *req.CR
	cr.Hosts = nil // names are the profile's to grant, not the device's to ask
	csrPEM, err = csr.Generate(priv, &cr)
	if err != nil {
		return nil, nil, fmt.Errorf("making the request: %s", cfsslconf.CfsslMessage(err))
	}
	if keyPEM, err = pemutil.MarshalKeyPEM(priv); err != nil {
		return nil, nil, err
	}
	return keyPEM, csrPEM, nil
}

// ParseDeviceRequests checks many requests on all cores (a signature
// check each); the first bad one, in the order given, is the error.
func ParseDeviceRequests(files []string, data [][]byte) ([]*DeviceRequest, error) {
	out := make([]*DeviceRequest, len(files))
	errs := make([]error, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				out[i], errs[i] = ParseDeviceRequest(files[i], data[i])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// isText: printable ASCII and line breaks only.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// KeyIdentity is the KeyIdentity of the request's key.
func (r *DeviceRequest) KeyIdentity() string { return pemutil.KeyIdentity(r.CSR.PublicKey) }
