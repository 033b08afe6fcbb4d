package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/flowlab/flowlab/userapps"
)

// userRoutes serves user management, for admins only: the token of a new
// user (or a new token of an existing one) is shown once, in the answer;
// the store keeps only its hash.
func (s *Server) userRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/users", s.h(s.listUsers))
	mux.HandleFunc("POST /api/users", s.h(s.createUser))
	mux.HandleFunc("GET /api/users/me", s.h(s.me))
	mux.HandleFunc("PATCH /api/users/{name}", s.h(s.changeRole))
	mux.HandleFunc("DELETE /api/users/{name}", s.h(s.deleteUser))
	mux.HandleFunc("POST /api/users/{name}/token", s.h(s.newToken))
}

func userModel(u userapps.User) map[string]any {
	return map[string]any{"name": u.Name, "role": u.Role, "created": isoTime(u.Created)}
}

// mayManageUsers refuses everyone but admins.
func mayManageUsers(r *http.Request) error {
	u, _ := UserFrom(r.Context())
	return userapps.Authorize(u, userapps.ActionManageUsers, nil)
}

// newToken returns a fresh random API token.
func newAPIToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	u, _ := UserFrom(r.Context())
	s.writeJSON(w, http.StatusOK, userModel(u))
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := mayManageUsers(r); err != nil {
		return err
	}
	users, err := s.opts.UserStore.Users(r.Context())
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, u := range users {
		list = append(list, userModel(u))
	}
	s.writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := mayManageUsers(r); err != nil {
		return err
	}
	var req struct {
		Name string        `json:"name"`
		Role userapps.Role `json:"role"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if !req.Role.Valid() {
		return fmt.Errorf("%w: role %q: use admin, developer or viewer", userapps.ErrInvalid, req.Role)
	}
	tok, err := newAPIToken()
	if err != nil {
		return err
	}
	u := userapps.User{Name: req.Name, Role: req.Role, TokenHash: userapps.HashToken(tok), Created: s.opts.Now().UTC()}
	if err := s.opts.UserStore.CreateUser(r.Context(), u); err != nil {
		return err
	}
	m := userModel(u)
	m["token"] = tok
	w.Header().Set("Location", "/api/users/"+u.Name)
	s.writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) changeRole(w http.ResponseWriter, r *http.Request) error {
	if err := mayManageUsers(r); err != nil {
		return err
	}
	var req struct {
		Role userapps.Role `json:"role"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if !req.Role.Valid() {
		return fmt.Errorf("%w: role %q: use admin, developer or viewer", userapps.ErrInvalid, req.Role)
	}
	if me, _ := UserFrom(r.Context()); me.Name == r.PathValue("name") {
		return fmt.Errorf("%w: an admin cannot change their own role; another admin can", userapps.ErrConflict)
	}
	u, err := s.opts.UserStore.UpdateUser(r.Context(), r.PathValue("name"), func(u *userapps.User) error {
		u.Role = req.Role
		return nil
	})
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, userModel(u))
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := mayManageUsers(r); err != nil {
		return err
	}
	me, _ := UserFrom(r.Context())
	if me.Name == r.PathValue("name") {
		return fmt.Errorf("%w: an admin cannot delete themselves; another admin can", userapps.ErrConflict)
	}
	if err := s.opts.UserStore.DeleteUser(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	s.endKernelsOf(r, r.PathValue("name"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// newToken replaces a user's token; the old one stops working at once.
func (s *Server) newToken(w http.ResponseWriter, r *http.Request) error {
	if err := mayManageUsers(r); err != nil {
		return err
	}
	tok, err := newAPIToken()
	if err != nil {
		return err
	}
	u, err := s.opts.UserStore.UpdateUser(r.Context(), r.PathValue("name"), func(u *userapps.User) error {
		u.TokenHash = userapps.HashToken(tok)
		return nil
	})
	if err != nil {
		return err
	}
	// Whoever held the old token may have kernels running: they end too.
	s.endKernelsOf(r, u.Name)
	m := userModel(u)
	m["token"] = tok
	s.writeJSON(w, http.StatusOK, m)
	return nil
}

// endKernelsOf shuts down the kernels a user started (their websockets end
// with them): after a token is revoked or the user removed, nothing they
// opened keeps running code.
func (s *Server) endKernelsOf(r *http.Request, name string) {
	if s.opts.Kernels == nil {
		return
	}
	for _, k := range s.opts.Kernels.List() {
		if k.Owner() != name {
			continue
		}
		if err := k.Shutdown(r.Context()); err != nil {
			s.log.Warn("shut down a revoked user's kernel", "user", name, "kernel", k.ID(), "err", err)
		}
		s.forgetKernel(k.ID())
	}
}
