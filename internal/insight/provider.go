// Package insight turns what SES reports into what a sender can act on:
// the mailbox provider behind a recipient domain, and a plain explanation of
// a bounce with what to do about it. Both are tables in code, so that they
// are reviewed and tested like code.
package insight

import (
	"regexp"
	"strings"
)

// Provider is a mailbox provider that recipient domains are grouped into.
type Provider string

// The providers SendOps groups recipient domains into, and Other for the
// rest (including company domains, whose provider a domain name alone does
// not reveal).
const (
	Google    Provider = "Gmail / Google Workspace"
	Microsoft Provider = "Outlook / Hotmail / Microsoft 365"
	Yahoo     Provider = "Yahoo / AOL"
	Apple     Provider = "Apple iCloud"
	Proton    Provider = "Proton"
	GMX       Provider = "GMX / Web.de"
	Yandex    Provider = "Yandex"
	MailRu    Provider = "Mail.ru"
	QQNetEase Provider = "QQ / NetEase"
	Other     Provider = "Other"
)

// Providers lists every provider in the order breakdowns show them.
var Providers = []Provider{Google, Microsoft, Yahoo, Apple, Proton, GMX, Yandex, MailRu, QQNetEase, Other}

// Slug is a short, URL-safe name of the provider ("google", "other").
func (p Provider) Slug() string { return providerSlugs[p] }

var providerSlugs = map[Provider]string{
	Google: "google", Microsoft: "microsoft", Yahoo: "yahoo", Apple: "apple", Proton: "proton",
	GMX: "gmx", Yandex: "yandex", MailRu: "mailru", QQNetEase: "qq-netease", Other: "other",
}

// ProviderBySlug returns the provider a slug names.
func ProviderBySlug(slug string) (Provider, bool) {
	for p, s := range providerSlugs {
		if s == slug {
			return p, true
		}
	}
	return "", false
}

// domainProviders maps the consumer domains each provider hosts.
var domainProviders = map[string]Provider{}

// familyProviders maps a brand whose domain exists under many country
// suffixes (yahoo.co.uk, hotmail.fr, gmx.at) to its provider.
var familyProviders = map[string]Provider{
	"yahoo": Yahoo, "hotmail": Microsoft, "outlook": Microsoft, "live": Microsoft, "windowslive": Microsoft,
	"gmx": GMX, "yandex": Yandex,
}

// countrySuffix is what may follow a family brand: com, a country code, or
// co./com. and a country code (yahoo.co.uk, hotmail.fr, yahoo.com.br).
var countrySuffix = regexp.MustCompile(`^(com|(com?\.)?[a-z]{2})$`)

func init() {
	for p, domains := range map[Provider][]string{
		Google:    {"gmail.com", "googlemail.com", "google.com"},
		Microsoft: {"msn.com", "passport.com", "outlook.com", "hotmail.com", "live.com"},
		Yahoo:     {"ymail.com", "rocketmail.com", "aol.com", "aol.co.uk", "aim.com", "verizon.net", "yahoo.com"},
		Apple:     {"icloud.com", "me.com", "mac.com"},
		Proton:    {"proton.me", "protonmail.com", "protonmail.ch", "pm.me"},
		GMX:       {"web.de", "gmx.de", "gmx.net", "gmx.com", "mail.com"},
		Yandex:    {"ya.ru", "yandex.ru", "yandex.com"},
		MailRu:    {"mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "my.com"},
		QQNetEase: {"qq.com", "vip.qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "vip.163.com", "vip.126.com", "188.com"},
	} {
		for _, d := range domains {
			domainProviders[d] = p
		}
	}
}

// ProviderOf returns the mailbox provider of a recipient domain (or of an
// address), Other when the table does not know it.
func ProviderOf(domain string) Provider {
	if at := strings.LastIndexByte(domain, '@'); at >= 0 {
		domain = domain[at+1:]
	}
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	if p, ok := domainProviders[d]; ok {
		return p
	}
	if brand, rest, ok := strings.Cut(d, "."); ok {
		if p, ok := familyProviders[brand]; ok && countrySuffix.MatchString(rest) {
			return p
		}
	}
	return Other
}
