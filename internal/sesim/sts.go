package sesim

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

var roleSessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func (s *Sim) serveSTS(c *call) {
	if c.r.Method != http.MethodPost {
		c.fail(errorf(400, "InvalidAction", "STS accepts POST requests only"))
		return
	}
	form, err := url.ParseQuery(string(c.body))
	if err != nil {
		c.fail(errorf(400, "MalformedInput", "The request body is not a valid form"))
		return
	}
	if v := form.Get("Version"); v != "2011-06-15" {
		c.fail(errorf(400, "InvalidParameterValue", "Unsupported version: %q", v))
		return
	}
	switch action := form.Get("Action"); action {
	case "GetCallerIdentity":
		s.stsGetCallerIdentity(c)
	case "AssumeRole":
		s.stsAssumeRole(c, form)
	default:
		c.fail(errorf(400, "InvalidAction", "Could not find operation %s for version 2011-06-15", action))
	}
}

type stsResponseMetadata struct {
	RequestID string `xml:"RequestId"`
}

func (c *call) writeXML(v any) {
	c.w.Header().Set("Content-Type", "text/xml")
	c.w.WriteHeader(http.StatusOK)
	c.w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(c.w)
	enc.Indent("", "  ")
	enc.Encode(v)
}

func (s *Sim) stsGetCallerIdentity(c *call) {
	s.mu.Lock()
	throttled := s.throttledLocked("GetCallerIdentity")
	s.mu.Unlock()
	if throttled {
		c.fail(errorf(400, "Throttling", "Rate exceeded"))
		return
	}
	type result struct {
		Arn     string
		UserID  string `xml:"UserId"`
		Account string
	}
	type response struct {
		XMLName  xml.Name            `xml:"GetCallerIdentityResponse"`
		Xmlns    string              `xml:"xmlns,attr"`
		Result   result              `xml:"GetCallerIdentityResult"`
		Metadata stsResponseMetadata `xml:"ResponseMetadata"`
	}
	c.writeXML(response{
		Xmlns:    stsNamespace,
		Result:   result{Arn: c.caller.arn, UserID: c.caller.userID, Account: c.caller.account},
		Metadata: stsResponseMetadata{RequestID: c.requestID},
	})
}

// stsAssumeRole issues temporary credentials for a role that trusts the
// caller. As on AWS, a missing role, an untrusted caller and a wrong
// ExternalId all answer the same AccessDenied.
func (s *Sim) stsAssumeRole(c *call, form url.Values) {
	roleArn := form.Get("RoleArn")
	sessionName := form.Get("RoleSessionName")
	if roleArn == "" || sessionName == "" {
		missing := "roleArn"
		if roleArn != "" {
			missing = "roleSessionName"
		}
		c.fail(errorf(400, "ValidationError", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", missing))
		return
	}
	if !roleSessionNameRE.MatchString(sessionName) {
		c.fail(errorf(400, "ValidationError", "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", sessionName))
		return
	}
	duration := time.Hour
	if v := form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 {
			c.fail(errorf(400, "ValidationError", "1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", v))
			return
		}
		duration = time.Duration(n) * time.Second
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if aerr := c.authorizeLocked("AssumeRole", roleArn); aerr != nil {
		c.fail(aerr)
		return
	}
	denied := c.deny("sts:AssumeRole", roleArn)
	accountID, roleName, ok := parseRoleARN(roleArn)
	if !ok {
		c.fail(errorf(400, "ValidationError", "%s is invalid", roleArn))
		return
	}
	a := s.accounts[accountID]
	if a == nil || a.roles[roleName] == nil {
		c.fail(denied)
		return
	}
	r := a.roles[roleName]
	if !s.trustsLocked(r, c.caller) {
		c.fail(denied)
		return
	}
	if r.externalID != "" && form.Get("ExternalId") != r.externalID {
		c.fail(denied)
		return
	}
	if duration > r.maxSession {
		c.fail(errorf(400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."))
		return
	}

	expires := s.now().Add(duration).Truncate(time.Second)
	cred := &credential{
		id:      "ASIA" + randomUpper(16),
		secret:  randomSecret(40),
		token:   "IQoJb3JpZ2luX2VjE" + randomSecret(300),
		expires: expires,
		principal: principal{
			account:  accountID,
			arn:      "arn:aws:sts::" + accountID + ":assumed-role/" + roleName + "/" + sessionName,
			userID:   r.id + ":" + sessionName,
			name:     roleName,
			roleName: roleName,
		},
	}
	s.keys[cred.id] = cred

	type credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	type assumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string
	}
	type result struct {
		Credentials     credentials
		AssumedRoleUser assumedRoleUser
	}
	type response struct {
		XMLName  xml.Name            `xml:"AssumeRoleResponse"`
		Xmlns    string              `xml:"xmlns,attr"`
		Result   result              `xml:"AssumeRoleResult"`
		Metadata stsResponseMetadata `xml:"ResponseMetadata"`
	}
	c.writeXML(response{
		Xmlns: stsNamespace,
		Result: result{
			Credentials: credentials{
				AccessKeyID:     cred.id,
				SecretAccessKey: cred.secret,
				SessionToken:    cred.token,
				Expiration:      expires.Format(time.RFC3339),
			},
			AssumedRoleUser: assumedRoleUser{AssumedRoleID: cred.principal.userID, Arn: cred.principal.arn},
		},
		Metadata: stsResponseMetadata{RequestID: c.requestID},
	})
}

// trustsLocked reports whether the role's trust policy lets p assume it.
func (s *Sim) trustsLocked(r *role, p principal) bool {
	switch r.trusted {
	case "*", p.arn:
		return true
	case "arn:aws:iam::" + p.account + ":root":
		return true
	}
	return p.roleName != "" && r.trusted == roleARN(p.account, p.roleName)
}

func parseRoleARN(arn string) (accountID, name string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::")
	if !ok {
		return "", "", false
	}
	accountID, res, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", false
	}
	res, ok = strings.CutPrefix(res, "role/")
	if !ok || res == "" {
		return "", "", false
	}
	// Roles may have a path: role/path/to/Name.
	if i := strings.LastIndex(res, "/"); i >= 0 {
		res = res[i+1:]
	}
	return accountID, res, true
}
