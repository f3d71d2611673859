package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
)

//go:embed templates
var templateFiles embed.FS

// views holds every page template, parsed once at start with the layouts
// and partials.
type views struct {
	pages map[string]*template.Template
}

func loadViews(a *assets) (*views, error) {
	funcs := template.FuncMap{
		"asset": a.url,
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"timep": func(t *time.Time) string {
			if t == nil {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"can":         func(a *domain.Actor, act string) bool { return a != nil && a.Can(domain.Action(act)) },
		"short":       service.ShortHash,
		"roles":       func() []domain.Role { return domain.Roles },
		"scopes":      func() []domain.Scope { return domain.Scopes },
		"join":        domain.JoinScopes,
		"noticeKinds": func() []domain.NoticeKind { return domain.NoticeKinds },
		"eq1":         func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
		// scopeChecked keeps the scopes ticked in a sent form, or the default.
		"scopeChecked": func(f *form, scope string, def bool) bool {
			if f == nil || f.Values == nil {
				return def
			}
			for _, v := range f.Values["scopes"] {
				if v == scope {
					return true
				}
			}
			return false
		},
		// formIf gives a page's form to the section of the page that sent it.
		"formIf": func(which any, want string, f *form) *form {
			if fmt.Sprint(which) == want {
				return f
			}
			return nil
		},
		// field builds the arguments of the "field" partial.
		"field": func(f *form, name, label, typ string, extra ...string) map[string]any {
			m := map[string]any{"Name": name, "Label": label, "Type": typ, "Value": f.Get(name), "Err": f.Err(name)}
			for i := 0; i+1 < len(extra); i += 2 {
				m[extra[i]] = extra[i+1]
			}
			return m
		},
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/layout/*.html")
	if err != nil {
		return nil, err
	}
	v := &views{pages: map[string]*template.Template{}}
	pages, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, p)
		if err != nil {
			return nil, err
		}
		v.pages[strings.TrimSuffix(path.Base(p), ".html")] = t
	}
	return v, nil
}

// form is a submitted form: what the user typed, and what was wrong.
type form struct {
	Values url.Values
	Errors map[string]string
	Error  string // an error not about one field
}

// Get returns what the user typed in a field.
func (f *form) Get(k string) string {
	if f == nil || f.Values == nil {
		return ""
	}
	return f.Values.Get(k)
}

// Err returns the error of a field.
func (f *form) Err(k string) string {
	if f == nil {
		return ""
	}
	return f.Errors[k]
}

// formFrom makes a form from a request and the error a service returned. A
// field error is shown by its field; anything else above the form.
func formFrom(r *http.Request, err error) *form {
	f := &form{Values: url.Values{}, Errors: map[string]string{}}
	for k, v := range r.PostForm {
		if k != "csrf" && !strings.Contains(k, "password") && k != "code" {
			f.Values[k] = v // never echo passwords or codes back
		}
	}
	if de, ok := err.(*domain.Error); ok && de.Field != "" {
		f.Errors[de.Field] = de.Message
	} else if err != nil {
		f.Error = domain.ErrorMessage(err)
	}
	return f
}

// viewData is what every template gets.
type viewData struct {
	Title       string
	Section     string
	User        *domain.User
	Org         *domain.Org
	Actor       *domain.Actor
	Memberships []domain.Membership
	CSRF        string
	Flash       string
	MFASetup    bool
	Form        *form
	D           map[string]any
}

const flashCookie = "sendops_flash"

// flash shows a message on the next page the browser loads.
func (s *Server) flash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

// redirect sends the browser to a page with a flash message.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to, msg string) error {
	if msg != "" {
		s.flash(w, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// render writes a page. data keys Title, Section and Form are lifted into
// viewData; the rest is available as .D.
func (s *Server) render(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, page string, data map[string]any) error {
	t, ok := s.views.pages[page]
	if !ok {
		return fmt.Errorf("no template %q", page)
	}
	vd := viewData{D: data}
	if c != nil {
		vd.User, vd.Org, vd.Actor, vd.Memberships, vd.CSRF, vd.MFASetup = c.user, c.org, c.actor, c.memberships, c.csrf, c.mfaSetup
	}
	if data != nil {
		vd.Title, _ = data["Title"].(string)
		vd.Section, _ = data["Section"].(string)
		vd.Form, _ = data["Form"].(*form)
		vd.Flash, _ = data["Flash"].(string)
	}
	if ck, err := r.Cookie(flashCookie); err == nil {
		if vd.Flash == "" {
			vd.Flash, _ = url.QueryUnescape(ck.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1})
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, page, vd); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// page renders a page with status 200.
func (s *Server) page(w http.ResponseWriter, r *http.Request, c *reqCtx, name string, data map[string]any) error {
	return s.render(w, r, c, http.StatusOK, name, data)
}

// formError re-renders a page with the form's errors, or returns err when it
// is not the user's to mend (an internal error).
func (s *Server) formError(w http.ResponseWriter, r *http.Request, c *reqCtx, name string, data map[string]any, err error) error {
	code := domain.ErrorCode(err)
	if code == domain.EInternal || code == domain.ENotFound {
		return err
	}
	if data == nil {
		data = map[string]any{}
	}
	data["Form"] = formFrom(r, err)
	setRetryAfter(w, err)
	return s.render(w, r, c, httpStatus(code), name, data)
}
