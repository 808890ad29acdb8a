package pkix

import (
	"crypto/x509"
	"fmt"
	"sort"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// IntermediateProfile is the name of the built-in profile for intermediate
// CAs, used when ca-config.json has no CA profile.
const IntermediateProfile = "intermediate"

// builtinIntermediateProfile: a CA that may sign certificates and CRLs but
// no further CAs (path length 0), five years, cut at the root's expiry.
func builtinIntermediateProfile() *config.SigningProfile {
	return &config.SigningProfile{
		Usage:        []string{"cert sign", "crl sign"},
		ExpiryString: "43800h",
		Expiry:       43800 * time.Hour,
		CAConstraint: config.CAConstraint{IsCA: true, MaxPathLen: 0, MaxPathLenZero: true},
	}
}

// CAProfile picks the signing profile for an intermediate: the named one
// (which must be a CA profile), else the configuration's only/first CA
// profile, else the built-in one. The returned name is for messages.
func (sc *SigningConfig) CAProfile(name string) (string, *config.SigningProfile, error) {
	if name != "" {
		p, err := sc.Profile(name)
		if err != nil {
			return "", nil, err
		}
		if !p.CAConstraint.IsCA {
			return "", nil, errorf(sc.File, "profile %q is not a CA profile (ca_constraint.is_ca is false)", name).
				withField("signing.profiles."+name).withNext(`set "ca_constraint": {"is_ca": true}, or leave %s out to use the built-in intermediate profile`, OptProfile)
		}
		return name, p, nil
	}
	var names []string
	for n, p := range sc.Cfg.Signing.Profiles {
		if p.CAConstraint.IsCA {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "built-in " + IntermediateProfile, builtinIntermediateProfile(), nil
	}
	sort.Strings(names)
	return names[0], sc.Cfg.Signing.Profiles[names[0]], nil
}

// IssueIntermediate makes an intermediate CA signed by is, with exactly the
// path length constraint pathLen (-1: none). cfssl's own rules have two
// traps this avoids: a profile's max_path_len 0 without max_path_len_zero
// means "no limit", and a CSR that does not ask to be a CA is signed as
// one even under a root whose path length is 0.
func (is *Issuer) IssueIntermediate(req *Request, profileName string, profile *config.SigningProfile, pathLen int) (*Issued, []string, error) {
	root := is.Cert
	if root.BasicConstraintsValid && (root.MaxPathLen > 0 || root.MaxPathLenZero) {
		if root.MaxPathLen == 0 {
			return nil, nil, errorf("", "the issuing CA %s has path length 0: it may not sign intermediate CAs", cn(root)).
				withHint("issue client certificates from it directly, or make a new root without \"pathlenzero\"")
		}
		if pathLen < 0 || pathLen >= root.MaxPathLen {
			return nil, nil, errorf("", "%s", Textf("the issuing CA %s allows at most %d CA level(s) below it; %s must be at most %d", cn(root), root.MaxPathLen, OptPathLen, root.MaxPathLen-1))
		}
	}
	p := *profile
	p.CAConstraint = config.CAConstraint{IsCA: true, MaxPathLen: max(pathLen, -1), MaxPathLenZero: pathLen == 0}
	if !hasUsage(&p, "cert sign") {
		return nil, nil, fmt.Errorf("profile %q lacks \"cert sign\": an intermediate must be able to sign certificates", profileName)
	}
	policy := &config.Signing{Profiles: map[string]*config.SigningProfile{IntermediateProfile: &p}, Default: is.Config.Cfg.Signing.Default}
	s, err := local.NewSigner(is.Key, root, signer.DefaultSigAlgo(is.Key), policy)
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the signer: %s", CfsslMessage(err))
	}

	cr := *req.CR
	cr.CA = &csr.CAConfig{PathLength: max(pathLen, 0), PathLenZero: pathLen == 0}
	if pathLen < 0 {
		cr.CA.PathLength = 0 // with PathLenZero false, cfssl writes "no limit"
	}
	cr.Hosts = nil
	issued, warnings, err := is.sign(s, &cr, nil, IntermediateProfile, profileName, p.Expiry, Lifetime{}, "intermediate")
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
func IsSelfSigned(c *x509.Certificate) bool { return isSelfSigned(c) }
