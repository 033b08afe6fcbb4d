package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// streams is the process's standard streams, passed explicitly so commands can
// be run from tests.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand. run receives the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, std streams, args []string) error
}

var commands []command

func register(c command) { commands = append(commands, c) }

// errHelpShown ends a command successfully after --help printed its usage.
var errHelpShown = errors.New("help shown")

// usageError is a mistake on the command line; main prints it with a hint
// and exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func run(ctx context.Context, std streams, args []string) error {
	if len(args) == 0 {
		printHelp(std.err)
		return usagef("no command given")
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 1 {
			if c, ok := lookup(rest[0]); ok {
				return c.run(ctx, std, []string{"--help"})
			}
		}
		printHelp(std.out)
		return nil
	}
	c, ok := lookup(name)
	if !ok {
		return usagef("unknown command %q", name)
	}
	return c.run(ctx, std, rest)
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func printHelp(w io.Writer) {
	sorted := append([]command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	fmt.Fprintln(w, "flowlab — notebooks for network-security analytics")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: flowlab <command> [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'flowlab <command> --help' for a command's flags.")
}

// newFlags builds a FlagSet whose --help prints usage (synopsis, description,
// flags) to std.out and ends the command with errHelpShown.
func newFlags(std streams, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: flowlab %s\n\n%s\n", synopsis, strings.TrimSpace(description))
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, turning -h/--help into errHelpShown (usage printed
// to stdout) and bad flags into a usageError.
func parseFlags(fs *flag.FlagSet, std streams, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(std.out)
			fs.Usage()
			return errHelpShown
		}
	}
	fs.SetOutput(std.err)
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	return nil
}
