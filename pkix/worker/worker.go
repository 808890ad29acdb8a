// Package worker generates the Cloudflare Worker that enforces a PKI
// directory's revocations at the edge (Access itself reads no CRL): the
// script, from a template embedded in the binary, its Workers KV data and
// its wrangler.toml. The list comes from pkidir.Dir.Revocations, the
// directory's verified CRLs.
package worker

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

//go:embed worker.js
var template string

// Prefix is where mtlsctl's keys live in a KV namespace: others' data in
// a shared namespace is never read or touched.
const Prefix = "mtlsctl:"

// CompatibilityDate is the Workers runtime date the script is written for.
const CompatibilityDate = "2024-09-01"

// Binding is the KV binding's variable name in the script.
const Binding = "REVOKED"

// InlineLimit bounds --store inline: the script stays well under Workers'
// script size limit (a few MB compressed); past it, use KV.
const InlineLimit = 20000

// Options are worker build's choices.
type Options struct {
	Store         string        // "kv" or "inline"
	Grace         time.Duration // how long past a CRL's next update the data is still used
	FailOpen      bool          // stale data lets requests through (logged) instead of refusing
	KVNamespaceID string
	Hostnames     []string // routes: a Worker with no route never runs
	Name          string   // the Worker's name
	// Deployed is the wrangler.toml already in the output directory (nil:
	// none), whose settings a rebuild keeps; Force replaces it anyway.
	Deployed *Deployed
	Force    bool
}

// KVPair is one entry of `wrangler kv bulk put`'s JSON array.
type KVPair struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// metadata is what the Worker caches: each CRL's dates and the revoked CAs.
type metadata struct {
	Built      time.Time `json:"built"`
	CRLs       []crlMeta `json:"crls"`
	RevokedCAs []string  `json:"revoked_cas"`
}

func newMetadata(set *revocation.RevocationSet, now time.Time) metadata {
	meta := metadata{Built: now.UTC().Truncate(time.Second), RevokedCAs: set.RevokedCAs}
	for _, c := range set.CRLs {
		meta.CRLs = append(meta.CRLs, crlMeta{IssuerSKI: c.IssuerSKI, Number: c.Number, ThisUpdate: c.ThisUpdate, NextUpdate: c.NextUpdate})
	}
	return meta
}

type crlMeta struct {
	IssuerSKI  string    `json:"issuer_ski"`
	Number     string    `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
}

type entry struct {
	Reason    string    `json:"reason,omitempty"`
	RevokedAt time.Time `json:"revoked_at"`
}

// Files are the generated outputs, by file name.
type Files struct {
	Script   []byte // worker.js
	Wrangler []byte // wrangler.toml; nil keeps the one found as it is
	Count    int    // revoked certificates
	// What the Worker's wrangler.toml says after this build, for the
	// command's notes: how many routes, and whether the id is a placeholder.
	Routes        int
	PlaceholderID bool
	// KV writes revoked.kv.json (nil with --store inline), streamed from
	// the CRLs: a million keys are never held in memory.
	KV func(io.Writer) error
}

// Build renders the Worker for a revocation set.
func Build(set *revocation.RevocationSet, o Options, now time.Time) (*Files, error) {
	if o.Store != "kv" && o.Store != "inline" {
		return nil, &pkix.Error{Msg: fmt.Sprintf("store %q: use kv or inline", o.Store)}
	}
	if o.Store == "inline" && set.Count > InlineLimit {
		return nil, &pkix.Error{Msg: fmt.Sprintf("%d revoked certificates are too many to compile into the script (at most %d)", set.Count, InlineLimit),
			Hint: "use %s", HintArgs: []any{pkix.OptStore.With("kv")}}
	}
	meta := newMetadata(set, now)
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	f := &Files{Count: set.Count}
	inline, inlineMeta := "null", "null"
	if o.Store == "kv" {
		f.KV = func(w io.Writer) error { return writeKV(w, set, metaJSON) }
	} else {
		m := map[string]entry{}
		err := set.Each(func(r revocation.Revocation) error {
			m[r.IssuerSKI+":"+r.Serial] = entry{Reason: r.Reason, RevokedAt: r.RevokedAt}
			return nil
		})
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		inline, inlineMeta = string(b), string(metaJSON)
	}
	var header strings.Builder
	fmt.Fprintf(&header, "// Built %s from %d CRL%s (%d revoked certificates, %d revoked CAs), store %s, grace %s, fail %s:\n",
		meta.Built.Format(time.RFC3339), len(set.CRLs), plural(len(set.CRLs)), set.Count, len(set.RevokedCAs), o.Store,
		cfsslconf.FormatDuration(o.Grace), map[bool]string{true: "open", false: "closed"}[o.FailOpen])
	crls := append([]revocation.CRLSource(nil), set.CRLs...)
	sort.Slice(crls, func(a, b int) bool { return crls[a].CA < crls[b].CA })
	for _, c := range crls {
		fmt.Fprintf(&header, "//   %s (CA %s, issuer SKI %s): number %s, this update %s, next update %s\n",
			x509text.Printable(c.File), x509text.Printable(c.CA), c.IssuerSKI, c.Number, c.ThisUpdate.Format(time.RFC3339), c.NextUpdate.Format(time.RFC3339))
	}
	script := strings.NewReplacer(
		"/*{{HEADER}}*/\n", header.String(),
		"/*{{GRACE_MS}}*/0", fmt.Sprint(o.Grace.Milliseconds()),
		"/*{{FAIL_OPEN}}*/false", fmt.Sprint(o.FailOpen),
		"/*{{INLINE}}*/null", inline,
		"/*{{INLINE_META}}*/null", inlineMeta,
	).Replace(template)
	f.Script = []byte(script)
	if f.Wrangler, err = Reconcile(o.Deployed, o, o.Force); err != nil {
		return nil, err
	}
	final := o
	if f.Wrangler == nil {
		final = o.Deployed.asGenerated()
	} else if d, _ := parseDeployed("", f.Wrangler); d.Invalid == nil {
		final = d.asGenerated()
	}
	f.Routes, f.PlaceholderID = len(final.Hostnames), final.Store == "kv" && final.KVNamespaceID == ""
	return f, nil
}

// Digest identifies what a deployment of the script runs: the code after
// its leading comment (which names the build time and the CRLs, and so
// changes with every build) and the settings given (namespace, binding).
// Two builds with the same digest behave the same.
func (f *Files) Digest(settings ...string) string {
	code := f.Script
	for len(code) > 0 {
		line := code
		if i := bytes.IndexByte(code, '\n'); i >= 0 {
			line = code[:i+1]
		}
		if t := bytes.TrimSpace(line); len(t) > 0 && !bytes.HasPrefix(t, []byte("//")) {
			break
		}
		code = code[len(line):]
	}
	h := sha256.New()
	h.Write(code)
	for _, s := range settings {
		fmt.Fprintf(h, "\x00%s", s)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Outputs are the files of the Worker's directory: worker.js,
// wrangler.toml and, with KV, revoked.kv.json.
func (f *Files) Outputs(dir string) []atomicfile.File {
	out := []atomicfile.File{
		{Path: filepath.Join(dir, "worker.js"), Data: f.Script, Mode: atomicfile.ModePublic, Kind: "Worker (ES module)"},
	}
	if f.Wrangler != nil {
		out = append(out, atomicfile.File{Path: filepath.Join(dir, WranglerName), Data: f.Wrangler, Mode: atomicfile.ModePublic, Kind: "wrangler configuration"})
	}
	if f.KV != nil {
		out = append(out, atomicfile.File{Path: filepath.Join(dir, "revoked.kv.json"), Stream: f.KV, Mode: atomicfile.ModePublic, Kind: "Workers KV data (wrangler kv bulk put)"})
	}
	return out
}

// writeKV writes the JSON array `wrangler kv bulk put` takes, one pair a
// line. Keys and values are hex, reason names and RFC 3339 times: nothing
// JSON must escape but the value's own quotes, so they are written as
// they are, without a json.Marshal per entry.
func writeKV(w io.Writer, set *revocation.RevocationSet, metaJSON []byte) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	meta, _ := json.Marshal(string(metaJSON))
	fmt.Fprintf(bw, "[{\"key\":%q,\"value\":%s}", Prefix+"meta", meta)
	buf := make([]byte, 0, 256)
	val := make([]byte, 0, 128)
	var stamps stamper
	err := set.Each(func(r revocation.Revocation) error {
		buf = append(buf[:0], ",\n{\"key\":\""...)
		buf = appendKey(buf, r)
		buf = append(buf, `","value":"`...)
		val = appendValue(val[:0], r, stamps.format(r.RevokedAt))
		for _, b := range val {
			if b == '"' {
				buf = append(buf, '\\')
			}
			buf = append(buf, b)
		}
		buf = append(buf, `"}`...)
		_, err := bw.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	bw.WriteString("]\n")
	return bw.Flush()
}

// Pair is one KV key and its value.
type Pair struct{ Key, Value string }

// EachKV streams the revoked certificates' pairs, as revoked.kv.json
// holds them (without the metadata pair: see KVMeta).
func EachKV(set *revocation.RevocationSet, fn func(Pair) error) error {
	var stamps stamper
	buf := make([]byte, 0, 128)
	return set.Each(func(r revocation.Revocation) error {
		key := string(appendKey(buf[:0], r))
		return fn(Pair{Key: key, Value: string(appendValue(buf[:0], r, stamps.format(r.RevokedAt)))})
	})
}

// KVMeta is the metadata pair, built now, and a digest of it without its
// build time: two pushes of the same CRLs have the same digest, so the
// second writes nothing.
func KVMeta(set *revocation.RevocationSet, now time.Time) (Pair, string, error) {
	b, err := json.Marshal(newMetadata(set, now))
	if err != nil {
		return Pair{}, "", err
	}
	timeless, err := json.Marshal(newMetadata(set, time.Time{}))
	if err != nil {
		return Pair{}, "", err
	}
	sum := sha256.Sum256(timeless)
	return Pair{Key: Prefix + "meta", Value: string(b)}, hex.EncodeToString(sum[:16]), nil
}

func appendKey(buf []byte, r revocation.Revocation) []byte {
	buf = append(buf, Prefix+"rev:"...)
	buf = append(buf, r.IssuerSKI...)
	buf = append(buf, ':')
	return append(buf, r.Serial...)
}

// appendValue appends an entry's JSON: {"reason":…,"revoked_at":…}.
func appendValue(buf []byte, r revocation.Revocation, stamp []byte) []byte {
	buf = append(buf, '{')
	if r.Reason != "" {
		buf = append(buf, `"reason":"`...)
		buf = append(buf, r.Reason...)
		buf = append(buf, `",`...)
	}
	buf = append(buf, `"revoked_at":"`...)
	buf = append(buf, stamp...)
	return append(buf, `"}`...)
}

// stamper formats revocation times, once per run of equal times: most
// entries of a CRL share a date.
type stamper struct {
	last  time.Time
	stamp []byte
}

func (s *stamper) format(t time.Time) []byte {
	if !t.Equal(s.last) || s.stamp == nil {
		s.last, s.stamp = t, t.UTC().AppendFormat(s.stamp[:0], time.RFC3339)
	}
	return s.stamp
}

// Key is the KV key of a revoked certificate.
func Key(issuerSKI, serial string) string { return Prefix + "rev:" + issuerSKI + ":" + serial }

func wrangler(o Options) string {
	var b strings.Builder
	name := o.Name
	if name == "" {
		name = "mtlsctl-revocation"
	}
	fmt.Fprintf(&b, "# Generated by mtlsctl worker build; deploy with: npx wrangler deploy --config wrangler.toml\n")
	fmt.Fprintf(&b, "name = %q\nmain = \"worker.js\"\ncompatibility_date = %q\nworkers_dev = false\n", name, CompatibilityDate)
	if len(o.Hostnames) > 0 {
		b.WriteString("# zone_name is guessed as the hostname's last two labels: correct it for a zone such as example.co.uk\n")
		b.WriteString("routes = [\n")
		for _, h := range o.Hostnames {
			fmt.Fprintf(&b, "  { pattern = %q, zone_name = %q },\n", h+"/*", zoneOf(h))
		}
		b.WriteString("]\n")
	} else {
		b.WriteString("# No route: a Worker with no route never runs. Add the Access hostnames with --hostname.\nroutes = []\n")
	}
	if o.Store == "kv" {
		id := o.KVNamespaceID
		if id == "" {
			id = placeholderID // wrangler refuses to deploy with it: the step says what to do
		}
		fmt.Fprintf(&b, "\n[[kv_namespaces]]\nbinding = %q\nid = %q\n", Binding, id)
	}
	return b.String()
}

// zoneOf guesses the zone of a hostname: its last two labels.
func zoneOf(host string) string {
	labels := strings.Split(host, ".")
	if len(labels) <= 2 {
		return host
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
