package mailer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"golang.org/x/time/rate"

	"dunlin/shared/mailer"
	"dunlin/shared/testenv"
)

// TestASendThatCannotStartInTimeIsThrottledNotSent: paced to the send rate,
// a send that would have to wait past the run's deadline is refused at
// once as throttled (so the sweep releases it for the next run), and
// nothing reaches SES.
func TestASendThatCannotStartInTimeIsThrottledNotSent(t *testing.T) {
	t.Parallel()
	ses := testenv.SESEndpoint(t)
	m := &mailer.SES{
		Client: sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(ses), Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}),
		Pace:   rate.NewLimiter(rate.Every(time.Hour), 1), // one now, the next in an hour
	}
	to := fmt.Sprintf("paced-%d@mailer.example", time.Now().UnixNano())
	msg := mailer.Message{From: "ar@firm.example", To: []string{to}, Subject: "Reminder", HTML: "<p>hi</p>", Text: "hi"}
	if _, err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("the first send: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := m.Send(ctx, msg); !errors.Is(err, mailer.ErrThrottled) {
		t.Fatalf("a send an hour away with a minute left: %v, want ErrThrottled", err)
	}
	n := 0
	for _, e := range testenv.SentEmails(t, ses) {
		if len(e.Destination.To) > 0 && e.Destination.To[0] == to {
			n++
		}
	}
	if n != 1 {
		t.Errorf("SES got %d emails, want 1", n)
	}
}
