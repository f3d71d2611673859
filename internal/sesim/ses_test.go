package sesim

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

func TestGetAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	out, err := e.ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !out.ProductionAccessEnabled || !out.SendingEnabled || aws.ToString(out.EnforcementStatus) != "HEALTHY" || out.SendQuota.Max24HourSend != 50000 {
		t.Errorf("default account: %+v %+v", out, out.SendQuota)
	}
	e.sim.SetAccountSettings(testAccount, AccountSettings{Max24HourSend: 200, MaxSendRate: 1, EnforcementStatus: "PROBATION"})
	out, err = e.ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		t.Fatal(err)
	}
	if out.ProductionAccessEnabled || out.SendingEnabled || aws.ToString(out.EnforcementStatus) != "PROBATION" || out.SendQuota.Max24HourSend != 200 || out.SendQuota.MaxSendRate != 1 {
		t.Errorf("sandboxed account: %+v %+v", out, out.SendQuota)
	}
	if _, err := e.ses.PutAccountSendingAttributes(ctx, &sesv2.PutAccountSendingAttributesInput{SendingEnabled: true}); err != nil {
		t.Fatal(err)
	}
	if !e.sim.GetAccountSettings(testAccount).SendingEnabled {
		t.Error("PutAccountSendingAttributes did not enable sending")
	}
}

func TestEmailIdentities(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{PendingVerification: true})
	ctx := ctxT(t)

	created, err := e.ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if created.IdentityType != sestypes.IdentityTypeDomain || created.VerifiedForSendingStatus || len(created.DkimAttributes.Tokens) != 3 ||
		created.DkimAttributes.Status != sestypes.DkimStatusPending {
		t.Errorf("created domain: %+v dkim %+v", created, created.DkimAttributes)
	}
	for _, tok := range created.DkimAttributes.Tokens {
		if len(tok) != 32 || strings.ToLower(tok) != tok {
			t.Errorf("DKIM token %q: want 32 lower-case characters", tok)
		}
	}

	_, err = e.ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("example.com")})
	var exists *sestypes.AlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("duplicate identity: %v, want *types.AlreadyExistsException", err)
	}
	_, err = e.ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("nope.example")})
	var nf *sestypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("missing identity: %v, want *types.NotFoundException", err)
	}
	_, err = e.ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("not an identity")})
	var bad *sestypes.BadRequestException
	if !errors.As(err, &bad) {
		t.Errorf("invalid identity: %v, want *types.BadRequestException", err)
	}

	if _, err := e.ses.PutEmailIdentityMailFromAttributes(ctx, &sesv2.PutEmailIdentityMailFromAttributesInput{
		EmailIdentity: aws.String("example.com"), MailFromDomain: aws.String("bounce.example.com"), BehaviorOnMxFailure: sestypes.BehaviorOnMxFailureRejectMessage,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ses.PutEmailIdentityMailFromAttributes(ctx, &sesv2.PutEmailIdentityMailFromAttributesInput{
		EmailIdentity: aws.String("example.com"), MailFromDomain: aws.String("bounce.other.org"),
	}); !errors.As(err, &bad) {
		t.Errorf("MAIL FROM outside the domain: %v, want BadRequestException", err)
	}
	got, err := e.ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("example.com")})
	if err != nil {
		t.Fatal(err)
	}
	mf := got.MailFromAttributes
	if aws.ToString(mf.MailFromDomain) != "bounce.example.com" || mf.MailFromDomainStatus != sestypes.MailFromDomainStatusPending || mf.BehaviorOnMxFailure != sestypes.BehaviorOnMxFailureRejectMessage {
		t.Errorf("MAIL FROM attributes %+v", mf)
	}
	if got.VerificationStatus != sestypes.VerificationStatusPending || got.VerifiedForSendingStatus {
		t.Errorf("pending identity: %+v", got)
	}

	if err := e.sim.SetIdentityStatus(testAccount, "example.com", IdentityStatus{Verification: "SUCCESS", Dkim: "SUCCESS", MailFrom: "SUCCESS"}); err != nil {
		t.Fatal(err)
	}
	got, err = e.ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if !got.VerifiedForSendingStatus || got.DkimAttributes.Status != sestypes.DkimStatusSuccess || got.MailFromAttributes.MailFromDomainStatus != sestypes.MailFromDomainStatusSuccess {
		t.Errorf("verified identity: %+v dkim %+v", got, got.DkimAttributes)
	}
	if got.DkimAttributes.Tokens[0] != created.DkimAttributes.Tokens[0] {
		t.Error("DKIM tokens changed between create and get")
	}

	// Paging through 7 identities, 3 at a time.
	for i := range 6 {
		if _, err := e.ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(fmt.Sprintf("user%d@example.org", i))}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	p := sesv2.NewListEmailIdentitiesPaginator(e.ses, &sesv2.ListEmailIdentitiesInput{PageSize: aws.Int32(3)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, id := range out.EmailIdentities {
			names = append(names, aws.ToString(id.IdentityName))
		}
	}
	if pages != 3 || len(names) != 7 || names[0] != "example.com" {
		t.Errorf("listed %d identities in %d pages: %v", len(names), pages, names)
	}

	if _, err := e.ses.DeleteEmailIdentity(ctx, &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String("user0@example.org")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ses.DeleteEmailIdentity(ctx, &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String("user0@example.org")}); !errors.As(err, &nf) {
		t.Errorf("deleting twice: %v, want NotFoundException", err)
	}
}

func TestConfigurationSets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	if _, err := e.ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{
		ConfigurationSetName: aws.String("cs"),
		Tags:                 []sestypes.Tag{{Key: aws.String("owner"), Value: aws.String("sendops")}},
		SuppressionOptions:   &sestypes.SuppressionOptions{SuppressedReasons: []sestypes.SuppressionListReason{"BOUNCE"}},
	}); err != nil {
		t.Fatal(err)
	}
	_, err := e.ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String("cs")})
	var exists *sestypes.AlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("duplicate configuration set: %v, want AlreadyExistsException", err)
	}
	got, err := e.ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String("cs")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.ConfigurationSetName) != "cs" || len(got.Tags) != 1 || !got.SendingOptions.SendingEnabled ||
		len(got.SuppressionOptions.SuppressedReasons) != 1 {
		t.Errorf("GetConfigurationSet: %+v", got)
	}
	list, err := e.ses.ListConfigurationSets(ctx, &sesv2.ListConfigurationSetsInput{})
	if err != nil || len(list.ConfigurationSets) != 1 || list.ConfigurationSets[0] != "cs" {
		t.Errorf("ListConfigurationSets: %v %v", list, err)
	}

	bus := "arn:aws:events:us-east-1:" + testAccount + ":event-bus/default"
	def := &sestypes.EventDestinationDefinition{
		Enabled:                true,
		MatchingEventTypes:     []sestypes.EventType{sestypes.EventTypeSend, sestypes.EventTypeBounce},
		EventBridgeDestination: &sestypes.EventBridgeDestination{EventBusArn: aws.String(bus)},
	}
	if _, err := e.ses.CreateConfigurationSetEventDestination(ctx, &sesv2.CreateConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String("cs"), EventDestinationName: aws.String("eb"), EventDestination: def,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ses.CreateConfigurationSetEventDestination(ctx, &sesv2.CreateConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String("cs"), EventDestinationName: aws.String("eb"), EventDestination: def,
	}); !errors.As(err, &exists) {
		t.Errorf("duplicate event destination: %v, want AlreadyExistsException", err)
	}
	var bad *sestypes.BadRequestException
	if _, err := e.ses.CreateConfigurationSetEventDestination(ctx, &sesv2.CreateConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String("cs"), EventDestinationName: aws.String("custom-bus"),
		EventDestination: &sestypes.EventDestinationDefinition{
			Enabled: true, MatchingEventTypes: []sestypes.EventType{"SEND"},
			EventBridgeDestination: &sestypes.EventBridgeDestination{EventBusArn: aws.String("arn:aws:events:us-east-1:" + testAccount + ":event-bus/mine")},
		},
	}); !errors.As(err, &bad) {
		t.Errorf("custom bus: %v, want BadRequestException", err)
	}
	def.MatchingEventTypes = append(def.MatchingEventTypes, sestypes.EventTypeDelivery)
	def.Enabled = false
	if _, err := e.ses.UpdateConfigurationSetEventDestination(ctx, &sesv2.UpdateConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String("cs"), EventDestinationName: aws.String("eb"), EventDestination: def,
	}); err != nil {
		t.Fatal(err)
	}
	dests, err := e.ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String("cs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(dests.EventDestinations) != 1 {
		t.Fatalf("event destinations: %+v", dests.EventDestinations)
	}
	d := dests.EventDestinations[0]
	if aws.ToString(d.Name) != "eb" || d.Enabled || len(d.MatchingEventTypes) != 3 || aws.ToString(d.EventBridgeDestination.EventBusArn) != bus {
		t.Errorf("event destination %+v", d)
	}
	var nf *sestypes.NotFoundException
	if _, err := e.ses.DeleteConfigurationSetEventDestination(ctx, &sesv2.DeleteConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String("cs"), EventDestinationName: aws.String("nope"),
	}); !errors.As(err, &nf) {
		t.Errorf("deleting a missing destination: %v, want NotFoundException", err)
	}
	if _, err := e.ses.DeleteConfigurationSetEventDestination(ctx, &sesv2.DeleteConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String("cs"), EventDestinationName: aws.String("eb"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ses.DeleteConfigurationSet(ctx, &sesv2.DeleteConfigurationSetInput{ConfigurationSetName: aws.String("cs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String("cs")}); !errors.As(err, &nf) {
		t.Errorf("deleted configuration set: %v, want NotFoundException", err)
	}
}

func TestSuppressionList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		reason := "BOUNCE"
		if i%5 == 0 {
			reason = "COMPLAINT"
		}
		e.sim.AddSuppressedDestination(testAccount, fmt.Sprintf("user%02d@example.com", i), reason, base.Add(time.Duration(i)*24*time.Hour))
	}
	if _, err := e.ses.PutSuppressedDestination(ctx, &sesv2.PutSuppressedDestinationInput{EmailAddress: aws.String("new@example.com"), Reason: sestypes.SuppressionListReasonComplaint}); err != nil {
		t.Fatal(err)
	}
	got, err := e.ses.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("new@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if sd := got.SuppressedDestination; sd.Reason != sestypes.SuppressionListReasonComplaint || !sd.LastUpdateTime.Equal(e.now()) {
		t.Errorf("GetSuppressedDestination: %+v", sd)
	}
	var bad *sestypes.BadRequestException
	if _, err := e.ses.PutSuppressedDestination(ctx, &sesv2.PutSuppressedDestinationInput{EmailAddress: aws.String("x@example.com"), Reason: "SPAM"}); !errors.As(err, &bad) {
		t.Errorf("invalid reason: %v, want BadRequestException", err)
	}

	list := func(in *sesv2.ListSuppressedDestinationsInput) (addrs []string, pages int) {
		t.Helper()
		p := sesv2.NewListSuppressedDestinationsPaginator(e.ses, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, s := range out.SuppressedDestinationSummaries {
				addrs = append(addrs, aws.ToString(s.EmailAddress))
			}
		}
		return addrs, pages
	}
	tests := []struct {
		name      string
		in        sesv2.ListSuppressedDestinationsInput
		wantCount int
		wantPages int
		wantFirst string
	}{
		{"all, 10 a page", sesv2.ListSuppressedDestinationsInput{PageSize: aws.Int32(10)}, 26, 3, "new@example.com"},
		{"bounces", sesv2.ListSuppressedDestinationsInput{Reasons: []sestypes.SuppressionListReason{"BOUNCE"}, PageSize: aws.Int32(7)}, 20, 3, "user24@example.com"},
		{"complaints", sesv2.ListSuppressedDestinationsInput{Reasons: []sestypes.SuppressionListReason{"COMPLAINT"}}, 6, 1, "new@example.com"},
		{"both reasons", sesv2.ListSuppressedDestinationsInput{Reasons: []sestypes.SuppressionListReason{"COMPLAINT", "BOUNCE"}}, 26, 1, "new@example.com"},
		{"date range", sesv2.ListSuppressedDestinationsInput{StartDate: aws.Time(base.Add(10 * 24 * time.Hour)), EndDate: aws.Time(base.Add(14 * 24 * time.Hour))}, 5, 1, "user14@example.com"},
		{"range and reason", sesv2.ListSuppressedDestinationsInput{
			StartDate: aws.Time(base.Add(10 * 24 * time.Hour)), EndDate: aws.Time(base.Add(14 * 24 * time.Hour)),
			Reasons: []sestypes.SuppressionListReason{"COMPLAINT"},
		}, 1, 1, "user10@example.com"},
	}
	for _, tt := range tests {
		addrs, pages := list(&tt.in)
		if len(addrs) != tt.wantCount || pages != tt.wantPages || (len(addrs) > 0 && addrs[0] != tt.wantFirst) {
			t.Errorf("%s: %d addresses in %d pages, first %v; want %d in %d, first %s", tt.name, len(addrs), pages, addrs, tt.wantCount, tt.wantPages, tt.wantFirst)
		}
	}
	_, err = e.ses.ListSuppressedDestinations(ctx, &sesv2.ListSuppressedDestinationsInput{NextToken: aws.String("garbage")})
	var badToken *sestypes.InvalidNextTokenException
	if !errors.As(err, &badToken) {
		t.Errorf("bad NextToken: %v, want InvalidNextTokenException", err)
	}

	if _, err := e.ses.DeleteSuppressedDestination(ctx, &sesv2.DeleteSuppressedDestinationInput{EmailAddress: aws.String("new@example.com")}); err != nil {
		t.Fatal(err)
	}
	var nf *sestypes.NotFoundException
	if _, err := e.ses.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("new@example.com")}); !errors.As(err, &nf) {
		t.Errorf("deleted address: %v, want NotFoundException", err)
	}
}

func TestEmailTemplates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	content := &sestypes.EmailTemplateContent{
		Subject: aws.String("Hello {{name}}"),
		Text:    aws.String("Dear {{name}}, your order {{order.id}} ships to {{order.city}}."),
		Html:    aws.String("<p>Dear {{name}}, order <b>{{order.id}}</b>{{#if vip}} (VIP){{/if}}</p>"),
	}
	if _, err := e.ses.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{TemplateName: aws.String("welcome"), TemplateContent: content}); err != nil {
		t.Fatal(err)
	}
	var exists *sestypes.AlreadyExistsException
	if _, err := e.ses.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{TemplateName: aws.String("welcome"), TemplateContent: content}); !errors.As(err, &exists) {
		t.Errorf("duplicate template: %v, want AlreadyExistsException", err)
	}
	got, err := e.ses.GetEmailTemplate(ctx, &sesv2.GetEmailTemplateInput{TemplateName: aws.String("welcome")})
	if err != nil || aws.ToString(got.TemplateContent.Subject) != "Hello {{name}}" {
		t.Fatalf("GetEmailTemplate: %+v %v", got, err)
	}

	out, err := e.ses.TestRenderEmailTemplate(ctx, &sesv2.TestRenderEmailTemplateInput{
		TemplateName: aws.String("welcome"),
		TemplateData: aws.String(`{"name":"Ana <3","order":{"id":42,"city":"Lyon"},"vip":true}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(aws.ToString(out.RenderedTemplate)))
	if err != nil {
		t.Fatalf("rendered template is not a MIME message: %v\n%s", err, aws.ToString(out.RenderedTemplate))
	}
	var dec mime.WordDecoder
	if subject, _ := dec.DecodeHeader(msg.Header.Get("Subject")); subject != "Hello Ana <3" {
		t.Errorf("subject %q", subject)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // multipart decodes quoted-printable
		parts = append(parts, string(b))
	}
	wantText := "Dear Ana <3, your order 42 ships to Lyon."
	wantHTML := "<p>Dear Ana <3, order <b>42</b> (VIP)</p>" // SES does not escape HTML
	if len(parts) != 2 || strings.TrimSpace(parts[0]) != wantText || strings.TrimSpace(parts[1]) != wantHTML {
		t.Errorf("parts %q, want %q and %q", parts, wantText, wantHTML)
	}

	var bad *sestypes.BadRequestException
	_, err = e.ses.TestRenderEmailTemplate(ctx, &sesv2.TestRenderEmailTemplateInput{TemplateName: aws.String("welcome"), TemplateData: aws.String(`{"name":"Ana"}`)})
	if !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), "Attribute 'order.id' is not present in the rendering data.") {
		t.Errorf("missing attribute: %v", err)
	}
	if _, err = e.ses.TestRenderEmailTemplate(ctx, &sesv2.TestRenderEmailTemplateInput{TemplateName: aws.String("welcome"), TemplateData: aws.String(`not json`)}); !errors.As(err, &bad) {
		t.Errorf("invalid data: %v, want BadRequestException", err)
	}
	var nf *sestypes.NotFoundException
	if _, err = e.ses.TestRenderEmailTemplate(ctx, &sesv2.TestRenderEmailTemplateInput{TemplateName: aws.String("nope"), TemplateData: aws.String(`{}`)}); !errors.As(err, &nf) {
		t.Errorf("missing template: %v, want NotFoundException", err)
	}

	content.Subject = aws.String("Bonjour {{name}}")
	if _, err := e.ses.UpdateEmailTemplate(ctx, &sesv2.UpdateEmailTemplateInput{TemplateName: aws.String("welcome"), TemplateContent: content}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ses.UpdateEmailTemplate(ctx, &sesv2.UpdateEmailTemplateInput{TemplateName: aws.String("welcome"), TemplateContent: &sestypes.EmailTemplateContent{
		Subject: aws.String("{{#if x}}unclosed"), Text: aws.String("t"),
	}}); !errors.As(err, &bad) {
		t.Errorf("template that does not parse: %v, want BadRequestException", err)
	}
	for i := range 11 {
		if _, err := e.ses.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{TemplateName: aws.String(fmt.Sprintf("t%02d", i)), TemplateContent: content}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	p := sesv2.NewListEmailTemplatesPaginator(e.ses, &sesv2.ListEmailTemplatesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.TemplatesMetadata {
			names = append(names, aws.ToString(m.TemplateName))
			if !m.CreatedTimestamp.Equal(e.now()) {
				t.Errorf("created %v, want %v", m.CreatedTimestamp, e.now())
			}
		}
	}
	if len(names) != 12 {
		t.Errorf("listed templates %v, want 12", names)
	}
	if _, err := e.ses.DeleteEmailTemplate(ctx, &sesv2.DeleteEmailTemplateInput{TemplateName: aws.String("welcome")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ses.GetEmailTemplate(ctx, &sesv2.GetEmailTemplateInput{TemplateName: aws.String("welcome")}); !errors.As(err, &nf) {
		t.Errorf("deleted template: %v, want NotFoundException", err)
	}
}

func TestSendEmailRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	if _, err := e.ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("example.com")}); err != nil {
		t.Fatal(err)
	}
	simple := func(from, to, cs string) *sesv2.SendEmailInput {
		in := &sesv2.SendEmailInput{
			FromEmailAddress: aws.String(from),
			Destination:      &sestypes.Destination{ToAddresses: []string{to}},
			Content: &sestypes.EmailContent{Simple: &sestypes.Message{
				Subject: &sestypes.Content{Data: aws.String("hi")},
				Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("hello")}},
			}},
		}
		if cs != "" {
			in.ConfigurationSetName = aws.String(cs)
		}
		return in
	}
	out, err := e.ses.SendEmail(ctx, simple("Sender <news@mail.example.com>", "success@simulator.amazonses.com", ""))
	if err != nil {
		t.Fatalf("send from a subdomain of a verified domain: %v", err)
	}
	if id := aws.ToString(out.MessageId); !strings.HasPrefix(id, "0100") || !strings.HasSuffix(id, "-000000") {
		t.Errorf("message id %q", id)
	}

	var rejected *sestypes.MessageRejected
	if _, err := e.ses.SendEmail(ctx, simple("someone@unverified.org", "success@simulator.amazonses.com", "")); !errors.As(err, &rejected) ||
		!strings.Contains(rejected.ErrorMessage(), "someone@unverified.org") {
		t.Errorf("unverified sender: %v, want MessageRejected naming it", err)
	}
	var nf *sestypes.NotFoundException
	if _, err := e.ses.SendEmail(ctx, simple("a@example.com", "success@simulator.amazonses.com", "missing")); !errors.As(err, &nf) {
		t.Errorf("missing configuration set: %v, want NotFoundException", err)
	}

	e.sim.SetAccountSettings(testAccount, SandboxAccountSettings())
	if _, err := e.ses.SendEmail(ctx, simple("a@example.com", "bounce@simulator.amazonses.com", "")); err != nil {
		t.Errorf("sandbox to the simulator: %v", err)
	}
	if _, err := e.ses.SendEmail(ctx, simple("a@example.com", "bob@customer.net", "")); !errors.As(err, &rejected) ||
		!strings.Contains(rejected.ErrorMessage(), "bob@customer.net") {
		t.Errorf("sandbox to an unverified recipient: %v, want MessageRejected", err)
	}

	paused := DefaultAccountSettings()
	paused.SendingEnabled = false
	e.sim.SetAccountSettings(testAccount, paused)
	var pausedErr *sestypes.SendingPausedException
	if _, err := e.ses.SendEmail(ctx, simple("a@example.com", "success@simulator.amazonses.com", "")); !errors.As(err, &pausedErr) {
		t.Errorf("sending disabled: %v, want SendingPausedException", err)
	}

	quota := DefaultAccountSettings()
	quota.Max24HourSend = 1
	e.sim.SetAccountSettings(testAccount, quota)
	if _, err := e.ses.SendEmail(ctx, simple("a@example.com", "bob@customer.net", "")); err != nil {
		t.Fatalf("first message within quota: %v", err)
	}
	var limit *sestypes.LimitExceededException
	if _, err := e.ses.SendEmail(ctx, simple("a@example.com", "carol@customer.net", "")); !errors.As(err, &limit) {
		t.Errorf("over the daily quota: %v, want LimitExceededException", err)
	}
	acct, err := e.ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil || acct.SendQuota.SentLast24Hours != 1 {
		t.Errorf("SentLast24Hours = %v (%v), want 1: simulator mail does not count", acct.SendQuota.SentLast24Hours, err)
	}
	e.advance(25 * time.Hour)
	if _, err := e.ses.SendEmail(ctx, simple("a@example.com", "carol@customer.net", "")); err != nil {
		t.Errorf("a day later: %v", err)
	}
}
