package sesim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// regionState is one account's SES and EventBridge resources in a region.
type regionState struct {
	account  string
	region   string
	settings AccountSettings
	sends    []sendRecord // recipients counted against the 24-hour quota

	identities  map[string]*identity // by lower-cased name
	configSets  map[string]*configSet
	suppressed  map[string]*suppressedDest // by lower-cased address
	templates   map[string]*emailTemplate
	connections map[string]*ebConnection
	apiDests    map[string]*apiDestination
	rules       map[string]*ebRule
}

type sendRecord struct {
	at         time.Time
	recipients int
}

// AccountSettings is the SES account state that GetAccount reports and that
// AWS, not the customer, controls.
type AccountSettings struct {
	Max24HourSend           float64
	MaxSendRate             float64
	ProductionAccessEnabled bool
	// EnforcementStatus is HEALTHY, PROBATION or SHUTDOWN; SHUTDOWN makes
	// SendEmail fail with AccountSuspendedException.
	EnforcementStatus string
	// SendingEnabled false makes SendEmail fail with SendingPausedException.
	SendingEnabled bool
	// SuppressedReasons of the account-level suppression list (BOUNCE,
	// COMPLAINT): a recipient listed for one of them is not sent to (a
	// Permanent/OnAccountSuppressionList bounce instead). Empty: none.
	SuppressedReasons []string
}

// DefaultAccountSettings is a production account's state: out of the
// sandbox, 50,000 messages a day at 14 a second, healthy and enabled.
func DefaultAccountSettings() AccountSettings {
	return AccountSettings{
		Max24HourSend:           50000,
		MaxSendRate:             14,
		ProductionAccessEnabled: true,
		EnforcementStatus:       "HEALTHY",
		SendingEnabled:          true,
		SuppressedReasons:       []string{"BOUNCE", "COMPLAINT"},
	}
}

// SandboxAccountSettings is a new account's state: in the sandbox, 200
// messages a day at 1 a second.
func SandboxAccountSettings() AccountSettings {
	a := DefaultAccountSettings()
	a.Max24HourSend, a.MaxSendRate, a.ProductionAccessEnabled = 200, 1, false
	return a
}

func (s *Sim) regionLocked(accountID, region string) *regionState {
	a := s.accountLocked(accountID)
	rs := a.regions[region]
	if rs == nil {
		rs = &regionState{
			account:     accountID,
			region:      region,
			settings:    DefaultAccountSettings(),
			identities:  make(map[string]*identity),
			configSets:  make(map[string]*configSet),
			suppressed:  make(map[string]*suppressedDest),
			templates:   make(map[string]*emailTemplate),
			connections: make(map[string]*ebConnection),
			apiDests:    make(map[string]*apiDestination),
			rules:       make(map[string]*ebRule),
		}
		a.regions[region] = rs
	}
	return rs
}

// SetAccountSettings sets the SES account state of an account in the
// default region.
func (s *Sim) SetAccountSettings(accountID string, a AccountSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.SuppressedReasons = append([]string(nil), a.SuppressedReasons...)
	s.regionLocked(accountID, s.opts.Region).settings = a
}

// GetAccountSettings returns the SES account state of an account in the
// default region.
func (s *Sim) GetAccountSettings(accountID string) AccountSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.regionLocked(accountID, s.opts.Region).settings
	a.SuppressedReasons = append([]string(nil), a.SuppressedReasons...)
	return a
}

func (rs *regionState) sentLast24Hours(now time.Time) float64 {
	cutoff := now.Add(-24 * time.Hour)
	kept := rs.sends[:0]
	n := 0
	for _, r := range rs.sends {
		if r.at.After(cutoff) {
			kept = append(kept, r)
			n += r.recipients
		}
	}
	rs.sends = kept
	return float64(n)
}

// sesHandler serves one SES operation with s.mu held.
type sesHandler func(c *call, rs *regionState) (any, *apiError)

type callKey struct{}

func (s *Sim) sesRoutes() *http.ServeMux {
	s.sesMuxOnce.Do(func() {
		mux := http.NewServeMux()
		route := func(pattern, op string, h sesHandler) {
			mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
				c := r.Context().Value(callKey{}).(*call)
				c.r = r
				s.mu.Lock()
				rs := s.regionLocked(c.caller.account, c.region)
				if aerr := c.authorizeLocked(op, sesResource(r, rs)); aerr != nil {
					s.mu.Unlock()
					c.fail(aerr)
					return
				}
				out, aerr := h(c, rs)
				s.mu.Unlock()
				if aerr != nil {
					c.fail(aerr)
					return
				}
				if out == nil {
					out = struct{}{}
				}
				c.writeJSON(out)
			})
		}
		route("GET /v2/email/account", "GetAccount", sesGetAccount)
		route("PUT /v2/email/account/sending", "PutAccountSendingAttributes", sesPutAccountSendingAttributes)

		route("POST /v2/email/identities", "CreateEmailIdentity", s.sesCreateEmailIdentity)
		route("GET /v2/email/identities/{EmailIdentity}", "GetEmailIdentity", sesGetEmailIdentity)
		route("DELETE /v2/email/identities/{EmailIdentity}", "DeleteEmailIdentity", sesDeleteEmailIdentity)
		route("GET /v2/email/identities", "ListEmailIdentities", sesListEmailIdentities)
		route("POST /v2/email/list-identities", "ListEmailIdentities", sesListEmailIdentities)
		route("PUT /v2/email/identities/{EmailIdentity}/mail-from", "PutEmailIdentityMailFromAttributes", s.sesPutEmailIdentityMailFromAttributes)

		route("POST /v2/email/configuration-sets", "CreateConfigurationSet", sesCreateConfigurationSet)
		route("GET /v2/email/configuration-sets/{ConfigurationSetName}", "GetConfigurationSet", sesGetConfigurationSet)
		route("DELETE /v2/email/configuration-sets/{ConfigurationSetName}", "DeleteConfigurationSet", sesDeleteConfigurationSet)
		route("GET /v2/email/configuration-sets", "ListConfigurationSets", sesListConfigurationSets)
		route("POST /v2/email/list-configuration-sets", "ListConfigurationSets", sesListConfigurationSets)
		route("POST /v2/email/configuration-sets/{ConfigurationSetName}/event-destinations", "CreateConfigurationSetEventDestination", sesCreateEventDestination)
		route("GET /v2/email/configuration-sets/{ConfigurationSetName}/event-destinations", "GetConfigurationSetEventDestinations", sesGetEventDestinations)
		route("PUT /v2/email/configuration-sets/{ConfigurationSetName}/event-destinations/{EventDestinationName}", "UpdateConfigurationSetEventDestination", sesUpdateEventDestination)
		route("DELETE /v2/email/configuration-sets/{ConfigurationSetName}/event-destinations/{EventDestinationName}", "DeleteConfigurationSetEventDestination", sesDeleteEventDestination)

		route("PUT /v2/email/suppression/addresses", "PutSuppressedDestination", sesPutSuppressedDestination)
		route("GET /v2/email/suppression/addresses/{EmailAddress}", "GetSuppressedDestination", sesGetSuppressedDestination)
		route("DELETE /v2/email/suppression/addresses/{EmailAddress}", "DeleteSuppressedDestination", sesDeleteSuppressedDestination)
		route("GET /v2/email/suppression/addresses", "ListSuppressedDestinations", sesListSuppressedDestinations)

		route("POST /v2/email/templates", "CreateEmailTemplate", sesCreateEmailTemplate)
		route("GET /v2/email/templates/{TemplateName}", "GetEmailTemplate", sesGetEmailTemplate)
		route("PUT /v2/email/templates/{TemplateName}", "UpdateEmailTemplate", sesUpdateEmailTemplate)
		route("DELETE /v2/email/templates/{TemplateName}", "DeleteEmailTemplate", sesDeleteEmailTemplate)
		route("GET /v2/email/templates", "ListEmailTemplates", sesListEmailTemplates)
		route("POST /v2/email/templates/{TemplateName}/render", "TestRenderEmailTemplate", sesTestRenderEmailTemplate)

		route("POST /v2/email/outbound-emails", "SendEmail", s.sesSendEmail)
		s.sesMux = mux
	})
	return s.sesMux
}

func (s *Sim) serveSES(c *call) {
	mux := s.sesRoutes()
	r := c.r.WithContext(context.WithValue(c.r.Context(), callKey{}, c))
	if _, pattern := mux.Handler(r); pattern == "" {
		c.fail(errorf(404, "UnknownOperationException", "sesim does not emulate %s %s", c.r.Method, c.r.URL.Path))
		return
	}
	mux.ServeHTTP(c.w, r)
}

// sesResource names the resource of an SES request in AccessDenied messages.
func sesResource(r *http.Request, rs *regionState) string {
	base := "arn:aws:ses:" + rs.region + ":" + rs.account + ":"
	switch {
	case r.PathValue("EmailIdentity") != "":
		return base + "identity/" + r.PathValue("EmailIdentity")
	case r.PathValue("ConfigurationSetName") != "":
		return base + "configuration-set/" + r.PathValue("ConfigurationSetName")
	case r.PathValue("TemplateName") != "":
		return base + "template/" + r.PathValue("TemplateName")
	}
	return base + "*"
}

// decode reads a JSON request body into v; an empty body is an empty object.
func (c *call) decode(v any) *apiError {
	if len(strings.TrimSpace(string(c.body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		code := "BadRequestException"
		if c.proto == protoEvents {
			code = "SerializationException"
		}
		return errorf(400, code, "Could not parse the request body: %v", err)
	}
	return nil
}

func badRequest(format string, args ...any) *apiError {
	return errorf(400, "BadRequestException", format, args...)
}

func notFound(format string, args ...any) *apiError {
	return errorf(404, "NotFoundException", format, args...)
}

func alreadyExists(format string, args ...any) *apiError {
	return errorf(400, "AlreadyExistsException", format, args...)
}

type sendQuota struct {
	Max24HourSend   float64
	MaxSendRate     float64
	SentLast24Hours float64
}

func sesGetAccount(c *call, rs *regionState) (any, *apiError) {
	a := rs.settings
	reasons := a.SuppressedReasons
	if reasons == nil {
		reasons = []string{}
	}
	return struct {
		DedicatedIpAutoWarmupEnabled bool
		EnforcementStatus            string
		ProductionAccessEnabled      bool
		SendQuota                    sendQuota
		SendingEnabled               bool
		SuppressionAttributes        struct{ SuppressedReasons []string }
	}{
		EnforcementStatus:       a.EnforcementStatus,
		ProductionAccessEnabled: a.ProductionAccessEnabled,
		SendQuota: sendQuota{
			Max24HourSend:   a.Max24HourSend,
			MaxSendRate:     a.MaxSendRate,
			SentLast24Hours: rs.sentLast24Hours(c.sim.now()),
		},
		SendingEnabled:        a.SendingEnabled,
		SuppressionAttributes: struct{ SuppressedReasons []string }{reasons},
	}, nil
}

func sesPutAccountSendingAttributes(c *call, rs *regionState) (any, *apiError) {
	var in struct{ SendingEnabled bool }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rs.settings.SendingEnabled = in.SendingEnabled
	return nil, nil
}

// tag is an SES resource tag.
type tag struct {
	Key   string
	Value string
}
