package ca

import (
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"time"
)

// Lifetime is a certificate's validity asked for on the command line, in
// place of its profile's expiry: a duration from now, or an end date. The
// zero Lifetime is the profile's.
type Lifetime struct {
	Expiry   time.Duration
	NotAfter time.Time
}

// IsZero: no lifetime was asked for.
func (l Lifetime) IsZero() bool { return l.Expiry == 0 && l.NotAfter.IsZero() }

// end is the not-after a certificate signed now gets.
func (l Lifetime) end(now time.Time) time.Time {
	if l.Expiry != 0 {
		return now.Add(l.Expiry)
	}
	return l.NotAfter
}

func (l Lifetime) String() string {
	if l.Expiry != 0 {
		return cfsslconf.FormatDuration(l.Expiry)
	}
	return l.NotAfter.UTC().Format(time.RFC3339)
}

// CheckLifetime refuses a lifetime the CA would not grant: past the
// profile's expiry (the CA's policy: a shorter lifetime is the only
// choice left to the command line) or past the issuing CA's own
// not-after (where a certificate stops verifying anyway). Unlike a
// profile's lifetime, which is cut at the CA's expiry with a warning, a
// lifetime asked for is exact or refused: the user said what they want.
func (is *Issuer) CheckLifetime(profile string, l Lifetime, now time.Time) error {
	if l.IsZero() {
		return nil
	}
	p, err := is.Config.Profile(profile)
	if err != nil {
		return err
	}
	end := l.end(now)
	switch {
	case !end.After(now):
		return &pkix.Error{Field: "not-after", Msg: fmt.Sprintf("%s is not in the future", l), Hint: "give a time after now, in RFC 3339 (2027-06-30T00:00:00Z) or as a date (2027-06-30)"}
	case end.Sub(now) > p.Expiry+time.Minute: // a minute: the time a long batch takes to start
		return &pkix.Error{Msg: fmt.Sprintf("the lifetime asked for (%s, until %s) is longer than profile %q grants (%s)", l, end.UTC().Format(time.RFC3339), profile, cfsslconf.FormatDuration(p.Expiry)),
			Hint: fmt.Sprintf("ask for at most %s, or raise the profile's \"expiry\" in ca-config.json", cfsslconf.FormatDuration(p.Expiry))}
	case end.After(is.Cert.NotAfter):
		return &pkix.Error{Msg: fmt.Sprintf("the lifetime asked for (%s, until %s) ends after the issuing CA (%s) expires on %s", l, end.UTC().Format(time.RFC3339), x509text.CommonNameOf(is.Cert), is.Cert.NotAfter.UTC().Format(time.RFC3339)),
			Hint: "ask for a certificate that ends before its CA: a certificate stops verifying when its CA expires"}
	}
	return nil
}

// DueAgainAtOnce says why a certificate this CA signs now under profile
// (or life) would itself be inside a renewal window of window: "" when it
// would not. A renewal that is due again at once renews on every run, to
// the same not-after, and leaves one more valid certificate each time.
func (is *Issuer) DueAgainAtOnce(profile string, life Lifetime, now time.Time, window time.Duration) (string, error) {
	end := life.end(now)
	grant := "the lifetime asked for (" + life.String() + ")"
	if life.IsZero() {
		p, err := is.Config.Profile(profile)
		if err != nil {
			return "", err
		}
		end, grant = now.Add(p.Expiry), fmt.Sprintf("profile %q grants %s", profile, cfsslconf.FormatDuration(p.Expiry))
	}
	byCA := false
	if end.After(is.Cert.NotAfter) {
		end, byCA = is.Cert.NotAfter, true
	}
	if end.After(now.Add(window)) {
		return "", nil
	}
	if byCA {
		return fmt.Sprintf("the issuing CA (%s) expires on %s, within the renewal window (%s): a renewed certificate would be due again at once; renew the CA, or renew with a shorter window",
			x509text.CommonNameOf(is.Cert), is.Cert.NotAfter.UTC().Format("2006-01-02"), cfsslconf.FormatDuration(window)), nil
	}
	return fmt.Sprintf("%s, no more than the renewal window (%s): a renewed certificate would be due again at once, and every run would renew it again; renew with a window shorter than that lifetime, or raise the profile's \"expiry\" in ca-config.json",
		grant, cfsslconf.FormatDuration(window)), nil
}
