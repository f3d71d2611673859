package store

import (
	"context"
	"time"

	"sendops/internal/domain"
)

// TemplateJob is a plan, push or drift run as a job (see
// service.TemplateJob).
type TemplateJob struct {
	OrgID, ID, SourceID string
	Kind                string // plan, push or drift
	Input               string // JSON
	Status              string // queued, running, done or failed
	Result              string // JSON, when done
	Error               string // JSON, when failed
	Done, Total         int
	CreatedBy           string
	CreatedAt           time.Time
	StartedAt           *time.Time
	FinishedAt          *time.Time
	LeaseOwner          string
	LeaseUntil          *time.Time
}

// Template job statuses.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// TemplateJobTTL is how long a finished job is kept.
const TemplateJobTTL = 7 * 24 * time.Hour

const templateJobCols = `org_id, id, source_id, kind, input, status, result, error, done, total, created_by, created_at,
	started_at, finished_at, lease_owner, lease_until`

func scanTemplateJob(row scanner) (*TemplateJob, error) {
	var j TemplateJob
	err := row.Scan(&j.OrgID, &j.ID, &j.SourceID, &j.Kind, &j.Input, &j.Status, &j.Result, &j.Error, &j.Done, &j.Total, &j.CreatedBy,
		utcTime{&j.CreatedAt}, nullTime{&j.StartedAt}, nullTime{&j.FinishedAt}, &j.LeaseOwner, nullTime{&j.LeaseUntil})
	return &j, err
}

// CreateTemplateJob stores a new queued job; its ID and CreatedAt are set
// when empty.
func CreateTemplateJob(ctx context.Context, tx *Tx, j *TemplateJob) error {
	if j.ID == "" {
		j.ID = domain.NewID()
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = tx.Now()
	}
	j.Status = JobQueued
	_, err := tx.Exec(ctx, `INSERT INTO template_jobs (`+templateJobCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.OrgID, j.ID, j.SourceID, j.Kind, j.Input, j.Status, j.Result, j.Error, j.Done, j.Total, j.CreatedBy, j.CreatedAt,
		j.StartedAt, j.FinishedAt, j.LeaseOwner, j.LeaseUntil)
	return err
}

// TemplateJobByID reads an organisation's job. Errors: ENotFound.
func TemplateJobByID(ctx context.Context, tx *Tx, orgID, id string) (*TemplateJob, error) {
	j, err := scanTemplateJob(tx.QueryRow(ctx, `SELECT `+templateJobCols+` FROM template_jobs WHERE org_id = ? AND id = ?`, orgID, id))
	if err != nil {
		return nil, notFound(err, "Template job")
	}
	return j, nil
}

// jobDueWhere is when a job may be claimed: queued, or running under a
// lease that ran out.
const jobDueWhere = `(status = 'queued' OR (status = 'running' AND (lease_until IS NULL OR lease_until < ?)))`

// DueTemplateJobs lists up to limit jobs to run, oldest first. Nothing is
// held: ClaimTemplateJob takes one.
func DueTemplateJobs(ctx context.Context, tx *Tx, limit int) ([]Due, error) {
	return queryDue(ctx, tx, `SELECT org_id, id FROM template_jobs WHERE `+jobDueWhere+` ORDER BY created_at, id LIMIT ?`, tx.Now(), limit)
}

// ClaimTemplateJob leases a due job to owner until leaseUntil and marks
// it running. The UPDATE checks and takes the lease at once, so of
// several workers racing one wins. It returns the job as claimed, with
// rerun true when it had been started before (a worker died running it),
// or nil when it was not claimed.
func ClaimTemplateJob(ctx context.Context, tx *Tx, orgID, id, owner string, leaseUntil time.Time) (j *TemplateJob, rerun bool, err error) {
	before, err := TemplateJobByID(ctx, tx, orgID, id)
	if err != nil {
		return nil, false, err
	}
	now := tx.Now()
	res, err := tx.Exec(ctx, `UPDATE template_jobs SET status = 'running', lease_owner = ?, lease_until = ?,
		started_at = coalesce(started_at, ?) WHERE org_id = ? AND id = ? AND `+jobDueWhere,
		owner, leaseUntil, now, orgID, id, now)
	if err != nil {
		return nil, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, false, err
	}
	j, err = TemplateJobByID(ctx, tx, orgID, id)
	return j, before.StartedAt != nil, err
}

// ProgressTemplateJob records owner's progress on a job and extends its
// lease. Errors: ErrLeaseLost when owner no longer holds it.
func ProgressTemplateJob(ctx context.Context, tx *Tx, orgID, id, owner string, done, total int, leaseUntil time.Time) error {
	res, err := tx.Exec(ctx, `UPDATE template_jobs SET done = ?, total = ?, lease_until = ?
		WHERE org_id = ? AND id = ? AND status = 'running' AND lease_owner = ?`, done, total, leaseUntil, orgID, id, owner)
	return leaseHeld(res, err)
}

// FinishTemplateJob ends owner's job: status done with its result, or
// failed with its error. Errors: ErrLeaseLost when owner no longer holds
// it (another worker runs it again).
func FinishTemplateJob(ctx context.Context, tx *Tx, orgID, id, owner, status, result, errText string, done, total int) error {
	res, err := tx.Exec(ctx, `UPDATE template_jobs SET status = ?, result = ?, error = ?, done = ?, total = ?, finished_at = ?,
		lease_owner = '', lease_until = NULL WHERE org_id = ? AND id = ? AND status = 'running' AND lease_owner = ?`,
		status, result, errText, done, total, tx.Now(), orgID, id, owner)
	return leaseHeld(res, err)
}

func leaseHeld(res interface{ RowsAffected() (int64, error) }, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}
