package signer

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	cfsigner "github.com/cloudflare/cfssl/signer"
)

// The wire format of a fresh request. cfssl's authsign request is
//
//	{"token": base64(HMAC-SHA256(key, R)), "request": base64(R)}
//
// where R is the JSON of the signing request, and the token covers R
// only. mtlsctl's runners put a time and a nonce into R, in the
// "metadata" object cfssl's SignRequest already has (cfssl's remote
// signer sends it as it is; cfssl's server ignores it):
//
//	"metadata": {"mtlsctl_time": "2026-11-27T22:14:03.123456789Z",
//	             "mtlsctl_nonce": "<base64 of 16 random bytes>"}
//
// so both are covered by the HMAC. The signer refuses R when the time is
// more than Window away from its clock, or the nonce was seen (in the
// database, shared by every signer process). Stock cfssl clients send
// neither, and are refused unless the signer runs with
// --allow-cfssl-clients.
const (
	MetaTime  = "mtlsctl_time"
	MetaNonce = "mtlsctl_nonce"
)

// Window is how far a request's time may be from the signer's clock.
const Window = 2 * time.Minute

// Freshen stamps req with the current time and a new nonce (runner side).
func Freshen(req *cfsigner.SignRequest, now time.Time) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	if req.Metadata == nil {
		req.Metadata = map[string]any{}
	}
	req.Metadata[MetaTime] = now.UTC().Format(time.RFC3339Nano)
	req.Metadata[MetaNonce] = base64.StdEncoding.EncodeToString(nonce)
	return nil
}

// Freshness is what a request's bytes say of its age and identity.
type Freshness struct {
	Stamped bool // false: a stock cfssl client's request
	Time    time.Time
	Nonce   []byte
}

// ReadFreshness reads the time and nonce from R, the request bytes the
// HMAC covers. A request with one and not the other, or with either
// malformed, is an error (never taken as a stock client's).
func ReadFreshness(r []byte) (Freshness, error) {
	var env struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
	}
	if err := json.Unmarshal(r, &env); err != nil {
		return Freshness{}, fmt.Errorf("the signing request is not a JSON object with a metadata object")
	}
	rawTime, hasTime := env.Metadata[MetaTime]
	rawNonce, hasNonce := env.Metadata[MetaNonce]
	if !hasTime && !hasNonce {
		return Freshness{}, nil
	}
	if hasTime != hasNonce {
		return Freshness{}, fmt.Errorf("the request has %s or %s but not both", MetaTime, MetaNonce)
	}
	var ts, ns string
	if json.Unmarshal(rawTime, &ts) != nil || json.Unmarshal(rawNonce, &ns) != nil {
		return Freshness{}, fmt.Errorf("%s and %s must be strings", MetaTime, MetaNonce)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Freshness{}, fmt.Errorf("%s %q is not an RFC 3339 time", MetaTime, ts)
	}
	nonce, err := base64.StdEncoding.DecodeString(ns)
	if err != nil || len(nonce) < 16 || len(nonce) > 64 {
		return Freshness{}, fmt.Errorf("%s must be 16 to 64 random bytes in base64", MetaNonce)
	}
	return Freshness{Stamped: true, Time: t, Nonce: nonce}, nil
}

// Check refuses a request older or newer than Window.
func (f Freshness) Check(now time.Time) error {
	if d := now.Sub(f.Time); d > Window || d < -Window {
		return fmt.Errorf("the request was made at %s, %s from the signer's clock (more than %s): a replay, or a clock to fix", f.Time.UTC().Format(time.RFC3339), d.Round(time.Second), Window)
	}
	return nil
}

// RefuseRunnerChoices refuses a request R that sets what the signer
// decides and cfssl's authsign handler would silently drop before the
// signer sees the request: the validity (SignRequest's NotBefore and
// NotAfter, which cfssl sends under those Go names), extensions and a
// CRL distribution point override. A runner that asks for them is told
// so, rather than handed a certificate that differs from its request.
// Zero values are what cfssl's own client sends for fields left unset,
// and are accepted. (The serial, label, hosts and subject do reach the
// signer, and Service.Sign refuses them.)
func RefuseRunnerChoices(r []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r, &fields); err != nil {
		return fmt.Errorf("the signing request is not a JSON object")
	}
	for name, raw := range fields {
		if string(raw) == "null" {
			continue
		}
		// Go's JSON decoding matches names without regard to case.
		switch strings.ReplaceAll(strings.ToLower(name), "_", "") {
		case "notbefore", "notafter":
			var t time.Time
			if json.Unmarshal(raw, &t) != nil || !t.IsZero() {
				return fmt.Errorf("the request sets the validity (%s): the profile decides it", name)
			}
		case "extensions":
			var exts []json.RawMessage
			if json.Unmarshal(raw, &exts) != nil || len(exts) > 0 {
				return fmt.Errorf("the request asks for extensions: the profile decides them")
			}
		case "crloverride":
			var url string
			if json.Unmarshal(raw, &url) != nil || url != "" {
				return fmt.Errorf("the request overrides the CRL distribution point: the profile decides it")
			}
		}
	}
	return nil
}
