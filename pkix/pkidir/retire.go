package pkidir

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// retirement is what re-keying the CA name moves aside: its files and
// the manifest of what the old key issued.
type retirement struct {
	key      dirview.RetiredKey
	renames  []dirtx.Rename
	manifest atomicfile.File
}

// retire plans the retirement of the current key of the CA name, read
// under the lock; nil when there is none (no certificate in place).
func (d *Dir) retire(name string, at time.Time) (*retirement, error) {
	ca := d.CA(name)
	certs, err := dirview.ReadCerts(ca.Cert, pkix.Text{})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	old := certs[0]
	if !old.IsCA || len(old.SubjectKeyId) == 0 {
		return nil, nil
	}
	ski := strings.ToUpper(hex.EncodeToString(old.SubjectKeyId))
	k := dirview.RetiredKey{Name: ca.Name + dirtx.RetiredMark + ski[:min(8, len(ski))], CA: ca.Name, SKI: ski, CASerial: x509text.SerialHex(old.SerialNumber),
		Issuer: ca.Name, RetiredAt: at, LastNotAfter: at}
	if rec, err := d.FindSerial(k.CASerial); err == nil && rec != nil {
		k.Issuer = rec.Issuer
	}
	issued, last, err := d.issuedByKey(ca.Name, old)
	if err != nil {
		return nil, err
	}
	if len(issued) > 0 {
		k.LastNotAfter = last
	}
	k.Serials = issued
	if earlier, err := d.RetiredIssuers(); err == nil {
		k.Issuer = earlier.Issuer(k.Issuer, k.CASerial)
	}
	if k.Issuer == ca.Name {
		k.Issuer = k.Name // a root signed itself: its retired key did
	}
	to := d.CA(k.Name)
	r := &retirement{key: k}
	for _, p := range [][2]string{{ca.Key, to.Key}, {ca.Cert, to.Cert}, {ca.CRL, to.CRL}, {ca.Serials, to.Serials}} {
		if _, err := os.Lstat(p[1]); err == nil {
			return nil, &pkix.Error{File: p[1], Msg: "already exists: this key was retired before", Hint: "move it away after checking what it holds"}
		}
		if info, err := os.Lstat(p[0]); err == nil {
			if !info.Mode().IsRegular() {
				return nil, &pkix.Error{File: p[0], Msg: "is not a regular file (a symlink?); refusing to retire it", Hint: "replace the link with the file itself"}
			}
			r.renames = append(r.renames, dirtx.Rename{From: p[0], To: p[1]})
		}
	}
	data, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, err
	}
	r.manifest = atomicfile.File{Path: d.RetiredManifest(k.Name), Data: append(data, '\n'), Mode: atomicfile.ModePublic, Kind: "retired key's manifest"}
	return r, nil
}

// issuedByKey lists the serials the inventory records under the CA
// name that its current key signed (not an earlier retired key's), and
// the last not-after among them.
func (d *Dir) issuedByKey(name string, ca *x509.Certificate) ([]string, time.Time, error) {
	earlier, err := d.RetiredIssuers()
	if err != nil {
		return nil, time.Time{}, err
	}
	inv, err := d.ReadInventory()
	if err != nil {
		return nil, time.Time{}, err
	}
	var out []string
	var last time.Time
	self := x509text.SerialHex(ca.SerialNumber)
	for _, r := range inv.Records {
		if r.Issuer != name || r.Serial == self || r.Kind == inventory.KindRoot {
			continue
		}
		if _, before := earlier[r.Serial]; before {
			continue
		}
		out = append(out, r.Serial)
		if r.NotAfter.After(last) {
			last = r.NotAfter
		}
	}
	return out, last, nil
}

// note says what a retirement kept, for the command's report.
func (r *retirement) note(d *Dir) string {
	msg := "the old key of " + r.key.CA + " is retired as " + d.CA(r.key.Name).Cert + " (its key, serials and CRL beside it)"
	if n := len(r.key.Serials); n > 0 {
		msg += pkix.Textf(": it issued %d certificate%s, the last expiring %s; '%s' keeps its CRL fresh until then",
			n, dirtx.Plural(n), r.key.LastNotAfter.Format("2006-01-02"), pkix.Cmd(pkix.ActBuildCRL, pkix.OptAll)).String()
	}
	return msg
}

// retireReplaced retires the key of each intermediate a forced issue
// replaces (a re-key), as sets of the same change: the manifest, and the
// old files' renames.
func (d *Dir) retireReplaced(req *IssueRequest, st *dirtx.Stage, sets []dirtx.Set, res *IssueResult) ([]dirtx.Set, error) {
	if !req.Force || req.Kind != inventory.KindIntermediate {
		return nil, nil
	}
	var out []dirtx.Set
	for _, set := range sets {
		ret, err := d.retire(set.Records[0].Name, dirview.Now())
		if err != nil || ret == nil {
			if err != nil {
				for _, s := range sets {
					s.Staged.Discard()
				}
			}
			return nil, err
		}
		out = append(out, dirtx.Set{Staged: st.Files([]atomicfile.File{ret.manifest}, false), Renames: ret.renames})
		res.Notes = append(res.Notes, ret.note(d))
	}
	return out, nil
}
