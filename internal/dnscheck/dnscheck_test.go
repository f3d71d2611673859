package dnscheck

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// zone is what the test's DNS server answers: name → type → records.
type zone map[string]map[dnsmessage.Type][]dnsmessage.ResourceBody

// serveDNS runs a real DNS server over UDP on loopback for the zone and
// returns a Go resolver that asks only it.
func serveDNS(t *testing.T, z zone) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			name := strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")
			answers := z[name][q.Type]
			// A CNAME answers every type at its name.
			if cn := z[name][dnsmessage.TypeCNAME]; len(cn) > 0 && q.Type != dnsmessage.TypeCNAME {
				answers = cn
			}
			rcode := dnsmessage.RCodeSuccess
			if z[name] == nil {
				rcode = dnsmessage.RCodeNameError
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: rcode})
			b.EnableCompression()
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			for _, a := range answers {
				rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
				switch body := a.(type) {
				case *dnsmessage.CNAMEResource:
					b.CNAMEResource(rh, *body)
				case *dnsmessage.TXTResource:
					b.TXTResource(rh, *body)
				case *dnsmessage.MXResource:
					b.MXResource(rh, *body)
				}
			}
			msg, err := b.Finish()
			if err == nil {
				pc.WriteTo(msg, addr)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

func name(s string) dnsmessage.Name { return dnsmessage.MustNewName(s + ".") }

func TestCheck(t *testing.T) {
	recs := Expected("Shop.Example", []string{"tok1", "tok2", "tok3"}, "mail.shop.example", "eu-west-1")
	if len(recs) != 6 || recs[0].Name != "tok1._domainkey.shop.example" || recs[0].Value != "tok1.dkim.amazonses.com" ||
		recs[3].Value != "10 feedback-smtp.eu-west-1.amazonses.com" || recs[5].Name != "_dmarc.shop.example" || recs[5].Required {
		t.Fatalf("expected records: %+v", recs)
	}
	z := zone{
		"tok1._domainkey.shop.example": {dnsmessage.TypeCNAME: {&dnsmessage.CNAMEResource{CNAME: name("tok1.dkim.amazonses.com")}}},
		"tok2._domainkey.shop.example": {dnsmessage.TypeCNAME: {&dnsmessage.CNAMEResource{CNAME: name("other.example.net")}}},
		"mail.shop.example": {
			dnsmessage.TypeMX:  {&dnsmessage.MXResource{Pref: 20, MX: name("feedback-smtp.us-east-1.amazonses.com")}},
			dnsmessage.TypeTXT: {&dnsmessage.TXTResource{TXT: []string{"v=spf1 include:amazonses.com ~all"}}, &dnsmessage.TXTResource{TXT: []string{"google-site-verification=x"}}},
		},
		"_dmarc.shop.example": {dnsmessage.TypeTXT: {&dnsmessage.TXTResource{TXT: []string{"v=DMARC1; p=quarantine"}}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := Check(ctx, serveDNS(t, z), recs)
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
