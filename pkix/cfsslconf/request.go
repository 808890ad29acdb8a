package cfsslconf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cloudflare/cfssl/signer"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"

	"github.com/cloudflare/cfssl/csr"
)

// Request is a parsed, validated cfssl certificate request (the
// ca-csr.json / client-csr.json format), plus notes worth telling the user
// about what was changed or assumed.
type Request struct {
	CR    *csr.CertificateRequest
	Notes []string
	// Extensions are added to the certificate; the profile must list
	// each in allowed_extensions (cfssl refuses the others). The signer's
	// runner certificates carry their grant so.
	Extensions []signer.Extension
	// KeyGiven: the key type was asked for (a "key" section in the file,
	// or --key-type), not filled in by default. An intermediate follows
	// its issuer's key type unless it was asked for.
	KeyGiven bool
}

// RequestKind says which checks apply: a CA request may carry a "ca"
// section, a client request must not.
type RequestKind int

const (
	CARequest RequestKind = iota
	ClientRequest
)

// DefaultCAExpiry is cfssl's CA lifetime when the request names none.
const DefaultCAExpiry = 43800 * time.Hour

// LoadRequest parses and validates a cfssl CSR JSON document.
func LoadRequest(file string, data []byte, kind RequestKind) (*Request, error) {
	cr := &csr.CertificateRequest{}
	if err := decodeStrictJSON(file, data, cr); err != nil {
		return nil, err
	}
	return validateRequest(file, data, cr, kind)
}

func validateRequest(file string, data []byte, cr *csr.CertificateRequest, kind RequestKind) (*Request, error) {
	r := &Request{CR: cr, KeyGiven: cr.KeyRequest != nil}
	at := func(field string) *pkix.Error {
		line, col := findKey(data, field)
		return &pkix.Error{File: file, Line: line, Col: col, Field: field}
	}
	if cr.KeyRequest == nil {
		cr.KeyRequest = csr.NewKeyRequest()
		r.Notes = append(r.Notes, fmt.Sprintf("%s has no \"key\" section: using cfssl's default, ecdsa 256", file))
	}
	if err := checkKeyRequest(cr.KeyRequest); err != nil {
		e := at("key")
		e.Msg, e.Hint, e.HintArgs = err.Msg, err.Hint, err.HintArgs
		return nil, e
	}
	if strings.TrimSpace(cr.CN) == "" && allNamesEmpty(cr.Names) {
		e := at("CN")
		e.Msg = "the request has no subject: both CN and names are empty"
		e.Hint = `set "CN", for example "CN": "Access Testing CA"`
		return nil, e
	}
	if err := CheckCN(cr.CN); err != nil {
		e := at("CN")
		e.Msg, e.Hint, e.HintArgs = err.Msg, err.Hint, err.HintArgs
		return nil, e
	}
	var hosts []string
	dropped := 0
	for i, h := range cr.Hosts {
		if strings.TrimSpace(h) == "" {
			dropped++
			continue
		}
		// Each entry becomes a SAN (cfssl's sorting: IP, email, URI, else
		// DNS name): one that is not valid as such, control characters
		// above all, is refused rather than certified.
		if err := access.CheckRequestHost(h); err != nil {
			e := at("hosts")
			e.Field = fmt.Sprintf("hosts[%d]", i)
			e.Msg, e.Hint, e.HintArgs = err.Msg, err.Hint, err.HintArgs
			return nil, e
		}
		hosts = append(hosts, h)
	}
	if dropped > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf(`%s: dropped %d empty entr%s in "hosts" (cfssl would issue an invalid empty subjectAltName)`,
			file, dropped, x509text.Plural(dropped, "y", "ies")))
	}
	cr.Hosts = hosts
	switch kind {
	case ClientRequest:
		if cr.CA != nil {
			e := at("ca")
			e.Msg = `a client request must not have a "ca" section`
			e.WithNext(`remove "ca" from the file; to make a CA use "%s"`, pkix.ActMakeCA)
			return nil, e
		}
	case CARequest:
		if cr.CA != nil {
			if cr.CA.Expiry != "" {
				if d, err := time.ParseDuration(cr.CA.Expiry); err != nil || d < time.Hour {
					e := at("expiry")
					e.Field = "ca.expiry"
					e.Msg = fmt.Sprintf("%q is not a lifetime of at least one hour", cr.CA.Expiry)
					e.Hint = `cfssl takes Go durations in hours, for example "43800h" for 5 years`
					if err != nil {
						e.Msg = fmt.Sprintf("%q is not a duration", cr.CA.Expiry)
					}
					return nil, e
				}
			}
			if cr.CA.Backdate != "" {
				if d, err := time.ParseDuration(cr.CA.Backdate); err != nil || d < 0 {
					e := at("backdate")
					e.Field = "ca.backdate"
					e.Msg = fmt.Sprintf("%q is not a non-negative duration", cr.CA.Backdate)
					e.Hint = `backdate moves the start into the past: use a Go duration such as "1h"`
					return nil, e
				}
			}
			if cr.CA.PathLength < 0 {
				e := at("pathlen")
				e.Field = "ca.pathlen"
				e.Msg = "path length must not be negative"
				return nil, e
			}
			if cr.CA.PathLength == 0 && !cr.CA.PathLenZero && strings.Contains(string(data), `"pathlen"`) {
				r.Notes = append(r.Notes, fmt.Sprintf(`%s: "pathlen": 0 without "pathlenzero": true means no path length limit (cfssl's rule); add "pathlenzero": true to forbid intermediates`, file))
			}
		}
	}
	return r, nil
}

// checkKeyRequest refuses what cfssl would refuse later with an opaque
// message, so the error can name the field.
func checkKeyRequest(kr *csr.KeyRequest) *pkix.Error {
	switch kr.Algo() {
	case "rsa":
		if kr.Size() < 2048 || kr.Size() > 8192 {
			return &pkix.Error{Msg: fmt.Sprintf("rsa key size %d is not supported", kr.Size()), Hint: "use 2048, 3072 or 4096"}
		}
	case "ecdsa":
		switch kr.Size() {
		case 256, 384, 521:
		default:
			return &pkix.Error{Msg: fmt.Sprintf("ecdsa key size %d is not a supported curve", kr.Size()), Hint: "use 256, 384 or 521 (P-256, P-384, P-521)"}
		}
	case "ed25519", "mldsa44", "mldsa65", "mldsa87":
	case "":
		return &pkix.Error{Msg: `"algo" is empty`, Hint: `use "rsa" or "ecdsa"`}
	default:
		return &pkix.Error{Msg: fmt.Sprintf("unknown key algorithm %q", kr.Algo()), Hint: `use "rsa" or "ecdsa" (Access accepts only RSA and ECDSA signatures)`}
	}
	return nil
}

func allNamesEmpty(names []csr.Name) bool {
	for _, n := range names {
		if !csr.IsNameEmpty(n) {
			return false
		}
	}
	return true
}

// ParseKeyType turns "rsa-4096", "ecdsa-256", "ed25519" into a cfssl key
// request, for the --key-type flag.
func ParseKeyType(s string) (*csr.KeyRequest, error) {
	algo, size, _ := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "-")
	kr := &csr.KeyRequest{A: algo}
	if size != "" {
		n, err := strconv.Atoi(size)
		kr.S = n
		if err != nil {
			return nil, &pkix.Error{Msg: fmt.Sprintf("%q is not a size", size), Hint: "use rsa-2048, rsa-4096, ecdsa-256, ecdsa-384 or ed25519"}
		}
	}
	if algo == "ed25519" && size != "" {
		return nil, &pkix.Error{Msg: "ed25519 takes no size"}
	}
	if (algo == "rsa" || algo == "ecdsa") && size == "" {
		return nil, &pkix.Error{Msg: "the key type needs a size", Hint: "use rsa-2048, rsa-4096, ecdsa-256, ecdsa-384 or ed25519"}
	}
	if err := checkKeyRequest(kr); err != nil {
		return nil, err
	}
	return kr, nil
}

// KeyTypeName is the inverse of ParseKeyType, for messages.
func KeyTypeName(kr *csr.KeyRequest) string {
	if kr.Size() == 0 {
		return kr.Algo()
	}
	return fmt.Sprintf("%s-%d", kr.Algo(), kr.Size())
}

// CheckCN refuses a common name RFC 5280 does not allow (over 64
// characters) or that would print as something else (control characters).
func CheckCN(cn string) *pkix.Error {
	if cn != "" && strings.TrimSpace(cn) == "" {
		return &pkix.Error{Msg: fmt.Sprintf("the CN %q is only spaces", cn), Hint: "give the certificate a name, e.g. device-7"}
	}
	if strings.TrimSpace(cn) != cn {
		// "ci-x " prints as "ci-x" and is another name.
		return &pkix.Error{Msg: fmt.Sprintf("the CN %q begins or ends with a space", cn), Hint: "remove the spaces: they make a second name that prints as the first"}
	}
	if n := utf8.RuneCountInString(cn); n > 64 {
		return &pkix.Error{Msg: fmt.Sprintf("the CN is %d characters long; RFC 5280 allows at most 64", n), Hint: "put longer names in the organisation fields, or shorten it"}
	}
	for _, r := range cn {
		switch {
		case unicode.IsControl(r):
			return &pkix.Error{Msg: fmt.Sprintf("the CN %q contains a control character", cn)}
		case Invisible(r):
			// Right-to-left overrides, zero widths, Hangul fillers: a CN
			// that prints as another (ci-\u202eadmin shows as "ci-nimda").
			return &pkix.Error{Msg: fmt.Sprintf("the CN %q contains a character that prints as nothing (%U)", cn, r), Hint: "a CN must print as what it is: remove it"}
		case r != ' ' && unicode.IsSpace(r):
			return &pkix.Error{Msg: fmt.Sprintf("the CN %q contains a space other than ' ' (%U)", cn, r), Hint: "use a plain space, or none"}
		}
	}
	if !utf8.ValidString(cn) {
		return &pkix.Error{Msg: "the CN is not valid UTF-8"}
	}
	return nil
}
