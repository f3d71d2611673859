package service

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"sendops/internal/domain"
)

// SESAccount is the SES state of a connection's account in its region:
// what AWS, not the customer, decides.
type SESAccount struct {
	// Max24HourSend is the 24-hour sending quota; -1 means unlimited.
	Max24HourSend   float64
	MaxSendRate     float64 // messages a second
	SentLast24Hours float64
	// Production is false while the account is in the SES sandbox (it may
	// send only to verified addresses).
	Production bool
	// EnforcementStatus is HEALTHY, PROBATION or SHUTDOWN.
	EnforcementStatus string
	SendingEnabled    bool
	// SuppressedReasons are the reasons (BOUNCE, COMPLAINT) for which SES
	// adds addresses to the account's suppression list.
	SuppressedReasons []string
}

// QuotaUsedPercent is the share of the 24-hour quota used, 0 to 100 (0
// for an unlimited quota).
func (a *SESAccount) QuotaUsedPercent() float64 {
	if a.Max24HourSend <= 0 {
		return 0
	}
	return min(100, 100*a.SentLast24Hours/a.Max24HourSend)
}

// SESAccount reads the SES account of a connection. Anyone in the
// organisation, or read keys. Errors: EForbidden, ENotFound, EInvalid (a
// connection without AWS access), ETooMany (AWS keeps throttling), EAWS.
func (s *Service) SESAccount(ctx context.Context, a *domain.Actor, connID string) (*SESAccount, error) {
	_, client, err := s.sesClient(ctx, a, domain.ActSESView, connID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	out, err := client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return nil, awsError(err, "ses:GetAccount")
	}
	acc := &SESAccount{
		Production:        out.ProductionAccessEnabled,
		EnforcementStatus: aws.ToString(out.EnforcementStatus),
		SendingEnabled:    out.SendingEnabled,
	}
	if q := out.SendQuota; q != nil {
		acc.Max24HourSend, acc.MaxSendRate, acc.SentLast24Hours = q.Max24HourSend, q.MaxSendRate, q.SentLast24Hours
	}
	if sa := out.SuppressionAttributes; sa != nil {
		for _, r := range sa.SuppressedReasons {
			acc.SuppressedReasons = append(acc.SuppressedReasons, string(r))
		}
	}
	return acc, nil
}
