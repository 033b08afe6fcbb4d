package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
)

// Kernels is the kernel manager as the Jupyter API uses it; cmd/flowlab
// adapts userapps/kernels to it.
type Kernels interface {
	// Start starts a kernel and returns once it answers. Errors wrap
	// userapps.ErrKernel, ErrNotFound (unknown spec) or ErrInvalid.
	Start(ctx context.Context, req KernelRequest) (Kernel, error)
	// Get returns a running kernel, or an error wrapping ErrNotFound.
	Get(id string) (Kernel, error)
	// List returns the running kernels.
	List() []Kernel
}

// KernelRequest says which kernel to start.
type KernelRequest struct {
	// Spec is the kernelspec name.
	Spec string
	// Dir is the contents path of the folder the kernel works in (the
	// notebook's folder); "" is the owner's folder.
	Dir string
	// Owner is the user starting it.
	Owner string
}

// Kernel is one running kernel. Implementations are safe for concurrent use.
type Kernel interface {
	ID() string
	// SpecName is the kernelspec it was started from.
	SpecName() string
	// Owner is the user who started it.
	Owner() string
	// ConnectionInfo is where to dial it; it may change after a restart.
	ConnectionInfo() jupyter.ConnectionInfo
	// Status is its execution state: starting, idle, busy, restarting, dead.
	Status() string
	// LastActivity is when it last sent or received a message.
	LastActivity() time.Time
	Interrupt(ctx context.Context) error
	Restart(ctx context.Context) error
	Shutdown(ctx context.Context) error
	// Subscribe delivers the manager's lifecycle states (restarting, dead)
	// until cancel is called.
	Subscribe() (states <-chan string, cancel func())
	// Touch records activity (websocket traffic) for idle culling.
	Touch()
	// Done is closed when the kernel has stopped for good.
	Done() <-chan struct{}
}

// KernelSpec is a kernelspec the server offers.
type KernelSpec struct {
	Name string
	// Spec is the kernel.json content.
	Spec any
	// Resources are files served beside it, by name (logo-64x64.png, ...).
	Resources map[string][]byte
}

// session is a Jupyter session: a notebook path bound to a kernel.
type session struct {
	ID       string
	Path     string
	Name     string
	Type     string
	KernelID string
	Owner    string
}

// kernelState is what the server keeps per kernel: websocket count.
type kernelRegistry struct {
	mu          sync.Mutex
	sessions    map[string]*session
	connections map[string]int
	creating    map[string]*pathLock // session creations in progress, by path
	// reconnect keeps the sessions of dropped kernel websockets.
	reconnect     ReconnectBuffers
	reconnectInit sync.Once
}

// pathLock serializes the session creations of one path; waiters counts
// the holders and waiters, so the last one removes it.
type pathLock struct {
	sync.Mutex
	waiters int
}

// lockPath serializes session creation for path p: two clients opening
// one notebook at once get one session and one kernel, not two.
func (reg *kernelRegistry) lockPath(p string) (unlock func()) {
	reg.mu.Lock()
	if reg.creating == nil {
		reg.creating = map[string]*pathLock{}
	}
	l := reg.creating[p]
	if l == nil {
		l = &pathLock{}
		reg.creating[p] = l
	}
	l.waiters++
	reg.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		reg.mu.Lock()
		if l.waiters--; l.waiters == 0 {
			delete(reg.creating, p)
		}
		reg.mu.Unlock()
	}
}

func (s *Server) kernelRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/kernelspecs", s.h(s.listSpecs))
	mux.HandleFunc("GET /api/kernelspecs/{name}", s.h(s.getSpec))
	mux.HandleFunc("GET /kernelspecs/{name}/{file}", s.h(s.specResource))
	mux.HandleFunc("GET /api/kernels", s.h(s.listKernels))
	mux.HandleFunc("POST /api/kernels", s.h(s.startKernel))
	mux.HandleFunc("GET /api/kernels/{id}", s.h(s.getKernel))
	mux.HandleFunc("DELETE /api/kernels/{id}", s.h(s.deleteKernel))
	mux.HandleFunc("POST /api/kernels/{id}/interrupt", s.h(s.interruptKernel))
	mux.HandleFunc("POST /api/kernels/{id}/restart", s.h(s.restartKernel))
	mux.HandleFunc("GET /api/kernels/{id}/channels", s.h(s.kernelChannels))
	mux.HandleFunc("GET /api/sessions", s.h(s.listSessions))
	mux.HandleFunc("POST /api/sessions", s.h(s.createSession))
	mux.HandleFunc("GET /api/sessions/{id}", s.h(s.getSession))
	mux.HandleFunc("PATCH /api/sessions/{id}", s.h(s.patchSession))
	mux.HandleFunc("DELETE /api/sessions/{id}", s.h(s.deleteSession))
}

func (s *Server) listSpecs(w http.ResponseWriter, r *http.Request) error {
	specs := map[string]any{}
	for _, ks := range s.opts.Specs {
		specs[ks.Name] = specModel(ks)
	}
	def := ""
	if len(s.opts.Specs) > 0 {
		def = s.opts.Specs[0].Name
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"default": def, "kernelspecs": specs})
	return nil
}

func specModel(ks KernelSpec) map[string]any {
	res := map[string]string{}
	for name := range ks.Resources {
		res[strings.TrimSuffix(name, path.Ext(name))] = "/kernelspecs/" + ks.Name + "/" + name
	}
	return map[string]any{"name": ks.Name, "spec": ks.Spec, "resources": res}
}

func (s *Server) spec(name string) (KernelSpec, error) {
	for _, ks := range s.opts.Specs {
		if ks.Name == name {
			return ks, nil
		}
	}
	return KernelSpec{}, fmt.Errorf("kernelspec %q: %w", name, userapps.ErrNotFound)
}

func (s *Server) getSpec(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.spec(r.PathValue("name"))
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, specModel(ks))
	return nil
}

func (s *Server) specResource(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.spec(r.PathValue("name"))
	if err != nil {
		return err
	}
	data, ok := ks.Resources[r.PathValue("file")]
	if !ok {
		return fmt.Errorf("kernelspec file %q: %w", r.PathValue("file"), userapps.ErrNotFound)
	}
	if ext := path.Ext(r.PathValue("file")); ext == ".svg" {
		w.Header().Set("Content-Type", "image/svg+xml")
	} else if ext == ".png" {
		w.Header().Set("Content-Type", "image/png")
	}
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write(data)
	return nil
}

// kernelModel is the Jupyter kernel model.
func (s *Server) kernelModel(k Kernel) map[string]any {
	s.reg.mu.Lock()
	conns := s.reg.connections[k.ID()]
	s.reg.mu.Unlock()
	return map[string]any{
		"id": k.ID(), "name": k.SpecName(), "last_activity": isoTime(k.LastActivity()),
		"execution_state": k.Status(), "connections": conns,
	}
}

// mayUseKernel applies the rules to kernels: admins use every kernel, a
// developer their own, viewers see kernels but use none.
func mayUseKernel(u userapps.User, k Kernel, use bool) error {
	switch {
	case u.Role == userapps.RoleAdmin,
		u.Role == userapps.RoleDeveloper && k.Owner() == u.Name,
		u.Role == userapps.RoleViewer && !use:
		return nil
	}
	return fmt.Errorf("user %s (%s) may not use kernel %s of %s: %w", u.Name, u.Role, k.ID(), k.Owner(), userapps.ErrForbidden)
}

// kernel returns the kernel of the request's {id}, checked for the user.
func (s *Server) kernel(r *http.Request, use bool) (Kernel, error) {
	if s.opts.Kernels == nil {
		return nil, fmt.Errorf("kernel %s: %w", r.PathValue("id"), userapps.ErrNotFound)
	}
	k, err := s.opts.Kernels.Get(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	u, _ := UserFrom(r.Context())
	if err := mayUseKernel(u, k, use); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Server) visibleKernels(r *http.Request) []Kernel {
	if s.opts.Kernels == nil {
		return nil
	}
	u, _ := UserFrom(r.Context())
	var out []Kernel
	for _, k := range s.opts.Kernels.List() {
		if mayUseKernel(u, k, false) == nil {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

func (s *Server) listKernels(w http.ResponseWriter, r *http.Request) error {
	list := []map[string]any{}
	for _, k := range s.visibleKernels(r) {
		list = append(list, s.kernelModel(k))
	}
	s.writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) startKernel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
		Path string `json:"path"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	k, err := s.launch(r, req.Name, req.Path)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/kernels/"+k.ID())
	s.writeJSON(w, http.StatusCreated, s.kernelModel(k))
	return nil
}

// launch starts a kernel of spec (default: the first) for the request's
// user, working in the folder of contentsPath.
func (s *Server) launch(r *http.Request, spec, contentsPath string) (Kernel, error) {
	u, _ := UserFrom(r.Context())
	if u.Role == userapps.RoleViewer {
		return nil, fmt.Errorf("user %s (viewer) may not start kernels: %w", u.Name, userapps.ErrForbidden)
	}
	if s.opts.Kernels == nil || len(s.opts.Specs) == 0 {
		return nil, fmt.Errorf("this server runs no kernels: %w", userapps.ErrNotFound)
	}
	if spec == "" {
		spec = s.opts.Specs[0].Name
	}
	if _, err := s.spec(spec); err != nil {
		return nil, err
	}
	// The kernel works in the notebook's folder, or in the user's own
	// folder when no notebook is named (consoles, VS Code): never in the
	// root, which holds every user's folder.
	dir := u.Name
	if p := strings.Trim(contentsPath, "/"); p != "" {
		if dir = path.Dir(p); dir == "." {
			dir = u.Name
		}
	}
	if err := s.authorizePath(r, dir, true); err != nil {
		return nil, err
	}
	return s.opts.Kernels.Start(r.Context(), KernelRequest{Spec: spec, Dir: dir, Owner: u.Name})
}

func (s *Server) getKernel(w http.ResponseWriter, r *http.Request) error {
	k, err := s.kernel(r, false)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, s.kernelModel(k))
	return nil
}

func (s *Server) deleteKernel(w http.ResponseWriter, r *http.Request) error {
	k, err := s.kernel(r, true)
	if err == nil {
		err = k.Shutdown(r.Context())
	}
	if err != nil {
		return err
	}
	s.forgetKernel(k.ID())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) interruptKernel(w http.ResponseWriter, r *http.Request) error {
	k, err := s.kernel(r, true)
	if err == nil {
		err = k.Interrupt(r.Context())
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) restartKernel(w http.ResponseWriter, r *http.Request) error {
	k, err := s.kernel(r, true)
	if err == nil {
		err = k.Restart(r.Context())
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, s.kernelModel(k))
	return nil
}

func (s *Server) kernelChannels(w http.ResponseWriter, r *http.Request) error {
	k, err := s.kernel(r, true)
	if err != nil {
		return err
	}
	s.reg.mu.Lock()
	s.reg.connections[k.ID()]++
	s.reg.mu.Unlock()
	defer func() {
		s.reg.mu.Lock()
		// forgetKernel may have dropped the count of a kernel shut down
		// while this websocket was open.
		if n, ok := s.reg.connections[k.ID()]; ok && n > 0 {
			s.reg.connections[k.ID()] = n - 1
		}
		s.reg.mu.Unlock()
	}()
	s.reg.reconnectInit.Do(func() { s.reg.reconnect.Logger = s.log })
	err = ServeChannels(r.Context(), w, r, ChannelsOptions{
		Connection:     k.ConnectionInfo(),
		SessionID:      r.URL.Query().Get("session_id"),
		Subscribe:      k.Subscribe,
		Done:           k.Done(),
		Activity:       k.Touch,
		OriginPatterns: s.opts.OriginPatterns,
		Logger:         s.log,
		Reconnect:      &s.reg.reconnect,
		KernelID:       k.ID(),
	})
	if err != nil {
		s.log.Info("kernel websocket ended", "kernel", k.ID(), "err", err)
	}
	return nil
}

// forgetKernel drops the sessions of a kernel that was shut down.
func (s *Server) forgetKernel(id string) {
	s.reg.reconnect.DropKernel(id)
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	for sid, ss := range s.reg.sessions {
		if ss.KernelID == id {
			delete(s.reg.sessions, sid)
		}
	}
	delete(s.reg.connections, id)
}

func (s *Server) sessionModel(ss *session) (map[string]any, error) {
	k, err := s.opts.Kernels.Get(ss.KernelID)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"id": ss.ID, "path": ss.Path, "name": ss.Name, "type": ss.Type,
		"kernel":   s.kernelModel(k),
		"notebook": map[string]string{"path": ss.Path, "name": ss.Name},
	}, nil
}

// visibleSessions returns the sessions the user may see whose kernel runs.
func (s *Server) visibleSessions(r *http.Request) []*session {
	u, _ := UserFrom(r.Context())
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	var out []*session
	for _, ss := range s.reg.sessions {
		if u.Role == userapps.RoleDeveloper && ss.Owner != u.Name {
			continue
		}
		c := *ss
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	list := []map[string]any{}
	for _, ss := range s.visibleSessions(r) {
		if m, err := s.sessionModel(ss); err == nil {
			list = append(list, m)
		}
	}
	s.writeJSON(w, http.StatusOK, list)
	return nil
}

// sessionRequest is the body of POST and PATCH /api/sessions.
type sessionRequest struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Kernel *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"kernel"`
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) error {
	var req sessionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	p := strings.Trim(req.Path, "/")
	if err := s.authorizePath(r, p, true); err != nil {
		return err
	}
	// An existing session for the path is returned, as Jupyter does.
	defer s.reg.lockPath(p)()
	for _, ss := range s.visibleSessions(r) {
		if ss.Path == p {
			if m, err := s.sessionModel(ss); err == nil {
				s.writeJSON(w, http.StatusCreated, m)
				return nil
			}
		}
	}
	k, err := s.sessionKernel(r, req, p)
	if err != nil {
		return err
	}
	typ := req.Type
	if typ == "" {
		typ = "notebook"
	}
	name := req.Name
	if name == "" {
		name = path.Base(p)
	}
	ss := &session{ID: s.newID(), Path: p, Name: name, Type: typ, KernelID: k.ID(), Owner: u.Name}
	s.reg.mu.Lock()
	s.reg.sessions[ss.ID] = ss
	s.reg.mu.Unlock()
	m, err := s.sessionModel(ss)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/sessions/"+ss.ID)
	s.writeJSON(w, http.StatusCreated, m)
	return nil
}

// sessionKernel is the kernel a session request names: an existing one by
// id, or a new one of the named spec.
func (s *Server) sessionKernel(r *http.Request, req sessionRequest, p string) (Kernel, error) {
	if req.Kernel != nil && req.Kernel.ID != "" {
		if s.opts.Kernels == nil {
			return nil, fmt.Errorf("kernel %s: %w", req.Kernel.ID, userapps.ErrNotFound)
		}
		k, err := s.opts.Kernels.Get(req.Kernel.ID)
		if err != nil {
			return nil, err
		}
		u, _ := UserFrom(r.Context())
		return k, mayUseKernel(u, k, true)
	}
	spec := ""
	if req.Kernel != nil {
		spec = req.Kernel.Name
	}
	return s.launch(r, spec, p)
}

// session returns the request's {id} session, checked for the user.
func (s *Server) session(r *http.Request) (*session, error) {
	id := r.PathValue("id")
	for _, ss := range s.visibleSessions(r) {
		if ss.ID == id {
			return ss, nil
		}
	}
	return nil, fmt.Errorf("session %s: %w", id, userapps.ErrNotFound)
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.session(r)
	var m map[string]any
	if err == nil {
		m, err = s.sessionModel(ss)
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) patchSession(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.session(r)
	if err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	if u.Role == userapps.RoleViewer {
		return fmt.Errorf("user %s (viewer) may not change sessions: %w", u.Name, userapps.ErrForbidden)
	}
	var req sessionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Path != "" {
		p := strings.Trim(req.Path, "/")
		if err := s.authorizePath(r, p, true); err != nil {
			return err
		}
		ss.Path = p
	}
	if req.Name != "" {
		ss.Name = req.Name
	}
	if req.Type != "" {
		ss.Type = req.Type
	}
	oldKernel := ss.KernelID
	if req.Kernel != nil {
		k, err := s.sessionKernel(r, req, ss.Path)
		if err != nil {
			return err
		}
		ss.KernelID = k.ID()
	}
	s.reg.mu.Lock()
	_, exists := s.reg.sessions[ss.ID]
	if exists {
		s.reg.sessions[ss.ID] = ss
	}
	s.reg.mu.Unlock()
	if !exists {
		// Deleted while this request ran: do not bring it back.
		if ss.KernelID != oldKernel {
			s.shutdownUnused(r.Context(), ss.KernelID)
		}
		return fmt.Errorf("session %s: %w", ss.ID, userapps.ErrNotFound)
	}
	if ss.KernelID != oldKernel {
		// Changing a session's kernel ends the old one, as Jupyter does,
		// unless another session still uses it.
		s.shutdownUnused(r.Context(), oldKernel)
	}
	m, err := s.sessionModel(ss)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, m)
	return nil
}

// shutdownUnused shuts a kernel down unless a session still uses it.
func (s *Server) shutdownUnused(ctx context.Context, id string) {
	s.reg.mu.Lock()
	for _, ss := range s.reg.sessions {
		if ss.KernelID == id {
			s.reg.mu.Unlock()
			return
		}
	}
	s.reg.mu.Unlock()
	if k, err := s.opts.Kernels.Get(id); err == nil {
		if err := k.Shutdown(ctx); err != nil {
			s.log.Warn("shut down a session's former kernel", "kernel", id, "err", err)
		}
		s.forgetKernel(id)
	}
}

// deleteSession ends a session and shuts its kernel down.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.session(r)
	if err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	if u.Role == userapps.RoleViewer {
		return fmt.Errorf("user %s (viewer) may not end sessions: %w", u.Name, userapps.ErrForbidden)
	}
	if k, err := s.opts.Kernels.Get(ss.KernelID); err == nil {
		if err := k.Shutdown(r.Context()); err != nil {
			return err
		}
	}
	s.forgetKernel(ss.KernelID)
	s.reg.mu.Lock()
	delete(s.reg.sessions, ss.ID)
	s.reg.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decodeBody reads a JSON request body into v; an empty body leaves v.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil // an empty body is an empty request
	}
	if err == nil {
		// One JSON value, and nothing after it but white space.
		if err = dec.Decode(new(json.RawMessage)); errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			err = errors.New("more after the JSON value")
		}
	}
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		return fmt.Errorf("%w: the body is larger than %d bytes", errTooLarge, maxBody)
	}
	return fmt.Errorf("%w: the body is not the expected JSON: %v", userapps.ErrInvalid, err)
}

// maxBody bounds a JSON request body.
const maxBody = 1 << 20

// errTooLarge is a request body beyond its limit (413).
var errTooLarge = errors.New("request body too large")
