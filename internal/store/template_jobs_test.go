package store

import (
	"errors"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/testutil/testdb"
)

// TestTemplateJobStore: a job is claimed once, its lease is renewed by
// progress, a lapsed lease lets another worker claim it again (as a
// rerun) and locks the first out, another organisation does not see it,
// and a finished job is deleted 7 days after it ended.
func TestTemplateJobStore(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		db := openTestDB(t, e)
		now := setClock(db, t0)
		a, b := newOrg(t, db, "A"), newOrg(t, db, "B")
		src := newSource(t, db, a.ID, "mail")
		j := &TemplateJob{OrgID: a.ID, SourceID: src.ID, Kind: "push", Input: `{"connection_ids":["c1"]}`, Total: 6, CreatedBy: "u1"}
		update(t, db, func(tx *Tx) error { return CreateTemplateJob(ctx, tx, j) })

		view(t, db, func(tx *Tx) error {
			got, err := TemplateJobByID(ctx, tx, a.ID, j.ID)
			if err != nil {
				return err
			}
			if got.Status != JobQueued || got.Kind != "push" || got.Input != j.Input || got.Total != 6 || !got.CreatedAt.Equal(t0) || got.StartedAt != nil {
				t.Errorf("stored job = %+v", got)
			}
			_, err = TemplateJobByID(ctx, tx, b.ID, j.ID)
			wantCode(t, "another organisation's job", err, domain.ENotFound)
			return nil
		})

		due := func() []Due {
			var d []Due
			view(t, db, func(tx *Tx) (err error) { d, err = DueTemplateJobs(ctx, tx, 10); return err })
			return d
		}
		claim := func(owner string) (*TemplateJob, bool) {
			var got *TemplateJob
			var rerun bool
			update(t, db, func(tx *Tx) (err error) {
				got, rerun, err = ClaimTemplateJob(ctx, tx, a.ID, j.ID, owner, tx.Now().Add(time.Minute))
				return err
			})
			return got, rerun
		}
		if d := due(); len(d) != 1 || d[0].ID != j.ID {
			t.Fatalf("due = %v, want the queued job", d)
		}
		got, rerun := claim("w1")
		if got == nil || rerun || got.Status != JobRunning || got.LeaseOwner != "w1" || got.StartedAt == nil {
			t.Fatalf("first claim = %+v, rerun %v", got, rerun)
		}
		if got, _ := claim("w2"); got != nil || len(due()) != 0 {
			t.Fatal("a job under a live lease was claimed again or listed as due")
		}

		// Progress renews the lease: 50 s later and 50 s more, it holds.
		*now = now.Add(50 * time.Second)
		update(t, db, func(tx *Tx) error {
			return ProgressTemplateJob(ctx, tx, a.ID, j.ID, "w1", 2, 6, tx.Now().Add(time.Minute))
		})
		*now = now.Add(50 * time.Second)
		if len(due()) != 0 {
			t.Fatal("a renewed lease lapsed")
		}

		// The worker dies: the lease lapses, another takes the job over.
		*now = now.Add(2 * time.Minute)
		if d := due(); len(d) != 1 {
			t.Fatalf("due after the lease lapsed = %v", d)
		}
		got, rerun = claim("w2")
		if got == nil || !rerun || got.LeaseOwner != "w2" || got.Done != 2 {
			t.Fatalf("claim after the lease lapsed = %+v, rerun %v", got, rerun)
		}
		err := db.Update(ctx, func(tx *Tx) error {
			return ProgressTemplateJob(ctx, tx, a.ID, j.ID, "w1", 3, 6, tx.Now().Add(time.Minute))
		})
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("the first worker's progress after losing the lease: %v, want ErrLeaseLost", err)
		}
		err = db.Update(ctx, func(tx *Tx) error { return FinishTemplateJob(ctx, tx, a.ID, j.ID, "w1", JobDone, `{}`, "", 6, 6) })
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("the first worker's end after losing the lease: %v, want ErrLeaseLost", err)
		}
		update(t, db, func(tx *Tx) error {
			return FinishTemplateJob(ctx, tx, a.ID, j.ID, "w2", JobDone, `{"push":{}}`, "", 6, 6)
		})
		view(t, db, func(tx *Tx) error {
			got, err := TemplateJobByID(ctx, tx, a.ID, j.ID)
			if err != nil {
				return err
			}
			if got.Status != JobDone || got.Result != `{"push":{}}` || got.Done != 6 || got.FinishedAt == nil || !got.FinishedAt.Equal(*now) || got.LeaseOwner != "" || got.LeaseUntil != nil {
				t.Errorf("finished job = %+v", got)
			}
			return nil
		})
		if len(due()) != 0 {
			t.Fatal("a finished job is due")
		}

		// Kept 7 days after it ended, with a queued job of any age.
		old := &TemplateJob{OrgID: a.ID, SourceID: src.ID, Kind: "plan", Input: `{}`, CreatedAt: now.Add(-30 * 24 * time.Hour)}
		update(t, db, func(tx *Tx) error { return CreateTemplateJob(ctx, tx, old) })
		*now = now.Add(7*24*time.Hour - time.Second)
		update(t, db, func(tx *Tx) error { _, err := DeleteExpired(ctx, tx, time.Hour); return err })
		if n := count(t, db, `SELECT count(*) FROM template_jobs`); n != 2 {
			t.Fatalf("jobs before 7 days = %d, want 2", n)
		}
		*now = now.Add(time.Second)
		update(t, db, func(tx *Tx) error { _, err := DeleteExpired(ctx, tx, time.Hour); return err })
		if n := count(t, db, `SELECT count(*) FROM template_jobs WHERE id = ?`, j.ID); n != 0 {
			t.Fatal("a job finished 7 days ago was kept")
		}
		if n := count(t, db, `SELECT count(*) FROM template_jobs WHERE id = ?`, old.ID); n != 1 {
			t.Fatal("a queued job was deleted")
		}
	})
}
