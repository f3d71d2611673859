package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"sendops/internal/domain"
	"sendops/internal/sesim"
	"sendops/internal/store"
	"sendops/internal/testutil/gittest"
	"sendops/internal/testutil/testdb"
)

// jobEnv is a template environment with a source of several templates and
// a connection to a sesim account (by access key), whose template calls
// (the SES API's /v2/email/templates) are counted.
type jobEnv struct {
	*tsEnv
	src   string
	conn  string
	admin *sesv2.Client // the customer's own client
	calls atomic.Int64  // template calls SendOps made
}

func newJobEnv(t *testing.T, e testdb.Engine, templates int) *jobEnv {
	t.Helper()
	env := &jobEnv{tsEnv: newTemplateEnv(t, e)}
	env.svc.AllowAWSEndpoint = true
	env.svc.JobWait = -1
	env.svc.TemplateCallInterval = 100 * time.Millisecond
	sim := sesim.New(sesim.Options{})
	t.Cleanup(func() { sim.Close() })
	var counting atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if counting.Load() && strings.HasPrefix(r.URL.Path, "/v2/email/templates") {
			env.calls.Add(1)
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	id, secret := sim.AddAccessKey("123456789012", "")
	env.admin = sesv2.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	ctx := context.Background()
	c, _, err := env.svc.CreateConnection(ctx, env.owner, ConnectionInput{Name: "prod", AWSAccountID: "123456789012", Region: "us-east-1",
		AccessKeyID: id, SecretAccessKey: secret, Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	env.conn = c.ID
	files := map[string]string{}
	for i := range templates {
		files[fmt.Sprintf("mail/t%02d.html", i)] = fmt.Sprintf("---\nsubject: Subject %d\n---\n<p>Body %d</p>\n", i, i)
	}
	repo := gittest.New(t)
	repo.Commit(t, files, "templates", "")
	env.src = env.create(t, TemplateSourceInput{Name: "mail", URL: repo.URL()}).Source.ID
	counting.Store(true)
	return env
}

// finished waits for a job to end and returns it.
func (env *jobEnv) finished(t *testing.T, id string) *TemplateJob {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := env.svc.TemplateJob(context.Background(), env.owner, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Finished() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s (%d of %d) after 30 s", id, j.Status, j.Done, j.Total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A plan and a push that outlive the wait (none here) answer a job at
// once; the job ends with the very answer the synchronous call gives,
// progress counting every template step; every SES template call waited
// for the pacer, one interval apart.
func TestTemplateJobs(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newJobEnv(t, e, 6)
		ctx := context.Background()
		putSES(t, env.admin, "t00", "Subject 0", "<p>old</p>\n", "")
		putSES(t, env.admin, "legacy", "Old", "<p>old</p>", "")
		env.calls.Store(0)
		paced0 := env.svc.pacer.calls.Load()

		start := time.Now()
		job, err := env.svc.StartPlan(ctx, env.owner, env.src, []string{env.conn})
		if err != nil {
			t.Fatal(err)
		}
		if job.Finished() || job.Kind != JobPlan || job.Total != 6 || job.Result != nil {
			t.Fatalf("a job with no wait answered %+v", job)
		}
		job = env.finished(t, job.ID)
		elapsed := time.Since(start)
		if job.Status != store.JobDone || job.Done != 6 || job.Plan == nil {
			t.Fatalf("plan job ended %+v", job)
		}
		// SES was called once to list and once per template it has (t00).
		calls, paced := env.calls.Load(), env.svc.pacer.calls.Load()-paced0
		if calls != 2 || paced != calls {
			t.Fatalf("SES template calls %d, paced %d: want 2, each paced", calls, paced)
		}
		if elapsed < time.Duration(calls-1)*env.svc.TemplateCallInterval {
			t.Errorf("%d calls in %v: not paced %v apart", calls, elapsed, env.svc.TemplateCallInterval)
		}
		sync, err := env.svc.PlanPush(ctx, env.owner, env.src, []string{env.conn})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(sync)
		if string(job.Result) != string(want) {
			t.Fatalf("the job's plan:\n%s\nthe synchronous plan:\n%s", job.Result, want)
		}

		// The push: 5 created, 1 updated, the extra deleted as asked.
		env.calls.Store(0)
		paced0 = env.svc.pacer.calls.Load()
		job, err = env.svc.StartPush(ctx, env.owner, env.src, PushInput{ConnectionIDs: []string{env.conn}, State: sync.State, Delete: []string{"legacy"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		job = env.finished(t, job.ID)
		if job.Status != store.JobDone || job.Push == nil || job.Done != 12 || job.Total != 12 {
			t.Fatalf("push job ended %+v", job)
		}
		c := job.Push.Connections[0].Counts
		if c[PushCreate] != 5 || c[PushUpdate] != 1 || c[PushDelete] != 1 || c[PushFailed] != 0 {
			t.Fatalf("push counts %v", c)
		}
		if calls, paced := env.calls.Load(), env.svc.pacer.calls.Load()-paced0; calls != 9 || paced != calls {
			t.Fatalf("push: SES template calls %d, paced %d: want 9 (list, get, 5 creates, an update, a delete), each paced", calls, paced)
		}
		var shape, syncShape map[string]any
		json.Unmarshal(job.Result, &shape)
		again, err := env.svc.ApplyPush(ctx, env.owner, env.src, PushInput{ConnectionIDs: []string{env.conn}, State: sync.State})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(again)
		json.Unmarshal(b, &syncShape)
		if !sameShape(shape, syncShape) {
			t.Errorf("the job's push result %s is not shaped as the synchronous one %s", job.Result, b)
		}

		// A refusal found before the job starts is the call's error; a
		// job is another organisation's to nobody.
		_, err = env.svc.StartPush(ctx, env.owner, env.src, PushInput{ConnectionIDs: []string{env.conn}, State: "stale"}, nil)
		if domain.ErrorCode(err) != domain.EConflict {
			t.Errorf("a stale push: %v, want a conflict", err)
		}
		other := &domain.Actor{OrgID: "another-org", UserID: env.owner.UserID, Role: domain.RoleOwner}
		if _, err := env.svc.TemplateJob(ctx, other, job.ID); domain.ErrorCode(err) != domain.ENotFound {
			t.Errorf("another organisation's job: %v, want not found", err)
		}
	})
}

// sameShape compares two JSON values' keys, recursively (arrays by their
// first element).
func sameShape(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			if w, ok := bm[k]; !ok || !sameShape(v, w) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok {
			return false
		}
		if len(a) == 0 || len(bs) == 0 {
			return true
		}
		return sameShape(a[0], bs[0])
	}
	return reflect.TypeOf(a) == reflect.TypeOf(b)
}

// A job whose replica died (queued and never started, or running under a
// lease that ran out) is run by another replica's worker; a push run
// again creates and updates to the same content and counts an extra its
// first run deleted as deleted.
func TestTemplateJobsSurviveARestart(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newJobEnv(t, e, 3)
		ctx := context.Background()
		plan, err := env.svc.PlanPush(ctx, env.owner, env.src, []string{env.conn})
		if err != nil {
			t.Fatal(err)
		}
		// The dead replica pushed one template and deleted the extra
		// before it died.
		putSES(t, env.admin, "t00", "Subject 0", "<p>Body 0</p>\n", "")

		stored := func(kind string, in jobInput, leaseOwner string) string {
			in.Actor = *env.owner
			raw, _ := json.Marshal(in)
			j := &store.TemplateJob{OrgID: env.owner.OrgID, SourceID: env.src, Kind: kind, Input: string(raw), Total: 6, CreatedBy: env.owner.ID()}
			err := env.db.Update(ctx, func(tx *store.Tx) error {
				if err := store.CreateTemplateJob(ctx, tx, j); err != nil {
					return err
				}
				if leaseOwner != "" {
					c, _, err := store.ClaimTemplateJob(ctx, tx, j.OrgID, j.ID, leaseOwner, tx.Now().Add(-time.Second))
					if c == nil && err == nil {
						t.Fatal("the dead replica's claim failed")
					}
					return err
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return j.ID
		}
		pushID := stored(JobPush, jobInput{ConnectionIDs: []string{env.conn}, State: plan.State, Delete: []string{"legacy"}}, "dead-replica")
		planID := stored(JobPlan, jobInput{ConnectionIDs: []string{env.conn}}, "")

		// Another replica: a second service on the same database.
		replica := templateService(t, env.db)
		replica.AllowAWSEndpoint, replica.TemplateCallInterval = true, -1
		n, err := replica.RunDueTemplateJobs(ctx)
		if err != nil || n != 2 {
			t.Fatalf("the replica's worker ran %d jobs, %v; want 2", n, err)
		}
		push := env.finished(t, pushID)
		if push.Status != store.JobDone || push.Push == nil {
			t.Fatalf("the push run again: %+v", push)
		}
		var got []string
		for _, it := range push.Push.Connections[0].Items {
			got = append(got, fmt.Sprintf("%s:%s:%v", it.Name, it.Action, it.OK))
		}
		if want := "t00:unchanged:true t01:create:true t02:create:true legacy:delete:true"; strings.Join(got, " ") != want {
			t.Errorf("the push run again: %q, want %q", got, want)
		}
		for i := range 3 {
			if c, ok := getSES(t, env.admin, fmt.Sprintf("t%02d", i)); !ok || c.Subject != fmt.Sprintf("Subject %d", i) {
				t.Errorf("t%02d in SES after the rerun: %+v %v", i, c, ok)
			}
		}
		pl := env.finished(t, planID)
		if pl.Status != store.JobDone || pl.Plan == nil || pl.Plan.Connections[0].Counts[PushUnchanged] != 3 {
			t.Errorf("the queued plan: %+v", pl)
		}
		if n, err := replica.RunDueTemplateJobs(ctx); n != 0 || err != nil {
			t.Errorf("a second pass ran %d jobs, %v", n, err)
		}
	})
}

// The pacer gives each connection's calls slots an interval apart, and
// gives up when the caller does.
func TestTemplatePacer(t *testing.T) {
	t.Parallel()
	var p templatePacer
	ctx := context.Background()
	// The first call goes at once; the next would wait an hour.
	if err := p.wait(ctx, "a", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(ctx, "b", time.Hour); err != nil {
		t.Fatalf("another connection's first call: %v", err)
	}
	if d := p.next["a"].Sub(p.next["b"]); d > time.Second || d < -time.Second {
		t.Errorf("two connections' slots %v apart: they are paced on their own", d)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := p.wait(short, "a", time.Hour); err == nil {
		t.Error("a call an hour away did not give up with its caller")
	}
	if next := time.Until(p.next["a"]); next < time.Hour {
		t.Errorf("the next slot of a is in %v, want two intervals on", next)
	}
	if p.calls.Load() != 3 {
		t.Errorf("calls = %d, want 3", p.calls.Load())
	}
}
