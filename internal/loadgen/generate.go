package loadgen

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"sendops/internal/seswire"
)

// Event is one SES event as loadgen sent it: what the API must show once.
type Event struct {
	MessageID  string
	Type       string    // canonical SES type: Send, Delivery, Bounce, …
	Time       time.Time // the event's own time, UTC, millisecond precision
	Recipients []string  // the addresses the event concerns, lower-case
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s %s %v", e.MessageID, e.Type, e.Time.Format(time.RFC3339Nano), e.Recipients)
}

// Generator makes realistic SES messages and their events, the same ones
// for the same seed and index, so that a run needs to remember only which
// events were acknowledged.
type Generator struct {
	Seed    uint64
	Start   time.Time // message i is accepted by SES at about Start + i×10 ms
	Account string    // AWS account id of the envelope and ARNs
	Region  string
}

// genEvent is an event with what its type-specific object says.
type genEvent struct {
	Event
	bounceType, subType string // Bounce; subType is also the delay type
	diagnostic, status  string // Bounce, DeliveryDelay: of the first recipient
	feedbackID          string
	ip, userAgent, link string
	smtpResponse        string
}

// message is one generated SES message and its events in the order SES
// would publish them.
type message struct {
	index       uint64
	id          string
	hex         string // 32 random hex digits the ids derive from
	mailTime    time.Time
	source      string
	fromDomain  string
	subject     string
	configSet   string
	campaign    string
	destination []string
	events      []genEvent
}

var (
	rcptDomains = []struct {
		name   string
		weight int
	}{{"gmail.com", 45}, {"outlook.com", 25}, {"yahoo.com", 15}, {"example.org", 15}}
	firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda"}
	configSets = []struct{ name, sender, subject string }{
		{"transactional", "receipts@mail.acme-shop.test", "Your order #%d has shipped"},
		{"transactional", "no-reply@mail.acme-shop.test", "Reset your password"},
		{"marketing", "news@news.acme-shop.test", "Spring sale: %d%% off everything"},
		{"newsletter", "digest@news.acme-shop.test", "Your weekly digest, issue %d"},
	}
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
	}
	links = []string{
		"https://www.acme-shop.test/orders/track",
		"https://www.acme-shop.test/sale?utm_source=ses&utm_medium=email",
		"https://www.acme-shop.test/account/unsubscribe",
		"https://blog.acme-shop.test/weekly/digest",
	}
)

// message returns message i.
func (g *Generator) message(i uint64) *message {
	rng := rand.New(rand.NewPCG(g.Seed, i))
	var idb [16]byte
	for k := range idb {
		idb[k] = byte(rng.Uint32())
	}
	h := hex.EncodeToString(idb[:])
	m := &message{
		index: i, hex: h,
		mailTime: g.Start.Add(time.Duration(i)*10*time.Millisecond + time.Duration(rng.IntN(10))*time.Millisecond).UTC().Truncate(time.Millisecond),
	}
	// SES message ids start with the time in milliseconds, in hex:
	// 010f019a9974b389-60efe038-3845-92e7-45c43cdc6ca2-000000.
	m.id = fmt.Sprintf("010f%012x-%s-%s-%s-%s%08x-000000", m.mailTime.UnixMilli(), h[:8], h[8:12], h[12:16], h[16:20], uint32(i))
	cs := configSets[rng.IntN(len(configSets))]
	m.configSet, m.source = cs.name, cs.sender
	m.fromDomain = cs.sender[strings.IndexByte(cs.sender, '@')+1:]
	if strings.Contains(cs.subject, "%") {
		m.subject = fmt.Sprintf(cs.subject, 10+rng.IntN(90))
	} else {
		m.subject = cs.subject
	}
	if cs.name == "marketing" {
		m.campaign = fmt.Sprintf("spring-%d", rng.IntN(4))
	}
	n := 1 + rng.IntN(3)
	if cs.name == "transactional" {
		n = 1 // receipts go to one person
	}
	seen := map[string]bool{}
	for len(m.destination) < n {
		a := firstNames[rng.IntN(len(firstNames))] + fmt.Sprintf(".%d@", rng.IntN(100000)) + pickDomain(rng)
		if !seen[a] {
			seen[a] = true
			m.destination = append(m.destination, a)
		}
	}

	used := map[string]bool{}
	add := func(e genEvent, at time.Time) {
		at = at.UTC().Truncate(time.Millisecond)
		for used[e.Type+at.String()] { // (type, time) names one event of a message
			at = at.Add(time.Millisecond)
		}
		used[e.Type+at.String()] = true
		e.MessageID, e.Time = m.id, at
		m.events = append(m.events, e)
	}
	add(genEvent{Event: Event{Type: "Send", Recipients: m.destination}}, m.mailTime)
	delivered := 0
	for k, rcpt := range m.destination {
		at := m.mailTime.Add(time.Duration(800+rng.IntN(5000)+k) * time.Millisecond)
		one := []string{rcpt}
		deliver := func(at time.Time) {
			add(genEvent{Event: Event{Type: "Delivery", Recipients: one}, smtpResponse: "250 2.0.0 OK  1716400000 " + h[:10] + " - gsmtp", ip: fmt.Sprintf("142.250.%d.%d", rng.IntN(256), rng.IntN(256))}, at)
			delivered++
		}
		switch r := rng.Float64(); {
		case r < 0.03: // no such mailbox
			add(genEvent{Event: Event{Type: "Bounce", Recipients: one}, bounceType: "Permanent", subType: "General",
				status: "5.1.1", diagnostic: "smtp; 550 5.1.1 <" + rcpt + ">: Recipient address rejected: user unknown", feedbackID: feedback(rng)}, at)
		case r < 0.045: // a full mailbox
			add(genEvent{Event: Event{Type: "Bounce", Recipients: one}, bounceType: "Transient", subType: "MailboxFull",
				status: "4.2.2", diagnostic: "smtp; 452 4.2.2 The email account that you tried to reach is over quota", feedbackID: feedback(rng)}, at)
		case r < 0.07: // delayed, then delivered or given up
			add(genEvent{Event: Event{Type: "DeliveryDelay", Recipients: one}, subType: "TransientCommunicationFailure",
				status: "4.4.1", diagnostic: "smtp; 421 4.4.1 Unable to connect to remote host"}, at)
			if rng.IntN(3) > 0 {
				deliver(at.Add(time.Duration(5+rng.IntN(40)) * time.Minute))
			} else {
				add(genEvent{Event: Event{Type: "Bounce", Recipients: one}, bounceType: "Transient", subType: "General",
					status: "4.4.7", diagnostic: "smtp; 421 4.4.7 Message expired, unable to deliver in 840 minutes", feedbackID: feedback(rng)}, at.Add(14*time.Hour))
			}
		default:
			deliver(at)
			if rng.Float64() < 0.01 {
				add(genEvent{Event: Event{Type: "Complaint", Recipients: one}, subType: "abuse", feedbackID: feedback(rng),
					userAgent: "Yahoo!-Mail-Feedback/2.0"}, at.Add(time.Duration(1+rng.IntN(48))*time.Hour))
			}
		}
	}
	tracked := m.configSet != "transactional" || rng.IntN(4) == 0
	if delivered > 0 && tracked {
		// Open and click events name the whole destination: SES cannot tell
		// which recipient loaded the pixel.
		opens := 0
		if rng.Float64() < 0.4 {
			opens = 1 + rng.IntN(2)
		}
		at := m.mailTime
		for range opens {
			at = at.Add(time.Duration(1+rng.IntN(180)) * time.Minute)
			ua, ip := userAgents[rng.IntN(len(userAgents))], fmt.Sprintf("66.249.%d.%d", rng.IntN(256), rng.IntN(256))
			add(genEvent{Event: Event{Type: "Open", Recipients: m.destination}, ip: ip, userAgent: ua}, at)
			if rng.Float64() < 0.35 {
				add(genEvent{Event: Event{Type: "Click", Recipients: m.destination}, ip: ip, userAgent: ua, link: links[rng.IntN(len(links))]},
					at.Add(time.Duration(2+rng.IntN(60))*time.Second))
			}
		}
	}
	return m
}

func pickDomain(rng *rand.Rand) string {
	n := rng.IntN(100)
	for _, d := range rcptDomains {
		if n < d.weight {
			return d.name
		}
		n -= d.weight
	}
	return rcptDomains[0].name
}

func feedback(rng *rand.Rand) string {
	return fmt.Sprintf("0100018f%08x-%08x-%04x-%04x-%04x-%012x-000000", rng.Uint32(), rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<16), rng.IntN(1<<16), rng.Uint64()&(1<<48-1))
}

// The wire shapes of the SES event-publishing format (SES developer guide,
// "Examples of event data that Amazon SES publishes").

var detailTypes = map[string]string{
	"Send": "Email Sent", "Delivery": "Email Delivered", "Bounce": "Email Bounced", "Complaint": "Email Complaint Received",
	"DeliveryDelay": "Email Delivery Delayed", "Open": "Email Opened", "Click": "Email Clicked",
}

// body returns the EventBridge envelope of event j of m, as an API
// destination posts it.
func (g *Generator) body(m *message, j int) []byte {
	e := &m.events[j]
	ts := e.Time.Format(seswire.Time)
	to := strings.Join(m.destination, ", ")
	tags := map[string][]string{
		"ses:configuration-set":  {m.configSet},
		"ses:source-ip":          {"203.0.113.17"},
		"ses:from-domain":        {m.fromDomain},
		"ses:caller-identity":    {"sendops-app"},
		"ses:operation":          {"SendEmail"},
		"ses:source-tls-version": {"TLSv1.3"},
	}
	if m.campaign != "" {
		tags["campaign"] = []string{m.campaign}
	}
	if e.Type != "Send" {
		tags["ses:outgoing-ip"] = []string{"54.240.8.42"}
	}
	d := seswire.Event{
		EventType: e.Type,
		Mail: &seswire.Mail{
			Timestamp: m.mailTime.Format(seswire.Time), Source: m.source,
			SourceArn:        "arn:aws:ses:" + g.Region + ":" + g.Account + ":identity/" + m.fromDomain,
			SendingAccountID: g.Account, MessageID: m.id, Destination: m.destination,
			Headers: []seswire.Header{
				{Name: "From", Value: m.source}, {Name: "To", Value: to}, {Name: "Subject", Value: m.subject}, {Name: "MIME-Version", Value: "1.0"},
				{Name: "Content-Type", Value: `multipart/alternative; boundary="----=_Part_` + m.hex[:10] + `"`},
			},
			CommonHeaders: seswire.CommonHeaders{From: []string{m.source}, To: m.destination, MessageID: m.id, Subject: m.subject},
			Tags:          tags,
		},
	}
	switch e.Type {
	case "Send":
		d.Send = &struct{}{}
	case "Delivery":
		d.Delivery = &seswire.Delivery{Timestamp: ts, ProcessingTimeMillis: e.Time.Sub(m.mailTime).Milliseconds(), Recipients: e.Recipients,
			SMTPResponse: e.smtpResponse, RemoteMtaIP: e.ip, ReportingMTA: "a8-42.smtp-out.amazonses.com"}
	case "Bounce":
		d.Bounce = &seswire.Bounce{BounceType: e.bounceType, BounceSubType: e.subType, Timestamp: ts, FeedbackID: e.feedbackID,
			ReportingMTA: "dsn; a8-42.smtp-out.amazonses.com"}
		for _, r := range e.Recipients {
			d.Bounce.BouncedRecipients = append(d.Bounce.BouncedRecipients, seswire.RecipStatus{EmailAddress: r, Action: "failed", Status: e.status, DiagnosticCode: e.diagnostic})
		}
	case "Complaint":
		c := &seswire.Complaint{Timestamp: ts, FeedbackID: e.feedbackID, UserAgent: e.userAgent, ComplaintFeedbackType: e.subType, ArrivalDate: ts}
		for _, r := range e.Recipients {
			c.ComplainedRecipients = append(c.ComplainedRecipients, seswire.Address{EmailAddress: r})
		}
		d.Complaint = c
	case "DeliveryDelay":
		dd := &seswire.Delay{Timestamp: ts, DelayType: e.subType, ExpirationTime: m.mailTime.Add(14 * time.Hour).Format(seswire.Time)}
		for _, r := range e.Recipients {
			dd.DelayedRecipients = append(dd.DelayedRecipients, seswire.RecipStatus{EmailAddress: r, Status: e.status, DiagnosticCode: e.diagnostic})
		}
		d.DeliveryDelay = dd
	case "Open":
		d.Open = &seswire.Open{Timestamp: ts, UserAgent: e.userAgent, IPAddress: e.ip}
	case "Click":
		d.Click = &seswire.Click{Timestamp: ts, IPAddress: e.ip, Link: e.link, UserAgent: e.userAgent,
			LinkTags: map[string][]string{"campaign": {m.configSet}}}
	}
	env := seswire.Envelope{
		Version: "0", ID: envelopeID(m, j), DetailType: detailTypes[e.Type], Source: "aws.ses",
		Account: g.Account, Time: e.Time.Truncate(time.Second).Format(time.RFC3339), Region: g.Region,
		Resources: []string{"arn:aws:ses:" + g.Region + ":" + g.Account + ":configuration-set/" + m.configSet},
		Detail:    d,
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic(err) // plain structs of strings: cannot fail
	}
	return b
}

// envelopeID is an EventBridge event id (a UUID), fixed per event so that
// a retry carries the same one, as EventBridge's do.
func envelopeID(m *message, j int) string {
	h := m.hex
	return fmt.Sprintf("%s-%s-%s-%s-%s%04x", h[:8], h[8:12], h[12:16], h[16:20], h[20:28], j)
}

// Bodies returns the EventBridge envelopes of message i's events, in the
// order SES would publish them: what loadgen posts for that message, for
// benchmarks that skip HTTP.
func (g *Generator) Bodies(i uint64) [][]byte {
	m := g.message(i)
	out := make([][]byte, len(m.events))
	for j := range m.events {
		out[j] = g.body(m, j)
	}
	return out
}
