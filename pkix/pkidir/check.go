package pkidir

import (
	"crypto/x509"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
)

// CheckOptions says what a check looks at. Without Certs or Records it
// checks the directory: its inventory, its CRLs and its unfinished changes.
type CheckOptions struct {
	Now           time.Time
	Warn, CRLWarn time.Duration
	// Certs and Records, given instead of the directory's inventory: the
	// certificates of files, or a signer's records.
	Certs   []CheckCert
	Records []inventory.Record
	// Inventory checks the directory's inventory and everything that
	// follows from it.
	Inventory bool
	// ReadCA reads the root's certificate of a directory with no inventory
	// (made with cfssl, or before the inventory).
	ReadCA func(path string) ([]*x509.Certificate, error)
	// CRLPath is the CRL whose next update is checked, "" for none; ReadCRL
	// reads it.
	CRLPath string
	ReadCRL func(path string) (*crl.RevocationList, error)
	// GuardCRL refuses a CRL older than, or short of, what the directory
	// revoked.
	GuardCRL bool
}

// CheckCert is a certificate read from a file.
type CheckCert struct {
	File string
	Cert *x509.Certificate
}

// FindingKind is what a finding is about. The order of the constants from
// FindingExpiring on is the order in which a problem wins the verdict.
type FindingKind int

const (
	FindingNone            FindingKind = iota
	FindingExpiring                    // a certificate or CRL inside its window
	FindingUnverified                  // a certificate that no longer verifies
	FindingRevokedInEffect             // a valid certificate condemned by a revocation
	FindingCRLBehind                   // a CRL that leaves out what the inventory revoked
	FindingCRLMissing                  // a CA with unexpired certificates and no CRL
	FindingUnrevoked                   // a renewal's old certificate not revoked as asked
	FindingCRLRefused                  // the CRL given is not its CA's complete list
	FindingPending                     // a committed change not finished
	// Findings below never make a check fail.
	FindingSuperseded // a renewed certificate still valid
	FindingCRLNote    // what the CRL reader found that is not a date
	FindingRetired    // a retired key: how long its CRL is kept
)

// Severity says whether a finding is a warning or a note.
type Severity int

const (
	SeverityWarning Severity = iota
	SeverityNote
)

// Finding is one thing a check found, in the order it is reported.
type Finding struct {
	Kind     FindingKind
	Severity Severity
	Text     string
	// Err is the refusal of a CRL, for its hint.
	Err error
	// Record is the certificate a superseded finding is about; its Text is
	// empty, as what to do about it is the caller's to say.
	Record *inventory.Record
}

// CheckReport is everything a check found.
type CheckReport struct {
	Expiry inventory.ExpiryReport
	// Expiring is how many items expire within their window.
	Expiring int
	Findings []Finding
	// CRL is the CRL read, nil when none was.
	CRL *crl.RevocationList
}

// Count is how many findings of a kind there are.
func (r *CheckReport) Count(k FindingKind) int {
	if k == FindingExpiring {
		return r.Expiring
	}
	n := 0
	for _, f := range r.Findings {
		if f.Kind == k {
			n++
		}
	}
	return n
}

// Verdict is the problem that names a failed check and how many of that
// kind there are, FindingNone when nothing is a problem.
func (r *CheckReport) Verdict() (FindingKind, int) {
	for k := FindingExpiring; k <= FindingPending; k++ {
		if n := r.Count(k); n > 0 {
			return k, n
		}
	}
	return FindingNone, 0
}

func (r *CheckReport) add(k FindingKind, s Severity, text string) {
	r.Findings = append(r.Findings, Finding{Kind: k, Severity: s, Text: text})
}

// Check judges what expires and what is unfinished or inconsistent. On an
// error the report holds what was found before it, to be reported too.
func (d *Dir) Check(opts CheckOptions) (*CheckReport, error) {
	rep := &CheckReport{}
	col := inventory.NewExpiryCollector(opts.Now, opts.Warn, opts.CRLWarn)
	for _, c := range opts.Certs {
		col.AddCertificate(c.File, c.Cert)
	}
	for _, r := range opts.Records {
		col.AddRecord(r)
	}
	cov := &revocation.CRLCoverage{}
	var late []Finding
	if opts.Inventory {
		var err error
		if cov, late, err = d.checkInventory(opts, col, rep); err != nil {
			return rep, err
		}
	}
	var crlNotes []string
	refused := false
	if opts.CRLPath != "" {
		rl, err := opts.ReadCRL(opts.CRLPath)
		if err != nil {
			return rep, err
		}
		rep.CRL = rl
		for _, w := range rl.Warnings {
			crlNotes = append(crlNotes, rl.File+": "+w)
			rep.add(FindingCRLNote, SeverityWarning, rl.File+": "+w)
		}
		err = rl.Usable()
		if err == nil && opts.GuardCRL {
			err = d.GuardGivenCRL(opts.CRLPath, rl)
		}
		if err != nil {
			// Its next update says nothing of what it leaves out: no row.
			refused = true
			crlNotes = append(crlNotes, err.Error())
			rep.Findings = append(rep.Findings, Finding{Kind: FindingCRLRefused, Text: err.Error(), Err: err})
		} else if !rl.NextUpdate.IsZero() {
			col.AddCRL(opts.CRLPath, rl.NextUpdate)
		}
	}
	for _, s := range cov.CRLs {
		if s.File != opts.CRLPath && !s.NextUpdate.IsZero() {
			col.AddCRL(s.File, s.NextUpdate)
		}
	}
	rep.Findings = append(rep.Findings, late...)
	rep.Expiry = col.Report()
	rep.Expiry.CRLNotes = crlNotes
	rep.Expiring = rep.Expiry.Problems
	if refused {
		rep.Expiry.Problems++
	}
	return rep, nil
}

// checkInventory adds the directory's valid records and finds what is
// unfinished at once; what follows from the CRLs is returned to be
// reported after the CRL's own findings.
func (d *Dir) checkInventory(opts CheckOptions, col *inventory.ExpiryCollector, rep *CheckReport) (*revocation.CRLCoverage, []Finding, error) {
	inv, err := d.ReadInventory()
	if err != nil {
		return nil, nil, err
	}
	for _, r := range inv.Records {
		if r.Status == inventory.StatusValid { // not revoked, not replaced by a renewal
			col.AddRecord(r)
		}
	}
	// A committed change not finished yet (a revocation, say) is not in
	// effect: that is a problem to report, not to repair from a check.
	if p := d.Pending(); p != "" {
		rep.add(FindingPending, SeverityWarning, p)
	}
	// A CRL that does not list every certificate the inventory marks
	// revoked: a revoked device still gets in where the CRL is used.
	behind, err := d.CRLsBehind()
	if err != nil {
		return nil, nil, err
	}
	cov, err := d.CRLCoverage(opts.Now)
	if err != nil {
		return nil, nil, err
	}
	// A certificate that no longer verifies (its CA was replaced) is as
	// good as expired.
	unverified := d.Unverifiable(inv)
	revokedInEffect := d.RevocationFindings(inv)
	if len(inv.Records) == 0 {
		// A directory made with cfssl or before the inventory: its CA.
		root := d.CA(dirview.RootName)
		certs, err := opts.ReadCA(root.Cert)
		if err != nil {
			return nil, nil, err
		}
		for _, cert := range certs {
			col.AddCertificate(root.Cert, cert)
		}
	}
	unrevoked, err := d.PendingRevocations()
	if err != nil {
		return nil, nil, err
	}
	for _, p := range unrevoked {
		rep.add(FindingUnrevoked, SeverityWarning, p.Message())
	}
	for _, r := range revocation.SupersededStillValid(inv, opts.Now) {
		rep.Findings = append(rep.Findings, Finding{Kind: FindingSuperseded, Severity: SeverityNote, Record: &r})
	}
	var late []Finding
	for _, b := range behind {
		late = append(late, Finding{Kind: FindingCRLBehind, Text: b.Message()})
	}
	for _, v := range unverified {
		late = append(late, Finding{Kind: FindingUnverified, Text: v.Message()})
	}
	for _, f := range revokedInEffect {
		late = append(late, Finding{Kind: FindingRevokedInEffect, Text: f})
	}
	for _, p := range cov.Problems() {
		late = append(late, Finding{Kind: FindingCRLMissing, Text: p})
	}
	for _, n := range cov.Retired {
		late = append(late, Finding{Kind: FindingRetired, Severity: SeverityNote, Text: n})
	}
	return cov, late, nil
}
