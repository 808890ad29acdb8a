package commands

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix"
)

// TestEveryHintedCommandGetsTheDir enumerates the commands that hints,
// notes and warnings name, from the source of commands and every pkix
// package (each string literal with "mtlsctl VERB"), and checks that each
// one, as completed for a command run with --dir "my pki", names that
// directory: pasted, it works where the CA is, not in the current
// directory (where its error used to send the user to 'ca init').
func TestEveryHintedCommandGetsTheDir(t *testing.T) {
	app := newApp(newUI(io.Discard, io.Discard), nil)
	u := &ui{}
	recordHintFlags(u, app.Commands)
	u.hints.values = map[string]string{"dir": "my pki", "issuer": "", "signer": ""}

	var files []string
	for _, glob := range []string{"*.go", "../pkix/*.go", "../pkix/*/*.go"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "completion.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !strings.Contains(s, "mtlsctl ") || strings.Contains(s, "\n   mtlsctl") || strings.Contains(s, "EXAMPLES") {
				return true // help text's examples are not hints
			}
			for i := strings.Index(s, "mtlsctl "); i >= 0; i = next(s, i) {
				part := s[i+len("mtlsctl "):]
				words := commandWords(part)
				if _, ok := commandStart(s, i); !ok {
					if leaf, _ := findLeaf(app.Commands, words); leaf != nil {
						t.Logf("%s: prose, not completed: %q", f, s)
					}
					continue
				}
				leaf, n := findLeaf(app.Commands, words)
				if leaf == nil || !flagNames(leaf)["dir"] {
					continue
				}
				checked++
				cmd := strings.Join(words[:n], " ")
				got := u.hints.complete(s)
				if !strings.Contains(got, "mtlsctl "+cmd+" --dir \"my pki\"") && !strings.Contains(strings.SplitN(got, "mtlsctl "+cmd, 2)[1], "--dir") {
					t.Errorf("%s: %q completes to %q: 'mtlsctl %s' without the --dir", f, s, got, cmd)
				}
			}
			return true
		})
	}
	// pkix names most commands as typed actions, spelled here.
	for a := range actionVerbs {
		s := "run it: " + spell(pkix.Cmd(a))
		words := commandWords(strings.TrimPrefix(s, "run it: mtlsctl "))
		leaf, n := findLeaf(app.Commands, words)
		if leaf == nil || !flagNames(leaf)["dir"] {
			continue
		}
		checked++
		cmd := strings.Join(words[:n], " ")
		if got := u.hints.render(pkix.Textf("run it: %s", pkix.Cmd(a))); !strings.Contains(got, "mtlsctl "+cmd+" --dir \"my pki\"") {
			t.Errorf("action %d completes to %q: 'mtlsctl %s' without the --dir", a, got, cmd)
		}
	}
	if checked < 20 {
		t.Fatalf("only %d hinted commands found: is the source still where the test looks?", checked)
	}
	t.Logf("%d hinted commands checked", checked)
}

// TestCompleteHintCommands: the flags the user typed are repeated and
// quoted, a "--signer …" placeholder takes the URL, values the
// environment gave are left to it, and prose is left alone.
func TestCompleteHintCommands(t *testing.T) {
	app := newApp(newUI(io.Discard, io.Discard), nil)
	u := &ui{}
	recordHintFlags(u, app.Commands)
	for _, c := range []struct {
		values   map[string]string
		in, want string
	}{
		{map[string]string{"dir": "my pki"}, "renew them: mtlsctl client renew --expiring 30d",
			`renew them: mtlsctl client renew --dir "my pki" --expiring 30d`},
		{map[string]string{"dir": "pki", "signer": "https://s:8888"}, "publish it: mtlsctl crl build --signer …",
			"publish it: mtlsctl crl build --dir pki --signer https://s:8888"},
		{map[string]string{"dir": "pki", "signer": envValue}, "publish it: mtlsctl crl build --signer …",
			"publish it: mtlsctl crl build --dir pki"},
		{map[string]string{"dir": "", "issuer": "intermediate"}, "rebuild it with 'mtlsctl crl build serials.txt --issuer ca', or not",
			"rebuild it with 'mtlsctl crl build serials.txt --issuer ca', or not"},
		// crl build --all refuses --issuer and --signer: not added to it
		{map[string]string{"dir": "pki", "issuer": "intermediate", "signer": "https://s:8888", "signer-ca": "s.pem"}, "every CA's: 'mtlsctl crl build --all'",
			"every CA's: 'mtlsctl crl build --dir pki --all'"},
		{map[string]string{"dir": "a'b"}, "see 'mtlsctl client list'", `see 'mtlsctl client list --dir "a'b"'`},
		{map[string]string{"dir": "pki"}, "for an mtlsctl CA: mtlsctl crl build)", "for an mtlsctl CA: mtlsctl crl build --dir pki)"},
		{map[string]string{"dir": "pki"}, "not issued by mtlsctl; mtlsctl does not know it", "not issued by mtlsctl; mtlsctl does not know it"},
	} {
		u.hints.values = c.values
		if got := u.hints.complete(c.in); got != c.want {
			t.Errorf("%v %q:\n got %q\nwant %q", c.values, c.in, got, c.want)
		}
	}
}

func next(s string, i int) int {
	j := strings.Index(s[i+1:], "mtlsctl ")
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
