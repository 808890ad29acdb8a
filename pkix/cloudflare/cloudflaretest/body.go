package cloudflaretest

// Request bodies checked against the published schema, and padded answers.

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// object decodes a JSON object and checks it against a schema's fields:
// each is "string", "bool", "number", "[]string", "[]object" or "any";
// required must be present. Unknown fields are refused.
func object(body []byte, fields map[string]string, required ...string) (map[string]any, reply, bool) {
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, fail(http.StatusBadRequest, 10001, "body: must be a JSON object"), true
	}
	for _, r := range required {
		if _, ok := obj[r]; !ok {
			return nil, fail(http.StatusBadRequest, 10002, "%s: required", r), true
		}
	}
	for k, v := range obj {
		t, known := fields[k]
		if !known {
			return nil, fail(http.StatusBadRequest, 10003, "%s: not a field of this request", k), true
		}
		if !hasType(v, t) {
			return nil, fail(http.StatusBadRequest, 10004, "%s: must be %s", k, t), true
		}
	}
	return obj, reply{}, false
}

func hasType(v any, t string) bool {
	switch t {
	case "string":
		_, ok := v.(string)
		return ok
	case "bool":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "any":
		return true
	case "[]string", "[]object":
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, x := range list {
			if t == "[]string" {
				if _, ok := x.(string); !ok {
					return false
				}
			} else if _, ok := x.(map[string]any); !ok {
				return false
			}
		}
		return true
	}
	return false
}

func strings2(v any) []string {
	out := []string{}
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

// writePadded streams a success envelope of n bytes, stopping when the
// client hangs up.
func writePadded(w io.Writer, n int64) {
	head := `{"success":true,"errors":[],"messages":[],"result":[],"padding":"`
	tail := `"}`
	io.WriteString(w, head)
	chunk := []byte(strings.Repeat("a", 64<<10))
	for left := n - int64(len(head)+len(tail)); left > 0; left -= int64(len(chunk)) {
		if _, err := w.Write(chunk[:min(int64(len(chunk)), left)]); err != nil {
			return
		}
	}
	io.WriteString(w, tail)
}
