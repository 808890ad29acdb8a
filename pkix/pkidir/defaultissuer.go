package pkidir

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
)

// ErrSeveralIssuers: more than one intermediate could be the default
// issuer, and none was named.
var ErrSeveralIssuers = fmt.Errorf("several intermediates")

// DefaultIssuer is the CA a leaf is signed with when none is named: once
// the directory holds an intermediate, the intermediate, so that the
// root's key can stay offline (as step-ca does); the root (RootName) only
// while there is none. An intermediate counts when the inventory records
// it valid and unexpired and its key is in the directory. With several,
// the choice is the user's: the error names them.
func (d *Dir) DefaultIssuer(now time.Time) (string, error) {
	data, err := d.inventoryData()
	if err != nil || data == nil {
		return RootName, err
	}
	if data[len(data)-1] != '\n' {
		return "", d.tornInventory()
	}
	// A streaming scan: issuing must not parse a fleet's inventory to
	// find the few CA lines in it. A serial's last line is its state.
	latest := map[string]pkix.InventoryLine{}
	var order []string
	err = pkix.ScanInventory(d.Inventory(), data, func(l pkix.InventoryLine) {
		if string(l.Kind) != string(pkix.KindIntermediate) {
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
	var names []string
	for _, serial := range order {
		l := latest[serial]
		if string(l.Status) != string(pkix.StatusValid) {
			continue
		}
		r, err := l.ParseLine(d.Inventory())
		if err != nil {
			return "", err
		}
		if !r.NotAfter.After(now) || seen[r.Name] {
			continue
		}
		if _, err := os.Stat(d.CA(r.Name).Key); err != nil {
			continue // its key is kept elsewhere: it cannot sign here
		}
		seen[r.Name] = true
		names = append(names, r.Name)
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
		return RootName, nil
	case 1:
		return names[0], nil
	}
	return "", &pkix.Error{Msg: fmt.Sprintf("the directory has %d intermediates (%s), and none is named as the issuer", len(names), strings.Join(names, ", ")),
		Hint: "name the CA that signs: --issuer " + names[0] + " (or --issuer " + RootName + " for the root)", Err: ErrSeveralIssuers}
}
