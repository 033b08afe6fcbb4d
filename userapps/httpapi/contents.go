package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/flowlab/flowlab/userapps"
)

// maxContentBody bounds a PUT or POST body of the contents API.
const maxContentBody = 64 << 20

// contentModel is the Jupyter contents model of a file, notebook or folder.
type contentModel struct {
	Name         string  `json:"name"`
	Path         string  `json:"path"`
	Type         string  `json:"type"`
	Writable     bool    `json:"writable"`
	Created      string  `json:"created"`
	LastModified string  `json:"last_modified"`
	Mimetype     *string `json:"mimetype"`
	Content      any     `json:"content"`
	Format       *string `json:"format"`
	Size         *int64  `json:"size"`
}

// contentRequest is the body of PUT, POST and PATCH.
type contentRequest struct {
	Type     string          `json:"type"`
	Format   string          `json:"format"`
	Content  json.RawMessage `json:"content"`
	Path     string          `json:"path"`
	Ext      string          `json:"ext"`
	CopyFrom string          `json:"copy_from"`
}

func (s *Server) contentsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/contents", s.contents)
	mux.HandleFunc("/api/contents/{path...}", s.contents)
}

// contents dispatches /api/contents/PATH and its /checkpoints suffixes.
func (s *Server) contents(w http.ResponseWriter, r *http.Request) {
	p := strings.Trim(r.PathValue("path"), "/")
	if before, id, ok := cutCheckpoints(p); ok {
		s.checkpoints(w, r, before, id)
		return
	}
	var err error
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		err = s.getContent(w, r, p)
	case http.MethodPut:
		err = s.putContent(w, r, p)
	case http.MethodPost:
		err = s.postContent(w, r, p)
	case http.MethodPatch:
		err = s.renameContent(w, r, p)
	case http.MethodDelete:
		if err = s.authorizePath(r, p, true); err == nil {
			if err = s.opts.Contents.Delete(r.Context(), p); err == nil {
				w.WriteHeader(http.StatusNoContent)
			}
		}
	default:
		w.Header().Set("Allow", "GET, PUT, POST, PATCH, DELETE")
		err = fmt.Errorf("%w: method %s", userapps.ErrInvalid, r.Method)
	}
	if err != nil {
		s.fail(w, r, err)
	}
}

// cutCheckpoints splits "nb.ipynb/checkpoints[/ID]".
func cutCheckpoints(p string) (file, id string, ok bool) {
	if f, ok := strings.CutSuffix(p, "/checkpoints"); ok {
		return f, "", true
	}
	i := strings.LastIndex(p, "/checkpoints/")
	if i < 0 {
		return "", "", false
	}
	return p[:i], p[i+len("/checkpoints/"):], true
}

// authorizePath applies the contents API's rule: a user's files live in the
// folder named after them. Admins reach everything, viewers read
// everything, developers reach their own folder only.
func (s *Server) authorizePath(r *http.Request, p string, write bool) error {
	// The folder rule compares path prefixes, so it only holds for clean
	// paths: refuse "..", ".", empty components and absolute paths here
	// rather than trust every store to.
	if p != "" {
		for _, c := range strings.Split(p, "/") {
			if c == "" || c == "." || c == ".." {
				return fmt.Errorf("%w: path %q: use a relative path without empty, \".\" or \"..\" components", userapps.ErrInvalid, p)
			}
		}
	}
	u, _ := UserFrom(r.Context())
	switch u.Role {
	case userapps.RoleAdmin:
		return nil
	case userapps.RoleViewer:
		if !write {
			return nil
		}
	case userapps.RoleDeveloper:
		if p == u.Name || strings.HasPrefix(p, u.Name+"/") || (p == "" && !write) {
			return nil
		}
	}
	verb := "read"
	if write {
		verb = "change"
	}
	return fmt.Errorf("user %s (%s) may not %s %q: %w", u.Name, u.Role, verb, "/"+p, userapps.ErrForbidden)
}

func (s *Server) getContent(w http.ResponseWriter, r *http.Request, p string) error {
	if err := s.authorizePath(r, p, false); err != nil {
		return err
	}
	q := r.URL.Query()
	withContent := q.Get("content") != "0"
	e, err := s.opts.Contents.Stat(r.Context(), p)
	if err != nil {
		return err
	}
	m, err := s.model(r, e, withContent, q.Get("type"), q.Get("format"))
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, m)
	return nil
}

// model describes e, with its content when asked.
func (s *Server) model(r *http.Request, e userapps.Entry, withContent bool, typ, format string) (*contentModel, error) {
	m := &contentModel{
		Name: path.Base(e.Path), Path: e.Path, Writable: s.authorizePath(r, e.Path, true) == nil,
		Created: isoTime(e.Modified), LastModified: isoTime(e.Modified),
	}
	if e.Path == "" {
		m.Name = ""
	}
	switch {
	case e.Dir:
		m.Type = "directory"
		if !withContent {
			return m, nil
		}
		entries, err := s.opts.Contents.List(r.Context(), e.Path)
		if err != nil {
			return nil, err
		}
		list := []*contentModel{}
		for _, c := range entries {
			if s.authorizePath(r, c.Path, false) != nil {
				continue // other users' folders are not listed
			}
			cm, err := s.model(r, c, false, "", "")
			if err != nil {
				return nil, err
			}
			list = append(list, cm)
		}
		m.Content, m.Format = list, ptr("json")
		return m, nil
	case strings.HasSuffix(e.Path, ".ipynb") && typ != "file":
		m.Type = "notebook"
	default:
		m.Type = "file"
		mt := mime.TypeByExtension(path.Ext(e.Path))
		if mt == "" {
			mt = "text/plain"
		}
		m.Mimetype = ptr(mt)
	}
	size := e.Size
	m.Size = &size
	if !withContent {
		return m, nil
	}
	data, _, err := s.opts.Contents.Get(r.Context(), e.Path)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Type == "notebook":
		if !json.Valid(data) {
			return nil, fmt.Errorf("notebook %s is not valid JSON: %w", e.Path, userapps.ErrInvalid)
		}
		m.Content, m.Format = json.RawMessage(data), ptr("json")
	case format != "base64" && utf8.Valid(data):
		m.Content, m.Format = string(data), ptr("text")
	default:
		m.Content, m.Format = base64.StdEncoding.EncodeToString(data), ptr("base64")
		if format != "base64" {
			m.Mimetype = ptr("application/octet-stream")
		}
	}
	return m, nil
}

func ptr[T any](v T) *T { return &v }

func readRequest(r *http.Request) (contentRequest, error) {
	var req contentRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxContentBody+1))
	if err != nil {
		return req, fmt.Errorf("read the request body: %w", err)
	}
	if len(body) > maxContentBody {
		return req, fmt.Errorf("%w: the body is larger than %d MiB", userapps.ErrInvalid, maxContentBody>>20)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("%w: the body is not a contents model: %v", userapps.ErrInvalid, err)
	}
	return req, nil
}

// putContent saves a file, a notebook or a folder: 201 when it is new.
func (s *Server) putContent(w http.ResponseWriter, r *http.Request, p string) error {
	if err := s.authorizePath(r, p, true); err != nil {
		return err
	}
	req, err := readRequest(r)
	if err != nil {
		return err
	}
	if req.CopyFrom != "" {
		return fmt.Errorf("%w: copy with POST to the folder and copy_from", userapps.ErrInvalid)
	}
	_, statErr := s.opts.Contents.Stat(r.Context(), p)
	status := http.StatusOK
	if statErr != nil {
		status = http.StatusCreated
	}
	var e userapps.Entry
	switch req.Type {
	case "directory":
		e, err = s.opts.Contents.Mkdir(r.Context(), p)
	case "notebook", "file":
		data, derr := decodeContent(req)
		if derr != nil {
			return derr
		}
		e, err = s.opts.Contents.Put(r.Context(), p, data)
	default:
		return fmt.Errorf("%w: type must be notebook, file or directory, not %q", userapps.ErrInvalid, req.Type)
	}
	if err != nil {
		return err
	}
	m, err := s.model(r, e, false, req.Type, "")
	if err != nil {
		return err
	}
	s.writeJSON(w, status, m)
	return nil
}

// decodeContent returns the bytes to store for a PUT.
func decodeContent(req contentRequest) ([]byte, error) {
	if req.Type == "notebook" {
		// Numbers stay as written (json.Number): an integer beyond 2^53 in
		// metadata or an output must not be rounded through a float64.
		var nb map[string]any
		dec := json.NewDecoder(bytes.NewReader(req.Content))
		dec.UseNumber()
		if err := dec.Decode(&nb); err != nil || nb == nil {
			return nil, fmt.Errorf("%w: a notebook's content must be the notebook's JSON object", userapps.ErrInvalid)
		}
		// nbformat's layout: one-space indent, sorted keys, final newline.
		data, err := json.MarshalIndent(nb, "", " ")
		if err != nil {
			return nil, fmt.Errorf("%w: %v", userapps.ErrInvalid, err)
		}
		return append(data, '\n'), nil
	}
	var text string
	if err := json.Unmarshal(req.Content, &text); err != nil {
		return nil, fmt.Errorf("%w: a file's content must be a string", userapps.ErrInvalid)
	}
	switch req.Format {
	case "", "text":
		return []byte(text), nil
	case "base64":
		data, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, fmt.Errorf("%w: content is not base64: %v", userapps.ErrInvalid, err)
		}
		return data, nil
	}
	return nil, fmt.Errorf("%w: format must be text or base64, not %q", userapps.ErrInvalid, req.Format)
}

// postContent creates an untitled notebook, file or folder in the folder p,
// or copies copy_from into it.
func (s *Server) postContent(w http.ResponseWriter, r *http.Request, dir string) error {
	if err := s.authorizePath(r, dir, true); err != nil {
		return err
	}
	req, err := readRequest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var e userapps.Entry
	switch {
	case req.CopyFrom != "":
		from := strings.Trim(req.CopyFrom, "/")
		if err := s.authorizePath(r, from, false); err != nil {
			return err
		}
		ext := path.Ext(from)
		base := strings.TrimSuffix(path.Base(from), ext) + "-Copy"
		e, err = s.createUnique(r, dir, base, ext, true, func(p string) (userapps.Entry, error) {
			return s.opts.Contents.Copy(ctx, from, p)
		})
	case req.Type == "directory":
		e, err = s.createUnique(r, dir, "Untitled Folder", "", false, func(p string) (userapps.Entry, error) {
			return s.opts.Contents.Mkdir(ctx, p)
		})
	case req.Type == "file":
		ext := req.Ext
		if ext == "" {
			ext = ".txt"
		}
		e, err = s.createUnique(r, dir, "untitled", ext, false, func(p string) (userapps.Entry, error) {
			return s.opts.Contents.Put(ctx, p, nil)
		})
	case req.Type == "" || req.Type == "notebook":
		e, err = s.createUnique(r, dir, "Untitled", ".ipynb", false, func(p string) (userapps.Entry, error) {
			return s.opts.Contents.Put(ctx, p, blankNotebook())
		})
	default:
		return fmt.Errorf("%w: type must be notebook, file or directory, not %q", userapps.ErrInvalid, req.Type)
	}
	if err != nil {
		return err
	}
	m, err := s.model(r, e, false, "", "")
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/contents/"+e.Path)
	s.writeJSON(w, http.StatusCreated, m)
	return nil
}

// createUnique creates dir/base+ext, or base1, base2, ... (Jupyter's
// numbering; copies number from 1) when the name is taken.
func (s *Server) createUnique(r *http.Request, dir, base, ext string, numberFirst bool, create func(string) (userapps.Entry, error)) (userapps.Entry, error) {
	start := 0
	if numberFirst {
		start = 1
	}
	for i := start; i < 10000; i++ {
		name := base + ext
		if i > 0 {
			name = fmt.Sprintf("%s%d%s", base, i, ext)
		}
		p := path.Join(dir, name)
		if _, err := s.opts.Contents.Stat(r.Context(), p); err == nil {
			continue
		}
		return create(p)
	}
	return userapps.Entry{}, fmt.Errorf("%w: no free name for %s%s in %q", userapps.ErrConflict, base, ext, dir)
}

// blankNotebook is a new notebook for the Go kernel.
func blankNotebook() []byte {
	return []byte(`{
 "cells": [],
 "metadata": {
  "kernelspec": {"display_name": "Go (flowlab)", "language": "go", "name": "flowlab-go"},
  "language_info": {"file_extension": ".go", "mimetype": "text/x-go", "name": "go"}
 },
 "nbformat": 4,
 "nbformat_minor": 5
}
`)
}

func (s *Server) renameContent(w http.ResponseWriter, r *http.Request, p string) error {
	req, err := readRequest(r)
	if err != nil {
		return err
	}
	to := strings.Trim(req.Path, "/")
	if to == "" {
		return fmt.Errorf("%w: PATCH needs the new path: {\"path\": \"folder/new-name.ipynb\"}", userapps.ErrInvalid)
	}
	if err := s.authorizePath(r, p, true); err != nil {
		return err
	}
	if err := s.authorizePath(r, to, true); err != nil {
		return err
	}
	e, err := s.opts.Contents.Rename(r.Context(), p, to)
	if err != nil {
		return err
	}
	m, err := s.model(r, e, false, "", "")
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, m)
	return nil
}

// checkpoints serves /api/contents/PATH/checkpoints[/ID].
func (s *Server) checkpoints(w http.ResponseWriter, r *http.Request, p, id string) {
	ctx := r.Context()
	write := !safeMethod(r.Method)
	err := s.authorizePath(r, p, write)
	if err == nil {
		switch {
		case id == "" && r.Method == http.MethodGet:
			var cps []userapps.Checkpoint
			if cps, err = s.opts.Contents.Checkpoints(ctx, p); err == nil {
				list := []map[string]string{}
				for _, c := range cps {
					list = append(list, checkpointModel(c))
				}
				s.writeJSON(w, http.StatusOK, list)
			}
		case id == "" && r.Method == http.MethodPost:
			var c userapps.Checkpoint
			if c, err = s.opts.Contents.CreateCheckpoint(ctx, p); err == nil {
				s.writeJSON(w, http.StatusCreated, checkpointModel(c))
			}
		case id != "" && r.Method == http.MethodPost:
			if err = s.opts.Contents.RestoreCheckpoint(ctx, p, id); err == nil {
				w.WriteHeader(http.StatusNoContent)
			}
		case id != "" && r.Method == http.MethodDelete:
			if err = s.opts.Contents.DeleteCheckpoint(ctx, p, id); err == nil {
				w.WriteHeader(http.StatusNoContent)
			}
		default:
			err = fmt.Errorf("%w: %s on checkpoints: GET or POST .../checkpoints, POST or DELETE .../checkpoints/ID", userapps.ErrInvalid, r.Method)
		}
	}
	if err != nil {
		s.fail(w, r, err)
	}
}

func checkpointModel(c userapps.Checkpoint) map[string]string {
	return map[string]string{"id": c.ID, "last_modified": isoTime(c.Created)}
}
