package gittest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// HTTPServer serves repositories over Git's smart HTTP protocol, read-only
// (git-upload-pack only), on 127.0.0.1. When Token is set, every request
// must carry it as the basic-auth password (any user name); otherwise it
// is answered 401.
type HTTPServer struct {
	// URL is the server's base URL, http://127.0.0.1:port.
	URL   string
	Token string

	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	repos    map[string]*Repo // by path without leading slash
}

// NewHTTPServer starts a server requiring token (none if ""); it stops
// when the test ends.
func NewHTTPServer(t testing.TB, token string) *HTTPServer {
	t.Helper()
	s := &HTTPServer{Token: token, repos: map[string]*Repo{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Add serves r at path (such as "acme/mail.git") and returns its URL.
func (s *HTTPServer) Add(path string, r *Repo) string {
	path = strings.Trim(path, "/")
	s.mu.Lock()
	s.repos[path] = r
	s.mu.Unlock()
	return s.URL + "/" + path
}

// Requests is how many requests the server has received.
func (s *HTTPServer) Requests() int { return int(s.requests.Load()) }

// repoStorer loads the repository served at path; not-found once deleted.
type repoLoader struct{ dir string }

func (l repoLoader) Load(*transport.Endpoint) (storer.Storer, error) {
	if l.dir == "" {
		return nil, transport.ErrRepositoryNotFound
	}
	return filesystem.NewStorage(osfs.New(l.dir), cache.NewObjectLRUDefault()), nil
}

func (s *HTTPServer) serve(w http.ResponseWriter, req *http.Request) {
	s.requests.Add(1)
	if s.Token != "" {
		_, pass, ok := req.BasicAuth()
		if !ok || pass != s.Token {
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
	}
	p := strings.TrimPrefix(req.URL.Path, "/")
	var repoPath, op string
	switch {
	case req.Method == http.MethodGet && strings.HasSuffix(p, "/info/refs"):
		repoPath, op = strings.TrimSuffix(p, "/info/refs"), "refs"
		if svc := req.URL.Query().Get("service"); svc != transport.UploadPackServiceName {
			http.Error(w, "only git-upload-pack is served (read-only)", http.StatusForbidden)
			return
		}
	case req.Method == http.MethodPost && strings.HasSuffix(p, "/"+transport.UploadPackServiceName):
		repoPath, op = strings.TrimSuffix(p, "/"+transport.UploadPackServiceName), "pack"
	case strings.HasSuffix(p, "/"+transport.ReceivePackServiceName):
		http.Error(w, "pushing is not allowed (read-only)", http.StatusForbidden)
		return
	default:
		http.NotFound(w, req)
		return
	}
	s.mu.Lock()
	r := s.repos[repoPath]
	s.mu.Unlock()
	if r == nil || r.gitDir() == "" {
		http.Error(w, "repository not found", http.StatusNotFound)
		return
	}
	r.mu.Lock() // no commit while serving
	defer r.mu.Unlock()
	sess, err := server.NewServer(repoLoader{r.gitDir()}).NewUploadPackSession(&transport.Endpoint{}, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer sess.Close()
	w.Header().Set("Cache-Control", "no-cache")
	if op == "refs" {
		ar, err := sess.AdvertisedReferencesContext(req.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ar.Prefix = [][]byte{[]byte("# service=" + transport.UploadPackServiceName), pktline.Flush}
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		_ = ar.Encode(w)
		return
	}
	upr := packp.NewUploadPackRequest()
	if err := upr.Decode(req.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := sess.UploadPack(req.Context(), upr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
	_ = resp.Encode(w)
}
