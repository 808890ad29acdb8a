// Package clidoc renders a urfave/cli command tree as the CLI reference
// (Markdown) and the man page (roff, section 1). Unlike the library's own
// ToMarkdown and ToMan, both include every command's description (its
// examples), each flag's environment variables, an index of those
// variables, and the exit-code table, which the help repeats per command
// but the reference prints once.
package clidoc

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// Options says what of the help text is shared rather than per command.
type Options struct {
	// ExitCodes is the exit-code table exactly as the help prints it. It
	// gets a section of its own and is cut out of every description that
	// ends with it.
	ExitCodes string
}

type reference struct {
	name, usage, description string
	globals                  []flagDoc
	commands                 []commandDoc
	env                      []envDoc
	exitCodes                string
}

type commandDoc struct {
	path        string // "mtlsctl ca init"
	usage       string
	synopsis    string
	aliases     []string
	description string
	subcommands []string // paths
	flags       []flagDoc
	depth       int // 1 for "mtlsctl ca"
}

type flagDoc struct {
	names       []string // "--dir", "-d"
	placeholder string
	usage       string
	def         string
	env         []string
	repeatable  bool
}

type envDoc struct {
	name string
	// flags maps a flag name to the commands that read it from name.
	flags map[string][]string
	// mentioned lists the commands whose help names it otherwise.
	mentioned []string
}

func build(app *cli.App, opts Options) *reference {
	r := &reference{
		name:        app.Name,
		usage:       app.Usage,
		description: cutExitCodes(app.Description, opts.ExitCodes),
		exitCodes:   strings.TrimRight(opts.ExitCodes, "\n"),
	}
	for _, f := range append(slices.Clone(app.Flags), cli.HelpFlag, cli.VersionFlag) {
		if fd, ok := describeFlag(f); ok {
			r.globals = append(r.globals, fd)
		}
	}
	env := map[string]*envDoc{}
	var walk func(prefix string, cmds []*cli.Command, depth int)
	walk = func(prefix string, cmds []*cli.Command, depth int) {
		for _, c := range cmds {
			if c.Hidden {
				continue
			}
			cd := describeCommand(prefix, c, opts, depth)
			r.commands = append(r.commands, cd)
			for _, fd := range cd.flags {
				for _, v := range fd.env {
					e := envEntry(env, v)
					e.flags[fd.names[0]] = append(e.flags[fd.names[0]], cd.path)
				}
			}
			walk(cd.path+" ", c.Subcommands, depth+1)
		}
	}
	walk(app.Name+" ", app.Commands, 1)
	r.env = envIndex(r, env)
	return r
}

func describeCommand(prefix string, c *cli.Command, opts Options, depth int) commandDoc {
	cd := commandDoc{
		path:        prefix + c.Name,
		usage:       c.Usage,
		aliases:     c.Aliases,
		description: cutExitCodes(c.Description, opts.ExitCodes),
		depth:       depth,
	}
	for _, sub := range c.Subcommands {
		if !sub.Hidden {
			cd.subcommands = append(cd.subcommands, cd.path+" "+sub.Name)
		}
	}
	for _, f := range c.Flags {
		if fd, ok := describeFlag(f); ok {
			cd.flags = append(cd.flags, fd)
		}
	}
	switch {
	case c.UsageText != "":
		cd.synopsis = c.UsageText
	case len(cd.subcommands) > 0:
		cd.synopsis = cd.path + " COMMAND [options]"
	default:
		cd.synopsis = cd.path
		if len(cd.flags) > 0 {
			cd.synopsis += " [options]"
		}
		if c.ArgsUsage != "" {
			cd.synopsis += " " + c.ArgsUsage
		}
	}
	return cd
}

// describeFlag reads a flag the way the help prints it: the placeholder
// is the usage's `quoted` word, and the default is the flag's DefaultText
// or value, never what the environment would set.
func describeFlag(f cli.Flag) (flagDoc, bool) {
	if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
		return flagDoc{}, false
	}
	df, ok := f.(cli.DocGenerationFlag)
	if !ok {
		// A flag type that cannot describe itself still shows by name.
		return flagDoc{names: dashed(f.Names())}, len(f.Names()) > 0
	}
	fd := flagDoc{env: df.GetEnvVars()}
	fd.placeholder, fd.usage = unquoteUsage(df.GetUsage())
	if df.TakesValue() && fd.placeholder == "" {
		fd.placeholder = "value"
	}
	if fd.names = dashed(df.Names()); len(fd.names) == 0 {
		return flagDoc{}, false
	}
	if bf, isBool := f.(*cli.BoolFlag); !isBool {
		fd.def = machineFree(df.GetDefaultText())
	} else if bf.DefaultText != "" {
		fd.def = bf.DefaultText // a bool defaults to false unless it says otherwise
	}
	if sf, ok := f.(cli.DocGenerationSliceFlag); ok && sf.IsSliceFlag() {
		fd.repeatable = true
	}
	return fd, true
}

// dashed spells flag names as typed: --dir, -d.
func dashed(names []string) []string {
	var out []string
	for _, n := range names {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if len(n) == 1 {
			out = append(out, "-"+n)
		} else {
			out = append(out, "--"+n)
		}
	}
	return out
}

// unquoteUsage is urfave/cli's rule: the first `word` in the usage is the
// flag's placeholder, shown without its backquotes.
func unquoteUsage(usage string) (placeholder, text string) {
	i := strings.IndexByte(usage, '`')
	if i < 0 {
		return "", usage
	}
	j := strings.IndexByte(usage[i+1:], '`')
	if j < 0 {
		return "", usage
	}
	name := usage[i+1 : i+1+j]
	return name, usage[:i] + name + usage[i+1+j+1:]
}

// machineFree keeps a default computed where the reference is generated
// (a home directory, the working directory) out of it.
func machineFree(s string) string {
	if home, err := os.UserHomeDir(); err == nil && len(home) > 1 {
		s = strings.ReplaceAll(s, home, "$HOME")
	}
	if wd, err := os.Getwd(); err == nil && len(wd) > 1 {
		s = strings.ReplaceAll(s, wd, "$PWD")
	}
	return s
}

// cutExitCodes drops the shared table from the end of a description.
func cutExitCodes(desc, table string) string {
	if table != "" {
		if before, ok := strings.CutSuffix(strings.TrimRight(desc, "\n"), strings.TrimRight(table, "\n")); ok {
			desc = before
		}
	}
	return strings.TrimRight(desc, " \n")
}

var envName = regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b`)

func envEntry(env map[string]*envDoc, name string) *envDoc {
	e := env[name]
	if e == nil {
		e = &envDoc{name: name, flags: map[string][]string{}}
		env[name] = e
	}
	return e
}

// envIndex lists the variables flags read, and those the help text names
// (read by the code itself, such as a token), with who uses them.
func envIndex(r *reference, env map[string]*envDoc) []envDoc {
	mention := func(path, text string) {
		for _, v := range envName.FindAllString(text, -1) {
			e := envEntry(env, v)
			if len(e.flags) == 0 && !slices.Contains(e.mentioned, path) {
				e.mentioned = append(e.mentioned, path)
			}
		}
	}
	mention(r.name, r.description)
	for _, fd := range r.globals {
		mention(r.name, fd.usage)
	}
	for _, cd := range r.commands {
		mention(cd.path, cd.usage+"\n"+cd.description)
		for _, fd := range cd.flags {
			mention(cd.path, fd.usage)
		}
	}
	var out []envDoc
	for _, e := range env {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// envUse says, in words, what sets or reads an environment variable.
func envUse(r *reference, e envDoc) string {
	var parts []string
	for _, flag := range sortedKeys(e.flags) {
		parts = append(parts, fmt.Sprintf("the value of %s when it is not given (%s)", flag, commandList(r, e.flags[flag])))
	}
	if len(e.mentioned) > 0 {
		parts = append(parts, "named in the help of "+commandList(r, e.mentioned))
	}
	return strings.Join(parts, "; ")
}

// commandList names commands without the program's name, a group and all
// its commands as one, and the program itself as its global options.
func commandList(r *reference, paths []string) string {
	listed := map[string]bool{}
	for _, p := range paths {
		listed[p] = true
	}
	covered := map[string]bool{}
	var out []string
	for _, p := range paths {
		if covered[p] {
			continue
		}
		if p == r.name {
			out = append(out, "the global options")
			continue
		}
		name := shortPath(r.name, p)
		for _, c := range r.commands {
			if c.path != p || len(c.subcommands) == 0 {
				continue
			}
			all := true
			for _, s := range c.subcommands {
				all = all && listed[s]
			}
			if all {
				name += " (and all its commands)"
				for _, s := range c.subcommands {
					covered[s] = true
				}
			}
		}
		out = append(out, name)
	}
	return strings.Join(out, ", ")
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// block is a run of a description: prose to fill, or lines to keep as
// they are (examples, tables), which the help indents.
type block struct {
	pre   bool
	lines []string
}

// blocks splits a description into paragraphs at blank lines, and a
// paragraph where indentation starts or stops: indented lines (examples,
// tables) are kept as they are, the rest is prose. A paragraph whose
// unindented lines align columns with spaces is a table, its indented
// lines the hanging indent of a wrapped row, and is kept whole.
func blocks(text string) [][]block {
	var paras [][]block
	for _, para := range strings.Split(strings.ReplaceAll(text, "\t", "        "), "\n\n") {
		var bs []block
		table := false
		for _, line := range strings.Split(para, "\n") {
			if line = strings.TrimRight(line, " "); line == "" {
				continue
			}
			pre := strings.HasPrefix(line, " ")
			table = table || !pre && alignedColumns.MatchString(line)
			if len(bs) == 0 || bs[len(bs)-1].pre != pre {
				bs = append(bs, block{pre: pre})
			}
			bs[len(bs)-1].lines = append(bs[len(bs)-1].lines, line)
		}
		if table {
			var all []string
			for _, b := range bs {
				all = append(all, b.lines...)
			}
			bs = []block{{pre: true, lines: all}}
		}
		for i := range bs {
			if bs[i].pre {
				bs[i].lines = dedent(bs[i].lines)
			}
		}
		if len(bs) > 0 {
			paras = append(paras, bs)
		}
	}
	return paras
}

var alignedColumns = regexp.MustCompile(`\S {3,}\S`)

func dedent(lines []string) []string {
	least := -1
	for _, l := range lines {
		n := len(l) - len(strings.TrimLeft(l, " "))
		if least < 0 || n < least {
			least = n
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l[least:]
	}
	return out
}

// heading is a line such as "EXAMPLES:" that the help uses as a title.
func heading(b block) bool {
	if b.pre || len(b.lines) != 1 {
		return false
	}
	l := b.lines[0]
	return strings.HasSuffix(l, ":") && strings.ToUpper(l) == l && strings.ContainsAny(l, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

// shortPath is a command's path without the program name.
func shortPath(app, path string) string {
	return strings.TrimPrefix(path, app+" ")
}
