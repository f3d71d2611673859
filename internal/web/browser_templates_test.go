package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sendops/internal/cli"
	"sendops/internal/testutil/testdb"
)

// frameText returns the text of the body of the iframe sel once it shows
// want: from the frame's own target when Chrome runs it in its own
// process (a sandboxed frame may be), else from the page's document.
func frameText(b *chromeTab, sel, urlPart, want string) string {
	b.t.Helper()
	ctx, cancel := b.ctx()
	defer cancel()
	var last string
	for time.Now().Before(b.deadline) {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			b.fail("list targets: %v", err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.Contains(info.URL, urlPart) {
				fctx, fcancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
				tctx, tcancel := context.WithTimeout(fctx, 2*time.Second)
				text, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("body")))
				tcancel()
				fcancel()
				if err == nil {
					last = text
				}
			}
		}
		if !strings.Contains(last, want) {
			nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(sel)))
			if err == nil && len(nodes) > 0 {
				tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
				if text, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("body"), chromedp.FromNode(nodes[0]))); err == nil {
					last = text
				}
				tcancel()
			}
		}
		if strings.Contains(last, want) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.fail("the frame %s does not show %q; it shows %q", sel, want, last)
	return ""
}

// frameShot saves, like shot, a screenshot of the viewport scrolled to
// the frame sel: Chrome runs a sandboxed frame in its own process, and a
// full-page screenshot leaves such a frame blank.
func frameShot(b *chromeTab, sel, name string) {
	dir := os.Getenv("SENDOPS_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := b.ctx()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.ScrollIntoView(chromedp.CSS(sel))); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// TestBrowserTemplates walks a developer through templates as code in a
// real browser, against a real Git repository and sesim: add a
// repository, map it with a rule (preview, then save), see a template's
// lint error, preview a template with its sample data (the HTML in a
// sandboxed frame), push to a connection, and see no drift.
func TestBrowserTemplates(t *testing.T) {
	v := newAWSEnv(t, testdb.Engine{Name: "sqlite", DSN: testdb.SQLite(t)}, func(p *cli.Program) { p.GitAllowFile = true })
	conn, _ := v.roleConnection(t, "Production")
	repo := emailRepo(t)
	b := startChrome(t, v.App, 120*time.Second)

	b.do("sign in",
		chromedp.Navigate(v.App.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#f-email`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "aws@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password-aws@example.com"),
		chromedp.Click(`//button[normalize-space()="Sign in"]`),
		chromedp.WaitVisible(chromedp.CSS(`nav.mainnav`)),
	)

	// 1. Templates in the main navigation; add a repository.
	b.do("open templates",
		chromedp.Click(`//nav[@class="mainnav"]//a[normalize-space()="Templates"]`),
		chromedp.WaitVisible(`//a[normalize-space()="Add a repository"]`),
	)
	b.expect("/templates", "No template repository yet")
	b.do("open the form",
		chromedp.Click(`//a[normalize-space()="Add a repository"]`),
		chromedp.WaitVisible(chromedp.CSS(`#f-url`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Emails"),
		chromedp.SendKeys(chromedp.CSS(`#f-url`), repo.URL()),
		chromedp.Click(chromedp.CSS(`#mode-rules`)),
		chromedp.SendKeys(chromedp.CSS(`#rule-html-0`), "emails/**/*.html"),
		chromedp.SendKeys(chromedp.CSS(`#rule-name-0`), "{name}"),
	)
	b.shot("templates-add")

	// 2. Preview: the rule {name} maps two files to "welcome".
	b.do("preview the mapping",
		chromedp.Click(chromedp.CSS(`#preview-mapping`)),
		chromedp.WaitVisible(chromedp.CSS(`#mapping-preview`)),
	)
	b.expect("/templates/new", "A sync would fail", `template name "welcome" is also mapped from`)
	b.noCSPViolations()
	b.shot("templates-preview-collision")
	b.do("name by folder and preview again",
		chromedp.Clear(chromedp.CSS(`#rule-name-0`)),
		chromedp.SendKeys(chromedp.CSS(`#rule-name-0`), "{dir}-{name}"),
		chromedp.Click(chromedp.CSS(`#preview-mapping`)),
		chromedp.WaitVisible(chromedp.CSS(`#would-sync`)),
	)
	b.expect("/templates/new", "account-welcome", "billing-welcome", "billing-receipt", `rule "emails/**/*.html"`)
	if got := tabValue(b, "read the URL field", chromedp.Value(chromedp.CSS(`#f-url`))); got != repo.URL() {
		b.fail("the URL typed was lost: %q", got)
	}
	b.shot("templates-preview")

	// 3. Save: the webhook's secret once, the templates with their lint.
	b.do("save",
		chromedp.Click(chromedp.CSS(`#save-source`)),
		chromedp.WaitVisible(chromedp.CSS(`#webhook-secret-value`)),
	)
	b.expect("/templates/new", "Copy the secret now", "GitHub", "GitLab", "account-welcome")
	receipt := tabValue(b, "read the receipt's row", chromedp.Text(chromedp.CSS(`tr[data-template="billing-receipt"]`)))
	if !strings.Contains(receipt, "1 error") || !strings.Contains(receipt, "emails/billing/receipt.json:1:1") || !strings.Contains(receipt, "the data must be a JSON object") {
		b.fail("the receipt's lint error is not shown: %q", receipt)
	}
	b.noCSPViolations()
	b.shot("templates-source")

	// 4. A template's preview with the repository's sample data.
	b.do("open a template",
		chromedp.Click(`//a[normalize-space()="account-welcome"]`),
		chromedp.WaitVisible(chromedp.CSS(`#html-frame`)),
	)
	b.expect("/templates/*", "Welcome Ana", "Hello Ana, your plan: Pro.")
	if text := frameText(b, `#html-frame`, "/preview.html", "Hello Ana"); !strings.Contains(text, "Your plan: Pro.") {
		b.fail("the frame shows %q", text)
	}
	b.noCSPViolations()
	b.shot("templates-template")
	frameShot(b, `#html-frame`, "templates-template-frame")

	// 5. Push to the connection: the plan, then apply.
	srcURL := tabValue(b, "read the source link", chromedp.AttributeValue(chromedp.CSS(`.crumbs a:nth-of-type(2)`), "href")).Value
	b.do("open push",
		chromedp.Navigate(v.App.URL+srcURL),
		chromedp.WaitVisible(`//a[normalize-space()="Push to SES…"]`),
		chromedp.Click(`//a[normalize-space()="Push to SES…"]`),
		chromedp.WaitVisible(chromedp.CSS(`#plan`)),
		chromedp.Click(chromedp.CSS(`input[name="connection"][value="`+conn+`"]`)),
		chromedp.Click(chromedp.CSS(`#plan`)),
		chromedp.WaitVisible(chromedp.CSS(`#apply`)),
	)
	b.expect(srcURL+"/push*", "3 to create", "0 only in SES")
	b.shot("templates-plan")
	b.do("apply",
		chromedp.Click(chromedp.CSS(`#apply`)),
		chromedp.WaitVisible(chromedp.CSS(`#push-result`)),
	)
	b.expect(srcURL+"/push", "3 created", "0 updated")
	b.noCSPViolations()
	b.shot("templates-pushed")

	// 6. No drift.
	b.do("see drift",
		chromedp.Click(`//a[normalize-space()="See drift"]`),
		chromedp.WaitVisible(chromedp.CSS(`#drift-counts`)),
	)
	b.expect(srcURL+"/drift*", "No drift", "3 in sync", "0 changed")
	b.noCSPViolations()
	b.shot("templates-drift")

	// 7. SES's own rendering beside ours.
	b.do("compare with SES",
		chromedp.Navigate(v.App.URL+srcURL+"/t/account-welcome?connection="+conn),
		chromedp.WaitVisible(chromedp.CSS(`#ses-frame`)),
	)
	b.expect(srcURL+"/t/account-welcome*", "SES on Production")
	if text := frameText(b, `#ses-frame`, "/ses.html", "Hello Ana"); !strings.Contains(text, "Your plan: Pro.") {
		b.fail("SES's frame shows %q", text)
	}
	b.noCSPViolations()
	b.shot("templates-ses")
	frameShot(b, `#ses-frame`, "templates-ses-frame")

	// 8. A new commit, synced by hand: the history and the diff.
	repo.Commit(t, map[string]string{"emails/account/welcome.html": "---\nsubject: Welcome {{name}}\n---\n<h1>Hi {{name}}</h1>\n<p>Your plan: {{plan}}.</p>\n"},
		"Friendlier greeting", "Bea Writer <bea@example.com>")
	b.do("sync now",
		chromedp.Navigate(v.App.URL+srcURL),
		chromedp.WaitVisible(chromedp.CSS(`#sync-now`)),
		chromedp.Click(chromedp.CSS(`#sync-now`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	b.expect(srcURL, "Synced", "1 new version")
	b.do("open the history",
		chromedp.Click(`//a[normalize-space()="account-welcome"]`),
		chromedp.WaitVisible(`//nav[@class="tabs"]//a[normalize-space()="History"]`),
		chromedp.Click(`//nav[@class="tabs"]//a[normalize-space()="History"]`),
		chromedp.WaitVisible(chromedp.CSS(`table.diff`)),
	)
	b.expect(srcURL+"/t/account-welcome/history", "Friendlier greeting", "Bea Writer", "Add the emails")
	if n := tabValue(b, "count changed lines", chromedp.Evaluate[int](`document.querySelectorAll('table.diff tr.d-insert, table.diff tr.d-delete').length`)); n != 2 {
		b.fail("the diff shows %d changed lines, want 2", n)
	}
	b.noCSPViolations()
	b.shot("templates-history")
}
