package seed

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"sendops/internal/insight"
	"sendops/internal/seswire"
)

// stream is a kind of mail the synthetic sender sends.
type stream struct {
	weight    int
	configSet string
	sender    string
	subject   string // may hold one %d
	template  string // what a rendering failure names
	kind      string // the "type" tag
	maxRcpts  int
	tracked   float64 // share of messages with open and click tracking
	complaint float64 // chance that a delivered recipient complains
	link      string  // may hold one %d
	ops       string  // ses:operation
}

var streams = []stream{
	{30, "transactional", "receipts@mail.acme-shop.test", "Your order #%d has shipped", "order-shipped", "order-shipped", 1, 0.25, 0.0005,
		"https://www.acme-shop.test/orders/%d/track", "SendTemplatedEmail"},
	{10, "transactional", "no-reply@mail.acme-shop.test", "Reset your password", "password-reset", "password-reset", 1, 0.25, 0.0002,
		"https://www.acme-shop.test/account/reset?request=%d", "SendTemplatedEmail"},
	{10, "billing", "invoices@billing.acme-shop.test", "Your invoice INV-%d", "invoice", "invoice", 1, 0.25, 0.001,
		"https://billing.acme-shop.test/invoices/INV-%d", "SendTemplatedEmail"},
	{25, "marketing", "news@news.acme-shop.test", "Spring sale: %d%% off everything", "spring-sale", "promotion", 3, 1, 0.004,
		"https://www.acme-shop.test/sale?utm_source=ses&utm_medium=email&utm_campaign=spring-%d", "SendBulkTemplatedEmail"},
	{15, "newsletter", "digest@news.acme-shop.test", "Your weekly digest, issue %d", "weekly-digest", "newsletter", 3, 1, 0.006,
		"https://blog.acme-shop.test/weekly/%d", "SendBulkTemplatedEmail"},
	{10, "transactional", "alerts@notify.acme-app.test", "New sign-in to your account", "sign-in-alert", "security", 1, 0.25, 0.0005,
		"https://app.acme-app.test/security/sessions/%d", "SendTemplatedEmail"},
}

// rcptDomains are the recipients' domains with their weights: consumer
// mailbox providers of every group insight knows, and company domains.
var rcptDomains = []struct {
	name   string
	weight int
}{
	{"gmail.com", 33}, {"googlemail.com", 1}, {"outlook.com", 8}, {"hotmail.com", 7}, {"live.com", 2}, {"hotmail.co.uk", 1},
	{"yahoo.com", 9}, {"aol.com", 2}, {"yahoo.co.uk", 1}, {"icloud.com", 7}, {"me.com", 1}, {"proton.me", 2},
	{"gmx.de", 2}, {"web.de", 2}, {"gmx.net", 1}, {"yandex.ru", 1}, {"mail.ru", 1}, {"qq.com", 1}, {"163.com", 1},
	{"acme-corp.example", 4}, {"globex.example", 3}, {"initech.example", 2}, {"umbrella.example", 2}, {"example.org", 3},
}

var (
	firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
		"peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda", "amir", "bea", "chen", "dmitri", "elif", "fatima", "goran",
		"hana", "ines", "jonas", "kenji", "lena", "marta", "noor", "oskar", "priya", "quentin", "rosa", "sven", "tomas"}
	lastNames = []string{"smith", "meyer", "garcia", "rossi", "novak", "kim", "nguyen", "silva", "jansen", "dubois", "kowalski", "ivanova",
		"tanaka", "olsen", "murphy", "fischer", "lopez", "haddad", "berg", "costa"}
	openAgents = map[insight.Provider][]string{
		insight.Google:    {"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"},
		insight.Apple:     {"Mozilla/5.0"},
		insight.Yahoo:     {"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"},
		insight.Microsoft: {"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0"},
	}
	browserAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	}
)

// hourWeights is the share of a day's mail sent in each UTC hour: quiet at
// night, busiest in the working day, a second peak in the evening.
var hourWeights = [24]float64{2, 1.5, 1.2, 1, 1, 1.5, 3, 5, 7, 8, 8.5, 8.5, 8, 8, 7.5, 7, 6.5, 6.5, 7, 7.5, 6.5, 5, 4, 3}

// generator makes the messages of one seeding: the same ones for the same
// options.
type generator struct {
	seed    uint64
	n       int
	start   time.Time // of the first hour slot (End - Days)
	cum     []float64 // cumulative weight of each hour slot of the range
	pool    int       // how many distinct recipients there are
	account string
	region  string
}

func newGenerator(o Options) *generator {
	// Hour slots back from End: the last one ends at End.
	hours := o.Days * 24
	start := o.End.Add(-time.Duration(hours) * time.Hour)
	g := &generator{seed: o.Seed, n: o.Messages, start: start, cum: make([]float64, hours), pool: max(200, o.Messages/4),
		account: "123456789012", region: "us-east-1"}
	total := 0.0
	for h := range hours {
		t := start.Add(time.Duration(h) * time.Hour)
		w := hourWeights[t.Hour()]
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			w *= 0.6
		}
		w *= 0.85 + 0.3*float64(h)/float64(hours) // the sender grows over the range
		total += w
		g.cum[h] = total
	}
	return g
}

// mailTime places message i of n: in order, following the daily pattern.
func (g *generator) mailTime(i int, rng *rand.Rand) time.Time {
	total := g.cum[len(g.cum)-1]
	u := (float64(i) + rng.Float64()) / float64(g.n) * total
	h := sort.SearchFloat64s(g.cum, u)
	if h >= len(g.cum) {
		h = len(g.cum) - 1
	}
	lo := 0.0
	if h > 0 {
		lo = g.cum[h-1]
	}
	frac := (u - lo) / (g.cum[h] - lo)
	return g.start.Add(time.Duration(h)*time.Hour + time.Duration(frac*float64(time.Hour))).UTC().Truncate(time.Millisecond)
}

// recipient is one address of the recipient pool.
type recipient struct {
	addr     string
	domain   string
	provider insight.Provider
	dead     bool // the mailbox does not exist: every message bounces
	full     bool // the mailbox is over quota
}

// recipient returns address j of the pool.
func (g *generator) recipient(j int) recipient {
	rng := rand.New(rand.NewPCG(g.seed^0x9e3779b97f4a7c15, uint64(j)))
	first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
	var local string
	switch rng.IntN(4) {
	case 0:
		local = first + "." + last
	case 1:
		local = first + last[:1] + fmt.Sprint(rng.IntN(100))
	case 2:
		local = first[:1] + last
	default:
		local = first + "." + last + fmt.Sprint(1950+rng.IntN(60))
	}
	n := rng.IntN(100)
	d := rcptDomains[0].name
	for _, x := range rcptDomains {
		if n < x.weight {
			d = x.name
			break
		}
		n -= x.weight
	}
	r := recipient{addr: local + "@" + d, domain: d, provider: insight.ProviderOf(d)}
	switch x := rng.Float64(); {
	case x < 0.025:
		r.dead = true
	case x < 0.035:
		r.full = true
	}
	return r
}

// pickRecipient picks from the pool, some addresses much more often than
// others (a shop's regular customers).
func (g *generator) pickRecipient(rng *rand.Rand) int {
	return int(float64(g.pool) * math.Pow(rng.Float64(), 1.3))
}

// event is one generated SES event, in the event-publishing format.
type event struct {
	at   time.Time
	json []byte
}

// message returns message i: its SES message id and its SES events in
// the order SES publishes them, dropping those that would happen after
// end.
func (g *generator) message(i int, end time.Time) (string, []event) {
	rng := rand.New(rand.NewPCG(g.seed, uint64(i)))
	mailTime := g.mailTime(i, rng)
	var st stream
	n := rng.IntN(100)
	for _, s := range streams {
		if n < s.weight {
			st = s
			break
		}
		n -= s.weight
	}
	var idb [16]byte
	for k := range idb {
		idb[k] = byte(rng.Uint32())
	}
	h := hex.EncodeToString(idb[:])
	m := &seswire.Mail{
		Timestamp: mailTime.Format(seswire.Time), Source: st.sender,
		SourceArn:        "arn:aws:ses:" + g.region + ":" + g.account + ":identity/" + domainOf(st.sender),
		SendingAccountID: g.account, CallerIdentity: "shop-app",
		MessageID: fmt.Sprintf("0100%012x-%s-%s-%s-%s%08x-000000", mailTime.UnixMilli(), h[:8], h[8:12], h[12:16], h[16:20], uint32(i)),
	}
	subject := st.subject
	num := 1000 + rng.IntN(900000)
	switch st.kind {
	case "promotion":
		subject = fmt.Sprintf(subject, 10+5*rng.IntN(10))
	case "newsletter":
		num = int(mailTime.Unix()/(7*86400)) - 2800 // one issue a week
		subject = fmt.Sprintf(subject, num)
	default:
		if strings.Contains(subject, "%d") {
			subject = fmt.Sprintf(subject, num)
		}
	}
	nr := 1
	if st.maxRcpts > 1 {
		nr = 1 + rng.IntN(st.maxRcpts)
	}
	var rcpts []recipient
	seen := map[string]bool{}
	for len(rcpts) < nr {
		r := g.recipient(g.pickRecipient(rng))
		if !seen[r.addr] {
			seen[r.addr] = true
			rcpts = append(rcpts, r)
			m.Destination = append(m.Destination, r.addr)
		}
	}
	to := strings.Join(m.Destination, ", ")
	m.Headers = []seswire.Header{{Name: "From", Value: "Acme Shop <" + st.sender + ">"}, {Name: "To", Value: to}, {Name: "Subject", Value: subject}, {Name: "MIME-Version", Value: "1.0"},
		{Name: "Content-Type", Value: `multipart/alternative; boundary="----=_Part_` + h[:10] + `"`}}
	m.CommonHeaders = seswire.CommonHeaders{From: []string{"Acme Shop <" + st.sender + ">"}, To: m.Destination, MessageID: m.MessageID, Subject: subject}
	m.Tags = map[string][]string{
		"ses:configuration-set":  {st.configSet},
		"ses:source-ip":          {"203.0.113.17"},
		"ses:from-domain":        {domainOf(st.sender)},
		"ses:caller-identity":    {"shop-app"},
		"ses:operation":          {st.ops},
		"ses:source-tls-version": {"TLSv1.3"},
		"ses:outgoing-ip":        {fmt.Sprintf("54.240.8.%d", 20+rng.IntN(40))},
		"type":                   {st.kind},
	}
	campaign := ""
	if st.kind == "promotion" {
		campaign = fmt.Sprintf("spring-%d", rng.IntN(4))
		m.Tags["campaign"] = []string{campaign}
	}

	b := &builder{mail: m, end: end, used: map[string]bool{}}
	// A template that cannot be rendered: SES sends nothing.
	if st.kind == "promotion" && rng.Float64() < 0.002 {
		b.add(seswire.Event{EventType: "Rendering Failure", Failure: &seswire.Failure{TemplateName: st.template,
			ErrorMessage: "Attribute 'first_name' is not present in the rendering data."}}, mailTime)
		return m.MessageID, b.events
	}
	b.add(seswire.Event{EventType: "Send", Send: &struct{}{}}, mailTime)
	mta := fmt.Sprintf("a8-%d.smtp-out.amazonses.com", 30+rng.IntN(60))
	var delivered []recipient
	for k, r := range rcpts {
		at := mailTime.Add(time.Duration(700+rng.IntN(4000)+k) * time.Millisecond)
		deliver := func(at time.Time) {
			b.add(seswire.Event{EventType: "Delivery", Delivery: &seswire.Delivery{Timestamp: at.Format(seswire.Time), ProcessingTimeMillis: at.Sub(mailTime).Milliseconds(),
				Recipients: []string{r.addr}, SMTPResponse: smtpOK(r.provider, h, m.MessageID), RemoteMtaIP: mtaIP(r.provider, rng), ReportingMTA: mta}}, at)
			delivered = append(delivered, r)
		}
		bounce := func(typ, sub string, d diag, at time.Time) {
			reporting := "dsn; " + mta
			if sub == "OnAccountSuppressionList" {
				reporting = "dns; amazonses.com"
			}
			b.add(seswire.Event{EventType: "Bounce", Bounce: &seswire.Bounce{BounceType: typ, BounceSubType: sub, Timestamp: at.Format(seswire.Time),
				FeedbackID: feedbackID(rng), ReportingMTA: reporting,
				BouncedRecipients: []seswire.RecipStatus{{EmailAddress: r.addr, Action: "failed", Status: d.status, DiagnosticCode: d.text(r.addr)}}}}, at)
		}
		news := strings.HasSuffix(st.sender, "@news.acme-shop.test")
		switch x := rng.Float64(); {
		case r.dead && rng.Float64() < 0.4:
			// SES bounced it before: the address is on the account's list.
			bounce("Permanent", "OnAccountSuppressionList", suppressedDiag, at.Add(-600*time.Millisecond))
		case r.dead:
			bounce("Permanent", "General", unknownUser(r), at)
		case news && r.provider == insight.Google && x < 0.012:
			bounce("Permanent", "General", gmailUnauthenticated, at)
		case news && r.provider == insight.Microsoft && x < 0.012:
			if rng.IntN(3) == 0 {
				bounce("Permanent", "General", outlookAuthLevel, at)
			} else {
				bounce("Permanent", "General", outlookDMARC, at)
			}
		case x < 0.004:
			bounce("Permanent", "General", policyBlock(r), at)
		case r.full || x < 0.01:
			bounce("Transient", "MailboxFull", mailboxFull(r), at)
		case st.kind == "invoice" && r.provider == insight.Other && x < 0.02:
			bounce("Transient", "MessageTooLarge", tooLarge, at)
		case x < 0.035:
			dt, d := delay(r, rng)
			b.add(seswire.Event{EventType: "DeliveryDelay", DeliveryDelay: &seswire.Delay{Timestamp: at.Format(seswire.Time), DelayType: dt,
				ExpirationTime: mailTime.Add(14 * time.Hour).Format(seswire.Time), ReportingMTA: mta,
				DelayedRecipients: []seswire.RecipStatus{{EmailAddress: r.addr, Status: d.status, DiagnosticCode: d.text(r.addr)}}}}, at)
			if rng.IntN(3) > 0 {
				deliver(at.Add(time.Duration(5+rng.IntN(90)) * time.Minute))
			} else {
				bounce("Transient", "General", expired, mailTime.Add(14*time.Hour))
			}
		default:
			deliver(at)
		}
	}
	for _, r := range delivered {
		if r.provider == insight.Google || rng.Float64() >= st.complaint {
			continue // Gmail sends senders no complaint reports
		}
		ft, ua := "abuse", "Yahoo!-Mail-Feedback/2.0"
		if r.provider == insight.Microsoft {
			ua = "Microsoft JMRP"
		} else if r.provider != insight.Yahoo {
			ua = "ReturnPathFBL/2.0"
		}
		switch y := rng.Float64(); {
		case y < 0.05:
			ft = ""
		case y < 0.1:
			ft = "other"
		}
		at := mailTime.Add(time.Duration(1+rng.IntN(48*60)) * time.Minute)
		c := &seswire.Complaint{Timestamp: at.Format(seswire.Time), FeedbackID: feedbackID(rng), ArrivalDate: at.Add(-time.Minute).Format(seswire.Time),
			ComplainedRecipients: []seswire.Address{{EmailAddress: r.addr}}}
		if ft != "" {
			c.UserAgent, c.ComplaintFeedbackType = ua, ft
		}
		b.add(seswire.Event{EventType: "Complaint", Complaint: c}, at)
	}
	if len(delivered) > 0 && rng.Float64() < st.tracked {
		// Opens and clicks name the whole destination: SES cannot tell
		// which recipient loaded the image.
		p := delivered[rng.IntN(len(delivered))].provider
		opens := 0
		chance := 0.4
		if p == insight.Apple {
			chance = 0.85 // Mail Privacy Protection loads every image
		}
		if rng.Float64() < chance {
			opens = 1 + rng.IntN(3)
		}
		at := mailTime
		for range opens {
			at = at.Add(time.Duration(1+rng.IntN(240)) * time.Minute)
			ua := browserAgents[rng.IntN(len(browserAgents))]
			if agents := openAgents[p]; len(agents) > 0 {
				ua = agents[rng.IntN(len(agents))]
			}
			ip := fmt.Sprintf("66.249.%d.%d", rng.IntN(256), rng.IntN(256))
			b.add(seswire.Event{EventType: "Open", Open: &seswire.Open{Timestamp: at.Format(seswire.Time), UserAgent: ua, IPAddress: ip}}, at)
			if rng.Float64() < 0.3 {
				click := at.Add(time.Duration(2+rng.IntN(90)) * time.Second)
				link := st.link
				switch {
				case campaign != "":
					link = fmt.Sprintf(link, rng.IntN(4))
				case strings.Contains(link, "%d"):
					link = fmt.Sprintf(link, num)
				}
				ct := map[string][]string{"type": {st.kind}}
				b.add(seswire.Event{EventType: "Click", Click: &seswire.Click{Timestamp: click.Format(seswire.Time), IPAddress: fmt.Sprintf("198.51.100.%d", rng.IntN(256)),
					Link: link, LinkTags: ct, UserAgent: browserAgents[rng.IntN(len(browserAgents))]}}, click)
			}
		}
	}
	return m.MessageID, b.events
}

func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }

// builder collects a message's events as JSON.
type builder struct {
	mail   *seswire.Mail
	end    time.Time
	used   map[string]bool
	events []event
}

func (b *builder) add(e seswire.Event, at time.Time) {
	if !at.Before(b.end) {
		return // not happened yet
	}
	at = at.UTC().Truncate(time.Millisecond)
	for b.used[e.EventType+at.String()] { // (type, time) names one event of a message
		at = at.Add(time.Millisecond)
	}
	b.used[e.EventType+at.String()] = true
	e.Mail = b.mail
	setTimestamp(&e, at.Format(seswire.Time))
	// As SES writes it: <, > and & as they are.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		panic(err) // structs of strings: cannot fail
	}
	b.events = append(b.events, event{at: at, json: bytes.TrimSuffix(buf.Bytes(), []byte("\n"))})
}

// setTimestamp sets the time of the event's own object, after add moved it
// to keep (type, time) unique.
func setTimestamp(e *seswire.Event, ts string) {
	switch {
	case e.Delivery != nil:
		e.Delivery.Timestamp = ts
	case e.Bounce != nil:
		e.Bounce.Timestamp = ts
	case e.Complaint != nil:
		e.Complaint.Timestamp = ts
	case e.DeliveryDelay != nil:
		e.DeliveryDelay.Timestamp = ts
	case e.Open != nil:
		e.Open.Timestamp = ts
	case e.Click != nil:
		e.Click.Timestamp = ts
	}
}

func feedbackID(rng *rand.Rand) string {
	return fmt.Sprintf("0100018f%08x-%08x-%04x-%04x-%04x-%012x-000000", rng.Uint32(), rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<16), rng.IntN(1<<16), rng.Uint64()&(1<<48-1))
}

func smtpOK(p insight.Provider, h, messageID string) string {
	switch p {
	case insight.Google:
		return "250 2.0.0 OK  1716400000 " + h[:10] + ".123 - gsmtp"
	case insight.Microsoft:
		return "250 2.6.0 <" + messageID + "@email.amazonses.com> [InternalId=" + h[:12] + "] Queued mail for delivery"
	case insight.Yahoo:
		return "250 ok dirdel"
	}
	return "250 2.0.0 Ok: queued as " + strings.ToUpper(h[:11])
}

func mtaIP(p insight.Provider, rng *rand.Rand) string {
	switch p {
	case insight.Google:
		return fmt.Sprintf("142.250.%d.%d", rng.IntN(256), rng.IntN(256))
	case insight.Microsoft:
		return fmt.Sprintf("52.101.%d.%d", rng.IntN(256), rng.IntN(256))
	case insight.Yahoo:
		return fmt.Sprintf("67.195.%d.%d", rng.IntN(256), rng.IntN(256))
	case insight.Apple:
		return fmt.Sprintf("17.57.%d.%d", rng.IntN(256), rng.IntN(256))
	}
	return fmt.Sprintf("192.0.2.%d", rng.IntN(256))
}

// diag is a recipient's status and diagnostic code as a provider writes
// them; %s in format is the address.
type diag struct{ status, format string }

func (d diag) text(addr string) string {
	if strings.Contains(d.format, "%s") {
		return fmt.Sprintf(d.format, addr)
	}
	return d.format
}

var (
	suppressedDiag       = diag{"5.1.1", "Amazon SES did not send the message to this address because it is on the suppression list for your account. For more information about removing addresses from the suppression list, see the Amazon SES Developer Guide at https://docs.aws.amazon.com/ses/latest/DeveloperGuide/sending-email-suppression-list.html"}
	gmailUnauthenticated = diag{"5.7.26", "smtp; 550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. Authentication results: DKIM = did not pass SPF [news.acme-shop.test] with ip: [54.240.8.42] = did not pass For instructions on setting up authentication, go to https://support.google.com/mail/answer/81126#authentication - gsmtp"}
	outlookDMARC         = diag{"5.7.509", "smtp; 550 5.7.509 Access denied, sending domain news.acme-shop.test does not pass DMARC verification and has a DMARC policy of reject. [BN1NAM02FT041.eop-nam02.prod.protection.outlook.com]"}
	outlookAuthLevel     = diag{"5.7.515", "smtp; 550 5.7.515 Access denied, sending domain news.acme-shop.test doesn't meet the required authentication level. [SN1PEPF0002636E.namprd02.prod.outlook.com]"}
	tooLarge             = diag{"5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed maximum message size"}
	expired              = diag{"4.4.7", "smtp; 421 4.4.7 Message expired, unable to deliver in 840 minutes.<421 4.4.2 Connection dropped due to SocketError>"}
)

// unknownUser is how each provider says an address does not exist.
func unknownUser(r recipient) diag {
	switch r.provider {
	case insight.Google:
		return diag{"5.1.1", "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser - gsmtp"}
	case insight.Microsoft:
		return diag{"5.5.0", "smtp; 550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DM6NAM12FT012.eop-nam12.prod.protection.outlook.com]"}
	case insight.Yahoo:
		return diag{"5.0.0", "smtp; 552 1 Requested mail action aborted, mailbox not found"}
	case insight.Apple:
		return diag{"5.1.1", "smtp; 550 5.1.1 <%s>: user does not exist"}
	case insight.GMX:
		if r.domain == "web.de" {
			return diag{"5.2.1", "smtp; 550 5.2.1 Mailbox disabled, not accepting messages"}
		}
		return diag{"5.1.1", "smtp; 550 5.1.1 <%s>: Requested action not taken: mailbox unavailable"}
	case insight.Yandex:
		return diag{"5.7.1", "smtp; 550 5.7.1 No such user!"}
	case insight.MailRu:
		return diag{"5.0.0", "smtp; 550 Message was not accepted -- invalid mailbox. Local mailbox %s is unavailable: user not found"}
	case insight.Other:
		switch r.domain {
		case "acme-corp.example", "globex.example":
			// Companies on Microsoft 365.
			if len(r.addr)%2 == 0 {
				return diag{"5.1.10", "smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient %s not found by SMTP address lookup"}
			}
			return diag{"5.4.1", "smtp; 550 5.4.1 Recipient address rejected: Access denied. [BN8NAM12FT045.eop-nam12.prod.protection.outlook.com]"}
		}
	}
	return diag{"5.1.1", "smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table"}
}

// policyBlock is how each provider refuses mail for its reputation.
func policyBlock(r recipient) diag {
	switch r.provider {
	case insight.Google:
		return diag{"5.7.1", "smtp; 550-5.7.1 [54.240.8.42] Gmail has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. For more information, go to https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp"}
	case insight.Microsoft:
		return diag{"5.7.1", "smtp; 550 5.7.1 Unfortunately, messages from [54.240.8.42] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors."}
	case insight.Yahoo:
		return diag{"5.7.9", "smtp; 554 5.7.9 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes"}
	}
	return diag{"5.7.1", "smtp; 554 5.7.1 Service unavailable; Client host [54.240.8.42] blocked using zen.spamhaus.org"}
}

func mailboxFull(r recipient) diag {
	if r.provider == insight.Google {
		return diag{"4.2.2", "smtp; 452-4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp"}
	}
	return diag{"5.2.2", "smtp; 552 5.2.2 <%s>: Mailbox full"}
}

// delay is a provider's deferral: SES's delay type and the answer.
func delay(r recipient, rng *rand.Rand) (string, diag) {
	switch r.provider {
	case insight.Google:
		return "IPFailure", diag{"4.7.28", "smtp; 421-4.7.28 [54.240.8.42] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp"}
	case insight.Yahoo:
		return "SpamDetected", diag{"4.7.0", "smtp; 421 4.7.0 [TSS04] Messages from 54.240.8.42 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"}
	case insight.Microsoft:
		return "RecipientServerError", diag{"4.7.500", "smtp; 451 4.7.500 Server busy. Please try again later from [54.240.8.42]. (AS761)"}
	}
	if rng.IntN(2) == 0 {
		return "MailboxFull", diag{"4.2.2", "smtp; 452 4.2.2 <%s>: Mailbox full, try again later"}
	}
	return "TransientCommunicationFailure", diag{"4.4.1", "smtp; 421 4.4.1 Connection timed out"}
}
