package dirview

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"

	"os"
)

// SameFile reports whether two names are one file.
func SameFile(a, b string) bool {
	if a == "" || b == "" || a == "-" || b == "-" {
		return false
	}
	x, err1 := os.Stat(a)
	y, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(x, y)
}

// RetiredKey is the manifest of a retired CA key.
type RetiredKey struct {
	Name string `json:"name"` // its files' base name: CA.retired-SKI8
	CA   string `json:"ca"`   // the CA it was retired from
	SKI  string `json:"ski"`  // its subject key identifier, upper-case hex
	// CASerial and Issuer are its certificate's serial and issuer (the
	// inventory's name), to tell when its issuer revoked it.
	CASerial  string    `json:"ca_serial"`
	Issuer    string    `json:"issuer"`
	RetiredAt time.Time `json:"retired_at"`
	// LastNotAfter is when the last certificate it issued expires (the
	// retirement itself when it issued none: nothing to revoke under it).
	LastNotAfter time.Time `json:"last_not_after"`
	Serials      []string  `json:"serials"` // every certificate it issued
}

// InUse reports whether a certificate the key issued is still unexpired:
// its CRL must then stay fresh.
func (k *RetiredKey) InUse(now time.Time) bool { return now.Before(k.LastNotAfter) }

func (d *View) RetiredManifest(name string) string { return d.File(name + ".json") }

// RetiredKeys reads the manifests of the directory's retired keys, oldest
// first.
func (d *View) RetiredKeys() ([]RetiredKey, error) {
	paths, err := filepath.Glob(filepath.Join(d.Path(), "*"+dirtx.RetiredMark+"*.json"))
	if err != nil {
		return nil, err
	}
	var keys []RetiredKey
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, d.IOError(p, "cannot read", err)
		}
		var k RetiredKey
		if err := json.Unmarshal(data, &k); err != nil || k.Name == "" || k.Name+".json" != filepath.Base(p) {
			return nil, &pkix.Error{File: p, Msg: "is not a retired key's manifest mtlsctl can read",
				Hint: "restore it from git: it says which certificates the retired key issued"}
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a].RetiredAt.Before(keys[b].RetiredAt) })
	return keys, nil
}

// RetiredSigners maps each serial a retired key issued to that key's name: the
// inventory's issuer of those serials is the CA they were retired from.
type RetiredSigners map[string]string

func (d *View) RetiredIssuers() (RetiredSigners, error) {
	keys, err := d.RetiredKeys()
	if err != nil {
		return nil, err
	}
	m := RetiredSigners{}
	for _, k := range keys {
		for _, s := range k.Serials {
			m[s] = k.Name
		}
	}
	return m, nil
}

// Issuer is the name of the key that signed serial, recorded as issued
// by issuer.
func (m RetiredSigners) Issuer(issuer, serial string) string {
	if k, ok := m[serial]; ok {
		return k
	}
	return issuer
}

// LiveRetiredKeys are the retired keys whose certificates are not all
// expired: their CRLs are still read and re-signed.
func (d *View) LiveRetiredKeys(now time.Time) ([]RetiredKey, error) {
	keys, err := d.RetiredKeys()
	if err != nil {
		return nil, err
	}
	live := keys[:0]
	for _, k := range keys {
		if k.InUse(now) {
			live = append(live, k)
		}
	}
	return live, nil
}

// RetiredCRLsBeside are the CRL files of the retired keys still in use
// that serve reads beside the CRLs it was given (none when it was given
// none: it then checks no revocation at all): the certificates those
// keys issued still chain, and their revocations are on those lists.
func (d *View) RetiredCRLsBeside(given []string, now time.Time) []string {
	if len(given) == 0 {
		return nil
	}
	keys, err := d.LiveRetiredKeys(now)
	if err != nil {
		return nil
	}
	var out []string
	for _, k := range keys {
		crl := d.CA(k.Name).CRL
		if FileExists(crl) && !slices.ContainsFunc(given, func(g string) bool { return SameFile(g, crl) }) {
			out = append(out, crl)
		}
	}
	return out
}
