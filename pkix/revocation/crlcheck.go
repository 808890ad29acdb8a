// The cross-check of a CRL against the inventory before it is signed:
// nothing the inventory says is revoked may be dropped, and a serial it
// does not know is refused when the request is strict, warned about
// otherwise.

package revocation

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// crlCheck is what checkCRL found.
type crlCheck struct {
	notes, warnings []string
	lifted          []inventory.Record
	compact         bool // the inventory has grown with appended changes
}

// checkCRL compares a new CRL with what it replaces and with the
// inventory. revokedNow are serials the same transaction revokes (a
// revoke --crl): the inventory will say so once it commits.
func (d *Ops) checkCRL(job *crlJob, crl *crl.CRL, label string, strict bool, allowList []string, revokedNow map[string]bool) (*crlCheck, error) {
	chk := &crlCheck{}
	allow := map[string]bool{}
	for _, s := range allowList {
		allow[s] = true
	}
	if crl.Count == 0 {
		chk.notes = append(chk.notes, label+" lists no serials: the CRL revokes nothing")
	}
	for i, dup := range crl.Duplicates {
		if i == 10 {
			chk.notes = append(chk.notes, fmt.Sprintf("%s: %d more repeated serials listed once", label, len(crl.Duplicates)-10))
			break
		}
		chk.notes = append(chk.notes, fmt.Sprintf("%s:%d: serial %s repeats line %d; listed once", label, dup.Line, x509text.SerialHex(dup.Serial), dup.FirstLine))
	}
	dropped := map[string]string{} // serial -> where it was revoked
	droppedReason := job.dropped   // serial -> its reason in the CRL in force
	for s := range job.dropped {
		dropped[s] = filepath.Base(job.outShown)
	}

	// An inventory that cannot be read stops the build: it is the record
	// of what was revoked, and without it an empty serials file would
	// un-revoke every device.
	inv, err := d.scanForCRL(job.issuerName())
	if err != nil {
		return nil, dirtx.WithHint(err, "the inventory cannot be checked against the CRL")
	}
	chk.compact = inv.lines-len(inv.serials) >= dirtx.CompactMinLines && (inv.lines-len(inv.serials))*dirtx.CompactShare >= inv.lines
	known := 0
	var unmarked []string
	var holds = map[string]*inventory.Record{}
	for serial, st := range inv.serials {
		raw, err := hex.DecodeString(evenHex(serial))
		if err != nil {
			continue
		}
		listed := crl.Contains(raw)
		if listed {
			known++
		}
		revoked := st.status == inventory.StatusRevoked || revokedNow[serial]
		switch {
		case st.ours && revoked && !listed:
			dropped[serial] = "the inventory"
		case st.ours && listed && !revoked:
			unmarked = append(unmarked, serial)
		}
		if st.ours && revoked && allow[serial] {
			holds[serial] = nil
		}
	}
	for serial := range revokedNow {
		if _, ok := inv.serials[serial]; !ok {
			raw, _ := hex.DecodeString(evenHex(serial))
			if !crl.Contains(raw) {
				dropped[serial] = "this revocation"
			}
		}
	}
	if err := d.refuseUnrevoke(job, label, dropped, droppedReason, allow, holds, chk); err != nil {
		return nil, err
	}
	if len(unmarked) > 0 {
		sort.Strings(unmarked)
		// Revoked the guide's way (serials.txt edited by hand): the CRL is
		// right, but list and check still count these as valid.
		chk.notes = append(chk.notes, pkix.Textf("%s: %d serial%s the inventory still lists as not revoked (e.g. %s): record with '%s'",
			label, len(unmarked), dirtx.Plural(len(unmarked)), unmarked[0], pkix.Cmd(pkix.ActRevokeClient, pkix.OptSerial.With("HEX"))).String())
	}
	if unknown := crl.Count - known; unknown > 0 && len(inv.serials) > 0 {
		var shown []string
		crl.EachRawSerial(func(s []byte) bool {
			if h := hexUpper(s); !inv.has(h) {
				shown = append(shown, h)
			}
			return len(shown) < 10
		})
		msg := fmt.Sprintf("%s: %d serial%s not in %s: %s", label, unknown, dirtx.Plural(unknown), d.Inventory(), strings.Join(shown, ", "))
		if unknown > len(shown) {
			msg += fmt.Sprintf(" and %d more", unknown-len(shown))
		}
		if strict {
			return nil, &pkix.Error{Msg: msg, Hint: "check for typos; drop %s to revoke serials mtlsctl did not issue", HintArgs: []any{pkix.OptStrict}}
		}
		chk.warnings = append(chk.warnings, msg+" (a typo, or a certificate mtlsctl did not issue?)")
	}
	return chk, nil
}

// refuseUnrevoke: a serial once revoked stays revoked, unless the user
// names it to be lifted, which RFC 5280 allows only for certificateHold.
func (d *Ops) refuseUnrevoke(job *crlJob, label string, dropped map[string]string, reasons map[string]crl.RevocationReason, allow map[string]bool, holds map[string]*inventory.Record, chk *crlCheck) error {
	var refused []string
	for serial, where := range dropped {
		if !allow[serial] {
			refused = append(refused, serial+" (revoked in "+where+")")
		}
	}
	if len(refused) > 0 {
		sort.Strings(refused)
		shown := refused[:min(len(refused), 10)]
		msg := fmt.Sprintf("the new CRL from %s would un-revoke %d serial%s: %s", label, len(refused), dirtx.Plural(len(refused)), strings.Join(shown, ", "))
		if len(refused) > len(shown) {
			msg += fmt.Sprintf(" and %d more", len(refused)-len(shown))
		}
		return &pkix.Error{Msg: msg, Err: ErrUnrevoke,
			Hint: "a revocation is final: add them back to %s; only a certificateHold may be lifted, by naming each serial with %s", HintArgs: []any{label, pkix.OptAllowUnrevoke}}
	}
	// A serial the inventory does not know (revoked with --foreign, or by
	// hand): the CRL in force says why it was revoked.
	for serial := range allow {
		if _, isDropped := dropped[serial]; !isDropped {
			continue
		}
		if _, recorded := holds[serial]; recorded {
			continue
		}
		if reason, listed := reasons[serial]; listed && reason != crl.ReasonCertificateHold {
			return &pkix.Error{Msg: fmt.Sprintf("serial %s was revoked for %s (in %s): only a certificateHold can be lifted (RFC 5280 §3.3)", serial, reasonName(reason), filepath.Base(job.outShown)),
				Err: ErrUnrevoke, Hint: "keep it in " + label}
		}
		chk.notes = append(chk.notes, fmt.Sprintf("lifted the certificateHold of %s", serial))
	}
	for serial := range holds {
		if _, isDropped := dropped[serial]; !isDropped {
			continue
		}
		r, err := d.FindSerial(serial)
		if err != nil {
			return err
		}
		if r == nil || r.Issuer != job.issuerName() {
			continue
		}
		if r.Reason != "certificateHold" {
			reason := r.Reason
			if reason == "" {
				reason = "an unspecified reason"
			}
			return &pkix.Error{Msg: fmt.Sprintf("serial %s (CN=%s) was revoked for %s: only a certificateHold can be lifted (RFC 5280 §3.3)", serial, r.CN, reason),
				Err: ErrUnrevoke, Hint: "keep it in " + label + "; issue the device a new certificate instead"}
		}
		r.Status, r.RevokedAt, r.Reason = inventory.StatusValid, time.Time{}, ""
		chk.lifted = append(chk.lifted, *r)
		chk.notes = append(chk.notes, fmt.Sprintf("lifted the certificateHold of %s (CN=%s): valid again", serial, r.CN))
	}
	for serial := range allow {
		if _, ok := dropped[serial]; !ok {
			chk.notes = append(chk.notes, pkix.Textf("%s: the CRL drops no such serial; nothing lifted", pkix.OptAllowUnrevoke.With(serial)).String())
		}
	}
	return nil
}

func reasonName(r crl.RevocationReason) string {
	if r == 0 {
		return "an unspecified reason"
	}
	return r.String()
}

// ErrUnrevoke marks a CRL refused because it would drop a revocation.
var ErrUnrevoke = errors.New("would un-revoke")

// crlInventory is the inventory as a CRL check needs it: each serial's
// latest status, and whether the CA being built issued it.
type crlInventory struct {
	serials map[string]invState
	lines   int
}

type invState struct {
	status inventory.RecordStatus
	ours   bool
}

func (c *crlInventory) has(serial string) bool { _, ok := c.serials[serial]; return ok }

// scanForCRL reads the inventory without building a record per line.
func (d *Ops) scanForCRL(issuer string) (*crlInventory, error) {
	inv := &crlInventory{serials: map[string]invState{}}
	keys, err := d.RetiredIssuers()
	if err != nil {
		return nil, err
	}
	data, err := d.InventoryData()
	if err != nil || data == nil {
		return inv, err
	}
	err = inventory.ScanInventory(d.Inventory(), data, func(l inventory.InventoryLine) {
		inv.lines++
		inv.serials[string(l.Serial)] = invState{status: inventory.RecordStatus(l.Status), ours: keys.Issuer(string(l.Issuer), string(l.Serial)) == issuer && string(l.Kind) != string(inventory.KindRoot)}
	})
	return inv, err
}

func hexUpper(b []byte) string {
	if len(b) == 0 {
		return "00"
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

func evenHex(s string) string {
	if len(s)%2 == 1 {
		return "0" + s
	}
	return s
}
