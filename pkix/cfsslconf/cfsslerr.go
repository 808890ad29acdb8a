package cfsslconf

import (
	"errors"
	"fmt"

	cferr "github.com/cloudflare/cfssl/errors"
)

// CfsslMessage extracts the human part of cfssl's JSON error blobs
// ({"code":5200,"message":"..."}) so they never reach the user as JSON.
func CfsslMessage(err error) string {
	var ce *cferr.Error
	if errors.As(err, &ce) {
		msg := ce.Message
		if msg == "" {
			msg = fmt.Sprintf("cfssl error %d", ce.ErrorCode)
		}
		return msg
	}
	return err.Error()
}
