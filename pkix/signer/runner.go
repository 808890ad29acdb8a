package signer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cloudflare/cfssl/config"
	cfsigner "github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/remote"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Remote is a runner's side: cfssl's own remote signer (signer/remote)
// over TLS with the runner's certificate, the HMAC key, every request
// stamped with a time and a nonce, and every answer checked before a
// file is written.
type Remote struct {
	URL     string
	rs      *remote.Signer
	issuing *x509.Certificate
}

// NewRemote connects a runner to the signer at url, trusting signerCA
// for the server's certificate, presenting client; answers must be
// certificates of issuing (the runner directory's ca.pem).
func NewRemote(url string, signerCA *x509.CertPool, client tls.Certificate, hmacKey string, issuing *x509.Certificate) (*Remote, error) {
	if !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("the signer's address %q must be an https:// URL", url)
	}
	cfgJSON := fmt.Sprintf(`{"signing": {"default": {"auth_remote": {"remote": "signer", "auth_key": "runner"}}},
		"auth_keys": {"runner": {"type": "standard", "key": %q}}, "remotes": {"signer": %q}}`, hmacKey, url)
	cfg, err := config.LoadConfig([]byte(cfgJSON))
	if err != nil {
		return nil, fmt.Errorf("the signer's address %q: %v", url, cfsslconf.CfsslMessage(err))
	}
	cfg.Signing.SetRemoteCAs(signerCA)
	cfg.Signing.Default.ClientCert = &client
	rs, err := remote.NewSigner(cfg.Signing)
	if err != nil {
		return nil, fmt.Errorf("the signer's address %q: %v", url, cfsslconf.CfsslMessage(err))
	}
	return &Remote{URL: url, rs: rs, issuing: issuing}, nil
}

// Sign sends one CSR and checks the answer: a certificate of the
// issuing CA, for the key and the CN asked for.
func (r *Remote) Sign(csrPEM []byte, cn, profile string) (*x509.Certificate, []byte, error) {
	req := cfsigner.SignRequest{Request: string(csrPEM), Profile: profile}
	if err := Freshen(&req, time.Now()); err != nil {
		return nil, nil, err
	}
	certPEM, err := r.rs.Sign(req)
	if err != nil {
		return nil, nil, remoteFailure(err)
	}
	cert, err := pemutil.ParseCertificatePEM("the signer's answer", certPEM)
	if err != nil {
		return nil, nil, err
	}
	if err := cert.CheckSignatureFrom(r.issuing); err != nil {
		return nil, nil, fmt.Errorf("the signer answered with a certificate not signed by this directory's CA (%v): nothing written", err)
	}
	if cert.Subject.CommonName != cn {
		return nil, nil, fmt.Errorf("the signer answered with a certificate for CN %q, not %q: nothing written", cert.Subject.CommonName, cn)
	}
	return cert, certPEM, nil
}

// RunnerJob is one certificate a runner asks for.
type RunnerJob struct {
	CN, Name string
	Req      *cfsslconf.Request
	Files    dirview.LeafFiles
}

// PlanRunnerJobs gives each job of a batch its files in d, checked before
// any key is made, as a local batch's are: a name the directory reserves
// is refused, and an existing output without force.
func PlanRunnerJobs(d *pkidir.Dir, jobs []pkidir.Job, force bool) ([]RunnerJob, error) {
	out := make([]RunnerJob, 0, len(jobs))
	for _, j := range jobs {
		if err := d.CheckCertName(j.Name); err != nil {
			return nil, err
		}
		lf := d.Leaf(j.Name)
		if !force {
			if err := atomicfile.CheckFree([]atomicfile.File{{Path: lf.Cert}, {Path: lf.Key}, {Path: lf.CSR}}); err != nil {
				return nil, err
			}
		}
		out = append(out, RunnerJob{CN: j.CN, Name: j.Name, Req: j.Req, Files: lf})
	}
	return out, nil
}

// RunnerResult is what became of one job: written whole, or not at all.
type RunnerResult struct {
	Cert    *x509.Certificate
	Written []atomicfile.Written
	Err     error
}

// Parallel bounds the requests a runner has in flight at once.
const Parallel = 8

// IssueBatch makes each job's key here, has the signer sign its CSR
// (at most Parallel at once), and writes each certificate, key and CSR
// as one set, whole or not at all. Once ctx is done, or the signer
// cannot be reached, no new job starts; the others are Err.
func (r *Remote) IssueBatch(ctx context.Context, jobs []RunnerJob, profile string, force bool, progress func(done int)) []RunnerResult {
	out := make([]RunnerResult, len(jobs))
	var mu sync.Mutex
	done := 0
	var gone error // the signer went away: start nothing more
	sem := make(chan struct{}, Parallel)
	var wg sync.WaitGroup
	for i := range jobs {
		sem <- struct{}{}
		mu.Lock()
		stop := gone
		mu.Unlock()
		if stop == nil && ctx.Err() != nil {
			stop = ca.ErrNotStarted
		}
		if stop != nil {
			<-sem
			out[i].Err = fmt.Errorf("not issued: %w", stop)
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = r.issueOne(jobs[i], profile, force)
			mu.Lock()
			if stopsBatch(out[i].Err) && gone == nil {
				gone = fmt.Errorf("the signer failed: %v", out[i].Err)
			}
			done++
			if progress != nil {
				progress(done)
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return out
}

func (r *Remote) issueOne(j RunnerJob, profile string, force bool) RunnerResult {
	keyPEM, csrPEM, err := ca.NewDeviceRequest(j.Req)
	if err != nil {
		return RunnerResult{Err: err}
	}
	cert, certPEM, err := r.Sign(csrPEM, j.CN, profile)
	if err != nil {
		return RunnerResult{Err: err}
	}
	key, err := pemutil.ParseKeyPEM("new key", keyPEM)
	if err != nil {
		return RunnerResult{Err: err}
	}
	if !pemutil.KeyMatches(cert, key) {
		return RunnerResult{Err: errors.New("the signer answered with a certificate for another key: nothing written")}
	}
	w, err := atomicfile.WriteFiles([]atomicfile.File{
		{Path: j.Files.Cert, Data: certPEM, Mode: atomicfile.ModePublic, Kind: "client certificate (from the signer)"},
		{Path: j.Files.Key, Data: keyPEM, Mode: atomicfile.ModeSecret, Kind: "private key"},
		{Path: j.Files.CSR, Data: csrPEM, Mode: atomicfile.ModePublic, Kind: "CSR"},
	}, force)
	if err != nil {
		// Signed and recorded by the signer, but not written here: say
		// so, with the serial, so it can be revoked if it matters.
		return RunnerResult{Err: fmt.Errorf("signed (serial %s, recorded by the signer) but not written: %w", x509text.SerialHex(cert.SerialNumber), err)}
	}
	return RunnerResult{Cert: cert, Written: w}
}

// remoteError is what cfssl's client reports of a failed request: its
// own error whose message may be the signer's JSON answer.
type remoteError struct {
	msg     string
	refused bool // the signer refused this request (others may pass)
}

func (e *remoteError) Error() string { return e.msg }

// remoteFailure reads cfssl's client error: the signer's own message
// when it answered (a refusal, or a failure on its side), else the
// transport's.
func remoteFailure(err error) *remoteError {
	msg := cfsslconf.CfsslMessage(err)
	var answer struct {
		Errors []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if i := strings.Index(msg, "{"); i >= 0 && json.Unmarshal([]byte(msg[i:]), &answer) == nil && len(answer.Errors) > 0 {
		return &remoteError{msg: x509text.Printable(answer.Errors[0].Message), refused: answer.Errors[0].Code == codeRefused}
	}
	return &remoteError{msg: x509text.Printable(msg)}
}

// stopsBatch: an error after which no new request is worth sending (the
// signer is unreachable, or failing on its side: its database is down).
func stopsBatch(err error) bool {
	var re *remoteError
	return errors.As(err, &re) && !re.refused
}
