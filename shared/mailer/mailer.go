// Package mailer sends email through Amazon SES v2. The sweep sees only the
// Mailer interface and the error kinds below, which tell it whether an email
// certainly did not go (retry later), will never go (record and move on), or
// may have gone (report, never resend).
package mailer

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
	// CustomerID tags the email (SES message tag customer_id), so SES's
	// events about it (bounces, complaints, deliveries) find the customer.
	CustomerID string
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
	// run goes on. Remaining lowers its rate to the account's when that is
	// lower, and sets one up at the account's rate when Pace is nil.
	Pace *rate.Limiter
	// MaxRate is the highest rate Pace may be set to (emails a second):
	// the configured rate; 0 leaves the account's rate as the only limit.
	MaxRate float64

	mu sync.Mutex
}

// Remaining reads the account's sending quota (SES GetAccount, one call),
// paces sends to its maximum send rate (or MaxRate, if lower) and returns
// how many more emails the account may send in the rolling 24 hours; -1
// when SES sets no limit. Errors are the call's: SES local answers only
// when given an account, and a caller that cannot read the quota goes on
// at the configured rate.
func (s *SES) Remaining(ctx context.Context) (int, error) {
	out, err := s.Client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return 0, fmt.Errorf("read the SES account's quota: %w", err)
	}
	q := out.SendQuota
	if q == nil {
		return -1, nil
	}
	if q.MaxSendRate > 0 {
		r := q.MaxSendRate
		if s.MaxRate > 0 {
			r = min(r, s.MaxRate)
		}
		s.mu.Lock()
		if s.Pace == nil {
			s.Pace = rate.NewLimiter(rate.Limit(r), 1)
		} else {
			s.Pace.SetLimit(rate.Limit(r))
		}
		s.mu.Unlock()
	}
	if q.Max24HourSend < 0 { // SES's "unlimited"
		return -1, nil
	}
	return max(int(q.Max24HourSend-q.SentLast24Hours), 0), nil
}

func (s *SES) pace() *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Pace
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
	if m.CustomerID != "" {
		in.EmailTags = []types.MessageTag{{Name: aws.String("customer_id"), Value: aws.String(m.CustomerID)}}
	}
	if pace := s.pace(); pace != nil {
		if err := pace.Wait(ctx); err != nil {
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
