package service

import (
	"context"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/domain"
)

// SESConfigSet is a configuration set with its event destinations.
type SESConfigSet struct {
	Name string
	// Settings, present when the set was read whole (SESConfigSet), not
	// in a listing.
	SendingEnabled    bool
	ReputationMetrics bool
	// SuppressedReasons overrides the account's suppression reasons for
	// mail sent with the set; nil: the account's.
	SuppressedReasons []string
	Destinations      []SESEventDestination
	// DestinationsError says why Destinations could not be read, in a
	// listing with destinations ("" when they were).
	DestinationsError string
}

// SESEventDestination is where SES publishes a configuration set's events.
type SESEventDestination struct {
	Name       string
	Enabled    bool
	EventTypes []string // SEND, DELIVERY, BOUNCE…
	// Kind is eventbridge, sns, firehose, cloudwatch or pinpoint; Target
	// the ARN events go to ("" for CloudWatch).
	Kind   string
	Target string
}

var configSetNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkConfigSetName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	if !configSetNameRE.MatchString(name) {
		return "", domain.FieldError(field, "Use 1 to 64 letters, digits, underscores and dashes.")
	}
	return name, nil
}

// SESConfigSets lists a page of a connection's configuration sets by name
// (the cursor is SES's); with destinations, each set's event destinations
// are read too (one call a set, a few at a time), all within awsTimeout: a
// set whose destinations could not be read in time, or that AWS refused,
// says why in DestinationsError. Anyone in the organisation, or read keys.
// Errors: EForbidden, ENotFound, EInvalid, ETooMany, EAWS.
func (s *Service) SESConfigSets(ctx context.Context, a *domain.Actor, connID string, p domain.Page, destinations bool) ([]SESConfigSet, string, error) {
	client, size, token, err := s.sesListing(ctx, a, connID, p)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	out, err := client.ListConfigurationSets(ctx, &sesv2.ListConfigurationSetsInput{PageSize: aws.Int32(size), NextToken: token})
	if err != nil {
		return nil, "", sesCallError(err, "ses:ListConfigurationSets")
	}
	sets := make([]SESConfigSet, len(out.ConfigurationSets))
	for i, name := range out.ConfigurationSets {
		sets[i].Name = name
	}
	if destinations {
		readDestinations(ctx, client, sets)
	}
	return sets, sesCursor(out.NextToken), nil
}

// destinationReads bounds how many sets' destinations are read at once.
const destinationReads = 4

// readDestinations reads the event destinations of each set, a few at a
// time, until ctx ends; a set whose destinations could not be read says
// why. A set deleted meanwhile has none.
func readDestinations(ctx context.Context, client *sesv2.Client, sets []SESConfigSet) {
	slots := make(chan struct{}, destinationReads)
	var wg sync.WaitGroup
	for i := range sets {
		wg.Go(func() {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				sets[i].DestinationsError = "AWS did not answer in time: reload the page to try again."
				return
			}
			dests, err := eventDestinations(ctx, client, sets[i].Name)
			switch {
			case err == nil:
				sets[i].Destinations = dests
			case !domain.IsNotFound(err):
				sets[i].DestinationsError = domain.ErrorMessage(err)
			}
		})
	}
	wg.Wait()
}

func eventDestinations(ctx context.Context, client *sesv2.Client, name string) ([]SESEventDestination, error) {
	out, err := client.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String(name)})
	if err != nil {
		return nil, awsError(err, "ses:GetConfigurationSetEventDestinations")
	}
	dests := make([]SESEventDestination, len(out.EventDestinations))
	for i, d := range out.EventDestinations {
		e := SESEventDestination{Name: aws.ToString(d.Name), Enabled: d.Enabled}
		for _, t := range d.MatchingEventTypes {
			e.EventTypes = append(e.EventTypes, string(t))
		}
		switch {
		case d.EventBridgeDestination != nil:
			e.Kind, e.Target = "eventbridge", aws.ToString(d.EventBridgeDestination.EventBusArn)
		case d.SnsDestination != nil:
			e.Kind, e.Target = "sns", aws.ToString(d.SnsDestination.TopicArn)
		case d.KinesisFirehoseDestination != nil:
			e.Kind, e.Target = "firehose", aws.ToString(d.KinesisFirehoseDestination.DeliveryStreamArn)
		case d.CloudWatchDestination != nil:
			e.Kind = "cloudwatch"
		case d.PinpointDestination != nil:
			e.Kind, e.Target = "pinpoint", aws.ToString(d.PinpointDestination.ApplicationArn)
		}
		dests[i] = e
	}
	return dests, nil
}

// SESConfigSet reads one configuration set with its settings and event
// destinations. Anyone in the organisation, or read keys. Errors:
// EForbidden, ENotFound (the connection or the set), EInvalid, ETooMany,
// EAWS.
func (s *Service) SESConfigSet(ctx context.Context, a *domain.Actor, connID, name string) (*SESConfigSet, error) {
	c, client, err := s.sesClient(ctx, a, domain.ActSESView, connID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	out, err := client.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String(name)})
	if err != nil {
		return nil, awsErrorMissing(err, "ses:GetConfigurationSet", noSuch(c, "configuration set", name))
	}
	cs := &SESConfigSet{Name: name, SendingEnabled: true}
	if o := out.SendingOptions; o != nil {
		cs.SendingEnabled = o.SendingEnabled
	}
	if o := out.ReputationOptions; o != nil {
		cs.ReputationMetrics = o.ReputationMetricsEnabled
	}
	if o := out.SuppressionOptions; o != nil {
		cs.SuppressedReasons = []string{}
		for _, r := range o.SuppressedReasons {
			cs.SuppressedReasons = append(cs.SuppressedReasons, string(r))
		}
	}
	if cs.Destinations, err = eventDestinations(ctx, client, name); err != nil {
		return nil, err
	}
	return cs, nil
}

// CreateSESConfigSet makes an empty configuration set (sending enabled,
// the account's suppression reasons). Developers and up, or write keys.
// Errors: EForbidden, ENotFound, EInvalid (field "name"), EConflict,
// ETooMany, EAWS.
func (s *Service) CreateSESConfigSet(ctx context.Context, a *domain.Actor, connID, name string) (*SESConfigSet, error) {
	if err := a.Require(domain.ActSESManage); err != nil {
		return nil, err
	}
	name, err := checkConfigSetName("name", name)
	if err != nil {
		return nil, err
	}
	c, client, err := s.sesClient(ctx, a, domain.ActSESManage, connID)
	if err != nil {
		return nil, err
	}
	actx, cancel := detached(ctx, awsTimeout)
	defer cancel()
	_, err = client.CreateConfigurationSet(actx, &sesv2.CreateConfigurationSetInput{
		ConfigurationSetName: aws.String(name),
		SendingOptions:       &sestypes.SendingOptions{SendingEnabled: true},
	})
	if err != nil {
		err = awsError(err, "ses:CreateConfigurationSet")
		if domain.ErrorCode(err) == domain.EConflict {
			return nil, &domain.Error{Code: domain.EConflict, Field: "name", Message: "A configuration set named " + name + " already exists in SES in " + c.Region + "."}
		}
		return nil, err
	}
	if err := s.sesAudit(ctx, a, c, "configuration_set.created", name); err != nil {
		return nil, err
	}
	return &SESConfigSet{Name: name, SendingEnabled: true, Destinations: []SESEventDestination{}}, nil
}

// DeleteSESConfigSet deletes a configuration set and its event
// destinations; mail sent naming it fails afterwards. Developers and up,
// or write keys. Errors: EForbidden, ENotFound, EInvalid, ETooMany, EAWS.
func (s *Service) DeleteSESConfigSet(ctx context.Context, a *domain.Actor, connID, name string) error {
	c, client, err := s.sesClient(ctx, a, domain.ActSESManage, connID)
	if err != nil {
		return err
	}
	actx, cancel := detached(ctx, awsTimeout)
	defer cancel()
	if _, err := client.DeleteConfigurationSet(actx, &sesv2.DeleteConfigurationSetInput{ConfigurationSetName: aws.String(name)}); err != nil {
		return awsErrorMissing(err, "ses:DeleteConfigurationSet", noSuch(c, "configuration set", name))
	}
	return s.sesAudit(ctx, a, c, "configuration_set.deleted", name)
}
