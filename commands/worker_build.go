package commands

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/worker"
	"github.com/urfave/cli/v2"
)

func workerCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:        "worker",
		Usage:       "enforce revocation at Cloudflare's edge with a Worker (Access reads no CRL)",
		Subcommands: []*cli.Command{workerBuildCommand(u)},
		Action:      groupAction,
	}
}

func workerBuildCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "build",
		Usage: "build the revocation Worker from the directory's CRLs: DIR/worker/",
		Description: `Builds a Cloudflare Worker that refuses the certificates the directory's
CRLs revoke, keyed as Cloudflare sends a client certificate (certIssuerSKI
and certSerial), and everything issued under a revoked CA. It goes in front
of the Access-protected origin; valid certificates go on unchanged.

The CRLs are read and checked as 'mtlsctl crl export' does (verified, not
past their next update, not behind the inventory, complete). Writes
DIR/worker/worker.js (an ES module without dependencies, with a header
saying which CRLs it was built from), wrangler.toml and, with --store kv
(default), revoked.kv.json for 'wrangler kv bulk put --remote' (without
--remote, Wrangler 4 writes to local storage only). --store inline
compiles the list into the script instead (small fleets, no KV).

A wrangler.toml already in the output directory keeps its settings: a
rebuild without --hostname and --kv-namespace-id rewrites the data and
leaves the file as it is (routes, namespace id, a corrected zone_name,
anything added by hand). Flags that would change what it holds are
refused (exit 2, nothing written) unless --force. --store, --grace and
--fail-open, when not given, are those the Worker found was built with.

Stale data fails closed: once a CRL's next update has passed by more than
--grace, the Worker refuses every request; --fail-open lets them through
(the stale list still refuses what it lists) and logs instead.

EXAMPLES:
   mtlsctl worker build --dir pki --hostname auth.example.com --kv-namespace-id 0f2a...
   npx wrangler kv bulk put --remote --binding REVOKED pki/worker/revoked.kv.json --config pki/worker/wrangler.toml
   npx wrangler deploy --config pki/worker/wrangler.toml`,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "store", Value: "kv", Usage: "kv (one key per revoked certificate) or inline (the list in the script)"},
			graceFlag(""),
			failOpenFlag(""),
			kvNamespaceFlag(),
			workerHostnameFlag("", ""),
			&cli.StringFlag{Name: "out", Usage: "output `DIR` (default DIR/worker)"},
			&cli.BoolFlag{Name: "force", Usage: "rewrite a wrangler.toml whose routes or namespace id differ from --hostname/--kv-namespace-id (its hand edits are lost)"},
			jsonFlag(),
		}, externalCRLFlags()...),
		Action: func(c *cli.Context) error {
			return runWorkerBuild(u, c)
		},
	}
}

func runWorkerBuild(u *ui, c *cli.Context) error {
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	grace, err := parseDuration("grace", c.String("grace"))
	if err != nil {
		return err
	}
	store := c.String("store")
	if store != "kv" && store != "inline" {
		return usageErrorf("--store %q: use kv or inline", store)
	}
	if err := checkHostnameFlags(c); err != nil {
		return err
	}
	now := time.Now()
	external, err := externalCRLs(c)
	if err != nil {
		return err
	}
	set, err := d.Revocations(now, external...)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		out = d.File(dirview.WorkerDirName)
	}
	deployed, err := worker.ReadDeployed(out)
	if err != nil {
		return err
	}
	opts, kept := worker.KeepScriptSettings(deployed, worker.Options{Store: store, Grace: grace, FailOpen: c.Bool("fail-open"),
		KVNamespaceID: c.String("kv-namespace-id"), Hostnames: c.StringSlice("hostname"),
		Deployed: deployed, Force: c.Bool("force")},
		worker.Given{Store: c.IsSet("store"), Grace: c.IsSet("grace"), FailOpen: c.IsSet("fail-open")})
	store = opts.Store
	files, err := worker.Build(set, opts, now)
	if err != nil {
		return err
	}
	written, err := d.Publish(c.Context, "worker build", files.Outputs(out))
	if err != nil {
		return err
	}
	res := newResult("worker build")
	res.addWritten(written, nil)
	if len(kept) > 0 {
		res.Notes = append(res.Notes, "kept from the Worker found: "+strings.Join(kept, ", ")+" (give --store/--grace/--fail-open to change them)")
	}
	if files.Wrangler == nil {
		res.Notes = append(res.Notes, "wrangler.toml kept as it was (its routes, namespace id and edits): only the data was rebuilt")
	}
	if files.PlaceholderID {
		res.Notes = append(res.Notes, "wrangler.toml has a placeholder namespace id: pass --kv-namespace-id (or MTLSCTL_KV_NAMESPACE_ID), or edit it")
	}
	if files.Routes == 0 {
		res.Warnings = append(res.Warnings, "no --hostname: the Worker has no route and will not run in front of Access")
	}
	if err := u.report(res, c.Bool("json")); err != nil {
		return err
	}
	if !c.Bool("json") {
		fmt.Fprintf(u.out, "  %d revoked certificate%s, %d revoked CA%s, from %d CRL%s\n", files.Count, plural(files.Count),
			len(set.RevokedCAs), plural(len(set.RevokedCAs)), len(set.CRLs), plural(len(set.CRLs)))
		printWorkerNextSteps(u, out, store)
	}
	return nil
}

// printWorkerNextSteps prints the commands that put the Worker in place.
// --remote matters: since Wrangler 4, kv commands write to local storage
// by default, the upload "succeeds" and the deployed Worker finds no data.
func printWorkerNextSteps(u *ui, out, store string) {
	toml := nextStepWord(filepath.Join(out, worker.WranglerName))
	fmt.Fprintln(u.out, "next:")
	if store == "kv" {
		fmt.Fprintf(u.out, "  npx wrangler kv bulk put --remote --binding %s %s --config %s\n", worker.Binding, nextStepWord(filepath.Join(out, "revoked.kv.json")), toml)
	}
	fmt.Fprintf(u.out, "  npx wrangler deploy --config %s\n", toml)
}

// nextStepWord quotes s for a POSIX shell when it needs it.
func nextStepWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
