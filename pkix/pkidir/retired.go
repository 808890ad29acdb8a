package pkidir

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Re-keying a CA (ca intermediate --force, ca init --force) does not make
// what the old key issued harmless: those certificates still chain to the
// old certificate until they expire, and the edge tells CAs apart by key
// (certIssuerSKI). So the old key is retired, not forgotten: its
// certificate, key, serials file and CRL move to NAME.retired-SKI8.* in
// the same transaction as the new key, with a manifest
// (NAME.retired-SKI8.json) listing every serial it issued. The inventory
// keeps recording those certificates under NAME (a record never changes
// its issuer); the manifest says which key of NAME signed them, so that
// each revocation lands on the CRL of the key that issued it. The retired
// key's CRL is re-signed by crl build --all until the last certificate it
// issued has expired; check then says the key may be destroyed.

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

func (d *Dir) retiredManifest(name string) string { return d.File(name + ".json") }

// RetiredKeys reads the manifests of the directory's retired keys, oldest
// first.
func (d *Dir) RetiredKeys() ([]RetiredKey, error) {
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

// retiredSigners maps each serial a retired key issued to that key's name: the
// inventory's issuer of those serials is the CA they were retired from.
type retiredSigners map[string]string

func (d *Dir) retiredIssuers() (retiredSigners, error) {
	keys, err := d.RetiredKeys()
	if err != nil {
		return nil, err
	}
	m := retiredSigners{}
	for _, k := range keys {
		for _, s := range k.Serials {
			m[s] = k.Name
		}
	}
	return m, nil
}

// issuer is the name of the key that signed serial, recorded as issued
// by issuer.
func (m retiredSigners) issuer(issuer, serial string) string {
	if k, ok := m[serial]; ok {
		return k
	}
	return issuer
}

// retirement is what re-keying the CA name moves aside: its files and
// the manifest of what the old key issued.
type retirement struct {
	key      RetiredKey
	renames  []dirtx.Rename
	manifest atomicfile.File
}

// retire plans the retirement of the current key of the CA name, read
// under the lock; nil when there is none (no certificate in place).
func (d *Dir) retire(name string, at time.Time) (*retirement, error) {
	ca := d.CA(name)
	certs, err := readCerts(ca.Cert, pkix.Text{})
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
	k := RetiredKey{Name: ca.Name + dirtx.RetiredMark + ski[:min(8, len(ski))], CA: ca.Name, SKI: ski, CASerial: x509text.SerialHex(old.SerialNumber),
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
	if earlier, err := d.retiredIssuers(); err == nil {
		k.Issuer = earlier.issuer(k.Issuer, k.CASerial)
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
	r.manifest = atomicfile.File{Path: d.retiredManifest(k.Name), Data: append(data, '\n'), Mode: atomicfile.ModePublic, Kind: "retired key's manifest"}
	return r, nil
}

// issuedByKey lists the serials the inventory records under the CA
// name that its current key signed (not an earlier retired key's), and
// the last not-after among them.
func (d *Dir) issuedByKey(name string, ca *x509.Certificate) ([]string, time.Time, error) {
	earlier, err := d.retiredIssuers()
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

// LiveRetiredKeys are the retired keys whose certificates are not all
// expired: their CRLs are still read and re-signed.
func (d *Dir) LiveRetiredKeys(now time.Time) ([]RetiredKey, error) {
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
func (d *Dir) RetiredCRLsBeside(given []string, now time.Time) []string {
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
		if fileExists(crl) && !slices.ContainsFunc(given, func(g string) bool { return sameFile(g, crl) }) {
			out = append(out, crl)
		}
	}
	return out
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
		ret, err := d.retire(set.Records[0].Name, now())
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
