package frontend_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/frontend"
)

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestRoutes(t *testing.T) {
	h, err := frontend.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		typ, has     string
	}{
		{"GET", "/", 200, "text/html", `<script type="module" src="/static/js/main.js">`},
		{"GET", "/apps", 200, "text/html", "<main"},
		{"GET", "/apps/abc/runs/run-1", 200, "text/html", "<main"},
		{"GET", "/taps/Alerts/proctor", 200, "text/html", "<main"},
		{"HEAD", "/runs", 200, "text/html", ""},
		{"GET", "/static/js/main.js", 200, "javascript", "import"},
		{"GET", "/static/style.css", 200, "text/css", ":root"},
		{"GET", "/static/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/static/index.html", 404, "", ""},
		{"GET", "/static/js/nope.js", 404, "", ""},
		{"GET", "/static/../frontend.go", 404, "", ""},
		{"GET", "/tree", 404, "", ""},
		{"POST", "/apps", 405, "", ""},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			resp := get(t, h, tc.method, tc.path, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if !strings.Contains(resp.Header.Get("Content-Type"), tc.typ) || !strings.Contains(string(body), tc.has) {
				t.Errorf("type %q body %.80q, want %q containing %q", resp.Header.Get("Content-Type"), body, tc.typ, tc.has)
			}
		})
	}
}

func TestPageHeadersAndRevalidation(t *testing.T) {
	h, err := frontend.New()
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, h, "GET", "/apps", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
		t.Errorf("Content-Security-Policy %q: scripts must be the server's own files only", csp)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q: want a validator and revalidation", etag, resp.Header.Get("Cache-Control"))
	}
	if again := get(t, h, "GET", "/runs", map[string]string{"If-None-Match": etag}); again.StatusCode != 304 {
		t.Errorf("same page with If-None-Match: %d, want 304", again.StatusCode)
	}
}

// TestModulesResolve checks that every module a script imports, and every
// file the page links, is an embedded file: a typo would only show in a
// browser.
func TestModulesResolve(t *testing.T) {
	root := "static"
	imports := regexp.MustCompile(`(?:from\s+|import\()\s*'(\./[^']+)'`)
	links := regexp.MustCompile(`(?:href|src)="/static/([^"]+)"`)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var refs []string
		switch filepath.Ext(p) {
		case ".js":
			for _, m := range imports.FindAllStringSubmatch(string(b), -1) {
				refs = append(refs, filepath.Join(filepath.Dir(p), m[1]))
			}
		case ".html":
			for _, m := range links.FindAllStringSubmatch(string(b), -1) {
				refs = append(refs, filepath.Join(root, m[1]))
			}
		}
		for _, ref := range refs {
			if _, err := os.Stat(ref); err != nil {
				t.Errorf("%s refers to %s, which does not exist", p, ref)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
