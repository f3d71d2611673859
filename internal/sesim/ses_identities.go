package sesim

import (
	"fmt"
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"time"
)

type identity struct {
	name           string
	kind           string // EMAIL_ADDRESS or DOMAIN
	verification   string // VerificationStatus
	dkimStatus     string
	dkimTokens     []string
	mailFromDomain string
	mailFromStatus string
	behaviorOnMx   string
	configSet      string
	tags           []tag
	created        time.Time
}

var domainRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

// IdentityStatus is what SES found of an identity's DNS records and
// verification. Empty fields are left unchanged by SetIdentityStatus.
type IdentityStatus struct {
	// Verification is the VerificationStatus: PENDING, SUCCESS, FAILED,
	// TEMPORARY_FAILURE or NOT_STARTED.
	Verification string
	// Dkim is the DkimStatus of a domain identity (same values).
	Dkim string
	// MailFrom is the MailFromDomainStatus: PENDING, SUCCESS, FAILED or
	// TEMPORARY_FAILURE.
	MailFrom string
}

// SetIdentityStatus sets the verification, DKIM and MAIL FROM status of an
// identity in the default region, as SES would after checking DNS.
func (s *Sim) SetIdentityStatus(accountID, name string, st IdentityStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.regionLocked(accountID, s.opts.Region).identities[strings.ToLower(name)]
	if id == nil {
		return fmt.Errorf("sesim: identity %s not found in account %s", name, accountID)
	}
	if st.Verification != "" {
		id.verification = st.Verification
	}
	if st.Dkim != "" && id.kind == "DOMAIN" {
		id.dkimStatus = st.Dkim
	}
	if st.MailFrom != "" && id.mailFromDomain != "" {
		id.mailFromStatus = st.MailFrom
	}
	return nil
}

// identityKind tells an email address from a domain, or "" for neither.
func identityKind(name string) string {
	if strings.Contains(name, "@") {
		a, err := mail.ParseAddress(name)
		if err != nil || a.Address != name || a.Name != "" {
			return ""
		}
		_, domain, _ := strings.Cut(name, "@")
		if !domainRE.MatchString(domain) {
			return ""
		}
		return "EMAIL_ADDRESS"
	}
	if len(name) <= 253 && domainRE.MatchString(name) {
		return "DOMAIN"
	}
	return ""
}

func (s *Sim) sesCreateEmailIdentity(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		EmailIdentity         string
		Tags                  []tag
		ConfigurationSetName  string
		DkimSigningAttributes *struct{ DomainSigningSelector, DomainSigningPrivateKey string }
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	kind := identityKind(in.EmailIdentity)
	if kind == "" {
		return nil, badRequest("Invalid email identity: %s", in.EmailIdentity)
	}
	key := strings.ToLower(in.EmailIdentity)
	if rs.identities[key] != nil {
		return nil, alreadyExists("Email identity %s already exists.", in.EmailIdentity)
	}
	if in.ConfigurationSetName != "" && rs.configSets[in.ConfigurationSetName] == nil {
		return nil, notFound("Configuration set %s does not exist.", in.ConfigurationSetName)
	}
	if in.DkimSigningAttributes != nil {
		return nil, badRequest("sesim does not emulate Bring Your Own DKIM; omit DkimSigningAttributes")
	}
	status := "SUCCESS"
	if s.opts.PendingVerification {
		status = "PENDING"
	}
	id := &identity{
		name:         in.EmailIdentity,
		kind:         kind,
		verification: status,
		dkimStatus:   "NOT_STARTED",
		configSet:    in.ConfigurationSetName,
		tags:         in.Tags,
		created:      s.now(),
	}
	if kind == "DOMAIN" {
		id.dkimStatus = status
		for range 3 {
			id.dkimTokens = append(id.dkimTokens, randomFrom(lowerAlnum, 32))
		}
	}
	rs.identities[key] = id
	return struct {
		IdentityType             string
		VerifiedForSendingStatus bool
		DkimAttributes           any
	}{id.kind, id.verification == "SUCCESS", id.dkimAttributes()}, nil
}

type dkimAttributes struct {
	SigningEnabled             bool
	Status                     string
	Tokens                     []string
	SigningAttributesOrigin    string
	NextSigningKeyLength       string `json:",omitempty"`
	CurrentSigningKeyLength    string `json:",omitempty"`
	LastKeyGenerationTimestamp any    `json:",omitempty"`
}

func (id *identity) dkimAttributes() dkimAttributes {
	d := dkimAttributes{
		SigningEnabled:          id.kind == "DOMAIN",
		Status:                  id.dkimStatus,
		Tokens:                  id.dkimTokens,
		SigningAttributesOrigin: "AWS_SES",
	}
	if d.Tokens == nil {
		d.Tokens = []string{}
	}
	if id.kind == "DOMAIN" {
		d.NextSigningKeyLength = "RSA_2048_BIT"
		d.CurrentSigningKeyLength = "RSA_2048_BIT"
		d.LastKeyGenerationTimestamp = epoch(id.created)
	}
	return d
}

func (c *call) identity(rs *regionState) (*identity, *apiError) {
	name := c.r.PathValue("EmailIdentity")
	id := rs.identities[strings.ToLower(name)]
	if id == nil {
		return nil, notFound("Email identity %s does not exist.", name)
	}
	return id, nil
}

func sesGetEmailIdentity(c *call, rs *regionState) (any, *apiError) {
	id, aerr := c.identity(rs)
	if aerr != nil {
		return nil, aerr
	}
	type mailFrom struct {
		MailFromDomain       string
		MailFromDomainStatus string
		BehaviorOnMxFailure  string
	}
	out := struct {
		IdentityType             string
		FeedbackForwardingStatus bool
		VerifiedForSendingStatus bool
		VerificationStatus       string
		DkimAttributes           dkimAttributes
		MailFromAttributes       mailFrom
		Policies                 map[string]string
		Tags                     []tag
		ConfigurationSetName     string `json:",omitempty"`
	}{
		IdentityType:             id.kind,
		FeedbackForwardingStatus: true,
		VerifiedForSendingStatus: id.verification == "SUCCESS",
		VerificationStatus:       id.verification,
		DkimAttributes:           id.dkimAttributes(),
		MailFromAttributes: mailFrom{
			MailFromDomain:       id.mailFromDomain,
			MailFromDomainStatus: id.mailFromStatus,
			BehaviorOnMxFailure:  id.behaviorOnMx,
		},
		Policies:             map[string]string{},
		Tags:                 id.tags,
		ConfigurationSetName: id.configSet,
	}
	if out.MailFromAttributes.BehaviorOnMxFailure == "" {
		out.MailFromAttributes.BehaviorOnMxFailure = "USE_DEFAULT_VALUE"
	}
	if out.Tags == nil {
		out.Tags = []tag{}
	}
	return out, nil
}

func sesDeleteEmailIdentity(c *call, rs *regionState) (any, *apiError) {
	id, aerr := c.identity(rs)
	if aerr != nil {
		return nil, aerr
	}
	delete(rs.identities, strings.ToLower(id.name))
	return nil, nil
}

func sesListEmailIdentities(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		NextToken string
		PageSize  int
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if aerr := queryPaging(c, &in.NextToken, &in.PageSize); aerr != nil {
		return nil, aerr
	}
	type info struct {
		IdentityType       string
		IdentityName       string
		SendingEnabled     bool
		VerificationStatus string
	}
	all := make([]info, 0, len(rs.identities))
	for _, id := range rs.identities {
		all = append(all, info{id.kind, id.name, id.verification == "SUCCESS", id.verification})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].IdentityName < all[j].IdentityName })
	items, next, err := page(all, in.NextToken, in.PageSize, 100, 1000)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return struct {
		EmailIdentities []info
		NextToken       string `json:",omitempty"`
	}{items, next}, nil
}

// queryPaging reads NextToken and PageSize from the query string, where
// GET list operations carry them.
func queryPaging(c *call, token *string, size *int) *apiError {
	q := c.r.URL.Query()
	if v := q.Get("NextToken"); v != "" {
		*token = v
	}
	if v := q.Get("PageSize"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", size); err != nil {
			return badRequest("Invalid PageSize: %s", v)
		}
	}
	return nil
}

func (s *Sim) sesPutEmailIdentityMailFromAttributes(c *call, rs *regionState) (any, *apiError) {
	id, aerr := c.identity(rs)
	if aerr != nil {
		return nil, aerr
	}
	var in struct {
		MailFromDomain      string
		BehaviorOnMxFailure string
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	switch in.BehaviorOnMxFailure {
	case "", "USE_DEFAULT_VALUE", "REJECT_MESSAGE":
	default:
		return nil, badRequest("Invalid BehaviorOnMxFailure: %s", in.BehaviorOnMxFailure)
	}
	if in.MailFromDomain == "" {
		id.mailFromDomain, id.mailFromStatus, id.behaviorOnMx = "", "", in.BehaviorOnMxFailure
		return nil, nil
	}
	parent := id.name
	if id.kind == "EMAIL_ADDRESS" {
		_, parent, _ = strings.Cut(id.name, "@")
	}
	mf := strings.ToLower(in.MailFromDomain)
	if !domainRE.MatchString(mf) || !strings.HasSuffix(mf, "."+strings.ToLower(parent)) {
		return nil, badRequest("Invalid custom MAIL FROM domain: %s is not a subdomain of %s.", in.MailFromDomain, parent)
	}
	status := "SUCCESS"
	if s.opts.PendingVerification {
		status = "PENDING"
	}
	id.mailFromDomain, id.mailFromStatus, id.behaviorOnMx = in.MailFromDomain, status, in.BehaviorOnMxFailure
	return nil, nil
}

// verifiedIdentity finds the verified identity that lets addr send: the
// address itself, its domain or a parent domain.
func (rs *regionState) verifiedIdentity(addr string) *identity {
	addr = strings.ToLower(addr)
	if id := rs.identities[addr]; id != nil && id.verification == "SUCCESS" {
		return id
	}
	_, domain, ok := strings.Cut(addr, "@")
	for ok {
		if id := rs.identities[domain]; id != nil && id.verification == "SUCCESS" {
			return id
		}
		_, domain, ok = strings.Cut(domain, ".")
		ok = ok && strings.Contains(domain, ".")
	}
	return nil
}
