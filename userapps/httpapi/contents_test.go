package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/files"
)

// fakeUsers maps tokens to users.
type fakeUsers map[string]userapps.User

func (f fakeUsers) UserByToken(_ context.Context, tok string) (userapps.User, error) {
	if u, ok := f[tok]; ok {
		return u, nil
	}
	return userapps.User{}, fmt.Errorf("token: %w", userapps.ErrNotFound)
}

var testUsers = fakeUsers{
	"t-admin": {Name: "root", Role: userapps.RoleAdmin},
	"t-alice": {Name: "alice", Role: userapps.RoleDeveloper},
	"t-bob":   {Name: "bob", Role: userapps.RoleDeveloper},
	"t-view":  {Name: "vera", Role: userapps.RoleViewer},
}

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	nb, err := files.Open(t.TempDir(), files.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	s, err := New(Options{Users: testUsers, Contents: nb, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// call makes a request with a token in the Authorization header (none if
// token is empty) and returns the status and body.
// rawBody is a request body call sends as it is, not as JSON of it.
type rawBody string

func call(t *testing.T, srv *httptest.Server, token, method, path string, body any, mods ...func(*http.Request)) (int, string) {
	t.Helper()
	var r io.Reader
	if raw, ok := body.(rawBody); ok {
		r = strings.NewReader(string(raw))
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	for _, m := range mods {
		m(req)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func notebookBody(source string) map[string]any {
	return map[string]any{"type": "notebook", "format": "json", "content": map[string]any{
		"cells":    []any{map[string]any{"cell_type": "code", "source": source, "metadata": map[string]any{}, "outputs": []any{}, "execution_count": nil, "id": "c1"}},
		"metadata": map[string]any{}, "nbformat": 4, "nbformat_minor": 5,
	}}
}

func TestContentsLifecycle(t *testing.T) {
	srv := newTestServer(t)
	const tok = "t-alice"
	steps := []struct {
		name, method, path string
		body               any
		status             int
		contains           string
	}{
		{"create folder", "PUT", "/api/contents/alice", map[string]any{"type": "directory"}, 201, `"type":"directory"`},
		{"save notebook", "PUT", "/api/contents/alice/lab.ipynb", notebookBody("x := 1"), 201, `"type":"notebook"`},
		{"save again", "PUT", "/api/contents/alice/lab.ipynb", notebookBody("x := 2"), 200, `"name":"lab.ipynb"`},
		{"read notebook", "GET", "/api/contents/alice/lab.ipynb", nil, 200, `"source":"x := 2"`},
		{"read without content", "GET", "/api/contents/alice/lab.ipynb?content=0", nil, 200, `"content":null`},
		{"checkpoint", "POST", "/api/contents/alice/lab.ipynb/checkpoints", nil, 201, `"id":"checkpoint"`},
		{"list checkpoints", "GET", "/api/contents/alice/lab.ipynb/checkpoints", nil, 200, `"id":"checkpoint"`},
		{"change after checkpoint", "PUT", "/api/contents/alice/lab.ipynb", notebookBody("x := 3"), 200, ""},
		{"restore checkpoint", "POST", "/api/contents/alice/lab.ipynb/checkpoints/checkpoint", nil, 204, ""},
		{"restored content", "GET", "/api/contents/alice/lab.ipynb", nil, 200, `"source":"x := 2"`},
		{"delete checkpoint", "DELETE", "/api/contents/alice/lab.ipynb/checkpoints/checkpoint", nil, 204, ""},
		{"no checkpoints", "GET", "/api/contents/alice/lab.ipynb/checkpoints", nil, 200, `[]`},
		{"new untitled", "POST", "/api/contents/alice", map[string]any{"type": "notebook"}, 201, `"path":"alice/Untitled.ipynb"`},
		{"second untitled", "POST", "/api/contents/alice", map[string]any{"type": "notebook"}, 201, `"path":"alice/Untitled1.ipynb"`},
		{"copy", "POST", "/api/contents/alice", map[string]any{"copy_from": "alice/lab.ipynb"}, 201, `"path":"alice/lab-Copy1.ipynb"`},
		{"text file", "PUT", "/api/contents/alice/notes.txt", map[string]any{"type": "file", "format": "text", "content": "hello"}, 201, `"type":"file"`},
		{"read text", "GET", "/api/contents/alice/notes.txt", nil, 200, `"content":"hello"`},
		{"binary file", "PUT", "/api/contents/alice/b.bin", map[string]any{"type": "file", "format": "base64", "content": "AP8="}, 201, ""},
		{"read binary", "GET", "/api/contents/alice/b.bin", nil, 200, `"format":"base64"`},
		{"rename", "PATCH", "/api/contents/alice/lab.ipynb", map[string]any{"path": "alice/portscan.ipynb"}, 200, `"path":"alice/portscan.ipynb"`},
		{"old name gone", "GET", "/api/contents/alice/lab.ipynb", nil, 404, `"reason":"Not Found"`},
		{"folder listing", "GET", "/api/contents/alice", nil, 200, `"name":"portscan.ipynb"`},
		{"delete", "DELETE", "/api/contents/alice/portscan.ipynb", nil, 204, ""},
		{"deleted", "GET", "/api/contents/alice/portscan.ipynb", nil, 404, ""},
		{"bad notebook", "PUT", "/api/contents/alice/bad.ipynb", map[string]any{"type": "notebook", "content": "not an object"}, 400, "notebook's JSON object"},
		{"bad type", "PUT", "/api/contents/alice/x", map[string]any{"type": "spreadsheet"}, 400, "notebook, file or directory"},
		{"rename without path", "PATCH", "/api/contents/alice/notes.txt", map[string]any{}, 400, "new path"},
	}
	for _, st := range steps {
		status, body := call(t, srv, tok, st.method, st.path, st.body)
		if status != st.status || !strings.Contains(body, st.contains) {
			t.Fatalf("%s: %s %s = %d %s; want %d containing %q", st.name, st.method, st.path, status, body, st.status, st.contains)
		}
	}
}

func TestAuthentication(t *testing.T) {
	srv := newTestServer(t)
	if status, _ := call(t, srv, "t-alice", "PUT", "/api/contents/alice", map[string]any{"type": "directory"}); status != 201 {
		t.Fatal(status)
	}
	withCookie := func(name, value string) func(*http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: value}) }
	}
	tests := []struct {
		name   string
		token  string
		method string
		path   string
		body   any
		mods   []func(*http.Request)
		status int
	}{
		{"no token", "", "GET", "/api/contents", nil, nil, 401},
		{"wrong token", "nope", "GET", "/api/contents", nil, nil, 401},
		{"no token on /api", "", "GET", "/api", nil, nil, 401},
		{"header token", "t-alice", "GET", "/api/contents", nil, nil, 200},
		{"bearer token", "", "GET", "/api/contents", nil, []func(*http.Request){func(r *http.Request) { r.Header.Set("Authorization", "Bearer t-alice") }}, 200},
		{"query token", "", "GET", "/api/contents?token=t-alice", nil, nil, 200},
		{"cookie read", "", "GET", "/api/contents", nil, []func(*http.Request){withCookie(TokenCookie, "t-alice")}, 200},
		{"cookie write without xsrf", "", "PUT", "/api/contents/alice/n.txt", map[string]any{"type": "file", "content": "x"}, []func(*http.Request){withCookie(TokenCookie, "t-alice")}, 403},
		{"cookie write with wrong xsrf", "", "PUT", "/api/contents/alice/n.txt", map[string]any{"type": "file", "content": "x"}, []func(*http.Request){withCookie(TokenCookie, "t-alice"), withCookie(XSRFCookie, "abc"), func(r *http.Request) { r.Header.Set(XSRFHeader, "abd") }}, 403},
		{"cookie write claiming a websocket upgrade", "", "PUT", "/api/contents/alice/n.txt", map[string]any{"type": "file", "content": "x"}, []func(*http.Request){withCookie(TokenCookie, "t-alice"), func(r *http.Request) { r.Header.Set("Upgrade", "websocket") }}, 403},
		{"cookie write with xsrf", "", "PUT", "/api/contents/alice/n.txt", map[string]any{"type": "file", "content": "x"}, []func(*http.Request){withCookie(TokenCookie, "t-alice"), withCookie(XSRFCookie, "abc"), func(r *http.Request) { r.Header.Set(XSRFHeader, "abc") }}, 201},
		// Cross-user: developers reach their own folder only.
		{"bob reads alice", "t-bob", "GET", "/api/contents/alice/n.txt", nil, nil, 403},
		{"bob writes alice", "t-bob", "PUT", "/api/contents/alice/m.txt", map[string]any{"type": "file", "content": "x"}, nil, 403},
		{"bob deletes alice", "t-bob", "DELETE", "/api/contents/alice/n.txt", nil, nil, 403},
		{"bob renames into alice", "t-bob", "PATCH", "/api/contents/bob/x.txt", map[string]any{"path": "alice/x.txt"}, nil, 403},
		{"bob copies from alice", "t-bob", "POST", "/api/contents/bob", map[string]any{"copy_from": "alice/n.txt"}, nil, 403},
		{"bob checkpoints alice", "t-bob", "POST", "/api/contents/alice/n.txt/checkpoints", nil, nil, 403},
		{"viewer reads", "t-view", "GET", "/api/contents/alice/n.txt", nil, nil, 200},
		{"viewer writes", "t-view", "PUT", "/api/contents/alice/n.txt", map[string]any{"type": "file", "content": "y"}, nil, 403},
		{"admin writes", "t-admin", "PUT", "/api/contents/alice/a.txt", map[string]any{"type": "file", "content": "y"}, nil, 201},
		// Traversal never leaves the store, whoever asks.
		{"dot-dot", "t-admin", "GET", "/api/contents/alice/..%2F..%2Fetc%2Fpasswd", nil, nil, 400},
		{"dot-dot in own folder", "t-alice", "GET", "/api/contents/alice/%2E%2E/bob/x", nil, nil, 400},
		{"hidden checkpoints folder", "t-admin", "GET", "/api/contents/.checkpoints", nil, nil, 400},
		// A leading slash names a path inside the store, not the host's.
		{"absolute", "t-admin", "GET", "/api/contents/%2Fetc%2Fpasswd", nil, nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, srv, tt.token, tt.method, tt.path, tt.body, tt.mods...)
			if status != tt.status {
				t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, status, body, tt.status)
			}
			if status >= 400 && !strings.Contains(body, `"message"`) {
				t.Errorf("error without a message: %s", body)
			}
		})
	}
	// A query token logs the browser in: token and XSRF cookies.
	resp, err := http.Get(srv.URL + "/api/contents?token=t-alice")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var names []string
	for _, c := range resp.Cookies() {
		names = append(names, c.Name)
		if c.Name == TokenCookie && !c.HttpOnly {
			t.Errorf("token cookie readable by scripts")
		}
	}
	if got := strings.Join(names, ","); got != TokenCookie+","+XSRFCookie {
		t.Errorf("cookies after ?token= = %s", got)
	}
	// The root listing shows a developer their own folder only.
	call(t, srv, "t-bob", "PUT", "/api/contents/bob", map[string]any{"type": "directory"})
	_, body := call(t, srv, "t-bob", "GET", "/api/contents", nil)
	if !strings.Contains(body, `"path":"bob"`) || strings.Contains(body, `"path":"alice"`) {
		t.Errorf("bob's root listing: %s", body)
	}
}

// TestNotebookNumbersKept checks that a saved notebook keeps its numbers as
// written: large integers are not rounded through float64.
func TestNotebookNumbersKept(t *testing.T) {
	srv := newTestServer(t)
	nb := `{"cells": [], "metadata": {"flow_id": 9007199254740993, "ratio": 0.1, "n": 12345678901234567890}, "nbformat": 4, "nbformat_minor": 5}`
	body := rawBody(`{"type": "notebook", "content": ` + nb + `}`)
	if status, got := call(t, srv, "t-alice", "PUT", "/api/contents/alice/big.ipynb", body); status != 201 {
		t.Fatalf("PUT: %d %s", status, got)
	}
	status, got := call(t, srv, "t-alice", "GET", "/api/contents/alice/big.ipynb", nil)
	for _, want := range []string{"9007199254740993", "12345678901234567890", "0.1"} {
		if status != 200 || !strings.Contains(got, want) {
			t.Errorf("saved notebook lost %s: %d %s", want, status, got)
		}
	}
}
