package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"dunlin/shared/api"
	"dunlin/shared/auth"
	"dunlin/shared/ids"
)

// samplePath fills a route pattern's {id} with a well-formed id of the
// right kind, so a request passes routing and reaches the access check.
func samplePath(pattern string) string {
	prefix := map[string]string{"/v1/customers/": "cus_", "/v1/invoices/": "inv_", "/v1/keys/": "key_"}
	for p, idPrefix := range prefix {
		if strings.HasPrefix(pattern, p) {
			return strings.Replace(pattern, "{id}", ids.New(idPrefix, time.Now()), 1)
		}
	}
	if pattern == "/v1/imports" {
		return pattern + "?kind=customers"
	}
	pattern = strings.Replace(pattern, "{language}/{tone}", "en/firm", 1)
	pattern = strings.Replace(pattern, "{step}", "final", 1)
	pattern = strings.Replace(pattern, "{customer_id}/{day}/{kind}", ids.New("cus_", time.Now())+"/2026-12-01/customer", 1)
	return strings.Replace(pattern, "{name}", "standard", 1)
}

// TestEveryRouteChecksTheKeyAndTheRole walks the router's own route table,
// so a route added later is covered without touching this test.
func TestEveryRouteChecksTheKeyAndTheRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	revokedToken, revoked, err := f.auth.Create(context.Background(), "leaver", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.Revoke(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	adminID, _, _ := auth.ParseToken(f.keys[auth.Admin])
	routes := f.server.Routes()
	if len(routes) < 10 {
		t.Fatalf("only %d routes in the table", len(routes))
	}
	for _, rt := range routes {
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			path := samplePath(rt.Pattern)
			denied := map[string]string{
				"no key":        "",
				"malformed key": "not-a-key",
				"unknown key":   "dk_" + ids.New("key_", time.Now()) + "_AAAA",
				"wrong secret":  "dk_" + adminID + "_WRONGSECRET",
				"revoked key":   revokedToken,
				"basic auth":    "Basic YWRtaW46YWRtaW4=",
			}
			for name, key := range denied {
				hdr := "Bearer " + key
				if key == "" {
					hdr = ""
				} else if strings.HasPrefix(key, "Basic ") {
					hdr = key
				}
				res := f.As("").Do(rt.Method, path, "{}", "Authorization", hdr)
				if res.Status != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401", name, res.Status)
				}
			}
			for _, role := range auth.Roles {
				res := f.As(f.keys[role]).Do(rt.Method, path, "{}")
				allowed := slices.Contains(rt.Roles, role)
				switch {
				case allowed && (res.Status == 401 || res.Status == 403):
					t.Errorf("role %s is allowed but got %d: %s", role, res.Status, res.Body)
				case !allowed && res.Status != http.StatusForbidden:
					t.Errorf("role %s is not allowed but got %d", role, res.Status)
				}
			}
		})
	}
}

func TestUnknownRoutesAndMethodsAnswerInJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.Do("GET", "/v1/nope", nil)
	if code, _ := res.ErrorField(t); res.Status != 404 || code != "not_found" {
		t.Errorf("unknown route: %d %s", res.Status, res.Body)
	}
	res = f.Do("DELETE", "/v1/customers", nil)
	if code, _ := res.ErrorField(t); res.Status != 405 || code != "method_not_allowed" || res.Header.Get("Allow") != "POST, GET" {
		t.Errorf("wrong method: %d %s allow=%q", res.Status, res.Body, res.Header.Get("Allow"))
	}
}

func TestKeysCanBeIssuedAndRevokedThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	created := f.mustCreate("/v1/keys", map[string]any{"name": "books", "role": "integration"})
	token := created["key"].(string)
	if res := f.As(token).Do("GET", "/v1/customers", nil); res.Status != 200 {
		t.Fatalf("new key refused: %d", res.Status)
	}
	list := f.Do("GET", "/v1/keys", nil).Map(t)["data"].([]any)
	for _, k := range list {
		if _, has := k.(map[string]any)["key"]; has {
			t.Fatal("GET /v1/keys shows a secret")
		}
	}
	if res := f.Do("POST", "/v1/keys/"+created["id"].(string)+"/revoke", nil); res.Status != 200 {
		t.Fatalf("revoke: %d %s", res.Status, res.Body)
	}
	if res := f.As(token).Do("GET", "/v1/customers", nil); res.Status != 401 {
		t.Fatalf("revoked key still works: %d", res.Status)
	}
	res := f.Do("POST", "/v1/keys", map[string]any{"name": "x", "role": "root"})
	if code, field := res.ErrorField(t); res.Status != 422 || field != "role" {
		t.Errorf("bad role: %d %s %s", res.Status, code, field)
	}
}

// TestOpenAPIDocumentsEveryRoute: the served document has an operation for
// each route in the table, and none the API does not serve.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.As(f.keys[auth.Viewer]).Do("GET", "/v1/openapi.json", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	res.JSON(t, &doc)
	if res.Status != 200 || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi.json: %d version %q", res.Status, doc.OpenAPI)
	}
	served := map[string]bool{}
	for _, p := range api.PublicPages() {
		method, pattern, _ := strings.Cut(p, " ")
		served[strings.ToLower(method)+" "+pattern] = true
	}
	for _, rt := range f.server.Routes() {
		key := strings.ToLower(rt.Method) + " " + rt.Pattern
		served[key] = true
		if _, ok := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s is not in the OpenAPI document", rt.Method, rt.Pattern)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			if !served[method+" "+path] {
				t.Errorf("the document describes %s %s, which the API does not serve", method, path)
			}
		}
	}
}
