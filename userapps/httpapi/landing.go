package httpapi

import (
	"html/template"
	"net/http"

	"github.com/flowlab/flowlab/userapps"
)

// landingPage is what the URL the server prints shows in a browser until the
// web UI is served: who you are, your apps and their states, and how to
// attach a Jupyter client.
var landingPage = template.Must(template.New("landing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flowlab</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:46rem;padding:0 1rem}
table{border-collapse:collapse}td,th{padding:.2rem .8rem;border-bottom:1px solid #ddd;text-align:left}
code{background:#f3f3f3;padding:0 .2rem}</style></head><body>
<h1>flowlab</h1>
<p>Signed in as <b>{{.User.Name}}</b> ({{.User.Role}}). This server speaks the Jupyter Server API:
in VS Code choose <i>Select Kernel → Existing Jupyter Server</i> and give it this page's address
with <code>?token=…</code>; scripts use the REST API (<code>/api/apps</code>, see docs/api.md).</p>
{{if .Apps}}<h2>Apps</h2>
<table><tr><th>name</th><th>owner</th><th>state</th><th>notebook</th></tr>
{{range .Apps}}<tr><td>{{.Name}}</td><td>{{.Owner}}</td><td>{{.State}}</td><td><code>{{.Notebook}}</code></td></tr>
{{end}}</table>{{else}}<p>No apps yet.</p>{{end}}
</body></html>
`))

func (s *Server) landing(w http.ResponseWriter, r *http.Request) error {
	u, _ := UserFrom(r.Context())
	var apps []userapps.App
	if s.opts.AppStore != nil {
		all, err := s.opts.AppStore.Apps(r.Context(), userapps.AppFilter{})
		if err != nil {
			return err
		}
		for i := range all {
			if userapps.Authorize(u, userapps.ActionRead, &all[i]) == nil {
				apps = append(apps, all[i])
			}
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return landingPage.Execute(w, map[string]any{"User": u, "Apps": apps})
}
