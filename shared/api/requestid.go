package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/akrylysov/algnhsa"

	"dunlin/shared/logs"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	principalKey
	signedInKey // a key the dashboard's session already stands for
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID tags each request with an id: API Gateway's own on Lambda,
// so logs and the gateway's access logs line up; a random one locally.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if ev, ok := algnhsa.APIGatewayV2RequestFromContext(r.Context()); ok {
			id = ev.RequestContext.RequestID
		}
		if id == "" {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		// Every log record of the request carries its id.
		ctx := logs.With(context.WithValue(r.Context(), requestIDKey, id), "request_id", id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
