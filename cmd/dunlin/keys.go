package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"dunlin/shared/auth"
)

const keysUsage = `Usage:
  dunlin keys create --role ROLE --name NAME   create a key and print it (shown once)
  dunlin keys list                             list keys, revoked ones too
  dunlin keys revoke KEY_ID                    revoke a key for good

Roles: admin, collector, viewer, integration.

Where the keys are:
  (no flags)            the local stack's table (make dev)
  --aws                 the deployed table, with your AWS credentials: how the
                        first admin key of a new deployment is made
  --api URL --key KEY   a Dunlin API, with an admin key (env DUNLIN_API_URL,
                        DUNLIN_API_KEY)
Run "dunlin keys create --help" for every flag.
`

// keyRow is a key as the commands print it.
type keyRow struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      auth.Role  `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// keyStore is where the keys commands find keys: the table, or the API.
type keyStore interface {
	create(ctx context.Context, name string, role auth.Role) (token string, err error)
	list(ctx context.Context) ([]keyRow, error)
	revoke(ctx context.Context, id string) (keyRow, error)
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("usage: dunlin keys create|list|revoke")
	}
	if h := args[0]; h == "-h" || h == "--help" || h == "help" {
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf stackFlags
	sf.register(fs)
	var af apiFlags
	fs.StringVar(&af.url, "api", os.Getenv("DUNLIN_API_URL"), "manage the keys of the Dunlin API at this URL instead of a table (env DUNLIN_API_URL)")
	fs.StringVar(&af.key, "key", os.Getenv("DUNLIN_API_KEY"), "an admin key for --api (env DUNLIN_API_KEY)")
	var role, name *string
	if args[0] == "create" {
		role = fs.String("role", "", "role: admin, collector, viewer or integration (required)")
		name = fs.String("name", "", "who or what the key is for (required)")
	}
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	var keys keyStore
	if af.url != "" {
		keys = apiKeys{&af}
	} else {
		svc, err := keyService(ctx, &sf)
		if err != nil {
			return err
		}
		keys = tableKeys{svc}
	}
	switch args[0] {
	case "create":
		token, err := keys.create(ctx, *name, auth.Role(*role))
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token) // one line, so scripts can capture it
		return nil
	case "list":
		list, err := keys.list(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tREVOKED")
		for _, k := range list {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if len(positional) != 1 {
			return errors.New("usage: dunlin keys revoke KEY_ID")
		}
		k, err := keys.revoke(ctx, positional[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s (%s)\n", k.ID, k.Name)
		return nil
	}
	return fmt.Errorf("unknown keys command %q: use create, list or revoke", args[0])
}

func keyService(ctx context.Context, sf *stackFlags) (*auth.Service, error) {
	st, err := sf.store(ctx)
	if err != nil {
		return nil, err
	}
	return auth.NewService(st, time.Now), nil
}

// tableKeys works on the table directly.
type tableKeys struct{ svc *auth.Service }

func (t tableKeys) create(ctx context.Context, name string, role auth.Role) (string, error) {
	token, _, err := t.svc.Create(ctx, name, role)
	return token, err
}

func (t tableKeys) list(ctx context.Context) ([]keyRow, error) {
	keys, err := t.svc.List(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]keyRow, len(keys))
	for i, k := range keys {
		rows[i] = keyRow{ID: k.ID, Name: k.Name, Role: k.Role, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
	}
	return rows, nil
}

func (t tableKeys) revoke(ctx context.Context, id string) (keyRow, error) {
	k, err := t.svc.Revoke(ctx, id)
	if err != nil {
		return keyRow{}, err
	}
	return keyRow{ID: k.ID, Name: k.Name, Role: k.Role, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}, nil
}

// apiKeys works through the API's /v1/keys routes, as a deployed stack's
// admin would without AWS credentials.
type apiKeys struct{ af *apiFlags }

func (a apiKeys) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	status, res, err := a.af.do(ctx, method, path, url.Values{}, b, "Content-Type", "application/json")
	if err != nil {
		return err
	}
	if status != want {
		return apiError(status, res)
	}
	return json.Unmarshal(res, out)
}

func (a apiKeys) create(ctx context.Context, name string, role auth.Role) (string, error) {
	var k struct {
		Key string `json:"key"`
	}
	err := a.call(ctx, http.MethodPost, "/v1/keys", map[string]string{"name": name, "role": string(role)}, http.StatusCreated, &k)
	return k.Key, err
}

func (a apiKeys) list(ctx context.Context) ([]keyRow, error) {
	var page struct {
		Data []keyRow `json:"data"`
	}
	err := a.call(ctx, http.MethodGet, "/v1/keys", nil, http.StatusOK, &page)
	return page.Data, err
}

func (a apiKeys) revoke(ctx context.Context, id string) (keyRow, error) {
	var k keyRow
	err := a.call(ctx, http.MethodPost, "/v1/keys/"+url.PathEscape(id)+"/revoke", nil, http.StatusOK, &k)
	return k, err
}

// parseInterspersed parses flags wherever they are among the arguments
// ("revoke KEY_ID --api URL" as well as "revoke --api URL KEY_ID") and
// returns the others.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
