package web

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

//go:embed static
var staticFiles embed.FS

// assets serves the embedded static files at content-hashed names
// (app.3f2a9c1d.css), cached for a year.
type assets struct {
	byHashed map[string]asset // "app.3f2a9c1d.css" → file
	urls     map[string]string
}

type asset struct {
	body  []byte
	ctype string
}

func loadAssets() (*assets, error) {
	a := &assets{byHashed: map[string]asset{}, urls: map[string]string{}}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Base(p)
		sum := sha256.Sum256(b)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		a.byHashed[hashed] = asset{body: b, ctype: mime.TypeByExtension(ext)}
		a.urls[name] = "/static/" + hashed
		return nil
	})
	return a, err
}

// url returns the hashed URL of a static file, for templates.
func (a *assets) url(name string) string { return a.urls[name] }

func (s *Server) static(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f, ok := s.assets.byHashed[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return nil
	}
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(f.body)
	return nil
}
