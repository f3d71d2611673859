package service

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/domain"
	"sendops/internal/sesim"
	"sendops/internal/templates"
	"sendops/internal/testutil/gittest"
	"sendops/internal/testutil/testdb"
)

// simSES is an SES client of an account in a fresh sesim, the way a
// connection reaches it: through the real SDK, retries included (with
// millisecond waits).
func simSES(t *testing.T) (*sesim.Sim, *sesv2.Client) {
	t.Helper()
	sim := sesim.New(sesim.Options{})
	t.Cleanup(func() { sim.Close() })
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.AddAccessKey("123456789012", "")
	return sim, sesv2.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		},
	}, pushRetries)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// putSES creates a template in SES as the customer would, by hand.
func putSES(t *testing.T, client *sesv2.Client, name, subject, html, text string) {
	t.Helper()
	c := &sestypes.EmailTemplateContent{Subject: aws.String(subject)}
	if html != "" {
		c.Html = aws.String(html)
	}
	if text != "" {
		c.Text = aws.String(text)
	}
	if _, err := client.CreateEmailTemplate(testCtx(t), &sesv2.CreateEmailTemplateInput{TemplateName: aws.String(name), TemplateContent: c}); err != nil {
		t.Fatal(err)
	}
}

func getSES(t *testing.T, client *sesv2.Client, name string) (sesContent, bool) {
	t.Helper()
	out, err := client.GetEmailTemplate(testCtx(t), &sesv2.GetEmailTemplateInput{TemplateName: aws.String(name)})
	if err != nil {
		var nf *sestypes.NotFoundException
		if asErr(err, &nf) {
			return sesContent{}, false
		}
		t.Fatal(err)
	}
	tc := out.TemplateContent
	return sesContent{aws.ToString(tc.Subject), aws.ToString(tc.Html), aws.ToString(tc.Text)}, true
}

func asErr[T error](err error, target *T) bool {
	for err != nil {
		if e, ok := err.(T); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// The repository the core tests push.
var pushRepo = []RepoTemplate{
	{Name: "welcome", Subject: "Welcome {{name}}", HTML: "<p>Hi {{name}}</p>", Text: "Hi {{name}}"},
	{Name: "reset", Subject: "Reset your password", HTML: "<p>Reset</p>\n<p><a href=\"{{url}}\">here</a></p>\n", Text: "Reset: {{url}}"},
	{Name: "invoice", Subject: "Invoice {{n}}", HTML: "<p>Invoice {{n}}</p>"},
}

func TestPushPlanApplyDrift(t *testing.T) {
	t.Parallel()
	_, client := simSES(t)
	ctx := testCtx(t)
	// SES holds welcome as the repository has it, an older reset (edited by
	// hand), and two templates the repository does not have.
	putSES(t, client, "welcome", "Welcome {{name}}", "<p>Hi {{name}}</p>", "Hi {{name}}")
	putSES(t, client, "reset", "Reset your password", "<p>Reset</p>\n<p><a href=\"{{link}}\">there</a></p>\n", "Reset: {{url}}")
	putSES(t, client, "legacy", "Old", "<p>old</p>", "")
	putSES(t, client, "retired", "Gone soon", "", "bye")

	st, err := readSESTemplates(ctx, client, repoNames(pushRepo))
	if err != nil {
		t.Fatal(err)
	}
	none := []string{}
	wantPlan := []PlanItem{
		{Name: "invoice", Action: PushCreate, Changed: none},
		{Name: "reset", Action: PushUpdate, Changed: []string{PartHTML}},
		{Name: "welcome", Action: PushUnchanged, Changed: none},
		{Name: "legacy", Action: PushExtra, Changed: none},
		{Name: "retired", Action: PushExtra, Changed: none},
	}
	if got := planTemplates(pushRepo, st); !reflect.DeepEqual(got, wantPlan) {
		t.Fatalf("plan:\n got %+v\nwant %+v", got, wantPlan)
	}

	// Drift before the push: reset changed, with a diff from SES to the
	// repository; invoice missing; the extras named.
	drift := driftTemplates(pushRepo, st, "0123456789abcdef0123")
	var states []string
	for _, d := range drift {
		states = append(states, d.Name+":"+d.State)
	}
	if want := "invoice:missing reset:changed welcome:in_sync legacy:extra retired:extra"; strings.Join(states, " ") != want {
		t.Fatalf("drift %q, want %q", states, want)
	}
	reset := drift[1]
	if len(reset.Diffs) != 1 || reset.Diffs[0].Part != PartHTML || reset.Diffs[0].Inserted != 1 || reset.Diffs[0].Deleted != 1 {
		t.Fatalf("reset's diffs: %+v", reset.Diffs)
	}
	wantDiff := "--- ses/reset/html\n+++ repository@0123456789ab/reset/html\n@@ -1,2 +1,2 @@\n <p>Reset</p>\n-<p><a href=\"{{link}}\">there</a></p>\n+<p><a href=\"{{url}}\">here</a></p>\n"
	if reset.Diffs[0].Unified != wantDiff {
		t.Errorf("unified diff:\n%s\nwant\n%s", reset.Diffs[0].Unified, wantDiff)
	}

	// The push creates and updates, deletes only the extra chosen, leaves
	// the other.
	items := applyTemplates(ctx, client, pushRepo, st, map[string]bool{"retired": true})
	var got []string
	for _, it := range items {
		got = append(got, fmt.Sprintf("%s:%s:%v", it.Name, it.Action, it.OK))
	}
	if want := "invoice:create:true reset:update:true welcome:unchanged:true legacy:extra:true retired:delete:true"; strings.Join(got, " ") != want {
		t.Fatalf("push %q, want %q", got, want)
	}
	for _, tpl := range pushRepo {
		c, ok := getSES(t, client, tpl.Name)
		if !ok || c != (sesContent{tpl.Subject, tpl.HTML, tpl.Text}) {
			t.Errorf("SES's %s after the push: %+v %v", tpl.Name, c, ok)
		}
	}
	if _, ok := getSES(t, client, "legacy"); !ok {
		t.Error("the extra left alone was deleted")
	}
	if _, ok := getSES(t, client, "retired"); ok {
		t.Error("the extra chosen was not deleted")
	}

	// Afterwards: nothing to do, no drift.
	st, err = readSESTemplates(ctx, client, repoNames(pushRepo))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range planTemplates(pushRepo, st) {
		if p.Action != PushUnchanged && !(p.Name == "legacy" && p.Action == PushExtra) {
			t.Errorf("plan after the push: %+v", p)
		}
	}
	for _, d := range driftTemplates(pushRepo, st, "c") {
		if d.State != DriftInSync && !(d.Name == "legacy" && d.State == DriftExtra) {
			t.Errorf("drift after the push: %+v", d)
		}
	}
}

// A template SES refuses fails alone, saying why; the others are pushed.
func TestPushTemplateRefused(t *testing.T) {
	t.Parallel()
	sim, client := simSES(t)
	ctx := testCtx(t)
	repo := []RepoTemplate{
		{Name: "broken", Subject: "Hi", HTML: "{{#if x}}never closed"},
		{Name: "fine", Subject: "Hi", Text: "fine"},
		{Name: "throttled", Subject: "Hi", Text: "SES was busy"},
	}
	st, err := readSESTemplates(ctx, client, repoNames(repo))
	if err != nil {
		t.Fatal(err)
	}
	// SES throttles five calls in a row: a push tries a template call more
	// often than the SDK's usual three times, and gets SES's real answer.
	sim.Throttle("CreateEmailTemplate", 5)
	items := applyTemplates(ctx, client, repo, st, nil)
	if items[0].OK || !strings.Contains(items[0].Error, "Template is not valid") || !items[1].OK || !items[2].OK {
		t.Fatalf("items %+v", items)
	}
	if _, ok := getSES(t, client, "broken"); ok {
		t.Error("SES has the template it refused")
	}
}

// Templates beyond SES's first page are read too, and a template the
// repository does not have is listed but not read.
func TestReadSESTemplatesPages(t *testing.T) {
	t.Parallel()
	_, client := simSES(t)
	ctx := testCtx(t)
	var repo []RepoTemplate
	for i := range 130 {
		name := fmt.Sprintf("t%03d", i)
		putSES(t, client, name, "S "+name, "", "T")
		if i%2 == 0 {
			repo = append(repo, RepoTemplate{Name: name, Subject: "S " + name, Text: "T"})
		}
	}
	st, err := readSESTemplates(ctx, client, repoNames(repo))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Names) != 130 || len(st.Content) != 65 {
		t.Fatalf("%d names, %d read; want 130 and 65", len(st.Names), len(st.Content))
	}
	plan := planTemplates(repo, st)
	if len(plan) != 130 || plan[0].Action != PushUnchanged || plan[129].Action != PushExtra {
		t.Fatalf("plan of %d: first %+v, last %+v", len(plan), plan[0], plan[len(plan)-1])
	}
}

// SES's rendering, as TestRenderEmailTemplate returns it, is read back
// whatever transfer encoding each part uses.
func TestParseRenderedMIME(t *testing.T) {
	t.Parallel()
	_, client := simSES(t)
	ctx := testCtx(t)
	long := strings.Repeat("x", 1200)
	cases := []struct {
		name                string
		subject, html, text string
		data                string
		want                RenderedTemplate
		encodings           []string // Content-Transfer-Encoding of each part, in order
	}{
		{name: "ASCII, both parts", subject: "Hi {{name}}", html: "<p>Hi {{name}} & co</p>", text: "Hi {{name}}\nbye",
			data: `{"name":"Ana <3"}`, want: RenderedTemplate{Subject: "Hi Ana <3", HTML: "<p>Hi Ana <3 & co</p>", Text: "Hi Ana <3\nbye"},
			encodings: []string{"7bit", "7bit"}},
		{name: "mostly ASCII: quoted-printable", subject: "Bonjour {{name}}", html: "<p>Café {{name}} = ok</p>", text: "Café {{name}}",
			data: `{"name":"Zoë"}`, want: RenderedTemplate{Subject: "Bonjour Zoë", HTML: "<p>Café Zoë = ok</p>", Text: "Café Zoë"},
			encodings: []string{"quoted-printable", "quoted-printable"}},
		{name: "mostly not ASCII: base64, HTML only", subject: "日本", html: "{{greeting}}",
			data:      `{"greeting":"こんにちは世界、こんにちは世界、こんにちは世界、こんにちは世界、こんにちは世界、こんにちは世界"}`,
			want:      RenderedTemplate{Subject: "日本", HTML: "こんにちは世界、こんにちは世界、こんにちは世界、こんにちは世界、こんにちは世界、こんにちは世界"},
			encodings: []string{"base64"}},
		{name: "a line too long for 7bit, text only", subject: "s", text: long, data: `{}`,
			want: RenderedTemplate{Subject: "s", Text: long}, encodings: []string{"quoted-printable"}},
	}
	for i, c := range cases {
		name := fmt.Sprintf("mime%d", i)
		putSES(t, client, name, c.subject, c.html, c.text)
		out, err := client.TestRenderEmailTemplate(ctx, &sesv2.TestRenderEmailTemplateInput{TemplateName: aws.String(name), TemplateData: aws.String(c.data)})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		raw := aws.ToString(out.RenderedTemplate)
		var encs []string
		for _, l := range strings.Split(raw, "\r\n") {
			if v, ok := strings.CutPrefix(l, "Content-Transfer-Encoding: "); ok {
				encs = append(encs, v)
			}
		}
		if !reflect.DeepEqual(encs, c.encodings) {
			t.Errorf("%s: SES's encodings %q, want %q", c.name, encs, c.encodings)
		}
		r, err := ParseRenderedMIME(raw)
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, raw)
		}
		r.HTML, r.Text = strings.TrimSuffix(r.HTML, "\n"), strings.TrimSuffix(r.Text, "\n")
		if r.Subject != c.want.Subject || r.HTML != c.want.HTML || r.Text != c.want.Text || r.MIME != raw {
			t.Errorf("%s: got %+v, want %+v", c.name, *r, c.want)
		}
	}

	// Messages written by hand: nested multiparts, ISO-8859-1, encoded
	// subjects, and messages that are not MIME.
	nested := "Subject: =?ISO-8859-1?Q?Caf=E9?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n" +
		"--inner\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9\r\n" +
		"--inner\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+\r\neDwvYj4=\r\n--inner--\r\n" +
		"--outer\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n--outer--\r\n"
	r, err := ParseRenderedMIME(nested)
	if err != nil || r.Subject != "Café" || r.Text != "Café" || r.HTML != "<b>x</b>" {
		t.Errorf("nested: %+v %v", r, err)
	}
	for _, bad := range []string{
		"no headers at all",
		"Subject: x\r\nContent-Type: multipart/alternative\r\n\r\nbody",
		"Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nbody",
		"Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!",
	} {
		if _, err := ParseRenderedMIME(bad); err == nil {
			t.Errorf("ParseRenderedMIME(%q) read a broken message", bad)
		}
	}
}

func TestTemplateDataChecked(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ data, want string }{
		{`{"a":1}`, ""},
		{`[1]`, "must be a JSON object"},
		{`{"a":}`, "not valid JSON: 1:6"},
		{`{"a":"` + strings.Repeat("x", templates.MaxDataLength) + `"}`, "SES takes at most 262144"},
		// SES counts characters, not bytes.
		{`{"a":"` + strings.Repeat("é", templates.MaxDataLength-8) + `"}`, ""},
	} {
		err := checkTemplateData(c.data)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("checkTemplateData(%.20q) = %v, want %q", c.data, err, c.want)
		}
	}
}

// A push names the synced state its plan showed: when the source syncs to
// another state, even at the same commit (a new mapping), the push is
// refused; the commit alone, as older clients send it, is still taken.
func TestPushRefusesAChangedState(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{"mail/a.html": "---\nsubject: A\n---\n<p>a</p>\n", "mail/b.html": "---\nsubject: B\n---\n<p>b</p>\n"}, "init", "")
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: repo.URL()})
		planned, err := env.svc.loadPushSource(ctx, env.owner, c.Source.ID)
		if err != nil {
			t.Fatal(err)
		}
		m := &templates.Mapping{Rules: []templates.Rule{{HTML: "mail/*.html", Name: "shop-{name}"}}}
		if _, err := env.svc.UpdateTemplateSource(ctx, env.owner, c.Source.ID, TemplateSourceUpdate{Mapping: m}); err != nil {
			t.Fatal(err)
		}
		env.sync(t, c.Source.ID)
		now, err := env.svc.loadPushSource(ctx, env.owner, c.Source.ID)
		if err != nil || now.Commit != planned.Commit || now.State == planned.State || now.Templates[0].Name != "shop-a" {
			t.Fatalf("after the mapping change: %+v, %v; want the same commit in another state", now, err)
		}
		nowhere := []string{"no-such-connection"}
		for _, c2 := range []struct {
			name  string
			in    PushInput
			code  string
			field string
		}{
			{"the planned state", PushInput{State: planned.State}, domain.EConflict, "state"},
			{"the planned state with its commit", PushInput{State: planned.State, Commit: planned.Commit}, domain.EConflict, "state"},
			{"the new state with an old commit", PushInput{State: now.State, Commit: "0123456789abcdef0123456789abcdef01234567"}, domain.EConflict, "commit"},
			{"neither", PushInput{}, domain.EInvalid, "commit"},
			// Past the guard, the connection is looked for.
			{"the new state", PushInput{State: now.State}, domain.ENotFound, ""},
			{"the commit alone", PushInput{Commit: planned.Commit}, domain.ENotFound, ""},
		} {
			c2.in.ConnectionIDs = nowhere
			_, err := env.svc.ApplyPush(ctx, env.owner, c.Source.ID, c2.in)
			var de *domain.Error
			if domain.ErrorCode(err) != c2.code || c2.field != "" && (!errors.As(err, &de) || de.Field != c2.field) {
				t.Errorf("%s: %v, want %s on %q", c2.name, err, c2.code, c2.field)
			}
		}
	})
}
