package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/flowlab/flowlab/userapps"
)

// Users finds the user an API token belongs to (userapps.UserStore has it).
type Users interface {
	// UserByToken returns the user whose token this is, or an error wrapping
	// userapps.ErrNotFound.
	UserByToken(ctx context.Context, token string) (userapps.User, error)
}

// Cookie names. The token cookie is set when a browser opens a URL with
// ?token=, as Jupyter does; the XSRF cookie holds the value unsafe requests
// authenticated by that cookie must repeat in the X-XSRFToken header.
const (
	TokenCookie = "flowlab_token"
	XSRFCookie  = "_xsrf"
	XSRFHeader  = "X-XSRFToken"
)

type userKey struct{}

// UserFrom returns the authenticated user of a request that went through
// the server's authentication.
func UserFrom(ctx context.Context) (userapps.User, bool) {
	u, ok := ctx.Value(userKey{}).(userapps.User)
	return u, ok
}

// credential is where a request's token came from.
type credential int

const (
	noCredential credential = iota
	headerCredential
	queryCredential
	cookieCredential
)

// requestToken returns the token a request presents: the Authorization
// header ("token T" or "Bearer T"), the token query parameter, or the token
// cookie, in that order.
func requestToken(r *http.Request) (string, credential) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "token") || strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(tok), headerCredential
		}
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		return tok, queryCredential
	}
	if c, err := r.Cookie(TokenCookie); err == nil && c.Value != "" {
		return c.Value, cookieCredential
	}
	return "", noCredential
}

// authenticate wraps next: requests without a valid token get 401; unsafe
// requests authenticated by cookie alone must carry the XSRF header; a
// token given in the query is turned into cookies for the browser's next
// requests.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, from := requestToken(r)
		if from == noCredential {
			s.fail(w, r, fmt.Errorf("%w: send the token as 'Authorization: token T', ?token=T, or log in with the URL the server printed", userapps.ErrUnauthenticated))
			return
		}
		u, err := s.opts.Users.UserByToken(r.Context(), tok)
		if err != nil {
			if errors.Is(err, userapps.ErrNotFound) {
				err = fmt.Errorf("%w: the token is not valid", userapps.ErrUnauthenticated)
			}
			s.fail(w, r, err)
			return
		}
		if from == cookieCredential && !safeMethod(r.Method) && !xsrfOK(r) {
			s.fail(w, r, fmt.Errorf("%w: a %s authenticated by cookie must repeat the %s cookie in the %s header", userapps.ErrForbidden, r.Method, XSRFCookie, XSRFHeader))
			return
		}
		if from == queryCredential && !isWebsocket(r) {
			s.setBrowserCookies(w, r, tok)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func xsrfOK(r *http.Request) bool {
	c, err := r.Cookie(XSRFCookie)
	h := r.Header.Get(XSRFHeader)
	return err == nil && c.Value != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(h)) == 1
}

// setBrowserCookies logs a browser in: the token as an HttpOnly cookie, and
// a random XSRF value its scripts can read and repeat.
func (s *Server) setBrowserCookies(w http.ResponseWriter, r *http.Request, tok string) {
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: tok, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	if _, err := r.Cookie(XSRFCookie); err != nil {
		http.SetCookie(w, &http.Cookie{Name: XSRFCookie, Value: s.newID(), Path: "/", Secure: secure, SameSite: http.SameSiteStrictMode})
	}
}

// browserLogin wraps the web UI: a page opened with ?token=T (the URL the
// server prints) gets the login cookies when the token is valid, and is
// redirected to the same address without the token, so it stays out of
// the history and of bookmarks; an invalid token redirects with
// login=invalid, which the page shows on its login form.
func (s *Server) browserLogin(ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		tok := q.Get("token")
		if tok == "" {
			ui.ServeHTTP(w, r)
			return
		}
		q.Del("token")
		switch _, err := s.opts.Users.UserByToken(r.Context(), tok); {
		case errors.Is(err, userapps.ErrNotFound):
			q.Set("login", "invalid")
		case err != nil:
			s.fail(w, r, err)
			return
		default:
			s.setBrowserCookies(w, r, tok)
		}
		target := r.URL.Path
		if strings.HasPrefix(target, "//") {
			target = "/" // never a redirect to another host
		}
		if enc := q.Encode(); enc != "" {
			target += "?" + enc
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
}

// login is POST /login {"token": T}: the web UI's login form. A valid token
// sets the browser's cookies and answers the user; an invalid one is 401.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Token string `json:"token"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Token) == "" {
		return fmt.Errorf("%w: enter a token: the one flowlab serve printed, or a user's", userapps.ErrInvalid)
	}
	u, err := s.opts.Users.UserByToken(r.Context(), strings.TrimSpace(req.Token))
	if errors.Is(err, userapps.ErrNotFound) {
		return fmt.Errorf("%w: the token is not valid: check it, or ask an admin for a new one", userapps.ErrUnauthenticated)
	}
	if err != nil {
		return err
	}
	s.setBrowserCookies(w, r, strings.TrimSpace(req.Token))
	s.writeJSON(w, http.StatusOK, userModel(u))
	return nil
}

// logout is POST /logout: the browser's cookies are cleared (→ 204). The
// token itself stays valid; an admin replaces it to revoke it.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{TokenCookie, XSRFCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name == TokenCookie, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	}
	w.WriteHeader(http.StatusNoContent)
}
