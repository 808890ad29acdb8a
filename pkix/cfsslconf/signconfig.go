package cfsslconf

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// SigningConfig is a ca-config.json that passed mtlsctl's checks, which are
// stricter than cfssl's: cfssl drops unknown usages and falls back to the
// default profile on a typo, both silently.
type SigningConfig struct {
	File     string
	Cfg      *config.Config
	Warnings []string
}

// ClientProfile is the profile `client issue` uses unless told otherwise.
const ClientProfile = "client"

// LoadSigningConfig parses and validates a cfssl signing configuration.
func LoadSigningConfig(file string, data []byte) (*SigningConfig, error) {
	raw := &config.Config{}
	if err := decodeStrictJSON(file, data, raw); err != nil {
		return nil, err
	}
	at := func(field, key string) *pkix.Error {
		line, col := findKey(data, key)
		return &pkix.Error{File: file, Line: line, Col: col, Field: field}
	}
	if raw.Signing == nil {
		e := at("signing", "signing")
		e.Msg = `no "signing" section`
		e.Hint = `the file needs {"signing": {"default": {...}, "profiles": {...}}}; see examples/ca-config.json`
		return nil, e
	}
	sc := &SigningConfig{File: file}
	profiles := map[string]*config.SigningProfile{}
	for name, p := range raw.Signing.Profiles {
		profiles["signing.profiles."+name] = p
	}
	if raw.Signing.Default != nil {
		profiles["signing.default"] = raw.Signing.Default
	}
	for _, field := range sortedKeys(profiles) {
		p := profiles[field]
		key := field[strings.LastIndexByte(field, '.')+1:]
		if p == nil {
			e := at(field, key)
			e.Msg = "profile is null"
			return nil, e
		}
		for _, u := range p.Usage {
			if _, ok := config.KeyUsage[u]; ok {
				continue
			}
			if _, ok := config.ExtKeyUsage[u]; ok {
				continue
			}
			e := at(field+".usages", u)
			e.Msg = fmt.Sprintf("unknown usage %q", u)
			e.Hint = "known usages: " + strings.Join(knownUsages(), ", ") + suggestUsage(u)
			return nil, e
		}
		if p.ExpiryString == "" && p.RemoteName == "" {
			e := at(field, key)
			e.Msg = `no "expiry"`
			e.Hint = `add "expiry": "8760h" (cfssl refuses a profile without one)`
			return nil, e
		}
		if p.ExpiryString != "" {
			d, err := time.ParseDuration(p.ExpiryString)
			if err != nil || d <= 0 {
				e := at(field+".expiry", p.ExpiryString)
				e.Msg = fmt.Sprintf("%q is not a positive duration", p.ExpiryString)
				e.Hint = `cfssl takes Go durations in hours, for example "8760h" for a year ("d" and "y" are not units)`
				return nil, e
			}
			if d <= 5*time.Minute {
				// cfssl backdates not-before by 5 minutes: such a
				// certificate would be expired when it is issued.
				e := at(field+".expiry", p.ExpiryString)
				e.Msg = fmt.Sprintf("%q is not longer than the 5 minutes cfssl backdates a certificate by: it would be expired on arrival", p.ExpiryString)
				e.Hint = `give at least an hour, for example "24h"`
				return nil, e
			}
		}
		if p.RemoteName != "" {
			e := at(field+".remote", "remote")
			e.Msg = "remote signers are not supported"
			e.Hint = "mtlsctl signs locally with the CA key in the directory"
			return nil, e
		}
	}
	client := raw.Signing.Profiles[ClientProfile]
	if client == nil {
		e := at("signing.profiles", "profiles")
		e.Msg = `no "client" profile`
		e.Hint = `add a profile "client" with "usages": ["digital signature", "client auth"]`
		return nil, e
	}
	if !HasUsage(client, "client auth") {
		e := at("signing.profiles.client.usages", ClientProfile)
		e.Msg = `the client profile lacks "client auth"`
		e.Hint = `add "client auth" to its usages, or Access will refuse the certificates`
		return nil, e
	}
	for name, p := range raw.Signing.Profiles {
		if HasUsage(p, "client auth") && HasUsage(p, "key encipherment") {
			sc.Warnings = append(sc.Warnings, fmt.Sprintf(`%s: profile %q pairs "key encipherment" with "client auth"; RFC 5280 linters flag this (use "digital signature")`, file, name))
		}
	}
	// cfssl's own loader fills in the parsed fields (expiries, usages); our
	// checks above mean it should not fail, but if it does, say so plainly.
	cfg, err := config.LoadConfig(data)
	if err != nil {
		return nil, &pkix.Error{File: file, Msg: "cfssl rejected the configuration: " + CfsslMessage(err), Err: err}
	}
	sc.Cfg = cfg
	sort.Strings(sc.Warnings)
	return sc, nil
}

// Profile returns the named profile, never cfssl's silent fallback to
// "default".
func (sc *SigningConfig) Profile(name string) (*config.SigningProfile, error) {
	if p, ok := sc.Cfg.Signing.Profiles[name]; ok {
		if len(p.Usage) == 0 {
			return nil, pkix.Errorf(sc.File, "profile %q has no usages", name).WithField("signing.profiles." + name)
		}
		return p, nil
	}
	names := sc.ProfileNames()
	e := pkix.Errorf(sc.File, "no profile %q", name)
	e.Hint = "profiles: " + strings.Join(names, ", ")
	if s := x509text.Closest(name, names); s != "" {
		e.Hint = fmt.Sprintf("did you mean %q? profiles: %s", s, strings.Join(names, ", "))
	}
	return nil, e
}

// ProfileNames lists the configured profiles, sorted.
func (sc *SigningConfig) ProfileNames() []string {
	return sortedKeys(sc.Cfg.Signing.Profiles)
}

// MaxExpiry is the longest lifetime any profile grants.
func (sc *SigningConfig) MaxExpiry() (string, time.Duration) {
	name, max := "", time.Duration(0)
	for _, n := range sc.ProfileNames() {
		if d := sc.Cfg.Signing.Profiles[n].Expiry; d > max {
			name, max = n, d
		}
	}
	return name, max
}

func HasUsage(p *config.SigningProfile, usage string) bool {
	for _, u := range p.Usage {
		if u == usage {
			return true
		}
	}
	return false
}

func knownUsages() []string {
	var all []string
	for u := range config.KeyUsage {
		all = append(all, u)
	}
	for u := range config.ExtKeyUsage {
		all = append(all, u)
	}
	sort.Strings(all)
	return all
}

func suggestUsage(u string) string {
	if s := x509text.Closest(u, knownUsages()); s != "" {
		return fmt.Sprintf(` (did you mean %q?)`, s)
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ProfileHasUsage reports whether the named profile grants usage.
func (sc *SigningConfig) ProfileHasUsage(name, usage string) bool {
	p, ok := sc.Cfg.Signing.Profiles[name]
	return ok && HasUsage(p, usage)
}
