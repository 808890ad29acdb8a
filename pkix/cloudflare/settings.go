package cloudflare

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/mtlsctl/mtlsctl/pkix"
)

// HostnameSetting is one hostname's mTLS settings.
type HostnameSetting struct {
	Hostname     string `json:"hostname"`
	ChinaNetwork bool   `json:"china_network"`
	Forwarding   bool   `json:"client_certificate_forwarding"`
}

// Settings reads every hostname's settings.
func (c *Client) Settings(ctx context.Context) ([]HostnameSetting, error) {
	account, zone, err := c.scope()
	if err != nil {
		return nil, err
	}
	out := []HostnameSetting{}
	for page := 1; ; page++ {
		p := zero_trust.AccessCertificateSettingGetParams{}
		setScope(&p.AccountID, &p.ZoneID, account, zone)
		var opts []option.RequestOption
		if page > 1 {
			opts = append(opts, option.WithQuery("page", fmt.Sprint(page)))
		}
		res, err := c.certs.Settings.Get(ctx, p, opts...)
		if err != nil {
			return nil, c.wrap(http.MethodGet, c.certPath("/settings"), err)
		}
		fresh := 0
		for _, s := range res.Result {
			if slices.ContainsFunc(out, func(o HostnameSetting) bool { return o.Hostname == s.Hostname }) {
				continue
			}
			fresh++
			out = append(out, HostnameSetting{Hostname: s.Hostname, ChinaNetwork: s.ChinaNetwork, Forwarding: s.ClientCertificateForwarding})
		}
		// The settings are written back whole: every one must be read.
		// The list is one page unless result_info counts more.
		info := pageInfo(res.JSON.RawJSON())
		if info.TotalCount <= int64(len(out)) {
			return out, nil
		}
		if fresh == 0 || page >= maxPages {
			return nil, &APIError{Method: http.MethodGet, Path: c.certPath("/settings"), Status: http.StatusOK,
				Message: fmt.Sprintf("the API counts %d hostname settings but lists %d", info.TotalCount, len(out)),
				Hint:    pkix.Words("nothing was written: the whole list is written back, so a partial one would drop the others' settings")}
		}
	}
}

// ForwardingChange is what to set for one hostname; nil leaves a setting
// as it is.
type ForwardingChange struct {
	Hostname     string
	Forwarding   *bool
	ChinaNetwork *bool
}

// ForwardingResult is the hostname's settings before and after.
type ForwardingResult struct {
	Status  string           `json:"status"` // changed, unchanged
	Before  *HostnameSetting `json:"before"`
	After   HostnameSetting  `json:"after"`
	Applied []string         `json:"applied"`
}

// SetForwarding changes one hostname's settings. The API replaces the
// whole list at once, so the list is read, that one entry changed and the
// whole list written back: every other hostname keeps its settings. The
// API has no conditional write: two runs at once can lose one's change.
func (c *Client) SetForwarding(ctx context.Context, ch ForwardingChange) (*ForwardingResult, error) {
	account, zone, err := c.scope()
	if err != nil {
		return nil, err
	}
	all, err := c.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	var associated []string
	for _, ct := range all {
		associated = union(associated, ct.Hostnames)
	}
	if !containsHost(associated, ch.Hostname) {
		sort.Strings(associated)
		hint := pkix.Textf("no hostname is associated with an uploaded certificate yet: '%s'", pkix.Cmd(pkix.ActUploadCA, pkix.OptHostname.With(ch.Hostname)))
		if len(associated) > 0 {
			hint = pkix.Textf("associated hostnames: %s; add one with '%s'", strings.Join(associated, ", "), pkix.Cmd(pkix.ActUploadCA, pkix.OptHostname.With("…")))
		}
		return nil, &pkix.Error{Msg: fmt.Sprintf("%s is not associated with any uploaded Access certificate", ch.Hostname), Hint: hint.Format, HintArgs: hint.Args}
	}
	current, err := c.Settings(ctx)
	if err != nil {
		return nil, err
	}
	res := &ForwardingResult{Applied: []string{}}
	next := make([]HostnameSetting, 0, len(current)+1)
	found := false
	for _, s := range current {
		if strings.EqualFold(strings.TrimSuffix(s.Hostname, "."), strings.TrimSuffix(ch.Hostname, ".")) && !found {
			found = true
			before := s
			res.Before = &before
			s = apply1(s, ch)
			res.After = s
		}
		next = append(next, s)
	}
	if !found {
		res.After = apply1(HostnameSetting{Hostname: ch.Hostname}, ch)
		next = append(next, res.After)
	}
	if res.Before != nil && *res.Before == res.After {
		res.Status = "unchanged"
		return res, nil
	}
	res.Status = "changed"
	body := make([]zero_trust.CertificateSettingsParam, 0, len(next))
	for _, s := range next {
		body = append(body, zero_trust.CertificateSettingsParam{Hostname: cf.F(s.Hostname), ChinaNetwork: cf.F(s.ChinaNetwork), ClientCertificateForwarding: cf.F(s.Forwarding)})
	}
	done, err := c.apply(ctx, []Step{{
		What: fmt.Sprintf("set %s: client_certificate_forwarding %t, china_network %t (%d hostname%s written back)", res.After.Hostname, res.After.Forwarding, res.After.ChinaNetwork, len(next), map[bool]string{true: "", false: "s"}[len(next) == 1]),
		Do: func(ctx context.Context) error {
			p := zero_trust.AccessCertificateSettingUpdateParams{Settings: cf.F(body)}
			setScope(&p.AccountID, &p.ZoneID, account, zone)
			_, err := c.certs.Settings.Update(ctx, p)
			return c.wrap(http.MethodPut, c.certPath("/settings"), err)
		},
	}})
	res.Applied = append(res.Applied, done...)
	return res, err
}

func apply1(s HostnameSetting, ch ForwardingChange) HostnameSetting {
	if ch.Forwarding != nil {
		s.Forwarding = *ch.Forwarding
	}
	if ch.ChinaNetwork != nil {
		s.ChinaNetwork = *ch.ChinaNetwork
	}
	return s
}
