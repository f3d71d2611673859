// Package dnstest runs a real DNS server over UDP on loopback for tests,
// answering from a zone the test writes, and gives a Go resolver that asks
// only it.
package dnstest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server is a DNS server on loopback. Its zone may change while it runs.
type Server struct {
	pc   net.PacketConn
	mu   sync.Mutex
	zone map[string]map[dnsmessage.Type][]dnsmessage.ResourceBody
}

// Start runs a server with an empty zone until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{pc: pc, zone: map[string]map[dnsmessage.Type][]dnsmessage.ResourceBody{}}
	t.Cleanup(func() { pc.Close() })
	go s.serve()
	return s
}

// Resolver returns a resolver that asks this server only.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.pc.LocalAddr().String())
	}}
}

// CNAME publishes a CNAME record at name.
func (s *Server) CNAME(name, target string) {
	s.add(name, dnsmessage.TypeCNAME, &dnsmessage.CNAMEResource{CNAME: fqdn(target)})
}

// TXT publishes a TXT record at name.
func (s *Server) TXT(name string, value ...string) {
	s.add(name, dnsmessage.TypeTXT, &dnsmessage.TXTResource{TXT: value})
}

// MX publishes an MX record at name.
func (s *Server) MX(name string, pref uint16, host string) {
	s.add(name, dnsmessage.TypeMX, &dnsmessage.MXResource{Pref: pref, MX: fqdn(host)})
}

// Remove deletes every record at name.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.zone, canon(name))
}

func (s *Server) add(name string, t dnsmessage.Type, body dnsmessage.ResourceBody) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = canon(name)
	if s.zone[name] == nil {
		s.zone[name] = map[dnsmessage.Type][]dnsmessage.ResourceBody{}
	}
	s.zone[name][t] = append(s.zone[name][t], body)
}

func fqdn(s string) dnsmessage.Name { return dnsmessage.MustNewName(canon(s) + ".") }

func canon(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

func (s *Server) serve() {
	buf := make([]byte, 1500)
	for {
		n, addr, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if msg := s.answer(buf[:n]); msg != nil {
			s.pc.WriteTo(msg, addr)
		}
	}
}

// answer builds the reply to a query: the records of the asked type, or the
// name's CNAME for any other type; NXDOMAIN for a name without records.
func (s *Server) answer(query []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	s.mu.Lock()
	recs := s.zone[canon(q.Name.String())]
	answers := recs[q.Type]
	if cn := recs[dnsmessage.TypeCNAME]; len(cn) > 0 && q.Type != dnsmessage.TypeCNAME {
		answers = cn
	}
	s.mu.Unlock()
	rcode := dnsmessage.RCodeSuccess
	if recs == nil {
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
	if err != nil {
		return nil
	}
	return msg
}
