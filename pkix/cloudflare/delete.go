package cloudflare

import (
	"context"
	"fmt"
	"net/http"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// DeleteResult says what delete did.
type DeleteResult struct {
	Certificate Certificate `json:"certificate"`
	Applied     []string    `json:"applied"`
}

// Delete removes the certificate named by ref (ID or name). While
// hostnames are associated with it, Access uses it: it is refused unless
// force, which clears them first (two writes; a failure between them
// leaves the certificate without hostnames, and says so).
func (c *Client) Delete(ctx context.Context, ref string, force bool) (*DeleteResult, error) {
	all, err := c.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	ct, err := Find(all, ref)
	if err != nil {
		return nil, err
	}
	if len(ct.Hostnames) > 0 && !force {
		return nil, &pkix.Error{Msg: fmt.Sprintf("certificate %s (%s) is associated with %s: clients under it would be refused there",
			x509text.Printable(ct.ID), x509text.Printable(ct.Name), hostList(ct.Hostnames)),
			Hint: "pass %s to clear its hostnames and delete it; to rotate, first '%s' with the new CA", HintArgs: []any{pkix.OptForce, pkix.Cmd(pkix.ActUploadCA, pkix.OptReplace.With(x509text.Printable(ct.ID)))}}
	}
	account, zone, _ := c.scope()
	var steps []Step
	if len(ct.Hostnames) > 0 {
		steps = append(steps, Step{What: fmt.Sprintf("clear the hostnames of certificate %s (%s)", x509text.Printable(ct.ID), hostList(ct.Hostnames)), Do: func(ctx context.Context) error {
			p := zero_trust.AccessCertificateUpdateParams{AssociatedHostnames: cf.F([]string{}), Name: cf.F(ct.Name)}
			setScope(&p.AccountID, &p.ZoneID, account, zone)
			_, err := c.certs.Update(ctx, pathID(ct.ID), p)
			return c.wrap(http.MethodPut, c.certPath("/"+ct.ID), err)
		}})
	}
	steps = append(steps, Step{What: fmt.Sprintf("delete certificate %s", x509text.Printable(ct.ID)), Do: func(ctx context.Context) error {
		p := zero_trust.AccessCertificateDeleteParams{}
		setScope(&p.AccountID, &p.ZoneID, account, zone)
		_, err := c.certs.Delete(ctx, pathID(ct.ID), p)
		return c.wrap(http.MethodDelete, c.certPath("/"+ct.ID), err)
	}})
	done, err := c.apply(ctx, steps)
	return &DeleteResult{Certificate: ct, Applied: append([]string{}, done...)}, err
}
