package pkidir

import "github.com/mtlsctl/mtlsctl/pkix"

// checkCNSpecials refuses a client CN holding a DN metacharacter unless
// the request allows them. A renewal keeps its CN whatever it holds: the
// CN of a valid client certificate the inventory records was accepted
// when it was issued, and refusing it now would strand that device.
func (d *Dir) checkCNSpecials(req *IssueRequest, j Job) error {
	if req.AllowDNSpecials || req.Kind != pkix.KindClient || j.Replaces != "" || !pkix.HasCNSpecials(j.CN) {
		return nil
	}
	recorded, err := d.FindName(j.CN, func(r *pkix.Record) bool {
		return r.Kind == pkix.KindClient && r.CN == j.CN && r.Status == pkix.StatusValid
	})
	if err != nil {
		return err
	}
	if len(recorded) > 0 {
		return nil
	}
	e := pkix.CheckCNSpecials(j.CN)
	if j.Device != nil {
		e.File = j.Device.File
	}
	return e
}
