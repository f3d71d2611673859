package dnscheck

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"sendops/internal/testutil/dnstest"
)

func TestCheck(t *testing.T) {
	recs := Expected("Shop.Example", []string{"tok1", "tok2", "tok3"}, "mail.shop.example", "eu-west-1")
	if len(recs) != 6 || recs[0].Name != "tok1._domainkey.shop.example" || recs[0].Value != "tok1.dkim.amazonses.com" ||
		recs[3].Value != "10 feedback-smtp.eu-west-1.amazonses.com" || recs[5].Name != "_dmarc.shop.example" || recs[5].Required {
		t.Fatalf("expected records: %+v", recs)
	}
	dns := dnstest.Start(t)
	dns.CNAME("tok1._domainkey.shop.example", "tok1.dkim.amazonses.com")
	dns.CNAME("tok2._domainkey.shop.example", "other.example.net")
	dns.MX("mail.shop.example", 20, "feedback-smtp.us-east-1.amazonses.com")
	dns.TXT("mail.shop.example", "v=spf1 include:amazonses.com ~all")
	dns.TXT("mail.shop.example", "google-site-verification=x")
	dns.TXT("_dmarc.shop.example", "v=DMARC1; p=quarantine")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := Check(ctx, dns.Resolver(), recs)
	want := []struct{ status, found string }{
		{Published, "tok1.dkim.amazonses.com"},
		{Wrong, "other.example.net"},
		{Missing, ""},
		{Wrong, "20 feedback-smtp.us-east-1.amazonses.com"}, // another region's endpoint
		{Published, "v=spf1 include:amazonses.com ~all"},
		{Published, "v=DMARC1; p=quarantine"},
	}
	for i, w := range want {
		if got[i].Status != w.status || strings.Join(got[i].Found, "|") != w.found {
			t.Errorf("%s %s: %s %q, want %s %q (%s)", got[i].Purpose, got[i].Name, got[i].Status, got[i].Found, w.status, w.found, got[i].Error)
		}
	}
}

func TestCheckServerFailure(t *testing.T) {
	// A resolver that reaches no server: the status is unknown, not missing.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: context.DeadlineExceeded}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, res := range Check(ctx, r, Expected("shop.example", []string{"t"}, "", "us-east-1")) {
		if res.Status != Unknown || res.Error == "" {
			t.Errorf("%s: %s %q", res.Name, res.Status, res.Error)
		}
	}
}
