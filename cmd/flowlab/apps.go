//go:build !kernelonly

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func init() {
	register(command{name: "apps", summary: "list, open and stop the apps of a running 'flowlab serve'", run: runApps})
}

// defaultServer is where `flowlab serve` listens unless told otherwise.
const defaultServer = "http://127.0.0.1:8888"

const appsDescription = `
Manage the apps of a running 'flowlab serve' through its REST API:

  list          the apps the token may see: name, owner, state, kernel, updated
  open APP      start the app's kernel (the app becomes running)
  stop APP      shut the app's kernel down (its checkpoint goes, the notebook stays)
  schedule APP  list, create, change, delete or backfill the app's schedules
  runs APP      list the app's runs; run it now; cancel a run; get a run's executed notebook

APP is an app's id, its name, or OWNER/NAME when users' apps share a name.`

func runApps(ctx context.Context, std streams, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprintf(std.out, "Usage: flowlab apps list|open|stop|schedule|runs [flags] [APP]\n\n%s\n\nRun 'flowlab apps SUBCOMMAND --help' for the flags.\n", strings.TrimSpace(appsDescription))
			return errHelpShown
		}
		return usagef("apps: name a subcommand: list, open, stop, schedule or runs")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list", "open", "stop":
	case "schedule":
		return runAppsSchedule(ctx, std, args)
	case "runs":
		return runAppsRuns(ctx, std, args)
	default:
		return usagef("apps: unknown subcommand %q (list, open, stop, schedule or runs)", sub)
	}
	synopsis := "apps " + sub + " [--server URL] [--token T] [--json]"
	if sub != "list" {
		synopsis += " APP"
	}
	fs := newFlags(std, "apps "+sub, synopsis, appsDescription)
	cf := clientFlags(fs)
	pos, err := parseInterleaved(fs, std, args)
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(pos) > 0:
		return usagef("apps list takes no arguments (got %q)", pos)
	case sub != "list" && len(pos) != 1:
		return usagef("apps %s takes one APP: an id, a name or OWNER/NAME", sub)
	}
	c, ctx, cancel, err := cf.client(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if sub == "list" {
		apps, raw, err := c.list(ctx)
		if err != nil {
			return err
		}
		if *cf.asJSON {
			return writeIndented(std.out, raw)
		}
		printApps(std.out, apps)
		return nil
	}
	a, err := c.resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	got, raw, err := c.action(ctx, a, sub)
	if err != nil {
		return err
	}
	if *cf.asJSON {
		return writeIndented(std.out, raw)
	}
	verb := map[string]string{"open": "opened", "stop": "stopped"}[sub]
	fmt.Fprintf(std.out, "%s %s (owner %s, id %s): %s", verb, got.Name, got.Owner, got.ID, got.State)
	if got.KernelID != "" {
		fmt.Fprintf(std.out, ", kernel %s", got.KernelID)
	}
	fmt.Fprintln(std.out)
	return nil
}

// appsClientFlags are the flags every apps subcommand has.
type appsClientFlags struct {
	server, token *string
	asJSON        *bool
	timeout       *time.Duration
}

// clientFlags defines the flags that reach the server on fs.
func clientFlags(fs *flag.FlagSet) appsClientFlags {
	return appsClientFlags{
		server:  fs.String("server", envOr("FLOWLAB_SERVER", defaultServer), "`URL` of the flowlab server (default $FLOWLAB_SERVER, else "+defaultServer+")"),
		token:   fs.String("token", os.Getenv("FLOWLAB_TOKEN"), "API `token` (default $FLOWLAB_TOKEN)"),
		asJSON:  fs.Bool("json", false, "print the API's JSON instead of a table or a sentence"),
		timeout: fs.Duration("timeout", 2*time.Minute, "give up on the server after this long (opening starts a kernel)"),
	}
}

// client returns the client the flags name, and ctx bounded by --timeout.
func (f appsClientFlags) client(ctx context.Context) (*appsClient, context.Context, context.CancelFunc, error) {
	c, err := newAppsClient(*f.server, *f.token, *f.timeout)
	if err != nil {
		return nil, ctx, func() {}, err
	}
	ctx, cancel := context.WithTimeout(ctx, *f.timeout)
	return c, ctx, cancel, nil
}

// app is client, then the app ref names on that server.
func (f appsClientFlags) app(ctx context.Context, ref string) (*appsClient, remoteApp, context.Context, context.CancelFunc, error) {
	c, ctx, cancel, err := f.client(ctx)
	if err != nil {
		return nil, remoteApp{}, ctx, cancel, err
	}
	a, err := c.resolve(ctx, ref)
	return c, a, ctx, cancel, err
}

// parseInterleaved parses flags that may come before and after the
// positional arguments (flowlab apps open lab1 --json), returning those.
func parseInterleaved(fs *flag.FlagSet, std streams, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, std, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil // after "--", no more flags
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// remoteApp is an app as GET /api/apps shows it.
type remoteApp struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Owner    string `json:"owner"`
	State    string `json:"state"`
	KernelID string `json:"kernel_id"`
	Updated  string `json:"updated"`
	Error    string `json:"error"`
}

// appsClient calls the apps REST API of one server.
type appsClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

func newAppsClient(server, token string, timeout time.Duration) (*appsClient, error) {
	if token == "" {
		return nil, usagef("no token: pass --token T or set FLOWLAB_TOKEN ('flowlab serve' prints its token at start)")
	}
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--server %q: want a URL like %s", server, defaultServer)
	}
	return &appsClient{base: u, token: token, http: &http.Client{Timeout: timeout}}, nil
}

// call sends a request to path, with body as JSON unless it is nil, and
// returns the body of a 2xx answer; any other answer or failure is an
// error that says what to do. A 204 answers null.
func (c *appsClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "token "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("nothing listens at %s: is 'flowlab serve' running there? (point --server or $FLOWLAB_SERVER at it)", c.base)
		}
		return nil, fmt.Errorf("cannot reach the flowlab server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusNoContent {
		return []byte("null"), nil
	}
	if resp.StatusCode/100 == 2 {
		if !json.Valid(answer) {
			return nil, fmt.Errorf("%s %s: the answer is not JSON: is %s a flowlab server?", method, path, c.base)
		}
		return answer, nil
	}
	var e struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(answer))
	if json.Unmarshal(answer, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("the server at %s refused the token (401: %s): check --token or $FLOWLAB_TOKEN against the token 'flowlab serve' printed", c.base, msg)
	case resp.StatusCode == http.StatusNotFound && e.Message == "":
		return nil, fmt.Errorf("%s %s: 404: is %s a flowlab server?", method, path, c.base)
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("the server failed (%s): %s; its log says more", resp.Status, msg)
	}
	return nil, fmt.Errorf("%s (%s)", msg, resp.Status)
}

// list returns the apps, sorted by owner and name, with the raw answer.
func (c *appsClient) list(ctx context.Context) ([]remoteApp, []byte, error) {
	body, err := c.call(ctx, http.MethodGet, "/api/apps", nil)
	if err != nil {
		return nil, nil, err
	}
	var apps []remoteApp
	if err := json.Unmarshal(body, &apps); err != nil {
		return nil, nil, fmt.Errorf("GET /api/apps: unexpected answer: %w", err)
	}
	sort.Slice(apps, func(i, j int) bool {
		if apps[i].Owner != apps[j].Owner {
			return apps[i].Owner < apps[j].Owner
		}
		return apps[i].Name < apps[j].Name
	})
	return apps, body, nil
}

// resolve finds the app ref names: an id, a name, or OWNER/NAME.
func (c *appsClient) resolve(ctx context.Context, ref string) (remoteApp, error) {
	apps, _, err := c.list(ctx)
	if err != nil {
		return remoteApp{}, err
	}
	return resolveApp(apps, ref, c.base.String())
}

// resolveApp picks the app ref names among apps.
func resolveApp(apps []remoteApp, ref, server string) (remoteApp, error) {
	for _, a := range apps {
		if a.ID == ref {
			return a, nil
		}
	}
	owner, name, qualified := strings.Cut(ref, "/")
	if !qualified {
		name = ref
	}
	var found []remoteApp
	for _, a := range apps {
		if a.Name == name && (!qualified || a.Owner == owner) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return remoteApp{}, fmt.Errorf("no app %q among the %d apps this token sees at %s: 'flowlab apps list' shows them", ref, len(apps), server)
	}
	var which []string
	for _, a := range found {
		which = append(which, fmt.Sprintf("%s/%s (id %s)", a.Owner, a.Name, a.ID))
	}
	return remoteApp{}, fmt.Errorf("app name %q is ambiguous, %d apps have it: %s; name one by OWNER/NAME or by id", ref, len(found), strings.Join(which, ", "))
}

// action runs open or stop on a and returns the app after it.
func (c *appsClient) action(ctx context.Context, a remoteApp, act string) (remoteApp, []byte, error) {
	body, err := c.call(ctx, http.MethodPost, "/api/apps/"+url.PathEscape(a.ID)+"/"+act, nil)
	if err != nil {
		return remoteApp{}, nil, fmt.Errorf("%s %s/%s: %w", act, a.Owner, a.Name, err)
	}
	var got remoteApp
	if err := json.Unmarshal(body, &got); err != nil {
		return remoteApp{}, nil, fmt.Errorf("%s %s: unexpected answer: %w", act, a.Name, err)
	}
	return got, body, nil
}

// printApps writes the apps as a table.
func printApps(w io.Writer, apps []remoteApp) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tOWNER\tSTATE\tKERNEL\tUPDATED")
	for _, a := range apps {
		kernel := "-"
		if a.KernelID != "" {
			kernel = a.KernelID
			if len(kernel) > 8 {
				kernel = kernel[:8]
			}
		}
		state := a.State
		if a.Error != "" && state == "failed" {
			state += ": " + a.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.Owner, state, kernel, shortTime(a.Updated))
	}
	tw.Flush()
}

// shortTime shows an API time to the second, in UTC.
func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func writeIndented(w io.Writer, raw []byte) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
