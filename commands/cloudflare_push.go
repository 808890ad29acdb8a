package commands

import (
	"fmt"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
	"github.com/mtlsctl/mtlsctl/pkix/worker"
	"github.com/urfave/cli/v2"
)

func cloudflarePushCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "push",
		Usage: "write the revocation Worker's data to Workers KV (only what changed)",
		Description: `Writes what 'mtlsctl worker build --store kv' puts in revoked.kv.json to a
Workers KV namespace through the API: the directory's CRLs are read and
checked as worker build reads them (verified, current, not behind the
inventory).

Only keys under mtlsctl's prefix ("mtlsctl:") are read, written or
deleted; other keys in the namespace are never touched. New and changed
entries are written in chunks of at most 10,000 (the API's limit per
request), keys the data no longer has (a lifted certificateHold) are
deleted, and the metadata key goes last. A rerun with nothing changed
makes no write: each key carries a digest of its value in its KV metadata.
The counts: keys (the data's, the metadata key included) = written +
unchanged; deleted are keys under the prefix the data no longer has.

KV is eventually consistent: a write is visible at once where it was made
and within about 60 seconds everywhere else, and the Worker caches the
metadata for 30 seconds. Count on a revocation holding at every edge
about 90 seconds after push returns. Writing the metadata last narrows
the window in which a reader sees new metadata with old entries, but it
orders nothing for readers elsewhere.

--deploy NAME then uploads the Worker (the script 'worker build --store kv'
writes) bound to the namespace, unless the account already runs the same
code and settings under NAME, and adds a route HOSTNAME/* for each
hostname that lacks one (in the zone of CLOUDFLARE_ZONE_ID or --zone-id).
The hostnames are --hostname, or those Access associates with this
directory's CA. A route that runs another Worker is refused before
anything is written. The data goes first: a new Worker never runs
without its data.

Token permissions: "Workers KV Storage Write" (account; needs
CLOUDFLARE_ACCOUNT_ID); with --deploy also "Workers Scripts Write" and
"Workers Routes Write" (zone), and "Access: Mutual TLS Certificates Read"
without --hostname.

EXAMPLES:
   mtlsctl crl build --dir pki && mtlsctl cloudflare push --dir pki --kv-namespace-id 0f2a...
   mtlsctl cloudflare push --dir pki --dry-run
   mtlsctl cloudflare push --dir pki --kv-namespace-id 0f2a... --deploy mtlsctl-revocation --zone-id 9a78...

` + cloudflareHelp,
		Flags: append(append([]cli.Flag{
			dirFlag(),
			kvNamespaceFlag(),
			&cli.StringFlag{Name: "deploy", Usage: "then upload the Worker as `NAME`, bound to the namespace, with a route per hostname"},
			workerHostnameFlag("--deploy", "those Access associates with this directory's CA"),
			graceFlag("--deploy"),
			failOpenFlag("--deploy"),
		}, externalCRLFlags()...), cloudflareFlags(true)...),
		Action: func(c *cli.Context) error {
			return runCloudflarePush(u, c)
		},
	}
}

func runCloudflarePush(u *ui, c *cli.Context) error {
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	ns := c.String("kv-namespace-id")
	if ns == "" {
		return usageErrorf("no KV namespace: pass --kv-namespace-id ID (or MTLSCTL_KV_NAMESPACE_ID)").
			hint("'npx wrangler kv namespace create REVOKED' makes one and prints its ID")
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
	meta, digest, err := worker.KVMeta(set, now)
	if err != nil {
		return err
	}
	var grace time.Duration
	if c.String("deploy") != "" {
		if err := cloudflare.CheckScriptName(c.String("deploy")); err != nil {
			return err
		}
		if grace, err = parseDuration("grace", c.String("grace")); err != nil {
			return err
		}
		if err := checkHostnameFlags(c); err != nil {
			return err
		}
	} else if c.IsSet("hostname") || c.IsSet("fail-open") {
		return usageErrorf("--hostname and --fail-open go with --deploy NAME").hint("mtlsctl cloudflare push --kv-namespace-id ID --deploy mtlsctl-revocation --hostname auth.example.com")
	}
	account := c.String("account-id")
	if account == "" {
		account = envOr("CLOUDFLARE_ACCOUNT_ID")
	}
	if account == "" {
		return usageErrorf("no account: set CLOUDFLARE_ACCOUNT_ID (or --account-id)").hint("Workers KV belongs to an account, not a zone")
	}
	cl, err := cloudflareClient(u, c, account, "")
	if err != nil {
		return err
	}
	var plan *cloudflare.DeployPlan
	if c.String("deploy") != "" {
		if plan, err = planDeploy(u, c, cl, set, ns, grace, now); err != nil {
			return err
		}
	}
	res, err := cl.Push(c.Context, cloudflare.PushRequest{
		NamespaceID: ns,
		Prefix:      worker.Prefix,
		Meta:        cloudflare.KVPair{Key: meta.Key, Value: meta.Value, Digest: digest},
		Each: func(fn func(cloudflare.KVPair) error) error {
			return worker.EachKV(set, func(p worker.Pair) error { return fn(cloudflare.KVPair{Key: p.Key, Value: p.Value}) })
		},
	})
	out := pushOutput{Command: "cloudflare push", DryRun: cl.DryRun(), Namespace: ns, Revoked: set.Count, PushResult: res}
	if err == nil && plan != nil {
		out.Worker, err = plan.Apply(c.Context)
		if err != nil && res.Status == "changed" {
			err = partlyDone{fmt.Errorf("the KV data was pushed (%d keys written, %d deleted); the Worker: %w", res.Written, res.Deleted, err)}
		}
	}
	return u.finishAPI(c, "cloudflare push", out, err, func() { u.printPush(out, set) })
}

type pushOutput struct {
	Command   string `json:"command"`
	DryRun    bool   `json:"dry_run"`
	Namespace string `json:"namespace_id"`
	Revoked   int    `json:"revoked_certificates"`
	*cloudflare.PushResult
	Worker *cloudflare.DeployResult `json:"worker,omitempty"`
}

func (u *ui) printPush(o pushOutput, set *revocation.RevocationSet) {
	res, ns := o.PushResult, o.Namespace
	switch {
	case res.Status == "unchanged":
		fmt.Fprintf(u.out, "unchanged: namespace %s already holds the data (%d revoked certificate%s, %d CRL%s); nothing written\n",
			ns, set.Count, plural(set.Count), len(set.CRLs), plural(len(set.CRLs)))
	case o.DryRun:
		fmt.Fprintf(u.out, "would push to namespace %s: %d key%s written, %d deleted, %d unchanged (dry run: nothing was sent)\n",
			ns, res.Written, plural(res.Written), res.Deleted, res.Unchanged)
	default:
		fmt.Fprintf(u.out, "pushed to namespace %s: %d key%s written, %d deleted, %d unchanged, in %d write request%s\n",
			ns, res.Written, plural(res.Written), res.Deleted, res.Unchanged, res.Requests, plural(res.Requests))
		fmt.Fprintf(u.out, "  revocations hold at every edge within about 90 s (KV propagation and the Worker's metadata cache)\n")
	}
	if w := o.Worker; w != nil {
		status := w.Script
		if o.DryRun && status == "uploaded" {
			status = "would be uploaded"
		}
		fmt.Fprintf(u.out, "Worker %s: %s; routes: %s\n", o.Worker.Name, status, orNone(w.Routes))
		u.printApplied(w.Applied, o.DryRun)
	}
}

// planDeploy works out the Worker's upload and routes from reads, so that
// a route another Worker runs is refused before the KV data is written.
func planDeploy(u *ui, c *cli.Context, cl *cloudflare.Client, set *revocation.RevocationSet, ns string, grace time.Duration, now time.Time) (*cloudflare.DeployPlan, error) {
	name := c.String("deploy")
	hosts := c.StringSlice("hostname")
	if len(hosts) == 0 {
		certs, err := cl.Certificates(c.Context)
		if err != nil {
			return nil, err
		}
		mine := directoryCAs(c)
		for _, ct := range certs {
			if ct.Matches(mine) {
				hosts = append(hosts, ct.Hostnames...)
			}
		}
	}
	if len(hosts) == 0 {
		u.warn("no hostname: the Worker %s gets no route and will not run in front of Access (give --hostname, or associate one with 'mtlsctl cloudflare upload --hostname')", name)
	}
	files, err := worker.Build(set, worker.Options{Store: "kv", Grace: grace, FailOpen: c.Bool("fail-open"), KVNamespaceID: ns, Hostnames: hosts, Name: name}, now)
	if err != nil {
		return nil, err
	}
	zone := c.String("zone-id")
	if zone == "" {
		zone = envOr("CLOUDFLARE_ZONE_ID")
	}
	return cl.PlanDeploy(c.Context, cloudflare.DeployRequest{
		Name: name, Module: files.Script, Digest: files.Digest(ns, worker.Binding, worker.CompatibilityDate),
		NamespaceID: ns, Binding: worker.Binding, CompatibilityDate: worker.CompatibilityDate, ZoneID: zone, Hostnames: hosts,
	})
}
