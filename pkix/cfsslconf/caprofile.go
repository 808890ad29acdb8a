package cfsslconf

import (
	"sort"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/mtlsctl/mtlsctl/pkix"
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
			return "", nil, pkix.Errorf(sc.File, "profile %q is not a CA profile (ca_constraint.is_ca is false)", name).
				WithField("signing.profiles."+name).WithNext(`set "ca_constraint": {"is_ca": true}, or leave %s out to use the built-in intermediate profile`, pkix.OptProfile)
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
