package pkidir

import (
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// checkCNSpecials refuses a client CN holding a DN metacharacter unless
// the request allows them. A renewal keeps its CN whatever it holds: the
// CN of a valid client certificate the inventory records was accepted
// when it was issued, and refusing it now would strand that device.
func (d *Dir) checkCNSpecials(req *IssueRequest, j Job) error {
	if req.AllowDNSpecials || req.Kind != inventory.KindClient || j.Replaces != "" || !cfsslconf.HasCNSpecials(j.CN) {
		return nil
	}
	recorded, err := d.FindName(j.CN, func(r *inventory.Record) bool {
		return r.Kind == inventory.KindClient && r.CN == j.CN && r.Status == inventory.StatusValid
	})
	if err != nil {
		return err
	}
	if len(recorded) > 0 {
		return nil
	}
	e := cfsslconf.CheckCNSpecials(j.CN)
	if j.Device != nil {
		e.File = j.Device.File
	}
	return e
}
