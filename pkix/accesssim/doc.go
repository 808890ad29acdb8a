// Package accesssim emulates a Cloudflare Access application with an mTLS
// policy, for testing certificates locally before anything is uploaded:
// which certificates get in, which CAs' CRLs count, and Access's answer.
package accesssim
