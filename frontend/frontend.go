// Package frontend is flowlab's web UI: one HTML page, plain ES modules and
// a style sheet, embedded in the binary so `go build` alone yields the whole
// UI, with nothing fetched from another host at run time.
//
// The UI is a single-page app: Handler answers every client route (/apps,
// /apps/{id}/runs, /taps/{tap}, ...) with the same page, whose script
// routes on the path and reads everything through the server's API. The
// page and its assets carry no data, so the handler needs no
// authentication; the API calls the scripts make do.
package frontend

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// The notebook editor's bundle (static/vendor/editor.js) is generated from
// frontend/editor; CI regenerates it and fails on a difference.
//
//go:generate bash editor/build.sh

//go:embed static
var static embed.FS

// assetPrefix is where the scripts, styles and images are served.
const assetPrefix = "/static/"

// clientRoutes are the first path segments the page's router handles; any
// other path is 404 so that mistyped API-looking URLs do not answer HTML.
var clientRoutes = map[string]bool{"": true, "apps": true, "runs": true, "taps": true, "data": true, "login": true}

// securityPolicy keeps scripts to the server's own files: rich outputs of
// notebooks (HTML from kernels) are shown, but scripts in them never run.
const securityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file with its validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the UI. It is safe for concurrent use.
type Handler struct {
	assets map[string]asset // by path under static/, "index.html" included
}

var _ http.Handler = (*Handler)(nil)

// New returns the UI handler over the embedded files.
func New() (*Handler, error) {
	h := &Handler{assets: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.assets[strings.TrimPrefix(p, "static/")] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return h, err
}

// ServeHTTP answers GET and HEAD: an asset under /static/, or the page for
// a client route; anything else is 404 (or 405 for other methods).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := "index.html"
	if rest, ok := strings.CutPrefix(r.URL.Path, assetPrefix); ok {
		name = rest
	} else {
		first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if !clientRoutes[first] {
			http.NotFound(w, r)
			return
		}
	}
	a, ok := h.assets[name]
	if !ok || name == "index.html" && strings.HasPrefix(r.URL.Path, assetPrefix) {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	// Revalidated on every load: a new binary's UI is never mixed with a
	// cached old one, and an unchanged file costs a 304.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	if name == "index.html" {
		hd.Set("Content-Security-Policy", securityPolicy)
		hd.Set("Referrer-Policy", "no-referrer")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && match == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}
