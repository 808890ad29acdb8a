package cloudflare

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// UploadRequest is a CA bundle for Access, already validated as `ca
// validate` does, in upload order (intermediate first, root last).
type UploadRequest struct {
	Chain []*x509.Certificate
	// Name is the certificate's name in Access; "" keeps the name of a
	// certificate already uploaded, or takes the first certificate's CN.
	Name string
	// Hostnames are the associated hostnames, the whole list; nil keeps
	// those of a certificate already uploaded.
	Hostnames []string
	// Replace is the ID or name of the certificate this one rotates out:
	// the new one gets its hostnames too, and it keeps them.
	Replace string
	// NoCreate refuses to add a CA the account does not hold yet: a CI
	// job that keeps an uploaded CA's hostnames right must never add trust
	// in another CA because the file changed under it.
	NoCreate bool
}

// UploadResult says what upload did (or, under --dry-run, would do).
type UploadResult struct {
	Status      string       `json:"status"` // created, updated, unchanged
	Certificate Certificate  `json:"certificate"`
	Replacing   *Certificate `json:"replacing,omitempty"`
	Applied     []string     `json:"applied"`
	Notes       []string     `json:"notes"`
}

// Upload makes the account hold the bundle, idempotently: a certificate
// with the same MD5 fingerprint as one of the bundle's is updated (name,
// hostnames) or left alone; otherwise the bundle is created.
func (c *Client) Upload(ctx context.Context, req UploadRequest) (*UploadResult, error) {
	if len(req.Chain) == 0 {
		return nil, &pkix.Error{Msg: "nothing to upload"}
	}
	all, err := c.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	res := &UploadResult{Applied: []string{}, Notes: []string{}}
	var existing *Certificate
	for i := range all {
		if all[i].Matches(req.Chain) {
			if existing != nil {
				res.Notes = append(res.Notes, fmt.Sprintf("certificate %s is the same CA too: only %s is changed", x509text.Printable(all[i].ID), x509text.Printable(existing.ID)))
				continue
			}
			existing = &all[i]
		}
	}
	if existing == nil && req.NoCreate {
		return nil, &pkix.Error{Msg: pkix.Textf("no Access certificate in the account has this CA's fingerprint (MD5 %s), and %s forbids adding it", FingerprintMD5(req.Chain[0]), pkix.OptNoCreate).String(),
			Hint: "a changed CA file is a rotation: do it on purpose, without %s (and with %s to keep clients of the old CA working)", HintArgs: []any{pkix.OptNoCreate, pkix.OptReplace.With("OLD")}}
	}
	// The API does not say which certificate of an uploaded chain its
	// fingerprint is of; a match on a later one (the root) may be that
	// certificate uploaded alone, without the rest of this chain.
	first := FingerprintMD5(req.Chain[0])
	isFirst := func(ct *Certificate) bool { return NormalizeFingerprint(ct.Fingerprint) == first }
	var old *Certificate
	if req.Replace != "" {
		o, err := Find(all, req.Replace)
		if err != nil {
			return nil, err
		}
		if isFirst(&o) {
			return nil, &pkix.Error{Msg: pkix.Textf("%s names the CA being uploaded (certificate %s has its fingerprint)", pkix.OptReplace.With(x509text.Printable(req.Replace)), x509text.Printable(o.ID)).String(),
				Hint: "%s takes the old CA's ID or name", HintArgs: []any{pkix.OptReplace}}
		}
		old = &o
		res.Replacing = old
		if existing != nil && existing.ID == o.ID {
			existing = nil // a part of this chain, replaced by the whole
		}
	}
	if existing != nil && !isFirst(existing) && len(req.Chain) > 1 {
		res.Notes = append(res.Notes, pkix.Textf("certificate %s matches a later certificate of this bundle, not its first: if it was uploaded alone, Access lacks the rest of the chain; upload the chain with %s", x509text.Printable(existing.ID), pkix.OptReplace.With(x509text.Printable(existing.ID))).String())
	}

	hosts := req.Hostnames
	if hosts == nil {
		hosts = []string{}
		if existing != nil {
			hosts = existing.Hostnames
		}
	}
	if old != nil {
		hosts = union(hosts, old.Hostnames)
	}
	name := req.Name
	if name == "" && existing != nil {
		name = existing.Name
	}
	if name == "" {
		name = req.Chain[0].Subject.CommonName
	}
	if name == "" {
		name = "mtlsctl CA " + FingerprintMD5(req.Chain[0])[:8]
	}
	for _, ct := range all {
		if (existing != nil && ct.ID == existing.ID) || (old != nil && ct.ID == old.ID) {
			continue
		}
		for _, h := range ct.Hostnames {
			if containsHost(hosts, h) {
				res.Notes = append(res.Notes, fmt.Sprintf("%s is also associated with certificate %s (%s): Access trusts both CAs there", x509text.Printable(h), x509text.Printable(ct.ID), x509text.Printable(ct.Name)))
			}
		}
	}

	account, zone, _ := c.scope()
	var steps []Step
	switch {
	case existing != nil && existing.Name == name && sameHostnames(existing.Hostnames, hosts):
		res.Status, res.Certificate = "unchanged", *existing
	case existing != nil:
		res.Status = "updated"
		res.Certificate = *existing
		res.Certificate.Name, res.Certificate.Hostnames = name, hosts
		steps = append(steps, Step{What: fmt.Sprintf("update certificate %s (name %s, hostnames %s)", x509text.Printable(existing.ID), quoted(name), hostList(hosts)), Do: func(ctx context.Context) error {
			p := zero_trust.AccessCertificateUpdateParams{AssociatedHostnames: cf.F(hosts), Name: cf.F(name)}
			setScope(&p.AccountID, &p.ZoneID, account, zone)
			got, err := c.certs.Update(ctx, pathID(existing.ID), p)
			if err != nil {
				return c.replaceHint(old, c.wrap(http.MethodPut, c.certPath("/"+existing.ID), err))
			}
			if !c.cfg.DryRun {
				res.Certificate = fromSDK(*got)
			}
			return nil
		}})
	default:
		res.Status = "created"
		res.Certificate = Certificate{Name: name, Fingerprint: FingerprintMD5(req.Chain[0]), Hostnames: hosts, ExpiresOn: req.Chain[0].NotAfter}
		steps = append(steps, Step{What: fmt.Sprintf("create certificate %s (hostnames %s)", quoted(name), hostList(hosts)), Do: func(ctx context.Context) error {
			p := zero_trust.AccessCertificateNewParams{Certificate: cf.F(string(access.OrderedPEM(req.Chain))), Name: cf.F(name), AssociatedHostnames: cf.F(hosts)}
			setScope(&p.AccountID, &p.ZoneID, account, zone)
			got, err := c.certs.New(ctx, p)
			if err != nil {
				err = c.wrap(http.MethodPost, c.certPath(""), err)
				// A create that failed on Cloudflare's side may have
				// happened: look before anyone tries it again.
				var ae *APIError
				if errors.As(err, &ae) && (ae.Status >= 500 || ae.Status == 0) {
					if again, lerr := c.Certificates(ctx); lerr == nil {
						for _, ct := range again {
							if ct.Matches(req.Chain) {
								res.Certificate = ct
								res.Notes = append(res.Notes, "the create call failed ("+ae.Error()+") but the certificate is there: nothing more to do")
								return nil
							}
						}
					}
				}
				return c.replaceHint(old, err)
			}
			if !c.cfg.DryRun {
				res.Certificate = fromSDK(*got)
			}
			return nil
		}})
	}
	done, err := c.apply(ctx, steps)
	res.Applied = append(res.Applied, done...)
	if err != nil {
		return res, err
	}
	if old != nil {
		res.Notes = append(res.Notes, pkix.Textf("both CAs are trusted on %s until the old one goes: when every client has a certificate from the new CA, run '%s'", hostList(old.Hostnames), pkix.Cmd(pkix.ActDeleteCA, x509text.Printable(old.ID), pkix.OptForce)).String())
	}
	return res, nil
}

// replaceHint explains a refused write during a rotation: the overlap
// itself (one hostname on two certificates) may be what Access refused.
func (c *Client) replaceHint(old *Certificate, err error) error {
	var ae *APIError
	if old == nil || !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 || ae.Status == 401 || ae.Status == 403 || ae.Status == 429 {
		return err
	}
	ae.Hint = pkix.Textf("if Access refuses one hostname on two certificates, nothing was changed: rotate without an overlap instead (upload the new CA without %s and %s, move clients to it, then '%s' and '%s'), or use a different hostname for the new CA",
		pkix.OptReplace, pkix.OptHostname, pkix.Cmd(pkix.ActDeleteCA, x509text.Printable(old.ID), pkix.OptForce), pkix.Cmd(pkix.ActUploadCA, pkix.OptHostname.With("…")))
	return err
}

func containsHost(hosts []string, h string) bool {
	for _, x := range normHosts(hosts) {
		if x == strings.ToLower(strings.TrimSuffix(h, ".")) {
			return true
		}
	}
	return false
}

// hostList is hostnames as a message shows them: they come from the API,
// so escaped (once: pkix.Printable leaves its own output as it is).
func hostList(h []string) string {
	if len(h) == 0 {
		return "none"
	}
	return x509text.Printable(strings.Join(h, ", "))
}

// quoted is a name from the API (or the user) in a message: in quotes,
// escaped once; %q over pkix.Printable would escape it twice.
func quoted(s string) string { return `"` + x509text.Printable(s) + `"` }
