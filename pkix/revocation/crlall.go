package revocation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// Every CA of the directory publishes a CRL: the root, each intermediate,
// and each retired key while a certificate it issued is unexpired. A CRL
// that lapses makes a fail-closed edge refuse the whole fleet under that
// CA, so the daily job refreshes them all at once (BuildAllCRLs) and
// check covers them all (CRLCoverage).

// directoryCA is one CA whose CRL the directory keeps.
type directoryCA struct {
	name    string
	retired *dirview.RetiredKey // nil for a current key
	// unexpired counts the certificates it issued that have not expired
	// (any status: a superseded one still chains, and may yet be revoked).
	unexpired int
}

// directoryCAs lists the root, the intermediates the inventory records
// (not superseded) and the retired keys still in use.
func (d *Ops) directoryCAs(now time.Time) ([]directoryCA, error) {
	inv, err := d.ReadInventory()
	if err != nil {
		return nil, err
	}
	keys, err := d.RetiredIssuers()
	if err != nil {
		return nil, err
	}
	live, err := d.LiveRetiredKeys(now)
	if err != nil {
		return nil, err
	}
	var cas []directoryCA
	at := map[string]int{}
	for _, r := range inv.Records {
		if r.Kind.IsCA() && r.Status != inventory.StatusSuperseded {
			if _, dup := at[r.Name]; !dup {
				at[r.Name] = len(cas)
				cas = append(cas, directoryCA{name: r.Name})
			}
		}
	}
	for i := range live {
		at[live[i].Name] = len(cas)
		cas = append(cas, directoryCA{name: live[i].Name, retired: &live[i]})
	}
	for _, r := range inv.Records {
		if r.Kind == inventory.KindRoot || !now.Before(r.NotAfter) || dirview.IsExternal(r.Issuer) {
			continue
		}
		if i, ok := at[keys.Issuer(r.Issuer, r.Serial)]; ok {
			cas[i].unexpired++
		}
	}
	return cas, nil
}

// AllCRLsResult is what BuildAllCRLs did.
type AllCRLsResult struct {
	CRLs     []*crl.CRL
	Written  []atomicfile.Written
	Notes    []string
	Warnings []string
	Repaired []string
}

// BuildAllCRLs re-signs the CRL of every CA of the directory whose key is
// here, from its serials file, in one transaction: either every CRL is
// refreshed or none is. Each is checked as crl build checks one: its
// number goes up, and it drops no revocation.
// With ifDue above zero, nothing is rebuilt unless some CRL is missing or
// its next update is that close (the daily job: a CRL number that moves
// every day would make every day's edge data new).
func (d *Ops) BuildAllCRLs(ctx context.Context, nextUpdate, ifDue time.Duration) (*AllCRLsResult, error) {
	st, sess, end, err := d.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	res := &AllCRLsResult{Repaired: sess.Repaired}
	if ifDue > 0 {
		due, err := d.dueCRL(time.Now(), ifDue)
		if err != nil {
			return nil, err
		}
		if due == "" {
			res.Notes = append(res.Notes, fmt.Sprintf("no CRL is missing or due within %s: nothing rebuilt", cfsslconf.FormatDuration(ifDue)))
			return res, nil
		}
		res.Notes = append(res.Notes, due)
	}
	cas, err := d.directoryCAs(time.Now())
	if err != nil {
		return nil, err
	}
	if len(cas) == 0 {
		return nil, &pkix.Error{File: d.Inventory(), Msg: "records no CA", Hint: "run '%s' first", HintArgs: []any{pkix.ActMakeCA}}
	}
	var sets []dirtx.Set
	for _, ca := range cas {
		files := d.CA(ca.name)
		if _, err := os.Lstat(files.Key); errors.Is(err, fs.ErrNotExist) {
			// A root kept offline: its CRL is signed where its key is.
			res.Notes = append(res.Notes, fmt.Sprintf("%s is not here: the CRL of %s is not rebuilt (check says when it is due)", files.Key, ca.name))
			continue
		}
		job, err := d.crlSigner(ca.name, dirview.CAInput{})
		if err != nil {
			return nil, err
		}
		if err := d.resolveCRLOut(job, "", false); err != nil {
			return nil, err
		}
		serials, err := readOptional(files.Serials)
		if err != nil {
			return nil, err
		}
		crl, err := d.signCRL(job, bytes.NewReader(serials), files.Serials, len(serials), false, nextUpdate)
		if err != nil {
			return nil, err
		}
		chk, err := d.checkCRL(job, crl, files.Serials, false, nil, nil)
		if err != nil {
			return nil, err
		}
		res.Warnings = append(res.Warnings, chk.warnings...)
		res.CRLs = append(res.CRLs, crl)
		sets = append(sets, dirtx.Set{Staged: st.Files([]atomicfile.File{crlFile(job, crl, false)}, false)})
	}
	if len(sets) == 0 {
		return res, nil
	}
	written, err := sess.CommitAll(dirtx.Change{Op: "crl build --all", Sets: sets, Whole: true})
	if err != nil {
		return nil, err
	}
	res.Written = append(res.Written, written...)
	return res, nil
}

// readOptional reads a serials file; a CA that never revoked anything
// has none, which is an empty list (the inventory check still refuses a
// CRL that would drop a recorded revocation).
func readOptional(path string) ([]byte, error) {
	if err := rewritable(path); err != nil {
		return nil, err
	}
	data, _, err := input.ReadRegular(path, input.InputCRL)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return data, nil
}

// CRLStatus is one CA's CRL as check sees it.
type CRLStatus struct {
	CA         string
	File       string
	NextUpdate time.Time // zero when the CRL has none, or is missing
	Missing    bool      // the CA issued unexpired certificates and has no CRL
}

// CRLCoverage is what check reports about the directory's CRLs.
type CRLCoverage struct {
	CRLs []CRLStatus
	// Retired says, per retired key, when its last certificate expires,
	// or that it may be destroyed.
	Retired []string
}

// Problems are the lines that make check exit 1: a missing CRL (once the
// directory publishes revocations at all: see publishesRevocations).
func (c *CRLCoverage) Problems() []string {
	var out []string
	for _, s := range c.CRLs {
		if s.Missing {
			out = append(out, pkix.Textf("%s is missing: CA %s issued certificates that have not expired, and a revocation needs its CRL; build it with '%s'", s.File, s.CA, pkix.Cmd(pkix.ActBuildCRL, pkix.OptAll)).String())
		}
	}
	return out
}

// CRLCoverage reads the next update of every CA's CRL (the root's, the
// intermediates', the retired keys' in use), and finds the CAs whose CRL
// is missing.
func (d *Ops) CRLCoverage(now time.Time) (*CRLCoverage, error) {
	cas, err := d.directoryCAs(now)
	if err != nil {
		return nil, err
	}
	cov := &CRLCoverage{}
	publishes, err := d.publishesRevocations(cas)
	if err != nil {
		return nil, err
	}
	for _, ca := range cas {
		file := d.CA(ca.name).CRL
		st := CRLStatus{CA: ca.name, File: file}
		h, err := readCRLHeaderFile(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			st.Missing = publishes && ca.unexpired > 0
		case err != nil:
			return nil, &pkix.Error{File: file, Msg: "cannot be read as a CRL: " + dirtx.Unwrap(err).Error(), Err: err, Hint: rebuildAll, HintArgs: rebuildAllArgs}
		default:
			st.NextUpdate = h.NextUpdate
		}
		cov.CRLs = append(cov.CRLs, st)
	}
	keys, err := d.RetiredKeys()
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if len(k.Serials) == 0 {
			cov.Retired = append(cov.Retired, fmt.Sprintf("retired key %s issued no certificate: the retired key may be destroyed", d.CA(k.Name).Key))
		} else if k.InUse(now) {
			cov.Retired = append(cov.Retired, fmt.Sprintf("retired key %s: the last certificate it issued expires %s; its CRL %s is kept until then",
				d.CA(k.Name).Key, k.LastNotAfter.Format("2006-01-02"), d.CA(k.Name).CRL))
		} else {
			cov.Retired = append(cov.Retired, fmt.Sprintf("retired key %s: every certificate it issued has expired (the last on %s): the retired key may be destroyed",
				d.CA(k.Name).Key, k.LastNotAfter.Format("2006-01-02")))
		}
	}
	return cov, nil
}

// dueCRL names the first CRL that is missing or whose next update is
// within window ("" when none).
func (d *Ops) dueCRL(now time.Time, window time.Duration) (string, error) {
	cov, err := d.CRLCoverage(now)
	if err != nil {
		return "", err
	}
	for _, s := range cov.CRLs {
		switch {
		case s.Missing:
			return s.File + " is missing: every CRL is rebuilt", nil
		case !s.NextUpdate.IsZero() && s.NextUpdate.Sub(now) <= window:
			return fmt.Sprintf("%s is due (next update %s): every CRL is rebuilt", s.File, s.NextUpdate.UTC().Format(time.RFC3339)), nil
		}
	}
	return "", nil
}

// publishesRevocations reports whether the directory revokes at all: a
// CA has a CRL or a serials file, or the inventory records a revocation.
// A directory that never did (the quick start, Access alone, which reads
// no CRL) has no CRL missing; once one CA publishes, every CA must, or
// its revocations are nowhere and a fail-closed edge refuses its fleet.
func (d *Ops) publishesRevocations(cas []directoryCA) (bool, error) {
	for _, ca := range cas {
		if dirview.FileExists(d.CA(ca.name).CRL) || dirview.FileExists(d.CA(ca.name).Serials) {
			return true, nil
		}
	}
	sc, err := d.scan("", nil)
	if err != nil {
		return false, err
	}
	for _, serials := range sc.revoked {
		if len(serials) > 0 {
			return true, nil
		}
	}
	return false, nil
}
