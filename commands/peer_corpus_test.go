package commands

// The peer corpus: pyca/cryptography's X.509 vectors (x509/custom) and
// NIST's PKITS, as Debian's python3-cryptography-vectors ships them. Every
// CRL and certificate goes through mtlsctl's reader and commands, and what
// mtlsctl prints is compared with what OpenSSL prints for the same file,
// OpenSSL run here. Where mtlsctl is deliberately stricter than OpenSSL the
// file is listed below with the reason; everything else must agree.

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/interoptest"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// vectorsDir is where the Debian package puts the vectors;
// MTLSCTL_VECTORS overrides it (say, a pip-installed copy).
func vectorsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MTLSCTL_VECTORS")
	if dir == "" {
		dir = "/usr/lib/python3/dist-packages/cryptography_vectors"
	}
	if _, err := os.Stat(filepath.Join(dir, "x509", "PKITS_data", "crls")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pyca's vectors are not in %s; .ci/run installs python3-cryptography-vectors", dir)
		}
		t.Skipf("pyca's vectors are not in %s: apt-get install python3-cryptography-vectors (or set MTLSCTL_VECTORS)", dir)
	}
	return dir
}

// run runs mtlsctl in process.
func runMtlsctl(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = Run(append([]string{"mtlsctl"}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// strictCRLs are the CRLs OpenSSL prints and mtlsctl refuses to read
// (exit 2), and why.
var strictCRLs = map[string]string{
	// Version 3 does not exist for CRLs (RFC 5280 §5.1.2.1: v2, or v1
	// when absent); OpenSSL prints "Version unknown (2)".
	"crl_bad_version.pem": "version 3",
	// thisUpdate is not a valid time; OpenSSL prints "Bad time value".
	"crl_invalid_time.der": "thisUpdate is not a valid",
}

// strictCerts are the certificates OpenSSL reads and mtlsctl (through
// Go's parser) refuses, exit 2 with the reason; each is malformed by RFC
// 5280.
var strictCerts = map[string]string{
	// PKITS's negative serial (RFC 5280 §4.1.2.2: positive).
	"InvalidNegativeSerialNumberTest15EE.crt": "negative serial number",
	// IP name constraints whose mask is not a contiguous prefix, or not 4
	// or 16 bytes: RFC 5280 §4.2.1.10 defines a range as address and
	// prefix mask, and Go's parser refuses the rest.
	"nc_invalid_ip4_netmask.der": "invalid mask",
	"nc_invalid_ip_netmask.pem":  "invalid mask",
	"nc_ip_invalid_length.pem":   "value of length 33",
	// Not a choice but a limit of Go's parser, which mtlsctl uses: a CRL
	// distribution point given as nameRelativeToCRLIssuer, and a DSA key
	// that inherits its parameters from its issuer, both of which RFC 5280
	// allows. These certificates are named unreadable, with the reason.
	"InvaliddistributionPointTest6EE.crt":     "invalid CRL distribution point",
	"ValidcRLIssuerTest29EE.crt":              "invalid CRL distribution point",
	"ValiddistributionPointTest4EE.crt":       "invalid CRL distribution point",
	"ValiddistributionPointTest5EE.crt":       "invalid CRL distribution point",
	"DSAParametersInheritedCACert.crt":        "invalid DSA parameters",
	"ValidDSAParameterInheritanceTest5EE.crt": "invalid DSA parameters",
	"negative_serial.pem":                     "negative serial number",   // §4.1.2.2: positive
	"invalid_version.pem":                     "invalid version",          // version 4
	"ec_no_named_curve.pem":                   "invalid ECDSA parameters", // RFC 5480 §2.1.1: a named curve
	"two_basic_constraints.pem":               "duplicate extension",      // §4.2: each extension once
}

// opensslCRL is what OpenSSL prints of a CRL.
type opensslCRL struct {
	issuer, this, next, number string
	entries                    []string // "SERIAL DATE REASON"
	text                       string
}

var (
	entrySerial = regexp.MustCompile(`^    Serial Number: (-?[0-9A-F]+)$`)
	entryDate   = regexp.MustCompile(`^        Revocation Date: (.+)$`)
	unknownCrit = regexp.MustCompile(`(?m)^ +([0-9]+(?:\.[0-9]+)+): critical$`)
)

func readOpenSSLCRL(t *testing.T, openssl, file string) (*opensslCRL, bool) {
	form := "PEM"
	if data, _ := os.ReadFile(file); len(data) > 0 && data[0] == 0x30 {
		form = "DER"
	}
	head, err := exec.Command(openssl, "crl", "-inform", form, "-in", file, "-noout", "-issuer", "-lastupdate", "-nextupdate", "-crlnumber",
		"-nameopt", "RFC2253", "-dateopt", "iso_8601").Output()
	if err != nil {
		return nil, false
	}
	text, err := exec.Command(openssl, "crl", "-inform", form, "-in", file, "-noout", "-text", "-nameopt", "RFC2253", "-dateopt", "iso_8601").Output()
	if err != nil {
		return nil, false
	}
	f := opensslFields(head)
	o := &opensslCRL{text: string(text), issuer: f["issuer"], this: f["lastUpdate"], next: f["nextUpdate"], number: f["crlNumber"]}
	// Entries: serial, date, and the first reason code (mtlsctl keeps the
	// first of duplicates too).
	lines := strings.Split(string(text), "\n")
	var serial, date, reason string
	flush := func() {
		if serial != "" {
			o.entries = append(o.entries, serial+" "+date+" "+reason)
		}
		serial, date, reason = "", "", ""
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if m := entrySerial.FindStringSubmatch(line); m != nil {
			flush()
			serial = m[1]
		} else if m := entryDate.FindStringSubmatch(line); m != nil && serial != "" {
			date = m[1]
		} else if strings.TrimSpace(line) == "X509v3 CRL Reason Code:" && serial != "" && reason == "" && i+1 < len(lines) {
			reason = strings.TrimSpace(lines[i+1])
		} else if strings.HasPrefix(line, "    Signature Algorithm:") {
			break
		}
	}
	flush()
	return o, true
}

// opensslFields reads OpenSSL's "name=value" lines (-issuer, -serial, …).
func opensslFields(out []byte) map[string]string {
	f := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			f[k] = v
		}
	}
	return f
}

// openSSLReason is OpenSSL's name of an RFC 5280 reason, as mtlsctl names it.
var openSSLReason = map[string]string{
	"unspecified": "Unspecified", "keyCompromise": "Key Compromise", "cACompromise": "CA Compromise",
	"affiliationChanged": "Affiliation Changed", "superseded": "Superseded", "cessationOfOperation": "Cessation Of Operation",
	"certificateHold": "Certificate Hold", "removeFromCRL": "Remove From CRL", "privilegeWithdrawn": "Privilege Withdrawn",
	"aACompromise": "AA Compromise",
}

type crlShowJSON struct {
	Kind       string  `json:"kind"`
	Number     string  `json:"number"`
	Issuer     string  `json:"issuer"`
	ThisUpdate string  `json:"this_update"`
	NextUpdate *string `json:"next_update"`
	SigAlg     string  `json:"signature_algorithm"`
	Signature  string  `json:"signature"`
	Failure    string  `json:"signature_failure"`
	Refusals   []string
	Count      int `json:"count"`
	Entries    []struct {
		Serial string `json:"serial"`
		Date   string `json:"revocation_date"`
		Reason string `json:"reason"`
	} `json:"entries"`
	Warnings []string `json:"warnings"`
}

func isoFromRFC3339(s string) string { return strings.Replace(s, "T", " ", 1) }

func corpusCRLs(t *testing.T, vectors string) []string {
	var files []string
	custom, _ := filepath.Glob(filepath.Join(vectors, "x509", "custom", "*"))
	for _, f := range custom {
		if b := filepath.Base(f); strings.HasPrefix(b, "crl_") || strings.HasSuffix(b, "_crl.pem") {
			files = append(files, f)
		}
	}
	pkits, _ := filepath.Glob(filepath.Join(vectors, "x509", "PKITS_data", "crls", "*.crl"))
	return append(files, pkits...)
}

// TestCorpusCRLs: every CRL of the corpus, through crl show and the
// reader, against OpenSSL: the same issuer, dates, number, serials, dates
// and reasons; the kind OpenSSL's own text implies (Delta CRL Indicator,
// Issuing Distribution Point, Certificate Issuer entries); and exit 1 with
// the OID named for each critical extension OpenSSL does not know either.
func TestCorpusCRLs(t *testing.T) {
	vectors := vectorsDir(t)
	openssl := interoptest.Require(t, "openssl")
	empty := t.TempDir()
	files := corpusCRLs(t, vectors)
	if len(files) < 190 {
		t.Fatalf("only %d CRLs in the corpus", len(files))
	}
	for _, file := range files {
		base := filepath.Base(file)
		t.Run(base, func(t *testing.T) {
			o, osslOK := readOpenSSLCRL(t, openssl, file)
			out, errOut, code := runMtlsctl("crl", "show", "--json", "--dir", empty, file)
			data, _ := os.ReadFile(file)
			rl, readErr := crl.ReadCRL(base, data)
			if why, strict := strictCRLs[base]; strict {
				if code != 2 || !strings.Contains(errOut, why) || readErr == nil {
					t.Errorf("mtlsctl should refuse it (%s): exit %d, %s", why, code, errOut)
				}
				return
			}
			if !osslOK {
				if code != 2 || !strings.Contains(errOut, base) {
					t.Errorf("OpenSSL cannot read it, mtlsctl exit %d: %s", code, errOut)
				}
				return
			}
			if code != 0 && code != 1 || readErr != nil {
				t.Fatalf("OpenSSL reads it, mtlsctl exit %d: %s (reader: %v)", code, errOut, readErr)
			}
			var got crlShowJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("crl show --json: %v\n%s", err, out)
			}
			if got.Issuer != o.issuer {
				t.Errorf("issuer %q, OpenSSL %q", got.Issuer, o.issuer)
			}
			if isoFromRFC3339(got.ThisUpdate) != o.this {
				t.Errorf("this update %s, OpenSSL %s", got.ThisUpdate, o.this)
			}
			switch {
			case o.next == "NONE" && got.NextUpdate != nil:
				t.Errorf("next update %s, OpenSSL NONE", *got.NextUpdate)
			case o.next != "NONE" && (got.NextUpdate == nil || isoFromRFC3339(*got.NextUpdate) != o.next):
				t.Errorf("next update %v, OpenSSL %s", got.NextUpdate, o.next)
			}
			if want := o.number; (want == "<NONE>") != (got.Number == "") || (want != "<NONE>" && !sameNumber(got.Number, want)) {
				t.Errorf("number %q, OpenSSL %q", got.Number, want)
			}
			var entries []string
			for _, e := range got.Entries {
				reason := openSSLReason[e.Reason]
				if reason == "" && e.Reason != "" {
					reason = strings.TrimSuffix(strings.TrimPrefix(e.Reason, "reason("), ")")
				}
				entries = append(entries, e.Serial+" "+opensslDate(e.Date)+" "+reason)
			}
			if !slices.Equal(entries, o.entries) {
				t.Errorf("entries differ from OpenSSL's:\n mtlsctl %q\n OpenSSL %q", first(entries, 5), first(o.entries, 5))
			}
			if got.Count != rl.Count || got.Kind != rl.Kind {
				t.Errorf("crl show says %d entries, %s; the reader %d, %s", got.Count, got.Kind, rl.Count, rl.Kind)
			}
			// The kind, from what OpenSSL shows of the extensions.
			want := "complete"
			switch {
			case strings.Contains(o.text, "X509v3 Delta CRL Indicator"):
				want = "delta"
			case strings.Contains(o.text, "X509v3 Issuing Distribution Point"):
				want = "partitioned"
			case strings.Contains(o.text, "X509v3 Certificate Issuer"):
				want = "indirect"
			}
			if got.Kind != want {
				t.Errorf("kind %s, OpenSSL's text says %s", got.Kind, want)
			}
			if (want == "complete") != (len(got.Refusals) == 0) && len(unknownCrit.FindAllString(o.text, -1)) == 0 {
				t.Errorf("kind %s with refusals %q", got.Kind, got.Refusals)
			}
			// Critical extensions neither OpenSSL nor mtlsctl knows: the
			// CRL must not be used, and crl show exits 1 naming the OID.
			crit := unknownCrit.FindAllStringSubmatch(o.text, -1)
			if len(crit) > 0 {
				if code != 1 || !strings.Contains(strings.Join(got.Refusals, " "), crit[0][1]) {
					t.Errorf("critical %s: exit %d, refusals %q", crit[0][1], code, got.Refusals)
				}
			} else if code != 0 {
				t.Errorf("exit %d: %s", code, errOut)
			}
			if strings.Contains(got.SigAlg, "unknown") {
				t.Errorf("signature algorithm %q", got.SigAlg)
			}
		})
	}
}

// sameNumber compares a decimal CRL number with OpenSSL's "0x0A" form.
func sameNumber(decimal, openssl string) bool {
	a, okA := new(big.Int).SetString(decimal, 10)
	b, okB := new(big.Int).SetString(strings.TrimPrefix(openssl, "0x"), 16)
	return okA && okB && a.Cmp(b) == 0
}

// opensslDate is an RFC 3339 time as OpenSSL's -text prints entry dates
// (it ignores -dateopt there).
func opensslDate(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return rfc3339
	}
	return t.UTC().Format("Jan _2 15:04:05 2006 GMT")
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// TestCorpusNamedCRLVerdicts: CRLs of the corpus that test one rule each,
// each with the verdict RFC 5280 asks of a consumer.
func TestCorpusNamedCRLVerdicts(t *testing.T) {
	vectors := vectorsDir(t)
	custom := filepath.Join(vectors, "x509", "custom")
	crls := filepath.Join(vectors, "x509", "PKITS_data", "crls")
	empty := t.TempDir()
	for _, tc := range []struct {
		file    string
		kind    string
		exit    int
		refusal string // in the refusals, "" for none
		warning string // in the warnings
	}{
		{filepath.Join(crls, "UnknownCRLExtensionCACRL.crl"), "complete", 1, "critical extension 2.16.840.1.101.2.1.12.2", ""},
		{filepath.Join(crls, "UnknownCRLEntryExtensionCACRL.crl"), "complete", 1, "critical extension 2.16.840.1.101.2.1.12.2", ""},
		{filepath.Join(custom, "crl_md2_unknown_crit_entry_ext.pem"), "complete", 1, "critical extension 1.2.3.4", ""},
		{filepath.Join(crls, "deltaCRLCA1deltaCRL.crl"), "delta", 0, "is a delta CRL", ""},
		{filepath.Join(crls, "deltaCRLIndicatorNoBaseCACRL.crl"), "delta", 0, "is a delta CRL", ""},
		{filepath.Join(custom, "crl_delta_crl_indicator.pem"), "delta", 0, "base CRL number 12345678901234567890", ""},
		{filepath.Join(crls, "onlyContainsUserCertsCACRL.crl"), "partitioned", 0, "only user certificates", ""},
		{filepath.Join(crls, "onlyContainsCACertsCACRL.crl"), "partitioned", 0, "only CA certificates", ""},
		{filepath.Join(crls, "onlyContainsAttributeCertsCACRL.crl"), "partitioned", 0, "only attribute certificates", ""},
		{filepath.Join(crls, "onlySomeReasonsCA1compromiseCRL.crl"), "partitioned", 0, "only some reasons: keyCompromise", ""},
		{filepath.Join(crls, "indirectCRLCA1CRL.crl"), "partitioned", 0, "indirect CRL", ""},
		{filepath.Join(custom, "crl_idp_fullname_only.pem"), "partitioned", 0, "distribution point URI:http://myhost.com/myca.crl", ""},
		{filepath.Join(custom, "crl_no_next_update.pem"), "complete", 0, "", "no next update"},
		{filepath.Join(custom, "crl_unsupported_reason.pem"), "complete", 0, "", "reason code 12, which RFC 5280 does not define"},
		{filepath.Join(custom, "crl_dup_entry_ext.pem"), "complete", 0, "", "duplicate reason code"},
		{filepath.Join(custom, "crl_inval_cert_issuer_entry_ext.pem"), "indirect", 0, "Certificate Issuer", "empty or malformed certificate issuer"},
		{filepath.Join(custom, "crl_all_reasons.pem"), "indirect", 0, "Certificate Issuer", "removeFromCRL"},
		{filepath.Join(crls, "GoodCACRL.crl"), "complete", 0, "", ""},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			out, errOut, code := runMtlsctl("crl", "show", "--json", "--dir", empty, tc.file)
			var got crlShowJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("exit %d: %v\n%s", code, err, errOut)
			}
			refusals, warnings := strings.Join(got.Refusals, "\n"), strings.Join(got.Warnings, "\n")
			if got.Kind != tc.kind || code != tc.exit || (tc.refusal == "") != (refusals == "") || !strings.Contains(refusals, tc.refusal) ||
				!strings.Contains(warnings, tc.warning) {
				t.Errorf("kind %s, exit %d, refusals %q, warnings %q", got.Kind, code, got.Refusals, got.Warnings)
			}
			if tc.warning == "no next update" && got.NextUpdate != nil {
				t.Errorf("next_update %v, want null", *got.NextUpdate)
			}
			text, _, _ := runMtlsctl("crl", "show", "--dir", empty, tc.file)
			if tc.warning == "no next update" && !regexp.MustCompile(`(?m)^  next update  none$`).MatchString(text) {
				t.Errorf("text output:\n%s", text)
			}
		})
	}
	// check says a CRL without a next update cannot tell when it is stale,
	// and shows no expiry for it (it once printed "expired -2562047h ago").
	pki := filepath.Join(empty, "pki")
	if _, errOut, code := runMtlsctl("ca", "init", "--dir", pki); code != 0 {
		t.Fatal(errOut)
	}
	_, errOut, code := runMtlsctl("check", "--dir", pki, "--crl", filepath.Join(custom, "crl_no_next_update.pem"))
	if !strings.Contains(errOut, "crl_no_next_update.pem: it has no next update: nothing tells when it is stale") || strings.Contains(errOut, "-2562047h") {
		t.Errorf("check, exit %d: %s", code, errOut)
	}
	// An explicit reason "unspecified" is shown, not dropped.
	out, _, _ := runMtlsctl("crl", "show", "--json", "--dir", empty, filepath.Join(custom, "crl_all_reasons.pem"))
	if !strings.Contains(out, `"reason": "unspecified"`) {
		t.Errorf("an explicit unspecified reason is dropped:\n%s", out)
	}
}

// pkitsOddIssuers are the PKITS CRLs that no PKITS certificate issued,
// with the CA each is tested against and what mtlsctl must say.
var pkitsOddIssuers = map[string]struct {
	cert, failure, message string
	exit                   int
}{
	"BadCRLIssuerNameCACRL.crl": {"BadCRLIssuerNameCACert.crt", "issuer name", "the CRL was issued by CN=Incorrect CRL Issuer Name", 1},
	"TwoCRLsCABadCRL.crl":       {"TwoCRLsCACert.crt", "issuer name", "the CRL was issued by CN=Bad CRL for Two CRLs CA", 1},
	// The CA's DSA key inherits its parameters from its issuer: neither
	// Go nor OpenSSL can decode it alone, so the CA file is unreadable.
	"DSAParametersInheritedCACRL.crl": {"DSAParametersInheritedCACert.crt", "", "invalid DSA parameters", 2},
}

// pkitsCerts reads every PKITS certificate, by file name.
func pkitsCerts(t *testing.T, vectors string) map[string]*x509.Certificate {
	files, _ := filepath.Glob(filepath.Join(vectors, "x509", "PKITS_data", "certs", "*.crt"))
	certs := map[string]*x509.Certificate{}
	for _, f := range files {
		der, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := x509.ParseCertificate(der); err == nil {
			certs[f] = c
		}
	}
	return certs
}

// TestCorpusPKITSSignatures: every PKITS CRL checked with crl show --ca
// against each certificate named as its issuer. Where OpenSSL verifies the
// signature, mtlsctl says verified, or names the part that is not the
// signature: the algorithm (DSA, which Go cannot check) or the key usage
// (a CA whose certificate lacks cRLSign). Where OpenSSL does not, mtlsctl
// says INVALID (signature). Never a bare "INVALID".
func TestCorpusPKITSSignatures(t *testing.T) {
	vectors := vectorsDir(t)
	openssl := interoptest.Require(t, "openssl")
	certs := pkitsCerts(t, vectors)
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(vectors, "x509", "PKITS_data", "crls", "*.crl"))
	verifiedByBoth, named := 0, map[string]int{}
	for _, file := range files {
		data, _ := os.ReadFile(file)
		rl, err := crl.ReadCRL(file, data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(file), err)
			continue
		}
		candidates := 0
		for certFile, c := range certs {
			if !x509text.SameDN(c.RawSubject, rl.IssuerRaw) || (len(rl.AuthKeyID) > 0 && !bytes.Equal(rl.AuthKeyID, c.SubjectKeyId)) {
				continue
			}
			candidates++
			caPEM := filepath.Join(dir, filepath.Base(certFile)+".pem")
			os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
			ossl, _ := exec.Command(openssl, "crl", "-inform", "DER", "-in", file, "-noout", "-CAfile", caPEM).CombinedOutput()
			osslOK := strings.Contains(string(ossl), "verify OK")
			out, errOut, code := runMtlsctl("crl", "show", "--json", "--dir", dir, "--ca", caPEM, file)
			var got crlShowJSON
			json.Unmarshal([]byte(out), &got)
			label := filepath.Base(file) + " by " + filepath.Base(certFile)
			switch {
			case osslOK && got.Signature != "INVALID":
				verifiedByBoth++
			case osslOK && got.Failure == "algorithm":
				if !strings.HasPrefix(got.SigAlg, "DSA-") {
					t.Errorf("%s: Go cannot check %s?", label, got.SigAlg)
				}
				named["algorithm"]++
			case osslOK && got.Failure == "key usage":
				if c.KeyUsage == 0 || c.KeyUsage&x509.KeyUsageCRLSign != 0 {
					t.Errorf("%s: key usage refused, but the certificate has %v", label, c.KeyUsage)
				}
				named["key usage"]++
			case osslOK:
				t.Errorf("%s: OpenSSL verifies it; mtlsctl: %s (%s) %s", label, got.Signature, got.Failure, errOut)
			case got.Signature != "INVALID" || got.Failure != "signature" || code != 1:
				t.Errorf("%s: OpenSSL does not verify it (%s); mtlsctl: %s (%s), exit %d", label, strings.TrimSpace(string(ossl)), got.Signature, got.Failure, code)
			default:
				named["signature"]++
			}
			if got.Signature == "INVALID" {
				t.Logf("%s: %s (%s)", label, got.Failure, strings.Join(got.Warnings, "; "))
			}
		}
		if _, listed := pkitsOddIssuers[filepath.Base(file)]; candidates == 0 && !listed {
			t.Errorf("%s: no PKITS certificate is its issuer", filepath.Base(file))
		}
	}
	// The CRLs no certificate issued, against the CA they claim to be of.
	for crl, tc := range pkitsOddIssuers {
		der, _ := os.ReadFile(filepath.Join(vectors, "x509", "PKITS_data", "certs", tc.cert))
		caPEM := filepath.Join(dir, tc.cert+".pem")
		os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		out, errOut, code := runMtlsctl("crl", "show", "--json", "--dir", dir, "--ca", caPEM, filepath.Join(vectors, "x509", "PKITS_data", "crls", crl))
		var got crlShowJSON
		json.Unmarshal([]byte(out), &got)
		if code != tc.exit || got.Failure != tc.failure || !strings.Contains(errOut, tc.message) {
			t.Errorf("%s with %s: exit %d, failure %q: %s", crl, tc.cert, code, got.Failure, errOut)
		}
	}
	t.Logf("verified by both: %d; named failures: %v", verifiedByBoth, named)
	if verifiedByBoth < 150 || named["algorithm"] == 0 || named["signature"] == 0 {
		t.Errorf("verified by both: %d; named failures: %v", verifiedByBoth, named)
	}
}

// opensslCert is what OpenSSL prints of a certificate, or ok false when it
// cannot read it.
type opensslCert struct {
	ok                      bool
	subject, issuer, serial string
	unhandledCritical       bool // openssl verify says "unhandled critical extension"
}

func readOpenSSLCert(t *testing.T, openssl, file, dir string) opensslCert {
	form := "PEM"
	if data, _ := os.ReadFile(file); len(data) > 0 && data[0] == 0x30 {
		form = "DER"
	}
	out, err := exec.Command(openssl, "x509", "-inform", form, "-in", file, "-noout", "-subject", "-issuer", "-serial", "-nameopt", "RFC2253").Output()
	if err != nil {
		return opensslCert{}
	}
	f := opensslFields(out)
	o := opensslCert{ok: true, subject: f["subject"], issuer: f["issuer"], serial: f["serial"]}
	// Trusted as itself, times ignored: the first error OpenSSL meets in
	// its extension checks is the one that matters here.
	asPEM := filepath.Join(dir, filepath.Base(file)+".pem")
	if err := exec.Command(openssl, "x509", "-inform", form, "-in", file, "-out", asPEM).Run(); err == nil {
		v, _ := exec.Command(openssl, "verify", "-no_check_time", "-partial_chain", "-CAfile", asPEM, asPEM).CombinedOutput()
		o.unhandledCritical = strings.Contains(string(v), "unhandled critical extension")
	}
	return o
}

type inspectJSON struct {
	Certificates []struct {
		Subject string `json:"subject"`
		Issuer  string `json:"issuer"`
		Serial  string `json:"serial"`
		SigAlg  string `json:"signature_algorithm"`
	} `json:"certificates"`
}

type validateJSON struct {
	Certificates []struct {
		Subject string `json:"subject"`
		Issuer  string `json:"issuer"`
		Checks  []struct {
			Rule    string `json:"rule"`
			Status  string `json:"status"`
			Message string `json:"message"`
			Hint    string `json:"hint"`
		} `json:"checks"`
	} `json:"certificates"`
	Bundle []struct {
		Rule    string `json:"rule"`
		Message string `json:"message"`
		Hint    string `json:"hint"`
	} `json:"bundle"`
}

// TestCorpusCertificates: every certificate of x509/custom and of PKITS
// through inspect and ca validate, against OpenSSL: the same subject,
// issuer and serial; exit 2 with the reason where it cannot be read (and
// the reason is one RFC 5280 gives, listed in strictCerts, where OpenSSL
// reads it); and ca validate's critical-extensions rule failing exactly
// where openssl verify says "unhandled critical extension".
func TestCorpusCertificates(t *testing.T) {
	vectors := vectorsDir(t)
	openssl := interoptest.Require(t, "openssl")
	empty := t.TempDir()
	var files []string
	custom, _ := filepath.Glob(filepath.Join(vectors, "x509", "custom", "*"))
	for _, f := range custom {
		if b := filepath.Base(f); !strings.HasPrefix(b, "crl_") && !strings.HasSuffix(b, "_crl.pem") && (strings.HasSuffix(b, ".pem") || strings.HasSuffix(b, ".der")) {
			files = append(files, f)
		}
	}
	pkits, _ := filepath.Glob(filepath.Join(vectors, "x509", "PKITS_data", "certs", "*.crt"))
	files = append(files, pkits...)
	if len(files) < 450 {
		t.Fatalf("only %d certificates in the corpus", len(files))
	}
	critical := 0
	for _, file := range files {
		base := filepath.Base(file)
		t.Run(base, func(t *testing.T) {
			o := readOpenSSLCert(t, openssl, file, empty)
			out, errOut, code := runMtlsctl("inspect", "--json", "--dir", empty, file)
			if !o.ok {
				var got inspectJSON
				json.Unmarshal([]byte(out), &got)
				if code != 2 && len(got.Certificates) > 0 {
					t.Errorf("OpenSSL cannot read it; inspect exit %d with %d certificates", code, len(got.Certificates))
				}
				return
			}
			if why, strict := strictCerts[base]; strict {
				if code != 2 || !strings.Contains(errOut, why) || !strings.Contains(errOut, base) {
					t.Errorf("inspect should refuse it (%s): exit %d, %s", why, code, errOut)
				}
				return
			}
			if code != 0 {
				t.Fatalf("OpenSSL reads it; inspect exit %d: %s", code, errOut)
			}
			var got inspectJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Certificates) != 1 {
				t.Fatalf("inspect --json: %v\n%s", err, out)
			}
			c := got.Certificates[0]
			if c.Subject != o.subject || c.Issuer != o.issuer || c.Serial != o.serial {
				t.Errorf("inspect: subject %q issuer %q serial %s\n OpenSSL: subject %q issuer %q serial %s", c.Subject, c.Issuer, c.Serial, o.subject, o.issuer, o.serial)
			}
			if strings.Contains(c.SigAlg, "unknown") || c.SigAlg == "0" {
				t.Errorf("signature algorithm %q", c.SigAlg)
			}
			// ca validate reads PEM only (what Access's upload takes).
			if !strings.HasSuffix(base, ".pem") {
				return
			}
			out, errOut, code = runMtlsctl("ca", "validate", "--json", "--dir", empty, file)
			var v validateJSON
			if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Certificates) != 1 || code == 2 {
				t.Fatalf("ca validate exit %d: %v\n%s%s", code, err, out, errOut)
			}
			vc := v.Certificates[0]
			if vc.Subject != o.subject || vc.Issuer != o.issuer {
				t.Errorf("ca validate: subject %q issuer %q\n OpenSSL: subject %q issuer %q", vc.Subject, vc.Issuer, o.subject, o.issuer)
			}
			failed := false
			for _, ch := range vc.Checks {
				// Critical name constraints on a directory name: OpenSSL
				// handles them, Go's verifier (so serve) does not.
				if goOnly := base == "nc_permitted_excluded_2.pem"; ch.Rule == "critical-extensions" && goOnly != (ch.Status == "warn") {
					t.Errorf("critical-extensions %s: %s", ch.Status, ch.Message)
				}
				if ch.Rule == "critical-extensions" && ch.Status == "fail" {
					failed = true
					if !strings.Contains(ch.Message, "unhandled critical extension") {
						t.Errorf("the rule does not use OpenSSL's words: %s", ch.Message)
					}
				}
			}
			if failed != o.unhandledCritical {
				t.Errorf("critical-extensions failed %v; openssl verify says unhandled critical extension: %v", failed, o.unhandledCritical)
			}
			if failed {
				critical++
				if code != 1 {
					t.Errorf("ca validate exit %d", code)
				}
			}
			// A self-signed DSA CA (Go cannot check its signature) is not
			// told to append the certificate of its issuer: itself.
			if base == "dsa_selfsigned_ca.pem" {
				for _, b := range v.Bundle {
					if strings.Contains(b.Hint+b.Message, "append the certificate of") || strings.Contains(b.Message, "not self-signed") {
						t.Errorf("a self-signed DSA CA is told: %s %s", b.Message, b.Hint)
					}
				}
			}
		})
	}
	if critical == 0 {
		t.Error("no certificate with an unhandled critical extension was found")
	}
}

// TestCorpusEnforcement: every PKITS CRL that the reader says is not its
// CA's complete list (delta, partitioned, indirect, or with a critical
// extension nobody here understands) is refused, with that reason, by the
// three commands that enforce CRLs: serve (its CRL loader), check and
// worker build. Every complete one is taken by all three.
func TestCorpusEnforcement(t *testing.T) {
	vectors := vectorsDir(t)
	certs := pkitsCerts(t, vectors)
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if _, errOut, code := runMtlsctl("ca", "init", "--dir", pki); code != 0 {
		t.Fatal(errOut)
	}
	files, _ := filepath.Glob(filepath.Join(vectors, "x509", "PKITS_data", "crls", "*.crl"))
	refused, taken := 0, 0
	for _, file := range files {
		data, _ := os.ReadFile(file)
		rl, err := crl.ReadCRL(file, data)
		if err != nil {
			t.Fatal(err)
		}
		var ca *x509.Certificate
		for _, c := range certs {
			if rl.VerifyBy(c, "ca") == nil {
				ca = c
				break
			}
		}
		if ca == nil {
			continue // no issuer that verifies: TestCorpusPKITSSignatures names why
		}
		base := filepath.Base(file)
		caPEM := filepath.Join(dir, base+".ca.pem")
		os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644)
		const refusal = "cannot be used as its CA's complete revocation list"
		// serve takes CRLs signed by the CAs of its policy only, so a CRL
		// signed by a separate key (a certificate that is no CA) is refused
		// there for that, before anything else; the loader is asked only
		// about CRLs signed by a CA.
		var loadErr error
		if ca.IsCA {
			_, loadErr = crl.LoadCRLStore(file, []*x509.Certificate{ca}, nil, nil)
		}
		_, checkErr, checkCode := runMtlsctl("check", "--dir", pki, "--crl", file)
		_, workerErr, workerCode := runMtlsctl("worker", "build", "--dir", pki, "--crl", file, "--ca", caPEM)
		if len(rl.Refusals) > 0 {
			refused++
			if ca.IsCA && (loadErr == nil || !strings.Contains(loadErr.Error(), refusal)) {
				t.Errorf("%s (%s): serve's loader takes it: %v", base, rl.Refusals[0], loadErr)
			}
			if checkCode != 1 || !strings.Contains(checkErr, refusal) {
				t.Errorf("%s: check exit %d: %s", base, checkCode, checkErr)
			}
			if workerCode != 2 || !strings.Contains(workerErr, refusal) {
				t.Errorf("%s: worker build exit %d: %s", base, workerCode, workerErr)
			}
			continue
		}
		taken++
		if loadErr != nil || strings.Contains(checkErr, refusal) || strings.Contains(workerErr, refusal) {
			t.Errorf("%s: a complete CRL refused: serve %v; check %s; worker build %s", base, loadErr, checkErr, workerErr)
		}
	}
	t.Logf("refused %d, taken %d", refused, taken)
	if refused < 20 || taken < 100 {
		t.Errorf("refused %d, taken %d", refused, taken)
	}
}
