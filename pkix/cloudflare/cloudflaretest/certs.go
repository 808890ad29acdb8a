package cloudflaretest

// Access mTLS certificates and their hostname settings.

import (
	"crypto/md5"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AddCert stores a certificate directly (test set-up).
func (s *Server) AddCert(name, pemData string, hostnames ...string) (*Cert, error) {
	s.Lock()
	defer s.Unlock()
	c, err := s.newCert(name, pemData, hostnames)
	if err != nil {
		return nil, err
	}
	s.Certs = append(s.Certs, c)
	return c, nil
}

func (s *Server) newCert(name, pemData string, hostnames []string) (*Cert, error) {
	block, _ := pem.Decode([]byte(pemData))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certificate: not a PEM certificate")
	}
	x, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate: %v", err)
	}
	sum := md5.Sum(block.Bytes)
	var fp []string
	for _, b := range sum {
		fp = append(fp, fmt.Sprintf("%02X", b))
	}
	now := time.Now().UTC().Truncate(time.Second)
	if hostnames == nil {
		hostnames = []string{}
	}
	return &Cert{ID: s.newID(), Name: name, Fingerprint: "MD5 Fingerprint=" + strings.Join(fp, ":"), Hostnames: hostnames,
		ExpiresOn: x.NotAfter.UTC(), CreatedAt: now, UpdatedAt: now, PEM: pemData}, nil
}

func (s *Server) listCerts(r *http.Request) reply {
	q := r.URL.Query()
	page, perPage := 1, 50
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fail(http.StatusBadRequest, 12000, "page: must be an integer >= 1")
		}
		page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 50 {
			return fail(http.StatusBadRequest, 12000, "per_page: must be an integer from 5 to 50")
		}
		perPage = n
	}
	if s.IgnorePage {
		page = 1
	}
	if s.EndlessCertPages {
		out := []*Cert{}
		for i := 0; i < perPage; i++ {
			now := time.Now().UTC().Truncate(time.Second)
			out = append(out, &Cert{ID: s.newID(), Name: fmt.Sprintf("endless %d.%d", page, i), Fingerprint: "MD5 Fingerprint=00", Hostnames: []string{},
				ExpiresOn: now.AddDate(1, 0, 0), CreatedAt: now, UpdatedAt: now})
		}
		rep := ok(http.StatusOK, out)
		rep.info = map[string]int{"page": page, "per_page": perPage, "count": perPage, "total_count": (page + 1) * perPage, "total_pages": page + 1}
		return rep
	}
	total := len(s.Certs)
	from := min((page-1)*perPage, total)
	to := min(from+perPage, total)
	out := append([]*Cert{}, s.Certs[from:to]...)
	rep := ok(http.StatusOK, out)
	rep.info = map[string]int{"page": page, "per_page": perPage, "count": len(out), "total_count": total, "total_pages": (total + perPage - 1) / perPage}
	return rep
}

func (s *Server) createCert(body []byte) reply {
	obj, rep, bad := object(body, map[string]string{"name": "string", "certificate": "string", "associated_hostnames": "[]string"}, "name", "certificate")
	if bad {
		return rep
	}
	hosts := strings2(obj["associated_hostnames"])
	if rep, bad := s.checkHostnames(hosts, ""); bad {
		return rep
	}
	c, err := s.newCert(obj["name"].(string), obj["certificate"].(string), hosts)
	if err != nil {
		return fail(http.StatusBadRequest, 12130, "%v", err)
	}
	for _, old := range s.Certs {
		if old.Fingerprint == c.Fingerprint {
			return fail(http.StatusBadRequest, 12134, "certificate already exists")
		}
	}
	if len(s.Certs) >= 50 {
		return fail(http.StatusBadRequest, 12135, "account has reached the limit of 50 mTLS certificates")
	}
	s.Certs = append(s.Certs, c)
	return ok(http.StatusCreated, c)
}

func (s *Server) checkHostnames(hosts []string, self string) (reply, bool) {
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, "/: *") {
			return fail(http.StatusBadRequest, 12131, "associated_hostnames: %q is not a hostname", h), true
		}
		if !s.RefuseSharedHostnames {
			continue
		}
		for _, c := range s.Certs {
			if c.ID == self {
				continue
			}
			for _, x := range c.Hostnames {
				if strings.EqualFold(x, h) {
					return fail(http.StatusBadRequest, 12132, "hostname %s is already associated with certificate %s", h, c.ID), true
				}
			}
		}
	}
	return reply{}, false
}

func (s *Server) oneCert(r *http.Request, id string, body []byte) reply {
	idx := -1
	for i, c := range s.Certs {
		if c.ID == id {
			idx = i
		}
	}
	if idx < 0 {
		return fail(http.StatusNotFound, 12133, "certificate not found")
	}
	c := s.Certs[idx]
	switch r.Method {
	case http.MethodGet:
		return ok(http.StatusOK, c)
	case http.MethodPut:
		obj, rep, bad := object(body, map[string]string{"name": "string", "associated_hostnames": "[]string"}, "associated_hostnames")
		if bad {
			return rep
		}
		hosts := strings2(obj["associated_hostnames"])
		if rep, bad := s.checkHostnames(hosts, c.ID); bad {
			return rep
		}
		c.Hostnames = hosts
		if n, ok := obj["name"].(string); ok {
			c.Name = n
		}
		c.UpdatedAt = time.Now().UTC().Truncate(time.Second)
		return ok(http.StatusOK, c)
	case http.MethodDelete:
		if len(c.Hostnames) > 0 {
			return fail(http.StatusBadRequest, 12136, "certificate is in use by associated hostnames")
		}
		s.Certs = append(s.Certs[:idx], s.Certs[idx+1:]...)
		return ok(http.StatusOK, map[string]string{"id": id})
	}
	return fail(http.StatusMethodNotAllowed, 10405, "method not allowed")
}

func (s *Server) settings(r *http.Request, body []byte) reply {
	switch r.Method {
	case http.MethodGet:
		if s.SettingsPerPage > 0 {
			page := 1
			if v, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && v > 0 && !s.IgnorePage {
				page = v
			}
			from := min((page-1)*s.SettingsPerPage, len(s.Settings))
			to := min(from+s.SettingsPerPage, len(s.Settings))
			rep := ok(http.StatusOK, append([]Setting{}, s.Settings[from:to]...))
			rep.info = map[string]int{"page": page, "per_page": s.SettingsPerPage, "count": to - from, "total_count": len(s.Settings)}
			return rep
		}
		return ok(http.StatusOK, append([]Setting{}, s.Settings...))
	case http.MethodPut:
		obj, rep, bad := object(body, map[string]string{"settings": "[]object"}, "settings")
		if bad {
			return rep
		}
		var next []Setting
		for i, item := range obj["settings"].([]any) {
			raw, _ := json.Marshal(item)
			o, rep, bad := object(raw, map[string]string{"hostname": "string", "china_network": "bool", "client_certificate_forwarding": "bool"},
				"hostname", "china_network", "client_certificate_forwarding")
			if bad {
				rep.errs[0].Message = fmt.Sprintf("settings[%d].%s", i, rep.errs[0].Message)
				return rep
			}
			next = append(next, Setting{Hostname: o["hostname"].(string), ChinaNetwork: o["china_network"].(bool), Forwarding: o["client_certificate_forwarding"].(bool)})
		}
		s.Settings = next
		return ok(http.StatusAccepted, append([]Setting{}, next...))
	}
	return fail(http.StatusMethodNotAllowed, 10405, "method not allowed")
}
