package cloudflare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/kv"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/mtlsctl/mtlsctl/pkix"
)

// MaxBulk is the most pairs (or keys) one bulk write or delete takes.
const MaxBulk = 10000

// digestField is the KV metadata field holding a value's digest: listing
// the keys returns it, so a push compares without reading any value.
const digestField = "mtlsctl_sha256"

// KVPair is one key to hold. Digest identifies the value for comparison;
// "" means the SHA-256 of Value (a value with a time stamp that should not
// count as a change passes a digest of the rest).
type KVPair struct {
	Key, Value, Digest string
}

func (p KVPair) digest() string {
	if p.Digest != "" {
		return p.Digest
	}
	sum := sha256.Sum256([]byte(p.Value))
	return hex.EncodeToString(sum[:16])
}

// PushRequest is the data a namespace should hold under Prefix.
type PushRequest struct {
	NamespaceID string
	Prefix      string                         // only keys under it are read, compared and deleted
	Each        func(func(KVPair) error) error // the data, streamed
	Meta        KVPair                         // written last, when anything changed or it did
	Chunk       int                            // pairs per request; 0 or more than MaxBulk means MaxBulk
}

// PushResult counts what push did (or would do). Every key of the data,
// the metadata key included, is either written or unchanged, so after a
// push Keys == Written + Unchanged; Deleted counts other keys, those under
// the prefix that the data no longer has.
type PushResult struct {
	Status    string   `json:"status"` // changed, unchanged
	Keys      int      `json:"keys"`   // in the data, with the metadata key
	Written   int      `json:"written"`
	Deleted   int      `json:"deleted"`
	Unchanged int      `json:"unchanged"` // held already, with the same digest: not written
	Requests  int      `json:"write_requests"`
	Applied   []string `json:"applied"`
}

// Push makes the namespace hold the data under the prefix: changed and new
// pairs are written in chunks, keys under the prefix that the data no
// longer has are deleted (a lifted certificateHold), and the metadata key
// goes last. No other key is read or touched. KV is eventually consistent
// per key, so the order narrows the window in which a reader sees new
// metadata with old entries, but orders nothing for readers elsewhere.
func (c *Client) Push(ctx context.Context, req PushRequest) (*PushResult, error) {
	if c.cfg.AccountID == "" {
		return nil, ErrNoAccount
	}
	if req.NamespaceID == "" {
		return nil, &pkix.Error{Msg: "no KV namespace ID", Hint: "pass %s (or MTLSCTL_KV_NAMESPACE_ID); 'npx wrangler kv namespace create REVOKED' makes one", HintArgs: []any{pkix.OptKVNamespaceID}}
	}
	if req.Prefix == "" || !strings.HasPrefix(req.Meta.Key, req.Prefix) {
		return nil, fmt.Errorf("push: every key must be under a non-empty prefix")
	}
	chunk := req.Chunk
	if chunk <= 0 || chunk > MaxBulk {
		chunk = MaxBulk
	}
	existing, err := c.listDigests(ctx, req.NamespaceID, req.Prefix)
	if err != nil {
		return nil, err
	}
	res := &PushResult{Applied: []string{}}
	var puts []KVPair
	inData := map[string]bool{}
	err = req.Each(func(p KVPair) error {
		if !strings.HasPrefix(p.Key, req.Prefix) || p.Key == req.Meta.Key {
			return fmt.Errorf("push: key %q is outside the prefix %q or is the metadata key", p.Key, req.Prefix)
		}
		if inData[p.Key] {
			return nil
		}
		inData[p.Key] = true
		res.Keys++
		if d, ok := existing[p.Key]; ok && d == p.digest() {
			res.Unchanged++
			return nil
		}
		puts = append(puts, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Keys++
	var dels []string
	for k := range existing {
		if !inData[k] && k != req.Meta.Key {
			dels = append(dels, k)
		}
	}
	metaChanged := existing[req.Meta.Key] != req.Meta.digest()
	_, metaThere := existing[req.Meta.Key]

	var steps []Step
	for i := 0; i < len(puts); i += chunk {
		part := puts[i:min(i+chunk, len(puts))]
		steps = append(steps, Step{What: fmt.Sprintf("write %d key%s", len(part), plural(len(part))), Do: func(ctx context.Context) error {
			if err := c.bulkPut(ctx, req.NamespaceID, part); err != nil {
				return err
			}
			res.Written += len(part)
			return nil
		}})
	}
	for i := 0; i < len(dels); i += chunk {
		part := dels[i:min(i+chunk, len(dels))]
		steps = append(steps, Step{What: fmt.Sprintf("delete %d key%s", len(part), plural(len(part))), Do: func(ctx context.Context) error {
			if err := c.deleteKeys(ctx, req.NamespaceID, part); err != nil {
				return err
			}
			res.Deleted += len(part)
			return nil
		}})
	}
	// The metadata key is rewritten whenever anything else changes (its
	// time stamp says when the data was pushed); otherwise it is one of
	// the unchanged keys.
	if metaChanged || !metaThere || len(steps) > 0 {
		steps = append(steps, Step{What: "write the metadata key " + req.Meta.Key, Do: func(ctx context.Context) error {
			if err := c.bulkPut(ctx, req.NamespaceID, []KVPair{req.Meta}); err != nil {
				return err
			}
			res.Written++
			return nil
		}})
	} else {
		res.Unchanged++
	}
	if len(steps) == 0 {
		res.Status = "unchanged"
		return res, nil
	}
	res.Status = "changed"
	done, err := c.apply(ctx, steps)
	res.Applied = append(res.Applied, done...)
	res.Requests = len(done)
	return res, err
}

// listDigests lists the keys under prefix with their digests ("" when a
// key has none: it was written by something else, so it is rewritten).
func (c *Client) listDigests(ctx context.Context, ns, prefix string) (map[string]string, error) {
	out := map[string]string{}
	cursor := ""
	seen := map[string]bool{}
	for pages := 1; ; pages++ {
		p := kv.NamespaceKeyListParams{AccountID: cf.F(c.cfg.AccountID), Prefix: cf.F(prefix), Limit: cf.F(1000.0)}
		if cursor != "" {
			p.Cursor = cf.F(cursor)
		}
		page, err := c.kv.Keys.List(ctx, ns, p)
		if err != nil {
			return nil, c.wrap(http.MethodGet, c.kvPath(ns, "/keys"), err)
		}
		for _, k := range page.Result {
			if !strings.HasPrefix(k.Name, prefix) {
				continue // never ours, whatever the server returned
			}
			d := ""
			if m, ok := k.Metadata.(map[string]any); ok {
				d, _ = m[digestField].(string)
			}
			out[k.Name] = d
		}
		// The list ends when the cursor does, not at an empty page (KV
		// can return one mid-list); a cursor seen before would loop.
		cursor = page.ResultInfo.Cursor
		if cursor == "" {
			return out, nil
		}
		if seen[cursor] {
			return nil, &APIError{Method: http.MethodGet, Path: c.kvPath(ns, "/keys"), Status: http.StatusOK,
				Message: "the key list returned a cursor it had returned before: it would never end"}
		}
		seen[cursor] = true
		// A cursor that never repeats would go on forever: the listing
		// carries no total, so MaxKeyPages bounds it.
		if pages >= c.maxKeyPages {
			return nil, c.listTooLong(c.kvPath(ns, "/keys"), fmt.Sprintf("the key list goes on past %d pages (%d keys under %s so far)", c.maxKeyPages, len(out), prefix))
		}
	}
}

// bulkPut writes pairs with their digests; keys the API reports as not
// written are tried once more, then reported.
func (c *Client) bulkPut(ctx context.Context, ns string, pairs []KVPair) error {
	for try := 0; ; try++ {
		body, err := encodePairs(pairs)
		if err != nil {
			return err
		}
		// The body is the SDK's NamespaceBulkUpdateParamsBody list, encoded
		// here: the SDK's own encoder appends array items one by one and is
		// quadratic in the chunk's size, so the request
		// goes through BulkUpdate with this body in place of its encoding.
		res, err := c.kv.BulkUpdate(ctx, ns, kv.NamespaceBulkUpdateParams{AccountID: cf.F(c.cfg.AccountID)},
			option.WithRequestBody("application/json", body))
		if err != nil {
			return c.wrap(http.MethodPut, c.kvPath(ns, "/bulk"), err)
		}
		if res == nil || len(res.UnsuccessfulKeys) == 0 {
			return nil
		}
		if try == 1 {
			return &APIError{Method: http.MethodPut, Path: c.kvPath(ns, "/bulk"), Status: http.StatusOK,
				Message: fmt.Sprintf("%d key%s not written (first: %s)", len(res.UnsuccessfulKeys), plural(len(res.UnsuccessfulKeys)), res.UnsuccessfulKeys[0]),
				Hint:    pkix.Words("run push again: it writes only what is still missing")}
		}
		failed := map[string]bool{}
		for _, k := range res.UnsuccessfulKeys {
			failed[k] = true
		}
		var again []KVPair
		for _, p := range pairs {
			if failed[p.Key] {
				again = append(again, p)
			}
		}
		pairs = again
	}
}

// deleteKeys deletes keys in bulk. The SDK sends POST …/bulk/delete;
// the published OpenAPI schema documents DELETE …/bulk with the same body.
// A server that knows only the second answers the first 404 or 405, and
// gets the second.
func (c *Client) deleteKeys(ctx context.Context, ns string, keys []string) error {
	body, err := json.Marshal(keys) // as in bulkPut: the SDK's array encoder is quadratic
	if err != nil {
		return err
	}
	_, err = c.kv.BulkDelete(ctx, ns, kv.NamespaceBulkDeleteParams{AccountID: cf.F(c.cfg.AccountID)}, option.WithRequestBody("application/json", body))
	var se *cf.Error
	if errors.As(err, &se) && (se.StatusCode == http.StatusNotFound || se.StatusCode == http.StatusMethodNotAllowed) {
		path := fmt.Sprintf("accounts/%s/storage/kv/namespaces/%s/bulk", c.cfg.AccountID, ns)
		err = c.generic.Delete(ctx, path, nil, nil, option.WithRequestBody("application/json", body))
		return c.wrap(http.MethodDelete, c.kvPath(ns, "/bulk"), err)
	}
	return c.wrap(http.MethodPost, c.kvPath(ns, "/bulk/delete"), err)
}

// wirePair is one item of a bulk write, with the schema's field names.
type wirePair struct {
	Key      string            `json:"key"`
	Value    string            `json:"value"`
	Metadata map[string]string `json:"metadata"`
}

func encodePairs(pairs []KVPair) ([]byte, error) {
	out := make([]wirePair, len(pairs))
	for i, p := range pairs {
		out[i] = wirePair{Key: p.Key, Value: p.Value, Metadata: map[string]string{digestField: p.digest()}}
	}
	return json.Marshal(out)
}

func (c *Client) kvPath(ns, rest string) string {
	return "/accounts/" + c.cfg.AccountID + "/storage/kv/namespaces/" + ns + rest
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
