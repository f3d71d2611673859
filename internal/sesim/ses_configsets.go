package sesim

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
)

type configSet struct {
	name    string
	options map[string]json.RawMessage // TrackingOptions, DeliveryOptions… as sent
	tags    []tag
	dests   []*eventDestination // in creation order
}

// sendingEnabled reads SendingOptions.SendingEnabled (default true).
func (cs *configSet) sendingEnabled() bool {
	raw, ok := cs.options["SendingOptions"]
	if !ok {
		return true
	}
	var o struct{ SendingEnabled *bool }
	if json.Unmarshal(raw, &o) != nil || o.SendingEnabled == nil {
		return true
	}
	return *o.SendingEnabled
}

type eventDestination struct {
	Name                       string
	Enabled                    bool
	MatchingEventTypes         []string
	EventBridgeDestination     *struct{ EventBusArn string } `json:",omitempty"`
	SnsDestination             json.RawMessage               `json:",omitempty"`
	KinesisFirehoseDestination json.RawMessage               `json:",omitempty"`
	CloudWatchDestination      json.RawMessage               `json:",omitempty"`
	PinpointDestination        json.RawMessage               `json:",omitempty"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// eventTypeNames maps the SES API's event type enum to event-publishing
// eventType values.
var eventTypeNames = map[string]string{
	"SEND":              "Send",
	"REJECT":            "Reject",
	"BOUNCE":            "Bounce",
	"COMPLAINT":         "Complaint",
	"DELIVERY":          "Delivery",
	"OPEN":              "Open",
	"CLICK":             "Click",
	"RENDERING_FAILURE": "Rendering Failure",
	"DELIVERY_DELAY":    "DeliveryDelay",
	"SUBSCRIPTION":      "Subscription",
}

func (c *call) configSet(rs *regionState) (*configSet, *apiError) {
	name := c.r.PathValue("ConfigurationSetName")
	cs := rs.configSets[name]
	if cs == nil {
		return nil, notFound("Configuration set %s does not exist.", name)
	}
	return cs, nil
}

var configSetOptionNames = []string{"TrackingOptions", "DeliveryOptions", "ReputationOptions", "SendingOptions", "SuppressionOptions", "VdmOptions", "ArchivingOptions"}

func sesCreateConfigurationSet(c *call, rs *regionState) (any, *apiError) {
	var in map[string]json.RawMessage
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var name string
	json.Unmarshal(in["ConfigurationSetName"], &name)
	if !nameRE.MatchString(name) {
		return nil, badRequest("Invalid configuration set name: %q. Use up to 64 letters, digits, underscores and dashes.", name)
	}
	if rs.configSets[name] != nil {
		return nil, alreadyExists("Configuration set %s already exists.", name)
	}
	cs := &configSet{name: name, options: make(map[string]json.RawMessage)}
	for _, k := range configSetOptionNames {
		if v, ok := in[k]; ok && string(v) != "null" {
			cs.options[k] = v
		}
	}
	if v, ok := in["Tags"]; ok {
		if err := json.Unmarshal(v, &cs.tags); err != nil {
			return nil, badRequest("Invalid Tags")
		}
	}
	rs.configSets[name] = cs
	return nil, nil
}

func sesGetConfigurationSet(c *call, rs *regionState) (any, *apiError) {
	cs, aerr := c.configSet(rs)
	if aerr != nil {
		return nil, aerr
	}
	out := map[string]any{
		"ConfigurationSetName": cs.name,
		"DeliveryOptions":      map[string]any{"TlsPolicy": "OPTIONAL"},
		"ReputationOptions":    map[string]any{"ReputationMetricsEnabled": false},
		"SendingOptions":       map[string]any{"SendingEnabled": true},
		"Tags":                 []tag{},
	}
	for k, v := range cs.options {
		out[k] = v
	}
	if cs.tags != nil {
		out["Tags"] = cs.tags
	}
	return out, nil
}

func sesDeleteConfigurationSet(c *call, rs *regionState) (any, *apiError) {
	cs, aerr := c.configSet(rs)
	if aerr != nil {
		return nil, aerr
	}
	delete(rs.configSets, cs.name)
	return nil, nil
}

func sesListConfigurationSets(c *call, rs *regionState) (any, *apiError) {
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
	names := make([]string, 0, len(rs.configSets))
	for n := range rs.configSets {
		names = append(names, n)
	}
	sort.Strings(names)
	items, next, err := page(names, in.NextToken, in.PageSize, 100, 1000)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return struct {
		ConfigurationSets []string
		NextToken         string `json:",omitempty"`
	}{items, next}, nil
}

// validateDestination checks an event destination definition as SES does.
func validateDestination(rs *regionState, d *eventDestination) *apiError {
	if len(d.MatchingEventTypes) == 0 {
		return badRequest("MatchingEventTypes must contain at least one event type.")
	}
	for _, t := range d.MatchingEventTypes {
		if eventTypeNames[t] == "" {
			return badRequest("Invalid event type: %s", t)
		}
	}
	n := 0
	for _, set := range []bool{d.EventBridgeDestination != nil, d.SnsDestination != nil, d.KinesisFirehoseDestination != nil, d.CloudWatchDestination != nil, d.PinpointDestination != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return badRequest("An event destination must have exactly one destination type.")
	}
	if d.EventBridgeDestination != nil {
		want := "arn:aws:events:" + rs.region + ":" + rs.account + ":event-bus/default"
		if d.EventBridgeDestination.EventBusArn != want {
			return badRequest("Invalid EventBusArn %q: only the default event bus of this account and region (%s) is supported.", d.EventBridgeDestination.EventBusArn, want)
		}
	}
	return nil
}

func sesCreateEventDestination(c *call, rs *regionState) (any, *apiError) {
	cs, aerr := c.configSet(rs)
	if aerr != nil {
		return nil, aerr
	}
	var in struct {
		EventDestinationName string
		EventDestination     eventDestination
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(in.EventDestinationName) {
		return nil, badRequest("Invalid event destination name: %q", in.EventDestinationName)
	}
	for _, d := range cs.dests {
		if d.Name == in.EventDestinationName {
			return nil, alreadyExists("Event destination %s already exists in configuration set %s.", d.Name, cs.name)
		}
	}
	d := in.EventDestination
	d.Name = in.EventDestinationName
	if aerr := validateDestination(rs, &d); aerr != nil {
		return nil, aerr
	}
	cs.dests = append(cs.dests, &d)
	return nil, nil
}

func sesGetEventDestinations(c *call, rs *regionState) (any, *apiError) {
	cs, aerr := c.configSet(rs)
	if aerr != nil {
		return nil, aerr
	}
	out := make([]*eventDestination, len(cs.dests))
	copy(out, cs.dests)
	return struct{ EventDestinations []*eventDestination }{out}, nil
}

func (c *call) eventDestination(cs *configSet) (int, *apiError) {
	name := c.r.PathValue("EventDestinationName")
	for i, d := range cs.dests {
		if d.Name == name {
			return i, nil
		}
	}
	return -1, notFound("Event destination %s does not exist in configuration set %s.", name, cs.name)
}

func sesUpdateEventDestination(c *call, rs *regionState) (any, *apiError) {
	cs, aerr := c.configSet(rs)
	if aerr != nil {
		return nil, aerr
	}
	i, aerr := c.eventDestination(cs)
	if aerr != nil {
		return nil, aerr
	}
	var in struct{ EventDestination eventDestination }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	d := in.EventDestination
	d.Name = cs.dests[i].Name
	if aerr := validateDestination(rs, &d); aerr != nil {
		return nil, aerr
	}
	cs.dests[i] = &d
	return nil, nil
}

func sesDeleteEventDestination(c *call, rs *regionState) (any, *apiError) {
	cs, aerr := c.configSet(rs)
	if aerr != nil {
		return nil, aerr
	}
	i, aerr := c.eventDestination(cs)
	if aerr != nil {
		return nil, aerr
	}
	cs.dests = append(cs.dests[:i], cs.dests[i+1:]...)
	return nil, nil
}

// matches reports whether the destination publishes events of eventType
// ("Send", "Bounce"…).
func (d *eventDestination) matches(eventType string) bool {
	if !d.Enabled {
		return false
	}
	for _, t := range d.MatchingEventTypes {
		if strings.EqualFold(eventTypeNames[t], eventType) {
			return true
		}
	}
	return false
}
