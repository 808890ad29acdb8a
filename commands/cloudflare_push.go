package commands

import (
	"fmt"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare"
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

KV is eventually consistent: a write is visible at once where it was made
and within about 60 seconds everywhere else, and the Worker caches the
metadata for 30 seconds. Count on a revocation holding at every edge
about 90 seconds after push returns. Writing the metadata last narrows
the window in which a reader sees new metadata with old entries, but it
orders nothing for readers elsewhere.

Token permission: "Workers KV Storage Write" (account); needs
CLOUDFLARE_ACCOUNT_ID.

EXAMPLES:
   mtlsctl crl build --dir pki && mtlsctl cloudflare push --dir pki --kv-namespace-id 0f2a...
   mtlsctl cloudflare push --dir pki --dry-run

` + cloudflareHelp + exitCodeHelp,
		Flags: append(append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "kv-namespace-id", EnvVars: []string{"MTLSCTL_KV_NAMESPACE_ID"}, Usage: "the Workers KV namespace `ID` the Worker is bound to"},
		}, externalCRLFlags()...), cloudflareFlags(true)...),
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
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
	res, err := cl.Push(c.Context, cloudflare.PushRequest{
		NamespaceID: ns,
		Prefix:      worker.Prefix,
		Meta:        cloudflare.KVPair{Key: meta.Key, Value: meta.Value, Digest: digest},
		Each: func(fn func(cloudflare.KVPair) error) error {
			return worker.EachKV(set, func(p worker.Pair) error { return fn(cloudflare.KVPair{Key: p.Key, Value: p.Value}) })
		},
	})
	if res != nil {
		if c.Bool("json") {
			if jerr := u.printJSON(struct {
				Command   string `json:"command"`
				DryRun    bool   `json:"dry_run"`
				Namespace string `json:"namespace_id"`
				Revoked   int    `json:"revoked_certificates"`
				*cloudflare.PushResult
			}{"cloudflare push", cl.DryRun(), ns, set.Count, res}); jerr != nil && err == nil {
				err = jerr
			}
		} else if err == nil {
			switch {
			case res.Status == "unchanged":
				fmt.Fprintf(u.out, "unchanged: namespace %s already holds the data (%d revoked certificate%s, %d CRL%s); nothing written\n",
					ns, set.Count, plural(set.Count), len(set.CRLs), plural(len(set.CRLs)))
			case cl.DryRun():
				fmt.Fprintf(u.out, "would push to namespace %s: %d key%s written, %d deleted, %d unchanged (dry run: nothing was sent)\n",
					ns, res.Written, plural(res.Written), res.Deleted, res.Unchanged)
			default:
				fmt.Fprintf(u.out, "pushed to namespace %s: %d key%s written, %d deleted, %d unchanged, in %d write request%s\n",
					ns, res.Written, plural(res.Written), res.Deleted, res.Unchanged, res.Requests, plural(res.Requests))
				fmt.Fprintf(u.out, "  revocations hold at every edge within about 90 s (KV propagation and the Worker's metadata cache)\n")
			}
		}
	}
	return apiFailure(err)
}
