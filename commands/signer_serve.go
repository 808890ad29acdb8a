package commands

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	cflog "github.com/cloudflare/cfssl/log"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/signer"
	"github.com/urfave/cli/v2"
)

func signerServeCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the signer: cfssl's authsign, info and health, over TLS 1.3 with runner certificates",
		Description: `Serves /api/v1/cfssl/authsign (runners), /api/v1/cfssl/info and
/api/v1/cfssl/health; every other path is 404. Each connection needs
TLS 1.3 and a client certificate from the signer CA (DIR/signer/ca.pem)
that is not on its CRL (DIR/signer/ca.crl, read again when it changes).
Each signing request needs the HMAC key, a time within 2 minutes and a
nonce never seen (kept in the database, so several signers can share
it); --allow-cfssl-clients also accepts stock cfssl clients, which send
neither, and whose captured requests can then be replayed.

Refuses to start if a profile open to runners (--open-profile, default
client) makes CA certificates or lacks client auth. A certificate is
handed out only after its row is committed; with the database down,
every request fails and nothing is signed that is not recorded.

HMAC key: MTLSCTL_SIGNER_HMAC_FILE, MTLSCTL_SIGNER_HMAC, or by default
DIR/signer/hmac.key. During a key rotation, MTLSCTL_SIGNER_HMAC_PREVIOUS_FILE
names the old key, still accepted until every runner has the new one.

--issuer NAME signs with the directory's intermediate (DIR/NAME.pem and
DIR/NAME-key.pem) instead of the root: then the root key (DIR/ca-key.pem)
need not be on the signing host at all, and runners check answers
against the intermediate's certificate (their DIR/ca.pem, or --ca).
Before each signing the issuing CA is checked again against DIR: once
it (or a CA above it) is revoked there, or its file holds another
certificate (ca intermediate --force retired its key), the signer signs
and records nothing more, and tells runners to have it restarted.

SIGINT or SIGTERM is its normal stop, at any moment (start-up included):
it finishes the requests in flight and exits 0 (not 130/143 as the
table below says of other commands).

EXAMPLES:
   mtlsctl signer serve --dir pki --db postgres://signer@db/pki --addr :8888
   mtlsctl signer serve --dir pki --issuer intermediate   # root key kept offline`,
		Flags: []cli.Flag{
			dirFlag(),
			dbFlag(),
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8888", Usage: "listen on `HOST:PORT` (:8888 for every address)"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the address actually listened on to `FILE` (for scripts)"},
			&cli.StringSliceFlag{Name: "open-profile", Usage: "a `PROFILE` runners may name (repeatable; default client)"},
			&cli.BoolFlag{Name: "allow-cfssl-clients", Usage: "also accept stock cfssl clients (no time or nonce: replayable)"},
			&cli.StringFlag{Name: "issuer", Usage: "sign with the intermediate DIR/`NAME`.pem and DIR/NAME-key.pem, not the root (whose key can then stay offline)"},
		},
		Action: func(c *cli.Context) error {
			return runSignerServe(u, c)
		},
	}
}

func runSignerServe(u *ui, c *cli.Context) (err error) {
	listening := false
	defer func() {
		// SIGINT/SIGTERM is the signer's normal stop at any moment: one
		// that comes before it listens cuts short the directory's lock or
		// the database's ping, and that is no failure of either.
		if err != nil && !listening && c.Context.Err() != nil {
			fmt.Fprintln(u.err, "mtlsctl signer: shut down")
			err = nil
		}
	}()
	// A signal is how a server stops: not an interrupted batch to report.
	u.signalStops = true
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	if c.String("db") == "" {
		return usageErrorf("signer serve needs --db URL (or MTLSCTL_SIGNER_DB)")
	}
	if name := c.String("issuer"); c.IsSet("issuer") {
		if err := checkBaseName(name); err != nil {
			return err
		}
	}
	sd, err := signer.OpenDir(d)
	if err != nil {
		return err
	}
	key, prevKey, err := signer.ServerHMACKeys(sd)
	if err != nil {
		return err
	}
	store, err := signer.Open(c.Context, c.String("db"))
	if err != nil {
		return err
	}
	defer store.Close()
	srv, tlsCfg, err := signer.LoadServer(d, sd, store, signer.ServeOptions{Open: c.StringSlice("open-profile"), Issuer: c.String("issuer"), HMACKey: key, PrevHMACKey: prevKey, AllowCfsslClients: c.Bool("allow-cfssl-clients")})
	if err != nil {
		return err
	}
	srv.Log = log.New(u.err, "mtlsctl signer: ", log.LstdFlags)
	if !c.Bool("verbose") {
		// A server formats cfssl's debug lines for every request only to
		// drop them; this process serves and does nothing else, so the
		// level is lowered for it (a --verbose run keeps every line).
		cflog.Level = cflog.LevelError
	}
	return serveSigner(u, c, srv.Handler(), tlsCfg, store, sd.CA("").Cert, &listening)
}

// serveSigner listens and serves until the context ends, then shuts down
// gracefully; listening says when it has started to listen.
func serveSigner(u *ui, c *cli.Context, h http.Handler, tlsCfg *tls.Config, store *signer.Store, caCert string, listening *bool) error {
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return &pkix.Error{Msg: fmt.Sprintf("cannot listen on %s: %v", c.String("addr"), errors.Unwrap(err)), Hint: "choose another --addr, e.g. 127.0.0.1:0 for any free port"}
	}
	*listening = true
	if p := c.String("addr-file"); p != "" {
		if err := atomicfile.ReplaceOwned(p, []byte(ln.Addr().String()+"\n"), atomicfile.ModePublic, addrFileWhat, isAddrFile, addrFileHint); err != nil {
			ln.Close()
			return err
		}
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: log.New(u.err, "mtlsctl signer: ", log.LstdFlags)} // refused handshakes: who tried
	tlsLn := tls.NewListener(ln, tlsCfg)
	fmt.Fprintf(u.err, "mtlsctl signer: listening on %s (TLS 1.3, client certificates of %s)\n", ln.Addr(), caCert)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(tlsLn) }()
	go store.PruneLoop(c.Context)
	select {
	case err := <-errc:
		return err
	case <-c.Context.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdown)
	fmt.Fprintln(u.err, "mtlsctl signer: shut down")
	return err
}
