package pkidir

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// RenewRequest picks the client certificates to reissue: by name (file
// base name or CN), or every valid one expiring within Expiring (whose
// CN matches CNGlob, when given).
type RenewRequest struct {
	Names    []string
	Expiring time.Duration
	CNGlob   string
	// ReuseKey re-signs the current public key instead of making a new
	// key. A certificate whose key is on the device is always renewed so,
	// from its request in the directory (NAME.csr), or from Request.
	ReuseKey bool
	Request  *ca.DeviceRequest // a new request from the device (one certificate)
	// SubjectFromRequest: the certificate gets Request's subject. Without
	// it a renewal keeps the recorded subject, and a Request asking for
	// any other is refused.
	SubjectFromRequest bool
	Config             *cfsslconf.SigningConfig
	// RevokeOld: the old certificates are revoked next; each renewal
	// records that intent in its own transaction (revokepending.go).
	RevokeOld bool
	// NextUpdate is how long the CRLs rebuilt by a revocation are valid.
	NextUpdate time.Duration
	// Lifetime, when not zero, replaces the profile's expiry.
	Lifetime ca.Lifetime
	Now      time.Time
	Progress func(done int)
}

// ErrDueAgain: a renewal would itself be due within the renewal window.
var ErrDueAgain = errors.New("due again at once")

// RenewResult is what a renewal did: the certificates due, the new ones,
// and those that could not be renewed, named.
type RenewResult struct {
	Due []inventory.Record
	*IssueResult
	Superseded []inventory.Record // the old records, now superseded (same order as Issued)
}

// Renew reissues each due certificate with the same subject, profile and
// issuer, under the same name (the old files kept as .bak, the old record
// superseded, as 'client issue --force' does), on all cores. Certificates
// that cannot be renewed are Failed, named; the others are renewed.
func (d *Dir) Renew(ctx context.Context, req *RenewRequest) (*RenewResult, error) {
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	due, err := d.dueForRenewal(req)
	if err != nil {
		return nil, err
	}
	res := &RenewResult{Due: due, IssueResult: &IssueResult{}}
	if len(due) == 0 {
		return res, nil
	}
	if req.Request != nil && len(due) != 1 {
		return nil, &pkix.Error{File: req.Request.File, Msg: fmt.Sprintf("one request renews one certificate, and %d are due", len(due)),
			Hint: "name the certificate the request is for: %s", HintArgs: []any{pkix.Cmd(pkix.ActRenewClient, "NAME", pkix.OptRequest.With("FILE"))}}
	}
	type group struct{ issuer, profile string }
	jobs := map[group][]Job{}
	old := map[string]inventory.Record{}
	for _, r := range due {
		j, err := d.renewalJob(r, req)
		if err != nil {
			res.Failed = append(res.Failed, Failure{CN: r.CN, Name: r.Name, Error: err.Error(), err: err})
			continue
		}
		g := group{r.Issuer, r.Profile}
		jobs[g] = append(jobs[g], j)
		old[r.Name] = r
	}
	groups := make([]group, 0, len(jobs))
	for g := range jobs {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(a, b int) bool {
		return groups[a].issuer+"/"+groups[a].profile < groups[b].issuer+"/"+groups[b].profile
	})
	for _, g := range groups {
		signer, err := d.LoadSigner(g.issuer, dirview.CAInput{}, req.Config)
		if err != nil {
			for _, j := range jobs[g] {
				res.Failed = append(res.Failed, Failure{CN: j.CN, Name: j.Name, Error: err.Error(), err: err})
			}
			continue
		}
		if req.Expiring > 0 {
			// Refused, not warned: a daily job reads its exit code, not its
			// stderr, and a loop of renewals is a setting to change.
			why, err := signer.Issuer.DueAgainAtOnce(g.profile, req.Lifetime, req.Now, req.Expiring)
			if err == nil && why != "" {
				err = &pkix.Error{Msg: why, Err: ErrDueAgain}
			}
			if err != nil {
				for _, j := range jobs[g] {
					res.Failed = append(res.Failed, Failure{CN: j.CN, Name: j.Name, Error: err.Error(), err: err})
				}
				continue
			}
		}
		out, err := d.Issue(ctx, &IssueRequest{Kind: inventory.KindClient, Jobs: jobs[g], Signer: signer, Profile: g.profile,
			CertKind: "client certificate (renewed)", Force: true, Progress: req.Progress, Lifetime: req.Lifetime, RevokePending: req.RevokeOld})
		if err != nil {
			for _, j := range jobs[g] {
				res.Failed = append(res.Failed, Failure{CN: j.CN, Name: j.Name, Error: err.Error(), err: err})
			}
			continue
		}
		res.Issued = append(res.Issued, out.Issued...)
		res.Failed = append(res.Failed, out.Failed...)
		res.Warnings = append(res.Warnings, out.Warnings...)
		res.Notes = append(res.Notes, out.Notes...)
		res.Repaired = append(res.Repaired, out.Repaired...)
		for _, is := range out.Issued {
			res.Superseded = append(res.Superseded, old[is.Name])
		}
	}
	sortFailures(res.Failed)
	return res, nil
}

// dueForRenewal selects the valid client certificates to renew.
func (d *Dir) dueForRenewal(req *RenewRequest) ([]inventory.Record, error) {
	inv, err := d.ReadInventory()
	if err != nil {
		return nil, err
	}
	valid := func(r *inventory.Record) bool {
		return r.Kind == inventory.KindClient && r.Status == inventory.StatusValid
	}
	var due []inventory.Record
	if len(req.Names) > 0 {
		seen := map[string]bool{}
		for _, n := range req.Names {
			var m []inventory.Record
			for _, r := range inv.Records {
				if valid(&r) && r.Name == n {
					m = append(m, r)
				}
			}
			if len(m) == 0 {
				for _, r := range inv.Records {
					if valid(&r) && r.CN == n {
						m = append(m, r)
					}
				}
			}
			switch {
			case len(m) == 0:
				return nil, &pkix.Error{Msg: fmt.Sprintf("no valid client certificate is named or has the CN %q", n), Hint: "see '%s'", HintArgs: []any{pkix.Cmd(pkix.ActListClients, pkix.OptValid)}, Err: revocation.ErrUnknown}
			case len(m) > 1:
				return nil, &pkix.Error{Msg: fmt.Sprintf("CN %q matches %d certificates", n, len(m)), Hint: "give the file base name instead (see '%s')", HintArgs: []any{pkix.ActListClients}, Err: revocation.ErrAmbiguous}
			}
			if !seen[m[0].Serial] {
				seen[m[0].Serial] = true
				due = append(due, m[0])
			}
		}
		return due, nil
	}
	for _, r := range inv.Records {
		if !valid(&r) || r.NotAfter.After(req.Now.Add(req.Expiring)) {
			continue
		}
		if req.CNGlob != "" {
			if ok, err := path.Match(req.CNGlob, r.CN); err != nil {
				return nil, &pkix.Error{Field: pkix.Textf("%s", pkix.OptCN).String(), Msg: fmt.Sprintf("%q is not a pattern: %v", req.CNGlob, err)}
			} else if !ok {
				continue
			}
		}
		due = append(due, r)
	}
	return due, nil
}

// renewalJob is how one certificate is renewed: with a new key made here
// (the same type and size), the current key re-signed, or the device's
// request.
func (d *Dir) renewalJob(r inventory.Record, req *RenewRequest) (Job, error) {
	lf := d.Leaf(r.Name)
	certs, err := dirview.ReadCerts(lf.Cert, pkix.Textf("the certificate's file is gone: issue it again with '%s'", pkix.ActIssueClient))
	if err != nil {
		return Job{}, err
	}
	cert := certs[0]
	if x509text.FingerprintSHA256(cert) != r.SHA256 {
		return Job{}, &pkix.Error{File: lf.Cert, Msg: "is not the certificate the inventory records (serial " + r.Serial + ")",
			Hint: "restore it from git or its .bak, or issue it again with '%s'", HintArgs: []any{pkix.Cmd(pkix.ActIssueClient, pkix.OptForce)}}
	}
	// A renewal issues exactly the subject it renews, all its attributes
	// in their RDNs: a device may not raise its own O or OU on renewal.
	job := Job{CN: r.CN, Name: r.Name, Replaces: r.Serial, Subject: cert.RawSubject}
	switch {
	case req.Request != nil:
		diff, err := ca.SubjectDifference(cert.RawSubject, req.Request.CSR.RawSubject)
		if err != nil {
			return Job{}, &pkix.Error{File: req.Request.File, Msg: err.Error()}
		}
		switch {
		case req.SubjectFromRequest:
			// The request's other attributes, but never another CN: the
			// CN is the identity the inventory, the edge's rules and the
			// CN checks (invisible code points, DN metacharacters) were
			// applied to. A different CN is a new device: client sign.
			if cn := req.Request.CSR.Subject.CommonName; cn != r.CN {
				return Job{}, &pkix.Error{File: req.Request.File, Msg: pkix.Textf("the request's CN %s is not the certificate's (%s): %s takes the request's other attributes, never another CN", strconv.QuoteToASCII(cn), strconv.QuoteToASCII(r.CN), pkix.OptSubjectFromRequest).String(),
					Hint: "a new CN is a new certificate: sign the request with '%s'", HintArgs: []any{pkix.ActSignRequest}}
			}
			job.Subject = req.Request.CSR.RawSubject
		case diff != "":
			return Job{}, &pkix.Error{File: req.Request.File, Msg: fmt.Sprintf("the request's subject is not the certificate's (%s): it %s; a renewal keeps the subject", x509text.SubjectDN(cert), diff),
				Hint: "make the request with the certificate's subject, or renew with %s to issue the request's subject", HintArgs: []any{pkix.OptSubjectFromRequest}}
		}
		job.Device, job.SetCN = req.Request, true // SetCN: cfssl's re-encoding warning is moot, Subject replaces it
	case r.KeyHeld == inventory.KeyOnDevice:
		dr, err := requestFor(lf.CSR, cert)
		if err != nil {
			return Job{}, err
		}
		job.Device, job.SetCN = dr, true
	case req.ReuseKey:
		key, err := dirview.ReadKey(lf.Key, pkix.Words("the key must be next to the certificate as NAME-key.pem"))
		if err != nil {
			return Job{}, err
		}
		if !pemutil.KeyMatches(cert, key) {
			return Job{}, &pkix.Error{File: lf.Key, Msg: "this key does not belong to " + lf.Cert}
		}
		csrPEM, err := csr.Generate(key, subjectRequest(cert))
		if err != nil {
			return Job{}, fmt.Errorf("%s: a request for the current key: %v", lf.Key, err)
		}
		dr, err := ca.ParseDeviceRequest(lf.Key, csrPEM)
		if err != nil {
			return Job{}, err
		}
		job.Device, job.KeyHere = dr, true
	default:
		cr := subjectRequest(cert)
		cr.KeyRequest = ca.KeyRequestLike(cert)
		job.Req = &cfsslconf.Request{CR: cr}
	}
	return job, nil
}

// requestFor is the device's request in the directory for cert's key.
func requestFor(path string, cert *x509.Certificate) (*ca.DeviceRequest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &pkix.Error{File: path, Msg: "the key is on the device and its request is not here",
			Hint: "give a request from the device: %s", HintArgs: []any{pkix.Cmd(pkix.ActRenewClient, "NAME", pkix.OptRequest.With("FILE"))}}
	}
	dr, err := ca.ParseDeviceRequest(path, data)
	if err != nil {
		return nil, err
	}
	if string(dr.CSR.RawSubjectPublicKeyInfo) != string(cert.RawSubjectPublicKeyInfo) {
		return nil, &pkix.Error{File: path, Msg: "is a request for another key than the certificate's",
			Hint: "give the device's current request with %s", HintArgs: []any{pkix.OptRequest.With("FILE")}}
	}
	return dr, nil
}

// subjectRequest asks for cert's subject again, as near as cfssl's
// request can say it; the job's Subject then makes it exact.
func subjectRequest(cert *x509.Certificate) *csr.CertificateRequest {
	s := cert.Subject
	n := csr.Name{}
	first := func(v []string) string {
		if len(v) > 0 {
			return v[0]
		}
		return ""
	}
	n.C, n.ST, n.L, n.O, n.OU = first(s.Country), first(s.Province), first(s.Locality), first(s.Organization), first(s.OrganizationalUnit)
	cr := &csr.CertificateRequest{CN: s.CommonName, SerialNumber: s.SerialNumber}
	if n.C+n.ST+n.L+n.O+n.OU != "" {
		cr.Names = []csr.Name{n}
	}
	return cr
}
