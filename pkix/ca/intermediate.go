package ca

import (
	"fmt"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// IssueIntermediate makes an intermediate CA signed by is, with exactly the
// path length constraint pathLen (-1: none). cfssl's own rules have two
// traps this avoids: a profile's max_path_len 0 without max_path_len_zero
// means "no limit", and a CSR that does not ask to be a CA is signed as
// one even under a root whose path length is 0.
func (is *Issuer) IssueIntermediate(req *cfsslconf.Request, profileName string, profile *config.SigningProfile, pathLen int) (*Issued, []string, error) {
	root := is.Cert
	if root.BasicConstraintsValid && (root.MaxPathLen > 0 || root.MaxPathLenZero) {
		if root.MaxPathLen == 0 {
			return nil, nil, pkix.Errorf("", "the issuing CA %s has path length 0: it may not sign intermediate CAs", x509text.CommonNameOf(root)).
				WithHint("issue client certificates from it directly, or make a new root without \"pathlenzero\"")
		}
		if pathLen < 0 || pathLen >= root.MaxPathLen {
			return nil, nil, pkix.Errorf("", "%s", pkix.Textf("the issuing CA %s allows at most %d CA level(s) below it; %s must be at most %d", x509text.CommonNameOf(root), root.MaxPathLen, pkix.OptPathLen, root.MaxPathLen-1))
		}
	}
	p := *profile
	p.CAConstraint = config.CAConstraint{IsCA: true, MaxPathLen: max(pathLen, -1), MaxPathLenZero: pathLen == 0}
	if !cfsslconf.HasUsage(&p, "cert sign") {
		return nil, nil, fmt.Errorf("profile %q lacks \"cert sign\": an intermediate must be able to sign certificates", profileName)
	}
	policy := &config.Signing{Profiles: map[string]*config.SigningProfile{cfsslconf.IntermediateProfile: &p}, Default: is.Config.Cfg.Signing.Default}
	s, err := local.NewSigner(is.Key, root, signer.DefaultSigAlgo(is.Key), policy)
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the signer: %s", cfsslconf.CfsslMessage(err))
	}

	cr := *req.CR
	cr.CA = &csr.CAConfig{PathLength: max(pathLen, 0), PathLenZero: pathLen == 0}
	if pathLen < 0 {
		cr.CA.PathLength = 0 // with PathLenZero false, cfssl writes "no limit"
	}
	cr.Hosts = nil
	issued, warnings, err := is.sign(s, &cr, nil, cfsslconf.IntermediateProfile, profileName, p.Expiry, Lifetime{}, "intermediate")
	if err != nil {
		return nil, nil, err
	}
	cert := issued.Cert
	// Trust, but verify: the certificate must say exactly what we meant.
	got := -1
	if cert.MaxPathLen > 0 || cert.MaxPathLenZero {
		got = cert.MaxPathLen
	}
	if !cert.IsCA || got != max(pathLen, -1) || cert.CheckSignatureFrom(root) != nil {
		return nil, nil, fmt.Errorf("cfssl produced an intermediate with CA:%v and path length %d instead of %d; nothing was written", cert.IsCA, got, pathLen)
	}
	return issued, warnings, nil
}

// IsSelfSigned reports whether c is a root.
