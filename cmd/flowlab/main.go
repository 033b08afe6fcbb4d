// Command flowlab is the notebook platform for network-security analytics:
// the user-app server, the Go Jupyter kernel, capture ingest, headless runs
// and demo data, in one binary. Run `flowlab help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

func main() {
	err := run(context.Background(), streams{in: os.Stdin, out: os.Stdout, err: os.Stderr}, os.Args[1:])
	if err == nil {
		return
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(os.Stderr, "flowlab:", ue.msg)
		fmt.Fprintln(os.Stderr, "Run 'flowlab help' for usage.")
		os.Exit(2)
	}
	if errors.Is(err, errHelpShown) {
		return
	}
	fmt.Fprintln(os.Stderr, "flowlab:", err)
	os.Exit(1)
}
