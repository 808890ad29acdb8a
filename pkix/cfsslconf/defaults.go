package cfsslconf

import "strings"

// The built-in inputs, used when the directory has no JSON files. They are
// the guide's files with two deliberate changes: the CA lifetime is written
// out (it is cfssl's default, 5 years) so it can be edited, and the client
// profile's usages are "digital signature" + "client auth": the guide's
// "key encipherment" next to clientAuth is flagged by RFC 5280 linters
// (zlint e_key_usage_and_extended_key_usage_inconsistent).

// DefaultCARequestJSON is what `ca init` uses and writes as ca-csr.json.
const DefaultCARequestJSON = `{
  "CN": "Access Testing CA",
  "key": {
    "algo": "rsa",
    "size": 4096
  },
  "names": [
    {
      "C": "US",
      "L": "Austin",
      "O": "Access Testing",
      "OU": "TX",
      "ST": "Texas"
    }
  ],
  "ca": {
    "expiry": "43800h"
  }
}
`

// DefaultConfigJSON is what `ca init` uses and writes as ca-config.json.
const DefaultConfigJSON = `{
  "signing": {
    "default": {
      "expiry": "8760h"
    },
    "profiles": {
      "server": {
        "usages": ["signing", "key encipherment", "server auth"],
        "expiry": "8760h"
      },
      "client": {
        "usages": ["digital signature", "client auth"],
        "expiry": "8760h"
      }
    }
  }
}
`

// defaultClientRequestJSON is the guide's client-csr.json without its empty
// host; CN is filled in by DefaultClientRequest.
const defaultClientRequestJSON = `{
  "CN": "CN_PLACEHOLDER",
  "key": {
    "algo": "rsa",
    "size": 4096
  },
  "names": [
    {
      "C": "US",
      "L": "Austin",
      "O": "Access",
      "OU": "Access Admins",
      "ST": "Texas"
    }
  ]
}
`

// DefaultClientRequest is the built-in client request for --cn without a
// CSR file.
func DefaultClientRequest(cn string) *Request { return DefaultRequest(cn, ClientRequest) }

// DefaultRequest is the built-in request (the guide's client request
// without its empty host) with the given CN, for a client or, as the
// subject of an intermediate, a CA.
func DefaultRequest(cn string, kind RequestKind) *Request {
	r, err := LoadRequest("built-in request", []byte(strings.Replace(defaultClientRequestJSON, "CN_PLACEHOLDER", "x", 1)), kind)
	if err != nil {
		panic("built-in request is invalid: " + err.Error())
	}
	r.CR.CN = cn
	r.KeyGiven = false // the built-in key type is a default, not a choice
	return r
}
