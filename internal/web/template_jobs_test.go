package web_test

import (
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/testutil/gittest"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// A plan, push or drift that outlives the wait answers 202 with its job;
// the job's route answers its progress, then the very answer the call
// would have given; another organisation's job is 404. In the UI, the
// request goes on to the job's page, which refreshes itself while the job
// runs and then shows what the plan, push or drift page shows.
func TestTemplateJobsAPIAndPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newPushEnv(t, e)
		ctx := context.Background()
		svc := v.App.Service
		owner := &domain.Actor{OrgID: v.Org.ID, UserID: v.User.ID, Email: v.User.Email, Role: domain.RoleOwner}
		repo := gittest.New(t)
		repo.Commit(t, pushRepoFiles, "Three templates", "Dev <dev@example.com>")
		created, err := svc.CreateTemplateSource(ctx, owner, service.TemplateSourceInput{Name: "emails", URL: repo.URL(), Branch: "main"})
		if err != nil {
			t.Fatal(err)
		}
		src := created.Source.ID
		prod, _ := v.roleConnection(t, "prod")
		base := "/api/v1/template-sources/" + src
		planBody := `{"connection_ids":["` + prod + `"]}`

		// SES holds older versions of the three: a plan reads each.
		admin := sesAdmin(t, v)
		for _, name := range []string{"welcome", "reset", "invoice"} {
			if _, err := admin.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{TemplateName: aws.String(name),
				TemplateContent: &sestypes.EmailTemplateContent{Subject: aws.String("Old"), Text: aws.String("old")}}); err != nil {
				t.Fatal(err)
			}
		}

		// No wait, and SES calls 300 ms apart: the plan (4 calls, so at
		// least 900 ms) is a job.
		svc.JobWait, svc.TemplateCallInterval = -1, 300*time.Millisecond
		status, body := apiCall(t, v.App, v.Key, "POST", base+"/plan", planBody)
		sesExpect(t, "a plan outliving the wait", status, body, 202, `"status":"running"`, `"total":3`)
		accepted := sesJSON[struct {
			JobID string `json:"job_id"`
			URL   string
		}](t, body)
		if accepted.URL != "/api/v1/template-jobs/"+accepted.JobID {
			t.Fatalf("the job's url %q", accepted.URL)
		}
		_, otherKey := ownerKey(t, v.App, "other@example.com")
		status, body = apiCall(t, v.App, otherKey, "GET", accepted.URL, "")
		sesExpect(t, "another organisation's job", status, body, 404)

		var job struct {
			Kind, Status string
			Done, Total  int
			Result       json.RawMessage
		}
		deadline := time.Now().Add(30 * time.Second)
		for job.Status != "done" {
			if time.Now().After(deadline) {
				t.Fatalf("the plan job is still %+v", job)
			}
			time.Sleep(50 * time.Millisecond)
			status, body = apiCall(t, v.App, v.Key, "GET", accepted.URL, "")
			sesExpect(t, "the job", status, body, 200, `"kind":"plan"`)
			job = sesJSON[struct {
				Kind, Status string
				Done, Total  int
				Result       json.RawMessage
			}](t, body)
			if job.Status != "done" && job.Result != nil {
				t.Fatalf("a %s job has a result: %s", job.Status, body)
			}
		}
		if job.Done != 3 || job.Total != 3 {
			t.Errorf("the done job's progress: %d of %d", job.Done, job.Total)
		}

		// The same plan within the wait: 200, the job's result exactly.
		svc.JobWait, svc.TemplateCallInterval = 0, -1
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/plan", planBody)
		sesExpect(t, "a plan within the wait", status, body, 200, `"connections":[`)
		var fromJob, direct any
		json.Unmarshal(job.Result, &fromJob)
		json.Unmarshal([]byte(body), &direct)
		if !reflect.DeepEqual(fromJob, direct) {
			t.Fatalf("the job's result:\n%s\nthe answer within the wait:\n%s", job.Result, body)
		}

		// The UI: plan, push and drift each go on to the job's page.
		b := v.App.SignIn(t, "aws@example.com", "password-aws@example.com")
		svc.JobWait, svc.TemplateCallInterval = -1, 300*time.Millisecond
		jobRE := regexp.MustCompile(`^/templates/` + src + `/jobs/([0-9a-zA-Z_-]+)$`)
		follow := func(what string, p *testapp.Page, done string, fragments ...string) *testapp.Page {
			t.Helper()
			if p.Status != 303 || !jobRE.MatchString(p.Location) {
				t.Fatalf("%s: status %d to %q, want 303 to its job's page\n%.2000s", what, p.Status, p.Location, p.Body)
			}
			jp := b.Get(p.Location)
			sesPage(t, what+" running", jp, 200, `<meta http-equiv="refresh" content="2">`, `id="job-progress"`, `data-status="running"`)
			if strings.Contains(jp.Body, done) {
				t.Fatalf("%s: the running job's page shows %s", what, done)
			}
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(jp.Body, done) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the job's page after 30 s:\n%s", what, jp.Body)
				}
				time.Sleep(100 * time.Millisecond)
				jp = b.Get(p.Location)
			}
			sesPage(t, what+" done", jp, 200, fragments...)
			if strings.Contains(jp.Body, `http-equiv="refresh"`) || strings.Contains(jp.Body, `id="job-progress"`) {
				t.Errorf("%s: the finished job's page still refreshes", what)
			}
			return jp
		}
		sp := "/templates/" + src
		p := follow("plan", b.Get(sp+"/push?connection="+prod), `id="plan-result"`,
			`data-action="update" data-template="welcome"`, "3 to update", `id="apply"`, `name="connection" value="`+prod+`"`)
		state := regexp.MustCompile(`name="state" value="([0-9a-f]{64})"`).FindStringSubmatch(p.Body)
		if state == nil {
			t.Fatalf("no state in the plan:\n%s", p.Body)
		}
		follow("push", b.Post(sp+"/push", sp+"/push", url.Values{"connection": {prod}, "state": {state[1]}}), `id="push-result"`,
			"3 updated", `data-action="update" data-ok="true" data-template="invoice"`)
		follow("drift", b.Get(sp+"/drift?connection="+prod), `id="drift"`, `id="no-drift"`, "3 in sync")

		// Another source's id with the job's: not found.
		if p := b.Get("/templates/nope/jobs/" + accepted.JobID); p.Status != 404 {
			t.Errorf("a job under another source: %d", p.Status)
		}
	})
}

// ownerKey makes an owner of a new organisation and its API key.
func ownerKey(t *testing.T, app *testapp.App, email string) (*domain.Org, string) {
	t.Helper()
	_, org, key := owner(t, app, email)
	return org, key
}
