package pkix

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// The core says what to do next in words, and names the command or flag
// that does it with a typed value: the CLI, which alone knows how verbs
// and flags are spelled, turns each into text. A message that names a
// next step is a Text whose Format holds a %s for each such value.

// Action is a step the user can take with a command of the CLI.
type Action int

const (
	ActMakeCA           Action = iota + 1 // create the root CA in a directory
	ActMakeIntermediate                   // create an intermediate CA under the root
	ActValidateCA                         // check a CA certificate or chain before uploading it
	ActCheck                              // list what expires and what is wrong
	ActListClients                        // list the recorded client certificates
	ActIssueClient                        // issue a client certificate with a new key
	ActRequestClient                      // make a key and a request on the device
	ActSignRequest                        // sign a device's request
	ActRenewClient                        // renew a recorded client certificate
	ActRevokeClient                       // record a revocation
	ActBuildCRL                           // build a CRL
	ActMakeSigner                         // set up the signer's CA and server certificate
	ActRunSigner                          // run the signer
	ActUploadCA                           // upload a CA to Access
	ActDeleteCA                           // delete a CA from Access
	ActMakeRunner                         // give a runner its certificate for the signer
)

// Option is a flag of the CLI, named by what it sets.
type Option int

const (
	OptAll                Option = iota + 1 // every one of them
	OptPathLen                              // an intermediate's path length
	OptRunner                               // a runner's name
	OptAccountID                            // the Cloudflare account
	OptDeploy                               // the Worker to deploy
	OptHostname                             // an Access hostname
	OptKVNamespaceID                        // the Workers KV namespace
	OptNoCreate                             // refuse to add a CA to Access
	OptReplace                              // the CA a new one replaces in Access
	OptStore                                // where the Worker reads revocations
	OptTokenFile                            // a file holding the API token
	OptZoneID                               // the Cloudflare zone
	OptAllowDNSpecials                      // allow a DN's special characters in a CN
	OptFixOrder                             // write a chain in Access's order
	OptHost                                 // a name runners connect to
	OptPasswordFile                         // a file holding a password
	OptProfile                              // a cfssl signing profile
	OptKeyType                              // the key's type and size
	OptAllWithKey                           // the other certificates of a compromised key
	OptAllowUnrevoke                        // lift a certificateHold
	OptCA                                   // the CA certificate file
	OptCAKey                                // the CA key file
	OptCert                                 // a certificate file
	OptCN                                   // a certificate's CN
	OptCRL                                  // a CRL file, or: rebuild the CRL too
	OptDB                                   // the signer's database
	OptDecimal                              // serials are decimal
	OptDir                                  // the PKI directory
	OptForce                                // replace, keeping a .bak
	OptForeign                              // a certificate the inventory does not record
	OptIssuer                               // the issuing CA of the directory
	OptName                                 // the file base name
	OptOut                                  // the output file
	OptP12                                  // also write a PKCS#12 file
	OptReason                               // a revocation reason
	OptRequest                              // a device's request file
	OptReuseKey                             // renew with the same key
	OptRevokeOld                            // revoke the certificate a renewal replaces
	OptSerial                               // a serial in hex
	OptSigner                               // the signer's URL
	OptStrict                               // refuse serials not in the inventory
	OptSubjectFromRequest                   // take the subject from the request
	OptValid                                // only valid certificates
)

// Command is a whole command line: an action and its arguments, each an
// Option, a Flag, or a plain operand (a string, shown as it is).
type Command struct {
	Action Action
	Args   []any
}

// Cmd is the command line for action with args.
func Cmd(action Action, args ...any) Command { return Command{Action: action, Args: args} }

// Flag is an option with its value, the value shown as it is (quote it
// with ShellQuote when it comes from input).
type Flag struct {
	Option Option
	Value  string
}

// MoveAway is the hint for a file in the way of one being written.
var MoveAway = Textf("move it away, choose another %s/%s, or pass %s to keep the old file as a .bak copy", OptName, OptDir, OptForce)

// With is the option with a value.
func (o Option) With(value string) Flag { return Flag{Option: o, Value: value} }

// Text is a message in words; each %s in Format is one of Args: a
// Command, Action, Option or Flag, which the CLI spells, or any other
// value, formatted as fmt does. A Text without Args is Format as it is.
type Text struct {
	Format string
	Args   []any
}

// Words is a Text that names no command or flag.
func Words(s string) Text { return Text{Format: s} }

// Textf is a Text of format with args (see Text).
func Textf(format string, args ...any) Text { return Text{Format: format, Args: args} }

// IsZero says whether t is empty.
func (t Text) IsZero() bool { return t.Format == "" }

// Spell renders t with spell for every Command, Action, Option and Flag
// in it.
func (t Text) Spell(spell func(any) string) string {
	if len(t.Args) == 0 {
		return t.Format
	}
	args := make([]any, len(t.Args))
	for i, a := range t.Args {
		switch a.(type) {
		case Command, Action, Option, Flag:
			args[i] = spell(a)
		default:
			args[i] = a
		}
	}
	return fmt.Sprintf(t.Format, args...)
}

// HintOf returns the hint carried by err, if any: the first *Error's
// in its chain when that has one, else that of the first other error
// with a HintText method (a Cloudflare API error, the CLI's own).
func HintOf(err error) Text {
	var pe *Error
	if errors.As(err, &pe) && pe.Hint != "" {
		return pe.HintText()
	}
	var other Text
	var walk func(error) bool
	walk = func(err error) bool {
		if err == nil {
			return false
		}
		if h, ok := err.(interface{ HintText() Text }); ok {
			if _, isError := err.(*Error); !isError {
				other = h.HintText()
				return true
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e) {
					return true
				}
			}
		case interface{ Unwrap() error }:
			return walk(u.Unwrap())
		}
		return false
	}
	walk(err)
	return other
}

// HintText is the error's hint (see Error.Hint).
func (e *Error) HintText() Text { return Text{Format: e.Hint, Args: e.HintArgs} }

// speller is the CLI's spelling of steps (SetSpeller).
var speller atomic.Pointer[func(any) string]

// SetSpeller registers how the CLI spells a Command, Action, Option or
// Flag. Notes and warnings travel as strings (in results that are also
// printed as JSON), so they are spelled when made, with this; errors
// carry their Text to the CLI instead.
func SetSpeller(spell func(any) string) { speller.Store(&spell) }

// String is t spelled with the registered speller; without one (outside
// the CLI), each step shows as its Go value.
func (t Text) String() string {
	if f := speller.Load(); f != nil {
		return t.Spell(*f)
	}
	return t.Spell(func(v any) string { return fmt.Sprintf("%#v", v) })
}
