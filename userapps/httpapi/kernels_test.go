package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/files"
)

// fakeKernels is an in-memory kernel manager: kernels that record what was
// asked of them. Tests of the websocket use real kernels (channels_test.go).
type fakeKernels struct {
	mu      sync.Mutex
	kernels map[string]*fakeKernel
	seq     int
	delay   time.Duration // how long Start takes, as a real kernel's start does
}

type fakeKernel struct {
	id, spec, owner, dir string
	mu                   sync.Mutex
	calls                []string
	gone                 bool // its client is closed: calls fail with jupyter.ErrClosed
}

func (f *fakeKernels) Start(_ context.Context, req KernelRequest) (Kernel, error) {
	f.mu.Lock()
	delay := f.delay
	f.mu.Unlock()
	time.Sleep(delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	k := &fakeKernel{id: fmt.Sprintf("k%d", f.seq), spec: req.Spec, owner: req.Owner, dir: req.Dir}
	f.kernels[k.id] = k
	return k, nil
}

func (f *fakeKernels) Get(id string) (Kernel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k, ok := f.kernels[id]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("kernel %s: %w", id, userapps.ErrNotFound)
}

func (f *fakeKernels) List() []Kernel {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Kernel
	for _, k := range f.kernels {
		out = append(out, k)
	}
	return out
}

func (k *fakeKernel) record(c string) {
	k.mu.Lock()
	k.calls = append(k.calls, c)
	k.mu.Unlock()
}

func (k *fakeKernel) ID() string                             { return k.id }
func (k *fakeKernel) SpecName() string                       { return k.spec }
func (k *fakeKernel) Owner() string                          { return k.owner }
func (k *fakeKernel) ConnectionInfo() jupyter.ConnectionInfo { return jupyter.ConnectionInfo{} }
func (k *fakeKernel) Status() string                         { return "idle" }
func (k *fakeKernel) LastActivity() time.Time                { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
func (k *fakeKernel) Interrupt(context.Context) error {
	k.record("interrupt")
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gone {
		return fmt.Errorf("interrupt_request: %w", jupyter.ErrClosed)
	}
	return nil
}
func (k *fakeKernel) Restart(context.Context) error      { k.record("restart"); return nil }
func (k *fakeKernel) Shutdown(context.Context) error     { k.record("shutdown"); return nil }
func (k *fakeKernel) Subscribe() (<-chan string, func()) { return nil, func() {} }
func (k *fakeKernel) Touch()                             {}
func (k *fakeKernel) Done() <-chan struct{}              { return nil }

func newKernelServer(t *testing.T) (*httptest.Server, *fakeKernels) {
	t.Helper()
	srv, fk, _ := newKernelServerInside(t)
	return srv, fk
}

// newKernelServerInside is newKernelServer, also returning the Server for
// tests that look inside.
func newKernelServerInside(t *testing.T) (*httptest.Server, *fakeKernels, *Server) {
	t.Helper()
	nb, err := files.Open(t.TempDir(), files.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	fk := &fakeKernels{kernels: map[string]*fakeKernel{}}
	s, err := New(Options{
		Users: testUsers, Contents: nb, Kernels: fk,
		Specs: []KernelSpec{{Name: "flowlab-go", Spec: map[string]any{"display_name": "Go (flowlab)", "language": "go"}, Resources: map[string][]byte{"logo-64x64.png": []byte("PNG")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, fk, s
}

func jsonField(t *testing.T, body, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return fmt.Sprint(m[field])
}

func TestKernelsAndSessions(t *testing.T) {
	srv, fk := newKernelServer(t)
	status, body := call(t, srv, "t-alice", "GET", "/api/kernelspecs", nil)
	if status != 200 || !strings.Contains(body, `"default":"flowlab-go"`) || !strings.Contains(body, `"logo-64x64":"/kernelspecs/flowlab-go/logo-64x64.png"`) {
		t.Fatalf("kernelspecs: %d %s", status, body)
	}
	if status, body := call(t, srv, "t-alice", "GET", "/kernelspecs/flowlab-go/logo-64x64.png", nil); status != 200 || body != "PNG" {
		t.Errorf("logo: %d %q", status, body)
	}
	// A session for a notebook starts a kernel in the notebook's folder.
	status, body = call(t, srv, "t-alice", "POST", "/api/sessions", map[string]any{"path": "alice/labs/lab3.ipynb", "type": "notebook", "name": "", "kernel": map[string]any{"name": "flowlab-go"}})
	if status != 201 {
		t.Fatalf("create session: %d %s", status, body)
	}
	sid := jsonField(t, body, "id")
	var sess struct {
		Kernel struct{ ID, Name string } `json:"kernel"`
		Path   string
	}
	_ = json.Unmarshal([]byte(body), &sess)
	if sess.Kernel.Name != "flowlab-go" || sess.Path != "alice/labs/lab3.ipynb" || fk.kernels[sess.Kernel.ID].dir != "alice/labs" || fk.kernels[sess.Kernel.ID].owner != "alice" {
		t.Fatalf("session %s; kernel %+v", body, fk.kernels[sess.Kernel.ID])
	}
	kid := sess.Kernel.ID
	// A kernel started with no notebook works in its user's own folder,
	// never in the root that holds every user's folder.
	status, body = call(t, srv, "t-alice", "POST", "/api/kernels", map[string]any{"name": "flowlab-go"})
	if status != 201 || fk.kernels[jsonField(t, body, "id")].dir != "alice" {
		t.Fatalf("kernel without a path: %d %s, dir %q", status, body, fk.kernels[jsonField(t, body, "id")].dir)
	}
	if status, _ := call(t, srv, "t-alice", "POST", "/api/kernels", map[string]any{"name": "flowlab-go", "path": "bob/x.ipynb"}); status != 403 {
		t.Errorf("alice started a kernel in bob's folder: %d", status)
	}
	// The same path gives the same session.
	if _, body := call(t, srv, "t-alice", "POST", "/api/sessions", map[string]any{"path": "alice/labs/lab3.ipynb", "kernel": map[string]any{"name": "flowlab-go"}}); jsonField(t, body, "id") != sid {
		t.Errorf("second session for the same path: %s", body)
	}
	steps := []struct {
		token, method, path string
		body                any
		status              int
		contains            string
	}{
		{"t-alice", "GET", "/api/sessions", nil, 200, `"id":"` + sid},
		{"t-alice", "GET", "/api/sessions/" + sid, nil, 200, `"execution_state":"idle"`},
		{"t-alice", "PATCH", "/api/sessions/" + sid, map[string]any{"path": "alice/labs/renamed.ipynb"}, 200, `"path":"alice/labs/renamed.ipynb"`},
		{"t-alice", "PATCH", "/api/sessions/" + sid, map[string]any{"kernel": map[string]any{"id": kid}}, 200, `"id":"` + kid},
		{"t-alice", "GET", "/api/kernels", nil, 200, `"id":"` + kid},
		{"t-alice", "GET", "/api/kernels/" + kid, nil, 200, `"last_activity":"2026-01-02T03:04:05.000000Z"`},
		{"t-alice", "POST", "/api/kernels/" + kid + "/interrupt", nil, 204, ""},
		{"t-alice", "POST", "/api/kernels/" + kid + "/restart", nil, 200, `"id":"` + kid},
		{"t-alice", "GET", "/api/status", nil, 200, `"kernels":2`},
		{"t-alice", "POST", "/api/kernels", map[string]any{"name": "no-such-spec"}, 404, "no-such-spec"},
		// Cross-user: bob neither sees nor touches alice's kernel and session.
		{"t-bob", "GET", "/api/kernels", nil, 200, `[]`},
		{"t-bob", "GET", "/api/sessions", nil, 200, `[]`},
		{"t-bob", "GET", "/api/kernels/" + kid, nil, 403, ""},
		{"t-bob", "POST", "/api/kernels/" + kid + "/interrupt", nil, 403, ""},
		{"t-bob", "POST", "/api/kernels/" + kid + "/restart", nil, 403, ""},
		{"t-bob", "DELETE", "/api/kernels/" + kid, nil, 403, ""},
		{"t-bob", "GET", "/api/kernels/" + kid + "/channels", nil, 403, ""},
		{"t-bob", "GET", "/api/sessions/" + sid, nil, 404, ""},
		{"t-bob", "DELETE", "/api/sessions/" + sid, nil, 404, ""},
		{"t-bob", "POST", "/api/sessions", map[string]any{"path": "bob/x.ipynb", "kernel": map[string]any{"id": kid}}, 403, ""},
		{"t-bob", "POST", "/api/sessions", map[string]any{"path": "alice/x.ipynb"}, 403, ""},
		// Viewers see, and change nothing.
		{"t-view", "GET", "/api/kernels/" + kid, nil, 200, ""},
		{"t-view", "POST", "/api/kernels/" + kid + "/interrupt", nil, 403, ""},
		{"t-view", "POST", "/api/kernels", map[string]any{"name": "flowlab-go"}, 403, ""},
		{"t-view", "DELETE", "/api/sessions/" + sid, nil, 403, ""},
		// No token, no answer.
		{"", "GET", "/api/kernels", nil, 401, ""},
		{"", "GET", "/api/sessions", nil, 401, ""},
		{"", "GET", "/api/kernelspecs", nil, 401, ""},
		{"", "GET", "/kernelspecs/flowlab-go/logo-64x64.png", nil, 401, ""},
		{"", "GET", "/api/kernels/" + kid + "/channels", nil, 401, ""},
		{"", "POST", "/api/kernels/" + kid + "/interrupt", nil, 401, ""},
		{"", "GET", "/api/status", nil, 401, ""},
		// Ending the session shuts the kernel down.
		{"t-alice", "DELETE", "/api/sessions/" + sid, nil, 204, ""},
		{"t-alice", "GET", "/api/sessions", nil, 200, `[]`},
	}
	for _, st := range steps {
		status, body := call(t, srv, st.token, st.method, st.path, st.body)
		if status != st.status || !strings.Contains(body, st.contains) {
			t.Errorf("%s %s %s = %d %s; want %d containing %q", st.token, st.method, st.path, status, body, st.status, st.contains)
		}
	}
	if got := strings.Join(fk.kernels[kid].calls, ","); got != "interrupt,restart,shutdown" {
		t.Errorf("kernel calls %s, want interrupt,restart,shutdown (and none from bob or the viewer)", got)
	}
}

// TestSessionKernelChange checks that switching a session's kernel ends the
// old one, as JupyterLab's "Change kernel" expects.
func TestSessionKernelChange(t *testing.T) {
	srv, fk := newKernelServer(t)
	status, body := call(t, srv, "t-alice", "POST", "/api/sessions", map[string]any{"path": "alice/a.ipynb", "kernel": map[string]any{"name": "flowlab-go"}})
	if status != 201 {
		t.Fatalf("create session: %d %s", status, body)
	}
	sid := jsonField(t, body, "id")
	var first string
	for id := range fk.kernels {
		first = id
	}
	status, body = call(t, srv, "t-alice", "PATCH", "/api/sessions/"+sid, map[string]any{"kernel": map[string]any{"name": "flowlab-go"}})
	if status != 200 || strings.Contains(body, `"id":"`+first+`"`) {
		t.Fatalf("change kernel: %d %s", status, body)
	}
	if got := strings.Join(fk.kernels[first].calls, ","); got != "shutdown" {
		t.Errorf("the former kernel got %q, want shutdown", got)
	}
	// A deleted session is not brought back by a late PATCH.
	if status, _ := call(t, srv, "t-alice", "DELETE", "/api/sessions/"+sid, nil); status != 204 {
		t.Fatal(status)
	}
	if status, _ := call(t, srv, "t-alice", "PATCH", "/api/sessions/"+sid, map[string]any{"name": "x"}); status != 404 {
		t.Errorf("PATCH of a deleted session: %d, want 404", status)
	}
}

func TestConcurrentSessionsForOnePath(t *testing.T) {
	srv, fk := newKernelServer(t)
	fk.delay = 50 * time.Millisecond
	const clients = 8
	ids := make([]string, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := call(t, srv, "t-alice", "POST", "/api/sessions", map[string]any{"path": "alice/one.ipynb", "type": "notebook", "kernel": map[string]any{"name": "flowlab-go"}})
			if status != 201 {
				t.Errorf("create session: %d %s", status, body)
				return
			}
			ids[i] = jsonField(t, body, "id")
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("session ids %v: one path, several sessions", ids)
		}
	}
	fk.mu.Lock()
	defer fk.mu.Unlock()
	if len(fk.kernels) != 1 {
		t.Errorf("%d kernels started for one notebook opened by %d clients at once, want 1", len(fk.kernels), clients)
	}
}

func TestStatusCountsOnlyVisibleConnections(t *testing.T) {
	srv, _, s := newKernelServerInside(t)
	kernelOf := func(token string) string {
		status, body := call(t, srv, token, "POST", "/api/kernels", map[string]any{"name": "flowlab-go"})
		if status != 201 {
			t.Fatalf("start kernel: %d %s", status, body)
		}
		return jsonField(t, body, "id")
	}
	alice, bob := kernelOf("t-alice"), kernelOf("t-bob")
	s.reg.mu.Lock()
	s.reg.connections[alice], s.reg.connections[bob] = 2, 3
	s.reg.mu.Unlock()
	for token, want := range map[string]string{"t-alice": `"connections":2`, "t-bob": `"connections":3`, "t-admin": `"connections":5`} {
		if status, body := call(t, srv, token, "GET", "/api/status", nil); status != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: /api/status = %d %s, want %s", token, status, body, want)
		}
	}
}

func TestKernelGoneDuringRequest(t *testing.T) {
	srv, fk := newKernelServer(t)
	status, body := call(t, srv, "t-alice", "POST", "/api/kernels", map[string]any{"name": "flowlab-go"})
	if status != 201 {
		t.Fatalf("start: %d %s", status, body)
	}
	id := jsonField(t, body, "id")
	fk.mu.Lock()
	k := fk.kernels[id]
	fk.mu.Unlock()
	k.mu.Lock()
	k.gone = true
	k.mu.Unlock()
	status, body = call(t, srv, "t-alice", "POST", "/api/kernels/"+id+"/interrupt", nil)
	if status != 409 || !strings.Contains(body, "the kernel went away") {
		t.Errorf("interrupt a kernel whose client closed: %d %s, want 409 saying the kernel went away", status, body)
	}
}
