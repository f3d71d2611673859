package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/gitsrc"
	"sendops/internal/hbs"
	"sendops/internal/secret"
	"sendops/internal/store"
	"sendops/internal/templates"
)

// Syncs. A sync fetches a source's branch, walks the commits new since its
// synced commit (the first sync: the newest maxSyncCommits), records a
// version of each template whose content a commit changed, and at the
// head lints the templates and stores them as the source's state. The
// fetch and the walk happen outside any transaction; everything the sync
// stores is written in one. A sync whose head has mapping errors or a
// template that does not parse fails: the source keeps its last good
// state and shows the error.
//
// When: by hand (SyncTemplateSource), on a schedule and after a push
// webhook (RunTemplateSync, a worker every replica runs). A worker claims
// a due source with a lease in the database, so one sync runs at a time
// across replicas; a crashed replica's lease expires, and the request it
// was answering stays for the next. Leases and requests are timed by the
// replicas' own clocks (as every store time is), not the database's: a
// lease twice as long as a sync may take tolerates minutes of skew.

const (
	// syncLease is how long a claimed source stays claimed; a sync ends
	// well before (syncTimeout), so only a crash lets a lease run out.
	syncLease   = 10 * time.Minute
	syncTimeout = 5 * time.Minute
	// maxSyncCommits bounds the commits one sync walks.
	maxSyncCommits = 200
	// SyncDebounce is how long after a webhook's request a sync starts:
	// pushes within it are one sync.
	SyncDebounce = 5 * time.Second
	// syncPoll is how often a worker looks for due sources.
	syncPoll = 3 * time.Second
	// maxMessage bounds a commit message as stored.
	maxMessage = 4000
)

// TemplateSync is one sync of a source.
type TemplateSync struct {
	ID         string    `json:"id"`
	Trigger    string    `json:"trigger"` // manual, schedule, webhook or create
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Commit     string    `json:"commit"`
	Status     string    `json:"status"` // ok or failed
	Error      string    `json:"error,omitempty"`
	Templates  int       `json:"templates"`
	Versions   int       `json:"versions"`
	// Problems of the mapping as a whole; for a failed sync, the errors
	// that failed it.
	Problems []TemplateProblem `json:"problems"`
}

// Summary counts what the sync found: "3 templates, 1 new version".
func (r *TemplateSync) Summary() string { return syncCounts(r.Templates, r.Versions) }

func syncCounts(templates, versions int) string {
	return plural(templates, "template") + ", " + plural(versions, "new version")
}

func syncView(r *store.TemplateSync) *TemplateSync {
	v := &TemplateSync{ID: r.ID, Trigger: r.Trigger, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Commit: r.Commit, Status: r.Status,
		Error: r.Error, Templates: r.Templates, Versions: r.Versions, Problems: []TemplateProblem{}}
	if r.Problems != "" {
		json.Unmarshal([]byte(r.Problems), &v.Problems)
	}
	return v
}

// TemplateSyncs lists a source's recent syncs, newest first (at most
// limit, 1 to 200; 0: 50). Anyone in the organisation, or read keys.
// Errors: EForbidden, ENotFound.
func (s *Service) TemplateSyncs(ctx context.Context, a *domain.Actor, sourceID string, limit int) ([]TemplateSync, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	out := []TemplateSync{}
	err := s.DB.View(ctx, func(tx *store.Tx) error {
		if _, err := store.TemplateSourceByID(ctx, tx, a.OrgID, sourceID); err != nil {
			return err
		}
		rs, err := store.TemplateSyncs(ctx, tx, a.OrgID, sourceID, limit)
		for i := range rs {
			out = append(out, *syncView(&rs[i]))
		}
		return err
	})
	return out, err
}

// SyncTemplateSource syncs a source now and answers how it went (a failed
// sync is an answer, not an error: its Error says why). Developers and
// up, or write keys. Errors: EForbidden, ENotFound, EConflict (a sync of
// the source is running, or this one outlived its lease and another sync
// took the source over: what it found is not stored).
func (s *Service) SyncTemplateSource(ctx context.Context, a *domain.Actor, id string) (*TemplateSync, error) {
	if err := a.Require(domain.ActTemplatesManage); err != nil {
		return nil, err
	}
	owner := domain.NewID()
	var src *store.TemplateSource
	err := s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		src, _, err = store.ClaimTemplateSource(ctx, tx, a.OrgID, id, owner, tx.Now().Add(syncLease), false, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, domain.Errorf(domain.EConflict, "A sync of this source is running; see its result in a moment.")
	}
	run, err := s.syncSource(ctx, a, src, owner, "manual", nil)
	if err != nil {
		return nil, err
	}
	return syncView(run), nil
}

// RunTemplateSync syncs due sources until ctx ends: those whose schedule
// has come and those a webhook asked for (SyncDebounce after the first
// push of a burst). Every replica may run it: each source is claimed by
// one at a time.
func (s *Service) RunTemplateSync(ctx context.Context) {
	t := time.NewTicker(syncPoll)
	defer t.Stop()
	for {
		if _, err := s.SyncDueTemplateSources(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error("template sync worker", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maxSyncsPerPass bounds the syncs one pass runs before it looks again
// (another replica takes the rest meanwhile).
const maxSyncsPerPass = 20

// SyncDueTemplateSources runs one pass of the worker: it claims due
// sources one at a time and syncs each, and returns how many it synced.
// It looks for due sources with a read, and writes only to claim one: a
// pass with nothing due does not compete with other writers.
func (s *Service) SyncDueTemplateSources(ctx context.Context) (int, error) {
	owner := domain.NewID()
	n := 0
	for n < maxSyncsPerPass && ctx.Err() == nil {
		var due []store.Due
		err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
			due, err = store.DueTemplateSources(ctx, tx, SyncDebounce, 10)
			return err
		})
		if err != nil || len(due) == 0 {
			return n, err
		}
		var src *store.TemplateSource
		var trigger string
		err = s.DB.Update(ctx, func(tx *store.Tx) (err error) {
			for _, d := range due {
				if src, trigger, err = store.ClaimTemplateSource(ctx, tx, d.OrgID, d.ID, owner, tx.Now().Add(syncLease), true, SyncDebounce); err != nil || src != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || src == nil {
			return n, err // nil: other workers took them
		}
		_, err = s.syncSource(ctx, SystemActor(src.OrgID), src, owner, trigger, nil)
		switch {
		case errors.Is(err, errSyncOutlived):
			continue // the worker that took the source over syncs it
		case err != nil:
			return n, err
		}
		n++
	}
	return n, nil
}

// templateHash names a template's content: the SHA-256 of its parts, each
// preceded by its length.
func templateHash(subject, html, text, data string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range []string{subject, html, text, data} {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// snapshot is what a mapping makes of one commit.
type snapshot struct {
	// commit is the commit it stands for, loaded the one it was read at:
	// a later commit that surely maps to the same templates (see
	// unchangedSince) moves commit only.
	commit, loaded string
	ts             []templates.Template
	probs          []templates.Problem
	blobs          map[string]*store.TemplateBlob // by template name (the first of a name mapped twice)
	// relevant are the paths the mapping read or looked for (files it
	// named but did not find included), and globs the rules' patterns: a
	// later commit that changes none of them (nor any HTML, text, JSON or
	// manifest file) maps to the same templates.
	relevant map[string]bool
	globs    []*templates.Glob
}

// readFS notes every path read from a repository's tree, or looked for
// in it: found or not.
type readFS struct {
	fs.FS
	read map[string]bool
}

func (r *readFS) Open(name string) (fs.File, error) {
	r.read[name] = true
	return r.FS.Open(name)
}

func (r *readFS) Stat(name string) (fs.FileInfo, error) {
	r.read[name] = true
	return fs.Stat(r.FS, name)
}

func (r *readFS) Lstat(name string) (fs.FileInfo, error) {
	r.read[name] = true
	return fs.Lstat(r.FS, name)
}

func (r *readFS) ReadLink(name string) (string, error) {
	r.read[name] = true
	return fs.ReadLink(r.FS, name)
}

func (r *readFS) ReadFile(name string) ([]byte, error) {
	r.read[name] = true
	return fs.ReadFile(r.FS, name)
}

func (r *readFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(r.FS, name) }

func loadSnapshot(repo *gitsrc.Repo, commit string, m *templates.Mapping) (*snapshot, error) {
	fsys, err := repo.FS(commit)
	if err != nil {
		return nil, err
	}
	sn := &snapshot{commit: commit, loaded: commit, blobs: map[string]*store.TemplateBlob{}, relevant: map[string]bool{templates.ManifestFile: true}}
	rfs := &readFS{FS: fsys, read: sn.relevant}
	sn.ts, sn.probs = templates.Load(rfs, m)
	for _, t := range sn.ts {
		if _, dup := sn.blobs[t.Name]; !dup {
			b := &store.TemplateBlob{Subject: t.Subject.Source, HTML: t.HTML.Source, Text: t.Text.Source, Data: t.Data.Source}
			b.Hash = templateHash(b.Subject, b.HTML, b.Text, b.Data)
			sn.blobs[t.Name] = b
		}
	}
	rules := m
	if rules == nil {
		rules, _ = templates.ReadManifest(fsys)
	}
	if rules != nil {
		for _, r := range rules.Rules {
			if g, err := templates.CompileGlob(r.HTML); err == nil {
				sn.globs = append(sn.globs, g)
			}
		}
	}
	return sn, nil
}

// unchangedSince reports whether commit c surely maps to the same
// templates as prev (its parent): it changed no path prev read or looked
// for, no file a template could come from, and no file a rule matches.
func unchangedSince(repo *gitsrc.Repo, c gitsrc.Commit, prev *snapshot) bool {
	if len(c.Parents) != 1 || c.Parents[0] != prev.commit {
		return false
	}
	changed, err := repo.Changed(c.Hash)
	if err != nil {
		return false
	}
	for _, p := range changed {
		switch strings.ToLower(path.Ext(p)) {
		case ".html", ".htm", ".txt", ".json":
			return false
		}
		if prev.relevant[p] {
			return false
		}
		for _, g := range prev.globs {
			if g.Match(p) {
				return false
			}
		}
	}
	return true
}

// verdict is what a sync makes of the templates at the head.
type verdict struct {
	lint    []templates.Problem            // every template's lint problems
	byName  map[string][]templates.Problem // the mapping's and lint's problems of each template
	general []templates.Problem            // the mapping's problems not of one template
	errors  []templates.Problem            // the errors that fail a sync
	failure string                         // why a sync fails; "" when it does not
}

// judge lints the templates a mapping made: a sync fails on the mapping's
// errors and on templates that do not parse.
func judge(ts []templates.Template, probs []templates.Problem) verdict {
	v := verdict{byName: map[string][]templates.Problem{}}
	var mapErrs, parseErrs []templates.Problem
	for _, p := range probs {
		if p.Template == "" {
			v.general = append(v.general, p)
		} else {
			v.byName[p.Template] = append(v.byName[p.Template], p)
		}
		if p.Severity == templates.Error {
			mapErrs = append(mapErrs, p)
		}
	}
	for _, t := range ts {
		lp := templates.Lint(t)
		v.lint = append(v.lint, lp...)
		v.byName[t.Name] = append(v.byName[t.Name], lp...)
		for _, part := range []templates.Part{t.Subject, t.HTML, t.Text} {
			if !part.Present() {
				continue
			}
			if _, err := hbs.Parse(t.Name, part.Source); err != nil {
				p := templates.Problem{File: part.File, Line: part.Line, Col: part.Col, Severity: templates.Error, Template: t.Name, Message: err.Error()}
				var he *hbs.Error
				if errors.As(err, &he) {
					p.Message = he.Msg
					if he.Line <= 1 {
						p.Col = part.Col + he.Col - 1
					} else {
						p.Line, p.Col = part.Line+he.Line-1, he.Col
					}
				}
				parseErrs = append(parseErrs, p)
			}
		}
	}
	templates.SortProblems(mapErrs)
	switch {
	case len(mapErrs) > 0:
		v.failure = fmt.Sprintf("The mapping has %s: %s", plural(len(mapErrs), "error"), mapErrs[0])
		if len(mapErrs) > 1 {
			v.failure += " (and more)"
		}
	case len(parseErrs) > 0:
		v.failure = fmt.Sprintf("Template %q does not parse: %s", parseErrs[0].Template, parseErrs[0])
		if len(parseErrs) > 1 {
			v.failure += fmt.Sprintf(" (and %s)", plural(len(parseErrs)-1, "more error"))
		}
	}
	v.errors = append(mapErrs, parseErrs...)
	return v
}

// plural counts a noun: "1 template", "2 templates".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func problemsJSON(ps []templates.Problem) string {
	if len(ps) == 0 {
		return ""
	}
	b, _ := json.Marshal(problemsOf(ps))
	return string(b)
}

func trimMessage(m string) string {
	m = strings.TrimSpace(m)
	if len(m) > maxMessage {
		// Cut, dropping a character cut in two.
		m = strings.ToValidUTF8(m[:maxMessage], "") + "…"
	}
	return m
}

// syncOutcome is what a sync found, before it is stored.
type syncOutcome struct {
	run      *store.TemplateSync
	failure  string              // why it failed; "" for a good sync
	problems []templates.Problem // a failure's errors
	versions []store.TemplateVersion
	blobs    map[string]*store.TemplateBlob // by hash
	state    []store.SourceTemplate         // the templates at the head
	general  []templates.Problem            // the mapping's problems as a whole
}

// findSync runs a sync of src up to what it stores: it fetches the branch
// (unless repo is given), walks the new commits and judges the head. A
// failure of the repository or of its templates is an outcome; err is
// for the database failing or ctx ending (nothing is recorded then).
func (s *Service) findSync(ctx context.Context, src *store.TemplateSource, trigger string, repo *gitsrc.Repo) (*syncOutcome, error) {
	o := &syncOutcome{run: &store.TemplateSync{OrgID: src.OrgID, SourceID: src.ID, Trigger: trigger, StartedAt: s.DB.Now().UTC()},
		blobs: map[string]*store.TemplateBlob{}}
	sctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	fail := func(sentence string, probs []templates.Problem) (*syncOutcome, error) {
		if ctx.Err() != nil {
			return nil, ctx.Err() // stopped (shutdown, or the caller left): not a failure of the source
		}
		o.failure, o.problems = sentence, probs
		return o, nil
	}
	mapping, err := parseMapping(src.Mapping)
	if err != nil {
		return fail("The saved mapping cannot be read; save it again.", nil)
	}
	if repo == nil {
		auth, err := s.openAuth(src)
		if err != nil {
			s.Logger.ErrorContext(ctx, "template source credentials", "org", src.OrgID, "source", src.ID, "err", err)
			return fail("The source's credentials cannot be opened; enter them again.", nil)
		}
		if repo, err = gitsrc.Fetch(sctx, gitsrc.Source{URL: src.URL, Branch: src.Branch, Auth: auth}, s.gitOptions()); err != nil {
			return fail(s.gitError(ctx, err), nil)
		}
	}
	head := repo.Head()
	o.run.Commit = head.Hash
	commits, err := repo.Log(src.SyncedCommit, maxSyncCommits)
	if err != nil {
		return fail(s.gitError(ctx, err), nil)
	}
	slices.Reverse(commits) // oldest first
	var latest map[string]store.TemplateVersion
	var seq int64
	if err := s.DB.View(sctx, func(tx *store.Tx) (err error) {
		latest, seq, err = store.LatestTemplateVersions(sctx, tx, src.OrgID, src.ID)
		return err
	}); err != nil {
		return nil, err
	}
	hashes := map[string]string{} // each template's newest content ("" removed)
	for n, v := range latest {
		hashes[n] = v.BlobHash
	}
	// record notes the versions a snapshot makes, as at says (a commit, or
	// a mapping change).
	record := func(at store.TemplateVersion, sn *snapshot) {
		names := make([]string, 0, len(sn.blobs)+len(hashes))
		for n := range sn.blobs {
			names = append(names, n)
		}
		for n, h := range hashes {
			if _, ok := sn.blobs[n]; !ok && h != "" {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			hash := ""
			if b := sn.blobs[n]; b != nil {
				hash = b.Hash
				o.blobs[hash] = b
			}
			if hashes[n] == hash {
				continue
			}
			hashes[n] = hash
			seq++
			v := at
			v.OrgID, v.SourceID, v.Seq, v.Name, v.BlobHash = src.OrgID, src.ID, seq, n, hash
			o.versions = append(o.versions, v)
		}
	}
	byCommit := func(c gitsrc.Commit) store.TemplateVersion {
		return store.TemplateVersion{Commit: c.Hash, CommittedAt: c.When.UTC(), Author: c.Author, AuthorEmail: c.AuthorEmail,
			Message: trimMessage(c.Message), Cause: store.CauseCommit}
	}
	var prev *snapshot
	if src.SyncedCommit != "" && len(latest) > 0 {
		// The last good state read again, under the mapping as it is now:
		// what differs from the newest versions no commit changed. The
		// mapping did (or SendOps reads the same files otherwise now).
		if sn, err := loadSnapshot(repo, src.SyncedCommit, mapping); err == nil {
			msg := "Read again by SendOps: no commit changed it"
			if src.MappingChangedBy != "" {
				msg = "Mapping changed by " + src.MappingChangedBy
			}
			record(store.TemplateVersion{Commit: src.SyncedCommit, CommittedAt: o.run.StartedAt, Author: "SendOps", Message: msg, Cause: store.CauseMapping}, sn)
			prev = sn
		}
	}
	for _, c := range commits {
		if prev != nil && unchangedSince(repo, c, prev) {
			prev.commit = c.Hash
			continue
		}
		sn, err := loadSnapshot(repo, c.Hash, mapping)
		if err != nil {
			return fail(s.gitError(ctx, err), nil)
		}
		record(byCommit(c), sn)
		prev = sn
	}
	// The head's templates as read at the head itself, whatever the walk
	// skipped.
	if prev == nil || prev.loaded != head.Hash {
		if prev, err = loadSnapshot(repo, head.Hash, mapping); err != nil {
			return fail(s.gitError(ctx, err), nil)
		}
		record(byCommit(head), prev)
	}
	v := judge(prev.ts, prev.probs)
	o.general = v.general
	o.run.Templates = len(prev.blobs)
	if v.failure != "" {
		return fail(v.failure, v.errors)
	}
	for _, t := range prev.ts {
		b := prev.blobs[t.Name]
		if b == nil || slices.ContainsFunc(o.state, func(st store.SourceTemplate) bool { return st.Name == t.Name }) {
			continue
		}
		o.blobs[b.Hash] = b
		files, _ := json.Marshal(filesOf(t))
		probs := v.byName[t.Name]
		templates.SortProblems(probs)
		o.state = append(o.state, store.SourceTemplate{Name: t.Name, BlobHash: b.Hash, Origin: t.Origin, Files: string(files), Problems: problemsJSON(probs)})
	}
	return o, nil
}

// storeSync records what a sync found, in tx, and ends owner's lease: a
// good sync's versions and state, or a failure (the source keeps its last
// good state). a is who asked, for the audit log. It fails with
// store.ErrLeaseLost when owner no longer holds the lease.
func (s *Service) storeSync(ctx context.Context, tx *store.Tx, a *domain.Actor, src *store.TemplateSource, owner string, o *syncOutcome) error {
	run := o.run
	run.FinishedAt, run.Mapping = tx.Now(), src.Mapping
	next := nextRun(src.SyncIntervalMinutes, run.FinishedAt)
	// The worker's syncs are audited when they are news; a user's always.
	byUser := a.UserID != "" || a.IsKey()
	if o.failure != "" {
		run.Status, run.Error, run.Problems, run.Versions = store.SyncFailed, o.failure, problemsJSON(o.problems), 0
		if err := store.FinishTemplateSync(ctx, tx, run, owner, next); err != nil {
			return err
		}
		if byUser || o.failure != src.LastError {
			return audit(ctx, tx, a, "template_source.sync_failed", src.Name, o.failure)
		}
		return nil
	}
	for _, b := range o.blobs {
		if err := store.PutTemplateBlob(ctx, tx, src.OrgID, src.ID, b); err != nil {
			return err
		}
	}
	for i := range o.versions {
		if err := store.AddTemplateVersion(ctx, tx, &o.versions[i]); err != nil {
			return err
		}
	}
	if err := store.ReplaceSourceTemplates(ctx, tx, src.OrgID, src.ID, o.state); err != nil {
		return err
	}
	run.Status, run.Versions, run.Problems = store.SyncOK, len(o.versions), problemsJSON(o.general)
	if err := store.FinishTemplateSync(ctx, tx, run, owner, next); err != nil {
		return err
	}
	if byUser || run.Commit != src.SyncedCommit || src.LastError != "" {
		return audit(ctx, tx, a, "template_source.synced", src.Name, fmt.Sprintf("%s sync of %s at %s: %s",
			run.Trigger, src.Branch, ShortHash(run.Commit), syncCounts(run.Templates, run.Versions)))
	}
	return nil
}

// errSyncOutlived is a sync that outlived its lease: another sync took
// the source over, and what it found is not stored.
var errSyncOutlived = domain.Errorf(domain.EConflict, "The sync took longer than its lease, and another sync took the source over: see the source's syncs for its result.")

// syncSource syncs a source whose lease owner holds (findSync, then
// storeSync in one transaction) and returns the sync: a failed one too.
// The error is for a sync that could not be recorded: errSyncOutlived
// when owner lost the lease, else the lease is released.
func (s *Service) syncSource(ctx context.Context, a *domain.Actor, src *store.TemplateSource, owner, trigger string, repo *gitsrc.Repo) (*store.TemplateSync, error) {
	o, err := s.findSync(ctx, src, trigger, repo)
	// Whatever ctx does now, what was found is stored, or the lease ends.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err == nil {
		err = s.DB.Update(wctx, func(tx *store.Tx) error { return s.storeSync(wctx, tx, a, src, owner, o) })
	}
	if errors.Is(err, store.ErrLeaseLost) {
		s.Logger.WarnContext(ctx, "template sync outlived its lease; another worker syncs the source", "org", src.OrgID, "source", src.ID)
		return nil, errSyncOutlived
	}
	if err != nil {
		s.DB.Update(wctx, func(tx *store.Tx) error { return store.ReleaseTemplateSource(wctx, tx, src.OrgID, src.ID, owner) })
		return nil, err
	}
	if o.failure != "" {
		s.Logger.InfoContext(ctx, "template sync failed", "org", src.OrgID, "source", src.ID, "trigger", trigger, "error", o.failure)
	}
	return o.run, nil
}

// GitHook is a push webhook's request, as the web layer reads it.
type GitHook struct {
	ContentType string
	Body        []byte
	// GitHub: X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256.
	GitHubEvent, GitHubDelivery, GitHubSignature string
	// GitLab: X-Gitlab-Event, X-Gitlab-Event-UUID (or Idempotency-Key),
	// X-Gitlab-Token.
	GitLabEvent, GitLabDelivery, GitLabToken string
}

// HookResult is how a webhook was taken.
type HookResult struct {
	// Status: "accepted" (a sync follows), "ignored" (not a push to the
	// source's branch) or "pong" (a ping).
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Hook results.
const (
	HookAccepted = "accepted"
	HookIgnored  = "ignored"
	HookPong     = "pong"
)

var errHookUnauthorized = domain.Errorf(domain.EUnauthorized, "The webhook is not signed with this source's secret.")

// ReceiveGitHook takes a push webhook for the source id, from GitHub
// (X-Hub-Signature-256, the HMAC-SHA256 of the body under the source's
// webhook secret) or GitLab (X-Gitlab-Token, the secret itself), both
// compared in constant time. A push to the source's branch asks for a
// sync, which starts SyncDebounce later so that a burst of pushes is one
// sync. Anyone may call it: the signature is the credential. Errors:
// EUnauthorized (unsigned, wrongly signed, or no such source: the same
// answer), EConflict (a delivery seen before, by its id or by its body,
// which the signature covers: a replay), EInvalid (no delivery id, or a
// push whose body is not JSON).
func (s *Service) ReceiveGitHook(ctx context.Context, id string, h GitHook) (*HookResult, error) {
	var src *store.TemplateSource
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		src, err = store.TemplateSourceForHook(ctx, tx, id)
		return err
	})
	if err != nil && !domain.IsNotFound(err) {
		return nil, err
	}
	key := ""
	if src != nil {
		if key, err = s.Keyring.Open(src.WebhookSecret, sourceHookContext(src.OrgID, src.ID)); err != nil {
			s.Logger.ErrorContext(ctx, "template source webhook secret", "source", id, "err", err)
			return nil, err
		}
	} else {
		key = secret.Token("") // an unknown source is judged like a wrong signature
	}
	var github bool
	switch {
	case h.GitHubSignature != "":
		sig, ok := strings.CutPrefix(h.GitHubSignature, "sha256=")
		got, err := hex.DecodeString(sig)
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(h.Body)
		if !ok || err != nil || !hmac.Equal(got, mac.Sum(nil)) || src == nil {
			return nil, errHookUnauthorized
		}
		github = true
	case h.GitLabToken != "":
		if !secret.Equal(h.GitLabToken, key) || src == nil {
			return nil, errHookUnauthorized
		}
	default:
		return nil, errHookUnauthorized
	}
	delivery, event := h.GitLabDelivery, h.GitLabEvent
	if github {
		delivery, event = h.GitHubDelivery, h.GitHubEvent
	}
	delivery = strings.TrimSpace(delivery)
	if delivery == "" || len(delivery) > 200 {
		return nil, domain.Errorf(domain.EInvalid, "The webhook has no delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID or Idempotency-Key).")
	}
	res := &HookResult{}
	body := sha256.Sum256(h.Body)
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		fresh, err := store.RecordHookDelivery(ctx, tx, src.OrgID, src.ID, delivery, hex.EncodeToString(body[:]))
		if err != nil {
			return err
		}
		if !fresh {
			return domain.Errorf(domain.EConflict, "Delivery %s, or one with the same content, was received before; a replay is refused.", delivery)
		}
		switch {
		case github && event == "ping":
			res.Status, res.Message = HookPong, "The webhook works: pushes to "+src.Branch+" will sync this source."
			return nil
		case github && event != "push", !github && event != "Push Hook":
			res.Status, res.Message = HookIgnored, fmt.Sprintf("Only pushes sync a source; %q events are ignored.", event)
			return nil
		}
		ref, err := pushRef(h)
		if err != nil {
			return err
		}
		if ref != "refs/heads/"+src.Branch {
			res.Status, res.Message = HookIgnored, fmt.Sprintf("The push is to %s; this source reads %s.", strings.TrimPrefix(ref, "refs/heads/"), src.Branch)
			return nil
		}
		res.Status, res.Message = HookAccepted, "A sync of "+src.Branch+" starts in a few seconds."
		return store.RequestTemplateSync(ctx, tx, src.OrgID, src.ID, "webhook")
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// pushRef reads the ref a push webhook's body names: GitHub's and
// GitLab's JSON both have "ref"; GitHub may send it form-encoded (a
// payload field holding the JSON).
func pushRef(h GitHook) (string, error) {
	body := h.Body
	if mt, _, _ := mime.ParseMediaType(h.ContentType); mt == "application/x-www-form-urlencoded" {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return "", domain.Errorf(domain.EInvalid, "The webhook's form body cannot be read.")
		}
		body = []byte(v.Get("payload"))
	}
	var p struct {
		Ref string `json:"ref"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Ref == "" {
		return "", domain.Errorf(domain.EInvalid, "The push webhook's body is not JSON with a ref.")
	}
	return p.Ref, nil
}
