package commands

import (
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/urfave/cli/v2"
)

// lifetimeFlags are --expiry and --not-after: a certificate's lifetime
// instead of its profile's, within what the profile and the issuer grant.
func lifetimeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "expiry", Usage: "the certificate's lifetime, `DURATION` from now (90d, 2160h); at most the profile's expiry, and never past the issuing CA"},
		&cli.StringFlag{Name: "not-after", Usage: "the certificate's end, a `TIME` in RFC 3339 (2027-06-30T12:00:00Z) or a date (2027-06-30, 00:00 UTC); the same bounds as --expiry"},
	}
}

// parseLifetime reads --expiry or --not-after (one at most).
func parseLifetime(c *cli.Context) (ca.Lifetime, error) {
	var l ca.Lifetime
	if c.IsSet("expiry") && c.IsSet("not-after") {
		return l, usageErrorf("--expiry and --not-after both set the certificate's end").hint("give one of them")
	}
	if c.IsSet("expiry") {
		d, err := parseDuration("expiry", c.String("expiry"))
		if err != nil {
			return l, err
		}
		if d <= 0 {
			return l, usageErrorf("--expiry %s is not a lifetime", c.String("expiry")).hint(`use days ("90d") or Go units ("2160h")`)
		}
		l.Expiry = d
	}
	if c.IsSet("not-after") {
		s := c.String("not-after")
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, s); err != nil {
				return l, usageErrorf("--not-after %q is not a time", s).hint("use RFC 3339 (2027-06-30T12:00:00Z) or a date (2027-06-30)")
			}
		}
		l.NotAfter = t
	}
	return l, nil
}
