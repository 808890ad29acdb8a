package signer

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/api"
	cferr "github.com/cloudflare/cfssl/errors"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
)

// RevokeRequest is the body of POST /api/v1/mtlsctl/revoke.
type RevokeRequest struct {
	Serial string `json:"serial"` // hex, as mtlsctl shows serials
	Reason string `json:"reason"` // an RFC 5280 name; default unspecified
}

// RevokeAnswer says whether the revocation changed anything.
type RevokeAnswer struct {
	Serial  string `json:"serial"`
	Revoked bool   `json:"revoked"` // false: it was already revoked
}

func (s *Server) aki() string { return hex.EncodeToString(s.Service.Issuer.Cert.SubjectKeyId) }

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	var req RevokeRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return cferr.NewBadRequestString("the body must be {\"serial\": HEX, \"reason\": NAME}: " + err.Error())
	}
	reason := crl.RevocationReason(0)
	if req.Reason != "" {
		var ok bool
		if reason, ok = crl.ParseReason(req.Reason); !ok {
			return cferr.NewBadRequestString("reason " + req.Reason + " is not an RFC 5280 reason")
		}
	}
	serial := strings.ToUpper(strings.TrimPrefix(strings.ReplaceAll(req.Serial, ":", ""), "0x"))
	changed, err := s.Service.Store.Revoke(r.Context(), s.aki(), serial, reason, time.Now())
	if errors.Is(err, ErrNotFound) {
		return cferr.NewBadRequestString(err.Error() + " in the signer's database")
	} else if err != nil {
		return err
	}
	return api.SendResponse(w, RevokeAnswer{Serial: serial, Revoked: changed})
}

// crl answers the CA's CRL, signed now from the database, in DER
// (application/pkix-crl); ?next_update=DURATION (default 7d).
func (s *Server) crl(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		api.HandleError(w, cferr.NewMethodNotAllowed(r.Method))
		return
	}
	next := 7 * 24 * time.Hour
	if v := r.URL.Query().Get("next_update"); v != "" {
		d, err := cfsslconf.ParseDuration(v)
		if err != nil || d <= 0 {
			api.HandleError(w, cferr.NewBadRequestString("next_update "+v+" is not a duration such as 7d"))
			return
		}
		next = d
	}
	var floor *big.Int
	if s.LocalCRL != "" {
		if data, err := os.ReadFile(s.LocalCRL); err == nil {
			if rl, err := crl.ScanCRL(s.LocalCRL, data, nil); err == nil && rl.Number != nil && rl.VerifyBy(s.Service.Issuer.Cert, s.LocalCRL) == nil {
				floor = rl.Number
			}
		}
	}
	crl, err := s.Service.Store.BuildCRL(r.Context(), s.Service.Issuer, s.aki(), floor, next, time.Now())
	if err != nil {
		api.HandleError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	crl.WriteTo(w)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := ListFilter{Status: q.Get("status"), CN: q.Get("cn")}
	if v := q.Get("expiring"); v != "" {
		d, err := cfsslconf.ParseDuration(v)
		if err != nil {
			return cferr.NewBadRequestString("expiring " + v + " is not a duration such as 30d")
		}
		f.Expiring = d
	}
	rows, err := s.Service.Store.List(r.Context(), s.aki(), f, time.Now())
	if err != nil {
		return cferr.NewBadRequestString(err.Error())
	}
	return api.SendResponse(w, rows)
}
