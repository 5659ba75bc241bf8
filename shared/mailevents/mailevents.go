// Package mailevents reads what SES says became of the emails Dunlin sent:
// the events its configuration set publishes to EventBridge ("Email
// Bounced", "Email Complaint Received", "Email Delivered", "Email
// Rejected"), each about one message, which carries the customer's id in
// its customer_id tag. The billing service records them.
//
// The event's detail is SES's event record, as documented at
// https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
package mailevents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/billing"
)

// detail is the part of SES's event record Dunlin reads.
type detail struct {
	EventType string `json:"eventType"`
	Mail      struct {
		MessageID   string              `json:"messageId"`
		Destination []string            `json:"destination"`
		Tags        map[string][]string `json:"tags"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
		Timestamp time.Time `json:"timestamp"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
		ComplaintFeedbackType string    `json:"complaintFeedbackType"`
		Timestamp             time.Time `json:"timestamp"`
	} `json:"complaint"`
	Delivery *struct {
		Recipients []string  `json:"recipients"`
		Timestamp  time.Time `json:"timestamp"`
	} `json:"delivery"`
	Reject *struct {
		Reason string `json:"reason"`
	} `json:"reject"`
}

// Parse turns an EventBridge event from SES into the event Dunlin
// records. ok is false for what Dunlin does not act on: a soft
// (transient) bounce, which SES retries, or an event type not asked for.
func Parse(ev events.CloudWatchEvent) (out billing.MailEvent, ok bool, err error) {
	var d detail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return out, false, fmt.Errorf("SES event %s: %w", ev.ID, err)
	}
	out = billing.MailEvent{ID: ev.ID, MessageID: d.Mail.MessageID, At: ev.Time}
	if ids := d.Mail.Tags["customer_id"]; len(ids) > 0 {
		out.CustomerID = ids[0]
	}
	switch {
	case d.EventType == "Bounce" && d.Bounce != nil:
		if d.Bounce.BounceType != "Permanent" {
			return out, false, nil
		}
		out.Kind, out.At = billing.MailBounced, first(d.Bounce.Timestamp, ev.Time)
		var diag []string
		for _, r := range d.Bounce.BouncedRecipients {
			out.Recipients = append(out.Recipients, r.EmailAddress)
			if r.DiagnosticCode != "" {
				diag = append(diag, r.DiagnosticCode)
			}
		}
		out.Detail = strings.TrimSpace(d.Bounce.BounceSubType + " " + strings.Join(diag, "; "))
	case d.EventType == "Complaint" && d.Complaint != nil:
		out.Kind, out.At, out.Detail = billing.MailComplaint, first(d.Complaint.Timestamp, ev.Time), d.Complaint.ComplaintFeedbackType
		for _, r := range d.Complaint.ComplainedRecipients {
			out.Recipients = append(out.Recipients, r.EmailAddress)
		}
	case d.EventType == "Delivery" && d.Delivery != nil:
		out.Kind, out.At, out.Recipients = billing.MailDelivered, first(d.Delivery.Timestamp, ev.Time), d.Delivery.Recipients
	case d.EventType == "Reject":
		out.Kind, out.Recipients = billing.MailRejected, d.Mail.Destination
		if d.Reject != nil {
			out.Detail = d.Reject.Reason
		}
	default:
		return out, false, nil
	}
	return out, true, nil
}

func first(t, or time.Time) time.Time {
	if t.IsZero() {
		return or
	}
	return t
}

// Recorder is the part of the billing service the handler uses.
type Recorder interface {
	RecordMailEvent(ctx context.Context, ev billing.MailEvent) error
}

// Handler is the mailevents Lambda function. An event it cannot use (not
// JSON, no customer tag: the firm's own digest, say) is logged and
// dropped, as a retry would not help. A failure to record it is returned,
// so Lambda retries the event and, in the end, puts it in the dead-letter
// queue.
func Handler(rec Recorder, log *slog.Logger) func(context.Context, events.CloudWatchEvent) error {
	return func(ctx context.Context, ev events.CloudWatchEvent) error {
		me, ok, err := Parse(ev)
		if err != nil {
			log.ErrorContext(ctx, "SES event not understood", "event_id", ev.ID, "detail_type", ev.DetailType, "error", err.Error())
			return nil
		}
		if !ok {
			log.InfoContext(ctx, "SES event ignored", "event_id", ev.ID, "detail_type", ev.DetailType)
			return nil
		}
		// The audit trail names SES's event as the cause of what it changes
		// (a CC address removed, an address marked invalid).
		err = rec.RecordMailEvent(audit.Begin(ctx, "system:mailevents", "ses "+me.Kind, me.ID), me)
		if apperr.Is(err, apperr.Invalid) {
			log.WarnContext(ctx, "SES event not for a customer", "event_id", ev.ID, "kind", me.Kind, "error", err.Error())
			return nil
		}
		if err != nil {
			return err
		}
		log.InfoContext(ctx, "SES event recorded", "event_id", ev.ID, "kind", me.Kind, "customer_id", me.CustomerID, "message_id", me.MessageID)
		return nil
	}
}
