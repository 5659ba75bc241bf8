// Package logs makes Dunlin's loggers: JSON lines (which Lambda's JSON log
// format keeps as they are) that carry, on every record, the function that
// wrote it and whatever the context says about the work in hand: the
// request id, the Lambda invocation, the customer, the invoice. Code adds
// those once, with With, where it learns them; every log call below that
// point carries them without repeating them.
package logs

import (
	"context"
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

type ctxKey struct{}

// With returns a context whose log records carry the attributes too (for
// example "request_id", id or "customer_id", id). A later With of the same
// key replaces the earlier value.
func With(ctx context.Context, args ...any) context.Context {
	add := slog.Group("", args...).Value.Group()
	prev, _ := ctx.Value(ctxKey{}).([]slog.Attr)
	out := make([]slog.Attr, 0, len(prev)+len(add))
	for _, a := range prev {
		replaced := false
		for _, b := range add {
			replaced = replaced || a.Key == b.Key
		}
		if !replaced {
			out = append(out, a)
		}
	}
	return context.WithValue(ctx, ctxKey{}, append(out, add...))
}

// New returns a JSON logger to w whose records carry "function" (the
// Lambda function, or the CLI command) and the context's attributes.
func New(w io.Writer, function string) *slog.Logger {
	h := slog.NewJSONHandler(w, nil).WithAttrs([]slog.Attr{slog.String("function", function)})
	return slog.New(&handler{Handler: h})
}

// handler adds the context's attributes, and the Lambda request id when
// the context is an invocation's, to each record.
type handler struct{ slog.Handler }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("aws_request_id", lc.AwsRequestID))
	}
	if attrs, ok := ctx.Value(ctxKey{}).([]slog.Attr); ok {
		// A key the call names itself wins: one record, one value per key.
		named := map[string]bool{}
		r.Attrs(func(a slog.Attr) bool { named[a.Key] = true; return true })
		for _, a := range attrs {
			if !named[a.Key] {
				r.AddAttrs(a)
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{Handler: h.Handler.WithGroup(name)}
}
