package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"sendops/internal/testutil/smtpsink"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

const chromiumPath = "/usr/bin/chromium"

// cspRecorder keeps every Content-Security-Policy violation of a page in
// window.__csp. Scripts added through the DevTools protocol are not subject
// to the page's policy, so this works under script-src 'self'.
const cspRecorder = `window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
	window.__csp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)'));
});`

// chromeTab drives one headless Chromium tab against the app.
type chromeTab struct {
	t        *testing.T
	tab      context.Context // the tab; it lives until the test ends
	deadline time.Time       // the whole test's time limit
	app      *testapp.App
	shots    int // screenshots taken
}

// startChrome starts Chromium with a fresh profile. Without Chromium the
// test is skipped, or fails under CI=true.
func startChrome(t *testing.T, app *testapp.App, limit time.Duration) *chromeTab {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests must run in CI, but %s is missing: %v", chromiumPath, err)
		}
		t.Skipf("browser test skipped: %s is missing (apt-get install chromium)", chromiumPath)
	}
	profile := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile),
	)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	// Cleanups run last-in first-out: Chromium exits before its profile
	// directory is removed.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &chromeTab{t: t, tab: tab, deadline: time.Now().Add(limit), app: app}
	// The first action starts the browser, with a context that has no
	// deadline: a deadline there would kill the browser before a failure
	// could be recorded.
	if err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder})
		return err
	})); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return b
}

// shot saves a screenshot of the page as NAME.png in the directory named by
// SENDOPS_SCREENSHOTS, when it is set: a way to look at the pages.
func (b *chromeTab) shot(name string) {
	dir := os.Getenv("SENDOPS_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := b.ctx()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// ctx returns a context of the tab that ends at the test's deadline.
func (b *chromeTab) ctx() (context.Context, context.CancelFunc) {
	return context.WithDeadline(b.tab, b.deadline)
}

// do performs actions, and on failure records the page and fails the test.
func (b *chromeTab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.ctx()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", step, err)
	}
}

// tabValue runs an action that returns a value, failing the test as do does.
func tabValue[T any](b *chromeTab, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := b.ctx()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail("%s: %v", step, err)
	}
	return v
}

// fail records the page (see record) and fails the test now.
func (b *chromeTab) fail(format string, args ...any) {
	b.t.Helper()
	b.record()
	b.t.Fatalf(format, args...)
}

// errorf records the page and marks the test failed, letting it go on: for
// a fault that does not stop the user from carrying on.
func (b *chromeTab) errorf(format string, args ...any) {
	b.t.Helper()
	b.record()
	b.t.Errorf(format, args...)
}

// record saves a screenshot and logs the page's address and text.
func (b *chromeTab) record() {
	b.t.Helper()
	// The test's deadline may have passed; give the evidence its own time.
	ctx, cancel := context.WithTimeout(b.tab, 10*time.Second)
	defer cancel()
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Logf("could not read the address: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if err != nil {
		b.t.Logf("could not read the page: %v", err)
	}
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		b.t.Logf("could not take a screenshot: %v", err)
	} else {
		b.shots++
		path := filepath.Join(b.t.TempDir(), fmt.Sprintf("failure-%d.png", b.shots))
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			b.t.Logf("could not save the screenshot: %v", err)
		} else {
			b.t.Logf("screenshot: %s", path)
		}
	}
	b.t.Logf("page %s shows:\n%s", url, text)
}

// page returns the current address and the text the page shows.
func (b *chromeTab) page() (url, text string) {
	b.t.Helper()
	url = tabValue(b, "read the address", chromedp.Location())
	text = tabValue(b, "read the page", chromedp.Text(chromedp.CSS("body")))
	return url, text
}

// expect checks that the browser is at path (an exact path, or a prefix
// when it ends with "*"; a #fragment is ignored) and that the page shows
// every one of texts.
func (b *chromeTab) expect(path string, texts ...string) {
	b.t.Helper()
	url, text := b.page()
	url, _, _ = strings.Cut(url, "#")
	want := b.app.URL + path
	if prefix, ok := strings.CutSuffix(want, "*"); ok {
		if !strings.HasPrefix(url, prefix) {
			b.fail("at %s, want an address starting %s", url, prefix)
		}
	} else if url != want {
		b.fail("at %s, want %s", url, want)
	}
	for _, s := range texts {
		if !strings.Contains(text, s) {
			b.fail("page %s does not show %q", url, s)
		}
	}
}

// noCSPViolations checks that the current page broke none of its
// Content-Security-Policy.
func (b *chromeTab) noCSPViolations() {
	b.t.Helper()
	if v := tabValue(b, "read CSP violations", chromedp.Evaluate[[]string](`window.__csp || []`)); len(v) > 0 {
		b.fail("the page broke its Content-Security-Policy: %q", v)
	}
}

// signOut clicks "Sign out" in the top bar and waits for the sign-in page.
func (b *chromeTab) signOut() {
	b.t.Helper()
	b.do("sign out",
		chromedp.Click(`//header//button[normalize-space()="Sign out"]`),
		chromedp.WaitVisible(chromedp.CSS(`#f-email`)),
	)
	b.expect("/login", "You are signed out.")
}

// totpNow returns the current code for secret and its 30-second step.
func totpNow(t *testing.T, secret string) (string, int64) {
	t.Helper()
	now := time.Now()
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatalf("TOTP code for %q: %v", secret, err)
	}
	return code, now.Unix() / 30
}

// totpNext waits for the step after used to begin (a code is accepted
// once per step) and returns its code.
func totpNext(t *testing.T, secret string, used int64) string {
	t.Helper()
	for time.Now().Unix()/30 <= used {
		time.Sleep(time.Until(time.Unix((used+1)*30, 0)) + 50*time.Millisecond)
	}
	code, _ := totpNow(t, secret)
	return code
}

// TestBrowserSignupMFAAPIKey walks a new user through the UI in a real
// browser: sign up, verify the address, turn on two-factor authentication,
// sign in again with a code, make an API key and use it, sign out.
func TestBrowserSignupMFAAPIKey(t *testing.T) {
	app := testapp.Start(t, testdb.SQLite(t))
	b := startChrome(t, app, 90*time.Second)
	const (
		name     = "Ada Lovelace"
		email    = "ada@example.com"
		password = "correct horse battery"
	)
	overviewTab := chromedp.CSS(`nav.mainnav a[aria-current="page"][href="/overview"]`)

	// 1. Sign up: the new account lands on the overview, asked to verify.
	b.do("sign up",
		chromedp.Navigate(app.URL+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`#f-name`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), name),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
		chromedp.Click(`//button[normalize-space()="Create account"]`),
		chromedp.WaitVisible(chromedp.CSS(`.banner.warn`)),
	)
	b.shot("overview")
	b.expect("/overview", "Welcome to SendOps", "Verify your email address: we sent a link to "+email, name)
	b.noCSPViolations()

	// 2. Open the link of the verification email.
	msg := app.Mail.Wait(t, email, "Verify your email address", 10*time.Second)
	link := smtpsink.Link(t, msg.Text, app.URL+"/verify/")
	b.do("open the verification link",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`h1`)),
	)
	b.expect(strings.TrimPrefix(link, app.URL), "Email address verified", email+" is verified")
	if _, text := b.page(); strings.Contains(text, "Verify your email address") {
		b.errorf("the page saying %s is verified still asks to verify it", email)
	}
	b.do("back to the overview",
		chromedp.Navigate(app.URL+"/overview"),
		chromedp.WaitVisible(overviewTab),
	)
	if _, text := b.page(); strings.Contains(text, "Verify your email address") {
		b.fail("the overview still asks to verify the address after it was verified")
	}

	// 3. Turn on two-factor authentication with a code from the shown key.
	setup := `//button[normalize-space()="Set up two-factor authentication"]`
	b.do("start two-factor setup",
		chromedp.Navigate(app.URL+"/settings/security"),
		chromedp.WaitVisible(setup),
		chromedp.Click(setup),
		chromedp.WaitVisible(chromedp.CSS(`#totp-secret`)),
	)
	b.shot("mfa-setup")
	b.expect("/settings/security", "Scan this code with an authenticator app")
	b.noCSPViolations()
	// decode() settles once the image has loaded, and fails for a broken one.
	qrShown := tabValue(b, "look at the QR code", chromedp.Evaluate[bool](`(() => {
		const img = document.querySelector('img[alt="QR code of your two-factor secret"]');
		return img ? img.decode().then(() => img.naturalWidth > 0, () => false) : false;
	})()`, chromedp.EvalAwaitPromise))
	if !qrShown {
		b.errorf("the QR code of the two-factor secret is not shown (missing or broken image)")
	}
	secret := strings.TrimSpace(tabValue(b, "read the key", chromedp.Text(chromedp.CSS(`#totp-secret`))))
	code, step := totpNow(t, secret)
	b.do("turn on two-factor authentication",
		chromedp.SendKeys(chromedp.CSS(`#f-code`), code),
		chromedp.Click(`//button[normalize-space()="Turn on"]`),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)),
	)
	b.shot("recovery-codes")
	recovery := tabValue(b, "read the recovery codes",
		chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#recovery-codes li'), li => li.innerText.trim())`))
	if len(recovery) != 10 {
		b.fail("the page shows %d recovery codes, want 10: %q", len(recovery), recovery)
	}
	for _, rc := range recovery {
		if rc == "" {
			b.fail("an empty recovery code is shown: %q", recovery)
		}
	}
	b.expect("/settings/*", "Save these recovery codes now.", "On since", "Recovery codes left: 10")
	_, text := b.page()
	if strings.Contains(text, "Set up two-factor authentication") || strings.Contains(text, secret) {
		b.fail("after turning two-factor authentication on, the page still offers the setup or shows the key")
	}
	if !strings.Contains(text, "Two-factor authentication is on.") {
		b.errorf("turning two-factor authentication on does not say so on the page (flash message)")
	}

	// 4. Sign out and in again: the password alone is not enough.
	b.signOut()
	b.do("sign in with the password",
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
		chromedp.Click(`//button[normalize-space()="Sign in"]`),
		chromedp.WaitVisible(`//h1[normalize-space()="Two-factor authentication"]`),
	)
	b.expect("/login/mfa*", "Type the 6-digit code from your authenticator app")
	code = totpNext(t, secret, step)
	b.do("sign in with a code",
		chromedp.SendKeys(chromedp.CSS(`#f-code`), code),
		chromedp.Click(`//button[normalize-space()="Verify"]`),
		chromedp.WaitVisible(overviewTab),
	)
	b.expect("/overview", name)

	// 5. Make an API key with the write scope and use it.
	const keyName = "CI deploys"
	b.do("make an API key",
		chromedp.Navigate(app.URL+"/settings/apikeys"),
		chromedp.WaitVisible(chromedp.CSS(`#f-name`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), keyName),
		chromedp.Click(chromedp.CSS(`#s-write`)),
		chromedp.Click(`//button[normalize-space()="Create key"]`),
		chromedp.WaitVisible(chromedp.CSS(`#new-api-key`)),
	)
	b.shot("apikeys")
	b.expect("/settings/apikeys", "Copy your new key now.")
	key := strings.TrimSpace(tabValue(b, "read the new key", chromedp.Text(chromedp.CSS(`#new-api-key`))))
	if !strings.HasPrefix(key, "sk_") || len(key) < 20 {
		b.fail("the new key %q does not look like an API key (sk_…)", key)
	}
	orgName := strings.TrimSpace(tabValue(b, "read the organisation", chromedp.Text(chromedp.CSS(`.orgswitch summary`))))

	ctx, cancel := context.WithDeadline(context.Background(), b.deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", app.URL+"/api/v1/org", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var org struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	err = json.NewDecoder(resp.Body).Decode(&org)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/org with the new key: status %d, decode error %v", resp.StatusCode, err)
	}
	if org.ID == "" || org.Name != orgName {
		t.Fatalf("GET /api/v1/org = id %q name %q, want an id and the name the UI shows, %q", org.ID, org.Name, orgName)
	}

	row := tabValue(b, "read the keys table", chromedp.Text(`//table//tr[td[normalize-space()="`+keyName+`"]]`))
	prefix := key[:len("sk_")+8]
	if !strings.Contains(row, prefix) || !strings.Contains(row, "read, write") || strings.Contains(row, key) {
		b.fail("the keys table row %q should show the prefix %q and the scopes \"read, write\", never the whole key", row, prefix)
	}
	b.noCSPViolations()

	// 6. Signed out, a settings page sends the visitor to sign in.
	b.signOut()
	b.do("visit a settings page signed out",
		chromedp.Navigate(app.URL+"/settings/profile"),
		chromedp.WaitVisible(chromedp.CSS(`#f-email`)),
	)
	b.expect("/login*", "Sign in")
}
