package revocation

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// CRLRequest builds a CA's CRL from a serials file.
type CRLRequest struct {
	Issuer string          // the directory's CA: "" for the root, or an intermediate's name
	CA     dirview.CAInput // or a CA given by file (--ca, --ca-key)

	// SerialsFile is read under the lock (a revoke that appends to it
	// meanwhile is then either wholly in this CRL or after it); "-" reads
	// Stdin instead.
	SerialsFile string
	Stdin       io.Reader
	Decimal     bool

	Out        string    // "" for the CA's CRL in the directory; "-" for Stdout
	Stdout     io.Writer // where Out "-" goes
	PEM        bool
	NextUpdate time.Duration
	Strict     bool // serials the inventory does not know are an error
	Force      bool // replace an Out that is not this CA's CRL, keeping a .bak
	// AllowUnrevoke names (uppercase hex) each serial that the previous
	// CRL or the inventory lists as revoked and that the new CRL may
	// leave out: lifting a certificateHold.
	AllowUnrevoke []string
}

// CRLResult is what a CRL build did.
type CRLResult struct {
	CRL      *crl.CRL
	Out      string // where the CRL went ("-" for stdout)
	Written  []atomicfile.Written
	Lifted   []inventory.Record // certificate holds lifted: valid again
	Notes    []string
	Warnings []string
	Repaired []string
}

// crlJob is one CA's CRL, resolved: what signs it, where it goes, what
// it replaces.
type crlJob struct {
	name     string // the CA's name in the inventory
	ca       *x509.Certificate
	key      crypto.Signer
	certFile string
	keyFile  string
	out      string // the file written (a verified symlink's target)
	// stranger: a CA given by file that is not the directory's CA of the
	// same name; its CRL never goes to that CA's file by default.
	stranger bool
	outShown string // as the user knows it
	previous *crl.CRLHeader
	force    bool // out exists and is not this CA's CRL: keep a backup
	// dropped are the serials the CRL in force lists and the new one
	// does not, with their reasons (signCRL finds them).
	dropped map[string]crl.RevocationReason
}

// BuildCRL signs a CRL from a serials file and writes it, under the lock:
// its number is above the one on disk, and it may not drop a serial that
// the previous CRL or the inventory lists as revoked unless
// AllowUnrevoke names it.
func (d *Ops) BuildCRL(ctx context.Context, req *CRLRequest) (*CRLResult, error) {
	job, err := d.crlSigner(req.Issuer, req.CA)
	if err != nil {
		return nil, err
	}
	res := &CRLResult{Out: req.Out}
	var sess *dirtx.Session
	if info, err := os.Stat(d.Abs()); err == nil && info.IsDir() {
		if sess, err = d.Lock(ctx); err != nil {
			return nil, err
		}
		defer sess.Unlock()
		res.Repaired = sess.Repaired
		if err := dirview.Unchanged(job.certFile, job.ca); err != nil {
			return nil, err
		}
	}
	if req.Out != "-" {
		if err := d.resolveCRLOut(job, req.Out, req.Force); err != nil {
			return nil, err
		}
		res.Out = job.outShown
	}
	serials, label, size, err := openSerials(req.SerialsFile, req.Stdin)
	if err != nil {
		return nil, err
	}
	defer serials.Close()
	crl, err := d.signCRL(job, serials, label, size, req.Decimal, req.NextUpdate)
	if err != nil {
		return nil, err
	}
	chk, err := d.checkCRL(job, crl, label, req.Strict, req.AllowUnrevoke, nil)
	if err != nil {
		return nil, err
	}
	res.CRL, res.Notes, res.Warnings, res.Lifted = crl, chk.notes, chk.warnings, chk.lifted
	if req.Out == "-" {
		if err := writeCRL(crl, req.PEM)(req.Stdout); err != nil {
			return nil, &pkix.Error{File: "stdout", Msg: "cannot write: " + err.Error(), Err: err}
		}
		return res, nil
	}
	if sess == nil {
		// No directory (a CA kept elsewhere): nothing to record, but the
		// CRL is still written whole or not at all.
		w, err := atomicfile.WriteFiles([]atomicfile.File{crlFile(job, crl, req.PEM)}, job.force)
		res.Written = w
		return res, err
	}
	st, err := d.NewStage()
	if err != nil {
		return nil, err
	}
	defer st.Release()
	written, errs, err := sess.Commit(dirtx.Change{Op: "crl build", Sets: []dirtx.Set{{Staged: st.Files([]atomicfile.File{crlFile(job, crl, req.PEM)}, job.force), Force: job.force}}, Updates: chk.lifted})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return nil, err
	}
	res.Written = written[0]
	// Another CA's CRL behind the inventory: say so here too.
	if others, err := d.CRLsBehind(); err == nil {
		for _, b := range others {
			if b.CA != job.name || job.stranger {
				res.Warnings = append(res.Warnings, b.Message())
			}
		}
	}
	if chk.compact {
		if inv, err := d.ReadInventory(); err == nil {
			if err := sess.MaybeCompact(inv); err != nil {
				res.Warnings = append(res.Warnings, "could not compact the inventory: "+err.Error())
			}
		}
	}
	return res, nil
}

// openSerials opens the serials file (or stdin for "-") with its size,
// which pre-sizes the CRL's buffer.
func openSerials(path string, stdin io.Reader) (io.ReadCloser, string, int, error) {
	if path == "-" {
		return io.NopCloser(stdin), "stdin", 0, nil
	}
	// Devices and directories are refused (/dev/zero is an endless line).
	f, err := input.OpenInput(path, input.InputSerials)
	if err != nil {
		var pe *pkix.Error
		if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
			pe.Hint = "give the serials file, e.g. serials.txt (- reads stdin)"
		}
		return nil, "", 0, err
	}
	info, err := f.Stat()
	size := 0
	if err == nil {
		size = int(min(info.Size(), 1<<31))
	}
	return f, path, size, nil
}

// issuerName is how the inventory names the CA's certificates' issuer;
// a stranger CA issued none of them.
func (j *crlJob) issuerName() string {
	if j.stranger {
		return "\x00stranger"
	}
	return j.name
}

// crlSigner loads the CA that signs: the directory's (by name) or the
// caller's, and checks it can sign CRLs.
func (d *Ops) crlSigner(name string, in dirview.CAInput) (*crlJob, error) {
	if in.Certs == nil {
		var err error
		if in, err = d.ReadCA(name); err != nil {
			return nil, err
		}
	} else {
		name = d.caName(in.Certs[0], in.CertFile)
	}
	stranger := false
	if own, err := dirview.ReadCerts(d.CA(name).Cert, pkix.Text{}); err == nil && !own[0].Equal(in.Certs[0]) {
		stranger = true
	}
	if err := crl.CheckCRLIssuer(in.CertFile, in.Certs[0], in.KeyFile, in.Key); err != nil {
		return nil, err
	}
	return &crlJob{name: d.CA(name).Name, ca: in.Certs[0], key: in.Key, certFile: in.CertFile, keyFile: in.KeyFile, stranger: stranger}, nil
}

// caName is the inventory's name for a CA given by file: the record with
// its fingerprint, else its file's base name.
func (d *Ops) caName(cert *x509.Certificate, file string) string {
	if r, err := d.FindSerial(x509text.SerialHex(cert.SerialNumber)); err == nil && r != nil && r.Kind.IsCA() && r.SHA256 == x509text.FingerprintSHA256(cert) {
		return r.Name
	}
	if file == "" || file == "-" || file == "stdin" {
		return dirview.RootName
	}
	return strings.TrimSuffix(filepath.Base(file), ".pem")
}

// resolveCRLOut decides where the CRL goes (never over an input of the
// command; see crlTarget for links and other files) and reads the one it
// replaces.
func (d *Ops) resolveCRLOut(job *crlJob, out string, force bool) error {
	if out == "" {
		if job.stranger {
			return &pkix.Error{File: job.certFile, Msg: fmt.Sprintf("is not the CA %s of %s, so its CRL does not go to %s", d.CA(job.name).Cert, d.Path(), d.CA(job.name).CRL),
				Hint: "say where this CA's CRL goes with %s", HintArgs: []any{pkix.OptOut}}
		}
		out = d.CA(job.name).CRL
	}
	job.out, job.outShown = out, out
	for _, in := range []string{job.certFile, job.keyFile} {
		if dirview.SameFile(in, out) {
			return &pkix.Error{File: out, Msg: "is also an input of this command; refusing to write over it", Hint: "choose another %s", HintArgs: []any{pkix.OptOut}}
		}
	}
	target, previous, foreign, err := d.crlTarget(out, job.ca, force)
	if err != nil {
		return err
	}
	job.out, job.previous = target, previous
	if foreign {
		job.force = true // forced: a foreign file says nothing about our numbering
	}
	return nil
}

// crlTarget is where a CRL of ca written to out lands, and the CRL of ca
// it replaces (nil when none). A symlink at out (ca.crl linked into a web
// server's directory) is followed only when its target is a regular file
// holding this CA's CRL: then the target is replaced atomically in its
// own directory and the link stays. A link to anything else is refused,
// force or not: a planted link must not choose what gets overwritten. A
// file that is not this CA's CRL is replaced only with force (foreign).
func (d *Ops) crlTarget(out string, ca *x509.Certificate, force bool) (target string, previous *crl.CRLHeader, foreign bool, err error) {
	info, err := os.Lstat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil, false, nil
	} else if err != nil {
		return "", nil, false, d.IOError(out, "cannot check the output", err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(out)
		if err != nil {
			return "", nil, false, &pkix.Error{File: out, Msg: "is a symlink that cannot be followed: " + dirtx.Unwrap(err).Error(), Hint: "fix or remove the link"}
		}
		h, err := readCRLHeaderFile(target)
		if err != nil || !crlOf(target, h, ca) {
			return "", nil, false, &pkix.Error{File: out, Msg: "is a symlink to " + target + ", which is not a CRL of this CA; refusing to follow it",
				Hint: "a linked CRL must point at this CA's CRL; remove the link or point it there"}
		}
		return target, h, false, nil
	}
	if !info.Mode().IsRegular() {
		return "", nil, false, &pkix.Error{File: out, Msg: "is not a regular file; refusing to replace it"}
	}
	h, err := readCRLHeaderFile(out)
	switch {
	case err != nil && !force:
		return "", nil, false, &pkix.Error{File: out, Msg: "exists and is not a CRL; refusing to replace it", Hint: "move it away, choose another %s, or pass %s to keep it as a .bak copy", HintArgs: []any{pkix.OptOut, pkix.OptForce}}
	case err == nil && !crlOf(out, h, ca) && !force:
		return "", nil, false, &pkix.Error{File: out, Msg: "is a CRL of another CA; refusing to replace it", Hint: "choose another %s, or pass %s to keep it as a .bak copy", HintArgs: []any{pkix.OptOut, pkix.OptForce}}
	case err != nil || !crlOf(out, h, ca):
		return out, nil, true, nil
	}
	return out, h, false, nil
}

// crlOf reports whether the CRL at path, whose header h was read, is ca's:
// its name and key identifier, or, when it names no key (OpenSSL's
// default), its signature. A name alone is not enough: two CAs made from
// the default request share one. (mtlsctl's CRLs name their key, so a
// million-entry ca.crl is not read twice.)
func crlOf(path string, h *crl.CRLHeader, ca *x509.Certificate) bool {
	if !h.IssuedBy(ca) {
		return false
	}
	if len(h.AuthKeyID) > 0 && len(ca.SubjectKeyId) > 0 {
		return true
	}
	data, _, err := input.ReadRegular(path, input.InputCRL)
	if err != nil {
		return false
	}
	rl, err := crl.ScanCRL(path, data, nil)
	if err != nil {
		return false
	}
	var f *crl.SignatureFailure
	err = rl.VerifyBy(ca, path)
	return err == nil || (errors.As(err, &f) && f.Part == "key usage")
}

// PublishCRL writes a CRL of ca that was signed elsewhere (by the signer,
// from its database) to out, with the checks of a CRL built here: a link
// is followed only to this CA's CRL, and a file that is not this CA's CRL
// is replaced only with force, kept as a .bak copy.
func (d *Ops) PublishCRL(out string, ca *x509.Certificate, data []byte, kind string, force bool) ([]atomicfile.Written, error) {
	target, _, foreign, err := d.crlTarget(out, ca, force)
	if err != nil {
		return nil, err
	}
	return atomicfile.WriteFiles([]atomicfile.File{{Path: target, Data: data, Mode: atomicfile.ModePublic, Kind: kind, Replace: !foreign}}, force)
}

// readCRLHeaderFile reads the header of the CRL at path: DER in place,
// without loading its entries; PEM by decoding it whole.
func readCRLHeaderFile(path string) (h *crl.CRLHeader, err error) {
	defer func() {
		// What is there is not a CRL to build on: say how to get past it.
		var pe *pkix.Error
		if errors.As(err, &pe) {
			pe.Hint, pe.HintArgs = "move the file away, or choose another %s", []any{pkix.OptOut}
		}
	}()
	// A regular file only, up to the CRL cap: the CRL in place may be a
	// link, and one to /dev/zero must not be read.
	f, _, err := input.OpenRegular(path, input.InputCRL)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var first [1]byte
	if _, err := f.ReadAt(first[:], 0); err == nil && first[0] == 0x30 {
		return crl.ReadCRLHeaderAt(path, f)
	}
	data, err := io.ReadAll(io.LimitReader(f, input.InputCRL.Max))
	if err != nil {
		return nil, err
	}
	return crl.ReadCRLHeader(path, data)
}

// eachEntryOfCRL streams the serials, reasons and DER dates of the CRL
// file at path.
func eachEntryOfCRL(path string, h *crl.CRLHeader, fn func(crl.RevokedEntry)) error {
	f, _, err := input.OpenRegular(path, input.InputCRL)
	if err != nil {
		return err
	}
	defer f.Close()
	var first [1]byte
	if _, err := f.ReadAt(first[:], 0); err == nil && first[0] == 0x30 {
		return h.EachRevokedEntry(f, fn)
	}
	// PEM: small by nature (nobody PEM-encodes a million entries twice).
	data, err := io.ReadAll(io.LimitReader(f, input.InputCRL.Max))
	if err != nil {
		return err
	}
	_, err = crl.ScanCRL(path, data, fn)
	return err
}

// signCRL reads the serials and signs.
func (d *Ops) signCRL(job *crlJob, serials io.Reader, label string, sizeHint int, decimal bool, nextUpdate time.Duration) (*crl.CRL, error) {
	at := dirview.Now()
	b := crl.NewCRLBuilder(sizeHint, at)
	if err := crl.ReadSerials(serials, label, decimal, at, b); err != nil {
		return nil, err
	}
	number := crl.NextCRLNumber(nil, at)
	if prev := job.previous; prev != nil {
		number = crl.NextCRLNumber(prev.Number, at)
		if len(number.Bytes()) > 20 {
			// No later number fits RFC 5280's 20 octets: consumers that
			// saw the CRL in force would take any new one as older.
			return nil, &pkix.Error{File: job.outShown, Msg: fmt.Sprintf("the CRL in force has number %s, so the next one would be longer than the 20 octets RFC 5280 allows", prev.Number),
				Hint: "move it away (the next CRL then starts afresh from the clock; consumers that cached the old one must drop it)"}
		}
		// One pass over the CRL in force: a serial listed without a date
		// keeps the date it had there (not a new "now" at every rebuild),
		// and what the new list leaves out is noted for the un-revoke check.
		b.Finish()
		job.dropped = map[string]crl.RevocationReason{}
		err := eachEntryOfCRL(job.out, prev, func(e crl.RevokedEntry) {
			if !b.Keep(e.Serial, e.RawTime, e.Reason) {
				job.dropped[hexUpper(e.Serial)] = e.Reason
			}
		})
		if err != nil {
			return nil, &pkix.Error{File: job.outShown, Msg: "cannot read the revoked serials of the CRL in force: " + err.Error(),
				Hint: "move it away if it is damaged (the next CRL then starts afresh), or pass %s", HintArgs: []any{pkix.OptForce}}
		}
	}
	crl, err := b.Sign(crl.CRLParams{Issuer: job.ca, Key: job.key, Number: number, ThisUpdate: at, NextUpdate: at.Add(nextUpdate)})
	if err != nil {
		return nil, &pkix.Error{File: job.keyFile, Msg: err.Error(), Hint: "CRLs can be signed with RSA, ECDSA or Ed25519 CA keys"}
	}
	return crl, nil
}

func writeCRL(crl *crl.CRL, asPEM bool) func(io.Writer) error {
	if asPEM {
		return crl.WritePEMTo
	}
	return func(w io.Writer) error { _, err := crl.WriteTo(w); return err }
}

func crlFile(job *crlJob, crl *crl.CRL, asPEM bool) atomicfile.File {
	kind, size := "CRL (DER)", crl.Size
	if asPEM {
		var n countingWriter
		crl.WritePEMTo(&n)
		kind, size = "CRL (PEM)", int(n)
	}
	return atomicfile.File{Path: job.out, Stream: writeCRL(crl, asPEM), Size: size, Mode: atomicfile.ModePublic, Kind: kind, Replace: !job.force}
}

type countingWriter int

func (n *countingWriter) Write(p []byte) (int, error) {
	*n += countingWriter(len(p))
	return len(p), nil
}
