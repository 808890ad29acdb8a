package commands

import (
	"encoding/json"
	"fmt"
	"log"
	"regexp"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/accesssim"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// unparsedClientCert is net/http's log line for a handshake that Go's TLS
// stack ended because it could not parse the client's certificate (one
// with a critical Subject or Authority Key Identifier, say): the request
// never reaches the policy, so serve writes the refusal itself.
var unparsedClientCert = regexp.MustCompile(`TLS handshake error from (\S+): tls: failed to parse client certificate(?: #\d+)?: (.*)$`)

// handshakeLog is net/http's error log: a client certificate refused in
// the handshake becomes an access-log line; everything else (clients that
// hang up, curl without --cacert) stays silent, as before.
func (s *server) handshakeLog() *log.Logger {
	return log.New(writerFunc(func(p []byte) (int, error) {
		m := unparsedClientCert.FindStringSubmatch(strings.TrimSpace(string(p)))
		if m == nil {
			return len(p), nil
		}
		reason := accesssim.HandshakeRefusal(m[2])
		s.logMu.Lock()
		defer s.logMu.Unlock()
		now := time.Now().UTC().Format(time.RFC3339)
		if s.jsonLog {
			json.NewEncoder(s.log).Encode(map[string]any{"time": now, "remote": m[1], "method": "TLS", "path": nil, "status": nil,
				"verdict": "deny", "cn": nil, "serial": nil, "reason": reason})
		} else {
			fmt.Fprintf(s.log, "%s %s TLS \"-\" - deny cn=\"-\" serial=- reason=%q\n", now, x509text.Printable(m[1]), reason)
		}
		return len(p), nil
	}), "", 0)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
