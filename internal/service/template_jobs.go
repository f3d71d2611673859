package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"sendops/internal/domain"
	"sendops/internal/store"
	"sendops/internal/textdiff"
)

// Plans, pushes and drift run as jobs. SES takes template calls about
// once a second per account, so reading a few hundred templates takes
// minutes: longer than a request may. A request starts a job (the job is
// claimed by the replica that starts it, with a lease in the database)
// and waits for it up to JobWait; a job not finished by then is followed
// by its id (TemplateJob). A replica that dies running a job leaves its
// lease to run out; a worker (RunTemplateJobs) on any replica runs it
// again from the start: reading SES again, a push creates and updates to
// the same content (unchanged the second time) and counts an extra
// already deleted as deleted.

// Kinds of template jobs.
const (
	JobPlan  = "plan"
	JobPush  = "push"
	JobDrift = "drift"
)

const (
	// DefaultJobWait is how long a request waits for its job by default.
	DefaultJobWait = 20 * time.Second
	// DefaultTemplateCallInterval is SES's pace for template calls.
	DefaultTemplateCallInterval = time.Second
	// jobLease is how long a claimed job stays claimed without news from
	// its runner, which renews it every jobBeat.
	jobLease = time.Minute
	jobBeat  = 500 * time.Millisecond
	// jobTimeout bounds a job's run.
	jobTimeout = 30 * time.Minute
)

// TemplateJob is a plan, push or drift run as a job: its progress (done
// of total template steps) and, when done, its result (PushPlan,
// PushResult or TemplateDrift, as Kind says), or when failed its error.
type TemplateJob struct {
	ID         string          `json:"job_id"`
	SourceID   string          `json:"source_id"`
	Kind       string          `json:"kind"`
	Status     string          `json:"status"` // queued, running, done or failed
	Done       int             `json:"done"`
	Total      int             `json:"total"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      *JobError       `json:"error,omitempty"`

	// The result, read (one of them, as Kind says).
	Plan  *PushPlan      `json:"-"`
	Push  *PushResult    `json:"-"`
	Drift *TemplateDrift `json:"-"`
}

// JobError is why a job failed, as the API words errors.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Finished reports whether the job is done or failed.
func (j *TemplateJob) Finished() bool {
	return j.Status == store.JobDone || j.Status == store.JobFailed
}

// Err is the failed job's error, as the service would have returned it.
func (j *TemplateJob) Err() error {
	if j.Error == nil {
		return nil
	}
	return &domain.Error{Code: j.Error.Code, Message: j.Error.Message, Field: j.Error.Field}
}

// jobInput is what a job was asked, and by whom (its runner acts for
// them, and the audit log names them).
type jobInput struct {
	Actor         domain.Actor        `json:"actor"`
	ConnectionIDs []string            `json:"connection_ids"`
	Commit        string              `json:"commit,omitempty"`
	State         string              `json:"state,omitempty"`
	Delete        []string            `json:"delete,omitempty"`
	DeleteBy      map[string][]string `json:"delete_by,omitempty"`
}

// StartPlan plans a push (see PlanPush) as a job and waits for it up to
// JobWait. Errors: PlanPush's, before the job starts.
func (s *Service) StartPlan(ctx context.Context, a *domain.Actor, sourceID string, connIDs []string) (*TemplateJob, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	src, err := s.loadPushSource(ctx, a, sourceID)
	if err != nil {
		return nil, err
	}
	conns, err := s.pushConnections(ctx, a, connIDs)
	if err != nil {
		return nil, err
	}
	return s.startJob(ctx, a, sourceID, JobPlan, jobInput{ConnectionIDs: connIDs}, len(conns)*len(src.Templates))
}

// StartPush pushes (see ApplyPush) as a job and waits for it up to
// JobWait. deleteBy names, per connection id, further extras to delete
// there. Errors: ApplyPush's, before the job starts.
func (s *Service) StartPush(ctx context.Context, a *domain.Actor, sourceID string, in PushInput, deleteBy map[string][]string) (*TemplateJob, error) {
	if err := a.Require(domain.ActTemplatesPush); err != nil {
		return nil, err
	}
	src, err := s.loadPushSource(ctx, a, sourceID)
	if err != nil {
		return nil, err
	}
	conns, _, err := s.checkPush(ctx, a, src, in, deleteBy)
	if err != nil {
		return nil, err
	}
	ji := jobInput{ConnectionIDs: in.ConnectionIDs, Commit: in.Commit, State: in.State, Delete: in.Delete, DeleteBy: deleteBy}
	return s.startJob(ctx, a, sourceID, JobPush, ji, 2*len(conns)*len(src.Templates))
}

// StartDrift compares a connection's SES with the source (see Drift) as a
// job and waits for it up to JobWait. Errors: Drift's, before the job
// starts; those of reading SES, when the job fails within the wait.
func (s *Service) StartDrift(ctx context.Context, a *domain.Actor, sourceID, connID string) (*TemplateJob, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	src, err := s.loadPushSource(ctx, a, sourceID)
	if err != nil {
		return nil, err
	}
	if _, err := s.pushConnections(ctx, a, []string{connID}); err != nil {
		return nil, err
	}
	return s.startJob(ctx, a, sourceID, JobDrift, jobInput{ConnectionIDs: []string{connID}}, len(src.Templates))
}

// startJob stores a job claimed by this replica, runs it, and waits for
// it up to JobWait. A job that failed within the wait is its error.
func (s *Service) startJob(ctx context.Context, a *domain.Actor, sourceID, kind string, in jobInput, total int) (*TemplateJob, error) {
	in.Actor = *a
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	owner := domain.NewID()
	j := &store.TemplateJob{OrgID: a.OrgID, SourceID: sourceID, Kind: kind, Input: string(raw), Total: total, CreatedBy: a.ID()}
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		if err := store.CreateTemplateJob(ctx, tx, j); err != nil {
			return err
		}
		var err error
		j, _, err = store.ClaimTemplateJob(ctx, tx, a.OrgID, j.ID, owner, tx.Now().Add(jobLease))
		return err
	})
	if err != nil {
		return nil, err
	}
	done := s.jobWaits.add(j.ID)
	go s.runJob(j, owner, false)
	wait := s.JobWait
	if wait == 0 {
		wait = DefaultJobWait
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	view, err := s.readJob(context.WithoutCancel(ctx), a.OrgID, j.ID)
	if err != nil {
		return nil, err
	}
	if view.Status == store.JobFailed {
		return nil, view.Err()
	}
	return view, nil
}

// TemplateJob reads a job of the organisation's. Anyone who may view
// templates. Errors: EForbidden, ENotFound.
func (s *Service) TemplateJob(ctx context.Context, a *domain.Actor, id string) (*TemplateJob, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	return s.readJob(ctx, a.OrgID, id)
}

func (s *Service) readJob(ctx context.Context, orgID, id string) (*TemplateJob, error) {
	var j *store.TemplateJob
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		j, err = store.TemplateJobByID(ctx, tx, orgID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	v := &TemplateJob{ID: j.ID, SourceID: j.SourceID, Kind: j.Kind, Status: j.Status, Done: j.Done, Total: j.Total,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt}
	if j.Status == store.JobDone && j.Result != "" {
		var r jobResult
		if err := json.Unmarshal([]byte(j.Result), &r); err != nil {
			return nil, err
		}
		v.Plan, v.Push, v.Drift = r.Plan, r.Push, r.Drift
		var shown any
		switch {
		case r.Plan != nil:
			shown = r.Plan
		case r.Push != nil:
			shown = r.Push
		case r.Drift != nil:
			shown = r.Drift
			for i := range r.Drift.Items {
				for k := range r.Drift.Items[i].Diffs {
					if i < len(r.Hunks) && k < len(r.Hunks[i]) {
						r.Drift.Items[i].Diffs[k].Hunks = r.Hunks[i][k]
					}
				}
			}
		}
		b, err := json.Marshal(shown)
		if err != nil {
			return nil, err
		}
		v.Result = b
	}
	if j.Status == store.JobFailed {
		v.Error = &JobError{}
		if err := json.Unmarshal([]byte(j.Error), v.Error); err != nil {
			v.Error = &JobError{Code: domain.EInternal, Message: j.Error}
		}
	}
	return v, nil
}

// RunTemplateJobs runs jobs no replica runs (those whose replica died)
// until ctx ends. Every replica may run it.
func (s *Service) RunTemplateJobs(ctx context.Context) {
	t := time.NewTicker(syncPoll)
	defer t.Stop()
	for {
		if _, err := s.RunDueTemplateJobs(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error("template job worker", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDueTemplateJobs runs one pass of the worker: it claims due jobs (one
// at a time) and runs each to its end, and returns how many it ran.
func (s *Service) RunDueTemplateJobs(ctx context.Context) (int, error) {
	owner := domain.NewID()
	n := 0
	for n < maxSyncsPerPass && ctx.Err() == nil {
		var due []store.Due
		err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
			due, err = store.DueTemplateJobs(ctx, tx, 10)
			return err
		})
		if err != nil || len(due) == 0 {
			return n, err
		}
		var j *store.TemplateJob
		var rerun bool
		err = s.DB.Update(ctx, func(tx *store.Tx) (err error) {
			for _, d := range due {
				if j, rerun, err = store.ClaimTemplateJob(ctx, tx, d.OrgID, d.ID, owner, tx.Now().Add(jobLease)); err != nil || j != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || j == nil {
			return n, err
		}
		s.runJob(j, owner, rerun)
		n++
	}
	return n, nil
}

// jobProgress counts a job's steps done (see tick).
type jobProgress struct{ done atomic.Int64 }

type progressKey struct{}

// tick counts n steps of the job ctx runs, if any.
func tick(ctx context.Context, n int) {
	if p, ok := ctx.Value(progressKey{}).(*jobProgress); ok && n > 0 {
		p.done.Add(int64(n))
	}
}

// runJob runs a claimed job to its end and records how it ended; while it
// runs, it records its progress and renews its lease. A job whose lease
// is lost (another worker took it over) stops.
func (s *Service) runJob(j *store.TemplateJob, owner string, rerun bool) {
	defer s.jobWaits.finish(j.ID)
	prog := &jobProgress{}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), progressKey{}, prog), jobTimeout)
	defer cancel()
	beat := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(jobBeat)
		defer t.Stop()
		last, renewed := int64(-1), time.Time{}
		for {
			select {
			case <-beat:
				return
			case <-t.C:
			}
			done := min(prog.done.Load(), int64(j.Total))
			if done == last && time.Since(renewed) < jobLease/3 {
				continue
			}
			err := s.DB.Update(ctx, func(tx *store.Tx) error {
				return store.ProgressTemplateJob(ctx, tx, j.OrgID, j.ID, owner, int(done), j.Total, tx.Now().Add(jobLease))
			})
			switch {
			case errors.Is(err, store.ErrLeaseLost):
				cancel()
				return
			case err != nil:
				s.Logger.Error("template job progress", "job", j.ID, "err", err)
			default:
				last, renewed = done, time.Now()
			}
		}
	})
	result, err := s.execJob(ctx, j, rerun)
	close(beat)
	wg.Wait()
	status, res, errText := store.JobDone, "", ""
	if err == nil {
		var b []byte
		if b, err = json.Marshal(result); err == nil {
			res = string(b)
		}
	}
	if err != nil {
		status = store.JobFailed
		if domain.ErrorCode(err) == domain.EInternal {
			s.Logger.Error("template job", "job", j.ID, "err", err)
		}
		var de *domain.Error
		je := JobError{Code: domain.ErrorCode(err), Message: domain.ErrorMessage(err)}
		if errors.As(err, &de) {
			je.Field = de.Field
		}
		b, _ := json.Marshal(je)
		errText = string(b)
	}
	fctx, fcancel := context.WithTimeout(context.Background(), time.Minute)
	defer fcancel()
	err = s.DB.Update(fctx, func(tx *store.Tx) error {
		return store.FinishTemplateJob(fctx, tx, j.OrgID, j.ID, owner, status, res, errText, j.Total, j.Total)
	})
	if err != nil && !errors.Is(err, store.ErrLeaseLost) {
		s.Logger.Error("template job end", "job", j.ID, "err", err)
	}
}

// jobResult is a job's result as stored: one of the answers, and the
// hunks of a drift's diffs (by item, then diff), which its JSON leaves out
// but its page shows.
type jobResult struct {
	Plan  *PushPlan           `json:"plan,omitempty"`
	Push  *PushResult         `json:"push,omitempty"`
	Drift *TemplateDrift      `json:"drift,omitempty"`
	Hunks [][][]textdiff.Hunk `json:"hunks,omitempty"`
}

// execJob does what a job asks, for the actor who asked.
func (s *Service) execJob(ctx context.Context, j *store.TemplateJob, rerun bool) (*jobResult, error) {
	var in jobInput
	if err := json.Unmarshal([]byte(j.Input), &in); err != nil {
		return nil, err
	}
	a := &in.Actor
	if a.OrgID != j.OrgID {
		return nil, domain.Errorf(domain.EInternal, "template job %s: actor of another organisation", j.ID)
	}
	src, err := s.loadPushSource(ctx, a, j.SourceID)
	if err != nil {
		return nil, err
	}
	r := &jobResult{}
	switch j.Kind {
	case JobPlan:
		r.Plan, err = s.planPush(ctx, a, src, in.ConnectionIDs)
		return r, err
	case JobPush:
		r.Push, err = s.applyPushBy(ctx, a, src, PushInput{ConnectionIDs: in.ConnectionIDs, Commit: in.Commit, State: in.State, Delete: in.Delete}, in.DeleteBy, rerun)
		return r, err
	case JobDrift:
		if len(in.ConnectionIDs) != 1 {
			return nil, domain.Errorf(domain.EInternal, "template job %s: drift of %d connections", j.ID, len(in.ConnectionIDs))
		}
		if r.Drift, err = s.drift(ctx, a, src, in.ConnectionIDs[0]); err != nil {
			return nil, err
		}
		for _, it := range r.Drift.Items {
			hs := make([][]textdiff.Hunk, len(it.Diffs))
			for k, d := range it.Diffs {
				hs[k] = d.Hunks
			}
			r.Hunks = append(r.Hunks, hs)
		}
		return r, nil
	}
	return nil, domain.Errorf(domain.EInternal, "template job %s: unknown kind %q", j.ID, j.Kind)
}

// jobWaiters lets a request wait for a job this replica runs.
type jobWaiters struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (w *jobWaiters) add(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]chan struct{}{}
	}
	c, ok := w.m[id]
	if !ok {
		c = make(chan struct{})
		w.m[id] = c
	}
	return c
}

func (w *jobWaiters) finish(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.m[id]; ok {
		close(c)
		delete(w.m, id)
	}
}

// templatePacer spaces SES template calls: one per interval per
// connection, on this replica (SES counts them per account and Region;
// a connection is one of those).
type templatePacer struct {
	mu   sync.Mutex
	next map[string]time.Time
	// calls counts the calls paced (tests).
	calls atomic.Int64
}

// wait returns when the connection's next call may go, or ctx ends.
func (p *templatePacer) wait(ctx context.Context, key string, every time.Duration) error {
	p.calls.Add(1)
	if every <= 0 {
		return nil
	}
	p.mu.Lock()
	if p.next == nil {
		p.next = map[string]time.Time{}
	}
	now := time.Now()
	at := p.next[key]
	if at.Before(now) {
		at = now
	}
	p.next[key] = at.Add(every)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// callInterval is the pace of a connection's template calls.
func (s *Service) callInterval(c *domain.Connection) time.Duration {
	switch {
	case s.TemplateCallInterval > 0:
		return s.TemplateCallInterval
	case s.TemplateCallInterval < 0 || c.Endpoint != "":
		return 0
	}
	return DefaultTemplateCallInterval
}

// pacedHTTP makes every request (every attempt of a call) wait its turn.
type pacedHTTP struct {
	inner sesv2.HTTPClient
	wait  func(context.Context) error
}

func (p pacedHTTP) Do(r *http.Request) (*http.Response, error) {
	if err := p.wait(r.Context()); err != nil {
		return nil, err
	}
	return p.inner.Do(r)
}

// paced is a client option that paces the connection's calls.
func (s *Service) paced(c *domain.Connection, cfg aws.Config) func(*sesv2.Options) {
	every := s.callInterval(c)
	return func(o *sesv2.Options) {
		inner := o.HTTPClient
		if inner == nil {
			inner = cfg.HTTPClient
		}
		if inner == nil {
			inner = awshttp.NewBuildableClient()
		}
		o.HTTPClient = pacedHTTP{inner: inner, wait: func(ctx context.Context) error { return s.pacer.wait(ctx, c.ID, every) }}
	}
}
