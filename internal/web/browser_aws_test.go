package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/chromedp/chromedp"

	"sendops/internal/awsconn"
	"sendops/internal/testutil/testdb"
)

// TestBrowserConnectAWS walks an owner through connecting an AWS account
// in a real browser, against sesim: add a role connection whose trust
// policy names the wrong ExternalId and read why it fails, fix the role,
// add it, set up event publishing, add a domain identity and see its DNS
// records checked (one published, one wrong, the rest missing).
func TestBrowserConnectAWS(t *testing.T) {
	v, dns := newSESEnv(t, testdb.Engine{Name: "sqlite", DSN: testdb.SQLite(t)})
	v.invokeRole()
	b := startChrome(t, v.App, 120*time.Second)
	const email, password = "aws@example.com", "password-aws@example.com"

	b.do("sign in",
		chromedp.Navigate(v.App.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#f-email`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
		chromedp.Click(`//button[normalize-space()="Sign in"]`),
		chromedp.WaitVisible(chromedp.CSS(`nav.mainnav`)),
	)

	// 1. The Connections page shows the organisation's ExternalId and the
	// policy to give the role.
	b.do("open connections",
		chromedp.Navigate(v.App.URL+"/connections"),
		chromedp.WaitVisible(chromedp.CSS(`#f-role_arn`)),
	)
	ext := tabValue(b, "read the ExternalId", chromedp.Text(chromedp.CSS(`#external-id`)))
	if ext != v.externalID(t) {
		b.fail("the page shows ExternalId %q, the API %q", ext, v.externalID(t))
	}
	b.expect("/connections", "IAM policy", v.Principal)
	b.noCSPViolations()

	// 2. A role that trusts another ExternalId: refused, and the page says
	// which ExternalId the role must require; what was typed stays.
	role := v.Sim.AddRole(v.Customer, "SendOps", v.Principal, "sendops-copied-from-elsewhere", awsconn.PolicyActions())
	b.do("add the connection",
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Production"),
		chromedp.SendKeys(chromedp.CSS(`#f-aws_account_id`), v.Customer),
		chromedp.SendKeys(chromedp.CSS(`#f-region`), "us-east-1"),
		chromedp.SendKeys(chromedp.CSS(`#f-role_arn`), role),
		chromedp.SendKeys(chromedp.CSS(`#f-endpoint`), v.SimURL),
		chromedp.Click(`//button[normalize-space()="Add"]`),
		chromedp.WaitVisible(chromedp.CSS(`.fielderror`)),
	)
	_, text := b.page()
	if !strings.Contains(text, "ExternalId") || !strings.Contains(text, ext) || !strings.Contains(text, "cannot assume") {
		b.fail("a wrong ExternalId is not explained:\n%s", text)
	}
	if got := tabValue(b, "read the role field", chromedp.Value(chromedp.CSS(`#f-role_arn`))); got != role {
		b.fail("the role ARN typed was lost: %q", got)
	}
	b.noCSPViolations()

	// 3. Fix the role's trust policy and send the form again.
	v.Sim.AddRole(v.Customer, "SendOps", v.Principal, ext, awsconn.PolicyActions())
	b.do("add the connection again",
		chromedp.Click(`//button[normalize-space()="Add"]`),
		chromedp.WaitVisible(chromedp.CSS(`#ingest-secret`)),
	)
	b.expect("/connections", "Production", role)

	// 4. Its page: set up event publishing, every piece then in place.
	b.do("open the connection",
		chromedp.Click(`//table//a[normalize-space()="Production"]`),
		chromedp.WaitVisible(chromedp.CSS(`#pipeline`)),
	)
	connURL, _ := b.page()
	connPath := strings.TrimPrefix(connURL, v.App.URL)
	if !strings.HasPrefix(connPath, "/connections/") {
		b.fail("the connection's page is at %s", connURL)
	}
	b.do("set up event publishing",
		chromedp.Click(`//button[normalize-space()="Set up event publishing"]`),
		chromedp.WaitVisible(`//*[@id="pipeline-summary"][contains(., "Every piece is in place")]`),
	)
	if n := tabValue(b, "count pieces", chromedp.Evaluate[int](`document.querySelectorAll('#pipeline tr[id^="piece-"]').length`)); n < 6 {
		b.fail("the status shows %d pieces, want the configuration set, event destination, connection, API destination, rule and target", n)
	}
	if bad := tabValue(b, "pieces not present", chromedp.Evaluate[int](`document.querySelectorAll('#pipeline .status:not(.status-present)').length`)); bad != 0 {
		b.fail("%d pieces are not present after setting up", bad)
	}
	b.noCSPViolations()

	// 5. Add a domain identity; publish one DKIM record right and one
	// wrong; the identity's page shows each record's state.
	b.do("open identities",
		chromedp.Navigate(v.App.URL+connPath+"/identities"),
		chromedp.WaitVisible(chromedp.CSS(`#f-identity`)),
		chromedp.SendKeys(chromedp.CSS(`#f-identity`), "shop.example.com"),
		chromedp.Click(`//button[normalize-space()="Add"]`),
		chromedp.WaitVisible(chromedp.CSS(`table.dns`)),
	)
	ses, _ := v.customerClients(t)
	id, err := ses.GetEmailIdentity(context.Background(), &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("shop.example.com")})
	if err != nil || id.DkimAttributes == nil || len(id.DkimAttributes.Tokens) != 3 {
		t.Fatalf("the identity in SES: %v %+v", err, id)
	}
	tok := id.DkimAttributes.Tokens
	dns.CNAME(fmt.Sprintf("%s._domainkey.shop.example.com", tok[0]), tok[0]+".dkim.amazonses.com")
	dns.CNAME(fmt.Sprintf("%s._domainkey.shop.example.com", tok[1]), "somewhere-else.example.net")
	b.do("check DNS again", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`table.dns`)))
	count := func(status string) int {
		return tabValue(b, "count "+status, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll('table.dns tr.record[data-status=%q]').length`, status)))
	}
	if p, w, m := count("published"), count("wrong"), count("missing"); p != 1 || w != 1 || m < 2 {
		b.fail("DNS records: %d published, %d wrong, %d missing; want 1, 1 and the rest (DKIM, DMARC) missing", p, w, m)
	}
	b.expect(connPath+"/identities/*", "DNS records", tok[0]+"._domainkey.shop.example.com", "somewhere-else.example.net")
	b.noCSPViolations()
	b.shot("connect-aws-identity")
}
