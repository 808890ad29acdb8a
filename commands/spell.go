package commands

import (
	"fmt"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/access"
)

// pkix names the next step as a typed action or option (pkix/hint.go);
// these tables are where such a step becomes this CLI's verb or flag.
// spell_test.go checks that each verb exists and has each flag a hint
// gives it.

var actionVerbs = map[pkix.Action]string{
	pkix.ActMakeCA:           "ca init",
	pkix.ActMakeIntermediate: "ca intermediate",
	pkix.ActValidateCA:       "ca validate",
	pkix.ActCheck:            "check",
	pkix.ActListClients:      "client list",
	pkix.ActIssueClient:      "client issue",
	pkix.ActRequestClient:    "client request",
	pkix.ActSignRequest:      "client sign",
	pkix.ActRenewClient:      "client renew",
	pkix.ActRevokeClient:     "client revoke",
	pkix.ActBuildCRL:         "crl build",
	pkix.ActMakeSigner:       "signer init",
	pkix.ActRunSigner:        "signer serve",
	pkix.ActUploadCA:         "cloudflare upload",
	pkix.ActDeleteCA:         "cloudflare delete",
	pkix.ActMakeRunner:       "signer runner",
}

var optionFlags = map[pkix.Option]string{
	pkix.OptAll:                "all",
	pkix.OptPathLen:            "path-len",
	pkix.OptRunner:             "runner",
	pkix.OptAccountID:          "account-id",
	pkix.OptDeploy:             "deploy",
	pkix.OptHostname:           "hostname",
	pkix.OptKVNamespaceID:      "kv-namespace-id",
	pkix.OptNoCreate:           "no-create",
	pkix.OptReplace:            "replace",
	pkix.OptStore:              "store",
	pkix.OptTokenFile:          "token-file",
	pkix.OptZoneID:             "zone-id",
	pkix.OptAllowDNSpecials:    "allow-dn-specials",
	pkix.OptFixOrder:           "fix-order",
	pkix.OptHost:               "host",
	pkix.OptPasswordFile:       "password-file",
	pkix.OptProfile:            "profile",
	pkix.OptKeyType:            "key-type",
	pkix.OptAllWithKey:         "all-with-key",
	pkix.OptAllowUnrevoke:      "allow-unrevoke",
	pkix.OptCA:                 "ca",
	pkix.OptCAKey:              "ca-key",
	pkix.OptCert:               "cert",
	pkix.OptCN:                 "cn",
	pkix.OptCRL:                "crl",
	pkix.OptDB:                 "db",
	pkix.OptDecimal:            "decimal",
	pkix.OptDir:                "dir",
	pkix.OptForce:              "force",
	pkix.OptForeign:            "foreign",
	pkix.OptIssuer:             "issuer",
	pkix.OptName:               "name",
	pkix.OptOut:                "out",
	pkix.OptP12:                "p12",
	pkix.OptReason:             "reason",
	pkix.OptRequest:            "request",
	pkix.OptReuseKey:           "reuse-key",
	pkix.OptRevokeOld:          "revoke-old",
	pkix.OptSerial:             "serial",
	pkix.OptSigner:             "signer",
	pkix.OptStrict:             "strict",
	pkix.OptSubjectFromRequest: "subject-from-request",
	pkix.OptValid:              "valid",
}

// pkix spells the steps in its notes and warnings when it makes them.
func init() { pkix.SetSpeller(spell) }

// spell is the CLI's text for a step pkix names.
func spell(v any) string {
	switch v := v.(type) {
	case pkix.Action:
		return "mtlsctl " + verbOf(v)
	case pkix.Option:
		return flagOf(v)
	case pkix.Flag:
		return flagOf(v.Option) + " " + v.Value
	case pkix.Command:
		words := []string{"mtlsctl", verbOf(v.Action)}
		for _, a := range v.Args {
			switch a := a.(type) {
			case pkix.Option, pkix.Flag:
				words = append(words, spell(a))
			default:
				words = append(words, fmt.Sprint(a))
			}
		}
		return strings.Join(words, " ")
	}
	return fmt.Sprint(v)
}

func verbOf(a pkix.Action) string {
	if v, ok := actionVerbs[a]; ok {
		return v
	}
	panic(fmt.Sprintf("pkix action %d has no verb", a))
}

func flagOf(o pkix.Option) string {
	if f, ok := optionFlags[o]; ok {
		return "--" + f
	}
	panic(fmt.Sprintf("pkix option %d has no flag", o))
}

// render is t as printed: its steps spelled, and each command it names
// completed by the running command's context flags.
func (h *hintContext) render(t pkix.Text) string {
	return h.complete(t.Spell(spell))
}

// HintText makes a usage error's hint the same kind pkix's errors carry:
// the CLI's own hints name its flags directly.
func (e *usageError) HintText() pkix.Text { return pkix.Words(e.hintText) }

// spellReport spells the steps the checks' hints name, for the checklist
// and --json alike.
func spellReport(rep *access.UploadReport) {
	if rep == nil {
		return
	}
	spellChecks := func(checks []access.Check) {
		for i, ch := range checks {
			checks[i].Hint, checks[i].HintArgs = pkix.Textf(ch.Hint, ch.HintArgs...).Spell(spell), nil
		}
	}
	spellChecks(rep.Bundle)
	spellChecks(rep.Hostnames)
	for _, cc := range rep.Certificates {
		spellChecks(cc.Checks)
	}
}
