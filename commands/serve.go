package commands

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/urfave/cli/v2"
)

func serveCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run a local HTTPS server that behaves like an Access mTLS policy",
		Description: `Runs an HTTPS server that answers like an Access application with an mTLS
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
Every answer is a JSON body with the request.cf.tlsClientAuth fields.

The CRL is re-read when its file changes (mtlsctl crl build takes effect on
the next request); one that does not verify against the CA is refused at
start, and later ignored with a warning while the last good one stays.

Without --cert/--key the server uses a throwaway localhost certificate
whose CA is written to DIR/serve-ca.pem for curl --cacert. That file and
--addr-file are replaced only when they hold what serve itself wrote
there (its own throwaway CA; one line host:port, or nothing), never
through a symlink; anything else stops serve before it listens.

EXAMPLES:
   mtlsctl serve --ca ca.pem --crl ca.crl
   mtlsctl serve --ca ca-chain.pem --common-name "James Royal" --addr 127.0.0.1:9443 --forward-cert

` + exitCodeHelp,
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
			&cli.BoolFlag{Name: "json", Usage: "access log as JSON lines"},
		},
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			dir, err := pkiDir(c)
			if err != nil {
				return err
			}
			if c.IsSet("cert") != c.IsSet("key") {
				return usageErrorf("--cert and --key go together")
			}
			caPath, _ := inputPath(c, "ca", dir, "ca.pem")
			srv, err := newServer(u, c.App.Reader, serveOptions{
				dir: dir, caPath: caPath, crlPaths: c.StringSlice("crl"), commonNames: c.StringSlice("common-name"),
				addr: c.String("addr"), addrFile: c.String("addr-file"), certFile: c.String("cert"), keyFile: c.String("key"),
				forward: c.Bool("forward-cert"), jsonLog: c.Bool("json"),
			})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return srv.run(ctx)
		},
	}
}

// server is one mtlsctl serve instance.
type server struct {
	policy      *pkix.AccessPolicy
	forward     bool
	jsonLog     bool
	log         io.Writer
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
	dir, caPath := o.dir, o.caPath
	data, err := pkix.ReadInput(caPath, stdin)
	if err != nil {
		return nil, withMissingHint(err, "give the CA you upload to Access with --ca")
	}
	cas, err := pkix.ParseCertificatesPEM(caPath, data)
	if err != nil {
		return nil, err
	}
	var warnMu sync.Mutex
	warn := func(msg string) {
		warnMu.Lock()
		defer warnMu.Unlock()
		u.warn("%s", msg)
	}
	info := func(msg string) {
		warnMu.Lock()
		defer warnMu.Unlock()
		u.note("%s", msg)
	}
	var crls []*pkix.CRLStore
	covered := map[string]bool{}
	for _, p := range o.crlPaths {
		crl, err := pkix.LoadCRLStore(p, cas, warn, info)
		if err != nil {
			return nil, err
		}
		crls = append(crls, crl)
		covered[string(crl.Issuer().Raw)] = true
	}
	policy, err := pkix.NewAccessPolicy(caPath, cas, o.commonNames, crls)
	if err != nil {
		return nil, err
	}

	// The outputs serve rewrites on its own are checked before anything
	// else happens: one that is not serve's to replace (the CA key named
	// as --addr-file, a client certificate called serve-ca.pem, a symlink)
	// stops it with nothing written and nothing listening.
	caFile := filepath.Join(dir, "serve-ca.pem")
	if o.certFile == "" {
		if err := pkix.CheckOwned(caFile, serveCAWhat, pkix.IsEphemeralServerCA, serveCAHint); err != nil {
			return nil, err
		}
	}
	if p := o.addrFile; p != "" {
		if o.certFile == "" && samePath(p, caFile) {
			return nil, &pkix.Error{File: p, Msg: "is where serve writes its throwaway CA, not an address file", Hint: addrFileHint}
		}
		if err := pkix.CheckOwned(p, addrFileWhat, isAddrFile, addrFileHint); err != nil {
			return nil, err
		}
	}

	var cert tls.Certificate
	var banner []string
	writeCA := func() error { return nil } // after listening: a taken port changes nothing
	caFlag := "-k"
	if o.certFile != "" {
		cert, err = tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, &pkix.Error{File: o.certFile, Msg: "cannot load the server certificate and key: " + err.Error()}
		}
	} else {
		var caPEM []byte
		cert, caPEM, err = pkix.EphemeralServer([]string{"localhost", "127.0.0.1", "::1"})
		if err != nil {
			return nil, err
		}
		writeCA = func() error {
			// A throwaway certificate: replacing the last run's is the
			// point, so it is written without --force, but only over serve's
			// own (checked again right before the rename).
			return pkix.ReplaceOwned(caFile, caPEM, pkix.ModePublic, serveCAWhat, pkix.IsEphemeralServerCA, serveCAHint)
		}
		caFlag = "--cacert " + caFile
		banner = append(banner, "server certificate: throwaway, for localhost; its CA is "+caFile)
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, &pkix.Error{Msg: fmt.Sprintf("cannot listen on %s: %v", o.addr, errors.Unwrap(err)), Hint: "choose another --addr, e.g. 127.0.0.1:0 for any free port"}
	}
	if err := writeCA(); err != nil {
		ln.Close()
		return nil, err
	}
	addr := ln.Addr().(*net.TCPAddr)
	if p := o.addrFile; p != "" {
		if err := pkix.ReplaceOwned(p, []byte(addr.String()+"\n"), pkix.ModePublic, addrFileWhat, isAddrFile, addrFileHint); err != nil {
			ln.Close()
			return nil, err
		}
	}
	host := "localhost"
	if !addr.IP.IsLoopback() && !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	url := fmt.Sprintf("https://%s:%d/", host, addr.Port)
	policyText := "Valid Certificate (any certificate that chains to " + caPath + ")"
	if len(o.commonNames) > 0 {
		policyText = fmt.Sprintf("Common Name %q", o.commonNames)
	}
	for i, crl := range crls {
		policyText += ", revocation from " + o.crlPaths[i] + " (CRL number " + crl.Number() + ")"
	}
	if len(crls) > 0 {
		for _, ca := range cas {
			if !covered[string(ca.Raw)] {
				banner = append(banner, fmt.Sprintf("note: no CRL given for %s: what it issues is not checked for revocation", ca.Subject.CommonName))
			}
		}
	}
	banner = append([]string{"listening on " + url, "policy: " + policyText}, banner...)
	banner = append(banner,
		"try it:",
		fmt.Sprintf("  curl -sv %s %s                                      # 403: no certificate", caFlag, url),
		fmt.Sprintf("  curl -sv %s --cert %s --key %s %s   # 200 + CF_Authorization", caFlag, filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"), url),
	)

	s := &server{policy: policy, forward: o.forward, jsonLog: o.jsonLog, log: u.out, listener: ln, bannerLines: banner}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          newDiscardLogger(),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			// Ask, do not require: Access answers a request without a
			// certificate with HTTP 403, not a failed handshake.
			ClientAuth: tls.RequestClientCert,
		},
	}
	return s, nil
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
		fmt.Fprintln(s.log, l)
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
	fmt.Fprintln(s.log, "shut down")
	s.logMu.Unlock()
	return err
}

// response is the JSON body of every answer.
type response struct {
	Status        int                    `json:"status"`
	Allowed       bool                   `json:"allowed"`
	Reason        string                 `json:"reason,omitempty"`
	TLSClientAuth pkix.TLSClientAuth     `json:"tlsClientAuth"`
	Forwarded     *pkix.ForwardedHeaders `json:"forwardedHeaders,omitempty"`
	Note          string                 `json:"note"`
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var presented = r.TLS.PeerCertificates
	v := s.policy.Evaluate(presented, time.Now())
	resp := response{Status: http.StatusForbidden, Allowed: v.Allowed, Reason: v.Reason, TLSClientAuth: v.Auth,
		Note: "mtlsctl serve: a local stand-in for a Cloudflare Access mTLS policy"}
	if s.forward && v.Leaf != nil {
		f := pkix.Forwarded(v.Leaf)
		resp.Forwarded = &f
	}
	if v.Allowed {
		resp.Status = http.StatusOK
		token := make([]byte, 16)
		rand.Read(token)
		http.SetCookie(w, &http.Cookie{Name: "CF_Authorization", Value: "mtlsctl-local-test-token." + hex.EncodeToString(token),
			Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.Status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(resp)
	s.accessLog(r, resp)
}

func (s *server) accessLog(r *http.Request, resp response) {
	cn, serial := "-", "-"
	if resp.TLSClientAuth.CertPresented == "1" {
		cn, serial = r.TLS.PeerCertificates[0].Subject.CommonName, resp.TLSClientAuth.CertSerial
	}
	verdict := "allow"
	if !resp.Allowed {
		verdict = "deny"
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.jsonLog {
		json.NewEncoder(s.log).Encode(map[string]any{"time": time.Now().UTC().Format(time.RFC3339), "remote": r.RemoteAddr,
			"method": r.Method, "path": r.URL.Path, "status": resp.Status, "verdict": verdict, "cn": cn, "serial": serial, "reason": resp.Reason})
		return
	}
	fmt.Fprintf(s.log, "%s %s %s %s %d %s cn=%q serial=%s reason=%q\n", time.Now().UTC().Format(time.RFC3339), r.RemoteAddr,
		r.Method, r.URL.Path, resp.Status, verdict, cn, serial, resp.Reason)
}
