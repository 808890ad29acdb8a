package cloudflaretest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"time"
)

var scriptNameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9-_]{0,62}$`)

// listScripts lists scripts as the published schema's
// workers_script-response has them: no tags (the settings have them).
func (s *Server) listScripts() reply {
	out := []map[string]any{}
	for _, sc := range s.Scripts {
		out = append(out, map[string]any{"id": sc.ID, "modified_on": sc.ModifiedOn, "created_on": sc.ModifiedOn, "etag": fmt.Sprintf("%x", sc.ModifiedOn.UnixNano())})
	}
	return ok(http.StatusOK, out)
}

func (s *Server) scriptSettings(name string) reply {
	sc, ok1 := s.Scripts[name]
	if !ok1 {
		return fail(http.StatusNotFound, 10007, "This Worker does not exist on your account.")
	}
	return ok(http.StatusOK, map[string]any{"tags": sc.Tags, "bindings": sc.Metadata["bindings"], "compatibility_date": sc.Metadata["compatibility_date"]})
}

// putScript takes a module Worker as the schema's multipart form: a
// "metadata" part (JSON) and the modules it names.
func (s *Server) putScript(r *http.Request, name string, body []byte) reply {
	if !scriptNameRE.MatchString(name) {
		return fail(http.StatusBadRequest, 10016, "script name %q: lower-case letters, digits, - and _ only", name)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return fail(http.StatusBadRequest, 10021, "Content-Type: must be multipart/form-data")
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var meta map[string]any
	modules := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(http.StatusBadRequest, 10021, "multipart: %v", err)
		}
		data, _ := io.ReadAll(p)
		if p.FormName() == "metadata" {
			if err := json.Unmarshal(data, &meta); err != nil {
				return fail(http.StatusBadRequest, 10021, "metadata: must be a JSON object")
			}
			continue
		}
		name := p.FileName()
		if name == "" {
			name = p.FormName()
		}
		modules[name] = string(data)
	}
	if meta == nil {
		return fail(http.StatusBadRequest, 10021, "metadata: required")
	}
	raw, _ := json.Marshal(meta)
	o, rep, bad := object(raw, map[string]string{"main_module": "string", "body_part": "string", "bindings": "[]object", "compatibility_date": "string",
		"compatibility_flags": "[]string", "tags": "[]string", "keep_bindings": "[]string", "logpush": "bool", "usage_model": "string"}, "main_module")
	if bad {
		rep.errs[0].Message = "metadata." + rep.errs[0].Message
		return rep
	}
	main := o["main_module"].(string)
	if _, ok := modules[main]; !ok {
		return fail(http.StatusBadRequest, 10021, "main_module %q: no part of that name", main)
	}
	bindings, _ := o["bindings"].([]any)
	for _, b := range bindings {
		braw, _ := json.Marshal(b)
		bo, rep, bad := object(braw, map[string]string{"type": "string", "name": "string", "namespace_id": "string", "text": "string"}, "type", "name")
		if bad {
			rep.errs[0].Message = "metadata.bindings[]." + rep.errs[0].Message
			return rep
		}
		if bo["type"] == "kv_namespace" {
			ns, _ := bo["namespace_id"].(string)
			if _, ok := s.KV[ns]; !ok {
				return fail(http.StatusBadRequest, 10041, "binding %s: KV namespace not found", bo["name"])
			}
		}
	}
	sc := &Script{ID: name, Tags: strings2(o["tags"]), Metadata: meta, Modules: modules, ModifiedOn: time.Now().UTC()}
	s.Scripts[name] = sc
	return ok(http.StatusOK, sc)
}

func (s *Server) routes(r *http.Request, body []byte) reply {
	switch r.Method {
	case http.MethodGet:
		return ok(http.StatusOK, append([]Route{}, s.Routes...))
	case http.MethodPost:
		o, rep, bad := object(body, map[string]string{"pattern": "string", "script": "string"}, "pattern")
		if bad {
			return rep
		}
		for _, rt := range s.Routes {
			if rt.Pattern == o["pattern"] {
				return fail(http.StatusConflict, 10020, "route pattern %s already exists", rt.Pattern)
			}
		}
		rt := Route{ID: s.newID(), Pattern: o["pattern"].(string)}
		if sc, ok := o["script"].(string); ok {
			rt.Script = sc
		}
		s.Routes = append(s.Routes, rt)
		return ok(http.StatusOK, rt)
	}
	return fail(http.StatusMethodNotAllowed, 10405, "method not allowed")
}
