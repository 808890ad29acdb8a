package commands

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/accesssim"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

// serveDescription is serve's --help: the policy it emulates, and how it
// treats CRLs and its own files.
const serveDescription = `Runs an HTTPS server that answers like an Access application with an mTLS
Service Auth policy, so the guide's test can be run locally before anything
is uploaded:

   curl -sv https://...                                       → 403
   curl -sv --cert client.pem --key client-key.pem https://...  → 200 + CF_Authorization cookie

The handshake asks for a client certificate but does not require one, so a
request without one gets HTTP 403, as Access answers. The policy is the
Valid Certificate selector (the certificate chains to --ca, a root or a
chain bundle), or the Common Name selector with --common-name. A
certificate that does not chain, is expired or not yet valid, lacks
clientAuth, is on the --crl, or has another CN gets 403 with the reason.
A CA certificate (CA:TRUE), or one whose key usage lacks digitalSignature,
is no client certificate: 403 "unsupported certificate purpose", as
openssl verify -purpose sslclient says. Every answer is a JSON body with
the request.cf.tlsClientAuth fields.

The CRL is re-read when its file changes (mtlsctl crl build takes effect on
the next request); one that does not verify against the CA is refused at
start, and later ignored with a warning while the last good one stays. An
intermediate's CRL is accepted when the intermediate chains to --ca: it is
found in --ca or among the .pem files of --dir. The banner names every
issuing CA found there whose CRL is not loaded. A CRL file that disappears,
and a CRL whose next update has passed, are warned about once.

The access log goes to stdout, one line per request; the path and the CN,
which the client chooses, are quoted. With --json it is JSON lines, and the
banner and "shut down" go to stderr.

Without --cert/--key the server uses a throwaway localhost certificate
whose CA is written to DIR/serve-ca.pem for curl --cacert. That file and
--addr-file are replaced only when they hold what serve itself wrote
there (its own throwaway CA; one line host:port, or nothing), never
through a symlink; anything else stops serve before it listens.

EXAMPLES:
   mtlsctl serve --ca ca.pem --crl ca.crl
   mtlsctl serve --ca ca-chain.pem --common-name "James Royal" --addr 127.0.0.1:9443 --forward-cert`

func serveCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:        "serve",
		Usage:       "run a local HTTPS server that behaves like an Access mTLS policy",
		Description: serveDescription,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "ca", Usage: "the CA `FILE` clients must chain to, as uploaded to Access (default DIR/ca.pem)"},
			&cli.StringSliceFlag{Name: "crl", Usage: "CRL `FILE` to enforce, re-read when it changes; repeat for each issuing CA (root, intermediates)"},
			&cli.StringSliceFlag{Name: "common-name", Usage: "allow only this CN (repeatable): the Common Name selector"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8443", Usage: "listen `ADDRESS` (port 0 picks a free one)"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the address actually listened on to `FILE` (for scripts; replaces only an address file)"},
			&cli.StringFlag{Name: "cert", Usage: "server certificate `FILE` (default: a throwaway localhost certificate)"},
			&cli.StringFlag{Name: "key", Usage: "server key `FILE`, with --cert"},
			&cli.BoolFlag{Name: "forward-cert", Usage: "echo the Cf-Client-Cert-Der-Base64 / Cf-Client-Cert-Sha256 headers an origin would get"},
			serveJSONFlag(),
		},
		Action: func(c *cli.Context) error {
			// A signal is serve's normal stop, at any moment: Run's
			// process-wide context (set up before anything here listens)
			// is the only one, so a SIGINT during start-up stops serve as
			// soon as it is ready instead of going to a handler nobody reads.
			u.signalStops = true
			d, err := openDir(c)
			if err != nil {
				return err
			}
			if c.IsSet("cert") != c.IsSet("key") {
				return usageErrorf("--cert and --key go together")
			}
			caPath, _ := inputPath(c, "ca", d.CA(dirview.RootName).Cert)
			srv, err := newServer(u, c.App.Reader, serveOptions{
				dir: d.Path(), caPath: caPath, crlPaths: c.StringSlice("crl"), commonNames: c.StringSlice("common-name"),
				addr: c.String("addr"), addrFile: c.String("addr-file"), certFile: c.String("cert"), keyFile: c.String("key"),
				forward: c.Bool("forward-cert"), jsonLog: c.Bool("json"),
			})
			if err != nil {
				return err
			}
			return srv.run(c.Context)
		},
	}
}

// server is one mtlsctl serve instance: the emulated Access application
// behind a listener, with its access log.
type server struct {
	sim         *accesssim.Server
	jsonLog     bool
	log         io.Writer // the access log
	status      io.Writer // the banner and "shut down": stderr with --json
	logMu       sync.Mutex
	listener    net.Listener
	http        *http.Server
	bannerLines []string
}

// serveOptions are serve's flags, resolved.
type serveOptions struct {
	dir, caPath       string
	crlPaths          []string
	commonNames       []string
	addr, addrFile    string
	certFile, keyFile string
	forward, jsonLog  bool
}

// newServer reads and checks every input and starts listening, so bad
// flags, unreadable files and a taken port all fail with exit 2 before the
// server reports itself ready.
func newServer(u *ui, stdin io.Reader, o serveOptions) (*server, error) {
	d, err := pkidir.Open(o.dir)
	if err != nil {
		return nil, err
	}
	// With --json, stdout holds nothing but the access log's JSON lines:
	// the banner and "shut down" go to stderr.
	s := &server{jsonLog: o.jsonLog, log: u.out, status: u.out}
	if o.jsonLog {
		s.status = u.err
	}
	cfg, err := accessConfig(u, stdin, d, o)
	if err != nil {
		return nil, err
	}
	cfg.Answered = s.accessLog
	if s.sim, err = accesssim.New(cfg); err != nil {
		return nil, err
	}
	// The outputs serve rewrites on its own are checked before anything
	// else happens: one that is not serve's to replace (the CA key named
	// as --addr-file, a client certificate called serve-ca.pem, a symlink)
	// stops it with nothing written and nothing listening.
	caFile := d.Leaf(dirview.ServeCAName).Cert
	if err := checkServeOutputs(o, caFile); err != nil {
		return nil, err
	}
	cert, caPEM, err := serverCertificate(o)
	if err != nil {
		return nil, err
	}
	if s.listener, err = listen(o, caFile, caPEM); err != nil {
		return nil, err
	}
	s.bannerLines = serveBanner(d, o, s.sim, cfg.CAs, s.listener.Addr().(*net.TCPAddr), caFile)
	s.http = &http.Server{
		Handler:           s.sim,
		ReadHeaderTimeout: 10 * time.Second,
		// A keep-alive connection left idle is closed, so idle clients
		// cannot hold connections (and file descriptors) forever.
		IdleTimeout: idleTimeout,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			// Ask, do not require: Access answers a request without a
			// certificate with HTTP 403, not a failed handshake.
			ClientAuth: tls.RequestClientCert,
		},
	}
	s.http.ErrorLog = s.handshakeLog()
	return s, nil
}

// accessConfig reads the CA given and the CA certificates in the
// directory: an intermediate's CRL verifies against the intermediate.
func accessConfig(u *ui, stdin io.Reader, d *pkidir.Dir, o serveOptions) (accesssim.Config, error) {
	cfg := accesssim.Config{Dir: d, CAPath: o.caPath, CommonNames: o.commonNames, CRLPaths: o.crlPaths, Forward: o.forward}
	data, err := input.ReadInputAs(o.caPath, stdin, input.InputCertificates)
	if err != nil {
		return cfg, withMissingHint(err, "give the CA you upload to Access with --ca")
	}
	if cfg.CAs, err = pemutil.ParseCertificatesPEM(o.caPath, data); err != nil {
		return cfg, err
	}
	var warnMu sync.Mutex
	cfg.Warn = func(msg string) {
		warnMu.Lock()
		defer warnMu.Unlock()
		u.warn("%s", msg)
	}
	cfg.Info = func(msg string) {
		warnMu.Lock()
		defer warnMu.Unlock()
		u.note("%s", msg)
	}
	inDir, order := certificatesIn(o.dir)
	for _, path := range order {
		cfg.Candidates = append(cfg.Candidates, inDir[path]...)
	}
	return cfg, nil
}

// checkServeOutputs refuses an output that is not serve's to replace.
func checkServeOutputs(o serveOptions, caFile string) error {
	if o.certFile == "" {
		if err := atomicfile.CheckOwned(caFile, serveCAWhat, accesssim.IsEphemeralServerCA, serveCAHint); err != nil {
			return err
		}
	}
	if p := o.addrFile; p != "" {
		if o.certFile == "" && samePath(p, caFile) {
			return &pkix.Error{File: p, Msg: "is where serve writes its throwaway CA, not an address file", Hint: addrFileHint}
		}
		if err := atomicfile.CheckOwned(p, addrFileWhat, isAddrFile, addrFileHint); err != nil {
			return err
		}
	}
	return nil
}

// serverCertificate is --cert/--key, or a throwaway one for localhost with
// the PEM of its CA.
func serverCertificate(o serveOptions) (tls.Certificate, []byte, error) {
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return cert, nil, &pkix.Error{File: o.certFile, Msg: "cannot load the server certificate and key: " + err.Error()}
		}
		return cert, nil, nil
	}
	return accesssim.EphemeralServer([]string{"localhost", "127.0.0.1", "::1"})
}

// listen starts listening, then writes the throwaway CA and the address
// file: a taken port changes nothing.
func listen(o serveOptions, caFile string, caPEM []byte) (net.Listener, error) {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, &pkix.Error{Msg: fmt.Sprintf("cannot listen on %s: %v", o.addr, errors.Unwrap(err)), Hint: "choose another --addr, e.g. 127.0.0.1:0 for any free port"}
	}
	if caPEM != nil {
		// A throwaway certificate: replacing the last run's is the
		// point, so it is written without --force, but only over serve's
		// own (checked again right before the rename).
		if err := atomicfile.ReplaceOwned(caFile, caPEM, atomicfile.ModePublic, serveCAWhat, accesssim.IsEphemeralServerCA, serveCAHint); err != nil {
			ln.Close()
			return nil, err
		}
	}
	if p := o.addrFile; p != "" {
		if err := atomicfile.ReplaceOwned(p, []byte(ln.Addr().String()+"\n"), atomicfile.ModePublic, addrFileWhat, isAddrFile, addrFileHint); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// serveBanner says where serve listens, its policy, the issuing CAs whose
// revocations are not checked, and how to try it.
func serveBanner(d *pkidir.Dir, o serveOptions, sim *accesssim.Server, cas []*x509.Certificate, addr *net.TCPAddr, caFile string) []string {
	var banner []string
	caFlag := "-k"
	if o.certFile == "" {
		caFlag = "--cacert " + caFile
		banner = append(banner, "server certificate: throwaway, for localhost; its CA is "+caFile)
	}
	host := "localhost"
	if !addr.IP.IsLoopback() && !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	url := fmt.Sprintf("https://%s:%d/", host, addr.Port)
	policyText := "Valid Certificate (any certificate that chains to " + x509text.Printable(o.caPath) + ")"
	if len(o.commonNames) > 0 {
		policyText = fmt.Sprintf("Common Name %q", o.commonNames)
	}
	for i, crl := range sim.CRLs {
		policyText += ", revocation from " + x509text.Printable(sim.CRLPaths[i]) + " (CRL number " + crl.Number() + ")"
	}
	for _, ca := range sim.Uncovered() {
		banner = append(banner, fmt.Sprintf("note: no CRL given for %s: what it issues is not checked for revocation (give its CRL with --crl)", caName(ca)))
	}
	clientCert, clientKey := d.PresentedFiles(dirview.DefaultLeafName, cas)
	banner = append([]string{"listening on " + url, "policy: " + policyText}, banner...)
	return append(banner,
		"try it:",
		fmt.Sprintf("  curl -sv %s %s                                      # 403: no certificate", caFlag, url),
		fmt.Sprintf("  curl -sv %s --cert %s --key %s %s   # 200 + CF_Authorization", caFlag, clientCert, clientKey, url),
	)
}

// idleTimeout closes keep-alive connections idle for this long.
const idleTimeout = 2 * time.Minute

// caName names a CA in serve's messages, escaped.
func caName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return x509text.Printable(c.Subject.CommonName)
	}
	return x509text.SubjectDN(c)
}

// What serve may replace on its own, and how to get past a refusal.
const (
	serveCAWhat  = "the throwaway CA certificate of mtlsctl serve"
	serveCAHint  = "serve rewrites DIR/serve-ca.pem on every run: move this file away, use another --dir, or give your own server certificate with --cert/--key"
	addrFileWhat = "an address file (one line host:port) written by mtlsctl serve"
	addrFileHint = "give --addr-file a new file name: serve replaces only an address file an earlier serve wrote, never through a symlink"
)

// isAddrFile accepts what serve writes to --addr-file (one line,
// host:port), and an empty file: what mktemp makes for a script to pass as
// --addr-file holds nothing to lose.
func isAddrFile(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if len(b) > 300 { // a 253-byte host name, brackets, a zone and a port
		return false
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" || strings.ContainsAny(s, "\r\n\t ") {
		return false
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// samePath reports whether a and b name the same file, as far as their
// cleaned absolute forms tell.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// run serves until ctx ends, then shuts down gracefully.
func (s *server) run(ctx context.Context) error {
	s.logMu.Lock()
	for _, l := range s.bannerLines {
		fmt.Fprintln(s.status, l)
	}
	s.logMu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(s.listener, "", "") }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(shutdown)
	s.logMu.Lock()
	fmt.Fprintln(s.status, "shut down")
	s.logMu.Unlock()
	return err
}

// accessLog writes one line per request. What the client chooses (the
// path, its certificate's CN) is quoted in the text log, so it cannot
// forge a line or reach the terminal as escape codes; in JSON lines it is
// escaped by the encoder, and what is absent is null.
func (s *server) accessLog(r *http.Request, resp accesssim.Response) {
	var cn, serial, reason *string
	if resp.TLSClientAuth.CertPresented == "1" {
		cn, serial = &r.TLS.PeerCertificates[0].Subject.CommonName, &resp.TLSClientAuth.CertSerial
	}
	if resp.Reason != "" {
		reason = &resp.Reason
	}
	verdict := "allow"
	if !resp.Allowed {
		verdict = "deny"
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.jsonLog {
		json.NewEncoder(s.log).Encode(map[string]any{"time": time.Now().UTC().Format(time.RFC3339), "remote": r.RemoteAddr,
			"method": r.Method, "path": r.URL.Path, "status": resp.Status, "verdict": verdict, "cn": cn, "serial": serial, "reason": reason})
		return
	}
	text := func(p *string, absent string) string {
		if p == nil {
			return absent
		}
		return *p
	}
	fmt.Fprintf(s.log, "%s %s %s %q %d %s cn=%q serial=%s reason=%q\n", time.Now().UTC().Format(time.RFC3339), r.RemoteAddr,
		r.Method, r.URL.Path, resp.Status, verdict, text(cn, "-"), x509text.Printable(text(serial, "-")), text(reason, ""))
}
