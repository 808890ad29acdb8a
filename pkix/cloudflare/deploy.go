package cloudflare

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/workers"
	"github.com/mtlsctl/mtlsctl/pkix"
)

// scriptNameRE is the schema's workers_script_name.
var scriptNameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9-_]*$`)

// CheckScriptName refuses a Worker name the API would refuse, before
// anything is written.
func CheckScriptName(name string) error {
	if !scriptNameRE.MatchString(name) || len(name) > 63 {
		return &pkix.Error{Field: pkix.Textf("%s", pkix.OptDeploy).String(), Msg: fmt.Sprintf("%q is not a Worker name", name),
			Hint: "use lower-case letters, digits, - and _ (at most 63), e.g. mtlsctl-revocation"}
	}
	return nil
}

// DeployRequest is a module Worker bound to a KV namespace, and the
// routes that put it in front of hostnames.
type DeployRequest struct {
	Name              string // the script's name
	Module            []byte // the ES module, uploaded as worker.js
	Digest            string // identifies code and configuration: equal digests, no upload
	NamespaceID       string
	Binding           string // the KV binding's variable name
	CompatibilityDate string
	ZoneID            string   // routes live in a zone; "" makes none
	Hostnames         []string // a route HOSTNAME/* each
}

// DeployResult says what deploy did (or would do).
type DeployResult struct {
	Name    string   `json:"name"`
	Script  string   `json:"script"` // uploaded, unchanged
	Routes  []string `json:"routes"` // patterns now running the script
	Applied []string `json:"applied"`
}

// digestTag marks an uploaded script with its digest: the script's tags
// (in the list, or else in its settings) show it, so a rerun compares
// without downloading the script.
func digestTag(d string) string { return "mtlsctl-" + d }

// DeployPlan is a deployment worked out from reads, not yet applied.
type DeployPlan struct {
	c     *Client
	res   *DeployResult
	steps []Step
}

// Apply makes the plan's writes.
func (p *DeployPlan) Apply(ctx context.Context) (*DeployResult, error) {
	done, err := p.c.apply(ctx, p.steps)
	p.res.Applied = append(p.res.Applied, done...)
	return p.res, err
}

// Deploy plans and applies at once.
func (c *Client) Deploy(ctx context.Context, req DeployRequest) (*DeployResult, error) {
	p, err := c.PlanDeploy(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.Apply(ctx)
}

// PlanDeploy reads what the account runs and works out the writes: the
// script unless the account already runs this digest under this name,
// then the routes it lacks. A route that runs another script is refused
// here, before anything is written (push plans before its KV writes).
func (c *Client) PlanDeploy(ctx context.Context, req DeployRequest) (*DeployPlan, error) {
	if c.cfg.AccountID == "" {
		return nil, ErrNoAccount
	}
	if err := CheckScriptName(req.Name); err != nil {
		return nil, err
	}
	if len(req.Hostnames) > 0 && req.ZoneID == "" {
		return nil, &pkix.Error{Msg: pkix.Textf("routes need a zone: set CLOUDFLARE_ZONE_ID (or %s) to the zone of %s", pkix.OptZoneID, strings.Join(req.Hostnames, ", ")).String(),
			Hint: "Workers routes belong to a zone; the zone ID is on the zone's Overview page"}
	}
	res := &DeployResult{Name: req.Name, Script: "unchanged", Routes: []string{}, Applied: []string{}}
	list, err := c.scripts.List(ctx, workers.ScriptListParams{AccountID: cf.F(c.cfg.AccountID)})
	if err != nil {
		return nil, c.wrap(http.MethodGet, "/accounts/"+c.cfg.AccountID+"/workers/scripts", err)
	}
	current := false
	for _, s := range list.Result {
		if s.ID != req.Name {
			continue
		}
		tags := s.Tags
		if tags == nil {
			// The published schema's list has no tags; the script's
			// settings do.
			set, err := c.scripts.ScriptAndVersionSettings.Get(ctx, req.Name, workers.ScriptScriptAndVersionSettingGetParams{AccountID: cf.F(c.cfg.AccountID)})
			if err != nil {
				return nil, c.wrap(http.MethodGet, "/accounts/"+c.cfg.AccountID+"/workers/scripts/"+req.Name+"/settings", err)
			}
			tags = set.Tags
		}
		current = slices.Contains(tags, digestTag(req.Digest))
	}
	var steps []Step
	if !current {
		res.Script = "uploaded"
		steps = append(steps, Step{What: fmt.Sprintf("upload Worker %s (%d bytes, KV binding %s → %s)", req.Name, len(req.Module), req.Binding, req.NamespaceID), Do: func(ctx context.Context) error {
			return c.uploadScript(ctx, req)
		}})
	}
	if len(req.Hostnames) > 0 {
		routes, err := c.routes.List(ctx, workers.RouteListParams{ZoneID: cf.F(req.ZoneID)})
		if err != nil {
			return nil, c.wrap(http.MethodGet, "/zones/"+req.ZoneID+"/workers/routes", err)
		}
		for _, h := range req.Hostnames {
			pattern := h + "/*"
			res.Routes = append(res.Routes, pattern)
			have := false
			for _, r := range routes.Result {
				if r.Pattern != pattern {
					continue
				}
				if r.Script != req.Name {
					return nil, &pkix.Error{Msg: fmt.Sprintf("the route %s runs the Worker %q, not %s", pattern, r.Script, req.Name),
						Hint: "nothing was changed: remove that route or give its Worker's name to %s, if it is this one under another name", HintArgs: []any{pkix.OptDeploy}}
				}
				have = true
			}
			if !have {
				steps = append(steps, Step{What: "add route " + pattern + " → " + req.Name, Do: func(ctx context.Context) error {
					_, err := c.routes.New(ctx, workers.RouteNewParams{ZoneID: cf.F(req.ZoneID), Pattern: cf.F(pattern), Script: cf.F(req.Name)})
					return c.wrap(http.MethodPost, "/zones/"+req.ZoneID+"/workers/routes", err)
				}})
			}
		}
	}
	return &DeployPlan{c: c, res: res, steps: steps}, nil
}

func (c *Client) uploadScript(ctx context.Context, req DeployRequest) error {
	meta := workers.ScriptUpdateParamsMetadata{
		MainModule:        cf.F("worker.js"),
		CompatibilityDate: cf.F(req.CompatibilityDate),
		Bindings: cf.F([]workers.ScriptUpdateParamsMetadataBindingUnion{
			workers.ScriptUpdateParamsMetadataBindingsWorkersBindingKindKVNamespace{
				Name: cf.F(req.Binding), NamespaceID: cf.F(req.NamespaceID),
				Type: cf.F(workers.ScriptUpdateParamsMetadataBindingsWorkersBindingKindKVNamespaceTypeKVNamespace),
			},
		}),
		Tags: cf.F([]string{digestTag(req.Digest)}),
	}
	module := cf.FileParam(bytes.NewReader(req.Module), "worker.js", "application/javascript+module").Value
	_, err := c.scripts.Update(ctx, req.Name, workers.ScriptUpdateParams{
		AccountID: cf.F(c.cfg.AccountID), Metadata: cf.F(meta), Files: cf.F([]io.Reader{module}),
	})
	return c.wrap(http.MethodPut, "/accounts/"+c.cfg.AccountID+"/workers/scripts/"+req.Name, err)
}
