package access

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtlsctl/mtlsctl/pkix"
	"golang.org/x/net/idna"
)

// CheckHostname judges one of Access's "associated hostnames": a fully
// qualified domain name of a protected application, nothing else. IDNs are
// shown in their ASCII (punycode) form, which is what Access matches.
func CheckHostname(h string) Check {
	c := Check{Rule: "hostname"}
	fail := func(msg, hint string) Check {
		c.Status, c.Message, c.Hint = Fail, h+": "+msg, hint
		return c
	}
	s := strings.TrimSpace(h)
	if s == "" {
		return fail("empty", "give the application's hostname, e.g. auth.example.com")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		return fail("has a scheme ("+s[:i+3]+")", "use only the hostname: "+rest)
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		return fail("has a path ("+s[i:]+"); associated hostnames take no paths", "use only the hostname: "+s[:i])
	}
	if strings.HasPrefix(s, "*") || strings.Contains(s, "*") {
		return fail("is a wildcard; Access's associated hostnames are documented as fully qualified names only", "list each application's hostname instead, e.g. app."+strings.TrimLeft(s, "*."))
	}
	if strings.ContainsAny(s, "@ ") {
		return fail("is not a hostname", "use only the hostname, e.g. auth.example.com")
	}
	if net.ParseIP(strings.TrimSuffix(strings.Trim(s, "[]"), ".")) != nil {
		return fail("is an IP address; associated hostnames are domain names", "use the application's hostname, e.g. auth.example.com")
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return fail("has a port ("+s[i:]+")", "use only the hostname: "+s[:i])
	}
	s = strings.TrimSuffix(s, ".")
	ascii, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return fail("is not a valid domain name: "+err.Error(), "")
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > 253 {
		return fail("is longer than 253 characters", "")
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return fail("is not fully qualified (one label)", "use the full name, e.g. "+s+".example.com")
	}
	for _, l := range labels {
		if msg := checkLabel(l); msg != "" {
			return fail(msg, "")
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return fail("ends in an all-numeric label, which no top-level domain is", "use the application's hostname, e.g. auth.example.com")
	}
	c.Status = Pass
	c.Message = ascii
	if ascii != strings.ToLower(h) {
		c.Message = ascii + " (from " + h + ")"
	}
	return c
}

func checkLabel(l string) string {
	switch {
	case l == "":
		return "has an empty label (two dots in a row?)"
	case len(l) > 63:
		return "has a label longer than 63 characters"
	case l[0] == '-' || l[len(l)-1] == '-':
		return "has a label that starts or ends with '-'"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "has an invalid character " + string(rune(c)) + " (letters, digits and '-' only)"
		}
	}
	return ""
}

// CheckRequestHost judges one "hosts" entry of a cfssl request the way
// cfssl sorts it into a SAN: an IP address, else an email address, else a
// URI, else a DNS name. Each must be valid by its own rules: a DNS name by
// RFC 5280's preferred name syntax (ASCII letters, digits and '-' in labels
// of at most 63 characters, 253 in all; a leading "*." wildcard label is
// allowed), so an internationalised name must be given in its ASCII
// (punycode) form; an email address as local@domain with a valid domain; a
// URI with a scheme and nothing unprintable. Control characters are refused
// everywhere: they would be certified and later printed as they are.
func CheckRequestHost(h string) *pkix.Error {
	q := strconv.Quote(h)
	for _, r := range h {
		if unicode.IsControl(r) || r == utf8.RuneError {
			what := "a control character (" + strings.Trim(strconv.QuoteRune(r), "'") + ")"
			if r == utf8.RuneError {
				what = "invalid UTF-8"
			}
			return &pkix.Error{Msg: fmt.Sprintf("%s is not a valid %s: it contains %s", q, sanKind(h), what),
				Hint: "remove it: a SAN is printed as it is wherever the certificate is shown"}
		}
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if addr, err := mail.ParseAddress(h); err == nil && addr != nil {
		local, domain, _ := strings.Cut(addr.Address, "@")
		if local == "" || !isASCIIPrintable(local) {
			return &pkix.Error{Msg: fmt.Sprintf("%s is not a valid email address: the part before @ must be printable ASCII", q)}
		}
		if msg, hint := checkDNSName(domain, false); msg != "" {
			return &pkix.Error{Msg: fmt.Sprintf("%s is not a valid email address: its domain %s", q, msg), Hint: hint}
		}
		return nil
	}
	if u, err := url.ParseRequestURI(h); err == nil && u != nil {
		if u.Scheme == "" || !isASCIIPrintable(h) {
			return &pkix.Error{Msg: fmt.Sprintf("%s is not a valid URI: it needs a scheme and printable ASCII (percent-encode the rest)", q)}
		}
		return nil
	}
	if msg, hint := checkDNSName(h, true); msg != "" {
		return &pkix.Error{Msg: fmt.Sprintf("%s is not a valid DNS name: %s", q, msg), Hint: hint}
	}
	return nil
}

// sanKind is what cfssl would make of h, for messages.
func sanKind(h string) string {
	if strings.Contains(h, "@") {
		return "email address"
	}
	if strings.Contains(h, "://") {
		return "URI"
	}
	return "DNS name"
}

func isASCIIPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// checkDNSName judges a dNSName SAN (RFC 5280 4.2.1.6: the preferred name
// syntax of RFC 1034, in ASCII), with a leading "*." when wildcard.
func checkDNSName(s string, wildcard bool) (msg, hint string) {
	if s == "" {
		return "is empty", ""
	}
	if !isASCIIPrintable(s) {
		if ascii, err := idna.Lookup.ToASCII(s); err == nil && ascii != s && isASCIIPrintable(ascii) {
			return "it is not ASCII; an internationalised name goes in its punycode form", "use " + ascii
		}
		if strings.ContainsAny(s, " \u00a0") {
			return "it contains a space", ""
		}
		return "it is not ASCII (letters, digits, '-' and '.' only)", ""
	}
	if strings.HasSuffix(s, ".") {
		return "it ends with a dot", "use " + strings.TrimSuffix(s, ".")
	}
	if len(s) > 253 {
		return "it is longer than 253 characters", ""
	}
	labels := strings.Split(strings.ToLower(s), ".")
	if wildcard && labels[0] == "*" && len(labels) > 1 {
		labels = labels[1:]
	}
	for _, l := range labels {
		if l == "*" || strings.Contains(l, "*") {
			return "a wildcard must be the whole leftmost label (*.example.com)", ""
		}
		if m := checkLabel(l); m != "" {
			return "it " + strings.TrimPrefix(m, "has ") + "", ""
		}
	}
	return "", ""
}

// CheckServerHost accepts what a server certificate made here may name: an
// IP address, or a DNS name by RFC 5280's preferred syntax, no wildcard.
func CheckServerHost(h string) *pkix.Error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if h == "" {
		return &pkix.Error{Msg: "a host name is empty", Hint: "give the name or address runners connect to, e.g. %s", HintArgs: []any{pkix.OptHost.With("signer.internal")}}
	}
	if msg, hint := checkDNSName(h, false); msg != "" {
		return &pkix.Error{Msg: fmt.Sprintf("%s is not a valid DNS name or IP address: %s", strconv.Quote(h), msg), Hint: hint}
	}
	return nil
}
