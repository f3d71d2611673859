// Package shopapp is the customer's application in the sandbox (`sendops
// demo`): a shop that sends its mail through SES in the emulated customer
// account, with the customer's own access key and the real AWS SDK. It
// verifies its domain, keeps a template, and sends a steady, bounded
// trickle of mail to SES's mailbox simulator with a realistic mix of
// outcomes. It is not SendOps, which never sends mail.
package shopapp

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// App is the shop.
type App struct {
	SES       *sesv2.Client
	Domain    string // verified and sent from
	ConfigSet string // every message names it
	Log       *slog.Logger
}

// Prepare verifies the shop's domain and makes its welcome template.
func (a *App) Prepare(ctx context.Context) error {
	if _, err := a.SES.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(a.Domain)}); err != nil {
		return fmt.Errorf("shop: identity: %w", err)
	}
	if _, err := a.SES.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{TemplateName: aws.String("welcome"),
		TemplateContent: &sestypes.EmailTemplateContent{
			Subject: aws.String("Welcome to the shop, {{name}}"),
			Text:    aws.String("Hello {{name}}, thanks for signing up."),
			Html:    aws.String("<p>Hello {{name}}, thanks for signing up.</p>"),
		}}); err != nil {
		return fmt.Errorf("shop: template: %w", err)
	}
	return nil
}

// outcome is one mailbox simulator address and how often it is sent to.
type outcome struct {
	mailbox string
	weight  int
}

// Outcomes is the mix: mostly delivered, with the rest of what SES
// reports (bounces, an out-of-office reply, the suppression list,
// complaints).
var outcomes = []outcome{{"success", 70}, {"bounce", 10}, {"ooto", 8}, {"suppressionlist", 7}, {"complaint", 5}}

var people = []string{"ada", "grace", "linus", "margaret", "alan", "barbara", "ken", "radia", "edsger", "frances"}

var campaigns = []string{"welcome", "receipt", "password-reset", "newsletter"}

// Trickle sends n messages, one every interval, until ctx ends. The first
// ones go to each simulator mailbox in turn, so that every outcome shows
// at once; a send that fails is logged and the trickle goes on.
func (a *App) Trickle(ctx context.Context, n int, interval time.Duration) {
	total := 0
	for _, o := range outcomes {
		total += o.weight
	}
	pick := func(i int) string {
		if i < len(outcomes) {
			return outcomes[i].mailbox
		}
		r := rand.IntN(total)
		for _, o := range outcomes {
			if r -= o.weight; r < 0 {
				return o.mailbox
			}
		}
		return "success"
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for i := 0; i < n; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
		to := []string{address(pick(i))}
		if rand.IntN(5) == 0 { // some messages have more recipients
			to = append(to, address("success"))
		}
		if err := a.send(ctx, i, to); err != nil && ctx.Err() == nil {
			a.Log.Warn("shop: send failed", "err", err)
		}
	}
	a.Log.Info("shop: the trickle of mail is done", "messages", n)
}

// address is a simulator mailbox with a person's label:
// bounce+ada@simulator.amazonses.com.
func address(mailbox string) string {
	return mailbox + "+" + people[rand.IntN(len(people))] + "@simulator.amazonses.com"
}

// send sends message i: a welcome mail from the template, or one of the
// shop's other mails, tagged with its campaign.
func (a *App) send(ctx context.Context, i int, to []string) error {
	campaign := campaigns[i%len(campaigns)]
	in := &sesv2.SendEmailInput{
		FromEmailAddress:     aws.String("Shop <hello@" + a.Domain + ">"),
		Destination:          &sestypes.Destination{ToAddresses: to},
		ConfigurationSetName: aws.String(a.ConfigSet),
		EmailTags:            []sestypes.MessageTag{{Name: aws.String("campaign"), Value: aws.String(campaign)}},
	}
	if campaign == "welcome" {
		_, label, _ := strings.Cut(to[0], "+")
		name, _, _ := strings.Cut(label, "@")
		in.Content = &sestypes.EmailContent{Template: &sestypes.Template{TemplateName: aws.String("welcome"),
			TemplateData: aws.String(`{"name":"` + name + `"}`)}}
	} else {
		subject := map[string]string{"receipt": "Your receipt", "password-reset": "Reset your password", "newsletter": "What's new this week"}[campaign]
		in.Content = &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(subject)},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(subject + ".")}},
		}}
	}
	_, err := a.SES.SendEmail(ctx, in)
	return err
}
