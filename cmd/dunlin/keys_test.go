package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"dunlin/shared/auth"
)

// TestKeysThroughTheAPI manages keys as a deployed stack's admin would,
// with the API's URL and an admin key: create, list, revoke; the key made
// works and, once revoked, does not; a viewer may not make keys.
func TestKeysThroughTheAPI(t *testing.T) {
	t.Parallel()
	a, srv, admin := serveAPIWithKey(t, auth.Admin)
	ctx := context.Background()
	api := []string{"--api", srv.URL, "--key", admin}
	var out, errOut bytes.Buffer
	if err := run(ctx, append([]string{"keys", "create", "--role", "viewer", "--name", "auditor"}, api...), &out, &errOut); err != nil {
		t.Fatalf("create: %v %s", err, errOut.String())
	}
	token := strings.TrimSpace(out.String())
	k, err := a.Keys.Authenticate(ctx, token)
	if err != nil || k.Role != auth.Viewer || k.Name != "auditor" {
		t.Fatalf("the key printed (%q) is not a working viewer key: %+v %v", token, k, err)
	}
	out.Reset()
	if err := run(ctx, append([]string{"keys", "list"}, api...), &out, &errOut); err != nil || !strings.Contains(out.String(), k.ID) || !strings.Contains(out.String(), "auditor") {
		t.Fatalf("list: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, append([]string{"keys", "revoke", k.ID}, api...), &out, &errOut); err != nil || !strings.Contains(out.String(), "revoked "+k.ID) {
		t.Fatalf("revoke: %v\n%s", err, out.String())
	}
	if _, err := a.Keys.Authenticate(ctx, token); err == nil {
		t.Error("a revoked key still works")
	}
	viewer, _, _ := a.Keys.Create(ctx, "looker", auth.Viewer)
	err = run(ctx, []string{"keys", "create", "--role", "admin", "--name", "x", "--api", srv.URL, "--key", viewer}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a viewer made a key: %v", err)
	}
}
