package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sendops/internal/templates"
)

const templatesUsage = `Usage:
  sendops templates lint DIR
      checks every template the repository in DIR maps (sendops.json,
      glob rules, front matter); prints file:line:col: severity: message
      and exits 1 if there is an error
  sendops templates render DIR NAME [--data FILE]
      renders template NAME as SES would, with the JSON object in FILE
      (default: the template's sample data); prints the subject, text and
      HTML parts, each after a line "=== subject", "=== text", "=== html"
`

// runTemplates runs sendops templates lint and render: the same loading,
// parsing and rendering the server uses, for a team's own CI.
func runTemplates(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{"templates needs lint DIR or render DIR NAME [--data FILE]"}
	}
	switch args[0] {
	case "lint":
		return templatesLint(fs, args[1:], stdout)
	case "render":
		return templatesRender(fs, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, templatesUsage)
		return nil
	}
	return &usageError{fmt.Sprintf("unknown command %q (sendops templates help lists them)", "templates "+args[0])}
}

// parseArgs parses flags wherever they are among the arguments and
// returns the others.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, templatesUsage)
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// loadTemplates reads the repository in dir.
func loadTemplates(dir string) ([]templates.Template, []templates.Problem, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, nil, err
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("%s is not a directory", dir)
	}
	ts, probs := templates.Load(os.DirFS(dir), nil)
	return ts, probs, nil
}

// printProblems prints problems with their files' paths as seen from the
// working directory: under dir, except for files given as is.
func printProblems(w io.Writer, dir string, probs []templates.Problem, asIs string) {
	templates.SortProblems(probs)
	for _, p := range probs {
		if p.File != asIs || asIs == "" {
			p.File = filepath.Join(dir, filepath.FromSlash(p.File))
		}
		fmt.Fprintln(w, p)
	}
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func templatesLint(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	pos, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"templates lint needs one DIR"}
	}
	dir := pos[0]
	ts, probs, err := loadTemplates(dir)
	if err != nil {
		return err
	}
	for _, t := range ts {
		probs = append(probs, templates.Lint(t)...)
	}
	printProblems(stdout, dir, probs, "")
	errs := 0
	for _, p := range probs {
		if p.Severity == templates.Error {
			errs++
		}
	}
	summary := fmt.Sprintf("%s: %s, %s", count(len(ts), "template"), count(errs, "error"), count(len(probs)-errs, "warning"))
	if len(ts) == 0 && errs == 0 {
		return fmt.Errorf("no templates in %s: no %s, and no HTML file whose front matter names it or gives its subject", dir, templates.ManifestFile)
	}
	if errs > 0 {
		return errors.New(summary)
	}
	fmt.Fprintln(stdout, summary)
	return nil
}

func templatesRender(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	dataFile := fs.String("data", "", "a file holding the template data, a JSON object (default: the template's sample data)")
	pos, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return &usageError{"templates render needs DIR and NAME"}
	}
	dir, name := pos[0], pos[1]
	ts, probs, err := loadTemplates(dir)
	if err != nil {
		return err
	}
	var found []templates.Template
	var names []string
	for _, t := range ts {
		if t.Name == name {
			found = append(found, t)
		}
		names = append(names, t.Name)
	}
	// The mapping's problems that concern this template, or all of it.
	var mine []templates.Problem
	for _, p := range probs {
		if p.Template == name || p.Template == "" {
			mine = append(mine, p)
		}
	}
	if len(found) == 0 {
		printProblems(stderr, dir, mine, "")
		if len(names) == 0 {
			return fmt.Errorf("no template named %q in %s: it has none", name, dir)
		}
		return fmt.Errorf("no template named %q in %s (it has %s)", name, dir, strings.Join(names, ", "))
	}
	if templates.HasErrors(mine) {
		printProblems(stderr, dir, mine, "")
		return fmt.Errorf("template %q is not mapped cleanly", name)
	}
	var data templates.Part
	if *dataFile != "" {
		b, err := os.ReadFile(*dataFile)
		if err != nil {
			return err
		}
		data = templates.Part{File: *dataFile, Line: 1, Col: 1, Source: string(b)}
	}
	out, rprobs := templates.Render(found[0], data)
	printProblems(stderr, dir, append(mine, rprobs...), *dataFile)
	if templates.HasErrors(rprobs) {
		return fmt.Errorf("template %q does not render", name)
	}
	t := found[0]
	part := func(label string, present bool, s string) {
		if !present {
			fmt.Fprintf(stdout, "=== %s (none)\n", label)
			return
		}
		fmt.Fprintf(stdout, "=== %s\n%s", label, s)
		if !strings.HasSuffix(s, "\n") {
			fmt.Fprintln(stdout)
		}
	}
	part("subject", t.Subject.Present(), out.Subject)
	part("text", t.Text.Present(), out.Text)
	part("html", t.HTML.Present(), out.HTML)
	return nil
}
