package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/flowlab/flowlab/userapps"
)

// Apps is the app service as the REST API uses it (userapps.Service).
type Apps interface {
	Create(ctx context.Context, req userapps.CreateRequest) (userapps.App, error)
	Rename(ctx context.Context, id, name string) (userapps.App, error)
	Delete(ctx context.Context, id string) error
	Open(ctx context.Context, id string) (userapps.App, error)
	SaveCheckpoint(ctx context.Context, id string, notebook []byte) (userapps.App, error)
	Stop(ctx context.Context, id string) (userapps.App, error)
	Restore(ctx context.Context, id string) (userapps.App, *userapps.Replay, error)
}

// AppReader reads apps (userapps.AppStore has it).
type AppReader interface {
	App(ctx context.Context, id string) (userapps.App, error)
	Apps(ctx context.Context, f userapps.AppFilter) ([]userapps.App, error)
}

// Example is a notebook new apps can start from.
type Example struct {
	Name     string
	Notebook []byte
}

func (s *Server) appRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/apps", s.h(s.listApps))
	mux.HandleFunc("POST /api/apps", s.h(s.createApp))
	mux.HandleFunc("GET /api/apps/{id}", s.h(s.getApp))
	mux.HandleFunc("PATCH /api/apps/{id}", s.h(s.renameApp))
	mux.HandleFunc("DELETE /api/apps/{id}", s.h(s.deleteApp))
	mux.HandleFunc("POST /api/apps/{id}/open", s.appAction(userapps.ActionRun, s.opts.Apps.Open))
	mux.HandleFunc("POST /api/apps/{id}/stop", s.appAction(userapps.ActionRun, s.opts.Apps.Stop))
	mux.HandleFunc("POST /api/apps/{id}/checkpoint", s.h(s.checkpointApp))
	mux.HandleFunc("POST /api/apps/{id}/restore", s.h(s.restoreApp))
	mux.HandleFunc("GET /api/examples", s.h(s.listExamples))
}

// appModel is an app as the API shows it.
func appModel(a userapps.App) map[string]any {
	m := map[string]any{
		"id": a.ID, "name": a.Name, "owner": a.Owner, "notebook": a.Notebook, "state": a.State,
		"kernel_id": a.KernelID, "error": a.Error,
		"created": isoTime(a.Created), "updated": isoTime(a.Updated), "state_changed": isoTime(a.StateChanged),
		"checkpoint": nil,
	}
	if a.Checkpoint != nil {
		m["checkpoint"] = map[string]string{"id": a.Checkpoint.ID, "created": isoTime(a.Checkpoint.Created)}
	}
	return m
}

// app reads the request's {id} app and authorizes act on it. A user who may
// not read it learns nothing: not found.
func (s *Server) app(r *http.Request, act userapps.Action) (userapps.App, error) {
	a, err := s.opts.AppStore.App(r.Context(), r.PathValue("id"))
	if err != nil {
		return a, err
	}
	u, _ := UserFrom(r.Context())
	if userapps.Authorize(u, userapps.ActionRead, &a) != nil {
		return userapps.App{}, fmt.Errorf("app %s: %w", r.PathValue("id"), userapps.ErrNotFound)
	}
	return a, userapps.Authorize(u, act, &a)
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	u, _ := UserFrom(r.Context())
	apps, err := s.opts.AppStore.Apps(r.Context(), userapps.AppFilter{Owner: r.URL.Query().Get("owner")})
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for i := range apps {
		if userapps.Authorize(u, userapps.ActionRead, &apps[i]) != nil {
			continue
		}
		m := appModel(apps[i])
		if err := s.addRunSummary(r.Context(), m, apps[i].ID); err != nil {
			return err
		}
		list = append(list, m)
	}
	s.writeJSON(w, http.StatusOK, list)
	return nil
}

// addRunSummary adds what the User Apps page shows beside an app to its
// model in the list, so the page needs one request: "last_run" (the newest
// run, or null) and "schedules" (every schedule of the app). A server
// without schedules leaves both out.
func (s *Server) addRunSummary(ctx context.Context, m map[string]any, appID string) error {
	if s.opts.ScheduleStore == nil || s.opts.Schedules == nil {
		return nil
	}
	runs, err := s.opts.ScheduleStore.Runs(ctx, userapps.RunFilter{AppID: appID, Limit: 1})
	if err != nil {
		return fmt.Errorf("runs of app %s: %w", appID, err)
	}
	m["last_run"] = nil
	if len(runs) > 0 {
		m["last_run"] = s.runModel(runs[0])
	}
	scheds, err := s.opts.ScheduleStore.Schedules(ctx, appID)
	if err != nil {
		return fmt.Errorf("schedules of app %s: %w", appID, err)
	}
	list := []map[string]any{}
	for _, sc := range scheds {
		list = append(list, s.scheduleModel(sc))
	}
	m["schedules"] = list
	return nil
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string `json:"name"`
		Example string `json:"example"`
		Owner   string `json:"owner"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	owner := req.Owner
	if owner == "" {
		owner = u.Name
	}
	if err := userapps.Authorize(u, userapps.ActionCreate, &userapps.App{Owner: owner, Name: req.Name}); err != nil {
		return err
	}
	cr := userapps.CreateRequest{Owner: owner, Name: req.Name}
	if req.Example != "" {
		ex, ok := s.example(req.Example)
		if !ok {
			return fmt.Errorf("example %q: %w (GET /api/examples lists them)", req.Example, userapps.ErrNotFound)
		}
		cr.Notebook = ex.Notebook
		if cr.Name == "" {
			cr.Name = ex.Name
		}
	}
	a, err := s.opts.Apps.Create(r.Context(), cr)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/apps/"+a.ID)
	s.writeJSON(w, http.StatusCreated, appModel(a))
	return nil
}

func (s *Server) example(name string) (Example, bool) {
	for _, ex := range s.opts.Examples {
		if ex.Name == name {
			return ex, true
		}
	}
	return Example{}, false
}

func (s *Server) listExamples(w http.ResponseWriter, r *http.Request) error {
	names := []string{}
	for _, ex := range s.opts.Examples {
		names = append(names, ex.Name)
	}
	sort.Strings(names)
	s.writeJSON(w, http.StatusOK, names)
	return nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) error {
	a, err := s.app(r, userapps.ActionRead)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, appModel(a))
	return nil
}

func (s *Server) renameApp(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	a, err := s.app(r, userapps.ActionEdit)
	if err == nil {
		a, err = s.opts.Apps.Rename(r.Context(), a.ID, req.Name)
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, appModel(a))
	return nil
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) error {
	a, err := s.app(r, userapps.ActionDelete)
	if err == nil {
		err = s.opts.Apps.Delete(r.Context(), a.ID)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// appAction serves an action that takes the app id and returns the app.
func (s *Server) appAction(act userapps.Action, do func(context.Context, string) (userapps.App, error)) http.HandlerFunc {
	return s.h(func(w http.ResponseWriter, r *http.Request) error {
		a, err := s.app(r, act)
		if err == nil {
			a, err = do(r.Context(), a.ID)
		}
		if err != nil {
			return err
		}
		s.writeJSON(w, http.StatusOK, appModel(a))
		return nil
	})
}

// checkpointApp is Save & Checkpoint: the body, when not empty, is the
// notebook to save first.
func (s *Server) checkpointApp(w http.ResponseWriter, r *http.Request) error {
	a, err := s.app(r, userapps.ActionEdit)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxContentBody+1))
	if err == nil && len(body) > maxContentBody {
		err = fmt.Errorf("%w: the notebook is larger than %d MiB", userapps.ErrInvalid, maxContentBody>>20)
	}
	if err == nil {
		var nb []byte
		if len(body) > 0 {
			nb = body
		}
		a, err = s.opts.Apps.SaveCheckpoint(r.Context(), a.ID, nb)
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, appModel(a))
	return nil
}

func (s *Server) restoreApp(w http.ResponseWriter, r *http.Request) error {
	a, err := s.app(r, userapps.ActionRun)
	var replay *userapps.Replay
	if err == nil {
		a, replay, err = s.opts.Apps.Restore(r.Context(), a.ID)
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"app": appModel(a), "replay": replay})
	return nil
}
