package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"dunlin/shared/auth"
)

const keysUsage = `Usage:
  dunlin keys create --role ROLE --name NAME   create a key and print it (shown once)
  dunlin keys list                             list keys, revoked ones too
  dunlin keys revoke KEY_ID                    revoke a key for good

Roles: admin, collector, viewer, integration.
Run "dunlin keys create --help" for the flags (the table, AWS or local).
`

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
	switch args[0] {
	case "create":
		role := fs.String("role", "", "role: admin, collector, viewer or integration (required)")
		name := fs.String("name", "", "who or what the key is for (required)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		svc, err := keyService(ctx, &sf)
		if err != nil {
			return err
		}
		token, _, err := svc.Create(ctx, *name, auth.Role(*role))
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token) // one line, so scripts can capture it
		return nil
	case "list":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		svc, err := keyService(ctx, &sf)
		if err != nil {
			return err
		}
		keys, err := svc.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("usage: dunlin keys revoke KEY_ID")
		}
		svc, err := keyService(ctx, &sf)
		if err != nil {
			return err
		}
		k, err := svc.Revoke(ctx, fs.Arg(0))
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
