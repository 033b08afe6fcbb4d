package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/files"
	"github.com/flowlab/flowlab/userapps/scheduler"
	"github.com/flowlab/flowlab/userapps/sqlite"
)

// appKernels is a kernel manager for the app service whose kernels run
// nothing: the REST layer is under test, not kernels.
type appKernels struct {
	mu      sync.Mutex
	kernels map[string]*appKernel
	seq     int
}

type appKernel struct {
	id   string
	done chan struct{}
	once sync.Once
}

func (m *appKernels) StartKernel(_ context.Context, app userapps.App, _ string) (userapps.Kernel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	k := &appKernel{id: fmt.Sprintf("kernel-%d", m.seq), done: make(chan struct{})}
	m.kernels[k.id] = k
	return k, nil
}

func (m *appKernels) LookupKernel(id string) (userapps.Kernel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.kernels[id]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("kernel %s: %w", id, userapps.ErrNotFound)
}

func (k *appKernel) ID() string { return k.id }
func (k *appKernel) Execute(context.Context, string, jupyter.ExecuteOptions) (*jupyter.Execution, error) {
	return nil, fmt.Errorf("this test kernel runs nothing: %w", userapps.ErrKernel)
}
func (k *appKernel) Restart(context.Context) error { return nil }
func (k *appKernel) Shutdown(context.Context) error {
	k.once.Do(func() { close(k.done) })
	return nil
}
func (k *appKernel) Done() <-chan struct{} { return k.done }
func (k *appKernel) Err() error            { return nil }

func newAppServer(t *testing.T) *httptest.Server {
	srv, _ := newAppServerKernels(t)
	return srv
}

// newAppServerKernels is newAppServer with the Jupyter kernels API on a
// fake kernel manager.
func newAppServerKernels(t *testing.T) (*httptest.Server, *fakeKernels) {
	t.Helper()
	srv, fk, _ := newAppServerScheduler(t)
	return srv, fk
}

// newAppServerScheduler is newAppServerKernels with schedules and runs,
// whose runs a fake runner executes when the test steps the scheduler.
func newAppServerScheduler(t *testing.T) (*httptest.Server, *fakeKernels, *scheduler.Scheduler) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir()+"/flowlab.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for tok, u := range testUsers {
		u.TokenHash = userapps.HashToken(tok)
		u.Created = time.Now()
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	nb, err := files.Open(t.TempDir(), files.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	svc, err := userapps.NewService(userapps.ServiceOptions{Apps: db, Notebooks: nb, Kernels: &appKernels{kernels: map[string]*appKernel{}}})
	if err != nil {
		t.Fatal(err)
	}
	fk := &fakeKernels{kernels: map[string]*fakeKernel{}}
	runner := &fakeRunner{}
	sched, err := scheduler.New(scheduler.Options{Schedules: db, Runs: db, Apps: db, Executor: runner})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Users: db, Contents: nb, Apps: svc, AppStore: db, UserStore: db,
		Schedules: sched, ScheduleStore: db, RunNotebooks: runner,
		Kernels: fk, Specs: []KernelSpec{{Name: "flowlab-go", Spec: map[string]any{"language": "go"}}},
		Examples: []Example{{Name: "lab1-jupyter-basics", Notebook: []byte(`{"cells":[],"metadata":{},"nbformat":4,"nbformat_minor":5}`)}},
		UI: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "ui "+r.URL.Path)
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, fk, sched
}

func TestAppsAPI(t *testing.T) {
	srv := newAppServer(t)
	status, body := call(t, srv, "t-alice", "POST", "/api/apps", map[string]any{"example": "lab1-jupyter-basics"})
	if status != 201 || !strings.Contains(body, `"notebook":"alice/lab1-jupyter-basics.ipynb"`) || !strings.Contains(body, `"state":"stopped"`) {
		t.Fatalf("create from example: %d %s", status, body)
	}
	id := jsonField(t, body, "id")
	app := "/api/apps/" + id
	steps := []struct {
		token, method, path string
		body                any
		status              int
		contains            string
	}{
		{"t-alice", "GET", "/api/examples", nil, 200, `["lab1-jupyter-basics"]`},
		{"t-alice", "GET", "/api/apps", nil, 200, `"id":"` + id},
		{"t-alice", "GET", "/api/contents/alice/lab1-jupyter-basics.ipynb", nil, 200, `"nbformat":4`},
		{"t-alice", "POST", app + "/open", nil, 200, `"state":"running"`},
		{"t-alice", "POST", app + "/checkpoint", nil, 200, `"state":"running+checkpointed"`},
		{"t-alice", "GET", app, nil, 200, `"checkpoint":{"created"`},
		{"t-alice", "POST", app + "/stop", nil, 200, `"state":"stopped"`},
		{"t-alice", "GET", app, nil, 200, `"checkpoint":null`},
		{"t-alice", "PATCH", app, map[string]any{"name": "portscan"}, 200, `"name":"portscan"`},
		{"t-alice", "POST", "/api/apps", map[string]any{"example": "nope"}, 404, "GET /api/examples"},
		{"t-alice", "POST", "/api/apps", map[string]any{"name": "x", "owner": "bob"}, 403, ""},
		{"t-alice", "POST", "/api/apps", map[string]any{"name": "bad/name"}, 400, ""},
		{"t-alice", "POST", "/api/apps", map[string]any{"name": "portscan"}, 409, ""},
		// Others: bob learns nothing of alice's app, the viewer reads it.
		{"t-bob", "GET", "/api/apps", nil, 200, `[]`},
		{"t-bob", "GET", app, nil, 404, ""},
		{"t-bob", "POST", app + "/open", nil, 404, ""},
		{"t-bob", "POST", app + "/checkpoint", nil, 404, ""},
		{"t-bob", "PATCH", app, map[string]any{"name": "mine"}, 404, ""},
		{"t-bob", "DELETE", app, nil, 404, ""},
		{"t-view", "GET", app, nil, 200, `"owner":"alice"`},
		{"t-view", "POST", app + "/open", nil, 403, ""},
		{"t-view", "DELETE", app, nil, 403, ""},
		{"t-view", "POST", "/api/apps", map[string]any{"name": "v"}, 403, ""},
		{"", "GET", "/api/apps", nil, 401, ""},
		{"", "POST", app + "/open", nil, 401, ""},
		{"t-admin", "POST", "/api/apps", map[string]any{"name": "for-alice", "owner": "alice"}, 201, `"owner":"alice"`},
		{"t-admin", "GET", "/api/apps?owner=alice", nil, 200, `"name":"for-alice"`},
		{"t-alice", "DELETE", app, nil, 204, ""},
		{"t-alice", "GET", app, nil, 404, ""},
	}
	for _, st := range steps {
		status, body := call(t, srv, st.token, st.method, st.path, st.body)
		if status != st.status || !strings.Contains(body, st.contains) {
			t.Errorf("%s %s %s = %d %s; want %d containing %q", st.token, st.method, st.path, status, body, st.status, st.contains)
		}
	}
}

func TestUsersAPI(t *testing.T) {
	srv, fk := newAppServerKernels(t)
	status, body := call(t, srv, "t-admin", "POST", "/api/users", map[string]any{"name": "carol", "role": "developer"})
	if status != 201 || !strings.Contains(body, `"role":"developer"`) {
		t.Fatalf("create user: %d %s", status, body)
	}
	tok := jsonField(t, body, "token")
	if len(tok) < 32 {
		t.Fatalf("token %q", tok)
	}
	// The new token works, as carol.
	if status, body := call(t, srv, tok, "GET", "/api/users/me", nil); status != 200 || !strings.Contains(body, `"name":"carol"`) {
		t.Fatalf("me with the new token: %d %s", status, body)
	}
	steps := []struct {
		token, method, path string
		body                any
		status              int
		contains            string
	}{
		{"t-admin", "GET", "/api/users", nil, 200, `"name":"carol"`},
		{"t-admin", "POST", "/api/users", map[string]any{"name": "carol", "role": "viewer"}, 409, ""},
		{"t-admin", "POST", "/api/users", map[string]any{"name": "dave", "role": "root"}, 400, "admin, developer or viewer"},
		{"t-admin", "POST", "/api/users", map[string]any{"name": "../x", "role": "viewer"}, 400, ""},
		{"t-admin", "PATCH", "/api/users/carol", map[string]any{"role": "viewer"}, 200, `"role":"viewer"`},
		{"t-admin", "DELETE", "/api/users/root", nil, 409, "cannot delete themselves"},
		{"t-admin", "PATCH", "/api/users/root", map[string]any{"role": "viewer"}, 409, "own role"},
		{"t-alice", "GET", "/api/users", nil, 403, ""},
		{"t-alice", "POST", "/api/users", map[string]any{"name": "mallory", "role": "admin"}, 403, ""},
		{"t-alice", "PATCH", "/api/users/alice", map[string]any{"role": "admin"}, 403, ""},
		{"t-alice", "POST", "/api/users/bob/token", nil, 403, ""},
		{"t-view", "DELETE", "/api/users/carol", nil, 403, ""},
		{"", "GET", "/api/users", nil, 401, ""},
		{"t-alice", "GET", "/api/users/me", nil, 200, `"role":"developer"`},
	}
	for _, st := range steps {
		status, body := call(t, srv, st.token, st.method, st.path, st.body)
		if status != st.status || !strings.Contains(body, st.contains) {
			t.Errorf("%s %s %s = %d %s; want %d containing %q", st.token, st.method, st.path, status, body, st.status, st.contains)
		}
	}
	// A new token replaces the old one at once, and ends what the old one
	// started.
	call(t, srv, "t-admin", "PATCH", "/api/users/carol", map[string]any{"role": "developer"})
	status, body = call(t, srv, tok, "POST", "/api/kernels", map[string]any{"name": "flowlab-go"})
	if status != 201 {
		t.Fatalf("carol starts a kernel: %d %s", status, body)
	}
	carolKernel := fk.kernels[jsonField(t, body, "id")]
	status, body = call(t, srv, "t-admin", "POST", "/api/users/carol/token", nil)
	if status != 200 {
		t.Fatalf("new token: %d %s", status, body)
	}
	if status, _ := call(t, srv, tok, "GET", "/api/users/me", nil); status != 401 {
		t.Errorf("the old token still works: %d", status)
	}
	if status, _ := call(t, srv, jsonField(t, body, "token"), "GET", "/api/users/me", nil); status != 200 {
		t.Errorf("the new token does not work: %d", status)
	}
	if got := strings.Join(carolKernel.calls, ","); got != "shutdown" {
		t.Errorf("the revoked token's kernel got %q, want shutdown", got)
	}
	if status, _ := call(t, srv, "t-admin", "DELETE", "/api/users/carol", nil); status != 204 {
		t.Errorf("delete: %d", status)
	}
}

func TestBrowserLogin(t *testing.T) {
	srv := newAppServer(t)
	cookies := func(resp *http.Response) map[string]*http.Cookie {
		m := map[string]*http.Cookie{}
		for _, c := range resp.Cookies() {
			m[c.Name] = c
		}
		return m
	}
	do := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("token link", func(t *testing.T) {
		resp := do("GET", "/apps?token=t-alice&tab=runs", "")
		c := cookies(resp)
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/apps?tab=runs" {
			t.Errorf("%d to %q, want 303 to the page without the token", resp.StatusCode, resp.Header.Get("Location"))
		}
		if c[TokenCookie] == nil || c[TokenCookie].Value != "t-alice" || !c[TokenCookie].HttpOnly || c[XSRFCookie] == nil || c[XSRFCookie].Value == "" {
			t.Errorf("cookies %v: want the HttpOnly token and an XSRF value", resp.Cookies())
		}
	})
	t.Run("invalid token link", func(t *testing.T) {
		resp := do("GET", "/?token=nope", "")
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/?login=invalid" || cookies(resp)[TokenCookie] != nil {
			t.Errorf("%d to %q with %v, want 303 to /?login=invalid without cookies", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
		}
	})
	t.Run("page without login", func(t *testing.T) {
		// The UI's pages carry no data; their scripts' API calls log in.
		if status, body := call(t, srv, "", "GET", "/runs/x", nil); status != 200 || body != "ui /runs/x" {
			t.Errorf("%d %q, want the UI", status, body)
		}
		if status, _ := call(t, srv, "", "GET", "/api/apps", nil); status != 401 {
			t.Errorf("API without a token: %d, want 401", status)
		}
	})
	t.Run("login form", func(t *testing.T) {
		resp := do("POST", "/login", `{"token": "t-bob"}`)
		if c := cookies(resp); resp.StatusCode != 200 || c[TokenCookie] == nil || c[TokenCookie].Value != "t-bob" {
			t.Errorf("%d with %v, want 200 and bob's cookie", resp.StatusCode, resp.Cookies())
		}
		for _, tc := range []struct{ body, want string }{{`{"token": "nope"}`, "401"}, {`{"token": " "}`, "400"}, {`{"token": 1}`, "400"}} {
			status, body := call(t, srv, "", "POST", "/login", json.RawMessage(tc.body))
			if fmt.Sprint(status) != tc.want || !strings.Contains(body, "token") {
				t.Errorf("login %s: %d %s, want %s with a message about the token", tc.body, status, body, tc.want)
			}
		}
	})
	t.Run("logout", func(t *testing.T) {
		resp := do("POST", "/logout", "")
		c := cookies(resp)
		if resp.StatusCode != 204 || c[TokenCookie] == nil || c[TokenCookie].MaxAge >= 0 || c[XSRFCookie] == nil {
			t.Errorf("%d with %v, want 204 expiring both cookies", resp.StatusCode, resp.Cookies())
		}
	})
}

func TestRequestBodies(t *testing.T) {
	srv := newAppServer(t)
	big := strings.Repeat(" ", 1<<20) + `{"name": "x"}`
	for _, tt := range []struct {
		body     string
		status   int
		contains string
	}{
		{``, 400, "name"}, // empty: an empty request, refused for its missing name
		{`{"name": "ok-1"}`, 201, `"name":"ok-1"`},
		{`{"name": "ok-2"}` + "\n\t ", 201, `"name":"ok-2"`},
		{`{"name": "x"} {"name": "y"}`, 400, "more after the JSON value"},
		{`{"name": "x"} garbage`, 400, "not the expected JSON"},
		{`{"name": `, 400, "not the expected JSON"},
		{`["name"]`, 400, "not the expected JSON"},
		{big, 413, "larger than 1048576 bytes"},
	} {
		status, b := call(t, srv, "t-alice", "POST", "/api/apps", rawBody(tt.body))
		if status != tt.status || !strings.Contains(b, tt.contains) {
			t.Errorf("body %.40q: %d %s; want %d containing %q", tt.body, status, b, tt.status, tt.contains)
		}
	}
}
