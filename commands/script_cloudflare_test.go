package commands

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare/cloudflaretest"
	"github.com/rogpeppe/go-internal/testscript"
)

var fakes sync.Map // WORK dir → *cloudflaretest.Server

// Namespace is the KV namespace every fake starts with.
const fakeNamespace = "0f2ac74b498b48028cb68387c421e279"

// cffake drives a local fake of Cloudflare's API (pkix/cloudflare/cloudflaretest)
// from a script:
//
//	cffake start [plain] [refuse-shared] [only-delete-bulk] [keys-page N]
//	cffake fail METHOD PATH-REGEXP STATUS TIMES [RETRY-AFTER]
//	cffake writes N          exactly N requests other than GET so far
//	cffake requests          print the request log (METHOD PATH STATUS ITEMS [FIRST-KEY])
//	cffake cert NAME FILE [HOSTNAME...]   hold FILE's certificate already
//	cffake certs N           hold N unrelated certificates already
//	cffake setting HOSTNAME FORWARDING CHINA
//	cffake kv KEY VALUE      a key someone else wrote in the namespace
//	cffake state             print certificates, settings, KV keys, Workers and routes as JSON
//	cffake script NAME FILE  write the uploaded Worker NAME's worker.js to FILE
//	cffake route PATTERN SCRIPT   a route someone else made
//	cffake clean-headers     no request carried X-Auth-Key or X-Auth-Email
//
// start sets CLOUDFLARE_BASE_URL, CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID,
// FAKE_NAMESPACE and, over TLS, SSL_CERT_FILE so mtlsctl trusts the fake.
func cmdCFFake(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: cffake start|fail|writes|requests|cert|certs|setting|kv|state|clean-headers ...")
	}
	key := ts.Getenv("WORK")
	if args[0] == "start" {
		var s *cloudflaretest.Server
		plain := false
		for _, a := range args[1:] {
			plain = plain || a == "plain"
		}
		if plain {
			s = cloudflaretest.NewPlain()
		} else {
			s = cloudflaretest.New()
			caFile := ts.MkAbs(".tmp/cffake-ca.pem")
			block := &pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}
			ts.Check(os.WriteFile(caFile, pem.EncodeToMemory(block), 0o644))
			ts.Setenv("SSL_CERT_FILE", caFile)
		}
		for i := 1; i < len(args); i++ {
			switch args[i] {
			case "plain":
			case "refuse-shared":
				s.RefuseSharedHostnames = true
			case "only-delete-bulk":
				s.OnlyDeleteBulk = true
			case "keys-page":
				i++
				n, err := strconv.Atoi(args[i])
				ts.Check(err)
				s.KeysPageLimit = n
			default:
				ts.Fatalf("cffake start: unknown option %q", args[i])
			}
		}
		s.KV[fakeNamespace] = map[string]cloudflaretest.KVEntry{}
		fakes.Store(key, s)
		ts.Defer(s.Close)
		ts.Setenv("CLOUDFLARE_BASE_URL", s.BaseURL())
		ts.Setenv("CLOUDFLARE_API_TOKEN", cloudflaretest.Token)
		ts.Setenv("CLOUDFLARE_ACCOUNT_ID", cloudflaretest.Account)
		ts.Setenv("FAKE_ZONE", cloudflaretest.Zone)
		ts.Setenv("FAKE_NAMESPACE", fakeNamespace)
		return
	}
	v, ok := fakes.Load(key)
	if !ok {
		ts.Fatalf("cffake %s: no fake started (cffake start)", args[0])
	}
	s := v.(*cloudflaretest.Server)
	switch args[0] {
	case "fail":
		if len(args) < 5 {
			ts.Fatalf("usage: cffake fail METHOD PATH-REGEXP STATUS TIMES [RETRY-AFTER]")
		}
		status, err := strconv.Atoi(args[3])
		ts.Check(err)
		times, err := strconv.Atoi(args[4])
		ts.Check(err)
		ra := ""
		if len(args) > 5 {
			ra = args[5]
		}
		s.Fail(args[1], args[2], status, times, ra)
	case "writes":
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		got := s.Writes()
		if (len(got) == want) == neg {
			ts.Fatalf("%d write requests, want %s%d: %v", len(got), map[bool]string{true: "not ", false: ""}[neg], want, got)
		}
	case "requests":
		s.Lock()
		for _, r := range s.Log {
			first := ""
			if len(r.Keys) > 0 {
				first = " " + r.Keys[0]
			}
			fmt.Fprintf(ts.Stdout(), "%s %s %d %d%s\n", r.Method, r.Path, r.Status, r.Items, first)
		}
		s.Unlock()
	case "cert":
		data, err := os.ReadFile(ts.MkAbs(args[2]))
		ts.Check(err)
		_, err = s.AddCert(args[1], string(data), args[3:]...)
		ts.Check(err)
	case "certs":
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		for i := 0; i < n; i++ {
			_, err := s.AddCert(fmt.Sprintf("other CA %d", i), selfSigned(ts, fmt.Sprintf("Other CA %d", i)), fmt.Sprintf("app%d.example.org", i))
			ts.Check(err)
		}
	case "setting":
		fwd, err := strconv.ParseBool(args[2])
		ts.Check(err)
		china, err := strconv.ParseBool(args[3])
		ts.Check(err)
		s.Lock()
		s.Settings = append(s.Settings, cloudflaretest.Setting{Hostname: args[1], Forwarding: fwd, ChinaNetwork: china})
		s.Unlock()
	case "kv":
		s.Lock()
		s.KV[fakeNamespace][args[1]] = cloudflaretest.KVEntry{Value: args[2]}
		s.Unlock()
	case "state":
		s.Lock()
		keys := []string{}
		for k := range s.KV[fakeNamespace] {
			keys = append(keys, k)
		}
		values := map[string]string{}
		for _, k := range keys {
			if !strings.Contains(k, ":rev:") {
				values[k] = s.KV[fakeNamespace][k].Value
			}
		}
		scripts := map[string]any{}
		for name, sc := range s.Scripts {
			scripts[name] = map[string]any{"tags": sc.Tags, "metadata": sc.Metadata, "modules": len(sc.Modules)}
		}
		b, err := json.MarshalIndent(map[string]any{"certificates": s.Certs, "settings": s.Settings, "kv_keys": len(keys), "kv": values,
			"scripts": scripts, "routes": s.Routes}, "", "  ")
		s.Unlock()
		ts.Check(err)
		fmt.Fprintln(ts.Stdout(), string(b))
	case "script":
		s.Lock()
		sc, ok := s.Scripts[args[1]]
		s.Unlock()
		if !ok {
			ts.Fatalf("no Worker %q uploaded", args[1])
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(sc.Modules["worker.js"]), 0o644))
	case "route":
		s.Lock()
		s.Routes = append(s.Routes, cloudflaretest.Route{ID: "r-" + args[1], Pattern: args[1], Script: args[2]})
		s.Unlock()
	case "clean-headers":
		s.Lock()
		defer s.Unlock()
		for _, r := range s.Log {
			for _, h := range []string{"X-Auth-Key", "X-Auth-Email", "X-Auth-User-Service-Key"} {
				if r.Header.Get(h) != "" {
					ts.Fatalf("%s %s carried %s", r.Method, r.Path, h)
				}
			}
			if r.Header.Get("Authorization") != "Bearer "+cloudflaretest.Token && r.Status != http.StatusForbidden {
				ts.Fatalf("%s %s: Authorization %q", r.Method, r.Path, r.Header.Get("Authorization"))
			}
		}
	default:
		ts.Fatalf("cffake: unknown subcommand %q", args[0])
	}
}

// selfSigned is a throwaway CA certificate in PEM.
func selfSigned(ts *testscript.TestScript, cn string) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ts.Check(err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
