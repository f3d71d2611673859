package sesim

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

type outMessage struct {
	id           string
	sentAt       time.Time
	from         string // as given, possibly "Name <addr>"
	fromAddr     string
	sourceArn    string
	to, cc, bcc  []string
	replyTo      []string
	subject      string
	contentType  string
	extraHeaders []mailHeader
	tags         map[string][]string
	configSet    *configSet
	templateName string
	renderErr    error
}

type contentData struct {
	Data    string
	Charset string
}

type sendEmailInput struct {
	FromEmailAddress string
	Destination      *struct {
		ToAddresses  []string
		CcAddresses  []string
		BccAddresses []string
	}
	ReplyToAddresses []string
	Content          struct {
		Simple *struct {
			Subject *contentData
			Body    struct{ Text, Html *contentData }
			Headers []struct{ Name, Value string }
		}
		Raw *struct {
			Data []byte
		}
		Template *struct {
			TemplateName    string
			TemplateArn     string
			TemplateContent *templateContent
			TemplateData    string
			Headers         []struct{ Name, Value string }
		}
	}
	EmailTags            []struct{ Name, Value string }
	ConfigurationSetName string
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

func messageRejected(format string, args ...any) *apiError {
	return errorf(400, "MessageRejected", format, args...)
}

// sesSendEmail accepts a message, plays the mailbox simulator for its
// recipients and publishes the resulting events.
func (s *Sim) sesSendEmail(c *call, rs *regionState) (any, *apiError) {
	var in sendEmailInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	now := s.now()
	m := &outMessage{sentAt: now, tags: map[string][]string{}}

	parts := 0
	for _, set := range []bool{in.Content.Simple != nil, in.Content.Raw != nil, in.Content.Template != nil} {
		if set {
			parts++
		}
	}
	if parts != 1 {
		return nil, badRequest("Content must contain exactly one of Simple, Raw or Template.")
	}

	var rawHeader mail.Header
	if in.Content.Raw != nil {
		msg, err := mail.ReadMessage(bytes.NewReader(in.Content.Raw.Data))
		if err != nil {
			return nil, badRequest("Raw message is not a valid MIME message: %v", err)
		}
		rawHeader = msg.Header
		m.subject = decodeHeader(rawHeader.Get("Subject"))
		m.contentType = rawHeader.Get("Content-Type")
		if in.FromEmailAddress == "" {
			in.FromEmailAddress = rawHeader.Get("From")
		}
	}

	if in.FromEmailAddress == "" {
		return nil, badRequest("Missing required field FromEmailAddress.")
	}
	from, err := mail.ParseAddress(in.FromEmailAddress)
	if err != nil {
		return nil, badRequest("Illegal address: %s", in.FromEmailAddress)
	}
	m.from, m.fromAddr = in.FromEmailAddress, from.Address

	if in.Destination != nil {
		m.to, m.cc, m.bcc = in.Destination.ToAddresses, in.Destination.CcAddresses, in.Destination.BccAddresses
	} else if rawHeader != nil {
		m.to = headerAddresses(rawHeader, "To")
		m.cc = headerAddresses(rawHeader, "Cc")
	}
	recipients := m.recipients()
	if len(recipients) == 0 {
		return nil, badRequest("Missing required field Destination: at least one recipient is required.")
	}
	if len(recipients) > 50 {
		return nil, badRequest("Recipient count exceeds 50.")
	}
	for _, r := range recipients {
		if identityKind(r) != "EMAIL_ADDRESS" {
			a, err := mail.ParseAddress(r)
			if err != nil || identityKind(a.Address) != "EMAIL_ADDRESS" {
				return nil, badRequest("Illegal address: %s", r)
			}
		}
	}
	m.replyTo = in.ReplyToAddresses

	settings := rs.settings
	if settings.EnforcementStatus == "SHUTDOWN" {
		return nil, errorf(400, "AccountSuspendedException", "Your account has been shut down because of policy violations.")
	}
	if !settings.SendingEnabled {
		return nil, errorf(400, "SendingPausedException", "Sending is paused for this account. For more information, please check the Amazon SES console.")
	}

	id := rs.verifiedIdentity(m.fromAddr)
	if id == nil {
		return nil, messageRejected("Email address is not verified. The following identities failed the check in region %s: %s", strings.ToUpper(rs.region), m.fromAddr)
	}
	m.sourceArn = "arn:aws:ses:" + rs.region + ":" + rs.account + ":identity/" + id.name
	if !settings.ProductionAccessEnabled {
		var failed []string
		for _, r := range recipients {
			addr := bareAddress(r)
			if simulatorMailbox(addr) == "" && rs.verifiedIdentity(addr) == nil {
				failed = append(failed, addr)
			}
		}
		if len(failed) > 0 {
			return nil, messageRejected("Email address is not verified. The following identities failed the check in region %s: %s", strings.ToUpper(rs.region), strings.Join(failed, ", "))
		}
	}

	csName := in.ConfigurationSetName
	if csName == "" {
		csName = id.configSet
	}
	if csName != "" {
		m.configSet = rs.configSets[csName]
		if m.configSet == nil {
			return nil, notFound("Configuration set %s does not exist.", csName)
		}
		if !m.configSet.sendingEnabled() {
			return nil, errorf(400, "SendingPausedException", "Sending is paused for configuration set %s.", csName)
		}
	}

	for _, t := range in.EmailTags {
		if !tagRE.MatchString(t.Name) || !tagRE.MatchString(t.Value) {
			return nil, badRequest("Invalid message tag %q=%q: names and values may contain only letters, digits, underscores and dashes.", t.Name, t.Value)
		}
		if strings.HasPrefix(strings.ToLower(t.Name), "ses:") {
			return nil, badRequest("Message tag names may not start with 'ses:'.")
		}
	}

	switch {
	case in.Content.Simple != nil:
		sm := in.Content.Simple
		if sm.Subject == nil || (sm.Body.Text == nil && sm.Body.Html == nil) {
			return nil, badRequest("A simple message needs a Subject and a Text or Html body.")
		}
		m.subject = sm.Subject.Data
		m.contentType = contentTypeFor(sm.Body.Text != nil, sm.Body.Html != nil)
		for _, h := range sm.Headers {
			m.extraHeaders = append(m.extraHeaders, mailHeader{h.Name, h.Value})
		}
	case in.Content.Template != nil:
		tp := in.Content.Template
		var content templateContent
		switch {
		case tp.TemplateContent != nil:
			content = *tp.TemplateContent
			m.templateName = "inline"
		default:
			name := tp.TemplateName
			if name == "" && tp.TemplateArn != "" {
				name = tp.TemplateArn[strings.LastIndex(tp.TemplateArn, "/")+1:]
			}
			t := rs.templates[name]
			if t == nil {
				return nil, notFound("Template %s does not exist.", name)
			}
			content, m.templateName = t.content, t.name
		}
		data, err := parseTemplateData(tp.TemplateData)
		if err != nil {
			return nil, badRequest("Invalid TemplateData: %v", err)
		}
		rendered, err := content.render(data)
		if err != nil {
			// SES accepts the message and reports a Rendering Failure
			// event: a missing attribute or a template that does not parse.
			m.renderErr = err
		}
		m.subject = rendered.subject
		m.contentType = contentTypeFor(rendered.text != "", rendered.html != "")
		for _, h := range tp.Headers {
			m.extraHeaders = append(m.extraHeaders, mailHeader{h.Name, h.Value})
		}
	}

	counted := 0
	for _, r := range recipients {
		if simulatorMailbox(bareAddress(r)) == "" {
			counted++
		}
	}
	if sent := rs.sentLast24Hours(now); counted > 0 && sent+float64(counted) > settings.Max24HourSend {
		return nil, errorf(400, "LimitExceededException", "Daily message quota exceeded.")
	}
	if counted > 0 {
		rs.sends = append(rs.sends, sendRecord{at: now, recipients: counted})
	}

	m.id = sesID(rs.region, now)
	m.tags["ses:operation"] = []string{"SendEmail"}
	if m.configSet != nil {
		m.tags["ses:configuration-set"] = []string{m.configSet.name}
	}
	m.tags["ses:source-ip"] = []string{c.sourceIP}
	_, domain, _ := strings.Cut(m.fromAddr, "@")
	m.tags["ses:from-domain"] = []string{strings.ToLower(domain)}
	m.tags["ses:caller-identity"] = []string{c.caller.name}
	for _, t := range in.EmailTags {
		m.tags[t.Name] = append(m.tags[t.Name], t.Value)
	}

	s.publishLocked(rs, m, s.messageEvents(rs, m))
	return struct{ MessageId string }{m.id}, nil
}

func (m *outMessage) recipients() []string {
	out := make([]string, 0, len(m.to)+len(m.cc)+len(m.bcc))
	out = append(out, m.to...)
	out = append(out, m.cc...)
	return append(out, m.bcc...)
}

func contentTypeFor(text, html bool) string {
	switch {
	case text && html:
		return `multipart/alternative; boundary="----=_Part_` + randomFrom("0123456789", 7) + "_" + randomFrom("0123456789", 10) + `"`
	case html:
		return "text/html; charset=UTF-8"
	default:
		return "text/plain; charset=UTF-8"
	}
}

func bareAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

func headerAddresses(h mail.Header, key string) []string {
	list, err := h.AddressList(key)
	if err != nil {
		return nil
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out
}

func decodeHeader(v string) string {
	var d mime.WordDecoder
	if s, err := d.DecodeHeader(v); err == nil {
		return s
	}
	return v
}

// mailObject builds the "mail" object common to all of a message's events.
func (m *outMessage) mailObject(rs *regionState, withHeaders bool) *mailObject {
	mo := &mailObject{
		Timestamp:        isoMillis(m.sentAt),
		Source:           m.from,
		SourceArn:        m.sourceArn,
		SendingAccountID: rs.account,
		MessageID:        m.id,
		Destination:      m.recipients(),
		Tags:             make(map[string][]string, len(m.tags)),
	}
	for k, v := range m.tags {
		mo.Tags[k] = append([]string(nil), v...)
	}
	if !withHeaders {
		return mo
	}
	mo.Headers = append(mo.Headers, mailHeader{"From", m.from})
	if len(m.replyTo) > 0 {
		mo.Headers = append(mo.Headers, mailHeader{"Reply-To", strings.Join(m.replyTo, ", ")})
	}
	if len(m.to) > 0 {
		mo.Headers = append(mo.Headers, mailHeader{"To", strings.Join(m.to, ", ")})
	}
	if len(m.cc) > 0 {
		mo.Headers = append(mo.Headers, mailHeader{"Cc", strings.Join(m.cc, ", ")})
	}
	if m.subject != "" {
		mo.Headers = append(mo.Headers, mailHeader{"Subject", m.subject})
	}
	mo.Headers = append(mo.Headers, mailHeader{"MIME-Version", "1.0"}, mailHeader{"Content-Type", m.contentType})
	if !strings.HasPrefix(m.contentType, "multipart/") {
		mo.Headers = append(mo.Headers, mailHeader{"Content-Transfer-Encoding", "7bit"})
	}
	mo.Headers = append(mo.Headers, m.extraHeaders...)
	mo.CommonHeaders = &commonHeaders{
		From:      []string{m.from},
		ReplyTo:   m.replyTo,
		To:        m.to,
		Cc:        m.cc,
		MessageID: m.id,
		Subject:   m.subject,
	}
	return mo
}

// messageEvents is every event SES publishes for the message, in order.
func (s *Sim) messageEvents(rs *regionState, m *outMessage) []sesEvent {
	if m.renderErr != nil {
		return []sesEvent{{
			EventType: "Rendering Failure",
			Mail:      m.mailObject(rs, false),
			Failure:   &renderingFailure{ErrorMessage: m.renderErr.Error(), TemplateName: m.templateName},
			at:        m.sentAt.Add(200 * time.Millisecond),
		}}
	}
	events := []sesEvent{{EventType: "Send", Mail: m.mailObject(rs, true), Send: &struct{}{}, at: m.sentAt}}
	reasons := rs.settings.SuppressedReasons
	if m.configSet != nil {
		if raw, ok := m.configSet.options["SuppressionOptions"]; ok {
			var o struct{ SuppressedReasons []string }
			if json.Unmarshal(raw, &o) == nil && o.SuppressedReasons != nil {
				reasons = o.SuppressedReasons
			}
		}
	}
	for _, r := range m.recipients() {
		addr := bareAddress(r)
		suppressed := false
		if d := rs.suppressed[strings.ToLower(addr)]; d != nil {
			for _, reason := range reasons {
				if reason == d.reason {
					suppressed = true
				}
			}
		}
		for _, e := range s.recipientEvents(rs, m, addr, suppressed) {
			e.Mail = m.mailObject(rs, true)
			if e.EventType == "Delivery" {
				e.Mail.Tags["ses:outgoing-ip"] = []string{outgoingIP}
			}
			events = append(events, e)
		}
	}
	return events
}
