package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// sesData starts the data of a page about a connection's SES account (the
// pages under /connections/{id}/): the connection, for the heading and the
// tabs. Errors: ENotFound.
func (s *Server) sesData(r *http.Request, c *reqCtx, tab, title string) (map[string]any, error) {
	conn, err := s.Service.Connection(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"Title": title + " · " + conn.Name, "Section": "identities", "Conn": conn, "Tab": tab,
		"Managed": conn.Managed()}, nil
}

// shownOnPage reports whether an error belongs on the page that asked AWS
// (AWS refused or failed, kept throttling, or the connection cannot reach
// AWS) rather than on the error page.
func shownOnPage(err error) bool {
	switch domain.ErrorCode(err) {
	case domain.EAWS, domain.ETooMany, domain.EInvalid:
		return true
	}
	return false
}

// setRetryAfter sets the Retry-After header of an error that has one.
func setRetryAfter(w http.ResponseWriter, err error) {
	if n := domain.RetryAfter(err); n > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(n))
	}
}

// sesShow renders a page about a connection's SES account. An error AWS
// gave (or a connection without AWS access) is shown on the page, with
// its status; any other error is the error page.
func (s *Server) sesShow(w http.ResponseWriter, r *http.Request, c *reqCtx, page string, d map[string]any, err error) error {
	if err == nil {
		return s.page(w, r, c, page, d)
	}
	if !shownOnPage(err) {
		return err
	}
	d["Error"] = domain.ErrorMessage(err)
	setRetryAfter(w, err)
	return s.render(w, r, c, httpStatus(domain.ErrorCode(err)), page, d)
}

// sesOverviewConn is one connection on the Identities section's page.
type sesOverviewConn struct {
	Conn       domain.Connection
	Managed    bool // SendOps reaches its account
	Identities []service.SESIdentitySummary
	More       bool
	Error      string
}

// sesOverviewLimit is how many identities of each connection the section
// page lists; the connection's own page has the rest.
const sesOverviewLimit = 100

// The Identities section reads sesOverviewReads connections at a time, all
// within sesOverviewBudget, well inside the server's write timeout.
const (
	sesOverviewReads  = 4
	sesOverviewBudget = 30 * time.Second
)

// sesOverviewPage is the Identities section: every connection, and the
// identities of those SendOps reaches, read side by side under one
// deadline; a connection whose account could not be read in time says so.
func (s *Server) sesOverviewPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	conns, err := s.Service.Connections(r.Context(), c.actor)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), sesOverviewBudget)
	defer cancel()
	out := make([]sesOverviewConn, len(conns))
	errs := make([]error, len(conns))
	slots := make(chan struct{}, sesOverviewReads)
	var wg sync.WaitGroup
	for i, conn := range conns {
		out[i] = sesOverviewConn{Conn: conn, Managed: conn.Managed()}
		if !out[i].Managed {
			continue
		}
		wg.Go(func() {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			ids, next, err := s.Service.SESIdentities(ctx, c.actor, conn.ID, domain.Page{Limit: sesOverviewLimit})
			out[i].Identities, out[i].More, errs[i] = ids, next != "", err
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case err == nil:
		case shownOnPage(err):
			out[i].Error = domain.ErrorMessage(err)
		case ctx.Err() != nil && r.Context().Err() == nil:
			out[i].Error = "AWS did not answer in time: reload the page to try again."
		default:
			return err
		}
	}
	return s.page(w, r, c, "ses_overview", map[string]any{"Title": "Identities", "Section": "identities", "Conns": out})
}

// sesAccountView is the account page's figures, written for people.
type sesAccountView struct {
	*service.SESAccount
	Quota, Rate, Sent, Used string
}

func (s *Server) sesAccountPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := s.sesData(r, c, "account", "SES account")
	if err != nil {
		return err
	}
	acc, err := s.Service.SESAccount(r.Context(), c.actor, r.PathValue("id"))
	if err == nil {
		v := sesAccountView{SESAccount: acc, Quota: "unlimited", Rate: number(acc.MaxSendRate) + " a second", Sent: number(acc.SentLast24Hours)}
		if acc.Max24HourSend >= 0 {
			v.Quota = number(acc.Max24HourSend)
			v.Used = fmt.Sprintf("%.1f%%", acc.QuotaUsedPercent())
		}
		d["Account"] = v
	}
	return s.sesShow(w, r, c, "ses_account", d, err)
}

// number writes a count with thousands separators: 50,000; 14.5.
func number(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	sign := ""
	if strings.HasPrefix(whole, "-") {
		sign, whole = "-", whole[1:]
	}
	var b strings.Builder
	for i := range len(whole) {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(whole[i])
	}
	if frac != "" {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}
