package pkix

import (
	"net"
	"strings"

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
