package x509text

import "strings"

// ShellQuote quotes s for a POSIX shell, so a command put in a hint can
// be pasted as printed even when a path holds a space. Plain words (the
// usual case) stay bare, so hints stay readable. Double quotes are
// preferred because hints put whole commands in single quotes ('mtlsctl
// crl build "my pki/serials.txt"'); single quotes only when the text has
// a character double quotes would not keep literal.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	if !strings.ContainsAny(s, "\"$`\\!") {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
