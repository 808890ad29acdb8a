package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

// Hints, notes and warnings name the command to run next ("rebuild it
// with 'mtlsctl crl build pki/serials.txt'"). pkix writes that command
// without the flags of the command now running, which it does not know;
// here, and only here, each command named in such a text gets the flags
// that say where to work (--dir, --issuer, --signer and its credentials)
// as the user gave them, quoted for the shell, so the line can be pasted
// as printed. Without this, a hint after 'check --dir pki' ran in the
// wrong directory and its error sent the user to 'ca init': a second CA.
//
// A value the environment gave (MTLSCTL_DIR, MTLSCTL_SIGNER…) is not
// repeated: it is still set where the line is pasted.
//
// The form pkix follows: a command is "mtlsctl VERB…" either inside
// single quotes, or after ": " or "(" running to the end of the text, a
// bracket, ";" or ",". A
// flag the command already names is left as it is (so "--dir DIR" in a
// hint about another directory stays), and "--signer …" is a place for
// the signer's URL.

// contextFlags are the flags a next command repeats, in this order.
var contextFlags = []string{"dir", "issuer", "signer", "signer-ca", "signer-cert", "signer-key"}

// hintContext is what the running command was given of contextFlags.
type hintContext struct {
	root   []*cli.Command
	values map[string]string
}

// recordHintFlags makes every command note its contextFlags in u before
// it runs, so whatever it prints can name the next command completely.
func recordHintFlags(u *ui, root []*cli.Command) {
	u.hints = &hintContext{root: root}
	var walk func(cmds []*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			walk(cmd.Subcommands)
			if cmd.Action == nil {
				continue
			}
			action, flags, env := cmd.Action, flagNames(cmd), flagEnvVars(cmd)
			cmd.Action = func(c *cli.Context) error {
				values := map[string]string{}
				for _, f := range contextFlags {
					if !flags[f] {
						continue
					}
					values[f] = c.String(f)
					// A value from the environment (MTLSCTL_DIR, MTLSCTL_SIGNER…)
					// is still there where the hint is pasted: not repeated.
					if fromEnv(env[f], values[f]) {
						values[f] = envValue
					}
				}
				if values["dir"] == "." || values["dir"] == envValue {
					values["dir"] = "" // the default, or the environment's: nothing to repeat
				}
				u.hints.values = values
				return action(c)
			}
		}
	}
	walk(root)
}

// envValue stands for a value the environment gave: a hint drops the
// flag rather than repeat it ("--signer …" goes, MTLSCTL_SIGNER stays).
const envValue = "\x00env"

func flagEnvVars(cmd *cli.Command) map[string][]string {
	env := map[string][]string{}
	for _, f := range cmd.Flags {
		if sf, ok := f.(*cli.StringFlag); ok {
			env[sf.Name] = sf.EnvVars
		}
	}
	return env
}

func fromEnv(vars []string, value string) bool {
	for _, v := range vars {
		if value != "" && os.Getenv(v) == value {
			return true
		}
	}
	return false
}

func flagNames(cmd *cli.Command) map[string]bool {
	names := map[string]bool{}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			names[n] = true
		}
	}
	return names
}

// complete returns text with every command it names completed by the
// running command's flags. A nil context (before a command runs) changes
// nothing.
func (h *hintContext) complete(text string) string {
	if h == nil || len(h.values) == 0 || !strings.Contains(text, "mtlsctl ") {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, "mtlsctl ")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		quoted, ok := commandStart(text, i)
		if !ok {
			b.WriteString(text[:i+len("mtlsctl ")])
			text = text[i+len("mtlsctl "):]
			continue
		}
		if leaf, _ := findLeaf(h.root, commandWords(text[i+len("mtlsctl "):])); leaf == nil {
			// prose ("an mtlsctl CA"), not a command
			b.WriteString(text[:i+len("mtlsctl ")])
			text = text[i+len("mtlsctl "):]
			continue
		}
		b.WriteString(text[:i])
		text = text[i:]
		end := len(text)
		if quoted {
			if j := strings.IndexByte(text, '\''); j >= 0 {
				end = j
			}
		} else if j := strings.IndexAny(text, "();,"); j >= 0 {
			end = j
		}
		b.WriteString(h.completeCommand(text[:end]))
		text = text[end:]
	}
}

// completeCommand completes one "mtlsctl VERB… ARGS" (the text of one
// command, nothing around it).
func (h *hintContext) completeCommand(command string) string {
	words := strings.Fields(command)[1:]
	leaf, n := findLeaf(h.root, words)
	if leaf == nil {
		return command // prose ("mtlsctl does not…"), not a command
	}
	has, rest := flagNames(leaf), words[n:]
	given := func(flag string) int {
		for i, w := range rest {
			if w == "--"+flag || strings.HasPrefix(w, "--"+flag+"=") || (flag == "dir" && w == "-d") {
				return i
			}
		}
		return -1
	}
	all := strings.Join(words[:n], " ") == "crl build" && slices.Contains(rest, "--all")
	var add []string
	for _, f := range contextFlags {
		v := h.values[f]
		if v == "" || !has[f] {
			continue
		}
		if strings.HasPrefix(f, "signer-") && given("signer") < 0 && h.values["signer"] == "" {
			continue // credentials only with the signer they are for
		}
		if all && (slices.Contains(crlBuildAllConflicts, f) || strings.HasPrefix(f, "signer-")) {
			continue // 'crl build --all' refuses them: it builds every CA's list here
		}
		i := given(f)
		placeholder := i >= 0 && i+1 < len(rest) && (rest[i+1] == "…" || rest[i+1] == "..." || rest[i+1] == "URL")
		switch {
		case v == envValue && placeholder:
			rest = slices.Delete(rest, i, i+2) // the environment names it
		case v == envValue:
		case i < 0:
			add = append(add, "--"+f, x509text.ShellQuote(v))
		case placeholder:
			rest[i+1] = x509text.ShellQuote(v)
		}
	}
	return strings.Join(slices.Concat([]string{"mtlsctl"}, words[:n], add, rest), " ")
}

// findLeaf walks the command path at the start of words: the command it
// names and how many words that took.
func findLeaf(cmds []*cli.Command, words []string) (*cli.Command, int) {
	var leaf *cli.Command
	n := 0
	for n < len(words) {
		next := findCommand(cmds, words[n])
		if next == nil || next.Name == "help" {
			break
		}
		leaf, cmds = next, next.Subcommands
		n++
	}
	// urfave/cli gives a command it runs a help subcommand: not a verb.
	if leaf == nil || slices.ContainsFunc(leaf.Subcommands, func(c *cli.Command) bool { return c.Name != "help" }) {
		return nil, 0
	}
	return leaf, n
}

// whereIsTheCA replaces the hint of an error that sends the user to 'ca
// init', or says a file is missing, when the directory the command used
// holds no CA but a directory right below it does: the user is in the
// wrong place, and following the hint would make a second CA.
func (h *hintContext) whereIsTheCA(err error, hint string) string {
	if h == nil || !(errors.Is(err, fs.ErrNotExist) || namesCommand(h.root, hint, "ca init")) {
		return hint
	}
	if m := h.caBelow(); m != "" {
		return m
	}
	return hint
}

// caBelow says where the CA is when the command's --dir holds none but a
// directory right below it does; "" otherwise, and for a command without
// --dir.
func (h *hintContext) caBelow() string {
	if h == nil {
		return ""
	}
	dir, ok := h.values["dir"]
	if !ok {
		return ""
	}
	if dir == "" {
		dir = "."
	}
	if dirview.HoldsCA(dir) {
		return ""
	}
	below := dirview.CADirsBelow(dir)
	if len(below) == 0 {
		return ""
	}
	var shown []string
	for _, b := range below {
		shown = append(shown, b+"/")
	}
	if len(below) == 1 {
		return fmt.Sprintf("no CA in %s; %s holds one: add --dir %s", dir, shown[0], x509text.ShellQuote(below[0]))
	}
	return fmt.Sprintf("no CA in %s; %s hold one each: add --dir with the one you mean", dir, strings.Join(shown, ", "))
}

// namesCommand says whether text names the command path (e.g. "ca init").
func namesCommand(root []*cli.Command, text, path string) bool {
	for _, part := range strings.Split(text, "mtlsctl ")[1:] {
		words := commandWords(part)
		if leaf, n := findLeaf(root, words); leaf != nil && strings.Join(words[:n], " ") == path {
			return true
		}
	}
	return false
}

// commandWords splits the text after "mtlsctl " into words, without the
// quotes and brackets around a command.
func commandWords(s string) []string {
	return strings.Fields(strings.NewReplacer("'", " ", "(", " ", ")", " ", ";", " ", ",", " ").Replace(s))
}

// commandStart says whether the "mtlsctl " at text[i] starts a command in
// the form hints use: inside single quotes (quoted), or unquoted at the
// start of the text or after ": ", "(" or a double quote. "written by
// mtlsctl serve" is prose, and so is "create a new CA with mtlsctl ca
// init": a new CA goes elsewhere, not into this --dir.
func commandStart(text string, i int) (quoted, ok bool) {
	if i == 0 {
		return false, true
	}
	if text[i-1] == '\'' {
		return true, true
	}
	return false, strings.HasSuffix(text[:i], ": ") || strings.ContainsRune("(\"`", rune(text[i-1]))
}
