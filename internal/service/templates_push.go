package service

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/domain"
	"sendops/internal/hbs"
	"sendops/internal/store"
)

// Pushing a source's templates to SES: a plan first (what would be
// created, updated, left unchanged, and what SES has that the repository
// does not), then the push itself, which never deletes a template unless
// the user chose it by name; drift (SES's content against the repository's
// at the synced commit); and SES's own rendering of a template.

// Actions of a plan and of a push's results.
const (
	PushCreate    = "create"    // in the repository, not in SES
	PushUpdate    = "update"    // in both, with different content
	PushUnchanged = "unchanged" // in both, the same
	PushExtra     = "extra"     // in SES, not in the repository: left alone
	PushDelete    = "delete"    // an extra the user chose to delete (results only)
)

// Template parts, as plans and drift name them.
const (
	PartSubject = "subject"
	PartHTML    = "html"
	PartText    = "text"
)

// States of a template in drift.
const (
	DriftInSync  = "in_sync" // SES has the repository's content
	DriftChanged = "changed" // SES has other content
	DriftMissing = "missing" // in the repository, not in SES
	DriftExtra   = "extra"   // in SES, not in the repository
)

// MaxPushConnections bounds the connections of one plan or push.
const MaxPushConnections = 20

// pushTimeout bounds the work on one connection (reading every template,
// then changing them): SES takes template calls about once a second.
const pushTimeout = 5 * time.Minute

// templateReads bounds the templates read from one connection at once,
// and connectionWorkers the connections worked on at once.
const (
	templateReads     = 4
	connectionWorkers = 4
)

// PushPlan is what pushing a source's templates would do in each
// connection.
type PushPlan struct {
	SourceID string `json:"source_id"`
	// Commit is the source's synced commit the plan compares with, and
	// State names the synced state itself (the commit, and what the
	// mapping made of it): a push names the state (or the commit), and is
	// refused when the source changed since (see ApplyPush).
	Commit      string           `json:"commit"`
	State       string           `json:"state"`
	Connections []ConnectionPlan `json:"connections"`
}

// ConnectionPlan is a plan for one connection.
type ConnectionPlan struct {
	PushConnection
	// Items are the repository's templates and SES's extras, by name;
	// Counts how many have each action.
	Items  []PlanItem     `json:"items"`
	Counts map[string]int `json:"counts"`
}

// PushConnection names a connection in plans and results. Error says why
// its SES could not be read (nothing is planned or pushed there); the
// other connections go on.
type PushConnection struct {
	ConnectionID   string `json:"connection_id"`
	ConnectionName string `json:"connection_name"`
	AccountID      string `json:"aws_account_id"`
	Region         string `json:"region"`
	Error          string `json:"error,omitempty"`
}

// PlanItem is one template in a plan.
type PlanItem struct {
	Name   string `json:"name"`
	Action string `json:"action"` // PushCreate, PushUpdate, PushUnchanged or PushExtra
	// Changed lists the parts an update changes (PartSubject, PartHTML,
	// PartText).
	Changed []string `json:"changed"`
}

// PushInput is what a push does: the connections, the plan it follows
// (its State, or at least its Commit), and the extras to delete.
type PushInput struct {
	ConnectionIDs []string `json:"connection_ids"`
	Commit        string   `json:"commit,omitempty"`
	State         string   `json:"state,omitempty"`
	Delete        []string `json:"delete,omitempty"`
}

// PushResult is what a push did in each connection.
type PushResult struct {
	SourceID    string                 `json:"source_id"`
	Commit      string                 `json:"commit"`
	State       string                 `json:"state"`
	Connections []ConnectionPushResult `json:"connections"`
}

// ConnectionPushResult is what a push did in one connection; Counts how
// many items have each action, and how many failed ("failed").
type ConnectionPushResult struct {
	PushConnection
	Items  []PushItem     `json:"items"`
	Counts map[string]int `json:"counts"`
}

// PushItem is what a push did with one template.
type PushItem struct {
	Name string `json:"name"`
	// Action is PushCreate, PushUpdate, PushUnchanged, PushDelete (an
	// extra deleted as asked) or PushExtra (an extra left in SES).
	Action  string   `json:"action"`
	Changed []string `json:"changed"`
	// OK is false when SES refused the change; Error says why.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// PushFailed counts the items SES refused, in a push's Counts.
const PushFailed = "failed"

// TemplateDrift compares one connection's SES templates with a source's
// at its synced commit.
type TemplateDrift struct {
	SourceID string `json:"source_id"`
	Commit   string `json:"commit"`
	PushConnection
	Items  []DriftItem    `json:"items"` // by name
	Counts map[string]int `json:"counts"`
}

// DriftItem is one template's drift.
type DriftItem struct {
	Name  string `json:"name"`
	State string `json:"state"` // DriftInSync, DriftChanged, DriftMissing or DriftExtra
	// Diffs are the parts that differ (changed only), from SES's content
	// to the repository's.
	Diffs []PartDiff `json:"diffs"`
}

// RenderedTemplate is SES's own rendering of a template with data
// (TestRenderEmailTemplate), read from the MIME message SES returns.
type RenderedTemplate struct {
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
	MIME    string `json:"mime"` // the message as SES returned it
}

// SESTemplate is a template in a connection's SES.
type SESTemplate struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// pushSource is a source's templates at its synced commit, and the name
// of that state (pushState).
type pushSource struct {
	ID        string
	Name      string
	Commit    string
	State     string
	Templates []RepoTemplate
}

// loadPushSource reads a source's templates at its synced commit, in one
// read, so that the state they are named by is theirs. Errors: ENotFound,
// EInvalid (a source never synced).
func (s *Service) loadPushSource(ctx context.Context, a *domain.Actor, sourceID string) (pushSource, error) {
	src := pushSource{ID: sourceID}
	var ts []store.SourceTemplate
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		src.Name, src.Commit, ts, err = store.SyncedTemplates(ctx, tx, a.OrgID, sourceID)
		return err
	})
	if err != nil {
		return pushSource{}, err
	}
	if src.Commit == "" {
		return pushSource{}, domain.Errorf(domain.EInvalid, "The source has not been synced yet: sync it, then plan the push.")
	}
	for _, t := range ts {
		src.Templates = append(src.Templates, RepoTemplate{Name: t.Name, Subject: t.Blob.Subject, HTML: t.Blob.HTML, Text: t.Blob.Text, Data: t.Blob.Data, BlobHash: t.BlobHash})
	}
	src.State = pushState(src.Commit, src.Templates)
	return src, nil
}

// pushState names a synced state: the SHA-256 of its commit and of each
// template's name and content hash. A sync that changes what a push would
// send (a new commit, or a new mapping at the same commit) changes it.
func pushState(commit string, ts []RepoTemplate) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s\n", len(commit), commit)
	for _, t := range sortedRepo(ts) {
		fmt.Fprintf(h, "%d:%s %s\n", len(t.Name), t.Name, t.BlobHash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// PlanPush shows what pushing the source's templates (at its synced
// commit) to each connection would do: templates to create, to update
// (with the parts that change), unchanged, and extras SES has that the
// repository does not (which a push leaves alone unless asked). A
// connection whose SES cannot be read says why in its Error; the others
// are planned. Anyone who may view templates (viewers and up, read
// keys). Errors: EForbidden, ENotFound (the source or a connection),
// EInvalid (no connections, too many, a source never synced).
func (s *Service) PlanPush(ctx context.Context, a *domain.Actor, sourceID string, connIDs []string) (*PushPlan, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	src, err := s.loadPushSource(ctx, a, sourceID)
	if err != nil {
		return nil, err
	}
	return s.planPush(ctx, a, src, connIDs)
}

func (s *Service) planPush(ctx context.Context, a *domain.Actor, src pushSource, connIDs []string) (*PushPlan, error) {
	conns, err := s.pushConnections(ctx, a, connIDs)
	if err != nil {
		return nil, err
	}
	plan := &PushPlan{SourceID: src.ID, Commit: src.Commit, State: src.State, Connections: make([]ConnectionPlan, len(conns))}
	s.eachConnection(conns, func(i int, c *domain.Connection) {
		cp := ConnectionPlan{PushConnection: pushConnection(c), Items: []PlanItem{}}
		defer func() {
			cp.Counts = countActions(len(cp.Items), func(i int) (string, bool) { return cp.Items[i].Action, true },
				PushCreate, PushUpdate, PushUnchanged, PushExtra)
			plan.Connections[i] = cp
		}()
		client, err := s.pushClient(ctx, a, domain.ActTemplatesView, c.ID)
		if err != nil {
			cp.Error = s.sentence(ctx, err)
			return
		}
		rctx, cancel := context.WithTimeout(ctx, pushTimeout)
		defer cancel()
		state, err := readSESTemplates(rctx, client, repoNames(src.Templates))
		if err != nil {
			cp.Error = s.sentence(ctx, err)
			return
		}
		cp.Items = planTemplates(src.Templates, state)
	})
	return plan, nil
}

// ApplyPush pushes the source's templates to each connection as PlanPush
// showed: it creates and updates templates, and deletes only the extras
// named in in.Delete. in.State must be the synced state the plan showed
// (or, at least, in.Commit its commit): when the source has synced to
// another state since (a new commit, or a new mapping), nothing is pushed;
// what is pushed is the very state named. Each connection is read again
// and pushed on its own: a connection that fails says why and the others
// go on; a template SES refuses says why and the others go on. One audit
// entry per connection records the commit and the counts. Developers and
// up, or write keys. Errors: EForbidden, ENotFound (the source or a
// connection), EInvalid (no connections, too many, neither state nor
// commit, a name to delete that the repository has), EConflict (the
// source changed since the plan).
func (s *Service) ApplyPush(ctx context.Context, a *domain.Actor, sourceID string, in PushInput) (*PushResult, error) {
	if err := a.Require(domain.ActTemplatesPush); err != nil {
		return nil, err
	}
	src, err := s.loadPushSource(ctx, a, sourceID)
	if err != nil {
		return nil, err
	}
	return s.applyPush(ctx, a, src, in)
}

func (s *Service) applyPush(ctx context.Context, a *domain.Actor, src pushSource, in PushInput) (*PushResult, error) {
	return s.applyPushBy(ctx, a, src, in, nil, false)
}

// checkPush checks a push against the source's synced state: the
// connections, and the extras to delete (in.Delete in each connection,
// deleteBy's in those it names). It returns the connections and, by
// connection id, the names to delete there.
func (s *Service) checkPush(ctx context.Context, a *domain.Actor, src pushSource, in PushInput, deleteBy map[string][]string) ([]*domain.Connection, map[string]map[string]bool, error) {
	if err := a.Require(domain.ActTemplatesPush); err != nil {
		return nil, nil, err
	}
	state, commit := strings.TrimSpace(in.State), strings.TrimSpace(in.Commit)
	changed := &domain.Error{Code: domain.EConflict, Field: "state", Message: "The repository changed since the plan; review the new plan."}
	switch {
	case state == "" && commit == "":
		return nil, nil, domain.FieldError("commit", "Name the state (or the commit) the plan showed.")
	case state != "" && state != src.State:
		return nil, nil, changed
	case commit != "" && commit != src.Commit:
		changed.Field = "commit"
		return nil, nil, changed
	}
	conns, err := s.pushConnections(ctx, a, in.ConnectionIDs)
	if err != nil {
		return nil, nil, err
	}
	inRepo := repoNames(src.Templates)
	names := func(list []string, into map[string]bool) error {
		for _, name := range list {
			name = strings.TrimSpace(name)
			switch {
			case name == "":
				return domain.FieldError("delete", "A name to delete is empty.")
			case inRepo[name]:
				return domain.FieldError("delete", "%s is in the repository: a push deletes only templates the repository does not have.", name)
			}
			into[name] = true
		}
		return nil
	}
	toDelete := map[string]map[string]bool{}
	for _, c := range conns {
		del := map[string]bool{}
		if err := names(in.Delete, del); err != nil {
			return nil, nil, err
		}
		if err := names(deleteBy[c.ID], del); err != nil {
			return nil, nil, err
		}
		toDelete[c.ID] = del
	}
	return conns, toDelete, nil
}

// applyPushBy pushes as checkPush allows. A job run again (rerun: its
// first run stopped midway) counts an extra to delete that SES no longer
// has as deleted: the first run deleted it.
func (s *Service) applyPushBy(ctx context.Context, a *domain.Actor, src pushSource, in PushInput, deleteBy map[string][]string, rerun bool) (*PushResult, error) {
	conns, toDelete, err := s.checkPush(ctx, a, src, in, deleteBy)
	if err != nil {
		return nil, err
	}
	inRepo := repoNames(src.Templates)
	res := &PushResult{SourceID: src.ID, Commit: src.Commit, State: src.State, Connections: make([]ConnectionPushResult, len(conns))}
	s.eachConnection(conns, func(i int, c *domain.Connection) {
		cr := ConnectionPushResult{PushConnection: pushConnection(c), Items: []PushItem{}}
		// Changes must finish once begun, and be recorded, whether or not
		// the client still waits.
		actx, cancel := detached(ctx, pushTimeout)
		defer cancel()
		client, err := s.pushClient(actx, a, domain.ActTemplatesPush, c.ID)
		if err == nil {
			var state *sesTemplates
			if state, err = readSESTemplates(actx, client, inRepo); err == nil {
				cr.Items = applyTemplates(actx, client, src.Templates, state, toDelete[c.ID])
				if rerun {
					cr.Items = deletedBefore(cr.Items, toDelete[c.ID])
				}
			}
		}
		if err != nil {
			cr.Error = s.sentence(ctx, err)
		}
		cr.Counts = pushCounts(cr.Items)
		target := src.Name
		if target == "" {
			target = src.ID
		}
		if err := s.sesAudit(ctx, a, c, "templates.pushed", target, pushAuditDetails(src.Commit, &cr)...); err != nil {
			s.Logger.ErrorContext(ctx, "audit of a template push", "org", a.OrgID, "connection", c.ID, "err", err)
		}
		res.Connections[i] = cr
	})
	return res, nil
}

// deletedBefore adds the names to delete that SES no longer has as
// deleted, in name order after the others.
func deletedBefore(items []PushItem, del map[string]bool) []PushItem {
	seen := map[string]bool{}
	for _, it := range items {
		seen[it.Name] = true
	}
	var gone []string
	for n := range del {
		if !seen[n] {
			gone = append(gone, n)
		}
	}
	sort.Strings(gone)
	for _, n := range gone {
		items = append(items, PushItem{Name: n, Action: PushDelete, Changed: []string{}, OK: true})
	}
	return items
}

// countActions counts n items by action (each of actions counted, if
// none); item says an item's action, and whether it counts.
func countActions(n int, item func(int) (string, bool), actions ...string) map[string]int {
	m := make(map[string]int, len(actions))
	for _, a := range actions {
		m[a] = 0
	}
	for i := range n {
		if a, ok := item(i); ok {
			m[a]++
		}
	}
	return m
}

// pushCounts counts a push's items that SES took by action, and those it
// refused as PushFailed.
func pushCounts(items []PushItem) map[string]int {
	m := countActions(len(items), func(i int) (string, bool) { return items[i].Action, items[i].OK },
		PushCreate, PushUpdate, PushUnchanged, PushDelete, PushExtra)
	m[PushFailed] = 0
	for _, it := range items {
		if !it.OK {
			m[PushFailed]++
		}
	}
	return m
}

// pushAuditDetails sums a connection's push up for the audit log.
func pushAuditDetails(commit string, r *ConnectionPushResult) []string {
	d := []string{"commit " + commit}
	if r.Error != "" {
		return append(d, "nothing pushed: "+r.Error)
	}
	c := r.Counts
	return append(d, fmt.Sprintf("%d created, %d updated, %d unchanged, %d deleted, %d failed",
		c[PushCreate], c[PushUpdate], c[PushUnchanged], c[PushDelete], c[PushFailed]))
}

// Drift compares the templates in a connection's SES with the source's at
// its synced commit: each template is in sync, changed (with a diff of
// each part that differs, from SES's content to the repository's),
// missing from SES, or extra in SES. Anyone who may view templates.
// Errors: EForbidden, ENotFound (the source or the connection), EInvalid
// (a source never synced, a connection without AWS access), ETooMany,
// EAWS.
func (s *Service) Drift(ctx context.Context, a *domain.Actor, sourceID, connID string) (*TemplateDrift, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	src, err := s.loadPushSource(ctx, a, sourceID)
	if err != nil {
		return nil, err
	}
	return s.drift(ctx, a, src, connID)
}

func (s *Service) drift(ctx context.Context, a *domain.Actor, src pushSource, connID string) (*TemplateDrift, error) {
	conns, err := s.pushConnections(ctx, a, []string{connID})
	if err != nil {
		return nil, err
	}
	d := &TemplateDrift{SourceID: src.ID, Commit: src.Commit, PushConnection: pushConnection(conns[0])}
	client, err := s.pushClient(ctx, a, domain.ActTemplatesView, connID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	state, err := readSESTemplates(ctx, client, repoNames(src.Templates))
	if err != nil {
		return nil, err
	}
	d.Items = driftTemplates(src.Templates, state, src.Commit)
	d.Counts = countActions(len(d.Items), func(i int) (string, bool) { return d.Items[i].State, true },
		DriftInSync, DriftChanged, DriftMissing, DriftExtra)
	return d, nil
}

// SESTemplates lists a page of the templates in a connection's SES, by
// name (the cursor is SES's). Anyone in the organisation, or read keys.
// Errors: EForbidden, ENotFound, EInvalid, ETooMany, EAWS.
func (s *Service) SESTemplates(ctx context.Context, a *domain.Actor, connID string, p domain.Page) ([]SESTemplate, string, error) {
	client, size, token, err := s.sesListing(ctx, a, connID, p)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	// SES lists at most 100 templates a page.
	out, err := client.ListEmailTemplates(ctx, &sesv2.ListEmailTemplatesInput{PageSize: aws.Int32(min(size, 100)), NextToken: token})
	if err != nil {
		return nil, "", sesCallError(err, "ses:ListEmailTemplates")
	}
	list := make([]SESTemplate, len(out.TemplatesMetadata))
	for i, m := range out.TemplatesMetadata {
		list[i] = SESTemplate{Name: aws.ToString(m.TemplateName), CreatedAt: aws.ToTime(m.CreatedTimestamp).UTC()}
	}
	return list, sesCursor(out.NextToken), nil
}

// TestRender asks SES to render one of a connection's templates with data
// (a JSON object; "" is {}) and returns SES's rendering, read from the
// MIME message it answers, with the message itself. Anyone who may view
// templates. Errors: EForbidden, ENotFound (the connection, or the
// template in SES), EInvalid (field "data": data that is not a JSON object,
// or lacks a value the template prints), ETooMany, EAWS.
func (s *Service) TestRender(ctx context.Context, a *domain.Actor, connID, name, data string) (*RenderedTemplate, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	if strings.TrimSpace(data) == "" {
		data = "{}"
	}
	if err := checkTemplateData(data); err != nil {
		return nil, err
	}
	c, client, err := s.sesClient(ctx, a, domain.ActTemplatesView, connID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	out, err := client.TestRenderEmailTemplate(ctx, &sesv2.TestRenderEmailTemplateInput{TemplateName: aws.String(name), TemplateData: aws.String(data)})
	if err != nil {
		return nil, renderError(err, c, name)
	}
	raw := aws.ToString(out.RenderedTemplate)
	r, err := ParseRenderedMIME(raw)
	if err != nil {
		return nil, domain.Errorf(domain.EAWS, "SES answered a rendering SendOps cannot read: %s.", err.Error())
	}
	return r, nil
}

// checkTemplateData refuses data SES would, with where it is wrong.
func checkTemplateData(data string) error {
	if err := checkDataLength(data); err != nil {
		return err
	}
	v, err := hbs.DecodeJSON([]byte(data))
	if err != nil {
		return domain.FieldError("data", "The data is not valid JSON: %s.", err.Error())
	}
	if _, ok := v.(*hbs.Object); !ok {
		return domain.FieldError("data", "The data must be a JSON object, like {\"name\": \"Ana\"}.")
	}
	return nil
}

var missingAttrRE = regexp.MustCompile(`Attribute '([^']*)' is not present in the rendering data`)

// renderError explains SES's refusal to render a template.
func renderError(err error, c *domain.Connection, name string) error {
	err = awsErrorMissing(err, "ses:TestRenderEmailTemplate", noSuch(c, "template", name))
	if domain.ErrorCode(err) != domain.EInvalid {
		return err
	}
	msg := domain.ErrorMessage(err)
	if m := missingAttrRE.FindStringSubmatch(msg); m != nil {
		return domain.FieldError("data", "SES cannot render %s: the data has no value for %s. Add it to the data (SES refuses to send this template without it).", name, m[1])
	}
	return &domain.Error{Code: domain.EInvalid, Field: "data", Message: "SES cannot render " + name + ": " + strings.TrimPrefix(msg, "AWS refused it: ")}
}

// pushConnections loads the connections of a plan or push, in the order
// given and once each. Errors: EInvalid (none, too many), ENotFound (one
// is not the organisation's).
func (s *Service) pushConnections(ctx context.Context, a *domain.Actor, ids []string) ([]*domain.Connection, error) {
	var uniq []string
	seen := map[string]bool{}
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	switch {
	case len(uniq) == 0:
		return nil, domain.FieldError("connection_ids", "Choose at least one connection.")
	case len(uniq) > MaxPushConnections:
		return nil, domain.FieldError("connection_ids", "Choose at most %d connections at once.", MaxPushConnections)
	}
	conns := make([]*domain.Connection, len(uniq))
	err := s.DB.View(ctx, func(tx *store.Tx) error {
		for i, id := range uniq {
			c, err := store.Connection(ctx, tx, a.OrgID, id)
			if err != nil {
				return err
			}
			conns[i] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return conns, nil
}

// eachConnection runs fn for each connection, a few at once, and returns
// when all are done.
func (s *Service) eachConnection(conns []*domain.Connection, fn func(int, *domain.Connection)) {
	slots := make(chan struct{}, connectionWorkers)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			fn(i, c)
		})
	}
	wg.Wait()
}

func pushConnection(c *domain.Connection) PushConnection {
	return PushConnection{ConnectionID: c.ID, ConnectionName: c.Name, AccountID: c.AWSAccountID, Region: c.Region}
}

// pushClient is an SES client of the connection for templates. SES takes
// template calls about once a second: its calls are paced (see
// templatePacer), and a throttled call is tried more times than usual
// before the push gives up on it.
func (s *Service) pushClient(ctx context.Context, a *domain.Actor, act domain.Action, connID string) (*sesv2.Client, error) {
	c, cfg, err := s.connectionAWS(ctx, a, act, connID)
	if err != nil {
		return nil, err
	}
	return sesv2.NewFromConfig(cfg, pushRetries, s.paced(c, cfg)), nil
}

// pushRetries lets a template call be tried 8 times in all.
func pushRetries(o *sesv2.Options) {
	if o.Retryer != nil {
		o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 8)
	}
}

// sentence is what a user reads of a connection's failure; an internal
// failure is logged and shown as such.
func (s *Service) sentence(ctx context.Context, err error) string {
	if domain.ErrorCode(err) == domain.EInternal {
		s.Logger.ErrorContext(ctx, "template push", "err", err)
	}
	return domain.ErrorMessage(err)
}

func repoNames(tpls []RepoTemplate) map[string]bool {
	m := make(map[string]bool, len(tpls))
	for _, t := range tpls {
		m[t.Name] = true
	}
	return m
}

// sesContent is a template's content as SES holds it.
type sesContent struct{ Subject, HTML, Text string }

// sesTemplates is what a connection's SES holds: every template's name,
// and the content of those read.
type sesTemplates struct {
	Names   []string
	Content map[string]sesContent
}

// readSESTemplates lists every template in SES and reads the content of
// those named in want (a few at a time). A template deleted between the
// listing and its reading is not there. Errors: awsError's.
func readSESTemplates(ctx context.Context, client *sesv2.Client, want map[string]bool) (*sesTemplates, error) {
	st := &sesTemplates{Content: map[string]sesContent{}}
	p := sesv2.NewListEmailTemplatesPaginator(client, &sesv2.ListEmailTemplatesInput{PageSize: aws.Int32(100)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsError(err, "ses:ListEmailTemplates")
		}
		for _, m := range out.TemplatesMetadata {
			st.Names = append(st.Names, aws.ToString(m.TemplateName))
		}
	}
	var read []string
	for _, n := range st.Names {
		if want[n] {
			read = append(read, n)
		}
	}
	tick(ctx, len(want)-len(read)) // not in SES: nothing to read
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan string)
	)
	for range min(templateReads, len(read)) {
		wg.Go(func() {
			for name := range next {
				out, err := client.GetEmailTemplate(ctx, &sesv2.GetEmailTemplateInput{TemplateName: aws.String(name)})
				tick(ctx, 1)
				mu.Lock()
				switch {
				case err == nil:
					tc := out.TemplateContent
					if tc == nil {
						tc = &sestypes.EmailTemplateContent{}
					}
					st.Content[name] = sesContent{Subject: aws.ToString(tc.Subject), HTML: aws.ToString(tc.Html), Text: aws.ToString(tc.Text)}
				case domain.IsNotFound(awsError(err, "ses:GetEmailTemplate")):
					// deleted meanwhile
				case firstErr == nil:
					firstErr = awsError(err, "ses:GetEmailTemplate")
				}
				mu.Unlock()
			}
		})
	}
	for _, name := range read {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- name
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	// A template read away between listing and reading is gone.
	names := st.Names[:0]
	for _, n := range st.Names {
		if _, ok := st.Content[n]; ok || !want[n] {
			names = append(names, n)
		}
	}
	st.Names = names
	return st, nil
}

// changedParts lists the parts in which SES's content differs from the
// repository's.
func changedParts(ses sesContent, t RepoTemplate) []string {
	var parts []string
	if ses.Subject != t.Subject {
		parts = append(parts, PartSubject)
	}
	if ses.HTML != t.HTML {
		parts = append(parts, PartHTML)
	}
	if ses.Text != t.Text {
		parts = append(parts, PartText)
	}
	return parts
}

// planTemplates compares the repository's templates with SES's: the
// repository's templates in name order, then SES's extras in name order.
func planTemplates(repo []RepoTemplate, st *sesTemplates) []PlanItem {
	items := make([]PlanItem, 0, len(repo))
	for _, t := range sortedRepo(repo) {
		ses, ok := st.Content[t.Name]
		switch parts := changedParts(ses, t); {
		case !ok:
			items = append(items, PlanItem{Name: t.Name, Action: PushCreate, Changed: []string{}})
		case len(parts) > 0:
			items = append(items, PlanItem{Name: t.Name, Action: PushUpdate, Changed: parts})
		default:
			items = append(items, PlanItem{Name: t.Name, Action: PushUnchanged, Changed: []string{}})
		}
	}
	for _, n := range extras(repo, st) {
		items = append(items, PlanItem{Name: n, Action: PushExtra, Changed: []string{}})
	}
	return items
}

func sortedRepo(repo []RepoTemplate) []RepoTemplate {
	s := append([]RepoTemplate(nil), repo...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

// extras are the names SES has that the repository does not, sorted.
func extras(repo []RepoTemplate, st *sesTemplates) []string {
	in := repoNames(repo)
	var out []string
	for _, n := range st.Names {
		if !in[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// applyTemplates makes SES hold the repository's templates: it creates
// the missing, updates the changed, and deletes the extras named in del.
// A template SES refuses says why; the others go on.
func applyTemplates(ctx context.Context, client *sesv2.Client, repo []RepoTemplate, st *sesTemplates, del map[string]bool) []PushItem {
	items := []PushItem{}
	for _, p := range planTemplates(repo, st) {
		it := PushItem{Name: p.Name, Action: p.Action, Changed: p.Changed, OK: true}
		var err error
		switch p.Action {
		case PushCreate, PushUpdate:
			t := repoTemplate(repo, p.Name)
			err = putTemplate(ctx, client, t, p.Action == PushCreate)
		case PushExtra:
			if del[p.Name] {
				it.Action = PushDelete
				_, err = client.DeleteEmailTemplate(ctx, &sesv2.DeleteEmailTemplateInput{TemplateName: aws.String(p.Name)})
				if err = awsError(err, "ses:DeleteEmailTemplate"); domain.IsNotFound(err) {
					err = nil // gone already
				}
			}
		}
		if err != nil {
			it.OK, it.Error = false, domain.ErrorMessage(err)
		}
		if p.Action != PushExtra {
			tick(ctx, 1)
		}
		items = append(items, it)
	}
	return items
}

func repoTemplate(repo []RepoTemplate, name string) RepoTemplate {
	for _, t := range repo {
		if t.Name == name {
			return t
		}
	}
	return RepoTemplate{Name: name}
}

// putTemplate creates or updates a template; when SES's state changed
// since it was read (created or deleted meanwhile), it does the other.
func putTemplate(ctx context.Context, client *sesv2.Client, t RepoTemplate, create bool) error {
	content := &sestypes.EmailTemplateContent{Subject: aws.String(t.Subject)}
	if t.HTML != "" {
		content.Html = aws.String(t.HTML)
	}
	if t.Text != "" {
		content.Text = aws.String(t.Text)
	}
	doCreate := func() error {
		_, err := client.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{TemplateName: aws.String(t.Name), TemplateContent: content})
		return awsError(err, "ses:CreateEmailTemplate")
	}
	doUpdate := func() error {
		_, err := client.UpdateEmailTemplate(ctx, &sesv2.UpdateEmailTemplateInput{TemplateName: aws.String(t.Name), TemplateContent: content})
		return awsError(err, "ses:UpdateEmailTemplate")
	}
	if create {
		err := doCreate()
		if domain.ErrorCode(err) == domain.EConflict {
			return doUpdate()
		}
		return err
	}
	err := doUpdate()
	if domain.IsNotFound(err) {
		return doCreate()
	}
	return err
}

// driftTemplates compares SES's templates with the repository's at commit.
func driftTemplates(repo []RepoTemplate, st *sesTemplates, commit string) []DriftItem {
	short := ShortHash(commit)
	items := []DriftItem{}
	for _, t := range sortedRepo(repo) {
		ses, ok := st.Content[t.Name]
		if !ok {
			items = append(items, DriftItem{Name: t.Name, State: DriftMissing, Diffs: []PartDiff{}})
			continue
		}
		it := DriftItem{Name: t.Name, State: DriftInSync, Diffs: []PartDiff{}}
		for _, part := range changedParts(ses, t) {
			var a, b string
			switch part {
			case PartSubject:
				a, b = ses.Subject, t.Subject
			case PartHTML:
				a, b = ses.HTML, t.HTML
			default:
				a, b = ses.Text, t.Text
			}
			it.Diffs = append(it.Diffs, diffPart(part, "ses/"+t.Name+"/"+part, "repository@"+short+"/"+t.Name+"/"+part, a, b))
		}
		if len(it.Diffs) > 0 {
			it.State = DriftChanged
		}
		items = append(items, it)
	}
	for _, n := range extras(repo, st) {
		items = append(items, DriftItem{Name: n, State: DriftExtra, Diffs: []PartDiff{}})
	}
	return items
}

// ParseRenderedMIME reads the subject, HTML and text of a MIME message
// such as TestRenderEmailTemplate returns: a single text/html or
// text/plain body, or multipart parts (nested ones too), each in 7bit,
// 8bit, quoted-printable or base64, in UTF-8 (or US-ASCII, or ISO-8859-1).
func ParseRenderedMIME(raw string) (*RenderedTemplate, error) {
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not a MIME message: %w", err)
	}
	r := &RenderedTemplate{MIME: raw}
	dec := mime.WordDecoder{CharsetReader: charsetReader}
	subject := msg.Header.Get("Subject")
	if s, err := dec.DecodeHeader(subject); err == nil {
		subject = s
	}
	r.Subject = subject
	if err := readMIMEPart(r, msg.Header, msg.Body, 0); err != nil {
		return nil, err
	}
	return r, nil
}

func readMIMEPart(r *RenderedTemplate, h map[string][]string, body io.Reader, depth int) error {
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ctype := get("Content-Type")
	if ctype == "" {
		ctype = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("a part's Content-Type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= 5 {
			return errors.New("multipart parts nest too deep")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("a multipart body: %w", err)
			}
			if err := readMIMEPart(r, p.Header, p, depth+1); err != nil {
				return err
			}
		}
	}
	if mt != "text/plain" && mt != "text/html" {
		return nil // not a body SES renders
	}
	var rd io.Reader = body
	switch cte := strings.ToLower(strings.TrimSpace(get("Content-Transfer-Encoding"))); cte {
	case "quoted-printable":
		rd = quotedprintable.NewReader(body)
	case "base64":
		rd = base64.NewDecoder(base64.StdEncoding, &stripSpace{r: body})
	case "", "7bit", "8bit", "binary":
	default:
		return fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return fmt.Errorf("a %s body: %w", mt, err)
	}
	text := string(b)
	if cs := strings.ToLower(params["charset"]); cs == "iso-8859-1" || cs == "latin1" {
		text = latin1(b)
	}
	// MIME lines end in CRLF; the template's own ended as it wrote them,
	// and SES sends them as CRLF too: show them as \n.
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if mt == "text/html" {
		r.HTML = text
	} else {
		r.Text = text
	}
	return nil
}

// stripSpace drops the line breaks and spaces of a base64 body.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

func latin1(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}

func charsetReader(charset string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		return strings.NewReader(latin1(b)), nil
	}
	return nil, fmt.Errorf("unknown charset %q", charset)
}
