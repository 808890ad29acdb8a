package inventory

import (
	"crypto/x509"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"sort"
	"time"
)

// ExpiryItem is one thing that expires: a certificate or a CRL's next
// update.
type ExpiryItem struct {
	Kind    string    `json:"kind"` // root, intermediate, client, certificate, crl
	Name    string    `json:"name"`
	CN      string    `json:"cn,omitempty"`
	Serial  string    `json:"serial,omitempty"`
	Expires time.Time `json:"expires"`
	Left    string    `json:"left"`
	Days    int       `json:"days_left"`
	Level   string    `json:"level"` // ok, warn (inside --warn), urgent (14 days), expired
	Note    string    `json:"note,omitempty"`
	issuer  string
}

// ExpiryReport is the expiry gate's verdict, soonest first.
type ExpiryReport struct {
	Items    []ExpiryItem `json:"items"`
	Problems int          `json:"problems"`
	Warn     string       `json:"warn"`
	// CRLNotes are what the CRL reader found that is not a date: why the
	// CRL is not a complete list, or that it has no next update.
	CRLNotes []string `json:"crl_notes,omitempty"`
}

// ExpiryCollector gathers items and judges them against the warning window.
type ExpiryCollector struct {
	now     time.Time
	warn    time.Duration
	crlWarn time.Duration
	r       ExpiryReport
}

// NewExpiryCollector starts an empty report. CRLs get their own window:
// they are meant to live days, not months, so a 7-day CRL is healthy when
// certificates are judged 30 days ahead.
func NewExpiryCollector(now time.Time, warn, crlWarn time.Duration) *ExpiryCollector {
	return &ExpiryCollector{now: now, warn: warn, crlWarn: crlWarn, r: ExpiryReport{Items: []ExpiryItem{}, Warn: cfsslconf.FormatDuration(warn)}}
}

// AddRecord adds a certificate from the inventory.
func (e *ExpiryCollector) AddRecord(r Record) {
	e.add(ExpiryItem{Kind: string(r.Kind), Name: r.Name, CN: r.CN, Serial: r.Serial, Expires: r.NotAfter, issuer: r.Issuer})
}

// AddCertificate adds a certificate read from a file.
func (e *ExpiryCollector) AddCertificate(file string, c *x509.Certificate) {
	kind := "certificate"
	switch {
	case c.IsCA && chain.IsSelfSigned(c):
		kind = "root"
	case c.IsCA:
		kind = "intermediate"
	}
	e.add(ExpiryItem{Kind: kind, Name: file, CN: c.Subject.CommonName, Serial: x509text.SerialHex(c.SerialNumber), Expires: c.NotAfter})
}

// AddCRL adds a CRL's next update: after it, consumers reject the CRL.
func (e *ExpiryCollector) AddCRL(file string, next time.Time) {
	e.addWithin(ExpiryItem{Kind: "crl", Name: file, Expires: next, Note: "next update: rebuild the CRL before then"}, e.crlWarn)
}

func (e *ExpiryCollector) add(it ExpiryItem) { e.addWithin(it, e.warn) }

func (e *ExpiryCollector) addWithin(it ExpiryItem, warn time.Duration) {
	left := it.Expires.Sub(e.now)
	it.Expires = it.Expires.UTC()
	it.Days = int(left.Hours() / 24)
	switch {
	case left <= 0:
		it.Level, it.Left = "expired", "expired "+roughly(-left)+" ago"
	case it.Kind == "crl" && left <= warn:
		it.Level, it.Left = "urgent", roughly(left)
	case left <= access.SecondAlert && left <= warn:
		it.Level, it.Left = "urgent", roughly(left)
	case left <= warn:
		it.Level, it.Left = "warn", roughly(left)
	default:
		it.Level, it.Left = "ok", roughly(left)
	}
	if it.Level != "ok" {
		e.r.Problems++
	}
	e.r.Items = append(e.r.Items, it)
}

// Report finishes: leaves that outlive their issuer are noted (they stop
// verifying when the issuer expires), and items are sorted by time left.
func (e *ExpiryCollector) Report() ExpiryReport {
	byName := map[string]ExpiryItem{}
	for _, it := range e.r.Items {
		if it.Kind == "root" || it.Kind == "intermediate" {
			if prev, ok := byName[it.Name]; !ok || it.Expires.After(prev.Expires) {
				byName[it.Name] = it
			}
		}
	}
	for i, it := range e.r.Items {
		if iss, ok := byName[it.issuer]; ok && it.issuer != it.Name && it.Expires.After(iss.Expires) {
			e.r.Items[i].Note = fmt.Sprintf("outlives its issuer %s (until %s): it stops verifying then", iss.Name, iss.Expires.Format("2006-01-02"))
		}
	}
	sort.SliceStable(e.r.Items, func(a, b int) bool { return e.r.Items[a].Expires.Before(e.r.Items[b].Expires) })
	return e.r
}

// roughly is a time left as people say it: whole days, or hours under a day.
func roughly(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return fmt.Sprintf("%dh", int(d.Hours()))
}
