package sesim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

type ebConnection struct {
	name, arn, description, authType string
	apiKeyName, apiKeyValue          string
	basicUser, basicPassword         string
	invocationHTTP                   *httpParameters
	secretArn                        string
	created, modified, authorized    time.Time
	// state is the ConnectionState DescribeConnection reports, set by
	// SetConnectionState; "" is AUTHORIZED.
	state string
}

// SetConnectionState makes DescribeConnection report an EventBridge
// connection of the default region in state (CREATING, UPDATING,
// AUTHORIZING, DEAUTHORIZED…), as AWS does while it works on it or after
// its authorisation failed. Invocations are unaffected.
func (s *Sim) SetConnectionState(accountID, name, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	conn := s.regionLocked(accountID, s.opts.Region).connections[name]
	if conn == nil {
		return fmt.Errorf("sesim: EventBridge connection %s not found in account %s", name, accountID)
	}
	conn.state = state
	return nil
}

// httpParameters are extra header and query parameters EventBridge adds to
// invocations (a connection's InvocationHttpParameters uses the list form,
// a target's HttpParameters the map form; both are decoded here).
type httpParameters struct {
	HeaderParameters      []keyValue `json:",omitempty"`
	QueryStringParameters []keyValue `json:",omitempty"`
	BodyParameters        []keyValue `json:",omitempty"`
}

type keyValue struct {
	Key           string
	Value         string
	IsValueSecret bool
}

type apiDestination struct {
	name, arn, description, connectionArn, endpoint, method string
	rate                                                    int
	created, modified                                       time.Time
}

type ebRule struct {
	name, arn, description, state, schedule, roleArn string
	eventPattern                                     string
	pattern                                          map[string]any
	targets                                          []*ebTarget
}

type ebTarget struct {
	raw     json.RawMessage // as sent, returned by ListTargetsByRule
	ID      string          `json:"Id"`
	Arn     string
	RoleArn string
	Input   string
	// InputPath selects part of the event ("$", "$.detail"…).
	InputPath      string
	HttpParameters *struct {
		PathParameterValues   []string
		HeaderParameters      map[string]string
		QueryStringParameters map[string]string
	}
	RetryPolicy *struct {
		MaximumRetryAttempts     *int
		MaximumEventAgeInSeconds *int
	}
}

var ebNameRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)

func ebNotFound(format string, args ...any) *apiError {
	return errorf(400, "ResourceNotFoundException", format, args...)
}

func ebValidation(format string, args ...any) *apiError {
	return errorf(400, "ValidationException", format, args...)
}

type ebHandler func(c *call, rs *regionState) (any, *apiError)

var ebOperations = map[string]ebHandler{
	"CreateConnection":       ebCreateConnection,
	"DescribeConnection":     ebDescribeConnection,
	"UpdateConnection":       ebUpdateConnection,
	"DeleteConnection":       ebDeleteConnection,
	"ListConnections":        ebListConnections,
	"CreateApiDestination":   ebCreateApiDestination,
	"DescribeApiDestination": ebDescribeApiDestination,
	"UpdateApiDestination":   ebUpdateApiDestination,
	"DeleteApiDestination":   ebDeleteApiDestination,
	"ListApiDestinations":    ebListApiDestinations,
	"PutRule":                ebPutRule,
	"DescribeRule":           ebDescribeRule,
	"DeleteRule":             ebDeleteRule,
	"ListRules":              ebListRules,
	"PutTargets":             ebPutTargets,
	"ListTargetsByRule":      ebListTargetsByRule,
	"RemoveTargets":          ebRemoveTargets,
}

func (s *Sim) serveEvents(c *call) {
	op, ok := strings.CutPrefix(c.r.Header.Get("X-Amz-Target"), "AWSEvents.")
	h := ebOperations[op]
	if !ok || h == nil {
		c.fail(errorf(400, "UnknownOperationException", "sesim does not emulate EventBridge operation %q", c.r.Header.Get("X-Amz-Target")))
		return
	}
	var names struct{ Name, Rule string }
	json.Unmarshal(c.body, &names)
	s.mu.Lock()
	rs := s.regionLocked(c.caller.account, c.region)
	if aerr := c.authorizeLocked(op, ebResource(rs, op, names.Name, names.Rule)); aerr != nil {
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
}

func ebResource(rs *regionState, op, name, rule string) string {
	base := "arn:aws:events:" + rs.region + ":" + rs.account + ":"
	switch {
	case rule != "":
		return base + "rule/" + rule
	case name == "":
		return base + "*"
	case strings.Contains(op, "Connection"):
		return base + "connection/" + name
	case strings.Contains(op, "ApiDestination"):
		return base + "api-destination/" + name
	default:
		return base + "rule/" + name
	}
}

// checkBus accepts the default bus, by name or ARN, the only one emulated.
func checkBus(rs *regionState, bus string) *apiError {
	if bus == "" || bus == "default" || bus == "arn:aws:events:"+rs.region+":"+rs.account+":event-bus/default" {
		return nil
	}
	return ebNotFound("Event bus %s does not exist.", bus)
}

func ebPage[T any](items []T, token string, limit int) ([]T, string, *apiError) {
	out, next, err := page(items, token, limit, 100, 100)
	if err == errBadToken {
		return nil, "", ebValidation("The NextToken provided is not valid.")
	}
	if err != nil {
		return nil, "", ebValidation("%v", err)
	}
	return out, next, nil
}

// --- connections ---

type connectionInput struct {
	Name              string
	Description       *string
	AuthorizationType string
	AuthParameters    *struct {
		ApiKeyAuthParameters     *struct{ ApiKeyName, ApiKeyValue string }
		BasicAuthParameters      *struct{ Username, Password string }
		OAuthParameters          json.RawMessage
		InvocationHttpParameters *httpParameters
	}
}

func ebCreateConnection(c *call, rs *regionState) (any, *apiError) {
	var in connectionInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if aerr := ebCheckName(in.Name); aerr != nil {
		return nil, aerr
	}
	if rs.connections[in.Name] != nil {
		return nil, errorf(400, "ResourceAlreadyExistsException", "Connection %s already exists.", in.Name)
	}
	now := c.sim.now()
	conn := &ebConnection{
		name:      in.Name,
		arn:       "arn:aws:events:" + rs.region + ":" + rs.account + ":connection/" + in.Name + "/" + newUUID(),
		secretArn: "arn:aws:secretsmanager:" + rs.region + ":" + rs.account + ":secret:events!connection/" + in.Name + "/" + newUUID() + "-" + randomFrom("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 6),
		created:   now, modified: now, authorized: now,
	}
	if aerr := conn.apply(in, true); aerr != nil {
		return nil, aerr
	}
	rs.connections[in.Name] = conn
	return struct {
		ConnectionArn    string
		ConnectionState  string
		CreationTime     float64
		LastModifiedTime float64
	}{conn.arn, "AUTHORIZED", epoch(now), epoch(now)}, nil
}

// apply sets the fields of a create (all required) or update (partial).
func (conn *ebConnection) apply(in connectionInput, create bool) *apiError {
	if in.Description != nil {
		conn.description = *in.Description
	}
	authType := in.AuthorizationType
	if authType == "" {
		if create {
			return ebValidation("AuthorizationType is required.")
		}
		authType = conn.authType
	}
	switch authType {
	case "API_KEY", "BASIC", "OAUTH_CLIENT_CREDENTIALS":
	default:
		return ebValidation("1 validation error detected: Value '%s' at 'authorizationType' failed to satisfy constraint: Member must satisfy enum value set: [BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]", authType)
	}
	p := in.AuthParameters
	if create && p == nil {
		return ebValidation("AuthParameters is required.")
	}
	if p != nil && p.InvocationHttpParameters != nil {
		conn.invocationHTTP = p.InvocationHttpParameters
	}
	switch authType {
	case "API_KEY":
		if p != nil && p.ApiKeyAuthParameters != nil {
			if p.ApiKeyAuthParameters.ApiKeyName != "" {
				conn.apiKeyName = p.ApiKeyAuthParameters.ApiKeyName
			}
			if p.ApiKeyAuthParameters.ApiKeyValue != "" {
				conn.apiKeyValue = p.ApiKeyAuthParameters.ApiKeyValue
			}
		}
		if conn.apiKeyName == "" || conn.apiKeyValue == "" {
			return ebValidation("ApiKeyAuthParameters with ApiKeyName and ApiKeyValue are required for authorization type API_KEY.")
		}
	case "BASIC":
		if p != nil && p.BasicAuthParameters != nil {
			if p.BasicAuthParameters.Username != "" {
				conn.basicUser = p.BasicAuthParameters.Username
			}
			if p.BasicAuthParameters.Password != "" {
				conn.basicPassword = p.BasicAuthParameters.Password
			}
		}
		if conn.basicUser == "" || conn.basicPassword == "" {
			return ebValidation("BasicAuthParameters with Username and Password are required for authorization type BASIC.")
		}
	}
	conn.authType = authType
	return nil
}

func (c *call) connection(rs *regionState, name string) (*ebConnection, *apiError) {
	conn := rs.connections[name]
	if conn == nil {
		return nil, ebNotFound("Failed to describe the connection(s). Connection '%s' does not exist.", name)
	}
	return conn, nil
}

func ebDescribeConnection(c *call, rs *regionState) (any, *apiError) {
	var in struct{ Name string }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	conn, aerr := c.connection(rs, in.Name)
	if aerr != nil {
		return nil, aerr
	}
	auth := map[string]any{}
	switch conn.authType {
	case "API_KEY":
		auth["ApiKeyAuthParameters"] = map[string]string{"ApiKeyName": conn.apiKeyName}
	case "BASIC":
		auth["BasicAuthParameters"] = map[string]string{"Username": conn.basicUser}
	}
	if conn.invocationHTTP != nil {
		auth["InvocationHttpParameters"] = conn.invocationHTTP.redacted()
	}
	out := map[string]any{
		"ConnectionArn":      conn.arn,
		"Name":               conn.name,
		"ConnectionState":    cmp.Or(conn.state, "AUTHORIZED"),
		"AuthorizationType":  conn.authType,
		"SecretArn":          conn.secretArn,
		"AuthParameters":     auth,
		"CreationTime":       epoch(conn.created),
		"LastModifiedTime":   epoch(conn.modified),
		"LastAuthorizedTime": epoch(conn.authorized),
	}
	if conn.description != "" {
		out["Description"] = conn.description
	}
	return out, nil
}

// redacted hides secret parameter values, as DescribeConnection does.
func (p *httpParameters) redacted() *httpParameters {
	out := &httpParameters{}
	hide := func(in []keyValue) []keyValue {
		var o []keyValue
		for _, kv := range in {
			if kv.IsValueSecret {
				kv.Value = ""
			}
			o = append(o, kv)
		}
		return o
	}
	out.HeaderParameters = hide(p.HeaderParameters)
	out.QueryStringParameters = hide(p.QueryStringParameters)
	out.BodyParameters = hide(p.BodyParameters)
	return out
}

func ebUpdateConnection(c *call, rs *regionState) (any, *apiError) {
	var in connectionInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	conn, aerr := c.connection(rs, in.Name)
	if aerr != nil {
		return nil, aerr
	}
	updated := *conn
	if aerr := updated.apply(in, false); aerr != nil {
		return nil, aerr
	}
	now := c.sim.now()
	updated.modified, updated.authorized = now, now
	*conn = updated
	return struct {
		ConnectionArn      string
		ConnectionState    string
		CreationTime       float64
		LastModifiedTime   float64
		LastAuthorizedTime float64
	}{conn.arn, "AUTHORIZED", epoch(conn.created), epoch(now), epoch(now)}, nil
}

func ebDeleteConnection(c *call, rs *regionState) (any, *apiError) {
	var in struct{ Name string }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	conn, aerr := c.connection(rs, in.Name)
	if aerr != nil {
		return nil, aerr
	}
	delete(rs.connections, conn.name)
	return struct {
		ConnectionArn      string
		ConnectionState    string
		CreationTime       float64
		LastModifiedTime   float64
		LastAuthorizedTime float64
	}{conn.arn, "DELETING", epoch(conn.created), epoch(conn.modified), epoch(conn.authorized)}, nil
}

func ebListConnections(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		NamePrefix      string
		ConnectionState string
		NextToken       string
		Limit           int
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	type summary struct {
		ConnectionArn      string
		Name               string
		ConnectionState    string
		AuthorizationType  string
		CreationTime       float64
		LastModifiedTime   float64
		LastAuthorizedTime float64
	}
	all := []summary{}
	for _, conn := range rs.connections {
		if !strings.HasPrefix(conn.name, in.NamePrefix) || (in.ConnectionState != "" && in.ConnectionState != "AUTHORIZED") {
			continue
		}
		all = append(all, summary{conn.arn, conn.name, "AUTHORIZED", conn.authType, epoch(conn.created), epoch(conn.modified), epoch(conn.authorized)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	items, next, aerr := ebPage(all, in.NextToken, in.Limit)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Connections []summary
		NextToken   string `json:",omitempty"`
	}{items, next}, nil
}

// --- API destinations ---

type apiDestinationInput struct {
	Name                         string
	Description                  *string
	ConnectionArn                string
	InvocationEndpoint           string
	HttpMethod                   string
	InvocationRateLimitPerSecond int
}

func (s *Sim) connectionByARN(rs *regionState, arn string) *ebConnection {
	for _, conn := range rs.connections {
		if conn.arn == arn {
			return conn
		}
	}
	return nil
}

func (d *apiDestination) apply(c *call, rs *regionState, in apiDestinationInput) *apiError {
	if in.Description != nil {
		d.description = *in.Description
	}
	if in.ConnectionArn != "" {
		if c.sim.connectionByARN(rs, in.ConnectionArn) == nil {
			return ebNotFound("Connection '%s' does not exist.", in.ConnectionArn)
		}
		d.connectionArn = in.ConnectionArn
	}
	if in.InvocationEndpoint != "" {
		u, err := url.Parse(in.InvocationEndpoint)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return ebValidation("Invalid InvocationEndpoint: %s", in.InvocationEndpoint)
		}
		if u.Scheme != "https" && c.sim.opts.RequireHTTPS {
			return ebValidation("1 validation error detected: Value '%s' at 'invocationEndpoint' failed to satisfy constraint: Member must satisfy regular expression pattern: ^((%%[0-9A-Fa-f]{2}|[-()_.!~*';/?:@\\x26=+$,A-Za-z0-9])+)([).!';/?:,])?$ and use https", in.InvocationEndpoint)
		}
		d.endpoint = in.InvocationEndpoint
	}
	if in.HttpMethod != "" {
		switch in.HttpMethod {
		case "POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE":
			d.method = in.HttpMethod
		default:
			return ebValidation("1 validation error detected: Value '%s' at 'httpMethod' failed to satisfy constraint: Member must satisfy enum value set: [HEAD, POST, PATCH, DELETE, PUT, GET, OPTIONS]", in.HttpMethod)
		}
	}
	if in.InvocationRateLimitPerSecond < 0 {
		return ebValidation("InvocationRateLimitPerSecond must be at least 1.")
	}
	if in.InvocationRateLimitPerSecond > 0 {
		d.rate = in.InvocationRateLimitPerSecond
	}
	if d.connectionArn == "" || d.endpoint == "" || d.method == "" {
		return ebValidation("ConnectionArn, InvocationEndpoint and HttpMethod are required.")
	}
	return nil
}

func ebCreateApiDestination(c *call, rs *regionState) (any, *apiError) {
	var in apiDestinationInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if aerr := ebCheckName(in.Name); aerr != nil {
		return nil, aerr
	}
	if rs.apiDests[in.Name] != nil {
		return nil, errorf(400, "ResourceAlreadyExistsException", "An api-destination '%s' already exists.", in.Name)
	}
	now := c.sim.now()
	d := &apiDestination{
		name:    in.Name,
		arn:     "arn:aws:events:" + rs.region + ":" + rs.account + ":api-destination/" + in.Name + "/" + newUUID(),
		rate:    300,
		created: now, modified: now,
	}
	if aerr := d.apply(c, rs, in); aerr != nil {
		return nil, aerr
	}
	rs.apiDests[in.Name] = d
	return struct {
		ApiDestinationArn   string
		ApiDestinationState string
		CreationTime        float64
		LastModifiedTime    float64
	}{d.arn, "ACTIVE", epoch(now), epoch(now)}, nil
}

func (c *call) apiDestination(rs *regionState, name string) (*apiDestination, *apiError) {
	d := rs.apiDests[name]
	if d == nil {
		return nil, ebNotFound("Failed to describe the api-destination(s). An api-destination '%s' does not exist.", name)
	}
	return d, nil
}

type apiDestinationView struct {
	ApiDestinationArn            string
	Name                         string
	Description                  string `json:",omitempty"`
	ApiDestinationState          string
	ConnectionArn                string
	InvocationEndpoint           string
	HttpMethod                   string
	InvocationRateLimitPerSecond int
	CreationTime                 float64
	LastModifiedTime             float64
}

func (d *apiDestination) view() apiDestinationView {
	return apiDestinationView{d.arn, d.name, d.description, "ACTIVE", d.connectionArn, d.endpoint, d.method, d.rate, epoch(d.created), epoch(d.modified)}
}

func ebDescribeApiDestination(c *call, rs *regionState) (any, *apiError) {
	var in struct{ Name string }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	d, aerr := c.apiDestination(rs, in.Name)
	if aerr != nil {
		return nil, aerr
	}
	return d.view(), nil
}

func ebUpdateApiDestination(c *call, rs *regionState) (any, *apiError) {
	var in apiDestinationInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	d, aerr := c.apiDestination(rs, in.Name)
	if aerr != nil {
		return nil, aerr
	}
	updated := *d
	if aerr := updated.apply(c, rs, in); aerr != nil {
		return nil, aerr
	}
	updated.modified = c.sim.now()
	*d = updated
	return struct {
		ApiDestinationArn   string
		ApiDestinationState string
		CreationTime        float64
		LastModifiedTime    float64
	}{d.arn, "ACTIVE", epoch(d.created), epoch(d.modified)}, nil
}

func ebDeleteApiDestination(c *call, rs *regionState) (any, *apiError) {
	var in struct{ Name string }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	d, aerr := c.apiDestination(rs, in.Name)
	if aerr != nil {
		return nil, aerr
	}
	delete(rs.apiDests, d.name)
	return nil, nil
}

func ebListApiDestinations(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		NamePrefix    string
		ConnectionArn string
		NextToken     string
		Limit         int
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	all := []apiDestinationView{}
	for _, d := range rs.apiDests {
		if strings.HasPrefix(d.name, in.NamePrefix) && (in.ConnectionArn == "" || in.ConnectionArn == d.connectionArn) {
			v := d.view()
			v.Description = ""
			all = append(all, v)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	items, next, aerr := ebPage(all, in.NextToken, in.Limit)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		ApiDestinations []apiDestinationView
		NextToken       string `json:",omitempty"`
	}{items, next}, nil
}

// apiDestinationByARN finds the API destination an ARN names (with or
// without its trailing id) in the rule's own account and region.
func apiDestinationByARN(rs *regionState, arn string) *apiDestination {
	prefix := "arn:aws:events:" + rs.region + ":" + rs.account + ":api-destination/"
	rest, ok := strings.CutPrefix(arn, prefix)
	if !ok {
		return nil
	}
	name, _, _ := strings.Cut(rest, "/")
	d := rs.apiDests[name]
	if d == nil || (arn != d.arn && rest != name) {
		return nil
	}
	return d
}

// --- rules and targets ---

func (c *call) rule(rs *regionState, name, bus string) (*ebRule, *apiError) {
	if aerr := checkBus(rs, bus); aerr != nil {
		return nil, aerr
	}
	r := rs.rules[name]
	if r == nil {
		return nil, ebNotFound("Rule %s does not exist on EventBus default.", name)
	}
	return r, nil
}

func ebPutRule(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		Name               string
		EventPattern       string
		ScheduleExpression string
		State              string
		Description        *string
		RoleArn            string
		EventBusName       string
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if aerr := checkBus(rs, in.EventBusName); aerr != nil {
		return nil, aerr
	}
	if aerr := ebCheckName(in.Name); aerr != nil {
		return nil, aerr
	}
	if in.EventPattern == "" && in.ScheduleExpression == "" {
		return nil, ebValidation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	var pattern map[string]any
	if in.EventPattern != "" {
		p, err := compilePattern(in.EventPattern)
		if err != nil {
			return nil, errorf(400, "InvalidEventPatternException", "%v", err)
		}
		pattern = p
	}
	state := in.State
	switch state {
	case "":
		state = "ENABLED"
	case "ENABLED", "DISABLED":
	default:
		return nil, ebValidation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]", state)
	}
	r := rs.rules[in.Name]
	if r == nil {
		r = &ebRule{name: in.Name, arn: "arn:aws:events:" + rs.region + ":" + rs.account + ":rule/" + in.Name}
		rs.rules[in.Name] = r
	}
	r.eventPattern, r.pattern, r.schedule, r.state, r.roleArn = in.EventPattern, pattern, in.ScheduleExpression, state, in.RoleArn
	if in.Description != nil {
		r.description = *in.Description
	}
	return struct{ RuleArn string }{r.arn}, nil
}

type ruleView struct {
	Name               string
	Arn                string
	EventPattern       string `json:",omitempty"`
	ScheduleExpression string `json:",omitempty"`
	State              string
	Description        string `json:",omitempty"`
	RoleArn            string `json:",omitempty"`
	EventBusName       string
}

func (r *ebRule) view() ruleView {
	return ruleView{r.name, r.arn, r.eventPattern, r.schedule, r.state, r.description, r.roleArn, "default"}
}

func ebDescribeRule(c *call, rs *regionState) (any, *apiError) {
	var in struct{ Name, EventBusName string }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	r, aerr := c.rule(rs, in.Name, in.EventBusName)
	if aerr != nil {
		return nil, aerr
	}
	v := r.view()
	return struct {
		ruleView
		CreatedBy string
	}{v, rs.account}, nil
}

func ebDeleteRule(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		Name, EventBusName string
		Force              bool
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if aerr := checkBus(rs, in.EventBusName); aerr != nil {
		return nil, aerr
	}
	r := rs.rules[in.Name]
	if r == nil {
		return nil, nil
	}
	if len(r.targets) > 0 {
		return nil, ebValidation("Rule can't be deleted since it has targets.")
	}
	delete(rs.rules, in.Name)
	return nil, nil
}

func ebListRules(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		NamePrefix, EventBusName, NextToken string
		Limit                               int
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if aerr := checkBus(rs, in.EventBusName); aerr != nil {
		return nil, aerr
	}
	all := []ruleView{}
	for _, r := range rs.rules {
		if strings.HasPrefix(r.name, in.NamePrefix) {
			all = append(all, r.view())
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	items, next, aerr := ebPage(all, in.NextToken, in.Limit)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Rules     []ruleView
		NextToken string `json:",omitempty"`
	}{items, next}, nil
}

type targetFailure struct {
	TargetID     string `json:"TargetId"`
	ErrorCode    string
	ErrorMessage string
}

func ebPutTargets(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		Rule, EventBusName string
		Targets            []json.RawMessage
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	r, aerr := c.rule(rs, in.Rule, in.EventBusName)
	if aerr != nil {
		return nil, aerr
	}
	if len(in.Targets) == 0 || len(in.Targets) > 10 {
		return nil, ebValidation("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	var parsed []*ebTarget
	for _, raw := range in.Targets {
		t := &ebTarget{raw: raw}
		if err := json.Unmarshal(raw, t); err != nil {
			return nil, errorf(400, "SerializationException", "Invalid target: %v", err)
		}
		if t.ID == "" || t.Arn == "" {
			return nil, ebValidation("Targets need an Id and an Arn.")
		}
		if strings.Contains(t.Arn, ":api-destination/") && t.RoleArn == "" {
			return nil, ebValidation("RoleArn is required for target %s.", t.Arn)
		}
		// Handing a role to EventBridge is passing it: the caller needs
		// iam:PassRole on it, as on AWS.
		if t.RoleArn != "" && !c.sim.allowedLocked(c.caller, "iam:PassRole") {
			return nil, c.deny("iam:PassRole", t.RoleArn)
		}
		parsed = append(parsed, t)
	}
	for _, t := range parsed {
		replaced := false
		for i, old := range r.targets {
			if old.ID == t.ID {
				r.targets[i], replaced = t, true
			}
		}
		if !replaced {
			if len(r.targets) >= 5 {
				return nil, errorf(400, "LimitExceededException", "The requested resource exceeds the maximum number allowed.")
			}
			r.targets = append(r.targets, t)
		}
	}
	return struct {
		FailedEntryCount int
		FailedEntries    []targetFailure
	}{0, []targetFailure{}}, nil
}

func ebListTargetsByRule(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		Rule, EventBusName, NextToken string
		Limit                         int
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	r, aerr := c.rule(rs, in.Rule, in.EventBusName)
	if aerr != nil {
		return nil, aerr
	}
	all := make([]json.RawMessage, len(r.targets))
	for i, t := range r.targets {
		all[i] = t.raw
	}
	items, next, aerr := ebPage(all, in.NextToken, in.Limit)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Targets   []json.RawMessage
		NextToken string `json:",omitempty"`
	}{items, next}, nil
}

func ebRemoveTargets(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		Rule, EventBusName string
		Ids                []string
		Force              bool
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	r, aerr := c.rule(rs, in.Rule, in.EventBusName)
	if aerr != nil {
		return nil, aerr
	}
	remove := make(map[string]bool, len(in.Ids))
	for _, id := range in.Ids {
		remove[id] = true
	}
	kept := r.targets[:0]
	for _, t := range r.targets {
		if !remove[t.ID] {
			kept = append(kept, t)
		}
	}
	r.targets = kept
	return struct {
		FailedEntryCount int
		FailedEntries    []targetFailure
	}{0, []targetFailure{}}, nil
}

// ebCheckName refuses a connection or API destination name as EventBridge does.
func ebCheckName(name string) *apiError {
	if !ebNameRE.MatchString(name) {
		return ebValidation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", name)
	}
	return nil
}

// EventBridgePrincipal is the service principal a role's trust policy names
// so that EventBridge may assume it to invoke a rule's target.
const EventBridgePrincipal = "events.amazonaws.com"

// AddServiceRole creates (or replaces) a role that an AWS service assumes
// (EventBridgePrincipal for the role of an API destination target), allowed
// the listed actions ("events:InvokeApiDestination"). It returns the role
// ARN. No caller can assume it through STS.
func (s *Sim) AddServiceRole(accountID, name, service string, permissions []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(accountID)
	a.roles[name] = &role{
		name:        name,
		id:          "AROA" + stableUpper(accountID+"/role/"+name, 17),
		trusted:     service,
		permissions: append([]string(nil), permissions...),
		maxSession:  time.Hour,
	}
	return roleARN(accountID, name)
}

// invokeRoleLocked checks, as EventBridge does when a rule fires, that it
// may assume a target's role and invoke the API destination with it: the
// role exists in the rule's account, trusts EventBridge and allows
// events:InvokeApiDestination.
func (s *Sim) invokeRoleLocked(rs *regionState, roleArn, destination string) error {
	acct, name, ok := parseRoleARN(roleArn)
	if !ok || acct != rs.account {
		return fmt.Errorf("EventBridge cannot assume %s: not a role of account %s", roleArn, rs.account)
	}
	r := s.accounts[acct].roles[name]
	switch {
	case r == nil:
		return fmt.Errorf("EventBridge cannot assume %s: the role does not exist", roleArn)
	case r.trusted != EventBridgePrincipal:
		return fmt.Errorf("EventBridge cannot assume %s: its trust policy does not allow %s", roleArn, EventBridgePrincipal)
	}
	p := principal{account: acct, roleName: name}
	if !s.allowedLocked(p, "events:InvokeApiDestination") {
		return fmt.Errorf("role %s is not allowed events:InvokeApiDestination on %s", roleArn, destination)
	}
	return nil
}
