// Package mailer sends email through Amazon SES v2. The sweep sees only the
// Mailer interface and the error kinds below, which tell it whether an email
// certainly did not go (retry later), will never go (record and move on), or
// may have gone (report, never resend).
package mailer

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"
)

// Message is one email.
type Message struct {
	From    string
	ReplyTo []string
	To      []string
	CC      []string
	Subject string
	HTML    string
	Text    string
}

// Mailer sends a message and returns the provider's message id.
type Mailer interface {
	Send(ctx context.Context, m Message) (string, error)
}

var (
	// ErrThrottled: SES refused for now (rate or quota); nothing was sent.
	ErrThrottled = errors.New("mail provider throttled the request")
	// ErrRejected: SES refused for good (bad address, unverified sender,
	// sending paused); nothing was sent and retrying will not help.
	ErrRejected = errors.New("mail provider rejected the message")
)

// SES sends through SES v2 SendEmail.
type SES struct {
	Client *sesv2.Client
	// ConfigurationSet, when set, publishes bounce and delivery events.
	ConfigurationSet string
	// Pace, when set, spaces sends to the account's maximum send rate, so
	// SES never has to refuse one. A send that could not start before the
	// context's deadline is ErrThrottled: nothing was sent, and the next
	// run goes on.
	Pace *rate.Limiter
}

// Send implements Mailer.
func (s *SES) Send(ctx context.Context, m Message) (string, error) {
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.From),
		ReplyToAddresses: m.ReplyTo,
		Destination:      &types.Destination{ToAddresses: m.To, CcAddresses: m.CC},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body: &types.Body{
				Html: &types.Content{Data: aws.String(m.HTML), Charset: aws.String("UTF-8")},
				Text: &types.Content{Data: aws.String(m.Text), Charset: aws.String("UTF-8")},
			},
		}},
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.ConfigurationSet)
	}
	if s.Pace != nil {
		if err := s.Pace.Wait(ctx); err != nil {
			return "", fmt.Errorf("%w: waiting for the send rate: %v", ErrThrottled, err)
		}
	}
	out, err := s.Client.SendEmail(ctx, in, retryOnlyRefusals)
	if err != nil {
		return "", classify(err)
	}
	return aws.ToString(out.MessageId), nil
}

// throttles are SES's answers that it sent nothing for now.
var throttles = map[string]struct{}{"TooManyRequestsException": {}, "LimitExceededException": {}, "Throttling": {}, "ThrottlingException": {}}

// retryOnlyRefusals lets the SDK retry a send only when SES said it sent
// nothing (a throttle). SendEmail is not idempotent: after a dropped
// connection, a timeout or a 5xx the email may have gone, and a retry would
// send it twice; the sweep reports such a send in doubt instead.
func retryOnlyRefusals(o *sesv2.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Retryables = []retry.IsErrorRetryable{retry.RetryableErrorCode{Codes: throttles}}
	})
}

func classify(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		if _, ok := throttles[api.ErrorCode()]; ok {
			return fmt.Errorf("%w: %v", ErrThrottled, err)
		}
		switch api.ErrorCode() {
		case "MessageRejected", "MailFromDomainNotVerifiedException", "AccountSuspendedException",
			"SendingPausedException", "BadRequestException", "NotFoundException":
			return fmt.Errorf("%w: %v", ErrRejected, err)
		}
	}
	return fmt.Errorf("send email: %w", err) // outcome unknown
}
