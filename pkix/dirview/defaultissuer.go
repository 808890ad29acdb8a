package dirview

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// ErrSeveralIssuers: more than one intermediate could be the default
// issuer, and none was named.
var ErrSeveralIssuers = fmt.Errorf("several intermediates")

// DefaultIssuer is the CA a leaf is signed with when none is named: once
// the directory holds an intermediate, the intermediate, so that the
// root's key can stay offline (as step-ca does); the root (RootName) only
// while there is none. An intermediate counts when the inventory records
// it valid and unexpired, its certificate is the one recorded and still
// chains to its issuer's current certificate (a re-keyed root orphans it),
// no CA above it is revoked, and its key is in the directory. With
// several, the choice is the user's: the error names them. With none left
// of those the directory had, the root is not taken silently either:
// whoever made an intermediate meant the root's key to stay offline, so
// the error says why each is out and that --issuer ca names the root.
func (d *View) DefaultIssuer(now time.Time) (string, error) {
	data, err := d.InventoryData()
	if err != nil || data == nil {
		return RootName, err
	}
	if data[len(data)-1] != '\n' {
		return "", d.TornInventory()
	}
	// A streaming scan: issuing must not parse a fleet's inventory to
	// find the few CA lines in it. A serial's last line is its state.
	latest := map[string]inventory.InventoryLine{}
	var order []string
	err = inventory.ScanInventory(d.Inventory(), data, func(l inventory.InventoryLine) {
		if string(l.Kind) != string(inventory.KindIntermediate) {
			return
		}
		if _, ok := latest[string(l.Serial)]; !ok {
			order = append(order, string(l.Serial))
		}
		l.Line = append([]byte(nil), l.Line...)
		latest[string(l.Serial)] = l
	})
	if err != nil {
		return "", err
	}
	seen := map[string]bool{}
	var names, out []string // usable; and why each other is not
	for _, serial := range order {
		l := latest[serial]
		if string(l.Status) == string(inventory.StatusSuperseded) {
			continue // replaced by a newer certificate of its name
		}
		r, err := l.ParseLine(d.Inventory())
		if err != nil {
			return "", err
		}
		if seen[r.Name] {
			continue
		}
		if why := d.cannotBeDefault(&r, now); why != "" {
			out = append(out, r.Name+" "+why)
			continue
		}
		seen[r.Name] = true
		names = append(names, r.Name)
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
		if len(out) == 0 {
			return RootName, nil
		}
		return "", &pkix.Error{Msg: "no intermediate of the directory can be the default issuer (" + strings.Join(out, "; ") + ")",
			Hint: "make a new one ('%s'), or name the root: %s", HintArgs: []any{pkix.Cmd(pkix.ActMakeIntermediate, pkix.OptForce), pkix.OptIssuer.With(RootName)}}
	case 1:
		return names[0], nil
	}
	return "", &pkix.Error{Msg: fmt.Sprintf("the directory has %d intermediates (%s), and none is named as the issuer", len(names), strings.Join(names, ", ")),
		Hint: "name the CA that signs: %s (or %s for the root)", HintArgs: []any{pkix.OptIssuer.With(names[0]), pkix.OptIssuer.With(RootName)}, Err: ErrSeveralIssuers}
}

// cannotBeDefault says why the intermediate r cannot sign by default, or
// "" when it can.
func (d *View) cannotBeDefault(r *inventory.Record, now time.Time) string {
	switch {
	case r.Status == inventory.StatusRevoked:
		return "is revoked"
	case !r.NotAfter.After(now):
		return "has expired"
	}
	if _, err := os.Stat(d.CA(r.Name).Key); err != nil {
		return "has no key in the directory"
	}
	certs, err := ReadCerts(d.CA(r.Name).Cert, pkix.Text{})
	if err != nil || x509text.FingerprintSHA256(certs[0]) != r.SHA256 {
		return "is not the certificate in " + d.CA(r.Name).Cert
	}
	if parent, err := ReadCerts(d.CA(r.Issuer).Cert, pkix.Text{}); err != nil || certs[0].CheckSignatureFrom(parent[0]) != nil {
		return "no longer chains to " + d.CA(r.Issuer).Cert + " (its issuer was re-keyed)"
	}
	if rev, err := d.revokedInChain(certs[0], nil); err != nil || rev != nil {
		return "is under a revoked CA"
	}
	return ""
}
