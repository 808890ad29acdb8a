package worker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	toml "github.com/pelletier/go-toml"
)

// WranglerName is the Worker's wrangler configuration, in its directory.
const WranglerName = "wrangler.toml"

// placeholderID stands in for a namespace id nobody gave: wrangler
// refuses to deploy with it, so the step says what to do.
const placeholderID = "FILL-IN-KV-NAMESPACE-ID"

var tomlPosition = regexp.MustCompile(`^\((\d+), (\d+)\): `)

// Deployed is what a wrangler.toml found in the Worker's directory holds
// that a rebuild must not lose: the routes (a Worker without one never
// runs), the namespace the data was uploaded to, and the user's own edits
// (a corrected zone_name, [vars], an account_id), kept in Raw.
type Deployed struct {
	Path      string
	Raw       []byte
	Name      string
	Hostnames []string // route patterns without their "/*"
	KVID      string   // the REVOKED binding's id; "" for none or the placeholder
	HasKV     bool     // a [[kv_namespaces]] entry binds REVOKED
	Invalid   error    // not TOML: refused, unless replaced with --force

	// The script's own settings, from the header of the worker.js found
	// (Script false: none, or not one of mtlsctl's).
	Script   bool
	Store    string
	Grace    time.Duration
	FailOpen bool
}

// Given says which of the script's settings were given for this build;
// the others are kept from the Worker found.
type Given struct{ Store, Grace, FailOpen bool }

// scriptSettings is the header line of a generated worker.js (after the
// template's opening comment).
var scriptSettings = regexp.MustCompile(`(?m)^// Built .*, store (kv|inline), grace (\S+), fail (open|closed):$`)

// readScript fills d's script settings from dir's worker.js, if any.
func (d *Deployed) readScript(dir string) {
	f, err := os.Open(filepath.Join(dir, "worker.js"))
	if err != nil {
		return
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	m := scriptSettings.FindSubmatch(head[:n])
	if m == nil {
		return
	}
	grace, err := cfsslconf.ParseDuration(string(m[2]))
	if err != nil {
		return
	}
	d.Script, d.Store, d.Grace, d.FailOpen = true, string(m[1]), grace, string(m[3]) == "open"
}

// KeepScriptSettings takes the store, grace and fail mode the deployed
// Worker was built with when they were not given: a daily rebuild without
// flags must not turn a fail-open Worker fail-closed, or shorten its grace.
// Settings given are what the user asked for, and apply.
func KeepScriptSettings(found *Deployed, o Options, given Given) (Options, []string) {
	if found == nil || !found.Script {
		return o, nil
	}
	var kept []string
	if !given.Store && o.Store != found.Store {
		o.Store = found.Store
		kept = append(kept, "store "+found.Store)
	}
	if !given.Grace && o.Grace != found.Grace {
		o.Grace = found.Grace
		kept = append(kept, "grace "+cfsslconf.FormatDuration(found.Grace))
	}
	if !given.FailOpen && o.FailOpen != found.FailOpen {
		o.FailOpen = found.FailOpen
		kept = append(kept, "fail open")
	}
	return o, kept
}

// ReadDeployed reads dir's wrangler.toml; nil when there is none yet.
func ReadDeployed(dir string) (*Deployed, error) {
	path := filepath.Join(dir, WranglerName)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		d := &Deployed{Path: path}
		if d.readScript(dir); !d.Script {
			return nil, nil
		}
		return d, nil
	}
	if err != nil {
		return nil, &pkix.Error{File: path, Msg: err.Error()}
	}
	d, err := parseDeployed(path, raw)
	if err == nil {
		d.readScript(dir)
	}
	return d, err
}

func parseDeployed(path string, raw []byte) (*Deployed, error) {
	d := &Deployed{Path: path, Raw: raw}
	tree, err := toml.LoadBytes(raw)
	if err != nil {
		// go-toml says "(line, column): what"
		msg := tomlPosition.ReplaceAllString(err.Error(), "line $1, column $2: ")
		d.Invalid = &pkix.Error{File: path, Msg: "is not valid TOML: " + msg,
			Hint: "fix it (wrangler would refuse it too), or give %s to replace it with a new one", HintArgs: []any{pkix.OptForce}}
		return d, nil
	}
	d.Name, _ = tree.Get("name").(string)
	var routes []any
	switch r := tree.Get("routes").(type) {
	case []any:
		routes = r
	case []*toml.Tree:
		for _, t := range r {
			routes = append(routes, t)
		}
	}
	if r, ok := tree.Get("route").(string); ok {
		routes = append(routes, r)
	}
	for _, r := range routes {
		pattern, _ := r.(string)
		if t, ok := r.(*toml.Tree); ok {
			pattern, _ = t.Get("pattern").(string)
		}
		if pattern != "" {
			d.Hostnames = append(d.Hostnames, strings.TrimSuffix(pattern, "/*"))
		}
	}
	if kvs, ok := tree.Get("kv_namespaces").([]*toml.Tree); ok {
		for _, kv := range kvs {
			if b, _ := kv.Get("binding").(string); b == Binding {
				d.HasKV = true
				if id, _ := kv.Get("id").(string); id != placeholderID {
					d.KVID = id
				}
			}
		}
	}
	return d, nil
}

// Reconcile decides the wrangler.toml of a rebuild from the one found
// (nil: none yet) and the settings given (o.Hostnames and o.KVNamespaceID,
// empty when not given). It returns the new file, or nil to keep the one
// found as it is: a rebuild that only refreshes the data rewrites the data
// and nothing else. A setting given that differs from the file's, or one
// that cannot be merged into a file the user edited, is refused unless
// force, so the routes, the namespace and hand edits are never lost by
// accident (a daily job rebuilding without the original flags).
func Reconcile(found *Deployed, o Options, force bool) ([]byte, error) {
	if found == nil || found.Raw == nil || force {
		return []byte(wrangler(o)), nil
	}
	if found.Invalid != nil {
		return nil, found.Invalid
	}
	var changes []string
	if len(o.Hostnames) > 0 && len(found.Hostnames) > 0 && !sameSet(o.Hostnames, found.Hostnames) {
		changes = append(changes, fmt.Sprintf("routes %s, not %s", strings.Join(found.Hostnames, ", "), strings.Join(o.Hostnames, ", ")))
	}
	if o.KVNamespaceID != "" && found.KVID != "" && o.KVNamespaceID != found.KVID {
		changes = append(changes, fmt.Sprintf("KV namespace %s, not %s", found.KVID, o.KVNamespaceID))
	}
	if len(changes) > 0 {
		return nil, &pkix.Error{File: found.Path, Msg: "has " + strings.Join(changes, "; ") + ": refusing to change the deployed Worker's settings",
			Hint: "to refresh only the data, run without %s/%s (the file is kept); to change them, edit the file or give %s (it is rewritten, hand edits lost)", HintArgs: []any{pkix.OptHostname, pkix.OptKVNamespaceID, pkix.OptForce}}
	}
	merged := o
	merged.Name = found.Name
	if len(merged.Hostnames) == 0 {
		merged.Hostnames = found.Hostnames
	}
	if merged.KVNamespaceID == "" {
		merged.KVNamespaceID = found.KVID
	}
	// mtlsctl's own file, unedited, holds nothing but those settings: it is
	// regenerated with them (filling in a namespace id or routes given now).
	own := found.asGenerated()
	if own.Name == "" {
		own.Name = "mtlsctl-revocation"
	}
	if bytes.Equal([]byte(wrangler(own)), found.Raw) {
		return []byte(wrangler(merged)), nil
	}
	// Edited by hand: kept byte for byte, unless something given now is
	// not in it, which only a person (or --force) can merge.
	var missing []string
	if len(o.Hostnames) > 0 && len(found.Hostnames) == 0 {
		missing = append(missing, "routes for "+strings.Join(o.Hostnames, ", "))
	}
	if o.KVNamespaceID != "" && found.KVID == "" && found.HasKV {
		missing = append(missing, "KV namespace id "+o.KVNamespaceID)
	}
	if o.Store == "kv" && !found.HasKV {
		missing = append(missing, pkix.Textf("a [[kv_namespaces]] binding %q, which %s needs", Binding, pkix.OptStore.With("kv")).String())
	}
	if len(missing) > 0 {
		return nil, &pkix.Error{File: found.Path, Msg: "was edited by hand and lacks " + strings.Join(missing, "; "),
			Hint: "add it to the file yourself (your edits stay), or give %s to rewrite the file (hand edits lost)", HintArgs: []any{pkix.OptForce}}
	}
	return nil, nil
}

// asGenerated is the Options that would have generated found.
func (found *Deployed) asGenerated() Options {
	o := Options{Name: found.Name, Hostnames: found.Hostnames, KVNamespaceID: found.KVID, Store: "inline"}
	if found.HasKV {
		o.Store = "kv"
	}
	return o
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
