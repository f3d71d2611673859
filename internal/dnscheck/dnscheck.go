// Package dnscheck says which DNS records an SES identity needs (Easy DKIM
// CNAMEs, a custom MAIL FROM domain's MX and SPF TXT, a DMARC
// recommendation) and checks, through a resolver the caller gives, whether
// each is published, missing or wrong, with the value found.
package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// Record is a DNS record an identity needs.
type Record struct {
	Purpose  string // "DKIM", "MAIL FROM MX", "MAIL FROM SPF", "DMARC"
	Type     string // CNAME, MX or TXT
	Name     string // fully qualified, without the final dot
	Value    string // what to publish; MX as "PRIORITY HOST"
	Required bool   // DMARC is recommended, the others are needed
}

// Expected returns the records to publish for a domain identity: one CNAME
// per Easy DKIM token; with a custom MAIL FROM domain, its MX to SES's
// feedback endpoint in the region and its SPF TXT; and a DMARC record.
func Expected(domain string, dkimTokens []string, mailFromDomain, region string) []Record {
	domain = canon(domain)
	var out []Record
	for _, t := range dkimTokens {
		out = append(out, Record{Purpose: "DKIM", Type: "CNAME", Name: t + "._domainkey." + domain, Value: t + ".dkim.amazonses.com", Required: true})
	}
	if mf := canon(mailFromDomain); mf != "" {
		out = append(out,
			Record{Purpose: "MAIL FROM MX", Type: "MX", Name: mf, Value: "10 feedback-smtp." + region + ".amazonses.com", Required: true},
			Record{Purpose: "MAIL FROM SPF", Type: "TXT", Name: mf, Value: "v=spf1 include:amazonses.com ~all", Required: true})
	}
	out = append(out, Record{Purpose: "DMARC", Type: "TXT", Name: "_dmarc." + domain, Value: "v=DMARC1; p=none; rua=mailto:dmarc-reports@" + domain})
	return out
}

// Resolver looks records up; *net.Resolver is one.
type Resolver interface {
	LookupCNAME(ctx context.Context, host string) (string, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// Status of a record in DNS.
const (
	Published = "published" // found with the expected value
	Missing   = "missing"   // no such record
	Wrong     = "wrong"     // a record is there with another value
	Unknown   = "unknown"   // the lookup failed (timeout, server failure)
)

// Result is a record and what DNS holds for it.
type Result struct {
	Record
	Status string
	Found  []string // the values found, for a wrong or published record
	Error  string   // why the lookup failed, for an unknown status
}

// Check looks every record up and says what it found.
func Check(ctx context.Context, r Resolver, recs []Record) []Result {
	out := make([]Result, len(recs))
	for i, rec := range recs {
		out[i] = check(ctx, r, rec)
	}
	return out
}

func check(ctx context.Context, r Resolver, rec Record) Result {
	res := Result{Record: rec}
	var found []string
	var err error
	switch rec.Type {
	case "CNAME":
		var c string
		c, err = r.LookupCNAME(ctx, rec.Name)
		// Without a CNAME the Go resolver answers the name itself.
		if err == nil && canon(c) != canon(rec.Name) {
			found = []string{canon(c)}
		}
	case "MX":
		var mxs []*net.MX
		mxs, err = r.LookupMX(ctx, rec.Name)
		for _, mx := range mxs {
			found = append(found, fmt.Sprintf("%d %s", mx.Pref, canon(mx.Host)))
		}
	case "TXT":
		found, err = r.LookupTXT(ctx, rec.Name)
		if rec.Purpose == "MAIL FROM SPF" || rec.Purpose == "DMARC" {
			// Only the SPF (or DMARC) strings matter at that name.
			prefix := "v=spf1"
			if rec.Purpose == "DMARC" {
				prefix = "v=DMARC1"
			}
			found = slices.DeleteFunc(found, func(s string) bool { return !strings.HasPrefix(strings.ToLower(s), strings.ToLower(prefix)) })
		}
	default:
		res.Status, res.Error = Unknown, "unsupported record type "+rec.Type
		return res
	}
	var dnsErr *net.DNSError
	switch {
	case err != nil && errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		res.Status = Missing
		return res
	case err != nil:
		res.Status, res.Error = Unknown, err.Error()
		return res
	}
	res.Found = found
	switch {
	case len(found) == 0:
		res.Status = Missing
	case matches(rec, found):
		res.Status = Published
	default:
		res.Status = Wrong
	}
	return res
}

// matches reports whether the values found satisfy the record.
func matches(rec Record, found []string) bool {
	switch rec.Purpose {
	case "MAIL FROM SPF":
		// One SPF record that authorises SES, whatever else it allows.
		return len(found) == 1 && strings.Contains(strings.ToLower(found[0]), "include:amazonses.com")
	case "DMARC":
		return len(found) == 1 // any one DMARC policy
	case "MAIL FROM MX":
		// SES's feedback host must be there; the priority is free.
		host := rec.Value[strings.IndexByte(rec.Value, ' ')+1:]
		return slices.ContainsFunc(found, func(f string) bool { return strings.HasSuffix(f, " "+host) })
	}
	return slices.ContainsFunc(found, func(f string) bool { return canon(f) == canon(rec.Value) })
}

func canon(s string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") }
