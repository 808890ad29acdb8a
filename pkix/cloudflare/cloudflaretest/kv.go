package cloudflaretest

// Workers KV: the namespace endpoints wrangler and cloudflare push call.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

func (s *Server) kv(r *http.Request, ns, op string, body []byte) (reply, int, []string) {
	store := s.KV[ns]
	if store == nil {
		return fail(http.StatusNotFound, 10013, "namespace not found"), 0, nil
	}
	switch {
	case op == "keys" && r.Method == http.MethodGet:
		q := r.URL.Query()
		limit := 1000
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 10 || n > 1000 {
				return fail(http.StatusBadRequest, 10012, "limit: must be an integer from 10 to 1000"), 0, nil
			}
			limit = n
		}
		if s.KeysPageLimit > 0 {
			limit = min(limit, s.KeysPageLimit)
		}
		prefix, cursor := q.Get("prefix"), q.Get("cursor")
		if s.KeysEndless {
			rep := ok(http.StatusOK, []any{})
			rep.info = map[string]any{"count": 0, "cursor": s.newID()}
			return rep, 0, nil
		}
		if s.KeysLoop || (s.KeysEmptyFirst && cursor == "") {
			rep := ok(http.StatusOK, []any{})
			rep.info = map[string]any{"count": 0, "cursor": " "}
			return rep, 0, nil
		}
		var names []string
		for k := range store {
			if strings.HasPrefix(k, prefix) && (cursor == "" || k > cursor) {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		next := ""
		if len(names) > limit {
			names = names[:limit]
			next = names[len(names)-1]
		}
		out := []map[string]any{}
		for _, k := range names {
			item := map[string]any{"name": k}
			if store[k].Metadata != nil {
				item["metadata"] = store[k].Metadata
			}
			out = append(out, item)
		}
		rep := ok(http.StatusOK, out)
		rep.info = map[string]any{"count": len(out), "cursor": next}
		return rep, 0, nil
	case op == "bulk" && r.Method == http.MethodPut:
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return fail(http.StatusBadRequest, 10026, "body: must be an array of key-value pairs"), 0, nil
		}
		if len(items) > 10000 {
			return fail(http.StatusBadRequest, 10027, "bulk write: at most 10000 pairs a request, got %d", len(items)), len(items), nil
		}
		type pair struct {
			key string
			e   KVEntry
		}
		var pairs []pair
		var keys []string
		for i, raw := range items {
			o, rep, bad := object(raw, map[string]string{"key": "string", "value": "string", "base64": "bool", "expiration": "number", "expiration_ttl": "number", "metadata": "any"}, "key", "value")
			if bad {
				rep.errs[0].Message = fmt.Sprintf("[%d].%s", i, rep.errs[0].Message)
				return rep, len(items), nil
			}
			k := o["key"].(string)
			if len(k) > 512 || k == "" || k == "." || k == ".." {
				return fail(http.StatusBadRequest, 10033, "[%d].key: must be 1 to 512 bytes, not . or ..", i), len(items), nil
			}
			if m, ok := o["metadata"]; ok {
				if b, _ := json.Marshal(m); len(b) > 1024 {
					return fail(http.StatusBadRequest, 10034, "[%d].metadata: at most 1024 bytes", i), len(items), nil
				}
			}
			if ttl, ok := o["expiration_ttl"].(float64); ok && ttl < 60 {
				return fail(http.StatusBadRequest, 10035, "[%d].expiration_ttl: at least 60", i), len(items), nil
			}
			pairs = append(pairs, pair{k, KVEntry{Value: o["value"].(string), Metadata: o["metadata"]}})
			keys = append(keys, k)
		}
		for _, p := range pairs {
			store[p.key] = p.e
		}
		return ok(http.StatusOK, map[string]any{"successful_key_count": len(pairs), "unsuccessful_keys": []string{}}), len(items), keys
	case (op == "bulk/delete" && r.Method == http.MethodPost && !s.OnlyDeleteBulk) || (op == "bulk" && r.Method == http.MethodDelete):
		// The SDK's POST …/bulk/delete, and the schema's DELETE …/bulk.
		var keys []string
		if err := json.Unmarshal(body, &keys); err != nil {
			return fail(http.StatusBadRequest, 10026, "body: must be an array of key names (strings)"), 0, nil
		}
		if len(keys) > 10000 {
			return fail(http.StatusBadRequest, 10027, "bulk delete: at most 10000 keys a request, got %d", len(keys)), len(keys), nil
		}
		for _, k := range keys {
			delete(store, k)
		}
		return ok(http.StatusOK, map[string]any{"successful_key_count": len(keys), "unsuccessful_keys": []string{}}), len(keys), keys
	}
	return fail(http.StatusMethodNotAllowed, 10405, "method not allowed"), 0, nil
}
