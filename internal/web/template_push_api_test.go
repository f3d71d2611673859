package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/cli"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/testutil/gittest"
	"sendops/internal/testutil/testdb"
)

// newPushEnv is an AWS environment whose server may read file://
// repositories and whose SDK waits a millisecond between retries.
func newPushEnv(t *testing.T, e testdb.Engine) *awsEnv {
	t.Helper()
	return newAWSEnv(t, e, func(p *cli.Program) {
		p.GitAllowFile = true
		p.AWSBase.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		}
	})
}

// pushRepoFiles is a repository with three templates, mapped by its
// manifest.
var pushRepoFiles = map[string]string{
	"sendops.json": `{"templates": [
  {"name": "welcome", "subject": "Welcome {{name}}", "html": "emails/welcome.html", "text": "emails/welcome.txt"},
  {"name": "reset", "subject": "Reset your password", "html": "emails/reset.html"},
  {"name": "invoice", "subject": "Invoice {{n}}", "html": "emails/invoice.html"}
]}`,
	"emails/welcome.html": "<p>Hi {{name}}</p>\n",
	"emails/welcome.txt":  "Hi {{name}}\n",
	"emails/reset.html":   "<p>Reset</p>\n<p><a href=\"{{url}}\">here</a></p>\n",
	"emails/invoice.html": "<p>Invoice {{n}}</p>\n",
}

type planJSON struct {
	Commit      string
	State       string
	Connections []struct {
		ConnectionID string `json:"connection_id"`
		Error        string
		Items        []struct {
			Name, Action string
			Changed      []string
			OK           bool
			Error        string
		}
		Counts map[string]int
	}
}

// summary writes a connection's items as "name:action" (with "!" for a
// failure), in order.
func (p planJSON) summary(i int) string {
	var s []string
	for _, it := range p.Connections[i].Items {
		x := it.Name + ":" + it.Action
		if len(it.Changed) > 0 {
			x += "(" + strings.Join(it.Changed, ",") + ")"
		}
		if it.Action != "" && !it.OK && it.Error != "" {
			x += "!"
		}
		s = append(s, x)
	}
	return strings.Join(s, " ")
}

type driftAnswer struct {
	Commit string
	Items  []struct {
		Name, State string
		Diffs       []struct {
			Part, Unified     string
			Inserted, Deleted int
		}
	}
	Counts map[string]int
}

func (d driftAnswer) states() string {
	var s []string
	for _, it := range d.Items {
		s = append(s, it.Name+":"+it.State)
	}
	return strings.Join(s, " ")
}

func TestTemplatePushAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newPushEnv(t, e)
		ctx := context.Background()
		owner := &domain.Actor{OrgID: v.Org.ID, UserID: v.User.ID, Email: v.User.Email, Role: domain.RoleOwner}
		admin := sesAdmin(t, v)

		repo := gittest.New(t)
		repo.Commit(t, pushRepoFiles, "Three templates", "Dev <dev@example.com>")
		created, err := v.App.Service.CreateTemplateSource(ctx, owner, service.TemplateSourceInput{Name: "emails", URL: repo.URL(), Branch: "main"})
		if err != nil {
			t.Fatal(err)
		}
		if created.Sync == nil || created.Sync.Error != "" {
			t.Fatalf("first sync: %+v", created.Sync)
		}
		src := created.Source.ID
		prod, _ := v.roleConnection(t, "prod")
		staging, _ := v.roleConnection(t, "staging")

		// The customer's SES already holds welcome as the repository has
		// it, an older reset, and two templates the repository lacks.
		welcome, err := v.App.Service.TemplateAt(ctx, owner, src, "welcome", "")
		if err != nil {
			t.Fatal(err)
		}
		put := func(name, subject, html, text string) {
			t.Helper()
			c := &sestypes.EmailTemplateContent{Subject: aws.String(subject)}
			if html != "" {
				c.Html = aws.String(html)
			}
			if text != "" {
				c.Text = aws.String(text)
			}
			if _, err := admin.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{TemplateName: aws.String(name), TemplateContent: c}); err != nil {
				t.Fatal(err)
			}
		}
		put("welcome", welcome.Subject, welcome.HTML, welcome.Text)
		put("reset", "Reset your password", "<p>Reset</p>\n<p><a href=\"{{link}}\">there</a></p>\n", "")
		put("legacy", "Old", "<p>old</p>", "")
		put("retired", "Gone soon", "", "bye")

		base := "/api/v1/template-sources/" + src
		ids := func(conns ...string) string {
			b, _ := json.Marshal(conns)
			return string(b)
		}

		// Plan: in prod (staging is another account's region too, but the
		// same customer account in this emulator: both see one SES).
		status, body := apiCall(t, v.App, v.Key, "POST", base+"/plan", `{"connection_ids":`+ids(prod)+`}`)
		sesExpect(t, "plan", status, body, 200)
		plan := sesJSON[planJSON](t, body)
		if got, want := plan.summary(0), "invoice:create reset:update(html) welcome:unchanged legacy:extra retired:extra"; got != want {
			t.Fatalf("plan %q, want %q", got, want)
		}
		if c := plan.Connections[0].Counts; c["create"] != 1 || c["update"] != 1 || c["unchanged"] != 1 || c["extra"] != 2 {
			t.Errorf("counts %v", c)
		}
		commit := plan.Commit
		if commit != repo.Head(t) || len(plan.State) != 64 {
			t.Fatalf("planned commit %s (state %q), want the synced %s", commit, plan.State, repo.Head(t))
		}

		// Drift before any push.
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/drift?connection_id="+prod, "")
		sesExpect(t, "drift", status, body, 200, `"counts":{"changed":1,"extra":2,"in_sync":1,"missing":1}`)
		drift := sesJSON[driftAnswer](t, body)
		if got, want := drift.states(), "invoice:missing reset:changed welcome:in_sync legacy:extra retired:extra"; got != want {
			t.Fatalf("drift %q, want %q", got, want)
		}
		if d := drift.Items[1].Diffs; len(d) != 1 || d[0].Part != "html" || !strings.Contains(d[0].Unified, "-<p><a href=\"{{link}}\">there</a></p>\n+<p><a href=\"{{url}}\">here</a></p>\n") {
			t.Errorf("reset's diff: %+v", d)
		}

		// Refusals, before anything reaches SES.
		for _, c := range []struct {
			name, method, path, body string
			status                   int
			fragments                []string
		}{
			{"no connections", "POST", base + "/plan", `{"connection_ids":[]}`, 400, []string{`"field":"connection_ids"`}},
			{"an unknown connection", "POST", base + "/plan", `{"connection_ids":["nope"]}`, 404, nil},
			{"an unknown source", "POST", "/api/v1/template-sources/nope/plan", `{"connection_ids":` + ids(prod) + `}`, 404, nil},
			{"drift without a connection", "GET", base + "/drift", "", 400, []string{`"field":"connection_id"`}},
			{"a stale commit", "POST", base + "/push", `{"connection_ids":` + ids(prod) + `,"commit":"0123456789abcdef0123456789abcdef01234567"}`, 409,
				[]string{"The repository changed since the plan; review the new plan."}},
			{"a stale state", "POST", base + "/push", `{"connection_ids":` + ids(prod) + `,"state":"0123456789abcdef"}`, 409,
				[]string{`"field":"state"`, "review the new plan"}},
			{"no commit", "POST", base + "/push", `{"connection_ids":` + ids(prod) + `}`, 400, []string{`"field":"commit"`}},
			{"deleting a template the repository has", "POST", base + "/push", `{"connection_ids":` + ids(prod) + `,"commit":"` + commit + `","delete":["welcome"]}`, 400,
				[]string{"welcome is in the repository"}},
		} {
			status, body := apiCall(t, v.App, v.Key, c.method, c.path, c.body)
			sesExpect(t, c.name, status, body, c.status, c.fragments...)
		}
		if _, err := admin.GetEmailTemplate(ctx, &sesv2.GetEmailTemplateInput{TemplateName: aws.String("invoice")}); err == nil {
			t.Fatal("a refused push reached SES")
		}

		// A read key plans but does not push.
		readKey := sesKey(t, v, domain.ScopeRead)
		status, body = apiCall(t, v.App, readKey, "POST", base+"/plan", `{"connection_ids":`+ids(prod)+`}`)
		sesExpect(t, "plan with a read key", status, body, 200)
		status, body = apiCall(t, v.App, readKey, "POST", base+"/push", `{"connection_ids":`+ids(prod)+`,"commit":"`+commit+`"}`)
		sesExpect(t, "push with a read key", status, body, 403)

		// The push: staging's role was removed, so staging fails and says
		// why; prod is pushed all the same, and only the extra chosen goes.
		v.Sim.DeleteRole(v.Customer, "SendOps-staging")
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/push", `{"connection_ids":`+ids(staging, prod)+`,"state":"`+plan.State+`","delete":["retired"]}`)
		sesExpect(t, "push", status, body, 200, `"state":"`+plan.State+`"`, `"commit":"`+commit+`"`)
		res := sesJSON[planJSON](t, body)
		if len(res.Connections) != 2 || res.Connections[0].ConnectionID != staging || !strings.Contains(res.Connections[0].Error, "role") || len(res.Connections[0].Items) != 0 {
			t.Fatalf("staging: %s", body)
		}
		if got, want := res.summary(1), "invoice:create reset:update(html) welcome:unchanged legacy:extra retired:delete"; got != want || res.Connections[1].Error != "" {
			t.Fatalf("prod pushed %q, want %q: %s", got, want, body)
		}
		for _, it := range res.Connections[1].Items {
			if !it.OK {
				t.Errorf("%s failed: %s", it.Name, it.Error)
			}
		}
		if c := res.Connections[1].Counts; c["create"] != 1 || c["update"] != 1 || c["delete"] != 1 || c["extra"] != 1 || c["failed"] != 0 {
			t.Errorf("counts %v", c)
		}
		got := map[string]bool{}
		p := sesv2.NewListEmailTemplatesPaginator(admin, &sesv2.ListEmailTemplatesInput{})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out.TemplatesMetadata {
				got[aws.ToString(m.TemplateName)] = true
			}
		}
		if fmt.Sprint(got) != "map[invoice:true legacy:true reset:true welcome:true]" {
			t.Errorf("SES holds %v after the push", got)
		}
		reset, err := admin.GetEmailTemplate(ctx, &sesv2.GetEmailTemplateInput{TemplateName: aws.String("reset")})
		if err != nil || aws.ToString(reset.TemplateContent.Html) != pushRepoFiles["emails/reset.html"] {
			t.Errorf("reset after the push: %+v %v", reset, err)
		}

		// One audit entry per connection, with the commit and the counts.
		status, body = apiCall(t, v.App, v.Key, "GET", "/api/v1/audit", "")
		sesExpect(t, "audit", status, body, 200)
		var audit struct {
			Data []struct{ Action, Target, Details string }
		}
		json.Unmarshal([]byte(body), &audit)
		var pushes []string
		for _, a := range audit.Data {
			if a.Action == "templates.pushed" {
				pushes = append(pushes, a.Target+": "+a.Details)
			}
		}
		if len(pushes) != 2 {
			t.Fatalf("audit entries of the push: %q", pushes)
		}
		all := strings.Join(pushes, "\n")
		for _, f := range []string{"emails: connection prod", "commit " + commit, "1 created, 1 updated, 1 unchanged, 1 deleted, 0 failed", "emails: connection staging", "nothing pushed: "} {
			if !strings.Contains(all, f) {
				t.Errorf("%q is not in the audit entries:\n%s", f, all)
			}
		}

		// No drift after the push, but for the extra left.
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/drift?connection_id="+prod, "")
		sesExpect(t, "drift after the push", status, body, 200)
		if got, want := sesJSON[driftAnswer](t, body).states(), "invoice:in_sync reset:in_sync welcome:in_sync legacy:extra"; got != want {
			t.Fatalf("drift after the push %q, want %q", got, want)
		}

		// The customer edits welcome in SES by hand: drift shows it, with
		// a diff from SES to the repository; a push puts it back.
		if _, err := admin.UpdateEmailTemplate(ctx, &sesv2.UpdateEmailTemplateInput{TemplateName: aws.String("welcome"), TemplateContent: &sestypes.EmailTemplateContent{
			Subject: aws.String("Welcome!!"), Html: aws.String(welcome.HTML), Text: aws.String(welcome.Text),
		}}); err != nil {
			t.Fatal(err)
		}
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/drift?connection_id="+prod, "")
		drift = sesJSON[driftAnswer](t, body)
		if drift.Items[2].State != "changed" || len(drift.Items[2].Diffs) != 1 || drift.Items[2].Diffs[0].Part != "subject" ||
			!strings.Contains(drift.Items[2].Diffs[0].Unified, "-Welcome!!\n\\ No newline at end of file\n+Welcome {{name}}\n\\ No newline at end of file\n") {
			t.Fatalf("drift after a hand edit: %s", body)
		}
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/push", `{"connection_ids":`+ids(prod)+`,"commit":"`+commit+`"}`)
		sesExpect(t, "second push", status, body, 200)
		if got, want := sesJSON[planJSON](t, body).summary(0), "invoice:unchanged reset:unchanged welcome:update(subject) legacy:extra"; got != want {
			t.Errorf("second push %q, want %q", got, want)
		}
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/drift?connection_id="+prod, "")
		sesExpect(t, "drift after the second push", status, body, 200, `"counts":{"changed":0,"extra":1,"in_sync":3,"missing":0}`)

		// The repository moves on and syncs: the old plan's commit is
		// refused, the new plan shows the change.
		repo.Commit(t, map[string]string{"emails/invoice.html": "<p>Invoice {{n}}, thank you</p>\n"}, "Thank", "Dev <dev@example.com>")
		if s, err := v.App.Service.SyncTemplateSource(ctx, owner, src); err != nil || s.Error != "" {
			t.Fatalf("sync: %+v %v", s, err)
		}
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/push", `{"connection_ids":`+ids(prod)+`,"commit":"`+commit+`"}`)
		sesExpect(t, "push of the old plan", status, body, 409, "review the new plan")
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/plan", `{"connection_ids":`+ids(prod)+`}`)
		plan = sesJSON[planJSON](t, body)
		if plan.Commit != repo.Head(t) || plan.summary(0) != "invoice:update(html) reset:unchanged welcome:unchanged legacy:extra" {
			t.Errorf("plan after the sync: %s", body)
		}

		// SES's templates, and its own rendering of one.
		status, body = apiCall(t, v.App, v.Key, "GET", "/api/v1/connections/"+prod+"/templates?limit=2", "")
		sesExpect(t, "SES's templates", status, body, 200, `"name":"invoice"`, `"name":"legacy"`, `"created_at":`)
		if sesJSON[struct {
			NextCursor string `json:"next_cursor"`
		}](t, body).NextCursor == "" {
			t.Error("no second page of SES's templates")
		}
		render := "/api/v1/connections/" + prod + "/templates/welcome/test-render"
		status, body = apiCall(t, v.App, v.Key, "POST", render, `{"data":{"name":"Ana <b>&"}}`)
		sesExpect(t, "test render", status, body, 200, `"subject":"Welcome Ana \u003cb\u003e\u0026"`, `"mime":"Date: `)
		r := sesJSON[struct{ Subject, HTML, Text string }](t, body)
		if r.HTML != "<p>Hi Ana <b>&</p>\n" || r.Text != "Hi Ana <b>&\n" {
			t.Errorf("rendered %+v (SES does not escape HTML)", r)
		}
		status, body = apiCall(t, v.App, readKey, "POST", render, `{"data":"{\"name\":\"Bo\"}"}`)
		sesExpect(t, "test render with data as a string, read key", status, body, 200, `"subject":"Welcome Bo"`)
		for _, c := range []struct {
			name, path, body string
			status           int
			fragments        []string
		}{
			{"a value missing", render, `{"data":{}}`, 400, []string{`"field":"data"`, "SES cannot render welcome: the data has no value for name"}},
			{"no data at all", render, `{}`, 400, []string{"no value for name"}},
			{"data that is not an object", render, `{"data":[1]}`, 400, []string{`"field":"data"`, "must be a JSON object"}},
			{"data that is not JSON", render, `{"data":"{nope"}`, 400, []string{`"field":"data"`, "not valid JSON"}},
			{"a template SES lacks", "/api/v1/connections/" + prod + "/templates/nothing/test-render", `{"data":{}}`, 404, []string{`There is no template \"nothing\" in SES in us-east-1 of account 123456789012.`}},
			{"a connection SES cannot be reached through", "/api/v1/connections/" + staging + "/templates/welcome/test-render", `{"data":{}}`, 502, []string{"role"}},
		} {
			status, body := apiCall(t, v.App, v.Key, "POST", c.path, c.body)
			sesExpect(t, c.name, status, body, c.status, c.fragments...)
		}
	})
}

// A template SES refuses fails alone in a push, with SES's reason; the
// other templates of the connection are pushed.
func TestTemplatePushRefusedTemplate(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newPushEnv(t, e)
		ctx := context.Background()
		owner := &domain.Actor{OrgID: v.Org.ID, UserID: v.User.ID, Email: v.User.Email, Role: domain.RoleOwner}
		// The role may create templates but not update them.
		prod, _ := v.roleConnection(t, "prod", "ses:List*", "ses:Get*", "ses:CreateEmailTemplate", "events:List*")
		admin := sesAdmin(t, v)
		if _, err := admin.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{TemplateName: aws.String("reset"),
			TemplateContent: &sestypes.EmailTemplateContent{Subject: aws.String("Old"), Text: aws.String("old")}}); err != nil {
			t.Fatal(err)
		}
		repo := gittest.New(t)
		repo.Commit(t, pushRepoFiles, "Three templates", "Dev <dev@example.com>")
		created, err := v.App.Service.CreateTemplateSource(ctx, owner, service.TemplateSourceInput{Name: "emails", URL: repo.URL(), Branch: "main"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.App.Service.ApplyPush(ctx, owner, created.Source.ID, service.PushInput{ConnectionIDs: []string{prod}, Commit: repo.Head(t)})
		if err != nil {
			t.Fatal(err)
		}
		items := res.Connections[0].Items
		var got []string
		for _, it := range items {
			got = append(got, fmt.Sprintf("%s:%s:%v", it.Name, it.Action, it.OK))
		}
		if strings.Join(got, " ") != "invoice:create:true reset:update:false welcome:create:true" {
			t.Fatalf("items %q", got)
		}
		if !strings.Contains(items[1].Error, "ses:UpdateEmailTemplate") {
			t.Errorf("the refusal does not name the action: %q", items[1].Error)
		}
		var nf *sestypes.NotFoundException
		if _, err := admin.GetEmailTemplate(ctx, &sesv2.GetEmailTemplateInput{TemplateName: aws.String("welcome")}); errors.As(err, &nf) {
			t.Error("the template after the refused one was not pushed")
		}
	})
}

// From a repository to SES through the API alone: add the source (it
// syncs), plan, push, see no drift; the repository changes, syncs again,
// and the next push brings SES along. SES's own rendering of a pushed
// template is the same as SendOps's preview of it.
func TestTemplatePushEndToEnd(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newPushEnv(t, e)
		prod, _ := v.roleConnection(t, "prod")
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{
			"mail/shipped.html": "---\nname: order-shipped\nsubject: Order {{order.id}} shipped\n---\n" +
				"{{#*inline \"row\"}}<li>{{sku}} × {{qty}}</li>{{/inline~}}\n<ul>{{#each items}}{{> row}}{{/each}}</ul>\n" +
				"{{#if gift}}<p>A gift for {{gift.to}} & co</p>{{else}}<p>For you</p>{{/if}}\n",
			"mail/shipped.txt":  "Order {{order.id}}: {{#each items}}{{sku}} {{/each}}\n",
			"mail/shipped.json": `{"order":{"id":"A-1"},"items":[{"sku":"X","qty":2}],"gift":{"to":"<Bo>"}}`,
		}, "Shipped", "Dev <dev@example.com>")

		status, body := apiCall(t, v.App, v.Key, "POST", "/api/v1/template-sources", fmt.Sprintf(`{"name":"shop","url":%q,"branch":"main"}`, repo.URL()))
		sesExpect(t, "add the source", status, body, 201, `"status":"ok"`)
		src := sesJSON[struct{ Source struct{ ID string } }](t, body).Source.ID
		base := "/api/v1/template-sources/" + src
		conns := `{"connection_ids":["` + prod + `"]}`

		push := func(want string) {
			t.Helper()
			status, body := apiCall(t, v.App, v.Key, "POST", base+"/plan", conns)
			sesExpect(t, "plan", status, body, 200)
			plan := sesJSON[planJSON](t, body)
			if got := plan.summary(0); got != want {
				t.Fatalf("plan %q, want %q", got, want)
			}
			status, body = apiCall(t, v.App, v.Key, "POST", base+"/push", `{"connection_ids":["`+prod+`"],"state":"`+plan.State+`"}`)
			sesExpect(t, "push", status, body, 200, `"failed":0`)
			status, body = apiCall(t, v.App, v.Key, "GET", base+"/drift?connection_id="+prod, "")
			sesExpect(t, "drift after the push", status, body, 200, `"counts":{"changed":0,"extra":0,"in_sync":1,"missing":0}`)
			if got := sesJSON[driftAnswer](t, body).Commit; got != repo.Head(t) {
				t.Errorf("drift against %s, want %s", got, repo.Head(t))
			}
		}
		push("order-shipped:create")

		// SES renders the pushed template as SendOps's preview does.
		data := pushRepoData
		status, body = apiCall(t, v.App, v.Key, "POST", "/api/v1/connections/"+prod+"/templates/order-shipped/test-render", `{"data":`+data+`}`)
		sesExpect(t, "SES's rendering", status, body, 200)
		ses := sesJSON[struct{ Subject, HTML, Text string }](t, body)
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/templates/order-shipped/render", `{"data":`+data+`}`)
		sesExpect(t, "SendOps's rendering", status, body, 200)
		ours := sesJSON[struct{ Subject, HTML, Text string }](t, body)
		if ses != ours {
			t.Errorf("SES renders\n%+v\nSendOps renders\n%+v", ses, ours)
		}
		if !strings.Contains(ses.HTML, "<li>X × 2</li><li>Y × 1</li>") || !strings.Contains(ses.HTML, "A gift for <Bo> & co") {
			t.Errorf("SES's HTML %q", ses.HTML)
		}

		repo.Commit(t, map[string]string{"mail/shipped.txt": "Order {{order.id}} is on its way.\n"}, "Friendlier", "Dev <dev@example.com>")
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/sync", "")
		sesExpect(t, "sync", status, body, 200, `"status":"ok"`)
		push("order-shipped:update(text)")

		// A new mapping at the same commit changes what a push would send:
		// the last plan's state is refused, though its commit is the same.
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/plan", conns)
		before := sesJSON[planJSON](t, body)
		status, body = apiCall(t, v.App, v.Key, "PATCH", base, `{"mapping":{"templates":[{"name":"order-shipped","subject":"Shipped: {{order.id}}",`+
			`"html":"mail/shipped.html","text":"mail/shipped.txt"}]}}`)
		sesExpect(t, "a new mapping", status, body, 200)
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/sync", "")
		sesExpect(t, "sync of the new mapping", status, body, 200, `"status":"ok"`, `"commit":"`+before.Commit+`"`)
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/push", `{"connection_ids":["`+prod+`"],"state":"`+before.State+`"}`)
		sesExpect(t, "a push of the plan before the mapping changed", status, body, 409, `"field":"state"`, "review the new plan")
		push("order-shipped:update(subject)")
	})
}

// pushRepoData is template data for order-shipped, as an API body's JSON.
const pushRepoData = `{"order":{"id":"B-7"},"items":[{"sku":"X","qty":2},{"sku":"Y","qty":1}],"gift":{"to":"<Bo>"}}`
