package commands

import (
	"io"
	"log"
)

// newDiscardLogger silences net/http's own error log: a client that drops
// the handshake (curl without --cacert) is not the server's error, and the
// access log already records every request.
func newDiscardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
