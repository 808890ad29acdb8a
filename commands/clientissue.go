package commands

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/urfave/cli/v2"
)

// job is one certificate of a client issue run.
type job struct {
	cn, name string
	req      *pkix.Request
}

func runClientIssue(u *ui, c *cli.Context) error {
	dir, err := pkiDir(c)
	if err != nil {
		return err
	}
	if err := oneStdin(c, "csr", "config", "ca", "ca-key", "cn-file"); err != nil {
		return err
	}
	res := newResult("client issue")
	profile := c.String("profile")
	cns, err := collectCNs(c)
	if err != nil {
		return err
	}
	if len(cns) > 1 && c.IsSet("name") {
		return usageErrorf("--name names one certificate, but %d CNs were given", len(cns)).hint("leave --name out: each certificate is named from its CN")
	}

	// Inputs first: requests, configuration and profile, CA and key.
	cn := ""
	if len(cns) > 0 {
		cn = cns[0]
	}
	template, err := loadRequestOrBuiltin(c, dir, "client-csr.json", pkix.ClientRequest, cn)
	if err != nil {
		return err
	}
	if err := applyKeyType(c, template); err != nil {
		return err
	}
	res.Notes = append(res.Notes, template.Notes...)
	jobs, err := planJobs(c, template, cns)
	if err != nil {
		return err
	}
	cfgPath, _ := inputPath(c, "config", dir, "ca-config.json")
	cfg, err := loadFile(c, cfgPath, pkix.LoadSigningConfig, "run 'mtlsctl ca init' first, or pass --config")
	if err != nil {
		return err
	}
	if _, err := cfg.Profile(profile); err != nil {
		return err
	}
	certKind := "client certificate"
	if !cfg.ProfileHasUsage(profile, "client auth") {
		certKind = "certificate (profile " + profile + ")"
		res.Warnings = append(res.Warnings, fmt.Sprintf("profile %q has no \"client auth\": Access will not accept this certificate from a client", profile))
	}
	issuer, above, err := loadIssuer(c, dir, cfg)
	if err != nil {
		return err
	}
	issuerName := issuerBaseName(c)
	var password string
	if c.Bool("p12") {
		if password, err = p12Password(c); err != nil {
			return err
		}
	}
	// Under an intermediate, a client must present its leaf and the
	// intermediates (never the root): BASE-fullchain.pem.
	fullchain := !pkix.IsSelfSigned(issuer.Cert)
	var outputs []pkix.File
	for _, j := range jobs {
		outputs = append(outputs, plannedSet(dir, j.name)...)
		if fullchain {
			outputs = append(outputs, pkix.File{Path: filepath.Join(dir, j.name+"-fullchain.pem")})
		}
		if c.Bool("p12") {
			outputs = append(outputs, pkix.File{Path: filepath.Join(dir, j.name+".p12")})
		}
	}
	force := c.Bool("force")
	if err := checkOutputs(c, dir, outputs); err != nil {
		return err
	}
	// A damaged inventory is found now, not after minutes of RSA keys.
	if _, err := pkix.ReadInventory(dir); err != nil {
		return err
	}

	// Compute every key and certificate on all cores; each worker also
	// stages its certificate's files, so disk writes overlap the
	// cryptography. Nothing takes its final name before the commit below.
	reqs := make([]*pkix.Request, len(jobs))
	for i, j := range jobs {
		reqs[i] = j.req
	}
	p12Chain := p12Chain(dir, issuer.Cert, above)
	staged := make([]*pkix.Staged, len(jobs))
	bar := newProgress(u, len(jobs), !c.Bool("json"))
	results := issuer.IssueBatch(reqs, profile, func(i int, r *pkix.BatchResult, done int) {
		defer bar.update(done)
		if r.Err != nil {
			return
		}
		files, err := clientFiles(dir, jobs[i].name, certKind, r.Issued, issuer.Cert, above, fullchain)
		if err == nil && c.Bool("p12") {
			var p12 pkix.File
			if p12, err = p12File(dir, jobs[i].name, r.Issued, p12Chain, password, c.Bool("legacy")); err == nil {
				files = append(files, p12)
			}
		}
		if err != nil {
			r.Err = err
			return
		}
		staged[i] = pkix.Stage(files, force)
	})
	bar.finish()

	// Commit what was issued, each certificate's files whole, and record it.
	var commit []*pkix.Staged
	var records []pkix.Record
	var setJob []int
	var failed []failure
	for i, r := range results {
		if r.Err != nil {
			failed = append(failed, failure{CN: jobs[i].cn, Name: jobs[i].name, Error: r.Err.Error()})
			continue
		}
		res.Warnings = appendUnique(res.Warnings, r.Warnings...)
		commit = append(commit, staged[i])
		records = append(records, pkix.NewRecord(r.Issued.Cert, "client", profile, issuerName, jobs[i].name))
		setJob = append(setJob, i)
	}
	written, errs, err := commitIssued(dir, commit, records, force)
	if err != nil {
		return err
	}
	for k, ws := range written {
		i := setJob[k]
		if errs[k] != nil {
			failed = append(failed, failure{CN: jobs[i].cn, Name: jobs[i].name, Error: errs[k].Error()})
			continue
		}
		sum := pkix.Summarize(results[i].Issued.Cert)
		if len(jobs) == 1 {
			res.Cert = &sum
		}
		res.Issued = append(res.Issued, sum)
		res.addWritten(ws, map[string]*pkix.CertSummary{filepath.Join(dir, jobs[i].name+".pem"): &sum})
	}
	if len(res.Issued) > 0 {
		res.Recorded = filepath.Join(dir, pkix.InventoryFile)
	}
	sort.Slice(failed, func(a, b int) bool { return failed[a].CN < failed[b].CN })
	res.Failed = failed
	if err := u.report(res, c.Bool("json")); err != nil {
		return err
	}
	if len(jobs) > 1 || len(failed) > 0 {
		fmt.Fprintf(u.err, "mtlsctl: issued %d of %d certificate%s\n", len(jobs)-len(failed), len(jobs), plural(len(jobs)))
	}
	if len(failed) > 0 {
		var names []string
		for _, f := range failed {
			names = append(names, fmt.Sprintf("%q (%s)", f.CN, f.Error))
		}
		return &pkix.Error{Msg: fmt.Sprintf("%d certificate%s not issued: %s", len(failed), plural(len(failed)), strings.Join(names, "; ")),
			Hint: "the others were written and recorded; run again with only the failed CNs"}
	}
	return nil
}

type failure struct {
	CN    string `json:"cn"`
	Name  string `json:"name"`
	Error string `json:"error"`
}

func appendUnique(list []string, add ...string) []string {
	for _, a := range add {
		found := false
		for _, l := range list {
			found = found || l == a
		}
		if !found {
			list = append(list, a)
		}
	}
	return list
}

// collectCNs gathers --cn values and --cn-file lines, checked one by one.
func collectCNs(c *cli.Context) ([]string, error) {
	var cns []string
	for _, cn := range c.StringSlice("cn") {
		if err := checkCNFlag(cn); err != nil {
			return nil, err
		}
		cns = append(cns, cn)
	}
	if path := c.String("cn-file"); path != "" {
		data, err := pkix.ReadInput(path, c.App.Reader)
		if err != nil {
			return nil, err
		}
		label := path
		if path == "-" {
			label = "stdin"
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		line := 0
		for sc.Scan() {
			line++
			text := sc.Text()
			if i := strings.Index(text, "#"); i >= 0 {
				text = text[:i]
			}
			text = strings.TrimSpace(strings.TrimPrefix(text, "\ufeff"))
			if text == "" {
				continue
			}
			if err := pkix.CheckCN(text); err != nil {
				return nil, &pkix.Error{File: label, Line: line, Msg: err.Msg, Hint: err.Hint}
			}
			cns = append(cns, text)
		}
		if len(cns) == 0 {
			return nil, &pkix.Error{File: label, Msg: "lists no CNs", Hint: "one common name per line; # starts a comment"}
		}
	}
	return cns, nil
}

// planJobs gives every CN its request and file name, refusing duplicates
// and names that collide.
func planJobs(c *cli.Context, template *pkix.Request, cns []string) ([]job, error) {
	if len(cns) <= 1 && (c.String("cn-file") == "" || c.IsSet("name")) {
		name := c.String("name")
		if err := checkBaseName(name); err != nil {
			return nil, err
		}
		return []job{{cn: template.CR.CN, name: name, req: template}}, nil
	}
	byName := map[string]string{}
	var jobs []job
	for _, cn := range cns {
		name := pkix.SafeName(cn)
		if other, ok := byName[name]; ok {
			if other == cn {
				return nil, usageErrorf("CN %q is listed twice", cn).hint("each CN gets one certificate; remove the repeat")
			}
			return nil, usageErrorf("CNs %q and %q would both be named %s.pem", other, cn, name).hint("make the CNs differ in letters or digits")
		}
		byName[name] = cn
		req := *template
		cr := *template.CR
		cr.CN = cn
		req.CR = &cr
		jobs = append(jobs, job{cn: cn, name: name, req: &req})
	}
	return jobs, nil
}

// issuerBaseName is how the inventory names the signing CA: its file's
// base name ("ca", "intermediate").
func issuerBaseName(c *cli.Context) string {
	if n := c.String("issuer"); n != "" {
		return n
	}
	if p := c.String("ca"); p != "" && p != "-" {
		return strings.TrimSuffix(filepath.Base(p), ".pem")
	}
	return "ca"
}

// commitIssued puts the certificates' staged files in place and records
// them in the inventory, holding the directory's lock so parallel jobs
// lose no record. errs has one entry per set; err is for the run as a
// whole (then nothing was placed).
func commitIssued(dir string, staged []*pkix.Staged, records []pkix.Record, force bool) ([][]pkix.Written, []error, error) {
	discard := func() {
		for _, st := range staged {
			st.Discard()
		}
	}
	lock, err := pkix.LockDir(dir, 5*time.Minute)
	if err != nil {
		discard()
		return nil, nil, err
	}
	defer lock.Unlock()
	inv, err := pkix.ReadInventory(dir)
	if err != nil {
		discard()
		return nil, nil, err
	}
	written, errs := pkix.CommitStaged(staged, force)
	var added []pkix.Record
	for i := range staged {
		if errs[i] == nil {
			added = append(added, records[i])
		}
	}
	// A certificate issued again under the same name (a renewal with
	// --force) supersedes the old one, which no longer counts as valid.
	inv.Supersede(added...)
	if err := inv.Append(added...); err != nil {
		undoWritten(written, errs)
		return nil, nil, err
	}
	if len(added) > 0 {
		if err := inv.Save(); err != nil {
			undoWritten(written, errs)
			return nil, nil, err
		}
	}
	return written, errs, nil
}

// undoWritten takes back files just written when they cannot be recorded:
// an unrecorded certificate is worse than none.
func undoWritten(written [][]pkix.Written, errs []error) {
	for i, ws := range written {
		if errs[i] != nil {
			continue
		}
		pkix.Unwrite(ws)
	}
}

// clientFiles is one client certificate's outputs: the three files of
// cfssljson -bare, and under an intermediate the fullchain a client
// presents (leaf, then intermediates, never the root).
func clientFiles(dir, name, kind string, issued *pkix.Issued, issuer *x509.Certificate, above []*x509.Certificate, fullchain bool) ([]pkix.File, error) {
	files := fileSet(dir, name, kind, issued)
	if fullchain {
		chain := []*x509.Certificate{issued.Cert, issuer}
		for _, a := range above {
			if !pkix.IsSelfSigned(a) {
				chain = append(chain, a)
			}
		}
		files = append(files, pkix.File{Path: filepath.Join(dir, name+"-fullchain.pem"), Data: pkix.OrderedPEM(chain), Mode: pkix.ModePublic, Kind: "leaf + intermediates"})
	}
	return files, nil
}

// p12File is BASE.p12 for client issue --p12.
func p12File(dir, name string, issued *pkix.Issued, chain []*x509.Certificate, password string, legacy bool) (pkix.File, error) {
	key, err := pkix.ParseKeyPEM("new key", issued.KeyPEM)
	if err != nil {
		return pkix.File{}, err
	}
	data, err := pkix.EncodeP12(key, issued.Cert, chain, password, legacy)
	if err != nil {
		return pkix.File{}, err
	}
	return pkix.File{Path: filepath.Join(dir, name+".p12"), Data: data, Mode: pkix.ModeSecret, Kind: "PKCS#12 (key + certificate + chain)"}, nil
}
