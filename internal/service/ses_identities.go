package service

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/dnscheck"
	"sendops/internal/domain"
)

// SES identity types, as SendOps names them.
const (
	IdentityDomain = "domain"
	IdentityEmail  = "email_address"
)

// SESIdentitySummary is an identity as SES lists it.
type SESIdentitySummary struct {
	Name string
	Type string // IdentityDomain or IdentityEmail
	// VerificationStatus is PENDING, SUCCESS, FAILED, TEMPORARY_FAILURE or
	// NOT_STARTED.
	VerificationStatus string
	SendingEnabled     bool
}

// SESIdentity is an identity with its DKIM and MAIL FROM state, the DNS
// records to publish for it and what DNS holds for each.
type SESIdentity struct {
	SESIdentitySummary
	DKIMStatus       string // same values as VerificationStatus
	DKIMSigning      bool
	MailFromDomain   string
	MailFromStatus   string // PENDING, SUCCESS, FAILED, TEMPORARY_FAILURE
	ConfigurationSet string // the identity's default configuration set
	// Records are the DNS records a domain identity needs (none for an
	// address, which SES verifies by a link it emails), each with what a
	// live lookup found at CheckedAt.
	Records   []dnscheck.Result
	CheckedAt time.Time
}

var identityDomainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

// normalIdentity checks an identity name: a domain or an email address,
// lower-cased. It returns the name and its type.
func normalIdentity(field, s string) (string, string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.Contains(s, "@") {
		addr, err := normalEmail(field, s)
		return addr, IdentityEmail, err
	}
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 || !identityDomainRE.MatchString(s) {
		return "", "", domain.FieldError(field, "Enter a domain (example.com) or an email address (name@example.com).")
	}
	return s, IdentityDomain, nil
}

// identityType maps SES's identity type to SendOps's name.
func identityType(t sestypes.IdentityType) string {
	if t == sestypes.IdentityTypeEmailAddress {
		return IdentityEmail
	}
	return IdentityDomain
}

// SESIdentities lists a page of the identities of a connection's account
// (the cursor is SES's). Anyone in the organisation, or read keys. Errors:
// EForbidden, ENotFound, EInvalid, ETooMany, EAWS.
func (s *Service) SESIdentities(ctx context.Context, a *domain.Actor, connID string, p domain.Page) ([]SESIdentitySummary, string, error) {
	client, size, token, err := s.sesListing(ctx, a, connID, p)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	out, err := client.ListEmailIdentities(ctx, &sesv2.ListEmailIdentitiesInput{PageSize: aws.Int32(size), NextToken: token})
	if err != nil {
		return nil, "", sesCallError(err, "ses:ListEmailIdentities")
	}
	ids := make([]SESIdentitySummary, 0, len(out.EmailIdentities))
	for _, id := range out.EmailIdentities {
		ids = append(ids, SESIdentitySummary{Name: aws.ToString(id.IdentityName), Type: identityType(id.IdentityType),
			VerificationStatus: string(id.VerificationStatus), SendingEnabled: id.SendingEnabled})
	}
	return ids, sesCursor(out.NextToken), nil
}

// SESIdentity reads one identity of a connection's account, with the DNS
// records it needs and a live lookup of each through the service's
// resolver. Anyone in the organisation, or read keys. Errors: EForbidden,
// ENotFound (the connection or the identity), EInvalid, ETooMany, EAWS.
func (s *Service) SESIdentity(ctx context.Context, a *domain.Actor, connID, name string) (*SESIdentity, error) {
	c, client, err := s.sesClient(ctx, a, domain.ActSESView, connID)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	out, err := client.GetEmailIdentity(actx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(name)})
	if err != nil {
		return nil, awsErrorMissing(err, "ses:GetEmailIdentity", noSuch(c, "identity", name))
	}
	id := &SESIdentity{
		SESIdentitySummary: SESIdentitySummary{Name: name, Type: identityType(out.IdentityType),
			VerificationStatus: string(out.VerificationStatus), SendingEnabled: out.VerifiedForSendingStatus},
		ConfigurationSet: aws.ToString(out.ConfigurationSetName),
	}
	var tokens []string
	if d := out.DkimAttributes; d != nil {
		id.DKIMStatus, id.DKIMSigning, tokens = string(d.Status), d.SigningEnabled, d.Tokens
	}
	if mf := out.MailFromAttributes; mf != nil {
		id.MailFromDomain, id.MailFromStatus = aws.ToString(mf.MailFromDomain), string(mf.MailFromDomainStatus)
	}
	s.checkDNS(ctx, id, tokens, c.Region)
	return id, nil
}

// checkDNS fills an identity's records and looks each up (for at most ten
// seconds in all).
func (s *Service) checkDNS(ctx context.Context, id *SESIdentity, dkimTokens []string, region string) {
	if id.Type != IdentityDomain {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	id.Records = dnscheck.Check(ctx, s.resolver(), dnscheck.Expected(id.Name, dkimTokens, id.MailFromDomain, region))
	id.CheckedAt = time.Now().UTC()
}

// SESIdentityInput is a new identity: a domain or an email address, and
// for a domain optionally a custom MAIL FROM domain (a subdomain of it).
type SESIdentityInput struct {
	Identity       string `json:"identity"`
	MailFromDomain string `json:"mail_from_domain,omitempty"`
}

// CreateSESIdentity adds an identity to a connection's account and, for a
// domain with a MAIL FROM domain, sets it; when that fails, the identity is
// removed again so that nothing is half-made. Once begun, the changes in
// AWS (and their undoing, and the audit entry) finish even if the client
// goes away. It answers the identity with the records to publish. Developers and up, or write keys. Errors:
// EForbidden, ENotFound, EInvalid (per field), EConflict (it exists),
// ETooMany, EAWS.
func (s *Service) CreateSESIdentity(ctx context.Context, a *domain.Actor, connID string, in SESIdentityInput) (*SESIdentity, error) {
	if err := a.Require(domain.ActSESManage); err != nil {
		return nil, err
	}
	name, typ, err := normalIdentity("identity", in.Identity)
	if err != nil {
		return nil, err
	}
	mailFrom := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(in.MailFromDomain)), ".")
	if mailFrom != "" {
		if typ != IdentityDomain {
			return nil, domain.FieldError("mail_from_domain", "A custom MAIL FROM domain belongs to a domain identity: add the domain %s instead.", name[strings.IndexByte(name, '@')+1:])
		}
		if !identityDomainRE.MatchString(mailFrom) || !strings.HasSuffix(mailFrom, "."+name) {
			return nil, domain.FieldError("mail_from_domain", "The MAIL FROM domain must be a subdomain of %s, such as mail.%s.", name, name)
		}
	}
	c, client, err := s.sesClient(ctx, a, domain.ActSESManage, connID)
	if err != nil {
		return nil, err
	}
	actx, cancel := detached(ctx, awsTimeout)
	defer cancel()
	out, err := client.CreateEmailIdentity(actx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(name)})
	if err != nil {
		err = awsError(err, "ses:CreateEmailIdentity")
		if domain.ErrorCode(err) == domain.EConflict {
			return nil, &domain.Error{Code: domain.EConflict, Field: "identity", Message: "The identity " + name + " already exists in SES in " + c.Region + "."}
		}
		return nil, err
	}
	if mailFrom != "" {
		_, err := client.PutEmailIdentityMailFromAttributes(actx, &sesv2.PutEmailIdentityMailFromAttributesInput{
			EmailIdentity: aws.String(name), MailFromDomain: aws.String(mailFrom), BehaviorOnMxFailure: sestypes.BehaviorOnMxFailureUseDefaultValue})
		if err != nil {
			err = awsError(err, "ses:PutEmailIdentityMailFromAttributes")
			// Undone with a time of its own: the failed call may have
			// used up actx's.
			uctx, cancel := detached(ctx, undoTimeout)
			defer cancel()
			_, derr := client.DeleteEmailIdentity(uctx, &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String(name)})
			if derr != nil {
				aerr := s.sesAudit(ctx, a, c, "identity.created", name, "MAIL FROM not set: "+domain.ErrorMessage(err))
				if aerr != nil {
					return nil, aerr
				}
				return nil, domain.Errorf(domain.EAWS, "The identity %s was added, but its MAIL FROM domain could not be set (%s), and removing the identity again failed too (%s). It is in SES without a MAIL FROM domain.",
					name, domain.ErrorMessage(err), domain.ErrorMessage(awsError(derr, "ses:DeleteEmailIdentity")))
			}
			return nil, &domain.Error{Code: domain.ErrorCode(err), Field: "mail_from_domain", RetryAfter: domain.RetryAfter(err),
				Message: "Nothing was added: the MAIL FROM domain could not be set. " + domain.ErrorMessage(err)}
		}
	}
	details := []string{typ}
	if mailFrom != "" {
		details = append(details, "MAIL FROM "+mailFrom)
	}
	if err := s.sesAudit(ctx, a, c, "identity.created", name, details...); err != nil {
		return nil, err
	}
	id := &SESIdentity{SESIdentitySummary: SESIdentitySummary{Name: name, Type: identityType(out.IdentityType), SendingEnabled: out.VerifiedForSendingStatus},
		MailFromDomain: mailFrom}
	id.VerificationStatus = "PENDING"
	if out.VerifiedForSendingStatus {
		id.VerificationStatus = "SUCCESS"
	}
	if mailFrom != "" {
		id.MailFromStatus = "PENDING"
	}
	var tokens []string
	if d := out.DkimAttributes; d != nil {
		id.DKIMStatus, id.DKIMSigning, tokens = string(d.Status), d.SigningEnabled, d.Tokens
	}
	s.checkDNS(ctx, id, tokens, c.Region)
	return id, nil
}

// DeleteSESIdentity removes an identity from a connection's account: SES
// stops sending from it at once. Developers and up, or write keys. Errors:
// EForbidden, ENotFound, EInvalid, ETooMany, EAWS.
func (s *Service) DeleteSESIdentity(ctx context.Context, a *domain.Actor, connID, name string) error {
	c, client, err := s.sesClient(ctx, a, domain.ActSESManage, connID)
	if err != nil {
		return err
	}
	actx, cancel := detached(ctx, awsTimeout)
	defer cancel()
	if _, err := client.DeleteEmailIdentity(actx, &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String(name)}); err != nil {
		return awsErrorMissing(err, "ses:DeleteEmailIdentity", noSuch(c, "identity", name))
	}
	return s.sesAudit(ctx, a, c, "identity.deleted", name)
}
