package insight

import (
	"strings"
	"testing"
)

func TestProviderOf(t *testing.T) {
	for _, c := range []struct {
		domain string
		want   Provider
	}{
		{"gmail.com", Google},
		{"GoogleMail.com.", Google},
		{"bob@gmail.com", Google},
		{"outlook.com", Microsoft},
		{"hotmail.co.uk", Microsoft},
		{"hotmail.fr", Microsoft},
		{"live.com.au", Microsoft},
		{"msn.com", Microsoft},
		{"yahoo.com", Yahoo},
		{"yahoo.co.jp", Yahoo},
		{"yahoo.com.br", Yahoo},
		{"aol.com", Yahoo},
		{"ymail.com", Yahoo},
		{"icloud.com", Apple},
		{"me.com", Apple},
		{"mac.com", Apple},
		{"proton.me", Proton},
		{"pm.me", Proton},
		{"protonmail.com", Proton},
		{"web.de", GMX},
		{"gmx.at", GMX},
		{"gmx.net", GMX},
		{"yandex.ru", Yandex},
		{"yandex.com.tr", Yandex},
		{"ya.ru", Yandex},
		{"mail.ru", MailRu},
		{"bk.ru", MailRu},
		{"qq.com", QQNetEase},
		{"foxmail.com", QQNetEase},
		{"163.com", QQNetEase},
		{"126.com", QQNetEase},
		// Not providers' consumer domains.
		{"example.org", Other},
		{"live.example.com", Other},
		{"live.net", Other},
		{"yahoo.example", Other},
		{"notgmail.com", Other},
		{"mail.gmail.com.evil.test", Other},
		{"", Other},
	} {
		if got := ProviderOf(c.domain); got != c.want {
			t.Errorf("ProviderOf(%q) = %q, want %q", c.domain, got, c.want)
		}
	}
}

func TestProviderSlugs(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Providers {
		s := p.Slug()
		if s == "" || seen[s] {
			t.Fatalf("provider %q: slug %q empty or repeated", p, s)
		}
		seen[s] = true
		if back, ok := ProviderBySlug(s); !ok || back != p {
			t.Fatalf("slug %q gives %q", s, back)
		}
	}
	if _, ok := ProviderBySlug("nope"); ok {
		t.Fatal("an unknown slug was found")
	}
}

func TestStatusCode(t *testing.T) {
	for in, want := range map[string]string{
		"smtp; 550 5.1.1 user unknown":                                  "5.1.1",
		"smtp; 550-5.7.26 Unauthenticated email from example.com":       "5.7.26",
		"smtp; 550 5.7.509 Access denied, sending domain does not pass": "5.7.509",
		"smtp; 452 4.2.2 The email account is over quota":               "4.2.2",
		"smtp; 554 4.4.7 Message expired":                               "4.4.7",
		"smtp; 550 user unknown":                                        "",
		"version 1.2.3.4 of the server":                                 "",
		"":                                                              "",
		"5.1.10":                                                        "5.1.10",
	} {
		if got := StatusCode(in); got != want {
			t.Errorf("StatusCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExplainBounce(t *testing.T) {
	for _, c := range []struct {
		typ, sub, diag string
		key, title     string // title: a word the title must hold
	}{
		{"Permanent", "General", "smtp; 550 5.1.1 user unknown", "5.1.1", "does not exist"},
		{"Permanent", "General", "smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "5.1.10", "not found"},
		{"Permanent", "General", "smtp; 550 5.2.1 The email account that you tried to reach is disabled", "5.2.1", "disabled"},
		{"Permanent", "General", "smtp; 552 5.2.2 mailbox full", "5.2.2", "full"},
		{"Transient", "MailboxFull", "smtp; 452 4.2.2 over quota", "4.2.2", "full"},
		{"Permanent", "General", "smtp; 550 5.4.1 Recipient address rejected: Access denied", "5.4.1", "refused the recipient"},
		{"Permanent", "General", "smtp; 550 5.7.1 Message rejected as spam", "5.7.1", "policy"},
		{"Permanent", "General", "smtp; 550-5.7.26 This mail has been blocked because the sender is unauthenticated", "5.7.26", "authentication"},
		{"Permanent", "General", "smtp; 550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification", "5.7.509", "DMARC"},
		{"Permanent", "General", "smtp; 550 5.7.606 Access denied, banned sending IP [1.2.3.4]", "5.7.x", "Blocked"},
		{"Permanent", "General", "smtp; 550 5.7.515 Access denied, sending domain does not meet the required authentication level", "5.7.515", "authenticated"},
		{"Transient", "General", "smtp; 421 4.7.0 Try again later, closing connection", "4.7.x", "Deferred"},
		{"Transient", "General", "smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes", "4.4.7", "expired"},
		{"Permanent", "OnAccountSuppressionList", "Amazon SES did not send the message to this address because it is on the suppression list for your account.", "OnAccountSuppressionList", "suppression list"},
		{"Permanent", "Suppressed", "smtp; 550 5.1.1 user unknown", "Suppressed", "global suppression"},
		{"Transient", "MessageTooLarge", "", "MessageTooLarge", "too big"},
		{"Transient", "General", "", "Transient", "without a reason"},
		{"Permanent", "General", "smtp; 550 5.9.9 odd", "5.x.x", "Permanently"},
		{"Undetermined", "Undetermined", "", "Undetermined", "could not tell"},
	} {
		a := ExplainBounce(c.typ, c.sub, c.diag)
		if a.Key != c.key || !strings.Contains(a.Title, c.title) || a.Explanation == "" || a.Action == "" {
			t.Errorf("ExplainBounce(%s/%s, %q) = %+v, want key %q and a title with %q", c.typ, c.sub, c.diag, a, c.key, c.title)
		}
	}
}
