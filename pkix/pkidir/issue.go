package pkidir

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Job is one certificate to issue: its request and its files' base name.
// With Device, the certificate is signed from a device's own PKCS#10
// request (no key is made or written); CN then overrides the request's
// CN only when SetCN.
type Job struct {
	CN, Name string
	Req      *cfsslconf.Request
	Device   *ca.DeviceRequest
	SetCN    bool
	// KeyHere: the request is for a key in the directory (a renewal that
	// keeps it): the key file stays, the record says the key is here.
	KeyHere bool
	// Replaces: the serial of the valid certificate a renewal replaces. If
	// another run renewed or revoked it meanwhile, this job is not
	// committed (checked under the lock, so two renewals never both land).
	Replaces string
	// Subject, when set, is the DER subject the certificate gets, byte
	// for byte, whatever the request says: a renewal's recorded subject.
	Subject []byte
}

// PlanBatch gives every CN of a batch its request and its files' name,
// derived from the CN (pkix.SafeName), refusing a CN listed twice and two
// CNs that would share a name.
func PlanBatch(template *cfsslconf.Request, cns []string) ([]Job, error) {
	byName := map[string]string{}
	jobs := make([]Job, 0, len(cns))
	for _, cn := range cns {
		name := ca.SafeName(cn)
		if other, ok := byName[name]; ok {
			if other == cn {
				return nil, &pkix.Error{Msg: fmt.Sprintf("CN %q is listed twice", cn), Hint: "each CN gets one certificate; remove the repeat"}
			}
			return nil, &pkix.Error{Msg: fmt.Sprintf("CNs %q and %q would both be named %s.pem", other, cn, name), Hint: "make the CNs differ in letters or digits"}
		}
		byName[name] = cn
		req := *template
		cr := *template.CR
		cr.CN = cn
		req.CR = &cr
		jobs = append(jobs, Job{CN: cn, Name: name, Req: &req})
	}
	return jobs, nil
}

// IssueRequest is a batch of leaves, or one intermediate: the same flow
// (check every output, compute on all cores staging each certificate's
// files, commit whatever was made in one transaction).
type IssueRequest struct {
	Kind   inventory.Kind // KindClient or KindIntermediate
	Jobs   []Job
	Signer *dirview.Signer
	// Profile names the signing profile; for an intermediate, CAProfile
	// is the profile itself and PathLen its exact path length (-1: none).
	Profile   string
	CAProfile *config.SigningProfile
	PathLen   int
	CertKind  string // how the certificate file is described ("client certificate")
	Force     bool
	// Lifetime, when not zero, replaces the profile's expiry; it is
	// checked against the profile and the issuer before any key is made.
	Lifetime ca.Lifetime
	// RevokePending: a renewal whose old certificates are to be revoked
	// next commits that intent with each (see revokepending.go).
	RevokePending bool
	P12           *P12Options
	// AllowDNSpecials lets a client CN hold DN metacharacters (",", "+",
	// "=", ...), which are refused by default (pkix.CheckCNSpecials).
	AllowDNSpecials bool
	// Progress, if set, is called from the workers with the number done.
	Progress func(done int)
}

// P12Options asks for NAME.p12 beside each certificate.
type P12Options struct {
	Password string
	Legacy   bool
}

// IssuedCert is one certificate that now exists, recorded.
type IssuedCert struct {
	CN, Name string
	Cert     *x509.Certificate
	Files    []atomicfile.Written
}

// Failure is a certificate of a batch that was not issued.
type Failure struct {
	CN    string `json:"cn"`
	Name  string `json:"name"`
	Error string `json:"error"`
	err   error
}

// Hint is how to fix the failure, when known.
func (f Failure) Hint() pkix.Text { return pkix.HintOf(f.err) }

// NotStarted reports a certificate an interrupted batch never began.
func (f Failure) NotStarted() bool { return errors.Is(f.err, ca.ErrNotStarted) }

// IssueResult is what an issue did.
type IssueResult struct {
	Issued   []IssuedCert
	Failed   []Failure
	Warnings []string
	Notes    []string
	Repaired []string
}

// CheckOutputs refuses, before any key is made, names the directory
// reserves and outputs that exist (unless force): a long batch of RSA
// keys is not wasted on a name that was taken all along.
func (d *Dir) CheckOutputs(req *IssueRequest) error {
	for _, j := range req.Jobs {
		if err := d.checkName(req.Kind, j.Name); err != nil {
			return err
		}
		if err := d.checkCNSpecials(req, j); err != nil {
			return err
		}
		if j.Device != nil {
			// A device's request never makes a CA, whatever profile is named.
			if p, err := req.Signer.Issuer.Config.Profile(req.Profile); err == nil && p.CAConstraint.IsCA {
				return &pkix.Error{Field: "profile " + req.Profile, Msg: "makes CA certificates: a device's request never gets one",
					Hint: "sign with a client profile (the default, client)"}
			}
		}
		if j.Device != nil && req.P12 != nil {
			return &pkix.Error{File: j.Device.File, Msg: "a PKCS#12 file holds the private key, and this certificate's key is on the device",
				Hint: "drop %s: the device pairs its key with the certificate itself", HintArgs: []any{pkix.OptP12}}
		}
		cn := j.CN
		if j.Replaces != "" {
			cn = "" // a renewal: its certificate file was checked against the record
		}
		for _, p := range d.outputs(req, j) {
			if err := d.checkFree(p, cn, req.Force); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *Dir) checkName(kind inventory.Kind, name string) error {
	if kind == inventory.KindClient {
		return d.CheckCertName(name)
	}
	if err := d.CheckReserved(name); err != nil {
		return err
	}
	// An intermediate never takes a client's files: --force would turn
	// its key into a CA key that export then hands out.
	if data, err := os.ReadFile(d.Leaf(name).Cert); err == nil {
		if c, err := pemutil.ParseCertificatePEM(d.Leaf(name).Cert, data); err != nil || !c.IsCA {
			return &pkix.Error{File: d.Leaf(name).Cert, Msg: "the name " + name + " belongs to a certificate that is not a CA",
				Hint: "choose another name for the intermediate with %s", HintArgs: []any{pkix.OptName}}
		}
	}
	return nil
}

// outputs are the paths a job writes.
func (d *Dir) outputs(req *IssueRequest, j Job) []string {
	lf := d.Leaf(j.Name)
	out := []string{lf.Cert}
	if !d.requestInPlace(j) {
		out = append(out, lf.CSR)
	}
	if j.Device == nil {
		out = append(out, lf.Key)
	}
	switch {
	case req.Kind == inventory.KindIntermediate:
		out = append(out, d.CA(j.Name).Chain)
	case req.Signer.UnderIntermediate():
		out = append(out, lf.Fullchain)
	}
	if req.P12 != nil {
		out = append(out, lf.P12)
	}
	return out
}

// requestInPlace: a device's request signed from DIR/NAME.csr itself (the
// usual flow: the request is dropped into the directory) is already where
// its copy would go, and is left as it is.
func (d *Dir) requestInPlace(j Job) bool {
	if j.Device == nil {
		return false
	}
	a, err1 := os.Stat(j.Device.File)
	b, err2 := os.Stat(d.Leaf(j.Name).CSR)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// checkFree: an existing output is refused without force; with force it
// is kept as a backup, but never when it is someone else's certificate
// (a different CN): --force would hide a valid certificate as superseded.
func (d *Dir) checkFree(path, cn string, force bool) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return d.IOError(path, "cannot check the output", err)
	}
	other := ""
	if cn != "" {
		if data, err := os.ReadFile(path); err == nil {
			if c, err := pemutil.ParseCertificatePEM(path, data); err == nil && c.Subject.CommonName != cn {
				other = c.Subject.CommonName
			}
		}
	}
	switch {
	case other != "":
		// Said whether or not --force was given: with it, the old hint
		// ("--force would replace that certificate") read as a refusal
		// for want of the flag the user had just passed.
		return &pkix.Error{File: path, Msg: pkix.Textf("already exists and is the certificate of %q, not %q: %s replaces (or re-keys) a certificate with one of its own CN, never another's", other, cn, pkix.OptForce).String(),
			Hint: "choose another file name with %s for %q beside it; to replace %q, keep its CN (%s)", HintArgs: []any{pkix.OptName, cn, other, pkix.OptCN.With(x509text.ShellQuote(other))}}
	case !force:
		return &pkix.Error{File: path, Msg: "already exists; refusing to overwrite it",
			Hint: pkix.MoveAway.Format, HintArgs: pkix.MoveAway.Args}
	case !info.Mode().IsRegular():
		return &pkix.Error{File: path, Msg: "exists and is not a regular file; refusing to replace it"}
	}
	return nil
}

// Issue makes the certificates of req and commits them. Once ctx is done
// (a signal), no new certificate is started; those made are still
// recorded and placed, and the rest are Failed with pkix.ErrNotStarted.
func (d *Dir) Issue(ctx context.Context, req *IssueRequest) (*IssueResult, error) {
	if err := d.CheckOutputs(req); err != nil {
		return nil, err
	}
	if err := d.checkDeviceKeys(req); err != nil {
		return nil, err
	}
	s := req.Signer
	if err := s.Issuer.CheckLifetime(req.Profile, req.Lifetime, time.Now()); err != nil {
		return nil, err
	}
	var p12Chain []*x509.Certificate
	if req.P12 != nil {
		p12Chain = d.ChainToRoot(s)
	}
	st, err := d.NewStage()
	if err != nil {
		return nil, err
	}
	defer st.Release()
	staged := make([]*atomicfile.Staged, len(req.Jobs))
	results := ca.RunBatch(ctx, len(req.Jobs), func(i int) (*ca.Issued, []string, error) {
		is, warnings, err := d.issueOne(req, req.Jobs[i])
		if err == nil && req.Jobs[i].Subject != nil {
			err = s.Issuer.WithSubject(is, req.Jobs[i].Subject)
		}
		return is, warnings, err
	}, func(i int, r *ca.BatchResult, done int) {
		if req.Progress != nil {
			defer req.Progress(done)
		}
		if r.Err != nil {
			return
		}
		files, err := d.certFiles(req, req.Jobs[i], r.Issued, p12Chain)
		if err != nil {
			r.Err = err
			return
		}
		staged[i] = st.Files(files, req.Force)
	})

	res := &IssueResult{}
	var sets []dirtx.Set
	var setJob []int
	for i, r := range results {
		j := req.Jobs[i]
		if r.Err != nil {
			res.Failed = append(res.Failed, Failure{CN: j.CN, Name: j.Name, Error: r.Err.Error(), err: r.Err})
			continue
		}
		for _, w := range r.Warnings {
			if !slices.Contains(res.Warnings, w) {
				res.Warnings = append(res.Warnings, w)
			}
		}
		rec := inventory.RecordOf{Cert: r.Issued.Cert, Kind: req.Kind, Profile: req.Profile, Issuer: s.Name, Name: j.Name}.Record()
		if j.Device != nil && !j.KeyHere {
			rec.KeyHeld = inventory.KeyOnDevice
		}
		set := dirtx.Set{Staged: staged[i], Records: []inventory.Record{rec}, Force: req.Force}
		if req.Force && req.Kind == inventory.KindClient {
			// A renewal replaces the whole set: files it does not make again
			// (the old NAME.p12 holds the old key) move aside with it.
			lf := d.Leaf(j.Name)
			if req.P12 == nil {
				set.Retire = append(set.Retire, lf.P12)
			}
			if j.Device != nil && !j.KeyHere {
				set.Retire = append(set.Retire, lf.Key) // the old key is not this certificate's
			}
			if !s.UnderIntermediate() {
				set.Retire = append(set.Retire, lf.Fullchain)
			}
		}
		sets = append(sets, set)
		setJob = append(setJob, i)
	}
	if len(sets) == 0 {
		sortFailures(res.Failed)
		return res, nil
	}
	dirtx.TestPause("issue-signed")
	// Issuing carries on after a signal: the certificates made are paid
	// for and must be recorded, not left as temporary files.
	sess, err := d.Lock(context.WithoutCancel(ctx))
	if err != nil {
		for _, set := range sets {
			set.Staged.Discard()
		}
		return nil, err
	}
	defer sess.Unlock()
	res.Repaired = sess.Repaired
	if err := dirview.Unchanged(s.File, s.Issuer.Cert); err != nil {
		return nil, err
	}
	if sets, setJob, err = d.recheckDeviceKeys(req, sets, setJob, res); err != nil {
		return nil, err
	}
	if len(sets) == 0 {
		sortFailures(res.Failed)
		return res, nil
	}
	if req.Force {
		// A certificate issued again under the same name (a renewal)
		// supersedes the old one, which no longer counts as valid: in the
		// same set, so the old record changes only if the new one lands.
		names := map[string]bool{}
		for _, set := range sets {
			names[set.Records[0].Name] = true
		}
		valid, err := d.ValidByName(names, req.Kind)
		if err != nil {
			return nil, err
		}
		kept, keptJob := sets[:0], setJob[:0]
		for k := range sets {
			old := valid[sets[k].Records[0].Name]
			j := req.Jobs[setJob[k]]
			if j.Replaces != "" && !slices.ContainsFunc(old, func(r inventory.Record) bool { return r.Serial == j.Replaces }) {
				sets[k].Staged.Discard()
				err := &pkix.Error{Msg: "serial " + j.Replaces + " is no longer valid: another run renewed or revoked it meanwhile; this renewal is dropped",
					Hint: "see '%s'", HintArgs: []any{pkix.Cmd(pkix.ActListClients, pkix.OptCN.With(j.CN))}}
				res.Failed = append(res.Failed, Failure{CN: j.CN, Name: j.Name, Error: err.Error(), err: err})
				continue
			}
			for _, o := range old {
				o.Status = inventory.StatusSuperseded
				sets[k].Records = append(sets[k].Records, o)
			}
			kept, keptJob = append(kept, sets[k]), append(keptJob, setJob[k])
		}
		sets, setJob = kept, keptJob
		if len(sets) == 0 {
			sortFailures(res.Failed)
			return res, nil
		}
	}
	rekeyed, err := d.retireReplaced(req, st, sets, res)
	if err != nil {
		return nil, err
	}
	written, errs, retired, err := sess.CommitRetiring(dirtx.Change{Op: string(req.Kind) + " issue", Sets: append(sets, rekeyed...), Whole: len(rekeyed) > 0})
	res.Notes = append(res.Notes, retired...)
	if err != nil {
		return nil, err
	}
	for k, i := range setJob {
		j := req.Jobs[i]
		if errs[k] != nil {
			res.Failed = append(res.Failed, Failure{CN: j.CN, Name: j.Name, Error: errs[k].Error(), err: errs[k]})
			continue
		}
		res.Issued = append(res.Issued, IssuedCert{CN: j.CN, Name: j.Name, Cert: results[i].Issued.Cert, Files: written[k]})
	}
	sortFailures(res.Failed)
	return res, nil
}

func sortFailures(f []Failure) {
	sort.Slice(f, func(a, b int) bool { return f[a].CN < f[b].CN })
}

// certFiles are one certificate's outputs: the three files of cfssljson
// -bare; under an intermediate the fullchain a client presents; for an
// intermediate the chain Access wants uploaded; NAME.p12 if asked.
func (d *Dir) certFiles(req *IssueRequest, j Job, is *ca.Issued, p12Chain []*x509.Certificate) ([]atomicfile.File, error) {
	name := j.Name
	lf := d.Leaf(name)
	files := []atomicfile.File{{Path: lf.Cert, Data: is.CertPEM, Mode: atomicfile.ModePublic, Kind: req.CertKind}}
	if is.KeyPEM != nil { // nil: signed from a device's request, whose key stays there
		files = append(files, atomicfile.File{Path: lf.Key, Data: is.KeyPEM, Mode: atomicfile.ModeSecret, Kind: "private key"})
	}
	if !d.requestInPlace(j) {
		files = append(files, atomicfile.File{Path: lf.CSR, Data: is.CSRPEM, Mode: atomicfile.ModePublic, Kind: "CSR"})
	}
	s := req.Signer
	if req.Kind == inventory.KindIntermediate {
		chain := append([]*x509.Certificate{is.Cert, s.Issuer.Cert}, s.Above...)
		files = append(files, atomicfile.File{Path: d.CA(name).Chain, Data: access.OrderedPEM(chain), Mode: atomicfile.ModePublic, Kind: "CA chain for Access (intermediate first)"})
	} else if chain := s.Fullchain(is.Cert); chain != nil {
		files = append(files, atomicfile.File{Path: lf.Fullchain, Data: access.OrderedPEM(chain), Mode: atomicfile.ModePublic, Kind: "leaf + intermediates"})
	}
	if req.RevokePending && j.Replaces != "" {
		files = append(files, d.revokePendingFile(j))
	}
	if req.P12 != nil && is.KeyPEM != nil {
		key, err := pemutil.ParseKeyPEM("new key", is.KeyPEM)
		if err != nil {
			return nil, err
		}
		data, err := pemutil.EncodeP12(key, is.Cert, p12Chain, req.P12.Password, req.P12.Legacy)
		if err != nil {
			return nil, err
		}
		files = append(files, atomicfile.File{Path: lf.P12, Data: data, Mode: atomicfile.ModeSecret, Kind: "PKCS#12 (key + certificate + chain)"})
	}
	return files, nil
}

// InitRoot commits a new root CA and the inputs written beside it (the
// built-in request and configuration) in one transaction. Replacing a
// root that issued certificates warns: none of them verifies any more.
func (d *Dir) InitRoot(ctx context.Context, ca *ca.Issued, extra []atomicfile.File, force bool) (written []atomicfile.Written, notes, warnings []string, err error) {
	lf := d.Leaf(dirview.RootName)
	files := append([]atomicfile.File{
		{Path: lf.Cert, Data: ca.CertPEM, Mode: atomicfile.ModePublic, Kind: "CA certificate"},
		{Path: lf.Key, Data: ca.KeyPEM, Mode: atomicfile.ModeSecret, Kind: "private key"},
		{Path: lf.CSR, Data: ca.CSRPEM, Mode: atomicfile.ModePublic, Kind: "CSR"},
	}, extra...)
	st, sess, end, err := d.Begin(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	defer end()
	var ret *retirement
	if force {
		if ret, err = d.retire(dirview.RootName, dirview.Now()); err != nil {
			return nil, nil, nil, err
		}
	}
	if ret != nil {
		files = append(files, ret.manifest)
		notes = append(notes, ret.note(d))
	}
	rec := inventory.RecordOf{Cert: ca.Cert, Kind: inventory.KindRoot, Profile: dirview.RootName, Issuer: dirview.RootName, Name: dirview.RootName}.Record()
	records := []inventory.Record{rec}
	if force {
		old, err := d.FindName(dirview.RootName, func(r *inventory.Record) bool {
			return r.Kind == inventory.KindRoot && r.Status == inventory.StatusValid
		})
		if err != nil {
			return nil, nil, nil, err
		}
		for _, o := range old {
			o.Status = inventory.StatusSuperseded
			records = append(records, o)
		}
	}
	orphans, err := d.issuedBy(dirview.RootName)
	if err != nil {
		return nil, nil, nil, err
	}
	set := dirtx.Set{Staged: st.Files(files, force), Records: records, Force: force}
	if ret != nil {
		set.Renames = ret.renames
	}
	ws, errs, err := sess.Commit(dirtx.Change{Op: "ca init", Sets: []dirtx.Set{set}})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if force && orphans > 0 {
		warnings = append(warnings, pkix.Textf("the replaced CA issued %d certificate%s still valid in the inventory; none of them verifies against the new %s: re-issue them ('%s' lists them)",
			orphans, dirtx.Plural(orphans), filepath.Base(lf.Cert), pkix.ActCheck).String())
	}
	return ws[0], append(sess.Repaired, notes...), warnings, nil
}

// issuedBy counts the valid certificates recorded as issued by a CA.
func (d *Dir) issuedBy(issuer string) (int, error) {
	data, err := d.InventoryData()
	if err != nil || data == nil {
		return 0, err
	}
	valid := map[string]bool{}
	err = inventory.ScanInventory(d.Inventory(), data, func(l inventory.InventoryLine) {
		if string(l.Issuer) != issuer || string(l.Kind) == string(inventory.KindRoot) {
			return
		}
		if string(l.Status) == string(inventory.StatusValid) {
			valid[string(l.Serial)] = true
		} else {
			delete(valid, string(l.Serial))
		}
	})
	return len(valid), err
}

// issueOne makes one job's certificate, as its kind asks.
func (d *Dir) issueOne(req *IssueRequest, j Job) (*ca.Issued, []string, error) {
	s := req.Signer
	switch {
	case req.Kind == inventory.KindIntermediate:
		return s.Issuer.IssueIntermediate(j.Req, req.Profile, req.CAProfile, req.PathLen)
	case j.Device != nil:
		cn := ""
		if j.SetCN {
			cn = j.CN
		}
		return s.Issuer.SignRequestWithin(j.Device, cn, req.Profile, req.Lifetime)
	}
	return s.Issuer.IssueWithin(j.Req, req.Profile, req.Lifetime)
}
