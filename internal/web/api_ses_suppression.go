package web

import (
	"bytes"
	"encoding/csv"
	"io"
	"mime"
	"net/http"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
)

type suppressedJSON struct {
	Email          string    `json:"email"`
	Reason         string    `json:"reason"`
	LastUpdateTime time.Time `json:"last_update_time"`
	MessageID      string    `json:"message_id,omitempty"`
	FeedbackID     string    `json:"feedback_id,omitempty"`
}

func toSuppressedJSON(d *service.Suppressed) suppressedJSON {
	return suppressedJSON{Email: d.Email, Reason: d.Reason, LastUpdateTime: d.LastUpdate, MessageID: d.MessageID, FeedbackID: d.FeedbackID}
}

// suppressionListJSON is a page of the suppression list: a list answer
// that also says how it was made (see service.SuppressionPage).
type suppressionListJSON struct {
	list[suppressedJSON]
	Mode    string `json:"mode"`
	Scanned int    `json:"scanned"`
}

func (s *Server) apiSuppressionList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.Service.Suppressions(r.Context(), c.actor, r.PathValue("id"), service.SuppressionQuery{Reason: q.Get("reason"), Q: q.Get("q"), Page: p})
	if err != nil {
		return err
	}
	out := suppressionListJSON{list: list[suppressedJSON]{Data: make([]suppressedJSON, len(page.Entries)), NextCursor: page.Next}, Mode: page.Mode, Scanned: page.Scanned}
	for i := range page.Entries {
		out.Data[i] = toSuppressedJSON(&page.Entries[i])
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiSuppressionGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := s.Service.Suppression(r.Context(), c.actor, r.PathValue("id"), r.PathValue("email"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSuppressedJSON(d))
}

func (s *Server) apiSuppressionPut(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	d, err := s.Service.PutSuppression(r.Context(), c.actor, r.PathValue("id"), r.PathValue("email"), in.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSuppressedJSON(d))
}

func (s *Server) apiSuppressionDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.DeleteSuppression(r.Context(), c.actor, r.PathValue("id"), r.PathValue("email")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type importFailureJSON struct {
	Line    int    `json:"line"`
	Email   string `json:"email"`
	Message string `json:"message"`
}

type suppressionImportJSON struct {
	Rows       int                 `json:"rows"`
	Applied    int                 `json:"applied"`
	Failed     []importFailureJSON `json:"failed"`
	NotApplied int                 `json:"not_applied"`
	Stopped    string              `json:"stopped,omitempty"`
}

func toSuppressionImportJSON(res *service.SuppressionImport) suppressionImportJSON {
	out := suppressionImportJSON{Rows: res.Rows, Applied: res.Applied, NotApplied: res.NotApplied, Stopped: res.Stopped, Failed: []importFailureJSON{}}
	for _, f := range res.Failed {
		out.Failed = append(out.Failed, importFailureJSON{Line: f.Line, Email: f.Email, Message: f.Message})
	}
	return out
}

func (s *Server) apiSuppressionImport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "text/csv" && mt != "text/plain" {
		return domain.Errorf(domain.EInvalid, "Send the file as the body, with Content-Type: text/csv.")
	}
	file, err := io.ReadAll(r.Body)
	if err != nil {
		return err // too large: 413
	}
	extendWriteDeadline(w, importDeadline)
	res, err := s.Service.ImportSuppressions(r.Context(), c.actor, r.PathValue("id"), bytes.NewReader(file))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSuppressionImportJSON(res))
}

// importDeadline is how long an import may take to answer: SES takes one
// address a call.
const importDeadline = 10 * time.Minute

// extendWriteDeadline lets a long request answer later than the server's
// write timeout.
func extendWriteDeadline(w http.ResponseWriter, d time.Duration) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
}

func (s *Server) apiSuppressionExport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.writeSuppressionCSV(w, r, c.actor, r.PathValue("id"))
}

// writeSuppressionCSV streams a connection's suppression list (of the
// query's reason, or all) as CSV, a page of SES's list at a time. An error
// before the first page is answered as an error; a later one aborts the
// response, so that the client sees a failed download, not a short file.
func (s *Server) writeSuppressionCSV(w http.ResponseWriter, r *http.Request, a *domain.Actor, connID string) error {
	rc := http.NewResponseController(w)
	var cw *csv.Writer
	err := s.Service.ExportSuppressions(r.Context(), a, connID, r.URL.Query().Get("reason"), func(page []service.Suppressed) error {
		if cw == nil {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="suppression-`+time.Now().UTC().Format("20060102")+`.csv"`)
			w.Header().Set("Cache-Control", "no-store")
			cw = csv.NewWriter(w)
			cw.Write([]string{"email", "reason", "last_update_time"})
		}
		for _, d := range page {
			cw.Write([]string{csvSafe(d.Email), d.Reason, d.LastUpdate.UTC().Format(time.RFC3339)})
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		rc.SetWriteDeadline(time.Now().Add(time.Minute))
		return rc.Flush()
	})
	if err != nil && cw == nil {
		return err
	}
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "suppression export failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
