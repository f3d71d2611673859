package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/sesevent"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// TestBrowserSearch answers "did the mail to bob@ arrive?" in a real
// browser: search the address, open its message, read the bounce
// explained, download the search as CSV; then the overview draws its
// charts from the same events.
func TestBrowserSearch(t *testing.T) {
	app := testapp.Start(t, testdb.SQLite(t))
	ctx := context.Background()
	u, org, _ := owner(t, app, "ops@example.com")
	actor := &domain.Actor{OrgID: org.ID, UserID: u.ID, Email: u.Email, Role: domain.RoleOwner}
	conn, _, err := app.Service.CreateConnection(ctx, actor, service.ConnectionInput{Name: "prod", AWSAccountID: "123456789012", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	// Events of the last hours: bob's reset mail bounced, the others arrived.
	now := time.Now().UTC().Add(-2 * time.Hour)
	ts := func(d time.Duration) string { return now.Add(d).Format("2006-01-02T15:04:05.000Z") }
	mail := func(id, to, subject string) string {
		return fmt.Sprintf(`"mail":{"timestamp":%q,"messageId":%q,"source":"shop@shop.example","destination":[%q],"commonHeaders":{"subject":%q}}`, ts(0), id, to, subject)
	}
	var events []string
	for i, to := range []string{"ann@example.org", "cid@gmail.com", "dan@outlook.com"} {
		id := fmt.Sprintf("0100019a-ok-%d", i)
		events = append(events,
			`{"eventType":"Send","send":{},`+mail(id, to, "Your order")+`}`,
			fmt.Sprintf(`{"eventType":"Delivery","delivery":{"timestamp":%q,"recipients":[%q],"smtpResponse":"250 ok"},`, ts(time.Minute), to)+mail(id, to, "Your order")+`}`)
	}
	const bounced = "0100019a-bob-reset"
	events = append(events,
		`{"eventType":"Send","send":{},`+mail(bounced, "bob@example.com", "Reset your password")+`}`,
		fmt.Sprintf(`{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","timestamp":%q,"feedbackId":"fb-1","reportingMTA":"dsn; a1-2.smtp-out.amazonses.com","bouncedRecipients":[{"emailAddress":"bob@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]},`, ts(time.Minute))+mail(bounced, "bob@example.com", "Reset your password")+`}`)
	for _, raw := range events {
		ev, err := sesevent.Parse([]byte(raw))
		if err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		if _, err := app.Ingest.Write(ctx, conn, ev); err != nil {
			t.Fatal(err)
		}
	}

	b := startChrome(t, app, 120*time.Second)
	b.do("sign in",
		chromedp.Navigate(app.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#f-email`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "ops@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password-ops@example.com"),
		chromedp.Click(`//button[normalize-space()="Sign in"]`),
		chromedp.WaitVisible(chromedp.CSS(`nav.mainnav`)),
	)

	// 1. Search the address: one row, bounced.
	b.do("search bob",
		chromedp.Navigate(app.URL+"/messages"),
		chromedp.WaitVisible(chromedp.CSS(`#f-recipient`)),
		chromedp.SendKeys(chromedp.CSS(`#f-recipient`), "Bob@Example.com"),
		chromedp.Click(`//button[normalize-space()="Search"]`),
		// The answer's form holds the address as an attribute; the page
		// before it (every message) had tr.hit rows too.
		chromedp.WaitVisible(chromedp.CSS(`#f-recipient[value="bob@example.com" i]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr.hit`)),
	)
	if n := tabValue(b, "count rows", chromedp.Evaluate[int](`document.querySelectorAll('tr.hit').length`)); n != 1 {
		b.fail("searching bob@example.com shows %d rows, want 1", n)
	}
	_, text := b.page()
	if !strings.Contains(text, "bob@example.com") || !strings.Contains(text, "Reset your password") || strings.Contains(text, "ann@example.org") {
		b.fail("the search result is not bob's message alone:\n%s", text)
	}
	if st := tabValue(b, "row status", chromedp.Evaluate[string](`document.querySelector('tr.hit').dataset.status`)); !strings.Contains(st, "bounce") {
		b.fail("bob's row has status %q, want a bounce", st)
	}
	b.noCSPViolations()

	// 2. The CSV download of this search holds bob's row under a header.
	csv := tabValue(b, "download CSV", chromedp.Evaluate[string](
		`fetch(document.querySelector('a[href^="/messages/export"]').href).then(r => r.text())`,
		chromedp.EvalAwaitPromise))
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "recipient") || !strings.Contains(lines[1], "bob@example.com") || !strings.Contains(lines[1], bounced) {
		b.fail("the CSV of the search:\n%s", csv)
	}

	// 3. Open the message: the bounce is explained in plain words.
	b.do("open bob's message",
		chromedp.Click(`//tr[contains(@class,"hit")]//a`),
		chromedp.WaitVisible(chromedp.CSS(`li.event[data-type="Bounce"]`)),
	)
	b.expect("/messages/"+bounced, "Reset your password", "5.1.1", "The address does not exist", "Remove the address from your lists", "smtp; 550 5.1.1 user unknown")
	if n := tabValue(b, "raw events", chromedp.Evaluate[int](`document.querySelectorAll('details.raw').length`)); n != 2 {
		b.fail("the message page shows %d raw events, want 2 (Send and Bounce)", n)
	}
	b.noCSPViolations()

	// 4. The overview draws its charts, with data, without scripts.
	b.do("open the overview",
		chromedp.Navigate(app.URL+"/overview?range=24h"),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)),
	)
	if n := tabValue(b, "charts", chromedp.Evaluate[int](`document.querySelectorAll('svg.chart title').length`)); n < 1 {
		b.fail("the overview has no titled chart")
	}
	if n := tabValue(b, "lines", chromedp.Evaluate[int](`document.querySelectorAll('svg.chart polyline, svg.chart circle').length`)); n < 1 {
		b.fail("the overview's charts draw no data")
	}
	_, text = b.page()
	if !strings.Contains(text, "4") {
		b.fail("the overview does not show the 4 messages sent:\n%s", text)
	}
	b.noCSPViolations()
	b.shot("overview")
}
