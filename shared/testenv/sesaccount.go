package testenv

import (
	"context"
	"testing"

	"dunlin/shared/localstack"
)

// SESAccount starts an SES local of the test's own whose account reports
// the quota q (GetAccount), behind a FaultProxy that throttles sends
// beyond q's rate as SES does. It returns SES local itself (for its
// store of sent mail) and the proxy, whose URL the mailer should use.
// Both stop with the test.
func SESAccount(t testing.TB, q localstack.SESQuota) (*localstack.Server, *FaultProxy) {
	t.Helper()
	home, err := localstack.Home()
	if err != nil {
		t.Fatal(err)
	}
	var srv *localstack.Server
	for range 5 { // another process may take the free port first
		port, err := localstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if srv, err = localstack.StartSESWithQuota(context.Background(), home, port, q); err == nil && !srv.Reused {
			break
		}
		srv = nil
	}
	if srv == nil {
		t.Fatal("could not start an SES local of the test's own")
	}
	t.Cleanup(func() { _ = srv.Stop() })
	proxy := NewFaultProxy(t, srv.Endpoint, 1)
	proxy.Set(Faults{SendRate: q.MaxSendRate})
	return srv, proxy
}
