package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/flowlab/flowlab/datalake/taps"
)

func init() {
	register(command{name: "taps", summary: "list the data taps, or print a tap's messages as they arrive ('taps tail TAP')", run: runTaps})
}

func runTaps(ctx context.Context, std streams, args []string) error {
	if len(args) > 0 && args[0] == "tail" {
		return runTapsTail(ctx, std, args[1:])
	}
	fs := newFlags(std, "taps", "taps [list] [--taps FILE] | taps tail TAP [flags]", `
List the configured data taps (name, topic, brokers), or with 'tail' print a
tap's messages as they arrive. The taps configuration is --taps or
$FLOWLAB_TAPS: a JSON file, or the JSON itself (docs/taps.md).`)
	conf := fs.String("taps", os.Getenv("FLOWLAB_TAPS"), "taps configuration: a JSON `file`, or the JSON itself (default $FLOWLAB_TAPS)")
	if len(args) > 0 && args[0] == "list" {
		args = args[1:]
	}
	if err := parseFlags(fs, std, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("taps: unknown subcommand %q: use 'taps list' or 'taps tail TAP'", fs.Arg(0))
	}
	cfg, err := loadTaps(*conf)
	if err != nil {
		return err
	}
	for _, name := range cfg.Names() {
		t := cfg.Taps[name]
		fmt.Fprintf(std.out, "%s\ttopic %s on %v\n", name, t.Topic, t.Brokers)
	}
	return nil
}

func runTapsTail(ctx context.Context, std streams, args []string) error {
	fs := newFlags(std, "taps tail", "taps tail TAP [--taps FILE] [--from oldest|newest|OFFSET] [-n COUNT] [--json]", `
Print the messages of a tap's topic as they arrive, one per line, until
interrupted (or -n messages). --from chooses the first: newest (the default,
only new messages), oldest, or an offset. --json prints each message with
its partition, offset and time as one JSON object per line.`)
	conf := fs.String("taps", os.Getenv("FLOWLAB_TAPS"), "taps configuration: a JSON `file`, or the JSON itself (default $FLOWLAB_TAPS)")
	from := fs.String("from", "newest", "first message: `oldest, newest or an offset`")
	count := fs.Int("n", 0, "stop after `COUNT` messages (0: never)")
	asJSON := fs.Bool("json", false, "print each message as a JSON object with partition, offset and time")
	if err := parseFlags(fs, std, args); err != nil {
		return err
	}
	// Flags may follow the tap name: taps tail Alerts --from oldest.
	name := fs.Arg(0)
	if fs.NArg() > 1 {
		if err := parseFlags(fs, std, fs.Args()[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usagef("taps tail takes one tap name, got %q and %q", name, fs.Arg(0))
		}
	}
	if name == "" {
		return usagef("taps tail needs the tap's name, for example: flowlab taps tail Alerts")
	}
	offset, err := taps.ParseOffset(*from)
	if err != nil {
		return usagef("--from: %v", err)
	}
	cfg, err := loadTaps(*conf)
	if err != nil {
		return err
	}
	set, err := taps.New(cfg, taps.Options{})
	if err != nil {
		return err
	}
	defer set.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errEnough := errors.New("enough")
	n := 0
	enc := json.NewEncoder(std.out)
	err = set.Tail(ctx, name, offset, func(m taps.Message) error {
		if *asJSON {
			if err := enc.Encode(m); err != nil {
				return err
			}
		} else if _, err := fmt.Fprintln(std.out, m.Value); err != nil {
			return err
		}
		n++
		if *count > 0 && n >= *count {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		return nil
	}
	return err
}

// loadTaps reads the taps configuration of --taps / $FLOWLAB_TAPS.
func loadTaps(conf string) (taps.Config, error) {
	if conf == "" {
		return taps.Config{}, usagef("no taps configuration: pass --taps FILE or set FLOWLAB_TAPS (docs/taps.md)")
	}
	return taps.LoadConfig(conf)
}
